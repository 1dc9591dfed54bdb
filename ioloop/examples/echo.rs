//! A TCP echo server on raw, level-triggered I/O handlers.
//!
//! ```text
//! cargo run --release -p ioloop --example echo -- [PORT]
//! ```
//!
//! It prints the address it serves on; try `nc 127.0.0.1 PORT`. Set
//! `RUST_LOG=debug` to see connections come and go. Ctrl-C stops it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;

use ioloop::{Events, IOLoop};

/// One client: its socket and the bytes read but not yet written back.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    pending: Vec<u8>,
    /// The events the handler is registered for.
    interest: Events,
}

type Connections = Rc<RefCell<HashMap<RawFd, Connection>>>;

fn main() {
    // Errors are printed for people (`Display`), not as `Debug` structures.
    if let Err(err) = try_main() {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}

fn try_main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let port: u16 = match std::env::args().nth(1) {
        Some(p) => p.parse().map_err(|e| format!("invalid port {p:?}: {e}"))?,
        None => 8889,
    };
    let listener = TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;

    let ioloop = IOLoop::new()?;
    let connections: Connections = Rc::default();
    let (l, conns) = (ioloop.clone(), connections.clone());
    ioloop.add_handler(listener.as_raw_fd(), Events::READ, move |_, _| {
        accept_all(&l, &listener, &conns);
    })?;

    println!("echo server listening on {addr}");
    println!("try: nc {} {}", addr.ip(), addr.port());
    ioloop.start()?;
    Ok(())
}

/// Accepts every waiting client (level-triggered: what we leave, we get again).
fn accept_all(ioloop: &IOLoop, listener: &TcpListener, connections: &Connections) {
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                if let Err(err) = stream.set_nonblocking(true) {
                    log::warn!("{peer}: {err}");
                    continue;
                }
                let fd = stream.as_raw_fd();
                log::debug!("{peer}: connected");
                connections.borrow_mut().insert(
                    fd,
                    Connection {
                        stream,
                        peer,
                        pending: Vec::new(),
                        interest: Events::READ,
                    },
                );
                let (l, conns) = (ioloop.clone(), connections.clone());
                let registered = ioloop.add_handler(fd, Events::READ, move |fd, events| {
                    on_client_event(&l, &conns, fd, events);
                });
                if let Err(err) = registered {
                    log::warn!("{peer}: {err}");
                    connections.borrow_mut().remove(&fd);
                }
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
            Err(err) if err.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(err) => {
                // Out of descriptors, for example: let the loop call us again.
                log::warn!("accept: {err}");
                return;
            }
        }
    }
}

fn on_client_event(ioloop: &IOLoop, connections: &Connections, fd: RawFd, events: Events) {
    let mut conns = connections.borrow_mut();
    let Some(conn) = conns.get_mut(&fd) else {
        return;
    };
    let open = serve(conn, events);
    match open {
        Ok(true) => {
            // Ask for WRITE only while bytes wait to go out.
            let want = if conn.pending.is_empty() {
                Events::READ
            } else {
                Events::READ | Events::WRITE
            };
            if want != conn.interest {
                if let Err(err) = ioloop.update_handler(fd, want) {
                    log::warn!("{}: {err}", conn.peer);
                }
                conn.interest = want;
            } else {
                // Reads and writes went until WouldBlock: no re-arm needed.
                ioloop.mark_drained(fd, Events::READ | Events::WRITE);
            }
        }
        Ok(false) | Err(_) => {
            if let Err(err) = &open {
                log::debug!("{}: {err}", conn.peer);
            }
            log::debug!("{}: closed", conn.peer);
            ioloop.remove_handler(fd);
            conns.remove(&fd); // closes the socket, after remove_handler
        }
    }
}

/// Reads what is there and writes back what fits. Ok(false) at end of file.
fn serve(conn: &mut Connection, events: Events) -> io::Result<bool> {
    if events.is_error() && !events.is_readable() {
        return Ok(false);
    }
    let mut buf = [0u8; 16 * 1024];
    loop {
        match conn.stream.read(&mut buf) {
            Ok(0) => return Ok(false),
            Ok(n) => conn.pending.extend_from_slice(&buf[..n]),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
    while !conn.pending.is_empty() {
        match conn.stream.write(&conn.pending) {
            Ok(n) => {
                conn.pending.drain(..n);
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
    Ok(true)
}
