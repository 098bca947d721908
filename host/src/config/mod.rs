//! `homeserver.yaml`: parsed strictly (unknown keys are errors), relative paths resolved
//! against the config file's directory, every problem reported with the file and YAML path.

mod error;
mod locate;
mod modules;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

pub use error::{ConfigError, ConfigErrors};
use modules::module_entries;
pub use modules::{ModuleEntry, OnFailure};

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
    /// Where uploaded media files are kept.
    pub media_store_path: PathBuf,
    /// Largest upload accepted.
    pub max_upload_size: u64,
    /// Password login switches (Synapse's `password_config`).
    pub password_config: PasswordConfig,
    /// Invite rate limits: `(per_second, burst_count)` for `per_room`, `per_user`, `per_issuer`.
    pub rc_invites: RcInvites,
    /// Users (MXIDs) who are server admins.
    pub admin_users: Vec<String>,
    /// Whether `/register` is open to anyone.
    pub enable_registration: bool,
    /// How long one module callback may run before it counts as failed.
    pub module_callback_timeout: Duration,
    /// Largest request body handed to a module web resource.
    pub max_module_request_body: usize,
    /// The URL clients reach this server at, ending in `/` (modules build links from it).
    pub public_baseurl: String,
    /// How long a module's store transaction may stay open before the host rolls it back
    /// (SQLite has one writer: an open transaction holds every other write up).
    pub module_transaction_timeout: Duration,
    /// How the log is written (`text` or `json`; `RUST_LOG_FORMAT` overrides it).
    pub log_format: crate::logging::LogFormat,
    /// The `modules:` list, in priority order.
    pub modules: Vec<ModuleEntry>,
}

/// A token-bucket rate: `per_second` refill, `burst_count` capacity.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Actions per second.
    pub per_second: f64,
    /// Bucket size.
    pub burst_count: f64,
}

/// Synapse's `password_config`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordConfig {
    /// `m.login.password` at all.
    pub enabled: bool,
    /// Fall back to the local password database when no module authenticates.
    pub localdb_enabled: bool,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        PasswordConfig {
            enabled: true,
            localdb_enabled: true,
        }
    }
}

/// Synapse's `rc_invites` (same defaults).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RcInvites {
    /// Invites into one room.
    pub per_room: Rate,
    /// Invites received by one user.
    pub per_user: Rate,
    /// Invites sent by one user.
    pub per_issuer: Rate,
}

impl Default for RcInvites {
    fn default() -> Self {
        RcInvites {
            per_room: Rate {
                per_second: 0.3,
                burst_count: 10.0,
            },
            per_user: Rate {
                per_second: 0.003,
                burst_count: 5.0,
            },
            per_issuer: Rate {
                per_second: 0.3,
                burst_count: 10.0,
            },
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    #[serde(default = "default_db_path")]
    path: PathBuf,
}

/// Top-level keys, in the order they are documented.
pub const KNOWN_KEYS: &[&str] = &[
    "server_name",
    "listen",
    "plugins_dir",
    "database",
    "media_store_path",
    "max_upload_size",
    "enable_registration",
    "admin_users",
    "rc_invites",
    "password_config",
    "module_callback_timeout_ms",
    "max_module_request_body_bytes",
    "public_baseurl",
    "module_transaction_timeout_ms",
    "log_format",
    "modules",
];

fn default_db_path() -> PathBuf {
    "data/homeserver.db".into()
}

/// Reads each top-level field on its own, so one bad field does not hide the others.
struct Fields<'a> {
    file: &'a Path,
    text: &'a str,
    map: serde_yaml_ng::Mapping,
    errors: Vec<ConfigError>,
}

impl Fields<'_> {
    fn get<T: serde::de::DeserializeOwned>(
        &mut self,
        key: &str,
        default: impl FnOnce() -> Option<T>,
    ) -> Option<T> {
        match self.map.remove(key) {
            None | Some(serde_yaml_ng::Value::Null) => {
                let value = default();
                if value.is_none() {
                    self.errors.push(ConfigError::new(
                        self.file,
                        key,
                        "missing: this setting is required",
                    ));
                }
                value
            }
            Some(v) => match serde_path_to_error::deserialize::<_, T>(v) {
                Ok(value) => Some(value),
                Err(err) => {
                    let inner = err.path().to_string();
                    let path = if inner == "." {
                        key.to_string()
                    } else {
                        format!("{key}.{inner}")
                    };
                    let message = strip_location(&err.into_inner().to_string());
                    self.errors.push(
                        ConfigError::new(self.file, &path, message)
                            .at(locate::locate(self.text, &path)),
                    );
                    None
                }
            },
        }
    }
}

