//! # Guide: the seed loops, method by method
//!
//! This module holds documentation only. The crate was drawn from four
//! loops: Tornado's `IOLoop`, asyncio's event loop, evergreen's `EventLoop`
//! and libev's loop (as Python's `mood.event.Loop` presents it). Their
//! users look for their features here. This page lists every method,
//! attribute, constant and flag the seed documents name, and says what it
//! maps to, or why it does not apply in Rust.
//!
//! ## How the borrowed features fit the loop
//!
//! Each feature is designed once, in this loop's terms, rather than once
//! per seed:
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
//! ## Tornado `IOLoop`
//!
//! The general mapping, with Tornado's rules, is in the [parent
//! guide](super). Every member of the seed's class reference:
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
//! | `start` | [`IOLoop::start`] (also [`IOLoop::run_forever`]) | Refuses to run in a forked child until [`IOLoop::reset_after_fork`] (rule L13). |
//! | `stop` | [`IOLoop::stop`], [`Remote::stop`](crate::Remote::stop) | Also ends [`IOLoop::run`] and [`IOLoop::run_once`]. |
//! | `time` | [`IOLoop::time`] | Monotonic. [`IOLoop::now`] is the cached time. |
//! | `update_handler` | [`IOLoop::update_handler`] | |
//! | `clear_current`, `clear_instance`, `current`, `initialized`, `instance` | [`IOLoop::clear_current`], [`IOLoop::clear_instance`], [`IOLoop::current`], [`IOLoop::initialized`], [`IOLoop::instance`] | |
//! | `ERROR`, `NONE`, `READ`, `WRITE` | [`IOLoop::ERROR`], [`IOLoop::NONE`], [`IOLoop::READ`], [`IOLoop::WRITE`] ([`Events`](crate::Events)) | |
//! | `_run_callback` | internal | Every callback, timeout, handler, hook and task runs under `catch_unwind`; a panic is reported as a [`CallbackPanic`](crate::CallbackPanic). |
//! | `_setup_logging` | none | Logging goes through the `log` facade; binaries install a logger. |
//! | `_current`, `_instance_lock` | internal | A thread-local and a mutex, as in Tornado. |
//! | `_EPOLLIN`, `_EPOLLPRI`, `_EPOLLOUT`, `_EPOLLERR`, `_EPOLLHUP`, `_EPOLLRDHUP`, `_EPOLLONESHOT`, `_EPOLLET` | internal | mio's interests. Edge-triggered epoll with re-arming gives Tornado's level-triggered contract; `ERROR` is `EPOLLERR` or `EPOLLHUP`. |
//! | `PeriodicCallback(callback, callback_time, jitter)` (`tornado.ioloop`, beside the class) | [`PeriodicCallback::new`](crate::PeriodicCallback::new), [`with_jitter`](crate::PeriodicCallback::with_jitter), [`new_async`](crate::PeriodicCallback::new_async) | Rules P1 to P7; `start`, `stop`, `is_running` as in Tornado, plus [`start_on`](crate::PeriodicCallback::start_on) and [`set_ref`](crate::PeriodicCallback::set_ref). |
//!
//! ## asyncio event loop (`BaseEventLoop`, the February 2014 documentation)
//!
//! | asyncio | here | notes |
//! |---|---|---|
//! | `get_event_loop()` | [`IOLoop::current`] | Creates a loop when the thread has none, as the default policy does on the main thread. |
//! | `set_event_loop(loop)` | [`IOLoop::make_current`], [`IOLoop::clear_current`] | |
//! | `new_event_loop()` | [`IOLoop::new`], [`IOLoop::builder`] | |
//! | `AbstractEventLoopPolicy.get_event_loop`, `.set_event_loop`, `.new_event_loop` | the three above | One policy: the context is the thread, as asyncio's default. |
//! | `get_event_loop_policy()`, `set_event_loop_policy(policy)` | none | No pluggable policy: a Rust program passes its loop (or a [`Remote`](crate::Remote)) where needed; [`IOLoop::install`] sets the process-wide instance. |
//! | `run_forever()` | [`IOLoop::run_forever`] | |
//! | `run_until_complete(future)` | [`IOLoop::run_sync`] | A closure making the future, and an optional timeout. |
//! | `is_running()` | [`IOLoop::is_running`] | |
//! | `stop()` | [`IOLoop::stop`] | As in asyncio, the callbacks of the current iteration still run. |
//! | `close()` | [`IOLoop::close`] | Refused while running, idempotent, as in asyncio. |
//! | `call_soon(callback, *args)` | [`IOLoop::call_soon`] → [`Handle`](crate::Handle) | Arguments are captured by the closure. Same FIFO queue as `add_callback`. |
//! | `call_soon_threadsafe(callback, *args)` | [`Remote::add_callback`](crate::Remote::add_callback) | No handle: cancelling from another thread would race the loop. |
//! | `call_later(delay, callback, *args)` | [`IOLoop::call_later_handle`] → [`TimerHandle`](crate::TimerHandle) | (Tornado's `call_later` keeps its name and returns a `TimeoutHandle`.) |
//! | `call_at(when, callback, *args)` | [`IOLoop::call_at_handle`] → [`TimerHandle`](crate::TimerHandle) | `when` on the [`IOLoop::time`] scale. |
//! | `time()` | [`IOLoop::time`] | Monotonic, as asyncio's. |
//! | `Handle.cancel()` (returned by the calls above) | [`Handle::cancel`](crate::Handle::cancel), [`TimerHandle::cancel`](crate::TimerHandle::cancel) | `O(1)` and `O(log n)`, no tombstones; plus `cancelled()` and `TimerHandle::when()`. |
//! | `create_connection`, `create_datagram_endpoint`, `create_unix_connection` | `netutil`'s `TCPClient::connect`, `UdpSocket`, `IOStream` over a Unix socket | Streams rather than transport/protocol pairs; see `netutil`'s guide. |
//! | `create_server`, `create_unix_server`, `AbstractServer.close`, `AbstractServer.wait_closed` | `netutil`'s `TCPServer` (`listen`, `add_sockets` with `bind_unix_socket`, `stop`) | |
//! | `add_reader(fd, callback)`, `add_writer(fd, callback)` | [`IOLoop::add_handler`] with [`Events::READ`](crate::Events::READ) / [`Events::WRITE`](crate::Events::WRITE); [`IOLoop::readable`], [`IOLoop::writable`] in async code | Tornado's one handler per descriptor, with a mask; add both bits for a reader and a writer. |
//! | `remove_reader(fd)`, `remove_writer(fd)` | [`IOLoop::update_handler`] (drop one bit), [`IOLoop::remove_handler`] (both) | |
//! | `sock_recv`, `sock_sendall`, `sock_connect`, `sock_accept` | [`IOLoop::readable`] / [`IOLoop::writable`] and the socket's own non-blocking call; `netutil` streams | |
//! | `getaddrinfo`, `getnameinfo` | `netutil`'s resolver, or [`IOLoop::run_in_executor`] | Off the loop thread, as asyncio does. |
//! | `subprocess_exec`, `subprocess_shell` | `netutil::Subprocess` (pipes as streams, an exit future), built on [`IOLoop::add_child_handler`] | A `std::process::Command` (`sh -c` for the shell form) with `Stdio::piped()`; see `netutil`'s guide, `tornado.process`. |
//! | `connect_read_pipe`, `connect_write_pipe` | [`IOLoop::add_handler_owned`] on the pipe's `OwnedFd`; `netutil` streams | |
//! | `add_signal_handler(signum, callback)`, `remove_signal_handler(sig)` | [`IOLoop::add_signal_handler`](crate::IOLoop::add_signal_handler), [`IOLoop::remove_signal_handler`](crate::IOLoop::remove_signal_handler) | Several handlers per signal, each removable, run as ordinary callbacks. |
//! | `run_in_executor(executor, callback)` | [`IOLoop::run_in_executor`] | |
//! | `set_default_executor(executor)` | [`IOLoop::set_default_executor`] | |
//! | `get_debug()`, `set_debug(enabled)` | `log` levels (`RUST_LOG=ioloop=debug`); the blocking watchdog for slow callbacks | No mode switch: debug records are filtered by the logger. |
//!
//! ## asyncio event loops (the July 2014 documentation)
//!
//! | asyncio | here | notes |
//! |---|---|---|
//! | `get_event_loop()`, `set_event_loop(loop)`, `new_event_loop()` | as above | |
//! | `SelectorEventLoop` | [`IOLoop`] | One implementation: mio (epoll, kqueue). |
//! | `ProactorEventLoop` | none | Windows IOCP; this crate is Unix only (see the crate's Portability). |
//! | `AbstractEventLoopPolicy.get_event_loop`, `.set_event_loop`, `.new_event_loop`; `get_event_loop_policy()`, `set_event_loop_policy(policy)` | as above | |
//! | `EventLoopPolicy.set_child_watcher` (platform notes) | [`IOLoop::add_child_handler`] | Each child watcher is a `pidfd` on the loop: nothing process-wide to configure. |
//! | Platform notes: `add_reader`/`add_writer` on sockets only, no pipes or subprocesses (Windows) | n/a | Unix: any pollable descriptor; a regular file is refused with an error naming it. |
//! | Platform notes: character devices and PTYs with kqueue (Mac OS X) | n/a | mio's kqueue backend; not tested here. |
//! | Platform notes: clock resolution (Windows) | [`IOLoop::time`] | Nanoseconds on the monotonic clock; the poll rounds to milliseconds, so a timeout may fire up to about a millisecond late, never early. |
//!
//! ## evergreen `EventLoop`
//!
//! | evergreen | here | notes |
//! |---|---|---|
//! | `EventLoop()` | [`IOLoop::new`] | A thread may have several loops; one is current. |
//! | `EventLoop.current()`, `evergreen.current.loop` | [`IOLoop::current`], [`IOLoop::try_current`] | evergreen raises `RuntimeError` without a loop; [`IOLoop::try_current`] returns `None`. |
//! | `call_soon(callback, *args, **kw)` → `Handler` | [`IOLoop::call_soon`] → [`Handle`](crate::Handle) | |
//! | `call_from_thread(callback, *args, **kw)` | [`Remote::add_callback`](crate::Remote::add_callback) | The only thread-safe call, as in evergreen; no handle (see `call_soon_threadsafe`). |
//! | `call_later(delay, callback, ...)` → `Handler` | [`IOLoop::call_later_handle`] → [`TimerHandle`](crate::TimerHandle) | |
//! | `call_at(when, callback, ...)` → `Handler` | [`IOLoop::call_at_handle`] → [`TimerHandle`](crate::TimerHandle) | |
//! | `time()` | [`IOLoop::time`] | |
//! | `add_reader`, `remove_reader`, `add_writer`, `remove_writer` | as for asyncio above | |
//! | `add_signal_handler(signum, callback)`, `remove_signal_handler(signum)` | [`IOLoop::add_signal_handler`](crate::IOLoop::add_signal_handler), [`IOLoop::remove_signal_handler`](crate::IOLoop::remove_signal_handler) | Several handlers per signal; cancelling one removes only it, as in evergreen. evergreen's are unreferenced: there, set them so with their `set_ref`. |
//! | `switch()` | none | evergreen's tasks are greenlets (`fibers`); here they are futures ([`IOLoop::spawn`]) and a task yields at `.await` ([`yield_now`](crate::yield_now)). |
//! | `run()` | [`IOLoop::run`] | Returns when nothing referenced is left; unlike evergreen, the loop can run again. |
//! | `run_forever()` | [`IOLoop::run_forever`] | |
//! | `stop()` | [`IOLoop::stop`] | |
//! | `destroy()` | [`IOLoop::close`], then drop | `close` also stops the loop being current on the thread, so a new loop can be created there. |
//! | `Handler.cancel()` | [`Handle::cancel`](crate::Handle::cancel), [`TimerHandle::cancel`](crate::TimerHandle::cancel) | Loop thread only, as in evergreen (the handles are not `Send`). |
//!
//! ## libev, as mood.event's `Loop`
//!
//! | mood.event / libev | here | notes |
//! |---|---|---|
//! | `Loop(flags, callback, data, io_interval, timeout_interval)` | [`IOLoop::builder`], then [`IOLoop::set_io_interval`], [`IOLoop::set_timeout_interval`] | `flags`, `callback` and `data`: see below. Every loop here can watch children (libev's non-default loops cannot). |
//! | `start([flags])` → bool | [`IOLoop::run`] (flags 0); [`IOLoop::run_once`] with [`RunMode::Wait`](crate::RunMode::Wait) (`EVRUN_ONCE`) or [`RunMode::NoWait`](crate::RunMode::NoWait) (`EVRUN_NOWAIT`) | `run_once` returns libev's bool: whether referenced work is left. |
//! | `stop([how])` | [`IOLoop::stop`] | Loops do not nest (rule L6), so `EVBREAK_ONE` and `EVBREAK_ALL` are the same. |
//! | `invoke()` | none | Pending work runs inside the iteration; there is no separate pending queue to invoke by hand. |
//! | `reset()` | [`IOLoop::reset_after_fork`] | And a loop used in a forked child without it fails with [`Error::Forked`](crate::Error::Forked). |
//! | `now([update])` | [`IOLoop::now`], and [`IOLoop::update_time`] for `update=True` (`ev_now_update`) | |
//! | `suspend()`, `resume()` | [`IOLoop::suspend`], [`IOLoop::resume`] | Timeouts shifted by the suspended time; periodic callbacks rescheduled on a fresh grid. |
//! | `incref()`, `decref()` | [`IOLoop::set_handler_ref`], [`IOLoop::set_timeout_ref`], [`Hook::set_ref`](crate::Hook::set_ref), [`TimerHandle::set_ref`](crate::TimerHandle::set_ref), [`PeriodicCallback::set_ref`](crate::PeriodicCallback::set_ref), [`IOLoop::set_child_ref`] | A flag per watcher (libuv's model), idempotent: no counter to keep balanced. [`IOLoop::is_alive`] is what `run` tests. |
//! | `feed_fd_event(fd, revents)` | [`IOLoop::feed_fd_event`] | |
//! | `feed_signal_event(signum)`, the module's `feed_signal(signum)` | [`IOLoop::feed_signal_event`](crate::IOLoop::feed_signal_event) | Runs the loop's handlers for `signum` on a later iteration; no signal is sent. mood's `feed_signal` is async-signal-safe; in Rust a raw signal handler cannot call the loop (see [Signals](crate::guide#signals)). |
//! | `verify()` | the unit tests | The timer heap is checked against a naive oracle; no runtime self-check. |
//! | `callback` (an invoke-pending override) | none | Callbacks cannot be moved to another thread: the loop's values are not `Send`. Embed the loop with [`IOLoop::run_once`], or drive it on a [`LoopThread`](crate::LoopThread). |
//! | `data` | none | Closures capture what they need. |
//! | `io_interval`, `timeout_interval` | [`IOLoop::set_io_interval`] / [`IOLoop::io_interval`], [`IOLoop::set_timeout_interval`] / [`IOLoop::timeout_interval`] | libev's meaning; both 0 by default. |
//! | `default` | [`IOLoop::instance`], [`IOLoop::initialized`] | The process-wide instance plays the default loop. |
//! | `iteration` | [`IOLoop::iteration`] | |
//! | `depth` | [`IOLoop::depth`] | 0 or 1: nested runs are refused (rule L6). |
//! | `backend` | none | Always mio's platform poller (epoll on Linux). |
//! | `pending` | [`IOLoop::pending`] | Queued callbacks and woken tasks. |
//! | the module's `loop()` (the default loop) | [`IOLoop::instance`] | |
//!
//! ### libev's watchers (mood.event's watcher constructors on `Loop`)
//!
//! | mood.event / libev | here | notes |
//! |---|---|---|
//! | `__io__(fd, events, callback)` → `Io` | [`IOLoop::add_handler`] | One handler per descriptor (Tornado), not libev's any number. |
//! | `__timer__(after, repeat, callback)` → `Timer` | [`IOLoop::call_later`] (`repeat` 0), [`PeriodicCallback`](crate::PeriodicCallback) (repeating) | |
//! | `__periodic__(offset, interval, callback)` → `Periodic` | [`PeriodicCallback`](crate::PeriodicCallback) | On the monotonic clock, anchored at `start`, not on wall-clock boundaries; overruns skip ticks as libev's do. For wall-clock times, [`IOLoop::add_timeout`] takes a `chrono::DateTime`. |
//! | `__scheduler__(reschedule, callback)` → `Scheduler` | re-arm [`IOLoop::add_timeout`] from the callback | A callback computing its next time is a closure that adds its next timeout. |
//! | `__signal__(signum, callback)` → `Signal` | [`IOLoop::add_signal_handler`](crate::IOLoop::add_signal_handler) → [`SignalHandle`](crate::SignalHandle) | |
//! | `__child__(pid, trace, callback)` → `Child` | [`IOLoop::add_child_handler`] | Exit only: `trace` (stopped and continued children) is not supported. |
//! | `__idle__(callback)` → `Idle` | [`IOLoop::add_idle`] | libev's semantics: only when the loop would sleep. |
//! | `__prepare__(callback)` → `Prepare` | [`IOLoop::add_prepare`] | |
//! | `__check__(callback)` → `Check` | [`IOLoop::add_check`] | After the handlers of the poll (libuv's place; libev's runs first after the poll). |
//! | `__embed__(other, callback)` → `Embed` | [`IOLoop::run_once`] with [`RunMode::NoWait`](crate::RunMode::NoWait) from a handler or hook of the outer loop | No backend embedding (libev's own docs call epoll's broken). |
//! | `__fork__(callback)` → `Fork` | call the code after [`IOLoop::reset_after_fork`] | The child calls `reset_after_fork` itself, so it can run what follows. |
//! | `__async__(callback)` → `Async` | [`Remote::add_callback`](crate::Remote::add_callback) | Coalesced wakeups, and the callback itself travels with the wakeup. |
//! | watchers' `priority` | none | One FIFO queue (Tornado and asyncio); no priorities. |
//! | watchers' `data` | none | Closures capture what they need. |
//!
//! ### libev's flags and constants
//!
//! | mood.event / libev | here | notes |
//! |---|---|---|
//! | `EVFLAG_AUTO` | the default | |
//! | `EVFLAG_NOENV` | the default | The loop reads no environment variable (logging aside). |
//! | `EVFLAG_FORKCHECK` | always, per run call | Every `start`, `run`, `run_once` and `run_sync` compares the pid (one `getpid` per call, not per iteration) and fails with [`Error::Forked`](crate::Error::Forked). |
//! | `EVFLAG_SIGNALFD`, `EVFLAG_NOSIGMASK` | none | The loop never changes the signal mask; signals go through signal-hook's self-pipe. |
//! | `EVFLAG_NOTIMERFD` | none | No timerfd: the clock is monotonic, so there are no time jumps to detect. |
//! | `EVBACKEND_SELECT`, `EVBACKEND_POLL`, `EVBACKEND_EPOLL`, `EVBACKEND_IOURING`, `EVBACKEND_LINUXAIO`, `EVBACKEND_KQUEUE`, `EVBACKEND_DEVPOLL`, `EVBACKEND_PORT`, `EVBACKEND_ALL`, `EVBACKEND_MASK`, the module's `recommended_backends()` | none | mio chooses: epoll on Linux, kqueue on the BSDs and macOS. |
//! | `EVRUN_NOWAIT` | [`RunMode::NoWait`](crate::RunMode::NoWait) | |
//! | `EVRUN_ONCE` | [`RunMode::Wait`](crate::RunMode::Wait) | |
//! | `EVBREAK_ONE`, `EVBREAK_ALL` | [`IOLoop::stop`] | See `stop([how])`. |
//! | `EV_READ`, `EV_WRITE` (received events) | [`Events::READ`](crate::Events::READ), [`Events::WRITE`](crate::Events::WRITE) | Plus [`Events::ERROR`](crate::Events::ERROR), always delivered. |

#[allow(unused_imports)] // brings the names the links above use into scope
use crate::IOLoop;
