//! [`UdpSocket`]: datagrams on the loop, with futures and callbacks, a
//! bounded send queue and typed errors (asyncio's
//! `create_datagram_endpoint`; Tornado has no UDP).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use ioloop::{Events, IOLoop};
use socket2::{Domain, Protocol, Socket, Type};

use crate::error::context;

/// The default [`UdpOptions::max_send_queue`]: 256 datagrams.
///
/// # Examples
///
/// ```
/// use netutil::{DEFAULT_MAX_SEND_QUEUE, UdpOptions};
///
/// # let _ioloop = ioloop::IOLoop::new()?;
/// let socket = UdpOptions::new()
///     .max_send_queue(2 * DEFAULT_MAX_SEND_QUEUE)
///     .bind("127.0.0.1:0".parse()?)?;
/// # let _ = socket;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const DEFAULT_MAX_SEND_QUEUE: usize = 256;

/// The most datagrams a receive callback is given in one turn of the loop
/// before other callbacks get theirs.
const RECV_BATCH: usize = 64;

/// The largest UDP payload (over IPv4): the receive callback's buffer.
const MAX_DATAGRAM: usize = 65_535;

/// A failed datagram operation: the cases a caller branches on have
/// variants of their own.
///
/// It converts into an `io::Error` of the same [`kind`](UdpError::kind),
/// from which [`UdpError::find`] gets it back; its message says the OS's
/// reason once and it has no separate [`source`](StdError::source).
///
/// # Examples
///
/// ```
/// use netutil::UdpSocket;
///
/// let ioloop = ioloop::IOLoop::new()?;
/// ioloop.run_sync(|| async move {
///     let socket = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
///     socket.close();
///     let err = socket.send_to(b"x", "127.0.0.1:9".parse().unwrap()).await.unwrap_err();
///     assert!(matches!(err, netutil::UdpError::Closed { .. }));
///     Ok::<_, std::io::Error>(())
/// }, Some(std::time::Duration::from_secs(5)))??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum UdpError {
    /// The peer answered with ICMP port unreachable: nothing listens
    /// there (`ECONNREFUSED`). The kernel reports it on a connected
    /// socket, at the next send or receive after the datagram that
    /// provoked it.
    ConnectionRefused {
        /// The connected peer, if the socket is connected.
        peer: Option<SocketAddr>,
    },
    /// The datagram is larger than the socket or the path can carry
    /// (`EMSGSIZE`); nothing was sent.
    MessageTooLarge {
        /// The datagram's length in bytes.
        len: usize,
        /// Where it was going (`None` on a connected socket).
        peer: Option<SocketAddr>,
    },
    /// The socket was closed ([`UdpSocket::close`]) before the operation
    /// completed.
    Closed {
        /// The descriptor the socket had.
        fd: RawFd,
    },
    /// Any other OS error.
    Io {
        /// What was being done: `"send to"`, `"receive on"`, ...
        op: &'static str,
        /// The address concerned: the destination of a send, the local
        /// address of a receive.
        addr: Option<SocketAddr>,
        /// The OS error.
        cause: io::Error,
    },
}

impl UdpError {
    fn from_os(err: io::Error, op: &'static str, addr: Option<SocketAddr>, len: usize) -> Self {
        match err.raw_os_error() {
            Some(libc::ECONNREFUSED) => UdpError::ConnectionRefused { peer: addr },
            Some(libc::EMSGSIZE) => UdpError::MessageTooLarge { len, peer: addr },
            _ => UdpError::Io {
                op,
                addr,
                cause: err,
            },
        }
    }

    /// The OS error number, if the error came from the OS.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpSocket;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// ioloop.run_sync(|| async move {
    ///     let socket = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    ///     socket.close();
    ///     let err = socket.send_to(b"x", "127.0.0.1:9".parse().unwrap()).await.unwrap_err();
    ///     assert_eq!(err.raw_os_error(), None); // closed here, not by the OS
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            UdpError::ConnectionRefused { .. } => Some(libc::ECONNREFUSED),
            UdpError::MessageTooLarge { .. } => Some(libc::EMSGSIZE),
            UdpError::Closed { .. } => None,
            UdpError::Io { cause, .. } => ioloop::raw_os_error(cause),
        }
    }

    /// The `io::ErrorKind` of the error (the OS error's, or `NotConnected`
    /// for [`Closed`](UdpError::Closed)).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpSocket;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// ioloop.run_sync(|| async move {
    ///     let socket = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    ///     socket.close();
    ///     let err = socket.send_to(b"x", "127.0.0.1:9".parse().unwrap()).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            UdpError::Closed { .. } => io::ErrorKind::NotConnected,
            UdpError::Io { cause, .. } => cause.kind(),
            _ => io::Error::from_raw_os_error(self.raw_os_error().unwrap_or(0)).kind(),
        }
    }

    /// The `UdpError` inside `err`, if it is one.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpError;
    ///
    /// let err: std::io::Error = UdpError::Closed { fd: 7 }.into();
    /// assert!(matches!(UdpError::find(&err), Some(UdpError::Closed { fd: 7 })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn find(err: &io::Error) -> Option<&UdpError> {
        err.get_ref()?.downcast_ref::<UdpError>()
    }
}

