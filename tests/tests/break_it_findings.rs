//! Answers to a newcomer's break-it pass: nobody bans themselves; someone who left reads
//! `/context` without learning newer state, and nothing once they forgot the room; a
//! registration password over Synapse's limit is refused before hashing.

use modhost_tests::{TestServer, Workdir};
use serde_json::json;

async fn server(w: &Workdir) -> TestServer {
    TestServer::start(&w.config("enable_registration: true\nmodules: []\n")).await
}

#[tokio::test(flavor = "multi_thread")]
async fn nobody_bans_themselves_though_a_self_kick_is_a_leave() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let me = json!({"user_id": alice.user_id});
    let (status, body) = alice
        .call("POST", &format!("/rooms/{room}/ban"), Some(me.clone()))
        .await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"errcode": "M_FORBIDDEN", "error": "You don't have permission to ban this user"})
        )
    );
    let (status, _) = alice
        .call("POST", &format!("/rooms/{room}/kick"), Some(me))
        .await;
    assert_eq!(status, 200, "kicking oneself is leaving");
}

#[tokio::test(flavor = "multi_thread")]
async fn departed_users_see_context_without_newer_state_and_nothing_once_forgotten() {
    let w = Workdir::new();
    let s = server(&w).await;
    let (alice, bob) = (s.register("alice").await, s.register("bob").await);
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    bob.call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    let (_, said) = alice.say(&room, "before bob left").await;
    let event = said["event_id"].as_str().unwrap().to_string();
    bob.call("POST", &format!("/rooms/{room}/leave"), Some(json!({})))
        .await;
    let topic = json!({"topic": "decided after bob left"});
    alice
        .call(
            "PUT",
            &format!("/rooms/{room}/state/m.room.topic/"),
            Some(topic),
        )
        .await;
    let context = format!("/rooms/{room}/context/{event}");
    let (status, body) = bob.call("GET", &context, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["event"]["event_id"], event.as_str());
    assert!(
        !body["state"].to_string().contains("decided after bob left"),
        "{body}"
    );
    bob.call("POST", &format!("/rooms/{room}/forget"), Some(json!({})))
        .await;
    let (status, body) = bob.call("GET", &context, None).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (403, Some("M_FORBIDDEN")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registration_password_over_512_bytes_is_refused() {
    let w = Workdir::new();
    let s = server(&w).await;
    let body =
        json!({"username": "long", "password": "x".repeat(513), "auth": {"type": "m.login.dummy"}});
    let (status, answer) = s
        .call("POST", "/_matrix/client/v3/register", None, Some(body))
        .await;
    assert_eq!(
        (status, answer),
        (
            400,
            json!({"errcode": "M_UNKNOWN", "error": "Invalid password"})
        )
    );
    let body =
        json!({"username": "long", "password": "x".repeat(512), "auth": {"type": "m.login.dummy"}});
    assert_eq!(
        s.call("POST", "/_matrix/client/v3/register", None, Some(body))
            .await
            .0,
        200
    );
}
