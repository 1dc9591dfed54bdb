//! [`add_accept_handler`]: accept connections on the loop, in bounded
//! batches, surviving descriptor exhaustion without spinning.
//!
//! # Descriptor exhaustion
//!
//! `accept` fails with `EMFILE`, `ENFILE`, `ENOBUFS` or `ENOMEM` when the
//! process (or the system) is out of descriptors or memory. The listening
//! socket stays readable, so a level-triggered loop that merely logs the
//! error calls the handler again at once, forever: Tornado's busy loop and
//! log flood (thumbor#324). Here the handler instead:
//!
//! 1. **pauses**: it removes its registration, so the loop no longer
//!    watches the listener, and logs one warning for the episode;
//! 2. **retries** on a timer, [`PAUSE_MIN`] at first, doubling up to
//!    [`PAUSE_MAX`], and also as soon as an [`IOStream`](crate::IOStream) on
//!    this thread closes (a descriptor was freed);
//! 3. **resumes** when a batch of accepts ends without such an error,
//!    logging once at info.
//!
//! Linux takes the new descriptor before looking at the queue, so a
//! process that has just used its last descriptor gets `EMFILE` even when
//! no connection waits; that is not a pause (nothing waits), and the next
//! connection wakes the handler as usual.
//!
//! Connections that arrive meanwhile wait in the kernel's backlog and are
//! served on resumption. A server holding idle connections need not wait
//! for one of them to end: the hook of
//! [`AcceptOptions::on_descriptors_exhausted`] runs when accepting pauses
//! for lack of descriptors, and closing a stream there resumes accepting
//! at once.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use ioloop::{Events, IOLoop, TimeoutHandle, WeakIOLoop};

use crate::error::context;
use crate::sys;

/// How many connections one readiness event accepts at most, by default
/// (Tornado's fixed 128), so other work runs between batches.
///
/// # Examples
///
/// ```
/// use netutil::{AcceptOptions, DEFAULT_MAX_ACCEPTS_PER_EVENT};
///
/// // Accept fewer connections per wakeup, to let other handlers run sooner.
/// let options = AcceptOptions::new().max_accepts_per_event(DEFAULT_MAX_ACCEPTS_PER_EVENT / 4);
/// # let _ = options;
/// ```
pub const DEFAULT_MAX_ACCEPTS_PER_EVENT: usize = 128;

/// The first retry delay after descriptor exhaustion.
///
/// # Examples
///
/// ```
/// // An accept handler out of descriptors retries after PAUSE_MIN at first,
/// // doubling up to PAUSE_MAX.
/// assert!(netutil::PAUSE_MIN < netutil::PAUSE_MAX);
/// ```
pub const PAUSE_MIN: Duration = Duration::from_millis(100);

/// The longest retry delay after descriptor exhaustion.
///
/// # Examples
///
/// ```
/// assert_eq!(netutil::PAUSE_MAX, std::time::Duration::from_secs(1));
/// ```
pub const PAUSE_MAX: Duration = Duration::from_secs(1);

/// A listening socket that [`add_accept_handler`] can accept on.
///
/// Implemented for [`TcpListener`], [`UnixListener`] and [`AnyListener`].
///
/// # Examples
///
/// ```
/// use std::os::unix::net::{UnixListener, UnixStream};
/// use netutil::Listener;
///
/// let path = std::env::temp_dir().join(format!("netutil-doc-{}-l.sock", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let listener = UnixListener::bind(&path)?;
/// let _client = UnixStream::connect(&path)?;
/// let (_stream, _addr) = listener.accept_connection()?;
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Listener: AsFd + 'static {
    /// The accepted connection.
    type Stream: 'static;
    /// The peer's address.
    type Addr: 'static;

    /// Accepts one connection, non-blocking and close-on-exec, without
    /// waiting.
    ///
    /// # Errors
    ///
    /// The OS error (`WouldBlock` when no connection is waiting).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::Listener;
    ///
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let client = std::net::TcpStream::connect(listener.local_addr()?)?;
    /// let (_stream, peer) = listener.accept_connection()?;
    /// assert_eq!(peer, client.local_addr()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn accept_connection(&self) -> io::Result<(Self::Stream, Self::Addr)>;
}

