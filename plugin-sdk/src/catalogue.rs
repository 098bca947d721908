//! Every callback this SDK version knows, by category, with how the host combines the
//! results of several modules. Callbacks cross the ABI by *name*; this table is how both
//! sides agree on names (see the evolution rule in the `ffi` module).
//!
//! Combination rules, in Synapse's words:
//! * **FIRST-NON-X** — callbacks run in module order; the first result that is not X is used
//!   and the rest are skipped; if all return X the default applies.
//! * **ALL** — every callback runs in order; results are ignored.
//! * **MERGE** — every callback runs; results are combined.

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
}

macro_rules! catalogue {
    ($( $category:literal { $( $variant:ident = $name:literal : $rule:literal, )* } )*) => {
        /// A callback known to this SDK version.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u16)]
        #[allow(missing_docs)]
        pub enum Hook { $($( $variant, )*)* }

        /// All known callbacks, in `Hook` order.
        pub const HOOKS: &[HookInfo] = &[
            $($( HookInfo { hook: Hook::$variant, category: $category, name: $name, rule: $rule }, )*)*
        ];
    };
}

catalogue! {
    "spam_checker" {
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
    "third_party_rules" {
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
    "presence_router" {
        GetUsersForStates = "get_users_for_states": "MERGE (union per user)",
        GetInterestedUsers = "get_interested_users": "MERGE (union); ALL_USERS short-circuits",
    }
    "account_validity" {
        IsUserExpired = "is_user_expired": "FIRST-NON-None",
        OnUserRegistration = "on_user_registration": "ALL",
        OnUserLogin = "on_user_login": "ALL",
        OnLegacySendMail = "on_legacy_send_mail": "single registration",
        OnLegacyRenew = "on_legacy_renew": "single registration",
        OnLegacyAdminRequest = "on_legacy_admin_request": "single registration",
    }
    "password_auth_provider" {
        AuthChecker = "auth_checker": "FIRST-NON-None among checkers for the login type",
        Check3pidAuth = "check_3pid_auth": "FIRST-NON-None",
        OnLoggedOut = "on_logged_out": "ALL",
        GetUsernameForRegistration = "get_username_for_registration": "FIRST-NON-None",
        GetDisplaynameForRegistration = "get_displayname_for_registration": "FIRST-NON-None",
        Is3pidAllowed = "is_3pid_allowed": "FIRST false wins",
    }
    "background_update_controller" {
        OnUpdate = "on_update": "first registering module only",
        DefaultBatchSize = "default_batch_size": "first registering module only",
        MinBatchSize = "min_batch_size": "first registering module only",
    }
    "account_data" {
        OnAccountDataUpdated = "on_account_data_updated": "ALL",
    }
    "media_repository" {
        GetMediaConfigForUser = "get_media_config_for_user": "FIRST-NON-None",
        IsUserAllowedToUploadMediaOfSize = "is_user_allowed_to_upload_media_of_size": "FIRST false wins",
        GetMediaUploadLimitsForUser = "get_media_upload_limits_for_user": "FIRST-NON-None",
        OnMediaUploadLimitExceeded = "on_media_upload_limit_exceeded": "ALL",
    }
    "ratelimit" {
        GetRatelimitOverrideForUser = "get_ratelimit_override_for_user": "FIRST-NON-None",
    }
    "add_extra_fields_to_unsigned" {
        AddFieldToUnsigned = "add_field_to_unsigned": "MERGE; for the same key the last module wins; host fields are never overwritten",
    }
    "sdk" {
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
    fn ten_public_categories() {
        let public: Vec<_> = Hook::categories()
            .into_iter()
            .filter(|c| *c != "sdk")
            .collect();
        assert_eq!(public.len(), 10, "{public:?}");
    }
}
