//! [`TCPServer`]: accept connections and run a handler task for each
//! (Tornado's `tcpserver.TCPServer`).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::rc::Rc;

use crate::process::fork::fork_processes;
use crate::socket::accept::{AcceptHandle, AcceptOptions, AnyListener, ExhaustedHook, PeerAddr};
use crate::socket::bind::{BindOptions, bind_reuse_port_sibling};
use crate::stream::iostream::{IOStream, StreamOptions};
#[cfg(feature = "tls")]
use crate::tls::{ServerTls, TlsRole};

/// The server's `handle_stream`: a task for each accepted connection.
type StreamHandler = dyn Fn(IOStream, PeerAddr) -> Pin<Box<dyn Future<Output = ()>>>;

/// Whether each worker gets listening sockets of its own beside the shared
/// ones: only Linux spreads connections over an `SO_REUSEPORT` group.
const PER_WORKER_SOCKETS: bool = cfg!(target_os = "linux");

/// A TCP (or Unix-socket) server: each accepted connection becomes an
/// [`IOStream`] handed to `handle_stream(stream, address)`, whose future
/// runs as a task of its own on the loop (Tornado's `TCPServer` with
/// `handle_stream` overridden).
///
/// A panic in one connection's task is logged by the loop and touches no
/// other connection.
///
/// # Starting
///
/// * One process: [`listen`](TCPServer::listen) (bind and accept), or
///   [`bind_sockets`](crate::bind_sockets) then
///   [`add_sockets`](TCPServer::add_sockets).
/// * Several processes: [`bind`](TCPServer::bind) then
///   [`start(n)`](TCPServer::start), which forks; or, more flexibly,
///   `bind_sockets` → [`fork_processes`] → create the loop →
///   [`add_worker_sockets`](TCPServer::add_worker_sockets) (or
///   `add_sockets`) in each child (see [`fork_processes`]).
///
/// # Examples
///
/// An echo server:
///
/// ```
/// use netutil::{IOStream, TCPServer};
///
/// let ioloop = ioloop::IOLoop::new()?;
/// let server = TCPServer::new(|stream: IOStream, _address| async move {
///     let mut buf = [0; 4096];
///     while let Ok(n) = stream.read_into(&mut buf, true).await {
///         if stream.write(&buf[..n]).await.is_err() {
///             break;
///         }
///     }
/// });
/// let addrs = server.listen(0, Some("127.0.0.1"))?;
/// let reply = ioloop.run_sync(
///     || async {
///         let client = IOStream::connect(addrs[0]).await?;
///         client.write(b"hello\n").await?;
///         client.read_until(b"\n", None).await
///     },
///     None,
/// )??;
/// assert_eq!(reply, b"hello\n");
/// server.stop();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TCPServer {
    inner: Rc<ServerInner>,
}

struct ServerInner {
    handler: Rc<StreamHandler>,
    stream_options: StreamOptions,
    accept_options: RefCell<AcceptOptions>,
    /// Accepting listeners.
    handles: RefCell<Vec<AcceptHandle>>,
    /// Bound by [`TCPServer::bind`], waiting for [`TCPServer::start`],
    /// each with its listen backlog.
    pending: RefCell<Vec<(TcpListener, i32)>>,
    /// Set by [`TCPServer::set_descriptors_exhausted_callback`].
    on_exhausted: RefCell<Option<ExhaustedHook>>,
    /// INVARIANT: once true, the server accepts nothing more and holds no
    /// listener.
    stopped: Cell<bool>,
    /// Set by [`TCPServer::set_tls`]: accepted connections do a TLS handshake.
    #[cfg(feature = "tls")]
    tls: RefCell<Option<ServerTls>>,
}

