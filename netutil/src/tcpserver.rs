//! [`TCPServer`]: accept connections and run a handler task for each
//! (Tornado's `tcpserver.TCPServer`).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;

use crate::accept::{AcceptHandle, AcceptOptions, AnyListener, PeerAddr};
use crate::bind::BindOptions;
use crate::iostream::{IOStream, StreamOptions};
use crate::process::fork_processes;

type Handler = dyn Fn(IOStream, PeerAddr) -> Pin<Box<dyn Future<Output = ()>>>;

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
///   `add_sockets` in each child (see [`fork_processes`]).
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
    handler: Rc<Handler>,
    stream_options: StreamOptions,
    accept_options: RefCell<AcceptOptions>,
    /// Accepting listeners.
    handles: RefCell<Vec<AcceptHandle>>,
    /// Bound by [`TCPServer::bind`], waiting for [`TCPServer::start`].
    pending: RefCell<Vec<AnyListener>>,
    /// INVARIANT: once true, the server accepts nothing more and holds no
    /// listener.
    stopped: Cell<bool>,
}

impl TCPServer {
    /// A server whose connections are handled by `handle_stream`, with
    /// the default [`StreamOptions`].
    pub fn new<F, Fut>(handle_stream: F) -> TCPServer
    where
        F: Fn(IOStream, PeerAddr) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        TCPServer::with_options(StreamOptions::default(), handle_stream)
    }

    /// A server whose streams get `options` (buffer limits; Tornado's
    /// `max_buffer_size` and `read_chunk_size` arguments).
    pub fn with_options<F, Fut>(options: StreamOptions, handle_stream: F) -> TCPServer
    where
        F: Fn(IOStream, PeerAddr) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let handler: Rc<Handler> =
            Rc::new(move |stream, address| Box::pin(handle_stream(stream, address)));
        TCPServer {
            inner: Rc::new(ServerInner {
                handler,
                stream_options: options,
                accept_options: RefCell::new(AcceptOptions::default()),
                handles: RefCell::new(Vec::new()),
                pending: RefCell::new(Vec::new()),
                stopped: Cell::new(false),
            }),
        }
    }

    /// Sets the accept options (connections accepted per readiness event,
    /// the loop) for sockets added afterwards.
    pub fn set_accept_options(&self, options: AcceptOptions) {
        *self.inner.accept_options.borrow_mut() = options;
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
    pub fn listen(&self, port: u16, address: Option<&str>) -> io::Result<Vec<SocketAddr>> {
        self.listen_with(port, address, &BindOptions::default())
    }

    /// [`listen`](TCPServer::listen) with bind options (family, backlog,
    /// `reuse_port`).
    ///
    /// # Errors
    ///
    /// As [`listen`](TCPServer::listen).
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
    pub fn add_socket(&self, listener: impl Into<AnyListener>) -> io::Result<()> {
        if self.inner.stopped.get() {
            return Err(io::Error::other("TCPServer: add_socket after stop"));
        }
        let listener = listener.into();
        let describe = listener.local_addr_string();
        let handler = Rc::clone(&self.inner.handler);
        let options = self.inner.stream_options.clone();
        let options_accept = self.inner.accept_options.borrow().clone();
        let handle = options_accept.add(listener, move |fd, address: PeerAddr| {
            let stream = match options.build_socket(fd, true) {
                Ok(stream) => stream,
                Err(err) => {
                    log::error!(target: "netutil", "TCPServer: connection from {address}: {err}");
                    return;
                }
            };
            let ioloop = stream.ioloop().clone();
            ioloop.spawn((handler)(stream, address)).detach();
        })?;
        log::debug!(target: "netutil", "TCPServer: accepting on {describe}");
        self.inner.handles.borrow_mut().push(handle);
        Ok(())
    }

    /// Binds sockets for a later [`start`](TCPServer::start) (Tornado's
    /// `bind`). Returns the bound addresses.
    ///
    /// # Errors
    ///
    /// As [`bind_sockets`](crate::bind_sockets).
    pub fn bind(&self, port: u16, address: Option<&str>) -> io::Result<Vec<SocketAddr>> {
        self.bind_with(port, address, &BindOptions::default())
    }

    /// [`bind`](TCPServer::bind) with bind options.
    ///
    /// # Errors
    ///
    /// As [`bind_sockets`](crate::bind_sockets).
    pub fn bind_with(
        &self,
        port: u16,
        address: Option<&str>,
        options: &BindOptions,
    ) -> io::Result<Vec<SocketAddr>> {
        let (listeners, addrs) = bind_with_addrs(port, address, options)?;
        self.inner
            .pending
            .borrow_mut()
            .extend(listeners.into_iter().map(AnyListener::from));
        Ok(addrs)
    }

    /// Starts accepting on the sockets of [`bind`](TCPServer::bind), in
    /// `processes` processes (Tornado's `start`): with 1, in this process;
    /// otherwise [`fork_processes(processes, max_restarts)`](fork_processes)
    /// forks that many children (0: one per CPU), and each child accepts on
    /// the shared sockets. The parent never returns (see
    /// [`fork_processes`]).
    ///
    /// Call it before any loop exists when `processes != 1`; the children
    /// create theirs.
    ///
    /// # Errors
    ///
    /// As [`fork_processes`] (a loop already exists, too many restarts) and
    /// [`add_socket`](TCPServer::add_socket).
    pub fn start(&self, processes: usize, max_restarts: Option<usize>) -> io::Result<()> {
        if processes != 1 {
            fork_processes(processes, max_restarts)?;
        }
        let pending = std::mem::take(&mut *self.inner.pending.borrow_mut());
        self.add_sockets(pending)
    }

    /// Stops accepting and closes the listening sockets; connections
    /// already accepted go on to their end (Tornado's `stop`). Idempotent,
    /// and safe from inside a handler.
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
    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.get()
    }

    /// True while any listener is paused by descriptor exhaustion (see
    /// [`add_accept_handler`](crate::add_accept_handler)).
    pub fn is_paused(&self) -> bool {
        self.inner
            .handles
            .borrow()
            .iter()
            .any(AcceptHandle::is_paused)
    }

    /// The number of listening sockets accepting.
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
