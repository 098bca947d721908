//! Identity and sessions.

use serde::{Deserialize, Serialize};

use crate::host_methods::{
    CheckUserExists, CreateLoginToken, CreateLoginTokenArgs, GetHostConfig, GetProfileForUser,
    GetThreepidsForUser, GetUserByReq, GetUserByReqArgs, GetUserinfoById, InvalidateAccessToken,
    IsUserAdmin, RegisterDevice, RegisterDeviceArgs, RegisterUser, RegisterUserArgs,
    SetDisplayname, SetDisplaynameArgs, SetUserAdmin, SetUserAdminArgs, Threepid, TokenArgs,
    UserArgs,
};
use crate::web::Request;
use crate::{ModuleApi, ModuleError, ProfileInfo};

/// A user as the host knows it (`get_userinfo_by_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserInfo {
    /// Full MXID.
    pub user_id: String,
    /// Server admin.
    pub is_admin: bool,
    /// Deactivated.
    pub is_deactivated: bool,
    /// Guest account (modhost has none; always false).
    pub is_guest: bool,
    /// Shadow-banned.
    pub is_shadow_banned: bool,
    /// Registration time, seconds since the epoch.
    pub creation_ts: i64,
}

/// Who sent a request to a module web resource ([`ModuleApi::get_user_by_req`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requester {
    /// Full MXID.
    pub user_id: String,
    /// The access token's device.
    pub device_id: String,
    /// Server admin.
    pub is_admin: bool,
    /// Guest (always false).
    pub is_guest: bool,
    /// Shadow-banned.
    pub is_shadow_banned: bool,
}

/// A device made by [`ModuleApi::register_device`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisteredDevice {
    /// The device ID.
    pub device_id: String,
    /// A new access token for it.
    pub access_token: String,
}

/// Host settings a module may read ([`ModuleApi::host_config`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostConfig {
    /// The homeserver's `server_name`.
    pub server_name: String,
    /// Where clients reach the server, ending in `/` (build links with it).
    pub public_baseurl: String,
}

impl ModuleApi {
    /// Whether `user_id` is on this server (its server name is ours).
    pub fn is_mine(&self, id: &str) -> bool {
        id.rsplit_once(':')
            .is_some_and(|(_, server)| server == self.server_name())
    }

    /// Whether `user_id` exists: `Some(user_id as stored)` if so (localparts are matched
    /// case-insensitively, as in Synapse).
    pub async fn check_user_exists(&self, user_id: &str) -> Result<Option<String>, ModuleError> {
        self.call_method::<CheckUserExists>(user(user_id)).await
    }

    /// What the host knows about `user_id`, or `None` for an unknown user.
    pub async fn get_userinfo_by_id(&self, user_id: &str) -> Result<Option<UserInfo>, ModuleError> {
        self.call_method::<GetUserinfoById>(user(user_id)).await
    }

    /// Whether `user_id` is a server admin (false for unknown users).
    pub async fn is_user_admin(&self, user_id: &str) -> Result<bool, ModuleError> {
        self.call_method::<IsUserAdmin>(user(user_id)).await
    }

    /// Make a local user a server admin, or not. Kept across restarts; users listed in
    /// `admin_users` are admins at every start whatever a module set.
    pub async fn set_user_admin(&self, user_id: &str, admin: bool) -> Result<(), ModuleError> {
        self.call_method::<SetUserAdmin>(SetUserAdminArgs {
            user_id: user_id.into(),
            admin,
        })
        .await
    }

    /// Register a local user without a password (display name defaults to the localpart).
    /// Returns the new user ID; registration callbacks fire as for any registration. A taken
    /// ID is a Matrix error `M_USER_IN_USE`.
    ///
    /// ```no_run
    /// # async fn f(api: plugin_sdk::ModuleApi) -> Result<(), plugin_sdk::ModuleError> {
    /// let user_id = api.register_user("bridge-bot", Some("Bridge bot")).await?;
    /// assert_eq!(user_id, api.get_qualified_user_id("bridge-bot"));
    /// # Ok(()) }
    /// ```
    pub async fn register_user(
        &self,
        localpart: &str,
        displayname: Option<&str>,
    ) -> Result<String, ModuleError> {
        self.call_method::<RegisterUser>(RegisterUserArgs {
            localpart: localpart.into(),
            displayname: displayname.map(String::from),
            admin: None,
        })
        .await
    }

