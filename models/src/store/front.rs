//! The store front: routing, quorum coordination, failure detection and failover, CP/AP
//! policy, and the history checker (see the module docs of [`super`]).

use std::collections::VecDeque;

use clustersim_engine::{
    Component, ComponentId, Ctx, DropCause, Recorder, SeriesId, SimDuration, SimTime, TimerKey,
    Transport,
};

use super::checker::Checker;
use super::config::{MAX_REPLICAS, PartitionPolicy, Promote, ReadFrom, Replication, StoreConfig};
use super::{Msg, NO_ID, Timer};
use crate::Cluster;
use crate::msg::{Op, Request, Response, Status};

#[derive(Clone, Debug)]
struct FrontMetrics {
    arrivals: SeriesId,
    completed: SeriesId,
    errors: SeriesId,
    unavailable: SeriesId,
    timeouts: SeriesId,
    reads: SeriesId,
    writes: SeriesId,
    latency: SeriesId,
    read_latency: SeriesId,
    write_latency: SeriesId,
    in_system: SeriesId,
    stale_reads: SeriesId,
    staleness: SeriesId,
    versions_behind: SeriesId,
    ryw: SeriesId,
    monotonic: SeriesId,
    lost_updates: SeriesId,
    failovers: SeriesId,
    rto: SeriesId,
    rpo: SeriesId,
    sloppy: SeriesId,
    read_repairs: SeriesId,
    vis_reads: Vec<SeriesId>,
    vis_fresh: Vec<SeriesId>,
}

/// One request in progress.
#[derive(Clone, Copy, Debug)]
struct Pending {
    generation: u32,
    live: bool,
    from: ComponentId,
    req: Request,
    start: SimTime,
    timer: Option<TimerKey>,
    /// Answers still needed (quorum) or 1.
    needed: u8,
    /// Replicas asked (bit per replica index).
    asked: u16,
    /// Replicas that answered.
    answered: u16,
    /// Replicas that failed to answer.
    failed: u8,
    /// Redirections after `Refused`.
    tries: u8,
    /// Newest version among the answers.
    best: u64,
    /// The versions answered, per replica index (read repair).
    versions: [u64; MAX_REPLICAS],
}

/// The store front (see the module docs of [`super`]).
#[derive(Debug)]
pub struct StoreFront {
    cfg: StoreConfig,
    checker: Checker,
    pending: Vec<Pending>,
    free: Vec<u32>,
    last_ack: Vec<SimTime>,
    applied: Vec<u64>,
    primary: usize,
    term: u32,
    hb_seq: u32,
    /// A failover is under way: the candidate, and when the old primary was last known good.
    promoting: Option<(usize, SimTime)>,
    /// Failure start of the last failover, until the new primary acknowledges a write.
    rto_from: Option<SimTime>,
    /// Last time the primary answered anything.
    primary_good: SimTime,
    /// Versions of acknowledged writes the followers may not have yet (primary-backup), for
    /// counting the writes a failover loses.
    acked: VecDeque<u64>,
    last_stamp: u64,
    m: FrontMetrics,
}

const SLOT_BITS: u32 = 20;
const SLOT_MASK: u32 = (1 << SLOT_BITS) - 1;

fn bit(i: usize) -> u16 {
    1 << i
}

