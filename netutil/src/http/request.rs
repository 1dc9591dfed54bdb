//! What a handler gets: [`Request`], its [`Headers`] and its
//! [`RequestBody`].

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::Stream;

use crate::PeerAddr;
use crate::http::parse::{BodyDecoder, Field, HttpError, Limits, parse_head};
use crate::http::{Method, Version};
use crate::stream::iostream::IOStream;

/// An HTTP request, as a handler receives it: the request line, the
/// headers and the peer's address at once, and the body as it arrives
/// (see [`RequestBody`]).
///
/// # Examples
///
/// ```
/// use netutil::http::{Request, Response};
///
/// async fn hello(request: Request) -> Response {
///     let name = request.query_argument("name").unwrap_or_else(|| "world".into());
///     let agent = request.headers().get("user-agent").unwrap_or("unknown");
///     Response::text(200, format!("hello, {name} (from {agent})"))
/// }
/// # let _ = hello;
/// ```
pub struct Request {
    /// The request line and header block, as received.
    raw: Rc<Vec<u8>>,
    method: Method,
    target: std::ops::Range<usize>,
    /// Where the path ends in `raw` (at the `?`, or the target's end).
    path_end: usize,
    version: Version,
    headers: Headers,
    peer: Rc<PeerAddr>,
    body: RequestBody,
}

