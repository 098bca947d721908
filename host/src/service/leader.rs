//! Background leadership: of the instances sharing one PostgreSQL database, exactly one runs
//! the background work that must happen once — the host's background updates, pruning of
//! shared tables, and modules' looping calls not marked to run on every instance (Synapse's
//! `run_on_all_instances=False`). Work that only touches this instance's memory (its caches,
//! its `/sync` waiters) runs everywhere.
//!
//! Synapse names that instance in its configuration (`run_background_tasks_on`); here the
//! instances elect it: each tries every [`EVERY`] to take a session-level advisory lock
//! ([`crate::storage::LeaderSession`]), and the holder checks that its session is alive
//! just as often. When the leader dies its session ends, the lock is free, and another
//! instance takes it at its next attempt: within about a second of the database noticing
//! (at once for a killed process, whose socket the kernel closes). A leader whose session
//! fails stops leading before it reconnects. For about one check interval after a leader
//! loses its session without noticing (a network cut), two instances may both run a tick;
//! the work gated here tolerates that (it is idempotent or resumes from stored progress).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use crate::state::AppState;

/// How often an instance tries to become the leader, and the leader checks its session.
pub const EVERY: Duration = Duration::from_secs(1);
/// How long one attempt or check may take before the session counts as lost (a database
/// that stopped answering).
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// The metric saying whether this instance is the leader (0 or 1).
pub const LEADER_GAUGE: &str = "modhost_background_tasks_leader";

/// Whether this instance is the background leader.
#[derive(Default)]
pub struct Leadership {
    leader: AtomicBool,
    /// Notified when this instance becomes the leader.
    became: Notify,
}

impl Leadership {
    /// Whether this instance runs the run-once background work now.
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::SeqCst)
    }

    /// Wait until this instance is the leader (returns at once if it is).
    pub async fn wait_until_leader(&self) {
        loop {
            let became = self.became.notified();
            tokio::pin!(became);
            // Registered before the flag is read, so a change in between is not missed.
            became.as_mut().enable();
            if self.is_leader() {
                return;
            }
            became.await;
        }
    }

    /// Record whether this instance leads, logging each change.
    fn set(&self, leader: bool) {
        let was = self.leader.swap(leader, Ordering::SeqCst);
        match (was, leader) {
            (false, true) => {
                tracing::info!("became background leader");
                self.became.notify_waiters();
            }
            (true, false) => tracing::info!("lost background leadership"),
            _ => {}
        }
    }

    /// The `modhost_background_tasks_leader` gauge for the metrics page: 1 on the leader,
    /// 0 elsewhere.
    pub fn gauge(&self) -> crate::metrics::ScrapedGauge {
        (
            LEADER_GAUGE,
            "Whether this instance runs the background work that runs on one instance only.",
            f64::from(u8::from(self.is_leader())),
        )
    }
}

/// Take and keep background leadership, until the runtime stops (spawned at start-up).
/// A failed session (the database restarted, a network cut) is given up, leadership with
/// it, and a new one is opened after [`EVERY`].
pub async fn elect(state: AppState) {
    loop {
        match state.store.leader_session().await {
            Ok(mut session) => {
                if let Err(e) = hold(&state, &mut session).await {
                    tracing::warn!(error = %e, "background leader connection failed; reconnecting");
                }
                state.leadership.set(false);
                session.close().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the background leader connection; retrying");
            }
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// Every [`EVERY`]: try to take leadership, or check the session that holds it. Returns
/// the first failure of the session.
async fn hold(state: &AppState, session: &mut crate::storage::LeaderSession) -> Result<(), String> {
    loop {
        let leading = state.leadership.is_leader();
        let attempt = async {
            if leading {
                session.check_alive().await.map(|()| true)
            } else {
                session.try_acquire().await
            }
        };
        match tokio::time::timeout(CHECK_TIMEOUT, attempt).await {
            Ok(Ok(leader)) => state.leadership.set(leader),
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err(format!("no answer within {CHECK_TIMEOUT:?}")),
        }
        tokio::time::sleep(EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiter_wakes_when_leadership_comes() {
        let leadership = std::sync::Arc::new(Leadership::default());
        assert!(!leadership.is_leader());
        assert_eq!(leadership.gauge().2, 0.0);
        let waiter = tokio::spawn({
            let leadership = std::sync::Arc::clone(&leadership);
            async move { leadership.wait_until_leader().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        leadership.set(true);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("woken")
            .unwrap();
        assert_eq!(
            (leadership.gauge().0, leadership.gauge().2),
            (LEADER_GAUGE, 1.0)
        );
        // Already the leader: no wait.
        leadership.wait_until_leader().await;
    }
}
