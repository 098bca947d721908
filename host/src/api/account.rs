//! Registration, login, logout, whoami.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use plugin_sdk::{RegistrationBehaviour, SpamCheck};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::extract::{JsonBody, Requester, RequesterAllowExpired};
use super::AppState;
use crate::error::{MatrixError, MatrixResult};
use crate::modules::AuthError;
use crate::service::session::{hash_token, issue_token, random_string};
use crate::storage::ProfileField;

fn request_info(headers: &HeaderMap) -> Vec<(String, String)> {
    let agent = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    vec![(agent.to_string(), "127.0.0.1".to_string())]
}

pub(super) async fn hash_password(password: String) -> MatrixResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|_| MatrixError::internal())?
    .map_err(|_| MatrixError::internal())
}

async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// A valid localpart per the Matrix spec's user ID grammar.
fn valid_localpart(localpart: &str) -> bool {
    !localpart.is_empty()
        && localpart.len() <= 255
        && localpart
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'=' | b'-' | b'/'))
}

#[derive(Deserialize)]
pub(super) struct RegisterBody {
    username: Option<String>,
    password: Option<String>,
    auth: Option<Value>,
    #[serde(default)]
    inhibit_login: bool,
    device_id: Option<String>,
    initial_device_display_name: Option<String>,
}

/// # `POST /_matrix/client/v3/register`
/// Registration with the `m.login.dummy` interactive-auth stage.
pub(super) async fn register_route(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(params): JsonBody<Value>,
) -> MatrixResult<Response> {
    if !state.config.enable_registration {
        return Err(MatrixError::forbidden("Registration has been disabled"));
    }
    let body: RegisterBody =
        serde_json::from_value(params.clone()).map_err(|e| MatrixError::bad_json(e.to_string()))?;
    let session = random_string(24);
    let Some(auth) = body.auth.filter(|a| a.get("type").is_some()) else {
        let uia =
            json!({"flows": [{"stages": ["m.login.dummy"]}], "params": {}, "session": session});
        return Ok((StatusCode::UNAUTHORIZED, Json(uia)).into_response());
    };
    if auth["type"] != "m.login.dummy" {
        return Err(MatrixError::new(
            StatusCode::UNAUTHORIZED,
            "M_UNRECOGNIZED",
            "Unrecognised authentication stage",
        ));
    }
    let uia_results = json!({"m.login.dummy": true});
    let localpart = match state
        .modules
        .get_username_for_registration(&uia_results, &params)
        .await?
    {
        Some(chosen) => chosen,
        None => body
            .username
            .clone()
            .unwrap_or_else(|| random_string(12).to_lowercase()),
    };
    let localpart = localpart.to_lowercase();
    if !valid_localpart(&localpart) {
        return Err(MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_INVALID_USERNAME",
            "User ID can only contain characters a-z, 0-9, or '=_-./'",
        ));
    }
    let user_id = state.user_id(&localpart);
    if ruma_common::UserId::parse(&user_id).is_err() {
        return Err(MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_INVALID_USERNAME",
            "User ID is not valid",
        ));
    }
    // Admin accounts are created before they are listed in admin_users (which takes effect
    // at start-up); nobody may claim a listed ID through open registration.
    if state.config.admin_users.contains(&user_id) {
        return Err(MatrixError::forbidden(
            "This user ID is reserved for a server admin",
        ));
    }
    let verdict = state
        .modules
        .check_registration_for_spam(None, Some(&localpart), &request_info(&headers), None)
        .await?;
    if verdict == RegistrationBehaviour::Deny {
        // Deliberately disguised, as Synapse does.
        return Err(MatrixError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "M_LIMIT_EXCEEDED",
            "Rate limited",
        ));
    }
    let password_hash = match body.password {
        Some(p) => Some(hash_password(p).await?),
        None => None,
    };
    let shadow_banned = verdict == RegistrationBehaviour::ShadowBan;
    if !state
        .store
        .create_user(&user_id, password_hash.as_deref(), shadow_banned)
        .await?
    {
        return Err(MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_USER_IN_USE",
            "User ID already taken.",
        ));
    }
    let displayname = state
        .modules
        .get_displayname_for_registration(&uia_results, &params)
        .await?
        .unwrap_or_else(|| localpart.clone());
    state
        .store
        .set_profile_field(&user_id, ProfileField::Displayname, Some(&displayname))
        .await?;
    state.modules.on_user_registration(&user_id).await?;

    if body.inhibit_login {
        return Ok(
            Json(json!({"user_id": user_id, "home_server": state.config.server_name}))
                .into_response(),
        );
    }
    let response = issue_token(
        &state,
        &user_id,
        body.device_id,
        body.initial_device_display_name.as_deref(),
    )
    .await?;
    Ok(Json(response).into_response())
}

