//! Readiness futures for a descriptor, on the loop's level-triggered
//! handlers: [`IOLoop::readable`] and [`IOLoop::writable`].

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::core::poller::Trigger;
use crate::{Events, IOLoop};

#[derive(Default)]
struct ReadyState {
    /// The events delivered, once the handler ran.
    events: Cell<Option<Events>>,
    /// True while our handler is registered for the descriptor.
    registered: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// A future that completes when a descriptor is ready; made by
/// [`IOLoop::readable`], [`IOLoop::writable`] and [`IOLoop::ready`].
///
/// On its first poll it registers a one-shot handler for the descriptor
/// (so the descriptor must have no other handler on the loop); the handler
/// removes itself when it fires. Dropping the future first removes it.
/// The output is the events delivered, which include
/// [`ERROR`](Events::ERROR) on an error or hang-up.
///
/// # Thread safety
///
/// `Ready` is not `Send`: only the loop's thread can poll it, and only
/// the loop's events complete it. Poll it from a task on the loop
/// ([`IOLoop::spawn`], [`IOLoop::run_sync`]). Another executor on the
/// loop's thread (`futures::executor::block_on`) is not supported: with
/// the loop stopped, or blocked by that executor inside a callback, no
/// event is delivered and the future never completes.
///
/// # Examples
///
/// ```
/// use std::os::fd::AsRawFd;
/// use std::os::unix::net::UnixStream;
/// use ioloop::{Events, IOLoop, Ready};
///
/// let ioloop = IOLoop::new()?;
/// let (a, _b) = UnixStream::pair()?;
/// let events = ioloop.run_sync(
///     || {
///         let ready: Ready = IOLoop::current().ready(a.as_raw_fd(), Events::WRITE);
///         ready
///     },
///     Some(std::time::Duration::from_secs(10)),
/// )??;
/// assert!(events.is_writable());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Ready {
    ioloop: IOLoop,
    fd: RawFd,
    interest: Events,
    site: &'static Location<'static>,
    state: Option<Rc<ReadyState>>,
}

impl Future for Ready {
    type Output = io::Result<Events>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let state = match &this.state {
            Some(state) => Rc::clone(state),
            None => {
                let state = Rc::new(ReadyState::default());
                let (s, l) = (Rc::clone(&state), this.ioloop.downgrade());
                let handler = Box::new(move |fd: RawFd, events: Events| {
                    s.events.set(Some(events));
                    s.registered.set(false);
                    if let Some(l) = l.upgrade() {
                        l.remove_handler(fd);
                    }
                    let waker = s.waker.borrow_mut().take();
                    if let Some(waker) = waker {
                        waker.wake();
                    }
                });
                this.ioloop.register(
                    this.fd,
                    this.interest,
                    Trigger::Level,
                    handler,
                    None,
                    this.site,
                )?;
                state.registered.set(true);
                this.state = Some(Rc::clone(&state));
                state
            }
        };
        if let Some(events) = state.events.get() {
            return Poll::Ready(Ok(events));
        }
        let mut waker = state.waker.borrow_mut();
        match waker.as_ref() {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for Ready {
    fn drop(&mut self) {
        if let Some(state) = self.state.take()
            && state.registered.get()
        {
            self.ioloop.remove_handler(self.fd);
        }
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready")
            .field("fd", &self.fd)
            .field("interest", &self.interest)
            .finish()
    }
}

impl IOLoop {
    /// A future that completes when `fd` is readable (or has an error or
    /// hang-up), with the events delivered.
    ///
    /// # Errors
    ///
    /// As [`add_handler`](IOLoop::add_handler): the descriptor already has a
    /// handler, epoll refuses it, or the loop is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    /// use ioloop::{Events, IOLoop};
    ///
    /// let ioloop = IOLoop::new()?;
    /// let (mut a, b) = UnixStream::pair()?;
    /// std::thread::spawn(move || a.write_all(b"x"));
    /// let events = ioloop.run_sync(|| IOLoop::current().readable(b.as_raw_fd()), None)??;
    /// assert!(events.contains(Events::READ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn readable(&self, fd: RawFd) -> Ready {
        self.ready(fd, Events::READ)
    }

    /// A future that completes when `fd` is writable (or has an error or
    /// hang-up). See [`readable`](IOLoop::readable).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let (a, _b) = UnixStream::pair()?; // an empty socket buffer is writable
    /// let events = ioloop.run_sync(|| IOLoop::current().writable(a.as_raw_fd()), None)??;
    /// assert!(events.is_writable());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn writable(&self, fd: RawFd) -> Ready {
        self.ready(fd, Events::WRITE)
    }

    /// A future that completes when `fd` is ready for any of `interest`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    /// use ioloop::{Events, IOLoop};
    ///
    /// let ioloop = IOLoop::new()?;
    /// let (a, b) = UnixStream::pair()?;
    /// drop(b); // the peer hangs up
    /// let events = ioloop.run_sync(|| IOLoop::current().ready(a.as_raw_fd(), Events::READ), None)??;
    /// assert!(events.is_readable() || events.is_error());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn ready(&self, fd: RawFd, interest: Events) -> Ready {
        Ready {
            ioloop: self.clone(),
            fd,
            interest,
            site: Location::caller(),
            state: None,
        }
    }
}
