//! Loading the configured modules in two phases (every `parse_config`, then every
//! constructor in `modules:` order) and freezing what they registered.

pub mod dispatch;
mod file_watch;
mod host_api;
pub(crate) mod invoke;
pub mod isolated;
mod private_copy;
mod registry;
mod resolve;
pub mod stats;
pub mod tasks;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RArc, RResult};
use plugin_sdk::ffi::{ErrorKind, FfiError, HostApi_TO};
use plugin_sdk::render_path;
use tokio::runtime::Handle;

use crate::config::{Config, ConfigError, ConfigErrors, Isolation, ModuleEntry};
use crate::loader::{self, LoadedLibrary};
use isolated::protocol::Info;

/// The error kind of a library that did not load (never crosses the ABI).
const LOAD_FAILED: ErrorKind = ErrorKind(isolated::runner::LOAD_FAILED);
use host_api::{ModuleHost, Registration, Shared};
use registry::RegistryBuilder;

pub use dispatch::{AuthError, AuthOutcome, CallbackError, UpdateTarget};
pub use host_api::{HostServices, ServicesSlot};
pub use invoke::Failure;
pub use registry::{Registered, Registry, WebResource};

/// What is known about one loaded module (for logs and diagnostics).
#[derive(Debug, Clone)]
pub struct ModuleSummary {
    /// Display name (library file name without `lib` and extension).
    pub name: Arc<str>,
    /// The library file.
    pub path: PathBuf,
    /// Crate name and version the module reports.
    pub crate_name: String,
    /// Crate version.
    pub version: String,
    /// The plugin-sdk version it was built against.
    pub sdk_version: String,
    /// What it registered.
    pub registered: Vec<String>,
    /// The library file's size in bytes.
    pub size: u64,
    /// SHA-256 of the library file (lowercase hex), for a `sha256:` pin.
    pub sha256: String,
    /// Its callback time limit.
    pub timeout: std::time::Duration,
    /// Its `on_failure:` policy.
    pub on_failure: crate::config::OnFailure,
    /// Its runner process, for a module with `isolation: process`.
    pub process: Option<Arc<isolated::link::Link>>,
}

impl ModuleSummary {
    /// As JSON, for the admin API.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": &*self.name,
            "path": self.path.display().to_string(),
            "size": self.size,
            "sha256": self.sha256,
            "crate": self.crate_name,
            "version": self.version,
            "sdk_version": self.sdk_version,
            "registered": self.registered,
            "timeout_ms": self.timeout.as_millis() as u64,
            "on_failure": format!("{:?}", self.on_failure).to_lowercase(),
            "isolation": if self.process.is_some() { "process" } else { "in_process" },
            "process": self.process.as_ref().map(|link| link.status().to_json()),
        })
    }
}

/// Every configured module, constructed, with its callbacks frozen.
pub struct LoadedModules {
    /// The frozen chains and web resources.
    pub registry: Arc<Registry>,
    /// One entry per module, in `modules:` order.
    pub modules: Vec<ModuleSummary>,
    /// Where the server plugs in the module API once its database is open.
    pub services: ServicesSlot,
    /// Background tasks the modules started.
    pub tasks: Arc<tasks::ModuleTasks>,
}

struct Parsed<'a> {
    entry: &'a ModuleEntry,
    name: Arc<str>,
    /// The module's own file (operators know it by this, not by the private copy).
    path: PathBuf,
    /// What the library says about itself: crate name, version, plugin-sdk version.
    info: isolated::protocol::Info,
    /// Where its code runs.
    kind: Kind,
    /// The private copy opened (see [`private_copy`]).
    copy: private_copy::PrivateCopy,
}

/// A module loaded into this process, or into a runner process of its own.
enum Kind {
    InProcess {
        library: LoadedLibrary,
        config_handle: u64,
    },
    Isolated(Arc<isolated::link::Link>),
}

fn module_error(
    config: &Config,
    entry: &ModuleEntry,
    name: &str,
    path: &std::path::Path,
    message: String,
) -> ConfigError {
    ConfigError::new(
        &config.file,
        &entry.yaml_path(),
        format!("module '{name}' ({}): {message}", path.display()),
    )
}

