//! The event queue: a 4-ary min-heap of packed 128-bit keys over a slab of payloads.
//!
//! **Order.** Entries pop in increasing `(at, seq)`: time first, then the sequence number the
//! queue assigned when the entry was pushed. `seq` increases by one per push, so entries with
//! equal times pop in FIFO (push) order. The payload never takes part in the comparison.
//!
//! **Why this shape.** A pop costs a sift-down whose work is dominated by cache misses on the
//! heap array. Keys are packed into one `u128` (`at` in the high 64 bits, then 40 bits of `seq`,
//! then 24 bits of slab slot), so four children share 64 bytes — one cache line — and a 4-ary
//! heap halves the depth of a binary one. Payloads stay put in a slab (LIFO free list, so it stays
//! dense) and are moved exactly twice: in at push and out at pop.
//!
//! **Pop-then-push fusion.** A discrete-event loop nearly always pushes right after it pops.
//! [`EventQueue::pop`] therefore leaves the root as a *hole*; the next [`EventQueue::push`] drops
//! its key into the hole and sifts down once, instead of the sift-down of a pop plus the sift-up
//! of a push. The hole is filled from the last leaf lazily if something else comes first. This
//! changes no order: the heap invariant holds for every observable operation.
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

/// A push was refused because a documented queue limit was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueFull;

/// A min-queue of payloads ordered by `(time, push sequence)`.
#[derive(Debug)]
pub struct EventQueue<T> {
    heap: Vec<u128>,
    slab: Vec<Option<T>>,
    free: Vec<u32>,
    next_seq: u64,
    /// The root key's payload was taken by `pop`; `heap[0]` is stale.
    hole: bool,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue { heap: Vec::new(), slab: Vec::new(), free: Vec::new(), next_seq: 0, hole: false }
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

impl<T> EventQueue<T> {
    /// An empty queue with room for `capacity` pending entries before reallocating.
    pub fn with_capacity(capacity: usize) -> Self {
        EventQueue {
            heap: Vec::with_capacity(capacity),
            slab: Vec::with_capacity(capacity),
            free: Vec::with_capacity(capacity),
            ..Default::default()
        }
    }

    /// Number of pending entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.heap.len() - usize::from(self.hole)
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
    pub fn memory_bytes(&self) -> usize {
        self.heap.capacity() * size_of::<u128>()
            + self.slab.capacity() * size_of::<Option<T>>()
            + self.free.capacity() * size_of::<u32>()
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
        let key = (u128::from(at.as_nanos()) << 64) | (u128::from(seq) << SLOT_BITS) | u128::from(slot);
        if self.hole {
            self.hole = false;
            self.sift_down(0, key);
        } else {
            let pos = self.heap.len();
            self.heap.push(key);
            self.sift_up(pos, key);
        }
        Ok(seq)
    }

    /// The time of the earliest pending entry.
    #[inline]
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.fill_hole();
        self.heap.first().map(|&k| SimTime::from_nanos((k >> 64) as u64))
    }

    /// Removes and returns the earliest entry (smallest `(at, seq)`).
    #[inline]
    pub fn pop(&mut self) -> Option<Popped<T>> {
        self.fill_hole();
        let &key = self.heap.first()?;
        let slot = (key & SLOT_MASK) as u32;
        let payload = self.slab[slot as usize].take().expect("queue slot holds a payload");
        self.free.push(slot);
        self.hole = true;
        Some(Popped {
            at: SimTime::from_nanos((key >> 64) as u64),
            seq: ((key >> SLOT_BITS) as u64) & (MAX_PUSHES - 1),
            payload,
        })
    }

    #[inline]
    fn fill_hole(&mut self) {
        if self.hole {
            self.hole = false;
            let last = self.heap.pop().expect("a hole implies a root");
            if !self.heap.is_empty() {
                self.sift_down(0, last);
            }
        }
    }

    #[inline]
    fn sift_up(&mut self, mut pos: usize, key: u128) {
        while pos > 0 {
            let parent = (pos - 1) / 4;
            let parent_key = self.heap[parent];
            if parent_key <= key {
                break;
            }
            self.heap[pos] = parent_key;
            pos = parent;
        }
        self.heap[pos] = key;
    }

    #[inline]
    fn sift_down(&mut self, mut pos: usize, key: u128) {
        let heap = &mut self.heap[..];
        let n = heap.len();
        loop {
            let first = 4 * pos + 1;
            if first >= n {
                break;
            }
            let (mut best, mut best_key) = (first, heap[first]);
            let end = (first + 4).min(n);
            for (child, &child_key) in heap.iter().enumerate().take(end).skip(first + 1) {
                if child_key < best_key {
                    best = child;
                    best_key = child_key;
                }
            }
            if best_key >= key {
                break;
            }
            heap[pos] = best_key;
            pos = best;
        }
        heap[pos] = key;
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
            q.push(p.at + crate::time::SimDuration::from_nanos(16), i).unwrap();
        }
        assert_eq!(q.len(), 16);
        assert_eq!(q.memory_bytes(), before);
    }
}
