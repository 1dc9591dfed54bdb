//! `IOStream` under the `futures-io` traits: line framing with
//! `AsyncBufReadExt::lines`, `futures::io::copy` as an echo server,
//! write back-pressure, half-close, and the error a poll from outside the
//! loop gets instead of a hang.

use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use futures::stream::TryStreamExt;
use ioloop::IOLoop;
use netutil::{AsyncIOStream, IOStream, StreamOptions, TCPServer};

/// The safety net of every test: only a bug reaches it.
const LIMIT: Duration = Duration::from_secs(20);

fn run<F, Fut>(main: F) -> Fut::Output
where
    F: FnOnce() -> Fut,
    Fut: Future,
{
    let ioloop = IOLoop::new().expect("loop");
    let out = ioloop
        .run_sync(main, Some(LIMIT))
        .expect("run_sync timed out");
    ioloop.close(true).unwrap();
    out
}

/// Lines of many lengths (some far longer than a read chunk), so a line
/// often spans several reads and a read often holds many lines.
fn sample_lines() -> Vec<String> {
    (0..3000)
        .map(|i| {
            let len = (i * 7919) % 300 + if i % 500 == 0 { 100_000 } else { 0 };
            format!("{i}:{}", "x".repeat(len))
        })
        .collect()
}

#[test]
fn lines_over_a_socket_pair() {
    let expected = sample_lines();
    let sent = expected.clone();
    let got = run(|| async move {
        let (a, b) = UnixStream::pair()?;
        let mut writer = IOStream::new(a)?;
        let reader = AsyncIOStream::new(IOStream::new(b)?);
        let write = IOLoop::current().spawn(async move {
            for line in &sent {
                writer.write_all(line.as_bytes()).await?;
                writer.write_all(b"\n").await?;
            }
            AsyncWriteExt::close(&mut writer).await
        });
        let lines: Vec<String> = reader.lines().try_collect().await?;
        write.await.expect("writer task")?;
        Ok::<_, std::io::Error>(lines)
    })
    .expect("lines");
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "lines differ");
}

#[test]
fn buffered_bytes_go_back_to_the_stream() {
    let (rest, tail) = run(|| async move {
        let (a, b) = UnixStream::pair()?;
        (&a).write_all(b"first\nsecond\nthird")?;
        let stream = IOStream::new(b)?;
        let mut reader = AsyncIOStream::new(stream.clone());
        let mut line = String::new();
        reader.read_line(&mut line).await?;
        assert_eq!(line, "first\n");
        // While lent, the stream's own reads are refused, not interleaved.
        let refused = stream.read_bytes(1, true).await.unwrap_err();
        assert!(refused.to_string().contains("already reading"), "{refused}");
        let stream = reader.into_inner();
        let rest = stream.read_until(b"\n", None).await?;
        drop(a);
        let tail = stream.read_until_close().await?;
        Ok::<_, std::io::Error>((rest, tail))
    })
    .expect("reads");
    assert_eq!(rest, b"second\n");
    assert_eq!(tail, b"third");
}

/// An echo server made of `futures::io::copy` from each connection to
/// itself; the client sends 3 MiB, shuts down its sending side, and reads
/// the echo to the end.
#[test]
fn copy_echo_server() {
    let data: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let sent = data.clone();
    let echoed = run(|| async move {
        let server = TCPServer::new(|stream: IOStream, _| async move {
            let (mut from, mut to) = (stream.clone(), stream);
            if futures::io::copy(&mut from, &mut to).await.is_ok() {
                let _ = AsyncWriteExt::close(&mut to).await;
            }
        });
        let port = server.listen(0, Some("127.0.0.1"))?[0].port();
        let mut client = IOStream::connect(([127, 0, 0, 1], port).into()).await?;
        let mut reader = client.clone();
        let read = IOLoop::current().spawn(async move {
            let mut echoed = Vec::new();
            reader.read_to_end(&mut echoed).await.map(|_| echoed)
        });
        client.write_all(&sent).await?;
        AsyncWriteExt::close(&mut client).await?;
        let echoed = read.await.expect("reader task")?;
        server.stop();
        Ok::<_, std::io::Error>(echoed)
    })
    .expect("echo");
    assert_eq!(echoed.len(), data.len());
    assert!(echoed == data, "echo differs");
}

