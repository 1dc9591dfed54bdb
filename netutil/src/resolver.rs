//! Name resolution off the loop: the [`Resolver`] trait, the
//! [`ThreadedResolver`] default, the [`OverrideResolver`] for tests, and
//! [`is_valid_ip`].

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};

use futures::channel::oneshot;
use ioloop::{Executor, ThreadPool};

use crate::error::context;
use crate::socket::bind::Family;

/// The future a [`Resolver`] returns: the addresses of a host, or an error
/// naming it.
///
/// # Examples
///
/// ```
/// use netutil::{Family, ResolveFuture, Resolver, ThreadedResolver};
///
/// let ioloop = ioloop::IOLoop::new()?;
/// let future: ResolveFuture = ThreadedResolver::new().resolve("127.0.0.1", 80, Family::Unspec);
/// let addrs = ioloop.run_sync(|| future, Some(std::time::Duration::from_secs(5)))??;
/// assert_eq!(addrs, ["127.0.0.1:80".parse()?]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type ResolveFuture = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>>>>;

/// Resolves host names to socket addresses without blocking the loop
/// (Tornado's `Resolver`).
///
/// # Examples
///
/// ```
/// use netutil::{Family, Resolver, ThreadedResolver};
///
/// let ioloop = ioloop::IOLoop::new()?;
/// let addrs = ioloop.run_sync(
///     || ThreadedResolver::new().resolve("localhost", 80, Family::Inet),
///     None,
/// )??;
/// assert!(addrs.contains(&"127.0.0.1:80".parse().unwrap()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Resolver {
    /// The addresses of `host` with `port`, restricted to `family`, in the
    /// order the system gives them.
    ///
    /// # Errors
    ///
    /// The future gives an `io::Error` naming the host if it cannot be
    /// resolved or has no address of `family`.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{Family, Resolver, ThreadedResolver};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let addrs = ioloop.run_sync(
    ///     || ThreadedResolver::new().resolve("localhost", 8080, Family::Inet),
    ///     Some(std::time::Duration::from_secs(5)),
    /// )??;
    /// assert!(addrs.iter().all(|a| a.is_ipv4() && a.port() == 8080));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn resolve(&self, host: &str, port: u16, family: Family) -> ResolveFuture;
}

impl<R: Resolver + ?Sized> Resolver for Rc<R> {
    fn resolve(&self, host: &str, port: u16, family: Family) -> ResolveFuture {
        (**self).resolve(host, port, family)
    }
}

/// The threads of [`ThreadedResolver`], shared by the whole process as
/// Tornado's.
///
/// # Examples
///
/// ```
/// // The default resolver's pool: lookups beyond this many wait their turn.
/// assert!(netutil::RESOLVER_THREADS >= 1);
/// ```
pub const RESOLVER_THREADS: usize = 4;

/// The default resolver: the system's blocking `getaddrinfo`, on a small
/// thread pool shared by the process ([`RESOLVER_THREADS`] threads,
/// created on first use and re-created in a forked child), so a slow DNS
/// server never blocks the loop (Tornado's `ThreadedResolver` and
/// `DefaultExecutorResolver`).
///
/// Numeric addresses (`"127.0.0.1"`, `"::1"`, `"[::1]"`) are answered at
/// once, without a thread. `getaddrinfo` is asked for stream sockets only.
///
/// # Examples
///
/// ```
/// use netutil::{TCPClient, ThreadedResolver};
///
/// // What TCPClient::new() uses; pass it explicitly to share one pool.
/// let client = TCPClient::with_resolver(ThreadedResolver::new());
/// # let _ = client;
/// ```
#[derive(Debug, Clone, Default)]
pub struct ThreadedResolver {
    _private: (),
}

impl ThreadedResolver {
    /// The resolver (cheap: the pool is shared).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{Family, Resolver, ThreadedResolver};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let resolver = ThreadedResolver::new();
    /// let addrs = ioloop.run_sync(|| resolver.resolve("::1", 443, Family::Unspec), None)??;
    /// assert_eq!(addrs, ["[::1]:443".parse()?]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> ThreadedResolver {
        ThreadedResolver::default()
    }
}

