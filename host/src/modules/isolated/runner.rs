//! The runner process of a module with `isolation: process`: it loads the module's library
//! with the server's loader, runs its two phases when the server asks, and then serves the
//! server's calls to the module's callbacks and web resources. The module sees the same
//! [`HostApi`] as in the server's process: registrations, logs and host calls travel to the
//! server as frames (see [`super::protocol`]); `sleep` and `spawn` use this process's runtime.
//! When the server goes away the runner exits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RArc, RBox, RDuration, RResult, RSlice, RStr, RString};
use async_ffi::{FfiFuture, FutureExt as _};
use bytes::Bytes;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt as _, StreamExt as _};
use plugin_sdk::ffi::{
    CallbackFn_TO, ErrorKind, FfiArg, FfiError, FfiValue, HostApi, HostApi_TO, WebHandler_TO,
};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

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
    if let Some(dir) = sandbox {
        // Before any thread exists: Landlock binds only the threads made after it.
        match super::sandbox::restrict_files(dir) {
            Ok(status) => eprintln!("modhost-module-runner: sandbox {}: {status}", dir.display()),
            Err(e) => {
                eprintln!("modhost-module-runner: {e}");
                return 1;
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("modhost-module-runner: cannot start a runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(serve(path, sandbox.is_some())) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("modhost-module-runner: {e}");
            1
        }
    }
}

/// The callbacks and web resources the module registered, by registration index.
#[derive(Default)]
struct Registered {
    callbacks: Vec<Arc<CallbackFn_TO<RBox<()>>>>,
    web: Vec<Arc<WebHandler_TO<RBox<()>>>>,
}

/// The writing half of the connection to the server.
type Sink = Arc<tokio::sync::Mutex<SplitSink<Framed<UnixStream, LengthDelimitedCodec>, Bytes>>>;

/// Write one frame to the server; an answer too large for a frame is replaced by an error
/// saying so. Errors: the server went away.
async fn write(sink: &Sink, frame: &ToHost) -> std::io::Result<()> {
    let mut bytes = protocol::encode(frame)?;
    if bytes.len() > protocol::MAX_FRAME {
        let message = format!(
            "the module's answer is too large ({} bytes; at most {} bytes cross to the server)",
            bytes.len(),
            protocol::MAX_FRAME
        );
        let error: Error = FfiError::new(ErrorKind::MODULE, message.clone()).into();
        let replacement = match frame {
            ToHost::Reply { id, .. } => ToHost::Reply {
                id: *id,
                result: Err(error),
            },
            ToHost::WebReply { id, .. } => ToHost::WebReply {
                id: *id,
                result: Err(error),
            },
            _ => return Err(std::io::Error::other(message)),
        };
        bytes = protocol::encode(&replacement)?;
    }
    sink.lock().await.send(bytes).await
}

/// A queue to the server through `sink`: registrations, logs and host calls keep their
/// order through it; answers to calls are written by the task that has them.
fn queue(sink: Sink) -> mpsc::UnboundedSender<ToHost> {
    let (out, mut outgoing) = mpsc::unbounded_channel::<ToHost>();
    tokio::spawn(async move {
        while let Some(frame) = outgoing.recv().await {
            if write(&sink, &frame).await.is_err() {
                break;
            }
        }
    });
    out
}

/// The reading half of the connection to the server.
type Frames = futures_util::stream::SplitStream<Framed<UnixStream, LengthDelimitedCodec>>;

/// Whether `frame` runs module code (a callback or a web resource).
fn is_call(frame: &ToRunner) -> bool {
    matches!(frame, ToRunner::Call { .. } | ToRunner::Web { .. })
}

/// Read and serve frames once the module has started. A call runs in the task that read
/// it, after a new task took over the reading: module code may block its thread without
/// holding up further calls (they run side by side, as in the server's process), and the
/// answer needs no hand-off to another task (each costs a wake-up). When the server closes
/// the connection the runner ends.
fn read_on(host: RunnerHost, mut frames: Frames) -> futures_util::future::BoxFuture<'static, ()> {
    Box::pin(async move {
        while let Some(Ok(bytes)) = frames.next().await {
            let Ok(frame) = protocol::decode::<ToRunner>(&bytes) else {
                break;
            };
            if is_call(&frame) {
                tokio::spawn(read_on(host.clone(), frames));
                serve_frame(&host, frame).await;
                return;
            }
            serve_frame(&host, frame).await;
        }
        std::process::exit(0);
    })
}

/// Where the answer to one of the module's host calls goes.
type HostCallWaiter = oneshot::Sender<Result<Value, Error>>;

/// The module's view of the server, from inside the runner.
#[derive(Clone)]
struct RunnerHost {
    server_name: Arc<str>,
    host_sdk_version: Arc<str>,
    log_level: u8,
    out: mpsc::UnboundedSender<ToHost>,
    sink: Sink,
    registered: Arc<Mutex<Registered>>,
    host_calls: Arc<Mutex<HashMap<u64, HostCallWaiter>>>,
    next_id: Arc<AtomicU64>,
    runtime: tokio::runtime::Handle,
}

