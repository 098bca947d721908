//! Room creation and membership endpoints.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::Json;
use axum::Router;
use plugin_sdk::SpamCheck;
use serde_json::{json, Map, Value};

use super::extract::{JsonBody, Requester};
use super::AppState;
use crate::error::{MatrixError, MatrixResult};
use crate::service::events::{random_id, NewEvent, SendOptions};
use crate::service::membership::Change;

/// # `POST /_matrix/client/v3/createRoom`
/// Third-party rules' `on_create_room` first (it may rewrite the request), then validation,
/// `user_may_create_room` (non-admins), alias and visibility checks, then the initial events.
pub(super) async fn create_room_route(
    State(state): State<AppState>,
    who: Requester,
    JsonBody(body): JsonBody<Value>,
) -> MatrixResult<Json<Value>> {
    crate::service::rooms::create_room(&state, &who, body)
        .await
        .map(Json)
}

fn reason(body: &Map<String, Value>) -> Option<&str> {
    body.get("reason").and_then(Value::as_str)
}

fn target(body: &Map<String, Value>) -> MatrixResult<String> {
    let raw = body.get("user_id").and_then(Value::as_str).ok_or_else(|| {
        MatrixError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "M_MISSING_PARAM",
            "Missing user_id",
        )
    })?;
    ruma_common::UserId::parse(raw)
        .map(|id| id.to_string())
        .map_err(|e| MatrixError::invalid_param(format!("Invalid user_id {raw:?}: {e}")))
}

/// # `POST /_matrix/client/v3/join/{roomIdOrAlias}`
pub(super) async fn join_route(
    State(state): State<AppState>,
    who: Requester,
    Path(target_room): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    if ruma_common::RoomOrAliasId::parse(&target_room).is_err() {
        return Err(MatrixError::invalid_param(format!(
            "{target_room:?} is neither a room ID nor a room alias"
        )));
    }
    let room_id = if target_room.starts_with('#') {
        state
            .store
            .resolve_alias(&target_room)
            .await?
            .map(|(r, _)| r)
            .ok_or_else(|| MatrixError::not_found("Room alias not found"))?
    } else {
        target_room
    };
    state
        .change_membership(
            &who,
            &room_id,
            &who.user_id.clone(),
            Change::Join,
            reason(&body),
        )
        .await?;
    Ok(Json(json!({ "room_id": room_id })))
}

/// # `POST /_matrix/client/v3/rooms/{roomId}/join`
pub(super) async fn room_join_route(
    state: State<AppState>,
    who: Requester,
    room: Path<String>,
    body: JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    join_route(state, who, room, body).await
}

