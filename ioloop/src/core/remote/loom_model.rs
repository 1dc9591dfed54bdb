//! Model checks of the mailbox's wakeup protocol: loom runs each model
//! under every interleaving of two producer threads and a loop thread, and
//! reports a deadlock if the loop sleeps with an item queued and nobody left
//! to wake it.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test -p ioloop --release --lib loom_model
//! ```
//!
//! CI bounds the search at three preemptions per execution (about 20 s);
//! without a bound it runs for many minutes.
//!
//! The loop follows a script of polls: one woken by I/O (it parks, but the
//! poll returns at once), zero-timeout polls (which never park), and then
//! polls that block until the eventfd is written. The eventfd is modelled
//! as it is registered, edge-triggered: a write leaves one event for the
//! next poll, and any poll that returns takes it.
//!
//! A second protocol, two flags where only the first push into an empty
//! queue looks at whether the loop sleeps and the `notified` flag is
//! cleared only when a blocking poll returns, is modelled too: the checks
//! must catch its lost wakeups, or they could not catch ours.

use std::cell::Cell;

use loom::sync::atomic::{AtomicBool, Ordering, fence};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

use super::mailbox::{Mailbox, Wake};

/// The loop's eventfd, registered edge-triggered.
#[derive(Default)]
struct Eventfd {
    /// An event the next poll returns.
    edge: Mutex<bool>,
    written: Condvar,
    /// Holds back the write of a thread marked `STALLED` until opened.
    gate: Arc<Gate>,
}

loom::thread_local! {
    /// True on a producer that is descheduled just before it writes the
    /// eventfd, until the gate opens.
    static STALLED: Cell<bool> = Cell::new(false);
}

impl Wake for Eventfd {
    fn wake(&self) {
        if STALLED.with(Cell::get) {
            self.gate.wait();
        }
        *self.edge.lock().unwrap() = true;
        self.written.notify_all();
    }
}

impl Eventfd {
    /// A poll that returns at once (a zero timeout, or I/O already ready):
    /// takes the event if there is one.
    fn poll_now(&self) {
        *self.edge.lock().unwrap() = false;
    }

    /// A poll with no timeout and no I/O: sleeps until written.
    fn poll_blocking(&self) {
        let mut edge = self.edge.lock().unwrap();
        while !*edge {
            edge = self.written.wait(edge).unwrap();
        }
        *edge = false;
    }
}

#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn wait(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
    }

    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

/// The protocol under test, as the loop and the producers use it.
trait Door: Send + Sync + 'static {
    fn new() -> Self;
    fn eventfd(&self) -> &Eventfd;
    fn push(&self, item: u32);
    fn request_stop(&self);
    fn has_pending(&self) -> bool;
    fn take_pending(&self, out: &mut Vec<u32>);
    fn take_stop_request(&self) -> bool;
    fn park(&self) -> bool;
    fn unpark(&self);
}

impl Door for Mailbox<u32, Eventfd> {
    fn new() -> Self {
        Mailbox::with_waker(Eventfd::default())
    }
    fn eventfd(&self) -> &Eventfd {
        self.waker()
    }
    fn push(&self, item: u32) {
        Mailbox::push(self, item).unwrap();
    }
    fn request_stop(&self) {
        Mailbox::request_stop(self);
    }
    fn has_pending(&self) -> bool {
        Mailbox::has_pending(self)
    }
    fn take_pending(&self, out: &mut Vec<u32>) {
        Mailbox::take_pending(self, out);
    }
    fn take_stop_request(&self) -> bool {
        Mailbox::take_stop_request(self)
    }
    fn park(&self) -> bool {
        Mailbox::park(self)
    }
    fn unpark(&self) {
        Mailbox::unpark(self);
    }
}

/// Two flags, `parked` and `notified`; only the push that finds the queue
/// empty raises `pending` and looks at `parked`.
struct TwoFlags {
    queue: Mutex<Vec<u32>>,
    pending: AtomicBool,
    parked: AtomicBool,
    notified: AtomicBool,
    stop: AtomicBool,
    eventfd: Eventfd,
}

impl TwoFlags {
    fn wake_if_parked(&self) {
        // loom treats a SeqCst load or store as AcqRel; the fence gives the
        // store-then-load pairs their sequential consistency.
        fence(Ordering::SeqCst);
        if self.parked.load(Ordering::SeqCst) && !self.notified.swap(true, Ordering::SeqCst) {
            self.eventfd.wake();
        }
    }
}

impl Door for TwoFlags {
    fn new() -> Self {
        TwoFlags {
            queue: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
            parked: AtomicBool::new(false),
            notified: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            eventfd: Eventfd::default(),
        }
    }
    fn eventfd(&self) -> &Eventfd {
        &self.eventfd
    }
    fn push(&self, item: u32) {
        let first = {
            let mut queue = self.queue.lock().unwrap();
            queue.push(item);
            queue.len() == 1
        };
        if first {
            self.pending.store(true, Ordering::SeqCst);
            self.wake_if_parked();
        }
    }
    fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake_if_parked();
    }
    fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }
    fn take_pending(&self, out: &mut Vec<u32>) {
        let mut queue = self.queue.lock().unwrap();
        self.pending.store(false, Ordering::SeqCst);
        std::mem::swap(&mut *queue, out);
    }
    fn take_stop_request(&self) -> bool {
        self.stop.swap(false, Ordering::SeqCst)
    }
    fn park(&self) -> bool {
        self.parked.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        !(self.pending.load(Ordering::SeqCst) || self.stop.load(Ordering::SeqCst))
    }
    fn unpark(&self) {
        self.parked.store(false, Ordering::SeqCst);
        self.notified.store(false, Ordering::SeqCst);
    }
}

