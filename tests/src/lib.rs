//! Helpers shared by the integration test binaries in `tests/`: a loop
//! whose callback panics fail the test, running a loop under a safety net,
//! and capturing `log` records.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use ioloop::IOLoop;

mod test_loop;

pub use test_loop::TestLoop;

/// Runs `ioloop` until it stops, failing the test if it is still running
/// after `limit` (a safety net, not a timing assertion).
pub fn run_for_at_most(ioloop: &IOLoop, limit: Duration) {
    with_time_limit(ioloop, limit, || ioloop.start()).expect("start");
}

/// Calls `run`, which runs `ioloop` in any way (`start`, `run`,
/// `run_forever`, `run_once`, `run_sync`), and fails the test if the loop
/// was still running after `limit`: then an unreferenced timeout stops it,
/// so a bug gives a fast failure instead of a hang. Being unreferenced, the
/// timeout does not keep [`IOLoop::run`] going.
///
/// # Panics
///
/// If the time limit was reached.
pub fn with_time_limit<T>(ioloop: &IOLoop, limit: Duration, run: impl FnOnce() -> T) -> T {
    let timed_out = Rc::new(Cell::new(false));
    let (t, l) = (timed_out.clone(), ioloop.downgrade());
    let guard = ioloop.call_later(limit, move || {
        t.set(true);
        if let Some(l) = l.upgrade() {
            l.stop();
        }
    });
    ioloop.set_timeout_ref(guard, false);
    let out = run();
    ioloop.remove_timeout(guard);
    assert!(
        !timed_out.get(),
        "the loop was still running after {limit:?}"
    );
    out
}

/// A process-wide `log` logger that keeps every record, with the thread
/// that logged it, so tests running in parallel can pick their own.
pub mod logs {
    use std::sync::{Mutex, OnceLock, PoisonError};
    use std::thread::{self, ThreadId};

    /// One captured record.
    #[derive(Debug, Clone)]
    pub struct Record {
        /// The thread that logged it.
        pub thread: ThreadId,
        /// The record's target.
        pub target: String,
        /// The record's level.
        pub level: log::Level,
        /// The formatted message.
        pub message: String,
    }

    struct CaptureLogger {
        records: Mutex<Vec<Record>>,
    }

    impl log::Log for CaptureLogger {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            self.records
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Record {
                    thread: thread::current().id(),
                    target: record.target().to_owned(),
                    level: record.level(),
                    message: record.args().to_string(),
                });
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

    /// Starts capturing log records, every level (idempotent).
    ///
    /// # Panics
    ///
    /// If another logger is already installed in the process.
    pub fn capture() {
        logger();
    }

    /// The messages of the records captured so far that `keep` selects.
    pub fn messages(keep: impl Fn(&Record) -> bool) -> Vec<String> {
        logger()
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|r| keep(r))
            .map(|r| r.message.clone())
            .collect()
    }
}
