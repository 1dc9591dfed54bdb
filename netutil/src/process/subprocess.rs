//! [`Subprocess`]: a child process whose pipes are [`IOStream`]s on the
//! loop and whose exit is a future (Tornado's `tornado.process.Subprocess`).
//!
//! The design is described in [`Subprocess`]'s documentation.

use std::cell::RefCell;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::process::{Child, Command, ExitStatus};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use ioloop::IOLoop;

use crate::error::context;
use crate::sys;
use crate::{IOStream, StreamOptions};

/// How to spawn a [`Subprocess`]: the loop, the streams' options, and
/// whether dropping it kills the child. [`Subprocess::spawn`] is
/// `SubprocessOptions::new().spawn(..)`.
///
/// # Examples
///
/// ```
/// use std::process::{Command, Stdio};
/// use netutil::{StreamOptions, SubprocessOptions};
///
/// let ioloop = ioloop::IOLoop::new()?;
/// let sleeper = SubprocessOptions::new()
///     .ioloop(&ioloop)
///     .stream_options(StreamOptions::new().max_buffer_size(1 << 20))
///     .kill_on_drop(true)
///     .spawn(Command::new("sleep").arg("60").stdout(Stdio::piped()))?;
/// drop(sleeper); // killed; the loop reaps it
/// ioloop.run()?; // returns once it is reaped
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct SubprocessOptions {
    ioloop: Option<IOLoop>,
    stream_options: StreamOptions,
    kill_on_drop: bool,
}

