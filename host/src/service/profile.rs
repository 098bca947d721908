//! Profile changes: stored, then reported to every module's `on_profile_update`.

use plugin_sdk::ProfileInfo;

use crate::error::MatrixResult;
use crate::state::AppState;
use crate::storage::ProfileField;

impl AppState {
    /// Set one profile field of `user_id` (`None` clears it) and tell the modules, with
    /// `by_admin` as given (a server admin's or a module's change is `true`).
    pub async fn update_profile_field(
        &self,
        user_id: &str,
        field: ProfileField,
        value: Option<&str>,
        by_admin: bool,
    ) -> MatrixResult<()> {
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
