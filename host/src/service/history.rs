//! History visibility: which past events a member may read, and finding them by time.

use crate::error::{MatrixError, MatrixResult};
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

    /// `GET /rooms/{roomId}/timestamp_to_event` (client-server spec v1.12 §"Timestamp to
    /// event"): the event of `room_id` closest to `ts` (ms since the epoch) in direction
    /// `forwards` that `user_id` may see, as `(event_id, origin_server_ts)`. 404 `M_NOT_FOUND`
    /// when there is none.
    pub async fn timestamp_to_event(
        &self,
        room_id: &str,
        user_id: &str,
        ts: i64,
        forwards: bool,
    ) -> MatrixResult<(String, i64)> {
        let visible_from = self.visible_from(room_id, user_id).await?;
        let found = self
            .store
            .event_near_ts(room_id, ts, forwards)
            .await?
            .filter(|e| e.stream_ordering >= visible_from);
        let dir = if forwards { "f" } else { "b" };
        let event = found.ok_or_else(|| {
            MatrixError::not_found(format!("Unable to find event from {ts} in direction {dir}"))
        })?;
        Ok((
            event.json["event_id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            event.json["origin_server_ts"].as_i64().unwrap_or_default(),
        ))
    }
}
