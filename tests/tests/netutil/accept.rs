//! `add_accept_handler` (tornado-semantics §3.3; user-reported failures
//! 4, 5 and 16).

use std::cell::RefCell;
use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use netutil::{AcceptOptions, add_accept_handler, bind_sockets};

use crate::util::{capture_logs, logged, new_loop};

fn listener() -> TcpListener {
    bind_sockets(0, Some("127.0.0.1")).unwrap().remove(0)
}

#[test]
fn accepted_connections_are_nonblocking_and_close_on_exec() {
    let ioloop = new_loop();
    let listener = listener();
    let addr = listener.local_addr().unwrap();
    let seen = Rc::new(RefCell::new(None));
    let (s, l) = (seen.clone(), ioloop.clone());
    let handle = add_accept_handler(listener, move |conn: TcpStream, peer| {
        *s.borrow_mut() = Some((crate::util::sys::fd_flags(conn.as_raw_fd()), peer));
        l.stop();
    })
    .unwrap();
    let client = TcpStream::connect(addr).unwrap();
    crate::util::start(&ioloop);
    let ((fl, fd), peer) = seen.borrow_mut().take().expect("accepted");
    assert!(fl & libc::O_NONBLOCK != 0, "non-blocking");
    assert!(fd & libc::FD_CLOEXEC != 0, "close-on-exec");
    assert_eq!(peer, client.local_addr().unwrap());
    handle.remove();
}

#[test]
fn each_readiness_event_accepts_a_bounded_batch() {
    let ioloop = new_loop();
    let listener = listener();
    let addr = listener.local_addr().unwrap();
    let clients: Vec<_> = (0..5).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let order = Rc::new(RefCell::new(Vec::new()));
    let (o, l) = (order.clone(), ioloop.clone());
    let mut accepted = 0;
    let handle = AcceptOptions::new()
        .max_accepts_per_event(2)
        .add(listener, move |_conn: TcpStream, _| {
            accepted += 1;
            o.borrow_mut().push("accept");
            // A callback queued now runs on the next iteration, before the
            // next batch.
            let o2 = o.clone();
            l.add_callback(move || o2.borrow_mut().push("next iteration"));
            if accepted == 5 {
                l.stop();
            }
        })
        .unwrap();
    crate::util::start(&ioloop);
    let order = order.borrow();
    let batches: Vec<usize> = order
        .split(|e| *e == "next iteration")
        .map(<[_]>::len)
        .filter(|&n| n > 0)
        .collect();
    assert_eq!(batches.iter().sum::<usize>(), 5, "{order:?}");
    assert!(
        batches.iter().all(|&n| n <= 2),
        "at most 2 per event: {order:?}"
    );
    handle.remove();
    drop(clients);
}

#[test]
fn removing_the_handler_inside_its_callback_stops_accepting_at_once() {
    // Tornado #2069: no accept (and no EBADF) after the removal.
    capture_logs();
    let ioloop = new_loop();
    let listener = listener();
    let addr = listener.local_addr().unwrap();
    let _clients: Vec<_> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let handle: Rc<RefCell<Option<netutil::AcceptHandle>>> = Rc::default();
    let accepted = Rc::new(RefCell::new(0));
    let (h, a, l) = (handle.clone(), accepted.clone(), ioloop.clone());
    let added = add_accept_handler(listener, move |_conn: TcpStream, _| {
        *a.borrow_mut() += 1;
        h.borrow().as_ref().unwrap().remove();
        l.call_later(Duration::from_millis(50), {
            let l = l.clone();
            move || l.stop()
        });
    })
    .unwrap();
    *handle.borrow_mut() = Some(added);
    crate::util::start(&ioloop);
    assert_eq!(*accepted.borrow(), 1, "no accept after removal");
    assert!(handle.borrow().as_ref().unwrap().is_removed());
    assert!(
        logged(log::Level::Warn).is_empty(),
        "{:?}",
        logged(log::Level::Warn)
    );
    // The listener is closed: new clients are refused.
    let err = TcpStream::connect(addr).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn remove_is_idempotent_and_closes_the_listener() {
    let _ioloop = new_loop();
    let listener = listener();
    let addr = listener.local_addr().unwrap();
    let handle = add_accept_handler(listener, |_: TcpStream, _| {}).unwrap();
    handle.remove();
    handle.remove();
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn unix_listeners_are_accepted_too() {
    let dir = crate::util::TempDir::new("accept-unix");
    let path = dir.0.join("a.sock");
    let ioloop = new_loop();
    let listener = netutil::bind_unix_socket(&path, 0o600, 16).unwrap();
    let accepted = Rc::new(RefCell::new(Vec::new()));
    let (a, l) = (accepted.clone(), ioloop.clone());
    let handle = add_accept_handler(
        listener,
        move |conn: std::os::unix::net::UnixStream, _addr| {
            a.borrow_mut().push(conn.peer_addr().ok());
            l.stop();
        },
    )
    .unwrap();
    let client = std::os::unix::net::UnixStream::connect(&path).unwrap();
    crate::util::start(&ioloop);
    handle.remove();
    let accepted = accepted.borrow();
    assert_eq!(accepted.len(), 1);
    // The accepted end's peer is the client (unnamed), so it is connected.
    let peer = accepted[0].as_ref().expect("a connected peer");
    assert!(peer.is_unnamed());
    assert_eq!(client.peer_addr().unwrap().as_pathname(), Some(&*path));
}
