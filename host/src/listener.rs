//! The HTTP listener: HTTP/1.1 connections served one task each, with the limits slow or
//! hostile clients need (axum::serve has none of them).
//!
//! - A request's headers must arrive within `header_timeout_ms` of its first byte, and a
//!   connection with no request in progress and no traffic is closed after
//!   `idle_timeout_ms`: a watchdog per connection reads the times its socket last moved.
//! - A request body that stalls for `body_timeout_ms` fails the read (tower-http's
//!   `TimeoutBody`), which ends the request and the connection.
//! - A `Content-Length` above the limit of the path is answered 413 `M_TOO_LARGE` from the
//!   headers, before any of the body is read.
//! - At most `max_connections` connections are held: a new one closes the longest-idle
//!   connection (no request in progress), else waits for one to end. Running out of file
//!   descriptors (EMFILE) is logged once per burst, frees an idle connection and backs off
//!   instead of spinning.
//! - On shutdown, connections without a request in progress close at once, long-polling
//!   `/sync` requests are answered at once with what they have, and whatever is still
//!   running after `shutdown_grace_ms` is dropped.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::time::Instant;

use crate::config::ListenerConfig;

mod conn;
mod limits;

pub use limits::BodyLimits;

/// One connection's clock readings, updated by its socket and its requests.
/// How long a connection must have been quiet before it may be closed to make room (ms):
/// long enough for a request already sent on a new connection to be parsed (it is then in
/// flight, and safe), short enough that a flood of silent sockets is cleared quickly.
const EVICT_AFTER_IDLE_MS: u64 = 100;

struct Activity {
    /// Requests handed to the application and not yet answered.
    in_flight: AtomicUsize,
    /// When the socket last read or wrote bytes (ms since the listener started).
    last_io: AtomicU64,
    /// When the first byte of the next request arrived (ms since the listener started;
    /// 0: none yet).
    request_started: AtomicU64,
    /// Asks the connection to close (eviction at the connection cap).
    close: Notify,
}

/// The connections held, for eviction at the cap.
struct Table {
    /// The listener's start, the zero of every `Activity` reading.
    epoch: Instant,
    next_id: AtomicU64,
    live: Mutex<HashMap<u64, Arc<Activity>>>,
}

