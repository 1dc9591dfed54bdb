//! An HTTP/1.1 server on [`ioloop`] and [`netutil`]: the project's main
//! runnable job, and a library so tests can run it in-process.
//!
//! The pieces, from the wire up:
//!
//! * [`http1`]: request parsing (with `httparse`) and body framing, without
//!   I/O, strict about ambiguous framing (no request smuggling);
//! * [`response`]: response heads, chunked bodies and the cached `Date`;
//! * [`routes`]: the application;
//! * [`Server`]: a task per connection on netutil's `TCPServer`, with
//!   deadlines, bounded buffers and graceful shutdown.
//!
//! ```
//! use httpserver_example::{Config, Server};
//! use std::io::{Read, Write};
//!
//! let ioloop = ioloop::IOLoop::new()?;
//! let server = Server::new(Config { port: 0, ..Config::default() });
//! let addr = server.listen()?[0];
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

mod config;
pub mod http1;
pub mod response;
pub mod routes;
mod server;

pub use crate::config::Config;
pub use crate::server::Server;
