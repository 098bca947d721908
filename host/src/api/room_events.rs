//! Sending and reading room events and state.

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::Json;
use axum::Router;
use plugin_sdk::SpamCheck;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{JsonBody, MatrixQuery, Requester};
use super::AppState;
use crate::error::{MatrixError, MatrixResult};
use crate::service::events::{NewEvent, SendOptions};
use crate::service::filters;
use crate::service::pagination::{self, MessagesRequest};
use crate::storage::ClientTxn;

/// The requester must be joined to read the room.
async fn must_be_joined(state: &AppState, room_id: &str, user_id: &str) -> MatrixResult<()> {
    if state.store.is_room_blocked(room_id).await? {
        return Err(MatrixError::forbidden(
            "This room has been blocked on this server",
        ));
    }
    crate::service::rooms::require_joined(state, room_id, user_id).await
}

/// The requester may read the room's history: a member, or a former member up to their
/// leaving (as Synapse lets departed users read), not once they forgot the room; anyone in a
/// `world_readable` room. 403 otherwise, as for a stranger.
async fn may_read(state: &AppState, room_id: &str, user_id: &str) -> MatrixResult<()> {
    if state.store.is_room_blocked(room_id).await? {
        return Err(MatrixError::forbidden(
            "This room has been blocked on this server",
        ));
    }
    if crate::service::pagination::visible_range(state, room_id, user_id)
        .await?
        .is_none()
    {
        return Err(MatrixError::forbidden(format!(
            "User {user_id} not in room {room_id}"
        )));
    }
    Ok(())
}

/// # `PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}`
/// Idempotent per access token and transaction ID.
pub(super) async fn send_route(
    State(state): State<AppState>,
    who: Requester,
    Path((room_id, event_type, txn_id)): Path<(String, String, String)>,
    JsonBody(content): JsonBody<Value>,
) -> MatrixResult<Json<Value>> {
    let key = format!("{room_id}/{event_type}/{txn_id}");
    send_once(
        &state,
        &who,
        (&room_id, &event_type),
        content,
        (&key, &txn_id),
    )
    .await
}

/// Send a client's message-like event of `event_type` into `room_id` once per access token
/// and idempotency `key` (the client's transaction ID is `txn_id`): concurrent retries of one
/// transaction produce one event, and a retry after success gets the same ID.
async fn send_once(
    state: &AppState,
    who: &Requester,
    (room_id, event_type): (&str, &str),
    content: Value,
    (key, txn_id): (&str, &str),
) -> MatrixResult<Json<Value>> {
    // Scoped to the request path, as Synapse does.
    let _guard = state.txn_lock(&who.token_hash, key).await;
    if let Some(event_id) = state.store.txn_event(&who.token_hash, key).await? {
        return Ok(Json(json!({ "event_id": event_id })));
    }
    let new = NewEvent {
        room_id,
        sender: &who.user_id,
        event_type,
        state_key: None,
        content,
        txn: Some(ClientTxn {
            token_hash: &who.token_hash,
            key,
            device_id: &who.device_id,
            txn_id,
        }),
    };
    let opts = SendOptions {
        spam_check: true,
        shadow_banned: who.shadow_banned,
        ..SendOptions::default()
    };
    let event_id = state.send_event(new, opts).await?;
    Ok(Json(json!({ "event_id": event_id })))
}

