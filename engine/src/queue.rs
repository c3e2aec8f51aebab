//! The event queue: a calendar of time buckets feeding a small sorted run, over a slab of
//! payloads.
//!
//! **Order.** Entries pop in increasing `(at, seq)`: time first, then the sequence number the
//! queue assigned when the entry was pushed. `seq` increases by one per push, so entries with
//! equal times pop in FIFO (push) order. The payload never takes part in the comparison. Any
//! interleaving of pushes and pops is allowed, including a push earlier than the last pop.
//!
//! **Shape.** Every entry is one packed `u128` key (`at` in the high 64 bits, then 40 bits of
//! `seq`, then 24 bits of slab slot); payloads stay put in a slab (LIFO free list, so it stays
//! dense) and are moved exactly twice: in at push and out at pop. Keys live in one of three
//! places, by the *bucket number* `at >> shift` of their time (buckets are `2^shift` ns wide):
//!
//! - **near**: the buckets already opened (numbers below `cur`), as a vector sorted in
//!   descending order, so a pop is `Vec::pop` and the next entries are known in advance;
//! - **ring**: the next `ring.len()` buckets (numbers `cur ..= cur + ring.len() - 1`), each an
//!   unsorted list of keys; a push there is an append;
//! - **overflow**: one unsorted list for everything later.
//!
//! When near runs dry, the first non-empty ring bucket is opened: its keys are sorted into near.
//! Before a bucket is opened, overflow keys that reached the ring's window move into it. When the
//! ring is empty, or its buckets turn out far too full or too sparse, the bucket width and ring
//! size are re-chosen from the pending keys (a sample's first-quartile spacing, aiming at 32 keys
//! per bucket) and everything is re-bucketed; that is `O(n)` and rate-limited to once per
//! `len / 2` pops, so it is amortised `O(1)`.
//!
//! **Why this shape.** A binary or 4-ary heap pays `log n` unpredictable comparisons and, on big
//! queues, a cache miss per level on every pop. Discrete-event workloads push mostly into the
//! near future at a steady density, which a calendar turns into an append (push), an insertion
//! sort of a few dozen keys per bucket, and a `Vec::pop` (pop): a few dozen instructions per
//! event and about one cache miss, against ~400 instructions and one miss per level for the
//! 4-ary heap this replaced. Because near is sorted, the next few entries are known:
//! [`EventQueue::upcoming`] names them and `pop` prefetches the payload [`PREFETCH_AHEAD`] pops
//! ahead, so the event loop can start loading what the next events touch while it handles this
//! one. Badly shaped inputs (all entries at one instant, extreme spreads) degrade to sorting,
//! never to a wrong order.
//!
//! **Memory.** Per pending entry: one slab slot (`size_of::<Option<T>>()`), 16 bytes of key in a
//! 128-byte chunk of eight (plus a 4-byte link per chunk and part-filled last chunks), and a small
//! share of the ring's list heads: about 55–62 bytes for the kernel's 32-byte events. Buffers
//! grow by a quarter at a time (not doubling) and never shrink, so [`EventQueue::memory_bytes`]
//! never decreases and is its own peak.
//!
//! **Limits.** At most 2^24 (16,777,216) pending entries and 2^40 pushes per queue; a push
//! beyond either returns [`QueueFull`] so the kernel can stop the run with a clear reason.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::time::SimTime;

const SLOT_BITS: u32 = 24;
const SEQ_BITS: u32 = 40;
/// Maximum pending entries.
pub const MAX_PENDING: usize = 1 << SLOT_BITS;
/// Maximum pushes over a queue's life.
pub const MAX_PUSHES: u64 = 1 << SEQ_BITS;
const SLOT_MASK: u128 = (1 << SLOT_BITS) - 1;

