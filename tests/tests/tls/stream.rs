//! TLS streams behave as plain ones: reads, writes, limits, close
//! callbacks and `StreamClosedError`; `start_tls` upgrades a plain stream
//! and refuses when it cannot.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use netutil::tls::{TlsError, TlsRole};
use netutil::{IOStream, StreamClosedError, TCPClient, TCPServer};

use crate::pki::pki;
use crate::util::{capture_logs, logged, run};

/// A TLS server on the current loop whose handler is `handler`; returns
/// its port.
fn serve<F, Fut>(handler: F) -> (TCPServer, u16)
where
    F: Fn(IOStream) -> Fut + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let server = TCPServer::new(move |stream, _| handler(stream));
    server.set_tls(Some(pki().server()));
    let port = server.listen(0, Some("127.0.0.1")).unwrap()[0].port();
    (server, port)
}

fn client() -> TCPClient {
    TCPClient::new().tls(pki().client())
}

#[test]
fn a_tls_stream_carries_lines_and_a_payload_larger_than_the_socket_buffers() {
    let payload: Vec<u8> = (0..(1 << 20)).map(|i| b'a' + (i % 26) as u8).collect();
    let expected: Vec<u8> = payload.to_ascii_uppercase();
    let got = run(|| async move {
        let (_server, port) = serve(|stream: IOStream| async move {
            assert!(stream.is_tls());
            while let Ok(line) = stream.read_until(b"\n", Some(2 << 20)).await {
                if stream.write(&line.to_ascii_uppercase()).await.is_err() {
                    break;
                }
            }
        });
        let stream = client().connect("localhost", port).await?;
        assert!(stream.is_tls());
        assert!(stream.tls_version().is_some());
        stream.write(b"hello\n").await?;
        let line = stream.read_until(b"\n", Some(1024)).await?;
        assert_eq!(line, b"HELLO\n");
        // Not awaited: the write buffer takes what the socket does not.
        drop(stream.write(&payload));
        drop(stream.write(b"\n"));
        let mut big = stream.read_bytes(payload.len(), false).await?;
        big.extend(stream.read_bytes(1, false).await?);
        io::Result::Ok(big)
    })
    .unwrap();
    assert_eq!(got.len(), expected.len() + 1);
    assert!(got[..expected.len()] == expected[..], "payload corrupted");
}

#[test]
fn start_tls_upgrades_a_plain_unix_stream_after_a_plain_exchange() {
    let (a, b) = UnixStream::pair().unwrap();
    let (server_side, client_side) = run(|| async move {
        let server = IOStream::new(a)?;
        let client = IOStream::new(b)?;
        // STARTTLS in the clear.
        client.write(b"STARTTLS\r\n").await?;
        assert_eq!(server.read_until(b"\r\n", Some(64)).await?, b"STARTTLS\r\n");
        server.write(b"GO\r\n").await?;
        assert_eq!(client.read_until(b"\r\n", Some(64)).await?, b"GO\r\n");
        let server_tls = pki().server().alpn_protocols([b"smtp"]);
        let client_tls = pki().client().alpn_protocols([b"smtp"]);
        let (server, client) = futures::future::join(
            server.start_tls(TlsRole::server(&server_tls)),
            client.start_tls(TlsRole::client(&client_tls, "localhost")),
        )
        .await;
        let (server, client) = (server?, client?);
        client.write(b"EHLO secret\r\n").await?;
        let line = server.read_until(b"\r\n", Some(64)).await?;
        server.write(b"250 ok\r\n").await?;
        let reply = client.read_until(b"\r\n", Some(64)).await?;
        assert_eq!(server.alpn_protocol().as_deref(), Some(&b"smtp"[..]));
        assert_eq!(server.tls_server_name().as_deref(), Some("localhost"));
        io::Result::Ok((line, reply))
    })
    .unwrap();
    assert_eq!(server_side, b"EHLO secret\r\n");
    assert_eq!(client_side, b"250 ok\r\n");
}

