//! Sharding: a [`ShardRouter`] routes each [`Request`] by its key to one of its shard targets
//! (services, caches, load balancers, ...) with a [`Partitioner`] — mod hashing, consistent
//! hashing on a ring with weighted virtual nodes, sorted key ranges, or rendezvous hashing
//! ([`partitioner`], pure and property-tested). Shards can join and leave during a run; the
//! data that moves is simulated as network transfers between the shards.
//!
//! # Placement of the router
//!
//! The router is an ordinary component, so where it sits is a scenario decision:
//! * **client-side routing** (a smart client library): put the router on the client's node;
//!   the hop client → router costs nothing (same node) and requests go straight to the shard;
//! * **proxy / router tier** (mongos, twemproxy, Vitess' vtgate): put it on its own node; every
//!   request pays one extra network hop each way, costed by the network like any other.
//!
//! # Request life cycle
//!
//! A request gets a fresh id (`generation << 32 | slot`), is forwarded to its shard with its
//! op, key, size and client unchanged, and the shard's [`Response`] is relayed to the caller
//! with the caller's id. A send failure (stream to a crashed shard) answers [`Status::Error`].
//! The routing decision is a binary search (ring, ranges, moving keys) or O(1) (`Mod`); only
//! rendezvous hashing is O(members). Nothing is allocated per request in steady state.
//!
//! # Membership changes and data movement
//!
//! The router starts with the first `initial` shards. At each scheduled change it updates the
//! partitioner, compares the old and new owner of every key of the keyspace `0..keys`, and
//! groups the keys that move by (old owner, new owner) into batches of at most `batch_bytes`
//! (`value_size` bytes per key). For each batch it sends [`Msg::Move`] to the old owner; the old
//! owner streams the batch ([`Msg::Data`], `keys × value_size` bytes on a
//! [`Transport::Stream`], so link bandwidth and queueing apply) to the new owner, which
//! acknowledges it to the router ([`Msg::Ack`]). Services and caches do this in their message
//! handler through [`serve_transfer`], **without worker time**: the model charges a transfer to
//! the network only, not to the shards' CPUs or disks. When every batch is acknowledged the
//! rebalance is over (`rebalance_ns`). A change due while a rebalance runs waits for it.
//!
//! Each batch has a timeout (`transfer_timeout`, armed when its `Move` is sent). When it fires
//! and the batch is unacknowledged, and no other batch of the same (old owner, new owner) pair
//! was acknowledged within the timeout either (so a batch merely queued behind its siblings
//! on a slow link is left alone), the `Move` is sent again (`transfer_retries`). After
//! `max_transfer_retries` re-sends the batch is abandoned (`transfer_failures`, its keys in
//! `keys_lost`: the new owner serves them without their data, as after a real failed
//! migration without replicas) and the rebalance completes. This covers every way a batch is
//! lost: the old owner down (its `Move` fails), the new owner down (the `Data` stream fails),
//! the router down when the `Ack` arrives. A re-send of a batch whose first copy is only
//! late costs bandwidth; the first acknowledgement counts, duplicates are ignored. Choose
//! `transfer_timeout` above one batch's transfer time (`batch_bytes` / NIC bandwidth).
//!
//! While a key's batch is unacknowledged, a request for it follows [`InFlight`]: the old
//! owner serves it, the new owner serves it (counted in `inflight_requests`), or the router
//! answers [`Status::Unavailable`] (`rebalance_errors`). With `ServeFromNew`, a new owner's
//! answer that reaches the router before the key's batch is acknowledged is a miss
//! (`inflight_misses`): the key had not arrived, so the request goes on to the old owner after
//! `miss_penalty` (the router's view lags the data by the `Ack`'s trip, so this slightly
//! over-counts misses). Requests arriving during a rebalance
//! also feed `rebalance_latency_ns`, to compare with `latency_ns`.
//!
//! # Hot keys
//!
//! With [`HotKeys`], reads of the `top` hottest keys (keys `0..top`) are spread uniformly over
//! `replicas` distinct shards (the owner and its successors in shard order), drawn from the
//! router's own random stream; `hot_reads` counts them.
//!
//! # Crashes
//!
//! On a crash of its node the router forgets its outstanding requests (their callers time
//! out); membership and an ongoing rebalance survive (they live in the shards). Its timers die
//! with the node, so on restart it applies the membership changes that fell due while it was
//! down (in order), re-arms the later ones, and gives every unacknowledged batch a fresh
//! timeout (acknowledgements sent to it while down are lost: those batches are re-sent).
//!
//! # Metrics (a contract with the report writer)
//!
//! Registered at build time with the router as owner.
//!
//! | name | kind | meaning |
//! |---|---|---|
//! | `arrivals` | counter | requests received |
//! | `completed` | counter | responses relayed with `Ok` |
//! | `errors` | counter | every other response sent |
//! | `to_shard_<i>` | counter | requests forwarded to shard `i` (configuration order) |
//! | `keys_owned_<i>` | gauge | keys of `0..keys` shard `i` owns (0 when not a member) |
//! | `members` | gauge | current member count |
//! | `membership_changes` | counter | changes applied |
//! | `keys_moved`, `bytes_moved` | counter | keys and bytes whose transfer was acknowledged |
//! | `transfer_batches` | counter | batches sent |
//! | `transfer_failures` | counter | batches abandoned after `max_transfer_retries` re-sends |
//! | `transfer_retries` | counter | batch re-sends after a timeout |
//! | `keys_lost` | counter | keys of abandoned batches (never arrived at their new owner) |
//! | `rebalance_ns` | histogram | change applied → last batch acknowledged, per change |
//! | `rebalancing` | gauge | 1 while a rebalance runs (its time average is the fraction of time spent rebalancing) |
//! | `inflight_requests` | counter | requests for a key whose batch was unacknowledged |
//! | `rebalance_errors` | counter | of those, answered `Unavailable` (policy `Fail`) |
//! | `inflight_misses` | counter | of those, answered by a new owner without the key and sent on to the old owner (policy `ServeFromNew`) |
//! | `hot_reads` | counter | reads of a hot key spread over its replicas |
//! | `latency_ns` | histogram | arrival → response sent, every response |
//! | `rebalance_latency_ns` | histogram | the same, for requests arriving during a rebalance |
//! | `in_system` | gauge | requests received and not yet answered |

