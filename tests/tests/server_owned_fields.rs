//! The server's own `unsigned` fields: `transaction_id` reaches exactly the device that sent
//! the event (client-server spec v1.12 §"Transaction identifiers"), a state event carries
//! `replaces_state` / `prev_content` / `prev_sender` of the state it replaced, and a module's
//! `add_field_to_unsigned` can never set a server-owned key — it is dropped and the module
//! named in a warning, once.

use modhost_tests::{scripted_entry, ServerProcess, Workdir};
use serde_json::{json, Value};

use modhost_tests::client_call as call;

/// Register `name` (device A) and log in again (device B): the two tokens.
async fn two_devices(base: &str, name: &str) -> (String, String) {
    let body = json!({"username": name, "password": "pw", "auth": {"type": "m.login.dummy"}});
    let (status, a) = call(base, "POST", "/register", None, Some(body)).await;
    assert_eq!(status, 200, "{a}");
    let login = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": name}, "password": "pw"});
    let (_, b) = call(base, "POST", "/login", None, Some(login)).await;
    let token = |v: &Value| v["access_token"].as_str().unwrap().to_string();
    (token(&a), token(&b))
}

/// The `unsigned` of `event_id` in `token`'s initial /sync timeline of `room`.
async fn synced_unsigned(base: &str, token: &str, room: &str, event_id: &str) -> Value {
    let (_, sync) = call(base, "GET", "/sync", Some(token), None).await;
    let timeline = &sync["rooms"]["join"][room]["timeline"]["events"];
    let event = timeline
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_id"] == event_id);
    event.unwrap_or_else(|| panic!("{event_id} not in {timeline}"))["unsigned"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn transaction_ids_reach_the_sending_device_and_modules_cannot_forge_server_fields() {
    let w = Workdir::new();
    let lib = w.copy_module("scripted", "forger");
    let answers = json!({"add_field_to_unsigned": {"transaction_id": "forged", "age": -1, "m.relations": {}, "note": "kept"}});
    let config = w.config(&format!(
        "enable_registration: true\nmodules:\n{}",
        scripted_entry(&lib, "forger", answers)
    ));
    let server = ServerProcess::start(&w, &config);
    let base = server.base.clone();
    let (alice_a, alice_b) = two_devices(&base, "alice").await;
    let (bob, _) = two_devices(&base, "bob").await;
    let (_, created) = call(
        &base,
        "POST",
        "/createRoom",
        Some(&alice_a),
        Some(json!({"preset": "public_chat"})),
    )
    .await;
    let room = created["room_id"].as_str().unwrap().to_string();
    call(
        &base,
        "POST",
        &format!("/join/{room}"),
        Some(&bob),
        Some(json!({})),
    )
    .await;
    let (_, sent) = call(
        &base,
        "PUT",
        &format!("/rooms/{room}/send/m.room.message/my-txn-1"),
        Some(&alice_a),
        Some(json!({"msgtype": "m.text", "body": "hi"})),
    )
    .await;
    let event_id = sent["event_id"].as_str().unwrap().to_string();

    // The sending device sees its transaction ID in /sync, /messages and /event.
    let own = synced_unsigned(&base, &alice_a, &room, &event_id).await;
    assert_eq!(own["transaction_id"], "my-txn-1", "{own}");
    assert_eq!(own["note"], "kept", "other module fields stay: {own}");
    assert!(own["age"].as_i64().unwrap() >= 0, "{own}");
    assert!(own.get("m.relations").is_none(), "{own}");
    let messages = format!("/rooms/{room}/messages?dir=b&limit=5");
    let (_, page) = call(&base, "GET", &messages, Some(&alice_a), None).await;
    let chunk = page["chunk"].as_array().unwrap();
    let mine = chunk
        .iter()
        .find(|e| e["event_id"] == event_id.as_str())
        .unwrap();
    assert_eq!(mine["unsigned"]["transaction_id"], "my-txn-1");
    let (_, single) = call(
        &base,
        "GET",
        &format!("/rooms/{room}/event/{event_id}"),
        Some(&alice_a),
        None,
    )
    .await;
    assert_eq!(single["unsigned"]["transaction_id"], "my-txn-1");
    // Her other device and Bob see none — least of all the module's forged one.
    for token in [&alice_b, &bob] {
        let unsigned = synced_unsigned(&base, token, &room, &event_id).await;
        assert!(unsigned.get("transaction_id").is_none(), "{unsigned}");
        assert_eq!(unsigned["note"], "kept");
    }
    // The module is named once per key, however many events it tags.
    assert_warned_once(&server, "forger", &["transaction_id", "age"]);
}

/// `module` is named in exactly one "server owns" warning per key of `keys`.
fn assert_warned_once(server: &ServerProcess, module: &str, keys: &[&str]) {
    let log = server.wait_for_log("add_field_to_unsigned returned a key the server owns");
    for key in keys {
        let warnings = log
            .lines()
            .filter(|l| l.contains("returned a key the server owns") && l.contains(module))
            .filter(|l| l.contains(&format!("key={key} ")) || l.contains(&format!("key=\"{key}\"")))
            .count();
        assert_eq!(warnings, 1, "one warning for {key}:\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn state_events_carry_what_they_replaced_and_modules_cannot_say_otherwise() {
    let w = Workdir::new();
    let answers = json!({"add_field_to_unsigned": {"prev_content": {"name": "forged"}, "replaces_state": "$forged"}});
    let s =
        modhost_tests::scripted_server(&w, "enable_registration: true\n", &[("a", answers)]).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({"name": "First"})).await;
    let (_, first) = alice
        .call("GET", &format!("/rooms/{room}/state"), None)
        .await;
    let first_name = first
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "m.room.name")
        .unwrap()
        .clone();
    assert!(
        first_name["unsigned"].get("replaces_state").is_none(),
        "{first_name}"
    );
    let (status, sent) = alice
        .call(
            "PUT",
            &format!("/rooms/{room}/state/m.room.name/"),
            Some(json!({"name": "Second"})),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    let second_id = sent["event_id"].as_str().unwrap();
    let (_, second) = alice
        .call("GET", &format!("/rooms/{room}/event/{second_id}"), None)
        .await;
    assert_eq!(
        (
            &second["unsigned"]["replaces_state"],
            &second["unsigned"]["prev_content"],
            &second["unsigned"]["prev_sender"]
        ),
        (
            &first_name["event_id"],
            &json!({"name": "First"}),
            &json!(alice.user_id)
        ),
        "{second}"
    );
    // The membership change of a join carries the invite it replaced, as clients expect.
    let bob = s.register("bob").await;
    alice
        .call(
            "POST",
            &format!("/rooms/{room}/invite"),
            Some(json!({"user_id": bob.user_id})),
        )
        .await;
    bob.call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    let (_, state) = bob.call("GET", &format!("/rooms/{room}/state"), None).await;
    let join = state
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["state_key"] == bob.user_id.as_str())
        .unwrap();
    assert_eq!(
        join["unsigned"]["prev_content"]["membership"], "invite",
        "{join}"
    );
}
