//! The watchers libev, libuv, asyncio and evergreen loops offer beside
//! Tornado's API: optional parts that cost a loop nothing until used.
//!
//! * [`hooks`]: prepare, check and idle hooks;
//! * [`refs`]: which watchers keep [`IOLoop::run`](crate::IOLoop::run)
//!   going;
//! * [`run_modes`]: `run`, `run_forever` and `run_once`;
//! * [`batching`]: `io_interval` and `timeout_interval`;
//! * [`suspend`]: `suspend` and `resume`;
//! * [`feed`]: events fed as if the poller had reported them;
//! * [`children`]: child exit watchers;
//! * [`fork`]: a loop after `fork()`;
//! * [`periodic`]: [`PeriodicCallback`](crate::PeriodicCallback);
//! * [`handle`]: scheduling calls that return a cancellable handle;
//! * [`features`]: the byte that says which of these a loop uses.

pub(crate) mod batching;
pub(crate) mod children;
pub(crate) mod features;
pub(crate) mod feed;
pub(crate) mod fork;
pub(crate) mod handle;
pub(crate) mod hooks;
pub(crate) mod periodic;
pub(crate) mod refs;
pub(crate) mod run_modes;
pub(crate) mod suspend;
