//! The host side of the ABI: what each module's `ModuleApi` talks to.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use std::time::Duration;

use abi_stable::std_types::{RBox, RDuration, RResult, RSlice, RStr, RString};
use async_ffi::{FfiFuture, FutureExt as _};
use futures_util::FutureExt as _;
use plugin_sdk::ffi::{
    CallbackFn_TO, ErrorKind, FfiArg, FfiError, FfiValue, HostApi, WebHandler_TO, SDK_VERSION,
};
use tokio::runtime::Handle;
use tokio::sync::watch;

use super::registry::{Accepted, RegistryBuilder};

/// How long a host call made before the database is open waits for it.
const SERVICES_WAIT: Duration = Duration::from_secs(30);

/// The module API behind `HostApi::call`, provided by the server once its database is open.
pub trait HostServices: Send + Sync {
    /// Run host method `method` for `module` with owned `args`.
    fn call(
        &self,
        module: Arc<str>,
        method: String,
        args: Vec<FfiValue>,
    ) -> BoxFuture<'static, Result<FfiValue, FfiError>>;

    /// `method` finished with `answer` after the module stopped waiting for it.
    fn abandoned(&self, module: Arc<str>, method: &str, answer: Result<FfiValue, FfiError>);
}

/// Where the server plugs its [`HostServices`] in: empty while modules are loading (there
/// is no database yet), filled once when the server opens it. Host calls made before then
/// (by a task a module started in `new`) wait for it instead of polling.
#[derive(Clone)]
pub struct ServicesSlot(watch::Sender<Option<Arc<dyn HostServices>>>);

impl Default for ServicesSlot {
    fn default() -> Self {
        ServicesSlot(watch::channel(None).0)
    }
}

impl ServicesSlot {
    /// Fill the slot and wake every waiting host call. Later calls are ignored: the
    /// services are fixed for the life of the server.
    pub fn set(&self, services: Arc<dyn HostServices>) {
        self.0.send_if_modified(|slot| {
            let empty = slot.is_none();
            if empty {
                *slot = Some(services);
            }
            empty
        });
    }

    /// The services, once the server provides them.
    async fn wait(&self) -> Option<Arc<dyn HostServices>> {
        let mut rx = self.0.subscribe();
        let ready = rx.wait_for(Option::is_some).await.ok()?.clone();
        ready
    }
}

/// State shared by every module's host handle.
pub(crate) struct Shared {
    pub(crate) services: ServicesSlot,
    pub(crate) server_name: String,
    pub(crate) runtime: Handle,
    /// Whether modules may still register callbacks and web resources.
    pub(crate) registration: Mutex<Registration>,
    /// Background tasks modules started.
    pub(crate) tasks: Arc<super::tasks::ModuleTasks>,
}

/// The start-up phase registrations belong to: open while constructors run (`new`), closed
/// once the registry is frozen and the server runs.
pub(crate) enum Registration {
    /// Constructors are running; what they register is collected here.
    Open(RegistryBuilder),
    /// The registry is frozen; late registrations are refused.
    Closed,
}

impl Registration {
    /// Close registration, returning what was collected (`None` if already closed).
    pub(crate) fn close(&mut self) -> Option<RegistryBuilder> {
        match std::mem::replace(self, Registration::Closed) {
            Registration::Open(builder) => Some(builder),
            Registration::Closed => None,
        }
    }
}

/// One module's view of the host.
#[derive(Clone)]
pub(crate) struct ModuleHost {
    pub(crate) index: usize,
    pub(crate) name: Arc<str>,
    pub(crate) shared: Arc<Shared>,
}

fn refused(message: String) -> RResult<(), FfiError> {
    RResult::RErr(FfiError::new(ErrorKind::REFUSED, message))
}

impl ModuleHost {
    fn with_builder(
        &self,
        what: &str,
        f: impl FnOnce(&mut RegistryBuilder) -> Result<Accepted, String>,
    ) -> RResult<(), FfiError> {
        let mut guard = self
            .shared
            .registration
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let Registration::Open(builder) = &mut *guard else {
            return refused(format!(
                "Tried to register {what} from a module after startup"
            ));
        };
        match f(builder) {
            Ok(Accepted::Yes) | Ok(Accepted::Silently) => RResult::ROk(()),
            Ok(Accepted::Ignored(warning)) => {
                tracing::warn!(module = %self.name, "{warning}");
                RResult::ROk(())
            }
            Err(message) => refused(message),
        }
    }
}

/// The most verbose level (1 error … 5 trace) at which module log records are emitted, for
/// a runner process to filter its module's records before sending them.
pub(crate) fn max_log_level() -> u8 {
    use tracing::Level;
    [Level::TRACE, Level::DEBUG, Level::INFO, Level::WARN]
        .iter()
        .position(|l| match *l {
            Level::TRACE => tracing::enabled!(target: "module", Level::TRACE),
            Level::DEBUG => tracing::enabled!(target: "module", Level::DEBUG),
            Level::INFO => tracing::enabled!(target: "module", Level::INFO),
            _ => tracing::enabled!(target: "module", Level::WARN),
        })
        .map_or(1, |i| 5 - i as u8)
}

