//! Integration tests for the `ioloop` crate: one module per concern, each
//! test named after the Tornado rule it checks (see
//! `ioloop::guide` and the rule catalogue L, C, T, O, H, E, S).
//!
//! Every test builds its loop as a `util::TestLoop`, so an assertion that
//! fails inside a callback fails the test (the loop itself would only
//! report it), and runs it through a `util` helper (`run`,
//! `run_until_idle`, `bounded`), so a bug gives a failure within seconds,
//! not a hang. Tests of the exception handler opt out by installing their
//! own handler, or by using a plain `IOLoop` when they read the default
//! handler's log.

mod async_io;
mod callbacks;
mod causal_order;
mod current;
mod embedding;
mod exceptions;
mod handlers;
mod idle_and_io;
mod lifecycle;
mod ordering;
mod portable_poller;
mod remote;
mod remote_spawn;
mod run_sync;
mod stale_registrations;
mod stale_timeout_handles;
mod tasks;
mod timeouts;
mod util;

mod batching;
mod children;
mod feed;
mod handles;
mod hooks;
mod introspection;
mod periodic;
mod run_modes;
mod suspend;