impl TCPServer {
    /// A server whose connections are handled by `handle_stream`, with
    /// the default [`StreamOptions`].
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{IOStream, TCPServer};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = TCPServer::new(|stream: IOStream, _peer| async move {
    ///     if let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
    ///         let _ = stream.write(&line).await;
    ///     }
    /// });
    /// let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// # let reply = ioloop.run_sync(|| async move {
    /// #     let stream = netutil::TCPClient::new().connect("127.0.0.1", port).await?;
    /// #     stream.write(b"hi\n").await?;
    /// #     stream.read_until(b"\n", Some(64)).await
    /// # }, Some(std::time::Duration::from_secs(5)))??;
    /// # assert_eq!(reply, b"hi\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new<F, Fut>(handle_stream: F) -> TCPServer
    where
        F: Fn(IOStream, PeerAddr) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        TCPServer::with_options(StreamOptions::default(), handle_stream)
    }

    /// A server whose streams get `options` (buffer limits; Tornado's
    /// `max_buffer_size` and `read_chunk_size` arguments).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{IOStream, StreamOptions, TCPServer};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// // Each connection's stream buffers at most 64 KiB.
    /// let options = StreamOptions::new().max_buffer_size(64 * 1024);
    /// let server = TCPServer::with_options(options, |stream: IOStream, _peer| async move {
    ///     if let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
    ///         let _ = stream.write(&line).await;
    ///     }
    /// });
    /// let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// # let reply = ioloop.run_sync(|| async move {
    /// #     let stream = netutil::TCPClient::new().connect("127.0.0.1", port).await?;
    /// #     stream.write(b"hi\n").await?;
    /// #     stream.read_until(b"\n", Some(64)).await
    /// # }, Some(std::time::Duration::from_secs(5)))??;
    /// # assert_eq!(reply, b"hi\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_options<F, Fut>(options: StreamOptions, handle_stream: F) -> TCPServer
    where
        F: Fn(IOStream, PeerAddr) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let handler: Rc<StreamHandler> =
            Rc::new(move |stream, address| Box::pin(handle_stream(stream, address)));
        TCPServer {
            inner: Rc::new(ServerInner {
                handler,
                stream_options: options,
                accept_options: RefCell::new(AcceptOptions::default()),
                handles: RefCell::new(Vec::new()),
                pending: RefCell::new(Vec::new()),
                on_exhausted: RefCell::new(None),
                stopped: Cell::new(false),
                #[cfg(feature = "tls")]
                tls: RefCell::new(None),
            }),
        }
    }

