//! Integration tests for the `netutil` crate: one module per concern. The
//! descriptor-exhaustion and multi-process tests are separate binaries
//! (`netutil_emfile`, `netutil_fork`) that run single-threaded.
//!
//! Loops come from `util::new_loop` (a `TestLoop`: a failed assertion
//! inside a callback fails the test) and run through `util::run`,
//! `util::start` or `util::run_until_idle`, each with a time limit.

mod accept;
mod backpressure;
mod bind;
mod errors;
mod iostream;
mod resolver;
mod subprocess;
mod tcpclient;
mod tcpserver;
mod udp;
mod unix;
mod util;
