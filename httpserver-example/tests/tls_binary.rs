//! The binary over TLS: `--tls-cert`/`--tls-key`, the `https://` line,
//! HTTPS to real clients with keep-alive and pipelining, hostile clients
//! closed without leaving a descriptor behind, graceful SIGTERM, and
//! start-up errors (status 2, one line, nothing listening) for bad
//! certificate files. Certificates are made at run time by `rcgen`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use netutil::tls::rustls::pki_types::ServerName;
use netutil::tls::rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

mod common;
use common::{BIN, ServerProcess};

/// The run's certificate files.
struct Certs {
    dir: PathBuf,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    other_key: PathBuf,
    roots: RootCertStore,
}

fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("httpserver-tls-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "test authority");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        let write = |name: &str, data: String| {
            let path = dir.join(name);
            std::fs::write(&path, data).unwrap();
            path
        };
        let mut roots = RootCertStore::empty();
        roots.add(ca.der().clone()).unwrap();
        Certs {
            ca: write("ca.pem", ca.pem()),
            cert: write("cert.pem", cert.pem()),
            key: write("key.pem", key.serialize_pem()),
            other_key: write(
                "other-key.pem",
                KeyPair::generate().unwrap().serialize_pem(),
            ),
            dir,
            roots,
        }
    })
}

fn tls_server() -> ServerProcess {
    let c = certs();
    ServerProcess::with_args(&[
        "--tls-cert",
        c.cert.to_str().unwrap(),
        "--tls-key",
        c.key.to_str().unwrap(),
    ])
}

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// A blocking rustls client connected to `addr`, handshake done; reads
/// time out after 10 s.
fn tls_connect(addr: SocketAddr) -> Tls {
    let mut config = ClientConfig::builder()
        .with_root_certificates(certs().roots.clone())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let conn = ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
        .unwrap();
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut tls = StreamOwned::new(conn, sock);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).unwrap();
    }
    assert_eq!(tls.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    tls
}

