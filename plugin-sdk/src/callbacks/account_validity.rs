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
        fn is_user_expired(user_id: String) -> Option<bool>;
        /// Fires after a user registered. Every module is called.
        fn on_user_registration(user_id: String) -> ();
        /// Fires after every successful login, with the login type and auth provider.
        /// Every module is called.
        fn on_user_login(user_id: String, auth_provider_type: Option<String>, auth_provider_id: Option<String>) -> ();
        /// Transitional (Synapse's email account validity): send a renewal email. Only one
        /// module may register it; a second registration is refused.
        fn on_legacy_send_mail(user_id: String) -> ();
        /// Transitional: handle a renewal token; returns `{"token_valid", "token_stale",
        /// "expiration_ts"}`. Single registration.
        fn on_legacy_renew(renewal_token: String) -> serde_json::Value;
        /// Transitional: handle the legacy admin request (its JSON body); returns the new
        /// expiration timestamp. Single registration.
        fn on_legacy_admin_request(request: Json) -> i64;
    }
}
