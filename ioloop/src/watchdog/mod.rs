//! The blocking watchdog: which callback blocks the loop, and the loop
//! thread's stack while it does (Tornado's `set_blocking_log_threshold`).
//!
//! ```
//! use std::time::Duration;
//! use ioloop::IOLoop;
//!
//! let ioloop = IOLoop::new()?;
//! // Any callback, timeout or handler running longer than 100 ms is
//! // logged (log::warn!, target "ioloop::watchdog") while it runs, with
//! // where it was registered and the loop thread's stack (its symbols in
//! // a second record).
//! ioloop.set_blocking_log_threshold(Some(Duration::from_millis(100)))?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! See [`IOLoop::set_blocking_log_threshold`] and
//! [`IOLoop::set_blocking_signal_threshold`] for the API, and the
//! `blocking` example for a report.
//!
//! # Design
//!
//! Two layers:
//!
//! * **Always available, no signals.** Before every callback, timeout,
//!   handler and task poll, the loop thread publishes in atomics a sequence
//!   number and where the callback was registered, tagged with its kind:
//!   two plain stores, no clock, no lock. The callback counts as running
//!   until the next one begins or the loop marks itself idle (before it
//!   polls, and when `start` returns). One watchdog thread per process
//!   looks at each watched loop every quarter of its threshold; a sequence
//!   number that has not moved for the threshold is a blocked loop.
//! * **The stack (Linux, x86_64).** To say *where* the callback is stuck,
//!   the watchdog sends a real-time signal to the loop thread (`tgkill`,
//!   so that thread only), whose action walks the interrupted stack and
//!   records raw return addresses into a buffer allocated beforehand; the
//!   watchdog thread hands the [`BlockingReport`], its frames known by
//!   object and offset, to the [`BlockingAction`] at once, and a
//!   symbolisation thread then resolves them to function names, files
//!   and lines (see [Reports in two records](#reports-in-two-records)).
//!
//! One thread serves every loop, whatever their number: a process with 16
//! loop threads gets one watchdog thread, not 16, asleep whenever no loop
//! is watched. It is started by the first loop that enables the watchdog
//! and lives as long as the process. When it starts, it starts two
//! helpers: a symbolisation thread, which at once loads the symbol tables
//! of the program and the C library (so that later stacks are symbolised
//! in milliseconds) and then symbolises the reports' stacks and runs the
//! custom actions, one report after the other; and a thread that copies
//! the loaded objects' unwind tables (see below) and refreshes them when
//! objects are loaded or unloaded. A slow custom action delays the reports
//! queued behind it, never the looks at the loops.
//!
//! # Reports in two records
//!
//! Symbolising a stack reads the binary's debug information: the first
//! time, in a large debug build, that takes a second or more. A report
//! never waits for it. [`BlockingAction::Log`] logs at once what is known
//! (how long, what, where it was registered, the thread, and the stack as
//! raw frames, each one's object and offset, `myprogram+0x1a2b3`, which
//! `addr2line -e myprogram 0x1a2b3` resolves), then the symbolised stack
//! as a second record tagged with the same `[blocked callback N, report
//! M]`. [`BlockingAction::Abort`] logs the first record and flushes the
//! logger before anything else, waits at most 5 s for the symbols, and
//! aborts. A custom action is called once, with the symbolised report.
//!
//! The guarantee when the process ends (it exits, or aborts) while a
//! stack is still being symbolised: the report's first record has already
//! been logged; only the second, the symbolised stack, is lost. With the
//! `blocking` example in a debug build, the first record comes about
//! 110 ms after the callback started (threshold 100 ms) and the
//! symbolised stacks about 1.5 s after the watchdog started.
//!
//! # The signal and its action
//!
//! * The signal is chosen at run time: the first real-time signal from
//!   `SIGRTMIN()+4` up whose disposition is still the default (so nobody
//!   uses it), unless [`IOLoop::set_blocking_stack_signal`] chose one.
//!   glibc and musl keep the first real-time signals for themselves,
//!   hence a function, and the offset leaves the lowest ones to
//!   applications that take "`SIGRTMIN`" by convention. `SIGALRM`,
//!   `SIGPROF` and `SIGUSR1/2` are left alone: timers, profilers and
//!   applications own those. [`IOLoop::add_signal_handler`] refuses the
//!   chosen signal.
//! * The action is installed through signal-hook's registry, which chains
//!   any handler installed before it and lets other actions share the
//!   signal. A handler installed later with a raw `sigaction` replaces the
//!   registry's: captures then time out and reports say so.
//! * The action only reads and writes atomics in the loop's slot, checks
//!   that the request is for this thread and for the callback still
//!   running (a capture whose callback has returned is dropped as stale),
//!   saves and restores `errno`, and walks the stack, recording at most
//!   128 return addresses. It never allocates, waits for a lock, calls
//!   into the C library, logs or formats.
//!
//! # The stack walk
//!
//! The signal can land anywhere: in the allocator, in the loader (inside
//! `dlopen`, `dlclose` or `dl_iterate_phdr`), or in libgcc's unwinder while
//! the loop thread unwinds a panic or takes a backtrace of its own. libgcc's
//! unwinder cannot be used there (it may fault on the state of an unwinding
//! that the signal interrupted, and it takes a lock of its own once any
//! object registered unwind information with `__register_frame`, as JIT
//! runtimes do, so a signal landing while the loop thread holds that lock
//! would wait for itself forever). The walk uses none of it:
//!
//! * **Unwind tables copied ahead.** A helper of the watchdog thread lists
//!   the loaded objects (`dl_iterate_phdr`) and copies each one's
//!   `.eh_frame_hdr` and `.eh_frame` into buffers of its own, before any
//!   signal is sent, and again only when objects were loaded or unloaded.
//!   A table set is never changed once built, and the one a capture walks
//!   with stays alive until that capture has ended, so a concurrent
//!   `dlclose` cannot take away what the walk reads. The walk itself (the
//!   `framehop` crate's DWARF unwinder, with a cache allocated beforehand
//!   and its no-allocation policy) looks them up without a lock.
//! * **Stack reads bounded.** The interrupted registers come from the
//!   signal frame the kernel pushed on the loop thread's stack; the walk
//!   reads memory only between the interrupted stack pointer and the top
//!   of that stack (its bounds are taken on the loop thread when the
//!   watchdog is enabled). A read outside them ends the walk instead of
//!   faulting.
//! * **Unknown code ends the walk.** A frame whose code is in no object
//!   the tables know (generated at run time, or loaded after the tables
//!   were built) is recorded, and the walk stops there.
//! * **Skipped when it cannot be done safely**, with the reason in the
//!   report: the loop thread was running on another stack (an alternate
//!   signal stack, a coroutine's), its stack bounds are unknown, or the
//!   tables are not ready.
//!
//! A stress test interrupts the loop thread thousands of times inside
//! each of those places, with and without unwind information registered
//! through `__register_frame`, in child processes: none crashes or
//! hangs.
//! * A loop that is polling is never signalled: the watchdog only acts on
//!   a loop running a callback. If the callback returns between the
//!   watchdog's look and the signal, the signal may interrupt `epoll_wait`,
//!   which returns `EINTR`; the loop counts that as a wakeup and goes on.
//! * The watchdog waits up to 250 ms for the loop thread to take the
//!   request, then gives up (the report says the signal was not handled).
//!
//! # Limits
//!
//! * **The walk needs unwind tables.** Code built without them (C
//!   compiled with `-fno-asynchronous-unwind-tables`, or generated at run
//!   time) ends the stack at its frame. Code loaded after the tables were
//!   last refreshed does too, until the next report.
//! * If the loop thread stays stopped or descheduled in the middle of a
//!   capture for 2 s, the report says so and has no stack; the next
//!   report captures again once that capture has finished.
//! * To have no signal at all, turn the stack off with
//!   [`IOLoop::set_blocking_stack_signal(None)`](IOLoop::set_blocking_stack_signal):
//!   the reports keep everything but the stack.
//! * The action runs on the loop thread's own stack (signal-hook installs
//!   it without `SA_ONSTACK`), and the walk keeps its DWARF evaluation
//!   state there in fixed-size buffers: a callback that has nearly
//!   exhausted its stack may overflow it during the capture, which Rust
//!   reports as a stack overflow.
//! * A blocking system call in the callback can return `EINTR` when the
//!   signal arrives, once per report. The action is installed with
//!   `SA_RESTART`, so most calls restart; `std::thread::sleep` and the
//!   standard library's I/O retry.
//! * If the signal is blocked on the loop thread, reports carry no stack
//!   (they say why).
//! * A child process made by `fork` has no watchdog thread: enable the
//!   watchdog again in the child (which starts one there). The child never
//!   waits on the parent's watchdog state: closing or disabling a watched
//!   loop in the child is safe even if another thread of the parent was
//!   enabling a watchdog at the fork. (A stack capture action installed in
//!   the parent stays installed in the child, unused.)
//! * Durations are sampled: a report's [`blocked_for`](BlockingReport::blocked_for)
//!   is a lower bound, short by at most a quarter threshold (more if the
//!   watchdog thread was itself delayed).
//! * Between two callbacks of one iteration, the loop's own few
//!   instructions count towards the first callback.
//! * Symbols come from the binary: a release build without debug
//!   information has function names but no files or lines, and functions
//!   inlined into their callers disappear (mark a function you want to
//!   see `#[inline(never)]`, or build with
//!   `debug = "line-tables-only"`). Symbolisation in a debug build is much
//!   faster with the symbolisation crates optimised, as this workspace
//!   does:
//!
//!   ```toml
//!   [profile.dev.package.gimli]
//!   opt-level = 3
//!   [profile.dev.package.addr2line]
//!   opt-level = 3
//!   [profile.dev.package.object]
//!   opt-level = 3
//!   [profile.dev.package.miniz_oxide]
//!   opt-level = 3
//!   ```
//!
//! # Portability
//!
//! The stack is captured on Linux on x86_64 (the walk reads that
//! architecture's registers from the signal frame). Elsewhere the
//! watchdog reports the callback, its registration site and how long it
//! has run, and [`StackCapture::Unavailable`] says there is no stack.

