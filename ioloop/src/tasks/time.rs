//! Futures on the loop's timers: [`sleep`], [`sleep_until`], [`timeout`]
//! and [`yield_now`].

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::core::deadline::{self, Deadline};
use crate::{IOLoop, TimeoutHandle};

/// What a pending [`Sleep`] and its loop timeout share.
#[derive(Default)]
struct SleepState {
    fired: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// A future that completes at a deadline, on a loop timeout. Made by
/// [`sleep`], [`sleep_until`], [`IOLoop::sleep`] and [`IOLoop::sleep_until`].
///
/// The timeout is added on the first poll (so a `Sleep` never polled costs
/// no timer work) and removed if the `Sleep` is dropped first. It completes
/// no earlier than its deadline, on the loop it was made for (which must be
/// the loop that polls it).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ioloop::{IOLoop, Sleep};
///
/// let ioloop = IOLoop::new()?;
/// let started = ioloop.time();
/// ioloop.run_sync(
///     || {
///         let nap: Sleep = IOLoop::current().sleep(Duration::from_millis(10));
///         nap
///     },
///     None,
/// )?;
/// assert!(ioloop.time() - started >= 0.010);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Sleep {
    ioloop: IOLoop,
    /// The deadline on the loop clock, in nanoseconds.
    deadline: u64,
    site: &'static Location<'static>,
    /// INVARIANT: `Some` from the first poll until it fires or is dropped.
    armed: Option<(TimeoutHandle, Rc<SleepState>)>,
}

impl Sleep {
    /// The deadline, as seconds on the [`IOLoop::time`] scale.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let when = ioloop.time() + 30.0;
    /// let nap = ioloop.sleep_until(when);
    /// assert!((nap.deadline() - when).abs() < 1e-6);
    /// let relative = ioloop.sleep(Duration::from_secs(5));
    /// assert!(relative.deadline() >= ioloop.time() + 4.9);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn deadline(&self) -> f64 {
        deadline::ns_to_secs(self.deadline)
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let state = match &this.armed {
            Some((_, state)) => Rc::clone(state),
            None => {
                if deadline::now_ns() >= this.deadline {
                    return Poll::Ready(());
                }
                let state = Rc::new(SleepState::default());
                let s = Rc::clone(&state);
                let handle = this.ioloop.insert_timeout(
                    this.deadline,
                    Box::new(move || {
                        s.fired.set(true);
                        let waker = s.waker.borrow_mut().take();
                        if let Some(waker) = waker {
                            waker.wake();
                        }
                    }),
                    this.site,
                );
                this.armed = Some((handle, Rc::clone(&state)));
                state
            }
        };
        if state.fired.get() {
            return Poll::Ready(());
        }
        let mut waker = state.waker.borrow_mut();
        match waker.as_ref() {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some((handle, state)) = self.armed.take()
            && !state.fired.get()
        {
            self.ioloop.remove_timeout(handle);
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline())
            .field("armed", &self.armed.is_some())
            .finish()
    }
}

/// The error of [`timeout`]: the deadline passed first.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ioloop::{Elapsed, IOLoop};
///
/// let ioloop = IOLoop::new()?;
/// let result = ioloop.run_sync(
///     || ioloop::timeout(Duration::from_millis(5), std::future::pending::<()>()),
///     None,
/// )?;
/// let elapsed: Elapsed = result.unwrap_err();
/// assert_eq!(elapsed.to_string(), "deadline elapsed after 5ms");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(Duration);

impl Elapsed {
    /// The timeout that passed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let err = ioloop.run_sync(|| ioloop::timeout(Duration::from_millis(5), std::future::pending::<()>()), None)?.unwrap_err();
    /// assert_eq!(err.duration(), Duration::from_millis(5));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn duration(&self) -> Duration {
        self.0
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "deadline elapsed after {:?}", self.0)
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(err: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, err)
    }
}