impl Listener for TcpListener {
    type Stream = TcpStream;
    type Addr = SocketAddr;

    fn accept_connection(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (fd, addr) = sys::accept(self.as_fd())?;
        let addr = addr
            .as_socket()
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        Ok((TcpStream::from(fd), addr))
    }
}

impl Listener for UnixListener {
    type Stream = UnixStream;
    type Addr = std::os::unix::net::SocketAddr;

    fn accept_connection(&self) -> io::Result<(UnixStream, Self::Addr)> {
        let (fd, _) = sys::accept(self.as_fd())?;
        let stream = UnixStream::from(fd);
        // Unix peers are usually unnamed; std can only build the address
        // from the socket itself. A peer already gone counts as aborted.
        let addr = stream
            .peer_addr()
            .map_err(|_| io::Error::from_raw_os_error(libc::ECONNABORTED))?;
        Ok((stream, addr))
    }
}

/// A TCP or a Unix listening socket: what a
/// [`TCPServer`](crate::TCPServer) accepts on.
///
/// # Examples
///
/// ```
/// use netutil::AnyListener;
///
/// let tcp: AnyListener = std::net::TcpListener::bind("127.0.0.1:0")?.into();
/// assert!(matches!(tcp, AnyListener::Tcp(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub enum AnyListener {
    /// A TCP listener.
    Tcp(TcpListener),
    /// A Unix stream listener.
    Unix(UnixListener),
}

impl From<TcpListener> for AnyListener {
    fn from(listener: TcpListener) -> Self {
        AnyListener::Tcp(listener)
    }
}

impl From<UnixListener> for AnyListener {
    fn from(listener: UnixListener) -> Self {
        AnyListener::Unix(listener)
    }
}

impl AnyListener {
    /// The local address, for messages (`"127.0.0.1:8888"` or the path).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::AnyListener;
    ///
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let port = listener.local_addr()?.port();
    /// assert_eq!(AnyListener::from(listener).local_addr_string(), format!("127.0.0.1:{port}"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local_addr_string(&self) -> String {
        match self {
            AnyListener::Tcp(l) => l
                .local_addr()
                .map_or_else(|e| format!("?({e})"), |a| a.to_string()),
            AnyListener::Unix(l) => l
                .local_addr()
                .map_or_else(|e| format!("?({e})"), |a| PeerAddr::Unix(a).to_string()),
        }
    }
}

impl AsFd for AnyListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            AnyListener::Tcp(l) => l.as_fd(),
            AnyListener::Unix(l) => l.as_fd(),
        }
    }
}

/// The address of a peer: IP, or Unix.
///
/// # Examples
///
/// ```
/// use netutil::{AnyListener, Listener, PeerAddr};
///
/// let listener = AnyListener::from(std::net::TcpListener::bind("127.0.0.1:0")?);
/// # let AnyListener::Tcp(l) = &listener else { unreachable!() };
/// let _client = std::net::TcpStream::connect(l.local_addr()?)?;
/// let (_fd, peer) = listener.accept_connection()?;
/// assert!(matches!(peer, PeerAddr::Inet(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub enum PeerAddr {
    /// An IPv4 or IPv6 peer.
    Inet(SocketAddr),
    /// A Unix-domain peer (usually unnamed).
    Unix(std::os::unix::net::SocketAddr),
}

