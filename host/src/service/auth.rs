//! Who is asking: an access token resolved to its user and device (spec §"Using access
//! tokens"), with the account validity modules consulted on every authenticated request.

use axum::http::StatusCode;

use crate::error::MatrixError;
use crate::service::session::hash_token;
use crate::state::AppState;

/// The user behind the request's access token.
#[derive(Debug, Clone)]
pub struct Requester {
    /// Full MXID.
    pub user_id: String,
    /// The token's device.
    pub device_id: String,
    /// The access token as sent (needed by `on_logged_out`).
    pub access_token: String,
    /// SHA-256 of the token (its storage key).
    pub token_hash: String,
    /// Server admin.
    pub is_admin: bool,
    /// Shadow-banned.
    pub shadow_banned: bool,
}

/// The requester behind `token` (`None` when the request carried none): 401
/// `M_MISSING_TOKEN` / `M_UNKNOWN_TOKEN`, or 403 `ORG_MATRIX_EXPIRED_ACCOUNT` when an
/// account validity module says the account has expired (`is_user_expired`).
pub async fn authenticate(
    state: &AppState,
    token: Option<String>,
) -> Result<Requester, MatrixError> {
    let requester = authenticate_allow_expired(state, token).await?;
    if state.modules.is_user_expired(&requester.user_id).await? == Some(true) {
        return Err(MatrixError::new(
            StatusCode::FORBIDDEN,
            "ORG_MATRIX_EXPIRED_ACCOUNT",
            "User account has expired",
        ));
    }
    Ok(requester)
}

/// Like [`authenticate`], without asking the account validity modules (`/logout` works for
/// expired accounts, as in Synapse).
pub async fn authenticate_allow_expired(
    state: &AppState,
    token: Option<String>,
) -> Result<Requester, MatrixError> {
    let token = token.ok_or_else(|| {
        MatrixError::new(
            StatusCode::UNAUTHORIZED,
            "M_MISSING_TOKEN",
            "Missing access token",
        )
    })?;
    let token_hash = hash_token(&token);
    let info = state.store.token_info(&token_hash).await?.ok_or_else(|| {
        // Not a soft logout: the token is gone for good (logged out or never issued).
        let mut e = MatrixError::new(
            StatusCode::UNAUTHORIZED,
            "M_UNKNOWN_TOKEN",
            "Invalid access token passed.",
        );
        e.fields.insert("soft_logout".into(), false.into());
        e
    })?;
    Ok(Requester {
        user_id: info.user_id,
        device_id: info.device_id,
        access_token: token,
        token_hash,
        is_admin: info.is_admin,
        shadow_banned: info.shadow_banned,
    })
}
