//! The everyday room and account endpoints clients call besides chatting: unban, forget,
//! tags, a room's aliases, reporting, OpenID tokens, timestamp_to_event and password
//! changes — each answered as the client-server spec v1.12 and Synapse do.

use modhost_tests::{scripted_server, Client, TestServer, Workdir};
use serde_json::{json, Value};

async fn server(w: &Workdir) -> TestServer {
    TestServer::start(&w.config("enable_registration: true\nmodules: []\n")).await
}

async fn public_room(alice: &Client, bob: &Client) -> String {
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    let (status, body) = bob
        .call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    assert_eq!(status, 200, "{body}");
    room
}

#[tokio::test(flavor = "multi_thread")]
async fn unban_lets_a_banned_user_back_and_is_refused_when_not_banned_or_not_allowed() {
    let w = Workdir::new();
    let s = server(&w).await;
    let (alice, bob) = (s.register("alice").await, s.register("bob").await);
    let room = public_room(&alice, &bob).await;
    let target = json!({"user_id": bob.user_id});
    let (status, body) = alice
        .call(
            "POST",
            &format!("/rooms/{room}/unban"),
            Some(target.clone()),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["errcode"], "M_BAD_STATE");
    assert_eq!(
        body["error"],
        "Cannot unban user who was not banned (membership=join)"
    );
    let (status, _) = alice
        .call("POST", &format!("/rooms/{room}/ban"), Some(target.clone()))
        .await;
    assert_eq!(status, 200);
    let (status, _) = bob
        .call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    assert_eq!(status, 403, "banned");
    // Carol (power 0) may not unban; Alice may.
    let carol = s.register("carol").await;
    carol
        .call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    let (status, body) = carol
        .call(
            "POST",
            &format!("/rooms/{room}/unban"),
            Some(target.clone()),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("You don't have permission to unban this user"))
    );
    let (status, body) = alice
        .call(
            "POST",
            &format!("/rooms/{room}/unban"),
            Some(target.clone()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, member) = alice
        .call(
            "GET",
            &format!("/rooms/{room}/state/m.room.member/{}", bob.user_id),
            None,
        )
        .await;
    assert_eq!(member["membership"], "leave");
    let (status, _) = bob
        .call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    assert_eq!(status, 200, "unbanned users may join a public room again");
    let (status, body) = alice
        .call("POST", &format!("/rooms/{room}/unban"), Some(json!({})))
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_MISSING_PARAM")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forgotten_room_leaves_joined_rooms_and_sync_until_the_next_membership() {
    let w = Workdir::new();
    let s = server(&w).await;
    let (alice, bob) = (s.register("alice").await, s.register("bob").await);
    let room = public_room(&alice, &bob).await;
    let (status, body) = bob
        .call("POST", &format!("/rooms/{room}/forget"), Some(json!({})))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"],
        format!("User {} in room {room}", bob.user_id)
    );
    // Bob and Carol leave; only Bob forgets. A sync from before the leave shows Carol the
    // room in `leave`, and Bob nothing at all.
    let carol = s.register("carol").await;
    carol
        .call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    let (_, bob_before) = bob.call("GET", "/sync", None).await;
    let (_, carol_before) = carol.call("GET", "/sync", None).await;
    for who in [&bob, &carol] {
        let (status, _) = who
            .call("POST", &format!("/rooms/{room}/leave"), Some(json!({})))
            .await;
        assert_eq!(status, 200);
    }
    let (status, _) = bob
        .call("POST", &format!("/rooms/{room}/forget"), Some(json!({})))
        .await;
    assert_eq!(status, 200);
    let since = |b: &serde_json::Value| b["next_batch"].as_str().unwrap().to_string();
    let (_, after) = carol
        .call(
            "GET",
            &format!("/sync?since={}&timeout=0", since(&carol_before)),
            None,
        )
        .await;
    assert!(after["rooms"]["leave"].get(&room).is_some(), "{after}");
    let (_, after) = bob
        .call(
            "GET",
            &format!("/sync?since={}&timeout=0", since(&bob_before)),
            None,
        )
        .await;
    assert!(!after["rooms"].to_string().contains(&room), "{after}");
    // A room never joined is a no-op; rejoining remembers it.
    let (status, _) = bob
        .call("POST", "/rooms/!unknown:test.local/forget", Some(json!({})))
        .await;
    assert_eq!(status, 200);
    bob.call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    let (_, joined) = bob.call("GET", "/joined_rooms", None).await;
    assert_eq!(joined["joined_rooms"], json!([room]));
}

