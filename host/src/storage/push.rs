//! Push actions (what the push rules decided per user and event) and pushers.

use serde_json::Value;
use sqlx::Row;

use super::{Store, StoreError};

/// One user's push actions for one event.
#[derive(Debug, Clone)]
pub struct PushActionRow {
    /// The local user notified.
    pub user_id: String,
    /// The event.
    pub event_id: String,
    /// Its room.
    pub room_id: String,
    /// Its position in the event stream.
    pub stream_ordering: i64,
    /// `main`, or the root of the thread the event belongs to.
    pub thread_id: String,
    /// The matching rule's actions (a JSON array).
    pub actions: Value,
    /// The actions include `notify`.
    pub notify: bool,
    /// The actions set the `highlight` tweak.
    pub highlight: bool,
    /// When the actions were computed, ms since the Unix epoch.
    pub ts: i64,
    /// The user's read receipts cover the event (filled by reads, ignored by writes).
    pub read: bool,
}

/// A stored pusher (spec §"POST /pushers/set").
#[derive(Debug, Clone, PartialEq)]
pub struct PusherRow {
    /// Row ID (0 for one not stored yet).
    pub id: i64,
    /// Owner.
    pub user_id: String,
    /// The device that set it.
    pub device_id: Option<String>,
    /// `http`, `email`, or another kind nothing delivers for.
    pub kind: String,
    /// `app_id` (≤ 64 characters).
    pub app_id: String,
    /// `app_display_name`.
    pub app_display_name: String,
    /// `device_display_name`.
    pub device_display_name: String,
    /// `pushkey` (≤ 512 bytes).
    pub pushkey: String,
    /// When the pushkey was set, ms since the Unix epoch.
    pub pushkey_ts: i64,
    /// `lang`.
    pub lang: String,
    /// `data` (for `http`: `url`, optional `format`, anything else the gateway wants).
    pub data: Value,
    /// `profile_tag` (empty when not given).
    pub profile_tag: String,
    /// The last event stream position delivered (or skipped) for this pusher.
    pub last_stream_ordering: i64,
}

/// The stream position of `a`'s user's latest `m.read` / `m.read.private` receipt that
/// covers `a`'s thread (unthreaded receipts cover every thread), 0 without one.
const READ_UP_TO: &str = "COALESCE((SELECT MAX(e.stream_ordering) FROM receipts r \
     JOIN events e ON e.event_id = r.event_id \
     WHERE r.room_id = a.room_id AND r.user_id = a.user_id \
     AND r.receipt_type IN ('m.read', 'm.read.private') \
     AND (r.thread_id = '' OR r.thread_id = a.thread_id)), 0)";

fn action_row(r: &sqlx::any::AnyRow) -> PushActionRow {
    let actions: String = r.get("actions");
    PushActionRow {
        user_id: r.get("user_id"),
        event_id: r.get("event_id"),
        room_id: r.get("room_id"),
        stream_ordering: r.get("stream_ordering"),
        thread_id: r.get("thread_id"),
        actions: serde_json::from_str(&actions).unwrap_or(Value::Array(Vec::new())),
        notify: r.get::<i64, _>("notify") != 0,
        highlight: r.get::<i64, _>("highlight") != 0,
        ts: r.get("ts"),
        read: super::flag(r, "is_read"),
    }
}

fn pusher_row(r: &sqlx::any::AnyRow) -> PusherRow {
    let data: String = r.get("data");
    PusherRow {
        id: r.get("id"),
        user_id: r.get("user_id"),
        device_id: r.get("device_id"),
        kind: r.get("kind"),
        app_id: r.get("app_id"),
        app_display_name: r.get("app_display_name"),
        device_display_name: r.get("device_display_name"),
        pushkey: r.get("pushkey"),
        pushkey_ts: r.get("pushkey_ts"),
        lang: r.get("lang"),
        data: serde_json::from_str(&data).unwrap_or(Value::Null),
        profile_tag: r.get("profile_tag"),
        last_stream_ordering: r.get("last_stream_ordering"),
    }
}

