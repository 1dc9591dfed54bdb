//! The real binary: flags, the `listening on` line, graceful shutdown on
//! SIGTERM and SIGINT, worker processes, and a descriptor limit lower than
//! the number of clients. Every server is started on port 0 of 127.0.0.1
//! and killed by its PID when a test ends.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{BIN, ServerProcess};

impl ServerProcess {
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (bounded) for the process to exit; returns its status code.
    fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the server did not exit within {limit:?}");
    }

    /// The process's CPU time so far (user + system), from /proc.
    fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
    }
}

fn request(addr: SocketAddr, raw: &str) -> String {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(raw.as_bytes()).unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    response
}

fn get(addr: SocketAddr, path: &str) -> String {
    request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
    )
}

#[test]
fn help_describes_every_flag() {
    let output = Command::new(BIN).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--address",
        "--port",
        "--processes",
        "--max-header-bytes",
        "--max-body-bytes",
        "--header-timeout",
        "--idle-timeout",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}

#[test]
fn invalid_flags_are_refused_with_a_message() {
    for args in [
        &["--port", "70000"][..],
        &["--header-timeout", "-1"],
        &["--processes", "0"],
        &["--no-such-flag"],
    ] {
        let output = Command::new(BIN).args(args).output().unwrap();
        assert!(!output.status.success(), "{args:?} accepted");
        assert!(!output.stderr.is_empty(), "{args:?}: no message");
    }
}

#[test]
fn it_prints_its_address_and_serves() {
    let server = ServerProcess::with_args(&[]);
    assert_eq!(server.addr.ip().to_string(), "127.0.0.1");
    let response = get(server.addr, "/");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("Hello, World!"));
}

#[test]
fn an_empty_address_prints_every_listening_address() {
    // The same call the server makes tells how many sockets (IPv6, IPv4)
    // this machine binds for every interface.
    let families: Vec<bool> = netutil::bind_sockets(0, Some(""))
        .unwrap()
        .iter()
        .map(|l| l.local_addr().unwrap().is_ipv6())
        .collect();
    let mut command = Command::new(BIN);
    let mut child = command
        .args(["--port", "0", "--address", ""])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut server = ServerProcess {
        child,
        addr: "127.0.0.1:0".parse().unwrap(),
    };
    // Read the lines on a thread, so a missing line fails the test in
    // bounded time instead of blocking it.
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    for _ in &families {
        let line = lines
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("only {printed:?} printed; expected {families:?}"));
        let url = line.trim().strip_prefix("listening on http://");
        let addr: SocketAddr = url
            .unwrap_or_else(|| panic!("unexpected line {line:?}"))
            .parse()
            .unwrap();
        printed.push(addr);
    }
    assert_eq!(
        printed.iter().map(SocketAddr::is_ipv6).collect::<Vec<_>>(),
        families,
        "{printed:?}"
    );
    for addr in &printed {
        assert!(addr.ip().is_unspecified(), "{addr}");
        assert_eq!(addr.port(), printed[0].port());
        // Every printed address serves, through its family's loopback.
        let loopback: SocketAddr = if addr.is_ipv6() {
            format!("[::1]:{}", addr.port()).parse().unwrap()
        } else {
            format!("127.0.0.1:{}", addr.port()).parse().unwrap()
        };
        assert!(get(loopback, "/").ends_with("Hello, World!"), "{addr}");
    }
    server.signal("TERM");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn an_address_in_use_is_a_clear_error() {
    let server = ServerProcess::with_args(&[]);
    let port = server.addr.port().to_string();
    let output = Command::new(BIN).args(["--port", &port]).output().unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    // One line: the failure leaves nothing behind to warn about.
    assert_eq!(message.lines().count(), 1, "{message}");
}

fn graceful_shutdown_on(signal: &str) {
    let mut server = ServerProcess::with_args(&[]);
    let addr = server.addr;
    // A request in flight when the signal arrives: the server has read it.
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(b"GET /delay?ms=500 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    wait_until_server_read(&conn);
    let in_flight = std::thread::spawn(move || {
        let mut response = String::new();
        conn.read_to_string(&mut response).unwrap();
        response
    });
    let signalled = Instant::now();
    server.signal(signal);
    let code = server.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "exit status after {signal}");
    assert!(signalled.elapsed() < Duration::from_secs(5));
    let response = in_flight.join().unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.contains("Connection: close"), "{response}");
    assert!(response.ends_with("done"), "{response}");
    assert!(
        TcpStream::connect(addr).is_err(),
        "still accepting after exit"
    );
}

#[test]
fn sigterm_finishes_requests_in_flight_and_exits_0() {
    graceful_shutdown_on("TERM");
}

#[test]
fn sigint_finishes_requests_in_flight_and_exits_0() {
    graceful_shutdown_on("INT");
}

