//! Cross-signing (spec §"Cross-signing"): uploading a user's master, self-signing and
//! user-signing keys (`POST /keys/device_signing/upload`) and signatures made with them
//! (`POST /keys/signatures/upload`), each checked as Synapse checks them.

use axum::http::StatusCode;
use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::{json, Map, Value};

use crate::error::{MatrixError, MatrixResult};
use crate::service::auth::Requester;
use crate::service::keys_query::cross_signing_public_key;
use crate::state::AppState;
use crate::storage::SignatureRow;

/// The body fields of a key upload and the stored key types they set.
const KEY_FIELDS: [(&str, &str); 3] = [
    ("master_key", "master"),
    ("self_signing_key", "self_signing"),
    ("user_signing_key", "user_signing"),
];

/// Decode unpadded (or padded) standard base64.
fn unbase64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()
}

/// Whether `signed` carries a valid ed25519 signature by `signer`'s key `key_id`
/// (`ed25519:<id>`), whose public key is `public_key` (base64), over its canonical JSON
/// without `signatures` and `unsigned` (spec §"Signing JSON").
pub fn signature_valid(signed: &Value, signer: &str, key_id: &str, public_key: &str) -> bool {
    let Some(sig) = signed["signatures"][signer][key_id]
        .as_str()
        .and_then(unbase64)
    else {
        return false;
    };
    let Some(mut object) = signed.as_object().cloned() else {
        return false;
    };
    object.remove("signatures");
    object.remove("unsigned");
    let Ok(canonical) = ruma_common::CanonicalJsonValue::try_from(Value::Object(object)) else {
        return false;
    };
    let (Some(key), Ok(sig)) = (
        unbase64(public_key).and_then(|k| <[u8; 32]>::try_from(k).ok()),
        <[u8; 64]>::try_from(sig),
    ) else {
        return false;
    };
    let Ok(key) = VerifyingKey::from_bytes(&key) else {
        return false;
    };
    key.verify(
        canonical.to_string().as_bytes(),
        &Signature::from_bytes(&sig),
    )
    .is_ok()
}

/// What a `device_signing/upload` needs before it may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadPlan {
    /// Every key sent is already stored: answer `{}` and do nothing.
    Unchanged,
    /// No master key yet: first setup, allowed without UIA (MSC3967).
    FirstSetup,
    /// Keys would be replaced: user-interactive auth first.
    NeedsAuth,
}

/// Decide how `body` of `POST /keys/device_signing/upload` is to be handled.
pub async fn upload_plan(
    state: &AppState,
    who: &Requester,
    body: &Map<String, Value>,
) -> MatrixResult<UploadPlan> {
    let mut different = false;
    for (field, key_type) in KEY_FIELDS {
        if let Some(key) = body.get(field) {
            let stored = state
                .store
                .cross_signing_key(&who.user_id, key_type)
                .await?;
            let stored: Option<Value> = stored.and_then(|s| serde_json::from_str(&s).ok());
            different |= stored.as_ref() != Some(key);
        }
    }
    if !different {
        return Ok(UploadPlan::Unchanged);
    }
    let has_master = state
        .store
        .cross_signing_key(&who.user_id, "master")
        .await?
        .is_some();
    Ok(if has_master {
        UploadPlan::NeedsAuth
    } else {
        UploadPlan::FirstSetup
    })
}

/// Check a cross-signing key object of `user_id` for `usage` `key_type`, and with
/// `signer = (key_id, public_key)` its signature by the master key. Errors: 400
/// `M_INVALID_PARAM` "Invalid <type> key", 400 `M_INVALID_SIGNATURE`.
fn check_key(
    key: &Value,
    user_id: &str,
    key_type: &str,
    signer: Option<(&str, &str)>,
) -> MatrixResult<()> {
    let usage_ok = key["usage"]
        .as_array()
        .is_some_and(|u| u.iter().any(|x| x == key_type));
    if key["user_id"] != user_id || !usage_ok || cross_signing_public_key(key).is_none() {
        return Err(MatrixError::invalid_param(format!(
            "Invalid {key_type} key"
        )));
    }
    if let Some((key_id, public)) = signer {
        if !signature_valid(key, user_id, key_id, public) {
            return Err(MatrixError::new(
                StatusCode::BAD_REQUEST,
                "M_INVALID_SIGNATURE",
                format!("Invalid signature on {key_type} key"),
            ));
        }
    }
    Ok(())
}

