//! Async building blocks on the loop's timers and handlers: sleep,
//! sleep_until, timeout, yield_now, readable/writable, and
//! run_in_executor (rule F2).

use std::cell::Cell;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ioloop::{Events, Executor, IOLoop, ThreadPool};

use crate::util::TestLoop;
use crate::util::{self, Log};

struct DropFlag(Rc<Cell<bool>>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[test]
fn sleep_completes_no_earlier_than_its_duration_by_the_loop_clock() {
    let ioloop = TestLoop::new();
    let (start, end) = ioloop
        .run_sync(
            || async {
                let l = IOLoop::current();
                let start = l.time();
                ioloop::sleep(Duration::from_millis(30)).await;
                (start, l.time())
            },
            None,
        )
        .unwrap();
    assert!(end - start >= 0.030, "{}", end - start);
    assert!(end - start < 5.0);
}

#[test]
fn sleep_until_accepts_absolute_deadlines() {
    let ioloop = TestLoop::new();
    let target = Instant::now() + Duration::from_millis(20);
    ioloop
        .run_sync(move || ioloop::sleep_until(target), Some(util::LIMIT))
        .unwrap();
    assert!(Instant::now() >= target);
    let l = ioloop.clone();
    let when = ioloop.time() + 0.01;
    ioloop
        .run_sync(move || l.sleep_until(when), Some(util::LIMIT))
        .unwrap();
    assert!(ioloop.time() >= when);
}

#[test]
fn a_dropped_sleep_removes_its_timeout() {
    let ioloop = TestLoop::new();
    let fired = ioloop
        .run_sync(
            || async {
                let l = IOLoop::current();
                // Poll the sleep once (arming its timeout), then drop it.
                let mut s = Box::pin(l.sleep(Duration::from_millis(5)));
                let polled = futures::poll!(s.as_mut());
                assert!(polled.is_pending());
                drop(s);
                ioloop::sleep(Duration::from_millis(30)).await;
                true
            },
            None,
        )
        .unwrap();
    assert!(fired);
}

#[test]
fn timeout_gives_the_output_when_in_time() {
    let ioloop = TestLoop::new();
    let v = ioloop
        .run_sync(
            || {
                ioloop::timeout(Duration::from_secs(10), async {
                    ioloop::sleep(Duration::from_millis(1)).await;
                    5
                })
            },
            None,
        )
        .unwrap();
    assert_eq!(v, Ok(5));
}

#[test]
fn timeout_elapses_and_drops_the_inner_future() {
    let ioloop = TestLoop::new();
    let dropped = Rc::new(Cell::new(false));
    let guard = DropFlag(dropped.clone());
    let result = ioloop
        .run_sync(
            move || {
                ioloop::timeout(Duration::from_millis(20), async move {
                    let _guard = guard;
                    futures::future::pending::<()>().await
                })
            },
            None,
        )
        .unwrap();
    let err = result.unwrap_err();
    assert_eq!(err.duration(), Duration::from_millis(20));
    assert_eq!(err.to_string(), "deadline elapsed after 20ms");
    assert!(dropped.get());
}

#[test]
fn yield_now_lets_queued_callbacks_run_first() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    let g = log.clone();
    ioloop
        .run_sync(
            move || async move {
                let g2 = g.clone();
                IOLoop::current().add_callback(move || g2.push("callback"));
                g.push("before yield");
                ioloop::yield_now().await;
                g.push("after yield");
            },
            None,
        )
        .unwrap();
    assert_eq!(log.entries(), ["before yield", "callback", "after yield"]);
}

#[test]
fn readable_completes_when_data_arrives_from_another_thread() {
    let ioloop = TestLoop::new();
    let (a, b) = util::socketpair();
    let watch = util::PollWatch::this_thread();
    let writer = std::thread::spawn(move || {
        watch.wait_until_blocked();
        (&a).write_all(b"x").unwrap();
        a
    });
    let fd = b.as_raw_fd();
    let events = ioloop
        .run_sync(
            move || IOLoop::current().readable(fd),
            Some(Duration::from_secs(10)),
        )
        .unwrap()
        .unwrap();
    assert_eq!(events, Events::READ);
    drop(writer.join().unwrap());
    // The one-shot handler removed itself: the fd can be registered again.
    ioloop.add_handler(fd, Events::READ, |_, _| {}).unwrap();
    ioloop.remove_handler(fd);
}

#[test]
fn writable_completes_at_once_on_a_writable_socket() {
    let ioloop = TestLoop::new();
    let (_a, b) = util::socketpair();
    let fd = b.as_raw_fd();
    let events = ioloop
        .run_sync(move || IOLoop::current().writable(fd), Some(util::LIMIT))
        .unwrap()
        .unwrap();
    assert_eq!(events, Events::WRITE);
}