#[test]
fn worker_processes_share_the_socket_and_shut_down_together() {
    let mut server = ServerProcess::with_args(&["--processes", "2"]);
    let parent = server.child.id();
    let workers = Workers {
        parent,
        pids: wait_for_children(parent, 2),
    };
    // Both workers hold the socket the parent bound (and printed), and
    // each listens on a socket of its own on the same port, so the kernel
    // spreads connections over them: three listeners in all.
    let shared = listening_socket_inodes(server.addr)
        .into_iter()
        .find(|&inode| holds_socket(parent, inode))
        .expect("the parent holds the socket it bound");
    for &worker in &workers.pids {
        assert!(
            holds_socket(worker, shared),
            "worker {worker} does not hold socket {shared}"
        );
    }
    let started = Instant::now();
    while listening_socket_inodes(server.addr).len() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the workers did not each listen on a socket of their own: {:?}",
            listening_socket_inodes(server.addr)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    for _ in 0..10 {
        assert!(get(server.addr, "/").ends_with("Hello, World!"));
    }
    server.signal("TERM");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    // The workers ended with it.
    let started = Instant::now();
    while workers.pids.iter().any(|&pid| is_running(pid)) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "workers {:?} outlived the parent",
            workers.pids
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The supervising parent and its worker pids, killed (parent first, so it
/// restarts none) when dropped if still running, so a failing test leaves
/// no process behind.
struct Workers {
    parent: u32,
    pids: Vec<u32>,
}

impl Drop for Workers {
    fn drop(&mut self) {
        for &pid in std::iter::once(&self.parent).chain(&self.pids) {
            if is_running(pid) {
                signal(pid, "CONT");
                signal(pid, "KILL");
            }
        }
    }
}

/// Sends `signal` (a name, as `kill -NAME`) to `pid`.
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

/// The fields of `/proc/<pid>/stat` after the command name: the state
/// first, then the parent's pid.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = stat.rsplit(')').next()?;
    Some(after_name.split_whitespace().map(str::to_owned).collect())
}

/// True if `pid` exists and is not a zombie.
fn is_running(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().map(String::as_str) != Some("Z"))
}

/// Waits (bounded) until `parent` has `n` running children; their pids.
fn wait_for_children(parent: u32, n: usize) -> Vec<u32> {
    let started = Instant::now();
    loop {
        let children: Vec<u32> = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| {
                stat_fields(pid).is_some_and(|f| {
                    f.first().map(String::as_str) != Some("Z")
                        && f.get(1).map(String::as_str) == Some(&parent.to_string())
                })
            })
            .collect();
        if children.len() == n {
            return children;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{parent} has children {children:?}, not {n}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `addr` as `/proc/net/tcp` writes it (IPv4 only).
fn proc_net_addr(addr: SocketAddr) -> String {
    let SocketAddr::V4(v4) = addr else {
        panic!("{addr} is not IPv4");
    };
    format!(
        "{:08X}:{:04X}",
        u32::from_ne_bytes(v4.ip().octets()),
        v4.port()
    )
}

/// The fields of the `/proc/net/tcp` line whose local address is `local`
/// and whose remote address satisfies `remote`.
fn proc_net_tcp(local: SocketAddr, remote: impl Fn(&str) -> bool) -> Option<Vec<String>> {
    let local = proc_net_addr(local);
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        (fields.get(1) == Some(&local) && fields.get(2).is_some_and(|r| remote(r)))
            .then_some(fields)
    })
}

/// The inodes of the sockets listening on `addr`.
fn listening_socket_inodes(addr: SocketAddr) -> Vec<u64> {
    let local = proc_net_addr(addr);
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&"0A"))
                .then(|| fields[9].parse().ok())
                .flatten()
        })
        .collect()
}

/// True if one of `pid`'s descriptors is the socket with `inode`.
fn holds_socket(pid: u32, inode: u64) -> bool {
    let wanted = format!("socket:[{inode}]");
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .any(|target| target.to_str() == Some(wanted.as_str()))
}

/// Waits until the server has read everything `conn` sent: the receive
/// queue of the server's end of the connection is empty.
fn wait_until_server_read(conn: &TcpStream) {
    let (client, server) = (conn.local_addr().unwrap(), conn.peer_addr().unwrap());
    let client = proc_net_addr(client);
    let started = Instant::now();
    loop {
        let fields = proc_net_tcp(server, |remote| remote == client);
        let rx = fields.and_then(|f| {
            let rx = f.get(4)?.split(':').nth(1)?.to_owned();
            u64::from_str_radix(&rx, 16).ok()
        });
        if rx == Some(0) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the server never read the request"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn more_clients_than_descriptors_keeps_serving_without_spinning() {
    // Under `ulimit -n 40` the server runs out of descriptors with 60
    // clients connected: it must pause accepting (not spin a core),
    // keep serving the connections it has, and accept again as they close.
    let mut command = Command::new("sh");
    command.args([
        "-c",
        &format!("ulimit -n 40 && exec {BIN} --port 0 --idle-timeout 30"),
    ]);
    let server = ServerProcess::start(command);
    let mut clients: Vec<TcpStream> = (0..60)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    // Those accepted are served.
    std::thread::sleep(Duration::from_millis(300));
    let cpu_before = server.cpu_time();
    let wall = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    let cpu = server.cpu_time() - cpu_before;
    assert!(
        cpu < wall.elapsed() / 4,
        "{cpu:?} of CPU over {:?} while out of descriptors",
        wall.elapsed()
    );
    let mut served = 0;
    for conn in clients.iter_mut().take(20) {
        conn.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        conn.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut response = String::new();
        if conn.read_to_string(&mut response).is_ok() && response.ends_with("Hello, World!") {
            served += 1;
        }
    }
    assert!(served > 0, "none of the first clients was served");
    // Free descriptors: everyone else gets served, eventually.
    drop(clients);
    let started = Instant::now();
    loop {
        let response = std::panic::catch_unwind(|| get(server.addr, "/"));
        if matches!(&response, Ok(r) if r.ends_with("Hello, World!")) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never recovered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_unix_socket_serves_and_is_removed_at_exit() {
    use std::os::unix::net::UnixStream;
    let dir = std::env::temp_dir().join(format!("httpserver-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("http.sock");
    let mut child = Command::new(BIN)
        .arg("--unix-socket")
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the server");
    let pid = child.id();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), format!("listening on unix:{}", path.display()));
    let mut conn = UnixStream::connect(&path).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("Hello, World!"), "{response}");
    signal(pid, "TERM");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("the server did not exit on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status:?}");
    assert!(!path.exists(), "the socket file was left behind");
    let _ = std::fs::remove_dir_all(&dir);
}