impl Request {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        raw: Rc<Vec<u8>>,
        method: Method,
        target: std::ops::Range<usize>,
        version: Version,
        peer: Rc<PeerAddr>,
        body: RequestBody,
    ) -> Request {
        let path_end = raw[target.clone()]
            .iter()
            .position(|&b| b == b'?')
            .map_or(target.end, |at| target.start + at);
        Request {
            raw,
            method,
            target,
            path_end,
            version,
            headers: Headers {
                fields: std::cell::OnceCell::new(),
            },
            peer,
            body,
        }
    }

    /// The method.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |request: Request| async move { Response::text(200, request.method().as_str().to_owned()) },
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
    /// let reply = send(&ioloop, addr, "DELETE /item/7 HTTP/1.1\r\n", "")?;
    /// assert_eq!(reply, "DELETE");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request target as sent: the path and query (`/a/b?x=1`), or
    /// an absolute URL, or `*`.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |request: Request| async move { Response::text(200, request.target().to_owned()) },
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
    /// let reply = send(&ioloop, addr, "GET /search?q=rust HTTP/1.1\r\n", "")?;
    /// assert_eq!(reply, "/search?q=rust");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn target(&self) -> &str {
        // The parser accepts only visible ASCII in the target.
        std::str::from_utf8(&self.raw[self.target.clone()]).unwrap_or("")
    }

    /// The path part of the target (before `?`), not decoded.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |request: Request| async move { Response::text(200, request.path().to_owned()) },
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
    /// let reply = send(&ioloop, addr, "GET /search?q=rust HTTP/1.1\r\n", "")?;
    /// assert_eq!(reply, "/search");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn path(&self) -> &str {
        // The parser accepts only visible ASCII in the target.
        std::str::from_utf8(&self.raw[self.target.start..self.path_end]).unwrap_or("")
    }

    /// The query part of the target (after `?`), not decoded; empty if
    /// there is none.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |request: Request| async move { Response::text(200, request.query().to_owned()) },
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
    /// let reply = send(&ioloop, addr, "GET /search?q=rust&page=2 HTTP/1.1\r\n", "")?;
    /// assert_eq!(reply, "q=rust&page=2");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn query(&self) -> &str {
        self.target().split_once('?').map_or("", |(_, query)| query)
    }

    /// The query's parameters, percent-decoded (`+` is a space), in order,
    /// repeats kept (Tornado's `query_arguments`).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |request: Request| async move { Response::text(200, format!("{:?}", request.query_arguments())) },
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
    /// let reply = send(&ioloop, addr, "GET /?tag=a&tag=b HTTP/1.1\r\n", "")?;
    /// assert_eq!(reply, r#"[("tag", "a"), ("tag", "b")]"#);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn query_arguments(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// The first value of query parameter `name`, percent-decoded
    /// (Tornado's `get_query_argument`).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |request: Request| async move { Response::text(200, request.query_argument("name").unwrap_or_default()) },
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
    /// let reply = send(&ioloop, addr, "GET /hello?name=J%C3%BCrgen HTTP/1.1\r\n", "")?;
    /// assert_eq!(reply, "Jürgen"); // percent-decoded
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn query_argument(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query().as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The protocol version.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |request: Request| async move { Response::text(200, request.version().as_str()) },
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
    /// let reply = send(&ioloop, addr, "GET / HTTP/1.0\r\n", "")?;
    /// assert_eq!(reply, "HTTP/1.0");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn version(&self) -> Version {
        self.version
    }

    /// The header fields.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |request: Request| async move { Response::text(200, request.headers().get("user-agent").unwrap_or("none").to_owned()) },
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
    /// let reply = send(&ioloop, addr, "GET / HTTP/1.1\r\nUser-Agent: doc\r\n", "")?;
    /// assert_eq!(reply, "doc"); // names are case-insensitive
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn headers(&self) -> HeaderView<'_> {
        HeaderView {
            raw: &self.raw,
            fields: self.headers.fields.get_or_init(|| fields_of(&self.raw)),
        }
    }

    /// The peer's address (IP and port, or a Unix socket's).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |request: Request| async move { Response::text(200, request.peer().as_inet().map(|a| a.ip().to_string()).unwrap_or_default()) },
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
    /// assert_eq!(reply, "127.0.0.1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn peer(&self) -> &PeerAddr {
        &self.peer
    }

    /// The body, to read as it arrives or whole.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |mut request: Request| async move {
    ///         match request.body().read_all().await {
    ///             Ok(bytes) => Response::text(200, format!("{} bytes", bytes.len())),
    ///             Err(err) => Response::error(400, &err.to_string()),
    ///         }
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
    /// let reply = send(&ioloop, addr, "POST /upload HTTP/1.1\r\n", "hello")?;
    /// assert_eq!(reply, "5 bytes");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn body(&mut self) -> &mut RequestBody {
        &mut self.body
    }

    /// Takes the body, leaving an empty one.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |mut request: Request| async move {
    ///         let mut body = request.take_body(); // own it, apart from the request
    ///         let text = body.read_all().await.unwrap_or_default();
    ///         Response::text(200, format!("{} said {}", request.path(), String::from_utf8_lossy(&text)))
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
    /// let reply = send(&ioloop, addr, "POST /echo HTTP/1.1\r\n", "hi")?;
    /// assert_eq!(reply, "/echo said hi");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take_body(&mut self) -> RequestBody {
        std::mem::replace(&mut self.body, RequestBody::empty())
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("target", &self.target())
            .field("version", &self.version)
            .field("headers", &self.headers())
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

/// The header fields of a request, in the order received: found in the
/// raw head when first asked for (most handlers that answer at once never
/// look at most of them).
struct Headers {
    fields: std::cell::OnceCell<Vec<Field>>,
}

/// Where the fields of a head that the server has parsed lie in it (the
/// parser's own ranges; the head passed every check when it arrived).
fn fields_of(raw: &[u8]) -> Vec<Field> {
    let unbounded = Limits {
        max_header_bytes: usize::MAX,
        max_body_bytes: usize::MAX,
    };
    let mut fields = Vec::new();
    if parse_head(raw, &unbounded, Some(&mut fields)).is_err() {
        fields.clear();
    }
    fields
}

