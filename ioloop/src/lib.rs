//! A single-threaded, level-triggered callback event loop, modelled on
//! Tornado's `IOLoop`, on [mio].
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::{TcpListener, TcpStream};
//! use std::os::fd::AsRawFd;
//! use std::time::Duration;
//! use ioloop::{Events, IOLoop};
//!
//! // A loop, and a listening socket on an ephemeral port of 127.0.0.1.
//! let ioloop = IOLoop::new()?;
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! listener.set_nonblocking(true)?;
//! let addr = listener.local_addr()?;
//!
//! // An I/O handler: called with (fd, events) while the listener is
//! // readable (level-triggered, as in Tornado). It accepts one client and
//! // answers it with an uppercase copy of what it sent.
//! let l = ioloop.clone();
//! ioloop.add_handler(listener.as_raw_fd(), Events::READ, move |fd, _events| {
//!     let (mut conn, _peer) = listener.accept().expect("readable, so a client waits");
//!     let mut buf = [0; 5];
//!     conn.read_exact(&mut buf).unwrap();
//!     conn.write_all(&buf.to_ascii_uppercase()).unwrap();
//!     l.remove_handler(fd);
//! })?;
//!
//! // A client on another thread; it reports back with the only
//! // thread-safe call, Remote::add_callback.
//! let remote = ioloop.remote();
//! let client = std::thread::spawn(move || {
//!     let mut stream = TcpStream::connect(addr).unwrap();
//!     stream.write_all(b"hello").unwrap();
//!     let mut reply = [0; 5];
//!     stream.read_exact(&mut reply).unwrap();
//!     remote.add_callback(move || {
//!         assert_eq!(&reply, b"HELLO");
//!         IOLoop::current().stop();
//!     });
//! });
//!
//! // A timeout guards the example: it stops the loop if nothing else does.
//! let l = ioloop.clone();
//! let guard = ioloop.call_later(Duration::from_secs(10), move || l.stop());
//!
//! ioloop.start()?; // runs until stop()
//! ioloop.remove_timeout(guard);
//! client.join().unwrap();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The loop is also a single-threaded executor for `async` code. From
//! synchronous code (a `main`, a test), [`IOLoop::run_sync`] runs a future
//! to completion:
//!
//! ```
//! use std::time::Duration;
//! use ioloop::IOLoop;
//!
//! let ioloop = IOLoop::new()?;
//! let answer = ioloop.run_sync(
//!     || async {
//!         // Tasks need not be Send: they stay on the loop's thread.
//!         let l = IOLoop::current();
//!         let slow = l.spawn(async {
//!             ioloop::sleep(Duration::from_millis(10)).await;
//!             40
//!         });
//!         let quick = l.run_in_executor(|| 2); // blocking work, off the loop
//!         slow.await.unwrap() + quick.await.unwrap()
//!     },
//!     Some(Duration::from_secs(10)), // a TimedOut error after this
//! )?;
//! assert_eq!(answer, 42);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is here
//!
//! * [`IOLoop`]: callbacks, timeouts and I/O handlers on one thread, with
//!   Tornado's ordering and lifecycle rules. It is not `Send`.
//! * [`Remote`]: the `Send + Sync` handle other threads use to reach a
//!   loop (`add_callback`, `stop`), and to run a future there and get its
//!   output back ([`Remote::spawn`], [`RemoteJoinHandle`]).
//! * [`LoopThread`]: a loop on a background thread of its own.
//! * Futures: [`IOLoop::spawn`] and its [`JoinHandle`], [`IOLoop::add_future`],
//!   [`IOLoop::run_sync`], [`sleep`], [`sleep_until`], [`timeout`],
//!   [`yield_now`], readiness futures ([`IOLoop::readable`],
//!   [`IOLoop::writable`]) and [`IOLoop::run_in_executor`].
//! * [`IOLoop::add_signal_handler`] and [`SignalHandle`]: Unix signals
//!   delivered to the loop as ordinary callbacks.
//! * [`watchdog`]: the blocking watchdog
//!   ([`IOLoop::set_blocking_log_threshold`]), which reports a callback
//!   that blocks the loop while it runs, with the loop thread's stack;
//!   [`BlockingAction`], [`BlockingReport`].
//! * [`Events`], [`Deadline`], [`TimeoutHandle`], [`Error`]: the values the
//!   API takes and returns.
//! * What libev, asyncio and evergreen users look for:
//!   [`PeriodicCallback`]; cancellable [`IOLoop::call_soon`] and
//!   [`IOLoop::call_later_handle`] ([`Handle`], [`TimerHandle`]); prepare,
//!   check and idle [`Hook`]s; per-watcher reference counting with
//!   [`IOLoop::run`] and [`IOLoop::run_once`]; [`IOLoop::iteration`],
//!   [`IOLoop::pending`], [`IOLoop::now`]; libev's batching intervals;
//!   [`IOLoop::suspend`]/[`IOLoop::resume`]; [`IOLoop::feed_fd_event`];
//!   child exit watchers ([`IOLoop::add_child_handler`]); and
//!   [`IOLoop::reset_after_fork`].
//! * [`guide`]: Tornado's `IOLoop`, method by method, and what it maps to;
//!   [`guide::asyncio`], [`guide::evergreen`] and [`guide::libev`] do the
//!   same for those loops, and [`guide::rules`] states Tornado's behaviour
//!   rules that the docs cite.
//!
//! # Semantics in brief
//!
//! * **Level-triggered**: a handler is called on every iteration while its
//!   descriptor stays ready. `ERROR` (error or hang-up) is always
//!   delivered.
//! * **One iteration**: queued callbacks, then due timeouts, then a stop
//!   check, then poll, then handlers (with prepare hooks just before the
//!   poll, check and idle hooks after the handlers). Work added during an
//!   iteration runs on the next.
//! * **Panics** in callbacks, timeouts and handlers are caught, reported to
//!   a replaceable exception handler (by default `log::error!`, naming
//!   where the callback was registered) and the loop goes on.
//! * **Time** is monotonic; deadlines never fire early.
//! * **Blocking** the loop is what the watchdog is for: with a threshold
//!   set, a callback running longer is reported while it runs.
//!
//! # Portability
//!
//! Unix, through mio (epoll on Linux, kqueue on the BSDs and macOS). The
//! loop is developed and tested on Linux, where descriptors are registered
//! natively level-triggered; elsewhere they are re-armed after each
//! dispatch (see the guide). That portable path can be chosen on Linux
//! too, to test it there: [`Builder::poller`] with [`PollerKind::Portable`],
//! or `IOLOOP_POLLER=portable` in the environment. 64-bit targets only: a handler's
//! mio token packs a 32-bit slot and a 32-bit generation. The blocking
//! watchdog captures stacks on Linux x86_64 only; elsewhere its reports
//! have everything but the stack.

