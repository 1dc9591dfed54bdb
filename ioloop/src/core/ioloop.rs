//! The [`IOLoop`] type: its state and its public API.
//!
//! One iteration (in the order of Tornado's `PollIOLoop.start`) lives in
//! [`run`](crate::core::run); this file holds what callers use to put work
//! on the loop and to manage its lifecycle.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::panic::{self, AssertUnwindSafe, Location};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use crate::core::current;
use crate::core::deadline::{self, Deadline};
use crate::core::exception::{self, CallbackKind, CallbackPanic};
use crate::core::handlers::{self, HandlerTable, WAKER_TOKEN};
use crate::core::poller::{PollerKind, Trigger};
use crate::core::remote::{Remote, RemoteItem, RemoteQueue};
use crate::core::timers::{TimerHeap, TimerKey};
use crate::error::fd_error;
use crate::tasks::executor::Executor;
use crate::tasks::task::{TaskId, TaskTable};
use crate::watchers::Watchers;
use crate::{Error, Events};

/// A callback, timeout or remote callback waiting to run, with the place it
/// was registered (for panic reports).
pub(crate) struct Callback {
    pub(crate) f: Box<dyn FnOnce()>,
    pub(crate) site: &'static Location<'static>,
}

/// An entry of the loop's first-in, first-out run queue: a callback, or a
/// task to poll.
pub(crate) enum Runnable {
    Callback(Callback),
    Task(TaskId),
}

impl From<RemoteItem> for Runnable {
    fn from(item: RemoteItem) -> Runnable {
        match item {
            RemoteItem::Callback(cb) => Runnable::Callback(Callback {
                f: cb.f,
                site: cb.site,
            }),
            RemoteItem::Wake(id) => Runnable::Task(id),
        }
    }
}

