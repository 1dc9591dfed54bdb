//! Futures on the loop: spawn, JoinHandle, add_future, wakers (rules C8,
//! F1), and the executor's no-lost-wakeup guarantee.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::StreamExt;
use futures::channel::{mpsc, oneshot};
use ioloop::{IOLoop, JoinError};

use crate::util::TestLoop;
use crate::util::{self, Log};

/// Sets a flag when dropped: shows a future was released.
struct DropFlag(Rc<Cell<bool>>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[test]
fn spawn_runs_a_task_and_its_handle_gives_the_output() {
    let ioloop = TestLoop::new();
    let out = ioloop
        .run_sync(
            || async {
                let l = IOLoop::current();
                let h = l.spawn(async { "done".to_string() });
                h.await.unwrap()
            },
            None,
        )
        .unwrap();
    assert_eq!(out, "done");
}

#[test]
fn spawned_futures_need_not_be_send() {
    let ioloop = TestLoop::new();
    let shared = Rc::new(RefCell::new(Vec::new())); // Rc: not Send
    let s = shared.clone();
    let h = ioloop.spawn(async move {
        s.borrow_mut().push(1);
        ioloop::yield_now().await;
        s.borrow_mut().push(2);
    });
    let l = ioloop.clone();
    ioloop.add_future(h, move |r| {
        r.unwrap();
        l.stop();
    });
    util::run(&ioloop);
    assert_eq!(*shared.borrow(), [1, 2]);
}

#[test]
fn a_task_is_first_polled_on_a_later_iteration_like_a_callback() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    let (g, l) = (log.clone(), ioloop.clone());
    ioloop.add_callback(move || {
        g.push("callback 1");
        let g2 = g.clone();
        l.spawn(async move { g2.push("task") }).detach();
        let g3 = g.clone();
        l.add_callback(move || g3.push("callback 2"));
        let l2 = l.clone();
        l.add_callback(move || l2.stop());
    });
    let g = log.clone();
    ioloop.add_callback(move || g.push("callback 1b"));
    util::run(&ioloop);
    assert_eq!(
        log.entries(),
        ["callback 1", "callback 1b", "task", "callback 2"]
    );
}

#[test]
fn nested_spawns_from_inside_tasks_complete() {
    let ioloop = TestLoop::new();
    let total = ioloop
        .run_sync(
            || async {
                fn tree(depth: u32) -> Pin<Box<dyn Future<Output = u64>>> {
                    Box::pin(async move {
                        if depth == 0 {
                            return 1;
                        }
                        let l = IOLoop::current();
                        let a = l.spawn(tree(depth - 1));
                        let b = l.spawn(tree(depth - 1));
                        a.await.unwrap() + b.await.unwrap()
                    })
                }
                tree(10).await
            },
            Some(Duration::from_secs(30)),
        )
        .unwrap();
    assert_eq!(total, 1024);
    assert_eq!(ioloop.task_count(), 0, "every task finished and was freed");
}

#[test]
fn abort_drops_the_task_and_its_handle_reports_cancelled() {
    let ioloop = TestLoop::new();
    let dropped = Rc::new(Cell::new(false));
    let d = dropped.clone();
    let result = ioloop
        .run_sync(
            move || async move {
                let l = IOLoop::current();
                let guard = DropFlag(d);
                let h = l.spawn(async move {
                    let _guard = guard;
                    futures::future::pending::<()>().await;
                });
                ioloop::yield_now().await; // let it start
                h.abort();
                h.await
            },
            None,
        )
        .unwrap();
    assert!(matches!(result, Err(JoinError::Cancelled)));
    assert!(dropped.get());
}

#[test]
fn a_task_can_abort_itself_through_its_own_handle() {
    let ioloop = TestLoop::new();
    let result = ioloop
        .run_sync(
            || async {
                let l = IOLoop::current();
                let slot: Rc<RefCell<Option<ioloop::JoinHandle<()>>>> = Rc::default();
                let s = slot.clone();
                let h = l.spawn(async move {
                    ioloop::yield_now().await;
                    if let Some(me) = s.borrow().as_ref() {
                        me.abort();
                    }
                    ioloop::yield_now().await;
                    unreachable!("aborted at the end of the previous poll");
                });
                *slot.borrow_mut() = Some(h);
                ioloop::sleep(Duration::from_millis(20)).await;
                let h = slot.borrow_mut().take().unwrap();
                assert!(h.is_finished());
                h.await
            },
            Some(Duration::from_secs(10)),
        )
        .unwrap();
    assert!(result.unwrap_err().is_cancelled());
}

