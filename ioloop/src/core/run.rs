//! One iteration of the loop, and the ways in: `start`, `run_sync`, `run`
//! and `run_once`.
//!
//! An iteration is one sequence of named phases, in Tornado's order
//! (`PollIOLoop.start`), with the hook points where libev-style watchers
//! come in (see [`watchers`]):
//!
//! 1. [`run_ready_work`]: what was ready when the iteration began.
//!    * [`take_remote_callbacks`]: callbacks other threads posted join the
//!      local queue, and the queue's length is noted;
//!    * [`collect_due_timeouts`]: the timeouts due now are collected (the
//!      time is read once, before anything runs, so a timeout added
//!      during the iteration waits for the next one even if already due);
//!    * [`run_queued_callbacks`]: the noted callbacks and woken tasks run,
//!      first in, first out (those added meanwhile wait);
//!    * [`run_due_timeouts`]: the collected timeouts run, unless removed
//!      meanwhile.
//! 2. The stop check: a `stop()` ends the run here, before the poll; so
//!    does the hook point `leave_before_poll` (`run` with nothing
//!    referenced left, a loop suspended by one of its callbacks).
//! 3. [`poll_and_dispatch`]: waiting for I/O, in named steps.
//!    * hook point `before_poll`: prepare hooks;
//!    * plan the poll: the timeout is 0 if callbacks are queued, else until
//!      the next deadline, else none (until woken); a poll that would
//!      block goes through the hook point `blocking_timeout` (idle hooks,
//!      the batching intervals);
//!    * poll for I/O, or skip the poll while callbacks keep the loop busy
//!      (see [`Builder::max_poll_skips`](crate::Builder::max_poll_skips));
//!      `EINTR` is a wakeup, any other poll error ends the run with that
//!      error; the iteration count and the cached loop time move on;
//!    * dispatch: the hook point `after_poll` adds fed events to the ready
//!      list, then the handlers of the ready descriptors run, each at most
//!      once;
//!    * hook point `after_dispatch`: check hooks, then idle hooks if the
//!      loop would have slept and nothing came up.
//!
//!    These steps stay one function: split into functions, the compiler
//!    kept fewer values in registers across the callback loop, and the
//!    callback chain benchmark ran about 5% slower.
//!
//! `run_once` runs the same cycle cut at the poll: phase 3, then phase 1,
//! so what wakes its poll (a due timeout, a callback from another thread)
//! is handled before it returns.

use std::io;
use std::time::Duration;

use mio::Token;

use crate::core::current;
use crate::core::deadline;
use crate::core::exception::CallbackKind;
use crate::core::handlers::{self, WAKER_TOKEN};
use crate::core::ioloop::{Inner, Runnable};
use crate::core::poller;
use crate::core::timers::TimerKey;
use crate::core::wait_timer::WAIT_TIMER_TOKEN;
use crate::tasks::task::{self, TaskId};
use crate::watchers::{self, InUse};
use crate::{Error, Events, IOLoop};

/// Buffers reused across iterations, so a steady loop does not allocate.
///
/// The loop keeps one between runs (`Inner::run_state`), allocated with
/// the loop: every `start`, `run_sync` and `run_once` reuses the same poll
/// buffers instead of allocating and freeing them (and the free does not
/// land at the top of a heap that a long run filled).
pub(crate) struct RunState {
    events: mio::Events,
    ready: Vec<(Token, Events)>,
    due: Vec<TimerKey>,
    /// Consecutive iterations that skipped a zero-timeout poll.
    poll_skips: u32,
}

/// Marks the loop running and current; undoes both on drop.
struct RunScope<'a> {
    ioloop: &'a IOLoop,
    previous: Option<IOLoop>,
}

impl<'a> RunScope<'a> {
    fn enter(ioloop: &'a IOLoop) -> RunScope<'a> {
        ioloop.inner.running.set(true);
        let previous = current::replace(Some(ioloop.clone()));
        RunScope { ioloop, previous }
    }
}

impl Drop for RunScope<'_> {
    fn drop(&mut self) {
        let inner = &self.ioloop.inner;
        inner.watchdog.idle();
        inner.running.set(false);
        inner.remote.take_stop_request();
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

/// When `run_until` returns (besides `stop()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Until {
    /// Only `stop()`: `start`, `run_forever`, `run_sync`.
    Stopped,
    /// Also when nothing referenced is left: `run`.
    NothingReferenced,
}

/// How the poll phase may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PollMode {
    /// Inside `start`/`run`: a zero-timeout poll may be skipped.
    Loop,
    /// `run_once(Wait)`: may block; never skipped.
    Once,
    /// `run_once(NoWait)`: never blocks; never skipped.
    NoWait,
}

