//! The server's side of a module with `isolation: process`: it starts the module's runner
//! process, hands the module's registrations to the registry as proxies that forward each
//! call over the runner's socket, answers the module's host calls, and restarts the runner
//! when it dies.
//!
//! When the runner dies every call in flight fails at once (the callback's failure policy
//! decides the answer), the death is logged with its signal or exit status and counted, and
//! the runner is started again after a back-off (0.1 s, doubling to 30 s; back to 0.1 s
//! after a run of 30 s or more). Its constructor runs again and must register exactly what
//! it registered the first time; otherwise the module stays down, with a log line saying
//! why. While it is down, calls fail at once.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RSlice};
use futures_util::SinkExt as _;
use plugin_sdk::ffi::{
    CallbackFn_TO, ErrorKind, FfiArg, FfiError, FfiValue, HostApi, WebHandler_TO,
};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_util::codec::{FramedWrite, LengthDelimitedCodec};

use super::incoming::Incoming;
use super::protocol::{self, Error, Info, Response, ToHost, ToRunner, Value};
pub use super::status::{render_metrics, Status};
use proxy::{Forget, ProxyCallback, ProxyWeb};

mod proxy;
mod restart;
use crate::modules::host_api::ModuleHost;

/// The first wait before a restart; it doubles after each quick death.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait before a restart.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long the runner has to connect after it was started.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the server needs to run one module in a runner.
pub struct Spec {
    /// The module's name (logs, metrics).
    pub name: Arc<str>,
    /// The library file the runner loads (the server's private copy).
    pub library: PathBuf,
    /// The module's `config:` as JSON.
    pub config_json: String,
    /// The server's `server_name`.
    pub server_name: String,
    /// `memory_limit_mb:`.
    pub memory_limit_mb: Option<u64>,
    /// `max_concurrent_calls:`.
    pub max_concurrent_calls: Option<u32>,
    /// The most verbose module log level the server emits (1 error … 5 trace).
    pub log_level: u8,
    /// The module's own folder: the runner's working directory, and with `sandbox: strict`
    /// the only place it may create or write files.
    pub files_dir: std::path::PathBuf,
    /// `sandbox: strict`.
    pub sandbox: bool,
    /// `busy_poll_us:`: how long a reader spins before it sleeps, in µs (0: never spins).
    pub busy_poll_us: u32,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("module", &self.spec.name)
            .field("status", &self.status())
            .finish()
    }
}

/// One registration, to check a restarted runner registers the same.
#[derive(Debug, Clone, PartialEq)]
enum Registration {
    Callback {
        category: String,
        name: String,
        meta: String,
    },
    Web {
        path: String,
    },
}

enum Answer {
    Value(Result<Value, Error>),
    Web(Result<Response, Error>),
    Down(String),
}

/// The writing half of a runner connection, shared by the tasks that send on it: each
/// writes its own frame (no hand-off to a writer task, which would cost a wake-up per call).
type Sink = Arc<tokio::sync::Mutex<FramedWrite<OwnedWriteHalf, LengthDelimitedCodec>>>;

/// The current runner connection.
struct Conn {
    sink: Sink,
    incoming: Arc<Incoming>,
    /// Where control frames go (weak: the receiver sees the end when the reader task ends).
    control: mpsc::WeakUnboundedSender<ToHost>,
    generation: u64,
    /// The constructor returned: calls may go.
    ready: bool,
    started: Instant,
}

/// The server's end of one isolated module.
pub struct Link {
    spec: Spec,
    conn: Mutex<Option<Conn>>,
    control: Mutex<Option<mpsc::UnboundedReceiver<ToHost>>>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Answer>>>,
    next_id: AtomicU64,
    limit: Option<Semaphore>,
    first: OnceLock<Vec<Registration>>,
    host: OnceLock<ModuleHost>,
    status: Mutex<Status>,
    backoff: Mutex<Duration>,
    /// Calls given up on (time limit, client gone) since the runner last answered one.
    abandoned: AtomicU64,
    /// A call is spinning for its answer (`busy_poll_us:`): one at a time, so the spinning
    /// costs at most one server thread per module.
    spinning: AtomicBool,
    /// The runner's background tasks, as the server's task list holds them: each record
    /// ends when its sender is dropped (the task ended, or the runner died).
    tasks: Mutex<HashMap<u64, oneshot::Sender<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn module_error(message: String) -> FfiError {
    FfiError::new(ErrorKind::MODULE, message)
}

/// The runner binary: `MODHOST_MODULE_RUNNER`, or `modhost-module-runner` beside this
/// executable.
fn runner_path() -> PathBuf {
    if let Some(path) = std::env::var_os("MODHOST_MODULE_RUNNER") {
        return path.into();
    }
    std::env::current_exe()
        .unwrap_or_default()
        .with_file_name("modhost-module-runner")
}

/// How a process ended, in words.
fn describe(status: std::io::Result<std::process::ExitStatus>) -> String {
    match status {
        Err(e) => format!("unknown ({e})"),
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(signal)) => format!("killed by signal {signal} ({})", signal_name(signal)),
            _ => "ended".into(),
        },
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        15 => "SIGTERM",
        _ => "signal",
    }
}

