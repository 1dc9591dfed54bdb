//! [`PerProcess`]: a value each process makes for itself, so a child made
//! by `fork` never uses its parent's.

use std::sync::atomic::{AtomicPtr, Ordering};

/// A value made on first use in each process: after `fork`, the child's
/// first [`get`](PerProcess::get) makes a new one instead of using the
/// copy of its parent's, whose locks other threads of the parent may have
/// held at the fork (they stay held in the child, where those threads do
/// not exist).
///
/// Each value lives as long as the process that made it (a child leaks
/// its copy of the parent's, a few bytes).
pub(crate) struct PerProcess<T: 'static> {
    /// INVARIANT: null, or a pointer from `Box::into_raw` that is never
    /// freed, to the pid of the process that made the value and the value.
    current: AtomicPtr<(u32, T)>,
    make: fn() -> T,
}

impl<T: Sync + 'static> PerProcess<T> {
    pub(crate) const fn new(make: fn() -> T) -> PerProcess<T> {
        PerProcess {
            current: AtomicPtr::new(std::ptr::null_mut()),
            make,
        }
    }

    /// This process's value, made now if need be.
    pub(crate) fn get(&self) -> &'static T {
        let pid = std::process::id();
        loop {
            let current = self.current.load(Ordering::Acquire);
            if !current.is_null() {
                // SAFETY: a non-null pointer here came from Box::into_raw
                // and is never freed (INVARIANT of `current`), so it is
                // valid for 'static; `T: Sync` lets threads share it.
                let (made_in, value) = unsafe { &*current };
                if *made_in == pid {
                    return value;
                }
            }
            let fresh = Box::into_raw(Box::new((pid, (self.make)())));
            match self
                .current
                .compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire)
            {
                // SAFETY: `fresh` was just made by Box::into_raw and is now
                // published, never to be freed.
                Ok(_) => return unsafe { &(*fresh).1 },
                Err(_) => {
                    // Another thread of this process made one first.
                    // SAFETY: `fresh` was never published: this is its only
                    // owner.
                    drop(unsafe { Box::from_raw(fresh) });
                }
            }
        }
    }
}

impl<T> std::fmt::Debug for PerProcess<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerProcess").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_per_process() {
        static VALUE: PerProcess<std::sync::Mutex<u32>> =
            PerProcess::new(|| std::sync::Mutex::new(7));
        *VALUE.get().lock().unwrap() += 1;
        assert_eq!(*VALUE.get().lock().unwrap(), 8);
        assert!(std::ptr::eq(VALUE.get(), VALUE.get()));
    }
}