impl fmt::Display for UdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UdpError::ConnectionRefused { peer: Some(peer) } => write!(
                f,
                "udp peer {peer} refused a datagram: nothing listens there (icmp port unreachable)"
            ),
            UdpError::ConnectionRefused { peer: None } => f.write_str(
                "a udp peer refused a datagram: nothing listens there (icmp port unreachable)",
            ),
            UdpError::MessageTooLarge { len, peer } => {
                write!(f, "udp datagram of {len} bytes")?;
                if let Some(peer) = peer {
                    write!(f, " to {peer}")?;
                }
                f.write_str(" is too large to send (EMSGSIZE)")
            }
            UdpError::Closed { fd } => write!(f, "udp socket (fd {fd}) is closed"),
            UdpError::Io { op, addr, cause } => match addr {
                Some(addr) => write!(f, "udp {op} {addr}: {cause}"),
                None => write!(f, "udp {op}: {cause}"),
            },
        }
    }
}

impl StdError for UdpError {}

impl From<UdpError> for io::Error {
    fn from(err: UdpError) -> io::Error {
        io::Error::new(err.kind(), err)
    }
}

/// How to make a [`UdpSocket`]: socket options, the send queue's bound and
/// the loop.
///
/// # Examples
///
/// ```
/// use netutil::UdpOptions;
///
/// let _ioloop = ioloop::IOLoop::new()?;
/// let socket = UdpOptions::new()
///     .reuse_address(true)
///     .max_send_queue(64)
///     .bind("127.0.0.1:0".parse()?)?;
/// assert_ne!(socket.local_addr()?.port(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct UdpOptions {
    reuse_address: bool,
    reuse_port: bool,
    only_v6: Option<bool>,
    broadcast: bool,
    max_send_queue: usize,
    ioloop: Option<IOLoop>,
}

impl Default for UdpOptions {
    fn default() -> Self {
        UdpOptions {
            reuse_address: false,
            reuse_port: false,
            only_v6: None,
            broadcast: false,
            max_send_queue: DEFAULT_MAX_SEND_QUEUE,
            ioloop: None,
        }
    }
}

