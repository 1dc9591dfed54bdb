//! # Guide: Tornado's `netutil`, `iostream`, `tcpserver`, `tcpclient` and `process` (and asyncio's datagram endpoints and `ssl=`) in Rust
//!
//! This module holds documentation only. It maps Tornado's networking
//! modules to this crate, function by function, and says where Rust (or a
//! lesson from Tornado's issue tracker) changes the rule. The loop itself
//! is mapped in [`ioloop::guide`].
//!
//! ## `tornado.netutil`
//!
//! | Tornado | here | notes |
//! |---|---|---|
//! | `bind_sockets(port, address=None, family=AF_UNSPEC, backlog=128, flags=None, reuse_port=False)` | [`bind_sockets(port, address)`](crate::bind_sockets), [`BindOptions`](crate::BindOptions)`::new().family(..).backlog(..).reuse_port(..).bind(port, address)` | Same rules: one socket per family, `IPV6_V6ONLY`, one shared port for port 0, `SO_REUSEADDR`, the `localhost`-without-`::1` skip. Differences: the default backlog is [`DEFAULT_BACKLOG`](crate::DEFAULT_BACKLOG) (1024); sockets already bound are **closed** when a later bind fails (Tornado leaks them); port 0 is retried on a fresh port if the shared one is taken; an empty result is an `AddrNotAvailable` error rather than an empty list; errors name the address. `flags` (getaddrinfo flags) is not offered: no address means the wildcard addresses, a host name is resolved normally (never with `AI_ADDRCONFIG`, as Tornado PR #593). |
//! | `bind_unix_socket(file, mode=0o600, backlog=128)` | [`bind_unix_socket(path, mode, backlog)`](crate::bind_unix_socket) | A stale socket file is replaced, but a socket a live server listens on is refused (`AddrInUse`; Tornado unlinks it); a file that is not a socket is refused naming the path; names starting with `'\0'` or `'@'` are Linux abstract names. |
//! | `add_accept_handler(sock, callback)` → `remove_handler()` | [`add_accept_handler(listener, callback)`](crate::add_accept_handler) → [`AcceptHandle::remove`](crate::AcceptHandle::remove) | The callback gets a typed connection and address ([`Listener`](crate::Listener): `TcpListener`, `UnixListener`, [`AnyListener`](crate::AnyListener)). Accepts per event: [`AcceptOptions::max_accepts_per_event`](crate::AcceptOptions::max_accepts_per_event), separate from the backlog (Tornado PR #3062). `ECONNABORTED` and Linux's transient accept errors are skipped. **`EMFILE`/`ENFILE`/`ENOBUFS`/`ENOMEM` pause the listener** with back-off ([`PAUSE_MIN`](crate::PAUSE_MIN) to [`PAUSE_MAX`](crate::PAUSE_MAX), and at once when a stream closes), logging once per episode: Tornado spins and floods the log (thumbor#324). Removal inside the callback is safe (#2069); removal also closes the listener. |
//! | `is_valid_ip(ip)` | [`is_valid_ip`](crate::is_valid_ip) | Tornado's test vectors hold. Stricter on legacy IPv4 shorthands (`"1.1"`). |
//! | `Resolver` (`Configurable`), `resolve(host, port, family)` → `Future[List[(family, address)]]` | trait [`Resolver`](crate::Resolver), `resolve(host, port, family)` → [`ResolveFuture`](crate::ResolveFuture) of `io::Result<Vec<SocketAddr>>` | A `SocketAddr` carries its family. Errors are `io::Error`s naming the host. Pick an implementation by passing it ([`TCPClient::with_resolver`](crate::TCPClient::with_resolver)); there is no global `configure`. |
//! | `DefaultExecutorResolver`, `ThreadedResolver(num_threads=10)`, `BlockingResolver` | [`ThreadedResolver`](crate::ThreadedResolver) | A process-wide pool of [`RESOLVER_THREADS`](crate::RESOLVER_THREADS) threads, re-created in a forked child (as Tornado's, which checks the pid). Numeric hosts are answered without a thread. A blocking resolver is not offered: it would block the loop. |
//! | `OverrideResolver(resolver, mapping)` | [`OverrideResolver::new(resolver)`](crate::OverrideResolver::new)`.host(..).host_port(..).host_port_family(..)` | Same precedence: `(host, port, family)` > `(host, port)` > `host`. |
//! | `Resolver.close()` | drop | |
//! | `CaresResolver`, `TwistedResolver`, `ExecutorResolver` | none | Implement [`Resolver`](crate::Resolver) to plug in another. |
//! | `ssl_options_to_context(ssl_options, server_side=None)` | [`ServerTls::from_pem_files(cert, key)`](crate::tls::ServerTls::from_pem_files), [`ClientTls::new()`](crate::tls::ClientTls::new) / [`with_ca_file`](crate::tls::ClientTls::with_ca_file); a hand-built rustls config through `from_config` | The `certfile`/`keyfile` dict becomes a typed configuration, checked when it is made: a missing file, a file that is not PEM or a key that does not match the certificate is a [`TlsConfigError`](crate::tls::TlsConfigError) naming the file (Python reports it at the first handshake, or as a bare `SSLError`). Behind the default `tls` feature, on rustls. |
//! | `ssl_wrap_socket(socket, ssl_options, server_hostname=None)` | [`IOStream::start_tls`](crate::IOStream::start_tls) with [`TlsRole::server`](crate::tls::TlsRole::server) / [`TlsRole::client(tls, host)`](crate::tls::TlsRole::client) | A stream, not a socket, is wrapped; the handshake runs on the loop. |
//!
//! ## `tornado.iostream`
//!
//! | Tornado | here | notes |
//! |---|---|---|
//! | `IOStream(socket, max_buffer_size=None, read_chunk_size=None, max_write_buffer_size=None)` | [`IOStream::new(fd)`](crate::IOStream::new), [`StreamOptions`](crate::StreamOptions)`::new().max_buffer_size(..).read_chunk_size(..).max_write_buffer_size(..).build(fd)` | Any stream descriptor: TCP or Unix socket, pipe (`ChildStdout`, …). Smaller limits by default: 4 MiB read ([`DEFAULT_MAX_BUFFER_SIZE`](crate::DEFAULT_MAX_BUFFER_SIZE); Tornado 100 MB) and 1 MiB of writes not yet flushed ([`DEFAULT_MAX_WRITE_BUFFER_SIZE`](crate::DEFAULT_MAX_WRITE_BUFFER_SIZE); Tornado unlimited), where a write into an empty buffer is always taken. The stream owns the descriptor; clones share it. |
//! | `PipeIOStream(fd)` | [`IOStream::new`](crate::IOStream::new) | One type for sockets and pipes. |
//! | `read_until(delimiter, max_bytes=None)` | [`read_until(delimiter, max_bytes)`](crate::IOStream::read_until) | `async`; fails and closes when the delimiter is not within `max_bytes`, as Tornado (`UnsatisfiableReadError` → `InvalidData`). Copy-free variant: [`fill_until`](crate::IOStream::fill_until) + [`with_buffer`](crate::IOStream::with_buffer) + [`consume`](crate::IOStream::consume). |
//! | `read_until_regex(regex, max_bytes)` | none | Use [`read_more`](crate::IOStream::read_more) and match on [`with_buffer`](crate::IOStream::with_buffer). |
//! | `read_bytes(num_bytes, partial=False)` | [`read_bytes(n, partial)`](crate::IOStream::read_bytes) | |
//! | `read_into(buf, partial=False)` | [`read_into(&mut buf, partial)`](crate::IOStream::read_into) | Large reads with nothing buffered go straight into `buf`. |
//! | `read_until_close()` | [`read_until_close`](crate::IOStream::read_until_close) | Gives the data on end of file; on a reset or other error it fails (Tornado resolves with the data regardless), leaving the data buffered. |
//! | `streaming_callback` arguments (4.x) | [`read_more`](crate::IOStream::read_more) in a loop | |
//! | `write(data)` → `Future` | [`write(&data)`](crate::IOStream::write) → [`Write`](crate::Write) future; [`write_vectored`](crate::IOStream::write_vectored) | The write is attempted at once, straight from `data`; only what the kernel refuses is copied. The future completes when the bytes reached the kernel, as Tornado's. Overflowing `max_write_buffer_size` with bytes already queued is an `InvalidInput` error and writes nothing (`StreamBufferFullError`); awaiting each write is the back-pressure. |
//! | `close(exc_info=False)` | [`close`](crate::IOStream::close) | Idempotent; pending reads and writes fail with [`StreamClosedError`](crate::StreamClosedError). |
//! | `closed()` | [`closed`](crate::IOStream::closed) | |
//! | `error` | [`close_reason`](crate::IOStream::close_reason) | The [`StreamClosedError`](crate::StreamClosedError) with its cause (`None` for a local close). |
//! | `set_close_callback(callback)` | [`set_close_callback`](crate::IOStream::set_close_callback) | Runs as a loop callback; at once if already closed. |
//! | `reading()`, `writing()` | [`reading`](crate::IOStream::reading), [`writing`](crate::IOStream::writing) | |
//! | `set_nodelay(value)` | [`set_nodelay`](crate::IOStream::set_nodelay) | Returns the OS error (Tornado ignores `EINVAL`). |
//! | `connect(address, server_hostname=None)` | [`IOStream::connect(addr)`](crate::IOStream::connect), [`IOStream::connect_unix(path)`](crate::IOStream::connect_unix) | Creates the socket; errors name the address. |
//! | `SSLIOStream(socket, ssl_options=..)` | an [`IOStream`](crate::IOStream) made TLS by [`start_tls`](crate::IOStream::start_tls) (or accepted by a TLS [`TCPServer`](crate::TCPServer), connected by a TLS [`TCPClient`](crate::TCPClient)) | One type: every read, write, limit and close callback works on the plaintext; [`is_tls`](crate::IOStream::is_tls), [`alpn_protocol`](crate::IOStream::alpn_protocol), [`tls_server_name`](crate::IOStream::tls_server_name), [`tls_version`](crate::IOStream::tls_version) describe the session. A handshake or certificate failure is a [`TlsError`](crate::tls::TlsError) naming the peer. [`close`](crate::IOStream::close) sends a `close_notify`; the peer's `close_notify` is an end of file. |
//! | `start_tls(server_side, ssl_options=None, server_hostname=None)` | [`start_tls(TlsRole)`](crate::IOStream::start_tls) → the same stream, encrypted | Refuses (`InvalidInput`) while data is buffered, a read or write is pending, or the stream is TLS already, as Tornado's refuses while reading or writing. The handshake has a timeout (10 s by default, [`handshake_timeout`](crate::tls::ServerTls::handshake_timeout)); Tornado's has none. |
//! | `StreamClosedError(real_error)` | [`StreamClosedError`](crate::StreamClosedError) inside the `io::Error`, [`cause`](crate::StreamClosedError::cause) | Find it with [`StreamClosedError::find`](crate::StreamClosedError::find). End of file is a cause too (`UnexpectedEof`). |
//! | `UnsatisfiableReadError`, `StreamBufferFullError` | `io::ErrorKind::InvalidData` / `InvalidInput` with a message | |
//!
//! **How a stream uses the loop.** One edge-triggered registration
//! ([`IOLoop::add_edge_handler`](ioloop::IOLoop::add_edge_handler)) for
//! `READ | WRITE` for the stream's life, readiness remembered by the
//! stream: steady request/response traffic costs one `epoll_wait`, one `read` and
//! one `write` per message, and no `epoll_ctl`. Tornado adds and removes
//! interest as reads and writes come and go. An error or hang-up
//! (`ERROR`) closes the stream with `SO_ERROR` as the cause, so a
//! half-dead socket never spins the loop (failure 17); a hang-up without
//! an error first reads what the kernel still holds (a pipe's last
//! output).
//!
//! ## `tornado.tcpserver`
//!
//! | Tornado | here | notes |
//! |---|---|---|
//! | `class S(TCPServer): async def handle_stream(self, stream, address)` | [`TCPServer::new(\|stream, address\| async { .. })`](crate::TCPServer::new) | A closure returning a future instead of an override. Each connection runs as its own task; a panic is logged and touches no other connection. `address` is a [`PeerAddr`](crate::PeerAddr) (IP or Unix). |
//! | `TCPServer(ssl_options=None, max_buffer_size=None, read_chunk_size=None)` | [`TCPServer::with_options(StreamOptions, ..)`](crate::TCPServer::with_options) + [`set_tls(Some(ServerTls))`](crate::TCPServer::set_tls) | Each handshake runs on the loop before `handle_stream` sees the stream, within the handshake timeout (10 s by default), so a silent client cannot hold a connection; a failed handshake is logged at debug level with the peer address and never reaches the handler (Tornado hands the stream over at once and fails its first read). |
//! | `listen(port, address=None, family, backlog, flags, reuse_port)` | [`listen(port, address)`](crate::TCPServer::listen), [`listen_with(port, address, &BindOptions)`](crate::TCPServer::listen_with) | Returns the bound addresses (handy with port 0). |
//! | `add_sockets(sockets)`, `add_socket(socket)` | [`add_sockets`](crate::TCPServer::add_sockets), [`add_socket`](crate::TCPServer::add_socket) | TCP or Unix listeners. |
//! | `bind(...)` + `start(num_processes=1, max_restarts=None)` | [`bind`](crate::TCPServer::bind) / [`bind_with`](crate::TCPServer::bind_with) + [`start(processes, max_restarts)`](crate::TCPServer::start) | `processes != 1` forks through [`fork_processes`](crate::fork_processes) (0: one per CPU). On Linux, `bind` sets `SO_REUSEPORT` and each worker also listens on a socket of its own on the same port, so the kernel spreads connections over the workers (Tornado's share one socket, where a burst can all go to one worker); every worker still accepts on the shared socket. |
//! | `add_sockets(sockets)` in a worker of `fork_processes` | [`add_worker_sockets(listeners, backlog)`](crate::TCPServer::add_worker_sockets) | The same per-worker sockets for listeners bound by the caller with [`BindOptions::reuse_port`](crate::BindOptions::reuse_port). Unix-domain listeners are shared only. |
//! | none | [`set_descriptors_exhausted_callback`](crate::TCPServer::set_descriptors_exhausted_callback), [`AcceptOptions::on_descriptors_exhausted`](crate::AcceptOptions::on_descriptors_exhausted) | Runs when accepting pauses for lack of descriptors (`EMFILE`, `ENFILE`), once per pause, so the server can close idle connections; closing a stream there resumes accepting at once. Tornado waits for a connection to end. |
//! | `stop()` | [`stop`](crate::TCPServer::stop) | Idempotent; closes the listeners; open connections continue. |
//!
//! ## `tornado.tcpclient`
//!
//! | Tornado | here | notes |
//! |---|---|---|
//! | `TCPClient(resolver=None)` | [`TCPClient::new`](crate::TCPClient::new), [`TCPClient::with_resolver`](crate::TCPClient::with_resolver) | |
//! | `connect(host, port, af=AF_UNSPEC, ssl_options=None, max_buffer_size=None, source_ip=None, source_port=None, timeout=None)` | [`connect(host, port)`](crate::TCPClient::connect), [`connect_with(host, port, family, timeout)`](crate::TCPClient::connect_with) | Happy Eyeballs as Tornado's `_Connector`: the second family after [`SECONDARY_FAMILY_DELAY`](crate::SECONDARY_FAMILY_DELAY). Stream options through [`TCPClient::stream_options`](crate::TCPClient::stream_options). `ssl_options` is [`TCPClient::tls(ClientTls)`](crate::TCPClient::tls): the host is the SNI name and the name the certificate is checked against, with verification on by default. No source address yet. |
//!
//! ## asyncio's `ssl=`
//!
//! | asyncio | here | notes |
//! |---|---|---|
//! | `loop.create_server(factory, host, port, ssl=context)` | [`TCPServer::set_tls`](crate::TCPServer::set_tls) before [`listen`](crate::TCPServer::listen); [`HTTPServer::set_tls`](crate::http::HTTPServer::set_tls) | `ssl_handshake_timeout` (60 s in asyncio) is [`ServerTls::handshake_timeout`](crate::tls::ServerTls::handshake_timeout) (10 s). |
//! | `loop.create_connection(factory, host, port, ssl=context, server_hostname=None)` | [`TCPClient::tls(ClientTls)`](crate::TCPClient::tls)`.connect(host, port)` | `server_hostname` defaults to `host`, as asyncio; for another name, connect plainly and call [`start_tls`](crate::IOStream::start_tls) with [`TlsRole::client(tls, name)`](crate::tls::TlsRole::client). `ssl.create_default_context()` is [`ClientTls::new()`](crate::tls::ClientTls::new) (the system's roots); `cafile=` is [`ClientTls::with_ca_file`](crate::tls::ClientTls::with_ca_file); `set_alpn_protocols` is [`alpn_protocols`](crate::tls::ClientTls::alpn_protocols). |
//! | `loop.start_tls(transport, protocol, context, server_side=False, server_hostname=None)` | [`IOStream::start_tls`](crate::IOStream::start_tls) | |
//! | `ssl.SSLCertVerificationError` | [`TlsError::Certificate`](crate::tls::TlsError::Certificate) `{ peer, reason }` | `reason` says unknown issuer, expired, not valid for the name, and so on. |
//!
//! ## `tornado.httpserver`, `tornado.http1connection`, `tornado.httputil`
//!
//! Behind the default `http` feature: [`crate::http`].
//!
//! | Tornado | here | notes |
//! |---|---|---|
//! | `HTTPServer(request_callback, no_keep_alive=False, xheaders=False, ssl_options=None, protocol=None, decompress_request=False, chunk_size=None, max_header_size=None, idle_connection_timeout=None, body_timeout=None, max_body_size=None, max_buffer_size=None, trusted_downstream=None)` | [`HTTPServer::new(handler, options)`](crate::http::HTTPServer::new) with [`HTTPServerOptions`](crate::http::HTTPServerOptions) | The callback is a [`Handler`](crate::http::Handler): an async function from a [`Request`](crate::http::Request) to a [`Response`](crate::http::Response) (a closure or `async fn`), run on the loop, not `Send`. `max_header_size` → `max_header_bytes`, `max_body_size` → `max_body_bytes`, `idle_connection_timeout` → `idle_timeout`, `body_timeout` → `body_timeout` plus `min_body_rate` (a body must keep a minimum rate, not only finish in time). Added: `header_timeout` (408 for a head that trickles in), `max_write_ahead` (how far responses are rendered ahead of a slow reader), `max_connections`. `ssl_options` is [`HTTPServer::set_tls`](crate::http::HTTPServer::set_tls) (with ALPN `http/1.1` through [`ServerTls::alpn_protocols`](crate::tls::ServerTls::alpn_protocols)). Not offered: `xheaders`, `decompress_request`, `protocol`. |
//! | `listen(port, address)`, `bind(port, address)` + `start(num_processes)`, `add_sockets(sockets)`, `stop()` | [`listen`](crate::http::HTTPServer::listen), [`bind`](crate::http::HTTPServer::bind) + [`start`](crate::http::HTTPServer::start), [`add_sockets`](crate::http::HTTPServer::add_sockets), [`listen_unix`](crate::http::HTTPServer::listen_unix), [`stop`](crate::http::HTTPServer::stop) | As [`TCPServer`](crate::TCPServer)'s, with each worker on its own `SO_REUSEPORT` socket on Linux. |
//! | `close_all_connections()` | [`shutdown()`](crate::http::HTTPServer::shutdown) → future of the connections left | Graceful: stops accepting, closes idle connections, lets requests in flight finish with `Connection: close`, bounded by `shutdown_grace`. |
//! | `HTTPServerRequest`: `method`, `uri`, `path`, `query`, `version`, `headers`, `body`, `remote_ip`, `query_arguments` | [`method()`](crate::http::Request::method), [`target()`](crate::http::Request::target), [`path()`](crate::http::Request::path), [`query()`](crate::http::Request::query), [`version()`](crate::http::Request::version), [`headers()`](crate::http::Request::headers), [`body()`](crate::http::Request::body), [`peer()`](crate::http::Request::peer), [`query_arguments()`](crate::http::Request::query_arguments) / [`query_argument(name)`](crate::http::Request::query_argument) | The handler runs as soon as the head is in; the body is read when the handler asks ([`read_all`](crate::http::RequestBody::read_all) for Tornado's buffered `body`). |
//! | `HTTPHeaders` (`get`, `get_list`, `get_all`) | [`HeaderView`](crate::http::HeaderView): [`get`](crate::http::HeaderView::get), [`get_all`](crate::http::HeaderView::get_all), [`iter`](crate::http::HeaderView::iter), [`get_bytes`](crate::http::HeaderView::get_bytes) | Case-insensitive, repeats kept in order; read-only. |
//! | `@stream_request_body` with `data_received(chunk)` | [`RequestBody::chunk`](crate::http::RequestBody::chunk) in a loop, or the body as a `Stream` | Back-pressure: the server reads the socket only as the handler asks, so a slow handler slows the client instead of buffering. |
//! | `HTTP1Connection` (`write_headers`, `write`, `finish`), `HTTP1ConnectionParameters` | the server's engine; a [`Response`](crate::http::Response) with a [`Body`](crate::http::Body): a buffer, a `Stream` ([`Body::stream`](crate::http::Body::stream)) or a channel ([`Body::channel`](crate::http::Body::channel) → [`BodySender`](crate::http::BodySender)) | Framing is the server's: `Content-Length` for a buffer, chunked for a stream to HTTP/1.1, until close to HTTP/1.0; a handler that sets `Content-Length`, `Transfer-Encoding`, `Connection` or `Date` gets a [`HeaderError`](crate::http::HeaderError). |
//! | `RequestHandler.flush()` | [`BodySender::flush`](crate::http::BodySender::flush) | Resolves when the bytes sent so far are with the kernel; [`send`](crate::http::BodySender::send) waits while the channel is full. |
//! | `RequestHandler.on_connection_close()` | the handler's future is dropped | When the client closes or resets the connection while the handler waits; a [`BodySender`](crate::http::BodySender) then gets [`ClientGone`](crate::http::ClientGone). |
//! | `RequestHandler.send_error(500)` after an exception | automatic | A handler that panics gets its client a 500 with `Connection: close`, logged with the request line; the loop and other connections go on. |
//! | `HTTPInputError` → 400 and close | 400, 408, 413, 417, 431, 505, then close | 413 as soon as a `Content-Length` or chunk size passes the limit; 400 for a malformed version, 505 for a well-formed unsupported one. |
//!
//! ## UDP: asyncio's `create_datagram_endpoint`
//!
//! Tornado has no UDP; asyncio's datagram endpoint maps to [`UdpSocket`](crate::UdpSocket).
//!
//! | asyncio | here | notes |
//! |---|---|---|
//! | `loop.create_datagram_endpoint(factory, local_addr=.., reuse_port=..)` | [`UdpSocket::bind(addr)`](crate::UdpSocket::bind), [`UdpOptions`](crate::UdpOptions)`::new().reuse_address(..).reuse_port(..).only_v6(..).broadcast(..).bind(addr)` | IPv4 and IPv6; port 0 lets the kernel pick. Errors name the address. |
//! | `create_datagram_endpoint(.., remote_addr=..)` | [`connect(peer)`](crate::UdpSocket::connect), then [`send`](crate::UdpSocket::send) and [`recv`](crate::UdpSocket::recv) | |
//! | `transport.sendto(data, addr)` | [`send_to(&data, addr)`](crate::UdpSocket::send_to) → [`SendTo`](crate::SendTo) future, or [`send_to_then(data, addr, callback)`](crate::UdpSocket::send_to_then) | Sent at once when the kernel takes it; else queued, at most [`max_send_queue`](crate::UdpOptions::max_send_queue) datagrams, and a send that finds the queue full waits: back-pressure instead of asyncio's `pause_writing` and unbounded buffer. |
//! | `protocol.datagram_received(data, addr)`, `error_received(exc)` | [`set_recv_callback`](crate::UdpSocket::set_recv_callback), or [`recv_from(&mut buf)`](crate::UdpSocket::recv_from) → [`RecvFrom`](crate::RecvFrom) future | One callback for both: `Ok((datagram, sender))` or `Err(UdpError)`. |
//! | `ConnectionRefusedError`, `OSError(EMSGSIZE)` | [`UdpError::ConnectionRefused`](crate::UdpError::ConnectionRefused), [`UdpError::MessageTooLarge`](crate::UdpError::MessageTooLarge) | Typed, with the peer and length; converts into an `io::Error` of the same kind. |
//! | `transport.close()` | [`close`](crate::UdpSocket::close) | Queued datagrams are dropped; their sends and waiting receives fail with [`UdpError::Closed`](crate::UdpError::Closed). |
//!
//! ## `tornado.process`
//!
//! | Tornado | here | notes |
//! |---|---|---|
//! | `cpu_count()` | `std::thread::available_parallelism()` | |
//! | `fork_processes(num_processes, max_restarts=100)` | [`fork_processes(n, max_restarts)`](crate::fork_processes) | Same supervision: restart on signal or non-zero exit with the same id, "too many child restarts, giving up" beyond the limit, exit 0 when all children exited cleanly. Refused while a loop exists ([`IOLoop::open_loops`](ioloop::IOLoop::open_loops), Tornado issues #1562, #2004). Added: `SIGTERM`/`SIGINT` to the parent are forwarded to the children, and end the restarts. |
//! | `task_id()` | [`task_id`](crate::task_id) | `Option<usize>`. |
//! | `Subprocess(args, stdin=STREAM, stdout=STREAM, stderr=STREAM, **popen_kwargs)` | [`Subprocess::spawn(&mut Command)`](crate::Subprocess::spawn), [`SubprocessOptions`](crate::SubprocessOptions)`::new().ioloop(..).stream_options(..).kill_on_drop(..).spawn(..)` | The caller's `std::process::Command` stands for `Popen`'s arguments, and `Stdio::piped()` for `Subprocess.STREAM`: those pipes become streams, the rest stays as set. Errors name the program. Added: [`kill_on_drop`](crate::SubprocessOptions::kill_on_drop) (default off, as std and tokio). |
//! | `Subprocess.stdin`, `.stdout`, `.stderr` (`PipeIOStream`s) | [`stdin()`](crate::Subprocess::stdin), [`stdout()`](crate::Subprocess::stdout), [`stderr()`](crate::Subprocess::stderr) → `Option<&IOStream>` | Ordinary [`IOStream`](crate::IOStream)s. Dropping the `Subprocess` closes them unless cloned (Tornado leaves closing to the caller). A child that stops reading closes stdin with a `BrokenPipe` cause. |
//! | `wait_for_exit(raise_error=True)` | [`wait_for_exit_checked()`](crate::Subprocess::wait_for_exit_checked) | A non-zero exit or a death by signal is an error holding a [`CalledProcessError`](crate::CalledProcessError) with the program, pid and status (Tornado's says `"unknown"` for the command). |
//! | `wait_for_exit(raise_error=False)` | [`wait_for_exit()`](crate::Subprocess::wait_for_exit) → [`WaitForExit`](crate::WaitForExit) | Any number of waiters, each gets the status, and a late one completes at once (in Tornado each call replaces the previous exit callback, so only the last waiter resolves). |
//! | `set_exit_callback(callback)` | [`set_exit_callback`](crate::Subprocess::set_exit_callback) | Replaces the previous callback, as Tornado's; runs on the loop, on the next iteration if the child already exited, and even after the `Subprocess` is dropped. Returns the error if the exit cannot be watched. |
//! | `returncode` | [`exit_status()`](crate::Subprocess::exit_status) → `Option<ExitStatus>` | `code()` for an exit, `signal()` for a death by signal (Tornado: a negative number). |
//! | `pid`, `proc.send_signal(sig)`, `proc.kill()` | [`pid()`](crate::Subprocess::pid), [`signal(sig)`](crate::Subprocess::signal), [`kill()`](crate::Subprocess::kill) | Refused with `InvalidInput` once the child is reaped: its pid may name another process by then. |
//! | `Subprocess.initialize()`, `Subprocess.uninitialize()` | not needed | No `SIGCHLD` handler: the loop watches each child on a pidfd ([`IOLoop::add_child_handler`](ioloop::IOLoop::add_child_handler), Linux 5.3+), reaps only its own children, on any loop and thread, with nothing process-wide to install or to conflict with other libraries. Elsewhere the exit cannot be watched: the exit future and callback give `Unsupported`. |
//! | `subprocess.CalledProcessError` | [`CalledProcessError`](crate::CalledProcessError) | Inside the `io::Error`; [`find`](crate::CalledProcessError::find) it. |
//!
//! ## The multi-process pattern
//!
//! Bind, fork, then create a loop in each child:
//! [`bind_sockets`](crate::bind_sockets) → [`fork_processes`](crate::fork_processes)
//! → `IOLoop::new()` → [`TCPServer::add_sockets`](crate::TCPServer::add_sockets)
//! → `start()`. A loop created before forking would share its epoll
//! descriptor with every child; `fork_processes` refuses with an error
//! saying so. Sockets shared by the workers wake them all for each
//! connection and do not spread a burst evenly: on Linux, bind with
//! [`BindOptions::reuse_port`](crate::BindOptions::reuse_port) and use
//! [`TCPServer::add_worker_sockets`](crate::TCPServer::add_worker_sockets)
//! in each child (as [`TCPServer::start`](crate::TCPServer::start) does),
//! so each worker also listens on a socket of its own and the kernel
//! spreads new connections over them.
//!
//! ## `tornado.httpclient` (the `hyper` feature)
//!
//! Items of `netutil::hyper`, which exists with the `hyper` feature only.
//!
//! | Tornado | here | notes |
//! |---|---|---|
//! | `AsyncHTTPClient()` (one per loop) | `netutil::hyper::Client::new()` | An HTTP/1.1 client on hyper over [`TCPClient`](crate::TCPClient) (`Client::with_tcp_client` to choose the resolver and stream options), with a keep-alive pool per host and port; clones share the pool. Not a per-loop singleton: keep one client to reuse connections. |
//! | `AsyncHTTPClient().fetch(url_or_request, raise_error=True)` | `client.fetch(Request)` → `Result<Response, FetchError>`; `netutil::hyper::fetch(url)` | Any status is a `Response` (Tornado's `raise_error=False`); errors are only transport failures: `FetchErrorKind::{BadUrl, UnsupportedScheme, Connect, Timeout, BodyTooLarge, TooManyRedirects, Http}`, each naming the method and URL. Dropping the future cancels the fetch and closes its connection. |
//! | `HTTPRequest(url, method, headers, body, request_timeout=20, follow_redirects=True, max_redirects=5)` | `Request::new(method, url)`, `Request::get(url)`, `Request::post(url, body)`, `.header(..)`, `.body(..)`, `.timeout(..)`, `.follow_redirects(max)`, `.max_body_size(..)` | **Redirects are off by default** (Tornado follows five); `follow_redirects(n)` turns them on. One timeout for the whole fetch (20 s by default, as `request_timeout`); no separate `connect_timeout`. `max_body_size` (16 MiB by default) bounds the response, as Tornado's client `max_body_size`. |
//! | `HTTPResponse.code`, `.reason`, `.headers`, `.body`, `.effective_url` | `Response::status()`, `status_line()`, `headers()`, `body()`, `url()` | The body is read whole (decoded from chunked coding). No `streaming_callback`: use hyper's client directly for streaming. |
//! | `HTTPClientError` / `HTTPError(599)` | `FetchError` | Tornado reports transport errors as status 599; here they are a typed error. |
//! | `https://` URLs, `validate_cert=True`, `ca_certs` | `https://` URLs; `Client::tls(ClientTls)` | Fetched over TLS with the certificate and host name verified, against the system's roots or a [`ClientTls`](crate::tls::ClientTls) (`ClientTls::with_ca_file` for `ca_certs`). Verification cannot be turned off. |
//! | `HTTPServer` with a hyper service | `netutil::hyper::server_builder(&ioloop)` + [`TCPServer`](crate::TCPServer) | HTTP/1.1 and HTTP/2 prior knowledge on the loop; see the `hyper_server` example. |
//!
//! ## asyncio streams
//!
//! | asyncio | here | notes |
//! |---|---|---|
//! | `await asyncio.open_connection(host, port)` → `(reader, writer)` | [`TCPClient::new().connect(host, port).await`](crate::TCPClient::connect) → [`IOStream`](crate::IOStream) | One stream reads and writes; clone it for a reader and a writer in separate tasks. |
//! | `await asyncio.open_unix_connection(path)` | [`IOStream::connect_unix(path)`](crate::IOStream::connect_unix) | |
//! | `await asyncio.start_server(client_connected_cb, host, port)` | [`TCPServer::new(handler)`](crate::TCPServer::new)`.listen(port, host)` | The handler gets the stream and the peer's address and runs as a task of its own. |
//! | `StreamReader.readline()`, `readuntil(sep)` | [`read_until(b"\n", max)`](crate::IOStream::read_until) | Or `futures::io::AsyncBufReadExt::read_line` / `lines()` on an [`AsyncIOStream`](crate::AsyncIOStream). asyncio's `limit` is `max_bytes` here. |
//! | `StreamReader.read(n)`, `readexactly(n)` | [`read_bytes(n, true)`](crate::IOStream::read_bytes), [`read_bytes(n, false)`](crate::IOStream::read_bytes) | Or `futures::io::AsyncReadExt::read` / `read_exact`: [`IOStream`](crate::IOStream) implements `futures::io::AsyncRead`. |
//! | `StreamReader.at_eof()` | a read giving `Ok(0)` (`AsyncRead`) or an `UnexpectedEof` [`StreamClosedError`](crate::StreamClosedError) | |
//! | `StreamWriter.write(data)` + `await drain()` | [`write(&data).await`](crate::IOStream::write) | Or `futures::io::AsyncWriteExt::write_all`; `poll_write` waits only while the write buffer is over its limit, as `drain`. |
//! | `StreamWriter.write_eof()` | `futures::io::AsyncWriteExt::close` | Shuts down the sending side of a socket and keeps reading, as `write_eof`; [`IOStream::close`](crate::IOStream::close) closes both sides. |
//! | `StreamWriter.close()` + `await wait_closed()` | [`IOStream::close`](crate::IOStream::close) | Immediate: queued writes are dropped. Flush first (`write(..).await` or `AsyncWriteExt::flush`). |
//! | `StreamWriter.get_extra_info("peername")` | [`peer_addr`](crate::IOStream::peer_addr), [`local_addr`](crate::IOStream::local_addr) | |
//! | protocols and transports, codecs | `futures::io` adapters, `asynchronous-codec`, hyper | [`IOStream`](crate::IOStream) speaks `futures-io` and hyper's `rt` traits, so crates built on them run on the loop. |
