//! The loop as a single-threaded executor: tasks, their wakers, and
//! [`JoinHandle`].
//!
//! A task is a boxed future in the loop's task table. Waking it queues a
//! [`Runnable::Task`](crate::core::ioloop::Runnable) in the same first-in,
//! first-out queue as callbacks, so tasks obey the callback rules: a task
//! woken during an iteration is polled on the next one (rule [C2](crate::guide::rules#c2)).
//!
//! Wakers are `Send + Sync`. A wake on the loop's thread, while the loop is
//! current there, pushes to the local queue (no lock, no system call); a
//! wake from anywhere else goes through the remote queue and wakes a
//! sleeping loop. A `scheduled` flag makes repeated wakes cheap and is
//! cleared just before each poll, so a task woken while it is being polled
//! is polled again: no wakeup is lost.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, Location};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures::FutureExt;
use slab::Slab;

use crate::core::current;
use crate::core::exception::{self, CallbackKind, CallbackPanic};
use crate::core::ioloop::Runnable;
use crate::core::remote::{RemoteItem, RemoteQueue};
use crate::{IOLoop, WeakIOLoop};

/// Names a task: a slot in the task table and the generation it had, so a
/// wake for a finished task whose slot was reused is ignored. The slot
/// `u32::MAX` is reserved for the future driven by `run_sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TaskId {
    slot: u32,
    generation: u32,
}

impl TaskId {
    const MAIN_SLOT: u32 = u32::MAX;

    pub(crate) fn main(generation: u32) -> TaskId {
        TaskId {
            slot: Self::MAIN_SLOT,
            generation,
        }
    }

    pub(crate) fn is_main(self) -> bool {
        self.slot == Self::MAIN_SLOT
    }

    pub(crate) fn generation(self) -> u32 {
        self.generation
    }
}

/// The `Send + Sync` part of a task: what its `Waker` holds.
pub(crate) struct TaskWaker {
    remote: Arc<RemoteQueue>,
    loop_id: u32,
    id: TaskId,
    /// True while the task is queued (or finished): further wakes are no-ops.
    scheduled: AtomicBool,
}

impl TaskWaker {
    pub(crate) fn new(ioloop: &IOLoop, id: TaskId, scheduled: bool) -> Arc<TaskWaker> {
        Arc::new(TaskWaker {
            remote: Arc::clone(&ioloop.inner.remote),
            loop_id: ioloop.inner.id,
            id,
            scheduled: AtomicBool::new(scheduled),
        })
    }

    /// Called just before the task is polled: a wake from now on queues it
    /// again.
    pub(crate) fn begin_poll(&self) {
        self.scheduled.store(false, Ordering::Release);
    }

    fn schedule(&self) {
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let queued_locally = current::with_current_loop(self.loop_id, |ioloop| {
            ioloop.inner.push_local(Runnable::Task(self.id));
        });
        if !queued_locally {
            // Another thread, or the loop is not current here: the remote
            // queue (dropped silently if the loop is closed).
            let _ = self.remote.push(RemoteItem::Wake(self.id));
        }
    }
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.schedule();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.schedule();
    }
}

struct TaskEntry {
    /// `None` while the task is being polled.
    future: Option<Pin<Box<dyn Future<Output = ()>>>>,
    waker: Arc<TaskWaker>,
    generation: u32,
    site: &'static Location<'static>,
    /// Set by `abort` while the task is being polled.
    aborted: bool,
}

/// The loop's tasks.
#[derive(Default)]
pub(crate) struct TaskTable {
    slab: Slab<TaskEntry>,
    next_generation: u32,
}

impl TaskTable {
    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    fn get_mut(&mut self, id: TaskId) -> Option<&mut TaskEntry> {
        self.slab
            .get_mut(id.slot as usize)
            .filter(|e| e.generation == id.generation)
    }

    /// Removes every task, returning the futures so they are dropped
    /// outside the borrow.
    pub(crate) fn drain(&mut self) -> Vec<Pin<Box<dyn Future<Output = ()>>>> {
        self.slab.drain().filter_map(|e| e.future).collect()
    }
}

