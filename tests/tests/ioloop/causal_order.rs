//! Causal order across threads: a callback or task wake posted from another
//! thread that happens before a local `add_callback` runs before it, as
//! with Tornado's single callback deque.

use std::future::Future;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;

use ioloop::{Events, IOLoop, Remote};

use crate::util::{self, LIMIT, TestLoop};

const ROUNDS: u32 = 1000;

/// What ran, in order: `('R', i)` for a remote callback, `('T', i)` for a
/// woken task, `('L', i)` for a local callback.
type Log = Arc<Mutex<Vec<(char, u32)>>>;

fn record(log: &Log, entry: (char, u32)) {
    log.lock().unwrap().push(entry);
}

fn taken(log: &Log) -> Vec<(char, u32)> {
    std::mem::take(&mut *log.lock().unwrap())
}

/// A thread that runs jobs for the loop thread, one at a time, and reports
/// each done through a `std::sync::mpsc` channel.
struct Worker {
    jobs: Option<mpsc::Sender<Box<dyn FnOnce() + Send>>>,
    done: mpsc::Receiver<()>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Worker {
    fn new() -> Worker {
        let (jobs, job_rx) = mpsc::channel::<Box<dyn FnOnce() + Send>>();
        let (done_tx, done) = mpsc::channel();
        let thread = thread::spawn(move || {
            for job in job_rx {
                job();
                if done_tx.send(()).is_err() {
                    break;
                }
            }
        });
        Worker {
            jobs: Some(jobs),
            done,
            thread: Some(thread),
        }
    }

    /// Runs `job` on the worker and waits (bounded) until it is done: what
    /// the job did happens before this returns.
    fn run(&self, job: impl FnOnce() + Send + 'static) {
        self.jobs.as_ref().unwrap().send(Box::new(job)).unwrap();
        self.done
            .recv_timeout(LIMIT)
            .expect("the worker finished its job");
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Fails with the first entry where `log` departs from `expected`, and a
/// few entries around it.
fn assert_order(log: &[(char, u32)], expected: &[(char, u32)]) {
    let at = log
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(log.len().min(expected.len()));
    let around = |v: &[(char, u32)]| v[at.saturating_sub(2)..(at + 3).min(v.len())].to_vec();
    assert!(
        log == expected,
        "order departs at entry {at} of {}: ran {:?}, expected {:?}",
        log.len(),
        around(log),
        around(expected),
    );
}

fn interleaved(marks: [char; 2]) -> Vec<(char, u32)> {
    (0..ROUNDS)
        .flat_map(|i| [(marks[0], i), (marks[1], i)])
        .collect()
}

/// One round on the loop thread: the worker posts `('R', i)` through the
/// remote handle and reports through a channel; then the loop thread adds
/// `('L', i)` locally, which starts the next round.
fn remote_then_local(ioloop: IOLoop, worker: Rc<Worker>, log: Log, i: u32) {
    if i == ROUNDS {
        ioloop.stop();
        return;
    }
    let (remote, l) = (ioloop.remote(), log.clone());
    worker.run(move || remote.add_callback(move || record(&l, ('R', i))));
    let l = ioloop.clone();
    ioloop.add_callback(move || {
        record(&log, ('L', i));
        let next = l.clone();
        l.add_callback(move || remote_then_local(next, worker, log, i + 1));
    });
}

#[test]
fn a_remote_callback_posted_before_a_channel_message_runs_before_the_local_one_it_causes() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    let (l, w, g) = (ioloop.clone(), Rc::new(Worker::new()), log.clone());
    ioloop.add_callback(move || remote_then_local(l, w, g, 0));
    util::run(&ioloop);
    assert_order(&taken(&log), &interleaved(['R', 'L']));
}

#[test]
fn a_remote_callback_posted_before_a_pipe_write_runs_before_the_local_one_the_handler_adds() {
    // The worker posts R, then writes a byte the loop watches for; the
    // handler that reads it adds L and starts the next round.
    let ioloop = TestLoop::new();
    let log = Log::default();
    let (mut reader, writer) = util::socketpair();
    reader.set_nonblocking(true).unwrap();
    let (go, go_rx) = mpsc::channel::<u32>();
    let worker = {
        let (remote, log) = (ioloop.remote(), log.clone());
        let mut writer = writer;
        thread::spawn(move || {
            while let Ok(i) = go_rx.recv_timeout(LIMIT) {
                let l = log.clone();
                remote.add_callback(move || record(&l, ('R', i)));
                writer.write_all(&[1]).unwrap();
            }
        })
    };
    let fd = reader.as_raw_fd();
    let (l, g, go2) = (ioloop.clone(), log.clone(), go.clone());
    let mut round = 0;
    ioloop
        .add_handler(fd, Events::READ, move |fd, _| {
            let mut byte = [0];
            if reader.read(&mut byte).is_err() {
                return;
            }
            let (i, g2, l2, go3) = (round, g.clone(), l.clone(), go2.clone());
            round += 1;
            l.add_callback(move || {
                record(&g2, ('L', i));
                if i + 1 == ROUNDS {
                    l2.remove_handler(fd);
                    l2.stop();
                } else {
                    go3.send(i + 1).unwrap();
                }
            });
        })
        .unwrap();
    go.send(0).unwrap();
    util::run(&ioloop);
    drop(go);
    worker.join().unwrap();
    assert_order(&taken(&log), &interleaved(['R', 'L']));
}

/// What a task waits for: a flag another thread raises, then wakes the task.
#[derive(Default)]
struct Signal {
    raised: bool,
    waker: Option<Waker>,
}

/// Waits until the shared [`Signal`] is raised, and lowers it.
struct Raised(Arc<Mutex<Signal>>);

impl Future for Raised {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut signal = self.0.lock().unwrap();
        if std::mem::take(&mut signal.raised) {
            Poll::Ready(())
        } else {
            signal.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

fn wake_then_local(
    ioloop: IOLoop,
    worker: Rc<Worker>,
    signal: Arc<Mutex<Signal>>,
    log: Log,
    i: u32,
) {
    let s = signal.clone();
    worker.run(move || {
        let waker = {
            let mut signal = s.lock().unwrap();
            signal.raised = true;
            signal.waker.take().expect("the task waits")
        };
        waker.wake();
    });
    let l = ioloop.clone();
    ioloop.add_callback(move || {
        record(&log, ('L', i));
        if i + 1 == ROUNDS {
            l.stop();
        } else {
            let next = l.clone();
            l.add_callback(move || wake_then_local(next, worker, signal, log, i + 1));
        }
    });
}

#[test]
fn a_task_woken_from_another_thread_runs_before_the_local_callback_the_wake_causes() {
    let ioloop = TestLoop::new();
    let log = Log::default();
    let signal = Arc::new(Mutex::new(Signal::default()));
    let (s, g) = (signal.clone(), log.clone());
    let _task = ioloop.spawn(async move {
        for i in 0..ROUNDS {
            Raised(s.clone()).await;
            record(&g, ('T', i));
        }
    });
    // The task has run up to its first wait before the first round.
    let (l, w, g) = (ioloop.clone(), Rc::new(Worker::new()), log.clone());
    ioloop.add_callback(move || {
        let next = l.clone();
        l.add_callback(move || wake_then_local(next, w, signal, g, 0));
    });
    util::run(&ioloop);
    assert_order(&taken(&log), &interleaved(['T', 'L']));
}

#[test]
fn interleaved_local_and_remote_adds_run_in_causal_order_on_the_next_iteration() {
    // One callback alternates local adds with remote posts the worker makes
    // while it waits: all five run on the next iteration, in the order they
    // were made.
    let ioloop = TestLoop::new();
    let log = Log::default();
    let worker = Worker::new();
    let iterations = Arc::new(Mutex::new(Vec::new()));
    let (l, g, it) = (ioloop.clone(), log.clone(), iterations.clone());
    ioloop.add_callback(move || {
        it.lock().unwrap().push(('A', l.iteration()));
        for i in 0..5 {
            let (g, it) = (g.clone(), it.clone());
            if i % 2 == 0 {
                let l2 = l.clone();
                l.add_callback(move || {
                    record(&g, ('L', i));
                    it.lock().unwrap().push(('L', l2.iteration()));
                });
            } else {
                let remote = l.remote();
                worker.run(move || {
                    remote.add_callback(move || {
                        record(&g, ('R', i));
                        it.lock()
                            .unwrap()
                            .push(('R', IOLoop::current().iteration()));
                    });
                });
            }
        }
        let l2 = l.clone();
        l.add_callback(move || l2.stop());
    });
    util::run(&ioloop);
    assert_eq!(
        taken(&log),
        [('L', 0), ('R', 1), ('L', 2), ('R', 3), ('L', 4)]
    );
    let iterations = iterations.lock().unwrap();
    let first = iterations[0].1;
    for &(what, iteration) in &iterations[1..] {
        assert_eq!(iteration, first + 1, "{what} ran on the wrong iteration");
    }
}

#[test]
fn a_remote_post_during_the_callback_phase_waits_for_the_next_iteration_even_when_drained() {
    // X and Y are queued when the phase begins. X has the worker post R,
    // then adds L locally (which brings R into the local queue): Y still
    // runs in this pass, and R then L on the next iteration, as in Tornado,
    // where a callback added from another thread during the phase waits.
    let ioloop = TestLoop::new();
    let log: Arc<Mutex<Vec<(char, u64)>>> = Arc::default();
    let worker = Worker::new();
    let (l, g) = (ioloop.clone(), log.clone());
    ioloop.add_callback(move || {
        g.lock().unwrap().push(('X', l.iteration()));
        let remote = l.remote();
        let g2 = g.clone();
        worker.run(move || {
            remote.add_callback(move || {
                g2.lock()
                    .unwrap()
                    .push(('R', IOLoop::current().iteration()));
            });
        });
        let (l2, g2) = (l.clone(), g.clone());
        l.add_callback(move || {
            g2.lock().unwrap().push(('L', l2.iteration()));
            l2.stop();
        });
    });
    let (l, g) = (ioloop.clone(), log.clone());
    ioloop.add_callback(move || g.lock().unwrap().push(('Y', l.iteration())));
    util::run(&ioloop);
    let log = log.lock().unwrap();
    let n = log[0].1;
    assert_eq!(*log, [('X', n), ('Y', n), ('R', n + 1), ('L', n + 1)]);
}

#[test]
fn a_remote_handle_posts_in_causal_order_with_local_adds_before_the_loop_starts() {
    // Adds made before `start`: a remote post that happens before a local
    // add runs first.
    let ioloop = TestLoop::new();
    let log = Log::default();
    let remote: Remote = ioloop.remote();
    let g = log.clone();
    thread::spawn(move || remote.add_callback(move || record(&g, ('R', 0))))
        .join()
        .unwrap();
    let (l, g) = (ioloop.clone(), log.clone());
    ioloop.add_callback(move || {
        record(&g, ('L', 0));
        l.stop();
    });
    util::run(&ioloop);
    assert_eq!(taken(&log), [('R', 0), ('L', 0)]);
}

#[test]
fn a_task_woken_on_the_loop_thread_runs_after_a_remote_callback_posted_before_the_wake() {
    // The worker posts R; then the loop thread wakes a waiting task
    // locally: the task is queued behind R.
    let ioloop = TestLoop::new();
    let log = Log::default();
    let signal = Arc::new(Mutex::new(Signal::default()));
    let (s, g, l) = (signal.clone(), log.clone(), ioloop.clone());
    let _task = ioloop.spawn(async move {
        Raised(s).await;
        record(&g, ('T', 0));
        l.stop();
    });
    let (l, g, worker) = (ioloop.clone(), log.clone(), Worker::new());
    ioloop.add_callback(move || {
        let remote = l.remote();
        worker.run(move || remote.add_callback(move || record(&g, ('R', 0))));
        let waker = {
            let mut signal = signal.lock().unwrap();
            signal.raised = true;
            signal.waker.take().expect("the task waits")
        };
        waker.wake();
    });
    util::run(&ioloop);
    assert_eq!(taken(&log), [('R', 0), ('T', 0)]);
}
