//! The loop's error type.

use std::fmt;
use std::io;

/// An error from an [`IOLoop`](crate::IOLoop) operation.
///
/// Operations at the operating-system edge (`add_handler`, `IOLoop::new`)
/// return [`io::Error`]; the lifecycle operations (`start`, `close`,
/// `install`) return this enum, so a caller can branch on what went wrong.
/// It converts to and from `io::Error` both ways, and an `io::Error` built
/// from it can be downcast back with [`io::Error::get_ref`].
///
/// # Examples
///
/// ```
/// use ioloop::{Error, IOLoop};
///
/// let ioloop = IOLoop::new()?;
/// ioloop.close(false)?;
/// match ioloop.start() {
///     Err(Error::Closed) => {} // branch on what went wrong
///     other => panic!("expected Closed, got {other:?}"),
/// }
/// // It converts into an io::Error, and back with get_ref.
/// let io: std::io::Error = Error::Closed.into();
/// assert!(matches!(io.get_ref().and_then(|e| e.downcast_ref::<Error>()), Some(Error::Closed)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// `start()` (or `run_sync`) was called on a loop that is already running
    /// (Tornado's `RuntimeError("IOLoop is already running")`, rule [L6](crate::guide::rules#l6)).
    AlreadyRunning,
    /// The operation needs a loop that is not running (`close`, rule [L9](crate::guide::rules#l9)).
    Running,
    /// The loop has been closed.
    Closed,
    /// A current loop already exists on this thread and the caller asked to
    /// become current anyway (rule [S6](crate::guide::rules#s6)).
    CurrentExists,
    /// The process-wide instance already exists (`install`, rule [S2](crate::guide::rules#s2)).
    InstanceExists,
    /// The loop was created in another process: this process is a `fork()`
    /// child that did not call
    /// [`reset_after_fork`](crate::IOLoop::reset_after_fork) (Tornado's rule
    /// [L13](crate::guide::rules#l13): its epoll descriptor is shared with the parent).
    Forked {
        /// The process that created the loop.
        created_in: u32,
        /// The process trying to run it.
        now_in: u32,
    },
    /// The loop is suspended ([`suspend`](crate::IOLoop::suspend)); call
    /// [`resume`](crate::IOLoop::resume) first.
    Suspended,
    /// An operating-system error, for example from polling.
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::AlreadyRunning => f.write_str("the ioloop is already running"),
            Error::Running => {
                f.write_str("the ioloop is running; stop it and let start() return first")
            }
            Error::Closed => f.write_str("the ioloop is closed"),
            Error::CurrentExists => f.write_str("a current ioloop already exists on this thread"),
            Error::InstanceExists => f.write_str("the ioloop instance is already installed"),
            Error::Forked { created_in, now_in } => write!(
                f,
                "the ioloop was created in process {created_in} and is used in process \
                 {now_in}; call reset_after_fork() in the child first"
            ),
            Error::Suspended => f.write_str("the ioloop is suspended; call resume() first"),
            Error::Io(err) => write!(f, "ioloop i/o error: {err}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // An `Io` error's message already ends with its cause's: a
        // reporter printing the chain would print it twice.
        None
    }
}

impl From<io::Error> for Error {
    /// Unwraps an `io::Error` that carries an `Error` (built by the reverse
    /// conversion); wraps any other as [`Error::Io`].
    fn from(err: io::Error) -> Error {
        if err.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            let inner = err.into_inner().expect("checked above");
            return *inner.downcast::<Error>().expect("checked above");
        }
        Error::Io(err)
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        match err {
            Error::Io(err) => err,
            Error::AlreadyRunning
            | Error::Running
            | Error::CurrentExists
            | Error::InstanceExists
            | Error::Forked { .. }
            | Error::Suspended => io::Error::other(err),
            Error::Closed => io::Error::new(io::ErrorKind::NotConnected, err),
        }
    }
}

/// An `io::Error` whose message names the operation and the file
/// descriptor: `"add_handler fd 7: Bad file descriptor (os error 9)"`.
pub(crate) fn fd_error(op: &str, fd: i32, source: io::Error) -> io::Error {
    ContextError::wrap(source, format_args!("{op} fd {fd}"))
}

/// An error with what was being done when it happened (the address, fd or
/// path), carried inside an `io::Error` by the functions of this crate and
/// of `netutil`: `"connect to 127.0.0.1:8899: Connection refused (os error
/// 111)"`.
///
/// The message says the context once and the cause once. The outer
/// `io::Error` has the cause's [`kind`](io::Error::kind); its
/// [`raw_os_error`](io::Error::raw_os_error) is `None`, since std keeps an
/// OS error number only on an `io::Error` without a message of its own:
/// read the number with [`raw_os_error`] (the free function) or
/// [`ContextError::raw_os_error`]. The cause is not also given as the
/// [`source`](std::error::Error::source), so an error reporter that prints
/// the chain does not print the cause's text twice; it stays reachable
/// through [`ContextError::cause`].
///
/// # Examples
///
/// ```
/// use std::io;
///
/// let ioloop = ioloop::IOLoop::new()?;
/// let err = ioloop.add_handler(-1, ioloop::Events::READ, |_, _| {}).unwrap_err();
/// let context = ioloop::ContextError::find(&err).expect("a context error");
/// assert_eq!(context.context(), "add_handler fd -1");
/// assert_eq!(ioloop::raw_os_error(&err), Some(libc::EBADF));
/// assert_eq!(err.kind(), io::Error::from_raw_os_error(libc::EBADF).kind());
/// assert!(std::error::Error::source(&err).is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ContextError {
    context: String,
    cause: io::Error,
}