#[test]
fn start_tls_refuses_while_data_is_buffered() {
    let (a, mut b) = UnixStream::pair().unwrap();
    b.write_all(b"STARTTLS\r\nearly").unwrap();
    let err = run(|| async move {
        let stream = IOStream::new(a)?;
        stream.read_until(b"\r\n", Some(64)).await?;
        // Wait until the rest is buffered too.
        while stream.buffered() < 5 {
            stream.read_more().await?;
        }
        io::Result::Ok(stream.start_tls(TlsRole::server(&pki().server())).await)
    })
    .unwrap()
    .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("5 bytes are buffered"), "{err}");
}

#[test]
fn start_tls_refuses_while_a_read_is_pending() {
    let (a, _b) = UnixStream::pair().unwrap();
    let err = run(|| async move {
        let stream = IOStream::new(a)?;
        let reader = stream.clone();
        let pending = ioloop::IOLoop::current().spawn(async move {
            let _ = reader.read_bytes(1, false).await;
        });
        ioloop::yield_now().await;
        let result = stream.start_tls(TlsRole::server(&pki().server())).await;
        drop(pending);
        io::Result::Ok(result)
    })
    .unwrap()
    .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("a read is in progress"), "{err}");
}

#[test]
fn a_close_notify_is_end_of_file_and_runs_the_close_callback() {
    let closed = Rc::new(Cell::new(false));
    let seen = closed.clone();
    let err = run(|| async move {
        let (tx, rx) = futures::channel::oneshot::channel();
        let tx = Rc::new(Cell::new(Some(tx)));
        let (_server, port) = serve(move |stream: IOStream| {
            let tx = tx.clone();
            let seen = seen.clone();
            async move {
                stream.set_close_callback(move || seen.set(true));
                let result = stream.read_bytes(10, false).await;
                if let Some(tx) = tx.take() {
                    let _ = tx.send(result);
                }
            }
        });
        let stream = client().connect("localhost", port).await?;
        stream.write(b"abc").await?;
        stream.close(); // sends close_notify
        let result = rx.await.expect("the handler answers");
        ioloop::yield_now().await; // the close callback is a loop callback
        io::Result::Ok(result)
    })
    .unwrap()
    .unwrap_err();
    let closed_err = StreamClosedError::find(&err).expect("a stream-closed error");
    assert_eq!(
        closed_err.cause().unwrap().kind(),
        io::ErrorKind::UnexpectedEof
    );
    assert!(closed.get(), "the close callback ran");
}

#[test]
fn a_connection_cut_without_close_notify_says_so() {
    let err = run(|| async move {
        let (tx, rx) = futures::channel::oneshot::channel();
        let tx = Rc::new(Cell::new(Some(tx)));
        let (_server, port) = serve(move |stream: IOStream| {
            let tx = tx.clone();
            async move {
                let result = stream.read_bytes(10, false).await;
                if let Some(tx) = tx.take() {
                    let _ = tx.send(result);
                }
            }
        });
        let socket = TcpStream::connect(("127.0.0.1", port))?;
        let twin = socket.try_clone()?;
        let stream = IOStream::new(socket)?
            .start_tls(TlsRole::client(&pki().client(), "localhost"))
            .await?;
        stream.write(b"abc").await?;
        // Shut the socket down under the TLS session.
        twin.shutdown(std::net::Shutdown::Both)?;
        let result = rx.await.expect("the handler answers");
        drop(stream);
        io::Result::Ok(result)
    })
    .unwrap()
    .unwrap_err();
    let closed_err = StreamClosedError::find(&err).expect("a stream-closed error");
    let cause = closed_err.cause().unwrap();
    assert_eq!(cause.kind(), io::ErrorKind::UnexpectedEof);
    assert!(cause.to_string().contains("close_notify"), "{cause}");
}

#[test]
fn read_until_is_bounded_on_a_tls_stream() {
    let err = run(|| async move {
        let (tx, rx) = futures::channel::oneshot::channel();
        let tx = Rc::new(Cell::new(Some(tx)));
        let (_server, port) = serve(move |stream: IOStream| {
            let tx = tx.clone();
            async move {
                let result = stream.read_until(b"\n", Some(16)).await;
                if let Some(tx) = tx.take() {
                    let _ = tx.send(result);
                }
            }
        });
        let stream = client().connect("localhost", port).await?;
        stream.write(&[b'x'; 100]).await?;
        io::Result::Ok(rx.await.expect("the handler answers"))
    })
    .unwrap()
    .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(
        err.to_string().contains("not found within 16 bytes"),
        "{err}"
    );
}

