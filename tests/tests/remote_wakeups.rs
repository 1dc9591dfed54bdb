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

/// How long the rounds go on. A protocol that clears its `notified` flag
/// only when a blocking sleep ends loses a wakeup here within about 7,000
/// rounds (under a second on a 2-core machine); this runs five times as
/// many or more.
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

/// The next number of a per-thread pseudo-random sequence.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// Spins until `t` (the threads that race must all be running then).
fn spin_until(t: Instant) {
    while Instant::now() < t {
        std::hint::spin_loop();
    }
}

/// How far after the I/O write the racing post may land: the loop
/// returns from `epoll_wait` while the writer is still in `write`, and
/// clears its sleep state a moment later.
const SPREAD: Duration = Duration::from_micros(8);

/// What a producer does in a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Wakes the loop for I/O at the round's instant.
    Poke,
    /// Posts just after the I/O write, while the loop is waking up; its
    /// callback keeps the loop busy, with zero-timeout polls, for a while.
    Race,
    /// Posts once the loop is back to sleep, with nothing else to wake it.
    Check,
}

/// What a producer reports for one round.
#[derive(Debug)]
enum Report {
    Done,
    /// Its callback did not run within `ROUND_LIMIT`.
    Lost,
}

/// A producer thread: plays `role` in each round it is sent.
fn producer(
    role: Role,
    lp: Arc<Loop>,
    rounds: mpsc::Receiver<(u64, Instant)>,
    reports: Sender<(Role, u64, Report)>,
) {
    let (tx, rx) = mpsc::channel();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    // Ends when the test drops the round sender.
    for (round, at) in rounds {
        if role == Role::Poke {
            spin_until(at);
            lp.poke();
            let _ = reports.send((role, round, Report::Done));
            continue;
        }
        let chain_length = if role == Role::Race {
            spin_until(at + SPREAD.mul_f64((next(&mut seed) % 1024) as f64 / 1024.0));
            CHAIN
        } else {
            0
        };
        let done = tx.clone();
        lp.remote
            .add_callback(move || chain(chain_length, round, done));
        let report = loop {
            match rx.recv_timeout(ROUND_LIMIT) {
                Ok(answered) if answered == round => break Report::Done,
                Ok(_) => continue, // a late answer to an earlier lost round
                Err(_) => break Report::Lost,
            }
        };
        if matches!(report, Report::Lost) {
            lp.poke(); // unstick the loop, so the test can end
        }
        let _ = reports.send((role, round, report));
    }
}

#[test]
fn every_post_wakes_a_loop_that_also_wakes_for_io() {
    // Each round: one producer wakes the loop for I/O while another posts,
    // a few microseconds apart, so the post often finds the loop parked
    // but waking up; the posted callback keeps the loop busy for a while.
    // Then, once the loop sleeps again, a third producer posts with
    // nothing else to wake the loop: if its wakeup is lost, its wait runs
    // out.
    let _serial = serial();
    let lp = Arc::new(Loop::start());
    let (report_tx, report_rx) = mpsc::channel();
    let (go, producers): (Vec<_>, Vec<_>) = [Role::Poke, Role::Race, Role::Check]
        .into_iter()
        .map(|role| {
            let (go, rounds) = mpsc::channel();
            let (lp, reports) = (Arc::clone(&lp), report_tx.clone());
            let thread = thread::spawn(move || producer(role, lp, rounds, reports));
            (go, thread)
        })
        .unzip();
    let started = Instant::now();
    let mut lost = Vec::new();
    let mut rounds = 0;
    while lost.is_empty() && rounds < MAX_ROUNDS && started.elapsed() < BUDGET {
        // Far enough ahead for both threads to be spinning at the instant.
        let at = Instant::now() + Duration::from_micros(50);
        for step in [&go[..2], &go[2..]] {
            for go in step {
                go.send((rounds, at)).unwrap();
            }
            for _ in step {
                // Each producer reports within ROUND_LIMIT of its post.
                let (role, round, report) = report_rx
                    .recv_timeout(2 * ROUND_LIMIT)
                    .expect("a producer reports every round");
                if matches!(report, Report::Lost) {
                    lost.push((round, role));
                }
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
    eprintln!("{rounds} rounds in {elapsed:?}");
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
