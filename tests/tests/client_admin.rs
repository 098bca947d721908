//! Deactivation and admin endpoints with their module checks (spec §6.2 T12–T15).

use modhost_tests::{admin_server, scripted_server, TestServer, Workdir};
use serde_json::{json, Value};

const ADMIN: &str = "enable_registration: true\nadmin_users: [\"@root:test.local\"]\n";

#[tokio::test(flavor = "multi_thread")]
async fn t12_self_deactivation_needs_the_password_and_notifies_modules() {
    let w = Workdir::new();
    let s = scripted_server(&w, ADMIN, &[("a", json!({"check_can_deactivate_user": true, "on_user_deactivation_status_changed": null, "on_profile_update": null}))]).await;
    let alice = s.register("alice").await;
    let (status, body) = alice
        .call("POST", "/account/deactivate", Some(json!({})))
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["flows"], json!([{"stages": ["m.login.password"]}]));
    let wrong = json!({"auth": {"type": "m.login.password", "password": "nope"}});
    assert_eq!(
        alice
            .call("POST", "/account/deactivate", Some(wrong))
            .await
            .1["errcode"],
        "M_FORBIDDEN"
    );
    let ok = json!({"auth": {"type": "m.login.password", "password": "pw"}, "erase": true});
    assert_eq!(
        alice.call("POST", "/account/deactivate", Some(ok)).await.0,
        200
    );
    let calls = s.calls("a").await;
    let names: Vec<&str> = calls
        .iter()
        .filter_map(|c| c["callback"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "check_can_deactivate_user",
            "on_profile_update",
            "on_user_deactivation_status_changed"
        ]
    );
    assert_eq!(calls[0]["args"], json!(["@alice:test.local", false]));
    assert_eq!(
        calls[1]["args"],
        json!(["@alice:test.local", "", null, false, true])
    );
    assert_eq!(calls[2]["args"], json!(["@alice:test.local", true, false]));
    assert_eq!(
        alice.call("GET", "/account/whoami", None).await.1["errcode"],
        "M_UNKNOWN_TOKEN"
    );
    let login = json!({"type": "m.login.password", "user": "alice", "password": "pw"});
    assert_eq!(
        s.call("POST", "/_matrix/client/v3/login", None, Some(login))
            .await
            .0,
        403
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn t14_modules_can_forbid_deactivation_by_the_user_or_an_admin() {
    let w = Workdir::new();
    let (s, root) = admin_server(&w, &[("a", json!({"check_can_deactivate_user": false}))]).await;
    let alice = s.register("alice").await;
    let ok = json!({"auth": {"type": "m.login.password", "password": "pw"}});
    assert_eq!(
        alice.call("POST", "/account/deactivate", Some(ok)).await,
        (
            403,
            json!({"errcode": "M_FORBIDDEN", "error": "Deactivation of this user is forbidden"})
        )
    );
    let (status, _) = s
        .call(
            "POST",
            "/_synapse/admin/v1/deactivate/@alice:test.local",
            Some(&root.token),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 403);
    let args: Vec<_> = s
        .calls("a")
        .await
        .into_iter()
        .map(|c| c["args"].clone())
        .collect();
    assert_eq!(
        args,
        [
            json!(["@alice:test.local", false]),
            json!(["@alice:test.local", true])
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_endpoints_refuse_non_admins() {
    let w = Workdir::new();
    let s = scripted_server(&w, ADMIN, &[("a", json!({}))]).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    assert_eq!(
        s.shut_down_room(&alice.token, &room).await,
        (
            403,
            json!({"errcode": "M_FORBIDDEN", "error": "You are not a server admin"})
        )
    );
    assert_eq!(
        s.call(
            "POST",
            "/_synapse/admin/v1/deactivate/@root:test.local",
            Some(&alice.token),
            Some(json!({}))
        )
        .await
        .0,
        403
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn t15_room_shutdown_asks_modules_then_empties_the_room() {
    let w = Workdir::new();
    let (s, root) = admin_server(&w, &[("a", json!({"check_can_shutdown_room": false}))]).await;
    let alice = s.register("alice").await;
    let room = alice
        .create_room(json!({"room_alias_name": "doomed"}))
        .await;
    let (status, body) = s.shut_down_room(&root.token, &room).await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"errcode": "M_FORBIDDEN", "error": "Shutdown of this room is forbidden"})
        )
    );
    assert_eq!(
        s.calls("a").await[0]["args"],
        json!(["@root:test.local", room])
    );

    let w = Workdir::new();
    let (s, root) = admin_server(&w, &[("a", json!({"check_can_shutdown_room": true}))]).await;
    let alice = s.register("alice").await;
    let room = alice
        .create_room(json!({"room_alias_name": "doomed"}))
        .await;
    let (status, body) = s.shut_down_room(&root.token, &room).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["kicked_users"], json!(["@alice:test.local"]));
    assert_eq!(alice.say(&room, "anyone?").await.0, 403);
    assert_eq!(
        s.call(
            "GET",
            "/_matrix/client/v3/directory/room/%23doomed:test.local",
            None,
            None
        )
        .await
        .0,
        404
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_users_is_the_whole_truth_and_cannot_be_claimed_by_registering() {
    let w = Workdir::new();
    let s = scripted_server(&w, ADMIN, &[("a", json!({}))]).await;
    let (status, body) = s
        .call(
            "POST",
            "/_matrix/client/v3/register",
            None,
            Some(json!({"username": "root", "password": "x", "auth": {"type": "m.login.dummy"}})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"errcode": "M_FORBIDDEN", "error": "This user ID is reserved for a server admin"})
        )
    );
    drop(s);

    let w = Workdir::new();
    let (s, root) = admin_server(&w, &[]).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    assert_eq!(s.shut_down_room(&root.token, &room).await.0, 200);
    drop(s);
    // Delisted: no longer an admin after a restart.
    let s = TestServer::start(&w.config("enable_registration: true\nmodules: []\n")).await;
    let alice = s.client(&alice.user_id, &alice.token);
    let room2 = alice.create_room(json!({})).await;
    assert_eq!(s.shut_down_room(&root.token, &room2).await.0, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn t11_t13_admin_profile_changes_and_reactivation_are_reported() {
    let w = Workdir::new();
    let (s, root) = admin_server(&w, &[("a", json!({"on_profile_update": null, "on_user_deactivation_status_changed": null, "check_can_deactivate_user": true}))]).await;
    let alice = s.register("alice").await;
    let path = format!("/_synapse/admin/v2/users/{}", alice.user_id);
    let put = |body| s.call("PUT", &path, Some(&root.token), Some(body));
    let (status, body) =
        put(json!({"displayname": "Foo", "avatar_url": "mxc://test.local/a"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(put(json!({"deactivated": true})).await.0, 200);
    assert_eq!(
        put(json!({"deactivated": false})).await.0,
        400,
        "reactivation needs a password"
    );
    assert_eq!(
        put(json!({"deactivated": false, "password": "new"}))
            .await
            .0,
        200
    );
    assert_eq!(put(json!({"admin": true})).await.0, 400);
    let calls = s.calls("a").await;
    let profile: Vec<&Value> = calls
        .iter()
        .filter(|c| c["callback"] == "on_profile_update")
        .map(|c| &c["args"])
        .collect();
    assert_eq!(
        profile[0],
        &json!([alice.user_id, "Foo", null, true, false]),
        "one call per field, by_admin"
    );
    assert_eq!(
        profile[1],
        &json!([alice.user_id, "Foo", "mxc://test.local/a", true, false])
    );
    let status: Vec<&Value> = calls
        .iter()
        .filter(|c| c["callback"] == "on_user_deactivation_status_changed")
        .map(|c| &c["args"])
        .collect();
    assert_eq!(
        status,
        [
            &json!([alice.user_id, true, true]),
            &json!([alice.user_id, false, true])
        ]
    );
    let login = json!({"type": "m.login.password", "user": "alice", "password": "new"});
    assert_eq!(
        s.call("POST", "/_matrix/client/v3/login", None, Some(login))
            .await
            .0,
        200,
        "reactivated with the new password"
    );
}
