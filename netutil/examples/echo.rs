//! A TCP echo server on `TCPServer` and `IOStream`.
//!
//! ```text
//! cargo run --release -p netutil --example netutil_echo -- [PORT] [ADDRESS]
//! ```
//!
//! It prints where it listens (default `127.0.0.1:8888`) and how to reach
//! it, for example `nc 127.0.0.1 8888`: every line you type comes back.
//! Set `RUST_LOG=debug` to see connections come and go. Ctrl-C stops it.

use std::time::Duration;

use ioloop::IOLoop;
use netutil::{IOStream, PeerAddr, TCPServer};

/// How long a connection may stay silent before it is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Echoes what the client sends, as it arrives, until it hangs up.
async fn echo(stream: IOStream, peer: PeerAddr) {
    log::debug!("{peer}: connected");
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0; 64 * 1024];
    loop {
        let read = ioloop::timeout(IDLE_TIMEOUT, stream.read_into(&mut buf, true)).await;
        match read {
            Ok(Ok(n)) => {
                if let Err(err) = stream.write(&buf[..n]).await {
                    log::debug!("{peer}: {err}");
                    break;
                }
            }
            Ok(Err(err)) => {
                log::debug!("{peer}: {err}");
                break;
            }
            Err(_) => {
                log::debug!("{peer}: idle for {IDLE_TIMEOUT:?}, closing");
                break;
            }
        }
    }
    stream.close();
}

fn main() {
    // Errors are printed for people (`Display`), not as `Debug` structures.
    if let Err(err) = try_main() {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}

fn try_main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let mut args = std::env::args().skip(1);
    let port: u16 = match args.next() {
        Some(p) => p.parse().map_err(|e| format!("port {p:?}: {e}"))?,
        None => 8888,
    };
    let address = args.next().unwrap_or_else(|| "127.0.0.1".to_owned());

    let ioloop = IOLoop::new()?;
    let server = TCPServer::new(echo);
    let addrs = server.listen(port, Some(&address))?;
    for addr in &addrs {
        println!("listening on {addr}");
    }
    let first = addrs[0];
    println!("try: nc {} {}", first.ip(), first.port());
    ioloop.start()?;
    Ok(())
}
