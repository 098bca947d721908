//! Removing devices (client-server spec v1.12 §"Device management"): what goes with a
//! device, whichever endpoint removes it.

use crate::error::MatrixResult;
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
