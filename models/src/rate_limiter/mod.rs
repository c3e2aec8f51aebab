//! Rate limiters: a gateway ([`RateLimiter`]) that receives [`Request`]s, forwards admitted
//! ones to its target, relays the target's [`Response`], and answers refused ones itself with
//! [`Status::Throttled`] (HTTP 429, with a Retry-After hint); and a Redis-like
//! [`CounterStore`] that several limiters share for distributed limiting.
//!
//! The algorithms are the pure structs of [`algorithms`] (`try_acquire(now_local, n) ->
//! Decision`): token bucket, leaky bucket, fixed window, sliding window log, sliding window
//! counter. Windows and refills read the node's **local** clock (`Ctx::local_time`), so clock
//! skew between limiter nodes shifts their windows.
//!
//! # Keys and memory
//!
//! A limit is kept per key ([`KeyBy`]): one global key, one per end user
//! ([`Request::client`]; ids are per client component), or one per route ([`Request::op`]).
//! State lives in a `BTreeMap<u64, KeyState>` created on a key's first request and never
//! evicted (so bounded by the client population); its size is reported by the gauges `keys`,
//! `state_bytes` (algorithm state plus 8 bytes of key per entry, see [`algorithms`] for the
//! per-algorithm sizes; B-tree node overhead excluded), `state_bytes_per_key` and, for the
//! sliding log, `log_entries` (timestamps held: grows with the admitted rate).
//!
//! # Distributed modes ([`Mode`])
//!
//! * `Local`: per-node state only. Behind an `IpHash` load balancer with `KeyBy::Client` this
//!   is "sticky routing with local limits".
//! * `Sync`: every request does an atomic check-and-increment of the store's counter for
//!   (key, local window index) ([`Msg::Incr`] with `check`), and is admitted iff the count
//!   stays within the limit: exact (never over-admits with synchronised clocks), but adds a
//!   store round trip (`limiter_delay_ns`).
//! * `LocalSync`: requests are decided locally against `global + in flight + unsynced <
//!   limit`; every `interval` each node pushes its unsynced admissions ([`Msg::Incr`] without
//!   `check`; keys without new admissions push `n = 0`, a read) and learns the global count.
//!   Other nodes' admissions since their last push are invisible, so a window may admit up
//!   to `(nodes − 1) × rate × interval` too many.
//!
//! The store counts, per (key, window), every admission it learns of; admissions beyond the
//! limit carried in the message are the store's `over_admitted` (exact as long as no push is
//! lost). **Store outage:** a request (`Sync`) or a push (`LocalSync`) unanswered within
//! `timeout`, or a send failure, marks the store down until its next answer; `Sync` then
//! admits the request (`fail_open`) or throttles it; `LocalSync` keeps deciding locally with
//! its stale global count (`fail_open`) or throttles everything.
//!
//! # Metrics of the limiter
//!
//! | name | kind | meaning |
//! |---|---|---|
//! | `arrivals` | counter | requests received |
//! | `admitted`, `rejected` | counter | decisions (per window in timeseries.csv) |
//! | `admitted@key=N`, `rejected@key=N` | counter | the same per end user `N < report_keys` (`KeyBy::Client`; `key=other` sums the rest) |
//! | `admitted@route=R`, `rejected@route=R` | counter | the same per route `read`, `write`, `other` (`KeyBy::Route`) |
//! | `completed`, `errors` | counter | responses sent: `Ok` / anything else (including the throttles) |
//! | `store_failures` | counter | store answers missing (timeout or send failure) |
//! | `fail_open_admits` | counter | requests admitted while the store was down |
//! | `limiter_delay_ns` | histogram | arrival → forwarded (leaky bucket queueing, store round trip) |
//! | `latency_ns` | histogram | arrival → response sent |
//! | `in_system` | gauge | requests inside (Little's law with `latency_ns`) |
//! | `keys`, `state_bytes`, `state_bytes_per_key`, `log_entries` | gauge | memory (above) |
//!
//! # Metrics of the store
//!
//! `arrivals`, `completed` (operations), `granted`, `denied` (checked increments),
//! `over_admitted` (admissions beyond the global limit per window), `keys` (live counters:
//! up to [`KEEP_WINDOWS`] recent windows of each key), `state_bytes` (16 bytes per counter).