impl UdpOptions {
    /// The defaults: no reuse options, the system's `IPV6_V6ONLY`, no
    /// broadcast, [`DEFAULT_MAX_SEND_QUEUE`], the current loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpOptions;
    ///
    /// # let _ioloop = ioloop::IOLoop::new()?;
    /// let socket = UdpOptions::new().bind("127.0.0.1:0".parse()?)?;
    /// assert_ne!(socket.local_addr()?.port(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> UdpOptions {
        UdpOptions::default()
    }

    /// Sets `SO_REUSEADDR` before binding.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpOptions;
    ///
    /// # let _ioloop = ioloop::IOLoop::new()?;
    /// let socket = UdpOptions::new().reuse_address(true).bind("127.0.0.1:0".parse()?)?;
    /// # let _ = socket;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reuse_address(mut self, reuse: bool) -> UdpOptions {
        self.reuse_address = reuse;
        self
    }

    /// Sets `SO_REUSEPORT` before binding (several sockets share the port;
    /// the kernel spreads datagrams between them).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpOptions;
    ///
    /// # let _ioloop = ioloop::IOLoop::new()?;
    /// let options = UdpOptions::new().reuse_port(true);
    /// let first = options.bind("127.0.0.1:0".parse()?)?;
    /// let second = options.bind(first.local_addr()?)?; // the same port
    /// assert_eq!(first.local_addr()?, second.local_addr()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reuse_port(mut self, reuse: bool) -> UdpOptions {
        self.reuse_port = reuse;
        self
    }

    /// Sets `IPV6_V6ONLY` on an IPv6 socket (default: the system's).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpOptions;
    ///
    /// # let _ioloop = ioloop::IOLoop::new()?;
    /// // [::] without IPv4-mapped addresses: an IPv4 socket may share the port.
    /// # if std::net::UdpSocket::bind("[::1]:0").is_ok() {
    /// let socket = UdpOptions::new().only_v6(true).bind("[::]:0".parse()?)?;
    /// # let _ = socket; }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn only_v6(mut self, only_v6: bool) -> UdpOptions {
        self.only_v6 = Some(only_v6);
        self
    }

    /// Sets `SO_BROADCAST`.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpOptions;
    ///
    /// # let _ioloop = ioloop::IOLoop::new()?;
    /// // Allowed to send to broadcast addresses such as 255.255.255.255.
    /// let socket = UdpOptions::new().broadcast(true).bind("0.0.0.0:0".parse()?)?;
    /// # let _ = socket;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn broadcast(mut self, broadcast: bool) -> UdpOptions {
        self.broadcast = broadcast;
        self
    }

    /// The most datagrams waiting for the kernel to take them (at least
    /// 1). A send that finds the queue full waits for room: this is the
    /// back-pressure of a [`UdpSocket`].
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpOptions;
    ///
    /// # let _ioloop = ioloop::IOLoop::new()?;
    /// // At most 16 datagrams wait for the kernel; more fail at once.
    /// let socket = UdpOptions::new().max_send_queue(16).bind("127.0.0.1:0".parse()?)?;
    /// assert_eq!(socket.send_queue_len(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_send_queue(mut self, datagrams: usize) -> UdpOptions {
        self.max_send_queue = datagrams.max(1);
        self
    }

    /// The loop the socket runs on (default: [`IOLoop::current`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpOptions;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let socket = UdpOptions::new().ioloop(&ioloop).bind("127.0.0.1:0".parse()?)?;
    /// assert!(socket.ioloop().ptr_eq(&ioloop));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ioloop(mut self, ioloop: &IOLoop) -> UdpOptions {
        self.ioloop = Some(ioloop.clone());
        self
    }

    /// A non-blocking UDP socket bound to `addr` (port 0: the kernel picks
    /// one), registered with the loop.
    ///
    /// # Errors
    ///
    /// An `io::Error` naming the address: in use, not available, and so
    /// on.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpOptions;
    ///
    /// # let _ioloop = ioloop::IOLoop::new()?;
    /// let socket = UdpOptions::new().bind("127.0.0.1:0".parse()?)?;
    /// assert!(socket.local_addr()?.ip().is_loopback());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bind(&self, addr: SocketAddr) -> io::Result<UdpSocket> {
        let named = |err: io::Error, what: &str| context(err, format_args!("{what} udp {addr}"));
        let socket = Socket::new(
            Domain::for_address(addr),
            Type::DGRAM.nonblocking().cloexec(),
            Some(Protocol::UDP),
        )
        .map_err(|err| named(err, "socket for"))?;
        if self.reuse_address {
            socket
                .set_reuse_address(true)
                .map_err(|err| named(err, "SO_REUSEADDR on"))?;
        }
        if self.reuse_port {
            socket
                .set_reuse_port(true)
                .map_err(|err| named(err, "SO_REUSEPORT on"))?;
        }
        if let (Some(only_v6), true) = (self.only_v6, addr.is_ipv6()) {
            socket
                .set_only_v6(only_v6)
                .map_err(|err| named(err, "IPV6_V6ONLY on"))?;
        }
        if self.broadcast {
            socket
                .set_broadcast(true)
                .map_err(|err| named(err, "SO_BROADCAST on"))?;
        }
        socket
            .bind(&addr.into())
            .map_err(|err| named(err, "bind"))?;
        let ioloop = self.ioloop.clone().unwrap_or_else(IOLoop::current);
        UdpSocket::register(socket.into(), ioloop, self.max_send_queue)
    }
}

/// A UDP socket on the loop: send and receive datagrams as futures
/// ([`send_to`](UdpSocket::send_to), [`recv_from`](UdpSocket::recv_from))
/// or callbacks ([`set_recv_callback`](UdpSocket::set_recv_callback),
/// [`send_to_then`](UdpSocket::send_to_then)), unconnected or connected
/// ([`connect`](UdpSocket::connect), then [`send`](UdpSocket::send) and
/// [`recv`](UdpSocket::recv)).
///
/// A send goes to the kernel at once when it can; when the kernel's
/// buffer is full, the datagram is copied into a send queue of at most
/// [`UdpOptions::max_send_queue`] datagrams and sent when the socket is
/// writable, and a send that finds the queue full waits for room. A send
/// future completes once the kernel has taken the datagram (or refused
/// it); dropping it does not cancel a queued datagram.
///
/// Clones share the socket; it is closed by [`close`](UdpSocket::close)
/// or when the last clone is dropped.
///
/// # Examples
///
/// ```
/// use netutil::UdpSocket;
///
/// let ioloop = ioloop::IOLoop::new()?;
/// let reply = ioloop.run_sync(
///     || async {
///         let server = UdpSocket::bind("127.0.0.1:0".parse()?)?;
///         let client = UdpSocket::bind("127.0.0.1:0".parse()?)?;
///         client.send_to(b"ping", server.local_addr()?).await?;
///         let mut buf = [0; 16];
///         let (n, from) = server.recv_from(&mut buf).await?;
///         server.send_to(&buf[..n], from).await?;
///         let n = client.recv_from(&mut buf).await?.0;
///         Ok::<_, Box<dyn std::error::Error>>(buf[..n].to_vec())
///     },
///     Some(std::time::Duration::from_secs(10)),
/// )??;
/// assert_eq!(reply, b"ping");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct UdpSocket {
    inner: Rc<Inner>,
}

/// The receive callback: a datagram and its sender, or an error.
type RecvCallback = Box<dyn FnMut(Result<(&[u8], SocketAddr), UdpError>)>;

