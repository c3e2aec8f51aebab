//! The storage node: a FIFO queue over `servers` workers serving client reads and writes and
//! replicated applies, plus its replication role (see the module docs of [`super`]).

use std::collections::{BTreeMap, VecDeque};

use clustersim_engine::{Component, ComponentId, Ctx, DropCause, Recorder, SeriesId, SimTime};

use super::config::{Ack, ReplicaConfig, ReplicaMode, vv};
use super::{Msg, NO_ID, Timer};
use crate::Cluster;

/// One stored value: its version and the low 8 bits identify the writing origin for stamps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Value {
    version: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JobKind {
    Read,
    Write,
    /// A replicated write from the primary (`aux` = send time in µs, mod 2³²).
    Apply,
    /// A replicated write from another leader (`aux` = low 32 bits of the version it replaced).
    Merge,
    /// Outgoing: a `Replicate` (or `Merge` when `id` is 1) to `from` waiting out the
    /// replication delay on this (sending) node; lost if the node crashes first.
    Ship,
}

#[derive(Clone, Copy, Debug)]
struct Job {
    kind: JobKind,
    from: ComponentId,
    id: u32,
    aux: u32,
    key: u64,
    version: u64,
    arrival: SimTime,
}

#[derive(Clone, Debug)]
struct ReplicaMetrics {
    arrivals: SeriesId,
    completed: SeriesId,
    rejected: SeriesId,
    refused: SeriesId,
    latency: SeriesId,
    wait: SeriesId,
    in_system: SeriesId,
    queue_len: SeriesId,
    busy: SeriesId,
    servers: SeriesId,
    applied: SeriesId,
    lag: SeriesId,
    conflicts: SeriesId,
    lww_discarded: SeriesId,
    keys: SeriesId,
}

/// A follower as the primary sees it.
#[derive(Clone, Copy, Debug)]
struct Follower {
    id: ComponentId,
    /// Highest version it acknowledged.
    acked: u64,
    /// Streaming to it (false after a send failure until a catch-up).
    in_sync: bool,
}

/// A write waiting for follower acks before the primary acknowledges it.
#[derive(Clone, Copy, Debug)]
struct PendingAck {
    front: ComponentId,
    id: u32,
    needed: u8,
}

/// A storage replica (see the module docs of [`super`]).
#[derive(Debug)]
pub struct StoreReplica {
    cfg: ReplicaConfig,
    data: BTreeMap<u64, Value>,
    /// Highest version applied.
    applied: u64,
    /// Highest version received for applying (queued or applied): with in-order shipping,
    /// every older write of the primary has been received too, so this is the replication
    /// position reported for promotion and RPO.
    received: u64,
    /// Per peer (index in `cfg.peers`): when the last replicated write leaves, so shipping
    /// keeps the primary's order (a replication log is a stream).
    ship_after: Vec<SimTime>,
    /// Last version this node assigned as primary (versions stay strictly increasing).
    last_assigned: u64,
    primary: bool,
    /// The primary this follower accepts replication from.
    leader: Option<ComponentId>,
    term: u32,
    followers: Vec<Follower>,
    pending: BTreeMap<u64, PendingAck>,
    jobs: Vec<Job>,
    free: Vec<u32>,
    queue: VecDeque<u32>,
    busy: u32,
    ping_seq: u32,
    m: ReplicaMetrics,
}

