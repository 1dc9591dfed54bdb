//! The library's API as a handler writer uses it: streamed bodies in
//! bounded memory, handler panics and abandoned handlers, header and query
//! access, IPv6 and Unix sockets, the response builder, `BodySender`,
//! `max_connections`, graceful shutdown and blocking work in an executor.
//! Each server runs handlers written here, on its own loop thread.

use std::cell::RefCell;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use ioloop::IOLoop;
use netutil::http::{Body, HTTPServerOptions as Config, HeaderError, Request, Response};

use crate::util::{TestServer, closed_by_server, read_response, read_response_buffered};

/// How long any single wait in these tests may take before it fails.
const WAIT: Duration = Duration::from_secs(10);

/// Polls `condition` every millisecond until it holds.
///
/// # Panics
///
/// If it does not hold within [`WAIT`].
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < WAIT, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Sends `raw` on `conn` and reads one response.
fn ask(conn: &mut TcpStream, raw: &str) -> crate::util::Response {
    conn.write_all(raw.as_bytes()).expect("send the request");
    let method = raw.split(' ').next().unwrap_or("GET");
    read_response(conn, method).expect("a response")
}

/// A keep-alive `GET path`.
fn get_request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")
}

/// A client connection whose receive buffer is `rcvbuf` bytes, set before
/// connecting so the window the server sees is that small.
fn connect_with_receive_buffer(addr: SocketAddr, rcvbuf: usize) -> TcpStream {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .unwrap();
    socket.set_recv_buffer_size(rcvbuf).unwrap();
    socket.connect(&addr.into()).unwrap();
    let conn: TcpStream = socket.into();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    conn.set_write_timeout(Some(WAIT)).unwrap();
    conn
}

/// The most bytes the kernel may hold in a loopback connection's send
/// queue (`tcp_wmem`'s maximum) plus both ends' receive queues sized
/// `rcvbuf` (the kernel doubles what is asked for).
fn kernel_buffers(rcvbuf: usize) -> usize {
    let wmem = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|t| t.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 << 20);
    wmem + 4 * rcvbuf
}

/// Sends on its channel when dropped: shows that a handler's future was
/// dropped.
struct DropSignal(mpsc::Sender<&'static str>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.0.send("dropped");
    }
}

// ---------------------------------------------------------------------
// 1. Streaming a large body through in bounded memory
// ---------------------------------------------------------------------

/// The size of the body streamed through the server.
const BIG: usize = 100 << 20;

/// Where the client pauses reading the response.
const PAUSE_AT: usize = 8 << 20;

/// Set in the environment of the process that runs a test alone.
const ISOLATED: &str = "NETUTIL_HTTP_TEST_ISOLATED";

/// The byte at `offset` of the streamed body.
fn pattern(offset: usize) -> u8 {
    (offset % 251) as u8
}

/// FNV-1a, 64 bits.
fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// A field of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// Runs the test called `name` (in this module) alone in a child process,
/// so that the process's memory is the test's own: returns `true` in that
/// child (which goes on to run the test body) and `false` in the parent,
/// once the child has passed.
///
/// # Panics
///
/// In the parent, if the child fails or runs longer than 10 minutes.
fn run_alone(name: &str) -> bool {
    if std::env::var_os(ISOLATED).is_some() {
        return true;
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            &format!("library::{name}"),
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ISOLATED, "1")
        .spawn()
        .expect("run the test in a child process");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(600) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} took more than 10 minutes in its own process");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        status.success(),
        "{name} failed in its own process: {status}"
    );
    false
}

/// Reads a chunked body from `reader`, hashing it as it goes (holding one
/// buffer at a time) and calling `progress` with the bytes read so far
/// after each read. Returns its length and hash.
fn read_chunked_hashed(
    reader: &mut impl BufRead,
    mut progress: impl FnMut(usize),
) -> io::Result<(usize, u64)> {
    let mut line = String::new();
    let mut buf = vec![0u8; 64 * 1024];
    let (mut length, mut hash) = (0, FNV_START);
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let size = usize::from_str_radix(line.trim_end(), 16)
            .map_err(|_| io::Error::other(format!("bad chunk size line {line:?}")))?;
        let mut left = size;
        while left > 0 {
            let n = reader.read(&mut buf[..left.min(64 * 1024)])?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            hash = fnv1a(hash, &buf[..n]);
            left -= n;
            progress(length + size - left);
        }
        length += size;
        line.clear();
        reader.read_line(&mut line)?;
        if line != "\r\n" {
            return Err(io::Error::other(format!("no CRLF after a chunk: {line:?}")));
        }
        if size == 0 {
            return Ok((length, hash));
        }
    }
}

/// A handler that answers with the request's body, streamed back as it
/// arrives.
fn echo_stream() -> impl Fn(Request) -> std::future::Ready<Response> {
    |mut request: Request| {
        let body = request.take_body().map_err(io::Error::from);
        std::future::ready(Response::new(200).with_body(Body::stream(body)))
    }
}

