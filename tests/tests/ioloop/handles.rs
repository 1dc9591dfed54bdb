//! `call_soon` → `Handle` and `call_later_handle`/`call_at_handle` →
//! `TimerHandle`: cancellable scheduling, asyncio and evergreen style.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use ioloop::{CallbackKind, IOLoop};

use crate::util::TestLoop;
use crate::util::{self, Log};

#[test]
fn a_cancelled_call_soon_never_runs() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    let g = log.clone();
    let handle = ioloop.call_soon(move || g.push("cancelled"));
    assert!(handle.is_pending());
    assert!(handle.cancel());
    assert!(handle.cancelled());
    assert!(!handle.is_pending());
    let (g, l) = (log.clone(), ioloop.clone());
    ioloop.call_soon(move || {
        g.push("kept");
        l.stop();
    });
    util::run(&ioloop);
    assert_eq!(log.entries(), ["kept"]);
}

#[test]
fn cancel_is_idempotent_and_a_no_op_after_the_callback_ran() {
    let ioloop = TestLoop::new();
    let handle = ioloop.call_soon(|| {});
    assert!(handle.cancel());
    assert!(!handle.cancel(), "second cancel");
    assert!(handle.cancelled());

    let ran = ioloop.call_soon(|| {});
    let l = ioloop.clone();
    ioloop.call_soon(move || l.stop());
    util::run(&ioloop);
    assert!(!ran.is_pending());
    assert!(!ran.cancel(), "already ran");
    assert!(!ran.cancelled(), "it ran, it was not cancelled");
}

#[test]
fn call_soon_and_add_callback_share_one_fifo_queue() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    for i in 0..6 {
        let g = log.clone();
        if i % 2 == 0 {
            ioloop.add_callback(move || g.push(i.to_string()));
        } else {
            let _ = ioloop.call_soon(move || g.push(i.to_string()));
        }
    }
    let l = ioloop.clone();
    ioloop.add_callback(move || l.stop());
    util::run(&ioloop);
    assert_eq!(log.entries(), ["0", "1", "2", "3", "4", "5"]);
}

#[test]
fn cancelling_drops_the_callback_at_once() {
    let ioloop = TestLoop::new();
    let captured = Rc::new(());
    let c = captured.clone();
    let handle = ioloop.call_soon(move || drop(c));
    assert_eq!(Rc::strong_count(&captured), 2);
    handle.cancel();
    assert_eq!(Rc::strong_count(&captured), 1, "freed by cancel, not later");
}

#[test]
fn a_callback_can_cancel_a_later_one_in_the_same_iteration() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    let later: Rc<Cell<Option<ioloop::Handle>>> = Rc::default();
    let (l2, g) = (later.clone(), log.clone());
    ioloop.call_soon(move || {
        let cancelled = l2.take().map(|h| h.cancel());
        g.push(format!("cancelled: {cancelled:?}"));
    });
    let g = log.clone();
    later.set(Some(ioloop.call_soon(move || g.push("cancelled one ran"))));
    // Stopping lets the rest of this iteration's callbacks run (L3).
    let l = ioloop.clone();
    ioloop.call_soon(move || l.stop());
    util::run(&ioloop);
    assert_eq!(log.entries(), ["cancelled: Some(true)"]);
}

#[test]
fn a_panic_in_call_soon_is_reported_with_its_site() {
    let ioloop = TestLoop::new();
    let seen = Rc::new(Cell::new(None));
    let s = seen.clone();
    ioloop.set_exception_handler(move |p| s.set(Some((p.kind(), p.site().line()))));
    let _ = ioloop.call_soon(|| panic!("soon"));
    let line = line!() - 1;
    let l = ioloop.clone();
    ioloop.add_callback(move || l.stop());
    util::run(&ioloop);
    assert_eq!(seen.get(), Some((CallbackKind::Callback, line)));
}

#[test]
fn call_soon_on_a_closed_loop_drops_the_callback() {
    let ioloop = TestLoop::new();
    ioloop.close(false).unwrap();
    let handle = ioloop.call_soon(|| unreachable!());
    assert!(!handle.is_pending());
    assert!(!handle.cancel());
}

#[test]
fn a_cancelled_timer_handle_never_runs_and_leaves_the_heap() {
    let ioloop = TestLoop::new();
    let timer = ioloop.call_later_handle(Duration::from_millis(5), || unreachable!("cancelled"));
    assert!(timer.is_pending());
    assert!(timer.cancel());
    assert!(!timer.cancel());
    assert!(timer.cancelled());
    assert!(!timer.is_pending());
    assert!(!ioloop.is_alive(), "no tombstone keeps the loop alive");
    assert!(
        !ioloop.remove_timeout(timer.timeout_handle()),
        "already removed"
    );
    let l = ioloop.clone();
    ioloop.call_later(Duration::from_millis(30), move || l.stop());
    util::run(&ioloop);
}

#[test]
fn call_at_handle_fires_at_its_deadline_and_reports_when() {
    let ioloop = TestLoop::new();
    let when = ioloop.time() + 0.010;
    let fired = Rc::new(Cell::new(0.0));
    let (f, l) = (fired.clone(), ioloop.clone());
    let timer = ioloop.call_at_handle(when, move || {
        f.set(l.time());
        l.stop();
    });
    assert_eq!(timer.when(), when_rounded(when));
    util::run(&ioloop);
    assert!(fired.get() >= timer.when());
    assert!(!timer.is_pending());
    assert!(!timer.cancel(), "it ran");
    assert!(!timer.cancelled());
}

/// `when()` is the deadline in whole nanoseconds.
fn when_rounded(secs: f64) -> f64 {
    ((secs * 1e9) as u64) as f64 / 1e9
}

#[test]
fn a_timer_handle_works_with_remove_timeout_and_references() {
    let ioloop = TestLoop::new();
    let timer = ioloop.add_timeout_handle(Duration::from_secs(3600), || unreachable!());
    assert!(ioloop.is_alive());
    assert!(timer.set_ref(false));
    assert!(!ioloop.is_alive());
    assert!(ioloop.remove_timeout(timer.timeout_handle()));
    assert!(!timer.is_pending());
    assert!(!timer.cancel(), "removed through remove_timeout");
    assert!(!timer.set_ref(true));
}

#[test]
fn handles_outlive_their_loop_harmlessly() {
    let ioloop = IOLoop::builder()
        .make_current(ioloop::MakeCurrent::Never)
        .build()
        .unwrap();
    let soon = ioloop.call_soon(|| {});
    let timer = ioloop.call_later_handle(Duration::from_secs(1), || {});
    drop(ioloop);
    assert!(!soon.is_pending(), "dropped with the loop");
    assert!(!soon.cancel());
    assert!(!timer.is_pending());
    assert!(!timer.cancel());
}