impl StoreReplica {
    /// Builds the replica and registers its metrics (owner `me`).
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &ReplicaConfig, me: ComponentId, rec: &mut Recorder) -> StoreReplica {
        if let Err(e) = cfg.validate() {
            panic!("invalid store replica config: {e}");
        }
        let o = Some(me);
        let m = ReplicaMetrics {
            arrivals: rec.counter(o, "arrivals"),
            completed: rec.counter(o, "completed"),
            rejected: rec.counter(o, "rejected"),
            refused: rec.counter(o, "refused_not_primary"),
            latency: rec.histogram(o, "latency_ns"),
            wait: rec.histogram(o, "wait_ns"),
            in_system: rec.gauge(o, "in_system"),
            queue_len: rec.gauge(o, "queue_len"),
            busy: rec.gauge(o, "busy"),
            servers: rec.gauge_persistent(o, "servers"),
            applied: rec.counter(o, "replicated_applied"),
            lag: rec.histogram(o, "replication_lag_ns"),
            conflicts: rec.counter(o, "conflicts"),
            lww_discarded: rec.counter(o, "lww_discarded"),
            keys: rec.gauge_persistent(o, "keys"),
        };
        let primary = matches!(cfg.mode, ReplicaMode::PrimaryBackup { primary: true, .. });
        let followers = if primary {
            cfg.peers
                .iter()
                .map(|&id| Follower {
                    id,
                    acked: 0,
                    in_sync: true,
                })
                .collect()
        } else {
            Vec::new()
        };
        StoreReplica {
            cfg: cfg.clone(),
            data: BTreeMap::new(),
            applied: 0,
            received: 0,
            ship_after: vec![SimTime::ZERO; cfg.peers.len()],
            last_assigned: 0,
            primary,
            leader: None,
            term: 0,
            followers,
            pending: BTreeMap::new(),
            jobs: Vec::with_capacity(64),
            free: Vec::with_capacity(64),
            queue: VecDeque::with_capacity(64),
            busy: 0,
            ping_seq: 0,
            m,
        }
    }

    /// Highest version applied.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Whether this replica currently acts as primary.
    pub fn is_primary(&self) -> bool {
        self.primary
    }

    fn pb_ack(&self) -> Option<Ack> {
        match self.cfg.mode {
            ReplicaMode::PrimaryBackup { ack, .. } => Some(ack),
            _ => None,
        }
    }

    fn version_vectors(&self) -> bool {
        matches!(
            self.cfg.mode,
            ReplicaMode::Leader {
                version_vectors: true,
                ..
            }
        )
    }

    fn in_queue(&self) -> usize {
        self.queue.len() + self.busy as usize
    }

    fn admit(&mut self, cx: &mut Ctx<'_, Cluster>, job: Job) {
        if self.in_queue() >= self.cfg.queue_limit as usize {
            if matches!(job.kind, JobKind::Read | JobKind::Write) {
                cx.count(self.m.rejected, 1);
                let msg = Msg::Refused {
                    id: job.id,
                    primary: u32::MAX,
                };
                cx.send_with(job.from, msg.into(), self.cfg.transport, 16);
            }
            return;
        }
        let slot = match self.free.pop() {
            Some(s) => {
                self.jobs[s as usize] = job;
                s
            }
            None => {
                self.jobs.push(job);
                (self.jobs.len() - 1) as u32
            }
        };
        cx.gauge_add(self.m.in_system, 1);
        self.queue.push_back(slot);
        self.dispatch(cx);
    }

    fn dispatch(&mut self, cx: &mut Ctx<'_, Cluster>) {
        while self.busy < self.cfg.servers {
            let Some(slot) = self.queue.pop_front() else {
                break;
            };
            self.busy += 1;
            let job = self.jobs[slot as usize];
            let dist = match job.kind {
                JobKind::Read => &self.cfg.read_time,
                JobKind::Write => &self.cfg.write_time,
                JobKind::Apply | JobKind::Merge | JobKind::Ship => &self.cfg.apply_time,
            };
            let raw = dist.sample_duration(cx.rng());
            let work = cx.scaled(raw);
            cx.record(self.m.wait, (cx.now() - job.arrival).as_nanos());
            cx.set_timer(work, Timer::Done { slot }.into());
        }
        cx.gauge_set(self.m.busy, i64::from(self.busy));
        cx.gauge_set(self.m.queue_len, self.queue.len() as i64);
    }

    fn on_done(&mut self, cx: &mut Ctx<'_, Cluster>, slot: u32) {
        let job = self.jobs[slot as usize];
        self.free.push(slot);
        self.busy -= 1;
        cx.gauge_add(self.m.in_system, -1);
        match job.kind {
            JobKind::Read => {
                let version = self.data.get(&job.key).map_or(0, |v| v.version);
                self.reply(
                    cx,
                    &job,
                    Msg::ReadOk {
                        id: job.id,
                        version,
                    },
                );
            }
            JobKind::Write => self.finish_write(cx, &job),
            JobKind::Apply => {
                self.store(cx, job.key, job.version);
                let now_us = (cx.now().as_nanos() / 1_000) as u32;
                let lag_us = u64::from(now_us.wrapping_sub(job.aux));
                cx.record(self.m.lag, lag_us * 1_000);
                cx.count(self.m.applied, 1);
                let ack = Msg::ReplAck {
                    version: job.version,
                };
                cx.send_with(job.from, ack.into(), self.cfg.transport, 16);
            }
            JobKind::Merge if self.version_vectors() => {
                let current = self.data.get(&job.key).map_or(0, |v| v.version);
                if vv::dominates(current, job.version) {
                    cx.count(self.m.lww_discarded, 1); // Already seen.
                } else {
                    if !vv::dominates(job.version, current) {
                        // Concurrent: keep both as siblings under the merged vector.
                        cx.count(self.m.conflicts, 1);
                    }
                    let version = vv::merge(current, job.version);
                    self.data.insert(job.key, Value { version });
                    cx.gauge_set(self.m.keys, self.data.len() as i64);
                }
                cx.count(self.m.applied, 1);
            }
            JobKind::Merge => {
                let current = self.data.get(&job.key).map_or(0, |v| v.version);
                if current != 0 && current as u32 != job.aux && current != job.version {
                    cx.count(self.m.conflicts, 1);
                }
                if job.version <= current {
                    cx.count(self.m.lww_discarded, 1);
                } else {
                    self.store(cx, job.key, job.version);
                }
                // Apparent lag on this node's clock: includes the clock skew between leaders.
                let stamp = job.version & !0xff;
                let local = cx.local_time().as_nanos();
                cx.record(self.m.lag, local.saturating_sub(stamp).max(1));
                cx.count(self.m.applied, 1);
            }
            JobKind::Ship => {}
        }
        self.dispatch(cx);
    }

    /// Stores `version` for `key` if it is newer (versions order values in every mode).
    fn store(&mut self, cx: &mut Ctx<'_, Cluster>, key: u64, version: u64) -> bool {
        let slot = self.data.entry(key).or_default();
        if version <= slot.version {
            return false;
        }
        slot.version = version;
        self.applied = self.applied.max(version);
        cx.gauge_set(self.m.keys, self.data.len() as i64);
        true
    }

    fn reply(&mut self, cx: &mut Ctx<'_, Cluster>, job: &Job, msg: Msg) {
        cx.count(self.m.completed, 1);
        cx.record(self.m.latency, (cx.now() - job.arrival).as_nanos().max(1));
        if job.id != NO_ID {
            cx.send_with(job.from, msg.into(), self.cfg.transport, 24);
        }
    }

    fn finish_write(&mut self, cx: &mut Ctx<'_, Cluster>, job: &Job) {
        match self.cfg.mode {
            ReplicaMode::Plain => {
                let version = if job.version == 0 {
                    self.assign(cx)
                } else {
                    job.version
                };
                self.store(cx, job.key, version);
                self.reply(
                    cx,
                    job,
                    Msg::WriteOk {
                        id: job.id,
                        version,
                    },
                );
            }
            ReplicaMode::Leader {
                site,
                version_vectors: true,
            } => {
                // The write has seen every sibling held here: it replaces them all.
                let current = self.data.get(&job.key).map_or(0, |v| v.version);
                let version = vv::bump(current, usize::from(site));
                self.data.insert(job.key, Value { version });
                cx.gauge_set(self.m.keys, self.data.len() as i64);
                for i in 0..self.cfg.peers.len() {
                    let msg = Msg::Merge {
                        base_lo: 0,
                        key: job.key,
                        version,
                    };
                    self.ship(cx, i, msg);
                }
                self.reply(
                    cx,
                    job,
                    Msg::WriteOk {
                        id: job.id,
                        version,
                    },
                );
            }
            ReplicaMode::Leader { site, .. } => {
                let stamp = (cx.local_time().as_nanos() & !0xff) | u64::from(site);
                let base = self.data.get(&job.key).map_or(0, |v| v.version);
                if !self.store(cx, job.key, stamp) {
                    // Last-writer-wins on local clocks: an older stamp loses at once.
                    cx.count(self.m.lww_discarded, 1);
                }
                for i in 0..self.cfg.peers.len() {
                    let msg = Msg::Merge {
                        base_lo: base as u32,
                        key: job.key,
                        version: stamp,
                    };
                    self.ship(cx, i, msg);
                }
                self.reply(
                    cx,
                    job,
                    Msg::WriteOk {
                        id: job.id,
                        version: stamp,
                    },
                );
            }
            ReplicaMode::PrimaryBackup { ack, .. } => {
                if !self.primary {
                    // Demoted while the write was queued.
                    let hint = self.leader.map_or(u32::MAX, |l| l.0);
                    self.reply(
                        cx,
                        job,
                        Msg::Refused {
                            id: job.id,
                            primary: hint,
                        },
                    );
                    return;
                }
                let version = self.assign(cx);
                self.store(cx, job.key, version);
                let now_us = (cx.now().as_nanos() / 1_000) as u32;
                let mut in_sync = 0u8;
                for i in 0..self.followers.len() {
                    let f = self.followers[i];
                    if f.in_sync {
                        in_sync += 1;
                        let msg = Msg::Replicate {
                            sent_us: now_us,
                            key: job.key,
                            version,
                        };
                        self.ship(cx, i, msg);
                    }
                }
                let needed = match ack {
                    Ack::Async => 0,
                    Ack::SemiSync { k } => k.min(in_sync),
                    Ack::Sync => in_sync,
                };
                if needed == 0 {
                    self.reply(
                        cx,
                        job,
                        Msg::WriteOk {
                            id: job.id,
                            version,
                        },
                    );
                } else {
                    cx.count(self.m.completed, 1);
                    cx.record(self.m.latency, (cx.now() - job.arrival).as_nanos().max(1));
                    self.pending.insert(
                        version,
                        PendingAck {
                            front: job.from,
                            id: job.id,
                            needed,
                        },
                    );
                }
            }
        }
    }

    /// A new version: the true write time in ns, strictly increasing on this node (a
    /// (term, sequence) pair in a real system; time makes versions comparable across
    /// failovers and doubles as the write time for staleness).
    fn assign(&mut self, cx: &mut Ctx<'_, Cluster>) -> u64 {
        let v = cx
            .now()
            .as_nanos()
            .max(self.last_assigned + 1)
            .max(self.applied + 1);
        self.last_assigned = v;
        v
    }

    fn on_repl_ack(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, version: u64) {
        if let Some(f) = self.followers.iter_mut().find(|f| f.id == from) {
            f.acked = f.acked.max(version);
        }
        if let Some(p) = self.pending.get_mut(&version) {
            p.needed -= 1;
            if p.needed == 0 {
                let p = *p;
                self.pending.remove(&version);
                let msg = Msg::WriteOk { id: p.id, version };
                cx.send_with(p.front, msg.into(), self.cfg.transport, 24);
            }
        }
    }

    /// Catch-up: every key newer than what the follower acknowledged, oldest first.
    fn resync(&mut self, cx: &mut Ctx<'_, Cluster>, follower: ComponentId, from_version: u64) {
        let mut newer: Vec<(u64, u64)> = self
            .data
            .iter()
            .filter(|(_, v)| v.version > from_version)
            .map(|(k, v)| (v.version, *k))
            .collect();
        newer.sort_unstable();
        let now_us = (cx.now().as_nanos() / 1_000) as u32;
        for (version, key) in newer {
            let msg = Msg::Replicate {
                sent_us: now_us,
                key,
                version,
            };
            cx.send_with(follower, msg.into(), self.cfg.transport, 24);
        }
        if let Some(f) = self.followers.iter_mut().find(|f| f.id == follower) {
            f.in_sync = true;
            f.acked = f.acked.max(from_version);
        }
    }

    fn on_resync_tick(&mut self, cx: &mut Ctx<'_, Cluster>) {
        if self.primary {
            self.ping_seq = self.ping_seq.wrapping_add(1);
            for i in 0..self.followers.len() {
                if !self.followers[i].in_sync {
                    let msg = Msg::Heartbeat { seq: self.ping_seq };
                    cx.send_with(
                        self.followers[i].id,
                        msg.into(),
                        clustersim_engine::Transport::Datagram,
                        16,
                    );
                }
            }
        }
        cx.set_timer(self.cfg.resync_interval, Timer::ResyncTick.into());
    }

    fn become_primary(&mut self, term: u32) {
        self.primary = true;
        self.leader = None;
        self.term = term;
        // Followers start out of sync and are caught up by the resync tick.
        self.followers = self
            .cfg
            .peers
            .iter()
            .map(|&id| Follower {
                id,
                acked: 0,
                in_sync: false,
            })
            .collect();
    }

    fn on_store_msg(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: Msg) {
        let now = cx.now();
        match msg {
            Msg::Read { id, key } => {
                cx.count(self.m.arrivals, 1);
                let job = Job {
                    kind: JobKind::Read,
                    from,
                    id,
                    aux: 0,
                    key,
                    version: 0,
                    arrival: now,
                };
                self.admit(cx, job);
            }
            Msg::Write { id, key, version } => {
                cx.count(self.m.arrivals, 1);
                if version == 0 && self.pb_ack().is_some() && !self.primary {
                    cx.count(self.m.refused, 1);
                    let hint = self.leader.map_or(u32::MAX, |l| l.0);
                    let msg = Msg::Refused { id, primary: hint };
                    cx.send_with(from, msg.into(), self.cfg.transport, 16);
                    return;
                }
                let job = Job {
                    kind: JobKind::Write,
                    from,
                    id,
                    aux: 0,
                    key,
                    version,
                    arrival: now,
                };
                self.admit(cx, job);
            }
            Msg::Replicate {
                sent_us,
                key,
                version,
            } => {
                if self.primary || self.leader.is_some_and(|l| l != from) {
                    return; // Not from the primary this replica follows (a deposed one).
                }
                self.leader = Some(from);
                self.received = self.received.max(version);
                let job = Job {
                    kind: JobKind::Apply,
                    from,
                    id: NO_ID,
                    aux: sent_us,
                    key,
                    version,
                    arrival: now,
                };
                self.admit(cx, job);
            }
            Msg::Merge {
                base_lo,
                key,
                version,
            } => {
                let job = Job {
                    kind: JobKind::Merge,
                    from,
                    id: NO_ID,
                    aux: base_lo,
                    key,
                    version,
                    arrival: now,
                };
                self.admit(cx, job);
            }
            Msg::ReplAck { version } => self.on_repl_ack(cx, from, version),
            Msg::Heartbeat { seq } => {
                let ack = Msg::HeartbeatAck {
                    seq,
                    term: self.term,
                    applied: self.received.max(self.applied),
                    primary: self.primary,
                };
                cx.send_with(from, ack.into(), clustersim_engine::Transport::Datagram, 24);
            }
            Msg::HeartbeatAck { applied, .. } => {
                // A follower answering the primary's ping: catch it up.
                if self.primary && self.followers.iter().any(|f| f.id == from && !f.in_sync) {
                    let acked = self
                        .followers
                        .iter()
                        .find(|f| f.id == from)
                        .map_or(0, |f| f.acked);
                    self.resync(cx, from, acked.min(applied));
                }
            }
            Msg::Promote { term } => {
                if term > self.term {
                    self.become_primary(term);
                }
                let msg = Msg::Promoted {
                    term: self.term,
                    applied: self.received.max(self.applied),
                };
                cx.send_with(from, msg.into(), self.cfg.transport, 16);
            }
            Msg::Follow { term, primary } => {
                if term >= self.term {
                    self.term = term;
                    self.primary = false;
                    self.followers.clear();
                    self.leader = Some(ComponentId(primary));
                    // Writes waiting for acks will never be acknowledged by this node.
                    self.pending.clear();
                }
            }
            Msg::ReadOk { .. }
            | Msg::WriteOk { .. }
            | Msg::Refused { .. }
            | Msg::Promoted { .. }
            | Msg::Observed { .. } => {}
        }
    }

    /// Sends a replicated write to `to` after this node's `replication_delay` (log shipping,
    /// batching): until then it exists only here, so a crash loses it.
    fn ship(&mut self, cx: &mut Ctx<'_, Cluster>, peer: usize, msg: Msg) {
        let to = self.cfg.peers[peer];
        let now = cx.now();
        let at =
            (now + self.cfg.replication_delay.sample_duration(cx.rng())).max(self.ship_after[peer]);
        self.ship_after[peer] = at;
        let d = at - now;
        if d.is_zero() {
            cx.send_with(to, msg.into(), self.cfg.transport, 24);
            return;
        }
        let (merge, aux, key, version) = match msg {
            Msg::Replicate {
                sent_us,
                key,
                version,
            } => (0, sent_us, key, version),
            Msg::Merge {
                base_lo,
                key,
                version,
            } => (1, base_lo, key, version),
            _ => return,
        };
        let job = Job {
            kind: JobKind::Ship,
            from: to,
            id: merge,
            aux,
            key,
            version,
            arrival: cx.now(),
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.jobs[s as usize] = job;
                s
            }
            None => {
                self.jobs.push(job);
                (self.jobs.len() - 1) as u32
            }
        };
        cx.set_timer(d, Timer::Arrive { slot }.into());
    }

    fn on_ship(&mut self, cx: &mut Ctx<'_, Cluster>, slot: u32) {
        let job = self.jobs[slot as usize];
        self.free.push(slot);
        if job.kind != JobKind::Ship {
            return;
        }
        let msg = if job.id == 1 {
            Msg::Merge {
                base_lo: job.aux,
                key: job.key,
                version: job.version,
            }
        } else {
            Msg::Replicate {
                sent_us: job.aux,
                key: job.key,
                version: job.version,
            }
        };
        cx.send_with(job.from, msg.into(), self.cfg.transport, 24);
    }
}

