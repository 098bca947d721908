//! The top-level settings of `homeserver.yaml`, as one table: [`SETTINGS`] gives each
//! setting's key, default, meaning and how its value is read into a [`Config`].
//!
//! A file is read by walking the table once. A broken value is reported (with its YAML path;
//! [`super::locate_all`] adds line and column) and the setting's default is used instead, so
//! one broken setting never hides another.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_yaml_ng::{Mapping, Value as Yaml};

use super::modules::module_entries;
use super::{locate::locate, strip_location, Config, ConfigError, Database};

/// One top-level setting of `homeserver.yaml`.
pub struct Setting {
    /// The YAML key, such as `max_upload_size`.
    pub key: &'static str,
    /// The value used when the key is missing or null, written as YAML; `None` when the
    /// setting is required.
    pub default: Option<&'static str>,
    /// What the setting means, with its unit, for operators.
    pub doc: &'static str,
    /// How a value (the one given, or the default) is stored into the configuration.
    apply: Apply,
}

/// Stores `value` into `config`, or says what is wrong with it. `reader` gives the file and
/// its text and collects problems found inside the value (one per broken module entry).
/// Settings are applied in table order, so `config` already holds the earlier ones.
type Apply = fn(reader: &mut Reader<'_>, value: Yaml, config: &mut Config) -> Result<(), Problem>;

/// Every top-level setting, in the order they are documented. A new setting is one entry
/// here (and its field in [`Config`]).
pub const SETTINGS: &[Setting] = &[
    Setting {
        key: "server_name",
        default: None,
        doc: "The homeserver's name: the part after the colon in @alice:example.org.",
        apply: |_, v, c| {
            let name: String = value(v)?;
            if name.trim() != name || name.contains('/') {
                return Err(Problem::new("must be a host name such as example.org"));
            }
            c.server_name = name;
            Ok(())
        },
    },
    Setting {
        key: "listen",
        default: Some("127.0.0.1:8008"),
        doc: "The address and port the HTTP listener binds.",
        apply: |_, v, c| {
            let text: String = value(v)?;
            c.listen = text.parse().map_err(|_| {
                Problem::new(format!("{text:?} is not an address such as 127.0.0.1:8008"))
            })?;
            Ok(())
        },
    },
    Setting {
        key: "listener",
        default: Some("{}"),
        doc: super::listener::LISTENER_DOC,
        apply: |_, v, c| {
            let listener: super::ListenerConfig = value(v)?;
            listener.validate().map_err(Problem::new)?;
            c.listener = listener;
            Ok(())
        },
    },
    Setting {
        key: "plugins_dir",
        default: Some("plugins"),
        doc: "Where `module: <name>` looks for lib<name>.so (relative to the config file).",
        apply: |_, v, c| {
            c.plugins_dir = relative(c, value(v)?);
            Ok(())
        },
    },
    Setting {
        key: "database",
        default: Some("{path: data/homeserver.db}"),
        doc: "SQLite: `path:` of the database file (relative to the config file). PostgreSQL: \
              `url: postgres://user:password@host:5432/dbname` (TLS via `?sslmode=require`) and \
              `max_connections:` (default 16) per instance.",
        apply: |_, v, c| {
            let database: RawDatabase = value(v)?;
            c.database = database.into_database(c)?;
            Ok(())
        },
    },
    Setting {
        key: "media_store_path",
        default: Some("data/media"),
        doc: "Where uploaded media files are kept (relative to the config file).",
        apply: |_, v, c| {
            c.media_store_path = relative(c, value(v)?);
            Ok(())
        },
    },
    Setting {
        key: "max_upload_size",
        default: Some("52428800"),
        doc: "The largest upload accepted, in bytes (50 MiB).",
        apply: |_, v, c| {
            c.max_upload_size = value(v)?;
            Ok(())
        },
    },
    Setting {
        key: "enable_registration",
        default: Some("false"),
        doc: "Whether `/register` is open to anyone.",
        apply: |_, v, c| {
            c.enable_registration = value(v)?;
            Ok(())
        },
    },
    Setting {
        key: "admin_users",
        default: Some("[]"),
        doc: "The users (MXIDs) who are server admins.",
        apply: |_, v, c| {
            c.admin_users = value(v)?;
            Ok(())
        },
    },
    Setting {
        key: "rc_invites",
        default: Some("{}"),
        doc: "Synapse's invite rate limits `per_room`, `per_user`, `per_issuer`, each \
              `{per_second, burst_count}` (Synapse's defaults).",
        apply: |_, v, c| {
            c.rc_invites = value(v)?;
            Ok(())
        },
    },
    Setting {
        key: "rc_login",
        default: Some("{}"),
        doc: "Synapse's login rate limits `address` (per client IP), `account` (successful \
              logins per account) and `failed_attempts` (per account), each \
              `{per_second, burst_count}`; Synapse's defaults: 0.003/s with bursts of 5 for \
              `address` and `account`, 0.17/s with bursts of 3 for `failed_attempts`.",
        apply: |_, v, c| {
            c.rc_login = value(v)?;
            Ok(())
        },
    },
    Setting {
        key: "rc_registration",
        default: Some("{}"),
        doc: "Synapse's registration rate limit per client IP, `{per_second, burst_count}`; \
              0.17/s with bursts of 3 by default.",
        apply: |_, v, c| {
            c.rc_registration = value(v)?;
            Ok(())
        },
    },
    Setting {
        key: "password_hashing",
        default: Some("{}"),
        doc: "The password-hashing pool: `max_concurrent` Argon2 computations at once (each \
              holds ~19 MiB; 0 = one per CPU, the default) and `max_queued` waiting (32); \
              beyond that login and registration answer 429.",
        apply: |_, v, c| {
            c.password_hashing = value(v)?;
            Ok(())
        },
    },
    Setting {
        key: "password_config",
        default: Some("{}"),
        doc: "Password login: `enabled` (m.login.password at all) and `localdb_enabled` \
              (fall back to stored passwords when no module answers), both default true; \
              `policy` for new passwords as Synapse's (`enabled`, `minimum_length`, \
              `require_digit`, `require_symbol`, `require_lowercase`, `require_uppercase`; \
              off by default). Empty passwords are always refused.",
        apply: |_, v, c| {
            c.password_config = value(v)?;
            Ok(())
        },
    },
    Setting {
        key: "module_callback_timeout_ms",
        default: Some("10000"),
        doc: "How long one module callback may run before it counts as failed, in \
              milliseconds (0 is taken as 1).",
        apply: |_, v, c| {
            c.module_callback_timeout = Duration::from_millis(value::<u64>(v)?.max(1));
            Ok(())
        },
    },
    Setting {
        key: "max_module_request_body_bytes",
        default: Some("1048576"),
        doc: "The largest request body handed to a module web resource, in bytes.",
        apply: |_, v, c| {
            c.max_module_request_body = value(v)?;
            Ok(())
        },
    },
    Setting {
        key: "public_baseurl",
        default: Some("~"),
        doc: "The http:// or https:// URL clients reach this server at, which modules build \
              links with (default: http://<listen>/).",
        apply: |_, v, c| {
            c.public_baseurl = match value::<Option<String>>(v)? {
                None => format!("http://{}/", c.listen),
                Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                    let message = format!("{url:?} is not an http:// or https:// URL");
                    return Err(Problem::new(message));
                }
                Some(url) if url.ends_with('/') => url,
                Some(url) => format!("{url}/"),
            };
            Ok(())
        },
    },
    Setting {
        key: "module_transaction_timeout_ms",
        default: Some("5000"),
        doc: "How long a module's store transaction may stay open before it is rolled back, \
              in milliseconds: from 1 to below the database busy timeout.",
        apply: |_, v, c| {
            // A module transaction holds SQLite's write lock; every other write waits at most
            // the database's busy timeout, so a transaction must give up first.
            let ms: u64 = value(v)?;
            let busy = crate::storage::BUSY_TIMEOUT_MS;
            if ms == 0 || ms >= busy {
                return Err(Problem::new(format!(
                    "must be between 1 and {} (the database busy timeout: a module transaction must end before other writes give up)",
                    busy - 1
                )));
            }
            c.module_transaction_timeout = Duration::from_millis(ms);
            Ok(())
        },
    },
    Setting {
        key: "module_http_client",
        default: Some("{}"),
        doc: super::http_client::BLOCKLIST_DOC,
        apply: |_, v, c| {
            c.module_http_client = super::ModuleHttpClient::parse(v)
                .map_err(|(path, message)| Problem { path, message })?;
            Ok(())
        },
    },
    Setting {
        key: "log_format",
        default: Some("text"),
        doc: "How the log is written: `text`, or `json` for one JSON object per line \
              (`RUST_LOG_FORMAT` overrides it).",
        apply: |_, v, c| {
            c.log_format = value(v)?;
            Ok(())
        },
    },
    Setting {
        key: "modules",
        default: Some("[]"),
        doc: "The modules to load, in priority order: `module:`, `config:` and optional \
              `sha256:`, `timeout_ms:`, `on_failure:` each.",
        apply: |r, v, c| {
            let raw: Vec<Yaml> = value(v)?;
            c.modules = module_entries(r.file, r.text, raw, &mut r.errors);
            Ok(())
        },
    },
];