pub mod algorithms;
mod config;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};

pub use algorithms::{Decision, KeyState, md1k_blocking};
pub use config::{
    Algorithm, CounterStoreConfig, KeyBy, MAX_REPORT_KEYS, Mode, RateLimiterConfig, StoreLink,
};

use clustersim_engine::{
    Component, ComponentId, Ctx, DropCause, Recorder, SeriesId, SimDuration, SimTime, StableHash,
    StableHasher, TimerKey, Transport,
};

use crate::Cluster;
use crate::msg::{Op, Request, Response, Status};

/// Limiter ↔ store messages (inside [`crate::Msg::Limiter`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    /// Add `n` to the counter `slot`. With `check`, only if the result stays `<= limit`
    /// (atomic check-and-increment); without, unconditionally (a push of local admissions;
    /// `n = 0` reads).
    Incr {
        /// Echoed in the reply.
        id: u64,
        /// `key << 32 | (window index mod 2³²)`.
        slot: u64,
        /// The global limit per window.
        limit: u32,
        /// Amount to add.
        n: u16,
        /// Conditional increment.
        check: bool,
    },
    /// The store's answer.
    Count {
        /// The request's `id`.
        id: u64,
        /// The counter after the operation.
        count: u64,
        /// The request's `n`.
        n: u16,
        /// Whether the increment was applied.
        granted: bool,
    },
}

impl StableHash for Msg {
    fn stable_hash(&self, h: &mut StableHasher) {
        match *self {
            Msg::Incr {
                id,
                slot,
                limit,
                n,
                check,
            } => {
                h.write_u64(0);
                h.write_u64(id);
                h.write_u64(slot);
                h.write_u64((u64::from(limit) << 17) | (u64::from(n) << 1) | u64::from(check));
            }
            Msg::Count {
                id,
                count,
                n,
                granted,
            } => {
                h.write_u64(1);
                h.write_u64(id);
                h.write_u64(count);
                h.write_u64((u64::from(n) << 1) | u64::from(granted));
            }
        }
    }
}

/// Timers of the limiter and the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// A leaky-bucket delay is over: forward request `id`.
    Release {
        /// Slab handle.
        id: u64,
    },
    /// The store has not answered request `id` (`Sync`).
    StoreTimeout {
        /// Slab handle.
        id: u64,
    },
    /// Push the local counters (`LocalSync`).
    SyncTick,
    /// The push sent at true time `sent_ns` may be unanswered.
    SyncTimeout {
        /// True time of the push, ns.
        sent_ns: u64,
    },
    /// The store finished its oldest queued operation.
    StoreDone,
}

impl StableHash for Timer {
    fn stable_hash(&self, h: &mut StableHasher) {
        match *self {
            Timer::Release { id } => {
                h.write_u64(0);
                h.write_u64(id);
            }
            Timer::StoreTimeout { id } => {
                h.write_u64(1);
                h.write_u64(id);
            }
            Timer::SyncTick => h.write_u64(2),
            Timer::SyncTimeout { sent_ns } => {
                h.write_u64(3);
                h.write_u64(sent_ns);
            }
            Timer::StoreDone => h.write_u64(4),
        }
    }
}

#[inline]
fn make_id(slot: u32, generation: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(slot)
}

#[inline]
fn split_id(id: u64) -> (usize, u32) {
    ((id & 0xffff_ffff) as usize, (id >> 32) as u32)
}

/// Retry-After in ms for a hint in ns (rounded up, saturating at `u16::MAX`).
fn retry_ms(ns: u64) -> u16 {
    u16::try_from(ns.div_ceil(1_000_000)).unwrap_or(u16::MAX)
}

