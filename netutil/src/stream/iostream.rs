//! [`IOStream`]: a buffered, non-blocking byte stream on the loop
//! (Tornado's `IOStream`), over a TCP or Unix socket or a pipe.
//!
//! The design is described in [`IOStream`]'s documentation.

use std::cell::RefCell;
use std::fmt;
use std::fs::File;
use std::future::Future;
use std::io::{self, IoSlice, Read, Write as _};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use ioloop::{Events, IOLoop};
use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, Type};

use crate::error::context;
use crate::socket::accept;
use crate::stream::buffer::{ReadBuffer, WriteBuffer};
use crate::stream::closed::StreamClosedError;
use crate::sys;

mod futures_io;
#[cfg(feature = "hyper")]
mod hyper_io;

pub use futures_io::AsyncIOStream;

/// The default [`StreamOptions::max_buffer_size`]: 4 MiB (Tornado's is
/// 100 MB).
///
/// The read buffer only grows to satisfy a read (a `read_until` whose
/// delimiter has not come, a large `read_bytes`), so this is the largest
/// message a read may ask for, and what a peer that never sends the
/// delimiter can make a server hold per connection.
///
/// # Examples
///
/// ```
/// use netutil::{DEFAULT_MAX_BUFFER_SIZE, StreamOptions};
///
/// // Allow messages twice as large as the default.
/// let options = StreamOptions::new().max_buffer_size(2 * DEFAULT_MAX_BUFFER_SIZE);
/// # let _ = options;
/// ```
pub const DEFAULT_MAX_BUFFER_SIZE: usize = 4 * 1024 * 1024;
/// The default [`StreamOptions::read_chunk_size`]: 64 KiB, Tornado's.
///
/// # Examples
///
/// ```
/// use netutil::{DEFAULT_READ_CHUNK_SIZE, StreamOptions};
///
/// let options = StreamOptions::new().read_chunk_size(DEFAULT_READ_CHUNK_SIZE / 4);
/// # let _ = options;
/// ```
pub const DEFAULT_READ_CHUNK_SIZE: usize = 64 * 1024;
/// The default [`StreamOptions::max_write_buffer_size`]: 1 MiB (Tornado's
/// is unlimited).
///
/// Writes that are awaited one at a time never meet it (a write into an
/// empty buffer is always taken); it bounds what writes not awaited can
/// pile up for a slow reader.
///
/// # Examples
///
/// ```
/// use netutil::{DEFAULT_MAX_WRITE_BUFFER_SIZE, StreamOptions};
///
/// let options = StreamOptions::new().max_write_buffer_size(4 * DEFAULT_MAX_WRITE_BUFFER_SIZE);
/// # let _ = options;
/// ```
pub const DEFAULT_MAX_WRITE_BUFFER_SIZE: usize = 1024 * 1024;

/// A [`read_into`](IOStream::read_into) this large (or larger) with an empty
/// buffer reads straight into the caller's buffer; a smaller one reads a
/// chunk into the stream's buffer and copies, saving system calls.
const DIRECT_READ_MIN: usize = 4096;

/// The options of a new [`IOStream`]: buffer limits and the loop.
///
/// # Examples
///
/// ```
/// use netutil::StreamOptions;
///
/// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
/// let _ioloop = ioloop::IOLoop::new()?;
/// let stream = StreamOptions::new()
///     .max_buffer_size(1 << 20)
///     .max_write_buffer_size(1 << 20)
///     .build(a)?;
/// # drop(stream);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct StreamOptions {
    max_buffer_size: usize,
    read_chunk_size: usize,
    max_write_buffer_size: usize,
    half_close: bool,
    ioloop: Option<IOLoop>,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            max_buffer_size: DEFAULT_MAX_BUFFER_SIZE,
            read_chunk_size: DEFAULT_READ_CHUNK_SIZE,
            max_write_buffer_size: DEFAULT_MAX_WRITE_BUFFER_SIZE,
            half_close: false,
            ioloop: None,
        }
    }
}

impl StreamOptions {
    /// The defaults: [`DEFAULT_MAX_BUFFER_SIZE`],
    /// [`DEFAULT_READ_CHUNK_SIZE`], [`DEFAULT_MAX_WRITE_BUFFER_SIZE`], the
    /// current loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::StreamOptions;
    ///
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let stream = StreamOptions::new().max_buffer_size(64 * 1024).ioloop(&ioloop).build(a)?;
    /// assert!(!stream.closed());
    ///
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> StreamOptions {
        StreamOptions::default()
    }

    /// The most bytes the read buffer holds (at least 1; default
    /// [`DEFAULT_MAX_BUFFER_SIZE`]). A read that cannot complete within it
    /// fails, and closes the stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::StreamOptions;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// let err = ioloop.run_sync(|| async move {
    ///     let a = StreamOptions::new().max_buffer_size(8).build(a)?;
    ///     let b = StreamOptions::new().build(b)?;
    ///     b.write(b"more than eight bytes, no newline").await?;
    ///     a.read_until(b"\n", None).await // the buffer fills before the delimiter comes
    /// }, Some(std::time::Duration::from_secs(5)))?.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_buffer_size(mut self, bytes: usize) -> StreamOptions {
        self.max_buffer_size = bytes.max(1);
        self
    }

    /// The most bytes one `read` system call asks for (at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::StreamOptions;
    ///
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// # let _ioloop = ioloop::IOLoop::new()?;
    /// // Read from the kernel 16 KiB at a time.
    /// let stream = StreamOptions::new().read_chunk_size(16 * 1024).build(a)?;
    /// # let _ = stream;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_chunk_size(mut self, bytes: usize) -> StreamOptions {
        self.read_chunk_size = bytes.max(1);
        self
    }

    /// The most bytes waiting to be written (at least 1; default
    /// [`DEFAULT_MAX_WRITE_BUFFER_SIZE`]). A write that would take the
    /// buffer past it fails, writing nothing, and the stream stays open;
    /// but a write into an empty buffer is always taken, however large,
    /// so a writer that awaits each [`write`](IOStream::write) (the
    /// back-pressure way to write) never fails on it.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::StreamOptions;
    ///
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// # let _ioloop = ioloop::IOLoop::new()?;
    /// // A write that would queue more than 256 KiB fails instead of buffering.
    /// let stream = StreamOptions::new().max_write_buffer_size(256 * 1024).build(a)?;
    /// # let _ = stream;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_write_buffer_size(mut self, bytes: usize) -> StreamOptions {
        self.max_write_buffer_size = bytes.max(1);
        self
    }

    /// Whether end of file from the peer leaves the stream open for
    /// writing (default false, as Tornado: end of file closes the stream).
    ///
    /// With `half_close`, a peer that shuts down its sending side (for
    /// example an HTTP client after its request) can still be answered:
    /// reads complete from what is buffered, then fail with a
    /// [`StreamClosedError`] whose cause is `UnexpectedEof`, while writes
    /// go on until [`close`](IOStream::close) or a write error. An error or
    /// full hang-up still closes the stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use netutil::StreamOptions;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    /// b.write_all(b"question")?;
    /// b.shutdown(std::net::Shutdown::Write)?; // end of file for `a`
    /// ioloop.run_sync(|| async move {
    ///     let a = StreamOptions::new().half_close(true).build(a)?;
    ///     assert_eq!(a.read_bytes(8, false).await?, b"question");
    ///     a.write(b"answer").await?; // still open for writing
    ///     let mut answer = [0; 6];
    ///     b.read_exact(&mut answer)?;
    ///     assert_eq!(&answer, b"answer");
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn half_close(mut self, half_close: bool) -> StreamOptions {
        self.half_close = half_close;
        self
    }

    /// The loop the stream runs on (default: [`IOLoop::current`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::StreamOptions;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let stream = StreamOptions::new().ioloop(&ioloop).build(a)?;
    /// assert!(stream.ioloop().ptr_eq(&ioloop));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ioloop(mut self, ioloop: &IOLoop) -> StreamOptions {
        self.ioloop = Some(ioloop.clone());
        self
    }

    /// A stream over `fd`: see [`IOStream::new`], which this is with
    /// options.
    ///
    /// # Errors
    ///
    /// As [`IOStream::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::StreamOptions;
    ///
    /// # let _ioloop = ioloop::IOLoop::new()?;
    /// // Any socket or pipe: here one end of a Unix socket pair.
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let stream = StreamOptions::new().build(a)?;
    /// assert!(stream.fd() >= 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn build(&self, fd: impl Into<OwnedFd>) -> io::Result<IOStream> {
        let fd = fd.into();
        let file = File::from(fd);
        let raw = file.as_raw_fd();
        let meta = file
            .metadata()
            .map_err(|err| context(err, format_args!("IOStream: fstat fd {raw}")))?;
        let kind = meta.file_type();
        SockRef::from(&file)
            .set_nonblocking(true)
            .map_err(|err| context(err, format_args!("IOStream: O_NONBLOCK on fd {raw}")))?;
        let write_only = kind.is_fifo()
            && sys::is_write_only(file.as_fd())
                .map_err(|err| context(err, format_args!("IOStream: F_GETFL on fd {raw}")))?;
        IOStream::register(
            file,
            self,
            kind.is_socket() || kind.is_fifo(),
            write_only,
            true,
        )
    }

    /// Builds a stream over a socket known to be non-blocking (accepted or
    /// connected by this crate): no system call beyond the registration.
    #[track_caller]
    pub(crate) fn build_socket(&self, fd: OwnedFd, writable: bool) -> io::Result<IOStream> {
        IOStream::register(File::from(fd), self, true, false, writable)
    }

    /// Connects to `addr` over TCP: see [`IOStream::connect`], which this is
    /// with options.
    ///
    /// # Errors
    ///
    /// As [`IOStream::connect`].
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::StreamOptions;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// let stream = ioloop.run_sync(
    ///     || async move { StreamOptions::new().max_buffer_size(1 << 16).connect(addr).await },
    ///     Some(std::time::Duration::from_secs(5)),
    /// )??;
    /// assert_eq!(stream.peer_addr()?, addr);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn connect(&self, addr: SocketAddr) -> io::Result<IOStream> {
        let socket = Socket::new(
            Domain::for_address(addr),
            Type::STREAM.nonblocking(),
            Some(Protocol::TCP),
        )
        .map_err(|err| context(err, format_args!("connect to {addr}: socket")))?;
        self.connect_socket(socket, &SockAddr::from(addr), &addr)
            .await
    }

    /// Connects to the Unix socket at `path`: see
    /// [`IOStream::connect_unix`].
    ///
    /// # Errors
    ///
    /// As [`IOStream::connect_unix`].
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::StreamOptions;
    ///
    /// let path = std::env::temp_dir().join(format!("netutil-doc-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let _listener = std::os::unix::net::UnixListener::bind(&path)?;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let stream = ioloop.run_sync(
    ///     || async { StreamOptions::new().connect_unix(&path).await },
    ///     Some(std::time::Duration::from_secs(5)),
    /// )??;
    /// assert!(!stream.closed());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn connect_unix(&self, path: impl AsRef<Path>) -> io::Result<IOStream> {
        let path = path.as_ref();
        let shown = path.display();
        let socket = Socket::new(Domain::UNIX, Type::STREAM.nonblocking(), None)
            .map_err(|err| context(err, format_args!("connect to {shown}: socket")))?;
        let addr = SockAddr::unix(path).map_err(|err| context(err, format_args!("{shown}")))?;
        self.connect_socket(socket, &addr, &shown).await
    }

    async fn connect_socket(
        &self,
        socket: Socket,
        addr: &SockAddr,
        shown: &dyn fmt::Display,
    ) -> io::Result<IOStream> {
        let in_progress = match socket.connect(addr) {
            Ok(()) => false,
            Err(err) if err.raw_os_error() == Some(libc::EINPROGRESS) => true,
            // A Unix socket with a full backlog.
            Err(err) if err.raw_os_error() == Some(libc::EAGAIN) => true,
            Err(err) => return Err(context(err, format_args!("connect to {shown}"))),
        };
        let stream = self.build_socket(socket.into(), !in_progress)?;
        if in_progress {
            std::future::poll_fn(|cx| stream.poll_connected(cx))
                .await
                .map_err(|err| context(err, format_args!("connect to {shown}")))?;
        }
        let pending = {
            let st = stream.inner.st.borrow();
            match &st.file {
                Some(file) => SockRef::from(file).take_error()?,
                None => None,
            }
        };
        if let Some(err) = pending {
            stream.close();
            return Err(context(err, format_args!("connect to {shown}")));
        }
        Ok(stream)
    }
}