/// Connects to `port` with a plain TCP socket with a 10 s read timeout.
fn plain_connect(port: u16) -> TcpStream {
    let socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    socket
}

/// Runs a TLS server with a `timeout` handshake limit on a loop thread
/// and `client` against it; returns how many connections reached the
/// handler and the server thread's debug log.
fn against_server(
    timeout: Duration,
    client: impl FnOnce(u16) + Send + 'static,
) -> (usize, Vec<String>) {
    capture_logs();
    let reached = Rc::new(Cell::new(0));
    let count = reached.clone();
    run(|| async move {
        let server = TCPServer::new(move |_stream, _| {
            count.set(count.get() + 1);
            async {}
        });
        server.set_tls(Some(pki().server().handshake_timeout(timeout)));
        let port = server.listen(0, Some("127.0.0.1")).unwrap()[0].port();
        let (tx, rx) = futures::channel::oneshot::channel();
        std::thread::spawn(move || {
            client(port);
            let _ = tx.send(());
        });
        // The server logs in the same step as it closes, before this
        // task hears from the client thread.
        rx.await.unwrap();
    });
    (reached.get(), logged(log::Level::Debug))
}

#[test]
fn a_silent_client_is_disconnected_after_the_handshake_timeout() {
    let (reached, logs) = against_server(Duration::from_millis(300), |port| {
        let mut socket = plain_connect(port);
        let started = Instant::now();
        let mut reply = Vec::new();
        socket.read_to_end(&mut reply).unwrap();
        let waited = started.elapsed();
        assert!(reply.len() < 64, "nothing but an alert: {reply:?}");
        assert!(
            waited >= Duration::from_millis(300),
            "closed early: {waited:?}"
        );
        assert!(waited < Duration::from_secs(10), "closed late: {waited:?}");
    });
    assert_eq!(reached, 0, "the handler never sees it");
    assert!(
        logs.iter()
            .any(|l| l.contains("tls handshake with 127.0.0.1:") && l.contains("timed out")),
        "{logs:?}"
    );
}

#[test]
fn plain_http_on_the_tls_port_is_closed_and_never_reaches_the_handler() {
    let (reached, logs) = against_server(Duration::from_secs(5), |port| {
        let mut socket = plain_connect(port);
        socket
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut reply = Vec::new();
        // An alert, then the end of the connection (or a reset).
        let _ = socket.read_to_end(&mut reply);
        assert!(reply.len() < 64, "no answer but an alert: {reply:?}");
    });
    assert_eq!(reached, 0);
    assert!(
        logs.iter()
            .any(|l| l.contains("tls handshake with 127.0.0.1:") && l.contains("failed")),
        "{logs:?}"
    );
}

#[test]
fn a_truncated_handshake_is_closed_and_never_reaches_the_handler() {
    let (reached, _) = against_server(Duration::from_secs(5), |port| {
        let mut socket = plain_connect(port);
        // The first bytes of a ClientHello record, then the end.
        socket
            .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
            .unwrap();
        socket.shutdown(std::net::Shutdown::Write).unwrap();
        let mut reply = Vec::new();
        let _ = socket.read_to_end(&mut reply);
    });
    assert_eq!(reached, 0);
}

#[test]
fn a_handshake_error_names_the_peer() {
    let err = TlsError::Timeout {
        peer: "example.com".into(),
        after: Duration::from_secs(1),
    };
    assert_eq!(err.peer(), "example.com");
    let io: io::Error = err.into();
    assert_eq!(io.kind(), io::ErrorKind::TimedOut);
    assert!(TlsError::find(&io).is_some());
}

