//! Room aliases, the public room directory and the user directory.

use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::Json;
use axum::Router;
use plugin_sdk::{SpamCheck, UserProfile};
use serde_json::{json, Map, Value};

use super::extract::{JsonBody, Requester};
use super::AppState;
use crate::error::{MatrixError, MatrixResult};

/// # `PUT /_matrix/client/v3/directory/room/{roomAlias}`
/// `user_may_create_room_alias` once the requester is known to be in the room (or an admin).
pub(super) async fn put_alias_route(
    State(state): State<AppState>,
    who: Requester,
    Path(alias): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    let room_id = body
        .get("room_id")
        .and_then(Value::as_str)
        .ok_or_else(|| MatrixError::bad_json("Missing room_id"))?;
    let parsed = ruma_common::RoomAliasId::parse(&alias)
        .map_err(|e| MatrixError::invalid_param(format!("Invalid room alias: {e}")))?;
    if parsed.server_name().as_str() != state.config.server_name {
        return Err(MatrixError::invalid_param(
            "Room alias must be local and start with #",
        ));
    }
    if !state.store.room_exists(room_id).await? {
        return Err(MatrixError::not_found("Unknown room"));
    }
    if state
        .store
        .membership(room_id, &who.user_id)
        .await?
        .as_deref()
        != Some("join")
        && !who.is_admin
    {
        return Err(MatrixError::forbidden(
            "You must be in the room to create an alias for it",
        ));
    }
    // After the membership check, as in Synapse's `create_association`.
    crate::service::rooms::check_alias_creation(&state, &who.user_id, &alias).await?;
    if !state
        .store
        .create_alias(&alias, room_id, &who.user_id)
        .await?
    {
        return Err(MatrixError::new(
            axum::http::StatusCode::CONFLICT,
            "M_UNKNOWN",
            format!("Room alias {alias} already exists"),
        ));
    }
    Ok(Json(json!({})))
}

/// # `GET /_matrix/client/v3/directory/room/{roomAlias}`
pub(super) async fn get_alias_route(
    State(state): State<AppState>,
    Path(alias): Path<String>,
) -> MatrixResult<Json<Value>> {
    let (room_id, _) = state
        .store
        .resolve_alias(&alias)
        .await?
        .ok_or_else(|| MatrixError::not_found(format!("Room alias {alias} not found")))?;
    Ok(Json(
        json!({"room_id": room_id, "servers": [state.config.server_name]}),
    ))
}

/// # `DELETE /_matrix/client/v3/directory/room/{roomAlias}`
/// The alias's creator or a server admin.
pub(super) async fn delete_alias_route(
    State(state): State<AppState>,
    who: Requester,
    Path(alias): Path<String>,
) -> MatrixResult<Json<Value>> {
    let (_, creator) = state
        .store
        .resolve_alias(&alias)
        .await?
        .ok_or_else(|| MatrixError::not_found(format!("Room alias {alias} not found")))?;
    if creator != who.user_id && !who.is_admin {
        return Err(MatrixError::forbidden(
            "You don't have permission to delete the alias.",
        ));
    }
    state.store.delete_alias(&alias).await?;
    Ok(Json(json!({})))
}

