//! Every host method this SDK version knows: its name, its arguments and its answer, as
//! types both sides of the ABI use. [`catalogue`](crate::catalogue) is this table's twin
//! for callbacks.
//!
//! A module reaches a host service through `HostApi::call(name, args)`: a name and a
//! positional list of [`FfiValue`](crate::ffi::FfiValue)s, answered by one value or an
//! [`FfiError`]. Here each method is a type implementing [`HostMethod`]: its
//! [`NAME`](HostMethod::NAME), an argument struct whose fields, in order, are the positional
//! arguments ([`wire`] says how each is encoded), and the type of its answer. The SDK's
//! wrappers on [`ModuleApi`](crate::ModuleApi) build the argument struct and call
//! [`ModuleApi::call_method`](crate::ModuleApi::call_method); the host decodes the same
//! struct and answers with the same type, so neither side spells a method's name or an
//! argument's position.
//!
//! Errors cross as [`HostError`], one type for both sides.
//!
//! # Evolution
//!
//! The wire is frozen for every method listed here: a module built against any 1.y SDK
//! sends exactly these names and encodings. So a method's name never changes, fields are
//! never reordered, removed or re-typed; a new optional field may be appended (an older
//! peer omits it, and a missing trailing argument reads as `null`). A new service is a new
//! method.

mod account;
mod cache;
mod http;
mod identity;
mod rooms;
mod store;
pub mod wire;

use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::ffi::{ErrorKind, FfiError};
use crate::{MatrixError, ModuleError};

pub use account::*;
pub use cache::*;
pub use http::*;
pub use identity::*;
pub use rooms::*;
pub use store::*;
pub use wire::{AsJson, WireError};

/// A host method: its name on the wire, its arguments and its answer.
pub trait HostMethod {
    /// The name modules call it by.
    const NAME: &'static str;
    /// Its arguments: a struct whose fields, in declaration order, are the positional
    /// arguments (or `()` for none).
    type Args: Serialize + DeserializeOwned + Send + 'static;
    /// Its answer.
    type Output: Serialize + DeserializeOwned + Send + 'static;
}

