//! Death and restart of a module's runner: fail what was in flight, wait the back-off,
//! start a new runner and check it registers what the first one did.

use std::sync::Arc;
use std::time::Duration;

use super::protocol::{ToHost, ToRunner};
use super::{lock, Answer, Link, FIRST_BACKOFF, MAX_BACKOFF};

impl Link {
    /// The runner connection `generation` ended with `status`: fail what was in flight and
    /// restart (unless the module never started, or it was not the current connection).
    pub(super) fn died(self: &Arc<Self>, generation: u64, status: String) {
        let lived = {
            let mut conn = lock(&self.conn);
            match conn.as_ref() {
                Some(c) if c.generation == generation => {
                    let lived = c.started.elapsed();
                    *conn = None;
                    lived
                }
                _ => return,
            }
        };
        {
            let mut s = lock(&self.status);
            s.pid = 0;
            s.exits += 1;
            s.last_exit = Some(status.clone());
        }
        let message = format!("module process died ({status})");
        // The runner's tasks died with it (a restarted constructor starts its own).
        lock(&self.tasks).clear();
        for (_, waiter) in lock(&self.pending).drain() {
            let _ = waiter.send(Answer::Down(message.clone()));
        }
        if self.first.get().is_none() {
            // Before its first start, `configure` or `start` reports the death (or the
            // runner ended after its configuration was refused, as it should).
            tracing::debug!(module = %self.spec.name, "isolated module process {status}");
            return;
        }
        if lock(&self.status).failed.is_some() {
            tracing::error!(module = %self.spec.name, "isolated module process {status}");
            return;
        }
        let wait = {
            let mut backoff = lock(&self.backoff);
            if lived >= MAX_BACKOFF {
                *backoff = FIRST_BACKOFF;
            }
            let wait = *backoff;
            *backoff = (*backoff * 2).min(MAX_BACKOFF);
            wait
        };
        tracing::error!(module = %self.spec.name, restart_in_ms = wait.as_millis() as u64, "isolated module process {status}; restarting");
        let link = Arc::clone(self);
        tokio::spawn(async move { link.restart(generation + 1, wait).await });
    }

    /// Start a new runner after `wait`, until one starts or the module must stay down.
    async fn restart(self: Arc<Self>, mut generation: u64, mut wait: Duration) {
        loop {
            tokio::time::sleep(wait).await;
            match self.start_again(generation).await {
                Ok(()) => {
                    let restarts = {
                        let mut s = lock(&self.status);
                        s.restarts += 1;
                        s.restarts
                    };
                    tracing::info!(module = %self.spec.name, restarts, "isolated module process restarted");
                    return;
                }
                Err((true, reason)) => {
                    tracing::error!(module = %self.spec.name, "isolated module stays down: {reason}");
                    lock(&self.status).failed = Some(reason);
                    lock(&self.conn).take();
                    // Its constructor ran: the runner must not keep running unused.
                    let pid = std::mem::take(&mut lock(&self.status).pid);
                    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
                        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                    }
                    return;
                }
                Err((false, reason)) => {
                    tracing::warn!(module = %self.spec.name, "isolated module restart failed: {reason}");
                    generation += 1;
                    wait = (wait * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// One restart attempt. Errors: (whether to give up for good, why).
    async fn start_again(self: &Arc<Self>, generation: u64) -> Result<(), (bool, String)> {
        let mut control = self.launch(generation).await.map_err(|e| (false, e))?;
        match control.recv().await {
            Some(ToHost::Configured(Ok(_))) => {}
            Some(ToHost::Configured(Err(e))) => {
                return Err((
                    true,
                    format!("its configuration is now refused: {}", e.message),
                ))
            }
            _ => {
                return Err((
                    false,
                    format!("it died before it was configured ({})", self.last_exit()),
                ))
            }
        }
        self.send(&ToRunner::Start, false)
            .await
            .map_err(|e| (false, e.message.into_string()))?;
        let (registrations, result) = self.collect(&mut control).await;
        result.map_err(|e| (false, format!("its constructor failed: {}", e.message)))?;
        if Some(&registrations) != self.first.get() {
            return Err((
                true,
                "it registered other callbacks or web resources than at its first start".into(),
            ));
        }
        self.mark_ready();
        Ok(())
    }
}
