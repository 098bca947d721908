//! `/notifications` and `/pushers` (spec §"Push Notifications"); the logic is
//! `service::notifications` and `service::pushers`.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::extract::{JsonBody, MatrixQuery, Requester};
use super::AppState;
use crate::error::MatrixResult;
use crate::service::{notifications, pushers};

#[derive(Deserialize)]
struct NotificationsQuery {
    from: Option<String>,
    limit: Option<u64>,
    only: Option<String>,
}

/// # `GET /_matrix/client/v3/notifications`
async fn notifications_route(
    State(state): State<AppState>,
    who: Requester,
    MatrixQuery(q): MatrixQuery<NotificationsQuery>,
) -> MatrixResult<Json<Value>> {
    notifications::list(
        &state,
        &who.user_id,
        q.from.as_deref(),
        q.limit,
        q.only.as_deref(),
    )
    .await
    .map(Json)
}

/// # `GET /_matrix/client/v3/pushers`
async fn pushers_route(State(state): State<AppState>, who: Requester) -> MatrixResult<Json<Value>> {
    pushers::list(&state, &who.user_id).await.map(Json)
}

/// # `POST /_matrix/client/v3/pushers/set`
async fn set_pusher_route(
    State(state): State<AppState>,
    who: Requester,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    pushers::set(&state, &who, &body).await?;
    Ok(Json(json!({})))
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/_matrix/client/v3/notifications", get(notifications_route))
        .route("/_matrix/client/v3/pushers", get(pushers_route))
        .route("/_matrix/client/v3/pushers/set", post(set_pusher_route))
}
