//! Counters of each registered callback, kept by the dispatcher and read by the metrics
//! page. They live in the callback as atomics, so the dispatch hot path takes no lock;
//! latency is sampled because reading the clock twice would cost a third of a whole
//! in-process dispatch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// One callback in eight is timed.
pub const SAMPLE_EVERY: u64 = 8;

/// Counters of one registered callback.
#[derive(Default, Debug)]
pub struct CallbackStats {
    /// Calls.
    pub calls: AtomicU64,
    /// Answers that refused the operation.
    pub denials: AtomicU64,
    /// Errors, panics, timeouts and invalid answers.
    pub failures: AtomicU64,
    /// Failures since the last success (reset by any answer).
    pub consecutive_failures: AtomicU64,
    /// Calls that were timed.
    pub sampled: AtomicU64,
    /// Total nanoseconds of the timed calls.
    pub sampled_nanos: AtomicU64,
}

impl CallbackStats {
    /// Count a call; `true` when this one should be timed.
    pub fn start(&self) -> bool {
        self.calls.fetch_add(1, Ordering::Relaxed) % SAMPLE_EVERY == 0
    }

    /// Record a timed call's duration.
    pub fn timed(&self, took: Duration) {
        self.sampled.fetch_add(1, Ordering::Relaxed);
        self.sampled_nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
    }
}
