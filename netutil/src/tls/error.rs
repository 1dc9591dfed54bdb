//! The TLS errors a caller branches on: [`TlsError`] (a handshake that
//! failed) and [`TlsConfigError`] (certificates and keys that cannot be
//! used).

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use rustls::CertificateError;

/// Why a TLS handshake failed, inside the `io::Error` that
/// [`IOStream::start_tls`](crate::IOStream::start_tls),
/// [`TCPClient::connect`](crate::TCPClient::connect) and the like return
/// (find it with [`TlsError::find`]).
///
/// Every variant names the peer: the host name a client connected to, or
/// the address a server accepted.
///
/// # Examples
///
/// ```
/// use netutil::tls::TlsError;
///
/// fn explain(err: &std::io::Error) -> String {
///     match TlsError::find(err) {
///         Some(TlsError::Certificate { peer, reason }) => {
///             format!("{peer} has a certificate we do not trust: {reason}")
///         }
///         Some(other) => other.to_string(),
///         None => err.to_string(),
///     }
/// }
/// # let _ = explain;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TlsError {
    /// The peer's certificate was rejected: unknown issuer, expired, not
    /// valid for the host name, and so on.
    Certificate {
        /// The host name, or the peer's address.
        peer: String,
        /// What is wrong with it.
        reason: CertificateError,
    },
    /// The handshake failed otherwise: the peer sent an alert (it rejected
    /// our certificate, or had no protocol version or cipher suite in
    /// common), or sent something that is not TLS.
    Handshake {
        /// The host name, or the peer's address.
        peer: String,
        /// What rustls reported.
        reason: rustls::Error,
    },
    /// The handshake did not complete within the configured time.
    Timeout {
        /// The host name, or the peer's address.
        peer: String,
        /// The limit that passed.
        after: Duration,
    },
}

impl TlsError {
    /// The `TlsError` inside `err`, if it is one.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::tls::{ClientTls, ServerTls, TlsError};
    ///
    /// # let dir = std::env::temp_dir().join(format!("netutil-doc-{}-e1", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    /// # let (cert_pem, key_pem) = (dir.join("cert.pem"), dir.join("key.pem"));
    /// # std::fs::write(&cert_pem, made.cert.pem())?;
    /// # std::fs::write(&key_pem, made.signing_key.serialize_pem())?;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = netutil::TCPServer::new(|_stream: netutil::IOStream, _| async {});
    /// server.set_tls(Some(ServerTls::from_pem_files(&cert_pem, &key_pem)?));
    /// let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// // A client that trusts nobody: the server's certificate is rejected.
    /// let client = netutil::TCPClient::new().tls(ClientTls::with_roots(netutil::tls::rustls::RootCertStore::empty()));
    /// let err = ioloop
    ///     .run_sync(|| async move { client.connect("localhost", port).await }, Some(std::time::Duration::from_secs(10)))?
    ///     .unwrap_err();
    /// let tls = TlsError::find(&err).expect("a handshake error");
    /// assert!(matches!(tls, TlsError::Certificate { .. }));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn find(err: &io::Error) -> Option<&TlsError> {
        err.get_ref()?.downcast_ref::<TlsError>()
    }

    /// The peer: the host name a client connected to, or the address a
    /// server accepted.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::tls::{ClientTls, ServerTls, TlsError};
    ///
    /// # let dir = std::env::temp_dir().join(format!("netutil-doc-{}-e2", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    /// # let (cert_pem, key_pem) = (dir.join("cert.pem"), dir.join("key.pem"));
    /// # std::fs::write(&cert_pem, made.cert.pem())?;
    /// # std::fs::write(&key_pem, made.signing_key.serialize_pem())?;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = netutil::TCPServer::new(|_stream: netutil::IOStream, _| async {});
    /// server.set_tls(Some(ServerTls::from_pem_files(&cert_pem, &key_pem)?));
    /// let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// // A client that trusts nobody: the server's certificate is rejected.
    /// let client = netutil::TCPClient::new().tls(ClientTls::with_roots(netutil::tls::rustls::RootCertStore::empty()));
    /// let err = ioloop
    ///     .run_sync(|| async move { client.connect("localhost", port).await }, Some(std::time::Duration::from_secs(10)))?
    ///     .unwrap_err();
    /// let tls = TlsError::find(&err).expect("a handshake error");
    /// assert_eq!(tls.peer(), "localhost");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn peer(&self) -> &str {
        match self {
            TlsError::Certificate { peer, .. }
            | TlsError::Handshake { peer, .. }
            | TlsError::Timeout { peer, .. } => peer,
        }
    }

    /// The error for a handshake with `peer` that closed the stream with
    /// `err`: a `TlsError` if rustls failed it, else `err` with the peer
    /// in front.
    pub(crate) fn from_handshake(err: io::Error, peer: &str) -> io::Error {
        let reason = crate::StreamClosedError::find(&err)
            .and_then(|closed| closed.cause())
            .and_then(|cause| cause.get_ref())
            .and_then(|cause| cause.downcast_ref::<rustls::Error>())
            .cloned();
        match reason {
            Some(rustls::Error::InvalidCertificate(reason)) => TlsError::Certificate {
                peer: peer.to_owned(),
                reason,
            }
            .into(),
            Some(reason) => TlsError::Handshake {
                peer: peer.to_owned(),
                reason,
            }
            .into(),
            None => crate::error::context(err, format_args!("tls handshake with {peer}")),
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Certificate { peer, reason } => {
                write!(
                    f,
                    "tls handshake with {peer}: certificate rejected: {reason}"
                )
            }
            TlsError::Handshake { peer, reason } => {
                write!(f, "tls handshake with {peer} failed: {reason}")
            }
            TlsError::Timeout { peer, after } => {
                write!(f, "tls handshake with {peer}: timed out after {after:?}")
            }
        }
    }
}

