//! Logging in (spec §"Login"): `m.login.password` (by user ID, or by third-party identifier
//! through modules' `check_3pid_auth`, then the local `user_threepids`), module login types (`auth_checker`), and
//! `m.login.token` (tokens made by the module API's `create_login_token`). Password logins
//! ask modules first and fall back to the local database (`password_config`). Then, as in
//! Synapse: `check_login_for_spam`, the new device and token, the module's `on_login`
//! follow-up, and `on_user_login`.

use axum::http::StatusCode;
use plugin_sdk::SpamCheck;
use serde_json::{json, Map, Value};

use crate::error::{MatrixError, MatrixResult};
use crate::modules::AuthError;
use crate::service::password::verify_password;
use crate::service::session::{hash_token, issue_token};
use crate::service::threepids::{canonical_address, phone_number_to_msisdn};
use crate::state::AppState;

/// Who a login attempt authenticated, the module follow-up (`(module index, token)`) to
/// run with the login response, and the identity provider that vouched for the user (only
/// `m.login.token` tokens made with an `auth_provider_id` carry one; password and module
/// logins have none, as in Synapse's `LoginRestServlet`).
type Authenticated = (String, Option<(usize, u64)>, Option<String>);

fn invalid() -> MatrixError {
    MatrixError::forbidden("Invalid username or password")
}

fn unknown(message: String) -> MatrixError {
    MatrixError::new(StatusCode::BAD_REQUEST, "M_UNKNOWN", message)
}

fn text<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str)
}

/// Log in with the `/login` request `body`; `request_info` holds `(user_agent, ip)` for the
/// spam check. Returns the login response `{user_id, access_token, device_id, home_server}`.
/// Errors: 400 `M_BAD_JSON` without a type, `M_UNKNOWN` for an unknown or disabled type,
/// `M_MISSING_PARAM` for a module type missing its fields, 403 for bad credentials, an
/// unknown or deactivated user, or a spam checker's denial; 429 `M_LIMIT_EXCEEDED` (with
/// `retry_after_ms`) from `rc_login` or a full password-hashing pool.
pub async fn login(
    state: &AppState,
    body: &Map<String, Value>,
    request_info: &[(String, String)],
) -> MatrixResult<Value> {
    // Every attempt counts against its address first, as in Synapse (`rc_login.address`).
    let ip = request_info.first().map_or("", |(_, ip)| ip.as_str());
    state.check_login_address(ip)?;
    let login_type = text(body, "type")
        .ok_or_else(|| MatrixError::bad_json("Missing login type"))?
        .to_string();
    let (user_id, on_login, idp) = authenticate(state, &login_type, body).await?;
    if let Err(err) = state.check_login_account(&user_id) {
        if let Some((module, token)) = on_login {
            state.modules.discard_deferred(module, token).await;
        }
        return Err(err);
    }
    match state.store.get_user(&user_id).await? {
        Some(u) if !u.deactivated => {}
        _ => return Err(invalid()),
    }
    let device_id = text(body, "device_id").map(String::from);
    let display = text(body, "initial_device_display_name");
    let verdict = state
        .modules
        .check_login_for_spam(
            &user_id,
            device_id.as_deref(),
            display,
            request_info,
            idp.as_deref(),
        )
        .await?;
    if let SpamCheck::Deny(denial) = verdict {
        if let Some((module, token)) = on_login {
            state.modules.discard_deferred(module, token).await;
        }
        return Err(MatrixError::denied(
            denial,
            "Login was blocked by the server",
        ));
    }
    let response = issue_token(state, &user_id, device_id, display).await?;
    if let Some((module, token)) = on_login {
        state.modules.run_deferred(module, token, &response).await;
    }
    state
        .modules
        .on_user_login(&user_id, Some(&login_type), idp.as_deref())
        .await?;
    Ok(response)
}

/// Check the credentials of a `login_type` attempt. A third-party identifier
/// (`m.id.thirdparty`, `m.id.phone`) goes to modules' `check_3pid_auth` first (password
/// logins), else resolves through the local store to its user, whose login then goes on as
/// for `m.id.user` (Synapse's `AuthHandler.validate_login`).
async fn authenticate(
    state: &AppState,
    login_type: &str,
    body: &Map<String, Value>,
) -> MatrixResult<Authenticated> {
    let password_login = login_type == "m.login.password";
    if password_login && !state.config.password_config.enabled {
        return Err(unknown("Password login has been disabled.".into()));
    }
    let identifier = body.get("identifier");
    let identifier_type = identifier
        .and_then(|i| i.get("type"))
        .and_then(Value::as_str);
    if login_type == "m.login.token"
        || !matches!(identifier_type, Some("m.id.thirdparty" | "m.id.phone"))
    {
        return authenticate_user(state, login_type, body).await;
    }
    let (medium, address) = threepid_of(identifier.unwrap_or(&Value::Null))?;
    if password_login {
        let password = text(body, "password").unwrap_or_default();
        let outcome = state
            .modules
            .check_3pid_auth(&medium, &address, password)
            .await;
        if let Some(outcome) = outcome {
            return Ok((outcome.user_id, outcome.on_login, None));
        }
    }
    let user_id = state
        .store
        .user_by_threepid(&medium, &address)
        .await?
        .ok_or_else(invalid)?;
    let mut body = body.clone();
    body.insert(
        "identifier".into(),
        json!({"type": "m.id.user", "user": user_id}),
    );
    authenticate_user(state, login_type, &body).await
}

