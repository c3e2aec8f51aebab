//! The scenario file schema: serde types that mirror the RON text one to one.
//!
//! Rules (see ARCHITECTURE.md): every struct denies unknown fields; every enum is externally
//! tagged (`Variant(...)`); no `flatten`, `tag` or `untagged`, which would lose error positions;
//! lists are ordered `Vec`s so declaration order defines ids; every default is written with
//! `#[serde(default = ...)]` and stated in the field's doc comment. Quantities are unit-carrying
//! text ([`crate::units`]). Names are still strings here; [`crate::validate`] resolves them.
//!
//! A minimal file:
//!
//! ```ron
//! Scenario(
//!     name: "mm1",
//!     seed: 42,
//!     duration: "60s",
//!     components: [
//!         (name: "clients", kind: OpenLoop(target: "app", rate: "800/s")),
//!         (name: "app", kind: Service(service_time: Exponential(mean: "1ms"))),
//!     ],
//! )
//! ```

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::units::{Bandwidth, ByteSize, Duration, Probability, Rate};

fn zero() -> Duration {
    Duration(clustersim_engine::SimDuration::ZERO)
}
fn one_second() -> Duration {
    Duration(clustersim_engine::SimDuration::from_secs(1))
}
fn default_max_events() -> u64 {
    2_000_000_000
}
fn one_u32() -> u32 {
    1
}
fn yes() -> bool {
    true
}
fn certain() -> Probability {
    Probability::new(1.0).expect("1 is a probability")
}

/// A whole scenario: topology, workload, faults, sweep.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short identifier, used for the default output folder `runs/<name>/`.
    pub name: String,
    /// What the scenario shows. Default: empty.
    #[serde(default)]
    pub description: String,
    /// Master seed: every random stream derives from it.
    pub seed: u64,
    /// Simulated time to run.
    pub duration: Duration,
    /// Initial period excluded from statistics: a duration, or `Auto` to detect it per run
    /// with MSER-5 (see [`Warmup`]). Default `"0"`.
    #[serde(default = "no_warmup")]
    pub warmup: Warmup,
    /// Time-series interval for `timeseries.csv`. Default `"1s"`.
    #[serde(default = "one_second")]
    pub report_interval: Duration,
    /// Safety bound on processed events; a run hitting it is reported as failed. Default 2e9.
    #[serde(default = "default_max_events")]
    pub max_events: u64,
    /// Regions. Default: one region named `"default"` holding every node.
    #[serde(default)]
    pub regions: Vec<Region>,
    /// Nodes (machines). Components without `node` get a node of their own, named like them.
    #[serde(default)]
    pub nodes: Vec<Node>,
    /// Network model. Default: ideal (zero latency, no loss) everywhere.
    #[serde(default)]
    pub network: Network,
    /// The topology: named components built from model plugins, wired by name.
    pub components: Vec<Component>,
    /// Scheduled faults. Default: none.
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// Random fault generators. Default: none.
    #[serde(default)]
    pub random_faults: Vec<RandomFault>,
    /// Parameter sweep and replications. Default: one point, one replication.
    #[serde(default)]
    pub sweep: Sweep,
    /// Back-of-the-envelope capacity estimate read by `clustersim estimate` (see
    /// [`crate::estimate`]); `run` ignores it. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<crate::estimate::Estimate>,
    /// SLO knee search: with it, `run` bisects a parameter instead of running the sweep (see
    /// [`crate::search`]). Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<crate::search::Search>,
}

fn no_warmup() -> Warmup {
    Warmup::Fixed(zero())
}

/// The warm-up of a scenario: a fixed duration (`warmup: "5s"`) or `warmup: Auto`.
///
/// With `Auto`, each run first executes without warm-up, MSER-5 picks the truncation point
/// from its per-window series, and the run is repeated with that fixed warm-up (same seed,
/// same events); see `clustersim_analysis::warmup`. Accepted forms: a duration string, or the
/// bare identifier `Auto` (the string `"Auto"` is read the same way). Prints back as the
/// duration string or the bare `Auto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Warmup {
    /// A fixed warm-up.
    Fixed(Duration),
    /// Detected per run by MSER-5.
    Auto,
}

impl Warmup {
    /// The fixed warm-up, or zero for `Auto` (its value is only known per run).
    pub fn fixed_or_zero(self) -> Duration {
        match self {
            Warmup::Fixed(d) => d,
            Warmup::Auto => zero(),
        }
    }
}

impl Default for Warmup {
    fn default() -> Self {
        no_warmup()
    }
}

const WARMUP_FORMS: &str = "a duration string (for example \"5s\" or \"0\") or the bare \
     identifier `Auto` (warm-up detected per run by MSER-5)";

impl<'de> Deserialize<'de> for Warmup {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // ron hands a bare identifier to `deserialize_any` visitors as a nameless unit, except
        // to serde's buffered content (what `untagged` uses), which receives the identifier's
        // text. This private, buffered shape is therefore the one way to see `Auto`; the
        // catch-all arm turns every other shape into one error listing the accepted forms.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Text(String),
            Other(de::IgnoredAny),
        }
        match Repr::deserialize(d)? {
            Repr::Text(t) if t == "Auto" => Ok(Warmup::Auto),
            Repr::Text(t) => match t.parse::<Duration>() {
                Ok(v) => Ok(Warmup::Fixed(v)),
                Err(e) => Err(de::Error::custom(format_args!(
                    "invalid warm-up `{t}`: {e}; expected {WARMUP_FORMS}"
                ))),
            },
            Repr::Other(_) => Err(de::Error::custom(format_args!(
                "invalid warm-up: expected {WARMUP_FORMS}"
            ))),
        }
    }
}

impl Serialize for Warmup {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Warmup::Fixed(d) => d.serialize(s),
            Warmup::Auto => s.serialize_unit_variant("Warmup", 1, "Auto"),
        }
    }
}

/// A region (or zone).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Unique region name.
    pub name: String,
}

/// A node: a machine with a clock, in a region.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// Unique node name.
    pub name: String,
    /// Region name. Default: the first region.
    #[serde(default)]
    pub region: Option<String>,
    /// Local clock model. Default: perfect.
    #[serde(default)]
    pub clock: Clock,
    /// Egress NIC bandwidth. Default: unlimited.
    #[serde(default)]
    pub nic_bandwidth: Option<Bandwidth>,
}

