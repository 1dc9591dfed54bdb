//! The wake-up of a poll that waits for a deadline.
//!
//! A poll given a timeout makes the kernel arm and cancel a timer for that
//! one wait, every time the loop blocks: on a loop with any timeout
//! pending (a request timeout, a connection's idle timeout, `run_sync`'s
//! own) that is a few percent of a short request's cost. On Linux the loop
//! instead keeps a timerfd registered with its poller and polls without a
//! timeout. The timerfd is armed only when it would fire too late, and
//! only for waits of 50 ms or more (shorter ones, typical of a stream of
//! short timers that each wait ends at, take the poll's timeout as
//! before): while it is armed for a point no later than the deadline
//! wanted and still in the future, a wait costs nothing extra. When a deadline moved later
//! since (a timeout removed, an idle timeout pushed back), the loop wakes
//! once at the old point, finds nothing due and waits again, like any
//! other early wake-up.
//!
//! The timerfd is made with the loop's poller (a loop holds three
//! descriptors on Linux: the poller, its waker and this timer), and made
//! again with a new poller after a fork. Where timerfds are missing, or
//! one cannot be made (the descriptor limit), the poll takes the timeout
//! as before.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Interest, Token};

use crate::core::deadline;

/// How much later than asked a timerfd already armed may fire and still
/// count as covering a wait: deadlines come as durations from slightly
/// different readings of the clock, and without it a wait for the same
/// deadline would re-arm the timerfd now and then. (A poll's own timeout
/// is rounded up to the millisecond.)
const SLACK_NS: u64 = 100_000;

/// The shortest wait the timerfd is armed for. Arming costs a system call
/// of its own, which pays off for a deadline that several waits share (a
/// request's or a connection's timeout, `run_sync`'s); a loop whose waits
/// each end at a new deadline moments away (a stream of short timers)
/// lets the poll take the timeout instead.
const MIN_ARMED_WAIT: Duration = Duration::from_millis(50);

/// The poller token of the timerfd; its events wake the poll and are
/// never dispatched.
pub(crate) const WAIT_TIMER_TOKEN: Token = Token(usize::MAX - 1);

/// A loop's timerfd, registered with its poller.
#[derive(Debug)]
pub(crate) struct WaitTimer {
    state: RefCell<State>,
}

#[derive(Debug)]
enum State {
    /// Registered with the current poller.
    Ready {
        fd: OwnedFd,
        /// Loop-clock nanoseconds it expires at; `None` before its first
        /// arming.
        armed_at: Option<u64>,
    },
    /// No timerfd (not available here, none could be made, or the poller
    /// is closed): polls take their timeouts.
    Unavailable,
}

impl WaitTimer {
    /// A timerfd registered with `poll`, or none if it cannot be made.
    pub(crate) fn new(poll: &mio::Poll) -> WaitTimer {
        let state = match make(poll) {
            Ok(fd) => State::Ready { fd, armed_at: None },
            Err(err) => {
                log::debug!(target: "ioloop", "no timerfd, polls take their timeouts: {err}");
                State::Unavailable
            }
        };
        WaitTimer {
            state: RefCell::new(state),
        }
    }

    /// True if the timerfd will wake a poll (with no timeout)
    /// no later than `timeout` from now; false if the poll must take the
    /// timeout itself.
    pub(crate) fn cover(&self, timeout: Duration) -> bool {
        let mut state = self.state.borrow_mut();
        let State::Ready { fd, armed_at } = &mut *state else {
            return false;
        };
        let now = deadline::now_ns();
        let wanted = now.saturating_add(u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX));
        if let Some(at) = *armed_at
            && at > now
            && at <= wanted.saturating_add(SLACK_NS)
        {
            return true;
        }
        if timeout < MIN_ARMED_WAIT {
            return false;
        }
        match crate::sys::timerfd_arm(fd.as_fd(), timeout) {
            Ok(()) => {
                *armed_at = Some(wanted);
                true
            }
            Err(err) => {
                log::debug!(target: "ioloop", "timerfd {} not armed: {err}", fd.as_raw_fd());
                false
            }
        }
    }

    /// Closes the timerfd and makes one registered with `poll`, the
    /// loop's new poller (in a child after a fork, the old timerfd is the
    /// parent's as much as the child's: it is closed, never armed).
    pub(crate) fn replace(&self, poll: &mio::Poll) {
        let new = WaitTimer::new(poll);
        *self.state.borrow_mut() = new.state.into_inner();
    }

    /// Closes the timerfd with the loop's poller.
    pub(crate) fn close(&self) {
        *self.state.borrow_mut() = State::Unavailable;
    }
}

/// A timerfd registered with `poll` under [`WAIT_TIMER_TOKEN`].
fn make(poll: &mio::Poll) -> io::Result<OwnedFd> {
    let fd = crate::sys::timerfd()?;
    poll.registry().register(
        &mut SourceFd(&fd.as_raw_fd()),
        WAIT_TIMER_TOKEN,
        Interest::READABLE,
    )?;
    Ok(fd)
}
