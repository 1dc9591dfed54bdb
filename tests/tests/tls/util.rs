//! Shared helpers: loops with a time limit, servers on a loop thread for
//! the external clients, and running those clients with a time limit.

use std::cell::RefCell;
use std::future::Future;
use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use integration_tests::{TestLoop, logs};
use ioloop::{IOLoop, LoopThread, MakeCurrent};
use netutil::http::{HTTPServer, HTTPServerOptions};

use crate::pki::pki;

/// The safety net of every wait here: generous, so only a bug reaches it.
pub(crate) const LIMIT: Duration = Duration::from_secs(20);

/// Runs `main` on a fresh loop, failing the test after 20 s.
pub(crate) fn run<F, Fut>(main: F) -> Fut::Output
where
    F: FnOnce() -> Fut,
    Fut: Future,
{
    let ioloop = IOLoop::builder()
        .make_current(MakeCurrent::Always)
        .build()
        .or_else(|_| {
            IOLoop::clear_current();
            IOLoop::builder().make_current(MakeCurrent::Always).build()
        })
        .expect("loop");
    let ioloop = TestLoop::watch(ioloop);
    let out = ioloop
        .run_sync(main, Some(LIMIT))
        .expect("run_sync: timed out or stopped");
    ioloop.close(true).unwrap();
    out
}

/// Starts capturing log records (idempotent).
pub(crate) fn capture_logs() {
    logs::capture();
}

/// The records this thread logged at `level` or more severe.
pub(crate) fn logged(level: log::Level) -> Vec<String> {
    let me = thread::current().id();
    logs::messages(|r| r.thread == me && r.level <= level)
}

thread_local! {
    static KEEP: RefCell<Vec<Box<dyn std::any::Any>>> = const { RefCell::new(Vec::new()) };
}

/// A server on its own loop thread, listening on 127.0.0.1; stopped when
/// dropped.
pub(crate) struct ServerThread {
    pub(crate) addr: SocketAddr,
    _thread: LoopThread,
}

impl ServerThread {
    /// The example's HTTP server over TLS (ALPN `http/1.1`).
    pub(crate) fn https() -> ServerThread {
        ServerThread::start(|| {
            let server = HTTPServer::new(httpserver_example::handle, HTTPServerOptions::default());
            server.set_tls(Some(pki().server().alpn_protocols([b"http/1.1"])));
            let addr = server.listen(0, Some("127.0.0.1")).expect("listen")[0];
            (addr, Box::new(server))
        })
    }

    fn start<F>(make: F) -> ServerThread
    where
        F: FnOnce() -> (SocketAddr, Box<dyn std::any::Any>) + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        let thread = LoopThread::spawn_with("tls-test", move |_| {
            let (addr, keep) = make();
            KEEP.with(|k| k.borrow_mut().push(keep));
            tx.send(addr).unwrap();
        })
        .expect("loop thread");
        let addr = rx.recv_timeout(LIMIT).expect("server address");
        ServerThread {
            addr,
            _thread: thread,
        }
    }
}

/// Runs `command` with `stdin` as its input, killed after 20 s (the
/// `timeout` utility), and returns its output.
pub(crate) fn run_client(command: &mut Command, stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("{command:?}: {err}"));
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// `timeout 20 program`: a client that hangs is killed.
pub(crate) fn bounded(program: &str) -> Command {
    let mut command = Command::new("timeout");
    command.arg("20").arg(program);
    command
}
