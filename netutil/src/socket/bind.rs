//! Listening sockets: [`bind_sockets`] (TCP, every family) and
//! [`bind_unix_socket`], with Tornado's rules (`netutil.bind_sockets`,
//! `netutil.bind_unix_socket`).

use std::ffi::OsStr;
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::Path;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::error::context;

/// The default listen backlog: the kernel's queue of connections not yet
/// accepted. Tornado's is 128; Linux has allowed 4096 since 5.4 (and clamps
/// larger values to `net.core.somaxconn`).
///
/// # Examples
///
/// ```
/// use netutil::{BindOptions, DEFAULT_BACKLOG};
///
/// let listeners = BindOptions::new().backlog(DEFAULT_BACKLOG / 2).bind(0, Some("127.0.0.1"))?;
/// assert_eq!(listeners.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const DEFAULT_BACKLOG: i32 = 1024;

/// An address family, as Tornado's `family` argument (`AF_UNSPEC`,
/// `AF_INET`, `AF_INET6`).
///
/// # Examples
///
/// ```
/// use netutil::{BindOptions, Family};
///
/// let listeners = BindOptions::new().family(Family::Inet).bind(0, Some("localhost"))?;
/// assert!(listeners.iter().all(|l| l.local_addr().unwrap().is_ipv4()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Family {
    /// Any family (`AF_UNSPEC`): IPv4 and IPv6.
    #[default]
    Unspec,
    /// IPv4 only (`AF_INET`).
    Inet,
    /// IPv6 only (`AF_INET6`).
    Inet6,
}

impl Family {
    /// True if `addr` belongs to this family.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::Family;
    ///
    /// let v4 = "127.0.0.1:80".parse()?;
    /// assert!(Family::Inet.matches(&v4));
    /// assert!(!Family::Inet6.matches(&v4));
    /// assert!(Family::Unspec.matches(&v4));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn matches(self, addr: &SocketAddr) -> bool {
        match self {
            Family::Unspec => true,
            Family::Inet => addr.is_ipv4(),
            Family::Inet6 => addr.is_ipv6(),
        }
    }
}

/// Options of [`bind_sockets`]: the family, the backlog and `SO_REUSEPORT`.
///
/// # Examples
///
/// ```
/// use netutil::{BindOptions, Family};
///
/// let listeners = BindOptions::new()
///     .family(Family::Inet)
///     .backlog(128)
///     .bind(0, Some("127.0.0.1"))?;
/// assert_eq!(listeners.len(), 1);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct BindOptions {
    family: Family,
    backlog: i32,
    reuse_port: bool,
}

impl Default for BindOptions {
    fn default() -> Self {
        BindOptions {
            family: Family::Unspec,
            backlog: DEFAULT_BACKLOG,
            reuse_port: false,
        }
    }
}

