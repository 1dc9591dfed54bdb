//! Platform code: every `unsafe` block of the crate lives under this
//! module, behind small safe functions.
//!
//! Each platform module (`linux`, `other`) provides the same items:
//!
//! * `STACK_CAPTURE`: whether the blocking watchdog can capture the loop
//!   thread's stack (its layer B) on this platform.
//! * `Tid`, `current_tid()`: the calling thread's kernel id, the target of
//!   a thread-directed signal (`None` where there is none).
//! * `signal_thread(tid, signal)`: sends `signal` to one thread of this
//!   process; a thread that has exited is an error, never undefined
//!   behaviour.
//! * `realtime_signals()`: the real-time signals the C library leaves to
//!   applications (`SIGRTMIN()..=SIGRTMAX()`; empty where there are none).
//! * `max_standard_signal()`: the highest classic signal number.
//! * `disposition_is_default(signal)`: nobody has installed a handler for
//!   `signal` (nor ignores it).
//! * `blocked_on_this_thread(signal)`: the calling thread's signal mask
//!   blocks `signal`.
//! * `current_stack()`: the calling thread's stack bounds (`None` where
//!   unknown).
//! * `Modules` (`load()`, `generation()`), `loaded_objects_generation()`
//!   and `Walker` (`new()`, `prepare(modules)`): the loaded objects'
//!   unwind tables, copied on the watchdog thread, and what one loop's
//!   stack walk uses in signal context.
//! * `monotonic_ns()`: the monotonic clock `Instant` reads, in nanoseconds
//!   from an arbitrary base, read without `Instant`'s arithmetic.
//! * `register_stack_capture(signal, slot)` / `unregister(id)`: installs
//!   (through signal-hook's registry, so other handlers keep working) and
//!   removes the action that records the stack of the thread a capture was
//!   requested for into `slot`.
//!
//! Portable helpers that need `unsafe` live beside them:
//! [`AtomicSite`], [`TryLock`] (a lock a signal handler may try) and
//! [`PerProcess`] (a value a child made by `fork` makes anew).
//!
//! * [`process`]: child processes (`pidfd_open`, a non-reaping check that a
//!   pid is an unreaped child, `waitpid` without blocking). On Linux; the
//!   other platforms report `Unsupported`.

mod location;
mod per_process;
mod try_lock;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::*;
#[cfg(target_os = "linux")]
mod unwind;
#[cfg(target_os = "linux")]
pub(crate) use unwind::{Modules, Walker, current_stack, loaded_objects_generation};

#[cfg(not(target_os = "linux"))]
mod other;
#[cfg(not(target_os = "linux"))]
pub(crate) use other::*;

pub(crate) use location::AtomicSite;
pub(crate) use per_process::PerProcess;
pub(crate) use try_lock::TryLock;

pub(crate) mod process;
