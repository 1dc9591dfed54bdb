//! Clients that push the server where it is weakest: long pipelined
//! bursts, large pipelined bodies, requests left incomplete, slow readers,
//! trickled bodies, a stalled loop, and bytes a lenient parser would let
//! through. Each is answered correctly, or refused quickly, and the
//! connection's resources stay bounded.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use netutil::http::HTTPServerOptions as Config;

use crate::util::{
    TestServer, closed_by_server, read_response, read_response_buffered, send_and_half_close,
};

/// The body of `GET /stream?chunks=n`.
fn stream_body(n: usize) -> Vec<u8> {
    (1..=n)
        .flat_map(|k| format!("chunk {k}\n").into_bytes())
        .collect()
}

/// A body of `len` bytes that is not one repeated byte.
fn patterned(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// An error shortened to its first line and 160 characters (the client's
/// errors quote what it had read, which may be megabytes).
fn short(err: &io::Error) -> String {
    let text = err.to_string();
    let line = text.lines().next().unwrap_or_default();
    line.chars().take(160).collect()
}

/// Writes `data` to `conn` on a thread of its own, so the client can read
/// while it writes (a large pipelined write would otherwise fill both
/// socket buffers and block).
fn write_in_background(conn: &TcpStream, data: Vec<u8>) -> JoinHandle<io::Result<()>> {
    let mut writer = conn.try_clone().expect("clone the client socket");
    std::thread::spawn(move || writer.write_all(&data))
}

/// A client connection whose receive buffer is `rcvbuf` bytes, set before
/// connecting so the window the server sees is that small.
fn connect_with_receive_buffer(addr: SocketAddr, rcvbuf: usize) -> TcpStream {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .unwrap();
    socket.set_recv_buffer_size(rcvbuf).unwrap();
    socket.connect(&addr.into()).unwrap();
    let conn: TcpStream = socket.into();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn
}

/// The receive buffer of the pipelining clients: over loopback the kernel
/// would otherwise take megabytes of a response at once, which a client
/// across a real network does not.
const CLIENT_RCVBUF: usize = 16 * 1024;

#[test]
fn seven_pipelined_streams_all_arrive_in_full() {
    let server = TestServer::default();
    let mut conn = connect_with_receive_buffer(server.addr, CLIENT_RCVBUF);
    let requests = "GET /stream?chunks=100000 HTTP/1.1\r\nHost: t\r\n\r\n".repeat(7);
    let writer = write_in_background(&conn, requests.into_bytes());
    let expected = stream_body(100_000);
    let mut buf = Vec::new();
    for i in 1..=7 {
        let r = read_response_buffered(&mut conn, "GET", &mut buf).unwrap_or_else(|e| {
            panic!(
                "pipelined GET /stream?chunks=100000: response {i} of 7 did not arrive whole: {}",
                short(&e)
            )
        });
        assert_eq!(r.status, 200, "response {i} of 7");
        assert!(
            r.body == expected,
            "response {i} of 7: a body of {} bytes, not the {} of 100000 chunks",
            r.body.len(),
            expected.len()
        );
    }
    writer.join().unwrap().expect("the requests were sent");
    server.assert_healthy();
}

#[test]
fn two_pipelined_large_echoes_both_come_back_whole() {
    const LEN: usize = 6 * 1024 * 1024;
    let server = TestServer::start(Config {
        max_body_bytes: 8 * 1024 * 1024,
        ..Config::default()
    });
    let mut conn = connect_with_receive_buffer(server.addr, CLIENT_RCVBUF);
    let body = patterned(LEN);
    let mut requests = Vec::with_capacity(2 * (LEN + 100));
    for _ in 0..2 {
        requests.extend_from_slice(
            format!("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {LEN}\r\n\r\n").as_bytes(),
        );
        requests.extend_from_slice(&body);
    }
    let writer = write_in_background(&conn, requests);
    let mut buf = Vec::new();
    for i in 1..=2 {
        let r = read_response_buffered(&mut conn, "POST", &mut buf).unwrap_or_else(|e| {
            panic!(
                "pipelined 6 MiB POST /echo: response {i} of 2 did not arrive whole: {}",
                short(&e)
            )
        });
        assert_eq!(r.status, 200, "response {i} of 2");
        assert!(
            r.body == body,
            "response {i} of 2: a body of {} bytes, not the {LEN} sent",
            r.body.len()
        );
    }
    writer.join().unwrap().expect("the requests were sent");
    server.assert_healthy();
}

/// A `GET /` followed by a `POST /echo` whose 3-byte body has only 2.
const GET_THEN_INCOMPLETE_POST: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\
POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxy";

#[test]
fn a_response_is_not_withheld_when_the_client_half_closes_mid_body() {
    let server = TestServer::default();
    let mut conn = server.connect();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    send_and_half_close(&mut conn, GET_THEN_INCOMPLETE_POST);
    let r = read_response(&mut conn, "GET").unwrap_or_else(|e| {
        panic!(
            "the complete GET / before an incomplete, half-closed POST was not answered within 5 s: {}",
            short(&e)
        )
    });
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Hello, World!");
    server.assert_healthy();
}

#[test]
fn a_response_is_not_withheld_while_the_next_body_is_arriving() {
    let server = TestServer::default();
    let mut conn = server.connect();
    conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    conn.write_all(GET_THEN_INCOMPLETE_POST).unwrap();
    let started = Instant::now();
    let r = read_response(&mut conn, "GET").unwrap_or_else(|e| {
        panic!(
            "the complete GET / was not answered within 2 s while the pipelined POST's body was incomplete ({:?}): {}",
            started.elapsed(),
            short(&e)
        )
    });
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Hello, World!");
    // The rest of the body completes the POST, answered on the same
    // connection.
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn.write_all(b"z").unwrap();
    let r = read_response(&mut conn, "POST").expect("the POST's echo");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "xyz");
    server.assert_healthy();
}

