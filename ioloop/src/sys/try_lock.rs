//! [`TryLock`]: a lock that is only ever tried, never waited for, so a
//! signal handler may take it.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

/// A value behind a lock that is tried, never waited for: taking it is one
/// compare-exchange and releasing it one store, so a signal handler may
/// take it (and fail if the code it interrupted holds it). In a child made
/// by `fork`, a lock held by another thread at the fork stays held: tries
/// fail, they never hang.
pub(crate) struct TryLock<T> {
    /// INVARIANT: true exactly while a [`TryLockGuard`] exists; only the
    /// guard's holder touches `value`.
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands `&mut T` to one guard at a time (the
// compare-exchange in `try_lock` admits one holder), so sharing the lock
// between threads only ever moves access to `T` from one thread to
// another, which `T: Send` allows.
unsafe impl<T: Send> Sync for TryLock<T> {}

impl<T> TryLock<T> {
    pub(crate) const fn new(value: T) -> TryLock<T> {
        TryLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// The value, unless someone holds it.
    pub(crate) fn try_lock(&self) -> Option<TryLockGuard<'_, T>> {
        self.locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| TryLockGuard { lock: self })
    }
}

impl<T> std::fmt::Debug for TryLock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TryLock")
            .field("locked", &self.locked.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Access to a [`TryLock`]'s value, released on drop.
pub(crate) struct TryLockGuard<'a, T> {
    lock: &'a TryLock<T>,
}

impl<T> Deref for TryLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard is the lock's only holder (INVARIANT of
        // `locked`), so no `&mut T` exists elsewhere.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for TryLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard is the lock's only holder, and `&mut self`
        // makes this the only borrow through it.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for TryLockGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time() {
        let lock = TryLock::new(1);
        let mut guard = lock.try_lock().expect("free");
        *guard += 1;
        assert!(lock.try_lock().is_none(), "held");
        drop(guard);
        assert_eq!(*lock.try_lock().expect("released"), 2);
    }
}
