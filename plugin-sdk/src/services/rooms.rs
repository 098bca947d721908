//! Rooms and events.

use serde::Deserialize;
use serde_json::Value;

use crate::codec::Encode;
use crate::{ModuleApi, ModuleError};

/// A room made by [`ModuleApi::create_room`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CreatedRoom {
    /// The new room's ID.
    pub room_id: String,
    /// Its alias, when the request named one (`room_alias_name`).
    #[serde(default)]
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
        self.call_host(
            "update_room_membership",
            vec![
                sender.encode(),
                target.encode(),
                room_id.encode(),
                membership.encode(),
            ],
        )
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
        self.call_host("create_and_send_event_into_room", vec![event.encode()])
            .await
    }

    /// The room's current state events.
    pub async fn get_room_state(&self, room_id: &str) -> Result<Vec<Value>, ModuleError> {
        self.call_host("get_room_state", vec![room_id.encode()])
            .await
    }

    /// The room an alias points to, if any.
    pub async fn lookup_room_alias(&self, alias: &str) -> Result<Option<String>, ModuleError> {
        self.call_host("lookup_room_alias", vec![alias.encode()])
            .await
    }

    /// The alias in the room's `m.room.canonical_alias` state, if any.
    pub async fn get_canonical_room_alias(
        &self,
        room_id: &str,
    ) -> Result<Option<String>, ModuleError> {
        self.call_host("get_canonical_room_alias", vec![room_id.encode()])
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
        let v: Value = self
            .call_host("create_room", vec![user_id.encode(), config.encode()])
            .await?;
        Ok(serde_json::from_value(v)?)
    }

    /// Shut a room down: `check_can_shutdown_room` is asked (with no requester), then every
    /// member leaves, the room is blocked and its aliases removed. Returns the users removed.
    pub async fn delete_room(&self, room_id: &str) -> Result<Vec<String>, ModuleError> {
        let v: Value = self
            .call_host("delete_room", vec![room_id.encode()])
            .await?;
        Ok(serde_json::from_value(v)?)
    }

    /// Whether the room is in the public room directory.
    pub async fn public_room_list_contains(&self, room_id: &str) -> Result<bool, ModuleError> {
        self.call_host("public_room_list_contains", vec![room_id.encode()])
            .await
    }

    /// Publish the room in the directory (no `check_visibility_can_be_modified`: the module
    /// is the policy).
    pub async fn public_room_list_add(&self, room_id: &str) -> Result<(), ModuleError> {
        self.call_host("public_room_list_add", vec![room_id.encode()])
            .await
    }

    /// Remove the room from the directory.
    pub async fn public_room_list_remove(&self, room_id: &str) -> Result<(), ModuleError> {
        self.call_host("public_room_list_remove", vec![room_id.encode()])
            .await
    }
}
