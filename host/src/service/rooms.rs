//! Creating rooms (spec §"Creation", `POST /createRoom`) with the module checks Synapse runs
//! there, in Synapse's order: third-party rules' `on_create_room` (which may rewrite the
//! request), validation, `user_may_create_room` (not for server admins), the alias check
//! `user_may_create_room_alias`, `check_visibility_can_be_modified`, then the initial events
//! (each through the event checks) and the invites. The client API and the module API's
//! `create_room` both come here.

use plugin_sdk::SpamCheck;
use serde_json::{json, Value};

use crate::error::{MatrixError, MatrixResult};
use crate::service::auth::Requester;
use crate::service::events::{random_id, NewEvent, SendOptions};
use crate::service::membership::Change;
use crate::state::AppState;

/// The room version new rooms get.
pub const ROOM_VERSION: &str = "10";

/// What a `/createRoom` body asks for, validated.
struct CreateRequest {
    preset: String,
    visibility: Option<String>,
    alias_name: Option<String>,
    invites: Vec<String>,
    /// `(type, state_key, content)` of `initial_state`.
    initial_state: Vec<(String, String, Value)>,
}

/// One state event to send at creation: `(type, state_key, content)`.
type InitialEvent = (String, String, Value);

impl CreateRequest {
    /// Read `body` (after `on_create_room`): 400 `M_BAD_JSON` for a bad visibility, preset,
    /// invite list or `initial_state`; 403 for an `initial_state` keyed on another user.
    fn parse(body: &Value, creator: &str) -> MatrixResult<CreateRequest> {
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(String::from);
        let visibility = text("visibility");
        if visibility
            .as_deref()
            .is_some_and(|v| v != "public" && v != "private")
        {
            return Err(MatrixError::bad_json(
                "visibility must be \"public\" or \"private\"",
            ));
        }
        let preset = text("preset").unwrap_or_else(|| {
            match visibility.as_deref() {
                Some("public") => "public_chat",
                _ => "private_chat",
            }
            .into()
        });
        if !["private_chat", "public_chat", "trusted_private_chat"].contains(&preset.as_str()) {
            return Err(MatrixError::bad_json(format!("unknown preset {preset:?}")));
        }
        let invites: Vec<String> = match body.get("invite") {
            None => Vec::new(),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|_| MatrixError::bad_json("invite must be a list of user IDs"))?,
        };
        let initial_state = match body.get("initial_state") {
            None => Vec::new(),
            Some(v) => serde_json::from_value::<Vec<Value>>(v.clone())
                .map_err(|_| MatrixError::bad_json("initial_state must be a list of events"))?
                .iter()
                .map(|ev| initial_state_event(ev, creator))
                .collect::<MatrixResult<_>>()?,
        };
        Ok(CreateRequest {
            preset,
            visibility,
            alias_name: text("room_alias_name"),
            invites,
            initial_state,
        })
    }
}

/// One `initial_state` entry: it needs a type and content, may not be a membership or create
/// event, and may not use another user's ID as its state key.
fn initial_state_event(ev: &Value, creator: &str) -> MatrixResult<InitialEvent> {
    let (Some(t), Some(content)) = (ev.get("type").and_then(Value::as_str), ev.get("content"))
    else {
        return Err(MatrixError::bad_json(
            "each initial_state event needs a type and content",
        ));
    };
    let key = ev
        .get("state_key")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if t == "m.room.member" || t == "m.room.create" {
        return Err(MatrixError::bad_json(format!(
            "initial_state may not contain {t} events"
        )));
    }
    if key.starts_with('@') && key != creator {
        return Err(MatrixError::forbidden(
            "initial_state may not use another user's ID as a state key",
        ));
    }
    Ok((t.into(), key.into(), content.clone()))
}

/// Ask the spam checkers whether `user_id` may create `alias` (`#name:server`): 403 with the
/// module's denial, "This user is not permitted to create this alias" by default. Every way
/// to create an alias (directory API, `room_alias_name` at creation) asks here.
pub async fn check_alias_creation(
    state: &AppState,
    user_id: &str,
    alias: &str,
) -> MatrixResult<()> {
    match state
        .modules
        .user_may_create_room_alias(user_id, alias)
        .await?
    {
        SpamCheck::Deny(d) => Err(MatrixError::denied(
            d,
            "This user is not permitted to create this alias",
        )),
        SpamCheck::NotSpam => Ok(()),
    }
}

/// The full alias for `room_alias_name` `name`, checked: 400 `M_INVALID_PARAM` for a bad
/// name, 400 `M_ROOM_IN_USE` when it is taken. The module alias check comes later (after
/// the visibility check), where Synapse's `create_association` runs it.
async fn new_alias(state: &AppState, name: &str) -> MatrixResult<String> {
    let alias = format!("#{name}:{}", state.config.server_name);
    if name.is_empty()
        || name.contains(':')
        || name.contains(char::is_whitespace)
        || ruma_common::RoomAliasId::parse(&alias).is_err()
    {
        return Err(MatrixError::invalid_param(
            "Invalid characters in room alias",
        ));
    }
    if state.store.resolve_alias(&alias).await?.is_some() {
        return Err(MatrixError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "M_ROOM_IN_USE",
            "Room alias already taken",
        ));
    }
    Ok(alias)
}

