//! The encryption parts of `/sync` (spec §"Send-to-Device messaging", §"Tracking the device
//! list for a user"): to-device messages delivered once and waking long-polls, device-list
//! changes and `GET /keys/changes`, and what deleting a device or logging out does.

#[path = "e2ee_common/mod.rs"]
mod common;

use common::*;
use modhost_tests::{unique_txn, Workdir};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn to_device_messages_reach_the_device_once_and_wake_its_sync() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let alice2 = login(&s, "alice").await;
    let bob = s.register("bob").await;
    let (a, d1) = (alice.user_id.clone(), device_of(&alice).await);
    let first = sync(&alice, None).await;
    let token = first["next_batch"].as_str().unwrap().to_string();
    assert_eq!(first["to_device"], json!({"events": []}));
    // The same transaction twice queues one message.
    let txn = unique_txn();
    for _ in 0..2 {
        let sent = send_to_device(&bob, &txn, json!({&a: {&d1: {"ciphertext": "one"}}})).await;
        assert_eq!(sent, (200, json!({})));
    }
    assert_eq!(
        sync(&alice2, None).await["to_device"]["events"],
        json!([]),
        "only the addressed device gets it"
    );
    let got = sync(&alice, Some(&token)).await;
    assert_eq!(
        got["to_device"]["events"],
        json!([{"sender": bob.user_id, "type": "m.room.encrypted", "content": {"ciphertext": "one"}}])
    );
    // Retrying with the old token still gets it; the next token proves receipt and deletes it.
    assert_eq!(
        sync(&alice, Some(&token)).await["to_device"]["events"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let next = got["next_batch"].as_str().unwrap();
    let after = sync(&alice, Some(next)).await;
    assert_eq!(after["to_device"]["events"], json!([]));
    assert_eq!(
        sync(&alice, Some(&token)).await["to_device"]["events"],
        json!([]),
        "deleted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn to_device_star_reaches_every_device_and_wakes_a_long_poll() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let alice2 = login(&s, "alice").await;
    let bob = s.register("bob").await;
    let a = alice.user_id.clone();
    let t1 = sync(&alice, None).await["next_batch"]
        .as_str()
        .unwrap()
        .to_string();
    // `*`: every device of the user; the other device's own queue is separate.
    let t2 = sync(&alice2, None).await["next_batch"]
        .as_str()
        .unwrap()
        .to_string();
    let sent = send_to_device(
        &bob,
        &unique_txn(),
        json!({&a: {"*": {"ciphertext": "all"}}}),
    )
    .await;
    assert_eq!(sent.0, 200);
    let on_d2 = sync(&alice2, Some(&t2)).await;
    assert_eq!(
        on_d2["to_device"]["events"][0]["content"],
        json!({"ciphertext": "all"})
    );
    assert_eq!(
        on_d2["to_device"]["events"].as_array().unwrap().len(),
        1,
        "{on_d2}"
    );
    let after_token = t1;
    assert_eq!(
        sync(&alice, Some(&after_token)).await["to_device"]["events"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A long-polling sync wakes when a message arrives.
    let now = sync(&alice2, Some(on_d2["next_batch"].as_str().unwrap())).await;
    let since = now["next_batch"].as_str().unwrap().to_string();
    let started = std::time::Instant::now();
    let path = format!("/sync?since={since}&timeout=20000");
    let poll = alice2.call("GET", &path, None);
    let send = async {
        // Let the poll start waiting first (nothing observable to poll for); if the message
        // came first the poll would answer at once, and the test would still hold.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        send_to_device(
            &bob,
            &unique_txn(),
            json!({&a: {"*": {"ciphertext": "wake"}}}),
        )
        .await
    };
    let ((status, woke), _) = tokio::join!(poll, send);
    assert_eq!(status, 200);
    assert_eq!(
        woke["to_device"]["events"][0]["content"],
        json!({"ciphertext": "wake"}),
        "{woke}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
}

#[tokio::test(flavor = "multi_thread")]
async fn send_to_device_errors_match_synapse() {
    let w = Workdir::new();
    let s = server(&w).await;
    let bob = s.register("bob").await;
    // Errors.
    let (status, body) = bob
        .call(
            "PUT",
            &format!("/sendToDevice/m.x/{}", unique_txn()),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"errcode": "M_MISSING_PARAM", "error": "Missing params: ['messages']"})
        )
    );
    let (status, body) = send_to_device(&bob, &unique_txn(), json!({"bob": {"D": {}}})).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_INVALID_PARAM")),
        "{body}"
    );
    let (status, body) = send_to_device(&bob, &unique_txn(), json!([])).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_BAD_JSON")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn device_lists_report_key_changes_joins_and_leaves() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let carol = s.register("carol").await;
    let stranger = s.register("stranger").await;
    let room = shared_room(&alice, &bob).await;
    let t0 = sync(&bob, None).await["next_batch"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(t0.split('_').count(), 7, "{t0}");
    upload_device_keys(&alice, &key(1).0).await;
    upload_device_keys(&stranger, &key(2).0).await;
    let got = sync(&bob, Some(&t0)).await;
    assert_eq!(
        got["device_lists"],
        json!({"changed": [alice.user_id], "left": []})
    );
    let t1 = got["next_batch"].as_str().unwrap().to_string();
    let (status, changes) = bob
        .call("GET", &format!("/keys/changes?from={t0}&to={t1}"), None)
        .await;
    assert_eq!(
        (status, changes),
        (200, json!({"changed": [alice.user_id], "left": []}))
    );
    // Cross-signing keys count as a change too.
    let (_, cs) = cross_signing_body(&alice.user_id, 50);
    assert_eq!(
        alice
            .call("POST", "/keys/device_signing/upload", Some(cs))
            .await
            .0,
        200
    );
    let got = sync(&bob, Some(&t1)).await;
    assert_eq!(got["device_lists"]["changed"], json!([alice.user_id]));
    let t2 = got["next_batch"].as_str().unwrap().to_string();
    // Carol joins: newly sharing a room; then leaves: no longer sharing any.
    alice
        .call(
            "POST",
            &format!("/rooms/{room}/invite"),
            Some(json!({"user_id": carol.user_id})),
        )
        .await;
    assert_eq!(
        carol
            .call("POST", &format!("/join/{room}"), Some(json!({})))
            .await
            .0,
        200
    );
    let got = sync(&bob, Some(&t2)).await;
    assert_eq!(
        got["device_lists"],
        json!({"changed": [carol.user_id], "left": []})
    );
    let t3 = got["next_batch"].as_str().unwrap().to_string();
    assert_eq!(
        carol
            .call("POST", &format!("/rooms/{room}/leave"), Some(json!({})))
            .await
            .0,
        200
    );
    let got = sync(&bob, Some(&t3)).await;
    assert_eq!(
        got["device_lists"],
        json!({"changed": [], "left": [carol.user_id]})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn old_sync_tokens_still_parse_and_keys_changes_checks_its_parameters() {
    let w = Workdir::new();
    let s = server(&w).await;
    let bob = s.register("bob").await;
    // Tokens from before this stream existed still parse.
    let (status, old) = bob.call("GET", "/sync?since=s1_0&timeout=0", None).await;
    assert_eq!(status, 200, "{old}");
    for (query, errcode) in [("", "M_MISSING_PARAM"), ("?from=bogus", "M_INVALID_PARAM")] {
        let (status, body) = bob
            .call("GET", &format!("/keys/changes{query}"), None)
            .await;
        assert_eq!(
            (status, body["errcode"].as_str()),
            (400, Some(errcode)),
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_device_or_logging_out_drops_its_keys_and_tells_others() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    shared_room(&alice, &bob).await;
    let a = alice.user_id.clone();
    for (round, delete) in [(0u8, true), (1, false)] {
        let second = login(&s, "alice").await;
        let device = device_of(&second).await;
        upload_device_keys(&second, &key(60 + round).0).await;
        let (status, _) = second
            .call(
                "POST",
                "/keys/upload",
                Some(json!({"one_time_keys": otks(&a, 3)})),
            )
            .await;
        assert_eq!(status, 200);
        send_to_device(&bob, &unique_txn(), json!({&a: {&device: {"x": 1}}})).await;
        assert!(query(&bob, json!({&a: []})).await["device_keys"][&a]
            .get(&device)
            .is_some());
        let token = sync(&bob, None).await["next_batch"]
            .as_str()
            .unwrap()
            .to_string();
        if delete {
            let (status, body) = alice
                .call(
                    "DELETE",
                    &format!("/devices/{device}"),
                    Some(json!({"auth": password_auth("alice")})),
                )
                .await;
            assert_eq!(status, 200, "{body}");
        } else {
            assert_eq!(second.call("POST", "/logout", Some(json!({}))).await.0, 200);
        }
        assert!(query(&bob, json!({&a: []})).await["device_keys"][&a]
            .get(&device)
            .is_none());
        let (_, claimed) = bob
            .call(
                "POST",
                "/keys/claim",
                Some(json!({"one_time_keys": {&a: {&device: "signed_curve25519"}}})),
            )
            .await;
        assert_eq!(claimed["one_time_keys"], json!({}), "round {round}");
        let got = sync(&bob, Some(&token)).await;
        assert_eq!(got["device_lists"]["changed"], json!([a]), "round {round}");
    }
}
