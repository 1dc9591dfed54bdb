//! The timeout store: a slab of entries indexed by a 4-ary min-heap.
//!
//! * The heap holds 16-byte entries `(deadline_ns, seq, slot)`; the four
//!   children of a node are contiguous, so a sift touches few cache lines and
//!   a million timeouts are ten levels deep (twenty for a binary heap).
//! * The slab holds the values and, for each slot, its position in the heap,
//!   so [`TimerHeap::remove`] is a true `O(log n)` delete: memory never holds
//!   tombstones of cancelled timeouts (the lazy deletion of Tornado, asyncio
//!   and calloop leaks them under cancel-heavy load).
//! * Keys are `(slot, generation)`: removing a key whose timeout already ran or
//!   was removed is an `O(1)` no-op, even after the slot is reused.
//! * Equal deadlines keep insertion order through `seq`, a wrapping counter
//!   compared with wrapping arithmetic (valid while two live timeouts with the
//!   same deadline were added fewer than 2^31 insertions apart).
//!
//! New timeouts wait in a **staging area** (a plain vector) until the loop
//! next reads the heap (to collect due timeouts, or to compute its poll
//! timeout): a timeout added and removed before then (an idle timeout armed
//! and cancelled within one iteration, the common server pattern) costs a
//! push and a `swap_remove`, never a sift. The survivors then join the heap
//! one `sift_up` each, or, when they are many compared with the heap, all at
//! once by Floyd's `O(n)` heapify. Since the loop reads the heap at the
//! start of an iteration, a timeout added during an iteration still waits
//! for the next one, as in Tornado.
//!
//! Firing is two-step, so a timeout removed by an earlier callback of the same
//! iteration never runs, as in Tornado: [`TimerHeap::pop_due`] moves every
//! due entry out of the heap into the caller's list, leaving its value in the
//! slab; [`TimerHeap::take_due`] then takes each value just before it runs.
//!
//! Each timeout also carries a reference flag (libuv's `uv_ref`/`uv_unref`):
//! an unreferenced timeout still fires, but does not keep `IOLoop::run`
//! going. The heap counts the unreferenced ones, so "is any timeout
//! referenced?" is `O(1)`. [`TimerHeap::shift`] moves every pending deadline
//! by the same amount (`IOLoop::resume`), which keeps the heap order.

use std::cmp::Ordering;

/// A handle to one timeout in a [`TimerHeap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TimerKey {
    slot: u32,
    generation: u32,
}

impl TimerKey {
    /// A key that names no timeout in any heap that has not used 2^32 slots.
    pub(crate) const INERT: TimerKey = TimerKey {
        slot: u32::MAX,
        generation: u32::MAX,
    };
}

#[derive(Clone, Copy)]
struct HeapEntry {
    deadline: u64,
    seq: u32,
    slot: u32,
}

impl HeapEntry {
    /// Earlier deadline first; equal deadlines in insertion order.
    #[inline]
    fn before(&self, other: &HeapEntry) -> bool {
        match self.deadline.cmp(&other.deadline) {
            Ordering::Less => true,
            Ordering::Greater => false,
            Ordering::Equal => (self.seq.wrapping_sub(other.seq) as i32) < 0,
        }
    }
}

/// Where a slot's value is. Kept packed in a `u32` ([`Place::pack`]) in a
/// dense array of its own, since every heap move updates one: a sift then
/// writes to a 4-byte entry, not to the slot with the value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Place {
    /// At this index of the heap.
    Heap(u32),
    /// At this index of the staging area.
    Staged(u32),
    /// Popped by `pop_due`, waiting for `take_due`.
    Due,
    /// Unused; the next free slot in the free list (or `u32::MAX`).
    Free(u32),
}

impl Place {
    const TAG_SHIFT: u32 = 30;
    const VALUE: u32 = (1 << Self::TAG_SHIFT) - 1;

    #[inline]
    fn pack(self) -> u32 {
        let (tag, value) = match self {
            Place::Heap(i) => (0, i),
            Place::Staged(i) => (1, i),
            Place::Due => (2, 0),
            Place::Free(next) => (3, next & Self::VALUE),
        };
        debug_assert!(value <= Self::VALUE);
        tag << Self::TAG_SHIFT | value
    }

