//! `Remote::spawn`: a future run on a loop from another thread, its output
//! handed back through a `RemoteJoinHandle` (asyncio's
//! `run_coroutine_threadsafe`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use ioloop::{CallbackPanic, IOLoop, Remote, RemoteJoinHandle, RemoteSpawnError, WaitTimedOut};

use crate::util::{self, LIMIT, TestLoop};

/// Runs `ioloop` on this thread while `worker` runs on another with the
/// loop's remote; the worker stops the loop when it returns or panics.
/// Both are bounded: the loop by the helpers' limit, after which it is
/// closed, so every handle the worker still waits on resolves.
fn with_worker(ioloop: &IOLoop, worker: impl FnOnce(Remote) + Send + 'static) {
    struct StopOnDrop(Remote);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.stop();
        }
    }
    let remote = ioloop.remote();
    let t = thread::spawn(move || {
        let _stop = StopOnDrop(remote.clone());
        worker(remote);
    });
    util::run(ioloop);
    ioloop.close(false).unwrap();
    if let Err(payload) = t.join() {
        std::panic::resume_unwind(payload);
    }
}

/// Sets a flag, and records the thread, when dropped.
struct DropFlag {
    dropped: Arc<AtomicBool>,
    on: Arc<Mutex<Option<ThreadId>>>,
}

impl Drop for DropFlag {
    fn drop(&mut self) {
        *self.on.lock().unwrap() = Some(thread::current().id());
        self.dropped.store(true, Ordering::SeqCst);
    }
}

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn the_handle_and_its_error_cross_threads() {
    assert_send_sync::<RemoteJoinHandle<u32>>();
    fn assert_send<T: Send>() {}
    assert_send::<RemoteSpawnError>();
}

thread_local! {
    /// The loop thread's own state: an `Rc`, which no other thread can see.
    static LOOP_STATE: RefCell<Option<Rc<Cell<usize>>>> = const { RefCell::new(None) };
}

#[test]
fn futures_from_four_threads_run_on_the_loop_and_read_its_rc_state() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 100;
    let ioloop = TestLoop::new();
    let state = Rc::new(Cell::new(0));
    LOOP_STATE.with(|s| *s.borrow_mut() = Some(state.clone()));
    let loop_thread = thread::current().id();
    let finished = Arc::new(AtomicUsize::new(0));
    let remote = ioloop.remote();
    let workers: Vec<_> = (0..THREADS)
        .map(|w| {
            let (remote, finished) = (remote.clone(), finished.clone());
            thread::spawn(move || {
                let handles: Vec<_> = (0..PER_THREAD)
                    .map(|i| {
                        remote.spawn(move || async move {
                            ioloop::yield_now().await; // a later iteration
                            let state = LOOP_STATE
                                .with(|s| s.borrow().clone())
                                .expect("the future runs on the loop's thread");
                            state.set(state.get() + 1);
                            (thread::current().id(), w, i, state.get())
                        })
                    })
                    .collect();
                // Half the workers await on another executor, half block.
                let results: Vec<_> = if w % 2 == 0 {
                    futures::executor::block_on(futures::future::join_all(handles))
                } else {
                    handles
                        .into_iter()
                        .map(|mut h| h.wait_timeout(LIMIT).expect("within the limit"))
                        .collect()
                };
                if finished.fetch_add(1, Ordering::SeqCst) + 1 == THREADS {
                    remote.stop();
                }
                results
            })
        })
        .collect();
    util::run(&ioloop);
    ioloop.close(false).unwrap(); // resolves any handle still waited on
    let mut counts = Vec::new();
    for (w, worker) in workers.into_iter().enumerate() {
        let results = worker.join().unwrap();
        assert_eq!(results.len(), PER_THREAD);
        for (i, result) in results.into_iter().enumerate() {
            let (ran_on, rw, ri, count) = result.expect("every future gives its output");
            assert_eq!((ran_on, rw, ri), (loop_thread, w, i));
            counts.push(count);
        }
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=THREADS * PER_THREAD).collect::<Vec<_>>());
    assert_eq!(state.get(), THREADS * PER_THREAD);
}

