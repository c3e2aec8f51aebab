//! The network: links between regions, two transports, bandwidth, loss, duplication and
//! partitions.
//!
//! **Send pipeline** (one call per message, no allocation):
//! partition check → route lookup → source NIC serialization → for each hop on the compiled
//! route: loss draw, link serialization and FIFO queueing (`size / bandwidth`), a stream's
//! retransmission wait (after its link slot, so it delays only its own connection), latency
//! sample + jitter + any degradation → for streams, the per-connection FIFO clamp.
//!
//! **Transports.** [`Transport::Datagram`] (UDP-like): a loss drops the message, a duplicate
//! delivers it twice, independent latency samples may reorder messages, a full link queue drops.
//! [`Transport::Stream`] (TCP-like): reliable and in order per connection (source component,
//! destination component). A loss becomes a retransmission delay (`rto`, doubling per consecutive
//! loss, capped at `rto_max`); a message delivered late holds back every later message on the same
//! connection (head-of-line blocking). Across a partition a stream keeps retrying with backoff and
//! fails after `failure_timeout`, telling the sender instead of hanging forever; the same happens
//! after `max_retransmits` consecutive losses, when there is no route, and when the destination
//! is down or crashes while the message is in flight or waiting (a crash of either end resets
//! its connections).
//!
//! **Randomness.** Each source node owns a network stream (`"network/<node>"`), so adding a node
//! elsewhere never changes the draws of existing traffic.

use std::collections::BTreeMap;

use crate::dist::Dist;
use crate::id::{ComponentId, NodeId, RegionId};
use crate::rng::{self, Rng};
use crate::time::{SimDuration, SimTime};
use crate::topology::RouteTable;

/// How a message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Transport {
    /// UDP-like: may drop, duplicate and reorder.
    Datagram,
    /// TCP-like: reliable, in order per connection; losses cost retransmission delay.
    Stream,
}

/// Why a message was not delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropCause {
    /// Random loss on a link (datagram) or too many retransmissions (stream).
    Loss,
    /// The endpoints were on different sides of a partition.
    Partition,
    /// The destination node was down, or crashed or restarted while the message was in flight.
    Crashed,
    /// A link's queue exceeded its limit (datagram only).
    QueueFull,
    /// No route exists between the endpoints' regions.
    NoRoute,
}

impl DropCause {
    /// Every cause, in report order.
    pub const ALL: [DropCause; 5] = [
        DropCause::Loss,
        DropCause::Partition,
        DropCause::Crashed,
        DropCause::QueueFull,
        DropCause::NoRoute,
    ];

    /// Stable lowercase name used in reports (`drops_<name>`).
    pub fn name(self) -> &'static str {
        match self {
            DropCause::Loss => "loss",
            DropCause::Partition => "partition",
            DropCause::Crashed => "crashed",
            DropCause::QueueFull => "queue_full",
            DropCause::NoRoute => "no_route",
        }
    }
    /// Index into [`DropCounts`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Drop counters by cause, indexed by [`DropCause::index`].
pub type DropCounts = [u64; 5];

/// The behaviour of one link (or the loopback, or a region's internal network).
#[derive(Clone, Debug, PartialEq)]
pub struct LinkSpec {
    /// One-way propagation latency, in nanoseconds.
    pub latency: Dist,
    /// Extra uniform jitter in `[0, jitter)` added to each sample.
    pub jitter: SimDuration,
    /// Probability that one traversal loses the message.
    pub loss: f64,
    /// Probability that a datagram is delivered twice (streams never duplicate).
    pub duplicate: f64,
    /// Bandwidth in bits per second; `0` means unlimited (no serialization delay).
    pub bandwidth_bps: u64,
    /// Longest queueing delay a datagram accepts before it is dropped as `QueueFull`.
    pub queue_limit: SimDuration,
}

impl LinkSpec {
    /// A link with the given latency and nothing else.
    pub fn with_latency(latency: Dist) -> LinkSpec {
        LinkSpec {
            latency,
            jitter: SimDuration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            bandwidth_bps: 0,
            queue_limit: SimDuration::MAX,
        }
    }
    /// An instantaneous, perfect link.
    pub fn ideal() -> LinkSpec {
        LinkSpec::with_latency(Dist::constant(0.0).expect("zero is a valid constant"))
    }
}

/// Stream (TCP-like) transport parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamConfig {
    /// First retransmission timeout. Default 200 ms (Linux's minimum RTO).
    pub rto: SimDuration,
    /// Cap on the doubled retransmission timeout. Default 10 s.
    pub rto_max: SimDuration,
    /// How long a stream keeps trying across a partition before failing. Default 3 s.
    pub failure_timeout: SimDuration,
    /// Consecutive losses of one message before the connection fails. Default 15 (as Linux's
    /// `tcp_retries2`).
    pub max_retransmits: u32,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            rto: SimDuration::from_millis(200),
            rto_max: SimDuration::from_secs(10),
            failure_timeout: SimDuration::from_secs(3),
            max_retransmits: 15,
        }
    }
}

