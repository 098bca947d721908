//! Devices; deleting one needs user-interactive auth (`service::uia`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
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

/// # `GET /_matrix/client/v3/devices/{deviceId}`
pub(super) async fn get_device_route(
    State(state): State<AppState>,
    who: Requester,
    Path(device_id): Path<String>,
) -> MatrixResult<Json<Value>> {
    crate::service::devices::device(&state, &who, &device_id)
        .await
        .map(Json)
}

/// # `PUT /_matrix/client/v3/devices/{deviceId}` (body: optional `display_name`)
pub(super) async fn rename_device_route(
    State(state): State<AppState>,
    who: Requester,
    Path(device_id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    let name = match body.get("display_name") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name.as_str()),
        Some(_) => return Err(MatrixError::bad_json("display_name must be a string")),
    };
    crate::service::devices::rename_device(&state, &who, &device_id, name).await?;
    Ok(Json(json!({})))
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
    if !crate::service::devices::remove_device(&state, &who, &device_id).await? {
        return Err(MatrixError::not_found("Unknown device"));
    }
    Ok(Json(json!({})).into_response())
}

/// # `POST /_matrix/client/v3/delete_devices` (body: `devices`, a list of device IDs; `auth`)
/// The body is checked first (400 `M_BAD_JSON`), then UIA; unknown devices are skipped, as
/// Synapse does.
pub(super) async fn delete_devices_route(
    State(state): State<AppState>,
    who: Requester,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Response> {
    let devices: Vec<String> = match body.get("devices") {
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(|d| d.as_str().map(String::from))
            .collect(),
        _ => {
            return Err(MatrixError::bad_json(
                "devices must be a list of device IDs",
            ))
        }
    };
    if let Some(challenge) = user_interactive_auth(&state, &who, &body).await? {
        return Ok(challenge);
    }
    for device_id in devices {
        crate::service::devices::remove_device(&state, &who, &device_id).await?;
    }
    Ok(Json(json!({})).into_response())
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/_matrix/client/v3/delete_devices",
            post(delete_devices_route),
        )
        .route("/_matrix/client/v3/devices", get(devices_route))
        .route(
            "/_matrix/client/v3/devices/{device}",
            delete(delete_device_route)
                .get(get_device_route)
                .put(rename_device_route),
        )
}
