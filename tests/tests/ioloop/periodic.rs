//! Rules P1 to P7: `PeriodicCallback`. Times are read from the loop's
//! clock; bounds are exact below and generous above.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use chrono::TimeDelta;
use ioloop::{CallbackKind, IOLoop, PeriodicCallback};

use crate::util;
use crate::util::TestLoop;

/// Call times (loop clock) of a periodic callback that stops the loop
/// after `calls` calls, optionally sleeping `busy` in each call.
fn call_times(
    period: Duration,
    calls: usize,
    busy: impl Fn(usize) -> Duration + 'static,
) -> (f64, Vec<f64>) {
    let ioloop = TestLoop::new();
    let times = Rc::new(RefCell::new(Vec::new()));
    let (t, l) = (times.clone(), ioloop.clone());
    let periodic = PeriodicCallback::new(
        move || {
            let n = t.borrow().len();
            t.borrow_mut().push(l.time());
            if n + 1 == calls {
                l.stop();
            } else {
                std::thread::sleep(busy(n));
            }
        },
        period,
    )
    .unwrap();
    let started = ioloop.time();
    periodic.start_on(&ioloop);
    util::run(&ioloop);
    periodic.stop();
    let times = times.borrow().clone();
    (started, times)
}

#[test]
fn p1_a_period_that_is_not_positive_is_an_error() {
    let zero = PeriodicCallback::new(|| {}, Duration::ZERO).unwrap_err();
    assert!(zero.to_string().contains("must be positive"), "{zero}");
    assert!(PeriodicCallback::new(|| {}, TimeDelta::milliseconds(-10)).is_err());
    assert!(PeriodicCallback::new(|| {}, TimeDelta::zero()).is_err());
    assert!(PeriodicCallback::new_async(|| async {}, Duration::ZERO).is_err());
    assert!(PeriodicCallback::new(|| {}, Duration::from_nanos(1)).is_ok());
}

#[test]
fn p1_first_call_one_period_after_start_then_every_period() {
    let period = 0.020;
    let (started, times) = call_times(Duration::from_millis(20), 4, |_| Duration::ZERO);
    assert_eq!(times.len(), 4);
    for (k, t) in times.iter().enumerate() {
        // Call k is due at started + (k + 1) * period, never earlier.
        let due = started + (k as f64 + 1.0) * period;
        assert!(*t >= due, "call {k} at {t}, due {due}");
        assert!(*t < due + 1.0, "call {k} very late: {t} vs {due}");
    }
}

#[test]
fn p2_an_overrun_skips_the_missed_calls_and_stays_on_the_grid() {
    // The second call overruns more than two periods. The calls due during
    // it are skipped (no burst), and the next is scheduled on the original
    // grid, not a period after the overrun ended. Lateness does not decide
    // this test: a probe timeout due between the next grid point and "a
    // period after the overrun" must run after the third call, since due
    // timeouts run in deadline order however late the loop is.
    let period = 0.200;
    let ioloop = TestLoop::new();
    let calls = Rc::new(RefCell::new(Vec::new()));
    let overrun = Rc::new(Cell::new((0.0, 0.0))); // (end, probe deadline)
    let probe_after = Rc::new(Cell::new(None)); // calls before the probe
    let started = ioloop.time();
    let (c, o, p, l) = (
        calls.clone(),
        overrun.clone(),
        probe_after.clone(),
        ioloop.clone(),
    );
    let periodic = PeriodicCallback::new(
        move || {
            let n = c.borrow().len();
            c.borrow_mut().push(l.time());
            match n {
                1 => {
                    std::thread::sleep(Duration::from_secs_f64(2.5 * period));
                    // End the overrun in the middle of a slot, so the next
                    // grid point and a period after the end are far apart.
                    let end = loop {
                        let now = l.time();
                        let phase = ((now - started) / period).fract();
                        if (0.2..=0.6).contains(&phase) {
                            break now;
                        }
                        let to_next = (1.3 - phase).rem_euclid(1.0) * period;
                        std::thread::sleep(Duration::from_secs_f64(to_next));
                    };
                    let grid = started + ((end - started) / period).ceil() * period;
                    let probe = (grid + end + period) / 2.0;
                    o.set((end, probe));
                    let (c, p) = (c.clone(), p.clone());
                    l.call_at(probe, move || p.set(Some(c.borrow().len())));
                }
                3 => l.stop(),
                _ => {}
            }
        },
        Duration::from_secs_f64(period),
    )
    .unwrap();
    periodic.start_on(&ioloop);
    util::run(&ioloop);
    periodic.stop();
    let times = calls.borrow().clone();
    let (end, probe) = overrun.get();
    assert_eq!(times.len(), 4);
    // Never early, and no two calls in one grid slot (no burst).
    let slots: Vec<i64> = times
        .iter()
        .map(|t| ((t - started) / period).floor() as i64)
        .collect();
    assert!(slots[0] >= 1, "{slots:?}");
    assert!(
        slots.windows(2).all(|w| w[1] > w[0]),
        "two calls in one slot: {slots:?}"
    );
    // Nothing ran for the slots the overrun covered.
    let end_slot = ((end - started) / period).floor() as i64;
    assert!(
        slots[2] > end_slot,
        "{slots:?}, overrun ended in {end_slot}"
    );
    // The third call's deadline is the grid point after the overrun: before
    // the probe, which is due before a period after the overrun ended.
    assert_eq!(
        probe_after.get(),
        Some(3),
        "the probe at {probe:.3} ran before the third call ({times:?}, overrun ended at {end:.3})"
    );
}

