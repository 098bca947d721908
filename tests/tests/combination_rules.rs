//! How several modules' answers combine, callback by callback (spec §1.5, §2), with real
//! module libraries: copies of the `scripted` fixture, each answering as configured and
//! recording its calls (read back over HTTP).

use modhost::modules::AuthError;
use modhost_tests::{scripted_entry, scripted_modules, scripted_server, TestServer, Workdir};
use plugin_sdk::{
    Denial, EventAllowed, InterestedUsers, RatelimitOverride, RegistrationBehaviour, SpamCheck,
    UserProfile,
};
use serde_json::{json, Map, Value};

async fn chain(w: &Workdir, modules: &[(&str, Value)]) -> TestServer {
    scripted_server(w, "", modules).await
}

#[tokio::test(flavor = "multi_thread")]
async fn spam_checks_stop_at_the_first_denial_and_keep_its_errcode_and_fields() {
    let w = Workdir::new();
    let s = chain(&w, &[
        ("a", json!({"user_may_create_room": "not_spam"})),
        ("b", json!({"user_may_create_room": {"deny": "M_LIMIT_EXCEEDED", "fields": {"retry": 5}}})),
        ("c", json!({"user_may_create_room": {"deny": "M_FORBIDDEN"}})),
    ])
    .await;
    let verdict = s
        .registry
        .user_may_create_room("@u:test.local", r#"{"foo":"baa"}"#)
        .await
        .unwrap();
    assert_eq!(
        verdict,
        SpamCheck::Deny(Denial::new("M_LIMIT_EXCEEDED").with_field("retry", 5))
    );
    let a = s.calls("a").await;
    assert_eq!(
        a[0]["args"],
        json!(["\"@u:test.local\"", "{\"foo\":\"baa\"}"]),
        "a saw user and body"
    );
    assert_eq!(s.call_names("b").await, ["user_may_create_room"]);
    assert!(
        s.call_names("c").await.is_empty(),
        "c must not be asked after b denied"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn spam_checks_allow_when_every_module_says_not_spam() {
    let w = Workdir::new();
    let s = chain(
        &w,
        &[
            ("a", json!({"user_may_invite": "not_spam"})),
            ("b", json!({"user_may_invite": "not_spam"})),
        ],
    )
    .await;
    let verdict = s
        .registry
        .user_may_invite("@a:test.local", "@b:test.local", "!r:test.local")
        .await
        .unwrap();
    assert_eq!(verdict, SpamCheck::NotSpam);
    assert_eq!(s.call_names("a").await, ["user_may_invite"]);
    assert_eq!(s.call_names("b").await, ["user_may_invite"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn username_spam_first_true_hides_the_user() {
    let w = Workdir::new();
    let s = chain(
        &w,
        &[
            ("a", json!({"check_username_for_spam": false})),
            ("b", json!({"check_username_for_spam": true})),
            ("c", json!({"check_username_for_spam": true})),
        ],
    )
    .await;
    let profile = UserProfile {
        user_id: "@x:test.local".into(),
        ..Default::default()
    };
    assert!(s
        .registry
        .check_username_for_spam(&profile, "@me:test.local")
        .await
        .unwrap());
    assert_eq!(
        s.calls("a").await[0]["args"],
        json!(["@x:test.local", "@me:test.local"])
    );
    assert!(s.call_names("c").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_first_non_allow_wins() {
    let w = Workdir::new();
    let s = chain(
        &w,
        &[
            ("a", json!({"check_registration_for_spam": "allow"})),
            ("b", json!({"check_registration_for_spam": "shadow_ban"})),
            ("c", json!({"check_registration_for_spam": "deny"})),
        ],
    )
    .await;
    let info = vec![("curl".to_string(), "127.0.0.1".to_string())];
    let got = s
        .registry
        .check_registration_for_spam(None, Some("bob"), &info, Some("cas"))
        .await
        .unwrap();
    assert_eq!(got, RegistrationBehaviour::ShadowBan);
    assert_eq!(
        s.calls("a").await[0]["args"],
        json!(["bob", "cas", [["curl", "127.0.0.1"]]])
    );
    assert!(s.call_names("c").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn event_allowed_first_replacement_or_denial_wins() {
    let w = Workdir::new();
    let s = chain(
        &w,
        &[
            ("a", json!({"check_event_allowed": "allow"})),
            (
                "b",
                json!({"check_event_allowed": {"replace_content": {"x": "y"}}}),
            ),
            ("c", json!({"check_event_allowed": "deny"})),
        ],
    )
    .await;
    let event =
        json!({"type": "m.room.message", "event_id": "$1", "content": {"x": "x"}}).to_string();
    match s.registry.check_event_allowed(&event, "[]").await.unwrap() {
        EventAllowed::Replace(ev) => assert_eq!(ev["content"], json!({"x": "y"})),
        other => panic!("expected a replacement, got {other:?}"),
    }
    assert!(s.call_names("c").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn on_create_room_runs_every_module_in_order_each_seeing_earlier_changes() {
    let w = Workdir::new();
    let s = chain(
        &w,
        &[
            ("a", json!({"on_create_room": {"set": {"name": "from a"}}})),
            ("b", json!({"on_create_room": {"set": {"topic": "from b"}}})),
        ],
    )
    .await;
    let out = s
        .registry
        .on_create_room("@u:test.local", json!({"preset": "private_chat"}), false)
        .await
        .unwrap();
    assert_eq!(
        out,
        json!({"preset": "private_chat", "name": "from a", "topic": "from b"})
    );
    let b = s.calls("b").await;
    assert_eq!(
        b[0]["args"][1],
        json!({"preset": "private_chat", "name": "from a"})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn boolean_third_party_checks_fail_open_and_stop_at_first_false() {
    let w = Workdir::new();
    let s = chain(
        &w,
        &[
            ("a", json!({"check_can_deactivate_user": "error"})),
            ("b", json!({"check_can_deactivate_user": false})),
            ("c", json!({"check_can_deactivate_user": true})),
        ],
    )
    .await;
    assert!(
        !s.registry
            .check_can_deactivate_user("@u:test.local", true)
            .await
    );
    assert_eq!(
        s.calls("b").await[0]["args"],
        json!(["@u:test.local", true]),
        "b asked after a failed"
    );
    assert!(s.call_names("c").await.is_empty());

    let w = Workdir::new();
    let s = chain(
        &w,
        &[
            ("a", json!({"check_can_deactivate_user": "panic"})),
            ("b", json!({"check_can_deactivate_user": true})),
        ],
    )
    .await;
    assert!(
        s.registry
            .check_can_deactivate_user("@u:test.local", false)
            .await,
        "a failure counts as allow"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn notifications_reach_every_module_even_after_one_fails() {
    let w = Workdir::new();
    let s = chain(
        &w,
        &[
            ("a", json!({"on_new_event": "error"})),
            ("b", json!({"on_new_event": "panic"})),
            ("c", json!({"on_new_event": null})),
        ],
    )
    .await;
    s.registry.on_new_event(r#"{"event_id":"$e"}"#, "[]").await;
    for label in ["a", "b", "c"] {
        assert_eq!(s.calls(label).await[0]["args"], json!(["$e"]), "{label}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn first_non_none_wins_for_expiry_ratelimit_and_media_config() {
    let w = Workdir::new();
    let s = chain(&w, &[
        ("a", json!({"is_user_expired": null, "get_ratelimit_override_for_user": null, "get_media_config_for_user": {}})),
        ("b", json!({"is_user_expired": true, "get_ratelimit_override_for_user": {"per_second": 0.5, "burst_count": 10},
                     "get_media_config_for_user": {"m.upload.size": 1024}})),
        ("c", json!({"is_user_expired": false, "get_ratelimit_override_for_user": {"per_second": 9.0, "burst_count": 9},
                     "get_media_config_for_user": {"m.upload.size": 1}})),
    ])
    .await;
    let r = &s.registry;
    assert_eq!(
        r.is_user_expired("@u:test.local").await.unwrap(),
        Some(true)
    );
    assert_eq!(
        r.get_ratelimit_override_for_user("@u:test.local", "rc_invites.per_room")
            .await
            .unwrap(),
        Some(RatelimitOverride {
            per_second: 0.5,
            burst_count: 10
        })
    );
    // An empty object counts as "no opinion", as Synapse's truthiness test does.
    assert_eq!(
        r.get_media_config_for_user("@u:test.local").await.unwrap(),
        Some(json!({"m.upload.size": 1024}))
    );
    assert!(s.call_names("c").await.is_empty());
    assert_eq!(
        s.calls("b").await[1]["args"],
        json!(["@u:test.local", "rc_invites.per_room"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn presence_routers_merge_and_all_users_short_circuits() {
    let w = Workdir::new();
    let s = chain(&w, &[
        ("a", json!({"get_interested_users": ["@x:test.local", "@y:test.local"],
                     "get_users_for_states": {"@x:test.local": [{"user_id": "@p:test.local"}]}})),
        ("b", json!({"get_interested_users": ["@y:test.local", "@z:test.local"],
                     "get_users_for_states": {"@x:test.local": [{"user_id": "@q:test.local"}], "@z:test.local": []}})),
    ])
    .await;
    assert_eq!(
        s.registry.get_interested_users("@me:test.local").await,
        InterestedUsers::Users(vec![
            "@x:test.local".into(),
            "@y:test.local".into(),
            "@z:test.local".into()
        ])
    );
    let merged = s
        .registry
        .get_users_for_states(&[json!({"user_id": "@p:test.local"})])
        .await;
    assert_eq!(
        merged["@x:test.local"],
        vec![
            json!({"user_id": "@p:test.local"}),
            json!({"user_id": "@q:test.local"})
        ]
    );
    assert!(merged.contains_key("@z:test.local"));

    let w = Workdir::new();
    let s = chain(
        &w,
        &[
            (
                "a",
                json!({"get_interested_users": "ALL", "get_users_for_states": {}}),
            ),
            (
                "b",
                json!({"get_interested_users": ["@y:test.local"], "get_users_for_states": {}}),
            ),
        ],
    )
    .await;
    assert_eq!(
        s.registry.get_interested_users("@me:test.local").await,
        InterestedUsers::All
    );
    assert!(
        s.call_names("b").await.is_empty(),
        "ALL_USERS stops the merge"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unsigned_fields_merge_with_the_last_module_winning_and_server_keys_kept() {
    let w = Workdir::new();
    let s = chain(
        &w,
        &[
            (
                "a",
                json!({"add_field_to_unsigned": {"k": "from a", "only_a": 1, "age": 999}}),
            ),
            ("b", json!({"add_field_to_unsigned": {"k": "from b"}})),
        ],
    )
    .await;
    let mut unsigned = Map::new();
    unsigned.insert("age".into(), json!(5));
    s.registry
        .add_fields_to_unsigned(r#"{"event_id":"$e"}"#, &mut unsigned)
        .await
        .unwrap();
    assert_eq!(
        Value::Object(unsigned),
        json!({"age": 5, "k": "from b", "only_a": 1})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_first_background_update_controller_is_used() {
    let w = Workdir::new();
    let s = chain(
        &w,
        &[
            ("a", json!({"on_update": 250, "default_batch_size": 500})),
            ("b", json!({"on_update": 999, "default_batch_size": 7})),
        ],
    )
    .await;
    // The host runs its own background update through the controller at start-up; let it
    // finish, then look only at what this test asks.
    for _ in 0..300 {
        if s.call_names("a")
            .await
            .contains(&"on_update_exit".to_string())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let before = s.calls("a").await.len();
    let (target, module) = s
        .registry
        .on_update("test_update", "master", false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(target.target_duration_ms, 250);
    assert_eq!(
        s.registry
            .default_batch_size("test_update", "master")
            .await
            .unwrap(),
        500
    );
    assert_eq!(
        s.registry
            .min_batch_size("test_update", "master")
            .await
            .unwrap(),
        1,
        "default"
    );
    assert_eq!(
        s.calls("a").await[before]["args"],
        json!(["test_update", "master", false])
    );
    assert!(s.call_names("b").await.is_empty());
    // The exit step the module returned runs when the host says the batch is done.
    s.registry
        .run_deferred(module, target.on_exit.expect("exit step"), &json!(null))
        .await;
    assert_eq!(
        s.call_names("a").await[before..],
        ["on_update", "default_batch_size", "on_update_exit"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_checkers_check_fields_then_first_success_wins_and_on_login_runs() {
    let w = Workdir::new();
    let s = chain(
        &w,
        &[
            ("a", json!({"auth_checker:org.example.token:token": null})),
            (
                "b",
                json!({"auth_checker:org.example.token:token": "@alice:test.local"}),
            ),
        ],
    )
    .await;
    let r = &s.registry;
    assert_eq!(
        r.supported_login_types(),
        vec![("org.example.token".to_string(), vec!["token".to_string()])]
    );

    let missing = r
        .check_auth("alice", "org.example.token", &Map::new())
        .await;
    assert_eq!(missing, Err(AuthError::MissingParams(vec!["token".into()])));
    assert!(
        s.call_names("a").await.is_empty(),
        "no module is asked when fields are missing"
    );

    let submission = json!({"token": "t0k", "type": "org.example.token", "extra": 1});
    let outcome = r
        .check_auth(
            "alice",
            "org.example.token",
            submission.as_object().unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcome.user_id, "@alice:test.local");
    // Only the registered fields reach the module.
    assert_eq!(
        s.calls("a").await[0]["args"],
        json!(["alice", "org.example.token", {"token": "t0k"}])
    );

    let (module, token) = outcome.on_login.expect("on_login follow-up");
    let response = json!({"user_id": "@alice:test.local", "access_token": "x", "device_id": "D", "home_server": "test.local"});
    r.run_deferred(module, token, &response).await;
    let b = s.calls("b").await;
    assert_eq!(
        b.last().unwrap(),
        &json!({"callback": "on_login", "args": response})
    );
}

#[test]
fn two_modules_registering_one_login_type_with_different_fields_refuse_to_start() {
    let w = Workdir::new();
    let (a, b) = (
        w.copy_module("scripted", "a"),
        w.copy_module("scripted", "b"),
    );
    let yaml = format!(
        "modules:\n{}{}",
        scripted_entry(&a, "a", json!({"auth_checker:org.example.t:x": null})),
        scripted_entry(&b, "b", json!({"auth_checker:org.example.t:y": null}))
    );
    let config = w.config(&yaml);
    let (code, _, err) = w.check_config(&config);
    assert_eq!(code, 1);
    assert!(err.contains(&format!(
        "{}:8:5: modules[1]: module 'b' ({}): failed to start: module 'b' registers login type \"org.example.t\" with fields \
         [\"y\"], but module 'a' registered it with fields [\"x\"]",
        config.display(),
        b.canonicalize().unwrap().display()
    )), "{err}");
}

fn check(modules: &[(&str, Value)]) -> (Workdir, std::path::PathBuf, i32, String) {
    let w = Workdir::new();
    let config = w.config(&scripted_modules(&w, modules));
    let (code, _, err) = w.check_config(&config);
    (w, config, code, err)
}

#[test]
fn a_second_background_controller_is_ignored_with_a_warning() {
    let (_w, _config, code, err) = check(&[
        ("a", json!({"on_update": 1})),
        ("b", json!({"on_update": 2})),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(
        "module 'b' tried to register background update controller callbacks, but module 'a' already did; only the first is used"
    ), "{err}");
}

#[test]
fn presence_routers_must_register_both_callbacks() {
    let (w, config, code, err) = check(&[("a", json!({"get_interested_users_only": true}))]);
    assert_eq!(code, 1);
    assert!(err.contains(&format!(
        "{}:6:5: modules[0]: module 'a' ({}): failed to start: PresenceRouter modules must register neither or both of the \
         paired callbacks: [get_users_for_states, get_interested_users]",
        config.display(),
        w.path().join("a.so").canonicalize().unwrap().display()
    )), "{err}");
}

#[test]
fn legacy_account_validity_callbacks_register_once_across_modules() {
    let (_w, config, code, err) = check(&[
        ("a", json!({"on_legacy_send_mail": null})),
        ("b", json!({"on_legacy_send_mail": null})),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!(
            "{}:8:5: modules[1]: module 'b' (",
            config.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("failed to start: Tried to register on_legacy_send_mail twice"),
        "{err}"
    );
}
