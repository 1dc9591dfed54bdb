//! The `hyper_server` example as a user runs it: it prints its URL, answers
//! `GET /`, and on SIGTERM closes its idle connections and exits with
//! status 0 well within its grace period.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Builds the example (a no-op when `cargo test` already has) and returns
/// the path of its executable, as cargo reports it.
fn example_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "build",
            "-p",
            "netutil",
            "--features",
            "hyper",
            "--example",
            "hyper_server",
            "--message-format=json",
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build");
    assert!(output.status.success(), "cargo build of the example failed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .filter(|line| line.contains("\"name\":\"hyper_server\""))
        .find_map(|line| {
            let at = line.find("\"executable\":\"")? + "\"executable\":\"".len();
            let end = at + line[at..].find('"')?;
            Some(PathBuf::from(&line[at..end]))
        })
        .expect("cargo names the example's executable")
}

/// Kills the server if the test fails before it exits.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn sigterm_closes_idle_connections_and_exits_zero() {
    let mut child = Command::new(example_binary())
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the example");
    let stdout = child.stdout.take().unwrap();
    let mut server = Server(child);
    // Kept open until the end: the example prints more lines, and a
    // closed pipe would fail its prints.
    let mut lines = BufReader::new(stdout);
    let mut first = String::new();
    lines.read_line(&mut first).unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on http://")
        .and_then(|rest| rest.strip_suffix('/'))
        .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
        .to_owned();

    let mut conn = TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    let mut buf = [0; 1024];
    while !response.ends_with(b"Hello, World!") {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the response");
        response.extend_from_slice(&buf[..n]);
    }
    assert!(response.starts_with(b"HTTP/1.1 200 OK\r\n"));

    // The connection is now idle and kept alive.
    let signalled = Instant::now();
    let sent = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success());
    let eof = conn
        .read(&mut buf)
        .expect("the server closes the idle connection");
    assert_eq!(eof, 0, "no more bytes, then the close");
    // Promptly: not at the end of the 10 s grace period.
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "the idle connection was closed only after {:?}",
        signalled.elapsed()
    );
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(5),
            "still running after SIGTERM (the grace period is 10 s)"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status}");
    drop(lines);
}
