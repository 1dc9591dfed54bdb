//! Rules T1 to T12: timeouts.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use ioloop::{Deadline, IOLoop};

use crate::util::TestLoop;
use crate::util::{self, Log};

fn stop_after(ioloop: &IOLoop, delay: Duration) {
    let l = ioloop.clone();
    ioloop.call_later(delay, move || l.stop());
}

#[test]
fn t1_add_timeout_accepts_relative_and_absolute_deadlines() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    let deadlines: Vec<(&str, Deadline)> = vec![
        ("duration", Duration::from_millis(5).into()),
        ("timedelta", TimeDelta::milliseconds(5).into()),
        (
            "instant",
            (Instant::now() + Duration::from_millis(5)).into(),
        ),
        ("datetime", (Utc::now() + TimeDelta::milliseconds(5)).into()),
        ("loop time", (ioloop.time() + 0.005).into()),
    ];
    for (name, deadline) in deadlines {
        let g = log.clone();
        ioloop.add_timeout(deadline, move || g.push(name));
    }
    stop_after(&ioloop, Duration::from_millis(100));
    util::run(&ioloop);
    let mut got = log.entries();
    got.sort();
    assert_eq!(
        got,
        ["datetime", "duration", "instant", "loop time", "timedelta"]
    );
}

#[test]
fn t2_call_later_and_call_at_return_handles_accepted_by_remove_timeout() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    let g = log.clone();
    let a = ioloop.call_later(Duration::from_millis(1), move || g.push("call_later"));
    let g = log.clone();
    let b = ioloop.call_at(ioloop.time() + 0.001, move || g.push("call_at"));
    let g = log.clone();
    let c = ioloop.add_timeout(Duration::from_millis(1), move || g.push("add_timeout"));
    assert!(ioloop.remove_timeout(a));
    assert!(ioloop.remove_timeout(b));
    assert!(ioloop.remove_timeout(c));
    // Due before the stop: they would run first if they were still there.
    stop_after(&ioloop, Duration::from_millis(20));
    util::run(&ioloop);
    assert_eq!(log.entries(), [] as [&str; 0], "removed timeouts ran");
}

#[test]
fn t4_equal_deadlines_fire_in_creation_order() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    let when = ioloop.time() + 0.01;
    for i in 1..=4 {
        let g = log.clone();
        ioloop.call_at(when, move || g.push(i.to_string()));
    }
    stop_after(&ioloop, Duration::from_millis(50));
    util::run(&ioloop);
    assert_eq!(log.entries(), ["1", "2", "3", "4"]);
}

#[test]
fn t5_a_removed_timeout_never_runs() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    let g = log.clone();
    let handle = ioloop.call_later(Duration::from_millis(5), move || g.push("removed"));
    let g = log.clone();
    ioloop.call_later(Duration::from_millis(5), move || g.push("kept"));
    ioloop.remove_timeout(handle);
    // Due after both: by then the removed one would have run.
    stop_after(&ioloop, Duration::from_millis(30));
    util::run(&ioloop);
    assert_eq!(log.entries(), ["kept"]);
}

#[test]
fn t6_removing_a_timeout_that_already_fired_is_a_no_op() {
    let ioloop = TestLoop::new();
    let fired = Rc::new(Cell::new(0));
    let f = fired.clone();
    let handle = ioloop.call_later(Duration::from_millis(1), move || f.set(f.get() + 1));
    stop_after(&ioloop, Duration::from_millis(20));
    util::run(&ioloop);
    assert_eq!(fired.get(), 1);
    assert!(!ioloop.remove_timeout(handle));
    assert!(!ioloop.remove_timeout(handle));
    // The slot it used is free for the next timeout, which the stale
    // handle must not touch.
    let f = fired.clone();
    ioloop.call_later(Duration::from_millis(1), move || f.set(f.get() + 10));
    assert!(!ioloop.remove_timeout(handle));
    stop_after(&ioloop, Duration::from_millis(20));
    util::run(&ioloop);
    assert_eq!(fired.get(), 11);
}

#[test]
fn t7_timeout_removed_by_an_earlier_timeout_of_the_same_iteration_does_not_run() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    let victim = Rc::new(Cell::new(None));
    let (l, v, g) = (ioloop.clone(), victim.clone(), log.clone());
    // Both due in the same iteration; the first removes the second.
    let when = ioloop.time() + 0.005;
    ioloop.call_at(when, move || {
        g.push("first");
        assert!(
            l.remove_timeout(v.get().unwrap()),
            "still pending: removable"
        );
    });
    let g = log.clone();
    victim.set(Some(ioloop.call_at(when, move || g.push("victim"))));
    stop_after(&ioloop, Duration::from_millis(40));
    util::run(&ioloop);
    assert_eq!(log.entries(), ["first"]);
}

