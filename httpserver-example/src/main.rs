//! `httpserver-example`: an HTTP/1.1 server on ioloop and netutil.
//!
//! ```text
//! cargo run --release -p httpserver-example -- --help
//! cargo run --release -p httpserver-example            # http://127.0.0.1:8888/
//! RUST_LOG=info cargo run --release -p httpserver-example   # with an access log
//! cargo run --release -p httpserver-example -- --tls-cert cert.pem --tls-key key.pem  # https://
//! ```
//!
//! SIGTERM or SIGINT stops accepting, lets requests in flight finish and
//! exits with status 0.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ioloop::IOLoop;
use netutil::http::{HTTPServer, HTTPServerOptions};
use netutil::tls::ServerTls;

/// An HTTP/1.1 server on the ioloop event loop.
///
/// Routes: GET / (Hello, World!), POST /echo (the request body),
/// GET /delay?ms=N (done, after N ms), GET /stream?chunks=N (a streamed
/// body). SIGTERM or SIGINT shuts down gracefully.
#[derive(Debug, Parser)]
#[command(name = "httpserver-example", version)]
struct Cli {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    address: String,
    /// The port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8888)]
    port: u16,
    /// Listen on this Unix-domain socket instead of TCP.
    #[arg(long, value_name = "PATH")]
    unix_socket: Option<PathBuf>,
    /// Worker processes, each with its own listening socket on Linux; more
    /// than 1 forks.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    processes: u16,
    /// The most bytes of a request line and headers (431 beyond).
    #[arg(long, default_value_t = 65536, value_name = "BYTES")]
    max_header_bytes: usize,
    /// The most bytes of a request body (413 beyond).
    #[arg(long, default_value_t = 10 * 1024 * 1024, value_name = "BYTES")]
    max_body_bytes: usize,
    /// Seconds a request head may take to arrive (408 after).
    #[arg(long, default_value_t = 10.0, value_name = "SECS", value_parser = positive_secs)]
    header_timeout: f64,
    /// Seconds a keep-alive connection may stay idle, or a body or
    /// response make no progress (closed after).
    #[arg(long, default_value_t = 60.0, value_name = "SECS", value_parser = positive_secs)]
    idle_timeout: f64,
    /// The most connections open at once (the oldest idle one is closed
    /// to make room; 503 if none is idle).
    #[arg(long, default_value_t = 16_384, value_name = "N")]
    max_connections: usize,
    /// Serve HTTPS with the certificate chain in this PEM file (the
    /// server's certificate first); needs --tls-key.
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert's certificate.
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Seconds a TLS handshake may take (the connection is closed after).
    #[arg(long, default_value_t = 10.0, value_name = "SECS", value_parser = positive_secs)]
    tls_handshake_timeout: f64,
}

fn positive_secs(text: &str) -> Result<f64, String> {
    let secs: f64 = text.parse().map_err(|e| format!("{text:?}: {e}"))?;
    if secs.is_finite() && secs > 0.0 && secs <= 86_400.0 {
        Ok(secs)
    } else {
        Err(format!(
            "{text:?}: must be a number of seconds above 0, at most 86400"
        ))
    }
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    // Certificates are checked before anything listens: a bad path or a
    // key that does not match is a usage error.
    let tls = match (&cli.tls_cert, &cli.tls_key) {
        (Some(cert), Some(key)) => match ServerTls::from_pem_files(cert, key) {
            Ok(tls) => Some(
                tls.alpn_protocols([b"http/1.1"])
                    .handshake_timeout(Duration::from_secs_f64(cli.tls_handshake_timeout)),
            ),
            Err(err) => {
                eprintln!("httpserver-example: tls: {err}");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    match run(cli, tls) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("httpserver-example: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli, tls: Option<ServerTls>) -> Result<(), Box<dyn std::error::Error>> {
    let options = HTTPServerOptions {
        max_header_bytes: cli.max_header_bytes,
        max_body_bytes: cli.max_body_bytes,
        header_timeout: Duration::from_secs_f64(cli.header_timeout),
        idle_timeout: Duration::from_secs_f64(cli.idle_timeout),
        max_connections: cli.max_connections,
        ..HTTPServerOptions::default()
    };
    let processes = usize::from(cli.processes);
    // The server touches no loop until it starts, so it may be made before
    // the workers fork; each worker then creates its own loop.
    let server = HTTPServer::new(httpserver_example::handle, options);
    let scheme = if tls.is_some() { "https" } else { "http" };
    server.set_tls(tls);
    // One line per listening socket, in one write so a reader sees them
    // whole; printed before forking, once.
    let mut banner = String::new();
    if let Some(path) = &cli.unix_socket {
        let listener = netutil::bind_unix_socket(path, 0o600, netutil::DEFAULT_BACKLOG)
            .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
        banner.push_str(&format!("listening on unix:{}\n", path.display()));
        print!("{banner}");
        if processes > 1 {
            let id = netutil::fork_processes(processes, None)?;
            log::info!("worker {id} (pid {}) serving", std::process::id());
        }
        server.add_sockets([listener])?;
    } else {
        let cannot = |e| format!("cannot listen on {}:{}: {e}", cli.address, cli.port);
        // Workers each get a socket of their own on the port (bind sets
        // `SO_REUSEPORT` for that); a single process listens plainly, so a
        // port already in use is an error.
        let addrs = if processes > 1 {
            server.bind(cli.port, Some(&cli.address)).map_err(cannot)?
        } else {
            server
                .listen(cli.port, Some(&cli.address))
                .map_err(cannot)?
        };
        for addr in &addrs {
            banner.push_str(&format!("listening on {scheme}://{addr}\n"));
        }
        print!("{banner}");
        if processes > 1 {
            // Returns in each worker; the parent supervises and exits.
            server.start(processes)?;
            log::info!("worker (pid {}) serving", std::process::id());
        }
    }
    let ioloop = IOLoop::current();
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        let (s, l) = (server.clone(), ioloop.clone());
        ioloop.add_signal_handler(signal, move |signum| {
            log::info!("signal {signum}: shutting down");
            let (shutdown, l2) = (s.shutdown(), l.clone());
            l.spawn(async move {
                let left = shutdown.await;
                if left > 0 {
                    log::warn!("{left} connection(s) still open after the grace period");
                }
                l2.stop();
            })
            .detach();
        })?;
    }
    ioloop.start()?;
    if let Some(path) = &cli.unix_socket {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}
