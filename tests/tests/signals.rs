//! Loop signal handlers (`add_signal_handler`, `remove_signal_handler`,
//! `remove_signal_handler_handle`): several handlers per signal, each run
//! on the loop thread as an ordinary callback; removing one leaves the
//! others; invalid signals are errors naming the signal.
//!
//! `harness = false`: signals are process-wide, so the tests run one after
//! the other on the main thread, which runs the loops. Signals are sent
//! with `raise` (to the calling thread: the signal-hook actions have run
//! when it returns, so nothing here waits on timing) or with `kill` from
//! another thread (to the process).

mod harness;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::mpsc;
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use integration_tests::{TestLoop, with_time_limit};
use ioloop::{IOLoop, LoopThread, MakeCurrent};
use libc::{SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH};
use signal_hook::low_level::raise;

use harness::sys;

fn main() {
    harness::run_tests(&[
        (
            "several_handlers_for_one_signal_run_on_the_loop_thread_in_order",
            several_handlers_for_one_signal_run_on_the_loop_thread_in_order,
        ),
        (
            "a_signal_sent_to_the_process_from_another_thread_reaches_the_loop",
            a_signal_sent_to_the_process_from_another_thread_reaches_the_loop,
        ),
        (
            "removing_one_handler_leaves_the_others",
            removing_one_handler_leaves_the_others,
        ),
        (
            "remove_signal_handler_removes_all_and_says_whether_there_were_any",
            remove_signal_handler_removes_all_and_says_whether_there_were_any,
        ),
        (
            "invalid_and_uncatchable_signals_are_errors_naming_the_signal",
            invalid_and_uncatchable_signals_are_errors_naming_the_signal,
        ),
        (
            "a_panicking_signal_handler_is_reported_and_the_others_run",
            a_panicking_signal_handler_is_reported_and_the_others_run,
        ),
        (
            "two_loops_handling_one_signal_both_run_their_handlers",
            two_loops_handling_one_signal_both_run_their_handlers,
        ),
        ("a_handler_can_remove_itself", a_handler_can_remove_itself),
        (
            "close_drops_the_handlers_and_stops_listening",
            close_drops_the_handlers_and_stops_listening,
        ),
        (
            "signals_interrupting_poll_do_not_disturb_a_pending_timeout",
            signals_interrupting_poll_do_not_disturb_a_pending_timeout,
        ),
        (
            "a_signal_handler_keeps_run_going_unless_unreferenced",
            a_signal_handler_keeps_run_going_unless_unreferenced,
        ),
        (
            "a_fed_signal_runs_the_handlers_without_a_signal",
            a_fed_signal_runs_the_handlers_without_a_signal,
        ),
    ]);
}

fn a_signal_handler_keeps_run_going_unless_unreferenced() {
    let ioloop = new_loop();
    assert!(!ioloop.is_alive(), "an empty loop");
    let calls = Calls::default();
    let handle = ioloop
        .add_signal_handler(SIGUSR1, recorder(&calls, "a"))
        .unwrap();
    // The handler (not its self-pipe) keeps run() going: it returns only
    // after the handler, once unreferenced, no longer counts.
    assert!(ioloop.is_alive());
    let l = ioloop.clone();
    ioloop.call_later(Duration::from_millis(20), move || {
        raise(SIGUSR1).unwrap();
        let l2 = l.clone();
        l.call_later(Duration::from_millis(20), move || {
            assert!(l2.set_signal_handler_ref(handle, false));
        });
    });
    with_time_limit(&ioloop, Duration::from_secs(10), || ioloop.run()).unwrap();
    assert_eq!(names(&calls), ["a"]);
    assert!(!ioloop.is_alive());
    assert!(
        ioloop.set_signal_handler_ref(handle, true),
        "idempotent both ways"
    );
    assert!(ioloop.is_alive());
    assert!(ioloop.remove_signal_handler_handle(handle));
    assert!(!ioloop.is_alive(), "a removed handler no longer counts");
    assert!(!ioloop.set_signal_handler_ref(handle, true), "removed");
    ioloop.close(true).unwrap();
}

fn a_fed_signal_runs_the_handlers_without_a_signal() {
    let ioloop = new_loop();
    let calls = Calls::default();
    ioloop
        .add_signal_handler(SIGWINCH, recorder(&calls, "a"))
        .unwrap();
    ioloop
        .add_signal_handler(SIGWINCH, recorder(&calls, "b"))
        .unwrap();
    assert!(ioloop.feed_signal_event(SIGWINCH));
    assert!(!ioloop.feed_signal_event(SIGHUP), "no handler for SIGHUP");
    ioloop.run_once(ioloop::RunMode::NoWait).unwrap();
    assert_eq!(names(&calls), ["a", "b"]);
    ioloop.close(true).unwrap();
}

