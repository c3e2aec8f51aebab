//! The pure cache store: a slab of entries, a key index and the eviction order, with no time,
//! no messages and no metrics — property-tested against a naive reference in `tests.rs`.
//!
//! # Layout
//!
//! Entries live in a slab (`Vec<Entry>` plus a free list of slot indices); the key index is a
//! `BTreeMap<u64, u32>` (key → slot). The eviction order is one structure for all three
//! policies: a doubly linked list of *buckets*, each holding a doubly linked list of entries
//! (most recently inserted or used at the head), all linked by slab indices.
//!
//! * [`Eviction::Lru`] and [`Eviction::Fifo`] use a single bucket: insertion puts an entry at
//!   the head; a hit moves it to the head under LRU and leaves it in place under FIFO; the
//!   victim is the tail.
//! * [`Eviction::Lfu`] keeps one bucket per distinct use count, in increasing count order
//!   (the O(1) LFU of Shah, Mitra and Matani, 2010): a hit moves the entry from bucket `f` to
//!   bucket `f + 1` (created right after `f` when missing, `f` freed when emptied); insertion
//!   goes to bucket 1; the victim is the tail of the first bucket — the least frequently used
//!   entry, ties broken by least recent use.
//!
//! Every operation is O(1) apart from the index lookup (O(log n)); nothing allocates once the
//! slabs have grown to the peak number of entries (the `BTreeMap` reuses its node memory
//! through the allocator, as the design guide allows).

use std::collections::BTreeMap;

/// "No slot" in the intrusive links.
pub const NIL: u32 = u32::MAX;

/// Which entry leaves when room is needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eviction {
    /// Least recently used.
    Lru,
    /// Least frequently used (use count since insertion), ties by least recent use.
    Lfu,
    /// First in, first out: the oldest insertion, regardless of use.
    Fifo,
}

/// What the capacity counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capacity {
    /// At most this many entries, `>= 1`.
    Entries(u64),
    /// At most this many bytes of payload (each entry is charged its size, at least 1 byte),
    /// `>= 1`.
    Bytes(u64),
}

/// One cached entry. The store owns the links; the other fields belong to the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The key.
    pub key: u64,
    /// Payload size in bytes (as served to clients).
    pub size: u32,
    /// Version of the value held ([`crate::Response::version`]).
    pub version: u64,
    /// Local-clock instant (ns) at which the entry stops being served; 0 = invalidated,
    /// `u64::MAX` = never.
    pub expires_at: u64,
    /// Written by a client and not yet flushed to the backend (write-back).
    pub dirty: bool,
    /// Head of this entry's hit log (owned by the caller), or [`NIL`].
    pub log_head: u32,
    /// Tail of this entry's hit log, or [`NIL`].
    pub log_tail: u32,
    /// Number of records in the hit log.
    pub log_len: u32,
    live: bool,
    prev: u32,
    next: u32,
    bucket: u32,
}

