//! Account data and presence.

use serde_json::{Map, Value};

use crate::host_methods::{
    AccountDataArgs, AccountDataGetGlobal, AccountDataPutArgs, AccountDataPutGlobal,
    PresenceUpdate, SendLocalOnlinePresenceTo, SetPresenceArgs, SetPresenceForUsers, UserListArgs,
};
use crate::{ModuleApi, ModuleError};

impl ModuleApi {
    /// A local user's global account data of `data_type` (e.g. `m.direct`), if set. Remote or
    /// unknown users are errors.
    pub async fn account_data_get_global(
        &self,
        user_id: &str,
        data_type: &str,
    ) -> Result<Option<Map<String, Value>>, ModuleError> {
        let content = self
            .call_method::<AccountDataGetGlobal>(AccountDataArgs {
                user_id: user_id.into(),
                data_type: data_type.into(),
            })
            .await?;
        Ok(match content {
            Some(crate::host_methods::AsJson(Value::Object(m))) => Some(m),
            _ => None,
        })
    }

    /// Set a local user's global account data; clients see it in `/sync`, and
    /// `on_account_data_updated` fires as for a client's write.
    ///
    /// ```no_run
    /// # async fn f(api: plugin_sdk::ModuleApi) -> Result<(), plugin_sdk::ModuleError> {
    /// let me = "@alice:example.org";
    /// let mut direct = api.account_data_get_global(me, "m.direct").await?.unwrap_or_default();
    /// direct.insert("@bob:example.org".into(), serde_json::json!(["!dm:example.org"]));
    /// api.account_data_put_global(me, "m.direct", direct).await?;
    /// # Ok(()) }
    /// ```
    pub async fn account_data_put_global(
        &self,
        user_id: &str,
        data_type: &str,
        content: Map<String, Value>,
    ) -> Result<(), ModuleError> {
        self.call_method::<AccountDataPutGlobal>(AccountDataPutArgs {
            user_id: user_id.into(),
            data_type: data_type.into(),
            content: Value::Object(content),
        })
        .await
    }

    /// Set local users' presence: `(user_id, presence, status_msg)` with presence `online`,
    /// `unavailable` or `offline`.
    pub async fn set_presence_for_users(
        &self,
        users: &[(&str, &str, Option<&str>)],
    ) -> Result<(), ModuleError> {
        let users = users
            .iter()
            .map(|(user, presence, status)| {
                let update = PresenceUpdate {
                    presence: presence.to_string(),
                    status_msg: status.map(String::from),
                };
                (user.to_string(), update)
            })
            .collect();
        self.call_method::<SetPresenceForUsers>(SetPresenceArgs { users })
            .await
    }

    /// Send the presence of every online local user to each listed local user in their next
    /// `/sync` (Synapse's `send_local_online_presence_to`).
    pub async fn send_local_online_presence_to(&self, users: &[&str]) -> Result<(), ModuleError> {
        let users = users.iter().map(|u| u.to_string()).collect();
        self.call_method::<SendLocalOnlinePresenceTo>(UserListArgs { users })
            .await
    }
}
