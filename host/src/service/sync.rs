//! Building `/sync` responses (spec §"Syncing"): joined, invited and left rooms, account
//! data and presence since a token; the HTTP layer long-polls by calling [`build`] again when
//! something is written.
//!
//! Sync tokens are `s<events>_<account data>_<presence>_<receipts>_<typing>_<to-device>_
//! <device lists>` positions (older tokens without the last parts read them as 0).

use serde_json::{json, Map, Value};

use crate::error::MatrixResult;
use crate::service::sync_filter;
use crate::state::AppState;

/// Stream positions a sync token stands for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Since {
    /// Events (`stream_ordering`).
    pub events: i64,
    /// Account data.
    pub account_data: i64,
    /// Presence.
    pub presence: i64,
    /// Receipts.
    pub receipts: i64,
    /// Typing changes (in memory: a restart starts them again from 0).
    pub typing: i64,
    /// Send-to-device messages (`service::to_device`).
    pub to_device: i64,
    /// Device-list changes (`service::device_lists`).
    pub device_lists: i64,
}

impl Since {
    /// The token for these positions.
    pub fn token(&self) -> String {
        let Since {
            events,
            account_data,
            presence,
            receipts,
            typing,
            to_device,
            device_lists,
        } = self;
        format!(
            "s{events}_{account_data}_{presence}_{receipts}_{typing}_{to_device}_{device_lists}"
        )
    }
}

/// Read a `since` token; `None` when it is not one of ours.
pub fn parse_since(token: &str) -> Option<Since> {
    let mut parts = token.strip_prefix('s')?.split('_');
    let mut next = |required: bool| match parts.next() {
        Some(p) => p.parse().ok(),
        None if required => None,
        None => Some(0),
    };
    let (events, account_data) = (next(true)?, next(true)?);
    let (presence, receipts, typing) = (next(false)?, next(false)?, next(false)?);
    let (to_device, device_lists) = (next(false)?, next(false)?);
    Some(Since {
        events,
        account_data,
        presence,
        receipts,
        typing,
        to_device,
        device_lists,
    })
}

/// Stripped state shown with an invite.
const INVITE_STATE: &[&str] = &[
    "m.room.create",
    "m.room.join_rules",
    "m.room.name",
    "m.room.canonical_alias",
    "m.room.avatar",
];

/// What one `/sync` asks for.
#[derive(Debug, Clone, Copy)]
pub struct SyncRequest<'a> {
    /// The syncing user.
    pub user_id: &'a str,
    /// The token's positions; `None` for an initial sync.
    pub since: Option<Since>,
    /// Send each joined room's whole state.
    pub full_state: bool,
    /// Timeline events per room (0–100).
    pub limit: i64,
    /// The sync filter (spec §"Filtering").
    pub filter: &'a crate::service::filtering::SyncFilter,
    /// The syncing device (lazy-loaded members are remembered per device).
    pub device_id: &'a str,
}

/// The positions a response covers, and the account data to file into rooms.
struct Window {
    since: Since,
    since_ev: i64,
    ev_now: i64,
    receipts_now: i64,
    initial: bool,
    /// `(room_id, type, content)`; an empty room ID is global account data.
    account_data: Vec<(String, String, Value)>,
    /// Initial and full-state syncs: what every joined room needs, read ahead.
    prefetched: Option<super::sync_prefetch::Prefetched>,
}

/// The `/sync` body for `req`, and whether it holds anything new (a long-poll answers at
/// once when it does).
pub async fn build(state: &AppState, req: SyncRequest<'_>) -> MatrixResult<(Value, bool)> {
    let positions = state.store.stream_positions().await?;
    let mut now = Since {
        events: positions.events,
        account_data: positions.account_data,
        presence: positions.presence,
        receipts: positions.receipts,
        typing: state.typing.position(),
        to_device: positions.to_device,
        device_lists: positions.device_lists,
    };
    let since = req.since.unwrap_or_default();
    let presence = crate::service::presence::visible_presence(
        state,
        req.user_id,
        since.presence,
        now.presence,
    )
    .await?;
    let presence = req.filter.presence.retain(presence, None);
    // Each stream is read only when it moved past the token: a sync with nothing new costs
    // the positions query and the device's key counts, whatever the number of rooms.
    let account_data = if now.account_data > since.account_data {
        state
            .store
            .account_data_since(req.user_id, since.account_data)
            .await?
    } else {
        Vec::new()
    };
    let mut window = Window {
        since,
        since_ev: since.events,
        ev_now: now.events,
        receipts_now: now.receipts,
        initial: req.since.is_none(),
        account_data,
        prefetched: None,
    };
    let rooms = rooms(state, &req, &mut window).await?;
    let global_ad = req
        .filter
        .account_data
        .retain(account_data_of(&window, ""), None);
    let (e2ee, e2ee_news) = crate::service::to_device::sync_sections(state, &req, &mut now).await?;
    let has_updates = e2ee_news
        || rooms.iter().any(|section| !section.is_empty())
        || !global_ad.is_empty()
        || !presence.is_empty();
    let [join, invite, leave] = rooms;
    let mut body = json!({
        "next_batch": now.token(),
        "rooms": {"join": join, "invite": invite, "leave": leave},
        "account_data": {"events": global_ad},
        "presence": {"events": presence},
    });
    if let Some(b) = body.as_object_mut() {
        b.extend(e2ee);
    }
    Ok((body, has_updates))
}