fn pool() -> io::Result<Arc<ThreadPool>> {
    static POOL: Mutex<Option<(u32, Arc<ThreadPool>)>> = Mutex::new(None);
    let pid = std::process::id();
    let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    match &*pool {
        // A forked child inherits the memory but not the threads.
        Some((owner, p)) if *owner == pid => Ok(Arc::clone(p)),
        _ => {
            let p = Arc::new(ThreadPool::new(RESOLVER_THREADS)?);
            if let Some(inherited) = pool.replace((pid, Arc::clone(&p))) {
                // A forked child's copy of the parent's pool has no
                // threads, and its locks may have been held at the fork:
                // never touch it.
                std::mem::forget(inherited);
            }
            Ok(p)
        }
    }
}

/// Strips the brackets of `"[::1]"`.
fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

fn filter(
    host: &str,
    port: u16,
    family: Family,
    addrs: impl Iterator<Item = SocketAddr>,
) -> io::Result<Vec<SocketAddr>> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for addr in addrs.filter(|a| family.matches(a)) {
        if !out.contains(&addr) {
            out.push(addr);
        }
    }
    if out.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("resolve {host}:{port}: no address of family {family:?}"),
        ));
    }
    Ok(out)
}

impl Resolver for ThreadedResolver {
    fn resolve(&self, host: &str, port: u16, family: Family) -> ResolveFuture {
        if let Ok(ip) = unbracket(host).parse::<IpAddr>() {
            let result = filter(
                host,
                port,
                family,
                std::iter::once(SocketAddr::new(ip, port)),
            );
            return Box::pin(std::future::ready(result));
        }
        let host = host.to_owned();
        let pool = match pool() {
            Ok(pool) => pool,
            Err(err) => {
                return Box::pin(std::future::ready(Err(context(
                    err,
                    format_args!("resolve {host}:{port}: starting the resolver threads"),
                ))));
            }
        };
        let (tx, rx) = oneshot::channel();
        let name = host.clone();
        pool.execute(Box::new(move || {
            let result = (name.as_str(), port)
                .to_socket_addrs()
                .map_err(|err| context(err, format_args!("resolve {name}:{port}")))
                .and_then(|addrs| filter(&name, port, family, addrs));
            let _ = tx.send(result);
        }));
        Box::pin(async move {
            match rx.await {
                Ok(result) => result,
                Err(oneshot::Canceled) => Err(io::Error::other(format!(
                    "resolve {host}:{port}: the resolver thread went away"
                ))),
            }
        })
    }
}

/// A resolver that answers some names with other names or addresses, and
/// passes the rest to another resolver: for tests, and for pinning a host
/// to an address (Tornado's `OverrideResolver`).
///
/// A rule for `(host, port, family)` takes precedence over one for
/// `(host, port)`, which takes precedence over one for `host`; the target
/// is resolved by the inner resolver.
///
/// # Examples
///
/// ```
/// use netutil::{Family, OverrideResolver, Resolver, ThreadedResolver};
///
/// let resolver = OverrideResolver::new(ThreadedResolver::new())
///     .host("example.invalid", "127.0.0.1")
///     .host_port("example.invalid", 443, "127.0.0.1", 8443);
/// let ioloop = ioloop::IOLoop::new()?;
/// let (a, b) = ioloop.run_sync(
///     || async {
///         let a = resolver.resolve("example.invalid", 80, Family::Unspec).await;
///         let b = resolver.resolve("example.invalid", 443, Family::Unspec).await;
///         (a, b)
///     },
///     None,
/// )?;
/// assert_eq!(a?, ["127.0.0.1:80".parse().unwrap()]);
/// assert_eq!(b?, ["127.0.0.1:8443".parse().unwrap()]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct OverrideResolver<R> {
    inner: R,
    by_host: HashMap<String, String>,
    by_host_port: HashMap<(String, u16), (String, u16)>,
    by_host_port_family: HashMap<(String, u16, Family), (String, u16)>,
}

