//! Start-up: configuration, modules, database, router, listener.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::api::{self, AppState};
use crate::config::{Config, ConfigError, ConfigErrors};
use crate::modules::{load_modules, LoadedModules};
use crate::storage::Store;
use crate::web;

/// A configured server, modules constructed, not yet listening.
pub struct Server {
    /// The configuration.
    pub config: Config,
    /// The loaded modules.
    pub modules: LoadedModules,
    /// The database, once opened.
    pub store: Option<Store>,
    /// The state shared by the client API and the module API (one instance, so a module's
    /// writes wake `/sync` long-polls).
    state: Option<AppState>,
}

impl Server {
    /// Load the configuration's modules (on the current tokio runtime) without touching the
    /// database: what `modhost check-config` does.
    pub async fn load(config: Config) -> Result<Server, ConfigErrors> {
        let modules = load_modules(&config, tokio::runtime::Handle::current()).await?;
        for m in &modules.modules {
            tracing::info!(
                module = %m.name, path = %m.path.display(), size = m.size, sha256 = %m.sha256,
                version = %m.version, sdk = %m.sdk_version, registered = ?m.registered, "module ready"
            );
        }
        Ok(Server {
            config,
            modules,
            store: None,
            state: None,
        })
    }

    /// Check that a PostgreSQL database can be reached (`modhost check-config`); the error
    /// names the URL with its password masked. An SQLite file is not touched: opening it would
    /// create it, and a missing file is not a problem.
    pub async fn check_database(&self) -> Result<(), String> {
        match &self.config.database {
            crate::config::Database::Sqlite { .. } => Ok(()),
            database @ crate::config::Database::Postgres { .. } => {
                let store = Store::connect(database).await?;
                store.close_cleanly().await;
                Ok(())
            }
        }
    }

    /// Read `file` and load its modules, reporting configuration problems and module
    /// problems together (a broken setting does not hide a broken module).
    pub async fn load_file(file: &Path) -> Result<Server, ConfigErrors> {
        let (config, mut errors) = Config::load_partial(file)?;
        let Some(config) = config else {
            return Err(ConfigErrors(errors));
        };
        match Server::load(config).await {
            Ok(server) if errors.is_empty() => Ok(server),
            Ok(_) => Err(ConfigErrors(errors)),
            Err(more) => {
                errors.extend(more.0);
                // Module problems (their `config:` values) are located like the file's own.
                if let Ok(text) = std::fs::read_to_string(file) {
                    crate::config::locate_all(&text, &mut errors);
                }
                Err(ConfigErrors(errors))
            }
        }
    }

    /// Load the modules and open (creating or migrating) the database.
    pub async fn open(config: Config) -> Result<Server, ConfigErrors> {
        let mut server = Server::load(config).await?;
        server.open_store().await?;
        Ok(server)
    }

    /// Open (creating or migrating) the database.
    pub async fn open_store(&mut self) -> Result<(), ConfigErrors> {
        let database = &self.config.database;
        let fail =
            |e| ConfigErrors::one(ConfigError::new(&self.config.file, database.setting(), e));
        let store = Store::open(database).await.map_err(fail)?;
        store.check_writable().await.map_err(fail)?;
        // admin_users is the whole truth: listed users are admins, nobody else is.
        store
            .sync_admins(&self.config.admin_users)
            .await
            .map_err(|e| {
                ConfigErrors::one(ConfigError::new(
                    &self.config.file,
                    "admin_users",
                    format!("cannot apply admin_users: {e}"),
                ))
            })?;
        // Background updates start once the database is open and this instance is the
        // background leader, paced by any controller module.
        let state = AppState::new(
            self.config.clone(),
            store.clone(),
            Arc::clone(&self.modules.registry),
            self.modules.modules.clone(),
            Arc::clone(&self.modules.tasks),
        );
        // Modules can now reach the module API (HostApi::call).
        self.modules.services.set(Arc::new(state.clone()));
        tokio::spawn(crate::service::module_api::InvalidationFeed::run(
            state.clone(),
        ));
        tokio::spawn(crate::service::instances::listen(state.clone()));
        tokio::spawn(crate::service::leader::elect(state.clone()));
        self.state = Some(state.clone());
        crate::service::push_gateway::resume(&state);
        tokio::spawn(async move { state.run_background_updates().await });
        self.store = Some(store);
        Ok(())
    }

    /// The HTTP application: the client API (when the database is open), the server's own
    /// routes, module web resources, and Matrix errors for everything else.
    pub fn app(&self) -> Router {
        let registry = Arc::clone(&self.modules.registry);
        let mut app = web::router(Arc::clone(&registry), self.config.max_module_request_body);
        if let Some(state) = &self.state {
            app = app.merge(api::client_routes(state.clone()));
        } else {
            app = app.merge(web::plain_health());
        }
        // The sync notifier's own series follow the HTTP and module ones on the page.
        let (sync_state, leader_state) = (self.state.clone(), self.state.clone());
        let isolated: Vec<_> = self
            .modules
            .modules
            .iter()
            .filter_map(|m| Some((Arc::clone(&m.name), Arc::clone(m.process.as_ref()?))))
            .collect();
        let scraped = crate::metrics::Scraped {
            gauges: Arc::new(move || {
                leader_state
                    .iter()
                    .map(|state| state.leadership.gauge())
                    .collect()
            }),
            text: Arc::new(move || {
                let sync = sync_state
                    .as_ref()
                    .map(|state| state.notifier.render_metrics())
                    .unwrap_or_default();
                sync + &crate::modules::isolated::link::render_metrics(&isolated)
            }),
        };
        app = crate::metrics::instrument(app, registry, scraped);
        app = app.layer(axum::middleware::from_fn(web::plain_errors::to_matrix));
        let app = app.method_not_allowed_fallback(|| async {
            web::matrix_error(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "M_UNRECOGNIZED",
                "Unrecognized request",
            )
        });
        // Around the routes: CORS for browsers (preflights answered here), and the r0 paths
        // clients still use mapped onto their v3 twins before routing.
        let outer = tower::ServiceBuilder::new()
            .layer(web::cors())
            .map_request(web::r0_to_v3)
            .service(app);
        Router::new().fallback_service(outer)
    }

    /// Bind the configured address (or `listen` if given) and serve until Ctrl-C or SIGTERM
    /// (the listener's limits and shutdown: [`crate::listener`]); then stop the modules'
    /// background tasks and checkpoint and close the database.
    pub async fn serve(self, listen: Option<SocketAddr>) -> std::io::Result<()> {
        let addr = listen.unwrap_or(self.config.listen);
        let listener = TcpListener::bind(addr).await?;
        // The SIGTERM handler is in place before "listening" is logged: a supervisor that
        // stops the server as soon as it is up must get a clean shutdown, not the default
        // action of the signal.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tracing::info!(address = %listener.local_addr()?, "listening");
        // The peer address feeds the spam checkers' `request_info` (api::extract::RequestInfo);
        // the listener attaches it to every request.
        let limits = crate::listener::BodyLimits::from_config(&self.config);
        let served = crate::listener::serve(
            listener,
            self.app(),
            self.config.listener,
            limits,
            async move {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                tracing::info!("shutting down");
            },
        )
        .await;
        self.shutdown();
        if let Some(store) = &self.store {
            store.close_cleanly().await;
        }
        served
    }

    /// Stop every module background task (logged by module and task name).
    pub fn shutdown(&self) {
        let stopped = self.modules.tasks.stop_all();
        tracing::info!(stopped, "module background tasks stopped");
    }
}
