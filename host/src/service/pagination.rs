//! Reading room history through a filter: `/messages` (spec §"Syncing" → "Get events in a
//! room", with `filter`) and `/context` (spec §"Events" → "Context"), and the scan they and
//! `/sync` share.
//!
//! Tokens are `t<pos>`: a position already returned, which paging from excludes.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::error::{MatrixError, MatrixResult};
use crate::service::filtering::EventFilter;
use crate::state::AppState;
use crate::storage::StoredEvent;

/// Events read per query while scanning.
const BATCH: i64 = 100;
/// Queries one scan may make before it stops and reports that more may follow, so that a
/// filter matching nothing in a long history costs a bounded amount.
const MAX_BATCHES: usize = 20;

/// What a [`scan`] found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Matching events in scan order (newest first when scanning backwards).
    pub events: Vec<StoredEvent>,
    /// More matching events may lie beyond the last one returned.
    pub more: bool,
    /// The position of the last event looked at, matching or not.
    pub last_scanned: Option<i64>,
}

/// Up to `limit` events of `room_id` with `after < position < before` that `keep` accepts,
/// from `before` down when `backwards`, else from `after` up.
pub async fn scan(
    state: &AppState,
    room_id: &str,
    (mut after, mut before): (i64, i64),
    backwards: bool,
    limit: i64,
    keep: &(dyn Fn(&StoredEvent) -> bool + Send + Sync),
) -> MatrixResult<Scan> {
    let mut out = Scan::default();
    let size = (limit + 1).clamp(1, BATCH);
    for _ in 0..MAX_BATCHES {
        let batch = state
            .store
            .room_events_in(room_id, after, before, backwards, size)
            .await?;
        let full = batch.len() as i64 == size;
        for e in batch {
            out.last_scanned = Some(e.stream_ordering);
            if backwards {
                before = e.stream_ordering;
            } else {
                after = e.stream_ordering;
            }
            if keep(&e) {
                if out.events.len() as i64 == limit {
                    out.more = true;
                    return Ok(out);
                }
                out.events.push(e);
            }
        }
        if !full {
            return Ok(out);
        }
    }
    out.more = true;
    Ok(out)
}

/// Serialise `events` for clients (with `unsigned`).
pub async fn serialize_all<'a>(
    state: &AppState,
    viewer: &str,
    events: impl IntoIterator<Item = &'a StoredEvent>,
) -> MatrixResult<Vec<Value>> {
    let mut out = Vec::new();
    for e in events {
        out.push(state.serialize_event(&e.json, viewer).await?);
    }
    Ok(out)
}

/// The membership events of `senders` in `room_id` as of position `at`, serialised: the
/// `state` a lazy-loading client needs to show who sent a chunk.
pub async fn members_at(
    state: &AppState,
    viewer: &str,
    room_id: &str,
    senders: impl IntoIterator<Item = String>,
    at: i64,
) -> MatrixResult<Vec<Value>> {
    let mut out = Vec::new();
    for user in senders.into_iter().collect::<BTreeSet<_>>() {
        if let Some(ev) = state.store.member_event_at(room_id, &user, at).await? {
            out.push(state.serialize_event(&ev.json, viewer).await?);
        }
    }
    Ok(out)
}

fn senders(events: &[StoredEvent]) -> impl Iterator<Item = String> + '_ {
    events
        .iter()
        .filter_map(|e| e.json["sender"].as_str().map(String::from))
}

/// One `/messages` page.
pub struct MessagesRequest<'a> {
    /// The reader (already checked to be joined).
    pub user_id: &'a str,
    /// The reader's device (it sees the `transaction_id` of its own events).
    pub device_id: &'a str,
    /// The room.
    pub room_id: &'a str,
    /// Exclusive starting position; `None` for the newest (backwards) or oldest end.
    pub from: Option<i64>,
    /// Newest first.
    pub backwards: bool,
    /// Events per page (1–1000).
    pub limit: i64,
    /// The `filter` parameter, if any.
    pub filter: Option<EventFilter>,
}

/// The `/messages` body: `chunk`, `start`, `end` (when there is a chunk, or the scan
/// stopped early), and with `lazy_load_members` a `state` of the chunk senders' members.
pub async fn messages(state: &AppState, req: MessagesRequest<'_>) -> MatrixResult<Value> {
    let filter = req.filter.unwrap_or_default();
    // A former member reads up to their leaving (the route checked they may read at all).
    let (lo, hi) = visible_range(state, req.room_id, req.user_id)
        .await?
        .unwrap_or((i64::MAX, i64::MIN));
    let (floor, ceiling) = (lo.saturating_sub(1), hi.saturating_add(1));
    let start = req.from.unwrap_or(if req.backwards { i64::MAX } else { 0 });
    let bounds = if req.backwards {
        (floor, start.min(ceiling))
    } else {
        (start.max(floor), ceiling)
    };
    let keep = |e: &StoredEvent| filter.allows(&e.json, Some(req.room_id));
    let found = scan(state, req.room_id, bounds, req.backwards, req.limit, &keep).await?;
    let start_token = match req.from {
        Some(pos) => pos,
        None if req.backwards => state.store.max_stream_ordering().await? + 1,
        None => 0,
    };
    let mut body = json!({
        "chunk": state
            .serialize_events_for_device(
                &found.events.iter().map(|e| &e.json).collect::<Vec<_>>(),
                req.user_id,
                req.device_id,
            )
            .await?,
        "start": format!("t{start_token}"),
    });
    let end = match found.events.last() {
        Some(e) => Some(e.stream_ordering),
        None if found.more => found.last_scanned,
        None => None,
    };
    if let Some(end) = end {
        body["end"] = json!(format!("t{end}"));
    }
    if filter.lazy_load_members && !found.events.is_empty() {
        // Synapse takes the members as of the chunk's first event.
        let at = found.events[0].stream_ordering;
        let members =
            members_at(state, req.user_id, req.room_id, senders(&found.events), at).await?;
        if !members.is_empty() {
            body["state"] = Value::Array(members);
        }
    }
    Ok(body)
}

