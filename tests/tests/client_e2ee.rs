//! End-to-end encryption on the server (spec §"End-to-End Encryption", §"Send-to-Device
//! messaging", §"Cross-signing"): key query and claim, key changes, cross-signing keys and
//! signatures (real ed25519 signatures), to-device messages through `/sync`, and what
//! removing a device does; each error as Synapse answers it.

use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use modhost_tests::{scripted_server, unique_txn, Client, TestServer, Workdir};
use serde_json::{json, Value};

async fn server(w: &Workdir) -> TestServer {
    TestServer::start(&w.config("enable_registration: true\n")).await
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// A deterministic ed25519 key and its unpadded base64 public key.
fn key(seed: u8) -> (SigningKey, String) {
    let k = SigningKey::from_bytes(&[seed; 32]);
    let public = b64(k.verifying_key().as_bytes());
    (k, public)
}

/// Sign `object` as `user`'s key `key_id` (spec §"Signing JSON").
fn sign(object: &mut Value, user: &str, key_id: &str, k: &SigningKey) {
    let mut unsigned = object.clone();
    let o = unsigned.as_object_mut().unwrap();
    o.remove("signatures");
    o.remove("unsigned");
    let canonical = ruma_common::CanonicalJsonValue::try_from(unsigned)
        .unwrap()
        .to_string();
    let sig = b64(&k.sign(canonical.as_bytes()).to_bytes());
    object["signatures"][user][key_id] = json!(sig);
}

fn cross_key(user: &str, usage: &str, public: &str) -> Value {
    json!({"user_id": user, "usage": [usage], "keys": {format!("ed25519:{public}"): public}})
}

async fn device_of(c: &Client) -> String {
    let (status, who) = c.call("GET", "/account/whoami", None).await;
    assert_eq!(status, 200, "{who}");
    who["device_id"].as_str().unwrap().to_string()
}

/// Upload device keys signed with the device's own ed25519 key `k`; returns them.
async fn upload_device_keys(c: &Client, k: &SigningKey) -> Value {
    let device = device_of(c).await;
    let public = b64(k.verifying_key().as_bytes());
    let mut keys = json!({
        "user_id": c.user_id, "device_id": device,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "keys": {format!("curve25519:{device}"): "Y3VydmU", format!("ed25519:{device}"): public},
    });
    sign(&mut keys, &c.user_id, &format!("ed25519:{device}"), k);
    let (status, body) = c
        .call("POST", "/keys/upload", Some(json!({"device_keys": keys})))
        .await;
    assert_eq!(status, 200, "{body}");
    keys
}

async fn query(c: &Client, users: Value) -> Value {
    let (status, body) = c
        .call("POST", "/keys/query", Some(json!({"device_keys": users})))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn sync(c: &Client, since: Option<&str>) -> Value {
    let path = match since {
        Some(s) => format!("/sync?since={s}&timeout=0"),
        None => "/sync".to_string(),
    };
    let (status, body) = c.call("GET", &path, None).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn login(s: &TestServer, localpart: &str) -> Client {
    let (status, body) = s
        .call(
            "POST",
            "/_matrix/client/v3/login",
            None,
            Some(json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": localpart}, "password": "pw"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    s.client(
        body["user_id"].as_str().unwrap(),
        body["access_token"].as_str().unwrap(),
    )
}

async fn shared_room(a: &Client, b: &Client) -> String {
    let room = a.create_room(json!({})).await;
    let (status, body) = a
        .call(
            "POST",
            &format!("/rooms/{room}/invite"),
            Some(json!({"user_id": b.user_id})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = b
        .call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    assert_eq!(status, 200, "{body}");
    room
}

fn password_auth(localpart: &str) -> Value {
    json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": localpart}, "password": "pw"})
}

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

fn otks(user: &str, n: usize) -> Value {
    let mut m = serde_json::Map::new();
    for i in 0..n {
        m.insert(
            format!("signed_curve25519:K{i:03}"),
            json!({"key": format!("a2V5{i}"), "signatures": {user: {"ed25519:D": "c2ln"}}}),
        );
    }
    Value::Object(m)
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

/// Alice's cross-signing keys from seeds: (master, self-signing, user-signing) signing keys
/// and the upload body.
fn cross_signing_body(user: &str, seed: u8) -> (Vec<(SigningKey, String)>, Value) {
    let (master, ssk, usk) = (key(seed), key(seed + 1), key(seed + 2));
    let master_id = format!("ed25519:{}", master.1);
    let mut self_signing = cross_key(user, "self_signing", &ssk.1);
    sign(&mut self_signing, user, &master_id, &master.0);
    let mut user_signing = cross_key(user, "user_signing", &usk.1);
    sign(&mut user_signing, user, &master_id, &master.0);
    let body = json!({
        "master_key": cross_key(user, "master", &master.1),
        "self_signing_key": self_signing,
        "user_signing_key": user_signing,
    });
    (vec![master, ssk, usk], body)
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

async fn sig_up(c: &Client, body: Value) -> (u16, Value) {
    c.call("POST", "/keys/signatures/upload", Some(body)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn signatures_upload_checks_each_signature_and_reports_failures() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let (a, b) = (alice.user_id.clone(), bob.user_id.clone());
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

async fn send_to_device(c: &Client, txn: &str, messages: Value) -> (u16, Value) {
    c.call(
        "PUT",
        &format!("/sendToDevice/m.room.encrypted/{txn}"),
        Some(json!({"messages": messages})),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn to_device_messages_reach_the_device_once_and_wake_its_sync() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let alice2 = login(&s, "alice").await;
    let bob = s.register("bob").await;
    let (a, d1, d2) = (
        alice.user_id.clone(),
        device_of(&alice).await,
        device_of(&alice2).await,
    );
    let first = sync(&alice, None).await;
    let token = first["next_batch"].as_str().unwrap().to_string();
    assert_eq!(first["to_device"], json!({"events": []}));
    // The same transaction twice queues one message.
    let txn = unique_txn();
    for _ in 0..2 {
        let sent = send_to_device(&bob, &txn, json!({&a: {&d1: {"ciphertext": "one"}}})).await;
        assert_eq!(sent, (200, json!({})));
    }
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
    let after_token = after["next_batch"].as_str().unwrap().to_string();
    assert_eq!(
        sync(&alice, Some(&after_token)).await["to_device"]["events"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let _ = d2;
    // A long-polling sync wakes when a message arrives.
    let now = sync(&alice2, Some(on_d2["next_batch"].as_str().unwrap())).await;
    let since = now["next_batch"].as_str().unwrap().to_string();
    let started = std::time::Instant::now();
    let path = format!("/sync?since={since}&timeout=20000");
    let poll = alice2.call("GET", &path, None);
    let send = async {
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
