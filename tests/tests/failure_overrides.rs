//! Per-module failure handling (issue 5): `on_failure:` turns a failing verdict callback
//! into "allowed" or "denied" instead of a 500, `timeout_ms:` gives one module its own time
//! limit, and a module that keeps failing is reported in the metrics and the log (never
//! skipped on its own).

use std::time::{Duration, Instant};

use modhost_tests::{scripted_entry, ServerProcess, TestServer, Workdir};
use plugin_sdk::SpamCheck;
use serde_json::json;

/// A server with scripted modules `(label, answers, extra entry keys)`.
async fn server(
    w: &Workdir,
    extra: &str,
    modules: &[(&str, serde_json::Value, &str)],
) -> TestServer {
    let mut yaml = format!("enable_registration: true\n{extra}modules:\n");
    for (label, answers, keys) in modules {
        yaml.push_str(&scripted_entry(
            &w.copy_module("scripted", label),
            label,
            answers.clone(),
        ));
        yaml.push_str(keys);
    }
    TestServer::start(&w.config(&yaml)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn on_failure_allow_fails_open_and_deny_fails_closed() {
    let w = Workdir::new();
    let s = server(
        &w,
        "",
        &[
            (
                "open",
                json!({"user_may_create_room": "error", "user_may_invite": "panic"}),
                "    on_failure: allow\n",
            ),
            (
                "next",
                json!({"user_may_create_room": "not_spam", "user_may_invite": "not_spam"}),
                "",
            ),
        ],
    )
    .await;
    assert_eq!(
        s.registry.user_may_create_room("@u:test.local", "{}").await,
        Ok(SpamCheck::NotSpam),
        "the failure counts as allowed"
    );
    assert_eq!(
        s.call_names("next").await,
        ["user_may_create_room"],
        "and the next module is asked"
    );
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let (status, _) = alice
        .call(
            "POST",
            &format!("/rooms/{room}/invite"),
            Some(json!({"user_id": "@bob:test.local"})),
        )
        .await;
    assert_eq!(status, 200, "a panicking check fails open too");

    let w2 = Workdir::new();
    let closed = server(
        &w2,
        "",
        &[(
            "closed",
            json!({"user_may_create_room": "hang"}),
            "    on_failure: deny\n    timeout_ms: 200\n",
        )],
    )
    .await;
    let carol = closed.register("carol").await;
    let started = Instant::now();
    let (status, body) = carol.call("POST", "/createRoom", Some(json!({}))).await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"errcode": "M_FORBIDDEN", "error": "You are not permitted to create rooms"})
        )
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_millis(1500),
        "the module's own 200 ms limit, not the server's 2 s: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn default_policy_still_answers_500() {
    let w = Workdir::new();
    let s = server(
        &w,
        "",
        &[(
            "a",
            json!({"user_may_create_room": "error"}),
            "    on_failure: default\n",
        )],
    )
    .await;
    let alice = s.register("alice").await;
    let (status, body) = alice.call("POST", "/createRoom", Some(json!({}))).await;
    assert_eq!(status, 500, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_impossible_allocation_is_contained_and_the_server_serves_on() {
    let w = Workdir::new();
    let s = server(
        &w,
        "",
        &[("greedy", json!({"user_may_create_room": "alloc"}), "")],
    )
    .await;
    let err = s
        .registry
        .user_may_create_room("@u:test.local", "{}")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("capacity overflow"), "{err}");
    let alice = s.register("alice").await;
    let (status, body) = alice.call("POST", "/createRoom", Some(json!({}))).await;
    assert_eq!((status, body["errcode"].clone()), (500, json!("M_UNKNOWN")));
    let (status, _) = alice.call("GET", "/account/whoami", None).await;
    assert_eq!(status, 200, "the server serves on");
}

#[test]
fn bad_overrides_are_config_errors() {
    let w = Workdir::new();
    let lib = w.copy_module("scripted", "a");
    let config = w.config(&format!(
        "modules:\n  - module: {}\n    config: {{label: a}}\n    on_failure: maybe\n    timeout_ms: 0\n",
        lib.display()
    ));
    let (code, _, stderr) = w.check_config(&config);
    assert_ne!(code, 0);
    assert!(
        stderr.contains(
            "modules[0].on_failure: expected default, allow (fail open) or deny (fail closed)"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("modules[0].timeout_ms: expected a number of milliseconds greater than 0"),
        "{stderr}"
    );
}

#[test]
fn a_module_that_keeps_failing_is_reported() {
    let w = Workdir::new();
    let lib = w.copy_module("scripted", "flaky");
    let config = w.config(&format!(
        "enable_registration: true\nmodules:\n{}    on_failure: allow\n",
        scripted_entry(&lib, "flaky", json!({"user_may_create_room": "error"}))
    ));
    let server = ServerProcess::start(&w, &config);
    let http = reqwest::blocking_client();
    let token = http.register(&server.base, "alice");
    for _ in 0..10 {
        let status = http.create_room(&server.base, &token);
        assert_eq!(status, 200, "fail-open keeps serving");
    }
    let log = server.wait_for_log("keeps failing");
    assert!(
        log.contains("module callback keeps failing: 10 failures in a row")
            && log.contains("module=flaky"),
        "{log}"
    );
    let metrics = http.get_text(&format!("{}/_modhost/metrics", server.base));
    assert!(
        metrics.contains(
            "modhost_module_callback_consecutive_failures{module=\"flaky\",category=\"spam_checker\",callback=\"user_may_create_room\"} 10"
        ),
        "{metrics}"
    );
}

/// A tiny blocking client for tests that run the server as a process.
mod reqwest {
    use serde_json::{json, Value};

    pub struct Blocking;

    pub fn blocking_client() -> Blocking {
        Blocking
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    impl Blocking {
        pub fn register(&self, base: &str, user: &str) -> String {
            run(async {
                let body: Value = ::reqwest::Client::new()
                    .post(format!("{base}/_matrix/client/v3/register"))
                    .json(&json!({"username": user, "password": "pw", "auth": {"type": "m.login.dummy"}}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                body["access_token"].as_str().unwrap().to_string()
            })
        }

        pub fn create_room(&self, base: &str, token: &str) -> u16 {
            run(async {
                ::reqwest::Client::new()
                    .post(format!("{base}/_matrix/client/v3/createRoom"))
                    .bearer_auth(token)
                    .json(&json!({}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        }

        pub fn get_text(&self, url: &str) -> String {
            run(async { ::reqwest::get(url).await.unwrap().text().await.unwrap() })
        }
    }
}
