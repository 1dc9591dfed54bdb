//! Reference counting (libuv's per-watcher `uv_ref`/`uv_unref`) and the
//! run modes: `run` (until nothing referenced is left), `run_forever`,
//! `run_once(Wait | NoWait)`.

use std::cell::Cell;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use ioloop::{Error, Events, IOLoop, RunMode};

use crate::util::TestLoop;
use crate::util::{self, Log};

#[test]
fn run_returns_at_once_on_an_empty_loop() {
    let ioloop = TestLoop::new();
    assert!(!ioloop.is_alive());
    util::run_until_idle(&ioloop);
    assert_eq!(ioloop.iteration(), 0, "no poll");
}

#[test]
fn run_returns_once_only_unreferenced_work_is_left() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    // Unreferenced: a far timeout, a handler, a hook. They stay registered.
    let far = ioloop.call_later(Duration::from_secs(3600), || unreachable!());
    assert!(ioloop.set_timeout_ref(far, false));
    let (_a, b) = util::socketpair();
    ioloop
        .add_handler(b.as_raw_fd(), Events::READ, |_, _| {})
        .unwrap();
    assert!(ioloop.set_handler_ref(b.as_raw_fd(), false));
    let g = log.clone();
    let check = ioloop.add_check(move |_| g.push("check"));
    check.set_ref(false);
    assert!(!check.is_referenced());
    // Referenced: a timeout that queues a callback, which queues another.
    let (g, l) = (log.clone(), ioloop.clone());
    ioloop.call_later(Duration::from_millis(10), move || {
        g.push("timeout");
        let (g, l2) = (g.clone(), l.clone());
        l.add_callback(move || {
            g.push("callback");
            l2.add_callback({
                let g = g.clone();
                move || g.push("last callback")
            });
        });
    });
    let started = ioloop.time();
    util::run_until_idle(&ioloop);
    let entries = log.entries();
    let work: Vec<_> = entries.iter().filter(|e| *e != "check").collect();
    assert_eq!(work, ["timeout", "callback", "last callback"]);
    assert!(
        entries.contains(&"check".to_owned()),
        "unreferenced hooks still run"
    );
    assert!(
        ioloop.time() - started < 60.0,
        "did not wait for the far timeout"
    );
    // Everything unreferenced is still there.
    assert!(!ioloop.is_alive());
    assert!(check.is_active());
    assert!(ioloop.remove_timeout(far));
    assert!(ioloop.remove_handler(b.as_raw_fd()).is_none());
    check.stop();
}

#[test]
fn set_ref_is_idempotent() {
    let ioloop = TestLoop::new();
    let t = ioloop.call_later(Duration::from_secs(3600), || {});
    assert!(ioloop.set_timeout_ref(t, false));
    assert!(ioloop.set_timeout_ref(t, false));
    assert!(!ioloop.is_alive());
    assert!(ioloop.set_timeout_ref(t, true));
    assert!(ioloop.is_alive(), "one ref after two unrefs: referenced");
    ioloop.remove_timeout(t);
    assert!(!ioloop.set_timeout_ref(t, true), "a removed timeout");

    let hook = ioloop.add_idle(|_| {});
    hook.set_ref(false);
    hook.set_ref(false);
    assert!(!ioloop.is_alive());
    hook.set_ref(true);
    assert!(ioloop.is_alive());
    hook.stop();
    assert!(!ioloop.is_alive());
    assert!(!ioloop.set_handler_ref(12345, false), "no handler");
}

#[test]
fn queued_callbacks_and_tasks_keep_run_going() {
    let ioloop = TestLoop::new();
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    // A task waiting on an unreferenced timer: the task keeps run going.
    ioloop
        .spawn(async move {
            let l = IOLoop::current();
            let (tx, rx) = futures::channel::oneshot::channel();
            let t = l.call_later(Duration::from_millis(20), move || {
                let _ = tx.send(());
            });
            l.set_timeout_ref(t, false);
            rx.await.unwrap();
            d.set(true);
        })
        .detach();
    assert!(ioloop.is_alive());
    util::run_until_idle(&ioloop);
    assert!(done.get());
    assert_eq!(ioloop.task_count(), 0);
}

#[test]
fn a_remote_does_not_keep_run_going_but_what_it_sent_does() {
    let ioloop = TestLoop::new();
    let remote = ioloop.remote();
    util::run_until_idle(&ioloop); // a Remote alone: nothing referenced
    assert_eq!(ioloop.iteration(), 0);
    let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let r = ran.clone();
    std::thread::spawn(move || {
        remote.add_callback(move || r.store(true, std::sync::atomic::Ordering::SeqCst));
    })
    .join()
    .unwrap();
    assert!(ioloop.is_alive(), "a sent callback is work left");
    util::run_until_idle(&ioloop);
    assert!(ran.load(std::sync::atomic::Ordering::SeqCst));
}