/// A node's clock: offset (ahead or behind true time) and drift.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Clock {
    /// How far ahead of true time the clock reads. Default `"0"`.
    #[serde(default = "zero")]
    pub ahead: Duration,
    /// How far behind true time the clock reads (subtracted from `ahead`). Default `"0"`.
    #[serde(default = "zero")]
    pub behind: Duration,
    /// Drift in parts per million (positive runs fast). Default 0.
    #[serde(default)]
    pub drift_ppm: f64,
}

/// Transport choice in scenario files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum Transport {
    /// UDP-like.
    Datagram,
    /// TCP-like.
    Stream,
}

/// Network model.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Transport used when a model does not choose. Default `Stream`.
    #[serde(default = "default_transport")]
    pub default_transport: Transport,
    /// Between components on the same node. Default: ideal.
    #[serde(default)]
    pub loopback: Option<Link>,
    /// Between nodes of one region. Default: ideal.
    #[serde(default)]
    pub intra_region: Option<Link>,
    /// Per-region override of `intra_region`. Default: none.
    #[serde(default)]
    pub region_internal: Vec<RegionInternal>,
    /// Links between regions; routes take the lowest total mean latency. Default: none.
    #[serde(default)]
    pub links: Vec<RegionLink>,
    /// Link used between regions that no chain of `links` connects. Default: none (such
    /// messages drop as `no_route`).
    #[serde(default)]
    pub default_inter_region: Option<Link>,
    /// TCP-like transport parameters.
    #[serde(default)]
    pub stream: Stream,
}

fn default_transport() -> Transport {
    Transport::Stream
}

impl Default for Network {
    fn default() -> Self {
        Network {
            default_transport: Transport::Stream,
            loopback: None,
            intra_region: None,
            region_internal: Vec::new(),
            links: Vec::new(),
            default_inter_region: None,
            stream: Stream::default(),
        }
    }
}

/// One link's behaviour.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// One-way latency distribution. Default `Constant("0")`.
    #[serde(default = "zero_dist")]
    pub latency: TimeDist,
    /// Extra uniform jitter in `[0, jitter)`. Default `"0"`.
    #[serde(default = "zero")]
    pub jitter: Duration,
    /// Loss probability per traversal. Default 0.
    #[serde(default)]
    pub loss: Probability,
    /// Datagram duplication probability. Default 0.
    #[serde(default)]
    pub duplicate: Probability,
    /// Bandwidth. Default: unlimited.
    #[serde(default)]
    pub bandwidth: Option<Bandwidth>,
    /// Longest queueing delay a datagram accepts before being dropped. Default: unlimited.
    #[serde(default)]
    pub queue_limit: Option<Duration>,
}

fn zero_dist() -> TimeDist {
    Dist::Constant(zero())
}

/// A region's internal network.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegionInternal {
    /// Region name.
    pub region: String,
    /// Its link model.
    pub link: Link,
}

/// A link between two regions.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegionLink {
    /// Source region.
    pub from: String,
    /// Destination region.
    pub to: String,
    /// Whether the reverse direction gets an identical link. Default `true`.
    #[serde(default = "yes")]
    pub bidirectional: bool,
    /// The link model.
    pub link: Link,
}

/// TCP-like transport parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Stream {
    /// First retransmission timeout. Default `"200ms"`.
    #[serde(default = "default_rto")]
    pub rto: Duration,
    /// Cap on the doubled timeout. Default `"10s"`.
    #[serde(default = "default_rto_max")]
    pub rto_max: Duration,
    /// How long a stream retries across a partition before failing. Default `"3s"`.
    #[serde(default = "default_failure_timeout")]
    pub failure_timeout: Duration,
    /// Consecutive losses before a connection fails. Default 15.
    #[serde(default = "default_retransmits")]
    pub max_retransmits: u32,
}

fn default_rto() -> Duration {
    Duration(clustersim_engine::SimDuration::from_millis(200))
}
fn default_rto_max() -> Duration {
    Duration(clustersim_engine::SimDuration::from_secs(10))
}
fn default_failure_timeout() -> Duration {
    Duration(clustersim_engine::SimDuration::from_secs(3))
}
fn default_retransmits() -> u32 {
    15
}

impl Default for Stream {
    fn default() -> Self {
        Stream {
            rto: default_rto(),
            rto_max: default_rto_max(),
            failure_timeout: default_failure_timeout(),
            max_retransmits: default_retransmits(),
        }
    }
}

/// A distribution of quantities of unit `U` (durations or byte sizes).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum Dist<U> {
    /// Always the same value: `Constant("5ms")`.
    Constant(U),
    /// Uniform between `min` and `max`.
    Uniform {
        /// Lower bound.
        min: U,
        /// Upper bound.
        max: U,
    },
    /// Exponential with the given mean.
    Exponential {
        /// Mean.
        mean: U,
    },
    /// Normal, truncated at zero.
    Normal {
        /// Mean (≥ 0).
        mean: U,
        /// Standard deviation.
        std_dev: U,
    },
    /// Log-normal given by its median and 99th percentile.
    LogNormal {
        /// Median.
        median: U,
        /// 99th percentile (> median).
        p99: U,
    },
    /// Pareto with minimum `scale` and tail index `shape`.
    Pareto {
        /// Minimum value (x_m).
        scale: U,
        /// Tail index (alpha > 0).
        shape: f64,
    },
    /// Weibull.
    Weibull {
        /// Scale.
        scale: U,
        /// Shape (> 0).
        shape: f64,
    },
    /// Piecewise-linear inverse CDF through `(quantile, value)` points, first quantile 0 and
    /// last 1.
    Empirical {
        /// The points.
        points: Vec<(f64, U)>,
    },
    /// A weighted mixture, e.g. 95 % fast / 5 % slow.
    Mixture {
        /// `(weight, distribution)` parts.
        parts: Vec<(f64, Dist<U>)>,
    },
    /// `offset` plus another distribution.
    Shifted {
        /// Added constant.
        offset: U,
        /// The distribution.
        dist: Box<Dist<U>>,
    },
}

/// A distribution of durations.
pub type TimeDist = Dist<Duration>;
/// A distribution of byte sizes.
pub type SizeDist = Dist<ByteSize>;