#[test]
fn readable_reports_a_hang_up_as_error() {
    let ioloop = TestLoop::new();
    let (a, b) = util::socketpair();
    drop(a);
    let fd = b.as_raw_fd();
    let events = ioloop
        .run_sync(move || IOLoop::current().readable(fd), Some(util::LIMIT))
        .unwrap()
        .unwrap();
    assert!(events.contains(Events::ERROR), "{events:?}");
}

#[test]
fn readiness_on_an_fd_with_a_handler_is_an_error() {
    let ioloop = TestLoop::new();
    let (_a, b) = util::socketpair();
    let fd = b.as_raw_fd();
    ioloop.add_handler(fd, Events::READ, |_, _| {}).unwrap();
    let err = ioloop
        .run_sync(move || IOLoop::current().readable(fd), Some(util::LIMIT))
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains(&format!("fd {fd}")), "{err}");
    ioloop.remove_handler(fd);
}

#[test]
fn a_dropped_readiness_future_removes_its_handler() {
    let ioloop = TestLoop::new();
    let (_a, b) = util::socketpair();
    let fd = b.as_raw_fd();
    let timed_out = ioloop
        .run_sync(
            move || ioloop::timeout(Duration::from_millis(10), IOLoop::current().readable(fd)),
            None,
        )
        .unwrap();
    assert!(timed_out.is_err());
    ioloop.add_handler(fd, Events::READ, |_, _| {}).unwrap();
    ioloop.remove_handler(fd);
}

#[test]
fn f2_run_in_executor_runs_off_the_loop_and_completes_on_it() {
    let ioloop = TestLoop::new();
    let loop_thread = std::thread::current().id();
    let (worker, value) = ioloop
        .run_sync(
            || async {
                let r = IOLoop::current()
                    .run_in_executor(|| {
                        std::thread::sleep(Duration::from_millis(10));
                        (std::thread::current().id(), 21 * 2)
                    })
                    .await
                    .unwrap();
                // Back on the loop's thread.
                assert_eq!(std::thread::current().id(), loop_thread);
                r
            },
            Some(Duration::from_secs(10)),
        )
        .unwrap();
    assert_ne!(worker, loop_thread);
    assert_eq!(value, 42);
}

#[test]
fn f2_run_in_executor_reports_a_panic_to_the_awaiter() {
    let ioloop = TestLoop::new();
    let err = ioloop
        .run_sync(
            || IOLoop::current().run_in_executor(|| -> u32 { panic!("in the pool") }),
            None,
        )
        .unwrap()
        .unwrap_err();
    assert_eq!(err.to_string(), "task panicked: in the pool");
}

#[test]
fn f2_set_default_executor_replaces_the_pool() {
    struct Counting(Arc<AtomicUsize>, ThreadPool);
    impl Executor for Counting {
        fn execute(&self, job: Box<dyn FnOnce() + Send + 'static>) {
            self.0.fetch_add(1, Ordering::SeqCst);
            self.1.execute(job);
        }
    }
    let ioloop = TestLoop::new();
    let jobs = Arc::new(AtomicUsize::new(0));
    ioloop.set_default_executor(Counting(jobs.clone(), ThreadPool::new(2).unwrap()));
    let total = ioloop
        .run_sync(
            || async {
                let l = IOLoop::current();
                let futures: Vec<_> = (0..10u64).map(|i| l.run_in_executor(move || i)).collect();
                let mut total = 0;
                for f in futures {
                    total += f.await.unwrap();
                }
                total
            },
            Some(Duration::from_secs(10)),
        )
        .unwrap();
    assert_eq!(total, 45);
    assert_eq!(jobs.load(Ordering::SeqCst), 10);
}

#[test]
fn a_dropped_executor_job_gives_cancelled() {
    struct Dropping;
    impl Executor for Dropping {
        fn execute(&self, job: Box<dyn FnOnce() + Send + 'static>) {
            drop(job);
        }
    }
    let ioloop = TestLoop::new();
    ioloop.set_default_executor(Dropping);
    let err = ioloop
        .run_sync(
            || IOLoop::current().run_in_executor(|| 1),
            Some(util::LIMIT),
        )
        .unwrap()
        .unwrap_err();
    assert!(err.is_cancelled());
}

#[test]
fn default_pool_size_is_five_per_cpu() {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    assert_eq!(ThreadPool::default_size(), cpus * 5);
    assert_eq!(ThreadPool::new(0).unwrap().size(), 1);
}
