//! Sync tokens under concurrent writers: a client syncing while several others write sees
//! every event exactly once — no event committed below a token already handed out.

use std::collections::HashMap;

use modhost_tests::{Client, TestServer, Workdir};
use serde_json::json;

const WRITERS: usize = 4;
const EACH: usize = 40;

/// Incremental syncs of `reader` until `expected` messages were seen (or 30 s passed):
/// event ID → times seen.
async fn read_all(
    reader: &Client,
    room: &str,
    mut since: String,
    expected: usize,
) -> HashMap<String, usize> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let body = json!({"room": {"timeline": {"limit": 100}}});
    let path = format!("/user/{}/filter", reader.user_id);
    let (_, created) = reader.call("POST", &path, Some(body)).await;
    let filter = created["filter_id"].as_str().unwrap().to_string();
    while seen.len() < expected && std::time::Instant::now() < deadline {
        let path = format!("/sync?timeout=200&since={since}&filter={filter}");
        let (status, body) = reader.call("GET", &path, None).await;
        assert_eq!(status, 200, "{body}");
        let timeline = &body["rooms"]["join"][room]["timeline"];
        assert_ne!(
            timeline["limited"], true,
            "a gap in a window of a few events: {body}"
        );
        for ev in timeline["events"].as_array().into_iter().flatten() {
            if ev["type"] == "m.room.message" {
                *seen
                    .entry(ev["event_id"].as_str().unwrap().into())
                    .or_default() += 1;
            }
        }
        since = body["next_batch"].as_str().unwrap().to_string();
    }
    seen
}

#[tokio::test]
async fn a_reader_sees_every_concurrent_write_exactly_once() {
    let w = Workdir::new();
    let server = TestServer::start(&w.config("enable_registration: true\nmodules: []\n")).await;
    let reader = server.register("reader").await;
    let room = reader.create_room(json!({"preset": "public_chat"})).await;
    let mut writers = Vec::new();
    for i in 0..WRITERS {
        let writer = server.register(&format!("writer{i}")).await;
        let (status, _) = writer
            .call("POST", &format!("/join/{room}"), Some(json!({})))
            .await;
        assert_eq!(status, 200);
        writers.push(writer);
    }
    let (_, first) = reader.call("GET", "/sync?timeout=0", None).await;
    let since = first["next_batch"].as_str().unwrap().to_string();
    let mut tasks = Vec::new();
    for writer in writers {
        let room = room.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..EACH {
                let (status, body) = writer.say(&room, &format!("{} #{n}", writer.user_id)).await;
                assert_eq!(status, 200, "{body}");
                ids.push(body["event_id"].as_str().unwrap().to_string());
            }
            ids
        }));
    }
    let seen = read_all(&reader, &room, since, WRITERS * EACH).await;
    let mut sent = Vec::new();
    for t in tasks {
        sent.extend(t.await.unwrap());
    }
    assert_eq!(sent.len(), WRITERS * EACH);
    let missing: Vec<&String> = sent.iter().filter(|id| !seen.contains_key(*id)).collect();
    assert!(missing.is_empty(), "never synced: {missing:?}");
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "synced more than once: {twice:?}");
}

/// An initial sync reads every joined room's state, receipts and unread counts together:
/// each room still gets its own.
#[tokio::test]
async fn an_initial_sync_gives_each_room_its_own_state_receipts_and_counts() {
    let w = Workdir::new();
    let server = TestServer::start(&w.config("enable_registration: true\nmodules: []\n")).await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let noisy = bob
        .create_room(json!({"preset": "public_chat", "name": "noisy"}))
        .await;
    let quiet = bob
        .create_room(json!({"preset": "public_chat", "name": "quiet"}))
        .await;
    for room in [&noisy, &quiet] {
        let (status, _) = alice
            .call("POST", &format!("/join/{room}"), Some(json!({})))
            .await;
        assert_eq!(status, 200);
    }
    bob.say(&noisy, "one").await;
    bob.say(&noisy, "two").await;
    let (_, read) = bob.say(&quiet, "read me").await;
    let read = read["event_id"].as_str().unwrap().to_string();
    let path = format!("/rooms/{quiet}/receipt/m.read/{read}");
    assert_eq!(alice.call("POST", &path, Some(json!({}))).await.0, 200);

    let (status, body) = alice.call("GET", "/sync?timeout=0", None).await;
    assert_eq!(status, 200, "{body}");
    let join = &body["rooms"]["join"];
    assert_eq!(
        join[&noisy]["unread_notifications"]["notification_count"], 2,
        "{body}"
    );
    assert_eq!(
        join[&quiet]["unread_notifications"]["notification_count"], 0,
        "{body}"
    );
    let receipts = |room: &str| join[room]["ephemeral"]["events"].to_string();
    assert!(receipts(&quiet).contains(&read), "{body}");
    assert!(!receipts(&noisy).contains("m.receipt"), "{body}");
    let name = |room: &str| {
        let state = join[room]["state"]["events"].as_array().unwrap().clone();
        let timeline = join[room]["timeline"]["events"].as_array().unwrap().clone();
        state
            .into_iter()
            .chain(timeline)
            .find(|e| e["type"] == "m.room.name")
            .map(|e| e["content"]["name"].clone())
    };
    assert_eq!(name(&noisy), Some(json!("noisy")));
    assert_eq!(name(&quiet), Some(json!("quiet")));
}

/// A room in an incremental sync with nothing in its timeline (a receipt brought it) pages
/// back from its `prev_batch` starting with the newest event the client already has.
#[tokio::test]
async fn an_empty_timeline_pages_back_from_the_last_event_seen() {
    let w = Workdir::new();
    let server = TestServer::start(&w.config("enable_registration: true\nmodules: []\n")).await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    assert_eq!(
        bob.call("POST", &format!("/join/{room}"), Some(json!({})))
            .await
            .0,
        200
    );
    let (_, last) = alice.say(&room, "the last one").await;
    let last = last["event_id"].as_str().unwrap().to_string();
    let (_, first) = bob.call("GET", "/sync?timeout=0", None).await;
    let since = first["next_batch"].as_str().unwrap();
    let path = format!("/rooms/{room}/receipt/m.read/{last}");
    assert_eq!(alice.call("POST", &path, Some(json!({}))).await.0, 200);
    let (_, body) = bob
        .call("GET", &format!("/sync?timeout=0&since={since}"), None)
        .await;
    let timeline = &body["rooms"]["join"][&room]["timeline"];
    assert_eq!(timeline["events"], json!([]), "{body}");
    assert_eq!(timeline["limited"], false, "{body}");
    let from = timeline["prev_batch"].as_str().unwrap();
    let path = format!("/rooms/{room}/messages?dir=b&limit=1&from={from}");
    let (status, page) = bob.call("GET", &path, None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["chunk"][0]["event_id"], last.as_str(), "{page}");
}
