//! Loop hooks, as in libev and libuv: prepare (just before the poll),
//! check (after the handlers of a poll), idle (only when the loop would
//! otherwise sleep): [`IOLoop::add_prepare`], [`IOLoop::add_check`],
//! [`IOLoop::add_idle`], and the [`Hook`] handle each returns.
//!
//! Each kind keeps its hooks in a list, in the order they were added. A
//! pass over a kind runs a snapshot of the list (so a hook added during a
//! pass first runs on the next one) and skips a hook stopped earlier in the
//! same pass. A bit per kind in the loop's [`Features`] says whether the
//! list is non-empty, so a loop with no hooks does not look at them.

use std::cell::RefCell;
use std::fmt;
use std::panic::Location;
use std::rc::Rc;

use crate::core::exception::CallbackKind;
use crate::watchers::features::Features;
use crate::watchers::refs::{KeepAlive, RefFlag};
use crate::{IOLoop, WeakIOLoop};

/// Which phase of the iteration a hook runs in.
///
/// # Examples
///
/// ```
/// use ioloop::{HookKind, IOLoop};
///
/// let ioloop = IOLoop::new()?;
/// let hook = ioloop.add_check(|_| {});
/// assert_eq!(hook.kind(), HookKind::Check);
/// hook.stop();
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HookKind {
    /// Just before the loop polls (libev `ev_prepare`, libuv `uv_prepare`).
    Prepare,
    /// After the handlers of a poll ran (libuv `uv_check`).
    Check,
    /// When the loop would otherwise sleep (libev `ev_idle`).
    Idle,
}

impl HookKind {
    pub(crate) fn bit(self) -> u8 {
        match self {
            HookKind::Prepare => Features::PREPARE,
            HookKind::Check => Features::CHECK,
            HookKind::Idle => Features::IDLE,
        }
    }

    fn index(self) -> usize {
        match self {
            HookKind::Prepare => 0,
            HookKind::Check => 1,
            HookKind::Idle => 2,
        }
    }
}

impl fmt::Display for HookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HookKind::Prepare => "prepare",
            HookKind::Check => "check",
            HookKind::Idle => "idle",
        })
    }
}

/// A hook's callback.
pub(crate) type HookFn = Box<dyn FnMut(&Hook)>;

struct HookState {
    kind: HookKind,
    ioloop: WeakIOLoop,
    /// `None` while the hook runs, and after it is stopped.
    f: RefCell<Option<HookFn>>,
    /// Active (in its list) and referenced: see [`RefFlag`].
    flag: RefFlag,
    site: &'static Location<'static>,
}

/// A loop's hooks. Loop thread only.
#[derive(Default)]
pub(crate) struct Hooks {
    /// Prepare, check and idle hooks, in the order they were added.
    /// INVARIANT: the loop's `Features` bit `kind.bit()` is set iff
    /// `lists[kind.index()]` is not empty.
    lists: [RefCell<Vec<Hook>>; 3],
    /// The snapshot a pass runs, kept to reuse its allocation.
    scratch: RefCell<Vec<Hook>>,
}

impl Hooks {
    fn add(&self, hook: Hook, features: &Features) {
        let kind = hook.state.kind;
        self.lists[kind.index()].borrow_mut().push(hook);
        features.set(kind.bit(), true);
    }

    fn remove(&self, state: &Rc<HookState>, features: &Features) {
        let kind = state.kind;
        let mut list = self.lists[kind.index()].borrow_mut();
        if let Some(i) = list.iter().position(|h| Rc::ptr_eq(&h.state, state)) {
            list.remove(i);
        }
        if list.is_empty() {
            features.set(kind.bit(), false);
        }
    }

    /// Removes every hook (at `close`), returning their callbacks so they
    /// are dropped outside the borrows.
    pub(crate) fn drain(&self, keep_alive: &KeepAlive, features: &Features) -> Vec<HookFn> {
        let mut dropped = Vec::new();
        for list in &self.lists {
            for hook in list.take() {
                hook.state.flag.deactivate(keep_alive);
                dropped.extend(hook.state.f.take());
            }
        }
        features.set(Features::PREPARE | Features::CHECK | Features::IDLE, false);
        dropped
    }
}

/// Runs a snapshot of the hooks of `kind`, each under the loop's panic
/// guard.
pub(crate) fn run(ioloop: &IOLoop, kind: HookKind) {
    let hooks = &ioloop.inner.watchers.hooks;
    let mut snapshot = std::mem::take(&mut *hooks.scratch.borrow_mut());
    snapshot.extend(hooks.lists[kind.index()].borrow().iter().cloned());
    for hook in &snapshot {
        let state = &hook.state;
        // Skipped if stopped by an earlier hook of this pass; `None` also if
        // it is running already (it cannot be: passes do not nest).
        let Some(mut f) = state.f.take() else {
            continue;
        };
        ioloop.run_guarded(CallbackKind::Hook(kind), state.site, || f(hook));
        if state.flag.is_active() {
            *state.f.borrow_mut() = Some(f);
        } else {
            drop(f); // stopped by itself: its captures go now
        }
    }
    snapshot.clear();
    *hooks.scratch.borrow_mut() = snapshot;
}

