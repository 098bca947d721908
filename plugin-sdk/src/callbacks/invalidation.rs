//! Cached functions registered for invalidation by name ([`ModuleApi::register_cached_function`]
//! and [`ModuleApi::invalidate_cache`]), and the hidden `sdk.invalidate_cache` callback
//! through which the host delivers other instances' invalidations.
//!
//! [`ModuleApi::register_cached_function`]: crate::ModuleApi::register_cached_function
//! [`ModuleApi::invalidate_cache`]: crate::ModuleApi::invalidate_cache

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::{entry, Entry};

type Invalidator = Arc<dyn Fn(&str) + Send + Sync>;

static REGISTERED: Mutex<Option<HashMap<String, Invalidator>>> = Mutex::new(None);
static HOOK_REGISTERED: AtomicBool = AtomicBool::new(false);

/// Remember `invalidate` under `name` (a later registration under the same name replaces it).
pub(crate) fn register(name: &str, invalidate: Invalidator) {
    REGISTERED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(name.to_string(), invalidate);
}

/// Drop `key` from the function registered as `name`; whether there is one.
pub(crate) fn invalidate(name: &str, key: &str) -> bool {
    let f = REGISTERED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .and_then(|m| m.get(name).cloned());
    match f {
        Some(f) => {
            f(key);
            true
        }
        None => false,
    }
}

/// The hidden callback, the first time a module registers a cached function.
pub(crate) fn hook_once() -> Option<Entry> {
    if HOOK_REGISTERED.swap(true, Ordering::SeqCst) {
        return None;
    }
    // Arguments: function name, key. Unknown names are ignored, as in Synapse.
    Some(entry::<(String, String), _, _, (), ()>(
        "invalidate_cache",
        String::new(),
        |(name, key)| {
            invalidate(&name, &key);
            async {}
        },
    ))
}
