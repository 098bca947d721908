//! Signals between instances that share one PostgreSQL database (several `modhost`
//! processes behind a load balancer): a write on one instance wakes the `/sync` long-polls
//! waiting on the others, typing changes (held in memory) reach every instance, and module
//! cache invalidations are read at once instead of at the next poll.
//!
//! Signals travel as PostgreSQL notifications on one channel, sent after the write
//! committed, batched (one `NOTIFY` per burst of writes, split at PostgreSQL's payload limit)
//! by a publisher task. Each instance listens on a connection of its own and applies other
//! instances' signals locally: a wake-up is addressed to this instance's waiting users (the
//! per-user addressing of [`super::notifier`]). Notifications are not stored, so after the
//! listening connection drops, an instance wakes every long-poll and re-reads the cache
//! invalidation stream, which is all that could have been missed. On SQLite (one instance)
//! nothing is sent.

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, Notify};

use super::notifier::Wake;
use crate::state::AppState;
use crate::storage::{Backend, Heard, Store, MAX_PAYLOAD};

/// The notification channel every instance listens on.
const CHANNEL: &str = "modhost_signals";
/// How long to wait before listening again after the database could not be reached.
const RETRY: Duration = Duration::from_secs(1);

/// One thing another instance must know.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signal {
    /// A committed write concerning these long-polls.
    Wake {
        /// Whose long-polls.
        wake: Wake,
    },
    /// `user_id` started typing in `room_id` for `timeout_ms`, or stopped (`None`).
    Typing {
        /// The room.
        room_id: String,
        /// The user.
        user_id: String,
        /// How long the typing lasts, in ms; `None` when it stopped.
        timeout_ms: Option<u64>,
    },
    /// A module cache invalidation was appended to the `cache_invalidations` stream.
    Invalidated,
}

/// The payload of one notification.
#[derive(Serialize, Deserialize)]
struct Batch {
    /// The sending instance (an instance ignores its own batches).
    instance: String,
    signals: Vec<Signal>,
}

/// This instance's end of the signals.
#[derive(Default)]
pub struct Signals {
    queue: OnceLock<mpsc::UnboundedSender<Signal>>,
    /// Notified when another instance invalidated a cache, or invalidations may have been
    /// missed (see [`crate::service::module_api::InvalidationFeed`]).
    pub invalidations: Notify,
}

impl Signals {
    /// Tell the other instances about `signal` (call after the write committed). Never
    /// blocks; does nothing on SQLite.
    pub fn publish(&self, state: &AppState, signal: Signal) {
        if state.store.backend() != Backend::Postgres {
            return;
        }
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let instance = state.module_api.instance.clone();
            tokio::spawn(publisher(state.store.clone(), instance, rx));
            tx
        });
        let _ = queue.send(signal);
    }
}

/// Send queued signals, a burst at a time, repeated wake-ups merged, order kept (a typing
/// start and stop must arrive in that order).
async fn publisher(store: Store, instance: String, mut rx: mpsc::UnboundedReceiver<Signal>) {
    let mut queued = Vec::new();
    while rx.recv_many(&mut queued, 256).await > 0 {
        let mut seen = HashSet::new();
        let signals: Vec<Signal> = queued
            .drain(..)
            .filter(|s| !matches!(s, Signal::Wake { .. }) || seen.insert(s.clone()))
            .collect();
        for payload in payloads(&instance, signals) {
            if let Err(e) = store.notify(CHANNEL, &payload).await {
                tracing::warn!(error = %e, "cannot signal the other instances");
            }
        }
    }
}

/// Split `signals` into payloads of at most [`MAX_PAYLOAD`] bytes. A wake-up too large for
/// one payload alone (a long user list) becomes a wake-up of everyone.
fn payloads(instance: &str, signals: Vec<Signal>) -> Vec<String> {
    let encode = |signals: Vec<Signal>| {
        let batch = Batch {
            instance: instance.to_string(),
            signals,
        };
        serde_json::to_string(&batch).unwrap_or_default()
    };
    let mut out = Vec::new();
    let mut current: Vec<Signal> = Vec::new();
    for mut signal in signals {
        if encode(vec![signal.clone()]).len() > MAX_PAYLOAD {
            signal = match signal {
                Signal::Wake { .. } => Signal::Wake { wake: Wake::All },
                // Typing IDs are bounded in size by the API; drop rather than fail the batch.
                _ => continue,
            };
        }
        current.push(signal);
        if encode(current.clone()).len() > MAX_PAYLOAD {
            let last = current.pop().expect("just pushed");
            out.push(encode(std::mem::take(&mut current)));
            current.push(last);
        }
    }
    if !current.is_empty() {
        out.push(encode(current));
    }
    out
}

/// Apply other instances' signals until the runtime stops (returns at once on SQLite).
pub async fn listen(state: AppState) {
    loop {
        let mut listener = match state.store.listen(&[CHANNEL]).await {
            Ok(Some(listener)) => listener,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for other instances' signals; retrying");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        // Whatever happened before this connection listened is unknown.
        catch_up(&state);
        loop {
            match listener.next().await {
                Ok(Heard::Notification(_, payload)) => apply(&state, &payload),
                Ok(Heard::Reconnected) => {
                    tracing::warn!("signal connection to the database lost and made again");
                    catch_up(&state);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "signal connection to the database failed");
                    break;
                }
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// After signals may have been lost: every long-poll looks again, and the invalidation
/// stream is read.
fn catch_up(state: &AppState) {
    state.notifier.wake(&state.store, Wake::All);
    state.signals.invalidations.notify_one();
}

/// Apply one notification's payload, unless this instance sent it.
fn apply(state: &AppState, payload: &str) {
    let batch: Batch = match serde_json::from_str(payload) {
        Ok(batch) => batch,
        Err(e) => {
            tracing::warn!(error = %e, "ignoring an unreadable signal");
            return;
        }
    };
    if batch.instance == state.module_api.instance {
        return;
    }
    for signal in batch.signals {
        match signal {
            Signal::Wake { wake } => state.notifier.wake(&state.store, wake),
            Signal::Typing {
                room_id,
                user_id,
                timeout_ms,
            } => super::typing::apply_typing(state, &room_id, &user_id, timeout_ms),
            Signal::Invalidated => state.signals.invalidations.notify_one(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_stay_under_the_limit_and_keep_order() {
        let typing = |n: usize| Signal::Typing {
            room_id: format!("!room{n}:x"),
            user_id: "@a:x".into(),
            timeout_ms: Some(n as u64),
        };
        let signals: Vec<Signal> = (0..500).map(typing).collect();
        let out = payloads("i", signals.clone());
        assert!(out.len() > 1, "500 signals need several payloads");
        let mut back = Vec::new();
        for p in &out {
            assert!(p.len() <= MAX_PAYLOAD, "{}", p.len());
            let batch: Batch = serde_json::from_str(p).unwrap();
            back.extend(batch.signals);
        }
        assert_eq!(back, signals);
    }

    #[test]
    fn an_oversized_wake_up_becomes_a_wake_up_of_everyone() {
        let users = (0..1000).map(|i| format!("@user{i}:example.org")).collect();
        let out = payloads(
            "i",
            vec![Signal::Wake {
                wake: Wake::Users(users),
            }],
        );
        assert_eq!(out.len(), 1);
        let batch: Batch = serde_json::from_str(&out[0]).unwrap();
        assert_eq!(batch.signals, vec![Signal::Wake { wake: Wake::All }]);
    }
}
