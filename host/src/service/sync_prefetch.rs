//! What an initial (or `full_state`) `/sync` needs of every joined room — its current state,
//! receipts and unread counts — read in a few queries for all the rooms together instead of
//! three per room.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use crate::error::MatrixResult;
use crate::state::AppState;
use crate::storage::Receipt;

/// Per joined room, what was read ahead; each room takes its own entries once.
#[derive(Default)]
pub(super) struct Prefetched {
    state: Mutex<HashMap<String, Vec<Value>>>,
    receipts: Mutex<HashMap<String, Vec<Receipt>>>,
    unread: HashMap<String, (i64, i64)>,
}

impl Prefetched {
    /// Read ahead for `rooms` (joined rooms of `user_id`): current state, receipts after
    /// `receipts_since`, unread counts up to event position `up_to`.
    pub(super) async fn read(
        state: &AppState,
        user_id: &str,
        rooms: &[&str],
        receipts_since: i64,
        up_to: i64,
    ) -> MatrixResult<Prefetched> {
        Ok(Prefetched {
            state: Mutex::new(state.store.current_state_in(rooms).await?),
            receipts: Mutex::new(state.store.receipts_since_in(rooms, receipts_since).await?),
            unread: state.store.unread_counts_in(user_id, rooms, up_to).await?,
        })
    }

    /// `room_id`'s current state (every room has at least its create event).
    pub(super) fn take_state(&self, room_id: &str) -> Option<Vec<Value>> {
        lock(&self.state).remove(room_id)
    }

    /// `room_id`'s receipts (none is an empty list: they were read for every room).
    pub(super) fn take_receipts(&self, room_id: &str) -> Vec<Receipt> {
        lock(&self.receipts).remove(room_id).unwrap_or_default()
    }

    /// `room_id`'s `(notifications, highlights)`.
    pub(super) fn unread(&self, room_id: &str) -> (i64, i64) {
        self.unread.get(room_id).copied().unwrap_or((0, 0))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