impl PeerAddr {
    /// The IP address and port, for an IP peer.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::PeerAddr;
    ///
    /// let peer = PeerAddr::Inet("127.0.0.1:5000".parse()?);
    /// assert_eq!(peer.as_inet(), Some("127.0.0.1:5000".parse()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn as_inet(&self) -> Option<SocketAddr> {
        match self {
            PeerAddr::Inet(addr) => Some(*addr),
            PeerAddr::Unix(_) => None,
        }
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Inet(addr) => write!(f, "{addr}"),
            PeerAddr::Unix(addr) => match addr.as_pathname() {
                Some(path) => write!(f, "{}", path.display()),
                None => f.write_str("(unnamed unix socket)"),
            },
        }
    }
}

impl Listener for AnyListener {
    type Stream = OwnedFd;
    type Addr = PeerAddr;

    fn accept_connection(&self) -> io::Result<(OwnedFd, PeerAddr)> {
        match self {
            AnyListener::Tcp(l) => l
                .accept_connection()
                .map(|(s, a)| (s.into(), PeerAddr::Inet(a))),
            AnyListener::Unix(l) => l
                .accept_connection()
                .map(|(s, a)| (s.into(), PeerAddr::Unix(a))),
        }
    }
}

/// What [`AcceptOptions::on_descriptors_exhausted`] calls.
pub(crate) type ExhaustedHook = Rc<dyn Fn()>;

/// Options of [`add_accept_handler`]; see [`AcceptOptions::add`].
///
/// # Examples
///
/// ```
/// use std::net::TcpStream;
/// use netutil::AcceptOptions;
///
/// let ioloop = ioloop::IOLoop::new()?;
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let _client = TcpStream::connect(listener.local_addr()?)?;
/// let accepted = std::rc::Rc::new(std::cell::Cell::new(0));
/// let (count, stop) = (accepted.clone(), ioloop.clone());
/// let handle = AcceptOptions::new()
///     .max_accepts_per_event(16)
///     .add(listener, move |_conn: TcpStream, _peer| {
///         count.set(count.get() + 1);
///         stop.stop();
///     })?;
/// # let stop = ioloop.clone();
/// # ioloop.call_later(std::time::Duration::from_secs(5), move || stop.stop());
/// ioloop.start()?;
/// assert_eq!(accepted.get(), 1);
/// handle.remove();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct AcceptOptions {
    max_accepts_per_event: usize,
    ioloop: Option<IOLoop>,
    on_exhausted: Option<ExhaustedHook>,
}

impl Default for AcceptOptions {
    fn default() -> Self {
        AcceptOptions {
            max_accepts_per_event: DEFAULT_MAX_ACCEPTS_PER_EVENT,
            ioloop: None,
            on_exhausted: None,
        }
    }
}

impl fmt::Debug for AcceptOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceptOptions")
            .field("max_accepts_per_event", &self.max_accepts_per_event)
            .field("ioloop", &self.ioloop)
            .field("on_descriptors_exhausted", &self.on_exhausted.is_some())
            .finish()
    }
}

