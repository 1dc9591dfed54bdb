//! `bind_sockets`: Tornado's rules (tornado-semantics §3.1).

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use netutil::{BindOptions, Family, bind_sockets};

use crate::util::has_ipv6;

fn addrs(listeners: &[TcpListener]) -> Vec<SocketAddr> {
    listeners.iter().map(|l| l.local_addr().unwrap()).collect()
}

#[test]
fn no_address_binds_every_interface_one_socket_per_family() {
    let listeners = bind_sockets(0, None).unwrap();
    let got = addrs(&listeners);
    assert!(
        got.iter().any(|a| a.ip().is_unspecified() && a.is_ipv4()),
        "{got:?}"
    );
    if has_ipv6() {
        assert_eq!(got.len(), 2, "0.0.0.0 and :: separately: {got:?}");
        assert!(got[1].is_ipv6() && got[1].ip().is_unspecified());
    }
    // An empty address is the same as none.
    assert_eq!(bind_sockets(0, Some("")).unwrap().len(), got.len());
}

#[test]
fn ipv6_sockets_are_v6only_so_both_families_coexist() {
    if !has_ipv6() {
        return;
    }
    let listeners = bind_sockets(0, None).unwrap();
    let port = listeners[0].local_addr().unwrap().port();
    // Both families answer on the same port, each on its own socket.
    TcpStream::connect(("127.0.0.1", port)).unwrap();
    TcpStream::connect(("::1", port)).unwrap();
    // Without V6ONLY the IPv6 wildcard socket would take the IPv4 port too.
    let v6 = listeners.iter().find(|l| l.local_addr().unwrap().is_ipv6());
    let v6 = v6.expect("an IPv6 socket");
    assert!(socket2::SockRef::from(v6).only_v6().unwrap(), "IPV6_V6ONLY");
}

#[test]
fn port_zero_gives_every_socket_the_same_port() {
    // Tornado's test_same_port_allocation, on localhost (and on every
    // interface, which has both families wherever IPv6 works).
    let all = bind_sockets(0, None).unwrap();
    let got = addrs(&all);
    assert!(
        got.iter()
            .all(|a| a.port() == got[0].port() && a.port() != 0),
        "{got:?}"
    );
    let listeners = bind_sockets(0, Some("localhost")).unwrap();
    let got = addrs(&listeners);
    assert!(!got.is_empty());
    assert!(
        got.iter()
            .all(|a| a.port() == got[0].port() && a.port() != 0),
        "{got:?}"
    );
    assert!(got[0].is_ipv4(), "IPv4 first: {got:?}");
    if crate::util::localhost_has_ipv6() {
        assert_eq!(got.len(), 2, "127.0.0.1 and ::1: {got:?}");
    }
}

#[test]
fn reuse_address_lets_a_restarted_server_bind_at_once() {
    let listener = bind_sockets(0, Some("127.0.0.1")).unwrap().remove(0);
    let addr = listener.local_addr().unwrap();
    // Leave a connection in TIME_WAIT on the server side.
    let client = TcpStream::connect(addr).unwrap();
    let (server_side, _) = listener.accept().unwrap();
    drop(server_side);
    drop(client);
    drop(listener);
    let again = bind_sockets(addr.port(), Some("127.0.0.1")).unwrap();
    assert_eq!(again[0].local_addr().unwrap(), addr);
}

#[test]
fn reuse_port_lets_two_sockets_share_a_port() {
    // Tornado's test_reuse_port.
    let options = BindOptions::new().reuse_port(true);
    let first = options.bind(0, Some("127.0.0.1")).unwrap();
    let port = first[0].local_addr().unwrap().port();
    let second = options.bind(port, Some("127.0.0.1")).unwrap();
    assert_eq!(second[0].local_addr().unwrap().port(), port);
    // Without it, the port is taken.
    let err = bind_sockets(port, Some("127.0.0.1")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
}

#[test]
fn family_restricts_the_sockets() {
    let v4 = BindOptions::new()
        .family(Family::Inet)
        .bind(0, None)
        .unwrap();
    assert!(addrs(&v4).iter().all(SocketAddr::is_ipv4));
    assert_eq!(v4.len(), 1);
    if has_ipv6() {
        let v6 = BindOptions::new()
            .family(Family::Inet6)
            .bind(0, None)
            .unwrap();
        assert_eq!(addrs(&v6).len(), 1);
        assert!(addrs(&v6)[0].is_ipv6());
    }
}

#[test]
fn bracketed_ipv6_literals_are_accepted() {
    if !has_ipv6() {
        return;
    }
    let listeners = bind_sockets(0, Some("[::1]")).unwrap();
    assert_eq!(addrs(&listeners)[0].ip().to_string(), "::1");
}

#[test]
fn sockets_are_nonblocking_and_close_on_exec() {
    let listener = bind_sockets(0, Some("127.0.0.1")).unwrap().remove(0);
    let (fl, fd) = crate::util::sys::fd_flags(std::os::fd::AsRawFd::as_raw_fd(&listener));
    assert!(fl & libc::O_NONBLOCK != 0);
    assert!(fd & libc::FD_CLOEXEC != 0);
}

#[test]
fn bind_errors_name_the_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = bind_sockets(addr.port(), Some("127.0.0.1")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

#[test]
fn resolution_errors_name_the_host() {
    let host = crate::util::UNRESOLVABLE;
    let err = bind_sockets(0, Some(host)).unwrap_err();
    assert!(err.to_string().contains(host), "{err}");
}

#[test]
fn a_failed_bind_closes_the_sockets_already_bound() {
    // Hold [::]:P on IPv6 only; bind_sockets(P, None) binds 0.0.0.0:P
    // first, then fails on [::]:P and must close the IPv4 socket.
    if !has_ipv6() {
        return;
    }
    // A port whose IPv4 side is free right now (another program or test
    // may hold the IPv4 side of the first ones tried).
    let (_blocker, port) = (0..20)
        .find_map(|_| {
            let blocker = BindOptions::new()
                .family(Family::Inet6)
                .bind(0, None)
                .unwrap();
            let port = blocker[0].local_addr().unwrap().port();
            TcpListener::bind(("0.0.0.0", port))
                .ok()
                .map(|_probe| (blocker, port))
        })
        .expect("a port free on IPv4 among 20");
    let err = bind_sockets(port, None).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    assert!(err.to_string().contains(&format!("[::]:{port}")), "{err}");
    // The IPv4 socket bound first was closed: its port is free again.
    TcpListener::bind(("0.0.0.0", port)).expect("released");
}

#[test]
fn the_default_backlog_is_at_least_128() {
    const { assert!(netutil::DEFAULT_BACKLOG >= 128) };
    // 128 clients finish their handshake before the first accept: the
    // kernel queues them only while the listen backlog has room (past it,
    // it drops their SYNs, and their connects time out).
    let listener = bind_sockets(0, Some("127.0.0.1")).unwrap().remove(0);
    let addr = listener.local_addr().unwrap();
    let _clients: Vec<TcpStream> = (0..128)
        .map(|i| {
            TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                .unwrap_or_else(|err| panic!("client {i} not queued: {err}"))
        })
        .collect();
    // And all of them are waiting in the listener's queue.
    listener.set_nonblocking(true).unwrap();
    let started = Instant::now();
    let mut queued = 0;
    while queued < 128 && started.elapsed() < Duration::from_secs(5) {
        match listener.accept() {
            Ok(_) => queued += 1,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
            Err(err) => panic!("accept: {err}"),
        }
    }
    assert_eq!(queued, 128);
}
