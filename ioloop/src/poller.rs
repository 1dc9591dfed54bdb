//! How descriptors are registered with the poller.
//!
//! A registration is level-triggered (Tornado's `add_handler`) or
//! edge-triggered (`add_edge_handler`, for code that drains until
//! `WouldBlock`).
//!
//! On Linux the loop registers descriptors on mio's own epoll instance
//! (`epoll_ctl` through `sys`, with `EPOLLET` only for edge-triggered
//! ones), and lets `mio::Poll::poll` collect their events: for a
//! level-triggered registration the kernel reports the descriptor on
//! every wait while it stays ready, which is Tornado's contract, at no
//! extra system call per event. mio registers its own waker
//! edge-triggered on the same instance; the two never share a descriptor.
//! Elsewhere descriptors go through mio's (edge-triggered) registry and
//! the loop re-arms level-triggered ones after each dispatch
//! ([`LEVEL_TRIGGERED`] is false).

use std::io;
use std::os::fd::RawFd;

use mio::Token;

use crate::Events;

/// True where level-triggered registrations are native, so handlers are
/// never re-armed after dispatch.
pub(crate) const LEVEL_TRIGGERED: bool = cfg!(target_os = "linux");

/// How a registration reports readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// On every wait, while ready (Tornado's contract).
    Level,
    /// When readiness changes: the handler drains until `WouldBlock`.
    Edge,
}

#[cfg(target_os = "linux")]
mod imp {
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

    pub(super) fn control(
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

#[cfg(not(target_os = "linux"))]
mod imp {
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

/// Registers `fd` for `events` (and always `ERROR`) under `token`.
pub(crate) fn register(
    poll: &mio::Poll,
    fd: RawFd,
    token: Token,
    events: Events,
    trigger: Trigger,
) -> io::Result<()> {
    imp::register(poll, fd, token, events, trigger)
}

/// Changes `fd`'s events; on an edge-triggered poller this also re-arms it.
pub(crate) fn reregister(
    poll: &mio::Poll,
    fd: RawFd,
    token: Token,
    events: Events,
    trigger: Trigger,
) -> io::Result<()> {
    imp::reregister(poll, fd, token, events, trigger)
}

/// Removes `fd`.
pub(crate) fn deregister(poll: &mio::Poll, fd: RawFd) -> io::Result<()> {
    imp::deregister(poll, fd)
}
