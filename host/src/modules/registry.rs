//! Callback chains and web resources: collected while modules are constructed, then frozen
//! into an immutable [`Registry`] that request handling reads without locks.

use std::sync::Arc;
use std::time::Duration;

use abi_stable::std_types::RBox;
use plugin_sdk::catalogue::Hook;
use plugin_sdk::ffi::{CallbackFn_TO, WebHandler_TO};
use serde_json::Value;

use crate::config::OnFailure;
use crate::web::paths;

/// One module's callback in a chain.
pub struct Registered {
    /// Display name of the module that registered it.
    pub module: Arc<str>,
    /// The module's position in `modules:`.
    pub module_index: usize,
    /// Which callback.
    pub hook: Hook,
    /// Registration metadata (an auth checker's login type and fields), or `null`.
    pub meta: Value,
    /// Calls, denials, failures and sampled latency.
    pub stats: super::stats::CallbackStats,
    /// This module's callback time limit.
    pub timeout: Duration,
    /// What a failure of this module's verdict callbacks counts as.
    pub on_failure: OnFailure,
    pub(crate) callback: CallbackFn_TO<RBox<()>>,
}

/// A module web resource.
pub struct WebResource {
    /// The absolute path (sub-paths go to the same handler).
    pub path: String,
    /// Display name of the owning module.
    pub module: Arc<str>,
    /// The owning module's position among the loaded modules.
    pub module_index: usize,
    /// The owning module's time limit.
    pub timeout: Duration,
    pub(crate) handler: WebHandler_TO<RBox<()>>,
}

/// The frozen chains, in `modules:` order.
pub struct Registry {
    chains: Vec<Box<[Registered]>>,
    /// Web resources, first registration per path.
    pub web: Vec<WebResource>,
    /// Each module's follow-up runner (`sdk.run_deferred`), by module index.
    runners: Vec<Option<Registered>>,
    /// Each module's cache invalidator (`sdk.invalidate_cache`), by module index.
    invalidators: Vec<Option<Registered>>,
}

impl Registry {
    /// The callbacks registered for `hook`, in priority order.
    pub fn chain(&self, hook: Hook) -> &[Registered] {
        &self.chains[hook as usize]
    }

    /// Every registered callback (not the SDK's internal ones).
    pub fn all_callbacks(&self) -> impl Iterator<Item = &Registered> {
        self.chains.iter().flat_map(|c| c.iter())
    }

    pub(crate) fn runner(&self, module_index: usize) -> Option<&Registered> {
        self.runners.get(module_index).and_then(Option::as_ref)
    }

    /// The cache invalidator of the module named `module`, if it registered one.
    pub(crate) fn invalidator(&self, module: &str) -> Option<&Registered> {
        self.invalidators
            .iter()
            .flatten()
            .find(|r| &*r.module == module)
    }

    /// `(module, category.callback)` for everything registered, in registration order per
    /// callback: used for start-up logs.
    pub fn describe(&self, module_index: usize) -> Vec<String> {
        let mut out: Vec<String> = self
            .chains
            .iter()
            .flat_map(|c| c.iter())
            .filter(|r| r.module_index == module_index && r.hook.info().category != "sdk")
            .map(|r| format!("{}.{}", r.hook.info().category, r.hook.info().name))
            .collect();
        out.extend(
            self.web
                .iter()
                .filter(|w| w.module_index == module_index)
                .map(|w| format!("web resource {}", w.path)),
        );
        out
    }
}

/// Collects registrations during start-up.
pub(crate) struct RegistryBuilder {
    chains: Vec<Vec<Registered>>,
    web: Vec<WebResource>,
    runners: Vec<Option<Registered>>,
    invalidators: Vec<Option<Registered>>,
    background_owner: Option<(usize, Arc<str>)>,
    background_refused: std::collections::HashSet<usize>,
    /// Each module's time limit and verdict failure policy, by module index.
    policies: Vec<(Duration, OnFailure)>,
}

/// What became of a registration.
pub(crate) enum Accepted {
    Yes,
    /// Ignored, with a warning for the log.
    Ignored(String),
    /// Ignored; the warning was already given.
    Silently,
}

impl RegistryBuilder {
    /// A builder for modules with these `(time limit, on_failure)` policies, by index.
    pub(crate) fn new(policies: Vec<(Duration, OnFailure)>) -> Self {
        let modules = policies.len();
        RegistryBuilder {
            chains: (0..Hook::COUNT).map(|_| Vec::new()).collect(),
            web: Vec::new(),
            runners: (0..modules).map(|_| None).collect(),
            invalidators: (0..modules).map(|_| None).collect(),
            background_owner: None,
            background_refused: Default::default(),
            policies,
        }
    }