fn op_route(op: Op) -> u64 {
    match op {
        Op::Read => 0,
        Op::Write => 1,
        Op::Other => 2,
    }
}

#[derive(Clone, Debug)]
struct LimiterMetrics {
    arrivals: SeriesId,
    admitted: SeriesId,
    rejected: SeriesId,
    completed: SeriesId,
    errors: SeriesId,
    store_failures: SeriesId,
    fail_open: SeriesId,
    delay: SeriesId,
    latency: SeriesId,
    in_system: SeriesId,
    keys: SeriesId,
    state_bytes: SeriesId,
    bytes_per_key: SeriesId,
    log_entries: SeriesId,
    /// `(admitted, rejected)` per reported key, indexed by key (see [`RateLimiter::key_series`]).
    per_key: Vec<(SeriesId, SeriesId)>,
    /// `(admitted, rejected)` of the end users beyond `report_keys` (`key=other`).
    other_keys: Option<(SeriesId, SeriesId)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EState {
    Free,
    Store,
    Delayed,
    Forwarded,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    generation: u32,
    state: EState,
    from: ComponentId,
    req: Request,
    arrival: SimTime,
    window_end_local: u64,
    timer: Option<TimerKey>,
}

/// One key's counters in `LocalSync` mode (40 bytes with the key).
#[derive(Clone, Copy, Debug, Default)]
struct SyncCounter {
    window: u64,
    known: u64,
    inflight: u64,
    pending: u64,
}

/// The rate limiter component (see the module docs).
#[derive(Debug)]
pub struct RateLimiter {
    cfg: RateLimiterConfig,
    states: BTreeMap<u64, KeyState>,
    sync: BTreeMap<u64, SyncCounter>,
    bytes: u64,
    log_entries: u64,
    store_down: bool,
    last_reply: SimTime,
    entries: Vec<Entry>,
    free: Vec<u32>,
    m: LimiterMetrics,
}

impl RateLimiter {
    /// Builds the limiter and registers its metrics (owner `me`).
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &RateLimiterConfig, me: ComponentId, rec: &mut Recorder) -> RateLimiter {
        if let Err(e) = cfg.validate() {
            panic!("invalid rate limiter config: {e}");
        }
        let o = Some(me);
        let mut m = LimiterMetrics {
            arrivals: rec.counter(o, "arrivals"),
            admitted: rec.counter(o, "admitted"),
            rejected: rec.counter(o, "rejected"),
            completed: rec.counter(o, "completed"),
            errors: rec.counter(o, "errors"),
            store_failures: rec.counter(o, "store_failures"),
            fail_open: rec.counter(o, "fail_open_admits"),
            delay: rec.histogram(o, "limiter_delay_ns"),
            latency: rec.histogram(o, "latency_ns"),
            in_system: rec.gauge(o, "in_system"),
            keys: rec.gauge(o, "keys"),
            state_bytes: rec.gauge(o, "state_bytes"),
            bytes_per_key: rec.gauge(o, "state_bytes_per_key"),
            log_entries: rec.gauge(o, "log_entries"),
            per_key: Vec::new(),
            other_keys: None,
        };
        let mut pair = |label: &str| {
            (
                rec.counter(o, &format!("admitted@{label}")),
                rec.counter(o, &format!("rejected@{label}")),
            )
        };
        match cfg.key_by {
            KeyBy::Global => {}
            KeyBy::Route => {
                m.per_key = [Op::Read, Op::Write, Op::Other]
                    .iter()
                    .map(|op| pair(&format!("route={}", op.name())))
                    .collect();
            }
            KeyBy::Client => {
                m.per_key = (0..cfg.report_keys)
                    .map(|k| pair(&format!("key={k}")))
                    .collect();
                m.other_keys = Some(pair("key=other"));
            }
        }
        RateLimiter {
            cfg: cfg.clone(),
            states: BTreeMap::new(),
            sync: BTreeMap::new(),
            bytes: 0,
            log_entries: 0,
            store_down: false,
            last_reply: SimTime::ZERO,
            entries: Vec::with_capacity(64),
            free: Vec::with_capacity(64),
            m,
        }
    }

