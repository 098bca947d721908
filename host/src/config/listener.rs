//! `listener:`: how long the HTTP listener waits for slow or silent clients, how many
//! connections it holds, and how long a shutdown may take.

use std::time::Duration;

use serde::Deserialize;

/// What `listener:` means, for operators (the settings table's doc).
pub(super) const LISTENER_DOC: &str = "The HTTP listener's limits, each in milliseconds \
     except `max_connections`: `header_timeout_ms` (a request's headers must arrive within \
     this, 30000), `idle_timeout_ms` (a kept-alive connection with no request is closed \
     after this, 60000), `body_timeout_ms` (a request body that stalls this long is \
     abandoned, 30000), `max_connections` (connections held at once; at the cap the \
     longest-idle connection is closed for a new one, 1024) and `shutdown_grace_ms` \
     (requests in progress at SIGTERM get this long to finish, 10000).";

/// The most `max_connections` may be (far beyond any file descriptor limit).
pub const MAX_CONNECTIONS: usize = 1_000_000;

/// The listener's limits (`listener:` in `homeserver.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListenerConfig {
    /// `header_timeout_ms`: the time from a request's first byte to its last header line.
    pub header_timeout_ms: u64,
    /// `idle_timeout_ms`: how long a connection may sit with no request and no traffic.
    pub idle_timeout_ms: u64,
    /// `body_timeout_ms`: the longest pause while a request body is being read.
    pub body_timeout_ms: u64,
    /// `max_connections`: connections held at once (at least 1).
    pub max_connections: usize,
    /// `shutdown_grace_ms`: how long requests in progress at shutdown may still take.
    pub shutdown_grace_ms: u64,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        ListenerConfig {
            header_timeout_ms: 30_000,
            idle_timeout_ms: 60_000,
            body_timeout_ms: 30_000,
            max_connections: 1024,
            shutdown_grace_ms: 10_000,
        }
    }
}

impl ListenerConfig {
    /// Reject limits that would make the listener useless; the message names the key.
    pub(super) fn validate(&self) -> Result<(), String> {
        let timeouts = [
            ("header_timeout_ms", self.header_timeout_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
            ("body_timeout_ms", self.body_timeout_ms),
        ];
        for (key, ms) in timeouts {
            if ms == 0 {
                return Err(format!("{key} must be at least 1 (milliseconds)"));
            }
        }
        if !(1..=MAX_CONNECTIONS).contains(&self.max_connections) {
            return Err(format!(
                "max_connections must be between 1 and {MAX_CONNECTIONS}"
            ));
        }
        Ok(())
    }

    /// [`ListenerConfig::header_timeout_ms`] as a duration.
    pub fn header_timeout(&self) -> Duration {
        Duration::from_millis(self.header_timeout_ms)
    }

    /// [`ListenerConfig::idle_timeout_ms`] as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }

    /// [`ListenerConfig::body_timeout_ms`] as a duration.
    pub fn body_timeout(&self) -> Duration {
        Duration::from_millis(self.body_timeout_ms)
    }

    /// [`ListenerConfig::shutdown_grace_ms`] as a duration.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(Path::new("hs.yaml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn listener_limits_are_read_with_defaults_and_checked() {
        let c = parse("server_name: a\nlistener: {idle_timeout_ms: 5}\n").unwrap();
        assert_eq!(c.listener.idle_timeout_ms, 5);
        assert_eq!(c.listener.max_connections, 1024);
        assert_eq!(c.listener.header_timeout_ms, 30_000);
        let err = parse("server_name: a\nlistener: {max_connections: 0}\n").unwrap_err();
        assert!(
            err.ends_with("listener: max_connections must be between 1 and 1000000"),
            "{err}"
        );
        let err = parse("server_name: a\nlistener: {body_timeout_ms: 0}\n").unwrap_err();
        assert!(
            err.ends_with("listener: body_timeout_ms must be at least 1 (milliseconds)"),
            "{err}"
        );
        let err = parse("server_name: a\nlistener: {idle_timeout: 5}\n").unwrap_err();
        assert_eq!(
            err,
            "hs.yaml:2:12: listener.idle_timeout: unknown field `idle_timeout`, expected one of \
             `header_timeout_ms`, `idle_timeout_ms`, `body_timeout_ms`, `max_connections`, \
             `shutdown_grace_ms`"
        );
    }
}