struct Inner {
    /// This `Inner`, for callbacks scheduled from within it.
    me: Weak<Inner>,
    ioloop: IOLoop,
    fd: RawFd,
    max_send_queue: usize,
    st: RefCell<State>,
    /// The receive callback, apart from `st` so that it may use the
    /// socket. `None` while it runs (or if there is none).
    callback: RefCell<Option<RecvCallback>>,
    /// Whether a receive callback is set (it may be out of `callback`,
    /// running).
    has_callback: std::cell::Cell<bool>,
    /// The receive callback's buffer, allocated with the first callback.
    recv_buf: RefCell<Vec<u8>>,
}

struct State {
    /// `None` once closed.
    socket: Option<std::net::UdpSocket>,
    peer: Option<SocketAddr>,
    /// INVARIANT: false only after a receive met `WouldBlock` and no
    /// readiness edge came since.
    readable: bool,
    /// INVARIANT: false only after a send met `WouldBlock` and no
    /// readiness edge came since; while the queue is not empty and the
    /// socket is open, the socket is not writable (the queue is flushed
    /// on every writable edge).
    writable: bool,
    queue: VecDeque<Queued>,
    recv_wakers: Vec<Waker>,
    room_wakers: Vec<Waker>,
}

/// A datagram waiting in the send queue, and where its result goes.
struct Queued {
    data: Vec<u8>,
    addr: Option<SocketAddr>,
    slot: Rc<RefCell<SendCompletion>>,
}

/// Where a queued datagram's send result goes, and the task waiting for it.
#[derive(Default)]
struct SendCompletion {
    result: Option<Result<usize, UdpError>>,
    waker: Option<Waker>,
}

