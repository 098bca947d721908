//! Third-party rules, password auth providers, account validity, account data and
//! `unsigned` callbacks at their client-API call sites (spec §6.2–§6.4), over HTTP.

use modhost_tests::{scripted_server, Workdir};
use serde_json::{json, Value};

fn names(calls: &[Value]) -> Vec<&str> {
    calls
        .iter()
        .filter_map(|c| c["callback"].as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn t1_t4_check_event_allowed_denies_or_replaces_what_is_stored() {
    let w = Workdir::new();
    let s = scripted_server(
        &w,
        "enable_registration: true\n",
        &[(
            "a",
            json!({"check_event_allowed": {"replace_content": {"x": "y"}, "only_type": "foo.bar"}}),
        )],
    )
    .await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let (status, body) = alice
        .call(
            "PUT",
            &format!("/rooms/{room}/send/foo.bar/1"),
            Some(json!({"x": "x"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, event) = alice
        .call(
            "GET",
            &format!("/rooms/{room}/event/{}", body["event_id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 200, "{event}");
    assert_eq!(event["content"], json!({"x": "y"}), "{event}");

    let w = Workdir::new();
    let s = scripted_server(
        &w,
        "enable_registration: true\n",
        &[("a", json!({"check_event_allowed": "deny"}))],
    )
    .await;
    let alice = s.register("alice").await;
    let (status, body) = alice.call("POST", "/createRoom", Some(json!({}))).await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"errcode": "M_FORBIDDEN", "error": "This event is not allowed in this context"})
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn t2_a_modules_matrix_error_reaches_the_client_verbatim() {
    let w = Workdir::new();
    let s = scripted_server(
        &w,
        "enable_registration: true\n",
        &[(
            "a",
            json!({"on_create_room": {"matrix": [429, "M_UNKNOWN", "message"]}}),
        )],
    )
    .await;
    let alice = s.register("alice").await;
    let (status, body) = alice.call("POST", "/createRoom", Some(json!({}))).await;
    assert_eq!(
        (status, body),
        (
            429,
            json!({"errcode": "M_UNKNOWN", "error": "message", "from": "a"})
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn on_create_room_can_rewrite_the_request() {
    let w = Workdir::new();
    let s = scripted_server(
        &w,
        "enable_registration: true\n",
        &[(
            "a",
            json!({"on_create_room": {"set": {"name": "Renamed by module"}}}),
        )],
    )
    .await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({"name": "Original"})).await;
    let (status, body) = alice
        .call("GET", &format!("/rooms/{room}/state/m.room.name/"), None)
        .await;
    assert_eq!((status, body), (200, json!({"name": "Renamed by module"})));
}

#[tokio::test(flavor = "multi_thread")]
async fn t9_m16_new_events_are_announced_and_modules_tag_unsigned() {
    let w = Workdir::new();
    let s = scripted_server(&w, "enable_registration: true\n", &[("a", json!({"on_new_event": null, "add_field_to_unsigned": {"test_key": "tagged", "age": -1}}))]).await;
    let alice = s.register("alice").await;
    let room = alice.create_room(json!({})).await;
    let (_, sent) = alice.say(&room, "hi").await;
    let event_id = sent["event_id"].as_str().unwrap();
    let (status, event) = alice
        .call("GET", &format!("/rooms/{room}/event/{event_id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(event["unsigned"]["test_key"], "tagged");
    assert!(
        event["unsigned"]["age"].as_i64().unwrap() >= 0,
        "the server's own `age` is never overwritten: {event}"
    );
    // on_new_event runs after the event is stored, in the background.
    for _ in 0..100 {
        if s.calls("a")
            .await
            .iter()
            .any(|c| c["callback"] == "on_new_event" && c["args"][0] == event_id)
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!(
        "on_new_event never saw {event_id}: {:?}",
        s.calls("a").await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn t10_m18_profile_and_account_data_updates_are_announced() {
    let w = Workdir::new();
    let s = scripted_server(
        &w,
        "enable_registration: true\n",
        &[(
            "a",
            json!({"on_profile_update": null, "on_account_data_updated": null}),
        )],
    )
    .await;
    let alice = s.register("alice").await;
    let me = alice.user_id.clone();
    assert_eq!(
        alice
            .call(
                "PUT",
                &format!("/profile/{me}/displayname"),
                Some(json!({"displayname": "Foo"}))
            )
            .await
            .0,
        200
    );
    assert_eq!(
        alice
            .call(
                "PUT",
                &format!("/user/{me}/account_data/org.matrix.foo"),
                Some(json!({"a": 1}))
            )
            .await
            .0,
        200
    );
    let room = alice.create_room(json!({})).await;
    assert_eq!(
        alice
            .call(
                "PUT",
                &format!("/user/{me}/rooms/{room}/account_data/org.matrix.bar"),
                Some(json!({"b": 2}))
            )
            .await
            .0,
        200
    );
    let calls = s.calls("a").await;
    assert_eq!(
        names(&calls),
        [
            "on_profile_update",
            "on_account_data_updated",
            "on_account_data_updated"
        ]
    );
    assert_eq!(calls[0]["args"], json!([me, "Foo", null, false, false]));
    assert_eq!(
        calls[1]["args"],
        json!([me, null, "org.matrix.foo", {"a": 1}])
    );
    assert_eq!(
        calls[2]["args"],
        json!([me, room, "org.matrix.bar", {"b": 2}])
    );
    assert_eq!(
        alice
            .call(
                "GET",
                &format!("/user/{me}/account_data/org.matrix.foo"),
                None
            )
            .await,
        (200, json!({"a": 1}))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn p6_p8_module_login_types_are_advertised_checked_and_followed_up() {
    let w = Workdir::new();
    let s = scripted_server(&w, "enable_registration: true\n", &[("a", json!({"auth_checker:test.login_type:test_field": "@alice:test.local", "on_user_login": null}))]).await;
    s.register("alice").await;
    let (_, flows) = s.call("GET", "/_matrix/client/v3/login", None, None).await;
    assert_eq!(
        flows,
        json!({"flows": [{"type": "m.login.password"}, {"type": "test.login_type"}, {"type": "m.login.token"}]})
    );

    let (status, body) = s
        .call(
            "POST",
            "/_matrix/client/v3/login",
            None,
            Some(json!({"type": "test.login_type", "user": "u"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"],
        "Missing parameters for login type test.login_type: [\"test_field\"]"
    );

    let (status, body) = s
        .call(
            "POST",
            "/_matrix/client/v3/login",
            None,
            Some(json!({"type": "test.login_type", "user": "u", "test_field": "y"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_id"], "@alice:test.local");
    let calls = s.calls("a").await;
    assert_eq!(
        calls[0]["args"],
        json!(["u", "test.login_type", {"test_field": "y"}])
    );
    let on_login = calls
        .iter()
        .find(|c| c["callback"] == "on_login")
        .expect("on_login ran");
    assert_eq!(on_login["args"]["access_token"], body["access_token"]);
    let user_login = calls
        .iter()
        .find(|c| c["callback"] == "on_user_login")
        .expect("on_user_login ran");
    assert_eq!(
        user_login["args"],
        json!(["@alice:test.local", "test.login_type", null])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn p10_p12_logout_is_announced_and_modules_choose_usernames() {
    let w = Workdir::new();
    let s = scripted_server(
        &w,
        "enable_registration: true\n",
        &[(
            "a",
            json!({"on_logged_out": null, "get_username_for_registration": "rin-foo"}),
        )],
    )
    .await;
    let rin = s.register("rin").await;
    assert_eq!(rin.user_id, "@rin-foo:test.local");
    assert_eq!(rin.call("POST", "/logout", Some(json!({}))).await.0, 200);
    let calls = s.calls("a").await;
    let out = calls
        .iter()
        .find(|c| c["callback"] == "on_logged_out")
        .expect("on_logged_out");
    assert_eq!(out["args"][0], "@rin-foo:test.local");
    assert_eq!(
        rin.call("GET", "/account/whoami", None).await.1["errcode"],
        "M_UNKNOWN_TOKEN"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a1_expired_accounts_are_refused_but_may_log_out() {
    let w = Workdir::new();
    let s = scripted_server(
        &w,
        "enable_registration: true\n",
        &[("a", json!({"is_user_expired": true}))],
    )
    .await;
    let alice = s.register("alice").await;
    assert_eq!(
        alice.call("GET", "/account/whoami", None).await,
        (
            403,
            json!({"errcode": "ORG_MATRIX_EXPIRED_ACCOUNT", "error": "User account has expired"})
        )
    );
    assert_eq!(alice.call("POST", "/logout", Some(json!({}))).await.0, 200);
}

async fn login(s: &modhost_tests::TestServer, body: Value) -> (u16, Value) {
    s.call("POST", "/_matrix/client/v3/login", None, Some(body))
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn p3_p4_p5_password_config_controls_the_local_fallback_and_password_login() {
    let pw = |user: &str, password: &str| json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password});
    // P3: the module says no, the local database says yes.
    let w = Workdir::new();
    let s = scripted_server(
        &w,
        "enable_registration: true\n",
        &[("a", json!({"auth_checker:m.login.password:password": null}))],
    )
    .await;
    s.register("local").await;
    assert_eq!(login(&s, pw("local", "pw")).await.0, 200);
    assert_eq!(login(&s, pw("local", "wrong")).await.0, 403);
    let calls = s.calls("a").await;
    assert_eq!(
        calls.len(),
        2,
        "the provider is consulted each time: {calls:?}"
    );
    drop(s);
    // P4: no local fallback.
    let s = scripted_server(
        &w,
        "enable_registration: true\npassword_config: {localdb_enabled: false}\n",
        &[("a", json!({"auth_checker:m.login.password:password": null}))],
    )
    .await;
    let (status, body) = login(&s, pw("local", "pw")).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (403, Some("M_FORBIDDEN"))
    );
    drop(s);
    // P5 / P9: password login off entirely — not advertised, refused with 400, provider not asked.
    let w = Workdir::new();
    let s = scripted_server(&w, "enable_registration: true\npassword_config: {enabled: false}\n", &[("a", json!({"auth_checker:m.login.password:password": null, "auth_checker:org.example.t:t": "@x:test.local"}))]).await;
    let (_, flows) = s.call("GET", "/_matrix/client/v3/login", None, None).await;
    assert_eq!(
        flows,
        json!({"flows": [{"type": "org.example.t"}, {"type": "m.login.token"}]})
    );
    assert_eq!(login(&s, pw("anyone", "pw")).await.0, 400);
    assert!(s.calls("a").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn third_party_logins_go_to_check_3pid_auth() {
    let w = Workdir::new();
    let s = scripted_server(
        &w,
        "enable_registration: true\n",
        &[("a", json!({"check_3pid_auth": "@alice:test.local"}))],
    )
    .await;
    s.register("alice").await;
    let body = json!({"type": "m.login.password", "identifier": {"type": "m.id.thirdparty", "medium": "email", "address": "Alice@Example.org"}, "password": "x"});
    let (status, resp) = login(&s, body).await;
    assert_eq!(
        (status, resp["user_id"].as_str()),
        (200, Some("@alice:test.local")),
        "{resp}"
    );
    assert_eq!(
        s.calls("a").await[0]["args"],
        json!(["email", "alice@example.org"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn p2_p7_deleting_a_device_takes_interactive_auth_with_module_login_types() {
    let w = Workdir::new();
    let s = scripted_server(&w, "enable_registration: true\n", &[("a", json!({"auth_checker:test.login_type:test_field": "@alice:test.local", "on_logged_out": null}))]).await;
    let alice = s.register("alice").await;
    let (_, devices) = alice.call("GET", "/devices", None).await;
    let device = devices["devices"][0]["device_id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/devices/{device}");

    let (status, challenge) = alice.call("DELETE", &path, Some(json!({}))).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge["flows"],
        json!([{"stages": ["m.login.password"]}, {"stages": ["test.login_type"]}])
    );
    let wrong = json!({"auth": {"type": "m.login.password", "password": "nope"}});
    assert_eq!(
        alice.call("DELETE", &path, Some(wrong)).await,
        (
            401,
            json!({"errcode": "M_FORBIDDEN", "error": "Invalid auth"})
        )
    );
    let missing = json!({"auth": {"type": "test.login_type"}});
    assert_eq!(alice.call("DELETE", &path, Some(missing)).await.0, 400);
    let module = json!({"auth": {"type": "test.login_type", "test_field": "y"}});
    assert_eq!(alice.call("DELETE", &path, Some(module)).await.0, 200);
    let calls = s.calls("a").await;
    assert!(
        calls
            .iter()
            .any(|c| c["callback"] == "on_logged_out" && c["args"][1] == device.as_str()),
        "{calls:?}"
    );
    assert_eq!(
        alice.call("GET", "/account/whoami", None).await.0,
        401,
        "the device's token is gone"
    );
}
