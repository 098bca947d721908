//! Modules with `isolation: process` (issue 16): a module that segfaults, aborts, exits,
//! overflows its stack or runs out of memory takes down only its runner process. The call
//! that crashed it gets its failure policy's answer, the server keeps answering everything
//! else, and the module comes back in a new process for the next call.

use std::time::{Duration, Instant};

use modhost_tests::{client_call, ServerProcess, Workdir};
use serde_json::{json, Value};

/// A server (a real `modhost` process) with the `crasher` fixture isolated, crashing in
/// `mode`, plus `extra` keys of its module entry.
fn server(w: &Workdir, mode: &str, extra: &str) -> ServerProcess {
    let config = w.config(&format!(
        "enable_registration: true\nmodules:\n  - module: crasher\n    isolation: process\n{extra}    config: {{mode: {mode}}}\n"
    ));
    ServerProcess::start(w, &config)
}

async fn register(s: &ServerProcess, localpart: &str) -> String {
    let body = json!({"username": localpart, "password": "pw", "auth": {"type": "m.login.dummy"}});
    let (status, resp) = client_call(&s.base, "POST", "/register", None, Some(body)).await;
    assert_eq!(status, 200, "{resp}");
    resp["access_token"].as_str().unwrap().to_string()
}

async fn create_room(s: &ServerProcess, token: &str) -> (u16, Value) {
    client_call(&s.base, "POST", "/createRoom", Some(token), Some(json!({}))).await
}

/// The runner's process ID, from the module's own web resource (`None` while it is down).
async fn module_pid(s: &ServerProcess) -> Option<u64> {
    let resp = reqwest::get(format!("{}/_synapse/client/crasher/ping", s.base))
        .await
        .unwrap();
    if resp.status() != 200 {
        return None;
    }
    resp.json::<Value>().await.unwrap()["pid"].as_u64()
}

