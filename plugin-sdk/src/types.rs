//! Plain Rust types for callback results and structured arguments.
//!
//! Synapse's stringly results (`NOT_SPAM`, `Codes.X`, `(Codes, dict)` tuples, legacy bools
//! whose meaning differs per callback) become small enums here.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Matrix error codes modules commonly deny with (Synapse's `Codes`).
pub mod codes {
    #![allow(missing_docs)]
    pub const FORBIDDEN: &str = "M_FORBIDDEN";
    pub const LIMIT_EXCEEDED: &str = "M_LIMIT_EXCEEDED";
    pub const UNAUTHORIZED: &str = "M_UNAUTHORIZED";
    pub const CONSENT_NOT_GIVEN: &str = "M_CONSENT_NOT_GIVEN";
    pub const BAD_ALIAS: &str = "M_BAD_ALIAS";
    pub const SERVER_NOT_TRUSTED: &str = "M_SERVER_NOT_TRUSTED";
    pub const EXPIRED_ACCOUNT: &str = "ORG_MATRIX_EXPIRED_ACCOUNT";
    pub const RESOURCE_LIMIT_EXCEEDED: &str = "M_RESOURCE_LIMIT_EXCEEDED";
    pub const TOO_LARGE: &str = "M_TOO_LARGE";
    pub const MISSING_PARAM: &str = "M_MISSING_PARAM";
    pub const INVALID_PARAM: &str = "M_INVALID_PARAM";
    pub const NOT_FOUND: &str = "M_NOT_FOUND";
    pub const UNKNOWN: &str = "M_UNKNOWN";
}

/// Why a spam check denied: the `errcode`, optionally the `error` text, and extra fields
/// merged into the client's JSON error body (Synapse's `(Codes, dict)` form).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Denial {
    /// Matrix `errcode`.
    pub errcode: String,
    /// Replaces the host's default `error` text when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Extra fields for the error body.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub fields: Map<String, Value>,
}

impl Denial {
    /// Deny with `errcode`.
    pub fn new(errcode: impl Into<String>) -> Self {
        Denial {
            errcode: errcode.into(),
            message: None,
            fields: Map::new(),
        }
    }

    /// Deny with `M_FORBIDDEN`.
    pub fn forbidden() -> Self {
        Denial::new(codes::FORBIDDEN)
    }

    /// Set the `error` text.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Add a field to the error body.
    pub fn with_field(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.fields.insert(key.into(), value.into());
        self
    }
}

/// The result of a spam check (`NOT_SPAM` or a denial).
#[derive(Debug, Clone, PartialEq)]
pub enum SpamCheck {
    /// Allow; later modules may still deny (`NOT_SPAM`).
    NotSpam,
    /// Deny the operation; later modules are not asked.
    Deny(Denial),
}

impl SpamCheck {
    /// Deny with `M_FORBIDDEN`.
    pub fn forbidden() -> Self {
        SpamCheck::Deny(Denial::forbidden())
    }

    /// Deny with `errcode`.
    pub fn deny(errcode: impl Into<String>) -> Self {
        SpamCheck::Deny(Denial::new(errcode))
    }
}

impl From<Denial> for SpamCheck {
    fn from(d: Denial) -> Self {
        SpamCheck::Deny(d)
    }
}

/// `check_registration_for_spam`'s verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationBehaviour {
    /// Continue registering.
    Allow,
    /// Register the user but shadow-ban them.
    ShadowBan,
    /// Refuse (clients see a 429 "Rate limited", as in Synapse).
    Deny,
}

/// `check_event_allowed`'s verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum EventAllowed {
    /// Allow the event unchanged.
    Allow,
    /// Refuse it: 403 `M_FORBIDDEN` "This event is not allowed in this context".
    Deny,
    /// Allow it, replaced by this event (start from [`Event::to_value`](crate::Event::to_value)).
    /// Honoured for locally created events.
    Replace(Value),
}

/// A user-directory entry as `check_username_for_spam` sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct UserProfile {
    /// The user's MXID.
    pub user_id: String,
    /// Display name, if set.
    pub display_name: Option<String>,
    /// Avatar URL, if set.
    pub avatar_url: Option<String>,
}

/// A profile after an update (`on_profile_update`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ProfileInfo {
    /// Display name, if set.
    #[serde(alias = "displayname")]
    pub display_name: Option<String>,
    /// Avatar URL, if set.
    pub avatar_url: Option<String>,
}

/// Extra presence recipients (`get_interested_users`).
#[derive(Debug, Clone, PartialEq)]
pub enum InterestedUsers {
    /// Every known user (Synapse's `PRESENCE_ALL_USERS`); stops the merge.
    All,
    /// These users.
    Users(Vec<String>),
}

/// An upload allowance: at most `max_bytes` per `time_period_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaUploadLimit {
    /// Bytes allowed in the period.
    pub max_bytes: u64,
    /// The period's length.
    pub time_period_ms: u64,
}

/// A replacement rate for one limiter check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RatelimitOverride {
    /// Actions per second.
    pub per_second: f64,
    /// Burst size.
    pub burst_count: u64,
}
