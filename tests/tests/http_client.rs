//! `netutil::hyper::Client` against the HTTP/1.1 server of
//! `httpserver-example` on the same loop: keep-alive reuse, chunked
//! responses, redirects (and a timeout over them), body limits, a timeout,
//! a refused port, a name that does not resolve, a pooled connection the
//! server closed (a cancelled fetch is in `http_client_cancel`).

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use ioloop::IOLoop;
use netutil::http::{HTTPServer, HTTPServerOptions, Response as ServerResponse};
use netutil::hyper::{Client, FetchErrorKind, Request};
use netutil::{Family, ResolveFuture, Resolver, TCPClient};

/// The safety net of every wait: only a bug reaches it.
const LIMIT: Duration = Duration::from_secs(20);

/// Runs `main` on a fresh loop with `httpserver-example`'s routes served
/// on 127.0.0.1; `main` gets the server and its address.
fn with_server<F, Fut, T>(main: F) -> T
where
    F: FnOnce(HTTPServer, SocketAddr) -> Fut,
    Fut: Future<Output = T>,
{
    let _ = env_logger::builder().is_test(true).try_init();
    let ioloop = IOLoop::new().expect("loop");
    let server = HTTPServer::new(routes, HTTPServerOptions::default());
    let addr = server.listen(0, Some("127.0.0.1")).expect("listen")[0];
    let out = ioloop
        .run_sync(|| main(server.clone(), addr), Some(LIMIT))
        .expect("run_sync timed out");
    drop(server);
    ioloop.close(true).unwrap();
    out
}

/// `httpserver-example`'s routes, and `/peer`: the client's address, to
/// tell connections apart.
async fn routes(request: netutil::http::Request) -> ServerResponse {
    if request.path() == "/peer" {
        return ServerResponse::text(200, request.peer().to_string());
    }
    httpserver_example::handle(request).await
}

#[test]
fn keep_alive_reuses_one_connection() {
    let (peers, connections) = with_server(|server, addr| async move {
        let client = Client::new();
        let mut peers = Vec::new();
        for _ in 0..5 {
            let response = client
                .fetch(Request::get(format!("http://{addr}/peer")))
                .await
                .expect("fetch");
            assert_eq!(response.status(), 200);
            peers.push(String::from_utf8_lossy(response.body()).into_owned());
        }
        (peers, server.connections())
    });
    assert!(
        peers.iter().all(|p| *p == peers[0]),
        "several connections: {peers:?}"
    );
    assert_eq!(connections, 1, "five fetches on one connection");
}

#[test]
fn chunked_response_is_reassembled() {
    let (response, connections) = with_server(|server, addr| async move {
        let client = Client::new();
        let url = format!("http://{addr}/stream?chunks=2000");
        let response = client.fetch(Request::get(url)).await.expect("fetch");
        // The connection survives a chunked body.
        client
            .fetch(Request::get(format!("http://{addr}/")))
            .await
            .expect("second fetch");
        (response, server.connections())
    });
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("transfer-encoding")
            .map(|v| v.as_bytes()),
        Some(&b"chunked"[..])
    );
    let expected: String = (1..=2000).map(|k| format!("chunk {k}\n")).collect();
    assert!(
        response.body() == expected.as_bytes(),
        "chunked body differs"
    );
    assert_eq!(connections, 1);
}

#[test]
fn post_body_and_body_limit() {
    let (echo, too_large) = with_server(|_, addr| async move {
        let client = Client::new();
        let body = vec![b'x'; 100_000];
        let echo = client
            .fetch(Request::post(format!("http://{addr}/echo"), body))
            .await
            .expect("echo");
        let too_large = client
            .fetch(Request::get(format!("http://{addr}/stream?chunks=2000")).max_body_size(1000))
            .await
            .expect_err("over the limit");
        (echo, too_large)
    });
    assert_eq!(echo.body().len(), 100_000);
    assert!(
        matches!(too_large.kind(), FetchErrorKind::BodyTooLarge(1000)),
        "{too_large}"
    );
    assert!(
        too_large.to_string().contains("/stream?chunks=2000"),
        "{too_large}"
    );
}

/// A fetch that timed out gave up no sooner than its `timeout`, and well
/// before the 5 s that would mean it waited for something else.
fn assert_gave_up_in_time(elapsed: Duration, timeout: Duration) {
    assert!(elapsed >= timeout, "gave up after {elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(5),
        "gave up only after {elapsed:?}"
    );
}

#[test]
fn timeout_is_an_error_naming_the_url() {
    const TIMEOUT: Duration = Duration::from_millis(200);
    let (err, elapsed) = with_server(|_, addr| async move {
        let start = Instant::now();
        let err = Client::new()
            .fetch(Request::get(format!("http://{addr}/delay?ms=10000")).timeout(TIMEOUT))
            .await
            .expect_err("times out");
        (err, start.elapsed())
    });
    assert!(err.is_timeout(), "{err}");
    assert!(err.to_string().contains("/delay?ms=10000"), "{err}");
    assert_gave_up_in_time(elapsed, TIMEOUT);
}