/// A component: a named model instance placed on a node.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// Unique component name.
    pub name: String,
    /// Node name. Default: a node of its own, named like the component.
    #[serde(default)]
    pub node: Option<String>,
    /// The model plugin and its parameters.
    pub kind: Kind,
}

/// The model plugins. Each variant's parameters are a struct of its own.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum Kind {
    /// Open-loop client: requests arrive at a rate regardless of responses.
    OpenLoop(OpenLoop),
    /// Closed-loop client: N users, each waiting for its response and thinking.
    ClosedLoop(ClosedLoop),
    /// A service modelled as queues and workers.
    Service(Service),
    /// A load balancer in front of backends (services, or other balancers).
    LoadBalancer(LoadBalancer),
    /// A cache (or CDN edge) in front of backends; `capacity` is required.
    Cache(Cache),
    /// A reverse proxy: one address for a pool of backends (round robin), caching if given a
    /// `capacity`.
    ReverseProxy(Cache),
    /// A forward proxy on the clients' side: shared cache if given a `capacity`, deny list.
    ForwardProxy(Cache),
    /// Emits notification events to push gateways and poll servers ([`Publisher`]).
    Publisher(Publisher),
    /// Holds persistent (WebSocket-like) connections and pushes events ([`PushGateway`]).
    PushGateway(PushGateway),
    /// A subscriber holding a connection to a push gateway ([`PushClient`]).
    PushClient(PushClient),
    /// Answers HTTP polls from a log of recent events ([`PollServer`]).
    PollServer(PollServer),
    /// Polls a poll server every `interval` ([`PollClient`]).
    PollClient(PollClient),
    /// Sends frames to another peer, directly or through a relay ([`Peer`]).
    Peer(Peer),
    /// A TURN-like relay forwarding peers' frames ([`Relay`]).
    Relay(Relay),
    /// Live media: one chunk per frame, never retransmitted by the model ([`MediaSource`]).
    MediaSource(MediaSource),
    /// Plays media chunks out after a delay; counts on-time, late and lost chunks
    /// ([`MediaClient`]).
    MediaClient(MediaClient),
    /// Routes requests by key to shards, with membership changes and data movement
    /// ([`ShardRouter`]).
    ShardRouter(ShardRouter),
    /// A rate limiter in front of a component ([`RateLimiter`]).
    RateLimiter(RateLimiter),
    /// A Redis-like counter store shared by distributed rate limiters ([`CounterStore`]).
    CounterStore(CounterStore),
    /// A microservice pattern: saga, saga participant, CQRS write or read model, strangler
    /// router, idempotent client, server, key store or resource table
    /// ([`crate::raw_patterns::Pattern`]).
    Pattern(crate::raw_patterns::Pattern),
    /// Asynchronous messaging: producers, queue and log brokers, consumers
    /// ([`crate::raw_messaging::Messaging`]).
    Messaging(crate::raw_messaging::Messaging),
    /// A replicated key-value store's front: routing, quorums, failover, consistency
    /// checking ([`crate::raw_store::Store`]).
    Store(crate::raw_store::Store),
    /// A storage replica of a `Store` ([`crate::raw_store::StoreReplica`]).
    StoreReplica(crate::raw_store::StoreReplica),
}

/// Operation of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum Op {
    /// A read.
    Read,
    /// A write.
    Write,
    /// Anything else.
    Other,
}

/// Arrival process shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum Arrival {
    /// Exponential inter-arrival times.
    Poisson,
    /// Evenly spaced arrivals.
    Constant,
}

fn poisson() -> Arrival {
    Arrival::Poisson
}

/// A change of the arrival rate over time.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum Modulation {
    /// Multiplies the rate by `multiplier` during `[start, start + duration)`.
    Spike {
        /// Start.
        start: Duration,
        /// Length.
        duration: Duration,
        /// Factor (> 0).
        multiplier: f64,
    },
    /// Sinusoidal day/night cycle: rate × (1 + amplitude × cos(2π (t − peak_at) / period)).
    Diurnal {
        /// Cycle length.
        period: Duration,
        /// Relative swing in [0, 1].
        amplitude: f64,
        /// When the peak occurs.
        peak_at: Duration,
    },
}

/// Request mix weights (need not sum to 1).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Mix {
    /// Weight of reads. Default 1.
    #[serde(default = "one_f64")]
    pub read: f64,
    /// Weight of writes. Default 0.
    #[serde(default)]
    pub write: f64,
    /// Weight of other operations. Default 0.
    #[serde(default)]
    pub other: f64,
}

fn one_f64() -> f64 {
    1.0
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            read: 1.0,
            write: 0.0,
            other: 0.0,
        }
    }
}

/// Key popularity.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum Keys {
    /// Every key equally likely.
    Uniform {
        /// Number of distinct keys.
        keys: u64,
    },
    /// Zipf popularity: key rank k has weight 1/k^exponent.
    Zipf {
        /// Number of distinct keys.
        keys: u64,
        /// Skew exponent (> 0; about 1 for web caches).
        exponent: f64,
    },
}

impl Default for Keys {
    fn default() -> Self {
        Keys::Uniform { keys: 1_000_000 }
    }
}

/// Backoff jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum Jitter {
    /// Exact backoff.
    None,
    /// Uniform in `[0, backoff]`.
    Full,
    /// Half fixed, half uniform.
    Equal,
}

/// Client timeouts and retries.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Retries after the first attempt. Default 0.
    #[serde(default)]
    pub max_retries: u32,
    /// First backoff. Default `"100ms"`.
    #[serde(default = "default_backoff")]
    pub backoff: Duration,
    /// Growth factor per retry. Default 2.
    #[serde(default = "two")]
    pub multiplier: f64,
    /// Backoff cap. Default `"10s"`.
    #[serde(default = "default_rto_max")]
    pub max_backoff: Duration,
    /// Jitter. Default `Full`.
    #[serde(default = "full")]
    pub jitter: Jitter,
    /// Wait at least a throttled response's Retry-After before retrying. Default `true`.
    #[serde(default = "yes")]
    pub honour_retry_after: bool,
}

fn default_backoff() -> Duration {
    Duration(clustersim_engine::SimDuration::from_millis(100))
}
fn two() -> f64 {
    2.0
}
fn full() -> Jitter {
    Jitter::Full
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max_retries: 0,
            backoff: default_backoff(),
            multiplier: 2.0,
            max_backoff: default_rto_max(),
            jitter: Jitter::Full,
            honour_retry_after: true,
        }
    }
}