#![deny(unsafe_code)]

mod core;
mod error;
mod signals;
#[allow(unsafe_code)]
mod sys;
mod tasks;
mod watchers;

pub mod guide;
pub mod watchdog;

pub use crate::core::deadline::{Deadline, InvalidDeadline};
pub use crate::core::events::Events;
pub use crate::core::exception::{CallbackKind, CallbackPanic};
pub use crate::core::ioloop::{Builder, IOLoop, MakeCurrent, TimeoutHandle, WeakIOLoop};
pub use crate::core::poller::{POLLER_ENV, PollerKind};
pub use crate::core::remote::{Rejected, Remote};
pub use crate::error::{ContextError, Error, raw_os_error};
pub use crate::signals::SignalHandle;
pub use crate::tasks::executor::{Executor, ExecutorFuture, ThreadPool};
pub use crate::tasks::readiness::Ready;
pub use crate::tasks::remote_task::{RemoteJoinHandle, RemoteSpawnError, WaitTimedOut};
pub use crate::tasks::run_sync::RunSyncError;
pub use crate::tasks::task::{JoinError, JoinHandle};
pub use crate::tasks::thread::LoopThread;
pub use crate::tasks::time::{
    Elapsed, Sleep, Timeout, YieldNow, sleep, sleep_until, timeout, yield_now,
};
pub use crate::watchdog::{BlockingAction, BlockingReport, StackCapture, StackFrame};

pub use crate::watchers::handle::{Handle, TimerHandle};
pub use crate::watchers::hooks::{Hook, HookKind};
pub use crate::watchers::periodic::{InvalidPeriod, Period, PeriodicCallback};
pub use crate::watchers::run_modes::RunMode;
