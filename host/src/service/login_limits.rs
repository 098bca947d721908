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

    /// `rc_login.failed_attempts`: whether `user_id` may try a password now (nothing is
    /// counted until [`AppState::record_failed_login`]).
    pub fn check_failed_logins(&self, user_id: &str) -> MatrixResult<()> {
        let rate = self.config.rc_login.failed_attempts;
        self.limiters
            .peek("rc_login.failed_attempts", &user_id.to_lowercase(), rate)
            .map_err(limit_exceeded)
    }

    /// Count one wrong password for `user_id`.
    pub fn record_failed_login(&self, user_id: &str) {
        let rate = self.config.rc_login.failed_attempts;
        let _ = self
            .limiters
            .take("rc_login.failed_attempts", &user_id.to_lowercase(), rate);
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