fn zero_size() -> SizeDist {
    Dist::Constant(ByteSize(0))
}

/// Open-loop client parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OpenLoop {
    /// Component receiving the requests.
    pub target: String,
    /// Mean arrival rate, e.g. `"800/s"`.
    pub rate: Rate,
    /// Arrival process. Default `Poisson`.
    #[serde(default = "poisson")]
    pub arrival: Arrival,
    /// Rate changes over time. Default: none.
    #[serde(default)]
    pub modulation: Vec<Modulation>,
    /// Operation mix. Default: all reads.
    #[serde(default)]
    pub mix: Mix,
    /// Key popularity. Default `Uniform(keys: 1000000)`.
    #[serde(default)]
    pub keys: Keys,
    /// Request payload size. Default `Constant(0)`.
    #[serde(default = "zero_size")]
    pub request_size: SizeDist,
    /// Per-attempt timeout. Default: none (wait forever).
    #[serde(default)]
    pub timeout: Option<Duration>,
    /// Retry policy. Default: no retries.
    #[serde(default)]
    pub retry: Retry,
    /// Delay before the first request. Default `"0"`.
    #[serde(default = "zero")]
    pub start_after: Duration,
    /// Stop sending after this much time. Default: never.
    #[serde(default)]
    pub stop_after: Option<Duration>,
    /// Transport. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
    /// End-user population: each request carries a client id drawn uniformly from
    /// `0..clients` (what `IpHash` load balancing hashes). Default 1000.
    #[serde(default = "thousand_u32")]
    pub clients: u32,
    /// The first client id: ids are drawn from `first_client..first_client + clients`, so
    /// two client components can have disjoint populations. Default 0.
    #[serde(default)]
    pub first_client: u32,
    /// Geo routing, as a DNS answering with the closest edge: when non-empty, requests go to
    /// whichever of `target` and these components is nearest — lowest mean one-way latency
    /// from this client's region to the component's region along the network's routes —
    /// resolved once at validation (ties: `target`, then list order). Default: none.
    #[serde(default)]
    pub nearest_of: Vec<String>,
    /// Connection reuse: `KeepAlive`, or `PerRequest(handshake_rtts: 2)` (a new connection
    /// per attempt, paying that many setup round trips first). Default `KeepAlive`.
    #[serde(default)]
    pub connection: Connection,
}

fn thousand_u32() -> u32 {
    1000
}

/// Closed-loop client parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClosedLoop {
    /// Component receiving the requests.
    pub target: String,
    /// Concurrent users.
    pub users: u32,
    /// Think time between a response and the next request. Default `Constant("0")`.
    #[serde(default = "zero_dist")]
    pub think_time: TimeDist,
    /// Operation mix. Default: all reads.
    #[serde(default)]
    pub mix: Mix,
    /// Key popularity. Default `Uniform(keys: 1000000)`.
    #[serde(default)]
    pub keys: Keys,
    /// Request payload size. Default `Constant(0)`.
    #[serde(default = "zero_size")]
    pub request_size: SizeDist,
    /// Per-attempt timeout. Default: none.
    #[serde(default)]
    pub timeout: Option<Duration>,
    /// Retry policy. Default: no retries.
    #[serde(default)]
    pub retry: Retry,
    /// Delay before users start. Default `"0"`.
    #[serde(default = "zero")]
    pub start_after: Duration,
    /// Transport. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
    /// Geo routing, as a DNS answering with the closest edge: when non-empty, requests go to
    /// whichever of `target` and these components is nearest — lowest mean one-way latency
    /// from this client's region to the component's region along the network's routes —
    /// resolved once at validation (ties: `target`, then list order). Default: none.
    #[serde(default)]
    pub nearest_of: Vec<String>,
    /// Connection reuse: `KeepAlive`, or `PerRequest(handshake_rtts: 2)` (a new connection
    /// per attempt, paying that many setup round trips first). Default `KeepAlive`.
    #[serde(default)]
    pub connection: Connection,
}

/// How a multi-instance service picks an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum Dispatch {
    /// In turn.
    RoundRobin,
    /// Uniformly at random.
    Random,
    /// The instance with the fewest requests in it.
    JoinShortestQueue,
}

fn round_robin() -> Dispatch {
    Dispatch::RoundRobin
}

/// Whether downstream calls run one after another or all at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum CallMode {
    /// One after another (latency adds up).
    Sequential,
    /// Fan-out (latency is the slowest call).
    Parallel,
}

fn sequential() -> CallMode {
    CallMode::Sequential
}

/// A downstream call made while serving a request.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Call {
    /// Component called.
    pub target: String,
    /// Probability the call is made for a given request. Default 1.
    #[serde(default = "certain")]
    pub probability: Probability,
    /// Operation of the call. Default: the incoming request's.
    #[serde(default)]
    pub op: Option<Op>,
}

/// Service parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Instances (each with its own queue and workers). Default 1.
    #[serde(default = "one_u32")]
    pub instances: u32,
    /// Workers per instance. Default 1.
    #[serde(default = "one_u32")]
    pub workers: u32,
    /// Waiting room per instance; full queues reject. Default: unbounded.
    #[serde(default)]
    pub queue_capacity: Option<u32>,
    /// Local work per request.
    pub service_time: TimeDist,
    /// Instance choice. Default `RoundRobin`.
    #[serde(default = "round_robin")]
    pub dispatch: Dispatch,
    /// Downstream calls. Default: none.
    #[serde(default)]
    pub calls: Vec<Call>,
    /// Sequential or parallel calls. Default `Sequential`.
    #[serde(default = "sequential")]
    pub call_mode: CallMode,
    /// Whether a worker stays busy while its calls are outstanding. Default `true`.
    #[serde(default = "yes")]
    pub hold_worker_during_calls: bool,
    /// Timeout per downstream call. Default: none.
    #[serde(default)]
    pub call_timeout: Option<Duration>,
    /// Response payload size. Default `Constant(0)`.
    #[serde(default = "zero_size")]
    pub response_size: SizeDist,
    /// Transport for calls and responses. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
    /// A versioned store: writes bump the key's version and every response carries it (the
    /// source of truth caches compare against). Default `false`.
    #[serde(default)]
    pub versioned: bool,
}

