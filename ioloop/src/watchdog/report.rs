//! What the watchdog says about a blocked loop: [`BlockingReport`], with the
//! loop thread's stack as [`StackCapture`] and [`StackFrame`]s.

use std::fmt;
use std::panic::Location;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::exception::CallbackKind;

/// A loop blocked by one callback, timeout or handler for longer than the
/// threshold, as the blocking watchdog saw it: given to the
/// [`BlockingAction`](crate::BlockingAction) on the watchdog thread while
/// the loop is still blocked.
///
/// Its `Display` is the text the default action logs: how long, what,
/// where it was registered, which thread, and the loop thread's stack.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use std::time::{Duration, Instant};
/// use ioloop::{BlockingAction, IOLoop};
///
/// let ioloop = IOLoop::new()?;
/// let (tx, rx) = mpsc::sync_channel(4);
/// ioloop.set_blocking_signal_threshold(
///     Some(Duration::from_millis(50)),
///     BlockingAction::custom(move |report| {
///         let _ = tx.try_send(report.clone());
///     }),
/// )?;
/// let l = ioloop.clone();
/// ioloop.add_callback(move || {
///     // Blocks the loop until the watchdog has reported it (at most 10 s).
///     let start = Instant::now();
///     while start.elapsed() < Duration::from_secs(10) {
///         if let Ok(report) = rx.try_recv() {
///             assert!(report.blocked_for() >= Duration::from_millis(50));
///             println!("{report}");
///             break;
///         }
///         std::hint::spin_loop();
///     }
///     l.stop();
/// });
/// ioloop.start()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct BlockingReport {
    pub(crate) blocked_for: Duration,
    pub(crate) threshold: Duration,
    pub(crate) number: u32,
    pub(crate) kind: Option<CallbackKind>,
    pub(crate) site: &'static Location<'static>,
    pub(crate) thread_name: Option<String>,
    pub(crate) thread_id: Option<i64>,
    pub(crate) stack: StackCapture,
}

impl BlockingReport {
    /// How long the callback has been running, at least.
    ///
    /// The watchdog samples the loop every quarter threshold, so this is a
    /// lower bound, short of the truth by at most that period.
    pub fn blocked_for(&self) -> Duration {
        self.blocked_for
    }

    /// The threshold that was exceeded.
    pub fn threshold(&self) -> Duration {
        self.threshold
    }

    /// 1 for the first report about this callback, 2 for the second, and
    /// so on: a callback still running is reported again each time its
    /// running time has doubled since the previous report (after about 1,
    /// 2, 4, 8... thresholds).
    pub fn number(&self) -> u32 {
        self.number
    }

    /// What is running: a callback, a timeout, a handler (with its fd and
    /// events)... `None` for a kind this version of the watchdog cannot
    /// publish.
    pub fn kind(&self) -> Option<CallbackKind> {
        self.kind
    }

    /// Where the running callback, timeout or handler was registered (the
    /// caller of `add_callback`, `add_timeout`, `add_handler`...).
    pub fn site(&self) -> &'static Location<'static> {
        self.site
    }

    /// The loop thread's name, if it has one.
    pub fn thread_name(&self) -> Option<&str> {
        self.thread_name.as_deref()
    }

    /// The loop thread's operating-system id (the Linux tid, as `top -H`
    /// and `gdb` show it), where the platform has one.
    pub fn thread_id(&self) -> Option<i64> {
        self.thread_id
    }

    /// The loop thread's stack while it was blocked, or why there is none.
    pub fn stack(&self) -> &StackCapture {
        &self.stack
    }

    /// The frames of the loop thread's stack, innermost first; empty when
    /// the stack was not captured.
    pub fn frames(&self) -> &[StackFrame] {
        match &self.stack {
            StackCapture::Captured(frames) => frames,
            StackCapture::Unavailable(_) => &[],
        }
    }
}

impl fmt::Display for BlockingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ioloop blocked for at least {} ms (threshold {} ms) by ",
            self.blocked_for.as_millis(),
            self.threshold.as_millis(),
        )?;
        match self.kind {
            Some(kind) => write!(f, "a {kind}")?,
            None => f.write_str("code")?,
        }
        write!(f, " registered at {}, on ", self.site)?;
        match &self.thread_name {
            Some(name) => write!(f, "thread {name:?}")?,
            None => f.write_str("an unnamed thread")?,
        }
        if let Some(id) = self.thread_id {
            write!(f, " (tid {id})")?;
        }
        if self.number > 1 {
            write!(
                f,
                "; still blocked, report {} for this callback",
                self.number
            )?;
        }
        match &self.stack {
            StackCapture::Captured(frames) => {
                f.write_str("; loop thread stack:")?;
                for (i, frame) in frames.iter().enumerate() {
                    write!(f, "\n{i:4}: {frame}")?;
                }
                Ok(())
            }
            StackCapture::Unavailable(reason) => write!(f, "; no stack: {reason}"),
        }
    }
}

/// The loop thread's stack in a [`BlockingReport`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum StackCapture {
    /// The frames, innermost first, from the function the loop thread was
    /// running when the watchdog's signal interrupted it. An inlined call
    /// is a frame of its own, with the same instruction pointer as its
    /// caller.
    Captured(Vec<StackFrame>),
    /// No stack, and why: the platform has no stack capture, it is
    /// disabled, the signal is blocked on the loop thread, the callback
    /// returned before the capture, or the capture was skipped because it
    /// could not be done safely (the loop thread was on another stack).
    Unavailable(String),
}

/// One frame of a captured stack, symbolised on the watchdog thread.
///
/// Names come from the binary's symbol table, and files and lines from its
/// debug information when it has some: a release build without debug
/// information still names its functions, except those inlined away (mark
/// a function `#[inline(never)]` to keep it visible).
#[derive(Clone, Debug)]
pub struct StackFrame {
    pub(crate) ip: usize,
    pub(crate) name: Option<String>,
    pub(crate) file: Option<PathBuf>,
    pub(crate) line: Option<u32>,
}

impl StackFrame {
    /// The instruction pointer (a return address, except for the innermost
    /// frame).
    pub fn ip(&self) -> usize {
        self.ip
    }

    /// The demangled function name, without its hash, if known.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The source file, if the binary has debug information.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The source line, if the binary has debug information.
    pub fn line(&self) -> Option<u32> {
        self.line
    }
}

impl fmt::Display for StackFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => f.write_str(name)?,
            None => write!(f, "<unknown> at {:#x}", self.ip)?,
        }
        if let Some(file) = &self.file {
            write!(f, "\n             at {}", file.display())?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
        }
        Ok(())
    }
}
