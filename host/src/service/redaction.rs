//! Redactions (client-server spec v1.12 §"Redactions"): who may redact what, and the redacted
//! form of an event that clients are served from then on.
//!
//! A redaction is an ordinary `m.room.redaction` event: it goes through [`AppState::send_event`]
//! and so through `check_event_allowed`, `check_event_for_spam` and `on_new_event` like any
//! other. When it is stored, the target's stored JSON is replaced by its redacted form in the
//! same database transaction (the original content is not kept), with
//! `unsigned.redacted_because` holding the redaction.

use ruma_common::canonical_json::{redact, RedactedBecause};
use ruma_common::room_version_rules::RedactionRules;
use ruma_common::{CanonicalJsonObject, CanonicalJsonValue};
use serde_json::{json, Value};

use super::power::PowerLevels;
use crate::error::{MatrixError, MatrixResult};
use crate::state::AppState;

/// The event ID a redaction event redacts: top-level `redacts` (room versions up to 10) or
/// `content.redacts` (version 11 and later).
pub fn redacts_of(event_type: &str, top: Option<&Value>, content: &Value) -> Option<String> {
    if event_type != "m.room.redaction" {
        return None;
    }
    top.or_else(|| content.get("redacts"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

impl AppState {
    /// May `sender` redact `redacts` in `room_id`? Following the room-version auth rules and
    /// Synapse: a member with the room's `redact` level may redact anything; others only their
    /// own events. Redacting an event of another room is 400 `M_UNKNOWN`, the room's create
    /// event 403; an event the server has never seen may be redacted (the redaction is kept).
    pub(crate) async fn authorise_redaction(
        &self,
        room_id: &str,
        sender: &str,
        redacts: &str,
        power_levels: &PowerLevels<'_>,
    ) -> MatrixResult<()> {
        let Some(original) = self.store.get_event(redacts).await? else {
            return Ok(());
        };
        let original = original.json;
        if original["room_id"] != room_id {
            return Err(MatrixError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "M_UNKNOWN",
                "Cannot redact event from a different room",
            ));
        }
        if original["type"] == "m.room.create" {
            return Err(MatrixError::forbidden(
                "Redacting create events is not permitted",
            ));
        }
        let may_redact_any = power_levels.user(sender) >= power_levels.for_action("redact");
        if !may_redact_any && original["sender"] != sender {
            return Err(MatrixError::forbidden(
                "You don't have permission to redact events",
            ));
        }
        Ok(())
    }

    /// The redacted form of the stored event `redacts` that `redaction` (a full event in
    /// client format) asks for, or `None` when the event is unknown or already redacted.
    pub(crate) async fn redacted_target(
        &self,
        redaction: &Value,
        redacts: &str,
    ) -> MatrixResult<Option<Value>> {
        let Some(original) = self.store.get_event(redacts).await? else {
            return Ok(None);
        };
        if original.json["unsigned"].get("redacted_because").is_some() {
            return Ok(None);
        }
        let room_id = original.json["room_id"].as_str().unwrap_or_default();
        let rules = self.redaction_rules(room_id).await?;
        Ok(Some(pruned(&original.json, redaction, &rules)))
    }

    /// The redaction algorithm of the room's version (from its `m.room.create` event).
    async fn redaction_rules(&self, room_id: &str) -> MatrixResult<RedactionRules> {
        let create = self.store.state_event(room_id, "m.room.create", "").await?;
        let version = create
            .as_ref()
            .and_then(|c| c["content"]["room_version"].as_str())
            .unwrap_or("1");
        let rules = ruma_common::RoomVersionId::try_from(version)
            .ok()
            .and_then(|v| v.rules())
            .map(|r| r.redaction)
            .unwrap_or(RedactionRules::V9);
        Ok(rules)
    }
}

/// `event` stripped by the redaction algorithm, with `unsigned.redacted_because`. Falls back to
/// keeping only the identity fields when the event is not canonical JSON (a float somewhere),
/// which the algorithm would keep anyway.
fn pruned(event: &Value, redaction: &Value, rules: &RedactionRules) -> Value {
    let canonical = |v: &Value| -> Option<CanonicalJsonObject> {
        match CanonicalJsonValue::try_from(v.clone()).ok()? {
            CanonicalJsonValue::Object(o) => Some(o),
            _ => None,
        }
    };
    let mut original = event.clone();
    if let Some(o) = original.as_object_mut() {
        o.remove("unsigned");
    }
    let redacted = canonical(&original)
        .zip(canonical(redaction))
        .and_then(|(o, r)| redact(o, rules, Some(RedactedBecause::from_json(r))).ok());
    match redacted {
        Some(object) => serde_json::to_value(object).unwrap_or(Value::Null),
        None => {
            let mut bare = json!({ "content": {}, "unsigned": { "redacted_because": redaction } });
            for key in [
                "event_id",
                "type",
                "room_id",
                "sender",
                "state_key",
                "origin_server_ts",
            ] {
                if let Some(v) = event.get(key) {
                    bare[key] = v.clone();
                }
            }
            bare
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_loses_its_content_and_keeps_its_identity() {
        let event = json!({
            "type": "m.room.message", "room_id": "!r:t", "sender": "@a:t",
            "event_id": "$e", "origin_server_ts": 5,
            "content": {"body": "secret", "msgtype": "m.text"}
        });
        let redaction = json!({"type": "m.room.redaction", "event_id": "$r", "redacts": "$e"});
        let out = pruned(&event, &redaction, &RedactionRules::V9);
        assert_eq!(out["content"], json!({}));
        assert_eq!(out["event_id"], "$e");
        assert_eq!(out["unsigned"]["redacted_because"]["event_id"], "$r");
    }

    #[test]
    fn membership_keeps_membership_and_floats_fall_back() {
        let member = json!({
            "type": "m.room.member", "state_key": "@a:t", "event_id": "$m",
            "content": {"membership": "join", "displayname": "A"}
        });
        let out = pruned(&member, &json!({"event_id": "$r"}), &RedactionRules::V9);
        assert_eq!(out["content"], json!({"membership": "join"}));
        let float = json!({"type": "m.room.message", "event_id": "$f", "content": {"x": 1.5}});
        let out = pruned(&float, &json!({"event_id": "$r"}), &RedactionRules::V9);
        assert_eq!(out["content"], json!({}));
        assert_eq!(out["unsigned"]["redacted_because"]["event_id"], "$r");
    }
}
