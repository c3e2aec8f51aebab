//! Replicated key-value stores: storage replicas ([`StoreReplica`]) behind a store front
//! ([`StoreFront`]) that routes, coordinates and checks consistency.
//!
//! # Components
//!
//! * **Replica** — a storage node on a node of its own (so crashes, partitions and clock skew
//!   apply to it): a FIFO queue over `servers` workers serving client reads (`read_time`),
//!   client writes (`write_time`) and replicated applies (`apply_time`). A primary or leader
//!   holds each outgoing replicated write for its `replication_delay` (log shipping,
//!   batching; drawn per write and follower, shipped in order; lost if it crashes
//!   meanwhile); at the
//!   follower the apply queues with client work, so **replication lag grows with load**. Data is durable: a crash loses the
//!   queue, not the values. Every value has a version; a replica stores a version only if it
//!   is newer than the one it holds, so out-of-order applies never go back in time.
//! * **Front** (`Store` in scenarios) — the driver/proxy clients talk to with the generic
//!   [`crate::Request`]/[`crate::Response`] pair (the response carries the version read or
//!   written, so caches and services can sit in front). Several fronts may share one set of
//!   replicas (one per region or partition side); they report acknowledged writes to each
//!   other as observers so each checker sees the whole history.
//!
//! # Replication modes ([`Replication`])
//!
//! * `Standalone` — one replica, the latency model alone.
//! * `PrimaryBackup` — writes go to the primary, which assigns the version (its true write
//!   time, strictly increasing: a stand-in for a (term, sequence) pair), applies, streams
//!   [`Msg::Replicate`] to every in-sync follower and acknowledges per [`Ack`]: `Async` at
//!   once, `SemiSync { k }` after k follower acks, `Sync` after all in-sync followers. A
//!   follower whose stream fails falls out of sync; the primary pings it every
//!   `resync_interval` and, once it answers, catches it up by sending every newer key.
//!   Reads per [`ReadFrom`]: primary, a random follower, or a follower unless the same end
//!   user wrote the key within a window (read-your-writes by routing).
//! * **Failover** ([`Failover`]) — the front heartbeats every replica (`heartbeat`, as
//!   datagrams); a replica silent for `detect_after` is unreachable. When the primary is, the
//!   front picks the reachable follower with the highest applied version (or a configured
//!   one), waits `redirect_delay` (DNS / health-check propagation), sends it `Promote` and the
//!   others `Follow`. A deposed primary that comes back is told to follow. **RTO** (`rto_ns`)
//!   runs from the last time the old primary answered to the first write the new one
//!   acknowledges; **RPO** (`rpo_writes_lost`) counts acknowledged writes newer than what
//!   the promoted replica had applied — exactly the acknowledged writes the failover loses.
//!   Active-passive across data centres is this mode with the follower in another region.
//! * `Quorum { r, w, read_repair }` — leaderless: the front stamps a version from its
//!   **local** clock, sends the write to all n replicas and acknowledges after `w` acks;
//!   reads ask `r` random reachable replicas and return the newest version, optionally
//!   repairing the stale ones. `r + w > n` never reads stale data without failures.
//! * `MultiLeader { home }` — every replica accepts writes (the front uses its `home`
//!   leader, in AP mode another one if home is unreachable), stamps them with its **local
//!   clock** (low 8 bits = site) and replicates them ([`Msg::Merge`]) to the others, which keep
//!   the larger stamp (last-writer-wins). A write whose stamp is lower than a version already
//!   acknowledged is a **lost update** (clock skew makes later writes lose). A merge whose
//!   writer had not seen the receiver's current value is a **conflict**. With
//!   `version_vectors` the leaders track causality instead (up to 3 leaders, vectors packed in
//!   the version): a write bumps its leader's counter over everything held; a merge that
//!   neither dominates nor is dominated is a **conflict**, kept as siblings under the merged
//!   vector (no update is lost); clients and the checker see the number of writes a vector
//!   reflects as its version.
//!
//! # CP or AP ([`PartitionPolicy`])
//!
//! A front that cannot reach a majority of the replicas (or, for quorums, `r`/`w` of them)
//! refuses with `Unavailable` (`Cp`) or serves from what it can reach (`Ap`: stale reads from
//! followers, sloppy quorums counted in `sloppy_ops`). SQL-like and NoSQL-like presets in the
//! scenario schema are combinations of these options.
//!
//! # The checker ([`checker::Checker`])
//!
//! The front records every acknowledged write (true time, version) and judges every read
//! against that history: stale reads, staleness in time and versions, the PBS t-visibility
//! counters `visibility_reads@dt_ms=B` / `visibility_fresh@dt_ms=B` (reads starting B..next
//! bucket ms after the key's last acknowledged write, and those that saw it), read-your-writes
//! and monotonic-read violations per (client component, end user, key) session, lost updates.
//!
//! # Metrics of the front
//!
//! | name | kind | meaning |
//! |---|---|---|
//! | `arrivals`, `completed`, `errors` | counter | requests, `Ok` answers, other answers (availability = completed ÷ arrivals per window) |
//! | `unavailable`, `timeouts` | counter | errors by cause (refused by the CP policy or no replica; no answer in `timeout`) |
//! | `reads`, `writes` | counter | successful operations |
//! | `latency_ns`, `read_latency_ns`, `write_latency_ns` | histogram | arrival → answer |
//! | `in_system` | gauge | requests inside |
//! | `stale_reads`, `stale_versions_behind` | counter | stale reads, and the versions they were behind in total |
//! | `staleness_ns` | histogram | per stale read: how long the newer value had been acknowledged |
//! | `visibility_reads@dt_ms=B`, `visibility_fresh@dt_ms=B` | counter | t-visibility |
//! | `ryw_violations`, `monotonic_violations` | counter | session guarantees broken |
//! | `lost_updates` | counter | acknowledged writes older (by version) than one acknowledged before them |
//! | `failovers`, `rto_ns`, `rpo_writes_lost` | counter, histogram, counter | per failover |
//! | `sloppy_ops`, `read_repairs` | counter | quorum degraded to what was reachable (AP); repairs sent |
//!
//! # Metrics of a replica
//!
//! `arrivals`, `completed`, `rejected` (queue full), `refused_not_primary`, `latency_ns`,
//! `wait_ns`, `in_system`, `queue_len`, `busy`, `servers`, `keys`, `replicated_applied`,
//! `replication_lag_ns` (primary-backup: primary write → applied here; multi-leader: writer's
//! stamp → this node's clock, so it includes skew), `conflicts`, `lww_discarded` (writes older
//! than the value held).

