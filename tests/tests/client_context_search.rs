//! Events around an event and server-side search (spec v1.12 §"Events" → "Context", §"Server
//! Side Search"), answered as Synapse does: who may see what, tokens that page on with
//! `/messages`, ranking, paging and the error codes.

use modhost_tests::{Client, TestServer, Workdir};
use serde_json::{json, Value};

async fn server(w: &Workdir) -> TestServer {
    TestServer::start(&w.config("enable_registration: true\nmodules: []\n")).await
}

fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn bodies(events: &Value) -> Vec<String> {
    events
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["content"]["body"].as_str().map(String::from))
        .collect()
}

/// Say each text; returns the event IDs.
async fn say_all(c: &Client, room: &str, texts: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for text in texts {
        let (status, body) = c.say(room, text).await;
        assert_eq!(status, 200, "{body}");
        ids.push(body["event_id"].as_str().unwrap().to_string());
    }
    ids
}

async fn search(c: &Client, room_events: Value, batch: Option<&str>) -> (u16, Value) {
    let path = match batch {
        Some(b) => format!("/search?next_batch={}", enc(b)),
        None => "/search".to_string(),
    };
    let body = json!({"search_categories": {"room_events": room_events}});
    c.call("POST", &path, Some(body)).await
}

fn result_bodies(found: &Value) -> Vec<String> {
    found["search_categories"]["room_events"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["result"]["content"]["body"].as_str().map(String::from))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn context_returns_events_around_with_tokens_and_state() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    bob.call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    let ids = say_all(&alice, &room, &["m0", "m1", "m2", "m3", "m4", "m5"]).await;
    let path = format!("/rooms/{room}/context/{}", ids[3]);
    let (status, ctx) = bob.call("GET", &format!("{path}?limit=4"), None).await;
    assert_eq!(status, 200, "{ctx}");
    assert_eq!(ctx["event"]["event_id"], json!(ids[3]));
    // Before: newest first; after: oldest first; half each.
    assert_eq!(bodies(&ctx["events_before"]), vec!["m2", "m1"]);
    assert_eq!(bodies(&ctx["events_after"]), vec!["m4", "m5"]);
    let state = ctx["state"].as_array().unwrap();
    assert!(state.iter().any(|e| e["type"] == "m.room.create"));
    // The tokens page on with /messages.
    let start = ctx["start"].as_str().unwrap();
    let (_, older) = bob
        .call(
            "GET",
            &format!("/rooms/{room}/messages?dir=b&limit=1&from={start}"),
            None,
        )
        .await;
    assert_eq!(bodies(&older["chunk"]), vec!["m0"]);
    let end = ctx["end"].as_str().unwrap();
    let (_, newer) = bob
        .call(
            "GET",
            &format!("/rooms/{room}/messages?dir=f&from={end}"),
            None,
        )
        .await;
    assert!(bodies(&newer["chunk"]).is_empty(), "{newer}");

    // A filter applies to the surrounding events and the state; lazy loading keeps only
    // the members of the senders shown.
    bob.say(&room, "from bob").await;
    let filter = enc(&json!({"senders": [bob.user_id], "lazy_load_members": true}).to_string());
    let (status, ctx) = alice
        .call(
            "GET",
            &format!("/rooms/{room}/context/{}?filter={filter}", ids[0]),
            None,
        )
        .await;
    assert_eq!(status, 200, "{ctx}");
    assert_eq!(bodies(&ctx["events_after"]), vec!["from bob"]);
    let members: Vec<&Value> = ctx["state"].as_array().unwrap().iter().collect();
    assert_eq!(members.len(), 1, "{ctx}");
    assert_eq!(members[0]["state_key"], json!(bob.user_id));
}

