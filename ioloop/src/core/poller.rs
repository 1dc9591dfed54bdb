//! How descriptors are registered with the poller, and which poller a loop
//! uses ([`PollerKind`]).
//!
//! A registration is level-triggered (Tornado's `add_handler`) or
//! edge-triggered (`add_edge_handler`, for code that drains until
//! `WouldBlock`).
//!
//! Two ways to register, chosen per loop:
//!
//! * **native** (the default on Linux): descriptors go straight onto mio's
//!   own epoll instance (`epoll_ctl` through `sys`, with `EPOLLET` only for
//!   edge-triggered ones), and `mio::Poll::poll` collects their events. For
//!   a level-triggered registration the kernel reports the descriptor on
//!   every wait while it stays ready, which is Tornado's contract, at no
//!   extra system call per event. mio registers its own waker
//!   edge-triggered on the same instance; the two never share a descriptor.
//! * **portable** (every other platform, and Linux on request): descriptors
//!   go through mio's registry, which is edge-triggered everywhere, and the
//!   loop re-arms level-triggered ones after each dispatch (see
//!   [`handlers`](crate::core::handlers)).

use std::fmt;
use std::io;
use std::os::fd::RawFd;

use mio::Token;

use crate::{Events, IOLoop};

/// The environment variable read when a loop is built without an explicit
/// [`Builder::poller`](crate::Builder::poller).
///
/// # Examples
///
/// ```
/// use ioloop::{IOLoop, POLLER_ENV, PollerKind};
///
/// assert_eq!(POLLER_ENV, "IOLOOP_POLLER");
/// // `IOLOOP_POLLER=portable cargo test` runs a test suite on the portable
/// // poller; an explicit choice on the builder wins over the environment.
/// let ioloop = IOLoop::builder().poller(PollerKind::Native).build()?;
/// assert_eq!(ioloop.poller(), PollerKind::Native);
/// # Ok::<(), std::io::Error>(())
/// ```
pub const POLLER_ENV: &str = "IOLOOP_POLLER";

/// Which poller a loop registers its descriptors with; see
/// [`Builder::poller`](crate::Builder::poller).
///
/// # Portability
///
/// On Linux the two differ: [`Native`](PollerKind::Native) registers
/// level-triggered handlers level-triggered with epoll, and
/// [`Portable`](PollerKind::Portable) uses mio's edge-triggered registry
/// and re-arms each level-triggered handler after it runs (one more
/// `epoll_ctl` per dispatched event, unless the handler calls
/// [`IOLoop::mark_drained`]). Handlers see the same events either way.
/// Elsewhere (kqueue on the BSDs and macOS) the portable path is the only
/// one, and both values select it. The portable poller exists on Linux so
/// that the path every other platform takes can be tested there.
///
/// # Examples
///
/// ```
/// use ioloop::{IOLoop, PollerKind};
///
/// let ioloop = IOLoop::builder().poller(PollerKind::Portable).build()?;
/// assert_eq!(ioloop.poller(), PollerKind::Portable);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum PollerKind {
    /// The platform's best: natively level-triggered epoll on Linux; the
    /// same as `Portable` elsewhere.
    #[default]
    Native,
    /// mio's edge-triggered registry, with level-triggered handlers re-armed
    /// after each dispatch: what every platform but Linux uses.
    Portable,
}

impl PollerKind {
    /// The kind named by `value`: `native` or `portable` (ASCII case
    /// ignored, surrounding white space too). An empty value is `None`:
    /// the default.
    ///
    /// # Errors
    ///
    /// An `InvalidInput` error naming `value` for anything else.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::PollerKind;
    ///
    /// assert_eq!(PollerKind::parse("portable")?, Some(PollerKind::Portable));
    /// assert_eq!(PollerKind::parse("")?, None);
    /// assert!(PollerKind::parse("kqueue").is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn parse(value: &str) -> io::Result<Option<PollerKind>> {
        let value = value.trim();
        if value.is_empty() {
            Ok(None)
        } else if value.eq_ignore_ascii_case("native") {
            Ok(Some(PollerKind::Native))
        } else if value.eq_ignore_ascii_case("portable") {
            Ok(Some(PollerKind::Portable))
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown poller {value:?} (expected \"native\" or \"portable\")"),
            ))
        }
    }

    /// The kind [`POLLER_ENV`] asks for; `Native` when it is unset or empty.
    pub(crate) fn from_env() -> io::Result<PollerKind> {
        match std::env::var(POLLER_ENV) {
            Ok(value) => match PollerKind::parse(&value) {
                Ok(kind) => Ok(kind.unwrap_or_default()),
                Err(err) => Err(io::Error::new(err.kind(), format!("{POLLER_ENV}: {err}"))),
            },
            Err(std::env::VarError::NotPresent) => Ok(PollerKind::Native),
            Err(std::env::VarError::NotUnicode(value)) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{POLLER_ENV}: unknown poller {value:?} (expected \"native\" or \"portable\")"
                ),
            )),
        }
    }

    /// True where level-triggered registrations are native, so handlers
    /// are never re-armed after dispatch.
    pub(crate) fn level_triggered(self) -> bool {
        cfg!(target_os = "linux") && self == PollerKind::Native
    }

    /// Registers `fd` for `events` (and always `ERROR`) under `token`.
    pub(crate) fn register(
        self,
        poll: &mio::Poll,
        fd: RawFd,
        token: Token,
        events: Events,
        trigger: Trigger,
    ) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if self.level_triggered() {
            return epoll::register(poll, fd, token, events, trigger);
        }
        registry::register(poll, fd, token, events, trigger)
    }

    /// Changes `fd`'s events; on an edge-triggered poller this also re-arms
    /// it.
    pub(crate) fn reregister(
        self,
        poll: &mio::Poll,
        fd: RawFd,
        token: Token,
        events: Events,
        trigger: Trigger,
    ) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if self.level_triggered() {
            return epoll::reregister(poll, fd, token, events, trigger);
        }
        registry::reregister(poll, fd, token, events, trigger)
    }

    /// Removes `fd`.
    pub(crate) fn deregister(self, poll: &mio::Poll, fd: RawFd) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if self.level_triggered() {
            return epoll::deregister(poll, fd);
        }
        registry::deregister(poll, fd)
    }
}

