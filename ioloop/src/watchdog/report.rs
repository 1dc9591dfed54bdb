//! What the watchdog says about a blocked loop: [`BlockingReport`], with the
//! loop thread's stack as [`StackCapture`] and [`StackFrame`]s.

use std::fmt;
use std::panic::Location;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::core::exception::CallbackKind;

/// A loop blocked by one callback, timeout or handler for longer than the
/// threshold, as the blocking watchdog saw it while the loop was blocked:
/// what the [`BlockingAction`](crate::BlockingAction) is given.
///
/// Its `Display` is the text the default action logs: how long, what,
/// where it was registered, which thread, and the loop thread's stack.
///
/// # Semantics
///
/// A report is made in two steps, so that what is known is never held
/// back by what takes time:
///
/// 1. At once, on the watchdog thread: the callback, its registration
///    site, how long it has run, the thread, and the stack as raw frames
///    (each one's object and offset, `blocking+0x1a2b3`, which cost
///    nothing to compute). [`BlockingAction::Log`](crate::BlockingAction::Log)
///    and [`BlockingAction::Abort`](crate::BlockingAction::Abort) log this
///    record right away, while the callback still runs.
/// 2. Then, on a symbolisation thread of the watchdog: the frames'
///    function names, files and lines, read from the binary's debug
///    information (the first time, in a large debug build, this can take
///    a second or more). `Log` logs the symbolised stack as a second
///    record tagged with the same [`callback`](BlockingReport::callback)
///    and [`number`](BlockingReport::number), and a
///    [`BlockingAction::Custom`](crate::BlockingAction::Custom) action is
///    called once, with the symbolised report.
///
/// A process that ends (or aborts) before the second step is done loses
/// only the symbolised stack: the first record is already logged.
/// [`is_symbolized`](BlockingReport::is_symbolized) says which step a
/// report is at.
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
    pub(crate) callback: u64,
    pub(crate) symbolized: bool,
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

    /// The loop's sequence number of the blocked callback: the same in
    /// every report about it, and in both log records of one report (the
    /// immediate one and the symbolised stack), as `[blocked callback 7,
    /// report 1]`.
    pub fn callback(&self) -> u64 {
        self.callback
    }

    /// Whether the stack's frames were symbolised (given function names,
    /// files and lines): always so in the report a
    /// [`Custom`](crate::BlockingAction::Custom) action gets, and when
    /// there is no stack. Until then each frame is known by its object and
    /// offset only (see the [`Semantics`](BlockingReport#semantics)).
    pub fn is_symbolized(&self) -> bool {
        self.symbolized
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
            f.write_str("; still blocked")?;
        }
        write!(f, " {}", self.tag())?;
        match &self.stack {
            StackCapture::Captured(frames) if self.symbolized => {
                f.write_str("; loop thread stack:")?;
                write_frames(f, frames)
            }
            StackCapture::Captured(frames) => {
                f.write_str("; loop thread stack (symbols follow in a second record):")?;
                write_frames(f, frames)
            }
            StackCapture::Unavailable(reason) => write!(f, "; no stack: {reason}"),
        }
    }
}

impl BlockingReport {
    /// What ties the records of one report together.
    pub(crate) fn tag(&self) -> String {
        format!(
            "[blocked callback {}, report {}]",
            self.callback, self.number
        )
    }

    /// The second record of a report: its symbolised stack, under its tag.
    pub(crate) fn symbolized_stack(&self) -> impl fmt::Display + '_ {
        struct Stack<'a>(&'a BlockingReport);
        impl fmt::Display for Stack<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{} loop thread stack:", self.0.tag())?;
                write_frames(f, self.0.frames())
            }
        }
        Stack(self)
    }
}

fn write_frames(f: &mut fmt::Formatter<'_>, frames: &[StackFrame]) -> fmt::Result {
    for (i, frame) in frames.iter().enumerate() {
        write!(f, "\n{i:4}: {frame}")?;
    }
    Ok(())
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

/// One frame of a captured stack: its address and the object it is in at
/// once, its function, file and line once symbolised (on a thread of the
/// watchdog).
///
/// Names come from the binary's symbol table, and files and lines from its
/// debug information when it has some: a release build without debug
/// information still names its functions, except those inlined away (mark
/// a function `#[inline(never)]` to keep it visible).
#[derive(Clone, Debug)]
pub struct StackFrame {
    pub(crate) ip: usize,
    pub(crate) object: Option<(Arc<str>, u64)>,
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

    /// The path of the loaded object (the program or a shared library)
    /// whose code holds [`ip`](StackFrame::ip), if known.
    pub fn object(&self) -> Option<&Path> {
        self.object.as_ref().map(|(path, _)| Path::new(&**path))
    }

    /// The frame's address in its [`object`](StackFrame::object)'s own
    /// terms (minus where the object was loaded): what `addr2line -e
    /// <object> <offset>` takes.
    pub fn offset(&self) -> Option<u64> {
        self.object.as_ref().map(|&(_, offset)| offset)
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
        match (&self.name, &self.object) {
            (Some(name), _) => f.write_str(name)?,
            (None, Some((path, offset))) => {
                let file = Path::new(&**path).file_name().unwrap_or_default();
                write!(f, "{}+{offset:#x}", file.to_string_lossy())?;
            }
            (None, None) => write!(f, "<unknown> at {:#x}", self.ip)?,
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
