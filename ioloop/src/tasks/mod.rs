//! Futures on the loop.

pub(crate) mod executor;
pub(crate) mod readiness;
pub(crate) mod remote_task;
pub(crate) mod run_sync;
pub(crate) mod task;
pub(crate) mod thread;
pub(crate) mod time;