/// Store the cross-signing keys of `body` (`master_key`, `self_signing_key`,
/// `user_signing_key`, each optional; the latter two signed by the new or stored master
/// key) and tell those sharing a room. Returns `{}`. Errors: 400 `M_MISSING_PARAM` "No
/// master key available"; see [`check_key`].
pub async fn upload_keys(
    state: &AppState,
    who: &Requester,
    body: &Map<String, Value>,
) -> MatrixResult<Value> {
    let user = who.user_id.as_str();
    let master = match body.get("master_key") {
        Some(key) => {
            check_key(key, user, "master", None)?;
            Some(key.clone())
        }
        None => crate::service::keys_query::cross_signing_key(state, user, user, "master").await?,
    };
    let Some(master) = master else {
        return Err(MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_MISSING_PARAM",
            "No master key available",
        ));
    };
    let public = cross_signing_public_key(&master).ok_or_else(MatrixError::internal)?;
    let master_id = format!("ed25519:{public}");
    let mut keys = Vec::new();
    for (field, key_type) in KEY_FIELDS {
        let Some(key) = body.get(field) else { continue };
        if key_type != "master" {
            check_key(key, user, key_type, Some((&master_id, &public)))?;
        }
        keys.push((key_type, key.to_string()));
    }
    state.store.set_cross_signing_keys(user, &keys).await?;
    state.wake(crate::service::notifier::Wake::Peers(user.to_string()));
    Ok(json!({}))
}

/// A `failures` entry: `{status, errcode, message}`.
fn failure(status: u16, errcode: &str, message: impl Into<String>) -> Value {
    json!({"status": status, "errcode": errcode, "message": message.into()})
}

fn invalid_signature() -> Value {
    failure(400, "M_INVALID_SIGNATURE", "Invalid signature")
}

/// Whether `sent` and `stored` are the same key apart from signatures and `unsigned`.
fn same_key(sent: &Value, stored: &Value) -> bool {
    let strip = |v: &Value| {
        let mut o = v.as_object().cloned().unwrap_or_default();
        o.remove("signatures");
        o.remove("unsigned");
        o
    };
    strip(sent) == strip(stored)
}

/// Check a signature of `target` (a stored key of `target_user`) by `signer`'s key
/// `(key_id, public_key)`; the signature row to store, or the failure.
fn check_signature(
    sent: &Value,
    stored: &Value,
    signer: &str,
    (key_id, public): (&str, &str),
    (target_user, target_key): (&str, &str),
) -> Result<SignatureRow, Value> {
    let Some(signature) = sent["signatures"][signer][key_id].as_str() else {
        return Err(invalid_signature());
    };
    if !same_key(sent, stored) {
        return Err(failure(400, "M_UNKNOWN", "Key does not match"));
    }
    if !signature_valid(sent, signer, key_id, public) {
        return Err(invalid_signature());
    }
    Ok(SignatureRow {
        target_user_id: target_user.to_string(),
        target_key_id: target_key.to_string(),
        signer_user_id: signer.to_string(),
        signer_key_id: key_id.to_string(),
        signature: signature.to_string(),
    })
}

/// A 404 failure for a missing cross-signing key.
fn no_key(key_type: &str, user_id: &str) -> Value {
    failure(
        404,
        "M_NOT_FOUND",
        format!("No {key_type} key found for {user_id}"),
    )
}

/// The stored cross-signing key `key_type` of `user_id` (as `viewer` sees it) with its
/// `(key ID, public key)`, or the 404 failure.
async fn key_with_id(
    state: &AppState,
    viewer: &str,
    user_id: &str,
    key_type: &str,
) -> MatrixResult<Result<(Value, String, String), Value>> {
    let key =
        crate::service::keys_query::cross_signing_key(state, viewer, user_id, key_type).await?;
    Ok(
        match key.and_then(|k| cross_signing_public_key(&k).map(|p| (k, p))) {
            Some((key, public)) => Ok((key, format!("ed25519:{public}"), public)),
            None => Err(no_key(key_type, user_id)),
        },
    )
}

