//! The thread's current loop and the process-wide instance.
//!
//! `CURRENT` is a thread-local strong reference: a loop that is current on a
//! thread stays alive until `clear_current`, `close`, or the thread's exit.
//! The instance is an `IOLoop` on one thread (its home), so it lives in that
//! thread's `INSTANCE_HOME`; the process-wide part is its home thread's id and
//! its [`Remote`], under a lock that makes lazy creation thread-safe
//! (Tornado's rule [S1](crate::guide::rules#s1)).
//!
//! A loop that [`IOLoop::current`] had to create is marked implicit: nobody
//! asked for it, so nobody may ever run it (Tornado 4's habit of calling
//! `IOLoop.current().add_callback` from a worker thread). If such a loop
//! is let go with work queued that never ran (at the thread's exit, or by
//! `clear_current` or `make_current` while it is the last handle), a
//! warning names how much was lost and where such work belongs.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};

use crate::{Error, IOLoop, Remote};

/// The thread's current loop, and which loop `IOLoop::current` created
/// here, if one.
struct CurrentLoop {
    ioloop: Option<IOLoop>,
    /// The id of the loop `IOLoop::current` created on this thread, kept
    /// while that loop may still be current (a run of another loop hands
    /// it back afterwards).
    implicit: Option<u32>,
}

impl CurrentLoop {
    fn holds_implicit(&self) -> bool {
        self.ioloop
            .as_ref()
            .is_some_and(|l| Some(l.inner.id) == self.implicit)
    }
}

impl Drop for CurrentLoop {
    /// The thread is exiting: an implicit loop still current here can never
    /// run again (an `IOLoop` is not `Send`).
    fn drop(&mut self) {
        if self.holds_implicit()
            && let Some(ioloop) = self.ioloop.take()
        {
            warn_if_work_lost(&ioloop);
        }
    }
}

thread_local! {
    static CURRENT: RefCell<CurrentLoop> = const {
        RefCell::new(CurrentLoop { ioloop: None, implicit: None })
    };
    static INSTANCE_HOME: RefCell<Option<IOLoop>> = const { RefCell::new(None) };
}

struct InstanceEntry {
    thread: ThreadId,
    remote: Remote,
}

static INSTANCE: Mutex<Option<InstanceEntry>> = Mutex::new(None);

fn instance_entry() -> MutexGuard<'static, Option<InstanceEntry>> {
    INSTANCE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The thread's current loop, without creating one. `None` during thread
/// teardown.
pub(crate) fn get() -> Option<IOLoop> {
    CURRENT
        .try_with(|c| c.borrow().ioloop.clone())
        .ok()
        .flatten()
}

/// Calls `f` with the thread's current loop if it is the loop `loop_id`;
/// returns whether it did. Used by task wakers to queue locally.
pub(crate) fn with_current_loop(loop_id: u32, f: impl FnOnce(&IOLoop)) -> bool {
    CURRENT
        .try_with(|c| match c.try_borrow() {
            Ok(current) => match current.ioloop.as_ref() {
                Some(ioloop) if ioloop.inner.id == loop_id => {
                    f(ioloop);
                    true
                }
                _ => false,
            },
            Err(_) => false,
        })
        .unwrap_or(false)
}

/// Replaces the thread's current loop, returning the previous one.
pub(crate) fn replace(ioloop: Option<IOLoop>) -> Option<IOLoop> {
    CURRENT
        .try_with(|c| std::mem::replace(&mut c.borrow_mut().ioloop, ioloop))
        .ok()
        .flatten()
}

/// Replaces the thread's current loop for good (`make_current`,
/// `clear_current`) and drops the previous one. If that was the loop
/// `IOLoop::current` created and this was its last handle, a warning
/// reports the work it never ran.
pub(crate) fn set(ioloop: Option<IOLoop>) {
    let taken = CURRENT.try_with(|c| {
        let mut slot = c.borrow_mut();
        let was_implicit = slot.holds_implicit();
        let previous = std::mem::replace(&mut slot.ioloop, ioloop);
        if slot.holds_implicit() {
            // `make_current` on the implicit loop itself: now asked for.
            slot.implicit = None;
        }
        (previous, was_implicit)
    });
    if let Ok((Some(previous), true)) = taken
        && Rc::strong_count(&previous.inner) == 1
    {
        warn_if_work_lost(&previous);
    }
}

/// Makes `ioloop`, just created by `IOLoop::current`, the thread's current
/// loop, marked implicit.
pub(crate) fn set_implicit(ioloop: &IOLoop) {
    let previous = CURRENT.try_with(|c| {
        let mut slot = c.borrow_mut();
        slot.implicit = Some(ioloop.inner.id);
        slot.ioloop.replace(ioloop.clone())
    });
    drop(previous);
}

