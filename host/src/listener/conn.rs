//! One connection: its socket (timed), its requests, and the watchdog that closes it.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::request::Parts;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio::time::Instant;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

use super::{with_peer, Activity, AppBody, BodyLimits, Table};
use crate::config::ListenerConfig;

/// What every connection task shares.
pub(super) struct Shared {
    /// The application.
    pub(super) app: Router,
    /// Timeouts and caps.
    pub(super) settings: ListenerConfig,
    /// Body limits checked from `Content-Length`.
    pub(super) limits: BodyLimits,
    /// The live connections.
    pub(super) table: Arc<Table>,
    /// Becomes `true` when the server shuts down.
    pub(super) stop: watch::Receiver<bool>,
}

/// Serve one accepted connection until it ends, times out, is evicted or the shutdown
/// grace period ends; `permit` is its slot under `max_connections`, `id` and `activity`
/// its entry in the table of live connections.
pub(super) async fn run(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
    id: u64,
    activity: Arc<Activity>,
) {
    let table = Arc::clone(&shared.table);
    let io = TokioIo::new(Timed {
        inner: stream,
        activity: Arc::clone(&activity),
        table: Arc::clone(&table),
    });
    let service = {
        let (shared, activity) = (Arc::clone(&shared), Arc::clone(&activity));
        hyper::service::service_fn(move |req| {
            handle(Arc::clone(&shared), Arc::clone(&activity), peer, req)
        })
    };
    let conn = hyper::server::conn::http1::Builder::new()
        // Our watchdog times headers and idleness separately; hyper's one timer does both.
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let mut stop = shared.stop.clone();
    let mut stopping = false;
    let mut grace_ends = Instant::now();
    let tick = watchdog_tick(&shared.settings);
    loop {
        tokio::select! {
            _ = conn.as_mut() => break,
            () = activity.close.notified() => {
                if activity.in_flight.load(Ordering::Acquire) == 0 {
                    tracing::debug!(%peer, "closing the longest-idle connection for a new one");
                    break;
                }
            }
            _ = stop.wait_for(|s| *s), if !stopping => {
                if activity.in_flight.load(Ordering::Acquire) == 0 {
                    break;
                }
                stopping = true;
                grace_ends = Instant::now() + shared.settings.shutdown_grace();
                conn.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(grace_ends), if stopping => break,
            () = tokio::time::sleep(tick) => {
                if let Some(why) = expired(&activity, &table, &shared.settings) {
                    tracing::debug!(%peer, why, "closing connection");
                    break;
                }
            }
        }
    }
    lock(&table).remove(&id);
    drop(permit);
}

fn lock(table: &Table) -> std::sync::MutexGuard<'_, std::collections::HashMap<u64, Arc<Activity>>> {
    table.live.lock().unwrap_or_else(|p| p.into_inner())
}

/// How often the watchdog looks: a quarter of the shortest timeout, at most 1 s.
fn watchdog_tick(s: &ListenerConfig) -> Duration {
    let shortest = s.header_timeout_ms.min(s.idle_timeout_ms);
    Duration::from_millis((shortest / 4).clamp(5, 1000))
}

/// Why the connection should close now, if it should: headers begun and not finished in
/// time, or nothing at all happening for too long. Never while a request is in progress
/// (its body has its own timeout; a long-poll is allowed to wait).
fn expired(a: &Activity, table: &Table, s: &ListenerConfig) -> Option<&'static str> {
    if a.in_flight.load(Ordering::Acquire) > 0 {
        return None;
    }
    let now = table.now_ms();
    let started = a.request_started.load(Ordering::Acquire);
    if started != 0 {
        return (now.saturating_sub(started) > s.header_timeout_ms)
            .then_some("request headers not complete within header_timeout_ms");
    }
    let last = a.last_io.load(Ordering::Acquire);
    (now.saturating_sub(last) > s.idle_timeout_ms).then_some("idle for idle_timeout_ms")
}

/// Marks a request as in progress for as long as it lives.
struct InFlight {
    activity: Arc<Activity>,
    table: Arc<Table>,
}

