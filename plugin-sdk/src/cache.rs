//! A cache for async lookups (Synapse's `@cached`): least-recently-used eviction at
//! `max_entries`, one in-flight computation per key shared by every concurrent caller, and
//! failures never cached.
//!
//! ```
//! # async fn demo() -> Result<(), plugin_sdk::ModuleError> {
//! use plugin_sdk::cache::Cached;
//!
//! let departments: Cached<String, String> = Cached::new(1000);
//! let dept = departments
//!     .get_or_compute("@alice:example.org".to_string(), || async {
//!         // e.g. ask an HR service …
//!         Ok("engineering".to_string())
//!     })
//!     .await?;
//! assert_eq!(dept, "engineering");
//! departments.invalidate(&"@alice:example.org".to_string()); // after the HR record changes
//! # Ok(()) }
//! ```
//!
//! [`Cached::invalidate`] is local to this process; to reach every instance sharing the
//! database, register the cache with
//! [`ModuleApi::register_cached_function`](crate::ModuleApi::register_cached_function) and
//! call [`ModuleApi::invalidate_cache`](crate::ModuleApi::invalidate_cache).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use futures_util::future::{BoxFuture, FutureExt as _, Shared};

use crate::ModuleError;

type Pending<V> = Shared<BoxFuture<'static, Result<V, String>>>;

enum Slot<V> {
    Ready(V, u64),
    /// A computation in flight: its result, last use, and its own id (a computation stores
    /// its result only if its slot is still there, so invalidating a key drops exactly
    /// that key's computation).
    InFlight(Pending<V>, u64, u64),
}

struct Inner<K, V> {
    slots: HashMap<K, Slot<V>>,
    tick: u64,
}

/// See the module docs. Cheap to clone; clones share the cache.
pub struct Cached<K, V> {
    inner: Arc<Mutex<Inner<K, V>>>,
    max_entries: usize,
}

impl<K, V> Clone for Cached<K, V> {
    fn clone(&self) -> Self {
        Cached {
            inner: Arc::clone(&self.inner),
            max_entries: self.max_entries,
        }
    }
}

