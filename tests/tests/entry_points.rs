//! The entry-point table (docs/entry-points.md): for each operation, every door into it
//! (client API, admin, module API, `createRoom`) fires the callbacks Synapse fires there, in
//! Synapse's order, with the actor arguments Synapse passes. One test per row group; the
//! rows covered elsewhere are linked from the table.

use std::net::{IpAddr, Ipv4Addr};

use modhost_tests::{unique_txn, Client, TestServer, Workdir};
use serde_json::{json, Value};

/// Callbacks recorded by the module in these tests; every one answers "allow".
const WATCHED: &[&str] = &[
    "check_registration_for_spam",
    "check_login_for_spam",
    "on_user_login",
    "on_create_room",
    "user_may_create_room",
    "check_visibility_can_be_modified",
    "user_may_create_room_alias",
    "user_may_publish_room",
    "user_may_invite",
    "user_may_join_room",
    "user_may_send_state_event",
    "get_ratelimit_override_for_user",
    "check_event_allowed",
    "check_event_for_spam",
];

/// A server with one `scripted` module `a` watching [`WATCHED`] and forwarding host calls;
/// `root` is a server admin (registered before the module was loaded).
async fn door_server(w: &Workdir) -> (TestServer, Client) {
    let answers: serde_json::Map<String, Value> = WATCHED
        .iter()
        .map(|n| (n.to_string(), Value::Null))
        .collect();
    server_with(w, Value::Object(answers)).await
}

/// A server with one `scripted` module `a` answering `answers` and forwarding host calls;
/// `root` is a server admin (registered before the module was loaded).
async fn server_with(w: &Workdir, answers: Value) -> (TestServer, Client) {
    let first = TestServer::start(&w.config("enable_registration: true\nmodules: []\n")).await;
    let root = first.register("root").await;
    drop(first);
    let lib = w.copy_module("scripted", "a");
    let config = json!({"label": "a", "host_calls": true, "answers": answers});
    let yaml = format!(
        "enable_registration: true\nadmin_users: [\"@root:test.local\"]\nmodules:\n  - module: {}\n    config: {config}\n",
        lib.display()
    );
    let server = TestServer::start(&w.config(&yaml)).await;
    let root = server.client(&root.user_id, &root.token);
    (server, root)
}

/// `(name, args)` of the calls recorded since the first `from`.
async fn calls_since(s: &TestServer, from: usize) -> Vec<(String, Value)> {
    s.calls("a").await[from..]
        .iter()
        .map(|c| {
            (
                c["callback"].as_str().unwrap_or_default().into(),
                c["args"].clone(),
            )
        })
        .collect()
}

fn names(calls: &[(String, Value)]) -> Vec<&str> {
    calls.iter().map(|(n, _)| n.as_str()).collect()
}

/// Names with runs of the same callback (one `check_event_allowed` per initial event)
/// collapsed to one, so the order of the checks is compared, not the number of events.
fn collapsed(calls: &[(String, Value)]) -> Vec<&str> {
    let mut out = names(calls);
    out.dedup();
    out
}

fn dbg(s: &str) -> String {
    format!("{s:?}")
}

async fn mark(s: &TestServer) -> usize {
    s.calls("a").await.len()
}

async fn join(c: &Client, room: &str) -> u16 {
    c.call("POST", &format!("/join/{room}"), Some(json!({})))
        .await
        .0
}

async fn invite(c: &Client, room: &str, who: &str) -> u16 {
    let body = json!({"user_id": who});
    c.call("POST", &format!("/rooms/{room}/invite"), Some(body))
        .await
        .0
}

async fn put_alias(c: &Client, room: &str, alias: &str) -> (u16, Value) {
    let path = format!("/directory/room/%23{alias}:test.local");
    c.call("PUT", &path, Some(json!({"room_id": room}))).await
}

const LIMITERS: [&str; 3] = [
    "get_ratelimit_override_for_user",
    "get_ratelimit_override_for_user",
    "get_ratelimit_override_for_user",
];

