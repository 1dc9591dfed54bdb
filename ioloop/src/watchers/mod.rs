//! The watchers libev, libuv, asyncio and evergreen loops offer beside
//! Tornado's API: optional parts that cost a loop nothing until used.
//!
//! * [`hooks`]: prepare, check and idle hooks;
//! * [`refs`]: which watchers keep [`IOLoop::run`](crate::IOLoop::run)
//!   going;
//! * [`run_modes`]: `run`, `run_forever` and `run_once`;
//! * [`batching`]: `io_interval` and `timeout_interval`;
//! * [`suspend`]: `suspend` and `resume`;
//! * [`feed`]: events fed as if the poller had reported them;
//! * [`children`]: child exit watchers;
//! * [`fork`]: a loop after `fork()`;
//! * [`periodic`]: Tornado's [`PeriodicCallback`](crate::PeriodicCallback);
//! * [`handle`]: scheduling calls that return a cancellable handle;
//! * [`features`]: the byte that says which of these a loop uses.
//!
//! # How they meet the core
//!
//! The core holds one [`Watchers`] value and knows nothing of what is in
//! it. One iteration calls the hook points below, each named after where
//! it sits in [`run`](crate::core::run). The iteration reads the
//! [`InUse`] bits once; on the busy path (callbacks queued, the poll
//! skipped) a loop that uses no watcher pays that one load and a few tests
//! of the byte for all of them: no call, borrow or allocation. The hook points after a
//! real poll re-read the bit they need, and `blocking_timeout` is reached
//! only by a poll about to sleep. The watchers in turn use the core
//! through its methods and those of its tables (the handler table, the
//! timer heap), never by setting a field of the loop's state.

pub(crate) mod batching;
pub(crate) mod children;
pub(crate) mod features;
pub(crate) mod feed;
pub(crate) mod fork;
pub(crate) mod handle;
pub(crate) mod hooks;
pub(crate) mod periodic;
pub(crate) mod refs;
pub(crate) mod run_modes;
pub(crate) mod suspend;

use std::cell::Cell;
use std::fmt;
use std::time::Duration;

use mio::Token;

use crate::core::run::Until;
use crate::{Error, Events, IOLoop};

pub(crate) use self::features::InUse;
pub(crate) use self::refs::{KeepAlive, RefFlag};

use self::features::Features;

/// The state of every watcher of one loop: the one field the core's
/// [`Inner`](crate::core::ioloop::Inner) holds for them all. Loop thread
/// only.
pub(crate) struct Watchers {
    /// Which of the watchers below are in use.
    features: Features,
    /// Prepare, check and idle hooks.
    hooks: hooks::Hooks,
    /// Referenced watchers outside the handler table and the timer heap.
    keep_alive: refs::KeepAlive,
    /// `io_interval` and `timeout_interval`.
    batching: batching::Batching,
    /// When the loop was suspended.
    suspension: suspend::Suspension,
    /// Running periodic callbacks, rescheduled on resume.
    periodics: periodic::Periodics,
    /// Events fed with `feed_fd_event`.
    fed: feed::FedEvents,
    /// Child exit watchers.
    children: children::Children,
    /// The process that created the loop, or reset it after a fork.
    owner_pid: Cell<u32>,
    /// Cancelled `call_soon` callbacks still in the run queue.
    cancelled_soon: Cell<usize>,
}

impl Watchers {
    /// No watcher in use, owned by this process.
    pub(crate) fn new() -> Watchers {
        Watchers {
            features: Features::default(),
            hooks: hooks::Hooks::default(),
            keep_alive: refs::KeepAlive::default(),
            batching: batching::Batching::default(),
            suspension: suspend::Suspension::default(),
            periodics: periodic::Periodics::default(),
            fed: feed::FedEvents::default(),
            children: children::Children::default(),
            owner_pid: Cell::new(std::process::id()),
            cancelled_soon: Cell::new(0),
        }
    }

    /// Which watchers are in use: read once an iteration, before the stop
    /// check, and given to the hook points after it.
    #[inline(always)]
    pub(crate) fn in_use(&self) -> InUse {
        self.features.in_use()
    }

    /// The count of referenced watchers kept outside the handler table and
    /// the timer heap, for the signal handlers' reference flags.
    pub(crate) fn keep_alive(&self) -> &KeepAlive {
        &self.keep_alive
    }

