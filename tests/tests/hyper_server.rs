//! hyper on the loop (`netutil::hyper`): a hyper service answered by
//! `curl` over HTTP/1.1 and HTTP/2 (prior knowledge), by hyper's own
//! HTTP/2 client with many streams on one connection, and by our client;
//! hyper's header read timeout on the loop's timer.

use std::cell::Cell;
use std::convert::Infallible;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use ioloop::{IOLoop, LoopThread};
use netutil::hyper::{Client, LoopExecutor, Request, ServerBuilder};
use netutil::{IOStream, TCPServer};

/// The safety net of every wait: only a bug reaches it.
const LIMIT: Duration = Duration::from_secs(20);

async fn hello(
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let body = match request.uri().path() {
        "/" => Bytes::from_static(b"Hello, World!"),
        path => Bytes::from(format!("path {path}")),
    };
    Ok(hyper::Response::new(Full::new(body)))
}

/// A hyper server on the current loop; counts the connections it accepts.
fn serve(ioloop: &IOLoop, accepted: Rc<Cell<usize>>) -> SocketAddr {
    serve_with(netutil::hyper::server_builder(ioloop), accepted)
}

fn serve_with(builder: ServerBuilder, accepted: Rc<Cell<usize>>) -> SocketAddr {
    let server = TCPServer::new(move |stream: IOStream, _| {
        accepted.set(accepted.get() + 1);
        let builder = builder.clone();
        async move {
            let _ = builder
                .serve_connection(stream, hyper::service::service_fn(hello))
                .await;
        }
    });
    let addr = server.listen(0, Some("127.0.0.1")).expect("listen")[0];
    // The server lives as long as the loop.
    std::mem::forget(server);
    addr
}

/// A hyper server on a loop thread of its own, for blocking clients.
fn serve_on_thread() -> (LoopThread, SocketAddr) {
    let (tx, rx) = mpsc::channel();
    let thread = LoopThread::spawn_with("hyper-server", move |ioloop| {
        tx.send(serve(ioloop, Rc::new(Cell::new(0)))).unwrap();
    })
    .expect("loop thread");
    (thread, rx.recv_timeout(LIMIT).expect("server address"))
}

