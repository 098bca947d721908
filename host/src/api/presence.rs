//! Presence status endpoints; delivery happens in `/sync`.

use axum::extract::{Path, State};
use axum::routing::put;
use axum::Json;
use axum::Router;
use serde_json::{json, Map, Value};

use super::extract::{JsonBody, Requester};
use super::AppState;
use crate::error::{MatrixError, MatrixResult};

/// # `PUT /_matrix/client/v3/presence/{userId}/status`
pub(super) async fn put_presence_route(
    State(state): State<AppState>,
    who: Requester,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    if user_id != who.user_id {
        return Err(MatrixError::forbidden(
            "You cannot set the presence state of another user",
        ));
    }
    let presence = body
        .get("presence")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !["online", "offline", "unavailable"].contains(&presence) {
        return Err(MatrixError::bad_json(
            "presence must be online, offline or unavailable",
        ));
    }
    let status_msg = body.get("status_msg").and_then(Value::as_str);
    state
        .store
        .set_presence(&user_id, presence, status_msg)
        .await?;
    crate::service::presence::changed(&state, &user_id);
    Ok(Json(json!({})))
}

/// # `GET /_matrix/client/v3/presence/{userId}/status`
pub(super) async fn get_presence_route(
    State(state): State<AppState>,
    _who: Requester,
    Path(user_id): Path<String>,
) -> MatrixResult<Json<Value>> {
    state
        .store
        .get_presence(&user_id)
        .await?
        .map(Json)
        .ok_or_else(|| MatrixError::not_found("Presence state not found"))
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route(
        "/_matrix/client/v3/presence/{user}/status",
        put(put_presence_route).get(get_presence_route),
    )
}