impl AcceptOptions {
    /// The defaults: [`DEFAULT_MAX_ACCEPTS_PER_EVENT`], the current loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::AcceptOptions;
    ///
    /// let _ioloop = ioloop::IOLoop::new()?;
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let handle = AcceptOptions::new().add(listener, |_conn: std::net::TcpStream, _peer| {})?;
    /// assert!(!handle.is_removed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> AcceptOptions {
        AcceptOptions::default()
    }

    /// How many connections one readiness event accepts at most (at least
    /// 1), independent of the listen backlog (Tornado PR #3062). Further
    /// connections are accepted on the next iteration, after other work.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::AcceptOptions;
    ///
    /// # let _ioloop = ioloop::IOLoop::new()?;
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// // At most 8 accepts per readiness event; the rest wait for the next turn.
    /// let handle = AcceptOptions::new()
    ///     .max_accepts_per_event(8)
    ///     .add(listener, |_conn: std::net::TcpStream, _peer| {})?;
    /// # handle.remove();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_accepts_per_event(mut self, n: usize) -> AcceptOptions {
        self.max_accepts_per_event = n.max(1);
        self
    }

    /// The loop to accept on (default: [`IOLoop::current`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::AcceptOptions;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let handle = AcceptOptions::new()
    ///     .ioloop(&ioloop)
    ///     .add(listener, |_conn: std::net::TcpStream, _peer| {})?;
    /// # handle.remove();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ioloop(mut self, ioloop: &IOLoop) -> AcceptOptions {
        self.ioloop = Some(ioloop.clone());
        self
    }

    /// Calls `hook` on the loop thread when accepting pauses because the
    /// process or the system is out of descriptors (`EMFILE`, `ENFILE`),
    /// so a server can close idle connections to make room.
    ///
    /// # Semantics
    ///
    /// * `hook` runs once when the listener pauses; the retries that still
    ///   find no descriptor do not call it again. Once a connection has
    ///   been accepted, running out again is a new pause and calls it
    ///   again, so each call stands for at least one connection waiting.
    /// * It runs after the listener is paused: closing an
    ///   [`IOStream`](crate::IOStream) inside it (or later) makes the
    ///   listener retry on the next loop iteration rather than after its
    ///   back-off. Descriptors freed otherwise are noticed by the back-off
    ///   retry, within [`PAUSE_MAX`].
    /// * Each listener calls it for itself: a server with several
    ///   listeners may see one call per listener with connections waiting.
    /// * `ENOBUFS` and `ENOMEM` (out of memory) pause too, but do not call
    ///   it. Tornado has no such hook.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = netutil::AcceptOptions::new().on_descriptors_exhausted(|| {
    ///     // Close the oldest idle keep-alive connection here.
    /// });
    /// # drop(options);
    /// ```
    pub fn on_descriptors_exhausted(mut self, hook: impl Fn() + 'static) -> AcceptOptions {
        self.on_exhausted = Some(Rc::new(hook));
        self
    }

    /// Takes the hook given to
    /// [`on_descriptors_exhausted`](AcceptOptions::on_descriptors_exhausted).
    pub(crate) fn take_exhausted_hook(&mut self) -> Option<ExhaustedHook> {
        self.on_exhausted.take()
    }

    /// Registers `callback` to accept on `listener`: see
    /// [`add_accept_handler`], which this is with options.
    ///
    /// # Errors
    ///
    /// As [`add_accept_handler`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::net::{UnixListener, UnixStream};
    /// use netutil::AcceptOptions;
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let path = std::env::temp_dir().join(format!("netutil-doc-{}-a.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path)?;
    /// let _client = UnixStream::connect(&path)?;
    /// let accepted = std::rc::Rc::new(std::cell::Cell::new(false));
    /// let (flag, stop) = (accepted.clone(), ioloop.clone());
    /// let handle = AcceptOptions::new().add(listener, move |_conn: UnixStream, _addr| {
    ///     flag.set(true);
    ///     stop.stop();
    /// })?;
    /// # let stop = ioloop.clone();
    /// # ioloop.call_later(std::time::Duration::from_secs(5), move || stop.stop());
    /// ioloop.start()?; // returns once the connection is accepted
    /// assert!(accepted.get());
    /// handle.remove();
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn add<L, F>(&self, listener: L, callback: F) -> io::Result<AcceptHandle>
    where
        L: Listener,
        F: FnMut(L::Stream, L::Addr) + 'static,
    {
        let ioloop = match &self.ioloop {
            Some(l) => l.clone(),
            None => IOLoop::current(),
        };
        let fd = listener.as_fd().as_raw_fd();
        socket2::SockRef::from(&listener)
            .set_nonblocking(true)
            .map_err(|err| context(err, format_args!("accept handler: O_NONBLOCK on fd {fd}")))?;
        let state = Rc::new_cyclic(|me| AcceptState {
            me: me.clone(),
            ioloop: ioloop.downgrade(),
            fd,
            listener: RefCell::new(Some(listener)),
            callback: RefCell::new(callback),
            max_accepts: self.max_accepts_per_event,
            removed: Cell::new(false),
            paused: Cell::new(None),
            backoff: Cell::new(PAUSE_MIN),
            episode: Cell::new(None),
            on_exhausted: self.on_exhausted.clone(),
            exhausted_told: Cell::new(false),
        });
        state.register(&ioloop)?;
        Ok(AcceptHandle { state })
    }
}

/// Calls `callback(connection, address)` for each connection accepted on
/// `listener`, on the current loop (Tornado's `add_accept_handler`).
///
/// The listener is made non-blocking and is owned by the handler until
/// [`AcceptHandle::remove`] closes it. Accepted connections are
/// non-blocking and close-on-exec; `callback` runs on the loop thread,
/// synchronously after each accept.
///
/// # Semantics
///
/// * Each readiness event accepts up to
///   [`DEFAULT_MAX_ACCEPTS_PER_EVENT`] connections (configurable with
///   [`AcceptOptions::max_accepts_per_event`], separately from the
///   backlog); the rest wait for the next iteration.
/// * `ECONNABORTED` (a client gone before the accept) and the other
///   transient per-connection errors Linux reports on `accept` are
///   skipped.
/// * `EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM` and any unexpected error
///   pause the listener: the handler deregisters (so a readable listener
///   no longer wakes the loop), logs one warning for the episode, and
///   retries after [`PAUSE_MIN`], doubling up to [`PAUSE_MAX`], and also
///   as soon as an [`IOStream`](crate::IOStream) on this thread closes (a
///   descriptor was freed). When a batch of accepts ends without such an
///   error, it logs once at info and carries on. Connections arriving
///   meanwhile wait in the kernel's backlog. No busy loop, no log flood
///   (Tornado spins here: thumbor#324). To close idle connections and
///   make room, see [`AcceptOptions::on_descriptors_exhausted`].
/// * Removing the handler from inside `callback` is safe: no `accept` is
///   made after removal (Tornado #2069).
///
/// # Errors
///
/// An `io::Error` naming the descriptor if it cannot be made non-blocking
/// or registered (for example, it already has a handler).
///
/// # Examples
///
/// ```
/// use std::net::TcpStream;
/// use ioloop::IOLoop;
///
/// let ioloop = IOLoop::new()?;
/// let listener = netutil::bind_sockets(0, Some("127.0.0.1"))?.remove(0);
/// let addr = listener.local_addr()?;
/// let l = ioloop.clone();
/// let handle = netutil::add_accept_handler(listener, move |conn: TcpStream, peer| {
///     println!("connection from {peer}");
///     drop(conn);
///     l.stop();
/// })?;
/// let client = TcpStream::connect(addr)?;
/// # let stop = ioloop.clone();
/// # let guard = ioloop.call_later(std::time::Duration::from_secs(5), move || stop.stop());
/// ioloop.start()?;
/// handle.remove(); // closes the listener
/// # drop(client);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[track_caller]
pub fn add_accept_handler<L, F>(listener: L, callback: F) -> io::Result<AcceptHandle>
where
    L: Listener,
    F: FnMut(L::Stream, L::Addr) + 'static,
{
    AcceptOptions::default().add(listener, callback)
}

/// Controls an accept handler: returned by [`add_accept_handler`].
///
/// Dropping the handle leaves the handler running; call
/// [`remove`](AcceptHandle::remove) to stop accepting.
///
/// # Examples
///
/// ```
/// use netutil::add_accept_handler;
///
/// let _ioloop = ioloop::IOLoop::new()?;
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let handle = add_accept_handler(listener, |_conn: std::net::TcpStream, _peer| {})?;
/// # let _ = &handle;
/// // Dropping the handle leaves the handler running; remove() stops it.
/// handle.remove();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AcceptHandle {
    state: Rc<dyn AcceptControl>,
}

