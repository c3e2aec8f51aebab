//! Plain-Rust configuration of the replicated store: the front ([`StoreConfig`]) and its
//! replicas ([`ReplicaConfig`]). The scenarios crate builds them from RON and links each
//! replica to its front ([`ReplicaConfig::peers`], [`ReplicaConfig::mode`]); every default is
//! stated on the item that has it.

use clustersim_engine::{ComponentId, Dist, SimDuration, Transport};

use crate::error::{ConfigError, positive};

/// Most replicas one store may have (quorum bookkeeping keeps per-replica arrays inline).
pub const MAX_REPLICAS: usize = 16;

/// How writes propagate between replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replication {
    /// One replica, no replication: a plain key-value store with a latency model.
    Standalone,
    /// Single primary (the first replica at start), the others follow it.
    PrimaryBackup {
        /// When the primary acknowledges a write.
        ack: Ack,
    },
    /// Leaderless (Dynamo-style): the front writes to all `n = replicas` and waits for `w`
    /// acks, reads from `r` replicas and returns the newest version.
    Quorum {
        /// Read quorum, `1..=n`.
        r: u8,
        /// Write quorum, `1..=n`.
        w: u8,
        /// Send the newest version to the read quorum's stale members.
        read_repair: bool,
    },
    /// Multi-leader: every replica accepts writes and replicates them asynchronously to
    /// the others; conflicts are resolved by last-writer-wins on the writing leader's
    /// **local** clock, so clock skew loses updates.
    MultiLeader {
        /// Index (into the replica list) of the leader this front uses while it is reachable.
        home: u8,
        /// Track causality with version vectors instead of last-writer-wins: concurrent
        /// writes are detected and kept as siblings (counted in `conflicts`), none is lost.
        /// At most [`MAX_VV_LEADERS`] leaders.
        version_vectors: bool,
    },
}

/// Most leaders with version vectors: a vector packs one 21-bit counter per leader in a u64
/// (counters saturate at 2,097,151 writes per key and leader).
pub const MAX_VV_LEADERS: usize = 3;

/// Bits per leader counter in a packed version vector.
const VV_BITS: u32 = 21;
const VV_MASK: u64 = (1 << VV_BITS) - 1;

/// Version-vector arithmetic on vectors packed in a `u64` (see [`MAX_VV_LEADERS`]).
pub mod vv {
    use super::{MAX_VV_LEADERS, VV_BITS, VV_MASK};

    /// Counter of leader `i`.
    pub fn get(v: u64, i: usize) -> u64 {
        (v >> (VV_BITS * i as u32)) & VV_MASK
    }
    /// `v` with leader `i`'s counter incremented (saturating).
    pub fn bump(v: u64, i: usize) -> u64 {
        let c = get(v, i);
        if c == VV_MASK {
            v
        } else {
            v + (1 << (VV_BITS * i as u32))
        }
    }
    /// Pointwise maximum.
    pub fn merge(a: u64, b: u64) -> u64 {
        (0..MAX_VV_LEADERS).fold(0, |m, i| {
            m | (get(a, i).max(get(b, i)) << (VV_BITS * i as u32))
        })
    }
    /// Whether `a` ≥ `b` pointwise (a has seen everything b has).
    pub fn dominates(a: u64, b: u64) -> bool {
        (0..MAX_VV_LEADERS).all(|i| get(a, i) >= get(b, i))
    }
    /// Number of writes the vector reflects (a total order for the checker).
    pub fn total(v: u64) -> u64 {
        (0..MAX_VV_LEADERS).map(|i| get(v, i)).sum()
    }
}

impl Replication {
    /// Stable name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Replication::Standalone => "Standalone",
            Replication::PrimaryBackup { .. } => "PrimaryBackup",
            Replication::Quorum { .. } => "Quorum",
            Replication::MultiLeader { .. } => "MultiLeader",
        }
    }
}

/// When a primary acknowledges a write (primary-backup).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ack {
    /// After applying it locally; followers catch up later (lag, possible loss on failover).
    Async,
    /// After `k` followers applied it (capped at the followers in sync).
    SemiSync {
        /// Follower acks to wait for, `>= 1`.
        k: u8,
    },
    /// After every follower in sync applied it.
    Sync,
}

