//! The header timeout (slowloris), the idle timeout, and slow readers.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use netutil::http::HTTPServerOptions as Config;

use crate::util::{TestServer, closed_by_server, read_response};

fn quick() -> Config {
    Config {
        header_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(300),
        ..Config::default()
    }
}

#[test]
fn an_incomplete_head_gets_408_after_the_header_timeout() {
    let server = TestServer::start(quick());
    // The stopwatch starts before the connection exists, so the server's
    // own timer, which starts later, bounds the wait from below.
    let started = Instant::now();
    let mut conn = server.connect();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").unwrap();
    let r = read_response(&mut conn, "GET").unwrap();
    assert_eq!(r.status, 408);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(closed_by_server(&mut conn));
}

#[test]
fn a_partial_head_pipelined_behind_a_request_gets_408() {
    // The first request is answered; the head begun behind it in the same
    // write is under the header deadline from then on.
    let server = TestServer::start(quick());
    // The stopwatch starts before the connection exists, so the server's
    // own timer, which starts later, bounds the wait from below.
    let started = Instant::now();
    let mut conn = server.connect();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHo")
        .unwrap();
    assert_eq!(read_response(&mut conn, "GET").unwrap().status, 200);
    let r = read_response(&mut conn, "GET").unwrap();
    assert_eq!(r.status, 408);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(closed_by_server(&mut conn));
}

#[test]
fn slowloris_trickling_is_cut_off_by_the_head_deadline() {
    // One byte every 100 ms: every read succeeds, but the head as a whole
    // takes longer than the 300 ms header timeout.
    let server = TestServer::start(quick());
    // The stopwatch starts before the connection exists, so the server's
    // own timer, which starts later, bounds the wait from below.
    let started = Instant::now();
    let mut conn = server.connect();
    let request = b"GET / HTTP/1.1\r\nHost: trickle\r\nX-Padding: aaaaaaaaaaaa\r\n\r\n";
    let mut cut_off = false;
    for byte in request.iter() {
        if conn.write_all(&[*byte]).is_err() {
            cut_off = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        if started.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    let mut rest = String::new();
    let _ = conn.read_to_string(&mut rest);
    assert!(
        cut_off || rest.starts_with("HTTP/1.1 408"),
        "the trickle was served: {rest:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    server.assert_healthy();
}

#[test]
fn a_connection_that_sends_nothing_is_closed() {
    let server = TestServer::start(quick());
    // The stopwatch starts before the connection exists, so the server's
    // own timer, which starts later, bounds the wait from below.
    let started = Instant::now();
    let mut conn = server.connect();
    assert!(closed_by_server(&mut conn));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let server = TestServer::start(quick());
    let mut conn = server.connect();
    // The server's idle timer starts once it has sent the response, which
    // is after the request was written: start the stopwatch before that,
    // not after reading the response (a busy client reads late).
    let started = Instant::now();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut conn, "GET").unwrap().status, 200);
    assert!(closed_by_server(&mut conn));
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_client_that_never_reads_its_responses_is_closed() {
    // Pipelining forever without reading: the server stops reading until
    // its writes drain, and closes when they make no progress for the
    // idle timeout, instead of buffering without bound.
    let server = TestServer::start(quick());
    let mut conn = server.connect();
    conn.set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let request = b"GET /stream?chunks=1000 HTTP/1.1\r\nHost: t\r\n\r\n".repeat(100);
    let started = Instant::now();
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(10) {
        match conn.write(&request) {
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(_) => {
                closed = true;
                break;
            }
        }
        if server.connections() == 0 {
            closed = true;
            break;
        }
    }
    assert!(closed, "the server kept a non-reading client open");
    server.assert_healthy();
}
