//! The byte buffers behind [`IOStream`](crate::IOStream): one for reads,
//! one for writes, each reused for the stream's life, and the pools that
//! keep emptied buffers for the next stream to need one.

use std::cell::RefCell;

/// The first allocation of a read buffer. Small, so ten thousand idle
/// connections cost little; it grows (doubling) only while a read waits
/// for more data than fits.
pub(crate) const INITIAL_READ_CAPACITY: usize = 4096;

/// An emptied buffer larger than this is freed, so one large message does
/// not pin its memory for the connection's life.
pub(crate) const SHRINK_ABOVE: usize = 64 * 1024;

/// How many emptied buffers of each kind a thread keeps for the next stream
/// to need one. A connection that goes idle between requests gives its
/// buffers back, so idle connections hold none; taking one again costs
/// neither an allocation nor zeroing. Bounded, so a burst of connections
/// going idle at once leaves at most this many behind.
const POOLED_MAX: usize = 64;

/// The largest output buffer worth keeping in the pool.
const POOLED_OUTPUT_MAX: usize = 16 * 1024;

thread_local! {
    /// Read buffers of exactly `INITIAL_READ_CAPACITY` initialised bytes.
    static READ_POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    /// Empty buffers with room for at least `INITIAL_READ_CAPACITY` bytes.
    static OUTPUT_POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// Keeps `buf` in `pool` if there is room.
fn give(pool: &'static std::thread::LocalKey<RefCell<Vec<Vec<u8>>>>, buf: Vec<u8>) {
    // A thread being torn down has no pool any more: the buffer is freed.
    let _ = pool.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < POOLED_MAX {
            pool.push(buf);
        }
    });
}

fn take(pool: &'static std::thread::LocalKey<RefCell<Vec<Vec<u8>>>>) -> Option<Vec<u8>> {
    pool.try_with(|pool| pool.borrow_mut().pop()).ok().flatten()
}

/// An empty buffer to render output into: one from the thread's pool, or a
/// new one with room for `INITIAL_READ_CAPACITY` bytes.
pub(crate) fn take_output_buffer() -> Vec<u8> {
    take(&OUTPUT_POOL).unwrap_or_else(|| Vec::with_capacity(INITIAL_READ_CAPACITY))
}

/// Gives an output buffer back (emptied) for [`take_output_buffer`]; one
/// too small or too large to be worth keeping is freed.
pub(crate) fn give_output_buffer(mut buf: Vec<u8>) {
    if (INITIAL_READ_CAPACITY..=POOLED_OUTPUT_MAX).contains(&buf.capacity()) {
        buf.clear();
        give(&OUTPUT_POOL, buf);
    }
}

/// A read buffer: data in `buf[start..end]`, free space after `end`.
#[derive(Debug, Default)]
pub(crate) struct ReadBuffer {
    /// Fully initialised, so reads go straight into it without `unsafe`.
    buf: Vec<u8>,
    /// INVARIANT: `start <= end <= buf.len()`; the data is
    /// `buf[start..end]`, and `start == end == 0` whenever it is empty.
    start: usize,
    end: usize,
}

impl ReadBuffer {
    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Drops the first `n` bytes.
    pub(crate) fn consume(&mut self, n: usize) {
        assert!(
            n <= self.len(),
            "consume {n} of {} buffered bytes",
            self.len()
        );
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.len() > SHRINK_ABOVE {
                self.buf = Vec::new();
            }
        }
    }

    /// Copies out and drops the first `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Vec<u8> {
        let out = self.data()[..n].to_vec();
        self.consume(n);
        out
    }

    /// Copies up to `out.len()` bytes into `out` and drops them; returns
    /// how many.
    pub(crate) fn take_into(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len());
        out[..n].copy_from_slice(&self.data()[..n]);
        self.consume(n);
        n
    }

    /// Free space to read into, at most `chunk` bytes, keeping the whole
    /// buffer within `limit` bytes; empty when the buffer is full. Follow
    /// with [`commit`](ReadBuffer::commit).
    pub(crate) fn spare(&mut self, chunk: usize, limit: usize) -> &mut [u8] {
        let len = self.len();
        let room = limit.saturating_sub(len).min(chunk);
        if room == 0 {
            return &mut [];
        }
        // Reading into less than this is not worth a system call.
        let min_free = room.min(1024);
        if self.buf.len() - self.end < min_free {
            // Move the data to the front, and grow (doubling) if that is
            // not enough. `len + min_free <= limit`, so the cap is safe.
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.start = 0;
                self.end = len;
            }
            if self.buf.len() - self.end < min_free {
                let wanted = (self.buf.len() * 2)
                    .max(INITIAL_READ_CAPACITY)
                    .max(len + min_free)
                    .min(limit);
                if self.buf.is_empty()
                    && wanted == INITIAL_READ_CAPACITY
                    && let Some(pooled) = take(&READ_POOL)
                {
                    self.buf = pooled;
                } else {
                    self.buf.resize(wanted, 0);
                }
            }
        }
        let end = self.end;
        let free = (self.buf.len() - end).min(room);
        &mut self.buf[end..end + free]
    }

    /// Marks `n` bytes after the data as read in.
    pub(crate) fn commit(&mut self, n: usize) {
        debug_assert!(self.end + n <= self.buf.len());
        self.end += n;
    }

    /// The capacity now held (for tests and memory accounting).
    pub(crate) fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Gives the allocation up (to the thread's pool, if it is of the
    /// initial size) if no data is held.
    pub(crate) fn release(&mut self) {
        if self.is_empty() {
            let buf = std::mem::take(&mut self.buf);
            if buf.len() == INITIAL_READ_CAPACITY {
                give(&READ_POOL, buf);
            }
        }
    }
}

