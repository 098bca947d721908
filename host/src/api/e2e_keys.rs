//! End-to-end encryption (spec §"End-to-End Encryption", §"Send-to-Device messaging"):
//! publishing and reading keys, cross-signing, to-device messages. Thin: the logic is in
//! `service::{e2e_keys, keys_query, cross_signing, device_lists, to_device}`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::extract::{JsonBody, MatrixQuery, Requester};
use super::AppState;
use crate::error::MatrixResult;
use crate::service::cross_signing::{self, UploadPlan};

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

/// # `POST /_matrix/client/v3/keys/query`
pub(super) async fn query_route(
    State(state): State<AppState>,
    who: Requester,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    crate::service::keys_query::query(&state, &who, &body)
        .await
        .map(Json)
}

/// # `POST /_matrix/client/v3/keys/claim`
pub(super) async fn claim_route(
    State(state): State<AppState>,
    _who: Requester,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    crate::service::keys_query::claim(&state, &body)
        .await
        .map(Json)
}

#[derive(Deserialize)]
pub(super) struct ChangesQuery {
    from: Option<String>,
    to: Option<String>,
}

/// # `GET /_matrix/client/v3/keys/changes`
pub(super) async fn changes_route(
    State(state): State<AppState>,
    who: Requester,
    MatrixQuery(q): MatrixQuery<ChangesQuery>,
) -> MatrixResult<Json<Value>> {
    crate::service::device_lists::keys_changes(&state, &who, q.from.as_deref(), q.to.as_deref())
        .await
        .map(Json)
}

/// # `POST /_matrix/client/v3/keys/device_signing/upload`
/// The first upload needs no user-interactive auth (MSC3967); replacing keys does (401 with
/// the challenge until a stage passes); sending the stored keys again is a no-op.
pub(super) async fn device_signing_route(
    State(state): State<AppState>,
    who: Requester,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Response> {
    match cross_signing::upload_plan(&state, &who, &body).await? {
        UploadPlan::Unchanged => return Ok(Json(serde_json::json!({})).into_response()),
        UploadPlan::FirstSetup => {}
        UploadPlan::NeedsAuth => {
            let challenge = super::devices::user_interactive_auth(&state, &who, &body).await?;
            if let Some(challenge) = challenge {
                return Ok(challenge);
            }
        }
    }
    let answer = cross_signing::upload_keys(&state, &who, &body).await?;
    Ok(Json(answer).into_response())
}

/// # `POST /_matrix/client/v3/keys/signatures/upload`
pub(super) async fn signatures_route(
    State(state): State<AppState>,
    who: Requester,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    cross_signing::upload_signatures(&state, &who, &body)
        .await
        .map(Json)
}

/// # `PUT /_matrix/client/v3/sendToDevice/{eventType}/{txnId}`
pub(super) async fn send_to_device_route(
    State(state): State<AppState>,
    who: Requester,
    Path((event_type, txn_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    crate::service::to_device::send(&state, &who, &event_type, &txn_id, &body)
        .await
        .map(Json)
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/_matrix/client/v3/keys/upload", post(upload_route))
        .route("/_matrix/client/v3/keys/query", post(query_route))
        .route("/_matrix/client/v3/keys/claim", post(claim_route))
        .route("/_matrix/client/v3/keys/changes", get(changes_route))
        .route(
            "/_matrix/client/v3/keys/device_signing/upload",
            post(device_signing_route),
        )
        .route(
            "/_matrix/client/v3/keys/signatures/upload",
            post(signatures_route),
        )
        .route(
            "/_matrix/client/v3/sendToDevice/{event_type}/{txn}",
            put(send_to_device_route),
        )
}
