//! Module API identity and session services (issue 4), through the `scripted` fixture's
//! host-call resource: users, admins, profiles, devices, request authentication, login
//! tokens, host settings.

use modhost_tests::{TestServer, Workdir};
use serde_json::{json, Value};

fn config(w: &Workdir, extra: &str) -> std::path::PathBuf {
    let lib = w.copy_module("scripted", "a");
    w.config(&format!(
        "enable_registration: true\n{extra}modules:\n  - module: {}\n    config: {{label: a, host_calls: true, sdk_probe: true, answers: {{on_profile_update: null, on_logged_out: null}}}}\n",
        lib.display()
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn userinfo_and_admin_status_survive_a_restart() {
    let w = Workdir::new();
    let s = TestServer::start(&config(&w, "")).await;
    s.register("alice").await;
    let info = s
        .host_call("a", "get_userinfo_by_id", json!(["@alice:test.local"]))
        .await;
    assert_eq!(info["ok"]["user_id"], "@alice:test.local", "{info}");
    assert_eq!(info["ok"]["is_admin"], false);
    assert_eq!(info["ok"]["is_deactivated"], false);
    assert!(info["ok"]["creation_ts"].as_i64().unwrap() > 1_600_000_000);
    assert_eq!(
        s.host_call("a", "get_userinfo_by_id", json!(["@ghost:test.local"]))
            .await,
        json!({"ok": null})
    );
    assert_eq!(
        s.host_call("a", "check_user_exists", json!(["@ALICE:test.local"]))
            .await,
        json!({"ok": "@alice:test.local"}),
        "localparts match case-insensitively and the stored ID comes back"
    );

    assert_eq!(
        s.host_call("a", "set_user_admin", json!(["@alice:test.local", true]))
            .await,
        json!({"ok": null})
    );
    assert_eq!(
        s.host_call("a", "set_user_admin", json!(["@ghost:test.local", true]))
            .await,
        json!({"error": "user @ghost:test.local is not registered"})
    );
    assert_eq!(
        s.host_call("a", "set_user_admin", json!(["@bob:elsewhere.org", true]))
            .await,
        json!({"error": "user @bob:elsewhere.org is not a local user"})
    );
    drop(s);
    let s = TestServer::start(&config(&w, "")).await;
    assert_eq!(
        s.host_call("a", "is_user_admin", json!(["@alice:test.local"]))
            .await,
        json!({"ok": true}),
        "a module's admin grant is kept across restarts"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn profiles_devices_and_tokens() {
    let w = Workdir::new();
    let s = TestServer::start(&config(&w, "")).await;
    let alice = s.register("alice").await;
    assert_eq!(
        s.host_call("a", "get_profile_for_user", json!([alice.user_id]))
            .await,
        json!({"ok": {"displayname": "alice", "avatar_url": null}})
    );
    assert_eq!(
        s.host_call("a", "set_displayname", json!([alice.user_id, "Alice A."]))
            .await,
        json!({"ok": null})
    );
    let (_, name) = alice
        .call("GET", "/profile/@alice:test.local/displayname", None)
        .await;
    assert_eq!(name["displayname"], "Alice A.");
    let update = s
        .calls("a")
        .await
        .into_iter()
        .find(|c| c["callback"] == "on_profile_update")
        .expect("on_profile_update fired");
    assert_eq!(update["args"][3], true, "by_admin is true: {update}");

    // A device for alice, usable at once.
    let device = s
        .host_call(
            "a",
            "register_device",
            json!([alice.user_id, "BOTDEV", "bot"]),
        )
        .await;
    assert_eq!(device["ok"]["device_id"], "BOTDEV", "{device}");
    let token = device["ok"]["access_token"].as_str().unwrap().to_string();
    let bot = s.client(&alice.user_id, &token);
    let (status, who) = bot.call("GET", "/account/whoami", None).await;
    assert_eq!((status, who["device_id"].clone()), (200, json!("BOTDEV")));

    // The module authenticates requests to its own resources by the same tokens.
    let (status, me) = s
        .call(
            "GET",
            "/_synapse/client/scripted/a/probe/whoami",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        me["ok"],
        json!({"user_id": "@alice:test.local", "device_id": "BOTDEV", "is_admin": false})
    );
    let (status, missing) = s
        .call(
            "GET",
            "/_synapse/client/scripted/a/probe/whoami",
            None,
            None,
        )
        .await;
    assert_eq!(
        (status, missing),
        (
            401,
            json!({"errcode": "M_MISSING_TOKEN", "error": "Missing access token"})
        )
    );

    // Invalidating the token logs the device out, with on_logged_out.
    assert_eq!(
        s.host_call("a", "invalidate_access_token", json!([token]))
            .await,
        json!({"ok": true})
    );
    assert_eq!(
        s.host_call("a", "invalidate_access_token", json!([token]))
            .await,
        json!({"ok": false})
    );
    let (status, gone) = bot.call("GET", "/account/whoami", None).await;
    assert_eq!(
        (status, gone["errcode"].clone()),
        (401, json!("M_UNKNOWN_TOKEN"))
    );
    let (status, unknown) = s
        .call(
            "GET",
            "/_synapse/client/scripted/a/probe/whoami",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        (status, unknown["errcode"].clone()),
        (401, json!("M_UNKNOWN_TOKEN"))
    );
    assert!(s
        .calls("a")
        .await
        .iter()
        .any(|c| c["callback"] == "on_logged_out" && c["args"][1] == "BOTDEV"));
}

#[tokio::test(flavor = "multi_thread")]
async fn login_tokens_log_in_once() {
    let w = Workdir::new();
    let s = TestServer::start(&config(&w, "")).await;
    s.register("alice").await;
    let (_, flows) = s.call("GET", "/_matrix/client/v3/login", None, None).await;
    assert!(
        flows["flows"]
            .as_array()
            .unwrap()
            .contains(&json!({"type": "m.login.token"})),
        "{flows}"
    );
    let made = s
        .host_call("a", "create_login_token", json!(["@alice:test.local"]))
        .await;
    let token = made["ok"].as_str().expect("a token").to_string();
    let login = |token: String| {
        let s = &s;
        async move {
            s.call(
                "POST",
                "/_matrix/client/v3/login",
                None,
                Some(json!({"type": "m.login.token", "token": token})),
            )
            .await
        }
    };
    let (status, body) = login(token.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_id"], "@alice:test.local");
    let (status, again) = login(token).await;
    assert_eq!(
        (status, again),
        (
            403,
            json!({"errcode": "M_FORBIDDEN", "error": "Invalid login token"})
        ),
        "a login token works once"
    );

    let short = s
        .host_call("a", "create_login_token", json!(["@alice:test.local", 1]))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (status, _) = login(short["ok"].as_str().unwrap().to_string()).await;
    assert_eq!(status, 403, "an expired login token is refused");
    assert_eq!(
        s.host_call("a", "create_login_token", json!(["@nobody:test.local"]))
            .await,
        json!({"error": "user @nobody:test.local is not registered"})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn host_settings_and_module_identity() {
    let w = Workdir::new();
    let s = TestServer::start(&config(&w, "public_baseurl: https://matrix.test.local\n")).await;
    let (status, body) = s.probe("a", "GET", "config", None).await;
    assert_eq!(status, 200, "{body}");
    let c: &Value = &body["ok"];
    assert_eq!(c["server_name"], "test.local");
    assert_eq!(
        c["public_baseurl"], "https://matrix.test.local/",
        "a trailing slash is added"
    );
    assert_eq!(
        (c["module"].clone(), c["version"].clone()),
        (json!("scripted"), json!("0.1.0"))
    );
    let now = c["now_ms"].as_i64().unwrap();
    let host_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!((host_now - now).abs() < 60_000, "{now} vs {host_now}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_public_baseurl_is_a_config_error() {
    let w = Workdir::new();
    let config = config(&w, "public_baseurl: matrix.test.local\n");
    let err = modhost::Config::load(&config).unwrap_err().to_string();
    assert!(
        err.contains("public_baseurl: \"matrix.test.local\" is not an http:// or https:// URL"),
        "{err}"
    );
}