impl Drop for ReadBuffer {
    fn drop(&mut self) {
        self.start = 0;
        self.end = 0;
        self.release();
    }
}

/// A write buffer: data in `buf[start..]`.
#[derive(Debug, Default)]
pub(crate) struct WriteBuffer {
    buf: Vec<u8>,
    /// INVARIANT: `start <= buf.len()`, and both are 0 when empty.
    start: usize,
}

impl WriteBuffer {
    pub(crate) fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    pub(crate) fn push(&mut self, data: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n;
        debug_assert!(self.start <= self.buf.len());
        if self.start == self.buf.len() {
            self.clear();
        }
    }

    /// Frees the allocation if no data is held.
    pub(crate) fn release(&mut self) {
        if self.is_empty() {
            self.buf = Vec::new();
            self.start = 0;
        }
    }

    pub(crate) fn clear(&mut self) {
        self.start = 0;
        self.buf.clear();
        if self.buf.capacity() > SHRINK_ABOVE {
            self.buf = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_buffer_reuses_its_space() {
        let mut b = ReadBuffer::default();
        let spare = b.spare(65536, 1 << 20);
        assert_eq!(spare.len(), INITIAL_READ_CAPACITY);
        spare[..5].copy_from_slice(b"hello");
        b.commit(5);
        assert_eq!(b.data(), b"hello");
        assert_eq!(b.take(2), b"he");
        assert_eq!(b.data(), b"llo");
        b.consume(3);
        assert!(b.is_empty());
        assert_eq!(
            b.capacity(),
            INITIAL_READ_CAPACITY,
            "kept for the next read"
        );
    }

    #[test]
    fn read_buffer_respects_its_limit() {
        let mut b = ReadBuffer::default();
        let n = b.spare(65536, 10).len();
        assert_eq!(n, 10);
        b.commit(10);
        assert!(b.spare(65536, 10).is_empty(), "full");
        b.consume(4);
        let n = b.spare(65536, 10).len();
        assert_eq!(n, 4, "room made by moving the data to the front");
        assert_eq!(b.len(), 6);
    }

    #[test]
    fn read_buffer_grows_and_shrinks() {
        let mut b = ReadBuffer::default();
        let mut total = 0;
        while total < 200_000 {
            let n = b.spare(65536, 1 << 20).len();
            assert!(n > 0);
            b.commit(n);
            total += n;
        }
        assert!(b.capacity() >= 200_000);
        b.consume(b.len());
        assert_eq!(b.capacity(), 0, "a large emptied buffer is freed");
    }

    fn pooled(pool: &'static std::thread::LocalKey<RefCell<Vec<Vec<u8>>>>) -> usize {
        pool.with(|pool| pool.borrow().len())
    }

    #[test]
    fn a_released_read_buffer_is_reused_without_a_new_allocation() {
        let mut first = ReadBuffer::default();
        let spare = first.spare(65536, 1 << 20);
        let at = spare.as_ptr();
        spare[..3].copy_from_slice(b"old");
        first.commit(3);
        first.release();
        assert_eq!(first.capacity(), 4096, "holding data: kept");
        first.consume(3);
        first.release();
        assert_eq!(first.capacity(), 0, "empty: given up");
        let mut second = ReadBuffer::default();
        let spare = second.spare(65536, 1 << 20);
        assert_eq!(
            (spare.as_ptr(), &spare[..3]),
            (at, &b"old"[..]),
            "the next buffer on this thread is the released one, not zeroed again"
        );
        assert_eq!(pooled(&READ_POOL), 0);
        drop(second);
        assert_eq!(pooled(&READ_POOL), 1, "a dropped buffer goes back too");
    }

    #[test]
    fn the_pools_keep_a_bounded_number_of_buffers() {
        let mut buffers: Vec<ReadBuffer> = (0..POOLED_MAX + 10)
            .map(|_| {
                let mut b = ReadBuffer::default();
                b.spare(65536, 1 << 20);
                b
            })
            .collect();
        for b in &mut buffers {
            b.release();
        }
        assert_eq!(pooled(&READ_POOL), POOLED_MAX);
        // A grown buffer is not the pool's size: freed, not kept.
        let mut large = ReadBuffer::default();
        while large.capacity() < 3 * INITIAL_READ_CAPACITY {
            let n = large.spare(65536, 1 << 20).len();
            large.commit(n);
        }
        large.consume(large.len());
        let before = pooled(&READ_POOL);
        large.release();
        assert_eq!(pooled(&READ_POOL), before);

        for _ in 0..POOLED_MAX + 10 {
            give_output_buffer(Vec::with_capacity(INITIAL_READ_CAPACITY));
        }
        assert_eq!(pooled(&OUTPUT_POOL), POOLED_MAX);
    }

    #[test]
    fn output_buffers_come_back_empty_and_only_of_a_useful_size() {
        let mut out = take_output_buffer();
        assert!(out.is_empty() && out.capacity() >= INITIAL_READ_CAPACITY);
        out.extend_from_slice(b"rendered");
        let at = out.as_ptr();
        give_output_buffer(out);
        let again = take_output_buffer();
        assert!(again.is_empty(), "given back emptied");
        assert_eq!(again.as_ptr(), at, "the same allocation");
        give_output_buffer(Vec::with_capacity(16));
        give_output_buffer(Vec::with_capacity(POOLED_OUTPUT_MAX + 1));
        assert_eq!(pooled(&OUTPUT_POOL), 0, "too small or too large: freed");
    }

    #[test]
    fn write_buffer_compacts() {
        let mut w = WriteBuffer::default();
        w.push(b"abcdef");
        w.consume(4);
        assert_eq!(w.data(), b"ef");
        w.push(b"gh");
        assert_eq!(w.data(), b"efgh");
        w.consume(4);
        assert!(w.is_empty());
    }
}
