//! The full-text index behind `POST /search` (SQLite FTS5, table `event_search`).

use serde_json::Value;
use sqlx::{AnyConnection, Row};

use super::events::StoredEvent;
use super::{Store, StoreError};

/// The searchable field of each indexed event type, and its search key.
const INDEXED: &[(&str, &str, &str)] = &[
    ("m.room.message", "body", "content.body"),
    ("m.room.name", "name", "content.name"),
    ("m.room.topic", "topic", "content.topic"),
];

/// Index `event` for search, in the transaction that stores it, when it is a message, room
/// name or topic with a string value.
pub(super) async fn index_event(conn: &mut AnyConnection, event: &Value) -> Result<(), StoreError> {
    let kind = event["type"].as_str().unwrap_or_default();
    let Some((_, field, key)) = INDEXED.iter().find(|(t, _, _)| *t == kind) else {
        return Ok(());
    };
    let Some(value) = event["content"][field].as_str() else {
        return Ok(());
    };
    sqlx::query("INSERT INTO event_search (value, event_id, room_id, key) VALUES ($1, $2, $3, $4)")
        .bind(value)
        .bind(event["event_id"].as_str())
        .bind(event["room_id"].as_str())
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// How search results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchOrder {
    /// Best match first (FTS5 BM25; higher `rank` is better), at most 500 results.
    Rank,
    /// Newest first (`origin_server_ts`, then stream position), strictly before the
    /// `(origin_server_ts, stream_ordering)` given.
    Recent(Option<(i64, i64)>),
}

/// One search hit.
#[derive(Debug, Clone)]
pub struct SearchHit {
    /// The event.
    pub event: StoredEvent,
    /// Its relevance (higher is better).
    pub rank: f64,
    /// Its `origin_server_ts` (ms), for paging by recency.
    pub origin_server_ts: i64,
}

/// The matching rows and their rank on SQLite: FTS5's BM25 (negated: higher is better).
const MATCHES_SQLITE: &str = "SELECT event_id, -bm25(event_search) AS rank FROM event_search \
     WHERE event_search MATCH $1 AND room_id IN (SELECT value FROM json_each($2)) \
     AND key IN (SELECT value FROM json_each($3))";

/// The same on PostgreSQL: the `tsvector` column against a web-search query, ranked by
/// `ts_rank` (higher is better).
const MATCHES_POSTGRES: &str = "SELECT event_id, \
     CAST(ts_rank(vector, websearch_to_tsquery('simple', $1)) AS DOUBLE PRECISION) AS rank \
     FROM event_search WHERE vector @@ websearch_to_tsquery('simple', $1) \
     AND room_id IN (SELECT value FROM json_array_elements_text(CAST($2 AS json))) \
     AND key IN (SELECT value FROM json_array_elements_text(CAST($3 AS json)))";

/// The FTS5 query `fts` (quoted terms joined by `AND`, `OR`, `NOT`, as
/// `service::search::parse_query` writes it) in PostgreSQL's web-search syntax: terms side
/// by side, `or`, and `-` before an excluded term.
fn websearch_query(fts: &str) -> String {
    let mut out = Vec::new();
    let mut negate = false;
    let mut rest = fts.trim_start();
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            // A quoted term ends at a `"` not doubled (FTS5 doubles quotes inside terms).
            let mut end = 0;
            let bytes = quoted.as_bytes();
            while end < bytes.len() {
                if bytes[end] == b'"' && bytes.get(end + 1) != Some(&b'"') {
                    break;
                }
                end += if bytes[end] == b'"' { 2 } else { 1 };
            }
            let term = quoted[..end.min(quoted.len())].replace("\"\"", " ");
            out.push(format!("{}\"{term}\"", if negate { "-" } else { "" }));
            negate = false;
            rest = quoted.get(end + 1..).unwrap_or("").trim_start();
            continue;
        }
        let (word, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        match word {
            "OR" => out.push("or".to_string()),
            "NOT" => negate = true,
            _ => {}
        }
        rest = tail.trim_start();
    }
    out.join(" ")
}

impl Store {
    /// The backend's matching subquery, and `fts` in the syntax it takes.
    fn search_matches(&self, fts: &str) -> (&'static str, String) {
        match self.backend {
            super::Backend::Sqlite => (MATCHES_SQLITE, fts.to_string()),
            super::Backend::Postgres => (MATCHES_POSTGRES, websearch_query(fts)),
        }
    }

    /// Events of `room_ids` whose `keys` (`content.body`, …) match the FTS5 query `query`,
    /// ordered by `order`, at most `limit`.
    pub async fn search_events(
        &self,
        room_ids: &[String],
        keys: &[String],
        query: &str,
        order: SearchOrder,
        limit: i64,
    ) -> Result<Vec<SearchHit>, StoreError> {
        let (rooms, keys) = (Value::from(room_ids), Value::from(keys));
        let (tail, (ts, pos)) = match order {
            SearchOrder::Rank => ("ORDER BY h.rank DESC", (i64::MAX, i64::MAX)),
            SearchOrder::Recent(before) => (
                "AND (e.origin_server_ts < $4 OR (e.origin_server_ts = $4 AND e.stream_ordering < $5)) \
                 ORDER BY e.origin_server_ts DESC, e.stream_ordering DESC",
                before.unwrap_or((i64::MAX, i64::MAX)),
            ),
        };
        let (matches, query) = self.search_matches(query);
        let sql = format!(
            "SELECT e.stream_ordering, e.json, h.rank, e.origin_server_ts FROM ({matches}) h \
             JOIN events e ON e.event_id = h.event_id WHERE 1 = 1 {tail} LIMIT $6"
        );
        let rows = sqlx::query(&sql)
            .bind(query)
            .bind(rooms.to_string())
            .bind(keys.to_string())
            .bind(ts)
            .bind(pos)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| SearchHit {
                rank: r.get(2),
                origin_server_ts: r.get(3),
                event: StoredEvent {
                    stream_ordering: r.get(0),
                    json: serde_json::from_str(r.get::<&str, _>(1)).unwrap_or(Value::Null),
                },
            })
            .collect())
    }

    /// How many indexed fields of `room_ids` match (Synapse's `count`).
    pub async fn search_count(
        &self,
        room_ids: &[String],
        keys: &[String],
        query: &str,
    ) -> Result<i64, StoreError> {
        let (matches, query) = self.search_matches(query);
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM ({matches}) h"))
            .bind(query)
            .bind(Value::from(room_ids).to_string())
            .bind(Value::from(keys).to_string())
            .fetch_one(&self.pool)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::websearch_query;

    #[test]
    fn fts5_queries_become_web_search_queries() {
        assert_eq!(
            websearch_query("\"hello\" AND \"world\""),
            "\"hello\" \"world\""
        );
        assert_eq!(
            websearch_query("\"cats\" OR \"dogs\""),
            "\"cats\" or \"dogs\""
        );
        assert_eq!(
            websearch_query("\"cats\" NOT \"dogs\""),
            "\"cats\" -\"dogs\""
        );
        assert_eq!(
            websearch_query("\"big cat\" AND \"x\""),
            "\"big cat\" \"x\""
        );
        assert_eq!(websearch_query("\"say \"\"hi\"\"\""), "\"say  hi \"");
        assert_eq!(websearch_query(""), "");
    }
}