/// Whether idle hooks may run now: nothing queued, from this thread or
/// another, and no stop request (the loop would have slept).
pub(crate) fn idle_now(ioloop: &IOLoop) -> bool {
    let inner = &ioloop.inner;
    inner.watchers.features.has(Features::IDLE)
        && !inner.watchers.features.has(Features::FED)
        && inner.nothing_queued()
}

/// A prepare, check or idle hook on a loop, returned by
/// [`IOLoop::add_prepare`], [`IOLoop::add_check`] and [`IOLoop::add_idle`],
/// and given to the hook's callback on every call.
///
/// Cloning gives another handle to the same hook. Dropping every handle
/// does **not** stop the hook (as with a timeout, whose handle is only a
/// way to cancel it): call [`stop`](Hook::stop), from outside or from the
/// hook itself.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use ioloop::IOLoop;
///
/// let ioloop = IOLoop::new()?;
/// let calls = Rc::new(Cell::new(0));
/// let c = calls.clone();
/// ioloop.add_idle(move |hook| {
///     c.set(c.get() + 1);
///     hook.stop(); // the hook gets its own handle
/// });
/// ioloop.run()?; // returns when the stopped hook leaves nothing to do
/// assert_eq!(calls.get(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Hook {
    state: Rc<HookState>,
}

impl Hook {
    /// Stops the hook: it is not called again, not even later in the
    /// current pass, and its callback is dropped (after the call in
    /// progress, if the hook stops itself). Stopping a stopped hook is a
    /// no-op. Returns whether the hook was active.
    ///
    /// # Examples
    ///
    /// ```
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let hook = ioloop.add_prepare(|_| unreachable!("stopped before the loop ran"));
    /// assert!(hook.stop());
    /// assert!(!hook.stop(), "already stopped");
    /// ioloop.run()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stop(&self) -> bool {
        let state = &self.state;
        if !state.flag.is_active() {
            return false;
        }
        let Some(ioloop) = state.ioloop.upgrade() else {
            return false;
        };
        ioloop
            .inner
            .watchers
            .hooks
            .remove(state, &ioloop.inner.watchers.features);
        state.flag.deactivate(&ioloop.inner.watchers.keep_alive);
        let f = state.f.take(); // `None` if it is running: dropped by `run`
        drop(f);
        true
    }

    /// True until the hook is stopped (or its loop closed).
    ///
    /// # Examples
    ///
    /// ```
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let hook = ioloop.add_idle(|_| {});
    /// assert!(hook.is_active());
    /// hook.stop();
    /// assert!(!hook.is_active());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_active(&self) -> bool {
        self.state.flag.is_active()
    }

    /// Which phase the hook runs in.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::HookKind;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// assert_eq!(ioloop.add_prepare(|h| { h.stop(); }).kind(), HookKind::Prepare);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn kind(&self) -> HookKind {
        self.state.kind
    }

    /// Marks the hook as keeping [`IOLoop::run`] going (the default) or not
    /// (libuv's `uv_ref`/`uv_unref`; idempotent). An unreferenced hook still
    /// runs; it just does not count as work left. It has no effect on a
    /// stopped hook.
    ///
    /// # Examples
    ///
    /// ```
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let hook = ioloop.add_check(|_| {}); // would keep run() going forever...
    /// hook.set_ref(false); // ...but not once unreferenced
    /// ioloop.run()?;
    /// assert!(hook.is_active(), "it still runs while the loop does");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_ref(&self, referenced: bool) {
        if let Some(ioloop) = self.state.ioloop.upgrade() {
            self.state
                .flag
                .set(&ioloop.inner.watchers.keep_alive, referenced);
        }
    }

    /// Whether the hook keeps [`IOLoop::run`] going.
    ///
    /// # Examples
    ///
    /// ```
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let hook = ioloop.add_check(|_| {});
    /// assert!(hook.is_referenced());
    /// hook.set_ref(false);
    /// assert!(!hook.is_referenced());
    /// # hook.stop();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_referenced(&self) -> bool {
        self.state.flag.is_referenced()
    }
}

impl fmt::Debug for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hook")
            .field("kind", &self.state.kind)
            .field("active", &self.is_active())
            .field("referenced", &self.is_referenced())
            .field("site", &self.state.site)
            .finish()
    }
}

impl IOLoop {
    fn add_hook(&self, kind: HookKind, f: HookFn, site: &'static Location<'static>) -> Hook {
        let hook = Hook {
            state: Rc::new(HookState {
                kind,
                ioloop: self.downgrade(),
                f: RefCell::new(Some(f)),
                flag: RefFlag::default(),
                site,
            }),
        };
        if !self.inner.closed.get() {
            hook.state.flag.activate(&self.inner.watchers.keep_alive);
            self.inner
                .watchers
                .hooks
                .add(hook.clone(), &self.inner.watchers.features);
        } else {
            drop(hook.state.f.take());
        }
        hook
    }

