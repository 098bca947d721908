//! The server's log on standard error: human-readable text, or JSON lines for log
//! collectors (Loki, Elastic).
//!
//! Colour codes are written only to a terminal, and never when `NO_COLOR` is set
//! (<https://no-color.org>), so files and collectors get plain text.

use std::io::IsTerminal;
use std::path::Path;

use serde::Deserialize;

/// How log records are written (`log_format:` in the config, or `RUST_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per record.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message`, the record's
    /// fields (`module`, …) and the current span.
    Json,
}

impl LogFormat {
    /// The format for a server started with config `file`: `RUST_LOG_FORMAT` (`text` or
    /// `json`) wins, then the file's `log_format:` setting, else text. An unreadable file or
    /// value falls back to text here; loading the config reports it properly.
    pub fn for_config(file: &Path) -> LogFormat {
        if let Some(format) = std::env::var("RUST_LOG_FORMAT")
            .ok()
            .and_then(|v| Self::parse(&v))
        {
            return format;
        }
        std::fs::read_to_string(file)
            .ok()
            .and_then(|text| serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text).ok())
            .and_then(|v| v.get("log_format")?.as_str().and_then(Self::parse))
            .unwrap_or_default()
    }

    fn parse(text: &str) -> Option<LogFormat> {
        match text.trim().to_ascii_lowercase().as_str() {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

/// Whether standard error gets colour codes: only a terminal, and not with `NO_COLOR` set to
/// a non-empty value.
fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Install the `tracing` subscriber writing to standard error in `format`: `RUST_LOG` filter
/// (default `info`); module records carry `module=<name>`.
pub fn init(format: LogFormat) {
    init_at(format, "info");
}

/// [`init`] with `default_level` (`info`, `warn`, …) when `RUST_LOG` is not set: commands
/// whose output is their report (`migrate-db`) log only problems.
pub fn init_at(format: LogFormat, default_level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(colour()).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
