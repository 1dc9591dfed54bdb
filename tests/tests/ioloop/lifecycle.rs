//! Rules L1 to L12: start, stop, re-entrancy, close.

use std::cell::Cell;
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;
use std::time::Duration;

use chrono::TimeDelta;
use ioloop::{Error, Events, IOLoop, MakeCurrent};

use crate::util::TestLoop;
use crate::util::{self, Log};

#[test]
fn l1_start_runs_iterations_until_stop() {
    let ioloop = TestLoop::new();
    let count = Rc::new(Cell::new(0));
    fn again(ioloop: IOLoop, count: Rc<Cell<u32>>) {
        count.set(count.get() + 1);
        if count.get() == 100 {
            ioloop.stop();
        } else {
            let l = ioloop.clone();
            ioloop.add_callback(move || again(l, count));
        }
    }
    let (l, c) = (ioloop.clone(), count.clone());
    ioloop.add_callback(move || again(l, c));
    util::run(&ioloop);
    assert_eq!(count.get(), 100);
}

#[test]
fn l2_stop_before_start_makes_next_start_return_at_once() {
    let ioloop = TestLoop::new();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    ioloop.add_callback(move || r.set(true));
    ioloop.stop();
    util::bounded(&ioloop, || ioloop.start()).unwrap();
    assert!(!ran.get(), "start() after stop() must not run anything");
    // The flag was consumed: the next start runs normally.
    let l = ioloop.clone();
    ioloop.add_callback(move || l.stop());
    util::run(&ioloop);
    assert!(ran.get());
}

#[test]
fn l2_remote_stop_before_start_makes_next_start_return_at_once() {
    let ioloop = TestLoop::new();
    let remote = ioloop.remote();
    std::thread::spawn(move || remote.stop()).join().unwrap();
    let before = ioloop.time();
    util::bounded(&ioloop, || ioloop.start()).unwrap();
    assert!(ioloop.time() - before < 5.0);
    assert_eq!(ioloop.iteration(), 0, "returned before polling");
}

#[test]
fn l3_stop_in_callback_lets_the_rest_of_the_iteration_run() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    let (l, g) = (ioloop.clone(), log.clone());
    // A timeout already due when the iteration starts.
    ioloop.add_timeout(TimeDelta::seconds(-1), {
        let g = log.clone();
        move || g.push("due timeout")
    });
    ioloop.add_callback(move || {
        g.push("stopper");
        l.stop();
    });
    let (g, l) = (log.clone(), ioloop.clone());
    ioloop.add_callback(move || {
        g.push("after stopper");
        // Added during the iteration: must not run before start returns.
        let g2 = g.clone();
        l.add_callback(move || g2.push("next iteration"));
    });
    util::run(&ioloop);
    assert_eq!(log.entries(), ["stopper", "after stopper", "due timeout"]);
    // The callback added during the stopped iteration runs on the next start.
    let l = ioloop.clone();
    ioloop.add_callback(move || l.stop());
    util::run(&ioloop);
    assert_eq!(log.entries().last().unwrap(), "next iteration");
}

#[test]
fn l4_stop_in_handler_runs_other_handlers_and_the_next_callbacks() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    let (_a1, b1) = util::readable_pair(b"1");
    let (_a2, b2) = util::readable_pair(b"2");
    for (name, b) in [("h1", &b1), ("h2", &b2)] {
        let (l, g) = (ioloop.clone(), log.clone());
        ioloop
            .add_handler(b.as_raw_fd(), Events::READ, move |fd, _| {
                g.push(name);
                l.remove_handler(fd);
                l.stop();
                let g = g.clone();
                l.add_callback(move || g.push("callback added by handler"));
            })
            .unwrap();
    }
    util::run(&ioloop);
    let entries = log.entries();
    // Both handlers ran (whatever their order), then the next iteration's
    // callbacks, then start returned.
    assert_eq!(entries.len(), 4, "{entries:?}");
    assert!(entries[..2].contains(&"h1".to_string()) && entries[..2].contains(&"h2".to_string()));
    assert_eq!(
        entries[2..],
        ["callback added by handler", "callback added by handler"]
    );
}

#[test]
fn l5_remote_stop_wakes_a_loop_blocked_in_poll() {
    let ioloop = TestLoop::new();
    let remote = ioloop.remote();
    let watch = util::PollWatch::this_thread();
    let stopper = std::thread::spawn(move || {
        watch.wait_until_blocked();
        remote.stop();
    });
    // Nothing else would wake the loop before the 10 s safety limit.
    util::run(&ioloop);
    stopper.join().unwrap();
}

#[test]
fn l6_start_on_a_running_loop_is_an_error_not_a_deadlock() {
    let ioloop = TestLoop::new();
    let result = Rc::new(Cell::new(None));
    let (l, r) = (ioloop.clone(), result.clone());
    ioloop.add_callback(move || {
        r.set(Some(matches!(l.start(), Err(Error::AlreadyRunning))));
        assert!(l.is_running(), "the outer loop keeps running");
        l.stop();
    });
    util::run(&ioloop);
    assert_eq!(result.get(), Some(true));
    assert_eq!(
        Error::AlreadyRunning.to_string(),
        "the ioloop is already running"
    );
}

