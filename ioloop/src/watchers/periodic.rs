//! [`PeriodicCallback`]: Tornado's `tornado.ioloop.PeriodicCallback`, with
//! its rules [P1](crate::guide::rules#p1) to [P7](crate::guide::rules#p7), on the loop's timeouts.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::time::Duration;

use chrono::TimeDelta;
use futures::FutureExt;
use slab::Slab;

use crate::core::deadline;
use crate::core::exception::{CallbackKind, CallbackPanic};
use crate::{IOLoop, TimeoutHandle, WeakIOLoop};

/// The period of a [`PeriodicCallback`]: a [`Duration`] or a
/// [`chrono::TimeDelta`] (Tornado takes milliseconds or a `timedelta`).
///
/// Any value converts; a period that is not positive is refused by
/// [`PeriodicCallback::new`] (rule [P1](crate::guide::rules#p1)).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ioloop::{Period, PeriodicCallback};
///
/// let from_std: Period = Duration::from_millis(250).into();
/// let from_chrono: Period = chrono::TimeDelta::milliseconds(250).into();
/// assert_eq!(from_std.to_string(), from_chrono.to_string());
/// assert!(PeriodicCallback::new(|| {}, chrono::TimeDelta::seconds(-1)).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    nanos: i128,
}

impl From<Duration> for Period {
    fn from(d: Duration) -> Period {
        Period {
            nanos: i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
        }
    }
}

impl From<TimeDelta> for Period {
    fn from(d: TimeDelta) -> Period {
        let nanos = i128::from(d.num_seconds()) * 1_000_000_000 + i128::from(d.subsec_nanos());
        Period { nanos }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let magnitude =
            Duration::from_nanos(u64::try_from(self.nanos.unsigned_abs()).unwrap_or(u64::MAX));
        if self.nanos < 0 {
            write!(f, "-{magnitude:?}")
        } else {
            write!(f, "{magnitude:?}")
        }
    }
}

/// The error from [`PeriodicCallback::new`]: the period is zero or
/// negative (Tornado raises `ValueError`, rule [P1](crate::guide::rules#p1)).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ioloop::{InvalidPeriod, PeriodicCallback};
///
/// let err: InvalidPeriod = PeriodicCallback::new(|| {}, Duration::ZERO).unwrap_err();
/// assert_eq!(err.0.to_string(), "0ns"); // the refused period
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidPeriod(pub Period);

impl fmt::Display for InvalidPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid period {}: a period must be positive", self.0)
    }
}

impl std::error::Error for InvalidPeriod {}

type SyncFn = Box<dyn FnMut()>;
type AsyncFn = Box<dyn FnMut() -> Pin<Box<dyn Future<Output = ()>>>>;

enum PeriodicFn {
    Sync(SyncFn),
    Async(AsyncFn),
}

/// The next deadline after a call, given the deadline `next` that call was
/// scheduled for, the clock `now` after it, and the period (Tornado's
/// `PeriodicCallback._update_next`):
///
/// * on time or late: the first point of the grid `next + k * period` after
///   `now`, so an overrun skips the missed calls rather than bursting them
///   (rule [P2](crate::guide::rules#p2));
/// * `now` before `next` (the clock went backwards): `next + period`, so
///   the same deadline is never computed twice (rule [P6](crate::guide::rules#p6)).
fn next_deadline(next: u64, now: u64, period: u64) -> u64 {
    if next <= now {
        let periods = (now - next) / period + 1;
        next.saturating_add(periods.saturating_mul(period))
    } else {
        next.saturating_add(period)
    }
}

/// `period` spread by `jitter * period`, centred on it, given `unit` in
/// `[0, 1)` (rule [P5](crate::guide::rules#p5)). Never below 1 ns.
fn jittered(period: u64, jitter: f64, unit: f64) -> u64 {
    if jitter == 0.0 {
        return period;
    }
    let spread = period as f64 * (1.0 + jitter * (unit - 0.5));
    (spread as u64).max(1)
}

