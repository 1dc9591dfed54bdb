//! Panics in callbacks: what ran, where it was registered, and the
//! replaceable handler that reports it.

use std::any::Any;
use std::fmt;
use std::os::fd::RawFd;
use std::panic::Location;

use crate::Events;
use crate::HookKind;

/// What kind of work panicked.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use ioloop::{CallbackKind, IOLoop};
///
/// let ioloop = IOLoop::new()?;
/// let kinds = Rc::new(RefCell::new(Vec::new()));
/// let k = kinds.clone();
/// ioloop.set_exception_handler(move |panic| k.borrow_mut().push(panic.kind()));
/// ioloop.add_callback(|| panic!("in a callback"));
/// ioloop.add_timeout(std::time::Duration::ZERO, || panic!("in a timeout"));
/// # std::panic::set_hook(Box::new(|_| {}));
/// ioloop.run()?;
/// assert!(matches!(kinds.borrow()[..], [CallbackKind::Callback, CallbackKind::Timeout]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallbackKind {
    /// A callback added with `add_callback` (or `Remote::add_callback`).
    Callback,
    /// A timeout added with `add_timeout`, `call_later` or `call_at`.
    Timeout,
    /// A poll of a task (`spawn`, `add_future`, `run_sync`).
    Task,
    /// An I/O handler, called for `fd` with `events`.
    Handler {
        /// The descriptor the handler was called for.
        fd: RawFd,
        /// The events it was called with.
        events: Events,
    },
    /// A prepare, check or idle hook ([`IOLoop::add_prepare`](crate::IOLoop::add_prepare) and friends).
    Hook(HookKind),
    /// A [`PeriodicCallback`](crate::PeriodicCallback)'s callback (or the
    /// future its async callback returned).
    Periodic,
}

impl fmt::Display for CallbackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallbackKind::Callback => f.write_str("callback"),
            CallbackKind::Timeout => f.write_str("timeout"),
            CallbackKind::Task => f.write_str("task"),
            CallbackKind::Handler { fd, events } => {
                write!(f, "handler for fd {fd} ({events:?})")
            }
            CallbackKind::Hook(kind) => write!(f, "{kind} hook"),
            CallbackKind::Periodic => f.write_str("periodic callback"),
        }
    }
}

/// A panic caught by the loop, as given to the exception handler.
///
/// The loop runs every callback, timeout and handler under
/// [`catch_unwind`](std::panic::catch_unwind). A panic is reported here and
/// the loop goes on; a handler that panicked stays registered (Tornado's
/// rules [E1](crate::guide::rules#e1) and [H10](crate::guide::rules#h10)).
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use ioloop::IOLoop;
///
/// let ioloop = IOLoop::new()?;
/// let seen = Rc::new(RefCell::new(None));
/// let s = seen.clone();
/// ioloop.set_exception_handler(move |panic| {
///     *s.borrow_mut() = Some((panic.message().map(str::to_owned), panic.site().line()));
/// });
/// let line = line!() + 1;
/// ioloop.add_callback(|| panic!("boom"));
/// # std::panic::set_hook(Box::new(|_| {}));
/// ioloop.run()?;
/// assert_eq!(*seen.borrow(), Some((Some("boom".to_owned()), line)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy)]
pub struct CallbackPanic<'a> {
    kind: CallbackKind,
    site: &'static Location<'static>,
    payload: &'a (dyn Any + Send),
}

impl<'a> CallbackPanic<'a> {
    pub(crate) fn new(
        kind: CallbackKind,
        site: &'static Location<'static>,
        payload: &'a (dyn Any + Send),
    ) -> Self {
        CallbackPanic {
            kind,
            site,
            payload,
        }
    }

    /// What kind of work panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use ioloop::{CallbackKind, IOLoop};
    ///
    /// let ioloop = IOLoop::new()?;
    /// let task_panicked = Rc::new(Cell::new(false));
    /// let t = task_panicked.clone();
    /// ioloop.set_exception_handler(move |panic| t.set(panic.kind() == CallbackKind::Task));
    /// ioloop.spawn(async { panic!("in a task") }).detach();
    /// # std::panic::set_hook(Box::new(|_| {}));
    /// ioloop.run()?;
    /// assert!(task_panicked.get());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kind(&self) -> CallbackKind {
        self.kind
    }

    /// Where the callback, timeout or handler was registered (the caller of
    /// `add_callback`, `add_timeout`, `add_handler`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let site = Rc::new(Cell::new(0));
    /// let s = site.clone();
    /// ioloop.set_exception_handler(move |panic| s.set(panic.site().line()));
    /// let line = line!() + 1;
    /// ioloop.add_callback(|| panic!("boom"));
    /// # std::panic::set_hook(Box::new(|_| {}));
    /// ioloop.run()?;
    /// assert_eq!(site.get(), line); // where the callback was added
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn site(&self) -> &'static Location<'static> {
        self.site
    }

    /// The panic payload, as `catch_unwind` returned it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let code = Rc::new(Cell::new(0));
    /// let c = code.clone();
    /// ioloop.set_exception_handler(move |panic| {
    ///     c.set(*panic.payload().downcast_ref::<i32>().unwrap());
    /// });
    /// ioloop.add_callback(|| std::panic::panic_any(42_i32));
    /// # std::panic::set_hook(Box::new(|_| {}));
    /// ioloop.run()?;
    /// assert_eq!(code.get(), 42);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn payload(&self) -> &'a (dyn Any + Send) {
        self.payload
    }

    /// The panic message, if the payload is a string (as `panic!` makes it).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let messages = Rc::new(RefCell::new(Vec::new()));
    /// let m = messages.clone();
    /// ioloop.set_exception_handler(move |panic| m.borrow_mut().push(panic.message().map(str::to_owned)));
    /// ioloop.add_callback(|| panic!("code {}", 7));
    /// ioloop.add_callback(|| std::panic::panic_any(7_u8));
    /// # std::panic::set_hook(Box::new(|_| {}));
    /// ioloop.run()?;
    /// assert_eq!(*messages.borrow(), [Some("code 7".to_owned()), None]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn message(&self) -> Option<&'a str> {
        payload_message(self.payload)
    }
}

/// The message of a panic payload, if it is a string.
pub(crate) fn payload_message(payload: &(dyn Any + Send)) -> Option<&str> {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        Some(s)
    } else {
        payload.downcast_ref::<String>().map(String::as_str)
    }
}

impl fmt::Display for CallbackPanic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "panic in {} registered at {}: {}",
            self.kind,
            self.site,
            self.message().unwrap_or("(non-string payload)")
        )
    }
}

impl fmt::Debug for CallbackPanic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackPanic")
            .field("kind", &self.kind)
            .field("site", &self.site)
            .field("message", &self.message())
            .finish()
    }
}

/// The default exception handler: one `log::error!` record naming what
/// panicked and where it was registered.
pub(crate) fn log_panic(panic: &CallbackPanic<'_>) {
    log::error!(target: "ioloop", "{panic}");
}