/// Keys per chunk: eight keys fill two cache lines.
const CHUNK_KEYS: usize = 8;
/// The null chunk index.
const NIL: u32 = u32::MAX;
/// Keys per bucket the bucket width aims at: enough to amortise opening a bucket, few enough
/// that sorting one is cheap.
const TARGET_BUCKET: usize = 32;
/// Ring sizes (buckets), powers of two.
const MIN_RING: usize = 64;
const MAX_RING: usize = 1 << 20;
/// A bucket holding more than this many keys, or this many empty buckets skipped to reach the
/// next key, means the width no longer fits the load: re-bucket (rate-limited).
const MISFIT: usize = 8 * TARGET_BUCKET;
/// How many pops ahead [`EventQueue::pop`] prefetches payloads (see [`EventQueue::upcoming`]).
pub const PREFETCH_AHEAD: usize = 5;
/// Largest bucket sorted by insertion (bigger ones, from badly fitting widths or many entries
/// at one instant, use the standard `O(n log n)` sort).
const INSERTION_SORT_MAX: usize = 4 * TARGET_BUCKET;
/// Keys sampled to choose the bucket width.
const SAMPLE: usize = 256;

/// Eight keys of one list, on two cache lines.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct Chunk([u128; CHUNK_KEYS]);

/// An unsorted list of keys in chunks; every chunk but the last is full.
#[derive(Clone, Copy, Debug)]
struct List {
    head: u32,
    tail: u32,
    len: u32,
}

impl List {
    const EMPTY: List = List {
        head: NIL,
        tail: NIL,
        len: 0,
    };
}

/// Chunk storage shared by all lists. `links[c]` is the chunk after `c` in its list, or in the
/// free list; kept apart from the keys so that a chunk is exactly two cache lines.
#[derive(Debug, Default)]
struct Pool {
    chunks: Vec<Chunk>,
    links: Vec<u32>,
    free: u32,
}

impl Pool {
    fn with_capacity(chunks: usize) -> Pool {
        let pool = Pool {
            chunks: Vec::with_capacity(chunks),
            links: Vec::with_capacity(chunks),
            free: NIL,
        };
        crate::hugepages::advise(&pool.chunks);
        pool
    }

    /// Appends `key` to `list`.
    #[inline(always)]
    fn append(&mut self, list: &mut List, key: u128) {
        let pos = list.len as usize % CHUNK_KEYS;
        if pos == 0 {
            self.add_chunk(list);
        }
        self.chunks[list.tail as usize].0[pos] = key;
        list.len += 1;
    }

    /// Links a fresh chunk at the end of `list`.
    #[inline(never)]
    fn add_chunk(&mut self, list: &mut List) {
        let c = if self.free != NIL {
            let c = self.free;
            self.free = self.links[c as usize];
            c
        } else {
            grow_by_quarter(&mut self.chunks);
            grow_by_quarter(&mut self.links);
            self.chunks.push(Chunk([0; CHUNK_KEYS]));
            self.links.push(NIL);
            (self.chunks.len() - 1) as u32
        };
        self.links[c as usize] = NIL;
        if list.tail == NIL {
            list.head = c;
        } else {
            self.links[list.tail as usize] = c;
        }
        list.tail = c;
    }

    /// Frees chunk `c`; returns its keys and the chunk after it.
    #[inline]
    fn take(&mut self, c: u32) -> ([u128; CHUNK_KEYS], u32) {
        let (keys, next) = (self.chunks[c as usize].0, self.links[c as usize]);
        self.release(c);
        (keys, next)
    }

    #[inline]
    fn release(&mut self, c: u32) {
        self.links[c as usize] = self.free;
        self.free = c;
    }

    /// Appends every key of `list` to `out` and frees its chunks.
    fn drain_into(&mut self, list: List, out: &mut Vec<u128>) {
        let (mut c, mut left) = (list.head, list.len as usize);
        out.reserve(left + CHUNK_KEYS);
        let keep = out.len() + left;
        while left > 0 {
            // Whole chunks (a fixed-size copy); the tail's unused lanes are cut off below.
            out.extend_from_slice(&self.chunks[c as usize].0);
            let next = self.links[c as usize];
            self.release(c);
            left = left.saturating_sub(CHUNK_KEYS);
            c = next;
        }
        out.truncate(keep);
    }
}

