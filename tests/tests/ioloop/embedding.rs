//! Embedding a loop in an application: on a background thread driven
//! through its remote handle, or as the singleton on the main thread.

use std::sync::mpsc;
use std::time::Duration;

use ioloop::{IOLoop, LoopThread, Remote};

use crate::util;

#[test]
fn a_background_loop_runs_posted_work_and_stops_when_asked() {
    let background = LoopThread::spawn().unwrap();
    let (tx, rx) = mpsc::channel();
    for i in 0..100 {
        let tx = tx.clone();
        background.add_callback(move || {
            // On the loop's thread, where the loop is current.
            tx.send((i, IOLoop::try_current().is_some())).unwrap();
        });
    }
    let got: Vec<(i32, bool)> = (0..100)
        .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
        .collect();
    assert_eq!(got, (0..100).map(|i| (i, true)).collect::<Vec<_>>());
    let remote = background.remote().clone();
    background.stop().unwrap();
    assert!(
        remote.is_closed(),
        "the thread closed the loop on its way out"
    );
}

#[test]
fn setup_runs_on_the_loop_thread_before_it_starts() {
    let (tx, rx) = mpsc::channel();
    let background = LoopThread::spawn_with("timers", move |ioloop| {
        let name = std::thread::current().name().map(str::to_owned);
        ioloop.call_later(Duration::from_millis(5), move || {
            tx.send(name).unwrap();
        });
    })
    .unwrap();
    let name = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(name.as_deref(), Some("timers"));
    background.stop().unwrap();
}

#[test]
fn a_panicking_setup_is_an_error_with_its_message() {
    let err = LoopThread::spawn_with("bad", |_| panic!("cannot set up")).unwrap_err();
    assert!(err.to_string().contains("cannot set up"), "{err}");
}

#[test]
fn dropping_a_loop_thread_stops_and_joins_it() {
    let background = LoopThread::spawn().unwrap();
    let remote = background.remote().clone();
    drop(background);
    assert!(remote.is_closed());
}

#[test]
fn the_singleton_on_the_main_thread_is_driven_by_workers() {
    let _serial = util::global_lock();
    IOLoop::clear_instance();
    std::thread::spawn(|| {
        // This thread plays the application's main thread.
        let main_loop = IOLoop::instance();
        let (tx, rx) = mpsc::channel::<u32>();
        let worker = std::thread::spawn(move || {
            let remote = Remote::instance().unwrap();
            let results: Vec<u32> = (1..=10).map(|n| n * n).collect();
            for r in results {
                let tx = tx.clone();
                remote.add_callback(move || tx.send(r).unwrap());
            }
            remote.add_callback(|| IOLoop::instance().stop());
        });
        util::run(&main_loop);
        worker.join().unwrap();
        let got: Vec<u32> = rx.try_iter().collect();
        assert_eq!(got, (1..=10).map(|n| n * n).collect::<Vec<_>>());
        IOLoop::clear_instance();
    })
    .join()
    .unwrap();
}