/// Load-balancing algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum LbPolicy {
    /// Healthy backends in turn.
    RoundRobin,
    /// Smooth weighted round robin: exact weight proportions.
    WeightedRoundRobin,
    /// Consistent hash of the end user (client id): sticky sessions.
    IpHash,
    /// Fewest active requests.
    LeastConnections,
    /// Lowest active requests ÷ weight.
    WeightedLeastConnections,
    /// Lowest (active + 1) × time-to-first-byte EWMA.
    LeastResponseTime,
    /// Uniformly random.
    Random,
    /// Best of two random backends (fewer active requests).
    PowerOfTwoChoices,
    /// Consistent hash of the request key (layer 7 only).
    KeyHash,
    /// First healthy backend in list order (active-passive).
    Failover,
}

fn lb_round_robin() -> LbPolicy {
    LbPolicy::RoundRobin
}

/// What a load balancer may route on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum LbLayer {
    /// Connection level: the end user only.
    L4,
    /// Application level: may read the request key.
    L7,
}

fn lb_l4() -> LbLayer {
    LbLayer::L4
}

/// One backend of a load balancer.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LbBackend {
    /// Component requests are forwarded to.
    pub target: String,
    /// Relative capacity for the weighted policies (≥ 1). Default 1.
    #[serde(default = "one_u32")]
    pub weight: u32,
}

/// Active health checks of a load balancer's backends.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LbHealth {
    /// Time between probes of one backend. Default `"1s"`.
    #[serde(default = "one_second")]
    pub interval: Duration,
    /// Wait for a probe reply (≤ interval). Default `"500ms"`.
    #[serde(default = "half_second")]
    pub timeout: Duration,
    /// Consecutive failures that mark a backend down. Default 3.
    #[serde(default = "three_u32")]
    pub unhealthy_threshold: u32,
    /// Consecutive successes that mark it up again. Default 2.
    #[serde(default = "two_u32")]
    pub healthy_threshold: u32,
    /// Count failed real requests (send failures, backend timeouts) as failures too.
    /// Default `true`.
    #[serde(default = "yes")]
    pub passive: bool,
}

fn half_second() -> Duration {
    Duration(clustersim_engine::SimDuration::from_millis(500))
}
fn three_u32() -> u32 {
    3
}
fn two_u32() -> u32 {
    2
}

/// Load balancer parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    /// The backends, e.g. `[(target: "app1"), (target: "app2", weight: 2)]`.
    pub backends: Vec<LbBackend>,
    /// Algorithm. Default `RoundRobin`.
    #[serde(default = "lb_round_robin")]
    pub policy: LbPolicy,
    /// `L4` (end user only) or `L7` (may route by key). Default `L4`.
    #[serde(default = "lb_l4")]
    pub layer: LbLayer,
    /// Processing per request in the balancer (one FIFO worker). Default `"0"`.
    #[serde(default = "zero")]
    pub routing_cost: Duration,
    /// Give up on a backend's answer after this long. Default: wait forever.
    #[serde(default)]
    pub backend_timeout: Option<Duration>,
    /// Health checks. Default: none (backends always considered healthy).
    #[serde(default)]
    pub health: Option<LbHealth>,
    /// Retry a failed attempt once on another backend. Default `false`.
    #[serde(default)]
    pub retry_other_backend: bool,
    /// Transport to backends and callers. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
    /// Layer-7 per-operation pools, e.g. `[(op: Write, backends: ["primary"]), (op: Read,
    /// backends: ["r1", "r2"])]`: each op with a pool goes only to its backends (each listed in
    /// `backends`), balanced by `policy`; other ops use every backend. `L7` only. Default `[]`.
    #[serde(default)]
    pub pools: Vec<LbPool>,
}

/// The backends of one operation at a layer-7 load balancer.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LbPool {
    /// The operation (`Read`, `Write` or `Other`), at most one pool each.
    pub op: Op,
    /// Names of the pool's backends, each also listed in the balancer's `backends`.
    pub backends: Vec<String>,
}

/// One shard of a shard router.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShardTarget {
    /// Component holding the shard.
    pub target: String,
    /// Relative capacity (≥ 1): ring share, range width, rendezvous draws. Default 1.
    #[serde(default = "one_u32")]
    pub weight: u32,
}

/// How a shard router places keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum Partitioner {
    /// `hash(key) % n`.
    Mod,
    /// Hash ring with `vnodes` virtual nodes per unit of weight.
    Consistent {
        /// Virtual nodes per unit of weight (≥ 1).
        vnodes: u32,
    },
    /// Sorted key ranges (no hashing).
    Range,
    /// Rendezvous (highest random weight) hashing.
    Rendezvous,
}

/// A scheduled shard membership change, e.g. `(at: "20s", action: Add("shard4"))`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShardChange {
    /// When, from the start of the run.
    pub at: Duration,
    /// `Add("name")` or `Remove("name")`: one of the router's `shards`.
    pub action: ShardAction,
}

/// Add or remove a shard.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum ShardAction {
    /// The shard joins.
    Add(String),
    /// The shard leaves.
    Remove(String),
}

/// Serving keys whose data is moving.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum InFlight {
    /// The old owner serves until the key's batch has arrived.
    ServeFromOld,
    /// The new owner serves at once.
    ServeFromNew,
    /// The router answers `Unavailable`.
    Fail,
}

/// Hot-key mitigation: reads of keys `0..top` spread over `replicas` shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HotKeys {
    /// How many hot keys (the lowest keys: Zipf ranks).
    pub top: u64,
    /// Shards per hot key (≥ 2).
    pub replicas: u32,
}

fn shard_consistent() -> Partitioner {
    Partitioner::Consistent { vnodes: 100 }
}
fn shard_keys() -> u64 {
    100_000
}
fn shard_value_size() -> ByteSize {
    ByteSize(1024)
}
fn shard_batch() -> ByteSize {
    ByteSize(1 << 20)
}
fn shard_serve_from_old() -> InFlight {
    InFlight::ServeFromOld
}

