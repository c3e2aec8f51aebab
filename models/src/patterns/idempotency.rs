//! Idempotent POST: clients with idempotency keys, servers with a per-server or a shared key
//! store, and the resource table that counts duplicate side effects.
//!
//! # Client ([`IdempotentClient`], kind `idempotent_client`)
//!
//! POSTs ([`Op::Write`]) arrive as a Poisson process. Each logical request gets a fresh
//! idempotency key (carried in [`Request::key`]; [`NO_KEY`] means "no key", sent with
//! probability `missing_key_probability`) and keeps it on every retry. An attempt
//! unanswered within `timeout`, a `409 Conflict` or a `5xx` is retried after a backoff
//! (`retry`), with the same key. Like an HTTP client that closes the connection on a
//! timeout, it ignores late answers to an abandoned attempt: only the current attempt's
//! answer counts (so a retry of a POST that did succeed meets a `200` replay or, without
//! a shared key store, creates a duplicate). With probability `double_submit_probability`
//! a request is sent twice at once (a double click: parallel duplicates); both copies
//! belong to the same attempt and the first answer wins.
//!
//! # Server ([`IdempotentServer`], kind `idempotent_server`)
//!
//! The flow on each POST: missing key → `400`; key unknown → record it `created` (claim),
//! do the work (a request to `backend`, where the resource is created), mark the key
//! `consumed`, answer `201`; key `consumed` → `200` with the original result (a replay, no
//! work); key `created` (the original still running) → `409`. A failed backend call
//! releases the key (`500`). The HTTP code travels in [`Response::version`] (201, 200, 409,
//! 400, 500, 503); the [`Status`] is `Ok` for 201/200, `Rejected` for 409, `Error` for
//! 400/500 and `Unavailable` for 503.
//!
//! The key store is either **per server** ([`KeyStoreMode::Local`]: its own table, no
//! extra latency; behind a load balancer a retry or a duplicate that reaches another server
//! is not recognised and creates a second resource) or **shared**
//! ([`KeyStoreMode::Shared`]: one [`KeyStore`] component where a claim is atomic, so a key
//! is worked on at most once across all servers — at the cost of a round trip plus the
//! store's `sync_delay` on every POST, `key_check_ns`). A claim unanswered within the
//! store `timeout` answers `503` and releases the claim; claims carry their owner, so a
//! late release never frees someone else's claim.
//!
//! # Resource table ([`ResourceDb`], kind `resource_db`) — the duplicate checker
//!
//! Every request it receives inserts a row for its key (after `insert_time`); a key that
//! already has a row is a **duplicate side effect** (a double-created resource), counted in
//! `duplicates` ([`ResourceLedger`]). With a shared key store the count must stay 0.
//!
//! # Metrics
//!
//! Client: `requests`, `ok`, `failed`, `attempts`, `retries`, `timeouts`, `conflicts`
//! (409s received), `replays` (200s received), `bad_requests` (400s), `double_submits`,
//! `latency_ns` (first attempt → final answer, successful requests), `retried_latency_ns`
//! (the same, for requests that needed more than one attempt: the extra latency of
//! retrying). Server: `arrivals`, `completed`, `errors`, `created` (201), `replays` (200),
//! `conflicts` (409), `bad_requests` (400), `store_timeouts` (503), `latency_ns`,
//! `key_check_ns` (arrival → key state known: 0 for a local store), `in_system`, `keys`.
//! Key store: `arrivals`, `completed`, `claims`, `conflicts`, `replays`, `keys`. Resource
//! table: `arrivals`, `completed`, `inserts`, `duplicates`, `latency_ns`, `in_system`,
//! `rows`.

use std::collections::{BTreeMap, VecDeque};

use clustersim_engine::rng::chance;
use clustersim_engine::{
    Component, ComponentId, Ctx, Dist, DropCause, Recorder, SeriesId, SimDuration, SimTime,
    StableHash, StableHasher, TimerKey, Transport,
};

use super::{Slab, Timer, backoff, check_probability};
use crate::Cluster;
use crate::error::{ConfigError, positive};
use crate::msg::{Op, Request, Response, Status};
use crate::workload::RetryPolicy;

/// The idempotency key of a request sent without one.
pub const NO_KEY: u64 = u64::MAX;

/// HTTP codes carried in [`Response::version`] by an idempotent server.
pub mod code {
    /// Created: the work was done for this request.
    pub const CREATED: u64 = 201;
    /// OK: a replay of the original result, no work done.
    pub const REPLAY: u64 = 200;
    /// Bad request: no idempotency key.
    pub const BAD_REQUEST: u64 = 400;
    /// Conflict: the original request with this key is still running.
    pub const CONFLICT: u64 = 409;
    /// Internal error: the backend failed; the key was released.
    pub const INTERNAL: u64 = 500;
    /// Unavailable: the shared key store did not answer.
    pub const UNAVAILABLE: u64 = 503;
}

/// A key's state in a key store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStatus {
    /// Unknown before this claim: now `created` by the claimant.
    New,
    /// `created`: the original request is still running.
    InProgress,
    /// `consumed`: done; replay the result.
    Consumed,
}

