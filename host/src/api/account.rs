//! Registration, login, logout, whoami: HTTP in and out; the logic is in
//! `service::registration`, `service::login` and `service::session`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::extract::{JsonBody, MatrixQuery, RequestInfo, Requester, RequesterAllowExpired};
use super::AppState;
use crate::error::{MatrixError, MatrixResult};
use crate::service::registration::{register, Registration};
use crate::service::session::{issue_token, random_string};

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

#[derive(Deserialize)]
pub(super) struct RegisterQuery {
    kind: Option<String>,
}

/// # `POST /_matrix/client/v3/register`
/// Registration with the `m.login.dummy` interactive-auth stage; `kind=guest` is refused
/// (guest access is off).
pub(super) async fn register_route(
    State(state): State<AppState>,
    RequestInfo(info): RequestInfo,
    MatrixQuery(query): MatrixQuery<RegisterQuery>,
    JsonBody(params): JsonBody<Value>,
) -> MatrixResult<Response> {
    crate::service::registration::check_request(&state, &info.1, query.kind.as_deref())?;
    if !state.config.enable_registration {
        return Err(MatrixError::forbidden("Registration has been disabled"));
    }
    let body: RegisterBody =
        serde_json::from_value(params.clone()).map_err(|e| MatrixError::bad_json(e.to_string()))?;
    let Some(auth) = body.auth.filter(|a| a.get("type").is_some()) else {
        let session = random_string(24);
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
    let registration = Registration {
        params: &params,
        uia_results: &uia_results,
        username: body.username,
        password: body.password,
        request_info: vec![info],
    };
    let user_id = register(&state, registration).await?;
    if body.inhibit_login {
        let home_server = &state.config.server_name;
        return Ok(Json(json!({"user_id": user_id, "home_server": home_server})).into_response());
    }
    let device = body.initial_device_display_name.as_deref();
    let response = issue_token(&state, &user_id, body.device_id, device).await?;
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
/// `m.login.password` (modules first, then the local database), module login types and
/// `m.login.token`.
pub(super) async fn login_route(
    State(state): State<AppState>,
    RequestInfo(info): RequestInfo,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    crate::service::login::login(&state, &body, &[info])
        .await
        .map(Json)
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
    crate::service::device_lists::device_removed(&state, &who.user_id, &who.device_id).await?;
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
        crate::service::device_lists::device_removed(&state, &who.user_id, &device).await?;
    }
    Ok(Json(json!({})))
}

/// # `GET /_matrix/client/v3/account/whoami`
pub(super) async fn whoami_route(who: Requester) -> Json<Value> {
    Json(json!({"user_id": who.user_id, "device_id": who.device_id, "is_guest": false}))
}

#[derive(Deserialize)]
pub(super) struct AvailableQuery {
    username: String,
}

/// # `GET /_matrix/client/v3/register/available`
pub(super) async fn available_route(
    State(state): State<AppState>,
    MatrixQuery(q): MatrixQuery<AvailableQuery>,
) -> MatrixResult<Json<Value>> {
    crate::service::registration::check_available(&state, &q.username).await?;
    Ok(Json(json!({ "available": true })))
}

/// # `GET /_matrix/client/v3/capabilities`
/// What this server lets clients do (spec §"Capabilities negotiation").
pub(super) async fn capabilities_route(
    State(state): State<AppState>,
    _who: Requester,
) -> Json<Value> {
    let password = state.config.password_config;
    Json(json!({ "capabilities": {
        "m.room_versions": {"default": crate::service::rooms::ROOM_VERSION, "available": {crate::service::rooms::ROOM_VERSION: "stable"}},
        "m.change_password": {"enabled": password.enabled && password.localdb_enabled},
        "m.set_displayname": {"enabled": true},
        "m.set_avatar_url": {"enabled": true},
        "m.3pid_changes": {"enabled": true},
        "m.get_login_token": {"enabled": false},
    }}))
}

/// # `GET /_matrix/client/v3/thirdparty/protocols`
/// No application services bridge other networks here: no protocols.
pub(super) async fn protocols_route(_who: Requester) -> Json<Value> {
    Json(json!({}))
}

/// # `GET /_matrix/client/v3/voip/turnServer`
/// No TURN server is configured: an empty object, as Synapse answers then.
pub(super) async fn turn_server_route(_who: Requester) -> Json<Value> {
    Json(json!({}))
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/_matrix/client/v3/register/available",
            get(available_route),
        )
        .route("/_matrix/client/v3/capabilities", get(capabilities_route))
        .route(
            "/_matrix/client/v3/thirdparty/protocols",
            get(protocols_route),
        )
        .route("/_matrix/client/v3/voip/turnServer", get(turn_server_route))
        .route("/_matrix/client/v3/register", post(register_route))
        .route(
            "/_matrix/client/v3/login",
            get(login_flows_route).post(login_route),
        )
        .route("/_matrix/client/v3/logout", post(logout_route))
        .route("/_matrix/client/v3/logout/all", post(logout_all_route))
        .route("/_matrix/client/v3/account/whoami", get(whoami_route))
}
