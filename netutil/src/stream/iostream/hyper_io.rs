//! hyper 1.x's runtime I/O traits, [`hyper::rt::Read`] and
//! [`hyper::rt::Write`], on [`IOStream`], over the same poll functions as
//! its `futures-io` traits.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use hyper::rt::{Read, ReadBufCursor, Write};

use super::IOStream;
use super::futures_io::Input;

/// Reads as [`futures::io::AsyncRead`] does, copying what the stream has
/// buffered into hyper's buffer; the end of the stream reads as nothing.
///
/// # Errors and thread safety
///
/// As [`IOStream`]'s [`AsyncRead`](futures::io::AsyncRead) impl: poll it
/// from a task on the stream's loop.
impl Read for IOStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if let Input::Buffered = ready!(self.poll_input(cx, None))? {
            let mut st = self.inner.st.borrow_mut();
            let data = st.rbuf.data();
            let n = data.len().min(buf.remaining());
            buf.put_slice(&data[..n]);
            st.rbuf.consume(n);
        }
        Poll::Ready(Ok(()))
    }
}

/// Writes as [`futures::io::AsyncWrite`] does; vectored writes (hyper's
/// headers and body) go out in one `writev`.
///
/// # Errors and thread safety
///
/// As [`IOStream`]'s [`AsyncWrite`](futures::io::AsyncWrite) impl.
impl Write for IOStream {
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

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush_all(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        IOStream::poll_shutdown(&self, cx)
    }
}
