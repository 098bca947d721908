//! `POST /_matrix/client/v3/rooms/{roomId}/report/{eventId}` (client-server spec v1.12
//! §"Reporting content").

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::extract::{JsonBody, Requester};
use super::AppState;
use crate::error::{MatrixError, MatrixResult};
use crate::storage::EventReport;

/// # `POST /_matrix/client/v3/rooms/{roomId}/report/{eventId}`
/// Body: optional `reason` (string) and `score` (integer, -100..=0). 400 `M_BAD_JSON` for
/// wrongly typed fields; the rest as [`crate::service::reports::report_event`].
pub(super) async fn report_route(
    State(state): State<AppState>,
    who: Requester,
    Path((room_id, event_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    let reason = match body.get("reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) => Some(r.as_str()),
        Some(_) => return Err(MatrixError::bad_json("Param 'reason' must be a string")),
    };
    let score = match body.get("score") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| {
            MatrixError::invalid_param("Param 'score' must be an integer between -100 and 0")
        })?),
    };
    let report = EventReport {
        room_id: &room_id,
        event_id: &event_id,
        user_id: &who.user_id,
        reason,
        score,
    };
    crate::service::reports::report_event(&state, report).await?;
    Ok(Json(json!({})))
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route(
        "/_matrix/client/v3/rooms/{room}/report/{event_id}",
        post(report_route),
    )
}