/// A buffered, non-blocking byte stream on the loop: Tornado's `IOStream`,
/// with `async` methods.
///
/// Reads: [`read_until`](IOStream::read_until),
/// [`read_bytes`](IOStream::read_bytes), [`read_into`](IOStream::read_into),
/// [`read_until_close`](IOStream::read_until_close), and the copy-free
/// [`fill_until`](IOStream::fill_until) / [`read_more`](IOStream::read_more)
/// with [`with_buffer`](IOStream::with_buffer) and
/// [`consume`](IOStream::consume). Writes: [`write`](IOStream::write),
/// [`write_vectored`](IOStream::write_vectored). One read at a time; writes
/// may be queued freely.
///
/// # Design
///
/// * **One edge-triggered registration for the stream's life.** The
///   descriptor is registered once for `READ | WRITE` with
///   [`IOLoop::add_edge_handler`], and the interest never changes. The
///   stream keeps its own readiness flags (`readable`, `writable`): an
///   event sets them, and a read or write that meets `WouldBlock` clears
///   them. On a socket or pipe a short write (the kernel buffer is full)
///   clears `writable`, and a short read (the kernel had no more) clears
///   `readable`, as tokio does, unless the loop reported
///   [`Events::READ_CLOSED`](ioloop::Events::READ_CLOSED): an end of file
///   that arrived with the data is announced by no further edge, so reads
///   go on until they find it. Since the stream remembers readiness
///   itself, an edge is all it needs: steady request/response traffic
///   costs one `epoll_wait`, one `read` and one `write` per message and no
///   `epoll_ctl`, and an idle writable stream is not reported on every
///   iteration.
/// * **Reads happen in the reader's poll.** A read future first looks at
///   the buffer, then reads from the descriptor directly while it is
///   readable (an optimistic attempt before any waiting), and only then
///   waits for the next readiness event. The event handler merely wakes
///   the waiting task. The buffer is reused: no allocation per read in
///   steady state (`read_into`, `fill_until` and `read_more` return no new
///   buffer at all).
/// * **Writes go straight to the kernel.** When nothing is queued, `write`
///   writes at once, without copying; only what the kernel does not take is
///   copied into the write buffer, flushed by the event handler when the
///   socket is writable again. The returned future completes when this
///   write's last byte has reached the kernel.
/// * **TLS is a transport inside the stream.** After
///   [`start_tls`](IOStream::start_tls) (the `tls` feature) the stream
///   keeps doing its own system calls and readiness bookkeeping, with a
///   rustls session between the descriptor and the buffers: reads decrypt
///   into the read buffer, writes encrypt into the write buffer, so every
///   method works unchanged on the plaintext. A plain stream pays one
///   branch for it.
/// * **Closing wakes everyone.** A reset, a hang-up, an error, end of file,
///   an overflowing buffer or [`close`](IOStream::close) closes the stream:
///   the descriptor is deregistered and closed, and every pending read and
///   write fails with a [`StreamClosedError`] that carries the cause.
///
/// `IOStream` is a cheap handle: clones share the stream (so one task can
/// read while another writes). The stream closes on
/// [`close`](IOStream::close), on an error or end of file, or when the last
/// handle is dropped.
///
/// # Semantics
///
/// * A read is satisfied from buffered data first, even after the stream
///   closed (as Tornado); otherwise it fails with a [`StreamClosedError`]
///   giving the cause.
/// * End of file closes the stream (as Tornado), and so does a reset or a
///   hang-up; the handler wakes every pending read and write. A hang-up
///   without an error first reads what the kernel still holds.
/// * An idle stream (no read pending, nothing buffered) still notices the
///   peer closing: it reads what arrives into its buffer, which runs the
///   close callback on end of file (Tornado listens for this too).
/// * Writes are fire-and-forget if you like: data is sent even if the
///   future is dropped. Awaiting it tells you it reached the kernel.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
/// use netutil::IOStream;
///
/// let ioloop = ioloop::IOLoop::new()?;
/// let (ours, mut theirs) = UnixStream::pair()?;
/// let peer = std::thread::spawn(move || {
///     theirs.write_all(b"ping\r\n")?;
///     let mut reply = [0; 6];
///     theirs.read_exact(&mut reply)?;
///     assert_eq!(&reply, b"pong\r\n");
///     Ok::<(), std::io::Error>(())
/// });
/// ioloop.run_sync(
///     || async move {
///         let stream = IOStream::new(ours)?;
///         let line = stream.read_until(b"\r\n", Some(1024)).await?;
///         assert_eq!(line, b"ping\r\n");
///         stream.write(b"pong\r\n").await?; // flushed to the kernel
///         Ok::<(), std::io::Error>(())
///     },
///     None,
/// )??;
/// peer.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct IOStream {
    inner: Rc<Inner>,
}

struct Inner {
    ioloop: IOLoop,
    fd: RawFd,
    max_buffer_size: usize,
    read_chunk_size: usize,
    max_write_buffer_size: usize,
    /// A short write proves the kernel buffer full (sockets and pipes);
    /// for other descriptors only `WouldBlock` does.
    short_io_drains: bool,
    /// A pipe's write end (a child's stdin): a hang-up there means the
    /// reader is gone, and there is nothing to read.
    write_only: bool,
    /// End of file leaves the stream open for writing.
    half_close: bool,
    st: RefCell<State>,
}

