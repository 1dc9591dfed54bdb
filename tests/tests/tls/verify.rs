//! A client verifies the server's certificate and host name by default;
//! each failure is a `TlsError` naming the host and the reason.

use std::io;
use std::time::{Duration, Instant};

use netutil::tls::rustls::CertificateError;
use netutil::tls::{ServerTls, TlsError};
use netutil::{IOStream, OverrideResolver, TCPClient, TCPServer, ThreadedResolver};

use crate::pki::pki;
use crate::util::run;

/// Connects a client trusting the test authority, as `host` (resolved to
/// 127.0.0.1), to a TLS server with `server_tls`; returns the client's
/// error.
fn connect_err(server_tls: ServerTls, host: &'static str) -> io::Error {
    run(|| async move {
        let server = TCPServer::new(|_stream: IOStream, _| async {});
        server.set_tls(Some(server_tls));
        let port = server.listen(0, Some("127.0.0.1")).unwrap()[0].port();
        let resolver = OverrideResolver::new(ThreadedResolver::new()).host(host, "127.0.0.1");
        TCPClient::with_resolver(resolver)
            .tls(pki().client())
            .connect(host, port)
            .await
            .map(drop)
    })
    .unwrap_err()
}

fn certificate_reason(err: &io::Error, host: &str) -> CertificateError {
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
    assert!(err.to_string().contains(host), "names the host: {err}");
    match TlsError::find(err) {
        Some(TlsError::Certificate { peer, reason }) => {
            assert_eq!(peer, host);
            reason.clone()
        }
        other => panic!("not a certificate error: {other:?} ({err})"),
    }
}

#[test]
fn the_right_certificate_passes() {
    run(|| async move {
        let server = TCPServer::new(|stream: IOStream, _| async move {
            let _ = stream.write(b"hi\n").await;
        });
        server.set_tls(Some(pki().server()));
        let port = server.listen(0, Some("127.0.0.1")).unwrap()[0].port();
        // By name and by address: the certificate has both.
        for host in ["localhost", "127.0.0.1"] {
            let stream = TCPClient::new()
                .tls(pki().client())
                .connect(host, port)
                .await?;
            assert_eq!(stream.read_until(b"\n", Some(16)).await?, b"hi\n");
        }
        io::Result::Ok(())
    })
    .unwrap();
}

#[test]
fn a_certificate_for_another_host_is_rejected() {
    let err = connect_err(pki().server(), "wrong.example");
    let reason = certificate_reason(&err, "wrong.example");
    assert!(
        matches!(
            reason,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        ),
        "{reason:?}"
    );
}

#[test]
fn a_certificate_from_an_unknown_authority_is_rejected() {
    let p = pki();
    let tls = ServerTls::from_pem_files(&p.stranger_cert, &p.stranger_key).unwrap();
    let err = connect_err(tls, "localhost");
    let reason = certificate_reason(&err, "localhost");
    assert!(
        matches!(reason, CertificateError::UnknownIssuer),
        "{reason:?}"
    );
}

#[test]
fn an_expired_certificate_is_rejected() {
    let p = pki();
    let tls = ServerTls::from_pem_files(&p.expired_cert, &p.expired_key).unwrap();
    let err = connect_err(tls, "localhost");
    let reason = certificate_reason(&err, "localhost");
    assert!(
        matches!(
            reason,
            CertificateError::Expired | CertificateError::ExpiredContext { .. }
        ),
        "{reason:?}"
    );
}

#[test]
fn a_server_that_never_answers_times_out_the_client_handshake() {
    // Connections complete in the backlog; nobody ever accepts them.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let limit = Duration::from_millis(300);
    let started = Instant::now();
    let err = run(|| async move {
        TCPClient::new()
            .tls(pki().client().handshake_timeout(limit))
            .connect("localhost", port)
            .await
            .map(drop)
    })
    .unwrap_err();
    let waited = started.elapsed();
    assert!(waited >= limit, "gave up early: {waited:?}");
    assert!(waited < Duration::from_secs(10), "gave up late: {waited:?}");
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    match TlsError::find(&err) {
        Some(TlsError::Timeout { peer, after }) => {
            assert_eq!(peer, "localhost");
            assert_eq!(*after, limit);
        }
        other => panic!("not a timeout: {other:?}"),
    }
    drop(listener);
}

#[test]
fn an_invalid_host_name_is_refused_before_any_handshake() {
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let err = run(|| async move {
        let stream = IOStream::new(a)?;
        stream
            .start_tls(netutil::tls::TlsRole::client(&pki().client(), "not a host"))
            .await
            .map(drop)
    })
    .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("\"not a host\""), "{err}");
}

#[test]
fn no_common_alpn_protocol_fails_the_handshake_with_a_typed_error() {
    let err = run(|| async move {
        let server = TCPServer::new(|_stream: IOStream, _| async {});
        server.set_tls(Some(pki().server().alpn_protocols([b"http/1.1"])));
        let port = server.listen(0, Some("127.0.0.1")).unwrap()[0].port();
        TCPClient::new()
            .tls(pki().client().alpn_protocols([b"h2"]))
            .connect("localhost", port)
            .await
            .map(drop)
    })
    .unwrap_err();
    match TlsError::find(&err) {
        Some(TlsError::Handshake { peer, reason }) => {
            assert_eq!(peer, "localhost");
            // The server's alert, as the client received it.
            assert!(
                matches!(reason, netutil::tls::rustls::Error::AlertReceived(_)),
                "{reason:?}"
            );
        }
        other => panic!("not a handshake error: {other:?} ({err})"),
    }
    assert!(err.to_string().contains("localhost"), "{err}");
}