    #[inline]
    fn unpack(packed: u32) -> Place {
        let value = packed & Self::VALUE;
        match packed >> Self::TAG_SHIFT {
            0 => Place::Heap(value),
            1 => Place::Staged(value),
            2 => Place::Due,
            _ if value == Self::VALUE => Place::Free(NO_SLOT),
            _ => Place::Free(value),
        }
    }
}

struct TimerSlot<T> {
    generation: u32,
    value: Option<T>,
    /// False for a timeout that does not keep `IOLoop::run` going; reset to
    /// true when the slot is freed.
    referenced: bool,
}

const NO_SLOT: u32 = u32::MAX;
const ARITY: usize = 4;

/// A slab-backed 4-ary min-heap of timeouts. See the module docs.
pub(crate) struct TimerHeap<T> {
    /// INVARIANT: a valid 4-ary min-heap under `HeapEntry::before`, and for
    /// every index `i`, `slots[heap[i].slot].place == Place::Heap(i)`.
    heap: Vec<HeapEntry>,
    /// Each slot's [`Place`], packed; parallel to `slots`.
    places: Vec<u32>,
    /// Timeouts added since the heap was last read, in no order.
    /// INVARIANT: for every index `i`,
    /// `slots[stage[i].slot].place == Place::Staged(i)`.
    stage: Vec<HeapEntry>,
    slots: Vec<TimerSlot<T>>,
    /// Head of the free list threaded through `Place::Free`.
    free: u32,
    next_seq: u32,
    /// Values in the heap or due (not yet taken).
    live: usize,
    /// INVARIANT: the number of live slots with `referenced == false`.
    unreferenced: usize,
}

impl<T> Default for TimerHeap<T> {
    fn default() -> Self {
        TimerHeap {
            heap: Vec::new(),
            places: Vec::new(),
            stage: Vec::new(),
            slots: Vec::new(),
            free: NO_SLOT,
            next_seq: 0,
            live: 0,
            unreferenced: 0,
        }
    }
}

impl<T> TimerHeap<T> {
    /// Number of timeouts not yet run or removed (including popped-but-not-taken).
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Number of timeouts waiting (in the heap or staged).
    pub(crate) fn pending(&self) -> usize {
        self.heap.len() + self.stage.len()
    }

    /// The earliest deadline.
    #[inline]
    pub(crate) fn next_deadline(&mut self) -> Option<u64> {
        self.flush_stage();
        self.heap.first().map(|e| e.deadline)
    }

    /// Adds a timeout to the staging area; `O(1)`.
    pub(crate) fn insert(&mut self, deadline: u64, value: T) -> TimerKey {
        let slot = if self.free != NO_SLOT {
            let slot = self.free;
            let Place::Free(next) = Place::unpack(self.places[slot as usize]) else {
                unreachable!("free list points at a used slot")
            };
            self.free = next;
            self.slots[slot as usize].value = Some(value);
            slot
        } else {
            let slot = u32::try_from(self.slots.len()).expect("more than 2^32 timeouts");
            assert!(slot < Place::VALUE, "more than 2^30 timeouts");
            self.slots.push(TimerSlot {
                generation: 0,
                value: Some(value),
                referenced: true,
            });
            self.places.push(Place::Due.pack());
            slot
        };
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let index = self.stage.len();
        self.stage.push(HeapEntry {
            deadline,
            seq,
            slot,
        });
        self.places[slot as usize] = Place::Staged(index as u32).pack();
        self.live += 1;
        TimerKey {
            slot,
            generation: self.slots[slot as usize].generation,
        }
    }

    /// Removes a timeout that has neither run nor been removed, returning its
    /// value; `None` (and nothing changes) for any other key. `O(1)` for a
    /// staged timeout, `O(log n)` in the heap.
    pub(crate) fn remove(&mut self, key: TimerKey) -> Option<T> {
        let s = self.slots.get(key.slot as usize)?;
        if s.generation != key.generation {
            return None;
        }
        match Place::unpack(self.places[key.slot as usize]) {
            Place::Heap(index) => {
                self.remove_at(index as usize);
                Some(self.free_slot(key.slot))
            }
            Place::Staged(index) => {
                let index = index as usize;
                self.stage.swap_remove(index);
                if let Some(moved) = self.stage.get(index) {
                    self.places[moved.slot as usize] = Place::Staged(index as u32).pack();
                }
                Some(self.free_slot(key.slot))
            }
            Place::Due => Some(self.free_slot(key.slot)),
            Place::Free(_) => None,
        }
    }