impl Entry {
    /// A clean entry with an empty hit log.
    pub fn new(key: u64, size: u32, version: u64, expires_at: u64) -> Entry {
        Entry {
            key,
            size,
            version,
            expires_at,
            dirty: false,
            log_head: NIL,
            log_tail: NIL,
            log_len: 0,
            live: true,
            prev: NIL,
            next: NIL,
            bucket: NIL,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    freq: u64,
    head: u32,
    tail: u32,
    prev: u32,
    next: u32,
}

/// The store (see the module docs).
#[derive(Clone, Debug)]
pub struct Store {
    eviction: Eviction,
    capacity: Capacity,
    entries: Vec<Entry>,
    free: Vec<u32>,
    index: BTreeMap<u64, u32>,
    buckets: Vec<Bucket>,
    free_buckets: Vec<u32>,
    first_bucket: u32,
    used: u64,
}

impl Store {
    /// An empty store.
    ///
    /// # Panics
    /// If the capacity is 0.
    pub fn new(eviction: Eviction, capacity: Capacity) -> Store {
        let (Capacity::Entries(n) | Capacity::Bytes(n)) = capacity;
        assert!(n >= 1, "cache capacity must be >= 1");
        let hint = match capacity {
            Capacity::Entries(n) => n.min(1 << 16) as usize,
            Capacity::Bytes(_) => 1024,
        };
        Store {
            eviction,
            capacity,
            entries: Vec::with_capacity(hint),
            free: Vec::with_capacity(hint),
            index: BTreeMap::new(),
            buckets: Vec::with_capacity(if eviction == Eviction::Lfu { 64 } else { 1 }),
            free_buckets: Vec::new(),
            first_bucket: NIL,
            used: 0,
        }
    }

    /// The eviction policy.
    pub fn eviction(&self) -> Eviction {
        self.eviction
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the store holds nothing.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Capacity units in use (entries or charged bytes).
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Total payload bytes held (each entry's `size`).
    pub fn bytes(&self) -> u64 {
        self.index
            .values()
            .map(|&s| u64::from(self.entries[s as usize].size))
            .sum()
    }

    fn charge(&self, size: u32) -> u64 {
        match self.capacity {
            Capacity::Entries(_) => 1,
            Capacity::Bytes(_) => u64::from(size.max(1)),
        }
    }

    fn limit(&self) -> u64 {
        let (Capacity::Entries(n) | Capacity::Bytes(n)) = self.capacity;
        n
    }

    /// Whether an entry of `size` bytes can be cached at all (fits in an empty store).
    pub fn fits(&self, size: u32) -> bool {
        self.charge(size) <= self.limit()
    }

    /// Whether an entry of `size` bytes fits without evicting anything.
    pub fn has_room(&self, size: u32) -> bool {
        self.used + self.charge(size) <= self.limit()
    }

    /// The slot holding `key`.
    pub fn get(&self, key: u64) -> Option<u32> {
        self.index.get(&key).copied()
    }

    /// The entry in `slot` (which must be live).
    pub fn entry(&self, slot: u32) -> &Entry {
        let e = &self.entries[slot as usize];
        debug_assert!(e.live);
        e
    }

    /// The entry in `slot`, mutably (the caller must not change `key` or `size`).
    pub fn entry_mut(&mut self, slot: u32) -> &mut Entry {
        let e = &mut self.entries[slot as usize];
        debug_assert!(e.live);
        e
    }

    /// Whether `slot` currently holds `key`.
    pub fn holds(&self, slot: u32, key: u64) -> bool {
        self.entries
            .get(slot as usize)
            .is_some_and(|e| e.live && e.key == key)
    }

    /// The entry the policy evicts next, if any.
    pub fn victim(&self) -> Option<u32> {
        if self.first_bucket == NIL {
            None
        } else {
            Some(self.buckets[self.first_bucket as usize].tail)
        }
    }

    /// Records a use of `slot` (a hit).
    pub fn touch(&mut self, slot: u32) {
        match self.eviction {
            Eviction::Fifo => {}
            Eviction::Lru => {
                let b = self.entries[slot as usize].bucket;
                if self.buckets[b as usize].head == slot {
                    return; // already most recent (and unlinking would free the only bucket)
                }
                self.unlink(slot);
                self.push_head(b, slot);
            }
            Eviction::Lfu => {
                let b = self.entries[slot as usize].bucket;
                let freq = self.buckets[b as usize].freq + 1;
                let next = self.buckets[b as usize].next;
                let target = if next != NIL && self.buckets[next as usize].freq == freq {
                    next
                } else {
                    self.new_bucket_after(b, freq)
                };
                self.unlink(slot);
                self.push_head(target, slot);
            }
        }
    }

    /// Inserts `e` (its key must be absent and [`Store::has_room`] true); returns its slot.
    ///
    /// # Panics
    /// If the key is present or there is no room (caller bugs).
    pub fn insert(&mut self, e: Entry) -> u32 {
        assert!(self.has_room(e.size), "insert without room");
        let slot = match self.free.pop() {
            Some(s) => {
                self.entries[s as usize] = e;
                s
            }
            None => {
                self.entries.push(e);
                (self.entries.len() - 1) as u32
            }
        };
        let prev = self.index.insert(e.key, slot);
        assert!(prev.is_none(), "key {} inserted twice", e.key);
        self.used += self.charge(e.size);
        let b = match self.eviction {
            Eviction::Lru | Eviction::Fifo => {
                if self.first_bucket == NIL {
                    self.new_bucket_after(NIL, 0)
                } else {
                    self.first_bucket
                }
            }
            Eviction::Lfu => {
                let first = self.first_bucket;
                if first != NIL && self.buckets[first as usize].freq == 1 {
                    first
                } else {
                    self.new_bucket_after(NIL, 1)
                }
            }
        };
        self.push_head(b, slot);
        slot
    }

    /// Removes the entry in `slot` and returns it (with its hit-log fields, for the caller to
    /// release).
    pub fn remove(&mut self, slot: u32) -> Entry {
        let e = self.entries[slot as usize];
        assert!(e.live, "remove of a free slot");
        self.unlink(slot);
        self.index.remove(&e.key);
        self.used -= self.charge(e.size);
        self.entries[slot as usize].live = false;
        self.free.push(slot);
        e
    }

    /// Removes everything (a crash).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.free.clear();
        self.index.clear();
        self.buckets.clear();
        self.free_buckets.clear();
        self.first_bucket = NIL;
        self.used = 0;
    }

    /// Keys in eviction order, next victim first (for tests; O(n)).
    pub fn eviction_order(&self) -> Vec<u64> {
        let mut out = Vec::with_capacity(self.len());
        let mut b = self.first_bucket;
        while b != NIL {
            let mut s = self.buckets[b as usize].tail;
            while s != NIL {
                out.push(self.entries[s as usize].key);
                s = self.entries[s as usize].prev;
            }
            b = self.buckets[b as usize].next;
        }
        out
    }

    fn new_bucket_after(&mut self, after: u32, freq: u64) -> u32 {
        let next = if after == NIL {
            self.first_bucket
        } else {
            self.buckets[after as usize].next
        };
        let bucket = Bucket {
            freq,
            head: NIL,
            tail: NIL,
            prev: after,
            next,
        };
        let b = match self.free_buckets.pop() {
            Some(b) => {
                self.buckets[b as usize] = bucket;
                b
            }
            None => {
                self.buckets.push(bucket);
                (self.buckets.len() - 1) as u32
            }
        };
        if after == NIL {
            self.first_bucket = b;
        } else {
            self.buckets[after as usize].next = b;
        }
        if next != NIL {
            self.buckets[next as usize].prev = b;
        }
        b
    }

    fn push_head(&mut self, b: u32, slot: u32) {
        let head = self.buckets[b as usize].head;
        {
            let e = &mut self.entries[slot as usize];
            e.bucket = b;
            e.prev = NIL;
            e.next = head;
        }
        if head != NIL {
            self.entries[head as usize].prev = slot;
        } else {
            self.buckets[b as usize].tail = slot;
        }
        self.buckets[b as usize].head = slot;
    }

    /// Unlinks `slot` from its bucket; frees the bucket when it empties.
    fn unlink(&mut self, slot: u32) {
        let Entry {
            prev, next, bucket, ..
        } = self.entries[slot as usize];
        if prev != NIL {
            self.entries[prev as usize].next = next;
        } else {
            self.buckets[bucket as usize].head = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        } else {
            self.buckets[bucket as usize].tail = prev;
        }
        let e = &mut self.entries[slot as usize];
        e.prev = NIL;
        e.next = NIL;
        if self.buckets[bucket as usize].head == NIL {
            let Bucket { prev, next, .. } = self.buckets[bucket as usize];
            if prev != NIL {
                self.buckets[prev as usize].next = next;
            } else {
                self.first_bucket = next;
            }
            if next != NIL {
                self.buckets[next as usize].prev = prev;
            }
            self.free_buckets.push(bucket);
        }
    }
}
