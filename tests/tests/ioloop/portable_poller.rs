//! The portable poller (`PollerKind::Portable`): mio's edge-triggered
//! registry, with level-triggered handlers re-armed after each dispatch,
//! the path every platform but Linux takes. Each test builds its loops
//! with an explicit poller, so the path is tested whatever `IOLOOP_POLLER`
//! says.
//!
//! The loops are stepped with `run_once(RunMode::NoWait)`: one non-blocking
//! poll and dispatch per call, so what a handler sees over a fixed number
//! of polls is exact, with no timing involved.

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::rc::Rc;

use integration_tests::logs;
use ioloop::{Events, IOLoop, MakeCurrent, PollerKind, RunMode};

const BOTH: [PollerKind; 2] = [PollerKind::Native, PollerKind::Portable];

/// More polls than any scenario below needs.
const POLLS: usize = 8;

fn new_loop(poller: PollerKind) -> IOLoop {
    IOLoop::builder()
        .make_current(MakeCurrent::Never)
        .poller(poller)
        .build()
        .unwrap()
}

fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

/// Polls `POLLS` times without blocking.
fn step(ioloop: &IOLoop) {
    for _ in 0..POLLS {
        ioloop.run_once(RunMode::NoWait).unwrap();
    }
}

/// What a handler was called with, in order.
#[derive(Clone, Default)]
struct Calls(Rc<RefCell<Vec<String>>>);

impl Calls {
    fn push(&self, events: Events) {
        self.0.borrow_mut().push(format!("{events:?}"));
    }
    fn len(&self) -> usize {
        self.0.borrow().len()
    }
    fn take(&self) -> Vec<String> {
        self.0.take()
    }
}

/// Five bytes waiting; the level handler reads one per call.
fn partial_reads(ioloop: &IOLoop) -> Vec<String> {
    let (mut a, b) = pair();
    a.write_all(b"12345").unwrap();
    let calls = Calls::default();
    let c = calls.clone();
    let fd = b.as_raw_fd();
    ioloop
        .add_handler(fd, Events::READ, move |_, events| {
            c.push(events);
            (&b).read_exact(&mut [0]).unwrap();
        })
        .unwrap();
    step(ioloop);
    ioloop.remove_handler(fd);
    calls.take()
}

/// A writable socket with `WRITE` interest: called on every poll until it
/// removes itself on its third call.
fn writable(ioloop: &IOLoop) -> Vec<String> {
    let (_a, b) = pair();
    let calls = Calls::default();
    let (c, l) = (calls.clone(), ioloop.clone());
    ioloop
        .add_handler(b.as_raw_fd(), Events::WRITE, move |fd, events| {
            c.push(events);
            if c.len() == 3 {
                l.remove_handler(fd);
            }
        })
        .unwrap();
    step(ioloop);
    drop(b);
    calls.take()
}

/// A hung-up socket with an `ERROR`-only registration: `ERROR` on every
/// poll (never `READ`, though the socket reads an end of file) until the
/// handler removes itself on its third call.
fn hang_up(ioloop: &IOLoop) -> Vec<String> {
    let (a, b) = pair();
    drop(a);
    let calls = Calls::default();
    let (c, l) = (calls.clone(), ioloop.clone());
    ioloop
        .add_handler(b.as_raw_fd(), Events::NONE, move |fd, events| {
            c.push(events);
            if c.len() == 3 {
                l.remove_handler(fd);
            }
        })
        .unwrap();
    step(ioloop);
    drop(b);
    calls.take()
}

/// An edge handler that reads nothing: one call, however many polls.
fn edge_unread(ioloop: &IOLoop) -> Vec<String> {
    let (mut a, b) = pair();
    a.write_all(b"12345").unwrap();
    let calls = Calls::default();
    let c = calls.clone();
    let fd = b.as_raw_fd();
    ioloop
        .add_edge_handler(fd, Events::READ, move |_, events| c.push(events))
        .unwrap();
    step(ioloop);
    ioloop.remove_handler(fd);
    calls.take()
}

/// A level handler that switches from `READ` to `WRITE` in its first call
/// (`update_handler` re-arms), then removes itself.
fn update_in_handler(ioloop: &IOLoop) -> Vec<String> {
    let (mut a, b) = pair();
    a.write_all(b"1").unwrap();
    let calls = Calls::default();
    let (c, l) = (calls.clone(), ioloop.clone());
    ioloop
        .add_handler(b.as_raw_fd(), Events::READ, move |fd, events| {
            c.push(events);
            if events.contains(Events::READ) {
                (&b).read_exact(&mut [0]).unwrap();
                l.update_handler(fd, Events::WRITE).unwrap();
            } else {
                l.remove_handler(fd);
            }
        })
        .unwrap();
    step(ioloop);
    calls.take()
}

