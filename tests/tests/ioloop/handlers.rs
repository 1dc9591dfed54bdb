//! Rules H1 to H11: I/O handlers, level-triggered on an edge-triggered
//! poller.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use ioloop::{Events, IOLoop};

use crate::util::TestLoop;
use crate::util::{self, Log};

#[test]
fn h2_registering_an_fd_twice_is_an_error_naming_it() {
    let ioloop = TestLoop::new();
    let (_a, b) = util::socketpair();
    let fd = b.as_raw_fd();
    ioloop.add_handler(fd, Events::READ, |_, _| {}).unwrap();
    let err = ioloop
        .add_handler(fd, Events::WRITE, |_, _| {})
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    assert!(err.to_string().contains(&format!("fd {fd}")), "{err}");
    // The first registration is untouched.
    ioloop.remove_handler(fd);
}

#[test]
fn h2_a_regular_file_is_refused_with_an_error_naming_the_fd() {
    let ioloop = TestLoop::new();
    let file = File::open("/proc/self/exe")
        .or_else(|_| File::open("Cargo.toml"))
        .unwrap();
    let fd = file.as_raw_fd();
    let err = ioloop.add_handler(fd, Events::READ, |_, _| {}).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
    assert!(err.to_string().contains(&format!("fd {fd}")), "{err}");
    // Nothing was left behind: the number is free for a real socket.
    assert!(ioloop.remove_handler(fd).is_none());
}

#[test]
fn h2_a_negative_or_closed_fd_is_an_error() {
    let ioloop = TestLoop::new();
    let err = ioloop.add_handler(-1, Events::READ, |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("fd -1"), "{err}");
    // A number no descriptor of this process can have (a number freed by
    // a close could be taken at once by a test on another thread).
    let fd = util::sys::never_open_fd();
    let err = ioloop.add_handler(fd, Events::READ, |_, _| {}).unwrap_err();
    // The error naming the fd keeps the OS error's number.
    assert_eq!(ioloop::raw_os_error(&err), Some(libc::EBADF), "{err}");
    assert!(err.to_string().contains(&format!("fd {fd}")), "{err}");
    assert!(ioloop.remove_handler(fd).is_none(), "nothing left behind");
}

#[test]
fn h4_remove_handler_without_add_is_a_no_op() {
    let ioloop = TestLoop::new();
    assert!(ioloop.remove_handler(12345).is_none());
    assert!(ioloop.remove_handler(-3).is_none());
}

#[test]
fn h5_error_is_delivered_even_to_a_handler_that_did_not_ask() {
    let ioloop = TestLoop::new();
    let (a, b) = util::socketpair();
    let got = Rc::new(Cell::new(Events::NONE));
    let (g, l) = (got.clone(), ioloop.clone());
    ioloop
        .add_handler(b.as_raw_fd(), Events::NONE, move |fd, events| {
            g.set(events);
            l.remove_handler(fd);
            l.stop();
        })
        .unwrap();
    drop(a); // hang-up
    util::run(&ioloop);
    assert_eq!(got.get(), Events::ERROR);
}

#[test]
fn h5_error_only_handler_is_not_called_for_plain_data() {
    let ioloop = TestLoop::new();
    let (a, b) = util::readable_pair(b"data");
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    ioloop
        .add_handler(b.as_raw_fd(), Events::ERROR, move |_, _| c.set(c.get() + 1))
        .unwrap();
    let l = ioloop.clone();
    ioloop.call_later(Duration::from_millis(30), move || l.stop());
    util::run(&ioloop);
    assert_eq!(calls.get(), 0, "readable data is not an ERROR");
    drop(a);
    let l = ioloop.clone();
    ioloop.call_later(Duration::from_millis(30), move || l.stop());
    util::run(&ioloop);
    assert!(calls.get() >= 1, "the hang-up is");
    ioloop.remove_handler(b.as_raw_fd());
}

