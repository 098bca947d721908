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
    /// returns the change number.
    pub fn set(&self, room_id: &str, user_id: &str, typing: Option<u64>) -> i64 {
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        all.serial += 1;
        let serial = all.serial;
        let (users, changed) = all.rooms.entry(room_id.to_string()).or_default();
        match typing {
            Some(ms) => {
                let until = Instant::now() + Duration::from_millis(ms.min(MAX_TIMEOUT_MS));
                users.insert(user_id.to_string(), until);
            }
            None => {
                users.remove(user_id);
            }
        }
        *changed = serial;
        serial
    }

    /// The latest change number (the typing position of a sync token).
    pub fn position(&self) -> i64 {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).serial
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