type ExceptionHandler = Rc<dyn Fn(&CallbackPanic<'_>)>;

/// Distinguishes loops, so a timeout handle from one loop is a no-op on another.
static NEXT_LOOP_ID: AtomicU32 = AtomicU32::new(1);

/// Loops created and neither closed nor dropped, in this process.
static OPEN_LOOPS: AtomicUsize = AtomicUsize::new(0);

/// The loop's state, shared by every clone of an [`IOLoop`].
///
/// Every field that user code can reach re-entrantly (from inside a
/// callback) is its own `RefCell`, and no borrow is held while user code
/// or a user value's `Drop` runs.
pub(crate) struct Inner {
    /// Unique in the process: a timeout handle or a signal handle from
    /// another loop is recognised, and ignored.
    pub(crate) id: u32,
    /// The remote queue: what other threads post, and their stop requests.
    pub(crate) remote: Arc<RemoteQueue>,
    /// `None` once closed.
    pub(crate) poll: RefCell<Option<mio::Poll>>,
    /// What wakes a poll at a deadline without a timeout of its own
    /// (`wait_timer`).
    pub(crate) wait_timer: crate::core::wait_timer::WaitTimer,
    /// How descriptors are registered with `poll`.
    pub(crate) poller: PollerKind,
    /// Busy iterations in a row that may skip the non-blocking poll.
    pub(crate) max_poll_skips: u32,
    pub(crate) handlers: RefCell<HandlerTable>,
    pub(crate) timers: RefCell<TimerHeap<Callback>>,
    /// Callbacks and woken tasks, first in, first out.
    pub(crate) queue: RefCell<VecDeque<Runnable>>,
    /// What the last take of the remote queue swapped out, empty between
    /// takes: kept so neither the remote queue nor the take allocates.
    remote_taken: RefCell<Vec<RemoteItem>>,
    pub(crate) tasks: RefCell<TaskTable>,
    /// The generation of the current (or last) `run_sync`; a wake for an
    /// older one is ignored.
    pub(crate) main_generation: Cell<u32>,
    pub(crate) executor: RefCell<Option<Arc<dyn Executor>>>,
    pub(crate) running: Cell<bool>,
    pub(crate) closed: Cell<bool>,
    pub(crate) event_capacity: usize,
    /// The poll buffers, kept between runs (`None` while a run has them).
    pub(crate) run_state: RefCell<Option<crate::core::run::RunState>>,
    /// Iteration count and cached loop time (`introspect`).
    pub(crate) stats: crate::core::introspect::LoopStats,
    /// The optional watchers' state: the core reaches it only through the
    /// hook points in `crate::watchers`.
    pub(crate) watchers: Watchers,
    exception_handler: RefCell<Option<ExceptionHandler>>,
    /// Owned descriptors of handlers still registered at `close(false)`:
    /// kept open until the loop is dropped.
    retained_fds: RefCell<Vec<OwnedFd>>,
    /// The blocking watchdog's per-loop state (`watchdog`).
    pub(crate) watchdog: crate::watchdog::LoopWatchdog,
    /// Signal handlers (`signals`).
    pub(crate) signals: crate::signals::LoopSignals,
}

impl Inner {
    /// Queues `runnable` on the loop's thread, behind whatever other
    /// threads have posted and the loop has not yet taken (see
    /// [`IOLoop::add_callback`], `# Semantics`).
    ///
    /// Costs one atomic load when nothing is posted; the remote queue's
    /// lock is taken only when its pending flag is set. Always inlined: out
    /// of line (as `#[inline]` left it) the callback chain benchmark ran
    /// about 15% slower.
    #[inline(always)]
    pub(crate) fn push_local(&self, runnable: Runnable) {
        if self.remote.has_pending() {
            self.take_remote();
        }
        self.queue.borrow_mut().push_back(runnable);
    }

    /// Moves what other threads have posted to the back of the local queue,
    /// in the order it was posted: the start of each iteration, and a local
    /// add that finds something posted. The lock is held for a buffer
    /// swap; both buffers keep their capacity.
    #[inline(never)]
    pub(crate) fn take_remote(&self) {
        let mut taken = self.remote_taken.borrow_mut();
        self.remote.take_pending(&mut taken);
        self.queue
            .borrow_mut()
            .extend(taken.drain(..).map(Runnable::from));
    }

    /// True if nothing is queued, from this thread or another, and no stop
    /// is requested: the loop would sleep in its next poll.
    pub(crate) fn nothing_queued(&self) -> bool {
        self.queue.borrow().is_empty()
            && !self.remote.has_pending()
            && !self.remote.stop_requested()
    }

    /// True if the core holds referenced work: queued callbacks (from this
    /// thread or another), tasks, referenced handlers or timeouts. The
    /// core's half of [`IOLoop::is_alive`].
    pub(crate) fn has_referenced_work(&self) -> bool {
        !self.queue.borrow().is_empty()
            || self.remote.has_pending()
            || self.tasks.borrow().len() > 0
            || self.handlers.borrow().referenced() > 0
            || self.timers.borrow().referenced() > 0
    }

    /// Gives the loop a new poller and waker (after `fork()`, where the old
    /// epoll instance is the parent's), with every handler registered
    /// again. Returns the descriptors that could not be registered; their
    /// handlers are still in the table, for the caller to remove.
    pub(crate) fn replace_poller(&self) -> Result<Vec<RawFd>, Error> {
        let poll = mio::Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
        let registrations = self.handlers.borrow().registrations();
        let mut gone = Vec::new();
        for (fd, token, interest, trigger) in registrations {
            let result = self.poller.register(&poll, fd, token, interest, trigger);
            if let Err(err) = result {
                log::warn!(
                    target: "ioloop",
                    "reset_after_fork: fd {fd} cannot be registered again ({err}); removing its handler"
                );
                gone.push(fd);
            }
        }
        // The old poller is closed, never changed: in a child its epoll
        // instance is the parent's, and so is the timerfd registered with
        // it (closed here, and replaced by one registered with the new
        // poller).
        self.wait_timer.replace(&poll);
        let old = self.poll.borrow_mut().replace(poll);
        drop(old);
        self.remote.replace_waker(waker);
        Ok(gone)
    }
}

/// A single-threaded, level-triggered I/O event loop, modelled on Tornado's
/// `IOLoop`.
///
/// An `IOLoop` runs callbacks ([`add_callback`](IOLoop::add_callback)),
/// timeouts ([`add_timeout`](IOLoop::add_timeout),
/// [`call_later`](IOLoop::call_later), [`call_at`](IOLoop::call_at)) and I/O
/// handlers ([`add_handler`](IOLoop::add_handler)) on one thread, from
/// [`start`](IOLoop::start) until [`stop`](IOLoop::stop).
///
/// # The API at a glance
///
/// **Tornado's `IOLoop`**, the core; start here:
///
/// | for | methods |
/// |---|---|
/// | the loop | [`new`](IOLoop::new), [`builder`](IOLoop::builder), [`current`](IOLoop::current), [`instance`](IOLoop::instance), [`make_current`](IOLoop::make_current), [`clear_current`](IOLoop::clear_current), [`install`](IOLoop::install), [`clear_instance`](IOLoop::clear_instance), [`initialized`](IOLoop::initialized) |
/// | I/O | [`add_handler`](IOLoop::add_handler), [`update_handler`](IOLoop::update_handler), [`remove_handler`](IOLoop::remove_handler), with [`IOLoop::READ`], [`IOLoop::WRITE`], [`IOLoop::ERROR`] ([`Events`]) |
/// | time | [`add_timeout`](IOLoop::add_timeout), [`call_later`](IOLoop::call_later), [`call_at`](IOLoop::call_at), [`remove_timeout`](IOLoop::remove_timeout), [`time`](IOLoop::time) |
/// | callbacks | [`add_callback`](IOLoop::add_callback) (from other threads: [`remote`](IOLoop::remote)`().add_callback`), [`spawn_callback`](IOLoop::spawn_callback) (Tornado 6's alias of `add_callback`) |
/// | futures | [`spawn`](IOLoop::spawn), [`add_future`](IOLoop::add_future), [`run_sync`](IOLoop::run_sync), [`run_in_executor`](IOLoop::run_in_executor) |
/// | running | [`start`](IOLoop::start), [`stop`](IOLoop::stop), [`close`](IOLoop::close) |
/// | the rest of Tornado | [`set_exception_handler`](IOLoop::set_exception_handler), [`add_signal_handler`](IOLoop::add_signal_handler), [`set_blocking_log_threshold`](IOLoop::set_blocking_log_threshold), [`set_blocking_signal_threshold`](IOLoop::set_blocking_signal_threshold); [`PeriodicCallback`](crate::PeriodicCallback) |
///
/// The guide maps each of Tornado's methods: [`guide`](crate::guide).
///
/// **For asyncio and evergreen users**, the same loop under their names
/// ([`guide::asyncio`](crate::guide::asyncio)): [`call_soon`](IOLoop::call_soon),
/// [`call_later_handle`](IOLoop::call_later_handle) and
/// [`call_at_handle`](IOLoop::call_at_handle) return a handle with
/// `cancel()` ([`add_timeout_handle`](IOLoop::add_timeout_handle) does so
/// for any [`Deadline`]); [`run_forever`](IOLoop::run_forever)
/// is `start`; [`is_running`](IOLoop::is_running),
/// [`is_closed`](IOLoop::is_closed),
/// [`set_default_executor`](IOLoop::set_default_executor),
/// [`remove_signal_handler`](IOLoop::remove_signal_handler). Async
/// helpers: [`sleep`](IOLoop::sleep), [`timeout`](IOLoop::timeout),
/// [`readable`](IOLoop::readable), [`writable`](IOLoop::writable).
///
/// **For libev users** ([`guide::libev`](crate::guide::libev)): watchers
/// that keep the loop alive or not ([`run`](IOLoop::run) returns when no
/// referenced one is left, [`run_once`](IOLoop::run_once) runs one
/// iteration; [`set_handler_ref`](IOLoop::set_handler_ref),
/// [`set_timeout_ref`](IOLoop::set_timeout_ref), [`is_alive`](IOLoop::is_alive));
/// prepare, check and idle hooks ([`add_prepare`](IOLoop::add_prepare),
/// [`add_check`](IOLoop::add_check), [`add_idle`](IOLoop::add_idle));
/// child watchers ([`add_child_handler`](IOLoop::add_child_handler));
/// [`feed_fd_event`](IOLoop::feed_fd_event),
/// [`feed_signal_event`](IOLoop::feed_signal_event);
/// [`suspend`](IOLoop::suspend) and [`resume`](IOLoop::resume);
/// [`now`](IOLoop::now), [`update_time`](IOLoop::update_time),
/// [`iteration`](IOLoop::iteration), [`depth`](IOLoop::depth),
/// [`pending`](IOLoop::pending); the batching intervals
/// ([`set_io_interval`](IOLoop::set_io_interval),
/// [`set_timeout_interval`](IOLoop::set_timeout_interval));
/// [`reset_after_fork`](IOLoop::reset_after_fork).
///
/// **Beyond all three**: edge-triggered handlers for code that reads until
/// `WouldBlock` ([`add_edge_handler`](IOLoop::add_edge_handler),
/// [`mark_drained`](IOLoop::mark_drained)), descriptors the loop owns
/// ([`add_handler_owned`](IOLoop::add_handler_owned)), and
/// [`Remote::spawn`](crate::Remote::spawn) to run a future on the loop from
/// another thread.
///
/// # Thread safety
///
/// `IOLoop` is a cheap handle (`Clone` shares the loop) and is **not**
/// `Send`: it stays on the thread that created it, so no loop method can be
/// called from another thread by mistake. Other threads use a [`Remote`]
/// (from [`remote`](IOLoop::remote)), whose `add_callback` is the one
/// thread-safe way in, as in Tornado.
///
/// ```compile_fail
/// let ioloop = ioloop::IOLoop::new().unwrap();
/// std::thread::spawn(move || ioloop.start()); // IOLoop is not Send
/// ```
///
/// # One iteration
///
/// 1. the callbacks queued when the iteration began run, first in, first
///    out; callbacks added meanwhile wait for the next iteration;
/// 2. the timeouts due at the loop time sampled at the start of the
///    iteration run, in (deadline, insertion) order; one removed meanwhile
///    does not run;
/// 3. if [`stop`](IOLoop::stop) was called, `start` returns here;
/// 4. the prepare hooks run ([`add_prepare`](IOLoop::add_prepare));
/// 5. the loop polls: without blocking if callbacks are queued, else until
///    the next deadline, else until an event or a wakeup (on Linux a
///    deadline 50 ms or more away is kept by a timerfd of the loop's, armed
///    only when it would fire too late, so a long timeout that many waits
///    share costs the kernel nothing per wait);
/// 6. the handlers of the ready descriptors run (and those of events fed
///    with [`feed_fd_event`](IOLoop::feed_fd_event));
/// 7. the check hooks run ([`add_check`](IOLoop::add_check)), then the idle
///    hooks ([`add_idle`](IOLoop::add_idle)) if the loop would have slept
///    and nothing came up.
///
/// While callbacks keep arriving (each iteration queues more), the loop
/// skips the non-blocking poll for I/O on at most
/// [`MAX_POLL_SKIPS`](IOLoop::MAX_POLL_SKIPS) iterations in a row, rather
/// than polling on every one: a ready descriptor waits behind a stream of
/// callbacks for at most `MAX_POLL_SKIPS + 1` iterations.
/// [`Builder::max_poll_skips(0)`](Builder::max_poll_skips) gives Tornado's
/// poll on every iteration.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ioloop::IOLoop;
///
/// let ioloop = IOLoop::new()?;
/// ioloop.add_callback(|| println!("runs first"));
/// let handle = ioloop.clone();
/// ioloop.call_later(Duration::from_millis(10), move || handle.stop());
/// ioloop.start()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct IOLoop {
    pub(crate) inner: Rc<Inner>,
}

/// An opaque handle to a pending timeout, returned by
/// [`add_timeout`](IOLoop::add_timeout), [`call_later`](IOLoop::call_later)
/// and [`call_at`](IOLoop::call_at), and taken by
/// [`remove_timeout`](IOLoop::remove_timeout).
///
/// It is `Copy` and holds no reference to the loop or the callback.
/// Removing a timeout that already ran or was already removed is a no-op,
/// as is removing a handle on a loop other than the one that made it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ioloop::{IOLoop, TimeoutHandle};
///
/// let ioloop = IOLoop::new()?;
/// let handle: TimeoutHandle = ioloop.call_later(Duration::from_secs(60), || unreachable!());
/// let copy = handle; // Copy: no loop reference inside
/// assert!(ioloop.remove_timeout(handle));
/// assert!(!ioloop.remove_timeout(copy), "already removed");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeoutHandle {
    pub(crate) loop_id: u32,
    pub(crate) key: TimerKey,
}

