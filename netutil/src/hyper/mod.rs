//! hyper 1.x on the loop (the `hyper` feature): the runtime pieces hyper
//! asks of an executor, and an HTTP client for
//! [`IOLoop::run_sync`](ioloop::IOLoop::run_sync).
//!
//! * [`IOStream`](crate::IOStream) implements hyper's
//!   [`Read`](::hyper::rt::Read) and [`Write`](::hyper::rt::Write), so a
//!   stream goes to hyper as it is.
//! * [`LoopExecutor`] spawns hyper's background tasks (HTTP/2 streams,
//!   client connections) on the loop; they need not be `Send`.
//! * [`LoopTimer`] gives hyper its timeouts (header read timeout, keep-alive
//!   pings) on the loop's timeouts.
//! * [`server_builder`]: hyper-util's server builder for HTTP/1.1 and
//!   HTTP/2 (prior knowledge, `h2c`) with both of the above.
//! * [`Client`], [`Request`], [`Response`], [`fetch`]: an HTTP/1.1 client
//!   with a keep-alive pool, after Tornado's `AsyncHTTPClient`.
//!
//! # Examples
//!
//! A hyper service on the loop, answered by the client:
//!
//! ```
//! use std::convert::Infallible;
//! use http_body_util::Full;
//! use hyper::body::{Bytes, Incoming};
//! use netutil::{IOStream, TCPServer};
//!
//! async fn hello(_: hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
//!     Ok(hyper::Response::new(Full::new(Bytes::from("Hello, World!"))))
//! }
//!
//! let ioloop = ioloop::IOLoop::new()?;
//! let builder = netutil::hyper::server_builder(&ioloop);
//! let server = TCPServer::new(move |stream: IOStream, _| {
//!     let builder = builder.clone();
//!     async move {
//!         let service = hyper::service::service_fn(hello);
//!         let _ = builder.serve_connection(stream, service).await;
//!     }
//! });
//! let port = server.listen(0, Some("127.0.0.1"))?[0].port();
//! let url = format!("http://127.0.0.1:{port}/");
//! let response = ioloop.run_sync(|| netutil::hyper::fetch(&url), None)??;
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.body(), b"Hello, World!");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Thread safety
//!
//! Everything here runs on the loop's thread: the streams are not `Send`,
//! and neither are the futures [`LoopExecutor`] spawns. [`LoopTimer`] is
//! `Send + Sync` as hyper requires, and its sleeps may be polled from any
//! thread, but they fire only while the loop runs.

mod client;
mod deadlines;
mod executor;
mod timer;

pub use self::client::{
    Client, DEFAULT_MAX_BODY_SIZE, DEFAULT_TIMEOUT, FetchError, FetchErrorKind, MAX_IDLE_PER_HOST,
    Request, Response, fetch,
};
pub use self::executor::LoopExecutor;
pub use self::timer::{LoopSleep, LoopTimer};

use hyper_util::server::conn::auto;
use ioloop::IOLoop;

/// hyper-util's automatic HTTP/1.1 and HTTP/2 server builder, with tasks
/// spawned on the loop: what [`server_builder`] returns.
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
/// use http_body_util::Full;
/// use hyper::body::{Bytes, Incoming};
/// use netutil::{IOStream, TCPServer};
///
/// async fn hello(_: hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
///     Ok(hyper::Response::new(Full::new(Bytes::from("Hello, World!"))))
/// }
///
/// let ioloop = ioloop::IOLoop::new()?;
/// let mut builder: netutil::hyper::ServerBuilder = netutil::hyper::server_builder(&ioloop);
/// builder.http1().keep_alive(true);
/// let server = TCPServer::new(move |stream: IOStream, _| {
///     let builder = builder.clone();
///     async move {
///         let _ = builder.serve_connection(stream, hyper::service::service_fn(hello)).await;
///     }
/// });
/// let port = server.listen(0, Some("127.0.0.1"))?[0].port();
/// let url = format!("http://127.0.0.1:{port}/");
/// let response = ioloop.run_sync(|| netutil::hyper::fetch(&url), Some(std::time::Duration::from_secs(10)))??;
/// assert_eq!(response.body(), b"Hello, World!");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type ServerBuilder = auto::Builder<LoopExecutor>;

/// hyper-util's server builder for the loop: HTTP/1.1 and HTTP/2 with
/// prior knowledge (`h2c`), told apart by the connection's first bytes,
/// with [`LoopExecutor`] and [`LoopTimer`] on `ioloop`.
///
/// Serve a connection with
/// [`serve_connection`](auto::Builder::serve_connection); tune HTTP/1.1
/// and HTTP/2 through [`http1`](auto::Builder::http1) and
/// [`http2`](auto::Builder::http2). See the [module docs](self) for an
/// example.
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
/// use http_body_util::Full;
/// use hyper::body::{Bytes, Incoming};
/// use netutil::{IOStream, TCPServer};
///
/// async fn hello(_: hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
///     Ok(hyper::Response::new(Full::new(Bytes::from("Hello, World!"))))
/// }
///
/// let ioloop = ioloop::IOLoop::new()?;
/// let builder = netutil::hyper::server_builder(&ioloop);
/// let server = TCPServer::new(move |stream: IOStream, _| {
///     let builder = builder.clone();
///     async move {
///         let _ = builder.serve_connection(stream, hyper::service::service_fn(hello)).await;
///     }
/// });
/// let port = server.listen(0, Some("127.0.0.1"))?[0].port();
/// let url = format!("http://127.0.0.1:{port}/");
/// let response = ioloop.run_sync(|| netutil::hyper::fetch(&url), Some(std::time::Duration::from_secs(10)))??;
/// assert_eq!(response.body(), b"Hello, World!");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn server_builder(ioloop: &IOLoop) -> ServerBuilder {
    let mut builder = auto::Builder::new(LoopExecutor::new(ioloop));
    builder.http1().timer(LoopTimer::new(ioloop));
    builder.http2().timer(LoopTimer::new(ioloop));
    builder
}
