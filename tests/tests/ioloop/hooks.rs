//! Prepare, check and idle hooks: where they run in the iteration, idle's
//! libev semantics, stopping, panics.

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use ioloop::{CallbackKind, Events, HookKind, IOLoop};

use crate::util::TestLoop;
use crate::util::{self, Log};

/// A prepare hook that queues an empty callback before every poll, so no
/// poll waits.
fn keep_busy(ioloop: &IOLoop) -> ioloop::Hook {
    let l = ioloop.clone();
    ioloop.add_prepare(move |_| l.add_callback(|| {}))
}

#[test]
fn phases_run_in_order_callbacks_timeouts_prepare_poll_handlers_check() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    let (a, b) = util::readable_pair(b"x");
    let (g, l) = (log.clone(), ioloop.clone());
    ioloop
        .add_handler(b.as_raw_fd(), Events::READ, move |fd, _| {
            (&b).read_exact(&mut [0]).unwrap();
            g.push(format!("handler {}", l.iteration()));
            l.remove_handler(fd);
        })
        .unwrap();
    let (g, l) = (log.clone(), ioloop.clone());
    let prepare = ioloop.add_prepare(move |_| g.push(format!("prepare {}", l.iteration())));
    let (g, l) = (log.clone(), ioloop.clone());
    let check = ioloop.add_check(move |_| {
        g.push(format!("check {}", l.iteration()));
        l.stop();
    });
    let (g, l) = (log.clone(), ioloop.clone());
    ioloop.add_callback(move || g.push(format!("callback {}", l.iteration())));
    let (g, l) = (log.clone(), ioloop.clone());
    ioloop.add_timeout(Duration::ZERO, move || {
        g.push(format!("timeout {}", l.iteration()))
    });
    util::run(&ioloop);
    // The iteration count ticks at the poll, between prepare and check.
    assert_eq!(
        log.entries(),
        [
            "callback 0",
            "timeout 0",
            "prepare 0",
            "handler 1",
            "check 1"
        ]
    );
    prepare.stop();
    check.stop();
    drop(a);
}

#[test]
fn prepare_and_check_run_once_per_iteration_and_stop_when_asked() {
    let ioloop = TestLoop::new();
    let counts = Rc::new(RefCell::new((0, 0)));
    let (c, l) = (counts.clone(), ioloop.clone());
    let prepare = ioloop.add_prepare(move |_| c.borrow_mut().0 += 1);
    let c = counts.clone();
    let check = ioloop.add_check(move |hook| {
        c.borrow_mut().1 += 1;
        if c.borrow().1 == 5 {
            hook.stop();
        }
    });
    // A chain of callbacks: one iteration each.
    fn chain(l: IOLoop, left: u32) {
        if left == 0 {
            l.stop();
        } else {
            let l2 = l.clone();
            l.add_callback(move || chain(l2, left - 1));
        }
    }
    ioloop.add_callback(move || chain(l, 9));
    util::run(&ioloop);
    let (prepares, checks) = *counts.borrow();
    assert_eq!(
        prepares as u64,
        ioloop.iteration(),
        "one prepare per poll phase"
    );
    assert_eq!(checks, 5, "stopped itself after five");
    assert!(!check.is_active());
    assert!(prepare.is_active());
    assert!(prepare.stop());
    assert!(!prepare.stop(), "idempotent");
}

#[test]
fn idle_hooks_do_not_run_while_callbacks_are_queued() {
    let ioloop = TestLoop::new();
    let chain_left = Rc::new(Cell::new(100u32));
    let idle_saw = Rc::new(RefCell::new(Vec::new()));
    let (left, seen, l) = (chain_left.clone(), idle_saw.clone(), ioloop.clone());
    ioloop.add_idle(move |hook| {
        seen.borrow_mut().push((left.get(), l.pending()));
        hook.stop();
        l.stop();
    });
    fn chain(l: IOLoop, left: Rc<Cell<u32>>) {
        left.set(left.get() - 1);
        if left.get() > 0 {
            let l2 = l.clone();
            l.add_callback(move || chain(l2, left));
        }
    }
    let (l, left) = (ioloop.clone(), chain_left.clone());
    ioloop.add_callback(move || chain(l, left));
    util::run(&ioloop);
    assert_eq!(chain_left.get(), 0);
    assert_eq!(
        *idle_saw.borrow(),
        [(0, 0)],
        "the idle hook ran once, after the whole chain, with nothing queued"
    );
}

#[test]
fn idle_hooks_do_not_run_while_a_descriptor_is_ready() {
    let ioloop = TestLoop::new();
    let (mut a, b) = util::socketpair();
    a.write_all(&[0; 10]).unwrap();
    let reads = Rc::new(Cell::new(0));
    let (r, l) = (reads.clone(), ioloop.clone());
    // Reads one byte per call: ready for ten iterations.
    ioloop
        .add_handler(b.as_raw_fd(), Events::READ, move |fd, _| {
            (&b).read_exact(&mut [0]).unwrap();
            r.set(r.get() + 1);
            if r.get() == 10 {
                l.remove_handler(fd);
            }
        })
        .unwrap();
    // The reads done when the idle hook ran: all ten, since the
    // descriptor stays ready until then.
    let idle_saw = Rc::new(RefCell::new(Vec::new()));
    let (r, seen, l) = (reads.clone(), idle_saw.clone(), ioloop.clone());
    ioloop.add_idle(move |hook| {
        seen.borrow_mut().push(r.get());
        hook.stop();
        l.stop();
    });
    util::run(&ioloop);
    assert_eq!(reads.get(), 10);
    assert_eq!(*idle_saw.borrow(), [10], "idle ran while data was left");
}

