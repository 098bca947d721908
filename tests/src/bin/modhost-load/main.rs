//! `cargo run --release -p modhost-tests --bin modhost-load`
//! `cargo run --release -p modhost-tests --bin modhost-load -- scale-out`
//!
//! A bounded load run on 127.0.0.1: clients loop createRoom → 5 × send → sync. Without an
//! argument: one in-process server on SQLite, first with no modules, then with the
//! `house_rules` spam checker loaded. With `scale-out`: `modhost` processes on SQLite, on
//! PostgreSQL, and two of them on one PostgreSQL with every client's requests spread
//! round-robin, reporting also where the CPU went (see scale_out.rs). Prints requests/s and
//! p50/p99 latency per operation. Knobs: `LOAD_CLIENTS` (8), `LOAD_SECONDS` (10).

mod drive;
mod scale_out;

use modhost::{Config, Server};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// One in-process server on SQLite with `modules`, loaded by `clients` for `seconds`.
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
    let mut samples = drive::drive(&[base], clients, seconds).await;
    serving.abort();
    samples.report(label, clients, seconds);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let clients = env_or("LOAD_CLIENTS", 8);
    let seconds = env_or("LOAD_SECONDS", 10);
    if std::env::args().nth(1).as_deref() == Some("scale-out") {
        scale_out::run(clients, seconds).await;
        return;
    }
    run("no modules", "modules: []\n", clients, seconds).await;
    let spam =
        "modules:\n  - module: house_rules\n    config: {blocked_words: [\"buy cheap pills\"]}\n";
    run("house_rules spam checker", spam, clients, seconds).await;
}
