//! The queue other threads post into, and the rule that decides when a
//! post must wake the loop.
//!
//! # The protocol
//!
//! One state word, written by the loop and read by producers:
//!
//! | bits | name | meaning |
//! |---|---|---|
//! | 0 | `PARKED` | the loop is about to block, or blocks, in poll |
//! | 1 | `NOTIFIED` | a producer has written the waker during this sleep |
//! | 2.. | epoch | bumped each time the loop parks |
//!
//! The loop, before a poll that may block ([`Mailbox::park`]), stores a new
//! epoch with `PARKED` (and without `NOTIFIED`), then takes the queue lock
//! and looks at the queue and the stop request: if either is set it polls
//! without blocking. When the poll returns ([`Mailbox::unpark`]) it clears
//! both flags.
//!
//! A producer ([`Mailbox::push`]) queues its item under the same lock, then
//! reads the state word. If it reads `PARKED` without `NOTIFIED`, it writes
//! the waker and only then sets `NOTIFIED`, with a compare-and-swap from the
//! value it read. Every push does this check, not only the first into an
//! empty queue.
//!
//! # Why no wakeup is lost
//!
//! The queue lock orders the loop's check against the producer's push. If
//! the loop's check comes second, it sees the item and does not block. If
//! it comes first, the loop's `PARKED` store, made before it took the lock,
//! is visible to the producer's read, made after the producer took the lock
//! in turn: the producer reads this sleep's `PARKED` (or a later state). It
//! then either writes the waker itself, or reads `NOTIFIED`, which a
//! producer sets only after its write has completed and only while the
//! sleep it saw is still the current one (the epoch makes a late
//! compare-and-swap fail once the loop has unparked or parked again). So
//! each sleep that a queued item could be waiting behind has a completed
//! write inside it, and a write the loop's poll has not yet seen makes that
//! poll return. A producer descheduled before its write has not set
//! `NOTIFIED`, so it never silences another producer. A poll that never
//! parks (a zero timeout) may swallow a write, but leaves no flag behind:
//! the next sleep starts with a new epoch and `NOTIFIED` clear.
//!
//! `cargo test` under `--cfg loom` checks this in `loom_model`.
//!
//! # Causal order with the loop's own queue
//!
//! The loop takes the queue at the start of each iteration, and also
//! whenever its own thread queues a callback or a task wake while
//! [`Mailbox::has_pending`] is true, before it queues its own item. That
//! gives Tornado's order: an item whose push happens before a local add
//! runs before it. The push stores `pending = true` under the lock (or
//! finds it already true), and the push returns after that store. If the
//! push happens before the loop's load of `pending` (the producer then
//! signalled the loop's thread through any synchronisation), coherence
//! makes the load return that store or a later one in `pending`'s
//! modification order, even with `Relaxed`: the only later stores of
//! `false` are the loop's own, made under the lock in
//! [`take_pending`](Mailbox::take_pending) or `close_queue` after the
//! item was queued, and then the loop already holds the item (or the
//! mailbox is closed). So the load reads `true` and the loop takes the
//! queue, under the lock, which also makes the items themselves visible;
//! or the item is already in the loop's queue. An `Acquire` load would
//! add nothing: nothing is read through the flag without the lock.
//!
//! # Cost
//!
//! A push costs one lock and unlock, one atomic load and, when the loop
//! sleeps, one write and one compare-and-swap per sleep: later producers
//! read `NOTIFIED` and skip the write.
//!
//! A local add on the loop's thread costs one `Relaxed` load of `pending`
//! while nothing is queued, and one lock and unlock for all that is queued
//! otherwise.

use std::sync::PoisonError;

use super::sync::{AtomicBool, AtomicU64, Mutex, MutexGuard, Ordering};

/// What ends the loop's sleep in poll (the loop's eventfd).
pub(crate) trait Wake {
    /// Makes the loop's current or next poll return.
    fn wake(&self);
}

/// The loop is about to block, or blocks, in poll.
const PARKED: u64 = 0b01;
/// A wake has been written during the current sleep.
const NOTIFIED: u64 = 0b10;
const FLAGS: u64 = PARKED | NOTIFIED;
/// One step of the sleep epoch, in the bits above the flags.
const EPOCH_STEP: u64 = 0b100;

struct Queue<T> {
    items: Vec<T>,
    /// INVARIANT: once true, `items` stays empty forever.
    closed: bool,
}

