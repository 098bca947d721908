//! The runner process of a module with `isolation: process`: it loads the module's library
//! with the server's loader, runs its two phases when the server asks, and then serves the
//! server's calls to the module's callbacks and web resources (on reader threads, see
//! [`super::readers`]). The module sees the same [`HostApi`] as in the server's process:
//! registrations, logs and host calls travel to the server as frames (see
//! [`super::protocol`]); `sleep` and `spawn` use this process's runtime. When the server goes
//! away the runner exits.

use std::collections::HashMap;
use std::future::Future;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use abi_stable::std_types::{RBox, RDuration, RResult, RSlice, RStr, RString};
use async_ffi::{FfiFuture, FutureExt as _};
use plugin_sdk::ffi::{
    CallbackFn_TO, ErrorKind, FfiArg, FfiError, FfiValue, HostApi, WebHandler_TO,
};
use tokio::sync::oneshot;

use super::frames::{FrameReader, FrameWriter};
use super::protocol::{self, Error, Info, ToHost, ToRunner, Value};

/// The `ErrorKind` of a library that could not be loaded (not one of the ABI's kinds: it
/// never crosses the ABI).
pub const LOAD_FAILED: u32 = 0;

/// Run the runner: connect to the server at the socket `path` and serve until it closes;
/// with `sandbox`, confined to that folder first (see [`super::sandbox`]). Returns the
/// process exit code.
pub fn main(path: &str, sandbox: Option<&std::path::Path>) -> i32 {
    // A runner whose server died (even one stuck in module code) must not live on.
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    match connect(path, sandbox).and_then(|(stream, runtime)| serve(stream, runtime)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("modhost-module-runner: {e}");
            1
        }
    }
}

/// Connect to the server at `path` and start the runtime for the module's tasks, inside the
/// sandbox of folder `sandbox` if one is given.
fn connect(
    path: &str,
    sandbox: Option<&std::path::Path>,
) -> Result<(UnixStream, tokio::runtime::Runtime), String> {
    if let Some(dir) = sandbox {
        // Before any thread exists: Landlock binds only the threads made after it.
        let status = super::sandbox::restrict_files(dir)?;
        super::sandbox::drop_capabilities()?;
        eprintln!("modhost-module-runner: sandbox {}: {status}", dir.display());
    }
    let stream = UnixStream::connect(path).map_err(|e| format!("cannot connect to {path}: {e}"))?;
    // The runtime's drivers make a socket pair of their own: before sockets are denied.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    if sandbox.is_some() {
        // From here on no thread of this process opens a socket.
        super::sandbox::deny_sockets()?;
    }
    Ok((stream, runtime))
}

/// The callbacks and web resources the module registered, by registration index.
#[derive(Default)]
struct Registered {
    callbacks: Vec<Arc<CallbackFn_TO<RBox<()>>>>,
    web: Vec<Arc<WebHandler_TO<RBox<()>>>>,
    /// The constructor returned: registrations are refused from now on, as in the server.
    closed: bool,
}

impl Registered {
    /// The refusal of a registration of `what` once the constructor returned (the server's
    /// words in its own process).
    fn refuse_late(&self, what: &str) -> Option<FfiError> {
        self.closed.then(|| {
            FfiError::new(
                ErrorKind::REFUSED,
                format!("Tried to register {what} from a module after startup"),
            )
        })
    }
}

/// Where the answer to one of the module's host calls goes.
type HostCallWaiter = oneshot::Sender<Result<Value, Error>>;

/// The answer to one call, being computed.
pub(super) type Answering = Pin<Box<dyn Future<Output = ToHost> + Send>>;

/// The module's view of the server, from inside the runner.
#[derive(Clone)]
pub(super) struct RunnerHost {
    server_name: Arc<str>,
    host_sdk_version: Arc<str>,
    log_level: u8,
    writer: Arc<FrameWriter>,
    registered: Arc<Mutex<Registered>>,
    host_calls: Arc<Mutex<HashMap<u64, HostCallWaiter>>>,
    next_id: Arc<AtomicU64>,
    pub(super) runtime: tokio::runtime::Handle,
}

