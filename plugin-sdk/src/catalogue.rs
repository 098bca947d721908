//! Every callback this SDK version knows, by category, with how the host combines the
//! results of several modules. Callbacks cross the ABI by *name*; this table is how both
//! sides agree on names (see the evolution rule in the `ffi` module).
//!
//! Each entry also carries the callback's argument list (names and [wire types](Wire), in
//! the order they travel) and its result's wire type. Those are not written here: they are
//! taken, at compile time, from the builder method that declares the callback
//! (`callback_methods!` in the `callbacks` module), so an argument's name, order and type are
//! written once, in the SDK builder; the host checks its dispatchers against this table.
//! A catalogue entry without a builder method, or a builder method without an entry, does not
//! compile.
//!
//! Combination rules, in Synapse's words:
//! * **FIRST-NON-X** — callbacks run in module order; the first result that is not X is used
//!   and the rest are skipped; if all return X the default applies.
//! * **ALL** — every callback runs in order; results are ignored.
//! * **MERGE** — every callback runs; results are combined.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::ffi::FfiArg;
use crate::json::{Event, Json, StateMap};
use crate::types::{
    EventAllowed, InterestedUsers, MediaUploadLimit, ProfileInfo, RatelimitOverride,
    RegistrationBehaviour, SpamCheck, UserProfile,
};

/// One known callback.
#[derive(Debug, Clone, Copy)]
pub struct HookInfo {
    /// Which callback.
    pub hook: Hook,
    /// Its category, as in `register_<category>_callbacks`.
    pub category: &'static str,
    /// Its Synapse name.
    pub name: &'static str,
    /// How results from several modules combine.
    pub rule: &'static str,
    /// Its arguments in the order they travel: each one's name and wire type, e.g.
    /// `[("inviter", str), ("invitee", str), ("room_id", str)]` for `user_may_invite`.
    pub args: &'static [(&'static str, Wire)],
    /// How its result travels.
    pub result: Wire,
}

/// The [`FfiArg`]/[`FfiValue`](crate::ffi::FfiValue) variants a value may travel as: a set
/// of `null`, `bool`, `int`, `float`, `str`, `json` and `bytes`. An `Option<T>` travels as
/// `T`'s variants or `null`; a structured value as `json`.
///
/// Printed as the variant names joined by `|`, e.g. `str|null`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Wire(u8);

impl Wire {
    /// `Null`: no value (`()`, `None`).
    pub const NULL: Wire = Wire(1);
    /// `Bool`.
    pub const BOOL: Wire = Wire(1 << 1);
    /// `Int` (`i64`, and `u64` saturated to `i64::MAX`).
    pub const INT: Wire = Wire(1 << 2);
    /// `Float`.
    pub const FLOAT: Wire = Wire(1 << 3);
    /// `Str`: a string, unencoded.
    pub const STR: Wire = Wire(1 << 4);
    /// `Json`: JSON text.
    pub const JSON: Wire = Wire(1 << 5);
    /// `Bytes`.
    pub const BYTES: Wire = Wire(1 << 6);