impl<K, V> Cached<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A cache holding at most `max_entries` values (at least 1).
    pub fn new(max_entries: usize) -> Self {
        Cached {
            inner: Arc::new(Mutex::new(Inner {
                slots: HashMap::new(),
                tick: 0,
            })),
            max_entries: max_entries.max(1),
        }
    }

    /// The cached value for `key`, or the result of `compute` — which runs once even when
    /// several callers ask at the same time. An `Err` is returned to every waiting caller and
    /// not cached.
    pub async fn get_or_compute<F, Fut>(&self, key: K, compute: F) -> Result<V, ModuleError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, ModuleError>> + Send + 'static,
    {
        let (pending, id) = {
            let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            inner.tick += 1;
            let tick = inner.tick;
            match inner.slots.get_mut(&key) {
                Some(Slot::Ready(v, used)) => {
                    *used = tick;
                    return Ok(v.clone());
                }
                Some(Slot::InFlight(p, used, id)) => {
                    *used = tick;
                    (p.clone(), *id)
                }
                None => {
                    let fut = compute();
                    let p: Pending<V> =
                        async move { fut.await.map_err(|e| e.message().to_string()) }
                            .boxed()
                            .shared();
                    inner
                        .slots
                        .insert(key.clone(), Slot::InFlight(p.clone(), tick, tick));
                    (p, tick)
                }
            }
        };
        let result = pending.await;
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let still_ours =
            matches!(inner.slots.get(&key), Some(Slot::InFlight(_, _, slot)) if *slot == id);
        if still_ours {
            match &result {
                Ok(v) => {
                    let tick = inner.tick;
                    inner.slots.insert(key, Slot::Ready(v.clone(), tick));
                    self.evict(&mut inner);
                }
                Err(_) => {
                    inner.slots.remove(&key);
                }
            }
        }
        result.map_err(ModuleError::new)
    }

    fn evict(&self, inner: &mut Inner<K, V>) {
        while inner.slots.len() > self.max_entries {
            let oldest = inner
                .slots
                .iter()
                .filter(|(_, s)| matches!(s, Slot::Ready(..)))
                .min_by_key(|(_, s)| match s {
                    Slot::Ready(_, t) | Slot::InFlight(_, t, _) => *t,
                })
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => {
                    inner.slots.remove(&k);
                }
                None => break,
            }
        }
    }

    /// Forget `key` (also an in-flight computation: its result will not be stored).
    pub fn invalidate(&self, key: &K) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.slots.remove(key);
    }

    /// Forget everything.
    pub fn invalidate_all(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.slots.clear();
    }

    /// Store `value` for `key` without computing it.
    pub fn prefill(&self, key: K, value: V) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.tick += 1;
        let tick = inner.tick;
        inner.slots.insert(key, Slot::Ready(value, tick));
        self.evict(&mut inner);
    }

    /// How many values are cached (not counting computations in flight).
    pub fn len(&self) -> usize {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .slots
            .values()
            .filter(|s| matches!(s, Slot::Ready(..)))
            .count()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use super::*;

    fn counter() -> Arc<AtomicU32> {
        Arc::new(AtomicU32::new(0))
    }

    async fn lookup(
        cache: &Cached<u32, String>,
        key: u32,
        calls: &Arc<AtomicU32>,
    ) -> Result<String, ModuleError> {
        let calls = Arc::clone(calls);
        cache
            .get_or_compute(key, move || async move {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(format!("v{key}"))
            })
            .await
    }

    #[tokio::test]
    async fn a_hit_does_not_compute_again() {
        let (cache, calls) = (Cached::new(10), counter());
        assert_eq!(lookup(&cache, 1, &calls).await.unwrap(), "v1");
        assert_eq!(lookup(&cache, 1, &calls).await.unwrap(), "v1");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_least_recently_used_entry_is_evicted() {
        let (cache, calls) = (Cached::new(2), counter());
        lookup(&cache, 1, &calls).await.unwrap();
        lookup(&cache, 2, &calls).await.unwrap();
        lookup(&cache, 1, &calls).await.unwrap(); // 1 is now more recent than 2
        lookup(&cache, 3, &calls).await.unwrap(); // evicts 2
        assert_eq!(cache.len(), 2);
        lookup(&cache, 1, &calls).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3, "1 stayed cached");
        lookup(&cache, 2, &calls).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 4, "2 was evicted");
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_computation() {
        let cache: Cached<u32, String> = Cached::new(10);
        let calls = counter();
        let slow = |cache: Cached<u32, String>, calls: Arc<AtomicU32>| async move {
            cache
                .get_or_compute(7, move || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Ok("seven".to_string())
                })
                .await
        };
        let (a, b, c) = tokio::join!(
            slow(cache.clone(), calls.clone()),
            slow(cache.clone(), calls.clone()),
            slow(cache.clone(), calls.clone())
        );
        assert_eq!(
            (a.unwrap(), b.unwrap(), c.unwrap()),
            ("seven".into(), "seven".into(), "seven".into())
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn failures_are_not_cached() {
        let cache: Cached<u32, String> = Cached::new(10);
        let err = cache
            .get_or_compute(1, || async { Err(ModuleError::new("down")) })
            .await
            .unwrap_err();
        assert_eq!(err.message(), "down");
        assert!(cache.is_empty());
        let calls = counter();
        assert_eq!(lookup(&cache, 1, &calls).await.unwrap(), "v1");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn invalidation_forgets_values_and_in_flight_results() {
        let (cache, calls) = (Cached::new(10), counter());
        lookup(&cache, 1, &calls).await.unwrap();
        cache.invalidate(&1);
        lookup(&cache, 1, &calls).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        cache.prefill(5, "five".into());
        assert_eq!(lookup(&cache, 5, &calls).await.unwrap(), "five");
        cache.invalidate_all();
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn invalidating_another_key_leaves_a_computation_alone() {
        let cache: Cached<u32, String> = Cached::new(10);
        let (tx, rx) = futures_channel::oneshot::channel::<()>();
        let slow = cache.get_or_compute(1, || async move {
            let _ = rx.await;
            Err(ModuleError::new("first try fails"))
        });
        let other = async {
            tokio::task::yield_now().await;
            cache.invalidate(&2);
            let _ = tx.send(());
        };
        let (result, ()) = futures_util::future::join(slow, other).await;
        assert!(result.is_err());
        // The failure was neither stored nor left behind for the next caller.
        let again = cache
            .get_or_compute(1, || async { Ok("ok".to_string()) })
            .await;
        assert_eq!(again.unwrap(), "ok");
        assert_eq!(cache.len(), 1);
    }

    #[tokio::test]
    async fn invalidating_a_key_mid_computation_keeps_the_old_result_out() {
        let cache: Cached<u32, String> = Cached::new(10);
        let (tx, rx) = futures_channel::oneshot::channel::<()>();
        let slow = cache.get_or_compute(1, || async move {
            let _ = rx.await;
            Ok("stale".to_string())
        });
        let other = async {
            tokio::task::yield_now().await;
            cache.invalidate(&1);
            let _ = tx.send(());
        };
        let (result, ()) = futures_util::future::join(slow, other).await;
        assert_eq!(result.unwrap(), "stale", "the caller still gets its answer");
        assert!(cache.is_empty(), "but it is not kept");
    }
}