#[test]
fn an_idle_hook_keeps_the_poll_from_blocking() {
    let ioloop = TestLoop::new();
    // Nothing else would wake the loop for an hour.
    let far = ioloop.call_later(Duration::from_secs(3600), || unreachable!());
    let calls = Rc::new(Cell::new(0));
    let (c, l) = (calls.clone(), ioloop.clone());
    let started = ioloop.time();
    ioloop.add_idle(move |hook| {
        c.set(c.get() + 1);
        if c.get() == 50 {
            hook.stop();
            l.stop();
        }
    });
    util::run(&ioloop);
    assert_eq!(calls.get(), 50);
    assert!(ioloop.time() - started < 5.0, "the loop slept");
    ioloop.remove_timeout(far);
}

#[test]
fn idle_hooks_run_between_sparse_timeouts() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    let g = log.clone();
    ioloop.add_idle(move |hook| {
        g.push("idle");
        hook.stop();
    });
    let (g, l) = (log.clone(), ioloop.clone());
    ioloop.call_later(Duration::from_millis(20), move || {
        g.push("timeout");
        l.stop();
    });
    util::run(&ioloop);
    assert_eq!(log.entries(), ["idle", "timeout"]);
}

#[test]
fn a_hook_added_during_a_pass_runs_on_the_next_one() {
    let ioloop = TestLoop::new();
    let busy = keep_busy(&ioloop);
    let log = Log::default();
    let (g, l) = (log.clone(), ioloop.clone());
    let added = Rc::new(Cell::new(false));
    let a = added.clone();
    ioloop.add_check(move |hook| {
        g.push(format!("first {}", l.iteration()));
        if !a.replace(true) {
            let (g2, l2) = (g.clone(), l.clone());
            l.add_check(move |inner| {
                g2.push(format!("second {}", l2.iteration()));
                inner.stop();
                l2.stop();
            });
        } else {
            hook.stop();
        }
    });
    util::run(&ioloop);
    assert_eq!(log.entries(), ["first 1", "first 2", "second 2"]);
    busy.stop();
}

#[test]
fn a_hook_stopped_by_an_earlier_one_in_the_pass_does_not_run() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    let victim: Rc<RefCell<Option<ioloop::Hook>>> = Rc::default();
    let (v, g, l) = (victim.clone(), log.clone(), ioloop.clone());
    ioloop.add_prepare(move |hook| {
        let stopped = v.borrow().as_ref().map(ioloop::Hook::stop);
        g.push(format!("stopped the victim: {stopped:?}"));
        hook.stop();
        l.stop();
    });
    let g = log.clone();
    *victim.borrow_mut() = Some(ioloop.add_prepare(move |_| g.push("victim ran")));
    util::run(&ioloop);
    assert_eq!(log.entries(), ["stopped the victim: Some(true)"]);
}

#[test]
fn a_panicking_hook_is_reported_and_stays_active() {
    let ioloop = TestLoop::new();
    let busy = keep_busy(&ioloop);
    let kinds = Rc::new(RefCell::new(Vec::new()));
    let k = kinds.clone();
    ioloop.set_exception_handler(move |p| k.borrow_mut().push(p.kind()));
    let calls = Rc::new(Cell::new(0));
    let (c, l) = (calls.clone(), ioloop.clone());
    let check = ioloop.add_check(move |_| {
        c.set(c.get() + 1);
        if c.get() == 3 {
            l.stop();
        }
        panic!("check hook");
    });
    util::run(&ioloop);
    assert_eq!(calls.get(), 3);
    assert_eq!(
        *kinds.borrow(),
        vec![CallbackKind::Hook(HookKind::Check); 3]
    );
    assert!(check.is_active());
    assert_eq!(check.kind(), HookKind::Check);
    check.stop();
    busy.stop();
}

#[test]
fn stopping_a_hook_drops_its_callback() {
    let ioloop = TestLoop::new();
    let captured = Rc::new(());
    let c = captured.clone();
    let hook = ioloop.add_idle(move |_| {
        let _ = &c;
    });
    assert_eq!(Rc::strong_count(&captured), 2);
    hook.stop();
    assert_eq!(Rc::strong_count(&captured), 1);
    // And closing the loop drops the callbacks of active hooks.
    let c = captured.clone();
    let other = ioloop.add_check(move |_| {
        let _ = &c;
    });
    ioloop.close(false).unwrap();
    assert_eq!(Rc::strong_count(&captured), 1);
    assert!(!other.is_active());
}
