//! Events, room state and stream positions.

use serde_json::Value;
use sqlx::Row;

use super::{Store, StoreError};

/// The client transaction that produced an event (spec §"Transaction identifiers").
#[derive(Debug, Clone, Copy)]
pub struct ClientTxn<'a> {
    /// SHA-256 of the access token that sent it (retries are idempotent per token).
    pub token_hash: &'a str,
    /// The idempotency key: the request path's room, type and transaction ID.
    pub key: &'a str,
    /// The sending device (it sees `unsigned.transaction_id`).
    pub device_id: &'a str,
    /// The client's transaction ID.
    pub txn_id: &'a str,
}

/// An event as stored.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Position in the event stream.
    pub stream_ordering: i64,
    /// The event in client format (`unsigned` only for a redacted event: `redacted_because`).
    pub json: Value,
}

pub(super) fn parse(row: sqlx::any::AnyRow) -> StoredEvent {
    let text: String = row.get(1);
    StoredEvent {
        stream_ordering: row.get(0),
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

impl Store {
    /// Store `event` and, for state events, make it current. Returns its stream position.
    pub async fn persist_event(&self, event: &Value) -> Result<i64, StoreError> {
        self.persist_event_with_txn(event, None).await
    }

    /// Like [`Store::persist_event`], also recording the client transaction `(token hash,
    /// key)` that produced it in the same database transaction, so a retry after a crash
    /// finds it.
    pub async fn persist_event_with_txn(
        &self,
        event: &Value,
        txn: Option<ClientTxn<'_>>,
    ) -> Result<i64, StoreError> {
        self.persist_event_full(event, txn, None).await
    }

    /// Like [`Store::persist_event_with_txn`]; also records the event's relation
    /// (`content.m.relates_to`) and, for a redaction, `pruned = (target event ID, its redacted
    /// JSON)` replaces the target's stored JSON and drops its relation — all in one database
    /// transaction.
    pub async fn persist_event_full(
        &self,
        event: &Value,
        txn: Option<ClientTxn<'_>>,
        pruned: Option<(&str, &Value)>,
    ) -> Result<i64, StoreError> {
        let field = |k: &str| {
            event
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let state_key = event.get("state_key").and_then(Value::as_str);
        let mut tx = self.pool.begin().await?;
        super::locks::lock(&mut tx, super::WriteLock::Events).await?;
        let ordering: i64 = sqlx::query_scalar(
            "INSERT INTO events (event_id, room_id, sender, type, state_key, json, origin_server_ts) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING stream_ordering",
        )
        .bind(field("event_id"))
        .bind(field("room_id"))
        .bind(field("sender"))
        .bind(field("type"))
        .bind(state_key)
        .bind(event.to_string())
        .bind(event.get("origin_server_ts").and_then(Value::as_i64).unwrap_or_default())
        .fetch_one(&mut *tx)
        .await?;
        super::search::index_event(&mut tx, event).await?;
        if let Some(state_key) = state_key {
            let membership = (field("type") == "m.room.member").then(|| {
                event["content"]["membership"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            });
            sqlx::query(
                "INSERT INTO current_state (room_id, type, state_key, event_id, membership) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id, membership = excluded.membership",
            )
            .bind(field("room_id"))
            .bind(field("type"))
            .bind(state_key)
            .bind(field("event_id"))
            .bind(&membership)
            .execute(&mut *tx)
            .await?;
            if membership.is_some() {
                // A new membership makes a forgotten room remembered again.
                sqlx::query("DELETE FROM forgotten_rooms WHERE user_id = $1 AND room_id = $2")
                    .bind(state_key)
                    .bind(field("room_id"))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        if let Some(txn) = txn {
            sqlx::query(
                "INSERT INTO txn_ids (token_hash, txn_key, event_id, device_id, txn_id) VALUES ($1, $2, $3, $4, $5)",
            )
                .bind(txn.token_hash)
                .bind(txn.key)
                .bind(field("event_id"))
                .bind(txn.device_id)
                .bind(txn.txn_id)
                .execute(&mut *tx)
                .await?;
        }
        super::relations::record(&mut tx, event, ordering).await?;
        if field("type") == "m.room.redaction" {
            super::relations::record_redaction(&mut tx, event, pruned).await?;
        }
        tx.commit().await?;
        Ok(ordering)
    }

    /// One event by ID.
    pub async fn get_event(&self, event_id: &str) -> Result<Option<StoredEvent>, StoreError> {
        let row = sqlx::query("SELECT stream_ordering, json FROM events WHERE event_id = $1")
            .bind(event_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(parse))
    }

    /// The room's current state events.
    pub async fn current_state(&self, room_id: &str) -> Result<Vec<Value>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.stream_ordering, e.json FROM current_state s JOIN events e ON e.event_id = s.event_id \
             WHERE s.room_id = $1 ORDER BY e.stream_ordering",
        )
        .bind(room_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| parse(r).json).collect())
    }

    /// The current state event `(type, state_key)`, if any.
    pub async fn state_event(
        &self,
        room_id: &str,
        event_type: &str,
        state_key: &str,
    ) -> Result<Option<Value>, StoreError> {
        let row = sqlx::query(
            "SELECT e.stream_ordering, e.json FROM current_state s JOIN events e ON e.event_id = s.event_id \
             WHERE s.room_id = $1 AND s.type = $2 AND s.state_key = $3",
        )
        .bind(room_id)
        .bind(event_type)
        .bind(state_key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| parse(r).json))
    }

    /// `user_id`'s current membership in `room_id`.
    pub async fn membership(
        &self,
        room_id: &str,
        user_id: &str,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT membership FROM current_state WHERE room_id = $1 AND type = 'm.room.member' AND state_key = $2")
            .bind(room_id)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .map(Option::flatten)
    }

    /// `(room_id, membership)` for every room `user_id` has a membership in, except rooms
    /// they left (or were banned from) and then forgot.
    pub async fn rooms_of(&self, user_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT room_id, membership FROM current_state s WHERE type = 'm.room.member' AND state_key = $1 \
             AND NOT (membership IN ('leave', 'ban') AND EXISTS \
               (SELECT 1 FROM forgotten_rooms f WHERE f.user_id = s.state_key AND f.room_id = s.room_id))",
        )
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Events of `room_id` with `from < stream_ordering <= to`, newest last, at most `limit`
    /// (the newest ones). Returns whether older events were left out.
    pub async fn room_events_between(
        &self,
        room_id: &str,
        from: i64,
        to: i64,
        limit: i64,
    ) -> Result<(Vec<StoredEvent>, bool), StoreError> {
        let rows = sqlx::query(
            "SELECT stream_ordering, json FROM events WHERE room_id = $1 AND stream_ordering > $2 AND stream_ordering <= $3 \
             ORDER BY stream_ordering DESC LIMIT $4",
        )
        .bind(room_id)
        .bind(from)
        .bind(to)
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        let limited = rows.len() as i64 > limit;
        let mut events: Vec<StoredEvent> =
            rows.into_iter().take(limit as usize).map(parse).collect();
        events.reverse();
        Ok((events, limited))
    }

    /// Events of `room_id` before (`backwards`) or after position `from`, at most `limit`.
    pub async fn room_messages(
        &self,
        room_id: &str,
        from: i64,
        backwards: bool,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = if backwards {
            "SELECT stream_ordering, json FROM events WHERE room_id = $1 AND stream_ordering < $2 ORDER BY stream_ordering DESC LIMIT $3"
        } else {
            "SELECT stream_ordering, json FROM events WHERE room_id = $1 AND stream_ordering > $2 ORDER BY stream_ordering ASC LIMIT $3"
        };
        let rows = sqlx::query(sql)
            .bind(room_id)
            .bind(from)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(parse).collect())
    }

    /// The newest event stream position (0 when empty).
    pub async fn max_stream_ordering(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COALESCE(MAX(stream_ordering), 0) FROM events")
            .fetch_one(&self.pool)
            .await
    }

    /// Remember which event a client transaction produced.
    pub async fn record_txn(
        &self,
        token_hash: &str,
        txn_id: &str,
        event_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO txn_ids (token_hash, txn_key, event_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(token_hash)
            .bind(txn_id)
            .bind(event_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The event a client transaction already produced.
    pub async fn txn_event(
        &self,
        token_hash: &str,
        txn_id: &str,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT event_id FROM txn_ids WHERE token_hash = $1 AND txn_key = $2")
            .bind(token_hash)
            .bind(txn_id)
            .fetch_optional(&self.pool)
            .await
    }

    /// The stream position of the first event in `room_id` that made `user_id` a member with
    /// `membership` (`join`, or `invite` or `join`), if any.
    pub async fn first_membership_position(
        &self,
        room_id: &str,
        user_id: &str,
        memberships: &[&str],
    ) -> Result<Option<i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT stream_ordering, json FROM events WHERE room_id = $1 AND type = 'm.room.member' AND state_key = $2 ORDER BY stream_ordering",
        )
        .bind(room_id)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(parse).find_map(|e| {
            let m = e.json["content"]["membership"].as_str().unwrap_or_default();
            memberships.contains(&m).then_some(e.stream_ordering)
        }))
    }

    /// The event of `room_id` closest to `ts` (ms since the epoch) in direction `forwards`
    /// (the first at or after `ts`) or backwards (the last at or before), with its position.
    pub async fn event_near_ts(
        &self,
        room_id: &str,
        ts: i64,
        forwards: bool,
    ) -> Result<Option<StoredEvent>, StoreError> {
        let sql = if forwards {
            "SELECT stream_ordering, json FROM events WHERE room_id = $1 AND origin_server_ts >= $2 \
             ORDER BY origin_server_ts ASC, stream_ordering ASC LIMIT 1"
        } else {
            "SELECT stream_ordering, json FROM events WHERE room_id = $1 AND origin_server_ts <= $2 \
             ORDER BY origin_server_ts DESC, stream_ordering DESC LIMIT 1"
        };
        let row = sqlx::query(sql)
            .bind(room_id)
            .bind(ts)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(parse))
    }

    /// The transaction IDs `device_id` sent `event_ids` with, by event ID (events it did not
    /// send are absent).
    pub async fn transaction_ids(
        &self,
        event_ids: &[&str],
        device_id: &str,
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        if event_ids.is_empty() {
            return Ok(Default::default());
        }
        let marks = super::placeholders(2, event_ids.len());
        let sql = format!(
            "SELECT event_id, txn_id FROM txn_ids WHERE device_id = $1 AND txn_id IS NOT NULL \
             AND event_id IN ({marks})"
        );
        let mut query = sqlx::query(&sql).bind(device_id);
        for id in event_ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// The rooms `user_id` has (or had) a membership in that got events with
    /// `from < stream_ordering <= to`: what an incremental `/sync` must look at.
    pub async fn rooms_with_events_for(
        &self,
        user_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            // CROSS JOIN keeps the events of the window as the outer loop (SQLite does not
            // reorder it): the cost follows the new events, not the user's rooms.
            "SELECT DISTINCT e.room_id FROM events e CROSS JOIN current_state s \
             WHERE s.room_id = e.room_id AND s.type = 'm.room.member' AND s.state_key = $1 \
             AND e.stream_ordering > $2 AND e.stream_ordering <= $3",
        )
        .bind(user_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await
    }
}
