//! One hyper service, served by hyper on our loop or on tokio's
//! `current_thread` runtime: the side-by-side peer of
//! `benches/scripts/http_side_by_side.sh` for what the loop costs hyper.
//!
//! ```text
//! cargo run --release -p benches --features peers --bin hyper_peer -- --runtime ioloop --port 8080
//! cargo run --release -p benches --features peers --bin hyper_peer -- --runtime tokio --port 8080
//! ```
//!
//! Both answer every request with `Hello, World!`, over HTTP/1.1 or
//! HTTP/2 with prior knowledge (hyper-util's automatic builder), on
//! 127.0.0.1, single-threaded. The port may also come from `$PORT`.

use std::convert::Infallible;
use std::process::ExitCode;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;

/// The service both runtimes serve: the same code.
async fn hello(_: hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    Ok(hyper::Response::new(Full::new(Bytes::from_static(
        b"Hello, World!",
    ))))
}

fn main() -> ExitCode {
    let mut runtime = None;
    let mut port: Option<u16> = std::env::var("PORT").ok().and_then(|p| p.parse().ok());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runtime" => runtime = args.next(),
            "--port" => port = args.next().and_then(|p| p.parse().ok()),
            _ => {
                eprintln!("usage: hyper_peer --runtime ioloop|tokio --port N");
                return ExitCode::FAILURE;
            }
        }
    }
    let port = port.unwrap_or(8080);
    let result = match runtime.as_deref() {
        Some("ioloop") => on_ioloop(port),
        Some("tokio") => on_tokio(port),
        _ => Err("--runtime must be ioloop or tokio".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn on_ioloop(port: u16) -> Result<(), Box<dyn std::error::Error>> {
    use netutil::{IOStream, TCPServer};
    let ioloop = ioloop::IOLoop::new()?;
    let builder = netutil::hyper::server_builder(&ioloop);
    let server = TCPServer::new(move |stream: IOStream, _| {
        let builder = builder.clone();
        async move {
            let _ = stream.set_nodelay(true);
            let _ = builder.serve_connection(stream, service_fn(hello)).await;
        }
    });
    let addr = server.listen(port, Some("127.0.0.1"))?[0];
    println!("hyper on ioloop: http://{addr}/");
    ioloop.start()?;
    Ok(())
}

/// Spawns hyper's tasks with `spawn_local`, so the service need not be
/// `Send`, as on our loop.
#[derive(Clone, Copy, Debug)]
struct LocalExec;

impl<F: Future + 'static> hyper::rt::Executor<F> for LocalExec {
    fn execute(&self, future: F) {
        tokio::task::spawn_local(future);
    }
}

fn on_tokio(port: u16) -> Result<(), Box<dyn std::error::Error>> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::conn::auto;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        println!("hyper on tokio: http://{}/", listener.local_addr()?);
        let mut builder = auto::Builder::new(LocalExec);
        builder.http1().timer(TokioTimer::new());
        builder.http2().timer(TokioTimer::new());
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            let builder = builder.clone();
            tokio::task::spawn_local(async move {
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service_fn(hello))
                    .await;
            });
        }
    })
}