    /// Moves the staged timeouts into the heap: one `sift_up` each, or, when
    /// they are many compared with the heap, Floyd's `O(n)` heapify of the
    /// whole.
    fn flush_stage(&mut self) {
        if self.stage.is_empty() {
            return;
        }
        let base = self.heap.len();
        if self.stage.len() >= base / 2 {
            self.heap.append(&mut self.stage);
            for (index, entry) in self.heap.iter().enumerate().skip(base) {
                self.places[entry.slot as usize] = Place::Heap(index as u32).pack();
            }
            if self.heap.len() > 1 {
                let last_parent = (self.heap.len() - 2) / ARITY;
                for index in (0..=last_parent).rev() {
                    self.sift_down(index);
                }
            }
        } else {
            for entry in std::mem::take(&mut self.stage) {
                let index = self.heap.len();
                self.heap.push(entry);
                self.sift_up(index);
            }
        }
    }

    /// Moves every timeout with `deadline <= now` out of the heap into `due`,
    /// in (deadline, insertion) order. Their values stay until `take_due`.
    pub(crate) fn pop_due(&mut self, now: u64, due: &mut Vec<TimerKey>) {
        self.flush_stage();
        while let Some(top) = self.heap.first() {
            if top.deadline > now {
                break;
            }
            let slot = top.slot;
            self.pop_root();
            self.places[slot as usize] = Place::Due.pack();
            due.push(TimerKey {
                slot,
                generation: self.slots[slot as usize].generation,
            });
        }
    }

    /// Takes the value of a timeout popped by `pop_due`, unless it was removed
    /// since.
    pub(crate) fn take_due(&mut self, key: TimerKey) -> Option<T> {
        let s = self.slots.get(key.slot as usize)?;
        if s.generation != key.generation
            || Place::unpack(self.places[key.slot as usize]) != Place::Due
        {
            return None;
        }
        Some(self.free_slot(key.slot))
    }

    /// True if `key` names a timeout that has neither run nor been removed.
    pub(crate) fn contains(&self, key: TimerKey) -> bool {
        self.slots.get(key.slot as usize).is_some_and(|s| {
            s.generation == key.generation
                && !matches!(
                    Place::unpack(self.places[key.slot as usize]),
                    Place::Free(_)
                )
        })
    }

    /// The deadline of a timeout still waiting (in the heap or staged).
    #[cfg(test)]
    pub(crate) fn deadline(&self, key: TimerKey) -> Option<u64> {
        let s = self.slots.get(key.slot as usize)?;
        match Place::unpack(self.places[key.slot as usize]) {
            Place::Heap(index) if s.generation == key.generation => {
                Some(self.heap[index as usize].deadline)
            }
            Place::Staged(index) if s.generation == key.generation => {
                Some(self.stage[index as usize].deadline)
            }
            _ => None,
        }
    }

    /// Marks a live timeout as keeping the loop alive or not (idempotent).
    /// Returns false, changing nothing, for a key that names no live timeout.
    pub(crate) fn set_referenced(&mut self, key: TimerKey, referenced: bool) -> bool {
        if !self.contains(key) {
            return false;
        }
        let s = &mut self.slots[key.slot as usize];
        if s.referenced != referenced {
            s.referenced = referenced;
            if referenced {
                self.unreferenced -= 1;
            } else {
                self.unreferenced += 1;
            }
        }
        true
    }

    /// Number of live timeouts that keep the loop alive.
    #[inline]
    pub(crate) fn referenced(&self) -> usize {
        self.live - self.unreferenced
    }

    /// Moves every deadline still in the heap `delta` nanoseconds later
    /// (saturating). `O(n)`; adding a constant keeps the order, except where
    /// deadlines saturate at `u64::MAX`, after which the heap is rebuilt.
    /// Timeouts already popped by `pop_due` are not moved.
    pub(crate) fn shift(&mut self, delta: u64) {
        self.flush_stage();
        let mut saturated = false;
        for entry in &mut self.heap {
            let (deadline, overflow) = entry.deadline.overflowing_add(delta);
            entry.deadline = if overflow { u64::MAX } else { deadline };
            saturated |= overflow;
        }
        if saturated {
            for index in (0..self.heap.len()).rev() {
                self.sift_down(index);
            }
        }
    }