/// The top-level keys, in the order they are documented: the keys of [`SETTINGS`].
pub const KNOWN_KEYS: &[&str] = &keys::<{ SETTINGS.len() }>();

/// The first `N` keys of [`SETTINGS`] (all of them: `N` is its length).
const fn keys<const N: usize>() -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = SETTINGS[i].key;
        i += 1;
    }
    out
}

/// `database:`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    path: Option<PathBuf>,
    url: Option<String>,
    max_connections: Option<u32>,
}

impl RawDatabase {
    /// SQLite unless `url:` is given; `path:` and `url:` together are an error, as is a URL
    /// that is not `postgres://` / `postgresql://`.
    fn into_database(self, c: &Config) -> Result<Database, Problem> {
        match (self.path, self.url) {
            (Some(_), Some(_)) => Err(Problem::at(
                "",
                "give either `path:` (SQLite) or `url:` (PostgreSQL), not both",
            )),
            (path, None) => {
                if self.max_connections.is_some() {
                    return Err(Problem::at(
                        "max_connections",
                        "only applies to PostgreSQL (`url:`)",
                    ));
                }
                let path = path.unwrap_or_else(|| "data/homeserver.db".into());
                Ok(Database::Sqlite {
                    path: relative(c, path),
                })
            }
            (None, Some(url)) => {
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    return Err(Problem::at(
                        "url",
                        "must start with postgres:// (SQLite takes `path:` instead)",
                    ));
                }
                let max_connections = self.max_connections.unwrap_or(16);
                if !(1..=1000).contains(&max_connections) {
                    return Err(Problem::at("max_connections", "must be between 1 and 1000"));
                }
                Ok(Database::Postgres {
                    url,
                    max_connections,
                })
            }
        }
    }
}

