//! Account deactivation and room shutdown (the admin API's and the module API's), with the
//! third-party rules checks and notifications Synapse runs around them
//! (`check_can_deactivate_user`, `on_user_deactivation_status_changed`,
//! `check_can_shutdown_room`).

use plugin_sdk::ProfileInfo;

use crate::error::{MatrixError, MatrixResult};
use crate::service::auth::Requester;
use crate::service::membership::Change;
use crate::state::AppState;
use crate::storage::ProfileField;

impl AppState {
    /// Deactivate `user_id` (`by_admin`: the admin API asked): ask modules, unbind third-party
    /// identifiers, leave every room, drop tokens and key backups, then notify modules. With
    /// `erase` (the request's `erase: true`) the profile is cleared too and
    /// `on_profile_update(…, deactivation = true)` fires — only then, as in Synapse's
    /// `DeactivateAccountHandler`. 403 when a module refuses.
    pub async fn deactivate(&self, user_id: &str, by_admin: bool, erase: bool) -> MatrixResult<()> {
        if !self
            .modules
            .check_can_deactivate_user(user_id, by_admin)
            .await
        {
            return Err(MatrixError::forbidden(
                "Deactivation of this user is forbidden",
            ));
        }
        // Synapse unbinds third-party identifiers first, each reported to modules.
        self.remove_all_threepids(user_id).await?;
        // Leave rooms while the user can still act.
        let actor = self.acting_as(user_id);
        for (room_id, membership) in self.store.rooms_of(user_id).await? {
            if membership == "join" || membership == "invite" {
                self.change_membership(&actor, &room_id, user_id, Change::Leave, None)
                    .await?;
            }
        }
        // Every session ends: modules hear about each device, as on logout.
        for device in self.store.delete_all_tokens(user_id).await? {
            self.modules.on_logged_out(user_id, Some(&device), "").await;
        }
        self.store.deactivate_user(user_id).await?;
        crate::service::room_keys::forget_user(self, user_id).await?;
        if erase {
            self.erase_profile(user_id, by_admin).await?;
        }
        self.modules
            .on_user_deactivation_status_changed(user_id, true, by_admin)
            .await;
        Ok(())
    }

    /// Clear a deactivated user's profile (display name `""`, no avatar) and tell modules
    /// (`deactivation = true`).
    async fn erase_profile(&self, user_id: &str, by_admin: bool) -> MatrixResult<()> {
        self.store
            .set_profile_field(user_id, ProfileField::Displayname, Some(""))
            .await?;
        self.store
            .set_profile_field(user_id, ProfileField::AvatarUrl, None)
            .await?;
        let cleared = ProfileInfo {
            display_name: Some(String::new()),
            avatar_url: None,
        };
        self.modules
            .on_profile_update(user_id, &cleared, by_admin, true)
            .await;
        Ok(())
    }

    /// 403 `M_FORBIDDEN` "You are not a server admin" unless `who` is one.
    pub fn require_admin(who: &Requester) -> MatrixResult<()> {
        if who.is_admin {
            Ok(())
        } else {
            Err(MatrixError::forbidden("You are not a server admin"))
        }
    }
}

impl AppState {
    /// Shut a room down (admin API and the module API's `delete_room`, where `requester` is
    /// `None`): `check_can_shutdown_room` first, then every member leaves, the room is
    /// blocked and its aliases deleted. Returns the users removed.
    pub async fn shutdown_room(
        &self,
        requester: Option<&str>,
        room_id: &str,
    ) -> MatrixResult<Vec<String>> {
        if !self.store.room_exists(room_id).await? {
            return Err(MatrixError::not_found("Unknown room"));
        }
        if !self
            .modules
            .check_can_shutdown_room(requester, room_id)
            .await
        {
            return Err(MatrixError::forbidden("Shutdown of this room is forbidden"));
        }
        let members: Vec<String> = self
            .store
            .current_state(room_id)
            .await?
            .into_iter()
            .filter(|e| {
                e["type"] == "m.room.member"
                    && matches!(
                        e["content"]["membership"].as_str(),
                        Some("join") | Some("invite")
                    )
            })
            .filter_map(|e| e["state_key"].as_str().map(String::from))
            .collect();
        for member in &members {
            let mut actor = self.acting_as(member);
            actor.is_admin = true;
            self.change_membership(&actor, room_id, member, Change::Leave, None)
                .await?;
        }
        self.store.block_room(room_id).await?;
        self.store.delete_room_aliases(room_id).await?;
        Ok(members)
    }
}