#[test]
fn run_forever_ignores_references_until_stop() {
    let ioloop = TestLoop::new();
    let l = ioloop.clone();
    let t = ioloop.call_later(Duration::from_millis(20), move || l.stop());
    ioloop.set_timeout_ref(t, false);
    let started = ioloop.time();
    util::bounded(&ioloop, || ioloop.run_forever()).unwrap();
    assert!(
        ioloop.time() - started >= 0.020,
        "waited for the unreferenced timeout"
    );
}

#[test]
fn stop_ends_run_too() {
    let ioloop = TestLoop::new();
    let far = ioloop.call_later(Duration::from_secs(3600), || {});
    let l = ioloop.clone();
    ioloop.add_callback(move || l.stop());
    util::run_until_idle(&ioloop);
    assert!(ioloop.is_alive(), "stopped with referenced work left");
    ioloop.remove_timeout(far);
}

#[test]
fn run_once_nowait_never_blocks() {
    let ioloop = TestLoop::new();
    let far = ioloop.call_later(Duration::from_secs(3600), || unreachable!());
    let started = ioloop.time();
    for _ in 0..10 {
        assert!(
            ioloop.run_once(RunMode::NoWait).unwrap(),
            "the far timeout is alive"
        );
    }
    assert!(ioloop.time() - started < 5.0);
    assert_eq!(ioloop.iteration(), 10);
    ioloop.remove_timeout(far);
    assert!(!ioloop.run_once(RunMode::NoWait).unwrap(), "nothing left");
}

#[test]
fn run_once_wait_blocks_for_the_next_timeout_and_runs_it() {
    let ioloop = TestLoop::new();
    let fired = Rc::new(Cell::new(0.0));
    let (f, l) = (fired.clone(), ioloop.clone());
    let added = ioloop.time();
    ioloop.call_later(Duration::from_millis(20), move || f.set(l.time()));
    let alive = util::bounded(&ioloop, || ioloop.run_once(RunMode::Wait)).unwrap();
    assert!(
        fired.get() >= added + 0.020,
        "the timeout ran inside run_once"
    );
    assert!(!alive);
    assert_eq!(ioloop.iteration(), 1);
}

#[test]
fn run_once_wait_blocks_for_a_callback_from_another_thread_and_runs_it() {
    let ioloop = TestLoop::new();
    // Something referenced, so Wait blocks: a timeout an hour away.
    let far = ioloop.call_later(Duration::from_secs(3600), || unreachable!());
    let remote = ioloop.remote();
    let worker = std::thread::spawn(move || {
        remote.add_callback(|| IOLoop::current().add_callback(|| {}));
    });
    let started = ioloop.time();
    util::bounded(&ioloop, || ioloop.run_once(RunMode::Wait)).unwrap();
    assert_eq!(
        ioloop.pending(),
        1,
        "the remote callback ran and queued one more"
    );
    assert!(ioloop.time() - started < 60.0);
    worker.join().unwrap();
    ioloop.remove_timeout(far);
}

#[test]
fn run_once_wait_does_not_block_when_nothing_is_referenced() {
    let ioloop = TestLoop::new();
    let far = ioloop.call_later(Duration::from_secs(3600), || unreachable!());
    ioloop.set_timeout_ref(far, false);
    let started = ioloop.time();
    assert!(!util::bounded(&ioloop, || ioloop.run_once(RunMode::Wait)).unwrap());
    assert!(ioloop.time() - started < 5.0);
    ioloop.remove_timeout(far);
}

#[test]
fn run_once_cuts_the_cycle_at_the_poll() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    let (g, l) = (log.clone(), ioloop.clone());
    let prepare = ioloop.add_prepare(move |_| g.push(format!("prepare {}", l.iteration())));
    let (g, l) = (log.clone(), ioloop.clone());
    let check = ioloop.add_check(move |_| g.push(format!("check {}", l.iteration())));
    let (g, l) = (log.clone(), ioloop.clone());
    ioloop.add_callback(move || g.push(format!("callback {}", l.iteration())));
    ioloop.run_once(RunMode::NoWait).unwrap();
    assert_eq!(log.entries(), ["prepare 0", "check 1", "callback 1"]);
    prepare.stop();
    check.stop();
}

#[test]
fn run_once_inside_a_callback_is_refused() {
    let ioloop = TestLoop::new();
    let result = Rc::new(Cell::new(None));
    let (r, l) = (result.clone(), ioloop.clone());
    ioloop.add_callback(move || {
        r.set(Some(matches!(
            l.run_once(RunMode::NoWait),
            Err(Error::AlreadyRunning)
        )));
        assert_eq!(l.depth(), 1);
        l.stop();
    });
    util::run(&ioloop);
    assert_eq!(result.get(), Some(true));
    assert_eq!(ioloop.depth(), 0);
}

#[test]
fn stop_before_run_once_returns_at_once() {
    let ioloop = TestLoop::new();
    ioloop.add_callback(|| unreachable!("rule L2"));
    ioloop.stop();
    assert!(ioloop.run_once(RunMode::Wait).unwrap());
    assert_eq!(ioloop.iteration(), 0);
    assert_eq!(ioloop.pending(), 1);
}