impl SendCompletion {
    fn complete(slot: &RefCell<SendCompletion>, result: Result<usize, UdpError>) {
        let waker = {
            let mut slot = slot.borrow_mut();
            slot.result = Some(result);
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

fn push_waker(wakers: &mut Vec<Waker>, waker: &Waker) {
    if !wakers.iter().any(|w| w.will_wake(waker)) {
        wakers.push(waker.clone());
    }
}

fn wake_all(wakers: &mut Vec<Waker>) {
    for waker in wakers.drain(..) {
        waker.wake();
    }
}

impl UdpSocket {
    /// A UDP socket bound to `addr` on the current loop, with the default
    /// [`UdpOptions`].
    ///
    /// # Errors
    ///
    /// As [`UdpOptions::bind`].
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpSocket;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let a = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b_addr = b.local_addr()?;
    /// ioloop.run_sync(|| async move {
    ///     a.send_to(b"ping", b_addr).await?;
    ///     let mut buf = [0; 64];
    ///     let (n, from) = b.recv_from(&mut buf).await?;
    ///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
        UdpOptions::default().bind(addr)
    }

    fn register(
        socket: std::net::UdpSocket,
        ioloop: IOLoop,
        max_send_queue: usize,
    ) -> io::Result<UdpSocket> {
        let fd = socket.as_raw_fd();
        let inner = Rc::new_cyclic(|me| Inner {
            me: me.clone(),
            ioloop: ioloop.clone(),
            fd,
            max_send_queue,
            st: RefCell::new(State {
                socket: Some(socket),
                peer: None,
                readable: true,
                writable: true,
                queue: VecDeque::new(),
                recv_wakers: Vec::new(),
                room_wakers: Vec::new(),
            }),
            callback: RefCell::new(None),
            has_callback: std::cell::Cell::new(false),
            recv_buf: RefCell::new(Vec::new()),
        });
        let weak: Weak<Inner> = Rc::downgrade(&inner);
        ioloop
            .add_edge_handler(fd, Events::READ | Events::WRITE, move |_, events| {
                if let Some(inner) = weak.upgrade() {
                    inner.on_events(events);
                }
            })
            .map_err(|err| context(err, "udp socket"))?;
        Ok(UdpSocket { inner })
    }

    /// Connects the socket to `peer`: sends without an address go there,
    /// only its datagrams are received, and an ICMP port unreachable from
    /// it fails the next send or receive with
    /// [`UdpError::ConnectionRefused`].
    ///
    /// # Errors
    ///
    /// An `io::Error` naming the peer.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpSocket;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let a = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b_addr = b.local_addr()?;
    /// ioloop.run_sync(|| async move {
    ///     a.connect(b_addr)?;
    ///     a.send(b"to the peer").await?;
    ///     let mut buf = [0; 64];
    ///     let n = b.recv_from(&mut buf).await?.0;
    ///     assert_eq!(&buf[..n], b"to the peer");
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect(&self, peer: SocketAddr) -> io::Result<()> {
        let mut st = self.inner.st.borrow_mut();
        let fd = self.inner.fd;
        let socket = st
            .socket
            .as_ref()
            .ok_or_else(|| io::Error::from(UdpError::Closed { fd }))?;
        socket
            .connect(peer)
            .map_err(|err| context(err, format_args!("connect udp fd {fd} to {peer}")))?;
        st.peer = Some(peer);
        Ok(())
    }

    /// Sends `data` to `addr`; the future gives the bytes sent (all of
    /// them: a datagram is sent whole or not at all).
    ///
    /// # Errors
    ///
    /// [`UdpError::MessageTooLarge`], [`UdpError::ConnectionRefused`] (a
    /// connected socket), [`UdpError::Closed`], or another
    /// [`UdpError::Io`].
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpSocket;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let a = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b_addr = b.local_addr()?;
    /// ioloop.run_sync(|| async move {
    ///     let sent = a.send_to(b"hello", b_addr).await?;
    ///     assert_eq!(sent, 5);
    ///     # let mut buf = [0; 8]; b.recv_from(&mut buf).await?;
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_to<'a>(&'a self, data: &'a [u8], addr: SocketAddr) -> SendTo<'a> {
        SendTo {
            socket: self,
            data,
            addr: Some(addr),
            slot: None,
        }
    }

    /// Sends `data` to the connected peer (see
    /// [`connect`](UdpSocket::connect)).
    ///
    /// # Errors
    ///
    /// As [`send_to`](UdpSocket::send_to); `NotConnected` (an
    /// [`UdpError::Io`]) if the socket is not connected.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpSocket;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let a = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b_addr = b.local_addr()?;
    /// ioloop.run_sync(|| async move {
    ///     a.connect(b_addr)?;
    ///     assert_eq!(a.send(b"hello").await?, 5);
    ///     # let mut buf = [0; 8]; b.recv_from(&mut buf).await?;
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send<'a>(&'a self, data: &'a [u8]) -> SendTo<'a> {
        SendTo {
            socket: self,
            data,
            addr: None,
            slot: None,
        }
    }

    /// Sends `data` to `addr` (or to the connected peer if `addr` is
    /// `None`) and calls `callback` with the result, from the loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpSocket;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let a = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b_addr = b.local_addr()?;
    /// let (tx, rx) = futures::channel::oneshot::channel();
    /// a.send_to_then(b"hello".to_vec(), Some(b_addr), move |result| {
    ///     let _ = tx.send(result);
    /// });
    /// let sent = ioloop.run_sync(|| rx, Some(std::time::Duration::from_secs(5)))??;
    /// assert_eq!(sent?, 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_to_then(
        &self,
        data: Vec<u8>,
        addr: Option<SocketAddr>,
        callback: impl FnOnce(Result<usize, UdpError>) + 'static,
    ) {
        let socket = self.clone();
        self.inner
            .ioloop
            .spawn(async move {
                let send = SendTo {
                    socket: &socket,
                    data: &data,
                    addr,
                    slot: None,
                };
                callback(send.await);
            })
            .detach();
    }

    /// Receives one datagram into `buf`; the future gives its length and
    /// sender. A datagram longer than `buf` is cut to fit, as `recvfrom`
    /// does.
    ///
    /// # Errors
    ///
    /// [`UdpError::ConnectionRefused`] (a connected socket whose peer
    /// does not listen), [`UdpError::Closed`], or another
    /// [`UdpError::Io`].
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpSocket;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let a = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b_addr = b.local_addr()?;
    /// ioloop.run_sync(|| async move {
    ///     a.send_to(b"hi", b_addr).await?;
    ///     let mut buf = [0; 1500];
    ///     let (n, from) = b.recv_from(&mut buf).await?;
    ///     assert_eq!((n, from), (2, a.local_addr()?));
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_from<'a>(&'a self, buf: &'a mut [u8]) -> RecvFrom<'a> {
        RecvFrom { socket: self, buf }
    }

    /// Receives one datagram from the connected peer into `buf`; the
    /// future gives its length.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](UdpSocket::recv_from).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpSocket;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let a = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b_addr = b.local_addr()?;
    /// ioloop.run_sync(|| async move {
    ///     b.connect(a.local_addr()?)?; // receive from `a` only
    ///     a.send_to(b"hi", b_addr).await?;
    ///     let mut buf = [0; 1500];
    ///     assert_eq!(b.recv(&mut buf).await?, 2);
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> Result<usize, UdpError> {
        self.recv_from(buf).await.map(|(n, _)| n)
    }

    /// Calls `callback` from the loop with each datagram received (and
    /// each receive error), until [`clear_recv_callback`](UdpSocket::clear_recv_callback)
    /// or [`close`](UdpSocket::close): asyncio's `datagram_received` and
    /// `error_received`. The callback may send on the socket. While it is
    /// set, do not also await [`recv_from`](UdpSocket::recv_from).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpSocket;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let a = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b_addr = b.local_addr()?;
    /// let received = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    /// let (seen, stop) = (received.clone(), ioloop.clone());
    /// b.set_recv_callback(move |datagram| {
    ///     if let Ok((data, _from)) = datagram {
    ///         seen.borrow_mut().extend_from_slice(data);
    ///     }
    ///     stop.stop();
    /// });
    /// ioloop.spawn(async move { a.send_to(b"ping", b_addr).await.unwrap(); }).detach();
    /// # let stop = ioloop.clone();
    /// # ioloop.call_later(std::time::Duration::from_secs(5), move || stop.stop());
    /// ioloop.start()?; // until the datagram arrives
    /// assert_eq!(*received.borrow(), b"ping");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_recv_callback(
        &self,
        callback: impl FnMut(Result<(&[u8], SocketAddr), UdpError>) + 'static,
    ) {
        *self.inner.callback.borrow_mut() = Some(Box::new(callback));
        self.inner.has_callback.set(true);
        // Datagrams may be waiting already: no edge will announce them.
        let weak = Rc::downgrade(&self.inner);
        self.inner.ioloop.add_callback(move || {
            if let Some(inner) = weak.upgrade() {
                inner.deliver();
            }
        });
    }

