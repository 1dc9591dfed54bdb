//! The loop's clock and the [`Deadline`] accepted by `add_timeout`.
//!
//! Every deadline is kept as nanoseconds on one monotonic clock (an
//! [`Instant`] origin shared by every loop in the process), so wall-clock
//! jumps never move a pending timeout (they moved Tornado's:
//! tornadoweb/tornado#2035, #1290).
//! Wall-clock deadlines (`chrono::DateTime<Utc>`) are converted once, when
//! the timeout is added.

use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};

/// The origin of the loop clock, the first time anything in the process
/// asked for it: as an [`Instant`], and as a reading of the raw monotonic
/// clock taken just after it.
///
/// The raw reading is at or after the `Instant`, so [`now_ns`] (raw now
/// minus raw origin) is never ahead of [`instant_to_ns`]`(Instant::now())`:
/// a timeout for an `Instant` never fires before that instant, only up to
/// the few nanoseconds between the two origin reads after it.
fn origin() -> &'static (Instant, u64) {
    static ORIGIN: OnceLock<(Instant, u64)> = OnceLock::new();
    ORIGIN.get_or_init(|| {
        let instant = Instant::now();
        (instant, crate::sys::monotonic_ns())
    })
}

/// Nanoseconds on the loop clock for `instant` (0 for instants before the
/// origin; saturating far in the future).
pub(crate) fn instant_to_ns(instant: Instant) -> u64 {
    let since = instant.saturating_duration_since(origin().0);
    since
        .as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(since.subsec_nanos()))
}

/// The loop clock now, in nanoseconds: one raw clock read and a
/// subtraction (no `Instant` arithmetic on the loop's hot paths).
#[inline]
pub(crate) fn now_ns() -> u64 {
    crate::sys::monotonic_ns().saturating_sub(origin().1)
}

/// The `Instant` for a point on the loop clock.
#[cfg(test)]
pub(crate) fn ns_to_instant(ns: u64) -> Instant {
    origin().0 + Duration::from_nanos(ns)
}

/// Seconds on the loop clock, as returned by [`IOLoop::time`](crate::IOLoop::time).
pub(crate) fn ns_to_secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

fn duration_to_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// When a timeout fires: relative to now or at an absolute point.
///
/// Built with `From` from every kind of deadline Tornado's `add_timeout`
/// accepts, and the Rust equivalents:
///
/// | from | meaning |
/// |---|---|
/// | [`Duration`] | relative: that long after the timeout is added (Tornado's `timedelta`) |
/// | [`chrono::TimeDelta`] | relative; a negative delta means "already due" |
/// | [`Instant`] | absolute, on the monotonic clock |
/// | [`chrono::DateTime<Utc>`] | absolute wall-clock time, converted to the monotonic clock when the timeout is added |
/// | `f64` | absolute, in seconds on the [`IOLoop::time`](crate::IOLoop::time) scale |
///
/// A deadline in the past is due at once: the timeout runs on the next
/// loop iteration (never in the current one, Tornado's rule [T9](crate::guide::rules#t9)).
///
/// # Panics
///
/// Converting a NaN `f64` panics, as [`Duration::from_secs_f64`] does; use
/// [`Deadline::try_at_secs`] to get an error instead. Infinite values are
/// accepted: `+inf` never fires, `-inf` is already due.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use ioloop::{Deadline, IOLoop};
///
/// let ioloop = IOLoop::new()?;
/// let relative: Deadline = Duration::from_millis(50).into();
/// let delta: Deadline = chrono::TimeDelta::milliseconds(50).into();
/// let absolute: Deadline = (Instant::now() + Duration::from_millis(50)).into();
/// let wall: Deadline = (chrono::Utc::now() + chrono::TimeDelta::milliseconds(50)).into();
/// let loop_time: Deadline = (ioloop.time() + 0.05).into();
/// for deadline in [relative, delta, absolute, wall, loop_time] {
///     ioloop.add_timeout(deadline, || {});
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq)]
pub struct Deadline(Repr);

#[derive(Clone, Copy, PartialEq)]
enum Repr {
    /// Nanoseconds after "now" at the time the timeout is added.
    After(u64),
    /// Nanoseconds on the loop clock.
    At(u64),
    /// A wall-clock time, converted when the timeout is added.
    Wall(DateTime<Utc>),
}

/// The error from [`Deadline::try_at_secs`]: the value is not a number.
///
/// # Examples
///
/// ```
/// use ioloop::Deadline;
///
/// let err = Deadline::try_at_secs(f64::NAN).unwrap_err();
/// assert!(err.to_string().contains("NaN"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InvalidDeadline(f64);

impl fmt::Display for InvalidDeadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid deadline {}: not a number", self.0)
    }
}

impl std::error::Error for InvalidDeadline {}

