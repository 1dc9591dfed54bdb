//! One connection: requests parsed in place from the stream's buffer,
//! answered in order by the handler, responses rendered into a buffer and
//! written as the client reads.
//!
//! The loop of a connection's task:
//!
//! 1. answer every complete request already buffered. Responses that are
//!    ready at once (most are) are rendered into one buffer, so a
//!    pipelined burst becomes one write; but no more than
//!    `max_write_ahead` bytes are ever rendered ahead of the socket, so a
//!    burst of large responses is answered as the client reads them;
//! 2. write what is rendered, so complete responses never wait for more
//!    input;
//! 3. wait for more input under a deadline: the **header timeout** from
//!    the first byte of a request head (or the connection's start), so a
//!    head trickled byte by byte gets 408; or the **idle timeout** between
//!    requests, during which the connection holds no buffer memory.
//!
//! Writes that cannot finish at once must make progress within the idle
//! timeout (a slow reader is served however long its response takes). A
//! deadline that passes first reads what arrived meanwhile, so a loop
//! stall never closes a connection whose request is already here.

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::FutureExt;
use ioloop::Sleep;

use crate::http::parse::{BodyDecoder, Framing as RequestFraming, HttpError, Parsed, parse_head};
use crate::http::request::{BodyState, BodyTimeouts, FailedBody, Request, RequestBody};
use crate::http::response::{BodyKind, Pulled, Response};
use crate::http::server::{Handler, ServerState};
use crate::http::wire::{self, Framing, LAST_CHUNK, RenderKey};
use crate::http::{Method, Version};
use crate::{IOStream, PeerAddr};

/// The largest request head copy a connection keeps for the next one.
const RECYCLED_HEAD_MAX: usize = 4096;

/// The largest request head copy an idle connection keeps (a typical
/// head's; larger ones are freed while the connection waits).
const IDLE_HEAD_MAX: usize = 256;

/// Bodies up to this size are copied into the output buffer; larger ones
/// are written from the handler's buffer.
const COPY_BODY_MAX: usize = 16 * 1024;

/// One connection's task.
pub(crate) async fn serve<H: Handler>(
    shared: Rc<ServerState>,
    handler: Rc<H>,
    stream: IOStream,
    peer: PeerAddr,
) {
    if shared.shutting_down.get() {
        stream.close();
        return;
    }
    // Responses are written whole; Nagle's algorithm would only hold the
    // last segment of a pipelined batch back for the client's delayed ACK.
    if let PeerAddr::Inet(_) = peer
        && let Err(err) = stream.set_nodelay(true)
    {
        log::debug!(target: "netutil::http", "{peer}: TCP_NODELAY: {err}");
    }
    let Some(key) = shared.register(&stream) else {
        log::warn!(
            target: "netutil::http",
            "{peer}: {} connections open, none idle: 503",
            shared.connections.borrow().len()
        );
        let mut out = Vec::new();
        wire::write_error(&mut out, 503, "too many connections", &shared.date.borrow());
        drop(stream.write(&out));
        stream.close();
        return;
    };
    let _registered = Registered {
        shared: Rc::clone(&shared),
        key,
    };
    let mut conn = Conn {
        shared: &shared,
        stream: &stream,
        peer: Rc::new(peer),
        key,
        out: Vec::new(),
        spare_head: None,
        timer: None,
    };
    if let Err(err) = conn.run(&*handler).await {
        log::debug!(target: "netutil::http", "{}: {err}", conn.peer);
    }
    stream.close();
}

/// Removes a connection from the registry when its task ends, however it
/// ends.
struct Registered {
    shared: Rc<ServerState>,
    key: usize,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.shared.unregister(self.key);
    }
}

