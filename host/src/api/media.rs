//! Media: upload, download, config — with the media repository and media spam callbacks.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use plugin_sdk::{MediaUploadLimit, SpamCheck};
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::Requester;
use super::AppState;
use crate::error::{MatrixError, MatrixResult};
use crate::service::events::random_id;

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

fn too_large() -> MatrixError {
    MatrixError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "M_TOO_LARGE",
        "Upload request body is too large",
    )
}

#[derive(Deserialize)]
pub(super) struct UploadQuery {
    filename: Option<String>,
}

/// # `POST /_matrix/media/v3/upload`
/// Size checks (server limit, then `is_user_allowed_to_upload_media_of_size`), upload limits
/// (`get_media_upload_limits_for_user`), then `check_media_file_for_spam`, then storage.
pub(super) async fn upload_route(
    State(state): State<AppState>,
    who: Requester,
    headers: HeaderMap,
    Query(q): Query<UploadQuery>,
    body: Body,
) -> MatrixResult<Json<Value>> {
    let limit = usize::try_from(state.config.max_upload_size).unwrap_or(usize::MAX);
    let body: Bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(body.len() as u64);
    if declared > state.config.max_upload_size || body.len() as u64 > state.config.max_upload_size {
        return Err(too_large());
    }
    if !state
        .modules
        .is_user_allowed_to_upload_media_of_size(&who.user_id, declared)
        .await?
    {
        return Err(too_large());
    }
    let size = body.len() as u64;
    if let Some(mut limits) = state
        .modules
        .get_media_upload_limits_for_user(&who.user_id)
        .await?
    {
        // Longest period first, as Synapse checks them.
        limits.sort_by_key(|l| std::cmp::Reverse(l.time_period_ms));
        for limit in limits {
            let sent = state
                .store
                .uploaded_since(&who.user_id, limit.time_period_ms as i64)
                .await? as u64;
            if sent + size > limit.max_bytes {
                let copy = MediaUploadLimit { ..limit };
                state
                    .modules
                    .on_media_upload_limit_exceeded(&who.user_id, copy, sent, size)
                    .await?;
                return Err(MatrixError::new(
                    StatusCode::BAD_REQUEST,
                    "M_RESOURCE_LIMIT_EXCEEDED",
                    "Media upload limit exceeded",
                ));
            }
        }
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let file_info =
        json!({"media_type": content_type, "size": size, "upload_name": q.filename}).to_string();
    if let SpamCheck::Deny(_) = state
        .modules
        .check_media_file_for_spam(&body, &file_info)
        .await?
    {
        return Err(MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_UNKNOWN",
            "Bad content",
        ));
    }

    let media_id = random_id(24);
    let dir = &state.config.media_store_path;
    let write = {
        let (dir, media_id, body) = (dir.clone(), media_id.clone(), body.clone());
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write;
            std::fs::create_dir_all(&dir)?;
            let tmp = dir.join(format!(".{media_id}.part"));
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&body)?;
            // Durable before it is acknowledged: data, then the rename.
            file.sync_all()?;
            std::fs::rename(&tmp, dir.join(&media_id))?;
            std::fs::File::open(&dir)?.sync_all()
        })
    };
    write
        .await
        .map_err(|_| MatrixError::internal())?
        .map_err(|e| {
            tracing::error!("cannot store media in {}: {e}", dir.display());
            MatrixError::internal()
        })?;
    state
        .store
        .add_media(
            &media_id,
            &who.user_id,
            content_type.as_deref(),
            q.filename.as_deref(),
            size as i64,
        )
        .await?;
    Ok(Json(
        json!({"content_uri": format!("mxc://{}/{media_id}", state.config.server_name)}),
    ))
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
    let mut response = Response::new(Body::from(bytes));
    let content_type = row
        .content_type
        .unwrap_or_else(|| "application/octet-stream".into());
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
    let name: String = row
        .upload_name
        .unwrap_or_default()
        .chars()
        .filter(|c| !matches!(c, '"' | '\\' | '\r' | '\n'))
        .collect();
    let value = if name.is_empty() {
        disposition.to_string()
    } else {
        format!("{disposition}; filename=\"{name}\"")
    };
    if let Ok(v) = value.parse() {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
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