    /// Stops calling the receive callback.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpSocket;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let a = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b_addr = b.local_addr()?;
    /// b.set_recv_callback(|_datagram| {});
    /// b.clear_recv_callback(); // datagrams wait for recv_from again
    /// ioloop.run_sync(|| async move {
    ///     a.send_to(b"x", b_addr).await?;
    ///     let mut buf = [0; 8];
    ///     assert_eq!(b.recv_from(&mut buf).await?.0, 1);
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clear_recv_callback(&self) {
        self.inner.has_callback.set(false);
        drop(self.inner.callback.borrow_mut().take());
    }

    /// Closes the socket now: it leaves the loop, queued datagrams are
    /// dropped and their sends fail with [`UdpError::Closed`], as do
    /// waiting receives. Idempotent.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpSocket;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let a = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b_addr = b.local_addr()?;
    /// b.close();
    /// assert!(b.closed());
    /// # let _ = a;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) {
        self.inner.close();
    }

    /// Whether the socket is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpSocket;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let a = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b_addr = b.local_addr()?;
    /// assert!(!b.closed());
    /// b.close();
    /// assert!(b.closed());
    /// # let _ = a;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn closed(&self) -> bool {
        self.inner.st.borrow().socket.is_none()
    }

    /// The address the socket is bound to.
    ///
    /// # Errors
    ///
    /// `NotConnected` once closed, or the OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpSocket;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let a = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b_addr = b.local_addr()?;
    /// assert_eq!(b_addr.ip(), std::net::Ipv4Addr::LOCALHOST);
    /// assert_ne!(b_addr.port(), 0);
    /// # let _ = a;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let st = self.inner.st.borrow();
        let fd = self.inner.fd;
        match &st.socket {
            Some(socket) => socket.local_addr(),
            None => Err(UdpError::Closed { fd }.into()),
        }
    }

    /// The connected peer, if [`connect`](UdpSocket::connect) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpSocket;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let a = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b_addr = b.local_addr()?;
    /// assert_eq!(a.peer_addr(), None);
    /// a.connect(b_addr)?;
    /// assert_eq!(a.peer_addr(), Some(b_addr));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.inner.st.borrow().peer
    }

    /// The number of datagrams waiting in the send queue.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpSocket;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let a = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b_addr = b.local_addr()?;
    /// // Datagrams the kernel has not taken yet: none on an idle socket.
    /// assert_eq!(a.send_queue_len(), 0);
    /// # let _ = b;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_queue_len(&self) -> usize {
        self.inner.st.borrow().queue.len()
    }

    /// The socket's descriptor (closed after [`close`](UdpSocket::close)).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpSocket;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let a = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b_addr = b.local_addr()?;
    /// assert_ne!(a.fd(), b.fd());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fd(&self) -> RawFd {
        self.inner.fd
    }

    /// The loop the socket runs on.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::UdpSocket;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let a = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    /// let b_addr = b.local_addr()?;
    /// assert!(a.ioloop().ptr_eq(&ioloop));
    /// # let _ = b;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ioloop(&self) -> &IOLoop {
        &self.inner.ioloop
    }
}

impl Inner {
    fn on_events(&self, events: Events) {
        let mut st = self.st.borrow_mut();
        // An error (an ICMP report on a connected socket) is given by the
        // next send or receive: both may proceed.
        if events.contains(Events::READ) || events.contains(Events::ERROR) {
            st.readable = true;
            wake_all(&mut st.recv_wakers);
        }
        if events.contains(Events::WRITE) || events.contains(Events::ERROR) {
            st.writable = true;
            self.flush(&mut st);
        }
        drop(st);
        if self.has_callback.get() {
            self.deliver();
        }
    }

