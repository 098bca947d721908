//! Profile changes: stored, then reported to every module's `on_profile_update`.

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
}
