//! Unix platforms other than Linux: no stack capture (the watchdog's
//! always-available layer still works) and the classic signals only.

use std::io;
use std::ops::RangeInclusive;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use libc::c_int;
pub(crate) use signal_hook_registry::SigId;

use crate::watchdog::slot::WatchdogSlot;

/// No stack capture on this platform.
pub(crate) const STACK_CAPTURE: bool = false;

/// A thread id (unused: no thread-directed capture here).
pub(crate) type Tid = i32;

pub(crate) fn current_tid() -> Option<Tid> {
    None
}

pub(crate) fn signal_thread(_tid: Tid, _signal: c_int) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// None: real-time signals are not used here.
pub(crate) fn realtime_signals() -> RangeInclusive<c_int> {
    RangeInclusive::new(1, 0)
}

pub(crate) fn max_standard_signal() -> c_int {
    31
}

pub(crate) fn disposition_is_default(_signal: c_int) -> io::Result<bool> {
    Ok(false)
}

pub(crate) fn blocked_on_this_thread(_signal: c_int) -> bool {
    false
}

pub(crate) fn current_stack() -> Option<std::ops::Range<usize>> {
    None
}

/// No unwind tables here.
#[derive(Debug)]
pub(crate) struct Modules;

impl Modules {
    pub(crate) fn load() -> Modules {
        Modules
    }

    pub(crate) fn generation(&self) -> (u64, u64) {
        (0, 0)
    }

    pub(crate) fn locate(&self, _address: usize) -> Option<(Arc<str>, u64)> {
        None
    }
}

pub(crate) fn loaded_objects_generation() -> (u64, u64) {
    (0, 0)
}

/// No stack walk here.
#[derive(Debug)]
pub(crate) struct Walker;

impl Walker {
    pub(crate) const fn new() -> Walker {
        Walker
    }

    pub(crate) fn prepare(&mut self, _modules: &Arc<Modules>) {}
}

pub(crate) fn register_stack_capture(
    _signal: c_int,
    _slot: Arc<WatchdogSlot>,
) -> io::Result<SigId> {
    Err(io::ErrorKind::Unsupported.into())
}

pub(crate) fn unregister(id: SigId) -> bool {
    signal_hook_registry::unregister(id)
}

/// A monotonic clock in nanoseconds from an arbitrary base: `Instant`
/// itself here, since its clock differs from platform to platform.
pub(crate) fn monotonic_ns() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static BASE: OnceLock<Instant> = OnceLock::new();
    let since = Instant::now().saturating_duration_since(*BASE.get_or_init(Instant::now));
    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
}

/// Timerfds are Linux's: the poll waits with its own timeout elsewhere.
pub(crate) fn timerfd() -> io::Result<OwnedFd> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Never called: [`timerfd`] fails off Linux.
pub(crate) fn timerfd_arm(_fd: BorrowedFd<'_>, _delay: Duration) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}
