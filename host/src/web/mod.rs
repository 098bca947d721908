//! The HTTP surface: the server's own routes, module web resources, and Matrix-style errors
//! for everything else.

pub mod paths;
mod resource;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::modules::Registry;

/// A Matrix error response.
pub fn matrix_error(status: StatusCode, errcode: &str, error: &str) -> Response {
    (status, Json(json!({ "errcode": errcode, "error": error }))).into_response()
}

/// The application router: host routes first, then every module resource (and everything
/// below it), then a `M_UNRECOGNIZED` fallback.
pub fn router(registry: Arc<Registry>, body_limit: usize) -> Router {
    let mut app = Router::new()
        .route("/_matrix/client/versions", get(versions))
        .route(
            "/_modhost/health",
            get(|| async { Json(json!({ "status": "ok" })) }),
        );
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

async fn versions() -> Json<serde_json::Value> {
    Json(json!({ "versions": ["v1.11", "v1.12"], "unstable_features": {} }))
}
pub use axum;
