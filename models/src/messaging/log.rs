//! The Kafka-style [`LogBroker`] (partitioned logs, group coordinator) and its pull
//! [`LogConsumer`].

use std::collections::{BTreeMap, VecDeque};

use clustersim_engine::{
    Component, ComponentId, Ctx, DropCause, Recorder, SeriesId, SimDuration, SimTime,
};

use super::config::{LogBrokerConfig, LogConsumerConfig};
use super::replica::{CONFIRMED_EARLY, Peers, Repl, replicas_of};
use super::routing::{assign_range, key_partition};
use super::work::{Job, Workers};
use super::{Msg as MMsg, Timer as MTimer};
use crate::msg::{Response, Status};
use crate::{Cluster, Msg, Timer};

/// A stored record.
#[derive(Clone, Copy, Debug)]
pub(super) struct LRec {
    pub(super) key: u32,
    pub(super) born: SimTime,
    pub(super) flags: u8,
}

pub(super) struct Partition {
    pub(super) log: VecDeque<LRec>,
    /// Offset of `log[0]`.
    pub(super) base: u64,
    /// Log end offset (next offset to assign).
    pub(super) end: u64,
    retention: usize,
}

struct Member {
    id: ComponentId,
    last_seen: SimTime,
}

struct Group {
    topic: u16,
    members: Vec<Member>,
    generation: u32,
    /// Generation of the assignment in `owner`.
    assigned_generation: u32,
    owner: Vec<Option<ComponentId>>,
    committed: Vec<u64>,
    fetched: Vec<u64>,
    rebalancing_since: Option<SimTime>,
    lag: Vec<SeriesId>,
}

pub(super) struct BrokerSeries {
    arrivals: SeriesId,
    completed: SeriesId,
    rebalances: SeriesId,
    commit_rejected: SeriesId,
    lost: SeriesId,
    redelivered: SeriesId,
    lag: SeriesId,
    rebalance: SeriesId,
    pub(super) not_leader: SeriesId,
    pub(super) failovers: SeriesId,
    pub(super) lost_unreplicated: SeriesId,
}

/// A Kafka-style broker. See [`crate::messaging`].
pub struct LogBroker {
    pub(super) cfg: LogBrokerConfig,
    pub(super) s: BrokerSeries,
    /// Global index of partition 0 of each topic.
    first: Vec<usize>,
    pub(super) parts: Vec<Partition>,
    groups: Vec<Group>,
    /// Replication state per partition (empty for a standalone broker).
    pub(super) repl: Vec<Repl>,
    pub(super) peers: Peers,
}

