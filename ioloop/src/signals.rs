//! Unix signals delivered to a loop as ordinary callbacks:
//! [`IOLoop::add_signal_handler`].
//!
//! signal-hook does the only part that runs in signal context. For each
//! signal a loop handles it registers two async-signal-safe actions, in
//! this order: set the signal's pending flag (`signal_hook::flag`), then
//! write a byte to the loop's self-pipe (`signal_hook::low_level::pipe`).
//! The pipe's read end is an ordinary `READ` handler of the loop: it
//! drains the pipe, then takes the pending flags, and queues every handler
//! of every signal that fired as a callback (which runs, like any other,
//! under the loop's panic guard and its blocking watchdog). Draining before
//! taking the flags means a signal that arrives in between leaves a byte
//! behind, so it is seen on the next wakeup, never lost.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::panic::Location;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use libc::c_int;
use signal_hook::SigId;

use crate::core::ioloop::{Callback, Runnable};
use crate::watchers::{KeepAlive, RefFlag};
use crate::{Error, Events, IOLoop, sys, watchdog};

/// A handler added with [`IOLoop::add_signal_handler`], for
/// [`IOLoop::remove_signal_handler_handle`].
///
/// It is `Copy` and holds no reference to the loop or the handler.
/// Removing a handler twice, or with a handle from another loop, is a
/// no-op that returns false.
///
/// # Examples
///
/// ```
/// use ioloop::IOLoop;
///
/// let ioloop = IOLoop::new()?;
/// let handle = ioloop.add_signal_handler(libc::SIGUSR2, |_| {})?;
/// assert_eq!(handle.signum(), libc::SIGUSR2);
/// assert!(ioloop.remove_signal_handler_handle(handle));
/// assert!(!ioloop.remove_signal_handler_handle(handle), "removed twice: a no-op");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalHandle {
    loop_id: u32,
    signum: c_int,
    id: u64,
}

impl SignalHandle {
    /// The signal this handler was added for.
    ///
    /// # Examples
    ///
    /// ```
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let handle = ioloop.add_signal_handler(libc::SIGWINCH, |_| {})?;
    /// assert_eq!(handle.signum(), libc::SIGWINCH);
    /// # ioloop.remove_signal_handler(libc::SIGWINCH);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn signum(&self) -> c_int {
        self.signum
    }
}

/// A loop's signal handlers. Loop thread only.
#[derive(Default)]
pub(crate) struct LoopSignals {
    state: RefCell<SignalsState>,
}

#[derive(Default)]
struct SignalsState {
    /// The self-pipe, made on first use: the read end (registered with the
    /// loop as a borrowed fd) and the write end (cloned for each signal's
    /// signal-hook action, which owns and closes its clone).
    pipe: Option<(UnixStream, UnixStream)>,
    signals: Vec<Signal>,
    next_id: u64,
}

/// The handlers of one signal on one loop.
struct Signal {
    signum: c_int,
    pending: Arc<AtomicBool>,
    /// INVARIANT: the flag and pipe actions, registered with signal-hook
    /// while this entry exists; `handlers` is never empty (the entry is
    /// removed, and the actions unregistered, with its last handler).
    actions: [SigId; 2],
    handlers: Vec<Rc<Handler>>,
}

/// A signal that fired, and its handlers then.
type Fired = (c_int, Vec<Rc<Handler>>);

struct Handler {
    id: u64,
    f: RefCell<Box<dyn FnMut(c_int)>>,
    site: &'static Location<'static>,
    /// Set on removal: a call already queued is then skipped.
    removed: Cell<bool>,
    /// Whether the handler keeps `IOLoop::run` going (active from its
    /// registration until its removal).
    keep: RefFlag,
}

impl Handler {
    fn call(&self, signum: c_int) {
        if self.removed.get() {
            return;
        }
        // Busy only if the handler re-entered the loop; skip, never panic.
        if let Ok(mut f) = self.f.try_borrow_mut() {
            f(signum);
        }
    }
}

impl Signal {
    fn unregister(&self, keep_alive: &KeepAlive) {
        for id in self.actions {
            signal_hook::low_level::unregister(id);
        }
        for handler in &self.handlers {
            handler.removed.set(true);
            handler.keep.deactivate(keep_alive);
        }
    }
}

