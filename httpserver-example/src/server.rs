//! The server: one task per connection on netutil's [`TCPServer`], the
//! HTTP/1.1 protocol of [`http1`](crate::http1) over an [`IOStream`].
//!
//! A connection's task loops: answer every complete request already in
//! the read buffer (parsed in place, so a pipelined burst becomes one
//! write), flush, then wait for more input under a deadline:
//!
//! * the **header timeout** runs from the first byte of a request head (or
//!   from the connection's start), so a client trickling a head one byte
//!   at a time (slowloris) gets 408 and is closed;
//! * the **idle timeout** bounds a keep-alive connection's silence between
//!   requests, and any body read or response write that makes no progress.
//!
//! Responses go out in request order; `/delay` waits on a loop timeout, so
//! it never blocks other connections. Every buffer is bounded (the read
//! buffer by the header limit plus one read, bodies by the body limit,
//! and a response is written before more input is read).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use futures::FutureExt;
use ioloop::{IOLoop, Sleep, TimeoutHandle};
use netutil::{IOStream, PeerAddr, StreamOptions, TCPServer};
use slab::Slab;

use crate::config::Config;
use crate::http1::{
    BodyDecoder, Framing, HttpError, Limits, Parsed, RequestHead, Version, parse_head,
};
use crate::response::DateCache;
use crate::routes::{self, Reply, Response};

/// The bytes one read asks for; the read buffer holds a header block plus
/// one read.
const READ_CHUNK: usize = 64 * 1024;

/// An HTTP/1.1 server on the current loop. Cheap to clone (shared state).
///
/// # Examples
///
/// ```no_run
/// use httpserver_example::{Config, Server};
///
/// let ioloop = ioloop::IOLoop::new()?;
/// let server = Server::new(Config::default());
/// let addrs = server.listen()?;
/// println!("listening on http://{}", addrs[0]);
/// ioloop.start()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Server {
    shared: Rc<Shared>,
}

struct Shared {
    config: Config,
    limits: Limits,
    ioloop: IOLoop,
    tcp: TCPServer,
    date: RefCell<DateCache>,
    date_timer: Cell<Option<TimeoutHandle>>,
    /// Every open connection: its stream and whether a request is being
    /// answered (a busy one finishes before a shutdown closes it).
    connections: RefCell<Slab<Connection>>,
    shutting_down: Cell<bool>,
    /// Woken when the last connection ends during a shutdown.
    drained: RefCell<Option<Waker>>,
}

struct Connection {
    stream: IOStream,
    busy: Rc<Cell<bool>>,
}

impl Server {
    /// A server with `config`, on the current loop. Nothing listens until
    /// [`listen`](Server::listen) or [`add_sockets`](Server::add_sockets).
    pub fn new(config: Config) -> Server {
        let ioloop = IOLoop::current();
        let options = StreamOptions::new()
            .max_buffer_size(config.max_header_bytes + READ_CHUNK)
            .read_chunk_size(READ_CHUNK)
            .max_write_buffer_size(config.max_body_bytes + 1024 * 1024)
            .half_close(true)
            .ioloop(&ioloop);
        let shared = Rc::new_cyclic(|weak: &Weak<Shared>| {
            let weak = weak.clone();
            let tcp = TCPServer::with_options(options, move |stream, peer| {
                let shared = weak.upgrade();
                async move {
                    if let Some(shared) = shared {
                        serve(shared, stream, peer).await;
                    }
                }
            });
            Shared {
                limits: config.limits(),
                config,
                ioloop: ioloop.clone(),
                tcp,
                date: RefCell::new(DateCache::new(chrono::Utc::now())),
                date_timer: Cell::new(None),
                connections: RefCell::new(Slab::new()),
                shutting_down: Cell::new(false),
                drained: RefCell::new(None),
            }
        });
        refresh_date(Rc::downgrade(&shared));
        Server { shared }
    }

    /// Binds the configured address and port and starts accepting; returns
    /// the bound addresses (their port is the chosen one when the
    /// configured port is 0).
    ///
    /// # Errors
    ///
    /// An `io::Error` naming the address if it cannot be bound.
    pub fn listen(&self) -> io::Result<Vec<SocketAddr>> {
        let config = &self.shared.config;
        self.shared
            .tcp
            .listen(config.port, Some(config.address.as_str()))
    }