impl ContextError {
    /// `cause` inside an `io::Error` of the same kind whose message is
    /// `"{context}: {cause}"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    /// use ioloop::ContextError;
    ///
    /// let err = ContextError::wrap(io::Error::from_raw_os_error(libc::ENOENT), "open /nowhere");
    /// assert_eq!(err.kind(), io::ErrorKind::NotFound);
    /// assert!(err.to_string().starts_with("open /nowhere: "));
    /// ```
    pub fn wrap(cause: io::Error, context: impl fmt::Display) -> io::Error {
        io::Error::new(
            cause.kind(),
            ContextError {
                context: context.to_string(),
                cause,
            },
        )
    }

    /// The `ContextError` carried by `err`, if it carries one.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    /// use ioloop::ContextError;
    ///
    /// let err = ContextError::wrap(io::Error::from(io::ErrorKind::TimedOut), "connect to 10.0.0.1:80");
    /// assert_eq!(ContextError::find(&err).unwrap().context(), "connect to 10.0.0.1:80");
    /// assert!(ContextError::find(&io::Error::from(io::ErrorKind::TimedOut)).is_none());
    /// ```
    pub fn find(err: &io::Error) -> Option<&ContextError> {
        err.get_ref()?.downcast_ref::<ContextError>()
    }

    /// What was being done, for example `"connect to 127.0.0.1:8899"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    /// use ioloop::ContextError;
    ///
    /// let err = ContextError::wrap(io::Error::from(io::ErrorKind::TimedOut), "read fd 7");
    /// assert_eq!(ContextError::find(&err).unwrap().context(), "read fd 7");
    /// ```
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The error that happened (an OS error, or another `ContextError`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    /// use ioloop::ContextError;
    ///
    /// let err = ContextError::wrap(io::Error::from_raw_os_error(libc::EBADF), "close fd 99");
    /// let cause = ContextError::find(&err).unwrap().cause();
    /// assert_eq!(cause.raw_os_error(), Some(libc::EBADF));
    /// ```
    pub fn cause(&self) -> &io::Error {
        &self.cause
    }

    /// The kind of the cause.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    /// use ioloop::ContextError;
    ///
    /// let err = ContextError::wrap(io::Error::from_raw_os_error(libc::ECONNREFUSED), "connect");
    /// assert_eq!(ContextError::find(&err).unwrap().kind(), io::ErrorKind::ConnectionRefused);
    /// ```
    pub fn kind(&self) -> io::ErrorKind {
        self.cause.kind()
    }

    /// The OS error number of the cause, looking through nested
    /// `ContextError`s.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    /// use ioloop::ContextError;
    ///
    /// let inner = ContextError::wrap(io::Error::from_raw_os_error(libc::EPIPE), "write fd 5");
    /// let outer = ContextError::wrap(inner, "send response");
    /// assert_eq!(ContextError::find(&outer).unwrap().raw_os_error(), Some(libc::EPIPE));
    /// ```
    pub fn raw_os_error(&self) -> Option<i32> {
        raw_os_error(&self.cause)
    }
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, self.cause)
    }
}

impl std::error::Error for ContextError {}

/// The OS error number of `err`: [`io::Error::raw_os_error`], or, for an
/// error that adds context ([`ContextError`]), wraps an [`Error::Io`], or
/// gives an `io::Error` as its source, the number of the error inside.
///
/// # Examples
///
/// ```
/// let refused = std::io::Error::from_raw_os_error(libc::ECONNREFUSED);
/// let err = ioloop::ContextError::wrap(refused, "connect to 127.0.0.1:9");
/// assert_eq!(err.raw_os_error(), None);
/// assert_eq!(ioloop::raw_os_error(&err), Some(libc::ECONNREFUSED));
/// ```
pub fn raw_os_error(err: &io::Error) -> Option<i32> {
    if let Some(code) = err.raw_os_error() {
        return Some(code);
    }
    let inner = err.get_ref()?;
    if let Some(context) = inner.downcast_ref::<ContextError>() {
        return raw_os_error(&context.cause);
    }
    if let Some(Error::Io(io)) = inner.downcast_ref::<Error>() {
        return raw_os_error(io);
    }
    let mut source = inner.source();
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return raw_os_error(io);
        }
        source = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_io_error() {
        let io: io::Error = Error::AlreadyRunning.into();
        assert_eq!(io.to_string(), "the ioloop is already running");
        assert!(matches!(Error::from(io), Error::AlreadyRunning));
        let raw = io::Error::from_raw_os_error(libc_eintr());
        assert!(matches!(Error::from(raw), Error::Io(_)));
    }

    #[test]
    fn fd_errors_name_the_fd() {
        let err = fd_error(
            "add_handler",
            7,
            io::Error::from(io::ErrorKind::AlreadyExists),
        );
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(err.to_string().starts_with("add_handler fd 7: "), "{err}");
    }

    #[test]
    fn context_errors_say_the_cause_once_and_keep_its_number() {
        let err = fd_error("add_handler", 7, io::Error::from_raw_os_error(9));
        let cause = io::Error::from_raw_os_error(9).to_string();
        let message = err.to_string();
        assert_eq!(message, format!("add_handler fd 7: {cause}"));
        assert_eq!(message.matches(&cause).count(), 1, "{message}");
        assert!(std::error::Error::source(&err).is_none());
        assert_eq!(raw_os_error(&err), Some(9));
        assert_eq!(err.kind(), io::Error::from_raw_os_error(9).kind());
        let twice = ContextError::wrap(err, "outer");
        assert_eq!(raw_os_error(&twice), Some(9));
        assert_eq!(raw_os_error(&Error::Io(twice).into()), Some(9));
    }

    fn libc_eintr() -> i32 {
        4
    }
}