impl BindOptions {
    /// The defaults: every family, [`DEFAULT_BACKLOG`], no `SO_REUSEPORT`.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::BindOptions;
    ///
    /// let listeners = BindOptions::new().bind(0, Some("127.0.0.1"))?;
    /// assert_ne!(listeners[0].local_addr()?.port(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> BindOptions {
        BindOptions::default()
    }

    /// Restricts the sockets to one family.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{BindOptions, Family};
    ///
    /// // Only IPv4, even where "localhost" also resolves to ::1.
    /// let listeners = BindOptions::new().family(Family::Inet).bind(0, Some("localhost"))?;
    /// assert!(listeners[0].local_addr()?.is_ipv4());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn family(mut self, family: Family) -> BindOptions {
        self.family = family;
        self
    }

    /// The listen backlog (at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::BindOptions;
    ///
    /// let listeners = BindOptions::new().backlog(16).bind(0, Some("127.0.0.1"))?;
    /// # assert_eq!(listeners.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn backlog(mut self, backlog: i32) -> BindOptions {
        self.backlog = backlog.max(1);
        self
    }

    /// Sets `SO_REUSEPORT`, so several sockets (in several processes) can
    /// listen on one port and the kernel spreads connections among them.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::BindOptions;
    ///
    /// // Two sockets on one port: the kernel spreads connections over them.
    /// let options = BindOptions::new().reuse_port(true);
    /// let first = options.bind(0, Some("127.0.0.1"))?;
    /// let port = first[0].local_addr()?.port();
    /// let second = options.bind(port, Some("127.0.0.1"))?;
    /// assert_eq!(second[0].local_addr()?.port(), port);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reuse_port(mut self, reuse_port: bool) -> BindOptions {
        self.reuse_port = reuse_port;
        self
    }

    /// The listen backlog these options give.
    pub(crate) fn backlog_value(&self) -> i32 {
        self.backlog
    }

    /// Binds and listens: see [`bind_sockets`], which this is with options.
    ///
    /// # Errors
    ///
    /// As [`bind_sockets`]; and `Unsupported` for `reuse_port` on a
    /// platform without `SO_REUSEPORT`.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::BindOptions;
    ///
    /// // No address: every family's wildcard address (0.0.0.0 and [::]).
    /// let listeners = BindOptions::new().bind(0, None)?;
    /// assert!(!listeners.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bind(&self, port: u16, address: Option<&str>) -> io::Result<Vec<TcpListener>> {
        if self.reuse_port && !REUSE_PORT_SUPPORTED {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "reuse_port: SO_REUSEPORT is not supported on this platform",
            ));
        }
        let address = address.filter(|a| !a.is_empty());
        let addrs = self.addresses(port, address)?;
        // With port 0 the first socket picks the port and the others reuse
        // it; another program may hold that port on the other family, so
        // try a few fresh ports before giving up.
        let attempts = if port == 0 && addrs.len() > 1 { 5 } else { 1 };
        let mut last_err = None;
        for _ in 0..attempts {
            match self.bind_all(&addrs, port, address) {
                Ok(listeners) => return Ok(listeners),
                Err(err) if err.kind() == io::ErrorKind::AddrInUse => last_err = Some(err),
                Err(err) => return Err(err),
            }
        }
        Err(last_err.expect("at least one attempt"))
    }

    /// The addresses to bind, IPv4 first, without duplicates.
    fn addresses(&self, port: u16, address: Option<&str>) -> io::Result<Vec<SocketAddr>> {
        let mut addrs: Vec<SocketAddr> = match address {
            // No address: every interface, one socket per family.
            None => vec![
                SocketAddr::from(([0, 0, 0, 0], port)),
                SocketAddr::from(([0u16; 8], port)),
            ],
            Some(host) => {
                let host = host
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .unwrap_or(host);
                (host, port)
                    .to_socket_addrs()
                    .map_err(|err| context(err, format_args!("resolve {host:?}")))?
                    .collect()
            }
        };
        addrs.retain(|a| self.family.matches(a));
        addrs.sort_by_key(SocketAddr::is_ipv6);
        let mut unique = Vec::with_capacity(addrs.len());
        for addr in addrs {
            if !unique.contains(&addr) {
                unique.push(addr);
            }
        }
        Ok(unique)
    }

    /// Binds every address, or none: on error the sockets already bound in
    /// this call are closed (dropped) before returning.
    fn bind_all(
        &self,
        addrs: &[SocketAddr],
        port: u16,
        address: Option<&str>,
    ) -> io::Result<Vec<TcpListener>> {
        let mut listeners: Vec<TcpListener> = Vec::with_capacity(addrs.len());
        let mut chosen_port = None;
        for &requested in addrs {
            let mut addr = requested;
            if port == 0
                && let Some(p) = chosen_port
            {
                addr.set_port(p);
            }
            let socket =
                match Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)) {
                    Ok(socket) => socket,
                    // This family is not supported here (an IPv6-less kernel).
                    Err(err) if err.raw_os_error() == Some(libc::EAFNOSUPPORT) => {
                        log::debug!(target: "netutil", "skipping {addr}: {err}");
                        continue;
                    }
                    Err(err) => return Err(context(err, format_args!("socket for {addr}"))),
                };
            match self.bind_one(&socket, addr) {
                Ok(()) => {}
                // Docker and other hosts without IPv6 loopback resolve
                // "localhost" to ::1 too (Tornado #2274).
                Err(err)
                    if addr.is_ipv6()
                        && address == Some("localhost")
                        && ioloop::raw_os_error(&err) == Some(libc::EADDRNOTAVAIL) =>
                {
                    log::debug!(target: "netutil", "skipping {addr} for localhost: {err}");
                    continue;
                }
                Err(err) => return Err(err),
            }
            if chosen_port.is_none() {
                let local = socket.local_addr()?.as_socket();
                chosen_port = local.map(|a| a.port());
            }
            listeners.push(socket.into());
        }
        if listeners.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!(
                    "no address to bind for {}:{port}",
                    address.unwrap_or("(all interfaces)")
                ),
            ));
        }
        Ok(listeners)
    }

    fn bind_one(&self, socket: &Socket, addr: SocketAddr) -> io::Result<()> {
        let named = |err: io::Error, what: &str| context(err, format_args!("{what} {addr}"));
        match socket.set_reuse_address(true) {
            Ok(()) => {}
            Err(err) if err.raw_os_error() == Some(libc::ENOPROTOOPT) => {}
            Err(err) => return Err(named(err, "SO_REUSEADDR on")),
        }
        if self.reuse_port {
            set_reuse_port(socket).map_err(|err| named(err, "SO_REUSEPORT on"))?;
        }
        if addr.is_ipv6() {
            // `::` and `0.0.0.0` are two sockets on every OS (Linux would
            // refuse the second bind otherwise).
            socket
                .set_only_v6(true)
                .map_err(|err| named(err, "IPV6_V6ONLY on"))?;
        }
        listen_at(socket, addr, self.backlog)
    }
}

