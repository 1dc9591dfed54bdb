//! Reference counting, as in libuv: which watchers keep
//! [`IOLoop::run`](crate::IOLoop::run) going.
//!
//! Every watcher (handler, timeout, hook, periodic callback, child watcher,
//! signal handler) carries its own reference flag, set
//! with an idempotent `set_ref(bool)`-style call: libuv's per-handle
//! `uv_ref`/`uv_unref`, not libev's loop-wide counter that the user must
//! keep balanced. An unreferenced watcher works as usual; it just does not
//! count as work left, so `run` can return while it is still registered.
//!
//! The loop counts referenced watchers where they live: the handler table
//! and the timer heap count their unreferenced entries, and every other
//! kind of watcher holds a [`RefFlag`] that adds one to the loop's
//! [`KeepAlive`] count while it is both active and referenced. So "is
//! anything referenced left?" is a handful of loads, and costs nothing to
//! a loop run with `start`, which never asks.

use std::cell::Cell;
use std::os::fd::RawFd;

use crate::{IOLoop, TimeoutHandle};

/// The number of active, referenced watchers that are neither handlers nor
/// timeouts (hooks, periodic callbacks, signal handlers).
#[derive(Debug, Default)]
pub(crate) struct KeepAlive {
    count: Cell<usize>,
}

impl KeepAlive {
    pub(crate) fn get(&self) -> usize {
        self.count.get()
    }

    fn add(&self) {
        self.count.set(self.count.get() + 1);
    }

    fn sub(&self) {
        self.count.set(self.count.get() - 1);
    }
}

/// A watcher's two flags: active (registered on the loop) and referenced
/// (keeps `run` going; true by default). While both hold, the watcher
/// counts one in the loop's [`KeepAlive`]. Every method is idempotent.
///
/// For a watcher kind that lives outside the handler table and the timer
/// heap: give each watcher a `RefFlag`, `activate` it when it is
/// registered, `deactivate` it when it is removed (and at `close`), and
/// expose `set` as the watcher's `set_ref`.
#[derive(Debug)]
pub(crate) struct RefFlag {
    active: Cell<bool>,
    referenced: Cell<bool>,
}

impl Default for RefFlag {
    fn default() -> Self {
        RefFlag {
            active: Cell::new(false),
            referenced: Cell::new(true),
        }
    }
}

impl RefFlag {
    pub(crate) fn activate(&self, keep_alive: &KeepAlive) {
        if !self.active.replace(true) && self.referenced.get() {
            keep_alive.add();
        }
    }

    pub(crate) fn deactivate(&self, keep_alive: &KeepAlive) {
        if self.active.replace(false) && self.referenced.get() {
            keep_alive.sub();
        }
    }

    pub(crate) fn set(&self, keep_alive: &KeepAlive, referenced: bool) {
        if self.referenced.replace(referenced) != referenced && self.active.get() {
            if referenced {
                keep_alive.add();
            } else {
                keep_alive.sub();
            }
        }
    }

    pub(crate) fn is_active(&self) -> bool {
        self.active.get()
    }

    pub(crate) fn is_referenced(&self) -> bool {
        self.referenced.get()
    }
}

/// True if something referenced is left: see [`IOLoop::is_alive`].
pub(crate) fn alive(ioloop: &IOLoop) -> bool {
    let inner = &ioloop.inner;
    inner.has_referenced_work() || crate::watchers::alive(&inner.watchers)
}