    /// Starts accepting on sockets bound beforehand (for example before
    /// forking worker processes).
    ///
    /// # Errors
    ///
    /// An `io::Error` if a socket cannot be registered with the loop.
    pub fn add_sockets(&self, listeners: Vec<std::net::TcpListener>) -> io::Result<()> {
        self.shared.tcp.add_sockets(listeners)
    }

    /// The number of open connections.
    pub fn connections(&self) -> usize {
        self.shared.connections.borrow().len()
    }

    /// Stops accepting, closes idle connections, lets requests in flight
    /// finish (their responses say `Connection: close`), and completes when
    /// every connection has ended or the grace period
    /// ([`Config::shutdown_grace`]) has passed. Returns the number of
    /// connections still open at the end (0 for a clean shutdown).
    pub fn shutdown(&self) -> impl Future<Output = usize> + 'static {
        let shared = Rc::clone(&self.shared);
        async move {
            if !shared.shutting_down.replace(true) {
                shared.tcp.stop();
                let idle: Vec<IOStream> = shared
                    .connections
                    .borrow()
                    .iter()
                    .filter(|(_, c)| !c.busy.get())
                    .map(|(_, c)| c.stream.clone())
                    .collect();
                log::info!(
                    "shutting down: {} connection(s) open, {} idle closed",
                    shared.connections.borrow().len(),
                    idle.len()
                );
                for stream in idle {
                    stream.close();
                }
            }
            let waiting = futures_drained(&shared);
            let grace = shared.config.shutdown_grace;
            let _ = shared.ioloop.timeout(grace, waiting).await;
            if let Some(timer) = shared.date_timer.take() {
                shared.ioloop.remove_timeout(timer);
            }
            shared.connections.borrow().len()
        }
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.shared.config)
            .field("connections", &self.connections())
            .field("shutting_down", &self.shared.shutting_down.get())
            .finish()
    }
}

/// Completes once no connection is open.
fn futures_drained(shared: &Rc<Shared>) -> impl Future<Output = ()> + 'static {
    let shared = Rc::clone(shared);
    std::future::poll_fn(move |cx| {
        if shared.connections.borrow().is_empty() {
            Poll::Ready(())
        } else {
            *shared.drained.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        }
    })
}

/// Reformats the `Date` header once a second.
fn refresh_date(shared: Weak<Shared>) {
    let Some(strong) = shared.upgrade() else {
        return;
    };
    strong.date.borrow_mut().update(chrono::Utc::now());
    let next = strong
        .ioloop
        .call_later(Duration::from_secs(1), move || refresh_date(shared));
    strong.date_timer.set(Some(next));
}

/// Removes a connection from the registry when its task ends, however it
/// ends.
struct Registered {
    shared: Rc<Shared>,
    key: usize,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let removed = self.shared.connections.borrow_mut().try_remove(self.key);
        drop(removed);
        if self.shared.connections.borrow().is_empty() {
            let waker = self.shared.drained.borrow_mut().take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}

/// What the next bytes of the read buffer call for.
enum Step {
    /// No complete request head: read more.
    NeedMore,
    /// A request answered into the output buffer.
    Answered { consumed: usize, keep_alive: bool },
    /// A request with a body: read it, then answer.
    WithBody {
        head: RequestHead<'static>,
        consumed: usize,
    },
    /// A request answered after a delay.
    Delayed {
        head: RequestHead<'static>,
        consumed: usize,
        delay: Duration,
        response: Response,
    },
    /// A request refused with a status; the connection closes.
    Refused(HttpError),
}

/// One connection's task.
async fn serve(shared: Rc<Shared>, stream: IOStream, peer: PeerAddr) {
    if shared.shutting_down.get() {
        stream.close();
        return;
    }
    // Responses are written whole; Nagle's algorithm would only hold the
    // last segment of a pipelined batch back for the client's delayed ACK.
    if let PeerAddr::Inet(_) = peer
        && let Err(err) = stream.set_nodelay(true)
    {
        log::debug!("{peer}: TCP_NODELAY: {err}");
    }
    let busy = Rc::new(Cell::new(false));
    let key = shared.connections.borrow_mut().insert(Connection {
        stream: stream.clone(),
        busy: Rc::clone(&busy),
    });
    let _registered = Registered {
        shared: Rc::clone(&shared),
        key,
    };
    let mut conn = Conn {
        shared: &shared,
        stream: &stream,
        peer: &peer,
        busy: &busy,
        out: Vec::with_capacity(1024),
        timer: None,
    };
    if let Err(err) = conn.run().await {
        log::debug!("{peer}: {err}");
    }
    stream.close();
}

struct Conn<'a> {
    shared: &'a Shared,
    stream: &'a IOStream,
    peer: &'a PeerAddr,
    busy: &'a Cell<bool>,
    /// Responses not yet written.
    out: Vec<u8>,
    /// The connection's one deadline timer and when it fires. A wait whose
    /// deadline is later keeps it and re-arms when it fires early (libev's
    /// `ev_timer_again` idiom), so a busy keep-alive connection costs no
    /// timer work per request.
    timer: Option<(Instant, Pin<Box<Sleep>>)>,
}

