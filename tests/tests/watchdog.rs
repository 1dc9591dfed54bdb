//! The blocking watchdog (`set_blocking_log_threshold`,
//! `set_blocking_signal_threshold`): reports while the callback still runs,
//! with its stack; nothing for fast callbacks or a polling loop; a few
//! reports per stuck callback, not a flood; its signal's `EINTR` does not
//! break polling; each loop of several gets its own reports.
//!
//! `harness = false`: signals and the watchdog thread are process-wide, so
//! the tests run one after the other on the main thread. Some run a copy
//! of this binary as a child process (`IOLOOP_WATCHDOG_CHILD`), for what
//! ends the process or fixes process-wide settings.
//!
//! No test sleeps and hopes: a stuck callback spins until the watchdog has
//! reported it (or a generous limit passes), and bounds are structural.

mod harness;

use std::cell::Cell;
use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use ioloop::{BlockingAction, BlockingReport, CallbackKind, IOLoop, MakeCurrent, StackCapture};

use harness::sys;
use integration_tests::TestLoop;

const THRESHOLD: Duration = Duration::from_millis(100);
/// How long a stuck callback waits for its report before giving up.
const LIMIT: Duration = Duration::from_secs(5);
const CHILD: &str = "IOLOOP_WATCHDOG_CHILD";

fn main() {
    if let Ok(mode) = std::env::var(CHILD) {
        child(&mode);
        return;
    }
    harness::capture_logs();
    harness::run_tests(&[
        (
            "reports_and_actions_can_cross_threads",
            reports_and_actions_can_cross_threads,
        ),
        (
            "a_stuck_callback_is_reported_while_it_runs_with_its_stack",
            a_stuck_callback_is_reported_while_it_runs_with_its_stack,
        ),
        (
            "the_log_action_warns_with_the_blocking_function_in_the_stack",
            the_log_action_warns_with_the_blocking_function_in_the_stack,
        ),
        (
            "a_stuck_task_poll_is_reported_as_a_task",
            a_stuck_task_poll_is_reported_as_a_task,
        ),
        (
            "fast_callbacks_and_a_polling_loop_are_not_reported",
            fast_callbacks_and_a_polling_loop_are_not_reported,
        ),
        (
            "a_stuck_callback_gets_a_few_reports_not_a_flood",
            a_stuck_callback_gets_a_few_reports_not_a_flood,
        ),
        (
            "a_handler_and_a_timeout_are_reported_as_such",
            a_handler_and_a_timeout_are_reported_as_such,
        ),
        (
            "a_callback_asleep_in_a_system_call_is_reported_and_sleeps_its_full_time",
            a_callback_asleep_in_a_system_call_is_reported_and_sleeps_its_full_time,
        ),
        (
            "the_watchdog_signal_interrupting_epoll_wait_does_not_break_polling",
            the_watchdog_signal_interrupting_epoll_wait_does_not_break_polling,
        ),
        (
            "two_loops_on_two_threads_get_their_own_reports",
            two_loops_on_two_threads_get_their_own_reports,
        ),
        (
            "with_the_signal_blocked_reports_come_without_a_stack",
            with_the_signal_blocked_reports_come_without_a_stack,
        ),
        (
            "turning_the_watchdog_off_or_closing_the_loop_stops_reports",
            turning_the_watchdog_off_or_closing_the_loop_stops_reports,
        ),
        (
            "a_panicking_action_is_logged_and_the_watchdog_goes_on",
            a_panicking_action_is_logged_and_the_watchdog_goes_on,
        ),
        (
            "invalid_thresholds_and_closed_loops_are_errors",
            invalid_thresholds_and_closed_loops_are_errors,
        ),
        (
            "the_abort_action_ends_the_process_after_printing_the_report",
            the_abort_action_ends_the_process_after_printing_the_report,
        ),
        (
            "a_report_is_logged_while_the_callback_runs_even_if_symbols_never_come",
            a_report_is_logged_while_the_callback_runs_even_if_symbols_never_come,
        ),
        (
            "the_abort_action_prints_the_report_and_aborts_even_if_symbols_never_come",
            the_abort_action_prints_the_report_and_aborts_even_if_symbols_never_come,
        ),
        (
            "a_chosen_stack_signal_is_used_and_then_final",
            a_chosen_stack_signal_is_used_and_then_final,
        ),
        (
            "with_stack_capture_off_reports_say_so",
            with_stack_capture_off_reports_say_so,
        ),
        (
            "closing_a_watched_loop_in_a_forked_child_does_not_hang",
            closing_a_watched_loop_in_a_forked_child_does_not_hang,
        ),
        (
            "a_stack_is_captured_while_the_loop_thread_unwinds_a_panic",
            a_stack_is_captured_while_the_loop_thread_unwinds_a_panic,
        ),
        (
            "code_running_on_another_stack_is_reported_without_reading_that_stack",
            code_running_on_another_stack_is_reported_without_reading_that_stack,
        ),
        (
            "a_callback_stuck_holding_the_loaders_lock_is_reported_with_its_stack",
            a_callback_stuck_holding_the_loaders_lock_is_reported_with_its_stack,
        ),
    ]);
}

// ----- helpers -------------------------------------------------------------

/// A loop whose callback panics fail the test (see [`TestLoop`]).
fn new_loop() -> TestLoop {
    TestLoop::watch(
        IOLoop::builder()
            .make_current(MakeCurrent::Never)
            .build()
            .expect("loop"),
    )
}

/// An action that sends every report to the returned receiver and raises
/// `seen`.
fn channel_action() -> (BlockingAction, Receiver<BlockingReport>, Arc<AtomicBool>) {
    let (tx, rx) = mpsc::channel();
    let seen = Arc::new(AtomicBool::new(false));
    let s = seen.clone();
    let action = BlockingAction::custom(move |report| {
        let _ = tx.send(report.clone());
        s.store(true, Ordering::SeqCst);
    });
    (action, rx, seen)
}

