//! [`WatchdogSlot`]: what one loop shares with the watchdog thread.
//!
//! Three parties touch a slot:
//!
//! * the **loop thread** publishes, before every callback, a sequence
//!   number, the callback's kind and where it was registered
//!   ([`begin`](WatchdogSlot::begin)): two plain stores (three for a handler), no
//!   read-modify-write, no clock. The callback counts as running until the
//!   next `begin`, or until the loop marks itself [`idle`](WatchdogSlot::idle)
//!   before it polls and when `start` returns: between two callbacks of an
//!   iteration, the loop's own few instructions count towards the first.
//!   (A second store after each callback cost as much again on the
//!   callback-chain benchmark.)
//! * the **watchdog thread** reads that ([`running`](WatchdogSlot::running)) and,
//!   when a callback has run too long, requests a stack capture
//!   ([`request`](WatchdogSlot::request), [`collect`](WatchdogSlot::collect));
//! * the **signal action**, on the loop thread in signal context, serves
//!   the request ([`serve`](WatchdogSlot::serve)) with atomics, a lock it only
//!   tries, and the stack walk.
//!
//! # The capture protocol
//!
//! `ticket` holds a request number and a state. Only the watchdog moves a
//! ticket to `Requested` (from `Idle`, or from an ending left by a capture
//! it stopped waiting for) and back to `Idle`; only the signal action
//! moves `Requested` to `Writing` (by compare-exchange, so one action at
//! most writes the buffer) and `Writing` to `Done`, `Stale` or `Skipped`.
//! The watchdog withdraws an undelivered request by compare-exchange
//! `Requested` to `Idle`; if that fails, the action has started and owns
//! the buffer until it publishes its ending with a release store, after
//! which the watchdog reads the buffer. A capture the watchdog stopped
//! waiting for keeps the slot until it ends; the next request after that
//! goes ahead.

use std::ops::Range;
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::Events;
use crate::HookKind;
use crate::core::exception::CallbackKind;
use crate::sys::{self, AtomicSite, TryLock};

/// The deepest stack a capture records, in frames.
pub(crate) const MAX_FRAMES: usize = 128;

const IDLE: u64 = 0;
const REQUESTED: u64 = 1;
const WRITING: u64 = 2;
const DONE: u64 = 3;
const STALE: u64 = 4;
const SKIPPED: u64 = 5;
const STATE_BITS: u32 = 3;
const STATE_MASK: u64 = (1 << STATE_BITS) - 1;

/// What one loop shares with the watchdog thread and the signal action.
pub(crate) struct WatchdogSlot {
    /// INVARIANT: odd from a callback's [`begin`](WatchdogSlot::begin) until the
    /// next `begin` or [`idle`](WatchdogSlot::idle), even while idle. Only the loop
    /// thread writes it, and it only grows: `begin` moves it to a new odd
    /// value (never one used before), `idle` from odd to even.
    seq: AtomicU64,
    /// INVARIANT: while `seq` is odd, the running callback's registration
    /// site, tagged with its kind ([`encode`]), stored (release) before
    /// `seq` became odd.
    site: AtomicSite,
    /// INVARIANT: while `seq` is odd and the kind tag is `TAG_HANDLER`, the
    /// handler's fd and events ([`encode`]), stored (release) before `site`.
    handler: AtomicU64,
    /// The loop thread's kernel id, set when the watchdog is enabled; the
    /// signal action ignores every other thread.
    tid: AtomicI32,
    /// INVARIANT: request number << `STATE_BITS` | state; see the module
    /// docs for who moves it where.
    ticket: AtomicU64,
    /// The callback sequence number the current request is for.
    want_seq: AtomicU64,
    /// INVARIANT: the number of valid entries of `ips` once `ticket` is
    /// `Done`; at most `MAX_FRAMES`.
    len: AtomicUsize,
    /// Return addresses, innermost first, written by the signal action.
    ips: [AtomicUsize; MAX_FRAMES],
    /// INVARIANT: once `ticket` is `Skipped`, why ([`Skipped`] as a byte).
    skipped: AtomicU8,
    /// The loop thread's stack, `start..end`, set when the watchdog is
    /// enabled (empty: unknown); the walk reads nothing outside it.
    stack_start: AtomicUsize,
    stack_end: AtomicUsize,
    /// The unwind tables and cache the walk uses: prepared by the watchdog
    /// thread before a request, taken by the signal action while it
    /// serves one (a lock both sides only try, never wait for).
    walker: TryLock<sys::Walker>,
}

