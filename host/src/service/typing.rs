//! Typing notifications (spec §"Typing Notifications"): held in memory (they last seconds),
//! each change numbered so `/sync` sends a room's `m.typing` only when it changed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest typing timeout honoured, in ms (a client may ask for more; Synapse caps too).
const MAX_TIMEOUT_MS: u64 = 120_000;

#[derive(Default)]
struct Rooms {
    /// The last change number.
    serial: i64,
    /// Per room: who types until when, and the number of the room's last change.
    rooms: HashMap<String, (HashMap<String, Instant>, i64)>,
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
        all.serial += 1;
        let serial = all.serial;
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
        all.serial += 1;
        let serial = all.serial;
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
    let (_, until) = state.typing.set(room_id, user_id, timeout_ms);
    state.wake_room(room_id);
    if let Some(until) = until {
        let (state, room_id, user_id) = (state.clone(), room_id.to_string(), user_id.to_string());
        tokio::spawn(async move {
            tokio::time::sleep_until(until.into()).await;
            if state.typing.expire(&room_id, &user_id, until).is_some() {
                state.wake_room(&room_id);
            }
        });
    }
}
