//! Panics in callbacks: what ran, where it was registered, and the
//! replaceable handler that reports it.

use std::any::Any;
use std::fmt;
use std::os::fd::RawFd;
use std::panic::Location;

use crate::Events;
use crate::HookKind;

/// What kind of work panicked.
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
/// rules E1 and H10).
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
    pub fn kind(&self) -> CallbackKind {
        self.kind
    }

    /// Where the callback, timeout or handler was registered (the caller of
    /// `add_callback`, `add_timeout`, `add_handler`, ...).
    pub fn site(&self) -> &'static Location<'static> {
        self.site
    }

    /// The panic payload, as `catch_unwind` returned it.
    pub fn payload(&self) -> &'a (dyn Any + Send) {
        self.payload
    }

    /// The panic message, if the payload is a string (as `panic!` makes it).
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
