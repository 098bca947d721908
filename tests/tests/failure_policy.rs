//! A failing module — error, panic anywhere, hang — never takes the server down; each
//! failure becomes the callback's documented outcome (spec §1.7) and is logged with the
//! module's name.

use std::time::{Duration, Instant};

use modhost::CallbackError;
use modhost_tests::{scripted_server, ServerProcess, TestServer, Workdir};
use plugin_sdk::{InterestedUsers, SpamCheck};
use serde_json::{json, Map, Value};

async fn chain(w: &Workdir, extra: &str, modules: &[(&str, Value)]) -> TestServer {
    scripted_server(w, extra, modules).await
}

fn failed(err: CallbackError) -> (String, &'static str, String) {
    match err {
        CallbackError::Failed {
            module,
            callback,
            reason,
        } => (module, callback, reason),
        other => panic!("expected a module failure, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spam_checker_error_fails_the_request_and_stops_the_chain() {
    let w = Workdir::new();
    let s = chain(
        &w,
        "",
        &[
            ("a", json!({"user_may_create_room": "error"})),
            ("b", json!({"user_may_create_room": "not_spam"})),
        ],
    )
    .await;
    let err = s
        .registry
        .user_may_create_room("@u:test.local", "{}")
        .await
        .unwrap_err();
    assert_eq!(
        failed(err),
        (
            "a".to_string(),
            "user_may_create_room",
            "returned an error: scripted error in user_may_create_room".to_string()
        )
    );
    assert!(s.call_names("b").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_callback_is_contained_with_its_message_and_location() {
    let w = Workdir::new();
    let s = chain(&w, "", &[("a", json!({"user_may_create_room": "panic"}))]).await;
    let (module, _, reason) = failed(
        s.registry
            .user_may_create_room("@u:test.local", "{}")
            .await
            .unwrap_err(),
    );
    assert_eq!(module, "a");
    assert!(
        reason.starts_with(
            "panicked: scripted panic in user_may_create_room (a) at scripted/src/lib.rs:"
        ),
        "{reason}"
    );
    // The same module keeps serving afterwards.
    assert_eq!(s.call_names("a").await, ["user_may_create_room"]);
    assert!(s
        .registry
        .user_may_create_room("@u:test.local", "{}")
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn panics_before_and_inside_the_callback_future_are_both_contained() {
    for (mode, text) in [
        ("callback", "boom in callback for @u:test.local"),
        ("callback_sync", "boom before the future"),
    ] {
        let w = Workdir::new();
        let config = w.config(&format!(
            "modules:\n  - module: panicky\n    config: {{panic_in: {mode}}}\n"
        ));
        let s = TestServer::start(&config).await;
        let (module, callback, reason) = failed(
            s.registry
                .user_may_create_room("@u:test.local", "{}")
                .await
                .unwrap_err(),
        );
        assert_eq!(
            (module.as_str(), callback),
            ("panicky", "user_may_create_room")
        );
        assert!(
            reason.starts_with(&format!("panicked: {text} at panicky/src/lib.rs:")),
            "{reason}"
        );
        assert_eq!(
            s.get("/_synapse/client/panicky").await.0,
            200,
            "server still serves after {mode}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_callback_times_out_within_the_limit() {
    let w = Workdir::new();
    let s = chain(
        &w,
        "module_callback_timeout_ms: 300\n",
        &[("a", json!({"user_may_create_room": "hang"}))],
    )
    .await;
    let started = Instant::now();
    let (_, _, reason) = failed(
        s.registry
            .user_may_create_room("@u:test.local", "{}")
            .await
            .unwrap_err(),
    );
    let took = started.elapsed();
    assert_eq!(reason, "timed out");
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_millis(1300),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_event_allowed_passes_a_modules_matrix_error_through_verbatim() {
    let w = Workdir::new();
    let s = chain(
        &w,
        "",
        &[(
            "a",
            json!({"check_event_allowed": {"matrix": [429, "M_UNKNOWN", "message"]}}),
        )],
    )
    .await;
    match s
        .registry
        .check_event_allowed(r#"{"type":"m.room.message"}"#, "[]")
        .await
    {
        Err(CallbackError::Matrix(m)) => {
            assert_eq!(
                (m.status, m.errcode.as_str(), m.error.as_str()),
                (429, "M_UNKNOWN", "message")
            );
            assert_eq!(Value::Object(m.fields), json!({"from": "a"}));
        }
        other => panic!("{other:?}"),
    }
    // Elsewhere a Matrix error is just a failure: spam checkers do not honour it.
    let w = Workdir::new();
    let s = chain(
        &w,
        "",
        &[(
            "a",
            json!({"user_may_invite": {"matrix": [429, "M_UNKNOWN", "message"]}}),
        )],
    )
    .await;
    assert!(matches!(
        s.registry.user_may_invite("@a:x", "@b:x", "!r:x").await,
        Err(CallbackError::Failed { .. })
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn on_create_room_failures_become_403_unless_the_module_chose_the_error() {
    let w = Workdir::new();
    let s = chain(&w, "", &[("a", json!({"on_create_room": "panic"}))]).await;
    assert_eq!(
        s.registry
            .on_create_room("@u:test.local", json!({}), false)
            .await,
        Err(CallbackError::matrix(
            403,
            "M_FORBIDDEN",
            "Room creation forbidden with these parameters"
        ))
    );
    let w = Workdir::new();
    let s = chain(
        &w,
        "",
        &[(
            "a",
            json!({"on_create_room": {"matrix": [400, "M_BAD_JSON", "no presets"]}}),
        )],
    )
    .await;
    match s
        .registry
        .on_create_room("@u:test.local", json!({}), false)
        .await
    {
        Err(CallbackError::Matrix(m)) => {
            assert_eq!((m.status, m.errcode.as_str()), (400, "M_BAD_JSON"))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn skip_policies_ignore_the_failing_module() {
    let w = Workdir::new();
    let s = chain(&w, "", &[
        ("a", json!({"get_interested_users": "panic", "get_users_for_states": "error", "auth_checker:org.example.t:t": "error"})),
        ("b", json!({"get_interested_users": ["@y:test.local"], "get_users_for_states": {}, "auth_checker:org.example.t:t": "@bob:test.local"})),
    ])
    .await;
    assert_eq!(
        s.registry.get_interested_users("@me:test.local").await,
        InterestedUsers::Users(vec!["@y:test.local".into()])
    );
    let merged = s
        .registry
        .get_users_for_states(&[json!({"user_id": "@p:test.local"})])
        .await;
    assert!(
        merged.is_empty(),
        "a's failure is skipped, b routes nothing: {merged:?}"
    );
    assert_eq!(
        s.call_names("b").await,
        ["get_interested_users", "get_users_for_states"]
    );
    let sub: Map<String, Value> = json!({"t": "1"}).as_object().unwrap().clone();
    let outcome = s
        .registry
        .check_auth("bob", "org.example.t", &sub)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        outcome.user_id, "@bob:test.local",
        "a failing checker counts as no opinion"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn propagate_policies_fail_media_and_validity_checks() {
    let w = Workdir::new();
    let s = chain(
        &w,
        "",
        &[(
            "a",
            json!({"is_user_allowed_to_upload_media_of_size": "error", "is_user_expired": "panic"}),
        )],
    )
    .await;
    assert!(s
        .registry
        .is_user_allowed_to_upload_media_of_size("@u:test.local", 10)
        .await
        .is_err());
    assert!(s.registry.is_user_expired("@u:test.local").await.is_err());
    // A module with no opinion leaves the defaults.
    let w = Workdir::new();
    let s = chain(&w, "", &[("a", json!({"user_may_join_room": "not_spam"}))]).await;
    assert_eq!(s.registry.is_user_expired("@u:test.local").await, Ok(None));
    assert_eq!(
        s.registry.user_may_join_room("@u:x", "!r:x", false).await,
        Ok(SpamCheck::NotSpam)
    );
}

#[test]
fn web_handler_and_background_task_panics_are_logged_and_the_server_keeps_serving() {
    let w = Workdir::new();
    let web = ServerProcess::start(
        &w,
        &w.config("modules:\n  - module: panicky\n    config: {panic_in: web}\n  - module: demo\n"),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (status, body) = rt.block_on(async {
        let r = reqwest::get(format!("{}/_synapse/client/panicky", web.base))
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    });
    assert_eq!(status, 500);
    assert_eq!(
        body,
        json!({"errcode": "M_UNKNOWN", "error": "Internal server error"})
    );
    let log = web.wait_for_log("module web resource failed");
    assert!(
        log.contains(
            "module web resource failed: panicked: boom in web handler at panicky/src/lib.rs:"
        ),
        "{log}"
    );
    assert!(
        log.contains("module=panicky path=/_synapse/client/panicky"),
        "{log}"
    );
    let hello = rt.block_on(async {
        reqwest::get(format!(
            "{}/_synapse/client/demo/hello?name=still",
            web.base
        ))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
    });
    assert_eq!(hello, json!({"hello": "still"}));
    drop(web);

    let w = Workdir::new();
    let mut task = ServerProcess::start(
        &w,
        &w.config("modules:\n  - module: panicky\n    config: {panic_in: task}\n"),
    );
    let log = task.wait_for_log("background task failed");
    assert!(
        log.contains("background task failed: panicked: boom in task at panicky/src/lib.rs:"),
        "{log}"
    );
    assert!(log.contains("module=\"panicky\""), "{log}");
    assert!(task.is_running());
    let status = rt.block_on(async {
        reqwest::get(format!("{}/_synapse/client/panicky", task.base))
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 200);
}
