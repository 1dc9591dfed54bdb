//! An HTTP/1.1 server on [`ioloop`] and [`netutil`]: the project's main
//! runnable job, and a library so tests can run it in-process.
//!
//! The pieces, from the wire up:
//!
//! * [`http1`]: request parsing (with `httparse`) and body framing, without
//!   I/O, strict about ambiguous framing (no request smuggling);
//! * [`response`]: response heads, chunked bodies and the cached `Date`;
//! * [`routes`]: the application.

#![deny(unsafe_code)]

pub mod http1;
pub mod response;
pub mod routes;
