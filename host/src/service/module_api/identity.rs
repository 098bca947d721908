//! Identity and sessions: users, admins, profiles, devices, tokens, the host's configuration.

use axum::http::StatusCode;
use plugin_sdk::host_methods::{
    CheckUserExists, CreateLoginToken, CreateLoginTokenArgs, GetHostConfig, GetProfileForUser,
    GetThreepidsForUser, GetUserByReq, GetUserByReqArgs, GetUserinfoById, HostError,
    InvalidateAccessToken, IsUserAdmin, Profile, RegisterDevice, RegisterDeviceArgs, RegisterUser,
    RegisterUserArgs, SetDisplayname, SetDisplaynameArgs, SetUserAdmin, SetUserAdminArgs, Threepid,
    TokenArgs, UserArgs,
};
use plugin_sdk::{HostConfig, RegisteredDevice, Requester, UserInfo};

use super::{bad_value, internal, refused, Handler};
use crate::error::MatrixError;
use crate::service::session::{hash_token, issue_token, random_string};
use crate::state::AppState;
use crate::storage::{now_ms, ProfileField};

/// Login tokens last two minutes unless the module asks otherwise (Synapse's default).
const LOGIN_TOKEN_MS: i64 = 120_000;
/// The longest a login token may last.
const MAX_LOGIN_TOKEN_MS: i64 = 86_400_000;

impl AppState {
    /// An existing, local user, or a `BadValue` naming the problem.
    async fn require_user(&self, user_id: &str, what: &str) -> Result<(), HostError> {
        self.require_local(user_id, what)?;
        match self.store.get_user(user_id).await.map_err(internal)? {
            Some(_) => Ok(()),
            None => Err(bad_value(format!("{what} {user_id} is not registered"))),
        }
    }
}

fn unauthorized(errcode: &str, error: &str) -> HostError {
    refused(MatrixError::new(StatusCode::UNAUTHORIZED, errcode, error))
}

/// `check_user_exists(user_id)` → the user ID as stored (localparts are case-folded), or
/// null.
impl Handler for CheckUserExists {
    async fn handle(
        state: &AppState,
        _: &str,
        args: UserArgs,
    ) -> Result<Option<String>, HostError> {
        let user_id = args.user_id;
        let folded = match user_id.split_once(':') {
            Some((local, server)) => format!("{}:{server}", local.to_lowercase()),
            None => user_id.clone(),
        };
        for candidate in [user_id, folded] {
            if state
                .store
                .get_user(&candidate)
                .await
                .map_err(internal)?
                .is_some()
            {
                return Ok(Some(candidate));
            }
        }
        Ok(None)
    }
}

/// `get_userinfo_by_id(user_id)` → `{user_id, is_admin, is_deactivated, is_guest,
/// is_shadow_banned, creation_ts}` (creation in seconds, as Synapse), or null.
impl Handler for GetUserinfoById {
    async fn handle(
        state: &AppState,
        _: &str,
        args: UserArgs,
    ) -> Result<Option<UserInfo>, HostError> {
        let Some(user) = state
            .store
            .get_user(&args.user_id)
            .await
            .map_err(internal)?
        else {
            return Ok(None);
        };
        let created = state
            .store
            .user_created_ts(&args.user_id)
            .await
            .map_err(internal)?
            .unwrap_or_default();
        Ok(Some(UserInfo {
            user_id: user.user_id,
            is_admin: user.is_admin,
            is_deactivated: user.deactivated,
            is_guest: false,
            is_shadow_banned: user.shadow_banned,
            creation_ts: created / 1000,
        }))
    }
}

/// `is_user_admin(user_id)` → whether the user is a server admin (false for unknown users).
impl Handler for IsUserAdmin {
    async fn handle(state: &AppState, _: &str, args: UserArgs) -> Result<bool, HostError> {
        let user = state
            .store
            .get_user(&args.user_id)
            .await
            .map_err(internal)?;
        Ok(user.is_some_and(|u| u.is_admin))
    }
}

