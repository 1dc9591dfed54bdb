//! The client side of the idle-connection memory benchmark
//! (`benches/scripts/idle_memory.sh`): opens N keep-alive connections to an
//! HTTP server, sends one `GET /` on each and reads the whole response, then
//! holds them all open and idle.
//!
//! ```text
//! cargo run --release -p benches --features peers --bin idle_client -- --port PORT [--connections N] [--hold SECS] [--tls-ca PATH]
//! ```
//!
//! With `--tls-ca`, each connection is TLS (rustls), verifying the
//! server's certificate for `localhost` against the CA certificates in
//! that PEM file.
//!
//! When every connection has had its answer it prints `ready N` on
//! standard output and sleeps; it exits when it is killed or after `--hold`
//! seconds (default 120), closing every connection. With `--hold 0` it
//! exits at once, which makes a warm-up request. It connects to 127.0.0.1
//! only, and every read has a 10 s timeout, so a server that stops
//! answering fails the run instead of hanging it. It exits with status 1,
//! naming the connection, if the server refuses a connection, answers
//! with anything but `200`, asks to close the connection, or closes it.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The request each connection sends, once.
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: idle_client\r\n\r\n";

/// The longest a response head may be.
const MAX_HEAD: usize = 16 * 1024;

/// How long one read may wait for the server.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The command line.
#[derive(Debug)]
struct Options {
    port: u16,
    connections: usize,
    hold: Duration,
    tls_ca: Option<PathBuf>,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut port = None;
    let mut connections = 10_000;
    let mut hold = Duration::from_secs(120);
    let mut tls_ca = None;
    let mut args = args.iter();
    while let Some(option) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{option} needs a value"))?;
        let bad = || format!("invalid value {value:?} for {option}");
        match option.as_str() {
            "--port" => port = Some(value.parse().map_err(|_| bad())?),
            "--connections" => connections = value.parse().map_err(|_| bad())?,
            "--hold" => hold = Duration::from_secs(value.parse().map_err(|_| bad())?),
            "--tls-ca" => tls_ca = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown option {option}")),
        }
    }
    let port = port.ok_or("--port is required")?;
    Ok(Options {
        port,
        connections,
        hold,
        tls_ca,
    })
}

/// Where one HTTP/1.1 response ends in `buf`, which holds its start:
/// `Ok(Some(len))` when the whole response is there (`len` bytes),
/// `Ok(None)` when more is needed, `Err` for a response this benchmark
/// cannot use (not `200`, `Connection: close`, no `Content-Length`, a head
/// over 16 KiB).
fn response_len(buf: &[u8]) -> Result<Option<usize>, String> {
    let Some(head_len) = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4) else {
        if buf.len() > MAX_HEAD {
            return Err(format!("response head longer than {MAX_HEAD} bytes"));
        }
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&buf[..head_len]);
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let code = status.split(' ').nth(1);
    if !status.starts_with("HTTP/1.1 ") || code != Some("200") {
        return Err(format!("status line {status:?}, expected HTTP/1.1 200"));
    }
    let mut body_len = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let len = value
                .parse::<usize>()
                .map_err(|_| format!("invalid content-length {value:?}"))?;
            body_len = Some(len);
        } else if name.eq_ignore_ascii_case("connection")
            && value
                .split(',')
                .any(|token| token.trim().eq_ignore_ascii_case("close"))
        {
            return Err("the server asked to close the connection".to_owned());
        }
    }
    let body_len = body_len.ok_or("response without content-length")?;
    let len = head_len + body_len;
    Ok((buf.len() >= len).then_some(len))
}

/// A connection, plain or TLS.
trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

