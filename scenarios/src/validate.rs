//! Semantic validation: a parsed [`raw::Scenario`] becomes a [`Spec`] with dense ids and engine
//! and model types, or a list of *every* problem found, each with its field path.
//!
//! This is the only place where names become ids. Paths look like serde's
//! (`components[1].kind.Service.workers`); ron has no `Spanned<T>`, so semantic diagnostics
//! carry a path but no line and column.

use std::collections::BTreeMap;

use clustersim_engine::{
    ComponentId, Dist, FaultAction, LinkSpec, NetworkConfig, NodeClock, NodeId, RandomFaults,
    RegionId, SimDuration, SimTime, StreamConfig, Transport,
};
use clustersim_models::registry::ComponentConfig;
use clustersim_models::{cache, comm, load_balancer, rate_limiter, service, sharding, workload};

use crate::diagnostic::Diagnostic;
use crate::raw::{self, Scenario};
use crate::units::{ByteSize, Duration};

#[path = "validate_messaging.rs"]
mod messaging;
mod patterns;
#[path = "validate_store.rs"]
mod validate_store;

/// A validated scenario: every name resolved, every value checked, engine and model types.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Scenario name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Master seed.
    pub seed: u64,
    /// Run length.
    pub duration: SimDuration,
    /// Warm-up excluded from statistics (zero when [`Spec::warmup_auto`] is set).
    pub warmup: SimDuration,
    /// `warmup: Auto`: the warm-up is detected per run (MSER-5) by the analysis crate, which
    /// runs once with [`Spec::warmup`] = 0 and again with the detected value.
    pub warmup_auto: bool,
    /// Time-series interval.
    pub report_interval: SimDuration,
    /// Event bound per run.
    pub max_events: u64,
    /// Region names by id.
    pub regions: Vec<String>,
    /// Nodes by id.
    pub nodes: Vec<NodeSpec>,
    /// Network configuration.
    pub network: NetworkConfig,
    /// Components by id.
    pub components: Vec<ComponentSpec>,
    /// Scheduled faults, in file order.
    pub faults: Vec<(SimTime, FaultAction)>,
    /// Random fault generators `(name, spec)`.
    pub random_faults: Vec<(String, RandomFaults)>,
}

/// A resolved node.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    /// Name.
    pub name: String,
    /// Region.
    pub region: RegionId,
    /// Clock.
    pub clock: NodeClock,
    /// NIC bandwidth in bit/s (0 = unlimited).
    pub nic_bps: u64,
}

/// A resolved component.
#[derive(Clone, Debug)]
pub struct ComponentSpec {
    /// Name.
    pub name: String,
    /// Host node.
    pub node: NodeId,
    /// Plugin configuration.
    pub config: ComponentConfig,
}

struct Ctx {
    diags: Vec<Diagnostic>,
    /// Transport for models that do not choose one.
    default_transport: Transport,
}

impl Ctx {
    fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.diags.push(Diagnostic::new(path, message));
    }
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }
}

fn ns(d: Duration) -> f64 {
    d.0.as_nanos() as f64
}

/// A unit that distributions can be expressed in.
trait DistUnit: Copy {
    fn as_f64(self) -> f64;
}
impl DistUnit for Duration {
    fn as_f64(self) -> f64 {
        ns(self)
    }
}
impl DistUnit for ByteSize {
    fn as_f64(self) -> f64 {
        self.0 as f64
    }
}

fn dist<U: DistUnit>(d: &raw::Dist<U>) -> Result<Dist, String> {
    let r = match d {
        raw::Dist::Constant(v) => Dist::constant(v.as_f64()),
        raw::Dist::Uniform { min, max } => Dist::uniform(min.as_f64(), max.as_f64()),
        raw::Dist::Exponential { mean } => Dist::exponential(mean.as_f64()),
        raw::Dist::Normal { mean, std_dev } => Dist::normal(mean.as_f64(), std_dev.as_f64()),
        raw::Dist::LogNormal { median, p99 } => {
            Dist::lognormal_from_median_p99(median.as_f64(), p99.as_f64())
        }
        raw::Dist::Pareto { scale, shape } => Dist::pareto(scale.as_f64(), *shape),
        raw::Dist::Weibull { scale, shape } => Dist::weibull(scale.as_f64(), *shape),
        raw::Dist::Empirical { points } => {
            Dist::empirical(points.iter().map(|(q, v)| (*q, v.as_f64())).collect())
        }
        raw::Dist::Mixture { parts } => {
            let mut built = Vec::with_capacity(parts.len());
            for (w, p) in parts {
                built.push((*w, dist(p)?));
            }
            Dist::mixture(built)
        }
        raw::Dist::Shifted {
            offset,
            dist: inner,
        } => Dist::shifted(offset.as_f64(), dist(inner)?),
    };
    r.map_err(|e| e.to_string())
}

fn check_dist<U: DistUnit>(cx: &mut Ctx, path: &str, d: &raw::Dist<U>) -> Dist {
    match dist(d) {
        Ok(d) => d,
        Err(e) => {
            cx.err(path, e);
            Dist::constant(0.0).expect("zero is valid")
        }
    }
}

fn link(cx: &mut Ctx, path: &str, l: &raw::Link) -> LinkSpec {
    LinkSpec {
        latency: check_dist(cx, &format!("{path}.latency"), &l.latency),
        jitter: l.jitter.0,
        loss: l.loss.value(),
        duplicate: l.duplicate.value(),
        bandwidth_bps: l.bandwidth.map(|b| b.bits_per_second()).unwrap_or(0),
        queue_limit: l.queue_limit.map(|d| d.0).unwrap_or(SimDuration::MAX),
    }
}

fn transport(t: raw::Transport) -> Transport {
    match t {
        raw::Transport::Datagram => Transport::Datagram,
        raw::Transport::Stream => Transport::Stream,
    }
}

/// Names → ids, with did-you-mean on failure.
struct Names<'a> {
    what: &'static str,
    ids: BTreeMap<&'a str, u32>,
    order: Vec<&'a str>,
}

impl<'a> Names<'a> {
    fn new(what: &'static str) -> Self {
        Names {
            what,
            ids: BTreeMap::new(),
            order: Vec::new(),
        }
    }
    fn add(&mut self, cx: &mut Ctx, path: &str, name: &'a str) -> u32 {
        if name.is_empty() {
            cx.err(path, format!("{} name must not be empty", self.what));
        }
        if let Some(&id) = self.ids.get(name) {
            cx.push(
                Diagnostic::new(path, format!("duplicate {} name `{name}`", self.what))
                    .with_hint("names must be unique; rename one of them"),
            );
            return id;
        }
        let id = self.order.len() as u32;
        self.ids.insert(name, id);
        self.order.push(name);
        id
    }
    fn get(&self, cx: &mut Ctx, path: &str, name: &str) -> Option<u32> {
        match self.ids.get(name) {
            Some(&id) => Some(id),
            None => {
                cx.push(Diagnostic::unknown_name(
                    path,
                    self.what,
                    name,
                    self.order.iter().copied(),
                ));
                None
            }
        }
    }
}

