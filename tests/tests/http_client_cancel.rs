//! A cancelled `netutil::hyper::Client` fetch closes its connection and
//! leaks no descriptor. Alone in its binary, so that no other test opens
//! descriptors while it counts them.

use std::io::Read as _;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::mpsc;
use std::time::Duration;

use ioloop::IOLoop;
use netutil::hyper::{Client, Request};

/// The safety net of every wait: only a bug reaches it.
const LIMIT: Duration = Duration::from_secs(20);

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// A fetch dropped while it waits for the response closes its
/// connection: the server sees the end of file, and the process holds no
/// more descriptors than before.
#[test]
fn cancelled_fetch_closes_its_connection() {
    // A server that reads the request and never answers, on a thread of
    // its own, reporting when the client hangs up.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let (got_request, request_seen) = mpsc::channel();
    let (hung_up, hang_up_seen) = mpsc::channel();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(LIMIT)).unwrap();
        let mut buf = [0u8; 4096];
        let n = conn.read(&mut buf).unwrap();
        got_request.send(n).unwrap();
        // Until the client closes: 0 bytes, or an error on timeout.
        let eof = matches!(conn.read(&mut buf), Ok(0));
        hung_up.send(eof).unwrap();
    });
    let ioloop = IOLoop::new().expect("loop");
    let before = open_fds();
    let after = ioloop
        .run_sync(
            || async move {
                let client = Client::new();
                let fetch = client.fetch(Request::get(format!("http://{addr}/slow")));
                let cancelled = ioloop::timeout(Duration::from_millis(100), fetch).await;
                assert!(cancelled.is_err(), "the fetch cannot complete");
                // Let the loop run the connection task's teardown.
                for _ in 0..10 {
                    ioloop::yield_now().await;
                }
                open_fds()
            },
            Some(LIMIT),
        )
        .expect("run_sync");
    assert!(request_seen.recv_timeout(LIMIT).expect("request") > 0);
    assert!(
        hang_up_seen.recv_timeout(LIMIT).expect("hang-up"),
        "the client kept the connection open"
    );
    server.join().unwrap();
    // The listener, counted in `before`, is closed with the thread; the
    // client's socket must be closed too.
    assert_eq!(
        open_fds(),
        before - 1,
        "a descriptor leaked ({after} while running)"
    );
    ioloop.close(true).unwrap();
}