/// Where reads go (primary-backup; other modes have their own rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadFrom {
    /// Always the primary: no stale reads unless a failover lost writes.
    Primary,
    /// A follower chosen at random (the primary if none is reachable).
    Replicas,
    /// A follower, unless the same end user wrote the same key within `window`: then the
    /// primary (read-your-writes by routing).
    ReplicaUnlessRyw {
        /// How long after a write its author's reads of that key go to the primary, `> 0`.
        window: SimDuration,
    },
}

/// Behaviour when the front cannot reach a majority of the replicas (a partition's minority
/// side) or, for quorums, cannot reach `r` / `w` of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionPolicy {
    /// Consistency: refuse with [`crate::Status::Unavailable`].
    Cp,
    /// Availability: serve with whatever is reachable (possibly stale reads; sloppy quorums).
    Ap,
}

/// Which replica a failover promotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Promote {
    /// The reachable follower with the highest applied version.
    MostUpToDate,
    /// This replica (index into the list) if reachable, else the most up to date.
    Replica(u8),
}

/// Failure detection and promotion, done by the front that has this (one per store).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failover {
    /// Which follower becomes primary.
    pub promote: Promote,
    /// Extra delay between detection and clients reaching the new primary (DNS TTL,
    /// health-check propagation), `>= 0`. Default 0.
    pub redirect_delay: SimDuration,
}

/// The store front: the client-side driver / proxy that routes requests to replicas,
/// coordinates quorums, detects failures, and checks the history of every read and write.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreConfig {
    /// The replicas, in order (the first is the initial primary).
    pub replicas: Vec<ComponentId>,
    /// The replication mode.
    pub replication: Replication,
    /// Read routing for primary-backup. Default [`ReadFrom::Primary`].
    pub read_from: ReadFrom,
    /// Behaviour on the minority side of a partition. Default [`PartitionPolicy::Cp`].
    pub partition: PartitionPolicy,
    /// Failure detection and promotion (primary-backup). Default none.
    pub failover: Option<Failover>,
    /// Heartbeat period to every replica, `> 0`. Default 100 ms.
    pub heartbeat: SimDuration,
    /// A replica unanswered for this long is unreachable (and a primary failed), `> heartbeat`.
    /// Default 500 ms.
    pub detect_after: SimDuration,
    /// A request without an answer after this long fails with `Timeout`, `> 0`. Default 1 s.
    pub timeout: SimDuration,
    /// Other fronts of the same store: acknowledged writes are reported to them (with no
    /// delay, as an observer, not through the network) so every front's checker judges reads
    /// against the whole history. Default none.
    pub peers: Vec<ComponentId>,
    /// Index of this front among the store's fronts (low bits of the versions it stamps). Default 0.
    pub origin: u8,
    /// Lower edges of the t-visibility buckets in ms, strictly increasing, starting at 0.
    pub visibility_buckets_ms: Vec<u64>,
    /// Acknowledged writes remembered per key by the checker, `>= 1`. Default 64.
    pub history_per_key: usize,
    /// Most (end user, key) sessions tracked for read-your-writes and monotonic reads.
    /// Default 1,000,000.
    pub max_sessions: usize,
    /// Transport of store traffic. Default [`Transport::Stream`].
    pub transport: Transport,
}

