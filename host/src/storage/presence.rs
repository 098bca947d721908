//! Presence.

use serde_json::{json, Value};
use sqlx::Row;

use super::{now_ms, Store, StoreError};

impl Store {
    /// Store `user_id`'s presence; returns its stream position (one statement; see
    /// `put_account_data`).
    pub async fn set_presence(
        &self,
        user_id: &str,
        presence: &str,
        status_msg: Option<&str>,
    ) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        super::locks::lock(&mut tx, super::WriteLock::Presence).await?;
        let position: i64 = sqlx::query_scalar(
            "INSERT INTO presence (user_id, presence, status_msg, last_active_ts, stream_id) \
             VALUES ($1, $2, $3, $4, (SELECT COALESCE(MAX(stream_id), 0) + 1 FROM presence)) \
             ON CONFLICT (user_id) DO UPDATE SET presence = excluded.presence, status_msg = excluded.status_msg, \
             last_active_ts = excluded.last_active_ts, stream_id = excluded.stream_id RETURNING stream_id",
        )
        .bind(user_id)
        .bind(presence)
        .bind(status_msg)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(position)
    }

    /// A user's presence as a `m.presence` content object, if ever set.
    pub async fn get_presence(&self, user_id: &str) -> Result<Option<Value>, StoreError> {
        let row = sqlx::query(
            "SELECT presence, status_msg, last_active_ts FROM presence WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| content(r.get(0), r.get(1), r.get(2))))
    }

    /// `(user_id, content)` for presence changed after `since`.
    pub async fn presence_since(&self, since: i64) -> Result<Vec<(String, Value)>, StoreError> {
        let rows = sqlx::query("SELECT user_id, presence, status_msg, last_active_ts FROM presence WHERE stream_id > $1 ORDER BY stream_id")
            .bind(since)
            .fetch_all(&self.pool)
            .await?;
        Ok(contents(rows))
    }

    /// `(user_id, content)` of every user whose presence is `online`.
    pub async fn online_presence(&self) -> Result<Vec<(String, Value)>, StoreError> {
        let rows = sqlx::query("SELECT user_id, presence, status_msg, last_active_ts FROM presence WHERE presence = 'online' ORDER BY user_id")
            .fetch_all(&self.pool)
            .await?;
        Ok(contents(rows))
    }

    /// The newest presence stream position.
    pub async fn max_presence_stream(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COALESCE(MAX(stream_id), 0) FROM presence")
            .fetch_one(&self.pool)
            .await
    }
}

/// `(user_id, content)` from rows of `user_id, presence, status_msg, last_active_ts`.
fn contents(rows: Vec<sqlx::any::AnyRow>) -> Vec<(String, Value)> {
    rows.into_iter()
        .map(|r| (r.get(0), content(r.get(1), r.get(2), r.get(3))))
        .collect()
}

fn content(presence: String, status_msg: Option<String>, last_active_ts: i64) -> Value {
    let mut c = json!({
        "presence": presence,
        "last_active_ago": (now_ms() - last_active_ts).max(0),
        "currently_active": presence == "online",
    });
    if let Some(m) = status_msg {
        c["status_msg"] = json!(m);
    }
    c
}
