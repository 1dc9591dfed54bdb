//! The `READ` / `WRITE` / `ERROR` readiness mask.

use std::fmt;
use std::ops::{BitAnd, BitAndAssign, BitOr, BitOrAssign, Not, Sub};

/// A set of readiness events for a file descriptor: a bit mask of
/// [`READ`](Events::READ), [`WRITE`](Events::WRITE) and [`ERROR`](Events::ERROR).
///
/// The numeric values are Tornado's (`READ = 0x001`, `WRITE = 0x004`,
/// `ERROR = 0x018`, the epoll values of `EPOLLIN`, `EPOLLOUT` and
/// `EPOLLERR | EPOLLHUP`), so code and logs ported from Tornado read the same.
///
/// # Semantics
///
/// `ERROR` (an error or a hang-up on the descriptor) is always delivered to a
/// handler, whether or not its mask asked for it (Tornado's rule [H5](crate::guide::rules#h5)). When it
/// is delivered, both of its bits are set, so `events.contains(Events::ERROR)`
/// is the test to use.
///
/// # Examples
///
/// ```
/// use ioloop::Events;
///
/// let mask = Events::READ | Events::WRITE;
/// assert!(mask.contains(Events::READ));
/// assert!(!mask.contains(Events::ERROR));
/// assert_eq!(mask - Events::WRITE, Events::READ);
/// assert_eq!(format!("{:?}", mask), "READ | WRITE");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Events(u32);

impl Events {
    /// No events. A handler registered with `NONE` still receives `ERROR`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::Events;
    ///
    /// assert!(Events::NONE.is_empty());
    /// assert_eq!(Events::READ & Events::WRITE, Events::NONE);
    /// ```
    pub const NONE: Events = Events(0);
    /// The descriptor is readable (data, a pending connection, or end of file).
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::Events;
    ///
    /// let interest = Events::READ;
    /// assert!(interest.is_readable() && !interest.is_writable());
    /// ```
    pub const READ: Events = Events(0x001);
    /// The descriptor is writable.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::Events;
    ///
    /// let interest = Events::READ | Events::WRITE;
    /// assert!(interest.contains(Events::WRITE));
    /// ```
    pub const WRITE: Events = Events(0x004);
    /// An error or hang-up on the descriptor (`EPOLLERR | EPOLLHUP`).
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::Events;
    ///
    /// // A handler may get ERROR without asking for it: test it first.
    /// let got = Events::READ | Events::ERROR;
    /// assert!(got.is_error());
    /// ```
    pub const ERROR: Events = Events(0x008 | 0x010);
    /// The peer shut down its sending side: an end of file is waiting
    /// behind any data still unread (`EPOLLRDHUP`, kqueue's `EV_EOF`).
    ///
    /// Not one of Tornado's events and not a mask bit to register for:
    /// only handlers added with
    /// [`add_edge_handler`](crate::IOLoop::add_edge_handler) and
    /// `READ` interest receive it, beside `READ`, so that code which takes
    /// a short read as proof the descriptor is drained (no further edge
    /// would announce an end of file that came with the data) knows when it
    /// is not. Level-triggered handlers see exactly Tornado's masks.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::Events;
    ///
    /// let got = Events::READ | Events::READ_CLOSED;
    /// assert!(got.contains(Events::READ_CLOSED)); // the peer shut down its side
    /// ```
    pub const READ_CLOSED: Events = Events(0x2000);

    const ALL: u32 = Self::READ.0 | Self::WRITE.0 | Self::ERROR.0;

    /// The mask's bits, with Tornado's numeric values.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::Events;
    ///
    /// assert_eq!((Events::READ | Events::WRITE).bits(), 0x005);
    /// ```
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Builds a mask from bits, dropping any bit that is not one of the
    /// three known events.
    ///
    /// ```
    /// use ioloop::Events;
    /// assert_eq!(Events::from_bits_truncate(0x001 | 0x100), Events::READ);
    /// ```
    pub const fn from_bits_truncate(bits: u32) -> Events {
        Events(bits & Self::ALL)
    }

    /// True if every event in `other` is in `self`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::Events;
    ///
    /// let both = Events::READ | Events::WRITE;
    /// assert!(both.contains(Events::READ));
    /// assert!(!Events::READ.contains(both));
    /// ```
    pub const fn contains(self, other: Events) -> bool {
        self.0 & other.0 == other.0
    }

