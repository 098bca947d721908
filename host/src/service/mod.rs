//! Domain logic behind the handlers: creating events (with the module checks Synapse runs
//! at event creation), membership changes, and serialising events for clients.

pub mod account_data;
pub mod admin;
pub mod auth;
pub mod background;
pub mod events;
pub mod filters;
pub mod history;
pub mod login;
pub mod media;
pub mod membership;
pub mod module_api;
pub mod notifications;
pub mod password;
pub(crate) mod power;
pub mod presence;
pub mod profile;
pub mod push_eval;
pub mod push_gateway;
pub mod push_rules;
pub mod pushers;
pub mod ratelimit;
pub mod receipts;
pub mod registration;
pub mod rooms;
pub mod session;
pub mod sync;
pub mod typing;
pub mod uia;
pub mod upgrade;