    /// How many queued callbacks were cancelled and will not run, for
    /// [`IOLoop::pending`].
    pub(crate) fn cancelled_soon(&self) -> usize {
        self.cancelled_soon.get()
    }
}

impl fmt::Debug for Watchers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watchers")
            .field("in_use", &self.in_use())
            .field("keep_alive", &self.keep_alive.get())
            .finish_non_exhaustive()
    }
}

/// Hook point on entering `start`, `run`, `run_once` or `run_sync`: a loop
/// in a forked child without `reset_after_fork`, or a suspended loop,
/// refuses to run.
pub(crate) fn before_run(ioloop: &IOLoop) -> Result<(), Error> {
    fork::check(ioloop)?;
    if ioloop.is_suspended() {
        return Err(Error::Suspended);
    }
    Ok(())
}

/// Hook point at the stop check, before the poll: true if the run must end
/// here besides a `stop()`: `run` with nothing referenced left, or a loop
/// suspended by one of its callbacks.
#[inline(always)]
pub(crate) fn leave_before_poll(ioloop: &IOLoop, until: Until, in_use: InUse) -> bool {
    (until != Until::Stopped || in_use.has(Features::SUSPENDED))
        && run_modes::leave_before_poll(ioloop, until)
}

/// Hook point just before the poll timeout is computed: runs the prepare
/// hooks. Returns true if events were fed (the poll must then not block).
#[inline(always)]
pub(crate) fn before_poll(ioloop: &IOLoop, in_use: InUse) -> bool {
    if in_use.has(Features::PREPARE) {
        hooks::run(ioloop, hooks::HookKind::Prepare);
        // A prepare hook may have fed an event.
        ioloop.inner.watchers.features.has(Features::FED)
    } else {
        in_use.has(Features::FED)
    }
}

/// Hook point for a poll that would block (nothing queued, no timeout
/// due): the timeout until the next deadline (`None`: none), changed by
/// idle hooks and the batching intervals; with `once` (`run_once(Wait)`)
/// it blocks only for referenced work. Returns the timeout and whether the
/// idle hooks may run after the poll.
#[inline(always)]
pub(crate) fn blocking_timeout(
    ioloop: &IOLoop,
    timeout: Option<Duration>,
    once: bool,
) -> (Option<Duration>, bool) {
    batching::blocking_timeout(ioloop, timeout, once)
}

/// Hook point after the poll: the fed events join the poller's ready
/// list, so each handler is still called at most once.
#[inline(always)]
pub(crate) fn after_poll(ioloop: &IOLoop, ready: &mut Vec<(Token, Events)>) {
    let watchers = &ioloop.inner.watchers;
    if watchers.features.has(Features::FED) {
        feed::take_into(watchers, ready);
    }
}

/// Hook point after the ready handlers ran: the check hooks, then the idle
/// hooks if the loop would have slept (`idle`) and nothing came up.
#[inline(always)]
pub(crate) fn after_dispatch(ioloop: &IOLoop, idle: bool, nothing_ready: bool) {
    if ioloop.inner.watchers.features.has(Features::CHECK) {
        hooks::run(ioloop, hooks::HookKind::Check);
    }
    if idle && nothing_ready && hooks::idle_now(ioloop) {
        hooks::run(ioloop, hooks::HookKind::Idle);
    }
}

/// Hook point at `close`: every watcher goes. What user code gave (hook
/// callbacks) is returned, for the caller to drop outside its borrows.
pub(crate) fn close(ioloop: &IOLoop) -> Vec<hooks::HookFn> {
    let watchers = &ioloop.inner.watchers;
    let hooks = watchers
        .hooks
        .drain(&watchers.keep_alive, &watchers.features);
    feed::clear(watchers);
    watchers.children.clear();
    hooks
}

/// Whether this process created the loop (or reset it after a fork): in a
/// forked child, the poller is the parent's and must be left alone.
pub(crate) fn same_process(ioloop: &IOLoop) -> bool {
    fork::same_process(ioloop)
}

/// Whether something referenced is left among the watchers (fed events,
/// hooks, periodic callbacks, signal handlers, child watchers): the
/// watchers' half of [`IOLoop::is_alive`].
pub(crate) fn alive(watchers: &Watchers) -> bool {
    watchers.features.has(Features::FED) || watchers.keep_alive.get() > 0
}