/// Whether a new loop becomes the thread's current loop (Tornado's
/// `make_current` constructor argument).
///
/// # Examples
///
/// ```
/// use ioloop::{IOLoop, MakeCurrent};
///
/// let first = IOLoop::new()?; // the thread had none: current now
/// let side = IOLoop::builder().make_current(MakeCurrent::Never).build()?;
/// assert!(IOLoop::current().ptr_eq(&first));
/// assert!(!IOLoop::current().ptr_eq(&side));
/// assert!(IOLoop::builder().make_current(MakeCurrent::Always).build().is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MakeCurrent {
    /// Become current if the thread has no current loop (the default; rule [S4](crate::guide::rules#s4)).
    #[default]
    IfNone,
    /// Become current; fail with [`Error::CurrentExists`] if the thread
    /// already has one (rule [S6](crate::guide::rules#s6)).
    Always,
    /// Do not become current; `start` makes the loop current while it runs
    /// (rule [S5](crate::guide::rules#s5)).
    Never,
}

/// Options for a new loop; see [`IOLoop::builder`].
///
/// # Examples
///
/// ```
/// use ioloop::{IOLoop, MakeCurrent};
///
/// let ioloop = IOLoop::builder()
///     .make_current(MakeCurrent::Never)
///     .event_capacity(256)
///     .build()?;
/// assert!(IOLoop::try_current().is_none());
/// # drop(ioloop);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    make_current: MakeCurrent,
    event_capacity: usize,
    /// `None`: as the environment says.
    poller: Option<PollerKind>,
    max_poll_skips: u32,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            make_current: MakeCurrent::IfNone,
            event_capacity: 1024,
            poller: None,
            max_poll_skips: IOLoop::MAX_POLL_SKIPS,
        }
    }
}

impl Builder {
    /// Whether the new loop becomes the thread's current loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::{IOLoop, MakeCurrent};
    ///
    /// let ioloop = IOLoop::builder().make_current(MakeCurrent::Always).build()?;
    /// assert!(IOLoop::current().ptr_eq(&ioloop));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn make_current(mut self, make_current: MakeCurrent) -> Builder {
        self.make_current = make_current;
        self
    }

    /// How many readiness events one poll can return (default 1024; at
    /// least 1). More ready descriptors than this are reported by the next
    /// poll.
    ///
    /// # Examples
    ///
    /// ```
    /// let ioloop = ioloop::IOLoop::builder().event_capacity(64).build()?;
    /// # drop(ioloop);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn event_capacity(mut self, capacity: usize) -> Builder {
        self.event_capacity = capacity.max(1);
        self
    }

    /// Which poller the loop registers its descriptors with (see
    /// [`PollerKind`]). Without this call the environment variable
    /// `IOLOOP_POLLER` ([`POLLER_ENV`](crate::POLLER_ENV)) decides when the
    /// loop is built: `native` or `portable`; unset or empty means
    /// [`PollerKind::Native`].
    ///
    /// # Examples
    ///
    /// Run a loop on the edge-triggered, re-armed path that every platform
    /// but Linux takes:
    ///
    /// ```
    /// use ioloop::{IOLoop, PollerKind};
    ///
    /// let ioloop = IOLoop::builder().poller(PollerKind::Portable).build()?;
    /// assert_eq!(ioloop.poller(), PollerKind::Portable);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poller(mut self, kind: PollerKind) -> Builder {
        self.poller = Some(kind);
        self
    }

    /// How many busy iterations in a row (each with callbacks already
    /// queued for the next) may skip the non-blocking poll for I/O; default
    /// [`IOLoop::MAX_POLL_SKIPS`]. `0` polls on every iteration, as
    /// Tornado does: a ready descriptor is then served after at most one
    /// iteration of callbacks, at the cost of one `epoll_wait` per
    /// iteration while callbacks keep coming (see the guide's
    /// "Departures" section for the measured difference). Iterations with
    /// no descriptor registered never poll without blocking either way.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// // Tornado's cadence: poll for I/O on every iteration.
    /// let ioloop = IOLoop::builder().max_poll_skips(0).build()?;
    /// assert_eq!(ioloop.max_poll_skips(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn max_poll_skips(mut self, skips: u32) -> Builder {
        self.max_poll_skips = skips;
        self
    }

    /// Creates the loop.
    ///
    /// # Errors
    ///
    /// An `io::Error` if the operating system refuses the poller or the
    /// waker (for example `EMFILE`); an `InvalidInput` error naming the
    /// value if no poller was chosen and `IOLOOP_POLLER` names none; or one
    /// wrapping [`Error::CurrentExists`] with [`MakeCurrent::Always`] when
    /// the thread already has a current loop.
    ///
    /// # Examples
    ///
    /// ```
    /// let ioloop = ioloop::IOLoop::builder().build()?;
    /// assert!(!ioloop.is_running());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn build(self) -> io::Result<IOLoop> {
        if self.make_current == MakeCurrent::Always && current::get().is_some() {
            return Err(Error::CurrentExists.into());
        }
        let poller = match self.poller {
            Some(kind) => kind,
            None => PollerKind::from_env()?,
        };
        let poll = mio::Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
        let wait_timer = crate::core::wait_timer::WaitTimer::new(&poll);
        OPEN_LOOPS.fetch_add(1, Ordering::SeqCst);
        let ioloop = IOLoop {
            inner: Rc::new(Inner {
                id: NEXT_LOOP_ID.fetch_add(1, Ordering::Relaxed),
                remote: Arc::new(RemoteQueue::new(waker)),
                poll: RefCell::new(Some(poll)),
                poller,
                max_poll_skips: self.max_poll_skips,
                handlers: RefCell::default(),
                timers: RefCell::default(),
                queue: RefCell::default(),
                remote_taken: RefCell::default(),
                tasks: RefCell::default(),
                main_generation: Cell::new(0),
                executor: RefCell::new(None),
                running: Cell::new(false),
                closed: Cell::new(false),
                event_capacity: self.event_capacity,
                run_state: RefCell::new(Some(crate::core::run::RunState::new(self.event_capacity))),
                wait_timer,
                stats: Default::default(),
                watchers: Watchers::new(),
                exception_handler: RefCell::new(None),
                retained_fds: RefCell::default(),
                watchdog: crate::watchdog::LoopWatchdog::new(),
                signals: crate::signals::LoopSignals::default(),
            }),
        };
        match self.make_current {
            MakeCurrent::IfNone if current::get().is_none() => ioloop.make_current(),
            MakeCurrent::Always => ioloop.make_current(),
            _ => {}
        }
        Ok(ioloop)
    }
}

impl IOLoop {
    /// No events.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::{Events, IOLoop};
    ///
    /// assert!(IOLoop::NONE.is_empty());
    /// assert_eq!(IOLoop::NONE, Events::NONE);
    /// ```
    pub const NONE: Events = Events::NONE;
    /// Readable.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::{Events, IOLoop};
    ///
    /// assert_eq!(IOLoop::READ.bits(), 0x001); // Tornado's IOLoop.READ
    /// assert_eq!(IOLoop::READ, Events::READ);
    /// ```
    pub const READ: Events = Events::READ;
    /// Writable.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::{Events, IOLoop};
    ///
    /// assert_eq!(IOLoop::WRITE.bits(), 0x004); // Tornado's IOLoop.WRITE
    /// assert!((IOLoop::READ | IOLoop::WRITE).contains(Events::WRITE));
    /// ```
    pub const WRITE: Events = Events::WRITE;
    /// Error or hang-up; always delivered.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// assert_eq!(IOLoop::ERROR.bits(), 0x018); // Tornado's IOLoop.ERROR
    /// assert!(IOLoop::ERROR.is_error());
    /// ```
    pub const ERROR: Events = Events::ERROR;
    /// While callbacks are queued, the loop skips its non-blocking poll for
    /// I/O on at most this many iterations in a row by default: it polls at
    /// least once every `MAX_POLL_SKIPS + 1` iterations. Tornado polls on
    /// every iteration; [`Builder::max_poll_skips`] sets the bound per loop
    /// (`0` for Tornado's cadence).
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// // The default bound, and a loop with Tornado's poll on every iteration.
    /// assert_eq!(IOLoop::new()?.max_poll_skips(), IOLoop::MAX_POLL_SKIPS);
    /// let tornado_like = IOLoop::builder().max_poll_skips(0).build()?;
    /// assert_eq!(tornado_like.max_poll_skips(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const MAX_POLL_SKIPS: u32 = 32;