/// Makes `socket` non-blocking, binds it to `addr` and listens with
/// `backlog`; errors name the step and the address.
fn listen_at(socket: &Socket, addr: SocketAddr, backlog: i32) -> io::Result<()> {
    let named = |err: io::Error, what: &str| context(err, format_args!("{what} {addr}"));
    socket
        .set_nonblocking(true)
        .map_err(|err| named(err, "O_NONBLOCK on"))?;
    socket
        .bind(&addr.into())
        .map_err(|err| named(err, "bind"))?;
    socket
        .listen(backlog)
        .map_err(|err| named(err, "listen on"))
}

/// Binds and listens on a new socket at `listener`'s address, beside it
/// in its `SO_REUSEPORT` group: same port, `SO_REUSEADDR`, the same
/// `IPV6_V6ONLY`, non-blocking and close-on-exec, with `backlog`. The
/// kernel then spreads new connections over the group's sockets.
///
/// # Errors
///
/// `InvalidInput` naming the address if `listener` lacks `SO_REUSEPORT`
/// (the kernel would refuse the bind); otherwise the OS error, naming the
/// address.
pub(crate) fn bind_reuse_port_sibling(
    listener: &TcpListener,
    backlog: i32,
) -> io::Result<TcpListener> {
    let original = socket2::SockRef::from(listener);
    let addr = listener.local_addr().map_err(|err| {
        context(
            err,
            format_args!("address of listener fd {}", fd_of(listener)),
        )
    })?;
    let named = |err: io::Error, what: &str| context(err, format_args!("{what} {addr}"));
    if !original
        .reuse_port()
        .map_err(|err| named(err, "SO_REUSEPORT of"))?
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "listener {addr} (fd {}) was bound without SO_REUSEPORT; \
                 bind it with BindOptions::reuse_port(true) to give each worker a socket of its own",
                fd_of(listener)
            ),
        ));
    }
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(|err| named(err, "socket for"))?;
    socket
        .set_reuse_address(true)
        .map_err(|err| named(err, "SO_REUSEADDR on"))?;
    set_reuse_port(&socket).map_err(|err| named(err, "SO_REUSEPORT on"))?;
    if addr.is_ipv6() {
        let only_v6 = original
            .only_v6()
            .map_err(|err| named(err, "IPV6_V6ONLY of"))?;
        socket
            .set_only_v6(only_v6)
            .map_err(|err| named(err, "IPV6_V6ONLY on"))?;
    }
    listen_at(&socket, addr, backlog.max(1))?;
    Ok(socket.into())
}