/// Busy-waits at least `at_least`, then until `seen` is raised (at most
/// `LIMIT` in all); returns whether `seen` was raised while it still ran.
#[inline(never)]
fn busy_wait_until_reported(seen: &AtomicBool, at_least: Duration) -> bool {
    let start = Instant::now();
    loop {
        let elapsed = start.elapsed();
        if elapsed >= at_least && seen.load(Ordering::SeqCst) {
            return true;
        }
        if elapsed >= LIMIT {
            return seen.load(Ordering::SeqCst);
        }
        black_box(elapsed);
    }
}

/// Busy-waits exactly `how_long`.
#[inline(never)]
fn busy_wait_for(how_long: Duration) {
    let start = Instant::now();
    while start.elapsed() < how_long {
        black_box(());
    }
}

fn stack_names(report: &BlockingReport) -> Vec<String> {
    report
        .frames()
        .iter()
        .map(|f| f.name().unwrap_or("?").to_owned())
        .collect()
}

fn stack_has(report: &BlockingReport, function: &str) -> bool {
    stack_names(report)
        .iter()
        .any(|name| name.contains(function))
}

/// Runs `f` as a callback on a fresh loop watched with `action` under
/// `THRESHOLD`, then stops the loop.
fn run_one_callback(ioloop: &IOLoop, f: impl FnOnce() + 'static) {
    let l = ioloop.clone();
    ioloop.add_callback(move || {
        f();
        l.stop();
    });
    harness::run_for_at_most(ioloop, Duration::from_secs(30));
}

/// The stack signal, choosing it if no loop has yet.
fn stack_signal() -> i32 {
    let ioloop = new_loop();
    ioloop.set_blocking_log_threshold(Some(THRESHOLD)).unwrap();
    ioloop.set_blocking_log_threshold(None).unwrap();
    IOLoop::blocking_stack_signal().expect("chosen on Linux")
}

// ----- tests ---------------------------------------------------------------

fn reports_and_actions_can_cross_threads() {
    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    // The report is made on the watchdog thread and may be sent anywhere.
    assert_send_sync_clone::<BlockingReport>();
    assert_send_sync_clone::<BlockingAction>();
    assert_send_sync_clone::<StackCapture>();
    assert_send_sync_clone::<ioloop::StackFrame>();
}

fn a_stuck_callback_is_reported_while_it_runs_with_its_stack() {
    let ioloop = new_loop();
    let (action, reports, seen) = channel_action();
    ioloop
        .set_blocking_signal_threshold(Some(THRESHOLD), action)
        .unwrap();
    let while_running = Rc::new(Cell::new(false));
    let (w, l) = (while_running.clone(), ioloop.clone());
    let started = Rc::new(Cell::new(None));
    let st = started.clone();
    ioloop.add_callback(move || {
        st.set(Some(Instant::now()));
        w.set(busy_wait_until_reported(&seen, Duration::from_millis(400)));
        l.stop();
    });
    let line = line!() - 5;
    harness::run_for_at_most(&ioloop, Duration::from_secs(30));
    ioloop.set_blocking_log_threshold(None).unwrap();

    assert!(
        while_running.get(),
        "no report while the callback ran (within {LIMIT:?})"
    );
    let report = reports.try_recv().expect("a report");
    assert_eq!(report.number(), 1);
    assert_eq!(report.threshold(), THRESHOLD);
    assert!(report.blocked_for() >= THRESHOLD, "{report}");
    assert_eq!(report.kind(), Some(CallbackKind::Callback));
    assert!(report.site().file().ends_with("watchdog.rs"), "{report}");
    assert_eq!(report.site().line(), line, "{report}");
    assert_eq!(report.thread_name(), Some("main"));
    assert_eq!(report.thread_id(), Some(i64::from(sys::gettid())));
    assert!(
        matches!(report.stack(), StackCapture::Captured(_)),
        "{report}"
    );
    assert!(stack_has(&report, "busy_wait_until_reported"), "{report}");
    // The capture's own frames (signal action, signal-hook) are dropped.
    assert!(!stack_has(&report, "signal_hook_registry"), "{report}");
    assert!(!stack_has(&report, "on_capture_signal"), "{report}");
    // A custom action gets the symbolised report; each frame keeps its
    // object and offset.
    assert!(report.is_symbolized(), "{report}");
    let program = std::env::current_exe().unwrap();
    assert!(
        report
            .frames()
            .iter()
            .any(|f| f.object() == Some(program.as_path()) && f.offset().is_some()),
        "{:?}",
        report.frames()
    );
    let text = report.to_string();
    assert!(text.contains("busy_wait_until_reported"), "{text}");
    assert!(text.contains(&format!("watchdog.rs:{line}")), "{text}");
    assert!(
        text.contains(&format!(
            "[blocked callback {}, report 1]",
            report.callback()
        )),
        "{text}"
    );
}

