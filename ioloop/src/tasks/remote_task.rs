//! Running a future on a loop from another thread and getting its output
//! back there: [`Remote::spawn`] and its [`RemoteJoinHandle`] (asyncio's
//! `run_coroutine_threadsafe`).
//!
//! The factory crosses to the loop's thread inside a remote callback, and
//! is called there, so the future it makes never leaves that thread and
//! may hold the loop's `Rc` state. The future runs as an ordinary task;
//! a second task, the relay, awaits its [`JoinHandle`] and sends the
//! outcome back through a one-shot channel, and aborts the task when the
//! handle asks it to. Whatever drops the callback or the tasks without
//! running them (a closed loop, or a dropped one for the tasks) drops the
//! channel's sender, which the handle reports as
//! [`RemoteSpawnError::Closed`].

use std::any::Any;
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use futures::channel::oneshot;

use crate::core::current;
use crate::core::exception;
use crate::core::remote::RemoteQueue;
use crate::{IOLoop, JoinError, JoinHandle, Remote};

type Outcome<T> = Result<T, RemoteSpawnError>;

impl Remote {
    /// Runs the future that `factory` makes on the loop, from any thread,
    /// and returns a handle to its output (asyncio's
    /// `run_coroutine_threadsafe`).
    ///
    /// `factory` is sent to the loop's thread and called there, on a later
    /// iteration; the future it returns is spawned as a task
    /// ([`IOLoop::spawn`]). The factory must be `Send`; the future need not
    /// be, since it never leaves the loop's thread (it may hold `Rc`s to the
    /// loop's state); its output must be `Send`, since it crosses back.
    ///
    /// # Semantics
    ///
    /// * The handle is a future of `Result<T, RemoteSpawnError>` that any
    ///   executor can drive, and can also be waited on by a plain thread
    ///   ([`wait_timeout`](RemoteJoinHandle::wait_timeout),
    ///   [`join`](RemoteJoinHandle::join)).
    /// * A panic in the factory or the future is caught, reported to the
    ///   loop's exception handler (naming this call's location), and handed
    ///   to the handle as [`RemoteSpawnError::Panicked`].
    /// * If the loop is closed, or is closed before the future finishes,
    ///   the factory or the future is dropped and the handle gives
    ///   [`RemoteSpawnError::Closed`]; so does a loop dropped without
    ///   `close`, whether or not the factory had reached it (dropping a
    ///   loop closes its remote queue and drops what waits there).
    /// * [`cancel`](RemoteJoinHandle::cancel) drops the future on the loop
    ///   (asyncio's `Future.cancel()`); dropping the handle does not: the
    ///   future runs on and its output is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use std::time::Duration;
    /// use ioloop::{IOLoop, LoopThread};
    ///
    /// let background = LoopThread::spawn()?; // a loop on a thread of its own
    /// let mut answer = background.remote().spawn(|| async {
    ///     // On the loop's thread: neither `IOLoop` nor `Rc` is `Send`, and
    ///     // both are fine here.
    ///     let ioloop = IOLoop::current();
    ///     let count = Rc::new(Cell::new(41));
    ///     ioloop.sleep(Duration::from_millis(1)).await;
    ///     count.set(count.get() + 1);
    ///     count.get()
    /// });
    /// assert_eq!(answer.wait_timeout(Duration::from_secs(10))??, 42);
    /// background.stop()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Thread safety
    ///
    /// What the factory captures crosses threads, so it must be `Send`;
    /// loop-owned state such as an `Rc` is reached from inside the future,
    /// on the loop's thread, not captured:
    ///
    /// ```compile_fail
    /// use std::rc::Rc;
    ///
    /// let ioloop = ioloop::IOLoop::new().unwrap();
    /// let state = Rc::new(1);
    /// let _ = ioloop.remote().spawn(move || async move { *state }); // Rc is not Send
    /// ```
    #[track_caller]
    pub fn spawn<F, Fut>(&self, factory: F) -> RemoteJoinHandle<Fut::Output>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        let site = Location::caller();
        let (result_tx, result_rx) = oneshot::channel();
        let (cancel_tx, cancel_rx) = oneshot::channel();
        let remote = Arc::clone(&self.queue);
        self.add_callback(move || start(&remote, factory, cancel_rx, result_tx, site));
        RemoteJoinHandle {
            result: result_rx,
            cancel: Some(cancel_tx),
            remote: Arc::clone(&self.queue),
            done: false,
        }
    }
}