struct Conn<'a> {
    shared: &'a ServerState,
    stream: &'a IOStream,
    peer: Rc<PeerAddr>,
    key: usize,
    /// Responses rendered and not yet handed to the stream.
    out: Vec<u8>,
    /// The allocation of the last request head's copy, for the next one.
    spare_head: Option<Rc<Vec<u8>>>,
    /// The connection's deadline timer and when it fires. A wait whose
    /// deadline is later keeps it and re-arms when it fires early (libev's
    /// `ev_timer_again` idiom), so a busy keep-alive connection costs no
    /// timer work per request.
    timer: Option<(Instant, Pin<Box<Sleep>>)>,
}

/// Why a connection ends early (logged at debug; clients vanish often).
type Closed = io::Error;

/// A wait passed its deadline.
struct TimedOut;

/// What the buffered bytes hold next.
enum Next {
    NeedMore,
    Request(Request, Meta),
    Refuse(HttpError),
}

/// What the connection keeps of a request while its handler runs.
struct Meta {
    body: Option<Rc<RefCell<BodyState>>>,
    raw: Rc<Vec<u8>>,
    method_is_head: bool,
    version: Version,
    keep_alive: bool,
}

/// Where answering the buffered requests at once stopped.
enum Ready {
    /// No complete request is buffered; `answered` says whether any was
    /// answered before.
    NeedMore { answered: bool },
    /// A malformed request: answer with this status and close.
    Refuse(HttpError),
    /// A response that closes the connection was rendered.
    Closing,
    /// `max_write_ahead` bytes are rendered or queued: write first.
    Full,
    /// The rest of this request needs waiting.
    Slow(Meta, Slow),
}

/// How far a request that needs waiting got.
enum Slow {
    /// Its handler has not run yet (it has a body).
    Fresh(Request),
    /// Its handler's future, in the slot, waits.
    Waiting,
    /// Its response needs more than a copy (a large or streamed body).
    Answered(Response),
    /// Its handler panicked.
    Panicked(Box<dyn Any + Send>),
}

/// How a handler's future ended.
enum Outcome {
    Response(Response),
    Panicked(Box<dyn Any + Send>),
    Gone,
}

/// A connection's one place for its handler's future, reused from request
/// to request.
type Slot<H> = Pin<Box<Option<<H as Handler>::Future>>>;

