//! Arguments of the cache method.

use serde::{Deserialize, Serialize};

/// `invalidate_cache(function, key)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidateCacheArgs {
    /// The name the cached function is registered under.
    pub function: String,
    /// The key to drop.
    pub key: String,
}
