//! Start-up: configuration, modules, router, listener.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::config::{Config, ConfigErrors};
use crate::modules::{load_modules, LoadedModules};
use crate::web;

/// A configured server, modules constructed, not yet listening.
pub struct Server {
    /// The configuration.
    pub config: Config,
    /// The loaded modules.
    pub modules: LoadedModules,
}

impl Server {
    /// Load the configuration's modules (on the current tokio runtime) and build the server.
    pub fn build(config: Config) -> Result<Server, ConfigErrors> {
        let modules = load_modules(&config, tokio::runtime::Handle::current())?;
        for m in &modules.modules {
            tracing::info!(
                module = %m.name, path = %m.path.display(), version = %m.version, sdk = %m.sdk_version,
                registered = ?m.registered, "module ready"
            );
        }
        Ok(Server { config, modules })
    }

    /// The HTTP application.
    pub fn app(&self) -> Router {
        web::router(
            Arc::clone(&self.modules.registry),
            self.config.max_module_request_body,
        )
    }

    /// Bind the configured address (or `listen` if given) and serve until Ctrl-C.
    pub async fn serve(self, listen: Option<SocketAddr>) -> std::io::Result<()> {
        let addr = listen.unwrap_or(self.config.listen);
        let listener = TcpListener::bind(addr).await?;
        tracing::info!(address = %listener.local_addr()?, "listening");
        axum::serve(listener, self.app())
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
    }
}
