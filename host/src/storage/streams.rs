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
    /// Send-to-device messages: kept in `stream_positions`, since delivered messages are
    /// deleted and `MAX(stream_id)` would then go backwards.
    pub to_device: i64,
    /// Device-list changes.
    pub device_lists: i64,
}

/// A user's membership in one room, with the event that set it.
#[derive(Debug, Clone)]
pub struct MembershipRow {
    /// The room.
    pub room_id: String,
    /// `join`, `invite`, `leave`, `ban` or `knock`.
    pub membership: String,
    /// The membership event and its stream position.
    pub event: super::StoredEvent,
}

impl Store {
    /// Every stream's newest position, read in one statement so they come from one snapshot.
    pub async fn stream_positions(&self) -> Result<StreamPositions, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COALESCE(MAX(stream_ordering), 0) FROM events), \
             (SELECT COALESCE(MAX(stream_id), 0) FROM account_data), \
             (SELECT COALESCE(MAX(stream_id), 0) FROM presence), \
             (SELECT COALESCE(MAX(stream_id), 0) FROM receipts), \
             (SELECT COALESCE(MAX(position), 0) FROM stream_positions WHERE stream_name = 'to_device'), \
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

    /// `user_id`'s memberships — in every room (`room_ids` `None`) or in those of `room_ids`
    /// — with the membership event and its position, in one query per 500 rooms rather
    /// than three per room. Rooms left and forgotten are left out, as in `rooms_of`.
    pub async fn membership_rows(
        &self,
        user_id: &str,
        room_ids: Option<&[&str]>,
    ) -> Result<Vec<MembershipRow>, StoreError> {
        const SQL: &str = "SELECT e.stream_ordering, e.json, s.room_id, s.membership \
             FROM current_state s JOIN events e ON e.event_id = s.event_id \
             WHERE s.type = 'm.room.member' AND s.state_key = $1 \
             AND NOT (s.membership IN ('leave', 'ban') AND EXISTS \
               (SELECT 1 FROM forgotten_rooms f WHERE f.user_id = s.state_key AND f.room_id = s.room_id))";
        let row = |r: sqlx::any::AnyRow| MembershipRow {
            room_id: r.get(2),
            membership: r.get(3),
            event: super::events::parse(r),
        };
        let Some(room_ids) = room_ids else {
            let rows = sqlx::query(SQL).bind(user_id).fetch_all(&self.pool).await?;
            return Ok(rows.into_iter().map(row).collect());
        };
        let mut out = Vec::new();
        // SQLite allows 32,766 bound parameters; stay far below.
        for chunk in room_ids.chunks(500) {
            let marks = super::placeholders(2, chunk.len());
            let sql = format!("{SQL} AND s.room_id IN ({marks})");
            let mut q = sqlx::query(&sql).bind(user_id);
            for room in chunk {
                q = q.bind(*room);
            }
            let rows = q.fetch_all(&self.pool).await?;
            out.extend(rows.into_iter().map(row));
        }
        Ok(out)
    }

    /// What a room summary is made of, in one query: `(user_id, membership)` of the joined
    /// and invited members in the order their membership events arrived, and whether the
    /// room has a non-empty `m.room.name` or a `m.room.canonical_alias` alias.
    pub async fn room_summary_parts(
        &self,
        room_id: &str,
    ) -> Result<(Vec<(String, String)>, bool), StoreError> {
        let rows = sqlx::query(
            "SELECT s.type, s.state_key, s.membership, \
             CASE WHEN s.type = 'm.room.member' THEN NULL ELSE e.json END \
             FROM current_state s JOIN events e ON e.event_id = s.event_id \
             WHERE s.room_id = $1 AND ((s.type = 'm.room.member' AND s.membership IN ('join', 'invite')) \
               OR (s.type IN ('m.room.name', 'm.room.canonical_alias') AND s.state_key = '')) \
             ORDER BY e.stream_ordering",
        )
        .bind(room_id)
        .fetch_all(&self.pool)
        .await?;
        let (mut members, mut named) = (Vec::new(), false);
        for r in rows {
            let kind: String = r.get(0);
            if kind == "m.room.member" {
                members.push((r.get(1), r.get(2)));
                continue;
            }
            let json: Option<String> = r.get(3);
            let ev: serde_json::Value = json
                .and_then(|j| serde_json::from_str(&j).ok())
                .unwrap_or_default();
            named |= match kind.as_str() {
                "m.room.name" => ev["content"]["name"]
                    .as_str()
                    .is_some_and(|n| !n.is_empty()),
                _ => ev["content"]["alias"].is_string(),
            };
        }
        Ok((members, named))
    }

    /// The current state of each of `room_ids` (as [`Store::current_state`]), in one query
    /// per 500 rooms: what an initial sync sends for every joined room.
    pub async fn current_state_in(
        &self,
        room_ids: &[&str],
    ) -> Result<std::collections::HashMap<String, Vec<serde_json::Value>>, StoreError> {
        let mut out: std::collections::HashMap<String, Vec<serde_json::Value>> = Default::default();
        for chunk in room_ids.chunks(500) {
            let marks = super::placeholders(1, chunk.len());
            let sql = format!(
                "SELECT e.stream_ordering, e.json, s.room_id FROM current_state s \
                 JOIN events e ON e.event_id = s.event_id \
                 WHERE s.room_id IN ({marks}) ORDER BY e.stream_ordering"
            );
            let mut q = sqlx::query(&sql);
            for room in chunk {
                q = q.bind(*room);
            }
            for r in q.fetch_all(&self.pool).await? {
                let room: String = r.get(2);
                out.entry(room)
                    .or_default()
                    .push(super::events::parse(r).json);
            }
        }
        Ok(out)
    }

    /// The users joined to, invited to or knocking on `room_id`: those whose `/sync` a write
    /// to the room concerns (who left sees nothing after their leave; the leave itself wakes
    /// them as its target).
    pub async fn users_with_membership(&self, room_id: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT state_key FROM current_state WHERE room_id = $1 AND type = 'm.room.member' \
             AND membership IN ('join', 'invite', 'knock')",
        )
        .bind(room_id)
        .fetch_all(&self.pool)
        .await
    }
}
