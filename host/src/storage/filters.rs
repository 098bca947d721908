//! Stored filters, per user.

use serde_json::Value;

use super::{Store, StoreError};

impl Store {
    /// Store `filter` for `user_id`; returns its ID (`0`, `1`, … per user), or the ID of the
    /// same filter stored before (serde_json writes object keys sorted, so equal filters
    /// store equal text). One insert statement, so concurrent uploads never share an ID.
    pub async fn add_filter(&self, user_id: &str, filter: &Value) -> Result<i64, StoreError> {
        let existing: Option<i64> =
            sqlx::query_scalar("SELECT filter_id FROM filters WHERE user_id = $1 AND filter = $2")
                .bind(user_id)
                .bind(filter.to_string())
                .fetch_optional(&self.pool)
                .await?;
        if let Some(id) = existing {
            return Ok(id);
        }
        sqlx::query_scalar(
            "INSERT INTO filters (user_id, filter_id, filter) VALUES ($1, \
             (SELECT COALESCE(MAX(filter_id) + 1, 0) FROM filters WHERE user_id = $2), $3) \
             RETURNING filter_id",
        )
        .bind(user_id)
        .bind(user_id)
        .bind(filter.to_string())
        .fetch_one(&self.pool)
        .await
    }

    /// The filter `filter_id` of `user_id`, as uploaded.
    pub async fn get_filter(
        &self,
        user_id: &str,
        filter_id: i64,
    ) -> Result<Option<Value>, StoreError> {
        let text: Option<String> =
            sqlx::query_scalar("SELECT filter FROM filters WHERE user_id = $1 AND filter_id = $2")
                .bind(user_id)
                .bind(filter_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }
}
