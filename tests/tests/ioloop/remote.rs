//! The `Send + Sync` remote handle: the one door from other threads.

use std::time::{Duration, Instant};

use ioloop::{IOLoop, Remote};

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
