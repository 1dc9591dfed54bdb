//! The one door into a loop from other threads: [`Remote`].
//!
//! A `Remote` shares [`RemoteQueue`] with its loop: a [`Mailbox`] of callbacks
//! and task wakes under a short lock, a stop request, and the loop's
//! eventfd (`mio::Waker`).
//!
//! Whether a post writes the eventfd is decided on one state word (the
//! mailbox's module docs give the whole argument): the loop marks it
//! `PARKED`, with a new sleep epoch, before a poll that may block, and
//! then checks the queue under its lock; every post queues under that lock
//! and then reads the word. A post that reads `PARKED` without `NOTIFIED`
//! writes the eventfd and only then marks the sleep `NOTIFIED`, so a burst
//! of callbacks costs one write per loop sleep, and a producer that is
//! descheduled before its write never keeps another producer from waking
//! the loop. When the poll returns the loop clears both flags.
//!
//! When the loop is closed or dropped, the mailbox is closed: queued
//! callbacks are dropped, later posts are refused, and the eventfd is
//! closed.

use std::fmt;
use std::panic::Location;
use std::sync::{Arc, Mutex, PoisonError};

use crate::tasks::task::TaskId;

mod mailbox;
mod sync;

#[cfg(all(test, loom))]
mod loom_model;

use self::mailbox::{Mailbox, Wake};

/// A callback sent from another thread.
pub(crate) struct RemoteCallback {
    pub(crate) f: Box<dyn FnOnce() + Send>,
    pub(crate) site: &'static Location<'static>,
}

/// What other threads send a loop: a callback to run, or a task to poll.
pub(crate) enum RemoteItem {
    Callback(RemoteCallback),
    Wake(TaskId),
}

/// The remote queue: what a loop shares with its [`Remote`] handles (the
/// callbacks and wakes they post, a stop request, the loop's eventfd).
pub(crate) type RemoteQueue = Mailbox<RemoteItem, EventfdWaker>;

/// The loop's eventfd, as a [`Wake`] for the mailbox.
pub(crate) struct EventfdWaker {
    /// `None` once the loop is closed or dropped (the eventfd is closed
    /// with it).
    waker: Mutex<Option<mio::Waker>>,
}

impl Wake for EventfdWaker {
    /// Writes the eventfd (errors are ignored: a full counter means a wake
    /// is already pending); a no-op once closed.
    fn wake(&self) {
        let waker = self.waker.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(waker) = waker.as_ref()
            && let Err(err) = waker.wake()
        {
            log::debug!(target: "ioloop", "waker write failed: {err}");
        }
    }
}

impl EventfdWaker {
    /// Installs `waker`, returning the one it replaces.
    fn replace(&self, waker: Option<mio::Waker>) -> Option<mio::Waker> {
        let mut slot = self.waker.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *slot, waker)
    }
}

impl RemoteQueue {
    pub(crate) fn new(waker: mio::Waker) -> RemoteQueue {
        Mailbox::with_waker(EventfdWaker {
            waker: Mutex::new(Some(waker)),
        })
    }

    /// Closes the mailbox for good and closes the eventfd. Returns the
    /// items that were still queued, to be dropped by the caller.
    pub(crate) fn close(&self) -> Vec<RemoteItem> {
        let leftovers = self.close_queue();
        drop(self.waker().replace(None));
        leftovers
    }

    /// Installs a new eventfd (`IOLoop::reset_after_fork`), closing the old
    /// one, and forgets any sleep the parent was in.
    pub(crate) fn replace_waker(&self, waker: mio::Waker) {
        drop(self.waker().replace(Some(waker)));
        self.unpark();
    }
}

/// A `Send + Sync` handle to an [`IOLoop`](crate::IOLoop), for other threads.
///
/// [`add_callback`](Remote::add_callback) is the only way to run code on a
/// loop from another thread, as in Tornado, where `add_callback` is the one
/// thread-safe method. Here the rule is a type fact: the `IOLoop` itself is
/// not `Send`, so code that compiles cannot call its other methods off its
/// thread. Beside `add_callback` a `Remote` offers what is safe from any
/// thread: [`stop`](Remote::stop) and [`is_closed`](Remote::is_closed).
///
/// Get one with [`IOLoop::remote`](crate::IOLoop::remote), or for the
/// process-wide instance with [`Remote::instance`]. Cloning is cheap (an
/// `Arc`).
///
/// # Examples
///
/// ```
/// use ioloop::IOLoop;
///
/// let ioloop = IOLoop::new()?;
/// let remote = ioloop.remote();
/// let worker = std::thread::spawn(move || {
///     let answer = 6 * 7; // work done off the loop
///     remote.add_callback(move || {
///         println!("the answer is {answer}");
///         IOLoop::current().stop();
///     });
/// });
/// ioloop.start()?;
/// worker.join().unwrap();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Remote {
    pub(crate) queue: Arc<RemoteQueue>,
}