impl Config {
    /// Read and validate `file`.
    pub fn load(file: &Path) -> Result<Config, ConfigErrors> {
        let text = read(file)?;
        Config::parse(file, &text)
    }

    /// Validate `text` as if read from `file`.
    pub fn parse(file: &Path, text: &str) -> Result<Config, ConfigErrors> {
        match Config::parse_partial(file, text) {
            (Some(config), errors) if errors.is_empty() => Ok(config),
            (_, errors) => Err(ConfigErrors(errors)),
        }
    }

    /// Read `file`, returning a best-effort configuration (defaults where a setting is
    /// broken) together with every problem found, so that module problems can be reported
    /// alongside them. `None` when the file is not a YAML mapping at all.
    pub fn load_partial(file: &Path) -> Result<(Option<Config>, Vec<ConfigError>), ConfigErrors> {
        let text = read(file)?;
        Ok(Config::parse_partial(file, &text))
    }

    /// See [`Config::load_partial`].
    pub fn parse_partial(file: &Path, text: &str) -> (Option<Config>, Vec<ConfigError>) {
        let value: serde_yaml_ng::Value = match serde_yaml_ng::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                let location = e.location().map(|l| (l.line(), l.column()));
                return (
                    None,
                    vec![ConfigError::new(file, "", strip_location(&e.to_string())).at(location)],
                );
            }
        };
        let map = match value {
            serde_yaml_ng::Value::Mapping(m) => m,
            serde_yaml_ng::Value::Null => Default::default(),
            _ => {
                return (
                    None,
                    vec![ConfigError::new(file, "", "expected a mapping of settings")],
                )
            }
        };
        let mut f = Fields {
            file,
            text,
            map,
            errors: Vec::new(),
        };
        let unknown: Vec<String> = f
            .map
            .keys()
            .map(|k| k.as_str().map_or_else(|| format!("{k:?}"), String::from))
            .filter(|k| !KNOWN_KEYS.contains(&k.as_str()))
            .collect();
        for key in unknown {
            f.map.remove(key.as_str());
            f.errors.push(
                ConfigError::new(
                    file,
                    &key,
                    format!(
                        "unknown setting `{key}`; known settings: {}",
                        KNOWN_KEYS.join(", ")
                    ),
                )
                .at(locate::locate(text, &key)),
            );
        }

        let server_name: Option<String> = f.get("server_name", || None);
        let listen_text: String = f
            .get("listen", || Some("127.0.0.1:8008".to_string()))
            .unwrap_or_default();
        let plugins_dir: PathBuf = f
            .get("plugins_dir", || Some("plugins".into()))
            .unwrap_or_default();
        let database: Option<RawDatabase> = f.get("database", || {
            Some(RawDatabase {
                path: default_db_path(),
            })
        });
        let media_store_path: PathBuf = f
            .get("media_store_path", || Some("data/media".into()))
            .unwrap_or_default();
        let max_upload_size: u64 = f
            .get("max_upload_size", || Some(50 * 1024 * 1024))
            .unwrap_or(50 * 1024 * 1024);
        let password_config: PasswordConfig = f
            .get("password_config", || Some(PasswordConfig::default()))
            .unwrap_or_default();
        let rc_invites: RcInvites = f
            .get("rc_invites", || Some(RcInvites::default()))
            .unwrap_or_default();
        let admin_users: Vec<String> = f
            .get("admin_users", || Some(Vec::new()))
            .unwrap_or_default();
        let enable_registration: bool = f
            .get("enable_registration", || Some(false))
            .unwrap_or(false);
        let timeout_ms: u64 = f
            .get("module_callback_timeout_ms", || Some(10_000))
            .unwrap_or(10_000);
        let body_limit: usize = f
            .get("max_module_request_body_bytes", || Some(1024 * 1024))
            .unwrap_or(1024 * 1024);
        let public_baseurl: Option<String> = f
            .get::<Option<String>>("public_baseurl", || Some(None))
            .flatten();
        let txn_timeout_ms: u64 = f
            .get("module_transaction_timeout_ms", || Some(5_000))
            .unwrap_or(5_000);
        // A module transaction holds SQLite's write lock; every other write waits at most the
        // database's busy timeout, so a transaction must give up first.
        let txn_timeout_ms = if txn_timeout_ms == 0
            || txn_timeout_ms >= crate::storage::BUSY_TIMEOUT_MS
        {
            f.errors.push(
                ConfigError::new(
                    file,
                    "module_transaction_timeout_ms",
                    format!(
                        "must be between 1 and {} (the database busy timeout: a module transaction must end before other writes give up)",
                        crate::storage::BUSY_TIMEOUT_MS - 1
                    ),
                )
                .at(locate::locate(text, "module_transaction_timeout_ms")),
            );
            5_000
        } else {
            txn_timeout_ms
        };
        let log_format = f
            .get("log_format", || Some(crate::logging::LogFormat::Text))
            .unwrap_or_default();
        let raw_modules: Vec<serde_yaml_ng::Value> =
            f.get("modules", || Some(Vec::new())).unwrap_or_default();
        let mut errors = f.errors;

        let listen = listen_text.parse().unwrap_or_else(|_| {
            if !listen_text.is_empty() {
                errors.push(
                    ConfigError::new(
                        file,
                        "listen",
                        format!("{listen_text:?} is not an address such as 127.0.0.1:8008"),
                    )
                    .at(locate::locate(text, "listen")),
                );
            }
            SocketAddr::from(([127, 0, 0, 1], 8008))
        });
        let server_name = server_name.unwrap_or_default();
        if !server_name.is_empty()
            && (server_name.trim() != server_name || server_name.contains('/'))
        {
            errors.push(ConfigError::new(
                file,
                "server_name",
                "must be a host name such as example.org",
            ));
        }
        let public_baseurl = match public_baseurl {
            None => format!("http://{listen}/"),
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                if url.ends_with('/') {
                    url
                } else {
                    format!("{url}/")
                }
            }
            Some(url) => {
                errors.push(
                    ConfigError::new(
                        file,
                        "public_baseurl",
                        format!("{url:?} is not an http:// or https:// URL"),
                    )
                    .at(locate::locate(text, "public_baseurl")),
                );
                String::new()
            }
        };
        let modules = module_entries(file, text, raw_modules, &mut errors);
        let base = file.parent().unwrap_or(Path::new("."));
        let config = Config {
            file: file.to_path_buf(),
            server_name,
            listen,
            plugins_dir: base.join(plugins_dir),
            database_path: base.join(database.map_or_else(default_db_path, |d| d.path)),
            media_store_path: base.join(media_store_path),
            max_upload_size,
            admin_users,
            rc_invites,
            password_config,
            enable_registration,
            module_callback_timeout: Duration::from_millis(timeout_ms.max(1)),
            max_module_request_body: body_limit,
            public_baseurl,
            module_transaction_timeout: Duration::from_millis(txn_timeout_ms.max(1)),
            log_format,
            modules,
        };
        locate_all(text, &mut errors);
        (Some(config), errors)
    }
}

