//! `POST /_matrix/client/v3/account/password` (client-server spec v1.12 §"Password
//! management").

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::devices::user_interactive_auth;
use super::extract::{JsonBody, Requester};
use super::AppState;
use crate::error::{MatrixError, MatrixResult};

/// # `POST /_matrix/client/v3/account/password`
/// Body: `new_password` (string), `logout_devices` (default true), `auth` (user-interactive
/// authentication: 401 with the flows until a stage passes). Errors: 400 `M_MISSING_PARAM`
/// without `new_password`, 400 `M_BAD_JSON` for non-string/non-boolean fields, and those of
/// [`crate::service::password::change_password`].
pub(super) async fn change_password_route(
    State(state): State<AppState>,
    who: Requester,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Response> {
    if let Some(challenge) = user_interactive_auth(&state, &who, &body).await? {
        return Ok(challenge);
    }
    let new_password = match body.get("new_password") {
        None | Some(Value::Null) => {
            return Err(MatrixError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "M_MISSING_PARAM",
                "Missing param 'new_password'",
            ))
        }
        Some(Value::String(p)) => p.clone(),
        Some(_) => return Err(MatrixError::bad_json("new_password must be a string")),
    };
    let logout_devices = match body.get("logout_devices") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(MatrixError::bad_json("logout_devices must be a boolean")),
    };
    crate::service::password::change_password(&state, &who, &new_password, logout_devices).await?;
    Ok(Json(json!({})).into_response())
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route(
        "/_matrix/client/v3/account/password",
        post(change_password_route),
    )
}
