//! Push gateway delivery (spec §"Push Gateway API", `POST /_matrix/push/v1/notify`): each
//! `http` pusher has at most one background worker, which sends the user's notifying
//! events after the pusher's position one at a time, in stream order. A failure (no answer,
//! a non-2xx status, a body that is not JSON) is retried with exponential back-off, bounded
//! in delay and attempts; after the last attempt the event is skipped, as Synapse gives up
//! on a notification. A gateway that lists the pushkey as `rejected` has the pusher
//! deleted. Event sending never waits for any of this.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::error::MatrixResult;
use crate::state::AppState;
use crate::storage::{PushActionRow, PusherRow};

/// The first retry delay.
const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// The longest retry delay (Synapse's).
const MAX_BACKOFF: Duration = Duration::from_secs(60 * 60);
/// Attempts per notification before it is skipped (with the delays above, about 19 hours).
const MAX_ATTEMPTS: u32 = 30;
/// How long one request to a gateway may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Notifications read from the database per round.
const BATCH: i64 = 20;

/// Delivery state in memory, by pusher row ID.
#[derive(Default)]
pub struct PushQueue {
    /// Pushers with a delivery worker; the flag says something new arrived while it ran (it
    /// looks again before stopping).
    running: Mutex<HashMap<i64, bool>>,
    /// The last unread badge each pusher was sent.
    badges: Mutex<HashMap<i64, i64>>,
    /// The HTTP client, built on first use from the server's outbound address rules.
    client: OnceLock<reqwest::Client>,
}

/// Why a POST to a gateway did not go through.
enum PostError {
    /// The gateway's address is in a blocked range: never retried.
    Refused(String),
    /// Anything else (no answer, a non-2xx status, a body that is not JSON): retried.
    Failed(String),
}

impl PushQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, bool>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Record `badge` as sent to pusher `id`; whether it differs from the last one.
    fn badge_changed(&self, id: i64, badge: i64) -> bool {
        let mut badges = self.badges.lock().unwrap_or_else(|e| e.into_inner());
        badges.insert(id, badge) != Some(badge)
    }
}

/// The gateway client: the blocklist of `module_http_client` applies to push gateways too,
/// so a user's pusher URL cannot make the server post notifications to private addresses.
fn client(state: &AppState) -> &reqwest::Client {
    state.push_queue.client.get_or_init(|| {
        crate::service::outbound_guard::build_client_with(
            &state.config.module_http_client,
            Some(REQUEST_TIMEOUT),
        )
    })
}

/// New notifications for `users`: wake the delivery worker of each of their `http` pushers
/// (in the background).
pub fn deliver(state: &AppState, users: Vec<String>) {
    let state = state.clone();
    tokio::spawn(async move {
        for user in users {
            match state.store.pushers_of(&user).await {
                Ok(pushers) => pushers
                    .iter()
                    .filter(|p| p.kind == "http")
                    .for_each(|p| wake(&state, p.id)),
                Err(e) => tracing::warn!(user, error = %e, "cannot read pushers"),
            }
        }
    });
}

/// At start-up: wake every `http` pusher, so notifications a restart interrupted go out
/// without waiting for the user's next one (in the background).
pub fn resume(state: &AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        match state.store.http_pusher_ids().await {
            Ok(ids) => ids.into_iter().for_each(|id| wake(&state, id)),
            Err(e) => tracing::warn!(error = %e, "cannot read pushers"),
        }
    });
}

/// Start pusher `id`'s worker, or tell the running one to look again.
fn wake(state: &AppState, id: i64) {
    {
        let mut running = state.push_queue.lock();
        if let Some(again) = running.get_mut(&id) {
            *again = true;
            return;
        }
        running.insert(id, false);
    }
    let state = state.clone();
    tokio::spawn(async move {
        loop {
            if let Err(e) = drain(&state, id).await {
                tracing::warn!(pusher = id, error = %e.error, "push delivery failed");
            }
            let mut running = state.push_queue.lock();
            match running.get_mut(&id) {
                Some(again) if *again => *again = false,
                _ => {
                    running.remove(&id);
                    return;
                }
            }
        }
    });
}

/// What became of one notification.
enum Outcome {
    /// Sent (or given up on, or no longer sendable): move past it.
    Done,
    /// The gateway rejected the pushkey, or the pusher went away: stop.
    PusherGone,
}

