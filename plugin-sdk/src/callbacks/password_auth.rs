use std::future::Future;

use serde_json::json;

use super::deferred::{self, Deferred};
use super::{callback_methods, category};
use crate::catalogue::{Wire, WireType};
use crate::codec::{to_json, Encode};
use crate::ffi::FfiValue;
use crate::json::Json;

category! {
    /// Password auth provider callbacks (`register_password_auth_provider_callbacks`).
    PasswordAuthProviderCallbacks, "password_auth_provider"
}

/// A successful authentication: the user's full MXID, and optionally a follow-up that runs
/// with the final login response (`user_id`, `access_token`, `device_id`, `home_server`).
pub struct AuthResult {
    user_id: String,
    on_login: Option<Deferred>,
}

impl AuthResult {
    /// Authenticated as `user_id` (a full MXID).
    pub fn new(user_id: impl Into<String>) -> Self {
        AuthResult {
            user_id: user_id.into(),
            on_login: None,
        }
    }

    /// Run `f` with the login response once the login completed.
    ///
    /// # Arguments
    ///
    /// The closure receives:
    ///
    /// * `response: Json` — the `POST /login` response body, sent after the device and access
    ///   token were created and before `on_user_login` callbacks run: `{"user_id":
    ///   "@alice:example.org", "access_token": "…", "device_id": "ABCDEFGHIJ",
    ///   "home_server": "example.org"}`.
    ///
    /// It runs at most once, and only for `POST /login`: not when a spam checker's
    /// `check_login_for_spam` refuses the login, and not for interactive auth.
    pub fn on_login<F, Fut>(mut self, f: F) -> Self
    where
        F: FnOnce(Json) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_login = Some(deferred::boxed(f));
        self
    }

    /// The authenticated user.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }
}

impl std::fmt::Debug for AuthResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthResult")
            .field("user_id", &self.user_id)
            .field("on_login", &self.on_login.is_some())
            .finish()
    }
}

impl WireType for AuthResult {
    const WIRE: Wire = Wire::JSON;
}

impl Encode for AuthResult {
    fn encode(self) -> FfiValue {
        let token = self.on_login.map(deferred::store);
        to_json(&json!({ "user_id": self.user_id, "on_login": token }))
    }
}

impl PasswordAuthProviderCallbacks {
    callback_methods! {
        /// Handle logins of `login_type` that carry all of `fields` (Synapse's `auth_checkers`
        /// entry `(login_type, fields) -> check_auth`). Fires on `POST /login` and interactive
        /// auth stages of that type; the host first checks every field is present (else 400
        /// "Missing parameters for login type …", callback not called) and passes only those
        /// fields in `login_dict`. `user` is the identifier as submitted (may be a localpart).
        ///
        /// `Some(AuthResult)` logs the user in (they must exist); `None` means not
        /// authenticated by this module. The first `Some` among the checkers of that type wins;
        /// if all return `None`, `m.login.password` falls back to the local password database
        /// and anything else answers 403 "Invalid username or password". A failure is logged
        /// and counts as `None`. Two modules registering the same login type with different
        /// fields refuse to start (Synapse documents this; its code forgets to check). In
        /// interactive auth an [`AuthResult`] for another user than the requester answers 403
        /// "Requested user is not the logged-in user", and its
        /// [`on_login`](AuthResult::on_login) follow-up is not run.
        ///
        /// `login_type` is the login type to handle, `m.login.password` or a custom one such as
        /// `com.example.login.token`; `fields` are the fields a submission of that type must
        /// carry, e.g. `&["token"]`.
        fn auth_checker(
            user: String => "the user identifier as submitted, not canonicalised: on \
                `POST /login` the `identifier.user` (or legacy top-level `user`) field, a \
                localpart `alice` or a full ID `@alice:example.org`, `\"\"` when the request \
                has none; in interactive auth the `auth` dict's `identifier.user` or `user`, \
                else the requesting user's full ID",
            login_type: String => "the submitted login type, one this checker registered, \
                `com.example.login.token`",
            login_dict: Json => "a JSON object holding exactly the registered `fields`, with \
                the values as submitted (any JSON type), e.g. `{\"token\": \"abc123\"}`; a \
                `password` field is in plain text",
        ) -> Option<AuthResult>
        where (login_type: &str, fields: &[&str]) =>
            json!({ "login_type": login_type, "fields": fields }).to_string();
        /// Fires on `m.login.password` logins with a third-party identifier, before the local
        /// lookup. Same results as an auth checker; FIRST-NON-None; failures count as `None`.
        fn check_3pid_auth(
            medium: String => "the identifier's medium: for `m.id.thirdparty` its `medium` \
                as sent (normally `email`), for `m.id.phone` always `msisdn`",
            address: String => "for `m.id.thirdparty` its `address`, an email canonicalised \
                (local part case-folded, domain lower-cased: `alice@example.org`); for \
                `m.id.phone` the `country` and `phone` as an msisdn, E.164 without the `+` \
                (`GB` `07700 900123` gives `447700900123`)",
            password: String => "the `password` from the login request, in plain text \
                (`\"\"` when absent)",
        ) -> Option<AuthResult>;
        /// Fires on logout and device deletion, before pushers are removed. Every module is
        /// called; failures are logged.
        fn on_logged_out(
            user_id: String => "the user whose session ends, `@alice:example.org`",
            device_id: Option<String> => "the device being logged out, `ABCDEFGHIJ`; \
                modhost always passes `Some`",
            access_token: String => "the device's access token in plain text when it is the \
                token of the request doing the logout (`/logout`, deleting one's own device) or \
                the token handed to the module API's `invalidate_access_token`; `\"\"` for \
                other devices (`/logout/all`, deleting another device, deactivation)",
        ) -> ();
        /// Fires on `/register` after interactive auth completed. `Some(localpart)` chooses the
        /// username; FIRST-NON-None. A failure answers 500.
        fn get_username_for_registration(
            uia_results: Json => "the completed interactive-auth stages; modhost only \
                offers `m.login.dummy`, so always `{\"m.login.dummy\": true}`",
            params: Json => "the whole `/register` request body as sent, e.g. \
                `{\"username\": \"alice\", \"password\": \"…\", \"auth\": {…}, \
                \"initial_device_display_name\": \"…\"}` (the password in plain text)",
        ) -> Option<String>;
        /// Same moment: `Some(name)` chooses the display name (default: the localpart).
        /// FIRST-NON-None. A failure answers 500.
        fn get_displayname_for_registration(
            uia_results: Json => "the completed interactive-auth stages; always \
                `{\"m.login.dummy\": true}` in modhost",
            params: Json => "the whole `/register` request body as sent (the password in \
                plain text)",
        ) -> Option<String>;
        /// Fires when a third-party identifier is about to be used (`registration` tells
        /// whether for registering). `false` answers 403 `M_THREEPID_DENIED`. FIRST `false`
        /// wins; a failure answers 500. Asked by `POST /register/msisdn/requestToken` and
        /// `/account/3pid/msisdn/requestToken`; the email endpoints refuse before asking, as
        /// Synapse does without an email configuration (modhost sends no email).
        fn is_3pid_allowed(
            medium: String => "the third-party medium, `email` or `msisdn`",
            address: String => "the address, `alice@example.org` or a phone number",
            registration: bool => "`true` when the identifier is being used to register, \
                `false` when it is being added to an existing account",
        ) -> bool;
    }
}
