//! A load balancer: receives [`Request`]s, forwards each to one backend chosen by a
//! [`Policy`], relays the backend's [`Response`] to the caller; health checks, failover,
//! optional retry on another backend. The choice itself is the pure [`Picker`]
//! ([`policy`]); this module is the thin adapter around it.
//!
//! # Request life cycle
//!
//! 1. **Arrival.** With `routing_cost > 0` the request waits for the balancer's single FIFO
//!    worker and is processed for `routing_cost` (a constant: the departure instant is known on
//!    arrival, so the queue is one timer per request and no list). Otherwise it is routed at
//!    once.
//! 2. **Routing.** The [`Picker`] chooses a healthy backend; with none healthy the caller gets
//!    [`Status::Unavailable`] at once. Layer-4 policies see only the end user
//!    ([`Request::client`] and the calling component); layer-7 ones may read the key.
//!    With layer-7 `pools` the request's op selects the candidates: a request whose op has a
//!    pool is balanced over that pool only (one [`Picker`] per pool, so least-* policies keep
//!    their O(log n) index; per-backend loads, response times and health are shared by every
//!    pool listing the backend), any other op over every backend.
//! 3. **Forwarding** with a fresh request id (`generation << 32 | slot`; the caller's id, op,
//!    key, size and client are kept). The backend's *active* count rises until the attempt
//!    ends.
//! 4. **End of the attempt.** A response is relayed to the caller with the caller's id, and
//!    its delay (forward → response: the time to first byte) feeds the backend's EWMA. A send
//!    failure (stream to a crashed backend) or `backend_timeout` fails the attempt: it is
//!    retried once on another healthy backend if `retry_other_backend`, else the caller gets
//!    [`Status::Error`] (send failure) or [`Status::Timeout`] and the request counts in
//!    `failed_during_failover`.
//!
//! # Health and failover
//!
//! With `health`, every backend is probed every `interval` ([`Msg::Probe`]; services and load
//! balancers answer when up). Consecutive failures (no reply within `timeout`, a send failure
//! and, with `passive`, failed attempts of real traffic) mark it down after
//! `unhealthy_threshold`; consecutive probe successes mark it up after `healthy_threshold`.
//! Between a crash and its detection requests still go to the dead backend and fail: that is
//! the *error window*, counted in `failed_during_failover` (or rescued, and counted in
//! `retries`, with `retry_other_backend`). `detection_ns` records, per ejection, the time from
//! the first failure of the streak to the ejection (it misses the instants between the crash
//! and the first failed probe or request: at high request rates these are microseconds).
//!
//! A load balancer answers probes itself, so an active-passive pair is two balancers behind a
//! third, [`Policy::Failover`] balancer with health checks, placed on the clients' node: the
//! virtual address (VRRP/keepalived's floating IP), which costs no hop and sends everything
//! to the first healthy balancer. Its detection time is the takeover delay.
//!
//! # Crashes
//!
//! On a crash of its node the balancer forgets everything (outstanding requests are lost and
//! their callers time out; health state resets to "all healthy"); the gauges are reset at the
//! restart.
//!
//! # Metrics (a contract with the report writer)
//!
//! Registered at build time with the balancer as owner.
//!
//! | name | kind | meaning |
//! |---|---|---|
//! | `arrivals` | counter | requests received |
//! | `completed` | counter | responses relayed with `Ok` |
//! | `errors` | counter | every other response sent (a backend's non-`Ok` relayed, `Unavailable`, failover `Error`/`Timeout`) |
//! | `to_backend_<i>` | counter | attempts forwarded to backend `i` (configuration order; compare with the backend's own `arrivals`) |
//! | `retries` | counter | attempts resent to another backend after a failure |
//! | `timeouts` | counter | attempts that hit `backend_timeout` |
//! | `backend_failures` | counter | attempts that failed (send failure or timeout) |
//! | `failed_during_failover` | counter | requests answered `Error`/`Timeout` because their backend failed and no retry rescued them |
//! | `unavailable` | counter | requests answered `Unavailable` (no healthy backend) |
//! | `late_responses` | counter | backend responses to abandoned attempts (ignored) |
//! | `probes` | counter | health probes sent |
//! | `probe_failures` | counter | probes unanswered within `timeout`, or whose send failed |
//! | `marked_down`, `marked_up` | counter | health transitions |
//! | `latency_ns` | histogram | arrival → response sent, every response |
//! | `wait_ns` | histogram | arrival → routed (queueing plus `routing_cost`) |
//! | `detection_ns` | histogram | first failure of a streak → backend marked down |
//! | `active` | gauge | attempts forwarded and not yet ended (open backend connections) |
//! | `in_system` | gauge | requests received and not yet answered (Little's law with `latency_ns`) |
//! | `healthy_backends` | gauge | backends currently considered healthy |