impl Link {
    /// Start the runner for `spec`, load the library and parse its configuration: the link
    /// and what the library says about itself. Errors: the runner could not start (a
    /// message), or the library or its configuration was refused (the runner's error, kind
    /// [`super::runner::LOAD_FAILED`] for a library that did not load).
    pub async fn configure(spec: Spec) -> Result<(Arc<Link>, Info), Error> {
        let limit = spec
            .max_concurrent_calls
            .map(|n| Semaphore::new(n as usize));
        let link = Arc::new(Link {
            spec,
            conn: Mutex::default(),
            control: Mutex::default(),
            pending: Mutex::default(),
            next_id: AtomicU64::new(1),
            limit,
            first: OnceLock::new(),
            host: OnceLock::new(),
            status: Mutex::default(),
            backoff: Mutex::new(FIRST_BACKOFF),
            abandoned: AtomicU64::new(0),
            spinning: AtomicBool::new(false),
            tasks: Mutex::default(),
        });
        let failed = |message: String| Error {
            kind: super::runner::LOAD_FAILED,
            message,
            details: String::new(),
        };
        let mut control = link.launch(0).await.map_err(failed)?;
        let info = match control.recv().await {
            Some(ToHost::Configured(result)) => result?,
            _ => {
                return Err(failed(format!(
                    "the module runner died before it was configured ({})",
                    link.last_exit()
                )))
            }
        };
        *lock(&link.control) = Some(control);
        Ok((link, info))
    }

    /// Run the module's constructor in the runner; its registrations reach the registry
    /// through `host`, as proxies. Errors: the constructor's, or the runner died.
    pub(crate) async fn start(self: &Arc<Self>, host: ModuleHost) -> Result<(), FfiError> {
        let _ = self.host.set(host.clone());
        let Some(mut control) = lock(&self.control).take() else {
            return Err(module_error("the module runner is not configured".into()));
        };
        self.send(&ToRunner::Start, false).await?;
        let (registrations, result) = self.collect(&mut control).await;
        let (mut callbacks, mut web) = (0u32, 0u32);
        // In the server's process the module's registration call gets the refusal (and a
        // constructor that passes it on fails); here it has already returned, so the first
        // refusal fails the start instead.
        let mut refusal = None;
        for r in &registrations {
            let refused = match r {
                Registration::Callback {
                    category,
                    name,
                    meta,
                } => {
                    let proxy = ProxyCallback {
                        link: Arc::clone(self),
                        index: callbacks,
                    };
                    callbacks += 1;
                    let proxy = CallbackFn_TO::from_value(proxy, TD_Opaque);
                    HostApi::register_callback(
                        &host,
                        category.as_str().into(),
                        name.as_str().into(),
                        meta.as_str().into(),
                        proxy,
                    )
                }
                Registration::Web { path } => {
                    let proxy = ProxyWeb {
                        link: Arc::clone(self),
                        index: web,
                    };
                    web += 1;
                    HostApi::register_web_resource(
                        &host,
                        path.as_str().into(),
                        WebHandler_TO::from_value(proxy, TD_Opaque),
                    )
                }
            };
            if let RResult::RErr(e) = refused {
                refusal.get_or_insert(e);
            }
        }
        let _ = self.first.set(registrations);
        result?;
        if let Some(e) = refusal {
            return Err(e);
        }
        self.mark_ready();
        Ok(())
    }

    /// The runner's state, for the admin API.
    pub fn status(&self) -> Status {
        lock(&self.status).clone()
    }

    fn last_exit(&self) -> String {
        lock(&self.status)
            .last_exit
            .clone()
            .unwrap_or_else(|| "no exit status".into())
    }

    fn mark_ready(&self) {
        if let Some(conn) = lock(&self.conn).as_mut() {
            conn.ready = true;
        }
    }

