//! `TCPServer` (tornado-semantics §3.8).

use std::cell::Cell;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::time::Duration;

use ioloop::IOLoop;
use netutil::{IOStream, PeerAddr, TCPServer};

use crate::util::{loopbacks, new_loop};

/// An echo server: each line back, until end of file.
fn echo_server() -> TCPServer {
    TCPServer::new(|stream: IOStream, _: PeerAddr| async move {
        while let Ok(line) = stream.read_until(b"\n", Some(1 << 16)).await {
            if stream.write(&line).await.is_err() {
                break;
            }
        }
    })
}

/// Runs a blocking client on a thread while the loop runs; stops the loop
/// when the client is done, and returns its result.
fn with_client<T: Send + 'static>(
    ioloop: &IOLoop,
    client: impl FnOnce() -> T + Send + 'static,
) -> T {
    let remote = ioloop.remote();
    let thread = std::thread::spawn(move || {
        let out = client();
        remote.stop();
        out
    });
    crate::util::start(ioloop);
    thread.join().expect("client thread")
}

fn talk(addr: SocketAddr, line: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(line).unwrap();
    let mut out = vec![0; line.len()];
    s.read_exact(&mut out).unwrap();
    out
}

#[test]
fn listen_serves_on_both_loopbacks() {
    for host in loopbacks() {
        let ioloop = new_loop();
        let server = echo_server();
        let addrs = server.listen(0, Some(host)).unwrap();
        assert_eq!(addrs.len(), 1);
        let addr = addrs[0];
        let got = with_client(&ioloop, move || talk(addr, b"hello\n"));
        assert_eq!(got, b"hello\n");
        server.stop();
    }
}

#[test]
fn add_sockets_and_many_concurrent_connections() {
    let ioloop = new_loop();
    let server = echo_server();
    let listeners = netutil::bind_sockets(0, Some("127.0.0.1")).unwrap();
    let addr = listeners[0].local_addr().unwrap();
    server.add_sockets(listeners).unwrap();
    let ok = with_client(&ioloop, move || {
        let clients: Vec<_> = (0..50).map(|_| TcpStream::connect(addr).unwrap()).collect();
        for (i, mut c) in clients.iter().enumerate() {
            c.write_all(format!("client {i}\n").as_bytes()).unwrap();
        }
        clients.iter().enumerate().all(|(i, mut c)| {
            let want = format!("client {i}\n");
            let mut got = vec![0; want.len()];
            c.read_exact(&mut got).unwrap();
            got == want.as_bytes()
        })
    });
    assert!(ok);
    server.stop();
}

#[test]
fn stop_is_idempotent_and_lets_open_connections_finish() {
    let ioloop = new_loop();
    let server = echo_server();
    let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    thread_local! {
        static SERVER: std::cell::RefCell<Option<TCPServer>> = const { std::cell::RefCell::new(None) };
    }
    SERVER.with(|s| *s.borrow_mut() = Some(server.clone()));
    let remote = ioloop.remote();
    let (stopped_tx, stopped_rx) = std::sync::mpsc::channel();
    let result = with_client(&ioloop, move || {
        let mut open = TcpStream::connect(addr).unwrap();
        open.write_all(b"before\n").unwrap();
        let mut buf = [0; 7];
        open.read_exact(&mut buf).unwrap();
        remote.add_callback(move || {
            SERVER.with(|s| {
                let server = s.borrow_mut().take().unwrap();
                server.stop();
                server.stop();
            });
            stopped_tx.send(()).unwrap();
        });
        stopped_rx.recv().unwrap();
        // The open connection still works; new ones are refused.
        open.write_all(b"after\n").unwrap();
        let mut buf2 = [0; 6];
        open.read_exact(&mut buf2).unwrap();
        let refused = TcpStream::connect(addr).map(drop).map_err(|e| e.kind());
        (buf2, refused)
    });
    assert_eq!(&result.0, b"after\n");
    assert_eq!(result.1, Err(ErrorKind::ConnectionRefused));
    assert!(server.is_stopped());
}

#[test]
fn a_server_stopped_from_its_own_handler_accepts_nothing_more() {
    // Tornado's test_stop_in_callback: clients queue, the first handler
    // stops the server; no accept error, no panic.
    crate::util::capture_logs();
    let ioloop = new_loop();
    let handled = Rc::new(Cell::new(0));
    let server_cell: Rc<std::cell::RefCell<Option<TCPServer>>> = Rc::default();
    let (h, sc) = (handled.clone(), server_cell.clone());
    let server = TCPServer::new(move |stream: IOStream, _| {
        h.set(h.get() + 1);
        if let Some(server) = sc.borrow().as_ref() {
            server.stop();
        }
        async move {
            let _ = stream.write(b"bye\n").await;
        }
    });
    *server_cell.borrow_mut() = Some(server.clone());
    let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    let clients: Vec<_> = (0..5).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let l = ioloop.clone();
    ioloop.call_later(Duration::from_millis(100), move || l.stop());
    crate::util::start(&ioloop);
    assert!(handled.get() >= 1);
    assert!(server.is_stopped());
    assert!(TcpStream::connect(addr).is_err(), "the listener is closed");
    let errors = crate::util::logged(log::Level::Warn);
    assert!(errors.is_empty(), "{errors:?}");
    drop(clients);
    drop(server_cell.borrow_mut().take());
}

#[test]
fn a_panicking_handler_hurts_no_other_connection() {
    let ioloop = new_loop();
    ioloop.set_exception_handler(|_| {}); // keep the test output quiet
    let server = TCPServer::new(|stream: IOStream, _| async move {
        let line = stream.read_until(b"\n", Some(100)).await.unwrap();
        if line == b"panic\n" {
            panic!("handler panics on purpose");
        }
        stream.write(&line).await.unwrap();
    });
    let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    let got = with_client(&ioloop, move || {
        let mut bad = TcpStream::connect(addr).unwrap();
        let mut good = TcpStream::connect(addr).unwrap();
        bad.write_all(b"panic\n").unwrap();
        let mut buf = [0; 1];
        // The panicking task dropped its stream: end of file.
        assert_eq!(bad.read(&mut buf).unwrap(), 0);
        good.write_all(b"fine\n").unwrap();
        let mut out = [0; 5];
        good.read_exact(&mut out).unwrap();
        out
    });
    assert_eq!(&got, b"fine\n");
    server.stop();
}

#[test]
fn unix_socket_servers_work() {
    let dir = crate::util::TempDir::new("server-unix");
    let path = dir.0.join("srv.sock");
    let ioloop = new_loop();
    let server = TCPServer::new(|stream: IOStream, address: PeerAddr| async move {
        assert!(address.as_inet().is_none());
        let _ = stream.write(b"unix\n").await;
    });
    server
        .add_socket(netutil::bind_unix_socket(&path, 0o600, 16).unwrap())
        .unwrap();
    let p = path.clone();
    let got = with_client(&ioloop, move || {
        let mut s = std::os::unix::net::UnixStream::connect(p).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    });
    assert_eq!(got, "unix\n");
    server.stop();
}

#[test]
fn bind_then_start_one_process() {
    let ioloop = new_loop();
    let server = echo_server();
    let addr = server.bind(0, Some("127.0.0.1")).unwrap()[0];
    server.start(1, None).unwrap();
    let got = with_client(&ioloop, move || talk(addr, b"started\n"));
    assert_eq!(got, b"started\n");
    server.stop();
    assert!(
        server
            .add_socket(
                netutil::bind_sockets(0, Some("127.0.0.1"))
                    .unwrap()
                    .remove(0)
            )
            .is_err()
    );
}
