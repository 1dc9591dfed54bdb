//! What a handler returns: [`Response`], with a body that is a buffer or a
//! stream of chunks ([`Body`], [`BodySender`]).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures::Stream;

/// A response: status, header fields and a [`Body`].
///
/// The server writes `Date`, `Server` (unless the handler set one),
/// `Content-Length` or `Transfer-Encoding` (from the body: a buffer has a
/// length, a stream is chunked for HTTP/1.1 and sent until close for
/// HTTP/1.0) and `Connection`. A handler that tries to set one of the
/// framing fields gets a [`HeaderError`] instead of a malformed response.
///
/// # Examples
///
/// ```
/// use netutil::http::{Body, Response};
///
/// let ok = Response::text(200, "hello\n");
/// let json = Response::new(201)
///     .with_header("Content-Type", "application/json")?
///     .with_header("Location", "/items/7")?
///     .with_body(br#"{"id":7}"#.to_vec());
/// assert_eq!(json.status(), 201);
///
/// // A streamed body: chunks as a `Stream`, pulled as the client reads.
/// let lines = futures::stream::iter((1..=3).map(|k| Ok(format!("line {k}\n").into_bytes())));
/// let streamed = Response::new(200).with_body(Body::stream(lines));
///
/// // Framing belongs to the server.
/// assert!(Response::new(200).with_header("Content-Length", "5").is_err());
/// # let _ = (ok, streamed);
/// # Ok::<(), netutil::http::HeaderError>(())
/// ```
pub struct Response {
    pub(crate) status: u16,
    pub(crate) content_type: Option<Cow<'static, str>>,
    pub(crate) headers: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    pub(crate) body: Body,
    pub(crate) close: bool,
    pub(crate) has_server: bool,
}

impl Response {
    /// A response with `status` and an empty body.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::Response;
    ///
    /// let response = Response::new(204);
    /// assert_eq!(response.status(), 204);
    /// assert_eq!(response.content_type(), None);
    /// ```
    pub fn new(status: u16) -> Response {
        Response {
            status,
            content_type: None,
            headers: Vec::new(),
            body: Body::empty(),
            close: false,
            has_server: false,
        }
    }

    /// A `text/plain; charset=utf-8` response.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::Response;
    ///
    /// let response = Response::text(200, "hello\n");
    /// assert_eq!(response.content_type(), Some("text/plain; charset=utf-8"));
    /// ```
    pub fn text(status: u16, body: impl Into<Body>) -> Response {
        Response {
            content_type: Some(Cow::Borrowed("text/plain; charset=utf-8")),
            body: body.into(),
            ..Response::new(status)
        }
    }

    /// A plain-text error response whose body is `status reason: detail`.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::Response;
    ///
    /// let response = Response::error(404, "no such page");
    /// assert_eq!(response.status(), 404);
    /// ```
    pub fn error(status: u16, detail: &str) -> Response {
        let text = format!("{status} {}: {detail}\n", super::wire::reason(status));
        Response::text(status, text)
    }

    /// The status code.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::Response;
    ///
    /// assert_eq!(Response::text(201, "made").status(), 201);
    /// ```
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Sets the status code.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::Response;
    ///
    /// let mut response = Response::text(200, "moved");
    /// response.set_status(301);
    /// assert_eq!(response.status(), 301);
    /// ```
    pub fn set_status(&mut self, status: u16) {
        self.status = status;
    }