/// Server ↔ shared key store messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyMsg {
    /// Atomically: if `key` is unknown, record it `created` by (sender, `id`).
    Claim {
        /// The server's job handle (echoed; the claim's owner token).
        id: u64,
        /// Idempotency key.
        key: u64,
    },
    /// The answer to a claim: the key's state before it.
    Claimed {
        /// The claim's `id`.
        id: u64,
        /// State before the claim.
        state: KeyStatus,
    },
    /// Mark `key` consumed (only by its owner).
    Consume {
        /// Owner token.
        id: u64,
        /// Idempotency key.
        key: u64,
    },
    /// Forget `key` (only by its owner, only while created).
    Release {
        /// Owner token.
        id: u64,
        /// Idempotency key.
        key: u64,
    },
}

impl StableHash for KeyMsg {
    fn stable_hash(&self, h: &mut StableHasher) {
        match *self {
            KeyMsg::Claim { id, key } => {
                h.write_u64(0);
                h.write_u64(id);
                h.write_u64(key);
            }
            KeyMsg::Claimed { id, state } => {
                h.write_u64(1);
                h.write_u64(id);
                h.write_u64(state as u64);
            }
            KeyMsg::Consume { id, key } => {
                h.write_u64(2);
                h.write_u64(id);
                h.write_u64(key);
            }
            KeyMsg::Release { id, key } => {
                h.write_u64(3);
                h.write_u64(id);
                h.write_u64(key);
            }
        }
    }
}

/// Idempotency timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdemTimer {
    /// The client's next POST.
    Arrival,
    /// Attempt `attempt` of request `id` may be unanswered.
    AttemptTimeout {
        /// Slab handle.
        id: u64,
        /// Attempt number.
        attempt: u32,
    },
    /// Retry request `id`.
    Retry {
        /// Slab handle.
        id: u64,
    },
    /// The shared store has not answered the claim of job `id`.
    StoreTimeout {
        /// Slab handle.
        id: u64,
    },
    /// The key store's oldest reply is due.
    StoreReply,
    /// The resource table finished insert `id`.
    Insert {
        /// Slab handle.
        id: u64,
    },
}

impl StableHash for IdemTimer {
    fn stable_hash(&self, h: &mut StableHasher) {
        match *self {
            IdemTimer::Arrival => h.write_u64(0),
            IdemTimer::AttemptTimeout { id, attempt } => {
                h.write_u64(1);
                h.write_u64(id);
                h.write_u64(u64::from(attempt));
            }
            IdemTimer::Retry { id } => {
                h.write_u64(2);
                h.write_u64(id);
            }
            IdemTimer::StoreTimeout { id } => {
                h.write_u64(3);
                h.write_u64(id);
            }
            IdemTimer::StoreReply => h.write_u64(4),
            IdemTimer::Insert { id } => {
                h.write_u64(5);
                h.write_u64(id);
            }
        }
    }
}

fn timer(t: IdemTimer) -> crate::Timer {
    Timer::Idem(t).into()
}

fn key_msg(m: KeyMsg) -> crate::Msg {
    let m = match m {
        KeyMsg::Claim { id, key } => super::Msg::KeyClaim { id, key },
        KeyMsg::Claimed { id, state } => super::Msg::KeyClaimed { id, state },
        KeyMsg::Consume { id, key } => super::Msg::KeyConsume { id, key },
        KeyMsg::Release { id, key } => super::Msg::KeyRelease { id, key },
    };
    m.into()
}

impl KeyMsg {
    /// The key store message inside `m`, if it is one.
    pub fn from_msg(m: &super::Msg) -> Option<KeyMsg> {
        match *m {
            super::Msg::KeyClaim { id, key } => Some(KeyMsg::Claim { id, key }),
            super::Msg::KeyClaimed { id, state } => Some(KeyMsg::Claimed { id, state }),
            super::Msg::KeyConsume { id, key } => Some(KeyMsg::Consume { id, key }),
            super::Msg::KeyRelease { id, key } => Some(KeyMsg::Release { id, key }),
            _ => None,
        }
    }
}

// ------------------------------------------------------------------ configs

/// A client POSTing with idempotency keys.
#[derive(Clone, Debug, PartialEq)]
pub struct IdemClientConfig {
    /// Where POSTs go (a server or a load balancer in front of servers).
    pub target: ComponentId,
    /// Mean rate of logical requests (Poisson), per second, `> 0`.
    pub rate_per_s: f64,
    /// Per-attempt timeout, `> 0`.
    pub timeout: SimDuration,
    /// Retries after a timeout, a 409 or a 5xx. Default: 3 retries from 10 ms, ×2, full
    /// jitter.
    pub retry: RetryPolicy,
    /// Probability a request carries no key, in `[0, 1]`. Default 0.
    pub missing_key_probability: f64,
    /// Probability a request is sent twice at once, in `[0, 1]`. Default 0.
    pub double_submit_probability: f64,
    /// Request payload size in bytes. Default 0.
    pub request_size_bytes: u32,
    /// Transport. Default [`Transport::Stream`].
    pub transport: Transport,
}

