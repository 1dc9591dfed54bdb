//! The loop's core: what every loop uses on every iteration.
//!
//! * [`ioloop`]: the loop's state ([`Inner`](ioloop::Inner)) and
//!   Tornado's API on [`IOLoop`](crate::IOLoop);
//! * [`run`]: one iteration, as a sequence of named phases, and `start`;
//! * [`handlers`]: the table of I/O handlers, by descriptor and by token;
//! * [`timers`]: the timeout heap;
//! * [`remote`]: the queue other threads post callbacks to, and the
//!   [`Remote`](crate::Remote) handle that posts them;
//! * [`poller`]: how descriptors are registered with mio;
//! * [`deadline`], [`events`]: the loop's clock and deadlines, and event
//!   masks;
//! * [`current`]: the loop made current on this thread, and the
//!   process-wide instance;
//! * [`exception`]: running user code with its panics caught and reported;
//! * [`introspect`]: the iteration count and the cached loop time.

pub(crate) mod current;
pub(crate) mod deadline;
pub(crate) mod events;
pub(crate) mod exception;
pub(crate) mod handlers;
pub(crate) mod introspect;
pub(crate) mod ioloop;
pub(crate) mod poller;
pub(crate) mod remote;
pub(crate) mod run;
pub(crate) mod timers;
pub(crate) mod wait_timer;
