//! # Guide: libev's loop in Rust, as mood.event presents it
//!
//! This module holds documentation only. It lists every method, attribute,
//! watcher, flag and constant of libev's loop as Python's `mood.event`
//! binds it (`mood.event.Loop`), and says what it maps to here, or why it
//! does not apply in Rust. How the features fit together (hooks, reference
//! counting, the cached time) is in the
//! [guide](super#how-the-other-loops-features-fit).
//!
//! ## The loop (`mood.event.Loop`)
//!
//! | mood.event / libev | here | notes |
//! |---|---|---|
//! | `Loop(flags, callback, data, io_interval, timeout_interval)` | [`IOLoop::builder`], then [`IOLoop::set_io_interval`], [`IOLoop::set_timeout_interval`] | `flags`, `callback` and `data`: see below. Every loop here can watch children (libev's non-default loops cannot). |
//! | `start([flags])` → bool | [`IOLoop::run`] (flags 0); [`IOLoop::run_once`] with [`RunMode::Wait`](crate::RunMode::Wait) (`EVRUN_ONCE`) or [`RunMode::NoWait`](crate::RunMode::NoWait) (`EVRUN_NOWAIT`) | `run_once` returns libev's bool: whether referenced work is left. |
//! | `stop([how])` | [`IOLoop::stop`] | Loops do not nest (rule [L6](crate::guide::rules#l6)), so `EVBREAK_ONE` and `EVBREAK_ALL` are the same. |
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
//! | `depth` | [`IOLoop::depth`] | 0 or 1: nested runs are refused (rule [L6](crate::guide::rules#l6)). |
//! | `backend` | [`IOLoop::poller`] | [`PollerKind::Native`](crate::PollerKind::Native) (epoll, natively level-triggered, on Linux) or [`PollerKind::Portable`](crate::PollerKind::Portable) (mio's edge-triggered registry, re-armed after each dispatch: kqueue on the BSDs and macOS). |
//! | `pending` | [`IOLoop::pending`] | Queued callbacks and woken tasks. |
//! | the module's `loop()` (the default loop) | [`IOLoop::instance`] | |
//!
//! ## Watchers (mood.event's watcher constructors on `Loop`)
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
//! ## Flags and constants
//!
//! | mood.event / libev | here | notes |
//! |---|---|---|
//! | `EVFLAG_AUTO` | the default | |
//! | `EVFLAG_NOENV` | [`Builder::poller`](crate::Builder::poller) | The loop reads one environment variable, [`POLLER_ENV`](crate::POLLER_ENV) (`IOLOOP_POLLER`), and only when the builder chose no poller. |
//! | `EVFLAG_FORKCHECK` | always, per run call | Every `start`, `run`, `run_once` and `run_sync` compares the pid (one `getpid` per call, not per iteration) and fails with [`Error::Forked`](crate::Error::Forked). |
//! | `EVFLAG_SIGNALFD`, `EVFLAG_NOSIGMASK` | none | The loop never changes the signal mask; signals go through signal-hook's self-pipe. |
//! | `EVFLAG_NOTIMERFD` | none | No timerfd: the clock is monotonic, so there are no time jumps to detect. |
//! | `EVBACKEND_SELECT`, `EVBACKEND_POLL`, `EVBACKEND_EPOLL`, `EVBACKEND_IOURING`, `EVBACKEND_LINUXAIO`, `EVBACKEND_KQUEUE`, `EVBACKEND_DEVPOLL`, `EVBACKEND_PORT`, `EVBACKEND_ALL`, `EVBACKEND_MASK`, the module's `recommended_backends()` | [`Builder::poller`](crate::Builder::poller) | mio's platform poller: epoll on Linux, kqueue on the BSDs and macOS; on Linux the builder chooses between native level-triggered epoll and the portable path. |
//! | `EVRUN_NOWAIT` | [`RunMode::NoWait`](crate::RunMode::NoWait) | |
//! | `EVRUN_ONCE` | [`RunMode::Wait`](crate::RunMode::Wait) | |
//! | `EVBREAK_ONE`, `EVBREAK_ALL` | [`IOLoop::stop`] | See `stop([how])`. |
//! | `EV_READ`, `EV_WRITE` (received events) | [`Events::READ`](crate::Events::READ), [`Events::WRITE`](crate::Events::WRITE) | Plus [`Events::ERROR`](crate::Events::ERROR), always delivered. |

#[allow(unused_imports)] // brings the names the links above use into scope
use crate::IOLoop;