impl InFlight {
    fn enter(activity: &Arc<Activity>, table: &Arc<Table>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        activity.request_started.store(0, Ordering::Release);
        InFlight {
            activity: Arc::clone(activity),
            table: Arc::clone(table),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // The next request's header clock starts at its own first byte.
        self.activity.request_started.store(0, Ordering::Release);
        self.activity
            .last_io
            .store(self.table.now_ms(), Ordering::Release);
        self.activity.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One request: refused from its headers when its body would be too large, else handed
/// to the application with a timed body and the peer address.
async fn handle(
    shared: Arc<Shared>,
    activity: Arc<Activity>,
    peer: SocketAddr,
    req: hyper::Request<Incoming>,
) -> Result<axum::response::Response, Infallible> {
    let _in_flight = InFlight::enter(&activity, &shared.table);
    if let Some(refused) = shared.limits.refuse(&req) {
        return Ok(refused);
    }
    let body_timeout = shared.settings.body_timeout();
    let req = req.map(|body| AppBody::new(TimeoutBody::new(body_timeout, body)));
    let req = with_peer(req, peer);
    if is_sync(req.method(), req.uri().path()) {
        return Ok(sync_until_stop(&shared, req).await);
    }
    Ok(shared
        .app
        .clone()
        .oneshot(req)
        .await
        .unwrap_or_else(|e| match e {}))
}

/// `GET /_matrix/client/*/sync`: the request that long-polls.
fn is_sync(method: &axum::http::Method, path: &str) -> bool {
    method == axum::http::Method::GET
        && path.starts_with("/_matrix/client/")
        && path.ends_with("/sync")
}

/// Run a `/sync`; when the server starts shutting down while it waits, answer at once with
/// what there is (the same request with `timeout=0`), so the client is not left hanging
/// until the grace period ends.
async fn sync_until_stop(shared: &Shared, req: axum::extract::Request) -> axum::response::Response {
    let mut stop = shared.stop.clone();
    let (parts, body) = req.into_parts();
    let again = parts.clone();
    let first = shared
        .app
        .clone()
        .oneshot(axum::extract::Request::from_parts(parts, body));
    let stopped = async move {
        // The guard `wait_for` returns must not live across an await (it is not Send).
        let _ = stop.wait_for(|s| *s).await.is_ok();
    };
    tokio::select! {
        answered = first => return answered.unwrap_or_else(|e| match e {}),
        () = stopped => {}
    }
    let now = axum::extract::Request::from_parts(without_wait(again), AppBody::empty());
    shared
        .app
        .clone()
        .oneshot(now)
        .await
        .unwrap_or_else(|e| match e {})
}

/// `parts` with the query's `timeout` replaced by `timeout=0`.
fn without_wait(mut parts: Parts) -> Parts {
    let query = parts.uri.query().unwrap_or("");
    let pairs = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .filter(|(k, _)| k != "timeout");
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .append_pair("timeout", "0")
        .finish();
    if let Ok(uri) = format!("{}?{query}", parts.uri.path()).parse() {
        parts.uri = uri;
    }
    parts
}

/// The socket, noting when bytes move: reads and writes both count as activity, and a read
/// while no request is in progress starts the next request's header clock.
struct Timed {
    inner: TcpStream,
    activity: Arc<Activity>,
    table: Arc<Table>,
}

impl Timed {
    fn moved(&self, read: bool) {
        let now = self.table.now_ms();
        self.activity.last_io.store(now, Ordering::Release);
        if read && self.activity.in_flight.load(Ordering::Acquire) == 0 {
            let _ = self.activity.request_started.compare_exchange(
                0,
                now,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
    }
}

impl AsyncRead for Timed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.moved(true);
        }
        polled
    }
}

impl AsyncWrite for Timed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.moved(false);
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.moved(false);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_stopped_early_asks_for_no_wait_and_keeps_the_rest() {
        let req = axum::http::Request::get("/_matrix/client/v3/sync?since=s1&timeout=30000")
            .body(())
            .unwrap();
        let (parts, ()) = req.into_parts();
        let parts = without_wait(parts);
        assert_eq!(
            parts.uri.to_string(),
            "/_matrix/client/v3/sync?since=s1&timeout=0"
        );
        assert!(is_sync(&parts.method, parts.uri.path()));
        assert!(!is_sync(&parts.method, "/_matrix/client/v3/syncx"));
    }
}