/// Deliver everything pusher `id` has not had yet.
async fn drain(state: &AppState, id: i64) -> MatrixResult<()> {
    loop {
        let Some(pusher) = state.store.pusher(id).await? else {
            return Ok(());
        };
        let batch = state
            .store
            .notifications_after(&pusher.user_id, pusher.last_stream_ordering, BATCH)
            .await?;
        if batch.is_empty() {
            return Ok(());
        }
        let expired = state.modules.is_user_expired(&pusher.user_id).await;
        for action in batch {
            // Read in the meantime, or the account expired: nothing to say (as Synapse).
            let outcome = if action.read || matches!(expired, Ok(Some(true))) {
                Outcome::Done
            } else {
                send(state, &pusher, &action).await?
            };
            if matches!(outcome, Outcome::PusherGone)
                || !state
                    .store
                    .advance_pusher(id, action.stream_ordering)
                    .await?
            {
                return Ok(());
            }
        }
    }
}

/// Send one notification, retrying with back-off.
async fn send(
    state: &AppState,
    pusher: &PusherRow,
    action: &PushActionRow,
) -> MatrixResult<Outcome> {
    let Some(body) = notify_body(state, pusher, action).await? else {
        return Ok(Outcome::Done);
    };
    let url = pusher.data["url"].as_str().unwrap_or_default();
    // Recorded before sending, so a receipt's badge update that follows compares with it.
    let badge = body["notification"]["counts"]["unread"].as_i64();
    state
        .push_queue
        .badge_changed(pusher.id, badge.unwrap_or(0));
    let mut delay = INITIAL_BACKOFF;
    for attempt in 1..=MAX_ATTEMPTS {
        match post(state, url, &body).await {
            Ok(rejected) if rejected.iter().any(|k| k == &pusher.pushkey) => {
                tracing::info!(
                    pusher = pusher.id,
                    "pushkey rejected by the gateway: removing"
                );
                state
                    .store
                    .delete_pusher(&pusher.user_id, &pusher.app_id, &pusher.pushkey)
                    .await?;
                return Ok(Outcome::PusherGone);
            }
            Ok(_) => return Ok(Outcome::Done),
            Err(PostError::Refused(why)) => {
                tracing::warn!(pusher = pusher.id, why, "push gateway address refused");
                return Ok(Outcome::Done);
            }
            Err(PostError::Failed(why)) => {
                tracing::warn!(pusher = pusher.id, attempt, why, "push gateway failed");
                if attempt == MAX_ATTEMPTS {
                    break;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_BACKOFF);
                if state.store.pusher(pusher.id).await?.is_none() {
                    return Ok(Outcome::PusherGone);
                }
            }
        }
    }
    tracing::warn!(
        pusher = pusher.id,
        event_id = action.event_id,
        "giving up on a push"
    );
    Ok(Outcome::Done)
}

/// POST `body` to `url`: the pushkeys the gateway `rejected`, or why it failed.
async fn post(state: &AppState, url: &str, body: &Value) -> Result<Vec<String>, PostError> {
    use crate::service::outbound_guard::{literal_refusal, refusal_in};
    let rules = &state.config.module_http_client;
    if let Some(refused) = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| literal_refusal(rules, &u))
    {
        return Err(PostError::Refused(refused.to_string()));
    }
    let response =
        client(state)
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| match refusal_in(&e) {
                Some(refused) => PostError::Refused(refused.to_string()),
                None => PostError::Failed(e.to_string()),
            })?;
    let status = response.status();
    if !status.is_success() {
        return Err(PostError::Failed(format!("HTTP {status}")));
    }
    let answer: Value = response
        .json()
        .await
        .map_err(|e| PostError::Failed(e.to_string()))?;
    let rejected = answer["rejected"].as_array().cloned().unwrap_or_default();
    Ok(rejected
        .into_iter()
        .filter_map(|k| k.as_str().map(String::from))
        .collect())
}

/// The `set_tweak` actions as a map (a tweak without `value` is `true`).
fn tweaks_of(actions: &Value) -> Map<String, Value> {
    let mut tweaks = Map::new();
    for action in actions.as_array().into_iter().flatten() {
        if let Some(name) = action.get("set_tweak").and_then(Value::as_str) {
            let value = action.get("value").cloned().unwrap_or(Value::Bool(true));
            tweaks.insert(name.to_string(), value);
        }
    }
    tweaks
}

/// The room's name for a notification: `m.room.name`, else the canonical alias.
async fn room_name(state: &AppState, room_id: &str) -> MatrixResult<Option<String>> {
    for (event_type, key) in [("m.room.name", "name"), ("m.room.canonical_alias", "alias")] {
        let event = state.store.state_event(room_id, event_type, "").await?;
        let value = event.as_ref().and_then(|e| e["content"][key].as_str());
        if let Some(name) = value.filter(|n| !n.is_empty()) {
            return Ok(Some(name.to_string()));
        }
    }
    Ok(None)
}

