//! Watchers beside the core.

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
