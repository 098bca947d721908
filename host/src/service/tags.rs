//! Room tags (client-server spec v1.12 §"Room Tagging"): kept as the room's `m.tag` account
//! data, `{"tags": {tag: {order?}}}`, so `/sync` delivers them with the room's account data.
//! As in Synapse, tag changes do not fire `on_account_data_updated`.

use serde_json::{json, Map, Value};

use crate::error::{MatrixError, MatrixResult};
use crate::state::AppState;

/// Longest tag name, in bytes (the spec's limit).
pub const MAX_TAG_BYTES: usize = 255;

/// The caller may only read and change their own tags: 403 `M_FORBIDDEN` otherwise.
pub fn require_own(requester: &str, user_id: &str, verb: &str) -> MatrixResult<()> {
    if requester != user_id {
        return Err(MatrixError::forbidden(format!(
            "Cannot {verb} tags for other users."
        )));
    }
    Ok(())
}

/// `user_id`'s tags on `room_id`: `{tag: {order?}}` (empty when none).
pub async fn tags(
    state: &AppState,
    user_id: &str,
    room_id: &str,
) -> MatrixResult<Map<String, Value>> {
    let stored = state
        .store
        .get_account_data(user_id, Some(room_id), "m.tag")
        .await?;
    Ok(stored
        .and_then(|v| v.get("tags").and_then(Value::as_object).cloned())
        .unwrap_or_default())
}

/// Set (`Some(content)`: `{order?}`) or remove (`None`) `tag` on `room_id` for `user_id`.
/// 400 `M_INVALID_PARAM` for a tag over [`MAX_TAG_BYTES`] bytes or a non-numeric `order`.
pub async fn set_tag(
    state: &AppState,
    user_id: &str,
    room_id: &str,
    tag: &str,
    content: Option<Map<String, Value>>,
) -> MatrixResult<()> {
    if tag.len() > MAX_TAG_BYTES {
        return Err(MatrixError::invalid_param(format!(
            "Tag names must be at most {MAX_TAG_BYTES} bytes"
        )));
    }
    if let Some(order) = content.as_ref().and_then(|c| c.get("order")) {
        if !order.is_number() {
            return Err(MatrixError::invalid_param("order must be a number"));
        }
    }
    let mut all = tags(state, user_id, room_id).await?;
    match content {
        Some(c) => {
            all.insert(tag.to_string(), Value::Object(c));
        }
        None => {
            all.remove(tag);
        }
    }
    state
        .store
        .put_account_data(user_id, Some(room_id), "m.tag", &json!({ "tags": all }))
        .await?;
    state.wake_user(user_id);
    Ok(())
}
