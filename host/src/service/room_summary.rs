//! A joined room's `summary` in `/sync`: what clients need to name and size a room without
//! its whole member list.

use serde_json::{json, Value};

use crate::error::MatrixResult;
use crate::state::AppState;

/// Most heroes named in a room summary (the spec's "up to 5").
const MAX_HEROES: usize = 5;

/// A joined room's `summary` (client-server spec v1.12 §"Syncing", `RoomSummary`): member
/// counts, and `m.heroes` — up to five other joined or invited members, earliest first — when
/// the room has neither a name nor a canonical alias, so clients can name it (they need this
/// most when members are lazy-loaded).
pub async fn room_summary(state: &AppState, user_id: &str, room_id: &str) -> MatrixResult<Value> {
    let (members, named) = state.store.room_summary_parts(room_id).await?;
    let count = |m: &str| members.iter().filter(|(_, ms)| ms == m).count();
    let mut summary = json!({
        "m.joined_member_count": count("join"),
        "m.invited_member_count": count("invite"),
    });
    if !named {
        let heroes: Vec<&str> = members
            .iter()
            .map(|(u, _)| u.as_str())
            .filter(|u| *u != user_id)
            .take(MAX_HEROES)
            .collect();
        summary["m.heroes"] = json!(heroes);
    }
    Ok(summary)
}