impl IdemClientConfig {
    /// A client at `rate_per_s` with timeout `timeout`, other fields at their defaults.
    pub fn new(target: ComponentId, rate_per_s: f64, timeout: SimDuration) -> IdemClientConfig {
        IdemClientConfig {
            target,
            rate_per_s,
            timeout,
            retry: RetryPolicy {
                max_retries: 3,
                ..RetryPolicy::default()
            },
            missing_key_probability: 0.0,
            double_submit_probability: 0.0,
            request_size_bytes: 0,
            transport: Transport::Stream,
        }
    }

    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        positive("rate_per_s", self.rate_per_s)?;
        if self.timeout.is_zero() {
            return Err(ConfigError::new("timeout", "is 0, but it must be > 0"));
        }
        check_probability("missing_key_probability", self.missing_key_probability)?;
        check_probability("double_submit_probability", self.double_submit_probability)?;
        self.retry.validate("retry")
    }
}

/// Where a server keeps its idempotency keys.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KeyStoreMode {
    /// A table of its own (a local database).
    Local,
    /// A shared [`KeyStore`].
    Shared {
        /// The store.
        store: ComponentId,
        /// How long to wait for a claim's answer, `> 0`.
        timeout: SimDuration,
    },
}

/// A server with the idempotency-key flow.
#[derive(Clone, Debug, PartialEq)]
pub struct IdemServerConfig {
    /// Where the work is done (the resource table, or a service in front of it).
    pub backend: ComponentId,
    /// Per-server or shared key store.
    pub key_store: KeyStoreMode,
    /// Transport. Default [`Transport::Stream`].
    pub transport: Transport,
}

impl IdemServerConfig {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let KeyStoreMode::Shared { timeout, .. } = self.key_store
            && timeout.is_zero()
        {
            return Err(ConfigError::new(
                "key_store.Shared.timeout",
                "is 0, but it must be > 0",
            ));
        }
        Ok(())
    }
}

/// The shared key store.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KeyStoreConfig {
    /// Delay of every answer (the synchronisation cost of a shared store). Default 1 ms.
    pub sync_delay: SimDuration,
    /// Transport. Default [`Transport::Stream`].
    pub transport: Transport,
}

/// The resource table.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceDbConfig {
    /// Time of one insert, ns (inserts run concurrently). Default constant 1 ms.
    pub insert_time: Dist,
    /// Transport. Default [`Transport::Stream`].
    pub transport: Transport,
}

// ------------------------------------------------------------------ client

#[derive(Clone, Copy, Debug)]
struct Logical {
    /// The request id of the current attempt: `attempt sequence << 32 | slot`.
    current: u64,
    /// This record's slab handle.
    handle: u64,
    key: u64,
    start: SimTime,
    attempts: u32,
    retries: u32,
    timer: Option<TimerKey>,
}

#[derive(Clone, Debug)]
struct ClientMetrics {
    requests: SeriesId,
    ok: SeriesId,
    failed: SeriesId,
    attempts: SeriesId,
    retries: SeriesId,
    timeouts: SeriesId,
    conflicts: SeriesId,
    replays: SeriesId,
    bad_requests: SeriesId,
    double_submits: SeriesId,
    latency: SeriesId,
    retried_latency: SeriesId,
}

/// The idempotent client (see the module docs).
#[derive(Debug)]
pub struct IdempotentClient {
    cfg: IdemClientConfig,
    me: ComponentId,
    seq: u64,
    attempt_seq: u32,
    inter_arrival: Dist,
    slots: Slab<Logical>,
    m: ClientMetrics,
}

