//! Devices; deleting one needs user-interactive auth (`service::uia`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::Json;
use axum::Router;
use serde_json::{json, Map, Value};

use super::extract::{JsonBody, Requester};
use super::AppState;
use crate::error::{MatrixError, MatrixResult};
use crate::service::uia;

/// Run user-interactive auth for `body`: `Ok(None)` when authenticated, `Ok(Some(401))` with
/// the challenge when the client has not tried a stage yet.
pub(super) async fn user_interactive_auth(
    state: &AppState,
    who: &Requester,
    body: &Map<String, Value>,
) -> MatrixResult<Option<Response>> {
    Ok(match uia::authenticate(state, who, body).await? {
        uia::Outcome::Authenticated => None,
        uia::Outcome::Challenge(challenge) => {
            Some((StatusCode::UNAUTHORIZED, Json(challenge)).into_response())
        }
    })
}

/// # `GET /_matrix/client/v3/devices`
pub(super) async fn devices_route(
    State(state): State<AppState>,
    who: Requester,
) -> MatrixResult<Json<Value>> {
    let devices: Vec<Value> = state
        .store
        .devices(&who.user_id)
        .await?
        .into_iter()
        .map(|(id, name)| json!({"device_id": id, "display_name": name}))
        .collect();
    Ok(Json(json!({"devices": devices})))
}

/// # `DELETE /_matrix/client/v3/devices/{deviceId}`
/// Needs UIA; then `on_logged_out` for the device, before its tokens go.
pub(super) async fn delete_device_route(
    State(state): State<AppState>,
    who: Requester,
    Path(device_id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Response> {
    if let Some(challenge) = user_interactive_auth(&state, &who, &body).await? {
        return Ok(challenge);
    }
    if !state
        .store
        .devices(&who.user_id)
        .await?
        .iter()
        .any(|(d, _)| *d == device_id)
    {
        return Err(MatrixError::not_found("Unknown device"));
    }
    let token = if device_id == who.device_id {
        who.access_token.as_str()
    } else {
        ""
    };
    state
        .modules
        .on_logged_out(&who.user_id, Some(&device_id), token)
        .await;
    state.store.delete_device(&who.user_id, &device_id).await?;
    crate::service::device_lists::device_removed(&state, &who.user_id, &device_id).await?;
    Ok(Json(json!({})).into_response())
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/_matrix/client/v3/devices", get(devices_route))
        .route(
            "/_matrix/client/v3/devices/{device}",
            delete(delete_device_route),
        )
}
