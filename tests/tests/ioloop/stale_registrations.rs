//! A registered descriptor closed behind the loop's back, its number then
//! reused by a new descriptor that the caller registers.
//!
//! `dup2` stands for "closed, and the number reused": it closes the old
//! descriptor and gives its number to the new one in one step, so no other
//! thread of the test process can take the number in between.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use integration_tests::run_for_at_most;
use ioloop::{Events, IOLoop, MakeCurrent};

fn new_loop() -> IOLoop {
    IOLoop::builder()
        .make_current(MakeCurrent::Never)
        .build()
        .unwrap()
}

fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

fn fd_is_open(fd: RawFd) -> bool {
    std::fs::metadata(format!("/proc/self/fd/{fd}")).is_ok()
}

/// Gives `stream`'s socket the number `fd`, closing what `fd` named
/// (`stream` is closed). Nothing owns the number until [`take`].
fn reuse_number(stream: UnixStream, fd: RawFd) {
    sys::dup2_onto(stream, fd);
}

/// Takes ownership of the number `reuse_number` left unowned, once the
/// test has checked that it is still open (a loop that closed it would
/// make this a double close).
fn take(fd: RawFd) -> UnixStream {
    assert!(fd_is_open(fd), "fd {fd} was closed");
    UnixStream::from(sys::adopt(fd))
}

/// Registers `stream` (which must have `b"ping"` waiting) and runs the loop
/// until its handler has read it; returns what it read.
fn read_ping(ioloop: &IOLoop, stream: UnixStream) -> Vec<u8> {
    let got = Rc::new(RefCell::new(Vec::new()));
    let (g, l) = (got.clone(), ioloop.clone());
    let fd = stream.as_raw_fd();
    ioloop
        .add_handler(fd, Events::READ, move |fd, _| {
            let mut buf = [0; 4];
            (&stream).read_exact(&mut buf).unwrap();
            g.borrow_mut().extend_from_slice(&buf);
            l.remove_handler(fd);
            l.stop();
        })
        .unwrap();
    run_for_at_most(ioloop, Duration::from_secs(5));
    got.take()
}

#[test]
fn a_reused_number_of_an_owned_descriptor_is_refused_and_left_open() {
    let ioloop = new_loop();
    let (_a, b) = pair();
    let captured = Rc::new(());
    let c = captured.clone();
    let fd = ioloop
        .add_handler_owned(b, Events::READ, move |_, _| {
            let _ = &c;
        })
        .unwrap();
    // The loop's descriptor is closed behind its back; the caller's new
    // socket takes its number.
    let (mut peer, new) = pair();
    peer.write_all(b"ping").unwrap();
    reuse_number(new, fd);

    let err = ioloop
        .add_handler(fd, Events::READ, |_, _| unreachable!())
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("add_handler fd {fd}: ")),
        "{err}"
    );
    assert!(fd_is_open(fd), "the loop closed the caller's fd {fd}");
    assert_eq!(
        Rc::strong_count(&captured),
        1,
        "the stale handler is dropped"
    );
    assert!(
        !ioloop.set_handler_ref(fd, true),
        "the stale registration is gone"
    );

    // The loop no longer owns the number: closing it with its descriptors
    // leaves it open.
    ioloop.close(true).unwrap();
    drop(ioloop);
    assert!(fd_is_open(fd), "closing the loop closed fd {fd}");
    // The number is the caller's: it registers, and reads the new socket.
    assert_eq!(read_ping(&new_loop(), take(fd)), b"ping");
}

#[test]
fn a_reused_number_of_a_borrowed_descriptor_replaces_the_stale_registration() {
    let ioloop = new_loop();
    let (_a, b) = pair();
    let fd = b.as_raw_fd();
    ioloop
        .add_handler(fd, Events::READ, |_, _| unreachable!())
        .unwrap();
    let (mut peer, new) = pair();
    peer.write_all(b"ping").unwrap();
    // `b` gives up its number without closing it: the new socket holds it.
    std::mem::forget(b);
    reuse_number(new, fd);
    assert_eq!(read_ping(&ioloop, take(fd)), b"ping");
}

#[allow(unsafe_code)]
mod sys {
    //! The raw descriptor calls these tests need.

    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

    /// `dup2(from, onto)`: `onto` now names `from`'s file (what it named
    /// before is closed); `from` is closed.
    pub(super) fn dup2_onto(from: impl AsRawFd + Into<OwnedFd>, onto: RawFd) {
        // SAFETY: dup2 takes two plain integers; `from` is open (we own it)
        // and a bad `onto` is an EBADF error, never undefined behaviour.
        let fd = unsafe { libc::dup2(from.as_raw_fd(), onto) };
        assert_eq!(fd, onto, "dup2: {}", std::io::Error::last_os_error());
        drop(from.into());
    }

    /// Owns `fd`, a number `dup2_onto` filled.
    pub(super) fn adopt(fd: RawFd) -> OwnedFd {
        // SAFETY: the caller checked that `fd` is open; dup2_onto gave it a
        // file that nothing else owns: its previous owner was a stream the
        // test forgot, or a loop that let go of the number (checked first).
        unsafe { OwnedFd::from_raw_fd(fd) }
    }
}