#[test]
fn h6_a_read_handler_receives_exactly_read_on_a_writable_socket() {
    let ioloop = TestLoop::new();
    let (_a, b) = util::readable_pair(b"x");
    let got = Rc::new(Cell::new(Events::NONE));
    let (g, l) = (got.clone(), ioloop.clone());
    ioloop
        .add_handler(b.as_raw_fd(), Events::READ, move |fd, events| {
            g.set(events);
            l.remove_handler(fd);
            l.stop();
        })
        .unwrap();
    util::run(&ioloop);
    assert_eq!(got.get(), Events::READ);
}

#[test]
fn h7_unread_data_calls_the_handler_again_on_the_next_iteration() {
    let ioloop = TestLoop::new();
    let (_a, b) = util::readable_pair(b"12345");
    let read = Rc::new(RefCell::new(Vec::new()));
    let (r, l) = (read.clone(), ioloop.clone());
    let stream = b;
    ioloop
        .add_handler(stream.as_raw_fd(), Events::READ, move |_, _| {
            // One byte per call: level-triggered means we come back.
            let mut byte = [0u8; 1];
            match (&stream).read(&mut byte) {
                Ok(1) => r.borrow_mut().push(byte[0]),
                other => panic!("unexpected read: {other:?}"),
            }
        })
        .unwrap();
    ioloop.call_later(Duration::from_millis(100), move || l.stop());
    util::run(&ioloop);
    assert_eq!(
        read.borrow().as_slice(),
        b"12345",
        "called once per byte, no more"
    );
}

#[test]
fn h7_write_interest_on_a_writable_socket_repeats_every_iteration() {
    let ioloop = TestLoop::new();
    let (_a, b) = util::socketpair();
    let calls = Rc::new(Cell::new(0));
    let (c, l) = (calls.clone(), ioloop.clone());
    ioloop
        .add_handler(b.as_raw_fd(), Events::WRITE, move |fd, events| {
            assert_eq!(events, Events::WRITE);
            c.set(c.get() + 1);
            if c.get() == 5 {
                l.remove_handler(fd);
                l.stop();
            }
        })
        .unwrap();
    util::run(&ioloop);
    assert_eq!(calls.get(), 5);
}

#[test]
fn h7_a_handler_that_fails_to_consume_is_called_again_without_new_events() {
    // Tornado's EMFILE situation in miniature: readiness not consumed
    // means the handler is called again, with no new edge from the kernel.
    let ioloop = TestLoop::new();
    let (_a, b) = util::readable_pair(b"x");
    let calls = Rc::new(Cell::new(0));
    let (c, l) = (calls.clone(), ioloop.clone());
    ioloop
        .add_handler(b.as_raw_fd(), Events::READ, move |fd, _| {
            c.set(c.get() + 1);
            if c.get() == 10 {
                l.remove_handler(fd);
                l.stop();
            }
        })
        .unwrap();
    util::run(&ioloop);
    assert_eq!(calls.get(), 10);
}

#[test]
fn h8_a_handler_removed_earlier_in_the_batch_is_not_called() {
    let ioloop = TestLoop::new();
    let (_a1, b1) = util::readable_pair(b"1");
    let (_a2, b2) = util::readable_pair(b"2");
    let (f1, f2) = (b1.as_raw_fd(), b2.as_raw_fd());
    let log = Log::default();
    for (fd, other) in [(f1, f2), (f2, f1)] {
        let (l, g) = (ioloop.clone(), log.clone());
        ioloop
            .add_handler(fd, Events::READ, move |fd, _| {
                g.push(format!("fd {fd}"));
                l.remove_handler(fd);
                l.remove_handler(other);
                l.stop();
            })
            .unwrap();
    }
    util::run(&ioloop);
    assert_eq!(log.entries().len(), 1, "{:?}", log.entries());
}