    /// Keys with state.
    pub fn keys(&self) -> usize {
        self.states.len().max(self.sync.len())
    }

    /// The labelled `(admitted, rejected)` series of `key`, if it is reported.
    fn key_series(&self, key: u64) -> Option<(SeriesId, SeriesId)> {
        usize::try_from(key)
            .ok()
            .and_then(|k| self.m.per_key.get(k).copied())
            .or(self.m.other_keys)
    }

    fn key_of(&self, req: &Request) -> u64 {
        match self.cfg.key_by {
            KeyBy::Global => 0,
            KeyBy::Client => u64::from(req.client),
            KeyBy::Route => op_route(req.op),
        }
    }

    /// (limit, window ns) of the fixed window the distributed modes use.
    fn window(&self) -> (u32, u64) {
        match self.cfg.algorithm {
            Algorithm::FixedWindow { limit, window } => (limit, window.as_nanos()),
            // validate() allows the distributed modes only with FixedWindow.
            _ => (u32::MAX, u64::MAX),
        }
    }

    fn allocate(&mut self, from: ComponentId, req: Request, now: SimTime) -> usize {
        let entry = Entry {
            generation: 0,
            state: EState::Free,
            from,
            req,
            arrival: now,
            window_end_local: 0,
            timer: None,
        };
        match self.free.pop() {
            Some(s) => {
                let generation = self.entries[s as usize].generation.wrapping_add(1);
                self.entries[s as usize] = Entry {
                    generation,
                    ..entry
                };
                s as usize
            }
            None => {
                self.entries.push(entry);
                self.entries.len() - 1
            }
        }
    }

    fn update_memory_gauges(&mut self, cx: &mut Ctx<'_, Cluster>) {
        let keys = self.keys() as u64;
        let g = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        cx.gauge_set(self.m.keys, g(keys));
        cx.gauge_set(self.m.state_bytes, g(self.bytes));
        cx.gauge_set(
            self.m.bytes_per_key,
            g(self.bytes.checked_div(keys).unwrap_or(0)),
        );
        cx.gauge_set(self.m.log_entries, g(self.log_entries));
    }

    fn on_request(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, req: Request) {
        cx.count(self.m.arrivals, 1);
        cx.gauge_add(self.m.in_system, 1);
        let now = cx.now();
        let local = cx.local_time().as_nanos();
        let slot = self.allocate(from, req, now);
        let key = self.key_of(&req);
        match self.cfg.mode {
            Mode::Local => {
                let algorithm = self.cfg.algorithm;
                let mut fresh = false;
                let st = self.states.entry(key).or_insert_with(|| {
                    fresh = true;
                    algorithm.new_state()
                });
                let (b0, l0) = if fresh {
                    (0, 0)
                } else {
                    (st.state_bytes() + 8, st.log_entries())
                };
                let d = st.try_acquire(local, 1);
                let (b1, l1) = (st.state_bytes() + 8, st.log_entries());
                self.bytes = self.bytes + b1 - b0;
                self.log_entries = self.log_entries + l1 - l0;
                if b1 != b0 || l1 != l0 {
                    self.update_memory_gauges(cx);
                }
                self.act(cx, slot, d);
            }
            Mode::Sync(link) => {
                let (limit, w) = self.window();
                let window = local / w;
                let e = &mut self.entries[slot];
                e.window_end_local = (window + 1) * w;
                e.state = EState::Store;
                let id = make_id(slot as u32, e.generation);
                e.timer = Some(cx.set_timer(link.timeout, Timer::StoreTimeout { id }.into()));
                let msg = Msg::Incr {
                    id,
                    slot: (key << 32) | (window & 0xffff_ffff),
                    limit,
                    n: 1,
                    check: true,
                };
                cx.send_with(link.store, msg.into(), self.cfg.transport, 32);
            }
            Mode::LocalSync { link, .. } => {
                let (limit, w) = self.window();
                let window = local / w;
                let mut fresh = false;
                let c = *self.sync.entry(key).or_insert_with(|| {
                    fresh = true;
                    SyncCounter {
                        window,
                        ..SyncCounter::default()
                    }
                });
                if fresh {
                    self.bytes += 40;
                    self.update_memory_gauges(cx);
                }
                let c = self.roll(cx, key, c, window, limit);
                let retry = (c.window + 1) * w - local.min((c.window + 1) * w);
                if self.store_down && !link.fail_open {
                    self.act(cx, slot, Decision::Reject { retry_after_ns: 0 });
                } else if c.known + c.inflight + c.pending < u64::from(limit) {
                    if let Some(s) = self.sync.get_mut(&key) {
                        s.pending += 1;
                    }
                    if self.store_down {
                        cx.count(self.m.fail_open, 1);
                    }
                    self.act(cx, slot, Decision::Admit);
                } else {
                    self.act(
                        cx,
                        slot,
                        Decision::Reject {
                            retry_after_ns: retry,
                        },
                    );
                }
            }
        }
    }

