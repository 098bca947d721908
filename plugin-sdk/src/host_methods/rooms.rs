//! Arguments of the room and event methods.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::wire;

/// One room: `(room_id)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomArgs {
    /// The room ID.
    pub room_id: String,
}

/// `lookup_room_alias(alias)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasArgs {
    /// A room alias, `#name:server`.
    pub alias: String,
}

/// `update_room_membership(sender, target, room_id, membership)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateRoomMembershipArgs {
    /// The registered local user acting.
    pub sender: String,
    /// The user whose membership changes (the sender for `join`; another user for a
    /// `leave` is a kick).
    pub target: String,
    /// The room.
    pub room_id: String,
    /// `join`, `leave`, `invite` or `ban`.
    pub membership: String,
}

/// `create_and_send_event_into_room(event)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendEventArgs {
    /// `{"room_id", "sender", "type", "content", "state_key"?}`; the sender a registered
    /// local user; not `m.room.member`.
    #[serde(with = "wire::json")]
    pub event: Value,
}

/// `create_room(user_id, config)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRoomArgs {
    /// The registered local user creating the room.
    pub user_id: String,
    /// A `/createRoom` request body (a JSON object).
    #[serde(with = "wire::json_object")]
    pub config: Value,
}
