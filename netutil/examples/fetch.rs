//! Fetches a URL with `netutil::hyper::Client` from `run_sync`, as a
//! command-line tool would (Tornado's `AsyncHTTPClient.fetch`).
//!
//! ```text
//! cargo run -p netutil --features hyper --example fetch -- http://127.0.0.1:8888/
//! cargo run -p netutil --features hyper --example fetch -- --method POST --data hi URL
//! cargo run -p netutil --features hyper --example fetch -- --cacert ca.pem https://localhost:8443/
//! ```
//!
//! Prints the status line and the body. On a connection error, a timeout
//! or a bad URL it prints one line, `error: ...`, and exits with status 1.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ioloop::IOLoop;
use netutil::hyper::{Client, Request};
use netutil::tls::ClientTls;

/// Fetch a URL over HTTP/1.1 and print the status line and body.
#[derive(Debug, Parser)]
struct Cli {
    /// The URL, http:// or https://.
    url: String,
    /// Verify https:// servers against the certificates in this PEM file
    /// instead of the system's roots.
    #[arg(long)]
    cacert: Option<std::path::PathBuf>,
    /// The request method.
    #[arg(long, short = 'X', default_value = "GET")]
    method: String,
    /// A request body.
    #[arg(long, short = 'd')]
    data: Option<String>,
    /// A request header, `Name: value` (repeatable).
    #[arg(long, short = 'H')]
    header: Vec<String>,
    /// Seconds allowed for the whole fetch.
    #[arg(long, default_value_t = 20.0)]
    timeout: f64,
    /// Follow up to this many redirects (none by default).
    #[arg(long, default_value_t = 0)]
    max_redirects: usize,
    /// Also print the response headers.
    #[arg(long, short = 'i')]
    include: bool,
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), Box<dyn std::error::Error>> {
    let method = cli
        .method
        .parse()
        .map_err(|_| format!("method {:?}: not a valid method", cli.method))?;
    let timeout = Duration::try_from_secs_f64(cli.timeout)
        .map_err(|_| format!("timeout {}: not a number of seconds", cli.timeout))?;
    let mut request = Request::new(method, &cli.url)
        .timeout(timeout)
        .follow_redirects(cli.max_redirects);
    if let Some(data) = &cli.data {
        request = request.body(data.clone());
    }
    for header in &cli.header {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| format!("header {header:?}: expected `Name: value`"))?;
        request = request.header(name.trim(), value.trim());
    }
    let mut client = Client::new();
    if let Some(path) = &cli.cacert {
        client = client.tls(ClientTls::with_ca_file(path)?);
    }
    let ioloop = IOLoop::new()?;
    // run_sync's own limit is a safety net behind the request's timeout.
    let response = ioloop.run_sync(
        || async move { client.fetch(request).await },
        Some(timeout + Duration::from_secs(5)),
    )??;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", response.status_line())?;
    if cli.include {
        for (name, value) in response.headers() {
            writeln!(out, "{name}: {}", String::from_utf8_lossy(value.as_bytes()))?;
        }
        writeln!(out)?;
    }
    out.write_all(response.body())?;
    out.flush()?;
    Ok(())
}