impl Remote {
    /// Runs `f` on the loop's thread on a later iteration, waking the loop
    /// if it sleeps.
    ///
    /// # Semantics
    ///
    /// Callbacks from one thread run in the order they were added. A burst
    /// of callbacks costs at most one wakeup write per loop sleep.
    ///
    /// The order with the loop's own callbacks is Tornado's: if this post
    /// happens before an [`IOLoop::add_callback`](crate::IOLoop::add_callback)
    /// on the loop's thread (for example, this thread then sends on a
    /// channel that the loop's thread receives from before it adds), `f`
    /// runs first. The post sets the queue's pending flag under the queue's
    /// lock before it returns, and a local add that sees the flag moves the
    /// queue into the loop's local queue before it queues its own callback.
    /// A post made while the loop runs its callbacks waits for the next
    /// iteration. If the
    /// loop is closed or dropped, `f` is dropped silently, as in Tornado;
    /// use [`try_add_callback`](Remote::try_add_callback) to get it back.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// use ioloop::LoopThread;
    ///
    /// let background = LoopThread::spawn()?;
    /// let remote = background.remote().clone();
    /// let (tx, rx) = mpsc::channel();
    /// std::thread::spawn(move || {
    ///     // From any thread: runs on the loop's thread, in order.
    ///     for i in 0..3 {
    ///         let tx = tx.clone();
    ///         remote.add_callback(move || tx.send(i).unwrap());
    ///     }
    /// });
    /// let got: Vec<i32> = (0..3).map(|_| rx.recv_timeout(Duration::from_secs(10))).collect::<Result<_, _>>()?;
    /// assert_eq!(got, [0, 1, 2]);
    /// background.stop()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn add_callback<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        let site = Location::caller();
        if let Err(rejected) = self.queue.push(RemoteItem::Callback(RemoteCallback {
            f: Box::new(f),
            site,
        })) {
            drop(rejected);
        }
    }

    /// Like [`add_callback`](Remote::add_callback), but hands `f` back if the
    /// loop is closed or dropped.
    ///
    /// # Errors
    ///
    /// [`Rejected`] holding `f` when the loop has been closed or dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let remote = ioloop.remote();
    /// assert!(remote.try_add_callback(|| {}).is_ok());
    /// ioloop.close(false)?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let rejected = remote.try_add_callback(move || tx.send("handed back").unwrap());
    /// (rejected.unwrap_err().into_inner())(); // run it here instead
    /// assert_eq!(rx.try_recv()?, "handed back");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn try_add_callback<F>(&self, f: F) -> Result<(), Rejected<F>>
    where
        F: FnOnce() + Send + 'static,
    {
        if self.queue.is_closed() {
            return Err(Rejected(f));
        }
        // Between the check and the push the loop may close or be dropped;
        // the push then fails and the callback is dropped, as
        // `add_callback` would.
        self.add_callback(f);
        Ok(())
    }

    /// Asks the loop to stop, waking it if it sleeps: `start()` returns at
    /// the end of the current iteration, or at once if the loop is not
    /// running yet (Tornado's `stop()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let remote = ioloop.remote();
    /// let worker = std::thread::spawn(move || remote.stop());
    /// worker.join().unwrap();
    /// ioloop.start()?; // the stop came first: returns at once
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stop(&self) {
        self.queue.request_stop();
    }

    /// True once the loop has been closed, or dropped (the last
    /// [`IOLoop`](crate::IOLoop) handle gone) without a close;
    /// `add_callback` then drops its callbacks.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let remote = ioloop.remote();
    /// assert!(!remote.is_closed());
    /// # IOLoop::clear_current();
    /// drop(ioloop); // the last handle: closed without close()
    /// assert!(remote.is_closed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }

    /// The process-wide instance's remote handle, if the instance exists
    /// (see [`IOLoop::instance`](crate::IOLoop::instance)).
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::{IOLoop, Remote};
    ///
    /// # IOLoop::clear_instance();
    /// assert!(Remote::instance().is_none(), "never creates a loop");
    /// let main_loop = IOLoop::instance();
    /// assert!(Remote::instance().unwrap().same_loop(&main_loop.remote()));
    /// # IOLoop::clear_instance();
    /// ```
    pub fn instance() -> Option<Remote> {
        crate::core::current::instance_remote()
    }

    /// True if both handles refer to the same loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let (a, b) = (IOLoop::new()?, IOLoop::new()?);
    /// assert!(a.remote().same_loop(&a.remote()));
    /// assert!(!a.remote().same_loop(&b.remote()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn same_loop(&self, other: &Remote) -> bool {
        Arc::ptr_eq(&self.queue, &other.queue)
    }
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("loop", &Arc::as_ptr(&self.queue))
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// A callback handed back by [`Remote::try_add_callback`] because the loop
/// is closed or dropped.
///
/// # Examples
///
/// ```
/// use ioloop::{IOLoop, Rejected};
///
/// let ioloop = IOLoop::new()?;
/// let remote = ioloop.remote();
/// ioloop.close(false)?;
/// let (tx, rx) = std::sync::mpsc::channel();
/// let Rejected(callback) = remote.try_add_callback(move || tx.send(7).unwrap()).unwrap_err();
/// callback();
/// assert_eq!(rx.try_recv()?, 7);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Rejected<F>(pub F);

