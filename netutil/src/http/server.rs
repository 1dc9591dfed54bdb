//! [`HTTPServer`]: the listening side, its options and its connections.

use std::cell::{Cell, OnceCell, RefCell};
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};
use std::time::Duration;

use ioloop::{IOLoop, TimeoutHandle};
use slab::Slab;

use crate::http::conn;
use crate::http::parse::Limits;
use crate::http::request::Request;
use crate::http::response::Response;
use crate::http::wire::DateCache;
use crate::{AnyListener, BindOptions, IOStream, StreamOptions, TCPServer};

/// What answers requests: an async function from a [`Request`] to a
/// [`Response`], run on the loop (it need not be `Send`).
///
/// Any `Fn(Request) -> impl Future<Output = Response>` is a handler, so a
/// closure or an `async fn` will do; a boxed
/// `dyn Fn(Request) -> Pin<Box<dyn Future<Output = Response>>>` is one too,
/// for handlers chosen at run time.
///
/// A handler's future may await anything on the loop: timeouts, streams,
/// [`IOLoop::run_in_executor`](ioloop::IOLoop::run_in_executor). If it
/// panics, the client gets a 500 and the connection closes; the panic is
/// logged with the request line, and the loop and the other connections
/// go on. If the client goes away first (the connection closes, or the
/// client shuts down its sending side), the future is dropped.
///
/// # Examples
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use netutil::http::{Handler, HTTPServer, HTTPServerOptions, Request, Response};
///
/// // A handler with state of its own (closures and async fns are handlers too).
/// struct Hello {
///     greeting: &'static str,
/// }
///
/// impl Handler for Hello {
///     type Future = Pin<Box<dyn Future<Output = Response>>>;
///
///     fn call(&self, _request: Request) -> Self::Future {
///         let greeting = self.greeting;
///         Box::pin(async move { Response::text(200, greeting) })
///     }
/// }
///
/// let ioloop = ioloop::IOLoop::new()?;
/// let server = HTTPServer::new(
///     Hello { greeting: "hi" },
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
/// assert_eq!(reply, "hi");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Handler: 'static {
    /// The future of one response.
    type Future: Future<Output = Response> + 'static;

    /// Starts answering `request`.
    fn call(&self, request: Request) -> Self::Future;
}

impl<F, Fut> Handler for F
where
    F: Fn(Request) -> Fut + 'static,
    Fut: Future<Output = Response> + 'static,
{
    type Future = Fut;

    fn call(&self, request: Request) -> Fut {
        self(request)
    }
}

/// How an [`HTTPServer`] reads requests and what it tolerates. Every
/// buffer and wait is bounded; the defaults suit a server on a network.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use netutil::http::HTTPServerOptions;
///
/// let options = HTTPServerOptions {
///     max_body_bytes: 100 << 20,
///     idle_timeout: Duration::from_secs(30),
///     ..HTTPServerOptions::default()
/// };
/// # let _ = options;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HTTPServerOptions {
    /// The most bytes of a request line and headers (431 beyond). Default
    /// 64 KiB.
    pub max_header_bytes: usize,
    /// The most bytes of a request body (413 beyond, as soon as a length
    /// or chunk size announces it). Default 10 MiB.
    pub max_body_bytes: usize,
    /// How long a request head may take to arrive, from its first byte (or
    /// from the connection's start); then 408 and close. Default 10 s.
    pub header_timeout: Duration,
    /// How long a keep-alive connection may sit idle between requests, and
    /// how long a body read or a response write may make no progress; then
    /// the connection closes. Default 60 s.
    pub idle_timeout: Duration,
    /// The time a request body may spend arriving, on top of one second per
    /// [`min_body_rate`](HTTPServerOptions::min_body_rate) bytes received
    /// (so a body trickled byte by byte cannot hold a connection for
    /// long). Time the handler spends not reading does not count. Default
    /// 10 s.
    pub body_timeout: Duration,
    /// The slowest a body may arrive, in bytes per second, beyond
    /// [`body_timeout`](HTTPServerOptions::body_timeout); 0 turns the rate
    /// check off. Default 1024.
    pub min_body_rate: u64,
    /// The most response bytes rendered ahead of what the client has read
    /// (pipelined responses, streamed bodies). Default 64 KiB.
    pub max_write_ahead: usize,
    /// The most connections open at once: beyond it the oldest idle
    /// keep-alive connection is closed to make room, or, if none is idle,
    /// the new one gets 503 and is closed. Default 16,384.
    pub max_connections: usize,
    /// How long a graceful [`shutdown`](HTTPServer::shutdown) waits for
    /// requests in flight. Default 10 s.
    pub shutdown_grace: Duration,
}

