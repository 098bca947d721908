//! Server-side key backups (client-server spec v1.12 §"Server-side key backups"):
//! `/room_keys/version[/{version}]` and `/room_keys/keys[/{roomId}[/{sessionId}]]`. The
//! rules live in `service::room_keys`.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::extract::{JsonBody, MatrixQuery, Requester};
use super::AppState;
use crate::error::MatrixResult;
use crate::service::room_keys::{self, KeyScope};

/// The `?version=` every `/room_keys/keys` request needs (400 `M_MISSING_PARAM` without).
#[derive(Deserialize)]
pub(super) struct VersionQuery {
    version: String,
}

type Answer = MatrixResult<Json<Value>>;
type Body = JsonBody<Map<String, Value>>;

/// # `POST /_matrix/client/v3/room_keys/version` (body `{algorithm, auth_data}`)
pub(super) async fn create_version_route(
    State(state): State<AppState>,
    who: Requester,
    JsonBody(body): Body,
) -> Answer {
    room_keys::create_version(&state, &who, &body)
        .await
        .map(Json)
}

/// # `GET /_matrix/client/v3/room_keys/version`: the current version.
pub(super) async fn current_version_route(State(state): State<AppState>, who: Requester) -> Answer {
    room_keys::version_info(&state, &who, None).await.map(Json)
}

/// # `GET /_matrix/client/v3/room_keys/version/{version}`
pub(super) async fn get_version_route(
    State(state): State<AppState>,
    who: Requester,
    Path(version): Path<String>,
) -> Answer {
    room_keys::version_info(&state, &who, Some(&version))
        .await
        .map(Json)
}

/// # `PUT /_matrix/client/v3/room_keys/version/{version}` (body `{algorithm, auth_data}`)
pub(super) async fn update_version_route(
    State(state): State<AppState>,
    who: Requester,
    Path(version): Path<String>,
    JsonBody(body): Body,
) -> Answer {
    room_keys::update_version(&state, &who, &version, &body)
        .await
        .map(Json)
}

/// # `DELETE /_matrix/client/v3/room_keys/version/{version}`
pub(super) async fn delete_version_route(
    State(state): State<AppState>,
    who: Requester,
    Path(version): Path<String>,
) -> Answer {
    room_keys::delete_version(&state, &who, &version)
        .await
        .map(Json)
}

/// # `GET /_matrix/client/v3/room_keys/keys?version=`
pub(super) async fn get_all_route(
    State(state): State<AppState>,
    who: Requester,
    MatrixQuery(q): MatrixQuery<VersionQuery>,
) -> Answer {
    room_keys::get_keys(&state, &who, &q.version, KeyScope::All)
        .await
        .map(Json)
}

/// # `PUT /_matrix/client/v3/room_keys/keys?version=` (body `{rooms}`)
pub(super) async fn put_all_route(
    State(state): State<AppState>,
    who: Requester,
    MatrixQuery(q): MatrixQuery<VersionQuery>,
    JsonBody(body): Body,
) -> Answer {
    room_keys::put_keys(&state, &who, &q.version, KeyScope::All, &body)
        .await
        .map(Json)
}

/// # `DELETE /_matrix/client/v3/room_keys/keys?version=`
pub(super) async fn delete_all_route(
    State(state): State<AppState>,
    who: Requester,
    MatrixQuery(q): MatrixQuery<VersionQuery>,
) -> Answer {
    room_keys::delete_keys(&state, &who, &q.version, KeyScope::All)
        .await
        .map(Json)
}

/// # `GET /_matrix/client/v3/room_keys/keys/{roomId}?version=`
pub(super) async fn get_room_route(
    State(state): State<AppState>,
    who: Requester,
    Path(room): Path<String>,
    MatrixQuery(q): MatrixQuery<VersionQuery>,
) -> Answer {
    room_keys::get_keys(&state, &who, &q.version, KeyScope::Room(&room))
        .await
        .map(Json)
}

/// # `PUT /_matrix/client/v3/room_keys/keys/{roomId}?version=` (body `{sessions}`)
pub(super) async fn put_room_route(
    State(state): State<AppState>,
    who: Requester,
    Path(room): Path<String>,
    MatrixQuery(q): MatrixQuery<VersionQuery>,
    JsonBody(body): Body,
) -> Answer {
    room_keys::put_keys(&state, &who, &q.version, KeyScope::Room(&room), &body)
        .await
        .map(Json)
}

/// # `DELETE /_matrix/client/v3/room_keys/keys/{roomId}?version=`
pub(super) async fn delete_room_route(
    State(state): State<AppState>,
    who: Requester,
    Path(room): Path<String>,
    MatrixQuery(q): MatrixQuery<VersionQuery>,
) -> Answer {
    room_keys::delete_keys(&state, &who, &q.version, KeyScope::Room(&room))
        .await
        .map(Json)
}

/// # `GET /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId}?version=`
pub(super) async fn get_session_route(
    State(state): State<AppState>,
    who: Requester,
    Path((room, session)): Path<(String, String)>,
    MatrixQuery(q): MatrixQuery<VersionQuery>,
) -> Answer {
    let scope = KeyScope::Session(&room, &session);
    room_keys::get_keys(&state, &who, &q.version, scope)
        .await
        .map(Json)
}

/// # `PUT /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId}?version=` (body
/// `KeyBackupData`)
pub(super) async fn put_session_route(
    State(state): State<AppState>,
    who: Requester,
    Path((room, session)): Path<(String, String)>,
    MatrixQuery(q): MatrixQuery<VersionQuery>,
    JsonBody(body): Body,
) -> Answer {
    let scope = KeyScope::Session(&room, &session);
    room_keys::put_keys(&state, &who, &q.version, scope, &body)
        .await
        .map(Json)
}

/// # `DELETE /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId}?version=`
pub(super) async fn delete_session_route(
    State(state): State<AppState>,
    who: Requester,
    Path((room, session)): Path<(String, String)>,
    MatrixQuery(q): MatrixQuery<VersionQuery>,
) -> Answer {
    let scope = KeyScope::Session(&room, &session);
    room_keys::delete_keys(&state, &who, &q.version, scope)
        .await
        .map(Json)
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    const PREFIX: &str = "/_matrix/client/v3/room_keys";
    Router::new()
        .route(
            &format!("{PREFIX}/version"),
            post(create_version_route).get(current_version_route),
        )
        .route(
            &format!("{PREFIX}/version/{{version}}"),
            get(get_version_route)
                .put(update_version_route)
                .delete(delete_version_route),
        )
        .route(
            &format!("{PREFIX}/keys"),
            get(get_all_route)
                .put(put_all_route)
                .delete(delete_all_route),
        )
        .route(
            &format!("{PREFIX}/keys/{{room}}"),
            get(get_room_route)
                .put(put_room_route)
                .delete(delete_room_route),
        )
        .route(
            &format!("{PREFIX}/keys/{{room}}/{{session}}"),
            get(get_session_route)
                .put(put_session_route)
                .delete(delete_session_route),
        )
}
