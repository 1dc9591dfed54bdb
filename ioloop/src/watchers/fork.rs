//! A loop and `fork()`: [`IOLoop::reset_after_fork`] (libev's
//! `ev_loop_fork`, mood.event's `reset`, libuv's `uv_loop_fork`), and the
//! check that refuses to run a loop in a process other than the one that
//! created it (Tornado 5's rule [L13](crate::guide::rules#l13)).
//!
//! After `fork()` the child shares the parent's epoll instance: every
//! registration the child adds, changes or removes would change the
//! parent's, and both processes would take each other's events. So the
//! loop records the pid that created it, `start` (and `run`, `run_once`,
//! `run_sync`) compare it with the current pid (one `getpid` per call, not
//! per iteration), and the child must call `reset_after_fork`, which gives
//! the loop a poller of its own.

use crate::{Error, IOLoop};

/// True if this process created `ioloop` (or reset it after a fork).
pub(crate) fn same_process(ioloop: &IOLoop) -> bool {
    ioloop.inner.watchers.owner_pid.get() == std::process::id()
}

/// [`Error::Forked`] if this process did not create `ioloop`.
pub(crate) fn check(ioloop: &IOLoop) -> Result<(), Error> {
    let created_in = ioloop.inner.watchers.owner_pid.get();
    let now_in = std::process::id();
    if created_in == now_in {
        Ok(())
    } else {
        Err(Error::Forked { created_in, now_in })
    }
}

impl IOLoop {
    /// Gives the loop a poller of its own in a child process after
    /// `fork()`: a new epoll instance and a new waker, with every handler
    /// registered again (libev's `ev_loop_fork`, libuv's `uv_loop_fork`).
    /// Until it is called, the loop refuses to run in the child with
    /// [`Error::Forked`].
    ///
    /// # Semantics
    ///
    /// * Call it in the child, first thing, before any other call on the
    ///   loop: until then the loop's epoll instance is the parent's, and
    ///   `add_handler`, `update_handler` or `remove_handler` would change
    ///   the parent's registrations. The parent's loop is never touched:
    ///   its epoll set keeps all its registrations.
    /// * Handlers, timeouts, callbacks, tasks and hooks carry over (the
    ///   child has copies of them, as of everything in its memory);
    ///   callbacks and timeouts pending at the fork run in both processes.
    /// * Child watchers are removed (the processes are the parent's
    ///   children, not the child's), with their callbacks dropped.
    /// * Like any code between `fork()` and `exec()` in a process that had
    ///   several threads, this is only safe if no other thread held a lock
    ///   the loop needs (its remote queue, the allocator). Fork from a
    ///   single-threaded process, as servers that fork workers do.
    /// * In the parent, or in a process that created the loop, it rebuilds
    ///   the poller all the same (harmless, and costs one system call per
    ///   handler).
    ///
    /// A loop used in a child without this call is not silently shared:
    /// `start` fails with [`Error::Forked`], whose message names both
    /// processes, and `close` leaves the parent's epoll set alone.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] on a closed loop; an `io::Error` if the new epoll
    /// instance or waker cannot be created (the loop keeps its old poller
    /// and stays unusable in the child). A handler whose descriptor is no
    /// longer open is removed with a warning, not reported as an error.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// // ... add handlers, then fork (with libc::fork or a wrapper) ...
    /// # let in_child = false;
    /// if in_child {
    ///     ioloop.reset_after_fork()?;
    ///     ioloop.start()?;
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reset_after_fork(&self) -> Result<(), Error> {
        let inner = &self.inner;
        if inner.closed.get() {
            return Err(Error::Closed);
        }
        let gone = inner.replace_poller()?;
        inner.watchers.owner_pid.set(std::process::id());
        for fd in gone {
            drop(self.remove_handler(fd));
        }
        crate::watchers::children::forget_after_fork(self);
        // The signal self-pipe and its signal-hook actions are the parent's.
        inner.signals.reset_after_fork(self)?;
        Ok(())
    }
}