    /// Registrations and the constructor's result, from the control frames of a start.
    async fn collect(
        &self,
        control: &mut mpsc::UnboundedReceiver<ToHost>,
    ) -> (Vec<Registration>, Result<(), FfiError>) {
        let mut registrations = Vec::new();
        loop {
            match control.recv().await {
                Some(ToHost::Register {
                    category,
                    name,
                    meta,
                }) => registrations.push(Registration::Callback {
                    category,
                    name,
                    meta,
                }),
                Some(ToHost::RegisterWeb { path }) => {
                    registrations.push(Registration::Web { path })
                }
                Some(ToHost::Started(result)) => {
                    return (registrations, result.map_err(Into::into))
                }
                Some(_) => {}
                None => {
                    let message = format!(
                        "the module runner died while the module started ({})",
                        self.last_exit()
                    );
                    return (registrations, Err(module_error(message)));
                }
            }
        }
    }

    /// Start a runner process and connect to it; its control frames come out of the
    /// returned receiver. Errors: it could not be started or did not connect.
    async fn launch(
        self: &Arc<Self>,
        generation: u64,
    ) -> Result<mpsc::UnboundedReceiver<ToHost>, String> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let socket = socket_dir()?.join(format!("{}.sock", NEXT.fetch_add(1, Ordering::Relaxed)));
        let listener = tokio::net::UnixListener::bind(&socket)
            .map_err(|e| format!("cannot listen on {}: {e}", socket.display()))?;
        let runner = runner_path();
        let mut command = tokio::process::Command::new(&runner);
        command
            .arg(&socket)
            .current_dir(&self.spec.files_dir)
            .stdout(std::process::Stdio::null())
            // Its stderr reaches the log as records of the module, never the server's own
            // stream (where a module could forge lines).
            .stderr(std::process::Stdio::piped());
        if self.spec.sandbox {
            command.arg("--sandbox").arg(&self.spec.files_dir);
        }
        let mut child = command
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", runner.display()))?;
        let pid = child.id().unwrap_or(0);
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(forward_stderr(Arc::clone(&self.spec.name), stderr));
        }
        let accepted = tokio::time::timeout(CONNECT_TIMEOUT, accept_runner(&listener, pid)).await;
        let _ = std::fs::remove_file(&socket);
        let stream = match accepted {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(format!("the module runner did not connect: {e}")),
            Err(_) => {
                let _ = child.start_kill();
                let reason = describe(child.wait().await);
                return Err(format!(
                    "the module runner did not connect within 10 s ({reason})"
                ));
            }
        };
        let (read_half, write_half) = stream.into_split();
        let incoming = Arc::new(
            Incoming::new(read_half)
                .map_err(|e| format!("cannot read the runner's socket: {e}"))?,
        );
        let (control_tx, control) = mpsc::unbounded_channel();
        lock(&self.status).pid = child.id().unwrap_or(0);
        *lock(&self.conn) = Some(Conn {
            sink: Arc::new(tokio::sync::Mutex::new(FramedWrite::new(
                write_half,
                protocol::codec(),
            ))),
            incoming: Arc::clone(&incoming),
            control: control_tx.downgrade(),
            generation,
            ready: false,
            started: Instant::now(),
        });
        tokio::spawn(Arc::clone(self).read_frames(incoming, control_tx, child, generation));
        self.send(&self.configure_frame(), false)
            .await
            .map_err(|e| e.message.into_string())?;
        Ok(control)
    }

    /// The reader task of runner connection `generation`: hand each frame from `incoming`
    /// on (control frames to `control`) until the connection ends, then reap `child`.
    async fn read_frames(
        self: Arc<Self>,
        incoming: Arc<Incoming>,
        control: mpsc::UnboundedSender<ToHost>,
        mut child: tokio::process::Child,
        generation: u64,
    ) {
        loop {
            if incoming.readable().await.is_err() {
                break;
            }
            match incoming.drain(&mut |frame| self.dispatch(frame, &control)) {
                Ok(true) => {}
                Ok(false) => break,
                // Bytes that are not a frame; other errors mean the runner is gone.
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                    self.broke_protocol(&e);
                    break;
                }
                Err(_) => break,
            }
        }
        let _ = child.start_kill();
        let status = describe(child.wait().await);
        self.died(generation, status);
    }

    fn configure_frame(&self) -> ToRunner {
        ToRunner::Configure {
            library: self.spec.library.display().to_string(),
            config_json: self.spec.config_json.clone(),
            server_name: self.spec.server_name.clone(),
            host_sdk_version: plugin_sdk::ffi::SDK_VERSION.into(),
            log_level: self.spec.log_level,
            memory_limit_bytes: self
                .spec
                .memory_limit_mb
                .map(|mb| mb.saturating_mul(1 << 20)),
            busy_poll_us: self.spec.busy_poll_us,
        }
    }

    /// Send `frame` to the runner (with `ready_only`, only once its constructor returned).
    /// Errors: the runner is down.
    async fn send(&self, frame: &ToRunner, ready_only: bool) -> Result<(), FfiError> {
        let bytes = protocol::encode(frame).map_err(|e| module_error(e.to_string()))?;
        let sink = match lock(&self.conn).as_ref() {
            Some(c) if c.ready || !ready_only => Arc::clone(&c.sink),
            _ => return Err(module_error(self.down_message())),
        };
        let sent = sink.lock().await.send(bytes).await;
        sent.map_err(|e| module_error(format!("cannot send to the module process: {e}")))
    }

    fn down_message(&self) -> String {
        let status = lock(&self.status);
        match (&status.failed, &status.last_exit) {
            (Some(reason), _) => format!("module process is down for good: {reason}"),
            (None, Some(exit)) => format!("module process is down, restarting (last exit: {exit})"),
            (None, None) => "module process is starting".into(),
        }
    }

    /// Act on one frame from the runner.
    fn dispatch(self: &Arc<Self>, frame: ToHost, control: &mpsc::UnboundedSender<ToHost>) {
        match frame {
            ToHost::Reply { id, result } => self.complete(id, Answer::Value(result)),
            ToHost::WebReply { id, result } => self.complete(id, Answer::Web(result)),
            ToHost::HostCall { id, method, args } => {
                let link = Arc::clone(self);
                tokio::spawn(async move {
                    let result = link.host_call(&method, args).await;
                    let _ = link.send(&ToRunner::HostReply { id, result }, false).await;
                });
            }
            ToHost::Log {
                level,
                target,
                message,
            } => match self.host.get() {
                Some(host) => {
                    HostApi::log(host, level, target.as_str().into(), message.as_str().into())
                }
                None => tracing::info!(module = %self.spec.name, "{message}"),
            },
            ToHost::TaskStarted { id, name } => self.mirror_task(id, &name),
            ToHost::TaskEnded { id } => {
                lock(&self.tasks).remove(&id);
            }
            other => {
                let _ = control.send(other);
            }
        }
    }

    /// Record the runner's background task `id`, `name`, in the server's list of module
    /// tasks (the admin API's `background_tasks`; stopped and named at shutdown).
    fn mirror_task(&self, id: u64, name: &str) {
        let Some(host) = self.host.get() else {
            return;
        };
        let (ended, wait) = oneshot::channel::<()>();
        lock(&self.tasks).insert(id, ended);
        let shared = &host.shared;
        shared
            .tasks
            .spawn(&shared.runtime, &host.name, name, async move {
                let _ = wait.await;
            });
    }

    fn complete(&self, id: u64, answer: Answer) {
        self.abandoned.store(0, Ordering::Relaxed);
        if let Some(waiter) = lock(&self.pending).remove(&id) {
            let _ = waiter.send(answer);
        }
    }

    /// Answer the module's host call `method` through the server's module API.
    async fn host_call(&self, method: &str, args: Vec<Value>) -> Result<Value, Error> {
        let Some(host) = self.host.get() else {
            return Err(FfiError::new(ErrorKind::REFUSED, "the module has not started").into());
        };
        let owned: Vec<FfiValue> = args.into_iter().map(FfiValue::from).collect();
        let future = {
            let borrowed: Vec<FfiArg<'_>> = owned.iter().map(FfiValue::as_arg).collect();
            HostApi::call(host, method.into(), RSlice::from_slice(&borrowed))
        };
        match future.await {
            RResult::ROk(v) => Ok(Value::from(&v)),
            RResult::RErr(e) => Err(e.into()),
        }
    }

    /// Send the request `make(id)` and wait for its answer (at most `max_concurrent_calls`
    /// at once). Errors: the runner is down, or died before answering.
    async fn request(
        self: &Arc<Self>,
        make: impl FnOnce(u64) -> ToRunner,
    ) -> Result<Answer, FfiError> {
        let _permit = match &self.limit {
            Some(limit) => Some(
                limit
                    .acquire()
                    .await
                    .map_err(|e| module_error(e.to_string()))?,
            ),
            None => None,
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id, tx);
        // Forget the waiter however this ends (a call abandoned at its time limit included).
        let _forget = Forget { link: self, id };
        self.send(&make(id), true).await?;
        let mut rx = rx;
        let spin = self.spec.busy_poll_us > 0
            && self
                .spinning
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok();
        if spin {
            // Cleared however the spin ends (a panic included), or spinning stops for good.
            let _spun = ClearOnDrop(&self.spinning);
            if let Some(answer) = self.spin_for(&mut rx) {
                return answer;
            }
        }
        rx.await.map_err(|_| module_error(self.down_message()))
    }

    /// `busy_poll_us:` — read the runner's frames here, without sleeping, until the answer
    /// for `rx` is among them or the time is up (`None`: wait as usual).
    fn spin_for(
        self: &Arc<Self>,
        rx: &mut oneshot::Receiver<Answer>,
    ) -> Option<Result<Answer, FfiError>> {
        let (incoming, control) = {
            let conn = lock(&self.conn);
            let conn = conn.as_ref()?;
            (Arc::clone(&conn.incoming), conn.control.upgrade()?)
        };
        let deadline = Instant::now() + Duration::from_micros(self.spec.busy_poll_us.into());
        while Instant::now() < deadline {
            match rx.try_recv() {
                Ok(answer) => return Some(Ok(answer)),
                Err(oneshot::error::TryRecvError::Closed) => {
                    return Some(Err(module_error(self.down_message())))
                }
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            match incoming.drain_now(deadline, &mut |frame| self.dispatch(frame, &control)) {
                Ok((true, 0)) => std::hint::spin_loop(),
                // Frames for other calls: the tasks they woke wait on this thread, so stop
                // spinning once the own answer is not among them.
                Ok((true, _)) => return rx.try_recv().ok().map(Ok),
                Ok((false, _)) => return None,
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                    self.broke_protocol(&e);
                    return None;
                }
                Err(_) => return None,
            }
        }
        None
    }

    /// The runner sent bytes that are not a frame of the protocol: log it and kill the
    /// process (its death restarts it).
    fn broke_protocol(&self, error: &std::io::Error) {
        let pid = lock(&self.status).pid;
        tracing::error!(module = %self.spec.name, pid, "isolated module process broke the protocol ({error}); killing it");
        if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

/// Clears its flag when dropped.
struct ClearOnDrop<'a>(&'a AtomicBool);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// A folder for this server's runner sockets, made once with a random name and mode 0700
/// (so no other local user can take or block a socket's name). Errors: it cannot be made.
fn socket_dir() -> Result<PathBuf, String> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        use std::os::unix::fs::DirBuilderExt as _;
        let name = format!(
            "modhost-{}-{}",
            std::process::id(),
            crate::service::session::random_string(12)
        );
        let dir = std::env::temp_dir().join(name);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map(|()| dir.clone())
            .map_err(|e| format!("cannot make {}: {e}", dir.display()))
    })
    .clone()
}

