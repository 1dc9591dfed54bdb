//! The ways to run a loop besides [`IOLoop::start`]: [`IOLoop::run`] (until
//! nothing referenced is left), [`IOLoop::run_forever`] (until `stop()`)
//! and [`IOLoop::run_once`] (one iteration, waiting or not).

use crate::core::run::{self, Until};
use crate::watchers::features::Features;
use crate::watchers::refs;
use crate::{Error, IOLoop};

/// How [`IOLoop::run_once`] may wait: libev's `EVRUN_ONCE` and
/// `EVRUN_NOWAIT`, libuv's `UV_RUN_ONCE` and `UV_RUN_NOWAIT`.
///
/// # Examples
///
/// ```
/// use ioloop::{IOLoop, RunMode};
///
/// let ioloop = IOLoop::new()?;
/// ioloop.add_callback(|| {});
/// // One iteration, never blocking: libev's EVRUN_NOWAIT.
/// let work_left = ioloop.run_once(RunMode::NoWait)?;
/// assert!(!work_left);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunMode {
    /// Block in the poll until something happens (an I/O event, a due
    /// timeout, a callback from another thread, a stop request), unless
    /// work is already queued or nothing referenced is left.
    Wait,
    /// Never block: poll without waiting, handle what is ready, return.
    NoWait,
}

/// Whether `run_until` must leave before polling, besides a stop request:
/// `run` with nothing referenced left, or a loop suspended by one of its
/// callbacks.
#[inline]
pub(crate) fn leave_before_poll(ioloop: &IOLoop, until: Until) -> bool {
    let inner = &ioloop.inner;
    inner.watchers.features.has(Features::SUSPENDED)
        || (until == Until::NothingReferenced && !refs::alive(ioloop))
}

impl IOLoop {
    /// Runs the loop until nothing referenced is left, or until
    /// [`stop`](IOLoop::stop): evergreen's `run`, libev's `ev_run(loop, 0)`,
    /// libuv's `UV_RUN_DEFAULT`.
    ///
    /// # Semantics
    ///
    /// Iterations are those of [`start`](IOLoop::start); before each poll
    /// (where `start` checks for `stop()`), `run` also returns if
    /// [`is_alive`](IOLoop::is_alive) is false: no callback queued, no task
    /// unfinished, no referenced handler, timeout or hook left. Watchers
    /// marked unreferenced ([`set_handler_ref`](IOLoop::set_handler_ref)
    /// and friends) keep working while something else keeps the loop
    /// running, but do not keep it running themselves. A loop with nothing
    /// to do returns at once.
    ///
    /// Unlike evergreen's, a loop that `run` returned from can run again.
    /// A stop request pending when `run` is called makes it return at once
    /// (rule [L2](crate::guide::rules#l2)), and a suspended loop returns at the next stop check.
    ///
    /// # Errors
    ///
    /// As [`start`](IOLoop::start): [`Error::AlreadyRunning`],
    /// [`Error::Closed`], [`Error::Forked`], [`Error::Suspended`],
    /// [`Error::Io`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let l = ioloop.clone();
    /// ioloop.call_later(Duration::from_millis(5), move || {
    ///     l.add_callback(|| println!("last piece of work"));
    /// });
    /// // An hourly job that should not keep the program alive.
    /// let job = ioloop.call_later(Duration::from_secs(3600), || {});
    /// ioloop.set_timeout_ref(job, false);
    /// ioloop.run()?; // returns after the callback, about 5 ms from now
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run(&self) -> Result<(), Error> {
        run::run_until(self, None, Until::NothingReferenced)
    }

    /// Runs the loop until [`stop`](IOLoop::stop), whatever is referenced:
    /// the same as [`start`](IOLoop::start) (asyncio's and evergreen's
    /// `run_forever`).
    ///
    /// # Errors
    ///
    /// As [`start`](IOLoop::start).
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let l = ioloop.clone();
    /// ioloop.add_callback(move || l.stop());
    /// ioloop.run_forever()?; // asyncio's name for start()
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run_forever(&self) -> Result<(), Error> {
        self.start()
    }

    /// Runs one iteration (libev's `ev_run` with `EVRUN_ONCE` or
    /// `EVRUN_NOWAIT`) and returns whether referenced work is left
    /// ([`is_alive`](IOLoop::is_alive)), so a caller can drive the loop
    /// from its own:
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::{IOLoop, RunMode};
    ///
    /// let ioloop = IOLoop::new()?;
    /// ioloop.call_later(Duration::from_millis(5), || println!("tick"));
    /// while ioloop.run_once(RunMode::Wait)? {
    ///     // the caller's own work between iterations
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Semantics
    ///
    /// The iteration is the cycle of [`start`](IOLoop::start) cut at the
    /// poll rather than at the stop check: prepare hooks, poll, handlers,
    /// check hooks, idle hooks, then the queued callbacks and the due
    /// timeouts. So the event a [`RunMode::Wait`] poll waited for is
    /// handled before `run_once` returns, whether it is I/O, a timeout or a
    /// callback from another thread, and successive calls (or calls mixed
    /// with `start`) run the phases in the same order as `start` does.
    ///
    /// * [`RunMode::Wait`] blocks until an event, a due timeout, a remote
    ///   callback or a stop request, but not if a callback is already queued
    ///   or if nothing referenced is left (libev and libuv do not block a
    ///   loop with no active watcher either).
    /// * [`RunMode::NoWait`] never blocks.
    ///
    /// A `stop()` before the call makes it return at once (rule [L2](crate::guide::rules#l2)); one
    /// made during it is consumed when it returns. A nested call, from a
    /// callback of this loop, is refused as a nested `start` is (rule [L6](crate::guide::rules#l6)),
    /// so [`depth`](IOLoop::depth) is never above 1: running the loop's
    /// phases inside one of its own callbacks would run callbacks queued
    /// after the current one before it returns.
    ///
    /// # Errors
    ///
    /// As [`start`](IOLoop::start): [`Error::AlreadyRunning`] (including
    /// from inside a callback), [`Error::Closed`], [`Error::Forked`],
    /// [`Error::Suspended`], [`Error::Io`].
    pub fn run_once(&self, mode: RunMode) -> Result<bool, Error> {
        run::run_once(self, mode == RunMode::Wait)?;
        Ok(self.is_alive())
    }
}