impl IdempotentClient {
    /// Builds the client and registers its metrics.
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &IdemClientConfig, me: ComponentId, rec: &mut Recorder) -> IdempotentClient {
        if let Err(e) = cfg.validate() {
            panic!("invalid idempotent client config: {e}");
        }
        let o = Some(me);
        IdempotentClient {
            cfg: cfg.clone(),
            me,
            seq: 0,
            attempt_seq: 0,
            inter_arrival: Dist::exponential(1e9 / cfg.rate_per_s).expect("rate validated"),
            slots: Slab::default(),
            m: ClientMetrics {
                requests: rec.counter(o, "requests"),
                ok: rec.counter(o, "ok"),
                failed: rec.counter(o, "failed"),
                attempts: rec.counter(o, "attempts"),
                retries: rec.counter(o, "retries"),
                timeouts: rec.counter(o, "timeouts"),
                conflicts: rec.counter(o, "conflicts"),
                replays: rec.counter(o, "replays"),
                bad_requests: rec.counter(o, "bad_requests"),
                double_submits: rec.counter(o, "double_submits"),
                latency: rec.histogram(o, "latency_ns"),
                retried_latency: rec.histogram(o, "retried_latency_ns"),
            },
        }
    }

    fn schedule_arrival(&mut self, cx: &mut Ctx<'_, Cluster>) {
        let d = self.inter_arrival.sample_duration(cx.rng());
        cx.set_timer(d, timer(IdemTimer::Arrival));
    }

    /// Sends a new attempt of request `id` (a slab handle); `copy` re-sends the current
    /// attempt (a double submit).
    fn send_attempt(&mut self, cx: &mut Ctx<'_, Cluster>, id: u64, copy: bool) {
        if !copy {
            self.attempt_seq = self.attempt_seq.wrapping_add(1);
        }
        let seq = self.attempt_seq;
        let Some(l) = self.slots.get_mut(id) else {
            return;
        };
        if !copy {
            l.attempts += 1;
            l.current = (u64::from(seq) << 32) | (id & 0xffff_ffff);
        }
        let (key, attempt, current) = (l.key, l.attempts, l.current);
        cx.count(self.m.attempts, 1);
        let req = Request {
            id: current,
            op: Op::Write,
            key,
            size_bytes: self.cfg.request_size_bytes,
            client: 0,
        };
        cx.send_with(
            self.cfg.target,
            req.into(),
            self.cfg.transport,
            self.cfg.request_size_bytes,
        );
        if copy {
            return;
        }
        let k = cx.set_timer(
            self.cfg.timeout,
            timer(IdemTimer::AttemptTimeout { id, attempt }),
        );
        if let Some(l) = self.slots.get_mut(id)
            && let Some(old) = l.timer.replace(k)
        {
            cx.cancel_timer(old);
        }
    }

    /// The slab handle of the request whose current attempt is `req_id`.
    fn handle_of(&mut self, req_id: u64) -> Option<u64> {
        let l = self.slots.get_slot_mut(req_id)?;
        if l.current != req_id {
            return None; // an abandoned attempt
        }
        Some(l.handle)
    }

    fn on_arrival(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.schedule_arrival(cx);
        cx.count(self.m.requests, 1);
        let key = if chance(cx.rng(), self.cfg.missing_key_probability) {
            NO_KEY
        } else {
            self.seq += 1;
            (u64::from(self.me.0) << 40) | self.seq
        };
        let id = self.slots.insert(Logical {
            current: 0,
            handle: 0,
            key,
            start: cx.now(),
            attempts: 0,
            retries: 0,
            timer: None,
        });
        if let Some(l) = self.slots.get_mut(id) {
            l.handle = id;
        }
        self.send_attempt(cx, id, false);
        if chance(cx.rng(), self.cfg.double_submit_probability) {
            cx.count(self.m.double_submits, 1);
            self.send_attempt(cx, id, true);
        }
    }

    /// Attempt failed: retry after a backoff if retries are left, else give up.
    fn retry_or_fail(&mut self, cx: &mut Ctx<'_, Cluster>, id: u64) {
        let Some(l) = self.slots.get_mut(id) else {
            return;
        };
        if let Some(k) = l.timer.take() {
            cx.cancel_timer(k);
        }
        if l.retries < self.cfg.retry.max_retries {
            l.retries += 1;
            let d = backoff(&self.cfg.retry, l.retries, cx.rng());
            cx.count(self.m.retries, 1);
            cx.set_timer(d, timer(IdemTimer::Retry { id }));
        } else {
            cx.count(self.m.failed, 1);
            self.slots.remove(id);
        }
    }

    fn on_response(&mut self, cx: &mut Ctx<'_, Cluster>, r: Response) {
        let Some(id) = self.handle_of(r.id) else {
            return;
        };
        let Some(l) = self.slots.get_mut(id).copied() else {
            return;
        };
        match r.status {
            Status::Ok => {
                if let Some(k) = l.timer {
                    cx.cancel_timer(k);
                }
                self.slots.remove(id);
                cx.count(self.m.ok, 1);
                if r.version == code::REPLAY {
                    cx.count(self.m.replays, 1);
                }
                let lat = (cx.now() - l.start).as_nanos();
                cx.record(self.m.latency, lat);
                if l.attempts > 1 {
                    cx.record(self.m.retried_latency, lat);
                }
            }
            Status::Error if r.version == code::BAD_REQUEST => {
                if let Some(k) = l.timer {
                    cx.cancel_timer(k);
                }
                self.slots.remove(id);
                cx.count(self.m.bad_requests, 1);
                cx.count(self.m.failed, 1);
            }
            status => {
                if status == Status::Rejected {
                    cx.count(self.m.conflicts, 1);
                }
                self.retry_or_fail(cx, id);
            }
        }
    }
}

impl Component<Cluster> for IdempotentClient {
    fn on_start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.schedule_arrival(cx);
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, _from: ComponentId, msg: crate::Msg) {
        if let crate::Msg::Response(r) = msg {
            self.on_response(cx, r);
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, t: crate::Timer) {
        let crate::Timer::Pattern(Timer::Idem(t)) = t else {
            return;
        };
        match t {
            IdemTimer::Arrival => self.on_arrival(cx),
            IdemTimer::AttemptTimeout { id, attempt }
                if self
                    .slots
                    .get_mut(id)
                    .is_some_and(|l| l.attempts == attempt) =>
            {
                cx.count(self.m.timeouts, 1);
                if let Some(l) = self.slots.get_mut(id) {
                    l.timer = None;
                }
                self.retry_or_fail(cx, id);
            }
            IdemTimer::Retry { id } => self.send_attempt(cx, id, false),
            _ => {}
        }
    }

    fn on_send_failed(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        _to: ComponentId,
        msg: crate::Msg,
        _cause: DropCause,
    ) {
        if let crate::Msg::Request(r) = msg
            && let Some(id) = self.handle_of(r.id)
        {
            self.retry_or_fail(cx, id);
        }
    }

    fn on_crash(&mut self) {
        self.slots.clear();
    }
}

