//! What one client can make the server spend (issue 17, items 1 and 4): login and
//! registration rate limits, the bounded password-hashing pool (memory stays bounded under a
//! burst of wrong passwords), and a hanging module check holding only its own request.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use modhost_tests::{client_call, ServerProcess, Workdir};
use serde_json::{json, Value};

/// `VmHWM` (peak) and `VmRSS` (now) of process `pid`, in MiB.
fn memory_mib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} in {status}"))
            / 1024
    };
    (field("VmHWM:"), field("VmRSS:"))
}

async fn register(base: &str, name: &str) {
    let body = json!({"username": name, "password": "right", "auth": {"type": "m.login.dummy"}});
    let (status, resp) = client_call(base, "POST", "/register", None, Some(body)).await;
    assert_eq!(status, 200, "{resp}");
}

async fn login(base: &str, password: &str) -> (u16, Value) {
    let body = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": password});
    client_call(base, "POST", "/login", None, Some(body)).await
}

/// 100 wrong-password logins at once: (status, body) of each.
async fn burst(base: &str) -> Vec<(u16, Value)> {
    join_all((0..100).map(|_| login(base, "wrong"))).await
}

fn assert_limited(answer: &(u16, Value)) {
    assert_eq!(answer.1["errcode"], "M_LIMIT_EXCEEDED", "{answer:?}");
    assert_eq!(answer.0, 429);
    assert!(
        answer.1["retry_after_ms"].as_u64().unwrap() > 0,
        "{answer:?}"
    );
}

