//! The `modules:` list: one entry per module, in priority order.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use serde_yaml_ng::Value as Yaml;

use super::{yaml_to_json, ConfigError};

/// What a failing verdict callback of one module counts as (`on_failure:`). Verdict
/// callbacks are the spam checks and the third-party rules' `check_*` callbacks; the others
/// keep their policy from Synapse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    /// The callback's own policy (spec §1.7): for spam checks, the request fails with 500.
    #[default]
    Default,
    /// Fail open: the failure counts as "allowed" and the next module is asked.
    Allow,
    /// Fail closed: the failure counts as a denial (403 `M_FORBIDDEN`).
    Deny,
}

/// One `modules:` entry.
#[derive(Debug, Clone)]
pub struct ModuleEntry {
    /// Position in `modules:`.
    pub index: usize,
    /// `module:` as written: a bare name or a path.
    pub module: String,
    /// `config:` as JSON (`{}` when missing or null).
    pub config: Value,
    /// `sha256:` pin of the library file (lowercase hex), if given.
    pub sha256: Option<String>,
    /// `timeout_ms:` for this module's callbacks, overriding `module_callback_timeout_ms`.
    pub timeout: Option<Duration>,
    /// `on_failure:` for this module's verdict callbacks.
    pub on_failure: OnFailure,
    /// `isolation:`: where the module's code runs.
    pub isolation: Isolation,
}

/// The largest web request body a module with `isolation: process` can receive, in bytes:
/// the request crosses to its process in one frame of at most 64 MiB.
pub const MAX_ISOLATED_REQUEST_BODY: usize = 60 << 20;

/// Where a module's code runs (`isolation:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// `in_process` (the default): loaded into the server itself; a crash of the module is a
    /// crash of the server.
    #[default]
    InProcess,
    /// `process`: loaded by a `modhost-module-runner` process of its own, restarted when it
    /// dies, held to the limits given.
    Process {
        /// `memory_limit_mb:`: the runner's address-space limit (RLIMIT_AS), in MiB.
        memory_limit_mb: Option<u64>,
        /// `max_concurrent_calls:`: calls in flight at once; more wait their turn (within
        /// the callback time limit).
        max_concurrent_calls: Option<u32>,
        /// `sandbox: strict`: files written only in the module's own folder, no sockets.
        sandbox: bool,
        /// `busy_poll_us:`: how long the runner's reader and the server's waiting call spin
        /// before they sleep, in µs (0, the default: they sleep at once). Buys latency with
        /// CPU time.
        busy_poll_us: u32,
    },
}

impl ModuleEntry {
    /// `modules[3]`.
    pub fn yaml_path(&self) -> String {
        format!("modules[{}]", self.index)
    }
}

const KEYS: &str =
    "a module entry has `module:`, `config:` and optional `sha256:`, `timeout_ms:`, \
     `on_failure:`, `isolation:`, `memory_limit_mb:`, `max_concurrent_calls:`, `sandbox:`, `busy_poll_us:`";

/// Read the `modules:` list `raw` of `text` (the contents of `file`): the valid entries, in
/// order, with every problem of the others pushed onto `errors` (each at `modules[i]` or
/// one of its keys).
pub(super) fn module_entries(
    file: &Path,
    text: &str,
    raw: Vec<Yaml>,
    errors: &mut Vec<ConfigError>,
) -> Vec<ModuleEntry> {
    raw.into_iter()
        .enumerate()
        .filter_map(|(index, item)| module_entry(file, text, index, item, errors))
        .collect()
}

/// Read entry `index` of `modules:` (`item`), pushing its problems onto `errors`; `None`
/// when it names no module.
fn module_entry(
    file: &Path,
    text: &str,
    index: usize,
    item: Yaml,
    errors: &mut Vec<ConfigError>,
) -> Option<ModuleEntry> {
    let at = format!("modules[{index}]");
    let Yaml::Mapping(map) = item else {
        errors.push(ConfigError::new(
            file,
            &at,
            "expected a mapping with `module:` and optional `config:`",
        ));
        return None;
    };
    let mut entry = Draft::default();
    for (key, value) in map {
        let key = key.as_str().unwrap_or("(not a string)");
        let field = format!("{at}.{key}");
        match entry.set(key, value) {
            Ok(true) => {}
            // Located at the key itself, like unknown top-level settings.
            Ok(false) => errors.push(
                ConfigError::new(file, &at, format!("unknown key {key:?}: {KEYS}"))
                    .at(super::locate::locate(text, &field)),
            ),
            Err(message) => errors.push(ConfigError::new(file, &field, message)),
        }
    }
    let isolation = entry.isolation(file, &at, errors);
    let Some(module) = entry.module else {
        errors.push(ConfigError::new(
            file,
            &format!("{at}.module"),
            "missing: name the module to load",
        ));
        return None;
    };
    let isolation = isolation?;
    Some(ModuleEntry {
        index,
        module,
        config: entry.config,
        sha256: entry.sha256,
        timeout: entry.timeout,
        on_failure: entry.on_failure,
        isolation,
    })
}

