//! asyncio- and evergreen-style scheduling calls that return a handle with
//! a `cancel()` method: [`IOLoop::call_soon`] → [`Handle`], and
//! [`IOLoop::call_later_handle`], [`IOLoop::call_at_handle`] and
//! [`IOLoop::add_timeout_handle`] → [`TimerHandle`].
//!
//! They sit beside Tornado's API rather than replacing it: `call_later`
//! and `call_at` keep returning the `Copy` [`TimeoutHandle`] that
//! `remove_timeout` takes, and a [`TimerHandle`] wraps one.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::Location;
use std::rc::Rc;
use std::time::Duration;

use crate::core::deadline;
use crate::{Deadline, IOLoop, TimeoutHandle, WeakIOLoop};

/// What a [`Handle`] and the queued callback share.
struct SoonCell<F> {
    /// `None` once the callback ran, was cancelled, or can no longer run
    /// (its loop was closed).
    f: RefCell<Option<F>>,
    cancelled: Cell<bool>,
    ioloop: WeakIOLoop,
}

/// The type-erased view a [`Handle`] has of its [`SoonCell`].
trait SoonControl {
    fn cancel(&self) -> bool;
    fn cancelled(&self) -> bool;
    fn is_pending(&self) -> bool;
}

impl<F> SoonControl for SoonCell<F> {
    fn cancel(&self) -> bool {
        let Some(f) = self.f.borrow_mut().take() else {
            return false;
        };
        self.cancelled.set(true);
        if let Some(ioloop) = self.ioloop.upgrade() {
            let n = &ioloop.inner.watchers.cancelled_soon;
            n.set(n.get() + 1);
        }
        drop(f); // its captures go now, outside the borrow
        true
    }

    fn cancelled(&self) -> bool {
        self.cancelled.get()
    }

    fn is_pending(&self) -> bool {
        self.f.borrow().is_some()
    }
}

/// The callback queued by `call_soon`: runs the user's callback unless it
/// was cancelled. Dropped unrun (its loop closed), it drops the callback.
struct Runner<F>(Rc<SoonCell<F>>);

impl<F: FnOnce()> Runner<F> {
    fn run(self) {
        let f = self.0.f.borrow_mut().take();
        match f {
            Some(f) => f(),
            None if self.0.cancelled.get() => {
                // This queue entry no longer counts as cancelled-in-queue.
                if let Some(ioloop) = self.0.ioloop.upgrade() {
                    let n = &ioloop.inner.watchers.cancelled_soon;
                    n.set(n.get().saturating_sub(1));
                }
            }
            None => {}
        }
    }
}

impl<F> Drop for Runner<F> {
    fn drop(&mut self) {
        let f = self.0.f.borrow_mut().take();
        drop(f);
    }
}

/// A callback scheduled with [`IOLoop::call_soon`], which can be cancelled:
/// asyncio's `Handle`, evergreen's `Handler`.
///
/// Dropping the handle does not cancel the callback.
///
/// # Thread safety
///
/// Like the loop, a handle stays on the loop's thread (as evergreen's
/// `Handler.cancel` must be called there); so do [`TimerHandle`],
/// [`Hook`](crate::Hook) and [`PeriodicCallback`](crate::PeriodicCallback).
///
/// ```compile_fail
/// let ioloop = ioloop::IOLoop::new().unwrap();
/// let handle = ioloop.call_soon(|| {});
/// std::thread::spawn(move || handle.cancel()); // Handle is not Send
/// ```
pub struct Handle {
    cell: Rc<dyn SoonControl>,
}

impl Handle {
    /// Cancels the callback: it will never run, and it is dropped now (with
    /// everything it captured). Returns true if this call cancelled it;
    /// cancelling a callback that already ran, or cancelling twice, is a
    /// no-op returning false. `O(1)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let handle = ioloop.call_soon(|| unreachable!("cancelled"));
    /// assert!(handle.cancel());
    /// assert!(!handle.cancel(), "already cancelled");
    /// ioloop.run()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cancel(&self) -> bool {
        self.cell.cancel()
    }

    /// True if [`cancel`](Handle::cancel) cancelled the callback before it
    /// ran.
    ///
    /// # Examples
    ///
    /// ```
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let handle = ioloop.call_soon(|| {});
    /// assert!(!handle.cancelled());
    /// handle.cancel();
    /// assert!(handle.cancelled());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn cancelled(&self) -> bool {
        self.cell.cancelled()
    }

    /// True until the callback runs or is cancelled (or its loop closes).
    ///
    /// # Examples
    ///
    /// ```
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let handle = ioloop.call_soon(|| {});
    /// assert!(handle.is_pending());
    /// ioloop.run()?;
    /// assert!(!handle.is_pending(), "it ran");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_pending(&self) -> bool {
        self.cell.is_pending()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("pending", &self.is_pending())
            .field("cancelled", &self.cancelled())
            .finish()
    }
}