/// The queue of items other threads send a loop, its stop request, and the
/// park/unpark state that decides who wakes the loop (see the module docs).
pub(crate) struct Mailbox<T, W> {
    queue: Mutex<Queue<T>>,
    /// INVARIANT: written only under the `queue` lock, where it equals
    /// `!items.is_empty()`. Read without the lock as a hint, so an idle
    /// iteration takes no lock.
    pending: AtomicBool,
    /// INVARIANT: written only under the `queue` lock, so the loop's check
    /// in `park` sees a request made before it took the lock.
    stop: AtomicBool,
    /// `PARKED`, `NOTIFIED` and the sleep epoch. INVARIANT: only the loop
    /// changes the epoch or clears a flag; producers only add `NOTIFIED` to
    /// a state with `PARKED`.
    state: AtomicU64,
    waker: W,
}

impl<T, W: Wake> Mailbox<T, W> {
    pub(crate) fn with_waker(waker: W) -> Mailbox<T, W> {
        Mailbox {
            queue: Mutex::new(Queue {
                items: Vec::new(),
                closed: false,
            }),
            pending: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            state: AtomicU64::new(0),
            waker,
        }
    }

    pub(crate) fn waker(&self) -> &W {
        &self.waker
    }

    fn queue(&self) -> MutexGuard<'_, Queue<T>> {
        // No user code runs under this lock, so poisoning cannot leave the
        // queue inconsistent; recover from it.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // ----- producers (any thread) -----

    /// Queues an item and wakes the loop if it sleeps; gives the item back
    /// if the mailbox is closed.
    pub(crate) fn push(&self, item: T) -> Result<(), T> {
        self.enqueue(item)?;
        self.notify();
        Ok(())
    }

