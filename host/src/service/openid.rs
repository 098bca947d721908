//! OpenID tokens (client-server spec v1.12 §"OpenID"; server-server §"OpenID"): a client
//! proves its identity to a third party (a widget, an integration manager), which checks the
//! token at `/_matrix/federation/v1/openid/userinfo`.

use serde_json::{json, Value};

use crate::error::{MatrixError, MatrixResult};
use crate::state::AppState;
use crate::storage::now_ms;

/// How long an OpenID token is valid, in seconds (Synapse's default, one hour).
pub const OPENID_TOKEN_LIFETIME_S: i64 = 3600;

/// A fresh token for `user_id`, requested by `requester`: `{access_token, token_type,
/// matrix_server_name, expires_in}` (seconds). 403 when asking for another user.
pub async fn request_token(
    state: &AppState,
    requester: &str,
    user_id: &str,
) -> MatrixResult<Value> {
    if requester != user_id {
        return Err(MatrixError::forbidden(
            "Cannot request tokens for other users.",
        ));
    }
    let token = crate::service::session::random_string(32);
    let expires = now_ms() + OPENID_TOKEN_LIFETIME_S * 1000;
    // Stored hashed, like access tokens.
    let hash = crate::service::session::hash_token(&token);
    state
        .store
        .create_openid_token(&hash, user_id, expires)
        .await?;
    Ok(json!({
        "access_token": token,
        "token_type": "Bearer",
        "matrix_server_name": state.config.server_name,
        "expires_in": OPENID_TOKEN_LIFETIME_S,
    }))
}

/// `{"sub": user_id}` for a valid token; 401 `M_UNKNOWN_TOKEN` for an unknown or expired one.
pub async fn userinfo(state: &AppState, token: &str) -> MatrixResult<Value> {
    let hash = crate::service::session::hash_token(token);
    match state.store.openid_token_user(&hash).await? {
        Some(user_id) => Ok(json!({ "sub": user_id })),
        None => Err(MatrixError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "M_UNKNOWN_TOKEN",
            "Access Token unknown or expired",
        )),
    }
}