pub(crate) mod action;
pub(crate) mod report;
pub(crate) mod slot;
mod symbolize;
mod tables;
mod thread;

use std::cell::{Cell, RefCell};
use std::io;
use std::panic::Location;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use libc::c_int;

use crate::core::exception::CallbackKind;
use crate::signals::signal_name;
use crate::sys::{self, SigId};
use crate::{Error, IOLoop};

pub use action::BlockingAction;
pub use report::{BlockingReport, StackCapture, StackFrame};
use slot::WatchdogSlot;

/// The `log` target of the watchdog's records.
pub(crate) const LOG_TARGET: &str = "ioloop::watchdog";

/// The default stack signal is the first free one from `SIGRTMIN()` plus
/// this.
const SIGNAL_OFFSET: c_int = 4;

/// One loop's side of the watchdog: the slot it publishes into, and
/// whether it is watched. Loop thread only.
pub(crate) struct LoopWatchdog {
    /// INVARIANT: true exactly while `slot` is registered with the watchdog
    /// thread; read on every callback.
    on: Cell<bool>,
    threshold: Cell<Option<Duration>>,
    slot: Arc<WatchdogSlot>,
    /// The stack capture's signal action for this loop, while installed,
    /// and the process that installed it.
    capture: Cell<Option<(SigId, u32)>>,
}