/// A request's header fields, read-only: names compare case-insensitively,
/// repeated fields are all kept, in order.
///
/// # Examples
///
/// ```
/// use netutil::http::{Request, Response};
///
/// async fn handler(request: Request) -> Response {
///     let headers = request.headers();
///     // Case does not matter; the first of repeated fields:
///     let kind = headers.get("Content-Type").unwrap_or("none");
///     // Every `Accept` field, in order:
///     let accepts: Vec<&str> = headers.get_all("accept").collect();
///     Response::text(200, format!("{kind} {accepts:?} ({} fields)", headers.len()))
/// }
/// # let _ = handler;
/// ```
#[derive(Clone, Copy)]
pub struct HeaderView<'a> {
    raw: &'a [u8],
    fields: &'a [Field],
}

impl<'a> HeaderView<'a> {
    /// The value of the first field named `name` (any case), if any and if
    /// it is UTF-8 (see [`get_bytes`](HeaderView::get_bytes) for others).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |request: Request| async move { Response::text(200, request.headers().get("x-token").unwrap_or("-").to_owned()) },
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
    /// let reply = send(&ioloop, addr, "GET / HTTP/1.1\r\nX-Token: abc\r\n", "")?;
    /// assert_eq!(reply, "abc");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.get_bytes(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The raw value of the first field named `name` (any case).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |request: Request| async move { Response::text(200, request.headers().get_bytes("x-raw").unwrap_or(b"-").to_vec()) },
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
    /// let reply = send(&ioloop, addr, "GET / HTTP/1.1\r\nX-Raw: abc\r\n", "")?;
    /// assert_eq!(reply, "abc");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_bytes(&self, name: &str) -> Option<&'a [u8]> {
        self.iter_bytes()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The values of every field named `name` (any case), in order; values
    /// that are not UTF-8 are skipped.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |request: Request| async move { Response::text(200, request.headers().get_all("accept").collect::<Vec<_>>().join(",")) },
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
    /// let reply = send(&ioloop, addr, "GET / HTTP/1.1\r\nAccept: a\r\nAccept: b\r\n", "")?;
    /// assert_eq!(reply, "a,b");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_all(&self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// True if a field named `name` (any case) is present.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |request: Request| async move { Response::text(200, request.headers().contains("cookie").to_string()) },
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
    /// let reply = send(&ioloop, addr, "GET / HTTP/1.1\r\nCookie: x=1\r\n", "")?;
    /// assert_eq!(reply, "true");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn contains(&self, name: &str) -> bool {
        self.get_bytes(name).is_some()
    }

    /// Every field as `(name, value)`, in order, as sent; values that are
    /// not UTF-8 are skipped.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |request: Request| async move { Response::text(200, request.headers().iter().map(|(n, _)| n.to_ascii_lowercase()).collect::<Vec<_>>().join(",")) },
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
    /// assert_eq!(reply, "host,connection,content-length");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.iter_bytes()
            .filter_map(|(n, v)| Some((n, std::str::from_utf8(v).ok()?)))
    }

    /// Every field as `(name, raw value)`, in order, as sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |request: Request| async move { Response::text(200, request.headers().iter_bytes().map(|(_, v)| v.len()).sum::<usize>().to_string()) },
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
    /// assert_eq!(reply, "10"); // "test", "close", "0"
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn iter_bytes(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        let raw = self.raw;
        self.fields.iter().map(move |f| {
            // Names are tokens (ASCII), checked by the parser.
            let name = std::str::from_utf8(&raw[f.name.clone()]).unwrap_or("");
            (name, &raw[f.value.clone()])
        })
    }

    /// The number of fields.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |request: Request| async move { Response::text(200, request.headers().len().to_string()) },
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
    /// let reply = send(&ioloop, addr, "GET / HTTP/1.1\r\nX-A: 1\r\n", "")?;
    /// assert_eq!(reply, "4");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True if there are no fields.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |request: Request| async move { Response::text(200, request.headers().is_empty().to_string()) },
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
    /// assert_eq!(reply, "false");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

