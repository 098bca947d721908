//! Reading other devices' keys (spec §"Key management API"): `POST /keys/query` (device and
//! cross-signing keys with their signatures) and `POST /keys/claim` (one-time keys).

use serde_json::{json, Map, Value};

use crate::error::{MatrixError, MatrixResult};
use crate::service::auth::Requester;
use crate::state::AppState;

/// The failure reported for a remote server: this server does not federate.
fn remote_failure() -> Value {
    json!({"status": 503, "message": "Not ready for retry"})
}

/// `Some(server)` for a remote user, `None` for a local one; `Err` for an invalid user ID.
fn remote_server<'a>(state: &AppState, user_id: &'a str) -> Result<Option<&'a str>, ()> {
    let user = <&ruma_common::UserId>::try_from(user_id).map_err(|_| ())?;
    let server = user.server_name().as_str();
    Ok((server != state.config.server_name).then_some(server))
}

/// Add the stored `signatures` rows of `target_key_id` to `key.signatures`: all of them
/// (`viewer` `None`, device keys), or only those `viewer` made (cross-signing keys, as
/// Synapse: who signed someone's master key is the signer's business).
async fn merge_signatures(
    state: &AppState,
    viewer: Option<&str>,
    owner: &str,
    target_key_id: &str,
    key: &mut Value,
) -> MatrixResult<()> {
    for row in state.store.signatures_on(owner, target_key_id).await? {
        if viewer.is_some_and(|v| v != row.signer_user_id) {
            continue;
        }
        let Some(obj) = key.as_object_mut() else {
            return Ok(());
        };
        let signatures = obj.entry("signatures").or_insert_with(|| json!({}));
        if let Some(signatures) = signatures.as_object_mut() {
            let by_signer = signatures
                .entry(row.signer_user_id.clone())
                .or_insert_with(|| json!({}));
            if let Some(by_signer) = by_signer.as_object_mut() {
                by_signer.insert(row.signer_key_id, Value::String(row.signature));
            }
        }
    }
    Ok(())
}

/// The public key of a cross-signing key object (its single `keys` value), which is also
/// its "device ID" in signatures.
pub fn cross_signing_public_key(key: &Value) -> Option<String> {
    let keys = key.get("keys")?.as_object()?;
    (keys.len() == 1).then(|| keys.values().next()?.as_str().map(str::to_string))?
}

/// `user_id`'s cross-signing key of `key_type` with the signatures `viewer` may see.
pub async fn cross_signing_key(
    state: &AppState,
    viewer: &str,
    user_id: &str,
    key_type: &str,
) -> MatrixResult<Option<Value>> {
    let Some(text) = state.store.cross_signing_key(user_id, key_type).await? else {
        return Ok(None);
    };
    let mut key: Value = serde_json::from_str(&text).map_err(|_| MatrixError::internal())?;
    if let Some(public) = cross_signing_public_key(&key) {
        merge_signatures(state, Some(viewer), user_id, &public, &mut key).await?;
    }
    Ok(Some(key))
}

/// A local user's device keys, with all signatures and display names: `{device_id: keys}`.
async fn local_device_keys(
    state: &AppState,
    user_id: &str,
    device_ids: &[String],
) -> MatrixResult<Map<String, Value>> {
    let mut devices = Map::new();
    for row in state.store.device_keys_of(user_id, device_ids).await? {
        let Ok(mut keys) = serde_json::from_str::<Value>(&row.key_json) else {
            continue;
        };
        merge_signatures(state, None, user_id, &row.device_id, &mut keys).await?;
        if let (Some(name), Some(obj)) = (row.display_name, keys.as_object_mut()) {
            obj.insert("unsigned".into(), json!({"device_display_name": name}));
        }
        devices.insert(row.device_id, keys);
    }
    Ok(devices)
}

