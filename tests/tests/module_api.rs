//! The module API behind `HostApi::call` (the start of issue 4): each host service as a module
//! sees it, through the `scripted` fixture's host-call resource.

use std::time::Duration;

use modhost_tests::{TestServer, Workdir};
use serde_json::{json, Value};

async fn host(s: &TestServer, method: &str, args: Value) -> Value {
    let resp = reqwest::Client::new()
        .post(format!("{}/_synapse/client/scripted/a/host", s.base))
        .json(&json!({"method": method, "args": args}))
        .send()
        .await
        .unwrap();
    resp.json().await.unwrap()
}

async fn server(w: &Workdir, extra_modules: &str) -> TestServer {
    let lib = w.copy_module("scripted", "a");
    let config = w.config(&format!(
        "enable_registration: true\nmodules:\n  - module: {}\n    config: {{label: a, host_calls: true, answers: {{}}}}\n{extra_modules}",
        lib.display()
    ));
    TestServer::start(&config).await
}

#[tokio::test(flavor = "multi_thread")]
async fn identity_services_answer_for_local_users() {
    let w = Workdir::new();
    let s = server(&w, "").await;
    s.register("alice").await;
    assert_eq!(
        host(&s, "check_user_exists", json!(["@alice:test.local"])).await,
        json!({"ok": "@alice:test.local"})
    );
    assert_eq!(
        host(&s, "check_user_exists", json!(["@nobody:test.local"])).await,
        json!({"ok": null})
    );
    assert_eq!(
        host(&s, "is_user_admin", json!(["@alice:test.local"])).await,
        json!({"ok": false})
    );
    assert_eq!(
        host(&s, "register_user", json!(["bob", "Bobberino"])).await,
        json!({"ok": "@bob:test.local"})
    );
    let (_, name) = s
        .call(
            "GET",
            "/_matrix/client/v3/profile/@bob:test.local/displayname",
            None,
            None,
        )
        .await;
    assert_eq!(name, json!({"displayname": "Bobberino"}));
    assert_eq!(
        host(&s, "register_user", json!(["bob"])).await,
        json!({"error": "User ID already taken.", "errcode": "M_USER_IN_USE", "status": 400})
    );
    assert_eq!(
        host(&s, "teleport_user", json!([])).await,
        json!({"error": "the host (plugin-sdk 1.1.0) does not support teleport_user"}),
        "an unknown host method is reported, not crashed on"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn room_services_act_with_the_usual_checks() {
    let w = Workdir::new();
    let s = server(&w, "").await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.create_room(json!({"room_alias_name": "svc"})).await;
    assert_eq!(
        host(&s, "lookup_room_alias", json!(["#svc:test.local"])).await,
        json!({"ok": room})
    );

    let invited = host(
        &s,
        "update_room_membership",
        json!([alice.user_id, bob.user_id, room, "invite"]),
    )
    .await;
    assert!(
        invited["ok"].as_str().is_some_and(|id| id.starts_with('$')),
        "{invited}"
    );
    assert_eq!(
        host(
            &s,
            "update_room_membership",
            json!(["@mallory:test.local", "@mallory:test.local", room, "join"]),
        )
        .await,
        json!({"error": "sender @mallory:test.local is not registered"})
    );
    s.register("mallory").await;
    let stranger = host(
        &s,
        "update_room_membership",
        json!(["@mallory:test.local", "@mallory:test.local", room, "join"]),
    )
    .await;
    assert_eq!(
        stranger,
        json!({"error": "You are not invited to this room.", "errcode": "M_FORBIDDEN", "status": 403})
    );
    let remote = host(
        &s,
        "update_room_membership",
        json!(["@x:elsewhere.org", bob.user_id, room, "invite"]),
    )
    .await;
    assert!(
        remote["error"]
            .as_str()
            .unwrap()
            .contains("is not a local user"),
        "{remote}"
    );

    let sent = host(&s, "create_and_send_event_into_room", json!([{"room_id": room, "sender": alice.user_id, "type": "m.room.message", "content": {"msgtype": "m.text", "body": "from a module"}}])).await;
    assert_eq!(sent["ok"]["content"]["body"], "from a module", "{sent}");
    let member = host(&s, "create_and_send_event_into_room", json!([{"room_id": room, "sender": alice.user_id, "type": "m.room.member", "state_key": alice.user_id, "content": {}}])).await;
    assert!(
        member["error"].as_str().is_some(),
        "membership events go through update_room_membership"
    );

    let state = host(&s, "get_room_state", json!([room])).await;
    let types: Vec<&str> = state["ok"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(
        types.contains(&"m.room.create") && types.contains(&"m.room.canonical_alias"),
        "{types:?}"
    );
    let (_, messages) = bob
        .call("GET", &format!("/rooms/{room}/messages"), None)
        .await;
    assert_eq!(messages["errcode"], "M_FORBIDDEN", "bob is only invited");
}

#[tokio::test(flavor = "multi_thread")]
async fn looping_and_delayed_calls_run_on_the_hosts_clock() {
    let w = Workdir::new();
    let lib = w.copy_module("scripted", "a");
    let config = w.config(&format!(
        "modules:\n  - module: {}\n    config: {{label: a, loop_ms: 200, answers: {{}}}}\n",
        lib.display()
    ));
    let s = TestServer::start(&config).await;
    let ticks = |names: &[String]| names.iter().filter(|n| *n == "tick").count();
    // Measured between two readings, so a slow start-up on a busy machine does not count.
    let before = s.call_names("a").await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let names = s.call_names("a").await;
    let during = ticks(&names) - ticks(&before);
    assert!(
        (3..=7).contains(&during),
        "about one tick per 200 ms: {during} in 1 s ({names:?})"
    );
    assert_eq!(
        names.iter().filter(|n| *n == "delayed").count(),
        1,
        "{names:?}"
    );
}