impl fmt::Debug for HeaderView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.iter_bytes()
                    .map(|(n, v)| (n, String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

/// Why a request body could not be read.
///
/// # Examples
///
/// ```
/// use netutil::http::{BodyError, HTTPServer, HTTPServerOptions, Request, Response};
///
/// let ioloop = ioloop::IOLoop::new()?;
/// let server = HTTPServer::new(
///     |mut request: Request| async move {
///         match request.body().read_all().await {
///             Ok(_) => Response::text(200, "ok"),
///             // Too large: the server answers 413 itself, whatever this says.
///             Err(BodyError::Invalid { status, .. }) => Response::new(status),
///             Err(err) => Response::error(400, &err.to_string()),
///         }
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
/// let reply = send(&ioloop, addr, "POST / HTTP/1.1\r\n", "small")?;
/// assert_eq!(reply, "ok");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum BodyError {
    /// The body is malformed or too large: the server answers with this
    /// status (400 or 413) and closes the connection, whatever the handler
    /// returns.
    Invalid {
        /// The status the client gets.
        status: u16,
        /// Why, in a few words.
        reason: &'static str,
    },
    /// The client sent nothing for the idle timeout, or sent the body
    /// slower than the minimum rate.
    TimedOut(Duration),
    /// The connection closed before the body was complete.
    Closed(io::Error),
}

impl BodyError {
    fn to_io(&self) -> io::Error {
        match self {
            BodyError::Invalid { status, reason } => io::Error::new(
                io::ErrorKind::InvalidData,
                format!("request body: {status} {reason}"),
            ),
            BodyError::TimedOut(after) => io::Error::new(
                io::ErrorKind::TimedOut,
                format!("request body: no progress or too slow after {after:?}"),
            ),
            BodyError::Closed(err) => io::Error::new(err.kind(), err.to_string()),
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::Invalid { status, reason } => {
                write!(f, "invalid request body: {status} {reason}")
            }
            BodyError::TimedOut(after) => {
                write!(f, "request body timed out after {after:?}")
            }
            BodyError::Closed(err) => write!(f, "connection closed during the request body: {err}"),
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BodyError::Closed(err) => Some(err),
            _ => None,
        }
    }
}

impl From<BodyError> for io::Error {
    fn from(err: BodyError) -> io::Error {
        err.to_io()
    }
}

/// The deadlines a body is read under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyTimeouts {
    /// No byte for this long: the client stalled.
    pub(crate) idle: Duration,
    /// The time the body may take waiting for the client, on top of what
    /// `min_rate` earns.
    pub(crate) grace: Duration,
    /// Bytes per second that extend the allowance (0: no rate check).
    pub(crate) min_rate: u64,
}

/// The state a body shares between the handler reading it and the
/// connection that owns the stream.
pub(crate) struct BodyState {
    pub(crate) stream: IOStream,
    pub(crate) decoder: BodyDecoder,
    /// `Expect: 100-continue` not answered yet.
    pub(crate) continue_pending: bool,
    /// How the body failed, if it did (the connection then answers with
    /// the status, or closes).
    pub(crate) failed: Option<FailedBody>,
    pub(crate) timeouts: BodyTimeouts,
    /// Bytes decoded so far.
    pub(crate) received: u64,
    /// Time spent waiting for the client so far.
    pub(crate) waited: Duration,
    /// The loop, for deadlines.
    pub(crate) ioloop: ioloop::IOLoop,
    /// A wait in progress: its deadline timer and when it started. Kept
    /// here, not in the reader, so a reader dropped mid-wait leaves the
    /// time it waited counted for the next one.
    pub(crate) wait: Option<(Pin<Box<ioloop::Sleep>>, Instant)>,
}

/// How a body failed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FailedBody {
    /// Answer with this status and close.
    Invalid(HttpError),
    /// Close without an answer.
    Gone,
}

impl BodyState {
    /// True once the whole body has been decoded.
    pub(crate) fn is_done(&self) -> bool {
        self.decoder.is_done()
    }