impl Deadline {
    /// A deadline `delay` after the moment the timeout is added.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::{Deadline, IOLoop};
    ///
    /// let ioloop = IOLoop::new()?;
    /// let l = ioloop.clone();
    /// ioloop.add_timeout(Deadline::after(Duration::from_millis(5)), move || l.stop());
    /// ioloop.start()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn after(delay: Duration) -> Deadline {
        Deadline(Repr::After(duration_to_ns(delay)))
    }

    /// A deadline at `instant` on the monotonic clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use ioloop::{Deadline, IOLoop};
    ///
    /// let ioloop = IOLoop::new()?;
    /// let at = Instant::now() + Duration::from_millis(5);
    /// let l = ioloop.clone();
    /// ioloop.add_timeout(Deadline::at(at), move || l.stop());
    /// ioloop.start()?;
    /// assert!(Instant::now() >= at);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn at(instant: Instant) -> Deadline {
        Deadline(Repr::At(instant_to_ns(instant)))
    }

    /// A deadline at `secs` on the [`IOLoop::time`](crate::IOLoop::time) scale.
    ///
    /// # Errors
    ///
    /// [`InvalidDeadline`] if `secs` is NaN.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::{Deadline, IOLoop};
    ///
    /// let ioloop = IOLoop::new()?;
    /// let deadline = Deadline::try_at_secs(ioloop.time() + 0.005)?;
    /// let l = ioloop.clone();
    /// ioloop.add_timeout(deadline, move || l.stop());
    /// ioloop.start()?;
    /// assert!(Deadline::try_at_secs(f64::NAN).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_at_secs(secs: f64) -> Result<Deadline, InvalidDeadline> {
        if secs.is_nan() {
            return Err(InvalidDeadline(secs));
        }
        let ns = if secs <= 0.0 {
            0
        } else if secs >= u64::MAX as f64 / 1e9 {
            u64::MAX
        } else {
            (secs * 1e9) as u64
        };
        Ok(Deadline(Repr::At(ns)))
    }

    /// The absolute deadline on the loop clock, in nanoseconds, given the
    /// loop clock `now`.
    pub(crate) fn resolve(self, now: u64) -> u64 {
        match self.0 {
            Repr::After(delay) => now.saturating_add(delay),
            Repr::At(ns) => ns,
            Repr::Wall(when) => {
                let delta = when - Utc::now();
                match delta.to_std() {
                    Ok(delay) => now.saturating_add(duration_to_ns(delay)),
                    // In the past: due now.
                    Err(_) => now,
                }
            }
        }
    }
}

impl fmt::Debug for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Repr::After(ns) => write!(f, "Deadline::after({:?})", Duration::from_nanos(ns)),
            Repr::At(ns) => write!(f, "Deadline::at({:.9}s)", ns_to_secs(ns)),
            Repr::Wall(when) => write!(f, "Deadline::wall({when})"),
        }
    }
}

impl From<Duration> for Deadline {
    fn from(delay: Duration) -> Deadline {
        Deadline::after(delay)
    }
}

impl From<TimeDelta> for Deadline {
    fn from(delta: TimeDelta) -> Deadline {
        // A negative delta is in the past: due at once.
        Deadline::after(delta.to_std().unwrap_or(Duration::ZERO))
    }
}

impl From<Instant> for Deadline {
    fn from(instant: Instant) -> Deadline {
        Deadline::at(instant)
    }
}

impl From<DateTime<Utc>> for Deadline {
    fn from(when: DateTime<Utc>) -> Deadline {
        Deadline(Repr::Wall(when))
    }
}

impl From<f64> for Deadline {
    /// # Panics
    ///
    /// If `secs` is NaN.
    fn from(secs: f64) -> Deadline {
        match Deadline::try_at_secs(secs) {
            Ok(deadline) => deadline,
            Err(err) => panic!("{err}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_resolves_from_now() {
        assert_eq!(Deadline::from(Duration::from_nanos(5)).resolve(100), 105);
        assert_eq!(Deadline::from(TimeDelta::nanoseconds(7)).resolve(100), 107);
        assert_eq!(Deadline::from(TimeDelta::seconds(-3)).resolve(100), 100);
        assert_eq!(Deadline::from(Duration::MAX).resolve(100), u64::MAX);
    }

    #[test]
    fn absolute_ignores_now() {
        assert_eq!(Deadline::from(1.5).resolve(100), 1_500_000_000);
        assert_eq!(Deadline::from(-2.0).resolve(100), 0);
        assert_eq!(Deadline::from(f64::INFINITY).resolve(0), u64::MAX);
        assert_eq!(Deadline::from(f64::NEG_INFINITY).resolve(0), 0);
        let instant = ns_to_instant(12_345);
        assert_eq!(Deadline::from(instant).resolve(0), 12_345);
    }

    #[test]
    fn wall_clock_is_converted() {
        let now = now_ns();
        let d = Deadline::from(Utc::now() + TimeDelta::seconds(10)).resolve(now);
        let delta = d - now;
        assert!((9_000_000_000..=10_000_000_000).contains(&delta), "{delta}");
        let past = Deadline::from(Utc::now() - TimeDelta::seconds(10)).resolve(now);
        assert_eq!(past, now);
    }

    #[test]
    fn the_raw_clock_agrees_with_instant_and_is_never_ahead_of_it() {
        for _ in 0..10_000 {
            let before = instant_to_ns(Instant::now());
            let raw = now_ns();
            let after = instant_to_ns(Instant::now());
            // Never ahead (so a timeout never fires before its Instant),
            // and behind by no more than the two origin reads took.
            assert!(raw <= after, "raw {raw} ahead of Instant {after}");
            assert!(raw + 1_000_000 >= before, "raw {raw} behind {before}");
        }
    }

    #[test]
    fn nan_is_an_error() {
        let err = Deadline::try_at_secs(f64::NAN).unwrap_err();
        assert!(err.to_string().contains("not a number"));
    }

    #[test]
    #[should_panic(expected = "not a number")]
    fn nan_from_panics() {
        let _ = Deadline::from(f64::NAN);
    }
}
