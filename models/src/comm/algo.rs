//! The pure algorithmic cores of the communication components: the gateway's connection
//! table ([`Subscribers`]), the poll server's event log ([`EventLog`]), the receiver's playout
//! bookkeeping ([`Playout`]) and the reconnect backoff ([`backoff`]). No context, no I/O:
//! every function takes the time it needs as an argument.

use clustersim_engine::{ComponentId, SimDuration, SimTime};

/// Why a subscription was refused or accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// A new connection was added.
    Added,
    /// The client already had a connection (a reconnect the gateway had not noticed).
    Renewed,
    /// The table is at `max_connections`.
    Full,
}

/// The connections a gateway holds: a set of client ids with a capacity, kept sorted so
/// lookups are binary searches and fan-out runs in id order (deterministic).
#[derive(Clone, Debug)]
pub struct Subscribers {
    ids: Vec<ComponentId>,
    max: u32,
}

impl Subscribers {
    /// An empty table holding at most `max` connections.
    pub fn new(max: u32) -> Subscribers {
        Subscribers {
            ids: Vec::new(),
            max,
        }
    }
    /// Admits `c` if there is room (or it is already connected).
    pub fn admit(&mut self, c: ComponentId) -> Admit {
        match self.ids.binary_search(&c) {
            Ok(_) => Admit::Renewed,
            Err(_) if self.ids.len() as u64 >= u64::from(self.max) => Admit::Full,
            Err(at) => {
                self.ids.insert(at, c);
                Admit::Added
            }
        }
    }
    /// Removes `c`; returns whether it was connected.
    pub fn remove(&mut self, c: ComponentId) -> bool {
        match self.ids.binary_search(&c) {
            Ok(at) => {
                self.ids.remove(at);
                true
            }
            Err(_) => false,
        }
    }
    /// Whether `c` is connected.
    pub fn contains(&self, c: ComponentId) -> bool {
        self.ids.binary_search(&c).is_ok()
    }
    /// Connected clients in id order.
    pub fn ids(&self) -> &[ComponentId] {
        &self.ids
    }
    /// Number of connections.
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
    /// Drops every connection (crash).
    pub fn clear(&mut self) {
        self.ids.clear();
    }
}

/// A bounded log of the most recent events `(seq, published_at)`, in arrival order.
#[derive(Clone, Debug)]
pub struct EventLog {
    buf: Vec<(u64, SimTime)>,
    /// Index of the oldest entry once the buffer is full.
    head: usize,
    capacity: usize,
}

impl EventLog {
    /// An empty log keeping the last `capacity` (`>= 1`) events.
    pub fn new(capacity: usize) -> EventLog {
        EventLog {
            buf: Vec::with_capacity(capacity.min(1 << 16)),
            head: 0,
            capacity: capacity.max(1),
        }
    }
    /// Appends an event, evicting the oldest when full.
    pub fn push(&mut self, seq: u64, at: SimTime) {
        if self.buf.len() < self.capacity {
            self.buf.push((seq, at));
        } else {
            self.buf[self.head] = (seq, at);
            self.head = (self.head + 1) % self.capacity;
        }
    }
    /// The sequence number after the newest event (0 when empty).
    pub fn next_seq(&self) -> u64 {
        self.iter().last().map_or(0, |(s, _)| s + 1)
    }
    /// Events oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (u64, SimTime)> + '_ {
        let (a, b) = self.buf.split_at(self.head);
        b.iter().chain(a).copied()
    }
    /// Events with `seq >= from`, oldest first.
    pub fn since(&self, from: u64) -> impl Iterator<Item = (u64, SimTime)> + '_ {
        self.iter().filter(move |(s, _)| *s >= from)
    }
    /// Forgets everything (crash).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.head = 0;
    }
}

