//! libev's batching intervals: `io_interval` and `timeout_interval`. The
//! effects are read on the loop's clock (`now`, `iteration`), with exact
//! lower bounds.

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use ioloop::{Events, IOLoop};

use crate::util;
use crate::util::TestLoop;

/// The iteration each of three timeouts (1, 10 and 20 ms) ran in.
fn timeout_iterations(interval: Duration) -> Vec<u64> {
    let ioloop = TestLoop::new();
    ioloop.set_timeout_interval(interval);
    assert_eq!(ioloop.timeout_interval(), interval);
    let seen = Rc::new(RefCell::new(Vec::new()));
    for ms in [1, 10, 20] {
        let (s, l) = (seen.clone(), ioloop.clone());
        ioloop.call_later(Duration::from_millis(ms), move || {
            s.borrow_mut().push(l.iteration());
        });
    }
    util::run_until_idle(&ioloop);
    seen.take()
}

#[test]
fn timeout_interval_runs_close_timeouts_in_one_iteration() {
    let batched = timeout_iterations(Duration::from_millis(50));
    assert_eq!(batched.len(), 3);
    assert!(batched.iter().all(|&i| i == batched[0]), "{batched:?}");
    let unbatched = timeout_iterations(Duration::ZERO);
    assert_eq!(unbatched.len(), 3);
    assert!(
        unbatched[0] < unbatched[2],
        "without it they are apart: {unbatched:?}"
    );
}

#[test]
fn timeout_interval_delays_but_never_advances_a_timeout() {
    let ioloop = TestLoop::new();
    ioloop.set_timeout_interval(Duration::from_millis(40));
    let added = ioloop.time();
    let fired = Rc::new(Cell::new(0.0));
    let (f, l) = (fired.clone(), ioloop.clone());
    ioloop.call_later(Duration::from_millis(1), move || f.set(l.time()));
    util::run_until_idle(&ioloop);
    // Due after 1 ms, but the poll waited at least the interval.
    assert!(fired.get() - added >= 0.040, "{}", fired.get() - added);
}

#[test]
fn io_interval_spaces_polls_by_at_least_the_interval() {
    let ioloop = TestLoop::new();
    ioloop.set_io_interval(Duration::from_millis(20));
    assert_eq!(ioloop.io_interval(), Duration::from_millis(20));
    let (mut a, b) = util::socketpair();
    a.write_all(&[0; 5]).unwrap();
    let times = Rc::new(RefCell::new(Vec::new()));
    let (t, l) = (times.clone(), ioloop.clone());
    // Reads one byte per call: the descriptor stays ready for five polls.
    ioloop
        .add_handler(b.as_raw_fd(), Events::READ, move |fd, _| {
            (&b).read_exact(&mut [0]).unwrap();
            t.borrow_mut().push(l.now());
            if t.borrow().len() == 5 {
                l.remove_handler(fd);
            }
        })
        .unwrap();
    util::run_until_idle(&ioloop);
    let times = times.borrow();
    assert_eq!(times.len(), 5);
    for w in times.windows(2) {
        assert!(
            w[1] - w[0] >= 0.020,
            "polls closer than the interval: {times:?}"
        );
    }
}

#[test]
fn io_interval_does_not_delay_queued_callbacks_or_due_timeouts() {
    let ioloop = TestLoop::new();
    ioloop.set_io_interval(Duration::from_secs(30));
    let started = ioloop.time();
    // A chain of callbacks: never waits.
    fn chain(l: IOLoop, left: u32) {
        if left > 0 {
            let l2 = l.clone();
            l.add_callback(move || chain(l2, left - 1));
        }
    }
    let l = ioloop.clone();
    ioloop.add_callback(move || chain(l, 100));
    // A timeout: the sleep ends at its deadline.
    let fired = Rc::new(Cell::new(0.0));
    let (f, l) = (fired.clone(), ioloop.clone());
    ioloop.call_later(Duration::from_millis(10), move || f.set(l.time()));
    util::run_until_idle(&ioloop);
    assert!(fired.get() - started >= 0.010);
    assert!(ioloop.time() - started < 15.0, "waited for the io interval");
}