// ------------------------------------------------------------------ server

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JobPhase {
    Checking,
    Working,
}

#[derive(Clone, Copy, Debug)]
struct Job {
    from: ComponentId,
    req: Request,
    arrival: SimTime,
    phase: JobPhase,
    timer: Option<TimerKey>,
}

#[derive(Clone, Debug)]
struct ServerMetrics {
    arrivals: SeriesId,
    completed: SeriesId,
    errors: SeriesId,
    created: SeriesId,
    replays: SeriesId,
    conflicts: SeriesId,
    bad_requests: SeriesId,
    store_timeouts: SeriesId,
    latency: SeriesId,
    key_check: SeriesId,
    in_system: SeriesId,
    keys: SeriesId,
}

/// The idempotent server (see the module docs).
#[derive(Debug)]
pub struct IdempotentServer {
    cfg: IdemServerConfig,
    /// Local key store: key → consumed.
    local: BTreeMap<u64, bool>,
    jobs: Slab<Job>,
    m: ServerMetrics,
}

impl IdempotentServer {
    /// Builds the server and registers its metrics.
    pub fn new(cfg: &IdemServerConfig, me: ComponentId, rec: &mut Recorder) -> IdempotentServer {
        let o = Some(me);
        IdempotentServer {
            cfg: cfg.clone(),
            local: BTreeMap::new(),
            jobs: Slab::default(),
            m: ServerMetrics {
                arrivals: rec.counter(o, "arrivals"),
                completed: rec.counter(o, "completed"),
                errors: rec.counter(o, "errors"),
                created: rec.counter(o, "created"),
                replays: rec.counter(o, "replays"),
                conflicts: rec.counter(o, "conflicts"),
                bad_requests: rec.counter(o, "bad_requests"),
                store_timeouts: rec.counter(o, "store_timeouts"),
                latency: rec.histogram(o, "latency_ns"),
                key_check: rec.histogram(o, "key_check_ns"),
                in_system: rec.gauge(o, "in_system"),
                keys: rec.gauge_persistent(o, "keys"),
            },
        }
    }

    fn answer(&mut self, cx: &mut Ctx<'_, Cluster>, id: u64, http: u64) {
        let Some(j) = self.jobs.remove(id) else {
            return;
        };
        if let Some(k) = j.timer {
            cx.cancel_timer(k);
        }
        self.reply(cx, j.from, j.req.id, j.arrival, http);
    }

