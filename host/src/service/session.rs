//! Sessions: access tokens and the devices they belong to (spec §"Client Authentication",
//! §"Login").

use rand::distributions::{Alphanumeric, DistString};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::MatrixResult;
use crate::state::AppState;

/// `len` random ASCII letters and digits (device IDs, tokens, instance names).
pub fn random_string(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), len)
}

/// The storage key of an access token: its SHA-256 in lowercase hex. Tokens themselves are
/// never stored.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Create a device (`device_id`, or a random one; a new one is announced in the
/// `device_lists` of those sharing a room) and an access token for `user_id`; returns
/// the login response body `{user_id, access_token, device_id, home_server}`.
pub async fn issue_token(
    state: &AppState,
    user_id: &str,
    device_id: Option<String>,
    display_name: Option<&str>,
) -> MatrixResult<Value> {
    let device_id = device_id.unwrap_or_else(|| random_string(10).to_uppercase());
    let token = format!("mh_{}", random_string(40));
    let new_device = (state.store)
        .create_token(user_id, &device_id, display_name, &hash_token(&token))
        .await?;
    if new_device {
        // Those sharing a room list the user in `device_lists.changed` (as Synapse does for a
        // new device), so their clients learn of it before it uploads keys.
        state.store.record_device_list_change(user_id).await?;
        state.wake(crate::service::notifier::Wake::Peers(user_id.to_string()));
    }
    Ok(json!({
        "user_id": user_id,
        "access_token": token,
        "device_id": device_id,
        "home_server": state.config.server_name,
    }))
}