/// Insertion sort, largest first: buckets hold a few dozen keys, for which this beats the
/// general-purpose sort (which is built for any length and any comparison cost). Quadratic:
/// only for at most [`INSERTION_SORT_MAX`] keys.
fn insertion_sort_descending(keys: &mut [u128]) {
    for i in 1..keys.len() {
        let key = keys[i];
        let mut j = i;
        while j > 0 && keys[j - 1] < key {
            keys[j] = keys[j - 1];
            j -= 1;
        }
        keys[j] = key;
    }
}

/// Makes room for one more element, growing by a quarter (not doubling) so that capacity stays
/// within 25 % of the peak need. Still amortised `O(1)` per push.
#[inline]
fn grow_by_quarter<E>(v: &mut Vec<E>) {
    if v.len() == v.capacity() {
        v.reserve_exact((v.len() / 4).max(64));
        crate::hugepages::advise(v);
    }
}

/// The ring size for `n` pending keys: twice the buckets they fill at the target density, so
/// the window also covers most of a spread-out tail.
fn ring_size(n: usize) -> usize {
    (2 * n / TARGET_BUCKET)
        .next_power_of_two()
        .clamp(MIN_RING, MAX_RING)
}

/// Asks the CPU to start loading the cache lines holding `value`: a pure hint, no effect on
/// results. The event loop uses it to overlap the cache misses of the next event with the work
/// of the current one (on large simulations nearly every event touches cold memory: its slab
/// slot, its component and its component's RNG). A no-op off x86-64.
#[inline(always)]
pub fn prefetch<T: ?Sized>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = std::ptr::from_ref(value).cast::<i8>();
        let len = size_of_val(value).max(1);
        let mut offset = 0;
        while offset < len + (start as usize & 63) {
            // SAFETY: `prefetcht0` only hints the cache: it never faults (any address is
            // allowed), reads nothing into the program, and needs only SSE, which every x86-64
            // CPU has.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset)) };
            offset += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// A push was refused because a documented queue limit was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueFull;

/// A min-queue of payloads ordered by `(time, push sequence)`.
#[derive(Debug)]
pub struct EventQueue<T> {
    slab: Vec<Option<T>>,
    free: Vec<u32>,
    next_seq: u64,
    /// Pending entries (near + ring + overflow).
    len: usize,
    /// Keys of opened buckets (numbers below `cur`), sorted descending: the next pop is last.
    near: Vec<u128>,
    /// Keys pushed into already opened buckets, as a min-heap.
    early: BinaryHeap<Reverse<u128>>,
    /// Bucket width is `2^shift` ns; `shift >= 1`, so bucket numbers and `cur` fit in 63 bits.
    shift: u32,
    /// The first bucket number not yet opened.
    cur: u64,
    /// Buckets `cur .. cur + ring.len()`, bucket `j` at `ring[j % ring.len()]`; the length is 0
    /// (no ring yet) or a power of two.
    ring: Vec<List>,
    /// Keys in the ring.
    ring_len: usize,
    /// Keys whose bucket was past the ring's window when they were placed.
    overflow: List,
    /// The smallest key in `overflow` (`u128::MAX` when empty).
    overflow_min: u128,
    pool: Pool,
    /// Pops since the bucket width was last chosen (rate-limits re-bucketing).
    pops_since_rebuild: usize,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue::with_capacity(0)
    }
}

/// One popped entry.
#[derive(Debug, PartialEq, Eq)]
pub struct Popped<T> {
    /// When it was scheduled for.
    pub at: SimTime,
    /// Its push sequence number (unique, increasing).
    pub seq: u64,
    /// The payload.
    pub payload: T,
}

#[inline(always)]
fn key_time(key: u128) -> u64 {
    (key >> 64) as u64
}

#[inline(always)]
fn key_slot(key: u128) -> usize {
    (key & SLOT_MASK) as usize
}

