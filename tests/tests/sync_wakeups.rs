//! `/sync` long-polls are woken by the writes that concern their user — and by each kind of
//! them: room events, invites, kicks, typing, receipts, to-device messages, account data,
//! presence and device-list changes — and not by writes elsewhere.

use std::time::{Duration, Instant};

use modhost_tests::{Client, TestServer, Workdir};
use serde_json::{json, Value};

/// A long-poll of `client` from `since` with a 10 s timeout, started in the background.
fn long_poll(client: &Client, since: &str) -> tokio::task::JoinHandle<(Duration, Value)> {
    let (base, token, since) = (client.base.clone(), client.token.clone(), since.to_string());
    tokio::spawn(async move {
        let t = Instant::now();
        let path = format!("/sync?timeout=10000&since={since}");
        let (status, body) =
            modhost_tests::client_call(&base, "GET", &path, Some(&token), None).await;
        assert_eq!(status, 200, "{body}");
        (t.elapsed(), body)
    })
}

/// The current `next_batch` of `client`.
async fn token(client: &Client) -> String {
    let (_, body) = client.call("GET", "/sync?timeout=0", None).await;
    body["next_batch"].as_str().unwrap().to_string()
}

/// The server's metric `name` (a series without labels).
async fn metric(server: &TestServer, name: &str) -> u64 {
    let text = reqwest::get(format!("{}/_modhost/metrics", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("{name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}

/// Wait until `n` users have a long-poll waiting (the server's metric), so the write below
/// exercises the wake-up and not a response built after it.
async fn until_waiting(server: &TestServer, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let waiting = metric(server, "modhost_sync_long_poll_users").await;
        if waiting >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{waiting} long-polls waiting, not {n}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A long-poll answered in well under its 10 s timeout.
async fn woken(poll: tokio::task::JoinHandle<(Duration, Value)>) -> Value {
    let (took, body) = poll.await.unwrap();
    assert!(
        took < Duration::from_secs(5),
        "not woken ({took:?}): {body}"
    );
    body
}

async fn server() -> (Workdir, TestServer, Client, Client) {
    let w = Workdir::new();
    let server = TestServer::start(&w.config("enable_registration: true\nmodules: []\n")).await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    (w, server, alice, bob)
}

async fn shared_room(alice: &Client, bob: &Client) -> String {
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    let (status, body) = bob
        .call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    assert_eq!(status, 200, "{body}");
    room
}

#[tokio::test]
async fn a_message_wakes_the_rooms_members() {
    let (_w, server, alice, bob) = server().await;
    let room = shared_room(&alice, &bob).await;
    let poll = long_poll(&bob, &token(&bob).await);
    until_waiting(&server, 1).await;
    alice.say(&room, "hello bob").await;
    let body = woken(poll).await;
    let events = &body["rooms"]["join"][&room]["timeline"]["events"];
    assert_eq!(events[0]["content"]["body"], "hello bob", "{body}");
}

#[tokio::test]
async fn an_invite_and_a_kick_wake_their_target() {
    let (_w, server, alice, bob) = server().await;
    let room = alice.create_room(json!({"preset": "private_chat"})).await;
    let poll = long_poll(&bob, &token(&bob).await);
    until_waiting(&server, 1).await;
    let invite = json!({"user_id": bob.user_id});
    let (status, _) = alice
        .call("POST", &format!("/rooms/{room}/invite"), Some(invite))
        .await;
    assert_eq!(status, 200);
    let body = woken(poll).await;
    assert!(body["rooms"]["invite"][&room].is_object(), "{body}");
    bob.call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    let poll = long_poll(&bob, &token(&bob).await);
    until_waiting(&server, 1).await;
    let kick = json!({"user_id": bob.user_id, "reason": "bye"});
    let (status, _) = alice
        .call("POST", &format!("/rooms/{room}/kick"), Some(kick))
        .await;
    assert_eq!(status, 200);
    let body = woken(poll).await;
    assert!(body["rooms"]["leave"][&room].is_object(), "{body}");
}

#[tokio::test]
async fn typing_and_receipts_wake_the_rooms_members() {
    let (_w, server, alice, bob) = server().await;
    let room = shared_room(&alice, &bob).await;
    let poll = long_poll(&bob, &token(&bob).await);
    until_waiting(&server, 1).await;
    let typing = json!({"typing": true, "timeout": 30000});
    let path = format!("/rooms/{room}/typing/{}", alice.user_id);
    assert_eq!(alice.call("PUT", &path, Some(typing)).await.0, 200);
    let body = woken(poll).await;
    let ephemeral = &body["rooms"]["join"][&room]["ephemeral"]["events"];
    assert_eq!(
        ephemeral[0]["content"]["user_ids"][0],
        alice.user_id.as_str(),
        "{body}"
    );

    let (_, sent) = bob.say(&room, "read me").await;
    let event_id = sent["event_id"].as_str().unwrap().to_string();
    let poll = long_poll(&bob, &token(&bob).await);
    until_waiting(&server, 1).await;
    let path = format!("/rooms/{room}/receipt/m.read/{event_id}");
    assert_eq!(alice.call("POST", &path, Some(json!({}))).await.0, 200);
    let body = woken(poll).await;
    let receipts = body["rooms"]["join"][&room]["ephemeral"]["events"].to_string();
    assert!(
        receipts.contains(&event_id) && receipts.contains("m.receipt"),
        "{body}"
    );
}

#[tokio::test]
async fn to_device_messages_and_account_data_wake_their_user() {
    let (_w, server, alice, bob) = server().await;
    let poll = long_poll(&bob, &token(&bob).await);
    until_waiting(&server, 1).await;
    let msg = json!({"messages": {bob.user_id.clone(): {"*": {"hello": "device"}}}});
    let txn = modhost_tests::unique_txn();
    let path = format!("/sendToDevice/m.test/{txn}");
    assert_eq!(alice.call("PUT", &path, Some(msg)).await.0, 200);
    let body = woken(poll).await;
    assert_eq!(
        body["to_device"]["events"][0]["content"]["hello"], "device",
        "{body}"
    );

    // Account data written through another session of the same user.
    let login = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "bob"}, "password": "pw"});
    let (_, other) = server
        .call("POST", "/_matrix/client/v3/login", None, Some(login))
        .await;
    let other = server.client(&bob.user_id, other["access_token"].as_str().unwrap());
    // From after the new session (itself announced in bob's own device lists).
    let poll = long_poll(&bob, &token(&bob).await);
    until_waiting(&server, 1).await;
    let path = format!("/user/{}/account_data/m.test.setting", bob.user_id);
    assert_eq!(
        other.call("PUT", &path, Some(json!({"on": true}))).await.0,
        200
    );
    let body = woken(poll).await;
    assert_eq!(
        body["account_data"]["events"][0]["type"], "m.test.setting",
        "{body}"
    );
}

#[tokio::test]
async fn presence_and_device_keys_wake_those_sharing_a_room() {
    let (_w, server, alice, bob) = server().await;
    shared_room(&alice, &bob).await;
    let poll = long_poll(&bob, &token(&bob).await);
    until_waiting(&server, 1).await;
    let path = format!("/presence/{}/status", alice.user_id);
    let presence = json!({"presence": "online", "status_msg": "here"});
    assert_eq!(alice.call("PUT", &path, Some(presence)).await.0, 200);
    let body = woken(poll).await;
    let events = body["presence"]["events"].to_string();
    assert!(
        events.contains(&alice.user_id) && events.contains("here"),
        "{body}"
    );

    let poll = long_poll(&bob, body["next_batch"].as_str().unwrap());
    until_waiting(&server, 1).await;
    let (_, whoami) = alice.call("GET", "/account/whoami", None).await;
    let device = whoami["device_id"].as_str().unwrap();
    let keys = json!({"device_keys": {"user_id": alice.user_id, "device_id": device,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2"], "keys": {format!("curve25519:{device}"): "k"},
        "signatures": {}}});
    let (status, resp) = alice.call("POST", "/keys/upload", Some(keys)).await;
    assert_eq!(status, 200, "{resp}");
    let body = woken(poll).await;
    assert_eq!(
        body["device_lists"]["changed"],
        json!([alice.user_id]),
        "{body}"
    );
}

#[tokio::test]
async fn writes_elsewhere_leave_a_long_poll_waiting() {
    let (_w, server, alice, bob) = server().await;
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    let since = token(&bob).await;
    let (base, token) = (bob.base.clone(), bob.token.clone());
    let poll = tokio::spawn(async move {
        let t = Instant::now();
        let path = format!("/sync?timeout=1500&since={since}");
        let (_, body) = modhost_tests::client_call(&base, "GET", &path, Some(&token), None).await;
        (t.elapsed(), body)
    });
    until_waiting(&server, 1).await;
    let woken_before = metric(&server, "modhost_sync_long_poll_wakeups_total").await;
    for i in 0..10 {
        assert_eq!(alice.say(&room, &format!("not for bob {i}")).await.0, 200);
    }
    let (took, body) = poll.await.unwrap();
    // Not woken at all, rather than woken ten times to find nothing.
    let woken_after = metric(&server, "modhost_sync_long_poll_wakeups_total").await;
    assert_eq!(woken_after, woken_before);
    assert!(
        took >= Duration::from_millis(1400),
        "answered early: {body}"
    );
    assert_eq!(body["rooms"]["join"], json!({}), "{body}");
}

#[tokio::test]
async fn who_left_is_woken_by_the_leave_but_not_by_later_messages() {
    let (_w, server, alice, bob) = server().await;
    let room = shared_room(&alice, &bob).await;
    let poll = long_poll(&bob, &token(&bob).await);
    until_waiting(&server, 1).await;
    let kick = json!({"user_id": bob.user_id});
    assert_eq!(
        alice
            .call("POST", &format!("/rooms/{room}/kick"), Some(kick))
            .await
            .0,
        200
    );
    let body = woken(poll).await;
    assert!(body["rooms"]["leave"][&room].is_object(), "{body}");

    let since = body["next_batch"].as_str().unwrap().to_string();
    let (base, token) = (bob.base.clone(), bob.token.clone());
    let poll = tokio::spawn(async move {
        let path = format!("/sync?timeout=1500&since={since}");
        modhost_tests::client_call(&base, "GET", &path, Some(&token), None).await
    });
    until_waiting(&server, 1).await;
    let woken_before = metric(&server, "modhost_sync_long_poll_wakeups_total").await;
    for i in 0..5 {
        assert_eq!(
            alice.say(&room, &format!("after bob left {i}")).await.0,
            200
        );
    }
    let (_, body) = poll.await.unwrap();
    assert_eq!(body["rooms"]["leave"], json!({}), "{body}");
    let woken_after = metric(&server, "modhost_sync_long_poll_wakeups_total").await;
    assert_eq!(woken_after, woken_before, "a former member is not woken");
}

#[tokio::test]
async fn a_device_is_read_and_renamed_and_peers_hear_of_it() {
    let (_w, server, alice, bob) = server().await;
    shared_room(&alice, &bob).await;
    let (_, whoami) = alice.call("GET", "/account/whoami", None).await;
    let device = whoami["device_id"].as_str().unwrap().to_string();
    let (status, body) = alice.call("GET", &format!("/devices/{device}"), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["device_id"], device.as_str());

    let poll = long_poll(&bob, &token(&bob).await);
    until_waiting(&server, 1).await;
    let rename = json!({"display_name": "Alice's laptop"});
    let (status, body) = alice
        .call("PUT", &format!("/devices/{device}"), Some(rename))
        .await;
    assert_eq!(status, 200, "{body}");
    let body = woken(poll).await;
    assert_eq!(
        body["device_lists"]["changed"],
        json!([alice.user_id]),
        "{body}"
    );
    let (_, read) = alice.call("GET", &format!("/devices/{device}"), None).await;
    assert_eq!(read["display_name"], "Alice's laptop");

    let (status, body) = alice
        .call("PUT", "/devices/NOSUCH", Some(json!({"display_name": "x"})))
        .await;
    assert_eq!(
        (status, &body["errcode"]),
        (404, &json!("M_NOT_FOUND")),
        "{body}"
    );
    let (status, body) = bob.call("GET", &format!("/devices/{device}"), None).await;
    assert_eq!(
        (status, &body["errcode"]),
        (404, &json!("M_NOT_FOUND")),
        "another user's device: {body}"
    );
    let long = json!({"display_name": "d".repeat(101)});
    let (status, body) = alice
        .call("PUT", &format!("/devices/{device}"), Some(long))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "Device display name is too long (max 100)");
}

#[tokio::test]
async fn a_new_device_is_announced_to_those_sharing_a_room() {
    let (_w, server, alice, bob) = server().await;
    shared_room(&alice, &bob).await;
    let poll = long_poll(&bob, &token(&bob).await);
    until_waiting(&server, 1).await;
    let login = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": "pw"});
    let (status, body) = server
        .call("POST", "/_matrix/client/v3/login", None, Some(login))
        .await;
    assert_eq!(status, 200, "{body}");
    let body = woken(poll).await;
    assert_eq!(
        body["device_lists"]["changed"],
        json!([alice.user_id]),
        "{body}"
    );
}

#[tokio::test]
async fn a_profile_change_reaches_the_rooms_of_its_user() {
    let (_w, server, alice, bob) = server().await;
    let room = shared_room(&alice, &bob).await;
    let alone = alice.create_room(json!({"preset": "private_chat"})).await;
    let poll = long_poll(&bob, &token(&bob).await);
    until_waiting(&server, 1).await;
    let path = format!("/profile/{}/displayname", alice.user_id);
    let (status, body) = alice
        .call("PUT", &path, Some(json!({"displayname": "Alice A."})))
        .await;
    assert_eq!(status, 200, "{body}");
    let body = woken(poll).await;
    let events = &body["rooms"]["join"][&room]["timeline"]["events"];
    let member = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "m.room.member");
    let member = member.unwrap_or_else(|| panic!("no membership event: {body}"));
    assert_eq!(member["state_key"], alice.user_id.as_str());
    assert_eq!(member["content"]["membership"], "join");
    assert_eq!(member["content"]["displayname"], "Alice A.");
    for r in [&room, &alone] {
        let path = format!("/rooms/{r}/state/m.room.member/{}", alice.user_id);
        let (_, content) = alice.call("GET", &path, None).await;
        assert_eq!(content["displayname"], "Alice A.", "{r}: {content}");
    }
}