    /// Moves `key`'s counter to `window`, pushing the old window's unsynced admissions.
    fn roll(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        key: u64,
        c: SyncCounter,
        window: u64,
        limit: u32,
    ) -> SyncCounter {
        if window <= c.window {
            return c;
        }
        if c.pending > 0 {
            self.push(cx, key, c.window, c.pending, limit);
        }
        let fresh = SyncCounter {
            window,
            ..SyncCounter::default()
        };
        self.sync.insert(key, fresh);
        fresh
    }

    /// Sends `n` admissions of (`key`, `window`) to the store (in chunks of at most 65535).
    fn push(&mut self, cx: &mut Ctx<'_, Cluster>, key: u64, window: u64, n: u64, limit: u32) {
        let Mode::LocalSync { link, .. } = self.cfg.mode else {
            return;
        };
        let slot = (key << 32) | (window & 0xffff_ffff);
        let mut left = n;
        loop {
            let chunk = left.min(u64::from(u16::MAX));
            let msg = Msg::Incr {
                id: slot,
                slot,
                limit,
                n: chunk as u16,
                check: false,
            };
            cx.send_with(link.store, msg.into(), self.cfg.transport, 32);
            left -= chunk;
            if left == 0 {
                break;
            }
        }
    }

    fn on_sync_tick(&mut self, cx: &mut Ctx<'_, Cluster>) {
        let Mode::LocalSync { link, interval } = self.cfg.mode else {
            return;
        };
        let (limit, w) = self.window();
        let window = cx.local_time().as_nanos() / w;
        // Walk the keys by successive range lookups (no allocation while mutating the map).
        let mut next = Some(0u64);
        while let Some(from) = next {
            let Some((&key, &c)) = self.sync.range(from..).next() else {
                break;
            };
            next = key.checked_add(1);
            let c = self.roll(cx, key, c, window, limit);
            if c.window == window {
                self.push(cx, key, window, c.pending, limit);
                if let Some(s) = self.sync.get_mut(&key) {
                    s.inflight += s.pending;
                    s.pending = 0;
                }
            }
        }
        let sent_ns = cx.now().as_nanos();
        cx.set_timer(link.timeout, Timer::SyncTimeout { sent_ns }.into());
        cx.set_timer(interval, Timer::SyncTick.into());
    }

    fn on_store_reply(&mut self, cx: &mut Ctx<'_, Cluster>, id: u64, count: u64, n: u16, ok: bool) {
        self.store_down = false;
        self.last_reply = cx.now();
        match self.cfg.mode {
            Mode::Local => {}
            Mode::Sync(_) => {
                let Some(slot) = self.waiting(id, EState::Store) else {
                    return;
                };
                if let Some(k) = self.entries[slot].timer.take() {
                    cx.cancel_timer(k);
                }
                if ok {
                    self.forward(cx, slot);
                } else {
                    let local = cx.local_time().as_nanos();
                    let retry = self.entries[slot].window_end_local.saturating_sub(local);
                    self.reject(cx, slot, retry);
                }
            }
            Mode::LocalSync { .. } => {
                let (key, window) = (id >> 32, id & 0xffff_ffff);
                if let Some(s) = self.sync.get_mut(&key)
                    && s.window & 0xffff_ffff == window
                {
                    s.known = s.known.max(count);
                    s.inflight = s.inflight.saturating_sub(u64::from(n));
                }
            }
        }
    }