    /// Calls `f` on every iteration, just before the loop polls (libev's
    /// `ev_prepare`, libuv's `uv_prepare`). Returns a [`Hook`] that stops it.
    ///
    /// # Semantics
    ///
    /// In one iteration: queued callbacks, due timeouts, the stop check,
    /// **prepare hooks**, poll, handlers, check hooks, idle hooks. A prepare
    /// hook sees the loop about to wait: it can add a timeout or a callback
    /// that changes how long the poll waits (a queued callback makes it not
    /// wait), which is how another event source is integrated (set up in
    /// prepare, collect in check). A `stop()` from a prepare hook takes
    /// effect as one from a handler does: the poll does not wait, and the
    /// loop stops at the next stop check.
    ///
    /// Hooks of one kind run in the order they were added; one added while
    /// they run first runs on the next iteration. A panic in `f` is caught
    /// and reported (as [`CallbackKind::Hook`]); the hook stays active.
    /// While active, the hook keeps [`run`](IOLoop::run) going unless
    /// [`Hook::set_ref`] says otherwise. On a closed loop the hook is
    /// inactive from the start.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let polls = Rc::new(Cell::new(0));
    /// let (p, l) = (polls.clone(), ioloop.clone());
    /// ioloop.add_prepare(move |hook| {
    ///     p.set(p.get() + 1);
    ///     if p.get() < 3 {
    ///         // A queued callback makes the coming poll not wait.
    ///         l.add_callback(|| {});
    ///     } else {
    ///         hook.stop();
    ///         l.stop(); // the poll does not wait; start returns after it
    ///     }
    /// });
    /// ioloop.start()?;
    /// assert_eq!(polls.get(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn add_prepare<F>(&self, f: F) -> Hook
    where
        F: FnMut(&Hook) + 'static,
    {
        self.add_hook(HookKind::Prepare, Box::new(f), Location::caller())
    }

    /// Calls `f` on every iteration, after the handlers of the poll ran
    /// (libuv's `uv_check`; libev runs its check watchers right after the
    /// poll, before the other watchers). Returns a [`Hook`] that stops it.
    ///
    /// # Semantics
    ///
    /// A check hook runs once the I/O of an iteration has been handled: the
    /// place to flush what the handlers buffered, or to collect events of
    /// another source a prepare hook set up. It runs on every iteration,
    /// including those whose poll found nothing. Ordering, panics and
    /// reference counting are as for [`add_prepare`](IOLoop::add_prepare).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::io::{Read, Write};
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    /// use std::rc::Rc;
    /// use ioloop::{Events, IOLoop};
    ///
    /// let ioloop = IOLoop::new()?;
    /// let log = Rc::new(RefCell::new(Vec::new()));
    /// let (mut a, b) = UnixStream::pair()?;
    /// a.write_all(b"x")?;
    /// let (g, l) = (log.clone(), ioloop.clone());
    /// ioloop.add_handler(b.as_raw_fd(), Events::READ, move |fd, _| {
    ///     (&b).read_exact(&mut [0]).unwrap();
    ///     g.borrow_mut().push("handler");
    ///     l.remove_handler(fd);
    /// })?;
    /// let (g, l) = (log.clone(), ioloop.clone());
    /// ioloop.add_check(move |hook| {
    ///     g.borrow_mut().push("check");
    ///     hook.stop();
    ///     l.stop();
    /// });
    /// ioloop.start()?;
    /// assert_eq!(*log.borrow(), ["handler", "check"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn add_check<F>(&self, f: F) -> Hook
    where
        F: FnMut(&Hook) + 'static,
    {
        self.add_hook(HookKind::Check, Box::new(f), Location::caller())
    }

    /// Calls `f` whenever the loop has nothing to do: libev's `ev_idle`
    /// (not libuv's `uv_idle`, which runs on every iteration). Returns a
    /// [`Hook`] that stops it.
    ///
    /// # Semantics
    ///
    /// An active idle hook turns a poll that would block (no callback
    /// queued, no timeout due) into a non-blocking one. If that poll finds
    /// no ready descriptor, and after the check hooks no callback is queued
    /// (here or from another thread), no event was fed and no stop was
    /// requested, the idle hooks run. So idle hooks never run while
    /// callbacks are queued or descriptors are ready, and a loop with an
    /// active idle hook never sleeps: a hook that has finished its
    /// background work should stop itself.
    ///
    /// An active, referenced idle hook keeps [`run`](IOLoop::run) going.
    ///
    /// # Examples
    ///
    /// Background work in small slices, yielding to callbacks and I/O:
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let left = Rc::new(Cell::new(1000));
    /// let l = left.clone();
    /// ioloop.add_idle(move |hook| {
    ///     l.set(l.get() - 100); // one slice of work
    ///     if l.get() == 0 {
    ///         hook.stop();
    ///     }
    /// });
    /// ioloop.run()?; // returns when the idle hook has stopped
    /// assert_eq!(left.get(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn add_idle<F>(&self, f: F) -> Hook
    where
        F: FnMut(&Hook) + 'static,
    {
        self.add_hook(HookKind::Idle, Box::new(f), Location::caller())
    }
}