impl<R: Resolver> OverrideResolver<R> {
    /// No overrides yet; everything goes to `inner`.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{Family, OverrideResolver, Resolver, ThreadedResolver};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let resolver = OverrideResolver::new(ThreadedResolver::new());
    /// // No overrides: the inner resolver answers.
    /// let addrs = ioloop.run_sync(|| resolver.resolve("127.0.0.1", 80, Family::Inet), None)??;
    /// assert_eq!(addrs, ["127.0.0.1:80".parse()?]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(inner: R) -> OverrideResolver<R> {
        OverrideResolver {
            inner,
            by_host: HashMap::new(),
            by_host_port: HashMap::new(),
            by_host_port_family: HashMap::new(),
        }
    }

    /// Resolves `host` (any port, any family) as `target`, keeping the port.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{Family, OverrideResolver, Resolver, ThreadedResolver};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let resolver = OverrideResolver::new(ThreadedResolver::new()).host("api.example.com", "127.0.0.1");
    /// let addrs = ioloop.run_sync(|| resolver.resolve("api.example.com", 443, Family::Inet), None)??;
    /// assert_eq!(addrs, ["127.0.0.1:443".parse()?]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn host(mut self, host: &str, target: &str) -> Self {
        self.by_host.insert(host.to_owned(), target.to_owned());
        self
    }

    /// Resolves `(host, port)` as `(target, target_port)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{Family, OverrideResolver, Resolver, ThreadedResolver};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let resolver = OverrideResolver::new(ThreadedResolver::new())
    ///     .host_port("api.example.com", 443, "127.0.0.1", 8443);
    /// let addrs = ioloop.run_sync(|| resolver.resolve("api.example.com", 443, Family::Inet), None)??;
    /// assert_eq!(addrs, ["127.0.0.1:8443".parse()?]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn host_port(mut self, host: &str, port: u16, target: &str, target_port: u16) -> Self {
        self.by_host_port
            .insert((host.to_owned(), port), (target.to_owned(), target_port));
        self
    }

    /// Resolves `(host, port)` asked with `family` as `(target, target_port)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{Family, OverrideResolver, Resolver, ThreadedResolver};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let resolver = OverrideResolver::new(ThreadedResolver::new())
    ///     .host_port_family("api.example.com", 443, Family::Inet6, "::1", 8443);
    /// let addrs = ioloop.run_sync(|| resolver.resolve("api.example.com", 443, Family::Inet6), None)??;
    /// assert_eq!(addrs, ["[::1]:8443".parse()?]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn host_port_family(
        mut self,
        host: &str,
        port: u16,
        family: Family,
        target: &str,
        target_port: u16,
    ) -> Self {
        self.by_host_port_family.insert(
            (host.to_owned(), port, family),
            (target.to_owned(), target_port),
        );
        self
    }

    /// Where `(host, port, family)` is sent, after the overrides.
    fn rewrite<'a>(&'a self, host: &'a str, port: u16, family: Family) -> (&'a str, u16) {
        let key3 = (host.to_owned(), port, family);
        if let Some((h, p)) = self.by_host_port_family.get(&key3) {
            return (h, *p);
        }
        if let Some((h, p)) = self.by_host_port.get(&(key3.0, port)) {
            return (h, *p);
        }
        if let Some(h) = self.by_host.get(host) {
            return (h, port);
        }
        (host, port)
    }
}

impl<R: Resolver> Resolver for OverrideResolver<R> {
    fn resolve(&self, host: &str, port: u16, family: Family) -> ResolveFuture {
        let (host, port) = self.rewrite(host, port, family);
        self.inner.resolve(host, port, family)
    }
}

impl<R> fmt::Debug for OverrideResolver<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OverrideResolver")
            .field("by_host", &self.by_host)
            .field("by_host_port", &self.by_host_port)
            .field("by_host_port_family", &self.by_host_port_family)
            .finish_non_exhaustive()
    }
}

/// True if `ip` is an IPv4 or IPv6 address literal (Tornado's
/// `is_valid_ip`).
///
/// IPv6 addresses may carry a zone (`"fe80::1%eth0"`). Stricter than
/// Tornado's `getaddrinfo(AI_NUMERICHOST)`: the legacy IPv4 shorthands
/// (`"1.1"`, `"0x7f.1"`) are not addresses here.
///
/// # Examples
///
/// ```
/// use netutil::is_valid_ip;
///
/// assert!(is_valid_ip("127.0.0.1"));
/// assert!(is_valid_ip("2620:0:1cfe:face:b00c::3"));
/// assert!(!is_valid_ip("localhost"));
/// assert!(!is_valid_ip(" 127.0.0.1"));
/// ```
pub fn is_valid_ip(ip: &str) -> bool {
    if ip.is_empty() || ip.contains('\0') {
        return false;
    }
    if ip.parse::<IpAddr>().is_ok() {
        return true;
    }
    match ip.split_once('%') {
        Some((addr, zone)) => {
            !zone.is_empty()
                && zone
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                && addr.parse::<std::net::Ipv6Addr>().is_ok()
        }
        None => false,
    }
}