impl<F> Rejected<F> {
    /// The rejected callback.
    ///
    /// # Examples
    ///
    /// ```
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let remote = ioloop.remote();
    /// ioloop.close(false)?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let back = remote.try_add_callback(move || tx.send("not lost").unwrap());
    /// (back.unwrap_err().into_inner())();
    /// assert_eq!(rx.try_recv()?, "not lost");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_inner(self) -> F {
        self.0
    }
}

impl<F> fmt::Debug for Rejected<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rejected(..)")
    }
}

impl<F> fmt::Display for Rejected<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the ioloop is closed; callback rejected")
    }
}

impl<F> std::error::Error for Rejected<F> {}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::IOLoop;

    #[test]
    fn a_rejected_callback_says_why_and_comes_back() {
        let ioloop = IOLoop::builder()
            .make_current(crate::MakeCurrent::Never)
            .build()
            .unwrap();
        let remote = ioloop.remote();
        ioloop.close(false).unwrap();
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let r = ran.clone();
        let rejected = remote
            .try_add_callback(move || r.store(true, std::sync::atomic::Ordering::SeqCst))
            .unwrap_err();
        assert_eq!(
            rejected.to_string(),
            "the ioloop is closed; callback rejected"
        );
        assert_eq!(format!("{rejected:?}"), "Rejected(..)");
        (rejected.into_inner())();
        assert!(
            ran.load(std::sync::atomic::Ordering::SeqCst),
            "handed back whole"
        );
    }

    /// Waits (bounded) until the loop on another thread is parked in poll.
    fn wait_until_parked(queue: &RemoteQueue) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !queue.is_parked() {
            assert!(Instant::now() < deadline, "the loop never went to sleep");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_post_wakes_the_loop_while_an_earlier_producer_is_stalled_before_its_wake() {
        // Producer A queues a callback into the empty queue and is
        // descheduled before it looks at the loop (here: it never does).
        // Producer B's callback, queued behind A's, must wake the loop by
        // itself.
        let (remote_tx, remote_rx) = mpsc::channel();
        let loop_thread = std::thread::spawn(move || {
            let ioloop = IOLoop::new().unwrap();
            remote_tx.send(ioloop.remote()).unwrap();
            // A safety net, far beyond the test's own limit.
            let l = ioloop.clone();
            ioloop.call_later(Duration::from_secs(30), move || l.stop());
            ioloop.start().unwrap();
        });
        let remote: Remote = remote_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        wait_until_parked(&remote.queue);

        let (ran_tx, ran_rx) = mpsc::channel();
        let a = ran_tx.clone();
        let stalled = RemoteItem::Callback(RemoteCallback {
            f: Box::new(move || a.send('a').unwrap()),
            site: Location::caller(),
        });
        assert!(remote.queue.enqueue(stalled).is_ok());
        let b = remote.clone();
        std::thread::spawn(move || b.add_callback(move || ran_tx.send('b').unwrap()))
            .join()
            .unwrap();

        let ran: Vec<char> = (0..2)
            .map(|_| ran_rx.recv_timeout(Duration::from_secs(5)))
            .collect::<Result<_, _>>()
            .expect("the loop slept through B's callback");
        assert_eq!(ran, ['a', 'b']);
        remote.stop();
        loop_thread.join().unwrap();
    }
}
