//! The real binary: flags, the `listening on` line, graceful shutdown on
//! SIGTERM and SIGINT, worker processes, and a descriptor limit lower than
//! the number of clients. Every server is started on port 0 of 127.0.0.1
//! and killed by its PID when a test ends.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_httpserver-example");

/// A server process, killed (by PID) when dropped if still running.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    /// Starts `command` (which runs the binary) and waits for its
    /// `listening on` line.
    fn start(mut command: Command) -> ServerProcess {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the server");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        ServerProcess {
            addr: url.parse().unwrap(),
            child,
        }
    }

    fn with_args(args: &[&str]) -> ServerProcess {
        let mut command = Command::new(BIN);
        command.args(["--port", "0"]).args(args);
        ServerProcess::start(command)
    }

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

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
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
fn an_address_in_use_is_a_clear_error() {
    let server = ServerProcess::with_args(&[]);
    let port = server.addr.port().to_string();
    let output = Command::new(BIN).args(["--port", &port]).output().unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
}

fn graceful_shutdown_on(signal: &str) {
    let mut server = ServerProcess::with_args(&[]);
    let addr = server.addr;
    // A request in flight when the signal arrives.
    let in_flight = std::thread::spawn(move || get(addr, "/delay?ms=500"));
    std::thread::sleep(Duration::from_millis(100));
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
    for _ in 0..20 {
        assert!(get(server.addr, "/").ends_with("Hello, World!"));
    }
    server.signal("TERM");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
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