/// Sends [`BIG`] bytes on `reader`'s connection (chunked, or with a
/// `Content-Length`) from another thread while reading them back here,
/// pausing once until the writes stall. Returns how far the request was
/// ahead of the response during the pause.
fn echo_through(reader: &mut BufReader<TcpStream>, chunked: bool) -> usize {
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_owned()
    } else {
        format!("Content-Length: {BIG}")
    };
    let mut writer = reader.get_ref().try_clone().unwrap();
    writer
        .write_all(format!("POST /echo HTTP/1.1\r\nHost: test\r\n{framing}\r\n\r\n").as_bytes())
        .unwrap();
    let written = Arc::new(AtomicUsize::new(0));
    let written_by_sender = Arc::clone(&written);
    let sender = std::thread::spawn(move || -> io::Result<u64> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut hash = FNV_START;
        let mut offset = 0;
        while offset < BIG {
            let n = buf.len().min(BIG - offset);
            for (i, b) in buf[..n].iter_mut().enumerate() {
                *b = pattern(offset + i);
            }
            if chunked {
                writer.write_all(format!("{n:x}\r\n").as_bytes())?;
            }
            writer.write_all(&buf[..n])?;
            if chunked {
                writer.write_all(b"\r\n")?;
            }
            hash = fnv1a(hash, &buf[..n]);
            offset += n;
            written_by_sender.store(offset, Ordering::SeqCst);
        }
        if chunked {
            writer.write_all(b"0\r\n\r\n")?;
        }
        Ok(hash)
    });

    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("the response head");
        assert!(!line.is_empty(), "the connection closed in the head");
        if line == "\r\n" {
            break;
        }
        head.push(line.trim_end().to_owned());
    }
    assert_eq!(head[0], "HTTP/1.1 200 OK", "{head:?}");
    assert!(
        head.iter()
            .any(|h| h.eq_ignore_ascii_case("transfer-encoding: chunked")),
        "{head:?}"
    );
    // Once, the client stops reading until its writes stall: a server
    // that went on reading the request would have to hold what it cannot
    // send.
    let mut paused = false;
    let mut ahead_when_paused = 0;
    let (length, received_hash) = read_chunked_hashed(reader, |read| {
        if !paused && read >= PAUSE_AT {
            paused = true;
            ahead_when_paused = settled(&written, Duration::from_millis(300)) - read;
        }
    })
    .expect("the whole body");
    let sent_hash = sender.join().unwrap().expect("the whole request body sent");
    assert_eq!(length, BIG, "chunked request: {chunked}");
    assert_eq!(
        received_hash, sent_hash,
        "the body came back changed (chunked request: {chunked})"
    );
    ahead_when_paused
}