/// Declares each method's type, and [`HOST_METHODS`].
macro_rules! host_methods {
    ($( $(#[$doc:meta])* $ty:ident = $name:literal ($args:ty) -> $out:ty; )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            pub struct $ty;

            impl HostMethod for $ty {
                const NAME: &'static str = $name;
                type Args = $args;
                type Output = $out;
            }
        )*

        /// Every host method's name, in catalogue order.
        pub const HOST_METHODS: &[&str] = &[$($name),*];
    };
}

host_methods! {
    // Identity and sessions.
    /// The user ID as stored (localparts match case-insensitively), or `None`.
    CheckUserExists = "check_user_exists" (UserArgs) -> Option<String>;
    /// What the host knows about a user, or `None` for an unknown one.
    GetUserinfoById = "get_userinfo_by_id" (UserArgs) -> Option<crate::UserInfo>;
    /// Whether the user is a server admin (false for unknown users).
    IsUserAdmin = "is_user_admin" (UserArgs) -> bool;
    /// Make a registered local user an admin, or not. `BadValue` for remote or unknown users.
    SetUserAdmin = "set_user_admin" (SetUserAdminArgs) -> ();
    /// Register a local user without password or device; the new user ID. `Matrix`
    /// `M_INVALID_USERNAME` / `M_USER_IN_USE` as for a client.
    RegisterUser = "register_user" (RegisterUserArgs) -> String;
    /// A logged-in device for a registered local user.
    RegisterDevice = "register_device" (RegisterDeviceArgs) -> crate::RegisteredDevice;
    /// A user's display name and avatar (each `None` when unset).
    GetProfileForUser = "get_profile_for_user" (UserArgs) -> Profile;
    /// Set a registered local user's display name (`on_profile_update` fires, `by_admin`).
    SetDisplayname = "set_displayname" (SetDisplaynameArgs) -> ();
    /// A user's third-party identifiers, oldest first (empty for unknown or remote users).
    GetThreepidsForUser = "get_threepids_for_user" (UserArgs) -> Vec<Threepid>;
    /// Who holds an access token; `Matrix` `M_MISSING_TOKEN` / `M_UNKNOWN_TOKEN` /
    /// `ORG_MATRIX_EXPIRED_ACCOUNT` as the client API refuses it.
    GetUserByReq = "get_user_by_req" (GetUserByReqArgs) -> crate::Requester;
    /// Log the token's session out; whether there was one.
    InvalidateAccessToken = "invalidate_access_token" (TokenArgs) -> bool;
    /// A single-use `m.login.token` for a registered local user.
    CreateLoginToken = "create_login_token" (CreateLoginTokenArgs) -> String;
    /// The host settings a module may read.
    GetHostConfig = "host_config" (()) -> crate::HostConfig;

    // Rooms and events.
    /// Change a membership as a local user, with a client's checks; the event ID.
    UpdateRoomMembership = "update_room_membership" (UpdateRoomMembershipArgs) -> String;
    /// Send a (non-membership) event with a client's checks; the event as stored.
    CreateAndSendEventIntoRoom = "create_and_send_event_into_room" (SendEventArgs) -> AsJson<Value>;
    /// The room's current state events.
    GetRoomState = "get_room_state" (RoomArgs) -> Vec<Value>;
    /// The room an alias points to, if any.
    LookupRoomAlias = "lookup_room_alias" (AliasArgs) -> Option<String>;
    /// The alias in the room's `m.room.canonical_alias`, if any.
    GetCanonicalRoomAlias = "get_canonical_room_alias" (RoomArgs) -> Option<String>;
    /// Create a room as a local user from a `/createRoom` body, with a client's checks.
    CreateRoom = "create_room" (CreateRoomArgs) -> crate::CreatedRoom;
    /// Shut a room down (`check_can_shutdown_room` asked first); the users removed.
    DeleteRoom = "delete_room" (RoomArgs) -> Vec<String>;
    /// Whether the room is in the public room directory. `Matrix` `M_NOT_FOUND` for an
    /// unknown room (all three directory methods).
    PublicRoomListContains = "public_room_list_contains" (RoomArgs) -> bool;
    /// Publish the room in the directory.
    PublicRoomListAdd = "public_room_list_add" (RoomArgs) -> ();
    /// Remove the room from the directory.
    PublicRoomListRemove = "public_room_list_remove" (RoomArgs) -> ();

    // Account data and presence.
    /// A registered local user's global account data of a type, or `None`.
    AccountDataGetGlobal = "account_data_get_global" (AccountDataArgs) -> Option<AsJson<Value>>;
    /// Set a registered local user's global account data (a JSON object).
    AccountDataPutGlobal = "account_data_put_global" (AccountDataPutArgs) -> ();
    /// Set local users' presence.
    SetPresenceForUsers = "set_presence_for_users" (SetPresenceArgs) -> ();
    /// Push every online local user's presence to each listed user's next `/sync`.
    SendLocalOnlinePresenceTo = "send_local_online_presence_to" (UserListArgs) -> ();

    // The module's store.
    /// Start a store transaction; its ID.
    StoreBegin = "store_begin" (()) -> u64;
    /// Keep a transaction's writes.
    StoreCommit = "store_commit" (TxnArgs) -> ();
    /// Drop a transaction's writes.
    StoreRollback = "store_rollback" (TxnArgs) -> ();
    /// The value under a key, or `None`.
    StoreGet = "store_get" (StoreKeyArgs) -> Option<AsJson<Value>>;
    /// Store a value under a key.
    StorePut = "store_put" (StorePutArgs) -> ();
    /// Remove a key; whether it was there.
    StoreDelete = "store_delete" (StoreKeyArgs) -> bool;
    /// One page of `(key, value)` under a prefix, in key order.
    StoreScan = "store_scan" (StoreScanArgs) -> Vec<(String, Value)>;

    // HTTP and caches.
    /// Send an HTTP request; any status is an answer.
    SendHttpRequest = "http_request" (HttpRequestArgs) -> HttpAnswer;
    /// Record a cache invalidation for the module's other instances.
    InvalidateCache = "invalidate_cache" (InvalidateCacheArgs) -> ();

    // Background work.
    /// Whether this instance runs the background work that runs on one instance only (the
    /// elected background leader among instances sharing a database; always on SQLite).
    RunsBackgroundTasks = "runs_background_tasks" (()) -> bool;
}

/// A host method's failure, as both sides see it. Each kind crosses as the
/// [`FfiError`] kind it always has, so modules built against any 1.y SDK read it the same.
#[derive(Debug, Clone, PartialEq)]
pub enum HostError {
    /// A refusal a client could see (a join the room forbids, an unknown token), to pass on
    /// as it is: [`ErrorKind::MATRIX`] with `details` `{status, errcode, error, fields}`.
    Matrix(MatrixError),
    /// Misuse by the module (a wrong argument, a remote user where a local one is needed):
    /// [`ErrorKind::BAD_VALUE`].
    BadValue(String),
    /// The host failed (a database error): [`ErrorKind::MODULE`]; logged, never shown to
    /// clients.
    Internal(String),
    /// The host does not know the method: [`ErrorKind::UNSUPPORTED`].
    Unsupported(String),
}

impl HostError {
    /// A Matrix refusal.
    pub fn matrix(status: u16, errcode: &str, error: impl Into<String>) -> Self {
        HostError::Matrix(MatrixError {
            status,
            errcode: errcode.into(),
            error: error.into(),
            fields: Map::new(),
        })
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            HostError::Matrix(m) => &m.error,
            HostError::BadValue(m) | HostError::Internal(m) | HostError::Unsupported(m) => m,
        }
    }

    /// As it crosses the ABI.
    pub fn into_ffi(self) -> FfiError {
        match self {
            HostError::Matrix(m) => {
                let mut e = FfiError::new(ErrorKind::MATRIX, m.error.clone());
                e.details = json!({
                    "status": m.status, "errcode": m.errcode, "error": m.error, "fields": m.fields,
                })
                .to_string()
                .into();
                e
            }
            HostError::BadValue(m) => FfiError::new(ErrorKind::BAD_VALUE, m),
            HostError::Internal(m) => FfiError::new(ErrorKind::MODULE, m),
            HostError::Unsupported(m) => FfiError::new(ErrorKind::UNSUPPORTED, m),
        }
    }

    /// Read an error that crossed the ABI (kinds a host never sends read as `Internal`).
    pub fn from_ffi(err: &FfiError) -> Self {
        let message = err.message.as_str().to_owned();
        match err.kind {
            ErrorKind::MATRIX => {
                let d: Value = serde_json::from_str(err.details.as_str()).unwrap_or(Value::Null);
                HostError::Matrix(MatrixError {
                    status: d["status"]
                        .as_u64()
                        .and_then(|s| u16::try_from(s).ok())
                        .unwrap_or(500),
                    errcode: d["errcode"].as_str().unwrap_or("M_UNKNOWN").to_owned(),
                    error: d["error"].as_str().map_or(message, str::to_owned),
                    fields: d["fields"].as_object().cloned().unwrap_or_default(),
                })
            }
            ErrorKind::BAD_VALUE => HostError::BadValue(message),
            ErrorKind::UNSUPPORTED => HostError::Unsupported(message),
            _ => HostError::Internal(message),
        }
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for HostError {}

impl From<WireError> for HostError {
    fn from(e: WireError) -> Self {
        HostError::BadValue(e.message().to_owned())
    }
}

impl From<HostError> for ModuleError {
    fn from(e: HostError) -> Self {
        match e {
            // Read exactly as the SDK has always read a MATRIX error from its details.
            matrix @ HostError::Matrix(_) => {
                let ffi = matrix.into_ffi();
                ModuleError::from_matrix_details(ffi.message.as_str(), ffi.details.as_str())
            }
            other => ModuleError::new(other.message()),
        }
    }
}

#[cfg(test)]
mod tests;
