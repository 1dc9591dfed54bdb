//! Real TLS clients over loopback: `openssl s_client`, `curl --cacert` and
//! Python's `ssl` module against the example's HTTP server with TLS.

use std::process::Command;

use crate::pki::pki;
use crate::util::{ServerThread, bounded, run_client};

const GET_CLOSE: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

#[test]
fn openssl_s_client_verifies_and_gets_a_response() {
    let server = ServerThread::https();
    let out = run_client(
        bounded("openssl").args([
            "s_client",
            "-connect",
            &server.addr.to_string(),
            "-servername",
            "localhost",
            "-verify_hostname",
            "localhost",
            "-CAfile",
            pki().ca.to_str().unwrap(),
            "-verify_return_error",
            "-alpn",
            "http/1.1",
            "-ign_eof",
        ]),
        GET_CLOSE,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("Verify return code: 0 (ok)"), "{stdout}");
    assert!(stdout.contains("ALPN protocol: http/1.1"), "{stdout}");
    assert!(stdout.contains("HTTP/1.1 200 OK"), "{stdout}");
    assert!(stdout.contains("Hello, World!"), "{stdout}");
}

#[test]
fn openssl_s_client_speaks_tls_1_2_too() {
    let server = ServerThread::https();
    let out = run_client(
        bounded("openssl").args([
            "s_client",
            "-connect",
            &server.addr.to_string(),
            "-CAfile",
            pki().ca.to_str().unwrap(),
            "-verify_return_error",
            "-tls1_2",
            "-ign_eof",
        ]),
        GET_CLOSE,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("Protocol  : TLSv1.2"), "{stdout}");
    assert!(stdout.contains("Hello, World!"), "{stdout}");
}

#[test]
fn curl_with_the_ca_keeps_one_connection_for_two_requests() {
    let server = ServerThread::https();
    let port = server.addr.port();
    let url = format!("https://localhost:{port}/");
    let out = run_client(
        bounded("curl").args([
            "--silent",
            "--show-error",
            "--cacert",
            pki().ca.to_str().unwrap(),
            "--resolve",
            &format!("localhost:{port}:127.0.0.1"),
            "--write-out",
            " [%{http_code} %{http_version} connects=%{num_connects}]\n",
            &url,
            &url,
        ]),
        b"",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout, "Hello, World! [200 1.1 connects=1]\nHello, World! [200 1.1 connects=0]\n",
        "two responses over one kept-alive connection"
    );
}

#[test]
fn curl_without_the_ca_refuses_the_server() {
    let server = ServerThread::https();
    let port = server.addr.port();
    let out = run_client(
        bounded("curl")
            .args([
                "--silent",
                "--show-error",
                "--resolve",
                &format!("localhost:{port}:127.0.0.1"),
                &format!("https://localhost:{port}/"),
            ])
            // Only an empty trust store: the test authority is unknown.
            .env("CURL_CA_BUNDLE", pki().dir.join("no-such-bundle.pem")),
        b"",
    );
    assert!(!out.status.success());
    // The server is still there for a client that trusts it.
    let out = run_client(
        bounded("curl").args([
            "--silent",
            "--cacert",
            pki().ca.to_str().unwrap(),
            "--resolve",
            &format!("localhost:{port}:127.0.0.1"),
            &format!("https://localhost:{port}/"),
        ]),
        b"",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello, World!");
}

/// A Python script: pipelined requests, then a `close_notify` sent in the
/// middle of a request, then a fresh connection that must still be served.
const PYTHON: &str = r#"
import socket, ssl, sys, time
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
ctx.set_alpn_protocols(["http/1.1"])

def connect():
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")

def read_all(s):
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ssl.SSLEOFError:
            print("no close_notify")
            break
        if not chunk:
            break
        data += chunk
    return data

s = connect()
print("alpn", s.selected_alpn_protocol())
print("version", s.version())
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 2
          + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = read_all(s)
print("responses", data.count(b"HTTP/1.1 200 OK"))
s.close()

s = connect()
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
started = time.monotonic()
try:
    s.unwrap()  # close_notify mid-request; waits for the server's
    outcome = "closed"
except ssl.SSLError as e:
    # TLS 1.3 lets the server answer the half-closed request first.
    outcome = "answered" if "APPLICATION_DATA_AFTER_CLOSE_NOTIFY" in str(e) else repr(e)
# Well before the server's 10 s header timeout.
print("after close_notify", outcome in ("closed", "answered"), time.monotonic() - started < 5)
s.close()

s = connect()
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
print("again", read_all(s).count(b"HTTP/1.1 200 OK"))
"#;

#[test]
fn python_ssl_pipelines_and_survives_a_close_notify_mid_request() {
    let server = ServerThread::https();
    let out = run_client(
        Command::new("timeout").args([
            "20",
            "python3",
            "-c",
            PYTHON,
            &server.addr.port().to_string(),
            pki().ca.to_str().unwrap(),
        ]),
        b"",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(
        stdout,
        "alpn http/1.1\nversion TLSv1.3\nresponses 3\nafter close_notify True True\nagain 1\n",
        "{stderr}"
    );
}