fn fd_of(listener: &TcpListener) -> std::os::fd::RawFd {
    std::os::fd::AsRawFd::as_raw_fd(listener)
}

#[cfg(not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin")))]
const REUSE_PORT_SUPPORTED: bool = true;
#[cfg(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))]
const REUSE_PORT_SUPPORTED: bool = false;

#[cfg(not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin")))]
fn set_reuse_port(socket: &Socket) -> io::Result<()> {
    socket.set_reuse_port(true)
}

#[cfg(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))]
fn set_reuse_port(_: &Socket) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Creates listening TCP sockets bound to `port` on `address`, as
/// Tornado's `bind_sockets` (with the defaults of [`BindOptions`]).
///
/// * `address` `None` or `""`: every interface, one socket per family
///   (`0.0.0.0` and `::`). A host name gives one socket per address it
///   resolves to (resolved here, blocking: call it before the loop runs).
///   IPv6 literals may be bracketed (`"[::1]"`).
/// * IPv6 sockets get `IPV6_V6ONLY`, so the families never collide.
/// * `port` 0: the first socket gets an ephemeral port, and every other
///   socket the same one (retried with a fresh port, up to 5 times, if that
///   port is taken on another family).
/// * `SO_REUSEADDR` is set (a restarted server binds at once), the
///   sockets are non-blocking and close-on-exec, and listen with a backlog
///   of [`DEFAULT_BACKLOG`].
/// * A family the kernel lacks is skipped (`EAFNOSUPPORT`), and so is
///   `::1` for `"localhost"` where the host has no IPv6 loopback
///   (`EADDRNOTAVAIL`, Tornado #2274).
///
/// # Errors
///
/// The first failure, naming the address (`"bind 127.0.0.1:80:
/// permission denied"`); the sockets already bound in this call are
/// closed first (Tornado leaks them). `AddrNotAvailable` if nothing was
/// left to bind; resolution failures name the host.
///
/// # Examples
///
/// ```
/// let listeners = netutil::bind_sockets(0, Some("127.0.0.1"))?;
/// let port = listeners[0].local_addr()?.port();
/// assert_ne!(port, 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn bind_sockets(port: u16, address: Option<&str>) -> io::Result<Vec<TcpListener>> {
    BindOptions::default().bind(port, address)
}

/// Creates a listening Unix stream socket at `path`, with permissions
/// `mode` (Tornado uses `0o600`) and a backlog of `backlog`, as Tornado's
/// `bind_unix_socket`.
///
/// * An existing socket file is replaced if nothing listens on it (a stale
///   file left by a crashed server); one a live server listens on is an
///   `AddrInUse` error (Tornado replaces it regardless).
/// * An existing file that is not a socket is never replaced: an
///   `AlreadyExists` error naming the path.
/// * On Linux, a name starting with `'\0'` or `'@'` is in the abstract
///   namespace: no file is created, and `mode` does not apply.
///
/// The socket is non-blocking and close-on-exec.
///
/// # Errors
///
/// As above, and any OS error, naming the path.
///
/// # Examples
///
/// ```
/// let dir = std::env::temp_dir().join(format!("netutil-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("server.sock");
/// let listener = netutil::bind_unix_socket(&path, 0o600, 128)?;
/// # drop(listener); std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn bind_unix_socket(
    path: impl AsRef<Path>,
    mode: u32,
    backlog: i32,
) -> io::Result<UnixListener> {
    let path = path.as_ref();
    let bytes = path.as_os_str().as_bytes();
    let abstract_name = match bytes.first() {
        Some(0) => Some(&bytes[1..]),
        Some(b'@') => Some(&bytes[1..]),
        _ => None,
    };
    let shown = path.display();
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)
        .map_err(|err| context(err, format_args!("socket for {shown}")))?;
    socket
        .set_nonblocking(true)
        .map_err(|err| context(err, format_args!("O_NONBLOCK for {shown}")))?;
    match abstract_name {
        Some(name) => {
            let mut raw = Vec::with_capacity(name.len() + 1);
            raw.push(0);
            raw.extend_from_slice(name);
            let addr = SockAddr::unix(OsStr::from_bytes(&raw))
                .map_err(|err| context(err, format_args!("abstract socket {shown}")))?;
            socket
                .bind(&addr)
                .map_err(|err| context(err, format_args!("bind {shown}")))?;
        }
        None => {
            remove_stale_socket(path)?;
            let addr = SockAddr::unix(path).map_err(|err| context(err, format_args!("{shown}")))?;
            socket
                .bind(&addr)
                .map_err(|err| context(err, format_args!("bind {shown}")))?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .map_err(|err| context(err, format_args!("chmod {mode:o} {shown}")))?;
        }
    }
    socket
        .listen(backlog.max(1))
        .map_err(|err| context(err, format_args!("listen on {shown}")))?;
    Ok(socket.into())
}