/// 100 MiB go through the server and back, once with a `Content-Length`
/// and once chunked, while the client writes and reads at once, pausing
/// its reads once until its writes stall. If the
/// server held the request or the response body
/// (or most of either) in memory, the process would grow by at least
/// 100 MiB; a server that reads only as the handler asks and writes at most
/// `max_write_ahead` ahead holds a few read and write buffers (well under
/// 1 MiB) plus what the allocator keeps. 64 MiB leaves that slack a wide
/// margin and still fails anything that buffers most of the body.
#[test]
fn a_100_mib_body_streams_through_to_the_response_in_bounded_memory() {
    if !run_alone("a_100_mib_body_streams_through_to_the_response_in_bounded_memory") {
        return;
    }
    let config = Config {
        max_body_bytes: BIG,
        ..Config::default()
    };
    let server = TestServer::start_with(config, echo_stream);
    // Warm up: one small exchange, so the loop's and the allocator's
    // first-use costs are in the baseline.
    let mut conn = server.connect();
    let warm = ask(
        &mut conn,
        "POST /warm HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!((warm.status, warm.text().as_str()), (200, "hello"));

    // Resets the peak to the current size, where the kernel allows it.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let baseline = status_kib("VmRSS");

    let mut reader = BufReader::with_capacity(64 * 1024, conn);
    let mut ahead = Vec::new();
    for chunked in [false, true] {
        ahead.push(echo_through(&mut reader, chunked));
    }
    let peak = status_kib("VmHWM");

    let growth_mib = peak.saturating_sub(baseline) as f64 / 1024.0;
    eprintln!(
        "peak memory growth while streaming 100 MiB through twice: {growth_mib:.1} MiB; \
         the request was {:.1} and {:.1} MiB ahead of the response when the client paused",
        ahead[0] as f64 / MIB as f64,
        ahead[1] as f64 / MIB as f64
    );
    assert!(
        growth_mib < 64.0,
        "the process grew by {growth_mib:.1} MiB while streaming {} MiB",
        BIG >> 20
    );
    assert_eq!(server.panics.load(Ordering::SeqCst), 0);
}

// ---------------------------------------------------------------------
// 2. A handler that panics
// ---------------------------------------------------------------------

/// Panics in the handler's future for `/panic`, in the handler itself
/// (before any future exists) for `/panic-at-once`, and in the response
/// body's stream after its first chunk for `/panic-in-body`; the body's
/// stream fails (with an error) after its first chunk for
/// `/error-in-body`.
fn panicking_handler() -> impl Fn(Request) -> std::pin::Pin<Box<dyn Future<Output = Response>>> {
    |request: Request| {
        let path = request.path().to_owned();
        if path == "/panic-at-once" {
            panic!("the handler failed before answering");
        }
        Box::pin(async move {
            match path.as_str() {
                "/panic" => panic!("the handler failed while answering"),
                "/panic-in-body" => {
                    let chunks = futures::stream::iter(0..2).map(|k| {
                        assert_eq!(k, 0, "the body failed after its first chunk");
                        Ok(b"first chunk".to_vec())
                    });
                    Response::new(200).with_body(Body::stream(chunks))
                }
                "/error-in-body" => {
                    let chunks = futures::stream::iter([
                        Ok(b"first chunk".to_vec()),
                        Err(io::Error::other("the body failed after its first chunk")),
                    ]);
                    Response::new(200).with_body(Body::stream(chunks))
                }
                _ => Response::text(200, "fine"),
            }
        })
    }
}

#[test]
fn a_panicking_handler_gets_its_client_a_500_and_a_close_and_others_go_on() {
    let server = TestServer::start_with(Config::default(), panicking_handler);
    // A connection already open when the handler panics.
    let mut bystander = server.connect();
    assert_eq!(ask(&mut bystander, &get_request("/")).status, 200);

    let with_body = "POST /panic HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\n0123456789";
    for request in [
        get_request("/panic"),
        get_request("/panic-at-once"),
        with_body.to_owned(),
    ] {
        let path = request.split(' ').nth(1).unwrap().to_owned();
        let mut conn = server.connect();
        let response = ask(&mut conn, &request);
        assert_eq!(response.status, 500, "{path}: {response:?}");
        assert_eq!(response.header("connection"), Some("close"), "{path}");
        assert!(
            closed_by_server(&mut conn),
            "{path}: the connection stays open"
        );
    }

    // Pipelined: the response before the panic arrives, the 500 follows,
    // and the request after it is not answered.
    let mut conn = server.connect();
    let mut pipelined = get_request("/first");
    pipelined.push_str(&get_request("/panic"));
    pipelined.push_str(&get_request("/never"));
    conn.write_all(pipelined.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let first = read_response_buffered(&mut conn, "GET", &mut buf).expect("the first response");
    assert_eq!((first.status, first.text().as_str()), (200, "fine"));
    let failed = read_response_buffered(&mut conn, "GET", &mut buf).expect("the 500");
    assert_eq!(failed.status, 500);
    assert_eq!(failed.header("connection"), Some("close"));
    assert!(buf.is_empty(), "{:?}", String::from_utf8_lossy(&buf));
    assert!(closed_by_server(&mut conn));

    // A body that panics after its first chunk: the client never sees it
    // complete, and the connection closes.
    let mut conn = server.connect();
    conn.write_all(get_request("/panic-in-body").as_bytes())
        .unwrap();
    let mut got = Vec::new();
    let _ = conn.read_to_end(&mut got);
    let got = String::from_utf8_lossy(&got);
    assert!(
        !got.ends_with("0\r\n\r\n"),
        "a failed body looks complete: {got}"
    );

    // The bystander's connection and new ones are served.
    let again = ask(&mut bystander, &get_request("/"));
    assert_eq!((again.status, again.text().as_str()), (200, "fine"));
    let mut fresh = server.connect();
    assert_eq!(ask(&mut fresh, &get_request("/")).status, 200);
    // The engine caught both panics: the loop saw none.
    assert_eq!(server.panics.load(Ordering::SeqCst), 0);
}

/// Keeps every log record, as `level target: message`.
struct CapturedLog(Mutex<Vec<String>>);

impl log::Log for CapturedLog {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {}: {}", record.level(), record.target(), record.args());
        self.0.lock().unwrap().push(line);
    }

    fn flush(&self) {}
}

#[test]
fn a_handler_panic_is_logged_with_its_request_line() {
    // The logger is process-wide: this test has a process of its own.
    if !run_alone("a_handler_panic_is_logged_with_its_request_line") {
        return;
    }
    static LOG: CapturedLog = CapturedLog(Mutex::new(Vec::new()));
    log::set_logger(&LOG).expect("the only logger in this process");
    log::set_max_level(log::LevelFilter::Info);
    let server = TestServer::start_with(Config::default(), panicking_handler);
    let mut conn = server.connect();
    let response = ask(&mut conn, &get_request("/panic?when=now"));
    assert_eq!(response.status, 500);
    let lines = LOG.0.lock().unwrap().clone();
    let logged = lines.iter().find(|line| {
        line.starts_with("ERROR netutil::http: ")
            && line.contains("\"GET /panic?when=now HTTP/1.1\"")
            && line.contains("the handler failed while answering")
    });
    assert!(
        logged.is_some(),
        "no error naming the request line in {lines:#?}"
    );
}

/// A response body that fails must not take the complete responses
/// pipelined before it down with it, and the client sees the failed one
/// truncated.
#[test]
fn a_failing_response_body_does_not_lose_the_responses_before_it() {
    let server = TestServer::start_with(Config::default(), panicking_handler);
    for failing in ["/error-in-body", "/panic-in-body"] {
        let mut conn = server.connect();
        let mut pipelined = get_request("/first");
        pipelined.push_str(&get_request(failing));
        conn.write_all(pipelined.as_bytes()).unwrap();
        let mut buf = Vec::new();
        let first = read_response_buffered(&mut conn, "GET", &mut buf);
        let first = first.unwrap_or_else(|e| panic!("{failing}: the first response: {e}"));
        assert_eq!((first.status, first.text().as_str()), (200, "fine"));
        let mut rest = std::mem::take(&mut buf);
        let _ = conn.read_to_end(&mut rest);
        let rest = String::from_utf8_lossy(&rest);
        // The failed response as far as it got: a truncated body.
        assert!(
            rest.starts_with("HTTP/1.1 200 OK\r\n"),
            "{failing}: {rest:?}"
        );
        assert!(rest.contains("first chunk"), "{failing}: {rest:?}");
        assert!(
            !rest.ends_with("0\r\n\r\n"),
            "{failing}: looks complete: {rest}"
        );
    }
    assert_eq!(server.panics.load(Ordering::SeqCst), 0);
}

// ---------------------------------------------------------------------
// 3. A handler that never answers
// ---------------------------------------------------------------------

/// A handler that reports it started, then waits forever holding a
/// [`DropSignal`].
fn never_answers(
    events: mpsc::Sender<&'static str>,
) -> impl Fn(Request) -> std::pin::Pin<Box<dyn Future<Output = Response>>> {
    move |_request: Request| {
        let events = events.clone();
        Box::pin(async move {
            let _signal = DropSignal(events.clone());
            let _ = events.send("started");
            std::future::pending::<Response>().await
        })
    }
}

fn next_event(events: &mpsc::Receiver<&'static str>) -> &'static str {
    events
        .recv_timeout(WAIT)
        .expect("an event from the handler")
}

#[test]
fn a_client_that_goes_away_drops_the_waiting_handler_future() {
    let (tx, events) = mpsc::channel();
    let server = TestServer::start_with(Config::default(), move || never_answers(tx));
    for how in ["close", "reset", "half-close"] {
        let mut conn = server.connect();
        conn.write_all(get_request("/wait").as_bytes()).unwrap();
        assert_eq!(next_event(&events), "started", "{how}");
        assert_eq!(server.connections(), 1, "{how}");
        match how {
            "close" => drop(conn),
            "reset" => {
                socket2::SockRef::from(&conn)
                    .set_linger(Some(Duration::ZERO))
                    .unwrap();
                drop(conn);
            }
            _ => {
                conn.shutdown(Shutdown::Write).unwrap();
                // The server closes without an answer.
                let mut rest = Vec::new();
                let _ = conn.read_to_end(&mut rest);
                assert!(
                    rest.is_empty(),
                    "{how}: {:?}",
                    String::from_utf8_lossy(&rest)
                );
            }
        }
        assert_eq!(
            next_event(&events),
            "dropped",
            "{how}: the handler's future was not dropped"
        );
        wait_until("the server has no connection open", || {
            server.connections() == 0
        });
    }
}

// ---------------------------------------------------------------------
// 4. Headers and the query
// ---------------------------------------------------------------------

/// What the handler saw of a request.
#[derive(Debug, Default)]
struct Seen {
    method: String,
    target: String,
    path: String,
    query: String,
    arguments: Vec<(String, String)>,
    first_a: Option<String>,
    missing_argument: Option<String>,
    repeated: Vec<String>,
    first_repeated: Option<String>,
    all_fields: Vec<(String, String)>,
    raw_fields: Vec<(String, Vec<u8>)>,
    binary_bytes: Option<Vec<u8>>,
    binary_text: Option<String>,
    len: usize,
    has_accept: bool,
    has_cookie: bool,
}

#[test]
fn headers_and_query_arguments_are_read_as_sent() {
    let (tx, seen) = mpsc::channel();
    let server = TestServer::start_with(Config::default(), move || {
        move |request: Request| {
            let headers = request.headers();
            let observed = Seen {
                method: request.method().as_str().to_owned(),
                target: request.target().to_owned(),
                path: request.path().to_owned(),
                query: request.query().to_owned(),
                arguments: request.query_arguments(),
                first_a: request.query_argument("a"),
                missing_argument: request.query_argument("zzz"),
                repeated: headers.get_all("X-REPEATED").map(str::to_owned).collect(),
                first_repeated: headers.get("x-repeated").map(str::to_owned),
                all_fields: headers
                    .iter()
                    .map(|(n, v)| (n.to_owned(), v.to_owned()))
                    .collect(),
                raw_fields: headers
                    .iter_bytes()
                    .map(|(n, v)| (n.to_owned(), v.to_vec()))
                    .collect(),
                binary_bytes: headers.get_bytes("x-binary").map(<[u8]>::to_vec),
                binary_text: headers.get("X-Binary").map(str::to_owned),
                len: headers.len(),
                has_accept: headers.contains("ACCEPT"),
                has_cookie: headers.contains("cookie"),
            };
            let _ = tx.send(observed);
            std::future::ready(Response::text(200, "seen"))
        }
    });
    let mut raw = b"GET /a%20b/c?a=1&b=%20x+y&a=2 HTTP/1.1\r\n\
        Host: test\r\n\
        X-Repeated: one\r\n\
        accept: text/plain\r\n\
        x-repeated: two\r\n\
        X-Binary: "
        .to_vec();
    raw.extend_from_slice(b"caf\xe9 \xff\r\nX-REPEATED: three\r\n\r\n");
    let mut conn = server.connect();
    conn.write_all(&raw).unwrap();
    let response = read_response(&mut conn, "GET").expect("a response");
    assert_eq!(response.status, 200, "{response:?}");
    let seen = seen.recv_timeout(WAIT).expect("the handler ran");

    assert_eq!(seen.method, "GET");
    assert_eq!(seen.target, "/a%20b/c?a=1&b=%20x+y&a=2");
    assert_eq!(seen.path, "/a%20b/c", "the path is not decoded");
    assert_eq!(seen.query, "a=1&b=%20x+y&a=2", "the query is not decoded");
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        seen.arguments,
        pairs(&[("a", "1"), ("b", " x y"), ("a", "2")])
    );
    assert_eq!(seen.first_a.as_deref(), Some("1"));
    assert_eq!(seen.missing_argument, None);
    assert_eq!(seen.repeated, ["one", "two", "three"]);
    assert_eq!(seen.first_repeated.as_deref(), Some("one"));
    // In order, names as sent; the field that is not UTF-8 is skipped.
    assert_eq!(
        seen.all_fields,
        pairs(&[
            ("Host", "test"),
            ("X-Repeated", "one"),
            ("accept", "text/plain"),
            ("x-repeated", "two"),
            ("X-REPEATED", "three"),
        ])
    );
    let raw_names: Vec<&str> = seen.raw_fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        raw_names,
        [
            "Host",
            "X-Repeated",
            "accept",
            "x-repeated",
            "X-Binary",
            "X-REPEATED"
        ]
    );
    assert_eq!(seen.binary_bytes.as_deref(), Some(&b"caf\xe9 \xff"[..]));
    assert_eq!(
        seen.binary_text, None,
        "a value that is not UTF-8 is not text"
    );
    assert_eq!(seen.len, 6);
    assert!(seen.has_accept);
    assert!(!seen.has_cookie);
}

