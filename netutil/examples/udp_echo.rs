//! A UDP echo server on `UdpSocket`: every datagram goes back to its
//! sender.
//!
//! ```text
//! cargo run -p netutil --example udp_echo -- [--address ADDRESS] [--port PORT]
//! ```
//!
//! It prints where it listens (default `127.0.0.1:8888`) and how to reach
//! it, for example `nc -u 127.0.0.1 8888`: every line you type comes back.
//! Set `RUST_LOG=debug` to see each datagram. Ctrl-C stops it.

use std::net::{IpAddr, SocketAddr};

use ioloop::IOLoop;
use netutil::UdpSocket;

fn main() {
    // Errors are printed for people (`Display`), not as `Debug` structures.
    if let Err(err) = try_main() {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}

/// `--address` and `--port`, with their defaults.
fn parse_args() -> Result<SocketAddr, String> {
    let mut address: IpAddr = [127, 0, 0, 1].into();
    let mut port: u16 = 8888;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--address" => {
                address = value
                    .parse()
                    .map_err(|e| format!("--address {value:?}: {e}"))?;
            }
            "--port" => {
                port = value
                    .parse()
                    .map_err(|e| format!("--port {value:?}: {e}"))?;
            }
            _ => {
                return Err(format!(
                    "unknown flag {flag:?} (expected --address or --port)"
                ));
            }
        }
    }
    Ok(SocketAddr::new(address, port))
}

fn try_main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let addr = parse_args()?;
    let ioloop = IOLoop::new()?;
    let socket = UdpSocket::bind(addr)?;
    let local = socket.local_addr()?;
    println!("listening on udp {local}");
    println!("try: nc -u {} {}", local.ip(), local.port());

    let echo = socket.clone();
    socket.set_recv_callback(move |received| match received {
        Ok((datagram, from)) => {
            log::debug!("{from}: {} bytes", datagram.len());
            echo.send_to_then(datagram.to_vec(), Some(from), move |sent| {
                if let Err(err) = sent {
                    log::warn!("{from}: {err}");
                }
            });
        }
        Err(err) => log::warn!("{err}"),
    });
    ioloop.start()?;
    Ok(())
}