impl AcceptHandle {
    /// Stops accepting and closes the listener. Idempotent, and safe from
    /// inside the accept callback: no `accept` follows it.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::add_accept_handler;
    ///
    /// let _ioloop = ioloop::IOLoop::new()?;
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let handle = add_accept_handler(listener, |_conn: std::net::TcpStream, _peer| {})?;
    /// handle.remove(); // closes the listener
    /// assert!(handle.is_removed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remove(&self) {
        self.state.remove();
    }

    /// True after [`remove`](AcceptHandle::remove).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::add_accept_handler;
    ///
    /// let _ioloop = ioloop::IOLoop::new()?;
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let handle = add_accept_handler(listener, |_conn: std::net::TcpStream, _peer| {})?;
    /// assert!(!handle.is_removed());
    /// handle.remove();
    /// assert!(handle.is_removed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_removed(&self) -> bool {
        self.state.is_removed()
    }

    /// True while accepting is paused after descriptor exhaustion.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::add_accept_handler;
    ///
    /// let _ioloop = ioloop::IOLoop::new()?;
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let handle = add_accept_handler(listener, |_conn: std::net::TcpStream, _peer| {})?;
    /// // Paused only while the process is out of descriptors.
    /// assert!(!handle.is_paused());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_paused(&self) -> bool {
        self.state.is_paused()
    }

    /// The listener's descriptor (closed after removal).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::add_accept_handler;
    ///
    /// let _ioloop = ioloop::IOLoop::new()?;
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let handle = add_accept_handler(listener, |_conn: std::net::TcpStream, _peer| {})?;
    /// assert!(handle.fd() >= 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fd(&self) -> RawFd {
        self.state.fd()
    }
}