#[tokio::test(flavor = "multi_thread")]
async fn tags_are_set_listed_deleted_and_synced_as_room_account_data() {
    let w = Workdir::new();
    // Tags are account data in /sync but, as in Synapse, not announced to modules.
    let s = scripted_server(
        &w,
        "enable_registration: true\n",
        &[("a", json!({"on_account_data_updated": null}))],
    )
    .await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let tags = format!("/user/{}/rooms/{room}/tags", alice.user_id);
    let (status, body) = alice.call("GET", &tags, None).await;
    assert_eq!((status, body), (200, json!({"tags": {}})));
    let (status, _) = alice
        .call(
            "PUT",
            &format!("{tags}/m.favourite"),
            Some(json!({"order": 0.25})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = alice
        .call("PUT", &format!("{tags}/u.work"), Some(json!({})))
        .await;
    assert_eq!(status, 200);
    let (_, body) = alice.call("GET", &tags, None).await;
    assert_eq!(
        body,
        json!({"tags": {"m.favourite": {"order": 0.25}, "u.work": {}}})
    );
    let (_, sync) = alice.call("GET", "/sync", None).await;
    let ad = &sync["rooms"]["join"][&room]["account_data"]["events"];
    assert!(
        ad.as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "m.tag" && e["content"]["tags"]["m.favourite"]["order"] == 0.25),
        "{ad}"
    );
    let (status, _) = alice.call("DELETE", &format!("{tags}/u.work"), None).await;
    assert_eq!(status, 200);
    let (_, body) = alice.call("GET", &tags, None).await;
    assert_eq!(body, json!({"tags": {"m.favourite": {"order": 0.25}}}));
    assert!(s
        .calls("a")
        .await
        .iter()
        .all(|c| c["callback"] != "on_account_data_updated"));
    // Bad input and other users' tags.
    let (status, body) = alice
        .call("PUT", &format!("{tags}/x"), Some(json!({"order": "first"})))
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_INVALID_PARAM"))
    );
    let long = "t".repeat(256);
    let (status, body) = alice
        .call("PUT", &format!("{tags}/{long}"), Some(json!({})))
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_INVALID_PARAM"))
    );
    let bob = s.register("bob").await;
    let (status, body) = bob.call("GET", &tags, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("Cannot get tags for other users."))
    );
    let (status, _) = bob.call("PUT", &format!("{tags}/x"), Some(json!({}))).await;
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn room_aliases_are_listed_for_members_only() {
    let w = Workdir::new();
    let s = server(&w).await;
    let (alice, bob) = (s.register("alice").await, s.register("bob").await);
    let room = alice.create_room(json!({"room_alias_name": "lobby"})).await;
    let alias2 = "#second:test.local";
    let (status, _) = alice
        .call(
            "PUT",
            &format!("/directory/room/{}", alias2.replace('#', "%23")),
            Some(json!({"room_id": room})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = alice
        .call("GET", &format!("/rooms/{room}/aliases"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"aliases": ["#lobby:test.local", alias2]}));
    let (status, body) = bob
        .call("GET", &format!("/rooms/{room}/aliases"), None)
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (403, Some("M_FORBIDDEN"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_are_stored_and_bad_reports_refused() {
    let w = Workdir::new();
    let s = server(&w).await;
    let (alice, bob) = (s.register("alice").await, s.register("bob").await);
    let room = public_room(&alice, &bob).await;
    let (_, sent) = alice.say(&room, "offensive").await;
    let event_id = sent["event_id"].as_str().unwrap();
    let report = format!("/rooms/{room}/report/{event_id}");
    let (status, body) = bob
        .call(
            "POST",
            &report,
            Some(json!({"reason": "rude", "score": -80})),
        )
        .await;
    assert_eq!((status, &body), (200, &json!({})));
    let (status, body) = bob.call("POST", &report, Some(json!({"score": 5}))).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_INVALID_PARAM")),
        "{body}"
    );
    assert_eq!(
        body["error"],
        "Param 'score' must be an integer between -100 and 0"
    );
    let (status, body) = bob.call("POST", &report, Some(json!({"reason": 1}))).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_BAD_JSON"))
    );
    let not_found = "Unable to report event: it does not exist or you aren't able to see it.";
    let (status, body) = bob
        .call(
            "POST",
            &format!("/rooms/{room}/report/$missing"),
            Some(json!({})),
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (404, Some(not_found)));
    let carol = s.register("carol").await;
    let (status, body) = carol.call("POST", &report, Some(json!({}))).await;
    assert_eq!((status, body["error"].as_str()), (404, Some(not_found)));
    drop(s);
    // The report is in the database for the administrators.
    let store = modhost::storage::Store::open(&modhost::config::Database::Sqlite {
        path: w.path().join("data/homeserver.db"),
    })
    .await
    .unwrap();
    let reports = store.event_reports().await.unwrap();
    assert_eq!(
        reports,
        vec![(
            room.clone(),
            event_id.to_string(),
            bob.user_id.clone(),
            Some("rude".to_string()),
            Some(-80)
        )]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn openid_tokens_identify_their_user_to_third_parties_until_they_expire() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let (status, body) = alice
        .call(
            "POST",
            &format!("/user/{}/openid/request_token", alice.user_id),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["matrix_server_name"], "test.local");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap();
    let (status, who) = s
        .get(&format!(
            "/_matrix/federation/v1/openid/userinfo?access_token={token}"
        ))
        .await;
    assert_eq!((status, who), (200, json!({"sub": alice.user_id})));
    let (status, body) = s
        .get("/_matrix/federation/v1/openid/userinfo?access_token=forged")
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (401, Some("M_UNKNOWN_TOKEN"))
    );
    let (status, body) = s.get("/_matrix/federation/v1/openid/userinfo").await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_MISSING_PARAM"))
    );
    let bob = s.register("bob").await;
    let (status, body) = bob
        .call(
            "POST",
            &format!("/user/{}/openid/request_token", alice.user_id),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("Cannot request tokens for other users."))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn timestamp_to_event_finds_the_nearest_visible_event_each_way() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let (_, first) = alice.say(&room, "first").await;
    let first_id = first["event_id"].as_str().unwrap().to_string();
    let (_, ev) = alice
        .call("GET", &format!("/rooms/{room}/event/{first_id}"), None)
        .await;
    let ts = ev["origin_server_ts"].as_i64().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (_, second) = alice.say(&room, "second").await;
    let ask = |query: String| {
        let (s, token, room) = (&s, alice.token.clone(), room.clone());
        async move {
            s.call(
                "GET",
                &format!("/_matrix/client/v1/rooms/{room}/timestamp_to_event?{query}"),
                Some(&token),
                None,
            )
            .await
        }
    };
    let (status, body) = ask(format!("ts={}&dir=f", ts + 1)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["event_id"], second["event_id"]);
    let (_, body) = ask(format!("ts={ts}&dir=b")).await;
    assert_eq!(body["event_id"], first_id.as_str());
    assert_eq!(body["origin_server_ts"], ts);
    let (status, body) = ask("ts=1&dir=b".into()).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (404, Some("M_NOT_FOUND"))
    );
    assert_eq!(body["error"], "Unable to find event from 1 in direction b");
    let (status, body) = ask("ts=1&dir=x".into()).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_INVALID_PARAM"))
    );
    let (status, body) = ask("dir=f".into()).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_MISSING_PARAM"))
    );
}