/// Logs a warning if `ioloop`, created by `IOLoop::current` and being let
/// go, holds callbacks or timeouts that never ran.
fn warn_if_work_lost(ioloop: &IOLoop) {
    let callbacks = ioloop.pending();
    let timeouts = ioloop.inner.timers.borrow().len();
    if callbacks == 0 && timeouts == 0 {
        return;
    }
    let thread = thread::current();
    log::warn!(
        target: "ioloop",
        "a loop that IOLoop::current() created on thread {} ({:?}) is dropped \
         with {callbacks} queued callbacks and {timeouts} timeouts that never ran; \
         to reach a running loop from this thread use its Remote \
         (IOLoop::instance_remote() for the instance), or IOLoop::try_current() \
         to get no loop rather than a new one",
        thread.name().unwrap_or("unnamed"),
        thread.id(),
    );
}

/// Clears the current loop if it is `ioloop`.
pub(crate) fn clear_if(ioloop: &IOLoop) {
    let _ = CURRENT.try_with(|c| {
        let mut c = c.borrow_mut();
        if c.ioloop.as_ref().is_some_and(|cur| cur.ptr_eq(ioloop)) {
            c.ioloop.take()
        } else {
            None
        }
    });
}

/// The instance, if it lives on this thread.
pub(crate) fn instance_here() -> Option<IOLoop> {
    INSTANCE_HOME
        .try_with(|i| i.borrow().clone())
        .ok()
        .flatten()
}

pub(crate) fn instance_remote() -> Option<Remote> {
    instance_entry().as_ref().map(|e| e.remote.clone())
}

pub(crate) fn initialized() -> bool {
    instance_entry().is_some()
}

/// Makes `ioloop` the instance; fails if there is one.
pub(crate) fn install(ioloop: &IOLoop) -> Result<(), Error> {
    let mut entry = instance_entry();
    if entry.is_some() {
        return Err(Error::InstanceExists);
    }
    INSTANCE_HOME.with(|i| *i.borrow_mut() = Some(ioloop.clone()));
    *entry = Some(InstanceEntry {
        thread: thread::current().id(),
        remote: ioloop.remote(),
    });
    Ok(())
}

/// The instance, created on this thread if there is none.
///
/// Returns `Err(thread)` if it lives on another thread.
pub(crate) fn instance_or_create(create: impl FnOnce() -> IOLoop) -> Result<IOLoop, ThreadId> {
    let mut entry = instance_entry();
    match entry.as_ref() {
        Some(e) if e.thread == thread::current().id() => {
            Ok(instance_here().expect("the instance's home thread holds it"))
        }
        Some(e) => Err(e.thread),
        None => {
            let ioloop = create();
            INSTANCE_HOME.with(|i| *i.borrow_mut() = Some(ioloop.clone()));
            *entry = Some(InstanceEntry {
                thread: thread::current().id(),
                remote: ioloop.remote(),
            });
            Ok(ioloop)
        }
    }
}

/// Forgets the instance. On its home thread the `IOLoop` reference is
/// dropped at once; from another thread, through a callback on the loop.
pub(crate) fn clear_instance() {
    let old = instance_entry().take();
    let Some(old) = old else { return };
    if old.thread == thread::current().id() {
        let dropped = INSTANCE_HOME.try_with(|i| i.borrow_mut().take());
        drop(dropped);
    } else {
        let remote = old.remote.clone();
        old.remote.add_callback(move || {
            let _ = INSTANCE_HOME.try_with(|i| {
                let mut home = i.borrow_mut();
                if home.as_ref().is_some_and(|l| l.remote().same_loop(&remote)) {
                    home.take()
                } else {
                    None
                }
            });
        });
    }
}

impl IOLoop {
    /// The process-wide instance's [`Remote`], from any thread: the home of
    /// Tornado 4's `IOLoop.current().add_callback(f)` (or
    /// `IOLoop.instance().add_callback(f)`) called from a worker thread.
    ///
    /// `None` if there is no instance yet. It never creates one: an
    /// instance made here would live on the calling thread, where nothing
    /// runs it. Create the instance first on the thread that will run it
    /// ([`instance`](IOLoop::instance) or [`install`](IOLoop::install)),
    /// then start the workers. The same as [`Remote::instance`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let main_loop = IOLoop::instance();
    /// let worker = std::thread::spawn(|| {
    ///     let remote = IOLoop::instance_remote().expect("created before the worker");
    ///     remote.add_callback(|| IOLoop::current().stop());
    /// });
    /// main_loop.start()?;
    /// worker.join().unwrap();
    /// # IOLoop::clear_instance();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn instance_remote() -> Option<Remote> {
        instance_remote()
    }
}
