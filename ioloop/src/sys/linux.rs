//! Linux: thread ids, thread-directed signals, signal dispositions and
//! masks, and the stack capture's signal action (its stack walk is in
//! [`unwind`](super::unwind)).

use std::io;
use std::mem;
use std::ops::RangeInclusive;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr;
use std::sync::Arc;
use std::time::Duration;

use libc::c_int;
pub(crate) use signal_hook_registry::SigId;

use crate::watchdog::slot::WatchdogSlot;

/// The watchdog captures stacks here (its layer B): the walk is
/// implemented for x86_64.
pub(crate) const STACK_CAPTURE: bool = cfg!(target_arch = "x86_64");

/// A kernel thread id.
pub(crate) type Tid = libc::pid_t;

/// The calling thread's kernel id.
pub(crate) fn current_tid() -> Option<Tid> {
    Some(gettid())
}

fn gettid() -> Tid {
    // SAFETY: the gettid system call takes no arguments and cannot fail; a
    // raw system call is async-signal-safe (the stack capture makes this
    // call in signal context, where errno is saved and restored around it).
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    tid as Tid
}

/// Sends `signal` to the thread `tid` of this process.
pub(crate) fn signal_thread(tid: Tid, signal: c_int) -> io::Result<()> {
    // SAFETY: getpid has no preconditions. tgkill takes plain integers and
    // only queues a signal: a thread that has exited is an ESRCH error, not
    // undefined behaviour (unlike pthread_kill on a thread that may have been
    // joined, the reason it is used here). If `tid` was reused by a new
    // thread of this process, that thread runs the action, which serves
    // nothing: a loop thread clears its slot's tid when it ends, so no slot
    // names the new thread, and `WatchdogSlot::serve` ignores a thread its slot
    // does not name.
    let rc = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, signal) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `SIGRTMIN()..=SIGRTMAX()`: the real-time signals the C library leaves to
/// applications (glibc keeps the first two or three for itself and moves
/// `SIGRTMIN` past them, hence a function, not a constant).
pub(crate) fn realtime_signals() -> RangeInclusive<c_int> {
    libc::SIGRTMIN()..=libc::SIGRTMAX()
}

/// `SIGSYS`: the highest classic signal.
pub(crate) fn max_standard_signal() -> c_int {
    libc::SIGSYS
}

/// True if `signal` has its default disposition: nobody handles or ignores
/// it.
pub(crate) fn disposition_is_default(signal: c_int) -> io::Result<bool> {
    // SAFETY: `sigaction` is a plain C struct for which all-zero bytes are a
    // valid value.
    let mut current: libc::sigaction = unsafe { mem::zeroed() };
    // SAFETY: with a null new action, sigaction only writes the current one
    // into `current`, a valid, writable struct owned by this frame.
    if unsafe { libc::sigaction(signal, ptr::null(), &mut current) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(current.sa_sigaction == libc::SIG_DFL)
}

/// True if the calling thread's signal mask blocks `signal`.
pub(crate) fn blocked_on_this_thread(signal: c_int) -> bool {
    // SAFETY: `sigset_t` is a plain C bit set for which all-zero bytes are a
    // valid (empty) value.
    let mut mask: libc::sigset_t = unsafe { mem::zeroed() };
    // SAFETY: with a null new set, pthread_sigmask only writes the calling
    // thread's mask into `mask`, a valid, writable set owned by this frame.
    if unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, ptr::null(), &mut mask) } != 0 {
        return false;
    }
    // SAFETY: `mask` is an initialised set (filled in just above).
    unsafe { libc::sigismember(&mask, signal) == 1 }
}