/// Resolves and checks `raw`. Returns every problem found, not just the first.
pub fn validate(raw: &Scenario) -> Result<Spec, Vec<Diagnostic>> {
    let mut cx = Ctx {
        diags: Vec::new(),
        default_transport: transport(raw.network.default_transport),
    };
    let duration = raw.duration.0;
    if duration.is_zero() {
        cx.err("duration", "the run must last longer than zero");
    }
    let warmup = raw.warmup.fixed_or_zero().0;
    if warmup >= duration && !duration.is_zero() {
        cx.push(
            Diagnostic::new(
                "warmup",
                format!("warm-up {warmup} is not shorter than the run ({duration})"),
            )
            .with_hint("shorten `warmup` or lengthen `duration`"),
        );
    }
    if raw.report_interval.0.is_zero() {
        cx.err("report_interval", "the report interval must be > 0");
    }
    if raw.max_events == 0 {
        cx.err("max_events", "max_events must be > 0");
    }

    // Regions.
    let mut regions = Names::new("region");
    for (i, r) in raw.regions.iter().enumerate() {
        regions.add(&mut cx, &format!("regions[{i}].name"), &r.name);
    }
    let mut region_names: Vec<String> = raw.regions.iter().map(|r| r.name.clone()).collect();
    if region_names.is_empty() {
        region_names.push("default".into());
    }

    // Nodes: explicit ones, then one per component without `node`.
    let mut nodes = Names::new("node");
    let mut node_specs = Vec::new();
    for (i, n) in raw.nodes.iter().enumerate() {
        let path = format!("nodes[{i}]");
        nodes.add(&mut cx, &format!("{path}.name"), &n.name);
        let region = match &n.region {
            Some(r) if !raw.regions.is_empty() => regions
                .get(&mut cx, &format!("{path}.region"), r)
                .unwrap_or(0),
            Some(r) => {
                cx.push(
                    Diagnostic::new(
                        format!("{path}.region"),
                        format!("unknown region `{r}`: no regions are declared"),
                    )
                    .with_hint("declare it in `regions: [(name: \"...\")]`"),
                );
                0
            }
            None => 0,
        };
        if !n.clock.drift_ppm.is_finite() || n.clock.drift_ppm.abs() > 1_000_000.0 {
            cx.err(
                format!("{path}.clock.drift_ppm"),
                "drift must be a finite number of ppm within ±1,000,000",
            );
        }
        let offset =
            i128::from(n.clock.ahead.0.as_nanos()) - i128::from(n.clock.behind.0.as_nanos());
        let clock = NodeClock {
            offset_ns: offset.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
            drift_ppb: (n.clock.drift_ppm * 1000.0).round() as i64,
        };
        node_specs.push(NodeSpec {
            name: n.name.clone(),
            region: RegionId(region),
            clock,
            nic_bps: n.nic_bandwidth.map(|b| b.bits_per_second()).unwrap_or(0),
        });
    }
    let mut components = Names::new("component");
    for (i, c) in raw.components.iter().enumerate() {
        components.add(&mut cx, &format!("components[{i}].name"), &c.name);
    }
    let mut component_node = Vec::with_capacity(raw.components.len());
    for (i, c) in raw.components.iter().enumerate() {
        let node = match &c.node {
            Some(n) => nodes
                .get(&mut cx, &format!("components[{i}].node"), n)
                .unwrap_or(0),
            None => match nodes.ids.get(c.name.as_str()) {
                Some(&id) => id,
                None => {
                    let id = nodes.add(&mut cx, &format!("components[{i}].name"), &c.name);
                    node_specs.push(NodeSpec {
                        name: c.name.clone(),
                        region: RegionId(0),
                        clock: NodeClock::PERFECT,
                        nic_bps: 0,
                    });
                    id
                }
            },
        };
        component_node.push(NodeId(node));
    }

    // Network.
    let net = &raw.network;
    let mut network = NetworkConfig {
        default_transport: transport(net.default_transport),
        stream: StreamConfig {
            rto: net.stream.rto.0,
            rto_max: net.stream.rto_max.0,
            failure_timeout: net.stream.failure_timeout.0,
            max_retransmits: net.stream.max_retransmits,
        },
        ..NetworkConfig::default()
    };
    if net.stream.rto.0.is_zero() {
        cx.err(
            "network.stream.rto",
            "the retransmission timeout must be > 0",
        );
    }
    if net.stream.rto_max.0 < net.stream.rto.0 {
        cx.err("network.stream.rto_max", "rto_max must be at least rto");
    }
    if let Some(l) = &net.loopback {
        network.loopback = link(&mut cx, "network.loopback", l);
    }
    if let Some(l) = &net.intra_region {
        network.intra_region = link(&mut cx, "network.intra_region", l);
    }
    for (i, ri) in net.region_internal.iter().enumerate() {
        let path = format!("network.region_internal[{i}]");
        let r = regions
            .get(&mut cx, &format!("{path}.region"), &ri.region)
            .unwrap_or(0);
        let spec = link(&mut cx, &format!("{path}.link"), &ri.link);
        network.region_internal.push((RegionId(r), spec));
    }
    for (i, l) in net.links.iter().enumerate() {
        let path = format!("network.links[{i}]");
        let a = regions.get(&mut cx, &format!("{path}.from"), &l.from);
        let b = regions.get(&mut cx, &format!("{path}.to"), &l.to);
        if l.from == l.to {
            cx.push(
                Diagnostic::new(
                    format!("{path}.to"),
                    "a link must join two different regions",
                )
                .with_hint("use `network.region_internal` for a region's own network"),
            );
        }
        let spec = link(&mut cx, &format!("{path}.link"), &l.link);
        if let (Some(a), Some(b)) = (a, b) {
            network
                .region_links
                .push((RegionId(a), RegionId(b), spec, l.bidirectional));
        }
    }
    if let Some(l) = &net.default_inter_region {
        network.default_inter_region = Some(link(&mut cx, "network.default_inter_region", l));
    }

    // Components.
    let mut specs = Vec::with_capacity(raw.components.len());
    let mut is_client = vec![false; raw.components.len()];
    for (i, c) in raw.components.iter().enumerate() {
        let path = format!("components[{i}].kind");
        let config = match &c.kind {
            raw::Kind::OpenLoop(o) => {
                is_client[i] = true;
                ComponentConfig::OpenLoopClient(open_loop(
                    &mut cx,
                    &components,
                    &format!("{path}.OpenLoop"),
                    o,
                ))
            }
            raw::Kind::ClosedLoop(o) => {
                is_client[i] = true;
                ComponentConfig::ClosedLoopClient(closed_loop(
                    &mut cx,
                    &components,
                    &format!("{path}.ClosedLoop"),
                    o,
                ))
            }
            raw::Kind::Service(s) => ComponentConfig::Service(service(
                &mut cx,
                &components,
                &format!("{path}.Service"),
                s,
            )),
            raw::Kind::LoadBalancer(l) => ComponentConfig::LoadBalancer(load_balancer_config(
                &mut cx,
                &components,
                &format!("{path}.LoadBalancer"),
                l,
            )),
            raw::Kind::Cache(k) => ComponentConfig::Cache(cache_config(
                &mut cx,
                &components,
                &format!("{path}.Cache"),
                k,
                cache::Role::Cache,
            )),
            raw::Kind::ReverseProxy(k) => ComponentConfig::Cache(cache_config(
                &mut cx,
                &components,
                &format!("{path}.ReverseProxy"),
                k,
                cache::Role::ReverseProxy,
            )),
            raw::Kind::ForwardProxy(k) => ComponentConfig::Cache(cache_config(
                &mut cx,
                &components,
                &format!("{path}.ForwardProxy"),
                k,
                cache::Role::ForwardProxy,
            )),
            raw::Kind::ShardRouter(r) => ComponentConfig::ShardRouter(shard_router_config(
                &mut cx,
                &components,
                &format!("{path}.ShardRouter"),
                r,
            )),
            k @ (raw::Kind::Publisher(_)
            | raw::Kind::PushGateway(_)
            | raw::Kind::PushClient(_)
            | raw::Kind::PollServer(_)
            | raw::Kind::PollClient(_)
            | raw::Kind::Peer(_)
            | raw::Kind::Relay(_)
            | raw::Kind::MediaSource(_)
            | raw::Kind::MediaClient(_)) => {
                ComponentConfig::Comm(comm_config(&mut cx, &components, &path, k))
            }
            raw::Kind::RateLimiter(l) => ComponentConfig::RateLimiter(rate_limiter_config(
                &mut cx,
                &components,
                &format!("{path}.RateLimiter"),
                l,
            )),
            raw::Kind::CounterStore(c) => {
                ComponentConfig::CounterStore(rate_limiter::CounterStoreConfig {
                    service_time: c.service_time.0,
                    transport: c.transport.map(transport).unwrap_or(cx.default_transport),
                })
            }
            raw::Kind::Pattern(k) => {
                let c = patterns::pattern_config(&mut cx, &components, &path, k);
                is_client[i] = c.is_client();
                ComponentConfig::Pattern(c)
            }
            raw::Kind::Messaging(m) => ComponentConfig::Messaging(messaging::config(
                &mut cx,
                raw,
                &components,
                &path,
                &c.name,
                m,
            )),
            raw::Kind::Store(s) => {
                let order = raw.components[..i]
                    .iter()
                    .filter(|c| matches!(c.kind, raw::Kind::Store(_)))
                    .count();
                let p = format!("{path}.Store");
                ComponentConfig::Store(validate_store::front(&mut cx, &components, &p, s, order))
            }
            raw::Kind::StoreReplica(r) => ComponentConfig::StoreReplica(validate_store::replica(
                &mut cx,
                &format!("{path}.StoreReplica"),
                r,
            )),
        };
        // The plugin's own range checks: anything `build` would refuse is reported here, with
        // its path, before a run starts.
        if let Err(e) = config.validate() {
            let variant = match &c.kind {
                raw::Kind::OpenLoop(_) => "OpenLoop",
                raw::Kind::ClosedLoop(_) => "ClosedLoop",
                raw::Kind::Service(_) => "Service",
                raw::Kind::LoadBalancer(_) => "LoadBalancer",
                raw::Kind::Cache(_) => "Cache",
                raw::Kind::ReverseProxy(_) => "ReverseProxy",
                raw::Kind::ForwardProxy(_) => "ForwardProxy",
                raw::Kind::Publisher(_) => "Publisher",
                raw::Kind::PushGateway(_) => "PushGateway",
                raw::Kind::PushClient(_) => "PushClient",
                raw::Kind::PollServer(_) => "PollServer",
                raw::Kind::PollClient(_) => "PollClient",
                raw::Kind::Peer(_) => "Peer",
                raw::Kind::Relay(_) => "Relay",
                raw::Kind::MediaSource(_) => "MediaSource",
                raw::Kind::MediaClient(_) => "MediaClient",
                raw::Kind::ShardRouter(_) => "ShardRouter",
                raw::Kind::RateLimiter(_) => "RateLimiter",
                raw::Kind::CounterStore(_) => "CounterStore",
                raw::Kind::Pattern(k) => k.variant_path(),
                raw::Kind::Messaging(m) => m.path(),
                raw::Kind::Store(_) => "Store",
                raw::Kind::StoreReplica(_) => "StoreReplica",
            };
            cx.err(format!("{path}.{variant}.{}", e.field), e.problem.clone());
        }
        specs.push(ComponentSpec {
            name: c.name.clone(),
            node: component_node[i],
            config,
        });
    }
    route_to_nearest(
        &mut cx,
        raw,
        &network,
        &node_specs,
        region_names.len(),
        &components,
        &mut specs,
    );
    patterns::check_patterns(&mut cx, raw, &components, &mut specs);
    check_call_graph(&mut cx, raw, &specs, &is_client);
    check_limiter_stores(&mut cx, raw, &components);
    validate_store::link(&mut cx, raw, &mut specs);

    // Faults.
    let node_ref = |cx: &mut Ctx, path: &str, name: &str| -> Option<NodeId> {
        if let Some(&id) = nodes.ids.get(name) {
            return Some(NodeId(id));
        }
        if let Some(&c) = components.ids.get(name) {
            return Some(component_node[c as usize]);
        }
        let all = nodes.order.iter().copied().chain(
            components
                .order
                .iter()
                .copied()
                .filter(|c| !nodes.ids.contains_key(c)),
        );
        cx.push(Diagnostic::unknown_name(
            path,
            "node or component",
            name,
            all,
        ));
        None
    };
    let mut faults = Vec::new();
    for (i, f) in raw.faults.iter().enumerate() {
        let path = format!("faults[{i}].action");
        let at = SimTime::ZERO + f.at.0;
        if f.at.0 > duration {
            cx.push(
                Diagnostic::new(
                    format!("faults[{i}].at"),
                    format!(
                        "fault at {} is after the end of the run ({duration})",
                        f.at.0
                    ),
                )
                .with_hint("move it earlier or lengthen `duration`"),
            );
        }
        match &f.action {
            raw::FaultAction::Crash { node } => {
                if let Some(n) = node_ref(&mut cx, &format!("{path}.Crash.node"), node) {
                    faults.push((at, FaultAction::Crash(n)));
                }
            }
            raw::FaultAction::Restart { node } => {
                if let Some(n) = node_ref(&mut cx, &format!("{path}.Restart.node"), node) {
                    faults.push((at, FaultAction::Restart(n)));
                }
            }
            raw::FaultAction::CrashFor {
                node,
                duration: down,
            } => {
                if let Some(n) = node_ref(&mut cx, &format!("{path}.CrashFor.node"), node) {
                    faults.push((at, FaultAction::Crash(n)));
                    faults.push((at + down.0, FaultAction::Restart(n)));
                }
            }
            raw::FaultAction::Pause { node, duration: d } => {
                if let Some(n) = node_ref(&mut cx, &format!("{path}.Pause.node"), node) {
                    faults.push((
                        at,
                        FaultAction::Pause {
                            node: n,
                            duration: d.0,
                        },
                    ));
                }
            }
            raw::FaultAction::Slowdown { node, factor } => {
                if !(factor.is_finite() && *factor > 0.0 && *factor <= 1_000_000.0) {
                    cx.err(
                        format!("{path}.Slowdown.factor"),
                        format!("slowdown factor {factor} must be > 0 (1 = normal speed)"),
                    );
                }
                if let Some(n) = node_ref(&mut cx, &format!("{path}.Slowdown.node"), node) {
                    let factor_permille =
                        (factor * 1000.0).round().clamp(1.0, u32::MAX as f64) as u32;
                    faults.push((
                        at,
                        FaultAction::Slowdown {
                            node: n,
                            factor_permille,
                        },
                    ));
                }
            }
            raw::FaultAction::Partition { groups }
            | raw::FaultAction::PartitionFor { groups, .. } => {
                let (variant, heal_after) = match &f.action {
                    raw::FaultAction::PartitionFor { duration, .. } => {
                        ("PartitionFor", Some(duration.0))
                    }
                    _ => ("Partition", None),
                };
                let mut seen = BTreeMap::new();
                let mut resolved = Vec::new();
                for (g, members) in groups.iter().enumerate() {
                    let mut group = Vec::new();
                    for (m, name) in members.iter().enumerate() {
                        let p = format!("{path}.{variant}.groups[{g}][{m}]");
                        if let Some(n) = node_ref(&mut cx, &p, name) {
                            if let Some(prev) = seen.insert(n, name.clone()) {
                                cx.push(
                                    Diagnostic::new(p, format!("`{name}` is on node already listed (as `{prev}`) in this partition"))
                                        .with_hint("a node can be in one group only"),
                                );
                            }
                            group.push(n);
                        }
                    }
                    resolved.push(group);
                }
                faults.push((at, FaultAction::Partition(resolved)));
                if let Some(d) = heal_after {
                    faults.push((at + d, FaultAction::Heal));
                }
            }
            raw::FaultAction::PartitionRegions { groups } => {
                let mut seen = std::collections::BTreeSet::new();
                let mut resolved = Vec::new();
                for (g, members) in groups.iter().enumerate() {
                    let mut group = Vec::new();
                    for (m, name) in members.iter().enumerate() {
                        let p = format!("{path}.PartitionRegions.groups[{g}][{m}]");
                        if let Some(r) = regions.get(&mut cx, &p, name) {
                            if !seen.insert(r) {
                                cx.err(
                                    p,
                                    format!("region `{name}` is listed twice in this partition"),
                                );
                            }
                            group.push(RegionId(r));
                        }
                    }
                    resolved.push(group);
                }
                faults.push((at, FaultAction::PartitionRegions(resolved)));
            }
            raw::FaultAction::CutOneWay { from, to } => {
                let a = node_ref(&mut cx, &format!("{path}.CutOneWay.from"), from);
                let b = node_ref(&mut cx, &format!("{path}.CutOneWay.to"), to);
                if let (Some(a), Some(b)) = (a, b) {
                    faults.push((at, FaultAction::CutOneWay { from: a, to: b }));
                }
            }
            raw::FaultAction::Heal => faults.push((at, FaultAction::Heal)),
            raw::FaultAction::DegradeLink {
                from,
                to,
                extra_latency,
                extra_loss,
            } => {
                let a = regions_or_default(
                    &mut cx,
                    &regions,
                    &raw.regions,
                    &format!("{path}.DegradeLink.from"),
                    from,
                );
                let b = regions_or_default(
                    &mut cx,
                    &regions,
                    &raw.regions,
                    &format!("{path}.DegradeLink.to"),
                    to,
                );
                if let (Some(a), Some(b)) = (a, b) {
                    if a != b
                        && !network.region_links.iter().any(|(x, y, _, both)| {
                            (x.0 == a && y.0 == b) || (*both && x.0 == b && y.0 == a)
                        })
                    {
                        cx.push(
                            Diagnostic::new(
                                format!("{path}.DegradeLink"),
                                format!("there is no link from `{from}` to `{to}` to degrade"),
                            )
                            .with_hint("declare it in `network.links`"),
                        );
                    }
                    faults.push((
                        at,
                        FaultAction::DegradeLink {
                            from: RegionId(a),
                            to: RegionId(b),
                            extra_latency: extra_latency.0,
                            extra_loss: extra_loss.value(),
                        },
                    ));
                }
            }
            raw::FaultAction::ClockStep {
                node,
                ahead,
                behind,
            } => {
                if let Some(n) = node_ref(&mut cx, &format!("{path}.ClockStep.node"), node) {
                    let delta = i128::from(ahead.0.as_nanos()) - i128::from(behind.0.as_nanos());
                    let delta_ns = delta.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
                    faults.push((at, FaultAction::ClockStep { node: n, delta_ns }));
                }
            }
        }
    }
    let mut random_faults = Vec::new();
    for (i, f) in raw.random_faults.iter().enumerate() {
        let path = format!("random_faults[{i}]");
        match f {
            raw::RandomFault::NodeFailures { node, mtbf, mttr } => {
                if mtbf.0.is_zero() {
                    cx.err(format!("{path}.NodeFailures.mtbf"), "mtbf must be > 0");
                }
                if mttr.0.is_zero() {
                    cx.err(format!("{path}.NodeFailures.mttr"), "mttr must be > 0");
                }
                if let Some(n) = node_ref(&mut cx, &format!("{path}.NodeFailures.node"), node) {
                    random_faults.push((
                        format!("failures/{node}"),
                        RandomFaults::NodeFailures {
                            node: n,
                            mtbf: mtbf.0,
                            mttr: mttr.0,
                        },
                    ));
                }
            }
            raw::RandomFault::Isolations {
                nodes: list,
                mean_interval,
                mean_duration,
            } => {
                if list.is_empty() {
                    cx.err(format!("{path}.Isolations.nodes"), "list at least one node");
                }
                if mean_interval.0.is_zero() || mean_duration.0.is_zero() {
                    cx.err(path.clone(), "mean_interval and mean_duration must be > 0");
                }
                let resolved: Vec<NodeId> = list
                    .iter()
                    .enumerate()
                    .filter_map(|(m, n)| {
                        node_ref(&mut cx, &format!("{path}.Isolations.nodes[{m}]"), n)
                    })
                    .collect();
                random_faults.push((
                    format!("isolations/{i}"),
                    RandomFaults::Isolations {
                        nodes: resolved,
                        mean_interval: mean_interval.0,
                        mean_duration: mean_duration.0,
                    },
                ));
            }
        }
    }
    if raw.sweep.replications == 0 {
        cx.err("sweep.replications", "replications must be at least 1");
    }
    if let Some(e) = &raw.estimate {
        cx.diags.extend(crate::estimate::check(e, "estimate"));
    }
    if let Some(s) = &raw.search {
        cx.diags.extend(crate::search::check(s, "search"));
    }

    if !cx.diags.is_empty() {
        return Err(cx.diags);
    }
    Ok(Spec {
        name: raw.name.clone(),
        description: raw.description.clone(),
        seed: raw.seed,
        duration,
        warmup,
        warmup_auto: raw.warmup == raw::Warmup::Auto,
        report_interval: raw.report_interval.0,
        max_events: raw.max_events,
        regions: region_names,
        nodes: node_specs,
        network,
        components: specs,
        faults,
        random_faults,
    })
}