/// A joined room's ephemeral events since the token: `m.receipt` and `m.typing`.
async fn ephemeral(
    state: &AppState,
    req: &SyncRequest<'_>,
    window: &Window,
    room_id: &str,
) -> MatrixResult<Vec<Value>> {
    let mut events = Vec::new();
    let receipts = match &window.prefetched {
        Some(p) => {
            crate::service::receipts::receipt_event_from(req.user_id, p.take_receipts(room_id))
        }
        None => {
            let since = window.since.receipts;
            crate::service::receipts::receipt_event(state, req.user_id, room_id, since).await?
        }
    };
    events.extend(receipts);
    let typing_since = if window.initial {
        -1
    } else {
        window.since.typing
    };
    if let Some(users) = state.typing.changed_since(room_id, typing_since) {
        if !(window.initial && users.is_empty()) {
            events.push(json!({"type": "m.typing", "content": {"user_ids": users}}));
        }
    }
    Ok(events)
}

/// The account data events of `room_id` (`""`: global) in the window.
fn account_data_of(window: &Window, room_id: &str) -> Vec<Value> {
    window
        .account_data
        .iter()
        .filter(|(r, _, _)| r == room_id)
        .map(|(_, t, c)| json!({"type": t, "content": c}))
        .collect()
}

/// Rooms whose sections are built at once: the database answers several reads together
/// (WAL readers), so an initial sync of many rooms waits on far fewer round trips in a row.
const ROOMS_IN_FLIGHT: usize = 8;

/// The `join`, `invite` and `leave` sections.
async fn rooms(
    state: &AppState,
    req: &SyncRequest<'_>,
    window: &mut Window,
) -> MatrixResult<[Map<String, Value>; 3]> {
    use futures_util::{StreamExt, TryStreamExt};
    let memberships = match changed_rooms(state, req, window).await? {
        None => {
            let rows = state.store.membership_rows(req.user_id, None).await?;
            let joined: Vec<&str> = (rows.iter())
                .filter(|m| m.membership == "join" && sync_filter::room_shown(req, &m.room_id))
                .map(|m| m.room_id.as_str())
                .collect();
            let (since, now) = (window.since.receipts, window.ev_now);
            let ahead =
                super::sync_prefetch::Prefetched::read(state, req.user_id, &joined, since, now);
            window.prefetched = Some(ahead.await?);
            rows
        }
        Some(changed) if changed.is_empty() => Vec::new(),
        Some(changed) => {
            let ids: Vec<&str> = changed.iter().map(String::as_str).collect();
            state.store.membership_rows(req.user_id, Some(&ids)).await?
        }
    };
    let window = &*window;
    let built: Vec<_> = futures_util::stream::iter(memberships)
        .filter(|m| std::future::ready(sync_filter::room_shown(req, &m.room_id)))
        .map(|m| room_section(state, req, window, m))
        .buffered(ROOMS_IN_FLIGHT)
        .try_collect()
        .await?;
    let mut sections = [Map::new(), Map::new(), Map::new()];
    for (section, room_id, room) in built.into_iter().flatten() {
        sections[section].insert(room_id, room);
    }
    Ok(sections)
}

/// The section (0 `join`, 1 `invite`, 2 `leave`) and body of the room `m` is about, or
/// `None` when the window has nothing for it.
async fn room_section(
    state: &AppState,
    req: &SyncRequest<'_>,
    window: &Window,
    m: crate::storage::MembershipRow,
) -> MatrixResult<Option<(usize, String, Value)>> {
    let (room_id, member_event) = (m.room_id, m.event.json);
    let member_pos = m.event.stream_ordering;
    let changed = member_pos > window.since_ev;
    Ok(match m.membership.as_str() {
        "join" => joined_room(state, req, window, &room_id, changed)
            .await?
            .map(|room| (0, room_id, room)),
        "invite" if window.initial || changed => {
            let room = invited_room(state, &room_id, Some(&member_event)).await?;
            Some((1, room_id, room))
        }
        "leave" | "ban"
            if sync_filter::show_left(req, window.initial, changed, Some(&member_event)) =>
        {
            let room = left_room(state, req, window, &room_id, member_pos).await?;
            Some((2, room_id, room))
        }
        _ => None,
    })
}

