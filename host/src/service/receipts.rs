//! Read receipts and read markers (spec §"Receipts", §"Fully read markers"): public
//! (`m.read`) and private (`m.read.private`) receipts, threaded or not, and `m.fully_read`
//! kept as room account data. `/sync` delivers them as `m.receipt` ephemeral events.

use serde_json::{json, Map, Value};

use crate::error::{MatrixError, MatrixResult};
use crate::state::AppState;

/// The receipt types a client may send.
const RECEIPT_TYPES: &[&str] = &["m.read", "m.read.private", "m.fully_read"];

/// 403 unless `user_id` is joined to `room_id`; 404 unless `event_id` is one of its events.
async fn check_target(
    state: &AppState,
    user_id: &str,
    room_id: &str,
    event_id: &str,
) -> MatrixResult<()> {
    super::rooms::require_joined(state, room_id, user_id).await?;
    match state.store.get_event(event_id).await? {
        Some(e) if e.json["room_id"] == room_id => Ok(()),
        _ => Err(MatrixError::not_found("Unknown event")),
    }
}

/// `POST /rooms/{roomId}/receipt/{receiptType}/{eventId}`: store the receipt (or, for
/// `m.fully_read`, the read marker). `thread_id` is `main`, a thread root, or `None`.
/// Errors: 400 `M_INVALID_PARAM` for another type, 403 when not joined, 404 for an event
/// not in the room.
pub async fn send_receipt(
    state: &AppState,
    user_id: &str,
    room_id: &str,
    receipt_type: &str,
    event_id: &str,
    thread_id: Option<&str>,
) -> MatrixResult<()> {
    if !RECEIPT_TYPES.contains(&receipt_type) {
        return Err(MatrixError::invalid_param(format!(
            "Receipt type must be one of {RECEIPT_TYPES:?}"
        )));
    }
    if receipt_type == "m.fully_read" && thread_id.is_some() {
        return Err(MatrixError::invalid_param(
            "m.fully_read markers cannot be threaded",
        ));
    }
    check_target(state, user_id, room_id, event_id).await?;
    if receipt_type == "m.fully_read" {
        let content = json!({ "event_id": event_id });
        return super::account_data::put(state, user_id, Some(room_id), "m.fully_read", &content)
            .await;
    }
    let thread = thread_id.unwrap_or_default();
    // Receipts only move forward, as in Synapse: one for an older event is ignored.
    let earlier = state
        .store
        .receipt_of(room_id, receipt_type, user_id, thread)
        .await?;
    if let Some(earlier) = earlier {
        let position = |id: String| async move {
            let event = state.store.get_event(&id).await?;
            MatrixResult::Ok(event.map_or(0, |e| e.stream_ordering))
        };
        if position(earlier).await? > position(event_id.to_string()).await? {
            return Ok(());
        }
    }
    state
        .store
        .put_receipt(room_id, receipt_type, user_id, thread, event_id)
        .await?;
    state.wake_room(room_id);
    super::push_gateway::receipt_sent(state, user_id);
    Ok(())
}

/// `POST /rooms/{roomId}/read_markers`: `m.fully_read`, `m.read` and `m.read.private`,
/// each optional, each as its own receipt.
pub async fn set_read_markers(
    state: &AppState,
    user_id: &str,
    room_id: &str,
    body: &Map<String, Value>,
) -> MatrixResult<()> {
    for receipt_type in ["m.fully_read", "m.read", "m.read.private"] {
        if let Some(event_id) = body.get(receipt_type) {
            let event_id = event_id.as_str().ok_or_else(|| {
                MatrixError::bad_json(format!("{receipt_type} must be an event ID"))
            })?;
            send_receipt(state, user_id, room_id, receipt_type, event_id, None).await?;
        }
    }
    Ok(())
}

/// The `m.receipt` event for `room_id` with receipts after position `since` that `user_id`
/// may see (private receipts only their own); `None` when there are none.
pub async fn receipt_event(
    state: &AppState,
    user_id: &str,
    room_id: &str,
    since: i64,
) -> MatrixResult<Option<Value>> {
    let rows = state.store.receipts_since(room_id, since).await?;
    Ok(receipt_event_from(user_id, rows))
}

/// The `m.receipt` event made of `rows` (one room's receipts) as `user_id` may see them.
pub fn receipt_event_from(user_id: &str, rows: Vec<crate::storage::Receipt>) -> Option<Value> {
    let mut content = Map::new();
    for r in rows {
        if r.receipt_type == "m.read.private" && r.user_id != user_id {
            continue;
        }
        let mut receipt = json!({ "ts": r.ts });
        if !r.thread_id.is_empty() {
            receipt["thread_id"] = json!(r.thread_id);
        }
        let by_type = content.entry(r.event_id).or_insert_with(|| json!({}));
        by_type[&r.receipt_type][&r.user_id] = receipt;
    }
    (!content.is_empty()).then(|| json!({"type": "m.receipt", "content": content}))
}