/// On the loop's thread: spawns the future and its relay, unless the
/// handle was cancelled first.
fn start<F, Fut>(
    remote: &Arc<RemoteQueue>,
    factory: F,
    mut cancel: oneshot::Receiver<()>,
    result: oneshot::Sender<Outcome<Fut::Output>>,
    site: &'static Location<'static>,
) where
    F: FnOnce() -> Fut + 'static,
    Fut: Future + 'static,
    Fut::Output: 'static,
{
    // Remote callbacks run only inside a run of their loop, which makes it
    // current; without it, `result` is dropped and the handle says closed.
    let Some(ioloop) = loop_of(remote) else {
        return;
    };
    if let Ok(Some(())) = cancel.try_recv() {
        let _ = result.send(Err(RemoteSpawnError::Cancelled));
        return;
    }
    // The factory is called in the task's first poll, under its panic guard.
    let task = ioloop.spawn_at(async move { factory().await }, site);
    ioloop.spawn_at(relay(task, cancel, result), site).detach();
}

/// The loop on this thread whose remote queue is `remote`, if it is current.
fn loop_of(remote: &Arc<RemoteQueue>) -> Option<IOLoop> {
    current::get().filter(|l| Arc::ptr_eq(&l.inner.remote, remote))
}

/// Awaits `task` and sends its outcome; aborts it if the handle cancels.
async fn relay<T>(
    mut task: JoinHandle<T>,
    cancel: oneshot::Receiver<()>,
    result: oneshot::Sender<Outcome<T>>,
) {
    let mut cancel = Some(cancel);
    let outcome = poll_fn(|cx| {
        if let Some(rx) = cancel.as_mut() {
            match Pin::new(rx).poll(cx) {
                Poll::Ready(Ok(())) => {
                    // Drops the future now; the task then reports Cancelled.
                    task.abort();
                    cancel = None;
                }
                // The handle was dropped: the task runs on, detached.
                Poll::Ready(Err(oneshot::Canceled)) => cancel = None,
                Poll::Pending => {}
            }
        }
        Pin::new(&mut task).poll(cx)
    })
    .await;
    let _ = result.send(outcome.map_err(RemoteSpawnError::from));
}

/// Why a future run with [`Remote::spawn`] gave no output.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ioloop::{LoopThread, RemoteSpawnError};
///
/// # std::panic::set_hook(Box::new(|_| {}));
/// let background = LoopThread::spawn()?;
/// let mut handle = background.remote().spawn(|| async {
///     if 1 + 1 == 2 {
///         panic!("out of cheese");
///     }
/// });
/// match handle.wait_timeout(Duration::from_secs(10))? {
///     Err(err @ RemoteSpawnError::Panicked(_)) => {
///         assert_eq!(err.panic_message(), Some("out of cheese"));
///     }
///     other => panic!("expected a panic, got {other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub enum RemoteSpawnError {
    /// The loop was closed, or closed or dropped, before the future
    /// finished; the factory or the future was dropped.
    Closed,
    /// [`RemoteJoinHandle::cancel`] dropped the future before it finished.
    Cancelled,
    /// The factory or the future panicked; this is the payload. The loop
    /// also reported the panic to its exception handler.
    Panicked(Box<dyn Any + Send + 'static>),
}

impl RemoteSpawnError {
    /// True if the loop was closed before the future finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// // A loop on another thread, closed there.
    /// let remote = std::thread::spawn(|| {
    ///     let ioloop = IOLoop::new().unwrap();
    ///     let remote = ioloop.remote();
    ///     ioloop.close(false).unwrap();
    ///     remote
    /// })
    /// .join()
    /// .unwrap();
    /// let handle = remote.spawn(|| async {});
    /// assert!(handle.join().unwrap_err().is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, RemoteSpawnError::Closed)
    }

    /// True if the future was cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::LoopThread;
    ///
    /// let background = LoopThread::spawn()?;
    /// let mut handle = background.remote().spawn(|| std::future::pending::<()>());
    /// handle.cancel();
    /// assert!(handle.wait_timeout(Duration::from_secs(10))?.unwrap_err().is_cancelled());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, RemoteSpawnError::Cancelled)
    }

    /// True if the factory or the future panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::LoopThread;
    ///
    /// # std::panic::set_hook(Box::new(|_| {}));
    /// let background = LoopThread::spawn()?;
    /// let mut handle = background.remote().spawn(|| async { panic!("no") });
    /// let err = handle.wait_timeout(Duration::from_secs(10))?.unwrap_err();
    /// assert!(err.is_panic());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, RemoteSpawnError::Panicked(_))
    }

    /// The panic's message, if it panicked with a string.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::LoopThread;
    ///
    /// # std::panic::set_hook(Box::new(|_| {}));
    /// let background = LoopThread::spawn()?;
    /// let mut handle = background.remote().spawn(|| async { panic!("disk {} full", 2) });
    /// let err = handle.wait_timeout(Duration::from_secs(10))?.unwrap_err();
    /// assert_eq!(err.panic_message(), Some("disk 2 full"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            RemoteSpawnError::Panicked(payload) => exception::payload_message(&**payload),
            _ => None,
        }
    }

    /// The panic payload, to re-raise with
    /// [`resume_unwind`](std::panic::resume_unwind).
    ///
    /// # Panics
    ///
    /// If the future did not panic.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::LoopThread;
    ///
    /// # std::panic::set_hook(Box::new(|_| {}));
    /// let background = LoopThread::spawn()?;
    /// let mut handle = background.remote().spawn(|| async { std::panic::panic_any(7_u32) });
    /// let payload = handle.wait_timeout(Duration::from_secs(10))?.unwrap_err().into_panic();
    /// assert_eq!(payload.downcast_ref::<u32>(), Some(&7)); // or std::panic::resume_unwind(payload)
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        match self {
            RemoteSpawnError::Panicked(payload) => payload,
            other => panic!("into_panic on a RemoteSpawnError that is not a panic: {other}"),
        }
    }
}

