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

/// The levels of an `m.room.power_levels` content must be integers in room versions 10 and
/// later (the only ones modhost creates; spec room version 10 §"Authorization rules"): not
/// strings such as `"100"`, nor floats. 400 `M_BAD_JSON` naming the offending value.
pub(crate) fn check_integer_levels(content: &Value) -> crate::error::MatrixResult<()> {
    let bad = |what: String| Err(crate::error::MatrixError::bad_json(what));
    for key in [
        "users_default",
        "events_default",
        "state_default",
        "ban",
        "redact",
        "kick",
        "invite",
    ] {
        match content.get(key) {
            Some(v) if !v.is_i64() => return bad(format!("{key}: {v} must be an integer.")),
            _ => {}
        }
    }
    for key in ["events", "notifications", "users"] {
        let Some(map) = content.get(key) else {
            continue;
        };
        let all_integers = map
            .as_object()
            .is_some_and(|m| m.values().all(Value::is_i64));
        if !all_integers {
            return bad(format!(
                "{key}: {map} must be an object whose values are all integers."
            ));
        }
    }
    Ok(())
}