/// Network configuration handed to the builder.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// Between components on the same node. Default: ideal (zero latency).
    pub loopback: LinkSpec,
    /// Between nodes of the same region, unless the region sets its own. Default: ideal.
    pub intra_region: LinkSpec,
    /// Per-region override of `intra_region`.
    pub region_internal: Vec<(RegionId, LinkSpec)>,
    /// Links between regions: `(a, b, spec, bidirectional)`. Routes follow the lowest total mean
    /// latency.
    pub region_links: Vec<(RegionId, RegionId, LinkSpec, bool)>,
    /// Used for region pairs that no chain of `region_links` connects; without it such pairs
    /// have no route and their messages drop as `NoRoute`.
    pub default_inter_region: Option<LinkSpec>,
    /// Stream transport parameters.
    pub stream: StreamConfig,
    /// Transport used by [`crate::Ctx::send`].
    pub default_transport: Transport,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            loopback: LinkSpec::ideal(),
            intra_region: LinkSpec::ideal(),
            region_internal: Vec::new(),
            region_links: Vec::new(),
            default_inter_region: None,
            stream: StreamConfig::default(),
            default_transport: Transport::Stream,
        }
    }
}

#[derive(Clone, Debug)]
struct Link {
    spec: LinkSpec,
    busy_until: SimTime,
    extra_latency: SimDuration,
    extra_loss: f64,
}

/// Per-connection stream state.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Conn {
    /// Latest delivery time scheduled on this connection (the FIFO clamp).
    pub last_delivery: SimTime,
    /// Messages currently waiting out a partition; later ones queue behind them.
    pub blocked: u32,
    /// When the blocked messages retry next.
    pub retry_at: SimTime,
    /// Current retry backoff.
    pub backoff: SimDuration,
    /// Bumped when a crash of either end resets the connection; retries carry the generation
    /// they were blocked under so stale ones are recognised.
    pub generation: u32,
}

/// What the network decided for one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Deliver at `at` (and a duplicate at `duplicate_at`).
    Deliver {
        at: SimTime,
        duplicate_at: Option<SimTime>,
    },
    /// Lost for good (datagram) — count it.
    Drop(DropCause),
    /// Stream blocked by a partition: retry later.
    Blocked,
    /// Stream failed: tell the sender.
    Fail(DropCause),
}

/// Runtime network state: compiled routes, link queues, partitions, connections.
#[derive(Debug)]
pub(crate) struct Network {
    pub(crate) stream: StreamConfig,
    pub(crate) default_transport: Transport,
    links: Vec<Link>,
    loopback: Link,
    routes: RouteTable,
    node_region: Vec<u32>,
    node_nic_bps: Vec<u64>,
    node_nic_busy: Vec<SimTime>,
    node_rng: Vec<Rng>,
    group: Vec<u32>,
    /// Per node: how many random isolations currently cut it off from every other node.
    isolated: Vec<u32>,
    /// Number of nodes with `isolated > 0` (skips the per-node check when zero).
    isolated_nodes: u32,
    cuts: std::collections::BTreeSet<(NodeId, NodeId)>,
    pub(crate) conns: BTreeMap<(ComponentId, ComponentId), Conn>,
    region_pair_links: Vec<Vec<u32>>,
}

/// A region pair's links could not be found for a degradation fault.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NoSuchLink;

