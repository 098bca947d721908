//! `modhost-load scale-out`: the same load against `modhost` processes — one on SQLite, one on
//! PostgreSQL, two on one PostgreSQL database with requests spread round-robin — and where
//! the CPU went: the modhost processes, the PostgreSQL server (its postmaster and every
//! backend, exited ones included), and this process (the clients).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use modhost_tests::postgres::PgServer;

/// Clock ticks per second in `/proc/<pid>/stat` (USER_HZ, 100 on every Linux build).
const TICKS_PER_SECOND: f64 = 100.0;

/// A release `modhost` serving one config on a free port; killed when dropped.
struct Instance {
    base: String,
    child: Child,
}

impl Instance {
    fn start(bin: &Path, dir: &Path, name: &str, database: &str) -> Instance {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.join(format!("{name}.yaml"));
        std::fs::write(
            &config,
            format!(
                "server_name: load.local\nenable_registration: true\nmodules: []\n{database}{}",
                modhost_tests::test_rate_limits("")
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
        let child = Command::new(bin)
            .arg("--config")
            .arg(&config)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start modhost");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "{name} did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Instance {
            base: format!("http://127.0.0.1:{port}"),
            child,
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU ticks of `pid` (user + system), and of its children that exited and were reaped;
/// `None` once the process is gone.
fn ticks(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces), from field 3 (`state`) on.
    let fields: Vec<u64> = stat
        .rsplit_once(')')?
        .1
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    Some((fields[11] + fields[12], fields[13] + fields[14]))
}

fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CPU seconds used so far by PostgreSQL server `data`: its postmaster, the reaped
/// backends, and the live ones.
fn postgres_seconds(data: &Path) -> f64 {
    let pid_file = std::fs::read_to_string(data.join("postmaster.pid")).unwrap();
    let postmaster: u32 = pid_file.lines().next().unwrap().trim().parse().unwrap();
    let (own, reaped) = ticks(postmaster).unwrap();
    let live: u64 = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| parent(*pid) == Some(postmaster))
        .filter_map(|pid| ticks(pid).map(|t| t.0))
        .sum();
    (own + reaped + live) as f64 / TICKS_PER_SECOND
}

/// CPU seconds used so far by `instances`, by `postgres` (if any) and by this process.
fn cpu(instances: &[Instance], postgres: Option<&PgServer>) -> [f64; 3] {
    let modhost: u64 = instances
        .iter()
        .filter_map(|i| ticks(i.child.id()).map(|t| t.0))
        .sum();
    let database = postgres.map_or(0.0, |pg| postgres_seconds(&pg.data));
    let clients = ticks(std::process::id()).unwrap().0;
    [
        modhost as f64 / TICKS_PER_SECOND,
        database,
        clients as f64 / TICKS_PER_SECOND,
    ]
}

/// Load `instances` and report throughput, latencies and CPU (in cores: CPU seconds per
/// second of the run).
async fn measure(
    label: &str,
    instances: &[Instance],
    postgres: Option<&PgServer>,
    clients: usize,
    seconds: u64,
) {
    let bases: Vec<String> = instances.iter().map(|i| i.base.clone()).collect();
    let before = cpu(instances, postgres);
    let started = Instant::now();
    let mut samples = super::drive::drive(&bases, clients, seconds).await;
    let wall = started.elapsed().as_secs_f64();
    let after = cpu(instances, postgres);
    samples.report(label, clients, seconds);
    let cores = |i: usize| (after[i] - before[i]) / wall;
    println!(
        "  CPU (cores): modhost {:.2}, PostgreSQL {:.2}, load clients {:.2}",
        cores(0),
        cores(1),
        cores(2)
    );
}

/// The three runs.
pub async fn run(clients: usize, seconds: u64) {
    let bin: PathBuf = modhost_tests::build_dir_with_profile("release").join("modhost");
    let work = modhost_tests::Workdir::new();
    let dir = work.path();
    {
        let sqlite = Instance::start(&bin, dir, "sqlite", "");
        measure("1 instance, SQLite", &[sqlite], None, clients, seconds).await;
    }
    // A server as an operator would run it: fsync on, default settings otherwise.
    let pg = PgServer::start(&["max_connections=200"]);
    let database = |url: String| format!("database: {{url: \"{url}\", max_connections: 16}}\n");
    {
        let one = Instance::start(&bin, dir, "pg1", &database(pg.create_database()));
        measure(
            "1 instance, PostgreSQL",
            &[one],
            Some(&pg),
            clients,
            seconds,
        )
        .await;
    }
    let url = pg.create_database();
    let two = [
        Instance::start(&bin, dir, "pg2a", &database(url.clone())),
        Instance::start(&bin, dir, "pg2b", &database(url)),
    ];
    let label = "2 instances, one PostgreSQL, round-robin";
    measure(label, &two, Some(&pg), clients, seconds).await;
}