/// The TLS client configuration trusting the CA certificates in `path`.
fn tls_config(path: &PathBuf) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in
        CertificateDer::pem_file_iter(path).map_err(|e| format!("{}: {e}", path.display()))?
    {
        let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// Opens one connection (TLS with `tls`), sends the request and reads the
/// whole response.
fn open(
    port: u16,
    tls: Option<&Arc<rustls::ClientConfig>>,
    buf: &mut Vec<u8>,
) -> io::Result<Box<dyn Stream>> {
    let sock = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    sock.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut conn: Box<dyn Stream> = match tls {
        None => Box::new(sock),
        Some(config) => {
            let name = rustls_pki_types::ServerName::try_from("localhost").expect("a valid name");
            let session = rustls::ClientConnection::new(Arc::clone(config), name)
                .map_err(io::Error::other)?;
            Box::new(rustls::StreamOwned::new(session, sock))
        }
    };
    conn.write_all(REQUEST)?;
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        match response_len(buf).map_err(io::Error::other)? {
            Some(len) if len == buf.len() => return Ok(conn),
            Some(len) => {
                return Err(io::Error::other(format!(
                    "{} bytes after a response of {len} bytes",
                    buf.len() - len
                )));
            }
            None => {}
        }
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection before the end of the response",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse_options(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("idle_client: {message}");
            eprintln!(
                "usage: idle_client --port PORT [--connections N] [--hold SECS] [--tls-ca PATH]"
            );
            return ExitCode::from(2);
        }
    };
    let tls = match options.tls_ca.as_ref().map(tls_config).transpose() {
        Ok(tls) => tls,
        Err(message) => {
            eprintln!("idle_client: {message}");
            return ExitCode::from(2);
        }
    };
    let mut held = Vec::with_capacity(options.connections);
    let mut buf = Vec::with_capacity(1024);
    for i in 0..options.connections {
        match open(options.port, tls.as_ref(), &mut buf) {
            Ok(conn) => held.push(conn),
            Err(e) => {
                eprintln!(
                    "idle_client: connection {i} to 127.0.0.1:{}: {e}",
                    options.port
                );
                return ExitCode::FAILURE;
            }
        }
    }
    println!("ready {}", held.len());
    if io::stdout().flush().is_err() {
        return ExitCode::FAILURE;
    }
    let deadline = Instant::now() + options.hold;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        std::thread::sleep(left.min(Duration::from_secs(1)));
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nDate: x\r\n\r\nHello, World!";

    #[test]
    fn a_whole_response_is_measured_to_its_last_body_byte() {
        assert_eq!(response_len(OK.as_bytes()), Ok(Some(OK.len())));
        let may = "HTTP/1.1 200 Ok\r\ncontent-length: 2\r\n\r\nhi";
        assert_eq!(response_len(may.as_bytes()), Ok(Some(may.len())));
    }

    #[test]
    fn a_partial_response_needs_more() {
        for cut in [0, 10, OK.len() - 14, OK.len() - 1] {
            assert_eq!(
                response_len(&OK.as_bytes()[..cut]),
                Ok(None),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn what_follows_the_response_is_not_part_of_it() {
        let two = format!("{OK}{OK}");
        assert_eq!(response_len(two.as_bytes()), Ok(Some(OK.len())));
    }

    #[test]
    fn unusable_responses_are_errors() {
        for bad in [
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nconnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n",
        ] {
            assert!(response_len(bad.as_bytes()).is_err(), "{bad:?}");
        }
        let endless_head = vec![b'a'; MAX_HEAD + 1];
        assert!(response_len(&endless_head).is_err());
    }

    #[test]
    fn options_need_a_port_and_take_numbers() {
        let args = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
        let o = parse_options(&args("--port 8080 --connections 5 --hold 0")).unwrap();
        assert_eq!((o.port, o.connections, o.hold), (8080, 5, Duration::ZERO));
        assert_eq!(
            parse_options(&args("--port 1")).unwrap().connections,
            10_000
        );
        assert!(parse_options(&args("--connections 5")).is_err());
        assert!(parse_options(&args("--port x")).is_err());
        assert!(parse_options(&args("--port")).is_err());
        assert!(parse_options(&args("--port 1 --bogus 2")).is_err());
    }
}
