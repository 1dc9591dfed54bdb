//! [`AtomicLocation`]: a `&'static Location` that one thread publishes and
//! another reads.

use std::panic::Location;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// An atomic `Option<&'static Location<'static>>`.
///
/// The loop thread stores the registration site of the callback it runs;
/// the watchdog thread reads it to say what is blocking the loop.
pub(crate) struct AtomicLocation {
    /// INVARIANT: null, or a pointer made from a `&'static Location<'static>`
    /// by [`store`](AtomicLocation::store), its only writer.
    ptr: AtomicPtr<Location<'static>>,
}

impl AtomicLocation {
    /// No location yet.
    pub(crate) const fn new() -> AtomicLocation {
        AtomicLocation {
            ptr: AtomicPtr::new(ptr::null_mut()),
        }
    }

    #[inline]
    pub(crate) fn store(&self, site: &'static Location<'static>, order: Ordering) {
        self.ptr.store(ptr::from_ref(site).cast_mut(), order);
    }

    pub(crate) fn load(&self, order: Ordering) -> Option<&'static Location<'static>> {
        let site = self.ptr.load(order);
        // SAFETY: by the field's invariant `site` is null or was made from a
        // `&'static Location<'static>`: it points to a value that lives for
        // the rest of the program and is never written (a `Location` has no
        // interior mutability), so a shared `'static` reference to it is
        // valid on any thread.
        unsafe { site.as_ref() }
    }
}
