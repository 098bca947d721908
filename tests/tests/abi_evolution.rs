//! ABI evolution (issue 5): a module built against the frozen plugin-sdk 1.0.0 loads and
//! works in today's host, and a module built against a newer 1.y SDK loads too, keeps what
//! the host knows working, and degrades where the host lacks something (an unknown callback
//! is ignored with a warning; an unknown host service is an error the module can handle).

use modhost_tests::evolution::{next_module_lib, old_module_lib, sdk_versions};
use modhost_tests::{ServerProcess, TestServer, Workdir};
use serde_json::json;

fn config(w: &Workdir) -> std::path::PathBuf {
    w.config(&format!(
        "enable_registration: true\nmodules:\n  - module: {}\n    config: {{denied: \"@mallory:test.local\"}}\n  - module: {}\n",
        old_module_lib().display(),
        next_module_lib().display()
    ))
}

#[test]
fn both_load_and_report_the_sdk_they_were_built_with() {
    let w = Workdir::new();
    let (current, next) = sdk_versions();
    let (code, out, err) = w.check_config(&config(&w));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("old_module 0.1.0 (plugin-sdk 1.0.0): spam_checker.user_may_create_room, web resource /_synapse/client/old_module/exists"),
        "{out}"
    );
    assert!(
        out.contains(&format!("next_module 0.1.0 (plugin-sdk {next}): spam_checker.user_may_invite, web resource /_synapse/client/next_module/teleport")),
        "the unknown callback is not listed: {out}"
    );
    let mut server = ServerProcess::start(&w, &config(&w));
    let log = server.wait_for_log("listening");
    assert!(
        log.contains(&format!(
            "module 'next_module' registered callback spam_checker.user_may_teleport, which this host (plugin-sdk {current}) does not know; it is ignored"
        )),
        "{log}"
    );
    assert!(server.is_running());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_old_module_works_in_a_newer_host() {
    let w = Workdir::new();
    let s = TestServer::start(&config(&w)).await;
    let (current, _) = sdk_versions();
    let alice = s.register("alice").await;
    let mallory = s.register("mallory").await;
    assert_eq!(
        alice.call("POST", "/createRoom", Some(json!({}))).await.0,
        200
    );
    let (status, body) = mallory.call("POST", "/createRoom", Some(json!({}))).await;
    assert_eq!(
        (status, body["errcode"].clone()),
        (403, json!("M_FORBIDDEN"))
    );
    let (status, body) = s
        .get("/_synapse/client/old_module/exists?user=@alice:test.local")
        .await;
    assert_eq!(
        (status, body),
        (200, json!({"exists": true, "sdk": current})),
        "a host service from 1.0.0 still answers"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_newer_module_degrades_where_the_host_lacks_something() {
    let w = Workdir::new();
    let s = TestServer::start(&config(&w)).await;
    let (current, _) = sdk_versions();
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let (status, _) = alice
        .call(
            "POST",
            &format!("/rooms/{room}/invite"),
            Some(json!({"user_id": "@nobody:test.local"})),
        )
        .await;
    assert_eq!(status, 403, "the callbacks this host knows work");
    let (status, body) = s.get("/_synapse/client/next_module/teleport").await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"fallback": format!("the host (plugin-sdk {current}) does not support teleport_user")})
        )
    );
}