/// How one arriving chunk was classified by [`Playout::arrive`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// Arrived by its playout deadline.
    OnTime,
    /// Arrived after its deadline (useless for live playout).
    Late,
    /// A second copy of a chunk already received (datagram duplication).
    Duplicate,
    /// Arrived after it had already been declared lost (or long after being received).
    Stale,
}

/// Chunks a receiver keeps track of at once; a chunk further ahead than this forces the oldest
/// missing ones to be declared lost.
pub const PLAYOUT_WINDOW: u64 = 1 << 14;

/// The receiver side of live media: classifies arrivals as on time / late / duplicate and
/// declares missing chunks lost.
///
/// Chunk `s` is *on time* if it arrives by `sent_at(s) + playout_delay`, *late* if it arrives
/// after that, and *lost* if it has not arrived once some later chunk `s' > s` was sent at
/// least `lost_after` ago (so `s` itself was sent even earlier). Sequence numbers start at 0.
#[derive(Clone, Debug)]
pub struct Playout {
    playout_delay: SimDuration,
    lost_after: SimDuration,
    /// Lowest sequence number not yet finalized.
    base: u64,
    /// One past the highest sequence number received.
    end: u64,
    /// `sent_at + 1` in ns of received chunks, 0 for missing ones; indexed by `seq % WINDOW`.
    ring: Vec<u64>,
}

impl Playout {
    /// A receiver with the given deadlines.
    pub fn new(playout_delay: SimDuration, lost_after: SimDuration) -> Playout {
        Playout {
            playout_delay,
            lost_after,
            base: 0,
            end: 0,
            ring: vec![0; PLAYOUT_WINDOW as usize],
        }
    }

    #[inline]
    fn slot(seq: u64) -> usize {
        (seq % PLAYOUT_WINDOW) as usize
    }

    /// Classifies chunk `seq` sent at `sent_at` arriving at `now`. The second value is the
    /// number of older chunks declared lost to make room (normally 0).
    pub fn arrive(&mut self, seq: u64, sent_at: SimTime, now: SimTime) -> (Arrival, u64) {
        if seq < self.base {
            return (Arrival::Stale, 0);
        }
        let mut lost = 0;
        while seq >= self.base + PLAYOUT_WINDOW {
            lost += self.finalize_one();
        }
        let slot = Self::slot(seq);
        if self.ring[slot] != 0 {
            return (Arrival::Duplicate, lost);
        }
        self.ring[slot] = sent_at.as_nanos() + 1;
        self.end = self.end.max(seq + 1);
        let deadline = sent_at.saturating_add(self.playout_delay);
        let class = if now <= deadline {
            Arrival::OnTime
        } else {
            Arrival::Late
        };
        (class, lost)
    }

    /// Finalizes `base`: returns 1 if it was missing (lost), 0 if it had arrived.
    fn finalize_one(&mut self) -> u64 {
        let slot = Self::slot(self.base);
        let missing = self.ring[slot] == 0;
        self.ring[slot] = 0;
        self.base += 1;
        self.end = self.end.max(self.base);
        u64::from(missing)
    }

    /// Declares lost every missing chunk whose successor was sent `lost_after` before `now`;
    /// returns how many.
    pub fn expire(&mut self, now: SimTime) -> u64 {
        let mut lost = 0;
        while self.base < self.end {
            if self.ring[Self::slot(self.base)] != 0 {
                self.finalize_one();
                continue;
            }
            // The next received chunk bounds the missing one's send time from above
            // (`end - 1` was received, so the search always finds one).
            let mut next = self.base + 1;
            while next < self.end && self.ring[Self::slot(next)] == 0 {
                next += 1;
            }
            let bound = SimTime::from_nanos(self.ring[Self::slot(next)] - 1);
            if now < bound.saturating_add(self.lost_after) {
                break;
            }
            lost += self.finalize_one();
        }
        lost
    }

    /// One past the highest sequence number received (or finalized).
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Forgets everything (a restart of the receiver).
    pub fn reset(&mut self) {
        self.ring.iter_mut().for_each(|s| *s = 0);
        self.base = 0;
        self.end = 0;
    }