#[test]
fn a_panicking_future_or_factory_gives_a_typed_error_and_is_reported() {
    let ioloop = IOLoop::new().unwrap();
    let reports = Rc::new(RefCell::new(Vec::new()));
    let r = reports.clone();
    ioloop.set_exception_handler(move |panic: &CallbackPanic<'_>| {
        r.borrow_mut()
            .push(panic.message().unwrap_or("").to_owned());
    });
    let (tx, rx) = mpsc::channel();
    with_worker(&ioloop, move |remote| {
        fn explode() -> u32 {
            panic!("boom in the future")
        }
        let mut in_future = remote.spawn(|| async {
            ioloop::yield_now().await;
            explode()
        });
        let mut in_factory = remote.spawn(|| -> std::future::Ready<u32> {
            panic!("boom in the factory");
        });
        tx.send((
            in_future.wait_timeout(LIMIT).unwrap(),
            in_factory.wait_timeout(LIMIT).unwrap(),
        ))
        .unwrap();
    });
    let (in_future, in_factory) = rx.try_recv().unwrap();
    let err = in_future.unwrap_err();
    assert!(err.is_panic(), "{err:?}");
    assert_eq!(err.panic_message(), Some("boom in the future"));
    assert_eq!(
        err.to_string(),
        "the remote task panicked: boom in the future"
    );
    let err = in_factory.unwrap_err();
    assert_eq!(err.panic_message(), Some("boom in the factory"));
    let payload = err.into_panic();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom in the factory"));
    let mut reports = reports.borrow().clone();
    reports.sort();
    assert_eq!(reports, ["boom in the factory", "boom in the future"]);
}

#[test]
fn spawning_on_a_closed_loop_gives_closed_at_once() {
    let ioloop = IOLoop::new().unwrap();
    let remote = ioloop.remote();
    ioloop.close(false).unwrap();
    let made = Arc::new(AtomicBool::new(false));
    let m = made.clone();
    let started = Instant::now();
    let outcome = thread::spawn(move || {
        remote
            .spawn(move || {
                m.store(true, Ordering::SeqCst);
                async { 1 }
            })
            .wait_timeout(LIMIT)
    })
    .join()
    .unwrap();
    let err = outcome.expect("an outcome, not a timeout").unwrap_err();
    assert!(err.is_closed(), "{err:?}");
    assert!(started.elapsed() < LIMIT / 2);
    assert!(!made.load(Ordering::SeqCst), "the factory never ran");
}

#[test]
fn closing_the_loop_under_a_running_future_gives_closed_to_its_waiter() {
    let ioloop = TestLoop::new();
    let (started_tx, started_rx) = mpsc::channel();
    let remote = ioloop.remote();
    let waiter = thread::spawn(move || {
        let mut handle = remote.spawn(move || async move {
            started_tx.send(()).unwrap();
            std::future::pending::<u32>().await
        });
        let started = started_rx.recv_timeout(LIMIT);
        remote.stop();
        started.expect("the future started");
        handle.wait_timeout(LIMIT)
    });
    util::run(&ioloop);
    ioloop.close(false).unwrap();
    let err = waiter.join().unwrap().expect("an outcome, not a timeout");
    assert!(err.unwrap_err().is_closed());
}

#[test]
fn dropping_an_unclosed_loop_before_it_takes_the_factory_gives_closed() {
    // The loop never runs: the factory waits in its remote queue, and
    // dropping the loop (not closing it) must still resolve the handle.
    let ioloop = IOLoop::new().unwrap();
    let remote = ioloop.remote();
    let made = Arc::new(AtomicBool::new(false));
    let m = made.clone();
    let mut handle = remote.spawn(move || {
        m.store(true, Ordering::SeqCst);
        async { 1 }
    });
    IOLoop::clear_current();
    drop(ioloop);
    let started = Instant::now();
    let outcome = thread::spawn(move || handle.wait_timeout(LIMIT))
        .join()
        .unwrap();
    let err = outcome.expect("an outcome, not a timeout").unwrap_err();
    assert!(err.is_closed(), "{err:?}");
    assert!(started.elapsed() < LIMIT / 2);
    assert!(!made.load(Ordering::SeqCst), "the factory never ran");
    assert!(remote.is_closed());
}

#[test]
fn dropping_the_loop_under_a_running_future_gives_closed_to_its_waiter() {
    let (started_tx, started_rx) = mpsc::channel();
    let (remote_tx, remote_rx) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let remote: Remote = remote_rx.recv_timeout(LIMIT).unwrap();
        let mut handle = remote.spawn(move || async move {
            started_tx.send(()).unwrap();
            std::future::pending::<u32>().await
        });
        let started = started_rx.recv_timeout(LIMIT);
        remote.stop();
        started.expect("the future started");
        handle.wait_timeout(LIMIT)
    });
    {
        let ioloop = TestLoop::new();
        remote_tx.send(ioloop.remote()).unwrap();
        util::run(&ioloop);
        IOLoop::clear_current();
    } // dropped, not closed
    let err = waiter.join().unwrap().expect("an outcome, not a timeout");
    assert!(err.unwrap_err().is_closed());
}

