//! Child processes, for `IOLoop::add_child_handler`.
//!
//! Linux (5.3 and later) gives a process descriptor for a pid
//! (`pidfd_open`), which becomes readable when the process exits: an
//! ordinary loop handler, with no `SIGCHLD` handler and no race with other
//! code's signal dispositions. Elsewhere these functions fail with
//! `Unsupported`.

use std::io;
use std::os::fd::OwnedFd;
use std::process::ExitStatus;

#[cfg(target_os = "linux")]
mod imp {
    use std::io;
    use std::os::fd::{FromRawFd, OwnedFd, RawFd};
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    fn pid_t(pid: u32) -> io::Result<libc::pid_t> {
        libc::pid_t::try_from(pid)
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ESRCH))
    }

    pub(super) fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
        let pid = pid_t(pid)?;
        // SAFETY: pidfd_open(2) takes a pid and a flags word, dereferences
        // no pointer, and returns a new descriptor (close-on-exec) or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = RawFd::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
        // SAFETY: the kernel just returned `fd`, open and owned by nobody
        // else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    pub(super) fn check_child(pid: u32) -> io::Result<()> {
        let pid = pid_t(pid)?;
        loop {
            // SAFETY: an all-zero siginfo_t is a valid value of this plain C
            // struct.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: `info` is a valid, writable siginfo_t for the call's
            // duration. WNOWAIT leaves the child waitable: nothing is reaped.
            let r = unsafe {
                libc::waitid(
                    libc::P_PID,
                    pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
                )
            };
            if r == 0 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }

    pub(super) fn try_wait(pid: u32) -> io::Result<Option<ExitStatus>> {
        let pid = pid_t(pid)?;
        loop {
            let mut status: libc::c_int = 0;
            // SAFETY: `status` is a valid, writable int for the call's
            // duration.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            match r {
                0 => return Ok(None),
                r if r == pid => return Ok(Some(ExitStatus::from_raw(status))),
                _ => {
                    let err = io::Error::last_os_error();
                    if err.kind() != io::ErrorKind::Interrupted {
                        return Err(err);
                    }
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::io;
    use std::os::fd::OwnedFd;
    use std::process::ExitStatus;

    fn unsupported() -> io::Error {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "child watchers need pidfd_open (Linux 5.3 or later)",
        )
    }

    pub(super) fn pidfd_open(_pid: u32) -> io::Result<OwnedFd> {
        Err(unsupported())
    }

    pub(super) fn check_child(_pid: u32) -> io::Result<()> {
        Err(unsupported())
    }

    pub(super) fn try_wait(_pid: u32) -> io::Result<Option<ExitStatus>> {
        Err(unsupported())
    }
}

/// A descriptor for process `pid` that becomes readable when it exits.
pub(crate) fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    imp::pidfd_open(pid)
}

/// Ok if `pid` is a child of this process that has not been reaped
/// (`ECHILD` otherwise). Reaps nothing.
pub(crate) fn check_child(pid: u32) -> io::Result<()> {
    imp::check_child(pid)
}

/// Reaps child `pid` if it has exited: `Ok(None)` while it runs.
pub(crate) fn try_wait(pid: u32) -> io::Result<Option<ExitStatus>> {
    imp::try_wait(pid)
}