    /// Re-bases an empty receiver on the first chunk it sees (a receiver that starts late
    /// does not count the chunks before it as lost).
    pub fn start_at(&mut self, seq: u64) {
        if self.end == 0 && self.base == 0 {
            self.base = seq;
            self.end = seq;
        }
    }
}

/// Reconnect backoff before attempt `attempt` (1-based), before jitter:
/// `min(max, base × 2^(attempt-1))`.
pub fn backoff(base: SimDuration, max: SimDuration, attempt: u32) -> SimDuration {
    let shift = attempt.saturating_sub(1).min(40);
    SimDuration::from_nanos(base.as_nanos().saturating_mul(1u64 << shift)).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> SimTime {
        SimTime::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn subscribers_respect_capacity_and_order() {
        let mut s = Subscribers::new(2);
        assert_eq!(s.admit(ComponentId(5)), Admit::Added);
        assert_eq!(s.admit(ComponentId(3)), Admit::Added);
        assert_eq!(s.admit(ComponentId(5)), Admit::Renewed);
        assert_eq!(s.admit(ComponentId(9)), Admit::Full);
        assert_eq!(s.ids(), &[ComponentId(3), ComponentId(5)]);
        assert!(s.remove(ComponentId(3)));
        assert!(!s.remove(ComponentId(3)));
        assert_eq!(s.admit(ComponentId(9)), Admit::Added);
        assert!(s.contains(ComponentId(9)) && !s.contains(ComponentId(3)));
    }

    #[test]
    fn event_log_keeps_the_newest() {
        let mut l = EventLog::new(3);
        assert_eq!(l.next_seq(), 0);
        for s in 0..5 {
            l.push(s, t(s));
        }
        let all: Vec<u64> = l.iter().map(|e| e.0).collect();
        assert_eq!(all, [2, 3, 4]);
        let since: Vec<u64> = l.since(3).map(|e| e.0).collect();
        assert_eq!(since, [3, 4]);
        assert_eq!(l.next_seq(), 5);
    }

    #[test]
    fn playout_classifies_on_time_late_lost_duplicate() {
        let mut p = Playout::new(SimDuration::from_millis(100), SimDuration::from_millis(500));
        assert_eq!(p.arrive(0, t(0), t(50)), (Arrival::OnTime, 0));
        assert_eq!(p.arrive(1, t(10), t(110)), (Arrival::OnTime, 0)); // exactly at deadline
        assert_eq!(p.arrive(2, t(20), t(121)), (Arrival::Late, 0));
        assert_eq!(p.arrive(2, t(20), t(130)), (Arrival::Duplicate, 0));
        // 3 and 4 missing, 5 arrives.
        assert_eq!(p.arrive(5, t(50), t(60)), (Arrival::OnTime, 0));
        assert_eq!(p.expire(t(549)), 0, "5 was sent 499 ms ago: not yet");
        assert_eq!(p.expire(t(550)), 2);
        assert_eq!(p.arrive(3, t(30), t(600)), (Arrival::Stale, 0));
        assert_eq!(p.expire(t(10_000)), 0);
    }

    #[test]
    fn playout_window_overflow_declares_oldest_lost() {
        let mut p = Playout::new(SimDuration::from_millis(100), SimDuration::from_secs(5));
        p.arrive(0, t(0), t(1));
        let (c, lost) = p.arrive(PLAYOUT_WINDOW + 2, t(10), t(11));
        assert_eq!(c, Arrival::OnTime);
        assert_eq!(lost, 2, "seq 1 and 2 pushed out of the window");
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let ms = SimDuration::from_millis;
        let b: Vec<u64> = (1..=6)
            .map(|a| backoff(ms(100), ms(1000), a).as_nanos() / 1_000_000)
            .collect();
        assert_eq!(b, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff(ms(100), ms(1000), u32::MAX), ms(1000));
    }
}