/// The rooms an incremental sync must look at — those with events (the user's membership
/// changes included), receipts, typing or room account data since the token — so the rooms
/// where nothing happened cost nothing. `None`: every room (initial or `full_state` sync).
async fn changed_rooms(
    state: &AppState,
    req: &SyncRequest<'_>,
    window: &Window,
) -> MatrixResult<Option<std::collections::HashSet<String>>> {
    if window.initial || req.full_state {
        return Ok(None);
    }
    let mut changed = std::collections::HashSet::new();
    if window.ev_now > window.since_ev {
        let rooms = (state.store)
            .rooms_with_events_for(req.user_id, window.since_ev, window.ev_now)
            .await?;
        changed.extend(rooms);
    }
    if window.receipts_now > window.since.receipts {
        let rooms = (state.store)
            .rooms_with_receipts_since(window.since.receipts)
            .await?;
        changed.extend(rooms);
    }
    changed.extend(state.typing.rooms_changed_since(window.since.typing));
    changed.extend(
        window
            .account_data
            .iter()
            .filter(|(room, _, _)| !room.is_empty())
            .map(|(room, _, _)| room.clone()),
    );
    Ok(Some(changed))
}

/// A joined room's section, or `None` when an incremental sync has nothing new for it.
/// `membership_changed`: the user's membership event is newer than the token (their state is
/// sent again).
async fn joined_room(
    state: &AppState,
    req: &SyncRequest<'_>,
    window: &Window,
    room_id: &str,
    membership_changed: bool,
) -> MatrixResult<Option<Value>> {
    let (events, limited) =
        sync_filter::timeline(state, req, room_id, window.since_ev, window.ev_now).await?;
    let room_ad = (req.filter.room_account_data).retain(account_data_of(window, room_id), None);
    let ephemeral = ephemeral(state, req, window, room_id).await?;
    let ephemeral = req.filter.ephemeral.retain(ephemeral, Some(room_id));
    if !window.initial
        && !req.full_state
        && events.is_empty()
        && room_ad.is_empty()
        && ephemeral.is_empty()
    {
        return Ok(None);
    }
    let full = window.initial || req.full_state || limited || membership_changed;
    let known = window
        .prefetched
        .as_ref()
        .and_then(|p| p.take_state(room_id));
    let state_events =
        sync_filter::state_section(state, req, room_id, &events, full, known).await?;
    // An empty timeline pages back from just after what it covers: now when events were
    // left out (`limit: 0`), the token's position otherwise (`/messages` returns the events
    // before a `t` token, and the one at the token's position was not yet paged).
    let empty_start = if limited {
        window.ev_now + 1
    } else {
        window.since_ev + 1
    };
    let prev_batch = events.first().map_or(empty_start, |e| e.stream_ordering);
    let timeline =
        sync_filter::serialize(state, req, events.iter().map(|e| &e.json).collect()).await?;
    let unread = match &window.prefetched {
        Some(p) => super::notifications::unread_json(p.unread(room_id)),
        None => {
            super::notifications::unread_counts(state, req.user_id, room_id, window.ev_now).await?
        }
    };
    Ok(Some(json!({
        "timeline": {"events": timeline, "limited": limited, "prev_batch": format!("t{prev_batch}")},
        "state": {"events": state_events},
        "account_data": {"events": room_ad},
        "ephemeral": {"events": ephemeral},
        "unread_notifications": unread,
        "summary": super::room_summary::room_summary(state, req.user_id, room_id).await?,
    })))
}

/// An invited room's section: the stripped state of [`INVITE_STATE`] and the invite.
async fn invited_room(
    state: &AppState,
    room_id: &str,
    member_event: Option<&Value>,
) -> MatrixResult<Value> {
    let mut stripped = Vec::new();
    for t in INVITE_STATE {
        if let Some(ev) = state.store.state_event(room_id, t, "").await? {
            stripped.push(strip(&ev));
        }
    }
    if let Some(ev) = member_event {
        stripped.push(strip(ev));
    }
    Ok(json!({"invite_state": {"events": stripped}}))
}

/// A left (or banned-from) room's section: its timeline up to the user's leave event at
/// `member_pos`.
async fn left_room(
    state: &AppState,
    req: &SyncRequest<'_>,
    window: &Window,
    room_id: &str,
    member_pos: i64,
) -> MatrixResult<Value> {
    let (events, limited) =
        sync_filter::timeline(state, req, room_id, window.since_ev, member_pos).await?;
    let timeline =
        sync_filter::serialize(state, req, events.iter().map(|e| &e.json).collect()).await?;
    Ok(json!({
        "timeline": {"events": timeline, "limited": limited},
        "state": {"events": []},
        "account_data": {"events": account_data_of(window, room_id)},
    }))
}

fn strip(ev: &Value) -> Value {
    json!({"type": ev["type"], "state_key": ev["state_key"], "content": ev["content"], "sender": ev["sender"]})
}
