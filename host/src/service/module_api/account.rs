//! Account data (Synapse's `account_data_manager`) and presence.

use plugin_sdk::host_methods::{
    AccountDataArgs, AccountDataGetGlobal, AccountDataPutArgs, AccountDataPutGlobal, AsJson,
    HostError, SendLocalOnlinePresenceTo, SetPresenceArgs, SetPresenceForUsers, UserListArgs,
};
use serde_json::Value;

use super::{bad_value, internal, Handler};
use crate::state::AppState;

impl AppState {
    /// A registered local user, or the error Synapse's account data manager gives.
    async fn account_data_user(&self, user_id: &str, verb: &str) -> Result<(), HostError> {
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

    /// Take `user_id`'s pending presence push, if any (see `send_local_online_presence_to`).
    pub(crate) fn take_presence_push(&self, user_id: &str) -> bool {
        self.module_api
            .presence_pushes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(user_id)
    }
}

/// `account_data_get_global(user_id, type)` → the content of `user_id`'s global account data
/// of `type`, or null. `BadValue` for an invalid, remote or unregistered user.
impl Handler for AccountDataGetGlobal {
    async fn handle(
        state: &AppState,
        _module: &str,
        args: AccountDataArgs,
    ) -> Result<Option<AsJson<Value>>, HostError> {
        state.account_data_user(&args.user_id, "get").await?;
        let content = state
            .store
            .get_account_data(&args.user_id, None, &args.data_type)
            .await
            .map_err(internal)?;
        Ok(content.map(AsJson))
    }
}

/// `account_data_put_global(user_id, type, content)` → null. Clients see it in `/sync`;
/// `on_account_data_updated` fires as for a client's write. `BadValue` for content that is
/// not a JSON object, or a user as for `account_data_get_global`.
impl Handler for AccountDataPutGlobal {
    async fn handle(
        state: &AppState,
        _module: &str,
        args: AccountDataPutArgs,
    ) -> Result<(), HostError> {
        let AccountDataPutArgs {
            user_id,
            data_type,
            content,
        } = args;
        if !content.is_object() {
            return Err(bad_value("account data content must be a JSON object"));
        }
        state.account_data_user(&user_id, "put").await?;
        state
            .store
            .put_account_data(&user_id, None, &data_type, &content)
            .await
            .map_err(internal)?;
        state.wake_user(&user_id);
        state
            .modules
            .on_account_data_updated(&user_id, None, &data_type, &content)
            .await;
        Ok(())
    }
}

/// `set_presence_for_users({user_id: {"presence": …, "status_msg"?: …}})` → null. `BadValue`
/// (and nothing set) if a user is not local or a presence is not `online`, `offline` or
/// `unavailable`.
impl Handler for SetPresenceForUsers {
    async fn handle(
        state: &AppState,
        _module: &str,
        args: SetPresenceArgs,
    ) -> Result<(), HostError> {
        for (user_id, update) in &args.users {
            state.require_local(user_id, "user")?;
            if !["online", "offline", "unavailable"].contains(&update.presence.as_str()) {
                return Err(bad_value(format!(
                    "presence for {user_id} must be online, offline or unavailable"
                )));
            }
        }
        for (user_id, update) in &args.users {
            state
                .store
                .set_presence(user_id, &update.presence, update.status_msg.as_deref())
                .await
                .map_err(internal)?;
            crate::service::presence::changed(state, user_id);
        }
        Ok(())
    }
}

/// `send_local_online_presence_to([user_id])` → null: each listed user's next `/sync`
/// carries the presence of every local user who is online. `BadValue` unless every listed
/// user is registered, local and active.
impl Handler for SendLocalOnlinePresenceTo {
    async fn handle(state: &AppState, _module: &str, args: UserListArgs) -> Result<(), HostError> {
        for user in &args.users {
            state.acting_user(user, "user").await?;
        }
        state
            .module_api
            .presence_pushes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(args.users.iter().cloned());
        state.wake(crate::service::notifier::Wake::Users(args.users));
        Ok(())
    }
}
