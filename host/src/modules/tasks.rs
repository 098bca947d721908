//! Background tasks modules start (`spawn`, looping and delayed calls): tracked per module,
//! named in logs, and stopped when the server shuts down.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::task::AbortHandle;

struct Task {
    module: Arc<str>,
    name: String,
    handle: AbortHandle,
}

/// Every module task still running.
#[derive(Default)]
pub struct ModuleTasks {
    next: AtomicU64,
    running: Mutex<HashMap<u64, Task>>,
    stopped: std::sync::atomic::AtomicBool,
}

impl ModuleTasks {
    /// Start `task` for `module` on `runtime`, tracked until it ends. Refused (with a
    /// warning) once the server is stopping.
    pub(crate) fn spawn(
        self: &Arc<Self>,
        runtime: &tokio::runtime::Handle,
        module: &Arc<str>,
        name: &str,
        task: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        // Held across the check and the spawn: the task cannot report itself finished before
        // it is recorded, and `stop_all` cannot drain the list between the check and the
        // insert.
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if self.stopped.load(Ordering::SeqCst) {
            tracing::warn!(module = %module, task = %name, "not starting module background task: the server is stopping");
            return;
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let this = Arc::clone(self);
        let handle = runtime.spawn(async move {
            task.await;
            this.finished(id);
        });
        running.insert(
            id,
            Task {
                module: Arc::clone(module),
                name: name.to_string(),
                handle: handle.abort_handle(),
            },
        );
    }

    fn finished(&self, id: u64) {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// `(module, task name)` of every running task, sorted.
    pub fn running(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|t| !t.handle.is_finished())
            .map(|t| (t.module.to_string(), t.name.clone()))
            .collect();
        out.sort();
        out
    }

    /// Stop every task (and refuse new ones); each is logged by module and name. Returns how
    /// many were stopped.
    pub fn stop_all(&self) -> usize {
        let tasks: Vec<Task> = {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            self.stopped.store(true, Ordering::SeqCst);
            running.drain().map(|(_, t)| t).collect()
        };
        let mut stopped = 0;
        for t in tasks {
            if !t.handle.is_finished() {
                t.handle.abort();
                stopped += 1;
                tracing::info!(module = %t.module, task = %t.name, "stopped module background task");
            }
        }
        stopped
    }
}
