//! What everyday clients ask of a server before they chat: CORS for browsers, the spec
//! versions, r0 paths, `soft_logout`, capabilities, push rules, joined rooms and members,
//! username availability — each answered as the client-server spec (v1.12) and Synapse do.

use modhost_tests::{Client, TestServer, Workdir};
use serde_json::{json, Value};

async fn server(w: &Workdir) -> TestServer {
    TestServer::start(&w.config("enable_registration: true\nmodules: []\n")).await
}

#[tokio::test(flavor = "multi_thread")]
async fn browsers_get_cors_headers_and_preflights_are_answered() {
    let w = Workdir::new();
    let s = server(&w).await;
    let http = reqwest::Client::new();
    let preflight = http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/_matrix/client/v3/login", s.base),
        )
        .header("Origin", "http://app.example")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 200);
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    let methods = h["access-control-allow-methods"].to_str().unwrap();
    for m in ["GET", "POST", "PUT", "DELETE", "OPTIONS"] {
        assert!(methods.contains(m), "{methods}");
    }
    let headers = h["access-control-allow-headers"].to_str().unwrap();
    for name in ["x-requested-with", "content-type", "authorization"] {
        assert!(headers.contains(name), "{headers}");
    }
    // Ordinary answers carry the origin header too, errors included.
    for path in [
        "/_matrix/client/versions",
        "/_matrix/client/v3/account/whoami",
        "/_synapse/client/nothing/here",
    ] {
        let r = http
            .get(format!("{}{path}", s.base))
            .header("Origin", "http://app.example")
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["access-control-allow-origin"], "*", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_list_r0_and_v1_and_r0_paths_answer_as_v3() {
    let w = Workdir::new();
    let s = server(&w).await;
    let (status, body) = s.get("/_matrix/client/versions").await;
    assert_eq!(status, 200);
    let versions: Vec<&str> = body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for v in ["r0.0.1", "r0.6.1", "v1.1", "v1.11", "v1.12"] {
        assert!(versions.contains(&v), "{versions:?}");
    }
    // matrix-commander's login probe.
    let (status, flows) = s.get("/_matrix/client/r0/login").await;
    assert_eq!(status, 200, "{flows}");
    assert!(flows["flows"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["type"] == "m.login.password"));
    let alice = s.register("alice").await;
    let (status, me) = s
        .call(
            "GET",
            "/_matrix/client/r0/account/whoami?x=1",
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!((status, me["user_id"].clone()), (200, json!(alice.user_id)));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_token_is_not_a_soft_logout() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let (status, _) = alice.call("POST", "/logout", Some(json!({}))).await;
    assert_eq!(status, 200);
    let (status, body) = alice.call("GET", "/account/whoami", None).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token passed.", "soft_logout": false})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn capabilities_availability_joined_rooms_and_members() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let (status, caps) = alice.call("GET", "/capabilities", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        caps["capabilities"]["m.room_versions"],
        json!({"default": "10", "available": {"10": "stable"}})
    );
    assert_eq!(
        caps["capabilities"]["m.change_password"]["enabled"],
        json!(true)
    );

    let available = |name: &str| {
        let path = format!("/_matrix/client/v3/register/available?username={name}");
        let s = &s;
        async move { s.call("GET", &path, None, None).await }
    };
    assert_eq!(available("carol").await, (200, json!({"available": true})));
    let (status, taken) = available("alice").await;
    assert_eq!(
        (status, taken["errcode"].clone()),
        (400, json!("M_USER_IN_USE"))
    );
    let (status, bad) = available("Not%20Valid").await;
    assert_eq!(
        (status, bad["errcode"].clone()),
        (400, json!("M_INVALID_USERNAME"))
    );

    let room = alice
        .create_room(json!({"preset": "public_chat", "name": "r"}))
        .await;
    let (status, _) = bob
        .call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    assert_eq!(status, 200);
    let (status, joined) = bob.call("GET", "/joined_rooms", None).await;
    assert_eq!((status, joined), (200, json!({"joined_rooms": [room]})));
    let (status, members) = bob
        .call("GET", &format!("/rooms/{room}/joined_members"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        members["joined"][&alice.user_id],
        json!({"display_name": "alice", "avatar_url": null})
    );
    assert!(members["joined"][&bob.user_id].is_object(), "{members}");
    let carol = s.register("carol").await;
    let (status, refused) = carol
        .call("GET", &format!("/rooms/{room}/joined_members"), None)
        .await;
    assert_eq!(
        (status, refused["errcode"].clone()),
        (403, json!("M_FORBIDDEN"))
    );
    let (status, threepids) = alice.call("GET", "/account/3pid", None).await;
    assert_eq!((status, threepids), (200, json!({"threepids": []})));
    assert_eq!(
        alice.call("GET", "/thirdparty/protocols", None).await,
        (200, json!({}))
    );
    assert_eq!(
        alice.call("GET", "/voip/turnServer", None).await,
        (200, json!({}))
    );
}

fn rule<'a>(rules: &'a Value, kind: &str, id: &str) -> Option<&'a Value> {
    rules["global"][kind]
        .as_array()?
        .iter()
        .find(|r| r["rule_id"] == id)
}