#[test]
fn cancel_drops_the_future_on_the_loops_thread() {
    let ioloop = TestLoop::new();
    let loop_thread = thread::current().id();
    let dropped = Arc::new(AtomicBool::new(false));
    let on = Arc::new(Mutex::new(None));
    let (d, o) = (dropped.clone(), on.clone());
    let (tx, rx) = mpsc::channel();
    with_worker(&ioloop, move |remote| {
        let (started_tx, started_rx) = mpsc::channel();
        let mut handle = remote.spawn(move || async move {
            let _flag = DropFlag { dropped: d, on: o };
            started_tx.send(()).unwrap();
            std::future::pending::<()>().await
        });
        started_rx.recv_timeout(LIMIT).expect("the future started");
        handle.cancel();
        handle.cancel(); // idempotent
        tx.send(handle.wait_timeout(LIMIT)).unwrap();
    });
    let outcome = rx.try_recv().unwrap().expect("an outcome, not a timeout");
    assert!(outcome.unwrap_err().is_cancelled());
    assert!(dropped.load(Ordering::SeqCst));
    assert_eq!(*on.lock().unwrap(), Some(loop_thread));
}

#[test]
fn cancel_before_the_loop_takes_the_callback_never_calls_the_factory() {
    let ioloop = TestLoop::new();
    let remote = ioloop.remote();
    let made = Arc::new(AtomicBool::new(false));
    let m = made.clone();
    let mut handle = remote.spawn(move || {
        m.store(true, Ordering::SeqCst);
        async { 1 }
    });
    handle.cancel();
    let waiter = thread::spawn(move || {
        let outcome = handle.wait_timeout(LIMIT);
        remote.stop();
        outcome
    });
    util::run(&ioloop);
    let outcome = waiter.join().unwrap().expect("an outcome, not a timeout");
    assert!(outcome.unwrap_err().is_cancelled());
    assert!(!made.load(Ordering::SeqCst));
}

#[test]
fn dropping_the_handle_lets_the_future_run_to_completion() {
    let ioloop = TestLoop::new();
    let (done_tx, done_rx) = oneshot::channel();
    let dropped = Arc::new(AtomicBool::new(false));
    let on = Arc::new(Mutex::new(None));
    let (d, o) = (dropped.clone(), on.clone());
    with_worker(&ioloop, move |remote| {
        let handle = remote.spawn(move || async move {
            let _flag = DropFlag { dropped: d, on: o };
            for _ in 0..3 {
                ioloop::yield_now().await;
            }
            done_tx.send(7).unwrap();
        });
        drop(handle);
        let mut done = remote.spawn(|| async { done_rx.await.unwrap() });
        assert_eq!(done.wait_timeout(LIMIT).unwrap().unwrap(), 7);
    });
    assert!(dropped.load(Ordering::SeqCst), "finished, so dropped");
}

#[test]
fn wait_timeout_gives_up_after_the_timeout_and_the_handle_waits_again() {
    let ioloop = TestLoop::new();
    let (tx, rx) = mpsc::channel();
    with_worker(&ioloop, move |remote| {
        let (value_tx, value_rx) = oneshot::channel();
        let mut handle = remote.spawn(|| async { value_rx.await.unwrap() });
        let timeout = Duration::from_millis(50);
        let started = Instant::now();
        let first = handle.wait_timeout(timeout).map(|_| ());
        let waited = started.elapsed();
        value_tx.send("late").unwrap();
        tx.send((first, waited, handle.wait_timeout(LIMIT).map(Result::ok)))
            .unwrap();
    });
    let (first, waited, second) = rx.try_recv().unwrap();
    assert_eq!(
        first,
        Err(WaitTimedOut {
            timeout: Duration::from_millis(50)
        })
    );
    assert!(waited >= Duration::from_millis(50), "{waited:?}");
    assert!(waited < LIMIT, "{waited:?}");
    assert_eq!(second, Ok(Some("late")));
}

#[test]
fn the_handle_can_be_awaited_on_the_loop_itself() {
    let ioloop = TestLoop::new();
    let remote = ioloop.remote();
    let out = util::bounded(&ioloop, || {
        ioloop.run_sync(
            || async move { remote.spawn(|| async { 40 + 2 }).await.unwrap() },
            Some(LIMIT),
        )
    });
    assert_eq!(out.unwrap(), 42);
}

#[test]
#[should_panic(expected = "await it instead")]
fn blocking_on_the_handle_on_the_loops_thread_panics_instead_of_deadlocking() {
    let ioloop = IOLoop::new().unwrap();
    let mut handle = ioloop.remote().spawn(|| async { 1 });
    let _ = handle.wait_timeout(Duration::from_millis(1));
}
