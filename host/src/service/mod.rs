//! Domain logic behind the handlers: creating events (with the module checks Synapse runs
//! at event creation), membership changes, and serialising events for clients.

pub mod admin;
pub mod auth;
pub mod background;
pub mod events;
pub mod history;
pub mod membership;
pub mod module_api;
pub(crate) mod power;
pub mod profile;
pub mod ratelimit;
pub mod rooms;
pub mod session;