// ---------------------------------------------------------------------
// 5. IPv6 and Unix sockets
// ---------------------------------------------------------------------

/// Answers with the peer's address as the server saw it.
fn peer_echo() -> impl Fn(Request) -> std::future::Ready<Response> {
    |request: Request| std::future::ready(Response::text(200, request.peer().to_string()))
}

#[test]
fn a_server_listens_on_ipv6_loopback() {
    let server = TestServer::start_with(Config::default(), peer_echo);
    let bound = server.with_server(|s| s.listen(0, Some("::1")).map_err(|e| e.to_string()));
    let addr = match bound {
        Ok(addrs) => addrs[0],
        Err(err) => {
            eprintln!("no IPv6 loopback on this machine ({err}): skipping the IPv6 test");
            return;
        }
    };
    assert!(addr.is_ipv6(), "{addr}");
    let mut conn = TcpStream::connect(addr).expect("connect to [::1]");
    conn.set_read_timeout(Some(WAIT)).unwrap();
    for _ in 0..2 {
        let response = ask(&mut conn, &get_request("/"));
        assert_eq!(response.status, 200);
        assert_eq!(response.text(), conn.local_addr().unwrap().to_string());
        assert!(response.text().starts_with("[::1]:"), "{}", response.text());
    }
}

#[test]
fn a_server_listens_on_a_unix_socket() {
    use std::os::unix::fs::PermissionsExt;

    let dir = std::env::temp_dir().join(format!("netutil-http-library-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("server.sock");
    let _ = std::fs::remove_file(&path);
    let server = TestServer::start_with(Config::default(), peer_echo);
    let listen_path = path.clone();
    server
        .with_server(move |s| {
            s.listen_unix(&listen_path, 0o600)
                .map_err(|e| e.to_string())
        })
        .expect("listen on a unix socket");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");

    let mut conn = UnixStream::connect(&path).expect("connect to the unix socket");
    conn.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = Vec::new();
    for _ in 0..2 {
        conn.write_all(get_request("/").as_bytes()).unwrap();
        let response = read_response_buffered(&mut conn, "GET", &mut buf).expect("a response");
        assert_eq!(response.status, 200);
        assert_eq!(response.text(), "(unnamed unix socket)");
    }
    drop(conn);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------
// 6. The response builder and bodiless responses
// ---------------------------------------------------------------------

#[test]
fn the_framing_fields_and_malformed_fields_are_refused() {
    for name in ["Content-Length", "transfer-encoding", "CONNECTION"] {
        let err = Response::new(200).with_header(name, "5").unwrap_err();
        assert_eq!(err, HeaderError::Reserved(name.to_owned()));
        assert_eq!(
            err.to_string(),
            format!("header {name} is set by the server (from the body and the connection)")
        );
    }
    let err = Response::new(200).with_header("X Name", "v").unwrap_err();
    assert_eq!(err, HeaderError::InvalidName("X Name".to_owned()));
    assert_eq!(err.to_string(), "invalid header name \"X Name\"");
    for value in ["a\r\nInjected: yes", "a\nb", "a\rb"] {
        let err = Response::new(200)
            .with_header("X-Value", value)
            .unwrap_err();
        assert_eq!(
            err,
            HeaderError::InvalidValue {
                name: "X-Value".to_owned(),
                value: value.to_owned(),
            }
        );
        assert_eq!(
            err.to_string(),
            format!("invalid value for header X-Value: {value:?}")
        );
    }
    // A refused field leaves the response as it was.
    let mut response = Response::new(200);
    assert!(response.set_header("Connection", "close").is_err());
    assert_eq!(response.headers().count(), 0);
}

fn builder_routes() -> impl Fn(Request) -> std::future::Ready<Response> {
    |request: Request| {
        let streamed =
            || Body::stream(futures::stream::iter(["a", "b", "c"].map(|s| Ok(s.into()))));
        let response = match request.path() {
            "/server" => Response::text(200, "x")
                .with_header("Server", "custom/1.0")
                .unwrap(),
            "/204" => Response::new(204).with_body("never sent"),
            "/304" => Response::new(304).with_body("never sent"),
            "/204-streamed" => Response::new(204).with_body(streamed()),
            "/streamed" => Response::new(200).with_body(streamed()),
            _ => Response::error(404, "no such page"),
        };
        std::future::ready(response)
    }
}

#[test]
fn the_server_header_bodiless_statuses_and_head_keep_the_connection_in_sync() {
    let server = TestServer::start_with(Config::default(), builder_routes);
    let mut conn = server.connect();
    let mut buf = Vec::new();
    let mut ask_on = |method: &str, path: &str| {
        let raw = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n\r\n");
        conn.write_all(raw.as_bytes()).unwrap();
        read_response_buffered(&mut conn, method, &mut buf).expect("a response")
    };

    let response = ask_on("GET", "/server");
    let servers: Vec<&str> = response
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("server"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(servers, ["custom/1.0"], "{response:?}");

    for (path, status) in [("/204", 204), ("/304", 304), ("/204-streamed", 204)] {
        let response = ask_on("GET", path);
        assert_eq!(response.status, status, "{path}");
        assert_eq!(
            response.header("content-length"),
            None,
            "{path}: {response:?}"
        );
        assert_eq!(
            response.header("transfer-encoding"),
            None,
            "{path}: {response:?}"
        );
        assert_eq!(response.header("connection"), None, "{path}: {response:?}");
    }

    let head = ask_on("HEAD", "/streamed");
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("transfer-encoding"),
        Some("chunked"),
        "{head:?}"
    );
    // Any body bytes after the bodiless responses would be parsed as the
    // start of this one.
    let get = ask_on("GET", "/streamed");
    assert_eq!((get.status, get.text().as_str()), (200, "abc"));
    assert!(
        buf.is_empty(),
        "stray bytes: {:?}",
        String::from_utf8_lossy(&buf)
    );
}

// ---------------------------------------------------------------------
// 7. BodySender
// ---------------------------------------------------------------------

const MIB: usize = 1 << 20;

/// The producer's progress, shared with the test.
#[derive(Default)]
struct Progress {
    /// Chunks the producer has queued.
    sent: AtomicUsize,
    /// The producer asked for a flush.
    flushing: AtomicBool,
    /// The flush completed.
    flushed: AtomicBool,
    /// `send` reported the client gone.
    gone: AtomicBool,
}

/// `/firehose`: 1 MiB chunks into a 1 MiB channel, at most 64 of them.
/// `/flush`: 16 MiB queued at once, then a flush, then a last line.
fn producers(progress: Arc<Progress>) -> impl Fn(Request) -> std::future::Ready<Response> {
    move |request: Request| {
        let progress = Arc::clone(&progress);
        let capacity = if request.path() == "/flush" {
            32 * MIB
        } else {
            MIB
        };
        let (mut sender, body) = Body::channel(capacity);
        let flush = request.path() == "/flush";
        IOLoop::current()
            .spawn(async move {
                for _ in 0..if flush { 16 } else { 64 } {
                    if sender.send(vec![b'x'; MIB]).await.is_err() {
                        progress.gone.store(true, Ordering::SeqCst);
                        return;
                    }
                    progress.sent.fetch_add(1, Ordering::SeqCst);
                }
                if flush {
                    progress.flushing.store(true, Ordering::SeqCst);
                    let flushed = sender.flush().await;
                    progress.flushed.store(flushed.is_ok(), Ordering::SeqCst);
                    let _ = sender.send("after the flush").await;
                }
            })
            .detach();
        std::future::ready(Response::new(200).with_body(body))
    }
}

/// Waits until `counter` has not changed for `quiet` (at most [`WAIT`]).
fn settled(counter: &AtomicUsize, quiet: Duration) -> usize {
    let started = Instant::now();
    let mut last = (counter.load(Ordering::SeqCst), Instant::now());
    loop {
        std::thread::sleep(Duration::from_millis(10));
        let now = counter.load(Ordering::SeqCst);
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() >= quiet || started.elapsed() >= WAIT {
            return now;
        }
    }
}

#[test]
fn a_body_sender_waits_for_a_client_that_does_not_read_and_learns_when_it_leaves() {
    let progress = Arc::new(Progress::default());
    let shared = Arc::clone(&progress);
    let server = TestServer::start_with(Config::default(), move || producers(shared));
    let rcvbuf = 64 * 1024;
    let mut conn = connect_with_receive_buffer(server.addr, rcvbuf);
    conn.write_all(get_request("/firehose").as_bytes()).unwrap();
    wait_until("the producer sent a chunk", || {
        progress.sent.load(Ordering::SeqCst) > 0
    });
    let sent = settled(&progress.sent, Duration::from_millis(500));
    // Queued in the channel (one chunk fills it), one being written, what
    // the kernel holds, and the write-ahead.
    let bound = 2 + (kernel_buffers(rcvbuf) + 64 * 1024).div_ceil(MIB);
    eprintln!("the producer sent {sent} MiB to a client that reads nothing (at most {bound})");
    assert!(
        sent <= bound,
        "the producer sent {sent} MiB to a client that reads nothing (at most {bound} expected)"
    );
    assert!(!progress.gone.load(Ordering::SeqCst));

    drop(conn);
    wait_until("the producer learns the client is gone", || {
        progress.gone.load(Ordering::SeqCst)
    });
    assert_eq!(server.panics.load(Ordering::SeqCst), 0);
}

#[test]
fn a_body_sender_flush_completes_once_the_client_has_taken_the_bytes() {
    let progress = Arc::new(Progress::default());
    let shared = Arc::clone(&progress);
    let server = TestServer::start_with(Config::default(), move || producers(shared));
    let rcvbuf = 64 * 1024;
    let mut conn = connect_with_receive_buffer(server.addr, rcvbuf);
    conn.write_all(get_request("/flush").as_bytes()).unwrap();
    wait_until("the producer asks for a flush", || {
        progress.flushing.load(Ordering::SeqCst)
    });
    // 16 MiB cannot all be in the kernel while the client reads nothing.
    let kernel = kernel_buffers(rcvbuf) + 64 * 1024;
    assert!(16 * MIB > kernel + MIB, "the kernel would hold it all");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !progress.flushed.load(Ordering::SeqCst),
        "the flush completed while the client had read nothing"
    );

    // Read in small steps, noting how much had been read when the flush
    // was first seen complete.
    let mut reader = BufReader::with_capacity(16 * 1024, conn);
    let mut read = 0usize;
    let mut read_when_flushed = None;
    let mut all = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while !all.ends_with(b"0\r\n\r\n") {
        if read_when_flushed.is_none() && progress.flushed.load(Ordering::SeqCst) {
            read_when_flushed = Some(read);
        }
        let n = reader.read(&mut buf).expect("the response");
        assert!(n > 0, "the connection closed early");
        read += n;
        all.extend_from_slice(&buf[..n]);
    }
    let read_when_flushed = read_when_flushed.unwrap_or(read);
    assert!(
        progress.flushed.load(Ordering::SeqCst),
        "the flush never completed"
    );
    // When the flush completed, every byte before it was read or with the
    // kernel.
    assert!(
        read_when_flushed + kernel >= 16 * MIB,
        "the flush completed with {} bytes read of {}",
        read_when_flushed,
        16 * MIB
    );
    let text = String::from_utf8_lossy(&all);
    assert!(
        text.contains("\r\nafter the flush\r\n"),
        "no last line after the flush"
    );
    assert_eq!(server.panics.load(Ordering::SeqCst), 0);
}

// ---------------------------------------------------------------------
// 8. max_connections
// ---------------------------------------------------------------------

/// `/wait` never answers (and reports that it started); anything else is
/// answered at once.
fn waits_or_answers(
    events: mpsc::Sender<&'static str>,
) -> impl Fn(Request) -> std::pin::Pin<Box<dyn Future<Output = Response>>> {
    let wait = never_answers(events);
    move |request: Request| {
        if request.path() == "/wait" {
            wait(request)
        } else {
            Box::pin(std::future::ready(Response::text(200, "ok")))
        }
    }
}

#[test]
fn a_full_server_closes_its_oldest_idle_connection_for_a_new_one() {
    let (tx, _events) = mpsc::channel();
    let config = Config {
        max_connections: 4,
        ..Config::default()
    };
    let server = TestServer::start_with(config, move || waits_or_answers(tx));
    let mut idle: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut conn = server.connect();
            assert_eq!(ask(&mut conn, &get_request("/")).status, 200);
            conn
        })
        .collect();
    assert_eq!(server.connections(), 4);

    let mut fifth = server.connect();
    assert_eq!(ask(&mut fifth, &get_request("/")).status, 200);
    assert!(
        closed_by_server(&mut idle[0]),
        "the oldest idle connection stays open"
    );
    for conn in &mut idle[1..] {
        assert_eq!(ask(conn, &get_request("/")).status, 200);
    }
}