/// Everything until the server closes (a close without `close_notify`
/// would be an error here).
fn read_all(tls: &mut Tls) -> String {
    let mut out = String::new();
    tls.read_to_string(&mut out).unwrap();
    out
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

#[test]
fn it_prints_https_and_serves_curl() {
    let server = tls_server();
    let port = server.addr.port();
    let out = Command::new("timeout")
        .args([
            "20",
            "curl",
            "--silent",
            "--show-error",
            "--cacert",
            certs().ca.to_str().unwrap(),
            "--resolve",
            &format!("localhost:{port}:127.0.0.1"),
            &format!("https://localhost:{port}/"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello, World!");
}

#[test]
fn the_start_line_says_https() {
    let c = certs();
    let mut child = Command::new(BIN)
        .args(["--port", "0", "--tls-cert"])
        .arg(&c.cert)
        .arg("--tls-key")
        .arg(&c.key)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        line.starts_with("listening on https://127.0.0.1:"),
        "{line:?}"
    );
}

#[test]
fn keep_alive_and_pipelining_hold_over_tls() {
    let server = tls_server();
    let mut tls = tls_connect(server.addr);
    // One at a time on the same connection, then three pipelined.
    for _ in 0..2 {
        tls.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        let mut buf = [0; 4096];
        let n = tls.read(&mut buf).unwrap();
        let reply = String::from_utf8_lossy(&buf[..n]);
        assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
        assert!(reply.ends_with("Hello, World!"), "{reply}");
    }
    tls.write_all(
        b"GET / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n\
          GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let replies = read_all(&mut tls);
    assert_eq!(replies.matches("HTTP/1.1 200 OK").count(), 3, "{replies}");
}

#[test]
fn hostile_clients_are_closed_and_leave_no_descriptor_behind() {
    let server = tls_server();
    let (addr, pid) = (server.addr, server.child.id());
    let mut tls = tls_connect(addr);
    tls.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert!(read_all(&mut tls).starts_with("HTTP/1.1 200 OK"));
    drop(tls);
    let baseline = open_fds(pid);
    let plain = |bytes: &[u8], shutdown: bool| {
        let mut sock = TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        sock.write_all(bytes).unwrap();
        if shutdown {
            sock.shutdown(std::net::Shutdown::Write).unwrap();
        }
        let mut reply = Vec::new();
        // Closed by the server: an alert at most, then the end (or a reset).
        let _ = sock.read_to_end(&mut reply);
        assert!(reply.len() < 64, "{reply:?}");
    };
    // Plain HTTP on the TLS port.
    plain(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", false);
    // Garbage.
    plain(&[0xff; 300], false);
    // A handshake cut short.
    plain(
        &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc],
        true,
    );
    // A close_notify in the middle of a request.
    let mut tls = tls_connect(addr);
    tls.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").unwrap();
    tls.conn.send_close_notify();
    tls.flush().unwrap();
    let mut rest = Vec::new();
    let _ = tls.read_to_end(&mut rest);
    drop(tls);
    // Nothing else was affected.
    let mut tls = tls_connect(addr);
    tls.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert!(read_all(&mut tls).starts_with("HTTP/1.1 200 OK"));
    drop(tls);
    // Every connection's descriptor is released.
    let started = Instant::now();
    while open_fds(pid) > baseline {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{} descriptors open, {baseline} before",
            open_fds(pid)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The server's resident set in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn hostile_clients_leave_no_memory_behind() {
    let server = tls_server();
    let (addr, pid) = (server.addr, server.child.id());
    // One round: each kind of bad client, 25 times.
    let round = || {
        for _ in 0..25 {
            for bytes in [
                &b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"[..],
                &[0xff; 300],
                &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc],
            ] {
                let mut sock = TcpStream::connect(addr).unwrap();
                sock.set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                sock.write_all(bytes).unwrap();
                sock.shutdown(std::net::Shutdown::Write).unwrap();
                let _ = sock.read_to_end(&mut Vec::new());
            }
            let mut tls = tls_connect(addr);
            tls.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").unwrap();
            tls.conn.send_close_notify();
            tls.flush().unwrap();
            let _ = tls.read_to_end(&mut Vec::new());
        }
    };
    // Warm up: the allocator's arenas and the server's caches fill.
    round();
    round();
    let before = rss_kib(pid);
    for _ in 0..4 {
        round();
    }
    let after = rss_kib(pid);
    // 400 more bad connections: a leak of even 1 KiB each would show.
    assert!(
        after <= before + 256,
        "resident set grew from {before} KiB to {after} KiB over 400 bad connections"
    );
}

#[test]
fn a_client_that_never_finishes_its_handshake_is_closed_after_the_timeout() {
    let c = certs();
    let server = ServerProcess::with_args(&[
        "--tls-cert",
        c.cert.to_str().unwrap(),
        "--tls-key",
        c.key.to_str().unwrap(),
        "--tls-handshake-timeout",
        "0.3",
    ]);
    let pid = server.child.id();
    // A good connection first, so the baseline counts what the server keeps.
    let mut tls = tls_connect(server.addr);
    tls.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert!(read_all(&mut tls).starts_with("HTTP/1.1 200 OK"));
    drop(tls);
    let baseline = open_fds(pid);
    let mut silent = TcpStream::connect(server.addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Half a ClientHello, then nothing.
    silent.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00]).unwrap();
    let started = Instant::now();
    let mut reply = Vec::new();
    let _ = silent.read_to_end(&mut reply);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300),
        "closed early: {waited:?}"
    );
    assert!(waited < Duration::from_secs(8), "closed late: {waited:?}");
    assert!(reply.len() < 64, "nothing but an alert: {reply:?}");
    let started = Instant::now();
    while open_fds(pid) > baseline {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "descriptor kept"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigterm_finishes_a_tls_request_in_flight_and_exits_0() {
    let mut server = tls_server();
    let mut tls = tls_connect(server.addr);
    tls.write_all(b"GET /delay?ms=300 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    // Until the server has read the request (its receive queue is empty).
    let (client, peer) = (
        tls.sock.local_addr().unwrap(),
        tls.sock.peer_addr().unwrap(),
    );
    let started = Instant::now();
    while !server_has_read(peer, client) {
        assert!(started.elapsed() < Duration::from_secs(10), "never read");
        std::thread::sleep(Duration::from_millis(1));
    }
    let in_flight = std::thread::spawn(move || read_all(&mut tls));
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let code = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status.code();
        }
        assert!(started.elapsed() < Duration::from_secs(10), "did not exit");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(code, Some(0));
    let response = in_flight.join().unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.ends_with("done"), "{response}");
}

/// True once the server's end of the connection `server` ↔ `client` has
/// an empty receive queue (`/proc/net/tcp`, IPv4).
fn server_has_read(server: SocketAddr, client: SocketAddr) -> bool {
    let hex = |addr: SocketAddr| match addr {
        SocketAddr::V4(v4) => format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(v4.ip().octets()),
            v4.port()
        ),
        SocketAddr::V6(_) => unreachable!("IPv4 only"),
    };
    let (local, remote) = (hex(server), hex(client));
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table.lines().skip(1).any(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        f.len() > 4 && f[1] == local && f[2] == remote && f[4].split(':').nth(1) == Some("00000000")
    })
}

