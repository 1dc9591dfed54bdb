//! [`ServerTls`] and [`ClientTls`]: what a TLS server or client needs
//! (Tornado's `ssl_options`, made into a context), and [`TlsRole`], which
//! side [`IOStream::start_tls`](crate::IOStream::start_tls) takes.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

use crate::tls::{Session, TlsConfigError, pem};

/// How long a handshake may take by default: 10 seconds. A peer that is
/// silent or slow for longer is disconnected, so it cannot hold a server's
/// connection slot.
///
/// # Examples
///
/// ```
/// assert_eq!(netutil::tls::DEFAULT_HANDSHAKE_TIMEOUT, std::time::Duration::from_secs(10));
/// ```
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A TLS server's configuration: a rustls [`ServerConfig`] (certificate,
/// key, protocol versions, ALPN) and a handshake timeout. Cheap to clone.
///
/// Give it to [`TCPServer::set_tls`](crate::TCPServer::set_tls), to the
/// HTTP server's options, or to
/// [`IOStream::start_tls`](crate::IOStream::start_tls) through
/// [`TlsRole::server`]. Tornado's `ssl_options` and
/// `ssl_options_to_context` in one.
///
/// # Examples
///
/// ```no_run
/// use netutil::tls::ServerTls;
///
/// let tls = ServerTls::from_pem_files("cert.pem", "key.pem")?
///     .alpn_protocols([b"http/1.1"]);
/// # Ok::<(), netutil::tls::TlsConfigError>(())
/// ```
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
    handshake_timeout: Duration,
}

impl ServerTls {
    /// A server with the certificate chain in the PEM file `cert` (the
    /// server's certificate first) and the private key in the PEM file
    /// `key`; TLS 1.2 and 1.3, no client certificates, no ALPN.
    ///
    /// # Errors
    ///
    /// A [`TlsConfigError`] naming the file: missing or unreadable, not
    /// PEM, no certificate or key in it, a key that does not match the
    /// certificate ([`TlsConfigError::KeyMismatch`]), or a key type rustls
    /// does not support.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::tls::{ClientTls, ServerTls};
    ///
    /// # let dir = std::env::temp_dir().join(format!("netutil-doc-{}-s1", std::process::id()));
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
    /// let client = ClientTls::with_ca_file(&cert_pem)?;
    /// assert_eq!(roundtrip(&ioloop, server, client)?.0, "hi\n");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_pem_files(
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<ServerTls, TlsConfigError> {
        let (cert, key) = (cert.as_ref(), key.as_ref());
        let chain = pem::load_certs(cert)?;
        let private_key = pem::load_private_key(key)?;
        let config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, private_key)
            .map_err(|reason| match reason {
                rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                    TlsConfigError::KeyMismatch {
                        cert: cert.to_owned(),
                        key: key.to_owned(),
                    }
                }
                reason => TlsConfigError::Rejected {
                    what: format!("{} and {}", cert.display(), key.display()),
                    reason,
                },
            })?;
        Ok(ServerTls::from_config(config))
    }

    /// A server on a rustls configuration built by hand (client
    /// certificates, several certificates chosen by SNI, session caches).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::tls::{ClientTls, ServerTls};
    ///
    /// # let dir = std::env::temp_dir().join(format!("netutil-doc-{}-s2", std::process::id()));
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
    /// use netutil::tls::{pem, rustls};
    ///
    /// let config = rustls::ServerConfig::builder()
    ///     .with_no_client_auth()
    ///     .with_single_cert(pem::load_certs(&cert_pem)?, pem::load_private_key(&key_pem)?)?;
    /// let server = ServerTls::from_config(config);
    /// assert_eq!(roundtrip(&ioloop, server, ClientTls::with_ca_file(&cert_pem)?)?.0, "hi\n");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_config(config: impl Into<Arc<ServerConfig>>) -> ServerTls {
        ServerTls {
            config: config.into(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// The protocols offered through ALPN, most preferred first (for
    /// example `b"http/1.1"`). A client that offers ALPN but none of
    /// these fails its handshake.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::tls::{ClientTls, ServerTls};
    ///
    /// # let dir = std::env::temp_dir().join(format!("netutil-doc-{}-s3", std::process::id()));
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
    /// let server = ServerTls::from_pem_files(&cert_pem, &key_pem)?.alpn_protocols(["h2", "http/1.1"]);
    /// let client = ClientTls::with_ca_file(&cert_pem)?.alpn_protocols([b"http/1.1"]);
    /// assert_eq!(roundtrip(&ioloop, server, client)?.1.as_deref(), Some(&b"http/1.1"[..]));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn alpn_protocols<P: AsRef<[u8]>>(
        mut self,
        protocols: impl IntoIterator<Item = P>,
    ) -> ServerTls {
        Arc::make_mut(&mut self.config).alpn_protocols =
            protocols.into_iter().map(|p| p.as_ref().to_vec()).collect();
        self
    }

    /// How long a handshake may take (default
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::tls::{ClientTls, ServerTls};
    ///
    /// # let dir = std::env::temp_dir().join(format!("netutil-doc-{}-s4", std::process::id()));
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
    /// use std::time::Duration;
    ///
    /// // A client that connects and says nothing is dropped after 2 s.
    /// let server = ServerTls::from_pem_files(&cert_pem, &key_pem)?.handshake_timeout(Duration::from_secs(2));
    /// assert_eq!(server.handshake_timeout_value(), Duration::from_secs(2));
    /// # roundtrip(&ioloop, server, ClientTls::with_ca_file(&cert_pem)?)?;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handshake_timeout(mut self, timeout: Duration) -> ServerTls {
        self.handshake_timeout = timeout;
        self
    }

    /// The handshake timeout in force.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::tls::{DEFAULT_HANDSHAKE_TIMEOUT, ServerTls};
    ///
    /// # let dir = std::env::temp_dir().join(format!("netutil-doc-{}-s5", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    /// # let (cert_pem, key_pem) = (dir.join("cert.pem"), dir.join("key.pem"));
    /// # std::fs::write(&cert_pem, made.cert.pem())?;
    /// # std::fs::write(&key_pem, made.signing_key.serialize_pem())?;
    /// let server = ServerTls::from_pem_files(&cert_pem, &key_pem)?;
    /// assert_eq!(server.handshake_timeout_value(), DEFAULT_HANDSHAKE_TIMEOUT);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handshake_timeout_value(&self) -> Duration {
        self.handshake_timeout
    }

    /// The rustls configuration.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::tls::ServerTls;
    ///
    /// # let dir = std::env::temp_dir().join(format!("netutil-doc-{}-s6", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    /// # let (cert_pem, key_pem) = (dir.join("cert.pem"), dir.join("key.pem"));
    /// # std::fs::write(&cert_pem, made.cert.pem())?;
    /// # std::fs::write(&key_pem, made.signing_key.serialize_pem())?;
    /// let server = ServerTls::from_pem_files(&cert_pem, &key_pem)?.alpn_protocols([b"http/1.1"]);
    /// assert_eq!(server.config().alpn_protocols, [b"http/1.1".to_vec()]);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("alpn_protocols", &self.config.alpn_protocols)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// A TLS client's configuration: a rustls [`ClientConfig`] (trusted
