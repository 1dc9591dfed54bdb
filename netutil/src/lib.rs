//! Networking on the [`ioloop`] event loop: listening sockets, accept
//! handlers, name resolution, buffered streams, a TCP server and client,
//! and multi-process servers, after Tornado's `netutil`, `iostream`,
//! `tcpserver`, `tcpclient` and `process` modules, and an HTTP/1.1 server
//! library after Tornado's `httpserver` ([`http`], the default `http`
//! feature).
//!
//! An HTTP server, in ten lines:
//!
//! ```no_run
//! # #[cfg(feature = "http")] {
//! use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
//!
//! async fn hello(request: Request) -> Response {
//!     Response::text(200, format!("hello from {}\n", request.path()))
//! }
//!
//! let ioloop = ioloop::IOLoop::new().unwrap();
//! let server = HTTPServer::new(hello, HTTPServerOptions::default());
//! println!("listening on http://{}", server.listen(8888, Some("127.0.0.1")).unwrap()[0]);
//! ioloop.start().unwrap();
//! # }
//! ```
//!
//! A TCP server and client on the same loop:
//!
//! ```
//! use netutil::{IOStream, TCPClient, TCPServer};
//!
//! let ioloop = ioloop::IOLoop::new()?;
//!
//! // A server: each connection is a stream handed to this async closure,
//! // which runs as a task of its own. It answers each line in upper case.
//! let server = TCPServer::new(|stream: IOStream, _address| async move {
//!     while let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
//!         if stream.write(&line.to_ascii_uppercase()).await.is_err() {
//!             break;
//!         }
//!     }
//! });
//! // Port 0: the kernel picks a free port; listen returns the address.
//! let port = server.listen(0, Some("127.0.0.1"))?[0].port();
//!
//! // A client on the same loop: resolve, connect, talk.
//! let reply = ioloop.run_sync(
//!     || async move {
//!         let stream = TCPClient::new().connect("localhost", port).await?;
//!         stream.write(b"hello\n").await?;
//!         stream.read_until(b"\n", Some(1024)).await
//!     },
//!     Some(std::time::Duration::from_secs(10)),
//! )??;
//! assert_eq!(reply, b"HELLO\n");
//! server.stop(); // stops accepting; open connections finish on their own
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is here
//!
//! * Sockets: [`bind_sockets`] (and [`BindOptions`]), [`bind_unix_socket`].
//! * Accepting: [`add_accept_handler`] (and [`AcceptOptions`]) returning an
//!   [`AcceptHandle`]; it pauses, rather than spins, when descriptors run
//!   out.
//! * Names: the [`Resolver`] trait, [`ThreadedResolver`] (the default),
//!   [`OverrideResolver`], [`is_valid_ip`].
//! * Streams: [`IOStream`] (and [`StreamOptions`]), with
//!   [`StreamClosedError`] saying why a stream closed. `IOStream`
//!   implements `futures::io::AsyncRead` and `AsyncWrite`;
//!   [`AsyncIOStream`] adds `AsyncBufRead` over the stream's own buffer.
//! * Servers and clients: [`TCPServer`], [`TCPClient`].
//! * Datagrams: [`UdpSocket`] (and [`UdpOptions`]), with [`UdpError`]
//!   for the failures a caller branches on.
//! * Processes: [`fork_processes`], [`task_id`]; [`Subprocess`] (and
//!   [`SubprocessOptions`]), a child process with its pipes as streams
//!   and its exit as a future ([`WaitForExit`], [`CalledProcessError`]).
//! * HTTP: [`http::HTTPServer`] (and [`http::HTTPServerOptions`]) with
//!   handlers from [`http::Request`] to [`http::Response`], behind the
//!   default `http` feature.
//! * TLS: [`tls::ServerTls`], [`tls::ClientTls`] and
//!   [`IOStream::start_tls`], behind the default `tls` feature.
//! * hyper 1.x on the loop, and an HTTP client: `netutil::hyper`, behind
//!   the `hyper` feature.
//! * [`guide`]: Tornado's API, function by function, and what it maps to.
//!
//! # Portability
//!
//! Unix; developed and tested on Linux. `SO_REUSEPORT`, abstract Unix
//! socket names and `accept4` are used where the platform has them.

#![deny(unsafe_code)]

mod error;
mod process;
mod resolver;
mod socket;
mod stream;
#[allow(unsafe_code)]
mod sys;
mod tcp;

pub mod guide;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "hyper")]
pub mod hyper;
#[cfg(feature = "tls")]
pub mod tls;

pub use crate::process::fork::{DEFAULT_MAX_RESTARTS, fork_processes, task_id};
pub use crate::process::subprocess::{
    CalledProcessError, Subprocess, SubprocessOptions, WaitForExit,
};
pub use crate::resolver::{
    OverrideResolver, RESOLVER_THREADS, ResolveFuture, Resolver, ThreadedResolver, is_valid_ip,
};
pub use crate::socket::accept::{
    AcceptHandle, AcceptOptions, AnyListener, DEFAULT_MAX_ACCEPTS_PER_EVENT, Listener, PAUSE_MAX,
    PAUSE_MIN, PeerAddr, add_accept_handler,
};
pub use crate::socket::bind::{
    BindOptions, DEFAULT_BACKLOG, Family, bind_sockets, bind_unix_socket,
};
pub use crate::socket::udp::{
    DEFAULT_MAX_SEND_QUEUE, RecvFrom, SendTo, UdpError, UdpOptions, UdpSocket,
};
pub use crate::stream::closed::StreamClosedError;
pub use crate::stream::iostream::{
    AsyncIOStream, DEFAULT_MAX_BUFFER_SIZE, DEFAULT_MAX_WRITE_BUFFER_SIZE, DEFAULT_READ_CHUNK_SIZE,
    FillUntil, IOStream, ReadBytes, ReadInto, ReadMore, ReadUntil, ReadUntilClose, StreamOptions,
    Write,
};
pub use crate::tcp::client::{SECONDARY_FAMILY_DELAY, TCPClient};
pub use crate::tcp::server::TCPServer;
pub use ioloop;