    /// True if `self` and `other` have an event in common.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::Events;
    ///
    /// let both = Events::READ | Events::WRITE;
    /// assert!(Events::READ.intersects(both));
    /// assert!(!Events::READ.intersects(Events::WRITE));
    /// ```
    pub const fn intersects(self, other: Events) -> bool {
        self.0 & other.0 != 0
    }

    /// True for the empty mask.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::Events;
    ///
    /// assert!(Events::NONE.is_empty());
    /// assert!(!Events::READ.is_empty());
    /// ```
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// True if the mask contains `READ`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::Events;
    ///
    /// assert!(Events::READ.is_readable());
    /// assert!(!Events::WRITE.is_readable());
    /// ```
    pub const fn is_readable(self) -> bool {
        self.contains(Events::READ)
    }

    /// True if the mask contains `WRITE`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::Events;
    ///
    /// assert!((Events::READ | Events::WRITE).is_writable());
    /// assert!(!Events::READ.is_writable());
    /// ```
    pub const fn is_writable(self) -> bool {
        self.contains(Events::WRITE)
    }

    /// True if the mask contains any bit of `ERROR`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::Events;
    ///
    /// assert!(Events::ERROR.is_error());
    /// assert!(!(Events::READ | Events::WRITE).is_error());
    /// ```
    pub const fn is_error(self) -> bool {
        self.intersects(Events::ERROR)
    }
}

impl BitOr for Events {
    type Output = Events;
    fn bitor(self, rhs: Events) -> Events {
        Events(self.0 | rhs.0)
    }
}

impl BitOrAssign for Events {
    fn bitor_assign(&mut self, rhs: Events) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for Events {
    type Output = Events;
    fn bitand(self, rhs: Events) -> Events {
        Events(self.0 & rhs.0)
    }
}

impl BitAndAssign for Events {
    fn bitand_assign(&mut self, rhs: Events) {
        self.0 &= rhs.0;
    }
}

impl Sub for Events {
    type Output = Events;
    fn sub(self, rhs: Events) -> Events {
        Events(self.0 & !rhs.0)
    }
}

impl Not for Events {
    type Output = Events;
    fn not(self) -> Events {
        Events(!self.0 & Self::ALL)
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("NONE");
        }
        let mut first = true;
        for (event, name) in [
            (Events::READ, "READ"),
            (Events::WRITE, "WRITE"),
            (Events::ERROR, "ERROR"),
            (Events::READ_CLOSED, "READ_CLOSED"),
        ] {
            if self.intersects(event) {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tornado_values() {
        assert_eq!(Events::READ.bits(), 0x001);
        assert_eq!(Events::WRITE.bits(), 0x004);
        assert_eq!(Events::ERROR.bits(), 0x018);
        assert_eq!(Events::NONE.bits(), 0);
    }

    #[test]
    fn set_operations() {
        let rw = Events::READ | Events::WRITE;
        assert!(rw.contains(Events::READ) && rw.contains(Events::WRITE));
        assert!(!rw.contains(Events::READ | Events::ERROR));
        assert!(rw.intersects(Events::READ | Events::ERROR));
        assert_eq!(rw & Events::WRITE, Events::WRITE);
        assert_eq!(!Events::READ, Events::WRITE | Events::ERROR);
        assert_eq!(Events::from_bits_truncate(0x010), Events(0x010));
        assert!(Events::from_bits_truncate(0x010).is_error());
        assert!(Events::NONE.is_empty());
        // READ_CLOSED is a hint beside the Tornado masks, not one of them.
        assert_eq!(Events::from_bits_truncate(0x2000), Events::NONE);
        assert_eq!(!Events::NONE, Events::READ | Events::WRITE | Events::ERROR);
    }

    #[test]
    fn debug_names() {
        assert_eq!(format!("{:?}", Events::NONE), "NONE");
        assert_eq!(format!("{}", Events::READ | Events::ERROR), "READ | ERROR");
        assert_eq!(
            format!("{}", Events::READ | Events::READ_CLOSED),
            "READ | READ_CLOSED"
        );
    }
}