    const NAMES: [(Wire, &'static str); 7] = [
        (Wire::BOOL, "bool"),
        (Wire::INT, "int"),
        (Wire::FLOAT, "float"),
        (Wire::STR, "str"),
        (Wire::JSON, "json"),
        (Wire::BYTES, "bytes"),
        (Wire::NULL, "null"),
    ];

    /// Either of the two.
    pub const fn or(self, other: Wire) -> Wire {
        Wire(self.0 | other.0)
    }

    /// This or `Null` (an `Option`).
    pub const fn or_null(self) -> Wire {
        self.or(Wire::NULL)
    }

    /// Whether every variant of `other` is one of this set's: a receiver expecting `self`
    /// accepts whatever a sender of `other` sends.
    pub const fn contains(self, other: Wire) -> bool {
        self.0 & other.0 == other.0
    }

    /// The variant `arg` travels as.
    pub const fn of(arg: &FfiArg<'_>) -> Wire {
        match arg {
            FfiArg::Null => Wire::NULL,
            FfiArg::Bool(_) => Wire::BOOL,
            FfiArg::Int(_) => Wire::INT,
            FfiArg::Float(_) => Wire::FLOAT,
            FfiArg::Str(_) => Wire::STR,
            FfiArg::Json(_) => Wire::JSON,
            FfiArg::Bytes(_) => Wire::BYTES,
        }
    }

    /// Whether `arg` travels as one of this set's variants.
    pub const fn accepts(self, arg: &FfiArg<'_>) -> bool {
        self.contains(Wire::of(arg))
    }
}

impl fmt::Display for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (wire, name) in Wire::NAMES {
            if self.contains(wire) {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("nothing")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// How values of a Rust type travel (see [`codec`](crate::codec)): implemented by every
/// callback argument and result type, so that the catalogue's wire types follow from the
/// builders' declarations, and the host can check what it decodes.
pub trait WireType {
    /// The variants this type's encoding uses.
    const WIRE: Wire;
}

macro_rules! wire_types {
    ($($wire:expr => $($ty:ty),+;)*) => {$($(
        impl WireType for $ty {
            const WIRE: Wire = $wire;
        }
    )+)*};
}

wire_types! {
    Wire::NULL => ();
    Wire::BOOL => bool;
    Wire::INT => i64, u64;
    Wire::FLOAT => f64;
    Wire::STR => String, RegistrationBehaviour;
    Wire::BYTES => Vec<u8>;
    Wire::JSON => Json, Event, StateMap, Value, Map<String, Value>, Vec<String>,
        Vec<(String, String)>, Vec<Value>, Vec<MediaUploadLimit>, BTreeMap<String, Vec<Value>>,
        UserProfile, ProfileInfo, MediaUploadLimit, RatelimitOverride;
    Wire::JSON.or_null() => SpamCheck;
    Wire::JSON.or(Wire::BOOL).or_null() => EventAllowed;
    Wire::JSON.or(Wire::STR) => InterestedUsers;
}

impl<T: WireType> WireType for Option<T> {
    const WIRE: Wire = T::WIRE.or_null();
}

/// A callback as its builder method declares it; `callback_methods!` generates one per
/// method, in the builder's `SIGNATURES`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Signature {
    pub(crate) name: &'static str,
    pub(crate) args: &'static [(&'static str, Wire)],
    pub(crate) result: Wire,
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The signature named `name` among a builder's.
const fn find(signatures: &'static [Signature], name: &str) -> Option<&'static Signature> {
    let mut i = 0;
    while i < signatures.len() {
        if same(signatures[i].name, name) {
            return Some(&signatures[i]);
        }
        i += 1;
    }
    None
}

macro_rules! catalogue {
    ($( $builder:ident { $( $variant:ident = $name:literal : $rule:literal, )* } )*) => {
        /// A callback known to this SDK version.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u16)]
        #[allow(missing_docs)]
        pub enum Hook { $($( $variant, )*)* }

        /// All known callbacks, in `Hook` order.
        pub const HOOKS: &[HookInfo] = &[
            $($( {
                let Some(signature) = find(crate::callbacks::$builder::SIGNATURES, $name) else {
                    panic!(concat!(
                        "catalogue entry ", $name, " has no method in ", stringify!($builder),
                        "'s callback_methods!"
                    ))
                };
                HookInfo {
                    hook: Hook::$variant,
                    category: crate::callbacks::$builder::CATEGORY,
                    name: $name,
                    rule: $rule,
                    args: signature.args,
                    result: signature.result,
                }
            }, )*)*
        ];

        // The other direction: every builder method is in the catalogue (names are unique
        // within a builder, so equal counts mean one entry per method).
        const _: () = {$(
            assert!(
                crate::callbacks::$builder::SIGNATURES.len() == [$($name),*].len(),
                concat!(
                    stringify!($builder), "'s callback_methods! declares a callback that the \
                     catalogue does not list"
                )
            );
        )*};
    };
}

catalogue! {
    SpamCheckerCallbacks {
        CheckEventForSpam = "check_event_for_spam": "FIRST-NON-NOT_SPAM",
        ShouldDropFederatedEvent = "should_drop_federated_event": "FIRST true wins (federation only; inactive without federation)",
        UserMayJoinRoom = "user_may_join_room": "FIRST-NON-NOT_SPAM",
        UserMayInvite = "user_may_invite": "FIRST-NON-NOT_SPAM",
        FederatedUserMayInvite = "federated_user_may_invite": "FIRST-NON-NOT_SPAM, then user_may_invite (federation only)",
        UserMaySend3pidInvite = "user_may_send_3pid_invite": "FIRST-NON-NOT_SPAM",
        UserMayCreateRoom = "user_may_create_room": "FIRST-NON-NOT_SPAM",
        UserMayCreateRoomAlias = "user_may_create_room_alias": "FIRST-NON-NOT_SPAM",
        UserMayPublishRoom = "user_may_publish_room": "FIRST-NON-NOT_SPAM",
        UserMaySendStateEvent = "user_may_send_state_event": "FIRST-NON-NOT_SPAM",
        CheckUsernameForSpam = "check_username_for_spam": "FIRST true wins",
        CheckRegistrationForSpam = "check_registration_for_spam": "FIRST-NON-ALLOW",
        CheckMediaFileForSpam = "check_media_file_for_spam": "FIRST-NON-NOT_SPAM",
        CheckLoginForSpam = "check_login_for_spam": "FIRST-NON-NOT_SPAM",
    }
    ThirdPartyRulesCallbacks {
        CheckEventAllowed = "check_event_allowed": "FIRST deny or replacement wins",
        OnCreateRoom = "on_create_room": "ALL in order, each seeing the previous one's changes, until one fails",
        CheckThreepidCanBeInvited = "check_threepid_can_be_invited": "FIRST false wins",
        CheckVisibilityCanBeModified = "check_visibility_can_be_modified": "FIRST false wins",
        OnNewEvent = "on_new_event": "ALL",
        CheckCanShutdownRoom = "check_can_shutdown_room": "FIRST false wins",
        CheckCanDeactivateUser = "check_can_deactivate_user": "FIRST false wins",
        OnProfileUpdate = "on_profile_update": "ALL",
        OnUserDeactivationStatusChanged = "on_user_deactivation_status_changed": "ALL",
        OnThreepidBind = "on_threepid_bind": "ALL",
        OnAddUserThirdPartyIdentifier = "on_add_user_third_party_identifier": "ALL",
        OnRemoveUserThirdPartyIdentifier = "on_remove_user_third_party_identifier": "ALL",
    }
    PresenceRouterCallbacks {
        GetUsersForStates = "get_users_for_states": "MERGE (union per user)",
        GetInterestedUsers = "get_interested_users": "MERGE (union); ALL_USERS short-circuits",
    }
    AccountValidityCallbacks {
        IsUserExpired = "is_user_expired": "FIRST-NON-None",
        OnUserRegistration = "on_user_registration": "ALL",
        OnUserLogin = "on_user_login": "ALL",
        OnLegacySendMail = "on_legacy_send_mail": "single registration",
        OnLegacyRenew = "on_legacy_renew": "single registration",
        OnLegacyAdminRequest = "on_legacy_admin_request": "single registration",
    }
    PasswordAuthProviderCallbacks {
        AuthChecker = "auth_checker": "FIRST-NON-None among checkers for the login type",
        Check3pidAuth = "check_3pid_auth": "FIRST-NON-None",
        OnLoggedOut = "on_logged_out": "ALL",
        GetUsernameForRegistration = "get_username_for_registration": "FIRST-NON-None",
        GetDisplaynameForRegistration = "get_displayname_for_registration": "FIRST-NON-None",
        Is3pidAllowed = "is_3pid_allowed": "FIRST false wins",
    }
    BackgroundUpdateCallbacks {
        OnUpdate = "on_update": "first registering module only",
        DefaultBatchSize = "default_batch_size": "first registering module only",
        MinBatchSize = "min_batch_size": "first registering module only",
    }
    AccountDataCallbacks {
        OnAccountDataUpdated = "on_account_data_updated": "ALL",
    }
    MediaRepositoryCallbacks {
        GetMediaConfigForUser = "get_media_config_for_user": "FIRST-NON-None",
        IsUserAllowedToUploadMediaOfSize = "is_user_allowed_to_upload_media_of_size": "FIRST false wins",
        GetMediaUploadLimitsForUser = "get_media_upload_limits_for_user": "FIRST-NON-None",
        OnMediaUploadLimitExceeded = "on_media_upload_limit_exceeded": "ALL",
    }
    RatelimitCallbacks {
        GetRatelimitOverrideForUser = "get_ratelimit_override_for_user": "FIRST-NON-None",
    }
    UnsignedFieldsCallbacks {
        AddFieldToUnsigned = "add_field_to_unsigned": "MERGE; for the same key the last module wins; host fields are never overwritten",
    }
    SdkCallbacks {
        RunDeferred = "run_deferred": "internal: runs a follow-up a module returned (on_login, on_update exit)",
        InvalidateCache = "invalidate_cache": "internal: drops a key from a registered cached function (invalidate_cache on another instance)",
    }
}

impl Hook {
    /// Number of known callbacks.
    pub const COUNT: usize = HOOKS.len();

    /// This callback's entry.
    pub fn info(self) -> &'static HookInfo {
        &HOOKS[self as usize]
    }

    /// Find a callback by category and name.
    pub fn lookup(category: &str, name: &str) -> Option<Hook> {
        HOOKS
            .iter()
            .find(|h| h.category == category && h.name == name)
            .map(|h| h.hook)
    }

    /// Every category name, in catalogue order.
    pub fn categories() -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for h in HOOKS {
            if !out.contains(&h.category) {
                out.push(h.category);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_order_matches_enum_order() {
        for (i, h) in HOOKS.iter().enumerate() {
            assert_eq!(h.hook as usize, i, "{}", h.name);
        }
    }

    #[test]
    fn names_are_unique_and_lookup_finds_them() {
        for h in HOOKS {
            assert_eq!(Hook::lookup(h.category, h.name), Some(h.hook));
            assert_eq!(HOOKS.iter().filter(|o| o.name == h.name).count(), 1);
        }
        assert_eq!(Hook::lookup("spam_checker", "no_such_callback"), None);
    }

    #[test]
    fn argument_lists_come_from_the_builders() {
        let info = Hook::UserMayInvite.info();
        assert_eq!(
            info.args,
            [
                ("inviter", Wire::STR),
                ("invitee", Wire::STR),
                ("room_id", Wire::STR)
            ]
        );
        assert_eq!(info.result, Wire::JSON.or_null());
        let info = Hook::CheckLoginForSpam.info();
        let names: Vec<_> = info.args.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "user_id",
                "device_id",
                "initial_display_name",
                "request_info",
                "auth_provider_id"
            ]
        );
        assert_eq!(info.args[1].1.to_string(), "str|null");
        assert_eq!(info.args[3].1, Wire::JSON);
        assert_eq!(
            Hook::AuthChecker.info().args,
            [
                ("user", Wire::STR),
                ("login_type", Wire::STR),
                ("login_dict", Wire::JSON)
            ]
        );
        assert_eq!(
            Hook::RunDeferred.info().args,
            [
                ("token", Wire::INT),
                ("payload", Wire::JSON.or_null()),
                ("discard", Wire::BOOL.or_null())
            ]
        );
        assert_eq!(
            Hook::CheckMediaFileForSpam.info().args[0],
            ("content", Wire::BYTES)
        );
        assert_eq!(Hook::OnNewEvent.info().result, Wire::NULL);
        assert_eq!(
            Hook::CheckEventAllowed.info().result.to_string(),
            "bool|json|null"
        );
    }

    #[test]
    fn every_argument_has_a_name_and_a_wire_type() {
        for h in HOOKS {
            for (i, (name, wire)) in h.args.iter().enumerate() {
                assert!(!name.is_empty(), "{}: argument {i}", h.name);
                assert_ne!(*wire, Wire(0), "{}.{name}", h.name);
                assert_eq!(
                    h.args.iter().filter(|(n, _)| n == name).count(),
                    1,
                    "{}: argument {name} twice",
                    h.name
                );
            }
        }
    }

    #[test]
    fn builders_list_the_catalogue_categories() {
        use crate::callbacks::*;
        let builders = [
            (
                SpamCheckerCallbacks::CATEGORY,
                SpamCheckerCallbacks::SIGNATURES,
            ),
            (
                ThirdPartyRulesCallbacks::CATEGORY,
                ThirdPartyRulesCallbacks::SIGNATURES,
            ),
            (
                PresenceRouterCallbacks::CATEGORY,
                PresenceRouterCallbacks::SIGNATURES,
            ),
            (
                AccountValidityCallbacks::CATEGORY,
                AccountValidityCallbacks::SIGNATURES,
            ),
            (
                PasswordAuthProviderCallbacks::CATEGORY,
                PasswordAuthProviderCallbacks::SIGNATURES,
            ),
            (
                BackgroundUpdateCallbacks::CATEGORY,
                BackgroundUpdateCallbacks::SIGNATURES,
            ),
            (
                AccountDataCallbacks::CATEGORY,
                AccountDataCallbacks::SIGNATURES,
            ),
            (
                MediaRepositoryCallbacks::CATEGORY,
                MediaRepositoryCallbacks::SIGNATURES,
            ),
            (RatelimitCallbacks::CATEGORY, RatelimitCallbacks::SIGNATURES),
            (
                UnsignedFieldsCallbacks::CATEGORY,
                UnsignedFieldsCallbacks::SIGNATURES,
            ),
            (SdkCallbacks::CATEGORY, SdkCallbacks::SIGNATURES),
        ];
        let mut listed = 0;
        for (category, signatures) in builders {
            for sig in signatures {
                let hook = Hook::lookup(category, sig.name)
                    .unwrap_or_else(|| panic!("{category}.{} not in the catalogue", sig.name));
                assert_eq!(hook.info().args, sig.args);
                assert_eq!(hook.info().result, sig.result);
                listed += 1;
            }
        }
        assert_eq!(listed, Hook::COUNT);
    }

    /// What a type's `WireType` says is what its `Encode` produces, and decodes back.
    #[test]
    fn wire_types_match_the_codec() {
        use crate::codec::{Decode, Encode};
        use crate::types::Denial;
        use serde_json::json;

        fn check<T: Encode + Decode + WireType>(value: T) {
            let encoded = value.encode();
            let wire = Wire::of(&encoded.as_arg());
            assert!(
                T::WIRE.contains(wire),
                "{} encodes as {wire}, WireType says {}",
                std::any::type_name::<T>(),
                T::WIRE
            );
            assert!(
                T::decode_value(&encoded).is_ok(),
                "{}",
                std::any::type_name::<T>()
            );
        }
        check(());
        check(true);
        check(-1i64);
        check(7u64);
        check(0.5f64);
        check("x".to_string());
        check(vec![1u8, 2]);
        check(None::<String>);
        check(Some("x".to_string()));
        check(Some(true));
        check(Json::from_raw("{}"));
        check(Event(Json::from_raw("{}")));
        check(StateMap(Json::from_raw("[]")));
        check(json!({"a": 1}));
        assert!(Map::WIRE.accepts(&Map::new().encode().as_arg()));
        check(vec!["a".to_string()]);
        check(vec![("ua".to_string(), "ip".to_string())]);
        check(vec![json!(1)]);
        check(BTreeMap::from([("@a:b".to_string(), vec![json!({})])]));
        check(UserProfile {
            user_id: "@a:b".into(),
            display_name: None,
            avatar_url: None,
        });
        check(ProfileInfo {
            display_name: None,
            avatar_url: None,
        });
        let limit = MediaUploadLimit {
            max_bytes: 1,
            time_period_ms: 2,
        };
        check(limit);
        check(vec![limit]);
        check(RatelimitOverride {
            per_second: 1.0,
            burst_count: 2,
        });
        check(SpamCheck::NotSpam);
        check(SpamCheck::Deny(Denial::forbidden()));
        check(RegistrationBehaviour::ShadowBan);
        check(EventAllowed::Allow);
        check(EventAllowed::Deny);
        check(EventAllowed::Replace(json!({"type": "m.room.message"})));
        check(InterestedUsers::All);
        check(InterestedUsers::Users(vec!["@a:b".into()]));
        assert_eq!(crate::AuthResult::WIRE, Wire::JSON);
        assert!(matches!(
            crate::AuthResult::new("@a:b").encode(),
            crate::ffi::FfiValue::Json(_)
        ));
        assert_eq!(crate::UpdateGuard::WIRE, Wire::JSON);
        assert!(matches!(
            crate::UpdateGuard::new(5).encode(),
            crate::ffi::FfiValue::Json(_)
        ));
    }

    #[test]
    fn wire_sets() {
        let opt_str = Wire::STR.or_null();
        assert!(opt_str.contains(Wire::STR));
        assert!(opt_str.contains(Wire::NULL));
        assert!(!Wire::STR.contains(opt_str));
        assert!(opt_str.accepts(&FfiArg::Null));
        assert!(!opt_str.accepts(&FfiArg::Json("{}".into())));
        assert_eq!(format!("{:?}", Wire::JSON.or(Wire::STR)), "str|json");
        assert_eq!(Wire(0).to_string(), "nothing");
    }

    #[test]
    fn ten_public_categories() {
        let public: Vec<_> = Hook::categories()
            .into_iter()
            .filter(|c| *c != "sdk")
            .collect();
        assert_eq!(public.len(), 10, "{public:?}");
    }
}
