//! Faults: what can go wrong, from a schedule or at random.
//!
//! Scheduled faults are `(time, FaultAction)` pairs. Random faults come from generators that own
//! their RNG stream (`"faults/<name>"`): per-node crash/restart cycles with exponential up times
//! (mean = MTBF) and down times (mean = MTTR), and random single-node isolations.

use crate::id::{NodeId, RegionId};
use crate::time::SimDuration;

/// One fault, applied at an instant.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultAction {
    /// The node stops: its components lose volatile state (`on_crash`), their timers are
    /// cancelled and every message in flight to it is dropped.
    Crash(NodeId),
    /// A crashed node comes back; its components get `on_restart` (the recovery hook).
    Restart(NodeId),
    /// A GC-like stop: the node processes nothing for `duration`; events wait, nothing is lost.
    /// Messages, timers and send failures that fall due meanwhile are handled when the pause
    /// ends, in the order they fell due (so a pause never reorders a stream). A new pause
    /// extends a running one; a crash ends it and drops what waited; a down node ignores it.
    Pause {
        /// The node.
        node: NodeId,
        /// How long it stays paused.
        duration: SimDuration,
    },
    /// Service times on the node are multiplied by `factor_permille / 1000` (1000 restores).
    Slowdown {
        /// The node.
        node: NodeId,
        /// Multiplier in per-mille.
        factor_permille: u32,
    },
    /// Nodes in different groups cannot talk; unlisted nodes form one more group together.
    /// Replaces the previous partition (one-way cuts stay).
    Partition(Vec<Vec<NodeId>>),
    /// As `Partition`, by region: every node of a listed region joins that group.
    PartitionRegions(Vec<Vec<RegionId>>),
    /// Traffic from `from` to `to` is cut; the reverse direction still flows.
    CutOneWay {
        /// Sender side.
        from: NodeId,
        /// Receiver side.
        to: NodeId,
    },
    /// Removes every partition and cut (random isolations end on their own schedule).
    Heal,
    /// Adds latency and loss to the links from region `from` to region `to` (`from == to`:
    /// the region's internal network). Zero values restore the link.
    DegradeLink {
        /// Source region.
        from: RegionId,
        /// Destination region.
        to: RegionId,
        /// Latency added to every traversal.
        extra_latency: SimDuration,
        /// Loss probability added to the link's own.
        extra_loss: f64,
    },
    /// The node's clock jumps by `delta_ns` (negative jumps backward).
    ClockStep {
        /// The node.
        node: NodeId,
        /// The jump in nanoseconds.
        delta_ns: i64,
    },
}

/// A random generator of faults.
#[derive(Clone, Debug, PartialEq)]
pub enum RandomFaults {
    /// The node alternates up (exponential, mean `mtbf`) and down (exponential, mean `mttr`).
    NodeFailures {
        /// The node.
        node: NodeId,
        /// Mean time between failures.
        mtbf: SimDuration,
        /// Mean time to repair.
        mttr: SimDuration,
    },
    /// Every exponential(`mean_interval`) a uniformly chosen node among `nodes` is isolated for
    /// an exponential(`mean_duration`), then the isolation ends. While isolated, the node can
    /// reach no other node and no other node can reach it (drops count as `Partition`).
    /// Isolations are a layer of their own: scheduled partitions and heals neither replace nor
    /// end them, and they do not disturb scheduled partitions and cuts.
    Isolations {
        /// Candidate nodes.
        nodes: Vec<NodeId>,
        /// Mean time between isolations.
        mean_interval: SimDuration,
        /// Mean isolation length.
        mean_duration: SimDuration,
    },
}