impl LogBroker {
    /// Builds the broker, registering one lag series per (group, partition).
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &LogBrokerConfig, me: ComponentId, m: &mut Recorder) -> LogBroker {
        if let Err(e) = cfg.validate() {
            panic!("invalid log broker config: {e}");
        }
        let o = Some(me);
        let s = BrokerSeries {
            arrivals: m.counter(o, "arrivals"),
            completed: m.counter(o, "completed"),
            rebalances: m.counter(o, "rebalances"),
            commit_rejected: m.counter(o, "commit_rejected"),
            lost: m.counter(o, "lost"),
            redelivered: m.counter(o, "redelivered"),
            lag: m.gauge(o, "lag"),
            rebalance: m.histogram(o, "rebalance_ns"),
            not_leader: m.counter(o, "not_leader"),
            failovers: m.counter(o, "failovers"),
            lost_unreplicated: m.counter(o, "lost_unreplicated"),
        };
        let mut first = Vec::with_capacity(cfg.topics.len());
        let mut parts = Vec::new();
        for t in &cfg.topics {
            first.push(parts.len());
            for _ in 0..t.partitions {
                parts.push(Partition {
                    log: VecDeque::new(),
                    base: 0,
                    end: 0,
                    retention: t.retention as usize,
                });
            }
        }
        let groups = cfg
            .groups
            .iter()
            .enumerate()
            .map(|(g, gc)| {
                let n = usize::from(cfg.topics[usize::from(gc.topic)].partitions);
                Group {
                    topic: gc.topic,
                    members: Vec::new(),
                    generation: 0,
                    assigned_generation: 0,
                    owner: vec![None; n],
                    committed: vec![0; n],
                    fetched: vec![0; n],
                    rebalancing_since: None,
                    lag: (0..n)
                        .map(|p| m.gauge(o, &format!("lag@group={g}/partition={p}")))
                        .collect(),
                }
            })
            .collect();
        let n = cfg.cluster.len();
        let repl = if cfg.clustered() {
            (0..parts.len())
                .map(|g| {
                    let replicas = replicas_of(g, n, cfg.replication);
                    Repl {
                        leader: Some(replicas[0]),
                        acked: vec![0; replicas.len()],
                        replicas,
                        base: 0,
                        hw: 0,
                        pending: VecDeque::new(),
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        let peers = Peers {
            me: cfg.index,
            last_seen: vec![SimTime::ZERO; n],
            claims: vec![0; n],
            quiet_until: SimTime::ZERO,
        };
        LogBroker {
            cfg: cfg.clone(),
            s,
            first,
            parts,
            groups,
            repl,
            peers,
        }
    }

    /// Appends `rec` to partition `g` (global index), applying retention.
    pub(super) fn push_record(&mut self, g: usize, rec: LRec) {
        let part = &mut self.parts[g];
        part.log.push_back(rec);
        part.end += 1;
        if part.log.len() > part.retention {
            part.log.pop_front();
            part.base += 1;
        }
    }

    fn append(&mut self, cx: &mut Ctx<'_, Cluster>, topic: u16, p: u16, rec: LRec) -> u64 {
        let gi = self.first[usize::from(topic)] + usize::from(p);
        let offset = self.parts[gi].end;
        self.push_record(gi, rec);
        cx.count(self.s.arrivals, 1);
        for g in &self.groups {
            if g.topic == topic {
                cx.gauge_add(g.lag[usize::from(p)], 1);
                cx.gauge_add(self.s.lag, 1);
            }
        }
        offset
    }

    fn start_rebalance(&mut self, cx: &mut Ctx<'_, Cluster>, g: u16) {
        let grp = &mut self.groups[usize::from(g)];
        grp.generation = grp.generation.wrapping_add(1);
        if grp.rebalancing_since.is_none() {
            grp.rebalancing_since = Some(cx.now());
            cx.count(self.s.rebalances, 1);
        }
        let generation = grp.generation;
        for m in &grp.members {
            let revoke = MMsg::Assignment {
                group: g,
                generation,
                partitions: 0,
            };
            cx.send_with(m.id, Msg::Messaging(revoke), self.cfg.transport, 0);
        }
        cx.set_timer(
            self.cfg.rebalance_pause,
            Timer::Messaging(MTimer::Rebalance {
                group: g,
                generation,
            }),
        );
    }

    fn finish_rebalance(&mut self, cx: &mut Ctx<'_, Cluster>, g: u16, generation: u32) {
        let parts = self.cfg.topics[usize::from(self.groups[usize::from(g)].topic)].partitions;
        let grp = &mut self.groups[usize::from(g)];
        if grp.generation != generation {
            return; // Superseded by a later membership change.
        }
        let ids: Vec<ComponentId> = grp.members.iter().map(|m| m.id).collect();
        let masks = assign_range(parts, &ids);
        grp.owner.iter_mut().for_each(|o| *o = None);
        for (id, &mask) in ids.iter().zip(&masks) {
            for p in 0..usize::from(parts) {
                if mask & (1u64 << p) != 0 {
                    debug_assert!(grp.owner[p].is_none(), "partition {p} assigned twice");
                    grp.owner[p] = Some(*id);
                }
            }
            let a = MMsg::Assignment {
                group: g,
                generation,
                partitions: mask,
            };
            cx.send_with(*id, Msg::Messaging(a), self.cfg.transport, 0);
        }
        grp.assigned_generation = generation;
        if let Some(since) = grp.rebalancing_since.take() {
            cx.record(
                self.s.rebalance,
                cx.now().saturating_since(since).as_nanos(),
            );
        }
    }

    fn seen(&mut self, cx: &mut Ctx<'_, Cluster>, g: u16, from: ComponentId) {
        let now = cx.now();
        let Some(grp) = self.groups.get_mut(usize::from(g)) else {
            return;
        };
        match grp.members.iter_mut().find(|m| m.id == from) {
            Some(m) => m.last_seen = now,
            // A member the coordinator forgot (declared dead, or the broker restarted):
            // it joins again.
            None => self.join(cx, g, from),
        }
    }

    fn join(&mut self, cx: &mut Ctx<'_, Cluster>, g: u16, from: ComponentId) {
        let now = cx.now();
        let Some(grp) = self.groups.get_mut(usize::from(g)) else {
            return;
        };
        match grp.members.iter_mut().find(|m| m.id == from) {
            Some(m) => m.last_seen = now,
            None => grp.members.push(Member {
                id: from,
                last_seen: now,
            }),
        }
        self.start_rebalance(cx, g);
    }

    /// Answers a `Fetch` from `from`: its records then a `FetchEnd`, or a refusal.
    fn fetch(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, fetch: MMsg) {
        let MMsg::Fetch {
            group: g,
            partition: p,
            generation,
            offset,
            max,
        } = fetch
        else {
            return;
        };
        let now = cx.now();
        let Some(grp) = self.groups.get_mut(usize::from(g)) else {
            return;
        };
        // A fetch proves a member alive but never makes one: a consumer that just left may
        // still have fetches in flight.
        if let Some(m) = grp.members.iter_mut().find(|m| m.id == from) {
            m.last_seen = now;
        }
        let pi = usize::from(p);
        if pi >= grp.owner.len() {
            return;
        }
        let gi = self.first[usize::from(grp.topic)] + pi;
        let part = &self.parts[gi];
        let allowed = grp.rebalancing_since.is_none()
            && generation == grp.assigned_generation
            && grp.owner[pi] == Some(from);
        if !allowed {
            let end = MMsg::FetchEnd {
                partition: p,
                next: u64::MAX,
                end: part.end,
            };
            cx.send_with(from, Msg::Messaging(end), self.cfg.transport, 0);
            return;
        }
        let mut start = if offset == u64::MAX {
            grp.committed[pi]
        } else {
            offset
        };
        if start < part.base {
            // Deleted by retention before this group read them.
            cx.count(self.s.lost, part.base - start);
            start = part.base;
            if grp.committed[pi] < start {
                let skipped = start - grp.committed[pi];
                grp.committed[pi] = start;
                cx.gauge_add(grp.lag[pi], -(skipped as i64));
                cx.gauge_add(self.s.lag, -(skipped as i64));
            }
        }
        let n = (part.end.saturating_sub(start)).min(u64::from(max));
        if start < grp.fetched[pi] {
            cx.count(self.s.redelivered, (start + n).min(grp.fetched[pi]) - start);
        }
        grp.fetched[pi] = grp.fetched[pi].max(start + n);
        for off in start..start + n {
            let r = part.log[(off - part.base) as usize];
            let m = MMsg::Record {
                partition: p,
                flags: r.flags,
                offset: off,
                born: r.born,
                key: r.key,
            };
            cx.send_with(from, Msg::Messaging(m), self.cfg.transport, 0);
        }
        let end = MMsg::FetchEnd {
            partition: p,
            next: start + n,
            end: part.end,
        };
        cx.send_with(from, Msg::Messaging(end), self.cfg.transport, 0);
    }

    fn commit(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        from: ComponentId,
        g: u16,
        p: u16,
        generation: u32,
        offset: u64,
    ) {
        let Some(grp) = self.groups.get_mut(usize::from(g)) else {
            return;
        };
        let pi = usize::from(p);
        if pi >= grp.owner.len() {
            return;
        }
        // Accepted from the owner of the last completed assignment, also while the group
        // rebalances (eager consumers commit when their partitions are revoked).
        if generation != grp.assigned_generation || grp.owner[pi] != Some(from) {
            cx.count(self.s.commit_rejected, 1);
            return;
        }
        if let Some(m) = grp.members.iter_mut().find(|m| m.id == from) {
            m.last_seen = cx.now();
        }
        let gi = self.first[usize::from(grp.topic)] + pi;
        let offset = offset.min(self.parts[gi].end);
        if offset > grp.committed[pi] {
            let d = offset - grp.committed[pi];
            grp.committed[pi] = offset;
            cx.count(self.s.completed, d);
            cx.gauge_add(grp.lag[pi], -(d as i64));
            cx.gauge_add(self.s.lag, -(d as i64));
        }
    }

    fn restate_lag(&self, cx: &mut Ctx<'_, Cluster>) {
        let mut total = 0i64;
        for g in &self.groups {
            let first = self.first[usize::from(g.topic)];
            for (p, &c) in g.committed.iter().enumerate() {
                let lag = (self.parts[first + p].end - c) as i64;
                total += lag;
                cx.gauge_set(g.lag[p], lag);
            }
        }
        cx.gauge_set(self.s.lag, total);
    }
}

impl Component<Cluster> for LogBroker {
    fn on_start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        let half = SimDuration::from_nanos(self.cfg.session_timeout.as_nanos() / 2 + 1);
        cx.set_timer(half, Timer::Messaging(MTimer::LivenessSweep));
        if self.cfg.clustered() {
            cx.set_timer(self.cfg.heartbeat, Timer::Messaging(MTimer::BrokerTick));
            cx.set_timer(
                self.cfg.replica_fetch_interval,
                Timer::Messaging(MTimer::ReplicaFetch),
            );
        }
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: Msg) {
        if let Msg::Messaging(m) = msg
            && self.cfg.clustered()
            && self.on_replication(cx, from, m)
        {
            return;
        }
        match msg {
            Msg::Messaging(m) => match m {
                MMsg::Publish {
                    id,
                    key,
                    born,
                    dest,
                    route,
                    flags,
                } => {
                    let ok = self
                        .cfg
                        .topics
                        .get(usize::from(dest))
                        .is_some_and(|t| route < t.partitions);
                    if ok && self.cfg.clustered() {
                        let g = self.first[usize::from(dest)] + usize::from(route);
                        if !self.check_leader(cx, from, id, g) {
                            return;
                        }
                        let acks = (flags >> 1).min(2);
                        let early = if acks < 2 { CONFIRMED_EARLY } else { 0 };
                        let rec = LRec {
                            key,
                            born,
                            flags: (flags & super::POISON) | early,
                        };
                        let offset = self.append(cx, dest, route, rec);
                        self.replicate(cx, g, offset, from, id, acks);
                        return;
                    }
                    let offset = if ok {
                        let rec = LRec {
                            key,
                            born,
                            flags: flags & super::POISON,
                        };
                        self.append(cx, dest, route, rec)
                    } else {
                        0
                    };
                    if flags >> 1 != 0 {
                        let c = MMsg::Confirm { id, ok, offset };
                        cx.send_with(from, Msg::Messaging(c), self.cfg.transport, 0);
                    }
                }
                MMsg::JoinGroup { group } => self.join(cx, group, from),
                MMsg::LeaveGroup { group } => {
                    if let Some(grp) = self.groups.get_mut(usize::from(group))
                        && let Some(i) = grp.members.iter().position(|m| m.id == from)
                    {
                        grp.members.remove(i);
                        self.start_rebalance(cx, group);
                    }
                }
                MMsg::Heartbeat { group } => self.seen(cx, group, from),
                f @ MMsg::Fetch { .. } => self.fetch(cx, from, f),
                MMsg::Commit {
                    group,
                    partition,
                    generation,
                    offset,
                } => self.commit(cx, from, group, partition, generation, offset),
                _ => {}
            },
            Msg::Request(r) => {
                let t = self.cfg.request_topic;
                let p = key_partition(r.key as u32, self.cfg.topics[usize::from(t)].partitions);
                let rec = LRec {
                    key: r.key as u32,
                    born: cx.now(),
                    flags: 0,
                };
                self.append(cx, t, p, rec);
                let resp = Response {
                    id: r.id,
                    status: Status::Ok,
                    size_bytes: 0,
                    version: 0,
                };
                cx.send_with(from, Msg::Response(resp), self.cfg.transport, 0);
            }
            Msg::Probe { seq } => cx.send(from, Msg::ProbeReply { seq }),
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, timer: Timer) {
        match timer {
            Timer::Messaging(MTimer::LivenessSweep) => {
                let now = cx.now();
                let limit = self.cfg.session_timeout;
                for g in 0..self.groups.len() {
                    let before = self.groups[g].members.len();
                    self.groups[g]
                        .members
                        .retain(|m| now.saturating_since(m.last_seen) < limit);
                    if self.groups[g].members.len() != before {
                        self.start_rebalance(cx, g as u16);
                    }
                }
                let half = SimDuration::from_nanos(limit.as_nanos() / 2 + 1);
                cx.set_timer(half, Timer::Messaging(MTimer::LivenessSweep));
            }
            Timer::Messaging(MTimer::Rebalance { group, generation }) => {
                self.finish_rebalance(cx, group, generation);
            }
            Timer::Messaging(MTimer::BrokerTick) => self.tick(cx),
            Timer::Messaging(MTimer::ReplicaFetch) => self.fetch_tick(cx),
            _ => {}
        }
    }

    fn on_crash(&mut self) {
        // Logs and committed offsets are durable; group membership is not.
        for g in &mut self.groups {
            g.members.clear();
            g.owner.iter_mut().for_each(|o| *o = None);
            g.rebalancing_since = None;
            g.generation = g.generation.wrapping_add(1);
            g.assigned_generation = g.generation;
        }
        self.repl_crash();
    }

    fn on_restart(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.repl_restart(cx);
        self.restate_lag(cx);
        self.on_start(cx);
    }
}

/// One partition as a consumer sees it.
#[derive(Clone, Debug, Default)]
struct Part {
    assigned: bool,
    /// Next offset to fetch (`u64::MAX`: from the committed offset).
    position: u64,
    fetching: bool,
    buf: VecDeque<(u64, SimTime, u32, u8)>,
    /// Next offset after the last processed record (`u64::MAX`: none yet).
    processed: u64,
    /// Last offset committed.
    committed: u64,
    /// Failed attempts of the head record.
    failures: u32,
    retry_wait: bool,
}

struct ConsumerSeries {
    arrivals: SeriesId,
    completed: SeriesId,
    errors: SeriesId,
    dead_lettered: SeriesId,
    violations: SeriesId,
    violations_key: Vec<SeriesId>,
    duplicates: SeriesId,
    latency: SeriesId,
    rebalance_wait: SeriesId,
    queue_len: SeriesId,
    servers: SeriesId,
}

/// A pull consumer in a group of a [`LogBroker`]. See [`crate::messaging`].
pub struct LogConsumer {
    cfg: LogConsumerConfig,
    s: ConsumerSeries,
    workers: Workers,
    joined: bool,
    left: bool,
    generation: u32,
    parts: Vec<Part>,
    /// Bumped on every assignment: a record in progress from an older one is dropped.
    epoch: u32,
    job_epoch: u32,
    rr: usize,
    revoked_at: Option<SimTime>,
    /// Per key, the (partition, offset) last processed.
    last: BTreeMap<u32, (u16, u64)>,
    dups_in_crash: u64,
}

impl LogConsumer {
    /// Builds the consumer, registering its series.
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &LogConsumerConfig, me: ComponentId, m: &mut Recorder) -> LogConsumer {
        if let Err(e) = cfg.validate() {
            panic!("invalid log consumer config: {e}");
        }
        let o = Some(me);
        let s = ConsumerSeries {
            arrivals: m.counter(o, "arrivals"),
            completed: m.counter(o, "completed"),
            errors: m.counter(o, "errors"),
            dead_lettered: m.counter(o, "dead_lettered"),
            violations: m.counter(o, "ordering_violations"),
            violations_key: (0..cfg.label_keys)
                .map(|k| m.counter(o, &format!("ordering_violations@key={k}")))
                .collect(),
            duplicates: m.counter(o, "duplicates"),
            latency: m.histogram(o, "latency_ns"),
            rebalance_wait: m.histogram(o, "rebalance_wait_ns"),
            queue_len: m.gauge(o, "queue_len"),
            servers: m.gauge_persistent(o, "servers"),
        };
        let workers = Workers::new(&cfg.work, me, m);
        LogConsumer {
            cfg: cfg.clone(),
            s,
            workers,
            joined: false,
            left: false,
            generation: 0,
            parts: vec![Part::default(); usize::from(cfg.partitions)],
            epoch: 0,
            job_epoch: 0,
            rr: 0,
            revoked_at: None,
            last: BTreeMap::new(),
            dups_in_crash: 0,
        }
    }

    fn send(&self, cx: &mut Ctx<'_, Cluster>, m: MMsg) {
        cx.send_with(self.cfg.broker, Msg::Messaging(m), self.cfg.transport, 0);
    }

    fn fetch(&mut self, cx: &mut Ctx<'_, Cluster>, p: usize) {
        let part = &mut self.parts[p];
        if !part.assigned || part.fetching || !part.buf.is_empty() {
            return;
        }
        part.fetching = true;
        let m = MMsg::Fetch {
            group: self.cfg.group,
            partition: p as u16,
            generation: self.generation,
            offset: part.position,
            max: self.cfg.batch as u16,
        };
        self.send(cx, m);
    }

    fn commit(&mut self, cx: &mut Ctx<'_, Cluster>, p: usize) {
        let part = &mut self.parts[p];
        if part.processed == u64::MAX || part.processed <= part.committed {
            return;
        }
        part.committed = part.processed;
        let m = MMsg::Commit {
            group: self.cfg.group,
            partition: p as u16,
            generation: self.generation,
            offset: part.processed,
        };
        self.send(cx, m);
    }

    fn revoke_all(&mut self, cx: &mut Ctx<'_, Cluster>) {
        for p in 0..self.parts.len() {
            if self.parts[p].assigned {
                self.commit(cx, p);
            }
            let n = self.parts[p].buf.len() as i64;
            cx.gauge_add(self.s.queue_len, -n);
            self.parts[p] = Part::default();
        }
        self.epoch = self.epoch.wrapping_add(1);
    }

    fn pump(&mut self, cx: &mut Ctx<'_, Cluster>) {
        if !self.workers.has_idle() {
            return;
        }
        let n = self.parts.len();
        for step in 0..n {
            let p = (self.rr + step) % n;
            let part = &self.parts[p];
            if !part.assigned || part.retry_wait {
                continue;
            }
            let Some(&(offset, born, key, flags)) = part.buf.front() else {
                continue;
            };
            self.rr = (p + 1) % n;
            self.job_epoch = self.epoch;
            let job = Job {
                tag: ((p as u64) << 48) | offset,
                born,
                key,
                flags,
            };
            self.workers.start(cx, job);
            return;
        }
    }

    fn done(&mut self, cx: &mut Ctx<'_, Cluster>, job: Job, ok: bool) {
        let p = (job.tag >> 48) as usize;
        let offset = job.tag & ((1 << 48) - 1);
        let current = self.job_epoch == self.epoch
            && self
                .parts
                .get(p)
                .is_some_and(|x| x.assigned && x.buf.front().is_some_and(|r| r.0 == offset));
        if !current {
            // Revoked while in progress: the next owner processes it again.
            self.pump(cx);
            return;
        }
        let skip = if ok {
            cx.count(self.s.completed, 1);
            cx.record(
                self.s.latency,
                cx.now().saturating_since(job.born).as_nanos(),
            );
            let prev = self.last.insert(job.key, (p as u16, offset));
            if prev.is_some_and(|(pp, po)| pp as usize == p && po > offset) {
                cx.count(self.s.violations, 1);
                if let Some(&k) = self.s.violations_key.get(job.key as usize) {
                    cx.count(k, 1);
                }
            }
            true
        } else {
            cx.count(self.s.errors, 1);
            let part = &mut self.parts[p];
            part.failures += 1;
            let retry = self.cfg.failure.retry;
            if part.failures < retry.max_attempts {
                part.retry_wait = true;
                let d = retry.delay(part.failures);
                cx.set_timer(
                    d,
                    Timer::Messaging(MTimer::RetryRecord {
                        partition: p as u16,
                    }),
                );
                false
            } else {
                cx.count(self.s.dead_lettered, 1);
                if let Some(t) = self.cfg.failure.dead_letter {
                    let m = MMsg::Publish {
                        id: 0,
                        key: job.key,
                        born: job.born,
                        dest: t,
                        route: 0,
                        flags: 0,
                    };
                    self.send(cx, m);
                }
                true
            }
        };
        if skip {
            let part = &mut self.parts[p];
            part.buf.pop_front();
            part.failures = 0;
            part.processed = offset + 1;
            cx.gauge_add(self.s.queue_len, -1);
            if part.buf.is_empty() {
                self.commit(cx, p);
                self.fetch(cx, p);
            }
        }
        self.pump(cx);
    }

    fn join(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.joined = true;
        self.send(
            cx,
            MMsg::JoinGroup {
                group: self.cfg.group,
            },
        );
        cx.set_timer(self.cfg.heartbeat, Timer::Messaging(MTimer::Heartbeat));
    }
}

impl Component<Cluster> for LogConsumer {
    fn on_start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.workers.announce(cx, self.s.servers);
        let now = cx.now().since_start();
        if self.left {
            return;
        }
        if now >= self.cfg.start_after {
            self.join(cx);
        } else {
            cx.set_timer(self.cfg.start_after - now, Timer::Messaging(MTimer::Join));
        }
        if let Some(l) = self.cfg.leave_after
            && l > now
        {
            cx.set_timer(l - now, Timer::Messaging(MTimer::Leave));
        }
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, _from: ComponentId, msg: Msg) {
        match msg {
            Msg::Messaging(MMsg::Assignment {
                generation,
                partitions,
                ..
            }) => {
                if !self.joined {
                    return;
                }
                if self.revoked_at.is_none() {
                    self.revoked_at = Some(cx.now());
                }
                self.revoke_all(cx);
                self.generation = generation;
                if partitions != 0 {
                    if let Some(at) = self.revoked_at.take() {
                        cx.record(
                            self.s.rebalance_wait,
                            cx.now().saturating_since(at).as_nanos(),
                        );
                    }
                    for p in 0..self.parts.len() {
                        if partitions & (1u64 << p) != 0 {
                            self.parts[p] = Part {
                                assigned: true,
                                position: u64::MAX,
                                processed: u64::MAX,
                                ..Part::default()
                            };
                            self.fetch(cx, p);
                        }
                    }
                }
            }
            Msg::Messaging(MMsg::Record {
                partition,
                flags,
                offset,
                born,
                key,
            }) => {
                let Some(part) = self.parts.get_mut(usize::from(partition)) else {
                    return;
                };
                if !part.assigned || !part.fetching {
                    return;
                }
                if part.position == u64::MAX {
                    // The first record of a fetch from the committed offset: that offset.
                    part.committed = offset;
                    part.position = offset;
                }
                part.buf.push_back((offset, born, key, flags));
                cx.count(self.s.arrivals, 1);
                cx.gauge_add(self.s.queue_len, 1);
            }
            Msg::Messaging(MMsg::FetchEnd {
                partition, next, ..
            }) => {
                let p = usize::from(partition);
                let Some(part) = self.parts.get_mut(p) else {
                    return;
                };
                if !part.assigned || !part.fetching {
                    return;
                }
                part.fetching = false;
                if next == u64::MAX {
                    return; // Refused: a rebalance is under way; the assignment will come.
                }
                if part.position == u64::MAX {
                    part.committed = next;
                }
                part.position = next;
                if part.buf.is_empty() {
                    cx.set_timer(
                        self.cfg.poll_interval,
                        Timer::Messaging(MTimer::Poll { partition }),
                    );
                }
                self.pump(cx);
            }
            Msg::Response(r) => {
                if let Some((job, ok)) = self.workers.response(cx, &r) {
                    self.done(cx, job, ok);
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, timer: Timer) {
        let Timer::Messaging(t) = timer else {
            return;
        };
        match t {
            MTimer::Join if !self.left => {
                self.join(cx);
            }
            MTimer::Leave => {
                self.revoke_all(cx);
                self.send(
                    cx,
                    MMsg::LeaveGroup {
                        group: self.cfg.group,
                    },
                );
                self.joined = false;
                self.left = true;
            }
            MTimer::Heartbeat if self.joined => {
                self.send(
                    cx,
                    MMsg::Heartbeat {
                        group: self.cfg.group,
                    },
                );
                cx.set_timer(self.cfg.heartbeat, Timer::Messaging(MTimer::Heartbeat));
            }
            MTimer::Poll { partition } => self.fetch(cx, usize::from(partition)),
            MTimer::RetryRecord { partition } => {
                if let Some(part) = self.parts.get_mut(usize::from(partition)) {
                    part.retry_wait = false;
                }
                self.pump(cx);
            }
            MTimer::Work { slot } => {
                if let Some((job, ok)) = self.workers.work_done(cx, slot) {
                    self.done(cx, job, ok);
                }
            }
            MTimer::CallTimeout { slot, call } => {
                if let Some((job, ok)) = self.workers.call_failed(cx, slot, call) {
                    self.done(cx, job, ok);
                }
            }
            _ => {}
        }
    }

    fn on_send_failed(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        _to: ComponentId,
        msg: Msg,
        _c: DropCause,
    ) {
        match msg {
            Msg::Request(r) => {
                let (slot, call) = Workers::split(r.id);
                if let Some((job, ok)) = self.workers.call_failed(cx, slot, call) {
                    self.done(cx, job, ok);
                }
            }
            Msg::Messaging(MMsg::Fetch { partition, .. }) => {
                // The broker is down: try again after the poll interval.
                if let Some(part) = self.parts.get_mut(usize::from(partition)) {
                    part.fetching = false;
                }
                cx.set_timer(
                    self.cfg.poll_interval,
                    Timer::Messaging(MTimer::Poll { partition }),
                );
            }
            _ => {}
        }
    }

    fn on_crash(&mut self) {
        // Processed but uncommitted records will be processed again by the next owner.
        for part in &self.parts {
            if part.assigned && part.processed != u64::MAX && part.processed > part.committed {
                self.dups_in_crash += part.processed - part.committed;
            }
        }
        let n = self.parts.len();
        self.parts = vec![Part::default(); n];
        self.workers.clear();
        self.joined = false;
        self.revoked_at = None;
        self.last.clear();
        self.epoch = self.epoch.wrapping_add(1);
    }

    fn on_restart(&mut self, cx: &mut Ctx<'_, Cluster>) {
        if self.dups_in_crash > 0 {
            cx.count(self.s.duplicates, self.dups_in_crash);
            self.dups_in_crash = 0;
        }
        self.on_start(cx);
    }
}
