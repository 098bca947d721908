//! The in-memory host's module store: the same host methods as the server's store, on a
//! map, so a module's store logic can be unit-tested. A transaction works on a copy that
//! replaces the data when it commits.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::ffi::{ErrorKind, FfiError, FfiValue};

#[derive(Default)]
pub(super) struct MemStore {
    pub(super) data: BTreeMap<String, String>,
    txns: HashMap<i64, BTreeMap<String, String>>,
    next: i64,
}

fn text(args: &[FfiValue], i: usize) -> String {
    match args.get(i) {
        Some(FfiValue::Str(s)) => s.to_string(),
        _ => String::new(),
    }
}

fn txn_of(args: &[FfiValue], i: usize) -> Option<i64> {
    match args.get(i) {
        Some(FfiValue::Int(n)) => Some(*n),
        _ => None,
    }
}

fn bad(message: String) -> FfiError {
    FfiError::new(ErrorKind::BAD_VALUE, message)
}

impl MemStore {
    /// Answer store method `method`, or `None` if it is not one.
    pub(super) fn call(
        &mut self,
        method: &str,
        args: &[FfiValue],
    ) -> Option<Result<FfiValue, FfiError>> {
        let txn_index = match method {
            "store_put" => 2,
            "store_scan" => 3,
            "store_get" | "store_delete" => 1,
            "store_begin" => {
                self.next += 1;
                self.txns.insert(self.next, self.data.clone());
                return Some(Ok(FfiValue::Int(self.next)));
            }
            "store_commit" | "store_rollback" => {
                let id = txn_of(args, 0).unwrap_or_default();
                return Some(match self.txns.remove(&id) {
                    Some(copy) => {
                        if method == "store_commit" {
                            self.data = copy;
                        }
                        Ok(FfiValue::Null)
                    }
                    None => Err(bad(format!("store transaction {id} is not open"))),
                });
            }
            _ => return None,
        };
        let map = match txn_of(args, txn_index) {
            None => &mut self.data,
            Some(id) => match self.txns.get_mut(&id) {
                Some(m) => m,
                None => return Some(Err(bad(format!("store transaction {id} is not open")))),
            },
        };
        let key = text(args, 0);
        Some(Ok(match method {
            "store_get" => map
                .get(&key)
                .map_or(FfiValue::Null, |v| FfiValue::Json(v.as_str().into())),
            "store_put" => {
                let value = match args.get(1) {
                    Some(FfiValue::Json(t)) => t.to_string(),
                    Some(FfiValue::Str(s)) => Value::String(s.to_string()).to_string(),
                    Some(FfiValue::Int(n)) => n.to_string(),
                    Some(FfiValue::Bool(b)) => b.to_string(),
                    _ => "null".to_string(),
                };
                map.insert(key, value);
                FfiValue::Null
            }
            "store_delete" => FfiValue::Bool(map.remove(&key).is_some()),
            _ => {
                let after = text(args, 1);
                let rows: Vec<Value> = map
                    .range(key.clone()..)
                    .take_while(|(k, _)| k.starts_with(&key))
                    .filter(|(k, _)| after.is_empty() || **k > after)
                    .map(|(k, v)| {
                        Value::Array(vec![
                            Value::String(k.clone()),
                            serde_json::from_str(v).unwrap_or(Value::Null),
                        ])
                    })
                    .collect();
                FfiValue::Json(Value::Array(rows).to_string().into())
            }
        }))
    }
}