#[test]
fn h8_a_stale_event_is_not_delivered_to_a_new_handler_on_a_reused_fd_number() {
    let ioloop = TestLoop::new();
    let (_a1, b1) = util::readable_pair(b"1");
    let (a2, b2) = util::readable_pair(b"2");
    let (f1, f2) = (b1.as_raw_fd(), b2.as_raw_fd());
    let log = Log::default();
    let slots: Rc<RefCell<Vec<Option<std::os::unix::net::UnixStream>>>> =
        Rc::new(RefCell::new(vec![Some(b1), Some(b2)]));
    let keep = Rc::new(RefCell::new(Vec::new()));
    for (index, fd) in [(0usize, f1), (1usize, f2)] {
        let (l, g, s, k) = (ioloop.clone(), log.clone(), slots.clone(), keep.clone());
        ioloop
            .add_handler(fd, Events::READ, move |fd, _| {
                g.push(format!("old handler {index}"));
                l.remove_handler(fd);
                s.borrow_mut()[index].take();
                // Kill the other registration and close its fd, then put a
                // fresh (not readable) socket on the same number.
                let other = 1 - index;
                let other_fd = [f1, f2][other];
                if let Some(stream) = s.borrow_mut()[other].take() {
                    l.remove_handler(other_fd);
                    // Closes the other socket and puts the fresh one on its
                    // number in one step.
                    let (x, y) = util::socketpair();
                    let reused = util::sys::replace_fd(stream.into(), &y);
                    let g2 = g.clone();
                    l.add_handler(other_fd, Events::READ, move |_, _| g2.push("new handler"))
                        .unwrap();
                    k.borrow_mut().push((x, y, reused));
                }
                let l2 = l.clone();
                l.call_later(Duration::from_millis(30), move || l2.stop());
            })
            .unwrap();
    }
    util::run(&ioloop);
    assert_eq!(log.entries().len(), 1, "{:?}", log.entries());
    assert!(log.entries()[0].starts_with("old handler"));
    drop(a2);
}

#[test]
fn h9_each_ready_fd_is_dispatched_at_most_once_per_poll() {
    // A handler that never drains is called once per poll. Callbacks that
    // re-add themselves count iterations; polls are at most one per
    // iteration, so handler calls can never exceed iterations.
    let ioloop = TestLoop::new();
    let (_a, b) = util::readable_pair(b"x");
    let calls = Rc::new(Cell::new(0u32));
    let c = calls.clone();
    ioloop
        .add_handler(b.as_raw_fd(), Events::READ, move |_, _| c.set(c.get() + 1))
        .unwrap();
    let iterations = Rc::new(Cell::new(0u32));
    fn tick(l: IOLoop, n: Rc<Cell<u32>>) {
        n.set(n.get() + 1);
        if n.get() < 500 {
            let l2 = l.clone();
            l.add_callback(move || tick(l2, n));
        } else {
            l.stop();
        }
    }
    let (l, n) = (ioloop.clone(), iterations.clone());
    ioloop.add_callback(move || tick(l, n));
    util::run(&ioloop);
    assert!(calls.get() >= 1);
    assert!(
        calls.get() <= iterations.get(),
        "{} > {}",
        calls.get(),
        iterations.get()
    );
    ioloop.remove_handler(b.as_raw_fd());
}

#[test]
fn h10_a_panicking_handler_is_reported_and_stays_registered() {
    let ioloop = TestLoop::new();
    let (_a, b) = util::readable_pair(b"x");
    let reports = Rc::new(RefCell::new(Vec::new()));
    let r = reports.clone();
    ioloop.set_exception_handler(move |p| r.borrow_mut().push(p.kind()));
    let calls = Rc::new(Cell::new(0));
    let (c, l) = (calls.clone(), ioloop.clone());
    let fd = b.as_raw_fd();
    ioloop
        .add_handler(fd, Events::READ, move |fd, _| {
            c.set(c.get() + 1);
            if c.get() == 3 {
                l.remove_handler(fd);
                l.stop();
            } else {
                panic!("handler failure {}", c.get());
            }
        })
        .unwrap();
    util::run(&ioloop);
    assert_eq!(calls.get(), 3, "called again after each panic");
    assert_eq!(
        *reports.borrow(),
        vec![
            ioloop::CallbackKind::Handler {
                fd,
                events: Events::READ
            };
            2
        ]
    );
}

