//! Presence through `/sync`, with presence-router modules adding recipients (spec §6.4 PR1).

use modhost_tests::{scripted_server, Client, Workdir};
use serde_json::json;

async fn presence_senders(c: &Client) -> Vec<String> {
    let (status, body) = c.call("GET", "/sync", None).await;
    assert_eq!(status, 200, "{body}");
    body["presence"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["sender"].as_str().map(String::from))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn pr1_presence_reaches_room_members_and_whoever_a_router_adds() {
    let w = Workdir::new();
    let routes = json!({"@gobbler:test.local": [{"user_id": "@alice:test.local"}]});
    let s = scripted_server(
        &w,
        "enable_registration: true\n",
        &[(
            "a",
            json!({"get_interested_users": [], "get_users_for_states": routes}),
        )],
    )
    .await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let gobbler = s.register("gobbler").await;
    let carol = s.register("carol").await;
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    bob.call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;

    let me = alice.user_id.clone();
    assert_eq!(
        alice
            .call(
                "PUT",
                &format!("/presence/{me}/status"),
                Some(json!({"presence": "online", "status_msg": "hi"}))
            )
            .await
            .0,
        200
    );
    let (_, status) = bob
        .call("GET", &format!("/presence/{me}/status"), None)
        .await;
    assert_eq!(
        (status["presence"].as_str(), status["status_msg"].as_str()),
        (Some("online"), Some("hi"))
    );

    assert_eq!(
        presence_senders(&bob).await,
        std::slice::from_ref(&me),
        "room members see it"
    );
    assert_eq!(
        presence_senders(&gobbler).await,
        std::slice::from_ref(&me),
        "the router added the gobbler"
    );
    assert!(
        presence_senders(&carol).await.is_empty(),
        "unrelated users do not"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn all_users_interest_sees_everyones_presence() {
    let w = Workdir::new();
    let s = scripted_server(
        &w,
        "enable_registration: true\n",
        &[(
            "a",
            json!({"get_interested_users": "ALL", "get_users_for_states": {}}),
        )],
    )
    .await;
    let alice = s.register("alice").await;
    let carol = s.register("carol").await;
    let me = alice.user_id.clone();
    alice
        .call(
            "PUT",
            &format!("/presence/{me}/status"),
            Some(json!({"presence": "unavailable"})),
        )
        .await;
    assert_eq!(presence_senders(&carol).await, [me]);
    let bad = alice
        .call(
            "PUT",
            &format!("/presence/{}/status", carol.user_id),
            Some(json!({"presence": "online"})),
        )
        .await;
    assert_eq!(bad.0, 403);
}
