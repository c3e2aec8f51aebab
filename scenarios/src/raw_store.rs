//! RON schema of the replicated store ([`clustersim_models::store`]): the `Store` front and
//! its `StoreReplica`s. Same rules as [`crate::raw`]: unknown fields rejected, externally
//! tagged enums, defaults stated on each field.
//!
//! ```ron
//! (name: "db", kind: Store(replicas: ["db1", "db2", "db3"], replication: PrimaryBackup(ack: Async),
//!                          read_from: Replicas, failover: (promote: MostUpToDate))),
//! (name: "db1", kind: StoreReplica(read_time: Exponential(mean: "1ms"), write_time: Exponential(mean: "2ms"))),
//! ```

use serde::{Deserialize, Serialize};

use crate::raw::{TimeDist, Transport};
use crate::units::Duration;

fn four() -> u32 {
    4
}
fn queue_limit() -> u32 {
    100_000
}
fn history() -> usize {
    64
}
fn sessions() -> usize {
    1_000_000
}

/// The store front: what clients, services and load balancers send requests to.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    /// The `StoreReplica` components, in order (the first is the initial primary).
    pub replicas: Vec<String>,
    /// A bundle of defaults for the fields below: `Sql` (single primary, `Sync` replication,
    /// reads from the primary, CP, failover to the most up-to-date follower) or `NoSql`
    /// (leaderless `Quorum(r: 1, w: 1, read_repair: true)`, AP). Fields given explicitly
    /// win. Default: none.
    #[serde(default)]
    pub preset: Option<Preset>,
    /// Replication mode. Default: the preset's, else `Standalone` for one replica and
    /// `PrimaryBackup(ack: Async)` for more.
    #[serde(default)]
    pub replication: Option<Replication>,
    /// Read routing (primary-backup). Default: the preset's, else `Primary`.
    #[serde(default)]
    pub read_from: Option<ReadFrom>,
    /// `CP` (refuse on the minority side) or `AP` (serve what is reachable). Default: the
    /// preset's, else `CP`.
    #[serde(default)]
    pub partition: Option<PartitionPolicy>,
    /// Failure detection and promotion (primary-backup; one front per store should have it).
    /// Default: the preset's (`Sql`: `(promote: MostUpToDate)`), else none.
    #[serde(default)]
    pub failover: Option<Failover>,
    /// Heartbeat period to every replica. Default `"100ms"`.
    #[serde(default)]
    pub heartbeat: Option<Duration>,
    /// Silence after which a replica counts as unreachable (> heartbeat). Default `"500ms"`.
    #[serde(default)]
    pub detect_after: Option<Duration>,
    /// Request timeout. Default `"1s"`.
    #[serde(default)]
    pub timeout: Option<Duration>,
    /// Lower edges of the t-visibility buckets (first `"0ms"`, increasing). Default 0, 1, 2,
    /// 5, 10, 20, 50, 100, 200, 500 ms, 1, 2, 5 s.
    #[serde(default)]
    pub visibility_buckets: Option<Vec<Duration>>,
    /// Acknowledged writes the checker remembers per key. Default 64.
    #[serde(default = "history")]
    pub history_per_key: usize,
    /// Most (end user, key) sessions checked for read-your-writes / monotonic reads.
    /// Default 1,000,000.
    #[serde(default = "sessions")]
    pub max_sessions: usize,
    /// Transport. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
}

/// Preset bundles of defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum Preset {
    /// ACID-style: single primary, synchronous replication, strong reads, CP, failover.
    Sql,
    /// BASE-style: leaderless quorum of one, read repair, AP.
    NoSql,
}

/// Replication mode.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum Replication {
    /// One replica, no replication.
    Standalone,
    /// Single primary and followers.
    PrimaryBackup {
        /// `Async`, `SemiSync(k: 1)` or `Sync`.
        ack: Ack,
    },
    /// Leaderless quorums over all the replicas (n = number of replicas).
    Quorum {
        /// Read quorum.
        r: u8,
        /// Write quorum.
        w: u8,
        /// Repair stale replicas seen by reads. Default `true`.
        #[serde(default = "crate::raw_store::yes")]
        read_repair: bool,
    },
    /// Multi-leader, last-writer-wins on the leaders' local clocks.
    MultiLeader {
        /// The leader (a replica name) this front writes to while reachable.
        home: String,
        /// `Lww` (last-writer-wins on local clocks) or `VersionVectors` (conflicts kept as
        /// siblings, at most 3 leaders). Default `Lww`.
        #[serde(default = "crate::raw_store::lww")]
        resolution: Resolution,
    },
}

pub(crate) fn lww() -> Resolution {
    Resolution::Lww
}

/// How multi-leader replicas resolve concurrent writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum Resolution {
    /// Last writer wins, by the writing leader's local clock.
    Lww,
    /// Version vectors; concurrent writes become siblings.
    VersionVectors,
}

pub(crate) fn yes() -> bool {
    true
}

/// When the primary acknowledges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum Ack {
    /// At once.
    Async,
    /// After `k` followers.
    SemiSync {
        /// Follower acks.
        k: u8,
    },
    /// After every follower in sync.
    Sync,
}

/// Read routing.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum ReadFrom {
    /// The primary.
    Primary,
    /// A random follower.
    Replicas,
    /// A follower unless the reader wrote the key within `window`.
    ReplicaUnlessRyw {
        /// Read-your-writes window.
        window: Duration,
    },
}

/// CP or AP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum PartitionPolicy {
    /// Refuse when a majority (or the quorum) is unreachable.
    CP,
    /// Serve from what is reachable.
    AP,
}

/// Failover settings.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Failover {
    /// Which follower to promote. Default `MostUpToDate`.
    #[serde(default = "most_up_to_date")]
    pub promote: PromoteChoice,
    /// DNS / health-check delay before clients reach the new primary. Default `"0s"`.
    #[serde(default)]
    pub redirect_delay: Option<Duration>,
}

fn most_up_to_date() -> PromoteChoice {
    PromoteChoice::MostUpToDate
}

/// Which follower a failover promotes.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum PromoteChoice {
    /// The one with the highest applied version.
    MostUpToDate,
    /// This replica (by name) if reachable.
    Replica(String),
}

/// A storage replica.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StoreReplica {
    /// Concurrent operations. Default 4.
    #[serde(default = "four")]
    pub servers: u32,
    /// Service time of a read.
    pub read_time: TimeDist,
    /// Service time of a write.
    pub write_time: TimeDist,
    /// Service time of applying a replicated write. Default: `write_time`.
    #[serde(default)]
    pub apply_time: Option<TimeDist>,
    /// Delay before this node, as primary or leader, ships each replicated write to each
    /// peer (log shipping, batching); lost if it crashes first. Default 0.
    #[serde(default)]
    pub replication_delay: Option<TimeDist>,
    /// Operations queued or in service beyond which requests are refused. Default 100000.
    #[serde(default = "queue_limit")]
    pub queue_limit: u32,
    /// Transport. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
}
