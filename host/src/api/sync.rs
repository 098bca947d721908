//! `/sync`: joined, invited and left rooms, account data; long-polls until something new
//! happens or the timeout passes.

use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::extract::{JsonBody, Requester};
use super::AppState;
use crate::error::{MatrixError, MatrixResult};

#[derive(Deserialize)]
pub(super) struct SyncQuery {
    since: Option<String>,
    timeout: Option<u64>,
    full_state: Option<bool>,
    filter: Option<String>,
}

/// Sync tokens are `s<event position>_<account data position>_<presence position>`.
fn parse_since(token: &str) -> Option<(i64, i64, i64)> {
    let mut parts = token.strip_prefix('s')?.split('_');
    let ev = parts.next()?.parse().ok()?;
    let ad = parts.next()?.parse().ok()?;
    let pres = parts.next().map_or(Some(0), |p| p.parse().ok())?;
    Some((ev, ad, pres))
}

fn timeline_limit(filter: Option<&str>) -> i64 {
    filter
        .and_then(|f| serde_json::from_str::<Value>(f).ok())
        .and_then(|f| f["room"]["timeline"]["limit"].as_i64())
        .unwrap_or(20)
        .clamp(1, 100)
}

/// Stripped state shown with an invite.
const INVITE_STATE: &[&str] = &[
    "m.room.create",
    "m.room.join_rules",
    "m.room.name",
    "m.room.canonical_alias",
    "m.room.avatar",
];

/// # `GET /_matrix/client/v3/sync`
pub(super) async fn sync_route(
    State(state): State<AppState>,
    who: Requester,
    Query(q): Query<SyncQuery>,
) -> MatrixResult<Json<Value>> {
    let since = match q.since.as_deref() {
        Some(t) => {
            Some(parse_since(t).ok_or_else(|| MatrixError::invalid_param("Invalid since token"))?)
        }
        None => None,
    };
    let deadline = Instant::now() + Duration::from_millis(q.timeout.unwrap_or(0).min(120_000));
    let full_state = q.full_state.unwrap_or(false);
    let limit = timeline_limit(q.filter.as_deref());
    let mut changes = state.changes.subscribe();
    loop {
        let (body, has_updates) = build(&state, &who.user_id, since, full_state, limit).await?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        if has_updates || since.is_none() || remaining.is_zero() {
            return Ok(Json(body));
        }
        // Something was written (anywhere); look again, until the timeout.
        if tokio::time::timeout(remaining, changes.changed())
            .await
            .is_err()
        {
            let (body, _) = build(&state, &who.user_id, since, full_state, limit).await?;
            return Ok(Json(body));
        }
    }
}

