//! The callbacks and policies not covered by `combination_rules.rs`: notifications whose
//! failures propagate, third-party identifiers, registration choices, fail-open checks, media
//! and login spam checks, state-event denials, batch sizes, federation-only chains and the
//! transitional account-validity callbacks.

use modhost::CallbackError;
use modhost_tests::{scripted_server, Workdir};
use plugin_sdk::{Denial, SpamCheck};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn registration_and_login_notifications_run_in_order_and_a_failure_fails_the_request() {
    let w = Workdir::new();
    let s = scripted_server(
        &w,
        "",
        &[
            (
                "a",
                json!({"on_user_registration": null, "on_user_login": null}),
            ),
            (
                "b",
                json!({"on_user_registration": "error", "on_user_login": null}),
            ),
            (
                "c",
                json!({"on_user_registration": null, "on_user_login": null}),
            ),
        ],
    )
    .await;
    let err = s
        .registry
        .on_user_registration("@u:test.local")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CallbackError::Failed { module, callback: "on_user_registration", .. } if module == "b"),
        "{err:?}"
    );
    assert!(
        !s.call_names("c")
            .await
            .contains(&"on_user_registration".to_string()),
        "c not called after b failed"
    );

    s.registry
        .on_user_login("@u:test.local", Some("m.login.password"), None)
        .await
        .unwrap();
    for label in ["a", "b", "c"] {
        let calls = s.calls(label).await;
        let login = calls
            .iter()
            .find(|c| c["callback"] == "on_user_login")
            .expect("every module told of the login");
        assert_eq!(
            login["args"],
            json!(["@u:test.local", "m.login.password", null])
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_limit_notifications_propagate_failures() {
    let w = Workdir::new();
    let s = scripted_server(
        &w,
        "",
        &[("a", json!({"on_media_upload_limit_exceeded": "panic"}))],
    )
    .await;
    let limit = plugin_sdk::MediaUploadLimit {
        max_bytes: 1000,
        time_period_ms: 86_400_000,
    };
    assert!(s
        .registry
        .on_media_upload_limit_exceeded("@u:test.local", limit, 300, 900)
        .await
        .is_err());
    assert_eq!(
        s.calls("a").await[0]["args"],
        json!(["@u:test.local", 1000, 300, 900])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn third_party_auth_skips_failing_modules_and_registration_choices_take_the_first_answer() {
    let w = Workdir::new();
    let s = scripted_server(&w, "", &[
        ("a", json!({"check_3pid_auth": "error", "get_username_for_registration": null, "is_3pid_allowed": true})),
        ("b", json!({"check_3pid_auth": "@mail:test.local", "get_username_for_registration": "chosen", "is_3pid_allowed": false})),
        ("c", json!({"check_3pid_auth": "@other:test.local", "get_username_for_registration": "late", "is_3pid_allowed": false})),
    ])
    .await;
    let r = &s.registry;
    let outcome = r
        .check_3pid_auth("email", "a@example.org", "pw")
        .await
        .unwrap();
    assert_eq!(outcome.user_id, "@mail:test.local");
    assert_eq!(
        s.calls("a").await[0]["args"],
        json!(["email", "a@example.org"])
    );

    let params = json!({"username": "rin"});
    assert_eq!(
        r.get_username_for_registration(&json!({"m.login.dummy": true}), &params)
            .await,
        Ok(Some("chosen".into()))
    );
    assert!(!r
        .is_3pid_allowed("email", "a@example.org", true)
        .await
        .unwrap());
    let c = s.call_names("c").await;
    assert!(
        !c.contains(&"get_username_for_registration".to_string())
            && !c.contains(&"is_3pid_allowed".to_string()),
        "{c:?}"
    );
    assert_eq!(
        s.calls("b").await.last().unwrap()["args"],
        json!(["email", "a@example.org", true])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_choice_failures_answer_500() {
    let w = Workdir::new();
    let s = scripted_server(
        &w,
        "",
        &[(
            "a",
            json!({"get_username_for_registration": "panic", "is_3pid_allowed": "error"}),
        )],
    )
    .await;
    assert!(s
        .registry
        .get_username_for_registration(&json!({}), &json!({}))
        .await
        .is_err());
    assert!(s
        .registry
        .is_3pid_allowed("email", "x@y", false)
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn threepid_visibility_and_shutdown_checks_fail_open_and_stop_at_false() {
    let w = Workdir::new();
    let s = scripted_server(&w, "", &[
        ("a", json!({"check_threepid_can_be_invited": "error", "check_visibility_can_be_modified": "panic", "check_can_shutdown_room": "hang"})),
        ("b", json!({"check_threepid_can_be_invited": true, "check_visibility_can_be_modified": true, "check_can_shutdown_room": false})),
    ])
    .await;
    let r = &s.registry;
    assert!(
        r.check_threepid_can_be_invited("email", "x@y", "[]").await,
        "failure counts as allowed"
    );
    assert!(
        r.check_visibility_can_be_modified("!r:test.local", "[]", "public")
            .await
    );
    assert!(
        !r.check_can_shutdown_room(None, "!r:test.local").await,
        "b still refuses after a timed out"
    );
    let b = s.calls("b").await;
    assert_eq!(b[0]["args"], json!(["email", "x@y"]));
    assert_eq!(b[1]["args"], json!(["!r:test.local", "public"]));
    assert_eq!(b[2]["args"], json!([null, "!r:test.local"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn media_and_login_spam_checks_keep_or_drop_fields_as_synapse_does() {
    let w = Workdir::new();
    let denial = json!({"deny": "M_LIMIT_EXCEEDED", "fields": {"extra": "value"}});
    let s = scripted_server(&w, "", &[("a", json!({
        "check_media_file_for_spam": denial, "check_login_for_spam": denial, "user_may_send_state_event": denial,
    }))])
    .await;
    let r = &s.registry;
    // Media: the errcode is kept, extra fields are dropped.
    assert_eq!(
        r.check_media_file_for_spam(b"Some evil data", r#"{"media_type":"text/plain"}"#)
            .await,
        Ok(SpamCheck::deny("M_LIMIT_EXCEEDED"))
    );
    // Login: errcode and fields both reach the client.
    let info = vec![("agent".to_string(), "127.0.0.1".to_string())];
    assert_eq!(
        r.check_login_for_spam("@u:test.local", Some("DEV"), None, &info, None)
            .await,
        Ok(SpamCheck::Deny(
            Denial::new("M_LIMIT_EXCEEDED").with_field("extra", "value")
        ))
    );
    // State events do not accept the (Codes, dict) form: it counts as invalid, M_FORBIDDEN.
    assert_eq!(
        r.user_may_send_state_event(
            "@u:test.local",
            "!r:x",
            "test.event.type",
            "test.state.key",
            r#"{"foo":"bar"}"#
        )
        .await,
        Ok(SpamCheck::forbidden())
    );
    let calls = s.calls("a").await;
    let state = calls
        .iter()
        .find(|c| c["callback"] == "user_may_send_state_event")
        .unwrap();
    assert_eq!(
        state["args"],
        json!([
            "\"@u:test.local\"",
            "\"!r:x\"",
            "\"test.event.type\"",
            "\"test.state.key\"",
            "{\"foo\":\"bar\"}"
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn background_batch_sizes_come_from_the_controller() {
    let w = Workdir::new();
    let s = scripted_server(
        &w,
        "",
        &[(
            "a",
            json!({"on_update": 100, "default_batch_size": 500, "min_batch_size": 20}),
        )],
    )
    .await;
    assert_eq!(s.registry.min_batch_size("u", "master").await, Ok(20));
    assert_eq!(s.registry.default_batch_size("u", "master").await, Ok(500));
}

#[tokio::test(flavor = "multi_thread")]
async fn federated_invites_fall_through_to_user_may_invite() {
    let w = Workdir::new();
    let s = scripted_server(&w, "", &[
        ("a", json!({"federated_user_may_invite": "not_spam", "user_may_invite": {"deny": "M_FORBIDDEN"}, "should_drop_federated_event": false})),
        ("b", json!({"should_drop_federated_event": true})),
    ])
    .await;
    let invite = json!({"type": "m.room.member", "sender": "@r:remote", "state_key": "@u:test.local", "room_id": "!r:remote", "event_id": "$i"});
    assert_eq!(
        s.registry
            .federated_user_may_invite(&invite.to_string())
            .await,
        Ok(SpamCheck::forbidden())
    );
    let a = s.calls("a").await;
    assert_eq!(
        a[1]["args"],
        json!(["\"@r:remote\"", "\"@u:test.local\"", "\"!r:remote\""]),
        "user_may_invite saw the event's parties"
    );
    assert_eq!(
        s.registry
            .should_drop_federated_event(&invite.to_string())
            .await,
        Ok(true)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_account_validity_callbacks_reach_their_single_module() {
    let w = Workdir::new();
    let s = scripted_server(&w, "", &[("a", json!({"on_legacy_send_mail": null}))]).await;
    assert_eq!(
        s.registry.on_legacy_send_mail("@u:test.local").await,
        Ok(true)
    );
    assert_eq!(s.calls("a").await[0]["args"], json!(["@u:test.local"]));
    assert_eq!(
        s.registry.on_legacy_renew("token").await,
        Ok(None),
        "nobody registered on_legacy_renew"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bu1_the_hosts_background_update_runs_through_the_controller() {
    let w = Workdir::new();
    let s = scripted_server(
        &w,
        "",
        &[("a", json!({"on_update": 250, "default_batch_size": 500}))],
    )
    .await;
    let mut names = Vec::new();
    for _ in 0..200 {
        names = s.call_names("a").await;
        if names.contains(&"on_update_exit".to_string()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        names,
        ["default_batch_size", "on_update", "on_update_exit"],
        "one batch finishes the (empty) update"
    );
    let calls = s.calls("a").await;
    assert_eq!(calls[0]["args"], json!(["current_state_membership"]));
    assert_eq!(
        calls[1]["args"],
        json!(["current_state_membership", "master", false])
    );
}
