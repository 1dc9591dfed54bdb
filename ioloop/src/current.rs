//! The thread's current loop and the process-wide instance.
//!
//! `CURRENT` is a thread-local strong reference: a loop that is current on a
//! thread stays alive until `clear_current`, `close`, or the thread's exit.
//! The instance is an `IOLoop` on one thread (its home), so it lives in that
//! thread's `INSTANCE_HOME`; the process-wide part is its home thread's id and
//! its [`Remote`], under a lock that makes lazy creation thread-safe
//! (Tornado's rule S1).

use std::cell::RefCell;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};

use crate::{Error, IOLoop, Remote};

thread_local! {
    static CURRENT: RefCell<Option<IOLoop>> = const { RefCell::new(None) };
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
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// Calls `f` with the thread's current loop if it is the loop `loop_id`;
/// returns whether it did. Used by task wakers to queue locally.
pub(crate) fn with_current_loop(loop_id: u32, f: impl FnOnce(&IOLoop)) -> bool {
    CURRENT
        .try_with(|c| match c.try_borrow() {
            Ok(current) => match current.as_ref() {
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
        .try_with(|c| std::mem::replace(&mut *c.borrow_mut(), ioloop))
        .ok()
        .flatten()
}

/// Clears the current loop if it is `ioloop`.
pub(crate) fn clear_if(ioloop: &IOLoop) {
    let _ = CURRENT.try_with(|c| {
        let mut c = c.borrow_mut();
        if c.as_ref().is_some_and(|cur| cur.ptr_eq(ioloop)) {
            c.take()
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
