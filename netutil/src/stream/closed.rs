//! [`StreamClosedError`]: why a stream closed, inside the `io::Error` of a
//! read or write on it.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;

/// The error a read or write on a closed [`IOStream`](crate::IOStream)
/// gives, inside an `io::Error` (Tornado's `StreamClosedError`).
///
/// It says why the stream closed: [`cause`](StreamClosedError::cause) is
/// `None` when it was closed on this side ([`IOStream::close`](crate::IOStream::close)),
/// and otherwise the error that closed it: a reset (`ConnectionReset`),
/// the peer's end of file (`UnexpectedEof`), a full buffer, and so on. The
/// outer `io::Error` has the cause's kind (or `NotConnected` for a local
/// close), and its message ends with the cause's; the cause is not also
/// its [`source`](std::error::Error::source), so that a reporter printing
/// the chain says it once. [`raw_os_error`](StreamClosedError::raw_os_error)
/// gives the cause's OS error number.
///
/// # Examples
///
/// ```
/// use netutil::{IOStream, StreamClosedError};
///
/// let (a, b) = std::os::unix::net::UnixStream::pair()?;
/// let ioloop = ioloop::IOLoop::new()?;
/// let err = ioloop.run_sync(
///     || async move {
///         let stream = IOStream::new(a)?;
///         drop(b); // the peer goes away
///         stream.read_bytes(1, false).await.map(|_| ())
///     },
///     None,
/// )?.unwrap_err();
/// let closed = StreamClosedError::find(&err).expect("a stream-closed error");
/// assert_eq!(closed.cause().unwrap().kind(), std::io::ErrorKind::UnexpectedEof);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct StreamClosedError {
    fd: RawFd,
    cause: Option<Arc<io::Error>>,
}

impl StreamClosedError {
    pub(crate) fn new(fd: RawFd, cause: Option<Arc<io::Error>>) -> StreamClosedError {
        StreamClosedError { fd, cause }
    }

    /// Why the stream closed: `None` for a local [`close`](crate::IOStream::close).
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     a.close(); // closed on this side: no cause
    ///     let err = a.read_bytes(1, false).await.unwrap_err();
    ///     assert!(netutil::StreamClosedError::find(&err).unwrap().cause().is_none());
    ///     # let _ = b;
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cause(&self) -> Option<&io::Error> {
        self.cause.as_deref()
    }

    /// The OS error number of the cause, if it has one (looking through
    /// the context the cause may carry).
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     a.close();
    ///     let err = a.write(b"x").await.unwrap_err();
    ///     assert_eq!(netutil::StreamClosedError::find(&err).unwrap().raw_os_error(), None);
    ///     # let _ = b;
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn raw_os_error(&self) -> Option<i32> {
        ioloop::raw_os_error(self.cause.as_deref()?)
    }

    /// The descriptor the stream had (closed now; for messages only).
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     let fd = a.fd();
    ///     a.close();
    ///     let err = a.read_bytes(1, false).await.unwrap_err();
    ///     assert_eq!(netutil::StreamClosedError::find(&err).unwrap().fd(), fd);
    ///     # let _ = b;
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// The `StreamClosedError` inside `err`, if it is one.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     drop(b);
    ///     let err = a.read_bytes(1, false).await.unwrap_err();
    ///     assert!(netutil::StreamClosedError::find(&err).is_some());
    ///     // Other errors are not stream-closed errors.
    ///     assert!(netutil::StreamClosedError::find(&std::io::Error::other("x")).is_none());
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn find(err: &io::Error) -> Option<&StreamClosedError> {
        err.get_ref()?.downcast_ref::<StreamClosedError>()
    }

    /// Wraps this error in an `io::Error` of the cause's kind.
    pub(crate) fn into_io(self) -> io::Error {
        let kind = self
            .cause
            .as_ref()
            .map_or(io::ErrorKind::NotConnected, |c| c.kind());
        io::Error::new(kind, self)
    }
}

impl fmt::Display for StreamClosedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            None => write!(f, "stream (fd {}) closed", self.fd),
            Some(cause) => write!(f, "stream (fd {}) closed: {cause}", self.fd),
        }
    }
}

impl StdError for StreamClosedError {}
