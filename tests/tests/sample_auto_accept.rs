//! The `auto_accept_invites` sample module (issue 4; Synapse scenario AA1): joins, the
//! direct-message option, `m.direct`, retries with backoff, giving up.

use std::time::Duration;

use modhost_tests::{scripted_entry, Client, TestServer, Workdir};
use serde_json::{json, Value};

/// A server with an optional `scripted` module (label `s`, answering `answers`) ahead of
/// auto_accept_invites configured with `config`.
async fn server(w: &Workdir, answers: Value, config: Value) -> TestServer {
    let scripted = scripted_entry(&w.copy_module("scripted", "s"), "s", answers);
    TestServer::start(&w.config(&format!(
        "enable_registration: true\nmodules:\n{scripted}  - module: auto_accept_invites\n    config: {config}\n"
    )))
    .await
}

async fn membership_of(c: &Client, room: &str, user: &str) -> Option<String> {
    let (_, state) = c
        .call(
            "GET",
            &format!("/rooms/{room}/state/m.room.member/{user}"),
            None,
        )
        .await;
    state["membership"].as_str().map(String::from)
}

/// Wait up to `ms` for `user` to reach `membership`; the last membership seen.
async fn wait_for(c: &Client, room: &str, user: &str, membership: &str, ms: u64) -> Option<String> {
    let mut seen = None;
    for _ in 0..ms / 25 {
        seen = membership_of(c, room, user).await;
        if seen.as_deref() == Some(membership) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    seen
}

async fn invite(from: &Client, room: &str, to: &str) {
    let (status, body) = from
        .call(
            "POST",
            &format!("/rooms/{room}/invite"),
            Some(json!({"user_id": to})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn m_direct(c: &Client) -> (u16, Value) {
    c.call(
        "GET",
        &format!("/user/{}/account_data/m.direct", c.user_id),
        None,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn invited_local_users_join_and_direct_rooms_are_filed() {
    let w = Workdir::new();
    let s = server(&w, json!({}), json!({})).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;

    let room = alice.create_room(json!({})).await;
    invite(&alice, &room, &bob.user_id).await;
    assert_eq!(
        wait_for(&alice, &room, &bob.user_id, "join", 5000)
            .await
            .as_deref(),
        Some("join")
    );
    assert_eq!(
        m_direct(&bob).await.0,
        404,
        "not a direct chat: m.direct untouched"
    );

    let dm = alice
        .create_room(json!({"is_direct": true, "invite": [bob.user_id]}))
        .await;
    assert_eq!(
        wait_for(&alice, &dm, &bob.user_id, "join", 5000)
            .await
            .as_deref(),
        Some("join")
    );
    let mut direct = (0, Value::Null);
    for _ in 0..100 {
        direct = m_direct(&bob).await;
        if direct.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(direct, (200, json!({ alice.user_id.clone(): [dm] })));
}

#[tokio::test(flavor = "multi_thread")]
async fn only_direct_messages_when_configured() {
    let w = Workdir::new();
    let s = server(&w, json!({}), json!({"only_for_direct_messages": true})).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.create_room(json!({})).await;
    invite(&alice, &room, &bob.user_id).await;
    let dm = alice
        .create_room(json!({"is_direct": true, "invite": [bob.user_id]}))
        .await;
    assert_eq!(
        wait_for(&alice, &dm, &bob.user_id, "join", 5000)
            .await
            .as_deref(),
        Some("join")
    );
    assert_eq!(
        membership_of(&alice, &room, &bob.user_id).await.as_deref(),
        Some("invite"),
        "the group invite is left alone"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_joins_are_retried_with_backoff() {
    let w = Workdir::new();
    let deny = json!({"deny": "M_FORBIDDEN"});
    let s = server(
        &w,
        json!({"user_may_join_room": {"seq": [deny, deny, null]}}),
        json!({"retry_initial_delay_ms": 100}),
    )
    .await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.create_room(json!({})).await;
    let started = std::time::Instant::now();
    invite(&alice, &room, &bob.user_id).await;
    assert_eq!(
        wait_for(&alice, &room, &bob.user_id, "join", 5000)
            .await
            .as_deref(),
        Some("join")
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(300),
        "waited 100 then 200 ms between tries: {elapsed:?}"
    );
    let tries = s
        .calls("s")
        .await
        .iter()
        .filter(|c| c["callback"] == "user_may_join_room")
        .count();
    assert_eq!(tries, 3, "two refusals, then the join");
}

#[tokio::test(flavor = "multi_thread")]
async fn gives_up_after_max_attempts() {
    let w = Workdir::new();
    let s = server(
        &w,
        json!({"user_may_join_room": {"deny": "M_FORBIDDEN"}}),
        json!({"retry_initial_delay_ms": 20, "max_attempts": 3}),
    )
    .await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.create_room(json!({})).await;
    invite(&alice, &room, &bob.user_id).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let tries = s
        .calls("s")
        .await
        .iter()
        .filter(|c| c["callback"] == "user_may_join_room")
        .count();
    assert_eq!(tries, 3);
    assert_eq!(
        membership_of(&alice, &room, &bob.user_id).await.as_deref(),
        Some("invite")
    );
}

#[test]
fn max_attempts_of_zero_is_a_config_error() {
    let w = Workdir::new();
    let config =
        w.config("modules:\n  - module: auto_accept_invites\n    config: {max_attempts: 0}\n");
    let (code, _, stderr) = w.check_config(&config);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("modules[0].config.max_attempts: module 'auto_accept_invites'")
            && stderr.contains("): must be at least 1"),
        "{stderr}"
    );
}
