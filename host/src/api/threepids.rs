//! Third-party identifiers of the account (client-server spec v1.12 §"Adding Account
//! Administrative Contact Information") and the `requestToken` endpoints of registration:
//! HTTP in and out; the logic is in `service::threepids` and `service::threepid_requests`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use axum::Router;
use serde_json::{json, Map, Value};

use super::devices::user_interactive_auth;
use super::extract::{JsonBody, Requester};
use super::AppState;
use crate::error::{MatrixError, MatrixResult};
use crate::service::threepid_requests::{
    check_body, check_client_secret, no_validated_session, Field, TokenRequest,
};
use crate::service::threepids::missing_params;

/// What every unbind answers: modhost binds at no identity server.
fn no_support() -> Json<Value> {
    Json(json!({"id_server_unbind_result": "no-support"}))
}

/// # `GET /_matrix/client/v3/account/3pid`
/// The requester's identifiers: `{"threepids": [{medium, address, validated_at, added_at}]}`
/// (times in ms since the epoch), oldest first.
pub(super) async fn threepids_route(
    State(state): State<AppState>,
    who: Requester,
) -> MatrixResult<Json<Value>> {
    let threepids = state.threepids_of(&who.user_id).await?;
    Ok(Json(json!({ "threepids": threepids })))
}

/// # `POST /_matrix/client/v3/account/3pid` (deprecated)
/// `three_pid_creds` (or `threePidCreds`) `{client_secret, sid}`: 400 `M_MISSING_PARAM`
/// without them, `M_INVALID_PARAM` for a malformed secret, else `M_THREEPID_AUTH_FAILED`.
pub(super) async fn add_deprecated_route(
    _who: Requester,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    let creds = body
        .get("threePidCreds")
        .or_else(|| body.get("three_pid_creds"))
        .filter(|c| !c.is_null())
        .ok_or_else(|| {
            MatrixError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "M_MISSING_PARAM",
                "Missing param three_pid_creds",
            )
        })?;
    let missing: Vec<&str> = ["client_secret", "sid"]
        .into_iter()
        .filter(|k| creds.get(k).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(missing_params(&missing));
    }
    check_client_secret(creds.get("client_secret"))?;
    Err(no_validated_session())
}

/// # `POST /_matrix/client/v3/account/3pid/add`
/// Body `{client_secret, sid, auth?}`; interactive auth first (401 with the flows), then
/// 400 `M_THREEPID_AUTH_FAILED`: no validation session exists here.
pub(super) async fn add_route(
    State(state): State<AppState>,
    who: Requester,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Response> {
    check_body(
        &body,
        &[("client_secret", Field::Secret), ("sid", Field::Str)],
        &[("auth", Field::Object)],
    )?;
    if let Some(challenge) = user_interactive_auth(&state, &who, &body).await? {
        return Ok(challenge);
    }
    Err(no_validated_session())
}

/// # `POST /_matrix/client/v3/account/3pid/bind`
/// Body `{client_secret, id_access_token, id_server, sid}` (checked before the access
/// token, as Synapse). modhost binds at no identity server: 400 `M_THREEPID_AUTH_FAILED`.
pub(super) async fn bind_route(
    who: Result<Requester, MatrixError>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    check_body(
        &body,
        &[
            ("client_secret", Field::Secret),
            ("id_access_token", Field::Str),
            ("id_server", Field::Str),
            ("sid", Field::Str),
        ],
        &[],
    )?;
    who?;
    Err(no_validated_session())
}

/// The body of `/unbind` and `/delete`: `{medium: "email" | "msisdn", address, id_server?}`.
fn check_unbind_body(body: &Map<String, Value>) -> MatrixResult<()> {
    check_body(
        body,
        &[("address", Field::Str), ("medium", Field::Medium)],
        &[("id_server", Field::Str)],
    )
}

/// # `POST /_matrix/client/v3/account/3pid/unbind`
/// Unbinds at identity servers only (the account keeps the identifier):
/// `{"id_server_unbind_result": "no-support"}`.
pub(super) async fn unbind_route(
    _who: Requester,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    check_unbind_body(&body)?;
    Ok(no_support())
}

/// # `POST /_matrix/client/v3/account/3pid/delete`
/// Remove an identifier from the account (no interactive auth, as Synapse); the body is
/// checked before the access token. `on_remove_user_third_party_identifier` fires even when
/// the identifier was not bound, as in Synapse. Answers
/// `{"id_server_unbind_result": "no-support"}`.
pub(super) async fn delete_route(
    State(state): State<AppState>,
    who: Result<Requester, MatrixError>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    check_unbind_body(&body)?;
    let who = who?;
    let field = |k: &str| body[k].as_str().unwrap_or_default();
    state
        .delete_local_threepid(&who.user_id, field("medium"), field("address"))
        .await?;
    Ok(no_support())
}

/// The `requestToken` endpoints: each answers the error of
/// `AppState::request_token_refusal` (no authentication, as Synapse).
async fn request_token(
    state: &AppState,
    which: TokenRequest,
    body: JsonBody<Map<String, Value>>,
) -> Response {
    state
        .request_token_refusal(which, &body.0)
        .await
        .into_response()
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    let token = |which: TokenRequest| {
        post(move |State(state): State<AppState>, body| async move {
            request_token(&state, which, body).await
        })
    };
    Router::new()
        .route(
            "/_matrix/client/v3/account/3pid",
            get(threepids_route).post(add_deprecated_route),
        )
        .route("/_matrix/client/v3/account/3pid/add", post(add_route))
        .route("/_matrix/client/v3/account/3pid/bind", post(bind_route))
        .route("/_matrix/client/v3/account/3pid/unbind", post(unbind_route))
        .route("/_matrix/client/v3/account/3pid/delete", post(delete_route))
        .route(
            "/_matrix/client/v3/account/3pid/email/requestToken",
            token(TokenRequest::AccountEmail),
        )
        .route(
            "/_matrix/client/v3/account/3pid/msisdn/requestToken",
            token(TokenRequest::AccountMsisdn),
        )
        .route(
            "/_matrix/client/v3/register/email/requestToken",
            token(TokenRequest::RegisterEmail),
        )
        .route(
            "/_matrix/client/v3/register/msisdn/requestToken",
            token(TokenRequest::RegisterMsisdn),
        )
}