#[test]
fn h11_update_handler_replaces_the_mask() {
    let ioloop = TestLoop::new();
    let (_a, b) = util::socketpair();
    let log = Log::default();
    let (g, l) = (log.clone(), ioloop.clone());
    ioloop
        .add_handler(b.as_raw_fd(), Events::READ, move |fd, events| {
            g.push(format!("{events:?}"));
            l.remove_handler(fd);
            l.stop();
        })
        .unwrap();
    // Nothing to read, but writable: only WRITE interest will fire.
    ioloop.update_handler(b.as_raw_fd(), Events::WRITE).unwrap();
    util::run(&ioloop);
    assert_eq!(log.entries(), ["WRITE"]);
}

#[test]
fn h11_update_handler_on_an_unknown_fd_is_an_error_naming_it() {
    let ioloop = TestLoop::new();
    let err = ioloop.update_handler(777, Events::READ).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert!(err.to_string().contains("fd 777"), "{err}");
}

#[test]
fn update_handler_inside_the_handler_takes_effect_at_once() {
    // A handler switching from READ to WRITE interest (a request read, a
    // response to send) is next called for WRITE.
    let ioloop = TestLoop::new();
    let (_a, b) = util::readable_pair(b"request");
    let log = Log::default();
    let (g, l) = (log.clone(), ioloop.clone());
    let stream = b;
    ioloop
        .add_handler(stream.as_raw_fd(), Events::READ, move |fd, events| {
            g.push(format!("{events:?}"));
            if events.contains(Events::READ) {
                let mut buf = [0u8; 64];
                let _ = (&stream).read(&mut buf);
                l.update_handler(fd, Events::WRITE).unwrap();
            } else {
                l.remove_handler(fd);
                l.stop();
            }
        })
        .unwrap();
    util::run(&ioloop);
    assert_eq!(log.entries(), ["READ", "WRITE"]);
}

#[test]
fn mark_drained_is_only_a_hint() {
    // The handler reads one byte of five but claims it drained the socket.
    // On Linux registrations are natively level-triggered, the hint is
    // ignored, and the handler is still called once per byte. Where the
    // poller is edge-triggered and re-armed after dispatch, the hint skips
    // the re-arm: no repeat until new data arrives (shown by the calls).
    let ioloop = TestLoop::new();
    let level_triggered =
        cfg!(target_os = "linux") && ioloop.poller() == ioloop::PollerKind::Native;
    let (a, b) = util::readable_pair(b"12345");
    let calls = Rc::new(Cell::new(0));
    let (c, l) = (calls.clone(), ioloop.clone());
    let stream = b;
    let stream_fd = stream.as_raw_fd();
    ioloop
        .add_handler(stream_fd, Events::READ, move |fd, _| {
            c.set(c.get() + 1);
            let mut byte = [0u8; 1];
            (&stream).read_exact(&mut byte).unwrap();
            l.mark_drained(fd, Events::READ);
        })
        .unwrap();
    let l = ioloop.clone();
    ioloop.call_later(Duration::from_millis(50), move || l.stop());
    util::run(&ioloop);
    assert_eq!(calls.get(), if level_triggered { 5 } else { 1 });
    // New data: called again either way.
    (&a).write_all(b"6").unwrap();
    let l = ioloop.clone();
    ioloop.call_later(Duration::from_millis(50), move || l.stop());
    util::run(&ioloop);
    assert_eq!(calls.get(), if level_triggered { 6 } else { 2 });
    ioloop.remove_handler(stream_fd);
}