/// Why the stream closed.
type Cause = Option<Arc<io::Error>>;

struct State {
    /// INVARIANT: `Some` exactly while the stream is open, and then `fd`
    /// is registered with the loop for `READ | WRITE`; closing
    /// deregisters it before dropping (closing) the file.
    file: Option<File>,
    /// INVARIANT: `Some` exactly when `file` is `None`.
    closed: Option<Cause>,
    /// INVARIANT: true once a read met end of file on a `half_close`
    /// stream: nothing more is read, the descriptor stays open for writes.
    eof: bool,
    rbuf: ReadBuffer,
    wbuf: WriteBuffer,
    /// INVARIANT: false only if, since the last `READ` event, a read met
    /// `WouldBlock`, or (on a socket or pipe whose peer has not shut down,
    /// `read_closed` false) returned less than it asked for; so a false
    /// flag is always followed by an event (the registration is
    /// edge-triggered, and new data or an end of file is a new edge).
    readable: bool,
    /// The loop reported `READ_CLOSED`: an end of file waits behind the
    /// data, and no further edge will announce it, so a short read no
    /// longer proves the descriptor drained.
    read_closed: bool,
    /// As `readable`, for writes.
    writable: bool,
    /// INVARIANT: true exactly while a read future is in progress (polled
    /// and neither complete nor dropped); only one may be.
    reading: bool,
    read_waker: Option<Waker>,
    /// Bytes handed to the kernel, ever.
    written: u64,
    /// Bytes accepted by `write`, ever; `queued - written` is in `wbuf`.
    queued: u64,
    /// Write futures waiting for `written` to reach their target.
    write_waiters: Vec<(u64, Waker)>,
    connect_waker: Option<Waker>,
    /// Woken when the stream closes (for a task that waits on something
    /// else but must stop if the peer goes away).
    close_waker: Option<Waker>,
    close_callback: Option<Box<dyn FnOnce()>>,
    /// INVARIANT: `Some` exactly on a TLS stream (from
    /// [`IOStream::start_tls`]). Reads then take plaintext from it and
    /// writes give it plaintext; `wbuf`, `written` and `queued` count
    /// ciphertext, and nothing it has to send waits inside it outside a
    /// method call (it is drained into `wbuf` at once). While it holds
    /// decrypted data, `readable` is true.
    #[cfg(feature = "tls")]
    tls: Option<Box<crate::tls::Session>>,
}

/// The error a read gets when the peer closed its side.
fn eof_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "end of file: the peer closed the connection",
    )
}

/// The error of a read on stream `fd` after its peer closed its side.
fn eof_closed(fd: RawFd) -> io::Error {
    StreamClosedError::new(fd, Some(Arc::new(eof_error()))).into_io()
}

fn is_interrupted(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::Interrupted
}

fn is_would_block(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::WouldBlock
}

/// The outcome of one `read` system call into the read buffer.
enum Filled {
    Data,
    Blocked,
    Full,
    Closed,
}

impl Inner {
    fn closed_error(&self, st: &State) -> io::Error {
        let cause = st.closed.clone().flatten();
        StreamClosedError::new(self.fd, cause).into_io()
    }

    /// Closes the stream (a no-op if closed): deregisters and closes the
    /// descriptor, drops queued writes, wakes every waiter and schedules
    /// the close callback. Runs no user code synchronously.
    fn close_locked(&self, st: &mut State, cause: Option<io::Error>) {
        if st.closed.is_some() {
            return;
        }
        match &cause {
            Some(err) => log::debug!(target: "netutil", "stream fd {} closed: {err}", self.fd),
            None => log::trace!(target: "netutil", "stream fd {} closed", self.fd),
        }
        st.closed = Some(cause.map(Arc::new));
        let file = st.file.take();
        drop(self.ioloop.remove_handler(self.fd));
        drop(file);
        st.wbuf.clear();
        if let Some(waker) = st.read_waker.take() {
            waker.wake();
        }
        if let Some(waker) = st.connect_waker.take() {
            waker.wake();
        }
        if let Some(waker) = st.close_waker.take() {
            waker.wake();
        }
        for (_, waker) in st.write_waiters.drain(..) {
            waker.wake();
        }
        if let Some(callback) = st.close_callback.take() {
            self.ioloop.add_callback(callback);
        }
        accept::descriptor_released();
    }

    /// The peer closed its sending side: close the stream, or with
    /// `half_close` stop reading and keep it open for writes.
    fn end_of_file(&self, st: &mut State) {
        self.end_of_file_because(st, eof_error());
    }

    /// [`end_of_file`](Inner::end_of_file), saying how the peer closed.
    fn end_of_file_because(&self, st: &mut State, cause: io::Error) {
        if self.half_close {
            st.eof = true;
            st.readable = false;
            if let Some(waker) = st.read_waker.take() {
                waker.wake();
            }
            if let Some(waker) = st.close_waker.take() {
                waker.wake();
            }
        } else {
            self.close_locked(st, Some(cause));
        }
    }

    /// One `read` into the buffer. Closes the stream on end of file (see
    /// [`end_of_file`](Inner::end_of_file)) or an error.
    fn fill(&self, st: &mut State) -> Filled {
        #[cfg(feature = "tls")]
        if st.tls.is_some() {
            return self.fill_tls(st);
        }
        let asked;
        let result = {
            let Some(file) = st.file.as_ref().filter(|_| !st.eof) else {
                return Filled::Closed;
            };
            let spare = st.rbuf.spare(self.read_chunk_size, self.max_buffer_size);
            if spare.is_empty() {
                return Filled::Full;
            }
            asked = spare.len();
            loop {
                match (&*file).read(spare) {
                    Err(err) if is_interrupted(&err) => continue,
                    result => break result,
                }
            }
        };
        match result {
            Ok(0) => {
                self.end_of_file(st);
                Filled::Closed
            }
            Ok(n) => {
                st.rbuf.commit(n);
                self.after_read(st, n, asked);
                Filled::Data
            }
            Err(err) if is_would_block(&err) => {
                st.readable = false;
                Filled::Blocked
            }
            Err(err) => {
                self.close_locked(st, Some(err));
                Filled::Closed
            }
        }
    }

    /// Writes the write buffer until it is empty or the kernel is full,
    /// then wakes the writes that completed.
    fn flush(&self, st: &mut State) {
        while !st.wbuf.is_empty() && st.writable {
            let Some(file) = st.file.as_ref() else {
                return;
            };
            let pending = st.wbuf.len();
            match (&*file).write(st.wbuf.data()) {
                Ok(n) => {
                    st.wbuf.consume(n);
                    st.written += n as u64;
                    if n < pending && self.short_io_drains {
                        st.writable = false;
                    }
                }
                Err(err) if is_interrupted(&err) => {}
                Err(err) if is_would_block(&err) => st.writable = false,
                Err(err) => {
                    self.close_locked(st, Some(err));
                    return;
                }
            }
        }
        let written = st.written;
        st.write_waiters.retain(|(target, waker)| {
            if *target <= written {
                waker.wake_by_ref();
                false
            } else {
                true
            }
        });
    }

    /// After a read of `n` bytes out of `asked`: a short read from a socket
    /// or pipe means the kernel had no more, so the stream waits for the
    /// next edge instead of paying a `read` that meets `WouldBlock` (as
    /// tokio does). Not once the peer has shut down its side: the end of
    /// file behind the data gets no edge of its own, so the next read must
    /// go and find it.
    fn after_read(&self, st: &mut State, n: usize, asked: usize) {
        if n < asked && self.short_io_drains && !st.read_closed {
            st.readable = false;
        }
    }

    /// [`fill`](Inner::fill) on a TLS stream: decrypted data into the
    /// buffer, reading and processing ciphertext as long as none is
    /// waiting and the descriptor is readable. Whatever the session has to
    /// send (handshake messages, alerts) goes out as it is produced.
    #[cfg(feature = "tls")]
    #[cold]
    #[inline(never)]
    fn fill_tls(&self, st: &mut State) -> Filled {
        use crate::tls::Plaintext;
        loop {
            if st.file.is_none() || st.eof {
                return Filled::Closed;
            }
            let tls = st.tls.as_mut().expect("a TLS stream has a session");
            let spare = st.rbuf.spare(self.read_chunk_size, self.max_buffer_size);
            if spare.is_empty() {
                return Filled::Full;
            }
            let asked = spare.len();
            match tls.read_plaintext(spare) {
                Plaintext::Data(n) => {
                    if n == asked || tls.peer_closed() {
                        // More, or the end, waits in the session, with no
                        // event to say so.
                        st.readable = true;
                    }
                    st.rbuf.commit(n);
                    return Filled::Data;
                }
                Plaintext::Closed(None) => {
                    self.end_of_file(st);
                    return Filled::Closed;
                }
                Plaintext::Closed(Some(err)) if err.kind() == io::ErrorKind::UnexpectedEof => {
                    self.end_of_file_because(st, err);
                    return Filled::Closed;
                }
                Plaintext::Closed(Some(err)) => {
                    self.close_locked(st, Some(err));
                    return Filled::Closed;
                }
                Plaintext::Empty => {}
            }
            if !st.readable {
                return Filled::Blocked;
            }
            let file = st.file.as_ref().expect("checked above");
            match tls.read_tls(file) {
                // End of file: the session now reports how the peer closed.
                Ok((0, _)) => {}
                Ok((n, asked)) => {
                    self.after_read(st, n, asked);
                    self.send_tls_output(st);
                }
                Err(err) if is_would_block(&err) => {
                    st.readable = false;
                    return Filled::Blocked;
                }
                Err(err) => {
                    // An alert for the peer, if the session has one.
                    self.send_tls_output(st);
                    self.close_locked(st, Some(err));
                    return Filled::Closed;
                }
            }
        }
    }

