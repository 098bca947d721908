//! User IDs taken from clients (membership targets, `createRoom` invitees) checked against
//! the spec's grammar (appendices §"User Identifiers"): a localpart of `a-z 0-9 . _ = - / +`,
//! at most 255 bytes in all. Historical IDs (other printable ASCII) are tolerated only for
//! users that already exist here, as the spec asks of servers.

use crate::error::{MatrixError, MatrixResult};
use crate::state::AppState;

/// Check `user_id`, a user ID a client named. 400 `M_INVALID_PARAM` "Invalid user ID …" when
/// it does not parse, breaks the strict grammar (and is not a historical ID of an existing
/// local user), or is longer than 255 bytes.
pub async fn check_client_user_id(state: &AppState, user_id: &str) -> MatrixResult<()> {
    let invalid = || MatrixError::invalid_param(format!("Invalid user ID: {user_id:?}"));
    let id = ruma_common::UserId::parse(user_id).map_err(|_| invalid())?;
    if id.validate_strict().is_ok() {
        return Ok(());
    }
    if id.validate_historical().is_ok() && state.store.get_user(user_id).await?.is_some() {
        return Ok(());
    }
    Err(invalid())
}

/// [`check_client_user_id`] for each of `user_ids`.
pub async fn check_client_user_ids(state: &AppState, user_ids: &[String]) -> MatrixResult<()> {
    for user_id in user_ids {
        check_client_user_id(state, user_id).await?;
    }
    Ok(())
}
