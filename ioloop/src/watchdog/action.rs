//! [`BlockingAction`]: what the watchdog does with a [`BlockingReport`].

use std::fmt;
use std::sync::Arc;

use crate::watchdog::LOG_TARGET;
use crate::watchdog::report::BlockingReport;

/// What the blocking watchdog does when a callback runs longer than the
/// threshold: the `action` of
/// [`IOLoop::set_blocking_signal_threshold`](crate::IOLoop::set_blocking_signal_threshold).
///
/// Every action runs on the watchdog thread, while the loop is still
/// blocked, and is given the [`BlockingReport`]. The watchdog thread serves
/// every loop of the process: an action should be quick (hand the report
/// to a channel rather than do I/O that can stall). A panic in an action is
/// caught and logged; the watchdog goes on.
///
/// # Tornado
///
/// Tornado's `set_blocking_signal_threshold(seconds, action)` calls
/// `action(signal, frame)`; `set_blocking_log_threshold` is the same with
/// `log_stack` ([`Log`](BlockingAction::Log) here); and `action=None`
/// restores `SIGALRM`'s default disposition, so the process is killed
/// ([`Abort`](BlockingAction::Abort) here, which logs the report first).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ioloop::{BlockingAction, IOLoop};
///
/// let ioloop = IOLoop::new()?;
/// // Count blocked callbacks in a metric instead of logging them.
/// let blocked = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
/// let b = blocked.clone();
/// ioloop.set_blocking_signal_threshold(
///     Some(Duration::from_millis(200)),
///     BlockingAction::custom(move |report| {
///         if report.number() == 1 {
///             b.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///         }
///     }),
/// )?;
/// // In a supervised service, a loop blocked for 30 s is better restarted
/// // (with a core dump to look at):
/// ioloop.set_blocking_signal_threshold(Some(Duration::from_secs(30)), BlockingAction::Abort)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum BlockingAction {
    /// Log the report with `log::warn!` (target `ioloop::watchdog`):
    /// Tornado's `log_stack`, what
    /// [`set_blocking_log_threshold`](crate::IOLoop::set_blocking_log_threshold)
    /// uses.
    #[default]
    Log,
    /// Log the report with `log::error!` (and print it to standard error
    /// if no logger takes it), then end the process with
    /// [`std::process::abort`]: the equivalent of Tornado's `action=None`.
    /// The resulting `SIGABRT` leaves a core dump, where enabled, holding
    /// the blocked loop thread's stack.
    Abort,
    /// Call this function; build it with [`BlockingAction::custom`].
    Custom(Arc<dyn Fn(&BlockingReport) + Send + Sync>),
}

impl BlockingAction {
    /// An action that calls `f` with each report, on the watchdog thread.
    pub fn custom<F>(f: F) -> BlockingAction
    where
        F: Fn(&BlockingReport) + Send + Sync + 'static,
    {
        BlockingAction::Custom(Arc::new(f))
    }

    /// Runs the action (on the watchdog thread).
    pub(crate) fn run(&self, report: &BlockingReport) {
        match self {
            BlockingAction::Log => log::warn!(target: LOG_TARGET, "{report}"),
            BlockingAction::Abort => {
                if log::log_enabled!(target: LOG_TARGET, log::Level::Error) {
                    log::error!(target: LOG_TARGET, "{report}; aborting (BlockingAction::Abort)");
                    log::logger().flush();
                } else {
                    eprintln!("{report}; aborting (BlockingAction::Abort)");
                }
                std::process::abort();
            }
            BlockingAction::Custom(f) => f(report),
        }
    }
}

impl fmt::Debug for BlockingAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockingAction::Log => f.write_str("Log"),
            BlockingAction::Abort => f.write_str("Abort"),
            BlockingAction::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}