fn regions_or_default(
    cx: &mut Ctx,
    regions: &Names<'_>,
    declared: &[raw::Region],
    path: &str,
    name: &str,
) -> Option<u32> {
    if declared.is_empty() && name == "default" {
        return Some(0);
    }
    regions.get(cx, path, name)
}

/// An unresolved target becomes `u32::MAX`, which the call-graph check skips, so one typo is
/// one error (validation fails anyway, so the id is never built).
fn target(cx: &mut Ctx, components: &Names<'_>, path: &str, name: &str) -> ComponentId {
    ComponentId(components.get(cx, path, name).unwrap_or(u32::MAX))
}

fn mix(cx: &mut Ctx, path: &str, m: &raw::Mix) -> workload::OpMix {
    for (field, w) in [("read", m.read), ("write", m.write), ("other", m.other)] {
        if !(w.is_finite() && w >= 0.0) {
            cx.err(
                format!("{path}.{field}"),
                format!("weight {w} must be a finite number ≥ 0"),
            );
        }
    }
    if m.read + m.write + m.other <= 0.0 || (m.read + m.write + m.other).is_nan() {
        cx.err(path, "at least one mix weight must be > 0");
    }
    workload::OpMix {
        read: m.read,
        write: m.write,
        other: m.other,
    }
}

