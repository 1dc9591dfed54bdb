//! Shared helpers for the ioloop integration tests.

use std::cell::RefCell;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use integration_tests::logs;
use ioloop::IOLoop;

pub(crate) use integration_tests::{TestLoop, run_for_at_most, with_time_limit};

/// The safety net of the helpers below: generous, so only a bug reaches it.
pub(crate) const LIMIT: Duration = Duration::from_secs(10);

/// `start` until `stop`, failing the test after 10 s.
pub(crate) fn run(ioloop: &IOLoop) {
    run_for_at_most(ioloop, LIMIT);
}

/// `run` (until nothing referenced is left), failing the test after 10 s.
pub(crate) fn run_until_idle(ioloop: &IOLoop) {
    bounded(ioloop, || ioloop.run()).expect("run");
}

/// Calls `run`, which runs `ioloop` in some way, failing the test if the
/// loop is still running after 10 s.
pub(crate) fn bounded<T>(ioloop: &IOLoop, run: impl FnOnce() -> T) -> T {
    with_time_limit(ioloop, LIMIT, run)
}

/// Lets another thread wait until the loop on the thread that made it is
/// blocked in its poll: a remote stop or callback sent then must wake it,
/// and cannot land before `start`.
#[derive(Clone, Copy)]
pub(crate) struct PollWatch {
    tid: libc::pid_t,
}

impl PollWatch {
    /// Watches the calling thread (the one that will run the loop).
    pub(crate) fn this_thread() -> PollWatch {
        PollWatch { tid: sys::gettid() }
    }

    /// Returns once the watched thread is blocked in `epoll_wait`.
    ///
    /// # Panics
    ///
    /// If it is not within 10 s.
    pub(crate) fn wait_until_blocked(self) {
        let started = Instant::now();
        while !sys::blocked_in_epoll_wait(self.tid) {
            assert!(
                started.elapsed() < LIMIT,
                "thread {} never blocked in its poll",
                self.tid
            );
            thread::sleep(Duration::from_millis(1));
        }
    }
}

/// A shared, ordered record of what ran.
#[derive(Clone, Default)]
pub(crate) struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    pub(crate) fn push(&self, entry: impl Into<String>) {
        self.0.borrow_mut().push(entry.into());
    }
    pub(crate) fn entries(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
}

/// A non-blocking Unix socket pair.
pub(crate) fn socketpair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().expect("socketpair");
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

/// A socket pair whose second end has `data` waiting to be read.
pub(crate) fn readable_pair(data: &[u8]) -> (UnixStream, UnixStream) {
    let (mut a, b) = socketpair();
    a.write_all(data).unwrap();
    (a, b)
}

/// True if `fd` is open.
pub(crate) fn fd_is_open(fd: i32) -> bool {
    std::fs::metadata(format!("/proc/self/fd/{fd}")).is_ok()
}

/// True once the other end of the non-blocking `stream` is closed (a read
/// sees the end of file). Unlike [`fd_is_open`] on the other end's number,
/// this cannot be fooled by another test thread reusing that number.
pub(crate) fn peer_closed(stream: &UnixStream) -> bool {
    use std::io::Read;
    let mut byte = [0u8; 1];
    match (&*stream).read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(err) => panic!("read from the peer of a closed descriptor: {err}"),
    }
}

/// Serialises the tests that touch process-wide state (the instance,
/// descriptor counts).
pub(crate) fn global_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts capturing log records (idempotent).
pub(crate) fn capture_logs() {
    logs::capture();
}

/// The records this thread logged at `level`.
pub(crate) fn logged(level: log::Level) -> Vec<String> {
    let me = thread::current().id();
    logs::messages(|r| r.thread == me && r.level == level)
}

#[allow(unsafe_code)]
pub(crate) mod sys {
    //! The tests' few raw system calls.

    use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

    /// The calling thread's kernel id.
    pub(crate) fn gettid() -> libc::pid_t {
        // SAFETY: the gettid system call takes no arguments and cannot fail.
        unsafe { libc::syscall(libc::SYS_gettid) as libc::pid_t }
    }

    /// True if thread `tid` of this process is blocked in one of the epoll
    /// wait system calls (from `/proc/self/task/<tid>/syscall`, whose first
    /// field is the call's number, or `running`).
    pub(crate) fn blocked_in_epoll_wait(tid: libc::pid_t) -> bool {
        let Ok(text) = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")) else {
            return false;
        };
        let Some(Ok(nr)) = text.split_whitespace().next().map(str::parse::<i64>) else {
            return false;
        };
        #[cfg(target_arch = "x86_64")]
        if nr == libc::SYS_epoll_wait {
            return true;
        }
        nr == libc::SYS_epoll_pwait || nr == libc::SYS_epoll_pwait2
    }

    /// The lowest descriptor number this process can never have open: its
    /// soft `RLIMIT_NOFILE` (no call hands out a number at or above it).
    pub(crate) fn never_open_fd() -> RawFd {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into a valid rlimit owned by this frame.
        let ret = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
        assert_eq!(ret, 0, "getrlimit: {}", std::io::Error::last_os_error());
        RawFd::try_from(limit.rlim_cur).expect("a descriptor limit that fits an fd")
    }

    /// Puts `new`'s open file on descriptor number `fd` with `dup2`,
    /// closing what `fd` was in the same step (so no other thread can take
    /// the number in between), and returns the number as an owned fd.
    pub(crate) fn replace_fd(fd: OwnedFd, new: &impl AsRawFd) -> OwnedFd {
        let number = fd.into_raw_fd();
        // SAFETY: dup2 takes plain integers; `number` was owned by `fd`,
        // whose ownership was released above, so closing it here is ours
        // to do.
        let ret = unsafe { libc::dup2(new.as_raw_fd(), number) };
        assert_eq!(ret, number, "dup2: {}", std::io::Error::last_os_error());
        // SAFETY: dup2 succeeded, so `number` is an open descriptor that
        // nothing else owns.
        unsafe { OwnedFd::from_raw_fd(number) }
    }

    /// The calling thread's pthread id.
    pub(crate) fn pthread_self() -> libc::pthread_t {
        // SAFETY: pthread_self has no preconditions and cannot fail.
        unsafe { libc::pthread_self() }
    }

    /// Sends `signal` to the thread `thread` (which must still be alive).
    pub(crate) fn pthread_kill(thread: libc::pthread_t, signal: i32) -> i32 {
        // SAFETY: the callers pass the id of a thread that is blocked in
        // IOLoop::start and joined only after this call returns.
        unsafe { libc::pthread_kill(thread, signal) }
    }
}