    fn store_failed(&mut self, cx: &mut Ctx<'_, Cluster>) {
        cx.count(self.m.store_failures, 1);
        self.store_down = true;
    }

    /// The store did not answer the check of the request in `slot` (`Sync`).
    fn sync_store_failed(&mut self, cx: &mut Ctx<'_, Cluster>, slot: usize) {
        self.store_failed(cx);
        let Mode::Sync(link) = self.cfg.mode else {
            return;
        };
        if link.fail_open {
            cx.count(self.m.fail_open, 1);
            self.forward(cx, slot);
        } else {
            self.reject(cx, slot, 0);
        }
    }

    fn waiting(&self, id: u64, state: EState) -> Option<usize> {
        let (slot, generation) = split_id(id);
        let e = self.entries.get(slot)?;
        (e.generation == generation && e.state == state).then_some(slot)
    }

    fn act(&mut self, cx: &mut Ctx<'_, Cluster>, slot: usize, d: Decision) {
        match d {
            Decision::Admit => self.forward(cx, slot),
            Decision::Delay(ns) => {
                let e = &mut self.entries[slot];
                e.state = EState::Delayed;
                let id = make_id(slot as u32, e.generation);
                cx.set_timer(SimDuration::from_nanos(ns), Timer::Release { id }.into());
            }
            Decision::Reject { retry_after_ns } => self.reject(cx, slot, retry_after_ns),
        }
    }

    fn forward(&mut self, cx: &mut Ctx<'_, Cluster>, slot: usize) {
        cx.count(self.m.admitted, 1);
        if let Some((admitted, _)) = self.key_series(self.key_of(&self.entries[slot].req)) {
            cx.count(admitted, 1);
        }
        let now = cx.now();
        let e = &mut self.entries[slot];
        cx.record(self.m.delay, (now - e.arrival).as_nanos());
        e.generation = e.generation.wrapping_add(1);
        e.state = EState::Forwarded;
        let req = Request {
            id: make_id(slot as u32, e.generation),
            ..e.req
        };
        cx.send_with(
            self.cfg.target,
            req.into(),
            self.cfg.transport,
            req.size_bytes,
        );
    }

    fn reject(&mut self, cx: &mut Ctx<'_, Cluster>, slot: usize, retry_after_ns: u64) {
        cx.count(self.m.rejected, 1);
        if let Some((_, rejected)) = self.key_series(self.key_of(&self.entries[slot].req)) {
            cx.count(rejected, 1);
        }
        let retry_after_ms = if self.cfg.retry_after {
            retry_ms(retry_after_ns)
        } else {
            0
        };
        self.respond(cx, slot, Status::Throttled { retry_after_ms }, 0, 0);
    }

    fn respond(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        slot: usize,
        status: Status,
        size: u32,
        version: u64,
    ) {
        let e = &mut self.entries[slot];
        e.state = EState::Free;
        let e = *e;
        self.free.push(slot as u32);
        let resp = Response {
            id: e.req.id,
            status,
            size_bytes: size,
            version,
        };
        cx.send_with(e.from, resp.into(), self.cfg.transport, size);
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

    fn start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        cx.gauge_set(self.m.in_system, 0);
        self.update_memory_gauges(cx);
        if let Mode::LocalSync { interval, .. } = self.cfg.mode {
            cx.set_timer(interval, Timer::SyncTick.into());
        }
    }
}

