//! Each module's store: a namespaced key/value space on the host's database, with
//! transactions.
//!
//! Why key/value rather than tables of the module's own: the module's namespace is enforced
//! by the host (a module cannot name another's keys, let alone the host's tables), nothing a
//! module sends is SQL, and the same calls work unchanged on any database the host runs on.
//! Ordered keys with prefix scans cover the indexes modules build by hand (`expiry/<user>`).
//! Schema versions are kept by the SDK under a reserved key, upgraded in a transaction.
//!
//! SQLite has one writer, so a module transaction holds every other write up: one module
//! transaction is open at a time, and one left open longer than
//! `module_transaction_timeout_ms` is rolled back by the host.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use plugin_sdk::host_methods::{
    AsJson, HostError, StoreBegin, StoreCommit, StoreDelete, StoreGet, StoreKeyArgs, StorePut,
    StorePutArgs, StoreRollback, StoreScan, StoreScanArgs, TxnArgs,
};
use serde_json::Value;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection};
use tokio::sync::{OwnedMappedMutexGuard, OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

use super::{bad_value, internal, Handler};
use crate::state::AppState;
use crate::storage::{kv, ModuleTxn};

/// Longest key, in bytes.
const MAX_KEY: usize = 512;
/// Largest value (JSON text), in bytes.
const MAX_VALUE: usize = 1024 * 1024;

struct Open {
    module: String,
    txn: Arc<tokio::sync::Mutex<Option<ModuleTxn>>>,
    _permit: OwnedSemaphorePermit,
}

/// Open module transactions by ID.
pub struct ModuleTxns {
    next: AtomicU64,
    open: Mutex<HashMap<u64, Open>>,
    /// Transactions the host rolled back for staying open too long (so the module hears why).
    expired: Mutex<HashSet<u64>>,
    writer: Arc<Semaphore>,
}

impl Default for ModuleTxns {
    fn default() -> Self {
        ModuleTxns {
            next: AtomicU64::new(1),
            open: Mutex::default(),
            expired: Mutex::default(),
            writer: Arc::new(Semaphore::new(1)),
        }
    }
}

impl ModuleTxns {
    fn take(&self, id: u64) -> Option<Open> {
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
    }
}

/// The connection a key/value operation runs on: an open transaction's, or the pool's.
enum KvConn {
    Txn(OwnedMappedMutexGuard<Option<ModuleTxn>, ModuleTxn>),
    Pool(PoolConnection<Any>),
}

impl KvConn {
    fn conn(&mut self) -> &mut AnyConnection {
        match self {
            KvConn::Txn(txn) => txn,
            KvConn::Pool(conn) => conn,
        }
    }
}

fn check_key(key: &str) -> Result<(), HostError> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(bad_value(format!(
            "store keys must be 1 to {MAX_KEY} bytes long (got {})",
            key.len()
        )));
    }
    Ok(())
}

impl AppState {
    /// Start a transaction for `module`, waiting up to `module_transaction_timeout_ms` for
    /// the writer; the host rolls it back once it has been open that long.
    async fn store_begin(&self, module: &str) -> Result<u64, HostError> {
        let txns = &self.module_api.txns;
        let limit = self.config.module_transaction_timeout;
        let permit = tokio::time::timeout(limit, Arc::clone(&txns.writer).acquire_owned())
            .await
            .map_err(|_| {
                bad_value(format!(
                    "could not start a store transaction within {} ms: another is open",
                    limit.as_millis()
                ))
            })?
            .map_err(internal)?;
        let txn = self.store.begin_module_txn().await.map_err(internal)?;
        let id = txns.next.fetch_add(1, Ordering::Relaxed);
        txns.open.lock().unwrap_or_else(|p| p.into_inner()).insert(
            id,
            Open {
                module: module.to_string(),
                txn: Arc::new(tokio::sync::Mutex::new(Some(txn))),
                _permit: permit,
            },
        );
        let (state, module) = (self.clone(), module.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(limit).await;
            state.expire_txn(&module, id).await;
        });
        Ok(id)
    }

    /// Roll back transaction `id` if it is still open: it outlived
    /// `module_transaction_timeout_ms`.
    async fn expire_txn(&self, module: &str, id: u64) {
        let Some(open) = self.module_api.txns.take(id) else {
            return;
        };
        // Wait for an operation in flight, then roll back by dropping.
        open.txn.lock().await.take();
        let mut expired = self
            .module_api
            .txns
            .expired
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if expired.len() > 10_000 {
            expired.clear();
        }
        expired.insert(id);
        tracing::warn!(
            module = %module,
            "store transaction {id} rolled back: open longer than module_transaction_timeout_ms ({} ms)",
            self.config.module_transaction_timeout.as_millis()
        );
    }

    /// Roll back transaction `id`, whose ID never reached the module.
    async fn roll_back_abandoned(&self, module: &str, id: u64) {
        if let Some(open) = self.module_api.txns.take(id) {
            open.txn.lock().await.take();
            tracing::warn!(
                module,
                "store transaction {id} rolled back: the module stopped waiting for it"
            );
        }
    }

    fn txn_error(&self, id: u64) -> HostError {
        let expired = self
            .module_api
            .txns
            .expired
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&id);
        if expired {
            bad_value(format!(
                "store transaction {id} was rolled back: it stayed open longer than module_transaction_timeout_ms ({} ms)",
                self.config.module_transaction_timeout.as_millis()
            ))
        } else {
            bad_value(format!("store transaction {id} is not open"))
        }
    }

    /// Commit or roll back `module`'s transaction `id`.
    async fn store_end(&self, module: &str, id: u64, commit: bool) -> Result<(), HostError> {
        let open = {
            let mut map = self
                .module_api
                .txns
                .open
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            match map.get(&id) {
                Some(o) if o.module == module => map.remove(&id),
                _ => None,
            }
        };
        let Some(open) = open else {
            return Err(self.txn_error(id));
        };
        let txn = open.txn.lock().await.take();
        match txn {
            Some(txn) if commit => txn.commit().await.map_err(internal),
            Some(txn) => txn.rollback().await.map_err(internal),
            None => Err(self.txn_error(id)),
        }
    }

    /// The connection for a key/value operation of `module`: its open transaction `txn`
    /// (held until the operation ends), or a pooled one outside any transaction.
    async fn kv_conn(&self, module: &str, txn: Option<u64>) -> Result<KvConn, HostError> {
        let Some(id) = txn else {
            let conn = self.store.module_conn().await.map_err(internal)?;
            return Ok(KvConn::Pool(conn));
        };
        let txn = {
            let map = self
                .module_api
                .txns
                .open
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            match map.get(&id) {
                Some(o) if o.module == module => Arc::clone(&o.txn),
                _ => return Err(self.txn_error(id)),
            }
        };
        OwnedMutexGuard::try_map(txn.lock_owned().await, Option::as_mut)
            .map(KvConn::Txn)
            .map_err(|_| self.txn_error(id))
    }
}