fn keys(cx: &mut Ctx, path: &str, k: &raw::Keys) -> workload::KeyDist {
    match k {
        raw::Keys::Uniform { keys } => {
            if *keys == 0 {
                cx.err(
                    format!("{path}.Uniform.keys"),
                    "there must be at least one key",
                );
            }
            workload::KeyDist::Uniform {
                keys: (*keys).max(1),
            }
        }
        raw::Keys::Zipf { keys, exponent } => {
            if *keys == 0 {
                cx.err(
                    format!("{path}.Zipf.keys"),
                    "there must be at least one key",
                );
            }
            if !(exponent.is_finite() && *exponent > 0.0) {
                cx.err(
                    format!("{path}.Zipf.exponent"),
                    format!("exponent {exponent} must be > 0 (about 1 for web workloads)"),
                );
            }
            workload::KeyDist::Zipf {
                keys: (*keys).max(1),
                exponent: if *exponent > 0.0 { *exponent } else { 1.0 },
            }
        }
    }
}

fn retry(cx: &mut Ctx, path: &str, r: &raw::Retry) -> workload::RetryPolicy {
    if !(r.multiplier.is_finite() && r.multiplier >= 1.0) {
        cx.err(
            format!("{path}.multiplier"),
            format!("backoff multiplier {} must be ≥ 1", r.multiplier),
        );
    }
    if r.max_backoff.0 < r.backoff.0 {
        cx.err(
            format!("{path}.max_backoff"),
            "max_backoff must be at least backoff",
        );
    }
    workload::RetryPolicy {
        max_retries: r.max_retries,
        backoff_base: r.backoff.0,
        backoff_multiplier: r.multiplier,
        backoff_max: r.max_backoff.0,
        jitter: match r.jitter {
            raw::Jitter::None => workload::Jitter::None,
            raw::Jitter::Full => workload::Jitter::Full,
            raw::Jitter::Equal => workload::Jitter::Equal,
        },
        honour_retry_after: r.honour_retry_after,
    }
}

