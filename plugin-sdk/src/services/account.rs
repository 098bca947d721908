//! Account data and presence.

use serde_json::{json, Map, Value};

use crate::codec::Encode;
use crate::{ModuleApi, ModuleError};

impl ModuleApi {
    /// A local user's global account data of `data_type` (e.g. `m.direct`), if set. Remote or
    /// unknown users are errors.
    pub async fn account_data_get_global(
        &self,
        user_id: &str,
        data_type: &str,
    ) -> Result<Option<Map<String, Value>>, ModuleError> {
        let v: Value = self
            .call_host(
                "account_data_get_global",
                vec![user_id.encode(), data_type.encode()],
            )
            .await?;
        Ok(match v {
            Value::Object(m) => Some(m),
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
        self.call_host(
            "account_data_put_global",
            vec![
                user_id.encode(),
                data_type.encode(),
                Value::Object(content).encode(),
            ],
        )
        .await
    }

    /// Set local users' presence: `(user_id, presence, status_msg)` with presence `online`,
    /// `unavailable` or `offline`.
    pub async fn set_presence_for_users(
        &self,
        users: &[(&str, &str, Option<&str>)],
    ) -> Result<(), ModuleError> {
        let mut map = Map::new();
        for (user, presence, status) in users {
            map.insert(
                user.to_string(),
                json!({"presence": presence, "status_msg": status}),
            );
        }
        self.call_host("set_presence_for_users", vec![Value::Object(map).encode()])
            .await
    }

    /// Send the presence of every online local user to each listed local user in their next
    /// `/sync` (Synapse's `send_local_online_presence_to`).
    pub async fn send_local_online_presence_to(&self, users: &[&str]) -> Result<(), ModuleError> {
        self.call_host("send_local_online_presence_to", vec![json!(users).encode()])
            .await
    }
}