impl SubprocessOptions {
    /// The defaults: the current loop, the default [`StreamOptions`], no
    /// kill on drop.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    /// use netutil::SubprocessOptions;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let child = SubprocessOptions::new().spawn(&mut Command::new("true"))?;
    /// let status = ioloop.run_sync(|| child.wait_for_exit(), Some(std::time::Duration::from_secs(5)))??;
    /// assert!(status.success());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> SubprocessOptions {
        SubprocessOptions::default()
    }

    /// The loop that watches the child and runs its streams (default:
    /// [`IOLoop::current`]). It overrides the loop of
    /// [`stream_options`](SubprocessOptions::stream_options).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    /// use netutil::SubprocessOptions;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let child = SubprocessOptions::new().ioloop(&ioloop).spawn(&mut Command::new("true"))?;
    /// let status = ioloop.run_sync(|| child.wait_for_exit(), Some(std::time::Duration::from_secs(5)))??;
    /// assert!(status.success());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ioloop(mut self, ioloop: &IOLoop) -> SubprocessOptions {
        self.ioloop = Some(ioloop.clone());
        self
    }

    /// The options of the piped streams: buffer limits
    /// ([`StreamOptions::max_buffer_size`] bounds what
    /// [`read_until_close`](IOStream::read_until_close) collects).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    /// use netutil::{StreamOptions, SubprocessOptions};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let child = SubprocessOptions::new()
    ///     .stream_options(StreamOptions::new().max_buffer_size(1024))
    ///     .spawn(Command::new("echo").arg("hi").stdout(Stdio::piped()))?;
    /// let out = ioloop.run_sync(
    ///     || async { child.stdout().unwrap().read_until_close().await },
    ///     Some(std::time::Duration::from_secs(5)),
    /// )??;
    /// assert_eq!(out, b"hi\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stream_options(mut self, options: StreamOptions) -> SubprocessOptions {
        self.stream_options = options;
        self
    }

    /// Whether dropping the [`Subprocess`] sends `SIGKILL` to a child that
    /// has not exited yet (default false: it runs on, and the loop still
    /// reaps it when it exits). As tokio's `Command::kill_on_drop`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    /// use netutil::SubprocessOptions;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let child = SubprocessOptions::new().kill_on_drop(true).spawn(&mut Command::new("sleep").arg("60"))?;
    /// drop(child); // killed, and reaped by the loop
    /// ioloop.run()?; // returns once it is reaped
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kill_on_drop(mut self, kill_on_drop: bool) -> SubprocessOptions {
        self.kill_on_drop = kill_on_drop;
        self
    }

    /// Spawns `command` (see [`Subprocess::spawn`], which this is with
    /// options).
    ///
    /// # Errors
    ///
    /// As [`Subprocess::spawn`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    /// use netutil::SubprocessOptions;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let child = SubprocessOptions::new().spawn(Command::new("sh").args(["-c", "exit 2"]))?;
    /// let status = ioloop.run_sync(|| child.wait_for_exit(), Some(std::time::Duration::from_secs(5)))??;
    /// assert_eq!(status.code(), Some(2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn spawn(&self, command: &mut Command) -> io::Result<Subprocess> {
        let program = command.get_program().to_string_lossy().into_owned();
        let ioloop = self.ioloop.clone().unwrap_or_else(IOLoop::current);
        let mut child = command
            .spawn()
            .map_err(|err| context(err, format_args!("spawn `{program}`")))?;
        let pid = child.id();
        let (stdin, stdout, stderr) = match self.streams(&ioloop, &mut child) {
            Ok(streams) => streams,
            Err(err) => {
                // Of no use without its pipes, and not watched yet: end it
                // here rather than leave it running unseen.
                let _ = child.kill();
                let _ = child.wait();
                return Err(context(
                    err,
                    format_args!("subprocess `{program}` (pid {pid})"),
                ));
            }
        };
        // From here the loop's watcher reaps the child; `child` only held
        // the pipes, and dropping it neither waits nor kills.
        drop(child);
        let exit = Rc::new(Exit {
            program,
            pid,
            ioloop: ioloop.clone(),
            st: RefCell::new(ExitState::default()),
        });
        let watcher = Rc::clone(&exit);
        if let Err(err) = ioloop.add_child_handler(pid, move |status| watcher.exited(status)) {
            let err = context(
                err,
                format_args!("subprocess `{}` (pid {pid}): no exit watcher", exit.program),
            );
            log::debug!(target: "netutil", "{err}");
            exit.st.borrow_mut().unwatched = Some(err);
        }
        log::debug!(target: "netutil", "spawned `{}` (pid {pid})", exit.program);
        Ok(Subprocess {
            stdin,
            stdout,
            stderr,
            exit,
            kill_on_drop: self.kill_on_drop,
        })
    }

    /// Streams over the child's piped stdio.
    #[track_caller]
    fn streams(
        &self,
        ioloop: &IOLoop,
        child: &mut Child,
    ) -> io::Result<(Option<IOStream>, Option<IOStream>, Option<IOStream>)> {
        let options = self.stream_options.clone().ioloop(ioloop);
        let build = |name: &str, pipe: Option<OwnedFd>| {
            pipe.map(|fd| options.build(fd))
                .transpose()
                .map_err(|err| context(err, name))
        };
        let stdin = build("stdin", child.stdin.take().map(OwnedFd::from))?;
        let stdout = build("stdout", child.stdout.take().map(OwnedFd::from))?;
        let stderr = build("stderr", child.stderr.take().map(OwnedFd::from))?;
        Ok((stdin, stdout, stderr))
    }
}

