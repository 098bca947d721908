//! History visibility: which past events a member may read.

use crate::error::MatrixResult;
use crate::state::AppState;

impl AppState {
    /// The first stream position `user_id` may read in `room_id`, by the room's
    /// `m.room.history_visibility`: everything for `shared`/`world_readable` (the default),
    /// from their first invite for `invited`, from their first join for `joined`.
    pub async fn visible_from(&self, room_id: &str, user_id: &str) -> MatrixResult<i64> {
        let setting = self
            .store
            .state_event(room_id, "m.room.history_visibility", "")
            .await?;
        let visibility = setting
            .as_ref()
            .and_then(|e| e["content"]["history_visibility"].as_str())
            .unwrap_or("shared");
        let from = match visibility {
            "invited" => {
                self.store
                    .first_membership_position(room_id, user_id, &["invite", "join"])
                    .await?
            }
            "joined" => {
                self.store
                    .first_membership_position(room_id, user_id, &["join"])
                    .await?
            }
            _ => return Ok(0),
        };
        Ok(from.unwrap_or(i64::MAX))
    }
}
