//! Rooms, aliases and the public room directory.

use sqlx::Row;

use super::{now_ms, Store, StoreError};

impl Store {
    /// Record a new room.
    pub async fn create_room(
        &self,
        room_id: &str,
        creator: &str,
        room_version: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO rooms (room_id, creator, room_version, created_ts) VALUES ($1, $2, $3, $4)",
        )
        .bind(room_id)
        .bind(creator)
        .bind(room_version)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether the room exists.
    pub async fn room_exists(&self, room_id: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rooms WHERE room_id = $1")
            .bind(room_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// Publish or unpublish in the room directory.
    pub async fn set_room_public(&self, room_id: &str, public: bool) -> Result<(), StoreError> {
        sqlx::query("UPDATE rooms SET is_public = $1 WHERE room_id = $2")
            .bind(i64::from(public))
            .bind(room_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether the room is published.
    pub async fn is_room_public(&self, room_id: &str) -> Result<bool, StoreError> {
        let v: Option<i64> = sqlx::query_scalar("SELECT is_public FROM rooms WHERE room_id = $1")
            .bind(room_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(v.is_some_and(|v| v != 0))
    }

    /// Published room IDs, oldest first.
    pub async fn public_rooms(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT room_id FROM rooms WHERE is_public = 1 ORDER BY created_ts")
            .fetch_all(&self.pool)
            .await
    }

    /// Create an alias; `false` if it is taken.
    pub async fn create_alias(
        &self,
        alias: &str,
        room_id: &str,
        creator: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("INSERT INTO room_aliases (alias, room_id, creator) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(alias)
            .bind(room_id)
            .bind(creator)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The room an alias points to, and who created the alias.
    pub async fn resolve_alias(&self, alias: &str) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query("SELECT room_id, creator FROM room_aliases WHERE alias = $1")
            .bind(alias)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    /// Delete an alias.
    pub async fn delete_alias(&self, alias: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM room_aliases WHERE alias = $1")
            .bind(alias)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Delete every alias of a room.
    pub async fn delete_room_aliases(&self, room_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM room_aliases WHERE room_id = $1")
            .bind(room_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Block a room for good (admin shutdown).
    pub async fn block_room(&self, room_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE rooms SET blocked = 1, is_public = 0 WHERE room_id = $1")
            .bind(room_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether an admin shut the room down.
    pub async fn is_room_blocked(&self, room_id: &str) -> Result<bool, StoreError> {
        let v: Option<i64> = sqlx::query_scalar("SELECT blocked FROM rooms WHERE room_id = $1")
            .bind(room_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(v.is_some_and(|v| v != 0))
    }

    /// The local aliases pointing at `room_id`, sorted.
    pub async fn room_aliases(&self, room_id: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT alias FROM room_aliases WHERE room_id = $1 ORDER BY alias")
            .bind(room_id)
            .fetch_all(&self.pool)
            .await
    }

    /// Remember that `user_id` forgot `room_id` (until their next membership event there).
    pub async fn forget_room(&self, user_id: &str, room_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO forgotten_rooms (user_id, room_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(room_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether `user_id` forgot `room_id` (and has had no membership there since).
    pub async fn is_room_forgotten(
        &self,
        user_id: &str,
        room_id: &str,
    ) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM forgotten_rooms WHERE user_id = $1 AND room_id = $2")
                .bind(user_id)
                .bind(room_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    /// Store an event report; returns its ID.
    pub async fn add_event_report(&self, report: &EventReport<'_>) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO event_reports (received_ts, room_id, event_id, user_id, reason, score) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(super::now_ms())
        .bind(report.room_id)
        .bind(report.event_id)
        .bind(report.user_id)
        .bind(report.reason)
        .bind(report.score)
        .fetch_one(&self.pool)
        .await
    }

    /// Every stored event report, oldest first: `(room_id, event_id, user_id, reason, score)`.
    pub async fn event_reports(&self) -> Result<Vec<EventReportRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT room_id, event_id, user_id, reason, score FROM event_reports ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect())
    }
}

/// A user's report of an event (spec §"Reporting content").
pub struct EventReport<'a> {
    /// The room.
    pub room_id: &'a str,
    /// The reported event.
    pub event_id: &'a str,
    /// Who reported it.
    pub user_id: &'a str,
    /// Their reason, if given.
    pub reason: Option<&'a str>,
    /// Their score (-100 most offensive … 0 inoffensive), if given.
    pub score: Option<i64>,
}

/// A stored report: `(room_id, event_id, user_id, reason, score)`.
pub type EventReportRow = (String, String, String, Option<String>, Option<i64>);