/// A timeout scheduled with [`IOLoop::call_later_handle`],
/// [`IOLoop::call_at_handle`] or [`IOLoop::add_timeout_handle`], which can
/// be cancelled: asyncio's `TimerHandle`.
///
/// It holds a weak reference to its loop and the timeout's
/// [`TimeoutHandle`]; cancelling removes the timeout from the timer heap at
/// once (`O(log n)`, no tombstone). Dropping it does not cancel the
/// timeout.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ioloop::{IOLoop, TimerHandle};
///
/// let ioloop = IOLoop::new()?;
/// let timer: TimerHandle = ioloop.call_later_handle(Duration::from_secs(60), || unreachable!());
/// assert!(timer.is_pending());
/// timer.cancel(); // asyncio's TimerHandle.cancel()
/// assert!(timer.cancelled());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TimerHandle {
    ioloop: WeakIOLoop,
    handle: TimeoutHandle,
    when_ns: u64,
    cancelled: Cell<bool>,
}

impl TimerHandle {
    /// Cancels the timeout: it will never run, and its callback is dropped
    /// now. Returns true if this call cancelled it; cancelling a timeout
    /// that already ran, or cancelling twice, is a no-op returning false.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let timer = ioloop.call_later_handle(Duration::from_millis(1), || unreachable!());
    /// assert!(timer.cancel());
    /// assert!(!timer.cancel(), "already cancelled");
    /// ioloop.run()?; // nothing left to wait for
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cancel(&self) -> bool {
        let removed = self
            .ioloop
            .upgrade()
            .is_some_and(|ioloop| ioloop.remove_timeout(self.handle));
        if removed {
            self.cancelled.set(true);
        }
        removed
    }

    /// True if [`cancel`](TimerHandle::cancel) (on this handle) cancelled
    /// the timeout before it ran.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let timer = ioloop.call_later_handle(Duration::from_secs(1), || {});
    /// assert!(!timer.cancelled());
    /// timer.cancel();
    /// assert!(timer.cancelled());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn cancelled(&self) -> bool {
        self.cancelled.get()
    }

    /// True until the timeout runs or is removed (by this handle, by
    /// [`IOLoop::remove_timeout`], or by closing the loop).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let timer = ioloop.call_later_handle(Duration::from_millis(1), || {});
    /// assert!(timer.is_pending());
    /// ioloop.run()?;
    /// assert!(!timer.is_pending(), "it fired");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_pending(&self) -> bool {
        self.ioloop
            .upgrade()
            .is_some_and(|ioloop| ioloop.inner.timers.borrow().contains(self.handle.key))
    }

    /// The deadline, in seconds on the [`IOLoop::time`] scale (asyncio's
    /// `TimerHandle.when()`), as fixed when the timeout was added.
    ///
    /// # Examples
    ///
    /// ```
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let when = ioloop.time() + 30.0;
    /// let timer = ioloop.call_at_handle(when, || {});
    /// assert!((timer.when() - when).abs() < 1e-6);
    /// # timer.cancel();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn when(&self) -> f64 {
        deadline::ns_to_secs(self.when_ns)
    }

    /// The Tornado-style handle of the same timeout, for
    /// [`IOLoop::remove_timeout`] and [`IOLoop::set_timeout_ref`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let timer = ioloop.call_later_handle(Duration::from_secs(60), || unreachable!());
    /// // Tornado's remove_timeout takes it too.
    /// assert!(ioloop.remove_timeout(timer.timeout_handle()));
    /// assert!(!timer.is_pending());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn timeout_handle(&self) -> TimeoutHandle {
        self.handle
    }

    /// Marks the timeout as keeping [`IOLoop::run`] going (the default) or
    /// not; see [`IOLoop::set_timeout_ref`]. Returns false if the timeout is
    /// no longer pending.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let timer = ioloop.call_later_handle(Duration::from_secs(3600), || {});
    /// timer.set_ref(false); // does not keep run() going
    /// ioloop.run()?; // returns at once
    /// assert!(timer.is_pending());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_ref(&self, referenced: bool) -> bool {
        self.ioloop
            .upgrade()
            .is_some_and(|ioloop| ioloop.set_timeout_ref(self.handle, referenced))
    }
}