#[test]
fn both_pollers_give_handlers_the_same_events() {
    type Scenario = fn(&IOLoop) -> Vec<String>;
    let scenarios: [(&str, Scenario, &[&str]); 5] = [
        ("partial reads", partial_reads, &["READ"; 5]),
        ("writable", writable, &["WRITE"; 3]),
        ("hang-up", hang_up, &["ERROR"; 3]),
        ("edge, unread", edge_unread, &["READ"]),
        ("update in handler", update_in_handler, &["READ", "WRITE"]),
    ];
    for (name, scenario, want) in scenarios {
        for poller in BOTH {
            let ioloop = new_loop(poller);
            assert_eq!(ioloop.poller(), poller);
            assert_eq!(scenario(&ioloop), want, "{name} on the {poller} poller");
            ioloop.close(true).unwrap();
        }
    }
}

#[test]
fn mark_drained_skips_the_rearm_on_the_portable_poller_only() {
    // The handler reads one byte of five but claims it drained the socket:
    // the portable poller takes its word and does not re-arm, so there is
    // no repeat until new data arrives; the native poller ignores the hint.
    for (poller, first, second) in [(PollerKind::Native, 5, 6), (PollerKind::Portable, 1, 2)] {
        let ioloop = new_loop(poller);
        let (mut a, b) = pair();
        a.write_all(b"12345").unwrap();
        let calls = Rc::new(Cell::new(0));
        let (c, l) = (calls.clone(), ioloop.clone());
        let fd = b.as_raw_fd();
        ioloop
            .add_handler(fd, Events::READ, move |fd, _| {
                c.set(c.get() + 1);
                (&b).read_exact(&mut [0]).unwrap();
                l.mark_drained(fd, Events::READ);
            })
            .unwrap();
        step(&ioloop);
        assert_eq!(calls.get(), first, "{poller} poller");
        a.write_all(b"6").unwrap();
        step(&ioloop);
        assert_eq!(calls.get(), second, "{poller} poller, after new data");
        ioloop.remove_handler(fd);
    }
}

#[test]
fn draining_one_event_of_two_still_rearms() {
    // READ and WRITE both delivered, only READ drained: the portable poller
    // must re-arm for WRITE, so the handler is called on every poll.
    let ioloop = new_loop(PollerKind::Portable);
    let (mut a, b) = pair();
    a.write_all(b"1").unwrap();
    let calls = Calls::default();
    let (c, l) = (calls.clone(), ioloop.clone());
    let fd = b.as_raw_fd();
    ioloop
        .add_handler(fd, Events::READ | Events::WRITE, move |fd, events| {
            c.push(events);
            if events.contains(Events::READ) {
                (&b).read_exact(&mut [0]).unwrap();
                l.mark_drained(fd, Events::READ);
            }
        })
        .unwrap();
    step(&ioloop);
    let mut want = vec!["READ | WRITE".to_owned()];
    want.resize(POLLS, "WRITE".to_owned());
    assert_eq!(calls.take(), want);
    ioloop.remove_handler(fd);
}

#[test]
fn a_descriptor_closed_by_its_handler_loses_its_handler_at_the_rearm() {
    logs::capture();
    let ioloop = new_loop(PollerKind::Portable);
    let (mut a, b) = pair();
    a.write_all(b"1").unwrap();
    let fd: RawFd = b.as_raw_fd();
    let stream = RefCell::new(Some(b));
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    ioloop
        .add_handler(fd, Events::READ, move |_, _| {
            c.set(c.get() + 1);
            // Closed without remove_handler: the re-arm finds it gone.
            drop(stream.borrow_mut().take());
        })
        .unwrap();
    step(&ioloop);
    assert_eq!(calls.get(), 1);
    assert!(
        !ioloop.set_handler_ref(fd, true),
        "fd {fd} still has a handler"
    );
    let me = std::thread::current().id();
    let warnings = logs::messages(|r| r.thread == me && r.level == log::Level::Warn);
    let needle = format!("fd {fd} was closed without remove_handler");
    assert!(warnings.iter().any(|w| w.contains(&needle)), "{warnings:?}");
}

#[test]
fn the_environment_chooses_the_poller_of_a_loop_built_without_one() {
    let want = match std::env::var("IOLOOP_POLLER") {
        Ok(value) => PollerKind::parse(&value).unwrap().unwrap_or_default(),
        Err(_) => PollerKind::Native,
    };
    let ioloop = IOLoop::builder()
        .make_current(MakeCurrent::Never)
        .build()
        .unwrap();
    assert_eq!(ioloop.poller(), want);
}
