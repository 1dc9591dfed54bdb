//! Memory per idle keep-alive connection: starts an HTTP server, opens N
//! connections to it on 127.0.0.1 (each sends one `GET /` and reads the
//! answer, then stays open and idle), and reports how much the server's
//! resident memory grew, per connection.
//!
//! ```text
//! cargo run --release -p benches --bin idle_memory -- [--connections N] -- SERVER_CMD [ARGS...]
//! ```
//!
//! The server gets a free port in the `PORT` environment variable, and
//! `{port}` in its arguments is replaced by it. It is killed (by its PID)
//! when the measurement ends. Bounded: at most 60 s of waiting in all.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let split = args
        .iter()
        .position(|a| a == "--")
        .expect("usage: [--connections N] -- SERVER_CMD");
    let mut connections = 10_000usize;
    let mut options = args[..split].iter();
    while let Some(option) = options.next() {
        match option.as_str() {
            "--connections" => {
                connections = options
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--connections N")
            }
            other => panic!("unknown option {other}"),
        }
    }
    let port = free_port();
    let command: Vec<String> = args[split + 1..]
        .iter()
        .map(|a| a.replace("{port}", &port.to_string()))
        .collect();
    let mut server = Command::new(&command[0])
        .args(&command[1..])
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    let deadline = Instant::now() + Duration::from_secs(60);
    let addr = ("127.0.0.1", port);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "the server never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Warm the server up with one connection, then measure.
    let mut held = Vec::with_capacity(connections + 1);
    let request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let open = |held: &mut Vec<TcpStream>| {
        let mut conn = TcpStream::connect(addr).expect("connect");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn.write_all(request).unwrap();
        let mut buf = [0u8; 1024];
        let mut got = Vec::new();
        while !got.windows(13).any(|w| w == b"Hello, World!") {
            let n = conn.read(&mut buf).expect("a response");
            assert!(n > 0, "the server closed a connection");
            got.extend_from_slice(&buf[..n]);
        }
        held.push(conn);
    };
    open(&mut held);
    std::thread::sleep(Duration::from_millis(200));
    let before = rss_kib(server.id());
    for _ in 0..connections {
        open(&mut held);
        assert!(Instant::now() < deadline, "too slow");
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_kib(server.id());
    let per = (after.saturating_sub(before) * 1024) as f64 / connections as f64;
    println!(
        "{}: {connections} idle connections, RSS {before} KiB -> {after} KiB, {per:.0} bytes per connection",
        command[0]
    );
    drop(held);
    let _ = server.kill();
    let _ = server.wait();
}