/// `copy_buf` from an `AsyncIOStream` hands the stream's buffer to the
/// writer without a copy of its own.
#[test]
fn copy_buf_between_streams() {
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let sent = data.clone();
    let got = run(|| async move {
        let (a, b) = UnixStream::pair()?;
        let (c, d) = UnixStream::pair()?;
        let mut source = IOStream::new(a)?;
        let middle = AsyncIOStream::new(IOStream::new(b)?);
        let mut sink = IOStream::new(c)?;
        let mut out = IOStream::new(d)?;
        let pump = IOLoop::current().spawn(async move {
            let n = futures::io::copy_buf(middle, &mut sink).await?;
            AsyncWriteExt::close(&mut sink).await?;
            Ok::<u64, std::io::Error>(n)
        });
        let feed = IOLoop::current().spawn(async move {
            source.write_all(&sent).await?;
            AsyncWriteExt::close(&mut source).await
        });
        let mut got = Vec::new();
        out.read_to_end(&mut got).await?;
        feed.await.expect("feed")?;
        assert_eq!(pump.await.expect("pump")?, got.len() as u64);
        Ok::<_, std::io::Error>(got)
    })
    .expect("copy_buf");
    assert!(got == data, "copy differs");
}

/// `poll_write` takes everything into an empty buffer, then returns
/// `Pending` once `max_write_buffer_size` is queued, and the writer is
/// woken when the peer reads.
#[test]
fn poll_write_is_pending_only_over_the_limit() {
    const LIMIT_BYTES: usize = 64 * 1024;
    let (accepted, drained) = run(|| async move {
        let (a, mut b) = UnixStream::pair()?;
        let mut stream = StreamOptions::new()
            .max_write_buffer_size(LIMIT_BYTES)
            .build(a)?;
        let chunk = vec![7u8; 16 * 1024];
        let mut accepted = 0usize;
        // Poll by hand until the first Pending.
        let pending = futures::future::poll_fn(|cx: &mut Context<'_>| {
            for _ in 0..100_000 {
                match Pin::new(&mut stream).poll_write(cx, &chunk) {
                    Poll::Ready(Ok(n)) => accepted += n,
                    Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                    Poll::Pending => return Poll::Ready(Ok(true)),
                }
            }
            Poll::Ready(Ok(false))
        })
        .await?;
        assert!(pending, "poll_write never returned Pending");
        // The peer drains what it can, on a thread of its own; the pending
        // write must then go through.
        b.set_read_timeout(Some(LIMIT))?;
        let drain = std::thread::spawn(move || {
            let mut total = 0usize;
            let mut buf = vec![0u8; 1 << 16];
            while let Ok(n) = b.read(&mut buf) {
                if n == 0 {
                    break;
                }
                total += n;
            }
            total
        });
        stream.write_all(&chunk).await?;
        AsyncWriteExt::close(&mut stream).await?;
        drop(stream);
        let drained = drain.join().expect("drain thread");
        Ok::<_, std::io::Error>((accepted + chunk.len(), drained))
    })
    .expect("writes");
    assert_eq!(accepted, drained, "every accepted byte reaches the peer");
}

/// `close` shuts down only the sending side: the peer reads an end of
/// file, and the stream still reads the peer's answer.
#[test]
fn close_is_a_half_close_on_sockets() {
    let answer = run(|| async move {
        let (a, b) = UnixStream::pair()?;
        let mut stream = IOStream::new(a)?;
        let peer = std::thread::spawn(move || -> std::io::Result<Vec<u8>> {
            b.set_read_timeout(Some(LIMIT))?;
            let mut request = Vec::new();
            (&b).read_to_end(&mut request)?;
            (&b).write_all(b"got ")?;
            (&b).write_all(&request)?;
            Ok(request)
        });
        stream.write_all(b"hello").await?;
        AsyncWriteExt::close(&mut stream).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        assert_eq!(peer.join().expect("peer")?, b"hello");
        Ok::<_, std::io::Error>(answer)
    })
    .expect("half close");
    assert_eq!(answer, b"got hello");
}

/// A read polled by another executor while the loop is not running fails
/// at once, naming the stream, instead of waiting for an event that no
/// one will deliver.
#[test]
fn poll_outside_the_loop_is_an_error_not_a_hang() {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let result = (|| {
            let _ioloop = IOLoop::new()?;
            let (a, _b) = UnixStream::pair()?;
            let mut stream = IOStream::new(a)?;
            let mut buf = [0u8; 16];
            futures::executor::block_on(stream.read(&mut buf))
        })();
        let _ = tx.send(result.map_err(|e| e.to_string()));
    });
    let result = rx
        .recv_timeout(LIMIT)
        .expect("the read hung instead of failing");
    let err = result.expect_err("a read with no data and no loop");
    assert!(err.contains("loop is not running"), "{err}");
    assert!(err.contains("fd "), "names the stream: {err}");
}
