//! How descriptors are registered with the poller.
//!
//! On Linux the loop registers descriptors **level-triggered** on mio's own
//! epoll instance (`epoll_ctl` without `EPOLLET`, through `sys`), and lets
//! `mio::Poll::poll` collect their events: the kernel then reports a
//! descriptor on every wait while it stays ready, which is Tornado's
//! contract, at no extra system call per event. mio registers its own
//! waker edge-triggered on the same instance; the two never share a
//! descriptor. Elsewhere descriptors go through mio's (edge-triggered)
//! registry and the loop re-arms them after each dispatch
//! ([`LEVEL_TRIGGERED`] is false).

use std::io;
use std::os::fd::RawFd;

use mio::Token;

use crate::Events;

/// True where registrations are natively level-triggered, so handlers are
/// never re-armed after dispatch.
pub(crate) const LEVEL_TRIGGERED: bool = cfg!(target_os = "linux");

#[cfg(target_os = "linux")]
mod imp {
    use std::io;
    use std::os::fd::{AsRawFd, RawFd};

    use mio::Token;

    use crate::{Events, sys};

    /// The epoll mask for a Tornado mask: `EPOLLERR` and `EPOLLHUP` are
    /// always reported, so an `ERROR`-only mask is 0.
    fn epoll_events(events: Events) -> u32 {
        let mut mask = 0;
        if events.is_readable() {
            mask |= (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;
        }
        if events.is_writable() {
            mask |= libc::EPOLLOUT as u32;
        }
        mask
    }

    pub(super) fn register(
        poll: &mio::Poll,
        fd: RawFd,
        token: Token,
        events: Events,
    ) -> io::Result<()> {
        sys::epoll_ctl(
            poll.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            fd,
            epoll_events(events),
            token.0 as u64,
        )
    }

    pub(super) fn reregister(
        poll: &mio::Poll,
        fd: RawFd,
        token: Token,
        events: Events,
    ) -> io::Result<()> {
        sys::epoll_ctl(
            poll.as_raw_fd(),
            libc::EPOLL_CTL_MOD,
            fd,
            epoll_events(events),
            token.0 as u64,
        )
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

    pub(super) fn register(
        poll: &mio::Poll,
        fd: RawFd,
        token: Token,
        events: Events,
    ) -> io::Result<()> {
        poll.registry()
            .register(&mut SourceFd(&fd), token, interest(events))
    }

    pub(super) fn reregister(
        poll: &mio::Poll,
        fd: RawFd,
        token: Token,
        events: Events,
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
) -> io::Result<()> {
    imp::register(poll, fd, token, events)
}

/// Changes `fd`'s events; on an edge-triggered poller this also re-arms it.
pub(crate) fn reregister(
    poll: &mio::Poll,
    fd: RawFd,
    token: Token,
    events: Events,
) -> io::Result<()> {
    imp::reregister(poll, fd, token, events)
}

/// Removes `fd`.
pub(crate) fn deregister(poll: &mio::Poll, fd: RawFd) -> io::Result<()> {
    imp::deregister(poll, fd)
}