impl<T> EventQueue<T> {
    /// An empty queue with room for `capacity` pending entries before reallocating.
    pub fn with_capacity(capacity: usize) -> Self {
        let queue = EventQueue {
            slab: Vec::with_capacity(capacity),
            // The free list only fills when pops outrun pushes; a discrete-event loop mostly
            // alternates them, so a small reservation covers the common case.
            free: Vec::with_capacity(capacity.min(64)),
            next_seq: 0,
            len: 0,
            // One bucket's worth, and the ring a queue this size gets (see `rebuild`).
            near: Vec::with_capacity(capacity.min(2 * TARGET_BUCKET) + CHUNK_KEYS),
            early: BinaryHeap::with_capacity(capacity.min(2 * TARGET_BUCKET)),
            shift: 1,
            cur: 0,
            ring: Vec::with_capacity(if capacity == 0 {
                0
            } else {
                ring_size(capacity)
            }),
            ring_len: 0,
            overflow: List::EMPTY,
            overflow_min: u128::MAX,
            // A chunk per eight keys, plus a part-filled last chunk per non-empty bucket.
            pool: Pool::with_capacity((capacity * 4).div_ceil(3 * CHUNK_KEYS)),
            pops_since_rebuild: 0,
        };
        crate::hugepages::advise(&queue.slab);
        queue
    }

    /// Number of pending entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is pending.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Total pushes so far (the next sequence number).
    pub fn pushes(&self) -> u64 {
        self.next_seq
    }

    /// Bytes held by the queue's buffers (payload slab, free lists, key chunks, bucket heads,
    /// the sorted run), by capacity. Buffers never shrink, so this never decreases.
    pub fn memory_bytes(&self) -> usize {
        self.slab.capacity() * size_of::<Option<T>>()
            + self.free.capacity() * size_of::<u32>()
            + self.near.capacity() * size_of::<u128>()
            + self.early.capacity() * size_of::<u128>()
            + self.ring.capacity() * size_of::<List>()
            + self.pool.chunks.capacity() * size_of::<Chunk>()
            + self.pool.links.capacity() * size_of::<u32>()
    }