    /// [`IOStream::start_write`] on a TLS stream: the plaintext is
    /// encrypted into the write buffer, which is flushed if it can be.
    #[cfg(feature = "tls")]
    #[cold]
    #[inline(never)]
    fn start_write_tls(&self, st: &mut State, bufs: &[IoSlice<'_>]) -> io::Result<u64> {
        let tls = st.tls.as_mut().expect("a TLS stream has a session");
        if tls.is_handshaking() {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                format!(
                    "stream (fd {}): write before the tls handshake completed",
                    self.fd
                ),
            ));
        }
        if let Err(err) = tls.write_plaintext(bufs) {
            self.close_locked(st, Some(err));
            return Err(self.closed_error(st));
        }
        self.send_tls_output(st);
        // A failed flush closed the stream: the write's future says so.
        Ok(st.queued)
    }

    /// Moves what the TLS session has to send into the write buffer and
    /// flushes it if the descriptor is writable.
    #[cfg(feature = "tls")]
    fn send_tls_output(&self, st: &mut State) {
        let Some(tls) = st.tls.as_mut() else {
            return;
        };
        let n = tls.drain_output(&mut st.wbuf);
        if n > 0 {
            st.queued += n as u64;
            if st.writable {
                self.flush(st);
            }
        }
    }

    /// The loop's handler for the stream's descriptor.
    fn on_events(&self, events: Events) {
        let mut st = self.st.borrow_mut();
        let st = &mut *st;
        if st.closed.is_some() {
            return;
        }
        if events.is_error() {
            self.on_error(st);
            return;
        }
        if events.contains(Events::READ) {
            st.readable = true;
            st.read_closed |= events.contains(Events::READ_CLOSED);
            if let Some(waker) = st.read_waker.take() {
                waker.wake();
            } else if !st.reading && st.rbuf.is_empty() {
                // Idle: read what came, to notice the peer closing.
                self.fill(st);
            }
        }
        if events.contains(Events::WRITE) {
            st.writable = true;
            if let Some(waker) = st.connect_waker.take() {
                waker.wake();
            }
            if !st.wbuf.is_empty() {
                self.flush(st);
            }
        }
    }

    /// An error or hang-up: close, saying why.
    fn on_error(&self, st: &mut State) {
        let pending = st
            .file
            .as_ref()
            .and_then(|f| SockRef::from(f).take_error().ok().flatten());
        if let Some(err) = pending {
            self.close_locked(st, Some(err));
            return;
        }
        if self.write_only {
            // The reader closed its end: what the next write would meet.
            let broken = io::Error::from_raw_os_error(libc::EPIPE);
            self.close_locked(st, Some(broken));
            return;
        }
        // A hang-up without an error (a pipe's writer closed, or both
        // directions shut down): keep what the kernel still holds.
        st.readable = true;
        st.read_closed = true;
        loop {
            match self.fill(st) {
                Filled::Data => {}
                Filled::Full => {
                    // More is left than the buffer holds: not an end of
                    // file yet. Reads go on from the kernel (`readable`
                    // stays set) and meet the end of file themselves.
                    if let Some(waker) = st.read_waker.take() {
                        waker.wake();
                    }
                    return;
                }
                Filled::Blocked | Filled::Closed => break,
            }
        }
        self.close_locked(st, Some(eof_error()));
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let mut st = std::mem::replace(self.st.get_mut(), State::new(None, true));
        self.close_locked(&mut st, None);
    }
}

