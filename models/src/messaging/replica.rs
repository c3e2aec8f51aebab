//! Replication of a [`super::LogBroker`] cluster: leaders, followers, the high watermark,
//! `acks=all`, failover and truncation.
//!
//! * Partition `g` (numbered across topics) has replicas on brokers `(g + i) mod n`,
//!   `i < replication`; the first is the initial leader. The leader appends; followers pull
//!   (`ReplicaFetch { from }` every `replica_fetch_interval`, answered with `Replica`
//!   records) and report their new log end (`ReplicaAck`); a fetch from `from` also tells the
//!   leader the follower holds everything before it. Records appended since a follower's
//!   last fetch are unreplicated. The
//!   **high watermark** is the smallest log end among the leader and its live followers (the
//!   in-sync replicas: a follower silent for `broker_timeout` leaves them); an `acks=all`
//!   publish is confirmed once the watermark passes it, an `acks=1` one at once.
//! * Brokers exchange heartbeats carrying the partitions they lead. Leadership is sticky:
//!   when a leader falls silent for `broker_timeout`, the first live replica in list order
//!   takes over (an *unclean* election: it may lack records the old leader had confirmed
//!   with `acks=1`), and the new **epoch** starts at its log end. A broker that restarts
//!   listens for one `broker_timeout` before taking part in elections, then follows the
//!   leader it hears.
//! * A follower whose epoch differs from the leader's is told the epoch's start (`Resync`)
//!   and truncates its log there. Records it had itself confirmed to a producer as leader
//!   with `acks=0/1` and now drops are **lost** (`lost_unreplicated`): confirmed, yet gone
//!   from the cluster. The count is taken when the old leader rejoins; one failover per
//!   partition between rejoins is resolved exactly (older epochs are not remembered).
//! * A publish reaching a broker that does not lead its partition is answered `NotLeader`
//!   with the leader it believes in; producers follow the hint.

use std::collections::VecDeque;

use clustersim_engine::{ComponentId, Ctx, SimTime};

use super::{Msg as MMsg, POISON, Timer as MTimer};
use crate::{Cluster, Msg, Timer};

/// Flag of a stored record: this broker confirmed it before it was replicated.
pub(super) const CONFIRMED_EARLY: u8 = 0x80;

/// Replication state of one partition on one broker.
#[derive(Clone, Debug)]
pub(super) struct Repl {
    /// Cluster indices of the replicas, preferred leader first.
    pub(super) replicas: Vec<u16>,
    /// The leader this broker believes in.
    pub(super) leader: Option<u16>,
    /// Start offset of the epoch this broker leads or follows.
    pub(super) base: u64,
    /// Leader only: each replica's acknowledged log end (by position in `replicas`).
    pub(super) acked: Vec<u64>,
    /// Leader only: the high watermark.
    pub(super) hw: u64,
    /// Leader only: `acks=all` confirms waiting for the watermark: (offset, producer, id).
    pub(super) pending: VecDeque<(u64, ComponentId, u32)>,
}

/// What this broker knows of its peers.
#[derive(Clone, Debug)]
pub(super) struct Peers {
    pub(super) me: u16,
    pub(super) last_seen: Vec<SimTime>,
    pub(super) claims: Vec<u64>,
    /// No elections before this instant (after a restart: listen first).
    pub(super) quiet_until: SimTime,
}

impl Peers {
    /// Whether broker `i` is believed alive at `now`.
    pub(super) fn alive(
        &self,
        i: u16,
        now: SimTime,
        timeout: clustersim_engine::SimDuration,
    ) -> bool {
        i == self.me || now.saturating_since(self.last_seen[usize::from(i)]) < timeout
    }
}

/// The replicas of partition `g` on a cluster of `n` brokers.
pub(super) fn replicas_of(g: usize, n: usize, replication: u16) -> Vec<u16> {
    (0..usize::from(replication))
        .map(|i| ((g + i) % n) as u16)
        .collect()
}

impl super::LogBroker {
    pub(super) fn peer_index(&self, id: ComponentId) -> Option<u16> {
        self.cfg
            .cluster
            .iter()
            .position(|c| *c == id)
            .map(|i| i as u16)
    }

    fn me(&self) -> u16 {
        self.cfg.index
    }

    fn leads(&self, g: usize) -> bool {
        self.repl[g].leader == Some(self.me())
    }

    fn send_peer(&self, cx: &mut Ctx<'_, Cluster>, i: u16, m: MMsg) {
        cx.send_with(
            self.cfg.cluster[usize::from(i)],
            Msg::Messaging(m),
            self.cfg.transport,
            0,
        );
    }

    /// Cluster mode: a publish to partition `g`. Returns `false` (and answers `NotLeader`)
    /// when this broker does not lead it.
    pub(super) fn check_leader(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        from: ComponentId,
        id: u32,
        g: usize,
    ) -> bool {
        if self.leads(g) {
            return true;
        }
        cx.count(self.s.not_leader, 1);
        let leader = self.repl[g].leader.unwrap_or(u16::MAX);
        let m = MMsg::NotLeader { id, leader };
        cx.send_with(from, Msg::Messaging(m), self.cfg.transport, 0);
        false
    }