/// A child process on the loop: its piped stdin, stdout and stderr as
/// [`IOStream`]s, its exit as a future (Tornado's
/// `tornado.process.Subprocess`).
///
/// The caller builds a [`std::process::Command`] as usual; each of stdin,
/// stdout and stderr set to [`Stdio::piped()`](std::process::Stdio::piped)
/// becomes a non-blocking [`IOStream`] on the loop (Tornado's
/// `Subprocess.STREAM` and `PipeIOStream`), the others stay as the caller
/// set them. The loop watches the child with
/// [`IOLoop::add_child_handler`] from the moment it is spawned, reaps it
/// when it exits, and hands the status to every
/// [`wait_for_exit`](Subprocess::wait_for_exit) future and to the
/// [`set_exit_callback`](Subprocess::set_exit_callback) callback.
///
/// # Examples
///
/// ```
/// use std::process::{Command, Stdio};
/// use netutil::Subprocess;
///
/// let ioloop = ioloop::IOLoop::new()?;
/// let (output, status) = ioloop.run_sync(
///     || async {
///         let cat = Subprocess::spawn(
///             Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()),
///         )?;
///         let stdin = cat.stdin().expect("stdin is piped");
///         stdin.write(b"hello, child\n").await?; // in the pipe now
///         stdin.close(); // cat reads end of file, and exits
///         let output = cat.stdout().expect("stdout is piped").read_until_close().await?;
///         let status = cat.wait_for_exit_checked().await?; // an error unless 0
///         Ok::<_, std::io::Error>((output, status))
///     },
///     Some(std::time::Duration::from_secs(10)),
/// )??;
/// assert_eq!(output, b"hello, child\n");
/// assert!(status.success());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Standard error apart from standard output, and a failing exit:
///
/// ```
/// use std::process::{Command, Stdio};
/// use netutil::{CalledProcessError, Subprocess};
///
/// let ioloop = ioloop::IOLoop::new()?;
/// ioloop.run_sync(
///     || async {
///         let child = Subprocess::spawn(
///             Command::new("sh")
///                 .args(["-c", "echo out; echo err >&2; exit 3"])
///                 .stdout(Stdio::piped())
///                 .stderr(Stdio::piped()),
///         )?;
///         let (out, err) = futures::join!(
///             child.stdout().unwrap().read_until_close(),
///             child.stderr().unwrap().read_until_close(),
///         );
///         assert_eq!((out?, err?), (b"out\n".to_vec(), b"err\n".to_vec()));
///
///         let status = child.wait_for_exit().await?;
///         assert_eq!(status.code(), Some(3));
///         let failed = child.wait_for_exit_checked().await.unwrap_err();
///         let called = CalledProcessError::find(&failed).unwrap();
///         assert_eq!(called.pid(), child.pid());
///         Ok::<(), std::io::Error>(())
///     },
///     None,
/// )??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Semantics
///
/// * **Exit and end of file are independent.** The child's exit completes
///   the exit future; it does not close the streams. Output still in a
///   pipe stays readable after the exit, and a pipe reaches end of file
///   only when every process holding its other end has closed it (a
///   grandchild left running in the background keeps stdout open after
///   the child exits). To collect everything, read the streams to end of
///   file *and* wait for the exit, in either order.
/// * **Read what the child writes.** A pipe holds about 64 KiB; a child
///   writing more blocks until it is read. Awaiting the exit while nobody
///   reads stdout or stderr can wait forever, as with
///   [`std::process::Child::wait`].
/// * **Closing stdin** ([`IOStream::close`] on [`stdin`](Subprocess::stdin))
///   is how the child learns there is no more input. `close` drops data
///   not yet handed to the kernel, so await the last
///   [`write`](IOStream::write) first. A write to a child that exited (or
///   closed its stdin) fails and closes the stream, its cause
///   `BrokenPipe`: Rust programs ignore `SIGPIPE`.
/// * **No zombies.** The loop reaps the child when it exits, whether or not
///   anyone waits for it, and even if the `Subprocess` was dropped before
///   (its streams are closed then, unless cloned). Dropping does not kill
///   the child (as [`std::process::Child`] and tokio's), unless asked with
///   [`SubprocessOptions::kill_on_drop`]. The child stays a zombie only if
///   the loop is closed or dropped before the child exits, or on platforms
///   without child watchers (see Portability).
/// * **The watcher keeps [`IOLoop::run`] going** until the child exits;
///   `ioloop.set_child_ref(subprocess.pid(), false)` releases it
///   ([`IOLoop::set_child_ref`]).
/// * **Nothing else may reap the child**: `waitpid(-1, ..)` elsewhere in the
///   process takes the status first; the exit future then never completes
///   (the loop logs a warning).
///
/// # Portability
///
/// Unix. Exit notification uses [`IOLoop::add_child_handler`], which needs
/// a `pidfd` (Linux 5.3 or later). Elsewhere [`Subprocess::spawn`] and the
/// streams still work, but [`wait_for_exit`](Subprocess::wait_for_exit)
/// and [`set_exit_callback`](Subprocess::set_exit_callback) fail with the
/// `Unsupported` error `add_child_handler` gave, and nothing reaps the
/// child: reap it with `waitpid(pid)` yourself.
///
/// # Thread safety
///
/// A `Subprocess` belongs to the thread of its loop, as its streams do: it
/// is neither `Send` nor `Sync`.
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<netutil::Subprocess>();
/// ```
pub struct Subprocess {
    stdin: Option<IOStream>,
    stdout: Option<IOStream>,
    stderr: Option<IOStream>,
    exit: Rc<Exit>,
    kill_on_drop: bool,
}

