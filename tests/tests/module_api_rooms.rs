//! Module API room, account data and presence services (issue 4; Synapse scenarios M5, M8,
//! M14, M17), through the `scripted` fixture's host-call resource.

use std::time::Duration;

use modhost_tests::{TestServer, Workdir};
use serde_json::json;

async fn server(w: &Workdir, answers: &str) -> TestServer {
    let lib = w.copy_module("scripted", "a");
    let config = w.config(&format!(
        "enable_registration: true\nmodules:\n  - module: {}\n    config: {{label: a, host_calls: true, answers: {{{answers}}}}}\n",
        lib.display()
    ));
    TestServer::start(&config).await
}

#[tokio::test(flavor = "multi_thread")]
async fn create_room_for_a_local_user_with_and_without_alias() {
    let w = Workdir::new();
    let s = server(&w, "user_may_create_room: not_spam").await;
    let alice = s.register("alice").await;
    let made = s
        .host_call(
            "a",
            "create_room",
            json!([alice.user_id, {"room_alias_name": "foo-bar", "name": "Made by a module"}]),
        )
        .await;
    let room = made["ok"]["room_id"].as_str().expect("room id").to_string();
    assert_eq!(made["ok"]["room_alias"], "#foo-bar:test.local");
    let plain = s
        .host_call("a", "create_room", json!([alice.user_id, {}]))
        .await;
    assert!(plain["ok"]["room_alias"].is_null(), "{plain}");
    assert_eq!(
        s.host_call("a", "create_room", json!(["@bob:elsewhere.org", {}]))
            .await,
        json!({"error": "user @bob:elsewhere.org is not a local user"})
    );
    // The usual module checks ran for the module's request.
    let calls = s.calls("a").await;
    assert!(
        calls.iter().any(|c| c["callback"] == "user_may_create_room"
            && c["args"][0].to_string().contains(&alice.user_id)),
        "{calls:?}"
    );
    // The creator is joined and the room is named.
    let (status, name) = alice
        .call("GET", &format!("/rooms/{room}/state/m.room.name/"), None)
        .await;
    assert_eq!(
        (status, name["name"].clone()),
        (200, json!("Made by a module"))
    );
    assert_eq!(
        s.host_call("a", "get_canonical_room_alias", json!([room]))
            .await,
        json!({"ok": "#foo-bar:test.local"})
    );
    assert_eq!(
        s.host_call(
            "a",
            "get_canonical_room_alias",
            json!([plain["ok"]["room_id"]])
        )
        .await,
        json!({"ok": null})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn module_room_creation_is_refused_like_a_clients() {
    let w = Workdir::new();
    let s = server(&w, "user_may_create_room: {deny: M_FORBIDDEN}").await;
    let alice = s.register("alice").await;
    assert_eq!(
        s.host_call("a", "create_room", json!([alice.user_id, {}]))
            .await,
        json!({"error": "You are not permitted to create rooms", "errcode": "M_FORBIDDEN", "status": 403})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn public_room_list_add_check_remove() {
    let w = Workdir::new();
    let s = server(&w, "").await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let contains = || s.host_call("a", "public_room_list_contains", json!([room]));
    assert_eq!(contains().await, json!({"ok": false}));
    s.host_call("a", "public_room_list_add", json!([room]))
        .await;
    assert_eq!(contains().await, json!({"ok": true}));
    let (_, listed) = s
        .call("GET", "/_matrix/client/v3/publicRooms", None, None)
        .await;
    assert!(listed.to_string().contains(&room), "{listed}");
    s.host_call("a", "public_room_list_remove", json!([room]))
        .await;
    assert_eq!(contains().await, json!({"ok": false}));
    let unknown = s
        .host_call("a", "public_room_list_add", json!(["!nope:test.local"]))
        .await;
    assert_eq!(unknown["errcode"], "M_NOT_FOUND", "{unknown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_room_asks_check_can_shutdown_room_without_requester() {
    let w = Workdir::new();
    let s = server(&w, "check_can_shutdown_room: true").await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let deleted = s.host_call("a", "delete_room", json!([room])).await;
    assert_eq!(deleted, json!({"ok": [alice.user_id]}));
    let asked = s
        .calls("a")
        .await
        .into_iter()
        .find(|c| c["callback"] == "check_can_shutdown_room")
        .expect("asked");
    assert_eq!(asked["args"], json!([null, room]));
    let (status, _) = alice
        .call("GET", &format!("/rooms/{room}/messages"), None)
        .await;
    assert_eq!(status, 403, "alice was removed");

    let s2 = {
        drop(s);
        let w2 = Workdir::new();
        let s2 = server(&w2, "check_can_shutdown_room: false").await;
        (w2, s2)
    };
    let (_w2, s2) = s2;
    let bob = s2.register("bob").await;
    let room = bob.create_room(json!({})).await;
    let refused = s2.host_call("a", "delete_room", json!([room])).await;
    assert_eq!(refused["errcode"], "M_FORBIDDEN", "{refused}");
}

#[tokio::test(flavor = "multi_thread")]
async fn account_data_manager_round_trips_for_local_users_only() {
    let w = Workdir::new();
    let s = server(&w, "on_account_data_updated: null").await;
    let alice = s.register("alice").await;
    assert_eq!(
        s.host_call(
            "a",
            "account_data_get_global",
            json!([alice.user_id, "org.example.x"])
        )
        .await,
        json!({"ok": null})
    );
    assert_eq!(
        s.host_call(
            "a",
            "account_data_put_global",
            json!([alice.user_id, "org.example.x", {"a": 1}])
        )
        .await,
        json!({"ok": null})
    );
    assert_eq!(
        s.host_call(
            "a",
            "account_data_get_global",
            json!([alice.user_id, "org.example.x"])
        )
        .await,
        json!({"ok": {"a": 1}})
    );
    // Clients see it; the account data callback fired.
    let (_, seen) = alice
        .call(
            "GET",
            "/user/@alice:test.local/account_data/org.example.x",
            None,
        )
        .await;
    assert_eq!(seen, json!({"a": 1}));
    assert!(s
        .calls("a")
        .await
        .iter()
        .any(|c| c["callback"] == "on_account_data_updated" && c["args"][2] == "org.example.x"));

    for (user, error) in [
        ("not-an-id", "\"not-an-id\" is not a valid user ID"),
        (
            "@bob:elsewhere.org",
            "Trying to get account data for a non-local user @bob:elsewhere.org",
        ),
        (
            "@ghost:test.local",
            "Trying to get account data for a user that does not exist: @ghost:test.local",
        ),
    ] {
        assert_eq!(
            s.host_call("a", "account_data_get_global", json!([user, "t"]))
                .await,
            json!({ "error": error })
        );
    }
    assert_eq!(
        s.host_call(
            "a",
            "account_data_put_global",
            json!([alice.user_id, "t", [1, 2]])
        )
        .await,
        json!({"error": "account data content must be a JSON object"})
    );
    assert_eq!(
        s.host_call(
            "a",
            "account_data_put_global",
            json!([alice.user_id, 7, {}])
        )
        .await,
        json!({"error": "argument 1 (type) must be a string"})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn presence_set_by_a_module_and_pushed_to_a_user() {
    let w = Workdir::new();
    let s = server(&w, "").await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let carol = s.register("carol").await;
    // bob and carol share no room with alice.
    let (_, first) = carol.call("GET", "/sync?timeout=0", None).await;
    let since = first["next_batch"].as_str().unwrap().to_string();
    assert_eq!(
        s.host_call(
            "a",
            "set_presence_for_users",
            json!([{ "@alice:test.local": {"presence": "online", "status_msg": "here"}, "@bob:test.local": {"presence": "offline"} }])
        )
        .await,
        json!({"ok": null})
    );
    let (_, status) = alice
        .call("GET", "/presence/@alice:test.local/status", None)
        .await;
    assert_eq!(
        (status["presence"].clone(), status["status_msg"].clone()),
        (json!("online"), json!("here"))
    );
    let (_, plain) = carol
        .call("GET", &format!("/sync?timeout=0&since={since}"), None)
        .await;
    assert!(
        plain["presence"]["events"]
            .as_array()
            .is_none_or(|e| e.is_empty()),
        "carol shares no room with alice: {plain}"
    );
    let since = plain["next_batch"].as_str().unwrap().to_string();
    assert_eq!(
        s.host_call(
            "a",
            "send_local_online_presence_to",
            json!([[carol.user_id]])
        )
        .await,
        json!({"ok": null})
    );
    let (_, pushed) = carol
        .call("GET", &format!("/sync?timeout=2000&since={since}"), None)
        .await;
    let senders: Vec<&str> = pushed["presence"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["sender"].as_str())
        .collect();
    assert_eq!(
        senders,
        ["@alice:test.local"],
        "online users only: {pushed}"
    );
    let since = pushed["next_batch"].as_str().unwrap().to_string();
    let (_, after) = carol
        .call("GET", &format!("/sync?timeout=0&since={since}"), None)
        .await;
    assert!(
        after["presence"]["events"]
            .as_array()
            .is_none_or(|e| e.is_empty()),
        "sent once: {after}"
    );
    let _ = bob;
    assert_eq!(
        s.host_call(
            "a",
            "set_presence_for_users",
            json!([{ "@x:elsewhere.org": {"presence": "online"} }])
        )
        .await,
        json!({"error": "user @x:elsewhere.org is not a local user"})
    );
    tokio::time::sleep(Duration::from_millis(1)).await;
}
