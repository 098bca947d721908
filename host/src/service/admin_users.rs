//! The admin API's view of one user (`GET /_synapse/admin/v2/users/{userId}`, also the
//! answer of its `PUT`), shaped as Synapse's `AdminHandler.get_user`.

use serde_json::{json, Value};

use crate::error::MatrixResult;
use crate::state::AppState;

impl AppState {
    /// `user_id` as the admin API shows it, or `None` for an unknown user:
    /// `{name, admin, deactivated, shadow_banned, locked, is_guest, user_type, displayname,
    /// avatar_url, threepids: [{medium, address, validated_at, added_at}], external_ids}`
    /// (times in ms since the epoch). modhost has no guests, locking, user types or external
    /// IDs, so those are always `false`, `null` and `[]`.
    pub async fn admin_user_view(&self, user_id: &str) -> MatrixResult<Option<Value>> {
        let Some(user) = self.store.get_user(user_id).await? else {
            return Ok(None);
        };
        let (displayname, avatar_url) = self.store.get_profile(user_id).await?;
        let threepids = self.threepids_of(user_id).await?;
        Ok(Some(json!({
            "name": user_id,
            "admin": user.is_admin,
            "deactivated": user.deactivated,
            "shadow_banned": user.shadow_banned,
            "locked": false,
            "is_guest": false,
            "user_type": null,
            "displayname": displayname,
            "avatar_url": avatar_url,
            "threepids": threepids,
            "external_ids": [],
        })))
    }
}
