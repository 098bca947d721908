//! Stream positions in one round trip, and the membership rows an incremental `/sync` needs
//! for just the rooms that changed (so its cost follows what changed, not how many rooms the
//! user has).

use sqlx::Row;

use super::{Store, StoreError};

/// The newest position of each stream a sync token covers (typing lives in memory).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamPositions {
    /// Events (`stream_ordering`).
    pub events: i64,
    /// Account data.
    pub account_data: i64,
    /// Presence.
    pub presence: i64,
    /// Receipts.
    pub receipts: i64,
    /// Send-to-device messages: the table's AUTOINCREMENT sequence, since delivered
    /// messages are deleted and `MAX(stream_id)` would then go backwards.
    pub to_device: i64,
    /// Device-list changes.
    pub device_lists: i64,
}

impl Store {
    /// Every stream's newest position, read in one statement so they come from one snapshot.
    pub async fn stream_positions(&self) -> Result<StreamPositions, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COALESCE(MAX(stream_ordering), 0) FROM events), \
             (SELECT COALESCE(MAX(stream_id), 0) FROM account_data), \
             (SELECT COALESCE(MAX(stream_id), 0) FROM presence), \
             (SELECT COALESCE(MAX(stream_id), 0) FROM receipts), \
             (SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'to_device_inbox'), \
             (SELECT COALESCE(MAX(stream_id), 0) FROM e2e_device_list_stream)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(StreamPositions {
            events: row.get(0),
            account_data: row.get(1),
            presence: row.get(2),
            receipts: row.get(3),
            to_device: row.get(4),
            device_lists: row.get(5),
        })
    }

    /// `(room_id, membership)` of `user_id` in those of `room_ids` where they have a
    /// membership (rooms left and forgotten excluded, as `rooms_of`).
    pub async fn memberships_in(
        &self,
        user_id: &str,
        room_ids: &[&str],
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut out = Vec::new();
        // SQLite allows 32,766 bound parameters; stay far below.
        for chunk in room_ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT room_id, membership FROM current_state s \
                 WHERE type = 'm.room.member' AND state_key = ? AND room_id IN ({marks}) \
                 AND NOT (membership IN ('leave', 'ban') AND EXISTS \
                   (SELECT 1 FROM forgotten_rooms f WHERE f.user_id = s.state_key AND f.room_id = s.room_id))"
            );
            let mut q = sqlx::query(&sql).bind(user_id);
            for room in chunk {
                q = q.bind(*room);
            }
            let rows = q.fetch_all(&self.pool).await?;
            out.extend(rows.into_iter().map(|r| (r.get(0), r.get(1))));
        }
        Ok(out)
    }

    /// Every user with a membership (any: joined, invited, left, banned) in `room_id`: the
    /// users whose `/sync` a write to the room may concern.
    pub async fn users_with_membership(&self, room_id: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT state_key FROM current_state WHERE room_id = ? AND type = 'm.room.member'",
        )
        .bind(room_id)
        .fetch_all(&self.pool)
        .await
    }
}
