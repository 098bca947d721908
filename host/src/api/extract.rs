//! Request extractors: the authenticated requester and JSON bodies, with Matrix errors for
//! every rejection.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::AppState;
use crate::error::MatrixError;
use crate::service::auth;
pub use crate::service::auth::Requester;

/// `(user_agent, ip)` of a request, as spam checkers receive it in `request_info`
/// (Synapse's `SynapseRequest.request_info()`): the `User-Agent` header (empty when absent)
/// and the address of the peer that connected. There is no trusted-proxy setting, so
/// `X-Forwarded-For` is not believed (Synapse only reads it on `x_forwarded` listeners);
/// without a socket address (a request not served by `Server::serve`) the IP is empty.
pub struct RequestInfo(pub (String, String));

impl<S: Send + Sync> FromRequestParts<S> for RequestInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let agent = parts
            .headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let ip = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_canonical().to_string())
            .unwrap_or_default();
        Ok(RequestInfo((agent.to_string(), ip)))
    }
}

/// Like [`Requester`] but also accepted for expired accounts (`/logout`).
pub struct RequesterAllowExpired(pub Requester);

/// The access token of a request, read as Synapse reads it (client-server spec v1.12 §"Using
/// access tokens"): `Authorization: Bearer <token>`, else the `access_token` query parameter.
/// 401 `M_MISSING_TOKEN` for several `Authorization` headers, one that is not `Bearer <token>`,
/// or a header and a query parameter both.
fn token_of(parts: &Parts) -> Result<Option<String>, MatrixError> {
    let missing = |why: &str| MatrixError::new(StatusCode::UNAUTHORIZED, "M_MISSING_TOKEN", why);
    let from_query = parts.uri.query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v.into_owned())
    });
    let mut headers = parts.headers.get_all("authorization").iter();
    let Some(header) = headers.next() else {
        return Ok(from_query);
    };
    if headers.next().is_some() {
        return Err(missing("Too many Authorization headers."));
    }
    if from_query.is_some() {
        return Err(missing(
            "Mixing Authorization headers and access_token query parameters.",
        ));
    }
    let token = header
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| !t.is_empty() && !t.contains(' '));
    token
        .map(|t| Some(t.to_string()))
        .ok_or_else(|| missing("Invalid Authorization header."))
}

impl FromRequestParts<AppState> for Requester {
    type Rejection = MatrixError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, MatrixError> {
        auth::authenticate(state, token_of(parts)?).await
    }
}

impl FromRequestParts<AppState> for RequesterAllowExpired {
    type Rejection = MatrixError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, MatrixError> {
        auth::authenticate_allow_expired(state, token_of(parts)?)
            .await
            .map(RequesterAllowExpired)
    }
}

/// A JSON request body: `M_NOT_JSON` if it does not parse, `M_BAD_JSON` if it does not fit.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = MatrixError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, MatrixError> {
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        let text = if bytes.is_empty() {
            &b"{}"[..]
        } else {
            &bytes[..]
        };
        let value: serde_json::Value = serde_json::from_slice(text).map_err(|_| {
            MatrixError::new(StatusCode::BAD_REQUEST, "M_NOT_JSON", "Content not JSON.")
        })?;
        if !value.is_object() {
            return Err(MatrixError::bad_json("Content must be a JSON object."));
        }
        serde_json::from_value(value)
            .map(JsonBody)
            .map_err(|e| MatrixError::bad_json(e.to_string()))
    }
}

/// Why a JSON body could not be read: too large (413 `M_TOO_LARGE`), or not received
/// (stalled past the listener's `body_timeout_ms`, connection lost: 400 `M_UNKNOWN`).
fn body_error(rejection: BytesRejection) -> MatrixError {
    match rejection {
        BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
            MatrixError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "M_TOO_LARGE",
                "Request body is too large",
            )
        }
        _ => MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_UNKNOWN",
            "The request body could not be read",
        ),
    }
}

/// A query string read into `T`, with Matrix errors: 400 `M_MISSING_PARAM` when a required
/// parameter is absent, 400 `M_INVALID_PARAM` when one does not parse (axum's own `Query`
/// answers in plain text).
pub struct MatrixQuery<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for MatrixQuery<T> {
    type Rejection = MatrixError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, MatrixError> {
        let query = parts.uri.query().unwrap_or_default();
        let pairs = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(pairs)
            .map(MatrixQuery)
            .map_err(|e| {
                let field = e.path().to_string();
                let text = e.into_inner().to_string();
                let text = if field == "." {
                    text
                } else {
                    format!("{field}: {text}")
                };
                let errcode = if text.starts_with("missing field") {
                    "M_MISSING_PARAM"
                } else {
                    "M_INVALID_PARAM"
                };
                MatrixError::new(
                    StatusCode::BAD_REQUEST,
                    errcode,
                    format!("Invalid query: {text}"),
                )
            })
    }
}
