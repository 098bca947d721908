//! Prometheus metrics at `/_modhost/metrics`: HTTP requests per route, and per module
//! callback its calls, denials, failures and latency.
//!
//! Callback counters live in each registered callback as atomics, so the dispatch hot path
//! takes no lock. Latency is sampled (one call in [`crate::modules::stats::SAMPLE_EVERY`]): reading the clock twice
//! would cost a third of a whole in-process callback dispatch.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;

use crate::modules::stats::CallbackStats;
use crate::modules::Registry;

/// A callback metric: name, help text, and how to read it.
type Series = (&'static str, &'static str, fn(&CallbackStats) -> u64);

const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct RouteStats {
    by_status: BTreeMap<u16, u64>,
    seconds_sum: f64,
    count: u64,
    buckets: [u64; BUCKETS.len()],
}

/// HTTP request metrics, keyed by method and route template.
#[derive(Default)]
pub struct HttpMetrics {
    routes: Mutex<BTreeMap<(String, String), RouteStats>>,
}

impl HttpMetrics {
    /// Record one request.
    pub fn record(&self, method: &str, route: &str, status: u16, took: Duration) {
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        let stats = routes
            .entry((method.to_string(), route.to_string()))
            .or_default();
        *stats.by_status.entry(status).or_default() += 1;
        let secs = took.as_secs_f64();
        stats.seconds_sum += secs;
        stats.count += 1;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                stats.buckets[i] += 1;
            }
        }
    }

    /// Everything in the Prometheus text format: HTTP requests, then module callbacks.
    pub fn render(&self, registry: &Registry) -> String {
        let mut out = String::new();
        self.render_http(&mut out);
        render_callbacks(&mut out, registry);
        out
    }

    /// Requests per route and status, and the latency histogram per route.
    fn render_http(&self, out: &mut String) {
        out.push_str("# HELP modhost_http_requests_total HTTP requests by route and status.\n# TYPE modhost_http_requests_total counter\n");
        let routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        for ((method, route), s) in routes.iter() {
            for (status, n) in &s.by_status {
                let _ = writeln!(out, "modhost_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}");
            }
        }
        out.push_str("# HELP modhost_http_request_duration_seconds HTTP request latency by route.\n# TYPE modhost_http_request_duration_seconds histogram\n");
        for ((method, route), s) in routes.iter() {
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "modhost_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "modhost_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "modhost_http_request_duration_seconds_sum{{{labels}}} {}",
                s.seconds_sum
            );
            let _ = writeln!(
                out,
                "modhost_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
    }
}

/// The per-callback series.
const CALLBACK_SERIES: [Series; 6] = [
    (
        "modhost_module_callback_calls_total",
        "Module callback calls.",
        |s| s.calls.load(Ordering::Relaxed),
    ),
    (
        "modhost_module_callback_denials_total",
        "Module callback answers that refused the operation.",
        |s| s.denials.load(Ordering::Relaxed),
    ),
    (
        "modhost_module_callback_failures_total",
        "Module callback errors, panics, timeouts and invalid answers.",
        |s| s.failures.load(Ordering::Relaxed),
    ),
    (
        "modhost_module_callback_consecutive_failures",
        "Failures of the callback since its last answer (a module that keeps failing).",
        |s| s.consecutive_failures.load(Ordering::Relaxed),
    ),
    (
        "modhost_module_callback_seconds_count",
        "Sampled module callback calls (one in 8 is timed).",
        |s| s.sampled.load(Ordering::Relaxed),
    ),
    (
        "modhost_module_callback_seconds_sum",
        "Total seconds of the sampled calls.",
        |s| s.sampled_nanos.load(Ordering::Relaxed),
    ),
];

/// Per module callback: calls, denials, failures, consecutive failures, sampled latency.
fn render_callbacks(out: &mut String, registry: &Registry) {
    for (name, help, get) in CALLBACK_SERIES {
        let kind = if name.ends_with("_total") {
            "counter"
        } else if name.ends_with("_failures") {
            "gauge"
        } else {
            "untyped"
        };
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for cb in registry.all_callbacks() {
            let info = cb.hook.info();
            let value = get(&cb.stats);
            let labels = format!(
                "module=\"{}\",category=\"{}\",callback=\"{}\"",
                cb.module, info.category, info.name
            );
            if name.ends_with("_seconds_sum") {
                let _ = writeln!(out, "{name}{{{labels}}} {}", value as f64 / 1e9);
            } else {
                let _ = writeln!(out, "{name}{{{labels}}} {value}");
            }
        }
    }
}
