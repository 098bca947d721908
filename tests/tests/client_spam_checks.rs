//! Spam-checker callbacks at their client-API call sites (spec §6.1), over HTTP.

use modhost_tests::{scripted_server, TestServer, Workdir};
use serde_json::{json, Value};

async fn one(w: &Workdir, answers: Value) -> TestServer {
    scripted_server(w, "enable_registration: true\n", &[("a", answers)]).await
}

fn find<'a>(calls: &'a [Value], name: &str) -> Vec<&'a Value> {
    calls
        .iter()
        .filter(|c| c["callback"] == name)
        .map(|c| &c["args"])
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn s1_check_event_for_spam_sees_the_message_and_its_denial_reaches_the_client() {
    let w = Workdir::new();
    let s = one(&w, json!({"check_event_for_spam": {"deny": "M_SERVER_NOT_TRUSTED", "fields": {"additional_field": "12345"}}})).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let (status, body) = alice.say(&room, "test-X").await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        json!({"errcode": "M_SERVER_NOT_TRUSTED", "error": "This message has been rejected as probable spam", "additional_field": "12345"})
    );
    let calls = s.calls("a").await;
    let seen = find(&calls, "check_event_for_spam");
    assert_eq!(
        seen.len(),
        1,
        "room creation events are not spam-checked: {calls:?}"
    );
    assert!(
        seen[0][0].as_str().unwrap().contains(r#""body":"test-X""#),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn s1_not_spam_lets_the_message_through() {
    let w = Workdir::new();
    let s = one(&w, json!({"check_event_for_spam": "not_spam"})).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let (status, body) = alice.say(&room, "hello").await;
    assert_eq!(status, 200, "{body}");
    assert!(body["event_id"].as_str().unwrap().starts_with('$'));
}

#[tokio::test(flavor = "multi_thread")]
async fn s7_s9_user_may_create_room_gets_the_body_and_can_deny_with_its_errcode() {
    let w = Workdir::new();
    let s = one(
        &w,
        json!({"user_may_create_room": {"deny": "M_UNAUTHORIZED"}}),
    )
    .await;
    let alice = s.register("alice").await;
    let (status, body) = alice
        .call("POST", "/createRoom", Some(json!({"foo": "baa"})))
        .await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"errcode": "M_UNAUTHORIZED", "error": "You are not permitted to create rooms"})
        )
    );
    let calls = s.calls("a").await;
    assert_eq!(
        find(&calls, "user_may_create_room")[0],
        &json!([format!("{:?}", alice.user_id), "{\"foo\":\"baa\"}"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_s4_s6_join_checks_see_invites_deny_with_fields_and_skip_the_creator() {
    let w = Workdir::new();
    let s = one(&w, json!({"user_may_join_room": {"deny": "M_BAD_ALIAS", "fields": {"another_field": "12345"}}})).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    // S6: the creator's own join at creation is not checked.
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    assert!(s.calls("a").await.is_empty());
    let (status, body) = bob
        .call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"errcode": "M_BAD_ALIAS", "error": "Not allowed to join this room", "another_field": "12345"})
        )
    );
    assert_eq!(
        find(&s.calls("a").await, "user_may_join_room")[0],
        &json!([format!("{:?}", bob.user_id), format!("{room:?}"), "false"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invites_are_checked_with_inviter_invitee_and_room() {
    let w = Workdir::new();
    let s = one(&w, json!({"user_may_invite": {"deny": "M_FORBIDDEN"}})).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.create_room(json!({})).await;
    let (status, body) = alice
        .call(
            "POST",
            &format!("/rooms/{room}/invite"),
            Some(json!({"user_id": bob.user_id})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"errcode": "M_FORBIDDEN", "error": "Invites have been disabled on this server"})
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn s11_state_events_are_checked_with_their_type_key_and_content() {
    let w = Workdir::new();
    let s = one(
        &w,
        json!({"user_may_send_state_event": {"deny": "M_FORBIDDEN"}}),
    )
    .await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let (status, body) = alice
        .call(
            "PUT",
            &format!("/rooms/{room}/state/test.event.type/test.state.key"),
            Some(json!({"foo": "bar"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"errcode": "M_FORBIDDEN", "error": "You are not permitted to send the state event"})
        )
    );
    let calls = s.calls("a").await;
    let args = find(&calls, "user_may_send_state_event")[0]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        args[2..],
        [
            json!("\"test.event.type\""),
            json!("\"test.state.key\""),
            json!("{\"foo\":\"bar\"}")
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn s15_s16_registration_spam_denies_as_rate_limit_or_shadow_bans() {
    let w = Workdir::new();
    let s = one(&w, json!({"check_registration_for_spam": "deny"})).await;
    let (status, body) = s
        .call(
            "POST",
            "/_matrix/client/v3/register",
            None,
            Some(
                json!({"username": "spammer", "password": "pw", "auth": {"type": "m.login.dummy"}}),
            ),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            429,
            json!({"errcode": "M_LIMIT_EXCEEDED", "error": "Rate limited"})
        )
    );

    let w = Workdir::new();
    let s = one(&w, json!({"check_registration_for_spam": "shadow_ban"})).await;
    let shadow = s.register("shadow").await;
    let room = shadow.create_room(json!({})).await;
    let (status, body) = shadow.say(&room, "you will never see this").await;
    assert_eq!(status, 200, "shadow-banned users are not told: {body}");
    let event_id = body["event_id"].as_str().unwrap();
    let (status, _) = shadow
        .call("GET", &format!("/rooms/{room}/event/{event_id}"), None)
        .await;
    assert_eq!(status, 404, "the message was never stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn s19_login_spam_blocks_login_with_the_modules_fields() {
    let w = Workdir::new();
    let s = one(
        &w,
        json!({"check_login_for_spam": {"deny": "M_LIMIT_EXCEEDED", "fields": {"extra": "value"}}}),
    )
    .await;
    s.register("alice").await;
    let login = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": "pw"});
    let (status, body) = s
        .call("POST", "/_matrix/client/v3/login", None, Some(login))
        .await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"errcode": "M_LIMIT_EXCEEDED", "error": "Login was blocked by the server", "extra": "value"})
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn s21_username_spam_hides_users_from_directory_search() {
    for (hide, expected) in [(false, 1), (true, 0)] {
        let w = Workdir::new();
        let s = one(&w, json!({"check_username_for_spam": hide})).await;
        let user1 = s.register("user1").await;
        let user2 = s.register("user2").await;
        let room = user1.create_room(json!({"preset": "public_chat"})).await;
        user2
            .call("POST", &format!("/join/{room}"), Some(json!({})))
            .await;
        let (status, body) = user1
            .call(
                "POST",
                "/user_directory/search",
                Some(json!({"search_term": "user2"})),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            body["results"].as_array().unwrap().len(),
            expected,
            "hide={hide}: {body}"
        );
        assert_eq!(
            find(&s.calls("a").await, "check_username_for_spam")[0],
            &json!([user2.user_id, user1.user_id])
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn aliases_and_publishing_are_checked() {
    let w = Workdir::new();
    let s = one(&w, json!({"user_may_create_room_alias": "not_spam", "user_may_publish_room": {"deny": "M_FORBIDDEN"}})).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let (status, _) = alice
        .call(
            "PUT",
            "/directory/room/%23mine:test.local",
            Some(json!({"room_id": room})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = alice
        .call("GET", "/directory/room/%23mine:test.local", None)
        .await;
    assert_eq!(
        (status, body["room_id"].as_str()),
        (200, Some(room.as_str()))
    );
    let (status, body) = alice
        .call(
            "PUT",
            &format!("/directory/list/room/{room}"),
            Some(json!({"visibility": "public"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"errcode": "M_FORBIDDEN", "error": "This user is not permitted to publish rooms to the room list"})
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn r1_invite_limits_apply_unless_a_module_overrides_them() {
    let limits = "rc_invites:\n  per_issuer: {per_second: 0.001, burst_count: 1}\n";
    for (answers, second_status) in [
        (json!({"user_may_invite": "not_spam"}), 429),
        (
            json!({"get_ratelimit_override_for_user": {"per_second": 0.1, "burst_count": 10}}),
            200,
        ),
    ] {
        let w = Workdir::new();
        let s = modhost_tests::scripted_server(
            &w,
            &format!("enable_registration: true\n{limits}"),
            &[("a", answers)],
        )
        .await;
        let alice = s.register("alice").await;
        let (bob, carol) = (s.register("bob").await, s.register("carol").await);
        let room = alice.create_room(json!({})).await;
        assert_eq!(
            alice
                .call(
                    "POST",
                    &format!("/rooms/{room}/invite"),
                    Some(json!({"user_id": bob.user_id}))
                )
                .await
                .0,
            200
        );
        let (status, body) = alice
            .call(
                "POST",
                &format!("/rooms/{room}/invite"),
                Some(json!({"user_id": carol.user_id})),
            )
            .await;
        assert_eq!(status, second_status, "{body}");
        if status == 429 {
            assert_eq!(body["errcode"], "M_LIMIT_EXCEEDED");
            assert!(body["retry_after_ms"].as_u64().unwrap() > 0);
        } else {
            let limiters: Vec<Value> = s
                .calls("a")
                .await
                .iter()
                .map(|c| c["args"][1].clone())
                .collect();
            assert_eq!(
                limiters[..3],
                [
                    json!("rc_invites.per_room"),
                    json!("rc_invites.per_user"),
                    json!("rc_invites.per_issuer")
                ]
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn s12_s13_third_party_invites_are_checked_then_stored() {
    let invite = json!({"id_server": "id.example.org", "id_access_token": "t", "medium": "email", "address": "teresa@example.com"});
    let w = Workdir::new();
    let s = one(&w, json!({"user_may_send_3pid_invite": "not_spam"})).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    assert_eq!(
        alice
            .call(
                "POST",
                &format!("/rooms/{room}/invite"),
                Some(invite.clone())
            )
            .await
            .0,
        200
    );
    let args = &find(&s.calls("a").await, "user_may_send_3pid_invite")[0].clone();
    assert_eq!(
        args,
        &json!([
            format!("{:?}", alice.user_id),
            "\"email\"",
            "\"teresa@example.com\"",
            format!("{room:?}")
        ])
    );
    let (_, state) = alice
        .call("GET", &format!("/rooms/{room}/state"), None)
        .await;
    let stored = state
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "m.room.third_party_invite")
        .count();
    assert_eq!(stored, 1);

    let w = Workdir::new();
    let s = one(&w, json!({"user_may_send_3pid_invite": {"deny": "ORG_MATRIX_EXPIRED_ACCOUNT", "fields": {"field": "value"}}})).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let (status, body) = alice
        .call("POST", &format!("/rooms/{room}/invite"), Some(invite))
        .await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"errcode": "ORG_MATRIX_EXPIRED_ACCOUNT", "error": "Cannot send threepid invite", "field": "value"})
        )
    );
    let (_, state) = alice
        .call("GET", &format!("/rooms/{room}/state"), None)
        .await;
    assert!(
        !state
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "m.room.third_party_invite"),
        "no invite stored"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn p13_a_module_chooses_the_display_name_at_registration() {
    let w = Workdir::new();
    let s = one(&w, json!({"get_displayname_for_registration": "rin-foo"})).await;
    let rin = s.register("rin").await;
    let (_, name) = s
        .call(
            "GET",
            &format!("/_matrix/client/v3/profile/{}/displayname", rin.user_id),
            None,
            None,
        )
        .await;
    assert_eq!(name, json!({"displayname": "rin-foo"}));
}

#[tokio::test(flavor = "multi_thread")]
async fn s8_room_upgrades_ask_user_may_create_room_with_the_copied_state() {
    let w = Workdir::new();
    let s = one(&w, json!({"user_may_create_room": "not_spam"})).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({"topic": "foo"})).await;
    let before = s.calls("a").await.len();
    let (status, body) = alice
        .call(
            "POST",
            &format!("/rooms/{room}/upgrade"),
            Some(json!({"new_version": "10"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let replacement = body["replacement_room"].as_str().unwrap().to_string();
    let calls = s.calls("a").await;
    let args = &calls[before]["args"];
    assert_eq!(args[0], format!("{:?}", alice.user_id));
    let config: Value = serde_json::from_str(args[1].as_str().unwrap()).unwrap();
    let topic = config["initial_state"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "m.room.topic")
        .cloned();
    assert_eq!(
        topic,
        Some(json!({"type": "m.room.topic", "state_key": "", "content": {"topic": "foo"}}))
    );
    let (_, tomb) = alice
        .call(
            "GET",
            &format!("/rooms/{room}/state/m.room.tombstone/"),
            None,
        )
        .await;
    assert_eq!(tomb["replacement_room"], replacement);
    let (_, topic) = alice
        .call(
            "GET",
            &format!("/rooms/{replacement}/state/m.room.topic/"),
            None,
        )
        .await;
    assert_eq!(topic, json!({"topic": "foo"}));
}