/// roots, ALPN) and a handshake timeout. Cheap to clone.
///
/// Certificates are verified, and so is the host name, unless a
/// hand-built configuration says otherwise. Give it to
/// [`TCPClient::tls`](crate::TCPClient::tls) (which sends the host name
/// as SNI and checks the certificate against it), or to
/// [`IOStream::start_tls`](crate::IOStream::start_tls) through
/// [`TlsRole::client`]. asyncio's `ssl=` with `server_hostname=`.
///
/// # Examples
///
/// ```no_run
/// use netutil::tls::ClientTls;
///
/// // The system's trusted roots:
/// let public = ClientTls::new()?;
/// // Only the certificate authority of a private network:
/// let private = ClientTls::with_ca_file("ca.pem")?.alpn_protocols([b"http/1.1"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
    handshake_timeout: Duration,
}

impl ClientTls {
    /// A client that trusts the system's root certificates (the
    /// `SSL_CERT_FILE` / `SSL_CERT_DIR` overrides apply).
    ///
    /// # Errors
    ///
    /// `NotFound` if no root certificate can be loaded.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::tls::ClientTls;
    ///
    /// // The system's trusted roots: for servers on the public internet.
    /// let tls = ClientTls::new()?;
    /// let client = netutil::TCPClient::new().tls(tls);
    /// # let _ = client;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> io::Result<ClientTls> {
        let found = rustls_native_certs::load_native_certs();
        let mut roots = RootCertStore::empty();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            let why = found
                .errors
                .first()
                .map_or_else(|| "none found".to_owned(), |e| e.to_string());
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("tls: no system root certificate could be loaded: {why}"),
            ));
        }
        Ok(ClientTls::with_roots(roots))
    }

    /// A client that trusts only the certificates in the PEM file `path`
    /// (a CA bundle).
    ///
    /// # Errors
    ///
    /// A [`TlsConfigError`] naming the file, as
    /// [`pem::load_roots`](crate::tls::pem::load_roots).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::tls::{ClientTls, ServerTls};
    ///
    /// # let dir = std::env::temp_dir().join(format!("netutil-doc-{}-c1", std::process::id()));
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
    /// // Trust a private authority (here the server's own self-signed certificate).
    /// let client = ClientTls::with_ca_file(&cert_pem)?;
    /// let server = ServerTls::from_pem_files(&cert_pem, &key_pem)?;
    /// assert_eq!(roundtrip(&ioloop, server, client)?.0, "hi\n");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_ca_file(path: impl AsRef<Path>) -> Result<ClientTls, TlsConfigError> {
        Ok(ClientTls::with_roots(pem::load_roots(path)?))
    }

    /// A client that trusts `roots`.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::tls::{ClientTls, ServerTls};
    ///
    /// # let dir = std::env::temp_dir().join(format!("netutil-doc-{}-c2", std::process::id()));
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
    /// let roots = netutil::tls::pem::load_roots(&cert_pem)?;
    /// let client = ClientTls::with_roots(roots);
    /// let server = ServerTls::from_pem_files(&cert_pem, &key_pem)?;
    /// assert_eq!(roundtrip(&ioloop, server, client)?.0, "hi\n");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_roots(roots: RootCertStore) -> ClientTls {
        ClientTls::from_config(
            ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }

    /// A client on a rustls configuration built by hand (client
    /// certificates, a custom verifier).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::tls::{ClientTls, ServerTls};
    ///
    /// # let dir = std::env::temp_dir().join(format!("netutil-doc-{}-c3", std::process::id()));
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
    /// use netutil::tls::rustls;
    ///
    /// let config = rustls::ClientConfig::builder()
    ///     .with_root_certificates(netutil::tls::pem::load_roots(&cert_pem)?)
    ///     .with_no_client_auth();
    /// let client = ClientTls::from_config(config);
    /// let server = ServerTls::from_pem_files(&cert_pem, &key_pem)?;
    /// assert_eq!(roundtrip(&ioloop, server, client)?.0, "hi\n");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_config(config: impl Into<Arc<ClientConfig>>) -> ClientTls {
        ClientTls {
            config: config.into(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// The protocols offered through ALPN, most preferred first.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::tls::{ClientTls, ServerTls};
    ///
    /// # let dir = std::env::temp_dir().join(format!("netutil-doc-{}-c4", std::process::id()));
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
    /// let client = ClientTls::with_ca_file(&cert_pem)?.alpn_protocols(["h2", "http/1.1"]);
    /// let server = ServerTls::from_pem_files(&cert_pem, &key_pem)?.alpn_protocols([b"h2"]);
    /// assert_eq!(roundtrip(&ioloop, server, client)?.1.as_deref(), Some(&b"h2"[..]));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn alpn_protocols<P: AsRef<[u8]>>(
        mut self,
        protocols: impl IntoIterator<Item = P>,
    ) -> ClientTls {
        Arc::make_mut(&mut self.config).alpn_protocols =
            protocols.into_iter().map(|p| p.as_ref().to_vec()).collect();
        self
    }

    /// How long a handshake may take (default
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use netutil::tls::ClientTls;
    ///
    /// let tls = ClientTls::new()?.handshake_timeout(Duration::from_secs(3));
    /// assert_eq!(tls.handshake_timeout_value(), Duration::from_secs(3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handshake_timeout(mut self, timeout: Duration) -> ClientTls {
        self.handshake_timeout = timeout;
        self
    }

    /// The handshake timeout in force.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::tls::{ClientTls, DEFAULT_HANDSHAKE_TIMEOUT};
    ///
    /// assert_eq!(ClientTls::new()?.handshake_timeout_value(), DEFAULT_HANDSHAKE_TIMEOUT);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handshake_timeout_value(&self) -> Duration {
        self.handshake_timeout
    }

    /// The rustls configuration.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::tls::ClientTls;
    ///
    /// let tls = ClientTls::new()?.alpn_protocols([b"http/1.1"]);
    /// assert_eq!(tls.config().alpn_protocols, [b"http/1.1".to_vec()]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("alpn_protocols", &self.config.alpn_protocols)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// Which side of the handshake a stream takes in
