//! Background update bookkeeping and the host's own updates.

use sqlx::Row;

use super::{Store, StoreError};

impl Store {
    /// Updates not finished yet, with their cursor.
    pub async fn pending_background_updates(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT update_name, progress FROM background_updates WHERE done = 0 ORDER BY update_name")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Whether an update has finished.
    pub async fn background_update_done(&self, name: &str) -> Result<bool, StoreError> {
        let done: Option<i64> =
            sqlx::query_scalar("SELECT done FROM background_updates WHERE update_name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(done.is_none_or(|d| d != 0))
    }

    /// One batch of `current_state_membership`: re-derive `membership` for up to `limit` member
    /// rows after `cursor` (a `room_id|state_key` key). Returns the new cursor, or `None` when
    /// the table is exhausted (the update is then marked done).
    pub async fn membership_batch(
        &self,
        cursor: &str,
        limit: i64,
    ) -> Result<(usize, Option<String>), StoreError> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT s.room_id, s.state_key, e.json FROM current_state s JOIN events e ON e.event_id = s.event_id \
             WHERE s.type = 'm.room.member' AND (s.room_id || '|' || s.state_key) > $1 \
             ORDER BY s.room_id, s.state_key LIMIT $2",
        )
        .bind(cursor)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut last = None;
        for r in &rows {
            let (room_id, state_key, json): (String, String, String) =
                (r.get(0), r.get(1), r.get(2));
            let event: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
            let membership = event["content"]["membership"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            sqlx::query("UPDATE current_state SET membership = $1 WHERE room_id = $2 AND type = 'm.room.member' AND state_key = $3")
                .bind(membership)
                .bind(&room_id)
                .bind(&state_key)
                .execute(&mut *tx)
                .await?;
            last = Some(format!("{room_id}|{state_key}"));
        }
        let finished = (rows.len() as i64) < limit;
        sqlx::query("UPDATE background_updates SET progress = $1, done = $2 WHERE update_name = 'current_state_membership'")
            .bind(last.clone().unwrap_or_else(|| cursor.to_string()))
            .bind(i64::from(finished))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((rows.len(), if finished { None } else { last }))
    }
}
