//! # Guide: Tornado's `IOLoop` in Rust, and the other loops' names
//!
//! This module holds documentation only. It maps Tornado's `IOLoop` (the
//! 4.x `PollIOLoop`, Tornado's last loop of its own, whose behaviour this
//! crate follows) to this crate, method by method, and says where Rust
//! changes the rule and why. Its pages:
//!
//! * this page: Tornado's `IOLoop`, how the features of other loops fit in,
//!   the departures from Tornado, descriptor ownership, level triggering,
//!   futures, signals and embedding;
//! * [`rules`]: Tornado's behaviour rules (`L6`, `T7`, ...), each stated in
//!   a sentence with the test that checks it; the API docs cite them;
//! * [`asyncio`]: asyncio's event loop, method by method;
//! * [`evergreen`]: evergreen's `EventLoop`, method by method;
//! * [`libev`]: libev's loop as Python's `mood.event` binds it, with its
//!   watchers, flags and constants.
//!
//! ## Method by method
//!
//! | Tornado | here | notes |
//! |---|---|---|
//! | `IOLoop()` | [`IOLoop::new`], [`IOLoop::builder`] | Fallible: the OS may refuse the epoll or eventfd descriptor. |
//! | `IOLoop(make_current=...)` | [`Builder::make_current`](crate::Builder::make_current) with [`MakeCurrent`](crate::MakeCurrent) | `IfNone` (default, rule [S4](crate::guide::rules#s4)), `Always` ([S6](crate::guide::rules#s6), errors if one exists), `Never` ([S5](crate::guide::rules#s5)). |
//! | `IOLoop.READ`, `WRITE`, `ERROR`, `NONE` | [`IOLoop::READ`], [`IOLoop::WRITE`], [`IOLoop::ERROR`], [`IOLoop::NONE`] (the same values as [`Events::READ`](crate::Events::READ), ...) | Same numeric values. `ERROR` is delivered with both bits set. |
//! | `add_handler(fd, handler, events)` | [`IOLoop::add_handler(fd, events, handler)`](crate::IOLoop::add_handler) | Arguments in the order `fd, events, handler`, the closure last as Rust APIs put it. The loop **borrows** the fd. |
//! | `add_handler(fileobj, ...)` (the loop may close it) | [`IOLoop::add_handler_owned`] | The loop **owns** the fd: `remove_handler` returns it, `close(true)` closes it. |
//! | `update_handler(fd, events)` | [`IOLoop::update_handler`] | Unknown fd: `NotFound` error naming it (Tornado: `KeyError`). |
//! | `remove_handler(fd)` | [`IOLoop::remove_handler`] | Unknown fd: no-op (rule [H4](crate::guide::rules#h4)). Returns the fd if the loop owned it. |
//! | `add_timeout(deadline, cb)` | [`IOLoop::add_timeout`] | Deadline from `Duration`/`chrono::TimeDelta` (Tornado's `timedelta`), or `Instant`/`chrono::DateTime<Utc>`/`f64` (absolute). See [`Deadline`](crate::Deadline). |
//! | `call_later(delay, cb)` | [`IOLoop::call_later`] | Takes a `Duration`. |
//! | `call_at(when, cb)` | [`IOLoop::call_at`] | `when` on the [`IOLoop::time`] scale. |
//! | `remove_timeout(handle)` | [`IOLoop::remove_timeout`] | Real removal, no tombstone; returns whether it was pending. |
//! | `time()` | [`IOLoop::time`] | Monotonic (Tornado's default is `time.time`, the wall clock, whose jumps moved Tornado's timers: tornadoweb/tornado#2035, #1290). |
//! | `add_callback(cb)` | [`IOLoop::add_callback`] (loop thread), [`Remote::add_callback`](crate::Remote::add_callback) (any thread) | The type system enforces Tornado's "only `add_callback` is thread-safe": `IOLoop` is not `Send`. The order across threads matches Tornado's one deque: a remote post (or a task woken from another thread) that happens before a local `add_callback` runs first. |
//! | `add_callback_from_signal(cb)` | [`IOLoop::add_signal_handler`] | Not needed: see [Signals](#signals). |
//! | (asyncio) `add_signal_handler(sig, cb)`, `remove_signal_handler(sig)` | [`IOLoop::add_signal_handler`], [`IOLoop::remove_signal_handler`], [`IOLoop::remove_signal_handler_handle`] | Several handlers per signal, each removable alone through its [`SignalHandle`](crate::SignalHandle); each runs on the loop thread as an ordinary callback. |
//! | `spawn_callback(cb)` | [`IOLoop::spawn_callback`] | An alias of `add_callback`, as in Tornado 6. |
//! | `start()` | [`IOLoop::start`] | Returns `Result`: nested start is [`Error::AlreadyRunning`](crate::Error::AlreadyRunning) (rule [L6](crate::guide::rules#l6)). |
//! | `stop()` | [`IOLoop::stop`], [`Remote::stop`](crate::Remote::stop) | Before `start`, makes the next `start` return at once ([L2](crate::guide::rules#l2)). |
//! | `start()` in a forked child (5.x, rule [L13](crate::guide::rules#l13)) | [`IOLoop::reset_after_fork`] | Without it, `start` fails with [`Error::Forked`](crate::Error::Forked) naming both processes. |
//! | `PeriodicCallback` | [`PeriodicCallback`](crate::PeriodicCallback) | Rules [P1](crate::guide::rules#p1) to [P7](crate::guide::rules#p7); for libev's repeating timers see [`libev`]. |
//! | `close(all_fds=False)` | [`IOLoop::close`] | Only after `start` returned ([`Error::Running`](crate::Error::Running) otherwise, rule [L9](crate::guide::rules#l9)). See [Ownership](#ownership-of-descriptors). |
//! | `handle_callback_exception(cb)` | [`IOLoop::set_exception_handler`] | A closure instead of a method override; it gets a [`CallbackPanic`](crate::CallbackPanic) with the panic, the kind of callback and where it was registered. |
//! | `current()` | [`IOLoop::current`] | Creates a loop if the thread has none (and it is not the instance's thread), as Tornado 4 does; nothing runs that loop unless this thread starts it. A loop created this way and let go with callbacks or timeouts it never ran (at the thread's exit, or by `clear_current` on its last handle) logs a `warn!` naming how many, so lost work is never silent. |
//! | `IOLoop.current().add_callback(f)` on a worker thread (Tornado 4's habit) | [`IOLoop::instance_remote`]`()?.add_callback(f)`, or the running loop's [`Remote`](crate::Remote) | In Tornado 4 on a thread with no loop this made a new loop that nothing ran; here the work goes to the loop that runs. `instance_remote` works from any thread, and is `None` (never a new loop) before the instance exists. |
//! | `current(instance=False)` | [`IOLoop::try_current`] | Never creates a loop: `None` on a worker thread. |
//! | `make_current()` / `clear_current()` | [`IOLoop::make_current`] / [`IOLoop::clear_current`] | |
//! | `instance()` | [`IOLoop::instance`] (its home thread), [`IOLoop::instance_remote`] or [`Remote::instance`](crate::Remote::instance) (other threads) | An `IOLoop` cannot cross threads, so other threads get its remote handle. The first `instance()` on a thread whose current loop exists adopts that loop as the instance rather than creating a second one: Tornado would make two loops there, the current one that the thread runs and an instance that nothing runs, and work posted to the instance would never run. |
//! | `initialized()` / `install()` / `clear_instance()` | [`IOLoop::initialized`] / [`IOLoop::install`] / [`IOLoop::clear_instance`] | |
//! | `configure()`, `configurable_base()`, `configurable_default()`, `initialize()` | [`IOLoop::builder`] | One implementation; options go through the builder. |
//! | `split_fd()`, `close_fd()` | none | Ownership is in the types (`RawFd` borrowed, `OwnedFd` owned). |
//! | `set_blocking_log_threshold(s)` | [`IOLoop::set_blocking_log_threshold`] | Per callback (Tornado's `SIGALRM` timer spanned a whole iteration), on a loop on any thread, several loops at once; reported while the callback still runs, with the loop thread's stack (Linux x86_64), walked in the signal handler from unwind tables copied beforehand, so a capture never takes a lock nor reads outside the loop thread's stack. See [`watchdog`](crate::watchdog). |
//! | `set_blocking_signal_threshold(s, action)` | [`IOLoop::set_blocking_signal_threshold`] with [`BlockingAction`](crate::BlockingAction) | The action gets a [`BlockingReport`](crate::BlockingReport) on a watchdog thread, with its stack symbolised, not `(signal, frame)` in a signal handler; the log and abort actions log at once and the symbolised stack in a second record. `action=None` (kill the process) is [`BlockingAction::Abort`](crate::BlockingAction::Abort). |
//! | `log_stack(signal, frame)` | [`BlockingAction::Log`](crate::BlockingAction::Log) | A `log::warn!` record with the report, stack included. |
//! | `run_sync(func, timeout)` | [`IOLoop::run_sync(main, timeout)`](crate::IOLoop::run_sync) | `main` returns a future ([R2](crate::guide::rules#r2)'s non-future case is a type error). Timeout: [`RunSyncError::TimedOut`](crate::RunSyncError::TimedOut) naming the duration, the future dropped (5.0+ cancels it, [R6](crate::guide::rules#r6)). Stopped first: [`RunSyncError::Stopped`](crate::RunSyncError::Stopped) ([R7](crate::guide::rules#r7)). Panics are re-raised ([R3](crate::guide::rules#r3), [R4](crate::guide::rules#r4)). The future need not be `'static`. |
//! | `add_future(future, cb)` | [`IOLoop::add_future`] | The callback gets the future's output (Tornado passes the future itself); it runs as a callback on the loop even when another thread completes the future ([F1](crate::guide::rules#f1)). |
//! | `spawn_callback(coroutine_fn)` / returning a coroutine from a callback ([C8](crate::guide::rules#c8)) | [`IOLoop::spawn`] | Spawn the future; drop or [`detach`](crate::JoinHandle::detach) the handle for fire-and-forget. A panic is logged by the loop ([C8](crate::guide::rules#c8)) and handed to the handle's awaiter. |
//! | `asyncio.ensure_future` / `IOLoop.current().spawn_callback` | [`IOLoop::spawn`] → [`JoinHandle`](crate::JoinHandle) | The handle is a future of `Result<T, JoinError>`, can [`abort`](crate::JoinHandle::abort) the task, and detaches on drop. |
//! | (asyncio) `run_coroutine_threadsafe(coro, loop)` | [`Remote::spawn(factory)`](crate::Remote::spawn) → [`RemoteJoinHandle`](crate::RemoteJoinHandle) | The factory is `Send` and is called on the loop's thread, so the future need not be `Send` and may hold the loop's `Rc` state; the output crosses back. The handle is a future for any executor, or blocks a plain thread with [`wait_timeout`](crate::RemoteJoinHandle::wait_timeout) (`concurrent.futures.Future.result(timeout)`) or [`join`](crate::RemoteJoinHandle::join). [`cancel`](crate::RemoteJoinHandle::cancel) drops the future on the loop, as `Future.cancel()`; dropping the handle does not. Panics and a closed loop are [`RemoteSpawnError`](crate::RemoteSpawnError)s. |
//! | `run_in_executor(None, f)` / `set_default_executor(e)` | [`IOLoop::run_in_executor`] / [`IOLoop::set_default_executor`] | Default pool: 5 threads per CPU, shared by the process's loops ([F2](crate::guide::rules#f2)). Any [`Executor`](crate::Executor) can be installed. |
//! | `gen.sleep(s)` / `asyncio.sleep` | [`sleep`](crate::sleep), [`IOLoop::sleep`], [`sleep_until`](crate::sleep_until) | On the loop's own timers; the timer is added on first poll and removed on drop. |
//! | `gen.with_timeout(t, f)` / `asyncio.wait_for` | [`timeout`](crate::timeout), [`IOLoop::timeout`] | [`Elapsed`](crate::Elapsed) names the duration; the inner future is dropped. |
//! | `gen.moment` / `asyncio.sleep(0)` | [`yield_now`](crate::yield_now) | |
//! | `add_reader`-style readiness in a coroutine | [`IOLoop::readable`], [`IOLoop::writable`], [`IOLoop::ready`] | One-shot handlers: the descriptor must have no other handler. |
//!
//! ## Every member of Tornado's `IOLoop`, A to Z
//!
//! Every method, attribute and constant of Tornado's `IOLoop` class
//! reference, for lookup; the table above explains the main ones.
//!
//! | Tornado | here | notes |
//! |---|---|---|
//! | `add_callback` | [`IOLoop::add_callback`], [`Remote::add_callback`](crate::Remote::add_callback) | The remote handle is the thread-safe door. |
//! | `add_callback_from_signal` | none | A Rust signal handler may only do async-signal-safe work; `add_callback` allocates and locks. The loop's signal handlers ([`IOLoop::add_signal_handler`](crate::IOLoop::add_signal_handler)) run ordinary callbacks. |
//! | `add_future` | [`IOLoop::add_future`] | The callback gets the output. |
//! | `add_handler` | [`IOLoop::add_handler`], [`IOLoop::add_handler_owned`] | Borrowed or owned descriptor. |
//! | `add_timeout` | [`IOLoop::add_timeout`], or [`IOLoop::add_timeout_handle`] for a cancellable handle | |
//! | `call_at` | [`IOLoop::call_at`] | |
//! | `call_later` | [`IOLoop::call_later`] | |
//! | `close` | [`IOLoop::close`] | |
//! | `close_fd` | none | Ownership is in the types: the loop closes only the `OwnedFd`s it was given. |
//! | `configurable_base`, `configurable_default`, `initialize` | [`IOLoop::builder`] | One implementation; options on the builder. |
//! | `handle_callback_exception` | [`IOLoop::set_exception_handler`] | |
//! | `install` | [`IOLoop::install`] | |
//! | `log_stack` | [`BlockingAction::Log`](crate::BlockingAction::Log) | The blocking watchdog logs the loop thread's stack; see [`watchdog`](crate::watchdog). |
//! | `make_current` | [`IOLoop::make_current`] | |
//! | `remove_handler` | [`IOLoop::remove_handler`] | |
//! | `remove_timeout` | [`IOLoop::remove_timeout`] | Also takes [`TimerHandle::timeout_handle`](crate::TimerHandle::timeout_handle). |
//! | `run_sync` | [`IOLoop::run_sync`] | |
//! | `set_blocking_log_threshold`, `set_blocking_signal_threshold` | [`IOLoop::set_blocking_log_threshold`](crate::IOLoop::set_blocking_log_threshold), [`IOLoop::set_blocking_signal_threshold`](crate::IOLoop::set_blocking_signal_threshold) | The blocking watchdog; see [`watchdog`](crate::watchdog). |
//! | `spawn_callback` | [`IOLoop::spawn_callback`], [`IOLoop::spawn`] | |
//! | `split_fd` | none | One kind of descriptor, `RawFd`; ownership said by the method. |
//! | `start` | [`IOLoop::start`] (also [`IOLoop::run_forever`]) | Refuses to run in a forked child until [`IOLoop::reset_after_fork`] (rule [L13](crate::guide::rules#l13)). |
//! | `stop` | [`IOLoop::stop`], [`Remote::stop`](crate::Remote::stop) | Also ends [`IOLoop::run`] and [`IOLoop::run_once`]. |
//! | `time` | [`IOLoop::time`] | Monotonic. [`IOLoop::now`] is the cached time. |
//! | `update_handler` | [`IOLoop::update_handler`] | |
//! | `clear_current`, `clear_instance`, `current`, `initialized`, `instance` | [`IOLoop::clear_current`], [`IOLoop::clear_instance`], [`IOLoop::current`], [`IOLoop::initialized`], [`IOLoop::instance`] | |
//! | `ERROR`, `NONE`, `READ`, `WRITE` | [`IOLoop::ERROR`], [`IOLoop::NONE`], [`IOLoop::READ`], [`IOLoop::WRITE`] ([`Events`](crate::Events)) | |
//! | `_run_callback` | internal | Every callback, timeout, handler, hook and task runs under `catch_unwind`; a panic is reported as a [`CallbackPanic`](crate::CallbackPanic). |
//! | `_setup_logging` | none | Logging goes through the `log` facade; binaries install a logger. |
//! | `_current`, `_instance_lock` | internal | A thread-local and a mutex, as in Tornado. |
//! | `_EPOLLIN`, `_EPOLLPRI`, `_EPOLLOUT`, `_EPOLLERR`, `_EPOLLHUP`, `_EPOLLRDHUP`, `_EPOLLONESHOT`, `_EPOLLET` | internal | mio's interests. On Linux descriptors are registered level-triggered (no `EPOLLET`); elsewhere the loop re-arms after each dispatch (see [Level-triggered on mio](#level-triggered-on-mio)). `ERROR` is `EPOLLERR` or `EPOLLHUP`; `EPOLLRDHUP` reaches edge handlers as [`Events::READ_CLOSED`](crate::Events::READ_CLOSED). |
//! | `PeriodicCallback(callback, callback_time, jitter)` (`tornado.ioloop`, beside the class) | [`PeriodicCallback::new`](crate::PeriodicCallback::new), [`with_jitter`](crate::PeriodicCallback::with_jitter), [`new_async`](crate::PeriodicCallback::new_async) | Rules [P1](crate::guide::rules#p1) to [P7](crate::guide::rules#p7); `start`, `stop`, `is_running` as in Tornado, plus [`start_on`](crate::PeriodicCallback::start_on) and [`set_ref`](crate::PeriodicCallback::set_ref). |
//!
//! ## How the other loops' features fit
//!
//! Each feature that asyncio, evergreen or libev users look for is built
//! once, in this loop's terms, rather than once per loop:
//!
//! * **One iteration** (Tornado's order, with libev's hooks): queued
//!   callbacks, due timeouts, the stop check, **prepare hooks**, the poll,
//!   I/O handlers (with **fed events**), **check hooks**, **idle hooks**
//!   (only if the loop would have slept and nothing came up). The poll
//!   phase counts one [`iteration`](crate::IOLoop::iteration); `run_once`
//!   cuts the same cycle at the poll.
//! * **Cancellation**: Tornado's `remove_timeout(handle)`, asyncio's
//!   `Handle.cancel()`, evergreen's `Handler.cancel()` and libev's
//!   `ev_timer_stop` are one mechanism: the timer heap removes the entry at
//!   once (`O(log n)`, no tombstone). [`IOLoop::call_later`] keeps
//!   Tornado's signature and returns the `Copy`
//!   [`TimeoutHandle`](crate::TimeoutHandle), which holds no loop reference,
//!   so code written for Tornado reads the same. The asyncio-style calls
//!   sit beside it under their own names ([`IOLoop::call_soon`],
//!   [`IOLoop::call_later_handle`], [`IOLoop::call_at_handle`],
//!   [`IOLoop::add_timeout_handle`]) and return a [`Handle`](crate::Handle)
//!   or [`TimerHandle`](crate::TimerHandle) with `cancel()`; a `TimerHandle`
//!   is a weak loop reference plus the `TimeoutHandle`, and converts back to
//!   it. Making `TimeoutHandle` itself cancellable would have cost it
//!   `Copy` (it would need the loop) or made it guess the loop from
//!   [`IOLoop::current`], wrong for a handle kept for another loop.
//! * **Reference counting** (libuv's per-watcher, idempotent flag rather
//!   than libev's loop counter): every handler, timeout, hook, periodic
//!   callback and child watcher can be marked as not keeping
//!   [`IOLoop::run`] going; queued callbacks and unfinished tasks always
//!   do. [`IOLoop::start`] and [`IOLoop::run_forever`] ignore references.
//! * **Time**: [`IOLoop::time`] is the monotonic clock;
//!   [`IOLoop::now`] is libev's cached loop time, refreshed when a poll
//!   returns and when due timeouts are collected, and by
//!   [`IOLoop::update_time`]. Deadlines never depend on the cached time.
//!
//! ## Departures from Tornado, and why
//!
//! Two behaviours differ from Tornado's on purpose; each can be told apart
//! by a program, so both are stated here.
//!
//! * **Polling while callbacks keep coming.** Tornado polls for I/O on
//!   every iteration, with a zero timeout while callbacks are queued. This
//!   loop skips that non-blocking poll on up to
//!   [`IOLoop::MAX_POLL_SKIPS`] (32) busy iterations in a row, and never
//!   polls without blocking when no descriptor is registered (remote
//!   callbacks and stop requests arrive through atomics, not the poller).
//!   So a ready socket waits behind a chain of callbacks for up to 33
//!   iterations instead of 1. The reason is the cost of an `epoll_wait`
//!   per iteration: two million chained callbacks on a loop that watches
//!   one socket take 0.057 s with the bound and 0.306 s polling on every
//!   iteration, 5.4 times as long (median of 8 alternated runs,
//!   `benches/scripts/paired.py callbacks_chain_with_fd_2M ioloop
//!   ioloop_poll_every_iteration 8 0`). I/O is never starved: the bound
//!   holds however long the chain. For Tornado's cadence, build the loop
//!   with [`Builder::max_poll_skips(0)`](crate::Builder::max_poll_skips).
//! * **`instance()` on a thread that already has a current loop** adopts
//!   that loop as the process-wide instance instead of creating a second
//!   one. In Tornado the thread would then hold two loops, the current one
//!   that it runs and an instance that nothing runs, and work posted to the
//!   instance from other threads would never run. Call
//!   [`IOLoop::install`] first to choose another loop as the instance.
//!
//! ## Rules that do not apply in Rust
//!
//! Some of Tornado's rules are about Python itself (`stack_context`,
//! generator coroutines, file objects, `TypeError`s for arguments the Rust
//! compiler rejects) or about backends this crate does not have: the
//! [`rules`] page marks each of them and says why.
//!
//! ## Ownership of descriptors
//!
//! Tornado's `close(all_fds=True)` closes every registered fd, and
//! `close(all_fds=False)` leaves them open. In Rust a double close is a real
//! bug (a reused fd number gets closed under someone else), so the loop
//! only ever closes what it owns:
//!
//! * [`IOLoop::add_handler`] **borrows** a `RawFd`. The loop never closes
//!   it; its owner calls `remove_handler` and then closes it.
//! * [`IOLoop::add_handler_owned`] takes an `OwnedFd` (or anything
//!   `Into<OwnedFd>`, such as a `TcpStream`). `remove_handler` hands it
//!   back; `close(true)` closes it; after `close(false)` it stays open until
//!   the loop is dropped.
//!
//! ## Level-triggered on mio
//!
//! Tornado's loop is level-triggered; mio registers descriptors
//! edge-triggered. On Linux the loop registers its descriptors
//! level-triggered on mio's own epoll instance (plain `epoll_ctl` without
//! `EPOLLET`) and collects their events with `mio::Poll`: the kernel keeps
//! Tornado's contract at no extra system call. Elsewhere, after a handler
//! returns, the loop re-arms its fd through mio (a `MOD`, which makes the
//! kernel re-queue an fd that is still ready); handlers that read or write
//! until `WouldBlock` call [`IOLoop::mark_drained`] to skip that system
//! call. Measured on 100 socket pairs doing 1-byte ping-pong, re-arming
//! cost two `epoll_ctl` per round trip and 30% of the throughput.
//!
//! Beside Tornado's handlers, [`IOLoop::add_edge_handler`] registers a
//! descriptor edge-triggered, for code that keeps its own readiness state
//! (`netutil`'s streams): no system call per event, and an idle writable
//! descriptor is not reported on every iteration. Edge handlers reading
//! also receive [`Events::READ_CLOSED`](crate::Events::READ_CLOSED) when
//! the peer has shut down its side, so they may take a short read as
//! proof of a drained descriptor except when an end of file is waiting.
//!
//! As with Tornado on epoll, a descriptor must be removed
//! ([`IOLoop::remove_handler`]) before it is closed: epoll watches the open
//! file, not the number, so a closed descriptor whose file is still open
//! through a duplicate (`dup`, `fork`, `try_clone`) keeps reporting events
//! to its old handler.
//!
//! ## Futures on the loop
//!
//! The loop is a single-threaded executor. A task is polled as a callback
//! is run: waking it puts it in the same first-in, first-out queue, so a
//! task woken during an iteration is polled on the next one (rule [C2](crate::guide::rules#c2)), in
//! order with the callbacks. Task wakers are `Send + Sync`: woken on the
//! loop's thread they queue with no lock and no system call; woken from
//! another thread (a channel completed by a worker, for example) they go
//! through the remote queue and wake a sleeping loop. A task woken while it
//! is being polled is polled again. Panics in tasks are caught, reported to
//! the exception handler, and handed to whoever awaits the
//! [`JoinHandle`](crate::JoinHandle).
//!
//! ## Signals
//!
//! Tornado's `add_callback_from_signal` exists because a Python signal
//! handler is ordinary code, run between bytecodes on the main thread,
//! that may interrupt the loop while `add_callback` holds its lock. In
//! Rust a signal handler may only do async-signal-safe work, and
//! [`Remote::add_callback`](crate::Remote::add_callback) locks and
//! allocates, so it must not be called from one.
//!
//! [`IOLoop::add_signal_handler`] makes the need go away: the part that
//! runs in signal context is signal-hook's (set a flag, write a byte to
//! the loop's self-pipe, both async-signal-safe), and the handler runs
//! later, on the loop thread, as an ordinary callback. No user code ever
//! runs in signal context, so there is nothing to call
//! `add_callback_from_signal` from.
//!
//! Code that installs its own raw handler (through
//! `signal_hook_registry::register`) and needs to reach a loop from it can
//! do the same by hand: from the handler, only store to an atomic and
//! write to a pipe or socket whose other end the loop watches with
//! [`IOLoop::add_handler`] (`signal_hook::low_level::pipe` does that
//! write); the loop's handler then reads the atomic and acts.
//!
//! ## Embedding
//!
//! Two patterns:
//!
//! * **The singleton on the main thread**: `IOLoop::instance()` on the main
//!   thread, `start()` it there, and reach it from workers with
//!   `Remote::instance()`.
//! * **A loop on a background thread**: [`LoopThread`](crate::LoopThread)
//!   spawns it, `add_callback` posts work, `stop` stops and joins it.

pub mod asyncio;
pub mod evergreen;
pub mod libev;
pub mod rules;

#[allow(unused_imports)] // brings the names the links above use into scope
use crate::IOLoop;