fn timeout(cx: &mut Ctx, path: &str, t: Option<Duration>) -> Option<SimDuration> {
    if let Some(t) = t
        && t.0.is_zero()
    {
        cx.err(path, "a timeout must be > 0 (omit it to wait forever)");
    }
    t.map(|d| d.0)
}

fn open_loop(
    cx: &mut Ctx,
    components: &Names<'_>,
    path: &str,
    o: &raw::OpenLoop,
) -> workload::OpenLoopConfig {
    let mut modulation = Vec::new();
    for (i, m) in o.modulation.iter().enumerate() {
        let p = format!("{path}.modulation[{i}]");
        match m {
            raw::Modulation::Spike {
                start,
                duration,
                multiplier,
            } => {
                if !(multiplier.is_finite() && *multiplier > 0.0) {
                    cx.err(
                        format!("{p}.Spike.multiplier"),
                        "a spike multiplier must be > 0",
                    );
                }
                modulation.push(workload::RateModulation::Spike {
                    start: start.0,
                    duration: duration.0,
                    multiplier: *multiplier,
                });
            }
            raw::Modulation::Diurnal {
                period,
                amplitude,
                peak_at,
            } => {
                if period.0.is_zero() {
                    cx.err(format!("{p}.Diurnal.period"), "the period must be > 0");
                }
                if !(0.0..=1.0).contains(amplitude) {
                    cx.err(
                        format!("{p}.Diurnal.amplitude"),
                        format!("amplitude {amplitude} must be in [0, 1]"),
                    );
                }
                modulation.push(workload::RateModulation::Diurnal {
                    period: period.0,
                    amplitude: *amplitude,
                    peak_at: peak_at.0,
                });
            }
        }
    }
    workload::OpenLoopConfig {
        target: target(cx, components, &format!("{path}.target"), &o.target),
        arrival: match o.arrival {
            raw::Arrival::Poisson => workload::ArrivalProcess::Poisson,
            raw::Arrival::Constant => workload::ArrivalProcess::Constant,
        },
        rate_per_s: o.rate.per_second(),
        modulation,
        mix: mix(cx, &format!("{path}.mix"), &o.mix),
        keys: keys(cx, &format!("{path}.keys"), &o.keys),
        request_size: check_dist(cx, &format!("{path}.request_size"), &o.request_size),
        timeout: timeout(cx, &format!("{path}.timeout"), o.timeout),
        retry: retry(cx, &format!("{path}.retry"), &o.retry),
        start_after: o.start_after.0,
        stop_after: o.stop_after.map(|d| d.0),
        transport: o.transport.map(transport).unwrap_or(cx.default_transport),
        clients: o.clients,
        first_client: o.first_client,
        connection: connection(o.connection),
    }
}

fn closed_loop(
    cx: &mut Ctx,
    components: &Names<'_>,
    path: &str,
    o: &raw::ClosedLoop,
) -> workload::ClosedLoopConfig {
    if o.users == 0 {
        cx.err(
            format!("{path}.users"),
            "a closed loop needs at least one user",
        );
    }
    workload::ClosedLoopConfig {
        target: target(cx, components, &format!("{path}.target"), &o.target),
        users: o.users,
        think_time: check_dist(cx, &format!("{path}.think_time"), &o.think_time),
        mix: mix(cx, &format!("{path}.mix"), &o.mix),
        keys: keys(cx, &format!("{path}.keys"), &o.keys),
        request_size: check_dist(cx, &format!("{path}.request_size"), &o.request_size),
        timeout: timeout(cx, &format!("{path}.timeout"), o.timeout),
        retry: retry(cx, &format!("{path}.retry"), &o.retry),
        start_after: o.start_after.0,
        transport: o.transport.map(transport).unwrap_or(cx.default_transport),
        connection: connection(o.connection),
    }
}

fn service(
    cx: &mut Ctx,
    components: &Names<'_>,
    path: &str,
    s: &raw::Service,
) -> service::ServiceConfig {
    if s.instances == 0 {
        cx.err(
            format!("{path}.instances"),
            "a service needs at least one instance",
        );
    }
    if s.workers == 0 {
        cx.err(
            format!("{path}.workers"),
            "a service needs at least one worker per instance",
        );
    }
    let calls = s
        .calls
        .iter()
        .enumerate()
        .map(|(i, c)| service::Call {
            target: target(
                cx,
                components,
                &format!("{path}.calls[{i}].target"),
                &c.target,
            ),
            probability: c.probability.value(),
            op: c.op.map(op),
        })
        .collect();
    service::ServiceConfig {
        instances: s.instances.max(1),
        workers: s.workers.max(1),
        queue_capacity: s.queue_capacity,
        service_time: check_dist(cx, &format!("{path}.service_time"), &s.service_time),
        dispatch: match s.dispatch {
            raw::Dispatch::RoundRobin => service::Dispatch::RoundRobin,
            raw::Dispatch::Random => service::Dispatch::Random,
            raw::Dispatch::JoinShortestQueue => service::Dispatch::JoinShortestQueue,
        },
        calls,
        call_mode: match s.call_mode {
            raw::CallMode::Sequential => service::CallMode::Sequential,
            raw::CallMode::Parallel => service::CallMode::Parallel,
        },
        hold_worker_during_calls: s.hold_worker_during_calls,
        call_timeout: timeout(cx, &format!("{path}.call_timeout"), s.call_timeout),
        response_size: check_dist(cx, &format!("{path}.response_size"), &s.response_size),
        transport: s.transport.map(transport).unwrap_or(cx.default_transport),
        versioned: s.versioned,
    }
}

