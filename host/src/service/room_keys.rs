//! Server-side key backups (client-server spec v1.12 §"Server-side key backups",
//! `/room_keys/version*` and `/room_keys/keys*`), answered as Synapse answers them. The
//! server never looks inside `auth_data` or `session_data`: it keeps each backup version's
//! encrypted sessions, picks the better copy when a session is uploaded twice, and counts
//! changes in an etag so clients know when to fetch again.
//!
//! Versions are numbers the server hands out as decimal strings; a version string that is
//! not a number names no version (404), as in Synapse.

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use crate::error::{MatrixError, MatrixResult};
use crate::service::auth::Requester;
use crate::state::AppState;
use crate::storage::{BackupKey, BackupVersion, KeyUpload};

/// Which keys of a backup version a `/room_keys/keys` request addresses.
#[derive(Debug, Clone, Copy)]
pub enum KeyScope<'a> {
    /// `/room_keys/keys`: every room.
    All,
    /// `/room_keys/keys/{roomId}`: one room's sessions.
    Room(&'a str),
    /// `/room_keys/keys/{roomId}/{sessionId}`: one session.
    Session(&'a str, &'a str),
}

impl<'a> KeyScope<'a> {
    fn room(self) -> Option<&'a str> {
        match self {
            KeyScope::All => None,
            KeyScope::Room(room) | KeyScope::Session(room, _) => Some(room),
        }
    }

    fn session(self) -> Option<&'a str> {
        match self {
            KeyScope::Session(_, session) => Some(session),
            _ => None,
        }
    }
}

fn unknown_version() -> MatrixError {
    MatrixError::not_found("Unknown backup version")
}

/// Our versions are all numbers, so any other string names a version that does not exist.
fn parse_version(version: &str) -> Option<i64> {
    version.parse().ok()
}

fn object_text(body: &Map<String, Value>, field: &str) -> MatrixResult<String> {
    match body.get(field) {
        Some(v @ Value::Object(_)) => Ok(v.to_string()),
        _ => Err(MatrixError::bad_json(format!(
            "{field} must be a JSON object"
        ))),
    }
}

fn algorithm_of(body: &Map<String, Value>) -> MatrixResult<&str> {
    body.get("algorithm")
        .and_then(Value::as_str)
        .ok_or_else(|| MatrixError::bad_json("algorithm must be a string"))
}

fn stored_json(text: &str) -> MatrixResult<Value> {
    serde_json::from_str(text).map_err(|e| {
        tracing::error!("stored key backup JSON does not parse: {e}");
        MatrixError::internal()
    })
}

/// Create a new backup version (`POST /room_keys/version`); it becomes the current one.
/// `body` needs `algorithm` (string) and `auth_data` (object). Returns `{"version": "<n>"}`.
/// Errors: 400 `M_BAD_JSON` when a field is missing or of the wrong type.
pub async fn create_version(
    state: &AppState,
    who: &Requester,
    body: &Map<String, Value>,
) -> MatrixResult<Value> {
    let algorithm = algorithm_of(body)?;
    let auth_data = object_text(body, "auth_data")?;
    let version = state
        .store
        .create_backup_version(&who.user_id, algorithm, &auth_data)
        .await?;
    Ok(json!({"version": version.to_string()}))
}

async fn live_version(
    state: &AppState,
    who: &Requester,
    version: Option<&str>,
) -> MatrixResult<Option<BackupVersion>> {
    let number = match version {
        None => None,
        Some(v) => match parse_version(v) {
            Some(n) => Some(n),
            None => return Ok(None),
        },
    };
    Ok(state.store.backup_version(&who.user_id, number).await?)
}

/// A backup version's description (`GET /room_keys/version[/{version}]`; `version` `None`
/// for the current one): `{algorithm, auth_data, version, count, etag}`, `count` the keys it
/// holds and `etag` a string that changes whenever they change. Errors: 404 `M_NOT_FOUND`
/// "No backup found" when there is no such (live) version.
pub async fn version_info(
    state: &AppState,
    who: &Requester,
    version: Option<&str>,
) -> MatrixResult<Value> {
    let info = live_version(state, who, version)
        .await?
        .ok_or_else(|| MatrixError::not_found("No backup found"))?;
    let count = state
        .store
        .count_backup_keys(&who.user_id, info.version)
        .await?;
    Ok(json!({
        "algorithm": info.algorithm,
        "auth_data": stored_json(&info.auth_data)?,
        "version": info.version.to_string(),
        "count": count,
        "etag": info.etag.to_string(),
    }))
}

