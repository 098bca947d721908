//! Redactions and relations over HTTP: who may redact, the redacted event as every reader sees
//! it, the module checks a redaction passes, `/relations` pages and the `m.relations`
//! aggregations Element renders edits and threads from (client-server spec v1.12).

use modhost_tests::{scripted_server, Client, TestServer, Workdir};
use serde_json::{json, Value};

async fn server(w: &Workdir) -> TestServer {
    TestServer::start(&w.config("enable_registration: true\nmodules: []\n")).await
}

async fn redact(c: &Client, room: &str, event: &str, txn: &str, body: Value) -> (u16, Value) {
    c.call(
        "PUT",
        &format!("/rooms/{room}/redact/{event}/{txn}"),
        Some(body),
    )
    .await
}

async fn send(c: &Client, room: &str, content: Value) -> String {
    let txn = modhost_tests::unique_txn();
    let (status, body) = c
        .call(
            "PUT",
            &format!("/rooms/{room}/send/m.room.message/{txn}"),
            Some(content),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["event_id"].as_str().unwrap().to_string()
}

async fn event(c: &Client, room: &str, id: &str) -> Value {
    let (status, body) = c
        .call("GET", &format!("/rooms/{room}/event/{id}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// `GET /_matrix/client/v1/rooms/{room}/relations/{parent}{rest}` as `c`.
async fn relations(
    s: &TestServer,
    c: &Client,
    room: &str,
    parent: &str,
    rest: &str,
) -> (u16, Value) {
    let path = format!("/_matrix/client/v1/rooms/{room}/relations/{parent}{rest}");
    s.call("GET", &path, Some(&c.token), None).await
}

/// A room of `alice` (creator, power 100) that `bob` joined.
async fn shared_room(s: &TestServer) -> (Client, Client, String) {
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    let (status, body) = bob
        .call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    assert_eq!(status, 200, "{body}");
    (alice, bob, room)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redacted_message_is_served_stripped_with_redacted_because_to_everyone() {
    let w = Workdir::new();
    let s = server(&w).await;
    let (alice, bob, room) = shared_room(&s).await;
    let msg = send(
        &bob,
        &room,
        json!({"msgtype": "m.text", "body": "oops, a secret"}),
    )
    .await;
    let (status, body) = redact(&bob, &room, &msg, "r1", json!({"reason": "typo"})).await;
    assert_eq!(status, 200, "{body}");
    let redaction_id = body["event_id"].as_str().unwrap().to_string();
    // The same transaction again is the same redaction.
    let (_, again) = redact(&bob, &room, &msg, "r1", json!({"reason": "typo"})).await;
    assert_eq!(again["event_id"], redaction_id.as_str());

    for reader in [&alice, &bob] {
        let ev = event(reader, &room, &msg).await;
        assert_eq!(ev["content"], json!({}), "{ev}");
        assert_eq!(ev["event_id"], msg.as_str());
        let because = &ev["unsigned"]["redacted_because"];
        assert_eq!(because["event_id"], redaction_id.as_str(), "{ev}");
        assert_eq!(because["type"], "m.room.redaction");
        assert_eq!(because["redacts"], msg.as_str());
        assert_eq!(because["content"]["reason"], "typo");
        assert!(ev["unsigned"]["age"].is_i64(), "{ev}");
    }
    // /messages and an initial /sync serve the redacted form; the redaction is in the timeline.
    let (_, page) = alice
        .call(
            "GET",
            &format!("/rooms/{room}/messages?dir=b&limit=10"),
            None,
        )
        .await;
    let chunk = page["chunk"].as_array().unwrap();
    let served = chunk
        .iter()
        .find(|e| e["event_id"] == msg.as_str())
        .unwrap();
    assert_eq!(served["content"], json!({}));
    assert!(chunk.iter().any(|e| e["event_id"] == redaction_id.as_str()
        && e["redacts"] == msg.as_str()
        && e["content"]["redacts"] == msg.as_str()));
    let (_, sync) = alice.call("GET", "/sync", None).await;
    let timeline = sync["rooms"]["join"][&room]["timeline"]["events"].to_string();
    assert!(!timeline.contains("oops, a secret"), "{timeline}");
    // Search no longer finds its words.
    let query = json!({"search_categories": {"room_events": {"search_term": "secret"}}});
    let (status, found) = alice.call("POST", "/search", Some(query)).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(
        found["search_categories"]["room_events"]["results"],
        json!([]),
        "{found}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn redaction_power_rules_and_bad_targets_get_synapses_answers() {
    let w = Workdir::new();
    let s = server(&w).await;
    let (alice, bob, room) = shared_room(&s).await;
    let alices = send(&alice, &room, json!({"msgtype": "m.text", "body": "mine"})).await;
    // Bob (power 0, redact level 50) may not redact Alice's event ...
    let (status, body) = redact(&bob, &room, &alices, "x", json!({})).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (403, Some("M_FORBIDDEN")),
        "{body}"
    );
    assert_eq!(body["error"], "You don't have permission to redact events");
    assert_eq!(
        event(&alice, &room, &alices).await["content"]["body"],
        "mine"
    );
    // ... nor through /send with a hand-made m.room.redaction.
    let (status, body) = bob
        .call(
            "PUT",
            &format!("/rooms/{room}/send/m.room.redaction/y"),
            Some(json!({"redacts": alices})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    // Alice (power 100) may redact Bob's.
    let bobs = send(&bob, &room, json!({"msgtype": "m.text", "body": "spam"})).await;
    let (status, body) = redact(&alice, &room, &bobs, "z", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(event(&bob, &room, &bobs).await["content"], json!({}));
    // The create event is never redacted; another room's event is a bad request.
    let (_, state) = alice
        .call("GET", &format!("/rooms/{room}/state"), None)
        .await;
    let create = state
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "m.room.create")
        .unwrap();
    let create_id = create["event_id"].as_str().unwrap();
    let (status, body) = redact(&alice, &room, create_id, "c", json!({})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("Redacting create events is not permitted"))
    );
    let other = alice.create_room(json!({})).await;
    let elsewhere = send(&alice, &other, json!({"msgtype": "m.text", "body": "x"})).await;
    let (status, body) = redact(&alice, &room, &elsewhere, "o", json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "Cannot redact event from a different room");
    // Malformed input.
    let (status, body) = redact(&alice, &room, "not-an-id", "m", json!({})).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_INVALID_PARAM")),
        "{body}"
    );
    let (status, body) = redact(&alice, &room, &bobs, "n", json!({"reason": 5})).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_BAD_JSON")),
        "{body}"
    );
    // A stranger is not in the room.
    let carol = s.register("carol").await;
    let (status, _) = redact(&carol, &room, &alices, "s", json!({})).await;
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redaction_passes_the_module_checks_like_any_event() {
    let w = Workdir::new();
    // The first spam check (the message) passes; the second (the redaction) is denied.
    let answers = json!({
        "check_event_for_spam": {"seq": ["not_spam", {"deny": "M_FORBIDDEN"}, "not_spam"]},
        "check_event_allowed": null,
        "on_new_event": null,
    });
    let s = scripted_server(&w, "enable_registration: true\n", &[("a", answers)]).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let msg = send(
        &alice,
        &room,
        json!({"msgtype": "m.text", "body": "keep me"}),
    )
    .await;
    let (status, body) = redact(&alice, &room, &msg, "1", json!({})).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["error"],
        "This message has been rejected as probable spam"
    );
    assert_eq!(
        event(&alice, &room, &msg).await["content"]["body"],
        "keep me"
    );
    let (status, body) = redact(&alice, &room, &msg, "2", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let redaction = body["event_id"].as_str().unwrap().to_string();
    let calls = s.calls("a").await;
    let allowed: Vec<&Value> = calls
        .iter()
        .filter(|c| c["callback"] == "check_event_allowed" && c["args"][0] == "m.room.redaction")
        .collect();
    assert_eq!(allowed.len(), 2, "{calls:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let calls = s.calls("a").await;
        if calls
            .iter()
            .any(|c| c["callback"] == "on_new_event" && c["args"][0] == redaction.as_str())
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "on_new_event never saw the redaction: {calls:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A room where Alice's `root` has two edits by her (and one by Bob), two thread replies, a
/// reference and a reaction by Bob.
struct Related {
    alice: Client,
    room: String,
    root: String,
    newest_edit: String,
    last_in_thread: String,
    reference: String,
}

async fn related(s: &TestServer) -> Related {
    let (alice, bob, room) = shared_room(s).await;
    let root = send(&alice, &room, json!({"msgtype": "m.text", "body": "root"})).await;
    let edit = |body: &str| {
        json!({
            "msgtype": "m.text", "body": format!("* {body}"),
            "m.new_content": {"msgtype": "m.text", "body": body},
            "m.relates_to": {"rel_type": "m.replace", "event_id": root},
        })
    };
    send(&alice, &room, edit("root v2")).await;
    let newest_edit = send(&alice, &room, edit("root v3")).await;
    // An "edit" by someone else is not the original sender's and is not applied.
    send(&bob, &room, edit("hijacked")).await;
    let thread = |body: &str| {
        json!({
            "msgtype": "m.text", "body": body,
            "m.relates_to": {"rel_type": "m.thread", "event_id": root},
        })
    };
    send(&bob, &room, thread("in thread 1")).await;
    let last_in_thread = send(&bob, &room, thread("in thread 2")).await;
    let reference = send(
        &bob,
        &room,
        json!({"msgtype": "m.text", "body": "see above",
        "m.relates_to": {"rel_type": "m.reference", "event_id": root}}),
    )
    .await;
    let reaction =
        json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": root, "key": "👍"}});
    let (status, _) = bob
        .call(
            "PUT",
            &format!("/rooms/{room}/send/m.reaction/re1"),
            Some(reaction),
        )
        .await;
    assert_eq!(status, 200);

    Related {
        alice,
        room,
        root,
        newest_edit,
        last_in_thread,
        reference,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_threads_and_references_are_aggregated_and_redactions_update_them() {
    let w = Workdir::new();
    let s = server(&w).await;
    let Related {
        alice,
        room,
        root,
        newest_edit,
        last_in_thread,
        reference,
        ..
    } = related(&s).await;
    let ev = event(&alice, &room, &root).await;
    let bundled = &ev["unsigned"]["m.relations"];
    assert_eq!(
        bundled["m.replace"]["event_id"],
        newest_edit.as_str(),
        "{bundled}"
    );
    assert_eq!(
        bundled["m.replace"]["content"]["m.new_content"]["body"],
        "root v3"
    );
    assert_eq!(bundled["m.thread"]["count"], 2);
    assert_eq!(
        bundled["m.thread"]["latest_event"]["event_id"],
        last_in_thread.as_str()
    );
    assert_eq!(
        bundled["m.thread"]["current_user_participated"], true,
        "alice sent the root"
    );
    assert_eq!(
        bundled["m.reference"]["chunk"],
        json!([{"event_id": reference}])
    );
    assert!(bundled.get("m.annotation").is_none(), "{bundled}");
    let carol = s.register("carol").await;
    carol
        .call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    let seen_by_carol = event(&carol, &room, &root).await;
    assert_eq!(
        seen_by_carol["unsigned"]["m.relations"]["m.thread"]["current_user_participated"],
        false
    );

    // Redacting the newest edit makes the previous one current; a redacted root has none.
    let (status, _) = redact(&alice, &room, &newest_edit, "e", json!({})).await;
    assert_eq!(status, 200);
    let ev = event(&alice, &room, &root).await;
    assert_eq!(
        ev["unsigned"]["m.relations"]["m.replace"]["content"]["m.new_content"]["body"],
        "root v2"
    );
    redact(&alice, &room, &root, "r", json!({})).await;
    let ev = event(&alice, &room, &root).await;
    assert!(ev["unsigned"].get("m.relations").is_none(), "{ev}");
}

#[tokio::test(flavor = "multi_thread")]
async fn relations_are_paged_by_type_and_event_type() {
    let w = Workdir::new();
    let s = server(&w).await;
    let Related {
        alice, room, root, ..
    } = related(&s).await;
    // /relations: all, by type, by type and event type; newest first, paged.
    let (status, all) = relations(&s, &alice, &room, &root, "").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(
        all["chunk"].as_array().unwrap().len(),
        5,
        "default limit 5: {all}"
    );
    assert!(all["next_batch"].is_string(), "{all}");
    let next = all["next_batch"].as_str().unwrap();
    let (_, rest) = relations(&s, &alice, &room, &root, &format!("?from={next}")).await;
    assert_eq!(rest["chunk"].as_array().unwrap().len(), 2, "{rest}");
    let (_, threads) = relations(&s, &alice, &room, &root, "/m.thread?dir=f").await;
    let bodies: Vec<&str> = threads["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["content"]["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["in thread 1", "in thread 2"]);
    let (_, reactions) = relations(&s, &alice, &room, &root, "/m.annotation/m.reaction").await;
    assert_eq!(
        reactions["chunk"][0]["content"]["m.relates_to"]["key"],
        "👍"
    );
    let (_, none) = relations(&s, &alice, &room, &root, "/m.annotation/m.room.message").await;
    assert_eq!(none["chunk"], json!([]));
    let (status, body) = relations(&s, &alice, &room, &root, "?dir=sideways").await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_INVALID_PARAM"))
    );
    let (status, body) = s
        .call(
            "GET",
            &format!("/_matrix/client/v1/rooms/{room}/relations/$nope"),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (404, Some("M_NOT_FOUND"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn threads_are_listed_most_recently_active_first_and_by_participation() {
    let w = Workdir::new();
    let s = server(&w).await;
    let Related {
        alice, room, root, ..
    } = related(&s).await;
    // A second thread root of Alice's, where only Bobby replies (the newest activity).
    let other_root = send(
        &alice,
        &room,
        json!({"msgtype": "m.text", "body": "another root"}),
    )
    .await;
    let bob = s.register("bobby").await;
    bob.call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    let reply = json!({"msgtype": "m.text", "body": "newest reply",
        "m.relates_to": {"rel_type": "m.thread", "event_id": other_root}});
    send(&bob, &room, reply).await;
    let threads = |query: &str| {
        let path = format!("/_matrix/client/v1/rooms/{room}/threads{query}");
        let token = bob.token.clone();
        let s = &s;
        async move { s.call("GET", &path, Some(&token), None).await }
    };
    let (status, all) = threads("").await;
    assert_eq!(status, 200, "{all}");
    let ids: Vec<&str> = all["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [other_root.as_str(), root.as_str()],
        "most recently active first"
    );
    assert_eq!(
        all["chunk"][0]["unsigned"]["m.relations"]["m.thread"]["count"],
        1
    );
    let (_, mine) = threads("?include=participated").await;
    let ids: Vec<&str> = mine["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [other_root.as_str()],
        "bobby took part only in the second"
    );
    let (_, first) = threads("?limit=1").await;
    let next = first["next_batch"].as_str().unwrap().to_string();
    let (_, second) = threads(&format!("?limit=1&from={next}")).await;
    assert_eq!(second["chunk"][0]["event_id"], root.as_str());
    let (status, body) = threads("?include=some").await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_INVALID_PARAM"))
    );
    let (status, _) = s
        .call(
            "GET",
            &format!("/_matrix/client/v1/rooms/{room}/threads"),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(status, 200);
}
