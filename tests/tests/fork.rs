//! A loop and `fork()` (Tornado's rule L13, libev's `ev_loop_fork`): in the
//! child, a loop fails with `Error::Forked` naming both processes until
//! `reset_after_fork()`, then works with its handlers and timeouts; the
//! parent's loops are left undisturbed, even by a child that closes a loop
//! without resetting it. Signal handlers work in the child after the reset
//! (which gives the child a self-pipe of its own), and the parent's stay
//! as they were.
//!
//! A test binary of its own with `harness = false`: forking the
//! multi-threaded libtest harness is unsafe, and this `main` forks while
//! it is the only thread.

use std::cell::{Cell, RefCell};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use ioloop::{Error, Events, IOLoop, MakeCurrent, RunMode};

/// A loop whose READ handler on `b` appends what it reads to the returned
/// buffer, and stops the loop once it holds `want` bytes.
fn collecting_loop(b: UnixStream, want: usize) -> (IOLoop, Rc<RefCell<Vec<u8>>>) {
    let ioloop = IOLoop::builder()
        .make_current(MakeCurrent::Never)
        .build()
        .unwrap();
    let got = Rc::new(RefCell::new(Vec::new()));
    let (g, l) = (got.clone(), ioloop.clone());
    ioloop
        .add_handler(b.as_raw_fd(), Events::READ, move |_, _| {
            let mut buf = [0; 64];
            loop {
                match (&b).read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => g.borrow_mut().extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("read: {e}"),
                }
            }
            if g.borrow().len() >= want {
                l.stop();
            }
        })
        .unwrap();
    (ioloop, got)
}

fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

/// Runs `ioloop` with a 10 s safety net; false if the net fired.
fn run_bounded(ioloop: &IOLoop) -> bool {
    let timed_out = Rc::new(RefCell::new(false));
    let (t, l) = (timed_out.clone(), ioloop.clone());
    let guard = ioloop.call_later(Duration::from_secs(10), move || {
        *t.borrow_mut() = true;
        l.stop();
    });
    ioloop.start().unwrap();
    ioloop.remove_timeout(guard);
    !*timed_out.borrow()
}

/// The child's checks; returns the exit code (0: all passed).
fn child(
    parent: u32,
    ioloop: &IOLoop,
    got: &Rc<RefCell<Vec<u8>>>,
    a: &UnixStream,
    second: &IOLoop,
    signals_seen: &Rc<Cell<u32>>,
) -> i32 {
    let me = std::process::id();
    // Without reset_after_fork: a clear error naming both processes.
    match ioloop.start() {
        Err(Error::Forked { created_in, now_in }) if created_in == parent && now_in == me => {}
        other => {
            eprintln!("child: start gave {other:?}");
            return 10;
        }
    }
    let message = Error::Forked {
        created_in: parent,
        now_in: me,
    }
    .to_string();
    if !message.contains(&format!("process {parent}"))
        || !message.contains(&format!("process {me}"))
    {
        eprintln!("child: message does not name both pids: {message}");
        return 11;
    }
    if !matches!(ioloop.run_once(RunMode::NoWait), Err(Error::Forked { .. })) {
        return 12;
    }
    if !matches!(ioloop.run(), Err(Error::Forked { .. })) {
        return 13;
    }
    match ioloop.run_sync(|| async {}, None) {
        Err(err) if err.to_string().contains("reset_after_fork") => {}
        other => {
            eprintln!("child: run_sync gave {other:?}");
            return 14;
        }
    }
    // Closing a loop without resetting it must leave the parent's epoll
    // set alone (the parent checks its second loop still works).
    second.close(true).unwrap();

    // With it: the handler registered before the fork works, and so do
    // timeouts.
    ioloop.reset_after_fork().unwrap();
    let fired = Rc::new(RefCell::new(false));
    let f = fired.clone();
    ioloop.call_later(Duration::from_millis(5), move || *f.borrow_mut() = true);
    (&*a).write_all(b"child").unwrap();
    if !run_bounded(ioloop) {
        eprintln!("child: the loop never saw the data");
        return 20;
    }
    if &*got.borrow() != b"child" {
        eprintln!("child: read {:?}", got.borrow());
        return 21;
    }
    if !*fired.borrow() {
        // The handler stopped the loop first; give the timeout its turn.
        let l = ioloop.clone();
        ioloop.call_later(Duration::from_millis(20), move || l.stop());
        ioloop.start().unwrap();
        if !*fired.borrow() {
            eprintln!("child: the timeout never fired");
            return 22;
        }
    }
    // The waker was rebuilt too: a Remote wakes the child's loop.
    let remote = ioloop.remote();
    let l = ioloop.clone();
    let t = std::thread::spawn(move || remote.add_callback(|| IOLoop::current().stop()));
    let far = l.call_later(Duration::from_secs(10), || std::process::exit(23));
    ioloop.start().unwrap();
    ioloop.remove_timeout(far);
    t.join().unwrap();
    // The signal handler added before the fork works: the reset made a new
    // self-pipe and new signal-hook actions for this process.
    signal_hook::low_level::raise(libc::SIGUSR1).unwrap();
    if !run_bounded(ioloop) || signals_seen.get() != 1 {
        eprintln!("child: the signal handler ran {} times", signals_seen.get());
        return 30;
    }
    0
}

