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
        .replace("listen: 127.0.0.1:8008", "listen: 127.0.0.1:0");
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
