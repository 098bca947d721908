//! Loading the configured modules in two phases (every `parse_config`, then every
//! constructor in `modules:` order) and freezing what they registered.

pub mod dispatch;
mod host_api;
pub(crate) mod invoke;
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

use crate::config::{Config, ConfigError, ConfigErrors, ModuleEntry};
use crate::loader::{self, LoadedLibrary};
use host_api::{ModuleHost, Shared};
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
    library: LoadedLibrary,
    config_handle: u64,
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

/// Load, configure and construct every module of `config`. All problems are collected and
/// returned together; on success registration is closed.
pub fn load_modules(config: &Config, runtime: Handle) -> Result<LoadedModules, ConfigErrors> {
    let mut errors = Vec::new();
    let mut parsed = Vec::new();
    let mut seen: Vec<(resolve::FileId, usize)> = Vec::new();

    // Phase 1: open every library and parse its configuration.
    for entry in &config.modules {
        let resolved = match resolve::resolve(config, entry) {
            Ok(r) => r,
            Err(message) => {
                errors.push(ConfigError::new(&config.file, &entry.yaml_path(), message));
                continue;
            }
        };
        if let Some((_, first)) = seen.iter().find(|(id, _)| *id == resolved.id) {
            errors.push(module_error(
                config,
                entry,
                &resolved.name,
                &resolved.path,
                format!(
                    "this library is already loaded for modules[{first}]; one library file backs \
                     one module entry (copy it under another file name to run a second instance)"
                ),
            ));
            continue;
        }
        seen.push((resolved.id, entry.index));
        // Two files with the same name (in different folders) must still be told apart in logs.
        let mut resolved = resolved;
        if parsed
            .iter()
            .any(|p: &Parsed<'_>| *p.name == *resolved.name)
        {
            resolved.name = format!("{}#{}", resolved.name, entry.index);
        }
        let library = match loader::load(&resolved.path) {
            Ok(l) => l,
            Err(failure) => {
                errors.push(module_error(
                    config,
                    entry,
                    &resolved.name,
                    &resolved.path,
                    failure.to_string(),
                ));
                continue;
            }
        };
        let json = entry.config.to_string();
        match (library.root.parse_config())(json.as_str().into()) {
            RResult::ROk(handle) => parsed.push(Parsed {
                entry,
                name: Arc::from(resolved.name.as_str()),
                library,
                config_handle: handle,
            }),
            RResult::RErr(err) => errors.push(config_error(
                config,
                entry,
                &resolved.name,
                &resolved.path,
                err,
            )),
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }

    // Phase 2: construct in `modules:` order; each registers through its own host handle.
    let services = ServicesSlot::default();
    let tasks: Arc<tasks::ModuleTasks> = Arc::default();
    let shared = Arc::new(Shared {
        tasks: Arc::clone(&tasks),
        services: services.clone(),
        server_name: config.server_name.clone(),
        runtime,
        builder: Mutex::new(Some(RegistryBuilder::new(
            parsed
                .iter()
                .map(|p| {
                    (
                        p.entry.timeout.unwrap_or(config.module_callback_timeout),
                        p.entry.on_failure,
                    )
                })
                .collect(),
        ))),
    });
    for (index, p) in parsed.iter().enumerate() {
        let host = ModuleHost {
            index,
            name: Arc::clone(&p.name),
            shared: Arc::clone(&shared),
        };
        let api = HostApi_TO::from_ptr(RArc::new(host), TD_Opaque);
        if let RResult::RErr(err) = (p.library.root.init())(p.config_handle, api) {
            let message = match err.kind {
                ErrorKind::PANICKED => err.message.to_string(),
                _ => format!("failed to start: {}", err.message),
            };
            errors.push(module_error(
                config,
                p.entry,
                &p.name,
                &p.library.path,
                message,
            ));
        } else {
            tracing::info!(module = %p.name, "Loaded module");
        }
    }
    let builder = shared
        .builder
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .expect("registration is open until here");
    let names: Vec<Arc<str>> = parsed.iter().map(|p| Arc::clone(&p.name)).collect();
    let registry = match builder.freeze(&names) {
        Ok(r) => r,
        Err(problems) => {
            for (index, message) in problems {
                errors.push(ConfigError::new(
                    &config.file,
                    &parsed[index].entry.yaml_path(),
                    message,
                ));
            }
            return Err(ConfigErrors(errors));
        }
    };
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }

    let modules = parsed
        .iter()
        .enumerate()
        .map(|(index, p)| ModuleSummary {
            name: Arc::clone(&p.name),
            path: p.library.path.clone(),
            crate_name: p.library.info.name.to_string(),
            version: p.library.info.version.to_string(),
            sdk_version: p.library.info.sdk_version.to_string(),
            registered: registry.describe(index),
            size: std::fs::metadata(&p.library.path).map_or(0, |m| m.len()),
            sha256: resolve::sha256_hex(&p.library.path).unwrap_or_default(),
            timeout: p.entry.timeout.unwrap_or(config.module_callback_timeout),
            on_failure: p.entry.on_failure,
        })
        .collect();
    Ok(LoadedModules {
        registry: Arc::new(registry),
        modules,
        services,
        tasks,
    })
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
        ErrorKind::PANICKED => module_error(config, entry, name, path, message),
        _ => module_error(
            config,
            entry,
            name,
            path,
            format!("parse_config failed: {message}"),
        ),
    }
}
