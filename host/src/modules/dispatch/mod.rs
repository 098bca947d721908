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
//!
//! Argument lists are the SDK's: each dispatcher builds its arguments with `call!`, naming
//! every argument as the SDK builder declares it, which the catalogue
//! ([`HookInfo::args`](plugin_sdk::catalogue::HookInfo::args)) lists. Debug builds and tests
//! check names, order and wire types as the list is built (`tests.rs` calls every
//! dispatcher); release builds pass the bare borrowed values.

/// The argument list for one callback: `call!(UserMayInvite { inviter: s(inviter), invitee:
/// s(invitee), room_id: s(room_id) })` is a [`Call`] of `Hook::UserMayInvite` with those
/// arguments, in that order. Each argument is named as the catalogue names it (the SDK
/// builder's declaration), and in debug builds and tests [`named`] checks names, order and
/// wire types against [`HookInfo::args`](plugin_sdk::catalogue::HookInfo::args); release
/// builds get the bare array, with no allocation and no string comparison.
macro_rules! call {
    ($hook:ident { $($name:ident: $value:expr),* $(,)? }) => {
        $crate::modules::dispatch::Call {
            hook: ::plugin_sdk::catalogue::Hook::$hook,
            args: &$crate::modules::dispatch::named(
                ::plugin_sdk::catalogue::Hook::$hook,
                [$((stringify!($name), $value)),*],
            ),
        }
    };
}

mod other;
mod password_auth;
mod spam_checker;
#[cfg(test)]
mod tests;
mod third_party_rules;

use std::fmt;

use abi_stable::std_types::{RSlice, RStr};
use plugin_sdk::catalogue::{Hook, Wire, WireType};
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

/// One argument as a dispatcher builds it: the value, and the wire type the dispatcher
/// means it to have (checked against the catalogue by [`named`]).
#[derive(Clone, Copy)]
pub(crate) struct Arg<'a> {
    // Read by the checks only, so release builds carry (and optimise away) a dead field.
    #[cfg_attr(not(any(test, debug_assertions)), allow(dead_code))]
    wire: Wire,
    value: FfiArg<'a>,
}

/// `Str` argument (borrowed: passing arguments allocates nothing).
pub(crate) fn s(value: &str) -> Arg<'_> {
    Arg {
        wire: Wire::STR,
        value: FfiArg::Str(RStr::from(value)),
    }
}

/// `Json` argument from JSON text.
pub(crate) fn j(text: &str) -> Arg<'_> {
    Arg {
        wire: Wire::JSON,
        value: FfiArg::Json(RStr::from(text)),
    }
}

/// `Str` or `Null`.
pub(crate) fn opt(value: Option<&str>) -> Arg<'_> {
    Arg {
        wire: Wire::STR.or_null(),
        value: value.map_or(FfiArg::Null, |v| FfiArg::Str(RStr::from(v))),
    }
}

/// `Json` or `Null`.
pub(crate) fn opt_j(text: Option<&str>) -> Arg<'_> {
    Arg {
        wire: Wire::JSON.or_null(),
        value: text.map_or(FfiArg::Null, |t| FfiArg::Json(RStr::from(t))),
    }
}

/// `Bool` argument.
pub(crate) fn flag(value: bool) -> Arg<'static> {
    Arg {
        wire: Wire::BOOL,
        value: FfiArg::Bool(value),
    }
}

/// `Int` argument (a `u64` on the module side).
pub(crate) fn int(value: u64) -> Arg<'static> {
    Arg {
        wire: Wire::INT,
        value: FfiArg::Int(value as i64),
    }
}

/// `Bytes` argument (borrowed).
pub(crate) fn bytes(value: &[u8]) -> Arg<'_> {
    Arg {
        wire: Wire::BYTES,
        value: FfiArg::Bytes(RSlice::from_slice(value)),
    }
}

/// `Null`: an optional argument the host has no value for.
pub(crate) fn null() -> Arg<'static> {
    Arg {
        wire: Wire::NULL,
        value: FfiArg::Null,
    }
}

/// A callback and its arguments, built with `call!`.
#[derive(Clone, Copy)]
pub(crate) struct Call<'s, 'a> {
    /// The callback.
    pub(crate) hook: Hook,
    /// Its arguments, in wire order.
    pub(crate) args: &'s [FfiArg<'a>],
}

/// The values of `args`, in order; `call!` passes each argument's catalogue name. In debug
/// builds and tests, panics unless the names, their order and the wire types match the
/// catalogue's entry for `hook`.
#[inline(always)]
pub(crate) fn named<'a, const N: usize>(
    hook: Hook,
    args: [(&'static str, Arg<'a>); N],
) -> [FfiArg<'a>; N] {
    #[cfg(any(test, debug_assertions))]
    if let Err(problem) = check_args(hook, &args.map(|(name, arg)| (name, arg.wire))) {
        panic!("{problem}");
    }
    #[cfg(not(any(test, debug_assertions)))]
    let _ = hook;
    args.map(|(_, arg)| arg.value)
}

