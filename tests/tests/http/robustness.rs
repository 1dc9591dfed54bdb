//! The server survives what real clients do: resets mid-request, many
//! idle connections, abrupt disconnects during large responses.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::util::{TestServer, read_response, wait_until_server_read};

/// Closes `conn` with a reset (RST) instead of an orderly FIN.
fn reset(conn: TcpStream) {
    socket2::SockRef::from(&conn)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(conn);
}

/// Waits (bounded) until the server has at most `n` connections.
fn wait_for_connections_at_most(server: &TestServer, n: usize) {
    let started = Instant::now();
    while server.connections() > n {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{} connections still open",
            server.connections()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn clients_resetting_mid_request_are_cleaned_up() {
    let server = TestServer::default();
    for partial in [
        &b"GET / HTTP/1.1\r\nHo"[..],
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nhalf",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
    ] {
        let mut conn = server.connect();
        conn.write_all(partial).unwrap();
        // Mid-request: the server has read the part sent.
        wait_until_server_read(&conn);
        reset(conn);
    }
    wait_for_connections_at_most(&server, 0);
    server.assert_healthy();
}

#[test]
fn a_reset_during_a_large_response_is_cleaned_up() {
    let server = TestServer::default();
    let mut conn = server.connect();
    conn.write_all(b"GET /stream?chunks=100000 HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 1024];
    conn.read_exact(&mut first).unwrap();
    reset(conn);
    wait_for_connections_at_most(&server, 0);
    server.assert_healthy();
}

#[test]
fn a_thousand_idle_connections_are_held_while_others_are_served() {
    let server = TestServer::default();
    let mut idle = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let mut conn = server.connect();
        conn.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut conn, "GET").unwrap().status, 200);
        idle.push(conn);
    }
    assert!(server.connections() >= 1000);
    let started = Instant::now();
    for _ in 0..50 {
        server.assert_healthy();
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    // The idle ones still work.
    for conn in idle.iter_mut().step_by(100) {
        conn.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(conn, "GET").unwrap().status, 200);
    }
    drop(idle);
    wait_for_connections_at_most(&server, 0);
}

#[test]
fn clients_vanishing_in_every_state_leave_no_connection_behind() {
    let server = TestServer::default();
    for i in 0..100 {
        let mut conn = server.connect();
        match i % 4 {
            0 => {}
            1 => conn
                .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap(),
            2 => conn
                .write_all(b"GET /delay?ms=50 HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap(),
            _ => conn
                .write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\nabc")
                .unwrap(),
        }
        if i % 2 == 0 {
            reset(conn);
        } else {
            drop(conn);
        }
    }
    // Connections with nothing pending close when the peer's end of file
    // arrives; a /delay finishes first.
    wait_for_connections_at_most(&server, 0);
    server.assert_healthy();
}