/// Runs the binary with `args` on port 0; returns (status, stdout, stderr).
fn start_up(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let out = Command::new("timeout")
        .args(["20", BIN, "--port", "0"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_start_up_error(args: &[&std::ffi::OsStr], expect: &[&str]) {
    let (code, stdout, stderr) = start_up(args);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stdout, "", "nothing listened");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    for e in expect {
        assert!(stderr.contains(e), "{e:?} in {stderr:?}");
    }
}

#[test]
fn a_missing_certificate_file_exits_2_before_listening() {
    let c = certs();
    let missing = c.dir.join("missing.pem");
    assert_start_up_error(
        &[
            "--tls-cert".as_ref(),
            missing.as_ref(),
            "--tls-key".as_ref(),
            c.key.as_ref(),
        ],
        &["missing.pem", "No such file"],
    );
}

#[test]
fn a_missing_key_file_exits_2_before_listening() {
    let c = certs();
    let missing = c.dir.join("missing-key.pem");
    assert_start_up_error(
        &[
            "--tls-cert".as_ref(),
            c.cert.as_ref(),
            "--tls-key".as_ref(),
            missing.as_ref(),
        ],
        &["missing-key.pem"],
    );
}

#[test]
fn a_key_that_does_not_match_exits_2_before_listening() {
    let c = certs();
    assert_start_up_error(
        &[
            "--tls-cert".as_ref(),
            c.cert.as_ref(),
            "--tls-key".as_ref(),
            c.other_key.as_ref(),
        ],
        &["other-key.pem", "does not match"],
    );
}

#[test]
fn a_file_that_is_not_pem_exits_2_before_listening() {
    let c = certs();
    let garbage = c.dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    assert_start_up_error(
        &[
            "--tls-cert".as_ref(),
            garbage.as_ref(),
            "--tls-key".as_ref(),
            c.key.as_ref(),
        ],
        &["garbage.pem", "no certificate"],
    );
}

#[test]
fn tls_cert_without_tls_key_is_refused() {
    let c = certs();
    let (code, stdout, stderr) = start_up(&["--tls-cert".as_ref(), c.cert.as_ref()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stdout, "");
    assert!(stderr.contains("--tls-key"), "{stderr}");
}

#[test]
fn limits_timeouts_and_the_access_log_hold_over_tls() {
    let c = certs();
    let log = c.dir.join(format!("access-{}.log", std::process::id()));
    let mut command = Command::new(BIN);
    command
        .args([
            "--port",
            "0",
            "--header-timeout",
            "0.5",
            "--max-header-bytes",
            "1024",
        ])
        .arg("--tls-cert")
        .arg(&c.cert)
        .arg("--tls-key")
        .arg(&c.key)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut child = command.spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let server = ServerProcess {
        addr: line
            .trim()
            .strip_prefix("listening on https://")
            .unwrap()
            .parse()
            .unwrap(),
        child,
    };
    // A head over --max-header-bytes: 431.
    let mut tls = tls_connect(server.addr);
    let big = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(2000)
    );
    tls.write_all(big.as_bytes()).unwrap();
    let reply = read_all(&mut tls);
    assert!(reply.starts_with("HTTP/1.1 431"), "{reply}");
    // A head that never ends: 408 after --header-timeout.
    let mut tls = tls_connect(server.addr);
    let started = Instant::now();
    tls.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").unwrap();
    let reply = read_all(&mut tls);
    let waited = started.elapsed();
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(waited >= Duration::from_millis(500), "{waited:?}");
    assert!(waited < Duration::from_secs(8), "{waited:?}");
    // A good request, in the access log.
    let mut tls = tls_connect(server.addr);
    tls.write_all(b"GET /?logged HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert!(read_all(&mut tls).starts_with("HTTP/1.1 200 OK"));
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap();
        if text.contains("GET /?logged") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no access log line: {text}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(server);
    let _ = std::fs::remove_file(&log);
}
