//! The streams behind `/sync`'s encryption sections: device-list changes (who to re-query
//! keys for) and send-to-device messages waiting for their device.

use sqlx::Row;

use super::{Store, StoreError};

/// A send-to-device message on its way to one device.
#[derive(Debug, Clone)]
pub struct ToDeviceRow {
    /// The receiving user.
    pub user_id: String,
    /// The receiving device.
    pub device_id: String,
    /// `{"sender", "type", "content"}` as JSON text.
    pub message_json: String,
}

impl Store {
    /// Record that `user_id`'s devices or keys changed (seen by everyone sharing a room).
    pub async fn record_device_list_change(&self, user_id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        super::locks::lock(&mut tx, super::WriteLock::DeviceLists).await?;
        sqlx::query("INSERT INTO e2e_device_list_stream (user_id) VALUES ($1)")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// The newest device-list stream position (0 when nothing changed yet).
    pub async fn max_device_list_stream(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COALESCE(MAX(stream_id), 0) FROM e2e_device_list_stream")
            .fetch_one(&self.pool)
            .await
    }

    /// Users whose device lists changed with `from < stream_id <= to`, as `viewer` may see
    /// them: changes for everyone, and those meant for `viewer` alone (`true`).
    pub async fn device_list_changes(
        &self,
        viewer: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, bool)>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT user_id, CASE WHEN notify_only IS NULL THEN 0 ELSE 1 END FROM e2e_device_list_stream \
             WHERE stream_id > $1 AND stream_id <= $2 AND (notify_only IS NULL OR notify_only = $3)",
        )
        .bind(from)
        .bind(to)
        .bind(viewer)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get(0), super::flag(&r, 1)))
            .collect())
    }

    /// Everyone joined to a room `user_id` is joined to (`user_id` included when joined
    /// anywhere).
    pub async fn users_sharing_room(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT DISTINCT b.state_key FROM current_state a JOIN current_state b \
             ON a.room_id = b.room_id \
             WHERE a.type = 'm.room.member' AND a.state_key = $1 AND a.membership = 'join' \
             AND b.type = 'm.room.member' AND b.membership = 'join'",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
    }

    /// The users currently joined to `room_id`.
    pub async fn joined_members(&self, room_id: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT state_key FROM current_state \
             WHERE room_id = $1 AND type = 'm.room.member' AND membership = 'join'",
        )
        .bind(room_id)
        .fetch_all(&self.pool)
        .await
    }

    /// Membership events with `from < stream_ordering <= to` in rooms `user_id` has any
    /// membership in: `(room_id, member, membership)`, oldest first.
    pub async fn membership_changes(
        &self,
        user_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = sqlx::query(
            // The window's events drive the loop (CROSS JOIN is not reordered by SQLite):
            // the cost follows what changed, not how many rooms the user is in.
            "SELECT e.room_id, e.state_key, e.json \
             FROM events e CROSS JOIN current_state s \
             WHERE e.type = 'm.room.member' AND e.stream_ordering > $1 AND e.stream_ordering <= $2 \
             AND s.room_id = e.room_id AND s.type = 'm.room.member' AND s.state_key = $3 \
             ORDER BY e.stream_ordering",
        )
        .bind(from)
        .bind(to)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                // The membership is read here rather than with a JSON function in SQL, which
                // the two databases spell differently.
                let json: String = r.get(2);
                let event: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
                let membership = event["content"]["membership"].as_str().unwrap_or_default();
                (r.get(0), r.get(1), membership.to_string())
            })
            .collect())
    }

    /// Queue send-to-device messages (all or none); messages for devices that do not exist
    /// are dropped, as Synapse drops them. Returns how many were queued.
    pub async fn add_to_device(&self, messages: &[ToDeviceRow]) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        super::locks::lock(&mut tx, super::WriteLock::ToDevice).await?;
        let mut queued = 0;
        for m in messages {
            let done = sqlx::query(
                "INSERT INTO to_device_inbox (user_id, device_id, message_json) \
                 SELECT $1, $2, $3 WHERE EXISTS \
                 (SELECT 1 FROM devices WHERE user_id = $4 AND device_id = $5)",
            )
            .bind(&m.user_id)
            .bind(&m.device_id)
            .bind(&m.message_json)
            .bind(&m.user_id)
            .bind(&m.device_id)
            .execute(&mut *tx)
            .await?;
            queued += done.rows_affected();
        }
        if queued > 0 {
            // Delivered messages are deleted, so the stream's position is kept apart
            // (under the stream's lock, the newest row is the one just written).
            sqlx::query(
                "INSERT INTO stream_positions (stream_name, position) \
                 VALUES ('to_device', (SELECT MAX(stream_id) FROM to_device_inbox)) \
                 ON CONFLICT (stream_name) DO UPDATE SET position = excluded.position",
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(queued)
    }

    /// The newest send-to-device stream position (0 when none was ever sent).
    pub async fn max_to_device_stream(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "SELECT COALESCE(MAX(position), 0) FROM stream_positions WHERE stream_name = 'to_device'",
        )
            .fetch_one(&self.pool)
            .await
    }

    /// Drop the device's messages up to `upto` (the device has received them).
    pub async fn ack_to_device(
        &self,
        user_id: &str,
        device_id: &str,
        upto: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM to_device_inbox WHERE user_id = $1 AND device_id = $2 AND stream_id <= $3",
        )
        .bind(user_id)
        .bind(device_id)
        .bind(upto)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The device's messages with `from < stream_id <= to`, oldest first, at most `limit`:
    /// `(stream_id, message JSON text)`.
    pub async fn to_device_messages(
        &self,
        user_id: &str,
        device_id: &str,
        (from, to): (i64, i64),
        limit: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT stream_id, message_json FROM to_device_inbox WHERE user_id = $1 \
             AND device_id = $2 AND stream_id > $3 AND stream_id <= $4 ORDER BY stream_id LIMIT $5",
        )
        .bind(user_id)
        .bind(device_id)
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
