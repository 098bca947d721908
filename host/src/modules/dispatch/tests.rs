//! Every dispatcher against the catalogue: a registry in which one recording module registers
//! every known callback, and a call of every dispatcher. `call!` checks each argument list's
//! names, order and wire types as it is built, `invoke` checks the result type, and the
//! recording module checks the values it receives; the test fails if any callback in the
//! catalogue was not reached, so a new callback needs its dispatcher called here.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RSlice};
use async_ffi::{FfiFuture, FutureExt as _};
use plugin_sdk::catalogue::{Hook, Wire, HOOKS};
use plugin_sdk::ffi::{CallbackFn, CallbackFn_TO, FfiArg, FfiError, FfiValue};
use plugin_sdk::{MediaUploadLimit, ProfileInfo, UserProfile};
use serde_json::{json, Map, Value};

use super::{check_args, check_result, flag, j, named, opt, s};
use crate::config::OnFailure;
use crate::modules::registry::{Accepted, Registry, RegistryBuilder};

const LOGIN_TYPE: &str = "org.example.login.test";

/// Per call: which callback, and what is wrong with the values it received.
type Seen = Arc<Mutex<Vec<(Hook, Result<(), String>)>>>;

/// A module callback that records its calls and answers `null`.
struct Recorder {
    hook: Hook,
    seen: Seen,
}

impl CallbackFn for Recorder {
    fn call(&self, args: RSlice<'_, FfiArg<'_>>) -> FfiFuture<RResult<FfiValue, FfiError>> {
        let checked = check_values(self.hook, args.as_slice());
        self.seen.lock().unwrap().push((self.hook, checked));
        async { RResult::ROk(FfiValue::Null) }.into_ffi()
    }
}

