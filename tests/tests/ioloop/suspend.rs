//! libev's `suspend`/`resume`: timeouts are shifted by the time suspended;
//! periodic callbacks are rescheduled on a fresh grid.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use ioloop::{Error, PeriodicCallback, RunMode};

use crate::util;
use crate::util::TestLoop;

#[test]
fn resume_shifts_a_pending_timeout_by_the_suspended_time() {
    let ioloop = TestLoop::new();
    let added = ioloop.time();
    let fired = Rc::new(Cell::new(0.0));
    let (f, l) = (fired.clone(), ioloop.clone());
    ioloop.call_later(Duration::from_millis(100), move || f.set(l.time()));
    ioloop.suspend();
    let suspended = ioloop.time();
    assert!(ioloop.is_suspended());
    std::thread::sleep(Duration::from_millis(200)); // longer than the timeout
    let resuming = ioloop.time();
    ioloop.resume();
    let resumed = ioloop.time();
    assert!(!ioloop.is_suspended());
    util::run_until_idle(&ioloop);
    let fired = fired.get();
    // Its deadline moved by the suspended time (at least resuming - suspended).
    assert!(
        fired >= added + 0.100 + (resuming - suspended),
        "fired {:.3} s after adding, suspended {:.3} s",
        fired - added,
        resuming - suspended
    );
    // Without the shift it would have been due at once on resume: instead
    // what was left of it when the loop was suspended remains, by the
    // loop's own clock (the loop read its suspend time no later than
    // `suspended`, and its resume time no earlier than `resuming`).
    let left = added + 0.100 - suspended;
    assert!(
        fired - resuming >= left,
        "{:.3} s after resume, {left:.3} s were left",
        fired - resuming
    );
    assert!(fired - resumed < 10.0);
}

#[test]
fn a_suspended_loop_refuses_to_run() {
    let ioloop = TestLoop::new();
    ioloop.suspend();
    ioloop.suspend(); // idempotent
    assert!(matches!(ioloop.start(), Err(Error::Suspended)));
    assert!(matches!(ioloop.run(), Err(Error::Suspended)));
    assert!(matches!(
        ioloop.run_once(RunMode::NoWait),
        Err(Error::Suspended)
    ));
    let err = ioloop.run_sync(|| async {}, None).unwrap_err();
    assert!(err.to_string().contains("suspended"), "{err}");
    ioloop.resume();
    ioloop.resume(); // a no-op
    util::run_until_idle(&ioloop);
}

#[test]
fn suspending_from_a_callback_ends_start_until_resume() {
    let ioloop = TestLoop::new();
    let log = Rc::new(RefCell::new(Vec::new()));
    let (g, l) = (log.clone(), ioloop.clone());
    ioloop.add_callback(move || {
        g.borrow_mut().push("suspend");
        l.suspend();
        let (g, l2) = (g.clone(), l.clone());
        l.add_callback(move || {
            g.borrow_mut().push("after resume");
            l2.stop();
        });
    });
    util::run(&ioloop); // returns at the stop check, suspended
    assert_eq!(*log.borrow(), ["suspend"]);
    assert!(ioloop.is_suspended());
    ioloop.resume();
    util::run(&ioloop);
    assert_eq!(*log.borrow(), ["suspend", "after resume"]);
}

#[test]
fn suspend_and_resume_inside_a_callback_keep_the_loop_running() {
    // libev's SIGTSTP pattern: suspend, stop the process, resume.
    let ioloop = TestLoop::new();
    let added = ioloop.time();
    let fired = Rc::new(Cell::new(0.0));
    let (f, l) = (fired.clone(), ioloop.clone());
    ioloop.call_later(Duration::from_millis(50), move || {
        f.set(l.time());
        l.stop();
    });
    let l = ioloop.clone();
    ioloop.add_callback(move || {
        l.suspend();
        std::thread::sleep(Duration::from_millis(100)); // "stopped"
        l.resume();
    });
    util::run(&ioloop);
    assert!(fired.get() - added >= 0.150, "{:.3}", fired.get() - added);
}

#[test]
fn resume_reschedules_periodic_callbacks_on_a_fresh_grid() {
    let ioloop = TestLoop::new();
    let calls = Rc::new(RefCell::new(Vec::new()));
    let (c, l) = (calls.clone(), ioloop.clone());
    let periodic = PeriodicCallback::new(
        move || {
            c.borrow_mut().push(l.time());
            l.stop();
        },
        Duration::from_millis(100),
    )
    .unwrap();
    periodic.start_on(&ioloop);
    std::thread::sleep(Duration::from_millis(60)); // 60 ms into the period
    ioloop.suspend();
    std::thread::sleep(Duration::from_millis(50));
    ioloop.resume();
    let resumed = ioloop.time();
    util::run(&ioloop);
    periodic.stop();
    let first = calls.borrow()[0];
    // A full period after resume (a shifted timeout would come 40 ms after).
    assert!(
        first - resumed >= 0.100,
        "{:.3} s after resume",
        first - resumed
    );
}