impl LoopWatchdog {
    pub(crate) fn new() -> LoopWatchdog {
        LoopWatchdog {
            on: Cell::new(false),
            threshold: Cell::new(None),
            slot: Arc::new(WatchdogSlot::new()),
            capture: Cell::new(None),
        }
    }

    /// Called before user code runs: publishes what runs, if the watchdog
    /// is on. The callback counts as running until the next `begin` or
    /// [`idle`](LoopWatchdog::idle): no second store after it returns.
    #[inline(always)]
    pub(crate) fn begin(&self, kind: CallbackKind, site: &'static Location<'static>) {
        if self.on.get() {
            self.slot.begin(kind, site);
        }
    }

    /// Called when the loop stops running user code for a while: before it
    /// polls, and when `start` returns. A loop marked idle is never
    /// reported nor signalled.
    #[inline]
    pub(crate) fn idle(&self) {
        if self.on.get() {
            self.slot.idle();
        }
    }

    fn enable(&self, threshold: Duration, action: BlockingAction) -> io::Result<()> {
        let tid = sys::current_tid();
        if let Some(tid) = tid {
            self.slot.set_tid(tid);
            forget_tid_when_this_thread_ends(&self.slot);
        }
        self.slot.set_stack(sys::current_stack());
        let capture = self.install_capture();
        let watch = thread::Watch {
            slot: self.slot.clone(),
            threshold,
            action,
            thread_name: std::thread::current().name().map(str::to_owned),
            tid,
            capture,
        };
        if let Err(err) = thread::watch(watch) {
            self.disable();
            return Err(err);
        }
        self.on.set(true);
        self.threshold.set(Some(threshold));
        Ok(())
    }

