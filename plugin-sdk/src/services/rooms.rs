//! Rooms and events.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::host_methods::{
    AliasArgs, CreateAndSendEventIntoRoom, CreateRoom, CreateRoomArgs, DeleteRoom,
    GetCanonicalRoomAlias, GetRoomState, LookupRoomAlias, PublicRoomListAdd,
    PublicRoomListContains, PublicRoomListRemove, RoomArgs, SendEventArgs, UpdateRoomMembership,
    UpdateRoomMembershipArgs,
};
use crate::{ModuleApi, ModuleError};

/// A room made by [`ModuleApi::create_room`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedRoom {
    /// The new room's ID.
    pub room_id: String,
    /// Its alias, when the request named one (`room_alias_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_alias: Option<String>,
}

impl ModuleApi {
    /// Change `target`'s membership of `room_id` (`join`, `leave`, `invite`, `ban`; `leave`
    /// of another user is a kick) as the local user `sender`, with the same checks as a
    /// client request; the member event carries the target's display name and avatar.
    /// Returns the event ID. A refusal is the Matrix error the client API would give.
    ///
    /// ```no_run
    /// # async fn f(api: plugin_sdk::ModuleApi) -> Result<(), plugin_sdk::ModuleError> {
    /// let me = "@bot:example.org";
    /// api.update_room_membership(me, me, "!room:example.org", "join").await?;
    /// # Ok(()) }
    /// ```
    pub async fn update_room_membership(
        &self,
        sender: &str,
        target: &str,
        room_id: &str,
        membership: &str,
    ) -> Result<String, ModuleError> {
        self.call_method::<UpdateRoomMembership>(UpdateRoomMembershipArgs {
            sender: sender.into(),
            target: target.into(),
            room_id: room_id.into(),
            membership: membership.into(),
        })
        .await
    }

    /// Send an event (`{"room_id", "sender", "type", "content", "state_key"?}`, sender local)
    /// through the same third-party-rules and spam checks as a client's event. Returns the
    /// stored event. Membership events are refused: use
    /// [`update_room_membership`](Self::update_room_membership).
    pub async fn create_and_send_event_into_room(
        &self,
        event: Value,
    ) -> Result<Value, ModuleError> {
        let stored = self
            .call_method::<CreateAndSendEventIntoRoom>(SendEventArgs { event })
            .await?;
        Ok(stored.0)
    }

    /// The room's current state events.
    pub async fn get_room_state(&self, room_id: &str) -> Result<Vec<Value>, ModuleError> {
        self.call_method::<GetRoomState>(room(room_id)).await
    }

    /// The room an alias points to, if any.
    pub async fn lookup_room_alias(&self, alias: &str) -> Result<Option<String>, ModuleError> {
        self.call_method::<LookupRoomAlias>(AliasArgs {
            alias: alias.into(),
        })
        .await
    }

    /// The alias in the room's `m.room.canonical_alias` state, if any.
    pub async fn get_canonical_room_alias(
        &self,
        room_id: &str,
    ) -> Result<Option<String>, ModuleError> {
        self.call_method::<GetCanonicalRoomAlias>(room(room_id))
            .await
    }

    /// Create a room as the local user `user_id` from a `/createRoom` request body, with every
    /// module check a client's request gets (`on_create_room`, `user_may_create_room` …).
    ///
    /// ```no_run
    /// # async fn f(api: plugin_sdk::ModuleApi) -> Result<(), plugin_sdk::ModuleError> {
    /// let room = api
    ///     .create_room("@bot:example.org", serde_json::json!({"name": "Announcements", "room_alias_name": "news"}))
    ///     .await?;
    /// assert_eq!(room.room_alias.as_deref(), Some("#news:example.org"));
    /// # Ok(()) }
    /// ```
    pub async fn create_room(
        &self,
        user_id: &str,
        config: Value,
    ) -> Result<CreatedRoom, ModuleError> {
        self.call_method::<CreateRoom>(CreateRoomArgs {
            user_id: user_id.into(),
            config,
        })
        .await
    }

    /// Shut a room down: `check_can_shutdown_room` is asked (with no requester), then every
    /// member leaves, the room is blocked and its aliases removed. Returns the users removed.
    pub async fn delete_room(&self, room_id: &str) -> Result<Vec<String>, ModuleError> {
        self.call_method::<DeleteRoom>(room(room_id)).await
    }

    /// Whether the room is in the public room directory.
    pub async fn public_room_list_contains(&self, room_id: &str) -> Result<bool, ModuleError> {
        self.call_method::<PublicRoomListContains>(room(room_id))
            .await
    }

    /// Publish the room in the directory (no `check_visibility_can_be_modified`: the module
    /// is the policy).
    pub async fn public_room_list_add(&self, room_id: &str) -> Result<(), ModuleError> {
        self.call_method::<PublicRoomListAdd>(room(room_id)).await
    }

    /// Remove the room from the directory.
    pub async fn public_room_list_remove(&self, room_id: &str) -> Result<(), ModuleError> {
        self.call_method::<PublicRoomListRemove>(room(room_id))
            .await
    }
}

fn room(room_id: &str) -> RoomArgs {
    RoomArgs {
        room_id: room_id.into(),
    }
}