#[tokio::test(flavor = "multi_thread")]
async fn register_and_login_tell_spam_checkers_the_peer_address_not_a_forwarded_one() {
    let w = Workdir::new();
    let (s, _) = door_server(&w).await;
    // Connect from 127.0.0.2 (still loopback) so the address cannot be a hard-coded guess.
    let http = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .build()
        .unwrap();
    let post = |path: &str, body: Value| {
        http.post(format!("{}/_matrix/client/v3/{path}", s.base))
            .header("user-agent", "door-test/1")
            .header("x-forwarded-for", "203.0.113.9")
            .json(&body)
            .send()
    };
    let reg = json!({"username": "dora", "password": "pw", "auth": {"type": "m.login.dummy"}});
    assert_eq!(post("register", reg).await.unwrap().status(), 200);
    let from = mark(&s).await;
    let login = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "dora"}, "password": "pw"});
    assert_eq!(post("login", login).await.unwrap().status(), 200);
    let calls = s.calls("a").await;
    assert_eq!(
        calls[0]["args"],
        json!(["dora", null, [["door-test/1", "127.0.0.2"]]])
    );
    let after: Vec<_> = calls[from..]
        .iter()
        .map(|c| (&c["callback"], &c["args"]))
        .collect();
    let info = r#"[("door-test/1", "127.0.0.2")]"#;
    assert_eq!(
        after,
        vec![
            (
                &json!("check_login_for_spam"),
                &json!([dbg("@dora:test.local"), "None", "None", info, "None"])
            ),
            (
                &json!("on_user_login"),
                &json!(["@dora:test.local", "m.login.password", null])
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn token_logins_report_the_identity_provider_of_their_token() {
    let w = Workdir::new();
    let (s, _) = door_server(&w).await;
    let alice = s.register("alice").await;
    let token = s
        .host_call(
            "a",
            "create_login_token",
            json!([alice.user_id, null, "oidc-main"]),
        )
        .await;
    let from = mark(&s).await;
    let body = json!({"type": "m.login.token", "token": token["ok"]});
    let (status, _) = s
        .call("POST", "/_matrix/client/v3/login", None, Some(body))
        .await;
    assert_eq!(status, 200);
    let calls = calls_since(&s, from).await;
    assert_eq!(calls[0].1[4], json!(format!("{:?}", Some("oidc-main"))));
    assert_eq!(
        calls[1].1,
        json!([alice.user_id, "m.login.token", "oidc-main"])
    );
}

/// The callbacks a `createRoom` with an alias, `visibility: public` and one invite fires
/// (runs collapsed): the creator's join is not asked `user_may_join_room`; admins skip
/// `user_may_create_room` and `user_may_invite`.
fn create_room_calls(admin: bool) -> Vec<&'static str> {
    let mut want = vec!["on_create_room"];
    if !admin {
        want.push("user_may_create_room");
    }
    want.extend([
        "check_visibility_can_be_modified",
        "user_may_create_room_alias",
        "check_event_allowed",
    ]);
    if !admin {
        want.extend(["user_may_invite", "check_event_allowed"]);
    }
    want
}

#[tokio::test(flavor = "multi_thread")]
async fn create_room_fires_the_same_checks_from_client_admin_and_module_api() {
    let w = Workdir::new();
    let (s, root) = door_server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let body = |alias: &str| json!({"room_alias_name": alias, "visibility": "public", "name": "N", "invite": [bob.user_id]});
    let from = mark(&s).await;
    alice.create_room(body("via-client")).await;
    let client = calls_since(&s, from).await;
    assert_eq!(collapsed(&client), create_room_calls(false));
    assert_eq!(client[0].1[0], json!(alice.user_id));
    assert_eq!(client[0].1[2], json!(false), "is_requester_admin");
    assert_eq!(client[2].1[1], json!("public"));
    assert_eq!(
        client[3].1,
        json!([dbg(&alice.user_id), dbg("#via-client:test.local")])
    );
    let from = mark(&s).await;
    root.create_room(body("via-admin")).await;
    let admin = calls_since(&s, from).await;
    assert_eq!(collapsed(&admin), create_room_calls(true));
    assert_eq!(admin[0].1[2], json!(true), "is_requester_admin");
    let from = mark(&s).await;
    let created = s
        .host_call(
            "a",
            "create_room",
            json!([alice.user_id, body("via-module")]),
        )
        .await;
    assert!(created["ok"]["room_id"].is_string(), "{created}");
    assert_eq!(
        collapsed(&calls_since(&s, from).await),
        create_room_calls(false)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invites_rate_limit_every_inviter_and_spam_check_all_but_admins() {
    let w = Workdir::new();
    let (s, root) = door_server(&w).await;
    let (alice, bob, carol) = (
        s.register("alice").await,
        s.register("bob").await,
        s.register("carol").await,
    );
    let room = alice
        .create_room(
            json!({"preset": "public_chat", "power_level_content_override": {"invite": 0}}),
        )
        .await;
    assert_eq!(join(&root, &room).await, 200);
    let mut client = LIMITERS.to_vec();
    client.extend(["user_may_invite", "check_event_allowed"]);
    let mut admin = LIMITERS.to_vec();
    admin.push("check_event_allowed");
    let from = mark(&s).await;
    assert_eq!(invite(&alice, &room, &bob.user_id).await, 200);
    let calls = calls_since(&s, from).await;
    assert_eq!(names(&calls), client);
    assert_eq!(calls[0].1, json!([alice.user_id, "rc_invites.per_room"]));
    assert_eq!(
        calls[3].1,
        json!([dbg(&alice.user_id), dbg(&bob.user_id), dbg(&room)])
    );
    let from = mark(&s).await;
    assert_eq!(invite(&root, &room, &carol.user_id).await, 200);
    assert_eq!(
        names(&calls_since(&s, from).await),
        admin,
        "admins skip user_may_invite"
    );
    // The module API: the same checks as the client API, for the sender.
    let dave = s.register("dave").await;
    let from = mark(&s).await;
    let sent = s
        .host_call(
            "a",
            "update_room_membership",
            json!([alice.user_id, dave.user_id, room, "invite"]),
        )
        .await;
    assert!(sent["ok"].is_string(), "{sent}");
    assert_eq!(names(&calls_since(&s, from).await), client);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_invite_for_a_shadow_banned_user_really_goes_out() {
    let w = Workdir::new();
    let answers = json!({"check_registration_for_spam": {"seq": ["shadow_ban", "allow"]}});
    let (s, _) = server_with(&w, answers).await;
    let (alice, bob) = (s.register("alice").await, s.register("bob").await);
    let room = alice.create_room(json!({})).await;
    // Alice's own invite is only pretended (shadow ban)…
    let (status, _) = alice
        .call(
            "POST",
            &format!("/rooms/{room}/invite"),
            Some(json!({"user_id": bob.user_id})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, sync) = bob.call("GET", "/sync", None).await;
    assert!(sync["rooms"]["invite"].get(&room).is_none(), "{sync}");
    // …a module's on her behalf goes out: the module API's requester has no shadow ban.
    let sent = s
        .host_call(
            "a",
            "update_room_membership",
            json!([alice.user_id, bob.user_id, room, "invite"]),
        )
        .await;
    assert!(sent["ok"].is_string(), "{sent}");
    let (_, sync) = bob.call("GET", "/sync", None).await;
    assert!(sync["rooms"]["invite"].get(&room).is_some(), "{sync}");
}

#[tokio::test(flavor = "multi_thread")]
async fn joins_spam_check_everyone_but_admins_from_every_door() {
    let w = Workdir::new();
    let (s, root) = door_server(&w).await;
    let (alice, bob) = (s.register("alice").await, s.register("bob").await);
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    let from = mark(&s).await;
    assert_eq!(join(&bob, &room).await, 200);
    let calls = calls_since(&s, from).await;
    assert_eq!(names(&calls), ["user_may_join_room", "check_event_allowed"]);
    assert_eq!(calls[0].1, json!([dbg(&bob.user_id), dbg(&room), "false"]));
    let from = mark(&s).await;
    assert_eq!(join(&root, &room).await, 200);
    assert_eq!(names(&calls_since(&s, from).await), ["check_event_allowed"]);
    let carol = s.register("carol").await;
    let from = mark(&s).await;
    let sent = s
        .host_call(
            "a",
            "update_room_membership",
            json!([carol.user_id, carol.user_id, room, "join"]),
        )
        .await;
    assert!(sent["ok"].is_string(), "{sent}");
    assert_eq!(
        names(&calls_since(&s, from).await),
        ["user_may_join_room", "check_event_allowed"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn aliases_are_spam_checked_only_for_members_and_admins() {
    let w = Workdir::new();
    let (s, root) = door_server(&w).await;
    let (alice, bob) = (s.register("alice").await, s.register("bob").await);
    let room = alice.create_room(json!({})).await;
    let from = mark(&s).await;
    let (status, body) = put_alias(&bob, &room, "outsider").await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"errcode": "M_FORBIDDEN", "error": "You must be in the room to create an alias for it"})
        )
    );
    assert!(
        calls_since(&s, from).await.is_empty(),
        "no alias check for a non-member"
    );
    assert_eq!(put_alias(&alice, &room, "member").await.0, 200);
    assert_eq!(put_alias(&root, &room, "admin").await.0, 200);
    let calls = calls_since(&s, from).await;
    assert_eq!(
        calls.iter().map(|(_, a)| a.clone()).collect::<Vec<_>>(),
        [
            json!([dbg(&alice.user_id), dbg("#member:test.local")]),
            json!([dbg(&root.user_id), dbg("#admin:test.local")]),
        ],
        "admins are asked too (create_association has no admin bypass)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn events_are_checked_alike_from_the_client_and_the_module_api() {
    let w = Workdir::new();
    let (s, root) = door_server(&w).await;
    let alice = s.register("alice").await;
    // Admins get no power-level bypass: root needs the power to set the topic.
    let users = json!({alice.user_id.clone(): 100, root.user_id.clone(): 50});
    let pl = json!({"users": users});
    let room = alice
        .create_room(json!({"preset": "public_chat", "power_level_content_override": pl}))
        .await;
    assert_eq!(join(&root, &room).await, 200);
    let message = json!({"msgtype": "m.text", "body": "hi"});
    let checks = ["check_event_allowed", "check_event_for_spam"];
    let from = mark(&s).await;
    let path = format!("/rooms/{room}/send/m.room.message/{}", unique_txn());
    assert_eq!(alice.call("PUT", &path, Some(message.clone())).await.0, 200);
    assert_eq!(names(&calls_since(&s, from).await), checks);
    let from = mark(&s).await;
    let event = json!({"room_id": room, "sender": alice.user_id, "type": "m.room.message", "content": message});
    let sent = s
        .host_call("a", "create_and_send_event_into_room", json!([event]))
        .await;
    assert!(sent["ok"]["event_id"].is_string(), "{sent}");
    assert_eq!(names(&calls_since(&s, from).await), checks);
    // State: the client endpoint asks user_may_send_state_event first (not for admins); the
    // module API never does (Synapse only asks it on the client endpoint).
    let topic = |t: &str| json!({"topic": t});
    let state_path = format!("/rooms/{room}/state/m.room.topic/");
    let from = mark(&s).await;
    assert_eq!(
        alice.call("PUT", &state_path, Some(topic("a"))).await.0,
        200
    );
    let mut with_state_check = vec!["user_may_send_state_event"];
    with_state_check.extend(checks);
    assert_eq!(names(&calls_since(&s, from).await), with_state_check);
    let from = mark(&s).await;
    assert_eq!(root.call("PUT", &state_path, Some(topic("b"))).await.0, 200);
    assert_eq!(names(&calls_since(&s, from).await), checks);
    let from = mark(&s).await;
    let event = json!({"room_id": room, "sender": alice.user_id, "type": "m.room.topic", "state_key": "", "content": topic("c")});
    let sent = s
        .host_call("a", "create_and_send_event_into_room", json!([event]))
        .await;
    assert!(sent["ok"]["event_id"].is_string(), "{sent}");
    assert_eq!(names(&calls_since(&s, from).await), checks);
}

#[tokio::test(flavor = "multi_thread")]
async fn client_registration_asks_the_password_providers_before_the_spam_checker() {
    let w = Workdir::new();
    let watched = [
        "get_username_for_registration",
        "get_displayname_for_registration",
        "check_registration_for_spam",
        "on_user_registration",
    ];
    let answers: serde_json::Map<String, Value> = watched
        .iter()
        .map(|n| (n.to_string(), Value::Null))
        .collect();
    let (s, _) = server_with(&w, Value::Object(answers)).await;
    let from = mark(&s).await;
    s.register("erin").await;
    assert_eq!(names(&calls_since(&s, from).await), watched);
    // The module API's register_user has no password providers to ask.
    let from = mark(&s).await;
    let made = s.host_call("a", "register_user", json!(["fay"])).await;
    assert_eq!(made, json!({"ok": "@fay:test.local"}));
    assert_eq!(
        names(&calls_since(&s, from).await),
        ["check_registration_for_spam", "on_user_registration"]
    );
}
