//! The [`Module`] trait and the errors a module reports.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::ffi::{ErrorKind, FfiError};
use crate::ModuleApi;

/// A modhost module: the Rust counterpart of a Synapse module class.
///
/// modhost builds a module in two phases, as Synapse does:
///
/// 1. [`parse_config`](Module::parse_config) runs for every configured module first (also by
///    `modhost check-config`). It receives the module's `config:` subtree from the YAML as
///    JSON (`{}` when missing or null) and validates or transforms it. It cannot reach the
///    host.
/// 2. [`new`](Module::new) runs for each module in `modules:` order, after every
///    configuration parsed. It registers callbacks and web resources through the
///    [`ModuleApi`]; registration closes once every module is constructed.
///
/// Implement this trait and export the type with [`export_module!`](crate::export_module).
pub trait Module: Sized + Send + Sync + 'static {
    /// The module's configuration, as `parse_config` returns it.
    type Config: DeserializeOwned + Send + 'static;

    /// Validate and transform the raw configuration.
    ///
    /// The default deserializes `Self::Config` with serde; a field error names its path
    /// inside the module's config (e.g. `rules[0].pattern`), which modhost prefixes with the
    /// module's YAML path (`modules[2].config.rules[0].pattern`).
    fn parse_config(config: Value) -> Result<Self::Config, ConfigError> {
        ConfigError::deserialize(config)
    }

    /// Construct the module and register what it provides.
    fn new(config: Self::Config, api: ModuleApi) -> Result<Self, ModuleError>;
}

/// An invalid module configuration, with the path of the offending value inside the
/// module's own `config:` mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    message: String,
    path: Vec<String>,
}

impl ConfigError {
    /// An error about the configuration as a whole.
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError {
            message: message.into(),
            path: Vec::new(),
        }
    }

    /// Place the error at `path` inside the module's config; a number is a list index.
    ///
    /// ```
    /// # use plugin_sdk::ConfigError;
    /// let err = ConfigError::new("not a valid regex").at(["rules", "0", "pattern"]);
    /// assert_eq!(err.path_string(), "rules[0].pattern");
    /// ```
    pub fn at<I, S>(mut self, path: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.path = path.into_iter().map(Into::into).collect();
        self
    }

    /// Deserialize `config` into `T`, reporting the failing field's path.
    pub fn deserialize<T: DeserializeOwned>(config: Value) -> Result<T, ConfigError> {
        serde_path_to_error::deserialize(config).map_err(|err| {
            let path = path_segments(err.path());
            ConfigError::new(err.into_inner().to_string()).at(path)
        })
    }

    /// The message without the path.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The path rendered as `a.b[0].c` (empty for the whole config).
    pub fn path_string(&self) -> String {
        render_path(&self.path)
    }

    pub(crate) fn into_ffi(self) -> FfiError {
        let mut err = FfiError::new(ErrorKind::CONFIG, self.message);
        err.details = serde_json::json!({ "path": self.path }).to_string().into();
        err
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path_string(), self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

fn path_segments(path: &serde_path_to_error::Path) -> Vec<String> {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|seg| match seg {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect()
}

/// Render path segments as `a.b[0].c`: all-digit segments become indexes.
pub fn render_path(path: &[String]) -> String {
    let mut out = String::new();
    for seg in path {
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(seg);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

/// An error from a module: either an internal failure, which the host handles with the
/// callback's failure policy, or a Matrix error to send to the client as is (Synapse's
/// `SynapseError`), honoured where Synapse honours it (`check_event_allowed`,
/// `on_create_room`).
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleError {
    message: String,
    matrix: Option<MatrixError>,
}

/// A Matrix error response chosen by a module.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixError {
    /// HTTP status.
    pub status: u16,
    /// Matrix `errcode`, e.g. `M_FORBIDDEN`.
    pub errcode: String,
    /// Human-readable `error`.
    pub error: String,
    /// Extra fields merged into the JSON error body.
    pub fields: Map<String, Value>,
}

impl ModuleError {
    /// An internal failure; the message goes to the operator's log, never to clients.
    pub fn new(message: impl Into<String>) -> Self {
        ModuleError {
            message: message.into(),
            matrix: None,
        }
    }

    /// A Matrix error for the client: `status`, `errcode` and `error` as given.
    pub fn matrix(status: u16, errcode: impl Into<String>, error: impl Into<String>) -> Self {
        let error = error.into();
        ModuleError {
            message: error.clone(),
            matrix: Some(MatrixError {
                status,
                errcode: errcode.into(),
                error,
                fields: Map::new(),
            }),
        }
    }

    /// Add a field to the JSON body of a Matrix error (no effect on internal failures).
    pub fn with_field(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        if let Some(m) = &mut self.matrix {
            m.fields.insert(key.into(), value.into());
        }
        self
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Rebuild a Matrix error the host sent (`details` as written by [`Self::into_ffi`]).
    pub(crate) fn from_matrix_details(message: &str, details: &str) -> Self {
        let d: Value = serde_json::from_str(details).unwrap_or(Value::Null);
        let mut err = ModuleError::matrix(
            d["status"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(500),
            d["errcode"].as_str().unwrap_or("M_UNKNOWN"),
            d["error"].as_str().unwrap_or(message),
        );
        if let (Some(m), Some(fields)) = (&mut err.matrix, d["fields"].as_object()) {
            m.fields = fields.clone();
        }
        err
    }

    /// The Matrix error, if this is one.
    pub fn as_matrix(&self) -> Option<&MatrixError> {
        self.matrix.as_ref()
    }

    pub(crate) fn into_ffi(self) -> FfiError {
        match self.matrix {
            None => FfiError::new(ErrorKind::MODULE, self.message),
            Some(m) => {
                let mut err = FfiError::new(ErrorKind::MATRIX, self.message);
                err.details = serde_json::json!({
                    "status": m.status, "errcode": m.errcode, "error": m.error, "fields": m.fields,
                })
                .to_string()
                .into();
                err
            }
        }
    }
}

impl fmt::Display for ModuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ModuleError {}

impl From<String> for ModuleError {
    fn from(message: String) -> Self {
        ModuleError::new(message)
    }
}

impl From<&str> for ModuleError {
    fn from(message: &str) -> Self {
        ModuleError::new(message)
    }
}

impl From<ConfigError> for ModuleError {
    fn from(err: ConfigError) -> Self {
        ModuleError::new(err.to_string())
    }
}

impl From<serde_json::Error> for ModuleError {
    fn from(err: serde_json::Error) -> Self {
        ModuleError::new(err.to_string())
    }
}
