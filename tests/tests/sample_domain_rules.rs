//! The `domain_rule_checker` sample module (issue 4): invites between permitted domains,
//! published rooms closed to some domains (read from room state and the directory), joins
//! by invite only, one-to-one rooms only.

use modhost_tests::{TestServer, Workdir};
use serde_json::json;

async fn server(w: &Workdir, config: serde_json::Value) -> TestServer {
    TestServer::start(&w.config(&format!(
        "enable_registration: true\nmodules:\n  - module: domain_rule_checker\n    config: {config}\n"
    )))
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn invites_follow_the_domain_mapping_and_published_rooms() {
    let w = Workdir::new();
    let s = server(
        &w,
        json!({
            "domain_mapping": {"test.local": ["test.local", "partner.example"]},
            "domains_prevented_from_being_invited_to_published_rooms": ["partner.example"],
            "can_only_join_rooms_with_invite": true,
        }),
    )
    .await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let carol = s.register("carol").await;
    let private = alice.create_room(json!({})).await;
    let invite = |room: String, user: &str| {
        let (alice, user) = (&alice, user.to_string());
        async move {
            alice
                .call(
                    "POST",
                    &format!("/rooms/{room}/invite"),
                    Some(json!({"user_id": user})),
                )
                .await
        }
    };
    assert_eq!(invite(private.clone(), &bob.user_id).await.0, 200);
    assert_eq!(invite(private.clone(), "@p:partner.example").await.0, 200);
    let (status, body) = invite(private.clone(), "@x:enemy.example").await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"errcode": "M_FORBIDDEN", "error": "Invites have been disabled on this server"})
        )
    );

    let public = alice.create_room(json!({"preset": "public_chat"})).await;
    assert_eq!(
        invite(public.clone(), "@p:partner.example").await.0,
        403,
        "partner.example users may not be invited to a room open to anyone"
    );
    assert_eq!(invite(public.clone(), &bob.user_id).await.0, 200);

    // Joins need an invite: bob has one, carol has not.
    assert_eq!(
        bob.call("POST", &format!("/rooms/{public}/join"), Some(json!({})))
            .await
            .0,
        200
    );
    let (status, body) = carol
        .call("POST", &format!("/rooms/{public}/join"), Some(json!({})))
        .await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"errcode": "M_FORBIDDEN", "error": "Not allowed to join this room"})
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unmapped_domains_follow_the_default() {
    let w = Workdir::new();
    let s = server(
        &w,
        json!({"domain_mapping": {"other.example": ["other.example"]}, "can_invite_if_not_in_domain_mapping": true}),
    )
    .await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let (status, _) = alice
        .call(
            "POST",
            &format!("/rooms/{room}/invite"),
            Some(json!({"user_id": "@x:anywhere.example"})),
        )
        .await;
    assert_eq!(
        status, 200,
        "test.local is not mapped and the default allows"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_one_to_one_rooms_when_configured() {
    let w = Workdir::new();
    let s = server(&w, json!({"can_only_create_one_to_one_rooms": true, "can_invite_if_not_in_domain_mapping": true})).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let carol = s.register("carol").await;
    let (status, body) = alice.call("POST", "/createRoom", Some(json!({}))).await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"errcode": "M_FORBIDDEN", "error": "You are not permitted to create rooms"})
        )
    );
    let (status, _) = alice
        .call(
            "POST",
            "/createRoom",
            Some(json!({"is_direct": true, "invite": [bob.user_id]})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = alice
        .call(
            "POST",
            "/createRoom",
            Some(json!({"is_direct": true, "invite": [bob.user_id, carol.user_id]})),
        )
        .await;
    assert_eq!(status, 403);
}

#[test]
fn unknown_settings_are_refused_with_their_path() {
    let w = Workdir::new();
    let config =
        w.config("modules:\n  - module: domain_rule_checker\n    config: {domain_maping: {}}\n");
    let (code, _, stderr) = w.check_config(&config);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("modules[0].config.domain_maping: module 'domain_rule_checker'")
            && stderr.contains("unknown field `domain_maping`"),
        "{stderr}"
    );
}