#[tokio::test(flavor = "multi_thread")]
async fn push_rules_start_from_the_spec_defaults_and_every_endpoint_edits_them() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let (status, rules) = alice.call("GET", "/pushrules/", None).await;
    assert_eq!(status, 200);
    for (kind, id) in [
        ("override", ".m.rule.master"),
        ("override", ".m.rule.suppress_notices"),
        ("override", ".m.rule.is_user_mention"),
        ("content", ".m.rule.contains_user_name"),
        ("override", ".m.rule.contains_display_name"),
        ("override", ".m.rule.roomnotif"),
        ("underride", ".m.rule.room_one_to_one"),
        ("underride", ".m.rule.message"),
    ] {
        assert!(rule(&rules, kind, id).is_some(), "{kind} {id}: {rules}");
    }
    assert_eq!(
        rule(&rules, "override", ".m.rule.master").unwrap()["enabled"],
        json!(false)
    );

    // enabled and actions of a server-default rule.
    let master = "/pushrules/global/override/.m.rule.master";
    let (status, _) = alice
        .call(
            "PUT",
            &format!("{master}/enabled"),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        alice.call("GET", &format!("{master}/enabled"), None).await,
        (200, json!({"enabled": true}))
    );
    let (status, _) = alice
        .call(
            "PUT",
            &format!("{master}/actions"),
            Some(json!({"actions": ["notify"]})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        alice.call("GET", &format!("{master}/actions"), None).await,
        (200, json!({"actions": ["notify"]}))
    );
}

