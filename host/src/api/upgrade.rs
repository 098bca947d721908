//! `POST /rooms/{roomId}/upgrade`; the upgrade itself is `service::upgrade`.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::Json;
use axum::Router;
use serde_json::{json, Map, Value};

use super::extract::{JsonBody, Requester};
use super::AppState;
use crate::error::{MatrixError, MatrixResult};

/// # `POST /_matrix/client/v3/rooms/{roomId}/upgrade`
pub(super) async fn upgrade_route(
    State(state): State<AppState>,
    who: Requester,
    Path(room_id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    let new_version = body
        .get("new_version")
        .and_then(Value::as_str)
        .ok_or_else(|| MatrixError::bad_json("Missing new_version"))?;
    let new_room =
        crate::service::upgrade::upgrade_room(&state, &who, &room_id, new_version).await?;
    Ok(Json(json!({"replacement_room": new_room})))
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route(
        "/_matrix/client/v3/rooms/{room}/upgrade",
        post(upgrade_route),
    )
}
