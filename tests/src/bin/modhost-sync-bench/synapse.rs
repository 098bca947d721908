//! A Synapse child process for the comparison rows (`SYNC_BENCH_SYNAPSE=1`): installed from
//! PyPI into `target/synapse-bench/venv` once, then started on a fresh SQLite database on every
//! run, listening for the client API only, on 127.0.0.1 without TLS.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The release installed unless `SYNC_BENCH_SYNAPSE_VERSION` names another.
const DEFAULT_VERSION: &str = "1.163.2";

/// A running Synapse; killed on drop.
pub struct Synapse {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The installed release, e.g. `1.163.2`.
    pub version: String,
    child: Child,
}

/// `target/synapse-bench` of the workspace.
fn bench_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("synapse-bench")
}

/// Run `cmd` to completion; panics with its output when it fails.
fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The venv's python, with `matrix-synapse==version` installed. A marker file per version
/// makes later runs skip pip entirely.
fn install(dir: &Path, version: &str) -> PathBuf {
    let venv = dir.join("venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        eprintln!("creating {}", venv.display());
        run(
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
            "python3 -m venv",
        );
    }
    let marker = venv.join(format!(".matrix-synapse-{version}"));
    if !marker.exists() {
        eprintln!("installing matrix-synapse=={version} from PyPI (once)");
        run(
            Command::new(&python)
                .args(["-m", "pip", "install", "--quiet"])
                .arg(format!("matrix-synapse=={version}")),
            "pip install matrix-synapse",
        );
        std::fs::write(&marker, b"").unwrap();
    }
    python
}

/// A `{per_second, burst_count}` no benchmark reaches.
fn unlimited() -> Value {
    json!({"per_second": 1_000_000, "burst_count": 1_000_000})
}

/// Settings laid over the generated `homeserver.yaml` (Synapse merges the top-level keys of
/// several `-c` files, later ones winning; JSON is YAML). The sync response cache is off:
/// with its default of 2 minutes a repeated identical `/sync` would be answered from memory
/// and the medians would time a dictionary lookup.
fn overrides(port: u16, log_config: &Path) -> Value {
    let u = unlimited;
    json!({
        "listeners": [{
            "port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": false,
            "x_forwarded": false, "resources": [{"names": ["client"], "compress": false}],
        }],
        "enable_registration": true,
        "enable_registration_without_verification": true,
        "report_stats": false,
        "trusted_key_servers": [],
        "suppress_key_server_warning": true,
        "log_config": log_config,
        "caches": {"sync_response_cache_duration": 0},
        "rc_message": u(), "rc_registration": u(), "rc_room_creation": u(),
        "rc_login": {"address": u(), "account": u(), "failed_attempts": u()},
        "rc_joins": {"local": u(), "remote": u()}, "rc_joins_per_room": u(),
        "rc_invites": {"per_room": u(), "per_user": u(), "per_issuer": u()},
        "rc_presence": {"per_user": u()}, "rc_delayed_event_mgmt": u(),
        "rc_3pid_validation": u(), "rc_admin_redaction": u(), "rc_key_requests": u(),
        "rc_media_create": u(), "rc_reports": u(), "rc_user_directory": u(),
    })
}

/// Warnings and errors only, to stderr, like the modhost side (`RUST_LOG=warn`), so neither
/// server spends the benchmark writing request logs.
const LOG_CONFIG: &str = "version: 1\n\
formatters:\n  plain:\n    format: '%(asctime)s %(name)s %(levelname)s %(message)s'\n\
handlers:\n  console:\n    class: logging.StreamHandler\n    formatter: plain\n\
root:\n  level: WARNING\n  handlers: [console]\n\
disable_existing_loggers: false\n";

/// Generate a fresh configuration (server `bench.local`, SQLite, no stats) in `run_dir` and
/// write the overrides; returns the two config files in the order Synapse must read them.
fn configure(python: &Path, run_dir: &Path, port: u16) -> [PathBuf; 2] {
    let _ = std::fs::remove_dir_all(run_dir);
    std::fs::create_dir_all(run_dir).unwrap();
    let config = run_dir.join("homeserver.yaml");
    run(
        Command::new(python)
            .args([
                "-m",
                "synapse.app.homeserver",
                "--server-name",
                "bench.local",
            ])
            .arg("--config-path")
            .arg(&config)
            .arg("--data-directory")
            .arg(run_dir)
            .args(["--generate-config", "--report-stats=no"]),
        "synapse --generate-config",
    );
    let log_config = run_dir.join("bench-log.yaml");
    std::fs::write(&log_config, LOG_CONFIG).unwrap();
    let extra = run_dir.join("bench-overrides.yaml");
    let text = serde_json::to_string_pretty(&overrides(port, &log_config)).unwrap();
    std::fs::write(&extra, text).unwrap();
    [config, extra]
}

impl Synapse {
    /// Install (first time), configure and start Synapse, and wait until
    /// `/_matrix/client/versions` answers 200. Its stdout and stderr go to
    /// `target/synapse-bench/synapse.log`. Panics if it exits or is not up within 180 s.
    pub async fn start(http: &reqwest::Client) -> Synapse {
        let dir = bench_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let version =
            std::env::var("SYNC_BENCH_SYNAPSE_VERSION").unwrap_or_else(|_| DEFAULT_VERSION.into());
        let python = install(&dir, &version);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let run_dir = dir.join("run");
        let [config, extra] = configure(&python, &run_dir, port);
        let log_path = dir.join("synapse.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(&python)
            .args(["-m", "synapse.app.homeserver", "-c"])
            .arg(&config)
            .arg("-c")
            .arg(&extra)
            .current_dir(&run_dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start synapse");
        let mut synapse = Synapse {
            base: format!("http://127.0.0.1:{port}"),
            version,
            child,
        };
        synapse.wait_up(http, &log_path).await;
        synapse
    }

    /// Poll `/_matrix/client/versions` until it answers 200.
    async fn wait_up(&mut self, http: &reqwest::Client, log_path: &Path) {
        let url = format!("{}/_matrix/client/versions", self.base);
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Ok(r) = http.get(&url).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("synapse exited ({status}); see {}", log_path.display());
            }
            assert!(
                Instant::now() < deadline,
                "synapse did not answer within 180 s; see {}",
                log_path.display()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
