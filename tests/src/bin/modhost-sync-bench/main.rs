//! `cargo run --release -p modhost-tests --bin modhost-sync-bench`
//!
//! `/sync` at scale, against a fresh release `modhost` process on SQLite (its own process, so
//! its CPU time can be read from `/proc`):
//!
//! 1. One user in 25 / 400 / 2,000 rooms: initial sync, incremental sync with nothing new, and
//!    incremental sync after one message (medians).
//! 2. Idle long-polls (`SYNC_BENCH_USERS` users × `SYNC_BENCH_CONNECTIONS` connections, each
//!    user in a room of its own with the writer) while a writer sends `SYNC_BENCH_RATE`
//!    messages/s: first with no writes, then into rooms none of them is in, then into their
//!    rooms. Reports the server's CPU seconds per minute in each phase and the wake-up latency
//!    (send answered → long-poll answered with that message) p50/p99.
//!
//! Knobs: `SYNC_BENCH_ROOMS` ("25,400,2000"), `SYNC_BENCH_USERS` (200),
//! `SYNC_BENCH_CONNECTIONS` (5), `SYNC_BENCH_RATE` (50), `SYNC_BENCH_SECONDS` (20),
//! `SYNC_BENCH_ONLY` (`rooms` or `wake`), `SYNC_BENCH_LOG` (the server's `RUST_LOG`, e.g.
//! `sqlx=debug` to see each statement's time; the log is kept as
//! `target/sync-bench-server.log`).
//!
//! `SYNC_BENCH_SYNAPSE=1` also runs part 1 against Synapse (installed from PyPI into
//! `target/synapse-bench/venv` on first use; `SYNC_BENCH_SYNAPSE_VERSION` picks the release)
//! for the room counts of `SYNC_BENCH_SYNAPSE_ROOMS` ("25,400": Synapse creates rooms slowly),
//! and prints modhost / Synapse ratios. Synapse's output goes to
//! `target/synapse-bench/synapse.log`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod synapse;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The `p` quantile of `v` in ms.
fn pct(v: &mut [Duration], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

/// A release `modhost` child process on a fresh SQLite database.
struct Server {
    base: String,
    child: std::process::Child,
    _work: modhost_tests::Workdir,
}

impl Server {
    fn start() -> Server {
        let dir = modhost_tests::build_dir_with_profile("release");
        let work = modhost_tests::Workdir::new();
        let config = work.path().join("homeserver.yaml");
        // The bench registers hundreds of users from one address.
        let limits = modhost_tests::test_rate_limits("");
        let text = format!(
            "server_name: bench.local\nplugins_dir: {}\nenable_registration: true\n\
             database: {{path: {}}}\nmodules: []\n{limits}",
            dir.display(),
            work.path().join("bench.db").display()
        );
        std::fs::write(&config, text).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(dir.join("modhost"))
            .arg("--config")
            .arg(&config)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env(
                "RUST_LOG",
                std::env::var("SYNC_BENCH_LOG").unwrap_or("warn".into()),
            )
            .stderr(std::fs::File::create(work.path().join("server.log")).unwrap())
            .spawn()
            .expect("start modhost");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "modhost did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Server {
            base: format!("http://127.0.0.1:{port}"),
            child,
            _work: work,
        }
    }

    /// CPU seconds (user + system) the server process has used so far.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split(' ').collect();
        let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
        ticks / 100.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::env::var("SYNC_BENCH_LOG").is_ok() {
            let log = self._work.path().join("server.log");
            let _ = std::fs::copy(log, "target/sync-bench-server.log");
        }
    }
}

