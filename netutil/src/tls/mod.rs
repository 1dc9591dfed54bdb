//! TLS on rustls (the default `tls` feature): encrypted [`IOStream`](crate::IOStream)s,
//! servers and clients.
//!
//! A TLS stream is an [`IOStream`](crate::IOStream) like any other, made by
//! [`IOStream::start_tls`](crate::IOStream::start_tls) from a plain one:
//! every read, write, limit and close callback works unchanged on the
//! plaintext. [`TCPServer::set_tls`](crate::TCPServer::set_tls) hands out
//! TLS streams whose handshake has completed, and
//! [`TCPClient::tls`](crate::TCPClient::tls) connects with one.
//!
//! * [`ServerTls`], [`ClientTls`]: configurations (Tornado's
//!   `ssl_options`, `ssl_options_to_context`).
//! * [`pem`]: certificates and keys from PEM files.
//! * [`TlsError`]: why a handshake failed, naming the peer;
//!   [`TlsConfigError`]: why a certificate or key cannot be used, naming
//!   the file.
//!
//! The cryptography is rustls with its `ring` provider; [`rustls`] is
//! re-exported for hand-built configurations.
//!
//! # Examples
//!
//! A server and a client on one loop (with a certificate made on the spot
//! by `rcgen`):
//!
//! ```
//! use netutil::tls::{ClientTls, ServerTls, rustls};
//! use netutil::{IOStream, TCPClient, TCPServer};
//!
//! let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
//! let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
//! let server_config = rustls::ServerConfig::builder()
//!     .with_no_client_auth()
//!     .with_single_cert(vec![cert.cert.der().clone()], key)?;
//! let mut roots = rustls::RootCertStore::empty();
//! roots.add(cert.cert.der().clone())?;
//!
//! let ioloop = ioloop::IOLoop::new()?;
//! let server = TCPServer::new(|stream: IOStream, _peer| async move {
//!     if let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
//!         let _ = stream.write(&line.to_ascii_uppercase()).await;
//!     }
//! });
//! server.set_tls(Some(ServerTls::from_config(server_config)));
//! let port = server.listen(0, Some("127.0.0.1"))?[0].port();
//!
//! let client = TCPClient::new().tls(ClientTls::with_roots(roots));
//! let reply = ioloop.run_sync(
//!     || async move {
//!         let stream = client.connect("localhost", port).await?;
//!         assert!(stream.is_tls());
//!         stream.write(b"hello\n").await?;
//!         stream.read_until(b"\n", Some(1024)).await
//!     },
//!     Some(std::time::Duration::from_secs(10)),
//! )??;
//! assert_eq!(reply, b"HELLO\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod error;
pub mod pem;
mod session;
mod stream;

pub use self::config::{ClientTls, DEFAULT_HANDSHAKE_TIMEOUT, ServerTls, TlsRole};
pub use self::error::{TlsConfigError, TlsError};
pub(crate) use self::session::{Plaintext, Session};
pub use rustls;
