//! Push rule evaluation for each new event (spec §"Push Rules", §"Receiving notifications"):
//! every local member of the room but the sender (and the invitee of an invite) has their
//! rule set evaluated by ruma against the event; notifying and highlighting results are
//! stored with the event's stream position, for `/sync` counts, `/notifications` and push
//! gateway delivery.

use std::collections::{BTreeMap, HashMap};

use ruma_common::push::{Action, PushConditionPowerLevelsCtx, PushConditionRoomCtx};
use ruma_common::room_version_rules::{AuthorizationRules, RoomPowerLevelsRules};
use ruma_common::serde::Raw;
use ruma_common::{OwnedRoomId, OwnedUserId};
use serde_json::Value;

use crate::error::{MatrixError, MatrixResult};
use crate::state::AppState;
use crate::storage::{now_ms, PushActionRow};

/// Evaluate the push rules of the room's local members for `event` (client format, just
/// persisted at stream position `stream_ordering`), store what notifies or highlights, and
/// start push gateway delivery for the users notified. Failures are logged, never returned:
/// the event is already sent.
pub async fn on_new_event(state: &AppState, event: &Value, stream_ordering: i64) {
    match evaluate(state, event, stream_ordering).await {
        Ok(notified) if !notified.is_empty() => {
            super::push_gateway::deliver(state, notified);
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(
            event_id = event["event_id"].as_str().unwrap_or_default(),
            error = %e.error,
            "push rule evaluation failed"
        ),
    }
}

/// Who is asked: local users joined to the room, and the target of an invite; never the
/// sender. Returns `(user_id, display name in the room)`.
fn recipients<'a>(
    state: &AppState,
    room_state: &'a [Value],
    event: &Value,
) -> Vec<(&'a str, String)> {
    let suffix = format!(":{}", state.config.server_name);
    let sender = event["sender"].as_str().unwrap_or_default();
    let invitee = (event["type"] == "m.room.member" && event["content"]["membership"] == "invite")
        .then(|| event["state_key"].as_str())
        .flatten();
    room_state
        .iter()
        .filter(|e| e["type"] == "m.room.member")
        .filter_map(|e| {
            let user = e["state_key"].as_str()?;
            let joined = e["content"]["membership"] == "join";
            let asked =
                user.ends_with(&suffix) && user != sender && (joined || Some(user) == invitee);
            // Without a display name the user ID stands in: an empty name would match an
            // empty body.
            let name = match e["content"]["displayname"].as_str() {
                Some(n) if !n.is_empty() => n.to_string(),
                _ => user.to_string(),
            };
            asked.then_some((user, name))
        })
        .collect()
}

/// The power levels part of the evaluation context (`sender_notification_permission`),
/// from an `m.room.power_levels` content (`None`: the spec's defaults).
fn power_levels(content: Option<&Value>) -> PushConditionPowerLevelsCtx {
    let int = |v: Option<&Value>, default: i64| {
        let n = v.and_then(Value::as_i64).unwrap_or(default);
        js_int::Int::new_saturating(n)
    };
    let users: BTreeMap<OwnedUserId, js_int::Int> = content
        .and_then(|c| c["users"].as_object())
        .map(|users| {
            users
                .iter()
                .filter_map(|(u, level)| {
                    let user = OwnedUserId::try_from(u.as_str()).ok()?;
                    Some((user, int(Some(level), 0)))
                })
                .collect()
        })
        .unwrap_or_default();
    let notifications = content
        .and_then(|c| c.get("notifications"))
        .and_then(|n| serde_json::from_value(n.clone()).ok())
        .unwrap_or_default();
    PushConditionPowerLevelsCtx::new(
        users,
        int(content.and_then(|c| c.get("users_default")), 0),
        notifications,
        // Room versions before 12 give creators no special notification power.
        RoomPowerLevelsRules::new(&AuthorizationRules::V10, []),
    )
}

/// The thread an event belongs to: the root of an `m.thread` relation, else `main`.
fn thread_of(event: &Value) -> String {
    let relation = &event["content"]["m.relates_to"];
    match (relation["rel_type"].as_str(), relation["event_id"].as_str()) {
        (Some("m.thread"), Some(root)) => root.to_string(),
        _ => "main".to_string(),
    }
}

/// Evaluate and store; returns the users whose actions include `notify`.
async fn evaluate(
    state: &AppState,
    event: &Value,
    stream_ordering: i64,
) -> MatrixResult<Vec<String>> {
    let room_id = event["room_id"].as_str().unwrap_or_default();
    let room_state = state.store.current_state(room_id).await?;
    let asked = recipients(state, &room_state, event);
    if asked.is_empty() {
        return Ok(Vec::new());
    }
    let joined = room_state
        .iter()
        .filter(|e| e["type"] == "m.room.member" && e["content"]["membership"] == "join")
        .count();
    let pl = room_state
        .iter()
        .find(|e| e["type"] == "m.room.power_levels" && e["state_key"] == "")
        .map(|e| &e["content"]);
    let pl = power_levels(pl);
    let mut stored: HashMap<String, Option<Value>> = state
        .store
        .push_rules_of(room_id)
        .await?
        .into_iter()
        .collect();
    let raw = Raw::new(event).map_err(|_| MatrixError::internal())?;
    let room = OwnedRoomId::try_from(room_id).map_err(|_| MatrixError::internal())?;
    let (mut rows, mut notified) = (Vec::new(), Vec::new());
    for (user_id, name) in asked {
        let user = OwnedUserId::try_from(user_id).map_err(|_| MatrixError::internal())?;
        let rules = super::push_rules::ruleset_from(user_id, stored.remove(user_id).flatten())?;
        let count = js_int::UInt::new_saturating(joined as u64);
        let ctx = PushConditionRoomCtx::new(room.clone(), count, user, name)
            .with_power_levels(pl.clone());
        let actions = rules.get_actions(&raw, &ctx).await;
        let notify = actions.iter().any(Action::should_notify);
        let highlight = actions.iter().any(Action::is_highlight);
        if !notify && !highlight {
            continue;
        }
        if notify {
            notified.push(user_id.to_string());
        }
        rows.push(PushActionRow {
            user_id: user_id.to_string(),
            event_id: event["event_id"].as_str().unwrap_or_default().to_string(),
            room_id: room_id.to_string(),
            stream_ordering,
            thread_id: thread_of(event),
            actions: serde_json::to_value(actions).unwrap_or_default(),
            notify,
            highlight,
            ts: now_ms(),
            read: false,
        });
    }
    state.store.add_push_actions(&rows).await?;
    Ok(notified)
}
