//! `fork_processes`, `task_id` and multi-process servers
//! (tornado-semantics §3.7; failure 7). A binary of its own
//! (`harness = false`): it forks, so it runs single-threaded.
//!
//! Each scenario runs its supervising parent in a process of its own
//! (forked here), since that parent ends with `exit`.

#![allow(unsafe_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ioloop::IOLoop;
use netutil::{IOStream, TCPServer, bind_sockets, fork_processes, task_id};

/// Runs `scenario` in a forked process; returns its pid. The process
/// exits with what `scenario` returns.
fn spawn(scenario: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: this test binary is single-threaded (no harness), so the
    // child may run arbitrary code.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(scenario)).unwrap_or(101);
        std::process::exit(code);
    }
    pid
}

/// Waits up to `limit` for `pid` to exit; its exit code (or 128 + signal).
fn wait(pid: libc::pid_t, limit: Duration) -> i32 {
    let start = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid place to write to.
        let ret = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(ret >= 0, "waitpid: {}", std::io::Error::last_os_error());
        if ret == pid {
            if libc::WIFEXITED(status) {
                return libc::WEXITSTATUS(status);
            }
            return 128 + libc::WTERMSIG(status);
        }
        if start.elapsed() > limit {
            kill(pid, libc::SIGKILL);
            panic!("process {pid} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn kill(pid: libc::pid_t, signal: i32) {
    // SAFETY: kill takes plain integers.
    unsafe { libc::kill(pid, signal) };
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netutil-fork-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn refuses_to_fork_with_a_loop_open() {
    let ioloop = IOLoop::new().unwrap();
    let err = fork_processes(2, None).unwrap_err();
    assert!(err.to_string().contains("IOLoop"), "{err}");
    assert_eq!(task_id(), None);
    ioloop.close(true).unwrap();
    drop(ioloop);
    assert_eq!(IOLoop::open_loops(), 0);
}

/// Tornado's test_multi_process: children 1 and 2 fail once and are
/// restarted with the same id and a new pid; the parent exits 0 when all
/// have exited cleanly.
fn restarts_failed_children_then_exits_cleanly() {
    let dir = temp_dir("restart");
    let d = dir.clone();
    let supervisor = spawn(move || {
        let id = fork_processes(3, Some(3)).expect("fork_processes");
        assert_eq!(task_id(), Some(id));
        let marker = d.join(format!("ran-{id}"));
        let first_run = !marker.exists();
        std::fs::write(d.join(format!("pid-{id}-{}", std::process::id())), b"").unwrap();
        if first_run {
            std::fs::write(&marker, b"").unwrap();
            if id > 0 {
                return id as i32 + 1; // 2 and 3: restarted
            }
        }
        0
    });
    assert_eq!(
        wait(supervisor, Duration::from_secs(20)),
        0,
        "the parent exits 0"
    );
    for id in 0..3 {
        let runs = pids_of(&dir, id);
        let expected = if id == 0 { 1 } else { 2 };
        assert_eq!(runs, expected, "task {id} ran {runs} times");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The number of distinct processes that ran task `id`.
fn pids_of(dir: &Path, id: usize) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(&format!("pid-{id}-")))
        .count()
}

fn gives_up_after_too_many_restarts() {
    let supervisor = spawn(|| match fork_processes(2, Some(1)) {
        Ok(_) => 1, // every child fails
        Err(err) => {
            assert_eq!(err.to_string(), "too many child restarts, giving up");
            42
        }
    });
    assert_eq!(wait(supervisor, Duration::from_secs(20)), 42);
}

/// Asks the server at `addr` for its pid, until `want` distinct pids
/// answered (bounded).
fn distinct_pids(addr: SocketAddr, want: usize) -> std::collections::HashSet<u32> {
    let mut pids = std::collections::HashSet::new();
    let start = Instant::now();
    for _ in 0..500 {
        if pids.len() >= want || start.elapsed() > Duration::from_secs(20) {
            break;
        }
        let Ok(mut conn) = TcpStream::connect(addr) else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = conn.write_all(b"pid?\n");
        let mut answer = String::new();
        if conn.read_to_string(&mut answer).is_ok()
            && let Ok(pid) = answer.trim().parse::<u32>()
        {
            pids.insert(pid);
        }
    }
    pids
}

/// A server answering with its process id.
fn pid_server() -> TCPServer {
    TCPServer::new(|stream: IOStream, _| async move {
        let _ = stream.read_until(b"\n", Some(64)).await;
        let _ = stream
            .write(format!("{}\n", std::process::id()).as_bytes())
            .await;
    })
}

/// bind_sockets → fork_processes → a loop per child → add_sockets; the
/// answers come from several processes; SIGTERM to the parent is
/// forwarded and the parent exits 0.
fn a_multi_process_server_answers_from_several_pids() {
    let listeners = bind_sockets(0, Some("127.0.0.1")).unwrap();
    let addr = listeners[0].local_addr().unwrap();
    let supervisor = spawn(move || {
        let _id = fork_processes(3, None).expect("fork_processes");
        let ioloop = IOLoop::new().unwrap();
        let server = pid_server();
        server.add_sockets(listeners).unwrap();
        ioloop.start().unwrap();
        0
    });
    let pids = distinct_pids(addr, 2);
    assert!(
        pids.len() >= 2,
        "answers from {} process(es): {pids:?}",
        pids.len()
    );
    assert!(
        !pids.contains(&(supervisor as u32)),
        "the parent does not serve"
    );
    kill(supervisor, libc::SIGTERM);
    assert_eq!(
        wait(supervisor, Duration::from_secs(20)),
        0,
        "the parent exits 0 after SIGTERM"
    );
}

/// The same with TCPServer::bind + start(n).
fn bind_and_start_fork_the_server() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let supervisor = spawn(move || {
        let server = pid_server();
        server.bind(port, Some("127.0.0.1")).expect("bind");
        // No loop exists before start: it forks first.
        server.start(2, None).expect("start");
        // In a child: add_sockets made the loop current.
        IOLoop::current().start().unwrap();
        0
    });
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let pids = distinct_pids(addr, 2);
    assert!(pids.len() >= 2, "answers from {pids:?}");
    kill(supervisor, libc::SIGTERM);
    assert_eq!(wait(supervisor, Duration::from_secs(20)), 0);
}

/// A keep-alive server answering each line with `"{task id} {pid}"`.
fn worker_server() -> TCPServer {
    TCPServer::new(|stream: IOStream, _| async move {
        while stream.read_until(b"\n", Some(64)).await.is_ok() {
            let id = task_id().expect("in a worker");
            let answer = format!("{id} {}\n", std::process::id());
            if stream.write(answer.as_bytes()).await.is_err() {
                break;
            }
        }
    })
}

/// Asks `conn` which worker holds it: (task id, pid). Bounded by the read
/// timeout set on `conn`.
fn ask(conn: &mut TcpStream) -> std::io::Result<(usize, libc::pid_t)> {
    conn.write_all(b"?\n")?;
    let mut answer = Vec::new();
    let mut byte = [0];
    while !answer.ends_with(b"\n") {
        if conn.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        answer.push(byte[0]);
    }
    let answer = String::from_utf8_lossy(&answer);
    let mut words = answer.split_whitespace().map(|w| w.parse().ok());
    match (words.next().flatten(), words.next().flatten()) {
        (Some(id), Some(pid)) => Ok((id, pid as libc::pid_t)),
        _ => Err(std::io::Error::other(format!("answer {answer:?}"))),
    }
}

/// Connects to `addr`, with bounded waits.
fn connect(addr: SocketAddr) -> TcpStream {
    let conn = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn
}

/// Ends a forked server on drop, even when an assertion failed: SIGTERM
/// to its supervisor (forwarded to the workers), then SIGKILL to every
/// worker seen.
struct ForkedServer {
    supervisor: libc::pid_t,
    workers: std::collections::HashSet<libc::pid_t>,
}

impl Drop for ForkedServer {
    fn drop(&mut self) {
        kill(self.supervisor, libc::SIGTERM);
        let code = wait(self.supervisor, Duration::from_secs(20));
        for &pid in &self.workers {
            kill(pid, libc::SIGKILL);
        }
        if !std::thread::panicking() {
            assert_eq!(code, 0, "the supervisor exits 0 after SIGTERM");
        }
    }
}

const BURST: usize = 64;
const BURST_ROUNDS: usize = 5;
/// At least this many of [`BURST`] connections for each of two workers:
/// an eighth, where an even spread gives each half.
const FAIR_SHARE: usize = 8;

/// Waits until both workers answered (they then accept on their own
/// sockets), then opens [`BURST`] keep-alive connections at once, only
/// then asks each which worker holds it, and closes them; per round, how
/// many each task id got.
fn bursts(server: &mut ForkedServer, addr: SocketAddr) -> Vec<[usize; 2]> {
    let start = Instant::now();
    let mut seen = [false; 2];
    while !(seen[0] && seen[1]) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "both workers answer within 20 s (seen: {seen:?})"
        );
        let (id, pid) = ask(&mut connect(addr)).expect("a worker answers");
        server.workers.insert(pid);
        seen[id] = true;
    }
    (0..BURST_ROUNDS)
        .map(|_| {
            let mut conns: Vec<TcpStream> = (0..BURST).map(|_| connect(addr)).collect();
            let mut counts = [0; 2];
            for conn in &mut conns {
                let (id, pid) = ask(conn).expect("every connection is served");
                server.workers.insert(pid);
                counts[id] += 1;
            }
            counts
        })
        .collect()
}