/// Why the signal action recorded no stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Skipped {
    /// No unwind tables were prepared for the walk.
    NoTables = 1,
    /// The walk's tables were in use (a capture still under way).
    Busy,
    /// The loop thread's stack bounds are not known.
    NoStackBounds,
    /// The loop thread was running on a stack other than its own (an
    /// alternate signal stack, a coroutine's), or the signal frame was not
    /// where the kernel puts it.
    OtherStack,
    /// Not implemented on this architecture.
    Unsupported,
}

impl Skipped {
    fn from_u8(byte: u8) -> Skipped {
        [
            Skipped::NoTables,
            Skipped::Busy,
            Skipped::NoStackBounds,
            Skipped::OtherStack,
        ]
        .into_iter()
        .find(|s| *s as u8 == byte)
        .unwrap_or(Skipped::Unsupported)
    }

    /// Why, in a report's words.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Skipped::NoTables => "no unwind tables were prepared for the loop thread",
            Skipped::Busy => "the previous stack capture on the loop thread was still under way",
            Skipped::NoStackBounds => "the loop thread's stack bounds are unknown",
            Skipped::OtherStack => {
                "the loop thread was running on another stack (an alternate signal stack or a \
                 coroutine's), where the capture does not read"
            }
            Skipped::Unsupported => "stack capture is not implemented on this architecture",
        }
    }
}

/// A callback the loop thread is running, as the watchdog saw it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunningCallback {
    pub(crate) seq: u64,
    pub(crate) site: &'static Location<'static>,
    pub(crate) kind: Option<CallbackKind>,
}

/// How a stack capture ended.
#[derive(Debug)]
pub(crate) enum Captured {
    /// Return addresses of the loop thread, innermost first.
    Frames(Vec<usize>),
    /// The callback had returned when the signal arrived.
    Stale,
    /// The signal was not handled in time (blocked, or the loop thread was
    /// not scheduled); the request was withdrawn.
    NotDelivered,
    /// The signal action skipped the walk, for this reason.
    Skipped(Skipped),
    /// The signal action started but did not finish in time (the loop
    /// thread was descheduled or stopped meanwhile). The slot takes a new
    /// request once it has.
    Unfinished,
}

impl WatchdogSlot {
    pub(crate) fn new() -> WatchdogSlot {
        WatchdogSlot {
            seq: AtomicU64::new(0),
            site: AtomicSite::new(),
            handler: AtomicU64::new(0),
            tid: AtomicI32::new(0),
            ticket: AtomicU64::new(IDLE),
            want_seq: AtomicU64::new(0),
            len: AtomicUsize::new(0),
            ips: [const { AtomicUsize::new(0) }; MAX_FRAMES],
            skipped: AtomicU8::new(0),
            stack_start: AtomicUsize::new(0),
            stack_end: AtomicUsize::new(0),
            walker: TryLock::new(sys::Walker::new()),
        }
    }

    // ----- the loop thread -------------------------------------------------

    /// Publishes that a callback starts. Loop thread only.
    #[inline(always)]
    pub(crate) fn begin(&self, kind: CallbackKind, site: &'static Location<'static>) {
        // A new odd value: from odd N to N + 2, from even E to E + 3.
        let seq = (self.seq.load(Ordering::Relaxed) | 1) + 2;
        // Constant-folded where the kind is known at the call site.
        let (tag, handler) = encode(kind);
        if tag == TAG_HANDLER || tag == TAG_OTHER {
            self.handler.store(handler, Ordering::Release);
        }
        self.site.store(site, tag, Ordering::Release);
        self.seq.store(seq, Ordering::Release);
    }

    /// Publishes that no callback runs. Loop thread only.
    pub(crate) fn idle(&self) {
        let seq = self.seq.load(Ordering::Relaxed);
        if seq & 1 == 1 {
            self.seq.store(seq + 1, Ordering::Release);
        }
    }