fn load_balancer_config(
    cx: &mut Ctx,
    components: &Names<'_>,
    path: &str,
    l: &raw::LoadBalancer,
) -> load_balancer::LoadBalancerConfig {
    use load_balancer::Policy;
    let backends = l
        .backends
        .iter()
        .enumerate()
        .map(|(i, b)| load_balancer::Backend {
            target: target(
                cx,
                components,
                &format!("{path}.backends[{i}].target"),
                &b.target,
            ),
            weight: b.weight,
        })
        .collect();
    load_balancer::LoadBalancerConfig {
        backends,
        policy: match l.policy {
            raw::LbPolicy::RoundRobin => Policy::RoundRobin,
            raw::LbPolicy::WeightedRoundRobin => Policy::WeightedRoundRobin,
            raw::LbPolicy::IpHash => Policy::IpHash,
            raw::LbPolicy::LeastConnections => Policy::LeastConnections,
            raw::LbPolicy::WeightedLeastConnections => Policy::WeightedLeastConnections,
            raw::LbPolicy::LeastResponseTime => Policy::LeastResponseTime,
            raw::LbPolicy::Random => Policy::Random,
            raw::LbPolicy::PowerOfTwoChoices => Policy::PowerOfTwoChoices,
            raw::LbPolicy::KeyHash => Policy::KeyHash,
            raw::LbPolicy::Failover => Policy::Failover,
        },
        layer: match l.layer {
            raw::LbLayer::L4 => load_balancer::Layer::L4,
            raw::LbLayer::L7 => load_balancer::Layer::L7,
        },
        routing_cost: l.routing_cost.0,
        backend_timeout: l.backend_timeout.map(|d| d.0),
        health: l.health.as_ref().map(|h| load_balancer::HealthCheck {
            interval: h.interval.0,
            timeout: h.timeout.0,
            unhealthy_threshold: h.unhealthy_threshold,
            healthy_threshold: h.healthy_threshold,
            passive: h.passive,
        }),
        retry_other_backend: l.retry_other_backend,
        transport: l.transport.map(transport).unwrap_or(cx.default_transport),
        pools: lb_pools(cx, components, path, l),
    }
}

/// Layer-7 pools: member names → indices in the balancer's `backends` (unknown components
/// and components that are not backends of this balancer are reported here; the rest —
/// layer, repeated ops, empty pools — by the model's own check).
fn lb_pools(
    cx: &mut Ctx,
    components: &Names<'_>,
    path: &str,
    l: &raw::LoadBalancer,
) -> Vec<load_balancer::Pool> {
    let mut pools = Vec::with_capacity(l.pools.len());
    for (i, p) in l.pools.iter().enumerate() {
        let mut backends = Vec::with_capacity(p.backends.len());
        for (j, name) in p.backends.iter().enumerate() {
            let at = format!("{path}.pools[{i}].backends[{j}]");
            if components.get(cx, &at, name).is_none() {
                continue;
            }
            match l.backends.iter().position(|b| b.target == *name) {
                Some(k) => backends.push(k as u32),
                None => {
                    let listed: Vec<&str> = l.backends.iter().map(|b| b.target.as_str()).collect();
                    cx.err(
                        at,
                        format!(
                            "`{name}` is not a backend of this balancer; a pool's members must \
                             also be listed in `backends` (currently: {})",
                            listed.join(", ")
                        ),
                    );
                }
            }
        }
        if backends.len() == p.backends.len() {
            pools.push(load_balancer::Pool {
                op: op(p.op),
                backends,
            });
        }
    }
    pools
}

fn rate_limiter_config(
    cx: &mut Ctx,
    components: &Names<'_>,
    path: &str,
    l: &raw::RateLimiter,
) -> rate_limiter::RateLimiterConfig {
    use rate_limiter::Algorithm;
    let algorithm = match &l.algorithm {
        raw::LimitAlgorithm::TokenBucket { rate, burst } => Algorithm::TokenBucket {
            rate_per_s: rate.per_second(),
            burst: *burst,
        },
        raw::LimitAlgorithm::LeakyBucket { rate, capacity } => Algorithm::LeakyBucket {
            rate_per_s: rate.per_second(),
            capacity: *capacity,
        },
        raw::LimitAlgorithm::FixedWindow { limit, window } => Algorithm::FixedWindow {
            limit: *limit,
            window: window.0,
        },
        raw::LimitAlgorithm::SlidingLog { limit, window } => Algorithm::SlidingLog {
            limit: *limit,
            window: window.0,
        },
        raw::LimitAlgorithm::SlidingCounter { limit, window } => Algorithm::SlidingCounter {
            limit: *limit,
            window: window.0,
        },
    };
    let mode = match &l.mode {
        raw::LimitMode::Local => rate_limiter::Mode::Local,
        raw::LimitMode::Sync {
            store,
            timeout,
            fail_open,
        } => rate_limiter::Mode::Sync(rate_limiter::StoreLink {
            store: target(cx, components, &format!("{path}.mode.Sync.store"), store),
            timeout: timeout.0,
            fail_open: *fail_open,
        }),
        raw::LimitMode::LocalSync {
            store,
            interval,
            timeout,
            fail_open,
        } => rate_limiter::Mode::LocalSync {
            link: rate_limiter::StoreLink {
                store: target(
                    cx,
                    components,
                    &format!("{path}.mode.LocalSync.store"),
                    store,
                ),
                timeout: timeout.0,
                fail_open: *fail_open,
            },
            interval: interval.0,
        },
    };
    rate_limiter::RateLimiterConfig {
        target: target(cx, components, &format!("{path}.target"), &l.target),
        key_by: match l.key_by {
            raw::LimitKey::Global => rate_limiter::KeyBy::Global,
            raw::LimitKey::Client => rate_limiter::KeyBy::Client,
            raw::LimitKey::Route => rate_limiter::KeyBy::Route,
        },
        algorithm,
        mode,
        retry_after: l.retry_after,
        transport: l.transport.map(transport).unwrap_or(cx.default_transport),
        report_keys: l.report_keys,
    }
}

fn shard_router_config(
    cx: &mut Ctx,
    components: &Names<'_>,
    path: &str,
    r: &raw::ShardRouter,
) -> sharding::ShardRouterConfig {
    let shards = r
        .shards
        .iter()
        .enumerate()
        .map(|(i, s)| sharding::ShardTarget {
            target: target(
                cx,
                components,
                &format!("{path}.shards[{i}].target"),
                &s.target,
            ),
            weight: s.weight,
        })
        .collect();
    let membership = r
        .membership
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let p = format!("{path}.membership[{i}].action");
            sharding::MembershipChange {
                at: m.at.0,
                action: match &m.action {
                    raw::ShardAction::Add(n) => {
                        sharding::Action::Add(target(cx, components, &p, n))
                    }
                    raw::ShardAction::Remove(n) => {
                        sharding::Action::Remove(target(cx, components, &p, n))
                    }
                },
            }
        })
        .collect();
    let mut bytes = |field: &str, b: crate::units::ByteSize| -> u32 {
        u32::try_from(b.0).unwrap_or_else(|_| {
            cx.err(format!("{path}.{field}"), "must be below 4GiB");
            1
        })
    };
    let value_size = bytes("value_size", r.value_size);
    let batch_bytes = bytes("batch_bytes", r.batch_bytes);
    sharding::ShardRouterConfig {
        shards,
        initial: r.initial.unwrap_or(r.shards.len()),
        scheme: match r.partitioner {
            raw::Partitioner::Mod => sharding::Scheme::Mod,
            raw::Partitioner::Consistent { vnodes } => sharding::Scheme::Consistent { vnodes },
            raw::Partitioner::Range => sharding::Scheme::Range,
            raw::Partitioner::Rendezvous => sharding::Scheme::Rendezvous,
        },
        membership,
        keys: r.keys,
        value_size,
        batch_bytes,
        in_flight: match r.in_flight {
            raw::InFlight::ServeFromOld => sharding::InFlight::ServeFromOld,
            raw::InFlight::ServeFromNew => sharding::InFlight::ServeFromNew,
            raw::InFlight::Fail => sharding::InFlight::Fail,
        },
        hot_keys: r.hot_keys.map(|h| sharding::HotKeys {
            top: h.top,
            replicas: h.replicas,
        }),
        transport: r.transport.map(transport).unwrap_or(cx.default_transport),
        transfer_timeout: r.transfer_timeout.0,
        max_transfer_retries: r.max_transfer_retries,
        miss_penalty: r.miss_penalty.0,
    }
}

