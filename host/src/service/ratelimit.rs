//! Token-bucket rate limiters whose rate a ratelimit module may override per user
//! (`get_ratelimit_override_for_user`, consulted for each check, as Synapse does for the
//! invite limiters).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::config::Rate;
use crate::error::{MatrixError, MatrixResult};
use crate::state::AppState;

/// A bucket's tokens and when they were last counted, keyed by limiter name and key.
type Buckets = HashMap<(&'static str, String), (f64, Instant)>;

/// Buckets keyed by limiter name and key.
#[derive(Default)]
pub struct Limiters {
    buckets: Mutex<Buckets>,
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
        if let Some((tokens, _)) = buckets.get_mut(&(limiter, key.to_string())) {
            *tokens = (*tokens + 1.0).min(rate.burst_count);
        }
    }

    /// Refill `(limiter, key)`'s bucket and, when `take`, use one action from it.
    fn count(&self, limiter: &'static str, key: &str, rate: Rate, take: bool) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let (tokens, last) = buckets
            .entry((limiter, key.to_string()))
            .or_insert((rate.burst_count, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate.per_second)
            .min(rate.burst_count);
        *last = now;
        if *tokens >= 1.0 {
            if take {
                *tokens -= 1.0;
            }
            Ok(())
        } else if rate.per_second > 0.0 {
            Err(((1.0 - *tokens) / rate.per_second * 1000.0).ceil() as u64)
        } else {
            Err(u64::MAX)
        }
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
