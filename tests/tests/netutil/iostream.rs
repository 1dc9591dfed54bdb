//! `IOStream`: reads, writes, limits, closing and its causes
//! (tornado-semantics §3.8; user-reported failure 17).

use std::cell::Cell;
use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use futures::FutureExt;
use ioloop::IOLoop;
use netutil::{IOStream, StreamClosedError, StreamOptions};

use crate::util::run;

/// Two connected streams on the current loop.
fn pair() -> (IOStream, IOStream) {
    let (a, b) = UnixStream::pair().unwrap();
    (IOStream::new(a).unwrap(), IOStream::new(b).unwrap())
}

/// A connected pair whose reads may ask for, and whose writes not yet
/// flushed may hold, up to 16 MB (the defaults are 4 MiB and 1 MiB).
fn big_pair() -> (IOStream, IOStream) {
    let (a, b) = UnixStream::pair().unwrap();
    let options = StreamOptions::new()
        .max_buffer_size(16_000_000)
        .max_write_buffer_size(16_000_000);
    (options.build(a).unwrap(), options.build(b).unwrap())
}

/// The cause's kind of a stream-closed error (`None` for a local close).
fn closed_cause(err: &io::Error) -> Option<ErrorKind> {
    let closed =
        StreamClosedError::find(err).unwrap_or_else(|| panic!("not a StreamClosedError: {err}"));
    closed.cause().map(io::Error::kind)
}