/// `store_begin()` → a transaction ID to pass to the other store methods. One transaction
/// is open at a time; `BadValue` if the writer stays busy for `module_transaction_timeout_ms`.
/// A transaction open longer than that is rolled back by the host; one whose ID never
/// reached the module (it stopped waiting) is rolled back at once.
impl Handler for StoreBegin {
    async fn handle(state: &AppState, module: &str, _: ()) -> Result<u64, HostError> {
        state.store_begin(module).await
    }

    fn abandoned(state: AppState, module: Arc<str>, id: u64) {
        tokio::spawn(async move { state.roll_back_abandoned(&module, id).await });
    }
}

/// `store_commit(txn)` → null: keep the transaction's writes. `BadValue` if the module has
/// no such open transaction (saying so if the host rolled it back for its age).
impl Handler for StoreCommit {
    async fn handle(state: &AppState, module: &str, args: TxnArgs) -> Result<(), HostError> {
        state.store_end(module, args.txn, true).await
    }
}

/// `store_rollback(txn)` → null: drop the transaction's writes. Errors as `store_commit`.
impl Handler for StoreRollback {
    async fn handle(state: &AppState, module: &str, args: TxnArgs) -> Result<(), HostError> {
        state.store_end(module, args.txn, false).await
    }
}

/// `store_get(key, txn?)` → the value under `key`, or null. `BadValue` for a key that is not
/// 1 to 512 bytes, or a transaction the module does not have open.
impl Handler for StoreGet {
    async fn handle(
        state: &AppState,
        module: &str,
        args: StoreKeyArgs,
    ) -> Result<Option<AsJson<Value>>, HostError> {
        let mut conn = state.kv_conn(module, args.txn).await?;
        check_key(&args.key)?;
        let text = kv::get(conn.conn(), module, &args.key)
            .await
            .map_err(internal)?;
        let value = text.map(|t| serde_json::from_str(&t).map(AsJson));
        value.transpose().map_err(internal)
    }
}

/// `store_put(key, value, txn?)` → null. `BadValue` for a key as for `store_get`, or a value
/// over 1 MiB of JSON.
impl Handler for StorePut {
    async fn handle(state: &AppState, module: &str, args: StorePutArgs) -> Result<(), HostError> {
        let mut conn = state.kv_conn(module, args.txn).await?;
        check_key(&args.key)?;
        let value = args.value.to_string();
        if value.len() > MAX_VALUE {
            return Err(bad_value(format!(
                "store values must be at most {MAX_VALUE} bytes of JSON (got {})",
                value.len()
            )));
        }
        kv::put(conn.conn(), module, &args.key, &value)
            .await
            .map_err(internal)
    }
}

/// `store_delete(key, txn?)` → whether `key` existed. Errors as `store_get`.
impl Handler for StoreDelete {
    async fn handle(state: &AppState, module: &str, args: StoreKeyArgs) -> Result<bool, HostError> {
        let mut conn = state.kv_conn(module, args.txn).await?;
        check_key(&args.key)?;
        kv::delete(conn.conn(), module, &args.key)
            .await
            .map_err(internal)
    }
}

/// `store_scan(prefix, after?, limit?, txn?)` → `[[key, value], …]` in key order: the keys
/// under `prefix` after `after`, at most `limit` (and at most the host's page size).
/// `BadValue` for a transaction the module does not have open.
impl Handler for StoreScan {
    async fn handle(
        state: &AppState,
        module: &str,
        args: StoreScanArgs,
    ) -> Result<Vec<(String, Value)>, HostError> {
        let mut conn = state.kv_conn(module, args.txn).await?;
        let after = args.after.unwrap_or_default();
        let limit = args.limit.unwrap_or(crate::storage::MAX_SCAN);
        let rows = kv::scan(conn.conn(), module, &args.prefix, &after, limit)
            .await
            .map_err(internal)?;
        Ok(rows
            .into_iter()
            .map(|(k, v)| (k, serde_json::from_str(&v).unwrap_or(Value::Null)))
            .collect())
    }
}
