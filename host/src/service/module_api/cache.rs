//! Cache invalidation across instances.
//!
//! A module invalidates its own cache first (in the SDK), then calls `invalidate_cache`; the
//! host appends the invalidation to the `cache_invalidations` stream in the shared database.
//! Every instance tails that stream ([`InvalidationFeed`]) and hands rows written by other
//! instances to the named module's `sdk.invalidate_cache` callback. One instance alone skips
//! its own rows, so on a single instance invalidation stays local; with several instances on
//! one database each sees every other's invalidations within one poll interval.
//!
//! On SQLite stream positions are assigned by the single writer in commit order. A
//! PostgreSQL backend must not tail by `stream_id > position` alone (sequence values can
//! commit out of order); it needs the usual "minimum pending position" scheme.

use std::time::Duration;

use plugin_sdk::host_methods::{HostError, InvalidateCache, InvalidateCacheArgs};

use super::{internal, Handler};
use crate::state::AppState;

/// How often an instance looks for other instances' invalidations.
pub const POLL: Duration = Duration::from_millis(250);
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
        let mut polls: u64 = 0;
        loop {
            tokio::time::sleep(POLL).await;
            polls += 1;
            // Once a minute, drop rows every instance has long read.
            if polls % 240 == 0 {
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