async fn build(
    state: &AppState,
    user_id: &str,
    since: Option<(i64, i64, i64)>,
    full_state: bool,
    limit: i64,
) -> MatrixResult<(Value, bool)> {
    let ev_now = state.store.max_stream_ordering().await?;
    let ad_now = state.store.max_account_data_stream().await?;
    let pres_now = state.store.max_presence_stream().await?;
    let (since_ev, since_ad, since_pres) = since.unwrap_or((0, 0, 0));
    let presence = super::presence::visible_presence(state, user_id, since_pres).await?;
    let initial = since.is_none();

    let account_data = state.store.account_data_since(user_id, since_ad).await?;
    let mut join = Map::new();
    let mut invite = Map::new();
    let mut leave = Map::new();
    for (room_id, membership) in state.store.rooms_of(user_id).await? {
        let member_event = state
            .store
            .state_event(&room_id, "m.room.member", user_id)
            .await?;
        let member_pos = match member_event.as_ref().and_then(|e| e["event_id"].as_str()) {
            Some(id) => state
                .store
                .get_event(id)
                .await?
                .map_or(0, |e| e.stream_ordering),
            None => 0,
        };
        let room_ad: Vec<Value> = account_data
            .iter()
            .filter(|(r, _, _)| *r == room_id)
            .map(|(_, t, c)| json!({"type": t, "content": c}))
            .collect();
        match membership.as_str() {
            "join" => {
                let (events, limited) = state
                    .store
                    .room_events_between(&room_id, since_ev, ev_now, limit)
                    .await?;
                if !initial && !full_state && events.is_empty() && room_ad.is_empty() {
                    continue;
                }
                let from_visible = state.visible_from(&room_id, user_id).await?;
                let events: Vec<_> = events
                    .into_iter()
                    .filter(|e| e.stream_ordering >= from_visible)
                    .collect();
                let in_timeline: Vec<&str> = events
                    .iter()
                    .filter_map(|e| e.json["event_id"].as_str())
                    .collect();
                let mut state_events = Vec::new();
                if initial || full_state || limited || member_pos > since_ev {
                    for ev in state.store.current_state(&room_id).await? {
                        if !in_timeline.contains(&ev["event_id"].as_str().unwrap_or_default()) {
                            state_events.push(state.serialize_event(&ev).await?);
                        }
                    }
                }
                let prev_batch = events.first().map_or(since_ev, |e| e.stream_ordering);
                let mut timeline = Vec::new();
                for e in &events {
                    timeline.push(state.serialize_event(&e.json).await?);
                }
                join.insert(room_id, json!({
                    "timeline": {"events": timeline, "limited": limited, "prev_batch": format!("t{prev_batch}")},
                    "state": {"events": state_events},
                    "account_data": {"events": room_ad},
                    "ephemeral": {"events": []},
                    "unread_notifications": {},
                }));
            }
            "invite" if initial || member_pos > since_ev => {
                let mut stripped = Vec::new();
                for t in INVITE_STATE {
                    if let Some(ev) = state.store.state_event(&room_id, t, "").await? {
                        stripped.push(strip(&ev));
                    }
                }
                if let Some(ev) = &member_event {
                    stripped.push(strip(ev));
                }
                invite.insert(room_id, json!({"invite_state": {"events": stripped}}));
            }
            "leave" | "ban" if !initial && member_pos > since_ev => {
                let (events, limited) = state
                    .store
                    .room_events_between(&room_id, since_ev, member_pos, limit)
                    .await?;
                let mut timeline = Vec::new();
                for e in &events {
                    timeline.push(state.serialize_event(&e.json).await?);
                }
                leave.insert(
                    room_id,
                    json!({
                        "timeline": {"events": timeline, "limited": limited},
                        "state": {"events": []},
                        "account_data": {"events": room_ad},
                    }),
                );
            }
            _ => {}
        }
    }
    let global_ad: Vec<Value> = account_data
        .iter()
        .filter(|(r, _, _)| r.is_empty())
        .map(|(_, t, c)| json!({"type": t, "content": c}))
        .collect();
    let has_updates = !join.is_empty()
        || !invite.is_empty()
        || !leave.is_empty()
        || !global_ad.is_empty()
        || !presence.is_empty();
    let body = json!({
        "next_batch": format!("s{ev_now}_{ad_now}_{pres_now}"),
        "rooms": {"join": join, "invite": invite, "leave": leave},
        "account_data": {"events": global_ad},
        "presence": {"events": presence},
        "to_device": {"events": []},
        "device_lists": {"changed": [], "left": []},
        "device_one_time_keys_count": {},
    });
    Ok((body, has_updates))
}

fn strip(ev: &Value) -> Value {
    json!({"type": ev["type"], "state_key": ev["state_key"], "content": ev["content"], "sender": ev["sender"]})
}

/// # `POST /_matrix/client/v3/user/{userId}/filter`
/// Filters are accepted (clients upload them before syncing); `/sync` reads inline filters.
pub(super) async fn create_filter_route(
    _who: Requester,
    Path(_user): Path<String>,
    JsonBody(_filter): JsonBody<Value>,
) -> Json<Value> {
    Json(json!({"filter_id": "0"}))
}

/// # `GET /_matrix/client/v3/user/{userId}/filter/{filterId}`
pub(super) async fn get_filter_route(
    _who: Requester,
    Path((_user, _id)): Path<(String, String)>,
) -> Json<Value> {
    Json(json!({}))
}