#[test]
fn a_detached_task_keeps_running() {
    let ioloop = TestLoop::new();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    ioloop
        .run_sync(
            move || async move {
                let l = IOLoop::current();
                l.spawn(async move {
                    ioloop::sleep(Duration::from_millis(5)).await;
                    r.set(true);
                })
                .detach();
                ioloop::sleep(Duration::from_millis(50)).await;
            },
            None,
        )
        .unwrap();
    assert!(ran.get());
}

#[test]
fn c8_a_panicking_task_is_logged_and_reported_to_its_awaiter() {
    util::capture_logs();
    // The default exception handler: this test reads its log.
    let ioloop = IOLoop::new().unwrap();
    let result = ioloop
        .run_sync(
            || async {
                let h = IOLoop::current().spawn(async {
                    ioloop::yield_now().await;
                    panic!("task blew up");
                });
                h.await
            },
            None,
        )
        .unwrap();
    let err = result.unwrap_err();
    assert!(err.is_panic());
    assert_eq!(err.to_string(), "task panicked: task blew up");
    let errors = util::logged(log::Level::Error);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("panic in task registered at") && e.contains("tasks.rs")),
        "{errors:?}"
    );
}

#[test]
fn c8_a_detached_panicking_task_is_logged_and_the_loop_goes_on() {
    util::capture_logs();
    // The default exception handler: this test reads its log.
    let ioloop = IOLoop::new().unwrap();
    ioloop.spawn(async { panic!("nobody awaits me") }).detach();
    let out = ioloop
        .run_sync(
            || async {
                ioloop::sleep(Duration::from_millis(5)).await;
                7
            },
            None,
        )
        .unwrap();
    assert_eq!(out, 7);
    assert!(
        util::logged(log::Level::Error)
            .iter()
            .any(|e| e.contains("nobody awaits me"))
    );
}

#[test]
fn f1_add_future_runs_the_callback_on_the_loop_when_another_thread_completes_it() {
    let ioloop = TestLoop::new();
    let (tx, rx) = oneshot::channel::<u32>();
    let loop_thread = std::thread::current().id();
    let got = Rc::new(Cell::new(None));
    let (g, l) = (got.clone(), ioloop.clone());
    ioloop.add_future(rx, move |value| {
        assert_eq!(std::thread::current().id(), loop_thread);
        g.set(value.ok());
        l.stop();
    });
    let watch = util::PollWatch::this_thread();
    let sender = std::thread::spawn(move || {
        watch.wait_until_blocked();
        tx.send(99).unwrap();
    });
    util::run(&ioloop);
    sender.join().unwrap();
    assert_eq!(got.get(), Some(99));
}

#[test]
fn add_future_callback_panics_are_reported_as_callbacks() {
    let ioloop = TestLoop::new();
    let kinds = Rc::new(RefCell::new(Vec::new()));
    let k = kinds.clone();
    ioloop.set_exception_handler(move |p| k.borrow_mut().push(p.kind()));
    ioloop.add_future(async { 1 }, |_| panic!("in the callback"));
    let l = ioloop.clone();
    ioloop.call_later(Duration::from_millis(20), move || l.stop());
    util::run(&ioloop);
    assert_eq!(*kinds.borrow(), [ioloop::CallbackKind::Callback]);
}

#[test]
fn thousands_of_tasks_woken_from_several_threads_all_complete() {
    const TASKS: usize = 4_000;
    const THREADS: usize = 4;
    let ioloop = TestLoop::new();
    let (senders, handles): (Vec<_>, Vec<_>) = (0..TASKS)
        .map(|i| {
            let (tx, rx) = oneshot::channel::<usize>();
            let h = ioloop.spawn(async move { rx.await.unwrap() + i });
            (tx, h)
        })
        .unzip();
    // Several threads complete the channels (and so wake the tasks) while
    // the loop runs.
    let mut senders: Vec<Option<oneshot::Sender<usize>>> = senders.into_iter().map(Some).collect();
    let chunks: Vec<Vec<oneshot::Sender<usize>>> = (0..THREADS)
        .map(|t| {
            senders
                .iter_mut()
                .skip(t)
                .step_by(THREADS)
                .map(|s| s.take().unwrap())
                .collect()
        })
        .collect();
    let threads: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            std::thread::spawn(move || {
                for tx in chunk {
                    tx.send(1).unwrap();
                }
            })
        })
        .collect();
    let sum = ioloop
        .run_sync(
            move || async move {
                let mut sum = 0;
                for h in handles {
                    sum += h.await.unwrap();
                }
                sum
            },
            Some(Duration::from_secs(60)),
        )
        .unwrap();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(sum, TASKS + (0..TASKS).sum::<usize>());
}

