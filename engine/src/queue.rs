//! The event queue: a 4-ary min-heap of packed 128-bit keys over a slab of payloads.
//!
//! **Order.** Entries pop in increasing `(at, seq)`: time first, then the sequence number the
//! queue assigned when the entry was pushed. `seq` increases by one per push, so entries with
//! equal times pop in FIFO (push) order. The payload never takes part in the comparison.
//!
//! **Why this shape.** A pop costs a sift-down whose work is dominated by cache misses on the
//! heap array and by mispredicted comparisons. Keys are packed into one `u128` (`at` in the high
//! 64 bits, then 40 bits of `seq`, then 24 bits of slab slot), so the four children of a node
//! fill exactly one 64-byte cache line: the heap is stored as cache-line-aligned groups of four
//! with the root in the last lane of group 0, which puts the children of every node in one
//! aligned group (one line per level of a sift-down instead of two). A 4-ary heap has half the
//! depth of a binary one, and the smallest of four children is chosen with selects rather than
//! branches (the comparisons are unpredictable). Lanes past the end hold `u128::MAX` so every
//! group can be read whole. Payloads stay put in a slab (LIFO free list, so it stays dense) and
//! are moved exactly twice: in at push and out at pop.
//!
//! **Pop-then-push fusion.** A discrete-event loop nearly always pushes right after it pops.
//! [`EventQueue::pop`] therefore leaves the root as a *hole*; the next [`EventQueue::push`] drops
//! its key into the hole and sifts down once, instead of the sift-down of a pop plus the sift-up
//! of a push. The hole is filled from the last leaf lazily if something else comes first. This
//! changes no order: the heap invariant holds for every observable operation.
//!
//! **Memory.** About 16 bytes of key plus one `Option<T>` per pending entry, by capacity; the
//! buffers never shrink, so [`EventQueue::memory_bytes`] never decreases and is its own peak.
//!
//! **Limits.** At most 2^24 (16,777,216) pending entries and 2^40 pushes per queue; a push
//! beyond either returns [`QueueFull`] so the kernel can stop the run with a clear reason.

use crate::time::SimTime;

const SLOT_BITS: u32 = 24;
const SEQ_BITS: u32 = 40;
/// Maximum pending entries.
pub const MAX_PENDING: usize = 1 << SLOT_BITS;
/// Maximum pushes over a queue's life.
pub const MAX_PUSHES: u64 = 1 << SEQ_BITS;
const SLOT_MASK: u128 = (1 << SLOT_BITS) - 1;

/// Flat position of the root: the last lane of group 0. Node `p`'s children are group `p - 2`
/// (flat `4p - 8 ..= 4p - 5`); node `c`'s parent is `c / 4 + 2`.
const ROOT: usize = 3;
/// The key of an empty lane; compares above every real key (ties never pick it, see `min4`).
const EMPTY: u128 = u128::MAX;

/// Four sibling keys on one cache line.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct Group([u128; 4]);

const EMPTY_GROUP: Group = Group([EMPTY; 4]);

/// A push was refused because a documented queue limit was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueFull;

