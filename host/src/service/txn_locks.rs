//! Idempotency locks for client transactions (spec §"Transaction identifiers"): retries of one
//! `(access token, transaction key)` wait for each other so they produce one event, while
//! every other request goes on at once. A striped lock would make unrelated senders queue
//! behind one whose module check (`check_event_for_spam`) hangs; here each exact key has its
//! own entry, removed when its last holder is done.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

/// `(token hash, key)` → the lock of that one transaction.
type Entries = HashMap<(String, String), Arc<tokio::sync::Mutex<()>>>;

/// The per-transaction locks currently held or waited for.
#[derive(Default)]
pub struct TxnLocks {
    entries: Arc<Mutex<Entries>>,
}

/// Held while one transaction is handled; dropping it releases the key (and forgets the
/// entry when nobody else waits for it).
pub struct TxnGuard {
    guard: Option<OwnedMutexGuard<()>>,
    entries: Arc<Mutex<Entries>>,
    key: (String, String),
}

impl TxnLocks {
    /// Wait until no other request handles `(token_hash, key)`, then hold it. `token_hash`
    /// is the requester's hashed access token; `key` the request's transaction key
    /// (path-scoped, as Synapse scopes transaction IDs).
    pub async fn lock(&self, token_hash: &str, key: &str) -> TxnGuard {
        let key = (token_hash.to_string(), key.to_string());
        let entry = {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(entries.entry(key.clone()).or_default())
        };
        TxnGuard {
            guard: Some(entry.lock_owned().await),
            entries: Arc::clone(&self.entries),
            key,
        }
    }

    /// How many keys are held or waited for (0 once every request is done).
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for TxnGuard {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        // Only the map holds it now: no request holds or awaits this key.
        if entries
            .get(&self.key)
            .is_some_and(|e| Arc::strong_count(e) == 1)
        {
            entries.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unrelated_keys_do_not_wait_and_entries_are_removed() {
        let locks = TxnLocks::default();
        let a = locks.lock("t", "a").await;
        // A different key is free while `a` is held.
        let b = tokio::time::timeout(std::time::Duration::from_millis(100), locks.lock("t", "b"))
            .await
            .expect("an unrelated key must not wait");
        assert_eq!(locks.len(), 2);
        // The same key waits.
        let same = tokio::time::timeout(std::time::Duration::from_millis(50), locks.lock("t", "a"));
        assert!(same.await.is_err());
        drop(a);
        drop(b);
        assert!(locks.is_empty());
    }
}
