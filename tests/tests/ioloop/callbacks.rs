//! Rules C1 to C10: callbacks, local and from other threads.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use ioloop::IOLoop;

use crate::util::TestLoop;
use crate::util::{self, Log};

#[test]
fn c1_callbacks_run_in_fifo_order() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    for i in 0..50 {
        let g = log.clone();
        ioloop.add_callback(move || g.push(i.to_string()));
    }
    let l = ioloop.clone();
    ioloop.add_callback(move || l.stop());
    util::run(&ioloop);
    let expected: Vec<String> = (0..50).map(|i| i.to_string()).collect();
    assert_eq!(log.entries(), expected);
}

#[test]
fn c2_callback_added_during_an_iteration_runs_on_the_next() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    // A timeout due before the first iteration: it runs in iteration 1,
    // after iteration 1's callbacks.
    let g = log.clone();
    ioloop.add_timeout(TimeDelta::seconds(-1), move || {
        g.push("timeout (iteration 1)")
    });
    let (g, l) = (log.clone(), ioloop.clone());
    ioloop.add_callback(move || {
        g.push("A (iteration 1)");
        let (g, l2) = (g.clone(), l.clone());
        l.add_callback(move || {
            g.push("B (iteration 2)");
            l2.stop();
        });
    });
    util::run(&ioloop);
    assert_eq!(
        log.entries(),
        [
            "A (iteration 1)",
            "timeout (iteration 1)",
            "B (iteration 2)"
        ]
    );
}

#[test]
fn c2_callbacks_added_by_handlers_and_timeouts_run_on_the_next_iteration() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    let (g, l) = (log.clone(), ioloop.clone());
    ioloop.add_timeout(TimeDelta::seconds(-1), move || {
        g.push("timeout");
        let g2 = g.clone();
        l.add_callback(move || g2.push("callback from timeout"));
        let l2 = l.clone();
        l.add_callback(move || l2.stop());
    });
    let g = log.clone();
    ioloop.add_callback(move || g.push("first"));
    util::run(&ioloop);
    assert_eq!(log.entries(), ["first", "timeout", "callback from timeout"]);
}

#[test]
fn c3_a_pending_callback_means_the_loop_does_not_sleep() {
    let ioloop = TestLoop::new();
    // Far-away timeout: if the loop slept until it, the test would hit the
    // safety limit.
    ioloop.call_later(Duration::from_secs(3600), || {});
    let l = ioloop.clone();
    let started = Instant::now();
    ioloop.add_timeout(Duration::ZERO, move || {
        let l2 = l.clone();
        l.add_callback(move || l2.stop());
    });
    util::run(&ioloop);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn c4_remote_add_callback_wakes_a_sleeping_loop() {
    let ioloop = TestLoop::new();
    let remote = ioloop.remote();
    let watch = util::PollWatch::this_thread();
    let delivered = Arc::new(Mutex::new(None));
    let d = delivered.clone();
    let sender = std::thread::spawn(move || {
        watch.wait_until_blocked();
        let sent = Instant::now();
        remote.add_callback(move || {
            *d.lock().unwrap() = Some(sent.elapsed());
            IOLoop::current().stop();
        });
    });
    // Nothing else would wake the loop before the 10 s safety limit.
    util::run(&ioloop);
    sender.join().unwrap();
    let delivered = delivered.lock().unwrap().expect("the callback ran");
    // Well inside Tornado's 0.1 s bound, with a generous margin for a
    // loaded machine.
    assert!(delivered < Duration::from_secs(2), "{delivered:?}");
}

#[test]
fn c4_remote_callbacks_from_many_threads_all_run_in_per_thread_order() {
    const THREADS: usize = 4;
    const EACH: usize = 5_000;
    let ioloop = TestLoop::new();
    let remote = ioloop.remote();
    let done = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..THREADS)
        .map(|t| {
            let remote = remote.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                for i in 0..EACH {
                    let done = done.clone();
                    remote.add_callback(move || {
                        let current = IOLoop::current();
                        // Per-thread FIFO: checked through a thread-local
                        // view of the loop's state.
                        ORDER.with(|o| {
                            let mut o = o.borrow_mut();
                            if let Some(prev) = o[t] {
                                assert_eq!(prev + 1, i, "thread {t} out of order");
                            }
                            o[t] = Some(i);
                        });
                        if done.fetch_add(1, Ordering::SeqCst) + 1 == THREADS * EACH {
                            current.stop();
                        }
                    });
                }
            })
        })
        .collect();
    thread_local! {
        static ORDER: std::cell::RefCell<Vec<Option<usize>>> =
            std::cell::RefCell::new(vec![None; THREADS]);
    }
    util::run_for_at_most(&ioloop, Duration::from_secs(30));
    for s in senders {
        s.join().unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), THREADS * EACH);
    ORDER.with(|o| assert!(o.borrow().iter().all(|v| *v == Some(EACH - 1))));
}

#[test]
fn c7_add_callback_on_a_closed_loop_is_dropped_silently() {
    let ioloop = TestLoop::new();
    ioloop.close(false).unwrap();
    ioloop.add_callback(|| unreachable!());
    ioloop.remote().add_callback(|| unreachable!());
    let handed_back = std::sync::Arc::new(AtomicUsize::new(0));
    let h = handed_back.clone();
    let rejected = ioloop
        .remote()
        .try_add_callback(move || {
            h.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap_err();
    (rejected.into_inner())();
    assert_eq!(
        handed_back.load(Ordering::SeqCst),
        1,
        "the rejected callback is handed back"
    );
}

#[test]
fn c7_racing_remote_add_callback_and_close_never_fails() {
    for _ in 0..20 {
        let ioloop = TestLoop::new();
        let remote = ioloop.remote();
        let racer = std::thread::spawn(move || {
            for _ in 0..1_000 {
                remote.add_callback(|| {});
            }
        });
        // Run briefly, then close while the other thread may still send.
        let l = ioloop.clone();
        ioloop.add_callback(move || l.stop());
        util::run(&ioloop);
        ioloop.close(true).unwrap();
        racer.join().unwrap();
    }
}

#[test]
fn c10_spawn_callback_runs_and_its_panic_is_logged_by_the_loop() {
    util::capture_logs();
    // The default exception handler: this test reads its log.
    let ioloop = IOLoop::new().unwrap();
    ioloop.spawn_callback(|| panic!("fire and forget"));
    let ran = Rc::new(Cell::new(false));
    let (r, l) = (ran.clone(), ioloop.clone());
    ioloop.spawn_callback(move || {
        r.set(true);
        l.stop();
    });
    util::run(&ioloop);
    assert!(ran.get());
    let errors = util::logged(log::Level::Error);
    assert!(
        errors.iter().any(|e| e.contains("fire and forget")),
        "{errors:?}"
    );
}