    /// The header fields set so far (without `Content-Type`, see
    /// [`content_type`](Response::content_type)).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::Response;
    ///
    /// let response = Response::new(200).with_header("Cache-Control", "no-store")?;
    /// assert!(response.headers().any(|(name, value)| name == "Cache-Control" && value == "no-store"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_ref(), v.as_ref()))
    }

    /// The `Content-Type`, if set.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::Response;
    ///
    /// let response = Response::new(200).with_header("Content-Type", "application/json")?;
    /// assert_eq!(response.content_type(), Some("application/json"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// Adds a header field (repeats are kept, in order).
    ///
    /// # Errors
    ///
    /// A [`HeaderError`] if the name is not a token, the value holds a
    /// control character (CR, LF, NUL, …), or the field is one the server
    /// owns (`Content-Length`, `Transfer-Encoding`, `Connection`, `Date`,
    /// `Upgrade`, `Keep-Alive`, `Trailer`).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HeaderError, Response};
    ///
    /// let mut response = Response::new(200);
    /// response.set_header("X-Frame-Options", "DENY")?;
    /// // The server frames the response itself:
    /// assert!(matches!(response.set_header("Content-Length", "5"), Err(HeaderError::Reserved(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_header(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Result<&mut Response, HeaderError> {
        let (name, value) = (name.into(), value.into());
        if name.eq_ignore_ascii_case("content-type") {
            check_value(&name, &value)?;
            self.content_type = Some(value);
        } else {
            check_field(&name, &value)?;
            if name.eq_ignore_ascii_case("server") {
                self.has_server = true;
            }
            self.headers.push((name, value));
        }
        Ok(self)
    }

    /// Adds a header field, as [`set_header`](Response::set_header), by
    /// value (for building a response in one expression).
    ///
    /// # Errors
    ///
    /// As [`set_header`](Response::set_header).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::Response;
    ///
    /// let response = Response::text(200, "{}")
    ///     .with_header("Content-Type", "application/json")?
    ///     .with_header("Cache-Control", "no-cache")?;
    /// assert_eq!(response.content_type(), Some("application/json"));
    /// assert_eq!(response.headers().count(), 1); // Cache-Control
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Result<Response, HeaderError> {
        self.set_header(name, value)?;
        Ok(self)
    }

    /// Replaces the body.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::Response;
    ///
    /// let response = Response::new(200).with_body(vec![1u8, 2, 3]);
    /// # let _ = response;
    /// ```
    pub fn with_body(mut self, body: impl Into<Body>) -> Response {
        self.body = body.into();
        self
    }

    /// Replaces the body.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::Response;
    ///
    /// let mut response = Response::new(200);
    /// response.set_body(String::from("late body"));
    /// # let _ = response;
    /// ```
    pub fn set_body(&mut self, body: impl Into<Body>) {
        self.body = body.into();
    }

    /// Closes the connection after this response (`Connection: close`).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |_request: Request| async move { Response::text(200, "bye").close_connection() },
    ///     HTTPServerOptions::default(),
    /// );
    /// let addr = server.listen(0, Some("127.0.0.1"))?[0];
    /// # // Sends `head` (and `body`) on a new connection; returns the response body.
    /// # fn send(ioloop: &ioloop::IOLoop, addr: std::net::SocketAddr, head: &str, body: &str) -> Result<String, Box<dyn std::error::Error>> {
    /// #     let request = format!("{head}Host: test\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    /// #     let reply = ioloop.run_sync(|| async move {
    /// #         let stream = netutil::IOStream::connect(addr).await?;
    /// #         stream.write(request.as_bytes()).await?;
    /// #         stream.read_until_close().await
    /// #     }, Some(std::time::Duration::from_secs(5)))??;
    /// #     let reply = String::from_utf8(reply)?;
    /// #     Ok(reply.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_owned()))
    /// # }
    /// let reply = send(&ioloop, addr, "GET / HTTP/1.1\r\n", "")?;
    /// assert_eq!(reply, "bye"); // and the server closes the connection
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close_connection(mut self) -> Response {
        self.close = true;
        self
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field("headers", &self.headers)
            .field("body", &self.body)
            .field("close", &self.close)
            .finish()
    }
}

fn is_tchar(b: u8) -> bool {
    matches!(b, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
}

/// Fields whose values the server sets from the body and the connection.
const RESERVED: [&str; 7] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "date",
    "upgrade",
    "keep-alive",
    "trailer",
];

