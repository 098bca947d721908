//! Matrix errors instead of axum's plain-text rejections on Matrix paths: a path parameter
//! that is not valid UTF-8 (`/rooms/%FF/state`), say, is answered by axum's extractor with a
//! `text/plain` 400 that clients cannot parse (spec §"Standard error response": every
//! error is a JSON object with `errcode`).

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

/// The most of a plain-text error body carried over into the Matrix error, in bytes.
const MAX_MESSAGE: usize = 1024;

/// Run `req`; when it is for `/_matrix/…` or `/_synapse/admin/…` and the answer is a
/// plain-text 4xx (an extractor's rejection), answer `M_INVALID_PARAM` with the same
/// status and its text as `error` instead. Module web resources keep their own answers.
pub async fn to_matrix(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let matrix = path.starts_with("/_matrix/") || path.starts_with("/_synapse/admin/");
    let response = next.run(req).await;
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !matrix || !plain || !response.status().is_client_error() {
        return response;
    }
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), MAX_MESSAGE)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    let errcode = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "M_TOO_LARGE"
    } else {
        "M_INVALID_PARAM"
    };
    super::matrix_error(status, errcode, text.trim())
}
