//! Whose device lists changed for a user between two sync tokens (spec §"Tracking the device
//! list for a user"): `/sync` `device_lists` and `GET /keys/changes`. Also what removing a
//! device does to its encryption state.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::error::{MatrixError, MatrixResult};
use crate::service::auth::Requester;
use crate::service::sync::{parse_since, Since};
use crate::state::AppState;

/// `(changed, left)` for `user_id` between the positions `from` and `to`: users sharing a
/// room whose devices or cross-signing keys changed, or who newly share a room with them
/// (`changed`); users who no longer share any room (`left`). Signature changes meant only
/// for `user_id` count too.
pub async fn changes(
    state: &AppState,
    user_id: &str,
    from: &Since,
    to: &Since,
) -> MatrixResult<(Vec<String>, Vec<String>)> {
    let listed = state
        .store
        .device_list_changes(user_id, from.device_lists, to.device_lists)
        .await?;
    let memberships = state
        .store
        .membership_changes(user_id, from.events, to.events)
        .await?;
    if listed.is_empty() && memberships.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let sharing: BTreeSet<String> = state
        .store
        .users_sharing_room(user_id)
        .await?
        .into_iter()
        .collect();
    let mut changed = BTreeSet::new();
    for (user, private) in listed {
        if private || user == user_id || sharing.contains(&user) {
            changed.insert(user);
        }
    }
    let mut maybe_left = BTreeSet::new();
    for (room_id, member, membership) in memberships {
        let joined = membership == "join";
        let gone = membership == "leave" || membership == "ban";
        if member == user_id && joined {
            changed.extend(state.store.joined_members(&room_id).await?);
        } else if member == user_id && gone {
            maybe_left.extend(state.store.joined_members(&room_id).await?);
        } else if joined && sharing.contains(&member) {
            changed.insert(member);
        } else if gone {
            maybe_left.insert(member);
        }
    }
    let left: BTreeSet<String> = maybe_left
        .into_iter()
        .filter(|u| u != user_id && !sharing.contains(u))
        .collect();
    changed.retain(|u| !left.contains(u));
    Ok((changed.into_iter().collect(), left.into_iter().collect()))
}

/// `GET /keys/changes?from=&to=` (spec §"GET /_matrix/client/v3/keys/changes"): `{"changed":
/// [...], "left": [...]}` between two sync tokens (`to` defaults to now). Errors: 400
/// `M_MISSING_PARAM` without `from`, 400 `M_INVALID_PARAM` for a token that is not ours.
pub async fn keys_changes(
    state: &AppState,
    who: &Requester,
    from: Option<&str>,
    to: Option<&str>,
) -> MatrixResult<Value> {
    let Some(from) = from else {
        return Err(MatrixError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "M_MISSING_PARAM",
            "Missing string query parameter 'from'",
        ));
    };
    let parse =
        |t: &str| parse_since(t).ok_or_else(|| MatrixError::invalid_param("Invalid stream token"));
    let from = parse(from)?;
    let to = match to {
        Some(t) => parse(t)?,
        None => Since {
            events: state.store.max_stream_ordering().await?,
            device_lists: state.store.max_device_list_stream().await?,
            ..Since::default()
        },
    };
    let (changed, left) = changes(state, &who.user_id, &from, &to).await?;
    Ok(json!({"changed": changed, "left": left}))
}

/// A device was deleted or logged out: forget its keys and waiting messages, tell the users
/// sharing a room (their next `/sync` lists the user in `device_lists.changed`).
pub async fn device_removed(state: &AppState, user_id: &str, device_id: &str) -> MatrixResult<()> {
    state.store.delete_device_e2e(user_id, device_id).await?;
    state.wake(crate::service::notifier::Wake::Peers(user_id.to_string()));
    Ok(())
}