/// Load, configure and construct every module of `config`, in Synapse's two phases: every
/// module's `parse_config`, then every constructor in `modules:` order. All problems are
/// collected and returned together; on success registration is closed and the registry
/// frozen.
pub async fn load_modules(config: &Config, runtime: Handle) -> Result<LoadedModules, ConfigErrors> {
    let parsed = parse_all(config).await.map_err(ConfigErrors)?;
    let copies: Vec<PathBuf> = parsed.iter().map(|p| p.copy.path.clone()).collect();
    if !copies.is_empty() {
        private_copy::remove_stale(&private_copy::folder(config), &copies);
    }
    file_watch::spawn(&runtime, parsed.iter().map(watched).collect());
    let services = ServicesSlot::default();
    let tasks: Arc<tasks::ModuleTasks> = Arc::default();
    let limits = parsed
        .iter()
        .map(|p| {
            let timeout = p.entry.timeout.unwrap_or(config.module_callback_timeout);
            (timeout, p.entry.on_failure)
        })
        .collect();
    let shared = Arc::new(Shared {
        tasks: Arc::clone(&tasks),
        services: services.clone(),
        server_name: config.server_name.clone(),
        runtime,
        registration: Mutex::new(Registration::Open(RegistryBuilder::new(limits))),
    });
    let mut errors = construct_all(config, &parsed, &shared).await;
    let builder = shared
        .registration
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .close()
        .expect("registration is open until here");
    let names: Vec<Arc<str>> = parsed.iter().map(|p| Arc::clone(&p.name)).collect();
    let registry = builder.freeze(&names).map_err(|problems| {
        for (index, message) in problems {
            let at = parsed[index].entry.yaml_path();
            errors.push(ConfigError::new(&config.file, &at, message));
        }
        ConfigErrors(errors.clone())
    })?;
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    let modules = parsed
        .iter()
        .enumerate()
        .map(|(index, p)| summary(config, p, registry.describe(index)))
        .collect();
    Ok(LoadedModules {
        registry: Arc::new(registry),
        modules,
        services,
        tasks,
    })
}

/// Phase 1: open every library and parse its configuration; every problem is reported.
async fn parse_all(config: &Config) -> Result<Vec<Parsed<'_>>, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut parsed: Vec<Parsed<'_>> = Vec::new();
    let mut seen: Vec<(resolve::FileId, usize)> = Vec::new();
    for entry in &config.modules {
        match open_one(config, entry, &mut seen, &parsed).await {
            Ok(p) => parsed.push(p),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(errors)
    }
}

/// Resolve, load and configure one `modules:` entry. `seen` holds the files loaded so far
/// (one file backs one entry); `earlier` the entries parsed before it (to tell apart files
/// that share a name).
async fn open_one<'c>(
    config: &'c Config,
    entry: &'c ModuleEntry,
    seen: &mut Vec<(resolve::FileId, usize)>,
    earlier: &[Parsed<'_>],
) -> Result<Parsed<'c>, ConfigError> {
    let mut resolved = resolve::resolve(config, entry)
        .map_err(|message| ConfigError::new(&config.file, &entry.yaml_path(), message))?;
    if let Some((_, first)) = seen.iter().find(|(id, _)| *id == resolved.id) {
        return Err(module_error(
            config,
            entry,
            &resolved.name,
            &resolved.path,
            format!(
                "this library is already loaded for modules[{first}]; one library file backs \
                 one module entry (copy it under another file name to run a second instance)"
            ),
        ));
    }
    seen.push((resolved.id, entry.index));
    // Two files with the same name (in different folders) must still be told apart in logs.
    if earlier.iter().any(|p| *p.name == *resolved.name) {
        resolved.name = format!("{}#{}", resolved.name, entry.index);
    }
    let copy = private_copy::install(
        &private_copy::folder(config),
        &resolved.path,
        &resolved.name,
        entry.sha256.as_deref(),
    )
    .map_err(|message| ConfigError::new(&config.file, &entry.yaml_path(), message))?;
    let json = entry.config.to_string();
    let (info, kind) = match entry.isolation {
        Isolation::InProcess => open_here(&copy.path, &json),
        Isolation::Process { .. } => {
            open_isolated(config, entry, &resolved.name, &copy.path, json).await
        }
    }
    .map_err(|err| config_error(config, entry, &resolved.name, &resolved.path, err))?;
    Ok(Parsed {
        entry,
        name: Arc::from(resolved.name.as_str()),
        path: resolved.path,
        info,
        kind,
        copy,
    })
}

/// Load the library at `path` into this process and parse `json`.
fn open_here(path: &std::path::Path, json: &str) -> Result<(Info, Kind), FfiError> {
    let library =
        loader::load(path).map_err(|failure| FfiError::new(LOAD_FAILED, failure.to_string()))?;
    let info = Info {
        name: library.info.name.to_string(),
        version: library.info.version.to_string(),
        sdk_version: library.info.sdk_version.to_string(),
    };
    match (library.root.parse_config())(json.into()) {
        RResult::ROk(config_handle) => Ok((
            info,
            Kind::InProcess {
                library,
                config_handle,
            },
        )),
        RResult::RErr(err) => Err(err),
    }
}

