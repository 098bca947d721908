use super::{callback_methods, category};
use crate::types::RatelimitOverride;

category! {
    /// Ratelimit callbacks (`register_ratelimit_callbacks`). A module failure answers 500.
    RatelimitCallbacks, "ratelimit"
}

impl RatelimitCallbacks {
    callback_methods! {
        /// Fires for each check of a module-aware limiter (the invite limiters), with the
        /// limiter's name. `Some(override)` replaces rate and burst for this check; `None`
        /// keeps the configuration. FIRST-NON-None.
        fn get_ratelimit_override_for_user(
            user_id: String => "the user being rate-limited: for the invite limiters, the \
                local user sending the invite, `@alice:example.org` (whatever the limiter's \
                key)",
            limiter_name: String => "the limiter, `rc_invites.per_room`, \
                `rc_invites.per_user` or `rc_invites.per_issuer` (one invite checks all \
                three, in that order)",
        ) -> Option<RatelimitOverride>;
    }
}
