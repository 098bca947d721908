//! Rendered thumbnails of uploaded media: which exist and what they are.

use sqlx::Row;

use super::{now_ms, Store, StoreError};

/// What a thumbnail was asked for: the media and the request's box and method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThumbnailKey {
    /// The local media ID.
    pub media_id: String,
    /// Requested width (pixels), as asked, not as rendered.
    pub width: u32,
    /// Requested height (pixels), as asked, not as rendered.
    pub height: u32,
    /// `"scale"` or `"crop"`.
    pub method: String,
    /// Whether an animated thumbnail was asked for.
    pub animated: bool,
}

/// A stored thumbnail.
#[derive(Debug, Clone)]
pub struct ThumbnailRow {
    /// Its content type (`image/png`, `image/jpeg`, `image/gif`).
    pub content_type: String,
    /// Its size in bytes.
    pub length: i64,
}

impl Store {
    /// The thumbnail stored for `key`, if any.
    pub async fn get_thumbnail(
        &self,
        key: &ThumbnailKey,
    ) -> Result<Option<ThumbnailRow>, StoreError> {
        let row = sqlx::query(
            "SELECT content_type, length FROM media_thumbnails \
             WHERE media_id = $1 AND width = $2 AND height = $3 AND method = $4 AND animated = $5",
        )
        .bind(&key.media_id)
        .bind(i64::from(key.width))
        .bind(i64::from(key.height))
        .bind(&key.method)
        .bind(i64::from(key.animated))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| ThumbnailRow {
            content_type: r.get(0),
            length: r.get(1),
        }))
    }

    /// Record the thumbnail for `key` whose bytes are already on disk (replacing an older
    /// record of the same key, which a lost file makes us render again).
    pub async fn put_thumbnail(
        &self,
        key: &ThumbnailKey,
        content_type: &str,
        length: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO media_thumbnails \
             (media_id, width, height, method, animated, content_type, length, created_ts) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (media_id, width, height, method, animated) DO UPDATE SET \
             content_type = excluded.content_type, length = excluded.length, \
             created_ts = excluded.created_ts",
        )
        .bind(&key.media_id)
        .bind(i64::from(key.width))
        .bind(i64::from(key.height))
        .bind(&key.method)
        .bind(i64::from(key.animated))
        .bind(content_type)
        .bind(length)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