/// Removes `path` if it is a socket nobody listens on; refuses a file that
/// is not a socket, or a socket in use.
fn remove_stale_socket(path: &Path) -> io::Result<()> {
    let shown = path.display();
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(context(err, format_args!("stat {shown}"))),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{shown} exists and is not a socket; refusing to replace it"),
        ));
    }
    // A non-blocking connect tells a live server (accepted, or EAGAIN with
    // a full backlog) from a stale file (ECONNREFUSED).
    let probe = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    probe.set_nonblocking(true)?;
    match probe.connect(&SockAddr::unix(path)?) {
        Ok(()) => {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{shown}: another process is listening on this socket"),
            ));
        }
        Err(err) if err.raw_os_error() == Some(libc::EAGAIN) => {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{shown}: another process is listening on this socket"),
            ));
        }
        Err(_) => {}
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(context(err, format_args!("remove stale socket {shown}"))),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_sibling_needs_reuse_port_on_the_original() {
        let listener = BindOptions::new()
            .bind(0, Some("127.0.0.1"))
            .unwrap()
            .remove(0);
        let err = bind_reuse_port_sibling(&listener, 16).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let addr = listener.local_addr().unwrap().to_string();
        assert!(err.to_string().contains(&addr), "{err}");
        assert!(err.to_string().contains("SO_REUSEPORT"), "{err}");
    }

    /// The sibling listens on the same port and takes its share of the
    /// connections: some of 64 land on each socket.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_sibling_shares_the_port() {
        for address in ["127.0.0.1", "::1"] {
            let Ok(mut bound) = BindOptions::new().reuse_port(true).bind(0, Some(address)) else {
                continue; // no IPv6 loopback here
            };
            let original = bound.remove(0);
            let sibling = bind_reuse_port_sibling(&original, 64).unwrap();
            let addr = original.local_addr().unwrap();
            assert_eq!(sibling.local_addr().unwrap(), addr);
            let sibling_ref = socket2::SockRef::from(&sibling);
            assert!(sibling_ref.reuse_port().unwrap());
            assert!(sibling_ref.reuse_address().unwrap());
            assert!(sibling_ref.nonblocking().unwrap());
            if addr.is_ipv6() {
                assert!(sibling_ref.only_v6().unwrap());
            }
            let clients: Vec<TcpStream> = (0..64)
                .map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap())
                .collect();
            let drain = |l: &TcpListener| {
                let mut n = 0;
                while let Ok((mut conn, _)) = l.accept() {
                    conn.set_nonblocking(false).unwrap();
                    conn.write_all(b"x").unwrap();
                    n += 1;
                }
                n
            };
            let (a, b) = (drain(&original), drain(&sibling));
            assert_eq!(
                a + b,
                64,
                "{address}: every connection queued on one of the two"
            );
            assert!(a > 0 && b > 0, "{address}: {a} and {b}");
            for mut client in clients {
                let mut byte = [0];
                client.read_exact(&mut byte).unwrap();
            }
        }
    }
}