/// Why a connection ends early (logged at debug; clients vanish often).
type Closed = io::Error;

/// A wait passed its deadline.
struct TimedOut;

impl Conn<'_> {
    async fn run(&mut self) -> Result<(), Closed> {
        let config = &self.shared.config;
        // The head of the first request must arrive within the header
        // timeout of the connection's start.
        let mut head_started = Some(Instant::now());
        loop {
            // Answer every complete request already buffered.
            loop {
                let step = {
                    let (shared, out, peer) = (self.shared, &mut self.out, self.peer);
                    self.stream
                        .with_buffer(|buf| next_step(buf, shared, out, peer))
                };
                match step {
                    Step::NeedMore => break,
                    Step::Answered {
                        consumed,
                        keep_alive,
                    } => {
                        self.stream.consume(consumed);
                        if !keep_alive {
                            return self.flush().await;
                        }
                    }
                    Step::WithBody { head, consumed } => {
                        self.busy.set(true);
                        self.stream.consume(consumed);
                        if !self.answer_with_body(head).await? {
                            return self.flush().await;
                        }
                    }
                    Step::Delayed {
                        head,
                        consumed,
                        delay,
                        response,
                    } => {
                        self.busy.set(true);
                        self.stream.consume(consumed);
                        // Earlier pipelined responses go out first.
                        self.flush().await?;
                        self.shared.ioloop.sleep(delay).await;
                        if !self.answer(&head, &response) {
                            return self.flush().await;
                        }
                    }
                    Step::Refused(error) => return self.refuse(error).await,
                }
                // The next head's clock starts when the loop below waits
                // for the rest of it: no clock read per pipelined request.
                head_started = None;
            }
            self.busy.set(!self.out.is_empty());
            self.flush().await?;
            self.busy.set(false);
            if self.shared.shutting_down.get() {
                return Ok(());
            }

            // Wait for more input, under the header deadline (a head has
            // begun) or the idle one.
            if self.stream.buffered() > 0 && head_started.is_none() {
                head_started = Some(Instant::now());
            }
            let deadline = match head_started {
                Some(t0) => t0 + config.header_timeout,
                None => Instant::now() + config.idle_timeout,
            };
            let stream = self.stream;
            match self.within(deadline, stream.read_more()).await {
                Ok(Ok(_)) => {}
                Ok(Err(err)) => return Err(err),
                Err(TimedOut) if self.stream.buffered() > 0 => {
                    return self
                        .refuse(HttpError {
                            status: 408,
                            reason: "request head not received in time",
                        })
                        .await;
                }
                Err(TimedOut) => return Ok(()), // idle: close quietly
            }
        }
    }

    /// Runs `future` until `deadline`, on the connection's timer.
    async fn within<F: Future>(
        &mut self,
        deadline: Instant,
        future: F,
    ) -> Result<F::Output, TimedOut> {
        let mut future = pin!(future);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(output) = future.as_mut().poll(cx) {
                return Poll::Ready(Ok(output));
            }
            loop {
                if !matches!(&self.timer, Some((at, _)) if *at <= deadline) {
                    let sleep = self.shared.ioloop.sleep_until(deadline);
                    self.timer = Some((deadline, Box::pin(sleep)));
                }
                let (at, sleep) = self.timer.as_mut().expect("armed above");
                match sleep.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) if *at >= deadline => {
                        self.timer = None;
                        return Poll::Ready(Err(TimedOut));
                    }
                    // It fired for an earlier deadline: re-arm for this one.
                    Poll::Ready(()) => self.timer = None,
                }
            }
        })
        .await
    }

    /// Reads a request's body, then answers it. Returns whether the
    /// connection stays open.
    async fn answer_with_body(&mut self, head: RequestHead<'static>) -> Result<bool, Closed> {
        let idle = self.shared.config.idle_timeout;
        let mut decoder = BodyDecoder::new(head.framing, &self.shared.limits);
        let mut body = Vec::new();
        let mut continued = !head.expect_continue;
        loop {
            let decoded = self
                .stream
                .with_buffer(|buf| decoder.decode(buf, &mut body));
            let decoded = match decoded {
                Ok(d) => d,
                Err(error) => {
                    self.refuse(error).await?;
                    return Ok(false);
                }
            };
            self.stream.consume(decoded.consumed);
            if decoded.done {
                break;
            }
            if !continued {
                // The client waits for this before sending the body.
                self.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                self.flush().await?;
                continued = true;
            }
            let stream = self.stream;
            match self.within(Instant::now() + idle, stream.read_more()).await {
                Ok(Ok(_)) => {}
                Ok(Err(err)) => return Err(err),
                Err(TimedOut) => return Err(no_progress(idle)),
            }
        }
        let response = match routes::route(&head, body) {
            Reply::Now(response) => response,
            // No route delays a request with a body.
            Reply::After(_, response) => response,
        };
        Ok(self.answer(&head, &response))
    }

    /// Writes a response for `head`; returns whether the connection stays
    /// open.
    fn answer(&mut self, head: &RequestHead<'_>, response: &Response) -> bool {
        render(self.shared, &mut self.out, head, response, self.peer)
    }

    /// Answers with an error status and ends the connection.
    async fn refuse(&mut self, error: HttpError) -> Result<(), Closed> {
        log::warn!("{}: {error}", self.peer);
        let response = Response::error(error.status, error.reason);
        {
            let date = self.shared.date.borrow();
            routes::write_response(
                &mut self.out,
                &response,
                &crate::http1::Method::Get,
                false,
                false,
                &date,
            );
        }
        self.flush().await
    }

    /// Writes the output buffer; what the kernel does not take at once
    /// must drain within the idle timeout.
    async fn flush(&mut self) -> Result<(), Closed> {
        if self.out.is_empty() {
            return Ok(());
        }
        // The write happens now; the rest, if any, is queued in the stream.
        let written = self.stream.write(&self.out).now_or_never();
        self.out.clear();
        match written {
            Some(result) => result,
            None => {
                let idle = self.shared.config.idle_timeout;
                let stream = self.stream;
                match self.within(Instant::now() + idle, stream.write(&[])).await {
                    Ok(result) => result,
                    Err(TimedOut) => Err(no_progress(idle)),
                }
            }
        }
    }
}

