//! Rooms and events: membership, sending events, state, creation and shutdown, aliases and
//! the public room list.

use plugin_sdk::host_methods::{
    AliasArgs, AsJson, CreateAndSendEventIntoRoom, CreateRoom, CreateRoomArgs, DeleteRoom,
    GetCanonicalRoomAlias, GetRoomState, HostError, LookupRoomAlias, PublicRoomListAdd,
    PublicRoomListContains, PublicRoomListRemove, RoomArgs, SendEventArgs, UpdateRoomMembership,
    UpdateRoomMembershipArgs,
};
use plugin_sdk::CreatedRoom;
use serde_json::Value;

use super::{bad_value, internal, refused, Handler};
use crate::error::MatrixError;
use crate::service::events::{NewEvent, SendOptions};
use crate::service::membership::Change;
use crate::state::AppState;

impl AppState {
    /// An existing room, or `Matrix` 404 `M_NOT_FOUND`.
    async fn require_room(&self, room_id: &str) -> Result<(), HostError> {
        if self.store.room_exists(room_id).await.map_err(internal)? {
            Ok(())
        } else {
            Err(refused(MatrixError::not_found("Unknown room")))
        }
    }

    /// Set whether `room_id` is in the room directory, without the visibility checks a
    /// client's request goes through (Synapse's `public_room_list_manager`).
    async fn set_room_listed(&self, room_id: &str, public: bool) -> Result<(), HostError> {
        self.require_room(room_id).await?;
        self.store
            .set_room_public(room_id, public)
            .await
            .map_err(internal)
    }
}

/// `update_room_membership(sender, target, room_id, membership)` → the event ID, with the
/// same checks as a client request (`join`, `leave`, `invite`, `ban`; `leave` of another
/// user is a kick); profile fields come from the target's profile. `BadValue` for a sender
/// who is not a registered, active local user or an unknown change; the client API's
/// refusal as `Matrix`.
impl Handler for UpdateRoomMembership {
    async fn handle(
        state: &AppState,
        _: &str,
        args: UpdateRoomMembershipArgs,
    ) -> Result<String, HostError> {
        let UpdateRoomMembershipArgs {
            sender,
            target,
            room_id,
            membership,
        } = args;
        let who = state.acting_user(&sender, "sender").await?;
        let change = match membership.as_str() {
            "join" if sender == target => Change::Join,
            "leave" if sender == target => Change::Leave,
            // Another user's `leave` lifts a ban, else it is a kick (as Synapse decides).
            "leave"
                if state
                    .store
                    .membership(&room_id, &target)
                    .await
                    .ok()
                    .flatten()
                    == Some("ban".into()) =>
            {
                Change::Unban
            }
            "leave" => Change::Kick,
            "invite" => Change::Invite,
            "ban" => Change::Ban,
            other => {
                return Err(bad_value(format!(
                    "unsupported membership change {other:?} for {target}"
                )))
            }
        };
        state
            .change_membership(&who, &room_id, &target, change, None)
            .await
            .map_err(refused)
    }
}

/// `create_and_send_event_into_room(event)` → the event as stored (with `event_id`); the
/// same module checks as a client's event run. `BadValue` for an event without `room_id`,
/// `sender` and `type`, a membership event, or a sender who is not a registered, active
/// local user; the checks' refusal as `Matrix`.
impl Handler for CreateAndSendEventIntoRoom {
    async fn handle(
        state: &AppState,
        _: &str,
        args: SendEventArgs,
    ) -> Result<AsJson<Value>, HostError> {
        let event = args.event;
        let field = |k: &str| event.get(k).and_then(Value::as_str).map(String::from);
        let (Some(room_id), Some(sender), Some(event_type)) =
            (field("room_id"), field("sender"), field("type"))
        else {
            return Err(bad_value("the event needs room_id, sender and type"));
        };
        if event_type == "m.room.member" {
            return Err(bad_value(
                "use update_room_membership for membership events",
            ));
        }
        // Registered and active; as in Synapse, a module's event ignores the sender's
        // shadow ban (the module chose to send it).
        state.acting_user(&sender, "sender").await?;
        let state_key = field("state_key");
        let new = NewEvent {
            room_id: &room_id,
            sender: &sender,
            event_type: &event_type,
            state_key: state_key.as_deref(),
            content: event
                .get("content")
                .cloned()
                .unwrap_or(Value::Object(Default::default())),
            txn: None,
        };
        let options = SendOptions {
            spam_check: true,
            ..SendOptions::default()
        };
        let event_id = state.send_event(new, options).await.map_err(refused)?;
        let stored = state.store.get_event(&event_id).await.map_err(internal)?;
        Ok(AsJson(stored.map(|e| e.json).unwrap_or(Value::Null)))
    }
}