/// One poll of the loop's script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Poll {
    /// Parks, but I/O is ready: returns at once.
    Io,
    /// A zero timeout (callbacks queued locally): never parks.
    Zero,
    /// Parks and sleeps until the eventfd is written.
    Block,
}

/// What the loop has received.
#[derive(Debug, Default)]
struct Received {
    items: Vec<u32>,
    stopped: bool,
}

/// Runs the loop as `run.rs` does (take the queue, then poll), following
/// `script` and then blocking polls, until `done`.
fn run_loop<D: Door>(door: &D, script: &[Poll], done: impl Fn(&Received) -> bool) -> Received {
    let mut received = Received::default();
    let mut taken = Vec::new();
    let polls = script.iter().copied().chain(std::iter::repeat(Poll::Block));
    for poll in polls {
        if door.has_pending() {
            door.take_pending(&mut taken);
            received.items.append(&mut taken);
        }
        received.stopped |= door.take_stop_request();
        if done(&received) {
            break;
        }
        match poll {
            Poll::Zero => door.eventfd().poll_now(),
            Poll::Io | Poll::Block => {
                if door.park() && poll == Poll::Block {
                    door.eventfd().poll_blocking();
                } else {
                    door.eventfd().poll_now();
                }
                door.unpark();
            }
        }
    }
    received
}

/// The scripts every model runs: plain sleeps, and sleeps after a wakeup
/// for I/O and zero-timeout polls in either order.
const SCRIPTS: [&[Poll]; 4] = [
    &[],
    &[Poll::Io],
    &[Poll::Io, Poll::Zero],
    &[Poll::Zero, Poll::Io, Poll::Zero],
];

/// Two producers post one item each; the loop must get both.
fn two_producers<D: Door>(script: &'static [Poll]) {
    loom::model(move || {
        let door = Arc::new(D::new());
        let producers: Vec<_> = [1, 2]
            .into_iter()
            .map(|item| {
                let door = Arc::clone(&door);
                thread::spawn(move || door.push(item))
            })
            .collect();
        let mut received = run_loop(&*door, script, |r| r.items.len() == 2);
        for producer in producers {
            producer.join().unwrap();
        }
        received.items.sort_unstable();
        assert_eq!(received.items, [1, 2]);
    });
}

/// Producer A is descheduled just before it writes the eventfd, until the
/// loop has producer B's item: B's post alone must wake the loop.
fn stalled_producer<D: Door>(script: &'static [Poll]) {
    loom::model(move || {
        let door = Arc::new(D::new());
        let a = {
            let door = Arc::clone(&door);
            thread::spawn(move || {
                STALLED.with(|stalled| stalled.set(true));
                door.push(1);
            })
        };
        let b = {
            let door = Arc::clone(&door);
            thread::spawn(move || door.push(2))
        };
        let received = run_loop(&*door, script, |r| r.items.contains(&2));
        door.eventfd().gate.open();
        a.join().unwrap();
        b.join().unwrap();
        assert!(received.items.contains(&2));
    });
}

/// One producer posts an item, the other requests a stop; the loop must
/// see both.
fn post_and_stop<D: Door>(script: &'static [Poll]) {
    loom::model(move || {
        let door = Arc::new(D::new());
        let poster = {
            let door = Arc::clone(&door);
            thread::spawn(move || door.push(1))
        };
        let stopper = {
            let door = Arc::clone(&door);
            thread::spawn(move || door.request_stop())
        };
        let received = run_loop(&*door, script, |r| r.stopped && r.items.len() == 1);
        poster.join().unwrap();
        stopper.join().unwrap();
        assert_eq!(received.items, [1]);
    });
}

type Ours = Mailbox<u32, Eventfd>;

#[test]
fn loom_model_two_producers_always_wake_the_loop() {
    for script in SCRIPTS {
        two_producers::<Ours>(script);
    }
}

#[test]
fn loom_model_a_stalled_producer_does_not_hold_back_another() {
    for script in SCRIPTS {
        stalled_producer::<Ours>(script);
    }
}

#[test]
fn loom_model_a_stop_request_always_wakes_the_loop() {
    for script in SCRIPTS {
        post_and_stop::<Ours>(script);
    }
}

#[test]
fn loom_model_two_flags_survive_plain_sleeps() {
    // Without I/O wakeups or zero-timeout polls the two-flag protocol holds:
    // what the model catches below is that protocol's flaw, not the model's.
    two_producers::<TwoFlags>(SCRIPTS[0]);
}

#[test]
#[should_panic(expected = "deadlock")]
fn loom_model_catches_two_flags_losing_a_wakeup_after_io_and_a_zero_poll() {
    two_producers::<TwoFlags>(&[Poll::Io, Poll::Zero]);
}

#[test]
#[should_panic(expected = "deadlock")]
fn loom_model_catches_two_flags_waiting_on_a_stalled_producer() {
    stalled_producer::<TwoFlags>(SCRIPTS[0]);
}