impl From<JoinError> for RemoteSpawnError {
    fn from(err: JoinError) -> RemoteSpawnError {
        match err {
            JoinError::Cancelled => RemoteSpawnError::Cancelled,
            JoinError::Panicked(payload) => RemoteSpawnError::Panicked(payload),
        }
    }
}

impl fmt::Display for RemoteSpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteSpawnError::Closed => {
                f.write_str("the ioloop was closed before the remote task finished")
            }
            RemoteSpawnError::Cancelled => f.write_str("the remote task was cancelled"),
            RemoteSpawnError::Panicked(_) => write!(
                f,
                "the remote task panicked: {}",
                self.panic_message().unwrap_or("(non-string payload)")
            ),
        }
    }
}

impl fmt::Debug for RemoteSpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteSpawnError::Closed => f.write_str("RemoteSpawnError::Closed"),
            RemoteSpawnError::Cancelled => f.write_str("RemoteSpawnError::Cancelled"),
            RemoteSpawnError::Panicked(_) => f
                .debug_tuple("RemoteSpawnError::Panicked")
                .field(&self.panic_message())
                .finish(),
        }
    }
}

impl std::error::Error for RemoteSpawnError {}

/// [`RemoteJoinHandle::wait_timeout`] gave up: no outcome within the
/// timeout. The future runs on; wait again, or cancel it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ioloop::{LoopThread, WaitTimedOut};
///
/// let background = LoopThread::spawn()?;
/// let mut slow = background.remote().spawn(|| ioloop::sleep(Duration::from_millis(50)));
/// let timeout = Duration::from_millis(1);
/// assert_eq!(slow.wait_timeout(timeout).unwrap_err(), WaitTimedOut { timeout });
/// slow.wait_timeout(Duration::from_secs(10))??; // the same future, waited again
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitTimedOut {
    /// How long the wait lasted.
    pub timeout: Duration,
}

impl fmt::Display for WaitTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no outcome from the remote task within {:?}",
            self.timeout
        )
    }
}

impl std::error::Error for WaitTimedOut {}

/// A handle to a future run on a loop with [`Remote::spawn`]: a `Send`
/// future of its output, for any thread and any executor.
///
/// Await it, or from a plain thread block on it with
/// [`wait_timeout`](RemoteJoinHandle::wait_timeout) or
/// [`join`](RemoteJoinHandle::join). Each gives `Ok(output)` or a
/// [`RemoteSpawnError`]. Dropping the handle detaches the future, which
/// runs on; [`cancel`](RemoteJoinHandle::cancel) stops it.
///
/// # Thread safety
///
/// The handle is `Send` and `Sync` when the output is `Send`. Blocking on
/// it on the loop's own thread would stop the loop it waits for, so
/// `wait_timeout` and `join` panic there; await it instead.
///
/// # Examples
///
/// ```
/// use ioloop::{IOLoop, LoopThread};
///
/// let background = LoopThread::spawn()?;
/// // The factory runs on the loop's thread, so the future may hold !Send state.
/// let handle = background.remote().spawn(|| async {
///     let shared = std::rc::Rc::new(21);
///     IOLoop::current().spawn(async move { *shared * 2 }).await.unwrap()
/// });
/// assert_eq!(handle.join()?, 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "dropping a RemoteJoinHandle detaches the future; use .detach() to say so"]
pub struct RemoteJoinHandle<T> {
    result: oneshot::Receiver<Outcome<T>>,
    /// `None` once cancelled.
    cancel: Option<oneshot::Sender<()>>,
    /// The loop's remote queue, to recognise its thread.
    remote: Arc<RemoteQueue>,
    /// INVARIANT: true once the outcome was handed out; the receiver is
    /// then spent and must not be read again.
    done: bool,
}

