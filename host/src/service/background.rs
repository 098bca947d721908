//! Runs the host's background updates in batches, paced by the background-update controller
//! module when one is loaded (Synapse's `on_update` / `default_batch_size` /
//! `min_batch_size`), else by defaults: batches aimed at 100 ms, starting at 100 rows.
//!
//! Only the background leader runs them ([`crate::service::leader`]): instances sharing a
//! database would otherwise each rewrite the same rows. Progress is stored after each batch,
//! so an instance that takes over from a dead leader resumes where it stopped, and a leader
//! that loses leadership stops after its current batch.

use std::time::{Duration, Instant};

use crate::state::AppState;

const DATABASE: &str = "master";
const DEFAULT_TARGET_MS: u64 = 100;

/// How a run of one update ended.
enum Ran {
    /// Every row was done.
    Finished,
    /// This instance stopped leading; the stored progress is the new leader's to resume.
    HandedOver,
}

impl AppState {
    /// Whenever this instance is the background leader, run every pending update to
    /// completion (spawned at start-up; waits for as long as another instance leads, and
    /// again if this one loses leadership before the updates are done).
    pub async fn run_background_updates(&self) {
        loop {
            self.leadership.wait_until_leader().await;
            let pending = match self.store.pending_background_updates().await {
                Ok(p) => p,
                Err(e) => return tracing::error!("cannot list background updates: {e}"),
            };
            let mut handed_over = false;
            for (name, progress) in pending {
                match self.run_update(&name, progress).await {
                    Ok(Ran::Finished) => {}
                    Ok(Ran::HandedOver) => {
                        tracing::info!(update = %name, "background update left to the new background leader");
                        handed_over = true;
                        break;
                    }
                    Err(e) => tracing::error!(update = %name, "background update stopped: {e}"),
                }
            }
            if !handed_over {
                return;
            }
        }
    }

    /// Run update `name` from `cursor` in batches until it finishes or this instance stops
    /// being the leader. Errors: the database failed, or a controller module did.
    async fn run_update(&self, name: &str, mut cursor: String) -> Result<Ran, String> {
        let mut batch = self
            .modules
            .default_batch_size(name, DATABASE)
            .await
            .map_err(|e| e.to_string())?
            .max(1);
        loop {
            let pacing = self
                .modules
                .on_update(name, DATABASE, false)
                .await
                .map_err(|e| e.to_string())?;
            let target = pacing
                .as_ref()
                .map_or(DEFAULT_TARGET_MS, |(t, _)| t.target_duration_ms.max(1));
            let started = Instant::now();
            let (done_rows, next) = match name {
                "current_state_membership" => self
                    .store
                    .membership_batch(&cursor, batch as i64)
                    .await
                    .map_err(|e| e.to_string())?,
                other => return Err(format!("unknown background update {other}")),
            };
            let took = started.elapsed().max(Duration::from_micros(100));
            if let Some((t, module)) = &pacing {
                if let Some(token) = t.on_exit {
                    self.modules
                        .run_deferred(*module, token, &serde_json::Value::Null)
                        .await;
                }
            }
            tracing::debug!(
                update = name,
                rows = done_rows,
                ms = took.as_millis() as u64,
                "background update batch"
            );
            let Some(next) = next else {
                tracing::info!(update = name, "background update finished");
                return Ok(Ran::Finished);
            };
            if !self.leadership.is_leader() {
                return Ok(Ran::HandedOver);
            }
            cursor = next;
            // Aim the next batch at the target duration, never below the minimum.
            let min = self
                .modules
                .min_batch_size(name, DATABASE)
                .await
                .map_err(|e| e.to_string())?
                .max(1);
            let scaled = (batch as f64 * target as f64 / took.as_millis().max(1) as f64) as u64;
            batch = scaled.clamp(min, batch.saturating_mul(2).max(min));
        }
    }
}
