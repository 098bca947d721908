//! The module's own store: ordered keys, JSON values, transactions and schema versions.
//!
//! Every module gets a key/value space of its own in the host's database (namespaced by the
//! host under the name the module is loaded as, its library file's name), so a module never needs a database driver, cannot touch
//! another module's data, and works on whatever database the host runs. Keys sort as bytes;
//! [`Store::scan`] reads every key under a prefix in order, which is how a module keeps an
//! index (`expiry/<user>` → …).
//!
//! ```no_run
//! # async fn f(api: plugin_sdk::ModuleApi) -> Result<(), plugin_sdk::ModuleError> {
//! let store = api.store();
//! // Schema versions: each step runs once, in a transaction, in order.
//! store
//!     .migrate(1, |txn, from| async move {
//!         if from == 0 {
//!             txn.put("settings", &serde_json::json!({"period_days": 30})).await?;
//!         }
//!         Ok(())
//!     })
//!     .await?;
//! // Read-modify-write in a transaction: nothing is kept unless it commits.
//! let txn = store.transaction().await?;
//! let n: u64 = txn.get("counter").await?.unwrap_or(0);
//! txn.put("counter", &(n + 1)).await?;
//! txn.commit().await?;
//! # Ok(()) }
//! ```
//!
//! The host has one writer (SQLite): an open transaction holds every other write up, so
//! keep transactions short and do not call other host services inside one. The host rolls
//! back a transaction left open longer than `module_transaction_timeout_ms` (5 s by
//! default); a transaction dropped without commit is rolled back.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::host_methods::{
    HostMethod, StoreBegin, StoreCommit, StoreDelete, StoreGet, StoreKeyArgs, StorePut,
    StorePutArgs, StoreRollback, StoreScan, StoreScanArgs, TxnArgs,
};
use crate::{ModuleApi, ModuleError};

/// Keys under this prefix belong to the SDK (the schema version).
const RESERVED: &str = "__modhost/";
const SCHEMA_KEY: &str = "__modhost/schema_version";
/// Page size for [`Store::scan`].
const PAGE: i64 = 500;

/// This module's store ([`ModuleApi::store`]).
#[derive(Clone)]
pub struct Store {
    api: ModuleApi,
}

impl ModuleApi {
    /// This module's key/value store (see [`Store`]).
    pub fn store(&self) -> Store {
        Store { api: self.clone() }
    }
}

fn check_user_key(key: &str) -> Result<(), ModuleError> {
    if key.starts_with(RESERVED) {
        return Err(ModuleError::new(format!(
            "store keys starting with {RESERVED} are reserved"
        )));
    }
    Ok(())
}

fn decode<T: DeserializeOwned>(key: &str, v: Value) -> Result<Option<T>, ModuleError> {
    if v.is_null() {
        return Ok(None);
    }
    serde_json::from_value(v)
        .map(Some)
        .map_err(|e| ModuleError::new(format!("stored value under {key:?} does not fit: {e}")))
}

async fn get<T: DeserializeOwned>(
    api: &ModuleApi,
    key: &str,
    txn: Option<u64>,
) -> Result<Option<T>, ModuleError> {
    let key_args = StoreKeyArgs {
        key: key.into(),
        txn,
    };
    match api.call_method::<StoreGet>(key_args).await? {
        Some(v) => decode(key, v.0),
        None => Ok(None),
    }
}

async fn put<T: Serialize + ?Sized>(
    api: &ModuleApi,
    key: &str,
    value: &T,
    txn: Option<u64>,
) -> Result<(), ModuleError> {
    let value = serde_json::to_value(value)?;
    api.call_method::<StorePut>(StorePutArgs {
        key: key.into(),
        value,
        txn,
    })
    .await
}

async fn delete(api: &ModuleApi, key: &str, txn: Option<u64>) -> Result<bool, ModuleError> {
    api.call_method::<StoreDelete>(StoreKeyArgs {
        key: key.into(),
        txn,
    })
    .await
}

async fn scan(
    api: &ModuleApi,
    prefix: &str,
    txn: Option<u64>,
) -> Result<Vec<(String, Value)>, ModuleError> {
    let mut out: Vec<(String, Value)> = Vec::new();
    loop {
        let after = out.last().map(|(k, _)| k.clone());
        let page = api
            .call_method::<StoreScan>(StoreScanArgs {
                prefix: prefix.into(),
                after,
                limit: Some(PAGE),
                txn,
            })
            .await?;
        let done = (page.len() as i64) < PAGE;
        out.extend(page.into_iter().filter(|(k, _)| !k.starts_with(RESERVED)));
        if done {
            return Ok(out);
        }
    }
}

