//! What users see of their push actions (spec §"Receiving notifications"): the unread counts
//! of each joined room in `/sync`, and `GET /notifications`.

use serde_json::{json, Value};

use crate::error::{MatrixError, MatrixResult};
use crate::state::AppState;

/// Default page size of `GET /notifications`.
const DEFAULT_LIMIT: i64 = 50;
/// Largest page size of `GET /notifications` (Synapse's cap).
const MAX_LIMIT: i64 = 500;

/// A joined room's `unread_notifications` in `/sync`: `{notification_count,
/// highlight_count}` of `user_id`'s notifying events in `room_id` after their latest
/// `m.read` / `m.read.private` receipt (a thread's receipt covers only that thread), counting
/// events up to stream position `up_to` (the response's `next_batch`).
pub async fn unread_counts(
    state: &AppState,
    user_id: &str,
    room_id: &str,
    up_to: i64,
) -> MatrixResult<Value> {
    let counts = state.store.unread_counts(user_id, room_id, up_to).await?;
    Ok(unread_json(counts))
}

/// `unread_notifications` from `(notifications, highlights)`.
pub fn unread_json((notifications, highlights): (i64, i64)) -> Value {
    json!({
        "notification_count": notifications,
        "highlight_count": highlights,
    })
}

/// `GET /notifications`: `user_id`'s notifying events, newest first.
///
/// `from`: a `next_token` from an earlier page (events before it); `limit`: page size
/// (default 50, at most 500); `only`: `"highlight"` keeps highlights only. Returns
/// `{notifications: [{actions, event, profile_tag, read, room_id, ts}], next_token}` with
/// `ts` in ms and `next_token` `null` on an empty page. Errors: 400 `M_INVALID_PARAM` for a
/// `from` that is not one of ours.
pub async fn list(
    state: &AppState,
    user_id: &str,
    from: Option<&str>,
    limit: Option<u64>,
    only: Option<&str>,
) -> MatrixResult<Value> {
    let before = match from {
        Some(token) => Some(
            token
                .parse::<i64>()
                .map_err(|_| MatrixError::invalid_param("Invalid from token"))?,
        ),
        None => None,
    };
    let limit = limit.map_or(DEFAULT_LIMIT, |l| l.min(MAX_LIMIT as u64) as i64);
    let rows = state
        .store
        .notifications_of(user_id, before, limit, only == Some("highlight"))
        .await?;
    let mut notifications = Vec::new();
    let mut next_token = Value::Null;
    for row in rows {
        next_token = json!(row.stream_ordering.to_string());
        // Events a room purge took away are left out.
        let Some(event) = state.store.get_event(&row.event_id).await? else {
            continue;
        };
        notifications.push(json!({
            "actions": row.actions,
            "event": state.serialize_event(&event.json, user_id).await?,
            "profile_tag": Value::Null,
            "read": row.read,
            "room_id": row.room_id,
            "ts": row.ts,
        }));
    }
    Ok(json!({ "notifications": notifications, "next_token": next_token }))
}
