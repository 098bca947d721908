//! Account deactivation and the server-admin endpoints, with the third-party rules checks
//! and notifications Synapse runs around them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Json;
use axum::Router;
use serde_json::{json, Map, Value};

use super::extract::{JsonBody, Requester};
use super::AppState;
use crate::error::{MatrixError, MatrixResult};
use crate::service::password::password_matches;
use crate::storage::ProfileField;

/// # `POST /_matrix/client/v3/account/deactivate`
/// Interactive auth with the user's password.
pub(super) async fn deactivate_route(
    State(state): State<AppState>,
    who: Requester,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Response> {
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
        return Err(MatrixError::new(
            StatusCode::UNAUTHORIZED,
            "M_FORBIDDEN",
            "Invalid password",
        ));
    }
    // Synapse passes `by_admin = false` for the client endpoint, admins included.
    state.deactivate(&who.user_id, false, erase(&body)?).await?;
    Ok(Json(json!({"id_server_unbind_result": "no-support"})).into_response())
}

/// The `erase` flag of a deactivation body (default false); 400 `M_BAD_JSON` unless boolean.
fn erase(body: &Map<String, Value>) -> MatrixResult<bool> {
    match body.get("erase") {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(MatrixError::bad_json(
            "Param 'erase' must be a boolean, if given",
        )),
    }
}

/// # `POST /_synapse/admin/v1/deactivate/{userId}` (body: optional `erase`)
pub(super) async fn admin_deactivate_route(
    State(state): State<AppState>,
    who: Requester,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    AppState::require_admin(&who)?;
    match state.store.get_user(&user_id).await? {
        Some(u) if !u.deactivated => {}
        _ => {
            return Err(MatrixError::not_found(
                "User not found or already deactivated",
            ))
        }
    }
    state.deactivate(&user_id, true, erase(&body)?).await?;
    Ok(Json(json!({"id_server_unbind_result": "no-support"})))
}

/// # `GET /_synapse/admin/v1/modules`
/// Every loaded module, in `modules:` order: file, size, SHA-256, versions, what it
/// registered, its time limit and failure policy, its running background tasks, and its
/// callbacks' counters. Server admins only.
pub(super) async fn admin_modules_route(
    State(state): State<AppState>,
    who: Requester,
) -> MatrixResult<Json<Value>> {
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
) -> MatrixResult<Json<Value>> {
    AppState::require_admin(&who)?;
    let members = state.shutdown_room(Some(&who.user_id), &room_id).await?;
    Ok(Json(
        json!({"delete_id": crate::service::events::random_id(16), "kicked_users": members}),
    ))
}

/// # `GET /_synapse/admin/v2/users/{userId}`
/// The user as `AppState::admin_user_view` shows it. 400 "Can only look up local users" for
/// a remote user, 404 `M_NOT_FOUND` for an unknown one. Server admins only.
pub(super) async fn admin_get_user_route(
    State(state): State<AppState>,
    who: Requester,
    Path(user_id): Path<String>,
) -> MatrixResult<Json<Value>> {
    AppState::require_admin(&who)?;
    if !state.is_local(&user_id) {
        return Err(MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_UNKNOWN",
            "Can only look up local users",
        ));
    }
    let view = state.admin_user_view(&user_id).await?;
    view.map(Json)
        .ok_or_else(|| MatrixError::not_found("User not found"))
}

/// # `PUT /_synapse/admin/v2/users/{userId}`
/// Profile fields (each change reported to `on_profile_update` with `by_admin`), the
/// `threepids` list `[{medium, address}]` replacing the user's third-party identifiers (each
/// removal and addition reported to modules, see `AppState::replace_threepids`), and
/// deactivation or reactivation (reported to `on_user_deactivation_status_changed`), in
/// Synapse's order. Answers the user as `GET` shows it. Admin status comes from
/// `admin_users` in the configuration, not from this API.
pub(super) async fn admin_put_user_route(
    State(state): State<AppState>,
    who: Requester,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    AppState::require_admin(&who)?;
    if body.contains_key("admin") {
        return Err(MatrixError::bad_json(
            "Server admins are set with admin_users in the configuration",
        ));
    }
    let user = state
        .store
        .get_user(&user_id)
        .await?
        .ok_or_else(|| MatrixError::not_found("User not found"))?;
    // Checked before anything changes.
    let threepids = body
        .get("threepids")
        .map(crate::service::threepids::parse_threepid_list)
        .transpose()?;
    set_profile_field(&state, &user_id, &body, ProfileField::Displayname).await?;
    if let Some(wanted) = &threepids {
        state.replace_threepids(&user_id, wanted).await?;
    }
    set_profile_field(&state, &user_id, &body, ProfileField::AvatarUrl).await?;
    match body.get("deactivated").and_then(Value::as_bool) {
        Some(true) if !user.deactivated => state.deactivate(&user_id, true, false).await?,
        Some(false) if user.deactivated => {
            let password = body
                .get("password")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    MatrixError::bad_json("Must provide a password to re-activate an account.")
                })?;
            let hash =
                crate::service::password::hash_password(&state, password.to_string()).await?;
            state.store.reactivate_user(&user_id, &hash).await?;
            state
                .modules
                .on_user_deactivation_status_changed(&user_id, false, true)
                .await;
        }
        _ => {}
    }
    let view = state.admin_user_view(&user_id).await?;
    view.map(Json)
        .ok_or_else(|| MatrixError::not_found("User not found"))
}

/// Set `field` from the admin's `body` (key `displayname` or `avatar_url`) if present, as
/// an admin's change. 400 `M_BAD_JSON` for a value that is not a string.
async fn set_profile_field(
    state: &AppState,
    user_id: &str,
    body: &Map<String, Value>,
    field: ProfileField,
) -> MatrixResult<()> {
    let key = match field {
        ProfileField::Displayname => "displayname",
        ProfileField::AvatarUrl => "avatar_url",
    };
    if let Some(v) = body.get(key) {
        let value = v
            .as_str()
            .ok_or_else(|| MatrixError::bad_json(format!("{key} must be a string")))?;
        state
            .update_profile_field(user_id, field, Some(value), true)
            .await?;
    }
    Ok(())
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/_matrix/client/v3/account/deactivate",
            post(deactivate_route),
        )
        .route(
            "/_synapse/admin/v1/deactivate/{user}",
            post(admin_deactivate_route),
        )
        .route(
            "/_synapse/admin/v2/rooms/{room}",
            delete(admin_delete_room_route),
        )
        .route("/_synapse/admin/v1/modules", get(admin_modules_route))
        .route(
            "/_synapse/admin/v2/users/{user}",
            get(admin_get_user_route).put(admin_put_user_route),
        )
}
