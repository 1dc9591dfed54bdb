//! # Guide: asyncio's event loop in Rust
//!
//! This module holds documentation only. It lists every method of asyncio's
//! event loop (as its 2014 documentation describes `BaseEventLoop` and the
//! event loop policies) and says what it maps to here, or why it does not
//! apply in Rust. How the features fit together is in the
//! [guide](super#how-the-other-loops-features-fit); networking (streams,
//! servers, datagrams, `ssl=`, subprocesses) is in `netutil`'s guide.
//!
//! ## The event loop (`BaseEventLoop`)
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
//! | `create_connection`, `create_datagram_endpoint`, `create_unix_connection` | `netutil`'s `TCPClient::connect`, `UdpSocket`, `IOStream` over a Unix socket | Streams rather than transport/protocol pairs; see `netutil`'s guide. With `ssl=`: `TCPClient::tls` (certificate and host name verified). |
//! | `create_server`, `create_unix_server`, `AbstractServer.close`, `AbstractServer.wait_closed` | `netutil`'s `TCPServer` (`listen`, `add_sockets` with `bind_unix_socket`, `stop`) | With `ssl=`: `TCPServer::set_tls`. For HTTP, `netutil::http::HTTPServer`. |
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
//! ## Event loop implementations, policies and platform notes
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

#[allow(unused_imports)] // brings the names the links above use into scope
use crate::IOLoop;
