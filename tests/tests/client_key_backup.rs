//! Server-side key backups (client-server spec v1.12 §"Server-side key backups"): backup
//! versions under `/room_keys/version`, encrypted sessions under `/room_keys/keys`, the
//! spec's rule for which copy of a session to keep, etags and counts, and every error with
//! Synapse's status, errcode and text. One user's backup is invisible to everyone else,
//! and deactivating an account forgets its backups.

use modhost_tests::{admin_server, Client, TestServer, Workdir};
use serde_json::{json, Value};

const ALGORITHM: &str = "m.megolm_backup.v1.curve25519-aes-sha2";
const ROOM: &str = "!room:test.local";
const OTHER_ROOM: &str = "!other:test.local";

async fn server(w: &Workdir) -> TestServer {
    TestServer::start(&w.config("enable_registration: true\nmodules: []\n")).await
}

fn auth_data(public_key: &str) -> Value {
    json!({"public_key": public_key, "signatures": {"@alice:test.local": {"ed25519:DEV": "c2ln"}}})
}

/// Create a backup version; returns its version string.
async fn create(c: &Client, public_key: &str) -> String {
    let (status, body) = c
        .call(
            "POST",
            "/room_keys/version",
            Some(json!({"algorithm": ALGORITHM, "auth_data": auth_data(public_key)})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["version"]
        .as_str()
        .expect("version is a string")
        .to_string()
}

/// A `KeyBackupData` whose `session_data` carries `tag`, to tell copies apart.
fn key(first_message_index: i64, forwarded_count: i64, is_verified: bool, tag: &str) -> Value {
    json!({
        "first_message_index": first_message_index,
        "forwarded_count": forwarded_count,
        "is_verified": is_verified,
        "session_data": {"ephemeral": tag, "ciphertext": "Y2lwaGVy", "mac": "bWFj"},
    })
}

fn not_found(error: &str) -> (u16, Value) {
    (404, json!({"errcode": "M_NOT_FOUND", "error": error}))
}

async fn put_session(c: &Client, version: &str, session: &str, data: Value) -> (u16, Value) {
    put(
        c,
        &format!("/room_keys/keys/{ROOM}/{session}?version={version}"),
        data,
    )
    .await
}

async fn get(c: &Client, path: &str) -> (u16, Value) {
    c.call("GET", path, None).await
}

async fn put(c: &Client, path: &str, body: Value) -> (u16, Value) {
    c.call("PUT", path, Some(body)).await
}

async fn del(c: &Client, path: &str) -> (u16, Value) {
    c.call("DELETE", path, None).await
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_are_created_and_read() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    assert_eq!(
        get(&alice, "/room_keys/version").await,
        not_found("No backup found")
    );
    assert_eq!(create(&alice, "a2V5MQ").await, "1");
    let first = json!({
        "algorithm": ALGORITHM, "auth_data": auth_data("a2V5MQ"),
        "version": "1", "count": 0, "etag": "0",
    });
    assert_eq!(
        get(&alice, "/room_keys/version").await,
        (200, first.clone())
    );
    assert_eq!(
        get(&alice, "/room_keys/version/1").await,
        (200, first.clone())
    );
    assert_eq!(create(&alice, "a2V5Mg").await, "2");
    let (_, current) = get(&alice, "/room_keys/version").await;
    assert_eq!(
        current["version"], "2",
        "the newest version is the current one"
    );
    assert_eq!(get(&alice, "/room_keys/version/1").await, (200, first));
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_are_updated_with_the_same_algorithm() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    assert_eq!(create(&alice, "a2V5MQ").await, "1");
    assert_eq!(create(&alice, "a2V5Mg").await, "2");
    // auth_data changes, the algorithm may not, the body's version must match.
    let update = json!({"algorithm": ALGORITHM, "auth_data": auth_data("bmV3"), "version": "2"});
    assert_eq!(
        put(&alice, "/room_keys/version/2", update).await,
        (200, json!({}))
    );
    let (_, current) = get(&alice, "/room_keys/version/2").await;
    assert_eq!(current["auth_data"], auth_data("bmV3"));
    let (_, v1) = get(&alice, "/room_keys/version/1").await;
    assert_eq!(
        v1["auth_data"],
        auth_data("a2V5MQ"),
        "only version 2 changed"
    );
    let invalid = |error: &str| (400, json!({"errcode": "M_INVALID_PARAM", "error": error}));
    let wrong_version = json!({"algorithm": ALGORITHM, "auth_data": {}, "version": "1"});
    assert_eq!(
        put(&alice, "/room_keys/version/2", wrong_version).await,
        invalid("Version in body does not match")
    );
    let other_algorithm = json!({"algorithm": "m.other", "auth_data": {}});
    assert_eq!(
        put(&alice, "/room_keys/version/2", other_algorithm).await,
        invalid("Algorithm does not match")
    );
    let fine = json!({"algorithm": ALGORITHM, "auth_data": {}});
    for missing in ["9", "abc"] {
        assert_eq!(
            put(
                &alice,
                &format!("/room_keys/version/{missing}"),
                fine.clone()
            )
            .await,
            not_found("Unknown backup version")
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_version_makes_the_previous_one_current() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    assert_eq!(create(&alice, "a2V5MQ").await, "1");
    assert_eq!(create(&alice, "a2V5Mg").await, "2");
    // Version numbers are not reused.
    assert_eq!(del(&alice, "/room_keys/version/2").await, (200, json!({})));
    let (_, current) = get(&alice, "/room_keys/version").await;
    assert_eq!(current["version"], "1");
    assert_eq!(
        get(&alice, "/room_keys/version/2").await,
        not_found("No backup found")
    );
    for gone in ["2", "9", "abc"] {
        assert_eq!(
            del(&alice, &format!("/room_keys/version/{gone}")).await,
            not_found("Unknown backup version")
        );
    }
    assert_eq!(
        get(&alice, "/room_keys/version/abc").await,
        not_found("No backup found")
    );
    assert_eq!(create(&alice, "a2V5Mw").await, "3");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_version_bodies_are_refused() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bad_json = |error: &str| (400, json!({"errcode": "M_BAD_JSON", "error": error}));
    for (body, error) in [
        (json!({"auth_data": {}}), "algorithm must be a string"),
        (
            json!({"algorithm": 1, "auth_data": {}}),
            "algorithm must be a string",
        ),
        (
            json!({"algorithm": ALGORITHM}),
            "auth_data must be a JSON object",
        ),
        (
            json!({"algorithm": ALGORITHM, "auth_data": "c2VjcmV0"}),
            "auth_data must be a JSON object",
        ),
        (
            json!({"algorithm": ALGORITHM, "auth_data": [1]}),
            "auth_data must be a JSON object",
        ),
    ] {
        assert_eq!(
            alice
                .call("POST", "/room_keys/version", Some(body.clone()))
                .await,
            bad_json(error),
            "{body}"
        );
    }
    assert_eq!(
        get(&alice, "/room_keys/version").await,
        not_found("No backup found"),
        "no refused body created a version"
    );
    let version = create(&alice, "a2V5").await;
    let path = format!("/room_keys/version/{version}");
    assert_eq!(
        put(
            &alice,
            &path,
            json!({"algorithm": ALGORITHM, "auth_data": "x"})
        )
        .await,
        bad_json("auth_data must be a JSON object")
    );
    assert_eq!(
        put(&alice, &path, json!({"auth_data": {}})).await,
        bad_json("algorithm must be a string")
    );
    let (_, info) = get(&alice, &path).await;
    assert_eq!(
        info["auth_data"],
        auth_data("a2V5"),
        "refused updates change nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unparsable_and_oversized_bodies_are_refused() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let version = create(&alice, "a2V5").await;
    let url = format!("{}/_matrix/client/v3/room_keys/version", s.base);
    let not_json = s
        .http
        .post(&url)
        .bearer_auth(&alice.token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status().as_u16(), 400);
    assert_eq!(
        not_json.json::<Value>().await.unwrap(),
        json!({"errcode": "M_NOT_JSON", "error": "Content not JSON."})
    );
    let huge = json!({"algorithm": ALGORITHM, "auth_data": {"pad": "x".repeat(3 << 20)}});
    // A client of its own: the server stops reading the oversized body and closes that
    // connection, which must not be the pooled one the next request reuses.
    let too_large = reqwest::Client::new()
        .post(&url)
        .bearer_auth(&alice.token)
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(too_large.status().as_u16(), 413);
    assert_eq!(
        too_large.json::<Value>().await.unwrap(),
        json!({"errcode": "M_TOO_LARGE", "error": "Request body is too large"})
    );
    let (_, current) = get(&alice, "/room_keys/version").await;
    assert_eq!(current["version"], version.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_are_stored_and_read_at_every_level() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let v = create(&alice, "a2V5").await;
    assert_eq!(
        get(&alice, &format!("/room_keys/keys?version={v}")).await,
        (200, json!({"rooms": {}}))
    );
    assert_eq!(
        put_session(&alice, &v, "s1", key(0, 0, false, "one")).await,
        (200, json!({"etag": "1", "count": 1}))
    );
    // A room's sessions, with the room ID percent-encoded as clients send it.
    let room_body =
        json!({"sessions": {"s2": key(1, 0, true, "two"), "s3": key(2, 1, false, "three")}});
    assert_eq!(
        put(
            &alice,
            &format!("/room_keys/keys/%21room%3Atest.local?version={v}"),
            room_body
        )
        .await,
        (200, json!({"etag": "2", "count": 3}))
    );
    let all_body = json!({"rooms": {OTHER_ROOM: {"sessions": {"t1": key(0, 0, true, "four")}}}});
    assert_eq!(
        put(&alice, &format!("/room_keys/keys?version={v}"), all_body).await,
        (200, json!({"etag": "3", "count": 4}))
    );
    let room_sessions = json!({"sessions": {
        "s1": key(0, 0, false, "one"),
        "s2": key(1, 0, true, "two"),
        "s3": key(2, 1, false, "three"),
    }});
    assert_eq!(
        get(&alice, &format!("/room_keys/keys?version={v}")).await,
        (
            200,
            json!({"rooms": {
                ROOM: room_sessions.clone(),
                OTHER_ROOM: {"sessions": {"t1": key(0, 0, true, "four")}},
            }})
        )
    );
    assert_eq!(
        get(&alice, &format!("/room_keys/keys/{ROOM}?version={v}")).await,
        (200, room_sessions)
    );
    assert_eq!(
        get(&alice, &format!("/room_keys/keys/{ROOM}/s2?version={v}")).await,
        (200, key(1, 0, true, "two"))
    );
    assert_eq!(
        get(
            &alice,
            &format!("/room_keys/keys/!empty:test.local?version={v}")
        )
        .await,
        (200, json!({"sessions": {}})),
        "a room without sessions is empty, not an error"
    );
    for missing in [
        format!("/room_keys/keys/{ROOM}/nope?version={v}"),
        format!("/room_keys/keys/!empty:test.local/s1?version={v}"),
    ] {
        assert_eq!(get(&alice, &missing).await, not_found("No room_keys found"));
    }
    let (_, info) = get(&alice, "/room_keys/version").await;
    assert_eq!((&info["count"], &info["etag"]), (&json!(4), &json!("3")));
}

#[tokio::test(flavor = "multi_thread")]
async fn backups_survive_a_restart() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let v = create(&alice, "a2V5").await;
    put_session(&alice, &v, "s1", key(3, 1, true, "kept")).await;
    drop(s);
    let s = server(&w).await;
    let alice = s.client(&alice.user_id, &alice.token);
    assert_eq!(
        get(&alice, &format!("/room_keys/keys/{ROOM}/s1?version={v}")).await,
        (200, key(3, 1, true, "kept"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_better_copy_of_a_session_is_kept() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let v = create(&alice, "a2V5").await;
    // (why, stored copy, uploaded copy, whether the upload replaces it); copies are
    // (first_message_index, forwarded_count, is_verified).
    let cases = [
        (
            "verified beats unverified",
            (5, 3, false),
            (9, 9, true),
            true,
        ),
        (
            "unverified never beats verified",
            (5, 3, true),
            (0, 0, false),
            false,
        ),
        ("lower first index wins", (5, 0, true), (4, 9, true), true),
        (
            "higher first index loses",
            (5, 9, false),
            (6, 0, false),
            false,
        ),
        (
            "same index: fewer forwards win",
            (5, 3, false),
            (5, 2, false),
            true,
        ),
        (
            "same index: more forwards lose",
            (5, 3, true),
            (5, 4, true),
            false,
        ),
        (
            "a tie keeps the stored copy",
            (5, 3, true),
            (5, 3, true),
            false,
        ),
    ];
    for (n, (why, (i, f, ver), (new_i, new_f, new_ver), replaced)) in cases.into_iter().enumerate()
    {
        let (old, new) = (key(i, f, ver, "old"), key(new_i, new_f, new_ver, "new"));
        let session = format!("case{n}");
        let (status, stored) = put_session(&alice, &v, &session, old.clone()).await;
        assert_eq!(status, 200, "{why}: {stored}");
        let (status, answer) = put_session(&alice, &v, &session, new.clone()).await;
        assert_eq!(status, 200, "{why}: {answer}");
        assert_eq!(answer["count"], json!(n + 1), "{why}");
        let etag_moved = answer["etag"] != stored["etag"];
        assert_eq!(
            etag_moved, replaced,
            "{why}: the etag changes only when a key does"
        );
        let (_, kept) = get(
            &alice,
            &format!("/room_keys/keys/{ROOM}/{session}?version={v}"),
        )
        .await;
        assert_eq!(kept, if replaced { new } else { old }, "{why}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_go_only_to_the_current_version() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    assert_eq!(
        put_session(&alice, "1", "s1", key(0, 0, false, "x")).await,
        not_found("Version '1' not found"),
        "no backup at all"
    );
    let old = create(&alice, "b2xk").await;
    assert_eq!(
        put_session(&alice, &old, "s1", key(0, 0, false, "old")).await,
        (200, json!({"etag": "1", "count": 1}))
    );
    let current = create(&alice, "bmV3").await;
    assert_eq!(
        put_session(&alice, &old, "s2", key(0, 0, false, "x")).await,
        (
            403,
            json!({
                "errcode": "M_WRONG_ROOM_KEYS_VERSION",
                "error": "Wrong room_keys version",
                "current_version": current,
            })
        )
    );
    for unknown in ["7", "abc"] {
        assert_eq!(
            put_session(&alice, unknown, "s2", key(0, 0, false, "x")).await,
            not_found(&format!("Version '{unknown}' not found"))
        );
    }
    // The old version stays readable and its keys deletable.
    assert_eq!(
        get(&alice, &format!("/room_keys/keys/{ROOM}/s1?version={old}")).await,
        (200, key(0, 0, false, "old"))
    );
    let (_, new_keys) = get(&alice, &format!("/room_keys/keys?version={current}")).await;
    assert_eq!(
        new_keys,
        json!({"rooms": {}}),
        "versions keep their own keys"
    );
    assert_eq!(
        del(&alice, &format!("/room_keys/keys?version={old}")).await,
        (200, json!({"etag": "2", "count": 0}))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_keys_request_needs_a_known_version() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    create(&alice, "a2V5").await;
    // Every keys endpoint needs ?version=.
    for method in ["GET", "PUT", "DELETE"] {
        for path in [
            "/room_keys/keys".to_string(),
            format!("/room_keys/keys/{ROOM}"),
            format!("/room_keys/keys/{ROOM}/s1"),
        ] {
            let answer = alice.call(method, &path, Some(key(0, 0, false, "x"))).await;
            assert_eq!(
                (answer.0, answer.1["errcode"].as_str()),
                (400, Some("M_MISSING_PARAM")),
                "{method} {path}"
            );
        }
    }
    for method in ["GET", "DELETE"] {
        for version in ["7", "abc"] {
            assert_eq!(
                alice
                    .call(
                        method,
                        &format!("/room_keys/keys/{ROOM}?version={version}"),
                        None
                    )
                    .await,
                not_found("Unknown backup version"),
                "{method} version {version}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_key_uploads_are_refused_whole() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let v = create(&alice, "a2V5").await;
    let at = "the backup of session s1 in room !room:test.local";
    let mut no_verified = key(0, 0, false, "x");
    no_verified.as_object_mut().unwrap().remove("is_verified");
    let bad_data = json!({"first_message_index": 0, "forwarded_count": 0, "is_verified": false, "session_data": "b3BhcXVl"});
    let cases = [
        (
            json!({"first_message_index": "0", "forwarded_count": 0, "is_verified": false, "session_data": {}}),
            "M_BAD_JSON",
            format!("first_message_index must be an integer in {at}"),
        ),
        (
            json!({"first_message_index": 0, "forwarded_count": 1.5, "is_verified": false, "session_data": {}}),
            "M_BAD_JSON",
            format!("forwarded_count must be an integer in {at}"),
        ),
        (
            json!({"first_message_index": 0, "forwarded_count": 0, "is_verified": "yes", "session_data": {}}),
            "M_INVALID_PARAM",
            format!("is_verified must be a boolean in {at}"),
        ),
        (
            no_verified,
            "M_BAD_JSON",
            format!("is_verified is missing in {at}"),
        ),
        (
            bad_data.clone(),
            "M_BAD_JSON",
            format!("session_data must be a JSON object in {at}"),
        ),
    ];
    for (body, errcode, error) in cases {
        assert_eq!(
            put_session(&alice, &v, "s1", body.clone()).await,
            (400, json!({"errcode": errcode, "error": error})),
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_upload_shapes_are_refused_whole() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let v = create(&alice, "a2V5").await;
    let at = "the backup of session s1 in room !room:test.local";
    let bad_data = json!({"first_message_index": 0, "forwarded_count": 0, "is_verified": false, "session_data": "b3BhcXVl"});
    // One bad session spoils the whole upload: nothing of it is kept.
    let mixed =
        json!({"rooms": {ROOM: {"sessions": {"s0": key(0, 0, false, "good"), "s1": bad_data}}}});
    let answer = put(&alice, &format!("/room_keys/keys?version={v}"), mixed).await;
    assert_eq!(
        answer,
        (
            400,
            json!({"errcode": "M_BAD_JSON", "error": format!("session_data must be a JSON object in {at}")})
        )
    );
    for (path, body, error) in [
        (
            "/room_keys/keys".to_string(),
            json!({}),
            "rooms must be a JSON object".to_string(),
        ),
        (
            "/room_keys/keys".to_string(),
            json!({"rooms": []}),
            "rooms must be a JSON object".to_string(),
        ),
        (
            "/room_keys/keys".to_string(),
            json!({"rooms": {ROOM: "x"}}),
            format!("sessions of room {ROOM} must be a JSON object"),
        ),
        (
            format!("/room_keys/keys/{ROOM}"),
            json!({"sessions": [key(0, 0, false, "x")]}),
            format!("sessions of room {ROOM} must be a JSON object"),
        ),
        (
            format!("/room_keys/keys/{ROOM}"),
            json!({"sessions": {"s1": "x"}}),
            format!("The backup of session s1 in room {ROOM} must be a JSON object"),
        ),
    ] {
        assert_eq!(
            put(&alice, &format!("{path}?version={v}"), body.clone()).await,
            (400, json!({"errcode": "M_BAD_JSON", "error": error})),
            "{path} {body}"
        );
    }
    let (_, info) = get(&alice, "/room_keys/version").await;
    assert_eq!((&info["count"], &info["etag"]), (&json!(0), &json!("0")));
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_keys_moves_the_etag_and_count() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let v = create(&alice, "a2V5").await;
    let body = json!({"rooms": {
        ROOM: {"sessions": {"s1": key(0, 0, false, "1"), "s2": key(0, 0, false, "2")}},
        OTHER_ROOM: {"sessions": {"t1": key(0, 0, false, "3"), "t2": key(0, 0, false, "4")}},
    }});
    let keys_path = format!("/room_keys/keys?version={v}");
    assert_eq!(
        put(&alice, &keys_path, body.clone()).await,
        (200, json!({"etag": "1", "count": 4}))
    );
    assert_eq!(
        put(&alice, &keys_path, body.clone()).await,
        (200, json!({"etag": "1", "count": 4})),
        "the same upload again changes nothing"
    );
    assert_eq!(
        del(&alice, &format!("/room_keys/keys/{ROOM}/s1?version={v}")).await,
        (200, json!({"etag": "2", "count": 3}))
    );
    assert_eq!(
        del(&alice, &format!("/room_keys/keys/{ROOM}/s1?version={v}")).await,
        (200, json!({"etag": "3", "count": 3})),
        "deleting moves the etag even when nothing matched, as Synapse does"
    );
    assert_eq!(
        del(&alice, &format!("/room_keys/keys/{OTHER_ROOM}?version={v}")).await,
        (200, json!({"etag": "4", "count": 1}))
    );
    assert_eq!(
        get(&alice, &keys_path).await,
        (
            200,
            json!({"rooms": {ROOM: {"sessions": {"s2": key(0, 0, false, "2")}}}})
        )
    );
    assert_eq!(
        del(&alice, &keys_path).await,
        (200, json!({"etag": "5", "count": 0}))
    );
    let (_, info) = get(&alice, "/room_keys/version").await;
    assert_eq!((&info["count"], &info["etag"]), (&json!(0), &json!("5")));

    // Deleting a version deletes its keys.
    assert_eq!(
        put(&alice, &keys_path, body).await,
        (200, json!({"etag": "6", "count": 4}))
    );
    assert_eq!(
        del(&alice, &format!("/room_keys/version/{v}")).await,
        (200, json!({}))
    );
    assert_eq!(
        get(&alice, &keys_path).await,
        not_found("Unknown backup version")
    );
    assert_eq!(
        del(&alice, &keys_path).await,
        not_found("Unknown backup version")
    );
    let next = create(&alice, "bmV4dA").await;
    let (_, info) = get(&alice, "/room_keys/version").await;
    assert_eq!(
        (&info["version"], &info["count"], &info["etag"]),
        (&json!(next), &json!(0), &json!("0"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_belongs_to_its_user_alone() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let v = create(&alice, "YWxpY2U").await;
    put_session(&alice, &v, "s1", key(0, 0, true, "secret")).await;
    let (_, before) = get(&alice, "/room_keys/version").await;

    assert_eq!(
        get(&bob, "/room_keys/version").await,
        not_found("No backup found")
    );
    assert_eq!(
        get(&bob, &format!("/room_keys/version/{v}")).await,
        not_found("No backup found")
    );
    assert_eq!(
        get(&bob, &format!("/room_keys/keys?version={v}")).await,
        not_found("Unknown backup version")
    );
    assert_eq!(
        put_session(&bob, &v, "s1", key(0, 0, true, "forged")).await,
        not_found(&format!("Version '{v}' not found"))
    );
    assert_eq!(
        del(&bob, &format!("/room_keys/keys?version={v}")).await,
        not_found("Unknown backup version")
    );
    assert_eq!(
        put(
            &bob,
            &format!("/room_keys/version/{v}"),
            json!({"algorithm": ALGORITHM, "auth_data": {}})
        )
        .await,
        not_found("Unknown backup version")
    );
    assert_eq!(
        del(&bob, &format!("/room_keys/version/{v}")).await,
        not_found("Unknown backup version")
    );
    // Bob's own backup is numbered on its own and holds only his keys.
    assert_eq!(create(&bob, "Ym9i").await, "1");
    assert_eq!(
        put_session(&bob, "1", "s1", key(0, 0, true, "bob's")).await,
        (200, json!({"etag": "1", "count": 1}))
    );
    assert_eq!(get(&alice, "/room_keys/version").await, (200, before));
    assert_eq!(
        get(&alice, &format!("/room_keys/keys/{ROOM}/s1?version={v}")).await,
        (200, key(0, 0, true, "secret"))
    );
    // And without a token there is nothing at all.
    let (status, body) = s
        .call("GET", "/_matrix/client/v3/room_keys/version", None, None)
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (401, Some("M_MISSING_TOKEN"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deactivation_forgets_the_backups() {
    let w = Workdir::new();
    let (s, root) = admin_server(&w, &[]).await;
    let alice = s.register("alice").await;
    let v = create(&alice, "a2V5").await;
    put_session(&alice, &v, "s1", key(0, 0, true, "gone")).await;
    create(&alice, "bmV4dA").await;
    let user = alice.user_id.as_str();
    let token = Some(root.token.as_str());
    let deactivate = format!("/_synapse/admin/v1/deactivate/{user}");
    let (status, body) = s.call("POST", &deactivate, token, None).await;
    assert_eq!(status, 200, "{body}");
    let reactivate = json!({"deactivated": false, "password": "again"});
    let user_path = format!("/_synapse/admin/v2/users/{user}");
    let (status, body) = s.call("PUT", &user_path, token, Some(reactivate)).await;
    assert_eq!(status, 200, "{body}");
    let login = json!({"type": "m.login.password", "user": "alice", "password": "again"});
    let (status, session) = s
        .call("POST", "/_matrix/client/v3/login", None, Some(login))
        .await;
    assert_eq!(status, 200, "{session}");
    let alice = s.client(user, session["access_token"].as_str().unwrap());
    assert_eq!(
        get(&alice, "/room_keys/version").await,
        not_found("No backup found")
    );
    assert_eq!(
        create(&alice, "bmV3").await,
        "1",
        "numbering starts afresh, as in Synapse"
    );
    let (_, keys) = get(&alice, "/room_keys/keys?version=1").await;
    assert_eq!(keys, json!({"rooms": {}}));
}