impl<T> RemoteJoinHandle<T> {
    /// Cancels the future: it is dropped on the loop's thread on a later
    /// iteration (or never made, if the factory has not run yet), and the
    /// handle then gives [`RemoteSpawnError::Cancelled`]. A future that
    /// finished first keeps its outcome. Idempotent.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::LoopThread;
    ///
    /// let background = LoopThread::spawn()?;
    /// let mut forever = background.remote().spawn(|| std::future::pending::<()>());
    /// forever.cancel();
    /// let outcome = forever.wait_timeout(Duration::from_secs(10))?;
    /// assert!(outcome.unwrap_err().is_cancelled());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cancel(&mut self) {
        if let Some(cancel) = self.cancel.take() {
            let _ = cancel.send(());
        }
    }

    /// Blocks the calling thread until the outcome is there or `timeout`
    /// has passed.
    ///
    /// # Errors
    ///
    /// [`WaitTimedOut`] if there was no outcome within `timeout`; the
    /// future runs on, and the handle can be waited on again or cancelled.
    /// Otherwise the outcome: `Ok(output)` or a [`RemoteSpawnError`].
    ///
    /// # Panics
    ///
    /// On the loop's own thread (the loop could not run while it blocks),
    /// or if the outcome was already handed out.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::LoopThread;
    ///
    /// let background = LoopThread::spawn()?;
    /// let mut sum = background.remote().spawn(|| async { 6 * 7 });
    /// assert_eq!(sum.wait_timeout(Duration::from_secs(10))??, 42);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Outcome<T>, WaitTimedOut> {
        self.block(Instant::now().checked_add(timeout))
            .ok_or(WaitTimedOut { timeout })
    }

    /// Blocks the calling thread until the outcome is there. Closing the
    /// loop ends the wait with [`RemoteSpawnError::Closed`]; but a future
    /// that never finishes on a loop that runs forever (or a loop dropped
    /// unclosed before it took the factory, see [`Remote::spawn`]) blocks
    /// forever, so prefer [`wait_timeout`](RemoteJoinHandle::wait_timeout).
    ///
    /// # Errors
    ///
    /// The [`RemoteSpawnError`] that ended the future.
    ///
    /// # Panics
    ///
    /// On the loop's own thread (the loop could not run while it blocks),
    /// or if the outcome was already handed out.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::LoopThread;
    ///
    /// let background = LoopThread::spawn()?;
    /// let handle = background.remote().spawn(|| async { "done" });
    /// assert_eq!(handle.join()?, "done");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join(mut self) -> Outcome<T> {
        self.block(None)
            .expect("a wait with no deadline ends with the outcome")
    }

    /// Lets the future run on without a handle (the same as dropping it,
    /// but explicit).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// use ioloop::LoopThread;
    ///
    /// let background = LoopThread::spawn()?;
    /// let (tx, rx) = mpsc::channel();
    /// background.remote().spawn(move || async move { tx.send("ran").unwrap() }).detach();
    /// assert_eq!(rx.recv_timeout(Duration::from_secs(10))?, "ran");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn detach(self) {}

    /// Polls the outcome on this thread, parking between polls, until
    /// `deadline` (`None`: no deadline). `None` if the deadline passed.
    fn block(&mut self, deadline: Option<Instant>) -> Option<Outcome<T>> {
        assert!(
            !current::get().is_some_and(|l| Arc::ptr_eq(&l.inner.remote, &self.remote)),
            "a RemoteJoinHandle cannot be waited on by blocking the thread of the loop \
             that runs its future; await it instead"
        );
        let waker = Waker::from(Arc::new(Unpark(thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(outcome) = Pin::new(&mut *self).poll(&mut cx) {
                return Some(outcome);
            }
            // A wake between the poll and the park is kept by the thread's
            // token, so `park` returns at once; spurious returns re-poll.
            match deadline {
                None => thread::park(),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    thread::park_timeout(left);
                }
            }
        }
    }
}

/// Wakes a thread parked in [`RemoteJoinHandle::block`].
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

impl<T> Future for RemoteJoinHandle<T> {
    type Output = Outcome<T>;

    /// # Panics
    ///
    /// If polled again after it returned `Ready`.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome<T>> {
        assert!(
            !self.done,
            "RemoteJoinHandle polled after it returned Ready"
        );
        let outcome = match Pin::new(&mut self.result).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(outcome)) => outcome,
            // The sender went with the callback or the tasks, unrun.
            Poll::Ready(Err(oneshot::Canceled)) => Err(RemoteSpawnError::Closed),
        };
        self.done = true;
        Poll::Ready(outcome)
    }
}

impl<T> fmt::Debug for RemoteJoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJoinHandle")
            .field("loop", &Arc::as_ptr(&self.remote))
            .field("cancelled", &self.cancel.is_none())
            .field("done", &self.done)
            .finish()
    }
}