/// What the loop's child watcher and the exit futures share.
struct Exit {
    program: String,
    pid: u32,
    ioloop: IOLoop,
    st: RefCell<ExitState>,
}

#[derive(Default)]
struct ExitState {
    /// INVARIANT: `Some` once the loop has reaped the child; never changes
    /// after. Then `waiters` is empty and `callback` `None`.
    status: Option<ExitStatus>,
    /// Why the exit is not watched (`add_child_handler` failed); then
    /// `status` stays `None`.
    unwatched: Option<io::Error>,
    /// The tasks awaiting a [`WaitForExit`], woken on exit.
    waiters: Vec<Waker>,
    /// The [`Subprocess::set_exit_callback`] callback.
    callback: Option<Box<dyn FnOnce(ExitStatus)>>,
}

impl Exit {
    /// The child watcher's callback: record, wake, call back.
    fn exited(&self, status: ExitStatus) {
        let (waiters, callback) = {
            let mut st = self.st.borrow_mut();
            st.status = Some(status);
            (std::mem::take(&mut st.waiters), st.callback.take())
        };
        log::debug!(target: "netutil", "subprocess `{}` (pid {}): {status}", self.program, self.pid);
        for waker in waiters {
            waker.wake();
        }
        if let Some(callback) = callback {
            callback(status);
        }
    }

    /// The error of an unwatched exit, anew for each caller, with the same
    /// message and OS error number.
    fn unwatched_error(err: &io::Error) -> io::Error {
        let message = err.to_string();
        if let Some(code) = ioloop::raw_os_error(err) {
            let os = io::Error::from_raw_os_error(code);
            let what = message
                .strip_suffix(&os.to_string())
                .and_then(|what| what.strip_suffix(": "));
            if let Some(what) = what {
                return context(os, what);
            }
        }
        io::Error::new(err.kind(), message)
    }

    fn called_process_error(&self, status: ExitStatus) -> io::Error {
        io::Error::other(CalledProcessError {
            program: self.program.clone(),
            pid: self.pid,
            status,
        })
    }
}