/// `set_user_admin(user_id, admin)` → null. Kept across restarts; `admin_users` in the
/// configuration still makes its users admins at start-up. `BadValue` for a remote or
/// unregistered user.
impl Handler for SetUserAdmin {
    async fn handle(
        state: &AppState,
        module: &str,
        args: SetUserAdminArgs,
    ) -> Result<(), HostError> {
        let SetUserAdminArgs { user_id, admin } = args;
        state.require_user(&user_id, "user").await?;
        state
            .store
            .set_admin(&user_id, admin)
            .await
            .map_err(internal)?;
        tracing::info!(module, %user_id, admin, "module changed a user's admin status");
        Ok(())
    }
}

/// `register_user(localpart, displayname?, admin?)` → the new user ID, through the same
/// registration checks as Synapse's module API (`check_registration_for_spam`, then the
/// localpart rules): see [`crate::service::registration::register_for_module`]. `Matrix` 429
/// `M_LIMIT_EXCEEDED` when a spam checker denies, 400 `M_INVALID_USERNAME` or
/// `M_USER_IN_USE`.
impl Handler for RegisterUser {
    async fn handle(
        state: &AppState,
        module: &str,
        args: RegisterUserArgs,
    ) -> Result<String, HostError> {
        let admin = args.admin == Some(true);
        let user_id = crate::service::registration::register_for_module(
            state,
            &args.localpart,
            args.displayname,
            admin,
        )
        .await
        .map_err(refused)?;
        tracing::info!(module, %user_id, admin, "module registered a user");
        Ok(user_id)
    }
}

/// `register_device(user_id, device_id?, initial_display_name?)` → `{device_id,
/// access_token}`: a logged-in device for a registered local user (`BadValue` otherwise).
impl Handler for RegisterDevice {
    async fn handle(
        state: &AppState,
        _: &str,
        args: RegisterDeviceArgs,
    ) -> Result<RegisteredDevice, HostError> {
        state.require_user(&args.user_id, "user").await?;
        let display = args.initial_display_name.as_deref();
        let login = issue_token(state, &args.user_id, args.device_id, display)
            .await
            .map_err(refused)?;
        let field = |k: &str| login[k].as_str().unwrap_or_default().to_string();
        Ok(RegisteredDevice {
            device_id: field("device_id"),
            access_token: field("access_token"),
        })
    }
}

/// `get_profile_for_user(user_id)` → `{displayname, avatar_url}` (null when unset).
impl Handler for GetProfileForUser {
    async fn handle(state: &AppState, _: &str, args: UserArgs) -> Result<Profile, HostError> {
        let (displayname, avatar_url) = state
            .store
            .get_profile(&args.user_id)
            .await
            .map_err(internal)?;
        Ok(Profile {
            displayname,
            avatar_url,
        })
    }
}

/// `get_threepids_for_user(user_id)` → `[{medium, address, validated_at, added_at}]`, oldest
/// first; empty for unknown or remote users, as Synapse.
impl Handler for GetThreepidsForUser {
    async fn handle(state: &AppState, _: &str, args: UserArgs) -> Result<Vec<Threepid>, HostError> {
        let rows = state
            .store
            .threepids_of(&args.user_id)
            .await
            .map_err(internal)?;
        Ok(rows
            .into_iter()
            .map(|t| Threepid {
                medium: t.medium,
                address: t.address,
                validated_at: t.validated_at,
                added_at: t.added_at,
            })
            .collect())
    }
}

/// `set_displayname(user_id, displayname)` → null; `on_profile_update` fires with
/// `by_admin = true`, as in Synapse. `BadValue` for a remote or unregistered user.
impl Handler for SetDisplayname {
    async fn handle(state: &AppState, _: &str, args: SetDisplaynameArgs) -> Result<(), HostError> {
        state.require_user(&args.user_id, "user").await?;
        let name = Some(args.displayname.as_str());
        state
            .update_profile_field(&args.user_id, ProfileField::Displayname, name, true)
            .await
            .map_err(refused)?;
        Ok(())
    }
}

