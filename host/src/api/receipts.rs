//! Read receipts, read markers and typing notifications; the logic is
//! `service::receipts` and `service::typing`.

use axum::extract::{Path, State};
use axum::routing::{post, put};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::extract::{JsonBody, Requester};
use super::AppState;
use crate::error::{MatrixError, MatrixResult};
use crate::service::receipts;

/// # `POST /_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId}`
async fn receipt_route(
    State(state): State<AppState>,
    who: Requester,
    Path((room_id, receipt_type, event_id)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    let thread_id = match body.get("thread_id") {
        None => None,
        Some(Value::String(t)) if !t.is_empty() => Some(t.as_str()),
        Some(_) => {
            return Err(MatrixError::invalid_param(
                "thread_id must be a non-empty string",
            ))
        }
    };
    receipts::send_receipt(
        &state,
        &who.user_id,
        &room_id,
        &receipt_type,
        &event_id,
        thread_id,
    )
    .await?;
    Ok(Json(json!({})))
}

/// # `POST /_matrix/client/v3/rooms/{roomId}/read_markers`
async fn read_markers_route(
    State(state): State<AppState>,
    who: Requester,
    Path(room_id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    receipts::set_read_markers(&state, &who.user_id, &room_id, &body).await?;
    Ok(Json(json!({})))
}

/// # `PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId}`
/// `{"typing": true, "timeout": ms}` or `{"typing": false}`, for oneself in a joined room.
async fn typing_route(
    State(state): State<AppState>,
    who: Requester,
    Path((room_id, user_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    if user_id != who.user_id {
        return Err(MatrixError::forbidden(
            "Cannot set another user's typing state",
        ));
    }
    let typing = body
        .get("typing")
        .and_then(Value::as_bool)
        .ok_or_else(|| MatrixError::bad_json("typing must be a boolean"))?;
    crate::service::rooms::require_joined(&state, &room_id, &who.user_id).await?;
    let timeout = match (typing, body.get("timeout")) {
        (false, _) => None,
        (true, None) => Some(30_000),
        (true, Some(t)) => Some(t.as_u64().ok_or_else(|| {
            MatrixError::invalid_param("timeout must be a non-negative integer (ms)")
        })?),
    };
    crate::service::typing::set_typing(&state, &room_id, &who.user_id, timeout);
    Ok(Json(json!({})))
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/_matrix/client/v3/rooms/{room}/receipt/{receipt_type}/{event_id}",
            post(receipt_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/read_markers",
            post(read_markers_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/typing/{user}",
            put(typing_route),
        )
}
