//! Thumbnails of uploaded images (spec §"Thumbnails"): the authenticated endpoint and the
//! legacy unauthenticated one; the work is `service::thumbnail`.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::extract::{MatrixQuery, Requester};
use super::media::file_response;
use super::AppState;
use crate::error::MatrixResult;
use crate::service::thumbnail::{self, ThumbnailRequest};

/// The query string: `width` and `height` (pixels, required), `method` (`scale` unless
/// given), `animated` (`true`/`false`, false unless given). Others (`timeout_ms`,
/// `allow_remote`) do not matter for local media and are ignored.
#[derive(Deserialize)]
pub(super) struct ThumbnailQuery {
    width: u32,
    height: u32,
    method: Option<String>,
    animated: Option<bool>,
}

async fn respond(
    state: &AppState,
    p: &HashMap<String, String>,
    q: ThumbnailQuery,
) -> MatrixResult<Response> {
    let request = ThumbnailRequest {
        width: q.width,
        height: q.height,
        method: q.method.unwrap_or_else(|| "scale".into()),
        animated: q.animated.unwrap_or(false),
    };
    let made = thumbnail::thumbnail(state, &p["server"], &p["media_id"], request).await?;
    Ok(file_response(made.bytes, Some(&made.content_type), None))
}

/// # `GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}` (authenticated)
pub(super) async fn thumbnail_route(
    State(state): State<AppState>,
    _who: Requester,
    Path(p): Path<HashMap<String, String>>,
    MatrixQuery(q): MatrixQuery<ThumbnailQuery>,
) -> MatrixResult<Response> {
    respond(&state, &p, q).await
}

/// # `GET /_matrix/media/v3/thumbnail/{serverName}/{mediaId}` (legacy, unauthenticated)
pub(super) async fn legacy_thumbnail_route(
    State(state): State<AppState>,
    Path(p): Path<HashMap<String, String>>,
    MatrixQuery(q): MatrixQuery<ThumbnailQuery>,
) -> MatrixResult<Response> {
    respond(&state, &p, q).await
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/_matrix/client/v1/media/thumbnail/{server}/{media_id}",
            get(thumbnail_route),
        )
        .route(
            "/_matrix/media/v3/thumbnail/{server}/{media_id}",
            get(legacy_thumbnail_route),
        )
}