impl fmt::Debug for AcceptHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceptHandle")
            .field("fd", &self.fd())
            .field("removed", &self.is_removed())
            .field("paused", &self.is_paused())
            .finish()
    }
}

/// What the handle and the released-descriptor hook need, without the
/// listener's and callback's types.
trait AcceptControl {
    fn remove(&self);
    fn is_removed(&self) -> bool;
    fn is_paused(&self) -> bool;
    fn fd(&self) -> RawFd;
    /// Retries now, if paused (a descriptor was freed).
    fn retry_soon(&self);
}

/// A pause after descriptor exhaustion.
#[derive(Clone, Copy)]
struct Pause {
    timer: TimeoutHandle,
}

struct AcceptState<L, F> {
    me: Weak<AcceptState<L, F>>,
    ioloop: WeakIOLoop,
    fd: RawFd,
    /// INVARIANT: `None` exactly when `removed`; the handler is
    /// deregistered before the listener is dropped (closed).
    listener: RefCell<Option<L>>,
    callback: RefCell<F>,
    max_accepts: usize,
    /// INVARIANT: once true, no `accept` is made, the handler is not
    /// registered and no retry is pending.
    removed: Cell<bool>,
    /// INVARIANT: `Some` exactly while the handler is deregistered for a
    /// pause, with a retry timer pending.
    paused: Cell<Option<Pause>>,
    /// The next pause's length.
    backoff: Cell<Duration>,
    /// When the current exhaustion episode began (for its single log
    /// record), `None` outside one.
    episode: Cell<Option<Instant>>,
    on_exhausted: Option<ExhaustedHook>,
    /// INVARIANT: true exactly when `on_exhausted` was called and no
    /// connection has been accepted since.
    exhausted_told: Cell<bool>,
}

/// What to do with an `accept` error.
enum Verdict {
    /// The queue is empty.
    Drained,
    /// This connection failed; try the next.
    Skip,
    /// Out of descriptors or memory, or something unexpected: pause.
    Pause,
}

fn verdict(err: &io::Error) -> Verdict {
    if err.kind() == io::ErrorKind::WouldBlock {
        return Verdict::Drained;
    }
    match err.raw_os_error() {
        // A client gone before the accept; and on Linux, network errors
        // pending on the new socket, which accept(2) says to treat like
        // EAGAIN by retrying.
        Some(
            libc::ECONNABORTED
            | libc::EINTR
            | libc::EPROTO
            | libc::ENOPROTOOPT
            | libc::EHOSTDOWN
            | libc::ENONET
            | libc::EHOSTUNREACH
            | libc::EOPNOTSUPP
            | libc::ENETUNREACH
            | libc::ENETDOWN
            | libc::EPERM,
        ) => Verdict::Skip,
        _ => Verdict::Pause,
    }
}