/// Give every problem that has no line and column yet the place where its YAML path is
/// written in `text` (the config file's contents), so operators get `file:line:column` for
/// module entries and module `config:` values too.
pub fn locate_all(text: &str, errors: &mut [ConfigError]) {
    for e in errors.iter_mut().filter(|e| e.location.is_none()) {
        // A missing key has no place of its own: point at the entry that lacks it.
        let parent = e.path.rfind('.').map(|i| &e.path[..i]);
        e.location =
            locate::locate(text, &e.path).or_else(|| parent.and_then(|p| locate::locate(text, p)));
    }
}

fn read(file: &Path) -> Result<String, ConfigErrors> {
    std::fs::read_to_string(file).map_err(|e| {
        ConfigErrors::one(ConfigError::new(
            file,
            "",
            format!("cannot read config file: {e}"),
        ))
    })
}

/// serde_yaml puts "at line X column Y" into its messages; we report the location ourselves.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

pub(crate) fn yaml_to_json(value: serde_yaml_ng::Value) -> Result<Value, String> {
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
    fn module_transactions_must_end_before_other_writes_give_up() {
        let err = parse("server_name: a\nmodule_transaction_timeout_ms: 10000\n").unwrap_err();
        assert!(
            err.contains("module_transaction_timeout_ms: must be between 1 and 9999 (the database busy timeout"),
            "{err}"
        );
        let ok = parse("server_name: a\nmodule_transaction_timeout_ms: 300\n").unwrap();
        assert_eq!(ok.module_transaction_timeout, Duration::from_millis(300));
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
            err.contains("conf/hs.yaml:2:1: listen_addr: unknown setting `listen_addr`; known settings: server_name, listen,"),
            "{err}"
        );
    }

    #[test]
    fn yaml_syntax_error_has_line_and_column() {
        let err = parse("server_name: a\nmodules: [\n").unwrap_err();
        assert!(err.starts_with("conf/hs.yaml:3:1:"), "{err}");
    }

    #[test]
    fn every_top_level_problem_is_reported_at_once() {
        let err = parse("server_name: a\nlisten: nowhere\nlisten_addr: x\nenable_regstration: true\nmodule_callback_timeout_ms: soon\n").unwrap_err();
        assert!(
            err.contains("conf/hs.yaml:2:1: listen: \"nowhere\" is not an address"),
            "{err}"
        );
        assert!(
            err.contains("conf/hs.yaml:3:1: listen_addr: unknown setting"),
            "{err}"
        );
        assert!(
            err.contains("conf/hs.yaml:4:1: enable_regstration: unknown setting"),
            "{err}"
        );
        assert!(err.contains("conf/hs.yaml:5:1: module_callback_timeout_ms: invalid type: string \"soon\", expected u64"), "{err}");
        assert_eq!(err.lines().count(), 4, "{err}");
    }

    #[test]
    fn server_name_is_required() {
        assert_eq!(
            parse("listen: 127.0.0.1:1\n").unwrap_err(),
            "conf/hs.yaml: server_name: missing: this setting is required"
        );
    }

    #[test]
    fn bad_entries_are_all_reported() {
        let err = parse(
            "server_name: a\nmodules:\n  - demo\n  - config: {}\n  - module: x\n    confg: 1\n",
        )
        .unwrap_err();
        assert!(err.contains("modules[0]: expected a mapping"), "{err}");
        assert!(err.contains("modules[1].module: missing"), "{err}");
        assert!(
            err.contains("conf/hs.yaml:6:5: modules[2]: unknown key \"confg\": a module entry has `module:`, `config:` and optional"),
            "{err}"
        );
        assert!(
            err.contains("conf/hs.yaml:3:5: modules[0]: expected a mapping"),
            "{err}"
        );
    }
}
