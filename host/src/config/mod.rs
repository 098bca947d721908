//! `homeserver.yaml`: parsed strictly (unknown keys are errors), relative paths resolved
//! against the config file's directory, every problem reported with the file and YAML path.

mod error;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

pub use error::{ConfigError, ConfigErrors};

/// The validated server configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub file: PathBuf,
    /// The homeserver's `server_name`.
    pub server_name: String,
    /// Address the HTTP listener binds.
    pub listen: SocketAddr,
    /// Where bare module names are looked up.
    pub plugins_dir: PathBuf,
    /// The SQLite database file.
    pub database_path: PathBuf,
    /// Whether `/register` is open to anyone.
    pub enable_registration: bool,
    /// How long one module callback may run before it counts as failed.
    pub module_callback_timeout: Duration,
    /// Largest request body handed to a module web resource.
    pub max_module_request_body: usize,
    /// The `modules:` list, in priority order.
    pub modules: Vec<ModuleEntry>,
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
}

impl ModuleEntry {
    /// `modules[3]`.
    pub fn yaml_path(&self) -> String {
        format!("modules[{}]", self.index)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    server_name: String,
    #[serde(default = "default_listen")]
    listen: String,
    #[serde(default = "default_plugins_dir")]
    plugins_dir: PathBuf,
    #[serde(default)]
    database: RawDatabase,
    #[serde(default)]
    enable_registration: bool,
    #[serde(default = "default_timeout_ms")]
    module_callback_timeout_ms: u64,
    #[serde(default = "default_body_limit")]
    max_module_request_body_bytes: usize,
    #[serde(default)]
    modules: Option<Vec<serde_yaml_ng::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    #[serde(default = "default_db_path")]
    path: PathBuf,
}

impl Default for RawDatabase {
    fn default() -> Self {
        RawDatabase {
            path: default_db_path(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:8008".into()
}
fn default_plugins_dir() -> PathBuf {
    "plugins".into()
}
fn default_db_path() -> PathBuf {
    "data/homeserver.db".into()
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_body_limit() -> usize {
    1024 * 1024
}

impl Config {
    /// Read and validate `file`.
    pub fn load(file: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            ConfigErrors::one(ConfigError::new(
                file,
                "",
                format!("cannot read config file: {e}"),
            ))
        })?;
        Config::parse(file, &text)
    }

    /// Validate `text` as if read from `file`.
    pub fn parse(file: &Path, text: &str) -> Result<Config, ConfigErrors> {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        let raw: RawConfig = serde_path_to_error::deserialize(de).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            let location = inner.location().map(|l| (l.line(), l.column()));
            let path = if path == "." { String::new() } else { path };
            ConfigErrors::one(
                ConfigError::new(file, &path, strip_location(&inner.to_string())).at(location),
            )
        })?;

        let base = file.parent().unwrap_or(Path::new("."));
        let mut errors = Vec::new();
        let listen = raw.listen.parse().unwrap_or_else(|_| {
            errors.push(ConfigError::new(
                file,
                "listen",
                format!("{:?} is not an address such as 127.0.0.1:8008", raw.listen),
            ));
            SocketAddr::from(([127, 0, 0, 1], 8008))
        });
        if raw.server_name.trim().is_empty() || raw.server_name.contains('/') {
            errors.push(ConfigError::new(
                file,
                "server_name",
                "must be a host name such as example.org",
            ));
        }
        let modules = module_entries(file, raw.modules.unwrap_or_default(), &mut errors);
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        Ok(Config {
            file: file.to_path_buf(),
            server_name: raw.server_name,
            listen,
            plugins_dir: base.join(raw.plugins_dir),
            database_path: base.join(raw.database.path),
            enable_registration: raw.enable_registration,
            module_callback_timeout: Duration::from_millis(raw.module_callback_timeout_ms.max(1)),
            max_module_request_body: raw.max_module_request_body_bytes,
            modules,
        })
    }
}

/// serde_yaml puts "at line X column Y" into its messages; we report the location ourselves.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn module_entries(
    file: &Path,
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
        let mut config = Value::Object(Default::default());
        for (key, value) in map {
            match key.as_str() {
                Some("module") => match value {
                    Y::String(s) if !s.trim().is_empty() => module = Some(s),
                    _ => errors.push(ConfigError::new(
                        file,
                        &format!("{at}.module"),
                        "expected a string",
                    )),
                },
                Some("config") => match yaml_to_json(value) {
                    Ok(Value::Null) => {}
                    Ok(v) => config = v,
                    Err(e) => errors.push(ConfigError::new(file, &format!("{at}.config"), e)),
                },
                other => errors.push(ConfigError::new(
                    file,
                    &at,
                    format!(
                        "unknown key {:?}: a module entry has `module:` and `config:`",
                        other.unwrap_or("(not a string)")
                    ),
                )),
            }
        }
        match module {
            Some(module) => out.push(ModuleEntry {
                index,
                module,
                config,
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

fn yaml_to_json(value: serde_yaml_ng::Value) -> Result<Value, String> {
    serde_json::to_value(&value).map_err(|e| format!("cannot be expressed as JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(Path::new("conf/hs.yaml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn minimal_config_gets_defaults_and_relative_paths() {
        let c = parse("server_name: example.org\n").unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8008");
        assert_eq!(c.plugins_dir, Path::new("conf/plugins"));
        assert!(c.modules.is_empty());
    }

    #[test]
    fn null_config_becomes_empty_object() {
        let c = parse("server_name: a\nmodules:\n  - module: demo\n    config:\n  - module: x\n")
            .unwrap();
        assert_eq!(c.modules[0].config, serde_json::json!({}));
        assert_eq!(c.modules[1].config, serde_json::json!({}));
    }

    #[test]
    fn unknown_top_level_key_names_file_line_and_key() {
        let err = parse("server_name: a\nlisten_addr: x\n").unwrap_err();
        assert!(
            err.contains("conf/hs.yaml:2:1: listen_addr: unknown field `listen_addr`"),
            "{err}"
        );
    }

    #[test]
    fn yaml_syntax_error_has_line_and_column() {
        let err = parse("server_name: a\nmodules: [\n").unwrap_err();
        assert!(err.starts_with("conf/hs.yaml:3:1:"), "{err}");
    }

    #[test]
    fn bad_entries_are_all_reported() {
        let err = parse(
            "server_name: a\nmodules:\n  - demo\n  - config: {}\n  - module: x\n    confg: 1\n",
        )
        .unwrap_err();
        assert!(err.contains("modules[0]: expected a mapping"), "{err}");
        assert!(err.contains("modules[1].module: missing"), "{err}");
        assert!(err.contains("modules[2]: unknown key \"confg\""), "{err}");
    }
}
