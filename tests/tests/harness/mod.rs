//! A minimal test runner for the `harness = false` test binaries (signals
//! and the blocking watchdog), whose tests must run one at a time on the
//! process's main thread: signals and the watchdog thread are
//! process-wide.
//!
//! It accepts what `cargo test` passes: a name filter, `--exact`, `--list`,
//! and ignores other flags.

#![allow(dead_code)] // each binary uses its part

use std::panic::{self, AssertUnwindSafe};

/// A named test.
pub(crate) type Test = (&'static str, fn());

/// Runs the tests selected by the command line, one after the other;
/// exits with status 1 if any failed.
pub(crate) fn run_tests(tests: &[Test]) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let exact = args.iter().any(|a| a == "--exact");
    let filter = args.iter().find(|a| !a.starts_with('-'));
    let selected: Vec<&Test> = tests
        .iter()
        .filter(|(name, _)| match filter {
            Some(f) if exact => name == f,
            Some(f) => name.contains(f.as_str()),
            None => true,
        })
        .collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in &selected {
            println!("{name}: test");
        }
        return;
    }
    println!("\nrunning {} tests", selected.len());
    quiet_panics_of_ioloop_callbacks();
    let mut failed = Vec::new();
    for (name, test) in &selected {
        let outcome = panic::catch_unwind(AssertUnwindSafe(test));
        match outcome {
            Ok(()) => println!("test {name} ... ok"),
            Err(payload) => {
                let message = payload
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| payload.downcast_ref::<&str>().copied())
                    .unwrap_or("(non-string panic)");
                println!("test {name} ... FAILED\n    {message}");
                failed.push(*name);
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed",
        if failed.is_empty() { "ok" } else { "FAILED" },
        selected.len() - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        println!("failures: {failed:?}");
        std::process::exit(1);
    }
}

/// Test failures print their message through the runner; panics that the
/// loop catches on purpose (`expected panic` in the message) print nothing.
fn quiet_panics_of_ioloop_callbacks() {
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let quiet = info
            .payload()
            .downcast_ref::<&str>()
            .is_some_and(|m| m.contains("expected panic"));
        if !quiet {
            default(info);
        }
    }));
}

pub(crate) use integration_tests::run_for_at_most;

/// Starts capturing log records (idempotent).
pub(crate) fn capture_logs() {
    integration_tests::logs::capture();
}

/// The messages logged so far with `target` at `level`.
pub(crate) fn logged(target: &str, level: log::Level) -> Vec<String> {
    integration_tests::logs::messages(|r| r.target == target && r.level == level)
}

#[allow(unsafe_code)]
pub(crate) mod sys {
    //! The tests' few raw system calls.

    use std::io;

    /// The calling thread's kernel id.
    pub(crate) fn gettid() -> libc::pid_t {
        // SAFETY: the gettid system call takes no arguments and cannot fail.
        unsafe { libc::syscall(libc::SYS_gettid) as libc::pid_t }
    }

    /// Sends `signal` to thread `tid` of this process.
    pub(crate) fn tgkill(tid: libc::pid_t, signal: i32) -> io::Result<()> {
        // SAFETY: getpid has no preconditions; tgkill takes plain integers
        // (an exited thread is an ESRCH error, not undefined behaviour).
        let rc = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, signal) };
        if rc == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Sends `signal` to this process (any thread that does not block it).
    pub(crate) fn kill_self(signal: i32) -> io::Result<()> {
        // SAFETY: getpid has no preconditions; kill takes plain integers.
        if unsafe { libc::kill(libc::getpid(), signal) } == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Blocks `signal` on the calling thread.
    pub(crate) fn block_on_this_thread(signal: i32) {
        // SAFETY: all-zero bytes are a valid sigset_t, which sigemptyset
        // and sigaddset then fill in; pthread_sigmask reads the set and
        // changes only the calling thread's mask.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, signal);
            assert_eq!(
                libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()),
                0
            );
        }
    }

    /// No core file if this process aborts.
    pub(crate) fn no_core_dumps() {
        let limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: setrlimit reads a valid rlimit owned by this frame.
        unsafe { libc::setrlimit(libc::RLIMIT_CORE, &limit) };
    }

    /// The system call thread `tid` is blocked in, from
    /// `/proc/self/task/<tid>/syscall` (`None` while it runs).
    pub(crate) fn blocked_in_syscall(tid: libc::pid_t) -> Option<i64> {
        let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")).ok()?;
        text.split_whitespace().next()?.parse().ok()
    }

    /// True if `nr` is one of the epoll wait system calls.
    pub(crate) fn is_epoll_wait(nr: i64) -> bool {
        #[cfg(target_arch = "x86_64")]
        if nr == libc::SYS_epoll_wait {
            return true;
        }
        nr == libc::SYS_epoll_pwait || nr == libc::SYS_epoll_pwait2
    }
}
