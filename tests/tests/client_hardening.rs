//! Regression tests for access control and correctness holes found in review: state
//! injection, alias and publishing rights, media served as pages, shadow-banned invites,
//! blocked rooms, sync state for new rooms, transaction IDs, concurrent writes, and callback
//! call sites that were missing.

use modhost_tests::{admin_server, scripted_server, TestServer, Workdir};
use serde_json::{json, Value};

async fn plain(w: &Workdir) -> TestServer {
    TestServer::start(&w.config("enable_registration: true\nmodules: []\n")).await
}

#[tokio::test(flavor = "multi_thread")]
async fn create_room_cannot_put_other_users_into_the_room() {
    let w = Workdir::new();
    let s = plain(&w).await;
    let mal = s.register("mal").await;
    let victim = s.register("victim").await;
    let inject = json!({"initial_state": [{"type": "m.room.member", "state_key": victim.user_id, "content": {"membership": "join"}}]});
    assert_eq!(
        mal.call("POST", "/createRoom", Some(inject)).await.1["errcode"],
        "M_BAD_JSON"
    );
    let keyed =
        json!({"initial_state": [{"type": "org.x", "state_key": victim.user_id, "content": {}}]});
    assert_eq!(mal.call("POST", "/createRoom", Some(keyed)).await.0, 403);
    let room = mal.create_room(json!({})).await;
    let (status, _) = mal
        .call(
            "PUT",
            &format!("/rooms/{room}/state/org.x/{}", victim.user_id),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 403, "state keyed by another user's ID");
    let (_, sync) = victim.call("GET", "/sync", None).await;
    assert_eq!(sync["rooms"]["join"], json!({}), "{sync}");
}

#[tokio::test(flavor = "multi_thread")]
async fn aliases_need_membership_and_publishing_needs_power() {
    let w = Workdir::new();
    let s = plain(&w).await;
    let alice = s.register("alice").await;
    let mal = s.register("mal").await;
    let room = alice.create_room(json!({"invite": [mal.user_id]})).await;
    let (status, body) = mal
        .call(
            "PUT",
            "/directory/room/%23squat:test.local",
            Some(json!({"room_id": room})),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            403,
            Some("You must be in the room to create an alias for it")
        )
    );
    mal.call("POST", &format!("/rooms/{room}/join"), Some(json!({})))
        .await;
    let (status, _) = mal
        .call(
            "PUT",
            &format!("/directory/list/room/{room}"),
            Some(json!({"visibility": "public"})),
        )
        .await;
    assert_eq!(status, 403, "a power-level-0 member cannot publish");
    assert_eq!(
        s.call("GET", "/_matrix/client/v3/publicRooms", None, None)
            .await
            .1["chunk"],
        json!([])
    );
    assert_eq!(
        alice
            .call(
                "PUT",
                &format!("/directory/list/room/{room}"),
                Some(json!({"visibility": "public"}))
            )
            .await
            .0,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn uploaded_html_is_never_served_as_a_page() {
    let w = Workdir::new();
    let s = plain(&w).await;
    let alice = s.register("alice").await;
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/_matrix/media/v3/upload?filename=x.html",
            s.base
        ))
        .bearer_auth(&alice.token)
        .header("content-type", "text/html")
        .body("<script>alert(1)</script>")
        .send()
        .await
        .unwrap();
    let uri = resp.json::<Value>().await.unwrap()["content_uri"]
        .as_str()
        .unwrap()
        .trim_start_matches("mxc://")
        .to_string();
    let got = reqwest::get(format!("{}/_matrix/media/v3/download/{uri}", s.base))
        .await
        .unwrap();
    let h = got.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("sandbox;"));
    assert_eq!(h["content-disposition"], "attachment; filename=\"x.html\"");
}