/// `POST /account/password` with `body` as `c`: (status, body).
async fn change_password(c: &Client, body: serde_json::Value) -> (u16, serde_json::Value) {
    c.call("POST", "/account/password", Some(body)).await
}

/// A password `auth` dict (UIA stage) for `user` with `pw`.
fn auth(user: &str, pw: &str) -> serde_json::Value {
    json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": pw})
}

/// Log in as `user` with `pw` on `s`: (status, body).
async fn login(s: &TestServer, user: &str, pw: &str) -> (u16, serde_json::Value) {
    s.call(
        "POST",
        "/_matrix/client/v3/login",
        None,
        Some(auth(user, pw)),
    )
    .await
}

async fn whoami_status(s: &TestServer, token: &str) -> u16 {
    s.call(
        "GET",
        "/_matrix/client/v3/account/whoami",
        Some(token),
        None,
    )
    .await
    .0
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_change_needs_ui_auth_and_a_valid_new_password() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let (status, challenge) = change_password(&alice, json!({"new_password": "pw2"})).await;
    assert_eq!(status, 401, "{challenge}");
    assert_eq!(challenge["flows"][0]["stages"], json!(["m.login.password"]));
    let me = alice.user_id.clone();
    let cases = [
        (
            json!({"new_password": "pw2", "auth": auth(&me, "wrong")}),
            401,
            "M_FORBIDDEN",
        ),
        (json!({"auth": auth(&me, "pw")}), 400, "M_MISSING_PARAM"),
        (
            json!({"new_password": 5, "auth": auth(&me, "pw")}),
            400,
            "M_BAD_JSON",
        ),
        (
            json!({"new_password": "x".repeat(513), "auth": auth(&me, "pw")}),
            400,
            "M_INVALID_PARAM",
        ),
        (
            json!({"new_password": "pw2", "logout_devices": "yes", "auth": auth(&me, "pw")}),
            400,
            "M_BAD_JSON",
        ),
    ];
    for (body, status, errcode) in cases {
        let (got, answer) = change_password(&alice, body.clone()).await;
        assert_eq!(
            (got, answer["errcode"].as_str()),
            (status, Some(errcode)),
            "{body}"
        );
    }
    assert_eq!(login(&s, "alice", "pw").await.0, 200, "nothing changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_change_logs_out_other_devices_unless_asked_not_to() {
    let w = Workdir::new();
    let modules = [("a", json!({"on_logged_out": null}))];
    let s = scripted_server(&w, "enable_registration: true\n", &modules).await;
    let alice = s.register("alice").await;
    let (_, other) = login(&s, "alice", "pw").await;
    let other_token = other["access_token"].as_str().unwrap();
    let body = json!({"new_password": "pw2", "auth": auth(&alice.user_id, "pw")});
    let (status, answer) = change_password(&alice, body).await;
    assert_eq!((status, answer), (200, json!({})));
    // The other device is logged out (and modules told); this one stays.
    assert_eq!(whoami_status(&s, other_token).await, 401);
    // The other device itself is gone too, as in Synapse.
    let (_, devices) = alice.call("GET", "/devices", None).await;
    let ids: Vec<&Value> = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["device_id"])
        .collect();
    assert!(!ids.contains(&&other["device_id"]), "{devices}");
    assert_eq!(whoami_status(&s, &alice.token).await, 200);
    let calls = s.calls("a").await;
    assert!(
        calls
            .iter()
            .any(|c| c["callback"] == "on_logged_out" && c["args"][1] == other["device_id"]),
        "{calls:?}"
    );
    assert_eq!(
        login(&s, "alice", "pw").await.0,
        403,
        "the old password no longer works"
    );
    let (_, third) = login(&s, "alice", "pw2").await;
    let third_token = third["access_token"].as_str().unwrap();
    let body = json!({"new_password": "pw3", "logout_devices": false, "auth": auth(&alice.user_id, "pw2")});
    assert_eq!(change_password(&alice, body).await.0, 200);
    assert_eq!(
        whoami_status(&s, third_token).await,
        200,
        "logout_devices: false keeps other sessions"
    );
}
