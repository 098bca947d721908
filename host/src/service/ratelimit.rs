//! Token-bucket rate limiters whose rate a ratelimit module may override per user
//! (`get_ratelimit_override_for_user`, consulted for each check, as Synapse does for the
//! invite limiters).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::config::Rate;
use crate::error::{MatrixError, MatrixResult};
use crate::state::AppState;

/// A bucket's tokens, when they were last counted and when it will be full again (after
/// which it is no different from a bucket never used, and may be dropped), keyed by limiter
/// name and key.
type Buckets = HashMap<(&'static str, String), Bucket>;

struct Bucket {
    tokens: f64,
    last: Instant,
    full_at: Instant,
}

/// Above this many buckets, full ones are dropped (at most once a second), so keys a client
/// makes up (addresses, user names) cannot grow the map without bound.
const PRUNE_ABOVE: usize = 4_096;

/// Buckets keyed by limiter name and key.
#[derive(Default)]
pub struct Limiters {
    buckets: Mutex<Buckets>,
    last_prune: Mutex<Option<Instant>>,
}

impl Limiters {
    /// Take one action from `(limiter, key)`'s bucket; `Err(wait_ms)` when empty.
    pub(crate) fn take(&self, limiter: &'static str, key: &str, rate: Rate) -> Result<(), u64> {
        self.count(limiter, key, rate, true)
    }

    /// Whether `(limiter, key)`'s bucket has an action left, without taking it;
    /// `Err(wait_ms)` when empty.
    pub(crate) fn peek(&self, limiter: &'static str, key: &str, rate: Rate) -> Result<(), u64> {
        self.count(limiter, key, rate, false)
    }

    /// Return one action taken from `(limiter, key)`'s bucket (it was reserved for an
    /// outcome that did not happen), never above the bucket's size.
    pub(crate) fn give_back(&self, limiter: &'static str, key: &str, rate: Rate) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = buckets.get_mut(&(limiter, key.to_string())) {
            b.tokens = (b.tokens + 1.0).min(rate.burst_count);
        }
    }

    /// Refill `(limiter, key)`'s bucket and, when `take`, use one action from it.
    fn count(&self, limiter: &'static str, key: &str, rate: Rate, take: bool) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        self.prune(&mut buckets, now);
        let b = buckets.entry((limiter, key.to_string())).or_insert(Bucket {
            tokens: rate.burst_count,
            last: now,
            full_at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * rate.per_second)
            .min(rate.burst_count);
        b.last = now;
        let answer = if b.tokens >= 1.0 {
            if take {
                b.tokens -= 1.0;
            }
            Ok(())
        } else if rate.per_second > 0.0 {
            Err(((1.0 - b.tokens) / rate.per_second * 1000.0).ceil() as u64)
        } else {
            Err(u64::MAX)
        };
        let missing = (rate.burst_count - b.tokens).max(0.0);
        let to_full = if missing == 0.0 {
            0.0
        } else if rate.per_second > 0.0 {
            (missing / rate.per_second).min(1e8)
        } else {
            1e8 // never refills: keep it (about three years)
        };
        b.full_at = now + std::time::Duration::from_secs_f64(to_full);
        answer
    }

    /// Drop the buckets that are full again once there are many (see [`PRUNE_ABOVE`]).
    fn prune(&self, buckets: &mut Buckets, now: Instant) {
        if buckets.len() <= PRUNE_ABOVE {
            return;
        }
        let mut last = self.last_prune.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| now.duration_since(t).as_secs() < 1) {
            return;
        }
        *last = Some(now);
        buckets.retain(|_, b| b.full_at > now);
    }
}

impl AppState {
    /// Check the three invite limiters for `inviter` inviting `invitee` into `room_id`.
    pub async fn check_invite_rate(
        &self,
        inviter: &str,
        invitee: &str,
        room_id: &str,
    ) -> MatrixResult<()> {
        let rc = self.config.rc_invites;
        for (limiter, key, rate) in [
            ("rc_invites.per_room", room_id, rc.per_room),
            ("rc_invites.per_user", invitee, rc.per_user),
            ("rc_invites.per_issuer", inviter, rc.per_issuer),
        ] {
            let rate = match self
                .modules
                .get_ratelimit_override_for_user(inviter, limiter)
                .await?
            {
                Some(o) => Rate {
                    per_second: o.per_second,
                    burst_count: o.burst_count as f64,
                },
                None => rate,
            };
            self.limiters
                .take(limiter, key, rate)
                .map_err(limit_exceeded)?;
        }
        Ok(())
    }
}

/// 429 `M_LIMIT_EXCEEDED` "Too Many Requests" with `retry_after_ms` = `wait_ms`, Synapse's
/// answer from any rate limiter.
pub fn limit_exceeded(wait_ms: u64) -> MatrixError {
    let mut err = MatrixError::new(
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        "M_LIMIT_EXCEEDED",
        "Too Many Requests",
    );
    err.fields
        .insert("retry_after_ms".into(), serde_json::json!(wait_ms));
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_full_again_are_dropped_once_there_are_many() {
        let limiters = Limiters::default();
        let rate = Rate {
            per_second: 1000.0,
            burst_count: 1.0,
        };
        let len = || limiters.buckets.lock().unwrap().len();
        // Three rounds of made-up keys, each bucket full again 1 ms after its action;
        // pruning runs at most once a second.
        for round in 0..3 {
            for i in 0..PRUNE_ABOVE {
                assert!(limiters.take("t", &format!("k{round}-{i}"), rate).is_ok());
            }
            std::thread::sleep(std::time::Duration::from_millis(1_100));
        }
        assert!(limiters.take("t", "fresh", rate).is_ok());
        assert!(len() <= PRUNE_ABOVE + 1, "{} buckets", len());
        // A bucket still refilling is kept, and still limits.
        let slow = Rate {
            per_second: 0.001,
            burst_count: 1.0,
        };
        assert!(limiters.take("slow", "k", slow).is_ok());
        assert!(limiters.take("slow", "k", slow).is_err());
    }
}
