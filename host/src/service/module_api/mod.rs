//! The module API: host services modules call by name through `HostApi::call`
//! (`ModuleApi::call_host` and its typed wrappers in the SDK). New services are new names,
//! so adding one never changes the ABI.
//!
//! One file per area; each method's comment gives its arguments and answer. Errors a client
//! could see (a refused join, an unknown token) cross as `MATRIX` errors carrying the status
//! and errcode; misuse by the module (wrong argument types, a remote user where a local one
//! is needed) as `BAD_VALUE`.

mod account;
mod cache;
mod http;
mod identity;
mod rooms;
mod store;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::FutureExt as _;
use plugin_sdk::ffi::{ErrorKind, FfiError, FfiValue};
use serde_json::Value;

use crate::error::MatrixError;
use crate::modules::HostServices;
use crate::service::auth::Requester;
use crate::state::AppState;

pub use cache::InvalidationFeed;
pub use store::ModuleTxns;

/// What the module API keeps between calls.
#[derive(Default)]
pub struct ModuleApiState {
    /// Open store transactions.
    pub txns: ModuleTxns,
    /// Users whose next `/sync` gets every online local user's presence
    /// (`send_local_online_presence_to`).
    pub presence_pushes: std::sync::Mutex<std::collections::HashSet<String>>,
    /// This instance's name in the cache invalidation stream.
    pub instance: String,
}

/// A method's arguments, with typed access and errors naming the argument.
pub(crate) struct Args(Vec<FfiValue>);

impl Args {
    fn wrong(i: usize, name: &str, what: &str) -> FfiError {
        bad_value(format!("argument {i} ({name}) must be {what}"))
    }

    pub(crate) fn str(&self, i: usize, name: &str) -> Result<String, FfiError> {
        match self.0.get(i) {
            Some(FfiValue::Str(s)) => Ok(s.to_string()),
            _ => Err(Self::wrong(i, name, "a string")),
        }
    }

    pub(crate) fn opt_str(&self, i: usize, name: &str) -> Result<Option<String>, FfiError> {
        match self.0.get(i) {
            None | Some(FfiValue::Null) => Ok(None),
            Some(FfiValue::Str(s)) => Ok(Some(s.to_string())),
            _ => Err(Self::wrong(i, name, "a string or null")),
        }
    }

    pub(crate) fn bool(&self, i: usize, name: &str) -> Result<bool, FfiError> {
        match self.0.get(i) {
            Some(FfiValue::Bool(b)) => Ok(*b),
            _ => Err(Self::wrong(i, name, "a boolean")),
        }
    }

    pub(crate) fn opt_int(&self, i: usize, name: &str) -> Result<Option<i64>, FfiError> {
        match self.0.get(i) {
            None | Some(FfiValue::Null) => Ok(None),
            Some(FfiValue::Int(n)) => Ok(Some(*n)),
            _ => Err(Self::wrong(i, name, "an integer or null")),
        }
    }

    pub(crate) fn json(&self, i: usize, name: &str) -> Result<Value, FfiError> {
        match self.0.get(i) {
            Some(FfiValue::Json(t)) => serde_json::from_str(t.as_str())
                .map_err(|e| Self::wrong(i, name, &format!("valid JSON ({e})"))),
            Some(FfiValue::Str(s)) => Ok(Value::String(s.to_string())),
            Some(FfiValue::Null) => Ok(Value::Null),
            Some(FfiValue::Bool(b)) => Ok(Value::Bool(*b)),
            Some(FfiValue::Int(n)) => Ok(Value::from(*n)),
            _ => Err(Self::wrong(i, name, "JSON")),
        }
    }
}

/// A refusal the module may pass on to a client as it is.
pub(crate) fn refused(err: MatrixError) -> FfiError {
    let mut e = FfiError::new(ErrorKind::MATRIX, err.error.clone());
    e.details = serde_json::json!({"status": err.status.as_u16(), "errcode": err.errcode, "error": err.error, "fields": err.fields})
        .to_string()
        .into();
    e
}

/// The module asked for something that cannot be done as asked.
pub(crate) fn bad_value(message: impl Into<String>) -> FfiError {
    FfiError::new(ErrorKind::BAD_VALUE, message.into())
}