#[test]
fn refused_port_is_a_connect_error() {
    let port = {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/");
    let u = url.clone();
    let err = with_server(|_, _| async move { Client::new().fetch(Request::get(u)).await })
        .expect_err("refused");
    assert!(err.is_connect(), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&url) && message.contains("refused"),
        "{message}"
    );
}

/// A resolver that knows no names (so the test sends no DNS query).
struct NoNames;

impl Resolver for NoNames {
    fn resolve(&self, host: &str, _port: u16, _family: Family) -> ResolveFuture {
        let err = io::Error::new(
            io::ErrorKind::NotFound,
            format!("resolve {host}: no such name"),
        );
        Box::pin(std::future::ready(Err(err)))
    }
}

#[test]
fn unresolvable_name_is_a_connect_error() {
    let err = with_server(|_, _| async move {
        Client::with_tcp_client(TCPClient::with_resolver(NoNames))
            .fetch(Request::get("http://nowhere.test:8080/x"))
            .await
    })
    .expect_err("no such name");
    assert!(err.is_connect(), "{err}");
    assert!(
        err.to_string().contains("http://nowhere.test:8080/x"),
        "{err}"
    );
    assert!(err.to_string().contains("no such name"), "{err}");
}

#[test]
fn bad_urls_and_unsupported_schemes() {
    let errors = with_server(|_, _| async move {
        let client = Client::new();
        let mut errors = Vec::new();
        for url in ["not a url", "/relative", "ftp://h/"] {
            errors.push(client.fetch(Request::get(url)).await.expect_err(url));
        }
        errors
    });
    assert!(matches!(errors[0].kind(), FetchErrorKind::BadUrl(_)));
    assert!(matches!(errors[1].kind(), FetchErrorKind::BadUrl(_)));
    assert_eq!(
        errors[2].to_string(),
        "GET ftp://h/: ftp is not supported by this build"
    );
    assert!(matches!(
        errors[2].kind(),
        FetchErrorKind::UnsupportedScheme(_)
    ));
}

/// A server on the current thread's loop where `{prefix}N` redirects to
/// `{prefix}N-1` and `{prefix}0` answers `arrived`, each after `delay`.
fn redirect_chain(prefix: &'static str, delay: Duration) -> (HTTPServer, SocketAddr) {
    let server = HTTPServer::new(
        move |request: netutil::http::Request| async move {
            let n: u32 = request
                .path()
                .trim_start_matches(prefix)
                .parse()
                .unwrap_or(0);
            if !delay.is_zero() {
                IOLoop::current().sleep(delay).await;
            }
            if n == 0 {
                ServerResponse::text(200, "arrived")
            } else {
                ServerResponse::text(302, "")
                    .with_header("Location", format!("{prefix}{}", n - 1))
                    .expect("a valid header")
            }
        },
        HTTPServerOptions::default(),
    );
    let addr = server.listen(0, Some("127.0.0.1")).expect("listen")[0];
    (server, addr)
}

#[test]
fn redirects_are_off_by_default_and_followed_on_request() {
    let ioloop = IOLoop::new().expect("loop");
    let (_server, addr) = redirect_chain("/hop/", Duration::ZERO);
    let (unfollowed, followed, too_many) = ioloop
        .run_sync(
            || async move {
                let client = Client::new();
                let url = format!("http://{addr}/hop/3");
                let unfollowed = client.fetch(Request::get(&url)).await.expect("302");
                let followed = client
                    .fetch(Request::get(&url).follow_redirects(3))
                    .await
                    .expect("followed");
                let too_many = client
                    .fetch(Request::get(&url).follow_redirects(2))
                    .await
                    .expect_err("too many");
                (unfollowed, followed, too_many)
            },
            Some(LIMIT),
        )
        .expect("run_sync");
    assert_eq!(unfollowed.status(), 302);
    assert_eq!(followed.status(), 200);
    assert_eq!(followed.body(), b"arrived");
    assert!(followed.url().ends_with("/hop/0"), "{}", followed.url());
    assert!(
        matches!(too_many.kind(), FetchErrorKind::TooManyRedirects(2)),
        "{too_many}"
    );
}

/// A port nothing listens on.
fn refused_url() -> String {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    format!("http://{}/", listener.local_addr().unwrap())
}

#[test]
fn concurrent_timeouts_expire_each_at_its_own_deadline() {
    const SHORT: Duration = Duration::from_millis(300);
    const LONG: Duration = Duration::from_secs(3);
    let (quick, outcomes) = with_server(|_, addr| async move {
        let client = Client::new();
        // A fetch with the default timeout first: a later, shorter
        // timeout must not wait for the earlier, longer one.
        let quick = client.fetch(Request::get(format!("http://{addr}/"))).await;
        let slow = format!("http://{addr}/delay?ms=10000");
        let start = Instant::now();
        let ioloop = IOLoop::current();
        let spawn = |limit: Duration| {
            let (client, url) = (client.clone(), slow.clone());
            ioloop.spawn(async move {
                let err = client
                    .fetch(Request::get(url).timeout(limit))
                    .await
                    .expect_err("times out");
                (limit, err.is_timeout(), start.elapsed())
            })
        };
        let long = spawn(LONG);
        let short = spawn(SHORT);
        let short = short.await.expect("short fetch");
        let long = long.await.expect("long fetch");
        (quick.map(|r| r.status()), [short, long])
    });
    assert_eq!(quick.expect("quick fetch"), 200);
    for (limit, timed_out, elapsed) in outcomes {
        assert!(timed_out, "the {limit:?} fetch failed otherwise");
        assert!(
            elapsed >= limit,
            "the {limit:?} fetch gave up after {elapsed:?}"
        );
    }
    let (_, _, short_elapsed) = outcomes[0];
    assert!(
        short_elapsed < LONG - Duration::from_millis(500),
        "the {SHORT:?} timeout waited for the {LONG:?} one: {short_elapsed:?}"
    );
}

