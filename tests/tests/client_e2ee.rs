//! End-to-end encryption keys on the server (spec §"End-to-End Encryption",
//! §"Cross-signing"): key query and claim (also 20 claims at once), cross-signing keys and
//! signatures (real ed25519 signatures), spam checks of encrypted events; each error as
//! Synapse answers it. To-device messages and device lists: `client_e2ee_sync.rs`.

#[path = "e2ee_common/mod.rs"]
mod common;

use common::*;
use modhost_tests::{scripted_server, unique_txn, Workdir};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread")]
async fn keys_query_answers_local_devices_and_fails_remote_servers() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let device = device_of(&alice).await;
    let keys = upload_device_keys(&alice, &key(1).0).await;
    let me = alice.user_id.as_str();
    let body = query(
        &bob,
        json!({me: [], "@x:elsewhere.example": [], "not a user": []}),
    )
    .await;
    let got = &body["device_keys"][me][device.as_str()];
    assert_eq!(got["keys"], keys["keys"], "{body}");
    assert_eq!(got["signatures"], keys["signatures"], "{body}");
    assert_eq!(
        body["failures"],
        json!({"elsewhere.example": {"status": 503, "message": "Not ready for retry"}})
    );
    assert!(
        body["device_keys"].get("not a user").is_none(),
        "invalid IDs are skipped: {body}"
    );
    // Asking for one device, and for a device that does not exist.
    let one = query(&bob, json!({me: [device]})).await;
    assert_eq!(one["device_keys"][me].as_object().unwrap().len(), 1);
    let none = query(&bob, json!({me: ["NOPE"]})).await;
    assert_eq!(none["device_keys"][me], json!({}));
    for (bad, message) in [
        (json!({}), "'device_keys' must be a JSON object"),
        (
            json!({"device_keys": [me]}),
            "'device_keys' must be a JSON object",
        ),
        (
            json!({"device_keys": {me: "all"}}),
            "'device_keys' values must be a list of strings",
        ),
        (
            json!({"device_keys": {me: [1]}}),
            "'device_keys' values must be a list of strings",
        ),
    ] {
        let (status, body) = bob.call("POST", "/keys/query", Some(bad)).await;
        assert_eq!(
            (status, &body),
            (400, &json!({"errcode": "M_BAD_JSON", "error": message}))
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_claim_hands_out_each_one_time_key_once_then_the_fallback_key() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let device = device_of(&alice).await;
    let me = alice.user_id.clone();
    let fallback =
        json!({"key": "ZmI", "fallback": true, "signatures": {&me: {"ed25519:D": "c2ln"}}});
    let (status, body) = alice
        .call("POST", "/keys/upload", Some(json!({"one_time_keys": otks(&me, 2), "fallback_keys": {"signed_curve25519:FB": fallback}})))
        .await;
    assert_eq!(status, 200, "{body}");
    let synced = sync(&alice, None).await;
    assert_eq!(
        synced["device_one_time_keys_count"],
        json!({"signed_curve25519": 2})
    );
    assert_eq!(
        synced["device_unused_fallback_key_types"],
        json!(["signed_curve25519"])
    );
    let claim = json!({"one_time_keys": {&me: {&device: "signed_curve25519"}, "@x:elsewhere.example": {"D": "signed_curve25519"}}});
    let mut seen = Vec::new();
    for _ in 0..2 {
        let (status, body) = bob.call("POST", "/keys/claim", Some(claim.clone())).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["failures"],
            json!({"elsewhere.example": {"status": 503, "message": "Not ready for retry"}})
        );
        let keys = body["one_time_keys"][&me][&device]
            .as_object()
            .unwrap()
            .clone();
        seen.extend(keys.keys().cloned());
    }
    seen.sort();
    assert_eq!(seen, ["signed_curve25519:K000", "signed_curve25519:K001"]);
    // None left: the fallback key, marked used (and handed out again while it is the only one).
    let (_, body) = bob.call("POST", "/keys/claim", Some(claim.clone())).await;
    assert_eq!(
        body["one_time_keys"][&me][&device],
        json!({"signed_curve25519:FB": fallback})
    );
    let synced = sync(&alice, None).await;
    assert_eq!(
        synced["device_one_time_keys_count"],
        json!({"signed_curve25519": 0})
    );
    assert_eq!(synced["device_unused_fallback_key_types"], json!([]));
    // An algorithm the device has no key for: the device is left out.
    let (_, body) = bob
        .call(
            "POST",
            "/keys/claim",
            Some(json!({"one_time_keys": {&me: {&device: "curve25519"}}})),
        )
        .await;
    assert_eq!(body, json!({"one_time_keys": {}, "failures": {}}));
    for bad in [
        json!({"one_time_keys": []}),
        json!({"one_time_keys": {&me: {&device: 5}}}),
    ] {
        let (status, body) = bob.call("POST", "/keys/claim", Some(bad)).await;
        assert_eq!(
            (status, body["errcode"].as_str()),
            (400, Some("M_BAD_JSON")),
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_parallel_claims_never_share_a_one_time_key() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let device = device_of(&alice).await;
    let me = alice.user_id.clone();
    let fallback =
        json!({"key": "ZmI", "fallback": true, "signatures": {&me: {"ed25519:D": "c2ln"}}});
    let (status, _) = alice
        .call("POST", "/keys/upload", Some(json!({"one_time_keys": otks(&me, 15), "fallback_keys": {"signed_curve25519:FB": fallback}})))
        .await;
    assert_eq!(status, 200);
    let mut claimers = Vec::new();
    for i in 0..20 {
        let c = s.register(&format!("claimer{i}")).await;
        claimers.push(c);
    }
    let claim = json!({"one_time_keys": {&me: {&device: "signed_curve25519"}}});
    let answers = futures_util::future::join_all(
        claimers
            .iter()
            .map(|c| c.call("POST", "/keys/claim", Some(claim.clone()))),
    )
    .await;
    let mut one_time = Vec::new();
    let mut fallbacks = 0;
    for (status, body) in answers {
        assert_eq!(status, 200, "{body}");
        let keys = body["one_time_keys"][&me][&device]
            .as_object()
            .unwrap()
            .clone();
        for name in keys.keys() {
            if name == "signed_curve25519:FB" {
                fallbacks += 1;
            } else {
                one_time.push(name.clone());
            }
        }
    }
    let mut distinct = one_time.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        (one_time.len(), distinct.len(), fallbacks),
        (15, 15, 5),
        "{one_time:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cross_signing_keys_upload_first_without_uia_then_replace_with_uia() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let me = alice.user_id.clone();
    let (_, body) = cross_signing_body(&me, 10);
    let up = |b: Value| alice.call("POST", "/keys/device_signing/upload", Some(b));
    // First setup: no UIA (MSC3967).
    assert_eq!(up(body.clone()).await, (200, json!({})));
    let seen_by_bob = query(&bob, json!({&me: []})).await;
    assert_eq!(seen_by_bob["master_keys"][&me], body["master_key"]);
    assert_eq!(
        seen_by_bob["self_signing_keys"][&me],
        body["self_signing_key"]
    );
    assert_eq!(
        seen_by_bob["user_signing_keys"],
        json!({}),
        "only the owner sees it"
    );
    let seen_by_alice = query(&alice, json!({&me: []})).await;
    assert_eq!(
        seen_by_alice["user_signing_keys"][&me],
        body["user_signing_key"]
    );
    // The same keys again: nothing to authorise.
    assert_eq!(up(body.clone()).await, (200, json!({})));
    // New keys replace the old ones only after user-interactive auth.
    let (_, new_body) = cross_signing_body(&me, 20);
    let (status, challenge) = up(new_body.clone()).await;
    assert_eq!(status, 401, "{challenge}");
    assert_eq!(
        challenge["flows"],
        json!([{"stages": ["m.login.password"]}])
    );
    assert!(challenge["session"].is_string());
    let mut wrong = new_body.clone();
    wrong["auth"] = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": "nope"});
    assert_eq!(
        up(wrong).await,
        (
            401,
            json!({"errcode": "M_FORBIDDEN", "error": "Invalid auth"})
        )
    );
    assert_eq!(
        query(&bob, json!({&me: []})).await["master_keys"][&me],
        body["master_key"]
    );
    let mut authed = new_body.clone();
    authed["auth"] = password_auth("alice");
    assert_eq!(up(authed).await, (200, json!({})));
    assert_eq!(
        query(&bob, json!({&me: []})).await["master_keys"][&me],
        new_body["master_key"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cross_signing_upload_errors_match_synapse() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let (_, body) = cross_signing_body(&alice.user_id, 10);
    let up = |b: Value| alice.call("POST", "/keys/device_signing/upload", Some(b));
    // Broken uploads before any key exists.
    let mut wrong_usage = body.clone();
    wrong_usage["master_key"]["usage"] = json!(["self_signing"]);
    assert_eq!(
        up(wrong_usage).await,
        (
            400,
            json!({"errcode": "M_INVALID_PARAM", "error": "Invalid master key"})
        )
    );
    let mut bad_sig = body.clone();
    bad_sig["self_signing_key"]["usage"] = json!(["self_signing", "extra"]);
    assert_eq!(
        up(bad_sig).await,
        (
            400,
            json!({"errcode": "M_INVALID_SIGNATURE", "error": "Invalid signature on self_signing key"})
        )
    );
    let no_master = json!({"self_signing_key": body["self_signing_key"]});
    assert_eq!(
        up(no_master).await,
        (
            400,
            json!({"errcode": "M_MISSING_PARAM", "error": "No master key available"})
        )
    );
    let (status, _) = alice.call("GET", "/sync", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        query(&alice, json!({&alice.user_id: []})).await["master_keys"],
        json!({}),
        "nothing was stored"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn signatures_upload_checks_each_signature_and_reports_failures() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let a = alice.user_id.clone();
    let device = device_of(&alice).await;
    let device_key = key(1).0;
    let stored = upload_device_keys(&alice, &device_key).await;
    // No cross-signing keys yet: every signature fails with 404.
    let (status, body) = sig_up(&alice, json!({&a: {&device: stored}})).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["failures"][&a][&device]["errcode"], "M_NOT_FOUND",
        "{body}"
    );
    let (keys, cs_body) = cross_signing_body(&a, 30);
    let (status, _) = alice
        .call("POST", "/keys/device_signing/upload", Some(cs_body))
        .await;
    assert_eq!(status, 200);
    let (ssk, ssk_public) = (&keys[1].0, &keys[1].1);
    let ssk_id = format!("ed25519:{ssk_public}");
    // A good signature of the device by the self-signing key, a forged one, an unknown device.
    let mut signed = stored.clone();
    signed["signatures"] = json!({});
    sign(&mut signed, &a, &ssk_id, ssk);
    let mut forged = stored.clone();
    forged["signatures"] = json!({&a: {&ssk_id: b64(&[7; 64])}});
    let (status, body) = sig_up(&alice, json!({&a: {"GHOST": forged.clone()}})).await;
    assert_eq!(
        (status, &body["failures"][&a]["GHOST"]),
        (
            200,
            &json!({"status": 404, "errcode": "M_NOT_FOUND", "message": "Unknown device"})
        )
    );
    let (_, body) = sig_up(&alice, json!({&a: {&device: forged}})).await;
    assert_eq!(
        body["failures"][&a][&device],
        json!({"status": 400, "errcode": "M_INVALID_SIGNATURE", "message": "Invalid signature"})
    );
    let mut changed = signed.clone();
    changed["algorithms"] = json!([]);
    let (_, body) = sig_up(&alice, json!({&a: {&device: changed}})).await;
    assert_eq!(
        body["failures"][&a][&device],
        json!({"status": 400, "errcode": "M_UNKNOWN", "message": "Key does not match"})
    );
    let (_, body) = sig_up(&alice, json!({&a: {&device: signed.clone()}})).await;
    assert_eq!(body, json!({"failures": {}}));
    let seen = query(&bob, json!({&a: [&device]})).await;
    assert_eq!(
        seen["device_keys"][&a][&device]["signatures"][&a][&ssk_id],
        signed["signatures"][&a][&ssk_id]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signature_of_another_users_master_key_is_seen_by_the_signer_only() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let (a, b) = (alice.user_id.clone(), bob.user_id.clone());
    let (keys, cs_body) = cross_signing_body(&a, 30);
    let (status, _) = alice
        .call("POST", "/keys/device_signing/upload", Some(cs_body))
        .await;
    assert_eq!(status, 200);
    // Bob signs Alice's master key with his user-signing key: only Bob sees that signature.
    let (bkeys, bbody) = cross_signing_body(&b, 40);
    assert_eq!(
        bob.call("POST", "/keys/device_signing/upload", Some(bbody))
            .await
            .0,
        200
    );
    let usk_id = format!("ed25519:{}", bkeys[2].1);
    let mut master = query(&bob, json!({&a: []})).await["master_keys"][&a].clone();
    let master_public = keys[0].1.clone();
    sign(&mut master, &b, &usk_id, &bkeys[2].0);
    let (_, body) = sig_up(
        &bob,
        json!({&a: {&master_public: master.clone(), "EXTRA": master.clone()}}),
    )
    .await;
    assert_eq!(
        body["failures"],
        json!({&a: {"EXTRA": {"status": 404, "errcode": "M_NOT_FOUND", "message": "Unknown device"}}})
    );
    let by_bob = query(&bob, json!({&a: []})).await;
    assert_eq!(
        by_bob["master_keys"][&a]["signatures"][&b][&usk_id],
        master["signatures"][&b][&usk_id]
    );
    let by_alice = query(&alice, json!({&a: []})).await;
    assert!(
        by_alice["master_keys"][&a]["signatures"].get(&b).is_none(),
        "{by_alice}"
    );
    let (status, body) = sig_up(&bob, json!({&a: "nope"})).await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"errcode": "M_INVALID_PARAM", "error": "Invalid parameter"})
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_event_for_spam_sees_encrypted_events() {
    let w = Workdir::new();
    let s = scripted_server(
        &w,
        "enable_registration: true\n",
        &[("a", json!({"check_event_for_spam": "not_spam"}))],
    )
    .await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let content = json!({"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "Q2lwaGVy", "sender_key": "c2s", "session_id": "c2lk", "device_id": "D"});
    let (status, body) = alice
        .call(
            "PUT",
            &format!("/rooms/{room}/send/m.room.encrypted/{}", unique_txn()),
            Some(content),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let calls = s.calls("a").await;
    let seen: Vec<&Value> = calls
        .iter()
        .filter(|c| c["callback"] == "check_event_for_spam")
        .map(|c| &c["args"][0])
        .collect();
    assert_eq!(seen.len(), 1, "{calls:?}");
    // The module sees the event as Synapse hands it over: type and ciphertext included.
    let event = seen[0].as_str().unwrap();
    assert!(
        event.contains(r#""type":"m.room.encrypted""#)
            && event.contains(r#""ciphertext":"Q2lwaGVy""#),
        "{event}"
    );
}
