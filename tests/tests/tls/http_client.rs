//! The HTTP client (`netutil::hyper::Client`) over TLS: `https://` URLs
//! against our HTTPS server, verified, with the connection kept alive.

use netutil::http::{HTTPServer, HTTPServerOptions, Response};
use netutil::hyper::{Client, FetchErrorKind, Request};
use netutil::tls::TlsError;
use netutil::{OverrideResolver, TCPClient, ThreadedResolver};

use crate::pki::pki;
use crate::util::run;

/// An HTTPS server on the current loop answering `secure <path>`; returns
/// its port.
fn https_server() -> (HTTPServer, u16) {
    let server = HTTPServer::new(
        |request: netutil::http::Request| async move {
            Response::text(200, format!("secure {}", request.path()))
        },
        HTTPServerOptions::default(),
    );
    server.set_tls(Some(pki().server()));
    let port = server.listen(0, Some("127.0.0.1")).unwrap()[0].port();
    (server, port)
}

#[test]
fn https_urls_are_fetched_verified_on_one_kept_alive_connection() {
    let (bodies, idle) = run(|| async move {
        let (_server, port) = https_server();
        let client = Client::new().tls(pki().client());
        let mut bodies = Vec::new();
        for path in ["/a", "/b", "/c"] {
            let url = format!("https://localhost:{port}{path}");
            let response = client.fetch(Request::get(url)).await.unwrap();
            assert_eq!(response.status(), 200);
            bodies.push(String::from_utf8(response.body().to_vec()).unwrap());
        }
        (bodies, client.idle_connections())
    });
    assert_eq!(bodies, ["secure /a", "secure /b", "secure /c"]);
    assert_eq!(idle, 1, "the three fetches shared one connection");
}

#[test]
fn an_https_server_the_client_cannot_verify_fails_the_fetch() {
    let (default_roots, wrong_host) = run(|| async move {
        let (_server, port) = https_server();
        // The system's roots do not include the test authority.
        let default_roots = Client::new()
            .fetch(Request::get(format!("https://localhost:{port}/")))
            .await
            .expect_err("an unknown authority");
        // The certificate names localhost and 127.0.0.1, not this name
        // (resolved to 127.0.0.1 here, so no query leaves the machine).
        let resolver =
            OverrideResolver::new(ThreadedResolver::new()).host("elsewhere.test", "127.0.0.1");
        let wrong_host = Client::with_tcp_client(TCPClient::with_resolver(resolver))
            .tls(pki().client())
            .fetch(Request::get(format!("https://elsewhere.test:{port}/")))
            .await
            .expect_err("a certificate for another host");
        (default_roots, wrong_host)
    });
    let cause = |err: &netutil::hyper::FetchError| match err.kind() {
        FetchErrorKind::Connect(cause) => cause.kind(),
        _ => panic!("not a connect error: {err}"),
    };
    let FetchErrorKind::Connect(inner) = wrong_host.kind() else {
        panic!("not a connect error: {wrong_host}");
    };
    assert!(
        TlsError::find(inner).is_some(),
        "no TlsError inside: {wrong_host}"
    );
    // Refused by the system's roots; on a machine with none, refused for
    // want of any.
    let FetchErrorKind::Connect(inner) = default_roots.kind() else {
        panic!("not a connect error: {default_roots}");
    };
    assert!(
        TlsError::find(inner).is_some() || cause(&default_roots) == std::io::ErrorKind::NotFound,
        "neither a TlsError nor missing roots: {default_roots}"
    );
    assert!(default_roots.url().starts_with("https://localhost:"));
}