/// A future that, while being polled, has another thread wake it, then
/// returns Pending: the wake lands during the poll and must not be lost.
struct WokenDuringPoll {
    polls: u32,
    target: u32,
}

impl Future for WokenDuringPoll {
    type Output = u32;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        self.polls += 1;
        if self.polls == self.target {
            return Poll::Ready(self.polls);
        }
        let waker: Waker = cx.waker().clone();
        // Wake from another thread and wait for it, all inside this poll.
        std::thread::spawn(move || waker.wake()).join().unwrap();
        Poll::Pending
    }
}

#[test]
fn a_task_woken_while_it_is_being_polled_is_polled_again() {
    let ioloop = TestLoop::new();
    let polls = ioloop
        .run_sync(
            || {
                IOLoop::current().spawn(WokenDuringPoll {
                    polls: 0,
                    target: 50,
                })
            },
            Some(Duration::from_secs(30)),
        )
        .unwrap()
        .unwrap();
    assert_eq!(polls, 50);
}

#[test]
fn a_stream_fed_from_another_thread_is_fully_consumed() {
    let ioloop = TestLoop::new();
    let (tx, mut rx) = mpsc::unbounded::<u64>();
    let producer = std::thread::spawn(move || {
        for i in 0..20_000 {
            tx.unbounded_send(i).unwrap();
        }
    });
    let total = ioloop
        .run_sync(
            || async move {
                let mut total = 0;
                while let Some(v) = rx.next().await {
                    total += v;
                }
                total
            },
            Some(Duration::from_secs(30)),
        )
        .unwrap();
    producer.join().unwrap();
    assert_eq!(total, (0..20_000).sum::<u64>());
}

#[test]
fn close_drops_pending_tasks() {
    let ioloop = TestLoop::new();
    let dropped = Rc::new(Cell::new(false));
    let guard = DropFlag(dropped.clone());
    let h = ioloop.spawn(async move {
        let _guard = guard;
        futures::future::pending::<()>().await;
    });
    let l = ioloop.clone();
    ioloop.add_callback(move || l.stop());
    util::run(&ioloop);
    assert!(!dropped.get());
    ioloop.close(true).unwrap();
    assert!(dropped.get());
    assert!(h.is_finished());
    let err = futures::executor::block_on(h).unwrap_err();
    assert!(err.is_cancelled());
}

#[test]
fn spawning_on_a_closed_loop_gives_a_cancelled_handle() {
    let ioloop = TestLoop::new();
    ioloop.close(true).unwrap();
    let h = ioloop.spawn(async { 1 });
    assert!(futures::executor::block_on(h).unwrap_err().is_cancelled());
}

#[test]
fn wakers_are_send_and_sync_and_count_tasks() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let ioloop = TestLoop::new();
    let captured: Rc<RefCell<Option<Waker>>> = Rc::default();
    let c = captured.clone();
    let count = Arc::new(AtomicUsize::new(0));
    let n = count.clone();
    let h = ioloop.spawn(futures::future::poll_fn(move |cx| {
        *c.borrow_mut() = Some(cx.waker().clone());
        if n.fetch_add(1, Ordering::SeqCst) == 1 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }));
    assert_eq!(ioloop.task_count(), 1);
    let l = ioloop.clone();
    ioloop.add_future(h, move |_| l.stop());
    let waker_sender = {
        let c = captured.clone();
        let l = ioloop.clone();
        move || {
            let waker = c.borrow().clone().unwrap();
            assert_send_sync(&waker);
            std::thread::spawn(move || waker.wake()).join().unwrap();
            let _ = l;
        }
    };
    ioloop.call_later(Duration::from_millis(5), waker_sender);
    util::run(&ioloop);
    assert_eq!(count.load(Ordering::SeqCst), 2);
    assert_eq!(ioloop.task_count(), 0);
}