/// Replace a backup version's `auth_data` (`PUT /room_keys/version/{version}`). `body` has
/// `algorithm` (must equal the stored one), optionally `auth_data` (object) and `version`
/// (must equal the path's). Returns `{}`. Errors: 400 `M_BAD_JSON` for wrong field types;
/// 400 `M_INVALID_PARAM` "Version in body does not match" / "Algorithm does not match";
/// 404 `M_NOT_FOUND` "Unknown backup version".
pub async fn update_version(
    state: &AppState,
    who: &Requester,
    version: &str,
    body: &Map<String, Value>,
) -> MatrixResult<Value> {
    let algorithm = algorithm_of(body)?;
    let auth_data = match body.get("auth_data") {
        None => None,
        Some(_) => Some(object_text(body, "auth_data")?),
    };
    if body.get("version").is_some_and(|v| v != version) {
        return Err(MatrixError::invalid_param("Version in body does not match"));
    }
    let info = live_version(state, who, Some(version))
        .await?
        .ok_or_else(unknown_version)?;
    if info.algorithm != algorithm {
        return Err(MatrixError::invalid_param("Algorithm does not match"));
    }
    if let Some(auth_data) = auth_data {
        let updated = state
            .store
            .set_backup_auth_data(&who.user_id, info.version, &auth_data)
            .await?;
        if !updated {
            return Err(unknown_version());
        }
    }
    Ok(json!({}))
}

/// Delete a backup version and every key in it (`DELETE /room_keys/version/{version}`).
/// Returns `{}`. Errors: 404 `M_NOT_FOUND` "Unknown backup version" when there is no such
/// live version (deleting twice is a 404 the second time).
pub async fn delete_version(
    state: &AppState,
    who: &Requester,
    version: &str,
) -> MatrixResult<Value> {
    let Some(number) = parse_version(version) else {
        return Err(unknown_version());
    };
    if !state
        .store
        .delete_backup_version(&who.user_id, number)
        .await?
    {
        return Err(unknown_version());
    }
    Ok(json!({}))
}

fn key_json(key: &BackupKey) -> MatrixResult<Value> {
    Ok(json!({
        "first_message_index": key.first_message_index,
        "forwarded_count": key.forwarded_count,
        "is_verified": key.is_verified,
        "session_data": stored_json(&key.session_data)?,
    }))
}

/// The backed-up keys of `scope` in `version` (`GET /room_keys/keys...`): `{"rooms":
/// {room: {"sessions": {session: KeyBackupData}}}}` for all, `{"sessions": {...}}` for a
/// room (empty when it has none), the `KeyBackupData` itself for a session. Errors: 404
/// `M_NOT_FOUND` "Unknown backup version"; "No room_keys found" for a missing session.
pub async fn get_keys(
    state: &AppState,
    who: &Requester,
    version: &str,
    scope: KeyScope<'_>,
) -> MatrixResult<Value> {
    let info = live_version(state, who, Some(version))
        .await?
        .ok_or_else(unknown_version)?;
    let keys = state
        .store
        .backup_keys(&who.user_id, info.version, scope.room(), scope.session())
        .await?;
    if let KeyScope::Session(..) = scope {
        let key = keys
            .first()
            .ok_or_else(|| MatrixError::not_found("No room_keys found"))?;
        return key_json(key);
    }
    let mut rooms = Map::new();
    for key in &keys {
        let room = rooms
            .entry(key.room_id.clone())
            .or_insert_with(|| json!({"sessions": {}}));
        room["sessions"][&key.session_id] = key_json(key)?;
    }
    match scope.room() {
        Some(room) => Ok(rooms
            .remove(room)
            .unwrap_or_else(|| json!({"sessions": {}}))),
        None => Ok(json!({"rooms": rooms})),
    }
}

/// The spec's choice between two copies of a session: a verified copy beats an unverified
/// one; with equal verification the lower `first_message_index` wins (it decrypts more
/// history), then the lower `forwarded_count` (fewer hops to trust). Ties keep the old copy.
pub fn should_replace(old: &BackupKey, new: &BackupKey) -> bool {
    if old.is_verified != new.is_verified {
        return new.is_verified;
    }
    if old.first_message_index != new.first_message_index {
        return new.first_message_index < old.first_message_index;
    }
    new.forwarded_count < old.forwarded_count
}

fn parse_key(room_id: &str, session_id: &str, data: &Value) -> MatrixResult<BackupKey> {
    let Some(obj) = data.as_object() else {
        return Err(MatrixError::bad_json(format!(
            "The backup of session {session_id} in room {room_id} must be a JSON object"
        )));
    };
    parse_key_object(room_id, session_id, obj)
}