impl IOLoop {
    /// True if the loop has referenced work left, the test
    /// [`run`](IOLoop::run) makes before each poll (libuv's
    /// `uv_loop_alive`).
    ///
    /// # Semantics
    ///
    /// Work left is any of:
    ///
    /// * a queued callback or woken task, including those sent by other
    ///   threads and not yet run, and an event fed with
    ///   [`feed_fd_event`](IOLoop::feed_fd_event) and not yet dispatched;
    /// * an unfinished task ([`spawn`](IOLoop::spawn),
    ///   [`add_future`](IOLoop::add_future), a running async
    ///   [`PeriodicCallback`](crate::PeriodicCallback) call), as libuv
    ///   counts active requests;
    /// * a **referenced** watcher: a handler (including a child watcher and
    ///   a readiness future's), a timeout (including a sleeping
    ///   [`sleep`](crate::sleep) and a running periodic callback's next
    ///   call), an active hook, a signal handler (the loop's signal
    ///   self-pipe never counts).
    ///
    /// Watchers are referenced by default; [`set_handler_ref`](IOLoop::set_handler_ref),
    /// [`set_timeout_ref`](IOLoop::set_timeout_ref), [`Hook::set_ref`](crate::Hook::set_ref),
    /// [`TimerHandle::set_ref`](crate::TimerHandle::set_ref),
    /// [`PeriodicCallback::set_ref`](crate::PeriodicCallback::set_ref) and
    /// [`set_child_ref`](IOLoop::set_child_ref) and
    /// [`set_signal_handler_ref`](IOLoop::set_signal_handler_ref) change that. A
    /// [`Remote`](crate::Remote) does not keep the loop alive (nor does the
    /// loop's own waker); the callbacks it sends do, once sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// assert!(!ioloop.is_alive());
    /// let timeout = ioloop.call_later(Duration::from_secs(60), || {});
    /// assert!(ioloop.is_alive());
    /// ioloop.set_timeout_ref(timeout, false);
    /// assert!(!ioloop.is_alive(), "an unreferenced timeout does not count");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_alive(&self) -> bool {
        alive(self)
    }

    /// Marks `fd`'s handler as keeping [`run`](IOLoop::run) going (the
    /// default) or not: libuv's per-handle `uv_ref`/`uv_unref`. Idempotent.
    /// An unreferenced handler is still called; it just does not count as
    /// work left. The flag belongs to the registration: a new
    /// `add_handler` for the same `fd` starts referenced.
    ///
    /// Returns false if `fd` has no handler.
    ///
    /// # Examples
    ///
    /// A listening socket that should not keep a one-shot tool running:
    ///
    /// ```
    /// use std::net::TcpListener;
    /// use std::os::fd::AsRawFd;
    /// use ioloop::{Events, IOLoop};
    ///
    /// let ioloop = IOLoop::new()?;
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// ioloop.add_handler(listener.as_raw_fd(), Events::READ, |_, _| {})?;
    /// assert!(ioloop.is_alive());
    /// assert!(ioloop.set_handler_ref(listener.as_raw_fd(), false));
    /// assert!(!ioloop.is_alive());
    /// ioloop.run()?; // returns at once: nothing referenced is left
    /// ioloop.remove_handler(listener.as_raw_fd());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_handler_ref(&self, fd: RawFd, referenced: bool) -> bool {
        self.inner
            .handlers
            .borrow_mut()
            .set_referenced(fd, referenced)
    }

    /// Marks a pending timeout as keeping [`run`](IOLoop::run) going (the
    /// default) or not. Idempotent. An unreferenced timeout still fires if
    /// the loop is running at its deadline.
    ///
    /// Returns false if the timeout already ran or was removed, or belongs
    /// to another loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let housekeeping = ioloop.call_later(Duration::from_secs(3600), || {});
    /// ioloop.set_timeout_ref(housekeeping, false);
    /// ioloop.add_callback(|| println!("the real work"));
    /// ioloop.run()?; // runs the callback, then returns: it does not wait an hour
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_timeout_ref(&self, handle: TimeoutHandle, referenced: bool) -> bool {
        handle.loop_id == self.inner.id
            && self
                .inner
                .timers
                .borrow_mut()
                .set_referenced(handle.key, referenced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_flags_count_once_while_active_and_referenced() {
        let keep_alive = KeepAlive::default();
        let flag = RefFlag::default();
        flag.set(&keep_alive, false);
        assert_eq!(keep_alive.get(), 0, "inactive: not counted");
        flag.activate(&keep_alive);
        assert_eq!(keep_alive.get(), 0, "unreferenced: not counted");
        flag.set(&keep_alive, true);
        flag.set(&keep_alive, true);
        flag.activate(&keep_alive);
        assert_eq!(keep_alive.get(), 1, "idempotent");
        flag.deactivate(&keep_alive);
        flag.deactivate(&keep_alive);
        assert_eq!(keep_alive.get(), 0);
        flag.set(&keep_alive, false);
        assert_eq!(keep_alive.get(), 0);
    }
}
