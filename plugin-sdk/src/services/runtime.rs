//! Blocking work and the clock.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{ModuleApi, ModuleError};

type Job = Box<dyn FnOnce() + Send>;

/// Blocking threads per module library.
const WORKERS: usize = 8;

/// The module's blocking threads, started on first use.
fn pool(module: &str) -> &'static Mutex<Sender<Job>> {
    static POOL: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..WORKERS {
            let rx = Arc::clone(&rx);
            let _ = std::thread::Builder::new()
                .name(format!("{module}-blocking"))
                .spawn(move || loop {
                    let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                });
        }
        Mutex::new(tx)
    })
}

impl ModuleApi {
    /// Run blocking `f` (file I/O, a synchronous client library, heavy hashing) on one of
    /// this module's blocking threads (at most 8; further calls queue), so the host's async
    /// threads keep serving; await its result. A panic in `f` comes back as an error.
    ///
    /// ```no_run
    /// # async fn f(api: plugin_sdk::ModuleApi) -> Result<(), plugin_sdk::ModuleError> {
    /// let text = api
    ///     .spawn_blocking(|| std::fs::read_to_string("/etc/hostname"))
    ///     .await?
    ///     .map_err(|e| plugin_sdk::ModuleError::new(format!("cannot read the host name: {e}")))?;
    /// # Ok(()) }
    /// ```
    pub async fn spawn_blocking<T, F>(&self, f: F) -> Result<T, ModuleError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = futures_channel::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(std::panic::catch_unwind(AssertUnwindSafe(f)));
        });
        pool(self.module_name())
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .map_err(|_| ModuleError::new("the blocking threads have stopped"))?;
        match rx.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(ModuleError::new("blocking task panicked")),
            Err(_) => Err(ModuleError::new("blocking task ended without a result")),
        }
    }

    /// Milliseconds since the Unix epoch (Synapse's `get_current_time_msec`).
    pub fn current_time_msec(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}
