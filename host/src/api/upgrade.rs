//! Room upgrades: a new room carrying the old one's state, the old one tombstoned.

use axum::extract::{Path, State};
use axum::Json;
use plugin_sdk::SpamCheck;
use serde_json::{json, Map, Value};

use super::extract::{JsonBody, Requester};
use super::AppState;
use crate::error::{MatrixError, MatrixResult};
use crate::service::events::{random_id, NewEvent, SendOptions};
use crate::service::power::PowerLevels;

/// State carried over to the replacement room.
const COPIED: &[&str] = &[
    "m.room.server_acl",
    "m.room.encryption",
    "m.room.name",
    "m.room.topic",
    "m.room.avatar",
    "m.room.history_visibility",
    "m.room.guest_access",
    "m.room.join_rules",
    "m.room.power_levels",
];

/// # `POST /_matrix/client/v3/rooms/{roomId}/upgrade`
/// `user_may_create_room` runs (no admin bypass) with a synthesised request holding the
/// creation content and the state that will be copied, as in Synapse.
pub(super) async fn upgrade_route(
    State(state): State<AppState>,
    who: Requester,
    Path(room_id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    let new_version = body
        .get("new_version")
        .and_then(Value::as_str)
        .ok_or_else(|| MatrixError::bad_json("Missing new_version"))?;
    if new_version != "10" {
        return Err(MatrixError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "M_UNSUPPORTED_ROOM_VERSION",
            "Your homeserver does not support this room version",
        ));
    }
    if state
        .store
        .membership(&room_id, &who.user_id)
        .await?
        .as_deref()
        != Some("join")
    {
        return Err(MatrixError::forbidden(format!(
            "User {} not in room {room_id}",
            who.user_id
        )));
    }
    let pl_event = state
        .store
        .state_event(&room_id, "m.room.power_levels", "")
        .await?;
    let pl = PowerLevels(pl_event.as_ref().map(|e| &e["content"]));
    if pl.user(&who.user_id) < pl.for_event("m.room.tombstone", true) {
        return Err(MatrixError::forbidden(
            "You don't have permission to upgrade the room",
        ));
    }
    let current = state.store.current_state(&room_id).await?;
    let copied: Vec<Value> = current
        .iter()
        .filter(|e| COPIED.contains(&e["type"].as_str().unwrap_or_default()))
        .map(|e| json!({"type": e["type"], "state_key": e["state_key"], "content": e["content"]}))
        .collect();
    let new_room = format!("!{}:{}", random_id(18), state.config.server_name);
    let creation_content =
        json!({"room_version": new_version, "predecessor": {"room_id": room_id}});
    let synthesised = json!({"creation_content": creation_content, "initial_state": copied});
    if let SpamCheck::Deny(d) = state
        .modules
        .user_may_create_room(&who.user_id, &synthesised.to_string())
        .await?
    {
        return Err(MatrixError::denied(
            d,
            "You are not permitted to create rooms",
        ));
    }

    state
        .store
        .create_room(&new_room, &who.user_id, new_version)
        .await?;
    let (displayname, avatar_url) = state.store.get_profile(&who.user_id).await?;
    let mut member = json!({"membership": "join"});
    if let Some(d) = displayname {
        member["displayname"] = json!(d);
    }
    if let Some(a) = avatar_url {
        member["avatar_url"] = json!(a);
    }
    let mut create = creation_content.clone();
    create["creator"] = json!(who.user_id);
    let mut events: Vec<(String, String, Value)> = vec![
        ("m.room.create".into(), String::new(), create),
        ("m.room.member".into(), who.user_id.clone(), member),
    ];
    for e in &copied {
        events.push((
            e["type"].as_str().unwrap_or_default().into(),
            e["state_key"].as_str().unwrap_or_default().into(),
            e["content"].clone(),
        ));
    }
    for (event_type, state_key, content) in events {
        let new = NewEvent {
            room_id: &new_room,
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
    let tombstone = NewEvent {
        room_id: &room_id,
        sender: &who.user_id,
        event_type: "m.room.tombstone",
        state_key: Some(""),
        content: json!({"body": "This room has been replaced", "replacement_room": new_room}),
        txn: None,
    };
    state.send_event(tombstone, SendOptions::default()).await?;
    Ok(Json(json!({"replacement_room": new_room})))
}
