//! TLS on [`IOStream`]: [`IOStream::start_tls`] and what a TLS stream can
//! tell about its session.

use std::io;

use crate::IOStream;
use crate::tls::{TlsError, TlsRole};

impl IOStream {
    /// Upgrades this plain stream to TLS (STARTTLS) and resolves to the TLS
    /// stream once the handshake has completed (Tornado's `start_tls`, and
    /// the way every TLS stream is made).
    ///
    /// The TLS stream has the same API: reads, writes, bounded buffers and
    /// close callbacks work on plaintext, and the loop does the encryption
    /// and the handshake without blocking. The handshake is bounded by the
    /// configuration's timeout (10 s by default).
    ///
    /// # Semantics
    ///
    /// Tornado's returns a new `SSLIOStream`; this consumes the handle and
    /// returns it, now encrypted (other clones of it see the same stream).
    /// A TLS stream's [`close`](IOStream::close) sends a `close_notify`
    /// first; the peer's `close_notify` is an end of file, and so is the
    /// connection closing without one (the read error's message says
    /// which), so a protocol that delimits its messages itself (HTTP with
    /// a `Content-Length`) must check it got them whole.
    ///
    /// # Errors
    ///
    /// * `InvalidInput` if data is buffered (read but not consumed: it came
    ///   before the upgrade), a read or write is in progress, or the stream
    ///   is TLS already; `InvalidInput` for a client host name that is
    ///   neither a DNS name nor an IP address.
    /// * A [`TlsError`] (find it with [`TlsError::find`]) naming the peer if
    ///   the handshake fails: the certificate was rejected, the peer sent
    ///   an alert or something else than TLS, or it did not finish in time.
    /// * A [`StreamClosedError`](crate::StreamClosedError) (with the peer
    ///   in front) if the connection closes during the handshake.
    ///
    /// On a handshake error the stream is closed.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use netutil::tls::{ClientTls, TlsRole};
    /// use netutil::IOStream;
    ///
    /// # async fn f() -> std::io::Result<()> {
    /// let stream = IOStream::connect("127.0.0.1:25".parse().unwrap()).await?;
    /// let greeting = stream.read_until(b"\r\n", Some(512)).await?;
    /// stream.write(b"STARTTLS\r\n").await?;
    /// let _ready = stream.read_until(b"\r\n", Some(512)).await?;
    /// let tls = ClientTls::new()?;
    /// let stream = stream.start_tls(TlsRole::client(&tls, "mail.example.com")).await?;
    /// stream.write(b"EHLO me\r\n").await?; // encrypted
    /// # let _ = greeting; Ok(()) }
    /// ```
    pub async fn start_tls(self, role: TlsRole) -> io::Result<IOStream> {
        let peer = match &role {
            TlsRole::Client { host, .. } => host.clone(),
            TlsRole::Server(_) => match self.peer_addr() {
                Ok(addr) => addr.to_string(),
                Err(_) => format!("fd {}", self.fd()),
            },
        };
        let limit = role.handshake_timeout();
        self.install_tls(role.session()?)?;
        let handshake = std::future::poll_fn(|cx| self.poll_handshake(cx));
        match ioloop::timeout(limit, handshake).await {
            Ok(Ok(())) => Ok(self),
            Ok(Err(err)) => {
                self.close();
                Err(TlsError::from_handshake(err, &peer))
            }
            Err(_) => {
                self.close();
                Err(TlsError::Timeout { peer, after: limit }.into())
            }
        }
    }

    /// True on a TLS stream.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     assert!(!a.is_tls()); // until `start_tls`
    ///     # let _ = b;
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_tls(&self) -> bool {
        self.with_tls(|_| ()).is_some()
    }

    /// The protocol agreed through ALPN (for example `b"http/1.1"`), on a
    /// TLS stream whose peers both offered it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     assert_eq!(a.alpn_protocol(), None); // not TLS, so no protocol agreed
    ///     # let _ = b;
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn alpn_protocol(&self) -> Option<Vec<u8>> {
        self.with_tls(|s| s.alpn_protocol().map(<[u8]>::to_vec))
            .flatten()
    }

    /// The host name the client asked for through SNI, on the server side
    /// of a TLS stream.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     assert_eq!(b.tls_server_name(), None); // plain stream
    ///     # let _ = a;
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tls_server_name(&self) -> Option<String> {
        self.with_tls(|s| s.server_name().map(str::to_owned))
            .flatten()
    }

    /// The TLS protocol version in use (`"TLSv1_3"`, `"TLSv1_2"`), on a TLS
    /// stream whose handshake completed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use netutil::IOStream;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// ioloop.run_sync(|| async move {
    ///     let (a, b) = (IOStream::new(a)?, IOStream::new(b)?);
    ///     assert_eq!(a.tls_version(), None); // plain stream
    ///     # let _ = b;
    ///     Ok::<_, std::io::Error>(())
    /// }, Some(std::time::Duration::from_secs(5)))??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tls_version(&self) -> Option<String> {
        self.with_tls(|s| s.protocol_version().map(|v| format!("{v:?}")))
            .flatten()
    }
}
