//! Integration tests for the `ioloop` crate: one module per concern, each
//! test named after the Tornado rule it checks (see
//! `ioloop::guide` and the rule catalogue L, C, T, O, H, E, S).

mod async_io;
mod callbacks;
mod current;
mod embedding;
mod exceptions;
mod handlers;
mod idle_and_io;
mod lifecycle;
mod ordering;
mod portable_poller;
mod remote;
mod run_sync;
mod stale_registrations;
mod stale_timeout_handles;
mod tasks;
mod timeouts;
mod util;

// Seed parity (issue 9): one module per concern.
mod batching;
mod children;
mod feed;
mod handles;
mod hooks;
mod introspection;
mod periodic;
mod run_modes;
mod suspend;