impl Subprocess {
    /// Spawns `command` on the current loop, with the default
    /// [`SubprocessOptions`].
    ///
    /// Each of stdin, stdout and stderr that `command` sets to
    /// [`Stdio::piped()`](std::process::Stdio::piped) becomes an
    /// [`IOStream`] (non-blocking, on the loop; see
    /// [`stdin`](Subprocess::stdin)); the others are left as set (inherited
    /// by default, or null, or a file). The loop watches for the child's
    /// exit from now on.
    ///
    /// # Errors
    ///
    /// * The spawn's `io::Error` (`NotFound` for a missing program, and so
    ///   on), its message naming the program.
    /// * An error naming the program and pid if a pipe cannot become a
    ///   stream (the loop is closed, for example); the child is then killed
    ///   and reaped before returning.
    ///
    /// Not being able to watch the exit is not an error here (see
    /// Portability): [`wait_for_exit`](Subprocess::wait_for_exit) reports
    /// it.
    ///
    /// # Portability
    ///
    /// Unix. Exit watching needs Linux 5.3 or later; see
    /// [`Subprocess`'s portability](Subprocess#portability).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    /// use netutil::Subprocess;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let child = Subprocess::spawn(Command::new("tr").arg("a-z").arg("A-Z").stdin(Stdio::piped()).stdout(Stdio::piped()))?;
    /// let out = ioloop.run_sync(|| async {
    ///     let stdin = child.stdin().unwrap();
    ///     stdin.write(b"hello\n").await?;
    ///     stdin.close(); // end of file for `tr`
    ///     child.stdout().unwrap().read_until_close().await
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// assert_eq!(out, b"HELLO\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn spawn(command: &mut Command) -> io::Result<Subprocess> {
        SubprocessOptions::new().spawn(command)
    }

    /// The child's process id.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    /// use netutil::Subprocess;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let child = Subprocess::spawn(&mut Command::new("true"))?;
    /// assert!(child.pid() > 0);
    /// # ioloop.run_sync(|| child.wait_for_exit(), Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pid(&self) -> u32 {
        self.exit.pid
    }

    /// The stream writing to the child's stdin, if `command` piped it.
    ///
    /// [`close`](IOStream::close) it to send end of file (after awaiting
    /// the last write: closing drops unsent data).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    /// use netutil::Subprocess;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let child = Subprocess::spawn(Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()))?;
    /// let out = ioloop.run_sync(|| async {
    ///     child.stdin().unwrap().write(b"echo").await?;
    ///     child.stdin().unwrap().close();
    ///     child.stdout().unwrap().read_until_close().await
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// assert_eq!(out, b"echo");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stdin(&self) -> Option<&IOStream> {
        self.stdin.as_ref()
    }

    /// The stream reading the child's stdout, if `command` piped it. It
    /// reaches end of file when the child (and any process it passed the
    /// pipe to) closes it, normally on exit.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    /// use netutil::Subprocess;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let child = Subprocess::spawn(Command::new("echo").arg("out").stdout(Stdio::piped()))?;
    /// let line = ioloop.run_sync(
    ///     || async { child.stdout().unwrap().read_until(b"\n", Some(64)).await },
    ///     Some(std::time::Duration::from_secs(5)),
    /// )??;
    /// assert_eq!(line, b"out\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stdout(&self) -> Option<&IOStream> {
        self.stdout.as_ref()
    }

    /// The stream reading the child's stderr, if `command` piped it; as
    /// [`stdout`](Subprocess::stdout).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    /// use netutil::Subprocess;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let child = Subprocess::spawn(Command::new("sh").args(["-c", "echo oops >&2"]).stderr(Stdio::piped()))?;
    /// let err = ioloop.run_sync(
    ///     || async { child.stderr().unwrap().read_until_close().await },
    ///     Some(std::time::Duration::from_secs(5)),
    /// )??;
    /// assert_eq!(err, b"oops\n");
    /// assert!(child.stdout().is_none()); // not piped
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stderr(&self) -> Option<&IOStream> {
        self.stderr.as_ref()
    }

    /// The exit status, once the loop has reaped the child (Tornado's
    /// `returncode`: here `status.code()` for an exit,
    /// [`status.signal()`](std::os::unix::process::ExitStatusExt::signal)
    /// for a death by signal).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use netutil::Subprocess;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let child = Subprocess::spawn(&mut Command::new("true"))?;
    /// assert_eq!(child.exit_status(), None); // not reaped yet
    /// ioloop.run()?; // until the loop has reaped it
    /// assert!(child.exit_status().unwrap().success());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.exit.st.borrow().status
    }

    /// A future of the child's exit status (Tornado's
    /// `wait_for_exit(raise_error=False)`).
    ///
    /// Any number of futures may wait, each gets the status; one created
    /// or polled after the exit completes at once. The future does not
    /// borrow the `Subprocess` and may outlive it.
    ///
    /// # Errors
    ///
    /// The future gives the error that kept the loop from watching the
    /// child (`Unsupported` without pidfds), naming the program and pid.
    /// It never completes if the loop is closed before the child exits.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use netutil::Subprocess;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let status = ioloop.run_sync(
    ///     || async { Subprocess::spawn(Command::new("sh").args(["-c", "exit 3"]))?.wait_for_exit().await },
    ///     None,
    /// )??;
    /// assert_eq!(status.code(), Some(3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_for_exit(&self) -> WaitForExit {
        WaitForExit {
            exit: Rc::clone(&self.exit),
            checked: false,
        }
    }

    /// As [`wait_for_exit`](Subprocess::wait_for_exit), but an exit other
    /// than status 0 is an error (Tornado's `wait_for_exit()`, whose
    /// `raise_error` defaults to true).
    ///
    /// # Errors
    ///
    /// As [`wait_for_exit`](Subprocess::wait_for_exit), and for a non-zero
    /// exit or a death by signal an `io::Error` of kind `Other` holding a
    /// [`CalledProcessError`] (Tornado raises `CalledProcessError`), whose
    /// message names the program, the pid and the status: "subprocess `sh`
    /// (pid 4242) failed: exit status: 3".
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use netutil::{CalledProcessError, Subprocess};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let err = ioloop.run_sync(
    ///     || async { Subprocess::spawn(&mut Command::new("false"))?.wait_for_exit_checked().await },
    ///     None,
    /// )?.unwrap_err();
    /// assert_eq!(CalledProcessError::find(&err).unwrap().status().code(), Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_for_exit_checked(&self) -> WaitForExit {
        WaitForExit {
            exit: Rc::clone(&self.exit),
            checked: true,
        }
    }

    /// Runs `callback(status)` on the loop when the child exits (Tornado's
    /// `set_exit_callback`), or on the next iteration if it already has.
    /// Replaces a previous callback, as Tornado's.
    ///
    /// The callback runs even if the `Subprocess` was dropped meanwhile. A
    /// panic in it is caught and reported by the loop's exception handler.
    ///
    /// # Errors
    ///
    /// The error that kept the loop from watching the child
    /// (`Unsupported` without pidfds), naming the program and pid; the
    /// callback is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use netutil::Subprocess;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let child = Subprocess::spawn(&mut Command::new("true"))?;
    /// let stopper = ioloop.clone();
    /// child.set_exit_callback(move |status| {
    ///     assert!(status.success());
    ///     stopper.stop();
    /// })?;
    /// ioloop.start()?; // until the callback stops it
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn set_exit_callback(&self, callback: impl FnOnce(ExitStatus) + 'static) -> io::Result<()> {
        let mut st = self.exit.st.borrow_mut();
        if let Some(status) = st.status {
            drop(st);
            self.exit.ioloop.add_callback(move || callback(status));
        } else if let Some(err) = &st.unwatched {
            return Err(Exit::unwatched_error(err));
        } else {
            st.callback = Some(Box::new(callback));
        }
        Ok(())
    }

    /// Sends `signal` (a signal number such as `libc::SIGTERM`) to the
    /// child (Python's `Popen.send_signal`).
    ///
    /// The pid is used only while it surely names the child: once the
    /// child has been reaped its number may belong to another process, and
    /// the signal is refused instead. A child that exited but is not yet
    /// reaped (a zombie) takes the signal without effect.
    ///
    /// # Errors
    ///
    /// * `InvalidInput`, naming the program and pid, if the child has
    ///   exited and been reaped (its status is or is about to be known).
    /// * The OS error of `kill` (`EINVAL` for a bad signal number).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    /// use std::process::Command;
    /// use netutil::Subprocess;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let status = ioloop.run_sync(
    ///     || async {
    ///         let child = Subprocess::spawn(Command::new("sleep").arg("60"))?;
    ///         child.signal(libc::SIGTERM)?;
    ///         child.wait_for_exit().await
    ///     },
    ///     None,
    /// )??;
    /// assert_eq!(status.signal(), Some(libc::SIGTERM));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn signal(&self, signal: i32) -> io::Result<()> {
        let (program, pid) = (&self.exit.program, self.exit.pid);
        let what = || format!("signal {signal} to subprocess `{program}` (pid {pid})");
        let exited = |detail: String| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: already exited{detail}", what()),
            )
        };
        if let Some(status) = self.exit_status() {
            return Err(exited(format!(" ({status})")));
        }
        // `Child::id` is the pid_t cast to u32: casting back is lossless.
        let raw = pid as libc::pid_t;
        match sys::is_unreaped_child(raw) {
            Ok(true) => sys::kill(raw, signal).map_err(|err| context(err, what())),
            Ok(false) => Err(exited(String::new())),
            Err(err) => Err(context(err, what())),
        }
    }

    /// Sends `SIGKILL` to the child: [`signal(libc::SIGKILL)`](Subprocess::signal).
    /// The loop reaps it as usual; await
    /// [`wait_for_exit`](Subprocess::wait_for_exit) to know it is gone.
    ///
    /// # Errors
    ///
    /// As [`signal`](Subprocess::signal): `InvalidInput` if the child was
    /// already reaped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    /// use std::process::Command;
    /// use netutil::Subprocess;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// ioloop.run_sync(
    ///     || async {
    ///         let child = Subprocess::spawn(Command::new("sleep").arg("60"))?;
    ///         child.kill()?;
    ///         assert_eq!(child.wait_for_exit().await?.signal(), Some(libc::SIGKILL));
    ///         assert!(child.kill().is_err(), "gone");
    ///         Ok::<(), std::io::Error>(())
    ///     },
    ///     None,
    /// )??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kill(&self) -> io::Result<()> {
        self.signal(libc::SIGKILL)
    }
}

