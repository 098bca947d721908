//! Room creation and membership endpoints.

use axum::extract::{Path, State};
use axum::Json;
use plugin_sdk::SpamCheck;
use serde_json::{json, Map, Value};

use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, Requester};
use super::AppState;
use crate::service::events::{random_id, NewEvent, SendOptions};
use crate::service::membership::Change;

const ROOM_VERSION: &str = "10";

/// # `POST /_matrix/client/v3/createRoom`
/// Third-party rules' `on_create_room` first (it may rewrite the request), then validation,
/// `user_may_create_room` (non-admins), alias and visibility checks, then the initial events.
pub(super) async fn create_room_route(
    State(state): State<AppState>,
    who: Requester,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    create_room(&state, &who, body).await.map(Json)
}

/// Create a room for `who` as `POST /createRoom` does (also the module API's `create_room`);
/// returns `{"room_id", "room_alias"?}`.
pub(crate) async fn create_room(
    state: &AppState,
    who: &Requester,
    body: Value,
) -> ApiResult<Value> {
    let body = state
        .modules
        .on_create_room(&who.user_id, body, who.is_admin)
        .await?;
    let preset = body.get("preset").and_then(Value::as_str).map(String::from);
    let visibility = body
        .get("visibility")
        .and_then(Value::as_str)
        .map(String::from);
    if let Some(v) = &visibility {
        if v != "public" && v != "private" {
            return Err(ApiError::bad_json(
                "visibility must be \"public\" or \"private\"",
            ));
        }
    }
    let preset = preset.unwrap_or_else(|| {
        if visibility.as_deref() == Some("public") {
            "public_chat"
        } else {
            "private_chat"
        }
        .into()
    });
    if !["private_chat", "public_chat", "trusted_private_chat"].contains(&preset.as_str()) {
        return Err(ApiError::bad_json(format!("unknown preset {preset:?}")));
    }
    let alias_name = body.get("room_alias_name").and_then(Value::as_str);
    let invites: Vec<String> = match body.get("invite") {
        None => Vec::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| ApiError::bad_json("invite must be a list of user IDs"))?,
    };
    let initial_state: Vec<Value> = match body.get("initial_state") {
        None => Vec::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| ApiError::bad_json("initial_state must be a list of events"))?,
    };

    if !who.is_admin {
        if let SpamCheck::Deny(d) = state
            .modules
            .user_may_create_room(&who.user_id, &body.to_string())
            .await?
        {
            return Err(ApiError::denied(d, "You are not permitted to create rooms"));
        }
    }
    let alias = match alias_name {
        Some(name) => {
            if name.is_empty() || name.contains(':') || name.contains(char::is_whitespace) {
                return Err(ApiError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "M_INVALID_PARAM",
                    "Invalid characters in room alias",
                ));
            }
            let alias = format!("#{name}:{}", state.config.server_name);
            if ruma_common::RoomAliasId::parse(&alias).is_err() {
                return Err(ApiError::invalid_param("Invalid characters in room alias"));
            }
            if let SpamCheck::Deny(d) = state
                .modules
                .user_may_create_room_alias(&who.user_id, &alias)
                .await?
            {
                return Err(ApiError::denied(
                    d,
                    "This user is not permitted to create this alias",
                ));
            }
            if state.store.resolve_alias(&alias).await?.is_some() {
                return Err(ApiError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "M_ROOM_IN_USE",
                    "Room alias already taken",
                ));
            }
            Some(alias)
        }
        None => None,
    };

    let room_id = format!("!{}:{}", random_id(18), state.config.server_name);
    // Asked for every new room, with "private" when the request names no visibility.
    let requested = visibility.as_deref().unwrap_or("private");
    if !state
        .modules
        .check_visibility_can_be_modified(&room_id, "[]", requested)
        .await
    {
        return Err(ApiError::forbidden("Room visibility value not allowed."));
    }
    state
        .store
        .create_room(&room_id, &who.user_id, ROOM_VERSION)
        .await?;

    let mut power = json!({
        "users": {who.user_id.clone(): 100}, "users_default": 0, "events_default": 0, "state_default": 50,
        "ban": 50, "kick": 50, "redact": 50, "invite": 0,
        "events": {"m.room.name": 50, "m.room.power_levels": 100, "m.room.history_visibility": 100,
                   "m.room.canonical_alias": 50, "m.room.avatar": 50, "m.room.tombstone": 100, "m.room.server_acl": 100,
                   "m.room.encryption": 100},
    });
    if preset == "trusted_private_chat" {
        for invitee in &invites {
            power["users"][invitee] = json!(100);
        }
    }
    if let Some(Value::Object(overrides)) = body.get("power_level_content_override") {
        for (k, v) in overrides {
            power[k] = v.clone();
        }
    }
    let join_rule = if preset == "public_chat" {
        "public"
    } else {
        "invite"
    };
    let mut creation: Vec<(String, String, Value)> = vec![
        (
            "m.room.create".into(),
            String::new(),
            json!({"creator": who.user_id, "room_version": ROOM_VERSION}),
        ),
        (
            "m.room.member".into(),
            who.user_id.clone(),
            json!({"membership": "join"}),
        ),
        ("m.room.power_levels".into(), String::new(), power),
        (
            "m.room.join_rules".into(),
            String::new(),
            json!({"join_rule": join_rule}),
        ),
        (
            "m.room.history_visibility".into(),
            String::new(),
            json!({"history_visibility": "shared"}),
        ),
    ];
    if let Some(alias) = &alias {
        creation.push((
            "m.room.canonical_alias".into(),
            String::new(),
            json!({"alias": alias}),
        ));
    }
    for ev in initial_state {
        let (Some(t), Some(content)) = (ev.get("type").and_then(Value::as_str), ev.get("content"))
        else {
            return Err(ApiError::bad_json(
                "each initial_state event needs a type and content",
            ));
        };
        let key = ev
            .get("state_key")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if t == "m.room.member" || t == "m.room.create" {
            return Err(ApiError::bad_json(format!(
                "initial_state may not contain {t} events"
            )));
        }
        if key.starts_with('@') && key != who.user_id {
            return Err(ApiError::forbidden(
                "initial_state may not use another user's ID as a state key",
            ));
        }
        creation.push((t.into(), key.into(), content.clone()));
    }
    for (field, event_type, key) in [
        ("name", "m.room.name", "name"),
        ("topic", "m.room.topic", "topic"),
    ] {
        if let Some(v) = body.get(field).and_then(Value::as_str) {
            creation.push((event_type.into(), String::new(), json!({ key: v })));
        }
    }
    for (event_type, state_key, mut content) in creation {
        if event_type == "m.room.member" {
            content = member_join_content(state, &who.user_id).await?;
        }
        let new = NewEvent {
            room_id: &room_id,
            sender: &who.user_id,
            event_type: &event_type,
            state_key: Some(&state_key),
            content,
            txn: None,
        };
        state
            .send_event(
                new,
                SendOptions {
                    skip_auth: true,
                    ..SendOptions::default()
                },
            )
            .await?;
    }
    if let Some(alias) = &alias {
        state
            .store
            .create_alias(alias, &room_id, &who.user_id)
            .await?;
    }
    let invite_kind = if body.get("is_direct") == Some(&Value::Bool(true)) {
        Change::DirectInviteAtCreation
    } else {
        Change::InviteAtCreation
    };
    for invitee in &invites {
        state
            .change_membership(who, &room_id, invitee, invite_kind, None)
            .await?;
    }
    if visibility.as_deref() == Some("public") {
        state.store.set_room_public(&room_id, true).await?;
    }
    let mut response = json!({ "room_id": room_id });
    if let Some(alias) = alias {
        response["room_alias"] = json!(alias);
    }
    Ok(response)
}