    /// Records the loop thread's kernel id (on enabling the watchdog; 0,
    /// which is no thread's, when that thread ends).
    pub(crate) fn set_tid(&self, tid: i32) {
        self.tid.store(tid, Ordering::Relaxed);
    }

    /// Records the loop thread's stack bounds (on enabling the watchdog).
    pub(crate) fn set_stack(&self, stack: Option<Range<usize>>) {
        let stack = stack.unwrap_or(0..0);
        self.stack_start.store(stack.start, Ordering::Relaxed);
        self.stack_end.store(stack.end, Ordering::Relaxed);
    }

    /// Stores a site without a new sequence number: the state a reader can
    /// see between the two stores of `begin`.
    #[cfg(test)]
    pub(crate) fn store_site_only(&self, site: &'static Location<'static>) {
        self.site.store(site, TAG_CALLBACK, Ordering::Release);
    }

    // ----- the watchdog thread ---------------------------------------------

    /// The callback running now, if any.
    ///
    /// The site and kind are those of the sequence number unless the
    /// callback ended during this read (the loop publishes a site before
    /// its sequence number, two stores rather than a seqlock's three): the
    /// watchdog only trusts a snapshot of a callback it later still sees
    /// running.
    pub(crate) fn running(&self) -> Option<RunningCallback> {
        let seq = self.seq.load(Ordering::Acquire);
        if seq & 1 == 0 {
            return None;
        }
        let (site, tag) = self.site.load(Ordering::Relaxed)?;
        let handler = self.handler.load(Ordering::Relaxed);
        // Had the loop marked itself idle before the next site store that
        // was read above, this fence makes that visible to the load below.
        std::sync::atomic::fence(Ordering::Acquire);
        if self.seq.load(Ordering::Relaxed) != seq {
            return None;
        }
        Some(RunningCallback {
            seq,
            site,
            kind: decode(tag, handler),
        })
    }

    /// The current callback sequence number (odd while one runs).
    pub(crate) fn seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// Gives the walk these unwind tables; false if a capture is using the
    /// walk's tables right now (one the watchdog stopped waiting for).
    pub(crate) fn prepare(&self, modules: &Arc<sys::Modules>) -> bool {
        match self.walker.try_lock() {
            Some(mut walker) => {
                walker.prepare(modules);
                true
            }
            None => false,
        }
    }

    /// Asks for the stack of the callback `seq`; returns the ticket to pass
    /// to [`collect`](WatchdogSlot::collect), or `None` while an earlier capture
    /// that the watchdog stopped waiting for is still under way. The caller
    /// then signals the loop thread.
    pub(crate) fn request(&self, seq: u64) -> Option<u64> {
        let ticket = self.ticket.load(Ordering::Acquire);
        // `Done`, `Stale` or `Skipped` here were left by a capture that
        // ended after the watchdog stopped waiting for it: it is over.
        if matches!(ticket & STATE_MASK, REQUESTED | WRITING) {
            return None;
        }
        let next = ((ticket >> STATE_BITS) + 1) << STATE_BITS;
        self.want_seq.store(seq, Ordering::Relaxed);
        self.len.store(0, Ordering::Relaxed);
        self.ticket.store(next | REQUESTED, Ordering::Release);
        Some(next | REQUESTED)
    }