    /// Removes everything, returning the values (so the caller can drop them
    /// outside any borrow).
    pub(crate) fn drain(&mut self) -> Vec<T> {
        let values = self
            .slots
            .iter_mut()
            .filter_map(|s| s.value.take())
            .collect();
        *self = TimerHeap {
            next_seq: self.next_seq,
            ..TimerHeap::default()
        };
        values
    }

    fn free_slot(&mut self, slot: u32) -> T {
        let s = &mut self.slots[slot as usize];
        if !s.referenced {
            s.referenced = true;
            self.unreferenced -= 1;
        }
        s.generation = s.generation.wrapping_add(1);
        self.places[slot as usize] = Place::Free(self.free).pack();
        self.free = slot;
        self.live -= 1;
        s.value.take().expect("live slot without a value")
    }

    /// Removes the heap entry at `index`, restoring the heap property.
    fn remove_at(&mut self, index: usize) {
        let last = self.heap.pop().expect("remove_at on an empty heap");
        if index == self.heap.len() {
            return;
        }
        self.heap[index] = last;
        self.places[last.slot as usize] = Place::Heap(index as u32).pack();
        if index > 0 && last.before(&self.heap[(index - 1) / ARITY]) {
            self.sift_up(index);
        } else {
            self.sift_down(index);
        }
    }

    fn sift_up(&mut self, mut index: usize) {
        let entry = self.heap[index];
        while index > 0 {
            let parent = (index - 1) / ARITY;
            let p = self.heap[parent];
            if !entry.before(&p) {
                break;
            }
            self.heap[index] = p;
            self.places[p.slot as usize] = Place::Heap(index as u32).pack();
            index = parent;
        }
        self.heap[index] = entry;
        self.places[entry.slot as usize] = Place::Heap(index as u32).pack();
    }

    /// The index of the earliest of the children starting at `first`.
    #[inline]
    fn min_child(&self, first: usize) -> usize {
        let last = (first + ARITY).min(self.heap.len());
        let children = &self.heap[first..last];
        let mut best = 0;
        for (i, child) in children.iter().enumerate().skip(1) {
            if child.before(&children[best]) {
                best = i;
            }
        }
        first + best
    }

    fn sift_down(&mut self, mut index: usize) {
        let len = self.heap.len();
        let entry = self.heap[index];
        loop {
            let first = index * ARITY + 1;
            if first >= len {
                break;
            }
            let best = self.min_child(first);
            let b = self.heap[best];
            if !b.before(&entry) {
                break;
            }
            self.heap[index] = b;
            self.places[b.slot as usize] = Place::Heap(index as u32).pack();
            index = best;
        }
        self.heap[index] = entry;
        self.places[entry.slot as usize] = Place::Heap(index as u32).pack();
    }

    /// Removes the root. The hole it leaves sinks to a leaf along the
    /// earliest children (no comparison with the last entry on the way, which
    /// usually belongs near the bottom), then the last entry fills it and
    /// rises as far as it must: fewer comparisons than a plain `sift_down`.
    fn pop_root(&mut self) {
        let last = self.heap.pop().expect("pop_root on an empty heap");
        let len = self.heap.len();
        if len == 0 {
            return;
        }
        let mut hole = 0;
        loop {
            let first = hole * ARITY + 1;
            if first >= len {
                break;
            }
            let best = self.min_child(first);
            let b = self.heap[best];
            self.heap[hole] = b;
            self.places[b.slot as usize] = Place::Heap(hole as u32).pack();
            hole = best;
        }
        self.heap[hole] = last;
        self.places[last.slot as usize] = Place::Heap(hole as u32).pack();
        self.sift_up(hole);
    }