/// `PUT /pushrules/global/content/{id}{query}` with pattern `{id}*` as `alice`.
async fn put_content_rule(alice: &Client, id: &str, query: &str) -> (u16, Value) {
    let path = format!("/pushrules/global/content/{id}{query}");
    let body = json!({"pattern": format!("{id}*"), "actions": ["notify"]});
    alice.call("PUT", &path, Some(body)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn push_rules_user_rules_are_placed_read_and_refused_as_synapse_does() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    // A user rule, placed before another.
    assert_eq!(put_content_rule(&alice, "cake", "").await.0, 200);
    assert_eq!(put_content_rule(&alice, "pie", "?before=cake").await.0, 200);
    let (_, rules) = alice.call("GET", "/pushrules/", None).await;
    let ids: Vec<&str> = rules["global"]["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule_id"].as_str().unwrap())
        .filter(|id| !id.starts_with('.'))
        .collect();
    assert_eq!(ids, ["pie", "cake"]);
    let (status, one) = alice
        .call("GET", "/pushrules/global/content/cake", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(one["pattern"], "cake*");
    assert_eq!(one["actions"], json!(["notify"]));

    // Refusals.
    let (status, err) = put_content_rule(&alice, ".m.rule.mine", "").await;
    assert_eq!(
        (status, err["errcode"].clone()),
        (400, json!("M_INVALID_PARAM"))
    );
    let (status, err) = put_content_rule(&alice, "tart", "?before=nothing").await;
    assert_eq!(
        (status, err["errcode"].clone()),
        (404, json!("M_NOT_FOUND"))
    );
    let (status, err) = alice
        .call("DELETE", "/pushrules/global/override/.m.rule.master", None)
        .await;
    assert_eq!(
        (status, err["errcode"].clone()),
        (400, json!("M_INVALID_PARAM"))
    );
    let (status, err) = alice
        .call("GET", "/pushrules/global/sideways/x", None)
        .await;
    assert_eq!(
        (status, err["errcode"].clone()),
        (400, json!("M_INVALID_PARAM"))
    );
    let (status, err) = alice
        .call(
            "PUT",
            "/pushrules/global/content/x",
            Some(json!({"pattern": "x"})),
        )
        .await;
    assert_eq!((status, err["errcode"].clone()), (400, json!("M_BAD_JSON")));
}

#[tokio::test(flavor = "multi_thread")]
async fn push_rule_deletions_reach_the_client_through_sync() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    assert_eq!(put_content_rule(&alice, "cake", "").await.0, 200);
    assert_eq!(put_content_rule(&alice, "pie", "").await.0, 200);
    // Delete, and the rules reach the client through /sync as account data.
    let (status, _) = alice
        .call("DELETE", "/pushrules/global/content/cake", None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = alice
        .call("GET", "/pushrules/global/content/cake", None)
        .await;
    assert_eq!(status, 404);
    let (_, sync) = alice.call("GET", "/sync", None).await;
    let synced = sync["account_data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "m.push_rules")
        .expect("m.push_rules in /sync");
    assert!(
        rule(&synced["content"], "content", "pie").is_some(),
        "{synced}"
    );
    assert!(
        rule(&synced["content"], "content", "cake").is_none(),
        "{synced}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_get_real_ids_read_back_as_sent_and_apply_to_sync() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let path = format!("/user/{}/filter", alice.user_id);
    let first = json!({"room": {"timeline": {"limit": 1}}, "event_fields": ["type", "content"]});
    let second = json!({"presence": {"not_types": ["*"]}});
    assert_eq!(
        alice.call("POST", &path, Some(first.clone())).await,
        (200, json!({"filter_id": "0"}))
    );
    assert_eq!(
        alice.call("POST", &path, Some(second.clone())).await,
        (200, json!({"filter_id": "1"}))
    );
    assert_eq!(
        alice.call("GET", &format!("{path}/0"), None).await,
        (200, first)
    );
    assert_eq!(
        alice.call("GET", &format!("{path}/1"), None).await,
        (200, second)
    );
    let (status, err) = alice.call("GET", &format!("{path}/7"), None).await;
    assert_eq!(
        (status, err["errcode"].clone()),
        (404, json!("M_NOT_FOUND"))
    );
    let (status, err) = bob.call("GET", &format!("{path}/0"), None).await;
    assert_eq!(
        (status, err["errcode"].clone()),
        (403, json!("M_FORBIDDEN"))
    );
    let (status, err) = bob.call("POST", &path, Some(json!({}))).await;
    assert_eq!(
        (status, err["errcode"].clone()),
        (403, json!("M_FORBIDDEN"))
    );

    let room = alice.create_room(json!({"name": "f"})).await;
    for text in ["one", "two", "three"] {
        assert_eq!(alice.say(&room, text).await.0, 200);
    }
    let (status, sync) = alice.call("GET", "/sync?filter=0", None).await;
    assert_eq!(status, 200);
    let timeline = &sync["rooms"]["join"][&room]["timeline"];
    assert_eq!(
        timeline["events"].as_array().unwrap().len(),
        1,
        "{timeline}"
    );
    assert_eq!(timeline["events"][0]["content"]["body"], "three");
    assert_eq!(timeline["limited"], json!(true));
    // As Synapse: an unknown ID is a bad parameter, unparsable inline JSON is M_NOT_JSON.
    let (status, err) = alice.call("GET", "/sync?filter=9", None).await;
    assert_eq!(
        (status, err["errcode"].clone()),
        (400, json!("M_INVALID_PARAM"))
    );
    let (status, err) = alice.call("GET", "/sync?filter=%7Bnope", None).await;
    assert_eq!((status, err["errcode"].clone()), (400, json!("M_NOT_JSON")));
}

/// The room's ephemeral events in a `/sync` body.
fn ephemeral<'a>(sync: &'a Value, room: &str) -> Vec<&'a Value> {
    sync["rooms"]["join"][room]["ephemeral"]["events"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// Alice's public room that Bob joined, with Alice's message `event` and Bob's sync token
/// `since` taken after it.
struct ReadRoom {
    s: TestServer,
    alice: Client,
    bob: Client,
    room: String,
    event: String,
    since: String,
    _w: Workdir,
}

async fn read_room() -> ReadRoom {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    assert_eq!(
        bob.call("POST", &format!("/join/{room}"), Some(json!({})))
            .await
            .0,
        200
    );
    let (_, sent) = alice.say(&room, "read me").await;
    let event = sent["event_id"].as_str().unwrap().to_string();
    let (_, first) = bob.call("GET", "/sync", None).await;
    let since = first["next_batch"].as_str().unwrap().to_string();

    ReadRoom {
        s,
        alice,
        bob,
        room,
        event,
        since,
        _w: w,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn receipts_reach_the_other_member_through_a_long_poll() {
    let ReadRoom {
        s,
        alice,
        bob,
        room,
        event,
        since,
        _w,
        ..
    } = read_room().await;
    // A long-poll of bob's wakes when alice's receipt arrives.
    let poll = {
        let bob = s.client(&bob.user_id, &bob.token);
        let path = format!("/sync?timeout=10000&since={since}");
        tokio::spawn(async move { bob.call("GET", &path, None).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let receipt = format!("/rooms/{room}/receipt/m.read/{event}");
    let (status, _) = alice
        .call("POST", &receipt, Some(json!({"thread_id": "main"})))
        .await;
    assert_eq!(status, 200);
    let (status, woke) = poll.await.unwrap();
    assert_eq!(status, 200);
    let receipts: Vec<_> = ephemeral(&woke, &room)
        .into_iter()
        .filter(|e| e["type"] == "m.receipt")
        .collect();
    assert_eq!(receipts.len(), 1, "{woke}");
    let read = &receipts[0]["content"][&event]["m.read"][&alice.user_id];
    assert_eq!(read["thread_id"], "main", "{woke}");
    assert!(read["ts"].as_i64().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn private_receipts_and_read_markers_stay_the_readers_own() {
    let ReadRoom {
        s: _s,
        alice,
        bob,
        room,
        event,
        since,
        _w,
        ..
    } = read_room().await;
    let woke = json!({"next_batch": since});
    // Private receipts and read markers are the reader's own.
    let private = format!("/rooms/{room}/receipt/m.read.private/{event}");
    assert_eq!(alice.call("POST", &private, Some(json!({}))).await.0, 200);
    let markers = format!("/rooms/{room}/read_markers");
    let (status, _) = alice
        .call("POST", &markers, Some(json!({"m.fully_read": event})))
        .await;
    assert_eq!(status, 200);
    let since = woke["next_batch"].as_str().unwrap().to_string();
    let (_, bobs) = bob.call("GET", &format!("/sync?since={since}"), None).await;
    assert!(
        !bobs.to_string().contains("m.read.private"),
        "bob never sees alice's private receipt: {bobs}"
    );
    let (_, alices) = alice.call("GET", "/sync", None).await;
    assert!(alices.to_string().contains("m.read.private"), "{alices}");
    let fully_read = alices["rooms"]["join"][&room]["account_data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "m.fully_read")
        .expect("m.fully_read in alice's room account data");
    assert_eq!(fully_read["content"]["event_id"], json!(event));
}

#[tokio::test(flavor = "multi_thread")]
async fn typing_starts_and_stops_for_the_other_member() {
    let ReadRoom {
        s: _s,
        alice,
        bob,
        room,
        _w,
        ..
    } = read_room().await;
    // Typing, then stopping.
    let typing = format!("/rooms/{room}/typing/{}", alice.user_id);
    let (_, before) = bob.call("GET", "/sync", None).await;
    let since = before["next_batch"].as_str().unwrap().to_string();
    let (status, _) = alice
        .call(
            "PUT",
            &typing,
            Some(json!({"typing": true, "timeout": 30000})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, during) = bob.call("GET", &format!("/sync?since={since}"), None).await;
    let typing_event = ephemeral(&during, &room)
        .into_iter()
        .find(|e| e["type"] == "m.typing")
        .cloned()
        .expect("m.typing");
    assert_eq!(typing_event["content"]["user_ids"], json!([alice.user_id]));
    let since = during["next_batch"].as_str().unwrap().to_string();
    assert_eq!(
        alice
            .call("PUT", &typing, Some(json!({"typing": false})))
            .await
            .0,
        200
    );
    let (_, after) = bob.call("GET", &format!("/sync?since={since}"), None).await;
    let stopped = ephemeral(&after, &room)
        .into_iter()
        .find(|e| e["type"] == "m.typing")
        .cloned()
        .expect("m.typing after stopping");
    assert_eq!(stopped["content"]["user_ids"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn typing_and_receipt_refusals() {
    let ReadRoom {
        s,
        alice,
        bob,
        room,
        event,
        _w,
        ..
    } = read_room().await;
    let typing = format!("/rooms/{room}/typing/{}", alice.user_id);
    let receipt = format!("/rooms/{room}/receipt/m.read/{event}");
    // Refusals.
    let (status, err) = bob
        .call("PUT", &typing, Some(json!({"typing": true})))
        .await;
    assert_eq!(
        (status, err["errcode"].clone()),
        (403, json!("M_FORBIDDEN"))
    );
    let carol = s.register("carol").await;
    let (status, err) = carol.call("POST", &receipt, Some(json!({}))).await;
    assert_eq!(
        (status, err["errcode"].clone()),
        (403, json!("M_FORBIDDEN"))
    );
    let (status, err) = alice
        .call(
            "POST",
            &format!("/rooms/{room}/receipt/m.read/$nope"),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status, err["errcode"].clone()),
        (404, json!("M_NOT_FOUND"))
    );
    let (status, err) = alice
        .call(
            "POST",
            &format!("/rooms/{room}/receipt/m.seen/{event}"),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status, err["errcode"].clone()),
        (400, json!("M_INVALID_PARAM"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn typing_runs_out_for_everyone_and_bad_timeouts_are_refused() {
    let ReadRoom {
        s: _s,
        alice,
        bob,
        room,
        _w,
        ..
    } = read_room().await;
    let typing = format!("/rooms/{room}/typing/{}", alice.user_id);
    let (status, _) = alice
        .call(
            "PUT",
            &typing,
            Some(json!({"typing": true, "timeout": 800})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, during) = bob.call("GET", "/sync", None).await;
    let since = during["next_batch"].as_str().unwrap().to_string();
    // The long-poll wakes when the typing runs out, and says nobody types.
    let started = std::time::Instant::now();
    let (_, after) = bob
        .call("GET", &format!("/sync?timeout=8000&since={since}"), None)
        .await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "woke at expiry"
    );
    let stopped = ephemeral(&after, &room)
        .into_iter()
        .find(|e| e["type"] == "m.typing")
        .cloned()
        .expect("m.typing when the typing ran out");
    assert_eq!(stopped["content"]["user_ids"], json!([]));
    for bad in [json!("x"), json!(-5), json!(1.5)] {
        let (status, err) = alice
            .call(
                "PUT",
                &typing,
                Some(json!({"typing": true, "timeout": bad})),
            )
            .await;
        assert_eq!(
            (status, err["errcode"].clone()),
            (400, json!("M_INVALID_PARAM")),
            "{bad}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn receipts_never_move_back_and_bad_ones_are_refused() {
    let ReadRoom {
        s: _s,
        alice,
        bob,
        room,
        _w,
        ..
    } = read_room().await;
    let (_, first) = alice.say(&room, "first").await;
    let (_, second) = alice.say(&room, "second").await;
    let (first, second) = (
        first["event_id"].as_str().unwrap(),
        second["event_id"].as_str().unwrap(),
    );
    for event in [second, first] {
        let path = format!("/rooms/{room}/receipt/m.read/{event}");
        assert_eq!(bob.call("POST", &path, Some(json!({}))).await.0, 200);
    }
    let (_, sync) = alice.call("GET", "/sync", None).await;
    let receipts = ephemeral(&sync, &room)
        .into_iter()
        .find(|e| e["type"] == "m.receipt")
        .cloned()
        .expect("m.receipt");
    assert!(
        receipts["content"][second]["m.read"][&bob.user_id].is_object(),
        "{receipts}"
    );
    assert!(
        receipts["content"].get(first).is_none(),
        "the older receipt was ignored: {receipts}"
    );
    for (receipt_type, body) in [
        ("m.read", json!({"thread_id": ""})),
        ("m.read", json!({"thread_id": 5})),
        ("m.fully_read", json!({"thread_id": "main"})),
    ] {
        let path = format!("/rooms/{room}/receipt/{receipt_type}/{second}");
        let (status, err) = bob.call("POST", &path, Some(body.clone())).await;
        assert_eq!(
            (status, err["errcode"].clone()),
            (400, json!("M_INVALID_PARAM")),
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_query_strings_get_matrix_errors() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let (status, err) = s
        .call("GET", "/_matrix/client/v3/register/available", None, None)
        .await;
    assert_eq!(
        (status, err["errcode"].clone()),
        (400, json!("M_MISSING_PARAM")),
        "{err}"
    );
    let (status, err) = alice.call("GET", "/sync?timeout=abc", None).await;
    assert_eq!(
        (status, err["errcode"].clone()),
        (400, json!("M_INVALID_PARAM")),
        "{err}"
    );
    assert!(err["error"].as_str().unwrap().contains("timeout"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn access_tokens_are_read_as_synapse_reads_them() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let whoami = format!("{}/_matrix/client/v3/account/whoami", s.base);
    let http = reqwest::Client::new();
    let answer = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        (status, r.json::<Value>().await.unwrap())
    };
    // The query parameter alone works, percent-encoded or not.
    let r = http
        .get(format!("{whoami}?access_token={}", alice.token))
        .send()
        .await
        .unwrap();
    assert_eq!(answer(r).await.0, 200);
    let mut cases = vec![
        (
            http.get(format!("{whoami}?access_token={}", alice.token))
                .bearer_auth(&alice.token),
            "Mixing Authorization headers and access_token query parameters.",
        ),
        (
            http.get(&whoami)
                .header("Authorization", format!("Bearer {}", alice.token))
                .header("Authorization", format!("Bearer {}", alice.token)),
            "Too many Authorization headers.",
        ),
        (
            http.get(&whoami)
                .header("Authorization", "Basic YWxpY2U6cHc="),
            "Invalid Authorization header.",
        ),
    ];
    for (request, message) in cases.drain(..) {
        let (status, body) = answer(request.send().await.unwrap()).await;
        assert_eq!(
            (status, body),
            (401, json!({"errcode": "M_MISSING_TOKEN", "error": message}))
        );
    }
}