    fn reply(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        to: ComponentId,
        req_id: u64,
        arrival: SimTime,
        http: u64,
    ) {
        let status = match http {
            code::CREATED | code::REPLAY => Status::Ok,
            code::CONFLICT => Status::Rejected,
            code::UNAVAILABLE => Status::Unavailable,
            _ => Status::Error,
        };
        let series = match http {
            code::CREATED => Some(self.m.created),
            code::REPLAY => Some(self.m.replays),
            code::CONFLICT => Some(self.m.conflicts),
            code::BAD_REQUEST => Some(self.m.bad_requests),
            code::UNAVAILABLE => Some(self.m.store_timeouts),
            _ => None,
        };
        if let Some(s) = series {
            cx.count(s, 1);
        }
        let resp = Response {
            id: req_id,
            status,
            size_bytes: 0,
            version: http,
        };
        cx.send_with(to, resp.into(), self.cfg.transport, 0);
        cx.record(self.m.latency, (cx.now() - arrival).as_nanos());
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

    /// The key's state is known (`state` before the claim): act on it.
    fn on_key_state(&mut self, cx: &mut Ctx<'_, Cluster>, id: u64, state: KeyStatus) {
        let Some(j) = self.jobs.get_mut(id) else {
            return;
        };
        if j.phase != JobPhase::Checking {
            return;
        }
        if let Some(k) = j.timer.take() {
            cx.cancel_timer(k);
        }
        let (arrival, req) = (j.arrival, j.req);
        cx.record(self.m.key_check, (cx.now() - arrival).as_nanos());
        match state {
            KeyStatus::New => {
                j.phase = JobPhase::Working;
                let fwd = Request { id, ..req };
                cx.send_with(
                    self.cfg.backend,
                    fwd.into(),
                    self.cfg.transport,
                    req.size_bytes,
                );
            }
            KeyStatus::InProgress => self.answer(cx, id, code::CONFLICT),
            KeyStatus::Consumed => self.answer(cx, id, code::REPLAY),
        }
    }

    fn on_request(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, req: Request) {
        cx.count(self.m.arrivals, 1);
        cx.gauge_add(self.m.in_system, 1);
        let now = cx.now();
        if req.key == NO_KEY {
            self.reply(cx, from, req.id, now, code::BAD_REQUEST);
            return;
        }
        let id = self.jobs.insert(Job {
            from,
            req,
            arrival: now,
            phase: JobPhase::Checking,
            timer: None,
        });
        match self.cfg.key_store {
            KeyStoreMode::Local => {
                let state = match self.local.get(&req.key) {
                    None => {
                        self.local.insert(req.key, false);
                        cx.gauge_set(self.m.keys, self.local.len() as i64);
                        KeyStatus::New
                    }
                    Some(false) => KeyStatus::InProgress,
                    Some(true) => KeyStatus::Consumed,
                };
                self.on_key_state(cx, id, state);
            }
            KeyStoreMode::Shared { store, timeout } => {
                let k = cx.set_timer(timeout, timer(IdemTimer::StoreTimeout { id }));
                if let Some(j) = self.jobs.get_mut(id) {
                    j.timer = Some(k);
                }
                cx.send_with(
                    store,
                    key_msg(KeyMsg::Claim { id, key: req.key }),
                    self.cfg.transport,
                    32,
                );
            }
        }
    }

    /// Releases job `id`'s claim on its key (the work did not happen).
    fn release(&mut self, cx: &mut Ctx<'_, Cluster>, id: u64, key: u64) {
        match self.cfg.key_store {
            KeyStoreMode::Local => {
                if self.local.get(&key) == Some(&false) {
                    self.local.remove(&key);
                    cx.gauge_set(self.m.keys, self.local.len() as i64);
                }
            }
            KeyStoreMode::Shared { store, .. } => cx.send_with(
                store,
                key_msg(KeyMsg::Release { id, key }),
                self.cfg.transport,
                32,
            ),
        }
    }

    fn on_backend_answer(&mut self, cx: &mut Ctx<'_, Cluster>, id: u64, ok: bool) {
        let Some(j) = self.jobs.get_mut(id) else {
            return;
        };
        if j.phase != JobPhase::Working {
            return;
        }
        let key = j.req.key;
        if ok {
            match self.cfg.key_store {
                KeyStoreMode::Local => {
                    self.local.insert(key, true);
                }
                KeyStoreMode::Shared { store, .. } => cx.send_with(
                    store,
                    key_msg(KeyMsg::Consume { id, key }),
                    self.cfg.transport,
                    32,
                ),
            }
            self.answer(cx, id, code::CREATED);
        } else {
            self.release(cx, id, key);
            self.answer(cx, id, code::INTERNAL);
        }
    }
}

impl Component<Cluster> for IdempotentServer {
    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: crate::Msg) {
        match msg {
            crate::Msg::Request(req) => self.on_request(cx, from, req),
            crate::Msg::Response(r) if from == self.cfg.backend => {
                self.on_backend_answer(cx, r.id, r.status.is_ok())
            }
            crate::Msg::Pattern(super::Msg::KeyClaimed { id, state }) => {
                self.on_key_state(cx, id, state)
            }
            crate::Msg::Probe { seq } => {
                cx.send_with(from, crate::Msg::ProbeReply { seq }, self.cfg.transport, 0)
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, t: crate::Timer) {
        if let crate::Timer::Pattern(Timer::Idem(IdemTimer::StoreTimeout { id })) = t
            && let Some(j) = self.jobs.get_mut(id)
            && j.phase == JobPhase::Checking
        {
            j.timer = None;
            let key = j.req.key;
            self.release(cx, id, key);
            self.answer(cx, id, code::UNAVAILABLE);
        }
    }

    fn on_send_failed(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        _to: ComponentId,
        msg: crate::Msg,
        _cause: DropCause,
    ) {
        match msg {
            crate::Msg::Request(r) => self.on_backend_answer(cx, r.id, false),
            crate::Msg::Pattern(super::Msg::KeyClaim { id, key })
                if self.jobs.get_mut(id).is_some() =>
            {
                self.release(cx, id, key);
                self.answer(cx, id, code::UNAVAILABLE);
            }
            _ => {}
        }
    }

    fn on_crash(&mut self) {
        // The local key table is durable, but the claims of requests in progress are
        // dropped with them (their outcome is unknown; a retry redoes the work).
        self.jobs.clear();
        self.local.retain(|_, consumed| *consumed);
    }

    fn on_restart(&mut self, cx: &mut Ctx<'_, Cluster>) {
        cx.gauge_set(self.m.in_system, 0);
        cx.gauge_set(self.m.keys, self.local.len() as i64);
    }
}

// ------------------------------------------------------------------ key store

#[derive(Clone, Copy, Debug)]
struct KeyEntry {
    consumed: bool,
    owner: ComponentId,
    id: u64,
}

/// The shared idempotency key store (see the module docs).
#[derive(Debug)]
pub struct KeyStore {
    cfg: KeyStoreConfig,
    keys: BTreeMap<u64, KeyEntry>,
    replies: VecDeque<(ComponentId, KeyMsg)>,
    arrivals: SeriesId,
    completed: SeriesId,
    claims: SeriesId,
    conflicts: SeriesId,
    replays: SeriesId,
    keys_gauge: SeriesId,
}

impl KeyStore {
    /// Builds the store and registers its metrics.
    pub fn new(cfg: &KeyStoreConfig, me: ComponentId, rec: &mut Recorder) -> KeyStore {
        let o = Some(me);
        KeyStore {
            cfg: *cfg,
            keys: BTreeMap::new(),
            replies: VecDeque::with_capacity(64),
            arrivals: rec.counter(o, "arrivals"),
            completed: rec.counter(o, "completed"),
            claims: rec.counter(o, "claims"),
            conflicts: rec.counter(o, "conflicts"),
            replays: rec.counter(o, "replays"),
            keys_gauge: rec.gauge_persistent(o, "keys"),
        }
    }

    fn on_key_msg(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, m: KeyMsg) {
        cx.count(self.arrivals, 1);
        match m {
            KeyMsg::Claim { id, key } => {
                let state = match self.keys.get(&key) {
                    None => {
                        self.keys.insert(
                            key,
                            KeyEntry {
                                consumed: false,
                                owner: from,
                                id,
                            },
                        );
                        cx.count(self.claims, 1);
                        KeyStatus::New
                    }
                    Some(e) if e.consumed => {
                        cx.count(self.replays, 1);
                        KeyStatus::Consumed
                    }
                    Some(_) => {
                        cx.count(self.conflicts, 1);
                        KeyStatus::InProgress
                    }
                };
                let reply = KeyMsg::Claimed { id, state };
                if self.cfg.sync_delay.is_zero() {
                    cx.count(self.completed, 1);
                    cx.send_with(from, key_msg(reply), self.cfg.transport, 32);
                } else {
                    // Applied now (atomic); only the answer waits for the sync delay.
                    self.replies.push_back((from, reply));
                    cx.set_timer(self.cfg.sync_delay, timer(IdemTimer::StoreReply));
                }
            }
            KeyMsg::Consume { id, key } => {
                if let Some(e) = self.keys.get_mut(&key)
                    && e.owner == from
                    && e.id == id
                {
                    e.consumed = true;
                }
            }
            KeyMsg::Release { id, key } => {
                if self
                    .keys
                    .get(&key)
                    .is_some_and(|e| e.owner == from && e.id == id && !e.consumed)
                {
                    self.keys.remove(&key);
                }
            }
            KeyMsg::Claimed { .. } => {}
        }
        cx.gauge_set(self.keys_gauge, self.keys.len() as i64);
    }
}

impl Component<Cluster> for KeyStore {
    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: crate::Msg) {
        match msg {
            crate::Msg::Pattern(m) => {
                if let Some(k) = KeyMsg::from_msg(&m) {
                    self.on_key_msg(cx, from, k);
                }
            }
            crate::Msg::Probe { seq } => {
                cx.send_with(from, crate::Msg::ProbeReply { seq }, self.cfg.transport, 0)
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, t: crate::Timer) {
        if let crate::Timer::Pattern(Timer::Idem(IdemTimer::StoreReply)) = t
            && let Some((to, reply)) = self.replies.pop_front()
        {
            cx.count(self.completed, 1);
            cx.send_with(to, key_msg(reply), self.cfg.transport, 32);
        }
    }

    fn on_crash(&mut self) {
        // Keys are durable; answers not yet sent are lost (the servers time out).
        self.replies.clear();
    }
}

// ------------------------------------------------------------------ resource table

/// The duplicate checker: rows per key. A second row for a key is a duplicate side effect.
#[derive(Clone, Debug, Default)]
pub struct ResourceLedger {
    rows: BTreeMap<u64, u32>,
    total: u64,
    duplicates: u64,
}

impl ResourceLedger {
    /// Records a row for `key`; returns whether it duplicates an earlier one.
    pub fn insert(&mut self, key: u64) -> bool {
        let n = self.rows.entry(key).or_insert(0);
        *n += 1;
        self.total += 1;
        let dup = *n > 1;
        self.duplicates += u64::from(dup);
        dup
    }
    /// Rows inserted.
    pub fn rows(&self) -> u64 {
        self.total
    }
    /// Rows beyond the first of their key.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }
}

#[derive(Clone, Copy, Debug)]
struct Insert {
    from: ComponentId,
    req: Request,
    arrival: SimTime,
}

/// The resource table (see the module docs).
#[derive(Debug)]
pub struct ResourceDb {
    cfg: ResourceDbConfig,
    ledger: ResourceLedger,
    inserts_in_progress: Slab<Insert>,
    arrivals: SeriesId,
    completed: SeriesId,
    inserts: SeriesId,
    duplicates: SeriesId,
    latency: SeriesId,
    in_system: SeriesId,
    rows: SeriesId,
}

impl ResourceDb {
    /// Builds the table and registers its metrics.
    pub fn new(cfg: &ResourceDbConfig, me: ComponentId, rec: &mut Recorder) -> ResourceDb {
        let o = Some(me);
        ResourceDb {
            cfg: cfg.clone(),
            ledger: ResourceLedger::default(),
            inserts_in_progress: Slab::default(),
            arrivals: rec.counter(o, "arrivals"),
            completed: rec.counter(o, "completed"),
            inserts: rec.counter(o, "inserts"),
            duplicates: rec.counter(o, "duplicates"),
            latency: rec.histogram(o, "latency_ns"),
            in_system: rec.gauge(o, "in_system"),
            rows: rec.gauge_persistent(o, "rows"),
        }
    }
}

impl Component<Cluster> for ResourceDb {
    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: crate::Msg) {
        match msg {
            crate::Msg::Request(req) => {
                cx.count(self.arrivals, 1);
                cx.gauge_add(self.in_system, 1);
                let id = self.inserts_in_progress.insert(Insert {
                    from,
                    req,
                    arrival: cx.now(),
                });
                let d = self.cfg.insert_time.sample_duration(cx.rng());
                cx.set_timer(cx.scaled(d), timer(IdemTimer::Insert { id }));
            }
            crate::Msg::Probe { seq } => {
                cx.send_with(from, crate::Msg::ProbeReply { seq }, self.cfg.transport, 0)
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, t: crate::Timer) {
        if let crate::Timer::Pattern(Timer::Idem(IdemTimer::Insert { id })) = t
            && let Some(ins) = self.inserts_in_progress.remove(id)
        {
            cx.count(self.inserts, 1);
            if self.ledger.insert(ins.req.key) {
                cx.count(self.duplicates, 1);
            }
            cx.gauge_set(self.rows, self.ledger.rows() as i64);
            let resp = Response {
                id: ins.req.id,
                status: Status::Ok,
                size_bytes: 0,
                version: self.ledger.rows(),
            };
            cx.send_with(ins.from, resp.into(), self.cfg.transport, 0);
            cx.record(self.latency, (cx.now() - ins.arrival).as_nanos());
            cx.count(self.completed, 1);
            cx.gauge_add(self.in_system, -1);
        }
    }

    fn on_crash(&mut self) {
        self.inserts_in_progress.clear();
    }

    fn on_restart(&mut self, cx: &mut Ctx<'_, Cluster>) {
        cx.gauge_set(self.in_system, 0);
    }
}

/// Default shared-store sync delay: 1 ms.
pub const DEFAULT_SYNC_DELAY: SimDuration = SimDuration::from_millis(1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_counts_rows_beyond_the_first_per_key() {
        let mut l = ResourceLedger::default();
        assert!(!l.insert(1));
        assert!(!l.insert(2));
        assert!(l.insert(1));
        assert!(l.insert(1));
        assert_eq!((l.rows(), l.duplicates()), (4, 2));
    }

    /// Claims are atomic and owned: a second claim conflicts, only the owner can consume
    /// or release, a consumed key replays.
    #[test]
    fn key_store_claims_are_owned() {
        use clustersim_engine::testing::Harness;
        let cfg = KeyStoreConfig {
            sync_delay: SimDuration::ZERO,
            transport: Transport::Stream,
        };
        let mut h = Harness::new(1, "keys");
        let mut st = KeyStore::new(&cfg, ComponentId(0), &mut h.metrics);
        let (a, b) = (ComponentId(1), ComponentId(2));
        let claim = |h: &mut Harness, st: &mut KeyStore, from, id| {
            let c = h.call(|cx| st.on_message(cx, from, key_msg(KeyMsg::Claim { id, key: 7 })));
            match &c[0] {
                clustersim_engine::Command::Send {
                    msg: crate::Msg::Pattern(super::super::Msg::KeyClaimed { state, .. }),
                    ..
                } => *state,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(claim(&mut h, &mut st, a, 1), KeyStatus::New);
        assert_eq!(claim(&mut h, &mut st, b, 2), KeyStatus::InProgress);
        // Not the owner: ignored.
        h.call(|cx| st.on_message(cx, b, key_msg(KeyMsg::Release { id: 2, key: 7 })));
        h.call(|cx| st.on_message(cx, b, key_msg(KeyMsg::Consume { id: 2, key: 7 })));
        assert_eq!(claim(&mut h, &mut st, b, 3), KeyStatus::InProgress);
        h.call(|cx| st.on_message(cx, a, key_msg(KeyMsg::Consume { id: 1, key: 7 })));
        assert_eq!(claim(&mut h, &mut st, b, 4), KeyStatus::Consumed);
        // A release after consumption does not forget the key.
        h.call(|cx| st.on_message(cx, a, key_msg(KeyMsg::Release { id: 1, key: 7 })));
        assert_eq!(claim(&mut h, &mut st, b, 5), KeyStatus::Consumed);
    }

    #[test]
    fn client_config_rejects_bad_values() {
        let mut c = IdemClientConfig::new(ComponentId(1), 10.0, SimDuration::from_millis(5));
        c.validate().unwrap();
        c.timeout = SimDuration::ZERO;
        assert_eq!(c.validate().unwrap_err().field, "timeout");
        c.timeout = SimDuration::from_millis(5);
        c.double_submit_probability = 2.0;
        assert_eq!(c.validate().unwrap_err().field, "double_submit_probability");
    }
}
