//! Filters (spec §"Filtering"): uploaded per user with real IDs, read back as sent, and
//! resolved for `/sync` from an ID or inline JSON.

use axum::http::StatusCode;
use serde_json::Value;

use crate::error::{MatrixError, MatrixResult};
use crate::service::auth::Requester;
use crate::state::AppState;

fn own(who: &Requester, user_id: &str, verb: &str) -> MatrixResult<()> {
    if who.user_id == user_id {
        Ok(())
    } else {
        Err(MatrixError::forbidden(format!(
            "Cannot {verb} filters for other users"
        )))
    }
}

/// Store `filter` (a JSON object) for `user_id`, who must be `who`; returns the new ID as
/// the spec's string. Errors: 403 for another user, 400 `M_BAD_JSON` for a non-object.
pub async fn create(
    state: &AppState,
    who: &Requester,
    user_id: &str,
    filter: &Value,
) -> MatrixResult<String> {
    own(who, user_id, "create")?;
    if !filter.is_object() {
        return Err(MatrixError::bad_json("A filter must be a JSON object"));
    }
    Ok(state.store.add_filter(user_id, filter).await?.to_string())
}

/// The filter `filter_id` of `user_id` as uploaded. Errors: 403 for another user, 404
/// `M_NOT_FOUND` for an unknown ID.
pub async fn get(
    state: &AppState,
    who: &Requester,
    user_id: &str,
    filter_id: &str,
) -> MatrixResult<Value> {
    own(who, user_id, "get")?;
    let not_found = || MatrixError::not_found("No such filter");
    let id: i64 = filter_id.parse().map_err(|_| not_found())?;
    state
        .store
        .get_filter(user_id, id)
        .await?
        .ok_or_else(not_found)
}

/// The filter a `/sync?filter=` names: inline JSON (starting with `{`) or a stored ID of
/// `user_id`; `{}` when absent. Errors: 400 `M_INVALID_PARAM` for JSON that does not parse,
/// 404 `M_NOT_FOUND` for an unknown ID.
pub async fn resolve(state: &AppState, user_id: &str, filter: Option<&str>) -> MatrixResult<Value> {
    match filter {
        None => Ok(Value::Object(Default::default())),
        Some(text) if text.trim_start().starts_with('{') => {
            serde_json::from_str(text).map_err(|e| {
                MatrixError::new(
                    StatusCode::BAD_REQUEST,
                    "M_INVALID_PARAM",
                    format!("Invalid filter JSON: {e}"),
                )
            })
        }
        Some(id) => {
            let id: i64 = id
                .parse()
                .map_err(|_| MatrixError::not_found("No such filter"))?;
            state
                .store
                .get_filter(user_id, id)
                .await?
                .ok_or_else(|| MatrixError::not_found("No such filter"))
        }
    }
}

/// The timeline limit a filter sets (`room.timeline.limit`), 20 by default, held to 1–100.
pub fn timeline_limit(filter: &Value) -> i64 {
    filter["room"]["timeline"]["limit"]
        .as_i64()
        .unwrap_or(20)
        .clamp(1, 100)
}