    #[cfg(test)]
    fn check_invariants(&self) {
        for (i, e) in self.stage.iter().enumerate() {
            assert_eq!(
                Place::unpack(self.places[e.slot as usize]),
                Place::Staged(i as u32)
            );
        }
        for (i, e) in self.heap.iter().enumerate() {
            assert_eq!(
                Place::unpack(self.places[e.slot as usize]),
                Place::Heap(i as u32)
            );
            if i > 0 {
                assert!(!e.before(&self.heap[(i - 1) / ARITY]), "heap order at {i}");
            }
        }
        let live = self.slots.iter().filter(|s| s.value.is_some()).count();
        assert_eq!(live, self.live);
        let unreferenced = self
            .slots
            .iter()
            .filter(|s| s.value.is_some() && !s.referenced)
            .count();
        assert_eq!(unreferenced, self.unreferenced);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic generator, so failures reproduce.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// The naive oracle: a list kept sorted by (deadline, insertion number).
    #[derive(Default)]
    struct Oracle {
        entries: Vec<(u64, u64, u32)>, // deadline, order, value
        order: u64,
    }

    impl Oracle {
        fn insert(&mut self, deadline: u64, value: u32) {
            self.entries.push((deadline, self.order, value));
            self.order += 1;
            self.entries.sort();
        }
        fn remove(&mut self, value: u32) -> Option<u32> {
            let i = self.entries.iter().position(|e| e.2 == value)?;
            Some(self.entries.remove(i).2)
        }
        fn pop_due(&mut self, now: u64) -> Vec<u32> {
            let n = self.entries.iter().take_while(|e| e.0 <= now).count();
            self.entries.drain(..n).map(|e| e.2).collect()
        }
    }

    #[test]
    fn equal_deadlines_fire_in_insertion_order() {
        let mut heap = TimerHeap::default();
        for v in 0..100u32 {
            heap.insert(5, v);
        }
        let mut due = Vec::new();
        heap.pop_due(5, &mut due);
        let got: Vec<u32> = due.iter().map(|&k| heap.take_due(k).unwrap()).collect();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
        assert_eq!(heap.len(), 0);
    }

    #[test]
    fn remove_is_a_no_op_for_stale_keys() {
        let mut heap = TimerHeap::default();
        let a = heap.insert(10, "a");
        assert_eq!(heap.remove(a), Some("a"));
        assert_eq!(heap.remove(a), None);
        // The slot is reused with a new generation: the old key stays dead.
        let b = heap.insert(10, "b");
        assert_eq!(heap.remove(a), None);
        let mut due = Vec::new();
        heap.pop_due(10, &mut due);
        assert_eq!(due, vec![b]);
        assert_eq!(heap.take_due(b), Some("b"));
        assert_eq!(heap.remove(b), None, "removing a fired timeout is a no-op");
        assert_eq!(heap.take_due(b), None);
    }

    #[test]
    fn removed_while_due_is_not_taken() {
        let mut heap = TimerHeap::default();
        let a = heap.insert(1, 'a');
        let b = heap.insert(2, 'b');
        let mut due = Vec::new();
        heap.pop_due(2, &mut due);
        assert_eq!(due, vec![a, b]);
        assert_eq!(heap.remove(b), Some('b'));
        assert_eq!(heap.take_due(a), Some('a'));
        assert_eq!(heap.take_due(b), None);
        assert_eq!(heap.len(), 0);
    }

    #[test]
    fn memory_holds_no_tombstones() {
        let mut heap = TimerHeap::default();
        let keys: Vec<_> = (0..10_000u32)
            .map(|v| heap.insert(u64::from(v), v))
            .collect();
        for k in keys {
            heap.remove(k);
        }
        assert_eq!(heap.pending(), 0);
        assert_eq!(heap.len(), 0);
        // Slots are reused rather than grown.
        for v in 0..10_000u32 {
            heap.insert(1, v);
        }
        assert_eq!(heap.slots.len(), 10_000);
    }

    #[test]
    fn seq_wraps_without_breaking_order() {
        let mut heap = TimerHeap {
            next_seq: u32::MAX - 2,
            ..TimerHeap::default()
        };
        for v in 0..6u32 {
            heap.insert(7, v);
        }
        let mut due = Vec::new();
        heap.pop_due(7, &mut due);
        let got: Vec<u32> = due.iter().map(|&k| heap.take_due(k).unwrap()).collect();
        assert_eq!(got, vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn matches_sorted_list_oracle_on_random_operations() {
        for seed in 1..=40u64 {
            let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut heap = TimerHeap::default();
            let mut oracle = Oracle::default();
            let mut keys: Vec<(TimerKey, u32)> = Vec::new();
            let mut next_value = 0u32;
            let mut now = 0u64;
            for _ in 0..3_000 {
                match rng.next() % 10 {
                    0..=4 => {
                        // Small deadline range so equal deadlines are common.
                        let deadline = now + rng.next() % 64;
                        let key = heap.insert(deadline, next_value);
                        oracle.insert(deadline, next_value);
                        keys.push((key, next_value));
                        next_value += 1;
                    }
                    5..=7 if !keys.is_empty() => {
                        let i = (rng.next() % keys.len() as u64) as usize;
                        let (key, value) = keys.swap_remove(i);
                        assert_eq!(heap.remove(key), oracle.remove(value));
                    }
                    _ => {
                        now += rng.next() % 16;
                        let mut due = Vec::new();
                        heap.pop_due(now, &mut due);
                        let got: Vec<u32> = due.iter().filter_map(|&k| heap.take_due(k)).collect();
                        assert_eq!(got, oracle.pop_due(now), "seed {seed}");
                        keys.retain(|(_, v)| !got.contains(v));
                    }
                }
                heap.check_invariants();
                assert_eq!(heap.len(), oracle.entries.len());
                // Reading the next deadline flushes the staging area: do it
                // only now and then, so batches of every size get staged.
                if rng.next().is_multiple_of(8) {
                    assert_eq!(heap.next_deadline(), oracle.entries.first().map(|e| e.0));
                }
            }
        }
    }

    #[test]
    fn places_pack_into_one_word_and_back() {
        for place in [
            Place::Heap(0),
            Place::Heap(Place::VALUE - 1),
            Place::Staged(7),
            Place::Due,
            Place::Free(3),
            Place::Free(NO_SLOT),
        ] {
            assert_eq!(Place::unpack(place.pack()), place);
        }
    }

    #[test]
    fn staged_timeouts_removed_before_a_read_never_reach_the_heap() {
        let mut heap = TimerHeap::default();
        let keys: Vec<_> = (0..1_000u32)
            .map(|v| heap.insert(u64::from(v), v))
            .collect();
        assert_eq!((heap.heap.len(), heap.stage.len()), (0, 1_000));
        for k in keys.iter().skip(1).step_by(2) {
            assert!(heap.remove(*k).is_some());
        }
        heap.check_invariants();
        assert_eq!((heap.heap.len(), heap.stage.len()), (0, 500));
        // The survivors join the heap (all at once: Floyd) in order.
        assert_eq!(heap.next_deadline(), Some(0));
        assert_eq!((heap.heap.len(), heap.stage.len()), (500, 0));
        heap.check_invariants();
        let mut due = Vec::new();
        heap.pop_due(u64::MAX, &mut due);
        let got: Vec<u32> = due.iter().filter_map(|&k| heap.take_due(k)).collect();
        assert_eq!(got, (0..1_000).step_by(2).collect::<Vec<_>>());
    }

    #[test]
    fn a_few_staged_timeouts_join_a_large_heap_by_sift_up() {
        let mut heap = TimerHeap::default();
        for v in 0..1_000u32 {
            heap.insert(u64::from(v) * 10, v);
        }
        heap.next_deadline(); // the heap holds 1,000
        // Equal deadlines across the heap and the stage keep insertion order.
        let late: Vec<_> = (1_000..1_010u32).map(|v| heap.insert(500, v)).collect();
        assert_eq!(heap.stage.len(), 10);
        assert_eq!(heap.deadline(late[3]), Some(500));
        heap.check_invariants();
        let mut due = Vec::new();
        heap.pop_due(500, &mut due);
        heap.check_invariants();
        let got: Vec<u32> = due.iter().filter_map(|&k| heap.take_due(k)).collect();
        let mut want: Vec<u32> = (0..=50).collect();
        want.extend(1_000..1_010);
        assert_eq!(got, want);
    }

    #[test]
    fn drain_returns_every_value() {
        let mut heap = TimerHeap::default();
        let a = heap.insert(1, 1);
        heap.insert(2, 2);
        heap.insert(3, 3);
        let mut due = Vec::new();
        heap.pop_due(1, &mut due);
        assert_eq!(due, vec![a]);
        let mut values = heap.drain();
        values.sort();
        assert_eq!(values, vec![1, 2, 3]);
        assert_eq!(heap.len(), 0);
        assert_eq!(heap.take_due(a), None);
    }

    #[test]
    fn unreferenced_timeouts_are_counted_until_they_leave() {
        let mut heap = TimerHeap::default();
        let a = heap.insert(1, 'a');
        let b = heap.insert(2, 'b');
        assert_eq!(heap.referenced(), 2);
        assert!(heap.set_referenced(a, false));
        assert!(heap.set_referenced(a, false), "idempotent");
        assert_eq!(heap.referenced(), 1);
        heap.check_invariants();
        // Leaving by removal, by firing, or by drain resets the count.
        assert_eq!(heap.remove(a), Some('a'));
        assert_eq!(heap.referenced(), 1);
        assert!(!heap.set_referenced(a, true), "a stale key changes nothing");
        assert!(heap.set_referenced(b, false));
        let mut due = Vec::new();
        heap.pop_due(2, &mut due);
        assert_eq!(heap.referenced(), 0, "popped but not taken is still live");
        assert_eq!(heap.take_due(b), Some('b'));
        assert_eq!(heap.referenced(), 0);
        heap.check_invariants();
        let c = heap.insert(3, 'c');
        heap.set_referenced(c, false);
        heap.drain();
        assert_eq!(heap.referenced(), 0);
        heap.insert(4, 'd');
        assert_eq!(heap.referenced(), 1, "a reused slot starts referenced");
        heap.check_invariants();
    }

    #[test]
    fn shift_moves_pending_deadlines_and_keeps_order() {
        let mut heap = TimerHeap::default();
        let keys: Vec<_> = (0..50u64).map(|v| heap.insert(v * 7 % 31, v)).collect();
        heap.shift(1_000);
        heap.check_invariants();
        for (v, key) in keys.iter().enumerate() {
            assert_eq!(heap.deadline(*key), Some(v as u64 * 7 % 31 + 1_000));
        }
        let mut due = Vec::new();
        heap.pop_due(999, &mut due);
        assert!(
            due.is_empty(),
            "nothing is due before the shifted deadlines"
        );
        heap.pop_due(1_030, &mut due);
        assert_eq!(due.len(), 50);
    }

    #[test]
    fn a_stale_key_names_nothing_once_its_slot_is_reused() {
        let mut heap = TimerHeap::default();
        // Removed, and fired: either way the slot goes back to the free list.
        let removed = heap.insert(10, "removed");
        assert_eq!(heap.remove(removed), Some("removed"));
        let live = heap.insert(20, "live");
        assert_eq!(live.slot, removed.slot, "the slot is reused");
        assert!(heap.contains(live));
        assert!(!heap.contains(removed));
        assert!(
            !heap.set_referenced(removed, false),
            "a stale key flips nothing"
        );
        assert_eq!(heap.referenced(), 1);
        assert_eq!(heap.deadline(removed), None);
        assert_eq!(heap.remove(removed), None);
        let mut due = Vec::new();
        heap.pop_due(20, &mut due);
        assert_eq!(due, vec![live]);
        assert_eq!(heap.take_due(removed), None, "nor takes another's value");
        assert_eq!(heap.take_due(live), Some("live"));
        let later = heap.insert(30, "later");
        assert_eq!(later.slot, live.slot);
        assert!(!heap.contains(live), "a fired key is stale too");
        assert!(!heap.set_referenced(live, false));
        assert_eq!(heap.referenced(), 1);
        heap.check_invariants();
    }

    #[test]
    fn a_saturating_shift_restores_insertion_order_among_saturated_deadlines() {
        let mut heap = TimerHeap::default();
        // `late` is the root (earlier deadline) until both saturate; then
        // they tie at u64::MAX and `early`, inserted first, must come first.
        let early = heap.insert(u64::MAX - 1, "early");
        let late = heap.insert(u64::MAX - 5, "late");
        heap.next_deadline(); // into the heap, `late` at the root
        heap.shift(10);
        heap.check_invariants();
        let mut due = Vec::new();
        heap.pop_due(u64::MAX, &mut due);
        assert_eq!(due, vec![early, late]);
    }

    #[test]
    fn shift_that_saturates_rebuilds_the_heap() {
        let mut heap = TimerHeap::default();
        // Far deadlines saturate and then tie; ties go in insertion order.
        let far = heap.insert(u64::MAX - 5, "far");
        let near = heap.insert(10, "near");
        let farther = heap.insert(u64::MAX - 1, "farther");
        heap.shift(u64::MAX - 20);
        heap.check_invariants();
        assert_eq!(heap.deadline(near), Some(u64::MAX - 10));
        assert_eq!(heap.deadline(far), Some(u64::MAX));
        assert_eq!(heap.deadline(farther), Some(u64::MAX));
        let mut due = Vec::new();
        heap.pop_due(u64::MAX, &mut due);
        assert_eq!(due, vec![near, far, farther]);
    }
}