impl Default for HTTPServerOptions {
    fn default() -> Self {
        HTTPServerOptions {
            max_header_bytes: 64 * 1024,
            max_body_bytes: 10 * 1024 * 1024,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(10),
            min_body_rate: 1024,
            max_write_ahead: 64 * 1024,
            max_connections: 16_384,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Idle connections closed at a time when descriptors run out.
const SHED_BATCH: usize = 4;

/// The bytes one read asks for; the read buffer holds a header block plus
/// one read.
pub(crate) const READ_CHUNK: usize = 64 * 1024;

/// An HTTP/1.1 server on the loop (Tornado's `HTTPServer`): connections
/// accepted by a [`TCPServer`], requests parsed with `httparse`, answered
/// by a [`Handler`] in order, with keep-alive and pipelining, bounded
/// buffers, deadlines and a graceful shutdown. Cheap to clone (shared
/// state).
///
/// # Examples
///
/// ```no_run
/// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
///
/// let ioloop = ioloop::IOLoop::new()?;
/// let server = HTTPServer::new(
///     |request: Request| async move {
///         Response::text(200, format!("you asked for {}\n", request.path()))
///     },
///     HTTPServerOptions::default(),
/// );
/// for addr in server.listen(8888, Some("127.0.0.1"))? {
///     println!("listening on http://{addr}");
/// }
/// ioloop.start()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct HTTPServer {
    shared: Rc<ServerState>,
}

/// What the server and its connections share: the options, the registry
/// of open connections, the cached `Date` value and the shutdown state.
pub(crate) struct ServerState {
    pub(crate) options: HTTPServerOptions,
    pub(crate) limits: Limits,
    /// The loop, fixed when the server starts accepting (after any fork).
    ioloop: OnceCell<IOLoop>,
    tcp: TCPServer,
    pub(crate) date: RefCell<DateCache>,
    date_timer: Cell<Option<TimeoutHandle>>,
    /// Every open connection.
    pub(crate) connections: RefCell<Slab<OpenConnection>>,
    /// Numbers idle periods, so the oldest idle connection is the one with
    /// the smallest number.
    idle_clock: Cell<u64>,
    pub(crate) shutting_down: Cell<bool>,
    /// Connections closed for lack of descriptors in this episode (since
    /// the last second without any), for one log line per episode.
    shed_episode: Cell<Option<usize>>,
    /// Shedding happened in the current second.
    shed_recently: Cell<bool>,
    /// Woken when the last connection ends during a shutdown.
    drained: RefCell<Option<Waker>>,
}

/// A connection in the registry.
pub(crate) struct OpenConnection {
    pub(crate) stream: IOStream,
    /// 0 while a request is in progress; otherwise the idle period's
    /// number (a keep-alive connection waiting for its next request).
    pub(crate) idle_since: Cell<u64>,
}

impl HTTPServer {
    /// A server whose requests `handler` answers, with `options`. Nothing
    /// listens until [`listen`](HTTPServer::listen),
    /// [`add_sockets`](HTTPServer::add_sockets) or
    /// [`bind`](HTTPServer::bind) + [`start`](HTTPServer::start); the loop
    /// is the current one at that point.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |request: Request| async move {
    ///         Response::text(200, format!("hello {}", request.path()))
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
    /// let reply = send(&ioloop, addr, "GET /world HTTP/1.1\r\n", "")?;
    /// assert_eq!(reply, "hello /world");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new<H: Handler>(handler: H, options: HTTPServerOptions) -> HTTPServer {
        let stream_options = StreamOptions::new()
            .max_buffer_size(options.max_header_bytes + READ_CHUNK)
            .read_chunk_size(READ_CHUNK)
            // The server bounds what it writes ahead itself.
            .max_write_buffer_size(usize::MAX / 2)
            .half_close(true);
        let handler = Rc::new(handler);
        let shared = Rc::new_cyclic(|weak: &Weak<ServerState>| {
            let on_exhausted = weak.clone();
            let weak = weak.clone();
            let tcp = TCPServer::with_options(stream_options, move |stream, peer| {
                let shared = weak.upgrade();
                let handler = Rc::clone(&handler);
                async move {
                    if let Some(shared) = shared {
                        conn::serve(shared, handler, stream, peer).await;
                    }
                }
            });
            // Out of descriptors: idle keep-alive connections make room,
            // the longest idle first.
            tcp.set_descriptors_exhausted_callback(move || {
                if let Some(shared) = on_exhausted.upgrade() {
                    shared.on_descriptors_exhausted();
                }
            });
            ServerState {
                limits: Limits {
                    max_header_bytes: options.max_header_bytes,
                    max_body_bytes: options.max_body_bytes,
                },
                options,
                ioloop: OnceCell::new(),
                tcp,
                date: RefCell::new(DateCache::new(chrono::Utc::now())),
                date_timer: Cell::new(None),
                connections: RefCell::new(Slab::new()),
                idle_clock: Cell::new(0),
                shutting_down: Cell::new(false),
                shed_episode: Cell::new(None),
                shed_recently: Cell::new(false),
                drained: RefCell::new(None),
            }
        });
        HTTPServer { shared }
    }

    /// Serves HTTPS with `tls` on the sockets added afterwards (`None`:
    /// plain HTTP, the default): call it before
    /// [`listen`](HTTPServer::listen), [`add_sockets`](HTTPServer::add_sockets)
    /// or [`start`](HTTPServer::start). Everything else (keep-alive,
    /// pipelining, limits, timeouts, shutdown) is the same over TLS. As
    /// [`TCPServer::set_tls`]: each handshake runs on the loop within its
    /// timeout, and a connection reaches the server only once it completed.
    /// Offer ALPN `http/1.1` through
    /// [`ServerTls::alpn_protocols`](crate::tls::ServerTls::alpn_protocols).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    /// use netutil::tls::ServerTls;
    ///
    /// async fn hello(_: Request) -> Response {
    ///     Response::text(200, "hello\n")
    /// }
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(hello, HTTPServerOptions::default());
    /// server.set_tls(Some(
    ///     ServerTls::from_pem_files("cert.pem", "key.pem")?.alpn_protocols([b"http/1.1"]),
    /// ));
    /// server.listen(8443, Some("127.0.0.1"))?;
    /// ioloop.start()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn set_tls(&self, tls: Option<crate::tls::ServerTls>) {
        self.shared.tcp.set_tls(tls);
    }