    /// The first half of [`push`](Mailbox::push): queues the item.
    pub(super) fn enqueue(&self, item: T) -> Result<(), T> {
        let mut queue = self.queue();
        if queue.closed {
            return Err(item);
        }
        queue.items.push(item);
        if !self.pending.load(Ordering::Relaxed) {
            self.pending.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The second half of [`push`](Mailbox::push), and of a stop request:
    /// wakes the loop if it sleeps and nobody has woken it yet.
    ///
    /// Called after the queue lock is released: if the loop took the lock
    /// before us, its `PARKED` store happens before this load (so `Relaxed`
    /// is enough); if after us, it saw our item and does not block.
    fn notify(&self) {
        let state = self.state.load(Ordering::Relaxed);
        if state & FLAGS != PARKED {
            return; // awake, or already woken during this sleep
        }
        self.waker.wake();
        // Only once the write is done, and only if the loop is still in the
        // sleep we saw: a later epoch or a cleared PARKED fails the swap.
        let _ = self.state.compare_exchange(
            state,
            state | NOTIFIED,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// Requests a stop, waking the loop if it sleeps.
    pub(crate) fn request_stop(&self) {
        {
            let _queue = self.queue();
            self.stop.store(true, Ordering::Relaxed);
        }
        self.notify();
    }

    // ----- the loop's thread -----

    /// True if items may be waiting in the queue (a hint: the loop checks
    /// the queue itself under its lock before it blocks). True for certain
    /// if a push happens before this call and the loop has not taken its
    /// item since (see "Causal order" in the module docs).
    #[inline]
    pub(crate) fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Relaxed)
    }

    /// Moves every queued item into `out` (swapping buffers, so the lock is
    /// held for a pointer swap).
    pub(crate) fn take_pending(&self, out: &mut Vec<T>) {
        debug_assert!(out.is_empty());
        let mut queue = self.queue();
        self.pending.store(false, Ordering::Relaxed);
        std::mem::swap(&mut queue.items, out);
    }

    #[inline]
    pub(crate) fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Clears a stop request, returning whether there was one.
    pub(crate) fn take_stop_request(&self) -> bool {
        let _queue = self.queue();
        let requested = self.stop.load(Ordering::Relaxed);
        if requested {
            self.stop.store(false, Ordering::Relaxed);
        }
        requested
    }

    /// Called by the loop just before a poll that may block. Returns false
    /// if an item or a stop request is waiting: the poll must not block.
    /// Either way, [`unpark`](Mailbox::unpark) follows the poll.
    pub(crate) fn park(&self) -> bool {
        // The flags are clear (`unpark` cleared them, and producers only
        // mark a parked state), so one addition bumps the epoch and sets
        // PARKED. The loop changes the state with read-modify-writes only,
        // so producers' compare-and-swaps and the loop's changes form one
        // order without lost updates. Sequenced before the lock below: a
        // producer that takes the lock after us sees this (see `notify`).
        let before = self.state.fetch_add(EPOCH_STEP | PARKED, Ordering::Relaxed);
        debug_assert_eq!(before & FLAGS, 0, "park without unpark");
        let queue = self.queue();
        queue.items.is_empty() && !self.stop.load(Ordering::Relaxed)
    }

    /// Called by the loop when a poll that followed [`park`](Mailbox::park)
    /// returns, however it returns.
    pub(crate) fn unpark(&self) {
        self.state.fetch_and(!FLAGS, Ordering::Relaxed);
    }

    /// Closes the queue for good; later pushes are refused. Returns the
    /// items that were still queued.
    pub(crate) fn close_queue(&self) -> Vec<T> {
        let mut queue = self.queue();
        queue.closed = true;
        self.pending.store(false, Ordering::Relaxed);
        std::mem::take(&mut queue.items)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.queue().closed
    }

    /// Items queued and not yet taken by the loop.
    pub(crate) fn queued(&self) -> usize {
        if !self.has_pending() {
            return 0;
        }
        self.queue().items.len()
    }

    /// True between [`park`](Mailbox::park) and [`unpark`](Mailbox::unpark).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn is_parked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & PARKED != 0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// Counts writes.
    #[derive(Default)]
    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(&self) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn writes(mailbox: &Mailbox<u32, Counter>) -> usize {
        mailbox.waker().0.load(std::sync::atomic::Ordering::Relaxed)
    }

    #[test]
    fn an_awake_loop_is_never_written_to() {
        let mailbox = Mailbox::with_waker(Counter::default());
        mailbox.push(1).unwrap();
        mailbox.push(2).unwrap();
        mailbox.request_stop();
        assert_eq!(writes(&mailbox), 0);
        let mut out = Vec::new();
        mailbox.take_pending(&mut out);
        assert_eq!(out, [1, 2]);
        assert!(!mailbox.has_pending());
    }

    #[test]
    fn one_write_per_sleep_however_many_pushes() {
        let mailbox = Mailbox::with_waker(Counter::default());
        assert!(mailbox.park());
        for i in 0..10 {
            mailbox.push(i).unwrap();
        }
        assert_eq!(writes(&mailbox), 1);
        mailbox.unpark();
        mailbox.take_pending(&mut Vec::new());
        assert!(mailbox.park());
        mailbox.push(10).unwrap();
        mailbox.request_stop();
        assert_eq!(writes(&mailbox), 2, "a new sleep needs a new write");
    }

    #[test]
    fn a_queued_item_or_a_stop_request_keeps_the_loop_from_blocking() {
        let mailbox = Mailbox::with_waker(Counter::default());
        mailbox.enqueue(1).unwrap();
        assert!(!mailbox.park());
        mailbox.unpark();
        mailbox.take_pending(&mut Vec::new());
        assert!(mailbox.park());
        mailbox.unpark();
        mailbox.request_stop();
        assert!(!mailbox.park());
        mailbox.unpark();
        assert!(mailbox.take_stop_request());
        assert!(mailbox.park());
    }

    #[test]
    fn a_late_notified_mark_does_not_reach_the_next_sleep() {
        // A producer reads PARKED, the loop wakes for another reason and
        // sleeps again; the producer's mark for the old sleep must fail, so
        // the next producer still writes.
        let mailbox = Mailbox::with_waker(Counter::default());
        assert!(mailbox.park());
        let seen = mailbox.state.load(Ordering::Relaxed);
        mailbox.unpark();
        assert!(mailbox.park());
        assert!(
            mailbox
                .state
                .compare_exchange(seen, seen | NOTIFIED, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        );
        mailbox.push(1).unwrap();
        assert_eq!(writes(&mailbox), 1);
    }

    #[test]
    fn a_closed_mailbox_refuses_items_and_returns_the_queued_ones() {
        let mailbox = Mailbox::with_waker(Counter::default());
        mailbox.push(1).unwrap();
        assert_eq!(mailbox.close_queue(), [1]);
        assert!(mailbox.is_closed());
        assert_eq!(mailbox.push(2), Err(2));
        assert_eq!(mailbox.queued(), 0);
    }
}