impl Drop for Subprocess {
    fn drop(&mut self) {
        if self.kill_on_drop
            && self.exit_status().is_none()
            && let Err(err) = self.kill()
        {
            log::debug!(target: "netutil", "kill on drop: {err}");
        }
    }
}

impl fmt::Debug for Subprocess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subprocess")
            .field("program", &self.exit.program)
            .field("pid", &self.exit.pid)
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .field("exit_status", &self.exit_status())
            .field("kill_on_drop", &self.kill_on_drop)
            .finish()
    }
}

/// The future of [`Subprocess::wait_for_exit`] and
/// [`Subprocess::wait_for_exit_checked`]: the child's exit status.
///
/// # Examples
///
/// ```
/// use std::process::{Command, Stdio};
/// use netutil::Subprocess;
///
/// let ioloop = ioloop::IOLoop::new()?;
/// let child = Subprocess::spawn(&mut Command::new("true"))?;
/// let future: netutil::WaitForExit = child.wait_for_exit();
/// drop(child); // the future does not borrow the Subprocess
/// let status = ioloop.run_sync(|| future, Some(std::time::Duration::from_secs(5)))??;
/// assert!(status.success());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct WaitForExit {
    exit: Rc<Exit>,
    checked: bool,
}

impl Future for WaitForExit {
    type Output = io::Result<ExitStatus>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let exit = &*self.exit;
        let mut st = exit.st.borrow_mut();
        if let Some(status) = st.status {
            return Poll::Ready(if self.checked && !status.success() {
                Err(exit.called_process_error(status))
            } else {
                Ok(status)
            });
        }
        if let Some(err) = &st.unwatched {
            return Poll::Ready(Err(Exit::unwatched_error(err)));
        }
        if !st.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            st.waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl fmt::Debug for WaitForExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForExit")
            .field("pid", &self.exit.pid)
            .field("checked", &self.checked)
            .finish()
    }
}