/// Check the credentials of a `login_type` attempt naming its user.
async fn authenticate_user(
    state: &AppState,
    login_type: &str,
    body: &Map<String, Value>,
) -> MatrixResult<Authenticated> {
    let password_login = login_type == "m.login.password";
    let module_types = state.modules.supported_login_types();
    if module_types.iter().any(|(t, _)| t == login_type) {
        module_login(state, login_type, body).await
    } else if password_login {
        Ok((local_password_login(state, body).await?, None, None))
    } else if login_type == "m.login.token" {
        let token = text(body, "token").unwrap_or_default();
        let (user_id, idp) = state
            .store
            .take_login_token(&hash_token(token))
            .await?
            .ok_or_else(|| MatrixError::forbidden("Invalid login token"))?;
        Ok((user_id, None, idp))
    } else {
        Err(unknown(format!("Unknown login type {login_type}")))
    }
}

/// `(medium, address)` of a third-party login identifier, canonicalised as stored:
/// `m.id.phone` `{country, phone}` (or the older `number`) as an msisdn, an email of
/// `m.id.thirdparty` `{medium, address}` canonicalised. 400 `M_INVALID_PARAM` "Invalid
/// phone-type identifier" or "Unable to parse phone number", 400 `M_UNKNOWN` "Invalid
/// thirdparty identifier" or "Unable to parse email address".
fn threepid_of(identifier: &Value) -> MatrixResult<(String, String)> {
    let field = |key: &str| identifier.get(key).and_then(Value::as_str);
    if identifier["type"] == "m.id.phone" {
        let (Some(country), Some(phone)) = (field("country"), field("phone").or(field("number")))
        else {
            return Err(MatrixError::invalid_param("Invalid phone-type identifier"));
        };
        return Ok(("msisdn".into(), phone_number_to_msisdn(country, phone)?));
    }
    let (Some(medium), Some(address)) = (field("medium"), field("address")) else {
        return Err(unknown("Invalid thirdparty identifier".into()));
    };
    Ok((medium.to_string(), canonical_address(medium, address)?))
}

/// The user as sent (`identifier.user`, or the legacy `user`), unqualified or not.
fn raw_user(body: &Map<String, Value>) -> &str {
    body.get("identifier")
        .and_then(|i| i.get("user"))
        .or_else(|| body.get("user"))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A login type some module registered (`m.login.password` included when a module checks
/// passwords: then the local database is the fallback).
async fn module_login(
    state: &AppState,
    login_type: &str,
    body: &Map<String, Value>,
) -> MatrixResult<Authenticated> {
    match state
        .modules
        .check_auth(raw_user(body), login_type, body)
        .await
    {
        Err(AuthError::MissingParams(missing)) => Err(MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_MISSING_PARAM",
            format!("Missing parameters for login type {login_type}: {missing:?}"),
        )),
        Ok(Some(outcome)) => Ok((outcome.user_id, outcome.on_login, None)),
        Ok(None) if login_type == "m.login.password" => {
            Ok((local_password_login(state, body).await?, None, None))
        }
        Ok(None) => Err(invalid()),
    }
}

/// A password checked against the local database (when `password_config.localdb_enabled`).
async fn local_password_login(state: &AppState, body: &Map<String, Value>) -> MatrixResult<String> {
    let raw = raw_user(body);
    let user_id = if raw.starts_with('@') {
        raw.to_string()
    } else {
        state.user_id(&raw.to_lowercase())
    };
    let password = text(body, "password").unwrap_or_default().to_string();
    if !state.config.password_config.localdb_enabled {
        return Err(invalid());
    }
    // No user ID is longer (spec §"User Identifiers"); refused before it becomes a limiter key.
    if user_id.len() > 255 {
        return Err(invalid());
    }
    // Wrong passwords are limited per account before any hashing (`rc_login.failed_attempts`).
    state.reserve_failed_login(&user_id)?;
    let user = state.store.get_user(&user_id).await?;
    let matches = match user.and_then(|u| u.password_hash) {
        Some(hash) => verify_password(state, password, hash).await?,
        None => false,
    };
    if matches {
        state.login_succeeded(&user_id);
        Ok(user_id)
    } else {
        Err(invalid())
    }
}
