//! Which presence updates a user sees (spec §"Presence"): its own, those of users it shares
//! a joined room with, and whatever presence-router modules add (`get_interested_users`,
//! `get_users_for_states`), plus the module API's `send_local_online_presence_to` pushes.

use plugin_sdk::InterestedUsers;
use serde_json::{json, Value};

use crate::error::MatrixResult;
use crate::state::AppState;

/// Presence events `user_id` should see among the updates with `since < stream_id <= now`
/// (nothing is read when `now` is not past `since`): its own, those of users it shares a
/// joined room with, and whatever presence-router modules add.
pub async fn visible_presence(
    state: &AppState,
    user_id: &str,
    since: i64,
    now: i64,
) -> MatrixResult<Vec<Value>> {
    let updates = if now > since {
        state.store.presence_since(since).await?
    } else {
        Vec::new()
    };
    // A module asked for this user to be sent every online local user's presence.
    let mut pushed: Vec<Value> = Vec::new();
    if state.take_presence_push(user_id) {
        for (sender, content) in state.store.online_presence().await? {
            if !updates.iter().any(|(u, _)| *u == sender) {
                pushed.push(json!({"type": "m.presence", "sender": sender, "content": content}));
            }
        }
    }
    if updates.is_empty() {
        return Ok(pushed);
    }
    let mut peers = state.store.users_sharing_room(user_id).await?;
    peers.push(user_id.to_string());
    let interested = state.modules.get_interested_users(user_id).await;
    let as_events: Vec<Value> = updates
        .iter()
        .map(|(u, c)| json!({"type": "m.presence", "sender": u, "content": c}))
        .collect();
    let routed = {
        let states: Vec<Value> = updates
            .iter()
            .map(|(u, c)| json!({"user_id": u, "content": c}))
            .collect();
        state
            .modules
            .get_users_for_states(&states)
            .await
            .remove(user_id)
            .unwrap_or_default()
    };
    Ok(updates
        .iter()
        .zip(as_events)
        .filter(|((sender, _), _)| {
            peers.contains(sender)
                || match &interested {
                    InterestedUsers::All => true,
                    InterestedUsers::Users(users) => users.contains(sender),
                }
                || routed
                    .iter()
                    .any(|r| r["user_id"].as_str() == Some(sender.as_str()))
        })
        .map(|(_, ev)| ev)
        .chain(pushed)
        .collect())
}

/// `user_id`'s presence changed: wake the `/sync`s that may show it — the user's and those
/// sharing a room with them, or every waiting sync when a presence-router module decides
/// who sees what.
pub fn changed(state: &AppState, user_id: &str) {
    use crate::service::notifier::Wake;
    use plugin_sdk::catalogue::Hook;
    let routed = !state.modules.chain(Hook::GetInterestedUsers).is_empty()
        || !state.modules.chain(Hook::GetUsersForStates).is_empty();
    state.wake(if routed {
        Wake::All
    } else {
        Wake::Peers(user_id.to_string())
    });
}
