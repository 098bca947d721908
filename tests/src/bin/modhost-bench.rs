//! `cargo run --release -p modhost-tests --bin modhost-bench`
//!
//! Measures, in one run and on the same machine:
//! 1. a `user_may_create_room` chain dispatched through the real `demo` module library vs
//!    the same policy as a native in-process boxed-future closure;
//! 2. HTTP throughput of the demo web resource vs a native axum route producing the same
//!    body, both served by one modhost router on 127.0.0.1, rounds interleaved.
//!
//! 3. the same two with the demo module isolated (`isolation: process`) vs in process:
//!    per-call latency percentiles of `user_may_create_room`, and web resource throughput.
//!
//! Prints ns/call, requests/s and the ratios. Never run as a timed test. `BENCH_ONLY=dispatch`
//! or `BENCH_ONLY=isolation` runs one part.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use modhost::web::axum::{extract::Query, routing::get, Json};
use modhost::{Config, Server};
use plugin_sdk::SpamCheck;
use serde_json::json;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type NativeCallback = Box<dyn Fn(String, String) -> BoxFuture<SpamCheck> + Send + Sync>;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let iterations: u32 = env_or("BENCH_ITERATIONS", 200_000);
    let rounds: usize = env_or("BENCH_ROUNDS", 7);
    let dir = modhost_tests::build_dir_with_profile("release");
    let work = modhost_tests::Workdir::new();
    let config_path = work.path().join("bench.yaml");
    std::fs::write(
        &config_path,
        format!(
            "server_name: bench.local\nplugins_dir: {}\nmodules:\n  - module: demo\n",
            dir.display()
        ),
    )
    .unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if std::env::var("BENCH_ONLY").as_deref() == Ok("isolation") {
        isolation_rows(&rt, &dir, &work);
        return;
    }
    let server = rt.block_on(async {
        Server::open(Config::load(&config_path).unwrap())
            .await
            .unwrap()
    });
    let registry = Arc::clone(&server.modules.registry);

    // --- 1. dispatch -------------------------------------------------------------------
    let evil = "@evilguy:bench.local".to_string();
    let native: Vec<NativeCallback> =
        vec![Box::new(move |user_id: String, _room_config: String| {
            let denied = user_id == evil;
            Box::pin(async move {
                if denied {
                    SpamCheck::forbidden()
                } else {
                    SpamCheck::NotSpam
                }
            })
        })];
    let user = "@alice:bench.local";
    let room_config = r#"{"preset":"private_chat","name":"bench"}"#;

    let (mut plugin_ns, mut native_ns) = (Vec::new(), Vec::new());
    rt.block_on(async {
        for _ in 0..rounds {
            let t = Instant::now();
            for _ in 0..iterations {
                let v = registry
                    .user_may_create_room(std::hint::black_box(user), room_config)
                    .await
                    .unwrap();
                std::hint::black_box(v);
            }
            plugin_ns.push(t.elapsed().as_nanos() as f64 / iterations as f64);

            let t = Instant::now();
            for _ in 0..iterations {
                let mut verdict = SpamCheck::NotSpam;
                for cb in &native {
                    verdict = cb(
                        std::hint::black_box(user).to_string(),
                        room_config.to_string(),
                    )
                    .await;
                    if verdict != SpamCheck::NotSpam {
                        break;
                    }
                }
                std::hint::black_box(verdict);
            }
            native_ns.push(t.elapsed().as_nanos() as f64 / iterations as f64);
        }
    });
    let (p, n) = (median(plugin_ns.clone()), median(native_ns.clone()));
    println!(
        "dispatch user_may_create_room ({iterations} calls x {rounds} rounds, median ns/call)"
    );
    println!(
        "  native boxed-future closure : {n:8.1} ns (min {:.1})",
        native_ns.iter().cloned().fold(f64::MAX, f64::min)
    );
    println!(
        "  through the demo module     : {p:8.1} ns (min {:.1})",
        plugin_ns.iter().cloned().fold(f64::MAX, f64::min)
    );
    println!(
        "  ratio plugin/native         : {:8.2}x (target <= 3x)",
        p / n
    );

    if std::env::var("BENCH_ONLY").as_deref() == Ok("dispatch") {
        return;
    }

    // --- 2. HTTP ------------------------------------------------------------------------
    let app = server.app().route(
        "/_bench/native/hello",
        get(|Query(q): Query<std::collections::HashMap<String, String>>| async move {
            match q.get("name") {
                Some(name) => (modhost::web::axum::http::StatusCode::OK, Json(json!({ "hello": name }))),
                None => (
                    modhost::web::axum::http::StatusCode::BAD_REQUEST,
                    Json(json!({"errcode": "M_MISSING_PARAM", "error": "Missing parameter: name"})),
                ),
            }
        }),
    );
    let base = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { modhost::web::axum::serve(listener, app).await.unwrap() });
        base
    });
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let secs: u64 = env_or("BENCH_HTTP_SECONDS", 3);
    let (mut native_rps, mut module_rps) = (Vec::new(), Vec::new());
    for round in 0..4 {
        for (which, path) in [
            ("native", "/_bench/native/hello?name=world"),
            ("module", "/_synapse/client/demo/hello?name=world"),
        ] {
            let url = format!("{base}{path}");
            let rps = client_rt.block_on(load(url, 32, Duration::from_secs(secs)));
            if round > 0 {
                // Round 0 warms both routes up.
                if which == "native" {
                    native_rps.push(rps)
                } else {
                    module_rps.push(rps)
                }
            }
        }
    }
    let (nr, mr) = (median(native_rps), median(module_rps));
    println!("http GET hello?name=world (32 connections, {secs}s rounds, 3 measured rounds, median req/s)");
    println!("  native axum route           : {nr:10.0} req/s");
    println!("  demo module web resource    : {mr:10.0} req/s");
    println!(
        "  ratio module/native         : {:10.2}x (target >= 0.9x)",
        mr / nr
    );
    drop(client_rt);
    isolation_rows(&rt, &dir, &work);
}

