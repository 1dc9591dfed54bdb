//! [`TCPClient`]: connect by host name, through a [`Resolver`] (Tornado's
//! `tcpclient.TCPClient`).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use futures::future::{self, Either};

use crate::resolver::{Resolver, ThreadedResolver};
use crate::socket::bind::Family;
use crate::stream::iostream::{IOStream, StreamOptions};
#[cfg(feature = "tls")]
use crate::tls::{ClientTls, TlsRole};

/// How long the addresses of the first family get before the other
/// family's are tried in parallel (Tornado's `_INITIAL_CONNECT_TIMEOUT`,
/// "Happy Eyeballs").
///
/// # Examples
///
/// ```
/// // "localhost" may resolve to ::1 and 127.0.0.1: the second family is
/// // tried this long after the first, unless the first fails sooner.
/// assert_eq!(netutil::SECONDARY_FAMILY_DELAY.as_millis(), 300);
/// ```
pub const SECONDARY_FAMILY_DELAY: Duration = Duration::from_millis(300);

/// Opens TCP connections by host name: resolves through a [`Resolver`]
/// (the [`ThreadedResolver`] by default), then tries the addresses.
///
/// As Tornado's, the addresses are split by family (the first address's
/// family first); the other family is tried in parallel after
/// [`SECONDARY_FAMILY_DELAY`] or as soon as the first family has failed,
/// and the first connection made wins. Within a family, addresses are
/// tried in order.
///
/// # Examples
///
/// ```
/// use netutil::TCPClient;
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let port = listener.local_addr()?.port();
/// let ioloop = ioloop::IOLoop::new()?;
/// let client = TCPClient::new();
/// let stream = ioloop.run_sync(|| client.connect("127.0.0.1", port), None)??;
/// assert_eq!(stream.peer_addr()?.port(), port);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TCPClient {
    resolver: Rc<dyn Resolver>,
    options: StreamOptions,
    #[cfg(feature = "tls")]
    tls: Option<ClientTls>,
}

impl Default for TCPClient {
    fn default() -> Self {
        TCPClient::new()
    }
}

