//! One iteration of the loop, and `start`.
//!
//! The order is Tornado's (`PollIOLoop.start`, rules O1 to O5):
//!
//! 1. remote callbacks join the local queue; the queue's length is noted;
//! 2. the timeouts due now are collected (time sampled once, before
//!    anything runs, so a timeout added during the iteration waits for the
//!    next one even if already due: rule T9);
//! 3. the noted callbacks run, first in, first out (those added meanwhile
//!    wait: rule C2);
//! 4. the collected timeouts run, unless removed meanwhile (rule T7);
//! 5. a stop request ends `start` here (rules L1, L3, L4);
//! 6. poll: timeout 0 if callbacks are queued, else until the next
//!    deadline, else until woken; `EINTR` is a wakeup (rule O5);
//! 7. the handlers of the ready descriptors run, each at most once (H9).

use std::io;
use std::time::Duration;

use mio::Token;

use crate::deadline;
use crate::exception::CallbackKind;
use crate::handlers::{self, WAKER_TOKEN};
use crate::ioloop::{Callback, Runnable};
use crate::poller;
use crate::remote::RemoteItem;
use crate::task::{self, TaskId};
use crate::timers::TimerKey;
use crate::{Error, Events, IOLoop, current};

/// Buffers reused across iterations, so a steady loop does not allocate.
struct RunState {
    events: mio::Events,
    ready: Vec<(Token, Events)>,
    due: Vec<TimerKey>,
    remote: Vec<RemoteItem>,
    /// Consecutive iterations that skipped a zero-timeout poll.
    poll_skips: u32,
}

/// Marks the loop running and current; undoes both on drop (rule L8).
struct Running<'a> {
    ioloop: &'a IOLoop,
    previous: Option<IOLoop>,
}

impl<'a> Running<'a> {
    fn enter(ioloop: &'a IOLoop) -> Running<'a> {
        ioloop.inner.running.set(true);
        let previous = current::replace(Some(ioloop.clone()));
        Running { ioloop, previous }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let inner = &self.ioloop.inner;
        inner.watchdog.idle();
        inner.running.set(false);
        inner.shared.take_stop_request();
        let ours = current::replace(self.previous.take());
        drop(ours);
    }
}

/// The future `run_sync` drives: polled when its task id comes up in the
/// queue.
pub(crate) struct Main<'a> {
    /// Polls the future once; catches its own panics.
    pub(crate) poll: &'a mut dyn FnMut(),
    /// Where `run_sync` was called.
    pub(crate) site: &'static std::panic::Location<'static>,
}

/// Runs the loop until stopped; `start` with `main = None`, `run_sync`
/// with its future's poll function.
pub(crate) fn run(ioloop: &IOLoop, mut main: Option<Main<'_>>) -> Result<(), Error> {
    let inner = &ioloop.inner;
    if inner.running.get() {
        return Err(Error::AlreadyRunning);
    }
    if inner.closed.get() {
        return Err(Error::Closed);
    }
    if inner.shared.take_stop_request() {
        // stop() before start(): return at once, running nothing (rule L2).
        return Ok(());
    }
    let _running = Running::enter(ioloop);
    let mut state = RunState {
        events: mio::Events::with_capacity(inner.event_capacity),
        ready: Vec::new(),
        due: Vec::new(),
        remote: Vec::new(),
        poll_skips: 0,
    };
    while iteration(ioloop, &mut state, &mut main)? {}
    Ok(())
}

/// Runs one iteration; returns false when the loop must stop.
fn iteration(
    ioloop: &IOLoop,
    state: &mut RunState,
    main: &mut Option<Main<'_>>,
) -> Result<bool, Error> {
    let inner = &*ioloop.inner;

    // 1. Callbacks sent from other threads were queued before this phase.
    if inner.shared.has_pending() {
        inner.shared.take_pending(&mut state.remote);
        let mut queue = inner.queue.borrow_mut();
        queue.extend(state.remote.drain(..).map(|item| match item {
            RemoteItem::Callback(cb) => Runnable::Callback(Callback {
                f: cb.f,
                site: cb.site,
            }),
            RemoteItem::Wake(id) => Runnable::Task(id),
        }));
    }
    let ncallbacks = inner.queue.borrow().len();

    // 2. Collect the due timeouts before anything runs.
    if inner.timers.borrow().pending() > 0 {
        let now = deadline::now_ns();
        inner.timers.borrow_mut().pop_due(now, &mut state.due);
    }

    // 3. The callbacks (and woken tasks) queued before this phase.
    for _ in 0..ncallbacks {
        let next = inner.queue.borrow_mut().pop_front();
        match next {
            Some(Runnable::Callback(cb)) => {
                ioloop.run_guarded(CallbackKind::Callback, cb.site, cb.f);
            }
            Some(Runnable::Task(id)) if id.is_main() => poll_main(ioloop, id, main),
            Some(Runnable::Task(id)) => task::poll(ioloop, id),
            None => break,
        }
    }

    // 4. The due timeouts, unless removed meanwhile.
    for key in state.due.drain(..) {
        let timeout = inner.timers.borrow_mut().take_due(key);
        if let Some(t) = timeout {
            ioloop.run_guarded(CallbackKind::Timeout, t.site, t.f);
        }
    }

    // 5. Stop here, before polling.
    if inner.shared.stop_requested() {
        return Ok(false);
    }

    // 6. Poll.
    let timeout = if !inner.queue.borrow().is_empty() || inner.shared.has_pending() {
        Some(Duration::ZERO)
    } else {
        let next = inner.timers.borrow().next_deadline();
        next.map(|deadline| Duration::from_nanos(deadline.saturating_sub(deadline::now_ns())))
    };
    if timeout == Some(Duration::ZERO) {
        // Busy: work is queued for the next iteration. Polling for I/O
        // without blocking is only needed every MAX_POLL_SKIPS iterations,
        // and never when no descriptor is registered (remote callbacks and
        // stop requests are seen through atomics, not the poller).
        let no_fds = inner.handlers.borrow().len() == 0;
        if no_fds || state.poll_skips < IOLoop::MAX_POLL_SKIPS {
            state.poll_skips = state.poll_skips.saturating_add(1);
            return Ok(true);
        }
    }
    state.poll_skips = 0;
    poll(ioloop, state, timeout)?;

    // 7. Dispatch.
    for i in 0..state.ready.len() {
        let (token, events) = state.ready[i];
        dispatch(ioloop, token, events);
    }
    Ok(true)
}

