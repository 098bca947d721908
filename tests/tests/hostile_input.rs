//! Hostile input from clients (issue 17, items 7 and 8 and the smaller ones): the spec's
//! 255-byte limits on event fields, the user-ID grammar for user IDs clients name, guest
//! registration, empty and policy-breaking passwords, and power levels that are not integers.

use modhost_tests::{Client, TestServer, Workdir};
use serde_json::{json, Value};

async fn server(w: &Workdir, extra: &str) -> TestServer {
    let config = format!("enable_registration: true\n{extra}modules: []\n");
    TestServer::start(&w.config(&config)).await
}

fn error(errcode: &str, message: &str) -> Value {
    json!({"errcode": errcode, "error": message})
}

#[tokio::test(flavor = "multi_thread")]
async fn event_type_state_key_and_room_id_over_255_bytes_are_refused() {
    let w = Workdir::new();
    let s = server(&w, "").await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let long = "x".repeat(5000);
    let (status, body) = alice
        .call(
            "PUT",
            &format!("/rooms/{room}/send/{long}/t1"),
            Some(json!({"body": "hi"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (413, error("M_TOO_LARGE", "'type' too large"))
    );
    let (status, body) = alice
        .call(
            "PUT",
            &format!("/rooms/{room}/state/m.room.topic/{long}"),
            Some(json!({"topic": "t"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (413, error("M_TOO_LARGE", "'state_key' too large"))
    );
    // Exactly 255 bytes is within the limit.
    let edge = "y".repeat(255);
    let (status, body) = alice
        .call(
            "PUT",
            &format!("/rooms/{room}/state/m.room.topic/{edge}"),
            Some(json!({"topic": "t"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Nothing oversized reached the timeline.
    let (_, sync) = alice.call("GET", "/sync", None).await;
    let text = sync.to_string();
    assert!(!text.contains(&long), "an oversized event was stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_user_ids_are_refused_as_membership_targets_and_invitees() {
    let w = Workdir::new();
    let s = server(&w, "").await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let invite = |target: &str| {
        let (alice, room, target) = (&alice, room.clone(), target.to_string());
        async move {
            let path = format!("/rooms/{room}/invite");
            alice
                .call("POST", &path, Some(json!({"user_id": target})))
                .await
        }
    };
    for bad in [
        "@ünï☃:test.local",
        "@Bob:test.local",
        "@has space:test.local",
    ] {
        let (status, body) = invite(bad).await;
        let message = format!("Invalid user ID: {bad:?}");
        assert_eq!((status, body), (400, error("M_INVALID_PARAM", &message)));
    }
    let long = format!("@{}:test.local", "a".repeat(250));
    let (status, body) = alice
        .call(
            "POST",
            &format!("/rooms/{room}/ban"),
            Some(json!({"user_id": long})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].clone()),
        (400, json!("M_INVALID_PARAM"))
    );
    let (status, body) = alice
        .call(
            "POST",
            "/createRoom",
            Some(json!({"invite": ["@ünï☃:test.local"]})),
        )
        .await;
    let message = "Invalid user ID: \"@ünï☃:test.local\"";
    assert_eq!((status, body), (400, error("M_INVALID_PARAM", message)));
    // Nobody invalid made it into the member list.
    let (_, members) = alice
        .call("GET", &format!("/rooms/{room}/members"), None)
        .await;
    assert_eq!(members["chunk"].as_array().unwrap().len(), 1, "{members}");
    // A historical ID is tolerated for a user that already exists.
    let store = modhost::storage::Store::open(&modhost::config::Database::Sqlite {
        path: w.path().join("data/homeserver.db"),
    })
    .await
    .unwrap();
    assert!(store
        .create_user("@Carol:test.local", None, false)
        .await
        .unwrap());
    let (status, body) = invite("@Carol:test.local").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(invite("@bob:test.local").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn guest_registration_is_refused_while_guest_access_is_off() {
    let w = Workdir::new();
    let s = server(&w, "").await;
    let body = json!({"auth": {"type": "m.login.dummy"}});
    let (status, resp) = s
        .call(
            "POST",
            "/_matrix/client/v3/register?kind=guest",
            None,
            Some(body.clone()),
        )
        .await;
    assert_eq!(
        (status, resp),
        (
            403,
            error("M_GUEST_ACCESS_FORBIDDEN", "Guest access is disabled")
        )
    );
    let (status, resp) = s
        .call(
            "POST",
            "/_matrix/client/v3/register?kind=robot",
            None,
            Some(body),
        )
        .await;
    assert_eq!(
        (status, resp),
        (
            400,
            error("M_UNRECOGNIZED", "Do not understand membership kind: robot")
        )
    );
    let ok = json!({"username": "u", "password": "pw", "auth": {"type": "m.login.dummy"}});
    let (status, _) = s
        .call(
            "POST",
            "/_matrix/client/v3/register?kind=user",
            None,
            Some(ok),
        )
        .await;
    assert_eq!(status, 200);
}

async fn register_with(s: &TestServer, name: &str, password: &str) -> (u16, Value) {
    let body = json!({"username": name, "password": password, "auth": {"type": "m.login.dummy"}});
    s.call("POST", "/_matrix/client/v3/register", None, Some(body))
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_passwords_are_refused_at_registration_and_password_change() {
    let w = Workdir::new();
    let s = server(&w, "").await;
    let weak = error("M_WEAK_PASSWORD", "The password must not be empty");
    assert_eq!(register_with(&s, "empty", "").await, (400, weak.clone()));
    let alice: Client = s.register("alice").await;
    let change = json!({"new_password": "", "auth": {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": "pw"}});
    assert_eq!(
        alice.call("POST", "/account/password", Some(change)).await,
        (400, weak)
    );
    // The policy is off by default: a short password still registers.
    assert_eq!(register_with(&s, "short", "a").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_password_policy_refuses_with_synapses_errcodes() {
    let w = Workdir::new();
    let policy = "password_config:\n  policy: {enabled: true, minimum_length: 8, require_digit: true, require_symbol: true, require_uppercase: true, require_lowercase: true}\n";
    let s = server(&w, policy).await;
    let cases = [
        (
            "Ab1!",
            "M_PASSWORD_TOO_SHORT",
            "The password must be at least 8 characters long",
        ),
        (
            "Abcdefg!",
            "M_PASSWORD_NO_DIGIT",
            "The password must include at least one digit",
        ),
        (
            "Abcdefg1",
            "M_PASSWORD_NO_SYMBOL",
            "The password must include at least one symbol",
        ),
        (
            "abcdef1!",
            "M_PASSWORD_NO_UPPERCASE",
            "The password must include at least one uppercase letter",
        ),
        (
            "ABCDEF1!",
            "M_PASSWORD_NO_LOWERCASE",
            "The password must include at least one lowercase letter",
        ),
    ];
    for (n, (password, errcode, message)) in cases.into_iter().enumerate() {
        let got = register_with(&s, &format!("u{n}"), password).await;
        assert_eq!(got, (400, error(errcode, message)), "{password}");
    }
    assert_eq!(register_with(&s, "good", "Abcdef1!").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn power_levels_as_strings_or_floats_are_refused() {
    let w = Workdir::new();
    let s = server(&w, "").await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let path = format!("/rooms/{room}/state/m.room.power_levels/");
    let (_, current) = alice.call("GET", &path, None).await;
    let mut as_string = current.clone();
    as_string["users"][&alice.user_id] = json!("100");
    let (status, body) = alice.call("PUT", &path, Some(as_string)).await;
    let users = json!({ alice.user_id.clone(): "100" });
    let message = format!("users: {users} must be an object whose values are all integers.");
    assert_eq!((status, body), (400, error("M_BAD_JSON", &message)));
    let mut ban = current.clone();
    ban["ban"] = json!("50");
    let (status, body) = alice.call("PUT", &path, Some(ban)).await;
    assert_eq!(
        (status, body),
        (400, error("M_BAD_JSON", "ban: \"50\" must be an integer."))
    );
    let mut float = current.clone();
    float["kick"] = json!(50.5);
    let (status, body) = alice.call("PUT", &path, Some(float)).await;
    assert_eq!(
        (status, body),
        (400, error("M_BAD_JSON", "Bad JSON value: float"))
    );
    let override_ = json!({"power_level_content_override": {"events_default": "0"}});
    let (status, body) = alice.call("POST", "/createRoom", Some(override_)).await;
    assert_eq!(
        (status, body),
        (
            400,
            error("M_BAD_JSON", "events_default: \"0\" must be an integer.")
        )
    );
    // The stored levels are unchanged.
    assert_eq!(alice.call("GET", &path, None).await.1, current);
}

#[tokio::test(flavor = "multi_thread")]
async fn profiles_too_long_for_a_membership_event_are_refused() {
    let w = Workdir::new();
    let s = server(&w, "").await;
    let alice = s.register("alice").await;
    let path = format!("/profile/{}/displayname", alice.user_id);
    let long = json!({"displayname": "é".repeat(257)});
    let (status, body) = alice.call("PUT", &path, Some(long)).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        error("M_UNKNOWN", "Displayname is too long (max 256)")
    );
    let fits = json!({"displayname": "é".repeat(256)});
    assert_eq!(alice.call("PUT", &path, Some(fits)).await.0, 200);
    let path = format!("/profile/{}/avatar_url", alice.user_id);
    let long = json!({"avatar_url": format!("mxc://test.local/{}", "a".repeat(1000))});
    let (status, body) = alice.call("PUT", &path, Some(long)).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        error("M_UNKNOWN", "Avatar URL is too long (max 1000)")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn registering_without_a_password_is_refused() {
    let w = Workdir::new();
    let s = server(&w, "").await;
    for password in [None, Some(Value::Null)] {
        let mut body = json!({"username": "nopass", "auth": {"type": "m.login.dummy"}});
        if let Some(p) = password {
            body["password"] = p;
        }
        let (status, answer) = s
            .call("POST", "/_matrix/client/v3/register", None, Some(body))
            .await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer, error("M_MISSING_PARAM", "Missing params: password"));
    }
    let (status, _) = s
        .call(
            "GET",
            "/_matrix/client/v3/profile/@nopass:test.local",
            None,
            None,
        )
        .await;
    assert_eq!(status, 404, "no account was made");
}