/// A module entry being read: what its keys have set so far.
struct Draft {
    module: Option<String>,
    sha256: Option<String>,
    timeout: Option<Duration>,
    on_failure: OnFailure,
    config: Value,
    process: bool,
    memory_limit_mb: Option<u64>,
    max_concurrent_calls: Option<u32>,
    sandbox: bool,
    busy_poll_us: Option<u32>,
}

impl Default for Draft {
    fn default() -> Self {
        Draft {
            module: None,
            sha256: None,
            timeout: None,
            on_failure: OnFailure::Default,
            config: Value::Object(Default::default()),
            process: false,
            memory_limit_mb: None,
            max_concurrent_calls: None,
            sandbox: false,
            busy_poll_us: None,
        }
    }
}

impl Draft {
    /// The entry's isolation; `None` (with the problem pushed onto `errors`) when limits are
    /// given to a module that runs in the server's process, where nothing can enforce them.
    fn isolation(&self, file: &Path, at: &str, errors: &mut Vec<ConfigError>) -> Option<Isolation> {
        if self.process {
            return Some(Isolation::Process {
                memory_limit_mb: self.memory_limit_mb,
                max_concurrent_calls: self.max_concurrent_calls,
                sandbox: self.sandbox,
                busy_poll_us: self.busy_poll_us.unwrap_or(0),
            });
        }
        let limit = [
            ("memory_limit_mb", self.memory_limit_mb.is_some()),
            ("max_concurrent_calls", self.max_concurrent_calls.is_some()),
            ("sandbox", self.sandbox),
            ("busy_poll_us", self.busy_poll_us.is_some()),
        ];
        if let Some((key, _)) = limit.iter().find(|(_, set)| *set) {
            let message = "needs `isolation: process` (a module in the server's process cannot be held to it)";
            errors.push(ConfigError::new(file, &format!("{at}.{key}"), message));
            return None;
        }
        Some(Isolation::InProcess)
    }

    /// Set `key` of the entry from its `value`. `Ok(false)` when `key` is not a key of module
    /// entries; `Err` with the message when the value is wrong.
    fn set(&mut self, key: &str, value: Yaml) -> Result<bool, String> {
        match key {
            "module" => match value {
                Yaml::String(s) if !s.trim().is_empty() => self.module = Some(s),
                _ => return Err("expected a string".into()),
            },
            "sha256" => match value {
                Yaml::String(s) if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    self.sha256 = Some(s.to_ascii_lowercase())
                }
                _ => return Err("expected 64 hexadecimal digits (the output of sha256sum)".into()),
            },
            "timeout_ms" => match value.as_u64() {
                Some(ms) if ms > 0 => self.timeout = Some(Duration::from_millis(ms)),
                _ => return Err("expected a number of milliseconds greater than 0".into()),
            },
            "on_failure" => {
                self.on_failure = match value.as_str() {
                    Some("default") => OnFailure::Default,
                    Some("allow") => OnFailure::Allow,
                    Some("deny") => OnFailure::Deny,
                    _ => {
                        return Err(
                            "expected default, allow (fail open) or deny (fail closed)".into()
                        )
                    }
                }
            }
            "isolation" => {
                self.process = match value.as_str() {
                    Some("in_process") => false,
                    Some("process") => true,
                    _ => return Err("expected in_process (the default) or process".into()),
                }
            }
            "sandbox" => match value.as_str() {
                Some("strict") => self.sandbox = true,
                Some("none") => self.sandbox = false,
                _ => return Err("expected strict or none (the default)".into()),
            },
            // The runtime and C library reserve address space they never touch: below 256 MiB
            // even a small module fails to map. At most 16 TiB.
            "memory_limit_mb" => match value.as_u64() {
                Some(mb) if (256..=1 << 24).contains(&mb) => self.memory_limit_mb = Some(mb),
                _ => return Err("expected a number of MiB from 256 to 16777216".into()),
            },
            // A spin longer than a millisecond costs more CPU than the wake-up it saves.
            "busy_poll_us" => match value.as_u64() {
                Some(us) if us <= 1000 => self.busy_poll_us = Some(us as u32),
                _ => return Err("expected a number of µs from 0 to 1000".into()),
            },
            "max_concurrent_calls" => match value.as_u64() {
                Some(n) if n > 0 && n <= 100_000 => self.max_concurrent_calls = Some(n as u32),
                _ => return Err("expected a number from 1 to 100000".into()),
            },
            "config" => match yaml_to_json(value)? {
                Value::Null => {}
                config => self.config = config,
            },
            _ => return Ok(false),
        }
        Ok(true)
    }
}
