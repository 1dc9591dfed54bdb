//! Futures on the loop: the loop as a single-threaded executor.
//!
//! * [`task`]: spawned futures, their wakers and join handles;
//! * [`readiness`]: a future that waits for a descriptor's events;
//! * [`time`]: sleep, timeout and yield, on the loop's timeouts;
//! * [`run_sync`]: run the loop until one future completes;
//! * [`executor`]: `run_in_executor` and its thread pool;
//! * [`remote_task`]: spawn on a loop from another thread;
//! * [`thread`]: a loop on a thread of its own.

pub(crate) mod executor;
pub(crate) mod readiness;
pub(crate) mod remote_task;
pub(crate) mod run_sync;
pub(crate) mod task;
pub(crate) mod thread;
pub(crate) mod time;