/// A child that exited with a status other than 0 or died by a signal,
/// inside the `io::Error` of [`Subprocess::wait_for_exit_checked`]
/// (Tornado's `subprocess.CalledProcessError`).
///
/// # Examples
///
/// ```
/// use std::process::{Command, Stdio};
/// use netutil::Subprocess;
///
/// let ioloop = ioloop::IOLoop::new()?;
/// let child = Subprocess::spawn(Command::new("sh").args(["-c", "exit 4"]))?;
/// let pid = child.pid();
/// let err = ioloop
///     .run_sync(|| child.wait_for_exit_checked(), Some(std::time::Duration::from_secs(5)))?
///     .unwrap_err();
/// let failed = netutil::CalledProcessError::find(&err).expect("a non-zero exit");
/// assert_eq!(failed.status().code(), Some(4));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct CalledProcessError {
    program: String,
    pid: u32,
    status: ExitStatus,
}

impl CalledProcessError {
    /// The exit status: `code()` for an exit, `signal()` for a death by
    /// signal (Tornado's `returncode`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    /// use netutil::Subprocess;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let child = Subprocess::spawn(Command::new("sh").args(["-c", "exit 4"]))?;
    /// let pid = child.pid();
    /// let err = ioloop
    ///     .run_sync(|| child.wait_for_exit_checked(), Some(std::time::Duration::from_secs(5)))?
    ///     .unwrap_err();
    /// let failed = netutil::CalledProcessError::find(&err).expect("a non-zero exit");
    /// assert_eq!(failed.status().code(), Some(4));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn status(&self) -> ExitStatus {
        self.status
    }

    /// The child's process id.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    /// use netutil::Subprocess;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let child = Subprocess::spawn(Command::new("sh").args(["-c", "exit 4"]))?;
    /// let pid = child.pid();
    /// let err = ioloop
    ///     .run_sync(|| child.wait_for_exit_checked(), Some(std::time::Duration::from_secs(5)))?
    ///     .unwrap_err();
    /// let failed = netutil::CalledProcessError::find(&err).expect("a non-zero exit");
    /// assert_eq!(failed.pid(), pid);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The program, as given to the `Command`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    /// use netutil::Subprocess;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let child = Subprocess::spawn(Command::new("sh").args(["-c", "exit 4"]))?;
    /// let pid = child.pid();
    /// let err = ioloop
    ///     .run_sync(|| child.wait_for_exit_checked(), Some(std::time::Duration::from_secs(5)))?
    ///     .unwrap_err();
    /// let failed = netutil::CalledProcessError::find(&err).expect("a non-zero exit");
    /// assert_eq!(failed.program(), "sh");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The `CalledProcessError` inside `err`, if it is one.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    /// use netutil::Subprocess;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let child = Subprocess::spawn(Command::new("sh").args(["-c", "exit 4"]))?;
    /// let pid = child.pid();
    /// let err = ioloop
    ///     .run_sync(|| child.wait_for_exit_checked(), Some(std::time::Duration::from_secs(5)))?
    ///     .unwrap_err();
    /// let failed = netutil::CalledProcessError::find(&err).expect("a non-zero exit");
    /// # let _ = failed;
    /// assert!(netutil::CalledProcessError::find(&std::io::Error::other("x")).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn find(err: &io::Error) -> Option<&CalledProcessError> {
        err.get_ref()?.downcast_ref::<CalledProcessError>()
    }
}

impl fmt::Display for CalledProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "subprocess `{}` (pid {}) failed: {}",
            self.program, self.pid, self.status
        )
    }
}

impl StdError for CalledProcessError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unwatched_exit_error_keeps_its_message_and_os_error_number() {
        let first = context(
            context(io::Error::from_raw_os_error(libc::EMFILE), "pidfd for 42"),
            "subprocess `sleep` (pid 42): no exit watcher",
        );
        let again = Exit::unwatched_error(&first);
        assert_eq!(again.to_string(), first.to_string());
        assert_eq!(ioloop::raw_os_error(&again), Some(libc::EMFILE));
        assert_eq!(again.kind(), first.kind());
    }
}
