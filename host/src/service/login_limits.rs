//! Synapse's login and registration rate limits (`rc_login`, `rc_registration`; spec
//! §"Rate limiting"): 429 `M_LIMIT_EXCEEDED` with `retry_after_ms` once a bucket is empty.

use crate::error::MatrixResult;
use crate::service::ratelimit::limit_exceeded;
use crate::state::AppState;

impl AppState {
    /// `rc_login.address`: one login request from `ip` (every request counts, whatever its
    /// outcome, as in Synapse's `LoginRestServlet`).
    pub fn check_login_address(&self, ip: &str) -> MatrixResult<()> {
        let rate = self.config.rc_login.address;
        self.limiters
            .take("rc_login.address", ip, rate)
            .map_err(limit_exceeded)
    }

    /// `rc_login.account`: one successful login into `user_id`.
    pub fn check_login_account(&self, user_id: &str) -> MatrixResult<()> {
        let rate = self.config.rc_login.account;
        self.limiters
            .take("rc_login.account", &user_id.to_lowercase(), rate)
            .map_err(limit_exceeded)
    }

    /// `rc_login.failed_attempts`: reserve one failure for `user_id` before its password is
    /// checked, so concurrent wrong guesses cannot all pass a check made before any of them
    /// was counted; [`AppState::login_succeeded`] returns it.
    pub fn reserve_failed_login(&self, user_id: &str) -> MatrixResult<()> {
        let rate = self.config.rc_login.failed_attempts;
        self.limiters
            .take("rc_login.failed_attempts", &user_id.to_lowercase(), rate)
            .map_err(limit_exceeded)
    }

    /// The password of `user_id` was right: the reserved failure is not one.
    pub fn login_succeeded(&self, user_id: &str) {
        let rate = self.config.rc_login.failed_attempts;
        self.limiters
            .give_back("rc_login.failed_attempts", &user_id.to_lowercase(), rate);
    }

    /// `rc_registration`: whether `ip` may register now; with `take`, one registration is
    /// counted (Synapse checks every request and counts the ones that register).
    pub fn check_registration_rate(&self, ip: &str, take: bool) -> MatrixResult<()> {
        let rate = self.config.rc_registration.rate();
        let limiters = &self.limiters;
        if take {
            limiters.take("rc_registration", ip, rate)
        } else {
            limiters.peek("rc_registration", ip, rate)
        }
        .map_err(limit_exceeded)
    }
}
