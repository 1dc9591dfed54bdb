//! Rules R1 to R9: run_sync.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use ioloop::{Error, IOLoop, MakeCurrent, RunSyncError};

use crate::util::{self, TestLoop};

struct DropFlag(Rc<Cell<bool>>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// A panic payload's message, whichever string type it has.
fn message(payload: &(dyn std::any::Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

#[test]
fn r1_run_sync_returns_the_futures_output() {
    let ioloop = TestLoop::new();
    assert_eq!(ioloop.run_sync(|| async { 42 }, None).unwrap(), 42);
    assert!(!ioloop.is_running(), "stopped afterwards");
}

#[test]
fn r1_run_sync_can_be_called_repeatedly_on_one_loop() {
    let ioloop = TestLoop::new();
    for i in 0..20 {
        let v = ioloop
            .run_sync(
                move || async move {
                    ioloop::yield_now().await;
                    i * 2
                },
                Some(Duration::from_secs(10)),
            )
            .unwrap();
        assert_eq!(v, i * 2);
    }
}

#[test]
fn r2_an_immediately_ready_future_completes_in_about_one_iteration() {
    let ioloop = TestLoop::new();
    let started = Instant::now();
    ioloop.run_sync(|| async {}, None).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn r3_a_panic_in_main_itself_is_re_raised() {
    let ioloop = TestLoop::new();
    let payload = panic::catch_unwind(AssertUnwindSafe(|| {
        ioloop.run_sync(
            || -> std::future::Ready<()> { panic!("sync failure") },
            None,
        )
    }))
    .unwrap_err();
    assert_eq!(message(&*payload), Some("sync failure"));
    // The loop is stopped and usable.
    assert!(!ioloop.is_running());
    assert_eq!(ioloop.run_sync(|| async { 1 }, None).unwrap(), 1);
}

#[test]
fn r4_a_panic_in_the_future_is_re_raised_with_its_payload() {
    let ioloop = TestLoop::new();
    let payload = panic::catch_unwind(AssertUnwindSafe(|| {
        ioloop.run_sync(
            || async {
                ioloop::sleep(Duration::from_millis(1)).await;
                let n = std::hint::black_box(7);
                panic!("async failure {n}");
            },
            None,
        )
    }))
    .unwrap_err();
    assert_eq!(message(&*payload), Some("async failure 7"));
    assert_eq!(ioloop.run_sync(|| async { 2 }, None).unwrap(), 2);
}

#[test]
fn r5_current_inside_main_is_the_loop_running_run_sync() {
    let ioloop = IOLoop::builder()
        .make_current(MakeCurrent::Never)
        .build()
        .unwrap();
    let l = ioloop.clone();
    let same = ioloop
        .run_sync(
            move || {
                let in_main = IOLoop::current().ptr_eq(&l);
                async move { in_main && IOLoop::current().ptr_eq(&l) }
            },
            None,
        )
        .unwrap();
    assert!(same);
}

#[test]
fn r6_timeout_is_a_distinct_error_naming_the_duration_and_drops_the_future() {
    let ioloop = TestLoop::new();
    let dropped = Rc::new(Cell::new(false));
    let guard = DropFlag(dropped.clone());
    let err = ioloop
        .run_sync(
            move || async move {
                let _guard = guard;
                futures::future::pending::<()>().await;
            },
            Some(Duration::from_millis(30)),
        )
        .unwrap_err();
    assert!(matches!(err, RunSyncError::TimedOut(d) if d == Duration::from_millis(30)));
    assert_eq!(err.to_string(), "operation timed out after 30ms");
    assert!(
        dropped.get(),
        "the unfinished future was dropped (cancelled)"
    );
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
}

#[test]
fn r6_the_timeout_is_removed_when_the_future_completes_first() {
    let ioloop = TestLoop::new();
    ioloop
        .run_sync(|| async {}, Some(Duration::from_millis(20)))
        .unwrap();
    // If the first timeout were still pending it would stop this run.
    let v = ioloop
        .run_sync(
            || async {
                ioloop::sleep(Duration::from_millis(60)).await;
                "finished"
            },
            None,
        )
        .unwrap();
    assert_eq!(v, "finished");
}

#[test]
fn r7_stopping_the_loop_before_completion_is_a_distinct_error() {
    let ioloop = TestLoop::new();
    let dropped = Rc::new(Cell::new(false));
    let guard = DropFlag(dropped.clone());
    let err = ioloop
        .run_sync(
            move || async move {
                let _guard = guard;
                IOLoop::current().stop();
                futures::future::pending::<()>().await;
            },
            Some(Duration::from_secs(10)),
        )
        .unwrap_err();
    assert!(matches!(err, RunSyncError::Stopped), "{err}");
    assert!(dropped.get());
}

#[test]
fn r7_a_stop_before_run_sync_gives_stopped() {
    let ioloop = TestLoop::new();
    ioloop.stop();
    let err = ioloop.run_sync(|| async { 1 }, None).unwrap_err();
    assert!(matches!(err, RunSyncError::Stopped));
    // The stop was consumed; the next run_sync works, and the stale first
    // poll left in the queue is ignored.
    assert_eq!(ioloop.run_sync(|| async { 2 }, None).unwrap(), 2);
}

#[test]
fn r7_a_remote_stop_gives_stopped() {
    let ioloop = TestLoop::new();
    let remote = ioloop.remote();
    let watch = util::PollWatch::this_thread();
    let t = std::thread::spawn(move || {
        watch.wait_until_blocked();
        remote.stop();
    });
    let err = util::bounded(&ioloop, || {
        ioloop.run_sync(futures::future::pending::<()>, None)
    })
    .unwrap_err();
    t.join().unwrap();
    assert!(matches!(err, RunSyncError::Stopped));
}

#[test]
fn r8_run_sync_on_a_running_loop_is_an_error_not_a_deadlock() {
    let ioloop = TestLoop::new();
    let inner_result = ioloop
        .run_sync(
            || async {
                let l = IOLoop::current();
                matches!(
                    l.run_sync(|| async {}, None),
                    Err(RunSyncError::Loop(Error::AlreadyRunning))
                )
            },
            None,
        )
        .unwrap();
    assert!(inner_result);
}

#[test]
fn run_sync_on_a_closed_loop_is_an_error() {
    let ioloop = TestLoop::new();
    ioloop.close(false).unwrap();
    assert!(matches!(
        ioloop.run_sync(|| async {}, None),
        Err(RunSyncError::Loop(Error::Closed))
    ));
}

#[test]
fn run_sync_borrows_from_the_callers_stack() {
    // The future need not be 'static.
    let ioloop = TestLoop::new();
    let mut data = vec![1, 2, 3];
    let sum = ioloop
        .run_sync(
            || async {
                ioloop::yield_now().await;
                data.push(4);
                data.iter().sum::<i32>()
            },
            None,
        )
        .unwrap();
    assert_eq!(sum, 10);
    assert_eq!(data.len(), 4);
}

#[test]
fn run_sync_from_another_loops_task_runs_a_nested_loop() {
    let outer = TestLoop::new();
    let v = outer
        .run_sync(
            || async {
                let inner = IOLoop::builder()
                    .make_current(MakeCurrent::Never)
                    .build()
                    .unwrap();
                let v = inner
                    .run_sync(
                        || async {
                            ioloop::sleep(Duration::from_millis(2)).await;
                            5
                        },
                        None,
                    )
                    .unwrap();
                inner.close(true).unwrap();
                v + 1
            },
            None,
        )
        .unwrap();
    assert_eq!(v, 6);
}

#[test]
fn run_sync_the_way_a_command_line_tool_uses_it() {
    fn main() -> Result<(), Box<dyn std::error::Error>> {
        let ioloop = IOLoop::new()?;
        let lines = ioloop.run_sync(
            || async {
                let mut lines = Vec::new();
                for i in 0..3 {
                    ioloop::sleep(Duration::from_millis(1)).await;
                    lines.push(format!("line {i}"));
                }
                lines
            },
            Some(Duration::from_secs(10)),
        )?;
        assert_eq!(lines, ["line 0", "line 1", "line 2"]);
        Ok(())
    }
    std::thread::spawn(|| main().unwrap()).join().unwrap();
}