/// [`IOStream::start_tls`](crate::IOStream::start_tls).
///
/// # Examples
///
/// ```
/// use netutil::IOStream;
/// use netutil::tls::{ClientTls, ServerTls, TlsRole};
///
/// # let dir = std::env::temp_dir().join(format!("netutil-doc-{}-r1", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
/// # let (cert_pem, key_pem) = (dir.join("cert.pem"), dir.join("key.pem"));
/// # std::fs::write(&cert_pem, made.cert.pem())?;
/// # std::fs::write(&key_pem, made.signing_key.serialize_pem())?;
/// let (server_tls, client_tls) = (ServerTls::from_pem_files(&cert_pem, &key_pem)?, ClientTls::with_ca_file(&cert_pem)?);
/// let ioloop = ioloop::IOLoop::new()?;
/// let (a, b) = std::os::unix::net::UnixStream::pair()?;
/// ioloop.run_sync(|| async move {
///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
///     // Both ends upgrade at once: one as the server, one as the client.
///     let (a, b) = futures::try_join!(
///         a.start_tls(TlsRole::server(&server_tls)),
///         b.start_tls(TlsRole::client(&client_tls, "localhost")),
///     )?;
///     assert!(a.is_tls() && b.is_tls());
///     Ok::<_, std::io::Error>(())
/// }, Some(std::time::Duration::from_secs(10)))??;
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub enum TlsRole {
    /// The server side.
    Server(ServerTls),
    /// The client side, verifying the server's certificate for `host`
    /// (also sent as SNI when it is a name rather than an address).
    Client {
        /// The client configuration.
        tls: ClientTls,
        /// The server's host name or IP address.
        host: String,
    },
}