fn check_value(name: &str, value: &str) -> Result<(), HeaderError> {
    // Controls but HTAB, and DEL, are refused; everything else (including
    // UTF-8) may stand in a field value. No early exit: this vectorises.
    let mut ok = true;
    for &b in value.as_bytes() {
        ok &= (b >= 0x20 || b == b'\t') & (b != 0x7f);
    }
    if !ok {
        return Err(HeaderError::InvalidValue {
            name: name.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(())
}

fn check_field(name: &str, value: &str) -> Result<(), HeaderError> {
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err(HeaderError::InvalidName(name.to_owned()));
    }
    check_value(name, value)?;
    if RESERVED.iter().any(|r| name.eq_ignore_ascii_case(r)) {
        return Err(HeaderError::Reserved(name.to_owned()));
    }
    Ok(())
}

/// A header field a response cannot carry.
///
/// # Examples
///
/// ```
/// use netutil::http::{HeaderError, Response};
///
/// let err = Response::new(200).with_header("Bad Name", "x").unwrap_err();
/// assert!(matches!(err, HeaderError::InvalidName(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderError {
    /// The name is empty or not a token.
    InvalidName(String),
    /// The value holds a control character (CR, LF, NUL, …).
    InvalidValue {
        /// The field's name.
        name: String,
        /// The refused value.
        value: String,
    },
    /// The server sets this field itself (framing, connection, date).
    Reserved(String),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::InvalidName(name) => write!(f, "invalid header name {name:?}"),
            HeaderError::InvalidValue { name, value } => {
                write!(f, "invalid value for header {name}: {value:?}")
            }
            HeaderError::Reserved(name) => write!(
                f,
                "header {name} is set by the server (from the body and the connection)"
            ),
        }
    }
}

impl std::error::Error for HeaderError {}

/// A response body: empty, a buffer, or a stream of chunks.
///
/// A buffer is sent with `Content-Length`. A stream is pulled as the
/// client reads (the server renders at most
/// [`HTTPServerOptions::max_write_ahead`](crate::http::HTTPServerOptions::max_write_ahead)
/// bytes ahead of the socket), sent chunked to HTTP/1.1 clients and until
/// the connection closes to HTTP/1.0 ones. [`Body::channel`] gives a
/// stream that a handler (or a task it spawns) pushes into, with
/// back-pressure and [`flush`](BodySender::flush).
///
/// # Examples
///
/// ```
/// use netutil::http::{Body, Response};
///
/// // From text, bytes, or a stream of chunks.
/// let body: Body = "hello".into();
/// assert_eq!(body.len(), Some(5));
/// let response = Response::new(200).with_body(body);
/// # let _ = response;
/// ```
pub struct Body {
    pub(crate) kind: BodyKind,
}

pub(crate) enum BodyKind {
    Empty,
    Static(&'static [u8]),
    Bytes(Vec<u8>),
    Stream(Pin<Box<dyn Stream<Item = io::Result<Vec<u8>>>>>),
    Channel(Rc<RefCell<Channel>>),
}

impl Body {
    /// No body.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::Body;
    ///
    /// assert!(Body::empty().is_empty());
    /// ```
    pub fn empty() -> Body {
        Body {
            kind: BodyKind::Empty,
        }
    }