#[test]
fn p3_a_panicking_callback_is_reported_and_the_schedule_goes_on() {
    let ioloop = TestLoop::new();
    let reports = Rc::new(RefCell::new(Vec::new()));
    let r = reports.clone();
    ioloop.set_exception_handler(move |p| {
        r.borrow_mut()
            .push((p.kind(), p.message().map(str::to_owned), p.site().line()))
    });
    let calls = Rc::new(Cell::new(0));
    let (c, l) = (calls.clone(), ioloop.clone());
    let line = line!() + 1;
    let periodic = PeriodicCallback::new(
        move || {
            c.set(c.get() + 1);
            if c.get() == 3 {
                l.stop();
            }
            panic!("tick {}", c.get());
        },
        Duration::from_millis(5),
    )
    .unwrap();
    periodic.start_on(&ioloop);
    assert!(periodic.is_running());
    util::run(&ioloop);
    assert_eq!(calls.get(), 3);
    let reports = reports.borrow();
    assert_eq!(reports.len(), 3);
    assert_eq!(
        reports[0],
        (CallbackKind::Periodic, Some("tick 1".to_owned()), line)
    );
    periodic.stop();
    assert!(!periodic.is_running());
}

#[test]
fn p3_stop_cancels_the_next_call() {
    let ioloop = TestLoop::new();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let periodic =
        PeriodicCallback::new(move || c.set(c.get() + 1), Duration::from_millis(5)).unwrap();
    periodic.start_on(&ioloop);
    periodic.stop();
    periodic.stop(); // idempotent
    assert!(!periodic.is_running());
    // Six periods: a call still scheduled would be due before this stop.
    let l = ioloop.clone();
    ioloop.call_later(Duration::from_millis(30), move || l.stop());
    util::run(&ioloop);
    assert_eq!(calls.get(), 0, "called after stop");
}

#[test]
fn p3_a_callback_can_stop_itself() {
    let ioloop = TestLoop::new();
    let slot: Rc<RefCell<Option<PeriodicCallback>>> = Rc::default();
    let calls = Rc::new(Cell::new(0));
    let (s, c) = (slot.clone(), calls.clone());
    let periodic = PeriodicCallback::new(
        move || {
            c.set(c.get() + 1);
            s.borrow().as_ref().unwrap().stop();
        },
        Duration::from_millis(2),
    )
    .unwrap();
    *slot.borrow_mut() = Some(periodic.clone());
    periodic.start_on(&ioloop);
    util::run_until_idle(&ioloop); // returns once the stopped callback leaves nothing
    assert_eq!(calls.get(), 1);
    assert!(!periodic.is_running());
    slot.borrow_mut().take();
}

#[test]
fn p4_the_loop_is_bound_at_start_not_at_creation() {
    let _serial = util::global_lock();
    let first = TestLoop::new();
    first.make_current();
    let calls = Rc::new(RefCell::new(Vec::new()));
    let c = calls.clone();
    let periodic = PeriodicCallback::new(
        move || {
            let current = IOLoop::current();
            c.borrow_mut().push(current.iteration());
            current.stop();
        },
        Duration::from_millis(2),
    )
    .unwrap();
    // Created while `first` was current; started on `second`.
    let second = TestLoop::new();
    second.make_current();
    periodic.start();
    util::run(&second);
    periodic.stop();
    assert_eq!(calls.borrow().len(), 1);
    assert_eq!(first.iteration(), 0, "the first loop never ran");
    IOLoop::clear_current();
}