impl LoopSignals {
    /// The pipe's `READ` handler: queues the handlers of the signals that
    /// fired. Returns true if the pipe was read until `WouldBlock`.
    fn dispatch(&self, ioloop: &IOLoop) -> bool {
        let (drained, fired): (bool, Vec<Fired>) = {
            let state = self.state.borrow();
            let Some((read, _)) = state.pipe.as_ref() else {
                return false;
            };
            // Drain first, then take the flags (see the module docs).
            let drained = drain(read);
            let fired = state
                .signals
                .iter()
                .filter(|s| s.pending.swap(false, Ordering::SeqCst))
                .map(|s| (s.signum, s.handlers.clone()))
                .collect();
            (drained, fired)
        };
        queue_handlers(ioloop, fired);
        drained
    }

    /// Queues the handlers of `signum` as a delivery would; false if it has
    /// none.
    fn feed(&self, ioloop: &IOLoop, signum: c_int) -> bool {
        let handlers = {
            let state = self.state.borrow();
            match state.signals.iter().find(|s| s.signum == signum) {
                Some(signal) => signal.handlers.clone(),
                None => return false,
            }
        };
        queue_handlers(ioloop, vec![(signum, handlers)]);
        true
    }

    /// Removes every handler and releases the pipe (on `close`).
    pub(crate) fn close(&self, ioloop: &IOLoop) {
        let state = std::mem::take(&mut *self.state.borrow_mut());
        if let Some((read, _)) = &state.pipe {
            ioloop.remove_handler(read.as_raw_fd());
        }
        for signal in &state.signals {
            signal.unregister(ioloop.inner.watchers.keep_alive());
        }
        drop(state); // user handlers' Drop runs outside the borrow
    }

    /// After `fork`, in the child: the self-pipe and the signal-hook
    /// actions are the parent's (writing to the pipe would wake the
    /// parent, and both would read it). Replaces the pipe, and the actions
    /// of every signal with handlers, by new ones of this process.
    pub(crate) fn reset_after_fork(&self, ioloop: &IOLoop) -> io::Result<()> {
        let old_pipe = self.state.borrow_mut().pipe.take();
        let Some((read, write)) = old_pipe else {
            return Ok(()); // no handler was ever added
        };
        drop(ioloop.remove_handler(read.as_raw_fd()));
        drop((read, write));
        for signal in &self.state.borrow().signals {
            for id in signal.actions {
                signal_hook::low_level::unregister(id);
            }
        }
        ioloop.ensure_signal_pipe()?;
        let mut state = self.state.borrow_mut();
        let state = &mut *state;
        let write = &state.pipe.as_ref().expect("made above").1;
        for signal in &mut state.signals {
            signal.pending = Arc::new(AtomicBool::new(false));
            signal.actions = register_actions(signal.signum, &signal.pending, write)?;
        }
        Ok(())
    }
}

/// Queues each handler of each fired signal as a callback of its own.
fn queue_handlers(ioloop: &IOLoop, fired: Vec<Fired>) {
    let mut queue = ioloop.inner.queue.borrow_mut();
    for (signum, handlers) in fired {
        for handler in handlers {
            let site = handler.site;
            queue.push_back(Runnable::Callback(Callback {
                f: Box::new(move || handler.call(signum)),
                site,
            }));
        }
    }
}

impl Drop for LoopSignals {
    fn drop(&mut self) {
        // The loop is going away: its keep-alive count goes with it.
        let keep_alive = KeepAlive::default();
        for signal in &self.state.get_mut().signals {
            signal.unregister(&keep_alive);
        }
    }
}