/// # `PUT /_matrix/client/v3/directory/list/room/{roomId}`
/// `user_may_publish_room`, then (when publishing) `check_visibility_can_be_modified`.
pub(super) async fn put_visibility_route(
    State(state): State<AppState>,
    who: Requester,
    Path(room_id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    let visibility = body
        .get("visibility")
        .and_then(Value::as_str)
        .unwrap_or("public");
    if visibility != "public" && visibility != "private" {
        return Err(MatrixError::bad_json(
            "visibility must be \"public\" or \"private\"",
        ));
    }
    if !state.store.room_exists(&room_id).await? {
        return Err(MatrixError::not_found("Unknown room"));
    }
    if let SpamCheck::Deny(d) = state
        .modules
        .user_may_publish_room(&who.user_id, &room_id)
        .await?
    {
        return Err(MatrixError::denied(
            d,
            "This user is not permitted to publish rooms to the room list",
        ));
    }
    if state
        .store
        .membership(&room_id, &who.user_id)
        .await?
        .as_deref()
        != Some("join")
        && !who.is_admin
    {
        return Err(MatrixError::forbidden(
            "You must be in the room to change its visibility",
        ));
    }
    if !who.is_admin {
        // As Synapse: publishing needs the power to set the room's canonical alias.
        let pl_event = state
            .store
            .state_event(&room_id, "m.room.power_levels", "")
            .await?;
        let pl = crate::service::power::PowerLevels(pl_event.as_ref().map(|e| &e["content"]));
        if pl.user(&who.user_id) < pl.for_event("m.room.canonical_alias", true) {
            return Err(MatrixError::forbidden(
                "You don't have permission to change the room's visibility",
            ));
        }
    }
    if visibility == "public" {
        let current = Value::Array(state.store.current_state(&room_id).await?).to_string();
        if !state
            .modules
            .check_visibility_can_be_modified(&room_id, &current, "public")
            .await
        {
            return Err(MatrixError::forbidden("Not allowed to publish room"));
        }
    }
    state
        .store
        .set_room_public(&room_id, visibility == "public")
        .await?;
    Ok(Json(json!({})))
}

/// # `GET /_matrix/client/v3/directory/list/room/{roomId}`
pub(super) async fn get_visibility_route(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
) -> MatrixResult<Json<Value>> {
    if !state.store.room_exists(&room_id).await? {
        return Err(MatrixError::not_found("Unknown room"));
    }
    let public = state.store.is_room_public(&room_id).await?;
    Ok(Json(
        json!({"visibility": if public { "public" } else { "private" }}),
    ))
}

/// # `GET|POST /_matrix/client/v3/publicRooms`
pub(super) async fn public_rooms_route(State(state): State<AppState>) -> MatrixResult<Json<Value>> {
    let mut chunk = Vec::new();
    for room_id in state.store.public_rooms().await? {
        let current = state.store.current_state(&room_id).await?;
        let content_of = |t: &str, key: &str| {
            current
                .iter()
                .find(|e| e["type"] == t)
                .and_then(|e| e["content"][key].as_str())
                .map(String::from)
        };
        let joined = current
            .iter()
            .filter(|e| e["type"] == "m.room.member" && e["content"]["membership"] == "join")
            .count();
        let mut entry = json!({
            "room_id": room_id,
            "num_joined_members": joined,
            "world_readable": content_of("m.room.history_visibility", "history_visibility").as_deref() == Some("world_readable"),
            "guest_can_join": false,
            "join_rule": content_of("m.room.join_rules", "join_rule").unwrap_or_else(|| "invite".into()),
        });
        for (key, t, field) in [
            ("name", "m.room.name", "name"),
            ("topic", "m.room.topic", "topic"),
            ("canonical_alias", "m.room.canonical_alias", "alias"),
        ] {
            if let Some(v) = content_of(t, field) {
                entry[key] = json!(v);
            }
        }
        chunk.push(entry);
    }
    let total = chunk.len();
    Ok(Json(
        json!({"chunk": chunk, "total_room_count_estimate": total}),
    ))
}

/// # `POST /_matrix/client/v3/user_directory/search`
/// Users sharing a room with the searcher or in a public room; `check_username_for_spam`
/// may hide each result.
pub(super) async fn user_directory_route(
    State(state): State<AppState>,
    who: Requester,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    let term = body
        .get("search_term")
        .and_then(Value::as_str)
        .ok_or_else(|| MatrixError::bad_json("Missing search_term"))?
        .to_lowercase();
    let limit = body.get("limit").and_then(Value::as_u64).unwrap_or(10) as usize;
    let mut candidates: Vec<String> = Vec::new();
    let mut rooms: Vec<String> = state
        .store
        .rooms_of(&who.user_id)
        .await?
        .into_iter()
        .filter(|(_, m)| m == "join")
        .map(|(r, _)| r)
        .collect();
    rooms.extend(state.store.public_rooms().await?);
    for room_id in rooms {
        for ev in state.store.current_state(&room_id).await? {
            if ev["type"] == "m.room.member" && ev["content"]["membership"] == "join" {
                let user = ev["state_key"].as_str().unwrap_or_default().to_string();
                if user != who.user_id && !candidates.contains(&user) {
                    candidates.push(user);
                }
            }
        }
    }
    let mut results = Vec::new();
    for user_id in candidates {
        let (display_name, avatar_url) = state.store.get_profile(&user_id).await?;
        let matches = user_id.to_lowercase().contains(&term)
            || display_name
                .as_deref()
                .is_some_and(|d| d.to_lowercase().contains(&term));
        if !matches {
            continue;
        }
        let profile = UserProfile {
            user_id: user_id.clone(),
            display_name: display_name.clone(),
            avatar_url: avatar_url.clone(),
        };
        if state
            .modules
            .check_username_for_spam(&profile, &who.user_id)
            .await?
        {
            continue;
        }
        results.push(
            json!({"user_id": user_id, "display_name": display_name, "avatar_url": avatar_url}),
        );
    }
    let limited = results.len() > limit;
    results.truncate(limit);
    Ok(Json(json!({"results": results, "limited": limited})))
}

/// # `GET /_matrix/client/v3/rooms/{roomId}/aliases`
/// The local aliases pointing at a room the requester is joined to (403 otherwise).
pub(super) async fn room_aliases_route(
    State(state): State<AppState>,
    who: Requester,
    Path(room_id): Path<String>,
) -> MatrixResult<Json<Value>> {
    crate::service::rooms::require_joined(&state, &room_id, &who.user_id).await?;
    let aliases = state.store.room_aliases(&room_id).await?;
    Ok(Json(json!({ "aliases": aliases })))
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/_matrix/client/v3/rooms/{room}/aliases",
            get(room_aliases_route),
        )
        .route(
            "/_matrix/client/v3/directory/room/{alias}",
            put(put_alias_route)
                .get(get_alias_route)
                .delete(delete_alias_route),
        )
        .route(
            "/_matrix/client/v3/directory/list/room/{room}",
            put(put_visibility_route).get(get_visibility_route),
        )
        .route(
            "/_matrix/client/v3/publicRooms",
            get(public_rooms_route).post(public_rooms_route),
        )
        .route(
            "/_matrix/client/v3/user_directory/search",
            post(user_directory_route),
        )
}