struct PeriodicState {
    /// `None` while a call is in progress.
    callback: RefCell<Option<PeriodicFn>>,
    period_ns: u64,
    jitter: Cell<f64>,
    rng: Cell<u64>,
    site: &'static Location<'static>,
    running: Cell<bool>,
    /// Bumped by `start` and `stop`: a call that began before either does
    /// not schedule the next one.
    generation: Cell<u64>,
    /// The deadline of the next (or current) call, on the grid.
    next_ns: Cell<u64>,
    timeout: Cell<Option<TimeoutHandle>>,
    /// The loop bound at `start` (rule [P4](crate::guide::rules#p4)).
    ioloop: RefCell<Option<WeakIOLoop>>,
    referenced: Cell<bool>,
    /// The key in the bound loop's [`Periodics`] while running.
    registered: Cell<Option<usize>>,
}

impl PeriodicState {
    fn ioloop(&self) -> Option<IOLoop> {
        self.ioloop.borrow().as_ref().and_then(WeakIOLoop::upgrade)
    }

    /// A number in `[0, 1)` from a xorshift64* generator.
    fn unit_random(&self) -> f64 {
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Schedules the next call after `now` (Tornado's `_schedule_next`).
    fn schedule_next(self: &Rc<Self>, ioloop: &IOLoop, now: u64) {
        if !self.running.get() {
            return;
        }
        let period = jittered(self.period_ns, self.jitter.get(), self.unit_random());
        let next = next_deadline(self.next_ns.get(), now, period);
        self.next_ns.set(next);
        let (state, generation) = (Rc::clone(self), self.generation.get());
        let handle =
            ioloop.insert_timeout(next, Box::new(move || state.fire(generation)), self.site);
        if !self.referenced.get() {
            ioloop.set_timeout_ref(handle, false);
        }
        self.timeout.set(Some(handle));
    }

    /// The timeout's callback: one call.
    fn fire(self: &Rc<Self>, generation: u64) {
        self.timeout.set(None);
        let Some(ioloop) = self.ioloop() else { return };
        if !self.running.get() || self.generation.get() != generation {
            return;
        }
        let Some(mut callback) = self.callback.borrow_mut().take() else {
            return;
        };
        let started = match &mut callback {
            PeriodicFn::Sync(f) => {
                let result = panic::catch_unwind(AssertUnwindSafe(f));
                self.report(&ioloop, result.err());
                None
            }
            PeriodicFn::Async(f) => match panic::catch_unwind(AssertUnwindSafe(f)) {
                Ok(future) => Some(future),
                Err(payload) => {
                    self.report(&ioloop, Some(payload));
                    None
                }
            },
        };
        *self.callback.borrow_mut() = Some(callback);
        match started {
            None => self.after_call(&ioloop, generation),
            Some(future) => {
                // Awaited before the next call is scheduled: calls never
                // overlap (rule P7).
                let (state, site) = (Rc::clone(self), self.site);
                let task = async move {
                    let result = AssertUnwindSafe(future).catch_unwind().await;
                    if let Some(ioloop) = state.ioloop() {
                        state.report(&ioloop, result.err());
                        state.after_call(&ioloop, generation);
                    }
                };
                ioloop.spawn_at(task, site).detach();
            }
        }
    }

    /// Schedules the next call, unless `start` or `stop` came meanwhile.
    fn after_call(self: &Rc<Self>, ioloop: &IOLoop, generation: u64) {
        if self.generation.get() == generation {
            self.schedule_next(ioloop, deadline::now_ns());
        }
    }

    /// Reports a caught panic through the loop's exception handler; the
    /// schedule goes on (rule [P3](crate::guide::rules#p3)).
    fn report(&self, ioloop: &IOLoop, payload: Option<Box<dyn std::any::Any + Send>>) {
        if let Some(payload) = payload {
            ioloop.report_panic(&CallbackPanic::new(
                CallbackKind::Periodic,
                self.site,
                &*payload,
            ));
            // A payload whose Drop panics must not unwind out of the loop.
            let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(payload)));
        }
    }

    fn cancel_timeout(&self, ioloop: &IOLoop) {
        if let Some(handle) = self.timeout.take() {
            ioloop.remove_timeout(handle);
        }
    }
}

/// The running periodic callbacks of a loop, for `resume`. Loop thread
/// only.
#[derive(Default)]
pub(crate) struct Periodics {
    running: RefCell<Slab<Weak<PeriodicState>>>,
}