/// `(status, errcode)` of `/rooms/{room}/context/{event}{query}`.
async fn call_context(c: &Client, room: &str, event: &str, query: &str) -> (u16, Value) {
    let path = format!("/rooms/{room}/context/{event}{query}");
    let (status, body) = c.call("GET", &path, None).await;
    (status, body["errcode"].clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn context_errors_are_synapses() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let eve = s.register("eve").await;
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    let (status, _) = alice
        .call(
            "PUT",
            &format!("/rooms/{room}/state/m.room.history_visibility/"),
            Some(json!({"history_visibility": "joined"})),
        )
        .await;
    assert_eq!(status, 200);
    let other = alice.create_room(json!({})).await;
    let early = say_all(&alice, &room, &["before bob"]).await.remove(0);
    bob.call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    let late = say_all(&alice, &room, &["after bob"]).await.remove(0);
    assert_eq!(call_context(&bob, &room, &late, "").await.0, 200);
    let forbidden = (403, json!("M_FORBIDDEN"));
    let not_found = (404, json!("M_NOT_FOUND"));
    assert_eq!(call_context(&bob, &room, &early, "").await, forbidden);
    assert_eq!(call_context(&eve, &room, &late, "").await, forbidden);
    assert_eq!(call_context(&bob, &room, "$nothing", "").await, not_found);
    assert_eq!(call_context(&alice, &other, &late, "").await, not_found);
    assert_eq!(
        call_context(&bob, &room, &late, "?limit=-1").await,
        (400, json!("M_INVALID_PARAM"))
    );
    assert_eq!(
        call_context(&bob, &room, &late, "?filter=nope").await,
        (400, json!("M_NOT_JSON"))
    );
    // A member who left still reads what they could see before leaving.
    bob.call("POST", &format!("/rooms/{room}/leave"), Some(json!({})))
        .await;
    let after_leave = say_all(&alice, &room, &["after leave"]).await.remove(0);
    assert_eq!(call_context(&bob, &room, &late, "").await.0, 200);
    assert_eq!(call_context(&bob, &room, &after_leave, "").await, forbidden);
}

/// Alice's public "Gardening club" room (history visible from joining) where Bob joins
/// halfway, and Alice's private room, with messages about tomatoes:
/// `(server, alice, bob)`.
async fn garden(w: &Workdir) -> (TestServer, Client, Client) {
    let s = server(w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice
        .create_room(json!({"preset": "public_chat", "name": "Gardening club"}))
        .await;
    let (status, _) = alice
        .call(
            "PUT",
            &format!("/rooms/{room}/state/m.room.history_visibility/"),
            Some(json!({"history_visibility": "joined"})),
        )
        .await;
    assert_eq!(status, 200);
    let private = alice.create_room(json!({})).await;
    say_all(&alice, &room, &["tomato secret before bob"]).await;
    say_all(&alice, &private, &["tomato in private"]).await;
    bob.call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    say_all(&alice, &room, &["tomato plants grow", "no match here"]).await;
    say_all(&bob, &room, &["tomato tomato tomato soup", "potato salad"]).await;

    (s, alice, bob)
}

#[tokio::test(flavor = "multi_thread")]
async fn search_finds_visible_messages_by_rank() {
    let w = Workdir::new();
    let (_s, alice, bob) = garden(&w).await;
    // Bob sees only what was said in his room after he joined.
    let (status, found) = search(&bob, json!({"search_term": "tomato"}), None).await;
    assert_eq!(status, 200, "{found}");
    let cat = &found["search_categories"]["room_events"];
    let mut got = result_bodies(&found);
    got.sort();
    assert_eq!(got, vec!["tomato plants grow", "tomato tomato tomato soup"]);
    assert_eq!(cat["highlights"], json!(["tomato"]));
    assert!(cat["count"].as_i64().unwrap() >= 2, "{cat}");
    assert!(cat.get("next_batch").is_none());
    // Rank order: the denser match first, ranks descending.
    let results = cat["results"].as_array().unwrap();
    assert_eq!(
        results[0]["result"]["content"]["body"],
        "tomato tomato tomato soup"
    );
    assert!(results[0]["rank"].as_f64().unwrap() >= results[1]["rank"].as_f64().unwrap());
    // Alice sees her private room too.
    let (_, all) = search(&alice, json!({"search_term": "tomato"}), None).await;
    assert_eq!(result_bodies(&all).len(), 4, "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn search_understands_query_syntax_keys_and_filters() {
    let w = Workdir::new();
    let (_s, alice, bob) = garden(&w).await;
    let cases = [
        (
            json!({"search_term": "tomato -soup"}),
            vec!["tomato plants grow"],
        ),
        (
            json!({"search_term": "soup or salad", "order_by": "recent"}),
            vec!["potato salad", "tomato tomato tomato soup"],
        ),
        (
            json!({"search_term": "\"plants grow\""}),
            vec!["tomato plants grow"],
        ),
        (
            json!({"search_term": "tomato", "filter": {"senders": [alice.user_id]}}),
            vec!["tomato plants grow"],
        ),
        (
            json!({"search_term": "tomato", "keys": ["content.name"]}),
            vec![],
        ),
    ];
    for (query, want) in cases {
        let (status, found) = search(&bob, query.clone(), None).await;
        assert_eq!(status, 200, "{found}");
        assert_eq!(result_bodies(&found), want, "{query}");
    }
    // The room's name was set before Bob joined: only Alice finds it.
    let by_name = json!({"search_term": "gardening", "keys": ["content.name"]});
    let (_, hidden) = search(&bob, by_name.clone(), None).await;
    assert_eq!(
        hidden["search_categories"]["room_events"]["results"],
        json!([])
    );
    let (_, named) = search(&alice, by_name, None).await;
    let results = &named["search_categories"]["room_events"]["results"];
    assert_eq!(results[0]["result"]["type"], "m.room.name", "{named}");
}

#[tokio::test(flavor = "multi_thread")]
async fn search_pages_recent_results_with_context_state_and_groups() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let texts: Vec<String> = (0..5).map(|i| format!("cheese number{i}")).collect();
    for text in &texts {
        say_all(&alice, &room, &[text, "filler"]).await;
    }
    let query = json!({"search_term": "cheese", "order_by": "recent", "filter": {"limit": 2}});
    let mut seen = Vec::new();
    let mut batch: Option<String> = None;
    for _ in 0..5 {
        let (status, page) = search(&alice, query.clone(), batch.as_deref()).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(result_bodies(&page));
        batch = page["search_categories"]["room_events"]["next_batch"]
            .as_str()
            .map(String::from);
        if batch.is_none() {
            break;
        }
    }
    let newest_first: Vec<String> = texts.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);

    let (status, found) = search(
        &alice,
        json!({"search_term": "number2", "include_state": true,
            "event_context": {"before_limit": 1, "after_limit": 2, "include_profile": true},
            "groupings": {"group_by": [{"key": "room_id"}, {"key": "sender"}]}}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{found}");
    let cat = &found["search_categories"]["room_events"];
    let context = &cat["results"][0]["context"];
    assert_eq!(bodies(&context["events_before"]), vec!["filler"]);
    assert_eq!(
        bodies(&context["events_after"]),
        vec!["filler", "cheese number3"]
    );
    assert!(context["start"].is_string() && context["end"].is_string());
    assert!(
        context["profile_info"][&alice.user_id].is_object(),
        "{context}"
    );
    assert!(cat["state"][&room]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "m.room.create"));
    let id = &cat["results"][0]["result"]["event_id"];
    assert_eq!(cat["groups"]["room_id"][&room]["results"], json!([id]));
    assert_eq!(
        cat["groups"]["sender"][&alice.user_id]["results"],
        json!([id])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn search_errors_are_synapses() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    say_all(&alice, &room, &["hello"]).await;
    let unknown = (400, json!("M_UNKNOWN"));
    let errcode = |r: (u16, Value)| (r.0, r.1["errcode"].clone());
    assert_eq!(errcode(search(&alice, json!({}), None).await), unknown);
    assert_eq!(
        errcode(
            search(
                &alice,
                json!({"search_term": "x", "order_by": "best"}),
                None
            )
            .await
        ),
        unknown
    );
    assert_eq!(
        errcode(
            search(
                &alice,
                json!({"search_term": "x",
            "groupings": {"group_by": [{"key": "type"}]}}),
                None
            )
            .await
        ),
        unknown
    );
    assert_eq!(
        errcode(search(&alice, json!({"search_term": "x"}), Some("garbage")).await),
        unknown
    );
    assert_eq!(
        errcode(
            search(
                &alice,
                json!({"search_term": "x", "filter": {"limit": "many"}}),
                None
            )
            .await
        ),
        (400, json!("M_BAD_JSON"))
    );
    let (status, body) = alice
        .call("POST", "/search", Some(json!({"search_categories": {}})))
        .await;
    assert_eq!((status, &body["errcode"]), (400, &json!("M_UNKNOWN")));
    // Terms that leave nothing to search for find nothing.
    let (status, found) = search(&alice, json!({"search_term": "the !!"}), None).await;
    assert_eq!(status, 200);
    assert_eq!(found["search_categories"]["room_events"]["count"], 0);
    // A room the user left is not searched (Synapse searches joined rooms).
    alice
        .call("POST", &format!("/rooms/{room}/leave"), Some(json!({})))
        .await;
    let (_, found) = search(&alice, json!({"search_term": "hello"}), None).await;
    assert!(result_bodies(&found).is_empty(), "{found}");
}
