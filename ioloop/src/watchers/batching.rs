//! Batching, as in libev: [`IOLoop::set_io_interval`] and
//! [`IOLoop::set_timeout_interval`] (libev's
//! `ev_set_io_collect_interval` and `ev_set_timeout_collect_interval`), and
//! the timeout of a poll that would block.

use std::cell::Cell;
use std::time::Duration;

use crate::IOLoop;
use crate::core::deadline;
use crate::watchers::features::Features;
use crate::watchers::refs;

/// A loop's batching intervals, in nanoseconds (0: off, the default).
#[derive(Debug, Default)]
pub(crate) struct Batching {
    io_ns: Cell<u64>,
    timeout_ns: Cell<u64>,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The timeout of a poll that would block (no callback queued, no timeout
/// due): `timeout` until the next deadline, or `None` for none.
///
/// Returns the timeout and whether it is 0 for the idle hooks.
///
/// * Active idle hooks make it 0.
/// * With `once` (`run_once(Wait)`), nothing referenced left makes it 0.
/// * `timeout_interval` raises it to at least the interval.
/// * `io_interval` first sleeps until that long after the last poll
///   returned (no longer than the timeout), and takes the sleep off it.
pub(crate) fn blocking_timeout(
    ioloop: &IOLoop,
    timeout: Option<Duration>,
    once: bool,
) -> (Option<Duration>, bool) {
    let inner = &ioloop.inner;
    if inner.watchers.features.has(Features::IDLE) {
        return (Some(Duration::ZERO), true);
    }
    if once && !refs::alive(ioloop) {
        return (Some(Duration::ZERO), false);
    }
    let (io_ns, timeout_ns) = (
        inner.watchers.batching.io_ns.get(),
        inner.watchers.batching.timeout_ns.get(),
    );
    if io_ns == 0 && timeout_ns == 0 {
        return (timeout, false);
    }
    let mut timeout = timeout.map(|t| t.max(Duration::from_nanos(timeout_ns)));
    let since_poll = deadline::now_ns().saturating_sub(inner.stats.last_poll_ns());
    if io_ns > since_poll {
        let mut sleep = Duration::from_nanos(io_ns - since_poll);
        if let Some(t) = timeout {
            sleep = sleep.min(t);
        }
        if !sleep.is_zero() {
            std::thread::sleep(sleep);
            timeout = timeout.map(|t| t - sleep);
        }
    }
    (timeout, false)
}

impl IOLoop {
    /// Makes the loop wait at least `interval` between two polls, so each
    /// poll collects more I/O events: libev's `ev_set_io_collect_interval`
    /// (mood.event's `io_interval`). 0, the default, turns it off.
    ///
    /// # Semantics
    ///
    /// When the loop is about to poll and the poll would block (no callback
    /// queued, no timeout due, no idle hook), it first sleeps until
    /// `interval` after the previous poll returned, then polls. So under a
    /// stream of I/O each poll returns a batch of events rather than one,
    /// trading latency for fewer iterations (and fewer wake-ups, for power).
    ///
    /// * It never delays queued callbacks, nor timeouts: the sleep ends at
    ///   the next deadline (raised by [`set_timeout_interval`](IOLoop::set_timeout_interval)).
    /// * The sleep is not a poll: a callback sent from another thread, a
    ///   stop request or a signal during it waits for it to end (as in
    ///   libev), so keep the interval short (libev suggests 0.1 ms to 10 ms
    ///   for servers).
    /// * In a handler, [`now`](IOLoop::now) is when the poll returned, so two
    ///   calls of a handler in different iterations see `now` at least
    ///   `interval` apart.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// ioloop.set_io_interval(Duration::from_millis(1));
    /// assert_eq!(ioloop.io_interval(), Duration::from_millis(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_io_interval(&self, interval: Duration) {
        self.inner.watchers.batching.io_ns.set(nanos(interval));
    }

    /// The interval set by [`set_io_interval`](IOLoop::set_io_interval).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// assert_eq!(ioloop.io_interval(), Duration::ZERO); // off by default
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn io_interval(&self) -> Duration {
        Duration::from_nanos(self.inner.watchers.batching.io_ns.get())
    }

    /// Makes a poll that waits for a timeout wait at least `interval`, so
    /// timeouts that fall due close together run in one iteration: libev's
    /// `ev_set_timeout_collect_interval` (mood.event's `timeout_interval`).
    /// 0, the default, turns it off.
    ///
    /// # Semantics
    ///
    /// When the loop would block until the next deadline, it blocks for at
    /// least `interval` (unless I/O, a remote callback or a stop request
    /// wakes it first). Timeouts still never run early; they may run up to
    /// `interval` late. It does not apply when callbacks are queued or idle
    /// hooks are active (the poll does not block then).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use std::time::Duration;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// ioloop.set_timeout_interval(Duration::from_millis(50));
    /// let iterations = Rc::new(RefCell::new(Vec::new()));
    /// for ms in [1, 10, 20] {
    ///     let (seen, l) = (iterations.clone(), ioloop.clone());
    ///     ioloop.call_later(Duration::from_millis(ms), move || {
    ///         seen.borrow_mut().push(l.iteration());
    ///     });
    /// }
    /// ioloop.run()?;
    /// let seen = iterations.borrow();
    /// assert!(seen.iter().all(|&i| i == seen[0]), "one iteration ran all three");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_timeout_interval(&self, interval: Duration) {
        self.inner.watchers.batching.timeout_ns.set(nanos(interval));
    }

    /// The interval set by [`set_timeout_interval`](IOLoop::set_timeout_interval).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// ioloop.set_timeout_interval(Duration::from_millis(5));
    /// assert_eq!(ioloop.timeout_interval(), Duration::from_millis(5));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn timeout_interval(&self) -> Duration {
        Duration::from_nanos(self.inner.watchers.batching.timeout_ns.get())
    }
}