async fn serve(path: &str, sandboxed: bool) -> Result<(), String> {
    let stream = UnixStream::connect(path)
        .await
        .map_err(|e| format!("cannot connect to {path}: {e}"))?;
    if sandboxed {
        // Connected: from here on no thread of this process opens a socket.
        super::sandbox::deny_sockets()?;
    }
    let (sink, mut frames) = Framed::new(stream, protocol::codec()).split();
    let sink: Sink = Arc::new(tokio::sync::Mutex::new(sink));
    let out = queue(Arc::clone(&sink));
    let first = match frames.next().await {
        Some(Ok(bytes)) => protocol::decode::<ToRunner>(&bytes).ok(),
        _ => None,
    };
    let Some(ToRunner::Configure {
        library,
        config_json,
        server_name,
        host_sdk_version,
        log_level,
        memory_limit_bytes,
    }) = first
    else {
        return Err("the server did not send Configure first".into());
    };
    let host = RunnerHost {
        server_name: server_name.into(),
        host_sdk_version: host_sdk_version.into(),
        log_level,
        out: out.clone(),
        sink,
        registered: Arc::default(),
        host_calls: Arc::default(),
        next_id: Arc::default(),
        runtime: tokio::runtime::Handle::current(),
    };
    if let Some(bytes) = memory_limit_bytes {
        let limit = rustix::process::Rlimit {
            current: Some(bytes),
            maximum: Some(bytes),
        };
        if let Err(e) = rustix::process::setrlimit(rustix::process::Resource::As, limit) {
            return Err(format!("cannot set the memory limit: {e}"));
        }
    }
    let (loaded, handle) = match configure(&library, &config_json) {
        Ok((loaded, handle, info)) => {
            let _ = out.send(ToHost::Configured(Ok(info)));
            (loaded, handle)
        }
        Err(e) => {
            let _ = out.send(ToHost::Configured(Err(e)));
            // Let the frame go out before the process ends.
            tokio::time::sleep(Duration::from_millis(50)).await;
            return Ok(());
        }
    };
    while let Some(Ok(bytes)) = frames.next().await {
        let frame = protocol::decode::<ToRunner>(&bytes)
            .map_err(|e| format!("a frame from the server did not decode: {e}"))?;
        if is_call(&frame) {
            // Started: reading goes on in tasks of their own (see `read_on`).
            tokio::spawn(read_on(host.clone(), frames));
            serve_frame(&host, frame).await;
            return std::future::pending().await;
        }
        handle_frame(&host, &loaded, handle, frame).await;
    }
    Ok(())
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

/// Act on one frame from the server.
async fn handle_frame(
    host: &RunnerHost,
    loaded: &crate::loader::LoadedLibrary,
    handle: u64,
    frame: ToRunner,
) {
    match frame {
        ToRunner::Configure { .. } => {}
        ToRunner::Start => {
            let api = HostApi_TO::from_ptr(RArc::new(host.clone()), TD_Opaque);
            let result = match (loaded.root.init())(handle, api) {
                RResult::ROk(()) => Ok(()),
                RResult::RErr(e) => Err(e.into()),
            };
            let _ = host.out.send(ToHost::Started(result));
        }
        other => serve_frame(host, other).await,
    }
}

/// Act on a frame other than the start-up ones: answer a call (in this task, to the end)
/// or hand an answer to the module's host call.
async fn serve_frame(host: &RunnerHost, frame: ToRunner) {
    match frame {
        ToRunner::Configure { .. } | ToRunner::Start => {}
        ToRunner::Call { id, callback, args } => {
            let callback = host
                .registered
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .callbacks
                .get(callback as usize)
                .cloned();
            let sink = Arc::clone(&host.sink);
            async move {
                let result = match callback {
                    Some(callback) => call(&callback, args).await,
                    None => Err(unknown("callback")),
                };
                let _ = write(&sink, &ToHost::Reply { id, result }).await;
            }
            .await;
        }
        ToRunner::Web {
            id,
            handler,
            request,
        } => {
            let handler = host
                .registered
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .web
                .get(handler as usize)
                .cloned();
            let sink = Arc::clone(&host.sink);
            async move {
                let result = match handler {
                    Some(h) => match h.handle(request.into()).await {
                        RResult::ROk(r) => Ok(r.into()),
                        RResult::RErr(e) => Err(e.into()),
                    },
                    None => Err(unknown("web resource")),
                };
                let _ = write(&sink, &ToHost::WebReply { id, result }).await;
            }
            .await;
        }
        ToRunner::HostReply { id, result } => {
            let waiter = host
                .host_calls
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            if let Some(waiter) = waiter {
                let _ = waiter.send(result);
            }
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
        let _ = self.out.send(ToHost::Log {
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
        registered.callbacks.push(Arc::new(callback));
        let _ = self.out.send(ToHost::Register {
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
        registered.web.push(Arc::new(handler));
        let _ = self.out.send(ToHost::RegisterWeb {
            path: path.to_string(),
        });
        RResult::ROk(())
    }

    fn sleep(&self, duration: RDuration) -> FfiFuture<()> {
        crate::modules::host_api::sleep_on(self.runtime.clone(), duration)
    }

    fn spawn(&self, _name: RStr<'_>, task: FfiFuture<()>) {
        self.runtime.spawn(task);
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
        let sent = self.out.send(ToHost::HostCall {
            id,
            method: method.to_string(),
            args,
        });
        async move {
            if sent.is_err() {
                return RResult::RErr(FfiError::new(ErrorKind::REFUSED, "the server went away"));
            }
            match rx.await {
                Ok(Ok(v)) => RResult::ROk(v.into()),
                Ok(Err(e)) => RResult::RErr(e.into()),
                Err(_) => RResult::RErr(FfiError::new(ErrorKind::REFUSED, "the server went away")),
            }
        }
        .into_ffi()
    }
}
