//! A bounded pool for password hashing. Each Argon2 computation holds ~19 MiB for tens of
//! milliseconds by design; run unbounded on the blocking pool, a burst of wrong-password logins
//! spawned a thread and an allocation each (100 at once took the process to 2 GB, and glibc
//! kept most of it). Here a fixed set of worker threads does every computation, so at most
//! `concurrency` run at once and their memory is reused; up to `max_queued` more wait, and
//! beyond that the request is refused with 429 at once.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use tokio::sync::Semaphore;

use crate::config::PasswordHashing;
use crate::error::{MatrixError, MatrixResult};

/// One computation for a worker thread.
type Job = Box<dyn FnOnce() + Send>;

/// How long a refused client should wait before trying again, in milliseconds: about what a
/// full queue takes to drain.
const RETRY_AFTER_MS: u64 = 1000;

/// The worker threads and the admission limit.
pub struct HashPool {
    jobs: SyncSender<Job>,
    /// Permits for running or queued computations (`concurrency + max_queued`).
    admitted: Arc<Semaphore>,
}

impl HashPool {
    /// Start `settings.concurrency()` worker threads, admitting that many computations plus
    /// `settings.max_queued` waiting ones. The threads end when the pool is dropped.
    pub fn new(settings: PasswordHashing) -> Self {
        let workers = settings.concurrency().max(1);
        let capacity = workers + settings.max_queued;
        let (jobs, queue) = sync_channel::<Job>(capacity);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..workers {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("password-hash-{n}"))
                .spawn(move || work(&queue));
            if let Err(err) = spawned {
                tracing::error!("could not start a password-hashing thread: {err}");
            }
        }
        HashPool {
            jobs,
            admitted: Arc::new(Semaphore::new(capacity)),
        }
    }

    /// Run `compute` on a worker thread and return its result. 429 `M_LIMIT_EXCEEDED` with
    /// `retry_after_ms` when `concurrency + max_queued` computations are already admitted;
    /// 500 `M_UNKNOWN` if the worker is gone.
    pub async fn run<T, F>(&self, compute: F) -> MatrixResult<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let Ok(permit) = Arc::clone(&self.admitted).try_acquire_owned() else {
            return Err(busy());
        };
        let (answer, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _permit = permit;
            let _ = answer.send(compute());
        });
        // Never blocks: the channel holds as many jobs as there are permits.
        self.jobs.try_send(job).map_err(|_| busy())?;
        result.await.map_err(|_| MatrixError::internal())
    }
}

/// A worker: take jobs until the pool is dropped.
fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
        match next {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

/// 429 `M_LIMIT_EXCEEDED`, as Synapse's rate limits answer.
fn busy() -> MatrixError {
    let mut err = MatrixError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "M_LIMIT_EXCEEDED",
        "Too Many Requests",
    );
    err.fields
        .insert("retry_after_ms".into(), serde_json::json!(RETRY_AFTER_MS));
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn beyond_the_queue_requests_are_refused_with_retry_after() {
        let pool = Arc::new(HashPool::new(PasswordHashing {
            max_concurrent: 1,
            max_queued: 1,
        }));
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let mut running = Vec::new();
        for _ in 0..2 {
            let (pool, gate) = (Arc::clone(&pool), Arc::clone(&gate));
            running.push(tokio::spawn(async move {
                pool.run(move || gate.lock().unwrap().recv().is_ok()).await
            }));
        }
        // Both admitted (one running, one queued) before the third is tried.
        while pool.admitted.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let refused = pool.run(|| true).await.unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.fields["retry_after_ms"], RETRY_AFTER_MS);
        release.send(()).unwrap();
        release.send(()).unwrap();
        for r in running {
            assert!(r.await.unwrap().unwrap());
        }
        assert!(pool.run(|| true).await.unwrap());
    }
}
