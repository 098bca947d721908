//! Creating and serialising events.

use plugin_sdk::{EventAllowed, SpamCheck};
use rand::distributions::{Alphanumeric, DistString};
use serde_json::{json, Map, Value};

use super::power::PowerLevels;
use super::redaction;
use crate::error::{MatrixError, MatrixResult};
use crate::state::AppState;
use crate::storage::{now_ms, ClientTxn};

/// An event a local user is about to send.
pub struct NewEvent<'a> {
    /// The room.
    pub room_id: &'a str,
    /// The sender.
    pub sender: &'a str,
    /// `type`.
    pub event_type: &'a str,
    /// `state_key` for state events.
    pub state_key: Option<&'a str>,
    /// `content`.
    pub content: Value,
    /// The client transaction to record with the event, if any.
    pub txn: Option<ClientTxn<'a>>,
}

/// How strictly to check an event.
#[derive(Clone, Copy, Default)]
pub struct SendOptions {
    /// Run `check_event_for_spam` (client-sent non-membership events).
    pub spam_check: bool,
    /// Skip the sender's membership and power checks (room creation, membership changes
    /// that did their own).
    pub skip_auth: bool,
    /// The sender is shadow-banned: pretend to send.
    pub shadow_banned: bool,
}

/// Largest event, in bytes of JSON (client-server spec v1.12 §"Size limits": 65,536).
pub const MAX_EVENT_BYTES: usize = 65_536;

/// Largest integer canonical JSON allows (2^53 − 1), and its negative.
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Event content must be canonical JSON in the room versions modhost creates (v6 and later):
/// no floats, integers within ±(2^53 − 1). 400 `M_BAD_JSON` with Synapse's messages.
fn check_canonical(value: &Value) -> MatrixResult<()> {
    match value {
        Value::Number(n) => match n.as_i64() {
            Some(i) if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i) => Ok(()),
            Some(_) => Err(MatrixError::bad_json("JSON integer out of range")),
            None if n.is_u64() => Err(MatrixError::bad_json("JSON integer out of range")),
            None => Err(MatrixError::bad_json("Bad JSON value: float")),
        },
        Value::Array(items) => items.iter().try_for_each(check_canonical),
        Value::Object(map) => map.values().try_for_each(check_canonical),
        _ => Ok(()),
    }
}

/// A random opaque identifier.
pub fn random_id(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), len)
}

impl AppState {
    /// Create, check and store an event: third-party rules' `check_event_allowed`, then (for
    /// client non-membership events) `check_event_for_spam`, then persist, wake `/sync`, and
    /// tell `on_new_event` modules. Returns the event ID.
    pub async fn send_event(&self, new: NewEvent<'_>, opts: SendOptions) -> MatrixResult<String> {
        check_canonical(&new.content)?;
        if new.event_type == "m.room.power_levels" {
            super::power::check_integer_levels(&new.content)?;
        }
        if !opts.skip_auth {
            self.authorise_event(&new).await?;
        }
        let mut event = self.build_event(&new).await?;

        if !self
            .modules
            .chain(plugin_sdk::catalogue::Hook::CheckEventAllowed)
            .is_empty()
        {
            let state = Value::Array(self.store.current_state(new.room_id).await?).to_string();
            match self
                .modules
                .check_event_allowed(&event.to_string(), &state)
                .await?
            {
                EventAllowed::Allow => {}
                EventAllowed::Deny => {
                    return Err(MatrixError::forbidden(
                        "This event is not allowed in this context",
                    ))
                }
                // The module's replacement content is kept; identity fields stay the server's.
                EventAllowed::Replace(replacement) => {
                    if let Some(content) = replacement.get("content") {
                        event["content"] = content.clone();
                    }
                }
            }
        }
        if opts.spam_check && new.event_type != "m.room.member" {
            if let SpamCheck::Deny(denial) = self
                .modules
                .check_event_for_spam(&event.to_string())
                .await?
            {
                return Err(MatrixError::denied(
                    denial,
                    "This message has been rejected as probable spam",
                ));
            }
        }
        let event_id = event["event_id"].as_str().unwrap_or_default().to_string();
        if opts.shadow_banned && new.event_type != "m.room.member" {
            return Ok(event_id);
        }
        let position = self.persist(&event, new.txn).await?;
        // Before waking /sync, so the event and its unread counts arrive together.
        super::push_eval::on_new_event(self, &event, position).await;
        self.wake_room(new.room_id);
        // A membership change concerns its target even when they are no longer a member.
        if let (Some("m.room.member"), Some(target)) =
            (event["type"].as_str(), event["state_key"].as_str())
        {
            self.wake_user(target);
        }
        if !self
            .modules
            .chain(plugin_sdk::catalogue::Hook::OnNewEvent)
            .is_empty()
        {
            let state_after =
                Value::Array(self.store.current_state(new.room_id).await?).to_string();
            let (modules, text) = (self.modules.clone(), event.to_string());
            tokio::spawn(async move { modules.on_new_event(&text, &state_after).await });
        }
        Ok(event_id)
    }