/// Log in with the right password, waiting out `retry_after_ms` while limited (at most 30 s).
async fn login_when_allowed(base: &str) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = login(base, "right").await;
        if answer.0 != 429 || Instant::now() > deadline {
            return answer;
        }
        let wait = answer.1["retry_after_ms"].as_u64().unwrap_or(100);
        tokio::time::sleep(Duration::from_millis(wait.min(10_000))).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_burst_is_rate_limited_per_account() {
    let w = Workdir::new();
    // Synapse's `failed_attempts` default; the address limit raised so it is the account's
    // limit that answers (the next test covers the address).
    let rc = "rc_login: {address: {per_second: 1000, burst_count: 1000}}\n";
    let config = w.config(&format!("enable_registration: true\n{rc}modules: []\n"));
    let server = ServerProcess::start(&w, &config);
    register(&server.base, "alice").await;
    let answers = burst(&server.base).await;
    let limited: Vec<_> = answers.iter().filter(|a| a.0 == 429).collect();
    // The account's burst of 3 failures gets a (wrong) answer; everything else waits.
    assert_eq!(limited.len(), 97, "{answers:?}");
    limited.iter().for_each(|a| assert_limited(a));
    for other in answers.iter().filter(|a| a.0 != 429) {
        assert_eq!(other.1["errcode"], "M_FORBIDDEN", "{other:?}");
    }
    let (peak, _) = memory_mib(server.pid());
    eprintln!("rate-limited burst: peak RSS {peak} MiB");
    assert!(peak < 300, "peak RSS {peak} MiB under a rate-limited burst");
    let (status, body) = login_when_allowed(&server.base).await;
    assert_eq!(
        status, 200,
        "the right password works once the window passed: {body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn logins_from_one_address_follow_synapses_defaults() {
    let w = Workdir::new();
    // `rc_login: {}` keeps Synapse's defaults (the test helper raises them otherwise).
    let config = w.config("enable_registration: true\nrc_login: {}\nmodules: []\n");
    let server = ServerProcess::start(&w, &config);
    for n in 0..6 {
        let body = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": format!("nobody{n}")}, "password": "wrong"});
        let (status, answer) = client_call(&server.base, "POST", "/login", None, Some(body)).await;
        if n < 5 {
            // A burst of 5 per address, each for another account.
            assert_eq!(
                (status, &answer["errcode"]),
                (403, &json!("M_FORBIDDEN")),
                "{answer}"
            );
        } else {
            assert_limited(&(status, answer.clone()));
            // Then one login every ~333 s (0.003/s).
            let wait = answer["retry_after_ms"].as_u64().unwrap();
            assert!((300_000..=340_000).contains(&wait), "{answer}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hashing_pool_bounds_memory_and_refuses_beyond_its_queue() {
    let w = Workdir::new();
    let config = w.config(
        "enable_registration: true\npassword_hashing: {max_concurrent: 2, max_queued: 4}\nmodules: []\n",
    );
    let server = ServerProcess::start(&w, &config);
    register(&server.base, "alice").await;
    let (_, before) = memory_mib(server.pid());
    let answers = burst(&server.base).await;
    let limited: Vec<_> = answers.iter().filter(|a| a.0 == 429).collect();
    assert!(!limited.is_empty(), "a full queue refuses: {answers:?}");
    limited.iter().for_each(|a| assert_limited(a));
    assert!(
        answers.iter().filter(|a| a.0 == 403).count() >= 6,
        "those admitted are checked: {answers:?}"
    );
    let (peak, now) = memory_mib(server.pid());
    // Two computations of ~19 MiB at a time, not a hundred (2 GB before the pool).
    assert!(peak < 200, "peak RSS {peak} MiB");
    let (status, body) = login(&server.base, "right").await;
    assert_eq!(status, 200, "{body}");
    let (_, after) = memory_mib(server.pid());
    let refused = limited.len();
    eprintln!("pool burst: {before} MiB before, peak {peak} MiB, {now} MiB after it, {after} MiB later; {refused} of 100 refused");
    assert!(
        after <= now + 50,
        "RSS {after} MiB after the burst, {now} MiB during it"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn registrations_from_one_address_are_rate_limited() {
    let w = Workdir::new();
    let config = w.config("enable_registration: true\nrc_registration: {}\nmodules: []\n");
    let server = ServerProcess::start(&w, &config);
    for name in ["u1", "u2", "u3"] {
        register(&server.base, name).await;
    }
    let body = json!({"username": "u4", "password": "right", "auth": {"type": "m.login.dummy"}});
    let answer = client_call(&server.base, "POST", "/register", None, Some(body)).await;
    assert_limited(&answer);
    // Even the interactive-auth challenge is refused while the address is limited.
    let answer = client_call(&server.base, "POST", "/register", None, Some(json!({}))).await;
    assert_limited(&answer);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_spam_check_holds_only_its_own_requests() {
    let w = Workdir::new();
    let lib = w.copy_module("scripted", "hangs");
    let entry =
        modhost_tests::scripted_entry(&lib, "hangs", json!({"check_event_for_spam": "hang"}));
    let config = format!(
        "enable_registration: true\nmodules:\n{entry}    on_failure: deny\n    timeout_ms: 1000\n"
    );
    let s = modhost_tests::TestServer::start(&w.config(&config)).await;
    let mut users = Vec::new();
    for n in 0..8 {
        users.push(s.register(&format!("u{n}")).await);
    }
    let room = users[0].create_room(json!({"preset": "public_chat"})).await;
    for u in &users[1..] {
        assert_eq!(
            u.call("POST", &format!("/join/{room}"), Some(json!({})))
                .await
                .0,
            200
        );
    }
    // 128 sends with distinct transactions from 8 users: with 64 shared lock stripes they
    // queued behind each other's hanging checks (12 s for 128 in the issue).
    let sends = (0..128).map(|n| {
        let (user, room) = (&users[n % 8], room.clone());
        async move {
            let started = Instant::now();
            let path = format!("/rooms/{room}/send/m.room.message/txn{n}");
            let answer = user.call("PUT", &path, Some(json!({"body": "x"}))).await;
            (answer, started.elapsed())
        }
    });
    let results = join_all(sends).await;
    let slowest = results.iter().map(|(_, took)| *took).max().unwrap();
    eprintln!("hanging spam check: slowest of 128 answers after {slowest:?}");
    for ((status, body), took) in &results {
        assert_eq!(*status, 403, "the check timed out and fails closed: {body}");
        assert!(
            *took < Duration::from_millis(1700),
            "each request within its own 1 s limit and a margin: {took:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn logins_with_huge_user_names_are_refused_and_leave_nothing_behind() {
    let w = Workdir::new();
    let config = w.config("enable_registration: true\nmodules: []\n");
    let server = ServerProcess::start(&w, &config);
    let (_, before) = memory_mib(server.pid());
    for i in 0..150 {
        let user = format!("x{i}{}", "a".repeat(1_000_000));
        let body = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": "w"});
        let (status, answer) = client_call(&server.base, "POST", "/login", None, Some(body)).await;
        assert_eq!(
            (status, &answer["errcode"]),
            (403, &json!("M_FORBIDDEN")),
            "{answer}"
        );
    }
    let (_, after) = memory_mib(server.pid());
    // Before the length check each name stayed as a rate-limit key: ~1 MB per attempt.
    assert!(
        after < before + 60,
        "RSS {before} MiB before, {after} MiB after"
    );
}
