//! The real binary under clients that test its resource bounds: its
//! resident memory under a pipelined burst and after a large body, and
//! who gets served when descriptors run out. Every server is started on
//! port 0 of 127.0.0.1 and killed by its PID when a test ends; a server
//! whose memory passes a test's bound is killed at once, so a failing test
//! cannot exhaust the machine.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod common;
use common::{BIN, ServerProcess};

const MIB: u64 = 1024 * 1024;

impl ServerProcess {
    /// The process's resident memory, in bytes.
    fn rss(&self) -> u64 {
        rss_of(self.child.id()).expect("the server is running")
    }

    /// The resident memory once `settled` holds for it, polled for up to
    /// 5 s (memory is given back just after a response is written); the
    /// last reading if it never does.
    fn rss_once(&self, settled: impl Fn(u64) -> bool) -> u64 {
        let started = Instant::now();
        let mut rss = self.rss();
        while !settled(rss) && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
            rss = self.rss();
        }
        rss
    }

    /// Connects with read and write timeouts.
    fn connect(&self) -> TcpStream {
        let conn = TcpStream::connect(self.addr).expect("connect");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn.set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn
    }
}

/// `VmRSS` of `pid` in bytes, from `/proc/<pid>/status`.
fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Samples a process's resident memory every few milliseconds on a thread
/// of its own, and kills the process (SIGKILL by its PID) the moment it
/// passes `limit`.
struct RssWatch {
    peak: Arc<AtomicU64>,
    killed: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    limit: u64,
}

impl RssWatch {
    fn start(pid: u32, limit: u64) -> RssWatch {
        let peak = Arc::new(AtomicU64::new(0));
        let killed = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, k, s) = (peak.clone(), killed.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let Some(rss) = rss_of(pid) else { return };
                p.fetch_max(rss, Ordering::SeqCst);
                if rss > limit {
                    let _ = Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status();
                    k.store(true, Ordering::SeqCst);
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        RssWatch {
            peak,
            killed,
            stop,
            thread: Some(thread),
            limit,
        }
    }

    /// Fails the test if the process passed the limit.
    fn assert_within(&self, what: &str) {
        assert!(
            !self.killed.load(Ordering::SeqCst),
            "{what}: the server's resident memory passed {} MiB (peak seen {:.1} MiB); \
             it was killed",
            self.limit / MIB,
            self.peak.load(Ordering::SeqCst) as f64 / MIB as f64
        );
    }
}

impl Drop for RssWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `GET /` with `Connection: close` on a new connection; the whole
/// response, or the error that ended it.
fn get_root(addr: SocketAddr, timeout: Duration) -> io::Result<String> {
    let mut conn = TcpStream::connect(addr)?;
    conn.set_read_timeout(Some(timeout))?;
    conn.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    conn.read_to_string(&mut response)?;
    Ok(response)
}

/// Reads one response whose body has a `Content-Length`; its body.
fn read_sized_response(conn: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut piece = [0u8; 64 * 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            if !head.starts_with("http/1.1 200") {
                return Err(io::Error::other(format!("unexpected response: {head}")));
            }
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| io::Error::other(format!("no content-length: {head}")))?;
            while buf.len() < end + 4 + length {
                let n = conn.read(&mut piece)?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&piece[..n]);
            }
            return Ok(buf.split_off(end + 4));
        }
        let n = conn.read(&mut piece)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&piece[..n]);
    }
}

#[test]
fn a_pipelined_burst_read_slowly_keeps_memory_bounded() {
    // One connection asks for 1,400 responses of 1.7 MB each (2.4 GB) in
    // 130 KB of requests, then reads nothing: the server must produce
    // responses as the client takes them, not all at once.
    const LIMIT: u64 = 128 * MIB;
    let server = ServerProcess::with_args(&[]);
    let watch = RssWatch::start(server.child.id(), LIMIT);
    let conn = server.connect();
    let mut burst = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Pad: {}\r\n\r\n",
        "p".repeat(60_000)
    )
    .into_bytes();
    for _ in 0..1400 {
        burst.extend_from_slice(b"GET /stream?chunks=100000 HTTP/1.1\r\nHost: t\r\n\r\n");
    }
    let mut writer = conn.try_clone().unwrap();
    let sending = std::thread::spawn(move || writer.write_all(&burst));
    // Read nothing for 2 s.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(2) && !watch.killed.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(10));
    }
    watch.assert_within("2 s after a burst of 1,400 pipelined GET /stream?chunks=100000");
    // The client goes away; the server goes on serving others.
    conn.shutdown(Shutdown::Both).unwrap();
    drop(conn);
    let _ = sending.join();
    let response = get_root(server.addr, Duration::from_secs(5));
    watch.assert_within("after the bursting client left");
    let response = response.unwrap_or_else(|e| {
        panic!("GET / after the bursting client left: no answer within 5 s ({e})")
    });
    assert!(response.ends_with("Hello, World!"), "{response}");
    assert!(
        server.rss() < LIMIT,
        "{} MiB resident after the client left",
        server.rss() / MIB
    );
}