    /// Sends queued datagrams while the kernel takes them.
    fn flush(&self, st: &mut State) {
        let before = st.queue.len();
        while st.writable {
            let Some(front) = st.queue.front() else { break };
            let socket = st.socket.as_ref().expect("open sockets have a socket");
            let result = match front.addr {
                Some(addr) => socket.send_to(&front.data, addr),
                None => socket.send(&front.data),
            };
            match result {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => st.writable = false,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                result => {
                    let queued = st.queue.pop_front().expect("checked above");
                    let addr = queued.addr.or(st.peer);
                    let result = result
                        .map_err(|err| UdpError::from_os(err, "send to", addr, queued.data.len()));
                    SendCompletion::complete(&queued.slot, result);
                }
            }
        }
        if st.queue.len() < before {
            wake_all(&mut st.room_wakers);
        }
    }

    /// Runs the receive callback on each waiting datagram, a batch at a
    /// time.
    fn deliver(&self) {
        let Ok(mut buf) = self.recv_buf.try_borrow_mut() else {
            return; // delivering already, further up the stack
        };
        if buf.is_empty() {
            buf.resize(MAX_DATAGRAM, 0);
        }
        for _ in 0..RECV_BATCH {
            if !self.has_callback.get() {
                return;
            }
            let result = {
                let mut st = self.st.borrow_mut();
                if !st.readable {
                    return;
                }
                match self.recv_locked(&mut st, &mut buf) {
                    None => return,
                    Some(result) => result,
                }
            };
            let Some(mut callback) = self.callback.borrow_mut().take() else {
                return;
            };
            callback(result.map(|(n, from)| (&buf[..n], from)));
            let mut slot = self.callback.borrow_mut();
            if slot.is_none() && self.has_callback.get() {
                *slot = Some(callback);
            }
        }
        // More may wait: let other callbacks run first.
        let weak = self.me.clone();
        self.ioloop.add_callback(move || {
            if let Some(inner) = weak.upgrade() {
                inner.deliver();
            }
        });
    }

    /// One `recvfrom`: `None` if nothing waits (and `readable` is cleared).
    fn recv_locked(
        &self,
        st: &mut State,
        buf: &mut [u8],
    ) -> Option<Result<(usize, SocketAddr), UdpError>> {
        let Some(socket) = st.socket.as_ref() else {
            return Some(Err(UdpError::Closed { fd: self.fd }));
        };
        loop {
            match socket.recv_from(buf) {
                Ok(got) => return Some(Ok(got)),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    st.readable = false;
                    return None;
                }
                Err(err) => {
                    let addr = st.peer.or_else(|| socket.local_addr().ok());
                    return Some(Err(UdpError::from_os(err, "receive on", addr, 0)));
                }
            }
        }
    }

    fn close(&self) {
        let mut st = self.st.borrow_mut();
        let Some(socket) = st.socket.take() else {
            return;
        };
        drop(self.ioloop.remove_handler(self.fd));
        drop(socket);
        let queued: Vec<_> = st.queue.drain(..).collect();
        let mut recv = std::mem::take(&mut st.recv_wakers);
        let mut room = std::mem::take(&mut st.room_wakers);
        drop(st);
        self.has_callback.set(false);
        drop(self.callback.borrow_mut().take());
        for queued in queued {
            SendCompletion::complete(&queued.slot, Err(UdpError::Closed { fd: self.fd }));
        }
        wake_all(&mut recv);
        wake_all(&mut room);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.st.get_mut().socket.is_some() {
            drop(self.ioloop.remove_handler(self.fd));
        }
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.st.borrow();
        f.debug_struct("UdpSocket")
            .field("fd", &self.inner.fd)
            .field("peer", &st.peer)
            .field("queued", &st.queue.len())
            .field("closed", &st.socket.is_none())
            .finish_non_exhaustive()
    }
}

/// The future of [`UdpSocket::send_to`] and [`UdpSocket::send`]: the
/// bytes sent, once the kernel has taken the datagram.
///
/// # Examples
///
/// ```
/// use netutil::UdpSocket;
///
/// let ioloop = ioloop::IOLoop::new()?;
/// let a = UdpSocket::bind("127.0.0.1:0".parse()?)?;
/// let b = UdpSocket::bind("127.0.0.1:0".parse()?)?;
/// let b_addr = b.local_addr()?;
/// ioloop.run_sync(|| async move {
///     let future: netutil::SendTo<'_> = a.send_to(b"x", b_addr);
///     assert_eq!(future.await?, 1);
///     Ok::<_, std::io::Error>(())
/// }, Some(std::time::Duration::from_secs(5)))??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct SendTo<'a> {
    socket: &'a UdpSocket,
    data: &'a [u8],
    addr: Option<SocketAddr>,
    /// Where the result arrives once the datagram is queued.
    slot: Option<Rc<RefCell<SendCompletion>>>,
}

