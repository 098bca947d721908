//! Send-to-device messaging (spec §"Send-to-Device messaging") and the encryption parts of
//! `/sync`: `to_device`, `device_lists`, `device_one_time_keys_count` and
//! `device_unused_fallback_key_types`.

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use crate::error::{MatrixError, MatrixResult};
use crate::service::auth::Requester;
use crate::service::sync::{Since, SyncRequest};
use crate::state::AppState;
use crate::storage::ToDeviceRow;

/// How far each device's delivered to-device messages were deleted (`(user, device)` →
/// stream position), so a `/sync` whose token confirms nothing new skips the delete.
#[derive(Default)]
pub struct Acks(std::sync::Mutex<std::collections::HashMap<(String, String), i64>>);

impl Acks {
    /// Whether messages up to `upto` may still need deleting for the device; records `upto`
    /// as done when so (the caller deletes them).
    fn needs_ack(&self, user_id: &str, device_id: &str, upto: i64) -> bool {
        let mut acks = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let key = (user_id.to_string(), device_id.to_string());
        match acks.get(&key) {
            Some(done) if *done >= upto => false,
            _ => {
                acks.insert(key, upto);
                true
            }
        }
    }
}

/// Most to-device messages one `/sync` carries (as Synapse); the rest come with the next.
const SYNC_LIMIT: usize = 100;

/// `PUT /sendToDevice/{eventType}/{txnId}`: queue `body.messages` (`{user_id: {device_id
/// or "*": content}}`) for local devices and wake their `/sync`s. Idempotent per access
/// token and `txn_id`. Remote users are skipped (no federation). Errors: 400
/// `M_MISSING_PARAM` without `messages`, 400 `M_BAD_JSON` when it is not an object of
/// objects, 400 `M_INVALID_PARAM` for an invalid user ID.
pub async fn send(
    state: &AppState,
    who: &Requester,
    event_type: &str,
    txn_id: &str,
    body: &Map<String, Value>,
) -> MatrixResult<Value> {
    let key = format!("sendToDevice/{event_type}/{txn_id}");
    let _guard = state.txn_lock(&who.token_hash, &key).await;
    if state
        .store
        .txn_event(&who.token_hash, &key)
        .await?
        .is_some()
    {
        return Ok(json!({}));
    }
    let Some(messages) = body.get("messages") else {
        return Err(MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_MISSING_PARAM",
            "Missing params: ['messages']",
        ));
    };
    let Some(messages) = messages.as_object() else {
        return Err(MatrixError::bad_json("messages must be an object"));
    };
    let mut rows = Vec::new();
    for (user_id, by_device) in messages {
        let Ok(user) = <&ruma_common::UserId>::try_from(user_id.as_str()) else {
            return Err(MatrixError::invalid_param(format!(
                "Invalid user ID {user_id}"
            )));
        };
        let Some(by_device) = by_device.as_object() else {
            return Err(MatrixError::bad_json(format!(
                "messages.{user_id} must be an object"
            )));
        };
        if user.server_name().as_str() != state.config.server_name {
            continue;
        }
        for (device_id, content) in by_device {
            let message =
                json!({"sender": who.user_id, "type": event_type, "content": content}).to_string();
            let devices = if device_id == "*" {
                state
                    .store
                    .devices(user_id)
                    .await?
                    .into_iter()
                    .map(|(d, _)| d)
                    .collect()
            } else {
                vec![device_id.clone()]
            };
            rows.extend(devices.into_iter().map(|device_id| ToDeviceRow {
                user_id: user_id.clone(),
                device_id,
                message_json: message.clone(),
            }));
        }
    }
    if state.store.add_to_device(&rows).await? > 0 {
        let users: std::collections::BTreeSet<&String> = rows.iter().map(|r| &r.user_id).collect();
        let users = users.into_iter().cloned().collect();
        state.wake(crate::service::notifier::Wake::Users(users));
    }
    state.store.record_txn(&who.token_hash, &key, "").await?;
    Ok(json!({}))
}

/// The encryption sections of a `/sync` body, and whether they hold news (messages or
/// device-list changes). Messages up to the token's position are deleted first: the client
/// holding that token has them. Lowers `now.to_device` when more messages wait than one
/// response carries.
pub async fn sync_sections(
    state: &AppState,
    req: &SyncRequest<'_>,
    now: &mut Since,
) -> MatrixResult<(Map<String, Value>, bool)> {
    let (user, device) = (req.user_id, req.device_id);
    let since = req.since.unwrap_or_default();
    if req.since.is_some()
        && since.to_device > 0
        && state
            .to_device_acks
            .needs_ack(user, device, since.to_device)
    {
        state
            .store
            .ack_to_device(user, device, since.to_device)
            .await?;
    }
    let messages = if now.to_device > since.to_device {
        let window = (since.to_device, now.to_device);
        let limit = SYNC_LIMIT as i64;
        (state.store)
            .to_device_messages(user, device, window, limit)
            .await?
    } else {
        Vec::new()
    };
    if messages.len() == SYNC_LIMIT {
        now.to_device = messages.last().map_or(now.to_device, |(id, _)| *id);
    }
    let events: Vec<Value> = messages
        .iter()
        .filter_map(|(_, m)| serde_json::from_str(m).ok())
        .collect();
    let (changed, left) = match req.since {
        // Device lists change with device-list updates and with memberships (events).
        Some(since) if since.device_lists < now.device_lists || since.events < now.events => {
            crate::service::device_lists::changes(state, user, &since, now).await?
        }
        _ => (Vec::new(), Vec::new()),
    };
    let has_updates = !events.is_empty() || !changed.is_empty() || !left.is_empty();
    let mut counts = state.store.count_one_time_keys(user, device).await?;
    counts.entry("signed_curve25519".into()).or_insert(0);
    let fallback = state.store.unused_fallback_key_types(user, device).await?;
    let mut sections = Map::new();
    sections.insert("to_device".into(), json!({"events": events}));
    sections.insert(
        "device_lists".into(),
        json!({"changed": changed, "left": left}),
    );
    sections.insert("device_one_time_keys_count".into(), json!(counts));
    sections.insert("device_unused_fallback_key_types".into(), json!(fallback));
    sections.insert(
        "org.matrix.msc2732.device_unused_fallback_key_types".into(),
        json!(fallback),
    );
    Ok((sections, has_updates))
}