/// Runs the loop until stopped; `start` with `main = None`, `run_sync`
/// with its future's poll function.
pub(crate) fn run(ioloop: &IOLoop, main: Option<Main<'_>>) -> Result<(), Error> {
    run_until(ioloop, main, Until::Stopped)
}

/// The checks every way of running the loop makes first; false if a stop
/// request was pending (return at once, running nothing).
fn may_run(ioloop: &IOLoop) -> Result<bool, Error> {
    let inner = &ioloop.inner;
    if inner.running.get() {
        return Err(Error::AlreadyRunning);
    }
    if inner.closed.get() {
        return Err(Error::Closed);
    }
    watchers::before_run(ioloop)?;
    Ok(!inner.remote.take_stop_request())
}

/// `run_once`: one iteration, cut at the poll (see the module docs).
pub(crate) fn run_once(ioloop: &IOLoop, wait: bool) -> Result<(), Error> {
    if !may_run(ioloop)? {
        return Ok(());
    }
    let _running = RunScope::enter(ioloop);
    let mut lent = Lent::take(ioloop);
    let state = lent.get();
    let mode = if wait {
        PollMode::Once
    } else {
        PollMode::NoWait
    };
    poll_and_dispatch(ioloop, state, mode, ioloop.inner.watchers.in_use())?;
    run_ready_work(ioloop, state, &mut None);
    Ok(())
}

/// Runs the loop until stopped, or (with `Until::NothingReferenced`) until
/// nothing referenced is left.
pub(crate) fn run_until(
    ioloop: &IOLoop,
    mut main: Option<Main<'_>>,
    until: Until,
) -> Result<(), Error> {
    if !may_run(ioloop)? {
        // stop() before start(): return at once, running nothing.
        return Ok(());
    }
    let _running = RunScope::enter(ioloop);
    let mut lent = Lent::take(ioloop);
    let state = lent.get();
    while iteration(ioloop, state, &mut main, until)? {}
    Ok(())
}

impl RunState {
    pub(crate) fn new(event_capacity: usize) -> RunState {
        RunState {
            events: mio::Events::with_capacity(event_capacity),
            ready: Vec::new(),
            due: Vec::new(),
            poll_skips: 0,
        }
    }
}

/// The loop's run state, lent to one run and given back when it ends,
/// however it ends.
struct Lent<'a> {
    ioloop: &'a IOLoop,
    state: Option<RunState>,
}