fn parse_key_object(
    room_id: &str,
    session_id: &str,
    obj: &Map<String, Value>,
) -> MatrixResult<BackupKey> {
    let at = format!("the backup of session {session_id} in room {room_id}");
    let index = |field: &str| {
        obj.get(field)
            .and_then(Value::as_i64)
            .ok_or_else(|| MatrixError::bad_json(format!("{field} must be an integer in {at}")))
    };
    let first_message_index = index("first_message_index")?;
    let forwarded_count = index("forwarded_count")?;
    let is_verified = match obj.get("is_verified") {
        Some(Value::Bool(b)) => *b,
        // Synapse's errcode for a present but non-boolean flag.
        Some(_) => {
            return Err(MatrixError::invalid_param(format!(
                "is_verified must be a boolean in {at}"
            )))
        }
        None => {
            return Err(MatrixError::bad_json(format!(
                "is_verified is missing in {at}"
            )))
        }
    };
    let session_data = object_text(obj, "session_data").map_err(|_| {
        MatrixError::bad_json(format!("session_data must be a JSON object in {at}"))
    })?;
    Ok(BackupKey {
        room_id: room_id.to_string(),
        session_id: session_id.to_string(),
        first_message_index,
        forwarded_count,
        is_verified,
        session_data,
    })
}

/// The `sessions` field of one room's `RoomKeyBackup` (`{sessionId: KeyBackupData}`).
fn sessions_of(
    room_id: &str,
    sessions: Option<&Value>,
    keys: &mut Vec<BackupKey>,
) -> MatrixResult<()> {
    let sessions = sessions.and_then(Value::as_object).ok_or_else(|| {
        MatrixError::bad_json(format!("sessions of room {room_id} must be a JSON object"))
    })?;
    for (session_id, data) in sessions {
        keys.push(parse_key(room_id, session_id, data)?);
    }
    Ok(())
}

/// The keys an upload body of `scope` carries (`KeyBackupData`, `{"sessions": ...}` or
/// `{"rooms": ...}`).
fn parse_upload(scope: KeyScope<'_>, body: &Map<String, Value>) -> MatrixResult<Vec<BackupKey>> {
    let mut keys = Vec::new();
    match scope {
        KeyScope::Session(room, session) => keys.push(parse_key_object(room, session, body)?),
        KeyScope::Room(room) => sessions_of(room, body.get("sessions"), &mut keys)?,
        KeyScope::All => {
            let Some(rooms) = body.get("rooms").and_then(Value::as_object) else {
                return Err(MatrixError::bad_json("rooms must be a JSON object"));
            };
            for (room_id, room) in rooms {
                sessions_of(room_id, room.get("sessions"), &mut keys)?;
            }
        }
    }
    Ok(keys)
}

/// Store the keys of an upload (`PUT /room_keys/keys...?version=`) into the current backup
/// version, keeping the better copy of sessions already there ([`should_replace`]). Returns
/// `{"etag": "<n>", "count": <keys in the version>}`. Errors: 400 `M_BAD_JSON` for a
/// malformed body (`session_data` not an object, indexes not integers), 400
/// `M_INVALID_PARAM` for a non-boolean `is_verified`; 404 `M_NOT_FOUND` "Version '<v>' not
/// found" when the version does not exist; 403 `M_WRONG_ROOM_KEYS_VERSION` with
/// `current_version` when it is not the current one.
pub async fn put_keys(
    state: &AppState,
    who: &Requester,
    version: &str,
    scope: KeyScope<'_>,
    body: &Map<String, Value>,
) -> MatrixResult<Value> {
    let keys = parse_upload(scope, body)?;
    let not_found = || MatrixError::not_found(format!("Version '{version}' not found"));
    let number = parse_version(version).ok_or_else(not_found)?;
    let outcome = state
        .store
        .put_backup_keys(&who.user_id, number, &keys, should_replace)
        .await?;
    match outcome {
        KeyUpload::Stored { etag, count } => Ok(json!({"etag": etag.to_string(), "count": count})),
        KeyUpload::NoBackup | KeyUpload::UnknownVersion => Err(not_found()),
        KeyUpload::WrongVersion { current } => {
            let mut err = MatrixError::new(
                StatusCode::FORBIDDEN,
                "M_WRONG_ROOM_KEYS_VERSION",
                "Wrong room_keys version",
            );
            err.fields
                .insert("current_version".into(), current.to_string().into());
            Err(err)
        }
    }
}

/// Delete the keys of `scope` from backup `version` (`DELETE /room_keys/keys...?version=`;
/// any live version, not only the current one). Returns `{"etag", "count"}` afterwards; the
/// etag changes even when nothing matched, as in Synapse. Errors: 404 `M_NOT_FOUND`
/// "Unknown backup version".
pub async fn delete_keys(
    state: &AppState,
    who: &Requester,
    version: &str,
    scope: KeyScope<'_>,
) -> MatrixResult<Value> {
    let number = parse_version(version).ok_or_else(unknown_version)?;
    let (etag, count) = state
        .store
        .delete_backup_keys(&who.user_id, number, scope.room(), scope.session())
        .await?
        .ok_or_else(unknown_version)?;
    Ok(json!({"etag": etag.to_string(), "count": count}))
}

/// Forget all key backups of `user_id` (account deactivation: the encrypted keys of an
/// account nobody can use any more are not kept, as Synapse does not keep them).
pub async fn forget_user(state: &AppState, user_id: &str) -> MatrixResult<()> {
    Ok(state.store.delete_all_backups(user_id).await?)
}
