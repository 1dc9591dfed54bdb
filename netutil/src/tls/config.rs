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
    pub fn from_config(config: impl Into<Arc<ServerConfig>>) -> ServerTls {
        ServerTls {
            config: config.into(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// The protocols offered through ALPN, most preferred first (for
    /// example `b"http/1.1"`). A client that offers ALPN but none of
    /// these fails its handshake.
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
    pub fn handshake_timeout(mut self, timeout: Duration) -> ServerTls {
        self.handshake_timeout = timeout;
        self
    }

    /// The handshake timeout in force.
    pub fn handshake_timeout_value(&self) -> Duration {
        self.handshake_timeout
    }

    /// The rustls configuration.
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
    pub fn with_ca_file(path: impl AsRef<Path>) -> Result<ClientTls, TlsConfigError> {
        Ok(ClientTls::with_roots(pem::load_roots(path)?))
    }

    /// A client that trusts `roots`.
    pub fn with_roots(roots: RootCertStore) -> ClientTls {
        ClientTls::from_config(
            ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }

    /// A client on a rustls configuration built by hand (client
    /// certificates, a custom verifier).
    pub fn from_config(config: impl Into<Arc<ClientConfig>>) -> ClientTls {
        ClientTls {
            config: config.into(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// The protocols offered through ALPN, most preferred first.
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
    pub fn handshake_timeout(mut self, timeout: Duration) -> ClientTls {
        self.handshake_timeout = timeout;
        self
    }

    /// The handshake timeout in force.
    pub fn handshake_timeout_value(&self) -> Duration {
        self.handshake_timeout
    }

    /// The rustls configuration.
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
    pub fn server(tls: &ServerTls) -> TlsRole {
        TlsRole::Server(tls.clone())
    }

    /// The client side with `tls`, expecting a certificate for `host`.
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