impl Store {
    /// The value under `key`, if any.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ModuleError> {
        get(&self.api, key, None).await
    }

    /// Store `value` (as JSON, at most 1 MiB) under `key` (1 to 512 bytes).
    pub async fn put<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), ModuleError> {
        check_user_key(key)?;
        put(&self.api, key, value, None).await
    }

    /// Remove `key`; whether it was there.
    pub async fn delete(&self, key: &str) -> Result<bool, ModuleError> {
        check_user_key(key)?;
        delete(&self.api, key, None).await
    }

    /// Every `(key, value)` whose key starts with `prefix`, in key order.
    pub async fn scan(&self, prefix: &str) -> Result<Vec<(String, Value)>, ModuleError> {
        scan(&self.api, prefix, None).await
    }

    /// Start a transaction. Writes through it are kept only if it
    /// [commits](StoreTxn::commit).
    pub async fn transaction(&self) -> Result<StoreTxn, ModuleError> {
        let id = self.api.call_method::<StoreBegin>(()).await?;
        Ok(StoreTxn {
            inner: Arc::new(TxnInner {
                api: self.api.clone(),
                id,
                done: AtomicBool::new(false),
            }),
        })
    }

    /// The schema version recorded by [`migrate`](Self::migrate) (0 for a new store).
    pub async fn schema_version(&self) -> Result<u32, ModuleError> {
        Ok(get(&self.api, SCHEMA_KEY, None).await?.unwrap_or(0))
    }

    /// Bring the store to schema version `target`: for each version `v` from the recorded
    /// one up to `target - 1`, run `step(txn, v)` (which upgrades `v` → `v + 1`), all in one
    /// transaction that also records `target`. A store already at `target` is left alone; a
    /// store at a newer version than `target` (a newer build of the module ran here) is an
    /// error, so an old build never misreads new data.
    pub async fn migrate<F, Fut>(&self, target: u32, step: F) -> Result<(), ModuleError>
    where
        F: Fn(StoreTxn, u32) -> Fut,
        Fut: Future<Output = Result<(), ModuleError>>,
    {
        let txn = self.transaction().await?;
        let current: u32 = get(&self.api, SCHEMA_KEY, Some(txn.inner.id))
            .await?
            .unwrap_or(0);
        if current > target {
            return Err(ModuleError::new(format!(
                "this module's store is at schema version {current}, newer than this build's {target}; \
                 run a build of the module that knows version {current}"
            )));
        }
        if current == target {
            return txn.rollback().await;
        }
        for v in current..target {
            step(txn.clone(), v).await?;
        }
        put(&self.api, SCHEMA_KEY, &target, Some(txn.inner.id)).await?;
        txn.commit().await?;
        crate::tracing::info!(from = current, to = target, "store schema upgraded");
        Ok(())
    }
}

struct TxnInner {
    api: ModuleApi,
    id: u64,
    done: AtomicBool,
}

impl Drop for TxnInner {
    fn drop(&mut self) {
        if !self.done.swap(true, Ordering::SeqCst) {
            // Dropped without commit: roll back in the background.
            let (api, id) = (self.api.clone(), self.id);
            self.api.spawn("store-rollback", async move {
                let _ = api.call_method::<StoreRollback>(TxnArgs { txn: id }).await;
            });
        }
    }
}

/// An open store transaction ([`Store::transaction`]). Clones share it; it ends when
/// committed, rolled back, or when the last clone is dropped (rolled back).
#[derive(Clone)]
pub struct StoreTxn {
    inner: Arc<TxnInner>,
}

impl StoreTxn {
    fn id(&self) -> Option<u64> {
        Some(self.inner.id)
    }

    /// The value under `key`, as this transaction sees it.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ModuleError> {
        get(&self.inner.api, key, self.id()).await
    }

    /// Store `value` under `key` in this transaction.
    pub async fn put<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), ModuleError> {
        check_user_key(key)?;
        put(&self.inner.api, key, value, self.id()).await
    }

    /// Remove `key` in this transaction; whether it was there.
    pub async fn delete(&self, key: &str) -> Result<bool, ModuleError> {
        check_user_key(key)?;
        delete(&self.inner.api, key, self.id()).await
    }

    /// Every `(key, value)` under `prefix`, as this transaction sees them.
    pub async fn scan(&self, prefix: &str) -> Result<Vec<(String, Value)>, ModuleError> {
        scan(&self.inner.api, prefix, self.id()).await
    }

    async fn end<M: HostMethod<Args = TxnArgs, Output = ()>>(self) -> Result<(), ModuleError> {
        if self.inner.done.swap(true, Ordering::SeqCst) {
            return Err(ModuleError::new("the store transaction has already ended"));
        }
        let txn = TxnArgs { txn: self.inner.id };
        self.inner.api.call_method::<M>(txn).await
    }

    /// Keep every write of this transaction (all clones end with it).
    pub async fn commit(self) -> Result<(), ModuleError> {
        self.end::<StoreCommit>().await
    }

    /// Drop every write of this transaction.
    pub async fn rollback(self) -> Result<(), ModuleError> {
        self.end::<StoreRollback>().await
    }
}
