//! Account deactivation and the server-admin endpoints, with the third-party rules checks
//! and notifications Synapse runs around them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use plugin_sdk::ProfileInfo;
use serde_json::{json, Map, Value};

use super::account::password_matches;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, Requester};
use super::AppState;
use crate::service::membership::Change;
use crate::storage::ProfileField;

impl AppState {
    /// Deactivate `user_id`: ask modules, drop tokens, clear the profile, leave every room,
    /// then notify modules.
    async fn deactivate(&self, user_id: &str, by_admin: bool) -> ApiResult<()> {
        if !self
            .modules
            .check_can_deactivate_user(user_id, by_admin)
            .await
        {
            return Err(ApiError::forbidden(
                "Deactivation of this user is forbidden",
            ));
        }
        // Leave rooms while the user can still act.
        let actor = self.acting_as(user_id);
        for (room_id, membership) in self.store.rooms_of(user_id).await? {
            if membership == "join" || membership == "invite" {
                self.change_membership(&actor, &room_id, user_id, Change::Leave, None)
                    .await?;
            }
        }
        // Every session ends: modules hear about each device, as on logout.
        for device in self.store.delete_all_tokens(user_id).await? {
            self.modules.on_logged_out(user_id, Some(&device), "").await;
        }
        self.store.deactivate_user(user_id).await?;
        self.store
            .set_profile_field(user_id, ProfileField::Displayname, Some(""))
            .await?;
        self.store
            .set_profile_field(user_id, ProfileField::AvatarUrl, None)
            .await?;
        let cleared = ProfileInfo {
            display_name: Some(String::new()),
            avatar_url: None,
        };
        self.modules
            .on_profile_update(user_id, &cleared, by_admin, true)
            .await;
        self.modules
            .on_user_deactivation_status_changed(user_id, true, by_admin)
            .await;
        Ok(())
    }

    fn require_admin(who: &Requester) -> ApiResult<()> {
        if who.is_admin {
            Ok(())
        } else {
            Err(ApiError::forbidden("You are not a server admin"))
        }
    }
}

/// # `POST /_matrix/client/v3/account/deactivate`
/// Interactive auth with the user's password.
pub(super) async fn deactivate_route(
    State(state): State<AppState>,
    who: Requester,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> ApiResult<Response> {
    let auth = body.get("auth").filter(|a| a.get("type").is_some());
    let Some(auth) = auth else {
        let uia = json!({"flows": [{"stages": ["m.login.password"]}], "params": {}, "session": "deactivate"});
        return Ok((StatusCode::UNAUTHORIZED, Json(uia)).into_response());
    };
    let password = auth
        .get("password")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if auth["type"] != "m.login.password"
        || !password_matches(&state, &who.user_id, password).await?
    {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "M_FORBIDDEN",
            "Invalid password",
        ));
    }
    state.deactivate(&who.user_id, false).await?;
    Ok(Json(json!({"id_server_unbind_result": "no-support"})).into_response())
}

/// # `POST /_synapse/admin/v1/deactivate/{userId}`
pub(super) async fn admin_deactivate_route(
    State(state): State<AppState>,
    who: Requester,
    Path(user_id): Path<String>,
) -> ApiResult<Json<Value>> {
    AppState::require_admin(&who)?;
    match state.store.get_user(&user_id).await? {
        Some(u) if !u.deactivated => {}
        _ => return Err(ApiError::not_found("User not found or already deactivated")),
    }
    state.deactivate(&user_id, true).await?;
    Ok(Json(json!({"id_server_unbind_result": "no-support"})))
}

/// # `GET /_synapse/admin/v1/modules`
/// Every loaded module, in `modules:` order: file, size, SHA-256, versions, what it
/// registered, its time limit and failure policy, its running background tasks, and its
/// callbacks' counters. Server admins only.
pub(super) async fn admin_modules_route(
    State(state): State<AppState>,
    who: Requester,
) -> ApiResult<Json<Value>> {
    AppState::require_admin(&who)?;
    let tasks = state.tasks.running();
    let modules: Vec<Value> = state
        .loaded
        .iter()
        .map(|m| {
            let mut v = m.to_json();
            v["background_tasks"] = json!(tasks
                .iter()
                .filter(|(module, _)| *module == *m.name)
                .map(|(_, task)| task)
                .collect::<Vec<_>>());
            v["callbacks"] = json!(state
                .modules
                .all_callbacks()
                .filter(|cb| cb.module == m.name)
                .map(|cb| {
                    use std::sync::atomic::Ordering::Relaxed;
                    json!({
                        "callback": format!("{}.{}", cb.hook.info().category, cb.hook.info().name),
                        "calls": cb.stats.calls.load(Relaxed),
                        "denials": cb.stats.denials.load(Relaxed),
                        "failures": cb.stats.failures.load(Relaxed),
                        "consecutive_failures": cb.stats.consecutive_failures.load(Relaxed),
                    })
                })
                .collect::<Vec<_>>());
            v
        })
        .collect();
    Ok(Json(json!({ "modules": modules })))
}