    /// Log an existing local user in on a new device (or `device_id`): its ID and a fresh
    /// access token.
    pub async fn register_device(
        &self,
        user_id: &str,
        device_id: Option<&str>,
        initial_display_name: Option<&str>,
    ) -> Result<RegisteredDevice, ModuleError> {
        self.call_method::<RegisterDevice>(RegisterDeviceArgs {
            user_id: user_id.into(),
            device_id: device_id.map(String::from),
            initial_display_name: initial_display_name.map(String::from),
        })
        .await
    }

    /// `user_id`'s display name and avatar (each `None` when unset).
    pub async fn get_profile_for_user(&self, user_id: &str) -> Result<ProfileInfo, ModuleError> {
        Ok(self
            .call_method::<GetProfileForUser>(user(user_id))
            .await?
            .into())
    }

    /// `user_id`'s third-party identifiers (`{medium, address, validated_at, added_at}`,
    /// times in ms), oldest first; empty for an unknown or remote user, as Synapse's
    /// `get_threepids_for_user`.
    pub async fn get_threepids_for_user(
        &self,
        user_id: &str,
    ) -> Result<Vec<Threepid>, ModuleError> {
        self.call_method::<GetThreepidsForUser>(user(user_id)).await
    }

    /// Set a local user's display name. `on_profile_update` fires with `by_admin = true`.
    pub async fn set_displayname(
        &self,
        user_id: &str,
        displayname: &str,
    ) -> Result<(), ModuleError> {
        self.call_method::<SetDisplayname>(SetDisplaynameArgs {
            user_id: user_id.into(),
            displayname: displayname.into(),
        })
        .await
    }

    /// Authenticate a request to this module's web resource by its access token
    /// (`Authorization: Bearer …` or `?access_token=`). Fails with the Matrix error a client
    /// endpoint would give (`M_MISSING_TOKEN`, `M_UNKNOWN_TOKEN`, or
    /// `ORG_MATRIX_EXPIRED_ACCOUNT` unless `allow_expired`), ready to send back with
    /// [`Response::from_error`](crate::Response::from_error).
    ///
    /// ```no_run
    /// # fn f(api: plugin_sdk::ModuleApi) -> Result<(), plugin_sdk::ModuleError> {
    /// use plugin_sdk::{Request, Response};
    /// let me = api.clone();
    /// api.register_web_resource("/_synapse/client/my_module/whoami", move |req: Request| {
    ///     let api = me.clone();
    ///     async move {
    ///         match api.get_user_by_req(&req, false).await {
    ///             Ok(who) => Response::json(200, &serde_json::json!({"user_id": who.user_id})),
    ///             Err(e) => Response::from_error(&e),
    ///         }
    ///     }
    /// })?;
    /// # Ok(()) }
    /// ```
    pub async fn get_user_by_req(
        &self,
        request: &Request,
        allow_expired: bool,
    ) -> Result<Requester, ModuleError> {
        self.call_method::<GetUserByReq>(GetUserByReqArgs {
            access_token: request.access_token().unwrap_or_default(),
            allow_expired,
        })
        .await
    }

    /// Log out the session behind `access_token` (`on_logged_out` fires as for `/logout`).
    /// Whether there was such a session.
    pub async fn invalidate_access_token(&self, access_token: &str) -> Result<bool, ModuleError> {
        self.call_method::<InvalidateAccessToken>(TokenArgs {
            access_token: access_token.into(),
        })
        .await
    }

    /// A single-use token that logs `user_id` in through `POST /login` with
    /// `{"type": "m.login.token", "token": …}`, valid for `duration_ms` (default two minutes).
    pub async fn create_login_token(
        &self,
        user_id: &str,
        duration_ms: Option<u64>,
        auth_provider_id: Option<&str>,
    ) -> Result<String, ModuleError> {
        self.call_method::<CreateLoginToken>(CreateLoginTokenArgs {
            user_id: user_id.into(),
            duration_ms: duration_ms.map(|d| d as i64),
            auth_provider_id: auth_provider_id.map(String::from),
        })
        .await
    }

    /// The host settings a module may read.
    pub async fn host_config(&self) -> Result<HostConfig, ModuleError> {
        self.call_method::<GetHostConfig>(()).await
    }
}

fn user(user_id: &str) -> UserArgs {
    UserArgs {
        user_id: user_id.into(),
    }
}