/// The default t-visibility buckets: 0, 1, 2, 5, 10, 20, 50, 100, 200, 500 ms, 1, 2, 5 s.
pub const DEFAULT_VISIBILITY_BUCKETS_MS: [u64; 13] =
    [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

impl StoreConfig {
    /// A front over `replicas` with every default.
    pub fn new(replicas: Vec<ComponentId>, replication: Replication) -> StoreConfig {
        StoreConfig {
            replicas,
            replication,
            read_from: ReadFrom::Primary,
            partition: PartitionPolicy::Cp,
            failover: None,
            heartbeat: SimDuration::from_millis(100),
            detect_after: SimDuration::from_millis(500),
            timeout: SimDuration::from_secs(1),
            peers: Vec::new(),
            origin: 0,
            visibility_buckets_ms: DEFAULT_VISIBILITY_BUCKETS_MS.to_vec(),
            history_per_key: 64,
            max_sessions: 1_000_000,
            transport: Transport::Stream,
        }
    }

    /// The components this front sends requests to.
    pub fn targets(&self) -> Vec<ComponentId> {
        let mut out = Vec::with_capacity(self.replicas.len());
        for r in &self.replicas {
            if !out.contains(r) {
                out.push(*r);
            }
        }
        out
    }

    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let n = self.replicas.len();
        if n == 0 || n > MAX_REPLICAS {
            return Err(ConfigError::new(
                "replicas",
                format!("a store needs 1 to {MAX_REPLICAS} replicas, got {n}"),
            ));
        }
        for (i, r) in self.replicas.iter().enumerate() {
            if self.replicas[..i].contains(r) {
                return Err(ConfigError::new("replicas", "a replica is listed twice"));
            }
        }
        match self.replication {
            Replication::Standalone if n != 1 => {
                return Err(ConfigError::new(
                    "replication",
                    format!("Standalone takes exactly one replica, got {n}"),
                ));
            }
            Replication::PrimaryBackup { ack } => {
                if n < 2 {
                    return Err(ConfigError::new(
                        "replication",
                        "PrimaryBackup needs at least 2 replicas (a primary and a follower)",
                    ));
                }
                if let Ack::SemiSync { k } = ack
                    && (k == 0 || usize::from(k) >= n)
                {
                    return Err(ConfigError::new(
                        "replication.ack.SemiSync.k",
                        format!("k must be in 1..={} (the followers), got {k}", n - 1),
                    ));
                }
            }
            Replication::Quorum { r, w, .. } => {
                if r == 0 || usize::from(r) > n {
                    return Err(ConfigError::new(
                        "replication.Quorum.r",
                        format!("r must be in 1..={n} (the replicas), got {r}"),
                    ));
                }
                if w == 0 || usize::from(w) > n {
                    return Err(ConfigError::new(
                        "replication.Quorum.w",
                        format!("w must be in 1..={n} (the replicas), got {w}"),
                    ));
                }
            }
            Replication::MultiLeader {
                home,
                version_vectors,
            } => {
                if version_vectors && n > MAX_VV_LEADERS {
                    return Err(ConfigError::new(
                        "replication.MultiLeader.resolution",
                        format!(
                            "version vectors support at most {MAX_VV_LEADERS} leaders, got {n}"
                        ),
                    ));
                }
                if n < 2 {
                    return Err(ConfigError::new(
                        "replication",
                        "MultiLeader needs at least 2 replicas",
                    ));
                }
                if usize::from(home) >= n {
                    return Err(ConfigError::new(
                        "replication.MultiLeader.home",
                        "no such replica",
                    ));
                }
            }
            Replication::Standalone => {}
        }
        if let ReadFrom::ReplicaUnlessRyw { window } = self.read_from
            && window.is_zero()
        {
            return Err(ConfigError::new(
                "read_from.ReplicaUnlessRyw.window",
                "must be > 0",
            ));
        }
        if let Some(f) = self.failover {
            if !matches!(self.replication, Replication::PrimaryBackup { .. }) {
                return Err(ConfigError::new(
                    "failover",
                    "failover promotes a follower: it needs PrimaryBackup replication",
                ));
            }
            if let Promote::Replica(i) = f.promote
                && usize::from(i) >= n
            {
                return Err(ConfigError::new("failover.promote", "no such replica"));
            }
        }
        positive("heartbeat", self.heartbeat.as_nanos() as f64)?;
        positive("timeout", self.timeout.as_nanos() as f64)?;
        if self.detect_after <= self.heartbeat {
            return Err(ConfigError::new(
                "detect_after",
                "must be longer than the heartbeat period",
            ));
        }
        let b = &self.visibility_buckets_ms;
        if b.first() != Some(&0) || b.windows(2).any(|w| w[0] >= w[1]) || b.len() > 64 {
            return Err(ConfigError::new(
                "visibility_buckets",
                "1 to 64 strictly increasing edges starting at 0 ms",
            ));
        }
        if self.history_per_key == 0 {
            return Err(ConfigError::new("history_per_key", "must be >= 1"));
        }
        Ok(())
    }
}

/// What a replica does with writes; set from its front's [`Replication`] when linking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaMode {
    /// Applies what it is sent (standalone or leaderless quorum member).
    Plain,
    /// Primary-backup member (`primary` at start: whether it is the initial primary).
    PrimaryBackup {
        /// When a primary acknowledges.
        ack: Ack,
        /// Initial primary.
        primary: bool,
    },
    /// Multi-leader member with this site index (low bits of its LWW stamps, or its
    /// counter in version vectors).
    Leader {
        /// Site index.
        site: u8,
        /// Version vectors instead of last-writer-wins.
        version_vectors: bool,
    },
}

