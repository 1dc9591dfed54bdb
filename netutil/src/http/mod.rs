//! An HTTP/1.1 server on the loop, after Tornado's `HTTPServer`: a
//! [`Handler`] (an async function from [`Request`] to [`Response`]) answers
//! each request; the server does the protocol (parsing with `httparse`,
//! framing, keep-alive, pipelining, `100 Continue`), bounds every buffer
//! and wait, and stops gracefully.
//!
//! ```
//! use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
//!
//! let ioloop = ioloop::IOLoop::new()?;
//! let server = HTTPServer::new(
//!     |mut request: Request| async move {
//!         match (request.method().as_str(), request.path()) {
//!             ("GET", "/") => Response::text(200, "Hello, World!"),
//!             ("POST", "/echo") => match request.body().read_all().await {
//!                 Ok(body) => Response::new(200).with_body(body),
//!                 Err(err) => Response::error(400, &err.to_string()),
//!             },
//!             _ => Response::error(404, "no such page"),
//!         }
//!     },
//!     HTTPServerOptions::default(),
//! );
//! let addr = server.listen(0, Some("127.0.0.1"))?[0];
//! # let client = std::thread::spawn(move || {
//! #     use std::io::{Read, Write};
//! #     let mut conn = std::net::TcpStream::connect(addr).unwrap();
//! #     conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
//! #     let mut response = String::new();
//! #     conn.read_to_string(&mut response).unwrap();
//! #     response
//! # });
//! # let response = ioloop.run_sync(
//! #     || ioloop.run_in_executor(move || client.join().unwrap()),
//! #     Some(std::time::Duration::from_secs(10)),
//! # )??;
//! # assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
//! # assert!(response.ends_with("\r\n\r\nHello, World!"), "{response}");
//! // ioloop.start() serves until the loop is stopped.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What a client cannot do
//!
//! * **Exhaust memory.** A request head is bounded
//!   ([`max_header_bytes`](HTTPServerOptions::max_header_bytes), 431), a
//!   body too ([`max_body_bytes`](HTTPServerOptions::max_body_bytes), 413 as
//!   soon as a length or chunk size says so) and is read only as the
//!   handler asks; responses are rendered at most
//!   [`max_write_ahead`](HTTPServerOptions::max_write_ahead) bytes ahead of
//!   what the client reads, so a pipelined burst is answered as it is
//!   read; an idle keep-alive connection holds no buffer; connections are
//!   capped ([`max_connections`](HTTPServerOptions::max_connections)), and
//!   when descriptors run out the idle ones are closed, oldest first.
//! * **Hold a connection.** A head must arrive within the
//!   [`header_timeout`](HTTPServerOptions::header_timeout) (408); a body and
//!   a response must make progress every
//!   [`idle_timeout`](HTTPServerOptions::idle_timeout), and a body must
//!   also keep a minimum rate ([`min_body_rate`](HTTPServerOptions::min_body_rate)).
//!   A slow reader that keeps reading is served to the end.
//! * **Desynchronise the framing.** Ambiguous framing is refused with 400
//!   (both `Content-Length` and `Transfer-Encoding`, conflicting lengths,
//!   codings other than `chunked`, whitespace other than SP and HTAB,
//!   malformed chunk lines and trailers, an invalid `Host`, bytes outside
//!   visible ASCII in the target); a malformed version is 400, an
//!   unsupported one 505.
//!
//! A complete request is always answered before the server waits for
//! more input, and input already received is read before any deadline
//! closes a connection.

mod conn;
pub(crate) mod parse;
mod request;
mod response;
mod server;
pub(crate) mod wire;

pub use crate::http::parse::{Method, Version};
pub use crate::http::request::{BodyError, HeaderView, Request, RequestBody};
pub use crate::http::response::{Body, BodySender, ClientGone, HeaderError, Response};
pub use crate::http::server::{HTTPServer, HTTPServerOptions, Handler};
