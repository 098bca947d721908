//! Settings that bound what one client can make the server do: Synapse's login and
//! registration rate limits (`rc_login`, `rc_registration`), the password-hashing pool
//! (`password_hashing`) and the password policy (`password_config.policy`).

use serde::Deserialize;

use super::Rate;

/// Synapse's default for failed logins and registrations: one every ~6 s, bursts of 3.
const LOGIN_RATE: Rate = Rate {
    per_second: 0.17,
    burst_count: 3.0,
};

/// Synapse's default for logins per address and per account (synapse/config/ratelimiting.py):
/// bursts of 5, then one every ~5.5 minutes.
const LOGIN_ADDRESS_RATE: Rate = Rate {
    per_second: 0.003,
    burst_count: 5.0,
};

/// Synapse's `rc_login` (spec §"Rate limiting"; Synapse's figures as defaults).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RcLogin {
    /// Login requests from one client IP address, whatever their outcome.
    pub address: Rate,
    /// Logins into one account that passed authentication.
    pub account: Rate,
    /// Failed login attempts for one account (checked before, counted after, a failure).
    pub failed_attempts: Rate,
}

impl Default for RcLogin {
    fn default() -> Self {
        RcLogin {
            address: LOGIN_ADDRESS_RATE,
            account: LOGIN_ADDRESS_RATE,
            failed_attempts: LOGIN_RATE,
        }
    }
}

/// Synapse's `rc_registration`: registration requests per client IP address.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RcRegistration {
    /// Actions per second.
    pub per_second: f64,
    /// Bucket size.
    pub burst_count: f64,
}

impl Default for RcRegistration {
    fn default() -> Self {
        RcRegistration {
            per_second: LOGIN_RATE.per_second,
            burst_count: LOGIN_RATE.burst_count,
        }
    }
}

impl RcRegistration {
    /// As a plain [`Rate`].
    pub fn rate(&self) -> Rate {
        Rate {
            per_second: self.per_second,
            burst_count: self.burst_count,
        }
    }
}

/// `password_hashing`: how many Argon2 computations (each holds ~19 MiB for tens of ms) run at
/// once, and how many more may wait; beyond that a request is refused with 429.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordHashing {
    /// Computations at once; 0 means one per CPU.
    pub max_concurrent: usize,
    /// Computations waiting for a free slot.
    pub max_queued: usize,
}

impl Default for PasswordHashing {
    fn default() -> Self {
        PasswordHashing {
            max_concurrent: 0,
            max_queued: 32,
        }
    }
}

impl PasswordHashing {
    /// Computations at once, `max_concurrent` or the number of CPUs.
    pub fn concurrency(&self) -> usize {
        match self.max_concurrent {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        }
    }
}

/// Synapse's `password_config.policy`: rules for new passwords (registration, password
/// change). Off by default as in Synapse; an empty password is refused either way.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordPolicy {
    /// Whether the rules below apply.
    pub enabled: bool,
    /// Fewest characters.
    pub minimum_length: usize,
    /// At least one digit.
    pub require_digit: bool,
    /// At least one character that is neither a letter nor a digit.
    pub require_symbol: bool,
    /// At least one lowercase letter.
    pub require_lowercase: bool,
    /// At least one uppercase letter.
    pub require_uppercase: bool,
}