/// Log each line the runner of `module` writes to its stderr (a panic message, a failed
/// allocation), at warn level, as the module's.
async fn forward_stderr(module: Arc<str>, stderr: tokio::process::ChildStderr) {
    use tokio::io::AsyncBufReadExt as _;
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line: String = line.chars().take(4096).collect();
        tracing::warn!(module = %module, "module runner: {line}");
    }
}

/// Accept the runner's connection on `listener`: the one from process `pid` (the kernel
/// says who connected), so another local process that finds the socket first cannot pose
/// as the module and reach the module API. Others are closed, with a warning.
async fn accept_runner(
    listener: &tokio::net::UnixListener,
    pid: u32,
) -> std::io::Result<UnixStream> {
    loop {
        let (stream, _) = listener.accept().await?;
        let peer = stream.peer_cred().ok().and_then(|c| c.pid());
        if peer == Some(pid as i32) {
            return Ok(stream);
        }
        tracing::warn!(
            ?peer,
            runner = pid,
            "refused a connection to a module runner socket from another process"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_runner_process_is_accepted() {
        let dir = std::env::temp_dir().join(format!("modhost-accept-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("runner.sock");
        let _ = std::fs::remove_file(&path);
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        // An impostor (this process) connects first; the "runner" is a child process.
        let _impostor = UnixStream::connect(&path).await.unwrap();
        let script = "import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(5)";
        let mut runner = std::process::Command::new("python3")
            .args(["-c", script])
            .arg(&path)
            .spawn()
            .unwrap();
        let accepted = tokio::time::timeout(CONNECT_TIMEOUT, accept_runner(&listener, runner.id()))
            .await
            .expect("accepted in time")
            .unwrap();
        let peer = accepted.peer_cred().unwrap().pid();
        let _ = runner.kill();
        let _ = runner.wait();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(peer, Some(runner.id() as i32));
    }
}