impl fmt::Debug for TimerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerHandle")
            .field("when", &self.when())
            .field("pending", &self.is_pending())
            .field("cancelled", &self.cancelled())
            .finish()
    }
}

impl IOLoop {
    /// Runs `f` on a later iteration, like [`add_callback`](IOLoop::add_callback),
    /// and returns a [`Handle`] that can cancel it (asyncio's and
    /// evergreen's `call_soon`).
    ///
    /// # Semantics
    ///
    /// The callback joins the same first-in, first-out queue as
    /// `add_callback`'s, so the two keep their relative order, and it
    /// follows the same rules (a callback added while an iteration runs
    /// runs on the next one; a panic is reported and the loop goes on).
    /// [`Handle::cancel`] is `O(1)`: it drops the callback at once, and the
    /// queue entry left behind (a few words) is discarded when its turn
    /// comes, in the next iteration; [`pending`](IOLoop::pending) does not
    /// count it. On a closed loop the callback is dropped and the handle is
    /// not pending.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let handle = ioloop.call_soon(|| unreachable!("cancelled"));
    /// assert!(handle.cancel());
    /// assert!(handle.cancelled());
    /// assert!(!handle.cancel(), "a second cancel is a no-op");
    /// let l = ioloop.clone();
    /// ioloop.call_soon(move || l.stop());
    /// ioloop.start()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn call_soon<F>(&self, f: F) -> Handle
    where
        F: FnOnce() + 'static,
    {
        let site = Location::caller();
        let cell = Rc::new(SoonCell {
            f: RefCell::new(Some(f)),
            cancelled: Cell::new(false),
            ioloop: self.downgrade(),
        });
        if self.inner.closed.get() {
            drop(cell.f.borrow_mut().take());
        } else {
            let runner = Runner(Rc::clone(&cell));
            self.add_callback_at(site, move || runner.run());
        }
        Handle { cell }
    }

    /// Runs `f` at `deadline`, like [`add_timeout`](IOLoop::add_timeout),
    /// and returns a [`TimerHandle`] that can cancel it.
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
    /// let l = ioloop.clone();
    /// let timer = ioloop.add_timeout_handle(Duration::from_millis(5), move || l.stop());
    /// let wall_clock = ioloop.add_timeout_handle(chrono::Utc::now() + chrono::TimeDelta::hours(1), || {});
    /// wall_clock.cancel();
    /// ioloop.start()?;
    /// assert!(!timer.is_pending());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn add_timeout_handle<D, F>(&self, deadline: D, f: F) -> TimerHandle
    where
        D: Into<Deadline>,
        F: FnOnce() + 'static,
    {
        let site = Location::caller();
        let when_ns = deadline.into().resolve(deadline::now_ns());
        let handle = self.insert_timeout(when_ns, Box::new(f), site);
        TimerHandle {
            ioloop: self.downgrade(),
            handle,
            when_ns,
            cancelled: Cell::new(false),
        }
    }

    /// Runs `f` after `delay` and returns a [`TimerHandle`] that can cancel
    /// it: asyncio's `call_later`. (This crate's
    /// [`call_later`](IOLoop::call_later) is Tornado's, returning a
    /// [`TimeoutHandle`] for `remove_timeout`.)
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let timer = ioloop.call_later_handle(Duration::from_secs(60), || unreachable!());
    /// assert!(timer.when() >= ioloop.time() + 59.0);
    /// assert!(timer.cancel());
    /// assert!(!timer.is_pending());
    /// ioloop.run()?; // nothing is left: returns at once
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn call_later_handle<F>(&self, delay: Duration, f: F) -> TimerHandle
    where
        F: FnOnce() + 'static,
    {
        self.add_timeout_handle(delay, f)
    }

    /// Runs `f` at `when`, in seconds on the [`time`](IOLoop::time) scale,
    /// and returns a [`TimerHandle`] that can cancel it: asyncio's
    /// `call_at`.
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
    /// let when = ioloop.time() + 0.005;
    /// let timer = ioloop.call_at_handle(when, || {});
    /// ioloop.run()?; // returns once the timer has fired
    /// assert!(ioloop.time() >= when && !timer.is_pending());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn call_at_handle<F>(&self, when: f64, f: F) -> TimerHandle
    where
        F: FnOnce() + 'static,
    {
        self.add_timeout_handle(when, f)
    }
}
