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

use plugin_sdk::ffi::{FfiError, FfiValue};
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{bad_value, internal, json_value, Args};
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

fn check_key(key: &str) -> Result<(), FfiError> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(bad_value(format!(
            "store keys must be 1 to {MAX_KEY} bytes long (got {})",
            key.len()
        )));
    }
    Ok(())
}

impl AppState {
    pub(super) async fn store_call(
        &self,
        module: &str,
        method: &str,
        args: &Args,
    ) -> Option<Result<FfiValue, FfiError>> {
        Some(match method {
            "store_begin" => self.store_begin(module).await,
            "store_commit" => self.store_end(module, args, true).await,
            "store_rollback" => self.store_end(module, args, false).await,
            "store_get" | "store_put" | "store_delete" | "store_scan" => {
                self.store_op(module, method, args).await
            }
            _ => return None,
        })
    }

    /// `store_begin()` → a transaction ID to pass to the other store methods.
    async fn store_begin(&self, module: &str) -> Result<FfiValue, FfiError> {
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
            if let Some(open) = state.module_api.txns.take(id) {
                // Wait for an operation in flight, then roll back by dropping.
                open.txn.lock().await.take();
                let mut expired = state
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
                    limit.as_millis()
                );
            }
        });
        Ok(FfiValue::Int(id as i64))
    }

    /// Roll back transaction `id`, whose ID never reached the module.
    pub(super) async fn roll_back_abandoned(&self, module: &str, id: u64) {
        if let Some(open) = self.module_api.txns.take(id) {
            open.txn.lock().await.take();
            tracing::warn!(
                module,
                "store transaction {id} rolled back: the module stopped waiting for it"
            );
        }
    }

    fn txn_error(&self, id: u64) -> FfiError {
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

    fn txn_id(args: &Args, i: usize) -> Result<Option<u64>, FfiError> {
        Ok(args.opt_int(i, "txn")?.map(|n| n as u64))
    }

    /// `store_commit(txn)` / `store_rollback(txn)` → null.
    async fn store_end(
        &self,
        module: &str,
        args: &Args,
        commit: bool,
    ) -> Result<FfiValue, FfiError> {
        let id = Self::txn_id(args, 0)?.ok_or_else(|| bad_value("argument 0 (txn) is required"))?;
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
            Some(txn) if commit => txn.commit().await.map_err(internal)?,
            Some(txn) => txn.rollback().await.map_err(internal)?,
            None => return Err(self.txn_error(id)),
        }
        Ok(FfiValue::Null)
    }

    /// `store_get(key, txn?)` → the value or null; `store_put(key, value, txn?)` → null;
    /// `store_delete(key, txn?)` → whether it existed; `store_scan(prefix, after?, limit?,
    /// txn?)` → `[[key, value], …]` in key order.
    async fn store_op(
        &self,
        module: &str,
        method: &str,
        args: &Args,
    ) -> Result<FfiValue, FfiError> {
        let txn_arg = match method {
            "store_put" => 2,
            "store_scan" => 3,
            _ => 1,
        };
        let txn = match Self::txn_id(args, txn_arg)? {
            None => None,
            Some(id) => {
                let map = self
                    .module_api
                    .txns
                    .open
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                match map.get(&id) {
                    Some(o) if o.module == module => Some((id, Arc::clone(&o.txn))),
                    _ => return Err(self.txn_error(id)),
                }
            }
        };
        match txn {
            Some((id, txn)) => {
                let mut guard = txn.lock().await;
                let Some(conn) = guard.as_mut() else {
                    return Err(self.txn_error(id));
                };
                kv_op(conn, module, method, args).await
            }
            None => {
                let mut conn = self.store.module_conn().await.map_err(internal)?;
                kv_op(&mut conn, module, method, args).await
            }
        }
    }
}

async fn kv_op(
    conn: &mut sqlx::SqliteConnection,
    module: &str,
    method: &str,
    args: &Args,
) -> Result<FfiValue, FfiError> {
    match method {
        "store_get" => {
            let key = args.str(0, "key")?;
            check_key(&key)?;
            let value = kv::get(conn, module, &key).await.map_err(internal)?;
            Ok(value.map_or(FfiValue::Null, |v| FfiValue::Json(v.into())))
        }
        "store_put" => {
            let key = args.str(0, "key")?;
            check_key(&key)?;
            let value = args.json(1, "value")?.to_string();
            if value.len() > MAX_VALUE {
                return Err(bad_value(format!(
                    "store values must be at most {MAX_VALUE} bytes of JSON (got {})",
                    value.len()
                )));
            }
            kv::put(conn, module, &key, &value)
                .await
                .map_err(internal)?;
            Ok(FfiValue::Null)
        }
        "store_delete" => {
            let key = args.str(0, "key")?;
            check_key(&key)?;
            let existed = kv::delete(conn, module, &key).await.map_err(internal)?;
            Ok(FfiValue::Bool(existed))
        }
        _ => {
            let prefix = args.str(0, "prefix")?;
            let after = args.opt_str(1, "after")?.unwrap_or_default();
            let limit = args
                .opt_int(2, "limit")?
                .unwrap_or(crate::storage::MAX_SCAN);
            let rows = kv::scan(conn, module, &prefix, &after, limit)
                .await
                .map_err(internal)?;
            let pairs: Vec<Value> = rows
                .into_iter()
                .map(|(k, v)| {
                    Value::Array(vec![
                        Value::String(k),
                        serde_json::from_str(&v).unwrap_or(Value::Null),
                    ])
                })
                .collect();
            Ok(json_value(&Value::Array(pairs)))
        }
    }
}