fn no_progress(idle: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("no progress for {idle:?} (idle timeout)"),
    )
}

/// Parses the request at the start of `buf` and, when it needs no body
/// and no delay, answers it into `out` at once.
fn next_step(buf: &[u8], shared: &Shared, out: &mut Vec<u8>, peer: &PeerAddr) -> Step {
    if buf.is_empty() {
        return Step::NeedMore;
    }
    let (head, consumed) = match parse_head(buf, &shared.limits) {
        Ok(Parsed::Partial) => return Step::NeedMore,
        Ok(Parsed::Complete(head, consumed)) => (head, consumed),
        Err(error) => return Step::Refused(error),
    };
    if head.framing != Framing::Empty {
        return Step::WithBody {
            head: head.into_owned(),
            consumed,
        };
    }
    match routes::route(&head, Vec::new()) {
        Reply::Now(response) => {
            let keep_alive = render(shared, out, &head, &response, peer);
            Step::Answered {
                consumed,
                keep_alive,
            }
        }
        Reply::After(delay, response) => Step::Delayed {
            head: head.into_owned(),
            consumed,
            delay,
            response,
        },
    }
}

/// Appends the response to `out` and logs the request; returns whether
/// the connection stays open.
#[inline]
fn render(
    shared: &Shared,
    out: &mut Vec<u8>,
    head: &RequestHead<'_>,
    response: &Response,
    peer: &PeerAddr,
) -> bool {
    let keep_alive = head.keep_alive && !shared.shutting_down.get();
    routes::write_response_cached(
        out,
        response,
        &head.method,
        keep_alive,
        head.version == Version::Http10,
        &mut shared.date.borrow_mut(),
    );
    log::info!(
        "{peer} \"{} {} {}\" {} {}",
        head.method.as_str(),
        head.target,
        head.version.as_str(),
        response.status,
        response.body_len()
    );
    keep_alive
}
