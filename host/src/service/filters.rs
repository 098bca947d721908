//! Filters (spec §"Filtering"): uploaded per user with real IDs, read back as sent, and
//! resolved for `/sync` from an ID or inline JSON.

use axum::http::StatusCode;
use serde_json::Value;

use crate::error::{MatrixError, MatrixResult};
use crate::service::auth::Requester;
use crate::service::filtering::{self, EventFilter, SyncFilter, MAX_TIMELINE_LIMIT};
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

/// 400 `M_UNKNOWN`: how Synapse answers a filter its schema rejects
/// (`synapse/api/filtering.py`, `check_valid_filter`).
fn schema_error(message: String) -> MatrixError {
    MatrixError::new(StatusCode::BAD_REQUEST, "M_UNKNOWN", message)
}

/// Store `filter` (a JSON object) for `user_id`, who must be `who`; returns its ID as the
/// spec's string. An identical filter uploaded again gets its earlier ID; a timeline limit
/// above 100 is stored as 100 (as Synapse). Errors: 403 for another user, 400 `M_UNKNOWN`
/// naming the first field the filter schema rejects.
pub async fn create(
    state: &AppState,
    who: &Requester,
    user_id: &str,
    filter: &Value,
) -> MatrixResult<String> {
    own(who, user_id, "create")?;
    filtering::validate(filter).map_err(schema_error)?;
    let mut filter = filter.clone();
    cap_timeline_limit(&mut filter);
    Ok(state.store.add_filter(user_id, &filter).await?.to_string())
}

fn cap_timeline_limit(filter: &mut Value) {
    // `pointer_mut`, not indexing: indexing would add the missing objects.
    if let Some(limit) = filter.pointer_mut("/room/timeline/limit") {
        if limit
            .as_f64()
            .is_some_and(|l| l > MAX_TIMELINE_LIMIT as f64)
        {
            *limit = MAX_TIMELINE_LIMIT.into();
        }
    }
}

/// The filter `filter_id` of `user_id` as uploaded. Errors: 403 for another user, 400
/// `M_UNKNOWN` for an ID that is not a number, 404 `M_NOT_FOUND` for an unknown one.
pub async fn get(
    state: &AppState,
    who: &Requester,
    user_id: &str,
    filter_id: &str,
) -> MatrixResult<Value> {
    own(who, user_id, "get")?;
    let id: i64 = filter_id
        .parse()
        .map_err(|_| MatrixError::new(StatusCode::BAD_REQUEST, "M_UNKNOWN", "Invalid filter_id"))?;
    state
        .store
        .get_filter(user_id, id)
        .await?
        .ok_or_else(|| MatrixError::not_found("No such filter"))
}

/// The filter a `/sync?filter=` names: inline JSON (starting with `{`) or a stored ID of
/// `user_id`; the empty filter when absent. Errors, as Synapse: 400 `M_NOT_JSON` for JSON
/// that does not parse, 400 `M_UNKNOWN` for JSON the schema rejects, 400 `M_INVALID_PARAM`
/// for an ID that is not a number (the empty string included) or names no filter.
pub async fn resolve(
    state: &AppState,
    user_id: &str,
    filter: Option<&str>,
) -> MatrixResult<SyncFilter> {
    let json = match filter {
        None => return Ok(SyncFilter::default()),
        Some(text) if text.starts_with('{') => {
            let json: Value = serde_json::from_str(text).map_err(|_| {
                MatrixError::new(StatusCode::BAD_REQUEST, "M_NOT_JSON", "Invalid filter JSON")
            })?;
            filtering::validate(&json).map_err(schema_error)?;
            json
        }
        Some(id) => {
            let id: i64 = id
                .parse()
                .map_err(|_| MatrixError::invalid_param("Invalid filter ID"))?;
            state
                .store
                .get_filter(user_id, id)
                .await?
                .ok_or_else(|| MatrixError::invalid_param("No such filter"))?
        }
    };
    Ok(SyncFilter::from_json(&json))
}

/// The `filter` query parameter of `/messages` and `/context`: a `RoomEventFilter` as JSON
/// (`None` when absent). Errors: 400 `M_NOT_JSON` when it does not parse (as Synapse), 400
/// `M_BAD_JSON` naming the first field of the wrong shape.
pub fn room_event_filter(text: Option<&str>) -> MatrixResult<Option<EventFilter>> {
    let Some(text) = text else {
        return Ok(None);
    };
    let json: Value = serde_json::from_str(text).map_err(|_| {
        MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_NOT_JSON",
            "Query parameter filter must be a valid JSON object",
        )
    })?;
    EventFilter::from_room_event_json(&json)
        .map(Some)
        .map_err(MatrixError::bad_json)
}