/// # `POST /_matrix/client/v3/rooms/{roomId}/invite`
pub(super) async fn invite_route(
    State(state): State<AppState>,
    who: Requester,
    Path(room_id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    if body.contains_key("medium") || body.contains_key("address") {
        return threepid_invite(&state, &who, &room_id, &body).await;
    }
    state
        .change_membership(
            &who,
            &room_id,
            &target(&body)?,
            Change::Invite,
            reason(&body),
        )
        .await?;
    Ok(Json(json!({})))
}

/// # `POST /_matrix/client/v3/rooms/{roomId}/leave`
pub(super) async fn leave_route(
    State(state): State<AppState>,
    who: Requester,
    Path(room_id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    state
        .change_membership(
            &who,
            &room_id,
            &who.user_id.clone(),
            Change::Leave,
            reason(&body),
        )
        .await?;
    Ok(Json(json!({})))
}

/// # `POST /_matrix/client/v3/rooms/{roomId}/kick`
pub(super) async fn kick_route(
    State(state): State<AppState>,
    who: Requester,
    Path(room_id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    state
        .change_membership(&who, &room_id, &target(&body)?, Change::Kick, reason(&body))
        .await?;
    Ok(Json(json!({})))
}

/// # `POST /_matrix/client/v3/rooms/{roomId}/ban`
pub(super) async fn ban_route(
    State(state): State<AppState>,
    who: Requester,
    Path(room_id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    state
        .change_membership(&who, &room_id, &target(&body)?, Change::Ban, reason(&body))
        .await?;
    Ok(Json(json!({})))
}

/// # `POST /_matrix/client/v3/rooms/{roomId}/unban`
pub(super) async fn unban_route(
    State(state): State<AppState>,
    who: Requester,
    Path(room_id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    state
        .change_membership(
            &who,
            &room_id,
            &target(&body)?,
            Change::Unban,
            reason(&body),
        )
        .await?;
    Ok(Json(json!({})))
}

/// # `POST /_matrix/client/v3/rooms/{roomId}/forget`
pub(super) async fn forget_route(
    State(state): State<AppState>,
    who: Requester,
    Path(room_id): Path<String>,
) -> MatrixResult<Json<Value>> {
    state.forget_room(&who.user_id, &room_id).await?;
    Ok(Json(json!({})))
}

/// A third-party invite. modhost has no identity server, so every address counts as bound to
/// no Matrix ID: third-party rules' `check_threepid_can_be_invited`, then the spam checkers'
/// `user_may_send_3pid_invite`, then an `m.room.third_party_invite` event is stored.
async fn threepid_invite(
    state: &AppState,
    who: &Requester,
    room_id: &str,
    body: &Map<String, Value>,
) -> MatrixResult<Json<Value>> {
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let (Some(medium), Some(address)) = (field("medium"), field("address")) else {
        return Err(MatrixError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "M_MISSING_PARAM",
            "A third-party invite needs medium and address",
        ));
    };
    if state
        .store
        .membership(room_id, &who.user_id)
        .await?
        .as_deref()
        != Some("join")
    {
        return Err(MatrixError::forbidden(format!(
            "User {} not in room {room_id}",
            who.user_id
        )));
    }
    let current = Value::Array(state.store.current_state(room_id).await?).to_string();
    if !state
        .modules
        .check_threepid_can_be_invited(medium, address, &current)
        .await
    {
        return Err(MatrixError::forbidden(
            "This third-party identifier can not be invited in this room",
        ));
    }
    if let SpamCheck::Deny(d) = state
        .modules
        .user_may_send_3pid_invite(&who.user_id, medium, address, room_id)
        .await?
    {
        return Err(MatrixError::denied(d, "Cannot send threepid invite"));
    }
    let prefix = |s: &str| s.chars().take(3).collect::<String>();
    let masked = match address.split_once('@') {
        Some((local, domain)) => format!("{}...@{domain}", prefix(local)),
        None => format!("{}...", prefix(address)),
    };
    let token = random_id(24);
    let new = NewEvent {
        room_id,
        sender: &who.user_id,
        event_type: "m.room.third_party_invite",
        state_key: Some(&token),
        content: json!({"display_name": masked, "key_validity_url": "", "public_key": "", "public_keys": []}),
        txn: None,
    };
    // Authorised at the invite level (not state_default), spam-checked like any client event.
    let pl_event = state
        .store
        .state_event(room_id, "m.room.power_levels", "")
        .await?;
    let pl = crate::service::power::PowerLevels(pl_event.as_ref().map(|e| &e["content"]));
    if pl.user(&who.user_id) < pl.for_action("invite") {
        return Err(MatrixError::forbidden(
            "You don't have permission to invite users",
        ));
    }
    let opts = SendOptions {
        spam_check: true,
        skip_auth: true,
        shadow_banned: who.shadow_banned,
    };
    state.send_event(new, opts).await?;
    Ok(Json(json!({})))
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/_matrix/client/v3/createRoom", post(create_room_route))
        .route("/_matrix/client/v3/join/{room}", post(join_route))
        .route(
            "/_matrix/client/v3/rooms/{room}/join",
            post(room_join_route),
        )
        .route("/_matrix/client/v3/rooms/{room}/invite", post(invite_route))
        .route("/_matrix/client/v3/rooms/{room}/leave", post(leave_route))
        .route("/_matrix/client/v3/rooms/{room}/kick", post(kick_route))
        .route("/_matrix/client/v3/rooms/{room}/ban", post(ban_route))
        .route("/_matrix/client/v3/rooms/{room}/unban", post(unban_route))
        .route("/_matrix/client/v3/rooms/{room}/forget", post(forget_route))
}