impl StoreFront {
    /// Builds the front and registers its metrics (owner `me`).
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &StoreConfig, me: ComponentId, rec: &mut Recorder) -> StoreFront {
        if let Err(e) = cfg.validate() {
            panic!("invalid store config: {e}");
        }
        let o = Some(me);
        let mut vis_reads = Vec::with_capacity(cfg.visibility_buckets_ms.len());
        let mut vis_fresh = Vec::with_capacity(cfg.visibility_buckets_ms.len());
        for b in &cfg.visibility_buckets_ms {
            vis_reads.push(rec.counter(o, &format!("visibility_reads@dt_ms={b}")));
            vis_fresh.push(rec.counter(o, &format!("visibility_fresh@dt_ms={b}")));
        }
        let m = FrontMetrics {
            arrivals: rec.counter(o, "arrivals"),
            completed: rec.counter(o, "completed"),
            errors: rec.counter(o, "errors"),
            unavailable: rec.counter(o, "unavailable"),
            timeouts: rec.counter(o, "timeouts"),
            reads: rec.counter(o, "reads"),
            writes: rec.counter(o, "writes"),
            latency: rec.histogram(o, "latency_ns"),
            read_latency: rec.histogram(o, "read_latency_ns"),
            write_latency: rec.histogram(o, "write_latency_ns"),
            in_system: rec.gauge(o, "in_system"),
            stale_reads: rec.counter(o, "stale_reads"),
            staleness: rec.histogram(o, "staleness_ns"),
            versions_behind: rec.counter(o, "stale_versions_behind"),
            ryw: rec.counter(o, "ryw_violations"),
            monotonic: rec.counter(o, "monotonic_violations"),
            lost_updates: rec.counter(o, "lost_updates"),
            failovers: rec.counter(o, "failovers"),
            rto: rec.histogram(o, "rto_ns"),
            rpo: rec.counter(o, "rpo_writes_lost"),
            sloppy: rec.counter(o, "sloppy_ops"),
            read_repairs: rec.counter(o, "read_repairs"),
            vis_reads,
            vis_fresh,
        };
        let n = cfg.replicas.len();
        StoreFront {
            checker: Checker::new(
                cfg.history_per_key,
                cfg.max_sessions,
                &cfg.visibility_buckets_ms,
            ),
            cfg: cfg.clone(),
            pending: Vec::with_capacity(64),
            free: Vec::with_capacity(64),
            last_ack: vec![SimTime::ZERO; n],
            applied: vec![0; n],
            primary: 0,
            term: 0,
            hb_seq: 0,
            promoting: None,
            rto_from: None,
            primary_good: SimTime::ZERO,
            acked: VecDeque::new(),
            last_stamp: 0,
            m,
        }
    }

    fn index_of(&self, c: ComponentId) -> Option<usize> {
        self.cfg.replicas.iter().position(|&r| r == c)
    }

    fn reachable(&self, now: SimTime, i: usize) -> bool {
        now - self.last_ack[i] <= self.cfg.detect_after
    }

    fn reachable_count(&self, now: SimTime) -> usize {
        (0..self.cfg.replicas.len())
            .filter(|&i| self.reachable(now, i))
            .count()
    }

    fn majority(&self, now: SimTime) -> bool {
        2 * self.reachable_count(now) > self.cfg.replicas.len()
    }

    fn handle(&self, slot: u32) -> u32 {
        slot | ((self.pending[slot as usize].generation & 0xfff) << SLOT_BITS)
    }

    fn lookup(&self, id: u32) -> Option<usize> {
        if id == NO_ID {
            return None;
        }
        let slot = (id & SLOT_MASK) as usize;
        let p = self.pending.get(slot)?;
        (p.live && (p.generation & 0xfff) == id >> SLOT_BITS).then_some(slot)
    }

    fn client_of(p: &Pending) -> u64 {
        (u64::from(p.from.0) << 32) | u64::from(p.req.client)
    }

    fn on_request(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, req: Request) {
        cx.count(self.m.arrivals, 1);
        cx.gauge_add(self.m.in_system, 1);
        let p = Pending {
            generation: 0,
            live: true,
            from,
            req,
            start: cx.now(),
            timer: None,
            needed: 1,
            asked: 0,
            answered: 0,
            failed: 0,
            tries: 0,
            best: 0,
            versions: [0; MAX_REPLICAS],
        };
        let slot = match self.free.pop() {
            Some(s) => {
                let g = self.pending[s as usize].generation.wrapping_add(1);
                self.pending[s as usize] = Pending { generation: g, ..p };
                s
            }
            None => {
                if self.pending.len() > SLOT_MASK as usize {
                    cx.gauge_add(self.m.in_system, -1);
                    cx.count(self.m.errors, 1);
                    let r = Response {
                        id: req.id,
                        status: Status::Rejected,
                        size_bytes: 0,
                        version: 0,
                    };
                    cx.send_with(from, r.into(), self.cfg.transport, 0);
                    return;
                }
                self.pending.push(p);
                (self.pending.len() - 1) as u32
            }
        };
        let id = self.handle(slot);
        let t = cx.set_timer(self.cfg.timeout, Timer::OpTimeout { id }.into());
        self.pending[slot as usize].timer = Some(t);
        self.route(cx, slot as usize);
    }

    /// Sends the operation to replicas, or fails it when the policy forbids serving.
    fn route(&mut self, cx: &mut Ctx<'_, Cluster>, slot: usize) {
        let now = cx.now();
        let write = self.pending[slot].req.op == Op::Write;
        let cp = self.cfg.partition == PartitionPolicy::Cp;
        // A pair cannot keep a majority through any failure: it relies on the failover
        // manager instead, so the majority rule applies from three replicas on.
        if cp && self.cfg.replicas.len() >= 3 && !self.majority(now) {
            return self.finish(cx, slot, Status::Unavailable, 0);
        }
        match self.cfg.replication {
            Replication::Standalone => self.send_one(cx, slot, 0),
            Replication::PrimaryBackup { .. } => {
                let target = if write {
                    (self.promoting.is_none() && self.reachable(now, self.primary))
                        .then_some(self.primary)
                } else {
                    self.read_target(cx, slot)
                };
                match target {
                    Some(i) => self.send_one(cx, slot, i),
                    None => self.finish(cx, slot, Status::Unavailable, 0),
                }
            }
            Replication::MultiLeader { home, .. } => {
                let home = usize::from(home);
                let target = if self.reachable(now, home) {
                    Some(home)
                } else if cp {
                    None
                } else {
                    (0..self.cfg.replicas.len()).find(|&i| self.reachable(now, i))
                };
                match target {
                    Some(i) => self.send_one(cx, slot, i),
                    None => self.finish(cx, slot, Status::Unavailable, 0),
                }
            }
            Replication::Quorum { r, w, .. } => {
                self.send_quorum(cx, slot, if write { w } else { r })
            }
        }
    }

    fn read_target(&mut self, cx: &mut Ctx<'_, Cluster>, slot: usize) -> Option<usize> {
        let now = cx.now();
        let p = self.pending[slot];
        let primary_ok = self.promoting.is_none() && self.reachable(now, self.primary);
        let to_replica = match self.cfg.read_from {
            ReadFrom::Primary => false,
            ReadFrom::Replicas => true,
            ReadFrom::ReplicaUnlessRyw { window } => self
                .checker
                .last_write_at(Self::client_of(&p), p.req.key)
                .is_none_or(|at| now - at >= window),
        };
        let ap = self.cfg.partition == PartitionPolicy::Ap;
        if !to_replica && (primary_ok || !ap) {
            return primary_ok.then_some(self.primary);
        }
        // A reachable follower at random (AP reads fall back here when the primary is gone).
        let n = self.cfg.replicas.len();
        let followers: u16 = (0..n)
            .filter(|&i| i != self.primary && self.reachable(now, i))
            .fold(0, |m, i| m | bit(i));
        let count = followers.count_ones() as u64;
        if count == 0 {
            return primary_ok.then_some(self.primary);
        }
        let mut k = clustersim_engine::rng::below(cx.rng(), count);
        (0..n).find(|&i| {
            if followers & bit(i) != 0 {
                if k == 0 {
                    return true;
                }
                k -= 1;
            }
            false
        })
    }

    fn send_one(&mut self, cx: &mut Ctx<'_, Cluster>, slot: usize, i: usize) {
        let id = self.handle(slot as u32);
        let p = &mut self.pending[slot];
        p.asked |= bit(i);
        p.needed = 1;
        let msg = if p.req.op == Op::Write {
            Msg::Write {
                id,
                key: p.req.key,
                version: 0,
            }
        } else {
            Msg::Read { id, key: p.req.key }
        };
        let size = p.req.size_bytes.max(16);
        cx.send_with(self.cfg.replicas[i], msg.into(), self.cfg.transport, size);
    }

    fn send_quorum(&mut self, cx: &mut Ctx<'_, Cluster>, slot: usize, quorum: u8) {
        let now = cx.now();
        let n = self.cfg.replicas.len();
        let reachable = self.reachable_count(now);
        let mut needed = usize::from(quorum);
        if reachable < needed {
            if self.cfg.partition == PartitionPolicy::Cp || reachable == 0 {
                return self.finish(cx, slot, Status::Unavailable, 0);
            }
            cx.count(self.m.sloppy, 1);
            needed = reachable;
        }
        let id = self.handle(slot as u32);
        let write = self.pending[slot].req.op == Op::Write;
        let key = self.pending[slot].req.key;
        let size = self.pending[slot].req.size_bytes.max(16);
        let mut asked = 0u16;
        if write {
            // Every replica gets the write; the unreachable ones when the network lets it through.
            let local = cx.local_time().as_nanos() & !0xff;
            let stamp = (local | u64::from(self.cfg.origin)).max(self.last_stamp + 0x100);
            self.last_stamp = stamp;
            for i in 0..n {
                asked |= bit(i);
                let msg = Msg::Write {
                    id,
                    key,
                    version: stamp,
                };
                cx.send_with(self.cfg.replicas[i], msg.into(), self.cfg.transport, size);
            }
        } else {
            // `needed` reachable replicas at random.
            let mut candidates: u16 = (0..n)
                .filter(|&i| self.reachable(now, i))
                .fold(0, |m, i| m | bit(i));
            for _ in 0..needed {
                let count = u64::from(candidates.count_ones());
                let mut k = clustersim_engine::rng::below(cx.rng(), count);
                for i in 0..n {
                    if candidates & bit(i) != 0 {
                        if k == 0 {
                            candidates &= !bit(i);
                            asked |= bit(i);
                            let msg = Msg::Read { id, key };
                            cx.send_with(self.cfg.replicas[i], msg.into(), self.cfg.transport, 16);
                            break;
                        }
                        k -= 1;
                    }
                }
            }
        }
        let p = &mut self.pending[slot];
        p.asked = asked;
        p.needed = needed as u8;
    }

    fn on_answer(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, id: u32, version: u64) {
        let Some(slot) = self.lookup(id) else {
            return;
        };
        let Some(i) = self.index_of(from) else {
            return;
        };
        let p = &mut self.pending[slot];
        if p.answered & bit(i) != 0 {
            return;
        }
        p.answered |= bit(i);
        p.versions[i] = version;
        p.best = p.best.max(version);
        if p.answered.count_ones() < u32::from(p.needed) {
            return;
        }
        let best = p.best;
        if let Replication::Quorum {
            read_repair: true, ..
        } = self.cfg.replication
            && p.req.op != Op::Write
        {
            let (answered, versions, key) = (p.answered, p.versions, p.req.key);
            for (j, &v) in versions.iter().enumerate().take(self.cfg.replicas.len()) {
                if answered & bit(j) != 0 && v < best {
                    cx.count(self.m.read_repairs, 1);
                    let msg = Msg::Write {
                        id: NO_ID,
                        key,
                        version: best,
                    };
                    cx.send_with(self.cfg.replicas[j], msg.into(), self.cfg.transport, 24);
                }
            }
        }
        if i == self.primary {
            self.primary_good = cx.now();
        }
        self.finish(cx, slot, Status::Ok, best);
    }

    fn on_refused(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, id: u32, hint: u32) {
        let Some(slot) = self.lookup(id) else {
            return;
        };
        // A follower names the primary it follows: learn it (fronts without failover do).
        if let Some(h) = self.index_of(ComponentId(hint))
            && Some(self.primary) == self.index_of(from)
            && self.cfg.failover.is_none()
        {
            self.primary = h;
        }
        let p = &mut self.pending[slot];
        if p.tries < 2 && hint != u32::MAX {
            p.tries += 1;
            p.asked = 0;
            return self.route(cx, slot);
        }
        if p.asked.count_ones() > 1 {
            return self.failed_one(cx, slot);
        }
        self.finish(cx, slot, Status::Rejected, 0);
    }

    /// One replica of a quorum operation cannot answer.
    fn failed_one(&mut self, cx: &mut Ctx<'_, Cluster>, slot: usize) {
        let p = &mut self.pending[slot];
        p.failed += 1;
        let possible = p.asked.count_ones() - u32::from(p.failed);
        if possible < u32::from(p.needed) {
            self.finish(cx, slot, Status::Unavailable, 0);
        }
    }

    fn finish(&mut self, cx: &mut Ctx<'_, Cluster>, slot: usize, status: Status, version: u64) {
        let now = cx.now();
        // Version vectors are partially ordered: the checker and the clients get the number
        // of writes a vector reflects.
        let vv = matches!(
            self.cfg.replication,
            Replication::MultiLeader {
                version_vectors: true,
                ..
            }
        );
        let version = if vv {
            super::vv::total(version)
        } else {
            version
        };
        let p = self.pending[slot];
        debug_assert!(p.live);
        self.pending[slot].live = false;
        self.free.push(slot as u32);
        if let Some(t) = p.timer {
            cx.cancel_timer(t);
        }
        cx.gauge_add(self.m.in_system, -1);
        let latency = (now - p.start).as_nanos().max(1);
        cx.record(self.m.latency, latency);
        let write = p.req.op == Op::Write;
        if status.is_ok() {
            cx.count(self.m.completed, 1);
            let client = Self::client_of(&p);
            if write {
                cx.count(self.m.writes, 1);
                cx.record(self.m.write_latency, latency);
                self.write_acked(cx, p.req.key, version);
                self.checker.session_write(client, p.req.key, version, now);
                if let Some(from) = self.rto_from.take() {
                    cx.record(self.m.rto, (now - from).as_nanos().max(1));
                }
            } else {
                cx.count(self.m.reads, 1);
                cx.record(self.m.read_latency, latency);
                let v = self.checker.read(client, p.req.key, version, p.start);
                if v.stale {
                    cx.count(self.m.stale_reads, 1);
                    cx.count(self.m.versions_behind, v.versions_behind);
                    cx.record(self.m.staleness, v.staleness.as_nanos().max(1));
                }
                if let Some(b) = v.bucket {
                    cx.count(self.m.vis_reads[b], 1);
                    if v.fresh {
                        cx.count(self.m.vis_fresh[b], 1);
                    }
                }
                if v.ryw_violation {
                    cx.count(self.m.ryw, 1);
                }
                if v.monotonic_violation {
                    cx.count(self.m.monotonic, 1);
                }
            }
        } else {
            cx.count(self.m.errors, 1);
            match status {
                Status::Unavailable => cx.count(self.m.unavailable, 1),
                Status::Timeout => cx.count(self.m.timeouts, 1),
                _ => {}
            }
        }
        let resp = Response {
            id: p.req.id,
            status,
            size_bytes: if write { 0 } else { p.req.size_bytes },
            version,
        };
        cx.send_with(p.from, resp.into(), self.cfg.transport, resp.size_bytes);
    }

    /// An acknowledged write, from this front or reported by a peer front.
    fn write_acked(&mut self, cx: &mut Ctx<'_, Cluster>, key: u64, version: u64) {
        self.observe(cx, key, version);
        for i in 0..self.cfg.peers.len() {
            let msg = Msg::Observed { key, version };
            cx.send_direct(self.cfg.peers[i], SimDuration::ZERO, msg.into());
        }
    }

    fn observe(&mut self, cx: &mut Ctx<'_, Cluster>, key: u64, version: u64) {
        let lost = self.checker.write_acked(key, version, cx.now());
        // With version vectors every concurrent write survives as a sibling: none is lost.
        let vv = matches!(
            self.cfg.replication,
            Replication::MultiLeader {
                version_vectors: true,
                ..
            }
        );
        if lost && !vv {
            cx.count(self.m.lost_updates, 1);
        }
        if self.cfg.failover.is_some() {
            self.acked.push_back(version);
        }
    }

    fn on_heartbeat_tick(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.hb_seq = self.hb_seq.wrapping_add(1);
        for i in 0..self.cfg.replicas.len() {
            let msg = Msg::Heartbeat { seq: self.hb_seq };
            cx.send_with(self.cfg.replicas[i], msg.into(), Transport::Datagram, 16);
        }
        self.trim_acked(cx.now());
        self.detect(cx);
        cx.set_timer(self.cfg.heartbeat, Timer::Heartbeat.into());
    }

    /// Forgets acknowledged versions every reachable replica has applied (they cannot be lost).
    /// Only reachable replicas count: an unreachable one cannot be promoted, so writes it
    /// lacks cannot be lost by a failover (and a dead replica must not hold memory).
    fn trim_acked(&mut self, now: SimTime) {
        let Some(floor) = (0..self.applied.len())
            .filter(|&i| self.reachable(now, i))
            .map(|i| self.applied[i])
            .min()
        else {
            return;
        };
        while self.acked.front().is_some_and(|&v| v <= floor) {
            self.acked.pop_front();
        }
        // Bound the memory whatever happens (a replica down for very long).
        while self.acked.len() > 10_000_000 {
            self.acked.pop_front();
        }
    }

    fn detect(&mut self, cx: &mut Ctx<'_, Cluster>) {
        let now = cx.now();
        let Some(f) = self.cfg.failover else {
            return;
        };
        if let Some((c, _)) = self.promoting {
            if self.reachable(now, c) {
                return;
            }
            // The candidate failed too: choose again.
            self.promoting = None;
        }
        if self.reachable(now, self.primary) {
            return;
        }
        let n = self.cfg.replicas.len();
        let best = (0..n)
            .filter(|&i| i != self.primary && self.reachable(now, i))
            .max_by_key(|&i| (self.applied[i], std::cmp::Reverse(i)));
        let candidate = match f.promote {
            Promote::Replica(i)
                if usize::from(i) != self.primary && self.reachable(now, usize::from(i)) =>
            {
                Some(usize::from(i))
            }
            _ => best,
        };
        let Some(c) = candidate else {
            return;
        };
        let since = self.primary_good.max(self.last_ack[self.primary]);
        self.promoting = Some((c, since));
        if f.redirect_delay.is_zero() {
            self.promote(cx);
        } else {
            cx.set_timer(f.redirect_delay, Timer::Redirect.into());
        }
    }

    fn promote(&mut self, cx: &mut Ctx<'_, Cluster>) {
        let Some((c, since)) = self.promoting else {
            return;
        };
        self.term += 1;
        cx.count(self.m.failovers, 1);
        let msg = Msg::Promote { term: self.term };
        cx.send_with(self.cfg.replicas[c], msg.into(), self.cfg.transport, 16);
        for i in 0..self.cfg.replicas.len() {
            if i != c {
                let msg = Msg::Follow {
                    term: self.term,
                    primary: self.cfg.replicas[c].0,
                };
                cx.send_with(self.cfg.replicas[i], msg.into(), self.cfg.transport, 16);
            }
        }
        self.primary = c;
        self.rto_from = Some(since);
    }

    fn on_promoted(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, applied: u64) {
        let Some((c, _)) = self.promoting else {
            return;
        };
        if self.index_of(from) != Some(c) {
            return;
        }
        self.promoting = None;
        self.applied[c] = applied;
        let lost = self.acked.iter().filter(|&&v| v > applied).count() as u64;
        cx.count(self.m.rpo, lost);
        self.acked.clear();
    }

    fn on_heartbeat_ack(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        from: ComponentId,
        term: u32,
        applied: u64,
        primary: bool,
    ) {
        let Some(i) = self.index_of(from) else {
            return;
        };
        let now = cx.now();
        self.last_ack[i] = now;
        self.applied[i] = applied;
        if !matches!(self.cfg.replication, Replication::PrimaryBackup { .. }) || !primary {
            return;
        }
        if i == self.primary {
            self.primary_good = now;
        } else if self.cfg.failover.is_some() {
            // A deposed primary came back: make it follow.
            let msg = Msg::Follow {
                term: self.term,
                primary: self.cfg.replicas[self.primary].0,
            };
            cx.send_with(from, msg.into(), self.cfg.transport, 16);
        } else if term > self.term {
            self.term = term;
            self.primary = i;
        }
    }

    fn on_timeout(&mut self, cx: &mut Ctx<'_, Cluster>, id: u32) {
        if let Some(slot) = self.lookup(id) {
            self.pending[slot].timer = None;
            self.finish(cx, slot, Status::Timeout, 0);
        }
    }
}

