//! `run_sync`: start the loop, drive one future to completion, stop.

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::io;
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::core::ioloop::Runnable;
use crate::core::run::{self, Main};
use crate::tasks::task::{TaskId, TaskWaker};
use crate::{Error, IOLoop};

/// Why [`IOLoop::run_sync`] returned no output.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ioloop::{IOLoop, RunSyncError};
///
/// let ioloop = IOLoop::new()?;
/// let result = ioloop.run_sync(|| std::future::pending::<()>(), Some(Duration::from_millis(10)));
/// assert!(matches!(result, Err(RunSyncError::TimedOut(d)) if d == Duration::from_millis(10)));
/// let l = ioloop.clone();
/// let result = ioloop.run_sync(move || async move { l.stop(); std::future::pending::<()>().await }, None);
/// assert!(matches!(result, Err(RunSyncError::Stopped)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum RunSyncError {
    /// The timeout passed before the future completed; the future was
    /// dropped (cancelled). Holds the timeout (Tornado's
    /// `TimeoutError("Operation timed out after t seconds")`, rule [R6](crate::guide::rules#r6)).
    TimedOut(Duration),
    /// The loop was stopped (by `stop()` from a callback, or a
    /// [`Remote::stop`](crate::Remote::stop)) before the future completed,
    /// and no timeout fired; the future was dropped (rule [R7](crate::guide::rules#r7)).
    Stopped,
    /// The loop could not run: already running (rule [R8](crate::guide::rules#r8)), closed, or a
    /// polling error.
    Loop(Error),
}

impl fmt::Display for RunSyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunSyncError::TimedOut(d) => write!(f, "operation timed out after {d:?}"),
            RunSyncError::Stopped => f.write_str("the ioloop stopped before the future completed"),
            RunSyncError::Loop(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for RunSyncError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunSyncError::Loop(err) => Some(err),
            _ => None,
        }
    }
}

impl From<Error> for RunSyncError {
    fn from(err: Error) -> RunSyncError {
        RunSyncError::Loop(err)
    }
}

impl From<RunSyncError> for io::Error {
    fn from(err: RunSyncError) -> io::Error {
        match err {
            RunSyncError::TimedOut(_) => io::Error::new(io::ErrorKind::TimedOut, err),
            RunSyncError::Stopped => io::Error::new(io::ErrorKind::Interrupted, err),
            RunSyncError::Loop(err) => err.into(),
        }
    }
}

impl IOLoop {
    /// Starts the loop, runs the future `main()` returns to completion,
    /// stops the loop and returns the future's output: the way to use the
    /// loop from synchronous code (a `main` function, a test).
    ///
    /// `main` is called on the loop's first iteration, with this loop
    /// current, so [`IOLoop::current`] inside it (and inside the future) is
    /// this loop (rule [R5](crate::guide::rules#r5)). The future need not be `Send` or `'static`: it
    /// lives on this call's stack. Other tasks it spawns stay on the loop
    /// and continue at the next `start` or `run_sync`.
    ///
    /// # Errors
    ///
    /// * [`RunSyncError::TimedOut`] if `timeout` passes first; the future
    ///   is dropped, so whatever it held is released.
    /// * [`RunSyncError::Stopped`] if the loop is stopped before the future
    ///   completes (including by a `stop()` called before `run_sync`, rule
    ///   [L2](crate::guide::rules#l2)); the future is dropped.
    /// * [`RunSyncError::Loop`] with [`Error::AlreadyRunning`] on a running
    ///   loop (rule [R8](crate::guide::rules#r8): an error, not a deadlock), [`Error::Closed`] on a
    ///   closed one, or a polling error.
    ///
    /// # Panics
    ///
    /// A panic in `main` or in the future is re-raised here, with its
    /// original payload, once the loop has stopped (Tornado re-raises the
    /// future's exception, rules [R3](crate::guide::rules#r3) and [R4](crate::guide::rules#r4)). It is not reported to the
    /// exception handler.
    ///
    /// # Examples
    ///
    /// A command-line program:
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioloop::IOLoop;
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let total = IOLoop::new()?.run_sync(
    ///         || async {
    ///             ioloop::sleep(Duration::from_millis(5)).await;
    ///             let a = IOLoop::current().spawn(async { 40 });
    ///             a.await.unwrap() + 2
    ///         },
    ///         Some(Duration::from_secs(10)),
    ///     )?;
    ///     assert_eq!(total, 42);
    ///     Ok(())
    /// }
    /// ```
    #[track_caller]
    pub fn run_sync<F, Fut>(
        &self,
        main: F,
        timeout: Option<Duration>,
    ) -> Result<Fut::Output, RunSyncError>
    where
        F: FnOnce() -> Fut,
        Fut: Future,
    {
        let site = Location::caller();
        let inner = &self.inner;
        if inner.running.get() {
            return Err(Error::AlreadyRunning.into());
        }
        if inner.closed.get() {
            return Err(Error::Closed.into());
        }
        let generation = inner.main_generation.get().wrapping_add(1);
        inner.main_generation.set(generation);
        let id = TaskId::main(generation);
        let task_waker = TaskWaker::new(self, id, true);
        let waker = Waker::from(Arc::clone(&task_waker));
        inner.queue.borrow_mut().push_back(Runnable::Task(id));

        let timed_out = Rc::new(Cell::new(false));
        let timer = timeout.map(|d| {
            let (flag, l) = (Rc::clone(&timed_out), self.downgrade());
            self.add_timeout(d, move || {
                flag.set(true);
                if let Some(l) = l.upgrade() {
                    l.stop();
                }
            })
        });

        let mut main = Some(main);
        let mut future = pin!(None::<Fut>);
        let mut output = None;
        let mut panicked: Option<Box<dyn Any + Send>> = None;
        let result = {
            let mut poll = || {
                task_waker.begin_poll();
                let polled = panic::catch_unwind(AssertUnwindSafe(|| {
                    if let Some(main) = main.take() {
                        future.set(Some(main()));
                    }
                    let mut cx = Context::from_waker(&waker);
                    match future.as_mut().as_pin_mut() {
                        Some(f) => f.poll(&mut cx),
                        None => Poll::Pending,
                    }
                }));
                match polled {
                    Ok(Poll::Pending) => {}
                    Ok(Poll::Ready(value)) => {
                        output = Some(value);
                        self.stop();
                    }
                    Err(payload) => {
                        panicked = Some(payload);
                        self.stop();
                    }
                }
            };
            run::run(
                self,
                Some(Main {
                    poll: &mut poll,
                    site,
                }),
            )
        };
        // Later wakes of this future are stale.
        inner.main_generation.set(generation.wrapping_add(1));
        if let Some(timer) = timer {
            self.remove_timeout(timer);
        }
        // Drop an unfinished future now: a timeout or stop cancels it.
        future.set(None);
        if let Some(payload) = panicked {
            panic::resume_unwind(payload);
        }
        result?;
        match output {
            Some(value) => Ok(value),
            None if timed_out.get() => Err(RunSyncError::TimedOut(timeout.unwrap_or_default())),
            None => Err(RunSyncError::Stopped),
        }
    }
}
