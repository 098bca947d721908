//! Storing uploads (spec §"Content repository"), with the media callbacks in Synapse's order:
//! the server's size limit, `is_user_allowed_to_upload_media_of_size`,
//! `get_media_upload_limits_for_user` (with `on_media_upload_limit_exceeded`), then
//! `check_media_file_for_spam`. A file is durable on disk before its row is written.

use std::path::PathBuf;

use axum::body::Bytes;
use axum::http::StatusCode;
use plugin_sdk::{MediaUploadLimit, SpamCheck};
use serde_json::json;

use crate::error::{MatrixError, MatrixResult};
use crate::service::events::random_id;
use crate::state::AppState;

/// 413 `M_TOO_LARGE` "Upload request body is too large".
pub fn too_large() -> MatrixError {
    MatrixError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "M_TOO_LARGE",
        "Upload request body is too large",
    )
}

/// One upload.
pub struct Upload {
    /// `Content-Length` as sent (bytes), if any.
    pub declared_size: Option<u64>,
    /// `Content-Type` as sent.
    pub content_type: Option<String>,
    /// `?filename=` as sent.
    pub filename: Option<String>,
    /// The file (at most `max_upload_size` bytes, already enforced while reading).
    pub body: Bytes,
}

/// Store `upload` for `user_id`; returns the new media ID. Errors: 413 `M_TOO_LARGE`,
/// 400 `M_RESOURCE_LIMIT_EXCEEDED` (a module's upload limit), 400 `M_UNKNOWN` "Bad content"
/// (a spam checker's denial), 500 when the file cannot be written.
pub async fn upload(state: &AppState, user_id: &str, upload: Upload) -> MatrixResult<String> {
    let size = upload.body.len() as u64;
    let declared = upload.declared_size.unwrap_or(size);
    if declared > state.config.max_upload_size || size > state.config.max_upload_size {
        return Err(too_large());
    }
    if !state
        .modules
        .is_user_allowed_to_upload_media_of_size(user_id, declared)
        .await?
    {
        return Err(too_large());
    }
    check_upload_limits(state, user_id, size).await?;
    let file_info =
        json!({"media_type": upload.content_type, "size": size, "upload_name": upload.filename})
            .to_string();
    if let SpamCheck::Deny(_) = state
        .modules
        .check_media_file_for_spam(&upload.body, &file_info)
        .await?
    {
        return Err(MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_UNKNOWN",
            "Bad content",
        ));
    }
    let media_id = random_id(24);
    write_file(state, &media_id, upload.body).await?;
    state
        .store
        .add_media(
            &media_id,
            user_id,
            upload.content_type.as_deref(),
            upload.filename.as_deref(),
            size as i64,
        )
        .await?;
    Ok(media_id)
}

/// The modules' upload limits for `user_id`, longest period first as Synapse checks them:
/// 400 `M_RESOURCE_LIMIT_EXCEEDED` (after `on_media_upload_limit_exceeded`) when `size` more
/// bytes would pass one.
async fn check_upload_limits(state: &AppState, user_id: &str, size: u64) -> MatrixResult<()> {
    let Some(mut limits) = state
        .modules
        .get_media_upload_limits_for_user(user_id)
        .await?
    else {
        return Ok(());
    };
    limits.sort_by_key(|l| std::cmp::Reverse(l.time_period_ms));
    for limit in limits {
        let sent = state
            .store
            .uploaded_since(user_id, limit.time_period_ms as i64)
            .await? as u64;
        if sent + size > limit.max_bytes {
            let copy = MediaUploadLimit { ..limit };
            state
                .modules
                .on_media_upload_limit_exceeded(user_id, copy, sent, size)
                .await?;
            return Err(MatrixError::new(
                StatusCode::BAD_REQUEST,
                "M_RESOURCE_LIMIT_EXCEEDED",
                "Media upload limit exceeded",
            ));
        }
    }
    Ok(())
}

/// Write `body` to `media_store_path/<media_id>`: a temporary file, synced, then renamed and
/// the directory synced, so an acknowledged upload survives a crash.
async fn write_file(state: &AppState, media_id: &str, body: Bytes) -> MatrixResult<()> {
    let dir = state.config.media_store_path.clone();
    write_file_durably(dir, media_id.to_string(), body).await
}

/// Write `body` to `dir/name` (creating `dir`): a temporary file, synced, then renamed and
/// the directory synced, so readers never see half a file and a written file survives a
/// crash. Errors: 500 when the file cannot be written (logged with the reason).
pub async fn write_file_durably(dir: PathBuf, name: String, body: Bytes) -> MatrixResult<()> {
    let target = dir.clone();
    let write = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        use std::io::Write;
        std::fs::create_dir_all(&target)?;
        // Unique per writer: two requests making the same thumbnail must not share it.
        let tmp = target.join(format!(".{name}.{}.part", random_id(8)));
        let written = std::fs::File::create(&tmp).and_then(|mut file| {
            file.write_all(&body)?;
            file.sync_all()?;
            std::fs::rename(&tmp, target.join(&name))
        });
        if written.is_err() {
            // A full disk must not leave half-written files behind.
            let _ = std::fs::remove_file(&tmp);
        }
        written?;
        std::fs::File::open(&target)?.sync_all()
    });
    write
        .await
        .map_err(|_| MatrixError::internal())?
        .map_err(|e| {
            tracing::error!("cannot store media in {}: {e}", dir.display());
            MatrixError::internal()
        })
}