pub mod checker;
mod config;
mod front;
mod replica;

pub use config::{
    Ack, DEFAULT_VISIBILITY_BUCKETS_MS, Failover, MAX_REPLICAS, MAX_VV_LEADERS, PartitionPolicy,
    Promote, ReadFrom, ReplicaConfig, ReplicaMode, Replication, StoreConfig, vv,
};
pub use front::StoreFront;
pub use replica::StoreReplica;

use clustersim_engine::{StableHash, StableHasher};

/// Handle meaning "no answer expected" (read repairs, replicated work).
pub const NO_ID: u32 = u32::MAX;

/// Store traffic (inside [`crate::Msg::Store`]). 24 bytes at most, so [`crate::Msg`] stays at 32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    /// Front → replica: read `key`.
    Read {
        /// The front's handle, echoed.
        id: u32,
        /// The key.
        key: u64,
    },
    /// Front → replica: write `key`; `version` 0 = the primary or leader assigns it.
    Write {
        /// The front's handle, echoed ([`NO_ID`]: a read repair, no answer).
        id: u32,
        /// The key.
        key: u64,
        /// The version to store, or 0.
        version: u64,
    },
    /// Replica → front: the version read (0 = key absent).
    ReadOk {
        /// The handle.
        id: u32,
        /// Version read.
        version: u64,
    },
    /// Replica → front: the write is acknowledged with this version.
    WriteOk {
        /// The handle.
        id: u32,
        /// Version written.
        version: u64,
    },
    /// Replica → front: not the primary (queue full: `primary` = `u32::MAX`).
    Refused {
        /// The handle.
        id: u32,
        /// Component id of the primary this replica follows, or `u32::MAX`.
        primary: u32,
    },
    /// Primary → follower: apply this write.
    Replicate {
        /// True send time in µs modulo 2³² (replication lag up to 71 minutes).
        sent_us: u32,
        /// The key.
        key: u64,
        /// The version.
        version: u64,
    },
    /// Leader → other leaders: apply this write if its stamp is newer.
    Merge {
        /// Low 32 bits of the version the writer replaced (conflict detection).
        base_lo: u32,
        /// The key.
        key: u64,
        /// The writer's stamp.
        version: u64,
    },
    /// Follower → primary: applied `version`.
    ReplAck {
        /// The version applied.
        version: u64,
    },
    /// Front → replica (or primary → lagging follower): are you there?
    Heartbeat {
        /// Echoed.
        seq: u32,
    },
    /// The answer to a [`Msg::Heartbeat`].
    HeartbeatAck {
        /// The heartbeat's seq.
        seq: u32,
        /// The replica's term.
        term: u32,
        /// Highest version it applied.
        applied: u64,
        /// Whether it acts as primary.
        primary: bool,
    },
    /// Front → replica: become primary for `term`.
    Promote {
        /// The new term.
        term: u32,
    },
    /// Replica → front: promoted, with what it had applied.
    Promoted {
        /// Its term.
        term: u32,
        /// Highest version applied.
        applied: u64,
    },
    /// Front → replica: follow `primary` (a component id) from `term` on.
    Follow {
        /// The term.
        term: u32,
        /// The primary's component id.
        primary: u32,
    },
    /// Front → peer front (observer, no network): a write was acknowledged.
    Observed {
        /// The key.
        key: u64,
        /// The version.
        version: u64,
    },
}

