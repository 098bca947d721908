//! Arguments of the account data and presence methods.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::wire;

/// `account_data_get_global(user_id, type)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDataArgs {
    /// A registered local user.
    pub user_id: String,
    /// The account data type, e.g. `m.direct`.
    #[serde(rename = "type")]
    pub data_type: String,
}

/// `account_data_put_global(user_id, type, content)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDataPutArgs {
    /// A registered local user.
    pub user_id: String,
    /// The account data type.
    #[serde(rename = "type")]
    pub data_type: String,
    /// The content (the host refuses anything but a JSON object).
    #[serde(with = "wire::json")]
    pub content: Value,
}

/// `set_presence_for_users({user_id: {presence, status_msg?}})`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetPresenceArgs {
    /// Local users and their new presence.
    pub users: BTreeMap<String, PresenceUpdate>,
}

/// One user's new presence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceUpdate {
    /// `online`, `unavailable` or `offline`.
    #[serde(default)]
    pub presence: String,
    /// The status message, if any.
    #[serde(default)]
    pub status_msg: Option<String>,
}

/// A list of users: `([user_id])`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserListArgs {
    /// Registered local users.
    pub users: Vec<String>,
}