/// Configure the module from the server's first frame on `stream`, then serve its frames
/// (calls that wait go to `runtime`).
fn serve(stream: UnixStream, runtime: tokio::runtime::Runtime) -> Result<(), String> {
    let cloned = stream.try_clone().map_err(|e| e.to_string())?;
    let mut reader = FrameReader::new(cloned);
    let writer = Arc::new(FrameWriter::new(stream));
    let first = match reader.next(Duration::ZERO) {
        Ok(Some(bytes)) => protocol::decode::<ToRunner>(bytes).ok(),
        _ => None,
    };
    let Some(ToRunner::Configure {
        library,
        config_json,
        server_name,
        host_sdk_version,
        log_level,
        memory_limit_bytes,
        busy_poll_us,
    }) = first
    else {
        return Err("the server did not send Configure first".into());
    };
    if let Some(bytes) = memory_limit_bytes {
        let limit = rustix::process::Rlimit {
            current: Some(bytes),
            maximum: Some(bytes),
        };
        rustix::process::setrlimit(rustix::process::Resource::As, limit)
            .map_err(|e| format!("cannot set the memory limit: {e}"))?;
    }
    let host = RunnerHost {
        server_name: server_name.into(),
        host_sdk_version: host_sdk_version.into(),
        log_level,
        writer,
        registered: Arc::default(),
        host_calls: Arc::default(),
        next_id: Arc::default(),
        runtime: runtime.handle().clone(),
    };
    let (loaded, handle) = match configure(&library, &config_json) {
        Ok((loaded, handle, info)) => {
            host.send(&ToHost::Configured(Ok(info)));
            (loaded, handle)
        }
        Err(e) => {
            host.send(&ToHost::Configured(Err(e)));
            return Ok(());
        }
    };
    let spin = Duration::from_micros(busy_poll_us.into());
    super::readers::Readers::run(host, reader, spin, loaded, handle, runtime)
}

/// Load `library` and parse `config_json`: the library, the configuration handle for its
/// constructor, and what it says about itself.
fn configure(
    library: &str,
    config_json: &str,
) -> Result<(crate::loader::LoadedLibrary, u64, Info), Error> {
    let loaded = crate::loader::load(std::path::Path::new(library)).map_err(|f| Error {
        kind: LOAD_FAILED,
        message: f.to_string(),
        details: String::new(),
    })?;
    let info = Info {
        name: loaded.info.name.to_string(),
        version: loaded.info.version.to_string(),
        sdk_version: loaded.info.sdk_version.to_string(),
    };
    match (loaded.root.parse_config())(config_json.into()) {
        RResult::ROk(handle) => Ok((loaded, handle, info)),
        RResult::RErr(e) => Err(e.into()),
    }
}

impl RunnerHost {
    /// Send `frame` to the server; an answer too large for a frame is replaced by an error
    /// saying so. A server that went away is not an error here: the reader sees the
    /// connection close and the runner ends.
    pub(super) fn send(&self, frame: &ToHost) {
        let Ok(mut bytes) = protocol::encode(frame) else {
            return;
        };
        if bytes.len() > protocol::MAX_FRAME {
            let message = format!(
                "the module's answer is too large ({} bytes; at most {} bytes cross to the server)",
                bytes.len(),
                protocol::MAX_FRAME
            );
            let error: Error = FfiError::new(ErrorKind::MODULE, message).into();
            let replacement = match frame {
                ToHost::Reply { id, .. } => ToHost::Reply {
                    id: *id,
                    result: Err(error),
                },
                ToHost::WebReply { id, .. } => ToHost::WebReply {
                    id: *id,
                    result: Err(error),
                },
                _ => return,
            };
            let Ok(replaced) = protocol::encode(&replacement) else {
                return;
            };
            bytes = replaced;
        }
        let _ = self.writer.send(&bytes);
    }

    /// Run the module's constructor with this host, and tell the server how it went.
    pub(super) fn start(&self, loaded: &crate::loader::LoadedLibrary, handle: u64) {
        use abi_stable::sabi_trait::TD_Opaque;
        let api = plugin_sdk::ffi::HostApi_TO::from_ptr(
            abi_stable::std_types::RArc::new(self.clone()),
            TD_Opaque,
        );
        let result = match (loaded.root.init())(handle, api) {
            RResult::ROk(()) => Ok(()),
            RResult::RErr(e) => Err(e.into()),
        };
        self.registered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .closed = true;
        self.send(&ToHost::Started(result));
    }

    /// Hand the server's answer to the module's host call `id` to the call.
    pub(super) fn deliver(&self, id: u64, result: Result<Value, Error>) {
        let waiter = self
            .host_calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        if let Some(waiter) = waiter {
            let _ = waiter.send(result);
        }
    }

