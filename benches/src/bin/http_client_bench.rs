//! The HTTP client benchmark: N sequential keep-alive `GET`s of one URL,
//! by our client on the loop, by hyper's own client connection on our loop
//! or on tokio's `current_thread` runtime, or by reqwest's blocking client;
//! prints the requests per client CPU-second (every live thread of the
//! process) and per wall-clock second.
//!
//! ```text
//! cargo run --release -p benches --features peers --bin http_client_bench -- ours|tokio|hyper-ioloop|reqwest URL [N]
//! ```
//!
//! Every client checks each response (status 200, the body read to its
//! end) and reuses one connection; N is 10,000 unless given.

use std::process::ExitCode;
use std::time::{Duration, Instant};

/// CPU time of the process's live threads so far, from each thread's
/// `/proc/self/task/*/schedstat` (nanoseconds on the CPU). Taken before a
/// client is dropped, so its runtime threads are counted.
fn cpu_time() -> Duration {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let path = task.expect("task").path().join("schedstat");
        if let Ok(text) = std::fs::read_to_string(path) {
            total += text
                .split(' ')
                .next()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
        }
    }
    Duration::from_nanos(total)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(client), Some(url)) = (args.first(), args.get(1)) else {
        eprintln!("usage: http_client_bench ours|tokio|hyper-ioloop|reqwest URL [N]");
        return ExitCode::FAILURE;
    };
    let n: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let wall0 = Instant::now();
    let result = match client.as_str() {
        "ours" => ours(url, n),
        "tokio" => tokio_hyper(url, n),
        "hyper-ioloop" => ioloop_hyper(url, n),
        "reqwest" => reqwest_blocking(url, n),
        other => Err(format!("unknown client {other}").into()),
    };
    let wall = wall0.elapsed();
    match result {
        Ok(cpu) => {
            println!(
                "{client}: {n} requests, {:.0} per client CPU-second, {:.0} per second (cpu {:.3}s, wall {:.3}s)",
                n as f64 / cpu.as_secs_f64(),
                n as f64 / wall.as_secs_f64(),
                cpu.as_secs_f64(),
                wall.as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {client}: {err}");
            ExitCode::FAILURE
        }
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

// Each client returns the CPU time its requests took, measured while it
// is still alive.

fn ours(url: &str, n: usize) -> Result<Duration> {
    use netutil::hyper::{Client, Request};
    let ioloop = ioloop::IOLoop::new()?;
    ioloop.run_sync(
        || async move {
            let client = Client::new();
            let cpu0 = cpu_time();
            for _ in 0..n {
                let response = client.fetch(Request::get(url)).await?;
                if response.status() != 200 {
                    return Err(format!("status {}", response.status()).into());
                }
            }
            let cpu = cpu_time() - cpu0;
            if client.idle_connections() != 1 {
                return Err("the connection was not kept alive".into());
            }
            Ok::<Duration, Box<dyn std::error::Error>>(cpu)
        },
        Some(Duration::from_secs(600)),
    )?
}

fn tokio_hyper(url: &str, n: usize) -> Result<Duration> {
    use hyper_util::rt::TokioIo;
    let uri: hyper::Uri = url.parse()?;
    let authority = uri.authority().ok_or("no host")?.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let stream = tokio::net::TcpStream::connect(authority.as_str()).await?;
        stream.set_nodelay(true)?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        sequential_gets(&mut sender, &uri, &authority, n).await
    })
}

/// `n` sequential `GET`s of `uri` on one hyper connection, each status
/// checked and each body read; the CPU time they took. The same code for
/// hyper on tokio and hyper on our loop.
async fn sequential_gets(
    sender: &mut hyper::client::conn::http1::SendRequest<http_body_util::Empty<hyper::body::Bytes>>,
    uri: &hyper::Uri,
    authority: &hyper::http::uri::Authority,
    n: usize,
) -> Result<Duration> {
    use http_body_util::{BodyExt, Empty};
    let cpu0 = cpu_time();
    for _ in 0..n {
        sender.ready().await?;
        let request = hyper::Request::get(uri.path())
            .header(hyper::header::HOST, authority.as_str())
            .body(Empty::new())?;
        let response = sender.send_request(request).await?;
        if response.status() != 200 {
            return Err(format!("status {}", response.status()).into());
        }
        response.into_body().collect().await?;
    }
    Ok(cpu_time() - cpu0)
}

/// hyper's own client connection on our loop, driven as `tokio_hyper`
/// drives it: what the loop costs hyper, without our client's pool, URL
/// parsing and timeout.
fn ioloop_hyper(url: &str, n: usize) -> Result<Duration> {
    let uri: hyper::Uri = url.parse()?;
    let authority = uri.authority().ok_or("no host")?.clone();
    let addr: std::net::SocketAddr = authority.as_str().parse()?;
    let ioloop = ioloop::IOLoop::new()?;
    ioloop.run_sync(
        || async move {
            let stream = netutil::IOStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let (mut sender, connection) = hyper::client::conn::http1::handshake(stream).await?;
            ioloop::IOLoop::current().spawn(connection).detach();
            sequential_gets(&mut sender, &uri, &authority, n).await
        },
        Some(Duration::from_secs(600)),
    )?
}

fn reqwest_blocking(url: &str, n: usize) -> Result<Duration> {
    let client = reqwest::blocking::Client::new();
    let cpu0 = cpu_time();
    for _ in 0..n {
        let response = client.get(url).send()?;
        if response.status() != 200 {
            return Err(format!("status {}", response.status()).into());
        }
        response.bytes()?;
    }
    Ok(cpu_time() - cpu0)
}
