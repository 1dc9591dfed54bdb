//! The synchronisation primitives of the mailbox protocol.
//!
//! Built with `--cfg loom`, they come from [loom], which runs the models in
//! `loom_model` under every interleaving of their threads; otherwise from
//! `std`. The mailbox uses nothing else, so the model checks the code that
//! ships.
//!
//! [loom]: https://docs.rs/loom

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
