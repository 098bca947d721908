//! Thumbnails of uploaded images (spec §"Thumbnails"), made on request and kept: the first
//! request for a media, box, method and animation preference renders one (see [`render`])
//! and stores it under `media_store_path/thumbnails/<media_id>/`; the same request later is
//! answered from the stored file without decoding the original again.
//!
//! Like Synapse, each thumbnail made goes through the spam checkers'
//! `check_media_file_for_spam` before it is stored (its `file_info` is
//! `{"media_type", "size", "upload_name": null, "thumbnail": {"width", "height", "method",
//! "type"}}`, sizes in pixels and bytes); a denial answers 404 with the module's errcode and
//! "Not found", and nothing is stored.
//!
//! Errors follow Synapse: unknown media 404 `M_NOT_FOUND`; media that is not a thumbnailable
//! image type 400 `M_UNKNOWN`; an image that cannot be rendered (corrupt, or above
//! [`render::MAX_PIXELS`]) 400 `M_UNKNOWN`; a method other than `scale`/`crop` 404
//! `M_NOT_FOUND` (Synapse finds no thumbnail made that way).

pub mod render;

use std::path::PathBuf;

use axum::body::Bytes;
use axum::http::StatusCode;
use plugin_sdk::SpamCheck;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::error::{MatrixError, MatrixResult};
use crate::service::media::write_file_durably;
use crate::state::AppState;
use crate::storage::ThumbnailKey;
use render::{Method, Output, RenderError, Spec};

/// At most this many thumbnails are decoded at once: each may hold a [`render::MAX_PIXELS`]
/// image in memory.
static RENDERING: Semaphore = Semaphore::const_new(2);

/// One thumbnail request, as the client sent it.
#[derive(Debug, Clone)]
pub struct ThumbnailRequest {
    /// `width`: box width in pixels (≥ 1).
    pub width: u32,
    /// `height`: box height in pixels (≥ 1).
    pub height: u32,
    /// `method`: `scale` (default) or `crop`.
    pub method: String,
    /// `animated`: whether an animated thumbnail is wanted (default false).
    pub animated: bool,
}

/// A thumbnail to send.
#[derive(Debug)]
pub struct Thumbnail {
    /// The image file.
    pub bytes: Vec<u8>,
    /// Its content type.
    pub content_type: String,
}

/// The still-thumbnail encoding for an upload's content type, as Synapse chooses it (JPEG for
/// JPEG and WebP, PNG for PNG and GIF, which may be transparent); `None` when the type is not
/// thumbnailed.
pub fn output_for(content_type: &str) -> Option<Output> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "image/jpeg" | "image/jpg" | "image/webp" => Some(Output::Jpeg),
        "image/png" | "image/gif" => Some(Output::Png),
        _ => None,
    }
}

/// The thumbnail of `server`/`media_id` for `request`, from the store or rendered now.
/// Errors: 400 `M_INVALID_PARAM` for a zero width or height; 404 `M_NOT_FOUND` for media
/// that is not ours or not there, or an unknown method; 400 `M_UNKNOWN` for media that is not
/// a thumbnailable image or cannot be rendered; 500 when the store fails.
pub async fn thumbnail(
    state: &AppState,
    server: &str,
    media_id: &str,
    request: ThumbnailRequest,
) -> MatrixResult<Thumbnail> {
    for (name, value) in [("width", request.width), ("height", request.height)] {
        if value == 0 {
            return Err(MatrixError::invalid_param(format!(
                "Query parameter {name} must be a positive integer."
            )));
        }
    }
    let not_found = || MatrixError::not_found("Media not found");
    if server != state.config.server_name || !media_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(not_found());
    }
    let media = state
        .store
        .get_media(media_id)
        .await?
        .ok_or_else(not_found)?;
    let content_type = media.content_type.unwrap_or_default();
    let output = output_for(&content_type).ok_or_else(|| {
        MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_UNKNOWN",
            format!(
                "Media of type '{content_type}' has no thumbnails: only image/jpeg, image/jpg, \
                 image/webp, image/gif and image/png are thumbnailed"
            ),
        )
    })?;
    let method = match request.method.as_str() {
        "scale" => Method::Scale,
        "crop" => Method::Crop,
        _ => return Err(MatrixError::not_found("Not found")),
    };
    let key = ThumbnailKey {
        media_id: media_id.to_string(),
        width: request.width,
        height: request.height,
        method: request.method.clone(),
        animated: request.animated,
    };
    if let Some(stored) = stored(state, &key).await? {
        return Ok(stored);
    }
    let spec = Spec {
        width: request.width,
        height: request.height,
        method,
        output,
        animated: request.animated,
    };
    make(state, &key, spec).await
}

