//! `/sync`: long-polls until something new happens or the timeout passes; the response is
//! built by `service::sync`. Filters.

use axum::routing::{get, post};
use axum::Router;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{JsonBody, MatrixQuery, Requester};
use super::AppState;
use crate::error::{MatrixError, MatrixResult};
use crate::service::filters;
use crate::service::sync::{build, parse_since, SyncRequest};

#[derive(Deserialize)]
pub(super) struct SyncQuery {
    since: Option<String>,
    timeout: Option<u64>,
    full_state: Option<bool>,
    filter: Option<String>,
}

/// # `GET /_matrix/client/v3/sync`
pub(super) async fn sync_route(
    State(state): State<AppState>,
    who: Requester,
    MatrixQuery(q): MatrixQuery<SyncQuery>,
) -> MatrixResult<Json<Value>> {
    let since = match q.since.as_deref() {
        Some(t) => {
            Some(parse_since(t).ok_or_else(|| MatrixError::invalid_param("Invalid since token"))?)
        }
        None => None,
    };
    let deadline = Instant::now() + Duration::from_millis(q.timeout.unwrap_or(0).min(120_000));
    let filter = filters::resolve(&state, &who.user_id, q.filter.as_deref()).await?;
    let req = SyncRequest {
        user_id: &who.user_id,
        since,
        full_state: q.full_state.unwrap_or(false),
        limit: filter.timeline_limit(),
        filter: &filter,
        device_id: &who.device_id,
    };
    let mut changes = state.notifier.subscribe(&who.user_id);
    loop {
        let (body, has_updates) = build(&state, req).await?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        if has_updates || since.is_none() || remaining.is_zero() {
            return Ok(Json(body));
        }
        // Something concerning this user was written; look again, until the timeout.
        if tokio::time::timeout(remaining, changes.changed())
            .await
            .is_err()
        {
            let (body, _) = build(&state, req).await?;
            return Ok(Json(body));
        }
    }
}

/// # `POST /_matrix/client/v3/user/{userId}/filter`
pub(super) async fn create_filter_route(
    State(state): State<AppState>,
    who: Requester,
    Path(user_id): Path<String>,
    JsonBody(filter): JsonBody<Value>,
) -> MatrixResult<Json<Value>> {
    let filter_id = filters::create(&state, &who, &user_id, &filter).await?;
    Ok(Json(json!({ "filter_id": filter_id })))
}

/// # `GET /_matrix/client/v3/user/{userId}/filter/{filterId}`
pub(super) async fn get_filter_route(
    State(state): State<AppState>,
    who: Requester,
    Path((user_id, filter_id)): Path<(String, String)>,
) -> MatrixResult<Json<Value>> {
    filters::get(&state, &who, &user_id, &filter_id)
        .await
        .map(Json)
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/_matrix/client/v3/sync", get(sync_route))
        .route(
            "/_matrix/client/v3/user/{user}/filter",
            post(create_filter_route),
        )
        .route(
            "/_matrix/client/v3/user/{user}/filter/{id}",
            get(get_filter_route),
        )
}