    /// A body of chunks from `stream`, pulled as the client reads. An
    /// error from the stream ends the response early: the connection is
    /// closed, so the client sees a truncated body, never a complete one.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{Body, HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |_request: Request| async move {
    ///         let chunks = futures::stream::iter(["a", "b"].map(|s| Ok(s.as_bytes().to_vec())));
    ///         Response::new(200).with_body(Body::stream(chunks))
    ///     },
    ///     HTTPServerOptions::default(),
    /// );
    /// let addr = server.listen(0, Some("127.0.0.1"))?[0];
    /// # // Sends `head` (and `body`) on a new connection; returns the response body.
    /// # fn send(ioloop: &ioloop::IOLoop, addr: std::net::SocketAddr, head: &str, body: &str) -> Result<String, Box<dyn std::error::Error>> {
    /// #     let request = format!("{head}Host: test\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    /// #     let reply = ioloop.run_sync(|| async move {
    /// #         let stream = netutil::IOStream::connect(addr).await?;
    /// #         stream.write(request.as_bytes()).await?;
    /// #         stream.read_until_close().await
    /// #     }, Some(std::time::Duration::from_secs(5)))??;
    /// #     let reply = String::from_utf8(reply)?;
    /// #     Ok(reply.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_owned()))
    /// # }
    /// let reply = send(&ioloop, addr, "GET / HTTP/1.1\r\n", "")?;
    /// assert_eq!(reply, "1\r\na\r\n1\r\nb\r\n0\r\n\r\n"); // chunked
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stream(stream: impl Stream<Item = io::Result<Vec<u8>>> + 'static) -> Body {
        Body {
            kind: BodyKind::Stream(Box::pin(stream)),
        }
    }

    /// A streamed body and the sender that feeds it. The sender waits
    /// ([`send`](BodySender::send)) while `capacity` bytes are queued and
    /// not yet taken by the server, so a slow client slows the producer.
    /// The body ends when the sender is dropped (or
    /// [`finish`](BodySender::finish)ed).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{Body, Request, Response};
    ///
    /// async fn ticker(_request: Request) -> Response {
    ///     let (mut sender, body) = Body::channel(64 * 1024);
    ///     ioloop::IOLoop::current()
    ///         .spawn(async move {
    ///             for k in 0..3 {
    ///                 if sender.send(format!("tick {k}\n")).await.is_err() {
    ///                     return; // the client went away
    ///                 }
    ///                 // Until the bytes are with the kernel:
    ///                 let _ = sender.flush().await;
    ///             }
    ///         })
    ///         .detach();
    ///     Response::text(200, body)
    /// }
    /// # let _ = ticker;
    /// ```
    pub fn channel(capacity: usize) -> (BodySender, Body) {
        let channel = Rc::new(RefCell::new(Channel {
            queue: VecDeque::new(),
            queued_bytes: 0,
            capacity: capacity.max(1),
            sender_done: false,
            receiver_gone: false,
            sender_waker: None,
            receiver_waker: None,
            flushes_requested: 0,
            flushes_done: 0,
        }));
        (
            BodySender {
                channel: Rc::clone(&channel),
            },
            Body {
                kind: BodyKind::Channel(channel),
            },
        )
    }

    /// The length in bytes, if it is a buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::Body;
    ///
    /// assert_eq!(Body::from("four").len(), Some(4));
    /// let (_sender, streamed) = Body::channel(1024);
    /// assert_eq!(streamed.len(), None); // not known in advance
    /// ```
    pub fn len(&self) -> Option<usize> {
        match &self.kind {
            BodyKind::Empty => Some(0),
            BodyKind::Static(b) => Some(b.len()),
            BodyKind::Bytes(b) => Some(b.len()),
            BodyKind::Stream(_) | BodyKind::Channel(_) => None,
        }
    }

    /// True if the body is an empty buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::Body;
    ///
    /// assert!(Body::from("").is_empty());
    /// assert!(!Body::from("x").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BodyKind::Empty => f.write_str("Body::Empty"),
            BodyKind::Static(b) => write!(f, "Body::Static({} bytes)", b.len()),
            BodyKind::Bytes(b) => write!(f, "Body::Bytes({} bytes)", b.len()),
            BodyKind::Stream(_) => f.write_str("Body::Stream"),
            BodyKind::Channel(_) => f.write_str("Body::Channel"),
        }
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if let BodyKind::Channel(channel) = &self.kind {
            channel.borrow_mut().close_receiver();
        }
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Body {
        Body {
            kind: BodyKind::Static(text.as_bytes()),
        }
    }
}

impl From<&'static [u8]> for Body {
    fn from(bytes: &'static [u8]) -> Body {
        Body {
            kind: BodyKind::Static(bytes),
        }
    }
}

