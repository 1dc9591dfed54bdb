//! The loop's core.

pub(crate) mod current;
pub(crate) mod deadline;
pub(crate) mod events;
pub(crate) mod exception;
pub(crate) mod handlers;
pub(crate) mod introspect;
pub(crate) mod ioloop;
pub(crate) mod poller;
pub(crate) mod remote;
pub(crate) mod run;
pub(crate) mod timers;