impl Network {
    pub(crate) fn build(
        cfg: &NetworkConfig,
        regions: usize,
        node_region: Vec<u32>,
        node_nic_bps: Vec<u64>,
        node_names: &[String],
        seed: u64,
    ) -> Network {
        let mut links = Vec::new();
        let mut intra = Vec::with_capacity(regions);
        for r in 0..regions {
            let spec = cfg
                .region_internal
                .iter()
                .rev()
                .find(|(id, _)| id.index() == r)
                .map(|(_, s)| s.clone())
                .unwrap_or_else(|| cfg.intra_region.clone());
            intra.push(links.len() as u32);
            links.push(Link::new(spec));
        }
        let mut edges = Vec::new();
        let mut region_pair_links = vec![Vec::new(); regions * regions];
        let mut add_edge = |links: &mut Vec<Link>,
                            edges: &mut Vec<(u32, u32, u64, u32)>,
                            a: usize,
                            b: usize,
                            spec: &LinkSpec| {
            let idx = links.len() as u32;
            let w = spec.latency.mean().unwrap_or(0.0).max(0.0) as u64 + spec.jitter.as_nanos() / 2;
            links.push(Link::new(spec.clone()));
            edges.push((a as u32, b as u32, w, idx));
            region_pair_links[a * regions + b].push(idx);
        };
        for (a, b, spec, both) in &cfg.region_links {
            add_edge(&mut links, &mut edges, a.index(), b.index(), spec);
            if *both {
                add_edge(&mut links, &mut edges, b.index(), a.index(), spec);
            }
        }
        let mut routes = RouteTable::compile(regions, &intra, &edges);
        if let Some(default) = &cfg.default_inter_region {
            // Fill unreachable pairs with a direct default link each.
            let mut extra = Vec::new();
            for a in 0..regions {
                for b in 0..regions {
                    if a != b && routes.hops(a, b).is_none() {
                        extra.push((a, b));
                    }
                }
            }
            if !extra.is_empty() {
                for (a, b) in extra {
                    add_edge(&mut links, &mut edges, a, b, default);
                }
                routes = RouteTable::compile(regions, &intra, &edges);
            }
        }
        let nodes = node_region.len();
        Network {
            stream: cfg.stream,
            default_transport: cfg.default_transport,
            links,
            loopback: Link::new(cfg.loopback.clone()),
            routes,
            node_region,
            node_nic_bps,
            node_nic_busy: vec![SimTime::ZERO; nodes],
            node_rng: node_names
                .iter()
                .map(|n| rng::stream(seed, "network", n))
                .collect(),
            group: vec![0; nodes],
            isolated: vec![0; nodes],
            isolated_nodes: 0,
            cuts: Default::default(),
            conns: BTreeMap::new(),
            region_pair_links,
        }
    }

    /// Whether `from` cannot currently reach `to`.
    #[inline]
    pub(crate) fn blocked(&self, from: NodeId, to: NodeId) -> bool {
        self.group[from.index()] != self.group[to.index()]
            || (!self.cuts.is_empty() && self.cuts.contains(&(from, to)))
            || (self.isolated_nodes > 0
                && from != to
                && (self.isolated[from.index()] > 0 || self.isolated[to.index()] > 0))
    }

    /// Cuts `node` off from every other node (a random isolation; independent of partitions).
    pub(crate) fn isolate(&mut self, node: NodeId) {
        let k = &mut self.isolated[node.index()];
        if *k == 0 {
            self.isolated_nodes += 1;
        }
        *k += 1;
    }

    /// Ends one isolation of `node`.
    pub(crate) fn unisolate(&mut self, node: NodeId) {
        let k = &mut self.isolated[node.index()];
        if *k == 1 {
            self.isolated_nodes -= 1;
        }
        *k = k.saturating_sub(1);
    }

    /// Splits nodes into groups; nodes not listed form one more group together.
    pub(crate) fn partition(&mut self, groups: &[Vec<NodeId>]) {
        self.group.iter_mut().for_each(|g| *g = 0);
        for (i, members) in groups.iter().enumerate() {
            for n in members {
                self.group[n.index()] = i as u32 + 1;
            }
        }
    }

    /// Partitions by region membership.
    pub(crate) fn partition_regions(&mut self, groups: &[Vec<RegionId>]) {
        self.group.iter_mut().for_each(|g| *g = 0);
        for (i, members) in groups.iter().enumerate() {
            for r in members {
                for (node, region) in self.node_region.iter().enumerate() {
                    if *region == r.0 {
                        self.group[node] = i as u32 + 1;
                    }
                }
            }
        }
    }

    /// Removes every partition and one-way cut.
    pub(crate) fn heal(&mut self) {
        self.group.iter_mut().for_each(|g| *g = 0);
        self.cuts.clear();
    }

    /// Cuts traffic from `from` to `to` only.
    pub(crate) fn cut_one_way(&mut self, from: NodeId, to: NodeId) {
        self.cuts.insert((from, to));
    }

    /// Degrades (or restores, with zero values) the links from region `a` to region `b`.
    pub(crate) fn degrade(
        &mut self,
        a: RegionId,
        b: RegionId,
        extra_latency: SimDuration,
        extra_loss: f64,
    ) -> Result<(), NoSuchLink> {
        let regions = self.routes.regions();
        if a.index() >= regions || b.index() >= regions {
            return Err(NoSuchLink);
        }
        let ids: Vec<u32> = if a == b {
            self.routes
                .hops(a.index(), a.index())
                .map(|h| h.to_vec())
                .unwrap_or_default()
        } else {
            self.region_pair_links[a.index() * regions + b.index()].clone()
        };
        if ids.is_empty() {
            return Err(NoSuchLink);
        }
        for id in ids {
            let l = &mut self.links[id as usize];
            l.extra_latency = extra_latency;
            l.extra_loss = extra_loss;
        }
        Ok(())
    }