    /// Installs this loop's stack capture action, if the platform and the
    /// configuration allow; returns the signal, or why there is no stack.
    fn install_capture(&self) -> Result<c_int, String> {
        if !sys::STACK_CAPTURE {
            return Err("stack capture is only implemented on Linux x86_64".to_owned());
        }
        let signal = stack_signal_for_capture()?;
        if sys::blocked_on_this_thread(signal) {
            return Err(format!(
                "{} is blocked on the loop thread",
                signal_name(signal)
            ));
        }
        if self.capture.get().is_none() {
            let id = sys::register_stack_capture(signal, self.slot.clone()).map_err(|err| {
                format!("cannot install the {} action: {err}", signal_name(signal))
            })?;
            self.capture.set(Some((id, std::process::id())));
        }
        Ok(signal)
    }

    /// Stops watching this loop (on `set_*_threshold(None)`, `close` and
    /// drop).
    pub(crate) fn disable(&self) {
        if self.on.replace(false) {
            thread::unwatch(&self.slot);
        }
        // Not running anything as far as a later `enable` is concerned.
        self.slot.idle();
        self.threshold.set(None);
        match self.capture.take() {
            Some((id, pid)) if pid == std::process::id() => {
                sys::unregister(id);
            }
            // In a child made by `fork`: signal-hook's registry may have
            // been locked by another thread at the fork. The action stays,
            // inert: it serves only requests for this slot, from this
            // process's watchdog, which has none for a disabled loop.
            Some(_) | None => {}
        }
    }
}

thread_local! {
    /// The slots whose thread id is this thread's, to clear when it ends.
    static THIS_THREADS_SLOTS: ThreadSlots = const { ThreadSlots(RefCell::new(Vec::new())) };
}

struct ThreadSlots(RefCell<Vec<Weak<WatchdogSlot>>>);

impl Drop for ThreadSlots {
    fn drop(&mut self) {
        for slot in self.0.get_mut().drain(..) {
            if let Some(slot) = slot.upgrade() {
                // No thread has id 0: a thread that reuses this one's id
                // is never taken for the loop thread.
                slot.set_tid(0);
            }
        }
    }
}