impl IOLoop {
    /// Runs `handler(signum)` on this loop's thread, as an ordinary
    /// callback, whenever the process receives signal `signum`
    /// (`libc::SIGINT`, `signal_hook::consts::SIGTERM`...). Returns a
    /// handle that removes this handler alone.
    ///
    /// # Semantics
    ///
    /// * Several handlers can be added for one signal, on one loop or on
    ///   several: each runs once per delivery, in the order added, each as
    ///   a callback of its own (a panic in one is reported to the exception
    ///   handler, naming this call's location, and the others still run).
    /// * The handler runs on a later iteration, never in signal context:
    ///   it can do anything a callback can. Deliveries that arrive before
    ///   the loop gets to them are coalesced into one call (as the kernel
    ///   coalesces a standard signal that is already pending).
    /// * Signals are process-wide; the loop only needs to be running for
    ///   the handler to run, not to be on the thread the signal hits.
    /// * Installing a handler replaces the signal's default action (a
    ///   handled `SIGINT` no longer ends the process). When the last
    ///   handler goes, the default action is **not** restored: the signal is
    ///   then ignored (signal-hook's registry cannot uninstall its
    ///   handler). Keep a handler for as long as the signal matters.
    /// * `close` removes every handler of the loop.
    ///
    /// # Errors
    ///
    /// An `InvalidInput` error naming the signal for: a number that is not
    /// a signal; `SIGKILL` and `SIGSTOP`, which cannot be caught; the fault
    /// signals `SIGSEGV`, `SIGBUS`, `SIGILL` and `SIGFPE`, which a callback
    /// that runs later cannot handle (signal-hook forbids them); the
    /// signals the C library reserves (between `SIGSYS` and `SIGRTMIN()`);
    /// and the blocking watchdog's stack signal
    /// ([`IOLoop::blocking_stack_signal`]). [`Error::Closed`] on a closed
    /// loop; an OS error if the self-pipe cannot be made.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let l = ioloop.clone();
    /// ioloop.add_signal_handler(libc::SIGUSR2, move |signum| {
    ///     println!("got signal {signum}; stopping");
    ///     l.stop();
    /// })?;
    /// signal_hook::low_level::raise(libc::SIGUSR2)?;
    /// ioloop.start()?; // runs the handler, which stops the loop
    /// assert!(ioloop.remove_signal_handler(libc::SIGUSR2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn add_signal_handler<F>(&self, signum: c_int, handler: F) -> io::Result<SignalHandle>
    where
        F: FnMut(c_int) + 'static,
    {
        let site = Location::caller();
        if self.inner.closed.get() {
            return Err(Error::Closed.into());
        }
        check_catchable(signum)?;
        self.ensure_signal_pipe()?;
        let signals = &self.inner.signals;
        let mut state = signals.state.borrow_mut();
        if !state.signals.iter().any(|s| s.signum == signum) {
            let write = &state.pipe.as_ref().expect("made above").1;
            let pending = Arc::new(AtomicBool::new(false));
            let actions = watchdog::unless_stack_signal(signum, || {
                register_actions(signum, &pending, write)
            })?;
            state.signals.push(Signal {
                signum,
                pending,
                actions,
                handlers: Vec::new(),
            });
        }
        let id = state.next_id;
        state.next_id += 1;
        let signal = state
            .signals
            .iter_mut()
            .find(|s| s.signum == signum)
            .expect("present");
        let handler = Rc::new(Handler {
            id,
            f: RefCell::new(Box::new(handler)),
            site,
            removed: Cell::new(false),
            keep: RefFlag::default(),
        });
        handler.keep.activate(self.inner.watchers.keep_alive());
        signal.handlers.push(handler);
        Ok(SignalHandle {
            loop_id: self.inner.id,
            signum,
            id,
        })
    }

