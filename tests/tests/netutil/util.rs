//! Shared helpers for the netutil integration tests.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

use integration_tests::logs;
use ioloop::{IOLoop, MakeCurrent};

pub(crate) use integration_tests::TestLoop;

/// A fresh loop made current on this thread, whose callback panics fail
/// the test (see [`TestLoop`]).
pub(crate) fn new_loop() -> TestLoop {
    let ioloop = IOLoop::builder()
        .make_current(MakeCurrent::Always)
        .build()
        .or_else(|_| {
            IOLoop::clear_current();
            IOLoop::builder().make_current(MakeCurrent::Always).build()
        })
        .expect("loop");
    TestLoop::watch(ioloop)
}

/// The safety net of the helpers below: generous, so only a bug reaches it.
const LIMIT: Duration = Duration::from_secs(20);

/// `start` until `stop`, failing the test after 20 s.
pub(crate) fn start(ioloop: &IOLoop) {
    integration_tests::run_for_at_most(ioloop, LIMIT);
}

/// `run` until nothing referenced is left (child watchers included),
/// failing the test after 20 s.
pub(crate) fn run_until_idle(ioloop: &IOLoop) {
    integration_tests::with_time_limit(ioloop, LIMIT, || ioloop.run()).expect("run");
}

/// Runs `main` on a fresh loop, failing the test after 20 s (a safety
/// net, not a timing assertion).
pub(crate) fn run<F, Fut>(main: F) -> Fut::Output
where
    F: FnOnce() -> Fut,
    Fut: Future,
{
    let ioloop = new_loop();
    let out = ioloop
        .run_sync(main, Some(Duration::from_secs(20)))
        .expect("run_sync: timed out or stopped");
    ioloop.close(true).unwrap();
    out
}

/// True if this machine has an IPv6 loopback (tests for `::1` skip
/// otherwise, saying so).
pub(crate) fn has_ipv6() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        let ok = TcpListener::bind("[::1]:0").is_ok();
        if !ok {
            eprintln!("no IPv6 loopback here: skipping the ::1 cases");
        }
        ok
    })
}

/// True if `localhost` resolves to `::1` here (and `::1` works).
pub(crate) fn localhost_has_ipv6() -> bool {
    use std::net::ToSocketAddrs;
    has_ipv6()
        && ("localhost", 0)
            .to_socket_addrs()
            .is_ok_and(|mut addrs| addrs.any(|a| a.is_ipv6()))
}

/// The loopback addresses to test on: 127.0.0.1, and ::1 if present.
pub(crate) fn loopbacks() -> Vec<&'static str> {
    if has_ipv6() {
        vec!["127.0.0.1", "::1"]
    } else {
        vec!["127.0.0.1"]
    }
}

/// A scratch directory removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("netutil-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An address on 127.0.0.1 that refuses connections: a TCP socket bound
/// there but not listening. The socket holds the port for as long as the
/// caller keeps it, so no parallel test can take the port and accept.
pub(crate) fn refusing_addr() -> (socket2::Socket, SocketAddr) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    (socket, addr)
}

/// A host name whose lookup fails on this machine without asking any
/// name server: the empty label makes the C library refuse it before it
/// builds a query, so tests of resolution errors do not depend on (or
/// wait for) the machine's DNS.
pub(crate) const UNRESOLVABLE: &str = "no..such.invalid";

/// Starts capturing log records (idempotent).
pub(crate) fn capture_logs() {
    logs::capture();
}

/// The records this thread logged at `level` or more severe.
pub(crate) fn logged(level: log::Level) -> Vec<String> {
    let me = thread::current().id();
    logs::messages(|r| r.thread == me && r.level <= level)
}

#[allow(unsafe_code)]
pub(crate) mod sys {
    //! The tests' few raw system calls.

    use std::os::fd::RawFd;

    /// Whether `pid` is a child of this process that nobody has reaped
    /// (running or a zombie), asked with `waitid(WNOWAIT)`, which reaps
    /// nothing.
    pub(crate) fn is_unreaped_child(pid: u32) -> bool {
        // SAFETY: an all-zero siginfo_t is a valid value of this plain C
        // struct.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable siginfo_t for the call.
        let ret = unsafe {
            libc::waitid(
                libc::P_PID,
                pid,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        ret == 0
    }

    /// Sends `signal` to `pid`, panicking on failure.
    pub(crate) fn kill(pid: u32, signal: i32) {
        let pid = libc::pid_t::try_from(pid).expect("a pid");
        // SAFETY: kill takes plain integers.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill {pid}");
    }

    /// The `fcntl(F_GETFL)` and `fcntl(F_GETFD)` flags of `fd`.
    pub(crate) fn fd_flags(fd: RawFd) -> (i32, i32) {
        // SAFETY: fcntl with F_GETFL/F_GETFD only reads the flags of `fd`,
        // which the caller keeps open.
        unsafe {
            (
                libc::fcntl(fd, libc::F_GETFL),
                libc::fcntl(fd, libc::F_GETFD),
            )
        }
    }
}