    /// The options.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |_request: Request| async move { Response::text(200, "hello") },
    ///     HTTPServerOptions::default(),
    /// );
    /// let addr = server.listen(0, Some("127.0.0.1"))?[0];
    /// assert_eq!(server.options().max_header_bytes, HTTPServerOptions::default().max_header_bytes);
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
    /// assert_eq!(reply, "hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn options(&self) -> &HTTPServerOptions {
        &self.shared.options
    }

    /// Binds `port` on `address` (every interface if `None`) and starts
    /// accepting on the current loop. Returns the bound addresses, whose
    /// port is the chosen one when `port` is 0.
    ///
    /// # Errors
    ///
    /// An `io::Error` naming the address if it cannot be bound.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |_request: Request| async move { Response::text(200, "hello") },
    ///     HTTPServerOptions::default(),
    /// );
    /// // Port 0: the kernel picks one; the bound addresses come back.
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
    /// assert_eq!(reply, "hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn listen(&self, port: u16, address: Option<&str>) -> io::Result<Vec<SocketAddr>> {
        let addrs = self.shared.tcp.listen(port, address)?;
        self.activate();
        Ok(addrs)
    }

    /// Binds a Unix-domain socket at `path` (mode 0o600 is typical;
    /// see [`bind_unix_socket`](crate::bind_unix_socket)) and starts
    /// accepting on it.
    ///
    /// # Errors
    ///
    /// As [`bind_unix_socket`](crate::bind_unix_socket).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |_request: Request| async move { Response::text(200, "hello") },
    ///     HTTPServerOptions::default(),
    /// );
    /// let path = std::env::temp_dir().join(format!("netutil-doc-{}-h.sock", std::process::id()));
    /// server.listen_unix(&path, 0o600)?;
    /// let reply = ioloop.run_sync(|| async {
    ///     let stream = netutil::IOStream::connect_unix(&path).await?;
    ///     stream.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await?;
    ///     stream.read_until_close().await
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// assert!(reply.ends_with(b"\r\n\r\nhello"));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn listen_unix(&self, path: impl AsRef<Path>, mode: u32) -> io::Result<()> {
        let listener = crate::bind_unix_socket(path, mode, crate::DEFAULT_BACKLOG)?;
        self.add_sockets([listener])
    }

    /// Starts accepting on sockets bound beforehand (for example before
    /// forking worker processes with [`fork_processes`](crate::fork_processes)).
    ///
    /// # Errors
    ///
    /// An `io::Error` if a socket cannot be registered with the loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |_request: Request| async move { Response::text(200, "hello") },
    ///     HTTPServerOptions::default(),
    /// );
    /// let listeners = netutil::bind_sockets(0, Some("127.0.0.1"))?;
    /// let addr = listeners[0].local_addr()?;
    /// server.add_sockets(listeners)?;
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
    /// assert_eq!(reply, "hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_sockets<L: Into<AnyListener>>(
        &self,
        listeners: impl IntoIterator<Item = L>,
    ) -> io::Result<()> {
        self.shared.tcp.add_sockets(listeners)?;
        self.activate();
        Ok(())
    }

    /// Binds sockets for a later [`start`](HTTPServer::start) (Tornado's
    /// `bind`), as [`TCPServer::bind`] does (on Linux with `SO_REUSEPORT`,
    /// so each worker gets a socket of its own). Returns the bound
    /// addresses, which accept connections from then on, so they can be
    /// printed before the workers start.
    ///
    /// # Errors
    ///
    /// As [`bind_sockets`](crate::bind_sockets).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |_request: Request| async move { Response::text(200, "hello") },
    ///     HTTPServerOptions::default(),
    /// );
    /// let addr = server.bind(0, Some("127.0.0.1"))?[0];
    /// server.start(1)?; // 1: in this process, no fork
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
    /// assert_eq!(reply, "hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bind(&self, port: u16, address: Option<&str>) -> io::Result<Vec<SocketAddr>> {
        self.shared.tcp.bind(port, address)
    }

    /// [`bind`](HTTPServer::bind) with bind options (backlog, family).
    ///
    /// # Errors
    ///
    /// As [`bind_sockets`](crate::bind_sockets).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |_request: Request| async move { Response::text(200, "hello") },
    ///     HTTPServerOptions::default(),
    /// );
    /// let addr = server.bind_with(0, Some("127.0.0.1"), &netutil::BindOptions::new().backlog(64))?[0];
    /// server.start(1)?;
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
    /// assert_eq!(reply, "hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bind_with(
        &self,
        port: u16,
        address: Option<&str>,
        options: &BindOptions,
    ) -> io::Result<Vec<SocketAddr>> {
        self.shared.tcp.bind_with(port, address, options)
    }

    /// Starts accepting on the sockets of [`bind`](HTTPServer::bind), in
    /// `processes` processes (Tornado's `start`): with 1, in this process;
    /// otherwise this process forks that many workers (0: one per CPU) and
    /// never returns, while each worker returns and goes on to run its
    /// loop. Call it before any loop exists when `processes != 1`.
    ///
    /// # Errors
    ///
    /// As [`TCPServer::start`].
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |_request: Request| async move { Response::text(200, "hello") },
    ///     HTTPServerOptions::default(),
    /// );
    /// let addr = server.bind(0, Some("127.0.0.1"))?[0];
    /// // 1: in this process; 0 or n > 1 fork one worker per CPU or n.
    /// server.start(1)?;
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
    /// assert_eq!(reply, "hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(&self, processes: usize) -> io::Result<()> {
        self.shared.tcp.start(processes, None)?;
        self.activate();
        Ok(())
    }

    /// Stops accepting new connections and closes the listening sockets
    /// (Tornado's `stop`); open connections go on. See
    /// [`shutdown`](HTTPServer::shutdown) for a graceful stop.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |_request: Request| async move { Response::text(200, "hello") },
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
    /// assert_eq!(reply, "hello");
    /// server.stop(); // no new connections; open ones go on
    /// assert!(std::net::TcpStream::connect(addr).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stop(&self) {
        self.shared.tcp.stop();
    }

    /// The number of open connections.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |_request: Request| async move { Response::text(200, "hello") },
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
    /// assert_eq!(reply, "hello");
    /// // The request said `Connection: close`: nothing stays open.
    /// assert_eq!(server.connections(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connections(&self) -> usize {
        self.shared.connections.borrow().len()
    }

    /// Stops accepting, closes idle connections, lets requests in flight
    /// finish (their responses say `Connection: close`), and completes when
    /// every connection has ended or the grace period
    /// ([`HTTPServerOptions::shutdown_grace`]) has passed. Returns the
    /// number of connections still open at the end (0 for a clean stop).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |_request: Request| async move { Response::text(200, "hello") },
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
    /// assert_eq!(reply, "hello");
    /// let server2 = server.clone();
    /// let left_open = ioloop.run_sync(|| server2.shutdown(), Some(std::time::Duration::from_secs(15)))?;
    /// assert_eq!(left_open, 0); // a clean stop
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown(&self) -> impl Future<Output = usize> + 'static {
        let shared = Rc::clone(&self.shared);
        async move {
            if !shared.shutting_down.replace(true) {
                shared.tcp.stop();
                let idle: Vec<IOStream> = shared
                    .connections
                    .borrow()
                    .iter()
                    .filter(|(_, c)| c.idle_since.get() != 0)
                    .map(|(_, c)| c.stream.clone())
                    .collect();
                log::info!(
                    target: "netutil::http",
                    "shutting down: {} connection(s) open, {} idle closed",
                    shared.connections.borrow().len(),
                    idle.len()
                );
                for stream in idle {
                    stream.close();
                }
            }
            let ioloop = shared.ioloop();
            let drained = {
                let shared = Rc::clone(&shared);
                std::future::poll_fn(move |cx| {
                    if shared.connections.borrow().is_empty() {
                        Poll::Ready(())
                    } else {
                        *shared.drained.borrow_mut() = Some(cx.waker().clone());
                        Poll::Pending
                    }
                })
            };
            let _ = ioloop.timeout(shared.options.shutdown_grace, drained).await;
            if let Some(timer) = shared.date_timer.take() {
                ioloop.remove_timeout(timer);
            }
            shared.connections.borrow().len()
        }
    }

    /// Closes up to `count` idle keep-alive connections, the longest idle
    /// first (the server does this itself when descriptors run out or
    /// [`HTTPServerOptions::max_connections`] is reached). Returns how many
    /// it closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::{HTTPServer, HTTPServerOptions, Request, Response};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = HTTPServer::new(
    ///     |_request: Request| async move { Response::text(200, "hello") },
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
    /// assert_eq!(reply, "hello");
    /// // Nothing idle to close here; a server out of descriptors does this itself.
    /// assert_eq!(server.close_idle_connections(10), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close_idle_connections(&self, count: usize) -> usize {
        self.shared.shed_idle(count)
    }

    /// Fixes the loop and starts the `Date` clock, once.
    fn activate(&self) {
        if self.shared.ioloop.get().is_some() {
            return;
        }
        let ioloop = IOLoop::current();
        let _ = self.shared.ioloop.set(ioloop);
        refresh_date(Rc::downgrade(&self.shared));
    }
}