impl State {
    /// True on a TLS stream.
    #[inline]
    fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        return false;
    }

    fn new(file: Option<File>, writable: bool) -> State {
        State {
            closed: if file.is_some() { None } else { Some(None) },
            eof: false,
            file,
            rbuf: ReadBuffer::default(),
            wbuf: WriteBuffer::default(),
            readable: true,
            read_closed: false,
            writable,
            reading: false,
            read_waker: None,
            written: 0,
            queued: 0,
            write_waiters: Vec::new(),
            connect_waker: None,
            close_waker: None,
            close_callback: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl IOStream {
    /// A stream over `fd` (a TCP or Unix socket, a pipe: any descriptor
    /// epoll accepts), on the current loop with the default
    /// [`StreamOptions`]. The descriptor is made non-blocking and the
    /// stream owns it.
    ///
    /// # Errors
    ///
    /// An `io::Error` naming the descriptor if it cannot be made
    /// non-blocking or registered with the loop (a regular file, for
    /// example).
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     a.write(b"ping\n").await?;
    ///     assert_eq!(b.read_until(b"\n", Some(64)).await?, b"ping\n");
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn new(fd: impl Into<OwnedFd>) -> io::Result<IOStream> {
        StreamOptions::default().build(fd)
    }

    #[track_caller]
    fn register(
        file: File,
        options: &StreamOptions,
        short_io_drains: bool,
        write_only: bool,
        writable: bool,
    ) -> io::Result<IOStream> {
        let ioloop = match &options.ioloop {
            Some(l) => l.clone(),
            None => IOLoop::current(),
        };
        let fd = file.as_raw_fd();
        let inner = Rc::new(Inner {
            ioloop: ioloop.clone(),
            fd,
            max_buffer_size: options.max_buffer_size,
            read_chunk_size: options.read_chunk_size,
            max_write_buffer_size: options.max_write_buffer_size,
            short_io_drains,
            write_only,
            half_close: options.half_close,
            st: RefCell::new(State::new(None, writable)),
        });
        let weak: Weak<Inner> = Rc::downgrade(&inner);
        ioloop
            .add_edge_handler(fd, Events::READ | Events::WRITE, move |_, events| {
                if let Some(inner) = weak.upgrade() {
                    inner.on_events(events);
                }
            })
            .map_err(|err| context(err, "IOStream"))?;
        let mut st = inner.st.borrow_mut();
        st.file = Some(file);
        st.closed = None;
        drop(st);
        Ok(IOStream { inner })
    }

    /// Connects to `addr` over TCP, on the current loop (Tornado's
    /// `IOStream.connect`; [`TCPClient`](crate::TCPClient) adds name
    /// resolution).
    ///
    /// # Errors
    ///
    /// An `io::Error` naming the address: refused, unreachable, and so on.
    /// There is no timeout here: wrap it in [`ioloop::timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::IOStream;
    ///
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let stream = ioloop.run_sync(|| IOStream::connect(addr), None)??;
    /// assert_eq!(stream.peer_addr()?, addr);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn connect(addr: SocketAddr) -> io::Result<IOStream> {
        StreamOptions::default().connect(addr).await
    }

    /// Connects to the Unix socket at `path`, on the current loop.
    ///
    /// # Errors
    ///
    /// An `io::Error` naming the path.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::IOStream;
    ///
    /// let path = std::env::temp_dir().join(format!("netutil-doc-{}-c.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = std::os::unix::net::UnixListener::bind(&path)?;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// ioloop.run_sync(|| async {
    ///     let stream = IOStream::connect_unix(&path).await?;
    ///     stream.write(b"hi").await?;
    ///     let _peer = listener.accept()?;
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn connect_unix(path: impl AsRef<Path>) -> io::Result<IOStream> {
        StreamOptions::default().connect_unix(path).await
    }

    fn poll_connected(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.inner.st.borrow_mut();
        if let Some(cause) = &st.closed {
            return Poll::Ready(Err(match cause {
                Some(cause) => match cause.raw_os_error() {
                    Some(code) => io::Error::from_raw_os_error(code),
                    None => io::Error::new(cause.kind(), cause.to_string()),
                },
                None => io::Error::new(io::ErrorKind::NotConnected, "closed while connecting"),
            }));
        }
        if st.writable {
            return Poll::Ready(Ok(()));
        }
        st.connect_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    // ----- reads ----------------------------------------------------------

    /// Reads up to and including `delimiter` (Tornado's `read_until`).
    ///
    /// # Errors
    ///
    /// * `InvalidData` if the delimiter is not within `max_bytes` bytes
    ///   (counting the delimiter), or the buffer fills up
    ///   ([`StreamOptions::max_buffer_size`]) first; the stream is closed
    ///   (as Tornado).
    /// * A [`StreamClosedError`] if the stream closes first.
    /// * `Other` ("already reading") if another read is in progress.
    ///
    /// # Panics
    ///
    /// If `delimiter` is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     a.write(b"GET / HTTP/1.1\r\n\r\n").await?;
    ///     let line = b.read_until(b"\r\n", Some(8192)).await?;
    ///     assert_eq!(line, b"GET / HTTP/1.1\r\n");
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_until<'a>(
        &'a self,
        delimiter: &'a [u8],
        max_bytes: Option<usize>,
    ) -> ReadUntil<'a> {
        assert!(!delimiter.is_empty(), "read_until: empty delimiter");
        ReadUntil {
            op: ReadOp::new(self, Until::new(delimiter, max_bytes, true)),
        }
    }

    /// Waits until the buffer holds `delimiter`, and returns the number of
    /// buffered bytes up to and including it, consuming nothing: read them
    /// with [`with_buffer`](IOStream::with_buffer), then
    /// [`consume`](IOStream::consume). The copy-free [`read_until`](IOStream::read_until).
    ///
    /// # Errors
    ///
    /// As [`read_until`](IOStream::read_until).
    ///
    /// # Panics
    ///
    /// If `delimiter` is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     a.write(b"key: value\nrest").await?;
    ///     let n = b.fill_until(b"\n", Some(1024)).await?;
    ///     b.with_buffer(|buf| assert_eq!(&buf[..n], b"key: value\n"));
    ///     b.consume(n);
    ///     assert_eq!(b.read_bytes(4, false).await?, b"rest");
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fill_until<'a>(
        &'a self,
        delimiter: &'a [u8],
        max_bytes: Option<usize>,
    ) -> FillUntil<'a> {
        assert!(!delimiter.is_empty(), "fill_until: empty delimiter");
        FillUntil {
            op: ReadOp::new(self, Until::new(delimiter, max_bytes, false)),
        }
    }

    /// Reads `n` bytes; with `partial`, completes as soon as any bytes (at
    /// most `n`) are there (Tornado's `read_bytes`).
    ///
    /// # Errors
    ///
    /// A [`StreamClosedError`] if the stream closes first; `InvalidData`
    /// (closing the stream) if `n` exceeds
    /// [`StreamOptions::max_buffer_size`] without `partial`; `Other` if
    /// another read is in progress.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     a.write(b"0123456789").await?;
    ///     assert_eq!(b.read_bytes(4, false).await?, b"0123");
    ///     // `partial`: whatever is there, up to 100 bytes.
    ///     assert_eq!(b.read_bytes(100, true).await?, b"456789");
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_bytes(&self, n: usize, partial: bool) -> ReadBytes<'_> {
        ReadBytes {
            op: ReadOp::new(self, Bytes { n, partial }),
        }
    }

    /// Reads into `buf`: fills it, or with `partial` completes as soon as
    /// any bytes are there, returning how many (Tornado's `read_into`).
    /// Large reads with nothing buffered go straight into `buf`.
    ///
    /// # Errors
    ///
    /// As [`read_bytes`](IOStream::read_bytes).
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     a.write(b"abcdef").await?;
    ///     let mut buf = [0u8; 4];
    ///     assert_eq!(b.read_into(&mut buf, false).await?, 4);
    ///     assert_eq!(&buf, b"abcd");
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_into<'a>(&'a self, buf: &'a mut [u8], partial: bool) -> ReadInto<'a> {
        ReadInto {
            op: ReadOp::new(
                self,
                Into_ {
                    buf,
                    filled: 0,
                    partial,
                },
            ),
        }
    }

    /// Reads everything until the peer closes (Tornado's
    /// `read_until_close`).
    ///
    /// # Errors
    ///
    /// A [`StreamClosedError`] if the stream closes for any reason but end
    /// of file (the data read so far stays buffered); `InvalidData` if the
    /// data exceeds [`StreamOptions::max_buffer_size`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     a.write(b"all of it").await?;
    ///     a.close();
    ///     assert_eq!(b.read_until_close().await?, b"all of it");
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_until_close(&self) -> ReadUntilClose<'_> {
        ReadUntilClose {
            op: ReadOp::new(self, UntilClose),
        }
    }

    /// Reads at least one more byte into the buffer, returning the number
    /// of bytes buffered: for parsers that work on the buffer in place
    /// ([`with_buffer`](IOStream::with_buffer)) and need more input.
    ///
    /// # Errors
    ///
    /// A [`StreamClosedError`] if the stream closes first (end of file
    /// included); `InvalidData` (closing the stream) if the buffer is full.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     a.write(b"abc").await?;
    ///     let buffered = b.read_more().await?;
    ///     assert!(buffered >= 1);
    ///     b.with_buffer(|buf| assert!(b"abc".starts_with(buf)));
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_more(&self) -> ReadMore<'_> {
        ReadMore {
            op: ReadOp::new(self, More { base: None }),
        }
    }

    /// Calls `f` with the buffered, unread bytes (no copy).
    ///
    /// # Panics
    ///
    /// If `f` calls a method of this stream.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     a.write(b"3:abc").await?;
    ///     b.fill_until(b":", None).await?;
    ///     let len = b.with_buffer(|buf| buf[0] - b'0');
    ///     b.consume(2);
    ///     assert_eq!(b.read_bytes(len as usize, false).await?, b"abc");
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_buffer<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        let st = self.inner.st.borrow();
        f(st.rbuf.data())
    }

    /// Drops the first `n` buffered bytes (after
    /// [`fill_until`](IOStream::fill_until) or
    /// [`read_more`](IOStream::read_more)).
    ///
    /// # Panics
    ///
    /// If fewer than `n` bytes are buffered.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     a.write(b"skip:keep").await?;
    ///     let n = b.fill_until(b":", None).await?;
    ///     b.consume(n); // drop "skip:" without copying it
    ///     assert_eq!(b.read_bytes(4, false).await?, b"keep");
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn consume(&self, n: usize) {
        self.inner.st.borrow_mut().rbuf.consume(n);
    }

    /// The number of bytes read from the descriptor and not yet consumed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     a.write(b"line\nmore").await?;
    ///     let n = b.fill_until(b"\n", None).await?;
    ///     assert!(b.buffered() >= n); // the line, and what came after it
    ///     b.consume(n);
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn buffered(&self) -> usize {
        self.inner.st.borrow().rbuf.len()
    }

    // ----- writes ---------------------------------------------------------

    /// Writes `data` (Tornado's `write`).
    ///
    /// The write happens now, as far as the kernel takes it (straight from
    /// `data`, without a copy); the rest is copied into the write buffer
    /// and sent when the descriptor is writable, even if the returned
    /// future is dropped. The future completes when the last byte of
    /// `data` has been handed to the kernel, as Tornado's: awaiting each
    /// write before the next keeps at most one write's bytes buffered
    /// however slowly the peer reads.
    ///
    /// # Errors
    ///
    /// The future gives:
    /// * `InvalidInput` if bytes are already queued and with `data` they
    ///   would exceed [`StreamOptions::max_write_buffer_size`]; nothing is
    ///   written and the stream stays open;
    /// * a [`StreamClosedError`] if the stream is or becomes closed before
    ///   the data is flushed (a write error such as `EPIPE` closes it).
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     // Resolves once the data is handed to the kernel.
    ///     a.write(b"hello").await?;
    ///     assert_eq!(b.read_bytes(5, false).await?, b"hello");
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write(&self, data: &[u8]) -> Write<'_> {
        self.write_vectored(&[IoSlice::new(data)])
    }

    /// Writes several buffers as one (for example headers and a body), with
    /// one `writev` where possible. See [`write`](IOStream::write).
    ///
    /// # Errors
    ///
    /// As [`write`](IOStream::write).
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     use std::io::IoSlice;
    ///     a.write_vectored(&[IoSlice::new(b"head "), IoSlice::new(b"body")]).await?;
    ///     assert_eq!(b.read_bytes(9, false).await?, b"head body");
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> Write<'_> {
        Write {
            stream: self,
            state: self.start_write(bufs),
            registered: false,
        }
    }

    fn start_write(&self, bufs: &[IoSlice<'_>]) -> io::Result<u64> {
        let inner = &*self.inner;
        let mut st = inner.st.borrow_mut();
        let st = &mut *st;
        if st.closed.is_some() {
            return Err(inner.closed_error(st));
        }
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let queued = st.wbuf.len();
        if queued > 0 && queued.saturating_add(total) > inner.max_write_buffer_size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "stream (fd {}): write of {total} bytes with {queued} queued exceeds max_write_buffer_size ({})",
                    inner.fd, inner.max_write_buffer_size
                ),
            ));
        }
        #[cfg(feature = "tls")]
        if st.tls.is_some() {
            return inner.start_write_tls(st, bufs);
        }
        // (slice index, offset in it) of the first byte not written.
        let (mut index, mut offset) = (0, 0);
        let mut sent = 0;
        let mut failed = None;
        if st.wbuf.is_empty() && st.writable {
            let file = st.file.as_ref().expect("open streams have a file");
            let mut first = true;
            while sent < total {
                let result = if first {
                    first = false;
                    if bufs.len() == 1 {
                        (&*file).write(&bufs[0])
                    } else {
                        (&*file).write_vectored(bufs)
                    }
                } else {
                    (&*file).write(&bufs[index][offset..])
                };
                match result {
                    Ok(n) => {
                        sent += n;
                        let mut n = n;
                        while index < bufs.len() && n >= bufs[index].len() - offset {
                            n -= bufs[index].len() - offset;
                            index += 1;
                            offset = 0;
                        }
                        offset += n;
                        if sent < total && inner.short_io_drains {
                            st.writable = false;
                            break;
                        }
                    }
                    Err(err) if is_interrupted(&err) => {}
                    Err(err) if is_would_block(&err) => {
                        st.writable = false;
                        break;
                    }
                    Err(err) => {
                        failed = Some(err);
                        break;
                    }
                }
            }
        }
        if let Some(err) = failed {
            inner.close_locked(st, Some(err));
            return Err(inner.closed_error(st));
        }
        st.written += sent as u64;
        st.queued += total as u64;
        if sent < total {
            st.wbuf.push(&bufs[index][offset..]);
            for buf in &bufs[index + 1..] {
                st.wbuf.push(buf);
            }
            if st.writable {
                inner.flush(st);
            }
        }
        Ok(st.queued)
    }

    /// True while written data waits in the buffer (Tornado's `writing`;
    /// on a TLS stream, encrypted data).
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     assert!(!a.writing());
    ///     a.write(b"x").await?;
    ///     assert!(!a.writing()); // all of it is with the kernel
    ///     assert_eq!(b.read_bytes(1, false).await?, b"x");
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn writing(&self) -> bool {
        !self.inner.st.borrow().wbuf.is_empty()
    }

    /// True while a read is in progress (Tornado's `reading`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     assert!(!b.reading());
    ///     a.write(b"x").await?;
    ///     b.read_bytes(1, false).await?;
    ///     assert!(!b.reading()); // the read has completed
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reading(&self) -> bool {
        self.inner.st.borrow().reading
    }

    // ----- lifecycle ------------------------------------------------------

    /// Closes the stream: the descriptor is deregistered and closed,
    /// queued writes are dropped, pending reads and writes fail with a
    /// [`StreamClosedError`] without a cause, and the close callback is
    /// scheduled. Idempotent. Buffered read data stays readable.
    ///
    /// A TLS stream first sends a `close_notify` alert, if no write is
    /// queued and the descriptor takes it at once.
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
    ///     assert!(a.closed());
    ///     // The peer sees end of file.
    ///     assert!(b.read_bytes(1, false).await.is_err());
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) {
        let mut st = self.inner.st.borrow_mut();
        #[cfg(feature = "tls")]
        if st.closed.is_none()
            && st.wbuf.is_empty()
            && let Some(tls) = st.tls.as_mut()
        {
            tls.send_close_notify();
            self.inner.send_tls_output(&mut st);
        }
        self.inner.close_locked(&mut st, None);
    }

    /// True once the stream is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     assert!(!a.closed());
    ///     a.close();
    ///     assert!(a.closed());
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn closed(&self) -> bool {
        self.inner.st.borrow().closed.is_some()
    }

    /// Why the stream closed: `None` while open; otherwise the error its
    /// reads and writes now give (Tornado's `stream.error`, which is set
    /// only for errors).
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     drop(a); // the peer goes away
    ///     let _ = b.read_bytes(1, false).await;
    ///     let reason = b.close_reason().expect("closed");
    ///     assert_eq!(reason.cause().unwrap().kind(), std::io::ErrorKind::UnexpectedEof);
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close_reason(&self) -> Option<StreamClosedError> {
        let st = self.inner.st.borrow();
        let cause = st.closed.clone()?;
        Some(StreamClosedError::new(self.inner.fd, cause))
    }

    /// Runs `callback` (once, as a loop callback) when the stream closes;
    /// at once (on the next iteration) if it is closed already. Replaces a
    /// previous callback.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     let (tx, rx) = futures::channel::oneshot::channel();
    ///     b.set_close_callback(move || tx.send("closed").unwrap());
    ///     a.close();
    ///     let _ = b.read_bytes(1, false).await; // end of file closes `b`
    ///     assert_eq!(rx.await.unwrap(), "closed"); // the callback ran on the loop
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_close_callback(&self, callback: impl FnOnce() + 'static) {
        let mut st = self.inner.st.borrow_mut();
        if st.closed.is_some() {
            self.inner.ioloop.add_callback(callback);
        } else {
            st.close_callback = Some(Box::new(callback));
        }
    }

    /// Sets `TCP_NODELAY`: send small writes at once instead of waiting to
    /// coalesce them (Nagle). Servers of small request/response messages
    /// want it.
    ///
    /// # Errors
    ///
    /// A [`StreamClosedError`] if closed; `ENOTSOCK` and the like for a
    /// descriptor that is not a TCP socket.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// ioloop.run_sync(|| async move {
    ///     let stream = IOStream::connect(addr).await?;
    ///     let (_peer, _) = listener.accept()?;
    ///     stream.set_nodelay(true)?; // send small writes at once (no Nagle)
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        let st = self.inner.st.borrow();
        match &st.file {
            Some(file) => SockRef::from(file).set_tcp_nodelay(nodelay),
            None => Err(self.inner.closed_error(&st)),
        }
    }

    /// The local address of a TCP stream.
    ///
    /// # Errors
    ///
    /// A [`StreamClosedError`] if closed; `InvalidInput` if not an IP socket.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// ioloop.run_sync(|| async move {
    ///     let stream = IOStream::connect(addr).await?;
    ///     let (_peer, _) = listener.accept()?;
    ///     assert_eq!(stream.local_addr()?.ip(), addr.ip());
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock_addr(|s| s.local_addr())
    }

    /// The peer's address of a TCP stream.
    ///
    /// # Errors
    ///
    /// A [`StreamClosedError`] if closed; `InvalidInput` if not an IP socket.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// ioloop.run_sync(|| async move {
    ///     let stream = IOStream::connect(addr).await?;
    ///     let (_peer, _) = listener.accept()?;
    ///     assert_eq!(stream.peer_addr()?, addr);
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock_addr(|s| s.peer_addr())
    }

    fn sock_addr(
        &self,
        f: impl FnOnce(&SockRef<'_>) -> io::Result<SockAddr>,
    ) -> io::Result<SocketAddr> {
        let st = self.inner.st.borrow();
        let Some(file) = &st.file else {
            return Err(self.inner.closed_error(&st));
        };
        f(&SockRef::from(file))?
            .as_socket()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not an IP socket"))
    }

    /// The descriptor (closed once the stream is).
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     assert!(a.fd() >= 0);
    ///     assert_ne!(a.fd(), b.fd());
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fd(&self) -> RawFd {
        self.inner.fd
    }

    /// The loop the stream runs on.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     assert!(a.ioloop().ptr_eq(&ioloop::IOLoop::current()));
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ioloop(&self) -> &IOLoop {
        &self.inner.ioloop
    }

    /// The read buffer's current allocation in bytes (for memory
    /// accounting).
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     a.write(b"x").await?;
    ///     b.read_bytes(1, false).await?;
    ///     // An emptied buffer goes back to the pool between messages.
    ///     assert!(b.read_buffer_capacity() <= netutil::DEFAULT_MAX_BUFFER_SIZE);
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_buffer_capacity(&self) -> usize {
        self.inner.st.borrow().rbuf.capacity()
    }

    /// Bytes the peer has taken so far: those handed to the kernel less
    /// those still in the kernel's send queue (the progress of a slow
    /// reader, even while a deep send buffer keeps the stream unwritable).
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn bytes_delivered(&self) -> u64 {
        let st = self.inner.st.borrow();
        let queued = st
            .file
            .as_ref()
            .and_then(|f| crate::sys::send_queue_len(f.as_fd()).ok())
            .unwrap_or(0);
        st.written.saturating_sub(queued as u64)
    }

    /// Bytes accepted by writes and not yet handed to the kernel.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn write_buffered(&self) -> usize {
        self.inner.st.borrow().wbuf.len()
    }

    /// Reads what the descriptor holds now, whatever the last readiness
    /// event said (after a deadline passes, input that arrived while the
    /// loop was busy is still taken into account). Returns the bytes
    /// buffered.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn read_now(&self) -> usize {
        let mut st = self.inner.st.borrow_mut();
        let st = &mut *st;
        if st.closed.is_none() && !st.reading {
            st.readable = true;
            while let Filled::Data = self.inner.fill(st) {}
        }
        st.rbuf.len()
    }

    /// Reads at least one more byte into the buffer, as
    /// [`read_more`](IOStream::read_more), as a poll function for a reader
    /// that keeps no future between polls (the read buffer must not be
    /// full). A pending call leaves `cx`'s waker to be woken by input.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn poll_fill(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        use std::task::Poll;
        let inner = &*self.inner;
        let mut st = inner.st.borrow_mut();
        let st = &mut *st;
        loop {
            if st.closed.is_some() {
                return Poll::Ready(Err(inner.closed_error(st)));
            }
            if st.eof {
                return Poll::Ready(Err(eof_closed(inner.fd)));
            }
            if !st.readable {
                st.read_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            match inner.fill(st) {
                Filled::Data => return Poll::Ready(Ok(())),
                Filled::Full => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("stream (fd {}): read buffer full", inner.fd),
                    )));
                }
                Filled::Blocked | Filled::Closed => {}
            }
        }
    }

    /// Makes this plain stream a TLS one over `session` and sends what the
    /// session has to say first (a client's hello).
    ///
    /// # Errors
    ///
    /// `InvalidInput` while data is buffered or a read or write is in
    /// progress, or if the stream is TLS already; a [`StreamClosedError`]
    /// if it is closed.
    #[cfg(feature = "tls")]
    pub(crate) fn install_tls(&self, session: crate::tls::Session) -> io::Result<()> {
        let inner = &*self.inner;
        let mut st = inner.st.borrow_mut();
        let st = &mut *st;
        if st.closed.is_some() {
            return Err(inner.closed_error(st));
        }
        let refuse = |why: String| {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("stream (fd {}): cannot start tls: {why}", inner.fd),
            ))
        };
        if st.tls.is_some() {
            return refuse("the stream is tls already".into());
        }
        if st.reading {
            return refuse("a read is in progress".into());
        }
        if !st.rbuf.is_empty() {
            return refuse(format!(
                "{} bytes are buffered and unread (they came before the handshake)",
                st.rbuf.len()
            ));
        }
        if !st.wbuf.is_empty() {
            return refuse(format!("{} bytes wait to be written", st.wbuf.len()));
        }
        if st.eof {
            return refuse("the peer closed its side".into());
        }
        st.tls = Some(Box::new(session));
        st.readable = true;
        inner.send_tls_output(st);
        Ok(())
    }

    /// Ready once the TLS handshake has completed, or failed (the stream is
    /// then closed, and the error is the close's).
    #[cfg(feature = "tls")]
    pub(crate) fn poll_handshake(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let inner = &*self.inner;
        let mut st = inner.st.borrow_mut();
        let st = &mut *st;
        loop {
            if st.closed.is_some() {
                return Poll::Ready(Err(inner.closed_error(st)));
            }
            let Some(tls) = st.tls.as_ref() else {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("stream (fd {}): not a tls stream", inner.fd),
                )));
            };
            if !tls.is_handshaking() {
                return Poll::Ready(Ok(()));
            }
            if st.eof {
                return Poll::Ready(Err(eof_closed(inner.fd)));
            }
            if !st.readable {
                st.read_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            if let Filled::Full = inner.fill(st) {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "stream (fd {}): read buffer full during the tls handshake",
                        inner.fd
                    ),
                )));
            }
        }
    }

    /// Calls `f` with the TLS session, if this is a TLS stream.
    #[cfg(feature = "tls")]
    pub(crate) fn with_tls<R>(&self, f: impl FnOnce(&crate::tls::Session) -> R) -> Option<R> {
        self.inner.st.borrow().tls.as_deref().map(f)
    }

    /// Frees the read buffer if it is empty and the write buffer if it is
    /// empty, so an idle connection holds no buffer memory.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn release_buffers(&self) {
        let mut st = self.inner.st.borrow_mut();
        st.rbuf.release();
        st.wbuf.release();
    }

    /// Ready once the stream is closed or the peer has shut down its
    /// sending side; registers `cx`'s waker otherwise (one waiter).
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn poll_hangup(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        let mut st = self.inner.st.borrow_mut();
        if st.closed.is_some() || st.eof {
            return std::task::Poll::Ready(());
        }
        st.close_waker = Some(cx.waker().clone());
        std::task::Poll::Pending
    }
}

