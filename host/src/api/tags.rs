//! Room tags: `GET /user/{userId}/rooms/{roomId}/tags`, `PUT`/`DELETE
//! /user/{userId}/rooms/{roomId}/tags/{tag}` (client-server spec v1.12 §"Room Tagging").

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::extract::{JsonBody, Requester};
use super::AppState;
use crate::error::MatrixResult;
use crate::service::tags;

/// # `GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags`
pub(super) async fn get_tags_route(
    State(state): State<AppState>,
    who: Requester,
    Path((user_id, room_id)): Path<(String, String)>,
) -> MatrixResult<Json<Value>> {
    tags::require_own(&who.user_id, &user_id, "get")?;
    let all = tags::tags(&state, &user_id, &room_id).await?;
    Ok(Json(json!({ "tags": all })))
}

/// # `PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}` (body `{order?}`)
pub(super) async fn put_tag_route(
    State(state): State<AppState>,
    who: Requester,
    Path((user_id, room_id, tag)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    tags::require_own(&who.user_id, &user_id, "add")?;
    tags::set_tag(&state, &user_id, &room_id, &tag, Some(body)).await?;
    Ok(Json(json!({})))
}

/// # `DELETE /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}`
pub(super) async fn delete_tag_route(
    State(state): State<AppState>,
    who: Requester,
    Path((user_id, room_id, tag)): Path<(String, String, String)>,
) -> MatrixResult<Json<Value>> {
    tags::require_own(&who.user_id, &user_id, "add")?;
    tags::set_tag(&state, &user_id, &room_id, &tag, None).await?;
    Ok(Json(json!({})))
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/_matrix/client/v3/user/{user}/rooms/{room}/tags",
            get(get_tags_route),
        )
        .route(
            "/_matrix/client/v3/user/{user}/rooms/{room}/tags/{tag}",
            put(put_tag_route).delete(delete_tag_route),
        )
}
