//! The runner's reader threads: how calls from the server reach module code fast without
//! one blocking call holding up the others.
//!
//! One thread reads the socket, sleeping in the kernel until a frame arrives (or spinning
//! first, for `busy_poll_us`), then runs the call it read right there — polls the module's
//! future once — and writes the answer itself. A call that completes in that poll (most
//! callbacks) crosses with one wake-up on this side and no hand-off between threads. A call
//! that is still pending after it (waiting on a host call, a timer) moves to the runtime,
//! which finishes it, and the thread goes back to reading.
//!
//! Module code that blocks its thread inside that poll would stop the reading, so a
//! watchdog (the process's main thread) looks every [`TICK`]: once every reader thread has
//! been inside module code for [`STALL`], it starts another reader (up to [`MAX_READERS`])
//! and looks again 1 ms later, so a burst of blocking calls gets a reader each within a few
//! ms. A reader that comes back from a call while another one is free ends, so the threads
//! shrink back to one. The watchdog sleeps for good while no call comes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::frames::FrameReader;
use super::protocol::{self, ToHost, ToRunner};
use super::runner::RunnerHost;
use crate::loader::LoadedLibrary;

/// How often the watchdog looks for readers that are all stuck in module code.
const TICK: Duration = Duration::from_millis(5);

/// How long every reader must have been in module code before another one starts.
const STALL: Duration = Duration::from_millis(2);

/// The most reader threads at once (each beyond the first is held by a blocking call).
const MAX_READERS: usize = 128;

/// Reader threads: how many there are, and how many are not inside a call.
struct Counts {
    threads: usize,
    free: usize,
}