    /// Schedules `payload` at `at`; returns its sequence number.
    #[inline]
    pub fn push(&mut self, at: SimTime, payload: T) -> Result<u64, QueueFull> {
        let seq = self.next_seq;
        if seq >= MAX_PUSHES {
            return Err(QueueFull);
        }
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot as usize] = Some(payload);
                slot
            }
            None => {
                if self.slab.len() >= MAX_PENDING {
                    return Err(QueueFull);
                }
                grow_by_quarter(&mut self.slab);
                self.slab.push(Some(payload));
                (self.slab.len() - 1) as u32
            }
        };
        self.next_seq = seq + 1;
        self.len += 1;
        let key =
            (u128::from(at.as_nanos()) << 64) | (u128::from(seq) << SLOT_BITS) | u128::from(slot);
        self.place(key);
        Ok(seq)
    }

    /// Files `key` under near, its ring bucket or overflow.
    #[inline]
    fn place(&mut self, key: u128) {
        let bucket = key_time(key) >> self.shift;
        if bucket < self.cur {
            // Its bucket is already open: a push at (or just after) the current time. Such
            // pushes can be many (zero-delay messages), so they go to a heap rather than into
            // the sorted run, whose insertion would cost `O(len)` each.
            self.early.push(Reverse(key));
        } else if bucket - self.cur < self.ring.len() as u64 {
            let mask = self.ring.len() - 1;
            let list = &mut self.ring[bucket as usize & mask];
            self.pool.append(list, key);
            self.ring_len += 1;
        } else {
            self.pool.append(&mut self.overflow, key);
            self.overflow_min = self.overflow_min.min(key);
        }
    }

    /// The time of the earliest pending entry.
    #[inline]
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.front()
            .map(|(key, _)| SimTime::from_nanos(key_time(key)))
    }

    /// The smallest key and whether it is in `early` (else it is `near`'s last), opening the
    /// next bucket if both are empty.
    #[inline]
    fn front(&mut self) -> Option<(u128, bool)> {
        match (self.near.last(), self.early.peek()) {
            (Some(&n), None) => Some((n, false)),
            (Some(&n), Some(&Reverse(e))) => Some(if e < n { (e, true) } else { (n, false) }),
            (None, Some(&Reverse(e))) => Some((e, true)),
            (None, None) => {
                if self.open_next() {
                    self.near.last().map(|&n| (n, false))
                } else {
                    None
                }
            }
        }
    }

    /// Removes and returns the earliest entry (smallest `(at, seq)`).
    #[inline]
    pub fn pop(&mut self) -> Option<Popped<T>> {
        let (key, early) = self.front()?;
        if early {
            self.early.pop();
        } else {
            self.near.pop();
        }
        self.len -= 1;
        self.pops_since_rebuild += 1;
        let slot = key_slot(key);
        let payload = self.slab[slot].take().expect("queue slot holds a payload");
        self.free.push(slot as u32);
        // The payload `PREFETCH_AHEAD` pops from now, so that `upcoming` finds it in cache.
        let later = self.near.len().checked_sub(PREFETCH_AHEAD);
        if let Some(&key) = later.and_then(|i| self.near.get(i)) {
            prefetch(&self.slab[key_slot(key)]);
        }
        Some(Popped {
            at: SimTime::from_nanos(key_time(key)),
            seq: ((key >> SLOT_BITS) as u64) & (MAX_PUSHES - 1),
            payload,
        })
    }

    /// The payload that will pop `ahead + 1` pops from now (`upcoming(0)` is the next one)
    /// unless something earlier is pushed first, without removing anything; `None` also when
    /// that entry is not sorted out yet. Meant for prefetching what handling it will touch:
    /// for `ahead < PREFETCH_AHEAD` its slab slot is usually in cache already (each pop
    /// prefetches the slot of the entry [`PREFETCH_AHEAD`] pops later).
    #[inline]
    pub fn upcoming(&self, ahead: usize) -> Option<&T> {
        if !self.early.is_empty() {
            return None; // The order of `early` against `near` is not worth working out here.
        }
        let &key = self.near.get(self.near.len().checked_sub(ahead + 1)?)?;
        self.slab.get(key_slot(key))?.as_ref()
    }

    /// Refills the (empty) near run from the next non-empty bucket. `false` if nothing is
    /// pending.
    #[cold]
    #[inline(never)]
    fn open_next(&mut self) -> bool {
        debug_assert!(self.near.is_empty() && self.early.is_empty());
        loop {
            if self.len == 0 {
                return false;
            }
            if self.ring_len == 0 {
                self.rebuild();
                continue;
            }
            let mask = self.ring.len() - 1;
            let mut bucket = self.cur;
            while self.ring[bucket as usize & mask].len == 0 {
                bucket += 1;
            }
            if self.overflow_min != u128::MAX && key_time(self.overflow_min) >> self.shift <= bucket
            {
                // Overflow keys reached the window: file them before opening anything.
                self.pull_overflow();
                continue;
            }
            let list = self.ring[bucket as usize & mask];
            let misfit = list.len as usize > MISFIT || (bucket - self.cur) as usize > MISFIT;
            if misfit && self.pops_since_rebuild >= self.len / 2 {
                self.rebucket_all();
                continue;
            }
            self.ring[bucket as usize & mask] = List::EMPTY;
            self.ring_len -= list.len as usize;
            self.cur = bucket + 1;
            self.pool.drain_into(list, &mut self.near);
            if self.near.len() <= INSERTION_SORT_MAX {
                insertion_sort_descending(&mut self.near);
            } else {
                self.near.sort_unstable_by(|a, b| b.cmp(a));
            }
            // The first pops had no earlier pop to prefetch their payloads.
            for &key in self.near.iter().rev().take(PREFETCH_AHEAD) {
                prefetch(&self.slab[key_slot(key)]);
            }
            return true;
        }
    }

    /// Moves the overflow keys that now fall in the ring's window into it.
    fn pull_overflow(&mut self) {
        let list = std::mem::replace(&mut self.overflow, List::EMPTY);
        self.overflow_min = u128::MAX;
        self.replace_all(list);
    }

    /// Files every key of `list` again (with [`EventQueue::place`]) and frees its chunks.
    fn replace_all(&mut self, list: List) {
        let (mut c, mut left) = (list.head, list.len as usize);
        while left > 0 {
            let (keys, next) = self.pool.take(c);
            let n = left.min(CHUNK_KEYS);
            for &key in &keys[..n] {
                self.place(key);
            }
            left -= n;
            c = next;
        }
    }

    /// Empties the ring into overflow, then re-chooses the width (near must be empty).
    fn rebucket_all(&mut self) {
        for b in 0..self.ring.len() {
            let list = std::mem::replace(&mut self.ring[b], List::EMPTY);
            let (mut c, mut left) = (list.head, list.len as usize);
            while left > 0 {
                let (keys, next) = self.pool.take(c);
                let n = left.min(CHUNK_KEYS);
                for &key in &keys[..n] {
                    self.pool.append(&mut self.overflow, key);
                    self.overflow_min = self.overflow_min.min(key);
                }
                left -= n;
                c = next;
            }
        }
        self.ring_len = 0;
        self.rebuild();
    }

    /// With near and the ring empty: chooses the bucket width and ring size from the overflow
    /// keys and files them.
    fn rebuild(&mut self) {
        debug_assert!(self.near.is_empty() && self.early.is_empty() && self.ring_len == 0);
        let n = self.overflow.len as usize;
        let min_time = key_time(self.overflow_min);
        // Sample times evenly along the list.
        let stride = (n / SAMPLE).max(1);
        let mut sample = Vec::with_capacity(SAMPLE + 1);
        let (mut c, mut i) = (self.overflow.head, 0usize);
        'walk: while c != NIL {
            for &key in &self.pool.chunks[c as usize].0 {
                if i >= n {
                    break 'walk;
                }
                if i % stride == 0 {
                    sample.push(key_time(key));
                }
                i += 1;
            }
            c = self.pool.links[c as usize];
        }
        sample.sort_unstable();
        // Spacing of the densest quarter, and of the whole sample as a fallback.
        let quartile = sample.get(sample.len() / 4).map_or(0, |&t| t - min_time);
        let spread = sample.last().map_or(0, |&t| t - min_time);
        let per = |span: u64, count: usize| {
            u128::from(span) * TARGET_BUCKET as u128 / count.max(1) as u128
        };
        let mut width = per(quartile, n / 4);
        if width == 0 {
            width = per(spread, n);
        }
        self.shift = (127 - width.max(2).leading_zeros()).clamp(1, 62);
        let buckets = ring_size(n);
        if self.ring.len() != buckets {
            self.ring.clear();
            self.ring.resize(buckets, List::EMPTY);
        }
        self.cur = min_time >> self.shift;
        self.pops_since_rebuild = 0;
        self.pull_overflow();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Pops equal a stable sort by time of the pushed items, under any interleaving of
        /// pushes and pops (the fused pop-then-push path included).
        #[test]
        fn pops_follow_time_then_fifo(ops in prop::collection::vec((0u64..50, any::<bool>()), 1..400)) {
            let mut q = EventQueue::default();
            let mut model: Vec<(u64, u64)> = Vec::new(); // (time, seq)
            let mut n = 0u64;
            for (t, pop) in ops {
                if pop {
                    let got = q.pop().map(|p| (p.at.as_nanos(), p.payload));
                    model.sort();
                    let want = if model.is_empty() { None } else { Some(model.remove(0)) };
                    prop_assert_eq!(got, want);
                } else {
                    let seq = q.push(SimTime::from_nanos(t), n).unwrap();
                    prop_assert_eq!(seq, n);
                    model.push((t, n));
                    n += 1;
                }
                prop_assert_eq!(q.len(), model.len());
            }
        }
    }

    /// A time drawn from a mix that exercises every path: clustered, tiny, spread over the
    /// whole `u64` range (including `u64::MAX`), relative to "now".
    fn any_time() -> impl Strategy<Value = (u8, u64)> {
        (0u8..5, any::<u64>())
    }

    fn resolve(now: u64, (kind, raw): (u8, u64)) -> u64 {
        match kind {
            0 => now.saturating_add(raw % 4),      // same instant or next to it
            1 => now.saturating_add(raw % 10_000), // near future
            2 => now.saturating_add(raw % (1 << 40)), // far future
            3 => raw,                              // anywhere, also before `now`
            _ => u64::MAX - raw % 3,               // the end of time
        }
    }

    proptest! {
        /// The same property over times spread from 0 to `u64::MAX`, with bursts and pushes
        /// earlier than the last pop, so that re-bucketing, overflow and the sorted near run
        /// all take part; `peek_time` always names the next pop.
        #[test]
        fn pops_follow_time_then_fifo_at_any_scale(
            ops in prop::collection::vec((any_time(), 0u8..3), 1..1500),
        ) {
            let mut q = EventQueue::default();
            let mut model = std::collections::BTreeSet::<(u64, u64)>::new(); // (time, seq)
            let mut now = 0u64;
            for (time, op) in ops {
                if op == 0 {
                    let peeked = q.peek_time().map(SimTime::as_nanos);
                    let got = q.pop().map(|p| (p.at.as_nanos(), p.payload));
                    let want = model.pop_first();
                    prop_assert_eq!(peeked, want.map(|w| w.0));
                    prop_assert_eq!(got, want);
                    if let Some((t, _)) = want {
                        now = now.max(t);
                    }
                } else {
                    let t = resolve(now, time);
                    let seq = q.pushes();
                    prop_assert_eq!(q.push(SimTime::from_nanos(t), seq).unwrap(), seq);
                    model.insert((t, seq));
                }
                prop_assert_eq!(q.len(), model.len());
            }
            while let Some(want) = model.pop_first() {
                prop_assert_eq!(q.pop().map(|p| (p.at.as_nanos(), p.payload)), Some(want));
            }
            prop_assert!(q.pop().is_none());
        }
    }

    /// A long hold-model run (pop one, push one later) whose delay scale changes by orders of
    /// magnitude and whose population grows and shrinks, checked against a binary heap.
    #[test]
    fn hold_model_matches_a_binary_heap() {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let mut q = EventQueue::with_capacity(8);
        let mut reference = BinaryHeap::new();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let push = |q: &mut EventQueue<u64>, reference: &mut BinaryHeap<_>, t: u64| {
            let seq = q.push(SimTime::from_nanos(t), 0).unwrap();
            reference.push(Reverse((t, seq)));
        };
        for i in 0..1000 {
            push(&mut q, &mut reference, next() % 1000 + i);
        }
        for step in 0..400_000u64 {
            let phase = step / 50_000;
            let p = q.pop().unwrap();
            let Reverse(want) = reference.pop().unwrap();
            assert_eq!((p.at.as_nanos(), p.seq), want, "step {step}");
            let now = p.at.as_nanos();
            let scale = 1u64 << (4 * (phase % 5) + 1);
            let pushes = match phase % 4 {
                1 => 2,                  // growing
                3 if step % 2 == 0 => 0, // shrinking
                _ => 1,
            };
            for _ in 0..pushes {
                let delay = if next() % 64 == 0 {
                    next() % (scale << 12)
                } else {
                    next() % scale
                };
                push(&mut q, &mut reference, now + delay);
            }
            if q.is_empty() {
                push(&mut q, &mut reference, now + 1);
            }
        }
        while let Some(Reverse(want)) = reference.pop() {
            let p = q.pop().unwrap();
            assert_eq!((p.at.as_nanos(), p.seq), want);
        }
        assert!(q.is_empty());
    }

    #[test]
    fn equal_times_pop_in_push_order() {
        let mut q = EventQueue::default();
        for i in 0..100u32 {
            q.push(SimTime::from_nanos(5), i).unwrap();
        }
        let order: Vec<u32> = std::iter::from_fn(|| q.pop().map(|p| p.payload)).collect();
        assert_eq!(order, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn slots_are_reused_so_memory_stays_bounded() {
        let mut q = EventQueue::with_capacity(16);
        for i in 0..16u64 {
            q.push(SimTime::from_nanos(i), i).unwrap();
        }
        let before = q.memory_bytes();
        for i in 0..100_000u64 {
            let p = q.pop().unwrap();
            q.push(p.at + crate::time::SimDuration::from_nanos(16), i)
                .unwrap();
        }
        assert_eq!(q.len(), 16);
        assert_eq!(q.memory_bytes(), before);
    }
}