/// Out of descriptors: what a server can remedy by closing connections.
fn is_out_of_descriptors(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

fn is_exhaustion(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

impl<L, F> AcceptState<L, F>
where
    L: Listener,
    F: FnMut(L::Stream, L::Addr) + 'static,
{
    #[track_caller]
    fn register(&self, ioloop: &IOLoop) -> io::Result<()> {
        let me = self.me.upgrade().expect("called on a live state");
        ioloop
            .add_handler(self.fd, Events::READ, move |_, _| me.on_readable())
            .map_err(|err| context(err, "accept handler"))
    }

    fn on_readable(&self) {
        let Some(ioloop) = self.ioloop.upgrade() else {
            return;
        };
        for _ in 0..self.max_accepts {
            if self.removed.get() {
                return;
            }
            let accepted = match &*self.listener.borrow() {
                Some(listener) => listener.accept_connection(),
                None => return,
            };
            match accepted {
                Ok((stream, addr)) => {
                    self.exhausted_told.set(false);
                    (self.callback.borrow_mut())(stream, addr);
                }
                Err(err) => match verdict(&err) {
                    Verdict::Skip => continue,
                    Verdict::Drained => {
                        // Read until WouldBlock: no re-arm needed.
                        ioloop.mark_drained(self.fd, Events::READ);
                        self.end_episode();
                        return;
                    }
                    Verdict::Pause if is_out_of_descriptors(&err) && !self.connection_waits() => {
                        // Linux takes the descriptor before looking at the
                        // queue: a process that just used its last one gets
                        // EMFILE with nobody waiting. Nothing to pause for;
                        // the next connection wakes the handler (the loop
                        // re-arms it, as no accept said `WouldBlock`).
                        self.end_episode();
                        return;
                    }
                    Verdict::Pause => {
                        self.pause(&ioloop, &err);
                        return;
                    }
                },
            }
        }
        // Batch limit: the loop re-arms the listener (level-triggered) and
        // calls again on the next iteration.
        self.end_episode();
    }

    /// Whether a connection waits in the listener's queue (true when
    /// that cannot be told).
    fn connection_waits(&self) -> bool {
        match &*self.listener.borrow() {
            Some(listener) => sys::is_readable_now(listener.as_fd()).unwrap_or(true),
            None => false,
        }
    }

    fn pause(&self, ioloop: &IOLoop, err: &io::Error) {
        let delay = self.backoff.get();
        if self.episode.get().is_none() {
            self.episode.set(Some(Instant::now()));
            let addr = self.describe();
            if is_exhaustion(err) {
                log::warn!(
                    target: "netutil",
                    "accept on {addr}: {err}; pausing accepts, retrying in {delay:?} and whenever a stream closes"
                );
            } else {
                log::error!(
                    target: "netutil",
                    "accept on {addr}: unexpected error: {err}; pausing accepts, retrying in {delay:?}"
                );
            }
        } else {
            log::debug!(target: "netutil", "accept on fd {}: still failing: {err}", self.fd);
        }
        self.backoff.set((delay * 2).min(PAUSE_MAX));
        // Deregister: a readable listener must not wake the loop meanwhile.
        drop(ioloop.remove_handler(self.fd));
        // The timer holds the state: a detached handle (dropped without
        // `remove`) must not let a paused listener vanish.
        let me = self.me.upgrade().expect("called on a live state");
        let timer = ioloop.call_later(delay, move || me.resume());
        self.paused.set(Some(Pause { timer }));
        let me: Weak<dyn AcceptControl> = self.me.clone();
        PAUSED.with(|paused| {
            let mut paused = paused.borrow_mut();
            paused.retain(|w| w.strong_count() > 0);
            if !paused.iter().any(|w| Weak::ptr_eq(w, &me)) {
                paused.push(me);
            }
        });
        // Last, once paused: a stream the hook closes finds this listener
        // among the paused ones and makes it retry at once.
        if let Some(hook) = &self.on_exhausted
            && is_out_of_descriptors(err)
            && !self.exhausted_told.replace(true)
        {
            hook();
        }
    }

    fn resume(&self) {
        let Some(pause) = self.paused.take() else {
            return;
        };
        let Some(ioloop) = self.ioloop.upgrade() else {
            return;
        };
        ioloop.remove_timeout(pause.timer);
        if self.removed.get() {
            return;
        }
        // Registering reports the listener's current readiness, so waiting
        // connections are accepted on this iteration's poll.
        if let Err(err) = self.register(&ioloop) {
            self.pause(&ioloop, &err);
        }
    }

    fn end_episode(&self) {
        if let Some(since) = self.episode.take() {
            self.backoff.set(PAUSE_MIN);
            log::info!(
                target: "netutil",
                "accept on {}: accepting again after {:?}",
                self.describe(),
                since.elapsed()
            );
        }
    }

    fn describe(&self) -> String {
        let local = self
            .listener
            .borrow()
            .as_ref()
            .and_then(|l| socket2::SockRef::from(l).local_addr().ok());
        match local.as_ref().and_then(socket2::SockAddr::as_socket) {
            Some(addr) => format!("fd {} ({addr})", self.fd),
            None => format!("fd {}", self.fd),
        }
    }
}

impl<L, F> AcceptControl for AcceptState<L, F>
where
    L: Listener,
    F: FnMut(L::Stream, L::Addr) + 'static,
{
    fn remove(&self) {
        if self.removed.replace(true) {
            return;
        }
        let ioloop = self.ioloop.upgrade();
        match self.paused.take() {
            Some(pause) => {
                if let Some(l) = &ioloop {
                    l.remove_timeout(pause.timer);
                }
            }
            None => {
                if let Some(l) = &ioloop {
                    drop(l.remove_handler(self.fd));
                }
            }
        }
        // Deregistered first, then closed (the loop's contract).
        let listener = self.listener.borrow_mut().take();
        drop(listener);
    }

    fn is_removed(&self) -> bool {
        self.removed.get()
    }

    fn is_paused(&self) -> bool {
        self.paused.get().is_some()
    }

    fn fd(&self) -> RawFd {
        self.fd
    }

    fn retry_soon(&self) {
        let Some(pause) = self.paused.get() else {
            return;
        };
        let Some(ioloop) = self.ioloop.upgrade() else {
            return;
        };
        // Replace the back-off timer with an immediate callback.
        ioloop.remove_timeout(pause.timer);
        let Some(me) = self.me.upgrade() else {
            return;
        };
        let timer = ioloop.call_later(Duration::ZERO, move || me.resume());
        self.paused.set(Some(Pause { timer }));
    }
}

thread_local! {
    /// Accept handlers of this thread paused by descriptor exhaustion.
    static PAUSED: RefCell<Vec<Weak<dyn AcceptControl>>> = const { RefCell::new(Vec::new()) };
}

/// Tells paused accept handlers of this thread that a descriptor was
/// freed, so they retry now rather than at the end of their back-off.
/// Cheap when none is paused (one thread-local check).
pub(crate) fn descriptor_released() {
    PAUSED.with(|paused| {
        let mut paused = match paused.try_borrow_mut() {
            Ok(p) => p,
            Err(_) => return,
        };
        if paused.is_empty() {
            return;
        }
        paused.retain(|w| w.upgrade().is_some_and(|s| s.is_paused()));
        let live: Vec<_> = paused.iter().filter_map(Weak::upgrade).collect();
        drop(paused);
        for state in live {
            state.retry_soon();
        }
    });
}