#[test]
fn p5_jitter_keeps_calls_near_the_period() {
    let ioloop = TestLoop::new();
    let times = Rc::new(RefCell::new(Vec::new()));
    let (t, l) = (times.clone(), ioloop.clone());
    let periodic = PeriodicCallback::new(
        move || {
            t.borrow_mut().push(l.time());
            if t.borrow().len() == 5 {
                l.stop();
            }
        },
        Duration::from_millis(20),
    )
    .unwrap()
    .with_jitter(0.5);
    assert_eq!(periodic.jitter(), 0.5);
    let started = ioloop.time();
    periodic.start_on(&ioloop);
    util::run(&ioloop);
    periodic.stop();
    let times = times.borrow();
    // Each period is drawn from [15 ms, 25 ms): the k-th call comes at
    // least 15 ms * k after start.
    for (k, t) in times.iter().enumerate() {
        assert!(*t - started >= 0.015 * (k as f64 + 1.0) - 1e-9, "{times:?}");
    }
}

#[test]
#[should_panic(expected = "jitter must be in [0, 1]")]
fn p5_jitter_outside_zero_to_one_panics() {
    let _ = PeriodicCallback::new(|| {}, Duration::from_millis(1))
        .unwrap()
        .with_jitter(1.5);
}

#[test]
fn p7_an_async_callback_is_awaited_before_the_next_call() {
    let ioloop = TestLoop::new();
    let active = Rc::new(Cell::new(0));
    let max_active = Rc::new(Cell::new(0));
    let spans = Rc::new(RefCell::new(Vec::new()));
    let (a, m, s) = (active.clone(), max_active.clone(), spans.clone());
    let periodic = PeriodicCallback::new_async(
        move || {
            let (a, m, s) = (a.clone(), m.clone(), s.clone());
            async move {
                let l = IOLoop::current();
                a.set(a.get() + 1);
                m.set(m.get().max(a.get()));
                let begin = l.time();
                // Three periods long.
                ioloop::sleep(Duration::from_millis(30)).await;
                s.borrow_mut().push((begin, l.time()));
                a.set(a.get() - 1);
                if s.borrow().len() == 3 {
                    l.stop();
                }
            }
        },
        TimeDelta::milliseconds(10),
    )
    .unwrap();
    periodic.start_on(&ioloop);
    util::run(&ioloop);
    periodic.stop();
    assert_eq!(max_active.get(), 1, "calls overlapped");
    let spans = spans.borrow();
    for w in spans.windows(2) {
        assert!(
            w[1].0 >= w[0].1,
            "call began before the previous ended: {spans:?}"
        );
    }
}

#[test]
fn p7_a_panicking_future_is_reported_and_the_schedule_goes_on() {
    let ioloop = TestLoop::new();
    let kinds = Rc::new(RefCell::new(Vec::new()));
    let k = kinds.clone();
    ioloop.set_exception_handler(move |p| k.borrow_mut().push(p.kind()));
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let periodic = PeriodicCallback::new_async(
        move || {
            let c = c.clone();
            async move {
                c.set(c.get() + 1);
                if c.get() == 2 {
                    IOLoop::current().stop();
                }
                ioloop::yield_now().await;
                panic!("async tick");
            }
        },
        Duration::from_millis(2),
    )
    .unwrap();
    periodic.start_on(&ioloop);
    util::run(&ioloop);
    periodic.stop();
    assert_eq!(calls.get(), 2);
    assert!(kinds.borrow().iter().all(|k| *k == CallbackKind::Periodic));
    assert!(!kinds.borrow().is_empty());
}

#[test]
fn an_unreferenced_periodic_callback_does_not_keep_run_going() {
    let ioloop = TestLoop::new();
    let periodic = PeriodicCallback::new(|| {}, Duration::from_millis(1)).unwrap();
    periodic.set_ref(false);
    periodic.start_on(&ioloop);
    assert!(!periodic.is_referenced());
    assert!(!ioloop.is_alive());
    // Runs while a referenced timeout keeps the loop going, then `run`
    // returns with the periodic callback still running.
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    let watcher =
        PeriodicCallback::new(move || t.set(t.get() + 1), Duration::from_millis(1)).unwrap();
    watcher.set_ref(false);
    watcher.start_on(&ioloop);
    ioloop.call_later(Duration::from_millis(30), || {});
    util::run_until_idle(&ioloop);
    assert!(ticks.get() >= 1, "ran while the loop was alive");
    assert!(periodic.is_running());
    periodic.set_ref(true);
    assert!(ioloop.is_alive());
    periodic.stop();
    watcher.stop();
    assert!(!ioloop.is_alive());
}
