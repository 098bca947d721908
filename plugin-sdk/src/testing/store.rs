//! The in-memory host's module store: the same host methods and limits as the server's
//! store, on a map, so a module's store logic can be unit-tested. A transaction records its
//! writes and applies them when it commits, so writes made meanwhile are kept, as on the
//! server.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::ffi::{ErrorKind, FfiError, FfiValue};

/// The server's limits (see the host's store).
const MAX_KEY: usize = 512;
const MAX_VALUE: usize = 1024 * 1024;

/// Writes of an open transaction: `None` deletes.
type Changes = BTreeMap<String, Option<String>>;

#[derive(Default)]
pub(super) struct MemStore {
    pub(super) data: BTreeMap<String, String>,
    txns: HashMap<i64, Changes>,
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

fn json_text(value: Option<&FfiValue>) -> String {
    match value {
        Some(FfiValue::Json(t)) => t.to_string(),
        Some(FfiValue::Str(s)) => Value::String(s.to_string()).to_string(),
        Some(FfiValue::Int(n)) => n.to_string(),
        Some(FfiValue::Bool(b)) => b.to_string(),
        _ => "null".to_string(),
    }
}

impl MemStore {
    /// The data as transaction `changes` sees it.
    fn view(&self, changes: Option<&Changes>) -> BTreeMap<String, String> {
        let mut view = self.data.clone();
        for (k, v) in changes.into_iter().flatten() {
            match v {
                Some(v) => view.insert(k.clone(), v.clone()),
                None => view.remove(k),
            };
        }
        view
    }

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
                self.txns.insert(self.next, Changes::new());
                return Some(Ok(FfiValue::Int(self.next)));
            }
            "store_commit" | "store_rollback" => {
                let id = txn_of(args, 0).unwrap_or_default();
                return Some(match self.txns.remove(&id) {
                    Some(changes) => {
                        if method == "store_commit" {
                            self.data = self.view(Some(&changes));
                        }
                        Ok(FfiValue::Null)
                    }
                    None => Err(bad(format!("store transaction {id} is not open"))),
                });
            }
            _ => return None,
        };
        let txn = txn_of(args, txn_index);
        if let Some(id) = txn {
            if !self.txns.contains_key(&id) {
                return Some(Err(bad(format!("store transaction {id} is not open"))));
            }
        }
        let key = text(args, 0);
        if method != "store_scan" && (key.is_empty() || key.len() > MAX_KEY) {
            return Some(Err(bad(format!(
                "store keys must be 1 to {MAX_KEY} bytes long (got {})",
                key.len()
            ))));
        }
        let write = |this: &mut MemStore, value: Option<String>| match txn {
            Some(id) => {
                this.txns
                    .get_mut(&id)
                    .expect("checked above")
                    .insert(key.clone(), value);
            }
            None => match value {
                Some(v) => {
                    this.data.insert(key.clone(), v);
                }
                None => {
                    this.data.remove(&key);
                }
            },
        };
        let view = self.view(txn.and_then(|id| self.txns.get(&id)));
        Some(Ok(match method {
            "store_get" => view
                .get(&key)
                .map_or(FfiValue::Null, |v| FfiValue::Json(v.as_str().into())),
            "store_put" => {
                let value = json_text(args.get(1));
                if value.len() > MAX_VALUE {
                    return Some(Err(bad(format!(
                        "store values must be at most {MAX_VALUE} bytes of JSON (got {})",
                        value.len()
                    ))));
                }
                write(self, Some(value));
                FfiValue::Null
            }
            "store_delete" => {
                let existed = view.contains_key(&key);
                write(self, None);
                FfiValue::Bool(existed)
            }
            _ => {
                let after = text(args, 1);
                let rows: Vec<Value> = view
                    .range(key.clone()..)
                    .take_while(|(k, _)| k.starts_with(&key))
                    .filter(|(k, _)| after.is_empty() || **k > after)
                    .take(1000)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> FfiValue {
        FfiValue::Str(v.into())
    }

    #[test]
    fn a_commit_keeps_writes_made_outside_the_transaction() {
        let mut m = MemStore::default();
        let Some(Ok(FfiValue::Int(t))) = m.call("store_begin", &[]) else {
            panic!("no transaction")
        };
        m.call(
            "store_put",
            &[s("a"), FfiValue::Json("1".into()), FfiValue::Int(t)],
        );
        m.call(
            "store_put",
            &[s("b"), FfiValue::Json("2".into()), FfiValue::Null],
        );
        assert_eq!(
            m.call("store_get", &[s("a"), FfiValue::Null])
                .unwrap()
                .unwrap(),
            FfiValue::Null,
            "uncommitted writes are invisible outside"
        );
        m.call("store_commit", &[FfiValue::Int(t)]);
        assert_eq!(m.data.get("a").map(String::as_str), Some("1"));
        assert_eq!(m.data.get("b").map(String::as_str), Some("2"));
        let err = m
            .call("store_get", &[s(""), FfiValue::Null])
            .unwrap()
            .unwrap_err();
        assert_eq!(
            err.message.as_str(),
            "store keys must be 1 to 512 bytes long (got 0)"
        );
    }
}