/// Adds a SIGUSR1 handler to `ioloop` that counts and stops the loop.
fn count_sigusr1(ioloop: &IOLoop) -> Rc<Cell<u32>> {
    let seen = Rc::new(Cell::new(0));
    let (s, l) = (seen.clone(), ioloop.clone());
    ioloop
        .add_signal_handler(libc::SIGUSR1, move |_| {
            s.set(s.get() + 1);
            l.stop();
        })
        .unwrap();
    seen
}

fn main() {
    let parent = std::process::id();
    let (a, b) = pair();
    let (ioloop, got) = collecting_loop(b, 5);
    let (c, d) = pair();
    let (second, second_got) = collecting_loop(d, 6);
    let signals_seen = count_sigusr1(&ioloop);

    // A timeout the parent's loop is waiting for across the fork: the poll
    // armed its wake-up for it (one byte makes the poll return at once).
    // The child's loop must wake up on its own, never through the
    // parent's.
    let due = Duration::from_secs(4);
    let deadline = ioloop.time() + due.as_secs_f64();
    let fired_at = Rc::new(Cell::new(None::<f64>));
    let (f, l) = (fired_at.clone(), ioloop.clone());
    ioloop.call_later(due, move || f.set(Some(l.time())));
    (&a).write_all(b"x").unwrap();
    ioloop.run_once(RunMode::Wait).unwrap();
    assert_eq!(&*got.borrow(), b"x");
    got.borrow_mut().clear();

    let pid = sys::fork();
    if pid == 0 {
        let code = child(parent, &ioloop, &got, &a, &second, &signals_seen);
        sys::exit_now(code);
    }
    let code = sys::wait_exit_code(pid);
    assert_eq!(
        code, 0,
        "the child failed its checks (exit code {code}; see its stderr)"
    );

    // The parent's loops are undisturbed: the child's reset_after_fork and
    // its close of `second` did not touch their registrations.
    got.borrow_mut().clear();
    (&a).write_all(b"hello").unwrap();
    assert!(run_bounded(&ioloop), "the parent's loop lost its handler");
    assert_eq!(&*got.borrow(), b"hello");
    (&c).write_all(b"second").unwrap();
    assert!(
        run_bounded(&second),
        "the parent's second loop lost its handler"
    );
    assert_eq!(&*second_got.borrow(), b"second");

    // The parent created the loops: no error there, and a reset in the
    // process that created the loop is harmless.
    ioloop.reset_after_fork().unwrap();
    got.borrow_mut().clear();
    (&a).write_all(b"again").unwrap();
    assert!(run_bounded(&ioloop));
    assert_eq!(&*got.borrow(), b"again");
    // The parent's handler is as it was: not run by the child's signal,
    // run by the parent's own.
    assert_eq!(
        signals_seen.get(),
        0,
        "the child's signal ran the parent's handler"
    );
    signal_hook::low_level::raise(libc::SIGUSR1).unwrap();
    assert!(run_bounded(&ioloop));
    assert_eq!(signals_seen.get(), 1);

    // The timeout armed before the fork runs on time, whatever the child's
    // loop waited for.
    let started = std::time::Instant::now();
    while fired_at.get().is_none() && started.elapsed() < Duration::from_secs(20) {
        ioloop.run_once(RunMode::Wait).unwrap();
    }
    let fired = fired_at.get().expect("the parent's timeout never ran");
    assert!(
        fired >= deadline && fired - deadline < 1.5,
        "the parent's timeout ran {:.3} s after its deadline",
        fired - deadline
    );
    println!("fork: all checks passed (child {pid} and parent {parent})");
}

#[allow(unsafe_code)]
mod sys {
    //! The test's raw process calls.

    /// `fork()`: 0 in the child, the child's pid in the parent.
    pub(crate) fn fork() -> libc::pid_t {
        // SAFETY: this process has one thread (a harness = false test whose
        // main spawned none), so the child may run arbitrary code.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        pid
    }

    /// Ends the child without running the parent's exit handlers twice.
    pub(crate) fn exit_now(code: i32) -> ! {
        // SAFETY: _exit has no preconditions; it never returns.
        unsafe { libc::_exit(code) }
    }

    /// Waits up to 30 s for `pid` and returns its exit code (-1 if
    /// killed); a child still running then is killed and fails the test.
    pub(crate) fn wait_exit_code(pid: libc::pid_t) -> i32 {
        let started = std::time::Instant::now();
        let mut status = 0;
        loop {
            // SAFETY: `status` is a valid, writable int; `pid` is our child.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            assert!(r >= 0, "waitpid: {}", std::io::Error::last_os_error());
            if r == pid {
                break;
            }
            if started.elapsed() > std::time::Duration::from_secs(30) {
                // SAFETY: kill takes no pointers; `pid` is our own child,
                // not yet reaped.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                panic!("the child {pid} was still running after 30 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        }
    }
}