impl Store {
    /// Store the push actions of one event for several users, in one transaction.
    pub async fn add_push_actions(&self, rows: &[PushActionRow]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for row in rows {
            sqlx::query(
                "INSERT INTO event_push_actions (user_id, event_id, room_id, \
                 stream_ordering, thread_id, actions, notify, highlight, ts) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (user_id, event_id) \
                 DO UPDATE SET room_id = excluded.room_id, stream_ordering = excluded.stream_ordering, \
                 thread_id = excluded.thread_id, actions = excluded.actions, notify = excluded.notify, \
                 highlight = excluded.highlight, ts = excluded.ts",
            )
            .bind(&row.user_id)
            .bind(&row.event_id)
            .bind(&row.room_id)
            .bind(row.stream_ordering)
            .bind(&row.thread_id)
            .bind(row.actions.to_string())
            .bind(i64::from(row.notify))
            .bind(i64::from(row.highlight))
            .bind(row.ts)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// `(notification_count, highlight_count)` of `user_id` in `room_id`: notifying events
    /// after their read receipts, up to stream position `up_to`.
    pub async fn unread_counts(
        &self,
        user_id: &str,
        room_id: &str,
        up_to: i64,
    ) -> Result<(i64, i64), StoreError> {
        let row = sqlx::query(&format!(
            "SELECT CAST(COALESCE(SUM(a.notify), 0) AS BIGINT), CAST(COALESCE(SUM(a.highlight), 0) AS BIGINT) \
             FROM event_push_actions a WHERE a.user_id = $1 AND a.room_id = $2 \
             AND a.stream_ordering <= $3 AND a.stream_ordering > {READ_UP_TO}"
        ))
        .bind(user_id)
        .bind(room_id)
        .bind(up_to)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.get(0), row.get(1)))
    }

    /// [`Store::unread_counts`] of `user_id` in each of `room_ids` in one query per 500
    /// rooms: room → `(notifications, highlights)`; rooms without any are absent.
    pub async fn unread_counts_in(
        &self,
        user_id: &str,
        room_ids: &[&str],
        up_to: i64,
    ) -> Result<std::collections::HashMap<String, (i64, i64)>, StoreError> {
        let mut out = std::collections::HashMap::new();
        for chunk in room_ids.chunks(500) {
            let marks = super::placeholders(3, chunk.len());
            let sql = format!(
                "SELECT a.room_id, CAST(COALESCE(SUM(a.notify), 0) AS BIGINT), CAST(COALESCE(SUM(a.highlight), 0) AS BIGINT) \
                 FROM event_push_actions a WHERE a.user_id = $1 AND a.stream_ordering <= $2 \
                 AND a.room_id IN ({marks}) AND a.stream_ordering > {READ_UP_TO} \
                 GROUP BY a.room_id"
            );
            let mut q = sqlx::query(&sql).bind(user_id).bind(up_to);
            for room in chunk {
                q = q.bind(*room);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.insert(r.get(0), (r.get(1), r.get(2)));
            }
        }
        Ok(out)
    }

    /// `user_id`'s notifying push actions before stream position `before` (all when `None`),
    /// newest first, at most `limit`; only highlights when `only_highlight`.
    pub async fn notifications_of(
        &self,
        user_id: &str,
        before: Option<i64>,
        limit: i64,
        only_highlight: bool,
    ) -> Result<Vec<PushActionRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT a.*, a.stream_ordering <= {READ_UP_TO} AS is_read FROM event_push_actions a \
             WHERE a.user_id = $1 AND a.notify = 1 AND a.stream_ordering < $2 \
             AND ($3 = 0 OR a.highlight = 1) ORDER BY a.stream_ordering DESC LIMIT $4"
        ))
        .bind(user_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(only_highlight))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(action_row).collect())
    }

    /// `user_id`'s notifying push actions after stream position `after`, oldest first, at
    /// most `limit` (what a pusher has still to deliver).
    pub async fn notifications_after(
        &self,
        user_id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<PushActionRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT a.*, a.stream_ordering <= {READ_UP_TO} AS is_read FROM event_push_actions a \
             WHERE a.user_id = $1 AND a.notify = 1 AND a.stream_ordering > $2 \
             ORDER BY a.stream_ordering LIMIT $3"
        ))
        .bind(user_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(action_row).collect())
    }

    /// The push badge of `user_id`: rooms they are invited to plus joined rooms with unread
    /// notifications (Synapse's count grouped by room).
    pub async fn badge_count(&self, user_id: &str) -> Result<i64, StoreError> {
        sqlx::query_scalar(&format!(
            "SELECT (SELECT COUNT(*) FROM current_state WHERE type = 'm.room.member' \
             AND state_key = $1 AND membership = 'invite') + \
             (SELECT COUNT(DISTINCT a.room_id) FROM event_push_actions a JOIN current_state s \
             ON s.room_id = a.room_id AND s.type = 'm.room.member' AND s.state_key = a.user_id \
             WHERE a.user_id = $1 AND s.membership = 'join' AND a.notify = 1 \
             AND a.stream_ordering > {READ_UP_TO})"
        ))
        .bind(user_id)
        .fetch_one(&self.pool)
        .await
    }

    /// `(user_id, stored m.push_rules content)` of everyone with a membership in `room_id`
    /// (`None` for users still on the server defaults), in one query.
    pub async fn push_rules_of(
        &self,
        room_id: &str,
    ) -> Result<Vec<(String, Option<Value>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.state_key, a.content FROM current_state s LEFT JOIN account_data a \
             ON a.user_id = s.state_key AND a.room_id = '' AND a.type = 'm.push_rules' \
             WHERE s.room_id = $1 AND s.type = 'm.room.member'",
        )
        .bind(room_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let content: Option<String> = r.get(1);
                let parsed = content.and_then(|c| serde_json::from_str(&c).ok());
                (r.get(0), parsed)
            })
            .collect())
    }
}

