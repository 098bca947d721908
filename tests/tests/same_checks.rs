//! Every door runs the same checks and modules are told who acted (issue 13's first two
//! inputs): the module API's `register_user` asks `check_registration_for_spam` as a client's
//! registration does; a server admin's profile changes reach `on_profile_update` with
//! `by_admin = true` (their own included) and may target other users; deactivation clears the
//! profile and reports `deactivation = true` only when `erase` is set — each as Synapse does.

use modhost_tests::{admin_server, Client, TestServer, Workdir};
use serde_json::{json, Value};

/// A server with one `scripted` module (label `a`) that answers `answers` and may call the
/// module API through its `/_synapse/client/scripted/a/host` resource.
/// `root` (registered first, then listed in `admin_users`) is a server admin.
async fn with_host_calls(w: &Workdir, answers: Value) -> (TestServer, Client) {
    let first = TestServer::start(&w.config("enable_registration: true\nmodules: []\n")).await;
    let root = first.register("root").await;
    drop(first);
    let lib = w.copy_module("scripted", "a");
    let config = json!({"label": "a", "host_calls": true, "answers": answers});
    let yaml = format!(
        "enable_registration: true\nadmin_users: [\"@root:test.local\"]\nmodules:\n  - module: {}\n    config: {config}\n",
        lib.display()
    );
    let server = TestServer::start(&w.config(&yaml)).await;
    let root = server.client(&root.user_id, &root.token);
    (server, root)
}

fn calls_of<'a>(calls: &'a [Value], name: &str) -> Vec<&'a Value> {
    calls
        .iter()
        .filter(|c| c["callback"] == name)
        .map(|c| &c["args"])
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn module_api_registration_asks_the_registration_spam_checker() {
    let w = Workdir::new();
    let answers = json!({"check_registration_for_spam": {"seq": ["deny", "shadow_ban", "allow"]}});
    let (s, root) = with_host_calls(&w, answers).await;
    // Denied: refused as a client would be (a disguised rate limit), and no account exists.
    assert_eq!(
        s.host_call("a", "register_user", json!(["carol"])).await,
        json!({"error": "Rate limited", "errcode": "M_LIMIT_EXCEEDED", "status": 429})
    );
    assert_eq!(
        s.host_call("a", "check_user_exists", json!(["@carol:test.local"]))
            .await,
        json!({"ok": null})
    );
    // A shadow-ban answer registers the user shadow-banned.
    assert_eq!(
        s.host_call("a", "register_user", json!(["dave"])).await,
        json!({"ok": "@dave:test.local"})
    );
    let seen = calls_of(&s.calls("a").await, "check_registration_for_spam")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(
        seen,
        vec![json!(["carol", null, []]), json!(["dave", null, []])]
    );
    let (status, dave) = s
        .call(
            "GET",
            "/_synapse/admin/v2/users/@dave:test.local",
            Some(&root.token),
            None,
        )
        .await;
    assert_eq!(
        (status, &dave["shadow_banned"]),
        (200, &json!(true)),
        "{dave}"
    );
    // The localpart rules apply after the spam check, as in Synapse's registration handler.
    assert_eq!(
        s.host_call("a", "register_user", json!(["_reserved"]))
            .await,
        json!({"error": "User ID may not begin with _", "errcode": "M_INVALID_USERNAME", "status": 400})
    );
}

async fn set_name(c: &Client, user_id: &str, name: &str) -> (u16, Value) {
    c.call(
        "PUT",
        &format!("/profile/{user_id}/displayname"),
        Some(json!({"displayname": name})),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_admins_profile_changes_are_by_admin_and_may_target_others() {
    let w = Workdir::new();
    let (s, root) = admin_server(&w, &[("a", json!({"on_profile_update": null}))]).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    assert_eq!(set_name(&root, &root.user_id, "Root").await.0, 200);
    let (status, _) = set_name(&root, &alice.user_id, "Renamed by root").await;
    assert_eq!(status, 200);
    assert_eq!(set_name(&alice, &alice.user_id, "Alice").await.0, 200);
    let (status, body) = set_name(&alice, &bob.user_id, "Hijacked").await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"errcode": "M_FORBIDDEN", "error": "Cannot set another user's displayname"})
        )
    );
    let (status, body) = set_name(&root, "@ghost:test.local", "Nobody").await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (404, Some("M_NOT_FOUND"))
    );
    let calls = s.calls("a").await;
    assert_eq!(
        calls_of(&calls, "on_profile_update"),
        vec![
            &json!([root.user_id, "Root", null, true, false]),
            &json!([alice.user_id, "Renamed by root", null, true, false]),
            &json!([alice.user_id, "Alice", null, false, false]),
        ]
    );
    let (_, bobs) = bob
        .call(
            "GET",
            &format!("/profile/{}/displayname", bob.user_id),
            None,
        )
        .await;
    assert_eq!(
        bobs["displayname"], "bob",
        "the refused change left Bob's name alone"
    );
}

async fn display_name(s: &TestServer, user_id: &str) -> Value {
    let path = format!("/_matrix/client/v3/profile/{user_id}/displayname");
    s.call("GET", &path, None, None).await.1["displayname"].clone()
}

async fn deactivate(c: &Client, erase: Option<bool>) -> (u16, Value) {
    let mut body =
        json!({"auth": {"type": "m.login.password", "user": c.user_id, "password": "pw"}});
    if let Some(erase) = erase {
        body["erase"] = json!(erase);
    }
    c.call("POST", "/account/deactivate", Some(body)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn deactivation_erases_the_profile_only_when_asked() {
    let w = Workdir::new();
    let modules = [(
        "a",
        json!({"on_profile_update": null, "on_user_deactivation_status_changed": null}),
    )];
    let (s, root) = admin_server(&w, &modules).await;
    let (alice, bob, carol) = (
        s.register("alice").await,
        s.register("bob").await,
        s.register("carol").await,
    );
    assert_eq!(deactivate(&alice, None).await.0, 200);
    let (status, body) = deactivate(&bob, Some(true)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = bob
        .call("POST", "/account/deactivate", Some(json!({"erase": "yes"})))
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (401, Some("M_UNKNOWN_TOKEN")),
        "bob is gone"
    );
    let admin = format!("/_synapse/admin/v1/deactivate/{}", carol.user_id);
    let (status, body) = s
        .call("POST", &admin, Some(&root.token), Some(json!({"erase": 1})))
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_BAD_JSON"))
    );
    let (status, _) = s
        .call(
            "POST",
            &admin,
            Some(&root.token),
            Some(json!({"erase": true})),
        )
        .await;
    assert_eq!(status, 200);
    let calls = s.calls("a").await;
    assert_eq!(
        calls_of(&calls, "on_profile_update"),
        vec![
            &json!([bob.user_id, "", null, false, true]),
            &json!([carol.user_id, "", null, true, true])
        ],
        "only erasing deactivations touch the profile"
    );
    assert_eq!(
        calls_of(&calls, "on_user_deactivation_status_changed").len(),
        3
    );
    assert_eq!(
        display_name(&s, &alice.user_id).await,
        "alice",
        "kept without erase"
    );
    assert_eq!(display_name(&s, &bob.user_id).await, "", "erased");
}
