//! Helpers of the end-to-end encryption tests: sessions, devices with real ed25519 keys,
//! signing as clients sign (spec §"Signing JSON"), cross-signing keys, sync.
#![allow(dead_code)]

use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use modhost_tests::{Client, TestServer, Workdir};
use serde_json::{json, Value};

pub async fn server(w: &Workdir) -> TestServer {
    TestServer::start(&w.config("enable_registration: true\n")).await
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// A deterministic ed25519 key and its unpadded base64 public key.
pub fn key(seed: u8) -> (SigningKey, String) {
    let k = SigningKey::from_bytes(&[seed; 32]);
    let public = b64(k.verifying_key().as_bytes());
    (k, public)
}

/// Sign `object` as `user`'s key `key_id` (spec §"Signing JSON").
pub fn sign(object: &mut Value, user: &str, key_id: &str, k: &SigningKey) {
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

pub fn cross_key(user: &str, usage: &str, public: &str) -> Value {
    json!({"user_id": user, "usage": [usage], "keys": {format!("ed25519:{public}"): public}})
}

pub async fn device_of(c: &Client) -> String {
    let (status, who) = c.call("GET", "/account/whoami", None).await;
    assert_eq!(status, 200, "{who}");
    who["device_id"].as_str().unwrap().to_string()
}

/// Upload device keys signed with the device's own ed25519 key `k`; returns them.
pub async fn upload_device_keys(c: &Client, k: &SigningKey) -> Value {
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

pub async fn query(c: &Client, users: Value) -> Value {
    let (status, body) = c
        .call("POST", "/keys/query", Some(json!({"device_keys": users})))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

pub async fn sync(c: &Client, since: Option<&str>) -> Value {
    let path = match since {
        Some(s) => format!("/sync?since={s}&timeout=0"),
        None => "/sync".to_string(),
    };
    let (status, body) = c.call("GET", &path, None).await;
    assert_eq!(status, 200, "{body}");
    body
}

pub async fn login(s: &TestServer, localpart: &str) -> Client {
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

pub async fn shared_room(a: &Client, b: &Client) -> String {
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

pub fn password_auth(localpart: &str) -> Value {
    json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": localpart}, "password": "pw"})
}

pub fn otks(user: &str, n: usize) -> Value {
    let mut m = serde_json::Map::new();
    for i in 0..n {
        m.insert(
            format!("signed_curve25519:K{i:03}"),
            json!({"key": format!("a2V5{i}"), "signatures": {user: {"ed25519:D": "c2ln"}}}),
        );
    }
    Value::Object(m)
}

/// Alice's cross-signing keys from seeds: (master, self-signing, user-signing) signing keys
/// and the upload body.
pub fn cross_signing_body(user: &str, seed: u8) -> (Vec<(SigningKey, String)>, Value) {
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

pub async fn sig_up(c: &Client, body: Value) -> (u16, Value) {
    c.call("POST", "/keys/signatures/upload", Some(body)).await
}

pub async fn send_to_device(c: &Client, txn: &str, messages: Value) -> (u16, Value) {
    c.call(
        "PUT",
        &format!("/sendToDevice/m.room.encrypted/{txn}"),
        Some(json!({"messages": messages})),
    )
    .await
}