/// # `PUT /_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId}`
/// An `m.room.redaction` event (body: optional `reason`) through the usual event checks
/// (`check_event_allowed`, `check_event_for_spam`, `on_new_event`) and the redaction power
/// rules; the target is served redacted from then on. Idempotent per token and `txnId`.
pub(super) async fn redact_route(
    State(state): State<AppState>,
    who: Requester,
    Path((room_id, event_id, txn_id)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<serde_json::Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    if ruma_common::EventId::parse(&event_id).is_err() {
        return Err(MatrixError::invalid_param(format!(
            "Invalid event ID: {event_id}"
        )));
    }
    let mut content = json!({ "redacts": event_id });
    if let Some(reason) = body.get("reason") {
        let reason = reason
            .as_str()
            .ok_or_else(|| MatrixError::bad_json("reason must be a string"))?;
        content["reason"] = json!(reason);
    }
    let key = format!("{room_id}/redact/{event_id}/{txn_id}");
    let kind = (room_id.as_str(), "m.room.redaction");
    send_once(&state, &who, kind, content, (&key, &txn_id)).await
}

/// # `PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}`
/// `user_may_send_state_event` (non-admins), then the usual event checks.
pub(super) async fn put_state_route(
    State(state): State<AppState>,
    who: Requester,
    Path((room_id, event_type, state_key)): Path<(String, String, String)>,
    JsonBody(content): JsonBody<Value>,
) -> MatrixResult<Json<Value>> {
    put_state(state, who, room_id, event_type, state_key, content).await
}

/// # `PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}` (empty state key)
pub(super) async fn put_state_empty_key_route(
    State(state): State<AppState>,
    who: Requester,
    Path((room_id, event_type)): Path<(String, String)>,
    JsonBody(content): JsonBody<Value>,
) -> MatrixResult<Json<Value>> {
    put_state(state, who, room_id, event_type, String::new(), content).await
}

async fn put_state(
    state: AppState,
    who: Requester,
    room_id: String,
    event_type: String,
    state_key: String,
    content: Value,
) -> MatrixResult<Json<Value>> {
    if event_type == "m.room.member" {
        return Err(MatrixError::bad_json(
            "Use the membership endpoints (join, invite, leave, kick, ban) to change membership",
        ));
    }
    if !who.is_admin {
        let verdict = state
            .modules
            .user_may_send_state_event(
                &who.user_id,
                &room_id,
                &event_type,
                &state_key,
                &content.to_string(),
            )
            .await?;
        if let SpamCheck::Deny(d) = verdict {
            return Err(MatrixError::denied(
                d,
                "You are not permitted to send the state event",
            ));
        }
    }
    let new = NewEvent {
        room_id: &room_id,
        sender: &who.user_id,
        event_type: &event_type,
        state_key: Some(&state_key),
        content,
        txn: None,
    };
    let opts = SendOptions {
        spam_check: true,
        shadow_banned: who.shadow_banned,
        ..SendOptions::default()
    };
    let event_id = state.send_event(new, opts).await?;
    Ok(Json(json!({ "event_id": event_id })))
}

/// # `GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}`
pub(super) async fn get_state_route(
    State(state): State<AppState>,
    who: Requester,
    Path((room_id, event_type, state_key)): Path<(String, String, String)>,
) -> MatrixResult<Json<Value>> {
    get_state_event(state, who, room_id, event_type, state_key).await
}

/// # `GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}` (empty state key)
pub(super) async fn get_state_empty_key_route(
    State(state): State<AppState>,
    who: Requester,
    Path((room_id, event_type)): Path<(String, String)>,
) -> MatrixResult<Json<Value>> {
    get_state_event(state, who, room_id, event_type, String::new()).await
}

async fn get_state_event(
    state: AppState,
    who: Requester,
    room_id: String,
    event_type: String,
    state_key: String,
) -> MatrixResult<Json<Value>> {
    must_be_joined(&state, &room_id, &who.user_id).await?;
    let event = state
        .store
        .state_event(&room_id, &event_type, &state_key)
        .await?
        .ok_or_else(|| MatrixError::not_found("Event not found."))?;
    Ok(Json(event["content"].clone()))
}

/// # `GET /_matrix/client/v3/rooms/{roomId}/state`
pub(super) async fn all_state_route(
    State(state): State<AppState>,
    who: Requester,
    Path(room_id): Path<String>,
) -> MatrixResult<Json<Value>> {
    must_be_joined(&state, &room_id, &who.user_id).await?;
    let mut out = Vec::new();
    for ev in state.store.current_state(&room_id).await? {
        out.push(state.serialize_event(&ev, &who.user_id).await?);
    }
    Ok(Json(Value::Array(out)))
}

/// # `GET /_matrix/client/v3/rooms/{roomId}/event/{eventId}`
pub(super) async fn get_event_route(
    State(state): State<AppState>,
    who: Requester,
    Path((room_id, event_id)): Path<(String, String)>,
) -> MatrixResult<Json<Value>> {
    may_read(&state, &room_id, &who.user_id).await?;
    let stored = state
        .store
        .get_event(&event_id)
        .await?
        .filter(|e| e.json["room_id"] == room_id.as_str());
    let mut visible = None;
    if let Some(e) = stored {
        let position = e.stream_ordering;
        if crate::service::pagination::can_see(&state, &room_id, &who.user_id, position).await? {
            visible = Some(e);
        }
    }
    let stored = visible.ok_or_else(|| MatrixError::not_found("Event not found."))?;
    Ok(Json(
        state
            .serialize_events_for_device(&[&stored.json], &who.user_id, &who.device_id)
            .await?
            .remove(0),
    ))
}

#[derive(Deserialize)]
pub(super) struct MessagesQuery {
    from: Option<String>,
    dir: Option<String>,
    limit: Option<i64>,
    filter: Option<String>,
}

/// Where pagination starts. `t<pos>` tokens (from `/messages`) point *at* an event already
/// returned, so paging excludes it. `s<pos>_…` tokens (from `/sync`) mean "everything up to
/// and including pos has been seen", so paging backwards from one includes `pos` itself.
pub(super) fn parse_position(token: &str, backwards: bool) -> Option<i64> {
    if let Some(digits) = token.strip_prefix('t') {
        return digits.parse().ok();
    }
    let pos: i64 = token.strip_prefix('s')?.split('_').next()?.parse().ok()?;
    Some(if backwards { pos + 1 } else { pos })
}

/// # `GET /_matrix/client/v3/rooms/{roomId}/messages`
pub(super) async fn messages_route(
    State(state): State<AppState>,
    who: Requester,
    Path(room_id): Path<String>,
    MatrixQuery(q): MatrixQuery<MessagesQuery>,
) -> MatrixResult<Json<Value>> {
    may_read(&state, &room_id, &who.user_id).await?;
    let backwards = q.dir.as_deref() != Some("f");
    let from = match q.from.as_deref() {
        Some(t) => Some(
            parse_position(t, backwards)
                .ok_or_else(|| MatrixError::invalid_param("Invalid from token"))?,
        ),
        None => None,
    };
    let req = MessagesRequest {
        user_id: &who.user_id,
        device_id: &who.device_id,
        room_id: &room_id,
        from,
        backwards,
        limit: q.limit.unwrap_or(10).clamp(1, 1000),
        filter: filters::room_event_filter(q.filter.as_deref())?,
    };
    pagination::messages(&state, req).await.map(Json)
}

/// # `GET /_matrix/client/v3/rooms/{roomId}/members`
pub(super) async fn members_route(
    State(state): State<AppState>,
    who: Requester,
    Path(room_id): Path<String>,
) -> MatrixResult<Json<Value>> {
    must_be_joined(&state, &room_id, &who.user_id).await?;
    let mut chunk = Vec::new();
    for ev in state.store.current_state(&room_id).await? {
        if ev["type"] == "m.room.member" {
            chunk.push(state.serialize_event(&ev, &who.user_id).await?);
        }
    }
    Ok(Json(json!({ "chunk": chunk })))
}

/// # `GET /_matrix/client/v3/rooms/{roomId}/joined_members`
/// `{"joined": {user_id: {display_name, avatar_url}}}` for members of a room the requester
/// is in.
pub(super) async fn joined_members_route(
    State(state): State<AppState>,
    who: Requester,
    Path(room_id): Path<String>,
) -> MatrixResult<Json<Value>> {
    must_be_joined(&state, &room_id, &who.user_id).await?;
    let mut joined = serde_json::Map::new();
    for ev in state.store.current_state(&room_id).await? {
        if ev["type"] == "m.room.member" && ev["content"]["membership"] == "join" {
            let user = ev["state_key"].as_str().unwrap_or_default().to_string();
            let profile = json!({
                "display_name": ev["content"]["displayname"],
                "avatar_url": ev["content"]["avatar_url"],
            });
            joined.insert(user, profile);
        }
    }
    Ok(Json(json!({ "joined": joined })))
}

/// # `GET /_matrix/client/v3/joined_rooms`
pub(super) async fn joined_rooms_route(
    State(state): State<AppState>,
    who: Requester,
) -> MatrixResult<Json<Value>> {
    let rooms: Vec<String> = state
        .store
        .rooms_of(&who.user_id)
        .await?
        .into_iter()
        .filter(|(_, membership)| membership == "join")
        .map(|(room_id, _)| room_id)
        .collect();
    Ok(Json(json!({ "joined_rooms": rooms })))
}

#[derive(Deserialize)]
pub(super) struct TimestampQuery {
    ts: i64,
    dir: String,
}

/// # `GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event?ts=…&dir=f|b`
/// `{event_id, origin_server_ts}` of the visible event closest to `ts` (ms) in `dir`.
pub(super) async fn timestamp_to_event_route(
    State(state): State<AppState>,
    who: Requester,
    Path(room_id): Path<String>,
    MatrixQuery(q): MatrixQuery<TimestampQuery>,
) -> MatrixResult<Json<Value>> {
    must_be_joined(&state, &room_id, &who.user_id).await?;
    let forwards = match q.dir.as_str() {
        "f" => true,
        "b" => false,
        other => {
            return Err(MatrixError::invalid_param(format!(
                "Unknown dir value: {other} (expected 'f' or 'b')"
            )))
        }
    };
    let (event_id, ts) = state
        .timestamp_to_event(&room_id, &who.user_id, q.ts, forwards)
        .await?;
    Ok(Json(
        json!({ "event_id": event_id, "origin_server_ts": ts }),
    ))
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/_matrix/client/v3/joined_rooms", get(joined_rooms_route))
        .route(
            "/_matrix/client/v1/rooms/{room}/timestamp_to_event",
            get(timestamp_to_event_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/joined_members",
            get(joined_members_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/send/{event_type}/{txn}",
            put(send_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/redact/{event_id}/{txn}",
            put(redact_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/state/{event_type}/{state_key}",
            put(put_state_route).get(get_state_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/state/{event_type}",
            put(put_state_empty_key_route).get(get_state_empty_key_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/state",
            get(all_state_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/event/{event_id}",
            get(get_event_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/messages",
            get(messages_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/members",
            get(members_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/state/{event_type}/",
            put(put_state_empty_key_route).get(get_state_empty_key_route),
        )
}