#[test]
fn l7_a_stopped_loop_can_start_again() {
    let ioloop = TestLoop::new();
    for round in 0..3 {
        let ran = Rc::new(Cell::new(false));
        let (l, r) = (ioloop.clone(), ran.clone());
        ioloop.call_later(Duration::from_millis(1), move || {
            r.set(true);
            l.stop();
        });
        util::run(&ioloop);
        assert!(ran.get(), "round {round}");
        assert!(!ioloop.is_running());
    }
}

#[test]
fn l8_start_restores_the_previous_current_loop_and_clears_the_stop_flag() {
    let outer = IOLoop::builder()
        .make_current(MakeCurrent::Always)
        .build()
        .unwrap();
    let inner = IOLoop::builder()
        .make_current(MakeCurrent::Never)
        .build()
        .unwrap();
    let seen = Rc::new(Cell::new(false));
    let (l, s) = (inner.clone(), seen.clone());
    inner.add_callback(move || {
        s.set(IOLoop::current().ptr_eq(&l));
        l.stop();
    });
    util::run(&inner);
    assert!(seen.get(), "current() inside start() is the running loop");
    assert!(
        IOLoop::current().ptr_eq(&outer),
        "previous current restored"
    );
    // The stop flag was reset: this start runs until its own stop.
    let l = inner.clone();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    inner.add_callback(move || {
        r.set(true);
        l.stop();
    });
    util::run(&inner);
    assert!(ran.get());
}

#[test]
fn l9_close_while_running_is_an_error() {
    let ioloop = TestLoop::new();
    let result = Rc::new(Cell::new(false));
    let (l, r) = (ioloop.clone(), result.clone());
    ioloop.add_callback(move || {
        r.set(matches!(l.close(false), Err(Error::Running)));
        l.stop();
    });
    util::run(&ioloop);
    assert!(result.get());
    assert!(!ioloop.is_closed());
    ioloop.close(false).unwrap();
    assert!(ioloop.is_closed());
    assert!(matches!(ioloop.start(), Err(Error::Closed)));
    ioloop.close(true).unwrap(); // closing twice is a no-op
}

#[test]
fn l10_close_without_all_fds_leaves_user_fds_open() {
    let ioloop = TestLoop::new();
    let (_a, b) = util::socketpair();
    let (c, d) = util::socketpair();
    let borrowed = b.as_raw_fd();
    ioloop
        .add_handler(borrowed, Events::READ, |_, _| {})
        .unwrap();
    let owned = ioloop
        .add_handler_owned(OwnedFd::from(d), Events::READ, |_, _| {})
        .unwrap();
    ioloop.close(false).unwrap();
    assert!(
        util::fd_is_open(borrowed),
        "borrowed fds are never closed by the loop"
    );
    assert!(
        util::fd_is_open(owned) && !util::peer_closed(&c),
        "owned fds stay open after close(false)..."
    );
    drop(ioloop);
    assert!(util::peer_closed(&c), "...until the loop is dropped");
    assert!(util::fd_is_open(borrowed));
}

#[test]
fn l11_close_all_fds_closes_owned_fds_and_tolerates_reentrant_removal() {
    let ioloop = TestLoop::new();
    let (a, b) = util::socketpair();
    let owned = ioloop
        .add_handler_owned(b, Events::READ, |_, _| {})
        .unwrap();
    // A handler whose Drop calls back into the loop while it closes.
    struct RemovesOnDrop(IOLoop, i32);
    impl Drop for RemovesOnDrop {
        fn drop(&mut self) {
            self.0.remove_handler(self.1);
            self.0.add_callback(|| {});
        }
    }
    let (_c, d) = util::socketpair();
    let guard = RemovesOnDrop(ioloop.clone(), d.as_raw_fd());
    ioloop
        .add_handler(d.as_raw_fd(), Events::READ, move |_, _| {
            let _ = &guard;
        })
        .unwrap();
    ioloop.close(true).unwrap();
    assert!(
        util::peer_closed(&a),
        "close(true) closes owned fds ({owned})"
    );
    assert!(util::fd_is_open(d.as_raw_fd()), "borrowed fds stay open");
}

#[test]
fn l12_close_drops_pending_callbacks_timeouts_and_handlers() {
    struct Counted(Rc<Cell<u32>>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let ioloop = TestLoop::new();
    let drops = Rc::new(Cell::new(0));
    let c = Counted(drops.clone());
    ioloop.add_callback(move || drop(c));
    let c = Counted(drops.clone());
    ioloop.call_later(Duration::from_secs(3600), move || drop(c));
    let c = Counted(drops.clone());
    let (_a, b) = util::socketpair();
    ioloop
        .add_handler(b.as_raw_fd(), Events::READ, move |_, _| {
            let _ = &c;
        })
        .unwrap();
    assert_eq!(drops.get(), 0);
    ioloop.close(false).unwrap();
    assert_eq!(drops.get(), 3, "everything queued on the loop was released");
    // And the loop no longer takes work.
    let c = Counted(drops.clone());
    ioloop.add_callback(move || drop(c));
    assert_eq!(
        drops.get(),
        4,
        "add_callback on a closed loop drops the callback"
    );
}