    /// Serves TLS with `tls` on the sockets added afterwards (`None`: plain
    /// TCP, the default); call it before [`listen`](TCPServer::listen),
    /// [`add_sockets`](TCPServer::add_sockets) or
    /// [`start`](TCPServer::start). Tornado's `ssl_options`.
    ///
    /// Each accepted connection does its handshake on the loop, within the
    /// configuration's handshake timeout (10 s by default), before the
    /// handler sees it: `handle_stream` gets only TLS streams whose
    /// handshake completed. A failed or timed-out handshake closes the
    /// connection and is logged at debug level with the peer's address.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::tls::{ClientTls, ServerTls};
    ///
    /// # let dir = std::env::temp_dir().join(format!("netutil-doc-{}-t1", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    /// # let (cert_pem, key_pem) = (dir.join("cert.pem"), dir.join("key.pem"));
    /// # std::fs::write(&cert_pem, made.cert.pem())?;
    /// # std::fs::write(&key_pem, made.signing_key.serialize_pem())?;
    /// # // A TLS echo server with `server`, asked "hi" by a client with `client`:
    /// # // the reply and the protocol agreed by ALPN.
    /// # fn roundtrip(ioloop: &ioloop::IOLoop, server: netutil::tls::ServerTls, client: netutil::tls::ClientTls)
    /// #     -> Result<(String, Option<Vec<u8>>), Box<dyn std::error::Error>> {
    /// #     let tcp = netutil::TCPServer::new(|stream: netutil::IOStream, _| async move {
    /// #         if let Ok(line) = stream.read_until(b"\n", Some(64)).await { let _ = stream.write(&line).await; }
    /// #     });
    /// #     tcp.set_tls(Some(server));
    /// #     let port = tcp.listen(0, Some("127.0.0.1"))?[0].port();
    /// #     let client = netutil::TCPClient::new().tls(client);
    /// #     Ok(ioloop.run_sync(|| async move {
    /// #         let stream = client.connect("localhost", port).await?;
    /// #         stream.write(b"hi\n").await?;
    /// #         let line = stream.read_until(b"\n", Some(64)).await?;
    /// #         Ok::<_, std::io::Error>((String::from_utf8_lossy(&line).into_owned(), stream.alpn_protocol()))
    /// #     }, Some(std::time::Duration::from_secs(10)))??)
    /// # }
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = ServerTls::from_pem_files(&cert_pem, &key_pem)?;
    /// // (inside roundtrip) tcp_server.set_tls(Some(server)): handlers get TLS streams,
    /// // handshake done.
    /// assert_eq!(roundtrip(&ioloop, server, ClientTls::with_ca_file(&cert_pem)?)?.0, "hi\n");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn set_tls(&self, tls: Option<ServerTls>) {
        *self.inner.tls.borrow_mut() = tls;
    }

    /// Sets the accept options (connections accepted per readiness event,
    /// the loop) for sockets added afterwards.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{IOStream, TCPServer};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = TCPServer::new(|stream: IOStream, _peer| async move {
    ///     if let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
    ///         let _ = stream.write(&line).await;
    ///     }
    /// });
    /// server.set_accept_options(netutil::AcceptOptions::new().max_accepts_per_event(32));
    /// let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// # let reply = ioloop.run_sync(|| async move {
    /// #     let stream = netutil::TCPClient::new().connect("127.0.0.1", port).await?;
    /// #     stream.write(b"hi\n").await?;
    /// #     stream.read_until(b"\n", Some(64)).await
    /// # }, Some(std::time::Duration::from_secs(5)))??;
    /// # assert_eq!(reply, b"hi\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_accept_options(&self, options: AcceptOptions) {
        *self.inner.accept_options.borrow_mut() = options;
    }

    /// Calls `callback` when accepting pauses because the process or the
    /// system is out of descriptors (`EMFILE`, `ENFILE`), so the server
    /// can close idle connections to make room; applies to the listeners
    /// already accepting and to those added later, and replaces a hook
    /// given through [`set_accept_options`](TCPServer::set_accept_options).
    ///
    /// It runs once per pause of a listener, not on every failed retry;
    /// closing an [`IOStream`] inside it makes accepting resume on the
    /// next loop iteration. See
    /// [`AcceptOptions::on_descriptors_exhausted`] for the details.
    /// Tornado has no such hook: its server waits for a connection to end.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::collections::VecDeque;
    /// use std::rc::Rc;
    /// use netutil::{IOStream, TCPServer};
    ///
    /// // The connections, oldest first.
    /// let open: Rc<RefCell<VecDeque<IOStream>>> = Rc::default();
    /// let o = open.clone();
    /// let server = TCPServer::new(move |stream: IOStream, _| {
    ///     o.borrow_mut().push_back(stream.clone());
    ///     async move {
    ///         let _ = stream.read_until_close().await;
    ///     }
    /// });
    /// let o = open.clone();
    /// server.set_descriptors_exhausted_callback(move || {
    ///     let oldest = o.borrow_mut().pop_front();
    ///     if let Some(stream) = oldest {
    ///         stream.close();
    ///     }
    /// });
    /// ```
    pub fn set_descriptors_exhausted_callback(&self, callback: impl Fn() + 'static) {
        *self.inner.on_exhausted.borrow_mut() = Some(Rc::new(callback));
    }

    /// Binds `port` on `address` and starts accepting on the current loop
    /// ([`bind_sockets`](crate::bind_sockets) then
    /// [`add_sockets`](TCPServer::add_sockets)). Returns the bound
    /// addresses, whose port is the one chosen when `port` is 0.
    ///
    /// # Errors
    ///
    /// As [`bind_sockets`](crate::bind_sockets) and
    /// [`add_socket`](TCPServer::add_socket).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{IOStream, TCPServer};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = TCPServer::new(|stream: IOStream, _peer| async move {
    ///     if let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
    ///         let _ = stream.write(&line).await;
    ///     }
    /// });
    /// // Port 0: the kernel picks a free port; the bound addresses come back.
    /// let addrs = server.listen(0, Some("127.0.0.1"))?;
    /// let port = addrs[0].port();
    /// # let reply = ioloop.run_sync(|| async move {
    /// #     let stream = netutil::TCPClient::new().connect("127.0.0.1", port).await?;
    /// #     stream.write(b"hi\n").await?;
    /// #     stream.read_until(b"\n", Some(64)).await
    /// # }, Some(std::time::Duration::from_secs(5)))??;
    /// # assert_eq!(reply, b"hi\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn listen(&self, port: u16, address: Option<&str>) -> io::Result<Vec<SocketAddr>> {
        self.listen_with(port, address, &BindOptions::default())
    }

    /// [`listen`](TCPServer::listen) with bind options (family, backlog,
    /// `reuse_port`).
    ///
    /// # Errors
    ///
    /// As [`listen`](TCPServer::listen).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{IOStream, TCPServer};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = TCPServer::new(|stream: IOStream, _peer| async move {
    ///     if let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
    ///         let _ = stream.write(&line).await;
    ///     }
    /// });
    /// let addrs = server.listen_with(0, Some("127.0.0.1"), &netutil::BindOptions::new().backlog(64))?;
    /// let port = addrs[0].port();
    /// # let reply = ioloop.run_sync(|| async move {
    /// #     let stream = netutil::TCPClient::new().connect("127.0.0.1", port).await?;
    /// #     stream.write(b"hi\n").await?;
    /// #     stream.read_until(b"\n", Some(64)).await
    /// # }, Some(std::time::Duration::from_secs(5)))??;
    /// # assert_eq!(reply, b"hi\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn listen_with(
        &self,
        port: u16,
        address: Option<&str>,
        options: &BindOptions,
    ) -> io::Result<Vec<SocketAddr>> {
        let (listeners, addrs) = bind_with_addrs(port, address, options)?;
        self.add_sockets(listeners)?;
        Ok(addrs)
    }

    /// Starts accepting on listening sockets (TCP or Unix) on the current
    /// loop (Tornado's `add_sockets`).
    ///
    /// # Errors
    ///
    /// As [`add_socket`](TCPServer::add_socket); the sockets added before
    /// the failing one keep accepting.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{IOStream, TCPServer};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = TCPServer::new(|stream: IOStream, _peer| async move {
    ///     if let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
    ///         let _ = stream.write(&line).await;
    ///     }
    /// });
    /// let listeners = netutil::bind_sockets(0, Some("127.0.0.1"))?;
    /// let port = listeners[0].local_addr()?.port();
    /// server.add_sockets(listeners)?;
    /// # let reply = ioloop.run_sync(|| async move {
    /// #     let stream = netutil::TCPClient::new().connect("127.0.0.1", port).await?;
    /// #     stream.write(b"hi\n").await?;
    /// #     stream.read_until(b"\n", Some(64)).await
    /// # }, Some(std::time::Duration::from_secs(5)))??;
    /// # assert_eq!(reply, b"hi\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_sockets<L: Into<AnyListener>>(
        &self,
        listeners: impl IntoIterator<Item = L>,
    ) -> io::Result<()> {
        for listener in listeners {
            self.add_socket(listener)?;
        }
        Ok(())
    }

    /// Starts accepting on one listening socket (Tornado's `add_socket`).
    ///
    /// # Errors
    ///
    /// An `io::Error` if the server was stopped, or if the listener cannot
    /// be registered with the loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{IOStream, TCPServer};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = TCPServer::new(|stream: IOStream, _peer| async move {
    ///     if let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
    ///         let _ = stream.write(&line).await;
    ///     }
    /// });
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let port = listener.local_addr()?.port();
    /// server.add_socket(listener)?;
    /// # let reply = ioloop.run_sync(|| async move {
    /// #     let stream = netutil::TCPClient::new().connect("127.0.0.1", port).await?;
    /// #     stream.write(b"hi\n").await?;
    /// #     stream.read_until(b"\n", Some(64)).await
    /// # }, Some(std::time::Duration::from_secs(5)))??;
    /// # assert_eq!(reply, b"hi\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_socket(&self, listener: impl Into<AnyListener>) -> io::Result<()> {
        if self.inner.stopped.get() {
            return Err(io::Error::other("TCPServer: add_socket after stop"));
        }
        let listener = listener.into();
        let describe = listener.local_addr_string();
        let handler = Rc::clone(&self.inner.handler);
        let options = self.inner.stream_options.clone();
        #[cfg(feature = "tls")]
        let tls = self.inner.tls.borrow().clone();
        let mut options_accept = self.inner.accept_options.borrow().clone();
        // The server's hook as it is when descriptors run out, else the
        // accept options' own.
        let fallback = options_accept.take_exhausted_hook();
        let server = Rc::downgrade(&self.inner);
        let options_accept = options_accept.on_descriptors_exhausted(move || {
            let hook = server
                .upgrade()
                .and_then(|inner| inner.on_exhausted.borrow().clone())
                .or_else(|| fallback.clone());
            if let Some(hook) = hook {
                hook();
            }
        });
        let handle = options_accept.add(listener, move |fd, address: PeerAddr| {
            let stream = match options.build_socket(fd, true) {
                Ok(stream) => stream,
                Err(err) => {
                    log::error!(target: "netutil", "TCPServer: connection from {address}: {err}");
                    return;
                }
            };
            let ioloop = stream.ioloop().clone();
            #[cfg(feature = "tls")]
            if let Some(tls) = &tls {
                let role = TlsRole::server(tls);
                let handler = Rc::clone(&handler);
                ioloop
                    .spawn(async move {
                        match stream.start_tls(role).await {
                            Ok(stream) => (handler)(stream, address).await,
                            Err(err) => log::debug!(target: "netutil", "TCPServer: {err}"),
                        }
                    })
                    .detach();
                return;
            }
            ioloop.spawn((handler)(stream, address)).detach();
        })?;
        log::debug!(target: "netutil", "TCPServer: accepting on {describe}");
        self.inner.handles.borrow_mut().push(handle);
        Ok(())
    }

    /// Binds and listens for a later [`start`](TCPServer::start)
    /// (Tornado's `bind`). Returns the bound addresses, which accept
    /// connections (into the backlog) from then on.
    ///
    /// On Linux the sockets get `SO_REUSEPORT`, so that `start` can give
    /// each worker process a socket of its own on the same port. A side
    /// effect: another server of the same user binding the same port with
    /// `SO_REUSEPORT` succeeds and shares the connections, where it would
    /// otherwise fail with `AddrInUse`. Tornado's `bind` leaves
    /// `reuse_port` off by default.
    ///
    /// # Errors
    ///
    /// As [`bind_sockets`](crate::bind_sockets).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{IOStream, TCPServer};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = TCPServer::new(|stream: IOStream, _peer| async move {
    ///     if let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
    ///         let _ = stream.write(&line).await;
    ///     }
    /// });
    /// let port = server.bind(0, Some("127.0.0.1"))?[0].port();
    /// server.start(1, None)?; // 1: accept in this process, no fork
    /// # let reply = ioloop.run_sync(|| async move {
    /// #     let stream = netutil::TCPClient::new().connect("127.0.0.1", port).await?;
    /// #     stream.write(b"hi\n").await?;
    /// #     stream.read_until(b"\n", Some(64)).await
    /// # }, Some(std::time::Duration::from_secs(5)))??;
    /// # assert_eq!(reply, b"hi\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bind(&self, port: u16, address: Option<&str>) -> io::Result<Vec<SocketAddr>> {
        self.bind_with(port, address, &BindOptions::default())
    }

    /// [`bind`](TCPServer::bind) with bind options (on Linux,
    /// `reuse_port` is set whatever `options` say).
    ///
    /// # Errors
    ///
    /// As [`bind_sockets`](crate::bind_sockets).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{IOStream, TCPServer};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = TCPServer::new(|stream: IOStream, _peer| async move {
    ///     if let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
    ///         let _ = stream.write(&line).await;
    ///     }
    /// });
    /// let options = netutil::BindOptions::new().backlog(64);
    /// let port = server.bind_with(0, Some("127.0.0.1"), &options)?[0].port();
    /// server.start(1, None)?;
    /// # let reply = ioloop.run_sync(|| async move {
    /// #     let stream = netutil::TCPClient::new().connect("127.0.0.1", port).await?;
    /// #     stream.write(b"hi\n").await?;
    /// #     stream.read_until(b"\n", Some(64)).await
    /// # }, Some(std::time::Duration::from_secs(5)))??;
    /// # assert_eq!(reply, b"hi\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bind_with(
        &self,
        port: u16,
        address: Option<&str>,
        options: &BindOptions,
    ) -> io::Result<Vec<SocketAddr>> {
        let options = if PER_WORKER_SOCKETS {
            options.clone().reuse_port(true)
        } else {
            options.clone()
        };
        let (listeners, addrs) = bind_with_addrs(port, address, &options)?;
        let backlog = options.backlog_value();
        self.inner
            .pending
            .borrow_mut()
            .extend(listeners.into_iter().map(|l| (l, backlog)));
        Ok(addrs)
    }

    /// Starts accepting on the sockets of [`bind`](TCPServer::bind), in
    /// `processes` processes (Tornado's `start`): with 1, in this process,
    /// on those sockets; otherwise
    /// [`fork_processes(processes, max_restarts)`](fork_processes) forks
    /// that many children (0: one per CPU), and each child accepts as
    /// [`add_worker_sockets`](TCPServer::add_worker_sockets) does. The
    /// parent never returns (see [`fork_processes`]).
    ///
    /// # Load balancing
    ///
    /// Sockets shared by several processes wake every waiting process for
    /// each connection, and the most recent waiter tends to win: under a
    /// burst one worker can get most connections and another none. So on
    /// Linux each child also binds a socket of its own on each bound
    /// address (same port, `SO_REUSEPORT`, the same backlog), and the
    /// kernel spreads new connections over the shared socket and the
    /// workers' own by a hash of their addresses. Every child still
    /// accepts on the shared sockets, so connections queued there (before
    /// the fork, or hashed to them since) are served. Connections queued
    /// on a worker's own socket when that worker dies are reset by the
    /// kernel; its restart binds a new one. Tornado's workers share the
    /// sockets only.
    ///
    /// Call it before any loop exists when `processes != 1`; the children
    /// create theirs.
    ///
    /// # Errors
    ///
    /// As [`fork_processes`] (a loop already exists, too many restarts),
    /// [`add_worker_sockets`](TCPServer::add_worker_sockets) (in a child)
    /// and [`add_socket`](TCPServer::add_socket).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{IOStream, TCPServer};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = TCPServer::new(|stream: IOStream, _peer| async move {
    ///     if let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
    ///         let _ = stream.write(&line).await;
    ///     }
    /// });
    /// let port = server.bind(0, Some("127.0.0.1"))?[0].port();
    /// // 1: in this process; 0 or n > 1 would fork one worker per CPU or n.
    /// server.start(1, None)?;
    /// # let reply = ioloop.run_sync(|| async move {
    /// #     let stream = netutil::TCPClient::new().connect("127.0.0.1", port).await?;
    /// #     stream.write(b"hi\n").await?;
    /// #     stream.read_until(b"\n", Some(64)).await
    /// # }, Some(std::time::Duration::from_secs(5)))??;
    /// # assert_eq!(reply, b"hi\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(&self, processes: usize, max_restarts: Option<usize>) -> io::Result<()> {
        if processes == 1 {
            let pending = std::mem::take(&mut *self.inner.pending.borrow_mut());
            return self.add_sockets(pending.into_iter().map(|(l, _)| l));
        }
        fork_processes(processes, max_restarts)?;
        let pending = std::mem::take(&mut *self.inner.pending.borrow_mut());
        self.add_with_own_sockets(
            pending
                .into_iter()
                .map(|(l, backlog)| (AnyListener::from(l), backlog))
                .collect(),
        )
    }

    /// In a worker process of [`fork_processes`], starts accepting on
    /// `listeners` shared with the other workers and, on Linux, on a
    /// listening socket of this worker's own for each TCP one: bound to
    /// the same address in the same `SO_REUSEPORT` group, listening with
    /// `backlog`. The kernel then spreads new connections over the
    /// workers instead of waking them all for each one (see
    /// [`start`](TCPServer::start)'s load balancing, which this is for
    /// sockets bound by the caller).
    ///
    /// The TCP listeners must have `SO_REUSEPORT`
    /// ([`BindOptions::reuse_port`]). Unix-domain listeners are shared
    /// only. Elsewhere than on Linux this is
    /// [`add_sockets`](TCPServer::add_sockets).
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the address if a TCP listener lacks
    /// `SO_REUSEPORT`; an OS error naming the address if a worker's own
    /// socket cannot be bound (nothing is added then); otherwise as
    /// [`add_socket`](TCPServer::add_socket).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use netutil::{BindOptions, DEFAULT_BACKLOG, IOStream, TCPServer, fork_processes};
    ///
    /// let listeners = BindOptions::new().reuse_port(true).bind(8888, None)?;
    /// let id = fork_processes(0, None)?; // the children return
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = TCPServer::new(move |stream: IOStream, _| async move {
    ///     let _ = stream.write(format!("hello from task {id}\n").as_bytes()).await;
    /// });
    /// server.add_worker_sockets(listeners, DEFAULT_BACKLOG)?;
    /// ioloop.start()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_worker_sockets<L: Into<AnyListener>>(
        &self,
        listeners: impl IntoIterator<Item = L>,
        backlog: i32,
    ) -> io::Result<()> {
        self.add_with_own_sockets(listeners.into_iter().map(|l| (l.into(), backlog)).collect())
    }

    /// Binds a worker's own socket beside each shared TCP listener (all
    /// or none), then accepts on both.
    fn add_with_own_sockets(&self, shared: Vec<(AnyListener, i32)>) -> io::Result<()> {
        let mut own = Vec::new();
        if PER_WORKER_SOCKETS {
            for (listener, backlog) in &shared {
                if let AnyListener::Tcp(tcp) = listener {
                    own.push(bind_reuse_port_sibling(tcp, *backlog)?);
                }
            }
        }
        self.add_sockets(own)?;
        self.add_sockets(shared.into_iter().map(|(l, _)| l))
    }

    /// Stops accepting and closes the listening sockets; connections
    /// already accepted go on to their end (Tornado's `stop`). Idempotent,
    /// and safe from inside a handler.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{IOStream, TCPServer};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = TCPServer::new(|stream: IOStream, _peer| async move {
    ///     if let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
    ///         let _ = stream.write(&line).await;
    ///     }
    /// });
    /// server.listen(0, Some("127.0.0.1"))?;
    /// server.stop(); // closes the listening sockets; open connections go on
    /// assert!(server.is_stopped());
    /// assert_eq!(server.listener_count(), 0);
    ///
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stop(&self) {
        if self.inner.stopped.replace(true) {
            return;
        }
        let handles = std::mem::take(&mut *self.inner.handles.borrow_mut());
        for handle in &handles {
            handle.remove();
        }
        self.inner.pending.borrow_mut().clear();
    }

    /// True after [`stop`](TCPServer::stop).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{IOStream, TCPServer};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = TCPServer::new(|stream: IOStream, _peer| async move {
    ///     if let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
    ///         let _ = stream.write(&line).await;
    ///     }
    /// });
    /// server.listen(0, Some("127.0.0.1"))?;
    /// assert!(!server.is_stopped());
    /// server.stop();
    /// assert!(server.is_stopped());
    ///
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.get()
    }

    /// True while any listener is paused by descriptor exhaustion (see
    /// [`add_accept_handler`](crate::add_accept_handler)).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{IOStream, TCPServer};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = TCPServer::new(|stream: IOStream, _peer| async move {
    ///     if let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
    ///         let _ = stream.write(&line).await;
    ///     }
    /// });
    /// server.listen(0, Some("127.0.0.1"))?;
    /// // Paused only while the process is out of descriptors.
    /// assert!(!server.is_paused());
    ///
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_paused(&self) -> bool {
        self.inner
            .handles
            .borrow()
            .iter()
            .any(AcceptHandle::is_paused)
    }

    /// The number of listening sockets accepting.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{IOStream, TCPServer};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = TCPServer::new(|stream: IOStream, _peer| async move {
    ///     if let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
    ///         let _ = stream.write(&line).await;
    ///     }
    /// });
    /// server.listen(0, Some("127.0.0.1"))?;
    /// assert_eq!(server.listener_count(), 1);
    ///
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn listener_count(&self) -> usize {
        self.inner.handles.borrow().len()
    }
}

impl fmt::Debug for TCPServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TCPServer")
            .field("listeners", &self.inner.handles.borrow().len())
            .field("pending", &self.inner.pending.borrow().len())
            .field("stopped", &self.inner.stopped.get())
            .finish()
    }
}

/// Binds with `options` and reads back each socket's address (its port is
/// the one chosen when `port` is 0).
fn bind_with_addrs(
    port: u16,
    address: Option<&str>,
    options: &BindOptions,
) -> io::Result<(Vec<std::net::TcpListener>, Vec<SocketAddr>)> {
    let listeners = options.bind(port, address)?;
    let addrs = listeners
        .iter()
        .map(|l| l.local_addr())
        .collect::<io::Result<Vec<_>>>()?;
    Ok((listeners, addrs))
}
