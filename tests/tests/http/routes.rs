//! The routes, and the headers every response carries.

use std::time::Instant;

use crate::util::{TestServer, exchange, get};

#[test]
fn get_root_says_hello_with_date_server_and_length() {
    let server = TestServer::default();
    let r = get(server.addr, "/");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Hello, World!");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("content-length"), Some("13"));
    assert!(r.header("server").unwrap().starts_with("netutil/"));
    let date = r.header("date").unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc2822(date).is_ok(),
        "an IMF-fixdate: {date}"
    );
}

#[test]
fn head_root_has_the_same_headers_and_no_body() {
    let server = TestServer::default();
    let r = exchange(
        server.addr,
        b"HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("13"));
    assert!(r.body.is_empty());
}

#[test]
fn post_echo_returns_a_content_length_body() {
    let server = TestServer::default();
    let r = exchange(
        server.addr,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/x-test\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hello world");
    assert_eq!(r.header("content-type"), Some("text/x-test"));
}

#[test]
fn post_echo_returns_a_chunked_body() {
    let server = TestServer::default();
    let r = exchange(
        server.addr,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hello world");
    assert_eq!(r.header("content-length"), Some("11"));
}

#[test]
fn a_large_echo_round_trips() {
    let server = TestServer::default();
    let body: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut raw = format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(&body);
    let r = exchange(server.addr, &raw).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body == body, "the echo differs");
}

#[test]
fn delay_answers_after_the_delay() {
    let server = TestServer::default();
    let started = Instant::now();
    let r = get(server.addr, "/delay?ms=120");
    assert!(started.elapsed().as_millis() >= 120);
    assert_eq!((r.status, r.text().as_str()), (200, "done"));
}

#[test]
fn stream_sends_chunks() {
    let server = TestServer::default();
    let r = get(server.addr, "/stream?chunks=4");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.text(), "chunk 1\nchunk 2\nchunk 3\nchunk 4\n");
}

#[test]
fn unknown_paths_are_404_and_wrong_methods_405_with_allow() {
    let server = TestServer::default();
    assert_eq!(get(server.addr, "/missing").status, 404);
    let r = exchange(
        server.addr,
        b"DELETE / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    let r = get(server.addr, "/echo");
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
}

#[test]
fn bad_query_parameters_are_400() {
    let server = TestServer::default();
    assert_eq!(get(server.addr, "/delay?ms=soon").status, 400);
    assert_eq!(get(server.addr, "/stream?chunks=999999999").status, 400);
}
