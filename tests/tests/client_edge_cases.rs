//! Edge cases a newcomer's break-it pass found: nobody bans themselves; someone who left reads
//! `/context` without learning newer state, and nothing once they forgot the room; a
//! registration password over Synapse's limit is refused; events over 65,536 bytes or with
//! non-canonical numbers are refused; `delete_devices` removes several devices at once.

use modhost_tests::{TestServer, Workdir};
use serde_json::json;

async fn server(w: &Workdir) -> TestServer {
    TestServer::start(&w.config("enable_registration: true\nmodules: []\n")).await
}

#[tokio::test(flavor = "multi_thread")]
async fn nobody_bans_themselves_though_a_self_kick_is_a_leave() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let me = json!({"user_id": alice.user_id});
    let (status, body) = alice
        .call("POST", &format!("/rooms/{room}/ban"), Some(me.clone()))
        .await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"errcode": "M_FORBIDDEN", "error": "You don't have permission to ban this user"})
        )
    );
    let (status, _) = alice
        .call("POST", &format!("/rooms/{room}/kick"), Some(me))
        .await;
    assert_eq!(status, 200, "kicking oneself is leaving");
}

#[tokio::test(flavor = "multi_thread")]
async fn departed_users_see_context_without_newer_state_and_nothing_once_forgotten() {
    let w = Workdir::new();
    let s = server(&w).await;
    let (alice, bob) = (s.register("alice").await, s.register("bob").await);
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    bob.call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    let (_, said) = alice.say(&room, "before bob left").await;
    let event = said["event_id"].as_str().unwrap().to_string();
    bob.call("POST", &format!("/rooms/{room}/leave"), Some(json!({})))
        .await;
    let topic = json!({"topic": "decided after bob left"});
    alice
        .call(
            "PUT",
            &format!("/rooms/{room}/state/m.room.topic/"),
            Some(topic),
        )
        .await;
    let context = format!("/rooms/{room}/context/{event}");
    let (status, body) = bob.call("GET", &context, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["event"]["event_id"], event.as_str());
    assert!(
        !body["state"].to_string().contains("decided after bob left"),
        "{body}"
    );
    bob.call("POST", &format!("/rooms/{room}/forget"), Some(json!({})))
        .await;
    let (status, body) = bob.call("GET", &context, None).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (403, Some("M_FORBIDDEN")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registration_password_over_512_bytes_is_refused() {
    let w = Workdir::new();
    let s = server(&w).await;
    let body =
        json!({"username": "long", "password": "x".repeat(513), "auth": {"type": "m.login.dummy"}});
    let (status, answer) = s
        .call("POST", "/_matrix/client/v3/register", None, Some(body))
        .await;
    assert_eq!(
        (status, answer),
        (
            400,
            json!({"errcode": "M_UNKNOWN", "error": "Invalid password"})
        )
    );
    let body =
        json!({"username": "long", "password": "x".repeat(512), "auth": {"type": "m.login.dummy"}});
    assert_eq!(
        s.call("POST", "/_matrix/client/v3/register", None, Some(body))
            .await
            .0,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_events_and_non_canonical_numbers_are_refused() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let send = |n: u32| format!("/rooms/{room}/send/m.room.message/t{n}");
    let big = json!({"msgtype": "m.text", "body": "x".repeat(70_000)});
    let (status, body) = alice.call("PUT", &send(1), Some(big)).await;
    assert_eq!(
        (status, body),
        (
            413,
            json!({"errcode": "M_TOO_LARGE", "error": "event too large"})
        )
    );
    let cases = [
        (json!({"body": "f", "x": 1.5}), "Bad JSON value: float"),
        (
            json!({"body": "i", "x": 9_007_199_254_740_992_i64}),
            "JSON integer out of range",
        ),
        (
            json!({"body": "n", "deep": [{"y": -9_007_199_254_740_992_i64}]}),
            "JSON integer out of range",
        ),
    ];
    for (n, (content, error)) in cases.into_iter().enumerate() {
        let (status, body) = alice.call("PUT", &send(10 + n as u32), Some(content)).await;
        assert_eq!(
            (status, body),
            (400, json!({"errcode": "M_BAD_JSON", "error": error}))
        );
    }
    let edge =
        json!({"body": "ok", "x": 9_007_199_254_740_991_i64, "y": -9_007_199_254_740_991_i64});
    assert_eq!(alice.call("PUT", &send(20), Some(edge)).await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_devices_removes_several_after_ui_auth() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let login = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": "pw"});
    let mut others = Vec::new();
    for _ in 0..2 {
        let (_, l) = s
            .call(
                "POST",
                "/_matrix/client/v3/login",
                None,
                Some(login.clone()),
            )
            .await;
        others.push(l["device_id"].as_str().unwrap().to_string());
    }
    let (status, body) = alice
        .call("POST", "/delete_devices", Some(json!({"devices": "all"})))
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_BAD_JSON"))
    );
    let list = json!({"devices": [others[0], others[1], "NOSUCHDEVICE"]});
    let (status, challenge) = alice
        .call("POST", "/delete_devices", Some(list.clone()))
        .await;
    assert_eq!(status, 401, "{challenge}");
    let mut with_auth = list;
    with_auth["auth"] = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": alice.user_id}, "password": "pw"});
    let (status, body) = alice.call("POST", "/delete_devices", Some(with_auth)).await;
    assert_eq!((status, body), (200, json!({})));
    let (_, devices) = alice.call("GET", "/devices", None).await;
    let left: Vec<&str> = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        left.len(),
        1,
        "only the requester's device stays: {devices}"
    );
    assert!(!left.contains(&others[0].as_str()) && !left.contains(&others[1].as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_sends_a_room_summary_with_heroes_for_unnamed_rooms() {
    let w = Workdir::new();
    let s = server(&w).await;
    let (alice, bob, carol) = (
        s.register("alice").await,
        s.register("bob").await,
        s.register("carol").await,
    );
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    carol
        .call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    alice
        .call(
            "POST",
            &format!("/rooms/{room}/invite"),
            Some(json!({"user_id": bob.user_id})),
        )
        .await;
    let summary = |sync: &serde_json::Value| sync["rooms"]["join"][&room]["summary"].clone();
    let (_, sync) = alice.call("GET", "/sync", None).await;
    assert_eq!(
        summary(&sync),
        json!({"m.joined_member_count": 2, "m.invited_member_count": 1, "m.heroes": [carol.user_id, bob.user_id]})
    );
    alice
        .call(
            "PUT",
            &format!("/rooms/{room}/state/m.room.name/"),
            Some(json!({"name": "Named"})),
        )
        .await;
    let (_, sync) = alice.call("GET", "/sync", None).await;
    assert_eq!(
        summary(&sync),
        json!({"m.joined_member_count": 2, "m.invited_member_count": 1})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_limited_timeline_pages_back_from_now() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    alice.say(&room, "the latest").await;
    let filter = r#"{"room":{"timeline":{"limit":0}}}"#;
    let (status, sync) = alice
        .call("GET", &format!("/sync?filter={filter}"), None)
        .await;
    assert_eq!(status, 200, "{sync}");
    let timeline = &sync["rooms"]["join"][&room]["timeline"];
    assert_eq!(
        (&timeline["events"], &timeline["limited"]),
        (&json!([]), &json!(true)),
        "{timeline}"
    );
    let from = timeline["prev_batch"].as_str().unwrap();
    let (_, page) = alice
        .call(
            "GET",
            &format!("/rooms/{room}/messages?dir=b&limit=1&from={from}"),
            None,
        )
        .await;
    assert_eq!(page["chunk"][0]["content"]["body"], "the latest", "{page}");
}

#[tokio::test(flavor = "multi_thread")]
async fn departed_users_read_history_up_to_their_leaving() {
    let w = Workdir::new();
    let s = server(&w).await;
    let (alice, bob) = (s.register("alice").await, s.register("bob").await);
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    bob.call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    let (_, before) = alice.say(&room, "while bob was here").await;
    bob.call("POST", &format!("/rooms/{room}/leave"), Some(json!({})))
        .await;
    let (_, after) = alice.say(&room, "after bob left").await;
    let (status, page) = bob
        .call(
            "GET",
            &format!("/rooms/{room}/messages?dir=b&limit=50"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let text = page["chunk"].to_string();
    assert!(
        text.contains("while bob was here") && !text.contains("after bob left"),
        "{page}"
    );
    let event = |id: &serde_json::Value| format!("/rooms/{room}/event/{}", id.as_str().unwrap());
    assert_eq!(
        bob.call("GET", &event(&before["event_id"]), None).await.0,
        200
    );
    assert_eq!(
        bob.call("GET", &event(&after["event_id"]), None).await.0,
        404
    );
    bob.call("POST", &format!("/rooms/{room}/forget"), Some(json!({})))
        .await;
    let (status, body) = bob
        .call("GET", &format!("/rooms/{room}/messages?dir=b"), None)
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (403, Some("M_FORBIDDEN"))
    );
    let carol = s.register("carol").await;
    let (status, _) = carol
        .call("GET", &format!("/rooms/{room}/messages?dir=b"), None)
        .await;
    assert_eq!(status, 403, "strangers read nothing");
}
