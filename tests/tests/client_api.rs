//! The client-server API itself: errors, membership, sync, pagination, directory and
//! persistence, over real HTTP on a real SQLite file (or PostgreSQL database: `pg_client_api`).

use std::time::{Duration, Instant};

use modhost_tests::{TestServer, Workdir};
use serde_json::{json, Value};

async fn server(w: &Workdir) -> TestServer {
    TestServer::start(&w.config("enable_registration: true\nmodules: []\n")).await
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_and_unauthenticated_requests_get_the_right_matrix_error() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let raw = |method: &str, path: &str, body: &'static str, token: Option<String>| {
        let http = reqwest::Client::new();
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = http.request(method, format!("{}{path}", s.base)).body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let r = req.send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let t = || Some(alice.token.clone());
    let cases: Vec<(u16, &str, (u16, Value))> = vec![
        (
            400,
            "M_NOT_JSON",
            raw("POST", "/_matrix/client/v3/createRoom", "{not json", t()).await,
        ),
        (
            400,
            "M_BAD_JSON",
            raw("POST", "/_matrix/client/v3/createRoom", "[1,2]", t()).await,
        ),
        (
            400,
            "M_BAD_JSON",
            raw(
                "POST",
                "/_matrix/client/v3/createRoom",
                r#"{"visibility": "sideways"}"#,
                t(),
            )
            .await,
        ),
        (
            401,
            "M_MISSING_TOKEN",
            raw("GET", "/_matrix/client/v3/account/whoami", "", None).await,
        ),
        (
            401,
            "M_UNKNOWN_TOKEN",
            raw(
                "GET",
                "/_matrix/client/v3/account/whoami",
                "",
                Some("nope".into()),
            )
            .await,
        ),
        (
            404,
            "M_UNRECOGNIZED",
            raw("GET", "/_matrix/client/v3/no/such/endpoint", "", t()).await,
        ),
        (
            405,
            "M_UNRECOGNIZED",
            raw("DELETE", "/_matrix/client/v3/account/whoami", "", t()).await,
        ),
        (
            400,
            "M_USER_IN_USE",
            raw(
                "POST",
                "/_matrix/client/v3/register",
                r#"{"username":"alice","password":"x","auth":{"type":"m.login.dummy"}}"#,
                None,
            )
            .await,
        ),
        (
            400,
            "M_INVALID_USERNAME",
            raw(
                "POST",
                "/_matrix/client/v3/register",
                r#"{"username":"Bad Name!","auth":{"type":"m.login.dummy"}}"#,
                None,
            )
            .await,
        ),
        (
            403,
            "M_FORBIDDEN",
            raw(
                "POST",
                "/_matrix/client/v3/login",
                r#"{"type":"m.login.password","user":"alice","password":"wrong"}"#,
                None,
            )
            .await,
        ),
        (
            404,
            "M_NOT_FOUND",
            raw(
                "GET",
                "/_matrix/client/v3/directory/room/%23nothing:test.local",
                "",
                None,
            )
            .await,
        ),
    ];
    for (status, errcode, (got_status, body)) in cases {
        assert_eq!(
            (got_status, body["errcode"].as_str()),
            (status, Some(errcode)),
            "{body}"
        );
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn strangers_cannot_read_or_write_a_room() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let mallory = s.register("mallory").await;
    let room = alice.create_room(json!({})).await;
    alice.say(&room, "secret").await;
    for path in [
        format!("/rooms/{room}/messages"),
        format!("/rooms/{room}/state"),
        format!("/rooms/{room}/members"),
    ] {
        assert_eq!(mallory.call("GET", &path, None).await.0, 403, "{path}");
    }
    assert_eq!(mallory.say(&room, "hi").await.0, 403);
    assert_eq!(
        mallory
            .call("POST", &format!("/join/{room}"), Some(json!({})))
            .await
            .1["errcode"],
        "M_FORBIDDEN",
        "invite-only"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invite_join_send_and_sync_between_two_users() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice
        .create_room(json!({"name": "Chat", "topic": "things", "invite": [bob.user_id]}))
        .await;

    let (_, initial) = bob.call("GET", "/sync", None).await;
    let invite_state = &initial["rooms"]["invite"][&room]["invite_state"]["events"];
    assert!(
        invite_state
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "m.room.name" && e["content"]["name"] == "Chat"),
        "{initial}"
    );
    let since = initial["next_batch"].as_str().unwrap().to_string();

    assert_eq!(
        bob.call("POST", &format!("/rooms/{room}/join"), Some(json!({})))
            .await
            .0,
        200
    );
    alice.say(&room, "hello bob").await;
    let (_, inc) = bob
        .call("GET", &format!("/sync?since={since}&timeout=0"), None)
        .await;
    let timeline = inc["rooms"]["join"][&room]["timeline"]["events"]
        .as_array()
        .unwrap()
        .clone();
    let bodies: Vec<&str> = timeline
        .iter()
        .filter_map(|e| e["content"]["body"].as_str())
        .collect();
    assert_eq!(bodies, ["hello bob"], "{inc}");

    let (_, members) = bob
        .call("GET", &format!("/rooms/{room}/members"), None)
        .await;
    let joined: Vec<&str> = members["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["content"]["membership"] == "join")
        .filter_map(|e| e["state_key"].as_str())
        .collect();
    assert_eq!(joined.len(), 2);

    // Leaving shows up under rooms.leave in the next sync.
    let since = inc["next_batch"].as_str().unwrap().to_string();
    assert_eq!(
        bob.call("POST", &format!("/rooms/{room}/leave"), Some(json!({})))
            .await
            .0,
        200
    );
    let (_, after) = bob.call("GET", &format!("/sync?since={since}"), None).await;
    assert!(after["rooms"]["leave"].get(&room).is_some(), "{after}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_poll_wakes_up_when_a_message_arrives() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let (_, first) = alice.call("GET", "/sync", None).await;
    let since = first["next_batch"].as_str().unwrap().to_string();

    let started = Instant::now();
    let waiter = {
        let (base, token) = (alice.base.clone(), alice.token.clone());
        tokio::spawn(async move {
            let url = format!("{base}/_matrix/client/v3/sync?since={since}&timeout=10000");
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    alice.say(&room, "wake up").await;
    let woke = waiter.await.unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "woke after {took:?}");
    let events = &woke["rooms"]["join"][&room]["timeline"]["events"];
    assert_eq!(events[0]["content"]["body"], "wake up", "{woke}");

    // With nothing new, the long-poll waits out its timeout.
    let since = woke["next_batch"].as_str().unwrap();
    let started = Instant::now();
    let (_, empty) = alice
        .call("GET", &format!("/sync?since={since}&timeout=400"), None)
        .await;
    assert!(started.elapsed() >= Duration::from_millis(390));
    assert_eq!(empty["rooms"]["join"], json!({}));
}

#[tokio::test(flavor = "multi_thread")]
async fn sends_are_idempotent_per_transaction_and_messages_paginate() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let first = alice
        .call(
            "PUT",
            &format!("/rooms/{room}/send/m.room.message/txn1"),
            Some(json!({"msgtype": "m.text", "body": "once"})),
        )
        .await;
    let again = alice
        .call(
            "PUT",
            &format!("/rooms/{room}/send/m.room.message/txn1"),
            Some(json!({"msgtype": "m.text", "body": "once"})),
        )
        .await;
    assert_eq!(first, again);
    for i in 0..5 {
        alice.say(&room, &format!("m{i}")).await;
    }
    let (_, page) = alice
        .call(
            "GET",
            &format!("/rooms/{room}/messages?dir=b&limit=3"),
            None,
        )
        .await;
    let bodies: Vec<&str> = page["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["content"]["body"].as_str())
        .collect();
    assert_eq!(bodies, ["m4", "m3", "m2"]);
    let (_, next) = alice
        .call(
            "GET",
            &format!(
                "/rooms/{room}/messages?dir=b&limit=3&from={}",
                page["end"].as_str().unwrap()
            ),
            None,
        )
        .await;
    let bodies: Vec<&str> = next["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["content"]["body"].as_str())
        .collect();
    assert_eq!(bodies, ["m1", "m0", "once"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn aliases_public_rooms_and_profiles() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({"name": "Lobby", "room_alias_name": "lobby", "visibility": "public", "preset": "public_chat"})).await;
    let (_, public) = s
        .call("GET", "/_matrix/client/v3/publicRooms", None, None)
        .await;
    let entry = &public["chunk"][0];
    assert_eq!(
        (
            entry["room_id"].as_str(),
            entry["name"].as_str(),
            entry["canonical_alias"].as_str()
        ),
        (
            Some(room.as_str()),
            Some("Lobby"),
            Some("#lobby:test.local")
        )
    );
    assert_eq!(entry["num_joined_members"], 1);
    let (status, _) = alice
        .call(
            "POST",
            "/createRoom",
            Some(json!({"room_alias_name": "lobby"})),
        )
        .await;
    assert_eq!(status, 400, "alias taken");
    let me = alice.user_id.clone();
    alice
        .call(
            "PUT",
            &format!("/profile/{me}/avatar_url"),
            Some(json!({"avatar_url": "mxc://test.local/abc"})),
        )
        .await;
    assert_eq!(
        s.call(
            "GET",
            &format!("/_matrix/client/v3/profile/{me}"),
            None,
            None
        )
        .await,
        (
            200,
            json!({"displayname": "alice", "avatar_url": "mxc://test.local/abc"})
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn everything_survives_a_restart_on_the_same_database() {
    let w = Workdir::new();
    let config = w.config("enable_registration: true\nmodules: []\n");
    let (token, room) = {
        let s = TestServer::start(&config).await;
        let alice = s.register("alice").await;
        let room = alice.create_room(json!({"name": "Durable"})).await;
        alice.say(&room, "still here").await;
        (alice.token.clone(), room)
    };
    let s = TestServer::start(&config).await;
    let (status, body) = s
        .call(
            "GET",
            &format!("/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=1"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "the access token still works: {body}");
    assert_eq!(body["chunk"][0]["content"]["body"], "still here");
    if modhost_tests::postgres::backend() == modhost_tests::postgres::Backend::Sqlite {
        assert!(w.path().join("data/homeserver.db").exists());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_requests_and_module_callbacks() {
    let w = Workdir::new();
    let s = modhost_tests::scripted_server(
        &w,
        "enable_registration: true\n",
        &[(
            "a",
            json!({"user_may_create_room": {"deny": "M_FORBIDDEN"}, "user_may_invite": "error"}),
        )],
    )
    .await;
    let alice = s.register("alice").await;
    for _ in 0..3 {
        assert_eq!(
            alice.call("POST", "/createRoom", Some(json!({}))).await.0,
            403
        );
    }
    assert!(s
        .registry
        .user_may_invite("@a:x", "@b:x", "!r:x")
        .await
        .is_err());
    let text = reqwest::get(format!("{}/_modhost/metrics", s.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .map(String::from)
    };
    assert_eq!(
        line("modhost_http_requests_total{method=\"POST\",route=\"/_matrix/client/v3/createRoom\",status=\"403\"}").as_deref(),
        Some("modhost_http_requests_total{method=\"POST\",route=\"/_matrix/client/v3/createRoom\",status=\"403\"} 3"),
        "{text}"
    );
    let labels = "module=\"a\",category=\"spam_checker\",callback=\"user_may_create_room\"";
    assert!(
        text.contains(&format!(
            "modhost_module_callback_calls_total{{{labels}}} 3"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "modhost_module_callback_denials_total{{{labels}}} 3"
        )),
        "{text}"
    );
    let invite = "module=\"a\",category=\"spam_checker\",callback=\"user_may_invite\"";
    assert!(
        text.contains(&format!(
            "modhost_module_callback_failures_total{{{invite}}} 1"
        )),
        "{text}"
    );
    assert!(text.contains("modhost_http_request_duration_seconds_count{method=\"POST\",route=\"/_matrix/client/v3/createRoom\"} 3"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_identifiers_are_refused_with_m_invalid_param() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let (status, body) = alice
        .call(
            "POST",
            &format!("/rooms/{room}/invite"),
            Some(json!({"user_id": "not-a-user-id"})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_INVALID_PARAM")),
        "{body}"
    );
    let (status, body) = alice.call("POST", "/join/garbage", Some(json!({}))).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_INVALID_PARAM")),
        "{body}"
    );
    let (status, body) = alice
        .call(
            "PUT",
            "/directory/room/no-hash",
            Some(json!({"room_id": room})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_INVALID_PARAM")),
        "{body}"
    );
}