    /// Removes the one handler `handle` stands for; the signal's other
    /// handlers stay. Returns whether it was still registered. A call of it
    /// already queued by a signal is skipped.
    ///
    /// When it was the signal's last handler on this loop, the loop stops
    /// listening for the signal (see
    /// [`add_signal_handler`](IOLoop::add_signal_handler) for what that
    /// means for the signal's default action).
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let first = ioloop.add_signal_handler(libc::SIGHUP, |_| println!("reload config"))?;
    /// let _second = ioloop.add_signal_handler(libc::SIGHUP, |_| println!("reopen logs"))?;
    /// assert!(ioloop.remove_signal_handler_handle(first));
    /// assert!(!ioloop.remove_signal_handler_handle(first), "already removed");
    /// assert!(ioloop.remove_signal_handler(libc::SIGHUP), "the second was still there");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn remove_signal_handler_handle(&self, handle: SignalHandle) -> bool {
        if handle.loop_id != self.inner.id {
            return false;
        }
        let (removed, emptied) = {
            let mut state = self.inner.signals.state.borrow_mut();
            let Some(index) = state.signals.iter().position(|s| s.signum == handle.signum) else {
                return false;
            };
            let signal = &mut state.signals[index];
            let Some(at) = signal.handlers.iter().position(|h| h.id == handle.id) else {
                return false;
            };
            let removed = signal.handlers.remove(at);
            removed.removed.set(true);
            removed.keep.deactivate(self.inner.watchers.keep_alive());
            let emptied = signal
                .handlers
                .is_empty()
                .then(|| state.signals.remove(index));
            (removed, emptied)
        };
        if let Some(signal) = &emptied {
            signal.unregister(self.inner.watchers.keep_alive());
        }
        drop(removed); // the user's handler, outside the borrow
        true
    }

    /// Removes every handler of signal `signum` on this loop (asyncio's
    /// `remove_signal_handler`); returns whether there was any. The loop
    /// stops listening for the signal (see
    /// [`add_signal_handler`](IOLoop::add_signal_handler) for what that
    /// means for its default action). An invalid signal number has no
    /// handlers: false.
    ///
    /// # Examples
    ///
    /// ```
    /// let ioloop = ioloop::IOLoop::new()?;
    /// ioloop.add_signal_handler(libc::SIGWINCH, |_| {})?;
    /// ioloop.add_signal_handler(libc::SIGWINCH, |_| {})?;
    /// assert!(ioloop.remove_signal_handler(libc::SIGWINCH)); // both go
    /// assert!(!ioloop.remove_signal_handler(libc::SIGWINCH));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remove_signal_handler(&self, signum: c_int) -> bool {
        let removed = {
            let mut state = self.inner.signals.state.borrow_mut();
            let index = state.signals.iter().position(|s| s.signum == signum);
            index.map(|index| state.signals.remove(index))
        };
        match removed {
            Some(signal) => {
                signal.unregister(self.inner.watchers.keep_alive());
                drop(signal); // the user's handlers, outside the borrow
                true
            }
            None => false,
        }
    }

    /// Marks the handler `handle` stands for as keeping
    /// [`run`](IOLoop::run) going or not (idempotent; referenced by
    /// default, as libuv's signal handles). Returns false for a handle that
    /// names no handler of this loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let reload = ioloop.add_signal_handler(libc::SIGHUP, |_| println!("reload"))?;
    /// assert!(ioloop.is_alive());
    /// ioloop.set_signal_handler_ref(reload, false); // a daemon's background concern
    /// assert!(!ioloop.is_alive());
    /// ioloop.run()?; // returns at once: nothing referenced is left
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_signal_handler_ref(&self, handle: SignalHandle, referenced: bool) -> bool {
        if handle.loop_id != self.inner.id {
            return false;
        }
        let state = self.inner.signals.state.borrow();
        let handler = state
            .signals
            .iter()
            .filter(|s| s.signum == handle.signum)
            .flat_map(|s| s.handlers.iter())
            .find(|h| h.id == handle.id);
        match handler {
            Some(handler) => {
                handler
                    .keep
                    .set(self.inner.watchers.keep_alive(), referenced);
                true
            }
            None => false,
        }
    }

    /// Runs the handlers of signal `signum` as if the process had received
    /// it (libev's `ev_feed_signal_event`), on a later iteration, without
    /// any signal being sent. Returns whether `signum` has handlers on this
    /// loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use ioloop::IOLoop;
    ///
    /// let ioloop = IOLoop::new()?;
    /// let l = ioloop.clone();
    /// ioloop.add_signal_handler(libc::SIGUSR1, move |_| l.stop())?;
    /// assert!(ioloop.feed_signal_event(libc::SIGUSR1));
    /// assert!(!ioloop.feed_signal_event(libc::SIGUSR2), "no handler");
    /// ioloop.start()?; // the fed handler stops the loop
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn feed_signal_event(&self, signum: c_int) -> bool {
        self.inner.signals.feed(self, signum)
    }

    /// Makes the self-pipe and registers its read end, on first use.
    fn ensure_signal_pipe(&self) -> io::Result<()> {
        if self.inner.signals.state.borrow().pipe.is_some() {
            return Ok(());
        }
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        let weak = self.downgrade();
        let fd = read.as_raw_fd();
        self.add_handler(fd, Events::READ, move |fd, _| {
            if let Some(ioloop) = weak.upgrade()
                && ioloop.inner.signals.dispatch(&ioloop)
            {
                // No level-triggered re-arm needed: the pipe is empty.
                ioloop.mark_drained(fd, Events::READ);
            }
        })?;
        // The pipe is plumbing: the signal handlers keep the loop alive (or
        // not, each by its own flag), the pipe never does.
        self.set_handler_ref(fd, false);
        self.inner.signals.state.borrow_mut().pipe = Some((read, write));
        Ok(())
    }
}

