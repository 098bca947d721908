//! Account data (Synapse's `account_data_manager`) and presence.

use plugin_sdk::ffi::{FfiError, FfiValue};
use serde_json::Value;

use super::{bad_value, internal, json_value, Args};
use crate::state::AppState;

impl AppState {
    pub(super) async fn account_call(
        &self,
        _module: &str,
        method: &str,
        args: &Args,
    ) -> Option<Result<FfiValue, FfiError>> {
        Some(match method {
            "account_data_get_global" => self.account_data_get_global(args).await,
            "account_data_put_global" => self.account_data_put_global(args).await,
            "set_presence_for_users" => self.set_presence_for_users(args).await,
            "send_local_online_presence_to" => self.send_local_online_presence_to(args).await,
            _ => return None,
        })
    }

    /// A registered local user, or the error Synapse's account data manager gives.
    async fn account_data_user(&self, user_id: &str, verb: &str) -> Result<(), FfiError> {
        if ruma_common::UserId::parse(user_id).is_err() {
            return Err(bad_value(format!("{user_id:?} is not a valid user ID")));
        }
        if !self.is_local(user_id) {
            return Err(bad_value(format!(
                "Trying to {verb} account data for a non-local user {user_id}"
            )));
        }
        if self
            .store
            .get_user(user_id)
            .await
            .map_err(internal)?
            .is_none()
        {
            return Err(bad_value(format!(
                "Trying to {verb} account data for a user that does not exist: {user_id}"
            )));
        }
        Ok(())
    }

    /// `account_data_get_global(user_id, type)` → the content, or null.
    async fn account_data_get_global(&self, args: &Args) -> Result<FfiValue, FfiError> {
        let (user_id, data_type) = (args.str(0, "user_id")?, args.str(1, "type")?);
        self.account_data_user(&user_id, "get").await?;
        Ok(self
            .store
            .get_account_data(&user_id, None, &data_type)
            .await
            .map_err(internal)?
            .map_or(FfiValue::Null, |v| json_value(&v)))
    }

    /// `account_data_put_global(user_id, type, content)` → null. Clients see it in `/sync`;
    /// `on_account_data_updated` fires as for a client's write.
    async fn account_data_put_global(&self, args: &Args) -> Result<FfiValue, FfiError> {
        let (user_id, data_type) = (args.str(0, "user_id")?, args.str(1, "type")?);
        let content = args.json(2, "content")?;
        if !content.is_object() {
            return Err(bad_value("account data content must be a JSON object"));
        }
        self.account_data_user(&user_id, "put").await?;
        self.store
            .put_account_data(&user_id, None, &data_type, &content)
            .await
            .map_err(internal)?;
        self.notify_change();
        self.modules
            .on_account_data_updated(&user_id, None, &data_type, &content)
            .await;
        Ok(FfiValue::Null)
    }

    /// `set_presence_for_users({user_id: {"presence": …, "status_msg"?: …}})` → null; local
    /// users only.
    async fn set_presence_for_users(&self, args: &Args) -> Result<FfiValue, FfiError> {
        let Value::Object(users) = args.json(0, "users")? else {
            return Err(bad_value("argument 0 (users) must be a JSON object"));
        };
        let mut updates = Vec::new();
        for (user_id, state) in &users {
            self.require_local(user_id, "user")?;
            let presence = state["presence"].as_str().unwrap_or_default();
            if !["online", "offline", "unavailable"].contains(&presence) {
                return Err(bad_value(format!(
                    "presence for {user_id} must be online, offline or unavailable"
                )));
            }
            updates.push((user_id, presence, state["status_msg"].as_str()));
        }
        for (user_id, presence, status_msg) in updates {
            self.store
                .set_presence(user_id, presence, status_msg)
                .await
                .map_err(internal)?;
        }
        self.notify_change();
        Ok(FfiValue::Null)
    }

    /// `send_local_online_presence_to([user_id])` → null: each listed local user's next
    /// `/sync` carries the presence of every local user who is online.
    async fn send_local_online_presence_to(&self, args: &Args) -> Result<FfiValue, FfiError> {
        let users: Vec<String> = serde_json::from_value(args.json(0, "users")?)
            .map_err(|_| bad_value("argument 0 (users) must be a list of user IDs"))?;
        for user in &users {
            self.acting_user(user, "user").await?;
        }
        self.module_api
            .presence_pushes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(users);
        self.notify_change();
        Ok(FfiValue::Null)
    }

    /// Take `user_id`'s pending presence push, if any (see `send_local_online_presence_to`).
    pub(crate) fn take_presence_push(&self, user_id: &str) -> bool {
        self.module_api
            .presence_pushes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(user_id)
    }
}