impl TlsRole {
    /// The server side with `tls`.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::IOStream;
    /// use netutil::tls::{ClientTls, ServerTls, TlsRole};
    ///
    /// # let dir = std::env::temp_dir().join(format!("netutil-doc-{}-r2", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    /// # let (cert_pem, key_pem) = (dir.join("cert.pem"), dir.join("key.pem"));
    /// # std::fs::write(&cert_pem, made.cert.pem())?;
    /// # std::fs::write(&key_pem, made.signing_key.serialize_pem())?;
    /// let (server_tls, client_tls) = (ServerTls::from_pem_files(&cert_pem, &key_pem)?, ClientTls::with_ca_file(&cert_pem)?);
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     // Both ends upgrade at once: one as the server, one as the client.
    ///     let (a, b) = futures::try_join!(
    ///         a.start_tls(TlsRole::server(&server_tls)),
    ///         b.start_tls(TlsRole::client(&client_tls, "localhost")),
    ///     )?;
    ///     assert!(a.is_tls() && b.is_tls());
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(10)))??;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn server(tls: &ServerTls) -> TlsRole {
        TlsRole::Server(tls.clone())
    }

    /// The client side with `tls`, expecting a certificate for `host`.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::IOStream;
    /// use netutil::tls::{ClientTls, ServerTls, TlsRole};
    ///
    /// # let dir = std::env::temp_dir().join(format!("netutil-doc-{}-r3", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    /// # let (cert_pem, key_pem) = (dir.join("cert.pem"), dir.join("key.pem"));
    /// # std::fs::write(&cert_pem, made.cert.pem())?;
    /// # std::fs::write(&key_pem, made.signing_key.serialize_pem())?;
    /// let (server_tls, client_tls) = (ServerTls::from_pem_files(&cert_pem, &key_pem)?, ClientTls::with_ca_file(&cert_pem)?);
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     // Both ends upgrade at once: one as the server, one as the client.
    ///     let (a, b) = futures::try_join!(
    ///         a.start_tls(TlsRole::server(&server_tls)),
    ///         b.start_tls(TlsRole::client(&client_tls, "localhost")),
    ///     )?;
    ///     assert!(a.is_tls() && b.is_tls());
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(10)))??;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn client(tls: &ClientTls, host: &str) -> TlsRole {
        TlsRole::Client {
            tls: tls.clone(),
            host: host.to_owned(),
        }
    }

    /// The handshake timeout of this side's configuration.
    pub(crate) fn handshake_timeout(&self) -> Duration {
        match self {
            TlsRole::Server(tls) => tls.handshake_timeout,
            TlsRole::Client { tls, .. } => tls.handshake_timeout,
        }
    }

    /// A new session for this side.
    pub(crate) fn session(&self) -> io::Result<Session> {
        let conn: rustls::Connection = match self {
            TlsRole::Server(tls) => ServerConnection::new(Arc::clone(&tls.config))
                .map_err(|err| io::Error::other(format!("tls: {err}")))?
                .into(),
            TlsRole::Client { tls, host } => {
                let name = ServerName::try_from(host.clone()).map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("tls: {host:?} is not a valid host name or ip address"),
                    )
                })?;
                ClientConnection::new(Arc::clone(&tls.config), name)
                    .map_err(|err| io::Error::other(format!("tls with {host}: {err}")))?
                    .into()
            }
        };
        Ok(Session::new(conn))
    }
}
