//! Cache invalidation across instances.
//!
//! A module invalidates its own cache first (in the SDK), then calls `invalidate_cache`; the
//! host appends the invalidation to the `cache_invalidations` stream in the shared database.
//! Every instance tails that stream ([`InvalidationFeed`]) and hands rows written by other
//! instances to the named module's `sdk.invalidate_cache` callback. One instance alone skips
//! its own rows, so on a single instance invalidation stays local.
//!
//! On PostgreSQL the writer signals the other instances ([`crate::service::instances`]),
//! which read the stream at once; a slow poll remains as a safety net. On SQLite (several
//! processes may share one file) they poll every [`POLL`]. Positions are taken under the
//! stream's write lock, so they commit in order and `stream_id > position` misses nothing.

use std::time::Duration;

use plugin_sdk::host_methods::{HostError, InvalidateCache, InvalidateCacheArgs};

use super::{internal, Handler};
use crate::state::AppState;

/// How often an instance looks for other instances' invalidations on SQLite.
pub const POLL: Duration = Duration::from_millis(250);
/// How often it looks on PostgreSQL, where a signal normally says when (a safety net).
const POLL_SIGNALLED: Duration = Duration::from_secs(5);
/// How long an invalidation stays in the stream (far longer than any instance takes to read
/// it; an instance that was down longer starts with empty caches anyway).
const KEEP_MS: i64 = 10 * 60 * 1000;

/// `invalidate_cache(function, key)` → null: append the invalidation of `key` in `module`'s
/// cached function `function` to the stream every other instance tails.
impl Handler for InvalidateCache {
    async fn handle(
        state: &AppState,
        module: &str,
        args: InvalidateCacheArgs,
    ) -> Result<(), HostError> {
        let instance = &state.module_api.instance;
        state
            .store
            .add_invalidation(instance, module, &args.function, &args.key)
            .await
            .map_err(internal)?;
        let signal = crate::service::instances::Signal::Invalidated;
        state.signals.publish(state, signal);
        Ok(())
    }
}

/// Tails the invalidation stream for this instance.
pub struct InvalidationFeed;

impl InvalidationFeed {
    /// Deliver other instances' invalidations written from now on, until the runtime stops.
    pub async fn run(state: AppState) {
        let mut position = match state.store.max_invalidation().await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("cache invalidation stream unavailable: {e}");
                return;
            }
        };
        let interval = match state.store.backend() {
            crate::storage::Backend::Sqlite => POLL,
            crate::storage::Backend::Postgres => POLL_SIGNALLED,
        };
        let mut last_prune = std::time::Instant::now();
        loop {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = state.signals.invalidations.notified() => {}
            }
            // Once a minute, drop rows every instance has long read: the background
            // leader's job (the table is shared; one pruner is enough).
            if last_prune.elapsed() >= Duration::from_secs(60) && state.leadership.is_leader() {
                last_prune = std::time::Instant::now();
                if let Err(e) = state.store.prune_invalidations(KEEP_MS).await {
                    tracing::warn!("pruning the cache invalidation stream failed: {e}");
                }
            }
            let rows = match state.store.invalidations_since(position).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!("reading the cache invalidation stream failed: {e}");
                    continue;
                }
            };
            for row in rows {
                position = row.stream_id;
                if row.instance != state.module_api.instance {
                    state
                        .modules
                        .invalidate_cache(&row.module, &row.function, &row.key)
                        .await;
                }
            }
        }
    }
}