/// # `GET /_matrix/client/v3/login`
/// Login flows: password first, then every module login type.
pub(super) async fn login_flows_route(State(state): State<AppState>) -> Json<Value> {
    let types = state.modules.supported_login_types();
    let pc = state.config.password_config;
    // As Synapse: password first when password login is on and something can check it.
    let module_password = types.iter().any(|(t, _)| t == "m.login.password");
    let mut flows = Vec::new();
    if pc.enabled && (module_password || pc.localdb_enabled) {
        flows.push(json!({"type": "m.login.password"}));
    }
    for (login_type, _) in types {
        if login_type != "m.login.password" {
            flows.push(json!({"type": login_type}));
        }
    }
    // Tokens made by modules (create_login_token).
    flows.push(json!({"type": "m.login.token"}));
    Json(json!({ "flows": flows }))
}

/// # `POST /_matrix/client/v3/login`
/// `m.login.password` (modules first, then the local database) and module login types.
pub(super) async fn login_route(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    let login_type = body
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| MatrixError::bad_json("Missing login type"))?
        .to_string();
    let raw_user = body
        .get("identifier")
        .and_then(|i| i.get("user"))
        .or_else(|| body.get("user"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let qualified = if raw_user.starts_with('@') {
        raw_user.clone()
    } else {
        state.user_id(&raw_user.to_lowercase())
    };
    let invalid = || MatrixError::forbidden("Invalid username or password");

    let module_types = state.modules.supported_login_types();
    let mut on_login = None;
    let password_login = login_type == "m.login.password";
    if password_login && !state.config.password_config.enabled {
        return Err(MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_UNKNOWN",
            "Password login has been disabled.",
        ));
    }
    let identifier_type = body
        .get("identifier")
        .and_then(|i| i.get("type"))
        .and_then(Value::as_str);
    let user_id = if password_login
        && matches!(
            identifier_type,
            Some("m.id.thirdparty") | Some("m.id.phone")
        ) {
        // Third-party identifiers: modules' check_3pid_auth first. modhost keeps no local
        // third-party identifiers, so nothing else can resolve one.
        let id = &body["identifier"];
        let (medium, address) = match identifier_type {
            Some("m.id.phone") => (
                "msisdn",
                format!(
                    "{}{}",
                    id["country"].as_str().unwrap_or_default(),
                    id["phone"].as_str().unwrap_or_default()
                ),
            ),
            _ => (
                id["medium"].as_str().unwrap_or_default(),
                id["address"].as_str().unwrap_or_default().to_lowercase(),
            ),
        };
        let password = body
            .get("password")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match state
            .modules
            .check_3pid_auth(medium, &address, password)
            .await
        {
            Some(outcome) => {
                on_login = outcome.on_login;
                outcome.user_id
            }
            None => return Err(invalid()),
        }
    } else if module_types.iter().any(|(t, _)| *t == login_type) {
        match state
            .modules
            .check_auth(&raw_user, &login_type, &body)
            .await
        {
            Err(AuthError::MissingParams(missing)) => {
                return Err(MatrixError::new(
                    StatusCode::BAD_REQUEST,
                    "M_MISSING_PARAM",
                    format!("Missing parameters for login type {login_type}: {missing:?}"),
                ))
            }
            Ok(Some(outcome)) => {
                on_login = outcome.on_login;
                outcome.user_id
            }
            Ok(None) if password_login => local_password_login(&state, &qualified, &body).await?,
            Ok(None) => return Err(invalid()),
        }
    } else if login_type == "m.login.password" {
        local_password_login(&state, &qualified, &body).await?
    } else if login_type == "m.login.token" {
        let token = body
            .get("token")
            .and_then(Value::as_str)
            .unwrap_or_default();
        state
            .store
            .take_login_token(&hash_token(token))
            .await?
            .ok_or_else(|| MatrixError::forbidden("Invalid login token"))?
    } else {
        return Err(MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_UNKNOWN",
            format!("Unknown login type {login_type}"),
        ));
    };
    match state.store.get_user(&user_id).await? {
        Some(u) if !u.deactivated => {}
        _ => return Err(invalid()),
    }

    let device_id = body
        .get("device_id")
        .and_then(Value::as_str)
        .map(String::from);
    let display = body
        .get("initial_device_display_name")
        .and_then(Value::as_str);
    let verdict = state
        .modules
        .check_login_for_spam(
            &user_id,
            device_id.as_deref(),
            display,
            &request_info(&headers),
            None,
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
    let response = issue_token(&state, &user_id, device_id, display).await?;
    if let Some((module, token)) = on_login {
        state.modules.run_deferred(module, token, &response).await;
    }
    state
        .modules
        .on_user_login(&user_id, Some(&login_type), None)
        .await?;
    Ok(Json(response))
}