/// Clears `slot`'s thread id when the calling thread ends, so that a new
/// thread given the same id by the kernel is never served a capture (its
/// stack is not the one whose bounds the slot holds).
fn forget_tid_when_this_thread_ends(slot: &Arc<WatchdogSlot>) {
    // During the thread's own teardown there is nothing left to register.
    let _ = THIS_THREADS_SLOTS.try_with(|slots| {
        let mut slots = slots.0.borrow_mut();
        slots.retain(|s| s.strong_count() > 0);
        if !slots
            .iter()
            .any(|s| std::ptr::eq(s.as_ptr(), Arc::as_ptr(slot)))
        {
            slots.push(Arc::downgrade(slot));
        }
    });
}

impl Drop for LoopWatchdog {
    fn drop(&mut self) {
        self.disable();
    }
}

// ----- the stack signal, process-wide ----------------------------------------

enum StackSignal {
    /// Not chosen yet: chosen when a loop first enables its watchdog.
    Unchosen,
    /// Stack capture turned off by `set_blocking_stack_signal(None)`.
    Disabled,
    Chosen(c_int),
    /// No free signal was found: why.
    Unavailable(String),
}

struct StackSignalState {
    signal: StackSignal,
    /// A loop has installed its capture action: the choice is final.
    in_use: bool,
}

static STACK_SIGNAL: Mutex<StackSignalState> = Mutex::new(StackSignalState {
    signal: StackSignal::Unchosen,
    in_use: false,
});

fn stack_signal_state() -> MutexGuard<'static, StackSignalState> {
    STACK_SIGNAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The stack signal, chosen now if need be, for a loop about to install
/// its capture action; or why there is none.
fn stack_signal_for_capture() -> Result<c_int, String> {
    let mut state = stack_signal_state();
    if let StackSignal::Unchosen = state.signal {
        state.signal = choose_stack_signal();
    }
    let signal = match &state.signal {
        StackSignal::Chosen(signal) => Ok(*signal),
        StackSignal::Disabled => {
            Err("stack capture is disabled (IOLoop::set_blocking_stack_signal(None))".to_owned())
        }
        StackSignal::Unavailable(reason) => Err(reason.clone()),
        StackSignal::Unchosen => Err("no stack capture signal was chosen".to_owned()),
    };
    state.in_use |= signal.is_ok();
    signal
}

fn choose_stack_signal() -> StackSignal {
    let signals = sys::realtime_signals();
    let first = signals.start().saturating_add(SIGNAL_OFFSET);
    match (first..=*signals.end()).find(|&s| sys::disposition_is_default(s).unwrap_or(false)) {
        Some(signal) => StackSignal::Chosen(signal),
        None => StackSignal::Unavailable(format!(
            "no free real-time signal from SIGRTMIN+{SIGNAL_OFFSET} to SIGRTMAX for stack capture"
        )),
    }
}

/// Runs `register` (which installs a signal handler for `signal`) unless
/// `signal` is the watchdog's stack signal, holding the choice steady
/// meanwhile, so the watchdog never picks a signal being registered.
pub(crate) fn unless_stack_signal<R>(
    signal: c_int,
    register: impl FnOnce() -> io::Result<R>,
) -> io::Result<R> {
    let state = stack_signal_state();
    if let StackSignal::Chosen(chosen) = state.signal
        && chosen == signal
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "add_signal_handler: {} is the blocking watchdog's stack capture signal",
                signal_name(signal)
            ),
        ));
    }
    register()
}

// ----- the public API ---------------------------------------------------------