impl From<String> for Body {
    fn from(text: String) -> Body {
        Body::from(text.into_bytes())
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Body {
        Body {
            kind: BodyKind::Bytes(bytes),
        }
    }
}

/// The state between a [`BodySender`] and the server.
pub(crate) struct Channel {
    queue: VecDeque<Vec<u8>>,
    queued_bytes: usize,
    capacity: usize,
    sender_done: bool,
    receiver_gone: bool,
    sender_waker: Option<Waker>,
    receiver_waker: Option<Waker>,
    /// Flushes asked for, and flushes completed (every byte queued before
    /// the request handed to the kernel).
    flushes_requested: u64,
    flushes_done: u64,
}

/// What the server takes from a channel next.
pub(crate) enum Pulled {
    Chunk(Vec<u8>),
    /// The sender waits for everything so far to reach the kernel.
    Flush,
    End,
}

impl Channel {
    pub(crate) fn poll_pull(&mut self, cx: &mut Context<'_>) -> Poll<Pulled> {
        if let Some(chunk) = self.queue.pop_front() {
            self.queued_bytes -= chunk.len();
            if let Some(waker) = self.sender_waker.take() {
                waker.wake();
            }
            return Poll::Ready(Pulled::Chunk(chunk));
        }
        if self.flushes_requested > self.flushes_done {
            return Poll::Ready(Pulled::Flush);
        }
        if self.sender_done {
            return Poll::Ready(Pulled::End);
        }
        self.receiver_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Everything pulled so far is with the kernel.
    pub(crate) fn flushed(&mut self) {
        self.flushes_done = self.flushes_requested;
        if let Some(waker) = self.sender_waker.take() {
            waker.wake();
        }
    }

    /// The server will take nothing more (the client went away).
    pub(crate) fn close_receiver(&mut self) {
        self.receiver_gone = true;
        self.queue.clear();
        self.queued_bytes = 0;
        if let Some(waker) = self.sender_waker.take() {
            waker.wake();
        }
    }

    fn wake_receiver(&mut self) {
        if let Some(waker) = self.receiver_waker.take() {
            waker.wake();
        }
    }
}

/// Feeds a streamed [`Body`] (see [`Body::channel`]).
///
/// # Examples
///
/// ```
/// use netutil::http::{Body, Request, Response};
///
/// async fn countdown(_request: Request) -> Response {
///     let (mut sender, body) = Body::channel(1024);
///     ioloop::IOLoop::current()
///         .spawn(async move {
///             for n in (1..=3).rev() {
///                 if sender.send(format!("{n}\n")).await.is_err() {
///                     return; // the client went away
///                 }
///             }
///         }) // dropping the sender ends the body
///         .detach();
///     Response::text(200, body)
/// }
/// # let _ = countdown;
/// ```
pub struct BodySender {
    channel: Rc<RefCell<Channel>>,
}

/// The response's connection is gone: nothing more will be sent.
///
/// # Examples
///
/// ```
/// use netutil::http::ClientGone;
///
/// // What a send gives once the client has gone; it converts to io::Error.
/// let err: std::io::Error = ClientGone.into();
/// assert!(err.to_string().contains("client"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientGone;

impl fmt::Display for ClientGone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the client is gone: the response body is not being sent")
    }
}

impl std::error::Error for ClientGone {}

impl From<ClientGone> for io::Error {
    fn from(err: ClientGone) -> io::Error {
        io::Error::new(io::ErrorKind::BrokenPipe, err)
    }
}

