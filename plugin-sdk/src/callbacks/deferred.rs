//! Follow-ups a module hands back inside a result (an auth checker's `on_login`, a
//! background update's exit step). Closures cannot cross the ABI, so the module keeps them in
//! this table and returns a token; the host later calls the module's hidden `sdk.run_deferred`
//! callback with that token.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::{Entry, SdkCallbacks};
use crate::json::Json;

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;
pub(crate) type Deferred = Box<dyn FnOnce(Json) -> BoxFuture + Send>;

static NEXT: AtomicU64 = AtomicU64::new(1);
static PENDING: Mutex<Option<HashMap<u64, Deferred>>> = Mutex::new(None);

/// Box an async closure taking the host's payload.
pub(crate) fn boxed<F, Fut>(f: F) -> Deferred
where
    F: FnOnce(Json) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Box::new(move |payload| Box::pin(f(payload)))
}

/// Keep `deferred` until the host runs it; returns its token.
pub(crate) fn store(deferred: Deferred) -> u64 {
    let token = NEXT.fetch_add(1, Ordering::Relaxed);
    PENDING
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(token, deferred);
    token
}

fn take(token: u64) -> Option<Deferred> {
    PENDING
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_mut()?
        .remove(&token)
}

/// The hidden runner callback (registered once per module instance).
pub(crate) fn runner() -> Entry {
    SdkCallbacks::default()
        .run_deferred(|token: u64, payload: Option<Json>, discard: Option<bool>| {
            let deferred = take(token);
            async move {
                if let (Some(deferred), false) = (deferred, discard.unwrap_or(false)) {
                    deferred(payload.unwrap_or_else(|| Json::from_raw("null"))).await;
                }
            }
        })
        .into_entry()
}
