//! The Matrix client-server API (`/_matrix/client/v3`), one file per area. Handlers stay
//! thin: extract, check, consult the module chains, call a service, answer.

mod account;
pub mod error;
pub mod extract;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use tokio::sync::watch;

use crate::config::Config;
use crate::modules::Registry;
use crate::storage::Store;

/// Everything a handler needs.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

/// The shared parts of [`AppState`].
pub struct Inner {
    /// The server configuration.
    pub config: Config,
    /// The database.
    pub store: Store,
    /// The module chains.
    pub modules: Arc<Registry>,
    /// Bumped after every write that `/sync` may report; long-polls wait on it.
    pub changes: watch::Sender<u64>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl AppState {
    /// Bundle the server's parts.
    pub fn new(config: Config, store: Store, modules: Arc<Registry>) -> Self {
        AppState {
            inner: Arc::new(Inner {
                config,
                store,
                modules,
                changes: watch::channel(0).0,
            }),
        }
    }

    /// Wake every waiting `/sync`.
    pub fn notify_change(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    /// `@localpart:server_name`.
    pub fn user_id(&self, localpart: &str) -> String {
        format!("@{localpart}:{}", self.config.server_name)
    }
}

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
        .with_state(state)
}
