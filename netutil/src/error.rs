//! `io::Error`s that name what failed.

use std::fmt;
use std::io;

/// `err` with `what` in front of its message: see [`ioloop::ContextError`].
pub(crate) fn context(err: io::Error, what: impl fmt::Display) -> io::Error {
    ioloop::ContextError::wrap(err, what)
}
