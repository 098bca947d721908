//! `POST /keys/upload` (spec §"Key management API"): a device publishes identity keys,
//! one-time keys and fallback keys and learns how many one-time keys the server holds; every
//! malformed upload gets Synapse's 400 and errcode.

use modhost_tests::{Client, TestServer, Workdir};
use serde_json::{json, Value};

async fn upload(c: &Client, body: Value) -> (u16, Value) {
    c.call("POST", "/keys/upload", Some(body)).await
}

/// The device ID of `c`'s token.
async fn device_of(c: &Client) -> String {
    let (status, who) = c.call("GET", "/account/whoami", None).await;
    assert_eq!(status, 200, "{who}");
    who["device_id"].as_str().unwrap().to_string()
}

fn signed(key: &str, user: &str) -> Value {
    json!({"key": key, "signatures": {user: {"ed25519:DEV": "c2ln"}}})
}

fn device_keys(user: &str, device: &str) -> Value {
    json!({
        "user_id": user,
        "device_id": device,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "keys": {format!("curve25519:{device}"): "Y3VydmU", format!("ed25519:{device}"): "ZWQ"},
        "signatures": {user: {format!("ed25519:{device}"): "c2ln"}},
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_are_stored_and_counted_per_algorithm() {
    let w = Workdir::new();
    let s = TestServer::start(&w.config("enable_registration: true\n")).await;
    let alice = s.register("alice").await;
    let device = device_of(&alice).await;
    let me = alice.user_id.as_str();
    assert_eq!(
        upload(&alice, json!({})).await,
        (
            200,
            json!({"one_time_key_counts": {"signed_curve25519": 0}})
        ),
        "a device without keys still hears about signed_curve25519"
    );
    let first = json!({
        "device_keys": device_keys(me, &device),
        "one_time_keys": {
            "signed_curve25519:AAAAAQ": signed("a2V5MQ", me),
            "signed_curve25519:AAAAAg": signed("a2V5Mg", me),
            "curve25519:AAAAAw": "a2V5Mw",
        },
        "fallback_keys": {"signed_curve25519:AAAABA": {"key": "ZmI", "fallback": true, "signatures": {me: {"ed25519:DEV": "c2ln"}}}},
    });
    let counted = json!({"one_time_key_counts": {"signed_curve25519": 2, "curve25519": 1}});
    assert_eq!(upload(&alice, first.clone()).await, (200, counted.clone()));
    // The same upload again (a client that lost the answer) changes nothing.
    assert_eq!(upload(&alice, first).await, (200, counted.clone()));
    assert_eq!(
        upload(&alice, json!({"one_time_keys": null})).await,
        (200, counted)
    );
    // Reusing a key ID for another key is refused, and nothing of that upload is kept.
    let (status, body) = upload(
        &alice,
        json!({"one_time_keys": {
            "signed_curve25519:AAAABQ": signed("bmV3", me),
            "signed_curve25519:AAAAAQ": signed("b3RoZXI", me),
        }}),
    )
    .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_UNKNOWN")),
        "{body}"
    );
    let (_, counts) = upload(&alice, json!({})).await;
    assert_eq!(counts["one_time_key_counts"]["signed_curve25519"], 2);
    // Counts are per device: another login of the same user starts at zero.
    let (status, login) = s
        .call(
            "POST",
            "/_matrix/client/v3/login",
            None,
            Some(json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": "pw"})),
        )
        .await;
    assert_eq!(status, 200, "{login}");
    let second = s.client(me, login["access_token"].as_str().unwrap());
    assert_eq!(
        upload(&second, json!({})).await,
        (
            200,
            json!({"one_time_key_counts": {"signed_curve25519": 0}})
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_uploads_are_refused_as_synapse_does() {
    let w = Workdir::new();
    let s = TestServer::start(&w.config("enable_registration: true\n")).await;
    let alice = s.register("alice").await;
    let device = device_of(&alice).await;
    let me = alice.user_id.as_str();
    let mut no_keys = device_keys(me, &device);
    no_keys.as_object_mut().unwrap().remove("keys");
    for (body, why) in [
        (
            json!({"device_keys": device_keys("@bob:test.local", &device)}),
            "another user's device keys",
        ),
        (
            json!({"device_keys": device_keys(me, "OTHERDEVICE")}),
            "another device's keys",
        ),
        (json!({"device_keys": null}), "null device keys"),
        (json!({"device_keys": no_keys}), "device keys without keys"),
        (
            json!({"one_time_keys": {"signed_curve25519": "a2V5"}}),
            "a key name without key ID",
        ),
        (
            json!({"one_time_keys": {"a:b:c": "a2V5"}}),
            "a key name with two colons",
        ),
        (
            json!({"one_time_keys": {"curve25519:A": 5}}),
            "a number for a key",
        ),
        (
            json!({"one_time_keys": {"signed_curve25519:A": {"key": "a2V5"}}}),
            "an unsigned key object",
        ),
        (
            json!({"one_time_keys": ["curve25519:A"]}),
            "a list for one_time_keys",
        ),
        (
            json!({"fallback_keys": {"curve25519": "a2V5"}}),
            "a fallback key name without key ID",
        ),
    ] {
        let (status, answer) = upload(&alice, body).await;
        assert_eq!(
            (status, answer["errcode"].as_str()),
            (400, Some("M_BAD_JSON")),
            "{why}: {answer}"
        );
    }
    let (status, answer) = s
        .call(
            "POST",
            "/_matrix/client/v3/keys/upload",
            None,
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status, answer["errcode"].as_str()),
        (401, Some("M_MISSING_TOKEN"))
    );
    assert_eq!(
        upload(&alice, json!({})).await,
        (
            200,
            json!({"one_time_key_counts": {"signed_curve25519": 0}})
        ),
        "nothing of the refused uploads was kept"
    );
}