#[test]
fn an_idle_connection_after_a_large_echo_gives_its_memory_back() {
    const LEN: usize = 8 * 1024 * 1024;
    let server = ServerProcess::with_args(&["--max-body-bytes", "16777216"]);
    let watch = RssWatch::start(server.child.id(), 512 * MIB);
    let mut conn = server.connect();
    let echo = |conn: &mut TcpStream, body: &[u8]| {
        let mut request = format!(
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        // The server answers only once it has the whole body, so writing
        // everything before reading cannot deadlock.
        conn.write_all(&request).unwrap();
        let echoed = read_sized_response(conn).expect("the echo");
        assert!(echoed == body, "the echoed body differs");
    };
    // A small exchange first, so the baseline includes what any
    // connection costs.
    echo(&mut conn, b"warm up");
    let before = server.rss();
    let body: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
    echo(&mut conn, &body);
    // Idle now (kept alive): the server gives the connection's buffers
    // back as it starts waiting for the next request, just after writing
    // the response.
    let after = server.rss_once(|rss| rss.saturating_sub(before) < 2 * MIB);
    watch.assert_within("the 8 MiB echo");
    let grown = after.saturating_sub(before);
    assert!(
        grown < 2 * MIB,
        "an idle keep-alive connection still holds {:.1} MiB 5 s after one 8 MiB echo \
         (resident {:.1} MiB before, {:.1} MiB after)",
        grown as f64 / MIB as f64,
        before as f64 / MIB as f64,
        after as f64 / MIB as f64
    );
    // The connection is still usable.
    echo(&mut conn, b"again");
}

#[test]
fn idle_keep_alive_connections_give_their_buffers_back() {
    // A quick burst of connections that each make one request and stay
    // open. Each gives its buffers back as it goes idle, for the next one
    // to take, so what the server keeps per idle connection is its
    // bookkeeping (under 4 KiB), not a read buffer and an output buffer
    // (4 KiB each, both written to; freed memory is not given back to the
    // system, so buffers held at once count even after they are freed).
    const CONNS: u64 = 400;
    const PER_CONNECTION_MAX: u64 = 6 * 1024;
    let server = ServerProcess::with_args(&[]);
    let request = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    let mut warm = server.connect();
    warm.write_all(request).unwrap();
    read_sized_response(&mut warm).expect("the warm-up response");
    let before = server.rss();
    let mut idle = Vec::new();
    for _ in 0..CONNS {
        let mut conn = server.connect();
        conn.write_all(request).unwrap();
        read_sized_response(&mut conn).expect("a response");
        idle.push(conn);
    }
    let per_connection = |rss: u64| rss.saturating_sub(before) / CONNS;
    let held = per_connection(server.rss_once(|rss| per_connection(rss) <= PER_CONNECTION_MAX));
    assert!(
        held <= PER_CONNECTION_MAX,
        "{CONNS} idle keep-alive connections cost {held} bytes each after 5 s \
         (at most {PER_CONNECTION_MAX} expected)"
    );
    // They are still open and served.
    let conn = &mut idle[0];
    conn.write_all(request).unwrap();
    read_sized_response(conn).expect("a response after idling");
}

#[test]
fn at_the_descriptor_limit_the_oldest_idle_connection_makes_room() {
    // With `ulimit -n 64`, idle keep-alive connections use up the
    // descriptors. A new client must still be served promptly: the server
    // closes its oldest idle connection instead of leaving the newcomer
    // waiting for an idle timeout (30 s here).
    let mut command = Command::new("sh");
    command.args([
        "-c",
        &format!("ulimit -n 64 && exec {BIN} --port 0 --idle-timeout 30"),
    ]);
    let server = ServerProcess::start(command);
    let request = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    // Fill: each connection makes one request and stays open, until one
    // is not answered (accept stalled) or well past the limit.
    let mut idle: Vec<TcpStream> = Vec::new();
    let mut stalled = None;
    for _ in 0..100 {
        let mut conn = TcpStream::connect(server.addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        conn.write_all(request).unwrap();
        let mut response = [0u8; 1024];
        match conn.read(&mut response) {
            Ok(n) if n > 0 => idle.push(conn),
            _ => {
                stalled = Some(conn);
                break;
            }
        }
    }
    assert!(
        idle.len() > 10,
        "only {} connections served before the first stall",
        idle.len()
    );
    // A newcomer.
    let started = Instant::now();
    let mut newcomer = TcpStream::connect(server.addr).unwrap();
    newcomer
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    newcomer
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    let read = newcomer.read_to_string(&mut response);
    assert!(
        read.is_ok() && response.ends_with("Hello, World!"),
        "a new client was not served within 3 s ({:?}: {read:?}, {response:?}) with {} idle \
         keep-alive connections holding the descriptors{}",
        started.elapsed(),
        idle.len(),
        if stalled.is_some() {
            " (accepting had stalled)"
        } else {
            ""
        }
    );
    // The oldest idle connection was the one closed.
    let oldest = &mut idle[0];
    oldest
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut rest = [0u8; 16];
    let read = oldest.read(&mut rest);
    assert!(
        matches!(&read, Ok(0))
            || read
                .as_ref()
                .is_err_and(|e| e.kind() == io::ErrorKind::ConnectionReset),
        "the oldest idle connection is still open ({read:?})"
    );
    // The newest still works.
    let newest = idle.last_mut().unwrap();
    newest
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    newest.write_all(request).unwrap();
    let mut response = [0u8; 1024];
    let n = newest
        .read(&mut response)
        .expect("the newest connection answers");
    assert!(
        response[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&response[..n])
    );
}
