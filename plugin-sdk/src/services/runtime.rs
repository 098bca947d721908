//! Blocking work and the clock.

use std::panic::AssertUnwindSafe;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{ModuleApi, ModuleError};

impl ModuleApi {
    /// Run blocking `f` (file I/O, a synchronous client library, heavy hashing) on a thread
    /// of its own, so the host's async threads keep serving; await its result. A panic in
    /// `f` comes back as an error.
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
        let module = self.module_name();
        std::thread::Builder::new()
            .name(format!("{module}-blocking"))
            .spawn(move || {
                let _ = tx.send(std::panic::catch_unwind(AssertUnwindSafe(f)));
            })
            .map_err(|e| ModuleError::new(format!("could not start a blocking thread: {e}")))?;
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
