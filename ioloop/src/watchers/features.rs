//! One byte saying which optional features a loop is using right now:
//! hooks of each kind, fed events, suspension. A loop that uses none of
//! them pays one load and one branch per iteration for all of them.

use std::cell::Cell;

/// A loop's feature bits. Loop thread only.
#[derive(Debug, Default)]
pub(crate) struct Features(Cell<u8>);

impl Features {
    /// At least one prepare hook is active.
    pub(crate) const PREPARE: u8 = 1;
    /// At least one check hook is active.
    pub(crate) const CHECK: u8 = 2;
    /// At least one idle hook is active.
    pub(crate) const IDLE: u8 = 4;
    /// Events fed with `feed_fd_event` wait to be dispatched.
    pub(crate) const FED: u8 = 8;
    /// The loop is suspended.
    pub(crate) const SUSPENDED: u8 = 16;

    /// The bits as they are now.
    #[inline(always)]
    pub(crate) fn in_use(&self) -> InUse {
        InUse(self.0.get())
    }

    /// True if any of `bits` is set.
    #[inline]
    pub(crate) fn has(&self, bits: u8) -> bool {
        self.0.get() & bits != 0
    }

    /// Sets or clears `bits`.
    pub(crate) fn set(&self, bits: u8, on: bool) {
        let old = self.0.get();
        self.0.set(if on { old | bits } else { old & !bits });
    }
}

/// The feature bits as an iteration read them, once, before its poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InUse(u8);

impl InUse {
    /// True if no watcher is in use: the busy path's one test.
    #[inline(always)]
    pub(crate) fn none(self) -> bool {
        self.0 == 0
    }

    /// True if any of `bits` was set.
    #[inline(always)]
    pub(crate) fn has(self, bits: u8) -> bool {
        self.0 & bits != 0
    }
}
