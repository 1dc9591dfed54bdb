//! [`IOLoop::suspend`] and [`IOLoop::resume`]: libev's `ev_suspend` and
//! `ev_resume`, for a program that stops for a while (a `SIGTSTP`, a
//! laptop lid) and wants its timeouts to behave as if no time had passed.

use std::cell::Cell;

use crate::IOLoop;
use crate::core::deadline;
use crate::watchers::features::Features;

/// When the loop was suspended, in nanoseconds on the loop clock.
/// INVARIANT: the loop's `Features::SUSPENDED` bit is set iff `since` is
/// `Some`.
#[derive(Debug, Default)]
pub(crate) struct Suspension {
    since: Cell<Option<u64>>,
}

impl IOLoop {
    /// Suspends the loop: until [`resume`](IOLoop::resume), it does not run,
    /// and the time that passes meanwhile does not count for its timeouts
    /// (libev's `ev_suspend`). Suspending a suspended loop is a no-op.
    ///
    /// # Semantics
    ///
    /// * Outside the loop: `start`, `run`, `run_once` and `run_sync` fail
    ///   with [`Error::Suspended`](crate::Error::Suspended) until `resume`.
    /// * From one of the loop's callbacks: the loop finishes the current
    ///   phase and `start` (or `run`) returns at the next stop check, as
    ///   for `stop()`, unless the callback resumes it first, which is
    ///   libev's pattern for `SIGTSTP`: suspend, stop the process
    ///   (`SIGSTOP`), resume when continued.
    ///
    /// Callbacks and handlers may still be added while suspended; they run
    /// after `resume`. The cached loop time ([`now`](IOLoop::now)) is
    /// refreshed by both calls.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::{Error, IOLoop};
    ///
    /// let ioloop = IOLoop::new()?;
    /// let added = ioloop.time();
    /// let l = ioloop.clone();
    /// ioloop.call_later(Duration::from_millis(20), move || {
    ///     // 20 ms of loop time, plus the 30 ms spent suspended.
    ///     assert!(l.time() - added >= 0.050);
    ///     l.stop();
    /// });
    /// ioloop.suspend();
    /// assert!(matches!(ioloop.start(), Err(Error::Suspended)));
    /// std::thread::sleep(Duration::from_millis(30)); // the process "stopped"
    /// ioloop.resume();
    /// ioloop.start()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn suspend(&self) {
        if self.is_suspended() {
            return;
        }
        let now = deadline::now_ns();
        self.inner.watchers.suspension.since.set(Some(now));
        self.inner.watchers.features.set(Features::SUSPENDED, true);
        self.inner.stats.observe_time(now);
    }

    /// Resumes a suspended loop (libev's `ev_resume`); a no-op if it is not
    /// suspended.
    ///
    /// # Semantics
    ///
    /// * Every pending timeout is moved later by the time spent suspended:
    ///   a 100 ms timeout suspended 50 ms after it was added fires 50 ms
    ///   after `resume`. Timeouts already due in the current iteration when
    ///   `suspend` was called from a callback still run in it.
    /// * Every running [`PeriodicCallback`](crate::PeriodicCallback) is
    ///   rescheduled on a fresh grid: its next call is one period after
    ///   `resume` (the calls that fell due while suspended are lost, as
    ///   libev's periodic watchers lose theirs).
    ///
    /// Moving the timeouts is `O(n)` in the number of pending timeouts
    /// (adding the same amount to every deadline keeps the heap's order).
    ///
    /// # Examples
    ///
    /// ```
    /// let ioloop = ioloop::IOLoop::new()?;
    /// ioloop.suspend();
    /// ioloop.resume();
    /// ioloop.resume(); // not suspended: a no-op
    /// ioloop.run()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resume(&self) {
        let Some(since) = self.inner.watchers.suspension.since.take() else {
            return;
        };
        self.inner.watchers.features.set(Features::SUSPENDED, false);
        let now = deadline::now_ns();
        self.inner
            .timers
            .borrow_mut()
            .shift(now.saturating_sub(since));
        self.inner.stats.observe_time(now);
        crate::watchers::periodic::reschedule_all(self, now);
    }

    /// True between [`suspend`](IOLoop::suspend) and
    /// [`resume`](IOLoop::resume).
    ///
    /// # Examples
    ///
    /// ```
    /// let ioloop = ioloop::IOLoop::new()?;
    /// assert!(!ioloop.is_suspended());
    /// ioloop.suspend();
    /// assert!(ioloop.is_suspended());
    /// ioloop.resume();
    /// assert!(!ioloop.is_suspended());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_suspended(&self) -> bool {
        self.inner.watchers.features.has(Features::SUSPENDED)
    }
}
