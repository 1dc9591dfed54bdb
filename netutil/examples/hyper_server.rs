//! hyper on the loop: HTTP/1.1 and HTTP/2 (prior knowledge, `h2c`) on one
//! port, through `netutil::hyper`.
//!
//! ```text
//! cargo run --release -p netutil --features hyper --example hyper_server -- --port 8080
//! curl http://127.0.0.1:8080/
//! curl --http2-prior-knowledge http://127.0.0.1:8080/
//! ```
//!
//! `GET /` answers `Hello, World!`; anything else is 404. SIGTERM or
//! SIGINT stops accepting, lets each connection finish its requests in
//! flight (HTTP/2 connections get a GOAWAY), and exits with status 0.

use std::cell::Cell;
use std::convert::Infallible;
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;
use futures::FutureExt;
use futures::future::{Either, Shared};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use ioloop::IOLoop;
use netutil::{IOStream, PeerAddr, TCPServer};

/// hyper serving HTTP/1.1 and h2c on the ioloop event loop.
#[derive(Debug, Parser)]
struct Cli {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    address: String,
    /// The port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8888)]
    port: u16,
}

/// How long connections may take to finish after a shutdown signal.
const GRACE: Duration = Duration::from_secs(10);

/// The service: the same code runs on any hyper runtime.
async fn hello(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = if request.method() == Method::GET && request.uri().path() == "/" {
        Response::new(Full::new(Bytes::from_static(b"Hello, World!")))
    } else {
        let mut response = Response::new(Full::new(Bytes::from_static(b"not found\n")));
        *response.status_mut() = StatusCode::NOT_FOUND;
        response
    };
    Ok(response)
}

type ShutdownSignal = Shared<futures::channel::oneshot::Receiver<()>>;

fn main() {
    if let Err(err) = try_main() {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}

fn try_main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    let ioloop = IOLoop::new()?;
    let builder = netutil::hyper::server_builder(&ioloop);
    // Dropping the sender tells every connection to shut down gracefully.
    let (shutdown_tx, shutdown_rx) = futures::channel::oneshot::channel::<()>();
    let shutdown: ShutdownSignal = shutdown_rx.shared();
    let open = Rc::new(Cell::new(0usize));

    let (o, l) = (open.clone(), ioloop.clone());
    let server = TCPServer::new(move |stream: IOStream, peer: PeerAddr| {
        let (builder, shutdown, open, ioloop) =
            (builder.clone(), shutdown.clone(), o.clone(), l.clone());
        async move {
            open.set(open.get() + 1);
            let _ = stream.set_nodelay(true);
            let connection = builder.serve_connection(stream, hyper::service::service_fn(hello));
            futures::pin_mut!(connection);
            let result = match futures::future::select(connection.as_mut(), shutdown).await {
                Either::Left((result, _)) => result,
                Either::Right((_, _)) => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(err) = result {
                log::debug!("{peer}: {err}");
            }
            open.set(open.get() - 1);
            if open.get() == 0 && ioloop.is_running() && STOPPING.get() {
                ioloop.stop();
            }
        }
    });
    let addrs = server.listen(cli.port, Some(&cli.address))?;
    for addr in &addrs {
        println!("listening on http://{addr}/");
    }
    println!("try: curl http://{}/", addrs[0]);

    let shutdown_tx = Rc::new(Cell::new(Some(shutdown_tx)));
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let (server, tx, open, l) = (
            server.clone(),
            shutdown_tx.clone(),
            open.clone(),
            ioloop.clone(),
        );
        ioloop.add_signal_handler(signal, move |signum| {
            log::info!("signal {signum}: shutting down");
            STOPPING.set(true);
            server.stop();
            drop(tx.take());
            if open.get() == 0 {
                l.stop();
            } else {
                let open = open.clone();
                let l2 = l.clone();
                l.call_later(GRACE, move || {
                    log::warn!("{} connection(s) still open after {GRACE:?}", open.get());
                    l2.stop();
                });
            }
        })?;
    }
    ioloop.start()?;
    Ok(())
}

thread_local! {
    /// Set by the shutdown signal: the last connection to finish stops the loop.
    static STOPPING: Cell<bool> = const { Cell::new(false) };
}
