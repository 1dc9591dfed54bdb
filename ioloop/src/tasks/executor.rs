//! `run_in_executor`: blocking work on a thread pool, its result back on
//! the loop (Tornado's `run_in_executor` and `set_default_executor`, rule
//! [F2](crate::guide::rules#f2)).

use std::fmt;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use futures::channel::oneshot;

use crate::{IOLoop, JoinError};

/// Runs blocking jobs off the loop: what [`IOLoop::run_in_executor`] hands
/// its work to. Implement it to plug in a pool of your own, and install it
/// with [`IOLoop::set_default_executor`].
///
/// # Examples
///
/// ```
/// use ioloop::{Executor, IOLoop};
///
/// /// Runs each job on a thread of its own.
/// struct ThreadPerJob;
///
/// impl Executor for ThreadPerJob {
///     fn execute(&self, job: Box<dyn FnOnce() + Send + 'static>) {
///         std::thread::spawn(job);
///     }
/// }
///
/// let ioloop = IOLoop::new()?;
/// ioloop.set_default_executor(ThreadPerJob);
/// let n = ioloop.run_sync(|| IOLoop::current().run_in_executor(|| 6 * 7), None)??;
/// assert_eq!(n, 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Executor: Send + Sync + 'static {
    /// Runs `job` on some other thread, eventually.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use ioloop::{Executor, ThreadPool};
    ///
    /// let pool = ThreadPool::new(1)?;
    /// let (tx, rx) = mpsc::channel();
    /// pool.execute(Box::new(move || tx.send("ran off the loop").unwrap()));
    /// assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(10))?, "ran off the loop");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn execute(&self, job: Box<dyn FnOnce() + Send + 'static>);
}

/// A pool of worker threads, the default [`Executor`] (a thin wrapper over
/// the `futures` crate's thread pool).
///
/// # Examples
///
/// ```
/// use ioloop::{IOLoop, ThreadPool};
///
/// let ioloop = IOLoop::new()?;
/// ioloop.set_default_executor(ThreadPool::new(2)?); // a smaller pool
/// let name = ioloop.run_sync(
///     || IOLoop::current().run_in_executor(|| std::thread::current().name().map(str::to_owned)),
///     None,
/// )??;
/// assert!(name.unwrap().starts_with("ioloop-executor"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ThreadPool {
    pool: futures::executor::ThreadPool,
    size: usize,
}

impl ThreadPool {
    /// A pool of `size` threads (at least 1), named `ioloop-executor-N`.
    ///
    /// # Errors
    ///
    /// An `io::Error` if a thread cannot be spawned.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = ioloop::ThreadPool::new(4)?;
    /// assert_eq!(pool.size(), 4);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(size: usize) -> std::io::Result<ThreadPool> {
        let size = size.max(1);
        let pool = futures::executor::ThreadPool::builder()
            .pool_size(size)
            .name_prefix("ioloop-executor-")
            .create()?;
        Ok(ThreadPool { pool, size })
    }

    /// The number of threads.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ioloop::ThreadPool::new(0)?.size(), 1, "at least one thread");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn size(&self) -> usize {
        self.size
    }

    /// The size of the default pool: five threads per CPU, as Tornado's
    /// (and Python's `ThreadPoolExecutor` before 3.8).
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::ThreadPool;
    ///
    /// let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    /// assert_eq!(ThreadPool::default_size(), 5 * cpus);
    /// ```
    pub fn default_size() -> usize {
        std::thread::available_parallelism().map_or(1, usize::from) * 5
    }
}

impl Executor for ThreadPool {
    fn execute(&self, job: Box<dyn FnOnce() + Send + 'static>) {
        self.pool.spawn_ok(async move { job() });
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("size", &self.size)
            .finish()
    }
}

/// The process-wide default pool, created on first use.
fn default_executor() -> Arc<dyn Executor> {
    static DEFAULT: OnceLock<Arc<dyn Executor>> = OnceLock::new();
    Arc::clone(DEFAULT.get_or_init(|| {
        let pool = ThreadPool::new(ThreadPool::default_size())
            .expect("cannot start the default executor's threads");
        Arc::new(pool)
    }))
}

/// The result of [`IOLoop::run_in_executor`]: a future of the job's
/// output.
///
/// It completes when the job finishes on its thread; the completion wakes
/// the loop like any cross-thread wake. A panic in the job gives
/// [`JoinError::Panicked`]; a job the executor dropped without running
/// gives [`JoinError::Cancelled`].
///
/// # Examples
///
/// ```
/// use ioloop::{ExecutorFuture, IOLoop};
///
/// let ioloop = IOLoop::new()?;
/// let sum = ioloop.run_sync(
///     || async {
///         let job: ExecutorFuture<u64> = IOLoop::current().run_in_executor(|| (1..=100).sum());
///         job.await
///     },
///     None,
/// )??;
/// assert_eq!(sum, 5050);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct ExecutorFuture<T> {
    receiver: oneshot::Receiver<std::thread::Result<T>>,
}

impl<T> Future for ExecutorFuture<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.receiver).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(Ok(value))) => Poll::Ready(Ok(value)),
            Poll::Ready(Ok(Err(payload))) => Poll::Ready(Err(JoinError::Panicked(payload))),
            Poll::Ready(Err(oneshot::Canceled)) => Poll::Ready(Err(JoinError::Cancelled)),
        }
    }
}

impl<T> fmt::Debug for ExecutorFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutorFuture").finish_non_exhaustive()
    }
}

impl IOLoop {
    /// Runs the blocking function `f` on this loop's executor and returns
    /// a future of its result, to await on the loop (Tornado's
    /// `run_in_executor(None, f)`, rule [F2](crate::guide::rules#f2)).
    ///
    /// The default executor is a process-wide [`ThreadPool`] of
    /// [`ThreadPool::default_size`] threads, created on first use (Tornado
    /// makes one per loop; one per process keeps a program with many loops,
    /// such as a test suite, from starting threads per loop). Replace it for
    /// this loop with [`set_default_executor`](IOLoop::set_default_executor).
    ///
    /// # Panics
    ///
    /// If the default pool must be created and no thread can be spawned.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let sum = ioloop.run_sync(
    ///     || IOLoop::current().run_in_executor(|| (1..=100u64).sum::<u64>()),
    ///     None,
    /// )?;
    /// assert_eq!(sum.unwrap(), 5050);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run_in_executor<F, T>(&self, f: F) -> ExecutorFuture<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let executor = self
            .inner
            .executor
            .borrow()
            .clone()
            .unwrap_or_else(default_executor);
        let (sender, receiver) = oneshot::channel();
        executor.execute(Box::new(move || {
            let result = panic::catch_unwind(AssertUnwindSafe(f));
            let _ = sender.send(result);
        }));
        ExecutorFuture { receiver }
    }

    /// Makes `executor` the one [`run_in_executor`](IOLoop::run_in_executor)
    /// uses on this loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::{IOLoop, ThreadPool};
    ///
    /// let ioloop = IOLoop::new()?;
    /// ioloop.set_default_executor(ThreadPool::new(2)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_default_executor(&self, executor: impl Executor) {
        let old = self.inner.executor.borrow_mut().replace(Arc::new(executor));
        drop(old);
    }
}
