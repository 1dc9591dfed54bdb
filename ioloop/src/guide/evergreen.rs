//! # Guide: evergreen's `EventLoop` in Rust
//!
//! This module holds documentation only. It lists every method of
//! evergreen's `EventLoop` and its `Handler`, and says what it maps to
//! here. How the features fit together is in the
//! [guide](super#how-the-other-loops-features-fit).
//!
//! | evergreen | here | notes |
//! |---|---|---|
//! | `EventLoop()` | [`IOLoop::new`] | A thread may have several loops; one is current. |
//! | `EventLoop.current()`, `evergreen.current.loop` | [`IOLoop::current`], [`IOLoop::try_current`] | evergreen raises `RuntimeError` without a loop; [`IOLoop::try_current`] returns `None`. |
//! | `call_soon(callback, *args, **kw)` → `Handler` | [`IOLoop::call_soon`] → [`Handle`](crate::Handle) | |
//! | `call_from_thread(callback, *args, **kw)` | [`Remote::add_callback`](crate::Remote::add_callback) | The only thread-safe call, as in evergreen; no handle (as asyncio's `call_soon_threadsafe`). |
//! | `call_later(delay, callback, ...)` → `Handler` | [`IOLoop::call_later_handle`] → [`TimerHandle`](crate::TimerHandle) | |
//! | `call_at(when, callback, ...)` → `Handler` | [`IOLoop::call_at_handle`] → [`TimerHandle`](crate::TimerHandle) | |
//! | `time()` | [`IOLoop::time`] | |
//! | `add_reader`, `remove_reader`, `add_writer`, `remove_writer` | as for asyncio: see [`asyncio`](super::asyncio#the-event-loop-baseeventloop) | |
//! | `add_signal_handler(signum, callback)`, `remove_signal_handler(signum)` | [`IOLoop::add_signal_handler`](crate::IOLoop::add_signal_handler), [`IOLoop::remove_signal_handler`](crate::IOLoop::remove_signal_handler) | Several handlers per signal; removing one ([`IOLoop::remove_signal_handler_handle`]) removes only it, as in evergreen. evergreen's signal handlers do not keep `run` going; to get that here, pass the handle to [`IOLoop::set_signal_handler_ref`] with `false`. |
//! | `switch()` | none | evergreen's tasks are greenlets (`fibers`); here they are futures ([`IOLoop::spawn`]) and a task yields at `.await` ([`yield_now`](crate::yield_now)). |
//! | `run()` | [`IOLoop::run`] | Returns when nothing referenced is left; unlike evergreen, the loop can run again. |
//! | `run_forever()` | [`IOLoop::run_forever`] | |
//! | `stop()` | [`IOLoop::stop`] | |
//! | `destroy()` | [`IOLoop::close`], then drop | `close` also stops the loop being current on the thread, so a new loop can be created there. |
//! | `Handler.cancel()` | [`Handle::cancel`](crate::Handle::cancel), [`TimerHandle::cancel`](crate::TimerHandle::cancel) | Loop thread only, as in evergreen (the handles are not `Send`). |

#[allow(unused_imports)] // brings the names the links above use into scope
use crate::IOLoop;
