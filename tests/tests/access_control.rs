//! Access control, table-driven (issue 5): every authenticated endpoint refuses a missing
//! or unknown token; admin endpoints refuse non-admins; a user cannot read a room they are
//! not in.

use modhost_tests::{admin_server, Workdir};
use serde_json::{json, Value};

/// Every endpoint that needs an access token: (method, path, body). `{room}`, `{event}` and
/// `{user}` are filled in.
const AUTHENTICATED: &[(&str, &str, Option<&str>)] = &[
    ("POST", "/_matrix/client/v3/logout", Some("{}")),
    ("POST", "/_matrix/client/v3/logout/all", Some("{}")),
    ("GET", "/_matrix/client/v3/account/whoami", None),
    ("POST", "/_matrix/client/v3/createRoom", Some("{}")),
    ("POST", "/_matrix/client/v3/join/{room}", Some("{}")),
    ("POST", "/_matrix/client/v3/rooms/{room}/join", Some("{}")),
    (
        "POST",
        "/_matrix/client/v3/rooms/{room}/invite",
        Some(r#"{"user_id": "@x:test.local"}"#),
    ),
    ("POST", "/_matrix/client/v3/rooms/{room}/leave", Some("{}")),
    (
        "POST",
        "/_matrix/client/v3/rooms/{room}/kick",
        Some(r#"{"user_id": "@x:test.local"}"#),
    ),
    (
        "POST",
        "/_matrix/client/v3/rooms/{room}/ban",
        Some(r#"{"user_id": "@x:test.local"}"#),
    ),
    (
        "PUT",
        "/_matrix/client/v3/rooms/{room}/send/m.room.message/t1",
        Some(r#"{"body": "x"}"#),
    ),
    (
        "PUT",
        "/_matrix/client/v3/rooms/{room}/state/m.room.topic/",
        Some(r#"{"topic": "x"}"#),
    ),
    (
        "GET",
        "/_matrix/client/v3/rooms/{room}/state/m.room.create/",
        None,
    ),
    ("GET", "/_matrix/client/v3/rooms/{room}/state", None),
    ("GET", "/_matrix/client/v3/rooms/{room}/event/{event}", None),
    ("GET", "/_matrix/client/v3/rooms/{room}/messages", None),
    ("GET", "/_matrix/client/v3/rooms/{room}/members", None),
    (
        "POST",
        "/_matrix/client/v3/rooms/{room}/upgrade",
        Some(r#"{"new_version": "10"}"#),
    ),
    ("GET", "/_matrix/client/v3/sync", None),
    ("POST", "/_matrix/client/v3/user/{user}/filter", Some("{}")),
    ("GET", "/_matrix/client/v3/user/{user}/filter/0", None),
    (
        "PUT",
        "/_matrix/client/v3/profile/{user}/displayname",
        Some(r#"{"displayname": "x"}"#),
    ),
    (
        "PUT",
        "/_matrix/client/v3/user/{user}/account_data/org.x",
        Some("{}"),
    ),
    (
        "GET",
        "/_matrix/client/v3/user/{user}/account_data/org.x",
        None,
    ),
    (
        "PUT",
        "/_matrix/client/v3/user/{user}/rooms/{room}/account_data/org.x",
        Some("{}"),
    ),
    (
        "GET",
        "/_matrix/client/v3/user/{user}/rooms/{room}/account_data/org.x",
        None,
    ),
    (
        "PUT",
        "/_matrix/client/v3/directory/room/%23x:test.local",
        Some(r#"{"room_id": "{room}"}"#),
    ),
    (
        "DELETE",
        "/_matrix/client/v3/directory/room/%23x:test.local",
        None,
    ),
    (
        "PUT",
        "/_matrix/client/v3/directory/list/room/{room}",
        Some(r#"{"visibility": "public"}"#),
    ),
    (
        "POST",
        "/_matrix/client/v3/user_directory/search",
        Some(r#"{"search_term": "a"}"#),
    ),
    ("GET", "/_matrix/client/v1/media/config", None),
    (
        "GET",
        "/_matrix/client/v1/media/download/test.local/abc",
        None,
    ),
    ("POST", "/_matrix/media/v3/upload", Some("bytes")),
    ("POST", "/_matrix/client/v3/account/deactivate", Some("{}")),
    (
        "PUT",
        "/_matrix/client/v3/presence/{user}/status",
        Some(r#"{"presence": "online"}"#),
    ),
    ("GET", "/_matrix/client/v3/presence/{user}/status", None),
    ("GET", "/_matrix/client/v3/devices", None),
    ("DELETE", "/_matrix/client/v3/devices/ABC", Some("{}")),
    ("POST", "/_synapse/admin/v1/deactivate/{user}", Some("{}")),
    ("DELETE", "/_synapse/admin/v2/rooms/{room}", None),
    ("PUT", "/_synapse/admin/v2/users/{user}", Some("{}")),
    ("GET", "/_synapse/admin/v2/users/{user}", None),
    ("GET", "/_synapse/admin/v1/modules", None),
    ("GET", "/_matrix/client/v3/account/3pid", None),
    ("POST", "/_matrix/client/v3/account/3pid", Some("{}")),
    (
        "POST",
        "/_matrix/client/v3/account/3pid/add",
        Some(r#"{"client_secret": "s", "sid": "1"}"#),
    ),
    (
        "POST",
        "/_matrix/client/v3/account/3pid/bind",
        Some(r#"{"client_secret": "s", "sid": "1", "id_server": "i", "id_access_token": "t"}"#),
    ),
    (
        "POST",
        "/_matrix/client/v3/account/3pid/unbind",
        Some(r#"{"medium": "email", "address": "a@b.c"}"#),
    ),
    (
        "POST",
        "/_matrix/client/v3/account/3pid/delete",
        Some(r#"{"medium": "email", "address": "a@b.c"}"#),
    ),
];

/// The admin-only ones among them.
const ADMIN: &[(&str, &str, Option<&str>)] = &[
    ("POST", "/_synapse/admin/v1/deactivate/{user}", Some("{}")),
    ("DELETE", "/_synapse/admin/v2/rooms/{room}", None),
    (
        "PUT",
        "/_synapse/admin/v2/users/{user}",
        Some(r#"{"displayname": "x"}"#),
    ),
    ("GET", "/_synapse/admin/v2/users/{user}", None),
    ("GET", "/_synapse/admin/v1/modules", None),
];

async fn send(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method.parse().unwrap(), format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req
            .body(b.to_string())
            .header("content-type", "application/json");
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_authenticated_endpoint_refuses_missing_and_unknown_tokens() {
    let w = Workdir::new();
    let (s, root) = admin_server(&w, &[]).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let (_, sent) = alice.say(&room, "hello").await;
    let event = sent["event_id"].as_str().unwrap().to_string();
    let fill = |t: &str| {
        t.replace("{room}", &room)
            .replace("{event}", &event)
            .replace("{user}", &alice.user_id)
    };
    let mut wrong = Vec::new();
    for (method, path, body) in AUTHENTICATED {
        let (path, body) = (fill(path), body.map(fill));
        let missing = send(&s.base, method, &path, None, body.as_deref()).await;
        if (missing.0, missing.1["errcode"].as_str()) != (401, Some("M_MISSING_TOKEN")) {
            wrong.push(format!("{method} {path} without a token: {missing:?}"));
        }
        let unknown = send(&s.base, method, &path, Some("not-a-token"), body.as_deref()).await;
        if (unknown.0, unknown.1["errcode"].as_str()) != (401, Some("M_UNKNOWN_TOKEN")) {
            wrong.push(format!(
                "{method} {path} with an unknown token: {unknown:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // Admin endpoints: a user is refused, the admin is not.
    let bob = s.register("bob").await;
    for (method, path, body) in ADMIN {
        let (path, body) = (fill(path), body.map(fill));
        let (status, answer) =
            send(&s.base, method, &path, Some(&bob.token), body.as_deref()).await;
        assert_eq!(
            (status, answer["errcode"].as_str()),
            (403, Some("M_FORBIDDEN")),
            "{method} {path} as a non-admin: {answer}"
        );
    }
    let (status, _) = send(
        &s.base,
        "GET",
        "/_synapse/admin/v1/modules",
        Some(&root.token),
        None,
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_cannot_read_a_room_they_are_not_in() {
    let w = Workdir::new();
    let (s, _root) = admin_server(&w, &[]).await;
    let alice = s.register("alice").await;
    let eve = s.register("eve").await;
    let room = alice.create_room(json!({"preset": "private_chat"})).await;
    let (_, sent) = alice.say(&room, "secret").await;
    let event = sent["event_id"].as_str().unwrap();
    for path in [
        format!("/rooms/{room}/messages"),
        format!("/rooms/{room}/state"),
        format!("/rooms/{room}/state/m.room.create/"),
        format!("/rooms/{room}/event/{event}"),
        format!("/rooms/{room}/members"),
    ] {
        let (status, body) = eve.call("GET", &path, None).await;
        assert_eq!(
            (status, body["errcode"].as_str()),
            (403, Some("M_FORBIDDEN")),
            "GET {path} by a non-member: {body}"
        );
    }
    let (status, _) = eve
        .call(
            "PUT",
            &format!("/rooms/{room}/send/m.room.message/t1"),
            Some(json!({"body": "x"})),
        )
        .await;
    assert_eq!(status, 403, "nor write to it");
    let (_, sync) = eve.call("GET", "/sync?timeout=0", None).await;
    assert!(
        !sync.to_string().contains("secret"),
        "nor see it in /sync: {sync}"
    );
}