/// The `/_matrix/push/v1/notify` body for `action`'s event to `pusher`; `None` when the
/// event is gone. With `data.format: "event_id_only"` only IDs, priority and counts go.
async fn notify_body(
    state: &AppState,
    pusher: &PusherRow,
    action: &PushActionRow,
) -> MatrixResult<Option<Value>> {
    let Some(event) = state.store.get_event(&action.event_id).await? else {
        return Ok(None);
    };
    let event = event.json;
    let tweaks = tweaks_of(&action.actions);
    let loud = event["type"] == "m.room.encrypted"
        || tweaks
            .get("highlight")
            .is_some_and(|h| h != &Value::Bool(false))
        || tweaks.contains_key("sound");
    let badge = state.store.badge_count(&pusher.user_id).await?;
    let mut notification = json!({
        "event_id": event["event_id"],
        "room_id": event["room_id"],
        "prio": if loud { "high" } else { "low" },
        "counts": {"unread": badge},
    });
    let mut device = device(pusher);
    if pusher.data["format"] != "event_id_only" {
        describe(state, &event, &pusher.user_id, &mut notification).await?;
        if !tweaks.is_empty() {
            device["tweaks"] = Value::Object(tweaks);
        }
    }
    notification["devices"] = json!([device]);
    Ok(Some(json!({ "notification": notification })))
}

/// The `devices` entry for `pusher`: its data without `url`, `pushkey_ts` in seconds (as
/// Synapse sends it).
fn device(pusher: &PusherRow) -> Value {
    let mut data = pusher.data.as_object().cloned().unwrap_or_default();
    data.remove("url");
    json!({
        "app_id": pusher.app_id,
        "pushkey": pusher.pushkey,
        "pushkey_ts": pusher.pushkey_ts / 1000,
        "data": data,
    })
}

/// A read receipt of `user_id`'s (in the background): send each of their `http` pushers
/// the new unread badge, `{"notification": {"counts": {"unread": n}, "devices": […]}}`,
/// when it differs from the last one sent. One attempt, failures only logged (Synapse's
/// badge updates).
pub fn receipt_sent(state: &AppState, user_id: &str) {
    let (state, user) = (state.clone(), user_id.to_string());
    tokio::spawn(async move {
        if let Err(e) = send_badges(&state, &user).await {
            tracing::warn!(user, error = %e.error, "badge update failed");
        }
    });
}

async fn send_badges(state: &AppState, user_id: &str) -> MatrixResult<()> {
    let mut pushers = state.store.pushers_of(user_id).await?;
    pushers.retain(|p| p.kind == "http");
    if pushers.is_empty() {
        return Ok(());
    }
    let badge = state.store.badge_count(user_id).await?;
    for pusher in &pushers {
        if !state.push_queue.badge_changed(pusher.id, badge) {
            continue;
        }
        let body = json!({"notification": {
            "counts": {"unread": badge},
            "devices": [device(pusher)],
        }});
        let url = pusher.data["url"].as_str().unwrap_or_default();
        if let Err(PostError::Refused(why) | PostError::Failed(why)) = post(state, url, &body).await
        {
            tracing::warn!(pusher = pusher.id, why, "badge update failed");
        }
    }
    Ok(())
}

/// The full format's extra fields: type, sender (and display name), room name, content,
/// and for membership events the membership and whether the user is its target.
async fn describe(
    state: &AppState,
    event: &Value,
    user_id: &str,
    notification: &mut Value,
) -> MatrixResult<()> {
    let room_id = event["room_id"].as_str().unwrap_or_default();
    let sender = event["sender"].as_str().unwrap_or_default();
    notification["type"] = event["type"].clone();
    notification["sender"] = json!(sender);
    let member = state
        .store
        .state_event(room_id, "m.room.member", sender)
        .await?;
    if let Some(member) = member {
        let name = member["content"]["displayname"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or(sender);
        notification["sender_display_name"] = json!(name);
    }
    if let Some(name) = room_name(state, room_id).await? {
        notification["room_name"] = json!(name);
    }
    if event["content"].as_object().is_some_and(|c| !c.is_empty()) {
        notification["content"] = event["content"].clone();
    }
    if event["type"] == "m.room.member" && event.get("state_key").is_some() {
        notification["membership"] = event["content"]["membership"].clone();
        notification["user_is_target"] = json!(event["state_key"] == user_id);
    }
    Ok(())
}
