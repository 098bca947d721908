//! Power levels (the subset of the room-version auth rules modhost enforces).

use serde_json::Value;

/// What `user_id` may do according to an `m.room.power_levels` content.
pub(crate) struct PowerLevels<'a>(pub(crate) Option<&'a Value>);

impl PowerLevels<'_> {
    fn int(&self, key: &str, default: i64) -> i64 {
        self.0
            .and_then(|pl| pl.get(key))
            .and_then(Value::as_i64)
            .unwrap_or(default)
    }

    /// The user's level.
    pub(crate) fn user(&self, user_id: &str) -> i64 {
        let explicit = self
            .0
            .and_then(|pl| pl.get("users"))
            .and_then(|u| u.get(user_id))
            .and_then(Value::as_i64);
        explicit.unwrap_or_else(|| self.int("users_default", 0))
    }

    /// Level needed to send `event_type` (a state event when `state`).
    pub(crate) fn for_event(&self, event_type: &str, state: bool) -> i64 {
        let explicit = self
            .0
            .and_then(|pl| pl.get("events"))
            .and_then(|e| e.get(event_type))
            .and_then(Value::as_i64);
        explicit.unwrap_or_else(|| {
            if state {
                self.int("state_default", 50)
            } else {
                self.int("events_default", 0)
            }
        })
    }

    /// Level needed for `invite`, `kick`, `ban`, `redact`.
    pub(crate) fn for_action(&self, action: &str) -> i64 {
        self.int(action, if action == "invite" { 0 } else { 50 })
    }
}