/// The folder of module `name`'s own files (`module-files/<name>` beside `loaded-modules/`),
/// made if missing, readable by the server's user only.
fn files_dir(config: &Config, name: &str) -> Result<PathBuf, FfiError> {
    use std::os::unix::fs::DirBuilderExt as _;
    let copies = private_copy::folder(config);
    let dir = copies
        .parent()
        .unwrap_or(&copies)
        .join("module-files")
        .join(name);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| FfiError::new(LOAD_FAILED, format!("cannot make {}: {e}", dir.display())))?;
    Ok(dir)
}

/// Start a runner process for `entry` that loads the library at `path` and parses `json`.
async fn open_isolated(
    config: &Config,
    entry: &ModuleEntry,
    name: &str,
    path: &std::path::Path,
    json: String,
) -> Result<(Info, Kind), FfiError> {
    let Isolation::Process {
        memory_limit_mb,
        max_concurrent_calls,
        sandbox,
        busy_poll_us,
    } = entry.isolation
    else {
        unreachable!("only isolated entries come here");
    };
    let spec = isolated::link::Spec {
        name: Arc::from(name),
        library: path.to_path_buf(),
        config_json: json,
        server_name: config.server_name.clone(),
        memory_limit_mb,
        max_concurrent_calls,
        log_level: host_api::max_log_level(),
        files_dir: files_dir(config, name)?,
        sandbox,
        busy_poll_us,
    };
    let (link, info) = isolated::link::Link::configure(spec)
        .await
        .map_err(FfiError::from)?;
    Ok((info, Kind::Isolated(link)))
}

/// Phase 2: construct each module in `modules:` order; each registers through its own host
/// handle. Returns the constructors' failures.
async fn construct_all(
    config: &Config,
    parsed: &[Parsed<'_>],
    shared: &Arc<Shared>,
) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for (index, p) in parsed.iter().enumerate() {
        let host = ModuleHost {
            index,
            name: Arc::clone(&p.name),
            shared: Arc::clone(shared),
        };
        let started = match &p.kind {
            Kind::InProcess {
                library,
                config_handle,
            } => {
                let api = HostApi_TO::from_ptr(RArc::new(host), TD_Opaque);
                (library.root.init())(*config_handle, api).into_result()
            }
            Kind::Isolated(link) => link.start(host).await,
        };
        if let Err(err) = started {
            let message = match err.kind {
                ErrorKind::PANICKED => err.message.to_string(),
                _ => format!("failed to start: {}", err.message),
            };
            errors.push(module_error(config, p.entry, &p.name, &p.path, message));
        } else {
            tracing::info!(module = %p.name, "Loaded module");
        }
    }
    errors
}

/// The watch on `p`'s original file.
fn watched(p: &Parsed<'_>) -> file_watch::Watched {
    file_watch::Watched {
        module: Arc::clone(&p.name),
        path: p.path.clone(),
        sha256: p.copy.sha256.clone(),
        stamp: p.copy.stamp,
    }
}

/// What operators see of one loaded module (start-up log, admin API).
fn summary(config: &Config, p: &Parsed<'_>, registered: Vec<String>) -> ModuleSummary {
    ModuleSummary {
        name: Arc::clone(&p.name),
        path: p.path.clone(),
        crate_name: p.info.name.clone(),
        version: p.info.version.clone(),
        sdk_version: p.info.sdk_version.clone(),
        registered,
        size: std::fs::metadata(&p.path).map_or(0, |m| m.len()),
        sha256: p.copy.sha256.clone(),
        timeout: p.entry.timeout.unwrap_or(config.module_callback_timeout),
        on_failure: p.entry.on_failure,
        process: match &p.kind {
            Kind::Isolated(link) => Some(Arc::clone(link)),
            Kind::InProcess { .. } => None,
        },
    }
}

fn config_error(
    config: &Config,
    entry: &ModuleEntry,
    name: &str,
    path: &std::path::Path,
    err: FfiError,
) -> ConfigError {
    let message = err.message.to_string();
    match err.kind {
        ErrorKind::CONFIG => {
            let inner: Vec<String> =
                serde_json::from_str::<serde_json::Value>(err.details.as_str())
                    .ok()
                    .and_then(|d| serde_json::from_value(d.get("path")?.clone()).ok())
                    .unwrap_or_default();
            let mut yaml_path = format!("{}.config", entry.yaml_path());
            let rendered = render_path(&inner);
            if !rendered.is_empty() {
                if !rendered.starts_with('[') {
                    yaml_path.push('.');
                }
                yaml_path.push_str(&rendered);
            }
            ConfigError::new(
                &config.file,
                &yaml_path,
                format!("module '{name}' ({}): {message}", path.display()),
            )
        }
        ErrorKind::PANICKED | LOAD_FAILED => module_error(config, entry, name, path, message),
        _ => module_error(
            config,
            entry,
            name,
            path,
            format!("parse_config failed: {message}"),
        ),
    }
}