    /// Decodes what the stream has buffered into `out`.
    fn decode_buffered(&mut self, out: &mut Vec<u8>) -> Result<(), BodyError> {
        let decoder = &mut self.decoder;
        let before = out.len();
        let decoded = self.stream.with_buffer(|buf| decoder.decode(buf, out));
        match decoded {
            Ok(d) => {
                self.stream.consume(d.consumed);
                self.received += (out.len() - before) as u64;
                Ok(())
            }
            Err(error) => {
                self.failed = Some(FailedBody::Invalid(error));
                Err(BodyError::Invalid {
                    status: error.status,
                    reason: error.reason,
                })
            }
        }
    }

    /// The longest the next wait for the client may take: the idle
    /// timeout, or what is left of the body's allowance if less.
    fn next_wait(&self) -> Result<Duration, BodyError> {
        let t = &self.timeouts;
        let earned = if t.min_rate == 0 {
            Duration::MAX
        } else {
            t.grace.saturating_add(Duration::from_secs_f64(
                self.received as f64 / t.min_rate as f64,
            ))
        };
        let left = earned.saturating_sub(self.waited);
        if left.is_zero() {
            self.fail_timeout()
        } else {
            Ok(left.min(t.idle))
        }
    }

    fn fail_timeout(&self) -> Result<Duration, BodyError> {
        Err(BodyError::TimedOut(self.waited))
    }
}

/// A request's body, read as it arrives (Tornado's `stream_request_body`)
/// with [`chunk`](RequestBody::chunk) or as a [`Stream`], or whole with
/// [`read_all`](RequestBody::read_all).
///
/// Reading is back-pressure: the server reads the body from the socket
/// only as the handler asks for it, so a handler that reads slowly slows
/// the client down instead of buffering. A body the handler does not read
/// is read and discarded after the response (within the same limits), so
/// the connection can carry the next request.
///
/// Limits: the body's size ([`HTTPServerOptions::max_body_bytes`](crate::http::HTTPServerOptions::max_body_bytes),
/// 413 beyond), the time the client may stay silent (the idle timeout),
/// and a minimum rate ([`HTTPServerOptions::body_timeout`](crate::http::HTTPServerOptions::body_timeout),
/// [`min_body_rate`](crate::http::HTTPServerOptions::min_body_rate)).
///
/// # Examples
///
/// ```
/// use netutil::http::{Request, Response};
///
/// // Counts the body's bytes as they arrive, holding one chunk at a time.
/// async fn count(mut request: Request) -> Response {
///     let mut total = 0;
///     loop {
///         match request.body().chunk().await {
///             Ok(Some(chunk)) => total += chunk.len(),
///             Ok(None) => break,
///             Err(err) => return Response::text(400, err.to_string()),
///         }
///     }
///     Response::text(200, format!("{total} bytes\n"))
/// }
/// # let _ = count;
/// ```
pub struct RequestBody {
    state: Option<Rc<RefCell<BodyState>>>,
}

impl RequestBody {
    /// A body with no bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::RequestBody;
    ///
    /// let body = RequestBody::empty();
    /// assert!(body.is_complete());
    /// ```
    pub fn empty() -> RequestBody {
        RequestBody { state: None }
    }

    pub(crate) fn streaming(state: Rc<RefCell<BodyState>>) -> RequestBody {
        RequestBody { state: Some(state) }
    }