/// Whether `user_id` may read `event` of `room_id` as Synapse's visibility rules allow a
/// member (or a former member, up to their leaving; anyone in a `world_readable` room).
pub async fn can_see(
    state: &AppState,
    room_id: &str,
    user_id: &str,
    position: i64,
) -> MatrixResult<bool> {
    Ok(visible_range(state, room_id, user_id)
        .await?
        .is_some_and(|(lo, hi)| lo <= position && position <= hi))
}

/// The positions `user_id` may read in `room_id`: from [`AppState::visible_from`] up to
/// now while joined, up to their leave event after leaving (nothing once they forgot the
/// room); all of a `world_readable` room.
pub async fn visible_range(
    state: &AppState,
    room_id: &str,
    user_id: &str,
) -> MatrixResult<Option<(i64, i64)>> {
    let visibility = state
        .store
        .state_event(room_id, "m.room.history_visibility", "")
        .await?;
    if visibility
        .as_ref()
        .and_then(|e| e["content"]["history_visibility"].as_str())
        == Some("world_readable")
    {
        return Ok(Some((0, i64::MAX)));
    }
    let member = state
        .store
        .state_event(room_id, "m.room.member", user_id)
        .await?;
    let membership = member
        .as_ref()
        .and_then(|e| e["content"]["membership"].as_str());
    let hi = match membership {
        Some("join") => i64::MAX,
        // A forgotten room's history is gone for the user (spec §"Leaving rooms").
        Some("leave" | "ban") if state.store.is_room_forgotten(user_id, room_id).await? => {
            return Ok(None)
        }
        Some("leave" | "ban") => {
            let id = member.as_ref().and_then(|e| e["event_id"].as_str());
            match id {
                Some(id) => state
                    .store
                    .get_event(id)
                    .await?
                    .map_or(-1, |e| e.stream_ordering),
                None => -1,
            }
        }
        _ => return Ok(None),
    };
    let lo = state.visible_from(room_id, user_id).await?;
    Ok((lo <= hi).then_some((lo, hi)))
}

/// The `/rooms/{roomId}/context/{eventId}` body: up to `limit` events around the event
/// (half before, newest first; half after, oldest first) that `filter` accepts and the user
/// may see, `start`/`end` tokens for `/messages`, and the room's `state` (with
/// `lazy_load_members`, only the members of the senders shown). Errors: 404 `M_NOT_FOUND`
/// for an event unknown in this room, 403 `M_FORBIDDEN` for one the user may not see.
pub async fn context(
    state: &AppState,
    user_id: &str,
    room_id: &str,
    event_id: &str,
    limit: i64,
    filter: Option<EventFilter>,
) -> MatrixResult<Value> {
    let event = state
        .store
        .get_event(event_id)
        .await?
        .filter(|e| e.json["room_id"] == room_id)
        .ok_or_else(|| MatrixError::not_found("Event not found."))?;
    let pos = event.stream_ordering;
    let range = visible_range(state, room_id, user_id).await?;
    let Some((lo, hi)) = range.filter(|(lo, hi)| *lo <= pos && pos <= *hi) else {
        return Err(MatrixError::forbidden(
            "You don't have permission to access that event.",
        ));
    };
    let filter = filter.unwrap_or_default();
    let keep = |e: &StoredEvent| filter.allows(&e.json, Some(room_id));
    let before_limit = limit / 2;
    let before = scan(state, room_id, (lo - 1, pos), true, before_limit, &keep).await?;
    let upper = hi.saturating_add(1);
    let after = scan(
        state,
        room_id,
        (pos, upper),
        false,
        limit - before_limit,
        &keep,
    )
    .await?;
    let first = before.events.last().map_or(pos, |e| e.stream_ordering);
    let last = after.events.last().map_or(pos, |e| e.stream_ordering);
    // Only the current state exists; someone who left must not learn it (it may be newer
    // than anything they can see), so they get the members as of the events shown.
    let state_events = if filter.lazy_load_members || hi != i64::MAX {
        let shown: Vec<StoredEvent> = before
            .events
            .iter()
            .chain([&event])
            .chain(&after.events)
            .cloned()
            .collect();
        members_at(state, user_id, room_id, senders(&shown), last).await?
    } else {
        let mut all = Vec::new();
        for ev in state.store.current_state(room_id).await? {
            all.push(state.serialize_event(&ev, user_id).await?);
        }
        all
    };
    Ok(json!({
        "events_before": serialize_all(state, user_id, &before.events).await?,
        "event": state.serialize_event(&event.json, user_id).await?,
        "events_after": serialize_all(state, user_id, &after.events).await?,
        "start": format!("t{first}"),
        "end": format!("t{last}"),
        "state": filter.retain(state_events, Some(room_id)),
    }))
}
