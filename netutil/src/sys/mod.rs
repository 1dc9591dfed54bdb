//! Every operating-system call that the safe wrappers (std, socket2) do not
//! offer, and so every `unsafe` block of the crate.
//!
//! What a platform must provide:
//!
//! * [`accept`]: accept one connection, already non-blocking and
//!   close-on-exec (one system call: `accept4` where it exists);
//! * [`fork`], [`try_wait_child`], [`kill`]: the process model of
//!   `fork_processes`;
//! * [`is_readable_now`]: whether a descriptor is readable, without
//!   waiting (`poll` with a zero timeout): whether a connection waits on a
//!   listening socket;
//! * [`send_queue_len`]: the bytes a socket's kernel send queue still
//!   holds (`SIOCOUTQ`), so a writer sees a slow reader's progress even
//!   while a deep send buffer keeps the descriptor unwritable;
//! * [`is_write_only`]: whether a descriptor is open for writing only (a
//!   pipe's write end), which a stream treats apart on a hang-up;
//! * [`is_unreaped_child`]: whether a pid is still a child of ours that
//!   nobody has reaped (`waitid` with `WNOWAIT`), so that `Subprocess`
//!   never signals a pid the kernel may have given to another process;
//! * [`SignalMask`]: block signals on the calling thread and wait for one
//!   synchronously (`pthread_sigmask` and `sigtimedwait`), so the
//!   supervising parent needs no signal handler that its children would
//!   inherit.
//!
//! Linux is the developed and tested platform; the BSDs and macOS are
//! expected to work except where noted.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use socket2::SockAddr;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Accepts one connection on the listening socket `listener`; the new
/// descriptor is non-blocking and close-on-exec.
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
    target_os = "illumos"
))]
pub(crate) fn accept(listener: BorrowedFd<'_>) -> io::Result<(OwnedFd, SockAddr)> {
    let fd = listener.as_raw_fd();
    // SAFETY: `try_init` hands us a zeroed storage large enough for any
    // socket address and its length, which is exactly what accept4 fills
    // in; socket2 trusts the length accept4 writes back.
    let (raw, addr) = unsafe {
        SockAddr::try_init(|storage, len| {
            cvt(libc::accept4(
                fd,
                storage.cast(),
                len,
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            ))
        })
    }?;
    // SAFETY: accept4 returned a new descriptor that nothing else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(raw) };
    Ok((owned, addr))
}

/// Accepts one connection (platforms without `accept4`: two more calls).
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
    target_os = "illumos"
)))]
pub(crate) fn accept(listener: BorrowedFd<'_>) -> io::Result<(OwnedFd, SockAddr)> {
    let (socket, addr) = socket2::SockRef::from(&listener).accept()?;
    socket.set_nonblocking(true)?;
    socket.set_cloexec(true)?;
    Ok((socket.into(), addr))
}

