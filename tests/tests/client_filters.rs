//! Filters (spec v1.12 §"Filtering", §"Lazy-loading room members"): uploads checked against
//! Synapse's filter schema, `/sync?filter=` errors as Synapse answers them, and every part of
//! a filter applied to `/sync` and `/messages`.

use modhost_tests::{Client, TestServer, Workdir};
use serde_json::{json, Value};

async fn server(w: &Workdir) -> TestServer {
    TestServer::start(&w.config("enable_registration: true\nmodules: []\n")).await
}

/// Percent-encode a query parameter value.
fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `/sync` with an inline filter (and `since`, when given); panics unless 200.
async fn sync_with(c: &Client, filter: &Value, since: Option<&str>) -> Value {
    let mut path = format!("/sync?filter={}", enc(&filter.to_string()));
    if let Some(since) = since {
        path.push_str(&format!("&since={since}"));
    }
    let (status, body) = c.call("GET", &path, None).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn events(section: &Value) -> Vec<&Value> {
    section["events"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn bodies(section: &Value) -> Vec<String> {
    events(section)
        .iter()
        .filter_map(|e| e["content"]["body"].as_str().map(String::from))
        .collect()
}

fn member_keys(section: &Value) -> Vec<String> {
    let mut keys: Vec<String> = events(section)
        .iter()
        .filter(|e| e["type"] == "m.room.member")
        .filter_map(|e| e["state_key"].as_str().map(String::from))
        .collect();
    keys.sort();
    keys
}

async fn send(c: &Client, room: &str, kind: &str, content: Value) {
    let txn = format!("x{}", std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos());
    let (status, body) = c
        .call(
            "PUT",
            &format!("/rooms/{room}/send/{kind}/{txn}"),
            Some(content),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// `(status, errcode)` of a call.
async fn fails(c: &Client, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let (status, body) = c.call(method, path, body).await;
    (status, body["errcode"].clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_are_checked_against_synapses_filter_schema() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let path = format!("/user/{}/filter", alice.user_id);
    // Synapse answers a schema violation with 400 M_UNKNOWN naming the value.
    for bad in [
        json!({"room": {"timeline": {"limit": "ten"}}}),
        json!({"room": {"timeline": {"limit": true}}}),
        json!({"room": {"state": {"types": "m.room.name"}}}),
        json!({"room": {"state": {"types": [1]}}}),
        json!({"presence": {"senders": ["not-a-user"]}}),
        json!({"room": {"rooms": ["#alias:test.local"]}}),
        json!({"room": {"include_leave": "yes"}}),
        json!({"room": {"timeline": {"lazy_load_members": 1}}}),
        json!({"room": "everything"}),
        json!({"event_fields": ["type", 2]}),
        json!({"event_format": "xml"}),
    ] {
        let (status, err) = alice.call("POST", &path, Some(bad.clone())).await;
        assert_eq!(
            (status, &err["errcode"]),
            (400, &json!("M_UNKNOWN")),
            "{bad}"
        );
        assert!(err["error"].as_str().unwrap().contains("is not"), "{err}");
    }
    let (_, err) = alice
        .call(
            "POST",
            &path,
            Some(json!({"room": {"timeline": {"limit": "ten"}}})),
        )
        .await;
    assert_eq!(
        err["error"],
        "\"ten\" is not of type 'number' at room.timeline.limit"
    );
    // Unknown fields are allowed (forward compatibility); the same filter keeps its ID; a
    // timeline limit above 100 is stored as 100.
    let good = json!({"room": {"timeline": {"limit": 5}, "x.future": 1}, "event_fields": ["type"]});
    let first = alice.call("POST", &path, Some(good.clone())).await;
    assert_eq!(first, (200, json!({"filter_id": "0"})));
    assert_eq!(alice.call("POST", &path, Some(good)).await, first);
    let big = json!({"room": {"timeline": {"limit": 500}}});
    assert_eq!(
        alice.call("POST", &path, Some(big)).await,
        (200, json!({"filter_id": "1"}))
    );
    assert_eq!(
        alice.call("GET", &format!("{path}/1"), None).await,
        (200, json!({"room": {"timeline": {"limit": 100}}}))
    );
    assert_eq!(
        fails(&alice, "GET", &format!("{path}/abc"), None).await,
        (400, json!("M_UNKNOWN"))
    );
    assert_eq!(
        fails(&bob, "POST", &path, Some(json!({}))).await,
        (403, json!("M_FORBIDDEN"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_filter_parameter_errors_are_synapses() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    for (query, errcode) in [
        ("", "M_INVALID_PARAM"),
        ("abc", "M_INVALID_PARAM"),
        ("9", "M_INVALID_PARAM"),
        ("%7Bnope", "M_NOT_JSON"),
        (
            &enc(r#"{"room": {"timeline": {"limit": "x"}}}"#),
            "M_UNKNOWN",
        ),
    ] {
        assert_eq!(
            fails(&alice, "GET", &format!("/sync?filter={query}"), None).await,
            (400, json!(errcode)),
            "{query}"
        );
    }
    let (_, err) = alice.call("GET", "/sync?filter=9", None).await;
    assert_eq!(err["error"], "No such filter");
    let room = alice.create_room(json!({})).await;
    for text in ["one", "two"] {
        alice.say(&room, text).await;
    }
    let body = sync_with(&alice, &json!({"room": {"timeline": {"limit": 1}}}), None).await;
    assert_eq!(
        bodies(&body["rooms"]["join"][&room]["timeline"]),
        vec!["two"]
    );
}

/// Alice and Bob in a public room with messages, a custom event and an image, and Alice
/// alone in a second room: `(server, alice, bob, room, other)`.
async fn chatty_rooms(w: &Workdir) -> (TestServer, Client, Client, String, String) {
    let s = server(w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    let other = alice.create_room(json!({})).await;
    bob.call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    alice.say(&room, "a1").await;
    bob.say(&room, "b1").await;
    send(&alice, &room, "org.example.ping", json!({"body": "ping"})).await;
    send(
        &bob,
        &room,
        "m.room.message",
        json!({"msgtype": "m.image", "body": "pic", "url": "mxc://test.local/x"}),
    )
    .await;
    alice.say(&room, "a2").await;
    alice.say(&other, "elsewhere").await;
    (s, alice, bob, room, other)
}

#[tokio::test(flavor = "multi_thread")]
async fn timeline_filters_pick_types_senders_rooms_and_urls() {
    let w = Workdir::new();
    let (_s, alice, bob, room, _) = chatty_rooms(&w).await;
    let cases = [
        (
            json!({"types": ["m.room.message"]}),
            vec!["a1", "b1", "pic", "a2"],
        ),
        (
            json!({"types": ["m.room.*"], "not_types": ["m.room.member"]}),
            vec!["a1", "b1", "pic", "a2"],
        ),
        (json!({"types": ["org.*"]}), vec!["ping"]),
        (
            json!({"senders": [bob.user_id], "types": ["m.room.message"]}),
            vec!["b1", "pic"],
        ),
        (
            json!({"not_senders": [bob.user_id], "types": ["m.room.message", "org.example.ping"]}),
            vec!["a1", "ping", "a2"],
        ),
        (json!({"contains_url": true}), vec!["pic"]),
        (
            json!({"contains_url": false, "types": ["m.room.message"]}),
            vec!["a1", "b1", "a2"],
        ),
        // The limit counts the events the filter lets through.
        (
            json!({"types": ["m.room.message"], "limit": 2}),
            vec!["pic", "a2"],
        ),
        (
            json!({"not_rooms": [room], "types": ["m.room.message"]}),
            vec![],
        ),
    ];
    for (timeline, want) in cases {
        let body = sync_with(&alice, &json!({"room": {"timeline": timeline}}), None).await;
        let got = bodies(&body["rooms"]["join"][&room]["timeline"]);
        assert_eq!(got, want, "{timeline}");
    }
    let limited = sync_with(
        &alice,
        &json!({"room": {"timeline": {"types": ["m.room.message"], "limit": 2}}}),
        None,
    )
    .await;
    assert_eq!(limited["rooms"]["join"][&room]["timeline"]["limited"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn room_filters_choose_rooms_and_empty_rooms_stay_out_of_incremental_syncs() {
    let w = Workdir::new();
    let (_s, alice, _, room, other) = chatty_rooms(&w).await;
    // room.rooms / room.not_rooms decide which rooms show at all.
    let only = sync_with(&alice, &json!({"room": {"rooms": [other]}}), None).await;
    let joined: Vec<&String> = only["rooms"]["join"].as_object().unwrap().keys().collect();
    assert_eq!(joined, vec![&other]);
    let not = sync_with(&alice, &json!({"room": {"not_rooms": [other]}}), None).await;
    let joined: Vec<&String> = not["rooms"]["join"].as_object().unwrap().keys().collect();
    assert_eq!(joined, vec![&room]);

    // An incremental sync leaves out a room whose new events the filter drops.
    let since = sync_with(&alice, &json!({}), None).await["next_batch"]
        .as_str()
        .unwrap()
        .to_string();
    send(&alice, &room, "org.example.ping", json!({})).await;
    let inc = sync_with(
        &alice,
        &json!({"room": {"timeline": {"types": ["m.room.message"]}}}),
        Some(&since),
    )
    .await;
    assert!(inc["rooms"]["join"].get(&room).is_none(), "{inc}");
}

/// Alice alone in a named room with a topic, two messages, a read receipt, global and room
/// account data and presence: `(server, alice, room)`.
async fn busy_room(w: &Workdir) -> (TestServer, Client, String) {
    let s = server(w).await;
    let alice = s.register("alice").await;
    let me = alice.user_id.clone();
    let room = alice
        .create_room(json!({"name": "Named", "topic": "Topical"}))
        .await;
    alice.say(&room, "hello").await;
    let (_, sent) = alice.say(&room, "last").await;
    let last = sent["event_id"].as_str().unwrap();
    alice
        .call(
            "POST",
            &format!("/rooms/{room}/receipt/m.read/{last}"),
            Some(json!({})),
        )
        .await;
    for t in ["org.example.a", "org.example.b"] {
        alice
            .call(
                "PUT",
                &format!("/user/{me}/account_data/{t}"),
                Some(json!({"v": 1})),
            )
            .await;
        alice
            .call(
                "PUT",
                &format!("/user/{me}/rooms/{room}/account_data/{t}"),
                Some(json!({"v": 2})),
            )
            .await;
    }
    alice
        .call(
            "PUT",
            &format!("/presence/{me}/status"),
            Some(json!({"presence": "online"})),
        )
        .await;

    (s, alice, room)
}

#[tokio::test(flavor = "multi_thread")]
async fn state_ephemeral_account_data_presence_and_event_fields_are_filtered() {
    let w = Workdir::new();
    let (_s, alice, room) = busy_room(&w).await;
    let types = |section: &Value| -> Vec<String> {
        let mut t: Vec<String> = events(section)
            .iter()
            .filter_map(|e| e["type"].as_str().map(String::from))
            .collect();
        t.sort();
        t
    };
    let everything = sync_with(&alice, &json!({"room": {"timeline": {"limit": 1}}}), None).await;
    let joined = &everything["rooms"]["join"][&room];
    assert!(types(&joined["state"]).contains(&"m.room.topic".to_string()));
    assert!(types(&joined["ephemeral"]).contains(&"m.receipt".to_string()));
    assert!(!events(&everything["presence"]).is_empty(), "{everything}");

    let filter = json!({
        "room": {
            "timeline": {"limit": 1},
            "state": {"types": ["m.room.name", "m.room.topic"], "not_types": ["m.room.topic"]},
            "ephemeral": {"not_types": ["m.receipt"]},
            "account_data": {"types": ["org.example.b"]},
        },
        "account_data": {"not_types": ["org.example.b"]},
        "presence": {"not_types": ["*"]},
        "event_fields": ["type", "content.body", "content.name"],
    });
    let body = sync_with(&alice, &filter, None).await;
    let joined = &body["rooms"]["join"][&room];
    assert_eq!(types(&joined["state"]), vec!["m.room.name"]);
    assert_eq!(
        joined["state"]["events"][0],
        json!({"type": "m.room.name", "content": {"name": "Named"}})
    );
    assert!(
        !types(&joined["ephemeral"]).contains(&"m.receipt".to_string()),
        "{joined}"
    );
    assert_eq!(types(&joined["account_data"]), vec!["org.example.b"]);
    let global = types(&body["account_data"]);
    assert!(global.contains(&"org.example.a".to_string()), "{global:?}");
    assert!(!global.contains(&"org.example.b".to_string()), "{global:?}");
    assert!(events(&body["presence"]).is_empty(), "{body}");
    assert_eq!(
        joined["timeline"]["events"][0],
        json!({"type": "m.room.message", "content": {"body": "last"}})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn left_rooms_show_in_initial_syncs_only_with_include_leave_unless_kicked() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let left = bob.create_room(json!({})).await;
    bob.say(&left, "before leaving").await;
    let kicked = alice.create_room(json!({"preset": "public_chat"})).await;
    bob.call("POST", &format!("/join/{kicked}"), Some(json!({})))
        .await;
    let since = sync_with(&bob, &json!({}), None).await["next_batch"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        bob.call("POST", &format!("/rooms/{left}/leave"), Some(json!({})))
            .await
            .0,
        200
    );
    let (status, body) = alice
        .call(
            "POST",
            &format!("/rooms/{kicked}/kick"),
            Some(json!({"user_id": bob.user_id})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let keys = |sync: &Value| -> Vec<String> {
        let mut k: Vec<String> = sync["rooms"]["leave"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        k.sort();
        k
    };
    let mut both = vec![left.clone(), kicked.clone()];
    both.sort();
    let plain = sync_with(&bob, &json!({}), None).await;
    assert_eq!(keys(&plain), vec![kicked.clone()]);
    let with = sync_with(&bob, &json!({"room": {"include_leave": true}}), None).await;
    assert_eq!(keys(&with), both);
    assert_eq!(
        bodies(&with["rooms"]["leave"][&left]["timeline"]),
        vec!["before leaving"]
    );
    // A leave newer than the token always shows.
    let incremental = sync_with(&bob, &json!({}), Some(&since)).await;
    assert_eq!(keys(&incremental), both);
}

#[tokio::test(flavor = "multi_thread")]
async fn lazy_loading_sends_the_senders_members_once_per_device() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let carol = s.register("carol").await;
    let dave = s.register("dave").await;
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    for c in [&bob, &carol, &dave] {
        c.call("POST", &format!("/join/{room}"), Some(json!({})))
            .await;
    }
    bob.say(&room, "from bob").await;
    let lazy = json!({"room": {"timeline": {"limit": 1}, "state": {"lazy_load_members": true}}});
    let first = sync_with(&alice, &lazy, None).await;
    let state = &first["rooms"]["join"][&room]["state"];
    // The timeline's sender and the syncing user only; other state still comes.
    assert_eq!(
        member_keys(state),
        vec![alice.user_id.clone(), bob.user_id.clone()]
    );
    assert!(events(state).iter().any(|e| e["type"] == "m.room.create"));
    let full = sync_with(&alice, &json!({"room": {"timeline": {"limit": 1}}}), None).await;
    assert_eq!(member_keys(&full["rooms"]["join"][&room]["state"]).len(), 4);

    // Later syncs bring only members this device has not had.
    let since = first["next_batch"].as_str().unwrap().to_string();
    bob.say(&room, "bob again").await;
    carol.say(&room, "from carol").await;
    let next = sync_with(&alice, &lazy, Some(&since)).await;
    let joined = &next["rooms"]["join"][&room];
    assert_eq!(bodies(&joined["timeline"]), vec!["from carol"]);
    assert_eq!(member_keys(&joined["state"]), vec![carol.user_id.clone()]);
    let since = next["next_batch"].as_str().unwrap().to_string();
    bob.say(&room, "bob thrice").await;
    let again = sync_with(&alice, &lazy, Some(&since)).await;
    assert!(
        member_keys(&again["rooms"]["join"][&room]["state"]).is_empty(),
        "{again}"
    );
    // Unless redundant members are asked for.
    let redundant = json!({"room": {"timeline": {"limit": 1},
        "state": {"lazy_load_members": true, "include_redundant_members": true}}});
    let with = sync_with(&alice, &redundant, Some(&since)).await;
    assert_eq!(
        member_keys(&with["rooms"]["join"][&room]["state"]),
        vec![bob.user_id.clone()]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_apply_the_filter_parameter() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    bob.call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    for i in 0..4 {
        alice.say(&room, &format!("a{i}")).await;
        bob.say(&room, &format!("b{i}")).await;
        send(&alice, &room, "org.example.ping", json!({})).await;
    }
    let messages = |filter: Value, extra: &str| {
        let path = format!(
            "/rooms/{room}/messages?dir=b&limit=3{extra}&filter={}",
            enc(&filter.to_string())
        );
        let alice = &alice;
        async move {
            let (status, body) = alice.call("GET", &path, None).await;
            assert_eq!(status, 200, "{body}");
            body
        }
    };
    let page = messages(json!({"senders": [bob.user_id]}), "").await;
    let chunk = json!({"events": page["chunk"]});
    assert_eq!(bodies(&chunk), vec!["b3", "b2", "b1"]);
    let end = page["end"].as_str().unwrap();
    let rest = messages(json!({"senders": [bob.user_id]}), &format!("&from={end}")).await;
    assert_eq!(bodies(&json!({"events": rest["chunk"]})), vec!["b0"]);
    let pings = messages(json!({"not_types": ["m.room.*"]}), "").await;
    assert_eq!(pings["chunk"].as_array().unwrap().len(), 3);
    assert!(pings["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["type"] == "org.example.ping"));
    // Lazy loading: the members of the chunk's senders come in `state`.
    let lazy = messages(
        json!({"types": ["m.room.message"], "lazy_load_members": true}),
        "",
    )
    .await;
    assert_eq!(
        member_keys(&json!({"events": lazy["state"]})),
        vec![alice.user_id.clone(), bob.user_id.clone()]
    );
    let bob_only = messages(
        json!({"senders": [bob.user_id], "lazy_load_members": true}),
        "",
    )
    .await;
    assert_eq!(
        member_keys(&json!({"events": bob_only["state"]})),
        vec![bob.user_id.clone()]
    );
    let plain = messages(json!({}), "").await;
    assert!(plain.get("state").is_none(), "{plain}");
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_filter_errors() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    assert_eq!(
        fails(
            &alice,
            "GET",
            &format!("/rooms/{room}/messages?filter=%7Bx"),
            None
        )
        .await,
        (400, json!("M_NOT_JSON"))
    );
    let bad = enc(r#"{"types": "m.room.message"}"#);
    assert_eq!(
        fails(
            &alice,
            "GET",
            &format!("/rooms/{room}/messages?filter={bad}"),
            None
        )
        .await,
        (400, json!("M_BAD_JSON"))
    );
}