/// Puts a task on the loop and queues its first poll.
pub(crate) fn insert(
    ioloop: &IOLoop,
    future: Pin<Box<dyn Future<Output = ()>>>,
    site: &'static Location<'static>,
) -> Option<TaskId> {
    let inner = &ioloop.inner;
    if inner.closed.get() {
        drop(future);
        return None;
    }
    let id = {
        let mut tasks = inner.tasks.borrow_mut();
        let generation = tasks.next_generation;
        tasks.next_generation = generation.wrapping_add(1);
        let entry = tasks.slab.vacant_entry();
        let slot = u32::try_from(entry.key())
            .ok()
            .filter(|&s| s != TaskId::MAIN_SLOT)
            .expect("fewer than 2^32 - 1 tasks");
        let id = TaskId { slot, generation };
        entry.insert(TaskEntry {
            future: Some(future),
            waker: TaskWaker::new(ioloop, id, true),
            generation,
            site,
            aborted: false,
        });
        id
    };
    inner.push_local(Runnable::Task(id));
    Some(id)
}

/// Polls a queued task once.
pub(crate) fn poll(ioloop: &IOLoop, id: TaskId) {
    let inner = &ioloop.inner;
    let taken = {
        let mut tasks = inner.tasks.borrow_mut();
        let Some(entry) = tasks.get_mut(id) else {
            return; // finished or aborted since it was queued
        };
        let Some(future) = entry.future.take() else {
            return;
        };
        entry.waker.begin_poll();
        (future, Waker::from(Arc::clone(&entry.waker)), entry.site)
    };
    let (mut future, waker, site) = taken;
    let mut finished = true; // stays true if the poll panics
    ioloop.run_guarded(CallbackKind::Task, site, || {
        let mut cx = Context::from_waker(&waker);
        finished = future.as_mut().poll(&mut cx).is_ready();
    });
    let dropped = {
        let mut tasks = inner.tasks.borrow_mut();
        match tasks.get_mut(id) {
            Some(entry) if !finished && !entry.aborted => {
                entry.future = Some(future);
                None
            }
            Some(_) => {
                let entry = tasks.slab.remove(id.slot as usize);
                // Finished: later wakes are no-ops.
                entry.waker.scheduled.store(true, Ordering::Release);
                Some(future)
            }
            None => Some(future),
        }
    };
    drop(dropped); // outside the borrow: Drop may use the loop
}

/// Removes a task now, or marks it to be removed after its current poll.
fn abort(ioloop: &IOLoop, id: TaskId) {
    let removed = {
        let mut tasks = ioloop.inner.tasks.borrow_mut();
        match tasks.get_mut(id) {
            Some(entry) if entry.future.is_none() => {
                entry.aborted = true;
                None
            }
            Some(_) => {
                let entry = tasks.slab.remove(id.slot as usize);
                entry.waker.scheduled.store(true, Ordering::Release);
                entry.future
            }
            None => None,
        }
    };
    drop(removed);
}

/// Why a task gave no output.
///
/// # Examples
///
/// ```
/// use ioloop::{IOLoop, JoinError};
///
/// let ioloop = IOLoop::new()?;
/// let result = ioloop.run_sync(
///     || async {
///         let task = IOLoop::current().spawn(std::future::pending::<()>());
///         task.abort();
///         task.await
///     },
///     None,
/// )?;
/// assert!(matches!(result, Err(JoinError::Cancelled)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub enum JoinError {
    /// The task was aborted, or dropped because its loop was closed.
    Cancelled,
    /// The task panicked; this is the payload. The loop also reported the
    /// panic to its exception handler.
    Panicked(Box<dyn Any + Send + 'static>),
}

