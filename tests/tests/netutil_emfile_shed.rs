//! Shedding at the descriptor limit: when accepting pauses for lack of
//! descriptors (`EMFILE`), the server's hook runs once for the pause (not
//! on every failed retry) and can close the oldest connection, and the
//! waiting client is then accepted at once, not after the back-off. A
//! binary of its own (`harness = false`): it lowers the process's
//! descriptor limit.

#![allow(unsafe_code)]

mod fd_limit;
use fd_limit::{limit_leaving, set_fd_limit};

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ioloop::IOLoop;
use netutil::{IOStream, PAUSE_MIN, TCPServer};

/// Counts the accept retries that still found no descriptor.
struct Retries(AtomicUsize);

static RETRIES: Retries = Retries(AtomicUsize::new(0));

impl log::Log for Retries {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.target() == "netutil"
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.args().to_string().contains("still failing") {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn flush(&self) {}
}

fn retries() -> usize {
    RETRIES.0.load(Ordering::SeqCst)
}

/// How many descriptors can still be opened (counted by opening them).
fn free_descriptors() -> usize {
    let mut files = Vec::new();
    while files.len() < 100 {
        match std::fs::File::open("/dev/null") {
            Ok(file) => files.push(file),
            Err(e) if e.raw_os_error() == Some(libc::EMFILE) => break,
            Err(e) => panic!("open /dev/null: {e}"),
        }
    }
    files.len()
}

/// Descriptors left free for the server's connections (one more may be:
/// the listing of `/proc/self/fd` had one open).
const FREE: usize = 3;
/// Clients in all: the idle ones, then four that find no descriptor.
const CLIENTS: usize = FREE + 1 + 4;
/// Every wait is bounded by this: a bug fails, it does not hang.
const LIMIT: Duration = Duration::from_secs(5);

/// Waits (on the loop) until `cond` holds, for at most [`LIMIT`].
async fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < LIMIT, "timed out waiting for {what}");
        ioloop::sleep(Duration::from_millis(2)).await;
    }
}

