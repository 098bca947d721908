//! Operator-facing configuration and module-loading errors.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem, located by file, YAML path and (when known) line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// YAML path such as `modules[2].config.rules[0]` (empty for the whole file).
    pub path: String,
    /// Line and column, 1-based.
    pub location: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// A problem at `path` in `file`.
    pub fn new(file: &Path, path: &str, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            path: path.to_string(),
            location: None,
            message: message.into(),
        }
    }

    /// Attach a line and column.
    pub fn at(mut self, location: Option<(usize, usize)>) -> Self {
        self.location = location;
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.location {
            write!(f, ":{line}:{col}")?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found, reported together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// A single problem.
    pub fn one(err: ConfigError) -> Self {
        ConfigErrors(vec![err])
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, err) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{err}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