impl Component<Cluster> for RateLimiter {
    fn on_start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.start(cx);
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: crate::Msg) {
        match msg {
            crate::Msg::Request(req) => self.on_request(cx, from, req),
            crate::Msg::Response(resp) => {
                if from == self.cfg.target
                    && let Some(slot) = self.waiting(resp.id, EState::Forwarded)
                {
                    self.respond(cx, slot, resp.status, resp.size_bytes, resp.version);
                }
            }
            crate::Msg::Limiter(Msg::Count {
                id,
                count,
                n,
                granted,
            }) => self.on_store_reply(cx, id, count, n, granted),
            crate::Msg::Probe { seq } => {
                cx.send_with(from, crate::Msg::ProbeReply { seq }, self.cfg.transport, 0)
            }
            crate::Msg::Comm(m) => {
                if let Some(r) = crate::comm::handshake_reply(&m) {
                    cx.send_with(from, r.into(), self.cfg.transport, 0);
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, timer: crate::Timer) {
        let crate::Timer::Limiter(t) = timer else {
            return;
        };
        match t {
            Timer::Release { id } => {
                if let Some(slot) = self.waiting(id, EState::Delayed) {
                    self.forward(cx, slot);
                }
            }
            Timer::StoreTimeout { id } => {
                if let Some(slot) = self.waiting(id, EState::Store) {
                    self.entries[slot].timer = None;
                    self.sync_store_failed(cx, slot);
                }
            }
            Timer::SyncTick => self.on_sync_tick(cx),
            Timer::SyncTimeout { sent_ns } => {
                if self.last_reply.as_nanos() < sent_ns {
                    self.store_failed(cx);
                }
            }
            Timer::StoreDone => {}
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
            crate::Msg::Request(req) => {
                if let Some(slot) = self.waiting(req.id, EState::Forwarded) {
                    self.respond(cx, slot, Status::Error, 0, 0);
                }
            }
            crate::Msg::Limiter(Msg::Incr {
                id, check: true, ..
            }) => {
                if let Some(slot) = self.waiting(id, EState::Store) {
                    if let Some(k) = self.entries[slot].timer.take() {
                        cx.cancel_timer(k);
                    }
                    self.sync_store_failed(cx, slot);
                }
            }
            crate::Msg::Limiter(Msg::Incr { check: false, .. }) => self.store_failed(cx),
            _ => {}
        }
    }

    fn on_crash(&mut self) {
        self.free.clear();
        for (i, e) in self.entries.iter_mut().enumerate().rev() {
            e.state = EState::Free;
            e.timer = None;
            self.free.push(i as u32);
        }
        self.states.clear();
        self.sync.clear();
        self.bytes = 0;
        self.log_entries = 0;
        self.store_down = false;
    }

    fn on_restart(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.start(cx);
    }
}

// ------------------------------------------------------------------ counter store

/// Windows per key the store keeps: an increment for window `w` prunes that key's counters
/// of windows `< w − (KEEP_WINDOWS − 1)`. Limiter clocks that disagree by up to
/// `KEEP_WINDOWS − 1` windows therefore still share their counters (like a Redis key whose
/// TTL is 16 windows); a node lagging further behind finds its current counter deleted by
/// the leading node and starts it again from 0 (over-admitting).
pub const KEEP_WINDOWS: u64 = 16;

/// The pure counter table of the store: `slot → count`; per key, windows older than
/// [`KEEP_WINDOWS`] behind the newest incremented one are pruned on the next increment.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    map: BTreeMap<u64, u64>,
}

/// The result of [`Counters::incr`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IncrResult {
    /// The counter afterwards.
    pub count: u64,
    /// Whether the increment was applied.
    pub granted: bool,
    /// Admissions beyond `limit` this increment added (unchecked increments only).
    pub over: u64,
}