fn main() {
    log::set_logger(&RETRIES).unwrap();
    log::set_max_level(log::LevelFilter::Debug);
    let ioloop = integration_tests::TestLoop::new();

    // The server's connections still open, oldest first, and all of them
    // in the order accepted; when each was accepted and when the hook ran,
    // on the loop's clock.
    let open: Rc<RefCell<VecDeque<IOStream>>> = Rc::default();
    let all: Rc<RefCell<Vec<IOStream>>> = Rc::default();
    let accepted_at: Rc<RefCell<Vec<f64>>> = Rc::default();
    let hook_at: Rc<RefCell<Vec<f64>>> = Rc::default();
    // Whether the hook closes the oldest connection.
    let shed = Rc::new(Cell::new(true));

    let (o, a, everyone) = (open.clone(), accepted_at.clone(), all.clone());
    let server = TCPServer::new(move |stream: IOStream, _| {
        a.borrow_mut().push(IOLoop::current().time());
        o.borrow_mut().push_back(stream.clone());
        everyone.borrow_mut().push(stream.clone());
        async move {
            let _ = stream.read_until_close().await; // idle keep-alive
        }
    });
    let (o, h, s) = (open.clone(), hook_at.clone(), shed.clone());
    server.set_descriptors_exhausted_callback(move || {
        h.borrow_mut().push(IOLoop::current().time());
        if s.get() {
            let oldest = o.borrow_mut().pop_front();
            if let Some(stream) = oldest {
                stream.close();
            }
        }
    });
    let addr: SocketAddr = server.listen(0, Some("127.0.0.1")).unwrap()[0];

    // The clients' descriptors exist before the limit drops.
    let sockets: Vec<socket2::Socket> = (0..CLIENTS)
        .map(|_| {
            let s =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    set_fd_limit(limit_leaving(FREE as u64));
    // The idle connections that fill the descriptors, then four clients.
    let idle = free_descriptors();
    assert!((FREE..=FREE + 1).contains(&idle), "{idle} descriptors free");
    let clients = idle + 4;

    let figures = ioloop
        .run_sync(
            || async move {
                // The clients stay open to the end, whatever the server
                // does: only the server's closes free descriptors.
                let mut next = sockets.iter();
                let mut connect = || {
                    let socket = next.next().expect("a client socket");
                    match socket.connect(&addr.into()) {
                        Ok(()) => {}
                        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
                        Err(e) => panic!("connect: {e}"),
                    }
                };
                // Whether the server closed its `i`-th connection.
                let finished = |i: usize| all.borrow()[i].closed();
                let accepted = || accepted_at.borrow().len();
                let hooked = || hook_at.borrow().len();
                // How long after the hook's `n`-th call connection `i` was
                // accepted, in seconds.
                let after_hook = |i: usize, n: usize| accepted_at.borrow()[i] - hook_at.borrow()[n];
                let prompt = PAUSE_MIN.as_secs_f64();

                // 1. Idle keep-alive connections take every descriptor.
                for i in 0..idle {
                    connect();
                    wait_for("an idle connection", || accepted() == i + 1).await;
                }
                assert_eq!(hooked(), 0, "no call while nobody waits");

                // 2. One more client: accepting pauses, the hook closes the
                //    oldest connection, and the client is accepted at once.
                connect();
                wait_for("the hook", || hooked() == 1).await;
                wait_for("the waiting client", || accepted() == idle + 1).await;
                let first = after_hook(idle, 0);
                assert!(
                    first < prompt,
                    "accepted {first:.3} s after the hook, not before the first retry ({prompt} s)"
                );
                assert!(finished(0), "the oldest connection was closed");
                assert!(!finished(1) && !finished(2));

                // 3. Two clients at once: one call per pause, each shedding
                //    one connection; both accepted at once.
                connect();
                connect();
                wait_for("both clients", || accepted() == idle + 3).await;
                assert_eq!(
                    hooked(),
                    3,
                    "one call for each client that found no descriptor"
                );
                let (second, third) = (after_hook(idle + 1, 1), after_hook(idle + 2, 2));
                assert!(
                    second < prompt && third < prompt,
                    "{second:.3} s, {third:.3} s"
                );
                assert!(finished(1) && finished(2), "the next oldest were closed");
                assert!((idle..idle + 3).all(|i| !finished(i)));

                // 4. A hook that frees nothing: called once for the pause,
                //    not again on each retry that fails.
                shed.set(false);
                let retries_before = retries();
                connect();
                wait_for("the hook", || hooked() == 4).await;
                wait_for("three failed retries", || retries() >= retries_before + 3).await;
                assert_eq!(hooked(), 4, "one call for the pause, none per retry");
                assert_eq!(accepted(), idle + 3);
                assert!(server.is_paused());

                // 5. A connection closed later, outside the hook, resumes
                //    accepting at once too (not at the back-off's retry).
                let closed_at = IOLoop::current().time();
                let oldest = open.borrow_mut().pop_front().expect("a connection");
                oldest.close();
                wait_for("the last client", || accepted() == clients).await;
                let last = accepted_at.borrow()[clients - 1] - closed_at;
                assert!(last < prompt, "accepted {last:.3} s after the close");
                assert_eq!(hooked(), 4);
                assert!(!server.is_paused());
                server.stop();
                [first, second, third, last]
            },
            Some(Duration::from_secs(60)),
        )
        .expect("run_sync");
    ioloop.check();
    let ms = figures.map(|s| format!("{:.1} ms", s * 1e3));
    println!(
        "emfile shed: 4 hook calls for 4 pauses; accepted {}, {}, {} after the hook and {} after a close",
        ms[0], ms[1], ms[2], ms[3]
    );
    println!("1 passed, 0 failed");
}