/// One logged-in user.
#[derive(Clone)]
struct User {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl User {
    async fn register(http: &reqwest::Client, base: &str, name: &str) -> User {
        let body = json!({"username": name, "password": "bench-password", "auth": {"type": "m.login.dummy"}});
        let r: Value = http
            .post(format!("{base}/_matrix/client/v3/register"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = r["access_token"].as_str().expect("registered").to_string();
        User {
            http: http.clone(),
            base: base.to_string(),
            token,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or_default();
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    async fn create_room(&self, preset: &str) -> String {
        let r = self
            .call(
                reqwest::Method::POST,
                "/_matrix/client/v3/createRoom",
                Some(json!({"preset": preset})),
            )
            .await;
        r["room_id"].as_str().unwrap().to_string()
    }

    async fn send(&self, room_id: &str, body: &str) -> Value {
        let txn = modhost_tests::unique_txn();
        let path = format!("/_matrix/client/v3/rooms/{room_id}/send/m.room.message/{txn}");
        let content = json!({"msgtype": "m.text", "body": body});
        self.call(reqwest::Method::PUT, &path, Some(content)).await
    }

    /// `/sync` from `since` (initial when `None`) with `timeout_ms`.
    async fn sync(&self, since: Option<&str>, timeout_ms: u64) -> Value {
        let path = match since {
            Some(s) => format!("/_matrix/client/v3/sync?since={s}&timeout={timeout_ms}"),
            None => format!("/_matrix/client/v3/sync?timeout={timeout_ms}"),
        };
        self.call(reqwest::Method::GET, &path, None).await
    }
}

/// Create `n` rooms for `user`, four at a time.
async fn create_rooms(user: &User, n: usize) -> Vec<String> {
    let mut rooms = Vec::new();
    let mut pending = Vec::new();
    for _ in 0..n {
        let u = user.clone();
        pending.push(tokio::spawn(
            async move { u.create_room("private_chat").await },
        ));
        if pending.len() == 4 {
            for p in pending.drain(..) {
                rooms.push(p.await.unwrap());
            }
        }
    }
    for p in pending {
        rooms.push(p.await.unwrap());
    }
    rooms
}

/// Median of `n` timings of `f`.
async fn median_of<F, Fut>(n: usize, mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Duration>,
{
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(f().await);
    }
    pct(&mut v, 0.5)
}

/// How many rooms of a `/sync` response's `rooms.join` (Synapse leaves `rooms` out when empty).
fn joined_count(r: &Value) -> usize {
    r["rooms"]["join"].as_object().map_or(0, |o| o.len())
}

/// One row of part 1: medians in ms, `setup` (creating the rooms) in s.
struct RoomsRow {
    rooms: usize,
    initial: f64,
    idle: f64,
    after_one: f64,
    setup: f64,
}

/// Part 1: one user in `n` rooms on the server at `base` (any homeserver; only the client API
/// is used). Registers `rooms<n>` with `m.login.dummy`, so `base` must allow open registration.
async fn rooms_row(base: &str, http: &reqwest::Client, n: usize) -> RoomsRow {
    let user = User::register(http, base, &format!("rooms{n}")).await;
    let started = Instant::now();
    let rooms = create_rooms(&user, n).await;
    let setup = started.elapsed().as_secs_f64();
    let initial = median_of(3, || async {
        let t = Instant::now();
        let r = user.sync(None, 0).await;
        assert_eq!(joined_count(&r), n);
        t.elapsed()
    })
    .await;
    let first = user.sync(None, 0).await;
    let token = first["next_batch"].as_str().unwrap().to_string();
    let idle = median_of(15, || async {
        let t = Instant::now();
        let r = user.sync(Some(&token), 0).await;
        assert_eq!(joined_count(&r), 0, "{r}");
        t.elapsed()
    })
    .await;
    let token = Mutex::new(token);
    let mut i = 0;
    let after_one = median_of(15, || {
        i += 1;
        let (user, rooms, token) = (&user, &rooms, &token);
        let room = rooms[(i * 7) % rooms.len()].clone();
        async move {
            user.send(&room, "one message").await;
            let since = token.lock().unwrap().clone();
            let t = Instant::now();
            let r = user.sync(Some(&since), 0).await;
            let took = t.elapsed();
            assert_eq!(joined_count(&r), 1, "{r}");
            *token.lock().unwrap() = r["next_batch"].as_str().unwrap().to_string();
            took
        }
    })
    .await;
    RoomsRow {
        rooms: n,
        initial,
        idle,
        after_one,
        setup,
    }
}

/// Part 1 against the server at `base`: a table headed `label`, one row per entry of `sizes`.
async fn rooms_table(
    label: &str,
    base: &str,
    http: &reqwest::Client,
    sizes: &[usize],
) -> Vec<RoomsRow> {
    println!("\n{label}: one user; medians: initial sync of 3, incremental sync of 15.");
    println!(
        "| rooms | initial sync ms | incremental, nothing new ms | after one message ms | set-up |"
    );
    println!("|---|---|---|---|---|");
    let mut rows = Vec::new();
    for &n in sizes {
        let r = rooms_row(base, http, n).await;
        println!(
            "| {} | {:.1} | {:.2} | {:.2} | {:.0} s |",
            r.rooms, r.initial, r.idle, r.after_one, r.setup
        );
        rows.push(r);
    }
    rows
}

/// The room counts in the comma-separated env var `name`, or in `default`.
fn sizes_from(name: &str, default: &str) -> Vec<usize> {
    let text = std::env::var(name).unwrap_or_else(|_| default.into());
    text.split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// Part 1 against Synapse too (`SYNC_BENCH_SYNAPSE=1`), with modhost / Synapse ratios for the
/// room counts both measured.
async fn synapse_rows(http: &reqwest::Client, ours: &[RoomsRow]) {
    let synapse = synapse::Synapse::start(http).await;
    let sizes = sizes_from("SYNC_BENCH_SYNAPSE_ROOMS", "25,400");
    let label = format!("Synapse {} (SQLite)", synapse.version);
    let theirs = rooms_table(&label, &synapse.base, http, &sizes).await;
    drop(synapse);
    println!("\nmodhost / Synapse (below 1 means modhost is faster):");
    println!("| rooms | initial sync | incremental, nothing new | after one message |");
    println!("|---|---|---|---|");
    for t in &theirs {
        if let Some(o) = ours.iter().find(|o| o.rooms == t.rooms) {
            println!(
                "| {} | {:.2} | {:.2} | {:.2} |",
                t.rooms,
                o.initial / t.initial,
                o.idle / t.idle,
                o.after_one / t.after_one
            );
        }
    }
}

/// What the long-polls saw: wake-up latencies and how many responses came back.
#[derive(Default)]
struct Wakes {
    /// Send answered, by message body.
    sent: HashMap<String, Instant>,
    latencies: Vec<Duration>,
    responses: u64,
}

/// One long-poll connection: `/sync?timeout=110000` (longer than the phases) again and again, recording for each
/// writer message it sees how long after the send was answered it arrived.
async fn long_poll(user: User, wakes: Arc<Mutex<Wakes>>, stop: Arc<tokio::sync::Notify>) {
    let mut token = user.sync(None, 0).await["next_batch"]
        .as_str()
        .unwrap()
        .to_string();
    loop {
        let r = tokio::select! {
            r = user.sync(Some(&token), 110_000) => r,
            _ = stop.notified() => return,
        };
        let arrived = Instant::now();
        token = r["next_batch"].as_str().unwrap().to_string();
        let mut w = wakes.lock().unwrap();
        w.responses += 1;
        for room in r["rooms"]["join"].as_object().into_iter().flatten() {
            for ev in room.1["timeline"]["events"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let body = ev["content"]["body"].as_str().unwrap_or_default();
                if let Some(sent) = w.sent.get(body).copied() {
                    w.latencies.push(arrived.saturating_duration_since(sent));
                }
            }
        }
    }
}

/// The writer: `rate` messages/s for `seconds` round-robin into `rooms`.
async fn write_for(writer: &User, rooms: &[String], rate: u64, seconds: u64, wakes: &Mutex<Wakes>) {
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut i = 0usize;
    while Instant::now() < end {
        tick.tick().await;
        let body = format!("w{i}");
        writer.send(&rooms[i % rooms.len()], &body).await;
        wakes.lock().unwrap().sent.insert(body, Instant::now());
        i += 1;
    }
}

/// Run `phase` and report the server's CPU seconds per minute over it.
async fn cpu_per_minute<F: std::future::Future<Output = ()>>(server: &Server, phase: F) -> f64 {
    let (t, cpu) = (Instant::now(), server.cpu_seconds());
    phase.await;
    (server.cpu_seconds() - cpu) * 60.0 / t.elapsed().as_secs_f64()
}

/// Part 2: idle long-polls and a writer.
async fn wake_rows(server: &Server, http: &reqwest::Client) {
    let (users, conns) = (
        env_or("SYNC_BENCH_USERS", 200),
        env_or("SYNC_BENCH_CONNECTIONS", 5),
    );
    let (rate, seconds) = (
        env_or("SYNC_BENCH_RATE", 50u64),
        env_or("SYNC_BENCH_SECONDS", 20u64),
    );
    let writer = User::register(http, &server.base, "writer").await;
    let unrelated = create_rooms(&writer, 50).await;
    let mut theirs = Vec::new();
    let mut pollers = Vec::new();
    for u in 0..users {
        let user = User::register(http, &server.base, &format!("poller{u}")).await;
        let room = writer.create_room("public_chat").await;
        let join = format!("/_matrix/client/v3/join/{room}");
        user.call(reqwest::Method::POST, &join, Some(json!({})))
            .await;
        theirs.push(room);
        pollers.push(user);
    }
    let wakes = Arc::new(Mutex::new(Wakes::default()));
    // What the writes cost by themselves, before any long-poll waits.
    let baseline = cpu_per_minute(
        server,
        write_for(&writer, &unrelated, rate, seconds, &wakes),
    )
    .await;
    let stop = Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::new();
    for user in &pollers {
        for _ in 0..conns {
            let (u, w, s) = (user.clone(), wakes.clone(), stop.clone());
            tasks.push(tokio::spawn(long_poll(u, w, s)));
        }
    }
    // Let every long-poll reach its wait.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = cpu_per_minute(server, tokio::time::sleep(Duration::from_secs(seconds))).await;
    let before = wakes.lock().unwrap().responses;
    let unrelated_cpu = cpu_per_minute(
        server,
        write_for(&writer, &unrelated, rate, seconds, &wakes),
    )
    .await;
    let woken_unrelated = wakes.lock().unwrap().responses - before;
    let related_cpu =
        cpu_per_minute(server, write_for(&writer, &theirs, rate, seconds, &wakes)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.notify_waiters();
    let mut w = wakes.lock().unwrap();
    let n = w.latencies.len();
    let (p50, p99) = (pct(&mut w.latencies, 0.5), pct(&mut w.latencies, 0.99));
    println!(
        "\n{} long-polls ({users} users × {conns}), writer at {rate} msg/s, {seconds} s per phase:",
        users * conns
    );
    println!("| phase | server CPU s/min | long-polls answered | wake-up p50 / p99 |");
    println!("|---|---|---|---|");
    println!("| no long-polls: writes alone | {baseline:.2} | — | — |");
    println!("| idle, no writes | {idle:.2} | — | — |");
    println!("| writes to rooms none of them is in | {unrelated_cpu:.2} | {woken_unrelated} | — |");
    println!(
        "| writes to their rooms | {related_cpu:.2} | {n} wake-ups | {p50:.2} / {p99:.2} ms |"
    );
    drop(w);
    for t in tasks {
        t.abort();
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let only = std::env::var("SYNC_BENCH_ONLY").unwrap_or_default();
    let server = Server::start();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .build()
        .unwrap();
    if only.is_empty() || only == "rooms" {
        let sizes = sizes_from("SYNC_BENCH_ROOMS", "25,400,2000");
        let ours = rooms_table("modhost", &server.base, &http, &sizes).await;
        if std::env::var("SYNC_BENCH_SYNAPSE").is_ok_and(|v| v == "1") {
            synapse_rows(&http, &ours).await;
        }
    }
    if only.is_empty() || only == "wake" {
        wake_rows(&server, &http).await;
    }
}