#[test]
fn a_slow_but_steady_reader_gets_the_whole_response() {
    // The idle timeout bounds how long a write may make no progress; a
    // reader taking 400 KB/s makes progress all along, so the response is
    // never cut short, however long it takes in all.
    const LEN: usize = 4 * 1024 * 1024;
    const RATE: f64 = 400_000.0; // bytes per second
    let server = TestServer::start(Config {
        idle_timeout: Duration::from_secs(2),
        ..Config::default()
    });
    let mut conn = connect_with_receive_buffer(server.addr, 16 * 1024);
    let body = patterned(LEN);
    let mut request =
        format!("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {LEN}\r\n\r\n").into_bytes();
    request.extend_from_slice(&body);
    let writer = write_in_background(&conn, request);

    // Read in small pieces at RATE, until the whole response is in or the
    // server closes.
    let mut received = Vec::with_capacity(LEN + 1024);
    let mut piece = [0u8; 4096];
    let started = Instant::now();
    let mut expected_len = None;
    let ended = loop {
        if expected_len.is_some_and(|n| received.len() >= n) {
            break None;
        }
        let due = Duration::from_secs_f64(received.len() as f64 / RATE);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        match conn.read(&mut piece) {
            Ok(0) => break Some("the server closed the connection".to_owned()),
            Ok(n) => received.extend_from_slice(&piece[..n]),
            Err(e) => break Some(format!("read error: {e}")),
        }
        if expected_len.is_none()
            && let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n")
        {
            let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
            assert!(head.starts_with("http/1.1 200"), "{head}");
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .expect("a content-length")
                .trim()
                .parse()
                .unwrap();
            expected_len = Some(end + 4 + length);
        }
    };
    let head_len = expected_len.map_or(0, |n| n - LEN);
    let got = received.len().saturating_sub(head_len);
    if let Some(reason) = ended {
        panic!(
            "a reader taking {RATE} bytes/s got {got} of {LEN} body bytes in {:?}: {reason}",
            started.elapsed()
        );
    }
    assert!(received[head_len..] == body[..], "the echoed body differs");
    writer.join().unwrap().expect("the request was sent");
    server.assert_healthy();
}