    /// Plans one message from `src_node` to `dst_node` at `now`.
    pub(crate) fn plan(
        &mut self,
        now: SimTime,
        src_node: NodeId,
        dst_node: NodeId,
        size_bytes: u32,
        transport: Transport,
    ) -> Plan {
        if self.blocked(src_node, dst_node) {
            return match transport {
                Transport::Datagram => Plan::Drop(DropCause::Partition),
                Transport::Stream => Plan::Blocked,
            };
        }
        let s = src_node.index();
        // Route first: a message with nowhere to go does not occupy the NIC.
        let path: &[u32] = if src_node == dst_node {
            &[LOOPBACK]
        } else {
            match self.routes.hops(
                self.node_region[s] as usize,
                self.node_region[dst_node.index()] as usize,
            ) {
                Some(h) => h,
                None => {
                    return match transport {
                        Transport::Datagram => Plan::Drop(DropCause::NoRoute),
                        // A stream sender is told, as for every other stream failure.
                        Transport::Stream => Plan::Fail(DropCause::NoRoute),
                    };
                }
            }
        };
        let rng = &mut self.node_rng[s];
        let mut t = now;
        // Source NIC serialization (egress queue of the node).
        let nic_bps = self.node_nic_bps[s];
        if nic_bps > 0 {
            let start = t.max(self.node_nic_busy[s]);
            t = start + serialization(size_bytes, nic_bps);
            self.node_nic_busy[s] = t;
        }
        let mut first_latency_sample = SimDuration::ZERO;
        for (i, &id) in path.iter().enumerate() {
            let link = if id == LOOPBACK {
                &mut self.loopback
            } else {
                &mut self.links[id as usize]
            };
            let loss = link.spec.loss + link.extra_loss;
            let mut retransmit_wait = SimDuration::ZERO;
            if loss > 0.0 {
                match transport {
                    Transport::Datagram => {
                        if rng::chance(rng, loss) {
                            return Plan::Drop(DropCause::Loss);
                        }
                    }
                    Transport::Stream => {
                        let mut rto = self.stream.rto;
                        let mut losses = 0;
                        while rng::chance(rng, loss) {
                            losses += 1;
                            if losses > self.stream.max_retransmits {
                                return Plan::Fail(DropCause::Loss);
                            }
                            retransmit_wait += rto;
                            rto = (rto * 2).min(self.stream.rto_max);
                        }
                    }
                }
            }
            if link.spec.bandwidth_bps > 0 {
                let start = t.max(link.busy_until);
                if transport == Transport::Datagram && start - t > link.spec.queue_limit {
                    return Plan::Drop(DropCause::QueueFull);
                }
                t = start + serialization(size_bytes, link.spec.bandwidth_bps);
                link.busy_until = t;
            }
            // Retransmission timeouts delay this connection only: they are added after the link
            // slot, so they never hold back other traffic queued on the shared link.
            t += retransmit_wait;
            let mut latency = link.spec.latency.sample_duration(rng) + link.extra_latency;
            if !link.spec.jitter.is_zero() {
                latency += SimDuration::from_nanos(rng::below(rng, link.spec.jitter.as_nanos()));
            }
            if i == 0 {
                first_latency_sample = latency;
            }
            t += latency;
        }
        let mut duplicate_at = None;
        if transport == Transport::Datagram {
            let link = if path[0] == LOOPBACK {
                &self.loopback
            } else {
                &self.links[path[0] as usize]
            };
            if link.spec.duplicate > 0.0 && rng::chance(rng, link.spec.duplicate) {
                // The copy takes an independent latency sample on the first hop.
                let again = link.spec.latency.sample_duration(rng) + link.extra_latency;
                duplicate_at = Some(t - first_latency_sample + again);
            }
        }
        Plan::Deliver {
            at: t,
            duplicate_at,
        }
    }
}

/// Marks the loopback in a path (never a real link index).
const LOOPBACK: u32 = u32::MAX;

impl Link {
    fn new(spec: LinkSpec) -> Link {
        Link {
            spec,
            busy_until: SimTime::ZERO,
            extra_latency: SimDuration::ZERO,
            extra_loss: 0.0,
        }
    }
}

/// Time to put `size_bytes` on a wire of `bps` bits per second, rounded up to whole nanoseconds.
pub fn serialization(size_bytes: u32, bps: u64) -> SimDuration {
    let bits = u128::from(size_bytes) * 8 * 1_000_000_000;
    SimDuration::from_nanos(bits.div_ceil(u128::from(bps)).min(u128::from(u64::MAX)) as u64)
}