fn op(o: raw::Op) -> clustersim_models::msg::Op {
    match o {
        raw::Op::Read => clustersim_models::msg::Op::Read,
        raw::Op::Write => clustersim_models::msg::Op::Write,
        raw::Op::Other => clustersim_models::msg::Op::Other,
    }
}

/// A distributed rate limiter's `mode.<Sync|LocalSync>.store` must name a `CounterStore`:
/// any other component would ignore the counter operations and every request would time out.
fn check_limiter_stores(cx: &mut Ctx, raw: &Scenario, components: &Names<'_>) {
    for (i, c) in raw.components.iter().enumerate() {
        let raw::Kind::RateLimiter(l) = &c.kind else {
            continue;
        };
        let (variant, store) = match &l.mode {
            raw::LimitMode::Sync { store, .. } => ("Sync", store),
            raw::LimitMode::LocalSync { store, .. } => ("LocalSync", store),
            raw::LimitMode::Local => continue,
        };
        let Some(&t) = components.ids.get(store.as_str()) else {
            continue; // unknown names are reported where the mode is converted
        };
        if !matches!(raw.components[t as usize].kind, raw::Kind::CounterStore(_)) {
            let stores: Vec<&str> = raw
                .components
                .iter()
                .filter(|c| matches!(c.kind, raw::Kind::CounterStore(_)))
                .map(|c| c.name.as_str())
                .collect();
            let hint = if stores.is_empty() {
                "add a `(name: \"redis\", kind: CounterStore())` component and name it here"
                    .to_string()
            } else {
                format!("name a CounterStore component: {}", stores.join(", "))
            };
            cx.push(
                Diagnostic::new(
                    format!("components[{i}].kind.RateLimiter.mode.{variant}.store"),
                    format!(
                        "`{}` keeps its counters in `{store}`, which is not a CounterStore",
                        c.name
                    ),
                )
                .with_hint(hint),
            );
        }
    }
}

/// Requests flow from clients through services: targets must accept requests and the call
/// graph must be acyclic (a cycle would recurse forever).
fn check_call_graph(cx: &mut Ctx, raw: &Scenario, specs: &[ComponentSpec], is_client: &[bool]) {
    use petgraph::graph::DiGraph;
    let mut g: DiGraph<usize, ()> = DiGraph::new();
    let idx: Vec<_> = (0..specs.len()).map(|i| g.add_node(i)).collect();
    for (i, s) in specs.iter().enumerate() {
        for t in s.config.targets() {
            let t = t.index();
            if t >= specs.len() {
                continue;
            }
            if is_client[t] {
                cx.push(
                    Diagnostic::new(
                        format!("components[{i}].kind"),
                        format!("`{}` sends requests to `{}`, which is a client and does not serve requests", raw.components[i].name, raw.components[t].name),
                    )
                    .with_hint("point the target at a service"),
                );
                continue;
            }
            g.add_edge(idx[i], idx[t], ());
        }
    }
    if let Err(cycle) = petgraph::algo::toposort(&g, None) {
        let start = g[cycle.node_id()];
        cx.push(
            Diagnostic::new(
                format!("components[{start}].kind"),
                format!(
                    "the call graph has a cycle through `{}`",
                    raw.components[start].name
                ),
            )
            .with_hint("a request is a tree of calls: remove the call that leads back"),
        );
    }
}

fn cache_config(
    cx: &mut Ctx,
    components: &Names<'_>,
    path: &str,
    k: &raw::Cache,
    role: cache::Role,
) -> cache::CacheConfig {
    let backends = k
        .backends
        .iter()
        .enumerate()
        .map(|(i, b)| target(cx, components, &format!("{path}.backends[{i}]"), b))
        .collect();
    if role == cache::Role::Cache && k.capacity.is_none() {
        cx.push(
            Diagnostic::new(format!("{path}.capacity"), "a Cache needs a capacity").with_hint(
                "add `capacity: Entries(10000)` or `capacity: Bytes(\"64MiB\")`, or use \
                 ReverseProxy for a proxy that caches nothing",
            ),
        );
    }
    let mut cfg = cache::CacheConfig::new(ComponentId(0));
    cfg.role = role;
    cfg.backends = backends;
    cfg.capacity = k.capacity.as_ref().map(|c| match c {
        raw::CacheCapacity::Entries(n) => cache::Capacity::Entries(*n),
        raw::CacheCapacity::Bytes(b) => cache::Capacity::Bytes(b.0),
    });
    cfg.eviction = match k.eviction {
        raw::Eviction::Lru => cache::Eviction::Lru,
        raw::Eviction::Lfu => cache::Eviction::Lfu,
        raw::Eviction::Fifo => cache::Eviction::Fifo,
    };
    cfg.ttl = k.ttl.map(|d| d.0);
    cfg.write_policy = match k.write_policy {
        raw::WritePolicy::WriteThrough => cache::WritePolicy::WriteThrough,
        raw::WritePolicy::WriteAround => cache::WritePolicy::WriteAround,
        raw::WritePolicy::WriteBack => cache::WritePolicy::WriteBack,
    };
    cfg.flush_interval = k.flush_interval.map(|d| d.0);
    cfg.deny = k
        .deny
        .iter()
        .map(|r| cache::KeyRange {
            start: r.from,
            end: r.to,
        })
        .collect();
    cfg.transport = k.transport.map(transport).unwrap_or(cx.default_transport);
    cfg
}

/// Mean one-way latency of a link: the latency distribution's mean plus half the jitter.
fn mean_latency_ns(l: &clustersim_engine::LinkSpec) -> f64 {
    l.latency.mean().unwrap_or(0.0) + l.jitter.as_nanos() as f64 / 2.0
}