/// What is wrong with a setting's value.
struct Problem {
    /// Where below the setting, such as `per_room.burst` (empty: the value itself).
    path: String,
    /// What is wrong.
    message: String,
}

impl Problem {
    /// `message` about the value as a whole.
    fn new(message: impl Into<String>) -> Self {
        Problem {
            path: String::new(),
            message: message.into(),
        }
    }

    /// `message` about the part of the value at `path` (`""`: the value itself).
    fn at(path: &str, message: impl Into<String>) -> Self {
        Problem {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// Deserialize a setting's `value` as `T`; a problem carries serde's message and the path
/// inside the value where it arose.
fn value<T: DeserializeOwned>(value: Yaml) -> Result<T, Problem> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        Problem {
            path: if path == "." { String::new() } else { path },
            message: strip_location(&err.into_inner().to_string()),
        }
    })
}

/// `path` as written in the config file: relative paths are relative to its directory.
fn relative(config: &Config, path: PathBuf) -> PathBuf {
    config.file.parent().unwrap_or(Path::new(".")).join(path)
}

/// Reads the settings of one file, collecting every problem.
struct Reader<'a> {
    /// The config file, for error messages.
    file: &'a Path,
    /// Its contents, to locate problems in.
    text: &'a str,
    /// Every problem found so far.
    errors: Vec<ConfigError>,
}

/// Read the top-level mapping `map` of `text` (the contents of `file`) through
/// [`SETTINGS`]: a configuration (defaults where a setting is broken or missing; a missing
/// required setting is left empty) and every problem found, in table order after the
/// unknown keys.
pub(super) fn read_settings(
    file: &Path,
    text: &str,
    mut map: Mapping,
) -> (Config, Vec<ConfigError>) {
    let mut reader = Reader {
        file,
        text,
        errors: Vec::new(),
    };
    reader.unknown_keys(&map);
    let mut config = Config::unset(file);
    for setting in SETTINGS {
        let given = map.remove(setting.key).filter(|v| !v.is_null());
        reader.read(setting, given, &mut config);
    }
    reader.check_isolated_body_limit(&config);
    (config, reader.errors)
}

