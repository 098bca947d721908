//! Account data, global (`room_id` empty) and per room.

use serde_json::Value;
use sqlx::Row;

use super::{Store, StoreError};

impl Store {
    /// Store account data; returns its stream position. A single statement takes SQLite's
    /// write lock at once (a read-then-write transaction could not upgrade its lock under
    /// concurrent writers).
    pub async fn put_account_data(
        &self,
        user_id: &str,
        room_id: Option<&str>,
        data_type: &str,
        content: &Value,
    ) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        super::locks::lock(&mut tx, super::WriteLock::AccountData).await?;
        let position: i64 = sqlx::query_scalar(
            "INSERT INTO account_data (user_id, room_id, type, content, stream_id) \
             VALUES ($1, $2, $3, $4, (SELECT COALESCE(MAX(stream_id), 0) + 1 FROM account_data)) \
             ON CONFLICT (user_id, room_id, type) DO UPDATE SET content = excluded.content, stream_id = excluded.stream_id \
             RETURNING stream_id",
        )
        .bind(user_id)
        .bind(room_id.unwrap_or(""))
        .bind(data_type)
        .bind(content.to_string())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(position)
    }

    /// One account data entry.
    pub async fn get_account_data(
        &self,
        user_id: &str,
        room_id: Option<&str>,
        data_type: &str,
    ) -> Result<Option<Value>, StoreError> {
        let text: Option<String> = sqlx::query_scalar(
            "SELECT content FROM account_data WHERE user_id = $1 AND room_id = $2 AND type = $3",
        )
        .bind(user_id)
        .bind(room_id.unwrap_or(""))
        .bind(data_type)
        .fetch_optional(&self.pool)
        .await?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// `(room_id or "", type, content)` changed after stream position `since`.
    pub async fn account_data_since(
        &self,
        user_id: &str,
        since: i64,
    ) -> Result<Vec<(String, String, Value)>, StoreError> {
        let rows = sqlx::query("SELECT room_id, type, content FROM account_data WHERE user_id = $1 AND stream_id > $2 ORDER BY stream_id")
            .bind(user_id)
            .bind(since)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let text: String = r.get(2);
                (
                    r.get(0),
                    r.get(1),
                    serde_json::from_str(&text).unwrap_or(Value::Null),
                )
            })
            .collect())
    }

    /// The newest account data stream position.
    pub async fn max_account_data_stream(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COALESCE(MAX(stream_id), 0) FROM account_data")
            .fetch_one(&self.pool)
            .await
    }
}