/// Whether `password` is `user_id`'s local password.
pub(super) async fn password_matches(
    state: &AppState,
    user_id: &str,
    password: &str,
) -> MatrixResult<bool> {
    let hash = state
        .store
        .get_user(user_id)
        .await?
        .and_then(|u| u.password_hash);
    Ok(match hash {
        Some(hash) => verify_password(password.to_string(), hash).await,
        None => false,
    })
}

async fn local_password_login(
    state: &AppState,
    user_id: &str,
    body: &Map<String, Value>,
) -> MatrixResult<String> {
    let password = body
        .get("password")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if !state.config.password_config.localdb_enabled {
        return Err(MatrixError::forbidden("Invalid username or password"));
    }
    let user = state.store.get_user(user_id).await?;
    let hash = user.and_then(|u| u.password_hash);
    match hash {
        Some(hash) if verify_password(password, hash.clone()).await => Ok(user_id.to_string()),
        _ => Err(MatrixError::forbidden("Invalid username or password")),
    }
}

/// # `POST /_matrix/client/v3/logout`
/// Invalidate the request's access token.
pub(super) async fn logout_route(
    State(state): State<AppState>,
    RequesterAllowExpired(who): RequesterAllowExpired,
) -> MatrixResult<Json<Value>> {
    state
        .modules
        .on_logged_out(&who.user_id, Some(&who.device_id), &who.access_token)
        .await;
    state.store.delete_token(&who.token_hash).await?;
    Ok(Json(json!({})))
}

/// # `POST /_matrix/client/v3/logout/all`
/// Invalidate every access token of the user.
pub(super) async fn logout_all_route(
    State(state): State<AppState>,
    RequesterAllowExpired(who): RequesterAllowExpired,
) -> MatrixResult<Json<Value>> {
    for device in state.store.delete_all_tokens(&who.user_id).await? {
        let token = if device == who.device_id {
            who.access_token.as_str()
        } else {
            ""
        };
        state
            .modules
            .on_logged_out(&who.user_id, Some(&device), token)
            .await;
    }
    Ok(Json(json!({})))
}

/// # `GET /_matrix/client/v3/account/whoami`
pub(super) async fn whoami_route(who: Requester) -> Json<Value> {
    Json(json!({"user_id": who.user_id, "device_id": who.device_id, "is_guest": false}))
}
