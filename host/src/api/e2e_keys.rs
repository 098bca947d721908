//! End-to-end encryption key management: uploading a device's keys.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Map, Value};

use super::extract::{JsonBody, Requester};
use super::AppState;
use crate::error::MatrixResult;

/// # `POST /_matrix/client/v3/keys/upload`
/// The checks and storage are `service::e2e_keys::upload`.
pub(super) async fn upload_route(
    State(state): State<AppState>,
    who: Requester,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    crate::service::e2e_keys::upload(&state, &who, &body)
        .await
        .map(Json)
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/_matrix/client/v3/keys/upload", post(upload_route))
}
