//! [`LoopThread`]: a loop running on a background thread of its own.

use std::fmt;
use std::io;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};

use crate::{Error, IOLoop, Remote};

/// An [`IOLoop`] running on a background thread, driven from the rest of
/// the program through its [`Remote`].
///
/// This is the embedding pattern for applications whose main thread does
/// something else (a GUI, a blocking CLI, a test harness): spawn the loop,
/// post work with [`add_callback`](LoopThread::add_callback) (which runs on
/// the loop's thread, where [`IOLoop::current`] is the loop), then
/// [`stop`](LoopThread::stop) it, which also joins the thread. Dropping a
/// `LoopThread` stops and joins it too.
///
/// When the loop's `start` returns, the thread closes the loop (with
/// `close(true)`), so everything registered on it is released.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
/// use ioloop::{IOLoop, LoopThread};
///
/// let background = LoopThread::spawn()?;
/// let (tx, rx) = mpsc::channel();
/// background.add_callback(move || {
///     // On the loop's thread: the whole IOLoop API is available.
///     IOLoop::current().call_later(Duration::from_millis(5), move || {
///         tx.send("timer fired").unwrap();
///     });
/// });
/// assert_eq!(rx.recv_timeout(Duration::from_secs(10))?, "timer fired");
/// background.stop()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LoopThread {
    remote: Remote,
    /// INVARIANT: `Some` until `stop` or `drop` joins it.
    handle: Option<JoinHandle<Result<(), Error>>>,
}

impl LoopThread {
    /// Starts a loop on a new thread named `ioloop`.
    ///
    /// # Errors
    ///
    /// An `io::Error` if the thread or the loop cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// let background = ioloop::LoopThread::spawn()?;
    /// assert!(!background.remote().is_closed());
    /// background.stop()?; // stops the loop and joins the thread
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn() -> io::Result<LoopThread> {
        LoopThread::spawn_with("ioloop", |_| {})
    }

    /// Starts a loop on a new thread called `name`, running `setup` on that
    /// thread before the loop starts (to register handlers or timeouts).
    ///
    /// # Errors
    ///
    /// An `io::Error` if the thread or the loop cannot be created, or if
    /// `setup` panics (the panic message is in the error).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// use ioloop::LoopThread;
    ///
    /// let (tx, rx) = mpsc::channel();
    /// let background = LoopThread::spawn_with("ticker", move |ioloop| {
    ///     // On the new thread, before the loop starts.
    ///     ioloop.call_later(Duration::from_millis(5), move || tx.send("tick").unwrap());
    /// })?;
    /// assert_eq!(rx.recv_timeout(Duration::from_secs(10))?, "tick");
    /// background.stop()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn_with<F>(name: &str, setup: F) -> io::Result<LoopThread>
    where
        F: FnOnce(&IOLoop) + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel::<io::Result<Remote>>(1);
        let handle = thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let ioloop = match IOLoop::new() {
                    Ok(ioloop) => ioloop,
                    Err(err) => {
                        let _ = tx.send(Err(err));
                        return Ok(());
                    }
                };
                setup(&ioloop);
                let _ = tx.send(Ok(ioloop.remote()));
                let result = ioloop.start();
                ioloop.close(true)?;
                result
            })?;
        match rx.recv() {
            Ok(Ok(remote)) => Ok(LoopThread {
                remote,
                handle: Some(handle),
            }),
            Ok(Err(err)) => {
                let _ = handle.join();
                Err(err)
            }
            // The sender was dropped without a message: `setup` panicked.
            Err(_) => {
                let message = match handle.join() {
                    Err(payload) => crate::core::exception::payload_message(&*payload)
                        .unwrap_or("(non-string payload)")
                        .to_owned(),
                    Ok(_) => "(no message)".to_owned(),
                };
                Err(io::Error::other(format!(
                    "loop thread setup panicked: {message}"
                )))
            }
        }
    }

    /// The loop's remote handle.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::LoopThread;
    ///
    /// let background = LoopThread::spawn()?;
    /// let remote = background.remote().clone(); // Send + Sync + Clone
    /// std::thread::spawn(move || remote.add_callback(|| {})).join().unwrap();
    /// background.stop()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remote(&self) -> &Remote {
        &self.remote
    }

    /// Runs `f` on the loop's thread: [`Remote::add_callback`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// use ioloop::{IOLoop, LoopThread};
    ///
    /// let background = LoopThread::spawn()?;
    /// let (tx, rx) = mpsc::channel();
    /// background.add_callback(move || tx.send(IOLoop::current().is_running()).unwrap());
    /// assert!(rx.recv_timeout(Duration::from_secs(10))?);
    /// background.stop()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn add_callback<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        self.remote.add_callback(f);
    }

    /// Stops the loop and joins its thread, returning what `start`
    /// returned.
    ///
    /// # Errors
    ///
    /// The loop's error, if `start` or `close` failed.
    ///
    /// # Panics
    ///
    /// Re-raises a panic that escaped the loop thread (the loop catches
    /// panics in callbacks, so only a bug in the loop itself gets here).
    ///
    /// # Examples
    ///
    /// ```
    /// let background = ioloop::LoopThread::spawn()?;
    /// let remote = background.remote().clone();
    /// background.stop()?;
    /// assert!(remote.is_closed(), "the thread closed its loop");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stop(mut self) -> Result<(), Error> {
        self.remote.stop();
        let handle = self.handle.take().expect("joined only once");
        match handle.join() {
            Ok(result) => result,
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }
}

impl Drop for LoopThread {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.remote.stop();
            let _ = handle.join();
        }
    }
}

impl fmt::Debug for LoopThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopThread")
            .field("remote", &self.remote)
            .field("thread", &self.handle.as_ref().map(|h| h.thread().id()))
            .finish()
    }
}
