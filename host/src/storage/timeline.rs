//! Reading a room's history by position: ranges of events and past memberships.

use serde_json::Value;
use sqlx::Row;

use super::events::StoredEvent;
use super::{Store, StoreError};

fn parse(row: sqlx::any::AnyRow) -> StoredEvent {
    StoredEvent {
        stream_ordering: row.get(0),
        json: serde_json::from_str(row.get::<&str, _>(1)).unwrap_or(Value::Null),
    }
}

impl Store {
    /// Events of `room_id` with `after < stream_ordering < before`: the newest first when
    /// `backwards`, else the oldest first; at most `limit`.
    pub async fn room_events_in(
        &self,
        room_id: &str,
        after: i64,
        before: i64,
        backwards: bool,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let order = if backwards { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT stream_ordering, json FROM events WHERE room_id = $1 AND stream_ordering > $2 \
             AND stream_ordering < $3 ORDER BY stream_ordering {order} LIMIT $4"
        );
        let rows = sqlx::query(&sql)
            .bind(room_id)
            .bind(after)
            .bind(before)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(parse).collect())
    }

    /// `user_id`'s membership event in `room_id` as of stream position `at` (the newest one
    /// at or before it), if any.
    pub async fn member_event_at(
        &self,
        room_id: &str,
        user_id: &str,
        at: i64,
    ) -> Result<Option<StoredEvent>, StoreError> {
        let row = sqlx::query(
            "SELECT stream_ordering, json FROM events WHERE room_id = $1 AND type = 'm.room.member' \
             AND state_key = $2 AND stream_ordering <= $3 ORDER BY stream_ordering DESC LIMIT 1",
        )
        .bind(room_id)
        .bind(user_id)
        .bind(at)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(parse))
    }
}