impl JoinError {
    /// True if the task was cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let task = ioloop.spawn(async {});
    /// ioloop.close(false)?; // drops the unfinished task
    /// let err = futures::executor::block_on(task).unwrap_err();
    /// assert!(err.is_cancelled());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, JoinError::Cancelled)
    }

    /// True if the task panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// # std::panic::set_hook(Box::new(|_| {}));
    /// let ioloop = IOLoop::new()?;
    /// let err = ioloop.run_sync(|| IOLoop::current().spawn(async { panic!("oops") }), None)?.unwrap_err();
    /// assert!(err.is_panic());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, JoinError::Panicked(_))
    }

    /// The panic payload, to re-raise with
    /// [`resume_unwind`](std::panic::resume_unwind).
    ///
    /// # Panics
    ///
    /// If the task was cancelled rather than panicking.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// # std::panic::set_hook(Box::new(|_| {}));
    /// let ioloop = IOLoop::new()?;
    /// let err = ioloop.run_sync(|| IOLoop::current().spawn(async { panic!("oops") }), None)?.unwrap_err();
    /// let payload = err.into_panic(); // std::panic::resume_unwind(payload) re-raises it
    /// assert_eq!(payload.downcast_ref::<&str>(), Some(&"oops"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        match self {
            JoinError::Panicked(payload) => payload,
            JoinError::Cancelled => panic!("into_panic on a cancelled task's JoinError"),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Cancelled => f.write_str("task was cancelled"),
            JoinError::Panicked(payload) => write!(
                f,
                "task panicked: {}",
                exception::payload_message(&**payload).unwrap_or("(non-string payload)")
            ),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Cancelled => f.write_str("JoinError::Cancelled"),
            JoinError::Panicked(payload) => f
                .debug_tuple("JoinError::Panicked")
                .field(&exception::payload_message(&**payload))
                .finish(),
        }
    }
}

impl std::error::Error for JoinError {}

/// What a spawned task and its [`JoinHandle`] share.
struct JoinState<T> {
    result: RefCell<Option<Result<T, JoinError>>>,
    finished: Cell<bool>,
    waiter: RefCell<Option<Waker>>,
}

impl<T> JoinState<T> {
    fn finish(&self, result: Result<T, JoinError>) {
        if self.finished.replace(true) {
            return;
        }
        *self.result.borrow_mut() = Some(result);
        let waiter = self.waiter.borrow_mut().take();
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }
}

/// Finishes a task's `JoinState` as cancelled if the task is dropped before
/// it finished (aborted, or dropped with its loop).
struct CancelOnDrop<T>(Rc<JoinState<T>>);

impl<T> Drop for CancelOnDrop<T> {
    fn drop(&mut self) {
        self.0.finish(Err(JoinError::Cancelled));
    }
}

/// The future a spawned task runs: the user's future, with its panic caught
/// (reported to the loop and handed to the `JoinHandle`) and its output
/// handed to the `JoinHandle`.
async fn spawned<F: Future>(
    future: F,
    // An argument, not a local: dropping the task before its first poll
    // (a closed loop, an early abort) drops it too.
    guard: CancelOnDrop<F::Output>,
    ioloop: WeakIOLoop,
    site: &'static Location<'static>,
) {
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(output) => guard.0.finish(Ok(output)),
        Err(payload) => {
            if let Some(ioloop) = ioloop.upgrade() {
                ioloop.report_panic(&CallbackPanic::new(CallbackKind::Task, site, &*payload));
            }
            guard.0.finish(Err(JoinError::Panicked(payload)));
        }
    }
}

/// A handle to a spawned task: a future of the task's output.
///
/// Awaiting it gives `Ok(output)`, or a [`JoinError`] if the task panicked
/// or was cancelled. Dropping it detaches the task, which runs on;
/// [`abort`](JoinHandle::abort) cancels it.
///
/// It is not `Send`: it belongs to the loop's thread, like the task.
///
/// # Examples
///
/// ```
/// use ioloop::{IOLoop, JoinHandle};
///
/// let ioloop = IOLoop::new()?;
/// let answer = ioloop.run_sync(
///     || async {
///         let task: JoinHandle<u32> = IOLoop::current().spawn(async { 42 });
///         task.await
///     },
///     None,
/// )??;
/// assert_eq!(answer, 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "dropping a JoinHandle detaches the task; use .detach() to say so"]
pub struct JoinHandle<T> {
    state: Rc<JoinState<T>>,
    id: Option<TaskId>,
    ioloop: WeakIOLoop,
}

impl<T> JoinHandle<T> {
    /// Cancels the task: its future is dropped (now, or right after its
    /// current poll if it aborts itself), and awaiting this handle gives
    /// [`JoinError::Cancelled`]. A no-op if the task already finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let task = ioloop.spawn(std::future::pending::<()>());
    /// task.abort(); // the future is dropped now
    /// assert!(task.is_finished());
    /// ioloop.run()?; // nothing left
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn abort(&self) {
        if self.state.finished.get() {
            return;
        }
        if let (Some(id), Some(ioloop)) = (self.id, self.ioloop.upgrade()) {
            abort(&ioloop, id);
        }
    }

