//! The simulation: [`SimBuilder`] assembles nodes, components, network and faults; [`Sim`] runs
//! the single-threaded event loop under explicit [`Limits`] and returns a [`RunReport`].

use crate::clock::NodeClock;
use crate::component::{Command, Component, Ctx, Protocol, TimerKey, TimerTable};
use crate::dist::Dist;
use crate::fault::{FaultAction, RandomFaults};
use crate::id::{ComponentId, NodeId, RegionId};
use crate::metrics::{MetricsReport, Recorder};
use crate::net::{Conn, DropCause, DropCounts, Network, NetworkConfig, Plan, Transport};
use crate::queue::{EventQueue, prefetch};
use crate::rng::{self, Rng, StableHash, StableHasher};
use crate::time::{SimDuration, SimTime};
use std::collections::VecDeque;

/// Bounds on one run. Every run has both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Events scheduled at or before this instant are processed; the run stops after.
    pub end_time: SimTime,
    /// The run stops after processing this many events.
    pub max_events: u64,
}

impl Limits {
    /// Run until `end_time`, with at most `max_events` events.
    pub fn new(end_time: SimTime, max_events: u64) -> Limits {
        Limits {
            end_time,
            max_events,
        }
    }
}

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The end time was reached (the normal outcome).
    EndTime,
    /// Nothing was left to do before the end time.
    Exhausted,
    /// `max_events` events were processed before the end time.
    EventLimit,
    /// The event queue hit a documented limit (see [`crate::queue`]).
    QueueLimit,
}

impl StopReason {
    /// Whether the run covered its whole intended period.
    pub fn completed(self) -> bool {
        matches!(self, StopReason::EndTime | StopReason::Exhausted)
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopReason::EndTime => "reached the end time",
            StopReason::Exhausted => "no events left",
            StopReason::EventLimit => "hit the event limit (raise max_events or shorten the run)",
            StopReason::QueueLimit => "hit the event queue limit (16,777,216 pending events)",
        })
    }
}

/// The outcome of [`Sim::run`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunSummary {
    /// Why the run stopped.
    pub stop: StopReason,
    /// Simulated time at the stop.
    pub now: SimTime,
    /// Events processed so far.
    pub events: u64,
    /// Trace digest so far: equal for equal inputs (same binary).
    pub digest: u64,
    /// Network drops by cause.
    pub drops: DropCounts,
    /// Events still pending.
    pub pending: usize,
}

/// Names of everything, indexed by id, for reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    /// Region names by `RegionId`.
    pub regions: Vec<String>,
    /// Node names by `NodeId`.
    pub nodes: Vec<String>,
    /// Component names by `ComponentId`.
    pub components: Vec<String>,
    /// The node of each component.
    pub component_node: Vec<NodeId>,
}

/// Everything a finished run produced.
#[derive(Debug)]
pub struct RunReport {
    /// How it ended.
    pub summary: RunSummary,
    /// Recorded metrics.
    pub metrics: MetricsReport,
    /// Network drops by destination component and cause.
    pub drops_by_component: Vec<DropCounts>,
    /// Names for reports.
    pub names: Names,
    /// Peak bytes held by the event queue's buffers.
    pub queue_memory_bytes: usize,
}

/// Why a simulation could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// An id referred to something that was never added.
    #[error("{what} {index} does not exist")]
    UnknownId {
        /// What kind of id.
        what: &'static str,
        /// The index.
        index: u32,
    },
    /// A parameter was outside its allowed range.
    #[error("invalid parameter: {0}")]
    Invalid(String),
}

/// A description of one processed event, for diagnostics such as locating the first event where
/// two runs that should be identical diverge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventInfo {
    /// When it was processed.
    pub at: SimTime,
    /// What it was: `deliver`, `timer`, `stream_retry`, `send_failed`, `fault`,
    /// `random_fault` or `resume`.
    pub kind: &'static str,
    /// The component it ran (the receiver of a delivery or timer, the sender for stream retries
    /// and send failures); `None` for faults and pause ends.
    pub component: Option<ComponentId>,
}

impl EventInfo {
    fn of<P: Protocol>(at: SimTime, e: &Event<P>) -> EventInfo {
        let (kind, component) = match e {
            Event::Deliver { dst, .. } => ("deliver", Some(*dst)),
            Event::Timer { dst, .. } => ("timer", Some(*dst)),
            Event::StreamRetry { src, .. } => ("stream_retry", Some(*src)),
            Event::SendFailed { src, .. } => ("send_failed", Some(*src)),
            Event::Fault(_) => ("fault", None),
            Event::Random(_) => ("random_fault", None),
            Event::Resume(_) => ("resume", None),
        };
        EventInfo {
            at,
            kind,
            component,
        }
    }
}