impl fmt::Debug for Periodics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Periodics")
            .field("running", &self.running.borrow().len())
            .finish()
    }
}

/// Reschedules every running periodic callback of `ioloop` one period after
/// `now`, on a fresh grid (`IOLoop::resume`). A call in progress (an async
/// callback being awaited) schedules its successor itself.
pub(crate) fn reschedule_all(ioloop: &IOLoop, now: u64) {
    let states: Vec<Rc<PeriodicState>> = ioloop
        .inner
        .watchers
        .periodics
        .running
        .borrow()
        .iter()
        .filter_map(|(_, weak)| weak.upgrade())
        .collect();
    for state in states {
        if state.timeout.get().is_some() {
            state.cancel_timeout(ioloop);
            state.next_ns.set(now);
            state.schedule_next(ioloop, now);
        }
    }
}

/// Calls a function every period, on a loop: Tornado's `PeriodicCallback`.
///
/// # Semantics (Tornado's rules [P1](crate::guide::rules#p1) to [P7](crate::guide::rules#p7))
///
/// * **[P1](crate::guide::rules#p1)** A period that is not positive is an error. After
///   [`start`](PeriodicCallback::start), the first call comes one period
///   later, then one every period.
/// * **[P2](crate::guide::rules#p2)** The calls stay on the grid `start + k * period`: a call that
///   overruns makes the callback skip the calls it missed, rather than
///   run them in a burst. The period runs from the start of one call to
///   the start of the next.
/// * **[P3](crate::guide::rules#p3)** A panic in the callback is caught and reported through the
///   loop's exception handler (as [`CallbackKind::Periodic`], naming where
///   the `PeriodicCallback` was created), and the schedule goes on.
///   [`stop`](PeriodicCallback::stop) cancels the next call;
///   [`is_running`](PeriodicCallback::is_running) says whether it is
///   running.
/// * **[P4](crate::guide::rules#p4)** The loop is bound at `start` (the thread's current loop, or the
///   one given to [`start_on`](PeriodicCallback::start_on)), not at
///   creation.
/// * **[P5](crate::guide::rules#p5)** [`with_jitter(j)`](PeriodicCallback::with_jitter) spreads each
///   period at random over `period * (1 ± j / 2)`.
/// * **[P6](crate::guide::rules#p6)** The loop clock is monotonic, but the scheduling still guards
///   against a clock that would go backwards: the next deadline then
///   advances by one period, so no call is repeated.
/// * **[P7](crate::guide::rules#p7)** An async callback ([`new_async`](PeriodicCallback::new_async))
///   is awaited, on the loop as a task, before the next call is scheduled:
///   calls never overlap, and one that takes longer than the period skips
///   ticks as in [P2](crate::guide::rules#p2). Periods are a [`Duration`] or a [`chrono::TimeDelta`].
///
/// Each call runs as a timeout on the loop, so it follows the timeout rules
/// (never early; about a millisecond late at most on an idle loop). A
/// running `PeriodicCallback` keeps [`IOLoop::run`] going unless
/// [`set_ref(false)`](PeriodicCallback::set_ref); [`IOLoop::resume`]
/// reschedules it on a fresh grid.
///
/// `PeriodicCallback` is a cheap handle: clones control the same callback.
/// Dropping every handle does **not** stop it (as in Tornado, the loop
/// keeps it); call [`stop`](PeriodicCallback::stop).
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
/// use ioloop::{IOLoop, PeriodicCallback};
///
/// let ioloop = IOLoop::new()?;
/// let ticks = Rc::new(Cell::new(0));
/// let (t, l) = (ticks.clone(), ioloop.clone());
/// let periodic = PeriodicCallback::new(
///     move || {
///         t.set(t.get() + 1);
///         if t.get() == 3 {
///             l.stop();
///         }
///     },
///     Duration::from_millis(10),
/// )?;
/// periodic.start(); // binds to IOLoop::current(), here `ioloop`
/// ioloop.start()?;
/// periodic.stop();
/// assert_eq!(ticks.get(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PeriodicCallback {
    state: Rc<PeriodicState>,
}