/// Shard router parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShardRouter {
    /// Every shard it may use, e.g. `[(target: "s1"), (target: "s2", weight: 2)]`.
    pub shards: Vec<ShardTarget>,
    /// How many of `shards` (the first ones) are members at the start. Default: all.
    #[serde(default)]
    pub initial: Option<usize>,
    /// Placement. Default `Consistent(vnodes: 100)`.
    #[serde(default = "shard_consistent")]
    pub partitioner: Partitioner,
    /// Scheduled membership changes. Default none.
    #[serde(default)]
    pub membership: Vec<ShardChange>,
    /// Keyspace whose data moves on membership changes. Default 100000.
    #[serde(default = "shard_keys")]
    pub keys: u64,
    /// Bytes per key. Default `"1KiB"`.
    #[serde(default = "shard_value_size")]
    pub value_size: ByteSize,
    /// Largest transfer message. Default `"1MiB"`.
    #[serde(default = "shard_batch")]
    pub batch_bytes: ByteSize,
    /// Serving keys in flight. Default `ServeFromOld`.
    #[serde(default = "shard_serve_from_old")]
    pub in_flight: InFlight,
    /// Hot-key replication. Default none.
    #[serde(default)]
    pub hot_keys: Option<HotKeys>,
    /// Transport to shards and callers. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
    /// A transfer batch with no progress for this long is re-sent. Default `"2s"`.
    #[serde(default = "shard_transfer_timeout")]
    pub transfer_timeout: Duration,
    /// Most re-sends of one batch before it is abandoned (its keys lost). Default 3.
    #[serde(default = "shard_max_transfer_retries")]
    pub max_transfer_retries: u32,
    /// Extra delay of a `ServeFromNew` miss before the old owner is asked. Default `"0s"`.
    #[serde(default = "zero")]
    pub miss_penalty: Duration,
}

fn shard_transfer_timeout() -> Duration {
    Duration(clustersim_engine::SimDuration::from_secs(2))
}
fn shard_max_transfer_retries() -> u32 {
    3
}

/// Cache and proxy parameters (`Cache`, `ReverseProxy`, `ForwardProxy`: one building block).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cache {
    /// Components misses, writes and uncached requests go to, in turn (round robin).
    pub backends: Vec<String>,
    /// `Entries(10000)` or `Bytes("64MiB")`. Required for `Cache`; default for proxies: none
    /// (nothing is cached).
    #[serde(default)]
    pub capacity: Option<CacheCapacity>,
    /// Eviction policy. Default `Lru`.
    #[serde(default = "lru")]
    pub eviction: Eviction,
    /// How long an entry is served after it was fetched, on the host's local clock. Default:
    /// until evicted or invalidated.
    #[serde(default)]
    pub ttl: Option<Duration>,
    /// What writes do. Default `WriteThrough`.
    #[serde(default = "write_through")]
    pub write_policy: WritePolicy,
    /// `WriteBack` only: period of the flush of dirty entries. Default: flush on eviction only.
    #[serde(default)]
    pub flush_interval: Option<Duration>,
    /// Key ranges refused with `Rejected` (blocked destinations). Default: none.
    #[serde(default)]
    pub deny: Vec<KeyRange>,
    /// Transport for responses and backend requests. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
}

/// A cache's capacity.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum CacheCapacity {
    /// At most this many entries.
    Entries(u64),
    /// At most this many payload bytes (each entry charged its response size, at least 1).
    Bytes(ByteSize),
}

/// Cache eviction policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum Eviction {
    /// Least recently used.
    Lru,
    /// Least frequently used (ties: least recently used).
    Lfu,
    /// First in, first out.
    Fifo,
}

fn lru() -> Eviction {
    Eviction::Lru
}

/// What writes do to a cache (reads are always read-through).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum WritePolicy {
    /// Forward, then cache the acknowledged value.
    WriteThrough,
    /// Invalidate the entry and forward.
    WriteAround,
    /// Cache as dirty and answer at once; write to the backend on eviction or flush.
    WriteBack,
}

fn write_through() -> WritePolicy {
    WritePolicy::WriteThrough
}

/// A half-open key range `[from, to)`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRange {
    /// First key.
    pub from: u64,
    /// First key after the range.
    pub to: u64,
}

/// A scheduled fault.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// When it happens.
    pub at: Duration,
    /// What happens.
    pub action: FaultAction,
}

/// Fault actions. `node` accepts a node name or a component name (meaning its node).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum FaultAction {
    /// The node crashes (volatile state lost).
    Crash {
        /// Node.
        node: String,
    },
    /// The node restarts.
    Restart {
        /// Node.
        node: String,
    },
    /// Crash now, restart after `duration`.
    CrashFor {
        /// Node.
        node: String,
        /// Down time.
        duration: Duration,
    },
    /// GC-like pause.
    Pause {
        /// Node.
        node: String,
        /// Pause length.
        duration: Duration,
    },
    /// Service times multiplied by `factor` (1 restores).
    Slowdown {
        /// Node.
        node: String,
        /// Multiplier (> 0).
        factor: f64,
    },
    /// Groups of nodes that cannot talk to each other; unlisted nodes form one more group.
    Partition {
        /// Groups of node (or component) names.
        groups: Vec<Vec<String>>,
    },
    /// A `Partition` that heals (removing every partition and cut) after `duration`.
    PartitionFor {
        /// Groups of node (or component) names.
        groups: Vec<Vec<String>>,
        /// How long it lasts.
        duration: Duration,
    },
    /// Partition by regions.
    PartitionRegions {
        /// Groups of region names.
        groups: Vec<Vec<String>>,
    },
    /// Traffic from `from` to `to` is cut; the reverse still flows.
    CutOneWay {
        /// Sender node.
        from: String,
        /// Receiver node.
        to: String,
    },
    /// Ends every partition and cut.
    Heal,
    /// Adds latency and loss to links from region `from` to region `to` (zero restores).
    DegradeLink {
        /// Source region.
        from: String,
        /// Destination region.
        to: String,
        /// Added latency. Default `"0"`.
        #[serde(default = "zero")]
        extra_latency: Duration,
        /// Added loss. Default 0.
        #[serde(default)]
        extra_loss: Probability,
    },
    /// The node's clock jumps forward by `ahead` and back by `behind`.
    ClockStep {
        /// Node.
        node: String,
        /// Forward jump. Default `"0"`.
        #[serde(default = "zero")]
        ahead: Duration,
        /// Backward jump. Default `"0"`.
        #[serde(default = "zero")]
        behind: Duration,
    },
}

