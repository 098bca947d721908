//! Profile changes: stored, sent into every joined room as a new membership event (what
//! clients show names from), then reported to every module's `on_profile_update`.

use plugin_sdk::ProfileInfo;

use crate::error::MatrixResult;
use crate::state::AppState;
use crate::storage::ProfileField;

impl AppState {
    /// Set one profile field of `user_id` (`None` clears it) and tell the modules, with
    /// `by_admin` as given (a server admin's or a module's change is `true`). Errors: 400
    /// `M_UNKNOWN` for a display name over 256 characters or an avatar URL over 1,000.
    pub async fn update_profile_field(
        &self,
        user_id: &str,
        field: ProfileField,
        value: Option<&str>,
        by_admin: bool,
    ) -> MatrixResult<()> {
        // Synapse's limits (characters), so a profile always fits in a membership event.
        let (max, what) = match field {
            ProfileField::Displayname => (256, "Displayname"),
            ProfileField::AvatarUrl => (1000, "Avatar URL"),
        };
        if value.is_some_and(|v| v.chars().count() > max) {
            return Err(crate::error::MatrixError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "M_UNKNOWN",
                format!("{what} is too long (max {max})"),
            ));
        }
        self.store.set_profile_field(user_id, field, value).await?;
        let (display_name, avatar_url) = self.store.get_profile(user_id).await?;
        self.update_room_memberships(user_id, display_name.as_deref(), avatar_url.as_deref())
            .await;
        self.modules
            .on_profile_update(
                user_id,
                &ProfileInfo {
                    display_name,
                    avatar_url,
                },
                by_admin,
                false,
            )
            .await;
        Ok(())
    }

    /// Send `user_id`'s new profile into each room they are joined to, as Synapse does: a
    /// copy of their membership event with `displayname` and `avatar_url` replaced. A room
    /// that refuses (a module, a server notice room) keeps the old one; that is logged.
    async fn update_room_memberships(
        &self,
        user_id: &str,
        display_name: Option<&str>,
        avatar_url: Option<&str>,
    ) {
        let rooms = match self.store.rooms_of(user_id).await {
            Ok(rooms) => rooms,
            Err(e) => return tracing::warn!(user_id, error = %e, "profile not sent to rooms"),
        };
        for (room_id, _) in rooms.iter().filter(|(_, m)| m == "join") {
            let current = self
                .store
                .state_event(room_id, "m.room.member", user_id)
                .await;
            let Ok(Some(current)) = current else { continue };
            let mut content = current["content"].clone();
            let Some(fields) = content.as_object_mut() else {
                continue;
            };
            for (key, value) in [("displayname", display_name), ("avatar_url", avatar_url)] {
                match value {
                    Some(v) => fields.insert(key.into(), v.into()),
                    None => fields.remove(key),
                };
            }
            if content == current["content"] {
                continue;
            }
            let new = crate::service::events::NewEvent {
                room_id,
                sender: user_id,
                event_type: "m.room.member",
                state_key: Some(user_id),
                content,
                txn: None,
            };
            // The user's own join, re-sent: membership rules were met when they joined.
            let opts = crate::service::events::SendOptions {
                skip_auth: true,
                ..Default::default()
            };
            if let Err(e) = self.send_event(new, opts).await {
                tracing::warn!(user_id, room_id, error = ?e, "profile change not sent to a room");
            }
        }
    }
}
