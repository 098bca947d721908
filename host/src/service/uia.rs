//! User-interactive authentication (spec §"User-Interactive Authentication API") for
//! sensitive operations, where module login types count as stages just like the password
//! (as Synapse's password auth providers do).

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use crate::error::{MatrixError, MatrixResult};
use crate::modules::AuthError;
use crate::service::auth::Requester;
use crate::service::password::password_matches;
use crate::state::AppState;

/// How a request's `auth` dict went.
pub enum Outcome {
    /// A stage passed: go on.
    Authenticated,
    /// No stage tried yet: answer 401 with this body (`flows`, `params`, `session`).
    Challenge(Value),
}

/// The flows offered: the password, then every module login type.
fn flows(state: &AppState) -> Vec<Value> {
    let mut flows = vec![json!({"stages": ["m.login.password"]})];
    for (login_type, _) in state.modules.supported_login_types() {
        if login_type != "m.login.password" {
            flows.push(json!({"stages": [login_type]}));
        }
    }
    flows
}

/// Check the `auth` dict of `body` for `who`. Errors: 401 `M_FORBIDDEN` "Invalid auth" for
/// wrong credentials, 400 `M_MISSING_PARAM` for a module type missing its fields, 403 when
/// a module authenticates someone else, 400 `M_UNRECOGNIZED` for an unknown type.
pub async fn authenticate(
    state: &AppState,
    who: &Requester,
    body: &Map<String, Value>,
) -> MatrixResult<Outcome> {
    let Some(auth) = body
        .get("auth")
        .and_then(Value::as_object)
        .filter(|a| a.contains_key("type"))
    else {
        let session = crate::service::events::random_id(24);
        let challenge = json!({"flows": flows(state), "params": {}, "session": session});
        return Ok(Outcome::Challenge(challenge));
    };
    let login_type = auth["type"].as_str().unwrap_or_default();
    let is_module_type = state
        .modules
        .supported_login_types()
        .iter()
        .any(|(t, _)| t == login_type);
    let password_config = state.config.password_config;
    let authenticated = if is_module_type {
        module_stage(state, who, login_type, auth).await?
    } else if login_type == "m.login.password"
        && password_config.enabled
        && password_config.localdb_enabled
    {
        local_password(state, who, auth).await?
    } else {
        return Err(MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_UNRECOGNIZED",
            format!("Unrecognised authentication type {login_type}"),
        ));
    };
    if authenticated {
        Ok(Outcome::Authenticated)
    } else {
        Err(MatrixError::new(
            StatusCode::UNAUTHORIZED,
            "M_FORBIDDEN",
            "Invalid auth",
        ))
    }
}

/// The request's password against `who`'s stored one.
async fn local_password(
    state: &AppState,
    who: &Requester,
    auth: &Map<String, Value>,
) -> MatrixResult<bool> {
    let password = auth
        .get("password")
        .and_then(Value::as_str)
        .unwrap_or_default();
    password_matches(state, &who.user_id, password).await
}

/// A module login type as a stage; for `m.login.password` the local database is the fallback
/// when no module answers.
async fn module_stage(
    state: &AppState,
    who: &Requester,
    login_type: &str,
    auth: &Map<String, Value>,
) -> MatrixResult<bool> {
    let user = auth
        .get("identifier")
        .and_then(|i| i.get("user"))
        .or_else(|| auth.get("user"))
        .and_then(Value::as_str)
        .unwrap_or(&who.user_id)
        .to_string();
    match state.modules.check_auth(&user, login_type, auth).await {
        Err(AuthError::MissingParams(missing)) => Err(MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_MISSING_PARAM",
            format!("Missing parameters for login type {login_type}: {missing:?}"),
        )),
        Ok(Some(outcome)) if outcome.user_id == who.user_id => Ok(true),
        Ok(Some(_)) => Err(MatrixError::forbidden(
            "Requested user is not the logged-in user",
        )),
        Ok(None)
            if login_type == "m.login.password" && state.config.password_config.localdb_enabled =>
        {
            local_password(state, who, auth).await
        }
        Ok(None) => Ok(false),
    }
}