impl IOLoop {
    /// Logs a warning, with the loop thread's stack, whenever one callback,
    /// timeout, handler or task poll runs longer than `threshold`; `None`
    /// turns the watchdog off (Tornado's `set_blocking_log_threshold`).
    ///
    /// The same as
    /// [`set_blocking_signal_threshold(threshold, BlockingAction::Log)`](IOLoop::set_blocking_signal_threshold):
    /// a `log::warn!` record, target `ioloop::watchdog`, whose text is the
    /// [`BlockingReport`]'s, logged at once with the stack as raw frames,
    /// then a second one with the symbolised stack (see
    /// [Reports in two records](crate::watchdog#reports-in-two-records)).
    /// When a reported callback finally returns, a `log::info!` record says
    /// how long it ran.
    ///
    /// # Errors
    ///
    /// As [`set_blocking_signal_threshold`](IOLoop::set_blocking_signal_threshold).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// ioloop.set_blocking_log_threshold(Some(Duration::from_millis(100)))?;
    /// // A callback that blocks the loop for 300 ms is reported after
    /// // about 100 ms, while it still runs, with its stack.
    /// ioloop.add_callback(|| std::thread::sleep(Duration::from_millis(300)));
    /// let l = ioloop.clone();
    /// ioloop.add_callback(move || l.stop());
    /// ioloop.start()?;
    /// ioloop.set_blocking_log_threshold(None)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_blocking_log_threshold(&self, threshold: Option<Duration>) -> io::Result<()> {
        self.set_blocking_signal_threshold(threshold, BlockingAction::Log)
    }

    /// Calls `action` with a [`BlockingReport`] whenever one callback,
    /// timeout, handler or task poll runs longer than `threshold`; `None`
    /// turns the watchdog off (Tornado's `set_blocking_signal_threshold`).
    ///
    /// The report is made while the callback still runs: how long it has
    /// run, what it is and where it was registered, the loop thread, and
    /// the loop thread's stack at that moment (see the
    /// [module docs](crate::watchdog) for how, and its limits).
    /// [`BlockingAction::Abort`] is Tornado's `action=None`: it ends the
    /// process.
    ///
    /// # Semantics
    ///
    /// * **Per callback**, as asyncio's slow-callback warning: a loop kept
    ///   busy by many short callbacks is not reported. (Tornado's timer
    ///   spanned a whole iteration.) A loop waiting in poll is never
    ///   reported.
    /// * The watchdog looks every quarter `threshold`, so a callback is
    ///   reported between 1 and 1.25 thresholds after it started; if it
    ///   still runs, again each time its running time has doubled since
    ///   the previous report (about 2, 4, 8... thresholds). One callback
    ///   gets a handful of reports, not a flood.
    /// * The watchdog thread, shared by every loop of the process, logs a
    ///   report at once; the stack's symbols, and a custom action, come
    ///   after on its symbolisation thread (see
    ///   [`BlockingAction`]'s `# Semantics`).
    /// * One threshold and action per loop: each call replaces the
    ///   previous one, for both this method and
    ///   [`set_blocking_log_threshold`](IOLoop::set_blocking_log_threshold)
    ///   (as in Tornado).
    /// * Works for a loop on any thread, and for several loops at once.
    ///
    /// # Errors
    ///
    /// * `InvalidInput` for a zero threshold.
    /// * [`Error::Closed`] (as an `io::Error`) on a closed loop.
    /// * The `io::Error` of spawning the watchdog thread, on first use.
    ///
    /// Not being able to capture stacks (another platform, the signal
    /// blocked, stack capture turned off) is not an error: the reports say
    /// why they have no stack.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::{BlockingAction, IOLoop};
    ///
    /// let ioloop = IOLoop::new()?;
    /// ioloop.set_blocking_signal_threshold(
    ///     Some(Duration::from_secs(1)),
    ///     BlockingAction::custom(|report| {
    ///         eprintln!("{} (registered at {})", report.blocked_for().as_millis(), report.site());
    ///     }),
    /// )?;
    /// assert_eq!(ioloop.blocking_threshold(), Some(Duration::from_secs(1)));
    /// ioloop.set_blocking_signal_threshold(None, BlockingAction::Log)?;
    /// assert_eq!(ioloop.blocking_threshold(), None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_blocking_signal_threshold(
        &self,
        threshold: Option<Duration>,
        action: BlockingAction,
    ) -> io::Result<()> {
        let watchdog = &self.inner.watchdog;
        let Some(threshold) = threshold else {
            watchdog.disable();
            return Ok(());
        };
        if threshold.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the blocking threshold must be positive",
            ));
        }
        if self.inner.closed.get() {
            return Err(Error::Closed.into());
        }
        watchdog.enable(threshold, action)
    }

    /// The blocking watchdog's threshold, `None` if it is off.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// assert_eq!(ioloop.blocking_threshold(), None);
    /// ioloop.set_blocking_log_threshold(Some(Duration::from_millis(200)))?;
    /// assert_eq!(ioloop.blocking_threshold(), Some(Duration::from_millis(200)));
    /// ioloop.set_blocking_log_threshold(None)?; // off again
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn blocking_threshold(&self) -> Option<Duration> {
        self.inner.watchdog.threshold.get()
    }

    /// Chooses the signal the blocking watchdog sends a loop thread to
    /// capture its stack, for the whole process; `None` turns stack capture
    /// off (reports then have everything but the stack).
    ///
    /// By default the watchdog takes, when a loop first enables it, the
    /// first real-time signal from `SIGRTMIN()+4` up that nobody handles.
    /// Call this before any loop enables its watchdog to pick another (one
    /// your program leaves free) or to turn the stack off.
    ///
    /// # Errors
    ///
    /// * `InvalidInput` if `signal` is not a real-time signal
    ///   (`SIGRTMIN()..=SIGRTMAX()`).
    /// * `AlreadyExists` if `signal` already has a handler.
    /// * `Unsupported` on platforms without stack capture (anything but
    ///   Linux on x86_64), for `Some`.
    /// * `Other` once a loop has installed its capture action with the
    ///   current choice: the choice is final from then on.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use ioloop::IOLoop;
    ///
    /// // At the start of main, before any loop enables its watchdog:
    /// IOLoop::set_blocking_stack_signal(Some(libc::SIGRTMAX() - 1))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_blocking_stack_signal(signal: Option<c_int>) -> io::Result<()> {
        let mut state = stack_signal_state();
        if state.in_use {
            let current = match state.signal {
                StackSignal::Chosen(s) => signal_name(s),
                _ => "none".to_owned(),
            };
            return Err(io::Error::other(format!(
                "the blocking watchdog already captures stacks with {current}; \
                 choose its signal before any loop enables the watchdog"
            )));
        }
        let Some(signal) = signal else {
            state.signal = StackSignal::Disabled;
            return Ok(());
        };
        if !sys::STACK_CAPTURE {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "stack capture is only implemented on Linux x86_64",
            ));
        }
        let signals = sys::realtime_signals();
        if !signals.contains(&signal) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "signal {signal} is not a real-time signal (SIGRTMIN {} to SIGRTMAX {})",
                    signals.start(),
                    signals.end()
                ),
            ));
        }
        if !sys::disposition_is_default(signal)? {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} already has a handler", signal_name(signal)),
            ));
        }
        state.signal = StackSignal::Chosen(signal);
        Ok(())
    }

    /// The signal the blocking watchdog captures stacks with, once chosen
    /// (by [`set_blocking_stack_signal`](IOLoop::set_blocking_stack_signal)
    /// or when a loop first enabled its watchdog); `None` before, when
    /// stack capture is off, or on platforms without it.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// // None until a watchdog is turned on or a signal chosen.
    /// if let Some(signal) = IOLoop::blocking_stack_signal() {
    ///     assert!(signal >= libc::SIGRTMIN() && signal <= libc::SIGRTMAX());
    /// }
    /// ```
    pub fn blocking_stack_signal() -> Option<c_int> {
        match stack_signal_state().signal {
            StackSignal::Chosen(signal) => Some(signal),
            _ => None,
        }
    }
}