mod config;
pub mod partitioner;

pub use config::{
    Action, HotKeys, InFlight, MAX_KEYS, MAX_SHARDS, MembershipChange, ShardRouterConfig,
    ShardTarget,
};
pub use partitioner::{Partitioner, Scheme};

use clustersim_engine::{
    Component, ComponentId, Ctx, DropCause, Recorder, SeriesId, SimDuration, SimTime, StableHash,
    StableHasher, Transport,
};

use crate::Cluster;
use crate::msg::{Op, Request, Response, Status};

/// Wire size of the control messages ([`Msg::Move`], [`Msg::Ack`]).
pub const CONTROL_BYTES: u32 = 64;

/// Data-movement messages (carried as [`crate::Msg::Shard`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    /// Router → old owner: send `keys` keys (`bytes` bytes) of batch `batch` to `to`.
    Move {
        /// The new owner.
        to: ComponentId,
        /// `epoch << 32 | index`, echoed in the [`Msg::Ack`].
        batch: u64,
        /// Keys in the batch.
        keys: u32,
        /// Bytes in the batch.
        bytes: u32,
    },
    /// Old owner → new owner: the batch's data (`bytes` on the wire).
    Data {
        /// The router to acknowledge to.
        coordinator: ComponentId,
        /// The batch.
        batch: u64,
        /// Keys in the batch.
        keys: u32,
        /// Bytes in the batch.
        bytes: u32,
    },
    /// New owner → router: the batch has arrived.
    Ack {
        /// The batch.
        batch: u64,
        /// Keys in the batch.
        keys: u32,
        /// Bytes in the batch.
        bytes: u32,
    },
}

