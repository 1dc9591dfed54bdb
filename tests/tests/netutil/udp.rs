//! `UdpSocket`: datagrams as futures and callbacks, connected mode, typed
//! errors, and no loss under flow control.

use std::cell::RefCell;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use netutil::{UdpError, UdpOptions, UdpSocket};

use crate::util::{new_loop, run};

/// Every wait in these tests: only a bug reaches it.
const WAIT: Duration = Duration::from_secs(10);

fn loopbacks() -> Vec<SocketAddr> {
    let mut addrs = vec!["127.0.0.1:0".parse().unwrap()];
    if crate::util::has_ipv6() {
        addrs.push("[::1]:0".parse().unwrap());
    }
    addrs
}

#[test]
fn send_to_and_recv_from_round_trip_on_ipv4_and_ipv6() {
    for any in loopbacks() {
        let (reply, from, client_addr) = run(|| async move {
            let server = UdpSocket::bind(any)?;
            let client = UdpSocket::bind(any)?;
            let sent = client.send_to(b"ping", server.local_addr()?).await?;
            assert_eq!(sent, 4);
            let mut buf = [0; 64];
            let (n, from) = ioloop::timeout(WAIT, server.recv_from(&mut buf)).await??;
            server.send_to(&buf[..n], from).await?;
            let (n, _) = ioloop::timeout(WAIT, client.recv_from(&mut buf)).await??;
            Ok::<_, Box<dyn std::error::Error>>((buf[..n].to_vec(), from, client.local_addr()?))
        })
        .unwrap();
        assert_eq!(reply, b"ping");
        assert_eq!(from, client_addr, "{any}");
    }
}

#[test]
fn the_receive_callback_gets_each_datagram_and_may_answer() {
    let ioloop = new_loop();
    let server = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let server_addr = server.local_addr().unwrap();
    let echo = server.clone();
    server.set_recv_callback(move |received| {
        let (datagram, from) = received.expect("a datagram");
        echo.send_to_then(datagram.to_vec(), Some(from), |sent| {
            sent.expect("echo sent");
        });
    });
    let replies = ioloop
        .run_sync(
            || async move {
                let client = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
                let mut replies = Vec::new();
                let mut buf = [0; 16];
                for i in 0..3u8 {
                    client.send_to(&[i], server_addr).await?;
                    let (n, _) = ioloop::timeout(WAIT, client.recv_from(&mut buf)).await??;
                    replies.push(buf[..n].to_vec());
                }
                Ok::<_, Box<dyn std::error::Error>>(replies)
            },
            Some(WAIT),
        )
        .unwrap()
        .unwrap();
    assert_eq!(replies, vec![vec![0], vec![1], vec![2]]);
    server.close();
}

#[test]
fn a_connected_socket_reports_port_unreachable_as_connection_refused() {
    // A port just freed: nothing listens there, and the kernel answers
    // with ICMP port unreachable.
    let free = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = run(|| async move {
        let socket = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        socket.connect(free).unwrap();
        assert_eq!(socket.peer_addr(), Some(free));
        socket
            .send(b"anyone?")
            .await
            .expect("the first send succeeds");
        let mut buf = [0; 16];
        ioloop::timeout(WAIT, socket.recv(&mut buf))
            .await
            .expect("the refusal arrives")
            .unwrap_err()
    });
    assert!(
        matches!(err, UdpError::ConnectionRefused { peer: Some(peer) } if peer == free),
        "{err:?}"
    );
    assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(err.to_string().contains(&free.to_string()), "{err}");
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(matches!(
        UdpError::find(&io),
        Some(UdpError::ConnectionRefused { .. })
    ));
}

