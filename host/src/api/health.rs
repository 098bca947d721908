//! `/_modhost/health` with the database open: it answers whether writes work.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/_modhost/health", get(health_route))
}

/// # `GET /_modhost/health`
/// 200 `{"status": "ok"}` while the database and media store accept writes; 503
/// `{"status": "failing", "errcode": "M_UNKNOWN", "error": <reason>}` otherwise (a full disk,
/// say), back to 200 as soon as writes work again.
async fn health_route(State(state): State<AppState>) -> Response {
    match crate::service::health::check_writes(&state).await {
        Ok(()) => Json(json!({"status": "ok"})).into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "failing", "errcode": "M_UNKNOWN", "error": reason})),
        )
            .into_response(),
    }
}
