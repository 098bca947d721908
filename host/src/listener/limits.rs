//! Refusing a request whose declared body is too large before reading any of it.

use axum::http::{header, Request, StatusCode};
use axum::response::Response;

use crate::config::Config;

/// The largest JSON request body the client API reads, in bytes (axum's default body limit,
/// which `JsonBody` applies).
pub const JSON_BODY_LIMIT: u64 = 2 * 1024 * 1024;

/// The largest body each kind of path reads, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// `/_matrix/media/…` (uploads): `max_upload_size`.
    pub media: u64,
    /// The rest of `/_matrix/…` and `/_synapse/admin/…`: JSON bodies.
    pub json: u64,
    /// Anything else (module web resources): `max_module_request_body_bytes`, or the JSON
    /// limit if that is larger.
    pub other: u64,
}

impl BodyLimits {
    /// The limits `config` sets.
    pub fn from_config(config: &Config) -> BodyLimits {
        let module = u64::try_from(config.max_module_request_body).unwrap_or(u64::MAX);
        BodyLimits {
            media: config.max_upload_size,
            json: JSON_BODY_LIMIT,
            other: module.max(JSON_BODY_LIMIT),
        }
    }

    /// The limit for a request to `path`, in bytes.
    pub fn for_path(&self, path: &str) -> u64 {
        if is_media(path) {
            self.media
        } else if path.starts_with("/_matrix/") || path.starts_with("/_synapse/admin/") {
            self.json
        } else {
            self.other
        }
    }

    /// 413 `M_TOO_LARGE` when `req` declares (`Content-Length`) a body above the limit of
    /// its path; `None` to go on. A body sent without a length is limited while it is read.
    pub fn refuse<B>(&self, req: &Request<B>) -> Option<Response> {
        let declared: u64 = req
            .headers()
            .get(header::CONTENT_LENGTH)?
            .to_str()
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let path = req.uri().path();
        let limit = self.for_path(path);
        if declared <= limit {
            return None;
        }
        // Worded as the handler itself would have refused it once read.
        let message = if limit == self.media && is_media(path) {
            "Upload request body is too large"
        } else {
            "Request body is too large"
        };
        tracing::debug!(
            declared,
            limit,
            path = req.uri().path(),
            "request body too large"
        );
        let mut response =
            crate::web::matrix_error(StatusCode::PAYLOAD_TOO_LARGE, "M_TOO_LARGE", message);
        // The body is never read, so the connection cannot carry another request: say so,
        // or a client would reuse it and see it closed under its next request.
        response.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        Some(response)
    }
}

/// A content repository path (`/_matrix/media/…`, `/_matrix/client/v1/media/…`).
fn is_media(path: &str) -> bool {
    path.starts_with("/_matrix/media/") || path.starts_with("/_matrix/client/v1/media/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_path_gets_its_limit() {
        let limits = BodyLimits {
            media: 100,
            json: 10,
            other: 50,
        };
        let req = |path: &str, length: &str| {
            Request::post(path)
                .header(header::CONTENT_LENGTH, length)
                .body(())
                .unwrap()
        };
        assert!(limits
            .refuse(&req("/_matrix/media/v3/upload", "100"))
            .is_none());
        assert!(limits
            .refuse(&req("/_matrix/media/v3/upload", "101"))
            .is_some());
        let refused = limits
            .refuse(&req("/_matrix/client/v3/createRoom", "11"))
            .expect("refused");
        assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(refused.headers()[header::CONNECTION], "close");
        assert!(limits.refuse(&req("/_synapse/client/x", "50")).is_none());
    }
}