impl Counters {
    /// Applies one [`Msg::Incr`].
    pub fn incr(&mut self, slot: u64, limit: u32, n: u16, check: bool) -> IncrResult {
        let key_base = slot & !0xffff_ffff;
        let window = slot & 0xffff_ffff;
        if window >= KEEP_WINDOWS {
            let oldest_kept = key_base | (window - (KEEP_WINDOWS - 1));
            while let Some((&s, _)) = self.map.range(key_base..oldest_kept).next() {
                self.map.remove(&s);
            }
        }
        let c = self.map.entry(slot).or_insert(0);
        let (old, n, limit) = (*c, u64::from(n), u64::from(limit));
        if check && old + n > limit {
            return IncrResult {
                count: old,
                granted: false,
                over: 0,
            };
        }
        *c = old + n;
        IncrResult {
            count: *c,
            granted: true,
            over: (*c).saturating_sub(old.max(limit)),
        }
    }
    /// Live counters.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// The Redis-like counter store (see the module docs).
#[derive(Debug)]
pub struct CounterStore {
    cfg: CounterStoreConfig,
    counters: Counters,
    busy_until: SimTime,
    queue: VecDeque<(ComponentId, Msg)>,
    arrivals: SeriesId,
    completed: SeriesId,
    granted: SeriesId,
    denied: SeriesId,
    over_admitted: SeriesId,
    keys: SeriesId,
    state_bytes: SeriesId,
}

impl CounterStore {
    /// Builds the store and registers its metrics (owner `me`).
    pub fn new(cfg: &CounterStoreConfig, me: ComponentId, rec: &mut Recorder) -> CounterStore {
        let o = Some(me);
        CounterStore {
            cfg: *cfg,
            counters: Counters::default(),
            busy_until: SimTime::ZERO,
            queue: VecDeque::with_capacity(64),
            arrivals: rec.counter(o, "arrivals"),
            completed: rec.counter(o, "completed"),
            granted: rec.counter(o, "granted"),
            denied: rec.counter(o, "denied"),
            over_admitted: rec.counter(o, "over_admitted"),
            keys: rec.gauge(o, "keys"),
            state_bytes: rec.gauge(o, "state_bytes"),
        }
    }

    fn transport(&self) -> Transport {
        self.cfg.transport
    }
}

impl Component<Cluster> for CounterStore {
    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: crate::Msg) {
        match msg {
            crate::Msg::Limiter(Msg::Incr {
                id,
                slot,
                limit,
                n,
                check,
            }) => {
                cx.count(self.arrivals, 1);
                // Single-threaded FIFO: operations apply in arrival order, so the state
                // changes now and only the reply waits for the service time.
                let r = self.counters.incr(slot, limit, n, check);
                if check {
                    cx.count(if r.granted { self.granted } else { self.denied }, 1);
                }
                if r.over > 0 {
                    cx.count(self.over_admitted, r.over);
                }
                let len = i64::try_from(self.counters.len()).unwrap_or(i64::MAX);
                cx.gauge_set(self.keys, len);
                cx.gauge_set(self.state_bytes, 16 * len);
                let reply = Msg::Count {
                    id,
                    count: r.count,
                    n,
                    granted: r.granted,
                };
                let now = cx.now();
                if self.cfg.service_time.is_zero() {
                    cx.count(self.completed, 1);
                    cx.send_with(from, reply.into(), self.transport(), 32);
                } else {
                    let start = self.busy_until.max(now);
                    self.busy_until = start + self.cfg.service_time;
                    self.queue.push_back((from, reply));
                    cx.set_timer(self.busy_until - now, Timer::StoreDone.into());
                }
            }
            crate::Msg::Probe { seq } => {
                cx.send_with(from, crate::Msg::ProbeReply { seq }, self.transport(), 0)
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, timer: crate::Timer) {
        if let crate::Timer::Limiter(Timer::StoreDone) = timer
            && let Some((to, reply)) = self.queue.pop_front()
        {
            cx.count(self.completed, 1);
            cx.send_with(to, reply.into(), self.transport(), 32);
        }
    }

    fn on_crash(&mut self) {
        self.counters = Counters::default();
        self.queue.clear();
        self.busy_until = SimTime::ZERO;
    }
}
