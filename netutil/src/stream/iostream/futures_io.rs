//! The `futures-io` traits on [`IOStream`]: [`AsyncRead`] and
//! [`AsyncWrite`] on the stream itself, and [`AsyncIOStream`], which adds
//! [`AsyncBufRead`] by lending the stream's own read buffer.
//!
//! These are poll functions over the same state as the stream's futures:
//! a read takes what is buffered, or (with nothing buffered and a large
//! enough destination) reads straight into the caller's buffer; a write
//! goes to the kernel at once as far as it takes it, and is queued
//! otherwise.

use std::io::{self, IoSlice, Read};
use std::net::Shutdown;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures::io::{AsyncBufRead, AsyncRead, AsyncWrite};
use socket2::SockRef;

use super::{DIRECT_READ_MIN, Filled, IOStream, Inner, State, is_interrupted, is_would_block};
use crate::stream::buffer::ReadBuffer;

/// What [`IOStream::poll_input`] found.
pub(super) enum Input {
    /// Bytes are in the read buffer.
    Buffered,
    /// This many bytes were read straight into the caller's buffer.
    Direct(usize),
    /// The peer closed its side and everything before it was read.
    Eof,
}

/// The error of a poll that would wait for a loop that is not running: no
/// event would ever wake the caller, so it fails instead of hanging.
fn loop_not_running(fd: i32) -> io::Error {
    io::Error::other(format!(
        "stream (fd {fd}): polled while its loop is not running; poll streams from tasks on their loop (IOLoop::spawn, IOLoop::run_sync)"
    ))
}

fn already_reading(fd: i32) -> io::Error {
    io::Error::other(format!(
        "stream (fd {fd}): already reading (one read at a time)"
    ))
}

/// True once everything the peer sent before closing its side has been
/// read out of the kernel.
fn at_eof(st: &State) -> bool {
    st.eof || matches!(&st.closed, Some(Some(c)) if c.kind() == io::ErrorKind::UnexpectedEof)
}

/// Puts `waker` in `slot` unless the one there wakes the same task.
fn store_waker(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(w) if w.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

/// Registers `waker` to be woken once `written` reaches `target`.
fn wait_written(st: &mut State, target: u64, waker: &Waker) {
    let known = st
        .write_waiters
        .iter()
        .any(|(t, w)| *t == target && w.will_wake(waker));
    if !known {
        st.write_waiters.push((target, waker.clone()));
    }
}

impl IOStream {
    /// Waits for input: buffered bytes, or with `direct` (when nothing is
    /// buffered and it is large enough) bytes read straight into it, or
    /// the end of the stream.
    pub(super) fn poll_input(
        &self,
        cx: &mut Context<'_>,
        mut direct: Option<&mut [u8]>,
    ) -> Poll<io::Result<Input>> {
        let inner = &*self.inner;
        let mut st = inner.st.borrow_mut();
        let st = &mut *st;
        if st.reading {
            return Poll::Ready(Err(already_reading(inner.fd)));
        }
        loop {
            if !st.rbuf.is_empty() {
                return Poll::Ready(Ok(Input::Buffered));
            }
            if at_eof(st) {
                return Poll::Ready(Ok(Input::Eof));
            }
            if st.closed.is_some() {
                return Poll::Ready(Err(inner.closed_error(st)));
            }
            if !st.readable {
                if !inner.ioloop.is_running() {
                    return Poll::Ready(Err(loop_not_running(inner.fd)));
                }
                store_waker(&mut st.read_waker, cx.waker());
                return Poll::Pending;
            }
            match direct.as_deref_mut() {
                // Straight from the descriptor, as `ReadOp`'s direct path;
                // a TLS stream's bytes must be decrypted, so it reads
                // through `fill`, as the buffered path does.
                Some(out) if out.len() >= DIRECT_READ_MIN && !st.is_tls() => {
                    let file = st.file.as_ref().expect("open streams have a file");
                    let asked = out.len();
                    match (&*file).read(out) {
                        Ok(0) => inner.end_of_file(st),
                        Ok(n) => {
                            inner.after_read(st, n, asked);
                            return Poll::Ready(Ok(Input::Direct(n)));
                        }
                        Err(err) if is_interrupted(&err) => {}
                        Err(err) if is_would_block(&err) => st.readable = false,
                        Err(err) => inner.close_locked(st, Some(err)),
                    }
                }
                _ => {
                    // The buffer is empty, so it has room: `Full` cannot be.
                    let _: Filled = inner.fill(st);
                }
            }
        }
    }

    /// [`AsyncRead::poll_read`] for the stream and its [`AsyncIOStream`].
    pub(super) fn poll_read_some(
        &self,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        Poll::Ready(match std::task::ready!(self.poll_input(cx, Some(out)))? {
            Input::Direct(n) => Ok(n),
            Input::Buffered => Ok(self.inner.st.borrow_mut().rbuf.take_into(out)),
            Input::Eof => Ok(0),
        })
    }

    /// [`AsyncWrite::poll_write_vectored`]: takes as much of `bufs` as the
    /// write buffer's limit allows (all of it into an empty buffer, in one
    /// `writev`), waiting only while the buffer is over the limit.
    pub(super) fn poll_write_some(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        let inner: &Inner = &self.inner;
        let mut st = inner.st.borrow_mut();
        if st.closed.is_some() {
            return Poll::Ready(Err(inner.closed_error(&st)));
        }
        let queued = st.wbuf.len();
        let limit = inner.max_write_buffer_size;
        if queued >= limit {
            if !inner.ioloop.is_running() {
                return Poll::Ready(Err(loop_not_running(inner.fd)));
            }
            // Wake when half the queue has gone, not at the first byte.
            let target = st.written + (queued as u64).div_ceil(2);
            wait_written(&mut st, target, cx.waker());
            return Poll::Pending;
        }
        drop(st);
        if queued == 0 {
            return Poll::Ready(self.start_write(bufs).map(|_| total));
        }
        // Bytes are queued: append what fits of the first buffer.
        let first = bufs.iter().find(|b| !b.is_empty()).expect("total > 0");
        let n = first.len().min(limit - queued);
        Poll::Ready(self.start_write(&[IoSlice::new(&first[..n])]).map(|_| n))
    }

    /// [`AsyncWrite::poll_flush`]: ready once every queued byte is with
    /// the kernel.
    pub(super) fn poll_flush_all(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let inner: &Inner = &self.inner;
        let mut st = inner.st.borrow_mut();
        if st.wbuf.is_empty() {
            return Poll::Ready(Ok(()));
        }
        if st.closed.is_some() {
            return Poll::Ready(Err(inner.closed_error(&st)));
        }
        if !inner.ioloop.is_running() {
            return Poll::Ready(Err(loop_not_running(inner.fd)));
        }
        let target = st.queued;
        wait_written(&mut st, target, cx.waker());
        Poll::Pending
    }

    /// [`AsyncWrite::poll_close`]: flushes, then shuts down the sending
    /// side of a socket (the peer reads an end of file; reading goes on)
    /// or closes any other descriptor.
    pub(super) fn poll_shutdown(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_flush_all(cx))?;
        let inner: &Inner = &self.inner;
        let mut st = inner.st.borrow_mut();
        let Some(file) = st.file.as_ref() else {
            return Poll::Ready(Ok(()));
        };
        match SockRef::from(file).shutdown(Shutdown::Write) {
            Ok(()) => {}
            Err(err) if err.raw_os_error() == Some(libc::ENOTCONN) => {}
            Err(err) if err.raw_os_error() == Some(libc::ENOTSOCK) => {
                inner.close_locked(&mut st, None);
            }
            Err(err) => return Poll::Ready(Err(err)),
        }
        Poll::Ready(Ok(()))
    }
}

