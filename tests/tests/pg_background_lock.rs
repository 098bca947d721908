//! Background work that must run once runs on exactly one of the instances sharing a
//! PostgreSQL database: the one holding the background leader lock. Two real `modhost`
//! processes share one database and load the `scripted` fixture, whose `loop_ms` looping
//! call runs on the leader only and whose `loop_everywhere_ms` one on every instance. The
//! leader is then killed with SIGKILL and the other instance takes over.

use std::time::{Duration, Instant};

use modhost_tests::{postgres, ServerProcess, Workdir};
use serde_json::{json, Value};

/// Looping call interval of the fixture, in ms.
const TICK_MS: u64 = 200;

/// One instance: its own folder (config, log, module copy) on the shared database `url`.
fn start_instance(w: &Workdir, url: &str) -> ServerProcess {
    let lib = w.copy_module("scripted", "a");
    let config = w.config(&format!(
        "database: {{url: \"{url}\", max_connections: 4}}\nmodules:\n  - module: {}\n    config: {{label: a, loop_ms: {TICK_MS}, loop_everywhere_ms: {TICK_MS}, host_calls: true, answers: {{}}}}\n",
        lib.display()
    ));
    ServerProcess::start(w, &config)
}

/// The `modhost_background_tasks_leader` gauge on the metrics page of `base`.
async fn leader_gauge(http: &reqwest::Client, base: &str) -> f64 {
    let page = http
        .get(format!("{base}/_modhost/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    page.lines()
        .find_map(|l| l.strip_prefix("modhost_background_tasks_leader "))
        .unwrap_or_else(|| panic!("no leader gauge on the page:\n{page}"))
        .trim()
        .parse()
        .expect("a number")
}

/// How many times the fixture recorded `callback` on `base`.
async fn count(http: &reqwest::Client, base: &str, callback: &str) -> usize {
    let calls: Vec<Value> = http
        .get(format!("{base}/_synapse/client/scripted/a/calls"))
        .send()
        .await
        .expect("calls")
        .json()
        .await
        .expect("calls JSON");
    calls.iter().filter(|c| c["callback"] == callback).count()
}

/// What the module gets from `runs_background_tasks` on `base`.
async fn module_sees(http: &reqwest::Client, base: &str) -> Value {
    let answer: Value = http
        .post(format!("{base}/_synapse/client/scripted/a/host"))
        .json(&json!({"method": "runs_background_tasks", "args": []}))
        .send()
        .await
        .expect("host call")
        .json()
        .await
        .expect("host call JSON");
    answer
}

/// Poll `done` every 100 ms until it holds or `limit` passes; whether it held.
async fn eventually<F, Fut>(limit: Duration, mut done: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The `background_updates` row of the host's one update, as `done|progress`.
fn membership_update(db: &str) -> String {
    postgres::server().psql(
        db,
        "SELECT done || '|' || progress FROM background_updates \
         WHERE update_name = 'current_state_membership'",
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn one_instance_runs_background_work_and_another_takes_over_when_it_is_killed() {
    let url = postgres::server().create_database();
    let db = url.rsplit('/').next().unwrap().to_string();
    let http = reqwest::Client::new();
    let (wa, wb) = (Workdir::new(), Workdir::new());

    // The first instance is alone: it becomes the leader and runs the pending update.
    let mut a = start_instance(&wa, &url);
    let log = a.wait_for_log("background update finished");
    assert!(log.contains("became background leader"), "{log}");
    assert_eq!(membership_update(&db), "1|");
    // A background update left pending while the second instance starts: only the leader
    // may run it, and the leader has run its list already.
    postgres::server().psql(
        &db,
        "UPDATE background_updates SET done = 0 WHERE update_name = 'current_state_membership'",
    );
    let b = start_instance(&wb, &url);
    b.wait_for_log("listening");

    // Both keep their timers; only the leader's looping call runs, the one marked for every
    // instance runs on both.
    tokio::time::sleep(Duration::from_millis(TICK_MS * 8)).await;
    let (a_ticks, b_ticks) = (
        count(&http, &a.base, "tick").await,
        count(&http, &b.base, "tick").await,
    );
    assert!(a_ticks >= 3, "the leader ticks: {a_ticks}");
    assert_eq!(b_ticks, 0, "the other instance does not");
    for base in [&a.base, &b.base] {
        let everywhere = count(&http, base, "tick_everywhere").await;
        assert!(everywhere >= 3, "{base}: {everywhere} ticks everywhere");
    }
    assert_eq!(leader_gauge(&http, &a.base).await, 1.0);
    assert_eq!(leader_gauge(&http, &b.base).await, 0.0);
    assert_eq!(module_sees(&http, &a.base).await, json!({"ok": true}));
    assert_eq!(module_sees(&http, &b.base).await, json!({"ok": false}));
    let log = b.log();
    assert!(!log.contains("became background leader"), "{log}");
    assert!(!log.contains("background update finished"), "{log}");
    assert_eq!(
        membership_update(&db),
        "0|",
        "the follower left the update alone"
    );

    // kill -9 the leader: the other instance runs the next tick within 10 s.
    a.kill();
    let killed = Instant::now();
    let took_over = eventually(Duration::from_secs(10), || async {
        count(&http, &b.base, "tick").await > 0
    })
    .await;
    assert!(
        took_over,
        "no tick on the survivor 10 s after the leader died"
    );
    let waited = killed.elapsed();
    eprintln!("the survivor ticked {waited:?} after the leader was killed");
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    let log = b.wait_for_log("background update finished");
    assert!(log.contains("became background leader"), "{log}");
    assert_eq!(
        membership_update(&db),
        "1|",
        "the new leader ran the update"
    );
    assert_eq!(leader_gauge(&http, &b.base).await, 1.0);
    assert_eq!(module_sees(&http, &b.base).await, json!({"ok": true}));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leader_whose_connection_is_cut_gives_up_and_takes_leadership_again() {
    let url = postgres::server().create_database();
    let db = url.rsplit('/').next().unwrap().to_string();
    let http = reqwest::Client::new();
    let w = Workdir::new();
    let a = start_instance(&w, &url);
    a.wait_for_log("became background leader");
    // The database ends the leader's session (as a restart or a network cut would).
    let ended = postgres::server().psql(
        &db,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = 'modhost background leader' AND datname = current_database()",
    );
    assert_eq!(ended, "1", "one leader session");
    let log = a.wait_for_log("lost background leadership");
    assert!(
        log.contains("background leader connection failed; reconnecting"),
        "{log}"
    );
    let back = eventually(Duration::from_secs(10), || async {
        a.log().matches("became background leader").count() == 2
    })
    .await;
    assert!(back, "leadership not taken again:\n{}", a.log());
    assert_eq!(leader_gauge(&http, &a.base).await, 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_leader_is_replaced_and_steps_down_when_it_wakes() {
    let url = postgres::server().create_database();
    let (wa, wb) = (Workdir::new(), Workdir::new());
    let a = start_instance(&wa, &url);
    let b = start_instance(&wb, &url);
    let http = reqwest::Client::new();
    let one_leads = eventually(Duration::from_secs(10), || async {
        leader_gauge(&http, &a.base).await + leader_gauge(&http, &b.base).await == 1.0
    })
    .await;
    assert!(one_leads, "no single leader");
    let (leader, other) = if leader_gauge(&http, &a.base).await == 1.0 {
        (&a, &b)
    } else {
        (&b, &a)
    };
    // Frozen: its socket stays open, so only the server's idle-session limit frees the lock.
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill")
            .args([sig, &leader.pid().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig}");
    };
    signal("-STOP");
    let frozen = Instant::now();
    let took_over = eventually(Duration::from_secs(10), || async {
        leader_gauge(&http, &other.base).await == 1.0
    })
    .await;
    let waited = frozen.elapsed();
    signal("-CONT");
    assert!(took_over, "no takeover within 10 s of freezing the leader");
    eprintln!("took over {waited:?} after the leader froze");
    let stepped_down = eventually(Duration::from_secs(10), || async {
        leader_gauge(&http, &leader.base).await == 0.0
    })
    .await;
    assert!(stepped_down, "the woken leader still claims leadership");
    assert!(leader.log().contains("lost background leadership"));
}