const _: () = assert!(size_of::<Msg>() <= 24);

impl StableHash for Msg {
    fn stable_hash(&self, h: &mut StableHasher) {
        let (tag, a, b, c) = match *self {
            Msg::Read { id, key } => (0, u64::from(id), key, 0),
            Msg::Write { id, key, version } => (1, u64::from(id), key, version),
            Msg::ReadOk { id, version } => (2, u64::from(id), version, 0),
            Msg::WriteOk { id, version } => (3, u64::from(id), version, 0),
            Msg::Refused { id, primary } => (4, u64::from(id), u64::from(primary), 0),
            Msg::Replicate {
                sent_us,
                key,
                version,
            } => (5, u64::from(sent_us), key, version),
            Msg::Merge {
                base_lo,
                key,
                version,
            } => (6, u64::from(base_lo), key, version),
            Msg::ReplAck { version } => (7, version, 0, 0),
            Msg::Heartbeat { seq } => (8, u64::from(seq), 0, 0),
            Msg::HeartbeatAck {
                seq,
                term,
                applied,
                primary,
            } => (
                9,
                (u64::from(seq) << 32) | u64::from(term),
                applied,
                u64::from(primary),
            ),
            Msg::Promote { term } => (10, u64::from(term), 0, 0),
            Msg::Promoted { term, applied } => (11, u64::from(term), applied, 0),
            Msg::Follow { term, primary } => (12, u64::from(term), u64::from(primary), 0),
            Msg::Observed { key, version } => (13, key, version, 0),
        };
        h.write_u64(tag);
        h.write_u64(a);
        h.write_u64(b);
        h.write_u64(c);
    }
}

/// Timers of the store components.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Replica: the job in `slot` finished its service.
    Done {
        /// Job slot.
        slot: u32,
    },
    /// Replica: the replicated job in `slot` ends its replication delay.
    Arrive {
        /// Job slot.
        slot: u32,
    },
    /// Replica (primary): ping followers out of sync.
    ResyncTick,
    /// Front: send heartbeats, check the primary.
    Heartbeat,
    /// Front: request `id` has waited `timeout`.
    OpTimeout {
        /// The front's handle.
        id: u32,
    },
    /// Front: the redirect delay of a failover is over.
    Redirect,
}

impl StableHash for Timer {
    fn stable_hash(&self, h: &mut StableHasher) {
        let (tag, a) = match *self {
            Timer::Done { slot } => (0, u64::from(slot)),
            Timer::Arrive { slot } => (1, u64::from(slot)),
            Timer::ResyncTick => (2, 0),
            Timer::Heartbeat => (3, 0),
            Timer::OpTimeout { id } => (4, u64::from(id)),
            Timer::Redirect => (5, 0),
        };
        h.write_u64(tag);
        h.write_u64(a);
    }
}

impl From<Msg> for crate::Msg {
    fn from(m: Msg) -> crate::Msg {
        crate::Msg::Store(m)
    }
}

impl From<Timer> for crate::Timer {
    fn from(t: Timer) -> crate::Timer {
        crate::Timer::Store(t)
    }
}