/// `POST /keys/signatures/upload`: `body` is `{user_id: {key_id: signed key}}`. Signatures
/// of the requester's devices (by their self-signing key) and master key (by their devices),
/// and of other users' master keys (by the requester's user-signing key) are checked and
/// stored. Returns `{"failures": {user_id: {key_id: {status, errcode, message}}}}`. Errors:
/// 400 `M_INVALID_PARAM` when an entry is not an object.
pub async fn upload_signatures(
    state: &AppState,
    who: &Requester,
    body: &Map<String, Value>,
) -> MatrixResult<Value> {
    let mut rows = Vec::new();
    let mut failures = Map::new();
    for (target, keys) in body {
        let keys = keys
            .as_object()
            .filter(|k| k.values().all(Value::is_object))
            .ok_or_else(|| MatrixError::invalid_param("Invalid parameter"))?;
        let outcome = if *target == who.user_id {
            own_signatures(state, &who.user_id, keys).await?
        } else {
            other_signatures(state, &who.user_id, target, keys).await?
        };
        for (key_id, result) in outcome {
            match result {
                Ok(row) => rows.push(row),
                Err(f) => {
                    let entry = failures.entry(target.clone()).or_insert_with(|| json!({}));
                    entry[key_id.as_str()] = f;
                }
            }
        }
    }
    if !rows.is_empty() {
        state.store.add_signatures(&rows).await?;
        state.wake(crate::service::notifier::Wake::Peers(who.user_id.clone()));
    }
    Ok(json!({"failures": failures}))
}

/// One outcome per signed key: the row to store or the failure.
type Outcomes = Vec<(String, Result<SignatureRow, Value>)>;

/// Signatures of `user`'s own devices (by the self-signing key) and master key (by a device).
async fn own_signatures(
    state: &AppState,
    user: &str,
    keys: &Map<String, Value>,
) -> MatrixResult<Outcomes> {
    let fail_all = |f: Value| keys.keys().map(|k| (k.clone(), Err(f.clone()))).collect();
    let (ssk_id, ssk_public) = match key_with_id(state, user, user, "self_signing").await? {
        Ok((_, id, public)) => (id, public),
        Err(f) => return Ok(fail_all(f)),
    };
    let (master, master_public) = match key_with_id(state, user, user, "master").await? {
        Ok((key, _, public)) => (key, public),
        Err(f) => return Ok(fail_all(f)),
    };
    let devices = state.store.device_keys_of(user, &[]).await?;
    let devices: Map<String, Value> = devices
        .into_iter()
        .filter_map(|d| Some((d.device_id, serde_json::from_str(&d.key_json).ok()?)))
        .collect();
    let mut out = Vec::new();
    for (key_id, sent) in keys {
        let result = if *key_id == master_public {
            master_signed_by_device(sent, &master, user, &master_public, &devices)
        } else {
            match devices.get(key_id) {
                None => Err(failure(404, "M_NOT_FOUND", "Unknown device")),
                Some(stored) => {
                    check_signature(sent, stored, user, (&ssk_id, &ssk_public), (user, key_id))
                }
            }
        };
        out.push((key_id.clone(), result));
    }
    Ok(out)
}

/// A signature of `user`'s master key by one of their devices' ed25519 keys.
fn master_signed_by_device(
    sent: &Value,
    master: &Value,
    user: &str,
    master_public: &str,
    devices: &Map<String, Value>,
) -> Result<SignatureRow, Value> {
    let by_user = sent["signatures"][user]
        .as_object()
        .ok_or_else(invalid_signature)?;
    let (key_id, _) = by_user.iter().next().ok_or_else(invalid_signature)?;
    let device_id = key_id.split_once(':').map_or("", |(_, d)| d);
    let public = devices
        .get(device_id)
        .and_then(|d| d["keys"][key_id].as_str())
        .ok_or_else(invalid_signature)?;
    check_signature(sent, master, user, (key_id, public), (user, master_public))
}

/// Signatures of `target`'s master key by `user`'s user-signing key.
async fn other_signatures(
    state: &AppState,
    user: &str,
    target: &str,
    keys: &Map<String, Value>,
) -> MatrixResult<Outcomes> {
    let fail_all = |f: Value| keys.keys().map(|k| (k.clone(), Err(f.clone()))).collect();
    let (usk_id, usk_public) = match key_with_id(state, user, user, "user_signing").await? {
        Ok((_, id, public)) => (id, public),
        Err(f) => return Ok(fail_all(f)),
    };
    let (master, master_public) = match key_with_id(state, user, target, "master").await? {
        Ok((key, _, public)) => (key, public),
        Err(f) => return Ok(fail_all(f)),
    };
    if !keys.contains_key(&master_public) {
        return Ok(fail_all(failure(404, "M_NOT_FOUND", "Unknown device")));
    }
    let mut out = Vec::new();
    for (key_id, sent) in keys {
        let result = if *key_id == master_public {
            check_signature(
                sent,
                &master,
                user,
                (&usk_id, &usk_public),
                (target, &master_public),
            )
        } else {
            Err(failure(404, "M_NOT_FOUND", "Unknown device"))
        };
        out.push((key_id.clone(), result));
    }
    Ok(out)
}
