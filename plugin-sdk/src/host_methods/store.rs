//! Arguments of the store methods. `txn` is a transaction ID from `store_begin`, or `None`
//! to act outside any transaction.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::wire;

/// `store_commit(txn)` / `store_rollback(txn)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnArgs {
    /// An open transaction of this module.
    pub txn: u64,
}

/// `store_get(key, txn?)` / `store_delete(key, txn?)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreKeyArgs {
    /// The key, 1 to 512 bytes.
    pub key: String,
    /// The transaction, if any.
    pub txn: Option<u64>,
}

/// `store_put(key, value, txn?)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorePutArgs {
    /// The key, 1 to 512 bytes.
    pub key: String,
    /// The value, at most 1 MiB of JSON.
    #[serde(with = "wire::json")]
    pub value: Value,
    /// The transaction, if any.
    pub txn: Option<u64>,
}

/// `store_scan(prefix, after?, limit?, txn?)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreScanArgs {
    /// Keys starting with this.
    pub prefix: String,
    /// Only keys after this one (the last key of the previous page).
    pub after: Option<String>,
    /// At most this many pairs (the host's page size when `None`).
    pub limit: Option<i64>,
    /// The transaction, if any.
    pub txn: Option<u64>,
}