mod config;
pub mod policy;
#[cfg(test)]
mod tests;

pub use config::{Backend, HealthCheck, Layer, LoadBalancerConfig, MAX_BACKENDS, Pool};
pub use policy::{Picker, Policy};

use clustersim_engine::{
    Component, ComponentId, Ctx, DropCause, Recorder, SeriesId, SimDuration, SimTime, StableHash,
    StableHasher, TimerKey, Transport,
};

use crate::Cluster;
use crate::msg::{Msg, Op, Request, Response, Status};

/// Marks a backend that is not in a pool (in [`PoolState::local`]).
const NOT_IN_POOL: u32 = u32::MAX;

/// One layer-7 pool: its own [`Picker`] over its members (local indices).
#[derive(Clone, Debug)]
struct PoolState {
    picker: Picker,
    /// Local index → backend index.
    members: Vec<u32>,
    /// Backend index → local index, or [`NOT_IN_POOL`].
    local: Vec<u32>,
}

#[inline]
fn op_index(op: Op) -> usize {
    match op {
        Op::Read => 0,
        Op::Write => 1,
        Op::Other => 2,
    }
}

/// Timers of the load balancer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Timer {
    /// The routing worker has finished processing request `id` (slab handle).
    Route {
        /// `generation << 32 | slot`.
        id: u64,
    },
    /// The forwarded attempt `id` has waited `backend_timeout`.
    BackendTimeout {
        /// The attempt's request id.
        id: u64,
    },
    /// Time to probe `backend`.
    ProbeTick {
        /// Backend index.
        backend: u32,
    },
    /// The probe `round` of `backend` has waited `health.timeout`.
    ProbeTimeout {
        /// Backend index.
        backend: u32,
        /// Probe round.
        round: u32,
    },
}

impl StableHash for Timer {
    fn stable_hash(&self, h: &mut StableHasher) {
        match *self {
            Timer::Route { id } => {
                h.write_u64(0);
                h.write_u64(id);
            }
            Timer::BackendTimeout { id } => {
                h.write_u64(1);
                h.write_u64(id);
            }
            Timer::ProbeTick { backend } => {
                h.write_u64(2);
                h.write_u64(u64::from(backend));
            }
            Timer::ProbeTimeout { backend, round } => {
                h.write_u64(3);
                h.write_u64((u64::from(backend) << 32) | u64::from(round));
            }
        }
    }
}

/// Series ids of one balancer (see the module docs).
#[derive(Clone, Debug)]
struct LbMetrics {
    arrivals: SeriesId,
    completed: SeriesId,
    errors: SeriesId,
    retries: SeriesId,
    timeouts: SeriesId,
    backend_failures: SeriesId,
    failed_during_failover: SeriesId,
    unavailable: SeriesId,
    late_responses: SeriesId,
    probes: SeriesId,
    probe_failures: SeriesId,
    marked_down: SeriesId,
    marked_up: SeriesId,
    latency: SeriesId,
    wait: SeriesId,
    detection: SeriesId,
    active: SeriesId,
    in_system: SeriesId,
    healthy: SeriesId,
}