/// `POST /keys/query`: `body.device_keys` is `{user_id: [device_id, ...]}` (empty list: all
/// devices). Returns `device_keys`, `master_keys`, `self_signing_keys`, `user_signing_keys`
/// (the requester's own only) and `failures` (`{server: {status, message}}` for remote
/// users). Invalid user IDs are skipped, as Synapse does. Errors: 400 `M_BAD_JSON` when
/// `device_keys` is not an object of string lists.
pub async fn query(
    state: &AppState,
    who: &Requester,
    body: &Map<String, Value>,
) -> MatrixResult<Value> {
    let Some(wanted) = body.get("device_keys").and_then(Value::as_object) else {
        return Err(MatrixError::bad_json("'device_keys' must be a JSON object"));
    };
    let lists_ok = wanted
        .values()
        .all(|v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string)));
    if !lists_ok {
        return Err(MatrixError::bad_json(
            "'device_keys' values must be a list of strings",
        ));
    }
    let mut out: [Map<String, Value>; 5] = Default::default();
    let [device_keys, master, self_signing, user_signing, failures] = &mut out;
    let viewer = who.user_id.as_str();
    for (user_id, devices) in wanted {
        match remote_server(state, user_id) {
            Err(()) => continue,
            Ok(Some(server)) => {
                failures.insert(server.to_string(), remote_failure());
                continue;
            }
            Ok(None) => {}
        }
        let device_ids: Vec<String> = serde_json::from_value(devices.clone()).unwrap_or_default();
        let keys = local_device_keys(state, user_id, &device_ids).await?;
        device_keys.insert(user_id.clone(), Value::Object(keys));
        let mut sections = vec![
            ("master", &mut *master),
            ("self_signing", &mut *self_signing),
        ];
        if user_id == viewer {
            sections.push(("user_signing", &mut *user_signing));
        }
        for (key_type, section) in sections {
            if let Some(key) = cross_signing_key(state, viewer, user_id, key_type).await? {
                section.insert(user_id.clone(), key);
            }
        }
    }
    let [device_keys, master, self_signing, user_signing, failures] = out;
    Ok(json!({
        "device_keys": device_keys,
        "master_keys": master,
        "self_signing_keys": self_signing,
        "user_signing_keys": user_signing,
        "failures": failures,
    }))
}

/// `POST /keys/claim`: `body.one_time_keys` is `{user_id: {device_id: algorithm}}`. Each
/// device hands out one one-time key of that algorithm (removed as it goes, so never twice),
/// else its fallback key. Returns `{"one_time_keys": {user: {device: {"alg:id": key}}},
/// "failures": {server: ...}}`; devices without keys are left out. Errors: 400 `M_BAD_JSON`
/// for a malformed body.
pub async fn claim(state: &AppState, body: &Map<String, Value>) -> MatrixResult<Value> {
    let wanted = match body.get("one_time_keys") {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(MatrixError::bad_json(
                "'one_time_keys' must be a JSON object",
            ))
        }
    };
    let mut claimed = Map::new();
    let mut failures = Map::new();
    for (user_id, devices) in &wanted {
        let Some(devices) = devices
            .as_object()
            .filter(|d| d.values().all(Value::is_string))
        else {
            return Err(MatrixError::bad_json(format!(
                "one_time_keys.{user_id} must map device IDs to algorithms"
            )));
        };
        match remote_server(state, user_id) {
            Err(()) => continue,
            Ok(Some(server)) => {
                failures.insert(server.to_string(), remote_failure());
                continue;
            }
            Ok(None) => {}
        }
        for (device_id, algorithm) in devices {
            let algorithm = algorithm.as_str().unwrap_or_default();
            let Some((key, _)) = state.store.claim_key(user_id, device_id, algorithm).await? else {
                continue;
            };
            let key_json: Value =
                serde_json::from_str(&key.key_json).map_err(|_| MatrixError::internal())?;
            let user = claimed.entry(user_id.clone()).or_insert_with(|| json!({}));
            user[device_id.as_str()] = json!({format!("{algorithm}:{}", key.key_id): key_json});
        }
    }
    Ok(json!({"one_time_keys": claimed, "failures": failures}))
}