fn curl(args: &[&str], url: &str) -> (String, String) {
    let output = Command::new("curl")
        .args(["-sS", "-m", "10", "-w", "\n%{http_version}"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl (is it installed?)");
    assert!(
        output.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let (body, version) = text.rsplit_once('\n').expect("version line");
    (body.to_owned(), version.to_owned())
}

#[test]
fn curl_over_http11_and_h2c() {
    let (thread, addr) = serve_on_thread();
    let url = format!("http://{addr}/");
    assert_eq!(
        curl(&["--http1.1"], &url),
        ("Hello, World!".to_owned(), "1.1".to_owned())
    );
    assert_eq!(
        curl(&["--http2-prior-knowledge"], &url),
        ("Hello, World!".to_owned(), "2".to_owned())
    );
    thread.stop().expect("stop");
}

/// Sixteen requests at once on one HTTP/2 connection, from hyper's client
/// on the same loop.
#[test]
fn h2_streams_multiplexed_on_one_connection() {
    let ioloop = IOLoop::new().unwrap();
    let accepted = Rc::new(Cell::new(0));
    let addr = serve(&ioloop, accepted.clone());
    let l = ioloop.clone();
    let bodies = ioloop
        .run_sync(
            || async move {
                let stream = IOStream::connect(addr).await?;
                let (sender, connection) =
                    hyper::client::conn::http2::handshake(LoopExecutor::new(&l), stream)
                        .await
                        .map_err(std::io::Error::other)?;
                l.spawn(connection).detach();
                let requests = (0..16).map(|i| {
                    let mut sender = sender.clone();
                    async move {
                        let request = hyper::Request::get(format!("http://{addr}/{i}"))
                            .body(Full::new(Bytes::new()))
                            .unwrap();
                        let response = sender.send_request(request).await?;
                        assert_eq!(response.version(), hyper::Version::HTTP_2);
                        let body = response.into_body().collect().await?.to_bytes();
                        Ok::<_, hyper::Error>(String::from_utf8_lossy(&body).into_owned())
                    }
                });
                futures::future::try_join_all(requests)
                    .await
                    .map_err(std::io::Error::other)
            },
            Some(LIMIT),
        )
        .expect("run_sync")
        .expect("requests");
    let expected: Vec<String> = (0..16).map(|i| format!("path /{i}")).collect();
    assert_eq!(bodies, expected);
    assert_eq!(accepted.get(), 1, "one connection");
}

/// Our client, three fetches: one connection, kept alive.
#[test]
fn client_fetches_from_hyper_on_the_loop() {
    let ioloop = IOLoop::new().unwrap();
    let accepted = Rc::new(Cell::new(0));
    let addr = serve(&ioloop, accepted.clone());
    let (bodies, idle) = ioloop
        .run_sync(
            || async move {
                let client = Client::new();
                let mut bodies = Vec::new();
                for path in ["/", "/a", "/b"] {
                    let response = client
                        .fetch(Request::get(format!("http://{addr}{path}")))
                        .await?;
                    assert_eq!(response.status(), 200);
                    bodies.push(String::from_utf8_lossy(response.body()).into_owned());
                }
                Ok::<_, netutil::hyper::FetchError>((bodies, client.idle_connections()))
            },
            Some(LIMIT),
        )
        .expect("run_sync")
        .expect("fetches");
    assert_eq!(bodies, ["Hello, World!", "path /a", "path /b"]);
    assert_eq!(idle, 1);
    assert_eq!(accepted.get(), 1, "the connection was reused");
}

/// hyper's header read timeout runs on `LoopTimer`: a request head that
/// never completes is cut off after the timeout, not before.
#[test]
fn header_read_timeout_fires_on_the_loop_timer() {
    const TIMEOUT: Duration = Duration::from_millis(300);
    let (tx, rx) = mpsc::channel();
    let thread = LoopThread::spawn_with("hyper-timeout", move |ioloop| {
        let mut builder = netutil::hyper::server_builder(ioloop);
        builder.http1().header_read_timeout(TIMEOUT);
        tx.send(serve_with(builder, Rc::new(Cell::new(0)))).unwrap();
    })
    .expect("loop thread");
    let addr = rx.recv_timeout(LIMIT).expect("server address");
    let mut client = TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(LIMIT)).unwrap();
    let start = Instant::now();
    client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let mut rest = Vec::new();
    let _ = client.read_to_end(&mut rest);
    let elapsed = start.elapsed();
    assert!(
        elapsed >= TIMEOUT,
        "closed after {elapsed:?}, before the timeout"
    );
    assert!(
        elapsed < Duration::from_secs(10),
        "closed only after {elapsed:?}"
    );
    thread.stop().expect("stop");
}

/// A `LoopTimer` sleep polled on another thread (hyper requires sleeps to
/// be `Send`) is registered through the loop's remote handle and fires
/// after its duration, not before.
#[test]
fn loop_timer_sleep_polled_from_another_thread() {
    use hyper::rt::Timer;
    const DELAY: Duration = Duration::from_millis(200);
    let (tx, rx) = mpsc::channel();
    let thread = LoopThread::spawn_with("hyper-timer", move |ioloop| {
        tx.send(netutil::hyper::LoopTimer::new(ioloop)).unwrap();
    })
    .expect("loop thread");
    let timer = rx.recv_timeout(LIMIT).expect("timer");
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let start = Instant::now();
        futures::executor::block_on(timer.sleep(DELAY));
        let _ = done_tx.send(start.elapsed());
    });
    let elapsed = done_rx.recv_timeout(LIMIT).expect("the sleep never fired");
    assert!(elapsed >= DELAY, "fired after {elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(10),
        "fired only after {elapsed:?}"
    );
    thread.stop().expect("stop");
}