/// Installs, through signal-hook's registry, the action that serves stack
/// capture requests made on `slot`. The registry chains any handler that
/// was installed before it and runs every action registered for `signal`,
/// so other users of the signal keep working.
pub(crate) fn register_stack_capture(signal: c_int, slot: Arc<WatchdogSlot>) -> io::Result<SigId> {
    let action = move |info: &libc::siginfo_t| on_capture_signal(&slot, info);
    // SAFETY: register_sigaction requires an action that is
    // async-signal-safe and never panics. `on_capture_signal` calls into the
    // C library only for `__errno_location` (the address of a thread-local,
    // to save and restore errno) and `syscall(SYS_gettid)` (a trap into the
    // kernel), then runs `WatchdogSlot::serve`, which uses atomics and a lock it
    // only tries on memory allocated beforehand, and `unwind::walk`: no
    // allocation, no lock waited for, nothing of libgcc, no I/O, and every
    // memory read either in tables copied beforehand or checked to be within
    // the interrupted thread's stack. Its code has no panicking index or
    // unwrap; the unwinding crates (framehop, gimli) return errors for
    // tables they cannot parse, and the unwraps left on their lookup path
    // guard their own invariants (a row stack never empty, an encoding
    // validated before use). `signal` is a real-time signal, never one
    // of signal-hook's FORBIDDEN signals, so the registration does not
    // panic.
    unsafe { signal_hook_registry::register_sigaction(signal, action) }
}

/// Removes an action installed by [`register_stack_capture`].
pub(crate) fn unregister(id: SigId) -> bool {
    signal_hook_registry::unregister(id)
}

/// The signal action: records the interrupted thread's return addresses
/// into `slot` if a capture was requested for this thread and its current
/// callback. Runs in signal context.
fn on_capture_signal(slot: &WatchdogSlot, info: &libc::siginfo_t) {
    let errno = Errno::save();
    slot.serve(gettid(), |walker, stack, record| {
        super::unwind::walk(info, walker, stack, record)
    });
    errno.restore();
}

/// The calling thread's `errno`, saved so a signal action can restore it.
struct Errno(c_int);

impl Errno {
    fn save() -> Errno {
        // SAFETY: __errno_location returns a valid pointer to the calling
        // thread's errno, which may be read in signal context.
        Errno(unsafe { *libc::__errno_location() })
    }

    fn restore(self) {
        // SAFETY: as in `save`; writing errno is what a signal handler that
        // makes system calls must do before it returns.
        unsafe { *libc::__errno_location() = self.0 }
    }
}

/// `epoll_ctl(epfd, op, fd, {events, data})`: registers, changes or
/// removes `fd` on the epoll instance `epfd` with exactly the `events`
/// given (no `EPOLLET`: level-triggered).
pub(crate) fn epoll_ctl(
    epfd: c_int,
    op: c_int,
    fd: c_int,
    events: u32,
    data: u64,
) -> io::Result<()> {
    let mut event = libc::epoll_event { events, u64: data };
    // SAFETY: epfd and fd are plain integers (a wrong one is an EBADF,
    // ENOENT or EPERM error, never undefined behaviour), and `event` is an
    // initialised epoll_event that the kernel only reads, alive for the
    // whole call.
    let result = unsafe { libc::epoll_ctl(epfd, op, fd, &mut event) };
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds: the clock `std::time::Instant` reads
/// on Linux, without `Instant`'s checked `timespec` arithmetic (the loop
/// reads it a few times per iteration and once per relative timeout).
#[inline]
pub(crate) fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec owned by this frame, and
    // CLOCK_MONOTONIC is always supported; the call only writes `ts`.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    debug_assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC)");
    // A monotonic clock is never negative.
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// A new `CLOCK_MONOTONIC` timerfd, non-blocking and close-on-exec.
pub(crate) fn timerfd() -> io::Result<OwnedFd> {
    // SAFETY: timerfd_create takes no pointers; a non-negative result is a
    // new descriptor that nothing else owns.
    let fd = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by timerfd_create and is owned here.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Arms the timerfd `fd` to expire once, `delay` from now (at least 1 ns:
/// a zero `it_value` would disarm it).
pub(crate) fn timerfd_arm(fd: BorrowedFd<'_>, delay: Duration) -> io::Result<()> {
    let delay = delay.max(Duration::from_nanos(1));
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            tv_sec: libc::time_t::try_from(delay.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_nsec: delay.subsec_nanos() as libc::c_long,
        },
    };
    // SAFETY: `fd` is a live descriptor borrowed for the call; `spec` is a
    // valid itimerspec on this frame and the old value is not asked for.
    let rc = unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
