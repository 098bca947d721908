//! Typing notifications (spec §"Typing Notifications"): held in memory (they last seconds),
//! each change numbered so `/sync` sends a room's `m.typing` only when it changed.
//!
//! Change numbers are wall-clock milliseconds (or one more than the last, if larger), not a
//! per-process counter: with several instances behind a load balancer a client's sync token
//! comes from any of them, and each instance applies the others' typing changes (signalled
//! through the database) with a number above every token handed out before.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest typing timeout honoured, in ms (a client may ask for more; Synapse caps too).
const MAX_TIMEOUT_MS: u64 = 120_000;

#[derive(Default)]
struct Rooms {
    /// The last change number (see the module documentation).
    serial: i64,
    /// Per room: who types until when, and the number of the room's last change.
    rooms: HashMap<String, (HashMap<String, Instant>, i64)>,
}

impl Rooms {
    /// Number a new change: now in ms since the Unix epoch, or one past the last change.
    fn next_serial(&mut self) -> i64 {
        self.serial = (self.serial + 1).max(crate::storage::now_ms());
        self.serial
    }
}

/// Who is typing where.
#[derive(Default)]
pub struct Typing(Mutex<Rooms>);

impl Typing {
    /// `user_id` starts typing in `room_id` for `timeout_ms` (capped at 120 s), or stops;
    /// returns the change number and, when typing, the instant it runs out (see
    /// [`Typing::expire`]).
    pub fn set(&self, room_id: &str, user_id: &str, typing: Option<u64>) -> (i64, Option<Instant>) {
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let serial = all.next_serial();
        let (users, changed) = all.rooms.entry(room_id.to_string()).or_default();
        let until = typing.map(|ms| Instant::now() + Duration::from_millis(ms.min(MAX_TIMEOUT_MS)));
        match until {
            Some(until) => {
                users.insert(user_id.to_string(), until);
            }
            None => {
                users.remove(user_id);
            }
        }
        *changed = serial;
        (serial, until)
    }

    /// The latest change number (the typing position of a sync token).
    pub fn position(&self) -> i64 {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).serial
    }

    /// Drop `user_id`'s typing in `room_id` if it is still the one that ran `until` (a later
    /// notification replaced it otherwise); returns the change number when it did.
    pub fn expire(&self, room_id: &str, user_id: &str, until: Instant) -> Option<i64> {
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let serial = all.next_serial();
        let (users, changed) = all.rooms.get_mut(room_id)?;
        if users.get(user_id) != Some(&until) {
            return None;
        }
        users.remove(user_id);
        *changed = serial;
        Some(serial)
    }

    /// The rooms whose typing changed after change number `since`.
    pub fn rooms_changed_since(&self, since: i64) -> Vec<String> {
        let all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        all.rooms
            .iter()
            .filter(|(_, (_, changed))| *changed > since)
            .map(|(room, _)| room.clone())
            .collect()
    }

    /// Who types in `room_id` now, if the room changed after position `since` (`None`:
    /// nothing to send).
    pub fn changed_since(&self, room_id: &str, since: i64) -> Option<Vec<String>> {
        let all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let (users, changed) = all.rooms.get(room_id)?;
        if *changed <= since {
            return None;
        }
        let now = Instant::now();
        let mut typing: Vec<String> = users
            .iter()
            .filter(|(_, until)| **until > now)
            .map(|(user, _)| user.clone())
            .collect();
        typing.sort();
        Some(typing)
    }
}

/// Set `user_id`'s typing in `room_id` (`timeout_ms`, or `None` to stop) and wake `/sync`;
/// when it runs out unreplaced, members' long-polls are woken again with the user gone, as
/// Synapse's typing stream does.
pub fn set_typing(
    state: &crate::state::AppState,
    room_id: &str,
    user_id: &str,
    timeout_ms: Option<u64>,
) {
    apply_typing(state, room_id, user_id, timeout_ms);
    let signal = super::instances::Signal::Typing {
        room_id: room_id.to_string(),
        user_id: user_id.to_string(),
        timeout_ms,
    };
    state.signals.publish(state, signal);
}

/// [`set_typing`] on this instance only (what another instance's typing signal does here).
pub fn apply_typing(
    state: &crate::state::AppState,
    room_id: &str,
    user_id: &str,
    timeout_ms: Option<u64>,
) {
    let (_, until) = state.typing.set(room_id, user_id, timeout_ms);
    wake_here(state, room_id);
    if let Some(until) = until {
        let (state, room_id, user_id) = (state.clone(), room_id.to_string(), user_id.to_string());
        tokio::spawn(async move {
            tokio::time::sleep_until(until.into()).await;
            if state.typing.expire(&room_id, &user_id, until).is_some() {
                wake_here(&state, &room_id);
            }
        });
    }
}

/// Wake this instance's long-polls in `room_id` (each instance runs its own typing timers,
/// so a typing change is not signalled twice).
fn wake_here(state: &crate::state::AppState, room_id: &str) {
    let wake = super::notifier::Wake::Room(room_id.to_string());
    state.notifier.wake(&state.store, wake);
}