/// Whether `fd` is readable now, without waiting: for a listening socket,
/// whether a connection waits to be accepted.
pub(crate) fn is_readable_now(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let mut pollfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pollfd` is one valid, initialised entry, as the count says,
    // and lives through the call; a zero timeout never blocks.
    let ready = cvt(unsafe { libc::poll(&mut pollfd, 1, 0) })?;
    Ok(ready > 0 && pollfd.revents & libc::POLLIN != 0)
}

/// The bytes `fd`'s kernel send queue holds, not yet acknowledged by the
/// peer (`SIOCOUTQ`).
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn send_queue_len(fd: BorrowedFd<'_>) -> io::Result<usize> {
    let mut queued: libc::c_int = 0;
    // SAFETY: `fd` is a valid descriptor for the borrow's life, and
    // TIOCOUTQ (SIOCOUTQ for sockets) writes one `c_int` through the
    // pointer, which points to a live, writable `c_int`.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCOUTQ, &mut queued) })?;
    Ok(usize::try_from(queued).unwrap_or(0))
}

/// Whether `fd` is open for writing only (`O_WRONLY`), as a pipe's
/// write end is.
pub(crate) fn is_write_only(fd: BorrowedFd<'_>) -> io::Result<bool> {
    // SAFETY: F_GETFL only reads the status flags of `fd`, which the
    // borrow keeps open.
    let flags = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    Ok(flags & libc::O_ACCMODE == libc::O_WRONLY)
}

/// Which side of a [`fork`] we are on.
pub(crate) enum Fork {
    Child,
    Parent(libc::pid_t),
}

/// Forks the process.
///
/// The caller must make sure the process is fit to fork: in the child only
/// the calling thread survives.
pub(crate) fn fork() -> io::Result<Fork> {
    // SAFETY: fork has no memory-safety preconditions of its own; the
    // child continues with a copy of this thread's state. Callers check
    // there is no loop (whose epoll descriptor would be shared) and warn
    // when other threads exist.
    let pid = cvt(unsafe { libc::fork() })?;
    Ok(if pid == 0 {
        Fork::Child
    } else {
        Fork::Parent(pid)
    })
}

/// Reaps one child that has exited, without blocking: `Ok(None)` when
/// none has (or there are no children).
pub(crate) fn try_wait_child() -> io::Result<Option<(libc::pid_t, ExitStatus)>> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: `status` is a valid place for waitpid to write to.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        match pid {
            0 => return Ok(None),
            -1 => {
                let err = io::Error::last_os_error();
                match err.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ECHILD) => return Ok(None),
                    _ => return Err(err),
                }
            }
            pid => return Ok(Some((pid, ExitStatus::from_raw(status)))),
        }
    }
}

/// Sends `signal` to the process `pid`.
pub(crate) fn kill(pid: libc::pid_t, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: kill takes plain integers.
    cvt(unsafe { libc::kill(pid, signal) }).map(drop)
}

/// Whether `pid` is a child of this process that has not been reaped
/// (running, or exited and still a zombie): only then does the pid surely
/// name that child, and not a process that reused the number. Nothing is
/// reaped (`WNOWAIT`).
pub(crate) fn is_unreaped_child(pid: libc::pid_t) -> io::Result<bool> {
    let Ok(id) = libc::id_t::try_from(pid) else {
        return Ok(false);
    };
    loop {
        // SAFETY: an all-zero siginfo_t is a valid value of this plain C
        // struct.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable siginfo_t for the call's
        // duration; WNOWAIT leaves the child waitable.
        let ret = unsafe {
            libc::waitid(
                libc::P_PID,
                id,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        if ret == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::ECHILD) => return Ok(false),
            _ => return Err(err),
        }
    }
}

/// A set of signals blocked on the calling thread, and the mask it
/// replaced.
pub(crate) struct SignalMask {
    set: libc::sigset_t,
    old: libc::sigset_t,
}

impl SignalMask {
    /// Blocks `signals` on the calling thread; they stay pending until
    /// [`wait`](SignalMask::wait) takes them.
    pub(crate) fn block(signals: &[libc::c_int]) -> io::Result<SignalMask> {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        let mut old = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises `set`; sigaddset and
        // pthread_sigmask read an initialised set and write `old`, which
        // is only read after pthread_sigmask succeeded.
        unsafe {
            cvt(libc::sigemptyset(set.as_mut_ptr()))?;
            for &signal in signals {
                cvt(libc::sigaddset(set.as_mut_ptr(), signal))?;
            }
            let ret = libc::pthread_sigmask(libc::SIG_BLOCK, set.as_ptr(), old.as_mut_ptr());
            if ret != 0 {
                return Err(io::Error::from_raw_os_error(ret));
            }
            Ok(SignalMask {
                set: set.assume_init(),
                old: old.assume_init(),
            })
        }
    }

    /// Waits up to `timeout` for one of the blocked signals; `Ok(None)` on
    /// timeout or interruption.
    pub(crate) fn wait(&self, timeout: Duration) -> io::Result<Option<libc::c_int>> {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs().try_into().unwrap_or(libc::time_t::MAX),
            tv_nsec: timeout.subsec_nanos().into(),
        };
        // SAFETY: `self.set` is an initialised set, `ts` a valid timespec,
        // and a null siginfo pointer is allowed.
        let ret = unsafe { libc::sigtimedwait(&self.set, std::ptr::null_mut(), &ts) };
        if ret == -1 {
            let err = io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(libc::EAGAIN | libc::EINTR) => Ok(None),
                _ => Err(err),
            };
        }
        Ok(Some(ret))
    }

    /// Restores the mask that [`block`](SignalMask::block) replaced.
    pub(crate) fn restore(&self) -> io::Result<()> {
        // SAFETY: `self.old` is the initialised mask pthread_sigmask gave.
        let ret =
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
        if ret != 0 {
            return Err(io::Error::from_raw_os_error(ret));
        }
        Ok(())
    }
}