impl LbMetrics {
    fn register(rec: &mut Recorder, me: ComponentId) -> LbMetrics {
        let o = Some(me);
        LbMetrics {
            arrivals: rec.counter(o, "arrivals"),
            completed: rec.counter(o, "completed"),
            errors: rec.counter(o, "errors"),
            retries: rec.counter(o, "retries"),
            timeouts: rec.counter(o, "timeouts"),
            backend_failures: rec.counter(o, "backend_failures"),
            failed_during_failover: rec.counter(o, "failed_during_failover"),
            unavailable: rec.counter(o, "unavailable"),
            late_responses: rec.counter(o, "late_responses"),
            probes: rec.counter(o, "probes"),
            probe_failures: rec.counter(o, "probe_failures"),
            marked_down: rec.counter(o, "marked_down"),
            marked_up: rec.counter(o, "marked_up"),
            latency: rec.histogram(o, "latency_ns"),
            wait: rec.histogram(o, "wait_ns"),
            detection: rec.histogram(o, "detection_ns"),
            active: rec.gauge(o, "active"),
            in_system: rec.gauge(o, "in_system"),
            healthy: rec.gauge(o, "healthy_backends"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Free,
    Routing,
    Forwarded,
}

/// One request inside the balancer.
#[derive(Clone, Copy, Debug)]
struct Entry {
    generation: u32,
    state: State,
    retried: bool,
    backend: u32,
    from: ComponentId,
    /// The caller's request (its id is the caller's id).
    req: Request,
    arrival: SimTime,
    sent_at: SimTime,
    timer: Option<TimerKey>,
}

/// Per-backend connection and health state.
#[derive(Clone, Debug)]
struct BackendState {
    target: ComponentId,
    to_backend: SeriesId,
    ok_streak: u32,
    fail_streak: u32,
    first_fail: SimTime,
    round: u32,
    probe_timer: Option<TimerKey>,
}

#[inline]
fn make_id(slot: u32, generation: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(slot)
}

#[inline]
fn split_id(id: u64) -> (usize, u32) {
    ((id & 0xffff_ffff) as usize, (id >> 32) as u32)
}

/// The load balancer component (see the module docs).
#[derive(Debug)]
pub struct LoadBalancer {
    /// Over every backend: routes the ops without a pool and holds the shared view (health,
    /// active connections) the gauges report.
    picker: Picker,
    /// Layer-7 pools, in configuration order (empty without pools).
    pools: Vec<PoolState>,
    /// Per op ([`op_index`]): its pool, if it has one.
    op_pool: [Option<u32>; 3],
    backends: Vec<BackendState>,
    routing_cost: SimDuration,
    busy_until: SimTime,
    backend_timeout: Option<SimDuration>,
    health: Option<HealthCheck>,
    retry_other: bool,
    transport: Transport,
    entries: Vec<Entry>,
    free: Vec<u32>,
    m: LbMetrics,
}

impl LoadBalancer {
    /// Builds the balancer and registers its metrics (owner `me`).
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &LoadBalancerConfig, me: ComponentId, metrics: &mut Recorder) -> LoadBalancer {
        if let Err(e) = cfg.validate() {
            panic!("invalid load balancer config: {e}");
        }
        let m = LbMetrics::register(metrics, me);
        let weights: Vec<u32> = cfg.backends.iter().map(|b| b.weight).collect();
        let backends = cfg
            .backends
            .iter()
            .enumerate()
            .map(|(i, b)| BackendState {
                target: b.target,
                to_backend: metrics.counter(Some(me), &format!("to_backend_{i}")),
                ok_streak: 0,
                fail_streak: 0,
                first_fail: SimTime::ZERO,
                round: 0,
                probe_timer: None,
            })
            .collect();
        let mut op_pool = [None; 3];
        let pools = cfg
            .pools
            .iter()
            .enumerate()
            .map(|(k, p)| {
                op_pool[op_index(p.op)] = Some(k as u32);
                let w: Vec<u32> = p.backends.iter().map(|&b| weights[b as usize]).collect();
                let mut local = vec![NOT_IN_POOL; weights.len()];
                for (l, &b) in p.backends.iter().enumerate() {
                    local[b as usize] = l as u32;
                }
                PoolState {
                    picker: Picker::new(cfg.policy, &w),
                    members: p.backends.clone(),
                    local,
                }
            })
            .collect();
        LoadBalancer {
            picker: Picker::new(cfg.policy, &weights),
            pools,
            op_pool,
            backends,
            routing_cost: cfg.routing_cost,
            busy_until: SimTime::ZERO,
            backend_timeout: cfg.backend_timeout,
            health: cfg.health,
            retry_other: cfg.retry_other_backend,
            transport: cfg.transport,
            entries: Vec::with_capacity(64),
            free: Vec::with_capacity(64),
            m,
        }
    }

    /// The routing core over every backend (backend health, loads).
    pub fn picker(&self) -> &Picker {
        &self.picker
    }

    /// The picker of layer-7 pool `k` (configuration order); its indices are positions in
    /// that pool's `backends`.
    pub fn pool_picker(&self, k: usize) -> &Picker {
        &self.pools[k].picker
    }

    /// Applies a per-backend change to the shared picker and to every pool listing `b`
    /// (O(pools) on top of the picker's own cost).
    #[inline]
    fn each_picker(&mut self, b: usize, f: impl Fn(&mut Picker, usize)) {
        f(&mut self.picker, b);
        for p in &mut self.pools {
            let l = p.local[b];
            if l != NOT_IN_POOL {
                f(&mut p.picker, l as usize);
            }
        }
    }

    /// A healthy backend for `req` (from its op's pool, if any), or `None`; never `exclude`
    /// if given.
    fn choose(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        client: u64,
        req: &Request,
        exclude: Option<usize>,
    ) -> Option<usize> {
        let now_ns = cx.now().as_nanos();
        match self.op_pool[op_index(req.op)] {
            None => match exclude {
                None => {
                    self.picker.age_idle(now_ns);
                    self.picker.pick(cx.rng(), client, req.key)
                }
                Some(x) => self.picker.pick_other(cx.rng(), client, req.key, x),
            },
            Some(k) => {
                let p = &mut self.pools[k as usize];
                p.picker.age_idle(now_ns);
                let l = match exclude {
                    None => p.picker.pick(cx.rng(), client, req.key),
                    Some(x) => p
                        .picker
                        .pick_other(cx.rng(), client, req.key, p.local[x] as usize),
                }?;
                Some(p.members[l] as usize)
            }
        }
    }

    /// Requests inside the balancer (routing or forwarded).
    pub fn in_system(&self) -> usize {
        self.entries.len() - self.free.len()
    }

    fn on_request(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, req: Request) {
        cx.count(self.m.arrivals, 1);
        cx.gauge_add(self.m.in_system, 1);
        let now = cx.now();
        let entry = Entry {
            generation: 0,
            state: State::Routing,
            retried: false,
            backend: 0,
            from,
            req,
            arrival: now,
            sent_at: now,
            timer: None,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                let generation = self.entries[s as usize].generation.wrapping_add(1);
                self.entries[s as usize] = Entry {
                    generation,
                    ..entry
                };
                s
            }
            None => {
                self.entries.push(entry);
                (self.entries.len() - 1) as u32
            }
        };
        if self.routing_cost.is_zero() {
            self.route(cx, slot as usize);
        } else {
            let start = self.busy_until.max(now);
            self.busy_until = start + self.routing_cost;
            let id = make_id(slot, self.entries[slot as usize].generation);
            cx.set_timer(self.busy_until - now, Timer::Route { id }.into());
        }
    }

    fn on_route(&mut self, cx: &mut Ctx<'_, Cluster>, id: u64) {
        let (slot, generation) = split_id(id);
        let live = self
            .entries
            .get(slot)
            .is_some_and(|e| e.generation == generation && e.state == State::Routing);
        if live {
            self.route(cx, slot);
        }
    }

    /// Chooses a backend for the request in `slot` and forwards it (or answers `Unavailable`).
    fn route(&mut self, cx: &mut Ctx<'_, Cluster>, slot: usize) {
        let e = self.entries[slot];
        cx.record(self.m.wait, (cx.now() - e.arrival).as_nanos());
        let client = policy::client_hash(e.from.0, e.req.client);
        match self.choose(cx, client, &e.req, None) {
            Some(b) => self.forward(cx, slot, b),
            None => {
                cx.count(self.m.unavailable, 1);
                self.respond(cx, slot, Status::Unavailable, 0, 0);
            }
        }
    }

    fn forward(&mut self, cx: &mut Ctx<'_, Cluster>, slot: usize, b: usize) {
        let now = cx.now();
        let e = &mut self.entries[slot];
        e.generation = e.generation.wrapping_add(1);
        e.state = State::Forwarded;
        e.backend = b as u32;
        e.sent_at = now;
        let id = make_id(slot as u32, e.generation);
        let req = Request { id, ..e.req };
        e.timer = self
            .backend_timeout
            .map(|t| cx.set_timer(t, Timer::BackendTimeout { id }.into()));
        self.each_picker(b, Picker::started);
        cx.count(self.backends[b].to_backend, 1);
        cx.gauge_add(self.m.active, 1);
        cx.send_with(
            self.backends[b].target,
            Msg::Request(req),
            self.transport,
            req.size_bytes,
        );
    }

    /// The slot of the live forwarded attempt `id`, if `from` is its backend (`None` to skip
    /// that check).
    fn forwarded(&self, id: u64, from: Option<ComponentId>) -> Option<usize> {
        let (slot, generation) = split_id(id);
        let e = self.entries.get(slot)?;
        let ok = e.generation == generation
            && e.state == State::Forwarded
            && from.is_none_or(|f| self.backends[e.backend as usize].target == f);
        ok.then_some(slot)
    }

    /// Ends the attempt in `slot`: cancels its timer, releases the backend's connection.
    fn end_attempt(&mut self, cx: &mut Ctx<'_, Cluster>, slot: usize) -> usize {
        let e = &mut self.entries[slot];
        if let Some(k) = e.timer.take() {
            cx.cancel_timer(k);
        }
        let b = e.backend as usize;
        self.each_picker(b, Picker::finished);
        cx.gauge_add(self.m.active, -1);
        b
    }

    fn on_response(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, resp: Response) {
        let Some(slot) = self.forwarded(resp.id, Some(from)) else {
            cx.count(self.m.late_responses, 1);
            return;
        };
        let b = self.end_attempt(cx, slot);
        let ttfb = cx.now() - self.entries[slot].sent_at;
        let now_ns = cx.now().as_nanos();
        self.each_picker(b, |p, i| p.observe(i, ttfb.as_nanos(), now_ns));
        self.respond(cx, slot, resp.status, resp.size_bytes, resp.version);
    }

    /// The attempt in `slot` failed (send failure, or timeout if `timed_out`).
    fn attempt_failed(&mut self, cx: &mut Ctx<'_, Cluster>, slot: usize, timed_out: bool) {
        let b = self.end_attempt(cx, slot);
        cx.count(self.m.backend_failures, 1);
        if timed_out {
            cx.count(self.m.timeouts, 1);
        }
        if self.health.is_some_and(|h| h.passive) {
            self.health_failure(cx, b);
        }
        let e = self.entries[slot];
        if self.retry_other && !e.retried {
            let client = policy::client_hash(e.from.0, e.req.client);
            if let Some(nb) = self.choose(cx, client, &e.req, Some(b)) {
                self.entries[slot].retried = true;
                cx.count(self.m.retries, 1);
                self.forward(cx, slot, nb);
                return;
            }
        }
        cx.count(self.m.failed_during_failover, 1);
        let status = if timed_out {
            Status::Timeout
        } else {
            Status::Error
        };
        self.respond(cx, slot, status, 0, 0);
    }

    /// Answers the caller of `slot` and frees it. `version` is relayed from the backend's
    /// response (0 for answers the balancer makes itself).
    fn respond(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        slot: usize,
        status: Status,
        size: u32,
        version: u64,
    ) {
        let e = &mut self.entries[slot];
        e.state = State::Free;
        let e = *e;
        self.free.push(slot as u32);
        let resp = Response {
            id: e.req.id,
            status,
            size_bytes: size,
            version,
        };
        cx.send_with(e.from, Msg::Response(resp), self.transport, size);
        cx.record(self.m.latency, (cx.now() - e.arrival).as_nanos());
        cx.count(
            if status.is_ok() {
                self.m.completed
            } else {
                self.m.errors
            },
            1,
        );
        cx.gauge_add(self.m.in_system, -1);
    }

    // ---- health checks ----

    fn probe_seq(backend: usize, round: u32) -> u64 {
        ((backend as u64) << 32) | u64::from(round)
    }

    fn on_probe_tick(&mut self, cx: &mut Ctx<'_, Cluster>, b: usize) {
        let Some(h) = self.health else { return };
        // A probe still unanswered at the next tick (only when timeout == interval and the
        // tick won the tie) counts as failed.
        if let Some(k) = self.backends[b].probe_timer.take() {
            cx.cancel_timer(k);
            cx.count(self.m.probe_failures, 1);
            self.health_failure(cx, b);
        }
        let st = &mut self.backends[b];
        st.round = st.round.wrapping_add(1);
        let round = st.round;
        let target = st.target;
        st.probe_timer = Some(
            cx.set_timer(
                h.timeout,
                Timer::ProbeTimeout {
                    backend: b as u32,
                    round,
                }
                .into(),
            ),
        );
        cx.count(self.m.probes, 1);
        cx.send_with(
            target,
            Msg::Probe {
                seq: Self::probe_seq(b, round),
            },
            self.transport,
            0,
        );
        cx.set_timer(h.interval, Timer::ProbeTick { backend: b as u32 }.into());
    }

    /// The probe (`b`, `round`) ended: success or failure. Stale probes are ignored.
    fn probe_ended(&mut self, cx: &mut Ctx<'_, Cluster>, b: usize, round: u32, ok: bool) {
        let Some(st) = self.backends.get_mut(b) else {
            return;
        };
        if st.round != round {
            return;
        }
        let Some(k) = st.probe_timer.take() else {
            return;
        };
        cx.cancel_timer(k);
        if ok {
            self.health_success(cx, b);
        } else {
            cx.count(self.m.probe_failures, 1);
            self.health_failure(cx, b);
        }
    }

    fn health_success(&mut self, cx: &mut Ctx<'_, Cluster>, b: usize) {
        let Some(h) = self.health else { return };
        let st = &mut self.backends[b];
        st.fail_streak = 0;
        st.ok_streak = st.ok_streak.saturating_add(1);
        if !self.picker.is_healthy(b) && st.ok_streak >= h.healthy_threshold {
            self.each_picker(b, |p, i| p.set_healthy(i, true));
            cx.count(self.m.marked_up, 1);
            cx.gauge_add(self.m.healthy, 1);
        }
    }

    fn health_failure(&mut self, cx: &mut Ctx<'_, Cluster>, b: usize) {
        let Some(h) = self.health else { return };
        let now = cx.now();
        let st = &mut self.backends[b];
        st.ok_streak = 0;
        if st.fail_streak == 0 {
            st.first_fail = now;
        }
        st.fail_streak = st.fail_streak.saturating_add(1);
        if self.picker.is_healthy(b) && st.fail_streak >= h.unhealthy_threshold {
            let first = st.first_fail;
            self.each_picker(b, |p, i| p.set_healthy(i, false));
            cx.count(self.m.marked_down, 1);
            cx.gauge_add(self.m.healthy, -1);
            cx.record(self.m.detection, (now - first).as_nanos());
        }
    }

    fn start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        cx.gauge_set(self.m.active, 0);
        cx.gauge_set(self.m.in_system, 0);
        cx.gauge_set(
            self.m.healthy,
            i64::try_from(self.picker.healthy_count()).unwrap_or(i64::MAX),
        );
        if let Some(h) = self.health {
            // Spread the first probes evenly over one interval (deterministic stagger).
            let n = self.backends.len() as u64;
            for b in 0..self.backends.len() {
                let offset = h.interval.as_nanos() / n * (b as u64 + 1);
                cx.set_timer(
                    SimDuration::from_nanos(offset),
                    Timer::ProbeTick { backend: b as u32 }.into(),
                );
            }
        }
    }
}

