//! Room upgrades (spec §"Room Upgrades"): a new room carrying the old one's state, the old
//! one tombstoned. `user_may_create_room` runs (no admin bypass) with a synthesised request
//! holding the creation content and the state that will be copied, as in Synapse.

use plugin_sdk::SpamCheck;
use serde_json::{json, Value};

use crate::error::{MatrixError, MatrixResult};
use crate::service::auth::Requester;
use crate::service::events::{random_id, NewEvent, SendOptions};
use crate::service::power::PowerLevels;
use crate::service::rooms::{send_initial_event, ROOM_VERSION};
use crate::state::AppState;

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

/// 403 unless `who` is joined to `room_id` with the power to send its tombstone.
async fn check_may_upgrade(state: &AppState, who: &Requester, room_id: &str) -> MatrixResult<()> {
    let membership = state.store.membership(room_id, &who.user_id).await?;
    if membership.as_deref() != Some("join") {
        return Err(MatrixError::forbidden(format!(
            "User {} not in room {room_id}",
            who.user_id
        )));
    }
    let pl_event = state
        .store
        .state_event(room_id, "m.room.power_levels", "")
        .await?;
    let pl = PowerLevels(pl_event.as_ref().map(|e| &e["content"]));
    if pl.user(&who.user_id) < pl.for_event("m.room.tombstone", true) {
        return Err(MatrixError::forbidden(
            "You don't have permission to upgrade the room",
        ));
    }
    Ok(())
}

/// Upgrade `room_id` to room version `new_version` for `who`; returns the replacement
/// room's ID. Errors: 400 `M_UNSUPPORTED_ROOM_VERSION`, 403 when `who` may not upgrade or a
/// spam checker refuses the new room.
pub async fn upgrade_room(
    state: &AppState,
    who: &Requester,
    room_id: &str,
    new_version: &str,
) -> MatrixResult<String> {
    if new_version != ROOM_VERSION {
        return Err(MatrixError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "M_UNSUPPORTED_ROOM_VERSION",
            "Your homeserver does not support this room version",
        ));
    }
    check_may_upgrade(state, who, room_id).await?;
    let copied: Vec<Value> = state
        .store
        .current_state(room_id)
        .await?
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
    let mut create = creation_content;
    create["creator"] = json!(who.user_id);
    let mut events: Vec<(String, String, Value)> = vec![
        ("m.room.create".into(), String::new(), create),
        ("m.room.member".into(), who.user_id.clone(), Value::Null),
    ];
    events.extend(copied.iter().map(|e| {
        let text = |k: &str| e[k].as_str().unwrap_or_default().to_string();
        (text("type"), text("state_key"), e["content"].clone())
    }));
    for (event_type, state_key, content) in events {
        send_initial_event(state, who, &new_room, event_type, state_key, content).await?;
    }
    let tombstone = NewEvent {
        room_id,
        sender: &who.user_id,
        event_type: "m.room.tombstone",
        state_key: Some(""),
        content: json!({"body": "This room has been replaced", "replacement_room": new_room}),
        txn: None,
    };
    state.send_event(tombstone, SendOptions::default()).await?;
    Ok(new_room)
}