impl fmt::Debug for IOStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.st.borrow();
        f.debug_struct("IOStream")
            .field("fd", &self.inner.fd)
            .field("closed", &st.closed.is_some())
            .field("buffered", &st.rbuf.len())
            .field("write_buffer", &st.wbuf.len())
            .field("tls", &st.is_tls())
            .finish()
    }
}

// ----- read requests ---------------------------------------------------------

/// What a read needs, checked against the buffer after each fill.
enum Check<T> {
    Done(T),
    NeedMore,
    /// Unsatisfiable: fail with this error and close the stream.
    Fail(io::ErrorKind, String),
}

/// One kind of read (`read_until`, `read_bytes`, ...): what it waits for
/// in the read buffer.
trait ReadRequest {
    type Output;

    /// Whether the buffer satisfies the read. `eof`: the stream closed by
    /// end of file (no more data will come).
    fn check(&mut self, buf: &mut ReadBuffer, eof: bool, limit: usize) -> Check<Self::Output>;

    /// A caller's buffer to read into directly, when the stream's buffer is
    /// empty.
    fn direct(&mut self) -> Option<&mut [u8]> {
        None
    }

    /// `n` bytes were read into [`direct`](ReadRequest::direct)'s buffer.
    fn direct_done(&mut self, _n: usize) {}
}