/// The state events a new room starts with, in sending order: create, the creator's join,
/// power levels (with the preset's and the request's changes), join rules, history
/// visibility, canonical alias, `initial_state`, name and topic.
fn initial_events(
    who: &Requester,
    body: &Value,
    req: &CreateRequest,
    alias: Option<&str>,
) -> Vec<InitialEvent> {
    let mut power = json!({
        "users": {who.user_id.clone(): 100}, "users_default": 0, "events_default": 0, "state_default": 50,
        "ban": 50, "kick": 50, "redact": 50, "invite": 0,
        "events": {"m.room.name": 50, "m.room.power_levels": 100, "m.room.history_visibility": 100,
                   "m.room.canonical_alias": 50, "m.room.avatar": 50, "m.room.tombstone": 100, "m.room.server_acl": 100,
                   "m.room.encryption": 100},
    });
    if req.preset == "trusted_private_chat" {
        for invitee in &req.invites {
            power["users"][invitee] = json!(100);
        }
    }
    if let Some(Value::Object(overrides)) = body.get("power_level_content_override") {
        for (k, v) in overrides {
            power[k] = v.clone();
        }
    }
    let join_rule = if req.preset == "public_chat" {
        "public"
    } else {
        "invite"
    };
    let state = |t: &str, content: Value| (t.to_string(), String::new(), content);
    let mut events = vec![
        state(
            "m.room.create",
            json!({"creator": who.user_id, "room_version": ROOM_VERSION}),
        ),
        (
            "m.room.member".into(),
            who.user_id.clone(),
            json!({"membership": "join"}),
        ),
        state("m.room.power_levels", power),
        state("m.room.join_rules", json!({"join_rule": join_rule})),
        state(
            "m.room.history_visibility",
            json!({"history_visibility": "shared"}),
        ),
    ];
    if let Some(alias) = alias {
        events.push(state("m.room.canonical_alias", json!({"alias": alias})));
    }
    events.extend(req.initial_state.iter().cloned());
    for (field, event_type) in [("name", "m.room.name"), ("topic", "m.room.topic")] {
        if let Some(v) = body.get(field).and_then(Value::as_str) {
            events.push(state(event_type, json!({ field: v })));
        }
    }
    events
}

/// 403 `M_FORBIDDEN` "User … not in room …" unless `user_id` is joined to `room_id`.
pub async fn require_joined(state: &AppState, room_id: &str, user_id: &str) -> MatrixResult<()> {
    match state.store.membership(room_id, user_id).await?.as_deref() {
        Some("join") => Ok(()),
        _ => Err(MatrixError::forbidden(format!(
            "User {user_id} not in room {room_id}"
        ))),
    }
}

/// The content of `user_id`'s join event: their display name and avatar, as Synapse puts
/// them into every join.
pub async fn member_join_content(state: &AppState, user_id: &str) -> MatrixResult<Value> {
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

/// Create a room for `who` from the `/createRoom` request `body`; returns
/// `{"room_id", "room_alias"?}`. Errors: the module checks' denials (403), validation (400),
/// `M_ROOM_IN_USE` for a taken alias.
pub async fn create_room(state: &AppState, who: &Requester, body: Value) -> MatrixResult<Value> {
    let body = state
        .modules
        .on_create_room(&who.user_id, body, who.is_admin)
        .await?;
    let req = CreateRequest::parse(&body, &who.user_id)?;
    super::user_ids::check_client_user_ids(state, &req.invites).await?;
    if let Some(levels) = body.get("power_level_content_override") {
        // Refused before the room exists, not halfway through creating it.
        super::power::check_integer_levels(levels)?;
    }
    // Synapse's order: validation (alias name and availability included),
    // `user_may_create_room`, `check_visibility_can_be_modified`, `user_may_create_room_alias`.
    let alias = match &req.alias_name {
        Some(name) => Some(new_alias(state, name).await?),
        None => None,
    };
    if !who.is_admin {
        if let SpamCheck::Deny(d) = state
            .modules
            .user_may_create_room(&who.user_id, &body.to_string())
            .await?
        {
            return Err(MatrixError::denied(
                d,
                "You are not permitted to create rooms",
            ));
        }
    }
    let room_id = format!("!{}:{}", random_id(18), state.config.server_name);
    // Asked for every new room, with "private" when the request names no visibility.
    let requested = req.visibility.as_deref().unwrap_or("private");
    if !state
        .modules
        .check_visibility_can_be_modified(&room_id, "[]", requested)
        .await
    {
        return Err(MatrixError::forbidden("Room visibility value not allowed."));
    }
    if let Some(alias) = &alias {
        check_alias_creation(state, &who.user_id, alias).await?;
    }
    state
        .store
        .create_room(&room_id, &who.user_id, ROOM_VERSION)
        .await?;
    for (event_type, state_key, content) in initial_events(who, &body, &req, alias.as_deref()) {
        send_initial_event(state, who, &room_id, event_type, state_key, content).await?;
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
    for invitee in &req.invites {
        state
            .change_membership(who, &room_id, invitee, invite_kind, None)
            .await?;
    }
    if req.visibility.as_deref() == Some("public") {
        state.store.set_room_public(&room_id, true).await?;
    }
    let mut response = json!({ "room_id": room_id });
    if let Some(alias) = alias {
        response["room_alias"] = json!(alias);
    }
    Ok(response)
}

/// Send one of a new room's initial state events as its creator (no auth checks: the room
/// is being built; the module event checks still run). A membership event gets the
/// creator's join content (display name, avatar) whatever `content` says.
pub(crate) async fn send_initial_event(
    state: &AppState,
    who: &Requester,
    room_id: &str,
    event_type: String,
    state_key: String,
    content: Value,
) -> MatrixResult<()> {
    let content = if event_type == "m.room.member" {
        member_join_content(state, &who.user_id).await?
    } else {
        content
    };
    let new = NewEvent {
        room_id,
        sender: &who.user_id,
        event_type: &event_type,
        state_key: Some(&state_key),
        content,
        txn: None,
    };
    let options = SendOptions {
        skip_auth: true,
        ..SendOptions::default()
    };
    state.send_event(new, options).await?;
    Ok(())
}