/// Wait (up to 10 s) until the module answers from a process other than `old`.
async fn back_in_a_new_process(s: &ServerProcess, old: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(pid) = module_pid(s).await.filter(|p| *p != old) {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "the module did not come back:\n{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Crash the module in `mode`: the crashing call fails with the default policy's 500, the
/// server stays up, the log names the death, and the module serves again afterwards.
async fn crash_and_recover(mode: &str, extra: &str, death: &str) -> String {
    let w = Workdir::new();
    let s = server(&w, mode, extra);
    let (alice, crashy) = (register(&s, "alice").await, register(&s, "crashy").await);
    let first = module_pid(&s).await.expect("the module answers");
    assert_ne!(
        u64::from(s.pid()),
        first,
        "the module runs in a process of its own"
    );
    assert_eq!(create_room(&s, &alice).await.0, 200);

    let (status, body) = create_room(&s, &crashy).await;
    assert_eq!(
        (status, &body["errcode"]),
        (500, &json!("M_UNKNOWN")),
        "{body}"
    );
    let (status, _) = client_call(&s.base, "GET", "/account/whoami", Some(&alice), None).await;
    assert_eq!(status, 200, "the server itself is still up");
    let log = s.wait_for_log("isolated module process restarted");
    assert!(
        log.contains(&format!("isolated module process {death}; restarting")),
        "{log}"
    );
    assert!(log.contains("module=crasher"), "{log}");

    back_in_a_new_process(&s, first).await;
    assert_eq!(
        create_room(&s, &alice).await.0,
        200,
        "served again after the restart"
    );
    s.log()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_segfault_kills_only_the_runner() {
    crash_and_recover("segfault", "", "killed by signal 11 (SIGSEGV)").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_abort_kills_only_the_runner() {
    crash_and_recover("abort", "", "killed by signal 6 (SIGABRT)").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exit_ends_only_the_runner() {
    crash_and_recover("exit", "", "exited with status 3").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_overflow_kills_only_the_runner() {
    // Rust reports the overflow on the guard page and aborts.
    crash_and_recover("stack", "", "killed by signal 6 (SIGABRT)").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn running_out_of_the_memory_limit_kills_only_the_runner() {
    // An allocation the address-space limit refuses aborts the process.
    let log = crash_and_recover(
        "alloc",
        "    memory_limit_mb: 512\n",
        "killed by signal 6 (SIGABRT)",
    )
    .await;
    // The runner's own last words reach the log, as the module's.
    assert!(log.contains("module runner: memory allocation of"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_under_on_failure_allow_lets_the_request_through() {
    let w = Workdir::new();
    let s = server(&w, "segfault", "    on_failure: allow\n");
    let crashy = register(&s, "crashy").await;
    let (status, body) = create_room(&s, &crashy).await;
    assert_eq!(status, 200, "fail open: {body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_that_never_answers_times_out_and_the_runner_lives_on() {
    let w = Workdir::new();
    let s = server(&w, "sleep", "    timeout_ms: 300\n");
    let (alice, crashy) = (register(&s, "alice").await, register(&s, "crashy").await);
    let pid = module_pid(&s).await.unwrap();
    let started = Instant::now();
    let (status, _) = create_room(&s, &crashy).await;
    assert_eq!(status, 500);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(create_room(&s, &alice).await.0, 200);
    assert_eq!(
        module_pid(&s).await,
        Some(pid),
        "no restart for a slow call"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_thread_of_the_module_is_contained() {
    let w = Workdir::new();
    let s = server(&w, "thread_panic", "");
    let crashy = register(&s, "crashy").await;
    let pid = module_pid(&s).await.unwrap();
    assert_eq!(create_room(&s, &crashy).await.0, 200);
    assert_eq!(module_pid(&s).await, Some(pid));
}

#[test]
fn limits_need_process_isolation_and_bad_values_are_named() {
    let w = Workdir::new();
    let cases = [
        (
            "    isolation: sideways\n",
            "modules[0].isolation: expected in_process (the default) or process",
        ),
        (
            "    memory_limit_mb: 512\n",
            "modules[0].memory_limit_mb: needs `isolation: process` (a module in the server's process cannot be held to it)",
        ),
        (
            "    sandbox: strict\n",
            "modules[0].sandbox: needs `isolation: process` (a module in the server's process cannot be held to it)",
        ),
        (
            "    isolation: process\n    sandbox: loose\n",
            "modules[0].sandbox: expected strict or none (the default)",
        ),
        (
            "    isolation: process\n    max_concurrent_calls: 0\n",
            "modules[0].max_concurrent_calls: expected a number from 1 to 100000",
        ),
        (
            "    isolation: process\n    memory_limit_mb: 10\n",
            "modules[0].memory_limit_mb: expected a number of MiB from 256 to 16777216",
        ),
        (
            "    busy_poll_us: 50\n",
            "modules[0].busy_poll_us: needs `isolation: process` (a module in the server's process cannot be held to it)",
        ),
        (
            "    isolation: process\n    busy_poll_us: 5000\n",
            "modules[0].busy_poll_us: expected a number of µs from 0 to 1000",
        ),
        (
            "    isolation: process\n    busy_poll_us: fast\n",
            "modules[0].busy_poll_us: expected a number of µs from 0 to 1000",
        ),
    ];
    for (extra, expected) in cases {
        let config = w.config(&format!(
            "modules:\n  - module: demo\n{extra}    config: {{}}\n"
        ));
        let (code, _, stderr) = w.check_config(&config);
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains(expected), "want {expected:?} in:\n{stderr}");
    }
}

#[test]
fn configuration_errors_read_the_same_in_both_modes() {
    let w = Workdir::new();
    let check = |isolation: &str| {
        let config = w.config(&format!(
            "modules:\n  - module: demo\n    isolation: {isolation}\n    config: {{evil_user: 7}}\n"
        ));
        let (code, _, stderr) = w.check_config(&config);
        assert_eq!(code, 1, "{stderr}");
        stderr
    };
    let (here, isolated) = (check("in_process"), check("process"));
    assert!(here.contains("modules[0].config.evil_user"), "{here}");
    assert_eq!(here, isolated);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_api_shows_the_runner_and_its_restarts() {
    let w = Workdir::new();
    let root = {
        let first = server(&w, "segfault", "");
        register(&first, "root").await
    };
    let config = w.config(
        "enable_registration: true\nadmin_users: [\"@root:test.local\"]\nmodules:\n  - module: crasher\n    isolation: process\n    config: {mode: segfault}\n",
    );
    let s = ServerProcess::start(&w, &config);
    let report = || async {
        let resp = reqwest::Client::new()
            .get(format!("{}/_synapse/admin/v1/modules", s.base))
            .bearer_auth(&root)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json::<Value>().await.unwrap()["modules"][0].clone()
    };
    let before = report().await;
    let pid = module_pid(&s).await.unwrap();
    assert_eq!(before["isolation"], "process", "{before}");
    assert_eq!(before["process"]["pid"], pid);
    assert_eq!(before["process"]["restarts"], 0);
    assert_eq!(before["process"]["exits"], 0);
    assert_eq!(before["process"]["last_exit"], Value::Null);
    assert!(
        before["process"]["rss_bytes"].as_u64().unwrap() > 1 << 20,
        "{before}"
    );

    let crashy = register(&s, "crashy").await;
    assert_eq!(create_room(&s, &crashy).await.0, 500);
    let new_pid = back_in_a_new_process(&s, pid).await;
    let after = report().await;
    assert_eq!(after["process"]["pid"], new_pid);
    assert_eq!(after["process"]["restarts"], 1);
    assert_eq!(
        after["process"]["last_exit"],
        "killed by signal 11 (SIGSEGV)"
    );
    assert_eq!(after["process"]["failed"], Value::Null);

    // The metrics page has the same, per module.
    let page = reqwest::get(format!("{}/_modhost/metrics", s.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = |name: &str| -> u64 {
        let prefix = format!("{name}{{module=\"crasher\"}} ");
        page.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("no {name} in:\n{page}"))
            .parse()
            .unwrap()
    };
    assert_eq!(series("modhost_module_process_up"), 1);
    assert_eq!(series("modhost_module_process_exits_total"), 1);
    assert_eq!(series("modhost_module_process_restarts_total"), 1);
    assert!(series("modhost_module_process_rss_bytes") > 1 << 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_that_registers_otherwise_after_a_restart_stays_down() {
    let w = Workdir::new();
    let marker = w.path().join("vary");
    let s = server(
        &w,
        &format!("exit, vary_file: \"{}\"", marker.display()),
        "",
    );
    let (alice, crashy) = (register(&s, "alice").await, register(&s, "crashy").await);
    assert!(module_pid(&s).await.is_some());
    std::fs::write(&marker, "").unwrap();
    assert_eq!(create_room(&s, &crashy).await.0, 500);
    let log = s.wait_for_log("isolated module stays down");
    assert!(
        log.contains(
            "isolated module stays down: it registered other callbacks or web resources than at its first start"
        ),
        "{log}"
    );
    // Down for good: its calls fail at once, with its failure policy.
    let started = Instant::now();
    assert_eq!(create_room(&s, &alice).await.0, 500);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(module_pid(&s).await, None);
}

/// What the crasher's escape attempts gave on `s`: writing `outside`, writing in its own
/// folder, connecting to the server's own port.
async fn escape(s: &ServerProcess, outside: &std::path::Path) -> Value {
    let port = s.base.rsplit(':').next().unwrap();
    let url = format!(
        "{}/_synapse/client/crasher/escape?outside={}&port={port}",
        s.base,
        outside.display()
    );
    let resp = reqwest::get(url).await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_strict_sandbox_keeps_files_in_the_modules_folder_and_denies_sockets() {
    let w = Workdir::new();
    let outside = w.path().join("escaped.txt");
    let s = server(&w, "exit", "    sandbox: strict\n");
    let got = escape(&s, &outside).await;
    assert_eq!(
        got["outside"], "error: Permission denied (os error 13)",
        "{got}"
    );
    assert_eq!(
        got["socket"], "error: Permission denied (os error 13)",
        "{got}"
    );
    assert_eq!(got["inside"], "ok", "{got}");
    assert_eq!(got["cap_eff"], "0000000000000000", "no capabilities: {got}");
    assert!(!outside.exists());
    let inside = w.path().join("data/module-files/crasher/inside.txt");
    assert!(
        inside.exists(),
        "written in its own folder: {}",
        inside.display()
    );
    assert!(s.log().contains("sandbox"), "{}", s.log());

    // The same module without the sandbox can do all three.
    let w = Workdir::new();
    let s = server(&w, "exit", "");
    let got = escape(&s, &outside).await;
    assert_eq!(
        (&got["outside"], &got["socket"], &got["inside"]),
        (&json!("ok"), &json!("ok"), &json!("ok")),
        "{got}"
    );
    // A root server's runner keeps root's capabilities without the sandbox.
    if running_as_root() {
        assert_ne!(got["cap_eff"], "0000000000000000", "{got}");
    }
}

/// Whether the tests run as root (as in CI), from /proc.
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

#[tokio::test(flavor = "multi_thread")]
async fn max_concurrent_calls_makes_further_calls_wait_their_turn() {
    let w = Workdir::new();
    let s = server(
        &w,
        "sleep",
        "    timeout_ms: 600\n    max_concurrent_calls: 1\n",
    );
    let (alice, crashy) = (register(&s, "alice").await, register(&s, "crashy").await);
    // The one slot is taken by a call that never answers (until its time limit drops it).
    let base = s.base.clone();
    let stuck = tokio::spawn(async move {
        client_call(&base, "POST", "/createRoom", Some(&crashy), Some(json!({}))).await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let (status, body) = create_room(&s, &alice).await;
    let waited = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert!(
        waited >= Duration::from_millis(300),
        "alice's call did not wait for the slot: {waited:?}"
    );
    assert_eq!(stuck.await.unwrap().0, 500, "the stuck call timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_that_block_their_thread_run_side_by_side() {
    two_blocking_calls_run_side_by_side("").await;
}

/// Two calls that each hold their thread for 1 s, at once, on a module with the entry keys
/// `extra`: both answer, in well under the 2 s they would take one after the other.
async fn two_blocking_calls_run_side_by_side(extra: &str) {
    let w = Workdir::new();
    let s = server(&w, "block", extra);
    let (a, b) = (register(&s, "crash_a").await, register(&s, "crash_b").await);
    let started = Instant::now();
    let (ra, rb) = tokio::join!(create_room(&s, &a), create_room(&s, &b));
    let took = started.elapsed();
    assert_eq!((ra.0, rb.0), (200, 200));
    assert!(
        took < Duration::from_millis(1900),
        "two 1 s calls took {took:?}: run one after the other"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runner_that_answers_nothing_is_killed_and_restarted() {
    let w = Workdir::new();
    let s = server(&w, "sleep", "    timeout_ms: 200\n");
    let crashy = register(&s, "crashy").await;
    let pid = module_pid(&s).await.unwrap();
    for _ in 0..3 {
        assert_eq!(create_room(&s, &crashy).await.0, 500);
    }
    let log = s.wait_for_log("isolated module process restarted");
    assert!(
        log.contains("isolated module process answered none of its last 3 calls; killing it"),
        "{log}"
    );
    back_in_a_new_process(&s, pid).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_busy_poll_a_crash_is_contained_and_blocking_calls_still_run_side_by_side() {
    crash_and_recover(
        "segfault",
        "    busy_poll_us: 200\n",
        "killed by signal 11 (SIGSEGV)",
    )
    .await;
    two_blocking_calls_run_side_by_side("    busy_poll_us: 200\n").await;
}

#[test]
fn a_registration_the_server_refuses_fails_the_start_as_in_process() {
    let w = Workdir::new();
    let (a, b) = (
        w.copy_module("scripted", "a"),
        w.copy_module("scripted", "b"),
    );
    let entry = |path: &std::path::Path, label: &str, fields: &str| {
        modhost_tests::scripted_entry(
            path,
            label,
            json!({ format!("auth_checker:org.example.t:{fields}"): null }),
        )
        .replace("    config:", "    isolation: process\n    config:")
    };
    let yaml = format!("modules:\n{}{}", entry(&a, "a", "x"), entry(&b, "b", "y"));
    let (code, _, err) = w.check_config(&w.config(&yaml));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("modules[1]: module 'b' (")
            && err.contains(
                "failed to start: module 'b' registers login type \"org.example.t\" with fields [\"y\"], but module 'a' registered it with fields [\"x\"]"
            ),
        "{err}"
    );
}

#[test]
fn a_runner_that_breaks_the_protocol_is_killed_with_a_log_line() {
    let w = Workdir::new();
    // Stands in for the runner: connects, then sends a frame that is not one of the protocol.
    let fake = w.path().join("fake-runner");
    std::fs::write(
        &fake,
        "#!/usr/bin/env python3\nimport socket, sys, time\ns = socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\ns.sendall(b'\\x00\\x00\\x00\\x03\\xff\\xff\\xff')\ntime.sleep(10)\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = w.config("modules:\n  - module: demo\n    isolation: process\n    config: {}\n");
    let out = std::process::Command::new(modhost_tests::modhost_bin())
        .arg("check-config")
        .arg(&config)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env("MODHOST_MODULE_RUNNER", &fake)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("isolated module process broke the protocol"),
        "{err}"
    );
    assert!(
        err.contains(
            "the module runner died before it was configured (killed by signal 9 (SIGKILL))"
        ),
        "{err}"
    );
}

#[test]
fn a_body_limit_too_large_to_cross_to_the_runner_is_refused() {
    let w = Workdir::new();
    let check = |isolation: &str| {
        let config = w.config(&format!(
            "max_module_request_body_bytes: 70000000\nmodules:\n  - module: demo\n    isolation: {isolation}\n    config: {{}}\n"
        ));
        w.check_config(&config)
    };
    let (code, _, err) = check("in_process");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = check("process");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("max_module_request_body_bytes: must be at most 62914560 (60 MiB) while a module runs with `isolation: process` (modules[0]): larger bodies cannot cross to its process"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_blocking_calls_runs_side_by_side() {
    let w = Workdir::new();
    let s = server(&w, "block", "    timeout_ms: 5000\n");
    let mut tokens = Vec::new();
    for i in 0..20 {
        tokens.push(register(&s, &format!("crash_{i}")).await);
    }
    let started = Instant::now();
    let calls = tokens.iter().map(|t| create_room(&s, t));
    let answers = futures_util::future::join_all(calls).await;
    let took = started.elapsed();
    assert!(answers.iter().all(|(status, _)| *status == 200));
    // One after the other they would take 20 s; side by side about 1 s (4 s leaves room
    // for a loaded machine).
    assert!(
        took < Duration::from_secs(4),
        "twenty 1 s calls took {took:?}: readers were added too slowly"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_body_crosses_within_a_memory_limit_and_its_memory_is_given_back() {
    let w = Workdir::new();
    let config = w.config(
        "max_module_request_body_bytes: 41943040\nmodules:\n  - module: crasher\n    isolation: process\n    memory_limit_mb: 512\n    timeout_ms: 30000\n    config: {mode: exit}\n",
    );
    let s = ServerProcess::start(&w, &config);
    let pid = module_pid(&s).await.unwrap();
    let client = reqwest::Client::new();
    for _ in 0..2 {
        let resp = client
            .post(format!("{}/_synapse/client/crasher/ping", s.base))
            .body(vec![b'x'; 40 << 20])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{}", s.log());
    }
    assert_eq!(
        module_pid(&s).await,
        Some(pid),
        "the runner lived through both"
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let peak = status
        .lines()
        .find(|l| l.starts_with("VmPeak:"))
        .unwrap_or("");
    eprintln!("runner after two 40 MiB bodies: VmRSS {rss_kb} kB, {peak}");
    assert!(
        rss_kb < 40 << 10,
        "the runner kept {rss_kb} kB after the requests"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_isolated_modules_background_tasks_are_listed_and_stopped_by_name() {
    let w = Workdir::new();
    let lib = w.copy_module("scripted", "a");
    let modules = format!(
        "modules:\n  - module: {}\n    isolation: process\n    config: {{label: a, loop_ms: 100000, answers: {{}}}}\n",
        lib.display()
    );
    // Admin names are reserved: register root first, then name it admin.
    let root = {
        let first = ServerProcess::start(
            &w,
            &w.config(&format!("enable_registration: true\n{modules}")),
        );
        register(&first, "root").await
    };
    let config = w.config(&format!("admin_users: [\"@root:test.local\"]\n{modules}"));
    let mut s = ServerProcess::start(&w, &config);
    let resp = reqwest::Client::new()
        .get(format!("{}/_synapse/admin/v1/modules", s.base))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let report: Value = resp.json().await.unwrap();
    let tasks = &report["modules"][0]["background_tasks"];
    assert!(
        tasks.as_array().unwrap().contains(&json!("ticker")),
        "{report}"
    );
    assert_eq!(s.terminate(), Some(0), "{}", s.log());
    let log = s.log();
    assert!(
        log.contains("stopped module background task module=a task=ticker"),
        "{log}"
    );
}
