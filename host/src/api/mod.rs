//! The Matrix client-server API (`/_matrix/client/v3`), one file per area. Handlers stay
//! thin: extract, check, consult the module chains, call a service, answer.

pub(crate) mod account;
mod admin;
mod context_search;
mod devices;
mod directory;
mod e2e_keys;
pub mod error;
pub mod extract;
mod health;
mod media;
mod openid;
mod password;
mod presence;
mod profile;
mod push;
mod push_rules;
mod receipts;
mod relations;
mod reports;
mod room_events;
mod room_keys;
pub(crate) mod rooms;
mod sync;
mod tags;
mod threepids;
mod thumbnail;
mod upgrade;

use axum::Router;

pub use crate::state::AppState;

/// The client-server API routes (and the admin API's), one table per area.
pub fn client_routes(state: AppState) -> Router {
    Router::new()
        .merge(account::routes())
        .merge(rooms::routes())
        .merge(room_events::routes())
        .merge(sync::routes())
        .merge(profile::routes())
        .merge(directory::routes())
        .merge(media::routes())
        .merge(thumbnail::routes())
        .merge(e2e_keys::routes())
        .merge(admin::routes())
        .merge(presence::routes())
        .merge(upgrade::routes())
        .merge(devices::routes())
        .merge(push_rules::routes())
        .merge(receipts::routes())
        .merge(relations::routes())
        .merge(password::routes())
        .merge(openid::routes())
        .merge(tags::routes())
        .merge(reports::routes())
        .merge(context_search::routes())
        .merge(push::routes())
        .merge(room_keys::routes())
        .merge(threepids::routes())
        .merge(health::routes())
        .with_state(state)
}
