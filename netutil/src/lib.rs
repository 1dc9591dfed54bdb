//! Networking on the [`ioloop`] event loop.
//!
//! This crate is where listening sockets, accept handlers, resolvers,
//! buffered streams and the TCP server will live. It holds nothing yet: until
//! they land, build on [`ioloop::IOLoop::add_handler`] directly.

#![deny(unsafe_code)]

pub use ioloop;