#[test]
fn a_full_server_with_no_idle_connection_answers_503() {
    let (tx, events) = mpsc::channel();
    let config = Config {
        max_connections: 4,
        ..Config::default()
    };
    let server = TestServer::start_with(config, move || waits_or_answers(tx));
    let mut busy = Vec::new();
    for _ in 0..4 {
        let mut conn = server.connect();
        conn.write_all(get_request("/wait").as_bytes()).unwrap();
        assert_eq!(next_event(&events), "started");
        busy.push(conn);
    }
    let mut fifth = server.connect();
    let response = ask(&mut fifth, &get_request("/"));
    assert_eq!(response.status, 503, "{response:?}");
    assert!(closed_by_server(&mut fifth));
    assert_eq!(server.connections(), 4);
}

// ---------------------------------------------------------------------
// 9. Graceful shutdown
// ---------------------------------------------------------------------

#[test]
fn a_graceful_shutdown_finishes_requests_in_flight_and_closes_idle_ones() {
    let (started_tx, started) = mpsc::channel();
    let (release, released) = futures::channel::oneshot::channel::<()>();
    let server = TestServer::start_with(Config::default(), move || {
        let released = Rc::new(RefCell::new(Some(released)));
        move |request: Request| {
            let wait = (request.path() == "/slow")
                .then(|| released.borrow_mut().take())
                .flatten();
            let started = started_tx.clone();
            async move {
                if let Some(released) = wait {
                    let _ = started.send(());
                    let _ = released.await;
                }
                Response::text(200, "done")
            }
        }
    });
    let mut idle = server.connect();
    assert_eq!(ask(&mut idle, &get_request("/")).status, 200);
    let mut busy = server.connect();
    busy.write_all(get_request("/slow").as_bytes()).unwrap();
    started
        .recv_timeout(WAIT)
        .expect("the slow handler started");
    // Part of a request: not idle, so it is answered.
    let mut partial = server.connect();
    partial.write_all(b"GET /partial HTTP/1.1\r\nHo").unwrap();
    crate::util::wait_until_server_read(&partial);
    wait_until("the server has all three connections", || {
        server.connections() == 3
    });

    let (done_tx, done) = mpsc::channel();
    server.with_server(move |s| {
        let shutdown = s.shutdown();
        IOLoop::current()
            .spawn(async move {
                let _ = done_tx.send(shutdown.await);
            })
            .detach();
    });
    assert!(
        closed_by_server(&mut idle),
        "the idle connection stays open"
    );
    partial.write_all(b"st: t\r\n\r\n").unwrap();
    let response = read_response(&mut partial, "GET").expect("the partial request's response");
    assert_eq!((response.status, response.text().as_str()), (200, "done"));
    assert_eq!(response.header("connection"), Some("close"));
    assert!(
        done.try_recv().is_err(),
        "the shutdown completed with a request in flight"
    );
    release.send(()).unwrap();
    let response = read_response(&mut busy, "GET").expect("the slow response");
    assert_eq!((response.status, response.text().as_str()), (200, "done"));
    assert_eq!(response.header("connection"), Some("close"));
    assert!(closed_by_server(&mut busy));
    assert_eq!(done.recv_timeout(WAIT).expect("the shutdown completed"), 0);
    // No longer listening.
    if let Ok(mut late) = TcpStream::connect(server.addr) {
        late.set_read_timeout(Some(WAIT)).unwrap();
        let _ = late.write_all(get_request("/").as_bytes());
        assert!(
            closed_by_server(&mut late),
            "a connection after the shutdown is served"
        );
    }
}