#[test]
fn read_until_and_read_bytes() {
    run(|| async {
        let (a, b) = pair();
        a.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody12345")
            .await
            .unwrap();
        let head = b.read_until(b"\r\n\r\n", Some(1024)).await.unwrap();
        assert_eq!(head, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(b.read_bytes(4, false).await.unwrap(), b"body");
        assert_eq!(
            b.read_bytes(100, true).await.unwrap(),
            b"12345",
            "partial: what is there"
        );
        // A delimiter split across two arrivals.
        a.write(b"line one\r").await.unwrap();
        let reader = b.read_until(b"\r\n", None);
        let writer = async {
            ioloop::sleep(Duration::from_millis(5)).await;
            a.write(b"\nrest").await.unwrap();
        };
        let (line, ()) = futures::join!(reader, writer);
        assert_eq!(line.unwrap(), b"line one\r\n");
        assert_eq!(b.buffered(), 4, "the rest stays buffered");
    });
}

#[test]
fn read_until_beyond_max_bytes_fails_and_closes() {
    run(|| async {
        let (a, b) = pair();
        a.write(b"0123456789abcdef\n").await.unwrap();
        let err = b.read_until(b"\n", Some(8)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert!(
            err.to_string().contains("not found within 8 bytes"),
            "{err}"
        );
        assert!(
            b.closed(),
            "unsatisfiable reads close the stream, as Tornado"
        );
    });
}

#[test]
fn a_full_read_buffer_fails_the_read_and_closes() {
    run(|| async {
        let (a, b) = UnixStream::pair().unwrap();
        let a = IOStream::new(a).unwrap();
        let b = StreamOptions::new().max_buffer_size(1000).build(b).unwrap();
        let sender = async {
            let _ = a.write(&[b'x'; 5000]).await;
        };
        let (_, err) = futures::join!(sender, b.read_until(b"\n", None));
        let err = err.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert!(err.to_string().contains("max_buffer_size"), "{err}");
        assert!(b.closed());
    });
}

#[test]
fn read_into_small_and_large() {
    run(|| async {
        let (a, b) = pair();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let writer = async {
            a.write(&data).await.unwrap();
        };
        let reader = async {
            let mut out = vec![0; data.len()];
            let mut small = [0; 10];
            let n = b.read_into(&mut small, false).await.unwrap();
            out[..10].copy_from_slice(&small[..n]);
            // A large read goes straight into the caller's buffer.
            let n = b.read_into(&mut out[10..], false).await.unwrap();
            assert_eq!(n, data.len() - 10);
            out
        };
        let ((), out) = futures::join!(writer, reader);
        assert_eq!(out, data);
    });
}

#[test]
fn read_until_close_returns_everything_at_end_of_file() {
    run(|| async {
        let (a, b) = pair();
        a.write(b"all of it").await.unwrap();
        a.close();
        assert_eq!(b.read_until_close().await.unwrap(), b"all of it");
        assert!(b.closed());
    });
}

#[test]
fn end_of_file_closes_with_its_cause_and_keeps_buffered_data() {
    run(|| async {
        let (a, b) = pair();
        a.write(b"abc").await.unwrap();
        drop(a); // the last handle: closes
        let err = b.read_bytes(10, false).await.unwrap_err();
        assert_eq!(closed_cause(&err), Some(ErrorKind::UnexpectedEof));
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
        // Tornado: reads are satisfied from the buffer even after close.
        assert_eq!(b.read_bytes(3, false).await.unwrap(), b"abc");
        let err = b.write(b"x").await.unwrap_err();
        assert!(StreamClosedError::find(&err).is_some());
    });
}

#[test]
fn close_wakes_a_pending_read_with_no_cause() {
    run(|| async {
        let (_a, b) = pair();
        let b2 = b.clone();
        IOLoop::current().call_later(Duration::from_millis(5), move || b2.close());
        let err = b.read_until(b"\n", None).await.unwrap_err();
        assert_eq!(closed_cause(&err), None);
        assert_eq!(err.kind(), ErrorKind::NotConnected);
        b.close(); // idempotent
    });
}

#[test]
fn an_idle_stream_notices_the_peer_closing() {
    run(|| async {
        let (a, b) = pair();
        let fired = Rc::new(Cell::new(false));
        let f = fired.clone();
        b.set_close_callback(move || f.set(true));
        a.close();
        for _ in 0..2000 {
            if fired.get() {
                break;
            }
            ioloop::sleep(Duration::from_millis(2)).await;
        }
        assert!(
            fired.get(),
            "the close callback ran without any read pending"
        );
        assert!(b.closed());
        // Set after closing: runs too.
        let late = Rc::new(Cell::new(false));
        let l = late.clone();
        b.set_close_callback(move || l.set(true));
        ioloop::yield_now().await;
        ioloop::yield_now().await;
        assert!(late.get());
    });
}

#[test]
fn one_read_at_a_time() {
    run(|| async {
        let (a, b) = pair();
        let first = b.read_bytes(1, false);
        let mut first = Box::pin(first);
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(first.as_mut().poll(&mut cx).is_pending());
        let err = b.read_bytes(1, false).await.unwrap_err();
        assert!(err.to_string().contains("already reading"), "{err}");
        drop(first); // cancelling frees the stream for the next read
        a.write(b"z").await.unwrap();
        assert_eq!(b.read_bytes(1, false).await.unwrap(), b"z");
    });
}

#[test]
fn large_writes_are_flow_controlled_and_arrive_intact() {
    run(|| async {
        let (a, b) = big_pair();
        let data: Vec<u8> = (0..8_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let write = a.write(&data);
        assert!(a.writing(), "the kernel did not take 8 MB at once");
        let (w, r) = futures::join!(write, b.read_bytes(data.len(), false));
        w.unwrap();
        assert!(r.unwrap() == data);
        assert!(!a.writing());
    });
}

#[test]
fn queued_writes_complete_in_order_and_vectored_writes_join() {
    run(|| async {
        let (a, b) = big_pair();
        let big = vec![1u8; 3_000_000];
        let w1 = a.write(&big);
        let w2 = a.write_vectored(&[
            IoSlice::new(b"head"),
            IoSlice::new(b""),
            IoSlice::new(b"body"),
        ]);
        let reader = b.read_bytes(big.len() + 8, false);
        let (r1, r2, data) = futures::join!(w1, w2, reader);
        r1.unwrap();
        r2.unwrap();
        let data = data.unwrap();
        assert_eq!(&data[big.len()..], b"headbody");
    });
}

#[test]
fn the_write_buffer_limit_refuses_without_closing() {
    run(|| async {
        let (a, b) = UnixStream::pair().unwrap();
        let a = StreamOptions::new()
            .max_write_buffer_size(100_000)
            .build(a)
            .unwrap();
        let _b = IOStream::new(b).unwrap();
        // Fill the kernel, then the buffer, without awaiting the flushes.
        let mut refused = None;
        for _ in 0..10_000 {
            if let Some(Err(err)) = a.write(&[0; 10_000]).now_or_never() {
                refused = Some(err);
                break;
            }
        }
        let err = refused.expect("the limit was reached");
        assert!(err.to_string().contains("max_write_buffer_size"), "{err}");
        assert!(!a.closed(), "the stream stays usable");
    });
}

#[test]
fn a_peer_reset_while_not_reading_closes_with_the_reset_and_wakes_writes() {
    run(|| async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server_side, _) = listener.accept().unwrap();
        let stream = IOStream::new(server_side).unwrap();
        let closed = Rc::new(Cell::new(false));
        let c = closed.clone();
        stream.set_close_callback(move || c.set(true));
        // More than the kernel holds: the write stays pending.
        let big = vec![7u8; 16 << 20];
        let write = stream.write(&big);
        assert!(stream.writing());
        // The client resets (SO_LINGER 0), without reading anything.
        let socket = socket2::Socket::from(client);
        socket.set_linger(Some(Duration::ZERO)).unwrap();
        drop(socket);
        let err = write.await.unwrap_err();
        assert_eq!(
            closed_cause(&err),
            Some(ErrorKind::ConnectionReset),
            "{err}"
        );
        assert!(err.to_string().contains("reset"), "{err}");
        assert!(stream.closed());
        let reason = stream.close_reason().unwrap();
        assert_eq!(reason.cause().unwrap().kind(), ErrorKind::ConnectionReset);
        ioloop::yield_now().await;
        ioloop::yield_now().await;
        assert!(closed.get(), "the close callback ran");
    });
}

#[test]
fn a_pipe_hang_up_keeps_what_was_written() {
    run(|| async {
        let mut child = std::process::Command::new("sh")
            .args([
                "-c",
                "printf 'line 1\\nline 2\\n'; head -c 100000 /dev/zero",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = IOStream::new(child.stdout.take().unwrap()).unwrap();
        assert_eq!(
            stdout.read_until(b"\n", Some(100)).await.unwrap(),
            b"line 1\n"
        );
        let rest = stdout.read_until_close().await.unwrap();
        assert_eq!(rest.len(), 7 + 100_000);
        assert!(child.wait().unwrap().success());
    });
}

#[test]
fn a_pipe_hang_up_with_more_than_the_buffer_holds_is_no_end_of_file() {
    // Regression: the hang-up filled the buffer, then closed the stream as
    // if at end of file, so `read_until_close` returned the first
    // `max_buffer_size` bytes as the whole output.
    let mut child = std::process::Command::new("head")
        .args(["-c", "5000", "/dev/zero"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pipe = child.stdout.take().unwrap();
    assert!(child.wait().unwrap().success()); // the hang-up is pending
    run(|| async move {
        let options = StreamOptions::new().max_buffer_size(1000);
        let stdout = options.build(pipe).unwrap();
        // An idle stream: the loop polls (a sleep blocks in the poll, which
        // the pending hang-up ends at once) and dispatches the hang-up.
        ioloop::sleep(Duration::from_millis(1)).await;
        for _ in 0..5 {
            assert_eq!(stdout.read_bytes(1000, false).await.unwrap().len(), 1000);
        }
        assert_eq!(
            stdout.read_until_close().await.unwrap(),
            b"",
            "then the end"
        );
    });
    let mut child = std::process::Command::new("head")
        .args(["-c", "5000", "/dev/zero"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pipe = child.stdout.take().unwrap();
    assert!(child.wait().unwrap().success());
    run(|| async move {
        let options = StreamOptions::new().max_buffer_size(1000);
        let stdout = options.build(pipe).unwrap();
        ioloop::sleep(Duration::from_millis(1)).await;
        let err = stdout.read_until_close().await.unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::InvalidData,
            "too much, not truncated: {err}"
        );
    });
}

#[test]
fn fill_until_and_read_more_parse_in_place() {
    run(|| async {
        let (a, b) = pair();
        a.write(b"key: value\r\nnext").await.unwrap();
        let n = b.fill_until(b"\r\n", Some(64)).await.unwrap();
        assert_eq!(n, 12);
        let key = b.with_buffer(|buf| buf[..3].to_vec());
        assert_eq!(key, b"key");
        b.consume(n);
        assert_eq!(b.with_buffer(<[u8]>::to_vec), b"next");
        let sender = async {
            ioloop::sleep(Duration::from_millis(2)).await;
            a.write(b"!").await.unwrap();
        };
        let (more, ()) = futures::join!(b.read_more(), sender);
        assert_eq!(more.unwrap(), 5);
        assert_eq!(b.with_buffer(<[u8]>::to_vec), b"next!");
    });
}

#[test]
fn steady_traffic_reuses_the_read_buffer() {
    run(|| async {
        let (a, b) = pair();
        for i in 0..1000u32 {
            a.write(format!("request {i}\n").as_bytes()).await.unwrap();
            let line = b.read_until(b"\n", Some(64)).await.unwrap();
            assert_eq!(line, format!("request {i}\n").as_bytes());
            assert!(b.read_buffer_capacity() <= 4096);
        }
    });
}

#[test]
fn connect_errors_name_the_address() {
    let (_held, addr) = crate::util::refusing_addr();
    let err = run(|| IOStream::connect(addr)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

#[test]
fn tcp_streams_connect_and_talk_on_both_families() {
    for host in crate::util::loopbacks() {
        let listener = TcpListener::bind((host, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0; 4];
            s.read_exact(&mut buf).unwrap();
            s.write_all(&buf).unwrap();
        });
        run(|| async {
            let stream = IOStream::connect(addr).await.unwrap();
            stream.set_nodelay(true).unwrap();
            assert_eq!(stream.peer_addr().unwrap(), addr);
            stream.write(b"ping").await.unwrap();
            assert_eq!(stream.read_bytes(4, false).await.unwrap(), b"ping");
        });
        peer.join().unwrap();
    }
}

#[test]
fn dropping_the_last_handle_closes_the_descriptor() {
    run(|| async {
        let (a, mut b) = UnixStream::pair().unwrap();
        let stream = IOStream::new(a).unwrap();
        drop(stream);
        let mut buf = [0; 1];
        assert_eq!(b.read(&mut buf).unwrap(), 0, "the peer sees end of file");
    });
}

#[test]
fn a_regular_file_is_refused_with_an_error() {
    let _ioloop = crate::util::new_loop();
    let file = std::fs::File::open("/proc/self/status").unwrap();
    let err = IOStream::new(file).unwrap_err();
    assert!(err.to_string().contains("fd"), "{err}");
}

#[test]
fn a_half_close_stream_answers_a_peer_that_shut_down_its_sending_side() {
    run(|| async {
        let (client, server) = UnixStream::pair().unwrap();
        let server = StreamOptions::new().half_close(true).build(server).unwrap();
        (&client).write_all(b"request\n").unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        // The request is read, then end of file: the stream stays open.
        assert_eq!(server.read_until(b"\n", None).await.unwrap(), b"request\n");
        let err = server.read_bytes(1, true).await.unwrap_err();
        assert_eq!(closed_cause(&err), Some(ErrorKind::UnexpectedEof));
        assert!(!server.closed(), "half-closed, not closed");
        server.write(b"response\n").await.unwrap();
        server.close();
        let mut reply = String::new();
        (&client).read_to_string(&mut reply).unwrap();
        assert_eq!(reply, "response\n");
    });
}

#[test]
fn by_default_end_of_file_closes_the_stream() {
    run(|| async {
        let (client, server) = UnixStream::pair().unwrap();
        let server = IOStream::new(server).unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let err = server.read_bytes(1, true).await.unwrap_err();
        assert_eq!(closed_cause(&err), Some(ErrorKind::UnexpectedEof));
        assert!(server.closed(), "Tornado's rule: end of file closes");
    });
}

#[test]
fn regression_end_of_file_arriving_with_the_data_is_noticed() {
    // Data and FIN in one edge: a short read used to be taken as "drained",
    // and the end of file, reported by no further edge, was never seen (the
    // stream waited for its peer forever).
    run(|| async {
        for half_close in [false, true] {
            let (client, server) = UnixStream::pair().unwrap();
            let server = StreamOptions::new()
                .half_close(half_close)
                .build(server)
                .unwrap();
            (&client).write_all(b"request\n").unwrap();
            client.shutdown(std::net::Shutdown::Write).unwrap();
            ioloop::sleep(Duration::from_millis(20)).await; // both arrive before the read
            assert_eq!(server.read_until(b"\n", None).await.unwrap(), b"request\n");
            let eof = ioloop::timeout(Duration::from_secs(5), server.read_bytes(1, true))
                .await
                .expect("end of file noticed, not a hang")
                .unwrap_err();
            assert_eq!(closed_cause(&eof), Some(ErrorKind::UnexpectedEof));
        }
    });
}

#[test]
fn end_of_file_behind_data_is_noticed_over_tcp_whether_it_came_before_or_after_the_read() {
    // A short read ends the stream's reading until the next edge; the end of
    // file must still be seen both when it arrived with the data (reported
    // as READ_CLOSED with that edge) and when it arrives later (an edge of
    // its own).
    run(|| async {
        for fin_before_read in [true, false] {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let server = IOStream::new(listener.accept().unwrap().0).unwrap();
            client.write_all(b"one\n").unwrap();
            if fin_before_read {
                client.shutdown(std::net::Shutdown::Write).unwrap();
                ioloop::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(server.read_until(b"\n", None).await.unwrap(), b"one\n");
            if !fin_before_read {
                client.shutdown(std::net::Shutdown::Write).unwrap();
            }
            let eof = ioloop::timeout(Duration::from_secs(5), server.read_bytes(1, true))
                .await
                .expect("end of file noticed, not a hang")
                .unwrap_err();
            assert_eq!(
                closed_cause(&eof),
                Some(ErrorKind::UnexpectedEof),
                "{fin_before_read}"
            );
        }
    });
}