/// A module's `HostApi::sleep` of `duration` on `runtime`: the timer is made inside the
/// runtime's context, so any thread (a module's own included) may poll the future.
pub(crate) fn sleep_on(runtime: Handle, duration: RDuration) -> FfiFuture<()> {
    let duration = Duration::from(duration);
    async move {
        let sleep = {
            let _entered = runtime.enter();
            tokio::time::sleep(duration)
        };
        sleep.await
    }
    .into_ffi()
}

impl HostApi for ModuleHost {
    fn server_name(&self) -> RString {
        self.shared.server_name.as_str().into()
    }

    fn host_sdk_version(&self) -> RString {
        SDK_VERSION.into()
    }

    fn log_enabled(&self, level: u8) -> bool {
        use tracing::Level;
        match level {
            1 => tracing::enabled!(target: "module", Level::ERROR),
            2 => tracing::enabled!(target: "module", Level::WARN),
            3 => tracing::enabled!(target: "module", Level::INFO),
            4 => tracing::enabled!(target: "module", Level::DEBUG),
            _ => tracing::enabled!(target: "module", Level::TRACE),
        }
    }

    fn log(&self, level: u8, target: RStr<'_>, message: RStr<'_>) {
        let (module, target, message) = (&*self.name, target.as_str(), message.as_str());
        match level {
            1 => tracing::error!(target: "module", module, module_target = target, "{message}"),
            2 => tracing::warn!(target: "module", module, module_target = target, "{message}"),
            3 => tracing::info!(target: "module", module, module_target = target, "{message}"),
            4 => tracing::debug!(target: "module", module, module_target = target, "{message}"),
            _ => tracing::trace!(target: "module", module, module_target = target, "{message}"),
        }
    }

    fn register_callback(
        &self,
        category: RStr<'_>,
        name: RStr<'_>,
        meta: RStr<'_>,
        callback: CallbackFn_TO<RBox<()>>,
    ) -> RResult<(), FfiError> {
        let what = format!("callback {category}.{name}");
        self.with_builder(&what, |b| {
            b.add_callback(
                &self.name,
                self.index,
                category.as_str(),
                name.as_str(),
                meta.as_str(),
                callback,
            )
        })
    }

    fn register_web_resource(
        &self,
        path: RStr<'_>,
        handler: WebHandler_TO<RBox<()>>,
    ) -> RResult<(), FfiError> {
        self.with_builder("a web resource", |b| {
            b.add_web_resource(&self.name, self.index, path.as_str(), handler)
        })
    }

    fn sleep(&self, duration: RDuration) -> FfiFuture<()> {
        sleep_on(self.shared.runtime.clone(), duration)
    }

    fn spawn(&self, name: RStr<'_>, task: FfiFuture<()>) {
        let module = Arc::clone(&self.name);
        let name = name.to_string();
        let (task_module, task_name) = (Arc::clone(&module), name.clone());
        self.shared.tasks.spawn(&self.shared.runtime, &module, &name, async move {
            if AssertUnwindSafe(task).catch_unwind().await.is_err() {
                tracing::error!(module = %task_module, task = %task_name, "module background task panicked");
            }
        });
    }

    fn call(
        &self,
        method: RStr<'_>,
        args: RSlice<'_, FfiArg<'_>>,
    ) -> FfiFuture<RResult<FfiValue, FfiError>> {
        // Arguments are borrowed for this call only: copy them before going async.
        let owned: Vec<FfiValue> = args.iter().map(FfiArg::to_owned_value).collect();
        let slot = self.shared.services.clone();
        let (module, method) = (Arc::clone(&self.name), method.to_string());
        let runtime = self.shared.runtime.clone();
        async move {
            // A task a module starts in `new` may call before the database is open: wait
            // for it (briefly) rather than fail. The timer is made on the host's runtime:
            // the module may poll this future from a thread of its own.
            let services = {
                let _entered = runtime.enter();
                tokio::time::timeout(SERVICES_WAIT, slot.wait())
            };
            let services = services.await.ok().flatten();
            match services {
                // Run on the host's runtime: the module may poll this future from a thread
                // of its own, where the database and HTTP clients would find no reactor.
                Some(s) => {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    let name = method.clone();
                    runtime.spawn(async move {
                        let answer = s.call(Arc::clone(&module), name.clone(), owned).await;
                        // The module stopped waiting (its future was dropped): let the host
                        // undo what nobody will finish, such as an opened transaction.
                        if let Err(answer) = tx.send(answer) {
                            s.abandoned(module, &name, answer);
                        }
                    });
                    match rx.await {
                        Ok(answer) => answer.into(),
                        Err(_) => RResult::RErr(FfiError::new(
                            ErrorKind::MODULE,
                            format!("host method {method} failed"),
                        )),
                    }
                }
                None => RResult::RErr(FfiError::new(
                    ErrorKind::UNSUPPORTED,
                    format!("host method {method} is not available: the server has not started (plugin-sdk {SDK_VERSION})"),
                )),
            }
        }
        .into_ffi()
    }
}
