//! The Matrix client-server API (`/_matrix/client/v3`), one file per area. Handlers stay
//! thin: extract, check, consult the module chains, call a service, answer.

pub(crate) mod account;
mod admin;
mod devices;
mod directory;
pub mod error;
pub mod extract;
mod media;
mod presence;
mod profile;
mod room_events;
pub(crate) mod rooms;
mod sync;
mod upgrade;

use axum::routing::{delete, get, post, put};
use axum::Router;

pub use crate::state::AppState;

/// The client-server API routes.
pub fn client_routes(state: AppState) -> Router {
    Router::new()
        .route("/_matrix/client/v3/register", post(account::register_route))
        .route(
            "/_matrix/client/v3/login",
            get(account::login_flows_route).post(account::login_route),
        )
        .route("/_matrix/client/v3/logout", post(account::logout_route))
        .route(
            "/_matrix/client/v3/logout/all",
            post(account::logout_all_route),
        )
        .route(
            "/_matrix/client/v3/account/whoami",
            get(account::whoami_route),
        )
        .route(
            "/_matrix/client/v3/createRoom",
            post(rooms::create_room_route),
        )
        .route("/_matrix/client/v3/join/{room}", post(rooms::join_route))
        .route(
            "/_matrix/client/v3/rooms/{room}/join",
            post(rooms::room_join_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/invite",
            post(rooms::invite_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/leave",
            post(rooms::leave_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/kick",
            post(rooms::kick_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/ban",
            post(rooms::ban_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/send/{event_type}/{txn}",
            put(room_events::send_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/state/{event_type}/{state_key}",
            put(room_events::put_state_route).get(room_events::get_state_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/state/{event_type}",
            put(room_events::put_state_empty_key_route).get(room_events::get_state_empty_key_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/state",
            get(room_events::all_state_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/event/{event_id}",
            get(room_events::get_event_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/messages",
            get(room_events::messages_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/members",
            get(room_events::members_route),
        )
        .route("/_matrix/client/v3/sync", get(sync::sync_route))
        .route(
            "/_matrix/client/v3/user/{user}/filter",
            post(sync::create_filter_route),
        )
        .route(
            "/_matrix/client/v3/user/{user}/filter/{id}",
            get(sync::get_filter_route),
        )
        .route(
            "/_matrix/client/v3/profile/{user}",
            get(profile::get_profile_route),
        )
        .route(
            "/_matrix/client/v3/profile/{user}/{field}",
            get(profile::get_profile_field_route).put(profile::put_profile_field_route),
        )
        .route(
            "/_matrix/client/v3/user/{user}/account_data/{data_type}",
            put(profile::put_global_account_data_route).get(profile::get_global_account_data_route),
        )
        .route(
            "/_matrix/client/v3/user/{user}/rooms/{room}/account_data/{data_type}",
            put(profile::put_room_account_data_route).get(profile::get_room_account_data_route),
        )
        .route(
            "/_matrix/client/v3/directory/room/{alias}",
            put(directory::put_alias_route)
                .get(directory::get_alias_route)
                .delete(directory::delete_alias_route),
        )
        .route(
            "/_matrix/client/v3/directory/list/room/{room}",
            put(directory::put_visibility_route).get(directory::get_visibility_route),
        )
        .route(
            "/_matrix/client/v3/publicRooms",
            get(directory::public_rooms_route).post(directory::public_rooms_route),
        )
        .route(
            "/_matrix/client/v3/user_directory/search",
            post(directory::user_directory_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/state/{event_type}/",
            put(room_events::put_state_empty_key_route).get(room_events::get_state_empty_key_route),
        )
        .route("/_matrix/client/v1/media/config", get(media::config_route))
        .route("/_matrix/media/v3/config", get(media::config_route))
        .route(
            "/_matrix/client/v1/media/download/{server}/{media_id}",
            get(media::download_route),
        )
        .route(
            "/_matrix/client/v1/media/download/{server}/{media_id}/{file_name}",
            get(media::download_route),
        )
        .route(
            "/_matrix/media/v3/download/{server}/{media_id}",
            get(media::legacy_download_route),
        )
        .route(
            "/_matrix/media/v3/download/{server}/{media_id}/{file_name}",
            get(media::legacy_download_route),
        )
        .route("/_matrix/media/v3/upload", post(media::upload_route))
        .route(
            "/_matrix/client/v3/account/deactivate",
            post(admin::deactivate_route),
        )
        .route(
            "/_synapse/admin/v1/deactivate/{user}",
            post(admin::admin_deactivate_route),
        )
        .route(
            "/_synapse/admin/v2/rooms/{room}",
            delete(admin::admin_delete_room_route),
        )
        .route(
            "/_synapse/admin/v1/modules",
            get(admin::admin_modules_route),
        )
        .route(
            "/_matrix/client/v3/presence/{user}/status",
            put(presence::put_presence_route).get(presence::get_presence_route),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/upgrade",
            post(upgrade::upgrade_route),
        )
        .route(
            "/_synapse/admin/v2/users/{user}",
            put(admin::admin_put_user_route),
        )
        .route("/_matrix/client/v3/devices", get(devices::devices_route))
        .route(
            "/_matrix/client/v3/devices/{device}",
            delete(devices::delete_device_route),
        )
        .with_state(state)
}
