//! Integration tests for the `netutil` crate: one module per concern. The
//! descriptor-exhaustion and multi-process tests are separate binaries
//! (`netutil_emfile`, `netutil_fork`) that run single-threaded.

mod accept;
mod bind;
mod iostream;
mod resolver;
mod subprocess;
mod tcpclient;
mod tcpserver;
mod unix;
mod util;