/// One value per argument the catalogue lists, each of its wire type.
fn check_values(hook: Hook, args: &[FfiArg<'_>]) -> Result<(), String> {
    let info = hook.info();
    if args.len() != info.args.len() {
        return Err(format!(
            "{}: received {} arguments, the catalogue lists {}",
            info.name,
            args.len(),
            info.args.len()
        ));
    }
    for (arg, (name, wire)) in args.iter().zip(info.args) {
        if !wire.accepts(arg) {
            return Err(format!(
                "{}: `{name}` arrived as {}, the catalogue says {wire}",
                info.name,
                Wire::of(arg)
            ));
        }
    }
    Ok(())
}

/// One module, "recorder", registering every callback in the catalogue.
fn recording_registry() -> (Registry, Seen) {
    let seen = Seen::default();
    let module: Arc<str> = Arc::from("recorder");
    let mut builder = RegistryBuilder::new(vec![(Duration::from_secs(5), OnFailure::Default)]);
    for info in HOOKS {
        let meta = if info.hook == Hook::AuthChecker {
            json!({ "login_type": LOGIN_TYPE, "fields": ["token"] }).to_string()
        } else {
            String::new()
        };
        let recorder = Recorder {
            hook: info.hook,
            seen: Arc::clone(&seen),
        };
        let callback = CallbackFn_TO::from_value(recorder, TD_Opaque);
        let accepted = builder.add_callback(&module, 0, info.category, info.name, &meta, callback);
        assert!(
            matches!(accepted, Ok(Accepted::Yes)),
            "{}.{} was not accepted",
            info.category,
            info.name
        );
    }
    let registry = builder
        .freeze(&[module])
        .unwrap_or_else(|problems| panic!("{problems:?}"));
    (registry, seen)
}

/// The values every dispatcher call below is made with.
struct Sample {
    event: String,
    info: [(String, String); 1],
}

const ALICE: &str = "@alice:test";
const BOB: &str = "@bob:test";
const ROOM: &str = "!room:test";

fn sample() -> Sample {
    let event = json!({
        "event_id": "$e", "room_id": ROOM, "sender": ALICE, "type": "m.room.member",
        "state_key": BOB, "content": {"membership": "invite"}, "origin_server_ts": 1,
    })
    .to_string();
    Sample {
        event,
        info: [("curl".to_string(), "127.0.0.1".to_string())],
    }
}

/// Every spam checker dispatcher.
async fn call_spam_checkers(r: &Registry, x: &Sample) {
    let (alice, bob, room, event, info) = (ALICE, BOB, ROOM, x.event.as_str(), x.info.clone());
    let user_profile = UserProfile {
        user_id: bob.into(),
        display_name: None,
        avatar_url: None,
    };
    let _ = r.check_event_for_spam(event).await;
    let _ = r.should_drop_federated_event(event).await;
    let _ = r.user_may_join_room(alice, room, true).await;
    let _ = r.user_may_invite(alice, bob, room).await;
    let _ = r.federated_user_may_invite(event).await;
    let _ = r
        .user_may_send_3pid_invite(alice, "email", "bob@example.org", room)
        .await;
    let _ = r.user_may_create_room(alice, "{}").await;
    let _ = r.user_may_create_room_alias(alice, "#a:test").await;
    let _ = r.user_may_publish_room(alice, room).await;
    let _ = r
        .user_may_send_state_event(alice, room, "m.room.topic", "", "{}")
        .await;
    let _ = r.check_username_for_spam(&user_profile, alice).await;
    let _ = r
        .check_registration_for_spam(None, Some("alice"), &info, None)
        .await;
    let _ = r.check_media_file_for_spam(b"png", "{}").await;
    let _ = r
        .check_login_for_spam(alice, Some("DEV"), None, &info, None)
        .await;
}

/// Every third-party rules dispatcher.
async fn call_third_party_rules(r: &Registry, x: &Sample) {
    let (alice, room, event, state) = (ALICE, ROOM, x.event.as_str(), "[]");
    let profile = ProfileInfo {
        display_name: Some("Alice".into()),
        avatar_url: None,
    };
    let _ = r.check_event_allowed(event, state).await;
    let _ = r.on_create_room(alice, json!({}), false).await;
    let _ = r
        .check_threepid_can_be_invited("email", "bob@example.org", state)
        .await;
    let _ = r
        .check_visibility_can_be_modified(room, state, "public")
        .await;
    r.on_new_event(event, state).await;
    let _ = r.check_can_shutdown_room(Some(alice), room).await;
    let _ = r.check_can_deactivate_user(alice, true).await;
    r.on_profile_update(alice, &profile, false, false).await;
    r.on_user_deactivation_status_changed(alice, true, false)
        .await;
    r.on_add_user_third_party_identifier(alice, "email", "a@example.org")
        .await;
    r.on_remove_user_third_party_identifier(alice, "email", "a@example.org")
        .await;
}

/// The other categories' dispatchers, and the SDK's own callbacks.
async fn call_the_rest(r: &Registry, x: &Sample) {
    let (alice, bob, event) = (ALICE, BOB, x.event.as_str());
    let limit = MediaUploadLimit {
        max_bytes: 10,
        time_period_ms: 1000,
    };
    let body = json!({"username": "alice"});
    // Presence router.
    let _ = r.get_users_for_states(&[json!({"user_id": bob})]).await;
    let _ = r.get_interested_users(alice).await;

    // Account validity.
    let _ = r.is_user_expired(alice).await;
    let _ = r.on_user_registration(alice).await;
    let _ = r.on_user_login(alice, Some("m.login.password"), None).await;
    let _ = r.on_legacy_send_mail(alice).await;
    let _ = r.on_legacy_renew("token").await;
    let _ = r.on_legacy_admin_request(&json!({})).await;

    // Password auth provider.
    let mut submission = Map::new();
    submission.insert("token".into(), Value::from("secret"));
    let _ = r.check_auth("alice", LOGIN_TYPE, &submission).await;
    let _ = r.check_3pid_auth("email", "a@example.org", "pw").await;
    r.on_logged_out(alice, Some("DEV"), "").await;
    let _ = r
        .get_username_for_registration(&json!({"m.login.dummy": true}), &body)
        .await;
    let _ = r
        .get_displayname_for_registration(&json!({"m.login.dummy": true}), &body)
        .await;
    let _ = r.is_3pid_allowed("email", "a@example.org", true).await;

    // Background update controller.
    let _ = r.on_update("update", "master", false).await;
    let _ = r.default_batch_size("update", "master").await;
    let _ = r.min_batch_size("update", "master").await;

    // Account data, media repository, ratelimit, unsigned fields.
    r.on_account_data_updated(alice, None, "m.direct", &json!({}))
        .await;
    let _ = r.get_media_config_for_user(alice).await;
    let _ = r.is_user_allowed_to_upload_media_of_size(alice, 10).await;
    let _ = r.get_media_upload_limits_for_user(alice).await;
    let _ = r.on_media_upload_limit_exceeded(alice, limit, 5, 6).await;
    let _ = r
        .get_ratelimit_override_for_user(alice, "rc_invites.per_room")
        .await;
    let _ = r.add_fields_to_unsigned(event, &mut Map::new()).await;

    // The SDK's own callbacks.
    r.run_deferred(0, 1, &json!({})).await;
    r.discard_deferred(0, 2).await;
    r.invalidate_cache("recorder", "cached", "key").await;
}

#[tokio::test]
async fn every_dispatcher_passes_the_arguments_the_catalogue_lists() {
    let (r, seen) = recording_registry();
    let x = sample();
    call_spam_checkers(&r, &x).await;
    call_third_party_rules(&r, &x).await;
    call_the_rest(&r, &x).await;
    let seen = seen.lock().unwrap();
    let problems: Vec<&String> = seen.iter().filter_map(|(_, r)| r.as_ref().err()).collect();
    assert!(problems.is_empty(), "{problems:#?}");
    let missing: Vec<String> = HOOKS
        .iter()
        .filter(|h| !seen.iter().any(|(hook, _)| *hook == h.hook))
        .map(|h| format!("{}.{}", h.category, h.name))
        .collect();
    assert!(
        missing.is_empty(),
        "no dispatcher call reached {missing:?}: call their dispatchers in this test"
    );
}

#[test]
fn a_swapped_missing_or_mistyped_argument_is_named() {
    let sent = [
        ("invitee", Wire::STR),
        ("inviter", Wire::STR),
        ("room_id", Wire::STR),
    ];
    let err = check_args(Hook::UserMayInvite, &sent).unwrap_err();
    assert_eq!(
        err,
        "spam_checker.user_may_invite: the dispatcher passes `invitee` as argument 0, the \
         catalogue lists `inviter` there (inviter, invitee, room_id)"
    );

    let err = check_args(Hook::UserMayInvite, &sent[1..]).unwrap_err();
    assert!(err.contains("passes 2 arguments"), "{err}");

    let sent = [
        ("user_id", Wire::STR),
        ("room_id", Wire::STR),
        ("is_invited", Wire::STR),
    ];
    let err = check_args(Hook::UserMayJoinRoom, &sent).unwrap_err();
    assert!(
        err.ends_with("passes `is_invited` as str, the module expects bool"),
        "{err}"
    );

    // An optional argument may be sent as its value or `null`, a required one not as `null`.
    let sent = [("requester", Wire::STR), ("room_id", Wire::STR)];
    assert_eq!(check_args(Hook::CheckCanShutdownRoom, &sent), Ok(()));
    let sent = [("requester", Wire::STR), ("room_id", Wire::STR.or_null())];
    assert!(check_args(Hook::CheckCanShutdownRoom, &sent).is_err());
}

#[test]
fn named_passes_the_values_through() {
    let args = named(
        Hook::UserMayJoinRoom,
        [
            ("user_id", s("@a:test")),
            ("room_id", s("!r:test")),
            ("is_invited", flag(true)),
        ],
    );
    assert_eq!(args[2], FfiArg::Bool(true));
    // A host that always fills an optional argument may send it as the plain type.
    let args = named(
        Hook::CheckCanShutdownRoom,
        [("requester", s("@admin:test")), ("room_id", s("!r:test"))],
    );
    assert_eq!(args.len(), 2);
    let args = named(
        Hook::CheckCanShutdownRoom,
        [("requester", opt(None)), ("room_id", s("!r:test"))],
    );
    assert_eq!(args[0], FfiArg::Null);
    let _ = named(
        Hook::CheckUsernameForSpam,
        [("user_profile", j("{}")), ("requester_id", s("@a:test"))],
    );
}

#[test]
#[should_panic(expected = "passes `room_alias` as argument 0, the catalogue lists `user_id` there")]
fn named_panics_on_a_swap() {
    let _ = named(
        Hook::UserMayCreateRoomAlias,
        [("room_alias", s("#a:test")), ("user_id", s("@a:test"))],
    );
}

#[test]
fn result_types_are_checked() {
    assert_eq!(
        check_result::<plugin_sdk::SpamCheck>(Hook::UserMayInvite),
        Ok(())
    );
    assert_eq!(check_result::<Option<Value>>(Hook::AuthChecker), Ok(()));
    let err = check_result::<bool>(Hook::UserMayInvite).unwrap_err();
    assert!(err.contains("modules answer json|null"), "{err}");
}
