//! `cargo run --release -p modhost-tests --bin modhost-soak`
//!
//! A bounded soak on 127.0.0.1: the release `modhost` binary, as its own process, serves
//! clients that loop createRoom → 3 × send → invite → sync → module resources, first with no
//! modules (the baseline, `SOAK_BASELINE_SECONDS`, 60) and then with every sample module
//! loaded (`SOAK_SECONDS`, 180). Prints requests/s (and the ratio to the baseline), errors,
//! and the server's resident memory sampled every 10 s. Knob: `SOAK_CLIENTS` (8). Invite
//! rate limits are lifted: the point is sustained module traffic, not the limiter.

use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The server process's resident memory in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

struct Running {
    child: Child,
    base: String,
    _work: modhost_tests::Workdir,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(modules: &str) -> Running {
    let dir = modhost_tests::build_dir_with_profile("release");
    let work = modhost_tests::Workdir::new();
    let config = work.path().join("soak.yaml");
    std::fs::write(
        &config,
        format!(
            "server_name: soak.local\nplugins_dir: {}\nenable_registration: true\n\
             rc_invites: {{per_room: {{per_second: 1000, burst_count: 1000}}, per_user: {{per_second: 1000, burst_count: 1000}}, per_issuer: {{per_second: 1000, burst_count: 1000}}}}\n{}{modules}",
            dir.display(),
            modhost_tests::test_rate_limits("")
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(dir.join("modhost"))
        .arg("--config")
        .arg(&config)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stderr(std::fs::File::create(work.path().join("server.log")).unwrap())
        .spawn()
        .expect("start modhost");
    let mut child = child;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "modhost exited ({status}):\n{}",
                std::fs::read_to_string(work.path().join("server.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Running {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _work: work,
    }
}

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    errors: AtomicU64,
}

async fn client(
    http: reqwest::Client,
    base: String,
    c: usize,
    until: Instant,
    counts: Arc<Counts>,
) {
    let register = |name: String| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let v: Value = http
                .post(format!("{base}/_matrix/client/v3/register"))
                .json(
                    &json!({"username": name, "password": "pw", "auth": {"type": "m.login.dummy"}}),
                )
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (
                v["access_token"].as_str().unwrap().to_string(),
                v["user_id"].as_str().unwrap().to_string(),
            )
        }
    };
    let (token, _) = register(format!("soak{c}")).await;
    let (_, friend) = register(format!("friend{c}")).await;
    let count = |ok: bool| {
        counts.requests.fetch_add(1, Ordering::Relaxed);
        if !ok {
            counts.errors.fetch_add(1, Ordering::Relaxed);
        }
    };
    let (mut n, mut since) = (0u64, None::<String>);
    while Instant::now() < until {
        let r = http
            .post(format!("{base}/_matrix/client/v3/createRoom"))
            .bearer_auth(&token)
            .json(&json!({"name": "soak"}))
            .send()
            .await;
        let room: Value = match r {
            Ok(r) => {
                count(r.status().is_success());
                r.json().await.unwrap_or_default()
            }
            Err(_) => {
                count(false);
                continue;
            }
        };
        let room_id = room["room_id"].as_str().unwrap_or_default().to_string();
        for _ in 0..3 {
            n += 1;
            let ok = http
                .put(format!(
                    "{base}/_matrix/client/v3/rooms/{room_id}/send/m.room.message/s{c}_{n}"
                ))
                .bearer_auth(&token)
                .json(&json!({"msgtype": "m.text", "body": "soak"}))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            count(ok);
        }
        let ok = http
            .post(format!("{base}/_matrix/client/v3/rooms/{room_id}/invite"))
            .bearer_auth(&token)
            .json(&json!({"user_id": friend}))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        count(ok);
        let url = match &since {
            Some(t) => format!("{base}/_matrix/client/v3/sync?since={t}&timeout=0"),
            None => format!("{base}/_matrix/client/v3/sync?timeout=0"),
        };
        match http.get(url).bearer_auth(&token).send().await {
            Ok(r) => {
                count(r.status().is_success());
                let body: Value = r.json().await.unwrap_or_default();
                since = body["next_batch"].as_str().map(String::from);
            }
            Err(_) => count(false),
        }
        // Module resources answer 404 (M_UNRECOGNIZED) when the module is not loaded.
        for path in [
            "/_synapse/client/demo/hello?name=soak",
            "/_synapse/client/account_validity/status",
        ] {
            let ok = http
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success() || r.status().as_u16() == 404);
            count(ok);
        }
    }
}

/// Run the load for `seconds`; (requests/s, errors, RSS samples).
async fn run(label: &str, modules: &str, clients: usize, seconds: u64) -> (f64, u64, Vec<f64>) {
    let server = start(modules);
    let pid = server.child.id();
    let http = reqwest::Client::new();
    let counts = Arc::new(Counts::default());
    let until = Instant::now() + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            tokio::spawn(client(
                http.clone(),
                server.base.clone(),
                c,
                until,
                Arc::clone(&counts),
            ))
        })
        .collect();
    let mut rss = vec![rss_mib(pid)];
    while Instant::now() < until {
        tokio::time::sleep(
            Duration::from_secs(10).min(until.saturating_duration_since(Instant::now())),
        )
        .await;
        rss.push(rss_mib(pid));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let rate = counts.requests.load(Ordering::Relaxed) as f64 / seconds as f64;
    let errors = counts.errors.load(Ordering::Relaxed);
    let series: Vec<String> = rss.iter().map(|m| format!("{m:.0}")).collect();
    println!("{label}: {clients} clients, {seconds}s, {rate:.0} req/s, {errors} errors");
    println!("  RSS MiB every 10 s: {}", series.join(" "));
    (rate, errors, rss)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let clients = env_or("SOAK_CLIENTS", 8);
    let baseline_seconds = env_or("SOAK_BASELINE_SECONDS", 60);
    let seconds = env_or("SOAK_SECONDS", 180);
    let (base_rate, _, _) = run(
        "no modules (baseline)",
        "modules: []\n",
        clients,
        baseline_seconds,
    )
    .await;
    let all = "modules:
  - module: demo
  - module: house_rules
    config: {blocked_words: [\"buy cheap pills\"]}
  - module: user_restrictions
    config: {rules: []}
  - module: domain_rule_checker
    config: {can_invite_if_not_in_domain_mapping: true}
  - module: auto_accept_invites
  - module: shared_secret_auth
    config: {shared_secret: \"a soak test secret of some length\"}
  - module: account_validity
    config: {period: 30d, check_interval: 10s}
";
    let (rate, errors, rss) = run("every sample module", all, clients, seconds).await;
    // Growth over the second half of the run, after caches and pools have filled.
    let half = rss.len() / 2;
    let (mid, end) = (rss[half], *rss.last().unwrap());
    println!(
        "ratio to baseline {:.2}×; RSS {mid:.0} → {end:.0} MiB over the second half ({:+.1}%); {errors} errors",
        rate / base_rate,
        (end - mid) / mid * 100.0
    );
    if errors > 0 {
        std::process::exit(1);
    }
}