/// Polls `run_sync`'s future, unless the wake is for an earlier `run_sync`.
fn poll_main(ioloop: &IOLoop, id: TaskId, main: &mut Option<Main<'_>>) {
    if id.generation() != ioloop.inner.main_generation.get() {
        return;
    }
    if let Some(main) = main.as_mut() {
        // `main.poll` catches its own panics (run_sync re-raises them); this
        // gives the poll the same watchdog coverage as any callback.
        let site = main.site;
        ioloop.run_guarded(CallbackKind::Task, site, || (main.poll)());
    }
}

/// Polls, filling `state.ready`.
fn poll(ioloop: &IOLoop, state: &mut RunState, mut timeout: Option<Duration>) -> Result<(), Error> {
    let inner = &*ioloop.inner;
    // Waiting is not blocking: the watchdog never reports a polling loop.
    inner.watchdog.idle();
    let parks = timeout != Some(Duration::ZERO);
    if parks && !inner.shared.park() {
        timeout = Some(Duration::ZERO);
    }
    let result = match inner.poll.borrow_mut().as_mut() {
        Some(poll) => poll.poll(&mut state.events, timeout),
        None => Err(io::Error::from(Error::Closed)),
    };
    if parks {
        inner.shared.unpark();
    }
    state.ready.clear();
    match result {
        Ok(()) => {}
        // A signal interrupted the wait: a wakeup like any other.
        Err(err) if err.kind() == io::ErrorKind::Interrupted => return Ok(()),
        Err(err) => return Err(Error::from(err)),
    }
    state.ready.extend(
        state
            .events
            .iter()
            .filter(|event| event.token() != WAKER_TOKEN)
            .map(|event| (event.token(), handlers::events_from_mio(event))),
    );
    Ok(())
}

/// Calls the handler for one ready registration, then re-arms it if
/// level-triggered semantics need it.
fn dispatch(ioloop: &IOLoop, token: Token, events: Events) {
    let inner = &*ioloop.inner;
    let taken = {
        let mut table = inner.handlers.borrow_mut();
        // None: removed earlier in this batch, perhaps with its fd number
        // reused since (rule H8).
        let Some(reg) = table.by_token(token) else {
            return;
        };
        let delivered = events & (reg.interest | Events::ERROR);
        if delivered.is_empty() {
            // For example READ on an ERROR-only registration.
            return;
        }
        let Some(handler) = reg.handler.take() else {
            return;
        };
        reg.rearmed = false;
        reg.drained = Events::NONE;
        (reg.fd, delivered, handler, reg.site)
    };
    let (fd, delivered, mut handler, site) = taken;
    ioloop.run_guarded(
        CallbackKind::Handler {
            fd,
            events: delivered,
        },
        site,
        || handler(fd, delivered),
    );
    let outcome = {
        let mut table = inner.handlers.borrow_mut();
        match table.by_token(token) {
            Some(reg) => {
                let rearm = reg.needs_rearm(delivered).then_some(reg.interest);
                reg.handler = Some(handler);
                Ok(rearm)
            }
            None => Err(handler),
        }
    };
    match outcome {
        // Removed by its own handler: drop it now, outside the borrow.
        Err(handler) => drop(handler),
        Ok(None) => {}
        Ok(Some(interest)) => rearm(ioloop, fd, token, interest),
    }
}

fn rearm(ioloop: &IOLoop, fd: i32, token: Token, interest: Events) {
    let result = match ioloop.inner.poll.borrow().as_ref() {
        Some(poll) => poller::reregister(poll, fd, token, interest, poller::Trigger::Level),
        None => return,
    };
    if let Err(err) = result {
        // The handler closed its descriptor without remove_handler: the
        // kernel forgot it, and so must we.
        log::warn!(
            target: "ioloop",
            "fd {fd} was closed without remove_handler; removing its handler ({err})"
        );
        drop(ioloop.remove_handler(fd));
    }
}