#[test]
fn a_draining_handler_still_gets_level_triggered_write_repeats() {
    // Drained READ does not suppress a pending WRITE: with READ | WRITE
    // interest, a handler that drains reads and does not write is called
    // again for WRITE.
    let ioloop = TestLoop::new();
    let (_a, b) = util::readable_pair(b"abc");
    let log = Log::default();
    let (g, l) = (log.clone(), ioloop.clone());
    let stream = b;
    ioloop
        .add_handler(
            stream.as_raw_fd(),
            Events::READ | Events::WRITE,
            move |fd, events| {
                g.push(format!("{events:?}"));
                let mut buf = [0u8; 16];
                while (&stream).read(&mut buf).is_ok() {}
                l.mark_drained(fd, Events::READ);
                if g.entries().len() == 3 {
                    l.remove_handler(fd);
                    l.stop();
                }
            },
        )
        .unwrap();
    util::run(&ioloop);
    assert_eq!(log.entries(), ["READ | WRITE", "WRITE", "WRITE"]);
}

#[test]
fn owned_handlers_hand_their_fd_back_on_removal() {
    let ioloop = TestLoop::new();
    let (mut a, b) = util::socketpair();
    let fd = ioloop
        .add_handler_owned(b, Events::READ, |_, _| {})
        .unwrap();
    let back = ioloop.remove_handler(fd).expect("owned");
    assert_eq!(std::os::fd::AsRawFd::as_raw_fd(&back), fd);
    assert!(util::fd_is_open(fd));
    drop(back);
    assert!(util::peer_closed(&a));
    assert!(a.write_all(b"x").is_err(), "peer sees the close");
}

#[test]
fn an_fd_closed_without_remove_handler_can_be_registered_again() {
    util::capture_logs();
    let ioloop = TestLoop::new();
    let log = Log::default();
    let (_a, b) = util::socketpair();
    let fd = b.as_raw_fd();
    let g = log.clone();
    ioloop
        .add_handler(fd, Events::READ, move |_, _| g.push("old handler"))
        .unwrap();
    // Closed without remove_handler (the kernel forgets it), and the number
    // reused at once by a readable socket: dup2 does both in one step.
    let (_c, d) = util::readable_pair(b"x");
    let reused = util::sys::replace_fd(b.into(), &d);
    let (g, l) = (log.clone(), ioloop.clone());
    ioloop
        .add_handler(fd, Events::READ, move |fd, _| {
            g.push("new handler");
            l.remove_handler(fd);
            l.stop();
        })
        .unwrap();
    util::run(&ioloop);
    drop(reused);
    assert_eq!(log.entries(), ["new handler"]);
    let warnings = util::logged(log::Level::Warn);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(&format!("fd {fd} was closed without remove_handler"))),
        "{warnings:?}"
    );
}

#[test]
fn a_handler_may_remove_itself_and_register_again() {
    let ioloop = TestLoop::new();
    let (_a, b) = util::readable_pair(b"xy");
    let log = Log::default();
    let (g, l) = (log.clone(), ioloop.clone());
    let stream = Rc::new(b);
    let s = stream.clone();
    ioloop
        .add_handler(stream.as_raw_fd(), Events::READ, move |fd, _| {
            g.push("first");
            let mut byte = [0u8; 1];
            (&*s).read_exact(&mut byte).unwrap();
            l.remove_handler(fd);
            let (g, l2) = (g.clone(), l.clone());
            l.add_handler(fd, Events::READ, move |fd, _| {
                g.push("second");
                l2.remove_handler(fd);
                l2.stop();
            })
            .unwrap();
        })
        .unwrap();
    util::run(&ioloop);
    assert_eq!(log.entries(), ["first", "second"]);
}

