use super::{callback_methods, category};
use crate::json::Json;

category! {
    /// Account validity callbacks (`register_account_validity_callbacks`). A module failure
    /// is not contained: the request fails with 500, as in Synapse.
    AccountValidityCallbacks, "account_validity"
}

impl AccountValidityCallbacks {
    callback_methods! {
        /// Fires on every authenticated client request (except `/logout` and endpoints that
        /// allow expired accounts). `Some(true)`: 403 `ORG_MATRIX_EXPIRED_ACCOUNT` "User
        /// account has expired"; `Some(false)`: not expired; `None`: no opinion. The first
        /// `Some` wins; all `None` means not expired.
        fn is_user_expired(
            user_id: String => "the user the request's access token belongs to, \
                `@alice:example.org` (also the module API's `get_user_by_req` without \
                `allow_expired`)",
        ) -> Option<bool>;
        /// Fires after a user registered. Every module is called.
        fn on_user_registration(
            user_id: String => "the newly registered user, `@alice:example.org` (through \
                `/register`, after the user and display name are stored and before a login \
                token is issued, or through the module API's `register_user`)",
        ) -> ();
        /// Fires after every successful login, with the login type and auth provider.
        /// Every module is called.
        fn on_user_login(
            user_id: String => "the user who logged in, `@alice:example.org`",
            auth_provider_type: Option<String> => "the login request's `type`, \
                `m.login.password`, `m.login.token` or a module login type; modhost always \
                passes `Some`",
            auth_provider_id: Option<String> => "the SSO provider; always `None` in \
                modhost, which has no SSO",
        ) -> ();
        /// Transitional (Synapse's email account validity): send a renewal email. Only one
        /// module may register it; a second registration is refused.
        /// Accepted and kept, but never called while modhost has no legacy
        /// account-validity endpoints.
        fn on_legacy_send_mail(
            user_id: String => "the user to email, `@alice:example.org`",
        ) -> ();
        /// Transitional: handle a renewal token; returns `{"token_valid", "token_stale",
        /// "expiration_ts"}`. Single registration.
        /// Accepted and kept, but never called while modhost has no legacy
        /// account-validity endpoints.
        fn on_legacy_renew(
            renewal_token: String => "the renewal token from the renewal link, as sent",
        ) -> serde_json::Value;
        /// Transitional: handle the legacy admin request (its JSON body); returns the new
        /// expiration timestamp. Single registration.
        /// Accepted and kept, but never called while modhost has no legacy
        /// account-validity endpoints.
        fn on_legacy_admin_request(
            request: Json => "the admin request's JSON body, e.g. \
                `{\"user_id\": \"@alice:example.org\", \"expiration_ts\": 1700000000000}` \
                (timestamps in ms since the Unix epoch)",
        ) -> i64;
    }
}