fn full<T>(limit: usize) -> Check<T> {
    Check::Fail(
        io::ErrorKind::InvalidData,
        format!(
            "read buffer full: {limit} bytes buffered (max_buffer_size) and the read is not satisfied"
        ),
    )
}

struct Until<'a> {
    delimiter: &'a [u8],
    max_bytes: Option<usize>,
    /// Bytes of the buffer already searched without a match.
    scanned: usize,
    /// Copy out and consume (`read_until`), or only report (`fill_until`).
    take: bool,
}

impl<'a> Until<'a> {
    fn new(delimiter: &'a [u8], max_bytes: Option<usize>, take: bool) -> Self {
        Until {
            delimiter,
            max_bytes,
            scanned: 0,
            take,
        }
    }
}

enum UntilOutput {
    Data(Vec<u8>),
    Len(usize),
}

impl ReadRequest for Until<'_> {
    type Output = UntilOutput;

    fn check(&mut self, buf: &mut ReadBuffer, _eof: bool, limit: usize) -> Check<UntilOutput> {
        let data = buf.data();
        let dlen = self.delimiter.len();
        // Resume the search where it stopped, allowing for a delimiter
        // split across the old end.
        let from = self.scanned.saturating_sub(dlen - 1);
        let found = if dlen == 1 {
            memchr::memchr(self.delimiter[0], &data[from..])
        } else {
            memchr::memmem::find(&data[from..], self.delimiter)
        };
        match found {
            Some(i) => {
                let end = from + i + dlen;
                if let Some(max) = self.max_bytes.filter(|&max| end > max) {
                    return Check::Fail(
                        io::ErrorKind::InvalidData,
                        format!(
                            "delimiter {:?} not found within {max} bytes",
                            self.delimiter.escape_ascii().to_string()
                        ),
                    );
                }
                self.scanned = 0;
                if self.take {
                    Check::Done(UntilOutput::Data(buf.take(end)))
                } else {
                    Check::Done(UntilOutput::Len(end))
                }
            }
            None => {
                self.scanned = data.len();
                if let Some(max) = self.max_bytes.filter(|&max| data.len() > max) {
                    return Check::Fail(
                        io::ErrorKind::InvalidData,
                        format!(
                            "delimiter {:?} not found within {max} bytes",
                            self.delimiter.escape_ascii().to_string()
                        ),
                    );
                }
                if data.len() >= limit {
                    return full(limit);
                }
                Check::NeedMore
            }
        }
    }
}

struct Bytes {
    n: usize,
    partial: bool,
}

impl ReadRequest for Bytes {
    type Output = Vec<u8>;

    fn check(&mut self, buf: &mut ReadBuffer, _eof: bool, limit: usize) -> Check<Vec<u8>> {
        let len = buf.len();
        if len >= self.n || (self.partial && len > 0) {
            return Check::Done(buf.take(len.min(self.n)));
        }
        if self.n == 0 {
            return Check::Done(Vec::new());
        }
        if len >= limit {
            return full(limit);
        }
        Check::NeedMore
    }
}

struct Into_<'a> {
    buf: &'a mut [u8],
    filled: usize,
    partial: bool,
}

impl ReadRequest for Into_<'_> {
    type Output = usize;

    fn check(&mut self, buf: &mut ReadBuffer, _eof: bool, _limit: usize) -> Check<usize> {
        self.filled += buf.take_into(&mut self.buf[self.filled..]);
        if self.filled == self.buf.len() || (self.partial && self.filled > 0) {
            Check::Done(self.filled)
        } else {
            Check::NeedMore
        }
    }

    fn direct(&mut self) -> Option<&mut [u8]> {
        let rest = &mut self.buf[self.filled..];
        (rest.len() >= DIRECT_READ_MIN).then_some(rest)
    }

    fn direct_done(&mut self, n: usize) {
        self.filled += n;
    }
}

struct UntilClose;