pin_project_lite::pin_project! {
    /// A future with a time limit; made by [`timeout`] and
    /// [`IOLoop::timeout`].
    ///
    /// Completes with the inner future's output, or with [`Elapsed`] if the
    /// limit passes first; then the inner future is dropped with the
    /// `Timeout` (cancelled).
    #[must_use = "futures do nothing unless polled"]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
        duration: Duration,
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match Pin::new(this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(*this.duration))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("duration", &self.duration)
            .field("sleep", &self.sleep)
            .finish()
    }
}

/// A future that is pending once, waking itself: it lets every other
/// queued callback and task run first. Made by [`yield_now`].
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
/// let o = order.clone();
/// ioloop.run_sync(
///     move || async move {
///         let o2 = o.clone();
///         IOLoop::current().add_callback(move || o2.borrow_mut().push("callback"));
///         ioloop::yield_now().await; // the queued callback runs first
///         o.borrow_mut().push("after yield");
///     },
///     None,
/// )?;
/// assert_eq!(*order.borrow(), ["callback", "after yield"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless polled"]
#[derive(Debug, Default)]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl IOLoop {
    /// A future that completes `duration` from now, on this loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let started = ioloop.time();
    /// let l = ioloop.clone();
    /// ioloop.run_sync(move || l.sleep(Duration::from_millis(10)), None)?;
    /// assert!(ioloop.time() - started >= 0.010);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn sleep(&self, duration: Duration) -> Sleep {
        self.sleep_until(duration)
    }

    /// A future that completes at `deadline` (anything
    /// `Into<`[`Deadline`]`>`: relative or absolute), on this loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let at = Instant::now() + Duration::from_millis(10);
    /// let l = ioloop.clone();
    /// ioloop.run_sync(move || l.sleep_until(at), None)?;
    /// assert!(Instant::now() >= at);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn sleep_until(&self, deadline: impl Into<Deadline>) -> Sleep {
        Sleep {
            ioloop: self.clone(),
            deadline: deadline.into().resolve(deadline::now_ns()),
            site: Location::caller(),
            armed: None,
        }
    }

    /// Limits `future` to `duration`; see [`Timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let l = ioloop.clone();
    /// let quick = ioloop.run_sync(move || l.timeout(Duration::from_secs(10), async { 7 }), None)?;
    /// assert_eq!(quick.unwrap(), 7); // finished in time
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn timeout<F: Future>(&self, duration: Duration, future: F) -> Timeout<F> {
        Timeout {
            future,
            sleep: self.sleep(duration),
            duration,
        }
    }
}

/// A future that completes `duration` from now, on the current loop
/// ([`IOLoop::current`] when called).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use ioloop::IOLoop;
///
/// let ioloop = IOLoop::new()?;
/// let started = Instant::now();
/// ioloop.run_sync(|| ioloop::sleep(Duration::from_millis(20)), None)?;
/// assert!(started.elapsed() >= Duration::from_millis(20));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    IOLoop::current().sleep(duration)
}

/// A future that completes at `deadline`, on the current loop.
///
/// # Examples
///
/// ```
/// use ioloop::IOLoop;
///
/// let ioloop = IOLoop::new()?;
/// let when = ioloop.time() + 0.010;
/// ioloop.run_sync(move || ioloop::sleep_until(when), None)?;
/// assert!(ioloop.time() >= when);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[track_caller]
pub fn sleep_until(deadline: impl Into<Deadline>) -> Sleep {
    IOLoop::current().sleep_until(deadline)
}

/// Limits `future` to `duration` on the current loop: the output, or
/// [`Elapsed`] (and the future is dropped).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ioloop::IOLoop;
///
/// let ioloop = IOLoop::new()?;
/// let result = ioloop.run_sync(
///     || ioloop::timeout(Duration::from_millis(10), futures::future::pending::<()>()),
///     None,
/// )?;
/// assert_eq!(result.unwrap_err().duration(), Duration::from_millis(10));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[track_caller]
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    IOLoop::current().timeout(duration, future)
}

/// Yields to the loop once: every callback and task already queued runs
/// before the caller continues.
///
/// # Examples
///
/// ```
/// use ioloop::IOLoop;
///
/// let ioloop = IOLoop::new()?;
/// ioloop.run_sync(|| async { ioloop::yield_now().await }, None)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow::default()
}
