//! Uploaded media metadata.

use sqlx::Row;

use super::{now_ms, Store, StoreError};

/// One stored upload.
#[derive(Debug, Clone)]
pub struct MediaRow {
    /// Content type given at upload.
    pub content_type: Option<String>,
    /// File name given at upload.
    pub upload_name: Option<String>,
    /// Size in bytes.
    pub size: i64,
}

impl Store {
    /// Record an upload whose bytes are already on disk.
    pub async fn add_media(
        &self,
        media_id: &str,
        user_id: &str,
        content_type: Option<&str>,
        upload_name: Option<&str>,
        size: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO media (media_id, user_id, content_type, upload_name, size, created_ts) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(media_id)
            .bind(user_id)
            .bind(content_type)
            .bind(upload_name)
            .bind(size)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Look an upload up.
    pub async fn get_media(&self, media_id: &str) -> Result<Option<MediaRow>, StoreError> {
        let row =
            sqlx::query("SELECT content_type, upload_name, size FROM media WHERE media_id = $1")
                .bind(media_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| MediaRow {
            content_type: r.get(0),
            upload_name: r.get(1),
            size: r.get(2),
        }))
    }

    /// Bytes `user_id` uploaded in the last `window_ms`.
    pub async fn uploaded_since(&self, user_id: &str, window_ms: i64) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM media WHERE user_id = $1 AND created_ts > $2",
        )
        .bind(user_id)
        .bind(now_ms() - window_ms)
        .fetch_one(&self.pool)
        .await
    }
}