impl Reader<'_> {
    /// A request body larger than [`super::modules::MAX_ISOLATED_REQUEST_BODY`] cannot cross
    /// to a module's runner process: refuse a larger `max_module_request_body_bytes` while a
    /// module runs with `isolation: process`.
    fn check_isolated_body_limit(&mut self, config: &Config) {
        let max = super::modules::MAX_ISOLATED_REQUEST_BODY;
        if config.max_module_request_body <= max {
            return;
        }
        let isolated = config
            .modules
            .iter()
            .find(|m| matches!(m.isolation, super::modules::Isolation::Process { .. }));
        if let Some(module) = isolated {
            let key = "max_module_request_body_bytes";
            let message = format!(
                "must be at most {max} (60 MiB) while a module runs with `isolation: process` \
                 ({}): larger bodies cannot cross to its process",
                module.yaml_path()
            );
            let location = locate(self.text, key);
            self.errors
                .push(ConfigError::new(self.file, key, message).at(location));
        }
    }

    /// Report every key of `map` that is not a setting, at the key.
    fn unknown_keys(&mut self, map: &Mapping) {
        for key in map.keys() {
            let key = key
                .as_str()
                .map_or_else(|| format!("{key:?}"), String::from);
            if KNOWN_KEYS.contains(&key.as_str()) {
                continue;
            }
            let message = format!(
                "unknown setting `{key}`; known settings: {}",
                KNOWN_KEYS.join(", ")
            );
            let location = locate(self.text, &key);
            self.errors
                .push(ConfigError::new(self.file, &key, message).at(location));
        }
    }

    /// Store `setting` into `config`: the `given` value (`None` when missing or null), else
    /// the default. A broken given value is reported and the default stored instead.
    fn read(&mut self, setting: &Setting, given: Option<Yaml>, config: &mut Config) {
        let default = || {
            setting
                .default
                .map(|yaml| serde_yaml_ng::from_str(yaml).unwrap_or(Yaml::Null))
        };
        let was_given = given.is_some();
        let Some(value) = given.or_else(default) else {
            self.errors.push(ConfigError::new(
                self.file,
                setting.key,
                "missing: this setting is required",
            ));
            return;
        };
        let Err(problem) = (setting.apply)(self, value, config) else {
            return;
        };
        let path = match problem.path.as_str() {
            "" => setting.key.to_string(),
            inner => format!("{}.{inner}", setting.key),
        };
        let location = locate(self.text, &path);
        self.errors
            .push(ConfigError::new(self.file, &path, problem.message).at(location));
        if let (true, Some(value)) = (was_given, default()) {
            let applied = (setting.apply)(self, value, config);
            debug_assert!(applied.is_ok(), "the default of {} applies", setting.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "conf/hs.yaml";

    fn read(text: &str) -> (Config, Vec<ConfigError>) {
        let map = serde_yaml_ng::from_str(text).unwrap();
        read_settings(Path::new(FILE), text, map)
    }

    #[test]
    fn the_known_keys_are_the_tables_keys_in_order() {
        let keys: Vec<&str> = SETTINGS.iter().map(|s| s.key).collect();
        assert_eq!(KNOWN_KEYS, keys.as_slice());
        assert_eq!(KNOWN_KEYS[..2], ["server_name", "listen"]);
    }

    #[test]
    fn every_default_written_out_is_accepted_and_changes_nothing() {
        let mut text = "server_name: example.org\n".to_string();
        for setting in SETTINGS {
            assert!(!setting.doc.is_empty(), "{} is documented", setting.key);
            if let Some(default) = setting.default {
                text.push_str(&format!("{}: {default}\n", setting.key));
            }
        }
        let (written, errors) = read(&text);
        assert!(errors.is_empty(), "{errors:?}");
        let (minimal, errors) = read("server_name: example.org\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(format!("{written:?}"), format!("{minimal:?}"));
        assert_eq!(
            minimal.database,
            crate::config::Database::Sqlite {
                path: "conf/data/homeserver.db".into()
            }
        );
        assert_eq!(minimal.max_upload_size, 50 * 1024 * 1024);
        assert_eq!(minimal.public_baseurl, "http://127.0.0.1:8008/");
        assert_eq!(
            minimal.module_callback_timeout,
            Duration::from_millis(10_000)
        );
    }

    #[test]
    fn a_broken_value_is_reported_at_its_inner_path_and_the_default_kept() {
        let (config, errors) =
            read("server_name: a\nrc_invites:\n  per_room: {per_second: x}\nmax_upload_size: -1\n");
        let messages: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        // In table order: `max_upload_size` comes before `rc_invites`.
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(
            messages[1]
                .starts_with("conf/hs.yaml:3:14: rc_invites.per_room.per_second: invalid type"),
            "{messages:?}"
        );
        assert!(
            messages[0].starts_with("conf/hs.yaml:4:1: max_upload_size: invalid value"),
            "{messages:?}"
        );
        assert_eq!(config.max_upload_size, 50 * 1024 * 1024);
        assert_eq!(config.rc_invites, crate::config::RcInvites::default());
    }

    #[test]
    fn public_baseurl_gets_a_slash_and_must_be_http() {
        let (config, _) = read("server_name: a\npublic_baseurl: https://a.example/x\n");
        assert_eq!(config.public_baseurl, "https://a.example/x/");
        let (config, _) = read("server_name: a\nlisten: 0.0.0.0:80\npublic_baseurl: ~\n");
        assert_eq!(config.public_baseurl, "http://0.0.0.0:80/");
        let (_, errors) = read("server_name: a\npublic_baseurl: ftp://a\n");
        assert_eq!(
            errors[0].to_string(),
            "conf/hs.yaml:2:1: public_baseurl: \"ftp://a\" is not an http:// or https:// URL"
        );
    }
}