#[test]
fn data_and_close_notify_arriving_together_are_both_seen() {
    use netutil::tls::rustls::{ClientConnection, pki_types::ServerName};
    let (a, mut b) = UnixStream::pair().unwrap();
    // A blocking rustls client on a thread: after the handshake it sends
    // data and its close_notify in one system call.
    let peer = std::thread::spawn(move || {
        let config = pki().client().config().clone();
        let name = ServerName::try_from("localhost").unwrap();
        let mut conn = ClientConnection::new(config, name).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut b).unwrap();
        }
        conn.writer().write_all(b"abc").unwrap();
        conn.send_close_notify();
        while conn.wants_write() {
            conn.write_tls(&mut b).unwrap();
        }
        b
    });
    let (data, err) = run(|| async move {
        let stream = IOStream::new(a)?
            .start_tls(TlsRole::server(&pki().server()))
            .await?;
        let limit = Duration::from_secs(5);
        let data = ioloop::timeout(limit, stream.read_bytes(3, false)).await??;
        let err = ioloop::timeout(limit, stream.read_bytes(1, false))
            .await?
            .unwrap_err();
        io::Result::Ok((data, err))
    })
    .unwrap();
    let _b = peer.join().unwrap();
    assert_eq!(data, b"abc");
    let closed = StreamClosedError::find(&err).expect("a stream-closed error");
    assert_eq!(closed.cause().unwrap().kind(), io::ErrorKind::UnexpectedEof);
}

#[test]
fn a_tls_server_on_a_unix_socket_serves_a_tls_client() {
    let dir = std::env::temp_dir().join(format!("netutil-tls-unix-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("server.sock");
    let reply = run(|| {
        let path = path.clone();
        async move {
            let server = TCPServer::new(|stream: IOStream, _| async move {
                if let Ok(line) = stream.read_until(b"\n", Some(64)).await {
                    let _ = stream.write(&line.to_ascii_uppercase()).await;
                }
            });
            server.set_tls(Some(pki().server()));
            server.add_sockets([std::os::unix::net::UnixListener::bind(&path)?])?;
            let stream = IOStream::connect_unix(&path)
                .await?
                .start_tls(TlsRole::client(&pki().client(), "localhost"))
                .await?;
            stream.write(b"over unix\n").await?;
            stream.read_until(b"\n", Some(64)).await
        }
    })
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(reply, b"OVER UNIX\n");
}

#[test]
fn a_tls_stream_reads_plaintext_through_async_read_into_a_large_buffer() {
    use futures::{AsyncReadExt, AsyncWriteExt};
    let got = run(|| async move {
        let (_server, port) = serve(|stream: IOStream| async move {
            while let Ok(line) = stream.read_until(b"\n", Some(1 << 20)).await {
                if stream.write(&line.to_ascii_uppercase()).await.is_err() {
                    break;
                }
            }
        });
        let mut stream = client().connect("localhost", port).await?;
        stream.write_all(b"through the traits\n").await?;
        // Large enough that a plain stream would read straight into it.
        let mut buf = vec![0; 64 * 1024];
        let mut got = Vec::new();
        while !got.ends_with(b"\n") {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        io::Result::Ok(got)
    })
    .unwrap();
    assert_eq!(got, b"THROUGH THE TRAITS\n");
}

/// The `futures-io` traits over TLS, as crates use them: the server is
/// `futures::io::copy` from each connection to itself, the client writes
/// lines, closes its sending side, and reads the echo back through
/// `AsyncBufReadExt::lines` to the end.
#[test]
fn copy_and_lines_over_tls() {
    use futures::{AsyncBufReadExt, AsyncWriteExt, TryStreamExt};
    let expected: Vec<String> = (0..20_000)
        .map(|i| format!("line {i} {}", "x".repeat(i % 97)))
        .collect();
    let sent = expected.clone();
    let got = run(|| async move {
        let (_server, port) = serve(|stream: IOStream| async move {
            assert!(stream.is_tls());
            let (mut from, mut to) = (stream.clone(), stream);
            if futures::io::copy(&mut from, &mut to).await.is_ok() {
                let _ = AsyncWriteExt::close(&mut to).await;
            }
        });
        let mut stream = client().connect("localhost", port).await?;
        let reader = netutil::AsyncIOStream::new(stream.clone());
        let read = ioloop::IOLoop::current()
            .spawn(async move { reader.lines().try_collect::<Vec<String>>().await });
        for line in &sent {
            stream.write_all(line.as_bytes()).await?;
            stream.write_all(b"\n").await?;
        }
        AsyncWriteExt::close(&mut stream).await?;
        read.await.expect("reader task")
    })
    .expect("echo over TLS");
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "lines differ");
}