/// Reads through the stream's buffer: what is buffered is copied out;
/// with nothing buffered, a destination of 4 KiB or more is read into
/// straight from the descriptor (no copy), a smaller one gets a chunk
/// read into the stream's buffer first. The end of the stream reads as
/// `Ok(0)`.
///
/// # Errors
///
/// * a [`StreamClosedError`](crate::StreamClosedError) if the stream
///   closed for another reason than the peer's end of file;
/// * `Other` ("already reading") while one of the stream's read futures
///   is in progress;
/// * `Other` ("polled while its loop is not running") if the read would
///   wait and the stream's loop is not running: see the thread safety
///   note.
///
/// # Thread safety
///
/// `IOStream` is not `Send`: only its loop's thread can poll it. The
/// stream is woken by the loop's events, so poll it from a task on its
/// loop ([`IOLoop::spawn`](ioloop::IOLoop::spawn),
/// [`IOLoop::run_sync`](ioloop::IOLoop::run_sync)). Another executor on
/// the same thread (`futures::executor::block_on`) gets the error above
/// instead of hanging, when the loop is stopped; inside a loop callback,
/// where the loop is running but blocked by that executor, it would hang:
/// do not block a loop callback.
impl AsyncRead for IOStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_some(cx, buf)
    }
}

/// Writes as [`IOStream::write`] does (straight to the kernel as far as
/// it takes it, the rest queued), returning `Pending` only while the
/// write buffer holds [`StreamOptions::max_write_buffer_size`] or more.
/// `poll_flush` waits until the kernel has every queued byte;
/// `poll_close` flushes and shuts down the sending side of a socket (the
/// stream stays open for reading) or closes a pipe.
///
/// # Errors
///
/// A [`StreamClosedError`](crate::StreamClosedError) once the stream is
/// closed; the loop-not-running error of [`AsyncRead`]'s impl.
///
/// [`StreamOptions::max_write_buffer_size`]: crate::StreamOptions::max_write_buffer_size
impl AsyncWrite for IOStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_some(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_some(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush_all(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_shutdown(cx)
    }
}

/// An [`IOStream`] with [`AsyncBufRead`] as well as [`AsyncRead`] and
/// [`AsyncWrite`]: `poll_fill_buf` hands out the stream's own read buffer,
/// without a copy, so `futures::io::AsyncBufReadExt::lines`, line and
/// frame codecs and `futures::io::copy_buf` work on the stream unchanged.
///
/// While it holds buffered bytes it has handed out and not consumed, it
/// holds the stream's read buffer: the stream's own read futures (on a
/// clone) fail with "already reading", and
/// [`IOStream::buffered`] reads 0. Dropping it, or
/// [`into_inner`](AsyncIOStream::into_inner), gives the bytes back.
///
/// # Examples
///
/// ```
/// use futures::io::{AsyncBufReadExt, AsyncWriteExt};
/// use futures::stream::TryStreamExt;
/// use netutil::{AsyncIOStream, IOStream};
///
/// let (a, b) = std::os::unix::net::UnixStream::pair()?;
/// let ioloop = ioloop::IOLoop::new()?;
/// let lines = ioloop.run_sync(
///     || async move {
///         let mut writer = IOStream::new(a)?;
///         writer.write_all(b"one\ntwo\n").await?;
///         // `AsyncWriteExt::close` (not `IOStream::close`): the reader
///         // sees the end of the stream.
///         AsyncWriteExt::close(&mut writer).await?;
///         let reader = AsyncIOStream::new(IOStream::new(b)?);
///         reader.lines().try_collect::<Vec<String>>().await
///     },
///     None,
/// )??;
/// assert_eq!(lines, ["one", "two"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors and thread safety
///
/// As [`IOStream`]'s [`AsyncRead`] and [`AsyncWrite`].
pub struct AsyncIOStream {
    stream: IOStream,
    /// INVARIANT: `Some` exactly while this holds the stream's read
    /// buffer; the stream's own buffer is empty and its `reading` flag set
    /// meanwhile, so nothing else reads into it or out of it.
    lent: Option<ReadBuffer>,
}

impl AsyncIOStream {
    /// Wraps `stream`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     use futures::io::AsyncBufReadExt;
    ///     a.write(b"one\ntwo\n").await?;
    ///     let mut lines = netutil::AsyncIOStream::new(b).lines();
    ///     use futures::StreamExt;
    ///     assert_eq!(lines.next().await.unwrap()?, "one");
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(stream: IOStream) -> AsyncIOStream {
        AsyncIOStream { stream, lent: None }
    }

    /// The stream.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     let b = netutil::AsyncIOStream::new(b);
    ///     assert!(!b.get_ref().closed());
    ///     # let _ = a;
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_ref(&self) -> &IOStream {
        &self.stream
    }

    /// The stream, with any bytes handed out and not consumed back in its
    /// buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     let b = netutil::AsyncIOStream::new(b).into_inner();
    ///     a.write(b"x").await?;
    ///     assert_eq!(b.read_bytes(1, false).await?, b"x");
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_inner(mut self) -> IOStream {
        self.give_back();
        self.stream.clone()
    }

    /// Returns the lent buffer to the stream.
    fn give_back(&mut self) {
        if let Some(buf) = self.lent.take()
            && let Ok(mut st) = self.stream.inner.st.try_borrow_mut()
        {
            st.rbuf = buf;
            st.reading = false;
        }
    }

    fn lent_has_data(&self) -> bool {
        self.lent.as_ref().is_some_and(|b| !b.is_empty())
    }
}

impl From<IOStream> for AsyncIOStream {
    fn from(stream: IOStream) -> AsyncIOStream {
        AsyncIOStream::new(stream)
    }
}

impl Drop for AsyncIOStream {
    fn drop(&mut self) {
        self.give_back();
    }
}

impl std::fmt::Debug for AsyncIOStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncIOStream")
            .field("stream", &self.stream)
            .field("lent", &self.lent.as_ref().map_or(0, ReadBuffer::len))
            .finish()
    }
}

impl AsyncRead for AsyncIOStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.lent_has_data() {
            let lent = this.lent.as_mut().expect("checked above");
            return Poll::Ready(Ok(lent.take_into(buf)));
        }
        this.give_back();
        this.stream.poll_read_some(cx, buf)
    }
}

impl AsyncBufRead for AsyncIOStream {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if !this.lent_has_data() {
            this.give_back();
            match std::task::ready!(this.stream.poll_input(cx, None))? {
                Input::Eof => return Poll::Ready(Ok(&[])),
                Input::Direct(_) => unreachable!("no direct destination was given"),
                Input::Buffered => {
                    let mut st = this.stream.inner.st.borrow_mut();
                    st.reading = true;
                    this.lent = Some(std::mem::take(&mut st.rbuf));
                }
            }
        }
        Poll::Ready(Ok(this.lent.as_ref().map_or(&[], ReadBuffer::data)))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        match &mut this.lent {
            Some(lent) => lent.consume(amt),
            None => assert_eq!(amt, 0, "consume {amt} with nothing handed out"),
        }
    }
}

impl AsyncWrite for AsyncIOStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.stream.poll_write_some(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.stream.poll_write_some(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream.poll_flush_all(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream.poll_shutdown(cx)
    }
}
