//! Typed entry points for every callback, each applying its combination rule and failure
//! policy (spec §1.7, §2). Call sites (the client-server API) and tests use these; nothing
//! else touches the chains.
//!
//! Failure policies, as in Synapse:
//! * **propagate** — the request fails: [`CallbackError::Failed`] (a 500 for clients);
//! * **fail-open** — logged, the callback counts as allowing, the next module runs;
//! * **skip** — logged, the module's answer is ignored, the next module runs.
//!
//! For verdict callbacks (spam checks and the third-party rules' `check_*` callbacks) an
//! operator may override the policy per module with `on_failure: allow` (fail open) or
//! `on_failure: deny` (fail closed); `timeout_ms:` overrides the time limit per module.
//!
//! A module's deliberate Matrix error ([`plugin_sdk::ModuleError::matrix`]) surfaces as
//! [`CallbackError::Matrix`] where Synapse lets `SynapseError` through, and counts as an
//! ordinary failure elsewhere.

mod other;
mod password_auth;
mod spam_checker;
mod third_party_rules;

use std::fmt;

use abi_stable::std_types::RStr;
use plugin_sdk::catalogue::Hook;
use plugin_sdk::codec::Decode;
use plugin_sdk::ffi::FfiArg;
use plugin_sdk::MatrixError;

use super::invoke::Failure;
use super::registry::{Registered, Registry};
use crate::config::OnFailure;

pub use other::UpdateTarget;
pub use password_auth::{AuthError, AuthOutcome};

/// Why a callback chain could not produce a result.
#[derive(Debug, Clone, PartialEq)]
pub enum CallbackError {
    /// A module failed under a propagate policy; clients get a 500.
    Failed {
        /// The failing module.
        module: String,
        /// The callback.
        callback: &'static str,
        /// What happened (for the log; never shown to clients).
        reason: String,
    },
    /// The client gets this Matrix error.
    Matrix(MatrixError),
}

impl CallbackError {
    fn from_failure(cb: &Registered, failure: Failure, matrix_passes: bool) -> Self {
        match failure {
            Failure::Matrix(m) if matrix_passes => CallbackError::Matrix(m),
            other => CallbackError::Failed {
                module: cb.module.to_string(),
                callback: cb.hook.info().name,
                reason: other.to_string(),
            },
        }
    }

    /// A Matrix error with no extra fields.
    pub fn matrix(status: u16, errcode: &str, error: &str) -> Self {
        CallbackError::Matrix(MatrixError {
            status,
            errcode: errcode.into(),
            error: error.into(),
            fields: Default::default(),
        })
    }
}

impl fmt::Display for CallbackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallbackError::Failed {
                module,
                callback,
                reason,
            } => {
                write!(f, "module '{module}' failed in {callback}: {reason}")
            }
            CallbackError::Matrix(m) => write!(f, "{} {}: {}", m.status, m.errcode, m.error),
        }
    }
}

impl std::error::Error for CallbackError {}

/// `Str` argument (borrowed: passing arguments allocates nothing).
pub(crate) fn s(value: &str) -> FfiArg<'_> {
    FfiArg::Str(RStr::from(value))
}

/// `Json` argument from JSON text.
pub(crate) fn j(text: &str) -> FfiArg<'_> {
    FfiArg::Json(RStr::from(text))
}

/// `Str` or `Null`.
pub(crate) fn opt(value: Option<&str>) -> FfiArg<'_> {
    value.map_or(FfiArg::Null, s)
}

/// Serialise once; every module in the chain gets a copy of the text.
pub(crate) fn json_text(value: &serde_json::Value) -> String {
    value.to_string()
}

impl Registry {
    /// ALL, failures logged and skipped.
    pub(crate) async fn notify(&self, hook: Hook, args: &[FfiArg<'_>]) {
        for cb in self.chain(hook) {
            let _ = self.invoke::<()>(cb, args).await;
        }
    }

    /// ALL, the first failure fails the request.
    pub(crate) async fn notify_strict(
        &self,
        hook: Hook,
        args: &[FfiArg<'_>],
    ) -> Result<(), CallbackError> {
        for cb in self.chain(hook) {
            self.invoke::<()>(cb, args)
                .await
                .map_err(|f| CallbackError::from_failure(cb, f, false))?;
        }
        Ok(())
    }

    /// FIRST `false` wins; on failure the module's `on_failure:`, else fail open or propagate.
    pub(crate) async fn first_false(
        &self,
        hook: Hook,
        fail_open: bool,
        args: &[FfiArg<'_>],
    ) -> Result<bool, CallbackError> {
        for cb in self.chain(hook) {
            match self.invoke::<bool>(cb, args).await {
                Ok(true) => {}
                Ok(false) => {
                    cb.stats
                        .denials
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return Ok(false);
                }
                Err(f) => match cb.on_failure {
                    // The operator's `on_failure:` for this module, else the callback's own.
                    OnFailure::Allow => {}
                    OnFailure::Deny => return Ok(false),
                    OnFailure::Default if fail_open => {}
                    OnFailure::Default => return Err(CallbackError::from_failure(cb, f, false)),
                },
            }
        }
        Ok(true)
    }

    /// FIRST-NON-None (with the module that answered); on failure either skip or propagate.
    pub(crate) async fn first_some<T: Decode>(
        &self,
        hook: Hook,
        skip_failures: bool,
        args: &[FfiArg<'_>],
    ) -> Result<Option<(T, &Registered)>, CallbackError> {
        for cb in self.chain(hook) {
            match self.invoke::<Option<T>>(cb, args).await {
                Ok(Some(value)) => return Ok(Some((value, cb))),
                Ok(None) => {}
                Err(_) if skip_failures => {}
                Err(f) => return Err(CallbackError::from_failure(cb, f, false)),
            }
        }
        Ok(None)
    }

    /// Drop a follow-up a module returned without running it (so the module can free it).
    pub async fn discard_deferred(&self, module_index: usize, token: u64) {
        if let Some(runner) = self.runner(module_index) {
            let _ = self
                .invoke::<()>(
                    runner,
                    &[FfiArg::Int(token as i64), FfiArg::Null, FfiArg::Bool(true)],
                )
                .await;
        }
    }

    /// Drop `key` from `module`'s cached function `function` (an invalidation from another
    /// instance). Unknown modules and functions are ignored, as in Synapse.
    pub async fn invalidate_cache(&self, module: &str, function: &str, key: &str) {
        if let Some(invalidator) = self.invalidator(module) {
            let _ = self
                .invoke::<()>(
                    invalidator,
                    &[FfiArg::Str(function.into()), FfiArg::Str(key.into())],
                )
                .await;
        }
    }

    /// Run a follow-up a module returned (an auth checker's `on_login`, a background
    /// update's exit step). Failures are logged.
    pub async fn run_deferred(&self, module_index: usize, token: u64, payload: &serde_json::Value) {
        if let Some(runner) = self.runner(module_index) {
            let payload = payload.to_string();
            let _ = self
                .invoke::<()>(runner, &[FfiArg::Int(token as i64), j(&payload)])
                .await;
        }
    }
}