impl Component<Cluster> for LoadBalancer {
    fn on_start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.start(cx);
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: Msg) {
        match msg {
            Msg::Request(req) => self.on_request(cx, from, req),
            Msg::Response(resp) => self.on_response(cx, from, resp),
            Msg::ProbeReply { seq } => {
                let (b, round) = ((seq >> 32) as usize, seq as u32);
                if self.backends.get(b).is_some_and(|s| s.target == from) {
                    self.probe_ended(cx, b, round, true);
                }
            }
            // Probes (a balancer that is up answers, so a virtual address can check it),
            // handshakes, and shard transfers (a balancer in front of a shard's replicas
            // stands for the shard); the rest is not for balancers.
            other => crate::msg::serve_host_traffic(cx, from, &other, self.transport),
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, timer: crate::Timer) {
        let crate::Timer::Lb(t) = timer else {
            return;
        };
        match t {
            Timer::Route { id } => self.on_route(cx, id),
            Timer::BackendTimeout { id } => {
                if let Some(slot) = self.forwarded(id, None) {
                    self.entries[slot].timer = None; // it has fired
                    self.attempt_failed(cx, slot, true);
                }
            }
            Timer::ProbeTick { backend } => self.on_probe_tick(cx, backend as usize),
            Timer::ProbeTimeout { backend, round } => {
                let b = backend as usize;
                if let Some(st) = self.backends.get_mut(b)
                    && st.round == round
                {
                    st.probe_timer = None; // it has fired
                    cx.count(self.m.probe_failures, 1);
                    self.health_failure(cx, b);
                }
            }
        }
    }

    fn on_send_failed(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        _to: ComponentId,
        msg: Msg,
        _cause: DropCause,
    ) {
        match msg {
            Msg::Request(req) => {
                if let Some(slot) = self.forwarded(req.id, None) {
                    self.attempt_failed(cx, slot, false);
                }
            }
            Msg::Probe { seq } => {
                self.probe_ended(cx, (seq >> 32) as usize, seq as u32, false);
            }
            // A lost response or probe reply: the caller or prober times out.
            Msg::Response(_) | Msg::ProbeReply { .. } => {}
            Msg::Comm(_) => {}
            Msg::Shard(_) => {}
            Msg::Limiter(_) => {}
            Msg::Pattern(_) => {}
            // Messaging traffic is for brokers and their clients ([`crate::messaging`]).
            Msg::Messaging(_) => {}
            Msg::Store(_) => {}
        }
    }

    fn on_crash(&mut self) {
        self.free.clear();
        for (i, e) in self.entries.iter_mut().enumerate().rev() {
            e.state = State::Free;
            e.timer = None;
            self.free.push(i as u32);
        }
        for st in &mut self.backends {
            st.ok_streak = 0;
            st.fail_streak = 0;
            st.probe_timer = None;
        }
        self.picker.reset();
        for p in &mut self.pools {
            p.picker.reset();
        }
        self.busy_until = SimTime::ZERO;
    }

    fn on_restart(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.start(cx);
    }
}
