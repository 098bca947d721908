//! The sample modules operators can load: `demo` and `house_rules`.

use modhost_tests::{TestServer, Workdir};
use plugin_sdk::{Denial, EventAllowed, SpamCheck};
use serde_json::{json, Map, Value};

#[tokio::test(flavor = "multi_thread")]
async fn demo_denies_room_creation_to_its_evil_user_only() {
    let w = Workdir::new();
    let s = TestServer::start(&w.config("modules:\n  - module: demo\n")).await;
    let r = &s.registry;
    assert_eq!(
        r.user_may_create_room("@evilguy:test.local", "{}").await,
        Ok(SpamCheck::forbidden())
    );
    assert_eq!(
        r.user_may_create_room("@alice:test.local", "{}").await,
        Ok(SpamCheck::NotSpam)
    );

    let w = Workdir::new();
    let s = TestServer::start(
        &w.config("modules:\n  - module: demo\n    config: {evil_user: \"@mallory:test.local\"}\n"),
    )
    .await;
    assert_eq!(
        s.registry
            .user_may_create_room("@mallory:test.local", "{}")
            .await,
        Ok(SpamCheck::forbidden())
    );
    assert_eq!(
        s.registry
            .user_may_create_room("@evilguy:test.local", "{}")
            .await,
        Ok(SpamCheck::NotSpam)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn house_rules_applies_each_of_its_categories() {
    let w = Workdir::new();
    let config = w.config(
        "modules:\n  - module: house_rules\n    config:\n      blocked_words: [\"Cheap Pills\"]\n      \
         forbidden_event_types: [org.example.forbidden]\n      max_upload_bytes: 100\n      unsigned_tag: tagged\n",
    );
    let s = TestServer::start(&config).await;
    let r = &s.registry;

    let spam =
        json!({"type": "m.room.message", "content": {"body": "buy cheap pills now"}}).to_string();
    assert_eq!(
        r.check_event_for_spam(&spam).await,
        Ok(SpamCheck::Deny(
            Denial::forbidden().with_field("blocked_word", "cheap pills")
        ))
    );
    let ham = json!({"type": "m.room.message", "content": {"body": "hello"}}).to_string();
    assert_eq!(r.check_event_for_spam(&ham).await, Ok(SpamCheck::NotSpam));

    let forbidden = json!({"type": "org.example.forbidden", "content": {}}).to_string();
    assert_eq!(
        r.check_event_allowed(&forbidden, "[]").await,
        Ok(EventAllowed::Deny)
    );
    assert_eq!(
        r.check_event_allowed(&ham, "[]").await,
        Ok(EventAllowed::Allow)
    );

    assert_eq!(
        r.is_user_allowed_to_upload_media_of_size("@u:test.local", 100)
            .await,
        Ok(true)
    );
    assert_eq!(
        r.is_user_allowed_to_upload_media_of_size("@u:test.local", 101)
            .await,
        Ok(false)
    );

    let mut unsigned = Map::new();
    r.add_fields_to_unsigned(&ham, &mut unsigned).await.unwrap();
    assert_eq!(Value::Object(unsigned), json!({"house_rules": "tagged"}));

    r.on_account_data_updated("@u:test.local", None, "m.direct", &json!({}))
        .await;

    assert_eq!(
        s.get("/_synapse/client/house_rules/stats").await,
        (
            200,
            json!({"spam_denied": 1, "events_refused": 1, "uploads_refused": 1})
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shipped_sample_config_loads() {
    // Loaded as shipped, except that plugins_dir and the database point at the test build.
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/homeserver.yaml"
    ))
    .unwrap();
    let w = Workdir::new();
    let text = shipped
        .replace(
            "plugins_dir: ../target/debug",
            &format!("plugins_dir: {}", modhost_tests::build_dir().display()),
        )
        .replace("listen: 127.0.0.1:8008", "listen: 127.0.0.1:0")
        // Its own database, not the shared `../data` next to wherever the temp dir is.
        .replace("path: ../data/homeserver.db", "path: homeserver.db");
    assert!(
        !text.contains("../data/homeserver.db"),
        "the sample config's database path changed; update this test"
    );
    assert_ne!(
        text, shipped,
        "the sample config's plugins_dir line changed; update this test"
    );
    let config = w.path().join("homeserver.yaml");
    std::fs::write(&config, text).unwrap();
    let s = TestServer::start(&config).await;
    assert_eq!(
        s.get("/_synapse/client/demo/hello?name=world").await,
        (200, json!({"hello": "world"}))
    );
    assert_eq!(s.get("/_synapse/client/house_rules/stats").await.0, 200);
}

fn hmac_token(secret: &str, user_id: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha512>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(user_id.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_secret_auth_logs_users_in_with_their_token_only() {
    let w = Workdir::new();
    let secret = "0123456789abcdef-secret";
    let config = w.config(&format!("enable_registration: true\nmodules:\n  - module: shared_secret_auth\n    config: {{shared_secret: \"{secret}\"}}\n"));
    let s = TestServer::start(&config).await;
    s.register("alice").await;
    let (_, flows) = s.call("GET", "/_matrix/client/v3/login", None, None).await;
    assert_eq!(
        flows["flows"][1],
        json!({"type": "com.devture.shared_secret_auth"})
    );
    let login = |token: String| json!({"type": "com.devture.shared_secret_auth", "identifier": {"type": "m.id.user", "user": "alice"}, "token": token});
    let (status, body) = s
        .call(
            "POST",
            "/_matrix/client/v3/login",
            None,
            Some(login(hmac_token(secret, "@alice:test.local"))),
        )
        .await;
    assert_eq!(
        (status, body["user_id"].as_str()),
        (200, Some("@alice:test.local")),
        "{body}"
    );
    let (status, _) = s
        .call(
            "POST",
            "/_matrix/client/v3/login",
            None,
            Some(login(hmac_token(secret, "@mallory:test.local"))),
        )
        .await;
    assert_eq!(status, 403, "a token for another user does not work");
    let (status, _) = s
        .call(
            "POST",
            "/_matrix/client/v3/login",
            None,
            Some(login(hmac_token("wrong secret!!!!!", "@alice:test.local"))),
        )
        .await;
    assert_eq!(status, 403);

    let short =
        w.config("modules:\n  - module: shared_secret_auth\n    config: {shared_secret: short}\n");
    let (code, _, err) = w.check_config(&short);
    assert_eq!(code, 1);
    assert!(
        err.contains("modules[0].config.shared_secret: module 'shared_secret_auth'"),
        "{err}"
    );
    assert!(
        err.contains("too short: use at least 16 characters"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn user_restrictions_decide_invites_and_room_creation_by_pattern() {
    let w = Workdir::new();
    let config = w.config(
        "enable_registration: true\nmodules:\n  - module: user_restrictions\n    config:\n      rules:\n        \
         - match: \"^@boss\"\n          allow: [invite, create_room]\n        - match: \"^@intern\"\n          deny: [create_room]\n      \
         default_deny: [invite]\n",
    );
    let s = TestServer::start(&config).await;
    let boss = s.register("boss").await;
    let intern = s.register("intern").await;
    let guest = s.register("guest").await;
    assert_eq!(
        intern.call("POST", "/createRoom", Some(json!({}))).await.0,
        403
    );
    let room = guest.create_room(json!({})).await;
    let (status, _) = guest
        .call(
            "POST",
            &format!("/rooms/{room}/invite"),
            Some(json!({"user_id": intern.user_id})),
        )
        .await;
    assert_eq!(status, 403, "invites are denied by default");
    let room = boss.create_room(json!({})).await;
    assert_eq!(
        boss.call(
            "POST",
            &format!("/rooms/{room}/invite"),
            Some(json!({"user_id": guest.user_id}))
        )
        .await
        .0,
        200
    );

    let bad = w
        .config("modules:\n  - module: user_restrictions\n    config: {rules: [{match: \"(\"}]}\n");
    let (code, _, err) = w.check_config(&bad);
    assert_eq!(code, 1);
    assert!(
        err.contains("modules[0].config.rules[0].match: module 'user_restrictions'"),
        "{err}"
    );
}
