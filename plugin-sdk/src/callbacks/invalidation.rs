//! Cached functions registered for invalidation by name ([`ModuleApi::register_cached_function`]
//! and [`ModuleApi::invalidate_cache`]), and the hidden `sdk.invalidate_cache` callback
//! through which the host delivers other instances' invalidations. The table belongs to one
//! module instance (its `ModuleApi`), not to the library, so two servers in one process
//! that load the same library keep separate tables.
//!
//! [`ModuleApi::register_cached_function`]: crate::ModuleApi::register_cached_function
//! [`ModuleApi::invalidate_cache`]: crate::ModuleApi::invalidate_cache

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{Entry, SdkCallbacks};

pub(crate) type Invalidator = Arc<dyn Fn(&str) + Send + Sync>;

/// One module instance's registered cached functions.
#[derive(Default)]
pub(crate) struct Invalidators(Mutex<HashMap<String, Invalidator>>);

impl Invalidators {
    /// Remember `invalidate` under `name` (a later registration under the same name
    /// replaces it); whether this is the first registration of any function.
    pub(crate) fn register(&self, name: &str, invalidate: Invalidator) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let first = map.is_empty();
        map.insert(name.to_string(), invalidate);
        first
    }

    /// Drop `key` from the function registered as `name`; whether there is one.
    pub(crate) fn invalidate(&self, name: &str, key: &str) -> bool {
        let f = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned();
        match f {
            Some(f) => {
                f(key);
                true
            }
            None => false,
        }
    }
}

/// The hidden callback for `table`: drops a key from the named function; unknown names are
/// ignored, as in Synapse.
pub(crate) fn hook(table: Arc<Invalidators>) -> Entry {
    SdkCallbacks::default()
        .invalidate_cache(move |function: String, key: String| {
            table.invalidate(&function, &key);
            async {}
        })
        .into_entry()
}