impl From<Msg> for crate::Msg {
    fn from(m: Msg) -> crate::Msg {
        crate::Msg::Shard(m)
    }
}

impl StableHash for Msg {
    fn stable_hash(&self, h: &mut StableHasher) {
        match *self {
            Msg::Move {
                to,
                batch,
                keys,
                bytes,
            } => {
                h.write_u64(0);
                h.write_u64(u64::from(to.0));
                h.write_u64(batch);
                h.write_u64((u64::from(keys) << 32) | u64::from(bytes));
            }
            Msg::Data {
                coordinator,
                batch,
                keys,
                bytes,
            } => {
                h.write_u64(1);
                h.write_u64(u64::from(coordinator.0));
                h.write_u64(batch);
                h.write_u64((u64::from(keys) << 32) | u64::from(bytes));
            }
            Msg::Ack { batch, keys, bytes } => {
                h.write_u64(2);
                h.write_u64(batch);
                h.write_u64((u64::from(keys) << 32) | u64::from(bytes));
            }
        }
    }
}

/// How a shard (service, cache) answers a data-movement message received from `from`: the
/// message to send, its destination and wire size, always on [`Transport::Stream`]. `Move`
/// becomes `Data` to the new owner; `Data` becomes `Ack` to the router; `Ack` needs nothing.
pub fn serve_transfer(from: ComponentId, m: &Msg) -> Option<(ComponentId, crate::Msg, u32)> {
    match *m {
        Msg::Move {
            to,
            batch,
            keys,
            bytes,
        } => Some((
            to,
            Msg::Data {
                coordinator: from,
                batch,
                keys,
                bytes,
            }
            .into(),
            bytes,
        )),
        Msg::Data {
            coordinator,
            batch,
            keys,
            bytes,
        } => Some((
            coordinator,
            Msg::Ack { batch, keys, bytes }.into(),
            CONTROL_BYTES,
        )),
        Msg::Ack { .. } => None,
    }
}

/// Timers of the shard router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Membership change `index` (in time order) is due.
    Change {
        /// Index in the sorted schedule.
        index: u32,
    },
    /// Batch `batch` (`epoch << 32 | index`) may have timed out.
    Transfer {
        /// The batch.
        batch: u64,
    },
    /// A request that missed at the new owner goes to the old owner (after `miss_penalty`).
    Fallback {
        /// The request's router-side id.
        id: u64,
    },
}

impl StableHash for Timer {
    fn stable_hash(&self, h: &mut StableHasher) {
        match *self {
            Timer::Change { index } => {
                h.write_u64(0);
                h.write_u64(u64::from(index));
            }
            Timer::Transfer { batch } => {
                h.write_u64(1);
                h.write_u64(batch);
            }
            Timer::Fallback { id } => {
                h.write_u64(2);
                h.write_u64(id);
            }
        }
    }
}

impl From<Timer> for crate::Timer {
    fn from(t: Timer) -> crate::Timer {
        crate::Timer::Shard(t)
    }
}

#[derive(Clone, Debug)]
struct RouterMetrics {
    arrivals: SeriesId,
    completed: SeriesId,
    errors: SeriesId,
    members: SeriesId,
    membership_changes: SeriesId,
    keys_moved: SeriesId,
    bytes_moved: SeriesId,
    transfer_batches: SeriesId,
    transfer_failures: SeriesId,
    transfer_retries: SeriesId,
    keys_lost: SeriesId,
    inflight_misses: SeriesId,
    rebalance: SeriesId,
    rebalancing: SeriesId,
    inflight: SeriesId,
    rebalance_errors: SeriesId,
    hot_reads: SeriesId,
    latency: SeriesId,
    rebalance_latency: SeriesId,
    in_system: SeriesId,
}

