//! The history checker: every acknowledged write (with its true acknowledgement time and
//! version) and every read (with its true invocation time and the version it returned), judged
//! as they happen. Pure data structure; the front feeds it and records the verdicts.

use std::collections::{BTreeMap, VecDeque};

use clustersim_engine::{SimDuration, SimTime};

#[derive(Clone, Debug, Default)]
struct KeyHistory {
    /// Recent acknowledged writes `(version, ack time)`, in acknowledgement order.
    writes: VecDeque<(u64, SimTime)>,
    /// Largest version ever acknowledged for the key.
    max_version: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Session {
    /// Version of the end user's last acknowledged write of the key (0 = none).
    written: u64,
    /// When that write was acknowledged.
    written_at: SimTime,
    /// Largest version the end user has read or written for the key.
    seen: u64,
}

/// What the checker concluded about one read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadVerdict {
    /// A write acknowledged before the read started had a newer version than the one returned.
    pub stale: bool,
    /// How many such writes (within the remembered history).
    pub versions_behind: u64,
    /// How long the oldest of them had been acknowledged when the read started.
    pub staleness: SimDuration,
    /// Index of the t-visibility bucket of (read start − last acknowledged write), if the key
    /// had an acknowledged write before the read.
    pub bucket: Option<usize>,
    /// Whether the read saw that last acknowledged write (or a newer one).
    pub fresh: bool,
    /// The reader had written a newer version of the key itself.
    pub ryw_violation: bool,
    /// The reader had already seen a newer version of the key.
    pub monotonic_violation: bool,
}

/// The history checker (see the module docs).
#[derive(Clone, Debug)]
pub struct Checker {
    keys: BTreeMap<u64, KeyHistory>,
    sessions: BTreeMap<(u64, u64), Session>,
    history: usize,
    max_sessions: usize,
    bucket_edges_ns: Vec<u64>,
}

impl Checker {
    /// A checker remembering `history` writes per key, at most `max_sessions` sessions, with
    /// t-visibility buckets starting at `bucket_edges_ms` (first 0, increasing).
    pub fn new(history: usize, max_sessions: usize, bucket_edges_ms: &[u64]) -> Checker {
        assert!(history >= 1 && bucket_edges_ms.first() == Some(&0));
        Checker {
            keys: BTreeMap::new(),
            sessions: BTreeMap::new(),
            history,
            max_sessions,
            bucket_edges_ns: bucket_edges_ms.iter().map(|m| m * 1_000_000).collect(),
        }
    }

    /// Records an acknowledged write; returns whether it is a **lost update**: a newer
    /// version of the key was acknowledged before it, so under version order (last-writer-wins)
    /// this write, although later in real time, can never be the key's value.
    pub fn write_acked(&mut self, key: u64, version: u64, now: SimTime) -> bool {
        let h = self.keys.entry(key).or_default();
        let lost = version < h.max_version;
        h.max_version = h.max_version.max(version);
        if h.writes.len() == self.history {
            h.writes.pop_front();
        }
        h.writes.push_back((version, now));
        lost
    }

    /// Records that end user `client` wrote `version` of `key` (acknowledged at `now`).
    pub fn session_write(&mut self, client: u64, key: u64, version: u64, now: SimTime) {
        if let Some(s) = self.session(client, key) {
            s.written = version;
            s.written_at = now;
            s.seen = s.seen.max(version);
        }
    }

    /// When end user `client` last had a write of `key` acknowledged, if tracked.
    pub fn last_write_at(&self, client: u64, key: u64) -> Option<SimTime> {
        self.sessions
            .get(&(client, key))
            .filter(|s| s.written != 0)
            .map(|s| s.written_at)
    }

    fn session(&mut self, client: u64, key: u64) -> Option<&mut Session> {
        if self.sessions.len() >= self.max_sessions && !self.sessions.contains_key(&(client, key)) {
            return None;
        }
        Some(self.sessions.entry((client, key)).or_default())
    }

    /// Judges a read by `client` of `key`, invoked at `start`, that returned `version`.
    pub fn read(&mut self, client: u64, key: u64, version: u64, start: SimTime) -> ReadVerdict {
        let mut v = ReadVerdict::default();
        if let Some(h) = self.keys.get(&key) {
            let mut oldest_newer: Option<SimTime> = None;
            let mut last: Option<(u64, SimTime)> = None;
            for &(wv, at) in &h.writes {
                if at > start {
                    break;
                }
                last = Some((wv, at));
                if wv > version {
                    v.versions_behind += 1;
                    oldest_newer = Some(oldest_newer.map_or(at, |o: SimTime| o.min(at)));
                }
            }
            if let Some(o) = oldest_newer {
                v.stale = true;
                v.staleness = start - o;
            }
            if let Some((wv, at)) = last {
                let dt = (start - at).as_nanos();
                let b = self.bucket_edges_ns.partition_point(|&e| e <= dt) - 1;
                v.bucket = Some(b);
                v.fresh = version >= wv;
            }
        }
        if let Some(s) = self.session(client, key) {
            v.ryw_violation = s.written != 0 && version < s.written;
            v.monotonic_violation = version < s.seen;
            s.seen = s.seen.max(version);
        }
        v
    }

    /// Sessions tracked.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> SimTime {
        SimTime::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn stale_reads_staleness_and_buckets() {
        let mut c = Checker::new(8, 100, &[0, 10, 100]);
        assert!(!c.write_acked(1, 100, t(0)));
        assert!(!c.write_acked(1, 200, t(50)));
        // Read at 70 ms returning version 100: one version behind, stale for 20 ms, in the
        // 10..100 ms bucket of the last write (50 ms ago), not fresh.
        let v = c.read(9, 1, 100, t(70));
        assert!(v.stale && !v.fresh);
        assert_eq!(v.versions_behind, 1);
        assert_eq!(v.staleness, SimDuration::from_millis(20));
        assert_eq!(v.bucket, Some(1));
        // A fresh read 200 ms later.
        let v = c.read(9, 1, 200, t(250));
        assert!(!v.stale && v.fresh);
        assert_eq!(v.bucket, Some(2));
        // Writes acknowledged after the read started do not count.
        let v = c.read(9, 2, 0, t(250));
        assert_eq!(v, ReadVerdict::default());
        // Going back to version 100 after seeing 200 is a monotonic-read violation.
        let v = c.read(9, 1, 100, t(300));
        assert!(v.monotonic_violation && !v.ryw_violation);
    }

    #[test]
    fn sessions_and_lost_updates() {
        let mut c = Checker::new(4, 1, &[0]);
        assert!(!c.write_acked(5, 300, t(1)));
        // Acknowledged later with a smaller version (a slow clock): lost.
        assert!(c.write_acked(5, 200, t(2)));
        c.session_write(7, 5, 200, t(2));
        assert_eq!(c.last_write_at(7, 5), Some(t(2)));
        let v = c.read(7, 5, 100, t(3));
        assert!(v.ryw_violation && v.stale && v.versions_behind == 2);
        // The session table is full: other sessions are not tracked.
        let v = c.read(8, 5, 100, t(3));
        assert!(!v.ryw_violation && !v.monotonic_violation);
        assert_eq!(c.sessions(), 1);
    }
}