impl BodySender {
    /// Queues `chunk`, first waiting while the queue is at its capacity.
    /// An empty chunk is skipped.
    ///
    /// # Errors
    ///
    /// [`ClientGone`] if the connection closed (or the server dropped the
    /// body).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{Body, HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |_request: Request| async move {
    ///         let (mut sender, body) = Body::channel(1024);
    ///         ioloop::IOLoop::current()
    ///             .spawn(async move {
    ///                 let _ = sender.send("a").await; // waits while 1024 bytes are queued
    ///                 let _ = sender.send("b").await;
    ///             })
    ///             .detach();
    ///         Response::new(200).with_body(body)
    ///     },
    ///     HTTPServerOptions::default(),
    /// );
    /// let addr = server.listen(0, Some("127.0.0.1"))?[0];
    /// # // Sends `head` (and `body`) on a new connection; returns the response body.
    /// # fn send(ioloop: &ioloop::IOLoop, addr: std::net::SocketAddr, head: &str, body: &str) -> Result<String, Box<dyn std::error::Error>> {
    /// #     let request = format!("{head}Host: test\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    /// #     let reply = ioloop.run_sync(|| async move {
    /// #         let stream = netutil::IOStream::connect(addr).await?;
    /// #         stream.write(request.as_bytes()).await?;
    /// #         stream.read_until_close().await
    /// #     }, Some(std::time::Duration::from_secs(5)))??;
    /// #     let reply = String::from_utf8(reply)?;
    /// #     Ok(reply.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_owned()))
    /// # }
    /// let reply = send(&ioloop, addr, "GET / HTTP/1.1\r\n", "")?;
    /// assert_eq!(reply, "1\r\na\r\n1\r\nb\r\n0\r\n\r\n"); // chunked
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn send(&mut self, chunk: impl Into<Vec<u8>>) -> Result<(), ClientGone> {
        let chunk = chunk.into();
        std::future::poll_fn(|cx| {
            let mut ch = self.channel.borrow_mut();
            if ch.receiver_gone {
                return Poll::Ready(Err(ClientGone));
            }
            if ch.queued_bytes >= ch.capacity {
                ch.sender_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            Poll::Ready(Ok(()))
        })
        .await?;
        if !chunk.is_empty() {
            let mut ch = self.channel.borrow_mut();
            ch.queued_bytes += chunk.len();
            ch.queue.push_back(chunk);
            ch.wake_receiver();
        }
        Ok(())
    }

    /// Waits until every byte sent so far has been handed to the kernel
    /// (Tornado's `RequestHandler.flush`).
    ///
    /// # Errors
    ///
    /// [`ClientGone`] if the connection closed first.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{Body, HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |_request: Request| async move {
    ///         let (mut sender, body) = Body::channel(1024);
    ///         ioloop::IOLoop::current()
    ///             .spawn(async move {
    ///                 let _ = sender.send("a").await;
    ///                 let _ = sender.flush().await; // until the bytes are with the kernel
    ///                 let _ = sender.send("b").await;
    ///             })
    ///             .detach();
    ///         Response::new(200).with_body(body)
    ///     },
    ///     HTTPServerOptions::default(),
    /// );
    /// let addr = server.listen(0, Some("127.0.0.1"))?[0];
    /// # // Sends `head` (and `body`) on a new connection; returns the response body.
    /// # fn send(ioloop: &ioloop::IOLoop, addr: std::net::SocketAddr, head: &str, body: &str) -> Result<String, Box<dyn std::error::Error>> {
    /// #     let request = format!("{head}Host: test\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    /// #     let reply = ioloop.run_sync(|| async move {
    /// #         let stream = netutil::IOStream::connect(addr).await?;
    /// #         stream.write(request.as_bytes()).await?;
    /// #         stream.read_until_close().await
    /// #     }, Some(std::time::Duration::from_secs(5)))??;
    /// #     let reply = String::from_utf8(reply)?;
    /// #     Ok(reply.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_owned()))
    /// # }
    /// let reply = send(&ioloop, addr, "GET / HTTP/1.1\r\n", "")?;
    /// assert_eq!(reply, "1\r\na\r\n1\r\nb\r\n0\r\n\r\n"); // chunked
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn flush(&mut self) -> Result<(), ClientGone> {
        let target = {
            let mut ch = self.channel.borrow_mut();
            if ch.receiver_gone {
                return Err(ClientGone);
            }
            ch.flushes_requested += 1;
            ch.wake_receiver();
            ch.flushes_requested
        };
        std::future::poll_fn(|cx| {
            let mut ch = self.channel.borrow_mut();
            if ch.flushes_done >= target {
                Poll::Ready(Ok(()))
            } else if ch.receiver_gone {
                Poll::Ready(Err(ClientGone))
            } else {
                ch.sender_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    /// Ends the body (as dropping the sender does).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{Body, HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |_request: Request| async move {
    ///         let (mut sender, body) = Body::channel(1024);
    ///         ioloop::IOLoop::current()
    ///             .spawn(async move {
    ///                 let _ = sender.send("a").await;
    ///                 let _ = sender.send("b").await;
    ///                 sender.finish(); // the body ends (as on drop)
    ///             })
    ///             .detach();
    ///         Response::new(200).with_body(body)
    ///     },
    ///     HTTPServerOptions::default(),
    /// );
    /// let addr = server.listen(0, Some("127.0.0.1"))?[0];
    /// # // Sends `head` (and `body`) on a new connection; returns the response body.
    /// # fn send(ioloop: &ioloop::IOLoop, addr: std::net::SocketAddr, head: &str, body: &str) -> Result<String, Box<dyn std::error::Error>> {
    /// #     let request = format!("{head}Host: test\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    /// #     let reply = ioloop.run_sync(|| async move {
    /// #         let stream = netutil::IOStream::connect(addr).await?;
    /// #         stream.write(request.as_bytes()).await?;
    /// #         stream.read_until_close().await
    /// #     }, Some(std::time::Duration::from_secs(5)))??;
    /// #     let reply = String::from_utf8(reply)?;
    /// #     Ok(reply.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_owned()))
    /// # }
    /// let reply = send(&ioloop, addr, "GET / HTTP/1.1\r\n", "")?;
    /// assert_eq!(reply, "1\r\na\r\n1\r\nb\r\n0\r\n\r\n"); // chunked
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn finish(self) {}

    /// True if the server will take nothing more (the client is gone).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{Body, HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |_request: Request| async move {
    ///         let (mut sender, body) = Body::channel(1024);
    ///         ioloop::IOLoop::current()
    ///             .spawn(async move {
    ///                 if !sender.is_closed() {
    ///                     let _ = sender.send("a").await;
    ///                     let _ = sender.send("b").await;
    ///                 }
    ///             })
    ///             .detach();
    ///         Response::new(200).with_body(body)
    ///     },
    ///     HTTPServerOptions::default(),
    /// );
    /// let addr = server.listen(0, Some("127.0.0.1"))?[0];
    /// # // Sends `head` (and `body`) on a new connection; returns the response body.
    /// # fn send(ioloop: &ioloop::IOLoop, addr: std::net::SocketAddr, head: &str, body: &str) -> Result<String, Box<dyn std::error::Error>> {
    /// #     let request = format!("{head}Host: test\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    /// #     let reply = ioloop.run_sync(|| async move {
    /// #         let stream = netutil::IOStream::connect(addr).await?;
    /// #         stream.write(request.as_bytes()).await?;
    /// #         stream.read_until_close().await
    /// #     }, Some(std::time::Duration::from_secs(5)))??;
    /// #     let reply = String::from_utf8(reply)?;
    /// #     Ok(reply.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_owned()))
    /// # }
    /// let reply = send(&ioloop, addr, "GET / HTTP/1.1\r\n", "")?;
    /// assert_eq!(reply, "1\r\na\r\n1\r\nb\r\n0\r\n\r\n"); // chunked
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.channel.borrow().receiver_gone
    }
}

impl Drop for BodySender {
    fn drop(&mut self) {
        let mut ch = self.channel.borrow_mut();
        ch.sender_done = true;
        ch.wake_receiver();
    }
}

impl fmt::Debug for BodySender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ch = self.channel.borrow();
        f.debug_struct("BodySender")
            .field("queued_bytes", &ch.queued_bytes)
            .field("capacity", &ch.capacity)
            .field("closed", &ch.receiver_gone)
            .finish()
    }
}
