//! [`fork_processes`] and [`task_id`]: one server, several processes
//! (Tornado's `process.fork_processes`).

use std::collections::HashMap;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use ioloop::IOLoop;

use crate::sys::{self, Fork, SignalMask};

/// The default `max_restarts` of [`fork_processes`]: Tornado's 100.
///
/// # Examples
///
/// ```
/// // fork_processes(n, None) restarts crashed children at most this many times.
/// assert_eq!(netutil::DEFAULT_MAX_RESTARTS, 100);
/// ```
pub const DEFAULT_MAX_RESTARTS: usize = 100;

/// `usize::MAX` outside a forked child.
static TASK_ID: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Set once `fork_processes` has run in this process (parent or child).
static FORKED: AtomicBool = AtomicBool::new(false);

/// This process's task id, `0..n`, in a child of [`fork_processes`];
/// `None` elsewhere (Tornado's `task_id()`).
///
/// # Examples
///
/// ```
/// // None outside a child of fork_processes; Some(0..n) inside one.
/// assert_eq!(netutil::task_id(), None);
/// ```
pub fn task_id() -> Option<usize> {
    match TASK_ID.load(Ordering::SeqCst) {
        usize::MAX => None,
        id => Some(id),
    }
}

/// Forks `num_processes` children (0: one per CPU) and returns, in each
/// child, its task id (`0..num_processes`, also given by [`task_id`]).
///
/// The parent never returns `Ok`: it supervises the children until they
/// are all gone, then exits the process. As Tornado's:
///
/// * a child that exits with status 0 is done;
/// * a child killed by a signal or exiting non-zero is logged at warning
///   and restarted with the same task id, up to `max_restarts` restarts in
///   total ([`DEFAULT_MAX_RESTARTS`] if `None`);
/// * when every child has exited cleanly, the parent exits with status 0.
///
/// Beyond Tornado: `SIGTERM` and `SIGINT` sent to the parent are forwarded
/// to every child, and no child is restarted afterwards; the parent then
/// exits with 0 once all children are gone, if each exited with 0 or by
/// the forwarded signal (1 otherwise). The parent waits for signals
/// synchronously (they are blocked in the parent, and unblocked in each
/// child), so no handler is installed that the children would inherit.
///
/// # The pattern
///
/// Bind first, fork, then create the loop in each child; the children
/// share the listening sockets. Shared sockets wake every child for each
/// connection, and under a burst one child can get most of them: on
/// Linux, bind with `SO_REUSEPORT` and let each child listen on a socket
/// of its own too ([`TCPServer::add_worker_sockets`](crate::TCPServer::add_worker_sockets)),
/// and the kernel spreads the connections:
///
/// ```no_run
/// use netutil::{BindOptions, DEFAULT_BACKLOG, IOStream, TCPServer, fork_processes};
///
/// // 1. bind, in the parent
/// let listeners = BindOptions::new().reuse_port(true).bind(8888, None)?;
/// let id = fork_processes(0, None)?;   // 2. fork: children return
/// let ioloop = ioloop::IOLoop::new()?; // 3. a loop per child
/// let server = TCPServer::new(move |stream: IOStream, _| async move {
///     let _ = stream.write(format!("hello from task {id}\n").as_bytes()).await;
/// });
/// server.add_worker_sockets(listeners, DEFAULT_BACKLOG)?;
/// ioloop.start()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// * `Other` if a loop is open in this process ([`IOLoop::open_loops`]):
///   its epoll descriptor would be shared with the children (Tornado's
///   issues #1562, #2004). Close it, or fork first.
/// * `Other` if `fork_processes` already ran in this process.
/// * In the parent, `Other` ("too many child restarts, giving up") when
///   restarts exceed `max_restarts`; the children still running are left
///   running, as Tornado's.
/// * An OS error from `fork` or `waitpid`.
///
/// # Panics
///
/// Never in the parent's supervision. A child that panics exits non-zero
/// and is restarted.
pub fn fork_processes(num_processes: usize, max_restarts: Option<usize>) -> io::Result<usize> {
    if IOLoop::open_loops() > 0 {
        return Err(io::Error::other(format!(
            "fork_processes: {} IOLoop(s) already exist in this process; \
             bind sockets, fork, then create the loop in each child",
            IOLoop::open_loops()
        )));
    }
    if FORKED.swap(true, Ordering::SeqCst) {
        return Err(io::Error::other(
            "fork_processes: already called in this process",
        ));
    }
    let n = if num_processes == 0 {
        std::thread::available_parallelism().map_or(1, usize::from)
    } else {
        num_processes
    };
    let max_restarts = max_restarts.unwrap_or(DEFAULT_MAX_RESTARTS);
    if let Some(threads) = thread_count().filter(|&t| t > 1) {
        log::warn!(
            target: "netutil",
            "fork_processes: this process has {threads} threads; only the calling one survives in the children"
        );
    }
    log::info!(target: "netutil", "starting {n} processes");
    let mask = SignalMask::block(&[libc::SIGCHLD, libc::SIGTERM, libc::SIGINT])?;
    let mut supervisor = Supervisor {
        mask,
        children: HashMap::new(),
        restarts: 0,
        max_restarts,
        shutdown: None,
        all_clean: true,
    };
    for id in 0..n {
        if let Some(id) = supervisor.start_child(id)? {
            return Ok(id);
        }
    }
    match supervisor.run() {
        Ok(Some(id)) => Ok(id),
        Ok(None) => {
            let code = i32::from(!supervisor.all_clean);
            std::process::exit(code)
        }
        Err(err) => {
            let _ = supervisor.mask.restore();
            Err(err)
        }
    }
}