impl Table {
    /// Milliseconds since the listener started (at least 1, so 0 can mean "never").
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    /// A new connection's id and activity, entered in the table.
    fn register(&self) -> (u64, Arc<Activity>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            last_io: AtomicU64::new(self.now_ms()),
            request_started: AtomicU64::new(0),
            close: Notify::new(),
        });
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.insert(id, Arc::clone(&activity));
        (id, activity)
    }

    /// Ask the connection that has been idle longest (no request in progress) to close.
    /// Whether there was one.
    fn evict_idlest(&self) -> bool {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        // Only connections quiet for a while: one just accepted has no request in flight
        // until its head is parsed, and closing it would reset a request already sent.
        let quiet_since = self.now_ms().saturating_sub(EVICT_AFTER_IDLE_MS);
        let idlest = live
            .values()
            .filter(|a| a.in_flight.load(Ordering::Acquire) == 0)
            .filter(|a| a.last_io.load(Ordering::Relaxed) <= quiet_since)
            .min_by_key(|a| a.last_io.load(Ordering::Relaxed));
        tracing::debug!(
            live = live.len(),
            "closing the longest-idle connection to make room"
        );
        match idlest {
            Some(a) => {
                a.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Serve `app` on `listener` with the limits of `settings` and the body limits `limits`
/// until `shutdown` resolves; then stop accepting, let requests in progress finish for up
/// to `shutdown_grace_ms`, and return. Each request carries the peer address as
/// `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    settings: ListenerConfig,
    limits: BodyLimits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let table = Arc::new(Table {
        epoch: Instant::now(),
        next_id: AtomicU64::new(0),
        live: Mutex::new(HashMap::new()),
    });
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(conn::Shared {
        app,
        settings,
        limits,
        table: Arc::clone(&table),
        stop: stop_rx,
    });
    tokio::pin!(shutdown);
    let mut backoff = Backoff::default();
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                backoff.failed(&e, &table).await;
                continue;
            }
        };
        backoff.succeeded();
        let Some(permit) = slot(&slots, &table, &mut shutdown).await else {
            break;
        };
        // Registered before the task runs, so the next accept can already evict it.
        let (id, activity) = table.register();
        tokio::spawn(conn::run(
            Arc::clone(&shared),
            stream,
            peer,
            permit,
            id,
            activity,
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    wait_for_connections(&slots, &settings).await;
    Ok(())
}

/// A connection slot: at once when one is free; at the cap, by closing the longest-idle
/// connection, or (every connection busy) by waiting for one to end while new clients queue
/// in the backlog. `None` when `shutdown` came first.
async fn slot(
    slots: &Arc<Semaphore>,
    table: &Table,
    shutdown: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
) -> Option<tokio::sync::OwnedSemaphorePermit> {
    loop {
        if let Ok(permit) = Arc::clone(slots).try_acquire_owned() {
            return Some(permit);
        }
        table.evict_idlest();
        tokio::select! {
            () = shutdown.as_mut() => return None,
            permit = Arc::clone(slots).acquire_owned() => return permit.ok(),
            // A busy connection may have become idle: look again.
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
}

/// Wait until every connection has ended, or the grace period (and a little more, for the
/// connections' own deadlines to fire) has passed.
async fn wait_for_connections(slots: &Semaphore, settings: &ListenerConfig) {
    let all = u32::try_from(settings.max_connections).unwrap_or(u32::MAX);
    let bound = settings.shutdown_grace() + Duration::from_millis(200);
    match tokio::time::timeout(bound, slots.acquire_many(all)).await {
        Ok(_) => tracing::info!("all connections closed"),
        Err(_) => tracing::warn!(
            open = settings.max_connections - slots.available_permits(),
            "connections still open after the shutdown grace period; dropping them"
        ),
    }
}

/// Accept failures: EMFILE/ENFILE (out of file descriptors) and the like. Logged once per
/// burst (at most once every [`LOG_EVERY`], with how many were not logged); each failure in a
/// row sleeps a little longer (up to 1 s) so the loop never spins.
#[derive(Default)]
struct Backoff {
    /// Failures since the last successful accept.
    failures: u32,
    /// When a failure was last logged.
    logged: Option<Instant>,
    /// Failures since then.
    unlogged: u64,
}

/// The shortest time between two logged accept failures.
const LOG_EVERY: Duration = Duration::from_secs(10);

impl Backoff {
    async fn failed(&mut self, error: &std::io::Error, table: &Table) {
        if self.logged.is_none_or(|at| at.elapsed() >= LOG_EVERY) {
            tracing::warn!(
                %error,
                since_last_logged = self.unlogged,
                "accept failed; backing off and closing idle connections until connections can be accepted again (logged once per burst)"
            );
            self.logged = Some(Instant::now());
            self.unlogged = 0;
        } else {
            self.unlogged += 1;
        }
        self.failures = self.failures.saturating_add(1);
        // Out of descriptors: an idle connection is the one we can give back.
        if matches!(error.raw_os_error(), Some(23 | 24)) {
            table.evict_idlest();
        }
        let ms = 10u64 << self.failures.min(7);
        tokio::time::sleep(Duration::from_millis(ms.min(1000))).await;
    }

    fn succeeded(&mut self) {
        self.failures = 0;
    }
}

/// `req` with the peer address attached, as `into_make_service_with_connect_info` would.
fn with_peer(mut req: Request, peer: SocketAddr) -> Request {
    req.extensions_mut().insert(ConnectInfo(peer));
    req
}

/// The request body type the application sees.
type AppBody = Body;
