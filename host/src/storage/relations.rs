//! Event relations (`m.relates_to`) and redactions: the index behind `/relations`,
//! `unsigned.m.relations` aggregations, and the redacted form of redacted events.

use serde_json::Value;
use sqlx::{Any, Row, Transaction};

use super::events::StoredEvent;
use super::{Store, StoreError};

/// Record `event`'s relation, if its content has `m.relates_to` with a `rel_type` and an
/// `event_id` (`m.in_reply_to` alone is a reply, not a relation).
pub(super) async fn record(
    tx: &mut Transaction<'_, Any>,
    event: &Value,
    stream_ordering: i64,
) -> Result<(), StoreError> {
    let relates_to = &event["content"]["m.relates_to"];
    let (Some(rel_type), Some(parent)) = (
        relates_to["rel_type"].as_str(),
        relates_to["event_id"].as_str(),
    ) else {
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO event_relations (event_id, relates_to_id, rel_type, room_id, sender, type, stream_ordering) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(event["event_id"].as_str())
    .bind(parent)
    .bind(rel_type)
    .bind(event["room_id"].as_str())
    .bind(event["sender"].as_str())
    .bind(event["type"].as_str())
    .bind(stream_ordering)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Record the redaction `event`; with `pruned = (target, redacted JSON)` replace the target's
/// stored JSON and forget its relation and search-index rows (they went with its content).
pub(super) async fn record_redaction(
    tx: &mut Transaction<'_, Any>,
    event: &Value,
    pruned: Option<(&str, &Value)>,
) -> Result<(), StoreError> {
    let redacts = event["redacts"]
        .as_str()
        .or_else(|| event["content"]["redacts"].as_str())
        .unwrap_or_default();
    sqlx::query(
        "INSERT INTO redactions (event_id, redacts) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(event["event_id"].as_str())
    .bind(redacts)
    .execute(&mut **tx)
    .await?;
    if let Some((target, json)) = pruned {
        sqlx::query("UPDATE events SET json = $1 WHERE event_id = $2")
            .bind(json.to_string())
            .bind(target)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM event_relations WHERE event_id = $1")
            .bind(target)
            .execute(&mut **tx)
            .await?;
        // Its words are gone too: /search must not find a redacted message.
        sqlx::query("DELETE FROM event_search WHERE event_id = $1")
            .bind(target)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// How many events relate to a parent with one `rel_type`.
#[derive(Debug, Clone)]
pub struct RelationCount {
    /// `m.replace`, `m.thread`, `m.annotation`, `m.reference`, or another type.
    pub rel_type: String,
    /// Number of related events.
    pub count: i64,
}

/// Which page of `/relations` to read.
#[derive(Debug, Clone)]
pub struct RelationsPage<'a> {
    /// The parent event.
    pub parent: &'a str,
    /// Only this `rel_type`.
    pub rel_type: Option<&'a str>,
    /// Only this event `type`.
    pub event_type: Option<&'a str>,
    /// Start after this stream position (exclusive), in the direction of reading.
    pub from: Option<i64>,
    /// Stop at this stream position (exclusive).
    pub to: Option<i64>,
    /// Oldest first when true.
    pub forwards: bool,
    /// At most this many events.
    pub limit: i64,
}

impl Store {
    /// The relation types pointing at `parent`, with counts (empty for most events).
    pub async fn relation_counts(&self, parent: &str) -> Result<Vec<RelationCount>, StoreError> {
        let rows = sqlx::query(
            "SELECT rel_type, COUNT(*) FROM event_relations WHERE relates_to_id = $1 GROUP BY rel_type",
        )
        .bind(parent)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| RelationCount {
                rel_type: r.get(0),
                count: r.get(1),
            })
            .collect())
    }

    /// [`Store::relation_counts`] of each of `parents` in one query per 500 events (events
    /// nothing relates to are absent from the map).
    pub async fn relation_counts_many(
        &self,
        parents: &[&str],
    ) -> Result<std::collections::HashMap<String, Vec<RelationCount>>, StoreError> {
        let mut out: std::collections::HashMap<String, Vec<RelationCount>> = Default::default();
        for chunk in parents.chunks(500) {
            let marks = super::placeholders(1, chunk.len());
            let sql = format!(
                "SELECT relates_to_id, rel_type, COUNT(*) FROM event_relations \
                 WHERE relates_to_id IN ({marks}) GROUP BY relates_to_id, rel_type"
            );
            let mut q = sqlx::query(&sql);
            for parent in chunk {
                q = q.bind(*parent);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.entry(r.get(0)).or_default().push(RelationCount {
                    rel_type: r.get(1),
                    count: r.get(2),
                });
            }
        }
        Ok(out)
    }

    /// The newest event relating to `parent` with `rel_type`, optionally only from `sender`.
    pub async fn latest_relation(
        &self,
        parent: &str,
        rel_type: &str,
        sender: Option<&str>,
    ) -> Result<Option<StoredEvent>, StoreError> {
        let row = sqlx::query(
            "SELECT e.stream_ordering, e.json FROM event_relations r JOIN events e ON e.event_id = r.event_id \
             WHERE r.relates_to_id = $1 AND r.rel_type = $2 AND ($3 IS NULL OR r.sender = $4) \
             ORDER BY r.stream_ordering DESC LIMIT 1",
        )
        .bind(parent)
        .bind(rel_type)
        .bind(sender)
        .bind(sender)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(super::events::parse))
    }

    /// Whether `user_id` sent an event relating to `parent` with `rel_type`.
    pub async fn has_related_from(
        &self,
        parent: &str,
        rel_type: &str,
        user_id: &str,
    ) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM event_relations WHERE relates_to_id = $1 AND rel_type = $2 AND sender = $3 LIMIT 1",
        )
        .bind(parent)
        .bind(rel_type)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// The event IDs relating to `parent` with `rel_type`, oldest first, at most `limit`.
    pub async fn related_ids(
        &self,
        parent: &str,
        rel_type: &str,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT event_id FROM event_relations WHERE relates_to_id = $1 AND rel_type = $2 \
             ORDER BY stream_ordering LIMIT $3",
        )
        .bind(parent)
        .bind(rel_type)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }

    /// One page of the events relating to `page.parent`, in reading order.
    pub async fn relations_page(
        &self,
        page: &RelationsPage<'_>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let (cmp_from, cmp_to, order) = if page.forwards {
            (">", "<", "ASC")
        } else {
            ("<", ">", "DESC")
        };
        let sql = format!(
            "SELECT e.stream_ordering, e.json FROM event_relations r JOIN events e ON e.event_id = r.event_id \
             WHERE r.relates_to_id = $1 AND ($2 IS NULL OR r.rel_type = $3) AND ($4 IS NULL OR r.type = $5) \
             AND ($6 IS NULL OR r.stream_ordering {cmp_from} $7) AND ($8 IS NULL OR r.stream_ordering {cmp_to} $9) \
             ORDER BY r.stream_ordering {order} LIMIT $10"
        );
        let rows = sqlx::query(&sql)
            .bind(page.parent)
            .bind(page.rel_type)
            .bind(page.rel_type)
            .bind(page.event_type)
            .bind(page.event_type)
            .bind(page.from)
            .bind(page.from)
            .bind(page.to)
            .bind(page.to)
            .bind(page.limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(super::events::parse).collect())
    }

    /// Thread roots of `room_id` with their newest reply's position, most recently active
    /// first, those active before position `before` (exclusive) when given, at most `limit`.
    pub async fn thread_roots(
        &self,
        room_id: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT relates_to_id, MAX(stream_ordering) AS latest FROM event_relations \
             WHERE room_id = $1 AND rel_type = 'm.thread' GROUP BY relates_to_id \
             HAVING ($2 IS NULL OR MAX(stream_ordering) < $3) ORDER BY latest DESC LIMIT $4",
        )
        .bind(room_id)
        .bind(before)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