impl RouterMetrics {
    fn register(rec: &mut Recorder, me: ComponentId) -> RouterMetrics {
        let o = Some(me);
        RouterMetrics {
            arrivals: rec.counter(o, "arrivals"),
            completed: rec.counter(o, "completed"),
            errors: rec.counter(o, "errors"),
            members: rec.gauge(o, "members"),
            membership_changes: rec.counter(o, "membership_changes"),
            keys_moved: rec.counter(o, "keys_moved"),
            bytes_moved: rec.counter(o, "bytes_moved"),
            transfer_batches: rec.counter(o, "transfer_batches"),
            transfer_failures: rec.counter(o, "transfer_failures"),
            transfer_retries: rec.counter(o, "transfer_retries"),
            keys_lost: rec.counter(o, "keys_lost"),
            inflight_misses: rec.counter(o, "inflight_misses"),
            rebalance: rec.histogram(o, "rebalance_ns"),
            rebalancing: rec.gauge(o, "rebalancing"),
            inflight: rec.counter(o, "inflight_requests"),
            rebalance_errors: rec.counter(o, "rebalance_errors"),
            hot_reads: rec.counter(o, "hot_reads"),
            latency: rec.histogram(o, "latency_ns"),
            rebalance_latency: rec.histogram(o, "rebalance_latency_ns"),
            in_system: rec.gauge(o, "in_system"),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    generation: u32,
    live: bool,
    during_rebalance: bool,
    shard: u32,
    /// `ServeFromNew` while the key moves: the batch whose arrival decides a miss, and the
    /// old owner to fall back to (`u32::MAX`: none).
    miss_batch: u64,
    fallback: u32,
    from: ComponentId,
    req: Request,
    arrival: SimTime,
}

#[derive(Clone, Copy, Debug)]
struct Batch {
    from: u32,
    to: u32,
    keys: u32,
    done: bool,
    /// Re-sends so far.
    retries: u32,
    /// When it was acknowledged (progress of its (from, to) pair).
    acked_at: SimTime,
}

#[derive(Clone, Debug)]
struct ShardState {
    target: ComponentId,
    to_shard: SeriesId,
    keys_owned: SeriesId,
}

#[inline]
fn make_id(slot: u32, generation: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(slot)
}

/// The shard router component (see the module docs).
#[derive(Debug)]
pub struct ShardRouter {
    part: Partitioner,
    shards: Vec<ShardState>,
    schedule: Vec<MembershipChange>,
    /// Due changes waiting for the running rebalance (schedule indices, FIFO).
    deferred: Vec<u32>,
    keys: u64,
    value_size: u32,
    batch_keys: u32,
    in_flight: InFlight,
    hot: Option<HotKeys>,
    transport: Transport,
    /// Keys whose data is moving, sorted, with their batch index.
    moving: Vec<(u64, u32)>,
    batches: Vec<Batch>,
    pending: u32,
    epoch: u32,
    rebalance_start: SimTime,
    transfer_timeout: SimDuration,
    max_retries: u32,
    miss_penalty: SimDuration,
    /// Membership timers fired so far (the schedule is sorted, timers fire in its order).
    changes_fired: u32,
    entries: Vec<Entry>,
    free: Vec<u32>,
    m: RouterMetrics,
}

impl ShardRouter {
    /// Builds the router and registers its metrics (owner `me`).
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &ShardRouterConfig, me: ComponentId, metrics: &mut Recorder) -> ShardRouter {
        if let Err(e) = cfg.validate() {
            panic!("invalid shard router config: {e}");
        }
        let m = RouterMetrics::register(metrics, me);
        let weights: Vec<u32> = cfg.shards.iter().map(|s| s.weight).collect();
        let initial: Vec<u32> = (0..cfg.initial as u32).collect();
        let shards = cfg
            .shards
            .iter()
            .enumerate()
            .map(|(i, s)| ShardState {
                target: s.target,
                to_shard: metrics.counter(Some(me), &format!("to_shard_{i}")),
                keys_owned: metrics.gauge(Some(me), &format!("keys_owned_{i}")),
            })
            .collect();
        ShardRouter {
            part: Partitioner::new(cfg.scheme, &weights, cfg.keys, &initial),
            shards,
            schedule: cfg.schedule(),
            deferred: Vec::new(),
            keys: cfg.keys,
            value_size: cfg.value_size,
            batch_keys: (cfg.batch_bytes / cfg.value_size).max(1),
            in_flight: cfg.in_flight,
            hot: cfg.hot_keys,
            transport: cfg.transport,
            moving: Vec::new(),
            batches: Vec::new(),
            pending: 0,
            epoch: 0,
            rebalance_start: SimTime::ZERO,
            transfer_timeout: cfg.transfer_timeout,
            max_retries: cfg.max_transfer_retries,
            miss_penalty: cfg.miss_penalty,
            changes_fired: 0,
            entries: Vec::with_capacity(64),
            free: Vec::with_capacity(64),
            m,
        }
    }

    /// The placement core.
    pub fn partitioner(&self) -> &Partitioner {
        &self.part
    }

    /// Whether a rebalance is running.
    pub fn rebalancing(&self) -> bool {
        self.pending > 0
    }

    /// Requests inside the router.
    pub fn in_system(&self) -> usize {
        self.entries.len() - self.free.len()
    }

    fn set_owned_gauges(&self, cx: &mut Ctx<'_, Cluster>) {
        let mut counts = vec![0i64; self.shards.len()];
        for k in 0..self.keys {
            if let Some(s) = self.part.owner(k) {
                counts[s as usize] += 1;
            }
        }
        for (st, c) in self.shards.iter().zip(counts) {
            cx.gauge_set(st.keys_owned, c);
        }
        cx.gauge_set(self.m.members, self.part.members().len() as i64);
    }

    fn on_change_due(&mut self, cx: &mut Ctx<'_, Cluster>, index: u32) {
        if self.pending > 0 {
            self.deferred.push(index);
        } else {
            self.apply(cx, index);
        }
    }

    /// Applies a membership change and starts moving its data.
    fn apply(&mut self, cx: &mut Ctx<'_, Cluster>, index: u32) {
        let Some(change) = self.schedule.get(index as usize).copied() else {
            return;
        };
        let shard_of = |c: ComponentId| self.shards.iter().position(|s| s.target == c);
        let old = self.part.clone();
        match change.action {
            Action::Add(c) => {
                if let Some(s) = shard_of(c) {
                    self.part.add(s as u32);
                }
            }
            Action::Remove(c) => {
                if let Some(s) = shard_of(c) {
                    self.part.remove(s as u32);
                }
            }
        }
        cx.count(self.m.membership_changes, 1);
        self.epoch = self.epoch.wrapping_add(1);
        self.moving.clear();
        self.batches.clear();
        // Open batch per (from, to) pair: few pairs (ring: into/out of one shard; mod: n·(n+1)).
        let mut open: Vec<(u32, u32, u32)> = Vec::new();
        for k in 0..self.keys {
            let (Some(a), Some(b)) = (old.owner(k), self.part.owner(k)) else {
                continue;
            };
            if a == b {
                continue;
            }
            let pos = open.iter().position(|&(f, t, _)| f == a && t == b);
            let bi = match pos {
                Some(p) if self.batches[open[p].2 as usize].keys < self.batch_keys => open[p].2,
                _ => {
                    self.batches.push(Batch {
                        from: a,
                        to: b,
                        keys: 0,
                        done: false,
                        retries: 0,
                        acked_at: SimTime::ZERO,
                    });
                    let bi = (self.batches.len() - 1) as u32;
                    match pos {
                        Some(p) => open[p].2 = bi,
                        None => open.push((a, b, bi)),
                    }
                    bi
                }
            };
            self.batches[bi as usize].keys += 1;
            self.moving.push((k, bi));
        }
        self.set_owned_gauges(cx);
        self.pending = self.batches.len() as u32;
        if self.pending == 0 {
            cx.record(self.m.rebalance, 0);
            self.next_deferred(cx);
            return;
        }
        self.rebalance_start = cx.now();
        cx.gauge_set(self.m.rebalancing, 1);
        for i in 0..self.batches.len() {
            cx.count(self.m.transfer_batches, 1);
            self.send_move(cx, i);
        }
    }

    /// Sends (or re-sends) batch `i`'s `Move` to its old owner and arms its timeout.
    fn send_move(&mut self, cx: &mut Ctx<'_, Cluster>, i: usize) {
        let b = self.batches[i];
        let batch = (u64::from(self.epoch) << 32) | i as u64;
        let msg = Msg::Move {
            to: self.shards[b.to as usize].target,
            batch,
            keys: b.keys,
            bytes: b.keys.saturating_mul(self.value_size),
        };
        cx.send_with(
            self.shards[b.from as usize].target,
            msg.into(),
            Transport::Stream,
            CONTROL_BYTES,
        );
        cx.set_timer(self.transfer_timeout, Timer::Transfer { batch }.into());
    }

    /// Batch `batch`'s timer fired: if it is still unacknowledged and its (old owner, new
    /// owner) pair made no progress for `transfer_timeout`, re-send it, or abandon it after
    /// `max_transfer_retries` re-sends.
    fn on_transfer_timeout(&mut self, cx: &mut Ctx<'_, Cluster>, batch: u64) {
        if (batch >> 32) as u32 != self.epoch || self.pending == 0 {
            return;
        }
        let i = (batch & 0xffff_ffff) as usize;
        let Some(b) = self.batches.get(i).copied() else {
            return;
        };
        if b.done {
            return;
        }
        let now = cx.now();
        let last = self
            .batches
            .iter()
            .filter(|o| o.done && o.from == b.from && o.to == b.to)
            .map(|o| o.acked_at)
            .max()
            .unwrap_or(SimTime::ZERO);
        if last > self.rebalance_start && now - last < self.transfer_timeout {
            // The pair's stream is moving: this batch is queued behind its siblings.
            cx.set_timer(
                self.transfer_timeout - (now - last),
                Timer::Transfer { batch }.into(),
            );
            return;
        }
        if b.retries >= self.max_retries {
            self.batch_ended(cx, batch, false);
            return;
        }
        self.batches[i].retries += 1;
        cx.count(self.m.transfer_retries, 1);
        self.send_move(cx, i);
    }

    fn next_deferred(&mut self, cx: &mut Ctx<'_, Cluster>) {
        if !self.deferred.is_empty() {
            let next = self.deferred.remove(0);
            self.apply(cx, next);
        }
    }

    /// Batch `batch` has ended (acknowledged, or its `Move` failed).
    fn batch_ended(&mut self, cx: &mut Ctx<'_, Cluster>, batch: u64, delivered: bool) {
        if (batch >> 32) as u32 != self.epoch {
            return;
        }
        let Some(b) = self.batches.get_mut((batch & 0xffff_ffff) as usize) else {
            return;
        };
        if b.done {
            return;
        }
        b.done = true;
        let keys = b.keys;
        if delivered {
            b.acked_at = cx.now();
            cx.count(self.m.keys_moved, u64::from(keys));
            cx.count(
                self.m.bytes_moved,
                u64::from(keys) * u64::from(self.value_size),
            );
        } else {
            cx.count(self.m.transfer_failures, 1);
            cx.count(self.m.keys_lost, u64::from(keys));
        }
        self.pending -= 1;
        if self.pending == 0 {
            cx.record(
                self.m.rebalance,
                (cx.now() - self.rebalance_start).as_nanos(),
            );
            cx.gauge_set(self.m.rebalancing, 0);
            self.moving.clear();
            self.next_deferred(cx);
        }
    }

    /// The shard for `req`, or `None` to fail it (policy `Fail` during a move); with
    /// `ServeFromNew` during a move, also the moving batch (for the miss check at response).
    fn choose(&mut self, cx: &mut Ctx<'_, Cluster>, req: &Request) -> Option<(u32, u64)> {
        const NONE: u64 = u64::MAX;
        let owner = self.part.owner(req.key)?;
        if self.pending > 0
            && let Ok(i) = self.moving.binary_search_by_key(&req.key, |&(k, _)| k)
        {
            let b = self.batches[self.moving[i].1 as usize];
            if !b.done {
                cx.count(self.m.inflight, 1);
                return match self.in_flight {
                    InFlight::ServeFromOld => Some((b.from, NONE)),
                    InFlight::ServeFromNew => Some((
                        b.to,
                        (u64::from(self.epoch) << 32) | u64::from(self.moving[i].1),
                    )),
                    InFlight::Fail => {
                        cx.count(self.m.rebalance_errors, 1);
                        None
                    }
                };
            }
        }
        if let Some(h) = self.hot
            && req.op == Op::Read
            && req.key < h.top
        {
            let r = h.replicas.min(self.part.members().len() as u32);
            if r > 1 {
                cx.count(self.m.hot_reads, 1);
                let step = clustersim_engine::rng::below(cx.rng(), u64::from(r)) as usize;
                return Some((self.part.successor(owner, step), NONE));
            }
        }
        Some((owner, NONE))
    }

    fn on_request(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, req: Request) {
        cx.count(self.m.arrivals, 1);
        let now = cx.now();
        let during = self.pending > 0;
        let Some((shard, miss_batch)) = self.choose(cx, &req) else {
            let resp = Response {
                id: req.id,
                status: Status::Unavailable,
                size_bytes: 0,
                version: 0,
            };
            cx.count(self.m.errors, 1);
            cx.record(self.m.latency, 0);
            cx.record(self.m.rebalance_latency, 0);
            cx.send_with(from, resp.into(), self.transport, 0);
            return;
        };
        cx.gauge_add(self.m.in_system, 1);
        let entry = Entry {
            generation: 0,
            live: true,
            during_rebalance: during,
            shard,
            miss_batch,
            fallback: u32::MAX,
            from,
            req,
            arrival: now,
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
        let id = make_id(slot, self.entries[slot as usize].generation);
        if miss_batch != u64::MAX {
            self.entries[slot as usize].fallback =
                self.batches[(miss_batch & 0xffff_ffff) as usize].from;
        }
        self.forward(cx, slot as usize, id);
    }

    /// Sends entry `slot`'s request (router id `id`) to its current shard.
    fn forward(&mut self, cx: &mut Ctx<'_, Cluster>, slot: usize, id: u64) {
        let e = self.entries[slot];
        let req = e.req;
        let st = &self.shards[e.shard as usize];
        cx.count(st.to_shard, 1);
        cx.send_with(
            st.target,
            Request { id, ..req }.into(),
            self.transport,
            req.size_bytes,
        );
    }

    /// Whether entry `slot`, answered by a new owner under `ServeFromNew`, was a miss: its
    /// key's batch is still unacknowledged (and the rebalance that moves it still running).
    fn missed(&self, slot: usize) -> bool {
        let e = &self.entries[slot];
        e.fallback != u32::MAX
            && self.pending > 0
            && (e.miss_batch >> 32) as u32 == self.epoch
            && self
                .batches
                .get((e.miss_batch & 0xffff_ffff) as usize)
                .is_some_and(|b| !b.done)
    }

    fn live_slot(&self, id: u64) -> Option<usize> {
        let (slot, generation) = ((id & 0xffff_ffff) as usize, (id >> 32) as u32);
        let e = self.entries.get(slot)?;
        (e.live && e.generation == generation).then_some(slot)
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
        e.live = false;
        let e = *e;
        self.free.push(slot as u32);
        let lat = (cx.now() - e.arrival).as_nanos();
        cx.record(self.m.latency, lat);
        if e.during_rebalance {
            cx.record(self.m.rebalance_latency, lat);
        }
        cx.count(
            if status.is_ok() {
                self.m.completed
            } else {
                self.m.errors
            },
            1,
        );
        cx.gauge_add(self.m.in_system, -1);
        let resp = Response {
            id: e.req.id,
            status,
            size_bytes: size,
            version,
        };
        cx.send_with(e.from, resp.into(), self.transport, size);
    }

    fn start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        cx.gauge_set(self.m.in_system, 0);
        cx.gauge_set(self.m.rebalancing, i64::from(self.pending > 0));
        self.set_owned_gauges(cx);
    }
}

impl Component<Cluster> for ShardRouter {
    fn on_start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.start(cx);
        for (i, c) in self.schedule.iter().enumerate() {
            cx.set_timer(c.at, Timer::Change { index: i as u32 }.into());
        }
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: crate::Msg) {
        match msg {
            crate::Msg::Request(req) => self.on_request(cx, from, req),
            crate::Msg::Response(r) => {
                if let Some(slot) = self.live_slot(r.id)
                    && self.shards[self.entries[slot].shard as usize].target == from
                {
                    if self.missed(slot) {
                        // The new owner answered before the key arrived: a miss.
                        cx.count(self.m.inflight_misses, 1);
                        let e = &mut self.entries[slot];
                        e.shard = e.fallback;
                        e.fallback = u32::MAX;
                        if self.miss_penalty == SimDuration::ZERO {
                            self.forward(cx, slot, r.id);
                        } else {
                            cx.set_timer(self.miss_penalty, Timer::Fallback { id: r.id }.into());
                        }
                    } else {
                        self.respond(cx, slot, r.status, r.size_bytes, r.version);
                    }
                }
            }
            crate::Msg::Probe { seq } => {
                cx.send_with(from, crate::Msg::ProbeReply { seq }, self.transport, 0)
            }
            crate::Msg::Shard(Msg::Ack { batch, .. }) => self.batch_ended(cx, batch, true),
            crate::Msg::Comm(m) => {
                if let Some(r) = crate::comm::handshake_reply(&m) {
                    cx.send_with(from, r.into(), self.transport, 0);
                }
            }
            // Probe replies, other shard messages, other plugins' traffic: not for a router.
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, timer: crate::Timer) {
        match timer {
            crate::Timer::Shard(Timer::Change { index }) => {
                self.changes_fired = self.changes_fired.max(index + 1);
                self.on_change_due(cx, index);
            }
            crate::Timer::Shard(Timer::Transfer { batch }) => self.on_transfer_timeout(cx, batch),
            crate::Timer::Shard(Timer::Fallback { id }) => {
                if let Some(slot) = self.live_slot(id) {
                    self.forward(cx, slot, id);
                }
            }
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
        // A failed `Move` (old owner down) needs nothing: the batch's timer re-sends it, or
        // abandons it.
        if let crate::Msg::Request(req) = msg
            && let Some(slot) = self.live_slot(req.id)
        {
            self.respond(cx, slot, Status::Error, 0, 0);
        }
    }

    fn on_crash(&mut self) {
        self.free.clear();
        for (i, e) in self.entries.iter_mut().enumerate().rev() {
            e.live = false;
            self.free.push(i as u32);
        }
    }

    /// Timers died with the node: changes that fell due while it was down are applied now
    /// (in order), later ones re-armed, and every unacknowledged batch of a running rebalance
    /// gets a fresh timeout (acknowledgements sent while the router was down are lost, so
    /// those batches are re-sent unless their pair makes progress).
    fn on_restart(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.start(cx);
        let now = cx.now();
        let epoch = u64::from(self.epoch) << 32;
        for (i, b) in self.batches.iter().enumerate() {
            if self.pending > 0 && !b.done {
                cx.set_timer(
                    self.transfer_timeout,
                    Timer::Transfer {
                        batch: epoch | i as u64,
                    }
                    .into(),
                );
            }
        }
        for i in self.changes_fired as usize..self.schedule.len() {
            let at = SimTime::ZERO + self.schedule[i].at;
            if at <= now {
                self.changes_fired = i as u32 + 1;
                self.on_change_due(cx, i as u32);
            } else {
                cx.set_timer(at - now, Timer::Change { index: i as u32 }.into());
            }
        }
    }
}

#[cfg(test)]
mod tests;