#[test]
fn a_trickled_body_is_cut_off() {
    // One byte every 1.5 s never lets the idle timeout (2 s) pass, but a
    // 1000-byte body at that rate would hold the connection for 25
    // minutes: the server ends it long before.
    let server = TestServer::start(Config {
        idle_timeout: Duration::from_secs(2),
        header_timeout: Duration::from_secs(2),
        ..Config::default()
    });
    let mut conn = server.connect();
    conn.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
        .unwrap();
    // Reading with a 1.5 s timeout paces the trickle, and sees the close.
    conn.set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let started = Instant::now();
    let mut sent = 0;
    let mut reply = Vec::new();
    let mut piece = [0u8; 1024];
    loop {
        match conn.read(&mut piece) {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(&piece[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break, // reset: closed too
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the connection is still open after {:?} of a body trickled at one byte per 1.5 s \
             ({sent} of 1000 bytes sent; idle timeout 2 s)",
            started.elapsed()
        );
        if conn.write_all(b"a").is_err() {
            break;
        }
        sent += 1;
    }
    assert!(sent < 1000, "the whole body was sent");
    if !reply.is_empty() {
        let text = String::from_utf8_lossy(&reply);
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    }
    server.assert_healthy();
}

#[test]
fn a_request_sent_while_the_loop_stalls_is_answered() {
    // The head arrived in time; only the server was late reading it.
    let server = TestServer::start(Config {
        header_timeout: Duration::from_secs(1),
        ..Config::default()
    });
    let mut conn = server.connect();
    let started = Instant::now();
    while server.connections() == 0 {
        assert!(started.elapsed() < Duration::from_secs(5), "never accepted");
        std::thread::sleep(Duration::from_millis(1));
    }
    server.stall_loop(Duration::from_secs(2));
    conn.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let r = read_response(&mut conn, "GET").unwrap_or_else(|e| {
        panic!(
            "a GET / sent within the 1 s header timeout, while the loop was blocked for 2 s, \
             was not answered: {}",
            short(&e)
        )
    });
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Hello, World!");
    server.assert_healthy();
}

/// Sends each request on a new connection; returns a description of every
/// one not answered with `status` and a close.
fn not_refused_with(server: &TestServer, status: u16, requests: &[&[u8]]) -> Vec<String> {
    let mut wrong = Vec::new();
    for raw in requests {
        let mut conn = server.connect();
        conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = conn.write_all(raw);
        let outcome = match read_response(&mut conn, "POST") {
            Ok(r) if r.status == status && closed_by_server(&mut conn) => continue,
            Ok(r) if r.status == status => "not closed after it".to_owned(),
            Ok(r) => format!("{} {:?}", r.status, r.text()),
            Err(e) => format!("no response within 2 s ({})", short(&e)),
        };
        wrong.push(format!("{:?}: {outcome}", String::from_utf8_lossy(raw)));
    }
    wrong
}

#[test]
fn lookalike_bytes_and_loose_framing_are_400() {
    let server = TestServer::default();
    let wrong = not_refused_with(
        &server,
        400,
        &[
            // Non-ASCII whitespace is not whitespace in a header value.
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\xc2\xa0\r\n\r\nabc",
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\xe3\x80\x80\r\n\r\n0\r\n\r\n",
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length:\xc2\x853\r\n\r\nabc",
            // A chunk size line is a hex number and optional extensions.
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3 junk\r\nabc\r\n0\r\n\r\n",
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3;\r\nabc\r\n0\r\n\r\n",
            // A trailer is a header field, not a request line.
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nGET / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: foo bar\r\n\r\n",
            b"GET /\xff HTTP/1.1\r\nHost: t\r\n\r\n",
        ],
    );
    assert!(
        wrong.is_empty(),
        "not refused with 400 and a close:\n{}",
        wrong.join("\n")
    );
    server.assert_healthy();
}

#[test]
fn a_chunk_larger_than_the_body_limit_is_413_before_its_data() {
    let server = TestServer::start(Config {
        max_body_bytes: 1024 * 1024,
        ..Config::default()
    });
    let wrong = not_refused_with(
        &server,
        413,
        &[b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nfffffff\r\n"],
    );
    assert!(
        wrong.is_empty(),
        "a chunk size of 0xfffffff over a 1 MiB limit, no data sent: {}",
        wrong.join("\n")
    );
    server.assert_healthy();
}

#[test]
fn an_http_1_0_stream_is_delimited_by_the_close_not_chunked() {
    let server = TestServer::default();
    let mut conn = server.connect();
    conn.write_all(b"GET /stream?chunks=3 HTTP/1.0\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw)
        .expect("the response, ended by a close");
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    assert!(
        head.starts_with("HTTP/1.") && head[8..].starts_with(" 200"),
        "{head}"
    );
    assert!(
        !head.to_ascii_lowercase().contains("transfer-encoding"),
        "an HTTP/1.0 client cannot decode a chunked body:\n{head}"
    );
    assert_eq!(body, "chunk 1\nchunk 2\nchunk 3\n", "{head}");
    server.assert_healthy();
}

#[test]
fn an_unknown_protocol_is_400_and_an_unknown_http_version_505() {
    let server = TestServer::default();
    // Bytes that are no request at all (a fixed pseudo-random sequence).
    let mut seed = 0x2545_f491_u32;
    let mut noise: Vec<u8> = (0..96)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed >> 24) as u8
        })
        .collect();
    noise.extend_from_slice(b"\r\n\r\n");
    let mut wrong = not_refused_with(&server, 400, &[b"GET / FOO/1.1\r\nHost: t\r\n\r\n", &noise]);
    wrong.extend(not_refused_with(
        &server,
        505,
        &[b"GET / HTTP/1.2\r\nHost: t\r\n\r\n"],
    ));
    assert!(wrong.is_empty(), "wrong status:\n{}", wrong.join("\n"));
    server.assert_healthy();
}
