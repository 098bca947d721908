//! Devices (client-server spec v1.12 §"Device management"): what goes with a device,
//! whichever endpoint removes it; reading and renaming one.

use serde_json::{json, Value};

use crate::error::{MatrixError, MatrixResult};
use crate::service::auth::Requester;
use crate::state::AppState;

/// Remove `who`'s device `device_id`: modules' `on_logged_out` (with the access token when
/// it is the requester's own device; tokens are stored hashed, so `""` otherwise), then the
/// device with its tokens and pushers, then its keys and to-device queue, announced in others'
/// `device_lists`. Returns whether the device existed.
pub async fn remove_device(
    state: &AppState,
    who: &Requester,
    device_id: &str,
) -> MatrixResult<bool> {
    let exists = state
        .store
        .devices(&who.user_id)
        .await?
        .iter()
        .any(|(d, _)| d == device_id);
    if !exists {
        return Ok(false);
    }
    let token = if device_id == who.device_id {
        who.access_token.as_str()
    } else {
        ""
    };
    state
        .modules
        .on_logged_out(&who.user_id, Some(device_id), token)
        .await;
    state.store.delete_device(&who.user_id, device_id).await?;
    crate::service::device_lists::device_removed(state, &who.user_id, device_id).await?;
    Ok(true)
}

/// Synapse's limit on a device's display name (characters).
const MAX_DEVICE_DISPLAY_NAME: usize = 100;

/// `PUT /devices/{deviceId}` (client-server spec v1.12 §"Device management"): rename `who`'s
/// device `device_id` to `display_name` (`None` clears it), announced in the `device_lists`
/// of those sharing a room (their clients show device names). Errors: 404 `M_NOT_FOUND` for
/// a device the user does not have, 400 `M_UNKNOWN` for a name over 100 characters.
pub async fn rename_device(
    state: &AppState,
    who: &Requester,
    device_id: &str,
    display_name: Option<&str>,
) -> MatrixResult<()> {
    if display_name.is_some_and(|n| n.chars().count() > MAX_DEVICE_DISPLAY_NAME) {
        return Err(MatrixError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "M_UNKNOWN",
            format!("Device display name is too long (max {MAX_DEVICE_DISPLAY_NAME})"),
        ));
    }
    let user = who.user_id.as_str();
    if !(state.store)
        .set_device_display_name(user, device_id, display_name)
        .await?
    {
        return Err(MatrixError::not_found("Unknown device"));
    }
    state.store.record_device_list_change(user).await?;
    state.wake(crate::service::notifier::Wake::Peers(user.to_string()));
    Ok(())
}

/// `GET /devices/{deviceId}`: `{device_id, display_name}` of `who`'s device. Errors: 404
/// `M_NOT_FOUND` for a device the user does not have.
pub async fn device(state: &AppState, who: &Requester, device_id: &str) -> MatrixResult<Value> {
    let devices = state.store.devices(&who.user_id).await?;
    match devices.into_iter().find(|(id, _)| id == device_id) {
        Some((id, name)) => Ok(json!({"device_id": id, "display_name": name})),
        None => Err(MatrixError::not_found("Unknown device")),
    }
}
