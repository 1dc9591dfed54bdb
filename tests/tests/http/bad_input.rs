//! Bad input gets a status and a close, never a panic or a hang (and no
//! request smuggling).

use std::io::Write;

use netutil::http::HTTPServerOptions as Config;

use crate::util::{TestServer, closed_by_server, exchange, read_response};

/// Sends `raw`, expects `status` and a closed connection.
fn refused(server: &TestServer, raw: &[u8], status: u16) {
    let mut conn = server.connect();
    conn.write_all(raw).unwrap();
    let r = read_response(&mut conn, "GET")
        .unwrap_or_else(|e| panic!("no response to {:?}: {e}", String::from_utf8_lossy(raw)));
    assert_eq!(r.status, status, "{:?}", String::from_utf8_lossy(raw));
    assert_eq!(r.header("connection"), Some("close"));
    assert!(closed_by_server(&mut conn), "closed after {status}");
}

#[test]
fn malformed_requests_are_400() {
    let server = TestServer::default();
    for raw in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET /\x01 HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\n folded: value\r\n\r\n",
    ] {
        refused(&server, raw, 400);
    }
    server.assert_healthy();
}

#[test]
fn ambiguous_framing_is_400_no_smuggling() {
    let server = TestServer::default();
    for raw in [
        &b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"[..],
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3x\r\n\r\nabc",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -3\r\n\r\nabc",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\nabc",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ] {
        refused(&server, raw, 400);
    }
    server.assert_healthy();
}

#[test]
fn a_smuggled_second_request_is_never_answered() {
    // Classic CL.TE: if the server believed Content-Length it would answer
    // the hidden GET /missing; it refuses the whole message instead.
    let server = TestServer::default();
    let mut conn = server.connect();
    conn.write_all(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /missing HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let r = read_response(&mut conn, "POST").unwrap();
    assert_eq!(r.status, 400);
    assert!(closed_by_server(&mut conn), "nothing after the refusal");
}

#[test]
fn a_header_block_over_the_limit_is_431() {
    let server = TestServer::start(Config {
        max_header_bytes: 1024,
        ..Config::default()
    });
    let raw = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(2000)
    );
    refused(&server, raw.as_bytes(), 431);
    // Also while it is still arriving, without its end.
    let raw = format!("GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}", "a".repeat(2000));
    refused(&server, raw.as_bytes(), 431);
    server.assert_healthy();
}

#[test]
fn a_body_over_the_limit_is_413() {
    let server = TestServer::start(Config {
        max_body_bytes: 100,
        ..Config::default()
    });
    refused(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n",
        413,
    );
    let mut chunked =
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        chunked.extend_from_slice(b"40\r\n");
        chunked.extend_from_slice(&[b'x'; 64]);
        chunked.extend_from_slice(b"\r\n");
    }
    refused(&server, &chunked, 413);
    // A body at the limit is fine.
    let mut ok =
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\nConnection: close\r\n\r\n"
            .to_vec();
    ok.extend_from_slice(&[b'y'; 100]);
    assert_eq!(exchange(server.addr, &ok).unwrap().body.len(), 100);
}

#[test]
fn unsupported_versions_and_expectations() {
    let server = TestServer::default();
    refused(&server, b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505);
    refused(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx",
        417,
    );
}
