//! `Remote` wakeups end to end, in a test binary of its own: the stress
//! rounds want the loop's thread scheduled as it would be in a server, not
//! behind other tests, and the descriptor test counts the process's fds.
//! The tests take one lock, so they run one at a time.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use ioloop::{Events, IOLoop, MakeCurrent, Remote};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Producer threads posting in each round.
const PRODUCERS: usize = 3;
/// How long the rounds go on (a bug shows within it: see the test).
const BUDGET: Duration = Duration::from_secs(6);
/// The most rounds, in case the machine is fast.
const MAX_ROUNDS: u64 = 200_000;
/// How long a producer waits for its callback before calling the wakeup
/// lost: generous, since a woken loop answers within microseconds.
const ROUND_LIMIT: Duration = Duration::from_secs(3);
/// Local callbacks each posted callback chains before it answers, so the
/// loop also makes zero-timeout polls (one per `MAX_POLL_SKIPS` busy
/// iterations while a descriptor is registered).
const CHAIN: u32 = IOLoop::MAX_POLL_SKIPS + 8;

/// A loop on its own thread with a live descriptor (one end of a socket
/// pair, drained by a READ handler); the other end wakes it for I/O.
struct Loop {
    remote: Remote,
    io: UnixStream,
    thread: thread::JoinHandle<()>,
}

impl Loop {
    fn start() -> Loop {
        let (tx, rx) = mpsc::channel();
        let thread = thread::spawn(move || {
            let ioloop = IOLoop::new().unwrap();
            let (reader, writer) = UnixStream::pair().unwrap();
            reader.set_nonblocking(true).unwrap();
            let fd = reader.as_raw_fd();
            ioloop
                .add_handler(fd, Events::READ, move |_, _| {
                    let mut buf = [0; 256];
                    while matches!((&reader).read(&mut buf), Ok(n) if n > 0) {}
                })
                .unwrap();
            tx.send((ioloop.remote(), writer)).unwrap();
            // A safety net only: the test stops the loop long before.
            integration_tests::run_for_at_most(&ioloop, BUDGET + 4 * ROUND_LIMIT);
        });
        let (remote, io) = rx.recv_timeout(ROUND_LIMIT).expect("the loop started");
        Loop { remote, io, thread }
    }

    /// Wakes the loop for I/O (never fails the test: after a lost round
    /// the loop may already be gone).
    fn poke(&self) {
        let _ = (&self.io).write_all(&[1]);
    }

    fn stop(self) {
        self.remote.stop();
        // The stop request goes through the same wakeup; the I/O makes sure
        // a broken one still ends the test.
        self.poke();
        self.thread.join().expect("the loop thread");
    }
}

/// Runs `left` more local callbacks, then answers `round` on `done`.
fn chain(left: u32, round: u64, done: Sender<u64>) {
    if left == 0 {
        let _ = done.send(round);
        return;
    }
    IOLoop::current().add_callback(move || chain(left - 1, round, done));
}

/// A small per-thread pseudo-random spin, so producers reach the loop at
/// varying points of its cycle.
fn jitter(seed: &mut u64) {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    for _ in 0..(*seed % 4_000) {
        std::hint::spin_loop();
    }
}

/// What a producer reports for one round.
#[derive(Debug)]
enum Report {
    Ran,
    /// Its callback did not run within `ROUND_LIMIT`.
    Lost,
}

/// A producer thread: for each round number it is sent, waits a
/// producer-specific moment, posts one callback and waits for it.
fn producer(
    index: usize,
    remote: Remote,
    lp: Arc<Loop>,
    rounds: mpsc::Receiver<u64>,
    reports: Sender<(usize, u64, Report)>,
) {
    let (tx, rx) = mpsc::channel();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64 ^ (index as u64 + 1);
    // Ends when the test drops the round sender.
    for round in rounds {
        if index == 0 {
            lp.poke();
        } else {
            jitter(&mut seed);
        }
        let done = tx.clone();
        remote.add_callback(move || chain(CHAIN, round, done));
        let report = loop {
            match rx.recv_timeout(ROUND_LIMIT) {
                Ok(answered) if answered == round => break Report::Ran,
                Ok(_) => continue, // a late answer to an earlier lost round
                Err(_) => break Report::Lost,
            }
        };
        if matches!(report, Report::Lost) {
            lp.poke(); // unstick the loop, so the other rounds end
        }
        let _ = reports.send((index, round, report));
    }
}

#[test]
fn every_post_wakes_a_loop_that_also_wakes_for_io() {
    // Rounds in lockstep: producer 0 wakes the loop for I/O and posts at
    // once (so its post often finds the loop parked but waking up), the
    // others post after a random spin; each waits for its own callback.
    // Nothing writes to the socket after the round's first post, so a lost
    // wakeup leaves the loop asleep and the producer's wait runs out.
    let _serial = serial();
    let lp = Arc::new(Loop::start());
    let (report_tx, report_rx) = mpsc::channel();
    let (go, producers): (Vec<_>, Vec<_>) = (0..PRODUCERS)
        .map(|index| {
            let (go, rounds) = mpsc::channel();
            let (remote, lp, reports) = (lp.remote.clone(), Arc::clone(&lp), report_tx.clone());
            let thread = thread::spawn(move || producer(index, remote, lp, rounds, reports));
            (go, thread)
        })
        .unzip();
    let started = Instant::now();
    let mut lost = Vec::new();
    let mut rounds = 0;
    while lost.is_empty() && rounds < MAX_ROUNDS && started.elapsed() < BUDGET {
        for go in &go {
            go.send(rounds).unwrap();
        }
        for _ in 0..PRODUCERS {
            // Each producer reports within ROUND_LIMIT of its post.
            let (index, round, report) = report_rx
                .recv_timeout(2 * ROUND_LIMIT)
                .expect("a producer reports every round");
            if matches!(report, Report::Lost) {
                lost.push((round, index));
            }
        }
        rounds += 1;
    }
    let elapsed = started.elapsed();
    drop(go);
    for producer in producers {
        producer.join().expect("a producer thread");
    }
    Arc::into_inner(lp).expect("producers joined").stop();
    eprintln!("{rounds} rounds of {PRODUCERS} posts in {elapsed:?}");
    assert!(
        lost.is_empty(),
        "callbacks not run within {ROUND_LIMIT:?} (round, producer): {lost:?}, \
         after {rounds} rounds in {elapsed:?}"
    );
}

/// The eventfds open in this process.
fn open_eventfds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy() == "anon_inode:[eventfd]")
        .count()
}

#[test]
fn dropping_a_loop_closes_its_eventfd_though_remotes_are_alive() {
    let _serial = serial();
    let before = open_eventfds();
    let ioloop = IOLoop::builder()
        .make_current(MakeCurrent::Never)
        .build()
        .unwrap();
    let remote = ioloop.remote();
    assert_eq!(open_eventfds(), before + 1, "the loop's waker");
    drop(ioloop);
    assert_eq!(open_eventfds(), before, "closed with the loop");
    remote.add_callback(|| unreachable!("the loop is gone"));
    assert!(remote.is_closed());
}
