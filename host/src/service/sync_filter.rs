//! The sync filter applied to `/sync` (spec §"Filtering", §"Lazy-loading room members"):
//! which rooms show, which timeline, state, ephemeral and account data events they carry,
//! and which members a lazy-loading client gets.
//!
//! Lazy loading remembers, per user, device and room, which membership events each device
//! was sent (in memory, as Synapse's cache), so that later syncs leave them out unless
//! `include_redundant_members` asks for them; an initial sync starts afresh.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;

use serde_json::Value;

use crate::error::MatrixResult;
use crate::service::pagination::scan;
use crate::service::sync::SyncRequest;
use crate::state::AppState;
use crate::storage::StoredEvent;

/// `(user, device)` → room → member → ID of the membership event last sent.
type Sent = HashMap<(String, String), HashMap<String, HashMap<String, String>>>;

/// The membership events each device was sent by lazy-loading syncs.
#[derive(Default)]
pub struct LazyMembers(Mutex<Sent>);

impl LazyMembers {
    /// Drop from `members` those this device already has (same event), then remember the
    /// rest and the membership events of `timeline` as sent. `fresh`: forget what was sent
    /// before (an initial sync).
    fn unsent(
        &self,
        req: &SyncRequest<'_>,
        room_id: &str,
        members: Vec<StoredEvent>,
        timeline: &[StoredEvent],
        fresh: bool,
    ) -> Vec<StoredEvent> {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let key = (req.user_id.to_string(), req.device_id.to_string());
        let sent = all
            .entry(key)
            .or_default()
            .entry(room_id.into())
            .or_default();
        if fresh {
            sent.clear();
        }
        let id = |e: &StoredEvent| e.json["event_id"].as_str().unwrap_or_default().to_string();
        let member = |e: &StoredEvent| e.json["state_key"].as_str().unwrap_or_default().to_string();
        let members: Vec<StoredEvent> = members
            .into_iter()
            .filter(|e| sent.get(&member(e)) != Some(&id(e)))
            .collect();
        let timeline_members = timeline
            .iter()
            .filter(|e| e.json["type"] == "m.room.member");
        for e in members.iter().chain(timeline_members) {
            sent.insert(member(e), id(e));
        }
        members
    }
}

/// Whether the room filter (`room.rooms` / `room.not_rooms`) lets `room_id` show at all.
pub fn room_shown(req: &SyncRequest<'_>, room_id: &str) -> bool {
    req.filter.room.allows_room(room_id)
}

/// Whether a left (or banned-from) room goes into `rooms.leave`, as Synapse decides: in an
/// incremental sync when the leave is new; in an initial (or full-state) sync when
/// `include_leave` is set, or the user was kicked or banned rather than leaving.
pub fn show_left(
    req: &SyncRequest<'_>,
    initial: bool,
    changed: bool,
    member_event: Option<&Value>,
) -> bool {
    if !initial && !req.full_state {
        return changed;
    }
    let left_by_self = member_event.is_some_and(|e| {
        e["content"]["membership"] == "leave" && e["sender"].as_str() == Some(req.user_id)
    });
    req.filter.include_leave || !left_by_self
}

/// The newest events of `room_id` with `since < position <= upto` that the timeline filter
/// accepts and the user may see, oldest first, at most the filter's limit; and whether
/// older ones were left out (`limited`).
pub async fn timeline(
    state: &AppState,
    req: &SyncRequest<'_>,
    room_id: &str,
    since: i64,
    upto: i64,
) -> MatrixResult<(Vec<StoredEvent>, bool)> {
    let visible = state.visible_from(room_id, req.user_id).await?;
    let bounds = (since.max(visible.saturating_sub(1)), upto.saturating_add(1));
    let filter = &req.filter.timeline;
    let keep = |e: &StoredEvent| filter.allows(&e.json, Some(room_id));
    let found = scan(state, room_id, bounds, true, req.limit, &keep).await?;
    let mut events = found.events;
    events.reverse();
    Ok((events, found.more))
}

/// Serialise events for the syncing device (with its `transaction_id`s), keeping only the
/// filter's `event_fields`.
pub async fn serialize(
    state: &AppState,
    req: &SyncRequest<'_>,
    events: Vec<&Value>,
) -> MatrixResult<Vec<Value>> {
    let served = state
        .serialize_events_for_device(&events, req.user_id, req.device_id)
        .await?;
    Ok(served
        .into_iter()
        .map(|e| req.filter.fields_of(e))
        .collect())
}

/// A joined room's `state` section. `full`: the room's whole state is due (initial or
/// full-state sync, a gap in the timeline, or a membership change); it is sent through the
/// `room.state` filter, without what the timeline carries. With `lazy_load_members` the
/// membership events are only those of the timeline's senders (and, when `full`, the
/// user's own), as of the timeline's start, each sent to a device once unless
/// `include_redundant_members`; they come in incremental syncs too. `known_state`: the room's
/// current state when the caller already read it (initial syncs read all rooms' at once).
pub async fn state_section(
    state: &AppState,
    req: &SyncRequest<'_>,
    room_id: &str,
    timeline: &[StoredEvent],
    full: bool,
    known_state: Option<Vec<Value>>,
) -> MatrixResult<Vec<Value>> {
    let filter = &req.filter.state;
    let lazy = filter.lazy_load_members;
    let in_timeline: HashSet<&str> = timeline
        .iter()
        .filter_map(|e| e.json["event_id"].as_str())
        .collect();
    let mut events = Vec::new();
    if full {
        let current = match known_state {
            Some(known) => known,
            None => state.store.current_state(room_id).await?,
        };
        for ev in current {
            let skip = in_timeline.contains(ev["event_id"].as_str().unwrap_or_default())
                || (lazy && ev["type"] == "m.room.member");
            if !skip {
                events.push(ev);
            }
        }
    }
    if lazy {
        let members = lazy_members(state, req, room_id, timeline, full).await?;
        events.extend(members.into_iter().map(|e| e.json));
    }
    let events = filter.retain(events, Some(room_id));
    serialize(state, req, events.iter().collect()).await
}

/// The membership events a lazy-loading client needs with `timeline`; see
/// [`state_section`].
async fn lazy_members(
    state: &AppState,
    req: &SyncRequest<'_>,
    room_id: &str,
    timeline: &[StoredEvent],
    full: bool,
) -> MatrixResult<Vec<StoredEvent>> {
    let mut wanted = BTreeSet::new();
    let mut member_in_timeline = HashSet::new();
    for e in timeline {
        let sender = e.json["sender"].as_str().unwrap_or_default();
        // A member whose membership the timeline already showed needs no state for it.
        if !member_in_timeline.contains(sender) {
            wanted.insert(sender.to_string());
        }
        if e.json["type"] == "m.room.member" {
            member_in_timeline.insert(e.json["state_key"].as_str().unwrap_or_default());
        }
    }
    if full {
        wanted.insert(req.user_id.to_string());
    }
    let at = timeline.first().map_or(i64::MAX, |e| e.stream_ordering - 1);
    let mut members = Vec::new();
    for user in wanted {
        if let Some(ev) = state.store.member_event_at(room_id, &user, at).await? {
            members.push(ev);
        }
    }
    if req.filter.state.include_redundant_members {
        return Ok(members);
    }
    let fresh = req.since.is_none();
    Ok(state
        .lazy_members
        .unsent(req, room_id, members, timeline, fresh))
}