#[tokio::test(flavor = "multi_thread")]
async fn shadow_banned_invites_are_not_delivered() {
    let w = Workdir::new();
    let s = scripted_server(
        &w,
        "enable_registration: true\n",
        &[("a", json!({"check_registration_for_spam": "shadow_ban"}))],
    )
    .await;
    let shadow = s.register("shadow").await;
    drop(s);
    let s = plain(&w).await;
    let shadow = s.client(&shadow.user_id, &shadow.token);
    let victim = s.register("victim").await;
    let room = shadow
        .create_room(json!({"invite": [victim.user_id]}))
        .await;
    assert_eq!(
        shadow
            .call(
                "POST",
                &format!("/rooms/{room}/invite"),
                Some(json!({"user_id": victim.user_id}))
            )
            .await
            .0,
        200
    );
    let (_, sync) = victim.call("GET", "/sync", None).await;
    assert_eq!(sync["rooms"]["invite"], json!({}), "{sync}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shut_down_room_stays_closed() {
    let w = Workdir::new();
    let (s, root) = admin_server(&w, &[]).await;
    let alice = s.register("alice").await;
    let mal = s.register("mal").await;
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    mal.call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    assert_eq!(s.shut_down_room(&root.token, &room).await.0, 200);
    let blocked = json!("This room has been blocked on this server");
    assert_eq!(
        mal.call("POST", &format!("/join/{room}"), Some(json!({})))
            .await
            .1["error"],
        blocked
    );
    assert_eq!(mal.say(&room, "still alive").await.0, 403);
    assert_eq!(
        mal.call("GET", &format!("/rooms/{room}/messages"), None)
            .await
            .1["error"],
        blocked
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_room_joined_between_syncs_arrives_with_its_state() {
    let w = Workdir::new();
    let s = plain(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let (_, first) = bob.call("GET", "/sync", None).await;
    let since = first["next_batch"].as_str().unwrap().to_string();
    let room = alice
        .create_room(json!({"name": "Named", "preset": "public_chat"}))
        .await;
    bob.call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    let (_, inc) = bob.call("GET", &format!("/sync?since={since}"), None).await;
    let joined = &inc["rooms"]["join"][&room];
    let mut everything: Vec<Value> = joined["state"]["events"].as_array().unwrap().clone();
    everything.extend(
        joined["timeline"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .cloned(),
    );
    assert!(
        everything
            .iter()
            .any(|e| e["type"] == "m.room.name" && e["content"]["name"] == "Named"),
        "{inc}"
    );
    assert!(
        everything.iter().any(|e| e["type"] == "m.room.create"),
        "{inc}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn transaction_ids_are_per_room_and_concurrent_retries_send_once() {
    let w = Workdir::new();
    let s = plain(&w).await;
    let alice = s.register("alice").await;
    let (a, b) = (
        alice.create_room(json!({})).await,
        alice.create_room(json!({})).await,
    );
    let body = json!({"msgtype": "m.text", "body": "x"});
    let in_a = alice
        .call(
            "PUT",
            &format!("/rooms/{a}/send/m.room.message/same"),
            Some(body.clone()),
        )
        .await
        .1;
    let in_b = alice
        .call(
            "PUT",
            &format!("/rooms/{b}/send/m.room.message/same"),
            Some(body.clone()),
        )
        .await
        .1;
    assert_ne!(
        in_a["event_id"], in_b["event_id"],
        "same txn id in another room is another message"
    );

    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (c, room, body) = (
            s.client(&alice.user_id, &alice.token),
            a.clone(),
            body.clone(),
        );
        tasks.push(tokio::spawn(async move {
            c.call(
                "PUT",
                &format!("/rooms/{room}/send/m.room.message/race"),
                Some(body),
            )
            .await
            .1["event_id"]
                .clone()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_account_data_and_presence_writes_all_succeed() {
    let w = Workdir::new();
    let s = plain(&w).await;
    let alice = s.register("alice").await;
    let me = alice.user_id.clone();
    let mut tasks = Vec::new();
    for i in 0..12 {
        let c = s.client(&alice.user_id, &alice.token);
        let me = me.clone();
        tasks.push(tokio::spawn(async move {
            let ad = c
                .call(
                    "PUT",
                    &format!("/user/{me}/account_data/t{i}"),
                    Some(json!({"i": i})),
                )
                .await
                .0;
            let pr = c
                .call(
                    "PUT",
                    &format!("/presence/{me}/status"),
                    Some(json!({"presence": "online"})),
                )
                .await
                .0;
            (ad, pr)
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), (200, 200));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deactivation_logs_devices_out_and_new_rooms_ask_about_visibility() {
    let w = Workdir::new();
    let s = scripted_server(
        &w,
        "enable_registration: true\n",
        &[(
            "a",
            json!({"on_logged_out": null, "check_visibility_can_be_modified": true}),
        )],
    )
    .await;
    let alice = s.register("alice").await;
    alice.create_room(json!({})).await;
    let auth = json!({"auth": {"type": "m.login.password", "password": "pw"}});
    assert_eq!(
        alice
            .call("POST", "/account/deactivate", Some(auth))
            .await
            .0,
        200
    );
    let calls = s.calls("a").await;
    let visibility = calls
        .iter()
        .find(|c| c["callback"] == "check_visibility_can_be_modified")
        .expect("asked at creation");
    assert_eq!(
        visibility["args"][1], "private",
        "rooms without a visibility are private"
    );
    assert!(
        calls
            .iter()
            .any(|c| c["callback"] == "on_logged_out" && c["args"][0] == alice.user_id),
        "{calls:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn create_room_invites_are_not_rate_limited_and_3pid_masks_any_text() {
    let w = Workdir::new();
    let s = TestServer::start(&w.config("enable_registration: true\nrc_invites:\n  per_issuer: {per_second: 0.001, burst_count: 1}\nmodules: []\n")).await;
    let alice = s.register("alice").await;
    let mut invitees = Vec::new();
    for i in 0..4 {
        invitees.push(s.register(&format!("u{i}")).await.user_id);
    }
    let room = alice.create_room(json!({"invite": invitees})).await;
    let invite = json!({"id_server": "x", "id_access_token": "t", "medium": "email", "address": "aé@example.org"});
    assert_eq!(
        alice
            .call("POST", &format!("/rooms/{room}/invite"), Some(invite))
            .await
            .0,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn power_levels_cannot_be_raised_beyond_the_senders_own() {
    let w = Workdir::new();
    let s = plain(&w).await;
    let alice = s.register("alice").await;
    let mod_ = s.register("moderator").await;
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    mod_.call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    let (_, mut pl) = alice
        .call(
            "GET",
            &format!("/rooms/{room}/state/m.room.power_levels/"),
            None,
        )
        .await;
    pl["users"][&mod_.user_id] = json!(50);
    pl["events"]["m.room.power_levels"] = json!(50);
    assert_eq!(
        alice
            .call(
                "PUT",
                &format!("/rooms/{room}/state/m.room.power_levels/"),
                Some(pl.clone())
            )
            .await
            .0,
        200
    );
    let mut grab = pl.clone();
    grab["users"][&mod_.user_id] = json!(100);
    let (status, body) = mod_
        .call(
            "PUT",
            &format!("/rooms/{room}/state/m.room.power_levels/"),
            Some(grab),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let mut demote = pl.clone();
    demote["users"][&alice.user_id] = json!(0);
    assert_eq!(
        mod_.call(
            "PUT",
            &format!("/rooms/{room}/state/m.room.power_levels/"),
            Some(demote)
        )
        .await
        .0,
        403,
        "cannot demote a higher user"
    );
    let mut step_down = pl;
    step_down["users"][&mod_.user_id] = json!(10);
    assert_eq!(
        mod_.call(
            "PUT",
            &format!("/rooms/{room}/state/m.room.power_levels/"),
            Some(step_down)
        )
        .await
        .0,
        200,
        "may lower oneself"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn joined_history_visibility_hides_what_came_before_the_join() {
    let w = Workdir::new();
    let s = plain(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.create_room(json!({"preset": "public_chat", "initial_state": [{"type": "m.room.history_visibility", "content": {"history_visibility": "joined"}}]})).await;
    let (_, before) = alice.say(&room, "before bob").await;
    bob.call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    alice.say(&room, "after bob").await;
    let bodies = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["content"]["body"].as_str().map(String::from))
            .collect()
    };
    let (_, page) = bob
        .call(
            "GET",
            &format!("/rooms/{room}/messages?dir=b&limit=50"),
            None,
        )
        .await;
    assert_eq!(bodies(&page["chunk"]), ["after bob"]);
    let (status, _) = bob
        .call(
            "GET",
            &format!(
                "/rooms/{room}/event/{}",
                before["event_id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (_, sync) = bob.call("GET", "/sync", None).await;
    assert_eq!(
        bodies(&sync["rooms"]["join"][&room]["timeline"]["events"]),
        ["after bob"]
    );
    let (_, page) = alice
        .call(
            "GET",
            &format!("/rooms/{room}/messages?dir=b&limit=50"),
            None,
        )
        .await;
    assert_eq!(
        bodies(&page["chunk"]),
        ["after bob", "before bob"],
        "the creator saw everything"
    );
}
