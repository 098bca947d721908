//! Identity and sessions: users, admins, profiles, devices, tokens, the host's configuration.

use axum::http::StatusCode;
use plugin_sdk::ffi::{FfiError, FfiValue};
use serde_json::json;

use super::{bad_value, internal, json_value, refused, Args};
use crate::error::MatrixError;
use crate::service::session::hash_token;
use crate::service::session::{issue_token, random_string};
use crate::state::AppState;
use crate::storage::{now_ms, ProfileField};

/// Login tokens last two minutes unless the module asks otherwise (Synapse's default).
const LOGIN_TOKEN_MS: i64 = 120_000;
/// The longest a login token may last.
const MAX_LOGIN_TOKEN_MS: i64 = 86_400_000;

impl AppState {
    /// An existing, local user, or a `BAD_VALUE` naming the problem.
    async fn require_user(&self, user_id: &str, what: &str) -> Result<(), FfiError> {
        self.require_local(user_id, what)?;
        match self.store.get_user(user_id).await.map_err(internal)? {
            Some(_) => Ok(()),
            None => Err(bad_value(format!("{what} {user_id} is not registered"))),
        }
    }

    pub(super) async fn identity_call(
        &self,
        module: &str,
        method: &str,
        args: &Args,
    ) -> Option<Result<FfiValue, FfiError>> {
        Some(match method {
            "check_user_exists" => self.check_user_exists(args).await,
            "get_userinfo_by_id" => self.get_userinfo_by_id(args).await,
            "is_user_admin" => self.is_user_admin(args).await,
            "set_user_admin" => self.set_user_admin(module, args).await,
            "register_user" => self.module_register_user(module, args).await,
            "register_device" => self.register_device(args).await,
            "get_profile_for_user" => self.get_profile_for_user(args).await,
            "set_displayname" => self.set_displayname(args).await,
            "get_user_by_req" => self.get_user_by_req(args).await,
            "invalidate_access_token" => self.invalidate_access_token(args).await,
            "create_login_token" => self.create_login_token(module, args).await,
            "host_config" => Ok(json_value(&json!({
                "server_name": self.config.server_name,
                "public_baseurl": self.config.public_baseurl,
            }))),
            _ => return None,
        })
    }

    /// `check_user_exists(user_id)` → the user ID as stored (localparts are case-folded), or
    /// null.
    async fn check_user_exists(&self, args: &Args) -> Result<FfiValue, FfiError> {
        let user_id = args.str(0, "user_id")?;
        let folded = match user_id.split_once(':') {
            Some((local, server)) => format!("{}:{server}", local.to_lowercase()),
            None => user_id.clone(),
        };
        for candidate in [&user_id, &folded] {
            if self
                .store
                .get_user(candidate)
                .await
                .map_err(internal)?
                .is_some()
            {
                return Ok(FfiValue::Str(candidate.as_str().into()));
            }
        }
        Ok(FfiValue::Null)
    }

    /// `get_userinfo_by_id(user_id)` → `{user_id, is_admin, is_deactivated, is_guest,
    /// is_shadow_banned, creation_ts}` (creation in seconds, as Synapse), or null.
    async fn get_userinfo_by_id(&self, args: &Args) -> Result<FfiValue, FfiError> {
        let user_id = args.str(0, "user_id")?;
        let Some(user) = self.store.get_user(&user_id).await.map_err(internal)? else {
            return Ok(FfiValue::Null);
        };
        let created = self
            .store
            .user_created_ts(&user_id)
            .await
            .map_err(internal)?
            .unwrap_or_default();
        Ok(json_value(&json!({
            "user_id": user.user_id,
            "is_admin": user.is_admin,
            "is_deactivated": user.deactivated,
            "is_guest": false,
            "is_shadow_banned": user.shadow_banned,
            "creation_ts": created / 1000,
        })))
    }

    /// `is_user_admin(user_id)` → bool (false for unknown users).
    async fn is_user_admin(&self, args: &Args) -> Result<FfiValue, FfiError> {
        let user_id = args.str(0, "user_id")?;
        Ok(FfiValue::Bool(
            self.store
                .get_user(&user_id)
                .await
                .map_err(internal)?
                .is_some_and(|u| u.is_admin),
        ))
    }

    /// `set_user_admin(user_id, admin)` → null. Kept across restarts; `admin_users` in the
    /// configuration still makes its users admins at start-up.
    async fn set_user_admin(&self, module: &str, args: &Args) -> Result<FfiValue, FfiError> {
        let (user_id, admin) = (args.str(0, "user_id")?, args.bool(1, "admin")?);
        self.require_user(&user_id, "user").await?;
        self.store
            .set_admin(&user_id, admin)
            .await
            .map_err(internal)?;
        tracing::info!(module, %user_id, admin, "module changed a user's admin status");
        Ok(FfiValue::Null)
    }

    /// `register_user(localpart, displayname?, admin?)` → the new user ID. No password and
    /// no device; registration callbacks fire as for any registration.
    async fn module_register_user(&self, module: &str, args: &Args) -> Result<FfiValue, FfiError> {
        let localpart = args.str(0, "localpart")?.to_lowercase();
        let displayname = args.opt_str(1, "displayname")?;
        let admin = matches!(args.0.get(2), Some(FfiValue::Bool(true)));
        let user_id = self.user_id(&localpart);
        if ruma_common::UserId::parse(&user_id).is_err() || localpart.is_empty() {
            return Err(refused(MatrixError::new(
                StatusCode::BAD_REQUEST,
                "M_INVALID_USERNAME",
                format!("{localpart:?} is not a valid localpart"),
            )));
        }
        if !self
            .store
            .create_user(&user_id, None, false)
            .await
            .map_err(internal)?
        {
            return Err(refused(MatrixError::new(
                StatusCode::BAD_REQUEST,
                "M_USER_IN_USE",
                "User ID already taken.",
            )));
        }
        let display = displayname.unwrap_or_else(|| localpart.clone());
        self.store
            .set_profile_field(&user_id, ProfileField::Displayname, Some(&display))
            .await
            .map_err(internal)?;
        if admin {
            self.store
                .set_admin(&user_id, true)
                .await
                .map_err(internal)?;
        }
        self.modules
            .on_user_registration(&user_id)
            .await
            .map_err(internal)?;
        tracing::info!(module, %user_id, admin, "module registered a user");
        Ok(FfiValue::Str(user_id.into()))
    }