#[test]
fn t7_timeout_removed_by_a_callback_of_the_same_iteration_does_not_run() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    // Past its deadline: due at the first iteration.
    let g = log.clone();
    let handle = ioloop.add_timeout(TimeDelta::seconds(-1), move || g.push("removed timeout"));
    let (g, l) = (log.clone(), ioloop.clone());
    ioloop.add_callback(move || g.push(format!("removed: {}", l.remove_timeout(handle))));
    // Stopping in a callback lets the iteration's due timeouts run (L3):
    // the iteration ends with the victim's phase, and start returns.
    let l = ioloop.clone();
    ioloop.add_callback(move || l.stop());
    util::run(&ioloop);
    assert_eq!(log.entries(), ["removed: true"]);
}

#[test]
fn t8_every_due_timeout_runs_in_one_iteration() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    for i in 0..1_000 {
        let g = log.clone();
        ioloop.add_timeout(TimeDelta::seconds(-1), move || g.push(i.to_string()));
    }
    // A callback added by the first timeout runs on the next iteration, so
    // it must come after all 1000.
    let (g, l) = (log.clone(), ioloop.clone());
    ioloop.add_callback(move || {
        let g = g.clone();
        let l2 = l.clone();
        l.add_callback(move || {
            g.push("next iteration");
            l2.stop();
        });
    });
    util::run(&ioloop);
    let entries = log.entries();
    assert_eq!(entries.len(), 1_001);
    assert_eq!(entries.last().unwrap(), "next iteration");
}

#[test]
fn t9_timeout_created_during_an_iteration_runs_next_iteration_even_if_past() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    let (g, l) = (log.clone(), ioloop.clone());
    ioloop.add_timeout(TimeDelta::seconds(-1), move || {
        g.push("T1");
        // Already due, but created during this iteration.
        let g2 = g.clone();
        l.add_timeout(TimeDelta::seconds(-10), move || {
            g2.push("T2 (past deadline)")
        });
    });
    let g = log.clone();
    // Also due this iteration, after T1 in (deadline, insertion) order.
    ioloop.add_timeout(TimeDelta::seconds(-1), move || g.push("T3"));
    stop_after(&ioloop, Duration::from_millis(30));
    util::run(&ioloop);
    assert_eq!(log.entries(), ["T1", "T3", "T2 (past deadline)"]);
}

#[test]
fn t10_callbacks_run_before_due_timeouts_within_an_iteration() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    let g = log.clone();
    ioloop.add_timeout(TimeDelta::seconds(-1), move || g.push("timeout"));
    let g = log.clone();
    ioloop.add_callback(move || g.push("callback"));
    stop_after(&ioloop, Duration::from_millis(20));
    util::run(&ioloop);
    assert_eq!(log.entries(), ["callback", "timeout"]);
}

#[test]
fn t11_thousands_of_add_remove_pairs_leave_a_working_loop() {
    let ioloop = TestLoop::new();
    for _ in 0..2_000 {
        let h = ioloop.call_later(Duration::from_secs(3600), || unreachable!());
        assert!(ioloop.remove_timeout(h));
    }
    let fired = Rc::new(Cell::new(false));
    let (f, l) = (fired.clone(), ioloop.clone());
    ioloop.call_later(Duration::from_millis(1), move || {
        f.set(true);
        l.stop();
    });
    util::run(&ioloop);
    assert!(fired.get());
}