/// Whether a dispatcher's argument list (names and the wire types it sends) is the one the
/// catalogue lists for `hook`: same names in the same order, each sent as a wire type the
/// module accepts.
#[cfg(any(test, debug_assertions))]
pub(crate) fn check_args(hook: Hook, sent: &[(&str, Wire)]) -> Result<(), String> {
    let info = hook.info();
    let (category, callback) = (info.category, info.name);
    let listed = |list: &mut dyn Iterator<Item = &str>| list.collect::<Vec<_>>().join(", ");
    if sent.len() != info.args.len() {
        return Err(format!(
            "{category}.{callback}: the dispatcher passes {} arguments ({}), the catalogue lists \
             {} ({})",
            sent.len(),
            listed(&mut sent.iter().map(|(n, _)| *n)),
            info.args.len(),
            listed(&mut info.args.iter().map(|(n, _)| *n)),
        ));
    }
    for (i, ((name, wire), (want, want_wire))) in sent.iter().zip(info.args).enumerate() {
        if name != want {
            return Err(format!(
                "{category}.{callback}: the dispatcher passes `{name}` as argument {i}, the \
                 catalogue lists `{want}` there ({})",
                listed(&mut info.args.iter().map(|(n, _)| *n)),
            ));
        }
        if !want_wire.contains(*wire) {
            return Err(format!(
                "{category}.{callback}: the dispatcher passes `{name}` as {wire}, the module \
                 expects {want_wire}"
            ));
        }
    }
    Ok(())
}

/// Whether decoding a result as `T` accepts everything `hook`'s modules may answer.
#[cfg(any(test, debug_assertions))]
pub(crate) fn check_result<T: WireType>(hook: Hook) -> Result<(), String> {
    let info = hook.info();
    if T::WIRE.contains(info.result) {
        Ok(())
    } else {
        Err(format!(
            "{}.{}: modules answer {}, the dispatcher decodes {} ({})",
            info.category,
            info.name,
            info.result,
            T::WIRE,
            std::any::type_name::<T>()
        ))
    }
}

/// Serialise once; every module in the chain gets a copy of the text.
pub(crate) fn json_text(value: &serde_json::Value) -> String {
    value.to_string()
}

impl Registry {
    /// ALL, failures logged and skipped.
    pub(crate) async fn notify(&self, call: Call<'_, '_>) {
        for cb in self.chain(call.hook) {
            let _ = self.invoke::<()>(cb, call).await;
        }
    }

    /// ALL, the first failure fails the request.
    pub(crate) async fn notify_strict(&self, call: Call<'_, '_>) -> Result<(), CallbackError> {
        for cb in self.chain(call.hook) {
            self.invoke::<()>(cb, call)
                .await
                .map_err(|f| CallbackError::from_failure(cb, f, false))?;
        }
        Ok(())
    }

    /// FIRST `false` wins; on failure the module's `on_failure:`, else fail open or propagate.
    pub(crate) async fn first_false(
        &self,
        call: Call<'_, '_>,
        fail_open: bool,
    ) -> Result<bool, CallbackError> {
        for cb in self.chain(call.hook) {
            match self.invoke::<bool>(cb, call).await {
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
    pub(crate) async fn first_some<T: Decode + WireType>(
        &self,
        call: Call<'_, '_>,
        skip_failures: bool,
    ) -> Result<Option<(T, &Registered)>, CallbackError> {
        for cb in self.chain(call.hook) {
            match self.invoke::<Option<T>>(cb, call).await {
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
            let call = call!(RunDeferred {
                token: int(token),
                payload: null(),
                discard: flag(true),
            });
            let _ = self.invoke::<()>(runner, call).await;
        }
    }

    /// Drop `key` from `module`'s cached function `function` (an invalidation from another
    /// instance). Unknown modules and functions are ignored, as in Synapse.
    pub async fn invalidate_cache(&self, module: &str, function: &str, key: &str) {
        if let Some(invalidator) = self.invalidator(module) {
            let call = call!(InvalidateCache {
                function: s(function),
                key: s(key),
            });
            let _ = self.invoke::<()>(invalidator, call).await;
        }
    }

    /// Run a follow-up a module returned (an auth checker's `on_login`, a background
    /// update's exit step). Failures are logged.
    pub async fn run_deferred(&self, module_index: usize, token: u64, payload: &serde_json::Value) {
        if let Some(runner) = self.runner(module_index) {
            let payload = payload.to_string();
            let call = call!(RunDeferred {
                token: int(token),
                payload: j(&payload),
                discard: null(),
            });
            let _ = self.invoke::<()>(runner, call).await;
        }
    }
}
