//! The `modules:` list: one entry per module, in priority order.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

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
}

impl ModuleEntry {
    /// `modules[3]`.
    pub fn yaml_path(&self) -> String {
        format!("modules[{}]", self.index)
    }
}

const KEYS: &str =
    "a module entry has `module:`, `config:` and optional `sha256:`, `timeout_ms:`, `on_failure:`";

pub(super) fn module_entries(
    file: &Path,
    text: &str,
    raw: Vec<serde_yaml_ng::Value>,
    errors: &mut Vec<ConfigError>,
) -> Vec<ModuleEntry> {
    use serde_yaml_ng::Value as Y;
    let mut out = Vec::new();
    for (index, item) in raw.into_iter().enumerate() {
        let at = format!("modules[{index}]");
        let Y::Mapping(map) = item else {
            errors.push(ConfigError::new(
                file,
                &at,
                "expected a mapping with `module:` and optional `config:`",
            ));
            continue;
        };
        let mut module = None;
        let mut sha256 = None;
        let mut timeout = None;
        let mut on_failure = OnFailure::Default;
        let mut config = Value::Object(Default::default());
        for (key, value) in map {
            let field = |name: &str| format!("{at}.{name}");
            match key.as_str() {
                Some("module") => match value {
                    Y::String(s) if !s.trim().is_empty() => module = Some(s),
                    _ => errors.push(ConfigError::new(
                        file,
                        &field("module"),
                        "expected a string",
                    )),
                },
                Some("sha256") => match value {
                    Y::String(s) if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
                        sha256 = Some(s.to_ascii_lowercase())
                    }
                    _ => errors.push(ConfigError::new(
                        file,
                        &field("sha256"),
                        "expected 64 hexadecimal digits (the output of sha256sum)",
                    )),
                },
                Some("timeout_ms") => match value.as_u64() {
                    Some(ms) if ms > 0 => timeout = Some(Duration::from_millis(ms)),
                    _ => errors.push(ConfigError::new(
                        file,
                        &field("timeout_ms"),
                        "expected a number of milliseconds greater than 0",
                    )),
                },
                Some("on_failure") => match value.as_str() {
                    Some("default") => on_failure = OnFailure::Default,
                    Some("allow") => on_failure = OnFailure::Allow,
                    Some("deny") => on_failure = OnFailure::Deny,
                    _ => errors.push(ConfigError::new(
                        file,
                        &field("on_failure"),
                        "expected default, allow (fail open) or deny (fail closed)",
                    )),
                },
                Some("config") => match yaml_to_json(value) {
                    Ok(Value::Null) => {}
                    Ok(v) => config = v,
                    Err(e) => errors.push(ConfigError::new(file, &field("config"), e)),
                },
                other => {
                    let key = other.unwrap_or("(not a string)");
                    // Located at the key itself, like unknown top-level settings.
                    let location = super::locate::locate(text, &field(key));
                    errors.push(
                        ConfigError::new(file, &at, format!("unknown key {key:?}: {KEYS}"))
                            .at(location),
                    )
                }
            }
        }
        match module {
            Some(module) => out.push(ModuleEntry {
                index,
                module,
                config,
                sha256,
                timeout,
                on_failure,
            }),
            None => errors.push(ConfigError::new(
                file,
                &format!("{at}.module"),
                "missing: name the module to load",
            )),
        }
    }
    out
}