impl fmt::Display for PollerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PollerKind::Native => "native",
            PollerKind::Portable => "portable",
        })
    }
}

impl IOLoop {
    /// The poller this loop registers its descriptors with: the one given
    /// to [`Builder::poller`](crate::Builder::poller), or else the one
    /// [`POLLER_ENV`] named when the loop was built.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::{IOLoop, PollerKind};
    ///
    /// let ioloop = IOLoop::builder().poller(PollerKind::Portable).build()?;
    /// assert_eq!(ioloop.poller(), PollerKind::Portable);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poller(&self) -> PollerKind {
        self.inner.poller
    }
}

/// How a registration reports readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// On every wait, while ready (Tornado's contract).
    Level,
    /// When readiness changes: the handler drains until `WouldBlock`.
    Edge,
}

/// Native registrations: straight onto mio's epoll instance.
#[cfg(target_os = "linux")]
mod epoll {
    use std::io;
    use std::os::fd::{AsRawFd, RawFd};

    use mio::Token;

    use super::Trigger;
    use crate::{Events, sys};

    /// The epoll mask: `EPOLLERR` and `EPOLLHUP` are always reported, so
    /// an `ERROR`-only mask is 0 (plus `EPOLLET` when edge-triggered).
    fn epoll_events(events: Events, trigger: Trigger) -> u32 {
        let mut mask = match trigger {
            Trigger::Level => 0,
            Trigger::Edge => libc::EPOLLET as u32,
        };
        if events.is_readable() {
            mask |= (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;
        }
        if events.is_writable() {
            mask |= libc::EPOLLOUT as u32;
        }
        mask
    }

    fn control(
        poll: &mio::Poll,
        op: libc::c_int,
        fd: RawFd,
        token: Token,
        events: Events,
        trigger: Trigger,
    ) -> io::Result<()> {
        let mask = epoll_events(events, trigger);
        sys::epoll_ctl(poll.as_raw_fd(), op, fd, mask, token.0 as u64)
    }

    pub(super) fn register(
        poll: &mio::Poll,
        fd: RawFd,
        token: Token,
        events: Events,
        trigger: Trigger,
    ) -> io::Result<()> {
        control(poll, libc::EPOLL_CTL_ADD, fd, token, events, trigger)
    }

    pub(super) fn reregister(
        poll: &mio::Poll,
        fd: RawFd,
        token: Token,
        events: Events,
        trigger: Trigger,
    ) -> io::Result<()> {
        control(poll, libc::EPOLL_CTL_MOD, fd, token, events, trigger)
    }

    pub(super) fn deregister(poll: &mio::Poll, fd: RawFd) -> io::Result<()> {
        sys::epoll_ctl(poll.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, 0, 0)
    }
}

/// Portable registrations: through mio's (edge-triggered) registry.
mod registry {
    use std::io;
    use std::os::fd::RawFd;

    use mio::unix::SourceFd;
    use mio::{Interest, Token};

    use super::Trigger;
    use crate::Events;

    /// mio cannot register an empty interest, so an `ERROR`-only mask
    /// registers `READABLE` and the loop filters `READ` out on delivery.
    fn interest(events: Events) -> Interest {
        match (events.is_readable(), events.is_writable()) {
            (true, true) => Interest::READABLE | Interest::WRITABLE,
            (false, true) => Interest::WRITABLE,
            _ => Interest::READABLE,
        }
    }

    /// mio's registry is always edge-triggered; the loop re-arms
    /// level-triggered registrations after each dispatch.
    pub(super) fn register(
        poll: &mio::Poll,
        fd: RawFd,
        token: Token,
        events: Events,
        _trigger: Trigger,
    ) -> io::Result<()> {
        poll.registry()
            .register(&mut SourceFd(&fd), token, interest(events))
    }

    pub(super) fn reregister(
        poll: &mio::Poll,
        fd: RawFd,
        token: Token,
        events: Events,
        _trigger: Trigger,
    ) -> io::Result<()> {
        poll.registry()
            .reregister(&mut SourceFd(&fd), token, interest(events))
    }

    pub(super) fn deregister(poll: &mio::Poll, fd: RawFd) -> io::Result<()> {
        poll.registry().deregister(&mut SourceFd(&fd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names_both_kinds_and_refuses_others_by_value() {
        assert_eq!(
            PollerKind::parse("native").unwrap(),
            Some(PollerKind::Native)
        );
        assert_eq!(
            PollerKind::parse(" Portable\n").unwrap(),
            Some(PollerKind::Portable)
        );
        assert_eq!(PollerKind::parse("  ").unwrap(), None);
        let err = PollerKind::parse("select").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("\"select\""), "{err}");
    }

    #[test]
    fn only_native_on_linux_is_level_triggered() {
        assert_eq!(
            PollerKind::Native.level_triggered(),
            cfg!(target_os = "linux")
        );
        assert!(!PollerKind::Portable.level_triggered());
    }

    #[test]
    fn display_is_what_parse_reads() {
        for kind in [PollerKind::Native, PollerKind::Portable] {
            assert_eq!(PollerKind::parse(&kind.to_string()).unwrap(), Some(kind));
        }
    }
}
