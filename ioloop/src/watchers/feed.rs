//! [`IOLoop::feed_fd_event`]: an I/O event as if the poller had reported it
//! (libev's `ev_feed_fd_event`).

use std::cell::RefCell;
use std::os::fd::RawFd;

use mio::Token;

use crate::watchers::Watchers;
use crate::watchers::features::Features;
use crate::{Events, IOLoop};

/// Events fed and not yet dispatched, by registration token.
/// INVARIANT: the loop's `Features::FED` bit is set iff `events` is not
/// empty.
#[derive(Debug, Default)]
pub(crate) struct FedEvents {
    events: RefCell<Vec<(Token, Events)>>,
}

/// Drops the fed events (at `close`).
pub(crate) fn clear(watchers: &Watchers) {
    watchers.fed.events.borrow_mut().clear();
    watchers.features.set(Features::FED, false);
}

/// Moves the fed events into the poll's ready list; an event for a
/// registration the poller also reported is merged into it, so each
/// handler is still called at most once per dispatch.
pub(crate) fn take_into(watchers: &Watchers, ready: &mut Vec<(Token, Events)>) {
    let mut fed = watchers.fed.events.borrow_mut();
    for (token, events) in fed.drain(..) {
        match ready.iter_mut().find(|(t, _)| *t == token) {
            Some((_, seen)) => *seen |= events,
            None => ready.push((token, events)),
        }
    }
    watchers.features.set(Features::FED, false);
}

impl IOLoop {
    /// Delivers `events` to `fd`'s handler as if the poller had reported
    /// them (libev's `ev_feed_fd_event`). Returns false, doing nothing, if
    /// `fd` has no handler.
    ///
    /// # Semantics
    ///
    /// * The handler is called at the next dispatch: in this iteration if
    ///   fed before the poll (from a callback, a timeout or a prepare hook),
    ///   in the next one if fed from a handler or a check hook. A fed event
    ///   makes that poll non-blocking, and keeps [`run`](IOLoop::run) going
    ///   until it is dispatched.
    /// * It is filtered as a real event is: the handler gets the events it
    ///   asked for plus [`ERROR`](Events::ERROR), and is not called if that
    ///   leaves nothing. If the poller reports the same descriptor in the
    ///   same dispatch, the events are merged into one call.
    /// * The event is for the registration that exists now: if the handler
    ///   is removed before the dispatch, it is dropped, even if `fd` has
    ///   been registered again meanwhile (rule [H8](crate::guide::rules#h8)).
    /// * After the handler, the descriptor is re-armed as after a real
    ///   event, so a descriptor that is really ready is reported again.
    ///
    /// To feed a signal (libev's `ev_feed_signal_event`), see
    /// [`feed_signal_event`](IOLoop::feed_signal_event).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    /// use ioloop::{Events, IOLoop};
    ///
    /// let ioloop = IOLoop::new()?;
    /// let (a, _b) = UnixStream::pair()?; // nothing to read on `a`
    /// let l = ioloop.clone();
    /// ioloop.add_handler(a.as_raw_fd(), Events::READ, move |fd, events| {
    ///     assert_eq!(events, Events::READ);
    ///     l.remove_handler(fd);
    ///     l.stop();
    /// })?;
    /// assert!(ioloop.feed_fd_event(a.as_raw_fd(), Events::READ));
    /// ioloop.start()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn feed_fd_event(&self, fd: RawFd, events: Events) -> bool {
        let token = {
            let mut table = self.inner.handlers.borrow_mut();
            match table.by_fd(fd) {
                Some((slot, reg)) => reg.token(slot),
                None => return false,
            }
        };
        self.inner
            .watchers
            .fed
            .events
            .borrow_mut()
            .push((token, events));
        self.inner.watchers.features.set(Features::FED, true);
        true
    }
}