impl Component<Cluster> for StoreReplica {
    fn on_start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        cx.gauge_set(self.m.servers, i64::from(self.cfg.servers));
        if self.pb_ack().is_some() {
            cx.set_timer(self.cfg.resync_interval, Timer::ResyncTick.into());
        }
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: crate::Msg) {
        match msg {
            crate::Msg::Store(m) => self.on_store_msg(cx, from, m),
            crate::Msg::Probe { seq } => {
                cx.send_with(from, crate::Msg::ProbeReply { seq }, self.cfg.transport, 0)
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, timer: crate::Timer) {
        let crate::Timer::Store(t) = timer else {
            return;
        };
        match t {
            Timer::Done { slot } => self.on_done(cx, slot),
            Timer::Arrive { slot } => self.on_ship(cx, slot),
            Timer::ResyncTick => self.on_resync_tick(cx),
            Timer::Heartbeat | Timer::OpTimeout { .. } | Timer::Redirect => {}
        }
    }

    fn on_send_failed(
        &mut self,
        _cx: &mut Ctx<'_, Cluster>,
        to: ComponentId,
        msg: crate::Msg,
        _cause: DropCause,
    ) {
        if let crate::Msg::Store(Msg::Replicate { .. }) = msg
            && let Some(f) = self.followers.iter_mut().find(|f| f.id == to)
        {
            f.in_sync = false;
        }
    }

    fn on_crash(&mut self) {
        // Data is durable; queued work, in-flight acks and timers are volatile.
        self.queue.clear();
        self.jobs.clear();
        self.free.clear();
        self.busy = 0;
        self.pending.clear();
        for f in &mut self.followers {
            f.in_sync = false;
        }
    }

    fn on_restart(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.on_start(cx);
    }
}