    /// Cluster mode: after the leader appended `offset` to `g`: replicate, then confirm per
    /// `acks` (0 none, 1 leader, 2 all).
    pub(super) fn replicate(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        g: usize,
        offset: u64,
        producer: ComponentId,
        id: u32,
        acks: u8,
    ) {
        // Followers pull the record at their next fetch.
        match acks {
            0 => {}
            1 => {
                let c = MMsg::Confirm {
                    id,
                    ok: true,
                    offset,
                };
                cx.send_with(producer, Msg::Messaging(c), self.cfg.transport, 0);
            }
            _ => self.repl[g].pending.push_back((offset, producer, id)),
        }
        self.advance_hw(cx, g);
    }

    /// Leader: recomputes the high watermark and sends the `acks=all` confirms it releases.
    pub(super) fn advance_hw(&mut self, cx: &mut Ctx<'_, Cluster>, g: usize) {
        if !self.leads(g) {
            return;
        }
        let now = cx.now();
        let mut hw = self.parts[g].end;
        for (pos, &r) in self.repl[g].replicas.iter().enumerate() {
            if r != self.me() && self.peers.alive(r, now, self.cfg.broker_timeout) {
                hw = hw.min(self.repl[g].acked[pos]);
            }
        }
        let rp = &mut self.repl[g];
        rp.hw = hw;
        while rp.pending.front().is_some_and(|p| p.0 < hw) {
            let (offset, producer, id) = rp.pending.pop_front().expect("front");
            let c = MMsg::Confirm {
                id,
                ok: true,
                offset,
            };
            cx.send_with(producer, Msg::Messaging(c), self.cfg.transport, 0);
        }
    }

    /// Every `heartbeat`: tell the peers what this broker leads, follow or elect leaders,
    /// release confirms of followers that left the in-sync set.
    pub(super) fn tick(&mut self, cx: &mut Ctx<'_, Cluster>) {
        let mut leading = 0u64;
        for g in 0..self.repl.len() {
            if self.leads(g) {
                leading |= 1 << g;
            }
        }
        for i in 0..self.cfg.cluster.len() as u16 {
            if i != self.me() {
                self.send_peer(cx, i, MMsg::BrokerHeartbeat { leading });
            }
        }
        if cx.now() >= self.peers.quiet_until {
            for g in 0..self.repl.len() {
                self.reconcile(cx, g);
            }
        }
        for g in 0..self.repl.len() {
            self.advance_hw(cx, g);
        }
        cx.set_timer(self.cfg.heartbeat, Timer::Messaging(MTimer::BrokerTick));
    }

    fn reconcile(&mut self, cx: &mut Ctx<'_, Cluster>, g: usize) {
        let me = self.me();
        let now = cx.now();
        let timeout = self.cfg.broker_timeout;
        let replicas = self.repl[g].replicas.clone();
        let Some(my_pos) = replicas.iter().position(|&r| r == me) else {
            return;
        };
        // Live peers claiming the partition, in replica order.
        let claimant = replicas.iter().copied().find(|&r| {
            r != me
                && self.peers.alive(r, now, timeout)
                && self.peers.claims[usize::from(r)] & (1 << g) != 0
        });
        if self.leads(g) {
            // Two claimants (after a partition heals): the earlier replica keeps it.
            if let Some(c) = claimant {
                let c_pos = replicas.iter().position(|&r| r == c).expect("replica");
                if c_pos < my_pos {
                    self.follow(cx, g, c);
                }
            }
            return;
        }
        match claimant {
            Some(c) => {
                if self.repl[g].leader != Some(c) {
                    self.follow(cx, g, c);
                }
            }
            None => {
                let current = self.repl[g].leader;
                if current.is_some_and(|l| l != me && self.peers.alive(l, now, timeout)) {
                    return; // It has not claimed yet; wait for its heartbeat.
                }
                let first = replicas
                    .iter()
                    .copied()
                    .find(|&r| self.peers.alive(r, now, timeout));
                match first {
                    Some(f) if f == me => self.take_over(cx, g),
                    other => self.repl[g].leader = other,
                }
            }
        }
    }

    /// Follower: pull every followed partition from its leader.
    pub(super) fn fetch_tick(&mut self, cx: &mut Ctx<'_, Cluster>) {
        let now = cx.now();
        for g in 0..self.repl.len() {
            let rp = &self.repl[g];
            let Some(l) = rp.leader else {
                continue;
            };
            if l == self.me()
                || !rp.replicas.contains(&self.me())
                || !self.peers.alive(l, now, self.cfg.broker_timeout)
            {
                continue;
            }
            let m = MMsg::ReplicaFetch {
                partition: g as u16,
                from: self.parts[g].end,
                base: rp.base,
            };
            self.send_peer(cx, l, m);
        }
        cx.set_timer(
            self.cfg.replica_fetch_interval,
            Timer::Messaging(MTimer::ReplicaFetch),
        );
    }