/// bind + start(2): a burst of keep-alive connections is spread over both
/// workers, in each of several rounds (with only the shared socket, one
/// worker often took nearly all of them).
fn start_spreads_a_burst_over_the_workers() {
    let server = worker_server();
    let addr = server.bind(0, Some("127.0.0.1")).expect("bind")[0];
    let supervisor = spawn(move || {
        server.start(2, None).expect("start");
        IOLoop::current().start().unwrap();
        0
    });
    let mut forked = ForkedServer {
        supervisor,
        workers: Default::default(),
    };
    let rounds = bursts(&mut forked, addr);
    println!("start(2), {BURST} connections per round, per worker: {rounds:?}");
    for counts in &rounds {
        assert!(
            counts.iter().all(|&n| n >= FAIR_SHARE),
            "each worker got at least {FAIR_SHARE} of {BURST} in every round: {rounds:?}"
        );
    }
}

/// The same for a caller who binds and forks itself: add_worker_sockets.
fn add_worker_sockets_spreads_a_burst_over_the_workers() {
    let listeners = netutil::BindOptions::new()
        .reuse_port(true)
        .bind(0, Some("127.0.0.1"))
        .unwrap();
    let addr = listeners[0].local_addr().unwrap();
    let supervisor = spawn(move || {
        fork_processes(2, None).expect("fork_processes");
        let ioloop = IOLoop::new().unwrap();
        let server = worker_server();
        server
            .add_worker_sockets(listeners, netutil::DEFAULT_BACKLOG)
            .unwrap();
        ioloop.start().unwrap();
        0
    });
    let mut forked = ForkedServer {
        supervisor,
        workers: Default::default(),
    };
    let rounds = bursts(&mut forked, addr);
    println!("add_worker_sockets, {BURST} connections per round, per worker: {rounds:?}");
    for counts in &rounds {
        assert!(
            counts.iter().all(|&n| n >= FAIR_SHARE),
            "each worker got at least {FAIR_SHARE} of {BURST} in every round: {rounds:?}"
        );
    }
}

fn main() {
    let tests: [(&str, fn()); 7] = [
        (
            "refuses_to_fork_with_a_loop_open",
            refuses_to_fork_with_a_loop_open,
        ),
        (
            "restarts_failed_children_then_exits_cleanly",
            restarts_failed_children_then_exits_cleanly,
        ),
        (
            "gives_up_after_too_many_restarts",
            gives_up_after_too_many_restarts,
        ),
        (
            "a_multi_process_server_answers_from_several_pids",
            a_multi_process_server_answers_from_several_pids,
        ),
        (
            "bind_and_start_fork_the_server",
            bind_and_start_fork_the_server,
        ),
        (
            "start_spreads_a_burst_over_the_workers",
            start_spreads_a_burst_over_the_workers,
        ),
        (
            "add_worker_sockets_spreads_a_burst_over_the_workers",
            add_worker_sockets_spreads_a_burst_over_the_workers,
        ),
    ];
    for (name, test) in tests {
        test();
        println!("test {name} ... ok");
    }
    println!("{} passed, 0 failed", tests.len());
}
