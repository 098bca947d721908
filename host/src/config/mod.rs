//! `homeserver.yaml`: parsed strictly (unknown keys are errors), relative paths resolved
//! against the config file's directory, every problem reported at once with the file, YAML
//! path and line:column.
//!
//! The settings, their defaults and how each is read are one table, [`SETTINGS`]
//! (`settings.rs`); `modules:` entries are read in `modules.rs`.

mod database;
mod error;
mod http_client;
mod limits;
mod listener;
mod locate;
mod modules;
mod settings;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use serde_yaml_ng::Mapping;

pub use database::{mask_password, Database};
pub use error::{ConfigError, ConfigErrors};
pub use http_client::{ModuleHttpClient, DEFAULT_IP_RANGE_BLOCKLIST};
pub use limits::{PasswordHashing, PasswordPolicy, RcLogin, RcRegistration};
pub use listener::ListenerConfig;
pub use modules::{Isolation, ModuleEntry, OnFailure, MAX_ISOLATED_REQUEST_BODY};
pub use settings::{Setting, KNOWN_KEYS, SETTINGS};

/// The validated server configuration. Each field comes from the setting of [`SETTINGS`]
/// named in its doc (that setting's default when it is missing); relative paths are already
/// resolved against the config file's directory.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub file: PathBuf,
    /// `server_name`: the homeserver's name (required).
    pub server_name: String,
    /// `listen`: the address the HTTP listener binds.
    pub listen: SocketAddr,
    /// `listener`: timeouts, connection cap and shutdown grace of the HTTP listener.
    pub listener: ListenerConfig,
    /// `plugins_dir`: where bare module names are looked up.
    pub plugins_dir: PathBuf,
    /// `database`: which database, SQLite (`path:`) or PostgreSQL (`url:`).
    pub database: Database,
    /// `media_store_path`: where uploaded media files are kept.
    pub media_store_path: PathBuf,
    /// `max_upload_size`: the largest upload accepted, in bytes.
    pub max_upload_size: u64,
    /// `password_config`: password login switches (Synapse's `password_config`).
    pub password_config: PasswordConfig,
    /// `rc_invites`: invite rate limits (`per_second`, `burst_count`) for `per_room`,
    /// `per_user`, `per_issuer`.
    pub rc_invites: RcInvites,
    /// `rc_login`: login rate limits per address, account and failed attempts.
    pub rc_login: RcLogin,
    /// `rc_registration`: registration rate limit per address.
    pub rc_registration: RcRegistration,
    /// `password_hashing`: the bounded Argon2 pool.
    pub password_hashing: PasswordHashing,
    /// `admin_users`: users (MXIDs) who are server admins.
    pub admin_users: Vec<String>,
    /// `enable_registration`: whether `/register` is open to anyone.
    pub enable_registration: bool,
    /// `module_callback_timeout_ms`: how long one module callback may run before it counts
    /// as failed (at least 1 ms).
    pub module_callback_timeout: Duration,
    /// `max_module_request_body_bytes`: the largest request body handed to a module web
    /// resource, in bytes.
    pub max_module_request_body: usize,
    /// `public_baseurl`: the URL clients reach this server at, ending in `/` (modules build
    /// links from it); `http://<listen>/` by default.
    pub public_baseurl: String,
    /// `module_transaction_timeout_ms`: how long a module's store transaction may stay open
    /// before the host rolls it back (SQLite has one writer: an open transaction holds every
    /// other write up), shorter than the database busy timeout.
    pub module_transaction_timeout: Duration,
    /// `module_http_client`: the address ranges the module HTTP client refuses, and those it
    /// reaches anyway.
    pub module_http_client: ModuleHttpClient,
    /// `log_format`: how the log is written (`text` or `json`; `RUST_LOG_FORMAT` overrides it).
    pub log_format: crate::logging::LogFormat,
    /// `modules`: the module entries, in priority order.
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
    /// Rules for new passwords.
    pub policy: PasswordPolicy,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        PasswordConfig {
            enabled: true,
            localdb_enabled: true,
            policy: PasswordPolicy::default(),
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

impl Config {
    /// Read and validate `file`, the path of a `homeserver.yaml`; relative paths in it are
    /// resolved against its directory. `Err` holds every problem found.
    pub fn load(file: &Path) -> Result<Config, ConfigErrors> {
        let text = read(file)?;
        Config::parse(file, &text)
    }

    /// Validate `text` (the contents of a `homeserver.yaml`) as if read from `file`, which
    /// names the file in errors and anchors relative paths. `Err` holds every problem found.
    pub fn parse(file: &Path, text: &str) -> Result<Config, ConfigErrors> {
        match Config::parse_partial(file, text) {
            (Some(config), errors) if errors.is_empty() => Ok(config),
            (_, errors) => Err(ConfigErrors(errors)),
        }
    }

    /// Read `file`, returning a best-effort configuration (defaults where a setting is
    /// broken) together with every problem found, so that module problems can be reported
    /// alongside them. `None` when the file is not a YAML mapping at all; `Err` when it
    /// cannot be read.
    pub fn load_partial(file: &Path) -> Result<(Option<Config>, Vec<ConfigError>), ConfigErrors> {
        let text = read(file)?;
        Ok(Config::parse_partial(file, &text))
    }

    /// [`Config::load_partial`] for `text`, the contents of `file`: every setting of
    /// [`SETTINGS`] is read, and every problem has the file, YAML path and (where it is
    /// written) line and column.
    pub fn parse_partial(file: &Path, text: &str) -> (Option<Config>, Vec<ConfigError>) {
        let map = match top_level(file, text) {
            Ok(map) => map,
            Err(err) => return (None, vec![err]),
        };
        let (config, mut errors) = settings::read_settings(file, text, map);
        locate_all(text, &mut errors);
        (Some(config), errors)
    }

    /// A configuration read from `file` with every setting still empty, for
    /// [`settings::read_settings`] to fill in.
    fn unset(file: &Path) -> Config {
        Config {
            file: file.to_path_buf(),
            server_name: String::new(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8008)),
            listener: ListenerConfig::default(),
            plugins_dir: PathBuf::new(),
            database: Database::Sqlite {
                path: PathBuf::new(),
            },
            media_store_path: PathBuf::new(),
            max_upload_size: 0,
            password_config: PasswordConfig::default(),
            rc_invites: RcInvites::default(),
            rc_login: RcLogin::default(),
            rc_registration: RcRegistration::default(),
            password_hashing: PasswordHashing::default(),
            admin_users: Vec::new(),
            enable_registration: false,
            module_callback_timeout: Duration::ZERO,
            max_module_request_body: 0,
            public_baseurl: String::new(),
            module_transaction_timeout: Duration::ZERO,
            module_http_client: ModuleHttpClient::default(),
            log_format: crate::logging::LogFormat::default(),
            modules: Vec::new(),
        }
    }
}

