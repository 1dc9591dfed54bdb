//! What a loop can tell about itself, as libev does: [`IOLoop::iteration`],
//! [`IOLoop::depth`], [`IOLoop::pending`], and the cached loop time
//! [`IOLoop::now`] with [`IOLoop::update_time`].

use std::cell::Cell;

use crate::IOLoop;
use crate::core::deadline;

/// A loop's iteration count and cached time. Loop thread only.
#[derive(Debug)]
pub(crate) struct LoopStats {
    /// Poll phases completed.
    iteration: Cell<u64>,
    /// The cached loop time, in nanoseconds on the loop clock...
    now_ns: Cell<u64>,
    /// ...valid while `iteration` equals this (`u64::MAX`: never taken).
    now_iteration: Cell<u64>,
    /// When the last poll returned (0 before the first), for
    /// `io_interval`.
    last_poll_ns: Cell<u64>,
}

impl Default for LoopStats {
    fn default() -> Self {
        LoopStats {
            iteration: Cell::new(0),
            now_ns: Cell::new(0),
            now_iteration: Cell::new(u64::MAX),
            last_poll_ns: Cell::new(0),
        }
    }
}

impl LoopStats {
    /// Caches `now`, a time the loop has just read from the clock.
    #[inline]
    pub(crate) fn observe_time(&self, now: u64) {
        self.now_ns.set(now);
        self.now_iteration.set(self.iteration.get());
    }

    /// Counts a poll phase; after a real poll (not one skipped because work
    /// was queued), reads the clock once and caches it.
    #[inline]
    pub(crate) fn end_poll_phase(&self, polled: bool) {
        self.iteration.set(self.iteration.get().wrapping_add(1));
        if polled {
            let now = deadline::now_ns();
            self.last_poll_ns.set(now);
            self.observe_time(now);
        }
    }

    pub(crate) fn last_poll_ns(&self) -> u64 {
        self.last_poll_ns.get()
    }
}

impl IOLoop {
    /// The number of poll phases the loop has been through: libev's
    /// `ev_iteration`, which counts polls. It starts at 0 and wraps.
    ///
    /// # Semantics
    ///
    /// Each iteration has one poll phase, between the prepare and the check
    /// hooks, and adds one here, including an iteration whose non-blocking
    /// poll the loop skipped because callbacks were queued (see
    /// [`MAX_POLL_SKIPS`](IOLoop::MAX_POLL_SKIPS)). So within one iteration
    /// a prepare hook sees `n` and the check hook after it `n + 1`; queued
    /// callbacks and due timeouts, which run before the poll, see the same
    /// value as the prepare hooks. A generation counter of sorts: "has the
    /// loop polled since?".
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let l = ioloop.clone();
    /// ioloop.add_callback(move || {
    ///     let seen = l.iteration();
    ///     let l2 = l.clone();
    ///     // A callback added now runs after the next poll phase.
    ///     l.add_callback(move || {
    ///         assert_eq!(l2.iteration(), seen + 1);
    ///         l2.stop();
    ///     });
    /// });
    /// ioloop.start()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn iteration(&self) -> u64 {
        self.inner.stats.iteration.get()
    }

    /// How many times `start`, `run`, `run_once` or `run_sync` is active on
    /// this loop: libev's `ev_depth`. 0 outside them, 1 in a callback.
    ///
    /// Never more than 1: a nested call is refused with
    /// [`Error::AlreadyRunning`](crate::Error::AlreadyRunning) (Tornado's
    /// rule [L6](crate::guide::rules#l6); see [`run_once`](IOLoop::run_once) for why). So this is
    /// [`is_running`](IOLoop::is_running) as a number, kept for code
    /// written against libev.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// assert_eq!(ioloop.depth(), 0);
    /// let (inside, l) = (Rc::new(Cell::new(0)), ioloop.clone());
    /// let seen = inside.clone();
    /// ioloop.add_callback(move || seen.set(l.depth()));
    /// ioloop.run()?;
    /// assert_eq!(inside.get(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn depth(&self) -> u32 {
        u32::from(self.inner.running.get())
    }

    /// The number of callbacks and woken tasks queued to run, on this
    /// thread or sent by others and not yet run: libev's `ev_pending_count`.
    /// A cancelled [`call_soon`](IOLoop::call_soon) is not counted. 0 on a
    /// closed loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// ioloop.add_callback(|| {});
    /// let handle = ioloop.call_soon(|| {});
    /// ioloop.remote().add_callback(|| {});
    /// assert_eq!(ioloop.pending(), 3);
    /// handle.cancel();
    /// assert_eq!(ioloop.pending(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pending(&self) -> usize {
        let inner = &self.inner;
        if inner.closed.get() {
            return 0;
        }
        let queued = inner.queue.borrow().len() + inner.remote.queued();
        queued.saturating_sub(inner.watchers.cancelled_soon())
    }

    /// The cached loop time, in seconds on the [`time`](IOLoop::time)
    /// scale: libev's `ev_now`, "the time the loop received events and
    /// started processing them".
    ///
    /// # Semantics
    ///
    /// The loop reads its clock when a poll returns and when it collects
    /// the due timeouts; `now` is the latest of these readings, so it does
    /// not advance while callbacks run. In a timeout's callback it is at or
    /// after the timeout's deadline; in a handler it is when the poll that
    /// reported the event returned. In an iteration in which the loop read
    /// no clock (a busy loop of callbacks skips both readings), the first
    /// call to `now` reads it, and later calls in the iteration return that.
    /// [`update_time`](IOLoop::update_time) refreshes it.
    ///
    /// Deadlines never depend on it: a relative timeout is measured from
    /// the clock when it is added, so, unlike in libev, a timeout added
    /// after a long callback does not fire early. Use [`time`](IOLoop::time)
    /// for the current time.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let deadline = ioloop.time() + 0.005;
    /// let (now, l) = (Rc::new(Cell::new(0.0)), ioloop.clone());
    /// let n = now.clone();
    /// ioloop.call_at(deadline, move || n.set(l.now()));
    /// ioloop.run()?;
    /// assert!(now.get() >= deadline); // cached when the timeout was collected
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn now(&self) -> f64 {
        let stats = &self.inner.stats;
        if stats.now_iteration.get() != stats.iteration.get() {
            stats.observe_time(deadline::now_ns());
        }
        deadline::ns_to_secs(stats.now_ns.get())
    }

    /// Refreshes [`now`](IOLoop::now) from the clock: libev's
    /// `ev_now_update`, for a callback that ran long and wants `now` to
    /// say so.
    ///
    /// It changes nothing else: the timeouts due in this iteration were
    /// chosen before the callbacks ran (a timeout that became due since
    /// runs on the next iteration, rule [T9](crate::guide::rules#t9)), and the poll timeout and
    /// relative deadlines read the clock themselves.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let l = ioloop.clone();
    /// ioloop.add_callback(move || {
    ///     let before = l.now();
    ///     std::thread::sleep(Duration::from_millis(20)); // a long callback
    ///     assert_eq!(l.now(), before, "cached");
    ///     l.update_time();
    ///     assert!(l.now() >= before + 0.020);
    ///     l.stop();
    /// });
    /// ioloop.start()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn update_time(&self) {
        self.inner.stats.observe_time(deadline::now_ns());
    }
}