/// `client` fetches [`refused_url`] on `ioloop`.
fn fetch_refused(
    ioloop: &IOLoop,
    client: &Client,
) -> Result<netutil::hyper::Response, netutil::hyper::FetchError> {
    let c = client.clone();
    ioloop
        .run_sync(
            || async move { c.fetch(Request::get(refused_url())).await },
            Some(LIMIT),
        )
        .expect("run_sync")
}

#[test]
fn a_client_keeps_no_loop_running_after_its_fetches() {
    let ioloop = IOLoop::new().expect("loop");
    let client = Client::new();
    let refused = fetch_refused(&ioloop, &client);
    assert!(refused.expect_err("refused").is_connect());
    // The fetch's 20 s timeout is still armed for the client, but it is
    // not a reason to keep running.
    let start = Instant::now();
    ioloop.run().expect("run");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "run() waited {:?} for the client's timeout",
        start.elapsed()
    );
    drop(client);
    ioloop.close(true).unwrap();
}

#[test]
fn a_client_used_on_a_second_loop_still_times_out() {
    const TIMEOUT: Duration = Duration::from_millis(300);
    let first = IOLoop::new().expect("loop");
    let client = Client::new();
    let refused = fetch_refused(&first, &client);
    assert!(refused.is_err());
    // The first loop is still alive; the second one runs the next fetch.
    let (err, elapsed) = with_server(|_, addr| async move {
        let start = Instant::now();
        let err = client
            .fetch(Request::get(format!("http://{addr}/delay?ms=10000")).timeout(TIMEOUT))
            .await
            .expect_err("times out");
        (err, start.elapsed())
    });
    assert!(err.is_timeout(), "{err}");
    assert_gave_up_in_time(elapsed, TIMEOUT);
    first.close(true).unwrap();
}

#[test]
fn a_timeout_covers_the_redirects_too() {
    // Each hop answers after 600 ms, well within the timeout; the two of
    // them do not fit in it.
    const TIMEOUT: Duration = Duration::from_millis(1000);
    let ioloop = IOLoop::new().expect("loop");
    let (_server, addr) = redirect_chain("/slow/", Duration::from_millis(600));
    let first = format!("http://{addr}/slow/1");
    let (err, elapsed) = ioloop
        .run_sync(
            || async {
                let start = Instant::now();
                let err = Client::new()
                    .fetch(Request::get(&first).follow_redirects(1).timeout(TIMEOUT))
                    .await
                    .expect_err("times out");
                (err, start.elapsed())
            },
            Some(LIMIT),
        )
        .expect("run_sync");
    assert!(err.is_timeout(), "{err}");
    // It timed out on the redirect, not on the first request.
    assert!(err.url().ends_with("/slow/0"), "{err}");
    assert_gave_up_in_time(elapsed, TIMEOUT);
}

#[test]
fn a_pooled_connection_closed_without_an_answer_is_retried_on_a_new_one() {
    use std::io::{Read, Write};
    // A server that answers the first request, closes its connection on
    // the second without a word, and answers on a second connection.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = std::thread::spawn(move || -> io::Result<usize> {
        let read_request = |stream: &mut std::net::TcpStream| -> io::Result<()> {
            stream.set_read_timeout(Some(LIMIT))?;
            let mut seen = Vec::new();
            let mut buf = [0u8; 1024];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf)?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                seen.extend_from_slice(&buf[..n]);
            }
            Ok(())
        };
        let (mut first, _) = listener.accept()?;
        read_request(&mut first)?;
        first.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")?;
        read_request(&mut first)?;
        drop(first);
        let (mut second, _) = listener.accept()?;
        read_request(&mut second)?;
        second.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond")?;
        Ok(2)
    });
    let ioloop = IOLoop::new().expect("loop");
    let url = format!("http://{addr}/");
    let (a, b) = ioloop
        .run_sync(
            || async {
                let client = Client::new();
                let a = client.fetch(Request::get(&url)).await.expect("first");
                assert_eq!(client.idle_connections(), 1);
                let b = client.fetch(Request::get(&url)).await;
                (a, b)
            },
            Some(LIMIT),
        )
        .expect("run_sync");
    assert_eq!(a.body(), b"first");
    let b = b.expect("retried on a new connection");
    assert_eq!(b.body(), b"second");
    assert_eq!(server.join().expect("server thread").expect("server"), 2);
}
