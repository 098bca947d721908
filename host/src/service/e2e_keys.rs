//! Publishing a device's end-to-end encryption keys (spec §"Key management API",
//! `POST /keys/upload`), checked as Synapse checks them. Clients built on matrix-nio
//! (matrix-commander among them) upload keys on every start.

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use crate::error::{MatrixError, MatrixResult};
use crate::service::auth::Requester;
use crate::state::AppState;
use crate::storage::UploadedKey;

fn bad(error: impl Into<String>) -> MatrixError {
    MatrixError::bad_json(error)
}

fn is_string_map(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|m| m.values().all(Value::is_string))
}

fn is_signatures(v: &Value) -> bool {
    v.as_object().is_some_and(|m| m.values().all(is_string_map))
}

/// `device_keys` must be a `DeviceKeys` object of the requester's own user and device.
fn check_device_keys(who: &Requester, keys: &Value) -> MatrixResult<()> {
    let Some(obj) = keys.as_object() else {
        return Err(bad("device_keys must be an object"));
    };
    let algorithms_ok = obj
        .get("algorithms")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().all(Value::is_string));
    let fields_ok = algorithms_ok
        && obj.get("device_id").is_some_and(Value::is_string)
        && obj.get("user_id").is_some_and(Value::is_string)
        && obj.get("keys").is_some_and(is_string_map)
        && obj.get("signatures").is_some_and(is_signatures);
    if !fields_ok {
        return Err(bad(
            "device_keys needs algorithms (strings), device_id, user_id, keys (strings) and \
             signatures (user ID to key ID to signature)",
        ));
    }
    if obj["user_id"] != who.user_id.as_str() {
        return Err(bad(
            "The user_id in device_keys is not the authenticated user's",
        ));
    }
    if obj["device_id"] != who.device_id.as_str() {
        return Err(bad(
            "The device_id in device_keys is not the authenticated device's",
        ));
    }
    Ok(())
}

/// The keys of a `one_time_keys` or `fallback_keys` map: names `<algorithm>:<key_id>`,
/// values a key string or a key object (`key`, `signatures`, optional `fallback`).
fn parse_keys(field: &str, keys: Option<&Value>) -> MatrixResult<Vec<UploadedKey>> {
    let Some(keys) = keys.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let Some(map) = keys.as_object() else {
        return Err(bad(format!("{field} must be an object")));
    };
    let mut parsed = Vec::with_capacity(map.len());
    for (name, key) in map {
        let Some((algorithm, key_id)) = name.split_once(':').filter(|(_, id)| !id.contains(':'))
        else {
            return Err(bad(format!(
                "Invalid {field} key {name:?}: expected \"<algorithm>:<key_id>\""
            )));
        };
        let object_ok = key.as_object().is_some_and(|o| {
            o.get("key").is_some_and(Value::is_string)
                && o.get("signatures").is_some_and(is_signatures)
                && o.get("fallback")
                    .is_none_or(|f| f.is_boolean() || f.is_null())
        });
        if !key.is_string() && !object_ok {
            return Err(bad(format!(
                "{field}.{name} must be a key string or a key object (key, signatures)"
            )));
        }
        parsed.push(UploadedKey {
            algorithm: algorithm.to_string(),
            key_id: key_id.to_string(),
            key_json: key.to_string(),
        });
    }
    Ok(parsed)
}

/// Store the keys of `body` (`device_keys`, `one_time_keys`, `fallback_keys`, each optional)
/// for the requester's device; returns `{"one_time_key_counts": {algorithm: count}}`, which
/// always counts `signed_curve25519`. Errors: 400 `M_BAD_JSON` for a malformed body or
/// device keys of another user or device; 400 `M_UNKNOWN` when a one-time key ID is reused
/// for a different key.
pub async fn upload(
    state: &AppState,
    who: &Requester,
    body: &Map<String, Value>,
) -> MatrixResult<Value> {
    let device_keys = match body.get("device_keys") {
        None => None,
        Some(Value::Null) => return Err(bad("device_keys must not be null")),
        Some(keys) => {
            check_device_keys(who, keys)?;
            Some(keys)
        }
    };
    let one_time = parse_keys("one_time_keys", body.get("one_time_keys"))?;
    let fallback = parse_keys("fallback_keys", body.get("fallback_keys"))?;
    let (user, device) = (who.user_id.as_str(), who.device_id.as_str());
    let mut new_keys = Vec::with_capacity(one_time.len());
    for key in one_time {
        match state
            .store
            .one_time_key(user, device, &key.algorithm, &key.key_id)
            .await?
        {
            None => new_keys.push(key),
            // A client that lost our answer uploads the same keys again: not an error.
            Some(old) if old == key.key_json => {}
            Some(old) => {
                return Err(MatrixError::new(
                    StatusCode::BAD_REQUEST,
                    "M_UNKNOWN",
                    format!(
                        "One time key {}:{} already exists as {old}, not {}",
                        key.algorithm, key.key_id, key.key_json
                    ),
                ))
            }
        }
    }
    if let Some(keys) = device_keys {
        state
            .store
            .set_device_keys(user, device, &keys.to_string())
            .await?;
        // Those sharing a room re-query this user's keys (`/sync` `device_lists.changed`).
        state.store.record_device_list_change(user).await?;
        state.wake(crate::service::notifier::Wake::Peers(user.to_string()));
    }
    state
        .store
        .add_one_time_keys(user, device, &new_keys)
        .await?;
    state
        .store
        .set_fallback_keys(user, device, &fallback)
        .await?;
    let mut counts = state.store.count_one_time_keys(user, device).await?;
    counts.entry("signed_curve25519".into()).or_insert(0);
    Ok(json!({"one_time_key_counts": counts}))
}