/// Random fault generators.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum RandomFault {
    /// A node alternates exponential up (mean `mtbf`) and down (mean `mttr`) periods.
    NodeFailures {
        /// Node (or component) name.
        node: String,
        /// Mean time between failures.
        mtbf: Duration,
        /// Mean time to repair.
        mttr: Duration,
    },
    /// A random node among `nodes` is isolated now and then.
    Isolations {
        /// Candidate nodes (or components).
        nodes: Vec<String>,
        /// Mean time between isolations.
        mean_interval: Duration,
        /// Mean isolation length.
        mean_duration: Duration,
    },
}

/// Parameter sweep and replications.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// Replications per point, with seeds derived from the master seed and the replication
    /// number (common random numbers across points). Default 1.
    #[serde(default = "one_u32")]
    pub replications: u32,
    /// Cartesian product of axes (first axis varies slowest). Default: none.
    #[serde(default)]
    pub grid: Vec<Axis>,
    /// Groups of axes that advance together (all lists in a group have equal length).
    /// Default: none.
    #[serde(default)]
    pub zip: Vec<Vec<Axis>>,
    /// Latin hypercube samples over numeric ranges. Default: none.
    #[serde(default)]
    pub latin_hypercube: Option<LatinHypercube>,
}

impl Default for Sweep {
    fn default() -> Self {
        Sweep {
            replications: 1,
            grid: Vec::new(),
            zip: Vec::new(),
            latin_hypercube: None,
        }
    }
}

/// One swept parameter: a path into this file and the values it takes.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Axis {
    /// Path, e.g. `"components.app.kind.workers"` (see `--set`).
    pub path: String,
    /// Values: numbers, or text such as `"5ms"` or RON like `"Exponential(mean: \"1ms\")"`.
    pub values: Vec<SweepValue>,
}

/// Latin hypercube design.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LatinHypercube {
    /// Number of samples.
    pub samples: u32,
    /// Seed of the design (independent of the run seeds). Default 0.
    #[serde(default)]
    pub seed: u64,
    /// Numeric ranges.
    pub ranges: Vec<Range>,
}

/// A numeric range for Latin hypercube sampling.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// Path of the parameter.
    pub path: String,
    /// Lower bound.
    pub min: f64,
    /// Upper bound.
    pub max: f64,
    /// Whether to sample whole numbers only. Default `false`.
    #[serde(default)]
    pub integer: bool,
}

/// A value in a sweep list: an integer, a float, or text (a unit quantity or RON).
#[derive(Clone, Debug, PartialEq)]
pub enum SweepValue {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// Text, substituted as a RON string if it is not valid RON itself.
    Text(String),
}

impl SweepValue {
    /// The RON text that replaces the swept field.
    pub fn to_ron(&self) -> String {
        match self {
            SweepValue::Int(i) => i.to_string(),
            SweepValue::Float(f) => format!("{f:?}"),
            SweepValue::Text(t) => t.clone(),
        }
    }
}

impl std::fmt::Display for SweepValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SweepValue::Int(i) => write!(f, "{i}"),
            SweepValue::Float(x) => write!(f, "{x}"),
            SweepValue::Text(t) => f.write_str(t),
        }
    }
}

impl Serialize for SweepValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SweepValue::Int(i) => s.serialize_i64(*i),
            SweepValue::Float(x) => s.serialize_f64(*x),
            SweepValue::Text(t) => s.serialize_str(t),
        }
    }
}

