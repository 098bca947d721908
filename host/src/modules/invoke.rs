//! Calling one module callback: time limit, panic containment, error decoding, logging.

use std::fmt;
use std::future::{poll_fn, Future};
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::task::Poll;

use abi_stable::std_types::{RResult, RSlice};
use futures_util::FutureExt as _;
use plugin_sdk::catalogue::WireType;
use plugin_sdk::codec::Decode;
use plugin_sdk::ffi::{ErrorKind, FfiError};
use plugin_sdk::MatrixError;

use super::dispatch::Call;
use super::registry::{Registered, Registry};

/// How a callback failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The module returned an error.
    Error(String),
    /// The module panicked.
    Panicked(String),
    /// The module did not answer within the callback time limit.
    TimedOut,
    /// The module's answer did not decode as the callback's result type.
    Invalid(String),
    /// The module chose a Matrix error for the client (not a failure in Synapse's sense;
    /// honoured only where Synapse honours `SynapseError`).
    Matrix(MatrixError),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Error(m) => write!(f, "returned an error: {m}"),
            Failure::Panicked(m) => write!(f, "{m}"),
            Failure::TimedOut => f.write_str("timed out"),
            Failure::Invalid(m) => write!(f, "returned an invalid value: {m}"),
            Failure::Matrix(m) => write!(
                f,
                "raised Matrix error {} {}: {}",
                m.status, m.errcode, m.error
            ),
        }
    }
}

fn from_ffi(err: FfiError) -> Failure {
    let message = err.message.to_string();
    match err.kind {
        ErrorKind::PANICKED => Failure::Panicked(message),
        ErrorKind::BAD_VALUE => Failure::Invalid(message),
        ErrorKind::MATRIX => {
            let details: serde_json::Value =
                serde_json::from_str(err.details.as_str()).unwrap_or_default();
            Failure::Matrix(MatrixError {
                status: details["status"]
                    .as_u64()
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(500),
                errcode: details["errcode"]
                    .as_str()
                    .unwrap_or("M_UNKNOWN")
                    .to_string(),
                error: details["error"].as_str().unwrap_or(&message).to_string(),
                fields: details["fields"].as_object().cloned().unwrap_or_default(),
            })
        }
        _ => Failure::Error(message),
    }
}

/// 1, 10, 100, …
fn power_of_ten(mut n: u64) -> bool {
    while n >= 10 && n % 10 == 0 {
        n /= 10;
    }
    n == 1
}

impl Registry {
    /// Call `cb` with `call`'s arguments and decode its answer as `T`. Failures are logged
    /// here, once, with the module and callback names; callers apply the callback's failure
    /// policy. In debug builds and tests, panics unless `cb` belongs to `call`'s callback and
    /// `T` decodes every answer the catalogue allows.
    pub(crate) async fn invoke<T: Decode + WireType>(
        &self,
        cb: &Registered,
        call: Call<'_, '_>,
    ) -> Result<T, Failure> {
        #[cfg(any(test, debug_assertions))]
        {
            assert_eq!(cb.hook, call.hook, "arguments built for another callback");
            if let Err(problem) = super::dispatch::check_result::<T>(cb.hook) {
                panic!("{problem}");
            }
        }
        let started = cb.stats.start().then(std::time::Instant::now);
        let mut pending =
            pin!(AssertUnwindSafe(cb.callback.call(RSlice::from_slice(call.args))).catch_unwind());
        // Most callbacks answer on their first poll; arming a timer for those would cost more
        // than the whole FFI round trip, so the time limit starts only once a module is
        // actually pending.
        let first = poll_fn(|cx| match pending.as_mut().poll(cx) {
            Poll::Ready(r) => Poll::Ready(Some(r)),
            Poll::Pending => Poll::Ready(None),
        })
        .await;
        let answer = match first {
            Some(r) => Ok(r),
            None => tokio::time::timeout(cb.timeout, pending).await,
        };
        let outcome = match answer {
            Err(_) => Err(Failure::TimedOut),
            // async-ffi re-raises a module panic as a host panic without its text; the SDK
            // normally catches first and reports the text, so this is the backstop.
            Ok(Err(_)) => Err(Failure::Panicked("panicked".into())),
            Ok(Ok(RResult::RErr(err))) => Err(from_ffi(err)),
            Ok(Ok(RResult::ROk(value))) => T::decode_value(&value).map_err(Failure::Invalid),
        };
        if let Some(t) = started {
            cb.stats.timed(t.elapsed());
        }
        match &outcome {
            Err(Failure::Matrix(_)) | Ok(_) => {
                cb.stats.consecutive_failures.store(0, Ordering::Relaxed);
            }
            Err(_) => {
                cb.stats.failures.fetch_add(1, Ordering::Relaxed);
                let streak = cb
                    .stats
                    .consecutive_failures
                    .fetch_add(1, Ordering::Relaxed)
                    + 1;
                // A module that keeps failing is reported at 10, 100, 1000 … failures in a
                // row. It is never skipped automatically: skipping a fail-closed check would
                // quietly open the server; operators choose with `on_failure`/`timeout_ms`.
                if streak >= 10 && power_of_ten(streak) {
                    tracing::warn!(
                        module = %cb.module,
                        callback = cb.hook.info().name,
                        failures = streak,
                        "module callback keeps failing: {streak} failures in a row"
                    );
                }
            }
        }
        if let Err(failure) = &outcome {
            let callback = cb.hook.info().name;
            match failure {
                Failure::Matrix(_) => {
                    tracing::debug!(module = %cb.module, callback, "module callback {failure}")
                }
                _ => tracing::error!(module = %cb.module, callback, "module callback {failure}"),
            }
        }
        outcome
    }
}
