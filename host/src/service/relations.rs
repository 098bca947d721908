//! Relations between events (client-server spec v1.12 §"Forming relationships between
//! events", §"Event replacements", §"Threading", §"Reference relations"): the aggregations
//! served in `unsigned.m.relations`, and the pages of `GET /relations`.
//!
//! As in Synapse 1.16x, three types are aggregated: `m.replace` (the newest edit by the
//! original sender, whole), `m.thread` (`latest_event`, `count`, `current_user_participated`)
//! and `m.reference` (`chunk` of event IDs). Annotations (reactions) are not aggregated
//! server-side since spec v1.7; clients read them from `/relations`.

use serde_json::{json, Map, Value};

use crate::error::{MatrixError, MatrixResult};
use crate::state::AppState;
use crate::storage::RelationsPage;

/// Most `m.reference` IDs bundled into one event (Synapse bundles a page too).
const MAX_BUNDLED_REFERENCES: i64 = 50;
/// Largest `/relations` page (`limit` is capped to this, as Synapse caps at 50).
pub const MAX_RELATIONS_LIMIT: i64 = 50;

/// A page of `/relations`: `chunk` (client format), `next_batch`, `prev_batch`.
pub struct RelationsAnswer {
    /// The related events.
    pub chunk: Vec<Value>,
    /// Token for the next page in the same direction, when there may be more.
    pub next_batch: Option<String>,
}

impl AppState {
    /// The `m.relations` aggregations of `event` as `viewer` sees them, or `None` when nothing
    /// relates to it (or it is redacted, whose relations are moot).
    pub(crate) async fn bundled_relations(
        &self,
        event: &Value,
        viewer: &str,
    ) -> MatrixResult<Option<Value>> {
        let Some(event_id) = event["event_id"].as_str() else {
            return Ok(None);
        };
        if event["unsigned"].get("redacted_because").is_some() {
            return Ok(None);
        }
        let counts = self.store.relation_counts(event_id).await?;
        self.bundle_relations(event, viewer, counts).await
    }

    /// [`AppState::bundled_relations`] from `counts` already read (`relation_counts_many`),
    /// so a page of events costs one count query, not one per event.
    pub(crate) async fn bundle_relations(
        &self,
        event: &Value,
        viewer: &str,
        counts: Vec<crate::storage::RelationCount>,
    ) -> MatrixResult<Option<Value>> {
        let event_id = event["event_id"].as_str().unwrap_or_default();
        if counts.is_empty() || event["unsigned"].get("redacted_because").is_some() {
            return Ok(None);
        }
        let mut out = Map::new();
        for c in counts {
            let bundle = match c.rel_type.as_str() {
                "m.replace" if event.get("state_key").is_none() => {
                    let sender = event["sender"].as_str();
                    self.store
                        .latest_relation(event_id, "m.replace", sender)
                        .await?
                        .map(|edit| edit.json)
                }
                "m.thread" => Some(self.thread_summary(event, viewer, c.count).await?),
                "m.reference" => {
                    let ids = self
                        .store
                        .related_ids(event_id, "m.reference", MAX_BUNDLED_REFERENCES)
                        .await?;
                    let chunk: Vec<Value> = ids.iter().map(|id| json!({"event_id": id})).collect();
                    Some(json!({ "chunk": chunk }))
                }
                _ => None,
            };
            if let Some(bundle) = bundle {
                out.insert(c.rel_type, bundle);
            }
        }
        Ok((!out.is_empty()).then_some(Value::Object(out)))
    }

    /// `m.thread`'s summary for the thread root `root`.
    async fn thread_summary(&self, root: &Value, viewer: &str, count: i64) -> MatrixResult<Value> {
        let root_id = root["event_id"].as_str().unwrap_or_default();
        let latest = self
            .store
            .latest_relation(root_id, "m.thread", None)
            .await?
            .map(|e| e.json)
            .unwrap_or(Value::Null);
        let participated = root["sender"] == viewer
            || self
                .store
                .has_related_from(root_id, "m.thread", viewer)
                .await?;
        Ok(json!({
            "latest_event": self.serialize_plain(&latest),
            "count": count,
            "current_user_participated": participated,
        }))
    }

    /// One page of `GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]` for
    /// `viewer`, who must be able to see the parent (else 404 `M_NOT_FOUND`, as Synapse).
    pub async fn relations(
        &self,
        room_id: &str,
        viewer: &str,
        page: RelationsPage<'_>,
    ) -> MatrixResult<RelationsAnswer> {
        let parent = self
            .store
            .get_event(page.parent)
            .await?
            .filter(|e| e.json["room_id"] == room_id);
        let visible_from = self.visible_from(room_id, viewer).await?;
        if parent.is_none_or(|p| p.stream_ordering < visible_from) {
            return Err(MatrixError::not_found("Event not found."));
        }
        let events = self.store.relations_page(&page).await?;
        let next_batch = (events.len() as i64 == page.limit)
            .then(|| events.last().map(|e| e.stream_ordering.to_string()))
            .flatten();
        let mut chunk = Vec::with_capacity(events.len());
        for e in events {
            chunk.push(self.serialize_event(&e.json, viewer).await?);
        }
        Ok(RelationsAnswer { chunk, next_batch })
    }

    /// One page of `GET /rooms/{roomId}/threads` (client-server spec v1.12 §"Threading"): the
    /// thread roots of `room_id` that `viewer` (a member) may see, most recently active first,
    /// each with its `m.thread` aggregation; with `participated_only`, those the viewer started
    /// or replied to. `before`: the `next_batch` of the previous page.
    pub async fn threads(
        &self,
        room_id: &str,
        viewer: &str,
        participated_only: bool,
        before: Option<i64>,
        limit: i64,
    ) -> MatrixResult<RelationsAnswer> {
        let roots = self.store.thread_roots(room_id, before, limit).await?;
        let next_batch = (roots.len() as i64 == limit)
            .then(|| roots.last().map(|(_, latest)| latest.to_string()))
            .flatten();
        let visible_from = self.visible_from(room_id, viewer).await?;
        let mut chunk = Vec::new();
        for (root_id, _) in roots {
            let Some(root) = self.store.get_event(&root_id).await? else {
                continue;
            };
            if root.stream_ordering < visible_from || root.json["room_id"] != room_id {
                continue;
            }
            let mine = root.json["sender"] == viewer
                || self
                    .store
                    .has_related_from(&root_id, "m.thread", viewer)
                    .await?;
            if participated_only && !mine {
                continue;
            }
            chunk.push(self.serialize_event(&root.json, viewer).await?);
        }
        Ok(RelationsAnswer { chunk, next_batch })
    }
}