/// `get_user_by_req(access_token, allow_expired)` → `{user_id, device_id, is_admin,
/// is_guest, is_shadow_banned}`; refused exactly as the client API refuses the token
/// (`Matrix` 401 `M_MISSING_TOKEN` / `M_UNKNOWN_TOKEN`, 403 `ORG_MATRIX_EXPIRED_ACCOUNT`
/// unless `allow_expired`).
impl Handler for GetUserByReq {
    async fn handle(
        state: &AppState,
        _: &str,
        args: GetUserByReqArgs,
    ) -> Result<Requester, HostError> {
        if args.access_token.is_empty() {
            return Err(unauthorized("M_MISSING_TOKEN", "Missing access token"));
        }
        let info = state
            .store
            .token_info(&hash_token(&args.access_token))
            .await
            .map_err(internal)?
            .ok_or_else(|| unauthorized("M_UNKNOWN_TOKEN", "Invalid access token passed."))?;
        if !args.allow_expired {
            let expired = state.modules.is_user_expired(&info.user_id).await;
            if expired.map_err(internal)? == Some(true) {
                return Err(refused(MatrixError::new(
                    StatusCode::FORBIDDEN,
                    "ORG_MATRIX_EXPIRED_ACCOUNT",
                    "User account has expired",
                )));
            }
        }
        Ok(Requester {
            user_id: info.user_id,
            device_id: info.device_id,
            is_admin: info.is_admin,
            is_guest: false,
            is_shadow_banned: info.shadow_banned,
        })
    }
}

/// `invalidate_access_token(access_token)` → whether it existed. `on_logged_out` fires as
/// for `/logout`.
impl Handler for InvalidateAccessToken {
    async fn handle(state: &AppState, _: &str, args: TokenArgs) -> Result<bool, HostError> {
        let hash = hash_token(&args.access_token);
        let Some(info) = state.store.token_info(&hash).await.map_err(internal)? else {
            return Ok(false);
        };
        state
            .modules
            .on_logged_out(&info.user_id, Some(&info.device_id), &args.access_token)
            .await;
        state.store.delete_token(&hash).await.map_err(internal)?;
        Ok(true)
    }
}

/// `create_login_token(user_id, duration_ms?, auth_provider_id?)` → a single-use token for
/// `POST /login` with `{"type": "m.login.token", "token": …}`, valid two minutes unless
/// `duration_ms` says otherwise. `BadValue` for a remote or unregistered user, or a duration
/// outside 1 ms to one day.
impl Handler for CreateLoginToken {
    async fn handle(
        state: &AppState,
        module: &str,
        args: CreateLoginTokenArgs,
    ) -> Result<String, HostError> {
        let duration = args.duration_ms.unwrap_or(LOGIN_TOKEN_MS);
        state.require_user(&args.user_id, "user").await?;
        if duration <= 0 || duration > MAX_LOGIN_TOKEN_MS {
            return Err(bad_value(format!(
                "duration_ms must be between 1 and {MAX_LOGIN_TOKEN_MS} (one day)"
            )));
        }
        let token = format!("mlt_{}", random_string(32));
        let expires = now_ms().saturating_add(duration);
        let provider = args.auth_provider_id.as_deref();
        state
            .store
            .add_login_token(&hash_token(&token), &args.user_id, expires, provider)
            .await
            .map_err(internal)?;
        tracing::info!(module, user_id = %args.user_id, "module created a login token");
        Ok(token)
    }
}

/// `host_config()` → `{server_name, public_baseurl}`.
impl Handler for GetHostConfig {
    async fn handle(state: &AppState, _: &str, _: ()) -> Result<HostConfig, HostError> {
        Ok(HostConfig {
            server_name: state.config.server_name.clone(),
            public_baseurl: state.config.public_baseurl.clone(),
        })
    }
}
