//! libev's introspection: `iteration`, `depth`, `pending`, and the cached
//! loop time `now` with `update_time`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use ioloop::{IOLoop, RunMode};

use crate::util;
use crate::util::TestLoop;

#[test]
fn iteration_counts_poll_phases() {
    let ioloop = TestLoop::new();
    assert_eq!(ioloop.iteration(), 0);
    let seen = Rc::new(RefCell::new(Vec::new()));
    fn chain(l: IOLoop, seen: Rc<RefCell<Vec<u64>>>, left: u32) {
        seen.borrow_mut().push(l.iteration());
        if left == 0 {
            l.stop();
        } else {
            let l2 = l.clone();
            l.add_callback(move || chain(l2, seen, left - 1));
        }
    }
    let (l, s) = (ioloop.clone(), seen.clone());
    ioloop.add_callback(move || chain(l, s, 4));
    util::run(&ioloop);
    // One callback per iteration; the poll phase of each adds one (polls
    // skipped because work was queued count too).
    assert_eq!(*seen.borrow(), [0, 1, 2, 3, 4]);
    assert_eq!(
        ioloop.iteration(),
        4,
        "the last iteration stopped before its poll"
    );
    ioloop.run_once(RunMode::NoWait).unwrap();
    assert_eq!(ioloop.iteration(), 5);
}

#[test]
fn depth_is_one_inside_the_loop_and_zero_outside() {
    let ioloop = TestLoop::new();
    assert_eq!(ioloop.depth(), 0);
    let inside = Rc::new(Cell::new(99));
    let (i, l) = (inside.clone(), ioloop.clone());
    ioloop.add_callback(move || {
        i.set(l.depth());
        l.stop();
    });
    util::run(&ioloop);
    assert_eq!(inside.get(), 1);
    assert_eq!(ioloop.depth(), 0);
    let (i, l) = (inside.clone(), ioloop.clone());
    ioloop.add_callback(move || i.set(l.depth() + 10));
    ioloop.run_once(RunMode::NoWait).unwrap();
    assert_eq!(inside.get(), 11, "run_once counts too");
}

#[test]
fn pending_counts_queued_callbacks_from_every_thread() {
    let ioloop = TestLoop::new();
    assert_eq!(ioloop.pending(), 0);
    ioloop.add_callback(|| {});
    let soon = ioloop.call_soon(|| {});
    let remote = ioloop.remote();
    std::thread::spawn(move || remote.add_callback(|| {}))
        .join()
        .unwrap();
    assert_eq!(ioloop.pending(), 3);
    soon.cancel();
    assert_eq!(ioloop.pending(), 2, "a cancelled call_soon is not pending");
    let seen = Rc::new(Cell::new(usize::MAX));
    let (s, l) = (seen.clone(), ioloop.clone());
    ioloop.add_callback(move || {
        // Runs in the next iteration, after all the others.
        let l2 = l.clone();
        l.add_callback(move || {
            s.set(l2.pending());
            l2.stop();
        });
    });
    util::run(&ioloop);
    assert_eq!(seen.get(), 0, "everything queued has run");
    assert_eq!(ioloop.pending(), 0);
    ioloop.add_callback(|| {});
    ioloop.close(false).unwrap();
    assert_eq!(ioloop.pending(), 0);
}

#[test]
fn now_is_cached_within_an_iteration_and_update_time_refreshes_it() {
    let ioloop = TestLoop::new();
    let checked = Rc::new(Cell::new(false));
    let (c, l) = (checked.clone(), ioloop.clone());
    ioloop.add_callback(move || {
        let first = l.now();
        std::thread::sleep(Duration::from_millis(10));
        assert_eq!(l.now(), first, "frozen while callbacks run");
        assert!(l.time() >= first + 0.010);
        l.update_time();
        let updated = l.now();
        assert!(updated >= first + 0.010, "update_time reads the clock");
        assert!(updated <= l.time());
        c.set(true);
        l.stop();
    });
    util::run(&ioloop);
    assert!(checked.get());
}

#[test]
fn in_a_timeout_now_is_at_or_after_its_deadline() {
    let ioloop = TestLoop::new();
    let deadline = ioloop.time() + 0.015;
    let now = Rc::new(Cell::new(0.0));
    let (n, l) = (now.clone(), ioloop.clone());
    ioloop.call_at(deadline, move || {
        n.set(l.now());
        l.stop();
    });
    util::run(&ioloop);
    assert!(now.get() >= deadline - 1e-9, "{} < {deadline}", now.get());
}

#[test]
fn now_advances_from_one_iteration_to_the_next() {
    let ioloop = TestLoop::new();
    let first = Rc::new(Cell::new(0.0));
    let (f, l) = (first.clone(), ioloop.clone());
    ioloop.add_callback(move || {
        f.set(l.now());
        let (f, l2) = (f.clone(), l.clone());
        l.call_later(Duration::from_millis(5), move || {
            assert!(l2.now() >= f.get() + 0.005);
            l2.stop();
        });
    });
    util::run(&ioloop);
    assert!(first.get() > 0.0);
}
