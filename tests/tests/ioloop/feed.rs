//! `feed_fd_event`: an event as if the poller had reported it.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use ioloop::Events;

use crate::util;
use crate::util::TestLoop;

#[test]
fn a_fed_event_calls_the_handler_on_the_next_dispatch() {
    let ioloop = TestLoop::new();
    let (_a, b) = util::socketpair(); // b has nothing to read
    let calls = Rc::new(RefCell::new(Vec::new()));
    let (c, l) = (calls.clone(), ioloop.clone());
    ioloop
        .add_handler(b.as_raw_fd(), Events::READ, move |_, events| {
            c.borrow_mut().push((events, l.iteration()));
            l.stop();
        })
        .unwrap();
    let l = ioloop.clone();
    let fd = b.as_raw_fd();
    ioloop.add_callback(move || assert!(l.feed_fd_event(fd, Events::READ)));
    util::run(&ioloop);
    // Fed before the poll of iteration 0: dispatched after it.
    assert_eq!(*calls.borrow(), [(Events::READ, 1)]);
    ioloop.remove_handler(fd);
}

#[test]
fn fed_events_are_filtered_by_the_handlers_interest() {
    let ioloop = TestLoop::new();
    let (_a, b) = util::socketpair();
    let seen = Rc::new(Cell::new(None));
    let s = seen.clone();
    ioloop
        .add_handler(b.as_raw_fd(), Events::READ, move |_, events| {
            s.set(Some(events))
        })
        .unwrap();
    // WRITE alone is not asked for: no call. READ | WRITE delivers READ.
    assert!(ioloop.feed_fd_event(b.as_raw_fd(), Events::WRITE));
    ioloop.run_once(ioloop::RunMode::NoWait).unwrap();
    assert_eq!(seen.get(), None);
    assert!(ioloop.feed_fd_event(b.as_raw_fd(), Events::READ | Events::WRITE | Events::ERROR));
    ioloop.run_once(ioloop::RunMode::NoWait).unwrap();
    assert_eq!(seen.get(), Some(Events::READ | Events::ERROR));
    ioloop.remove_handler(b.as_raw_fd());
}

#[test]
fn feeding_an_fd_without_a_handler_does_nothing() {
    let ioloop = TestLoop::new();
    let (_a, b) = util::socketpair();
    assert!(!ioloop.feed_fd_event(b.as_raw_fd(), Events::READ));
    assert!(!ioloop.is_alive());
}

#[test]
fn an_event_fed_to_a_removed_handler_is_dropped_even_if_the_fd_is_reused() {
    let ioloop = TestLoop::new();
    let (_a, b) = util::socketpair();
    let fd = b.as_raw_fd();
    ioloop
        .add_handler(fd, Events::READ, |_, _| {
            unreachable!("removed before dispatch")
        })
        .unwrap();
    assert!(ioloop.feed_fd_event(fd, Events::READ));
    ioloop.remove_handler(fd);
    // Same fd number, new registration: the event was for the old one.
    let called = Rc::new(Cell::new(false));
    let c = called.clone();
    ioloop
        .add_handler(fd, Events::READ, move |_, _| c.set(true))
        .unwrap();
    ioloop.run_once(ioloop::RunMode::NoWait).unwrap();
    assert!(!called.get());
    ioloop.remove_handler(fd);
}

#[test]
fn a_fed_event_merges_with_a_real_one() {
    let ioloop = TestLoop::new();
    let (mut a, b) = util::socketpair();
    a.write_all(b"x").unwrap();
    let calls = Rc::new(RefCell::new(Vec::new()));
    let c = calls.clone();
    ioloop
        .add_handler(
            b.as_raw_fd(),
            Events::READ | Events::WRITE,
            move |_, events| {
                c.borrow_mut().push(events);
            },
        )
        .unwrap();
    ioloop
        .update_handler(b.as_raw_fd(), Events::READ | Events::WRITE)
        .unwrap();
    assert!(ioloop.feed_fd_event(b.as_raw_fd(), Events::ERROR));
    ioloop.run_once(ioloop::RunMode::NoWait).unwrap();
    let calls = calls.borrow();
    assert_eq!(calls.len(), 1, "one call per dispatch: {calls:?}");
    assert!(
        calls[0].contains(Events::READ | Events::WRITE | Events::ERROR),
        "{calls:?}"
    );
    drop(calls);
    ioloop.remove_handler(b.as_raw_fd());
}

#[test]
fn a_fed_event_keeps_run_going_until_dispatched() {
    let ioloop = TestLoop::new();
    let (_a, b) = util::socketpair();
    let called = Rc::new(Cell::new(false));
    let c = called.clone();
    ioloop
        .add_handler(b.as_raw_fd(), Events::READ, move |_, _| c.set(true))
        .unwrap();
    ioloop.set_handler_ref(b.as_raw_fd(), false);
    ioloop.feed_fd_event(b.as_raw_fd(), Events::READ);
    assert!(ioloop.is_alive());
    util::run_until_idle(&ioloop);
    assert!(called.get());
    ioloop.remove_handler(b.as_raw_fd());
}
