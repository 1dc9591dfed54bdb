//! An in-process server on a loop thread, and a small blocking HTTP/1.1
//! client that reads exactly one response (for keep-alive and pipelining).

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ioloop::LoopThread;
use netutil::http::{HTTPServer as Server, HTTPServerOptions as Config, Handler};

thread_local! {
    /// Keeps the loop thread's server alive.
    static SERVER: RefCell<Option<Server>> = const { RefCell::new(None) };
}

/// A server on its own loop thread; stopped when dropped.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    /// Panics the loop caught (there must be none).
    pub(crate) panics: Arc<AtomicUsize>,
    thread: Option<LoopThread>,
}

impl TestServer {
    pub(crate) fn start(config: Config) -> TestServer {
        TestServer::start_with(config, || httpserver_example::handle)
    }

    /// A server answering with the handler `make_handler` builds on the
    /// loop thread (handlers need not be `Send`), listening on 127.0.0.1.
    pub(crate) fn start_with<H, F>(config: Config, make_handler: F) -> TestServer
    where
        H: Handler,
        F: FnOnce() -> H + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        let panics = Arc::new(AtomicUsize::new(0));
        let p = panics.clone();
        let thread = LoopThread::spawn_with("http-test", move |ioloop| {
            ioloop.set_exception_handler(move |panic| {
                p.fetch_add(1, Ordering::SeqCst);
                eprintln!("server panic: {panic}");
            });
            let server = Server::new(make_handler(), config);
            let addr = server.listen(0, Some("127.0.0.1")).expect("listen")[0];
            SERVER.with(|s| *s.borrow_mut() = Some(server));
            tx.send(addr).unwrap();
        })
        .expect("loop thread");
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server address");
        TestServer {
            addr,
            panics,
            thread: Some(thread),
        }
    }

    pub(crate) fn default() -> TestServer {
        TestServer::start(Config::default())
    }

    pub(crate) fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }

    /// The number of connections the server has open, asked on its loop.
    pub(crate) fn connections(&self) -> usize {
        self.with_server(Server::connections)
    }

    /// Runs `f` with the server on its loop thread and returns its result.
    ///
    /// # Panics
    ///
    /// If the server is gone or `f` does not return within 10 s.
    pub(crate) fn with_server<T, F>(&self, f: F) -> T
    where
        T: Send + 'static,
        F: FnOnce(&Server) -> T + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        self.thread.as_ref().unwrap().add_callback(move || {
            SERVER.with(|s| {
                if let Some(server) = s.borrow().as_ref() {
                    let _ = tx.send(f(server));
                }
            });
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the server's loop answered")
    }

    /// Blocks the server's loop thread for `duration`, as a slow callback
    /// would; returns once the stall has begun (the loop is still blocked).
    pub(crate) fn stall_loop(&self, duration: Duration) {
        let (tx, rx) = mpsc::channel();
        self.thread.as_ref().unwrap().add_callback(move || {
            let _ = tx.send(());
            std::thread::sleep(duration);
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the stalling callback ran");
    }

    /// Asserts the server still answers and caught no panic.
    pub(crate) fn assert_healthy(&self) {
        let response = get(self.addr, "/");
        assert_eq!(response.status, 200);
        assert_eq!(self.panics.load(Ordering::SeqCst), 0, "the server panicked");
    }
}

impl Drop for TestServer {
    /// Stops the server; fails the test if its loop caught a panic (unless
    /// the test is failing already).
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            thread.add_callback(|| SERVER.with(|s| drop(s.borrow_mut().take())));
            let _ = thread.stop();
        }
        let panics = self.panics.load(Ordering::SeqCst);
        if panics > 0 && !std::thread::panicking() {
            panic!("the server's loop caught {panics} panic(s), printed above");
        }
    }
}

/// A response as the client saw it.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response from `conn` (after a request with `method`),
/// honouring Content-Length, chunked framing, or the end of the stream.
/// `Err` if the connection closed (or timed out) before a full response.
pub(crate) fn read_response(conn: &mut impl Read, method: &str) -> io::Result<Response> {
    read_response_buffered(conn, method, &mut Vec::new())
}