async fn member_join_content(state: &AppState, user_id: &str) -> ApiResult<Value> {
    let (displayname, avatar_url) = state.store.get_profile(user_id).await?;
    let mut content = json!({"membership": "join"});
    if let Some(d) = displayname {
        content["displayname"] = json!(d);
    }
    if let Some(a) = avatar_url {
        content["avatar_url"] = json!(a);
    }
    Ok(content)
}

fn reason(body: &Map<String, Value>) -> Option<&str> {
    body.get("reason").and_then(Value::as_str)
}

fn target(body: &Map<String, Value>) -> ApiResult<String> {
    let raw = body.get("user_id").and_then(Value::as_str).ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "M_MISSING_PARAM",
            "Missing user_id",
        )
    })?;
    ruma_common::UserId::parse(raw)
        .map(|id| id.to_string())
        .map_err(|e| ApiError::invalid_param(format!("Invalid user_id {raw:?}: {e}")))
}

/// # `POST /_matrix/client/v3/join/{roomIdOrAlias}`
pub(super) async fn join_route(
    State(state): State<AppState>,
    who: Requester,
    Path(target_room): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> ApiResult<Json<Value>> {
    if ruma_common::RoomOrAliasId::parse(&target_room).is_err() {
        return Err(ApiError::invalid_param(format!(
            "{target_room:?} is neither a room ID nor a room alias"
        )));
    }
    let room_id = if target_room.starts_with('#') {
        state
            .store
            .resolve_alias(&target_room)
            .await?
            .map(|(r, _)| r)
            .ok_or_else(|| ApiError::not_found("Room alias not found"))?
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
) -> ApiResult<Json<Value>> {
    join_route(state, who, room, body).await
}

/// # `POST /_matrix/client/v3/rooms/{roomId}/invite`
pub(super) async fn invite_route(
    State(state): State<AppState>,
    who: Requester,
    Path(room_id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> ApiResult<Json<Value>> {
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
) -> ApiResult<Json<Value>> {
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
) -> ApiResult<Json<Value>> {
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
) -> ApiResult<Json<Value>> {
    state
        .change_membership(&who, &room_id, &target(&body)?, Change::Ban, reason(&body))
        .await?;
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
) -> ApiResult<Json<Value>> {
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let (Some(medium), Some(address)) = (field("medium"), field("address")) else {
        return Err(ApiError::new(
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
        return Err(ApiError::forbidden(format!(
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
        return Err(ApiError::forbidden(
            "This third-party identifier can not be invited in this room",
        ));
    }
    if let SpamCheck::Deny(d) = state
        .modules
        .user_may_send_3pid_invite(&who.user_id, medium, address, room_id)
        .await?
    {
        return Err(ApiError::denied(d, "Cannot send threepid invite"));
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
        return Err(ApiError::forbidden(
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