fn thread_count() -> Option<usize> {
    std::fs::read_dir("/proc/self/task")
        .ok()
        .map(Iterator::count)
}

struct Supervisor {
    mask: SignalMask,
    /// Live children: pid → task id.
    children: HashMap<libc::pid_t, usize>,
    restarts: usize,
    max_restarts: usize,
    /// The signal forwarded to the children, once asked to shut down.
    shutdown: Option<libc::c_int>,
    all_clean: bool,
}

impl Supervisor {
    /// Forks a child with task id `id`: `Some(id)` in the child.
    fn start_child(&mut self, id: usize) -> io::Result<Option<usize>> {
        match sys::fork()? {
            Fork::Child => {
                // The child starts with the signals the parent had.
                self.mask.restore()?;
                TASK_ID.store(id, Ordering::SeqCst);
                Ok(Some(id))
            }
            Fork::Parent(pid) => {
                self.children.insert(pid, id);
                Ok(None)
            }
        }
    }

    /// Supervises until every child is gone (`Ok(None)`), or returns
    /// `Ok(Some(id))` in a restarted child.
    fn run(&mut self) -> io::Result<Option<usize>> {
        loop {
            while let Some((pid, status)) = sys::try_wait_child()? {
                let Some(id) = self.children.remove(&pid) else {
                    continue; // not ours
                };
                if let Some(id) = self.child_exited(pid, id, status)? {
                    return Ok(Some(id));
                }
            }
            if self.children.is_empty() {
                return Ok(None);
            }
            // The timeout is a safety net; SIGCHLD wakes us.
            match self.mask.wait(Duration::from_secs(1))? {
                Some(signal) if signal == libc::SIGTERM || signal == libc::SIGINT => {
                    self.forward(signal);
                }
                _ => {}
            }
        }
    }

    fn forward(&mut self, signal: libc::c_int) {
        log::info!(
            target: "netutil",
            "signal {signal}: forwarding to {} children, no more restarts",
            self.children.len()
        );
        self.shutdown = Some(signal);
        for &pid in self.children.keys() {
            if let Err(err) = sys::kill(pid, signal) {
                log::warn!(target: "netutil", "forwarding signal {signal} to child {pid}: {err}");
            }
        }
    }

    fn child_exited(
        &mut self,
        pid: libc::pid_t,
        id: usize,
        status: ExitStatus,
    ) -> io::Result<Option<usize>> {
        let clean = status.code() == Some(0);
        if clean {
            log::info!(target: "netutil", "child {id} (pid {pid}) exited normally");
            return Ok(None);
        }
        if let Some(signal) = self.shutdown {
            if status.signal() != Some(signal) {
                self.all_clean = false;
            }
            log::info!(target: "netutil", "child {id} (pid {pid}) ended while shutting down: {status}");
            return Ok(None);
        }
        log::warn!(target: "netutil", "child {id} (pid {pid}) {status}, restarting");
        self.restarts += 1;
        if self.restarts > self.max_restarts {
            return Err(io::Error::other("too many child restarts, giving up"));
        }
        self.start_child(id)
    }
}