/// Serve `config` (a `modules:` list) on a free port; the base URL and the chains.
fn serve(
    rt: &tokio::runtime::Runtime,
    path: &std::path::Path,
    config: String,
) -> (String, Arc<modhost::modules::Registry>) {
    std::fs::write(path, config).unwrap();
    rt.block_on(async {
        let server = Server::open(Config::load(path).unwrap()).await.unwrap();
        let registry = Arc::clone(&server.modules.registry);
        let app = server.app();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { modhost::web::axum::serve(listener, app).await.unwrap() });
        std::mem::forget(server);
        (base, registry)
    })
}

/// Per-call latencies (µs) of `calls` sequential `user_may_create_room` dispatches.
fn latencies(
    rt: &tokio::runtime::Runtime,
    registry: &modhost::modules::Registry,
    calls: usize,
) -> Vec<f64> {
    rt.block_on(async {
        let mut out = Vec::with_capacity(calls);
        for _ in 0..calls {
            let t = Instant::now();
            let v = registry
                .user_may_create_room("@alice:bench.local", r#"{"preset":"private_chat"}"#)
                .await
                .unwrap();
            out.push(t.elapsed().as_secs_f64() * 1e6);
            std::hint::black_box(v);
        }
        out.sort_by(|a, b| a.partial_cmp(b).unwrap());
        out
    })
}

/// CPU time (user + system) used so far by this process and by its runner children, in
/// µs, from /proc (10 ms ticks: runs are long enough for that to matter little).
fn cpu_us() -> f64 {
    let ticks = |stat: &str| -> u64 {
        // Fields after the command's closing parenthesis: utime and stime are 14 and 15.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
            + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    let me = std::process::id().to_string();
    let mut total = ticks(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default());
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        if rest.split_whitespace().nth(1) == Some(me.as_str()) {
            total += ticks(&stat);
        }
    }
    total as f64 * 1e6 / 100.0
}

/// Per-call latencies (µs, sorted) of `calls` dispatches through `registry`, and the CPU
/// time each cost both processes (µs).
fn measured(
    rt: &tokio::runtime::Runtime,
    registry: &modhost::modules::Registry,
    calls: usize,
) -> (Vec<f64>, f64) {
    let before = cpu_us();
    let v = latencies(rt, registry, calls);
    (v, (cpu_us() - before) / calls as f64)
}

/// Part 3: the demo module isolated (with and without `busy_poll_us`) vs in process, all in
/// this run.
fn isolation_rows(
    rt: &tokio::runtime::Runtime,
    dir: &std::path::Path,
    work: &modhost_tests::Workdir,
) {
    std::env::set_var("MODHOST_MODULE_RUNNER", dir.join("modhost-module-runner"));
    let config = |isolation: &str| {
        format!(
            "server_name: bench.local\nplugins_dir: {}\nmodules:\n  - module: demo\n    isolation: {isolation}\n",
            dir.display()
        )
    };
    let spin: u32 = env_or("BENCH_BUSY_POLL_US", 200);
    let (here_base, here) = serve(rt, &work.path().join("here.yaml"), config("in_process"));
    let (iso_base, iso) = serve(rt, &work.path().join("iso.yaml"), config("process"));
    let busy_config = config(&format!("process\n    busy_poll_us: {spin}"));
    let (_, busy) = serve(rt, &work.path().join("busy.yaml"), busy_config);
    let calls: usize = env_or("BENCH_ISOLATED_CALLS", 20_000);
    let pct = |v: &[f64], p: f64| v[((v.len() - 1) as f64 * p) as usize];
    for r in [&here, &iso, &busy] {
        latencies(rt, r, 1000); // warm-up
    }
    println!("user_may_create_room through the demo module, {calls} sequential calls (µs)");
    let rows = [
        ("in process", &here),
        ("isolated", &iso),
        ("isolated, busy_poll", &busy),
    ];
    for (name, registry) in rows {
        let (v, cpu) = measured(rt, registry, calls);
        println!(
            "  {name:<20}: p50 {:8.2}  p99 {:8.2}  CPU/call {cpu:7.2}",
            pct(&v, 0.5),
            pct(&v, 0.99)
        );
    }
    println!(
        "  (busy_poll_us: {spin}; targets isolated: p50 <= 100, p99 <= 1000; busy_poll: p50 <= 25)"
    );
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let secs: u64 = env_or("BENCH_HTTP_SECONDS", 3);
    let (mut here_rps, mut iso_rps) = (Vec::new(), Vec::new());
    for round in 0..4 {
        for (rps, base) in [(&mut here_rps, &here_base), (&mut iso_rps, &iso_base)] {
            let url = format!("{base}/_synapse/client/demo/hello?name=world");
            let r = client_rt.block_on(load(url, 32, Duration::from_secs(secs)));
            if round > 0 {
                rps.push(r);
            }
        }
    }
    let (hr, ir) = (median(here_rps), median(iso_rps));
    println!("http GET demo hello (32 connections, {secs}s rounds, median req/s)");
    println!("  in process : {hr:10.0} req/s");
    println!("  isolated   : {ir:10.0} req/s");
    println!(
        "  ratio isolated/in process : {:6.2}x (target >= 0.5x)",
        ir / hr
    );
}

/// Keep `connections` requests in flight for `length`; returns requests/s (200s only).
async fn load(url: String, connections: usize, length: Duration) -> f64 {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap();
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + length;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, url, done) = (client.clone(), url.clone(), Arc::clone(&done));
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let r = client.get(&url).send().await.unwrap();
                let ok = r.status().is_success();
                let _ = r.bytes().await;
                if ok {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let start = Instant::now();
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}
