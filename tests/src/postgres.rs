//! A real PostgreSQL server for the tests, started from the Debian packages (`initdb` and
//! `pg_ctl`, installed with apt when missing) into a temporary directory on a free port, once
//! per test binary, and stopped by a watchdog when the binary exits.
//!
//! The backend switch: test binaries whose name starts with `pg_` (the `pg_*.rs` files, which
//! include an existing suite by `#[path]`), or any binary run with
//! `MODHOST_TEST_BACKEND=postgres`, give each [`crate::Workdir`] its own PostgreSQL database
//! instead of an SQLite file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Which database the tests of this binary run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file in each test's directory (the default).
    Sqlite,
    /// A database of its own on this binary's PostgreSQL server.
    Postgres,
}

/// The backend chosen for this test binary (see the module documentation).
pub fn backend() -> Backend {
    static BACKEND: OnceLock<Backend> = OnceLock::new();
    *BACKEND.get_or_init(|| {
        let by_env = std::env::var("MODHOST_TEST_BACKEND").is_ok_and(|v| v == "postgres");
        let by_name = std::env::current_exe()
            .ok()
            .and_then(|p| {
                p.file_name()
                    .map(|n| n.to_string_lossy().starts_with("pg_"))
            })
            .unwrap_or(false);
        if by_env || by_name {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    })
}

/// A running PostgreSQL server owned by this test binary.
pub struct PgServer {
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// The PostgreSQL binaries' folder (`initdb`, `pg_ctl`, `psql`, `createdb`).
    pub bin: PathBuf,
    /// Data directory (owned by the `postgres` user when the tests run as root).
    pub data: PathBuf,
}

/// The PostgreSQL binaries' folder, installing Debian's `postgresql` package if needed.
pub fn bin_dir() -> PathBuf {
    let find = || {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
            .collect();
        dirs.sort();
        dirs.pop()
    };
    crate::debian::ensure("postgresql", "the PostgreSQL backend tests", || {
        find().is_some()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    find().expect("postgresql installed")
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program` with `args`, run as the `postgres` user when we are root (PostgreSQL refuses
/// to run as root).
fn as_owner(program: &Path, args: &[&str]) -> Command {
    if running_as_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program).args(args);
        cmd
    } else {
        let mut cmd = Command::new(program);
        cmd.args(args);
        cmd
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PgServer {
    /// Start a fresh server: `initdb` (locale C, UTF-8, trust authentication on loopback)
    /// and `pg_ctl start` with `settings` (`-c name=value` pairs). A watchdog stops it and
    /// removes its directory when this process exits, however it exits.
    pub fn start(settings: &[&str]) -> PgServer {
        let bin = bin_dir();
        let data =
            std::env::temp_dir().join(format!("modhost-pg-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&data).expect("create PostgreSQL data dir");
        if running_as_root() {
            let ok = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&data)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown of {} to postgres failed", data.display());
        }
        let data_s = data.to_string_lossy().into_owned();
        let out = as_owner(
            &bin.join("initdb"),
            &[
                "-D",
                &data_s,
                "-U",
                "postgres",
                "--auth=trust",
                "--locale=C",
                "-E",
                "UTF8",
            ],
        )
        .output()
        .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let mut options = format!("-p {port} -k {data_s} -c listen_addresses=127.0.0.1");
        for s in settings {
            options.push_str(&format!(" -c {s}"));
        }
        let log = format!("{data_s}/server.log");
        let out = as_owner(
            &bin.join("pg_ctl"),
            &[
                "-D", &data_s, "-l", &log, "-o", &options, "-w", "-t", "60", "start",
            ],
        )
        .output()
        .expect("run pg_ctl");
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let server = PgServer { port, bin, data };
        server.watch(std::process::id());
        server
    }

    /// Stop the server and remove its files once process `pid` has gone.
    fn watch(&self, pid: u32) {
        let pg_ctl = self.bin.join("pg_ctl");
        let data = self.data.display();
        let stop = if running_as_root() {
            format!(
                "runuser -u postgres -- {} -D {data} -m immediate stop",
                pg_ctl.display()
            )
        } else {
            format!("{} -D {data} -m immediate stop", pg_ctl.display())
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop} >/dev/null 2>&1; rm -rf {data}"
        );
        // Never waited for: it outlives this process by design (it acts once this one is
        // gone), so it is reaped by init, never left a zombie of ours.
        #[allow(clippy::zombie_processes)]
        let _watchdog = Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the PostgreSQL watchdog");
    }

    /// `postgres://` URL of database `name` on this server.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Run `sql` with `psql` in database `db`; its output (unaligned, tuples only).
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args([
                "-d",
                db,
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql failed on {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Create a new empty database (locale C, from `template0`); its URL.
    pub fn create_database(&self) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("t{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // CREATE DATABASE fails while another is being created from the same template.
            let out = Command::new(self.bin.join("psql"))
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                ])
                .args(["-d", "postgres", "-X", "-q", "-c"])
                .arg(format!(
                    "CREATE DATABASE {name} TEMPLATE template0 LOCALE 'C' ENCODING 'UTF8'"
                ))
                .output()
                .expect("run psql");
            if out.status.success() {
                return self.url(&name);
            }
            assert!(
                Instant::now() < deadline,
                "CREATE DATABASE failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// This test binary's PostgreSQL server, started on first use. Tuned for tests: no fsync
/// (a test kills modhost, never the database server), room for many connections.
pub fn server() -> &'static PgServer {
    static SERVER: OnceLock<PgServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        PgServer::start(&["fsync=off", "max_connections=400", "shared_buffers=64MB"])
    })
}