    /// Add a callback; `Err` is refused (the module's registration call fails).
    pub(crate) fn add_callback(
        &mut self,
        module: &Arc<str>,
        module_index: usize,
        category: &str,
        name: &str,
        meta: &str,
        callback: CallbackFn_TO<RBox<()>>,
    ) -> Result<Accepted, String> {
        let Some(hook) = Hook::lookup(category, name) else {
            return Ok(Accepted::Ignored(format!(
                "module '{module}' registered callback {category}.{name}, which this host \
                 (plugin-sdk {}) does not know; it is ignored",
                crate::loader::host_sdk_version()
            )));
        };
        let meta: Value = if meta.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(meta).map_err(|e| format!("invalid registration metadata: {e}"))?
        };
        let entry = Registered {
            module: Arc::clone(module),
            module_index,
            hook,
            meta,
            stats: Default::default(),
            timeout: self.policies[module_index].0,
            on_failure: self.policies[module_index].1,
            callback,
        };
        match hook {
            Hook::RunDeferred => {
                self.runners[module_index] = Some(entry);
                return Ok(Accepted::Yes);
            }
            Hook::InvalidateCache => {
                self.invalidators[module_index] = Some(entry);
                return Ok(Accepted::Yes);
            }
            Hook::OnUpdate | Hook::DefaultBatchSize | Hook::MinBatchSize => {
                match &self.background_owner {
                    Some((owner, _)) if *owner == module_index => {}
                    Some((_, owner_name)) => {
                        let owner_name = Arc::clone(owner_name);
                        let first_refusal = self.background_refused.insert(module_index);
                        let warning = format!(
                            "module '{module}' tried to register background update controller \
                             callbacks, but module '{owner_name}' already did; only the first is used"
                        );
                        return Ok(if first_refusal {
                            Accepted::Ignored(warning)
                        } else {
                            Accepted::Silently
                        });
                    }
                    None => self.background_owner = Some((module_index, Arc::clone(module))),
                }
            }
            Hook::OnLegacySendMail | Hook::OnLegacyRenew | Hook::OnLegacyAdminRequest
                if !self.chains[hook as usize].is_empty() =>
            {
                return Err(format!("Tried to register {name} twice"));
            }
            Hook::AuthChecker => check_login_type_conflict(&self.chains[hook as usize], &entry)?,
            _ => {}
        }
        self.chains[hook as usize].push(entry);
        Ok(Accepted::Yes)
    }

    pub(crate) fn add_web_resource(
        &mut self,
        module: &Arc<str>,
        module_index: usize,
        path: &str,
        handler: WebHandler_TO<RBox<()>>,
    ) -> Result<Accepted, String> {
        paths::validate(path)?;
        // A resource serves its path and everything below it, so an earlier resource at the
        // same path or above this one already owns it: first registration wins.
        let owned_by =
            |w: &&WebResource| path == w.path || path.starts_with(&format!("{}/", w.path));
        if let Some(existing) = self.web.iter().find(owned_by) {
            let what = if existing.path == path {
                "this path".to_string()
            } else {
                format!("{}, which covers it", existing.path)
            };
            return Ok(Accepted::Ignored(format!(
                "module '{module}' tried to register a web resource for path {path}, but module \
                 '{}' has already registered a resource for {what}; the first one is kept",
                existing.module
            )));
        }
        self.web.push(WebResource {
            path: path.to_string(),
            module: Arc::clone(module),
            module_index,
            timeout: self.policies[module_index].0,
            handler,
        });
        Ok(Accepted::Yes)
    }

    /// Checks that need every module's registrations, then the frozen registry.
    pub(crate) fn freeze(
        self,
        module_names: &[Arc<str>],
    ) -> Result<Registry, Vec<(usize, String)>> {
        let mut errors = Vec::new();
        for (index, name) in module_names.iter().enumerate() {
            let has = |hook: Hook| {
                self.chains[hook as usize]
                    .iter()
                    .any(|r| r.module_index == index)
            };
            if has(Hook::GetUsersForStates) != has(Hook::GetInterestedUsers) {
                errors.push((
                    index,
                    format!(
                        "module '{name}': PresenceRouter modules must register neither or both of \
                         the paired callbacks: [get_users_for_states, get_interested_users]"
                    ),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Registry {
            chains: self.chains.into_iter().map(Vec::into_boxed_slice).collect(),
            web: self.web,
            runners: self.runners,
            invalidators: self.invalidators,
        })
    }
}

/// Synapse documents that two modules registering one login type with different fields
/// refuse to start (its code never checks; we do).
fn check_login_type_conflict(existing: &[Registered], new: &Registered) -> Result<(), String> {
    let login_type = new.meta.get("login_type");
    for other in existing {
        if other.meta.get("login_type") == login_type
            && other.meta.get("fields") != new.meta.get("fields")
        {
            return Err(format!(
                "module '{}' registers login type {} with fields {}, but module '{}' registered it \
                 with fields {}",
                new.module,
                login_type.unwrap_or(&Value::Null),
                new.meta.get("fields").unwrap_or(&Value::Null),
                other.module,
                other.meta.get("fields").unwrap_or(&Value::Null),
            ));
        }
    }
    Ok(())
}
