//! Child exit watchers: [`IOLoop::add_child_handler`] (libev's `ev_child`,
//! asyncio's child watchers, Tornado's `Subprocess.set_exit_callback`).
//!
//! Each watcher is a `pidfd` (Linux 5.3+) registered as an ordinary `READ`
//! handler: the descriptor becomes readable when the child exits, the
//! handler reaps it with `waitpid(pid, WNOHANG)` and queues the exit
//! callback. This is chosen over a `SIGCHLD` handler because it needs no
//! process-wide signal disposition (which would race with other libraries'
//! and with the loop's signal handlers), reaps only the children it was
//! asked about, works on any loop and any thread, and costs nothing while
//! no child runs.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::panic::Location;
use std::process::ExitStatus;

use crate::core::poller::Trigger;
use crate::sys::process as sys;
use crate::{Events, IOLoop};

/// A loop's child watchers: pid to pidfd. Loop thread only.
#[derive(Debug, Default)]
pub(crate) struct Children {
    by_pid: RefCell<HashMap<u32, RawFd>>,
}

impl Children {
    pub(crate) fn clear(&self) {
        self.by_pid.borrow_mut().clear();
    }

    fn fd(&self, pid: u32) -> Option<RawFd> {
        self.by_pid.borrow().get(&pid).copied()
    }

    fn insert(&self, pid: u32, fd: RawFd) {
        self.by_pid.borrow_mut().insert(pid, fd);
    }

    fn remove(&self, pid: u32) -> Option<RawFd> {
        self.by_pid.borrow_mut().remove(&pid)
    }
}

fn pid_error(pid: u32, err: io::Error) -> io::Error {
    let kind = err.kind();
    let message = match err.raw_os_error() {
        Some(libc::ECHILD) => {
            format!("add_child_handler pid {pid}: not an unreaped child of this process")
        }
        _ => format!("add_child_handler pid {pid}: {err}"),
    };
    io::Error::new(kind, message)
}

/// Forgets the child watchers of a forked child's loop: the processes are
/// its parent's children, not its own.
pub(crate) fn forget_after_fork(ioloop: &IOLoop) {
    let fds: Vec<RawFd> = ioloop
        .inner
        .watchers
        .children
        .by_pid
        .borrow_mut()
        .drain()
        .map(|(_, fd)| fd)
        .collect();
    for fd in fds {
        drop(ioloop.remove_handler(fd));
    }
}

impl IOLoop {
    /// Calls `callback` with the exit status of child process `pid` once it
    /// exits (libev's `ev_child`, asyncio's `add_child_handler`).
    ///
    /// # Semantics
    ///
    /// * The loop reaps the child (`waitpid`) when it exits, then queues
    ///   `callback(status)` as a callback: a panic in it is reported, naming
    ///   this call's location. The watcher is then gone; the pid may be
    ///   watched again only if it becomes a new child.
    /// * A child that already exited (a zombie) is reported on the next
    ///   iteration.
    /// * Nothing else may reap the child: calling `wait` on its
    ///   [`std::process::Child`], or `waitpid(-1, ..)` anywhere in the
    ///   process, takes the status first; the watcher then logs a warning
    ///   and is removed without calling back.
    /// * While it waits the watcher keeps [`run`](IOLoop::run) going, unless
    ///   [`set_child_ref(pid, false)`](IOLoop::set_child_ref).
    ///
    /// # Portability
    ///
    /// Linux 5.3 or later (`pidfd_open`). Elsewhere, and on older kernels,
    /// this returns an error (`Unsupported`, or `ENOSYS`).
    ///
    /// # Errors
    ///
    /// An `io::Error` naming `pid` if it is not an unreaped child of this
    /// process (`ECHILD`), if it already has a watcher on this loop
    /// (`AlreadyExists`), if the platform has no `pidfd_open`, or if the
    /// loop is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let child = Command::new("/bin/sh").args(["-c", "exit 3"]).spawn()?;
    /// ioloop.add_child_handler(child.id(), |status| {
    ///     assert_eq!(status.code(), Some(3));
    /// })?;
    /// ioloop.run()?; // returns once the child is reaped and reported
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn add_child_handler<F>(&self, pid: u32, callback: F) -> io::Result<()>
    where
        F: FnOnce(ExitStatus) + 'static,
    {
        let site = Location::caller();
        if self.inner.watchers.children.fd(pid).is_some() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("add_child_handler pid {pid}: already watched"),
            ));
        }
        sys::check_child(pid).map_err(|err| pid_error(pid, err))?;
        let pidfd = sys::pidfd_open(pid).map_err(|err| pid_error(pid, err))?;
        let weak = self.downgrade();
        let mut callback = Some(callback);
        let handler = move |fd: RawFd, _events: Events| {
            let Some(ioloop) = weak.upgrade() else { return };
            let status = match sys::try_wait(pid) {
                Ok(None) => return, // not exited after all: keep waiting
                Ok(Some(status)) => Some(status),
                Err(err) => {
                    log::warn!(
                        target: "ioloop",
                        "child watcher for pid {pid}: the child was reaped elsewhere ({err}); \
                         removing the watcher"
                    );
                    None
                }
            };
            ioloop.inner.watchers.children.remove(pid);
            drop(ioloop.remove_handler(fd));
            if let (Some(status), Some(callback)) = (status, callback.take()) {
                ioloop.add_callback_at(site, move || callback(status));
            }
        };
        let fd = pidfd.as_raw_fd();
        self.register(
            fd,
            Events::READ,
            Trigger::Level,
            Box::new(handler),
            Some(pidfd),
            site,
        )?;
        self.inner.watchers.children.insert(pid, fd);
        Ok(())
    }

    /// Removes the watcher of child `pid`: its callback is dropped, never
    /// called, and the child is left unreaped (a zombie until someone waits
    /// for it). Returns whether there was a watcher (asyncio's
    /// `remove_child_handler`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let mut child = Command::new("/bin/sh").args(["-c", "exit 0"]).spawn()?;
    /// ioloop.add_child_handler(child.id(), |_| unreachable!("removed"))?;
    /// assert!(ioloop.remove_child_handler(child.id()));
    /// assert!(!ioloop.remove_child_handler(child.id()), "already removed");
    /// child.wait()?; // reaped by its owner now
    /// ioloop.run()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remove_child_handler(&self, pid: u32) -> bool {
        let fd = self.inner.watchers.children.remove(pid);
        match fd {
            Some(fd) => {
                drop(self.remove_handler(fd));
                true
            }
            None => false,
        }
    }

    /// Marks the watcher of child `pid` as keeping [`run`](IOLoop::run)
    /// going (the default) or not; idempotent. Returns false if `pid` has
    /// no watcher.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let mut child = Command::new("/bin/sleep").arg("10").spawn()?;
    /// ioloop.add_child_handler(child.id(), |_| {})?;
    /// assert!(ioloop.set_child_ref(child.id(), false)); // run() need not wait for it
    /// ioloop.run()?; // returns at once
    /// # assert!(ioloop.remove_child_handler(child.id()));
    /// # child.kill()?;
    /// # child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_child_ref(&self, pid: u32, referenced: bool) -> bool {
        self.inner
            .watchers
            .children
            .fd(pid)
            .is_some_and(|fd| self.set_handler_ref(fd, referenced))
    }
}