    fn follow(&mut self, cx: &mut Ctx<'_, Cluster>, g: usize, leader: u16) {
        let rp = &mut self.repl[g];
        rp.leader = Some(leader);
        rp.pending.clear();
        let m = MMsg::ReplicaFetch {
            partition: g as u16,
            from: self.parts[g].end,
            base: rp.base,
        };
        self.send_peer(cx, leader, m);
    }

    fn take_over(&mut self, cx: &mut Ctx<'_, Cluster>, g: usize) {
        cx.count(self.s.failovers, 1);
        let end = self.parts[g].end;
        let me = self.me();
        let rp = &mut self.repl[g];
        rp.leader = Some(me);
        rp.base = end;
        rp.acked.iter_mut().for_each(|a| *a = 0);
        rp.hw = 0;
        rp.pending.clear();
    }

    /// Handles the replication messages; `false` if `m` is not one.
    pub(super) fn on_replication(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        from: ComponentId,
        m: MMsg,
    ) -> bool {
        let Some(peer) = self.peer_index(from) else {
            return false;
        };
        match m {
            MMsg::BrokerHeartbeat { leading } => {
                self.peers.last_seen[usize::from(peer)] = cx.now();
                self.peers.claims[usize::from(peer)] = leading;
            }
            MMsg::Replica {
                partition,
                flags,
                offset,
                born,
                key,
            } => {
                let g = usize::from(partition);
                if g >= self.repl.len() || self.leads(g) {
                    return true;
                }
                self.repl[g].leader = Some(peer);
                let end = self.parts[g].end;
                if offset == end {
                    self.push_record(g, super::log::LRec { key, born, flags });
                }
                // Records arrive in offset order; a gap is filled by the next fetch.
            }
            MMsg::ReplicaAck { partition, end } => {
                let g = usize::from(partition);
                if g < self.repl.len() && self.leads(g) {
                    if let Some(pos) = self.repl[g].replicas.iter().position(|&r| r == peer) {
                        let a = &mut self.repl[g].acked[pos];
                        *a = (*a).max(end);
                    }
                    self.advance_hw(cx, g);
                }
            }
            MMsg::ReplicaFetch {
                partition,
                from,
                base,
            } => {
                let g = usize::from(partition);
                if g >= self.repl.len() || !self.leads(g) {
                    return true;
                }
                if base != self.repl[g].base {
                    let r = MMsg::Resync {
                        partition,
                        base: self.repl[g].base,
                    };
                    self.send_peer(cx, peer, r);
                    return true;
                }
                if let Some(pos) = self.repl[g].replicas.iter().position(|&r| r == peer) {
                    self.repl[g].acked[pos] = from.min(self.parts[g].end);
                }
                let part = &self.parts[g];
                for off in from.max(part.base)..part.end {
                    let r = part.log[(off - part.base) as usize];
                    let m = MMsg::Replica {
                        partition,
                        flags: r.flags & POISON,
                        offset: off,
                        born: r.born,
                        key: r.key,
                    };
                    self.send_peer(cx, peer, m);
                }
                self.advance_hw(cx, g);
            }
            MMsg::Resync { partition, base } => {
                let g = usize::from(partition);
                if g >= self.repl.len() || self.leads(g) {
                    return true;
                }
                let mut lost = 0u64;
                let part = &mut self.parts[g];
                while part.end > base && part.end > part.base {
                    let r = part.log.pop_back().expect("end > base");
                    part.end -= 1;
                    if r.flags & CONFIRMED_EARLY != 0 {
                        lost += 1;
                    }
                }
                if lost > 0 {
                    cx.count(self.s.lost_unreplicated, lost);
                }
                self.repl[g].base = base;
                self.repl[g].leader = Some(peer);
                let f = MMsg::ReplicaFetch {
                    partition,
                    from: self.parts[g].end,
                    base,
                };
                self.send_peer(cx, peer, f);
            }
            _ => return false,
        }
        true
    }

    /// Crash: leadership and peer knowledge are volatile, the logs are not.
    pub(super) fn repl_crash(&mut self) {
        for rp in &mut self.repl {
            rp.leader = None;
            rp.pending.clear();
        }
        self.peers.claims.iter_mut().for_each(|c| *c = 0);
    }

    /// Restart: listen for one `broker_timeout` before electing anyone.
    pub(super) fn repl_restart(&mut self, cx: &mut Ctx<'_, Cluster>) {
        let now = cx.now();
        self.peers.last_seen.iter_mut().for_each(|t| *t = now);
        self.peers.quiet_until = now + self.cfg.broker_timeout;
    }
}
