//! Push notifications (spec v1.12 §"Push Notifications"): unread counts in `/sync` from push
//! rule evaluation (reset by receipts) and `GET /notifications`. Pushers and push gateway
//! delivery: `client_pushers.rs`.

use std::time::Duration;

use modhost_tests::{Client, TestServer, Workdir};
use serde_json::{json, Value};

async fn server(w: &Workdir) -> TestServer {
    TestServer::start(&w.config("enable_registration: true\nmodules: []\n")).await
}

/// alice's room (named `name`) with bob joined.
async fn room_with_bob(alice: &Client, bob: &Client, name: &str) -> String {
    let room = alice
        .create_room(json!({"preset": "public_chat", "name": name}))
        .await;
    let (status, body) = bob
        .call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    assert_eq!(status, 200, "{body}");
    room
}

/// Send `content` as an `m.room.message`; returns the event ID.
async fn send(client: &Client, room: &str, content: Value) -> String {
    let txn = format!("t{}", rand_suffix());
    let path = format!("/rooms/{room}/send/m.room.message/{txn}");
    let (status, body) = client.call("PUT", &path, Some(content)).await;
    assert_eq!(status, 200, "{body}");
    body["event_id"].as_str().unwrap().to_string()
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

async fn say(client: &Client, room: &str, text: &str) -> String {
    send(client, room, json!({"msgtype": "m.text", "body": text})).await
}

/// `unread_notifications` of `room` in a full `/sync` of `client`.
async fn counts(client: &Client, room: &str) -> Value {
    let (status, body) = client.call("GET", "/sync", None).await;
    assert_eq!(status, 200, "{body}");
    body["rooms"]["join"][room]["unread_notifications"].clone()
}

fn count_pair(n: i64, h: i64) -> Value {
    json!({"notification_count": n, "highlight_count": h})
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_count_mentions_highlight_and_receipts_reset_the_counts() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = room_with_bob(&alice, &bob, "Counting").await;
    assert_eq!(counts(&bob, &room).await, count_pair(0, 0));

    say(&alice, &room, "hello there").await;
    assert_eq!(counts(&bob, &room).await, count_pair(1, 0));
    // bob's display name (his localpart at registration) highlights.
    say(&alice, &room, "are you there, bob?").await;
    assert_eq!(counts(&bob, &room).await, count_pair(2, 1));
    // An intentional mention highlights without the name in the body; with m.mentions the
    // display name rule no longer applies, so a body naming bob without mentioning him
    // does not.
    let mention =
        json!({"msgtype": "m.text", "body": "psst", "m.mentions": {"user_ids": [bob.user_id]}});
    let mentioned = send(&alice, &room, mention).await;
    let not_mentioned = json!({"msgtype": "m.text", "body": "bob", "m.mentions": {}});
    let last = send(&alice, &room, not_mentioned).await;
    assert_eq!(counts(&bob, &room).await, count_pair(4, 2));
    // The sender is never notified of their own messages.
    assert_eq!(counts(&alice, &room).await, count_pair(0, 0));

    // A receipt for an earlier event leaves what follows it counted.
    let receipt = format!("/rooms/{room}/receipt/m.read/{mentioned}");
    assert_eq!(bob.call("POST", &receipt, Some(json!({}))).await.0, 200);
    assert_eq!(counts(&bob, &room).await, count_pair(1, 0));

    // bob's long-poll wakes for his own receipt and brings the reset counts.
    let (_, first) = bob.call("GET", "/sync", None).await;
    let since = first["next_batch"].as_str().unwrap().to_string();
    let poll = {
        let bob = s.client(&bob.user_id, &bob.token);
        let path = format!("/sync?timeout=10000&since={since}");
        tokio::spawn(async move { bob.call("GET", &path, None).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let private = format!("/rooms/{room}/receipt/m.read.private/{last}");
    assert_eq!(bob.call("POST", &private, Some(json!({}))).await.0, 200);
    let (status, woke) = poll.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        woke["rooms"]["join"][&room]["unread_notifications"],
        count_pair(0, 0),
        "{woke}"
    );

    // An incremental sync with a new message carries the new count.
    let since = woke["next_batch"].as_str().unwrap().to_string();
    say(&alice, &room, "again").await;
    let (_, next) = bob.call("GET", &format!("/sync?since={since}"), None).await;
    assert_eq!(
        next["rooms"]["join"][&room]["unread_notifications"],
        count_pair(1, 0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thread_receipt_resets_only_its_thread() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = room_with_bob(&alice, &bob, "Threads").await;
    let root = say(&alice, &room, "root").await;
    let in_thread = json!({"msgtype": "m.text", "body": "reply",
        "m.relates_to": {"rel_type": "m.thread", "event_id": root}});
    let reply = send(&alice, &room, in_thread).await;
    say(&alice, &room, "main again").await;
    assert_eq!(counts(&bob, &room).await, count_pair(3, 0));
    let receipt = format!("/rooms/{room}/receipt/m.read/{reply}");
    let body = json!({"thread_id": root});
    assert_eq!(bob.call("POST", &receipt, Some(body)).await.0, 200);
    assert_eq!(counts(&bob, &room).await, count_pair(2, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_master_rule_silences_everything() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = room_with_bob(&alice, &bob, "Quiet").await;
    let path = "/pushrules/global/override/.m.rule.master/enabled";
    let (status, body) = bob.call("PUT", path, Some(json!({"enabled": true}))).await;
    assert_eq!(status, 200, "{body}");
    say(&alice, &room, "hello bob").await;
    assert_eq!(counts(&bob, &room).await, count_pair(0, 0));
    let (_, listed) = bob.call("GET", "/notifications", None).await;
    assert_eq!(listed, json!({"notifications": [], "next_token": null}));
    // Switched off again, the next message counts.
    let (status, _) = bob.call("PUT", path, Some(json!({"enabled": false}))).await;
    assert_eq!(status, 200);
    say(&alice, &room, "hello bob").await;
    assert_eq!(counts(&bob, &room).await, count_pair(1, 1));
}

/// The event IDs of a `/notifications` page.
fn ids(page: &Value) -> Vec<String> {
    page["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["event"]["event_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn notifications_are_listed_newest_first_by_page_and_filtered_to_highlights() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = room_with_bob(&alice, &bob, "Listing").await;
    let one = say(&alice, &room, "one").await;
    let two = say(&alice, &room, "two, bob").await;
    let three = say(&alice, &room, "three").await;
    let receipt = format!("/rooms/{room}/receipt/m.read/{two}");
    assert_eq!(bob.call("POST", &receipt, Some(json!({}))).await.0, 200);

    let (status, all) = bob.call("GET", "/notifications", None).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(ids(&all), [three.clone(), two.clone(), one.clone()]);
    let newest = &all["notifications"][0];
    assert_eq!(newest["room_id"], json!(room));
    assert_eq!(newest["read"], json!(false));
    assert_eq!(newest["profile_tag"], Value::Null);
    assert!(newest["ts"].as_i64().unwrap() > 0);
    assert_eq!(newest["event"]["content"]["body"], "three");
    assert_eq!(newest["event"]["sender"], json!(alice.user_id));
    assert!(newest["actions"]
        .as_array()
        .unwrap()
        .contains(&json!("notify")));
    let reads: Vec<_> = all["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["read"].clone())
        .collect();
    assert_eq!(reads, [json!(false), json!(true), json!(true)]);
    let highlighted = &all["notifications"][1]["actions"];
    assert!(highlighted
        .as_array()
        .unwrap()
        .contains(&json!({"set_tweak": "highlight"})));

    let (_, only) = bob.call("GET", "/notifications?only=highlight", None).await;
    assert_eq!(ids(&only), [two.as_str()]);

    let (_, page1) = bob.call("GET", "/notifications?limit=2", None).await;
    assert_eq!(ids(&page1), [three, two]);
    let token = page1["next_token"].as_str().unwrap().to_string();
    let (_, page2) = bob
        .call("GET", &format!("/notifications?limit=2&from={token}"), None)
        .await;
    assert_eq!(ids(&page2), [one]);
    let token = page2["next_token"].as_str().unwrap().to_string();
    let (_, page3) = bob
        .call("GET", &format!("/notifications?from={token}"), None)
        .await;
    assert_eq!(page3, json!({"notifications": [], "next_token": null}));

    // alice, the sender, has nothing.
    let (_, alices) = alice.call("GET", "/notifications", None).await;
    assert_eq!(ids(&alices), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_notifications_queries_are_refused() {
    let w = Workdir::new();
    let s = server(&w).await;
    let bob = s.register("bob").await;
    let digits = "Invalid query: limit: invalid digit found in string";
    for (query, error) in [
        ("from=abc", "Invalid from token"),
        ("limit=-1", digits),
        ("limit=many", digits),
    ] {
        let got = bob
            .call("GET", &format!("/notifications?{query}"), None)
            .await;
        let want = (400, json!({"errcode": "M_INVALID_PARAM", "error": error}));
        assert_eq!(got, want, "{query}");
    }
    let (status, body) = s
        .call("GET", "/_matrix/client/v3/notifications", None, None)
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (401, Some("M_MISSING_TOKEN"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invite_notifies_the_invitee() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let carol = s.register("carol").await;
    let room = alice.create_room(json!({"preset": "private_chat"})).await;
    let body = json!({"user_id": carol.user_id});
    let (status, _) = alice
        .call("POST", &format!("/rooms/{room}/invite"), Some(body))
        .await;
    assert_eq!(status, 200);
    let (_, listed) = carol.call("GET", "/notifications", None).await;
    let first = &listed["notifications"][0];
    assert_eq!(first["event"]["type"], "m.room.member", "{listed}");
    assert_eq!(first["event"]["content"]["membership"], "invite");
    assert_eq!(first["room_id"], json!(room));
}