    /// The loop's bound on busy iterations in a row without a poll for I/O
    /// (see [`Builder::max_poll_skips`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// assert_eq!(ioloop.max_poll_skips(), IOLoop::MAX_POLL_SKIPS);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn max_poll_skips(&self) -> u32 {
        self.inner.max_poll_skips
    }

    /// Creates a loop. It becomes the thread's current loop if the thread
    /// has none (Tornado's rule [S4](crate::guide::rules#s4)); see [`builder`](IOLoop::builder) for
    /// other choices.
    ///
    /// # Errors
    ///
    /// An `io::Error` if the operating system refuses the poller (epoll) or
    /// the waker (eventfd), for example when out of descriptors.
    ///
    /// # Examples
    ///
    /// ```
    /// let ioloop = ioloop::IOLoop::new()?;
    /// assert!(ioloop::IOLoop::current().ptr_eq(&ioloop));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> io::Result<IOLoop> {
        Builder::default().build()
    }

    /// Options for a new loop.
    ///
    /// ```
    /// use ioloop::{IOLoop, MakeCurrent};
    /// let ioloop = IOLoop::builder().make_current(MakeCurrent::Never).build()?;
    /// assert!(IOLoop::try_current().is_none_or(|c| !c.ptr_eq(&ioloop)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> Builder {
        Builder::default()
    }

    // ----- callbacks -------------------------------------------------------

    /// Runs `f` on a later iteration of this loop.
    ///
    /// Callbacks run first in, first out. One added while an iteration runs
    /// (by a callback, a timeout or a handler) runs on the next iteration,
    /// never the current one (rule [C2](crate::guide::rules#c2)). From other threads use
    /// [`Remote::add_callback`].
    ///
    /// On a closed loop `f` is dropped silently (rule [C7](crate::guide::rules#c7)).
    ///
    /// # Semantics
    ///
    /// Local and remote callbacks share one order, as in Tornado, whose
    /// loop has one deque for all threads: a callback posted through a
    /// [`Remote`] (or a task woken from another thread) whose post happens
    /// before this call (the poster then sent a message on a channel that
    /// this thread received, say, or wrote to a pipe a handler here read)
    /// runs before `f`.
    ///
    /// This holds because each post sets the remote queue's pending flag
    /// under the queue's lock before it returns, and this call reads that
    /// flag first: a store that happens before a load is seen by it, or a
    /// later store is (coherence, whatever the memory orderings). The flag
    /// is cleared only on this thread, when the queue is taken. So the load
    /// finds it set, and this call moves the remote queue, under its lock,
    /// to the back of the local one before it queues `f`; or the loop had
    /// already taken the post. Posts that are not ordered before this call
    /// (racing with it) may land on either side of `f`.
    ///
    /// Moving the remote queue keeps the iteration rule: the callbacks
    /// that run in the current pass are those queued when it began, and
    /// everything moved now lands behind them, so a post made during the
    /// callback phase still waits for the next iteration, as in Tornado.
    ///
    /// On the loop's thread this takes no lock and makes no system call
    /// while nothing is posted from other threads: the check is one atomic
    /// load. Only when the flag is set does it take the remote queue's
    /// lock, once, for all that is posted.
    ///
    /// A panic in `f` is caught and reported to the exception handler,
    /// naming this call's location; the loop goes on.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let order = Rc::new(RefCell::new(Vec::new()));
    /// for i in 1..=3 {
    ///     let o = order.clone();
    ///     ioloop.add_callback(move || o.borrow_mut().push(i));
    /// }
    /// let l = ioloop.clone();
    /// ioloop.add_callback(move || l.stop());
    /// ioloop.start()?;
    /// assert_eq!(*order.borrow(), [1, 2, 3]); // first in, first out
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn add_callback<F>(&self, f: F)
    where
        F: FnOnce() + 'static,
    {
        self.add_callback_at(Location::caller(), f);
    }

    pub(crate) fn add_callback_at<F>(&self, site: &'static Location<'static>, f: F)
    where
        F: FnOnce() + 'static,
    {
        if self.inner.closed.get() {
            return;
        }
        self.inner.push_local(Runnable::Callback(Callback {
            f: Box::new(f),
            site,
        }));
    }

    /// Fire-and-forget: the same as [`add_callback`](IOLoop::add_callback)
    /// (Tornado 6 made them aliases; there is no stack context to leave
    /// behind in Rust). A panic in `f` is logged by the loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let l = ioloop.clone();
    /// ioloop.spawn_callback(move || l.stop());
    /// ioloop.start()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn spawn_callback<F>(&self, f: F)
    where
        F: FnOnce() + 'static,
    {
        self.add_callback(f);
    }

    /// A handle for other threads: see [`Remote`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let remote = ioloop.remote(); // Send + Sync: give it to other threads
    /// let worker = std::thread::spawn(move || remote.add_callback(|| IOLoop::current().stop()));
    /// ioloop.start()?;
    /// worker.join().unwrap();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remote(&self) -> Remote {
        Remote {
            queue: Arc::clone(&self.inner.remote),
        }
    }

    // ----- timeouts --------------------------------------------------------

    /// Seconds on the loop's clock, from an unspecified origin.
    ///
    /// The clock is monotonic (wall-clock changes do not move it) and is
    /// the same for every loop in the process. Absolute deadlines given as
    /// `f64` ([`call_at`](IOLoop::call_at), or `add_timeout` with an `f64`)
    /// are on this scale.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let start = ioloop.time();
    /// let elapsed = ioloop.run_sync(
    ///     || async move {
    ///         ioloop::sleep(Duration::from_millis(20)).await;
    ///         IOLoop::current().time() - start
    ///     },
    ///     Some(Duration::from_secs(10)),
    /// )?;
    /// assert!(elapsed >= 0.020, "deadlines never fire early");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn time(&self) -> f64 {
        deadline::ns_to_secs(deadline::now_ns())
    }

    /// Runs `f` at `deadline`: relative (a `Duration` or
    /// `chrono::TimeDelta`) or absolute (an `Instant`, a
    /// `chrono::DateTime<Utc>`, or an `f64` on the [`time`](IOLoop::time)
    /// scale). See [`Deadline`].
    ///
    /// # Semantics
    ///
    /// * Timeouts with equal deadlines run in the order they were added
    ///   (rule [T4](crate::guide::rules#t4)).
    /// * A timeout never runs early. The poller's resolution is one
    ///   millisecond, so it may run up to about a millisecond late, more
    ///   when the loop is busy.
    /// * A timeout added during an iteration runs on a later iteration,
    ///   even if its deadline has passed (rule [T9](crate::guide::rules#t9)).
    /// * On a closed loop, `f` is dropped and the handle is inert.
    ///
    /// # Panics
    ///
    /// Converting a NaN `f64` into a [`Deadline`] panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let handle = ioloop.add_timeout(Duration::from_secs(3600), || unreachable!());
    /// assert!(ioloop.remove_timeout(handle));
    /// assert!(!ioloop.remove_timeout(handle), "a second removal is a no-op");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn add_timeout<D, F>(&self, deadline: D, f: F) -> TimeoutHandle
    where
        D: Into<Deadline>,
        F: FnOnce() + 'static,
    {
        let site = Location::caller();
        let when = deadline.into().resolve(deadline::now_ns());
        self.insert_timeout(when, Box::new(f), site)
    }

    /// Runs `f` after `delay`: the same as `add_timeout(delay, f)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let start = ioloop.time();
    /// let l = ioloop.clone();
    /// ioloop.call_later(Duration::from_millis(10), move || l.stop());
    /// ioloop.start()?;
    /// assert!(ioloop.time() - start >= 0.010);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn call_later<F>(&self, delay: Duration, f: F) -> TimeoutHandle
    where
        F: FnOnce() + 'static,
    {
        self.add_timeout(delay, f)
    }

    /// Runs `f` at `when`, in seconds on the [`time`](IOLoop::time) scale.
    ///
    /// # Panics
    ///
    /// If `when` is NaN.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let when = ioloop.time() + 0.010; // 10 ms from now, on the loop's clock
    /// let l = ioloop.clone();
    /// ioloop.call_at(when, move || l.stop());
    /// ioloop.start()?;
    /// assert!(ioloop.time() >= when);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn call_at<F>(&self, when: f64, f: F) -> TimeoutHandle
    where
        F: FnOnce() + 'static,
    {
        self.add_timeout(when, f)
    }

    pub(crate) fn insert_timeout(
        &self,
        when_ns: u64,
        f: Box<dyn FnOnce()>,
        site: &'static Location<'static>,
    ) -> TimeoutHandle {
        if self.inner.closed.get() {
            drop(f);
            return TimeoutHandle {
                loop_id: 0,
                key: TimerKey::INERT,
            };
        }
        let key = self
            .inner
            .timers
            .borrow_mut()
            .insert(when_ns, Callback { f, site });
        TimeoutHandle {
            loop_id: self.inner.id,
            key,
        }
    }

    /// Cancels a pending timeout: it will not run. Returns whether it was
    /// pending; removing a timeout that already ran or was already removed
    /// is a no-op returning false (rules [T5](crate::guide::rules#t5), [T6](crate::guide::rules#t6)).
    ///
    /// The entry is removed from the timer heap at once (no tombstone), and
    /// its callback is dropped before this returns. A timeout that is due
    /// in the current iteration but has not run yet is removed too (rule [T7](crate::guide::rules#t7)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let never = ioloop.call_later(Duration::from_millis(1), || unreachable!("removed"));
    /// assert!(ioloop.remove_timeout(never));
    /// let l = ioloop.clone();
    /// ioloop.call_later(Duration::from_millis(5), move || l.stop());
    /// ioloop.start()?; // the removed timeout does not run
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remove_timeout(&self, handle: TimeoutHandle) -> bool {
        if handle.loop_id != self.inner.id {
            return false;
        }
        let removed = self.inner.timers.borrow_mut().remove(handle.key);
        // Dropped here, outside the borrow: its Drop may use the loop.
        removed.is_some()
    }

    // ----- I/O handlers ----------------------------------------------------

    /// Calls `handler(fd, events)` whenever `fd` is ready for `events`.
    ///
    /// The loop **borrows** `fd`: it never closes it, and the caller must
    /// call [`remove_handler`](IOLoop::remove_handler) before closing it
    /// (otherwise a closed descriptor whose number is reused can be
    /// confused with the old one). To hand the descriptor to the loop, use
    /// [`add_handler_owned`](IOLoop::add_handler_owned).
    ///
    /// # Semantics
    ///
    /// Level-triggered, as Tornado's: while `fd` stays ready for an event in
    /// `events` (data left unread, or a writable socket with `WRITE`
    /// interest), the handler is called again on every iteration.
    /// `ERROR` (error or hang-up) is always delivered, even when `events`
    /// does not ask for it (rule [H5](crate::guide::rules#h5)). The handler gets only the events it
    /// asked for, plus `ERROR` (rule [H6](crate::guide::rules#h6)). A handler removed by another
    /// handler earlier in the same batch is not called (rule [H8](crate::guide::rules#h8)). A panic
    /// in the handler is reported and the handler stays registered ([H10](crate::guide::rules#h10)).
    ///
    /// A handler that reads or writes until `WouldBlock` can say so with
    /// [`mark_drained`](IOLoop::mark_drained) and save the loop a system
    /// call.
    ///
    /// # Errors
    ///
    /// An `io::Error` naming `fd` if the descriptor is already registered
    /// (`AlreadyExists`, rule [H2](crate::guide::rules#h2)), if epoll refuses it (a regular file or a
    /// directory: `PermissionDenied`), if it is negative or not open
    /// (`EBADF`), or if the loop is closed.
    ///
    /// `InvalidInput` naming `fd` if the loop owned a descriptor with this
    /// number ([`add_handler_owned`](IOLoop::add_handler_owned)) that was
    /// closed without `remove_handler`: the loop drops that stale handler
    /// and lets go of the number without closing it (it now names the
    /// caller's descriptor), but does not register the new descriptor. A
    /// stale registration of a borrowed descriptor is replaced, with a
    /// warning.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    /// use ioloop::{Events, IOLoop};
    ///
    /// let ioloop = IOLoop::new()?;
    /// let (mut a, b) = UnixStream::pair()?;
    /// b.set_nonblocking(true)?;
    /// a.write_all(b"ping")?;
    /// let l = ioloop.clone();
    /// ioloop.add_handler(b.as_raw_fd(), Events::READ, move |fd, events| {
    ///     assert!(events.contains(Events::READ));
    ///     let mut buf = [0; 4];
    ///     (&b).read_exact(&mut buf).unwrap();
    ///     assert_eq!(&buf, b"ping");
    ///     l.remove_handler(fd);
    ///     l.stop();
    /// })?;
    /// ioloop.start()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn add_handler<H>(&self, fd: RawFd, events: Events, handler: H) -> io::Result<()>
    where
        H: FnMut(RawFd, Events) + 'static,
    {
        let site = Location::caller();
        self.register(fd, events, Trigger::Level, Box::new(handler), None, site)
    }

    /// Like [`add_handler`](IOLoop::add_handler), but **edge-triggered**:
    /// the handler is called when `fd` becomes ready (new data arrives,
    /// buffer space frees up, an error or hang-up occurs), not on every
    /// iteration while it stays ready.
    ///
    /// For code that reads and writes until `WouldBlock`, or remembers
    /// what readiness it has not consumed (as `netutil`'s streams do): it
    /// costs no system call per event on any platform, and an idle
    /// descriptor that stays writable (or a reader that pauses on a full
    /// buffer) is not reported again and again. Readiness the handler
    /// leaves unconsumed is not reported until it changes. `update_handler`
    /// keeps the registration edge-triggered.
    ///
    /// With `READ` interest the handler also receives
    /// [`Events::READ_CLOSED`] beside `READ` once the peer has shut down
    /// its sending side, so code that stops reading at a short read (the
    /// kernel had no more) knows when an end of file is waiting that no
    /// further edge will announce.
    ///
    /// # Errors
    ///
    /// As [`add_handler`](IOLoop::add_handler).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::io::{Read, Write};
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    /// use std::rc::Rc;
    /// use ioloop::{Events, IOLoop};
    ///
    /// let ioloop = IOLoop::new()?;
    /// let (mut a, mut b) = UnixStream::pair()?;
    /// b.set_nonblocking(true)?;
    /// a.write_all(b"ping")?;
    /// let (got, l, fd) = (Rc::new(RefCell::new(Vec::new())), ioloop.clone(), b.as_raw_fd());
    /// let g = got.clone();
    /// ioloop.add_edge_handler(fd, Events::READ, move |fd, _| {
    ///     // Edge-triggered: read until WouldBlock.
    ///     let mut buf = [0; 16];
    ///     while let Ok(n @ 1..) = b.read(&mut buf) {
    ///         g.borrow_mut().extend_from_slice(&buf[..n]);
    ///     }
    ///     l.remove_handler(fd);
    ///     l.stop();
    /// })?;
    /// ioloop.start()?;
    /// assert_eq!(*got.borrow(), b"ping");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn add_edge_handler<H>(&self, fd: RawFd, events: Events, handler: H) -> io::Result<()>
    where
        H: FnMut(RawFd, Events) + 'static,
    {
        let site = Location::caller();
        self.register(fd, events, Trigger::Edge, Box::new(handler), None, site)
    }

    /// Like [`add_handler`](IOLoop::add_handler), but the loop **owns** the
    /// descriptor: [`remove_handler`](IOLoop::remove_handler) hands it back,
    /// [`close(true)`](IOLoop::close) closes it, and after `close(false)` it
    /// stays open until the last handle to the loop is dropped. Returns the
    /// raw descriptor number, to use with `update_handler` and friends.
    ///
    /// # Errors
    ///
    /// As `add_handler`; on error the descriptor is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::unix::net::UnixStream;
    /// use ioloop::{Events, IOLoop};
    ///
    /// let ioloop = IOLoop::new()?;
    /// let (mut a, b) = UnixStream::pair()?;
    /// a.write_all(b"x")?;
    /// let l = ioloop.clone();
    /// // The loop owns `b` now; remove_handler hands it back.
    /// let fd = ioloop.add_handler_owned(b, Events::READ, move |fd, _| {
    ///     let b: UnixStream = l.remove_handler(fd).expect("owned").into();
    ///     drop(b); // closes it
    ///     l.stop();
    /// })?;
    /// assert!(fd >= 0);
    /// ioloop.start()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn add_handler_owned<H>(
        &self,
        fd: impl Into<OwnedFd>,
        events: Events,
        handler: H,
    ) -> io::Result<RawFd>
    where
        H: FnMut(RawFd, Events) + 'static,
    {
        let site = Location::caller();
        let owned: OwnedFd = fd.into();
        let raw = owned.as_raw_fd();
        self.register(
            raw,
            events,
            Trigger::Level,
            Box::new(handler),
            Some(owned),
            site,
        )?;
        Ok(raw)
    }

    pub(crate) fn register(
        &self,
        fd: RawFd,
        events: Events,
        trigger: Trigger,
        handler: handlers::HandlerFn,
        owned: Option<OwnedFd>,
        site: &'static Location<'static>,
    ) -> io::Result<()> {
        if fd < 0 {
            return Err(fd_error(
                "add_handler",
                fd,
                io::Error::from_raw_os_error(libc::EBADF),
            ));
        }
        let poll = self.inner.poll.borrow();
        let Some(poll) = poll.as_ref() else {
            return Err(Error::Closed.into());
        };
        let poller = self.inner.poller;
        let mut table = self.inner.handlers.borrow_mut();
        let stale = if table.slot_of(fd).is_some() {
            // Registered already. If the kernel still has it, this is a
            // double registration (EEXIST below). If the descriptor was
            // closed without remove_handler, the kernel dropped it and the
            // number was reused: the old registration is stale.
            match poller.register(poll, fd, mio::Token(usize::MAX - 1), events, trigger) {
                Ok(()) => {
                    let _ = poller.deregister(poll, fd);
                    let mut stale = table.remove(fd);
                    if let Some(owned) = stale.as_mut().and_then(|reg| reg.owned.take()) {
                        // The number now names the caller's descriptor:
                        // dropping the old one would close it. Let go of
                        // the number without closing it, and refuse.
                        let _ = owned.into_raw_fd();
                        drop(table);
                        drop(stale);
                        log::warn!(
                            target: "ioloop",
                            "fd {fd} was owned by the loop and closed without remove_handler; its handler is dropped"
                        );
                        return Err(fd_error(
                            "add_handler",
                            fd,
                            io::Error::new(
                                io::ErrorKind::InvalidInput,
                                "an owned descriptor with this number was closed without \
                                 remove_handler: its handler is dropped, and this descriptor is \
                                 left open and unregistered",
                            ),
                        ));
                    }
                    log::warn!(
                        target: "ioloop",
                        "fd {fd} was closed without remove_handler; replacing its stale registration"
                    );
                    stale
                }
                Err(err) => {
                    let err = if err.kind() == io::ErrorKind::AlreadyExists {
                        io::Error::new(io::ErrorKind::AlreadyExists, "already registered")
                    } else {
                        err
                    };
                    return Err(fd_error("add_handler", fd, err));
                }
            }
        } else {
            None
        };
        let token = table.insert(fd, events, handler, owned, trigger, site);
        if let Err(err) = poller.register(poll, fd, token, events, trigger) {
            let reg = table.remove(fd);
            drop(table);
            drop(stale);
            drop(reg);
            return Err(fd_error("add_handler", fd, err));
        }
        drop(table);
        drop(stale);
        Ok(())
    }

    /// Changes the events `fd`'s handler listens for (`ERROR` is always
    /// included, rule [H11](crate::guide::rules#h11)).
    ///
    /// # Errors
    ///
    /// `NotFound` naming `fd` if it has no handler; an OS error from epoll
    /// otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    /// use std::rc::Rc;
    /// use ioloop::{Events, IOLoop};
    ///
    /// let ioloop = IOLoop::new()?;
    /// let (a, _b) = UnixStream::pair()?;
    /// let (got, l, fd) = (Rc::new(Cell::new(Events::NONE)), ioloop.clone(), a.as_raw_fd());
    /// let g = got.clone();
    /// ioloop.add_handler(fd, Events::NONE, move |fd, events| {
    ///     g.set(events);
    ///     l.remove_handler(fd);
    ///     l.stop();
    /// })?;
    /// ioloop.update_handler(fd, Events::WRITE)?; // now tell me when it is writable
    /// ioloop.start()?;
    /// assert!(got.get().is_writable());
    /// assert!(ioloop.update_handler(fd, Events::READ).is_err(), "no handler any more");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn update_handler(&self, fd: RawFd, events: Events) -> io::Result<()> {
        let poll = self.inner.poll.borrow();
        let Some(poll) = poll.as_ref() else {
            return Err(Error::Closed.into());
        };
        let mut table = self.inner.handlers.borrow_mut();
        let Some((slot, reg)) = table.by_fd(fd) else {
            return Err(fd_error(
                "update_handler",
                fd,
                io::Error::new(io::ErrorKind::NotFound, "no handler registered"),
            ));
        };
        reg.interest = events;
        reg.rearmed = true;
        let token = reg.token(slot);
        self.inner
            .poller
            .reregister(poll, fd, token, events, reg.trigger)
            .map_err(|err| fd_error("update_handler", fd, err))
    }

    /// Stops listening on `fd`. A removed handler is never called again,
    /// not even for an event already collected in the current batch (rule
    /// [H8](crate::guide::rules#h8)). Removing an `fd` without a handler is a no-op (rule [H4](crate::guide::rules#h4)).
    ///
    /// Returns the descriptor if the loop owned it
    /// ([`add_handler_owned`](IOLoop::add_handler_owned)); dropping the
    /// returned value closes it. Returns `None` for a borrowed descriptor.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    /// use ioloop::{Events, IOLoop};
    ///
    /// let ioloop = IOLoop::new()?;
    /// let (a, _b) = UnixStream::pair()?;
    /// ioloop.add_handler(a.as_raw_fd(), Events::READ, |_, _| {})?;
    /// // A borrowed descriptor: nothing is handed back; remove before closing.
    /// assert!(ioloop.remove_handler(a.as_raw_fd()).is_none());
    /// drop(a);
    /// assert!(ioloop.remove_handler(12345).is_none(), "no handler: a no-op");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remove_handler(&self, fd: RawFd) -> Option<OwnedFd> {
        let removed = self.inner.handlers.borrow_mut().remove(fd);
        let Some(mut reg) = removed else {
            log::debug!(target: "ioloop", "remove_handler: fd {fd} has no handler");
            return None;
        };
        if let Some(poll) = self.inner.poll.borrow().as_ref()
            && let Err(err) = self.inner.poller.deregister(poll, fd)
        {
            // Closed before removal: the kernel already dropped it.
            log::debug!(target: "ioloop", "remove_handler: deregister fd {fd}: {err}");
        }
        let owned = reg.owned.take();
        drop(reg); // drops the handler, outside every borrow
        owned
    }

    /// Tells the loop that the handler now running for `fd` read (or wrote)
    /// until `WouldBlock` for `events`, so the descriptor need not be
    /// re-armed: the "drained" fast path.
    ///
    /// # Portability
    ///
    /// With the native poller on Linux registrations are natively
    /// level-triggered, nothing is ever re-armed, and this is a no-op.
    /// Where the poller is edge-triggered (mio's kqueue on the BSDs and
    /// macOS, and [`PollerKind::Portable`] anywhere), the loop keeps
    /// level-triggered semantics by re-arming after each dispatch, at one
    /// system call per dispatched event; a handler that always drains (as
    /// `netutil`'s streams do) saves it with this call. Calling it for
    /// events that are not drained makes the handler miss level-triggered
    /// repeats there until the descriptor's readiness changes. Outside a
    /// handler for `fd` it has no effect.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    /// use ioloop::{Events, IOLoop};
    ///
    /// let ioloop = IOLoop::new()?;
    /// let (mut a, mut b) = UnixStream::pair()?;
    /// b.set_nonblocking(true)?;
    /// a.write_all(b"data")?;
    /// let l = ioloop.clone();
    /// ioloop.add_handler(b.as_raw_fd(), Events::READ, move |fd, _| {
    ///     let mut buf = [0; 64];
    ///     while let Ok(1..) = b.read(&mut buf) {} // read until WouldBlock...
    ///     l.mark_drained(fd, Events::READ); // ...so no re-arm is needed
    ///     l.remove_handler(fd);
    ///     l.stop();
    /// })?;
    /// ioloop.start()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn mark_drained(&self, fd: RawFd, events: Events) {
        if let Some((_, reg)) = self.inner.handlers.borrow_mut().by_fd(fd) {
            reg.drained |= events;
        }
    }

    // ----- lifecycle -------------------------------------------------------

    /// Runs the loop until [`stop`](IOLoop::stop) is called.
    ///
    /// While it runs, this loop is the thread's current loop; the previous
    /// one is restored when `start` returns (rules [S5](crate::guide::rules#s5), [L8](crate::guide::rules#l8)).
    ///
    /// # Semantics
    ///
    /// * `stop()` called before `start()` makes this `start()` return at
    ///   once, without running anything; the one after runs normally ([L2](crate::guide::rules#l2)).
    /// * A stopped loop can be started again ([L7](crate::guide::rules#l7)).
    ///
    /// # Errors
    ///
    /// * [`Error::AlreadyRunning`] if the loop is running (a nested
    ///   `start`, rule [L6](crate::guide::rules#l6)); the running loop is not disturbed.
    /// * [`Error::Closed`] after [`close`](IOLoop::close).
    /// * [`Error::Io`] if polling fails with anything but `EINTR` (which is
    ///   a wakeup, rule [O5](crate::guide::rules#o5)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use ioloop::{Error, IOLoop};
    ///
    /// let ioloop = IOLoop::new()?;
    /// let (nested, l) = (Rc::new(RefCell::new(None)), ioloop.clone());
    /// let n = nested.clone();
    /// ioloop.add_callback(move || {
    ///     *n.borrow_mut() = Some(l.start()); // a nested start is refused
    ///     l.stop();
    /// });
    /// ioloop.start()?; // runs until stop()
    /// assert!(matches!(*nested.borrow(), Some(Err(Error::AlreadyRunning))));
    /// ioloop.stop();
    /// ioloop.start()?; // stopped before it started: returns at once
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(&self) -> Result<(), Error> {
        crate::core::run::run(self, None)
    }

    /// Stops the loop: [`start`](IOLoop::start) returns at the end of the
    /// current iteration, after the remaining callbacks and due timeouts
    /// of the iteration (rules [L1](crate::guide::rules#l1), [L3](crate::guide::rules#l3), [L4](crate::guide::rules#l4)). If the loop is not running, the
    /// next `start()` returns at once (rule [L2](crate::guide::rules#l2)). From another thread, use
    /// [`Remote::stop`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// ioloop.stop(); // before start: the next start returns at once
    /// ioloop.add_callback(|| unreachable!("start returned before running it"));
    /// ioloop.start()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stop(&self) {
        self.inner.remote.request_stop();
    }

    /// True while [`start`](IOLoop::start) runs.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// assert!(!ioloop.is_running());
    /// let (running, l) = (Rc::new(Cell::new(false)), ioloop.clone());
    /// let r = running.clone();
    /// ioloop.add_callback(move || {
    ///     r.set(l.is_running());
    ///     l.stop();
    /// });
    /// ioloop.start()?;
    /// assert!(running.get());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_running(&self) -> bool {
        self.inner.running.get()
    }

    /// True after [`close`](IOLoop::close).
    ///
    /// # Examples
    ///
    /// ```
    /// let ioloop = ioloop::IOLoop::new()?;
    /// assert!(!ioloop.is_closed());
    /// ioloop.close(false)?;
    /// assert!(ioloop.is_closed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.closed.get()
    }

    /// Closes the loop, freeing its resources: the epoll descriptor and the
    /// waker are closed, pending callbacks and timeouts are dropped, and
    /// every handler is removed and dropped (which also breaks reference
    /// cycles through the loop).
    ///
    /// With `all_fds`, every descriptor the loop owns
    /// ([`add_handler_owned`](IOLoop::add_handler_owned)) is closed now;
    /// without, they stay open until the last handle to the loop is
    /// dropped. Borrowed descriptors ([`add_handler`](IOLoop::add_handler))
    /// are never closed by the loop: their owners close them.
    ///
    /// Afterwards `add_callback` (here and on every [`Remote`]) drops its
    /// callback silently, `start` fails with [`Error::Closed`], and this
    /// loop is no longer the thread's current loop. Closing twice is a no-op.
    ///
    /// # Errors
    ///
    /// [`Error::Running`] if the loop is running: stop it and let `start`
    /// return first (rule [L9](crate::guide::rules#l9)).
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::{Error, IOLoop};
    ///
    /// let ioloop = IOLoop::new()?;
    /// ioloop.add_callback(|| unreachable!("dropped by close"));
    /// ioloop.close(true)?;
    /// assert!(matches!(ioloop.start(), Err(Error::Closed)));
    /// ioloop.close(true)?; // closing twice is a no-op
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self, all_fds: bool) -> Result<(), Error> {
        if self.inner.running.get() {
            return Err(Error::Running);
        }
        if self.inner.closed.replace(true) {
            return Ok(());
        }
        OPEN_LOOPS.fetch_sub(1, Ordering::SeqCst);
        self.inner.watchdog.disable();
        self.inner.signals.close(self);
        let leftovers = self.inner.remote.close();
        let callbacks = std::mem::take(&mut *self.inner.queue.borrow_mut());
        let tasks = self.inner.tasks.borrow_mut().drain();
        let timers = self.inner.timers.borrow_mut().drain();
        let registrations = self.inner.handlers.borrow_mut().drain();
        let poll = self.inner.poll.borrow_mut().take();
        self.inner.wait_timer.close();
        // The watchers go too; in a forked child the epoll set is the
        // parent's: leave it be.
        let hooks = crate::watchers::close(self);
        let poll = poll.filter(|_| crate::watchers::same_process(self));
        let mut keep = Vec::new();
        // Dropped in order, outside every borrow: user Drop code may call
        // back into the (now closed) loop.
        for mut reg in registrations {
            if let Some(poll) = poll.as_ref() {
                let _ = self.inner.poller.deregister(poll, reg.fd);
            }
            if let Some(owned) = reg.owned.take() {
                if all_fds {
                    drop(owned);
                } else {
                    keep.push(owned);
                }
            }
            drop(reg);
        }
        drop(poll);
        drop(leftovers);
        drop(callbacks);
        drop(tasks);
        drop(timers);
        drop(hooks);
        self.inner.retained_fds.borrow_mut().extend(keep);
        current::clear_if(self);
        Ok(())
    }

    /// Replaces the exception handler: the function told about every panic
    /// the loop catches in a callback, timeout or handler (Tornado's
    /// `handle_callback_exception`, rule [E2](crate::guide::rules#e2)). The default logs one
    /// `log::error!` record naming what panicked and where it was
    /// registered. A panic inside the exception handler is itself caught
    /// and logged.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let seen = Rc::new(RefCell::new(Vec::new()));
    /// let s = seen.clone();
    /// ioloop.set_exception_handler(move |panic| {
    ///     s.borrow_mut().push(panic.message().unwrap_or("").to_owned());
    /// });
    /// ioloop.add_callback(|| panic!("boom"));
    /// let l = ioloop.clone();
    /// ioloop.add_callback(move || l.stop());
    /// # std::panic::set_hook(Box::new(|_| {}));
    /// ioloop.start()?;
    /// assert_eq!(*seen.borrow(), ["boom"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_exception_handler<F>(&self, handler: F)
    where
        F: Fn(&CallbackPanic<'_>) + 'static,
    {
        *self.inner.exception_handler.borrow_mut() = Some(Rc::new(handler));
    }

    /// Restores the default exception handler (log with `log::error!`).
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// ioloop.set_exception_handler(|_| {});
    /// ioloop.reset_exception_handler(); // back to log::error!
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reset_exception_handler(&self) {
        let old = self.inner.exception_handler.borrow_mut().take();
        drop(old);
    }

    /// Runs `f` under `catch_unwind`, reporting a panic as `kind` registered
    /// at `site`. The one place user code is called from.
    ///
    /// Always inlined: `kind` is then a constant at each call site, which
    /// keeps the watchdog's publication to two stores (with `#[inline]`
    /// alone this function was not inlined, and the watchdog cost twice as
    /// much on the callback-chain benchmark).
    #[inline(always)]
    pub(crate) fn run_guarded(
        &self,
        kind: CallbackKind,
        site: &'static Location<'static>,
        f: impl FnOnce(),
    ) {
        // Published for the blocking watchdog (a branch when it is off).
        self.inner.watchdog.begin(kind, site);
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(f)) {
            self.report_panic(&CallbackPanic::new(kind, site, &*payload));
            // A payload whose Drop panics must not unwind out of the loop.
            let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(payload)));
        }
    }

    #[cold]
    pub(crate) fn report_panic(&self, report: &CallbackPanic<'_>) {
        let handler = self.inner.exception_handler.borrow().clone();
        match handler {
            Some(handler) => {
                if panic::catch_unwind(AssertUnwindSafe(|| handler(report))).is_err() {
                    log::error!(target: "ioloop", "the exception handler panicked while reporting: {report}");
                }
            }
            None => exception::log_panic(report),
        }
    }

    // ----- current and instance --------------------------------------------

    /// The thread's current loop: the one running on this thread, or made
    /// current by [`make_current`](IOLoop::make_current) or by creation
    /// ([`new`](IOLoop::new)). With none, on the instance's thread this is
    /// the [`instance`](IOLoop::instance) (Tornado 4's fallback); on any
    /// other thread a new loop is created and becomes current.
    ///
    /// # Semantics
    ///
    /// A loop created here runs only if this thread starts it. Tornado 4
    /// code that posts work from a worker thread with
    /// `IOLoop.current().add_callback(f)` would queue `f` on a new loop of
    /// the worker's own that never runs. Such work belongs on the loop that
    /// runs: send it through that loop's [`Remote`] (for the instance,
    /// [`instance_remote`](IOLoop::instance_remote)), or ask with
    /// [`try_current`](IOLoop::try_current), which never creates a loop.
    /// If a loop created here is let go with callbacks or timeouts that
    /// never ran (when the thread exits, or when
    /// [`clear_current`](IOLoop::clear_current) or
    /// [`make_current`](IOLoop::make_current) drops its last handle), a
    /// `log::warn!` record says how many and points here.
    ///
    /// # Panics
    ///
    /// If a loop must be created and the operating system refuses it (for
    /// example out of descriptors). Use [`try_current`](IOLoop::try_current)
    /// and [`new`](IOLoop::new) to handle that case.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?; // becomes this thread's current loop
    /// assert!(IOLoop::current().ptr_eq(&ioloop));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn current() -> IOLoop {
        if let Some(ioloop) = current::get() {
            return ioloop;
        }
        if let Some(instance) = current::instance_here() {
            return instance;
        }
        match IOLoop::new() {
            Ok(ioloop) => {
                current::set_implicit(&ioloop);
                ioloop
            }
            Err(err) => panic!("IOLoop::current(): cannot create a loop: {err}"),
        }
    }

    /// The thread's current loop, without creating one (Tornado's
    /// `current(instance=False)`): `None` on a thread where no loop runs or
    /// was made current. Unlike [`current`](IOLoop::current), it does not
    /// fall back to the instance on the instance's thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// std::thread::spawn(|| {
    ///     // A worker thread: no loop here, and none is created.
    ///     assert!(IOLoop::try_current().is_none());
    /// })
    /// .join()
    /// .unwrap();
    /// ```
    pub fn try_current() -> Option<IOLoop> {
        current::get()
    }

    /// Makes this loop the thread's current loop (rule [S7](crate::guide::rules#s7)).
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::{IOLoop, MakeCurrent};
    ///
    /// let ioloop = IOLoop::builder().make_current(MakeCurrent::Never).build()?;
    /// assert!(IOLoop::try_current().is_none());
    /// ioloop.make_current();
    /// assert!(IOLoop::current().ptr_eq(&ioloop));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn make_current(&self) {
        current::set(Some(self.clone()));
    }

    /// Clears the thread's current loop; a no-op if there is none (rule [S7](crate::guide::rules#s7)).
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let _ioloop = IOLoop::new()?;
    /// assert!(IOLoop::try_current().is_some());
    /// IOLoop::clear_current();
    /// assert!(IOLoop::try_current().is_none());
    /// IOLoop::clear_current(); // no current loop: a no-op
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn clear_current() {
        current::set(None);
    }

    /// The process-wide instance: the loop most applications run on their
    /// main thread.
    ///
    /// Created on first use, on the calling thread, which becomes its home:
    /// if the thread has a current loop, that loop is installed as the
    /// instance (so one thread never runs two "main" loops, a confusion
    /// Tornado users met: tornadoweb/tornado#1390); otherwise a new loop is created. Creation
    /// is thread-safe (rule [S1](crate::guide::rules#s1)).
    ///
    /// Other threads reach the instance through its remote handle,
    /// [`Remote::instance`].
    ///
    /// # Panics
    ///
    /// If the instance lives on another thread (use `Remote::instance()`
    /// there), or if it must be created and the operating system refuses.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::{IOLoop, Remote};
    ///
    /// let main_loop = IOLoop::instance();
    /// let worker = std::thread::spawn(|| {
    ///     let remote = Remote::instance().expect("created by the main thread");
    ///     remote.add_callback(|| IOLoop::instance().stop());
    /// });
    /// main_loop.start()?;
    /// worker.join().unwrap();
    /// # IOLoop::clear_instance();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn instance() -> IOLoop {
        let created = current::instance_or_create(|| match current::get() {
            Some(current) => current,
            None => match IOLoop::new() {
                Ok(ioloop) => ioloop,
                Err(err) => panic!("IOLoop::instance(): cannot create a loop: {err}"),
            },
        });
        match created {
            Ok(ioloop) => ioloop,
            Err(home) => panic!(
                "IOLoop::instance() called on {:?}, but the instance lives on {home:?}; \
                 use ioloop::Remote::instance() from other threads",
                std::thread::current().id()
            ),
        }
    }

    /// True if the process-wide instance exists.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// # IOLoop::clear_instance();
    /// assert!(!IOLoop::initialized());
    /// let _main = IOLoop::instance();
    /// assert!(IOLoop::initialized());
    /// # IOLoop::clear_instance();
    /// ```
    pub fn initialized() -> bool {
        current::initialized()
    }

    /// Makes this loop the process-wide instance (for example a loop built
    /// with custom options). Its thread becomes the instance's home.
    ///
    /// # Errors
    ///
    /// [`Error::InstanceExists`] if there is already an instance (rule [S2](crate::guide::rules#s2)).
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::{Error, IOLoop};
    ///
    /// # IOLoop::clear_instance();
    /// let custom = IOLoop::builder().max_poll_skips(0).build()?;
    /// custom.install()?;
    /// assert!(IOLoop::instance().ptr_eq(&custom));
    /// assert!(matches!(IOLoop::new()?.install(), Err(Error::InstanceExists)));
    /// # IOLoop::clear_instance();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn install(&self) -> Result<(), Error> {
        current::install(self)
    }

    /// Forgets the process-wide instance, so the next
    /// [`instance`](IOLoop::instance) creates a new one. The loop itself is
    /// neither stopped nor closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let first = IOLoop::instance();
    /// IOLoop::clear_instance();
    /// assert!(!IOLoop::initialized());
    /// assert!(!first.is_closed(), "neither stopped nor closed");
    /// # IOLoop::clear_instance();
    /// ```
    pub fn clear_instance() {
        current::clear_instance();
    }

    /// The number of loops in this process that were created and are
    /// neither closed nor dropped, on any thread. A process that forks
    /// (`netutil::fork_processes`) checks it is zero: a loop's epoll
    /// descriptor would be shared with the children.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// assert!(IOLoop::open_loops() >= 1);
    /// ioloop.close(false)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_loops() -> usize {
        OPEN_LOOPS.load(Ordering::SeqCst)
    }

    /// True if both handles refer to the same loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let a = IOLoop::new()?;
    /// let b = IOLoop::new()?;
    /// assert!(a.ptr_eq(&a.clone()));
    /// assert!(!a.ptr_eq(&b));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ptr_eq(&self, other: &IOLoop) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }

    /// A weak handle, which does not keep the loop alive (to break cycles
    /// through callbacks that hold the loop).
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let weak = ioloop.downgrade();
    /// assert!(weak.upgrade().is_some());
    /// # IOLoop::clear_current();
    /// drop(ioloop);
    /// assert!(weak.upgrade().is_none(), "a weak handle does not keep the loop alive");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn downgrade(&self) -> WeakIOLoop {
        WeakIOLoop {
            inner: Rc::downgrade(&self.inner),
        }
    }
}

