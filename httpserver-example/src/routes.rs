//! The application of `httpserver-example`: four routes on
//! [`netutil::http`]. The server itself (parsing, keep-alive, limits,
//! timeouts, graceful stop) is the library's; this crate is the handler
//! and a `main` with flags.
//!
//! | route | methods | response |
//! |---|---|---|
//! | `/` | GET, HEAD | 200 `Hello, World!` (text/plain; charset=utf-8) |
//! | `/echo` | POST | 200 with the request body, as it arrives |
//! | `/delay?ms=N` | GET, HEAD | 200 `done` after N ms (a loop timeout; N ≤ 60000) |
//! | `/stream?chunks=N` | GET, HEAD | 200, streamed, N chunks `chunk K\n` (K = 1..=N; N ≤ 100000) |
//! | anything else | any | 404 |
//!
//! A known path with another method gets 405 with `Allow`.
//!
//! ```
//! use netutil::http::{HTTPServer, HTTPServerOptions};
//! use std::io::{Read, Write};
//!
//! let ioloop = ioloop::IOLoop::new()?;
//! let server = HTTPServer::new(httpserver_example::handle, HTTPServerOptions::default());
//! let addr = server.listen(0, Some("127.0.0.1"))?[0];
//! let client = std::thread::spawn(move || {
//!     let mut conn = std::net::TcpStream::connect(addr).unwrap();
//!     conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
//!     let mut response = String::new();
//!     conn.read_to_string(&mut response).unwrap();
//!     response
//! });
//! let response = ioloop.run_sync(
//!     || ioloop.run_in_executor(move || client.join().unwrap()),
//!     Some(std::time::Duration::from_secs(10)),
//! )??;
//! assert!(response.starts_with("HTTP/1.1 200 OK\r\n"));
//! assert!(response.ends_with("\r\n\r\nHello, World!"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(unsafe_code)]

use std::borrow::Cow;
use std::time::Duration;

use futures::StreamExt;
use netutil::http::{Body, Method, Request, Response};

/// The longest `/delay` allowed.
pub const MAX_DELAY_MS: u64 = 60_000;
/// The most chunks `/stream` sends.
pub const MAX_CHUNKS: u64 = 100_000;

/// Answers one request (the server's [`Handler`](netutil::http::Handler)).
pub async fn handle(mut request: Request) -> Response {
    let readable = matches!(request.method(), Method::Get | Method::Head);
    match request.path() {
        "/" if readable => text(200, "Hello, World!"),
        "/echo" if *request.method() == Method::Post => echo(&mut request).await,
        "/delay" if readable => match bounded_param(&request, "ms", MAX_DELAY_MS) {
            Some(ms) => {
                ioloop::IOLoop::current()
                    .sleep(Duration::from_millis(ms))
                    .await;
                text(200, "done")
            }
            None => Response::error(400, "ms must be an integer from 0 to 60000"),
        },
        "/stream" if readable => match bounded_param(&request, "chunks", MAX_CHUNKS) {
            // Rendered chunk by chunk as the client reads.
            Some(n) => text(
                200,
                Body::stream(
                    futures::stream::iter(1..=n).map(|k| Ok(format!("chunk {k}\n").into_bytes())),
                ),
            ),
            None => Response::error(400, "chunks must be an integer from 0 to 100000"),
        },
        "/" | "/delay" | "/stream" => not_allowed("GET, HEAD"),
        "/echo" => not_allowed("POST"),
        _ => Response::error(404, "no such path"),
    }
}

/// `POST /echo`: the body back, with the request's content type.
async fn echo(request: &mut Request) -> Response {
    let content_type = request
        .headers()
        .get("content-type")
        .unwrap_or("application/octet-stream")
        .to_owned();
    match request.body().read_all().await {
        Ok(body) => {
            let mut response = Response::new(200).with_body(body);
            if response.set_header("Content-Type", content_type).is_err() {
                response = Response::error(400, "invalid content-type");
            }
            response
        }
        // The server answers a malformed or oversized body itself.
        Err(err) => Response::error(400, &err.to_string()),
    }
}

/// A `text/plain; charset=utf-8` response.
fn text(status: u16, body: impl Into<Body>) -> Response {
    Response::text(status, body)
}

fn not_allowed(allow: &'static str) -> Response {
    let mut response = Response::error(405, "method not allowed");
    set(&mut response, "Allow", allow);
    response
}

/// Sets a field whose name and value are constants of this file.
fn set(response: &mut Response, name: &'static str, value: impl Into<Cow<'static, str>>) {
    if let Err(err) = response.set_header(name, value) {
        log::error!("{err}");
    }
}

fn bounded_param(request: &Request, name: &str, max: u64) -> Option<u64> {
    let value: u64 = request.query_argument(name)?.parse().ok()?;
    (value <= max).then_some(value)
}