impl ReadRequest for UntilClose {
    type Output = Vec<u8>;

    fn check(&mut self, buf: &mut ReadBuffer, eof: bool, limit: usize) -> Check<Vec<u8>> {
        if eof {
            return Check::Done(buf.take(buf.len()));
        }
        if buf.len() >= limit {
            return full(limit);
        }
        Check::NeedMore
    }
}

struct More {
    /// The buffered length at the first check.
    base: Option<usize>,
}

impl ReadRequest for More {
    type Output = usize;

    fn check(&mut self, buf: &mut ReadBuffer, _eof: bool, limit: usize) -> Check<usize> {
        let len = buf.len();
        let base = *self.base.get_or_insert(len);
        if len > base {
            return Check::Done(len);
        }
        if len >= limit {
            return full(limit);
        }
        Check::NeedMore
    }
}

/// The state machine shared by every read future.
struct ReadOp<'a, R> {
    stream: &'a IOStream,
    request: R,
    /// INVARIANT: true exactly while this future holds the stream's
    /// `reading` flag.
    active: bool,
    done: bool,
}

impl<'a, R: ReadRequest> ReadOp<'a, R> {
    fn new(stream: &'a IOStream, request: R) -> Self {
        ReadOp {
            stream,
            request,
            active: false,
            done: false,
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R::Output>> {
        assert!(!self.done, "read future polled after completion");
        let inner = &*self.stream.inner;
        let mut st = inner.st.borrow_mut();
        let st = &mut *st;
        if !self.active {
            if st.reading {
                self.done = true;
                return Poll::Ready(Err(io::Error::other(format!(
                    "stream (fd {}): already reading (one read at a time)",
                    inner.fd
                ))));
            }
            st.reading = true;
            self.active = true;
        }
        let result = self.poll_locked(inner, st, cx);
        if result.is_ready() {
            st.reading = false;
            st.read_waker = None;
            self.active = false;
            self.done = true;
        }
        result
    }

    fn poll_locked(
        &mut self,
        inner: &Inner,
        st: &mut State,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<R::Output>> {
        loop {
            let eof = st.eof
                || matches!(&st.closed, Some(Some(c)) if c.kind() == io::ErrorKind::UnexpectedEof);
            match self.request.check(&mut st.rbuf, eof, inner.max_buffer_size) {
                Check::Done(out) => return Poll::Ready(Ok(out)),
                Check::Fail(kind, message) => {
                    let message = format!("stream (fd {}): {message}", inner.fd);
                    inner.close_locked(st, Some(io::Error::new(kind, message.clone())));
                    return Poll::Ready(Err(io::Error::new(kind, message)));
                }
                Check::NeedMore => {}
            }
            if st.closed.is_some() {
                return Poll::Ready(Err(inner.closed_error(st)));
            }
            if st.eof {
                // Half-closed: the peer sends nothing more.
                return Poll::Ready(Err(eof_closed(inner.fd)));
            }
            if !st.readable {
                match &st.read_waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => st.read_waker = Some(cx.waker().clone()),
                }
                return Poll::Pending;
            }
            if st.rbuf.is_empty()
                && !st.is_tls()
                && let Some(direct) = self.request.direct()
            {
                let file = st.file.as_ref().expect("open streams have a file");
                let asked = direct.len();
                match (&*file).read(direct) {
                    Ok(0) => inner.end_of_file(st),
                    Ok(n) => {
                        self.request.direct_done(n);
                        inner.after_read(st, n, asked);
                    }
                    Err(err) if is_interrupted(&err) => {}
                    Err(err) if is_would_block(&err) => st.readable = false,
                    Err(err) => inner.close_locked(st, Some(err)),
                }
                continue;
            }
            // Full: the next check fails the read.
            let _ = inner.fill(st);
        }
    }
}

impl<R> Drop for ReadOp<'_, R> {
    fn drop(&mut self) {
        if self.active
            && let Ok(mut st) = self.stream.inner.st.try_borrow_mut()
        {
            st.reading = false;
            st.read_waker = None;
        }
    }
}

macro_rules! read_future {
    ($(#[$doc:meta])* $name:ident, $req:ty, $out:ty, |$v:ident| $map:expr) => {
        $(#[$doc])*
        #[must_use = "futures do nothing unless polled"]
        pub struct $name<'a> {
            op: ReadOp<'a, $req>,
        }

        impl Future for $name<'_> {
            type Output = io::Result<$out>;

            fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
                self.op.poll(cx).map(|r| r.map(|$v| $map))
            }
        }

        impl fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("fd", &self.op.stream.inner.fd)
                    .finish_non_exhaustive()
            }
        }
    };
}

read_future!(
    /// The future of [`IOStream::read_until`]: the bytes through the delimiter.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     a.write(b"a\nb").await?;
    ///     let future: netutil::ReadUntil<'_> = b.read_until(b"\n", None);
    ///     assert_eq!(future.await?, b"a\n");
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ReadUntil, Until<'a>, Vec<u8>, |v| match v {
        UntilOutput::Data(data) => data,
        UntilOutput::Len(_) => unreachable!("read_until takes its data"),
    }
);
read_future!(
    /// The future of [`IOStream::fill_until`]: the buffered length through the delimiter.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     a.write(b"a\nb").await?;
    ///     let future: netutil::FillUntil<'_> = b.fill_until(b"\n", None);
    ///     assert_eq!(future.await?, 2);
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    FillUntil, Until<'a>, usize, |v| match v {
        UntilOutput::Len(n) => n,
        UntilOutput::Data(_) => unreachable!("fill_until consumes nothing"),
    }
);
read_future!(
    /// The future of [`IOStream::read_bytes`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     a.write(b"abc").await?;
    ///     let future: netutil::ReadBytes<'_> = b.read_bytes(2, false);
    ///     assert_eq!(future.await?, b"ab");
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ReadBytes, Bytes, Vec<u8>, |v| v
);
read_future!(
    /// The future of [`IOStream::read_into`]: the number of bytes read.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     a.write(b"abc").await?; let mut buf = [0; 2];
    ///     let future: netutil::ReadInto<'_> = b.read_into(&mut buf, false);
    ///     assert_eq!(future.await?, 2);
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ReadInto, Into_<'a>, usize, |v| v
);
read_future!(
    /// The future of [`IOStream::read_until_close`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     a.write(b"abc").await?; a.close();
    ///     let future: netutil::ReadUntilClose<'_> = b.read_until_close();
    ///     assert_eq!(future.await?, b"abc");
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ReadUntilClose, UntilClose, Vec<u8>, |v| v
);
read_future!(
    /// The future of [`IOStream::read_more`]: the number of bytes buffered.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     a.write(b"abc").await?;
    ///     let future: netutil::ReadMore<'_> = b.read_more();
    ///     assert!(future.await? >= 1);
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ReadMore, More, usize, |v| v
);

/// The future of [`IOStream::write`] and [`IOStream::write_vectored`]:
/// completes when the data has been handed to the kernel.
///
/// The write itself does not depend on this future: dropping it does not
/// cancel anything. To fire and forget, drop it explicitly
/// (`drop(stream.write(data))`; clippy flags `let _ =` on a future).
///
/// # Examples
///
/// ```
/// # use netutil::IOStream;
/// let ioloop = ioloop::IOLoop::new()?;
/// let (a, b) = std::os::unix::net::UnixStream::pair()?;
/// ioloop.run_sync(|| async move {
///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
///     let future: netutil::Write<'_> = a.write(b"ab");
///     future.await?;
///     assert_eq!(b.read_bytes(2, false).await?, b"ab");
///     Ok::<_, std::io::Error>(())
/// }, Some(std::time::Duration::from_secs(5)))??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "await the write to wait until the kernel has the bytes (back-pressure) and to see its error; drop(..) it to say you do not"]
pub struct Write<'a> {
    stream: &'a IOStream,
    /// The `written` count that completes this write, or the error to give.
    state: io::Result<u64>,
    registered: bool,
}

impl Future for Write<'_> {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let target = match &mut this.state {
            Ok(target) => *target,
            Err(err) => {
                let err = std::mem::replace(
                    err,
                    io::Error::other("write future polled after completion"),
                );
                return Poll::Ready(Err(err));
            }
        };
        let inner = &*this.stream.inner;
        let mut st = inner.st.borrow_mut();
        if st.written >= target {
            return Poll::Ready(Ok(()));
        }
        if st.closed.is_some() {
            return Poll::Ready(Err(inner.closed_error(&st)));
        }
        let waker = cx.waker();
        if this.registered
            && let Some(entry) = st.write_waiters.iter_mut().find(|(t, _)| *t == target)
        {
            if !entry.1.will_wake(waker) {
                entry.1 = waker.clone();
            }
            return Poll::Pending;
        }
        st.write_waiters.push((target, waker.clone()));
        this.registered = true;
        Poll::Pending
    }
}

impl fmt::Debug for Write<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Write")
            .field("fd", &self.stream.inner.fd)
            .finish_non_exhaustive()
    }
}