/// Reads the self-pipe until it is empty; false if it stopped on an error
/// other than `WouldBlock` (the loop then re-arms it, level-triggered).
fn drain(mut read: &UnixStream) -> bool {
    let mut buf = [0u8; 64];
    loop {
        match read.read(&mut buf) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return err.kind() == io::ErrorKind::WouldBlock,
        }
    }
}

/// Registers `signum`'s two signal-hook actions: set `pending`, then wake
/// the loop through a clone of the pipe's `write` end.
fn register_actions(
    signum: c_int,
    pending: &Arc<AtomicBool>,
    write: &UnixStream,
) -> io::Result<[SigId; 2]> {
    let flag = signal_hook::flag::register(signum, pending.clone())?;
    let wake = write
        .try_clone()
        .and_then(|clone| signal_hook::low_level::pipe::register_raw(signum, OwnedFd::from(clone)));
    match wake {
        Ok(wake) => Ok([flag, wake]),
        Err(err) => {
            signal_hook::low_level::unregister(flag);
            Err(err)
        }
    }
}

/// Checks that `signum` is a signal a loop can handle.
pub(crate) fn check_catchable(signum: c_int) -> io::Result<()> {
    let refuse = |why: String| {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("add_signal_handler: {why}"),
        ))
    };
    let standard = 1..=sys::max_standard_signal();
    let realtime = sys::realtime_signals();
    if !standard.contains(&signum) && !realtime.contains(&signum) {
        if signum > *standard.end() && signum < *realtime.start() {
            return refuse(format!("signal {signum} is reserved by the C library"));
        }
        return refuse(if realtime.is_empty() {
            format!(
                "signal {signum} is not a signal number (1 to {})",
                standard.end()
            )
        } else {
            format!(
                "signal {signum} is not a signal number (1 to {}, or SIGRTMIN {} to SIGRTMAX {})",
                standard.end(),
                realtime.start(),
                realtime.end()
            )
        });
    }
    if signum == libc::SIGKILL || signum == libc::SIGSTOP {
        return refuse(format!("{} cannot be caught", signal_name(signum)));
    }
    if signal_hook::consts::FORBIDDEN.contains(&signum) || signum == libc::SIGBUS {
        return refuse(format!(
            "{} reports a fault of the thread that raised it, which a later callback \
             cannot handle (signal-hook forbids it)",
            signal_name(signum)
        ));
    }
    Ok(())
}

/// `"SIGINT (2)"`, `"SIGRTMIN+4 (38)"`, `"signal 16"`.
pub(crate) fn signal_name(signum: c_int) -> String {
    if let Some(name) = signal_hook::low_level::signal_name(signum) {
        return format!("{name} ({signum})");
    }
    let realtime = sys::realtime_signals();
    if realtime.contains(&signum) {
        return format!("SIGRTMIN+{} ({signum})", signum - realtime.start());
    }
    format!("signal {signum}")
}

impl fmt::Debug for LoopSignals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.borrow();
        let signums: Vec<c_int> = state.signals.iter().map(|s| s.signum).collect();
        f.debug_struct("LoopSignals")
            .field("signals", &signums)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names_say_the_name_and_number() {
        assert_eq!(signal_name(libc::SIGINT), "SIGINT (2)");
        let rt = *sys::realtime_signals().start();
        assert_eq!(signal_name(rt + 4), format!("SIGRTMIN+4 ({})", rt + 4));
    }

    #[test]
    fn uncatchable_and_invalid_signals_are_refused_by_name() {
        for (signum, needle) in [
            (0, "signal 0 is not a signal number"),
            (-3, "signal -3 is not a signal number"),
            (1000, "signal 1000 is not a signal number"),
            (libc::SIGKILL, "SIGKILL (9) cannot be caught"),
            (libc::SIGSTOP, "SIGSTOP (19) cannot be caught"),
            (libc::SIGSEGV, "SIGSEGV (11) reports a fault"),
            (libc::SIGBUS, "SIGBUS (7) reports a fault"),
            (libc::SIGILL, "SIGILL (4)"),
            (libc::SIGFPE, "SIGFPE (8)"),
        ] {
            let err = check_catchable(signum).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            assert!(err.to_string().contains(needle), "{err}");
        }
        for signum in [libc::SIGINT, libc::SIGTERM, libc::SIGUSR1, libc::SIGCHLD] {
            check_catchable(signum).unwrap();
        }
    }
}
