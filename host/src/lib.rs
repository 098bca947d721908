//! modhost: a Matrix homeserver core whose policy lives in shared-library modules.
//!
//! The library is what the `modhost` binary runs, exposed so tests and tools can drive the
//! module chains directly: [`config::Config`] reads `homeserver.yaml`,
//! [`modules::load_modules`] loads and constructs the modules, and the resulting
//! [`modules::Registry`] offers one async method per module callback, each applying
//! Synapse's combination rule and failure policy.

pub mod api;
pub mod config;
pub mod error;
pub mod listener;
pub mod loader;
pub mod logging;
pub mod metrics;
pub mod modules;
pub mod server;
pub mod service;
pub mod state;
pub mod web;

pub use config::Config;
pub use modules::{CallbackError, LoadedModules, Registry};
pub use server::Server;

pub mod storage;