/// The reading side of a started runner.
pub(super) struct Readers {
    host: RunnerHost,
    reader: Mutex<FrameReader>,
    spin: Duration,
    counts: Mutex<Counts>,
    /// Calls started so far (the watchdog's sign of activity).
    started: AtomicU64,
    /// When the last free reader entered module code, in ns after `epoch` (0: a reader is
    /// free).
    all_busy_since: AtomicU64,
    epoch: std::time::Instant,
    /// The watchdog sleeps until a call starts.
    parked: AtomicBool,
    watchdog: OnceLock<std::thread::Thread>,
    library: LoadedLibrary,
    handle: u64,
    /// Runs the calls that do not finish in their first poll (and the module's tasks).
    _runtime: tokio::runtime::Runtime,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Readers {
    /// Serve the server's frames from `reader` for the module in `library` (its
    /// configuration `handle`), each read spinning up to `spin` before sleeping; calls that
    /// wait go to `runtime`. Returns only if the first reader thread cannot be made; the
    /// process ends when the server closes the connection.
    pub(super) fn run(
        host: RunnerHost,
        reader: FrameReader,
        spin: Duration,
        library: LoadedLibrary,
        handle: u64,
        runtime: tokio::runtime::Runtime,
    ) -> Result<(), String> {
        let readers = Arc::new(Readers {
            host,
            reader: Mutex::new(reader),
            spin,
            counts: Mutex::new(Counts {
                threads: 0,
                free: 0,
            }),
            started: AtomicU64::new(0),
            all_busy_since: AtomicU64::new(0),
            epoch: std::time::Instant::now(),
            parked: AtomicBool::new(false),
            watchdog: OnceLock::new(),
            library,
            handle,
            _runtime: runtime,
        });
        let _ = readers.watchdog.set(std::thread::current());
        if !readers.add_reader() {
            return Err("cannot start a reader thread".into());
        }
        readers.watch()
    }

    /// Start one more reader thread; false when it could not be made.
    fn add_reader(self: &Arc<Self>) -> bool {
        {
            let mut counts = lock(&self.counts);
            if counts.threads >= MAX_READERS {
                return false;
            }
            counts.threads += 1;
            counts.free += 1;
            self.all_busy_since.store(0, SeqCst);
        }
        let readers = Arc::clone(self);
        let made = std::thread::Builder::new()
            .name("module-reader".into())
            .spawn(move || readers.read_loop());
        if made.is_err() {
            let mut counts = lock(&self.counts);
            counts.threads -= 1;
            counts.free -= 1;
            if counts.free == 0 {
                // Still stalled: the watchdog tries again instead of parking.
                self.all_busy_since.store(self.nanos(), SeqCst);
            }
        }
        made.is_ok()
    }

    /// The watchdog (see the module's docs). Never returns.
    fn watch(self: &Arc<Self>) -> ! {
        let mut last = self.started.load(SeqCst);
        let mut wait = TICK;
        loop {
            std::thread::sleep(wait);
            wait = TICK;
            let since = self.all_busy_since.load(SeqCst);
            if since != 0 {
                let busy = Duration::from_nanos(self.nanos().saturating_sub(since));
                if busy < STALL {
                    wait = STALL - busy;
                } else if self.add_reader() {
                    wait = Duration::from_millis(1);
                }
                continue;
            }
            let now = self.started.load(SeqCst);
            if now == last {
                self.parked.store(true, SeqCst);
                // A call that started after `now` was read wakes us (see `begin`).
                if self.started.load(SeqCst) == now {
                    std::thread::park();
                }
                self.parked.store(false, SeqCst);
            }
            last = self.started.load(SeqCst);
        }
    }

    /// Now, in ns after `epoch` (at least 1).
    fn nanos(&self) -> u64 {
        (self.epoch.elapsed().as_nanos() as u64).max(1)
    }

    /// A reader thread: read a frame, act on it, until the connection closes (then the
    /// process ends) or this thread is one too many.
    fn read_loop(self: Arc<Self>) {
        let _entered = self.host.runtime.enter();
        loop {
            // Decoded in place, under the lock: a large request is not copied first.
            let read = lock(&self.reader)
                .next(self.spin)
                .map(|bytes| bytes.map(protocol::decode::<ToRunner>));
            let frame = match read {
                Ok(Some(Ok(frame))) => frame,
                Ok(None) => std::process::exit(0),
                Ok(Some(Err(e))) => {
                    eprintln!("modhost-module-runner: a frame from the server did not decode: {e}");
                    std::process::exit(1)
                }
                Err(e) => {
                    eprintln!("modhost-module-runner: reading from the server: {e}");
                    std::process::exit(1)
                }
            };
            match frame {
                ToRunner::HostReply { id, result } => self.host.deliver(id, result),
                ToRunner::Configure { .. } => {}
                ToRunner::Start => {
                    self.begin();
                    if !contain(|| self.host.start(&self.library, self.handle)) {
                        let message = "the module runner failed while the module started";
                        let error = plugin_sdk::ffi::FfiError::new(
                            plugin_sdk::ffi::ErrorKind::MODULE,
                            message,
                        );
                        self.host.send(&ToHost::Started(Err(error.into())));
                    }
                    if !self.end() {
                        return;
                    }
                }
                call => {
                    self.begin();
                    contain(|| self.run_call(call));
                    if !self.end() {
                        return;
                    }
                }
            }
        }
    }

    /// A reader enters module code.
    fn begin(&self) {
        {
            let mut counts = lock(&self.counts);
            counts.free -= 1;
            if counts.free == 0 {
                self.all_busy_since.store(self.nanos(), SeqCst);
            }
        }
        self.started.fetch_add(1, SeqCst);
        if self.parked.load(SeqCst) {
            if let Some(watchdog) = self.watchdog.get() {
                watchdog.unpark();
            }
        }
    }

    /// A reader left module code: whether it goes on reading (false: another reader is
    /// free, so this thread ends).
    fn end(&self) -> bool {
        let mut counts = lock(&self.counts);
        if counts.free >= 1 {
            counts.threads -= 1;
            return false;
        }
        counts.free += 1;
        self.all_busy_since.store(0, SeqCst);
        true
    }

    /// Run the call `frame`: poll it once here; if it is not done, the runtime finishes it.
    /// Whoever finishes it writes the answer.
    fn run_call(&self, frame: ToRunner) {
        let Some(mut answer) = self.host.answer(frame) else {
            return;
        };
        // No waker is needed for the first poll: a call still pending is spawned, and the
        // runtime polls it again with its own.
        let mut cx = Context::from_waker(Waker::noop());
        match answer.as_mut().poll(&mut cx) {
            Poll::Ready(reply) => self.host.send(&reply),
            Poll::Pending => {
                let host = self.host.clone();
                self.host.runtime.spawn(async move {
                    let reply = answer.await;
                    host.send(&reply);
                });
            }
        }
    }
}

/// Run `f`; a panic in it (a bug of the runner: the SDK keeps module panics inside the
/// module) is reported on stderr, which the server logs, and leaves the reader counts right.
/// The call it served goes unanswered and meets its time limit on the server's side.
/// Returns whether `f` ended without a panic.
fn contain(f: impl FnOnce()) -> bool {
    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_ok();
    if !ok {
        eprintln!("modhost-module-runner: a reader thread recovered from a panic");
    }
    ok
}
