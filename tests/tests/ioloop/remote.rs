//! The `Send + Sync` remote handle: the one door from other threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ioloop::{IOLoop, MakeCurrent, Remote};

use crate::util;

fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}

#[test]
fn the_remote_handle_is_send_sync_and_clone() {
    // That IOLoop is not Send is shown by a compile_fail doctest on IOLoop.
    assert_send_sync_clone::<Remote>();
}

#[test]
fn remote_stop_from_another_thread_stops_a_running_loop() {
    let ioloop = IOLoop::new().unwrap();
    let remote = ioloop.remote();
    let started = Instant::now();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        remote.stop();
    });
    util::run(&ioloop);
    t.join().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn remotes_of_the_same_loop_compare_equal() {
    let a = IOLoop::new().unwrap();
    let b = IOLoop::new().unwrap();
    assert!(a.remote().same_loop(&a.remote().clone()));
    assert!(!a.remote().same_loop(&b.remote()));
    assert!(format!("{:?}", a.remote()).contains("closed: false"));
}

#[test]
fn remote_callbacks_keep_running_across_restarts() {
    let ioloop = IOLoop::new().unwrap();
    let remote = ioloop.remote();
    for round in 0..3 {
        let (tx, rx) = std::sync::mpsc::channel();
        let r = remote.clone();
        let t = std::thread::spawn(move || {
            r.add_callback(move || {
                tx.send(round).unwrap();
                IOLoop::current().stop();
            });
        });
        util::run(&ioloop);
        t.join().unwrap();
        assert_eq!(rx.try_recv().unwrap(), round);
    }
}

const THREADS: usize = 4;
const PER_THREAD: usize = 20_000;

thread_local! {
    /// On the loop's thread: how many callbacks of each sender have run.
    static SEEN: std::cell::RefCell<[usize; THREADS]> = const { std::cell::RefCell::new([0; THREADS]) };
}

#[test]
fn bursts_from_several_threads_all_run_in_each_senders_order_with_no_lost_wakeup() {
    // Senders post in bursts with pauses between them, so the loop drains
    // the queue, parks in poll, and must be woken by the next burst.
    let ioloop = IOLoop::new().unwrap();
    SEEN.set([0; THREADS]);
    let senders: Vec<_> = (0..THREADS)
        .map(|sender| {
            let remote = ioloop.remote();
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    remote.add_callback(move || {
                        let total = SEEN.with_borrow_mut(|seen| {
                            assert_eq!(seen[sender], i, "sender {sender} out of order");
                            seen[sender] = i + 1;
                            seen.iter().sum::<usize>()
                        });
                        if total == THREADS * PER_THREAD {
                            IOLoop::current().stop();
                        }
                    });
                    if i % 2_000 == 1_999 {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
            })
        })
        .collect();
    // A lost wakeup would leave the loop asleep with callbacks queued and
    // nothing else to wake it: the 60 s safety net would fail the test.
    util::run_for_at_most(&ioloop, Duration::from_secs(60));
    for sender in senders {
        sender.join().unwrap();
    }
    assert_eq!(SEEN.with_borrow(|seen| *seen), [PER_THREAD; THREADS]);
}

/// Counts its drops.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A loop that is not made current, so dropping the handle drops the loop.
fn uncurrent_loop() -> IOLoop {
    IOLoop::builder()
        .make_current(MakeCurrent::Never)
        .build()
        .unwrap()
}

#[test]
fn dropping_a_loop_drops_the_callbacks_its_remotes_queued() {
    let ioloop = uncurrent_loop();
    let remote = ioloop.remote();
    let drops = Arc::new(AtomicUsize::new(0));
    let captured = DropCounter(Arc::clone(&drops));
    remote.add_callback(move || drop(captured));
    assert_eq!(drops.load(Ordering::SeqCst), 0, "queued, not yet run");
    drop(ioloop);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "dropped with the loop");
    drop(remote);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "dropped once");
}

#[test]
fn a_remote_of_a_dropped_loop_is_closed_and_refuses_callbacks() {
    let ioloop = uncurrent_loop();
    let remote = ioloop.remote();
    assert!(!remote.is_closed());
    drop(ioloop);
    assert!(remote.is_closed());
    assert!(format!("{remote:?}").contains("closed: true"));

    let drops = Arc::new(AtomicUsize::new(0));
    let captured = DropCounter(Arc::clone(&drops));
    let rejected = remote
        .try_add_callback(move || drop(captured))
        .expect_err("the loop is gone");
    assert_eq!(drops.load(Ordering::SeqCst), 0, "handed back, not dropped");
    drop(rejected);
    assert_eq!(drops.load(Ordering::SeqCst), 1);

    let captured = DropCounter(Arc::clone(&drops));
    remote.add_callback(move || drop(captured));
    assert_eq!(
        drops.load(Ordering::SeqCst),
        2,
        "refused and dropped at once"
    );
    remote.stop(); // a no-op, and no write to a closed eventfd
}
