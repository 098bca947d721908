//! `GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]`
//! (client-server spec v1.12 §"Relationships").

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{MatrixQuery, Requester};
use super::room_events::parse_position;
use super::AppState;
use crate::error::{MatrixError, MatrixResult};
use crate::service::relations::MAX_RELATIONS_LIMIT;
use crate::storage::RelationsPage;

#[derive(Deserialize)]
pub(super) struct RelationsQuery {
    from: Option<String>,
    to: Option<String>,
    limit: Option<i64>,
    dir: Option<String>,
    /// Accepted (spec v1.10); relations are not followed recursively.
    #[allow(dead_code)]
    recurse: Option<bool>,
}

/// The path's parts: parent event, and optionally `relType` and event `type`.
struct Filter {
    room_id: String,
    event_id: String,
    rel_type: Option<String>,
    event_type: Option<String>,
}

async fn answer(
    state: AppState,
    who: Requester,
    f: Filter,
    q: RelationsQuery,
) -> MatrixResult<Json<Value>> {
    crate::service::rooms::require_joined(&state, &f.room_id, &who.user_id).await?;
    let forwards = match q.dir.as_deref() {
        None | Some("b") => false,
        Some("f") => true,
        Some(other) => {
            return Err(MatrixError::invalid_param(format!(
                "Unknown dir: {other} (expected 'b' or 'f')"
            )))
        }
    };
    let token = |t: Option<&str>, name: &str| -> MatrixResult<Option<i64>> {
        t.map(|t| {
            parse_position(t, !forwards)
                .ok_or_else(|| MatrixError::invalid_param(format!("Invalid {name} token")))
        })
        .transpose()
    };
    let page = RelationsPage {
        parent: &f.event_id,
        rel_type: f.rel_type.as_deref(),
        event_type: f.event_type.as_deref(),
        from: token(q.from.as_deref(), "from")?,
        to: token(q.to.as_deref(), "to")?,
        forwards,
        limit: q.limit.unwrap_or(5).clamp(1, MAX_RELATIONS_LIMIT),
    };
    let answer = state.relations(&f.room_id, &who.user_id, page).await?;
    let mut body = json!({ "chunk": answer.chunk });
    if let Some(next) = answer.next_batch {
        body["next_batch"] = json!(format!("t{next}"));
    }
    if let Some(from) = q.from {
        body["prev_batch"] = json!(from);
    }
    Ok(Json(body))
}

/// # `GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}`
pub(super) async fn all_route(
    State(state): State<AppState>,
    who: Requester,
    Path((room_id, event_id)): Path<(String, String)>,
    MatrixQuery(q): MatrixQuery<RelationsQuery>,
) -> MatrixResult<Json<Value>> {
    let f = Filter {
        room_id,
        event_id,
        rel_type: None,
        event_type: None,
    };
    answer(state, who, f, q).await
}

/// # `GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType}`
pub(super) async fn by_rel_type_route(
    State(state): State<AppState>,
    who: Requester,
    Path((room_id, event_id, rel_type)): Path<(String, String, String)>,
    MatrixQuery(q): MatrixQuery<RelationsQuery>,
) -> MatrixResult<Json<Value>> {
    let f = Filter {
        room_id,
        event_id,
        rel_type: Some(rel_type),
        event_type: None,
    };
    answer(state, who, f, q).await
}

/// # `GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}`
pub(super) async fn by_event_type_route(
    State(state): State<AppState>,
    who: Requester,
    Path((room_id, event_id, rel_type, event_type)): Path<(String, String, String, String)>,
    MatrixQuery(q): MatrixQuery<RelationsQuery>,
) -> MatrixResult<Json<Value>> {
    let f = Filter {
        room_id,
        event_id,
        rel_type: Some(rel_type),
        event_type: Some(event_type),
    };
    answer(state, who, f, q).await
}

#[derive(Deserialize)]
pub(super) struct ThreadsQuery {
    include: Option<String>,
    from: Option<String>,
    limit: Option<i64>,
}

/// # `GET /_matrix/client/v1/rooms/{roomId}/threads?include=all|participated&from=&limit=`
/// The room's threads, most recently active first (`limit` default 5, at most 50).
pub(super) async fn threads_route(
    State(state): State<AppState>,
    who: Requester,
    Path(room_id): Path<String>,
    MatrixQuery(q): MatrixQuery<ThreadsQuery>,
) -> MatrixResult<Json<Value>> {
    crate::service::rooms::require_joined(&state, &room_id, &who.user_id).await?;
    let participated_only = match q.include.as_deref() {
        None | Some("all") => false,
        Some("participated") => true,
        Some(other) => {
            return Err(MatrixError::invalid_param(format!(
                "Unknown include value: {other} (expected 'all' or 'participated')"
            )))
        }
    };
    let limit = match q.limit {
        Some(l) if l < 1 => {
            return Err(MatrixError::invalid_param(
                "limit must be a positive integer",
            ))
        }
        l => l.unwrap_or(5).min(MAX_RELATIONS_LIMIT),
    };
    let before = match q.from.as_deref() {
        None => None,
        Some(t) => Some(
            parse_position(t, true)
                .ok_or_else(|| MatrixError::invalid_param("Invalid from token"))?,
        ),
    };
    let page = state
        .threads(&room_id, &who.user_id, participated_only, before, limit)
        .await?;
    let mut body = json!({ "chunk": page.chunk });
    if let Some(next) = page.next_batch {
        body["next_batch"] = json!(format!("t{next}"));
    }
    Ok(Json(body))
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    let base = "/_matrix/client/v1/rooms/{room}/relations/{event_id}";
    Router::new()
        .route(
            "/_matrix/client/v1/rooms/{room}/threads",
            get(threads_route),
        )
        .route(base, get(all_route))
        .route(&format!("{base}/{{rel_type}}"), get(by_rel_type_route))
        .route(
            &format!("{base}/{{rel_type}}/{{event_type}}"),
            get(by_event_type_route),
        )
}
