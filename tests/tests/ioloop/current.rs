//! Rules S1 to S7: the current loop and the process-wide instance,
//! adapted to Rust (an `IOLoop` stays on its thread; other threads reach
//! the instance through `Remote::instance`).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use ioloop::{Error, IOLoop, MakeCurrent, Remote};

use crate::util;
use crate::util::TestLoop;

/// Runs `f` on a fresh thread (fresh thread-locals) and propagates panics.
fn on_fresh_thread(f: impl FnOnce() + Send + 'static) {
    thread::spawn(f).join().unwrap();
}

/// Clears the instance when dropped, even if the test fails.
struct InstanceReset;
impl Drop for InstanceReset {
    fn drop(&mut self) {
        IOLoop::clear_instance();
    }
}

#[test]
fn s1_instance_is_created_once_and_initialized_reports_it() {
    let _serial = util::global_lock();
    IOLoop::clear_instance();
    on_fresh_thread(|| {
        let _reset = InstanceReset;
        assert!(!IOLoop::initialized());
        assert!(Remote::instance().is_none());
        let a = IOLoop::instance();
        assert!(IOLoop::initialized());
        let b = IOLoop::instance();
        assert!(a.ptr_eq(&b));
        assert!(Remote::instance().unwrap().same_loop(&a.remote()));
    });
    assert!(!IOLoop::initialized());
}

#[test]
fn s1_other_threads_reach_the_instance_through_its_remote() {
    let _serial = util::global_lock();
    IOLoop::clear_instance();
    on_fresh_thread(|| {
        let _reset = InstanceReset;
        let main_loop = IOLoop::instance();
        let count = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let count = count.clone();
                thread::spawn(move || {
                    let remote = Remote::instance().expect("created before the workers");
                    remote.add_callback(move || {
                        if count.fetch_add(1, Ordering::SeqCst) == 7 {
                            IOLoop::instance().stop();
                        }
                    });
                })
            })
            .collect();
        util::run(&main_loop);
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(count.load(Ordering::SeqCst), 8);
    });
}

#[test]
fn s1_instance_on_another_thread_panics_with_a_clear_message() {
    let _serial = util::global_lock();
    IOLoop::clear_instance();
    on_fresh_thread(|| {
        let _reset = InstanceReset;
        let _main = IOLoop::instance();
        let err = thread::spawn(|| drop(IOLoop::instance()))
            .join()
            .unwrap_err();
        let message = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(message.contains("Remote::instance()"), "{message}");
    });
}

#[test]
fn s2_install_fails_when_an_instance_exists() {
    let _serial = util::global_lock();
    IOLoop::clear_instance();
    on_fresh_thread(|| {
        let _reset = InstanceReset;
        let custom = IOLoop::builder().event_capacity(64).build().unwrap();
        custom.install().unwrap();
        assert!(IOLoop::instance().ptr_eq(&custom));
        let other = IOLoop::builder()
            .make_current(MakeCurrent::Never)
            .build()
            .unwrap();
        assert!(matches!(other.install(), Err(Error::InstanceExists)));
        IOLoop::clear_instance();
        assert!(!IOLoop::initialized());
        other.install().unwrap();
        assert!(IOLoop::instance().ptr_eq(&other));
    });
}

#[test]
fn s3_current_falls_back_to_the_instance_on_its_home_thread_only() {
    let _serial = util::global_lock();
    IOLoop::clear_instance();
    on_fresh_thread(|| {
        let _reset = InstanceReset;
        let instance = IOLoop::instance();
        IOLoop::clear_current();
        assert!(IOLoop::try_current().is_none());
        assert!(IOLoop::current().ptr_eq(&instance));
        thread::spawn(move || {
            // Elsewhere, current() creates a loop of the thread's own.
            let here = IOLoop::current();
            assert!(!here.remote().same_loop(&Remote::instance().unwrap()));
            assert!(IOLoop::try_current().unwrap().ptr_eq(&here));
        })
        .join()
        .unwrap();
    });
}

#[test]
fn s3_instance_adopts_the_threads_current_loop() {
    let _serial = util::global_lock();
    IOLoop::clear_instance();
    on_fresh_thread(|| {
        let _reset = InstanceReset;
        let mine = TestLoop::new();
        assert!(
            IOLoop::instance().ptr_eq(&mine),
            "no second loop on this thread"
        );
    });
}

#[test]
fn s4_the_first_loop_built_on_a_thread_becomes_current_the_second_does_not() {
    on_fresh_thread(|| {
        assert!(IOLoop::try_current().is_none());
        let first = TestLoop::new();
        let second = TestLoop::new();
        assert!(IOLoop::current().ptr_eq(&first));
        assert!(!IOLoop::current().ptr_eq(&second));
    });
}

#[test]
fn s5_a_never_current_loop_is_current_only_while_it_runs() {
    on_fresh_thread(|| {
        let ioloop = IOLoop::builder()
            .make_current(MakeCurrent::Never)
            .build()
            .unwrap();
        assert!(IOLoop::try_current().is_none());
        let l = ioloop.clone();
        ioloop.add_callback(move || {
            assert!(IOLoop::try_current().unwrap().ptr_eq(&l));
            l.stop();
        });
        util::run(&ioloop);
        assert!(IOLoop::try_current().is_none(), "restored to none");
    });
}

#[test]
fn s6_always_current_fails_when_a_current_loop_exists() {
    on_fresh_thread(|| {
        let first = TestLoop::new();
        let err = IOLoop::builder()
            .make_current(MakeCurrent::Always)
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Other);
        assert!(matches!(Error::from(err), Error::CurrentExists));
        assert!(IOLoop::current().ptr_eq(&first), "current unchanged");
    });
}