enum Event<P: Protocol> {
    /// `epoch` is the destination node's epoch at send time; `src_epoch` the source's (so a
    /// stream failure is reported only to the incarnation that sent the message).
    Deliver {
        src: ComponentId,
        dst: ComponentId,
        epoch: u32,
        src_epoch: u32,
        stream: bool,
        msg: P::Msg,
    },
    Timer {
        dst: ComponentId,
        epoch: u32,
        key: TimerKey,
        timer: P::Timer,
    },
    /// `conn_gen` is the connection's generation when the message was blocked; a crash of either
    /// end resets the connection and bumps it, which makes this retry stale.
    StreamRetry {
        src: ComponentId,
        dst: ComponentId,
        epoch: u32,
        conn_gen: u32,
        size: u32,
        deadline: SimTime,
        msg: P::Msg,
    },
    SendFailed {
        src: ComponentId,
        dst: ComponentId,
        epoch: u32,
        cause: DropCause,
        msg: P::Msg,
    },
    Fault(u32),
    Random(u32),
    /// A pause of the node ends: deliver what it deferred, in arrival order.
    Resume(u32),
}

#[derive(Clone, Debug)]
struct NodeState {
    up: bool,
    epoch: u32,
    paused_until: SimTime,
    slowdown_permille: u32,
    clock: NodeClock,
    components: Vec<ComponentId>,
}

struct RandomGen {
    spec: RandomFaults,
    rng: Rng,
    active: bool,
    /// The node an active isolation cut off.
    isolated: Option<NodeId>,
}

/// Assembles a simulation. Ids are dense and assigned in call order.
pub struct SimBuilder<P: Protocol> {
    seed: u64,
    names: Names,
    node_specs: Vec<(RegionId, NodeClock, u64)>,
    components: Vec<Option<Box<dyn Component<P>>>>,
    network: NetworkConfig,
    recorder: Recorder,
    faults: Vec<(SimTime, FaultAction)>,
    random: Vec<(String, RandomFaults)>,
}

impl<P: Protocol> SimBuilder<P> {
    /// A builder whose every random stream derives from `seed`.
    pub fn new(seed: u64) -> Self {
        SimBuilder {
            seed,
            names: Names::default(),
            node_specs: Vec::new(),
            components: Vec::new(),
            network: NetworkConfig::default(),
            recorder: Recorder::default(),
            faults: Vec::new(),
            random: Vec::new(),
        }
    }
    /// The master seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Adds a region.
    pub fn add_region(&mut self, name: &str) -> RegionId {
        self.names.regions.push(name.to_owned());
        RegionId((self.names.regions.len() - 1) as u32)
    }
    /// Adds a node in `region` with a perfect clock and unlimited NIC bandwidth. A region is
    /// created on demand if none exists yet.
    pub fn add_node(&mut self, name: &str, region: RegionId) -> NodeId {
        if self.names.regions.is_empty() {
            self.add_region("default");
        }
        self.names.nodes.push(name.to_owned());
        self.node_specs.push((region, NodeClock::PERFECT, 0));
        NodeId((self.names.nodes.len() - 1) as u32)
    }
    /// Sets a node's clock model.
    pub fn set_clock(&mut self, node: NodeId, clock: NodeClock) {
        self.node_specs[node.index()].1 = clock;
    }
    /// Sets a node's egress NIC bandwidth in bits per second (0 = unlimited).
    pub fn set_nic_bandwidth(&mut self, node: NodeId, bps: u64) {
        self.node_specs[node.index()].2 = bps;
    }
    /// The id the next added component will get.
    pub fn next_component_id(&self) -> ComponentId {
        ComponentId(self.components.len() as u32)
    }
    /// Adds a component on `node`.
    pub fn add_component(
        &mut self,
        node: NodeId,
        name: &str,
        component: Box<dyn Component<P>>,
    ) -> ComponentId {
        let id = self.reserve_component(node, name);
        self.components[id.index()] = Some(component);
        id
    }
    /// Reserves an id for a component added later with [`SimBuilder::set_component`] (so
    /// components that reference each other can be wired before construction).
    pub fn reserve_component(&mut self, node: NodeId, name: &str) -> ComponentId {
        self.names.components.push(name.to_owned());
        self.names.component_node.push(node);
        self.components.push(None);
        ComponentId((self.components.len() - 1) as u32)
    }
    /// Supplies the component for a reserved id.
    pub fn set_component(&mut self, id: ComponentId, component: Box<dyn Component<P>>) {
        self.components[id.index()] = Some(component);
    }
    /// The metrics recorder, to register series before building components.
    pub fn metrics(&mut self) -> &mut Recorder {
        &mut self.recorder
    }
    /// The network configuration.
    pub fn network(&mut self) -> &mut NetworkConfig {
        &mut self.network
    }
    /// Schedules `action` at `at`.
    pub fn schedule_fault(&mut self, at: SimTime, action: FaultAction) {
        self.faults.push((at, action));
    }
    /// Adds a random fault generator named `name` (its RNG stream is `"faults/<name>"`).
    pub fn random_faults(&mut self, name: &str, spec: RandomFaults) {
        self.random.push((name.to_owned(), spec));
    }
    /// Names registered so far.
    pub fn names(&self) -> &Names {
        &self.names
    }