/// A replica: a storage node with a queueing latency model.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicaConfig {
    /// Concurrent operations (workers / disk queue depth), `>= 1`. Default 4.
    pub servers: u32,
    /// Service time of a client read.
    pub read_time: Dist,
    /// Service time of a client write.
    pub write_time: Dist,
    /// Service time of applying a replicated write (queued with client work, so lag grows
    /// with load). Default: `write_time`.
    pub apply_time: Dist,
    /// Delay this replica, as primary or leader, holds each replicated write before sending
    /// it to each peer (log shipping, batching): drawn per write and peer, but a write never
    /// leaves before the previous one to the same peer (the log is shipped in order). Writes
    /// still held when the node crashes are lost with it. Default 0.
    pub replication_delay: Dist,
    /// Queue bound: operations beyond it are refused (`Rejected`). Default 100,000.
    pub queue_limit: u32,
    /// Set by linking: the other replicas of the store.
    pub peers: Vec<ComponentId>,
    /// Set by linking: the replica's role.
    pub mode: ReplicaMode,
    /// Period of the primary's catch-up of followers that fell out of sync, `> 0`. Set by
    /// linking to the front's heartbeat. Default 100 ms.
    pub resync_interval: SimDuration,
    /// Transport. Default [`Transport::Stream`].
    pub transport: Transport,
}

impl ReplicaConfig {
    /// A standalone replica with the given service times and every default.
    pub fn new(read_time: Dist, write_time: Dist) -> ReplicaConfig {
        ReplicaConfig {
            servers: 4,
            read_time,
            apply_time: write_time.clone(),
            write_time,
            replication_delay: Dist::constant(0.0).expect("0 is a valid constant"),
            queue_limit: 100_000,
            peers: Vec::new(),
            mode: ReplicaMode::Plain,
            resync_interval: SimDuration::from_millis(100),
            transport: Transport::Stream,
        }
    }

    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.servers == 0 {
            return Err(ConfigError::new("servers", "must be >= 1"));
        }
        if self.queue_limit == 0 {
            return Err(ConfigError::new("queue_limit", "must be >= 1"));
        }
        positive("resync_interval", self.resync_interval.as_nanos() as f64)?;
        if self.peers.len() >= MAX_REPLICAS {
            return Err(ConfigError::new("peers", "too many replicas"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_vectors_pack_and_compare() {
        let a = vv::bump(vv::bump(0, 0), 2); // (1, 0, 1)
        let b = vv::bump(0, 1); // (0, 1, 0)
        assert_eq!((vv::get(a, 0), vv::get(a, 1), vv::get(a, 2)), (1, 0, 1));
        assert!(!vv::dominates(a, b) && !vv::dominates(b, a), "concurrent");
        let m = vv::merge(a, b);
        assert!(vv::dominates(m, a) && vv::dominates(m, b));
        assert_eq!(vv::total(m), 3);
        // Saturation instead of overflow into the next leader's counter.
        let full = VV_MASK << VV_BITS;
        assert_eq!(vv::bump(full, 1), full);
    }

    #[test]
    fn invalid_stores_are_refused() {
        let ids: Vec<ComponentId> = (0..4).map(ComponentId).collect();
        let mut c = StoreConfig::new(
            ids.clone(),
            Replication::MultiLeader {
                home: 0,
                version_vectors: true,
            },
        );
        assert_eq!(
            c.validate().unwrap_err().field,
            "replication.MultiLeader.resolution"
        );
        c.replication = Replication::Quorum {
            r: 2,
            w: 5,
            read_repair: true,
        };
        assert_eq!(c.validate().unwrap_err().field, "replication.Quorum.w");
        c.replication = Replication::PrimaryBackup {
            ack: Ack::SemiSync { k: 4 },
        };
        assert_eq!(
            c.validate().unwrap_err().field,
            "replication.ack.SemiSync.k"
        );
        c.replication = Replication::PrimaryBackup { ack: Ack::Async };
        c.detect_after = c.heartbeat;
        assert_eq!(c.validate().unwrap_err().field, "detect_after");
        c.detect_after = SimDuration::from_secs(1);
        assert!(c.validate().is_ok());
    }
}