impl Store {
    /// Add `pusher`, or update the one with its user, app ID and pushkey.
    pub async fn upsert_pusher(&self, p: &PusherRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO pushers (user_id, device_id, kind, app_id, app_display_name, \
             device_display_name, pushkey, pushkey_ts, lang, data, profile_tag, \
             last_stream_ordering) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (app_id, pushkey, user_id) DO UPDATE SET kind = excluded.kind, \
             app_display_name = excluded.app_display_name, \
             device_display_name = excluded.device_display_name, \
             pushkey_ts = excluded.pushkey_ts, lang = excluded.lang, data = excluded.data, \
             profile_tag = excluded.profile_tag, \
             last_stream_ordering = excluded.last_stream_ordering",
        )
        .bind(&p.user_id)
        .bind(&p.device_id)
        .bind(&p.kind)
        .bind(&p.app_id)
        .bind(&p.app_display_name)
        .bind(&p.device_display_name)
        .bind(&p.pushkey)
        .bind(p.pushkey_ts)
        .bind(&p.lang)
        .bind(p.data.to_string())
        .bind(&p.profile_tag)
        .bind(p.last_stream_ordering)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Delete `user_id`'s pusher for `app_id` and `pushkey`; whether there was one.
    pub async fn delete_pusher(
        &self,
        user_id: &str,
        app_id: &str,
        pushkey: &str,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM pushers WHERE user_id = $1 AND app_id = $2 AND pushkey = $3")
                .bind(user_id)
                .bind(app_id)
                .bind(pushkey)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Delete the pushers for `app_id` and `pushkey` of every user but `user_id`.
    pub async fn delete_pushers_of_others(
        &self,
        user_id: &str,
        app_id: &str,
        pushkey: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM pushers WHERE user_id != $1 AND app_id = $2 AND pushkey = $3")
            .bind(user_id)
            .bind(app_id)
            .bind(pushkey)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Delete the pushers of devices that no longer have an access token: a pusher goes with
    /// its device, as in Synapse (logout, device deletion, deactivation).
    pub async fn delete_pushers_without_session(&self) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM pushers WHERE device_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM \
             access_tokens t WHERE t.user_id = pushers.user_id AND t.device_id = pushers.device_id)",
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// `user_id`'s pushers, oldest first.
    pub async fn pushers_of(&self, user_id: &str) -> Result<Vec<PusherRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM pushers WHERE user_id = $1 ORDER BY id")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(pusher_row).collect())
    }

    /// The row IDs of every `http` pusher.
    pub async fn http_pusher_ids(&self) -> Result<Vec<i64>, StoreError> {
        sqlx::query_scalar("SELECT id FROM pushers WHERE kind = 'http' ORDER BY id")
            .fetch_all(&self.pool)
            .await
    }

    /// One pusher by row ID.
    pub async fn pusher(&self, id: i64) -> Result<Option<PusherRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM pushers WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(pusher_row))
    }

    /// Record that pusher `id` has delivered (or given up on) everything up to stream
    /// position `position`; false when the pusher is gone.
    pub async fn advance_pusher(&self, id: i64, position: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE pushers SET last_stream_ordering = MAX(last_stream_ordering, $1) WHERE id = $2",
        )
        .bind(position)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
