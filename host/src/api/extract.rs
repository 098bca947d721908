//! Request extractors: the authenticated requester and JSON bodies, with Matrix errors for
//! every rejection.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::AppState;

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

/// Like [`Requester`] but also accepted for expired accounts (`/logout`).
pub struct RequesterAllowExpired(pub Requester);

/// Hash a token for storage.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn token_of(parts: &Parts) -> Option<String> {
    if let Some(value) = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    {
        return value.strip_prefix("Bearer ").map(|t| t.trim().to_string());
    }
    parts
        .uri
        .query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("access_token=").map(String::from))
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Requester, ApiError> {
    let token = token_of(parts).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "M_MISSING_TOKEN",
            "Missing access token",
        )
    })?;
    let token_hash = hash_token(&token);
    let info = state.store.token_info(&token_hash).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "M_UNKNOWN_TOKEN",
            "Invalid access token passed.",
        )
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

impl FromRequestParts<AppState> for Requester {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let requester = authenticate(parts, state).await?;
        // Account validity modules decide on every authenticated request.
        if state.modules.is_user_expired(&requester.user_id).await? == Some(true) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "ORG_MATRIX_EXPIRED_ACCOUNT",
                "User account has expired",
            ));
        }
        Ok(requester)
    }
}

impl FromRequestParts<AppState> for RequesterAllowExpired {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state).await.map(RequesterAllowExpired)
    }
}

/// A JSON request body: `M_NOT_JSON` if it does not parse, `M_BAD_JSON` if it does not fit.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "M_TOO_LARGE",
                "Request body is too large",
            )
        })?;
        let text = if bytes.is_empty() {
            &b"{}"[..]
        } else {
            &bytes[..]
        };
        let value: serde_json::Value = serde_json::from_slice(text).map_err(|_| {
            ApiError::new(StatusCode::BAD_REQUEST, "M_NOT_JSON", "Content not JSON.")
        })?;
        if !value.is_object() {
            return Err(ApiError::bad_json("Content must be a JSON object."));
        }
        serde_json::from_value(value)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_json(e.to_string()))
    }
}