/// Where the thumbnail for `key` is kept.
fn file_of(state: &AppState, key: &ThumbnailKey) -> (PathBuf, String) {
    let dir = state
        .config
        .media_store_path
        .join("thumbnails")
        .join(&key.media_id);
    let animated = if key.animated { "-animated" } else { "" };
    let name = format!("{}x{}-{}{animated}", key.width, key.height, key.method);
    (dir, name)
}

/// The stored thumbnail for `key`, if it was made before and its file is still there (a lost
/// file is made again).
async fn stored(state: &AppState, key: &ThumbnailKey) -> MatrixResult<Option<Thumbnail>> {
    let Some(row) = state.store.get_thumbnail(key).await? else {
        return Ok(None);
    };
    let (dir, name) = file_of(state, key);
    match tokio::fs::read(dir.join(name)).await {
        Ok(bytes) => Ok(Some(Thumbnail {
            bytes,
            content_type: row.content_type,
        })),
        Err(_) => Ok(None),
    }
}

/// Render the thumbnail for `key` from the original file, store it, and return it.
async fn make(state: &AppState, key: &ThumbnailKey, spec: Spec) -> MatrixResult<Thumbnail> {
    let source = tokio::fs::read(state.config.media_store_path.join(&key.media_id))
        .await
        .map_err(|_| MatrixError::not_found("Media not found"))?;
    let _permit = RENDERING
        .acquire()
        .await
        .map_err(|_| MatrixError::internal())?;
    let rendered = tokio::task::spawn_blocking(move || render::render(&source, &spec))
        .await
        .map_err(|_| MatrixError::internal())?
        .map_err(|e| {
            let why = match e {
                RenderError::TooLarge => format!(
                    "the image or the thumbnail is larger than {} pixels",
                    render::MAX_PIXELS
                ),
                RenderError::Undecodable(why) => why,
            };
            tracing::info!("no thumbnail for {}: {why}", key.media_id);
            MatrixError::new(
                StatusCode::BAD_REQUEST,
                "M_UNKNOWN",
                format!("Failed to generate thumbnail: {why}"),
            )
        })?;
    check_for_spam(state, key, &rendered).await?;
    let (dir, name) = file_of(state, key);
    let bytes = Bytes::from(rendered.bytes);
    write_file_durably(dir, name, bytes.clone()).await?;
    state
        .store
        .put_thumbnail(key, rendered.content_type, bytes.len() as i64)
        .await?;
    Ok(Thumbnail {
        bytes: bytes.to_vec(),
        content_type: rendered.content_type.to_string(),
    })
}

/// `check_media_file_for_spam` on a thumbnail about to be stored: a denial is 404 with the
/// module's errcode and "Not found" (Synapse's `SpamMediaException`).
async fn check_for_spam(
    state: &AppState,
    key: &ThumbnailKey,
    rendered: &render::Rendered,
) -> MatrixResult<()> {
    let file_info = json!({
        "media_type": rendered.content_type,
        "size": rendered.bytes.len(),
        "upload_name": null,
        "thumbnail": {
            "width": rendered.width,
            "height": rendered.height,
            "method": key.method,
            "type": rendered.content_type,
        },
    });
    match state
        .modules
        .check_media_file_for_spam(&rendered.bytes, &file_info.to_string())
        .await?
    {
        SpamCheck::Deny(denial) => Err(MatrixError::new(
            StatusCode::NOT_FOUND,
            &denial.errcode,
            "Not found",
        )),
        _ => Ok(()),
    }
}
