//! Reading around an event and searching: `/rooms/{roomId}/context/{eventId}` and
//! `/search`; the work is in `service::pagination` and `service::search`.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::extract::{JsonBody, MatrixQuery, Requester};
use super::AppState;
use crate::error::MatrixResult;
use crate::service::{filters, pagination, search};

#[derive(Deserialize)]
pub(super) struct ContextQuery {
    limit: Option<u64>,
    filter: Option<String>,
}

/// # `GET /_matrix/client/v3/rooms/{roomId}/context/{eventId}`
/// `limit` (default 10, at most 1000) events around the event, half before and half after.
pub(super) async fn context_route(
    State(state): State<AppState>,
    who: Requester,
    Path((room_id, event_id)): Path<(String, String)>,
    MatrixQuery(q): MatrixQuery<ContextQuery>,
) -> MatrixResult<Json<Value>> {
    let filter = filters::room_event_filter(q.filter.as_deref())?;
    let limit = q.limit.unwrap_or(10).min(1000) as i64;
    pagination::context(&state, &who.user_id, &room_id, &event_id, limit, filter)
        .await
        .map(Json)
}

#[derive(Deserialize)]
pub(super) struct SearchQuery {
    next_batch: Option<String>,
}

/// # `POST /_matrix/client/v3/search`
pub(super) async fn search_route(
    State(state): State<AppState>,
    who: Requester,
    MatrixQuery(q): MatrixQuery<SearchQuery>,
    JsonBody(body): JsonBody<Value>,
) -> MatrixResult<Json<Value>> {
    search::search(&state, &who.user_id, &body, q.next_batch.as_deref())
        .await
        .map(Json)
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/_matrix/client/v3/rooms/{room}/context/{event_id}",
            get(context_route),
        )
        .route("/_matrix/client/v3/search", post(search_route))
}
