//! The one door into a loop from other threads: [`Remote`].
//!
//! A `Remote` shares [`Shared`] with its loop: a queue of callbacks under a
//! short lock, a stop request, and the `mio::Waker`. Wakeups are coalesced
//! with two flags, so a burst of callbacks costs at most one `eventfd`
//! write per loop sleep:
//!
//! * `parked` is true while the loop is about to block, or is blocked, in
//!   `epoll_wait`. A producer only writes to the waker when it sees it.
//! * `notified` is true once a wake has been written for the current sleep;
//!   later producers skip the write.
//!
//! The loop stores `parked = true` and then re-reads `pending`; the
//! producer whose callback is the first in the queue since the loop last
//! took it stores `pending = true` and then reads `parked`. All four
//! accesses are `SeqCst`, so at least one side sees the other's store:
//! either the loop does not block, or the producer wakes it. No wakeup is
//! lost.

use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::task::TaskId;

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

struct Queue {
    callbacks: Vec<RemoteItem>,
    /// INVARIANT: once true, `callbacks` stays empty forever.
    closed: bool,
}

/// The state a loop shares with its [`Remote`] handles.
pub(crate) struct Shared {
    queue: Mutex<Queue>,
    /// True when `queue.callbacks` may be non-empty (a hint for the loop, so
    /// an idle iteration takes no lock).
    pending: AtomicBool,
    parked: AtomicBool,
    notified: AtomicBool,
    stop_requested: AtomicBool,
    /// `None` once the loop is closed (the eventfd is closed with it).
    waker: Mutex<Option<mio::Waker>>,
}