fn the_log_action_warns_with_the_blocking_function_in_the_stack() {
    let ioloop = new_loop();
    ioloop.set_blocking_log_threshold(Some(THRESHOLD)).unwrap();
    assert_eq!(ioloop.blocking_threshold(), Some(THRESHOLD));
    let before = harness::logged("ioloop::watchdog", log::Level::Warn).len();
    let logged_while_running = Rc::new(Cell::new(false));
    let (w, l) = (logged_while_running.clone(), ioloop.clone());
    ioloop.add_callback(move || {
        w.set(busy_wait_until_logged(before));
        l.stop();
    });
    let line = line!() - 4;
    harness::run_for_at_most(&ioloop, Duration::from_secs(30));
    ioloop.set_blocking_log_threshold(None).unwrap();
    assert!(
        logged_while_running.get(),
        "no warning while the callback ran"
    );
    let warnings = harness::logged("ioloop::watchdog", log::Level::Warn);
    let warning = &warnings[before];
    assert!(
        warning.contains(&format!(
            "by a callback registered at tests/tests/watchdog.rs:{line}:"
        )),
        "{warning}"
    );
    assert!(warning.contains("ioloop blocked for at least"), "{warning}");
    // The symbolised stack follows as a second record with the same tag.
    let tag_at = warning.find("[blocked callback ").expect("a tag");
    let tag = &warning[tag_at..=tag_at + warning[tag_at..].find(']').unwrap()];
    let second = format!("{tag} loop thread stack:");
    let start = Instant::now();
    let stack = loop {
        let warnings = harness::logged("ioloop::watchdog", log::Level::Warn);
        if let Some(stack) = warnings.into_iter().find(|w| w.starts_with(&second)) {
            break stack;
        }
        assert!(start.elapsed() < LIMIT * 2, "no {second:?} record");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(stack.contains("busy_wait_until_logged"), "{stack}");
}

/// Busy-waits until the watchdog has logged a warning beyond the first
/// `before` (at most `LIMIT`).
#[inline(never)]
fn busy_wait_until_logged(before: usize) -> bool {
    let start = Instant::now();
    while start.elapsed() < LIMIT {
        if harness::logged("ioloop::watchdog", log::Level::Warn).len() > before {
            return true;
        }
        std::thread::yield_now();
    }
    false
}

fn fast_callbacks_and_a_polling_loop_are_not_reported() {
    let ioloop = new_loop();
    let (action, reports, seen) = channel_action();
    ioloop
        .set_blocking_signal_threshold(Some(THRESHOLD), action)
        .unwrap();
    // 300 callbacks of 1 ms: the loop is busy for 300 ms, no callback for
    // more than 1 ms (the threshold is per callback, as in asyncio).
    fn chain(l: IOLoop, left: u32) {
        busy_wait_for(Duration::from_millis(1));
        if left == 0 {
            // Then 300 ms waiting in poll for a timeout.
            let s = l.clone();
            l.call_later(Duration::from_millis(300), move || s.stop());
        } else {
            let next = l.clone();
            l.add_callback(move || chain(next, left - 1));
        }
    }
    let l = ioloop.clone();
    ioloop.add_callback(move || chain(l, 300));
    harness::run_for_at_most(&ioloop, Duration::from_secs(30));
    assert!(
        reports.try_recv().is_err(),
        "a fast callback or the polling loop was reported"
    );

    // The watchdog is on and watching: a stuck callback is reported, and it
    // is the only one.
    let l = ioloop.clone();
    ioloop.add_callback(move || {
        busy_wait_until_reported(&seen, Duration::ZERO);
        l.stop();
    });
    let line = line!() - 4;
    harness::run_for_at_most(&ioloop, Duration::from_secs(30));
    ioloop.set_blocking_log_threshold(None).unwrap();
    let all: Vec<BlockingReport> = reports.try_iter().collect();
    assert!(!all.is_empty());
    assert!(all.iter().all(|r| r.site().line() == line), "{all:?}");
}

fn a_stuck_callback_gets_a_few_reports_not_a_flood() {
    let ioloop = new_loop();
    let (action, reports, seen) = channel_action();
    ioloop
        .set_blocking_signal_threshold(Some(THRESHOLD), action)
        .unwrap();
    let reported = Rc::new(Cell::new(false));
    let r = reported.clone();
    run_one_callback(&ioloop, move || {
        // Stuck for 600 ms (longer if the first report is late).
        r.set(busy_wait_until_reported(&seen, Duration::from_millis(600)));
    });
    ioloop.set_blocking_log_threshold(None).unwrap();
    assert!(reported.get());
    let all: Vec<BlockingReport> = reports.try_iter().collect();
    // Sampled every 25 ms, a flood would be ~20 reports. Reports come when
    // the running time reaches the threshold, then each time it doubles
    // since the previous report: at >= 100, >= 200 and >= 400 ms at most,
    // the next one would need >= 800 ms.
    assert!(
        (1..=3).contains(&all.len()),
        "{} reports: {all:#?}",
        all.len()
    );
    for (i, report) in all.iter().enumerate() {
        assert_eq!(report.number() as usize, i + 1);
        assert_eq!(report.site(), all[0].site());
        if i > 0 {
            assert!(report.blocked_for() >= all[i - 1].blocked_for() * 2);
        }
    }
}

fn a_stuck_task_poll_is_reported_as_a_task() {
    let ioloop = new_loop();
    let (tx, reports) = mpsc::channel();
    let seen = Arc::new(AtomicBool::new(false));
    let s = seen.clone();
    let action = BlockingAction::custom(move |report: &BlockingReport| {
        let _ = tx.send(report.clone());
        if report.kind() == Some(CallbackKind::Task) {
            s.store(true, Ordering::SeqCst);
        }
    });
    ioloop
        .set_blocking_signal_threshold(Some(THRESHOLD), action)
        .unwrap();
    let reported = ioloop
        .run_sync(
            || {
                IOLoop::current().spawn(async move {
                    ioloop::yield_now().await;
                    busy_wait_until_reported(&seen, Duration::ZERO)
                })
            },
            Some(Duration::from_secs(30)),
        )
        .unwrap()
        .unwrap();
    ioloop.set_blocking_log_threshold(None).unwrap();
    assert!(reported, "the task poll was reported while it ran");
    let all: Vec<BlockingReport> = reports.try_iter().collect();
    let task = all
        .iter()
        .find(|r| r.kind() == Some(CallbackKind::Task))
        .unwrap_or_else(|| panic!("no task report in {all:#?}"));
    assert!(task.site().file().ends_with("watchdog.rs"), "{task}");
    assert!(task.to_string().contains("task"), "{task}");
}

fn a_handler_and_a_timeout_are_reported_as_such() {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    let ioloop = new_loop();
    let (tx, reports) = mpsc::channel();
    let handler_seen = Arc::new(AtomicBool::new(false));
    let timeout_seen = Arc::new(AtomicBool::new(false));
    let (h, t) = (handler_seen.clone(), timeout_seen.clone());
    let action = BlockingAction::custom(move |report: &BlockingReport| {
        let _ = tx.send(report.clone());
        match report.kind() {
            Some(CallbackKind::Handler { .. }) => h.store(true, Ordering::SeqCst),
            Some(CallbackKind::Timeout) => t.store(true, Ordering::SeqCst),
            _ => {}
        }
    });
    ioloop
        .set_blocking_signal_threshold(Some(THRESHOLD), action)
        .unwrap();
    let (mut a, b) = UnixStream::pair().unwrap();
    a.write_all(b"x").unwrap();
    let fd = b.as_raw_fd();
    let l = ioloop.clone();
    ioloop
        .add_handler(fd, ioloop::Events::READ, move |fd, _| {
            l.remove_handler(fd);
            busy_wait_until_reported(&handler_seen, Duration::ZERO);
            let (l2, t2) = (l.clone(), timeout_seen.clone());
            l.call_later(Duration::from_millis(1), move || {
                busy_wait_until_reported(&t2, Duration::ZERO);
                l2.stop();
            });
        })
        .unwrap();
    harness::run_for_at_most(&ioloop, Duration::from_secs(30));
    ioloop.set_blocking_log_threshold(None).unwrap();
    let all: Vec<BlockingReport> = reports.try_iter().collect();
    let handler = all
        .iter()
        .find(|r| matches!(r.kind(), Some(CallbackKind::Handler { .. })))
        .expect("a handler report");
    assert_eq!(
        handler.kind(),
        Some(CallbackKind::Handler {
            fd,
            events: ioloop::Events::READ
        })
    );
    assert!(
        handler
            .to_string()
            .contains(&format!("a handler for fd {fd}"))
    );
    assert!(
        all.iter().any(|r| r.kind() == Some(CallbackKind::Timeout)),
        "{all:#?}"
    );
    drop((a, b));
}

fn a_callback_asleep_in_a_system_call_is_reported_and_sleeps_its_full_time() {
    let ioloop = new_loop();
    let (action, reports, _) = channel_action();
    ioloop
        .set_blocking_signal_threshold(Some(THRESHOLD), action)
        .unwrap();
    let slept = Rc::new(Cell::new(Duration::ZERO));
    let s = slept.clone();
    run_one_callback(&ioloop, move || {
        // nanosleep returns EINTR when the watchdog's signal arrives; the
        // standard library sleeps the rest.
        let start = Instant::now();
        std::thread::sleep(Duration::from_millis(400));
        s.set(start.elapsed());
    });
    // The report was made while the sleep ran (it started at 100 ms); a
    // report under way when the callback returned may still be arriving.
    let report = reports.recv_timeout(LIMIT).expect("a report");
    ioloop.set_blocking_log_threshold(None).unwrap();
    assert!(
        slept.get() >= Duration::from_millis(400),
        "{:?}",
        slept.get()
    );
    assert!(stack_has(&report, "sleep"), "{report}");
}

fn the_watchdog_signal_interrupting_epoll_wait_does_not_break_polling() {
    let signal = stack_signal();
    let ioloop = new_loop();
    let (action, reports, _) = channel_action();
    ioloop
        .set_blocking_signal_threshold(Some(THRESHOLD), action)
        .unwrap();
    let tid = sys::gettid();
    let done = Arc::new(AtomicBool::new(false));
    let delivered_in_epoll = Arc::new(AtomicUsize::new(0));
    let (d, n) = (done.clone(), delivered_in_epoll.clone());
    // Sends the watchdog's signal ten times, each time once the loop
    // thread is seen blocked in epoll_wait, where it returns EINTR.
    let sender = std::thread::spawn(move || {
        let start = Instant::now();
        while n.load(Ordering::SeqCst) < 10 && !d.load(Ordering::SeqCst) {
            assert!(start.elapsed() < LIMIT, "the loop never waited in epoll");
            if sys::blocked_in_syscall(tid).is_some_and(sys::is_epoll_wait) {
                sys::tgkill(tid, signal).unwrap();
                n.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
            } else {
                std::thread::yield_now();
            }
        }
    });
    // The loop waits for a timeout, polling, while the signals arrive.
    let fired_at = Rc::new(Cell::new(None));
    let (f, l, d) = (fired_at.clone(), ioloop.clone(), done.clone());
    let start = Instant::now();
    let deadline = Duration::from_millis(300);
    ioloop.call_later(deadline, move || {
        f.set(Some(start.elapsed()));
        // Keep polling until all ten signals were sent.
        fn wait_for_sender(l: IOLoop, d: Arc<AtomicBool>, n: Arc<AtomicUsize>) {
            if n.load(Ordering::SeqCst) >= 10 {
                d.store(true, Ordering::SeqCst);
                l.stop();
            } else {
                let l2 = l.clone();
                l.call_later(Duration::from_millis(20), move || wait_for_sender(l2, d, n));
            }
        }
        wait_for_sender(l, d, delivered_in_epoll);
    });
    let result = {
        let l = ioloop.clone();
        let guard = ioloop.call_later(Duration::from_secs(30), move || l.stop());
        let result = ioloop.start();
        ioloop.remove_timeout(guard);
        result
    };
    done.store(true, Ordering::SeqCst);
    sender.join().unwrap();
    ioloop.set_blocking_log_threshold(None).unwrap();
    result.expect("EINTR is a wakeup, not an error");
    let fired = fired_at.get().expect("the timeout ran");
    assert!(fired >= deadline, "fired early: {fired:?}");
    assert!(
        reports.try_recv().is_err(),
        "a polling loop is never reported"
    );
}

#[inline(never)]
fn stuck_in_loop_a(seen: &AtomicBool) -> bool {
    busy_wait_until_reported(seen, Duration::ZERO)
}

#[inline(never)]
fn stuck_in_loop_b(seen: &AtomicBool) -> bool {
    busy_wait_until_reported(seen, Duration::ZERO)
}

fn two_loops_on_two_threads_get_their_own_reports() {
    let barrier = Arc::new(Barrier::new(2));
    let spawn = |name: &'static str, stuck: fn(&AtomicBool) -> bool| {
        let barrier = barrier.clone();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let ioloop = new_loop();
                let (action, reports, seen) = channel_action();
                ioloop
                    .set_blocking_signal_threshold(Some(THRESHOLD), action)
                    .unwrap();
                let while_running = Rc::new(Cell::new(false));
                let w = while_running.clone();
                // Both loops are blocked at the same time.
                barrier.wait();
                run_one_callback(&ioloop, move || w.set(stuck(&seen)));
                ioloop.close(true).unwrap();
                assert!(while_running.get(), "{name}: no report while blocked");
                (sys::gettid(), reports.try_iter().collect::<Vec<_>>())
            })
            .unwrap()
    };
    let a = spawn("loop-a", stuck_in_loop_a);
    let b = spawn("loop-b", stuck_in_loop_b);
    let (tid_a, reports_a) = a.join().unwrap();
    let (tid_b, reports_b) = b.join().unwrap();
    for (reports, tid, name, mine, theirs) in [
        (
            &reports_a,
            tid_a,
            "loop-a",
            "stuck_in_loop_a",
            "stuck_in_loop_b",
        ),
        (
            &reports_b,
            tid_b,
            "loop-b",
            "stuck_in_loop_b",
            "stuck_in_loop_a",
        ),
    ] {
        assert!(!reports.is_empty(), "{name}: no report");
        for report in reports {
            assert_eq!(report.thread_name(), Some(name));
            assert_eq!(report.thread_id(), Some(i64::from(tid)));
            assert!(stack_has(report, mine), "{report}");
            assert!(!stack_has(report, theirs), "{report}");
        }
    }
}

