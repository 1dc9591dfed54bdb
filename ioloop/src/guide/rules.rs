//! # Guide: Tornado's behaviour rules
//!
//! This module holds documentation only. Tornado's `IOLoop` (the 4.x
//! `PollIOLoop`) behaves in ways its test suite and its code pin down; this
//! page states each of those behaviours as a rule with a short name (`L` for
//! lifecycle, `C` callbacks, `T` timeouts, `O` order within an iteration,
//! `H` I/O handlers, `E` panics, `R` [`run_sync`](crate::IOLoop::run_sync),
//! `S` current loop and instance, `W` wakeups, time and blocking, `P`
//! [`PeriodicCallback`](crate::PeriodicCallback), `F` futures). The API docs
//! cite these names where an item follows a rule.
//!
//! Each row says what this crate guarantees, which item implements it, and
//! the test that checks it: the integration tests in the repository's
//! `tests/tests/ioloop/` directory are named after the rule they check
//! (`lifecycle.rs`, `l6_start_on_a_running_loop_is_an_error_not_a_deadlock`).
//! Where Rust makes a rule unnecessary, the row says why.
//!
//! ## Lifecycle: start, stop, close
//!
//! | rule | the loop guarantees | test |
//! |---|---|---|
//! | <a id="l1"></a>**L1** | [`start`](crate::IOLoop::start) runs iterations until [`stop`](crate::IOLoop::stop) is called, and returns only at the end of an iteration. | `lifecycle.rs`: `l1_…` |
//! | <a id="l2"></a>**L2** | A `stop()` while the loop is not running makes the next `start()` return at once, running nothing; the start after that runs normally. | `lifecycle.rs`: `l2_…` |
//! | <a id="l3"></a>**L3** | A `stop()` in a callback or timeout lets the rest of that iteration's callbacks and due timeouts run; the loop then returns before polling. | `lifecycle.rs`: `l3_…` |
//! | <a id="l4"></a>**L4** | A `stop()` in an I/O handler lets the other ready handlers of that poll run, and the next iteration's callbacks and due timeouts too. | `lifecycle.rs`: `l4_…` |
//! | <a id="l5"></a>**L5** | A stop request wakes a loop blocked in its poll. | `lifecycle.rs`: `l5_…` |
//! | <a id="l6"></a>**L6** | Starting a loop that is already running is an error ([`Error::AlreadyRunning`](crate::Error::AlreadyRunning)), never a deadlock; the running loop goes on. | `lifecycle.rs`: `l6_…` |
//! | <a id="l7"></a>**L7** | A stopped loop can be started again, any number of times. | `lifecycle.rs`: `l7_…` |
//! | <a id="l8"></a>**L8** | When `start` returns it clears the stop request and restores the thread's previous current loop. | `lifecycle.rs`: `l8_…` |
//! | <a id="l9"></a>**L9** | [`close`](crate::IOLoop::close) is refused ([`Error::Running`](crate::Error::Running)) until `start` has returned. | `lifecycle.rs`: `l9_…` |
//! | <a id="l10"></a>**L10** | `close(false)` frees only the loop's own descriptors; the caller's stay open. | `lifecycle.rs`: `l10_…`; `fd_accounting.rs` |
//! | <a id="l11"></a>**L11** | `close(true)` also closes the descriptors the loop owns ([`add_handler_owned`](crate::IOLoop::add_handler_owned)), and tolerates a handler removed while it closes. | `lifecycle.rs`: `l11_…`; `fd_accounting.rs` |
//! | <a id="l12"></a>**L12** | `close` drops the pending callbacks, timeouts and handlers. | `lifecycle.rs`: `l12_…` |
//! | <a id="l13"></a>**L13** | A loop used in a child made by `fork` fails with [`Error::Forked`](crate::Error::Forked) naming both processes, until the child calls [`reset_after_fork`](crate::IOLoop::reset_after_fork). | `fork.rs` |
//!
//! ## Callbacks
//!
//! | rule | the loop guarantees | test |
//! |---|---|---|
//! | <a id="c1"></a>**C1** | [`add_callback`](crate::IOLoop::add_callback) runs the callback on a later iteration; callbacks run first in, first out. | `callbacks.rs`: `c1_…` |
//! | <a id="c2"></a>**C2** | A callback (or a woken task) added during an iteration, by a callback, a timeout or a handler, runs on the next iteration, never in the current one. | `callbacks.rs`: `c2_…` |
//! | <a id="c3"></a>**C3** | While callbacks are queued the loop does not sleep: its poll does not block. | `callbacks.rs`: `c3_…` |
//! | <a id="c4"></a>**C4** | [`Remote::add_callback`](crate::Remote::add_callback) from another thread wakes a sleeping loop. | `callbacks.rs`: `c4_…` |
//! | <a id="c5"></a>**C5** | `add_callback` on the loop's thread makes no system call; a post from another thread writes at most one wakeup while the loop sleeps. | `remote_wakeups.rs` checks that every post wakes a sleeping loop |
//! | <a id="c6"></a>**C6** | Only `add_callback` (and a stop request) may come from another thread. Here the compiler enforces it: `IOLoop` is not `Send`, and other threads hold a [`Remote`](crate::Remote). | a `compile_fail` example on [`IOLoop`](crate::IOLoop) |
//! | <a id="c7"></a>**C7** | `add_callback` on a closed loop drops the callback silently, and racing it against `close` from another thread never fails. | `callbacks.rs`: `c7_…` |
//! | <a id="c8"></a>**C8** | A panic in a spawned task is reported to the exception handler, as a panicking callback is, and handed to whoever awaits its [`JoinHandle`](crate::JoinHandle). | `tasks.rs`: `c8_…` |
//! | <a id="c9"></a>**C9** | Does not apply: in Tornado a callback returning `{}` must not make the loop spin; callbacks here return `()`. | |
//! | <a id="c10"></a>**C10** | [`spawn_callback`](crate::IOLoop::spawn_callback) is `add_callback` (Tornado 6's alias); its panic is reported by the loop. | `callbacks.rs`: `c10_…` |
//! | <a id="c11"></a>**C11** | Tornado's `add_callback_from_signal` is not needed: [`add_signal_handler`](crate::IOLoop::add_signal_handler) runs signal handlers as ordinary callbacks (see [Signals](super#signals)). | `signals.rs` |
//! | <a id="c12"></a>**C12** | Does not apply: Rust has no `stack_context`; a closure captures what it needs. | |
//!
//! ## Timeouts
//!
//! | rule | the loop guarantees | test |
//! |---|---|---|
//! | <a id="t1"></a>**T1** | [`add_timeout`](crate::IOLoop::add_timeout) takes a relative deadline (`Duration`, `chrono::TimeDelta`) or an absolute one (`Instant`, `chrono::DateTime`, `f64` on the [`time`](crate::IOLoop::time) scale); any other type is a compile error rather than Tornado's `TypeError`. | `timeouts.rs`: `t1_…` |
//! | <a id="t2"></a>**T2** | [`call_later(delay)`](crate::IOLoop::call_later) is `call_at(time() + delay)`; all three return a handle that [`remove_timeout`](crate::IOLoop::remove_timeout) accepts. | `timeouts.rs`: `t2_…` |
//! | <a id="t3"></a>**T3** | Does not apply: Tornado passes extra arguments to the callback; a closure captures them. | |
//! | <a id="t4"></a>**T4** | Timeouts with equal deadlines run in the order they were added. | `timeouts.rs`: `t4_…` |
//! | <a id="t5"></a>**T5** | A removed pending timeout never runs. | `timeouts.rs`: `t5_…` |
//! | <a id="t6"></a>**T6** | Removing a timeout that already ran is a harmless no-op. | `timeouts.rs`: `t6_…` |
//! | <a id="t7"></a>**T7** | A timeout due in this iteration but removed by an earlier callback or timeout of the same iteration does not run. | `timeouts.rs`: `t7_…` |
//! | <a id="t8"></a>**T8** | Every timeout due at the time sampled at the start of the iteration runs in that iteration. | `timeouts.rs`: `t8_…` |
//! | <a id="t9"></a>**T9** | A timeout added during an iteration runs no earlier than the next one, even if its deadline has passed. | `timeouts.rs`: `t9_…` |
//! | <a id="t10"></a>**T10** | Within an iteration, the queued callbacks run before the due timeouts. | `timeouts.rs`: `t10_…` |
//! | <a id="t11"></a>**T11** | Thousands of add and remove pairs leave the loop working; here removal deletes the timer at once, so nothing piles up. | `timeouts.rs`: `t11_…` |
//! | <a id="t12"></a>**T12** | A one-microsecond delay is a valid, near-immediate timeout. | `timeouts.rs`: `t12_…` |
//!
//! ## Order within an iteration and the poll
//!
//! | rule | the loop guarantees | test |
//! |---|---|---|
//! | <a id="o1"></a>**O1** | One iteration runs the queued callbacks, then the due timeouts, then checks for a stop, then polls, then runs the handlers of the ready descriptors. | `ordering.rs`: `o1_…` |
//! | <a id="o2"></a>**O2** | The handlers of one poll all run before the next iteration's callbacks; what they add runs on that next iteration. | `ordering.rs`: `o2_…` |
//! | <a id="o3"></a>**O3** | The poll does not block while callbacks are queued; otherwise it waits until the next deadline, or an event. Here a ready descriptor may wait up to [`MAX_POLL_SKIPS`](crate::IOLoop::MAX_POLL_SKIPS) `+ 1` busy iterations (see [Departures](super#departures-from-tornado-and-why)). | `ordering.rs`: `o3_…` |
//! | <a id="o4"></a>**O4** | Does not apply: a removed timeout leaves the timer heap at once, so it never wakes the loop early. | |
//! | <a id="o5"></a>**O5** | A poll interrupted by a signal (`EINTR`) counts as a wakeup, not an error. | `ordering.rs`: `o5_…` |
//!
//! ## I/O handlers
//!
//! | rule | the loop guarantees | test |
//! |---|---|---|
//! | <a id="h1"></a>**H1** | Does not apply: Tornado takes an integer or a file object; here a descriptor is a `RawFd` (borrowed, [`add_handler`](crate::IOLoop::add_handler)) or an `OwnedFd` ([`add_handler_owned`](crate::IOLoop::add_handler_owned)). | |
//! | <a id="h2"></a>**H2** | Registering a descriptor twice is an error naming it (`AlreadyExists`); so is a descriptor epoll refuses (a regular file). | `handlers.rs`: `h2_…` |
//! | <a id="h3"></a>**H3** | Does not apply: there are no file objects, so a file object and its raw descriptor cannot both be registered. | |
//! | <a id="h4"></a>**H4** | [`remove_handler`](crate::IOLoop::remove_handler) on a descriptor without a handler is a no-op. | `handlers.rs`: `h4_…` |
//! | <a id="h5"></a>**H5** | [`Events::ERROR`](crate::Events::ERROR) (an error or a hang-up) is delivered to every handler, whether its mask asked for it or not. | `handlers.rs`: `h5_…` |
//! | <a id="h6"></a>**H6** | A handler gets only the events it asked for, plus `ERROR`: a `READ` handler on a writable socket gets exactly `READ`. | `handlers.rs`: `h6_…` |
//! | <a id="h7"></a>**H7** | Level-triggered: a handler that leaves its descriptor ready (data unread, `WRITE` interest on a writable socket) is called again on the next iteration. | `handlers.rs`: `h7_…` |
//! | <a id="h8"></a>**H8** | A handler removed by another handler earlier in the same batch is not called, even if its descriptor number was registered again meanwhile. | `handlers.rs`: `h8_…` |
//! | <a id="h9"></a>**H9** | Each ready descriptor's handler runs at most once per poll. | `handlers.rs`: `h9_…` |
//! | <a id="h10"></a>**H10** | A panicking handler is reported to the exception handler and stays registered. (Tornado also ignores an `EPIPE` exception; here a write to a closed socket is an `EPIPE` error value, not a signal nor a panic.) | `handlers.rs`: `h10_…` |
//! | <a id="h11"></a>**H11** | [`update_handler`](crate::IOLoop::update_handler) replaces the mask (`ERROR` is still delivered); on an unknown descriptor it is a `NotFound` error naming it. | `handlers.rs`: `h11_…` |
//! | <a id="h12"></a>**H12** | Does not apply: Tornado's kqueue and select backends; here mio gives every platform epoll's `ERROR` mapping. | |
//! | <a id="h13"></a>**H13** | Does not apply: Tornado 5's asyncio backend, which splits `READ` and `WRITE` into separate calls and never delivers `ERROR`. | |
//!
//! ## Panics and logging
//!
//! | rule | the loop guarantees | test |
//! |---|---|---|
//! | <a id="e1"></a>**E1** | A panic in a callback, timeout or handler is caught and reported (by default a `log::error!` naming where the callback was registered), and the following callbacks still run. | `exceptions.rs`: `e1_…` |
//! | <a id="e2"></a>**E2** | The report goes to a replaceable exception handler ([`set_exception_handler`](crate::IOLoop::set_exception_handler), Tornado's `handle_callback_exception`), which gets a [`CallbackPanic`](crate::CallbackPanic). | `exceptions.rs`: `e2_…` |
//! | <a id="e3"></a>**E3** | Does not apply: Tornado calls `logging.basicConfig()`; here logging goes through the `log` facade and a binary installs a logger. | |
//! | <a id="e4"></a>**E4** | Does not apply: Tornado 6 does not log a `CancelledError`; a dropped future here raises nothing. | |
//!
//! ## `run_sync`
//!
//! | rule | the loop guarantees | test |
//! |---|---|---|
//! | <a id="r1"></a>**R1** | [`run_sync`](crate::IOLoop::run_sync) starts the loop, runs the future to completion, stops the loop and returns the output; it can be called again on the same loop. | `run_sync.rs`: `r1_…` |
//! | <a id="r2"></a>**R2** | A future that is ready at once completes after about one iteration. (Tornado's error for a `main` that returns no future is a compile error here.) | `run_sync.rs`: `r2_…` |
//! | <a id="r3"></a>**R3** | A panic in `main` itself is raised again by `run_sync`. | `run_sync.rs`: `r3_…` |
//! | <a id="r4"></a>**R4** | A panic in the future is raised again by `run_sync`, with its payload. | `run_sync.rs`: `r4_…` |
//! | <a id="r5"></a>**R5** | Inside `main` and the future, [`IOLoop::current`](crate::IOLoop::current) is the loop running `run_sync`. | `run_sync.rs`: `r5_…` |
//! | <a id="r6"></a>**R6** | With a timeout, a future not done in time gives [`RunSyncError::TimedOut`](crate::RunSyncError::TimedOut) naming the duration, and the future is dropped (Tornado 5's cancellation); the timer is removed when the future finishes first. | `run_sync.rs`: `r6_…` |
//! | <a id="r7"></a>**R7** | A loop stopped before the future completes, with no timeout fired, gives [`RunSyncError::Stopped`](crate::RunSyncError::Stopped), not `TimedOut`. | `run_sync.rs`: `r7_…` |
//! | <a id="r8"></a>**R8** | `run_sync` on a loop that is already running is an error (as [L6](#l6)), not a deadlock. | `run_sync.rs`: `r8_…` |
//! | <a id="r9"></a>**R9** | Does not apply: Python has generator and native coroutines; Rust has one kind of future. | |
//!
//! ## The current loop and the instance
//!
//! | rule | the loop guarantees | test |
//! |---|---|---|
//! | <a id="s1"></a>**S1** | [`instance`](crate::IOLoop::instance) gives one process-wide loop, created on first use; [`initialized`](crate::IOLoop::initialized) says whether it exists. Other threads reach it through [`instance_remote`](crate::IOLoop::instance_remote). | `current.rs`: `s1_…` |
//! | <a id="s2"></a>**S2** | [`install`](crate::IOLoop::install) makes a loop the instance and fails ([`Error::InstanceExists`](crate::Error::InstanceExists)) if one exists; [`clear_instance`](crate::IOLoop::clear_instance) removes it. | `current.rs`: `s2_…` |
//! | <a id="s3"></a>**S3** | [`current`](crate::IOLoop::current) gives the thread's current loop, else the instance on its own thread, else a new loop; [`try_current`](crate::IOLoop::try_current) never creates one. | `current.rs`: `s3_…` |
//! | <a id="s4"></a>**S4** | The first loop built on a thread with no current loop becomes current; a second one does not. | `current.rs`: `s4_…` |
//! | <a id="s5"></a>**S5** | A loop built with [`MakeCurrent::Never`](crate::MakeCurrent::Never) is not current, except while it runs; the previous current loop is restored when it returns. | `current.rs`: `s5_…` |
//! | <a id="s6"></a>**S6** | A loop built with [`MakeCurrent::Always`](crate::MakeCurrent::Always) on a thread that has a current loop is an error, and the current loop stays. | `current.rs`: `s6_…` |
//! | <a id="s7"></a>**S7** | [`make_current`](crate::IOLoop::make_current) sets the thread's current loop; [`clear_current`](crate::IOLoop::clear_current) unsets it, and is a no-op if there is none. | `current.rs`: `s7_…` |
//! | <a id="s8"></a>**S8** | Does not apply: Tornado 5 made `instance()` an alias of `current()` for asyncio; this crate keeps Tornado 4's distinct instance. | |
//! | <a id="s9"></a>**S9** | Does not apply to this crate: `fork_processes` belongs to `netutil`, which forks before any loop runs. | |
//!
//! ## Wakeups, time and blocking
//!
//! | rule | the loop guarantees | test |
//! |---|---|---|
//! | <a id="w1"></a>**W1** | A signal arriving just before the poll still wakes the loop: signal-hook writes to a pipe the loop watches. | `signals.rs` |
//! | <a id="w2"></a>**W2** | Other threads wake the loop through one eventfd, written at most once per sleep. | `remote_wakeups.rs` |
//! | <a id="w3"></a>**W3** | All deadlines are on the [`time`](crate::IOLoop::time) scale, here the monotonic clock (Tornado's default is the wall clock). | `timeouts.rs` |
//! | <a id="w4"></a>**W4** | [`set_blocking_signal_threshold`](crate::IOLoop::set_blocking_signal_threshold) reports a callback that runs longer than the threshold; [`BlockingAction::Abort`](crate::BlockingAction::Abort) ends the process, as Tornado's `action=None`. | `watchdog.rs` |
//! | <a id="w5"></a>**W5** | [`set_blocking_log_threshold`](crate::IOLoop::set_blocking_log_threshold) logs such a callback with the loop thread's stack. | `watchdog.rs` |
//!
//! ## `PeriodicCallback` and futures
//!
//! | rule | the loop guarantees | test |
//! |---|---|---|
//! | <a id="p1"></a>**P1** | A period that is not positive is an error ([`InvalidPeriod`](crate::InvalidPeriod)); after [`start`](crate::PeriodicCallback::start) the first call comes one period later, then every period. | `periodic.rs`: `p1_…` |
//! | <a id="p2"></a>**P2** | A call that overruns skips the missed slots: the calls stay on the grid `start + k * period`, with no catch-up burst. | `periodic.rs`: `p2_…` |
//! | <a id="p3"></a>**P3** | A panicking callback is reported and the schedule goes on; [`stop`](crate::PeriodicCallback::stop) cancels the next call; [`is_running`](crate::PeriodicCallback::is_running) says whether it is scheduled. | `periodic.rs`: `p3_…` |
//! | <a id="p4"></a>**P4** | The loop is bound at `start`, not when the `PeriodicCallback` is made. | `periodic.rs`: `p4_…` |
//! | <a id="p5"></a>**P5** | [`with_jitter(j)`](crate::PeriodicCallback::with_jitter) spreads each period at random over `period * (1 ± j / 2)`. | `periodic.rs`: `p5_…` |
//! | <a id="p6"></a>**P6** | If the clock went backwards, the next deadline still advances by one period: no call is made twice. | unit test `p6_a_clock_going_backwards_still_advances_one_period` |
//! | <a id="p7"></a>**P7** | An async callback ([`new_async`](crate::PeriodicCallback::new_async)) is awaited before the next call is scheduled, so calls never overlap. | `periodic.rs`: `p7_…` |
//! | <a id="f1"></a>**F1** | [`add_future`](crate::IOLoop::add_future) runs its callback on the loop when the future completes, even if another thread completes it. | `tasks.rs`: `f1_…` |
//! | <a id="f2"></a>**F2** | [`run_in_executor`](crate::IOLoop::run_in_executor) runs blocking work on a default pool of five threads per CPU, shared by the process's loops; [`set_default_executor`](crate::IOLoop::set_default_executor) replaces it. | `async_io.rs`: `f2_…` |
