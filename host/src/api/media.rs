//! Media: upload, download, config — with the media repository and media spam callbacks.

use axum::routing::{get, post};
use axum::Router;
use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{MatrixQuery, Requester};
use super::AppState;
use crate::error::{MatrixError, MatrixResult};
use crate::service::media::{too_large, Upload};

/// Types safe to show inline (Synapse's list); anything else downloads as an attachment.
const INLINE_TYPES: &[&str] = &[
    "text/css",
    "text/plain",
    "text/csv",
    "application/json",
    "application/ld+json",
    "image/jpeg",
    "image/gif",
    "image/png",
    "image/apng",
    "image/webp",
    "image/avif",
    "video/mp4",
    "video/webm",
    "video/ogg",
    "video/quicktime",
    "audio/mp4",
    "audio/webm",
    "audio/aac",
    "audio/mpeg",
    "audio/ogg",
    "audio/wave",
    "audio/wav",
    "audio/x-wav",
    "audio/x-pn-wav",
    "audio/flac",
    "audio/x-flac",
];

#[derive(Deserialize)]
pub(super) struct UploadQuery {
    filename: Option<String>,
}

/// # `POST /_matrix/media/v3/upload`
/// The body is read up to `max_upload_size`; the checks and storage are `service::media`.
pub(super) async fn upload_route(
    State(state): State<AppState>,
    who: Requester,
    headers: HeaderMap,
    MatrixQuery(q): MatrixQuery<UploadQuery>,
    body: Body,
) -> MatrixResult<Json<Value>> {
    let limit = usize::try_from(state.config.max_upload_size).unwrap_or(usize::MAX);
    let body: Bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())?;
    let upload = Upload {
        declared_size: header_str(&headers, header::CONTENT_LENGTH)
            .and_then(|v| v.parse::<u64>().ok()),
        content_type: header_str(&headers, header::CONTENT_TYPE).map(String::from),
        filename: q.filename,
        body,
    };
    let media_id = crate::service::media::upload(&state, &who.user_id, upload).await?;
    Ok(Json(
        json!({"content_uri": format!("mxc://{}/{media_id}", state.config.server_name)}),
    ))
}

/// The header `name` as text, when present and visible ASCII.
fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn download(state: &AppState, server: &str, media_id: &str) -> MatrixResult<Response> {
    let not_found = || MatrixError::not_found("Media not found");
    if server != state.config.server_name || !media_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(not_found());
    }
    let row = state
        .store
        .get_media(media_id)
        .await?
        .ok_or_else(not_found)?;
    let bytes = tokio::fs::read(state.config.media_store_path.join(media_id))
        .await
        .map_err(|_| not_found())?;
    Ok(file_response(
        bytes,
        row.content_type.as_deref(),
        row.upload_name.as_deref(),
    ))
}

/// A media file as a response: its `Content-Type` (`application/octet-stream` when
/// unknown), `Content-Disposition` (`inline` for types safe to show, else `attachment`, with
/// `upload_name` as the file name), and headers that keep a browser from running it as a
/// page served by the homeserver (`nosniff`, a sandboxing CSP).
pub(super) fn file_response(
    bytes: Vec<u8>,
    content_type: Option<&str>,
    upload_name: Option<&str>,
) -> Response {
    let mut response = Response::new(Body::from(bytes));
    let content_type = content_type.unwrap_or("application/octet-stream");
    if let Ok(v) = content_type.parse() {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    // Uploaded bytes are served from the homeserver's origin: never let them run as a page.
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; \
             media-src 'self'; object-src 'self'",
        ),
    );
    if let Ok(v) = content_disposition(content_type, upload_name).parse() {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// `inline` for types safe to show, else `attachment`; with `upload_name` (quotes,
/// backslashes and line breaks dropped) as the file name.
fn content_disposition(content_type: &str, upload_name: Option<&str>) -> String {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let disposition = if INLINE_TYPES.contains(&essence.as_str()) {
        "inline"
    } else {
        "attachment"
    };
    // '\x22' is the double quote.
    let name: String = upload_name
        .unwrap_or_default()
        .chars()
        .filter(|c| !matches!(c, '\x22' | '\x5c' | '\x0d' | '\x0a'))
        .collect();
    if name.is_empty() {
        disposition.to_string()
    } else {
        format!("{disposition}; filename=\"{name}\"")
    }
}

/// # `GET /_matrix/client/v1/media/download/{serverName}/{mediaId}` (authenticated)
pub(super) async fn download_route(
    State(state): State<AppState>,
    _who: Requester,
    Path(p): Path<HashMap<String, String>>,
) -> MatrixResult<Response> {
    download(&state, &p["server"], &p["media_id"]).await
}

/// # `GET /_matrix/media/v3/download/{serverName}/{mediaId}` (legacy, unauthenticated)
pub(super) async fn legacy_download_route(
    State(state): State<AppState>,
    Path(p): Path<HashMap<String, String>>,
) -> MatrixResult<Response> {
    download(&state, &p["server"], &p["media_id"]).await
}

/// # `GET /_matrix/client/v1/media/config` (and the legacy `/_matrix/media/v3/config`)
/// A module's `get_media_config_for_user` answer, else the server's.
pub(super) async fn config_route(
    State(state): State<AppState>,
    who: Requester,
) -> MatrixResult<Response> {
    if let Some(config) = state
        .modules
        .get_media_config_for_user(&who.user_id)
        .await?
    {
        return Ok(Json(config).into_response());
    }
    Ok(Json(json!({"m.upload.size": state.config.max_upload_size})).into_response())
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/_matrix/client/v1/media/config", get(config_route))
        .route("/_matrix/media/v3/config", get(config_route))
        .route(
            "/_matrix/client/v1/media/download/{server}/{media_id}",
            get(download_route),
        )
        .route(
            "/_matrix/client/v1/media/download/{server}/{media_id}/{file_name}",
            get(download_route),
        )
        .route(
            "/_matrix/media/v3/download/{server}/{media_id}",
            get(legacy_download_route),
        )
        .route(
            "/_matrix/media/v3/download/{server}/{media_id}/{file_name}",
            get(legacy_download_route),
        )
        .route("/_matrix/media/v3/upload", post(upload_route))
}