    /// True if the whole body has been read (always, for a request
    /// without one).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |mut request: Request| async move {
    ///         let body = request.body();
    ///         let before = body.is_complete();
    ///         let _ = body.read_all().await;
    ///         Response::text(200, format!("{before} {}", body.is_complete()))
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
    /// let reply = send(&ioloop, addr, "POST / HTTP/1.1\r\n", "data")?;
    /// assert_eq!(reply, "false true");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_complete(&self) -> bool {
        self.state.as_ref().is_none_or(|s| s.borrow().is_done())
    }

    /// The next bytes of the body as they arrive; `Ok(None)` at its end.
    /// Each call reads from the socket at most once.
    ///
    /// # Errors
    ///
    /// A [`BodyError`]: malformed or too large (the server answers 400 or
    /// 413 and closes), too slow, or the connection closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |mut request: Request| async move {
    ///         let mut total = 0;
    ///         // Bytes as they arrive, without holding the whole body.
    ///         while let Ok(Some(bytes)) = request.body().chunk().await {
    ///             total += bytes.len();
    ///         }
    ///         Response::text(200, total.to_string())
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
    /// let reply = send(&ioloop, addr, "POST / HTTP/1.1\r\n", "hello world")?;
    /// assert_eq!(reply, "11");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn chunk(&mut self) -> impl Future<Output = Result<Option<Vec<u8>>, BodyError>> + '_ {
        std::future::poll_fn(move |cx| self.poll_chunk(cx))
    }

    /// The rest of the body, whole (up to the server's body limit).
    ///
    /// # Errors
    ///
    /// As [`chunk`](RequestBody::chunk).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |mut request: Request| async move {
    ///         let body = request.body().read_all().await.unwrap_or_default();
    ///         Response::text(200, body.to_ascii_uppercase())
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
    /// let reply = send(&ioloop, addr, "POST / HTTP/1.1\r\n", "shout")?;
    /// assert_eq!(reply, "SHOUT");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn read_all(&mut self) -> Result<Vec<u8>, BodyError> {
        let mut body = Vec::new();
        while let Some(chunk) = self.chunk().await? {
            if body.is_empty() {
                body = chunk;
            } else {
                body.extend_from_slice(&chunk);
            }
        }
        Ok(body)
    }

    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Vec<u8>>, BodyError>> {
        let Some(state) = self.state.clone() else {
            return Poll::Ready(Ok(None));
        };
        let mut st = state.borrow_mut();
        let st = &mut *st;
        loop {
            if let Some(FailedBody::Invalid(e)) = st.failed {
                return Poll::Ready(Err(BodyError::Invalid {
                    status: e.status,
                    reason: e.reason,
                }));
            }
            if st.is_done() {
                st.wait = None;
                return Poll::Ready(Ok(None));
            }
            let mut out = Vec::new();
            st.decode_buffered(&mut out)?;
            if !out.is_empty() {
                st.wait = None;
                return Poll::Ready(Ok(Some(out)));
            }
            if st.is_done() {
                st.wait = None;
                return Poll::Ready(Ok(None));
            }
            if st.continue_pending {
                // The client waits for this before it sends the body. The
                // connection flushed every earlier response before calling
                // the handler, so this goes out in order.
                st.continue_pending = false;
                drop(st.stream.write(b"HTTP/1.1 100 Continue\r\n\r\n"));
            }
            // Wait for more input, under the body's deadlines.
            if st.wait.is_none() {
                let limit = match st.next_wait() {
                    Ok(limit) => limit,
                    Err(err) => {
                        st.failed = Some(FailedBody::Gone);
                        return Poll::Ready(Err(err));
                    }
                };
                let now = Instant::now();
                st.wait = Some((Box::pin(st.ioloop.sleep_until(now + limit)), now));
            }
            match st.stream.poll_fill(cx) {
                Poll::Ready(Ok(_)) => {
                    let (_, started) = st.wait.take().expect("waiting");
                    st.waited += started.elapsed();
                    continue;
                }
                Poll::Ready(Err(err)) => {
                    st.wait = None;
                    st.failed = Some(FailedBody::Gone);
                    return Poll::Ready(Err(BodyError::Closed(err)));
                }
                Poll::Pending => {}
            }
            let (sleep, started) = st.wait.as_mut().expect("waiting");
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            // The deadline passed; input that arrived while the loop was
            // busy still counts.
            st.waited += started.elapsed();
            st.wait = None;
            if st.stream.read_now() > 0 {
                continue;
            }
            st.failed = Some(FailedBody::Gone);
            let waited = st.waited;
            return Poll::Ready(Err(BodyError::TimedOut(waited)));
        }
    }
}

impl Stream for RequestBody {
    type Item = Result<Vec<u8>, BodyError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_chunk(cx).map(Result::transpose)
    }
}

impl fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBody")
            .field("complete", &self.is_complete())
            .finish_non_exhaustive()
    }
}