#[test]
fn t12_a_one_microsecond_timedelta_is_a_valid_near_immediate_timeout() {
    let ioloop = TestLoop::new();
    let l = ioloop.clone();
    let start = Instant::now();
    ioloop.add_timeout(TimeDelta::microseconds(1), move || l.stop());
    util::run(&ioloop);
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn timeouts_never_fire_early_by_the_loop_clock() {
    let ioloop = TestLoop::new();
    let early = Rc::new(Cell::new(0));
    for ms in [1u64, 3, 7, 15, 30] {
        let (l, e) = (ioloop.clone(), early.clone());
        let deadline = ioloop.time() + ms as f64 / 1000.0;
        ioloop.call_at(deadline, move || {
            if l.time() < deadline {
                e.set(e.get() + 1);
            }
        });
        let started = Instant::now();
        let l = ioloop.clone();
        ioloop.call_later(Duration::from_millis(ms), move || {
            assert!(
                started.elapsed() >= Duration::from_millis(ms),
                "fired early"
            );
            l.stop();
        });
        util::run(&ioloop);
    }
    assert_eq!(early.get(), 0);
}

#[test]
fn a_handle_from_another_loop_is_a_no_op() {
    let a = TestLoop::new();
    let b = TestLoop::new();
    let fired = Rc::new(Cell::new(false));
    let (f, l) = (fired.clone(), a.clone());
    let ha = a.call_later(Duration::from_millis(1), move || {
        f.set(true);
        l.stop();
    });
    let _hb = b.call_later(Duration::from_millis(1), || {});
    assert!(!b.remove_timeout(ha), "a's handle means nothing to b");
    util::run(&a);
    assert!(fired.get());
}

#[test]
fn a_past_wall_clock_deadline_is_due_at_once() {
    let ioloop = TestLoop::new();
    let l = ioloop.clone();
    let start = Instant::now();
    ioloop.add_timeout(Utc::now() - TimeDelta::hours(1), move || l.stop());
    util::run(&ioloop);
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn the_loop_sleeps_until_the_next_deadline() {
    // O3 with the loop's own clock: a 50 ms timeout alone on the loop fires
    // no earlier than 50 ms and (generously) within 5 s.
    let ioloop = TestLoop::new();
    let started = ioloop.time();
    let at = Rc::new(Cell::new(0.0));
    let (a, l) = (at.clone(), ioloop.clone());
    ioloop.call_later(Duration::from_millis(50), move || {
        a.set(l.time());
        l.stop();
    });
    util::run(&ioloop);
    let elapsed = at.get() - started;
    assert!((0.050..5.0).contains(&elapsed), "{elapsed}");
}

#[test]
fn dropping_a_removed_timeout_may_use_the_loop() {
    // remove_timeout drops the callback outside any internal borrow.
    struct UsesLoop(IOLoop);
    impl Drop for UsesLoop {
        fn drop(&mut self) {
            let l = self.0.clone();
            self.0
                .call_later(Duration::from_millis(1), move || l.stop());
        }
    }
    let ioloop = TestLoop::new();
    let guard = UsesLoop(ioloop.clone());
    let h = ioloop.call_later(Duration::from_secs(3600), move || drop(guard));
    ioloop.remove_timeout(h);
    util::run(&ioloop);
}

/// Waits up to 10 s for the loop's answer on `rx`; without one, stops the
/// loop through `remote` (its own timeouts may be what is broken) and
/// gives `None`.
fn answer_or_stop<T: Send + 'static>(
    remote: ioloop::Remote,
    rx: std::sync::mpsc::Receiver<T>,
) -> Option<T> {
    match rx.recv_timeout(util::LIMIT) {
        Ok(answer) => Some(answer),
        Err(_) => {
            remote.add_callback(|| IOLoop::current().stop());
            None
        }
    }
}

/// A timeout added by another thread while the loop waits for a much later
/// one fires at its own time: the wait is cut short for it.
#[test]
fn a_timeout_added_during_a_long_wait_fires_at_its_own_time() {
    let ioloop = TestLoop::new();
    // The loop blocks waiting for this one.
    ioloop.call_later(Duration::from_secs(60), || {});
    let (tx, rx) = std::sync::mpsc::channel::<f64>();
    let watch = util::PollWatch::this_thread();
    let remote = ioloop.remote();
    let helper = std::thread::spawn(move || {
        watch.wait_until_blocked();
        remote.add_callback(move || {
            let l = IOLoop::current();
            let added = l.time();
            let ll = l.clone();
            l.call_later(Duration::from_millis(50), move || {
                let _ = tx.send(ll.time() - added);
                ll.stop();
            });
        });
        answer_or_stop(remote, rx)
    });
    ioloop.start().expect("start");
    let waited = helper
        .join()
        .expect("helper thread")
        .expect("the 50 ms timeout did not run within 10 s");
    assert!(waited >= 0.05, "ran {waited} s after it was added");
}

/// When the timeout a wait was for is removed, the loop wakes at most once
/// too early for nothing, runs nothing early, and waits again for the next
/// one, which runs on time.
#[test]
fn a_removed_timeout_leaves_the_next_one_on_time() {
    let ioloop = TestLoop::new();
    let start = ioloop.time();
    let log = Log::default();
    let g = log.clone();
    // Long enough that the other thread removes it before it is due.
    let first = ioloop.call_later(Duration::from_millis(500), move || {
        g.push("removed one ran")
    });
    let (tx, rx) = std::sync::mpsc::channel::<f64>();
    let (g, l) = (log.clone(), ioloop.clone());
    ioloop.call_later(Duration::from_millis(800), move || {
        let _ = tx.send(l.time() - start);
        g.push("second");
        l.stop();
    });
    let watch = util::PollWatch::this_thread();
    let remote = ioloop.remote();
    let helper = std::thread::spawn(move || {
        watch.wait_until_blocked();
        remote.add_callback(move || {
            IOLoop::current().remove_timeout(first);
        });
        answer_or_stop(remote, rx)
    });
    ioloop.start().expect("start");
    let ran_after = helper
        .join()
        .expect("helper thread")
        .expect("the second timeout did not run within 10 s");
    assert_eq!(log.entries(), ["second"]);
    assert!(ran_after >= 0.8, "ran after {ran_after} s");
}
