//! Devices, and user-interactive auth (UIA) for sensitive operations, where module login
//! types count as stages just like the password.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::account::password_matches;
use super::extract::{JsonBody, Requester};
use super::AppState;
use crate::error::{MatrixError, MatrixResult};
use crate::modules::AuthError;

/// Check the `auth` dict of a request needing UIA. `Ok(None)` means authenticated; `Ok(Some)`
/// is the 401 challenge listing the stages (password, then every module login type).
async fn user_interactive_auth(
    state: &AppState,
    who: &Requester,
    body: &Map<String, Value>,
) -> MatrixResult<Option<Response>> {
    let mut flows = vec![json!({"stages": ["m.login.password"]})];
    for (login_type, _) in state.modules.supported_login_types() {
        if login_type != "m.login.password" {
            flows.push(json!({"stages": [login_type]}));
        }
    }
    let Some(auth) = body
        .get("auth")
        .and_then(Value::as_object)
        .filter(|a| a.contains_key("type"))
    else {
        let challenge =
            json!({"flows": flows, "params": {}, "session": crate::service::events::random_id(24)});
        return Ok(Some(
            (StatusCode::UNAUTHORIZED, Json(challenge)).into_response(),
        ));
    };
    let login_type = auth["type"].as_str().unwrap_or_default();
    let user = auth
        .get("identifier")
        .and_then(|i| i.get("user"))
        .or_else(|| auth.get("user"))
        .and_then(Value::as_str)
        .unwrap_or(&who.user_id)
        .to_string();
    let wrong = || MatrixError::new(StatusCode::UNAUTHORIZED, "M_FORBIDDEN", "Invalid auth");
    let is_module_type = state
        .modules
        .supported_login_types()
        .iter()
        .any(|(t, _)| t == login_type);
    let authenticated = if is_module_type {
        match state.modules.check_auth(&user, login_type, auth).await {
            Err(AuthError::MissingParams(missing)) => {
                return Err(MatrixError::new(
                    StatusCode::BAD_REQUEST,
                    "M_MISSING_PARAM",
                    format!("Missing parameters for login type {login_type}: {missing:?}"),
                ))
            }
            Ok(Some(outcome)) if outcome.user_id == who.user_id => true,
            Ok(Some(_)) => {
                return Err(MatrixError::forbidden(
                    "Requested user is not the logged-in user",
                ))
            }
            Ok(None)
                if login_type == "m.login.password"
                    && state.config.password_config.localdb_enabled =>
            {
                password_matches(
                    state,
                    &who.user_id,
                    auth.get("password")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                )
                .await?
            }
            Ok(None) => false,
        }
    } else if login_type == "m.login.password"
        && state.config.password_config.enabled
        && state.config.password_config.localdb_enabled
    {
        password_matches(
            state,
            &who.user_id,
            auth.get("password")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        )
        .await?
    } else {
        return Err(MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_UNRECOGNIZED",
            format!("Unrecognised authentication type {login_type}"),
        ));
    };
    if authenticated {
        Ok(None)
    } else {
        Err(wrong())
    }
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
    Ok(Json(json!({})).into_response())
}