    /// The answer to the call `frame` (a callback or a web request), as a future; `None` for
    /// other frames.
    pub(super) fn answer(&self, frame: ToRunner) -> Option<Answering> {
        let registered = self.registered.lock().unwrap_or_else(|e| e.into_inner());
        match frame {
            ToRunner::Call { id, callback, args } => {
                let callback = registered.callbacks.get(callback as usize).cloned();
                Some(Box::pin(async move {
                    let result = match callback {
                        Some(callback) => call(&callback, args).await,
                        None => Err(unknown("callback")),
                    };
                    ToHost::Reply { id, result }
                }))
            }
            ToRunner::Web {
                id,
                handler,
                request,
            } => {
                let handler = registered.web.get(handler as usize).cloned();
                Some(Box::pin(async move {
                    let result = match handler {
                        Some(h) => match h.handle(request.into()).await {
                            RResult::ROk(r) => Ok(r.into()),
                            RResult::RErr(e) => Err(e.into()),
                        },
                        None => Err(unknown("web resource")),
                    };
                    ToHost::WebReply { id, result }
                }))
            }
            _ => None,
        }
    }
}

fn unknown(what: &str) -> Error {
    FfiError::new(
        ErrorKind::UNSUPPORTED,
        format!("no such {what} in this runner"),
    )
    .into()
}

/// Call `callback` with `args` (borrowed for the call only, as in the server's process).
async fn call(callback: &CallbackFn_TO<RBox<()>>, args: Vec<Value>) -> Result<Value, Error> {
    let owned: Vec<FfiValue> = args.into_iter().map(FfiValue::from).collect();
    let future = {
        let borrowed: Vec<FfiArg<'_>> = owned.iter().map(FfiValue::as_arg).collect();
        callback.call(RSlice::from_slice(&borrowed))
    };
    match future.await {
        RResult::ROk(v) => Ok(Value::from(&v)),
        RResult::RErr(e) => Err(e.into()),
    }
}

impl HostApi for RunnerHost {
    fn server_name(&self) -> RString {
        (*self.server_name).into()
    }

    fn host_sdk_version(&self) -> RString {
        (*self.host_sdk_version).into()
    }

    fn log_enabled(&self, level: u8) -> bool {
        level <= self.log_level
    }

    fn log(&self, level: u8, target: RStr<'_>, message: RStr<'_>) {
        self.send(&ToHost::Log {
            level,
            target: target.to_string(),
            message: message.to_string(),
        });
    }

    fn register_callback(
        &self,
        category: RStr<'_>,
        name: RStr<'_>,
        meta: RStr<'_>,
        callback: CallbackFn_TO<RBox<()>>,
    ) -> RResult<(), FfiError> {
        let mut registered = self.registered.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(refused) = registered.refuse_late(&format!("callback {category}.{name}")) {
            return RResult::RErr(refused);
        }
        registered.callbacks.push(Arc::new(callback));
        // Sent under the lock: the server numbers registrations in the order of their frames.
        self.send(&ToHost::Register {
            category: category.to_string(),
            name: name.to_string(),
            meta: meta.to_string(),
        });
        RResult::ROk(())
    }

    fn register_web_resource(
        &self,
        path: RStr<'_>,
        handler: WebHandler_TO<RBox<()>>,
    ) -> RResult<(), FfiError> {
        let mut registered = self.registered.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(refused) = registered.refuse_late("a web resource") {
            return RResult::RErr(refused);
        }
        registered.web.push(Arc::new(handler));
        // Sent under the lock: the server numbers registrations in the order of their frames.
        self.send(&ToHost::RegisterWeb {
            path: path.to_string(),
        });
        RResult::ROk(())
    }

    fn sleep(&self, duration: RDuration) -> FfiFuture<()> {
        crate::modules::host_api::sleep_on(self.runtime.clone(), duration)
    }

    fn spawn(&self, name: RStr<'_>, task: FfiFuture<()>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.send(&ToHost::TaskStarted {
            id,
            name: name.to_string(),
        });
        let host = self.clone();
        self.runtime.spawn(async move {
            task.await;
            host.send(&ToHost::TaskEnded { id });
        });
    }

    fn call(
        &self,
        method: RStr<'_>,
        args: RSlice<'_, FfiArg<'_>>,
    ) -> FfiFuture<RResult<FfiValue, FfiError>> {
        let args: Vec<Value> = args
            .iter()
            .map(|a| Value::from(&a.to_owned_value()))
            .collect();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.host_calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, tx);
        self.send(&ToHost::HostCall {
            id,
            method: method.to_string(),
            args,
        });
        async move {
            match rx.await {
                Ok(Ok(v)) => RResult::ROk(v.into()),
                Ok(Err(e)) => RResult::RErr(e.into()),
                Err(_) => RResult::RErr(FfiError::new(ErrorKind::REFUSED, "the server went away")),
            }
        }
        .into_ffi()
    }
}