impl TCPClient {
    /// A client with the [`ThreadedResolver`] and default stream options.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{IOStream, TCPClient, TCPServer};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// # let server = TCPServer::new(|stream: IOStream, _peer| async move {
    /// #     if let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
    /// #         let _ = stream.write(&line).await;
    /// #     }
    /// # });
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let client = TCPClient::new();
    /// let reply = ioloop.run_sync(|| async move {
    ///     let stream = client.connect("127.0.0.1", port).await?;
    ///     stream.write(b"hi\n").await?;
    ///     stream.read_until(b"\n", Some(64)).await
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// assert_eq!(reply, b"hi\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> TCPClient {
        TCPClient::with_resolver(ThreadedResolver::new())
    }

    /// A client resolving through `resolver`.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{IOStream, TCPClient, TCPServer};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// # let server = TCPServer::new(|stream: IOStream, _peer| async move {
    /// #     if let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
    /// #         let _ = stream.write(&line).await;
    /// #     }
    /// # });
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let resolver = netutil::OverrideResolver::new(netutil::ThreadedResolver::new())
    ///     .host("echo.test", "127.0.0.1");
    /// let client = TCPClient::with_resolver(resolver);
    /// let reply = ioloop.run_sync(|| async move {
    ///     let stream = client.connect("echo.test", port).await?;
    ///     stream.write(b"hi\n").await?;
    ///     stream.read_until(b"\n", Some(64)).await
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// assert_eq!(reply, b"hi\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_resolver(resolver: impl Resolver + 'static) -> TCPClient {
        TCPClient {
            resolver: Rc::new(resolver),
            options: StreamOptions::default(),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Connects with TLS: after the TCP connection, a handshake that sends
    /// the host name given to [`connect`](TCPClient::connect) as SNI and
    /// verifies the server's certificate for it (with the roots and ALPN
    /// protocols of `tls`), within its handshake timeout. asyncio's
    /// `ssl=`, with `server_hostname=` from the host.
    ///
    /// A rejected certificate or failed handshake is an `io::Error` holding
    /// a [`TlsError`](crate::tls::TlsError) that names the host and the
    /// reason.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::tls::{ClientTls, ServerTls};
    ///
    /// # let dir = std::env::temp_dir().join(format!("netutil-doc-{}-t2", std::process::id()));
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
    /// let tcp = netutil::TCPServer::new(|stream: netutil::IOStream, _| async move {
    ///     let _ = stream.write(b"secret\n").await;
    /// });
    /// tcp.set_tls(Some(ServerTls::from_pem_files(&cert_pem, &key_pem)?));
    /// let port = tcp.listen(0, Some("127.0.0.1"))?[0].port();
    /// let client = netutil::TCPClient::new().tls(ClientTls::with_ca_file(&cert_pem)?);
    /// let line = ioloop.run_sync(|| async move {
    ///     let stream = client.connect("localhost", port).await?; // handshake done
    ///     stream.read_until(b"\n", Some(64)).await
    /// }, Some(std::time::Duration::from_secs(10)))??;
    /// assert_eq!(line, b"secret\n");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: ClientTls) -> TCPClient {
        self.tls = Some(tls);
        self
    }

    /// Uses `options` for the streams it opens.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{IOStream, TCPClient, TCPServer};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// # let server = TCPServer::new(|stream: IOStream, _peer| async move {
    /// #     if let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
    /// #         let _ = stream.write(&line).await;
    /// #     }
    /// # });
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let client = TCPClient::new().stream_options(netutil::StreamOptions::new().max_buffer_size(1 << 16));
    /// let reply = ioloop.run_sync(|| async move {
    ///     let stream = client.connect("127.0.0.1", port).await?;
    ///     stream.write(b"hi\n").await?;
    ///     stream.read_until(b"\n", Some(64)).await
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// assert_eq!(reply, b"hi\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stream_options(mut self, options: StreamOptions) -> TCPClient {
        self.options = options;
        self
    }

    /// Connects to `host:port` (Tornado's `TCPClient.connect`).
    ///
    /// # Errors
    ///
    /// The resolver's error (naming the host), or the last connection
    /// error (naming the address).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{IOStream, TCPClient, TCPServer};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// # let server = TCPServer::new(|stream: IOStream, _peer| async move {
    /// #     if let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
    /// #         let _ = stream.write(&line).await;
    /// #     }
    /// # });
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let client = TCPClient::new();
    /// let reply = ioloop.run_sync(|| async move {
    ///     let stream = client.connect("localhost", port).await?;
    ///     stream.write(b"hi\n").await?;
    ///     stream.read_until(b"\n", Some(64)).await
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// assert_eq!(reply, b"hi\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn connect(&self, host: &str, port: u16) -> io::Result<IOStream> {
        self.connect_with(host, port, Family::Unspec, None).await
    }

    /// Connects to `host:port` with addresses of `family` only, failing
    /// with `TimedOut` after `timeout` (resolution included).
    ///
    /// # Errors
    ///
    /// As [`connect`](TCPClient::connect), and `TimedOut` naming the host.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::{IOStream, TCPClient, TCPServer};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// # let server = TCPServer::new(|stream: IOStream, _peer| async move {
    /// #     if let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
    /// #         let _ = stream.write(&line).await;
    /// #     }
    /// # });
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let client = TCPClient::new();
    /// let reply = ioloop.run_sync(|| async move {
    ///     let stream = client.connect_with("127.0.0.1", port, netutil::Family::Inet, Some(std::time::Duration::from_secs(2))).await?;
    ///     stream.write(b"hi\n").await?;
    ///     stream.read_until(b"\n", Some(64)).await
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// assert_eq!(reply, b"hi\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn connect_with(
        &self,
        host: &str,
        port: u16,
        family: Family,
        timeout: Option<Duration>,
    ) -> io::Result<IOStream> {
        let attempt = async {
            let addrs = self.resolver.resolve(host, port, family).await?;
            let stream = self.connect_addrs(addrs).await?;
            #[cfg(feature = "tls")]
            if let Some(tls) = &self.tls {
                return stream.start_tls(TlsRole::client(tls, host)).await;
            }
            Ok(stream)
        };
        match timeout {
            None => attempt.await,
            Some(limit) => match ioloop::timeout(limit, attempt).await {
                Ok(result) => result,
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connect to {host}:{port}: timed out after {limit:?}"),
                )),
            },
        }
    }

    async fn connect_addrs(&self, addrs: Vec<SocketAddr>) -> io::Result<IOStream> {
        let Some(first) = addrs.first() else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no address to connect to",
            ));
        };
        let primary_v6 = first.is_ipv6();
        let (primary, secondary): (Vec<_>, Vec<_>) =
            addrs.into_iter().partition(|a| a.is_ipv6() == primary_v6);
        if secondary.is_empty() {
            return self.try_in_order(primary).await;
        }
        let primary = Box::pin(self.try_in_order(primary));
        let delayed = Box::pin(async {
            ioloop::sleep(SECONDARY_FAMILY_DELAY).await;
        });
        // The primary family alone until the delay passes or it fails.
        let primary = match future::select(primary, delayed).await {
            Either::Left((Ok(stream), _)) => return Ok(stream),
            Either::Left((Err(_), _)) => return self.try_in_order(secondary).await,
            Either::Right(((), primary)) => primary,
        };
        let secondary = Box::pin(self.try_in_order(secondary));
        match future::select(primary, secondary).await {
            Either::Left((Ok(stream), _)) | Either::Right((Ok(stream), _)) => Ok(stream),
            Either::Left((Err(_), other)) => other.await,
            Either::Right((Err(_), other)) => other.await,
        }
    }

    async fn try_in_order(&self, addrs: Vec<SocketAddr>) -> io::Result<IOStream> {
        let mut last = None;
        for addr in addrs {
            match self.options.connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(err) => {
                    log::debug!(target: "netutil", "{err}");
                    last = Some(err);
                }
            }
        }
        Err(last
            .unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address to connect to")))
    }
}

impl fmt::Debug for TCPClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TCPClient").finish_non_exhaustive()
    }
}