impl fmt::Debug for IOLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IOLoop")
            .field("id", &self.inner.id)
            .field("running", &self.inner.running.get())
            .field("closed", &self.inner.closed.get())
            .field("handlers", &self.inner.handlers.borrow().len())
            .field("timeouts", &self.inner.timers.borrow().len())
            .field("queued", &self.inner.queue.borrow().len())
            .field("tasks", &self.inner.tasks.borrow().len())
            .finish()
    }
}

/// A weak reference to an [`IOLoop`], from [`IOLoop::downgrade`].
///
/// # Examples
///
/// ```
/// use ioloop::IOLoop;
///
/// let ioloop = IOLoop::new()?;
/// let weak = ioloop.downgrade();
/// // A callback holding a weak handle forms no cycle through the loop.
/// ioloop.add_callback(move || weak.upgrade().expect("alive while it runs").stop());
/// ioloop.start()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct WeakIOLoop {
    inner: Weak<Inner>,
}

impl WeakIOLoop {
    /// The loop, if it is still alive.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// assert!(ioloop.downgrade().upgrade().unwrap().ptr_eq(&ioloop));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn upgrade(&self) -> Option<IOLoop> {
        self.inner.upgrade().map(|inner| IOLoop { inner })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if !self.closed.get() {
            OPEN_LOOPS.fetch_sub(1, Ordering::SeqCst);
            // Remotes outlive the loop: close their door, so later posts
            // are refused, and drop what they queued and the eventfd now.
            drop(self.remote.close());
        }
    }
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inner").field("id", &self.id).finish()
    }
}
