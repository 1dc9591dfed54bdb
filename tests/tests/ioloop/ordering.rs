//! Rules O1 to O5: the order of one iteration, and EINTR.

use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use ioloop::{Events, IOLoop};

use crate::util::TestLoop;
use crate::util::{self, Log};

#[test]
fn o1_callbacks_then_due_timeouts_then_poll_then_handlers() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    let (_a, b) = util::readable_pair(b"x");
    let (g, l) = (log.clone(), ioloop.clone());
    ioloop
        .add_handler(b.as_raw_fd(), Events::READ, move |fd, _| {
            g.push("handler");
            l.remove_handler(fd);
            let (g, l2) = (g.clone(), l.clone());
            l.add_callback(move || {
                g.push("callback from handler");
                l2.stop();
            });
        })
        .unwrap();
    let g = log.clone();
    ioloop.add_timeout(TimeDelta::seconds(-1), move || g.push("timeout"));
    let g = log.clone();
    ioloop.add_callback(move || g.push("callback"));
    util::run(&ioloop);
    assert_eq!(
        log.entries(),
        ["callback", "timeout", "handler", "callback from handler"]
    );
}

#[test]
fn o2_handlers_of_one_poll_all_run_before_the_next_iterations_callbacks() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    let pairs: Vec<_> = (0..5).map(|_| util::readable_pair(b"x")).collect();
    for (i, (_, b)) in pairs.iter().enumerate() {
        let (g, l) = (log.clone(), ioloop.clone());
        ioloop
            .add_handler(b.as_raw_fd(), Events::READ, move |fd, _| {
                g.push("handler");
                l.remove_handler(fd);
                let g = g.clone();
                l.add_callback(move || g.push(format!("callback {i}")));
            })
            .unwrap();
    }
    let l = ioloop.clone();
    ioloop.call_later(Duration::from_millis(50), move || l.stop());
    util::run(&ioloop);
    let entries = log.entries();
    assert_eq!(entries.len(), 10);
    assert!(entries[..5].iter().all(|e| e == "handler"), "{entries:?}");
    assert!(
        entries[5..].iter().all(|e| e.starts_with("callback")),
        "{entries:?}"
    );
}

#[test]
fn o3_poll_does_not_block_while_callbacks_are_queued_even_with_fds() {
    // With a descriptor registered (so polls are real) and a long timeout
    // pending, a chain of callbacks still completes promptly.
    let ioloop = TestLoop::new();
    let (_a, b) = util::socketpair();
    ioloop
        .add_handler(b.as_raw_fd(), Events::READ, |_, _| {})
        .unwrap();
    ioloop.call_later(Duration::from_secs(3600), || {});
    fn chain(l: IOLoop, n: u32) {
        if n == 0 {
            l.stop();
        } else {
            let l2 = l.clone();
            l.add_callback(move || chain(l2, n - 1));
        }
    }
    let l = ioloop.clone();
    ioloop.add_callback(move || chain(l, 1_000));
    util::run_for_at_most(&ioloop, Duration::from_secs(10));
    ioloop.remove_handler(b.as_raw_fd());
}

#[test]
fn o3_a_ready_fd_is_served_while_callbacks_keep_the_loop_busy() {
    // Poll skipping is bounded: an endless stream of callbacks does not
    // starve I/O.
    let ioloop = TestLoop::new();
    let (_a, b) = util::readable_pair(b"x");
    let served = std::rc::Rc::new(std::cell::Cell::new(false));
    let (s, l) = (served.clone(), ioloop.clone());
    ioloop
        .add_handler(b.as_raw_fd(), Events::READ, move |fd, _| {
            s.set(true);
            l.remove_handler(fd);
        })
        .unwrap();
    fn busy(l: IOLoop, served: std::rc::Rc<std::cell::Cell<bool>>, n: u32) {
        if served.get() {
            l.stop();
        } else if n == 0 {
            panic!("the handler was starved");
        } else {
            let l2 = l.clone();
            l.add_callback(move || busy(l2, served, n - 1));
        }
    }
    let (l, s) = (ioloop.clone(), served.clone());
    ioloop.add_callback(move || busy(l, s, 10 * IOLoop::MAX_POLL_SKIPS));
    util::run(&ioloop);
    assert!(served.get());
}

#[test]
fn o5_eintr_while_polling_is_a_wakeup_not_an_error() {
    let interrupted = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGUSR2, interrupted.clone()).unwrap();
    let ioloop = TestLoop::new();
    let me = util::sys::pthread_self();
    let watch = util::PollWatch::this_thread();
    let remote = ioloop.remote();
    let i = interrupted.clone();
    // The signal lands while the loop is blocked in epoll_wait; the loop
    // must go back to polling, not fail, and then stop when asked.
    let sender = std::thread::spawn(move || {
        watch.wait_until_blocked();
        assert_eq!(util::sys::pthread_kill(me, signal_hook::consts::SIGUSR2), 0);
        let sent = Instant::now();
        while !i.load(Ordering::SeqCst) {
            assert!(sent.elapsed() < util::LIMIT, "the signal never arrived");
            std::thread::yield_now();
        }
        watch.wait_until_blocked();
        remote.stop();
    });
    util::run(&ioloop); // fails if start() returned an error
    sender.join().unwrap();
    assert!(interrupted.load(Ordering::SeqCst));
}
