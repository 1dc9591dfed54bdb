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
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// `start()` (or `run_sync`) was called on a loop that is already running
    /// (Tornado's `RuntimeError("IOLoop is already running")`, rule L6).
    AlreadyRunning,
    /// The operation needs a loop that is not running (`close`, rule L9).
    Running,
    /// The loop has been closed.
    Closed,
    /// A current loop already exists on this thread and the caller asked to
    /// become current anyway (rule S6).
    CurrentExists,
    /// The process-wide instance already exists (`install`, rule S2).
    InstanceExists,
    /// The loop was created in another process: this process is a `fork()`
    /// child that did not call
    /// [`reset_after_fork`](crate::IOLoop::reset_after_fork) (Tornado's rule
    /// L13: its epoll descriptor is shared with the parent).
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
        match self {
            Error::Io(err) => Some(err),
            _ => None,
        }
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

/// An `io::Error` of `kind` whose message names the file descriptor and the
/// operation, keeping `source` as the cause.
pub(crate) fn fd_error(op: &str, fd: i32, source: io::Error) -> io::Error {
    io::Error::new(
        source.kind(),
        FdError {
            op: op.to_owned(),
            fd,
            source,
        },
    )
}

/// The payload of the errors built by [`fd_error`].
#[derive(Debug)]
struct FdError {
    op: String,
    fd: i32,
    source: io::Error,
}

impl fmt::Display for FdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} fd {}: {}", self.op, self.fd, self.source)
    }
}

impl std::error::Error for FdError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
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

    fn libc_eintr() -> i32 {
        4
    }
}
