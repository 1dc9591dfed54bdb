//! Shared helpers for the ioloop integration tests.

use std::cell::RefCell;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::{self, ThreadId};
use std::time::Duration;

use ioloop::IOLoop;

/// Runs `ioloop` until it stops, failing the test if it is still running
/// after `limit` (a safety net, not a timing assertion).
pub(crate) fn run_for_at_most(ioloop: &IOLoop, limit: Duration) {
    let timed_out = Rc::new(RefCell::new(false));
    let (t, l) = (timed_out.clone(), ioloop.clone());
    let guard = ioloop.call_later(limit, move || {
        *t.borrow_mut() = true;
        l.stop();
    });
    ioloop.start().expect("start");
    ioloop.remove_timeout(guard);
    assert!(
        !*timed_out.borrow(),
        "the loop was still running after {limit:?}"
    );
}

/// `run_for_at_most` with a generous 10 s limit.
pub(crate) fn run(ioloop: &IOLoop) {
    run_for_at_most(ioloop, Duration::from_secs(10));
}

/// A shared, ordered record of what ran.
#[derive(Clone, Default)]
pub(crate) struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    pub(crate) fn push(&self, entry: impl Into<String>) {
        self.0.borrow_mut().push(entry.into());
    }
    pub(crate) fn entries(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
}

/// A non-blocking Unix socket pair.
pub(crate) fn socketpair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().expect("socketpair");
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

/// A socket pair whose second end has `data` waiting to be read.
pub(crate) fn readable_pair(data: &[u8]) -> (UnixStream, UnixStream) {
    let (mut a, b) = socketpair();
    a.write_all(data).unwrap();
    (a, b)
}

/// True if `fd` is open.
pub(crate) fn fd_is_open(fd: i32) -> bool {
    std::fs::metadata(format!("/proc/self/fd/{fd}")).is_ok()
}

/// Serialises the tests that touch process-wide state (the instance,
/// descriptor counts).
pub(crate) fn global_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A `log` logger that keeps the records of each thread, so tests running
/// in parallel each see their own.
pub(crate) struct CaptureLogger {
    records: Mutex<Vec<(ThreadId, log::Level, String)>>,
}

impl log::Log for CaptureLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((
                thread::current().id(),
                record.level(),
                record.args().to_string(),
            ));
    }
    fn flush(&self) {}
}

fn logger() -> &'static CaptureLogger {
    static LOGGER: OnceLock<&'static CaptureLogger> = OnceLock::new();
    LOGGER.get_or_init(|| {
        let logger: &'static CaptureLogger = Box::leak(Box::new(CaptureLogger {
            records: Mutex::new(Vec::new()),
        }));
        log::set_logger(logger).expect("no other logger in this test binary");
        log::set_max_level(log::LevelFilter::Trace);
        logger
    })
}

/// Starts capturing log records (idempotent).
pub(crate) fn capture_logs() {
    logger();
}

/// The records this thread logged at `level`.
pub(crate) fn logged(level: log::Level) -> Vec<String> {
    let me = thread::current().id();
    logger()
        .records
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|(t, l, _)| *t == me && *l == level)
        .map(|(_, _, m)| m.clone())
        .collect()
}

#[allow(unsafe_code)]
pub(crate) mod sys {
    //! The tests' few raw system calls.

    /// The calling thread's pthread id.
    pub(crate) fn pthread_self() -> libc::pthread_t {
        // SAFETY: pthread_self has no preconditions and cannot fail.
        unsafe { libc::pthread_self() }
    }

    /// Sends `signal` to the thread `thread` (which must still be alive).
    pub(crate) fn pthread_kill(thread: libc::pthread_t, signal: i32) -> i32 {
        // SAFETY: the callers pass the id of a thread that is blocked in
        // IOLoop::start and joined only after this call returns.
        unsafe { libc::pthread_kill(thread, signal) }
    }
}
