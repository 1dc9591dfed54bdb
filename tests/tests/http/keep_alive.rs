//! Persistent connections, pipelining, HTTP/1.0 and 100-continue.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::util::{
    TestServer, closed_by_server, read_response, read_response_buffered, send_and_half_close,
};

#[test]
fn http_1_1_keeps_the_connection_open_by_default() {
    let server = TestServer::default();
    let mut conn = server.connect();
    for _ in 0..5 {
        conn.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let r = read_response(&mut conn, "GET").unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("connection"), None);
    }
}

#[test]
fn pipelined_requests_are_answered_in_order_even_around_a_delay() {
    let server = TestServer::default();
    let mut conn = server.connect();
    conn.write_all(
        b"GET /delay?ms=100 HTTP/1.1\r\nHost: t\r\n\r\n\
          POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\none\
          GET /stream?chunks=2 HTTP/1.1\r\nHost: t\r\n\r\n\
          HEAD / HTTP/1.1\r\nHost: t\r\n\r\n\
          GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut buf = Vec::new();
    let bodies: Vec<String> = ["GET", "POST", "GET", "HEAD", "GET"]
        .iter()
        .map(|m| {
            read_response_buffered(&mut conn, m, &mut buf)
                .unwrap()
                .text()
        })
        .collect();
    assert_eq!(
        bodies,
        ["done", "one", "chunk 1\nchunk 2\n", "", "Hello, World!"]
    );
    assert!(closed_by_server(&mut conn));
}

#[test]
fn many_pipelined_requests_in_one_write() {
    let server = TestServer::default();
    let mut conn = server.connect();
    let request = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    conn.write_all(&request.repeat(200)).unwrap();
    let mut buf = Vec::new();
    for _ in 0..200 {
        let r = read_response_buffered(&mut conn, "GET", &mut buf).unwrap();
        assert_eq!(r.text(), "Hello, World!");
    }
}

#[test]
fn connection_close_is_honoured() {
    let server = TestServer::default();
    let mut conn = server.connect();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let r = read_response(&mut conn, "GET").unwrap();
    assert_eq!(r.header("connection"), Some("close"));
    assert!(closed_by_server(&mut conn));
}

#[test]
fn http_1_0_closes_unless_keep_alive_was_asked() {
    let server = TestServer::default();
    let mut conn = server.connect();
    conn.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let r = read_response(&mut conn, "GET").unwrap();
    assert_eq!(r.status, 200);
    assert!(closed_by_server(&mut conn));

    let mut conn = server.connect();
    for _ in 0..3 {
        conn.write_all(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap();
        let r = read_response(&mut conn, "GET").unwrap();
        assert_eq!(r.header("connection"), Some("keep-alive"));
    }
}

#[test]
fn expect_100_continue_is_answered_before_the_body() {
    let server = TestServer::default();
    let mut conn = server.connect();
    conn.write_all(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    // The client waits for "100 Continue" before sending the body.
    let mut interim = [0u8; 25];
    conn.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    conn.write_all(b"body").unwrap();
    let r = read_response(&mut conn, "POST").unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "body"));
}

#[test]
fn a_half_closed_client_still_gets_its_response() {
    let server = TestServer::default();
    let mut conn = server.connect();
    send_and_half_close(&mut conn, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = read_response(&mut conn, "GET").unwrap();
    assert_eq!(r.text(), "Hello, World!");
    assert!(closed_by_server(&mut conn));
}

#[test]
fn a_delay_does_not_block_other_connections() {
    let server = TestServer::default();
    let mut slow = server.connect();
    slow.write_all(b"GET /delay?ms=3000 HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    // While it waits, other connections are served promptly.
    let started = Instant::now();
    for _ in 0..20 {
        let mut fast = server.connect();
        fast.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut fast, "GET").unwrap().status, 200);
    }
    assert!(
        started.elapsed() < Duration::from_millis(3000),
        "served behind the delay: {:?}",
        started.elapsed()
    );
    assert_eq!(read_response(&mut slow, "GET").unwrap().text(), "done");
}

#[test]
fn a_body_the_handler_leaves_unread_is_skipped_before_the_next_request() {
    // The handler answers from the head alone; the server reads and drops
    // the body before it parses the next request on the connection.
    let server = TestServer::start_with(netutil::http::HTTPServerOptions::default(), || {
        |request: netutil::http::Request| {
            let path = request.path().to_owned();
            async move { netutil::http::Response::text(200, path) }
        }
    });
    let mut conn = server.connect();
    // A length-delimited body sent only after its response has arrived;
    // the body looks like a request, which must not be answered.
    conn.write_all(b"POST /first HTTP/1.1\r\nHost: t\r\nContent-Length: 33\r\n\r\n")
        .unwrap();
    let first = read_response(&mut conn, "POST").unwrap();
    assert_eq!((first.status, first.text().as_str()), (200, "/first"));
    conn.write_all(b"GET /inside HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    // A chunked body sent with its head, the next request right behind it.
    conn.write_all(
        b"GET /second HTTP/1.1\r\nHost: t\r\n\r\n\
          POST /third HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n0\r\n\r\n\
          GET /fourth HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let mut buf = Vec::new();
    for (method, path) in [("GET", "/second"), ("POST", "/third"), ("GET", "/fourth")] {
        let r = read_response_buffered(&mut conn, method, &mut buf).unwrap();
        assert_eq!((r.status, r.text().as_str()), (200, path));
    }
}