#[test]
fn s7_make_current_and_clear_current() {
    on_fresh_thread(|| {
        IOLoop::clear_current(); // no current: a no-op
        let a = IOLoop::builder()
            .make_current(MakeCurrent::Never)
            .build()
            .unwrap();
        a.make_current();
        assert!(IOLoop::try_current().unwrap().ptr_eq(&a));
        IOLoop::clear_current();
        assert!(IOLoop::try_current().is_none());
        IOLoop::clear_current();
    });
}

#[test]
fn close_clears_current() {
    on_fresh_thread(|| {
        let a = TestLoop::new();
        a.close(false).unwrap();
        assert!(IOLoop::try_current().is_none());
    });
}

#[test]
fn weak_handles_do_not_keep_the_loop_alive() {
    on_fresh_thread(|| {
        let a = IOLoop::builder()
            .make_current(MakeCurrent::Never)
            .build()
            .unwrap();
        let weak = a.downgrade();
        assert!(weak.upgrade().unwrap().ptr_eq(&a));
        drop(a);
        assert!(weak.upgrade().is_none());
    });
}

/// The warnings logged by thread `id`.
fn warnings_of(id: thread::ThreadId) -> Vec<String> {
    integration_tests::logs::messages(|r| r.thread == id && r.level == log::Level::Warn)
}

#[test]
fn a_loop_current_created_warns_at_thread_exit_about_work_that_never_ran() {
    util::capture_logs();
    // Tornado 4's habit on a worker thread: the callbacks go to a new loop
    // of the worker's own, which nothing runs.
    let worker = thread::spawn(|| {
        let ioloop = IOLoop::current();
        ioloop.add_callback(|| {});
        ioloop.add_callback(|| {});
        IOLoop::current().add_callback(|| {});
        ioloop.call_later(std::time::Duration::from_secs(1), || {});
        thread::current().id()
    });
    let id = worker.join().unwrap();
    let warnings = warnings_of(id);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("3 queued callbacks and 1 timeouts that never ran"),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[0].contains("IOLoop::instance_remote()"),
        "{}",
        warnings[0]
    );
}

#[test]
fn a_loop_current_created_and_ran_leaves_no_warning() {
    util::capture_logs();
    let worker = thread::spawn(|| {
        let ioloop = IOLoop::current();
        let l = ioloop.clone();
        ioloop.add_callback(move || l.stop());
        util::run(&ioloop);
        thread::current().id()
    });
    let id = worker.join().unwrap();
    assert_eq!(warnings_of(id), Vec::<String>::new());
}

#[test]
fn an_explicit_loop_with_work_left_at_thread_exit_leaves_no_warning() {
    util::capture_logs();
    let worker = thread::spawn(|| {
        let ioloop = IOLoop::new().unwrap(); // asked for: its owner's business
        ioloop.add_callback(|| {});
        thread::current().id()
    });
    let id = worker.join().unwrap();
    assert_eq!(warnings_of(id), Vec::<String>::new());
}

#[test]
fn clear_current_on_the_last_handle_of_a_loop_current_created_warns_at_once() {
    util::capture_logs();
    on_fresh_thread(|| {
        IOLoop::current().add_callback(|| {});
        IOLoop::clear_current();
        let warnings = util::logged(log::Level::Warn);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("1 queued callbacks and 0 timeouts"));
        assert!(IOLoop::try_current().is_none());
    });
}

#[test]
fn clear_current_while_a_handle_is_kept_does_not_warn_and_make_current_claims_the_loop() {
    util::capture_logs();
    let worker = thread::spawn(|| {
        let kept = IOLoop::current();
        kept.add_callback(|| {});
        IOLoop::clear_current();
        assert_eq!(util::logged(log::Level::Warn), Vec::<String>::new());
        // Made current on purpose: its owner's business from now on, so
        // the work still queued at the thread's exit is not reported.
        kept.make_current();
        thread::current().id()
    });
    let id = worker.join().unwrap();
    assert_eq!(warnings_of(id), Vec::<String>::new());
}

#[test]
fn try_current_on_a_worker_thread_creates_no_loop() {
    on_fresh_thread(|| {
        assert!(IOLoop::try_current().is_none());
        assert!(IOLoop::try_current().is_none(), "the first call made none");
    });
}

#[test]
fn instance_remote_is_the_home_of_add_callback_from_worker_threads() {
    let _serial = util::global_lock();
    IOLoop::clear_instance();
    // Before the instance exists, a worker gets none (and creates none).
    on_fresh_thread(|| assert!(IOLoop::instance_remote().is_none()));
    assert!(!IOLoop::initialized());
    on_fresh_thread(|| {
        let _reset = InstanceReset;
        let main_loop = IOLoop::instance();
        let ran_on = Arc::new(std::sync::Mutex::new(None));
        let r = ran_on.clone();
        let worker = thread::spawn(move || {
            let remote = IOLoop::instance_remote().expect("created before the worker");
            remote.add_callback(move || {
                *r.lock().unwrap() = Some(thread::current().id());
                IOLoop::current().stop();
            });
        });
        util::run(&main_loop);
        worker.join().unwrap();
        assert_eq!(*ran_on.lock().unwrap(), Some(thread::current().id()));
        assert!(
            IOLoop::instance_remote()
                .unwrap()
                .same_loop(&main_loop.remote())
        );
    });
}