impl PeriodicCallback {
    fn with_callback(
        callback: PeriodicFn,
        period: Period,
        site: &'static Location<'static>,
    ) -> Result<PeriodicCallback, InvalidPeriod> {
        if period.nanos <= 0 {
            return Err(InvalidPeriod(period));
        }
        let period_ns = u64::try_from(period.nanos).unwrap_or(u64::MAX);
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
            | 1;
        Ok(PeriodicCallback {
            state: Rc::new(PeriodicState {
                callback: RefCell::new(Some(callback)),
                period_ns,
                jitter: Cell::new(0.0),
                rng: Cell::new(seed),
                site,
                running: Cell::new(false),
                generation: Cell::new(0),
                next_ns: Cell::new(0),
                timeout: Cell::new(None),
                ioloop: RefCell::new(None),
                referenced: Cell::new(true),
                registered: Cell::new(None),
            }),
        })
    }

    /// A periodic callback calling `callback` every `period` once started.
    ///
    /// # Errors
    ///
    /// [`InvalidPeriod`] if `period` is zero or negative (rule [P1](crate::guide::rules#p1)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::{IOLoop, PeriodicCallback};
    ///
    /// let ioloop = IOLoop::new()?;
    /// let l = ioloop.clone();
    /// let periodic = PeriodicCallback::new(move || l.stop(), Duration::from_millis(5))?;
    /// periodic.start();
    /// ioloop.start()?; // stopped by the first call, 5 ms after start
    /// periodic.stop();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn new<F>(callback: F, period: impl Into<Period>) -> Result<PeriodicCallback, InvalidPeriod>
    where
        F: FnMut() + 'static,
    {
        let callback = PeriodicFn::Sync(Box::new(callback));
        PeriodicCallback::with_callback(callback, period.into(), Location::caller())
    }

