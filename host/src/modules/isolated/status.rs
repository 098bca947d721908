//! What is known about an isolated module's runner process, for the admin API and the
//! metrics page.

use std::sync::Arc;

use super::link::Link;

/// One series of the metrics page: name, type, help text, and its value for a module.
type Series = (&'static str, &'static str, &'static str, fn(&Status) -> u64);

/// What is known about the runner, for the admin API.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// The runner's process ID (0 while down).
    pub pid: u32,
    /// Restarts so far.
    pub restarts: u64,
    /// Deaths so far.
    pub exits: u64,
    /// How the last runner ended, e.g. "killed by signal 11 (SIGSEGV)".
    pub last_exit: Option<String>,
    /// Set when the module stays down for good, with the reason.
    pub failed: Option<String>,
}

/// The isolated modules' series for the metrics page (Prometheus text), per module:
/// `modhost_module_process_up` (1 while its runner serves), `…_exits_total`,
/// `…_restarts_total` and `…_rss_bytes` (0 while down).
pub fn render_metrics(modules: &[(Arc<str>, Arc<Link>)]) -> String {
    if modules.is_empty() {
        return String::new();
    }
    let series: [Series; 4] = [
        (
            "modhost_module_process_up",
            "gauge",
            "Whether the isolated module's runner process is up (1) or down (0).",
            |s| u64::from(s.pid != 0),
        ),
        (
            "modhost_module_process_exits_total",
            "counter",
            "Deaths of the isolated module's runner process.",
            |s| s.exits,
        ),
        (
            "modhost_module_process_restarts_total",
            "counter",
            "Restarts of the isolated module's runner process.",
            |s| s.restarts,
        ),
        (
            "modhost_module_process_rss_bytes",
            "gauge",
            "Resident memory of the isolated module's runner process, in bytes.",
            |s| s.rss_bytes().unwrap_or(0),
        ),
    ];
    let statuses: Vec<(&str, Status)> = modules.iter().map(|(n, l)| (&**n, l.status())).collect();
    let mut out = String::new();
    for (name, kind, help, value) in series {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (module, status) in &statuses {
            out.push_str(&format!(
                "{name}{{module=\"{module}\"}} {}\n",
                value(status)
            ));
        }
    }
    out
}

impl Status {
    /// Resident memory of the runner, in bytes (from `/proc/<pid>/status`); `None` while down.
    pub fn rss_bytes(&self) -> Option<u64> {
        if self.pid == 0 {
            return None;
        }
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// As JSON for the admin API: `pid` (null while down), `restarts`, `exits`, `last_exit`,
    /// `failed` (why it stays down, or null) and `rss_bytes` (resident memory, from
    /// `/proc/<pid>/status`; null while down).
    pub fn to_json(&self) -> serde_json::Value {
        let rss = self.rss_bytes();
        serde_json::json!({
            "pid": (self.pid != 0).then_some(self.pid),
            "restarts": self.restarts,
            "exits": self.exits,
            "last_exit": self.last_exit,
            "failed": self.failed,
            "rss_bytes": rss,
        })
    }
}