impl StdError for TlsError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            TlsError::Handshake { reason, .. } => Some(reason),
            TlsError::Certificate { .. } | TlsError::Timeout { .. } => None,
        }
    }
}

impl From<TlsError> for io::Error {
    fn from(err: TlsError) -> io::Error {
        let kind = match err {
            TlsError::Timeout { .. } => io::ErrorKind::TimedOut,
            TlsError::Certificate { .. } | TlsError::Handshake { .. } => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, err)
    }
}

/// Why certificates or keys cannot be used: each variant names the file.
///
/// [`ServerTls::from_pem_files`](crate::tls::ServerTls::from_pem_files),
/// [`ClientTls::with_ca_file`](crate::tls::ClientTls::with_ca_file) and the
/// [`pem`](crate::tls::pem) loaders return it. It converts into an
/// `io::Error` (`NotFound`, `InvalidData` or `InvalidInput`).
///
/// # Examples
///
/// ```
/// use netutil::tls::{ServerTls, TlsConfigError};
///
/// let err = ServerTls::from_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem").unwrap_err();
/// assert!(matches!(err, TlsConfigError::Read { .. }));
/// assert!(err.to_string().contains("/nonexistent/cert.pem"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// The file cannot be read (missing, unreadable).
    Read {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: io::Error,
    },
    /// The file is not PEM, is damaged, or has no item of the kind wanted.
    NotPem {
        /// The file.
        path: PathBuf,
        /// What was looked for: "certificate" or "private key".
        wanted: &'static str,
        /// What is wrong, in a few words.
        reason: String,
    },
    /// The private key is not the one the certificate was issued for.
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// rustls refused the certificate or key (an unsupported key type, a
    /// certificate it cannot parse).
    Rejected {
        /// The file, or files, concerned.
        what: String,
        /// What rustls reported.
        reason: rustls::Error,
    },
}

impl fmt::Display for TlsConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsConfigError::Read { path, source } => {
                write!(f, "{}: cannot read: {source}", path.display())
            }
            TlsConfigError::NotPem {
                path,
                wanted,
                reason,
            } => write!(f, "{}: no pem {wanted}: {reason}", path.display()),
            TlsConfigError::KeyMismatch { cert, key } => write!(
                f,
                "{}: the private key does not match the certificate in {}",
                key.display(),
                cert.display()
            ),
            TlsConfigError::Rejected { what, reason } => write!(f, "{what}: {reason}"),
        }
    }
}

impl StdError for TlsConfigError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            TlsConfigError::Read { source, .. } => Some(source),
            TlsConfigError::Rejected { reason, .. } => Some(reason),
            TlsConfigError::NotPem { .. } | TlsConfigError::KeyMismatch { .. } => None,
        }
    }
}

impl From<TlsConfigError> for io::Error {
    fn from(err: TlsConfigError) -> io::Error {
        let kind = match &err {
            TlsConfigError::Read { source, .. } => source.kind(),
            TlsConfigError::NotPem { .. } => io::ErrorKind::InvalidData,
            TlsConfigError::KeyMismatch { .. } | TlsConfigError::Rejected { .. } => {
                io::ErrorKind::InvalidInput
            }
        };
        io::Error::new(kind, err)
    }
}