impl Future for SendTo<'_> {
    type Output = Result<usize, UdpError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(slot) = &this.slot {
            let mut slot = slot.borrow_mut();
            if let Some(result) = slot.result.take() {
                return Poll::Ready(result);
            }
            slot.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let inner = &*this.socket.inner;
        let mut st = inner.st.borrow_mut();
        let Some(socket) = st.socket.as_ref() else {
            return Poll::Ready(Err(UdpError::Closed { fd: inner.fd }));
        };
        let addr = this.addr.or(st.peer);
        let len = this.data.len();
        if st.queue.is_empty() && st.writable {
            loop {
                let result = match this.addr {
                    Some(addr) => socket.send_to(this.data, addr),
                    None => socket.send(this.data),
                };
                match result {
                    Ok(n) => return Poll::Ready(Ok(n)),
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                        st.writable = false;
                        break;
                    }
                    Err(err) => {
                        return Poll::Ready(Err(UdpError::from_os(err, "send to", addr, len)));
                    }
                }
            }
        }
        if st.queue.len() >= inner.max_send_queue {
            push_waker(&mut st.room_wakers, cx.waker());
            return Poll::Pending;
        }
        let slot = Rc::new(RefCell::new(SendCompletion {
            result: None,
            waker: Some(cx.waker().clone()),
        }));
        st.queue.push_back(Queued {
            data: this.data.to_vec(),
            addr: this.addr,
            slot: Rc::clone(&slot),
        });
        this.slot = Some(slot);
        Poll::Pending
    }
}

impl fmt::Debug for SendTo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendTo")
            .field("fd", &self.socket.inner.fd)
            .field("len", &self.data.len())
            .field("addr", &self.addr)
            .field("queued", &self.slot.is_some())
            .finish()
    }
}

/// The future of [`UdpSocket::recv_from`]: a datagram's length and
/// sender.
///
/// # Examples
///
/// ```
/// use netutil::UdpSocket;
///
/// let ioloop = ioloop::IOLoop::new()?;
/// let a = UdpSocket::bind("127.0.0.1:0".parse()?)?;
/// let b = UdpSocket::bind("127.0.0.1:0".parse()?)?;
/// let b_addr = b.local_addr()?;
/// ioloop.run_sync(|| async move {
///     a.send_to(b"x", b_addr).await?;
///     let mut buf = [0; 8];
///     let future: netutil::RecvFrom<'_> = b.recv_from(&mut buf);
///     assert_eq!(future.await?.0, 1);
///     Ok::<_, std::io::Error>(())
/// }, Some(std::time::Duration::from_secs(5)))??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct RecvFrom<'a> {
    socket: &'a UdpSocket,
    buf: &'a mut [u8],
}

impl Future for RecvFrom<'_> {
    type Output = Result<(usize, SocketAddr), UdpError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let inner = &*this.socket.inner;
        let mut st = inner.st.borrow_mut();
        if st.readable
            && let Some(result) = inner.recv_locked(&mut st, this.buf)
        {
            return Poll::Ready(result);
        }
        if st.socket.is_none() {
            return Poll::Ready(Err(UdpError::Closed { fd: inner.fd }));
        }
        push_waker(&mut st.recv_wakers, cx.waker());
        Poll::Pending
    }
}

impl fmt::Debug for RecvFrom<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvFrom")
            .field("fd", &self.socket.inner.fd)
            .field("capacity", &self.buf.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::task::noop_waker;

    fn poll<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
        let waker = noop_waker();
        Pin::new(future).poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn a_full_send_queue_holds_the_next_send_until_a_writable_edge() {
        let ioloop = IOLoop::new().unwrap();
        let options = UdpOptions::new().ioloop(&ioloop).max_send_queue(1);
        let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = receiver.local_addr().unwrap();
        let socket = options.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        // As after a send that met a full kernel buffer.
        socket.inner.st.borrow_mut().writable = false;

        let mut first = socket.send_to(b"first", to);
        assert!(poll(&mut first).is_pending());
        assert_eq!(socket.send_queue_len(), 1, "queued");
        let mut second = socket.send_to(b"second", to);
        assert!(poll(&mut second).is_pending());
        assert_eq!(socket.send_queue_len(), 1, "the queue is full: held back");
        assert_eq!(socket.inner.st.borrow().room_wakers.len(), 1);

        socket.inner.on_events(Events::WRITE);
        assert_eq!(socket.send_queue_len(), 0, "flushed on the edge");
        assert!(matches!(poll(&mut first), Poll::Ready(Ok(5))));
        assert!(matches!(poll(&mut second), Poll::Ready(Ok(6))));

        let mut buf = [0; 16];
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"first");
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"second");
    }

    #[test]
    fn close_fails_queued_sends() {
        let ioloop = IOLoop::new().unwrap();
        let socket = UdpOptions::new()
            .ioloop(&ioloop)
            .bind("127.0.0.1:0".parse().unwrap())
            .unwrap();
        socket.inner.st.borrow_mut().writable = false;
        let to = socket.local_addr().unwrap();
        let mut send = socket.send_to(b"x", to);
        assert!(poll(&mut send).is_pending());
        socket.close();
        assert!(matches!(
            poll(&mut send),
            Poll::Ready(Err(UdpError::Closed { .. }))
        ));
        assert!(socket.closed());
    }
}