/// # `DELETE /_synapse/admin/v2/rooms/{roomId}`
/// `check_can_shutdown_room` first; then every member is removed, the room unpublished and
/// its aliases deleted.
pub(super) async fn admin_delete_room_route(
    State(state): State<AppState>,
    who: Requester,
    Path(room_id): Path<String>,
) -> ApiResult<Json<Value>> {
    AppState::require_admin(&who)?;
    let members = state.shutdown_room(Some(&who.user_id), &room_id).await?;
    Ok(Json(
        json!({"delete_id": crate::service::events::random_id(16), "kicked_users": members}),
    ))
}

impl AppState {
    /// Shut a room down (admin API and the module API's `delete_room`, where `requester` is
    /// `None`): `check_can_shutdown_room` first, then every member leaves, the room is
    /// blocked and its aliases deleted. Returns the users removed.
    pub(crate) async fn shutdown_room(
        &self,
        requester: Option<&str>,
        room_id: &str,
    ) -> ApiResult<Vec<String>> {
        if !self.store.room_exists(room_id).await? {
            return Err(ApiError::not_found("Unknown room"));
        }
        if !self
            .modules
            .check_can_shutdown_room(requester, room_id)
            .await
        {
            return Err(ApiError::forbidden("Shutdown of this room is forbidden"));
        }
        let members: Vec<String> = self
            .store
            .current_state(room_id)
            .await?
            .into_iter()
            .filter(|e| {
                e["type"] == "m.room.member"
                    && matches!(
                        e["content"]["membership"].as_str(),
                        Some("join") | Some("invite")
                    )
            })
            .filter_map(|e| e["state_key"].as_str().map(String::from))
            .collect();
        for member in &members {
            let mut actor = self.acting_as(member);
            actor.is_admin = true;
            self.change_membership(&actor, room_id, member, Change::Leave, None)
                .await?;
        }
        self.store.block_room(room_id).await?;
        self.store.delete_room_aliases(room_id).await?;
        Ok(members)
    }
}

/// # `PUT /_synapse/admin/v2/users/{userId}`
/// Profile fields (each change reported to `on_profile_update` with `by_admin`), and
/// deactivation or reactivation (reported to `on_user_deactivation_status_changed`). Admin
/// status comes from `admin_users` in the configuration, not from this API.
pub(super) async fn admin_put_user_route(
    State(state): State<AppState>,
    who: Requester,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> ApiResult<Json<Value>> {
    AppState::require_admin(&who)?;
    if body.contains_key("admin") {
        return Err(ApiError::bad_json(
            "Server admins are set with admin_users in the configuration",
        ));
    }
    let user = state
        .store
        .get_user(&user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("User not found"))?;
    for (key, field) in [
        ("displayname", ProfileField::Displayname),
        ("avatar_url", ProfileField::AvatarUrl),
    ] {
        if let Some(v) = body.get(key) {
            let value = v
                .as_str()
                .ok_or_else(|| ApiError::bad_json(format!("{key} must be a string")))?;
            state
                .update_profile_field(&user_id, field, Some(value), true)
                .await?;
        }
    }
    match body.get("deactivated").and_then(Value::as_bool) {
        Some(true) if !user.deactivated => state.deactivate(&user_id, true).await?,
        Some(false) if user.deactivated => {
            let password = body
                .get("password")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ApiError::bad_json("Must provide a password to re-activate an account.")
                })?;
            let hash = super::account::hash_password(password.to_string()).await?;
            state.store.reactivate_user(&user_id, &hash).await?;
            state
                .modules
                .on_user_deactivation_status_changed(&user_id, false, true)
                .await;
        }
        _ => {}
    }
    let (displayname, avatar_url) = state.store.get_profile(&user_id).await?;
    let deactivated = state
        .store
        .get_user(&user_id)
        .await?
        .is_some_and(|u| u.deactivated);
    Ok(Json(
        json!({"name": user_id, "displayname": displayname, "avatar_url": avatar_url, "deactivated": deactivated}),
    ))
}