impl Conn<'_> {
    async fn run<H: Handler>(&mut self, handler: &H) -> Result<(), Closed> {
        let options = &self.shared.options;
        let mut slot: Slot<H> = Box::pin(None);
        // The first head must arrive within the header timeout of the
        // connection's start.
        let mut head_started = Some(Instant::now());
        loop {
            // 1. Answer every complete request already buffered: those
            // whose handlers answer at once without returning to the loop,
            // the others one at a time.
            loop {
                let ready = std::future::poll_fn(|cx| {
                    Poll::Ready(self.answer_ready(handler, slot.as_mut(), cx))
                })
                .await;
                match ready {
                    Ready::NeedMore { answered } => {
                        if answered {
                            head_started = None;
                        }
                        break;
                    }
                    Ready::Refuse(error) => return self.refuse(error).await,
                    Ready::Closing => return self.finish().await,
                    Ready::Full => {
                        self.push_out()?;
                        self.drain().await?;
                    }
                    Ready::Slow(meta, slow) => {
                        if !self.answer_slow(handler, slot.as_mut(), meta, slow).await? {
                            return self.finish().await;
                        }
                    }
                }
                // The next head's clock starts when the wait below begins:
                // no clock read per pipelined request.
                head_started = None;
            }
            // 2. Write what is rendered; what the kernel did not take must
            // reach the client before the connection counts as idle.
            self.push_out()?;
            if self.shared.shutting_down.get() {
                return self.finish().await;
            }
            if self.stream.write_buffered() > 0 {
                self.drain().await?;
            }
            // 3. Wait for more input.
            let buffered = self.stream.buffered();
            let now = Instant::now();
            if buffered > 0 && head_started.is_none() {
                head_started = Some(now);
            }
            let deadline = match head_started {
                Some(t0) => t0 + options.header_timeout,
                None => now + options.idle_timeout,
            };
            // A keep-alive connection between requests (not one yet to
            // send its first, which the header timeout bounds).
            let idle = buffered == 0 && head_started.is_none();
            if idle {
                // Between requests: hold no buffer memory. The buffers go
                // to pools the next connection to need one takes from, so
                // a busy connection costs no allocation per request.
                crate::stream::buffer::give_output_buffer(std::mem::take(&mut self.out));
                if self
                    .spare_head
                    .as_ref()
                    .is_some_and(|raw| raw.capacity() > IDLE_HEAD_MAX)
                {
                    self.spare_head = None;
                }
                self.stream.release_buffers();
                self.shared.set_idle(self.key, true);
            }
            let stream = self.stream;
            let waited = self.within(deadline, stream.read_more()).await;
            if idle {
                self.shared.set_idle(self.key, false);
                self.out = crate::stream::buffer::take_output_buffer();
            }
            match waited {
                Ok(Ok(_)) => {}
                Ok(Err(err)) => {
                    // End of input (or an error): what is written still
                    // goes out; a partial head is dropped.
                    self.drain().await?;
                    return Err(err);
                }
                Err(TimedOut) => {
                    // Input that arrived while the loop was busy counts.
                    if self.stream.read_now() > buffered {
                        if head_started.is_none() {
                            head_started = Some(Instant::now());
                        }
                        continue;
                    }
                    if buffered > 0 {
                        return self
                            .refuse(HttpError {
                                status: 408,
                                reason: "request head not received in time",
                            })
                            .await;
                    }
                    return self.finish().await; // idle: close quietly
                }
            }
        }
    }

    /// Parses the request at the start of the read buffer.
    fn next_request(&mut self) -> Next {
        let shared = self.shared;
        let spare = &mut self.spare_head;
        let parsed = self.stream.with_buffer(|buf| {
            if buf.is_empty() {
                return Ok(None);
            }
            match parse_head(buf, &shared.limits, None)? {
                Parsed::Partial => Ok(None),
                Parsed::Complete(head, consumed) => {
                    let base = buf.as_ptr() as usize;
                    let target_at = head.target.as_ptr() as usize - base;
                    let target = target_at..target_at + head.target.len();
                    // The last request's copy, if nothing holds it any more.
                    let reused = spare.take().and_then(|mut raw| {
                        let bytes = Rc::get_mut(&mut raw)?;
                        bytes.clear();
                        bytes.extend_from_slice(&buf[..consumed]);
                        Some(raw)
                    });
                    let raw = reused.unwrap_or_else(|| Rc::new(buf[..consumed].to_vec()));
                    Ok(Some((
                        head.method,
                        target,
                        head.version,
                        head.keep_alive,
                        head.framing,
                        head.expect_continue,
                        raw,
                        consumed,
                    )))
                }
            }
        });
        let (method, target, version, keep_alive, framing, expect_continue, raw, consumed) =
            match parsed {
                Ok(None) => return Next::NeedMore,
                Err(error) => return Next::Refuse(error),
                Ok(Some(parts)) => parts,
            };
        self.stream.consume(consumed);
        let options = &shared.options;
        let (body, state) = if framing == RequestFraming::Empty {
            (RequestBody::empty(), None)
        } else {
            let state = Rc::new(RefCell::new(BodyState {
                stream: self.stream.clone(),
                decoder: BodyDecoder::new(framing, &shared.limits),
                continue_pending: expect_continue,
                failed: None,
                timeouts: BodyTimeouts {
                    idle: options.idle_timeout,
                    grace: options.body_timeout,
                    min_rate: options.min_body_rate,
                },
                received: 0,
                waited: Duration::ZERO,
                ioloop: shared.ioloop(),
                wait: None,
            }));
            (RequestBody::streaming(Rc::clone(&state)), Some(state))
        };
        let method_is_head = method == Method::Head;
        let request = Request::new(
            Rc::clone(&raw),
            method,
            target,
            version,
            Rc::clone(&self.peer),
            body,
        );
        Next::Request(
            request,
            Meta {
                body: state,
                raw,
                method_is_head,
                version,
                keep_alive,
            },
        )
    }

    /// Answers the buffered requests whose handlers answer without
    /// waiting, rendering their responses into the output buffer, until one
    /// needs waiting or the buffer is full.
    fn answer_ready<H: Handler>(
        &mut self,
        handler: &H,
        mut slot: Pin<&mut Option<H::Future>>,
        cx: &mut Context<'_>,
    ) -> Ready {
        let ahead = self.shared.options.max_write_ahead;
        let mut answered = false;
        loop {
            if self.out.len() + self.stream.write_buffered() > ahead {
                return Ready::Full;
            }
            let (request, meta) = match self.next_request() {
                Next::NeedMore => return Ready::NeedMore { answered },
                Next::Refuse(error) => return Ready::Refuse(error),
                Next::Request(request, meta) => (request, meta),
            };
            if meta.body.is_some() {
                return Ready::Slow(meta, Slow::Fresh(request));
            }
            match catch_unwind(AssertUnwindSafe(|| handler.call(request))) {
                Ok(future) => slot.set(Some(future)),
                Err(panic) => return Ready::Slow(meta, Slow::Panicked(panic)),
            }
            let polled = catch_unwind(AssertUnwindSafe(|| {
                slot.as_mut()
                    .as_pin_mut()
                    .expect("a future was just put in the slot")
                    .poll(cx)
            }));
            let response = match polled {
                Ok(Poll::Pending) => return Ready::Slow(meta, Slow::Waiting),
                Ok(Poll::Ready(response)) => {
                    slot.set(None);
                    response
                }
                Err(panic) => {
                    slot.set(None);
                    return Ready::Slow(meta, Slow::Panicked(panic));
                }
            };
            let small = match &response.body.kind {
                BodyKind::Empty | BodyKind::Static(_) => true,
                BodyKind::Bytes(b) => b.len() <= COPY_BODY_MAX,
                BodyKind::Stream(_) | BodyKind::Channel(_) => false,
            };
            if !small {
                return Ready::Slow(meta, Slow::Answered(response));
            }
            let keep_alive = meta.keep_alive && !response.close && !self.shared.shutting_down.get();
            self.render_fixed(&response, &meta, keep_alive);
            drop(response);
            self.recycle_head(meta.raw);
            answered = true;
            if !keep_alive {
                return Ready::Closing;
            }
        }
    }

    /// Keeps a request head's copy for the next request, if the handler
    /// has let go of it and it is small.
    fn recycle_head(&mut self, raw: Rc<Vec<u8>>) {
        if Rc::strong_count(&raw) == 1 && raw.capacity() <= RECYCLED_HEAD_MAX {
            self.spare_head = Some(raw);
        }
    }

    /// Finishes a request that needs waiting: runs or awaits its handler,
    /// writes its response, and reads what the handler left of its body.
    /// Returns whether the connection stays open.
    async fn answer_slow<H: Handler>(
        &mut self,
        handler: &H,
        mut slot: Pin<&mut Option<H::Future>>,
        meta: Meta,
        slow: Slow,
    ) -> Result<bool, Closed> {
        let outcome = match slow {
            Slow::Answered(response) => Outcome::Response(response),
            Slow::Panicked(panic) => Outcome::Panicked(panic),
            Slow::Fresh(request) => {
                // A `100 Continue` the body reader sends must follow every
                // earlier response.
                self.push_out()?;
                match catch_unwind(AssertUnwindSafe(|| handler.call(request))) {
                    Ok(future) => {
                        slot.set(Some(future));
                        self.await_handler(slot.as_mut()).await
                    }
                    Err(panic) => Outcome::Panicked(panic),
                }
            }
            Slow::Waiting => self.await_handler(slot.as_mut()).await,
        };
        slot.set(None);
        self.answer(meta, outcome).await
    }

    /// Writes the response a handler's future came to. Returns whether the
    /// connection stays open.
    async fn answer(&mut self, meta: Meta, outcome: Outcome) -> Result<bool, Closed> {
        let raw = Rc::clone(&meta.raw);
        let body = meta.body.clone();
        let response = match outcome {
            Outcome::Response(response) => response,
            Outcome::Gone => {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the client went away before its response was ready",
                ));
            }
            Outcome::Panicked(panic) => {
                log::error!(
                    target: "netutil::http",
                    "{}: \"{}\": handler panicked: {}; answered 500",
                    self.peer,
                    request_line(&raw),
                    panic_message(&*panic)
                );
                self.render_error(500, "the handler failed");
                return Ok(false);
            }
        };
        // A body the parser refused gets its status, whatever the handler
        // made of it.
        let failed = body.as_ref().and_then(|b| b.borrow().failed);
        match failed {
            Some(FailedBody::Invalid(error)) => {
                self.log_request(&raw, error.status, 0);
                log::warn!(target: "netutil::http", "{}: {error}", self.peer);
                self.render_error(error.status, error.reason);
                return Ok(false);
            }
            Some(FailedBody::Gone) => {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the request body did not arrive",
                ));
            }
            None => {}
        }
        // An unread body is read and dropped after the response, unless the
        // client still waits for `100 Continue`: then it never comes.
        let unread = body.as_ref().filter(|b| !b.borrow().is_done());
        let body_forgone = unread.is_some_and(|b| b.borrow().continue_pending);
        let keep_alive =
            meta.keep_alive && !response.close && !body_forgone && !self.shared.shutting_down.get();
        let keep_alive = self.write_response(response, &meta, keep_alive).await?;
        if keep_alive && let Some(state) = unread.cloned() {
            // The response goes out first: a client may wait for it before
            // it sends the body (or the rest of it).
            self.push_out()?;
            let mut rest = RequestBody::streaming(state);
            loop {
                match rest.chunk().await {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(err) => {
                        log::debug!(target: "netutil::http", "{}: unread body: {err}", self.peer);
                        return Ok(false);
                    }
                }
            }
        }
        Ok(keep_alive)
    }

    /// Polls the handler's future (in `slot`) until it answers or the
    /// client goes away; what is rendered is written first.
    async fn await_handler<F: Future<Output = Response>>(
        &mut self,
        mut slot: Pin<&mut Option<F>>,
    ) -> Outcome {
        let mut first = true;
        let stream = self.stream;
        let out = &mut self.out;
        std::future::poll_fn(|cx| {
            let Some(future) = slot.as_mut().as_pin_mut() else {
                return Poll::Ready(Outcome::Gone);
            };
            match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                Ok(Poll::Ready(response)) => return Poll::Ready(Outcome::Response(response)),
                Err(panic) => return Poll::Ready(Outcome::Panicked(panic)),
                Ok(Poll::Pending) => {}
            }
            if first {
                first = false;
                // Earlier responses go out while this one is prepared.
                if push(stream, out).is_err() {
                    return Poll::Ready(Outcome::Gone);
                }
            }
            if stream.poll_hangup(cx).is_ready() {
                return Poll::Ready(Outcome::Gone);
            }
            Poll::Pending
        })
        .await
    }

    /// Renders a response whose body is a small buffer (or none) into the
    /// output buffer, from the per-second cache when it depends on nothing
    /// but the date.
    fn render_fixed(&mut self, response: &Response, meta: &Meta, keep_alive: bool) {
        let http10 = meta.version == Version::Http10;
        let status = response.status;
        let bodiless = wire::bodiless(status);
        let bytes: &[u8] = match &response.body.kind {
            BodyKind::Static(b) => b,
            BodyKind::Bytes(b) => b,
            _ => &[],
        };
        let framing = if bodiless {
            Framing::None
        } else {
            Framing::Length(bytes.len())
        };
        let send_body = !meta.method_is_head && !bodiless;
        let cacheable_type = match &response.content_type {
            None => Some(None),
            Some(std::borrow::Cow::Borrowed(t)) => Some(Some(*t)),
            Some(std::borrow::Cow::Owned(_)) => None,
        };
        let static_body: Option<&'static [u8]> = match &response.body.kind {
            BodyKind::Static(b) => Some(b),
            BodyKind::Empty => Some(&[]),
            _ => None,
        };
        if let (Some(content_type), Some(static_body), true, false) = (
            cacheable_type,
            static_body,
            response.headers.is_empty(),
            response.has_server,
        ) {
            let key = RenderKey {
                status,
                content_type,
                body: static_body,
                keep_alive,
                http10,
                head: !send_body,
            };
            let mut date = self.shared.date.borrow_mut();
            let rendered = date.rendered(key, |date, out| {
                wire::write_head(out, response, framing, keep_alive, http10, date);
                if send_body {
                    out.extend_from_slice(static_body);
                }
            });
            self.out.extend_from_slice(rendered);
        } else {
            wire::write_head(
                &mut self.out,
                response,
                framing,
                keep_alive,
                http10,
                &self.shared.date.borrow(),
            );
            if send_body {
                self.out.extend_from_slice(bytes);
            }
        }
        self.log_request(&meta.raw, status, if send_body { bytes.len() } else { 0 });
    }

    /// Renders `response` and writes its body. Returns whether the
    /// connection stays open.
    async fn write_response(
        &mut self,
        response: Response,
        meta: &Meta,
        keep_alive: bool,
    ) -> Result<bool, Closed> {
        let raw = &meta.raw;
        let head_only = meta.method_is_head;
        let http10 = meta.version == Version::Http10;
        let status = response.status;
        let bodiless = wire::bodiless(status);
        let mut response = response;
        let large = match &response.body.kind {
            BodyKind::Empty | BodyKind::Static(_) => false,
            BodyKind::Bytes(b) if b.len() <= COPY_BODY_MAX => false,
            BodyKind::Bytes(_) => true,
            BodyKind::Stream(_) | BodyKind::Channel(_) => {
                let body = std::mem::replace(&mut response.body, crate::http::Body::empty());
                return self.write_streamed(response, body, meta, keep_alive).await;
            }
        };
        if !large || head_only || bodiless {
            self.render_fixed(&response, meta, keep_alive);
            return Ok(keep_alive);
        }
        let BodyKind::Bytes(bytes) = &response.body.kind else {
            unreachable!("a large body is a buffer");
        };
        wire::write_head(
            &mut self.out,
            &response,
            Framing::Length(bytes.len()),
            keep_alive,
            http10,
            &self.shared.date.borrow(),
        );
        self.write_large(bytes).await?;
        self.log_request(raw, status, bytes.len());
        Ok(keep_alive)
    }

    /// Renders the head of a response with a streamed body and writes the
    /// body as it comes. Returns whether the connection stays open.
    async fn write_streamed(
        &mut self,
        response: Response,
        mut body: crate::http::Body,
        meta: &Meta,
        keep_alive: bool,
    ) -> Result<bool, Closed> {
        let raw = &meta.raw;
        let head_only = meta.method_is_head;
        let http10 = meta.version == Version::Http10;
        let status = response.status;
        let bodiless = wire::bodiless(status);
        // A streamed body: chunked for HTTP/1.1, until close for HTTP/1.0.
        let (framing, keep_alive) = if bodiless {
            (Framing::None, keep_alive)
        } else if http10 {
            (Framing::UntilClose, false)
        } else {
            (Framing::Chunked, keep_alive)
        };
        wire::write_head(
            &mut self.out,
            &response,
            framing,
            keep_alive,
            http10,
            &self.shared.date.borrow(),
        );
        if head_only || bodiless {
            self.log_request(raw, status, 0);
            return Ok(keep_alive);
        }
        let chunked = framing == Framing::Chunked;
        let sent = self.write_stream(&mut body, chunked).await;
        if let BodyKind::Channel(channel) = &body.kind {
            channel.borrow_mut().close_receiver();
        }
        let sent = match sent {
            Ok(sent) => sent,
            Err(err) => {
                // What is rendered (earlier responses, and this one's head
                // and first chunks) still goes out; the close then tells
                // the client this body is truncated.
                let _ = self.finish().await;
                return Err(err);
            }
        };
        if chunked {
            self.out.extend_from_slice(LAST_CHUNK);
        }
        self.log_request(raw, status, sent);
        Ok(keep_alive)
    }

    /// Writes a streamed body's chunks as they come, at most
    /// `max_write_ahead` bytes ahead of the client. Returns the body's
    /// length.
    async fn write_stream(
        &mut self,
        body: &mut crate::http::Body,
        chunked: bool,
    ) -> Result<usize, Closed> {
        let ahead = self.shared.options.max_write_ahead;
        let mut sent = 0;
        loop {
            let pulled = self.pull(body).await?;
            let chunk = match pulled {
                Pulled::Chunk(chunk) => chunk,
                Pulled::End => return Ok(sent),
                Pulled::Flush => {
                    self.push_out()?;
                    self.drain().await?;
                    if let BodyKind::Channel(channel) = &body.kind {
                        channel.borrow_mut().flushed();
                    }
                    continue;
                }
            };
            if chunk.is_empty() {
                continue;
            }
            sent += chunk.len();
            if chunked {
                wire::write_chunk_head(&mut self.out, chunk.len());
            }
            if chunk.len() <= COPY_BODY_MAX {
                self.out.extend_from_slice(&chunk);
            } else {
                self.write_large(&chunk).await?;
            }
            if chunked {
                self.out.extend_from_slice(b"\r\n");
            }
            if self.out.len() >= ahead {
                self.push_out()?;
            }
            if self.stream.write_buffered() > ahead {
                self.drain().await?;
            }
        }
    }

    /// The next piece of a streamed body. While the producer waits, what
    /// is rendered goes out; a client that resets the connection ends it.
    async fn pull(&mut self, body: &mut crate::http::Body) -> Result<Pulled, Closed> {
        let stream = self.stream;
        let out = &mut self.out;
        let mut pushed = false;
        let peer = &self.peer;
        std::future::poll_fn(|cx| {
            let polled = catch_unwind(AssertUnwindSafe(|| poll_body(body, cx)));
            match polled {
                Ok(Poll::Ready(Ok(pulled))) => return Poll::Ready(Ok(pulled)),
                Ok(Poll::Ready(Err(err))) => {
                    log::warn!(target: "netutil::http", "{peer}: response body failed: {err}; closing");
                    return Poll::Ready(Err(err));
                }
                Err(panic) => {
                    log::error!(
                        target: "netutil::http",
                        "{peer}: response body panicked: {}; closing",
                        panic_message(&*panic)
                    );
                    return Poll::Ready(Err(io::Error::other("the response body panicked")));
                }
                Ok(Poll::Pending) => {}
            }
            if !pushed {
                pushed = true;
                if let Err(err) = push(stream, out) {
                    return Poll::Ready(Err(err));
                }
            }
            if stream.closed() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the client went away during the response",
                )));
            }
            // Woken by the producer; a reset closes the stream, which the
            // next chunk's write reports.
            let _ = stream.poll_hangup(cx);
            Poll::Pending
        })
        .await
    }

    /// Writes a large buffer after what is rendered, in pieces of at most
    /// `max_write_ahead` bytes, each handed to the kernel before the next.
    async fn write_large(&mut self, bytes: &[u8]) -> Result<(), Closed> {
        self.push_out()?;
        let piece = self.shared.options.max_write_ahead.max(4096);
        for part in bytes.chunks(piece) {
            if self.stream.write_buffered() > 0 {
                self.drain().await?;
            }
            if let Some(Err(err)) = self.stream.write(part).now_or_never() {
                return Err(err);
            }
        }
        Ok(())
    }

    /// Hands what is rendered to the stream (the kernel takes what it can
    /// at once; the stream keeps the rest).
    fn push_out(&mut self) -> Result<(), Closed> {
        push(self.stream, &mut self.out)
    }

    /// Waits until the stream has handed everything to the kernel; the
    /// client must take some of it every idle timeout.
    async fn drain(&mut self) -> Result<(), Closed> {
        let idle = self.shared.options.idle_timeout;
        loop {
            let before = self.stream.bytes_delivered();
            let stream = self.stream;
            match self.within(Instant::now() + idle, stream.write(&[])).await {
                Ok(result) => return result,
                Err(TimedOut) if self.stream.bytes_delivered() > before => {}
                Err(TimedOut) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("the client read nothing for {idle:?} (idle timeout)"),
                    ));
                }
            }
        }
    }

    /// Writes what is left and ends the connection.
    async fn finish(&mut self) -> Result<(), Closed> {
        self.push_out()?;
        self.drain().await
    }

    /// Renders an error response (which closes the connection) after what
    /// is already rendered.
    fn render_error(&mut self, status: u16, reason: &str) {
        wire::write_error(&mut self.out, status, reason, &self.shared.date.borrow());
    }

    /// Answers with an error status and ends the connection.
    async fn refuse(&mut self, error: HttpError) -> Result<(), Closed> {
        log::warn!(target: "netutil::http", "{}: {error}", self.peer);
        self.render_error(error.status, error.reason);
        self.finish().await
    }

    /// Runs `future` until `deadline`, on the connection's timer. (A plain
    /// function returning a `poll_fn`, not an `async fn`, so that waiting
    /// adds no state machine of its own to the connection's.)
    fn within<F: Future + Unpin>(
        &mut self,
        deadline: Instant,
        mut future: F,
    ) -> impl Future<Output = Result<F::Output, TimedOut>> {
        let ioloop = self.shared.ioloop();
        let timer = &mut self.timer;
        std::future::poll_fn(move |cx| {
            if let Poll::Ready(output) = Pin::new(&mut future).poll(cx) {
                return Poll::Ready(Ok(output));
            }
            loop {
                if !matches!(&*timer, Some((at, _)) if *at <= deadline) {
                    let sleep = ioloop.sleep_until(deadline);
                    *timer = Some((deadline, Box::pin(sleep)));
                }
                let (at, sleep) = timer.as_mut().expect("armed above");
                match sleep.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) if *at >= deadline => {
                        *timer = None;
                        return Poll::Ready(Err(TimedOut));
                    }
                    // It fired for an earlier deadline: re-arm for this one.
                    Poll::Ready(()) => *timer = None,
                }
            }
        })
    }

    /// The access log line.
    fn log_request(&self, raw: &[u8], status: u16, bytes: usize) {
        if log::log_enabled!(target: "netutil::http", log::Level::Info) {
            log::info!(
                target: "netutil::http",
                "{} \"{}\" {status} {bytes}",
                self.peer,
                request_line(raw)
            );
        }
    }
}

/// Hands `out` to the stream and empties it.
fn push(stream: &IOStream, out: &mut Vec<u8>) -> Result<(), Closed> {
    if out.is_empty() {
        return Ok(());
    }
    let written = stream.write(out).now_or_never();
    out.clear();
    match written {
        Some(Err(err)) => Err(err),
        _ => Ok(()),
    }
}

fn poll_body(body: &mut crate::http::Body, cx: &mut Context<'_>) -> Poll<io::Result<Pulled>> {
    match &mut body.kind {
        BodyKind::Stream(stream) => match stream.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => Poll::Ready(Ok(Pulled::Chunk(chunk))),
            Poll::Ready(Some(Err(err))) => Poll::Ready(Err(err)),
            Poll::Ready(None) => Poll::Ready(Ok(Pulled::End)),
            Poll::Pending => Poll::Pending,
        },
        BodyKind::Channel(channel) => channel.borrow_mut().poll_pull(cx).map(Ok),
        _ => Poll::Ready(Ok(Pulled::End)),
    }
}

/// The request line of a raw head, for logs.
fn request_line(raw: &[u8]) -> String {
    let end = memchr::memchr(b'\r', raw).unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[..end]).into_owned()
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "(not a string)"
    }
}