    /// Withdraws request `ticket` if the signal action has not taken it.
    /// Returns false if it has (the capture is then under way).
    pub(crate) fn withdraw(&self, ticket: u64) -> bool {
        self.ticket
            .compare_exchange(ticket, idle(ticket), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Waits for the answer to request `ticket`: up to `deliver` for the
    /// signal action to take it, then up to `finish` more for it to finish.
    pub(crate) fn collect(&self, ticket: u64, deliver: Duration, finish: Duration) -> Captured {
        let started = Instant::now();
        let mut pause = Duration::from_micros(20);
        loop {
            let now = self.ticket.load(Ordering::Acquire);
            let waited = started.elapsed();
            match now & STATE_MASK {
                DONE => {
                    let len = self.len.load(Ordering::Relaxed).min(MAX_FRAMES);
                    let ips = self.ips[..len]
                        .iter()
                        .map(|ip| ip.load(Ordering::Relaxed))
                        .collect();
                    self.ticket.store(idle(ticket), Ordering::Release);
                    return Captured::Frames(ips);
                }
                STALE => {
                    self.ticket.store(idle(ticket), Ordering::Release);
                    return Captured::Stale;
                }
                SKIPPED => {
                    let why = Skipped::from_u8(self.skipped.load(Ordering::Relaxed));
                    self.ticket.store(idle(ticket), Ordering::Release);
                    return Captured::Skipped(why);
                }
                // If the withdrawal fails, the action took the request
                // meanwhile: wait for it to finish.
                REQUESTED if waited >= deliver && self.withdraw(ticket) => {
                    return Captured::NotDelivered;
                }
                WRITING if waited >= deliver + finish => return Captured::Unfinished,
                _ => {}
            }
            thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(2));
        }
    }

    // ----- the signal action (signal context: atomics only) ----------------

    /// Serves a capture request, if there is one for thread `tid` and its
    /// current callback: calls `walk` with the walk's tables, the loop
    /// thread's stack bounds and a recorder that stores each return
    /// address it is given and says whether to go on.
    ///
    /// Runs in signal context: no allocation, no waiting, no panic (no
    /// indexing that can fail), nothing but atomics, a lock it only tries
    /// (if the tables are in use, the capture is skipped) and `walk`.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))] // no capture elsewhere
    pub(crate) fn serve(
        &self,
        tid: i32,
        walk: impl FnOnce(
            &mut sys::Walker,
            Range<usize>,
            &mut dyn FnMut(usize) -> bool,
        ) -> Result<(), Skipped>,
    ) {
        let ticket = self.ticket.load(Ordering::Acquire);
        if ticket & STATE_MASK != REQUESTED || self.tid.load(Ordering::Relaxed) != tid {
            return;
        }
        let writing = (ticket & !STATE_MASK) | WRITING;
        if self
            .ticket
            .compare_exchange(ticket, writing, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return; // withdrawn, or taken by another delivery
        }
        let request = ticket & !STATE_MASK;
        if self.seq.load(Ordering::Relaxed) != self.want_seq.load(Ordering::Relaxed) {
            // The callback the request was for has returned.
            self.ticket.store(request | STALE, Ordering::Release);
            return;
        }
        let stack =
            self.stack_start.load(Ordering::Relaxed)..self.stack_end.load(Ordering::Relaxed);
        let walked = match self.walker.try_lock() {
            None => Err(Skipped::Busy),
            Some(_) if stack.is_empty() => Err(Skipped::NoStackBounds),
            Some(mut walker) => {
                let mut len = 0;
                let walked = walk(&mut walker, stack, &mut |ip| match self.ips.get(len) {
                    Some(cell) => {
                        cell.store(ip, Ordering::Relaxed);
                        len += 1;
                        len < MAX_FRAMES
                    }
                    None => false,
                });
                self.len.store(len, Ordering::Relaxed);
                walked
            }
        };
        match walked {
            Ok(()) => self.ticket.store(request | DONE, Ordering::Release),
            Err(why) => {
                self.skipped.store(why as u8, Ordering::Relaxed);
                self.ticket.store(request | SKIPPED, Ordering::Release);
            }
        }
    }
}

fn idle(ticket: u64) -> u64 {
    ticket & !STATE_MASK
}

// ----- CallbackKind as a tag (and a word for handlers) ---------------------

const TAG_OTHER: usize = 0;
const TAG_CALLBACK: usize = 1;
const TAG_TIMEOUT: usize = 2;
const TAG_HANDLER: usize = 3;
/// The words that tell the kinds under `TAG_OTHER` apart.
const WORD_TASK: u64 = 1;
const WORD_PERIODIC: u64 = 2;
const WORD_PREPARE: u64 = 3;
const WORD_CHECK: u64 = 4;
const WORD_IDLE: u64 = 5;

/// `kind` as a two-bit tag, stored with the site, and for a handler a word
/// holding its events (bits 0 to 31) and fd (bits 32 to 63).
///
/// A kind this function does not know (a variant added to `CallbackKind`
/// later) is published as `TAG_OTHER` and reported without its kind: add
/// an arm here and in [`decode`] for it.
#[inline(always)]
fn encode(kind: CallbackKind) -> (usize, u64) {
    #[allow(unreachable_patterns)] // `CallbackKind` grows new variants
    match kind {
        CallbackKind::Callback => (TAG_CALLBACK, 0),
        CallbackKind::Timeout => (TAG_TIMEOUT, 0),
        CallbackKind::Handler { fd, events } => (
            TAG_HANDLER,
            u64::from(events.bits()) | u64::from(fd as u32) << 32,
        ),
        // The rarer kinds share the "other" tag, told apart by the word.
        CallbackKind::Task => (TAG_OTHER, WORD_TASK),
        CallbackKind::Periodic => (TAG_OTHER, WORD_PERIODIC),
        CallbackKind::Hook(HookKind::Prepare) => (TAG_OTHER, WORD_PREPARE),
        CallbackKind::Hook(HookKind::Check) => (TAG_OTHER, WORD_CHECK),
        CallbackKind::Hook(HookKind::Idle) => (TAG_OTHER, WORD_IDLE),
        _ => (TAG_OTHER, 0),
    }
}

/// The inverse of [`encode`].
fn decode(tag: usize, handler: u64) -> Option<CallbackKind> {
    match tag {
        TAG_CALLBACK => Some(CallbackKind::Callback),
        TAG_TIMEOUT => Some(CallbackKind::Timeout),
        TAG_HANDLER => Some(CallbackKind::Handler {
            fd: (handler >> 32) as u32 as i32,
            events: Events::from_bits_truncate(handler as u32),
        }),
        TAG_OTHER => match handler {
            WORD_TASK => Some(CallbackKind::Task),
            WORD_PERIODIC => Some(CallbackKind::Periodic),
            WORD_PREPARE => Some(CallbackKind::Hook(HookKind::Prepare)),
            WORD_CHECK => Some(CallbackKind::Hook(HookKind::Check)),
            WORD_IDLE => Some(CallbackKind::Hook(HookKind::Idle)),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_one_word() {
        for kind in [
            CallbackKind::Callback,
            CallbackKind::Timeout,
            CallbackKind::Task,
            CallbackKind::Periodic,
            CallbackKind::Hook(HookKind::Prepare),
            CallbackKind::Hook(HookKind::Check),
            CallbackKind::Hook(HookKind::Idle),
            CallbackKind::Handler {
                fd: 7,
                events: Events::READ | Events::ERROR,
            },
            CallbackKind::Handler {
                fd: i32::MAX,
                events: Events::WRITE,
            },
        ] {
            let (tag, word) = encode(kind);
            assert_eq!(decode(tag, word), Some(kind));
        }
        assert_eq!(decode(TAG_OTHER, 0), None);
    }

    #[test]
    fn begin_and_end_publish_what_runs() {
        let slot = WatchdogSlot::new();
        assert!(slot.running().is_none());
        let site = Location::caller();
        slot.begin(CallbackKind::Timeout, site);
        let running = slot.running().expect("a callback runs");
        assert_eq!(running.seq, slot.seq());
        assert_eq!(running.kind, Some(CallbackKind::Timeout));
        assert!(std::ptr::eq(running.site, site));
        // The next callback: a new sequence number.
        slot.begin(CallbackKind::Callback, site);
        let next = slot.running().expect("a callback runs");
        assert!(next.seq > running.seq);
        assert_eq!(next.kind, Some(CallbackKind::Callback));
        slot.idle();
        assert!(slot.running().is_none());
        slot.idle();
        slot.begin(CallbackKind::Callback, site);
        assert!(slot.running().unwrap().seq > next.seq, "never reused");
    }

    /// A slot for thread 42 with a callback running, and stack bounds.
    fn running_slot() -> (WatchdogSlot, u64) {
        let slot = WatchdogSlot::new();
        slot.set_tid(42);
        slot.set_stack(Some(0x1000..0x2000));
        slot.begin(CallbackKind::Callback, Location::caller());
        let seq = slot.seq();
        (slot, seq)
    }

    const LONG: Duration = Duration::from_secs(5);

    #[test]
    fn a_request_is_served_only_for_its_thread_and_callback() {
        let (slot, token) = running_slot();

        // Another thread: ignored, and the request can be withdrawn.
        let ticket = slot.request(token).unwrap();
        slot.serve(7, |_, _, _| unreachable!("not this thread"));
        assert!(slot.withdraw(ticket));

        // The right thread and callback: the frames are recorded.
        let ticket = slot.request(token).unwrap();
        slot.serve(42, |_, stack, record| {
            assert_eq!(stack, 0x1000..0x2000);
            for ip in [10, 20, 30] {
                assert!(record(ip));
            }
            Ok(())
        });
        match slot.collect(ticket, LONG, LONG) {
            Captured::Frames(ips) => assert_eq!(ips, [10, 20, 30]),
            other => panic!("{other:?}"),
        }

        // The callback returned before the signal arrived: stale.
        let ticket = slot.request(token).unwrap();
        slot.idle();
        slot.serve(42, |_, _, _| unreachable!("stale"));
        assert!(matches!(slot.collect(ticket, LONG, LONG), Captured::Stale));
    }

    #[test]
    fn a_skipped_walk_says_why() {
        let (slot, token) = running_slot();
        let ticket = slot.request(token).unwrap();
        slot.serve(42, |_, _, _| Err(Skipped::OtherStack));
        match slot.collect(ticket, LONG, LONG) {
            Captured::Skipped(why) => assert_eq!(why, Skipped::OtherStack),
            other => panic!("{other:?}"),
        }
        // Without stack bounds, the walk is not even tried.
        slot.set_stack(None);
        let ticket = slot.request(token).unwrap();
        slot.serve(42, |_, _, _| unreachable!("no bounds"));
        match slot.collect(ticket, LONG, LONG) {
            Captured::Skipped(why) => assert_eq!(why, Skipped::NoStackBounds),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_capture_stops_at_max_frames() {
        let (slot, token) = running_slot();
        let ticket = slot.request(token).unwrap();
        let mut offered = 0;
        slot.serve(42, |_, _, record| {
            while record(offered) {
                offered += 1;
            }
            Ok(())
        });
        assert_eq!(offered + 1, MAX_FRAMES);
        match slot.collect(ticket, LONG, LONG) {
            Captured::Frames(ips) => assert_eq!(ips.len(), MAX_FRAMES),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_undelivered_request_is_withdrawn_and_a_late_signal_ignored() {
        let (slot, token) = running_slot();
        let ticket = slot.request(token).unwrap();
        let short = Duration::from_millis(1);
        assert!(matches!(
            slot.collect(ticket, short, short),
            Captured::NotDelivered
        ));
        slot.serve(42, |_, _, _| unreachable!("withdrawn"));
        // The slot takes the next request.
        assert!(slot.request(token).is_some());
    }

    #[test]
    fn an_unfinished_capture_holds_the_slot_only_until_it_finishes() {
        use std::sync::mpsc;

        let (slot, token) = running_slot();
        let slot = Arc::new(slot);
        let ticket = slot.request(token).unwrap();
        // An action that takes the request, then is held up (as a loop
        // thread descheduled in the middle of its signal handler).
        let (go_on, wait) = mpsc::channel::<()>();
        let (taken, is_taken) = mpsc::channel::<()>();
        let action = {
            let slot = slot.clone();
            std::thread::spawn(move || {
                slot.serve(42, |_, _, record| {
                    taken.send(()).unwrap();
                    wait.recv_timeout(LONG).expect("released");
                    record(99);
                    Ok(())
                })
            })
        };
        is_taken
            .recv_timeout(LONG)
            .expect("the action took the request");
        let short = Duration::from_millis(1);
        assert!(matches!(
            slot.collect(ticket, short, short),
            Captured::Unfinished
        ));
        // While it runs, the slot and its tables are its own.
        assert!(slot.request(token).is_none(), "still under way");
        go_on.send(()).unwrap();
        action.join().unwrap();
        // Once it has finished, captures go on.
        let ticket = slot.request(token).expect("the slot takes requests again");
        slot.serve(42, |_, _, record| {
            record(7);
            Ok(())
        });
        match slot.collect(ticket, LONG, LONG) {
            Captured::Frames(ips) => assert_eq!(ips, [7]),
            other => panic!("{other:?}"),
        }
    }
}