    /// A periodic callback whose callback returns a future, awaited on the
    /// loop before the next call is scheduled (rule [P7](crate::guide::rules#p7): calls never
    /// overlap).
    ///
    /// # Errors
    ///
    /// [`InvalidPeriod`] if `period` is zero or negative (rule [P1](crate::guide::rules#p1)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::{IOLoop, PeriodicCallback};
    ///
    /// let ioloop = IOLoop::new()?;
    /// let periodic = PeriodicCallback::new_async(
    ///     || async {
    ///         // Takes longer than the period: the next call waits for it.
    ///         ioloop::sleep(Duration::from_millis(15)).await;
    ///         IOLoop::current().stop();
    ///     },
    ///     chrono::TimeDelta::milliseconds(5),
    /// )?;
    /// periodic.start_on(&ioloop);
    /// ioloop.start()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn new_async<F, Fut>(
        mut callback: F,
        period: impl Into<Period>,
    ) -> Result<PeriodicCallback, InvalidPeriod>
    where
        F: FnMut() -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let boxed: AsyncFn = Box::new(move || Box::pin(callback()));
        PeriodicCallback::with_callback(PeriodicFn::Async(boxed), period.into(), Location::caller())
    }

    /// Spreads each period at random over `period * (1 ± jitter / 2)`
    /// (Tornado's `jitter`, rule [P5](crate::guide::rules#p5)). 0, the default, means none.
    ///
    /// # Panics
    ///
    /// If `jitter` is not in `[0, 1]` (or is NaN).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::PeriodicCallback;
    ///
    /// let periodic = PeriodicCallback::new(|| {}, Duration::from_secs(1))?.with_jitter(0.1);
    /// assert_eq!(periodic.jitter(), 0.1); // each period in 0.95 s ..= 1.05 s
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_jitter(self, jitter: f64) -> PeriodicCallback {
        assert!(
            (0.0..=1.0).contains(&jitter),
            "PeriodicCallback jitter must be in [0, 1], not {jitter}"
        );
        self.state.jitter.set(jitter);
        self
    }

    /// Starts calling back, on the thread's current loop
    /// ([`IOLoop::current`]), which is bound now (rule [P4](crate::guide::rules#p4)). The first call
    /// comes one period from now. Starting a running periodic callback is a
    /// no-op.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::{IOLoop, PeriodicCallback};
    ///
    /// let ioloop = IOLoop::new()?;
    /// let periodic = PeriodicCallback::new(|| {}, Duration::from_secs(60))?;
    /// periodic.start(); // on IOLoop::current(), here `ioloop`
    /// assert!(periodic.is_running());
    /// periodic.stop();
    /// # drop(ioloop);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(&self) {
        self.start_on(&IOLoop::current());
    }

    /// Starts calling back on `ioloop`. The first call comes one period
    /// from now. Starting a running periodic callback is a no-op, even for
    /// another loop: stop it first.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::{IOLoop, MakeCurrent, PeriodicCallback};
    ///
    /// let ioloop = IOLoop::builder().make_current(MakeCurrent::Never).build()?;
    /// let l = ioloop.clone();
    /// let periodic = PeriodicCallback::new(move || l.stop(), Duration::from_millis(5))?;
    /// periodic.start_on(&ioloop); // not the current loop: name it
    /// ioloop.start()?;
    /// periodic.stop();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start_on(&self, ioloop: &IOLoop) {
        let state = &self.state;
        if state.running.get() {
            return;
        }
        *state.ioloop.borrow_mut() = Some(ioloop.downgrade());
        state.running.set(true);
        state.generation.set(state.generation.get().wrapping_add(1));
        let now = deadline::now_ns();
        state.next_ns.set(now);
        state.schedule_next(ioloop, now);
        let key = ioloop
            .inner
            .watchers
            .periodics
            .running
            .borrow_mut()
            .insert(Rc::downgrade(state));
        state.registered.set(Some(key));
    }

    /// Stops calling back: the next call is cancelled. An async call in
    /// progress is not cancelled, but no call follows it. Stopping a
    /// stopped periodic callback is a no-op.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use std::time::Duration;
    /// use ioloop::{IOLoop, PeriodicCallback};
    ///
    /// let ioloop = IOLoop::new()?;
    /// let calls = Rc::new(Cell::new(0));
    /// let c = calls.clone();
    /// let periodic = PeriodicCallback::new(move || c.set(c.get() + 1), Duration::from_millis(1))?;
    /// periodic.start();
    /// periodic.stop(); // the next call is cancelled
    /// ioloop.run()?; // nothing is left: returns at once
    /// assert_eq!(calls.get(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stop(&self) {
        let state = &self.state;
        if !state.running.replace(false) {
            return;
        }
        state.generation.set(state.generation.get().wrapping_add(1));
        if let Some(ioloop) = state.ioloop() {
            state.cancel_timeout(&ioloop);
            if let Some(key) = state.registered.take() {
                let removed = ioloop
                    .inner
                    .watchers
                    .periodics
                    .running
                    .borrow_mut()
                    .try_remove(key);
                drop(removed);
            }
        }
    }

    /// True between [`start`](PeriodicCallback::start) and
    /// [`stop`](PeriodicCallback::stop).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::{IOLoop, PeriodicCallback};
    ///
    /// let _ioloop = IOLoop::new()?;
    /// let periodic = PeriodicCallback::new(|| {}, Duration::from_secs(1))?;
    /// assert!(!periodic.is_running());
    /// periodic.start();
    /// assert!(periodic.is_running());
    /// periodic.stop();
    /// assert!(!periodic.is_running());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_running(&self) -> bool {
        self.state.running.get()
    }

    /// Marks the periodic callback as keeping [`IOLoop::run`] going (the
    /// default) or not; idempotent. The flag applies to every call
    /// scheduled from now on and to the one pending. (An async call in
    /// progress is a task, and tasks always keep `run` going.)
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::{IOLoop, PeriodicCallback};
    ///
    /// let ioloop = IOLoop::new()?;
    /// let heartbeat = PeriodicCallback::new(|| {}, Duration::from_millis(1))?;
    /// heartbeat.set_ref(false); // a background chore: run() need not wait for it
    /// heartbeat.start();
    /// ioloop.run()?; // returns at once
    /// assert!(heartbeat.is_running());
    /// # heartbeat.stop();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_ref(&self, referenced: bool) {
        let state = &self.state;
        state.referenced.set(referenced);
        if let (Some(handle), Some(ioloop)) = (state.timeout.get(), state.ioloop()) {
            ioloop.set_timeout_ref(handle, referenced);
        }
    }

    /// Whether the periodic callback keeps [`IOLoop::run`] going.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::PeriodicCallback;
    ///
    /// let periodic = PeriodicCallback::new(|| {}, Duration::from_secs(1))?;
    /// assert!(periodic.is_referenced());
    /// periodic.set_ref(false);
    /// assert!(!periodic.is_referenced());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_referenced(&self) -> bool {
        self.state.referenced.get()
    }

    /// The period.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::PeriodicCallback;
    ///
    /// let periodic = PeriodicCallback::new(|| {}, chrono::TimeDelta::milliseconds(1500))?;
    /// assert_eq!(periodic.period(), Duration::from_millis(1500));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn period(&self) -> Duration {
        Duration::from_nanos(self.state.period_ns)
    }

    /// The jitter fraction (0 for none).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::PeriodicCallback;
    ///
    /// let periodic = PeriodicCallback::new(|| {}, Duration::from_secs(1))?;
    /// assert_eq!(periodic.jitter(), 0.0); // none by default
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn jitter(&self) -> f64 {
        self.state.jitter.get()
    }
}