impl<'a> Lent<'a> {
    fn take(ioloop: &'a IOLoop) -> Lent<'a> {
        let state = ioloop.inner.run_state.borrow_mut().take();
        // `None` only if a run is already under way, which `may_run`
        // refuses; a fresh state keeps even that case sound.
        let state = state.unwrap_or_else(|| RunState::new(ioloop.inner.event_capacity));
        Lent {
            ioloop,
            state: Some(state),
        }
    }

    fn get(&mut self) -> &mut RunState {
        self.state.as_mut().expect("lent until dropped")
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let Some(mut state) = self.state.take() {
            // Normally empty already; after an unwind out of the loop
            // (never a callback's panic, which is caught) what was
            // half-processed is dropped, as it was with the run.
            state.ready.clear();
            state.due.clear();
            state.poll_skips = 0;
            *self.ioloop.inner.run_state.borrow_mut() = Some(state);
        }
    }
}

/// Runs one iteration (see the module docs); returns false when the run
/// must end.
fn iteration(
    ioloop: &IOLoop,
    state: &mut RunState,
    main: &mut Option<Main<'_>>,
    until: Until,
) -> Result<bool, Error> {
    run_ready_work(ioloop, state, main);

    // The stop check, before polling. The watchers in use are read once
    // here for the whole poll phase.
    let inner = &*ioloop.inner;
    if inner.remote.stop_requested() {
        return Ok(false);
    }
    let in_use = inner.watchers.in_use();
    if watchers::leave_before_poll(ioloop, until, in_use) {
        return Ok(false);
    }

    poll_and_dispatch(ioloop, state, PollMode::Loop, in_use)?;
    Ok(true)
}

/// Phase 1: the callbacks queued and the timeouts due when it began.
#[inline(always)]
fn run_ready_work(ioloop: &IOLoop, state: &mut RunState, main: &mut Option<Main<'_>>) {
    let inner = &*ioloop.inner;
    let ncallbacks = take_remote_callbacks(inner);
    collect_due_timeouts(inner, state);
    run_queued_callbacks(ioloop, ncallbacks, main);
    run_due_timeouts(ioloop, state);
}

/// Moves what other threads posted to the back of the local queue (it was
/// posted before this phase began), and returns how many callbacks and
/// woken tasks the queue holds now: this phase runs those and no more.
#[inline(always)]
fn take_remote_callbacks(inner: &Inner) -> usize {
    if inner.remote.has_pending() {
        inner.take_remote();
    }
    inner.queue.borrow().len()
}

/// Collects the timeouts due now into `state.due`, before anything runs,
/// and caches the time read as the loop time.
#[inline(always)]
fn collect_due_timeouts(inner: &Inner, state: &mut RunState) {
    if inner.timers.borrow().pending() > 0 {
        let now = deadline::now_ns();
        inner.stats.observe_time(now);
        inner.timers.borrow_mut().pop_due(now, &mut state.due);
    }
}

/// Runs the first `ncallbacks` entries of the queue, first in, first out:
/// callbacks, woken tasks, and `run_sync`'s future when it is woken.
#[inline(always)]
fn run_queued_callbacks(ioloop: &IOLoop, ncallbacks: usize, main: &mut Option<Main<'_>>) {
    let inner = &*ioloop.inner;
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
}

/// Runs the timeouts [`collect_due_timeouts`] collected, in (deadline,
/// insertion) order, skipping those removed meanwhile.
#[inline(always)]
fn run_due_timeouts(ioloop: &IOLoop, state: &mut RunState) {
    let inner = &*ioloop.inner;
    for key in state.due.drain(..) {
        let timeout = inner.timers.borrow_mut().take_due(key);
        if let Some(t) = timeout {
            ioloop.run_guarded(CallbackKind::Timeout, t.site, t.f);
        }
    }
}

/// Phase 3: prepare hooks, poll, dispatch, check and idle hooks. `in_use`
/// are the watchers in use, read just before.
#[inline(always)]
fn poll_and_dispatch(
    ioloop: &IOLoop,
    state: &mut RunState,
    mode: PollMode,
    in_use: InUse,
) -> Result<(), Error> {
    let inner = &*ioloop.inner;
    let fed = watchers::before_poll(ioloop, in_use);

    // Plan the poll: no wait if the poll must not block (`run_once(NoWait)`,
    // fed events, callbacks queued here or by another thread), else until
    // the next deadline, else until woken; a poll that would block goes
    // through the watchers (idle hooks, batching intervals).
    let must_not_wait = mode == PollMode::NoWait || fed;
    let timeout = if must_not_wait || !inner.queue.borrow().is_empty() || inner.remote.has_pending()
    {
        Some(Duration::ZERO)
    } else {
        let next = inner.timers.borrow_mut().next_deadline();
        next.map(|deadline| Duration::from_nanos(deadline.saturating_sub(deadline::now_ns())))
    };
    let busy = timeout == Some(Duration::ZERO);
    let (timeout, idle) = if busy {
        (timeout, false)
    } else {
        watchers::blocking_timeout(ioloop, timeout, mode == PollMode::Once)
    };

    // Poll for I/O, or not: a busy loop (work queued for the next
    // iteration) polls only every `max_poll_skips + 1` iterations inside
    // `start` and `run`, and never when no descriptor is registered (remote
    // callbacks and stop requests are seen through atomics, not the
    // poller). Then the iteration count and the cached loop time move on.
    let mut polled = true;
    if busy {
        let no_fds = inner.handlers.borrow().len() == 0;
        if no_fds || (mode == PollMode::Loop && state.poll_skips < inner.max_poll_skips) {
            state.poll_skips = state.poll_skips.saturating_add(1);
            polled = false;
        }
    }
    if polled {
        state.poll_skips = 0;
        poll(ioloop, state, timeout)?;
    }
    inner.stats.end_poll_phase(polled);
    if !polled {
        if in_use.none() {
            return Ok(()); // the busy path: nothing to dispatch, no hook
        }
        state.ready.clear(); // what an earlier poll left
    }

    // Dispatch: fed events join the ready list, then the handler of each
    // ready registration runs, in the order the poller reported them.
    watchers::after_poll(ioloop, &mut state.ready);
    for i in 0..state.ready.len() {
        let (token, events) = state.ready[i];
        dispatch(ioloop, token, events);
    }
    watchers::after_dispatch(ioloop, idle, state.ready.is_empty());
    Ok(())
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
    if parks && !inner.remote.park() {
        timeout = Some(Duration::ZERO);
    }
    let result = match inner.poll.borrow_mut().as_mut() {
        Some(poll) => {
            // A wait for a deadline: the loop's timerfd wakes it, so the
            // kernel arms no timer for this one wait.
            if let Some(wait) = timeout
                && !wait.is_zero()
                && inner.wait_timer.cover(wait)
            {
                timeout = None;
            }
            poll.poll(&mut state.events, timeout)
        }
        None => Err(io::Error::from(Error::Closed)),
    };
    if parks {
        inner.remote.unpark();
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
            .filter(|event| event.token() != WAKER_TOKEN && event.token() != WAIT_TIMER_TOKEN)
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
        // reused since.
        let Some(reg) = table.by_token(token) else {
            return;
        };
        let mut delivered = events & (reg.interest | Events::ERROR);
        if reg.trigger == poller::Trigger::Edge && delivered.contains(Events::READ) {
            delivered |= events & Events::READ_CLOSED;
        }
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
                let rearm = reg
                    .needs_rearm(delivered, inner.poller.level_triggered())
                    .then_some(reg.interest);
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
        Some(poll) => {
            let poller = ioloop.inner.poller;
            poller.reregister(poll, fd, token, interest, poller::Trigger::Level)
        }
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

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::*;
    use crate::MakeCurrent;

    fn new_loop() -> IOLoop {
        IOLoop::builder()
            .make_current(MakeCurrent::Never)
            .build()
            .unwrap()
    }

    /// Starts `ioloop`, failing if it is still running after 5 s (a
    /// safety net for a broken loop, not a timing assertion).
    fn start_for_at_most_5s(ioloop: &IOLoop) {
        let timed_out = Rc::new(Cell::new(false));
        let (t, l) = (timed_out.clone(), ioloop.clone());
        let guard = ioloop.call_later(Duration::from_secs(5), move || {
            t.set(true);
            l.stop();
        });
        ioloop.start().unwrap();
        ioloop.remove_timeout(guard);
        assert!(!timed_out.get(), "still running after 5 s");
    }

    #[test]
    fn a_poll_error_ends_start_with_that_error() {
        let ioloop = new_loop();
        // A poll buffer with room for no event: epoll_wait refuses it with
        // EINVAL, a real failure of the poller.
        *ioloop.inner.run_state.borrow_mut() = Some(RunState::new(0));
        // Had the error been taken for a wakeup, the loop would spin until
        // this timeout stops it, and `start` would return `Ok`.
        let stopped = Rc::new(Cell::new(false));
        let (s, l) = (stopped.clone(), ioloop.clone());
        ioloop.call_later(Duration::from_millis(200), move || {
            s.set(true);
            l.stop();
        });
        let result = ioloop.start();
        assert!(
            matches!(&result, Err(Error::Io(err)) if err.raw_os_error() == Some(libc::EINVAL)),
            "{result:?}"
        );
        assert!(!stopped.get(), "the loop ran on after the poll failed");
        assert!(!ioloop.is_running());
    }

    #[test]
    fn every_run_gives_the_poll_buffers_back_to_the_loop() {
        let ioloop = new_loop();
        let buffers = |ioloop: &IOLoop| {
            let state = ioloop.inner.run_state.borrow();
            state.as_ref().map(|s| s.events.capacity())
        };
        let capacity = buffers(&ioloop);
        assert!(capacity.is_some());
        let l = ioloop.clone();
        ioloop.add_callback(move || l.stop());
        start_for_at_most_5s(&ioloop);
        assert_eq!(buffers(&ioloop), capacity, "after start");
        ioloop.run_once(crate::RunMode::NoWait).unwrap();
        assert_eq!(buffers(&ioloop), capacity, "after run_once");
    }

    #[test]
    fn start_sleeps_while_only_unreferenced_work_is_left() {
        // Unlike `run` and `run_once(Wait)`, `start` waits for a stop even
        // with nothing referenced: it must block in the poll, not spin.
        let ioloop = new_loop();
        let l = ioloop.clone();
        let stop = ioloop.call_later(Duration::from_millis(50), move || l.stop());
        ioloop.set_timeout_ref(stop, false);
        ioloop.start().unwrap();
        // One blocking poll, plus a few if the poll wakes a little before
        // the deadline; a spinning loop makes thousands in 50 ms.
        assert!(ioloop.iteration() <= 5, "{} iterations", ioloop.iteration());
    }

    #[test]
    fn while_callbacks_keep_coming_the_loop_polls_every_max_poll_skips_iterations() {
        let polled = iterations_that_polled(new_loop());
        let most = u64::from(IOLoop::MAX_POLL_SKIPS) + 1;
        for gap in polled.windows(2).map(|w| w[1] - w[0]) {
            assert!((2..=most).contains(&gap), "polled in iterations {polled:?}");
        }
    }

    #[test]
    fn max_poll_skips_zero_polls_on_every_busy_iteration_as_tornado_does() {
        let ioloop = IOLoop::builder()
            .make_current(crate::MakeCurrent::Never)
            .max_poll_skips(0)
            .build()
            .unwrap();
        let polled = iterations_that_polled(ioloop);
        for gap in polled.windows(2).map(|w| w[1] - w[0]) {
            assert_eq!(gap, 1, "polled in iterations {polled:?}");
        }
    }

    #[test]
    fn max_poll_skips_bounds_the_skipped_polls_per_loop() {
        let ioloop = IOLoop::builder()
            .make_current(crate::MakeCurrent::Never)
            .max_poll_skips(3)
            .build()
            .unwrap();
        let polled = iterations_that_polled(ioloop);
        for gap in polled.windows(2).map(|w| w[1] - w[0]) {
            assert!((2..=4).contains(&gap), "polled in iterations {polled:?}");
        }
    }

    /// The iterations in which `ioloop` polled while a chain of callbacks
    /// kept every iteration busy: a level handler on a descriptor that
    /// stays readable is called on every iteration that polls.
    fn iterations_that_polled(ioloop: IOLoop) -> Vec<u64> {
        let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        std::io::Write::write_all(&mut a, b"x").unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&b);
        let polled = Rc::new(std::cell::RefCell::new(Vec::new()));
        let (p, l) = (polled.clone(), ioloop.clone());
        ioloop
            .add_handler(fd, Events::READ, move |_, _| {
                p.borrow_mut().push(l.iteration())
            })
            .unwrap();
        fn chain(ioloop: IOLoop, left: u32) {
            if left == 0 {
                ioloop.stop();
            } else {
                let l = ioloop.clone();
                ioloop.add_callback(move || chain(l, left - 1));
            }
        }
        let l = ioloop.clone();
        ioloop.add_callback(move || chain(l, 10 * IOLoop::MAX_POLL_SKIPS));
        start_for_at_most_5s(&ioloop);
        ioloop.remove_handler(fd);
        let polled = polled.take();
        assert!(polled.len() >= 9, "{polled:?}");
        polled
    }

    #[test]
    fn a_poll_error_ends_run_once_with_that_error() {
        let ioloop = new_loop();
        *ioloop.inner.run_state.borrow_mut() = Some(RunState::new(0));
        // A registered descriptor, so the non-blocking poll is not skipped.
        let (_a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&b);
        ioloop.add_handler(fd, Events::READ, |_, _| {}).unwrap();
        let result = run_once(&ioloop, false);
        ioloop.remove_handler(fd);
        assert!(
            matches!(&result, Err(Error::Io(err)) if err.raw_os_error() == Some(libc::EINVAL)),
            "{result:?}"
        );
    }
}