    /// The event `new` describes, as it will be stored: identity fields, `state_key` with what
    /// it replaces, `redacts` for a redaction. 413 `M_TOO_LARGE` over [`MAX_EVENT_BYTES`] or
    /// with a field over 255 bytes.
    async fn build_event(&self, new: &NewEvent<'_>) -> MatrixResult<Value> {
        let mut event = json!({
            "type": new.event_type,
            "room_id": new.room_id,
            "sender": new.sender,
            "content": new.content,
            "origin_server_ts": now_ms(),
            "event_id": format!("${}", random_id(43)),
        });
        if let Some(key) = new.state_key {
            event["state_key"] = json!(key);
            if let Some(unsigned) = self.replaced_state(new, key).await? {
                event["unsigned"] = unsigned;
            }
        }
        // Room versions up to 10 read `redacts` at the top level, 11 in `content`: both are set.
        if let Some(target) = redaction::redacts_of(new.event_type, None, &event["content"]) {
            event["redacts"] = json!(target);
        }
        super::event_limits::check_field_sizes(&event)?;
        if event.to_string().len() > MAX_EVENT_BYTES {
            return Err(MatrixError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "M_TOO_LARGE",
                "event too large",
            ));
        }
        Ok(event)
    }

    /// The server's `unsigned` fields of a state event that replaces earlier state
    /// (client-server spec v1.12 §"Room event format"): `replaces_state` (its event ID),
    /// `prev_content` and `prev_sender`; `None` for the first event of its `(type, state_key)`.
    async fn replaced_state(&self, new: &NewEvent<'_>, key: &str) -> MatrixResult<Option<Value>> {
        let previous = self
            .store
            .state_event(new.room_id, new.event_type, key)
            .await?;
        Ok(previous.map(|old| {
            json!({
                "replaces_state": old["event_id"],
                "prev_content": old["content"],
                "prev_sender": old["sender"],
            })
        }))
    }

    /// Store `event` (recording the client transaction `txn`); a redaction replaces its
    /// target by the redacted form in the same database transaction. Returns its stream
    /// position.
    async fn persist(&self, event: &Value, txn: Option<ClientTxn<'_>>) -> MatrixResult<i64> {
        let event_type = event["type"].as_str().unwrap_or_default();
        let target = redaction::redacts_of(event_type, event.get("redacts"), &event["content"]);
        let redacted = match &target {
            Some(id) => self.redacted_target(event, id).await?,
            None => None,
        };
        let pruned = target.as_deref().zip(redacted.as_ref());
        Ok(self.store.persist_event_full(event, txn, pruned).await?)
    }

    /// The sender must be joined and powerful enough.
    async fn authorise_event(&self, new: &NewEvent<'_>) -> MatrixResult<()> {
        if self.store.is_room_blocked(new.room_id).await? {
            return Err(MatrixError::forbidden(
                "This room has been blocked on this server",
            ));
        }
        if let Some(key) = new.state_key {
            if key.starts_with('@') && key != new.sender {
                return Err(MatrixError::forbidden(
                    "You can only set state keyed by your own user ID",
                ));
            }
        }
        if self
            .store
            .membership(new.room_id, new.sender)
            .await?
            .as_deref()
            != Some("join")
        {
            return Err(MatrixError::forbidden(format!(
                "User {} not in room {}",
                new.sender, new.room_id
            )));
        }
        let pl_event = self
            .store
            .state_event(new.room_id, "m.room.power_levels", "")
            .await?;
        let pl = PowerLevels(pl_event.as_ref().map(|e| &e["content"]));
        if pl.user(new.sender) < pl.for_event(new.event_type, new.state_key.is_some()) {
            return Err(MatrixError::forbidden(format!(
                "You don't have permission to send {} events",
                new.event_type
            )));
        }
        if new.event_type == "m.room.power_levels" {
            escalation_check(&pl, new.sender, &new.content)?;
        }
        if let Some(target) = redaction::redacts_of(new.event_type, None, &new.content) {
            self.authorise_redaction(new.room_id, new.sender, &target, &pl)
                .await?;
        }
        Ok(())
    }

    /// An event as `viewer` (a user ID) sees it: with `unsigned` holding the server's fields
    /// (`age`, `redacted_because`, the `m.relations` aggregations) and what modules add (never
    /// overwriting the server's).
    pub async fn serialize_event(&self, event: &Value, viewer: &str) -> MatrixResult<Value> {
        let relations = self.bundled_relations(event, viewer).await?;
        self.serialize_with_relations(event, relations).await
    }

    /// [`AppState::serialize_event`] with the `m.relations` bundle already built.
    async fn serialize_with_relations(
        &self,
        event: &Value,
        relations: Option<Value>,
    ) -> MatrixResult<Value> {
        let mut out = self.serialize_plain(event);
        let mut unsigned = match out["unsigned"].take() {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        if let Some(relations) = relations {
            unsigned.insert("m.relations".into(), relations);
        }
        self.modules
            .add_fields_to_unsigned(&event.to_string(), &mut unsigned)
            .await?;
        out["unsigned"] = Value::Object(unsigned);
        Ok(out)
    }

    /// `events` as `user_id`'s device `device_id` sees them: [`AppState::serialize_event`],
    /// plus `unsigned.transaction_id` on the events this device sent (client-server spec
    /// v1.12 §"Transaction identifiers"), looked up in one query, as are the relation counts
    /// behind `m.relations`.
    pub async fn serialize_events_for_device(
        &self,
        events: &[&Value],
        user_id: &str,
        device_id: &str,
    ) -> MatrixResult<Vec<Value>> {
        let own: Vec<&str> = events
            .iter()
            .filter(|e| e["sender"] == user_id)
            .filter_map(|e| e["event_id"].as_str())
            .collect();
        let txn_ids = self.store.transaction_ids(&own, device_id).await?;
        let ids: Vec<&str> = events
            .iter()
            .filter_map(|e| e["event_id"].as_str())
            .collect();
        let mut counts = self.store.relation_counts_many(&ids).await?;
        let mut out = Vec::with_capacity(events.len());
        for event in events {
            let counts = event["event_id"]
                .as_str()
                .and_then(|id| counts.remove(id))
                .unwrap_or_default();
            let relations = self.bundle_relations(event, user_id, counts).await?;
            let mut served = self.serialize_with_relations(event, relations).await?;
            if let Some(txn_id) = event["event_id"].as_str().and_then(|id| txn_ids.get(id)) {
                served["unsigned"]["transaction_id"] = json!(txn_id);
            }
            out.push(served);
        }
        Ok(out)
    }

    /// `event` with the server's own `unsigned` fields only (`age`, and `redacted_because`
    /// for a redacted event); `null` stays `null`.
    pub fn serialize_plain(&self, event: &Value) -> Value {
        if !event.is_object() {
            return event.clone();
        }
        let mut out = event.clone();
        let mut unsigned = match out["unsigned"].take() {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        if let Some(ts) = event.get("origin_server_ts").and_then(Value::as_i64) {
            unsigned.insert("age".into(), json!((now_ms() - ts).max(0)));
        }
        out["unsigned"] = Value::Object(unsigned);
        out
    }
}

/// The room-version rule for power-level changes: nobody may set anything above their own
/// level, change an action level that is above it, or change another user whose level is at
/// or above it.
fn escalation_check(old: &PowerLevels<'_>, sender: &str, new: &Value) -> MatrixResult<()> {
    let mine = old.user(sender);
    let refuse = |what: &str| {
        Err(MatrixError::forbidden(format!(
            "You cannot change {what} beyond your own power level"
        )))
    };
    let before = old.0.cloned().unwrap_or(Value::Null);
    let ints = |v: &Value, key: &str| v.get(key).and_then(Value::as_i64);
    for key in [
        "users_default",
        "events_default",
        "state_default",
        "ban",
        "kick",
        "redact",
        "invite",
    ] {
        let (was, now) = (ints(&before, key), ints(new, key));
        if was != now && (was.unwrap_or(0) > mine || now.unwrap_or(0) > mine) {
            return refuse(key);
        }
    }
    for map in ["users", "events"] {
        let empty = serde_json::Map::new();
        let old_map = before.get(map).and_then(Value::as_object).unwrap_or(&empty);
        let new_map = new.get(map).and_then(Value::as_object).unwrap_or(&empty);
        for key in old_map.keys().chain(new_map.keys()) {
            let (was, now) = (
                old_map.get(key).and_then(Value::as_i64),
                new_map.get(key).and_then(Value::as_i64),
            );
            if was == now {
                continue;
            }
            let was = was.unwrap_or(0);
            // Another user at or above the sender's level is out of reach; an action level is
            // out of reach only when above it.
            let untouchable = if map == "users" {
                key != sender && was >= mine
            } else {
                was > mine
            };
            if now.unwrap_or(0) > mine || untouchable {
                return refuse(&format!("{map}.{key}"));
            }
        }
    }
    Ok(())
}
