//! The HTTP surface: the server's own routes, module web resources, and Matrix-style errors
//! for everything else.

pub mod paths;
pub mod plain_errors;
mod resource;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::modules::Registry;

/// `/_modhost/health` without a database (the client API's own probes writes).
pub fn plain_health() -> Router {
    Router::new().route(
        "/_modhost/health",
        get(|| async { Json(json!({ "status": "ok" })) }),
    )
}

/// A Matrix error response.
pub fn matrix_error(status: StatusCode, errcode: &str, error: &str) -> Response {
    (status, Json(json!({ "errcode": errcode, "error": error }))).into_response()
}

/// The application router: host routes first, then every module resource (and everything
/// below it), then a `M_UNRECOGNIZED` fallback.
pub fn router(registry: Arc<Registry>, body_limit: usize) -> Router {
    let mut app = Router::new().route("/_matrix/client/versions", get(versions));
    for index in 0..registry.web.len() {
        app = resource::mount(app, Arc::clone(&registry), index, body_limit);
    }
    app.fallback(|| async {
        matrix_error(
            StatusCode::NOT_FOUND,
            "M_UNRECOGNIZED",
            "Unrecognized request",
        )
    })
}

/// The client-server spec versions served (spec §"GET /_matrix/client/versions"): every r0
/// release (their paths answer as their v3 twins) and v1.1 to v1.12, as Synapse lists them.
pub const SPEC_VERSIONS: &[&str] = &[
    "r0.0.1", "r0.1.0", "r0.2.0", "r0.3.0", "r0.4.0", "r0.5.0", "r0.6.0", "r0.6.1", "v1.1", "v1.2",
    "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11", "v1.12",
];

async fn versions() -> Json<serde_json::Value> {
    Json(json!({ "versions": SPEC_VERSIONS, "unstable_features": {} }))
}

/// The CORS headers the client-server spec asks of every response (§"Web Browser Clients"):
/// any origin, the API's methods and the headers clients send; preflight `OPTIONS` requests
/// are answered here, before routing.
pub fn cors() -> tower_http::cors::CorsLayer {
    use axum::http::{header, Method};
    tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::HeaderName::from_static("x-requested-with"),
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
        ])
}

/// Map a request for an r0 path (`/_matrix/client/r0/…`, `/_matrix/media/r0/…`) onto its v3
/// twin: the r0 endpoints clients still call are the v3 ones under their old names.
pub fn r0_to_v3(mut req: axum::extract::Request) -> axum::extract::Request {
    let path = req.uri().path();
    let rewritten = ["/_matrix/client/r0/", "/_matrix/media/r0/"]
        .iter()
        .find(|prefix| path.starts_with(**prefix))
        .map(|prefix| {
            format!(
                "{}v3/{}",
                &prefix[..prefix.len() - 3],
                &path[prefix.len()..]
            )
        });
    if let Some(path) = rewritten {
        let with_query = match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        if let Ok(uri) = with_query.parse() {
            *req.uri_mut() = uri;
        }
    }
    req
}
pub use axum;