fn with_the_signal_blocked_reports_come_without_a_stack() {
    let signal = stack_signal();
    let report = std::thread::spawn(move || {
        sys::block_on_this_thread(signal);
        let ioloop = new_loop();
        let (action, reports, seen) = channel_action();
        ioloop
            .set_blocking_signal_threshold(Some(THRESHOLD), action)
            .unwrap();
        run_one_callback(&ioloop, move || {
            busy_wait_until_reported(&seen, Duration::ZERO);
        });
        ioloop.close(true).unwrap();
        reports
            .try_recv()
            .expect("layer A reports without the signal")
    })
    .join()
    .unwrap();
    match report.stack() {
        StackCapture::Unavailable(reason) => {
            assert!(reason.contains("is blocked on the loop thread"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(report.to_string().contains("no stack: "), "{report}");
}

fn turning_the_watchdog_off_or_closing_the_loop_stops_reports() {
    let ioloop = new_loop();
    let (action, reports, _) = channel_action();
    ioloop
        .set_blocking_signal_threshold(Some(THRESHOLD), action.clone())
        .unwrap();
    ioloop.set_blocking_signal_threshold(None, action).unwrap();
    assert_eq!(ioloop.blocking_threshold(), None);
    // A second loop, still watched, proves the watchdog thread is looking:
    // its report comes after at least one threshold, by when the first
    // loop's callback (started before it) would have been reported too.
    let witness = new_loop();
    let (witness_action, _witness_reports, witness_seen) = channel_action();
    witness
        .set_blocking_signal_threshold(Some(THRESHOLD), witness_action)
        .unwrap();
    run_one_callback(&ioloop, move || {
        let start = Instant::now();
        run_one_callback(&witness, move || {
            busy_wait_until_reported(&witness_seen, Duration::ZERO);
        });
        // Twice the time the witness needed.
        busy_wait_for(start.elapsed());
    });
    assert!(reports.try_recv().is_err(), "reported while off");

    let (action, reports, _) = channel_action();
    ioloop
        .set_blocking_signal_threshold(Some(THRESHOLD), action)
        .unwrap();
    ioloop.close(true).unwrap();
    assert_eq!(ioloop.blocking_threshold(), None);
    assert!(reports.try_recv().is_err());
}

fn a_panicking_action_is_logged_and_the_watchdog_goes_on() {
    let ioloop = new_loop();
    let panicked = Arc::new(AtomicBool::new(false));
    let p = panicked.clone();
    ioloop
        .set_blocking_signal_threshold(
            Some(THRESHOLD),
            BlockingAction::custom(move |_| {
                p.store(true, Ordering::SeqCst);
                panic!("expected panic in a blocking action");
            }),
        )
        .unwrap();
    run_one_callback(&ioloop, move || {
        busy_wait_until_reported(&panicked, Duration::ZERO);
    });
    // The watchdog thread survived: a new action gets the next report.
    let (action, reports, seen) = channel_action();
    ioloop
        .set_blocking_signal_threshold(Some(THRESHOLD), action)
        .unwrap();
    run_one_callback(&ioloop, move || {
        busy_wait_until_reported(&seen, Duration::ZERO);
    });
    ioloop.set_blocking_log_threshold(None).unwrap();
    assert!(reports.try_recv().is_ok());
    let errors = harness::logged("ioloop::watchdog", log::Level::Error);
    assert!(
        errors.iter().any(|e| e.contains("action panicked")),
        "{errors:?}"
    );
}

fn invalid_thresholds_and_closed_loops_are_errors() {
    let ioloop = new_loop();
    let err = ioloop
        .set_blocking_log_threshold(Some(Duration::ZERO))
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(ioloop.blocking_threshold(), None);
    ioloop.close(true).unwrap();
    let err = ioloop
        .set_blocking_log_threshold(Some(THRESHOLD))
        .unwrap_err();
    assert!(err.to_string().contains("closed"), "{err}");
    // Turning it off is always fine.
    ioloop.set_blocking_log_threshold(None).unwrap();
}

// ----- child processes -------------------------------------------------------

fn run_child(mode: &str) -> std::process::Output {
    Command::new(std::env::current_exe().unwrap())
        .env(CHILD, mode)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn the_abort_action_ends_the_process_after_printing_the_report() {
    let out = run_child("abort");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{out:?}");
    assert!(stderr.contains("ioloop blocked for at least"), "{stderr}");
    assert!(stderr.contains("stuck_until_aborted"), "{stderr}");
    assert!(
        stderr.contains("aborting (BlockingAction::Abort)"),
        "{stderr}"
    );
}

/// A child process's standard error, line by line, each with when it
/// arrived; its standard input, to tell it to go on.
struct Child {
    process: std::process::Child,
    lines: Receiver<(Instant, String)>,
    seen: Vec<(Instant, String)>,
}

impl Child {
    fn spawn(mode: &str) -> Child {
        let mut process = Command::new(std::env::current_exe().unwrap())
            .env(CHILD, mode)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = process.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        Child {
            process,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (at most until `deadline`) for a line containing `text`;
    /// returns when it arrived.
    fn wait_for(&mut self, text: &str, deadline: Instant) -> Option<Instant> {
        if let Some((at, _)) = self.seen.iter().find(|(_, l)| l.contains(text)) {
            return Some(*at);
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (at, line) = self.lines.recv_timeout(left).ok()?;
            let found = line.contains(text);
            self.seen.push((at, line));
            if found {
                return Some(at);
            }
        }
    }

    /// Tells the child to go on.
    fn go(&mut self) {
        let mut stdin = self.process.stdin.take().unwrap();
        let _ = stdin.write_all(b"go\n");
    }

    /// Waits (at most until `deadline`) for the child to exit, and reads
    /// the rest of its standard error; kills it if it does not exit.
    fn exit_status(&mut self, deadline: Instant) -> Option<ExitStatus> {
        while Instant::now() < deadline {
            if let Some(status) = self.process.try_wait().unwrap() {
                while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
                    self.seen.push(line);
                }
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
        None
    }

    fn stderr(&self) -> String {
        let lines: Vec<&str> = self.seen.iter().map(|(_, l)| l.as_str()).collect();
        lines.join("\n")
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // A failed test must not leave the child spinning.
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The first record of a report does not wait for symbols: with the
/// symbolisation library's lock held for good in the child, the report is
/// still logged while the callback runs, with raw frames; and the child,
/// which exits right after the callback, does so at once.
fn a_report_is_logged_while_the_callback_runs_even_if_symbols_never_come() {
    let mut child = Child::spawn("log-with-symbols-held");
    let deadline = Instant::now() + LIMIT * 2;
    let started = child.wait_for(CALLBACK_STARTED, deadline);
    let reported = child.wait_for("ioloop blocked for at least", deadline);
    child.go();
    let status = child.exit_status(Instant::now() + LIMIT * 2);
    let stderr = child.stderr();
    let (started, reported) = (
        started.expect("the callback started"),
        reported.unwrap_or_else(|| panic!("no report while the callback ran:\n{stderr}")),
    );
    assert!(status.is_some_and(|s| s.success()), "{status:?}\n{stderr}");
    let returned = child
        .wait_for(CALLBACK_RETURNED, Instant::now())
        .expect("the callback returned");
    // The report came while the callback ran, within a generous bound of
    // the threshold.
    assert!(started < reported && reported < returned, "{stderr}");
    assert!(
        reported - started < THRESHOLD + LIMIT,
        "{:?}\n{stderr}",
        reported - started
    );
    let report = &child
        .seen
        .iter()
        .find(|(_, l)| l.contains("ioloop blocked"))
        .unwrap()
        .1;
    assert!(
        report.contains("registered at tests/tests/watchdog.rs:")
            && report.contains("[blocked callback ")
            && report.contains(", report 1]")
            && report.contains("symbols follow in a second record"),
        "{stderr}"
    );
    // Raw frames: the test program's own code, as object+offset.
    let program = std::env::current_exe().unwrap();
    let program = program.file_name().unwrap().to_string_lossy();
    assert!(stderr.contains(&format!("{program}+0x")), "{stderr}");
}

/// The abort action prints its report, then aborts even if the symbols
/// never come.
fn the_abort_action_prints_the_report_and_aborts_even_if_symbols_never_come() {
    let mut child = Child::spawn("abort-with-symbols-held");
    let status = child.exit_status(Instant::now() + LIMIT * 4);
    let stderr = child.stderr();
    assert_eq!(
        status.and_then(|s| s.signal()),
        Some(libc::SIGABRT),
        "{status:?}\n{stderr}"
    );
    assert!(
        stderr.contains("ioloop blocked for at least")
            && stderr.contains("aborting (BlockingAction::Abort)"),
        "{stderr}"
    );
    assert!(!stderr.contains(CALLBACK_RETURNED), "{stderr}");
}

fn a_chosen_stack_signal_is_used_and_then_final() {
    let out = run_child("custom-signal");
    assert!(out.status.success(), "{out:?}");
}

fn with_stack_capture_off_reports_say_so() {
    let out = run_child("no-stack");
    assert!(out.status.success(), "{out:?}");
}

fn closing_a_watched_loop_in_a_forked_child_does_not_hang() {
    let out = run_child("fork-close");
    assert!(out.status.success(), "{out:?}");
}

/// A callback that unwinds panics over and over (inside libgcc's
/// unwinder most of the time) is reported with its stack, which names it.
fn a_stack_is_captured_while_the_loop_thread_unwinds_a_panic() {
    // A signal can land where no unwind table describes the stack (libgcc
    // restoring registers before it jumps to a landing pad); that walk ends
    // early, which is safe. So the callback keeps unwinding until a report
    // names it, through the repeated reports of one long block.
    let ioloop = new_loop();
    let (tx, reports) = mpsc::channel();
    let found = Arc::new(AtomicBool::new(false));
    let f = found.clone();
    let action = BlockingAction::custom(move |report| {
        let named = stack_has(report, "unwind_panics_until_reported");
        let _ = tx.send(report.clone());
        if named {
            f.store(true, Ordering::SeqCst);
        }
    });
    ioloop
        .set_blocking_signal_threshold(Some(THRESHOLD), action)
        .unwrap();
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    run_one_callback(&ioloop, move || unwind_panics_until_reported(&found));
    std::panic::set_hook(previous_hook);
    ioloop.set_blocking_log_threshold(None).unwrap();
    // Custom actions run once the stack is symbolised, which on a loaded
    // machine can come after the callback gave up: wait for them, bounded.
    let good = |r: &BlockingReport| {
        matches!(r.stack(), StackCapture::Captured(_))
            && stack_has(r, "unwind_panics_until_reported")
    };
    let mut received = Vec::new();
    while !received.iter().any(good) {
        match reports.recv_timeout(6 * LIMIT) {
            Ok(report) => received.push(report),
            Err(_) => break,
        }
    }
    assert!(!received.is_empty(), "no report");
    assert!(
        received.iter().any(good),
        "no stack named the unwinding function: {received:#?}"
    );
}

#[inline(never)]
fn unwind_panics_until_reported(seen: &AtomicBool) {
    let start = Instant::now();
    while !seen.load(Ordering::SeqCst) && start.elapsed() < 6 * LIMIT {
        let _ = std::panic::catch_unwind(|| panic!("expected panic, unwound at once"));
    }
}

/// A callback that switches to a stack of its own (as coroutines do) is
/// reported, without a stack: the capture reads only the loop thread's
/// own stack, and says why.
fn code_running_on_another_stack_is_reported_without_reading_that_stack() {
    let ioloop = new_loop();
    let (action, reports, seen) = channel_action();
    ioloop
        .set_blocking_signal_threshold(Some(THRESHOLD), action)
        .unwrap();
    run_one_callback(&ioloop, move || {
        other_stack::run(move || {
            busy_wait_until_reported(&seen, Duration::ZERO);
        })
    });
    ioloop.set_blocking_log_threshold(None).unwrap();
    let report = reports.try_recv().expect("a report");
    match report.stack() {
        StackCapture::Unavailable(reason) => {
            assert!(reason.contains("another stack"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

/// A callback stuck inside `dl_iterate_phdr` (holding the loader's lock,
/// which listing the loaded objects needs) is still reported, with its
/// stack: the watchdog thread never waits for that lock.
fn a_callback_stuck_holding_the_loaders_lock_is_reported_with_its_stack() {
    let ioloop = new_loop();
    let (action, reports, seen) = channel_action();
    ioloop
        .set_blocking_signal_threshold(Some(THRESHOLD), action)
        .unwrap();
    // A first report, so the unwind tables exist before the lock is held.
    let s = seen.clone();
    run_one_callback(&ioloop, move || {
        busy_wait_until_reported(&s, Duration::ZERO);
    });
    let _ = reports.try_iter().count();
    seen.store(false, Ordering::SeqCst);

    let reported = Rc::new(Cell::new(false));
    let r = reported.clone();
    run_one_callback(&ioloop, move || {
        r.set(loader_lock::hold_until(&seen));
    });
    ioloop.set_blocking_log_threshold(None).unwrap();
    assert!(reported.get(), "no report while the loader's lock was held");
    let report = reports.try_recv().expect("a report");
    assert!(stack_has(&report, "busy_wait_until_reported"), "{report}");
    assert!(stack_has(&report, "dl_iterate_phdr"), "{report}");
}

/// Forks this many children, each closing a watched loop.
const FORKS: usize = 200;

/// Runs in a child process; a failed assertion fails it.
fn child(mode: &str) {
    match mode {
        "fork-close" => {
            // signal-hook's registry has a lock of its own: keep stack
            // capture, and so that lock, out of this.
            IOLoop::set_blocking_stack_signal(None).unwrap();
            // Another thread enables and disables a watchdog over and over,
            // so the watchdog's registry is often locked when we fork.
            let stop = Arc::new(AtomicBool::new(false));
            let toggler = {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let ioloop = new_loop();
                    while !stop.load(Ordering::SeqCst) {
                        ioloop.set_blocking_log_threshold(Some(THRESHOLD)).unwrap();
                        ioloop.set_blocking_log_threshold(None).unwrap();
                    }
                })
            };
            let mut hung = 0;
            for _ in 0..FORKS {
                let ioloop = new_loop();
                ioloop.set_blocking_log_threshold(Some(THRESHOLD)).unwrap();
                match fork::fork() {
                    0 => {
                        // The child: only this thread exists here.
                        let _ = ioloop.close(true);
                        fork::exit_now(0);
                    }
                    pid => {
                        if !fork::exited_within(pid, Duration::from_secs(2)) {
                            hung += 1;
                        }
                    }
                }
                ioloop.close(true).unwrap();
            }
            stop.store(true, Ordering::SeqCst);
            toggler.join().unwrap();
            assert_eq!(
                hung, 0,
                "{hung} of {FORKS} children hung closing a watched loop"
            );
        }
        "abort" => {
            sys::no_core_dumps();
            // No logger: the report goes to standard error.
            let ioloop = new_loop();
            ioloop
                .set_blocking_signal_threshold(Some(THRESHOLD), BlockingAction::Abort)
                .unwrap();
            run_one_callback(&ioloop, stuck_until_aborted);
            // Reaching here means the process was not aborted.
            std::process::exit(3);
        }
        "custom-signal" => {
            let err = IOLoop::set_blocking_stack_signal(Some(libc::SIGUSR1)).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
            let chosen = libc::SIGRTMAX() - 1;
            IOLoop::set_blocking_stack_signal(Some(chosen)).unwrap();
            assert_eq!(IOLoop::blocking_stack_signal(), Some(chosen));
            let ioloop = new_loop();
            let (action, reports, seen) = channel_action();
            ioloop
                .set_blocking_signal_threshold(Some(THRESHOLD), action)
                .unwrap();
            run_one_callback(&ioloop, move || {
                busy_wait_until_reported(&seen, Duration::ZERO);
            });
            let report = reports.try_recv().unwrap();
            assert!(stack_has(&report, "busy_wait_until_reported"), "{report}");
            // The choice is final once used; the signal is the watchdog's.
            let err = IOLoop::set_blocking_stack_signal(None).unwrap_err();
            assert!(err.to_string().contains("already captures stacks"), "{err}");
            let err = ioloop.add_signal_handler(chosen, |_| {}).unwrap_err();
            assert!(err.to_string().contains("stack capture signal"), "{err}");
        }
        "no-stack" => {
            IOLoop::set_blocking_stack_signal(None).unwrap();
            let ioloop = new_loop();
            let (action, reports, seen) = channel_action();
            ioloop
                .set_blocking_signal_threshold(Some(THRESHOLD), action)
                .unwrap();
            run_one_callback(&ioloop, move || {
                busy_wait_until_reported(&seen, Duration::ZERO);
            });
            assert_eq!(IOLoop::blocking_stack_signal(), None);
            let report = reports.try_recv().unwrap();
            match report.stack() {
                StackCapture::Unavailable(reason) => {
                    assert!(reason.contains("disabled"), "{reason}")
                }
                other => panic!("{other:?}"),
            }
            assert!(report.frames().is_empty());
        }
        "log-with-symbols-held" | "abort-with-symbols-held" => {
            env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
                .init();
            hold_the_symbolizers_lock();
            let ioloop = new_loop();
            let action = match mode {
                "log-with-symbols-held" => BlockingAction::Log,
                _ => BlockingAction::Abort,
            };
            ioloop
                .set_blocking_signal_threshold(Some(THRESHOLD), action)
                .unwrap();
            let go = go_when_told_on_stdin();
            run_one_callback(&ioloop, move || {
                eprintln!("{CALLBACK_STARTED}");
                busy_wait_until(&go, LIMIT * 4);
                eprintln!("{CALLBACK_RETURNED}");
            });
            // Ends at once: a symbolised stack still pending is lost, the
            // report's first record must already be out.
            std::process::exit(0);
        }
        other => panic!("unknown child mode {other}"),
    }
}

/// Printed by a child's blocking callback when it starts and returns.
const CALLBACK_STARTED: &str = "the blocking callback started";
const CALLBACK_RETURNED: &str = "the blocking callback returned";

/// Takes the symbolisation library's lock on a thread of its own and keeps
/// it for good, as a symbolisation that takes forever would: no stack of
/// this process can be symbolised from now on.
fn hold_the_symbolizers_lock() {
    let (held, is_held) = mpsc::channel();
    std::thread::spawn(move || {
        let here = (hold_the_symbolizers_lock as fn()) as *mut std::ffi::c_void;
        backtrace::resolve(here, |_| {
            // `resolve` calls this with its lock held.
            let _ = held.send(());
            loop {
                std::thread::park();
            }
        });
    });
    is_held
        .recv_timeout(LIMIT)
        .expect("the symbolisation lock taken");
}

/// A flag raised when a line arrives on standard input (or it closes).
fn go_when_told_on_stdin() -> Arc<AtomicBool> {
    let go = Arc::new(AtomicBool::new(false));
    let g = go.clone();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        g.store(true, Ordering::SeqCst);
    });
    go
}

/// Spins until `flag` is raised or `limit` has passed.
#[inline(never)]
fn busy_wait_until(flag: &AtomicBool, limit: Duration) {
    let start = Instant::now();
    while !flag.load(Ordering::SeqCst) && start.elapsed() < limit {
        std::hint::spin_loop();
    }
}

/// Blocks until the Abort action ends the process (or 10 s pass).
#[inline(never)]
fn stuck_until_aborted() {
    busy_wait_for(Duration::from_secs(10));
}

/// `fork` and waiting for a child with a bound.
#[allow(unsafe_code)]
mod fork {
    use std::time::{Duration, Instant};

    /// `fork()`: 0 in the child, the child's pid in the parent.
    pub(crate) fn fork() -> libc::pid_t {
        // SAFETY: the child only closes a loop (no lock of this test is
        // held across the fork by the forking thread) and then calls
        // `_exit`.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        pid
    }

    /// Ends the calling (child) process at once, without exit handlers.
    pub(crate) fn exit_now(code: i32) -> ! {
        // SAFETY: _exit has no preconditions.
        unsafe { libc::_exit(code) }
    }

    /// Whether child `pid` exited successfully within `limit`; if it is
    /// still running then, it is killed (it is our own child) and reaped.
    pub(crate) fn exited_within(pid: libc::pid_t, limit: Duration) -> bool {
        let start = Instant::now();
        loop {
            let mut status = 0;
            // SAFETY: `status` is a valid, writable int; `pid` is our child.
            let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if rc == pid {
                return libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
            }
            if start.elapsed() > limit {
                // SAFETY: `pid` is our own child, not yet reaped, so the pid
                // cannot have been reused.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, &mut status, 0);
                }
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Running a function on a stack of its own (`makecontext`).
#[allow(unsafe_code)]
mod other_stack {
    use std::sync::Mutex;

    type Task = Box<dyn FnOnce() + Send>;

    static TASK: Mutex<Option<Task>> = Mutex::new(None);

    extern "C" fn trampoline() {
        let task = TASK.lock().unwrap().take();
        if let Some(task) = task {
            task();
        }
    }

    /// Runs `f` on a 1 MiB stack allocated on the heap, then returns.
    /// `f` must not panic (there is nothing to unwind into).
    pub(crate) fn run(f: impl FnOnce() + Send + 'static) {
        *TASK.lock().unwrap() = Some(Box::new(f));
        let mut stack = vec![0u8; 1 << 20];
        // SAFETY: `ucontext_t` is a plain C struct; all-zero bytes are a
        // valid value for getcontext to fill in.
        let mut here: libc::ucontext_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut there: libc::ucontext_t = unsafe { std::mem::zeroed() };
        // SAFETY: `there` is initialised by getcontext, then given a stack
        // that outlives the switch (`stack` lives until this function
        // returns, after the trampoline has returned through `uc_link`)
        // and a link back to `here`, which swapcontext fills in before it
        // switches. The trampoline takes no arguments.
        unsafe {
            assert_eq!(libc::getcontext(&mut there), 0);
            there.uc_stack.ss_sp = stack.as_mut_ptr().cast();
            there.uc_stack.ss_size = stack.len();
            there.uc_link = &mut here;
            libc::makecontext(&mut there, trampoline, 0);
            assert_eq!(libc::swapcontext(&mut here, &there), 0);
        }
        drop(stack);
    }
}

/// Holding the loader's lock: inside a `dl_iterate_phdr` callback.
#[allow(unsafe_code)]
mod loader_lock {
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    /// Busy-waits inside `dl_iterate_phdr`'s first callback until `seen`
    /// is raised (at most `LIMIT`); returns whether it was.
    pub(crate) fn hold_until(seen: &AtomicBool) -> bool {
        unsafe extern "C" fn first(
            _info: *mut libc::dl_phdr_info,
            _size: libc::size_t,
            data: *mut libc::c_void,
        ) -> libc::c_int {
            // SAFETY: `data` is the `(&AtomicBool, bool)` below, alive for
            // the whole dl_iterate_phdr call.
            let (seen, reported) = unsafe { &mut *data.cast::<(&AtomicBool, bool)>() };
            *reported = super::busy_wait_until_reported(seen, Duration::ZERO);
            1
        }
        let mut data = (seen, false);
        // SAFETY: `first` has the callback type dl_iterate_phdr expects and
        // only touches `data` through its pointer.
        unsafe { libc::dl_iterate_phdr(Some(first), (&raw mut data).cast()) };
        data.1
    }
}