impl Component<Cluster> for StoreFront {
    fn on_start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        let now = cx.now();
        for t in &mut self.last_ack {
            *t = now;
        }
        self.primary_good = now;
        cx.set_timer(self.cfg.heartbeat, Timer::Heartbeat.into());
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: crate::Msg) {
        match msg {
            crate::Msg::Request(req) => self.on_request(cx, from, req),
            crate::Msg::Store(m) => match m {
                Msg::ReadOk { id, version } | Msg::WriteOk { id, version } => {
                    self.on_answer(cx, from, id, version)
                }
                Msg::Refused { id, primary } => self.on_refused(cx, from, id, primary),
                Msg::HeartbeatAck {
                    term,
                    applied,
                    primary,
                    ..
                } => self.on_heartbeat_ack(cx, from, term, applied, primary),
                Msg::Promoted { applied, .. } => self.on_promoted(cx, from, applied),
                Msg::Observed { key, version } => self.observe(cx, key, version),
                _ => {}
            },
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
            Timer::Heartbeat => self.on_heartbeat_tick(cx),
            Timer::OpTimeout { id } => self.on_timeout(cx, id),
            Timer::Redirect => self.promote(cx),
            Timer::Done { .. } | Timer::Arrive { .. } | Timer::ResyncTick => {}
        }
    }

    fn on_send_failed(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        _to: ComponentId,
        msg: crate::Msg,
        _cause: DropCause,
    ) {
        let id = match msg {
            crate::Msg::Store(Msg::Read { id, .. } | Msg::Write { id, .. }) => id,
            crate::Msg::Store(Msg::Promote { .. }) => {
                // The candidate is gone: the next heartbeat tick chooses again.
                self.promoting = None;
                return;
            }
            crate::Msg::Response(_) => return,
            _ => return,
        };
        if let Some(slot) = self.lookup(id) {
            if self.pending[slot].asked.count_ones() > 1 {
                self.failed_one(cx, slot);
            } else {
                self.finish(cx, slot, Status::Unavailable, 0);
            }
        }
    }

    fn on_crash(&mut self) {
        self.pending.clear();
        self.free.clear();
        self.promoting = None;
    }

    fn on_restart(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.on_start(cx);
    }
}