    /// `register_device(user_id, device_id?, initial_display_name?)` →
    /// `{device_id, access_token}`: a logged-in device for an existing local user.
    async fn register_device(&self, args: &Args) -> Result<FfiValue, FfiError> {
        let user_id = args.str(0, "user_id")?;
        let device_id = args.opt_str(1, "device_id")?;
        let display = args.opt_str(2, "initial_display_name")?;
        self.require_user(&user_id, "user").await?;
        let login = issue_token(self, &user_id, device_id, display.as_deref())
            .await
            .map_err(refused)?;
        Ok(json_value(&json!({
            "device_id": login["device_id"],
            "access_token": login["access_token"],
        })))
    }

    /// `get_profile_for_user(user_id)` → `{displayname, avatar_url}` (null when unset).
    async fn get_profile_for_user(&self, args: &Args) -> Result<FfiValue, FfiError> {
        let user_id = args.str(0, "user_id")?;
        let (displayname, avatar_url) = self.store.get_profile(&user_id).await.map_err(internal)?;
        Ok(json_value(
            &json!({"displayname": displayname, "avatar_url": avatar_url}),
        ))
    }

    /// `set_displayname(user_id, displayname)` → null; `on_profile_update` fires with
    /// `by_admin = true`, as in Synapse.
    async fn set_displayname(&self, args: &Args) -> Result<FfiValue, FfiError> {
        let (user_id, name) = (args.str(0, "user_id")?, args.str(1, "displayname")?);
        self.require_user(&user_id, "user").await?;
        self.update_profile_field(&user_id, ProfileField::Displayname, Some(&name), true)
            .await
            .map_err(refused)?;
        Ok(FfiValue::Null)
    }

    /// `get_user_by_req(access_token, allow_expired)` → `{user_id, device_id, is_admin,
    /// is_guest, is_shadow_banned}`; refused exactly as the client API refuses the token.
    async fn get_user_by_req(&self, args: &Args) -> Result<FfiValue, FfiError> {
        let token = args.str(0, "access_token")?;
        let allow_expired = args.bool(1, "allow_expired")?;
        if token.is_empty() {
            return Err(refused(MatrixError::new(
                StatusCode::UNAUTHORIZED,
                "M_MISSING_TOKEN",
                "Missing access token",
            )));
        }
        let info = self
            .store
            .token_info(&hash_token(&token))
            .await
            .map_err(internal)?
            .ok_or_else(|| {
                refused(MatrixError::new(
                    StatusCode::UNAUTHORIZED,
                    "M_UNKNOWN_TOKEN",
                    "Invalid access token passed.",
                ))
            })?;
        if !allow_expired
            && self
                .modules
                .is_user_expired(&info.user_id)
                .await
                .map_err(internal)?
                == Some(true)
        {
            return Err(refused(MatrixError::new(
                StatusCode::FORBIDDEN,
                "ORG_MATRIX_EXPIRED_ACCOUNT",
                "User account has expired",
            )));
        }
        Ok(json_value(&json!({
            "user_id": info.user_id,
            "device_id": info.device_id,
            "is_admin": info.is_admin,
            "is_guest": false,
            "is_shadow_banned": info.shadow_banned,
        })))
    }

    /// `invalidate_access_token(access_token)` → whether it existed. `on_logged_out` fires as
    /// for `/logout`.
    async fn invalidate_access_token(&self, args: &Args) -> Result<FfiValue, FfiError> {
        let token = args.str(0, "access_token")?;
        let hash = hash_token(&token);
        let Some(info) = self.store.token_info(&hash).await.map_err(internal)? else {
            return Ok(FfiValue::Bool(false));
        };
        self.modules
            .on_logged_out(&info.user_id, Some(&info.device_id), &token)
            .await;
        self.store.delete_token(&hash).await.map_err(internal)?;
        Ok(FfiValue::Bool(true))
    }

    /// `create_login_token(user_id, duration_ms?, auth_provider_id?)` → a single-use token
    /// for `POST /login` with `{"type": "m.login.token", "token": …}`.
    async fn create_login_token(&self, module: &str, args: &Args) -> Result<FfiValue, FfiError> {
        let user_id = args.str(0, "user_id")?;
        let duration = args.opt_int(1, "duration_ms")?.unwrap_or(LOGIN_TOKEN_MS);
        let provider = args.opt_str(2, "auth_provider_id")?;
        self.require_user(&user_id, "user").await?;
        if duration <= 0 || duration > MAX_LOGIN_TOKEN_MS {
            return Err(bad_value(format!(
                "duration_ms must be between 1 and {MAX_LOGIN_TOKEN_MS} (one day)"
            )));
        }
        let token = format!("mlt_{}", random_string(32));
        self.store
            .add_login_token(
                &hash_token(&token),
                &user_id,
                now_ms().saturating_add(duration),
                provider.as_deref(),
            )
            .await
            .map_err(internal)?;
        tracing::info!(module, %user_id, "module created a login token");
        Ok(FfiValue::Str(token.into()))
    }
}