#[test]
fn a_datagram_too_large_is_message_too_large() {
    let err = run(|| async {
        let socket = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let to = socket.local_addr().unwrap();
        socket.send_to(&vec![0; 70_000], to).await.unwrap_err()
    });
    assert!(
        matches!(
            err,
            UdpError::MessageTooLarge {
                len: 70_000,
                peer: Some(_)
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.raw_os_error(), Some(libc::EMSGSIZE));
    assert!(err.to_string().contains("70000 bytes"), "{err}");
}

#[test]
fn bind_errors_name_the_address() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let _ioloop = new_loop();
    let err = UdpSocket::bind(addr).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    assert_eq!(ioloop::raw_os_error(&err), Some(libc::EADDRINUSE));
    assert_eq!(
        err.to_string().matches(&addr.to_string()).count(),
        1,
        "{err}"
    );
}

#[test]
fn reuse_port_lets_two_sockets_share_a_port() {
    let _ioloop = new_loop();
    let options = UdpOptions::new().reuse_address(true).reuse_port(true);
    let first = options.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = first.local_addr().unwrap();
    let second = options.bind(addr).unwrap();
    assert_eq!(second.local_addr().unwrap(), addr);
    assert!(
        UdpSocket::bind(addr).is_err(),
        "without the options: in use"
    );
}

#[test]
fn close_fails_waiting_receives_and_frees_the_port() {
    let (err, addr, waited) = run(|| async {
        let socket = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = socket.local_addr().unwrap();
        let closer = socket.clone();
        ioloop::IOLoop::current().add_callback(move || closer.close());
        let mut buf = [0; 8];
        let started = std::time::Instant::now();
        let err = ioloop::timeout(WAIT, socket.recv_from(&mut buf))
            .await
            .expect("the close ends the wait")
            .unwrap_err();
        (err, addr, started.elapsed())
    });
    assert!(matches!(err, UdpError::Closed { .. }), "{err:?}");
    // Woken by the close, not found closed when the time limit came.
    assert!(waited < WAIT / 2, "waited {waited:?}");
    std::net::UdpSocket::bind(addr).expect("the port is free again");
}

/// Datagrams each client sends, and how many it keeps unanswered at most.
const PER_CLIENT: u32 = 2_500;
const CLIENTS: u32 = 4;
const WINDOW: u32 = 32;

#[test]
fn ten_thousand_datagrams_from_four_clients_are_all_echoed() {
    let ioloop = new_loop();
    let server = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let server_addr = server.local_addr().unwrap();
    let received = Rc::new(RefCell::new(0u32));
    let echo = server.clone();
    let count = Rc::clone(&received);
    server.set_recv_callback(move |got| {
        let (datagram, from) = got.expect("a datagram");
        *count.borrow_mut() += 1;
        echo.send_to_then(datagram.to_vec(), Some(from), |sent| {
            sent.expect("echo sent");
        });
    });
    let echoed = ioloop
        .run_sync(
            || async move {
                let clients = (0..CLIENTS).map(|id| {
                    ioloop::IOLoop::current().spawn(async move { client(id, server_addr).await })
                });
                let mut echoed = Vec::new();
                for client in clients.collect::<Vec<_>>() {
                    echoed.push(client.await.expect("the client task")?);
                }
                Ok::<_, UdpError>(echoed)
            },
            Some(Duration::from_secs(60)),
        )
        .expect("all echoes within the time limit")
        .unwrap();
    for (id, seen) in echoed.iter().enumerate() {
        assert_eq!(seen.len(), PER_CLIENT as usize, "client {id}");
    }
    assert_eq!(*received.borrow(), CLIENTS * PER_CLIENT, "none lost");
    server.close();
}

/// Sends `PER_CLIENT` numbered datagrams with at most `WINDOW` unanswered,
/// and returns the numbers echoed back.
async fn client(id: u32, server: SocketAddr) -> Result<HashSet<u32>, UdpError> {
    let socket = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    let mut seen = HashSet::new();
    let mut next = 0;
    let mut buf = [0; 8];
    while seen.len() < PER_CLIENT as usize {
        while next < PER_CLIENT && next - (seen.len() as u32) < WINDOW {
            let mut datagram = [0; 8];
            datagram[..4].copy_from_slice(&id.to_be_bytes());
            datagram[4..].copy_from_slice(&next.to_be_bytes());
            socket.send_to(&datagram, server).await?;
            next += 1;
        }
        let (n, _) = ioloop::timeout(WAIT, socket.recv_from(&mut buf))
            .await
            .unwrap_or_else(|_| {
                panic!("client {id}: no echo within {WAIT:?}, {} seen", seen.len())
            })?;
        assert_eq!(n, 8);
        assert_eq!(buf[..4], id.to_be_bytes());
        let number = u32::from_be_bytes(buf[4..].try_into().unwrap());
        assert!(seen.insert(number), "client {id}: {number} echoed twice");
    }
    Ok(seen)
}