#[test]
fn an_edge_handler_is_called_when_readiness_changes_not_while_it_lasts() {
    // Five bytes waiting, one read per call: an edge handler is called
    // once, then again only when new data arrives.
    let ioloop = TestLoop::new();
    let (a, b) = util::readable_pair(b"12345");
    let calls = Rc::new(Cell::new(0));
    let (c, stream) = (calls.clone(), b);
    let fd = stream.as_raw_fd();
    ioloop
        .add_edge_handler(fd, Events::READ, move |_, events| {
            assert_eq!(events, Events::READ);
            c.set(c.get() + 1);
            let mut byte = [0u8; 1];
            (&stream).read_exact(&mut byte).unwrap();
        })
        .unwrap();
    let l = ioloop.clone();
    ioloop.call_later(Duration::from_millis(50), move || l.stop());
    util::run(&ioloop);
    assert_eq!(calls.get(), 1, "unconsumed readiness is not reported again");
    (&a).write_all(b"6").unwrap();
    let l = ioloop.clone();
    ioloop.call_later(Duration::from_millis(50), move || l.stop());
    util::run(&ioloop);
    assert_eq!(calls.get(), 2, "new data is a new edge");
    ioloop.remove_handler(fd);
}

#[test]
fn an_idle_writable_edge_handler_is_not_a_busy_loop() {
    // A level-triggered WRITE handler on a writable socket runs every
    // iteration; an edge-triggered one runs once.
    let ioloop = TestLoop::new();
    let (_a, b) = util::socketpair();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    ioloop
        .add_edge_handler(
            b.as_raw_fd(),
            Events::READ | Events::WRITE,
            move |_, events| {
                assert!(events.contains(Events::WRITE));
                c.set(c.get() + 1);
            },
        )
        .unwrap();
    // Keep the loop iterating with a chain of callbacks.
    fn chain(l: IOLoop, n: u32) {
        if n == 0 {
            l.stop();
        } else {
            let l2 = l.clone();
            l.call_later(Duration::from_millis(1), move || chain(l2, n - 1));
        }
    }
    let l = ioloop.clone();
    ioloop.add_callback(move || chain(l, 20));
    util::run(&ioloop);
    assert_eq!(calls.get(), 1);
    // update_handler keeps it edge-triggered (the MOD reports the current
    // readiness once).
    ioloop.update_handler(b.as_raw_fd(), Events::WRITE).unwrap();
    let l = ioloop.clone();
    ioloop.add_callback(move || chain(l, 20));
    util::run(&ioloop);
    assert!(calls.get() <= 2, "{}", calls.get());
    ioloop.remove_handler(b.as_raw_fd());
}

#[test]
fn an_edge_handler_still_gets_error_on_hang_up() {
    let ioloop = TestLoop::new();
    let (a, b) = util::socketpair();
    let got = Rc::new(Cell::new(Events::NONE));
    let (g, l) = (got.clone(), ioloop.clone());
    ioloop
        .add_edge_handler(b.as_raw_fd(), Events::NONE, move |fd, events| {
            g.set(events);
            l.remove_handler(fd);
            l.stop();
        })
        .unwrap();
    drop(a);
    util::run(&ioloop);
    assert_eq!(got.get(), Events::ERROR);
}

#[test]
fn only_an_edge_handler_reading_sees_read_closed_when_the_peer_shuts_down_its_side() {
    // Data and a shutdown of the peer's sending side: an edge handler with
    // READ interest gets READ | READ_CLOSED; a level-triggered handler gets
    // Tornado's plain READ.
    for edge in [true, false] {
        let ioloop = TestLoop::new();
        let (a, b) = util::socketpair();
        (&a).write_all(b"last words").unwrap();
        a.shutdown(std::net::Shutdown::Write).unwrap();
        let got = Rc::new(Cell::new(Events::NONE));
        let (g, l) = (got.clone(), ioloop.clone());
        let handler = move |fd, events| {
            g.set(events);
            l.remove_handler(fd);
            l.stop();
        };
        let fd = b.as_raw_fd();
        if edge {
            ioloop.add_edge_handler(fd, Events::READ, handler).unwrap();
        } else {
            ioloop.add_handler(fd, Events::READ, handler).unwrap();
        }
        util::run(&ioloop);
        let expected = if edge {
            Events::READ | Events::READ_CLOSED
        } else {
            Events::READ
        };
        assert_eq!(got.get(), expected, "edge: {edge}");
    }
}