    fn check_node(&self, n: NodeId) -> Result<(), BuildError> {
        if n.index() < self.names.nodes.len() {
            Ok(())
        } else {
            Err(BuildError::UnknownId {
                what: "node",
                index: n.0,
            })
        }
    }
    fn check_region(&self, r: RegionId) -> Result<(), BuildError> {
        if r.index() < self.names.regions.len() {
            Ok(())
        } else {
            Err(BuildError::UnknownId {
                what: "region",
                index: r.0,
            })
        }
    }

    fn validate(&self) -> Result<(), BuildError> {
        for (i, c) in self.components.iter().enumerate() {
            if c.is_none() {
                return Err(BuildError::Invalid(format!(
                    "component {} was reserved but never set",
                    self.names.components[i]
                )));
            }
            self.check_node(self.names.component_node[i])?;
        }
        for (r, _, _) in &self.node_specs {
            self.check_region(*r)?;
        }
        for (a, b, _, _) in &self.network.region_links {
            self.check_region(*a)?;
            self.check_region(*b)?;
        }
        for (at, f) in &self.faults {
            let _ = at;
            match f {
                FaultAction::Crash(n) | FaultAction::Restart(n) => self.check_node(*n)?,
                FaultAction::Pause { node, .. }
                | FaultAction::Slowdown { node, .. }
                | FaultAction::ClockStep { node, .. } => self.check_node(*node)?,
                FaultAction::Partition(groups) => {
                    for n in groups.iter().flatten() {
                        self.check_node(*n)?;
                    }
                }
                FaultAction::PartitionRegions(groups) => {
                    for r in groups.iter().flatten() {
                        self.check_region(*r)?;
                    }
                }
                FaultAction::CutOneWay { from, to } => {
                    self.check_node(*from)?;
                    self.check_node(*to)?;
                }
                FaultAction::DegradeLink {
                    from,
                    to,
                    extra_loss,
                    ..
                } => {
                    self.check_region(*from)?;
                    self.check_region(*to)?;
                    if !(0.0..=1.0).contains(extra_loss) {
                        return Err(BuildError::Invalid(format!(
                            "extra_loss {extra_loss} is outside [0, 1]"
                        )));
                    }
                }
                FaultAction::Heal => {}
            }
        }
        for (name, spec) in &self.random {
            match spec {
                RandomFaults::NodeFailures { node, mtbf, mttr } => {
                    self.check_node(*node)?;
                    if mtbf.is_zero() || mttr.is_zero() {
                        return Err(BuildError::Invalid(format!(
                            "{name}: mtbf and mttr must be > 0"
                        )));
                    }
                }
                RandomFaults::Isolations {
                    nodes,
                    mean_interval,
                    mean_duration,
                } => {
                    for n in nodes {
                        self.check_node(*n)?;
                    }
                    if nodes.is_empty() || mean_interval.is_zero() || mean_duration.is_zero() {
                        return Err(BuildError::Invalid(format!(
                            "{name}: isolations need at least one node and positive means"
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Validates ids and compiles routes.
    pub fn build(self) -> Result<Sim<P>, BuildError> {
        self.validate()?;
        let seed = self.seed;
        let mut nodes: Vec<NodeState> = self
            .node_specs
            .iter()
            .map(|&(_, clock, _)| NodeState {
                up: true,
                epoch: 0,
                paused_until: SimTime::ZERO,
                slowdown_permille: 1000,
                clock,
                components: Vec::new(),
            })
            .collect();
        for (i, n) in self.names.component_node.iter().enumerate() {
            nodes[n.index()].components.push(ComponentId(i as u32));
        }
        let net = Network::build(
            &self.network,
            self.names.regions.len().max(1),
            self.node_specs.iter().map(|s| s.0.0).collect(),
            self.node_specs.iter().map(|s| s.2).collect(),
            &self.names.nodes,
            seed,
        );
        // Advised before the streams are written, so the pages are huge from the first touch.
        let mut rngs: Vec<LineAligned<Rng>> = Vec::with_capacity(self.names.components.len());
        crate::hugepages::advise(&rngs);
        rngs.extend(
            self.names
                .components
                .iter()
                .map(|n| LineAligned(rng::stream(seed, "component", n))),
        );
        let comp_node = self.names.component_node.clone();
        // One pending event per component to start with; the queue grows as needed.
        let mut queue = EventQueue::with_capacity(1024.max(self.components.len()));
        for (i, (at, _)) in self.faults.iter().enumerate() {
            // Capacity is far from the limits here; a failure would be a bug.
            queue
                .push(*at, Event::Fault(i as u32))
                .map_err(|_| BuildError::Invalid("too many faults".into()))?;
        }
        let random = self
            .random
            .into_iter()
            .map(|(name, spec)| RandomGen {
                spec,
                rng: rng::stream(seed, "faults", &name),
                active: false,
                isolated: None,
            })
            .collect();
        let n_components = self.components.len();
        let deferred = (0..nodes.len()).map(|_| VecDeque::new()).collect();
        Ok(Sim {
            now: SimTime::ZERO,
            queue,
            components: self
                .components
                .into_iter()
                .map(|c| c.expect("validated"))
                .collect(),
            comp_node,
            rngs,
            nodes,
            net,
            timers: TimerTable::default(),
            recorder: self.recorder,
            out: Vec::with_capacity(64),
            faults: self.faults.into_iter().map(|(_, f)| f).collect(),
            random,
            digest: StableHasher::default(),
            events: 0,
            drops: [0; 5],
            drops_by_component: vec![[0; 5]; n_components],
            names: self.names,
            started: false,
            queue_full: false,
            last: None,
            deferred,
        })
    }
}

/// A value starting on a cache-line boundary, so that reading it touches as few lines as
/// possible (a component's 320-byte RNG spans five lines instead of six).
#[repr(align(64))]
struct LineAligned<T>(T);

/// A runnable simulation. Single-threaded and `Send` (whole runs move across threads), never
/// shared between threads.
pub struct Sim<P: Protocol> {
    now: SimTime,
    /// The last processed event, for diagnostics ([`Sim::last_event`]).
    last: Option<EventInfo>,
    queue: EventQueue<Event<P>>,
    components: Vec<Box<dyn Component<P>>>,
    comp_node: Vec<NodeId>,
    rngs: Vec<LineAligned<Rng>>,
    nodes: Vec<NodeState>,
    net: Network,
    timers: TimerTable,
    recorder: Recorder,
    out: Vec<Command<P>>,
    faults: Vec<FaultAction>,
    random: Vec<RandomGen>,
    digest: StableHasher,
    events: u64,
    drops: DropCounts,
    drops_by_component: Vec<DropCounts>,
    names: Names,
    started: bool,
    queue_full: bool,
    /// Per node: events for its components that arrived while it was paused, in arrival order.
    /// Drained by [`Event::Resume`] (or by a crash, which drops them).
    deferred: Vec<VecDeque<Event<P>>>,
}

const TAG_DELIVER: u64 = 1;
const TAG_TIMER: u64 = 2;
const TAG_RETRY: u64 = 3;
const TAG_FAILED: u64 = 4;
const TAG_FAULT: u64 = 5;
const TAG_RANDOM: u64 = 6;
const TAG_RESUME: u64 = 7;

impl<P: Protocol> Sim<P> {
    /// Current simulated time.
    pub fn now(&self) -> SimTime {
        self.now
    }
    /// Names of regions, nodes and components.
    pub fn names(&self) -> &Names {
        &self.names
    }
    /// The metrics recorder (e.g. to set warm-up and interval before running).
    pub fn metrics(&mut self) -> &mut Recorder {
        &mut self.recorder
    }
    /// Events pending in the queue.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }
    /// Bytes currently held by the event queue's buffers.
    pub fn queue_memory_bytes(&self) -> usize {
        self.queue.memory_bytes()
    }

    fn summary(&self, stop: StopReason) -> RunSummary {
        RunSummary {
            stop,
            now: self.now,
            events: self.events,
            digest: self.digest.finish(),
            drops: self.drops,
            pending: self.queue.len(),
        }
    }

    fn start(&mut self) {
        self.started = true;
        for i in 0..self.random.len() {
            self.schedule_random(i as u32);
        }
        for c in 0..self.components.len() {
            let id = ComponentId(c as u32);
            self.invoke(id, |comp, cx| comp.on_start(cx));
        }
    }

    /// Processes events until a limit is reached or nothing is left. Can be called again with
    /// later limits to continue.
    pub fn run(&mut self, limits: Limits) -> RunSummary {
        if !self.started {
            self.start();
        }
        let stop = loop {
            if self.queue_full {
                break StopReason::QueueLimit;
            }
            let Some(at) = self.queue.peek_time() else {
                self.advance_to(limits.end_time.max(self.now));
                break StopReason::Exhausted;
            };
            if at > limits.end_time {
                self.advance_to(limits.end_time);
                break StopReason::EndTime;
            }
            // Checked only when an event is due: a run whose last event is exactly the
            // `max_events`-th still completes (`EndTime`/`Exhausted`), it did not hit the limit.
            if self.events >= limits.max_events {
                break StopReason::EventLimit;
            }
            self.step();
        };
        self.summary(stop)
    }

    fn advance_to(&mut self, t: SimTime) {
        if t != SimTime::MAX && t > self.now {
            self.now = t;
            self.recorder.roll_until(t);
        }
    }

    /// The last event processed, if any (for diagnostics; costs one small store per event).
    pub fn last_event(&self) -> Option<EventInfo> {
        self.last
    }

    /// Processes exactly one event, if any. Returns its time.
    pub fn step(&mut self) -> Option<SimTime> {
        if !self.started {
            self.start();
        }
        let popped = self.queue.pop()?;
        self.prefetch_upcoming();
        debug_assert!(popped.at >= self.now, "time went backwards");
        self.now = popped.at;
        if popped.at >= self.recorder.next_roll() {
            self.recorder.roll_until(popped.at);
        }
        self.events += 1;
        self.digest.write_u64(popped.at.as_nanos());
        self.digest.write_u64(popped.seq);
        self.last = Some(EventInfo::of(popped.at, &popped.payload));
        self.dispatch(popped.payload);
        Some(popped.at)
    }

    /// The component the event `ahead + 1` pops from now will most likely run (see
    /// [`EventQueue::upcoming`]).
    #[inline]
    fn upcoming_component(&self, ahead: usize) -> Option<usize> {
        match self.queue.upcoming(ahead)? {
            Event::Deliver { dst, .. } | Event::Timer { dst, .. } => Some(dst.index()),
            _ => None,
        }
    }

    /// Starts loading what the next events will touch while this one is handled: with many
    /// components they are cache misses on nearly every event, and overlapping them with useful
    /// work is most of the kernel's cost. In stages, each a full event ahead of the next: the
    /// queue prefetches payloads several pops ahead; from the third event ahead's payload we
    /// prefetch its component pointer, RNG stream and node id; for the second event ahead,
    /// whose component pointer is in cache by now, the component's own state.
    #[inline]
    fn prefetch_upcoming(&self) {
        if let Some(i) = self.upcoming_component(2)
            && let (Some(c), Some(r), Some(n)) = (
                self.components.get(i),
                self.rngs.get(i),
                self.comp_node.get(i),
            )
        {
            prefetch(c);
            prefetch(r);
            prefetch(n);
        }
        if let Some(c) = self
            .upcoming_component(1)
            .and_then(|i| self.components.get(i))
        {
            prefetch(&**c);
        }
    }

    // The per-event path (`dispatch`, `invoke`, `apply`) is inlined into the event loop: as
    // calls they cost a prologue each and copy the event and the command through the stack.
    #[inline(always)]
    fn dispatch(&mut self, event: Event<P>) {
        match event {
            Event::Deliver {
                src,
                dst,
                epoch,
                src_epoch,
                stream,
                msg,
            } => {
                self.digest
                    .write_u64(TAG_DELIVER | (u64::from(src.0) << 8) | (u64::from(dst.0) << 36));
                msg.stable_hash(&mut self.digest);
                let node_id = self.comp_node[dst.index()];
                let node = &self.nodes[node_id.index()];
                if !node.up || node.epoch != epoch {
                    self.count_drop(dst, DropCause::Crashed);
                    if stream {
                        let cause = DropCause::Crashed;
                        self.push(
                            self.now,
                            Event::SendFailed {
                                src,
                                dst,
                                epoch: src_epoch,
                                cause,
                                msg,
                            },
                        );
                    }
                } else if self.must_defer(node_id) {
                    let event = Event::Deliver {
                        src,
                        dst,
                        epoch,
                        src_epoch,
                        stream,
                        msg,
                    };
                    self.deferred[node_id.index()].push_back(event);
                } else {
                    self.invoke(dst, |c, cx| c.on_message(cx, src, msg));
                }
            }
            Event::Timer {
                dst,
                epoch,
                key,
                timer,
            } => {
                self.digest.write_u64(TAG_TIMER | (u64::from(dst.0) << 8));
                timer.stable_hash(&mut self.digest);
                let node_id = self.comp_node[dst.index()];
                let node = &self.nodes[node_id.index()];
                if !node.up || node.epoch != epoch {
                    // Set before a crash: never fires; free its slot if nobody cancelled it.
                    self.timers.retire(key);
                    return;
                }
                if self.must_defer(node_id) {
                    if self.timers.is_live(key) {
                        self.deferred[node_id.index()].push_back(Event::Timer {
                            dst,
                            epoch,
                            key,
                            timer,
                        });
                    }
                    return;
                }
                if self.timers.retire(key) {
                    self.invoke(dst, |c, cx| c.on_timer(cx, timer));
                }
            }
            Event::StreamRetry {
                src,
                dst,
                epoch,
                conn_gen,
                size,
                deadline,
                msg,
            } => {
                self.digest
                    .write_u64(TAG_RETRY | (u64::from(src.0) << 8) | (u64::from(dst.0) << 36));
                self.stream_retry(src, dst, epoch, conn_gen, size, deadline, msg);
            }
            Event::SendFailed {
                src,
                dst,
                epoch,
                cause,
                msg,
            } => {
                self.digest
                    .write_u64(TAG_FAILED | (u64::from(src.0) << 8) | (u64::from(dst.0) << 36));
                let node_id = self.comp_node[src.index()];
                let node = &self.nodes[node_id.index()];
                if !node.up || node.epoch != epoch {
                    return;
                }
                if self.must_defer(node_id) {
                    let event = Event::SendFailed {
                        src,
                        dst,
                        epoch,
                        cause,
                        msg,
                    };
                    self.deferred[node_id.index()].push_back(event);
                } else {
                    self.invoke(src, |c, cx| c.on_send_failed(cx, dst, msg, cause));
                }
            }
            Event::Fault(i) => {
                self.digest.write_u64(TAG_FAULT | (u64::from(i) << 8));
                let action = self.faults[i as usize].clone();
                self.apply_fault(&action);
            }
            Event::Random(i) => {
                self.digest.write_u64(TAG_RANDOM | (u64::from(i) << 8));
                self.fire_random(i);
            }
            Event::Resume(n) => {
                self.digest.write_u64(TAG_RESUME | (u64::from(n) << 8));
                // A later pause extended this one: its own `Resume` will flush.
                if self.nodes[n as usize].paused_until <= self.now {
                    self.flush_deferred(NodeId(n));
                }
            }
        }
    }

    /// Whether an event for a component of `node` must wait: the node is paused, or events it
    /// deferred earlier are still waiting (later arrivals queue behind them, so a pause never
    /// reorders a connection).
    #[inline]
    fn must_defer(&self, node: NodeId) -> bool {
        self.nodes[node.index()].paused_until > self.now || !self.deferred[node.index()].is_empty()
    }

    /// Dispatches the events `node` deferred, in arrival order, now. After a crash the epoch
    /// checks in [`Sim::dispatch`] drop them (counting stream failures) instead of handling them.
    fn flush_deferred(&mut self, node: NodeId) {
        let mut list = std::mem::take(&mut self.deferred[node.index()]);
        while let Some(event) = list.pop_front() {
            self.dispatch(event);
        }
        // Handlers only push to the queue, so nothing was deferred meanwhile: keep the buffer.
        debug_assert!(self.deferred[node.index()].is_empty());
        self.deferred[node.index()] = list;
    }

    /// Runs one handler of `id` with a fresh context, then applies its commands.
    #[inline(always)] // See `dispatch`.
    fn invoke(&mut self, id: ComponentId, f: impl FnOnce(&mut dyn Component<P>, &mut Ctx<'_, P>)) {
        let node_id = self.comp_node[id.index()];
        let node = &self.nodes[node_id.index()];
        let mut out = std::mem::take(&mut self.out);
        {
            let mut cx = Ctx {
                now: self.now,
                me: id,
                node: node_id,
                clock: node.clock,
                slowdown_permille: node.slowdown_permille,
                default_transport: self.net.default_transport,
                rng: &mut self.rngs[id.index()].0,
                out: &mut out,
                timers: &mut self.timers,
                metrics: &mut self.recorder,
            };
            f(self.components[id.index()].as_mut(), &mut cx);
        }
        for cmd in out.drain(..) {
            self.apply(id, cmd);
        }
        self.out = out;
    }

    #[inline]
    fn push(&mut self, at: SimTime, event: Event<P>) {
        if self.queue.push(at, event).is_err() {
            self.queue_full = true;
        }
    }

    fn count_drop(&mut self, dst: ComponentId, cause: DropCause) {
        self.drops[cause.index()] += 1;
        if let Some(d) = self.drops_by_component.get_mut(dst.index()) {
            d[cause.index()] += 1;
        }
    }

    #[inline(always)] // See `dispatch`.
    fn apply(&mut self, src: ComponentId, cmd: Command<P>) {
        match cmd {
            Command::Direct { dst, msg, delay } => {
                if dst.index() >= self.components.len() {
                    self.count_drop(src, DropCause::NoRoute);
                    return;
                }
                let epoch = self.nodes[self.comp_node[dst.index()].index()].epoch;
                let src_epoch = self.nodes[self.comp_node[src.index()].index()].epoch;
                self.push(
                    self.now + delay,
                    Event::Deliver {
                        src,
                        dst,
                        epoch,
                        src_epoch,
                        stream: false,
                        msg,
                    },
                );
            }
            Command::SetTimer { key, at, timer } => {
                let epoch = self.nodes[self.comp_node[src.index()].index()].epoch;
                self.push(
                    at,
                    Event::Timer {
                        dst: src,
                        epoch,
                        key,
                        timer,
                    },
                );
            }
            Command::Send { dst, msg, opts } => {
                if dst.index() >= self.components.len() {
                    self.count_drop(src, DropCause::NoRoute);
                    return;
                }
                self.send(src, dst, msg, opts.size_bytes, opts.transport);
            }
        }
    }

    fn send(
        &mut self,
        src: ComponentId,
        dst: ComponentId,
        msg: P::Msg,
        size: u32,
        transport: Transport,
    ) {
        if transport == Transport::Stream {
            let conn = self.net.conns.entry((src, dst)).or_default();
            if conn.blocked > 0 {
                // Queue behind the messages already waiting out a partition; they retry first.
                conn.blocked += 1;
                let conn_gen = conn.generation;
                let deadline = self.now + self.net.stream.failure_timeout;
                let at = conn.retry_at.min(deadline);
                let epoch = self.nodes[self.comp_node[src.index()].index()].epoch;
                self.push(
                    at,
                    Event::StreamRetry {
                        src,
                        dst,
                        epoch,
                        conn_gen,
                        size,
                        deadline,
                        msg,
                    },
                );
                return;
            }
        }
        self.transmit(src, dst, msg, size, transport);
    }

    /// Puts one message on the network now (no head-of-line check: see [`Sim::send`]).
    fn transmit(
        &mut self,
        src: ComponentId,
        dst: ComponentId,
        msg: P::Msg,
        size: u32,
        transport: Transport,
    ) {
        let src_node = self.comp_node[src.index()];
        let dst_node = self.comp_node[dst.index()];
        let dst_epoch = self.nodes[dst_node.index()].epoch;
        let src_epoch = self.nodes[src_node.index()].epoch;
        match self.net.plan(self.now, src_node, dst_node, size, transport) {
            Plan::Deliver { at, duplicate_at } => {
                let stream = transport == Transport::Stream;
                let at = if stream {
                    let conn = self.net.conns.entry((src, dst)).or_default();
                    let at = at.max(conn.last_delivery);
                    conn.last_delivery = at;
                    at
                } else {
                    at
                };
                if let Some(dup) = duplicate_at {
                    let copy = msg.clone();
                    let event = Event::Deliver {
                        src,
                        dst,
                        epoch: dst_epoch,
                        src_epoch,
                        stream: false,
                        msg: copy,
                    };
                    self.push(dup, event);
                }
                self.push(
                    at,
                    Event::Deliver {
                        src,
                        dst,
                        epoch: dst_epoch,
                        src_epoch,
                        stream,
                        msg,
                    },
                );
            }
            Plan::Drop(cause) => self.count_drop(dst, cause),
            Plan::Blocked => {
                let rto = self.net.stream.rto;
                let deadline = self.now + self.net.stream.failure_timeout;
                let conn = self.net.conns.entry((src, dst)).or_default();
                conn.blocked += 1;
                conn.backoff = rto;
                conn.retry_at = self.now + rto;
                let at = conn.retry_at.min(deadline);
                let conn_gen = conn.generation;
                let epoch = src_epoch;
                self.push(
                    at,
                    Event::StreamRetry {
                        src,
                        dst,
                        epoch,
                        conn_gen,
                        size,
                        deadline,
                        msg,
                    },
                );
            }
            Plan::Fail(cause) => {
                self.count_drop(dst, cause);
                self.push(
                    self.now,
                    Event::SendFailed {
                        src,
                        dst,
                        epoch: src_epoch,
                        cause,
                        msg,
                    },
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn stream_retry(
        &mut self,
        src: ComponentId,
        dst: ComponentId,
        epoch: u32,
        conn_gen: u32,
        size: u32,
        deadline: SimTime,
        msg: P::Msg,
    ) {
        let src_node = self.comp_node[src.index()];
        let dst_node = self.comp_node[dst.index()];
        let src_state = &self.nodes[src_node.index()];
        let src_alive = src_state.up && src_state.epoch == epoch;
        let now = self.now;
        let partitioned = self.net.blocked(src_node, dst_node);
        let conn = self.net.conns.entry((src, dst)).or_default();
        if conn.generation != conn_gen {
            // A crash of either end reset the connection while this message waited. If the
            // sender survived, the destination crashed: the message is lost with it.
            if src_alive {
                self.count_drop(dst, DropCause::Crashed);
                let cause = DropCause::Crashed;
                self.push(
                    now,
                    Event::SendFailed {
                        src,
                        dst,
                        epoch,
                        cause,
                        msg,
                    },
                );
            }
            return;
        }
        conn.blocked = conn.blocked.saturating_sub(1);
        if !src_alive {
            return;
        }
        if partitioned {
            if now >= deadline {
                self.count_drop(dst, DropCause::Partition);
                self.push(
                    now,
                    Event::SendFailed {
                        src,
                        dst,
                        epoch,
                        cause: DropCause::Partition,
                        msg,
                    },
                );
                return;
            }
            conn.blocked += 1;
            if conn.retry_at <= now {
                conn.backoff = (conn.backoff * 2).min(self.net.stream.rto_max);
                conn.retry_at = now + conn.backoff;
            }
            let at = conn.retry_at.min(deadline);
            self.push(
                at,
                Event::StreamRetry {
                    src,
                    dst,
                    epoch,
                    conn_gen,
                    size,
                    deadline,
                    msg,
                },
            );
            return;
        }
        // Reachable again. The messages still blocked behind this one retry at this same instant
        // or later, in send order, so transmitting directly keeps the connection in order (and
        // the FIFO clamp in `transmit` keeps deliveries in order).
        self.transmit(src, dst, msg, size, Transport::Stream);
    }

    fn apply_fault(&mut self, action: &FaultAction) {
        match action {
            FaultAction::Crash(node) => self.crash(*node),
            FaultAction::Restart(node) => self.restart(*node),
            FaultAction::Pause { node, duration } => {
                let until = self.now + *duration;
                let n = &mut self.nodes[node.index()];
                // A down node processes nothing anyway (and a restart starts it unpaused).
                if n.up && until > n.paused_until {
                    n.paused_until = until;
                    self.push(until, Event::Resume(node.0));
                }
            }
            FaultAction::Slowdown {
                node,
                factor_permille,
            } => {
                self.nodes[node.index()].slowdown_permille = (*factor_permille).max(1);
            }
            FaultAction::Partition(groups) => self.net.partition(groups),
            FaultAction::PartitionRegions(groups) => self.net.partition_regions(groups),
            FaultAction::CutOneWay { from, to } => self.net.cut_one_way(*from, *to),
            FaultAction::Heal => self.net.heal(),
            FaultAction::DegradeLink {
                from,
                to,
                extra_latency,
                extra_loss,
            } => {
                // Validated at build time except for region pairs without a direct link, which
                // degrade nothing (documented no-op).
                let _ = self.net.degrade(*from, *to, *extra_latency, *extra_loss);
            }
            FaultAction::ClockStep { node, delta_ns } => {
                self.nodes[node.index()].clock.step(*delta_ns)
            }
        }
    }

    fn crash(&mut self, node: NodeId) {
        let n = &mut self.nodes[node.index()];
        if !n.up {
            return;
        }
        n.up = false;
        n.epoch = n.epoch.wrapping_add(1);
        n.paused_until = SimTime::ZERO;
        let members = n.components.clone();
        for c in &members {
            self.components[c.index()].on_crash();
            self.recorder.crash_reset(self.now, *c);
        }
        // Events deferred by a pause now fail the epoch check: messages count as `Crashed`
        // drops (streams tell their senders), timers are discarded.
        self.flush_deferred(node);
        // Reset the node's connections (FIFO clamp, backoff) and bump their generation, so
        // retries still waiting on them are recognised as stale rather than miscounted.
        let comp_node = &self.comp_node;
        for ((a, b), conn) in self.net.conns.iter_mut() {
            if comp_node[a.index()] == node || comp_node[b.index()] == node {
                *conn = Conn {
                    generation: conn.generation.wrapping_add(1),
                    ..Conn::default()
                };
            }
        }
    }

    fn restart(&mut self, node: NodeId) {
        let n = &mut self.nodes[node.index()];
        if n.up {
            return;
        }
        n.up = true;
        n.epoch = n.epoch.wrapping_add(1);
        let members = n.components.clone();
        for c in members {
            self.invoke(c, |comp, cx| comp.on_restart(cx));
        }
    }

    fn schedule_random(&mut self, i: u32) {
        let g = &mut self.random[i as usize];
        let mean = match (&g.spec, g.active) {
            (RandomFaults::NodeFailures { mtbf, .. }, false) => *mtbf,
            (RandomFaults::NodeFailures { mttr, .. }, true) => *mttr,
            (RandomFaults::Isolations { mean_interval, .. }, false) => *mean_interval,
            (RandomFaults::Isolations { mean_duration, .. }, true) => *mean_duration,
        };
        let wait = Dist::exponential(mean.as_nanos() as f64)
            .map(|d| d.sample_duration(&mut g.rng))
            .unwrap_or(SimDuration::MAX);
        let at = self.now + wait;
        self.push(at, Event::Random(i));
    }

    fn fire_random(&mut self, i: u32) {
        let g = &mut self.random[i as usize];
        let active = g.active;
        g.active = !active;
        let action = match &g.spec {
            RandomFaults::NodeFailures { node, .. } => {
                if active {
                    FaultAction::Restart(*node)
                } else {
                    FaultAction::Crash(*node)
                }
            }
            RandomFaults::Isolations { nodes, .. } => {
                // Isolations are their own layer in the network: they neither replace nor get
                // healed by scheduled partitions and heals (nor other generators' isolations).
                if active {
                    if let Some(node) = g.isolated.take() {
                        self.net.unisolate(node);
                    }
                } else {
                    let pick = nodes[rng::below(&mut g.rng, nodes.len() as u64) as usize];
                    g.isolated = Some(pick);
                    self.net.isolate(pick);
                }
                self.schedule_random(i);
                return;
            }
        };
        self.apply_fault(&action);
        self.schedule_random(i);
    }

    /// Ends the run and returns everything it recorded.
    pub fn finish(self) -> RunReport {
        let summary = self.summary(StopReason::EndTime);
        // The queue's buffers never shrink: their size now is their peak.
        let queue_memory_bytes = self.queue.memory_bytes();
        RunReport {
            summary,
            metrics: self.recorder.finish(self.now),
            drops_by_component: self.drops_by_component,
            names: self.names,
            queue_memory_bytes,
        }
    }

    /// Runs under `limits`, then finishes: the common case in one call.
    pub fn run_to_report(mut self, limits: Limits) -> RunReport {
        let summary = self.run(limits);
        let mut report = self.finish();
        report.summary = summary;
        report
    }
}