    /// True once the task has finished (with output, panic or cancellation).
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let task = ioloop.spawn(async { 1 });
    /// assert!(!task.is_finished()); // first polled on the next iteration
    /// ioloop.run()?;
    /// assert!(task.is_finished());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.state.finished.get()
    }

    /// Lets the task run on without a handle (the same as dropping it, but
    /// explicit).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let done = Rc::new(Cell::new(false));
    /// let d = done.clone();
    /// ioloop.spawn(async move { d.set(true) }).detach(); // fire and forget
    /// ioloop.run()?;
    /// assert!(done.get());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn detach(self) {}
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    /// # Panics
    ///
    /// If polled again after it returned `Ready`.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(result) = self.state.result.borrow_mut().take() {
            return Poll::Ready(result);
        }
        assert!(
            !self.state.finished.get(),
            "JoinHandle polled after it returned Ready"
        );
        let mut waiter = self.state.waiter.borrow_mut();
        match waiter.as_ref() {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *waiter = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.state.finished.get())
            .finish()
    }
}

impl IOLoop {
    /// Runs `future` as a task on this loop and returns a handle to its
    /// output.
    ///
    /// The future need not be `Send`: it stays on the loop's thread. Its
    /// first poll happens on a later iteration, as for a callback; after
    /// that it is polled whenever its waker is woken (from this thread or
    /// any other). A panic in the task is caught, reported to the exception
    /// handler (naming this call's location), and given to whoever awaits
    /// the handle as [`JoinError::Panicked`].
    ///
    /// On a closed loop the future is dropped and the handle gives
    /// [`JoinError::Cancelled`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let answer = ioloop.run_sync(
    ///     || async {
    ///         let task = IOLoop::current().spawn(async { 6 * 7 });
    ///         task.await.unwrap()
    ///     },
    ///     None,
    /// )?;
    /// assert_eq!(answer, 42);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.spawn_at(future, Location::caller())
    }

    pub(crate) fn spawn_at<F>(
        &self,
        future: F,
        site: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let state = Rc::new(JoinState {
            result: RefCell::new(None),
            finished: Cell::new(false),
            waiter: RefCell::new(None),
        });
        let guard = CancelOnDrop(Rc::clone(&state));
        let task = spawned(future, guard, self.downgrade(), site);
        let id = insert(self, Box::pin(task), site);
        JoinHandle {
            state,
            id,
            ioloop: self.downgrade(),
        }
    }

    /// Calls `callback(output)` on the loop once `future` completes, even
    /// if what completes it runs on another thread (Tornado's `add_future`,
    /// rule [F1](crate::guide::rules#f1)). The callback runs as an ordinary callback, on the
    /// iteration after completion.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::channel::oneshot;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let (tx, rx) = oneshot::channel();
    /// let l = ioloop.clone();
    /// ioloop.add_future(rx, move |value| {
    ///     assert_eq!(value, Ok(7));
    ///     l.stop();
    /// });
    /// std::thread::spawn(move || tx.send(7).unwrap());
    /// ioloop.start()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn add_future<F, C>(&self, future: F, callback: C)
    where
        F: Future + 'static,
        F::Output: 'static,
        C: FnOnce(F::Output) + 'static,
    {
        let site = Location::caller();
        let weak = self.downgrade();
        self.spawn_at(
            async move {
                let output = future.await;
                if let Some(ioloop) = weak.upgrade() {
                    ioloop.add_callback_at(site, move || callback(output));
                }
            },
            site,
        )
        .detach();
    }

    /// The number of tasks on the loop that have not finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let task = ioloop.spawn(async {});
    /// assert_eq!(ioloop.task_count(), 1);
    /// ioloop.run()?;
    /// assert_eq!(ioloop.task_count(), 0);
    /// # drop(task);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn task_count(&self) -> usize {
        self.inner.tasks.borrow().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn task_wakers_are_send_and_sync() {
        assert_send_sync::<TaskWaker>();
        assert_send_sync::<Waker>();
    }
}