/// As `read_response`, keeping bytes past the response in `buf` for the
/// next call (pipelined responses arrive together).
pub(crate) fn read_response_buffered(
    conn: &mut impl Read,
    method: &str,
    buf: &mut Vec<u8>,
) -> io::Result<Response> {
    let (status, headers, head_len) = loop {
        let mut parsed_headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut parsed_headers);
        match response.parse(buf) {
            Ok(httparse::Status::Complete(n)) => {
                let status = response.code.unwrap();
                let headers = response
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_owned(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect::<Vec<_>>();
                if status == 100 {
                    buf.drain(..n);
                    continue;
                }
                break (status, headers, n);
            }
            Ok(httparse::Status::Partial) => fill(conn, buf)?,
            Err(e) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "malformed response ({e}): {:?}",
                        String::from_utf8_lossy(buf)
                    ),
                ));
            }
        }
    };
    buf.drain(..head_len);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let body = if method == "HEAD" || status == 204 || status == 304 {
        Vec::new()
    } else if let Some(length) = header("content-length") {
        let length: usize = length.parse().map_err(|_| io::Error::other("bad length"))?;
        while buf.len() < length {
            fill(conn, buf)?;
        }
        buf.drain(..length).collect()
    } else if header("transfer-encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
        read_chunked(conn, buf)?
    } else {
        // Delimited by the end of the stream.
        let _ = conn.read_to_end(buf);
        std::mem::take(buf)
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn read_chunked(conn: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            fill(conn, buf)?;
        };
        let size_text = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
            .map_err(|_| io::Error::other(format!("bad chunk size {size_text:?}")))?;
        buf.drain(..line_end + 2);
        while buf.len() < size + 2 {
            fill(conn, buf)?;
        }
        if size == 0 {
            buf.drain(..2);
            return Ok(body);
        }
        body.extend(buf.drain(..size));
        buf.drain(..2);
    }
}

fn fill(conn: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0u8; 16 * 1024];
    let n = conn.read(&mut chunk)?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("connection closed; had {:?}", String::from_utf8_lossy(buf)),
        ));
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

/// Sends `raw` on a new connection and reads one response.
pub(crate) fn exchange(addr: SocketAddr, raw: &[u8]) -> io::Result<Response> {
    let mut conn = TcpStream::connect(addr)?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    conn.write_all(raw)?;
    let method = std::str::from_utf8(raw)
        .ok()
        .and_then(|s| s.split(' ').next())
        .unwrap_or("GET")
        .to_owned();
    read_response(&mut conn, &method)
}

/// `GET path` with `Connection: close`.
pub(crate) fn get(addr: SocketAddr, path: &str) -> Response {
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .expect("a response")
}

/// True once the server has closed `conn` (reads end of file or reset).
pub(crate) fn closed_by_server(conn: &mut impl Read) -> bool {
    let mut rest = Vec::new();
    match conn.read_to_end(&mut rest) {
        Ok(_) => true,
        Err(e) => matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
        ),
    }
}

/// Sends a request and half-closes the connection.
pub(crate) fn send_and_half_close(conn: &mut TcpStream, raw: &[u8]) {
    conn.write_all(raw).unwrap();
    conn.shutdown(Shutdown::Write).unwrap();
}

/// Waits until the server has read everything `conn` sent: the kernel's
/// receive queue of the server's end of the connection, as
/// `/proc/net/tcp` reports it, is empty (IPv4 connections only).
///
/// # Panics
///
/// If that does not happen within 10 s.
pub(crate) fn wait_until_server_read(conn: &TcpStream) {
    let (client, server) = (conn.local_addr().unwrap(), conn.peer_addr().unwrap());
    let started = Instant::now();
    while server_receive_queue(server, client) != Some(0) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the server never read what {client} sent"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The bytes waiting in the receive queue of the socket `local` connected
/// to `remote`, from `/proc/net/tcp` (`None` if there is no such socket).
fn server_receive_queue(local: SocketAddr, remote: SocketAddr) -> Option<u64> {
    fn hex(addr: SocketAddr) -> Option<String> {
        match addr {
            SocketAddr::V4(v4) => Some(format!(
                "{:08X}:{:04X}",
                u32::from_ne_bytes(v4.ip().octets()),
                v4.port()
            )),
            SocketAddr::V6(_) => None,
        }
    }
    let (local, remote) = (hex(local)?, hex(remote)?);
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) != Some(&local.as_str()) || fields.get(2) != Some(&remote.as_str()) {
            return None;
        }
        let queues = fields.get(4)?;
        let rx = queues.split(':').nth(1)?;
        u64::from_str_radix(rx, 16).ok()
    })
}