/// A loop not made current, whose callback panics fail the test.
fn new_loop() -> TestLoop {
    TestLoop::watch(
        IOLoop::builder()
            .make_current(MakeCurrent::Never)
            .build()
            .expect("loop"),
    )
}

type Calls = Rc<RefCell<Vec<(&'static str, i32, ThreadId)>>>;

/// A handler that records its call under `name`.
fn recorder(calls: &Calls, name: &'static str) -> impl FnMut(i32) + 'static {
    let calls = calls.clone();
    move |signum| {
        calls
            .borrow_mut()
            .push((name, signum, thread::current().id()))
    }
}

fn names(calls: &Calls) -> Vec<&'static str> {
    calls.borrow().iter().map(|c| c.0).collect()
}

/// Raises `stop_signal` after the others, with a handler that stops the
/// loop: when the loop stops, every signal raised before it was handled
/// (the pipe is drained and all pending flags taken in one dispatch).
fn raise_then_run(ioloop: &IOLoop, signals: &[i32], stop_signal: i32) {
    let l = ioloop.clone();
    let stopper = ioloop
        .add_signal_handler(stop_signal, move |_| l.stop())
        .unwrap();
    for &signal in signals {
        raise(signal).unwrap();
    }
    raise(stop_signal).unwrap();
    harness::run_for_at_most(ioloop, Duration::from_secs(10));
    ioloop.remove_signal_handler_handle(stopper);
}

fn several_handlers_for_one_signal_run_on_the_loop_thread_in_order() {
    let ioloop = new_loop();
    let calls = Calls::default();
    for name in ["first", "second", "third"] {
        ioloop
            .add_signal_handler(SIGUSR1, recorder(&calls, name))
            .unwrap();
    }
    raise_then_run(&ioloop, &[SIGUSR1], SIGUSR2);
    assert_eq!(names(&calls), ["first", "second", "third"]);
    let me = thread::current().id();
    assert!(
        calls
            .borrow()
            .iter()
            .all(|&(_, s, t)| s == SIGUSR1 && t == me)
    );
    assert!(ioloop.remove_signal_handler(SIGUSR1));
    ioloop.close(true).unwrap();
}

fn a_signal_sent_to_the_process_from_another_thread_reaches_the_loop() {
    let ioloop = new_loop();
    let calls = Calls::default();
    ioloop
        .add_signal_handler(SIGHUP, recorder(&calls, "hup"))
        .unwrap();
    let l = ioloop.clone();
    ioloop
        .add_signal_handler(SIGHUP, move |_| l.stop())
        .unwrap();
    // Sent once the loop runs; whichever thread the kernel picks, the
    // handler runs on the loop thread.
    let remote = ioloop.remote();
    ioloop.add_callback(move || {
        thread::spawn(move || {
            sys::kill_self(SIGHUP).unwrap();
            drop(remote);
        });
    });
    harness::run_for_at_most(&ioloop, Duration::from_secs(10));
    assert_eq!(names(&calls), ["hup"]);
    assert_eq!(calls.borrow()[0].2, thread::current().id());
    assert!(ioloop.remove_signal_handler(SIGHUP));
    ioloop.close(true).unwrap();
}

fn removing_one_handler_leaves_the_others() {
    let ioloop = new_loop();
    let calls = Calls::default();
    let _a = ioloop
        .add_signal_handler(SIGUSR1, recorder(&calls, "a"))
        .unwrap();
    let b = ioloop
        .add_signal_handler(SIGUSR1, recorder(&calls, "b"))
        .unwrap();
    let _c = ioloop
        .add_signal_handler(SIGUSR1, recorder(&calls, "c"))
        .unwrap();
    assert_eq!(b.signum(), SIGUSR1);
    assert!(ioloop.remove_signal_handler_handle(b));
    assert!(!ioloop.remove_signal_handler_handle(b), "already removed");
    raise_then_run(&ioloop, &[SIGUSR1], SIGUSR2);
    assert_eq!(names(&calls), ["a", "c"]);

    // A handle from another loop removes nothing here.
    let other = new_loop();
    let foreign = other.add_signal_handler(SIGUSR1, |_| {}).unwrap();
    assert!(!ioloop.remove_signal_handler_handle(foreign));
    assert!(other.remove_signal_handler_handle(foreign));
    assert!(ioloop.remove_signal_handler(SIGUSR1));
    other.close(true).unwrap();
    ioloop.close(true).unwrap();
}

fn remove_signal_handler_removes_all_and_says_whether_there_were_any() {
    let ioloop = new_loop();
    let calls = Calls::default();
    ioloop
        .add_signal_handler(SIGUSR1, recorder(&calls, "a"))
        .unwrap();
    let b = ioloop
        .add_signal_handler(SIGUSR1, recorder(&calls, "b"))
        .unwrap();
    assert!(ioloop.remove_signal_handler(SIGUSR1));
    assert!(!ioloop.remove_signal_handler(SIGUSR1), "none left");
    assert!(!ioloop.remove_signal_handler_handle(b));
    assert!(!ioloop.remove_signal_handler(SIGWINCH), "never had one");
    assert!(!ioloop.remove_signal_handler(-1), "not a signal");
    // SIGUSR1 no longer reaches the loop (and, its default action not
    // restored, does not end the process either).
    raise_then_run(&ioloop, &[SIGUSR1], SIGUSR2);
    assert!(calls.borrow().is_empty(), "{:?}", names(&calls));
    ioloop.close(true).unwrap();
}

fn invalid_and_uncatchable_signals_are_errors_naming_the_signal() {
    let ioloop = new_loop();
    let reserved = libc::SIGRTMIN() - 1; // glibc keeps 32 and 33
    let mut cases = vec![
        (0, "signal 0 is not a signal number".to_owned()),
        (-1, "signal -1 is not a signal number".to_owned()),
        (1000, "signal 1000 is not a signal number".to_owned()),
        (libc::SIGRTMAX() + 1, "is not a signal number".to_owned()),
        (
            reserved,
            format!("signal {reserved} is reserved by the C library"),
        ),
        (libc::SIGKILL, "SIGKILL (9) cannot be caught".to_owned()),
        (libc::SIGSTOP, "SIGSTOP (19) cannot be caught".to_owned()),
        (libc::SIGSEGV, "SIGSEGV (11) reports a fault".to_owned()),
        (libc::SIGBUS, "SIGBUS (7) reports a fault".to_owned()),
        (libc::SIGILL, "SIGILL (4) reports a fault".to_owned()),
        (libc::SIGFPE, "SIGFPE (8) reports a fault".to_owned()),
    ];
    // The blocking watchdog's own signal, once chosen.
    ioloop
        .set_blocking_log_threshold(Some(Duration::from_secs(1)))
        .unwrap();
    let stack_signal = IOLoop::blocking_stack_signal().expect("chosen on Linux");
    ioloop.set_blocking_log_threshold(None).unwrap();
    cases.push((
        stack_signal,
        format!(
            "SIGRTMIN+{} ({stack_signal}) is the blocking watchdog's stack capture signal",
            stack_signal - libc::SIGRTMIN()
        ),
    ));
    for (signum, needle) in cases {
        let err = ioloop.add_signal_handler(signum, |_| {}).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
        let message = err.to_string();
        assert!(message.starts_with("add_signal_handler: "), "{message}");
        assert!(message.contains(&needle), "{message} lacks {needle}");
    }
    // Another real-time signal is fine.
    let rt = if stack_signal == libc::SIGRTMIN() + 1 {
        libc::SIGRTMIN() + 2
    } else {
        libc::SIGRTMIN() + 1
    };
    let handle = ioloop.add_signal_handler(rt, |_| {}).unwrap();
    assert!(ioloop.remove_signal_handler_handle(handle));
    // A closed loop takes no handler.
    ioloop.close(true).unwrap();
    let err = ioloop.add_signal_handler(SIGUSR1, |_| {}).unwrap_err();
    assert!(err.to_string().contains("closed"), "{err}");
}

fn a_panicking_signal_handler_is_reported_and_the_others_run() {
    let ioloop = new_loop();
    let panics = Rc::new(RefCell::new(Vec::new()));
    let p = panics.clone();
    ioloop.set_exception_handler(move |panic| {
        p.borrow_mut().push((
            panic.message().unwrap_or("").to_owned(),
            panic.site().line(),
        ))
    });
    ioloop
        .add_signal_handler(SIGUSR1, |_| panic!("expected panic in a signal handler"))
        .unwrap();
    let line = line!() - 2;
    let calls = Calls::default();
    ioloop
        .add_signal_handler(SIGUSR1, recorder(&calls, "after"))
        .unwrap();
    raise_then_run(&ioloop, &[SIGUSR1], SIGUSR2);
    assert_eq!(names(&calls), ["after"]);
    assert_eq!(
        *panics.borrow(),
        [("expected panic in a signal handler".to_owned(), line)]
    );
    // The panicking handler stays registered, as a panicking I/O handler does.
    assert!(ioloop.remove_signal_handler(SIGUSR1));
    ioloop.close(true).unwrap();
}

fn two_loops_handling_one_signal_both_run_their_handlers() {
    let (tx, rx) = mpsc::channel();
    let background = LoopThread::spawn_with("signal-loop", move |ioloop| {
        ioloop
            .add_signal_handler(SIGUSR1, move |signum| {
                let _ = tx.send((signum, thread::current().name().map(str::to_owned)));
            })
            .unwrap();
    })
    .unwrap();
    let ioloop = new_loop();
    let calls = Calls::default();
    ioloop
        .add_signal_handler(SIGUSR1, recorder(&calls, "main"))
        .unwrap();
    raise_then_run(&ioloop, &[SIGUSR1], SIGUSR2);
    assert_eq!(names(&calls), ["main"]);
    let (signum, thread) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(signum, SIGUSR1);
    assert_eq!(thread.as_deref(), Some("signal-loop"));
    background.stop().unwrap(); // closes its loop, removing its handler
    assert!(ioloop.remove_signal_handler(SIGUSR1));
    ioloop.close(true).unwrap();
}

fn a_handler_can_remove_itself() {
    let ioloop = new_loop();
    let calls = Calls::default();
    let me: Rc<Cell<Option<ioloop::SignalHandle>>> = Rc::default();
    let (m, l, mut record) = (me.clone(), ioloop.clone(), recorder(&calls, "once"));
    let handle = ioloop
        .add_signal_handler(SIGUSR1, move |signum| {
            record(signum);
            assert!(l.remove_signal_handler_handle(m.get().unwrap()));
        })
        .unwrap();
    me.set(Some(handle));
    raise_then_run(&ioloop, &[SIGUSR1], SIGUSR2);
    raise_then_run(&ioloop, &[SIGUSR1], SIGUSR2);
    assert_eq!(names(&calls), ["once"]);
    assert!(!ioloop.remove_signal_handler(SIGUSR1));
    ioloop.close(true).unwrap();
}

fn close_drops_the_handlers_and_stops_listening() {
    struct DropFlag(Rc<Cell<bool>>);
    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let ioloop = new_loop();
    let dropped = Rc::new(Cell::new(false));
    let flag = DropFlag(dropped.clone());
    // The handler holds the loop: a cycle that close breaks.
    let l = ioloop.clone();
    ioloop
        .add_signal_handler(SIGUSR1, move |_| {
            let _ = (&flag, &l);
        })
        .unwrap();
    ioloop.close(true).unwrap();
    assert!(dropped.get(), "close dropped the handler");
    assert!(!ioloop.remove_signal_handler(SIGUSR1));
    // The signal reaches no loop now (and does not end the process).
    raise(SIGUSR1).unwrap();
    let other = new_loop();
    let calls = Calls::default();
    other
        .add_signal_handler(SIGUSR1, recorder(&calls, "other"))
        .unwrap();
    raise_then_run(&other, &[SIGUSR1], SIGUSR2);
    assert_eq!(names(&calls), ["other"]);
    assert!(other.remove_signal_handler(SIGUSR1));
    other.close(true).unwrap();
}

fn signals_interrupting_poll_do_not_disturb_a_pending_timeout() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let ioloop = new_loop();
    let calls = Calls::default();
    ioloop
        .add_signal_handler(SIGUSR1, recorder(&calls, "usr1"))
        .unwrap();
    let tid = sys::gettid();
    let sent_all = Arc::new(AtomicBool::new(false));
    let s = sent_all.clone();
    // Five signals, each sent to the loop thread once it is seen waiting
    // in epoll_wait (which then returns EINTR).
    let sender = thread::spawn(move || {
        let start = Instant::now();
        let mut sent = 0;
        while sent < 5 {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "never in epoll_wait"
            );
            if sys::blocked_in_syscall(tid).is_some_and(sys::is_epoll_wait) {
                sys::tgkill(tid, SIGUSR1).unwrap();
                sent += 1;
                thread::sleep(Duration::from_millis(10));
            } else {
                thread::yield_now();
            }
        }
        s.store(true, Ordering::SeqCst);
    });
    let start = Instant::now();
    let fired_at = Rc::new(Cell::new(None));
    let (f, l) = (fired_at.clone(), ioloop.clone());
    ioloop.call_later(Duration::from_millis(300), move || {
        f.set(Some(start.elapsed()));
        // Go on polling until the last signal was sent and handled.
        fn stop_after_sender(l: IOLoop, sent_all: Arc<AtomicBool>) {
            if sent_all.load(Ordering::SeqCst) {
                let stop = l.clone();
                l.add_callback(move || stop.stop());
                return;
            }
            let l2 = l.clone();
            l.call_later(Duration::from_millis(10), move || {
                stop_after_sender(l2, sent_all)
            });
        }
        stop_after_sender(l, sent_all);
    });
    harness::run_for_at_most(&ioloop, Duration::from_secs(20));
    sender.join().unwrap();
    let fired = fired_at.get().expect("the timeout ran");
    assert!(fired >= Duration::from_millis(300), "early: {fired:?}");
    // Deliveries that arrive before the loop gets to them coalesce, so
    // between one and five calls.
    let n = calls.borrow().len();
    assert!((1..=5).contains(&n), "{n} calls");
    assert!(ioloop.remove_signal_handler(SIGUSR1));
    ioloop.close(true).unwrap();
}
