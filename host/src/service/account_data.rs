//! Account data writes (spec §"Client Config"): stored, delivered by `/sync`, and announced
//! to modules' `on_account_data_updated`, whoever writes (client, read markers, module API).

use serde_json::Value;

use crate::error::MatrixResult;
use crate::state::AppState;

/// Store `content` as `user_id`'s account data of `data_type` (in `room_id`, or global),
/// wake their `/sync`, then tell the modules.
pub async fn put(
    state: &AppState,
    user_id: &str,
    room_id: Option<&str>,
    data_type: &str,
    content: &Value,
) -> MatrixResult<()> {
    state
        .store
        .put_account_data(user_id, room_id, data_type, content)
        .await?;
    state.wake_user(user_id);
    state
        .modules
        .on_account_data_updated(user_id, room_id, data_type, content)
        .await;
    Ok(())
}