impl ServerState {
    pub(crate) fn ioloop(&self) -> IOLoop {
        self.ioloop.get().cloned().unwrap_or_else(IOLoop::current)
    }

    /// Registers a connection; `None` if the server is full and no idle
    /// connection could be closed to make room.
    pub(crate) fn register(&self, stream: &IOStream) -> Option<usize> {
        if self.connections.borrow().len() >= self.options.max_connections && self.shed_idle(1) == 0
        {
            return None;
        }
        Some(self.connections.borrow_mut().insert(OpenConnection {
            stream: stream.clone(),
            idle_since: Cell::new(0),
        }))
    }

    pub(crate) fn unregister(&self, key: usize) {
        let removed = self.connections.borrow_mut().try_remove(key);
        drop(removed);
        if self.connections.borrow().is_empty() {
            let waker = self.drained.borrow_mut().take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    /// Marks a connection idle (waiting for its next request) or busy.
    pub(crate) fn set_idle(&self, key: usize, idle: bool) {
        let stamp = if idle {
            let next = self.idle_clock.get() + 1;
            self.idle_clock.set(next);
            next
        } else {
            0
        };
        if let Some(entry) = self.connections.borrow().get(key) {
            entry.idle_since.set(stamp);
        }
    }

    /// Descriptors ran out while a connection waits to be accepted: close
    /// the longest idle keep-alive connections (a few, so a burst of new
    /// clients does not call this for each).
    fn on_descriptors_exhausted(&self) {
        let closed = self.shed_idle(SHED_BATCH);
        self.shed_recently.set(true);
        match self.shed_episode.get() {
            None => {
                log::warn!(
                    target: "netutil::http",
                    "out of descriptors with {} connections open: closing idle keep-alive connections, longest idle first ({closed} now)",
                    self.connections.borrow().len()
                );
                self.shed_episode.set(Some(closed));
            }
            Some(total) => self.shed_episode.set(Some(total + closed)),
        }
    }

    /// Once a second: an episode of shedding ends after a second without.
    fn end_shed_episode(&self) {
        if self.shed_recently.replace(false) {
            return;
        }
        if let Some(total) = self.shed_episode.take() {
            log::info!(
                target: "netutil::http",
                "descriptors available again; {total} idle connection(s) were closed to make room"
            );
        }
    }

    /// Closes up to `count` idle connections, oldest first.
    pub(crate) fn shed_idle(&self, count: usize) -> usize {
        let mut idle: Vec<(u64, IOStream)> = self
            .connections
            .borrow()
            .iter()
            .filter(|(_, c)| c.idle_since.get() != 0)
            .map(|(_, c)| (c.idle_since.get(), c.stream.clone()))
            .collect();
        idle.sort_unstable_by_key(|(since, _)| *since);
        let closed = idle.len().min(count);
        for (_, stream) in idle.into_iter().take(closed) {
            stream.close();
        }
        closed
    }
}

impl fmt::Debug for HTTPServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HTTPServer")
            .field("options", &self.shared.options)
            .field("connections", &self.connections())
            .field("shutting_down", &self.shared.shutting_down.get())
            .finish()
    }
}

/// Reformats the `Date` header once a second while the server lives.
fn refresh_date(shared: Weak<ServerState>) {
    let Some(strong) = shared.upgrade() else {
        return;
    };
    strong.date.borrow_mut().update(chrono::Utc::now());
    strong.end_shed_episode();
    let next = strong
        .ioloop()
        .call_later(Duration::from_secs(1), move || refresh_date(shared));
    strong.date_timer.set(Some(next));
}