/// Mean one-way latency between every pair of regions, as the network routes messages:
/// shortest paths over `region_links` by mean latency, `default_inter_region` only for pairs
/// no chain of links connects, each region's own network inside it (`INFINITY` = no route).
fn region_latencies(network: &NetworkConfig, regions: usize) -> Vec<Vec<f64>> {
    let mut hop = vec![vec![f64::INFINITY; regions]; regions];
    for (a, b, l, both) in &network.region_links {
        let (a, b) = (a.index(), b.index());
        if a >= regions || b >= regions {
            continue;
        }
        let w = mean_latency_ns(l);
        hop[a][b] = hop[a][b].min(w);
        if *both {
            hop[b][a] = hop[b][a].min(w);
        }
    }
    for k in 0..regions {
        for i in 0..regions {
            for j in 0..regions {
                let via = hop[i][k] + hop[k][j];
                if via < hop[i][j] {
                    hop[i][j] = via;
                }
            }
        }
    }
    let fallback = network
        .default_inter_region
        .as_ref()
        .map_or(f64::INFINITY, mean_latency_ns);
    let mut d = vec![vec![f64::INFINITY; regions]; regions];
    for (i, row) in d.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = if i == j {
                let internal = network
                    .region_internal
                    .iter()
                    .find(|(r, _)| r.index() == i)
                    .map_or(&network.intra_region, |(_, l)| l);
                mean_latency_ns(internal)
            } else if hop[i][j].is_finite() {
                hop[i][j]
            } else {
                fallback
            };
        }
    }
    d
}

/// Geo routing (`nearest_of` on clients): points each such client at the candidate with the
/// lowest mean latency from its region. Done once here, like a DNS answer, so the run pays no
/// extra hop.
fn route_to_nearest(
    cx: &mut Ctx,
    raw: &Scenario,
    network: &NetworkConfig,
    nodes: &[NodeSpec],
    regions: usize,
    components: &Names<'_>,
    specs: &mut [ComponentSpec],
) {
    fn candidates(k: &raw::Kind) -> Option<(&'static str, &Vec<String>)> {
        match k {
            raw::Kind::OpenLoop(o) => Some(("OpenLoop", &o.nearest_of)),
            raw::Kind::ClosedLoop(o) => Some(("ClosedLoop", &o.nearest_of)),
            _ => None,
        }
    }
    if !raw
        .components
        .iter()
        .any(|c| candidates(&c.kind).is_some_and(|(_, n)| !n.is_empty()))
    {
        return;
    }
    let latency = region_latencies(network, regions);
    let region_of = |specs: &[ComponentSpec], c: ComponentId| -> Option<usize> {
        let spec = specs.get(c.index())?;
        nodes.get(spec.node.index()).map(|n| n.region.index())
    };
    let mut choices = Vec::new();
    for (i, c) in raw.components.iter().enumerate() {
        let Some((variant, alternatives)) = candidates(&c.kind) else {
            continue;
        };
        if alternatives.is_empty() {
            continue;
        }
        let path = format!("components[{i}].kind.{variant}.nearest_of");
        let Some(from) = region_of(specs, ComponentId(i as u32)) else {
            continue;
        };
        let current = specs[i].config.targets()[0];
        let mut best = (
            current,
            region_of(specs, current).map_or(f64::INFINITY, |r| latency[from][r]),
        );
        for (j, name) in alternatives.iter().enumerate() {
            let Some(id) = components.get(cx, &format!("{path}[{j}]"), name) else {
                continue;
            };
            let id = ComponentId(id);
            let Some(r) = region_of(specs, id) else {
                continue;
            };
            if latency[from][r] < best.1 {
                best = (id, latency[from][r]);
            }
        }
        if !best.1.is_finite() {
            cx.err(path, "no candidate is reachable from this client's region");
        }
        choices.push((i, best.0));
    }
    for (i, to) in choices {
        match &mut specs[i].config {
            ComponentConfig::OpenLoopClient(c) => c.target = to,
            ComponentConfig::ClosedLoopClient(c) => c.target = to,
            _ => {}
        }
    }
}

fn connection(c: raw::Connection) -> workload::Connection {
    match c {
        raw::Connection::KeepAlive => workload::Connection::KeepAlive,
        raw::Connection::PerRequest { handshake_rtts } => {
            workload::Connection::PerRequest { handshake_rtts }
        }
    }
}

fn bytes_u32(cx: &mut Ctx, path: &str, b: ByteSize) -> u32 {
    u32::try_from(b.0).unwrap_or_else(|_| {
        cx.err(path, "a message size must be below 4 GiB");
        u32::MAX
    })
}

/// The communication-style components ([`clustersim_models::comm`]); `path` ends in `.kind`.
fn comm_config(
    cx: &mut Ctx,
    components: &Names<'_>,
    path: &str,
    k: &raw::Kind,
) -> comm::CommConfig {
    match k {
        raw::Kind::Publisher(p) => {
            let path = format!("{path}.Publisher");
            if p.targets.is_empty() {
                cx.err(
                    format!("{path}.targets"),
                    "list at least one gateway or poll server",
                );
            }
            let targets = p
                .targets
                .iter()
                .enumerate()
                .map(|(i, t)| target(cx, components, &format!("{path}.targets[{i}]"), t))
                .collect();
            comm::CommConfig::Publisher(comm::PublisherConfig {
                targets,
                rate_per_s: p.rate.per_second(),
                poisson: p.arrival == raw::Arrival::Poisson,
                size_bytes: bytes_u32(cx, &format!("{path}.size"), p.size),
            })
        }
        raw::Kind::PushGateway(g) => comm::CommConfig::PushGateway(comm::PushGatewayConfig {
            max_connections: g.max_connections,
            push_size: bytes_u32(cx, &format!("{path}.PushGateway.push_size"), g.push_size),
        }),
        raw::Kind::PushClient(c) => comm::CommConfig::PushClient(comm::PushClientConfig {
            gateway: target(
                cx,
                components,
                &format!("{path}.PushClient.gateway"),
                &c.gateway,
            ),
            handshake_rtts: c.handshake_rtts,
            heartbeat: c.heartbeat.0,
            backoff_base: c.reconnect_backoff.0,
            backoff_max: c.max_backoff.0,
            start_after: c.start_after.0,
        }),
        raw::Kind::PollServer(p) => comm::CommConfig::PollServer(comm::PollServerConfig {
            history: p.history,
            item_size: bytes_u32(cx, &format!("{path}.PollServer.item_size"), p.item_size),
        }),
        raw::Kind::PollClient(p) => comm::CommConfig::PollClient(comm::PollClientConfig {
            server: target(
                cx,
                components,
                &format!("{path}.PollClient.server"),
                &p.server,
            ),
            interval: p.interval.0,
            handshake_rtts: p.handshake_rtts,
        }),
        raw::Kind::Peer(p) => comm::CommConfig::Peer(comm::PeerConfig {
            peer: target(cx, components, &format!("{path}.Peer.peer"), &p.peer),
            relay: p
                .relay
                .as_ref()
                .map(|r| target(cx, components, &format!("{path}.Peer.relay"), r)),
            rate_per_s: p.rate.per_second(),
            frame_size: bytes_u32(cx, &format!("{path}.Peer.frame_size"), p.frame_size),
            transport: transport(p.transport),
        }),
        raw::Kind::Relay(r) => comm::CommConfig::Relay(comm::RelayConfig {
            transport: transport(r.transport),
        }),
        raw::Kind::MediaSource(m) => comm::CommConfig::MediaSource(comm::MediaSourceConfig {
            target: target(
                cx,
                components,
                &format!("{path}.MediaSource.target"),
                &m.target,
            ),
            frame_rate: m.frame_rate.per_second(),
            chunk_size: bytes_u32(cx, &format!("{path}.MediaSource.chunk_size"), m.chunk_size),
            transport: transport(m.transport),
        }),
        raw::Kind::MediaClient(m) => comm::CommConfig::MediaClient(comm::MediaClientConfig {
            playout_delay: m.playout_delay.0,
            lost_after: m.lost_after.0,
        }),
        _ => unreachable!("comm_config is called for communication kinds only"),
    }
}
