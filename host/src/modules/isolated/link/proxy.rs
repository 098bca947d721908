//! What the registry holds for an isolated module's callbacks and web resources: proxies
//! that send each call to the runner and wait for its answer, and the count of calls given
//! up on that marks a stuck runner.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use abi_stable::std_types::{RResult, RSlice};
use async_ffi::{FfiFuture, FutureExt as _};
use plugin_sdk::ffi::{
    CallbackFn, FfiArg, FfiError, FfiRequest, FfiResponse, FfiValue, WebHandler,
};

use super::protocol::{self, ToRunner, Value};
use super::{lock, module_error, Answer, Link};

/// Removes a request's waiter when the request ends.
pub(super) struct Forget<'a> {
    pub(super) link: &'a Link,
    pub(super) id: u64,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        let unanswered = lock(&self.link.pending).remove(&self.id).is_some();
        if unanswered {
            self.link.gave_up_on_a_call();
        }
    }
}

/// Calls given up on in a row, with no answer between them, after which the runner counts
/// as stuck (module code spinning or blocked on every thread) and is killed, to restart.
const STUCK_AFTER: u64 = 3;

impl Link {
    /// A call ended without an answer: after [`STUCK_AFTER`] of them in a row, kill the
    /// runner (its death restarts it).
    fn gave_up_on_a_call(&self) {
        if self.abandoned.fetch_add(1, Ordering::Relaxed) + 1 < STUCK_AFTER {
            return;
        }
        self.abandoned.store(0, Ordering::Relaxed);
        let pid = lock(&self.status).pid;
        if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
            tracing::error!(module = %self.spec.name, pid = pid.as_raw_nonzero().get(), "isolated module process answered none of its last {STUCK_AFTER} calls; killing it");
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

/// A callback of an isolated module, as the registry holds it.
pub(super) struct ProxyCallback {
    pub(super) link: Arc<Link>,
    pub(super) index: u32,
}

impl CallbackFn for ProxyCallback {
    fn call(&self, args: RSlice<'_, FfiArg<'_>>) -> FfiFuture<RResult<FfiValue, FfiError>> {
        let args: Vec<Value> = args
            .iter()
            .map(|a| Value::from(&a.to_owned_value()))
            .collect();
        let (link, callback) = (Arc::clone(&self.link), self.index);
        async move {
            match link
                .request(|id| ToRunner::Call { id, callback, args })
                .await
            {
                Ok(Answer::Value(Ok(v))) => RResult::ROk(v.into()),
                Ok(Answer::Value(Err(e))) => RResult::RErr(e.into()),
                Ok(Answer::Down(message)) => RResult::RErr(module_error(message)),
                Ok(Answer::Web(_)) => {
                    RResult::RErr(module_error("a web answer to a callback".into()))
                }
                Err(e) => RResult::RErr(e),
            }
        }
        .into_ffi()
    }
}

/// A web resource of an isolated module, as the registry holds it.
pub(super) struct ProxyWeb {
    pub(super) link: Arc<Link>,
    pub(super) index: u32,
}

impl WebHandler for ProxyWeb {
    fn handle(&self, request: FfiRequest) -> FfiFuture<RResult<FfiResponse, FfiError>> {
        let request = protocol::Request::from(request);
        let (link, handler) = (Arc::clone(&self.link), self.index);
        async move {
            match link
                .request(|id| ToRunner::Web {
                    id,
                    handler,
                    request,
                })
                .await
            {
                Ok(Answer::Web(Ok(r))) => RResult::ROk(r.into()),
                Ok(Answer::Web(Err(e))) => RResult::RErr(e.into()),
                Ok(Answer::Down(message)) => RResult::RErr(module_error(message)),
                Ok(Answer::Value(_)) => {
                    RResult::RErr(module_error("a callback answer to a web request".into()))
                }
                Err(e) => RResult::RErr(e),
            }
        }
        .into_ffi()
    }
}