// ---------------------------------------------------------------------
// 10. Blocking work in the executor
// ---------------------------------------------------------------------

#[test]
fn a_handler_awaiting_run_in_executor_answers_while_the_loop_serves_others() {
    let (job_tx, job_rx) = mpsc::channel::<u64>();
    let (started_tx, started) = mpsc::channel::<()>();
    let job_rx = Arc::new(Mutex::new(Some(job_rx)));
    let server = TestServer::start_with(Config::default(), move || {
        move |request: Request| {
            let job = (request.path() == "/blocking")
                .then(|| job_rx.lock().unwrap().take())
                .flatten();
            let started = started_tx.clone();
            async move {
                let Some(input) = job else {
                    return Response::text(200, "quick");
                };
                let result = IOLoop::current()
                    .run_in_executor(move || {
                        let _ = started.send(());
                        // Blocks this thread until the test sends a value.
                        let n = input.recv_timeout(WAIT).unwrap_or(0);
                        let thread = std::thread::current().name().unwrap_or("").to_owned();
                        (n * 2, thread)
                    })
                    .await;
                match result {
                    Ok((n, thread)) => Response::text(200, format!("{n} from {thread:?}")),
                    Err(err) => Response::error(500, &err.to_string()),
                }
            }
        }
    });
    let mut blocking = server.connect();
    blocking
        .write_all(get_request("/blocking").as_bytes())
        .unwrap();
    started
        .recv_timeout(WAIT)
        .expect("the blocking job started");
    // The loop is free while the job blocks its thread.
    let mut other = server.connect();
    let quick = ask(&mut other, &get_request("/"));
    assert_eq!((quick.status, quick.text().as_str()), (200, "quick"));

    job_tx.send(21).unwrap();
    let response = read_response(&mut blocking, "GET").expect("the blocking response");
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(
        response.text().starts_with("42 from "),
        "{}",
        response.text()
    );
    assert!(
        !response.text().contains("http-test"),
        "the job ran on the loop thread: {}",
        response.text()
    );
}