impl<'de> Deserialize<'de> for SweepValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SweepValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number (4, 0.5) or a text value (\"5ms\", \"Exponential(mean: \\\"1ms\\\")\")")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SweepValue, E> {
                Ok(SweepValue::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SweepValue, E> {
                i64::try_from(v)
                    .map(SweepValue::Int)
                    .map_err(|_| E::custom("integer too large for a sweep value"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<SweepValue, E> {
                Ok(SweepValue::Float(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<SweepValue, E> {
                Ok(SweepValue::Text(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SweepValue, E> {
                Ok(SweepValue::Text(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Whether a client reuses its connection (see `clustersim_models::workload::Connection`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum Connection {
    /// HTTP keep-alive: no setup cost per request.
    #[default]
    KeepAlive,
    /// A new connection per attempt, `handshake_rtts` setup round trips (1: TCP, 2: TCP +
    /// TLS 1.3, 3: TCP + TLS 1.2) before the request.
    PerRequest {
        /// Setup round trips.
        handshake_rtts: u32,
    },
}

// ---- Communication styles (`clustersim_models::comm`) ----

fn unlimited_u32() -> u32 {
    u32::MAX
}
fn zero_bytes() -> ByteSize {
    ByteSize(0)
}
fn datagram() -> Transport {
    Transport::Datagram
}
fn default_heartbeat() -> Duration {
    Duration(clustersim_engine::SimDuration::from_secs(1))
}
fn default_reconnect_max() -> Duration {
    Duration(clustersim_engine::SimDuration::from_secs(5))
}
fn default_history() -> u32 {
    1024
}
fn default_lost_after() -> Duration {
    Duration(clustersim_engine::SimDuration::from_secs(2))
}

/// Notification source parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Publisher {
    /// Push gateways and poll servers receiving every event.
    pub targets: Vec<String>,
    /// Event rate, e.g. `"5/s"`.
    pub rate: Rate,
    /// Arrival process. Default `Poisson`.
    #[serde(default = "poisson")]
    pub arrival: Arrival,
    /// Size of one event message. Default `0`.
    #[serde(default = "zero_bytes")]
    pub size: ByteSize,
}

/// Push gateway parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PushGateway {
    /// Most simultaneous connections. Default: unlimited.
    #[serde(default = "unlimited_u32")]
    pub max_connections: u32,
    /// Size of one push. Default `0`.
    #[serde(default = "zero_bytes")]
    pub push_size: ByteSize,
}

/// Push client parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PushClient {
    /// The push gateway.
    pub gateway: String,
    /// Connection setup round trips before subscribing. Default 0.
    #[serde(default)]
    pub handshake_rtts: u32,
    /// Ping interval (an unanswered ping ends the connection). Default `"1s"`.
    #[serde(default = "default_heartbeat")]
    pub heartbeat: Duration,
    /// First reconnect backoff (doubling, full jitter). Default `"100ms"`.
    #[serde(default = "default_backoff")]
    pub reconnect_backoff: Duration,
    /// Reconnect backoff cap. Default `"5s"`.
    #[serde(default = "default_reconnect_max")]
    pub max_backoff: Duration,
    /// Delay before the first connection. Default `"0"`.
    #[serde(default = "zero")]
    pub start_after: Duration,
}

/// Poll server parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PollServer {
    /// Events kept for pollers. Default 1024.
    #[serde(default = "default_history")]
    pub history: u32,
    /// Size of one event in a poll response. Default `0`.
    #[serde(default = "zero_bytes")]
    pub item_size: ByteSize,
}

/// Poll client parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PollClient {
    /// The poll server.
    pub server: String,
    /// Polling interval.
    pub interval: Duration,
    /// Connection setup round trips before each poll (0 = keep-alive). Default 0.
    #[serde(default)]
    pub handshake_rtts: u32,
}

/// Peer parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    /// The other peer.
    pub peer: String,
    /// A relay to send through. Default: none (direct).
    #[serde(default)]
    pub relay: Option<String>,
    /// Frame rate, e.g. `"50/s"` (evenly spaced).
    pub rate: Rate,
    /// Size of one frame. Default `0`.
    #[serde(default = "zero_bytes")]
    pub frame_size: ByteSize,
    /// Transport. Default `Datagram`.
    #[serde(default = "datagram")]
    pub transport: Transport,
}

/// Relay parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Relay {
    /// Transport of forwarded frames. Default `Datagram`.
    #[serde(default = "datagram")]
    pub transport: Transport,
}

/// Media source parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MediaSource {
    /// The media client.
    pub target: String,
    /// Frames (chunks) per second, e.g. `"30/s"`.
    pub frame_rate: Rate,
    /// Size of one chunk. Default `0`.
    #[serde(default = "zero_bytes")]
    pub chunk_size: ByteSize,
    /// `Datagram` (UDP-like, lossy) or `Stream` (TCP-like, retransmitted). Default `Datagram`.
    #[serde(default = "datagram")]
    pub transport: Transport,
}

/// Media client parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MediaClient {
    /// A chunk is on time if it arrives within this long of being sent.
    pub playout_delay: Duration,
    /// A missing chunk is lost once a later chunk was sent this long ago. Default `"2s"`.
    #[serde(default = "default_lost_after")]
    pub lost_after: Duration,
}

/// Rate limiter parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimiter {
    /// Where admitted requests go.
    pub target: String,
    /// `Global`, `Client` (per end user) or `Route` (per operation). Default `Global`.
    #[serde(default = "limit_global")]
    pub key_by: LimitKey,
    /// The algorithm, e.g. `TokenBucket(rate: "100/s", burst: 20)`.
    pub algorithm: LimitAlgorithm,
    /// `Local`, `Sync(store: "redis")` or `LocalSync(store: "redis", interval: "100ms")`.
    /// Default `Local`.
    #[serde(default = "limit_local")]
    pub mode: LimitMode,
    /// Send a Retry-After hint with throttled responses. Default `true`.
    #[serde(default = "yes")]
    pub retry_after: bool,
    /// Transport. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
    /// With `key_by: Client`, how many end users (ids `0..report_keys`) get their own
    /// `admitted@key=N` / `rejected@key=N` rows in metrics.csv; the others are summed under
    /// `key=other`. Routes are always reported each. Default 32.
    #[serde(default = "thirty_two")]
    pub report_keys: u32,
}

fn thirty_two() -> u32 {
    32
}

fn limit_global() -> LimitKey {
    LimitKey::Global
}
fn limit_local() -> LimitMode {
    LimitMode::Local
}
fn fifty_ms() -> Duration {
    Duration(clustersim_engine::SimDuration::from_millis(50))
}
fn fifty_us() -> Duration {
    Duration(clustersim_engine::SimDuration::from_micros(50))
}

/// What a rate limit is kept per.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum LimitKey {
    /// One limit for all traffic.
    Global,
    /// Per end user.
    Client,
    /// Per API route (the request's operation).
    Route,
}

/// A rate-limiting algorithm.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum LimitAlgorithm {
    /// Continuous-refill token bucket.
    TokenBucket {
        /// Refill rate, e.g. `"100/s"`.
        rate: Rate,
        /// Bucket size (≥ 1).
        burst: u32,
    },
    /// A queue drained at a constant rate; its waiting time adds to latency.
    LeakyBucket {
        /// Drain rate, e.g. `"100/s"`.
        rate: Rate,
        /// Requests the bucket holds (≥ 1).
        capacity: u32,
    },
    /// Fixed window counter.
    FixedWindow {
        /// Requests per window (≥ 1).
        limit: u32,
        /// Window length.
        window: Duration,
    },
    /// Sliding window log (exact; memory grows with the rate).
    SlidingLog {
        /// Requests per window (≥ 1).
        limit: u32,
        /// Window length.
        window: Duration,
    },
    /// Sliding window counter (weighted previous + current window).
    SlidingCounter {
        /// Requests per window (≥ 1).
        limit: u32,
        /// Window length.
        window: Duration,
    },
}

/// Local or distributed limiting (the distributed modes need `FixedWindow`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum LimitMode {
    /// Per-node state only.
    Local,
    /// Atomic check-and-increment on the store for every request.
    Sync {
        /// The `CounterStore` component.
        store: String,
        /// Store answer timeout. Default `"50ms"`.
        #[serde(default = "fifty_ms")]
        timeout: Duration,
        /// Admit while the store is down. Default `true`.
        #[serde(default = "yes")]
        fail_open: bool,
    },
    /// Local counters pushed to the store every `interval`.
    LocalSync {
        /// The `CounterStore` component.
        store: String,
        /// Push period.
        interval: Duration,
        /// Store answer timeout. Default `"50ms"`.
        #[serde(default = "fifty_ms")]
        timeout: Duration,
        /// Keep admitting locally while the store is down. Default `true`.
        #[serde(default = "yes")]
        fail_open: bool,
    },
}

/// Counter store parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CounterStore {
    /// Time per operation (single thread, FIFO). Default `"50us"`.
    #[serde(default = "fifty_us")]
    pub service_time: Duration,
    /// Transport of replies. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
}