/// A min-queue of payloads ordered by `(time, push sequence)`.
#[derive(Debug)]
pub struct EventQueue<T> {
    /// The heap in groups of four; flat position `p` is `groups[p / 4].0[p % 4]`. Heap entries
    /// occupy flat `ROOT..ROOT + heap_len`; every other lane is `EMPTY`.
    groups: Vec<Group>,
    /// Entries in the heap array, including a hole at the root.
    heap_len: usize,
    slab: Vec<Option<T>>,
    free: Vec<u32>,
    next_seq: u64,
    /// The root key's payload was taken by `pop`; the root lane is stale.
    hole: bool,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue {
            groups: Vec::new(),
            heap_len: 0,
            slab: Vec::new(),
            free: Vec::new(),
            next_seq: 0,
            hole: false,
        }
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

/// The position (0..4) and value of the smallest of four keys; on ties the lower position wins,
/// so an `EMPTY` lane (always after the real ones) is never chosen over a real key. Written as
/// selects so the compiler emits conditional moves, not unpredictable branches.
#[inline(always)]
fn min4(g: &[u128; 4]) -> (usize, u128) {
    let (i01, k01) = if g[1] < g[0] { (1, g[1]) } else { (0, g[0]) };
    let (i23, k23) = if g[3] < g[2] { (3, g[3]) } else { (2, g[2]) };
    if k23 < k01 { (i23, k23) } else { (i01, k01) }
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

impl<T> EventQueue<T> {
    /// An empty queue with room for `capacity` pending entries before reallocating.
    pub fn with_capacity(capacity: usize) -> Self {
        EventQueue {
            groups: Vec::with_capacity((capacity + ROOT).div_ceil(4)),
            slab: Vec::with_capacity(capacity),
            // The free list only fills when pops outrun pushes; a discrete-event loop mostly
            // alternates them, so a small reservation covers the common case.
            free: Vec::with_capacity(capacity.min(64)),
            ..Default::default()
        }
    }

    /// Number of pending entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.heap_len - usize::from(self.hole)
    }

    /// Whether nothing is pending.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total pushes so far (the next sequence number).
    pub fn pushes(&self) -> u64 {
        self.next_seq
    }

    /// Bytes held by the queue's buffers (heap keys, payload slab, free list), by capacity.
    /// Buffers never shrink, so this never decreases over a queue's life.
    pub fn memory_bytes(&self) -> usize {
        self.groups.capacity() * size_of::<Group>()
            + self.slab.capacity() * size_of::<Option<T>>()
            + self.free.capacity() * size_of::<u32>()
    }

    #[inline(always)]
    fn key(&self, p: usize) -> u128 {
        self.groups[p / 4].0[p % 4]
    }

    #[inline(always)]
    fn set(&mut self, p: usize, key: u128) {
        self.groups[p / 4].0[p % 4] = key;
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
                self.slab.push(Some(payload));
                (self.slab.len() - 1) as u32
            }
        };
        self.next_seq = seq + 1;
        let key =
            (u128::from(at.as_nanos()) << 64) | (u128::from(seq) << SLOT_BITS) | u128::from(slot);
        if self.hole {
            self.hole = false;
            self.sift_down(ROOT, key);
        } else {
            let pos = ROOT + self.heap_len;
            if pos / 4 >= self.groups.len() {
                self.groups.push(EMPTY_GROUP);
            }
            self.heap_len += 1;
            self.sift_up(pos, key);
        }
        Ok(seq)
    }

    /// The time of the earliest pending entry.
    #[inline]
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.fill_hole();
        if self.heap_len == 0 {
            return None;
        }
        Some(SimTime::from_nanos((self.key(ROOT) >> 64) as u64))
    }

    /// Removes and returns the earliest entry (smallest `(at, seq)`).
    #[inline]
    pub fn pop(&mut self) -> Option<Popped<T>> {
        self.fill_hole();
        if self.heap_len == 0 {
            return None;
        }
        let key = self.key(ROOT);
        let slot = (key & SLOT_MASK) as u32;
        let payload = self.slab[slot as usize]
            .take()
            .expect("queue slot holds a payload");
        self.free.push(slot);
        self.hole = true;
        self.prefetch_second();
        Some(Popped {
            at: SimTime::from_nanos((key >> 64) as u64),
            seq: ((key >> SLOT_BITS) as u64) & (MAX_PUSHES - 1),
            payload,
        })
    }

    /// The payload that will pop next unless something earlier is pushed first, without
    /// removing it. Meant for prefetching what handling it will touch: right after a
    /// [`EventQueue::pop`] its slab slot is usually already in cache (`pop` prefetches it).
    #[inline]
    pub fn upcoming(&self) -> Option<&T> {
        let key = if self.hole {
            let (_, key) = min4(&self.groups.get(1)?.0);
            key
        } else {
            self.groups.first()?.0[ROOT]
        };
        if key == EMPTY {
            return None;
        }
        self.slab.get((key & SLOT_MASK) as usize)?.as_ref()
    }

    /// With a hole at the root, prefetches the slab slot of the entry that pops *after* the
    /// next one (the second smallest: in the root's child group or among the children of the
    /// smallest child), so that [`EventQueue::upcoming`] finds it in cache one event later.
    #[inline]
    fn prefetch_second(&self) {
        let Some(children) = self.groups.get(1) else {
            return;
        };
        let (lane, _) = min4(&children.0);
        let mut siblings = children.0;
        siblings[lane] = EMPTY;
        let (_, mut second) = min4(&siblings);
        if let Some(grandchildren) = self.groups.get(2 + lane) {
            second = second.min(min4(&grandchildren.0).1);
        }
        if second != EMPTY
            && let Some(slot) = self.slab.get((second & SLOT_MASK) as usize)
        {
            prefetch(slot);
        }
    }

    #[inline]
    fn fill_hole(&mut self) {
        if self.hole {
            self.fill_hole_slow();
        }
    }

    /// Moves the last entry into the hole at the root (the rare path: most pops are followed
    /// by a push that fills the hole itself).
    #[inline(never)]
    fn fill_hole_slow(&mut self) {
        self.hole = false;
        self.heap_len -= 1;
        let last_pos = ROOT + self.heap_len;
        let last = self.key(last_pos);
        self.set(last_pos, EMPTY);
        if self.heap_len > 0 {
            self.sift_down(ROOT, last);
        }
    }

    #[inline]
    fn sift_up(&mut self, mut pos: usize, key: u128) {
        while pos > ROOT {
            let parent = pos / 4 + 2;
            let parent_key = self.key(parent);
            if parent_key <= key {
                break;
            }
            self.set(pos, parent_key);
            pos = parent;
        }
        self.set(pos, key);
    }

    /// Moves `key` down from `pos` (whose lane is free) to where it belongs. Lanes past the end
    /// of the heap are `EMPTY`, so a group is read whole and an all-`EMPTY` group stops the walk
    /// like a missing one.
    #[inline]
    fn sift_down(&mut self, mut pos: usize, key: u128) {
        let groups = &mut self.groups[..];
        while let Some(children) = groups.get(pos - 2) {
            // The next level reads one of the four groups right after `4 * (pos - 2) - 2`:
            // start loading all four (contiguous) before choosing, so big heaps pay roughly
            // one miss per two levels instead of one per level.
            if let Some(next) = groups.get(4 * (pos - 2) - 2..4 * (pos - 2) + 2) {
                prefetch(next);
            }
            let (lane, child_key) = min4(&children.0);
            if child_key >= key {
                break;
            }
            groups[pos / 4].0[pos % 4] = child_key;
            pos = 4 * (pos - 2) + lane;
        }
        groups[pos / 4].0[pos % 4] = key;
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
