//! Profiles and account data.

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::Json;
use axum::Router;
use serde_json::{json, Map, Value};

use super::extract::{JsonBody, Requester};
use super::AppState;
use crate::error::{MatrixError, MatrixResult};
use crate::storage::ProfileField;

fn field(name: &str) -> MatrixResult<ProfileField> {
    match name {
        "displayname" => Ok(ProfileField::Displayname),
        "avatar_url" => Ok(ProfileField::AvatarUrl),
        _ => Err(MatrixError::new(
            axum::http::StatusCode::NOT_FOUND,
            "M_UNRECOGNIZED",
            "Unrecognized request",
        )),
    }
}

/// # `GET /_matrix/client/v3/profile/{userId}`
pub(super) async fn get_profile_route(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> MatrixResult<Json<Value>> {
    if state.store.get_user(&user_id).await?.is_none() {
        return Err(MatrixError::not_found("Profile was not found"));
    }
    let (displayname, avatar_url) = state.store.get_profile(&user_id).await?;
    let mut body = Map::new();
    if let Some(d) = displayname {
        body.insert("displayname".into(), json!(d));
    }
    if let Some(a) = avatar_url {
        body.insert("avatar_url".into(), json!(a));
    }
    Ok(Json(Value::Object(body)))
}

/// # `GET /_matrix/client/v3/profile/{userId}/{displayname|avatar_url}`
pub(super) async fn get_profile_field_route(
    State(state): State<AppState>,
    Path((user_id, name)): Path<(String, String)>,
) -> MatrixResult<Json<Value>> {
    let which = field(&name)?;
    if state.store.get_user(&user_id).await?.is_none() {
        return Err(MatrixError::not_found("Profile was not found"));
    }
    let (displayname, avatar_url) = state.store.get_profile(&user_id).await?;
    let value = if which == ProfileField::Displayname {
        displayname
    } else {
        avatar_url
    };
    match value {
        Some(v) => Ok(Json(json!({ name: v }))),
        None => Err(MatrixError::not_found(
            "The requested profile field is not set",
        )),
    }
}

/// # `PUT /_matrix/client/v3/profile/{userId}/{displayname|avatar_url}`
/// Then every module's `on_profile_update`. Another user's profile only for server admins
/// (400 `M_FORBIDDEN` otherwise, as Synapse; 404 for an unknown user).
pub(super) async fn put_profile_field_route(
    State(state): State<AppState>,
    who: Requester,
    Path((user_id, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    let which = field(&name)?;
    // As Synapse: a server admin may set anyone's profile, and every change a server admin
    // makes reaches `on_profile_update` with `by_admin = true` — their own included.
    if user_id != who.user_id && !who.is_admin {
        return Err(MatrixError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "M_FORBIDDEN",
            format!("Cannot set another user's {name}"),
        ));
    }
    if user_id != who.user_id && state.store.get_user(&user_id).await?.is_none() {
        return Err(MatrixError::not_found("User not found"));
    }
    let value = match body.get(name.as_str()) {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(Value::Null) | None => None,
        Some(_) => return Err(MatrixError::bad_json(format!("{name} must be a string"))),
    };
    state
        .update_profile_field(&user_id, which, value, who.is_admin)
        .await?;
    Ok(Json(json!({})))
}

async fn put_account_data(
    state: &AppState,
    who: &Requester,
    user_id: &str,
    room_id: Option<&str>,
    data_type: &str,
    content: Value,
) -> MatrixResult<Json<Value>> {
    if user_id != who.user_id {
        return Err(MatrixError::forbidden(
            "Cannot add account data for other users.",
        ));
    }
    crate::service::account_data::put(state, user_id, room_id, data_type, &content).await?;
    Ok(Json(json!({})))
}

async fn get_account_data(
    state: &AppState,
    who: &Requester,
    user_id: &str,
    room_id: Option<&str>,
    data_type: &str,
) -> MatrixResult<Json<Value>> {
    if user_id != who.user_id {
        return Err(MatrixError::forbidden(
            "Cannot get account data for other users.",
        ));
    }
    state
        .store
        .get_account_data(user_id, room_id, data_type)
        .await?
        .map(Json)
        .ok_or_else(|| MatrixError::not_found("Account data not found"))
}

/// # `PUT /_matrix/client/v3/user/{userId}/account_data/{type}`
pub(super) async fn put_global_account_data_route(
    State(state): State<AppState>,
    who: Requester,
    Path((user_id, data_type)): Path<(String, String)>,
    JsonBody(content): JsonBody<Value>,
) -> MatrixResult<Json<Value>> {
    put_account_data(&state, &who, &user_id, None, &data_type, content).await
}

/// # `GET /_matrix/client/v3/user/{userId}/account_data/{type}`
pub(super) async fn get_global_account_data_route(
    State(state): State<AppState>,
    who: Requester,
    Path((user_id, data_type)): Path<(String, String)>,
) -> MatrixResult<Json<Value>> {
    get_account_data(&state, &who, &user_id, None, &data_type).await
}

/// # `PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}`
pub(super) async fn put_room_account_data_route(
    State(state): State<AppState>,
    who: Requester,
    Path((user_id, room_id, data_type)): Path<(String, String, String)>,
    JsonBody(content): JsonBody<Value>,
) -> MatrixResult<Json<Value>> {
    put_account_data(&state, &who, &user_id, Some(&room_id), &data_type, content).await
}

/// # `GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}`
pub(super) async fn get_room_account_data_route(
    State(state): State<AppState>,
    who: Requester,
    Path((user_id, room_id, data_type)): Path<(String, String, String)>,
) -> MatrixResult<Json<Value>> {
    get_account_data(&state, &who, &user_id, Some(&room_id), &data_type).await
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/_matrix/client/v3/profile/{user}", get(get_profile_route))
        .route(
            "/_matrix/client/v3/profile/{user}/{field}",
            get(get_profile_field_route).put(put_profile_field_route),
        )
        .route(
            "/_matrix/client/v3/user/{user}/account_data/{data_type}",
            put(put_global_account_data_route).get(get_global_account_data_route),
        )
        .route(
            "/_matrix/client/v3/user/{user}/rooms/{room}/account_data/{data_type}",
            put(put_room_account_data_route).get(get_room_account_data_route),
        )
}
