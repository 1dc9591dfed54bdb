//! [`BlockingAction`]: what the watchdog does with a [`BlockingReport`].

use std::fmt;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use crate::watchdog::LOG_TARGET;
use crate::watchdog::report::BlockingReport;
use crate::watchdog::symbolize::{Job, Symbolizer, Then};

/// How long [`BlockingAction::Abort`] waits for the stack's symbols
/// before it aborts anyway.
const SYMBOLS_BEFORE_ABORT: Duration = Duration::from_secs(5);

/// What the blocking watchdog does when a callback runs longer than the
/// threshold: the `action` of
/// [`IOLoop::set_blocking_signal_threshold`](crate::IOLoop::set_blocking_signal_threshold).
///
/// # Semantics
///
/// [`Log`](BlockingAction::Log) and [`Abort`](BlockingAction::Abort) log
/// the report at once, while the loop is still blocked, with the stack as
/// raw frames (object and offset); the symbolised stack follows as a
/// second record when it is ready (see [`BlockingReport`]'s
/// `# Semantics`). A [`Custom`](BlockingAction::Custom) function is called
/// once per report, with the symbolised report, on the watchdog's
/// symbolisation thread: in a large debug build the first one comes a
/// second or so after the threshold, later ones within milliseconds. That
/// thread serves every loop of the process, one report after the other:
/// an action should be quick (hand the report to a channel rather than do
/// I/O that can stall); a slow one delays the reports after it, never the
/// watchdog's looks at the loops. A panic in an action is caught and
/// logged; the watchdog goes on.
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
    /// Log the report with `log::warn!` (target `ioloop::watchdog`) at
    /// once, then its symbolised stack as a second record with the same
    /// `[blocked callback N, report M]` tag: Tornado's `log_stack`, what
    /// [`set_blocking_log_threshold`](crate::IOLoop::set_blocking_log_threshold)
    /// uses. If the process ends before the stack is symbolised, the first
    /// record, already logged, is what remains.
    #[default]
    Log,
    /// Log the report with `log::error!` (and print it to standard error
    /// if no logger takes it) and flush the logger, then the symbolised
    /// stack as a second record if it is ready within 5 s, then end the
    /// process with [`std::process::abort`]: the equivalent of Tornado's
    /// `action=None`.
    /// The resulting `SIGABRT` leaves a core dump, where enabled, holding
    /// the blocked loop thread's stack.
    Abort,
    /// Call this function; build it with [`BlockingAction::custom`].
    Custom(Arc<dyn Fn(&BlockingReport) + Send + Sync>),
}

impl BlockingAction {
    /// An action that calls `f` once per report, with its stack
    /// symbolised, on the watchdog's symbolisation thread (see the
    /// `# Semantics` above).
    pub fn custom<F>(f: F) -> BlockingAction
    where
        F: Fn(&BlockingReport) + Send + Sync + 'static,
    {
        BlockingAction::Custom(Arc::new(f))
    }

    /// Runs the action on the watchdog thread: logs at once what needs
    /// no symbols, hands the rest to the symbolisation thread.
    pub(crate) fn run(
        &self,
        report: BlockingReport,
        symbols: &Symbolizer,
        still_watched: Box<dyn Fn() -> bool + Send>,
    ) {
        match self {
            BlockingAction::Log => {
                log::warn!(target: LOG_TARGET, "{report}");
                // Out before the process can end, whatever the logger buffers.
                log::logger().flush();
                if !report.symbolized {
                    symbols.submit(Job {
                        report,
                        then: Then::Log,
                    });
                }
            }
            BlockingAction::Abort => {
                say_before_abort(format_args!("{report}; aborting (BlockingAction::Abort)"));
                if !report.symbolized {
                    let (reply, symbolized) = mpsc::sync_channel(1);
                    symbols.submit(Job {
                        report,
                        then: Then::Reply(reply),
                    });
                    if let Ok(report) = symbolized.recv_timeout(SYMBOLS_BEFORE_ABORT) {
                        say_before_abort(format_args!("{}", report.symbolized_stack()));
                    }
                }
                std::process::abort();
            }
            BlockingAction::Custom(f) => symbols.submit(Job {
                report,
                then: Then::Call(f.clone(), still_watched),
            }),
        }
    }
}

/// Logs `message` as an error and flushes the logger, or prints it to
/// standard error if no logger takes it.
fn say_before_abort(message: fmt::Arguments<'_>) {
    if log::log_enabled!(target: LOG_TARGET, log::Level::Error) {
        log::error!(target: LOG_TARGET, "{message}");
        log::logger().flush();
    } else {
        eprintln!("{message}");
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
