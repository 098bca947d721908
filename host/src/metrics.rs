//! Prometheus metrics at `/_modhost/metrics`: HTTP requests per route, and per module
//! callback its calls, denials, failures and latency.
//!
//! Every label comes from a closed set, so no client can grow the page: the route is the
//! matched route template (`unmatched` for anything no route matched), the method one of
//! the nine standard HTTP methods (`other` for any other token), the status a status code.
//! Series live in a `metrics-exporter-prometheus` recorder owned by the server (not a
//! process-wide one: tests run several servers in one process). Recording a request touches
//! only atomics and a briefly read-locked map shard; a scrape renders on a blocking thread
//! and never holds a lock that request handling takes.
//!
//! Callback counters live in each registered callback as atomics, so the dispatch hot path
//! takes no lock; a scrape copies them into the recorder. Latency is sampled (one call in
//! [`crate::modules::stats::SAMPLE_EVERY`]): reading the clock twice would cost a third of a
//! whole in-process callback dispatch.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::http::Method;
use metrics::{Key, Label, Level, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};

use crate::modules::stats::CallbackStats;
use crate::modules::Registry;

/// Histogram bucket bounds of request latency, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// Counter of HTTP requests, labelled `method`, `route`, `status`.
const REQUESTS: &str = "modhost_http_requests_total";
/// Histogram of request latency in seconds, labelled `method`, `route`.
const DURATION: &str = "modhost_http_request_duration_seconds";

/// How often histogram samples are folded into their buckets when nobody scrapes (without
/// it samples would pile up between scrapes).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static METADATA: Metadata<'static> = Metadata::new("modhost", Level::INFO, None);

/// How a module callback metric is exposed.
#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
}

/// A callback metric: name, kind, help text, and how to read it (seconds sums come as
/// nanoseconds and are scaled when written).
type Series = (&'static str, Kind, &'static str, fn(&CallbackStats) -> u64);

/// The per-callback series.
const CALLBACK_SERIES: [Series; 6] = [
    (
        "modhost_module_callback_calls_total",
        Kind::Counter,
        "Module callback calls.",
        |s| s.calls.load(Ordering::Relaxed),
    ),
    (
        "modhost_module_callback_denials_total",
        Kind::Counter,
        "Module callback answers that refused the operation.",
        |s| s.denials.load(Ordering::Relaxed),
    ),
    (
        "modhost_module_callback_failures_total",
        Kind::Counter,
        "Module callback errors, panics, timeouts and invalid answers.",
        |s| s.failures.load(Ordering::Relaxed),
    ),
    (
        "modhost_module_callback_consecutive_failures",
        Kind::Gauge,
        "Failures of the callback since its last answer (a module that keeps failing).",
        |s| s.consecutive_failures.load(Ordering::Relaxed),
    ),
    (
        "modhost_module_callback_seconds_count",
        Kind::Counter,
        "Sampled module callback calls (one in 8 is timed).",
        |s| s.sampled.load(Ordering::Relaxed),
    ),
    (
        "modhost_module_callback_seconds_sum",
        Kind::Gauge,
        "Total seconds of the sampled calls.",
        |s| s.sampled_nanos.load(Ordering::Relaxed),
    ),
];