/// The settings mapping of `text`, the contents of `file` (empty for an empty file), or the
/// YAML syntax error, or "expected a mapping of settings".
fn top_level(file: &Path, text: &str) -> Result<Mapping, ConfigError> {
    match serde_yaml_ng::from_str(text) {
        Ok(serde_yaml_ng::Value::Mapping(map)) => Ok(map),
        Ok(serde_yaml_ng::Value::Null) => Ok(Mapping::new()),
        Ok(_) => Err(ConfigError::new(file, "", "expected a mapping of settings")),
        Err(e) => {
            let location = e.location().map(|l| (l.line(), l.column()));
            Err(ConfigError::new(file, "", strip_location(&e.to_string())).at(location))
        }
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
    fn a_bad_module_http_client_range_is_reported_at_its_item() {
        let err = parse(
            "server_name: a\nmodule_http_client:\n  ip_range_blocklist: [10.0.0.0/8, 10.0.0.0/33]\n",
        )
        .unwrap_err();
        assert_eq!(
            err,
            "conf/hs.yaml:3:36: module_http_client.ip_range_blocklist[1]: \"10.0.0.0/33\" is not a CIDR range such as 10.0.0.0/8 or fd00::/8, nor an IP address"
        );
        let ok = parse("server_name: a\nmodule_http_client: {ip_range_allowlist: [127.0.0.1]}\n")
            .unwrap();
        assert!(!ok.module_http_client.refuses("127.0.0.1".parse().unwrap()));
        assert!(ok.module_http_client.refuses("10.0.0.1".parse().unwrap()));
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
