//! OpenID tokens: `POST /_matrix/client/v3/user/{userId}/openid/request_token` (client-server
//! spec v1.12 §"OpenID") and the check third parties make,
//! `GET /_matrix/federation/v1/openid/userinfo` (server-server spec §"OpenID").

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::extract::{JsonBody, MatrixQuery, Requester};
use super::AppState;
use crate::error::MatrixResult;

/// # `POST /_matrix/client/v3/user/{userId}/openid/request_token`
pub(super) async fn request_token_route(
    State(state): State<AppState>,
    who: Requester,
    Path(user_id): Path<String>,
    JsonBody(_body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    let answer = crate::service::openid::request_token(&state, &who.user_id, &user_id).await?;
    Ok(Json(answer))
}

#[derive(Deserialize)]
pub(super) struct UserinfoQuery {
    access_token: String,
}

/// # `GET /_matrix/federation/v1/openid/userinfo?access_token=…`
pub(super) async fn userinfo_route(
    State(state): State<AppState>,
    MatrixQuery(q): MatrixQuery<UserinfoQuery>,
) -> MatrixResult<Json<Value>> {
    Ok(Json(
        crate::service::openid::userinfo(&state, &q.access_token).await?,
    ))
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/_matrix/client/v3/user/{user}/openid/request_token",
            post(request_token_route),
        )
        .route(
            "/_matrix/federation/v1/openid/userinfo",
            get(userinfo_route),
        )
}