/// The host failed (a database error): logged by the module, never shown to clients.
pub(crate) fn internal(err: impl std::fmt::Display) -> FfiError {
    FfiError::new(ErrorKind::MODULE, err.to_string())
}

pub(crate) fn json_value(v: &Value) -> FfiValue {
    FfiValue::Json(v.to_string().into())
}

impl AppState {
    pub(crate) fn is_local(&self, user_id: &str) -> bool {
        user_id.starts_with('@') && user_id.ends_with(&format!(":{}", self.config.server_name))
    }

    /// Refuse a user ID that is malformed or not on this server.
    pub(crate) fn require_local(&self, user_id: &str, what: &str) -> Result<(), FfiError> {
        if ruma_common::UserId::parse(user_id).is_err() {
            return Err(bad_value(format!(
                "{what} {user_id:?} is not a valid user ID"
            )));
        }
        if !self.is_local(user_id) {
            return Err(bad_value(format!("{what} {user_id} is not a local user")));
        }
        Ok(())
    }

    /// A requester for acting on behalf of the registered, active local user `user_id`,
    /// with that user's admin and shadow-ban status.
    pub(crate) async fn acting_user(
        &self,
        user_id: &str,
        what: &str,
    ) -> Result<Requester, FfiError> {
        self.require_local(user_id, what)?;
        match self.store.get_user(user_id).await.map_err(internal)? {
            Some(u) if !u.deactivated => {
                let mut who = self.acting_as(user_id);
                who.is_admin = u.is_admin;
                who.shadow_banned = u.shadow_banned;
                Ok(who)
            }
            Some(_) => Err(bad_value(format!("{what} {user_id} is deactivated"))),
            None => Err(bad_value(format!("{what} {user_id} is not registered"))),
        }
    }

    /// A bare requester for `user_id` (no admin rights, not shadow-banned).
    pub(crate) fn acting_as(&self, user_id: &str) -> Requester {
        Requester {
            user_id: user_id.to_string(),
            device_id: String::new(),
            access_token: String::new(),
            token_hash: String::new(),
            is_admin: false,
            shadow_banned: false,
        }
    }

    async fn module_call(
        &self,
        module: &str,
        method: &str,
        args: Args,
    ) -> Result<FfiValue, FfiError> {
        if let Some(answer) = self.identity_call(module, method, &args).await {
            return answer;
        }
        if let Some(answer) = self.rooms_call(module, method, &args).await {
            return answer;
        }
        if let Some(answer) = self.account_call(module, method, &args).await {
            return answer;
        }
        // The store and the cache stream are keyed by the module's name. A module loaded
        // from a file whose name another module already uses gets a `#<index>` suffix, which
        // would follow its position in `modules:`: such a module could later read another's
        // data, so it gets neither.
        if (method.starts_with("store_") || method == "invalidate_cache") && module.contains('#') {
            return Err(bad_value(format!(
                "module {module} has no store: its library file shares its name with another \
                 module's; give the file a name of its own"
            )));
        }
        if let Some(answer) = self.store_call(module, method, &args).await {
            return answer;
        }
        if let Some(answer) = self.http_call(module, method, &args).await {
            return answer;
        }
        if let Some(answer) = self.cache_call(module, method, &args).await {
            return answer;
        }
        Err(FfiError::new(
            ErrorKind::UNSUPPORTED,
            format!(
                "host method {method} is not supported by this host (plugin-sdk {})",
                plugin_sdk::ffi::SDK_VERSION
            ),
        ))
    }
}

impl HostServices for AppState {
    fn call(
        &self,
        module: Arc<str>,
        method: String,
        args: Vec<FfiValue>,
    ) -> BoxFuture<'static, Result<FfiValue, FfiError>> {
        let state = self.clone();
        async move { state.module_call(&module, &method, Args(args)).await }.boxed()
    }

    fn abandoned(&self, module: Arc<str>, method: &str, answer: Result<FfiValue, FfiError>) {
        if let ("store_begin", Ok(FfiValue::Int(id))) = (method, answer) {
            let state = self.clone();
            tokio::spawn(async move { state.roll_back_abandoned(&module, id as u64).await });
        }
    }
}