/// The server's metrics: HTTP requests as they are served, module callbacks when scraped.
pub struct HttpMetrics {
    recorder: PrometheusRecorder,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpMetrics {
    /// An empty set of series with the latency buckets of [`BUCKETS`].
    pub fn new() -> Self {
        let builder = PrometheusBuilder::new();
        let builder = builder
            .set_buckets_for_metric(Matcher::Full(DURATION.to_string()), &BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        recorder.describe_counter(
            REQUESTS.into(),
            None,
            "HTTP requests by route and status.".into(),
        );
        recorder.describe_histogram(
            DURATION.into(),
            None,
            "HTTP request latency by route.".into(),
        );
        for (name, kind, help, _) in CALLBACK_SERIES {
            match kind {
                Kind::Counter => recorder.describe_counter(name.into(), None, help.into()),
                Kind::Gauge => recorder.describe_gauge(name.into(), None, help.into()),
            }
        }
        HttpMetrics { recorder }
    }

    /// Fold histogram samples into buckets every [`UPKEEP_EVERY`] until `metrics` is
    /// dropped (no-op outside a tokio runtime).
    pub fn spawn_upkeep(metrics: &Arc<HttpMetrics>) {
        let weak: Weak<HttpMetrics> = Arc::downgrade(metrics);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(UPKEEP_EVERY);
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(m) => m.recorder.handle().run_upkeep(),
                    None => return,
                }
            }
        });
    }

    /// Record one request: `method` as received, `route` the matched route template
    /// (`None`: no route matched), `status` the response status, `took` its latency.
    pub fn record(&self, method: &Method, route: Option<&str>, status: u16, took: Duration) {
        let method = method_label(method);
        let route = SharedString::from(route.unwrap_or("unmatched").to_string());
        let labels = vec![
            Label::new("method", method),
            Label::new("route", route.clone()),
        ];
        let mut with_status = labels.clone();
        with_status.push(Label::new("status", status.to_string()));
        self.recorder
            .register_counter(&Key::from_parts(REQUESTS, with_status), &METADATA)
            .increment(1);
        self.recorder
            .register_histogram(&Key::from_parts(DURATION, labels), &METADATA)
            .record(took.as_secs_f64());
    }

    /// Everything in the Prometheus text format (version 0.0.4): HTTP requests, then module
    /// callbacks. CPU-bound: call it off the async workers ([`HttpMetrics::render_async`]).
    pub fn render(&self, registry: &Registry) -> String {
        self.copy_callbacks(registry);
        self.recorder.handle().render()
    }

    /// [`HttpMetrics::render`] on a blocking thread, so a large page never stalls requests.
    pub async fn render_async(self: Arc<Self>, registry: Arc<Registry>) -> String {
        tokio::task::spawn_blocking(move || self.render(&registry))
            .await
            .unwrap_or_default()
    }

    /// Copy every callback's counters (atomics, updated lock-free by dispatch) into the
    /// recorder's series.
    fn copy_callbacks(&self, registry: &Registry) {
        for cb in registry.all_callbacks() {
            let info = cb.hook.info();
            let labels = vec![
                Label::new("module", cb.module.to_string()),
                Label::new("category", info.category.to_string()),
                Label::new("callback", info.name.to_string()),
            ];
            for (name, kind, _, get) in CALLBACK_SERIES {
                let value = get(&cb.stats);
                let key = Key::from_parts(name, labels.clone());
                match kind {
                    Kind::Counter => self
                        .recorder
                        .register_counter(&key, &METADATA)
                        .absolute(value),
                    Kind::Gauge if name.ends_with("_seconds_sum") => self
                        .recorder
                        .register_gauge(&key, &METADATA)
                        .set(value as f64 / 1e9),
                    Kind::Gauge => self
                        .recorder
                        .register_gauge(&key, &METADATA)
                        .set(value as f64),
                }
            }
        }
    }
}

/// A gauge read from the server's state at each scrape: its name, help text and value.
pub type ScrapedGauge = (&'static str, &'static str, f64);

/// What [`instrument`] adds to each scrape besides requests and callbacks.
pub struct Scraped {
    /// Gauges set in the recorder before it renders.
    pub gauges: Arc<dyn Fn() -> Vec<ScrapedGauge> + Send + Sync>,
    /// More series, as Prometheus text appended to the page.
    pub text: Arc<dyn Fn() -> String + Send + Sync>,
}

impl HttpMetrics {
    /// Set each of `gauges` (described by its help text) to its value.
    fn set_gauges(&self, gauges: Vec<ScrapedGauge>) {
        for (name, help, value) in gauges {
            self.recorder.describe_gauge(name.into(), None, help.into());
            self.recorder
                .register_gauge(&Key::from_name(name), &METADATA)
                .set(value);
        }
    }
}

/// Add `/_modhost/metrics` to `app` and record every request of `app` (the route added
/// here included). `registry` supplies the module callback series; `scraped` the series
/// read from the server's state at each scrape.
pub fn instrument(app: axum::Router, registry: Arc<Registry>, scraped: Scraped) -> axum::Router {
    let metrics = Arc::new(HttpMetrics::new());
    HttpMetrics::spawn_upkeep(&metrics);
    let render = {
        let metrics = Arc::clone(&metrics);
        move || {
            let (metrics, registry) = (Arc::clone(&metrics), Arc::clone(&registry));
            metrics.set_gauges((scraped.gauges)());
            let extra = (scraped.text)();
            async move {
                let body = metrics.render_async(registry).await + &extra;
                let content_type = "text/plain; version=0.0.4";
                ([(axum::http::header::CONTENT_TYPE, content_type)], body)
            }
        }
    };
    let app = app.route("/_modhost/metrics", axum::routing::get(render));
    app.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let metrics = Arc::clone(&metrics);
            async move {
                let method = req.method().clone();
                let route = req
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map(|p| p.as_str().to_string());
                let started = std::time::Instant::now();
                let response = next.run(req).await;
                let status = response.status().as_u16();
                metrics.record(&method, route.as_deref(), status, started.elapsed());
                response
            }
        },
    ))
}

/// The `method` label: one of the standard methods, `other` for any other token (a client
/// may send any token as a method; each would otherwise be a new series).
pub fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "CONNECT" => "CONNECT",
        "OPTIONS" => "OPTIONS",
        "TRACE" => "TRACE",
        "PATCH" => "PATCH",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        let garbage = Method::from_bytes(b"MAAAAAAAA").unwrap();
        assert_eq!(method_label(&garbage), "other");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(method_label(&Method::GET), "GET");
    }
}