impl fmt::Debug for PeriodicCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeriodicCallback")
            .field("period", &self.period())
            .field("jitter", &self.jitter())
            .field("running", &self.is_running())
            .field("site", &self.state.site)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn p1_first_deadline_is_one_period_after_start() {
        // start() sets next = now, then schedules.
        assert_eq!(next_deadline(1_000 * MS, 1_000 * MS, 10 * MS), 1_010 * MS);
    }

    #[test]
    fn p2_overruns_skip_to_the_next_grid_point() {
        // Tornado's test_overrun: called at 1010 (due 1010), ran until 1033.
        assert_eq!(next_deadline(1_010 * MS, 1_033 * MS, 10 * MS), 1_040 * MS);
        // Exactly on a grid point: the next one.
        assert_eq!(next_deadline(1_010 * MS, 1_030 * MS, 10 * MS), 1_040 * MS);
        // On time.
        assert_eq!(next_deadline(1_010 * MS, 1_010 * MS, 10 * MS), 1_020 * MS);
    }

    #[test]
    fn p6_a_clock_going_backwards_still_advances_one_period() {
        // Tornado's test_clock_backwards: due at 1010, clock reads 1005.
        assert_eq!(next_deadline(1_010 * MS, 1_005 * MS, 10 * MS), 1_020 * MS);
        // Far backwards: one period, never the same deadline twice.
        assert_eq!(next_deadline(1_010 * MS, 0, 10 * MS), 1_020 * MS);
    }

    #[test]
    fn p5_jitter_stays_within_half_the_fraction_either_way() {
        let period = 100 * MS;
        assert_eq!(jittered(period, 0.0, 0.9), period);
        assert_eq!(jittered(period, 0.2, 0.5), period);
        assert_eq!(jittered(period, 0.2, 0.0), 90 * MS);
        assert!(jittered(period, 0.2, 0.999_999) <= 110 * MS);
        assert!(jittered(period, 0.2, 0.999_999) > 109 * MS);
        assert_eq!(jittered(1, 1.0, 0.0), 1, "never zero");
    }

    #[test]
    fn random_units_are_in_range() {
        let periodic = PeriodicCallback::new(|| {}, Duration::from_secs(1)).unwrap();
        for _ in 0..10_000 {
            let u = periodic.state.unit_random();
            assert!((0.0..1.0).contains(&u), "{u}");
        }
    }

    #[test]
    fn periods_convert_from_durations_and_time_deltas() {
        assert_eq!(Period::from(Duration::from_millis(5)).nanos, 5_000_000);
        assert_eq!(Period::from(TimeDelta::milliseconds(-5)).nanos, -5_000_000);
        assert_eq!(Period::from(TimeDelta::nanoseconds(-1)).nanos, -1);
        assert_eq!(
            InvalidPeriod(TimeDelta::milliseconds(-5).into()).to_string(),
            "invalid period -5ms: a period must be positive"
        );
    }
}