impl Shared {
    pub(crate) fn new(waker: mio::Waker) -> Shared {
        Shared {
            queue: Mutex::new(Queue {
                callbacks: Vec::new(),
                closed: false,
            }),
            pending: AtomicBool::new(false),
            parked: AtomicBool::new(false),
            notified: AtomicBool::new(false),
            stop_requested: AtomicBool::new(false),
            waker: Mutex::new(Some(waker)),
        }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        // No user code runs under this lock, so poisoning cannot leave the
        // queue inconsistent; recover from it.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues an item; gives it back if the loop is closed.
    ///
    /// Only the push that finds the queue empty raises `pending` and checks
    /// `parked`: the loop empties the queue and lowers `pending` under the
    /// lock, so a later push into a non-empty queue knows an earlier pusher
    /// (the one that found it empty after the loop's last take) raises the
    /// flag after it, and that flag stays up until the loop takes the queue.
    /// A stream of callbacks then costs one lock and one unlock each.
    pub(crate) fn push(&self, cb: RemoteItem) -> Result<(), RemoteItem> {
        let first = {
            let mut queue = self.queue();
            if queue.closed {
                return Err(cb);
            }
            queue.callbacks.push(cb);
            queue.callbacks.len() == 1
        };
        if first {
            self.pending.store(true, Ordering::SeqCst);
            self.wake_if_parked();
        }
        Ok(())
    }

    /// True if callbacks may be waiting in the queue.
    #[inline]
    pub(crate) fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Moves every queued callback into `out` (swapping buffers, so the
    /// lock is held for a pointer swap).
    pub(crate) fn take_pending(&self, out: &mut Vec<RemoteItem>) {
        debug_assert!(out.is_empty());
        let mut queue = self.queue();
        self.pending.store(false, Ordering::SeqCst);
        std::mem::swap(&mut queue.callbacks, out);
    }

    /// Requests a stop, waking the loop if it sleeps.
    pub(crate) fn request_stop(&self) {
        self.stop_requested.store(true, Ordering::SeqCst);
        self.wake_if_parked();
    }

    #[inline]
    pub(crate) fn stop_requested(&self) -> bool {
        self.stop_requested.load(Ordering::SeqCst)
    }

    /// Clears a stop request, returning whether there was one.
    pub(crate) fn take_stop_request(&self) -> bool {
        self.stop_requested.swap(false, Ordering::SeqCst)
    }

    /// Called by the loop just before it may block in poll. Returns false if
    /// work arrived meanwhile, in which case it must not block.
    pub(crate) fn park(&self) -> bool {
        self.parked.store(true, Ordering::SeqCst);
        !(self.pending.load(Ordering::SeqCst) || self.stop_requested.load(Ordering::SeqCst))
    }

    /// Called by the loop when poll returns.
    pub(crate) fn unpark(&self) {
        self.parked.store(false, Ordering::SeqCst);
        self.notified.store(false, Ordering::SeqCst);
    }

    fn wake_if_parked(&self) {
        if self.parked.load(Ordering::SeqCst) && !self.notified.swap(true, Ordering::SeqCst) {
            self.wake();
        }
    }

    /// Writes to the waker unconditionally (errors are ignored: a full
    /// counter means a wake is already pending).
    pub(crate) fn wake(&self) {
        let waker = self.waker.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(waker) = waker.as_ref() {
            if let Err(err) = waker.wake() {
                log::debug!(target: "ioloop", "waker write failed: {err}");
            }
        }
    }

    /// Closes the queue for good and releases the waker. Returns the
    /// callbacks that were still queued, to be dropped outside the lock.
    pub(crate) fn close(&self) -> Vec<RemoteItem> {
        let leftovers = {
            let mut queue = self.queue();
            queue.closed = true;
            std::mem::take(&mut queue.callbacks)
        };
        self.pending.store(false, Ordering::SeqCst);
        self.waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        leftovers
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.queue().closed
    }

    /// Items queued and not yet taken by the loop (`IOLoop::pending`).
    pub(crate) fn queued(&self) -> usize {
        if !self.has_pending() {
            return 0;
        }
        self.queue().callbacks.len()
    }

    /// Installs a new waker (`IOLoop::reset_after_fork`), dropping the old
    /// one, and forgets any sleep the parent was in.
    pub(crate) fn replace_waker(&self, waker: mio::Waker) {
        let old = self
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(waker);
        drop(old);
        self.parked.store(false, Ordering::SeqCst);
        self.notified.store(false, Ordering::SeqCst);
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
    pub(crate) shared: Arc<Shared>,
}

impl Remote {
    /// Runs `f` on the loop's thread on a later iteration, waking the loop
    /// if it sleeps.
    ///
    /// # Semantics
    ///
    /// Callbacks from one thread run in the order they were added. A burst
    /// of callbacks costs at most one wakeup write per loop sleep. If the
    /// loop is closed, `f` is dropped silently (Tornado's rule C7); use
    /// [`try_add_callback`](Remote::try_add_callback) to get it back.
    #[track_caller]
    pub fn add_callback<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        let site = Location::caller();
        if let Err(rejected) = self.shared.push(RemoteItem::Callback(RemoteCallback {
            f: Box::new(f),
            site,
        })) {
            drop(rejected);
        }
    }

    /// Like [`add_callback`](Remote::add_callback), but hands `f` back if the
    /// loop is closed.
    ///
    /// # Errors
    ///
    /// [`Rejected`] holding `f` when the loop has been closed.
    #[track_caller]
    pub fn try_add_callback<F>(&self, f: F) -> Result<(), Rejected<F>>
    where
        F: FnOnce() + Send + 'static,
    {
        if self.shared.is_closed() {
            return Err(Rejected(f));
        }
        // Between the check and the push the loop may close; the push then
        // fails and the callback is dropped, as `add_callback` would.
        self.add_callback(f);
        Ok(())
    }

    /// Asks the loop to stop, waking it if it sleeps: `start()` returns at
    /// the end of the current iteration, or at once if the loop is not
    /// running yet (Tornado's `stop()`, rules L2 and L5).
    pub fn stop(&self) {
        self.shared.request_stop();
    }

    /// True once the loop has been closed; `add_callback` then drops its
    /// callbacks.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// The process-wide instance's remote handle, if the instance exists
    /// (see [`IOLoop::instance`](crate::IOLoop::instance)).
    pub fn instance() -> Option<Remote> {
        crate::current::instance_remote()
    }

    /// True if both handles refer to the same loop.
    pub fn same_loop(&self, other: &Remote) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("loop", &Arc::as_ptr(&self.shared))
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// A callback handed back by [`Remote::try_add_callback`] because the loop
/// is closed.
pub struct Rejected<F>(pub F);

impl<F> Rejected<F> {
    /// The rejected callback.
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
