//! `cargo run --release -p modhost-tests --bin modhost-load`
//!
//! A bounded load run on 127.0.0.1: clients loop createRoom → 5 × send → sync, first with no
//! modules, then with the `house_rules` spam checker loaded. Prints requests/s and p50/p99
//! latency per operation. Knobs: `LOAD_CLIENTS` (8), `LOAD_SECONDS` (10).

use std::sync::Arc;
use std::time::{Duration, Instant};

use modhost::{Config, Server};
use serde_json::{json, Value};
use tokio::sync::Mutex;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[derive(Default)]
struct Samples {
    create: Vec<Duration>,
    send: Vec<Duration>,
    sync: Vec<Duration>,
    errors: u64,
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

async fn run(label: &str, modules: &str, clients: usize, seconds: u64) {
    let dir = modhost_tests::build_dir_with_profile("release");
    let work = modhost_tests::Workdir::new();
    let config_path = work.path().join("load.yaml");
    std::fs::write(
        &config_path,
        format!(
            "server_name: load.local\nplugins_dir: {}\nenable_registration: true\n{}{modules}",
            dir.display(),
            modhost_tests::test_rate_limits("")
        ),
    )
    .unwrap();
    let server = Server::open(Config::load(&config_path).unwrap())
        .await
        .unwrap();
    let app = server.app();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let serving =
        tokio::spawn(async move { modhost::web::axum::serve(listener, app).await.unwrap() });

    let http = reqwest::Client::new();
    let samples = Arc::new(Mutex::new(Samples::default()));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (http, base, samples) = (http.clone(), base.clone(), Arc::clone(&samples));
        tasks.push(tokio::spawn(async move {
            let reg: Value = http
                .post(format!("{base}/_matrix/client/v3/register"))
                .json(&json!({"username": format!("user{c}"), "password": "pw", "auth": {"type": "m.login.dummy"}}))
                .send().await.unwrap().json().await.unwrap();
            let token = reg["access_token"].as_str().unwrap().to_string();
            let mut since: Option<String> = None;
            let mut n = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                let r = http.post(format!("{base}/_matrix/client/v3/createRoom")).bearer_auth(&token).json(&json!({"name": "load"})).send().await.unwrap();
                let ok = r.status().is_success();
                let room: Value = r.json().await.unwrap_or_default();
                let mut s = Samples { create: vec![t.elapsed()], ..Samples::default() };
                if !ok {
                    s.errors += 1;
                }
                let room_id = room["room_id"].as_str().unwrap_or_default().to_string();
                for i in 0..5 {
                    n += 1;
                    let t = Instant::now();
                    let r = http
                        .put(format!("{base}/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t{c}_{n}"))
                        .bearer_auth(&token)
                        .json(&json!({"msgtype": "m.text", "body": format!("message {i}")}))
                        .send().await.unwrap();
                    if !r.status().is_success() {
                        s.errors += 1;
                    }
                    let _ = r.bytes().await;
                    s.send.push(t.elapsed());
                }
                let t = Instant::now();
                let url = match &since {
                    Some(tok) => format!("{base}/_matrix/client/v3/sync?since={tok}&timeout=0"),
                    None => format!("{base}/_matrix/client/v3/sync?timeout=0"),
                };
                let r = http.get(url).bearer_auth(&token).send().await.unwrap();
                if !r.status().is_success() {
                    s.errors += 1;
                }
                let body: Value = r.json().await.unwrap_or_default();
                since = body["next_batch"].as_str().map(String::from);
                s.sync.push(t.elapsed());
                let mut all = samples.lock().await;
                all.create.extend(s.create);
                all.send.extend(s.send);
                all.sync.extend(s.sync);
                all.errors += s.errors;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    serving.abort();
    let mut guard = samples.lock().await;
    let s = &mut *guard;
    let total = s.create.len() + s.send.len() + s.sync.len();
    println!(
        "{label}: {clients} clients, {seconds}s, {:.0} req/s, {} errors",
        total as f64 / seconds as f64,
        s.errors
    );
    for (name, v) in [
        ("createRoom", &mut s.create),
        ("send", &mut s.send),
        ("sync", &mut s.sync),
    ] {
        let n = v.len();
        println!(
            "  {name:<10} n={n:<6} p50 {:7.2} ms  p99 {:7.2} ms",
            pct(v, 0.5),
            pct(v, 0.99)
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let clients = env_or("LOAD_CLIENTS", 8);
    let seconds = env_or("LOAD_SECONDS", 10);
    run("no modules", "modules: []\n", clients, seconds).await;
    let spam =
        "modules:\n  - module: house_rules\n    config: {blocked_words: [\"buy cheap pills\"]}\n";
    run("house_rules spam checker", spam, clients, seconds).await;
}