/// `get_room_state(room_id)` → the room's current state events.
impl Handler for GetRoomState {
    async fn handle(state: &AppState, _: &str, args: RoomArgs) -> Result<Vec<Value>, HostError> {
        state
            .store
            .current_state(&args.room_id)
            .await
            .map_err(internal)
    }
}

/// `lookup_room_alias(alias)` → the room ID the alias points to, or null.
impl Handler for LookupRoomAlias {
    async fn handle(
        state: &AppState,
        _: &str,
        args: AliasArgs,
    ) -> Result<Option<String>, HostError> {
        let room = state
            .store
            .resolve_alias(&args.alias)
            .await
            .map_err(internal)?;
        Ok(room.map(|(room_id, _)| room_id))
    }
}

/// `get_canonical_room_alias(room_id)` → the alias in `m.room.canonical_alias`, or null.
impl Handler for GetCanonicalRoomAlias {
    async fn handle(
        state: &AppState,
        _: &str,
        args: RoomArgs,
    ) -> Result<Option<String>, HostError> {
        let event = state
            .store
            .state_event(&args.room_id, "m.room.canonical_alias", "")
            .await
            .map_err(internal)?;
        Ok(event.and_then(|e| e["content"]["alias"].as_str().map(String::from)))
    }
}

/// `create_room(user_id, config)` → `{room_id, room_alias?}`: a room created by the local
/// user `user_id` from a `/createRoom` body (a JSON object), with every module check a
/// client gets. `BadValue` for a user who is not registered, active and local; the
/// checks' and validation's refusals as `Matrix`.
impl Handler for CreateRoom {
    async fn handle(
        state: &AppState,
        module: &str,
        args: CreateRoomArgs,
    ) -> Result<CreatedRoom, HostError> {
        let who = state.acting_user(&args.user_id, "user").await?;
        let created = crate::service::rooms::create_room(state, &who, args.config)
            .await
            .map_err(refused)?;
        let created: CreatedRoom = serde_json::from_value(created).map_err(internal)?;
        tracing::info!(module, user_id = %args.user_id, room = %created.room_id, "module created a room");
        Ok(created)
    }
}

/// `delete_room(room_id)` → the users removed. `check_can_shutdown_room` is asked with no
/// requester (its refusal is `Matrix` 403); the room is then shut down as by the admin API.
impl Handler for DeleteRoom {
    async fn handle(
        state: &AppState,
        module: &str,
        args: RoomArgs,
    ) -> Result<Vec<String>, HostError> {
        let removed = state
            .shutdown_room(None, &args.room_id)
            .await
            .map_err(refused)?;
        tracing::info!(module, room_id = %args.room_id, "module shut a room down");
        Ok(removed)
    }
}

/// `public_room_list_contains(room_id)` → whether the room is in the directory. `Matrix`
/// 404 for an unknown room.
impl Handler for PublicRoomListContains {
    async fn handle(state: &AppState, _: &str, args: RoomArgs) -> Result<bool, HostError> {
        state.require_room(&args.room_id).await?;
        state
            .store
            .is_room_public(&args.room_id)
            .await
            .map_err(internal)
    }
}

/// `public_room_list_add(room_id)` → null: the room is listed, without the visibility
/// checks a client's request goes through. `Matrix` 404 for an unknown room.
impl Handler for PublicRoomListAdd {
    async fn handle(state: &AppState, _: &str, args: RoomArgs) -> Result<(), HostError> {
        state.set_room_listed(&args.room_id, true).await
    }
}

/// `public_room_list_remove(room_id)` → null: the room is unlisted. `Matrix` 404 for an
/// unknown room.
impl Handler for PublicRoomListRemove {
    async fn handle(state: &AppState, _: &str, args: RoomArgs) -> Result<(), HostError> {
        state.set_room_listed(&args.room_id, false).await
    }
}
