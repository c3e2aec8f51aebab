//! The [`Producer`]: publishes messages at a rate, with a bounded window of unconfirmed
//! publishes and a bounded buffer behind it.

use std::collections::VecDeque;

use clustersim_engine::rng::{below, chance, unit_f64};
use clustersim_engine::{
    Component, ComponentId, Ctx, DropCause, Recorder, SeriesId, SimDuration, SimTime,
};

use super::config::{Acks, Destination, Partitioner, ProducerConfig};
use super::{Msg as MMsg, POISON, Timer as MTimer};
use crate::{Cluster, Msg, Timer};

/// A message not yet sent (waiting in the buffer) or not yet confirmed.
#[derive(Clone, Copy, Debug)]
struct Pending {
    key: u32,
    born: SimTime,
    flags: u8,
    sent_at: SimTime,
    done: bool,
    dest: u16,
    route: u16,
}

struct Series {
    requests: SeriesId,
    ok: SeriesId,
    failed: SeriesId,
    rejected: SeriesId,
    dropped: SeriesId,
    timeouts: SeriesId,
    redirects: SeriesId,
    buffered: SeriesId,
    latency: SeriesId,
}

/// Publishes messages to a queue broker's exchange or a log broker's topic. See the module
/// docs of [`crate::messaging`].
pub struct Producer {
    cfg: ProducerConfig,
    s: Series,
    mean_gap_ns: f64,
    /// Unconfirmed publishes, by id: `inflight[i]` has id `base_id + i`.
    inflight: VecDeque<Pending>,
    base_id: u32,
    /// Unconfirmed publishes not yet `done` (the window in use).
    outstanding: u32,
    buffer: VecDeque<Pending>,
    created: u64,
    next_partition: u16,
    sweeping: bool,
    /// Brokers publishes may go to: `cfg.cluster`, or just `cfg.broker`.
    brokers: Vec<ComponentId>,
    /// Per partition, the index in `brokers` of the leader believed.
    leader_of: Vec<u16>,
    /// Per broker: a send to it failed; do not follow hints to it before this instant.
    suspect_until: Vec<SimTime>,
    /// Publishes waiting for `retry_backoff` before being re-sent.
    parked: Vec<u32>,
    resending: bool,
}

impl Producer {
    /// Builds the producer, registering its series.
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &ProducerConfig, me: ComponentId, m: &mut Recorder) -> Producer {
        if let Err(e) = cfg.validate() {
            panic!("invalid producer config: {e}");
        }
        let o = Some(me);
        let s = Series {
            requests: m.counter(o, "requests"),
            ok: m.counter(o, "ok"),
            failed: m.counter(o, "failed"),
            rejected: m.counter(o, "rejected"),
            dropped: m.counter(o, "dropped"),
            timeouts: m.counter(o, "timeouts"),
            redirects: m.counter(o, "redirects"),
            buffered: m.gauge(o, "buffered"),
            latency: m.histogram(o, "latency_ns"),
        };
        Producer {
            cfg: cfg.clone(),
            s,
            mean_gap_ns: 1e9 / cfg.rate_per_s,
            inflight: VecDeque::new(),
            base_id: 0,
            outstanding: 0,
            buffer: VecDeque::new(),
            created: 0,
            next_partition: 0,
            sweeping: false,
            brokers: if cfg.cluster.is_empty() {
                vec![cfg.broker]
            } else {
                cfg.cluster.clone()
            },
            leader_of: Vec::new(),
            suspect_until: Vec::new(),
            parked: Vec::new(),
            resending: false,
        }
        .with_leaders()
    }

    fn with_leaders(mut self) -> Producer {
        let first = self
            .brokers
            .iter()
            .position(|b| *b == self.cfg.broker)
            .unwrap_or(0) as u16;
        self.leader_of = vec![first; usize::from(super::config::MAX_PARTITIONS)];
        self.suspect_until = vec![SimTime::ZERO; self.brokers.len()];
        self
    }

    /// (Re)sends publish `id`: topics go to the partition's believed leader.
    fn transmit(&self, cx: &mut Ctx<'_, Cluster>, id: u32, p: &Pending) {
        let to = match self.cfg.destination {
            Destination::Topic { .. } => {
                self.brokers[usize::from(self.leader_of[usize::from(p.route)]) % self.brokers.len()]
            }
            Destination::Exchange { .. } => self.cfg.broker,
        };
        let msg = Msg::Messaging(MMsg::Publish {
            id,
            key: p.key,
            born: p.born,
            dest: p.dest,
            route: p.route,
            flags: p.flags,
        });
        cx.send_with(to, msg, self.cfg.transport, self.cfg.size_bytes);
    }

    /// Publish `id` went to a broker that is not (or no longer) reachable or the leader:
    /// try `hint` (a cluster index), or the next broker, unless it already timed out.
    fn redirect(&mut self, cx: &mut Ctx<'_, Cluster>, id: u32, hint: Option<u16>) -> bool {
        let i = id.wrapping_sub(self.base_id) as usize;
        let Some(p) = self.inflight.get(i).copied() else {
            return false;
        };
        if p.done || self.brokers.len() < 2 {
            return false;
        }
        let n = self.brokers.len() as u16;
        let now = cx.now();
        let slot = &mut self.leader_of[usize::from(p.route)];
        *slot = match hint {
            Some(h) if h < n => h,
            _ => (*slot + 1) % n,
        };
        cx.count(self.s.redirects, 1);
        if now < self.suspect_until[usize::from(*slot)] {
            // Pointed back at a broker that just failed (the cluster has not noticed yet):
            // retry after `retry_backoff`, like Kafka's `retry.backoff.ms`.
            self.parked.push(id);
            if !self.resending {
                self.resending = true;
                cx.set_timer(self.cfg.retry_backoff, Timer::Messaging(MTimer::Resend));
            }
        } else {
            self.transmit(cx, id, &p);
        }
        true
    }

    /// Re-sends the parked publishes still outstanding, skipping suspect brokers.
    fn resend(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.resending = false;
        let now = cx.now();
        let n = self.brokers.len() as u16;
        for id in std::mem::take(&mut self.parked) {
            let i = id.wrapping_sub(self.base_id) as usize;
            let Some(p) = self.inflight.get(i).copied() else {
                continue;
            };
            if p.done {
                continue;
            }
            let slot = &mut self.leader_of[usize::from(p.route)];
            if now < self.suspect_until[usize::from(*slot)] {
                *slot = (*slot + 1) % n;
            }
            self.transmit(cx, id, &p);
        }
    }

    fn gap(&self, cx: &mut Ctx<'_, Cluster>) -> SimDuration {
        let ns = if self.cfg.poisson {
            // Inverse-CDF exponential draw; 1 - u is in (0, 1].
            -self.mean_gap_ns * libm::log(1.0 - unit_f64(cx.rng()))
        } else {
            self.mean_gap_ns
        };
        SimDuration::from_nanos(ns.round().max(1.0) as u64)
    }

    fn acks(&self) -> Acks {
        match self.cfg.destination {
            Destination::Topic { acks, .. } => acks,
            Destination::Exchange { .. } => Acks::Leader,
        }
    }

    /// Picks `(dest, route)` for a message with `key`.
    fn address(&mut self, cx: &mut Ctx<'_, Cluster>, key: u32) -> (u16, u16) {
        match &self.cfg.destination {
            Destination::Exchange {
                exchange,
                routing_keys,
            } => {
                let r = match routing_keys.len() {
                    0 => 0,
                    1 => routing_keys[0],
                    n => routing_keys[below(cx.rng(), n as u64) as usize],
                };
                (*exchange, r)
            }
            Destination::Topic {
                topic,
                partitions,
                partitioner,
                ..
            } => {
                let p = match *partitioner {
                    Partitioner::KeyHash => super::routing::key_partition(key, *partitions),
                    Partitioner::Explicit(p) => p,
                    Partitioner::RoundRobin => {
                        let p = self.next_partition % *partitions;
                        self.next_partition = (p + 1) % *partitions;
                        p
                    }
                };
                (*topic, p)
            }
        }
    }

    fn send(&mut self, cx: &mut Ctx<'_, Cluster>, mut p: Pending) {
        let (dest, route) = self.address(cx, p.key);
        let acks = self.acks();
        p.flags |= match acks {
            Acks::None => 0,
            Acks::Leader => 2,
            Acks::All => 4,
        };
        p.dest = dest;
        p.route = route;
        let id = self.base_id.wrapping_add(self.inflight.len() as u32);
        self.transmit(cx, id, &p);
        if acks == Acks::None {
            cx.count(self.s.ok, 1);
            cx.record(self.s.latency, cx.now().saturating_since(p.born).as_nanos());
            return;
        }
        p.sent_at = cx.now();
        self.inflight.push_back(p);
        self.outstanding += 1;
        if !self.sweeping {
            self.sweeping = true;
            cx.set_timer(
                self.cfg.confirm_timeout,
                Timer::Messaging(MTimer::ConfirmSweep),
            );
        }
    }

    fn drain(&mut self, cx: &mut Ctx<'_, Cluster>) {
        while self.outstanding < self.cfg.max_in_flight {
            let Some(p) = self.buffer.pop_front() else {
                break;
            };
            cx.gauge_add(self.s.buffered, -1);
            self.send(cx, p);
        }
        while self.inflight.front().is_some_and(|p| p.done) {
            self.inflight.pop_front();
            self.base_id = self.base_id.wrapping_add(1);
        }
    }

    fn produce(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.created += 1;
        cx.count(self.s.requests, 1);
        let key = below(cx.rng(), u64::from(self.cfg.keys)) as u32;
        let poison = self.cfg.poison_fraction > 0.0 && chance(cx.rng(), self.cfg.poison_fraction);
        let p = Pending {
            key,
            born: cx.now(),
            flags: if poison { POISON } else { 0 },
            sent_at: cx.now(),
            done: false,
            dest: 0,
            route: 0,
        };
        if self.outstanding < self.cfg.max_in_flight && self.buffer.is_empty() {
            self.send(cx, p);
        } else if self.buffer.len() < self.cfg.buffer as usize {
            self.buffer.push_back(p);
            cx.gauge_add(self.s.buffered, 1);
        } else {
            cx.count(self.s.dropped, 1);
            cx.count(self.s.failed, 1);
        }
    }

    /// Marks publish `id` answered; returns it if it was still outstanding.
    fn settle(&mut self, id: u32) -> Option<Pending> {
        let i = id.wrapping_sub(self.base_id) as usize;
        let p = self.inflight.get_mut(i)?;
        if p.done {
            return None;
        }
        p.done = true;
        self.outstanding -= 1;
        Some(*p)
    }
}

impl Component<Cluster> for Producer {
    fn on_start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.sweeping = false;
        let first = self.gap(cx);
        cx.set_timer(first, Timer::Messaging(MTimer::Produce));
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, _from: ComponentId, msg: Msg) {
        let (id, ok) = match msg {
            Msg::Messaging(MMsg::Confirm { id, ok, .. }) => (id, ok),
            Msg::Messaging(MMsg::NotLeader { id, leader }) => {
                // No leader known (an election is under way): the publish fails, as a
                // producer without retries would see it.
                if leader != u16::MAX && self.redirect(cx, id, Some(leader)) {
                    return;
                }
                (id, false)
            }
            _ => return,
        };
        let Some(p) = self.settle(id) else {
            return; // Already timed out.
        };
        if ok {
            cx.count(self.s.ok, 1);
            cx.record(self.s.latency, cx.now().saturating_since(p.born).as_nanos());
        } else {
            cx.count(self.s.rejected, 1);
            cx.count(self.s.failed, 1);
        }
        self.drain(cx);
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, timer: Timer) {
        match timer {
            Timer::Messaging(MTimer::Produce) => {
                if self.cfg.limit.is_some_and(|l| self.created >= l) {
                    return;
                }
                self.produce(cx);
                let gap = self.gap(cx);
                cx.set_timer(gap, Timer::Messaging(MTimer::Produce));
            }
            Timer::Messaging(MTimer::Resend) => self.resend(cx),
            Timer::Messaging(MTimer::ConfirmSweep) => {
                let now = cx.now();
                let limit = self.cfg.confirm_timeout;
                let mut expired = 0;
                for p in self.inflight.iter_mut() {
                    if !p.done && now.saturating_since(p.sent_at) >= limit {
                        p.done = true;
                        expired += 1;
                    }
                }
                if expired > 0 {
                    self.outstanding -= expired;
                    cx.count(self.s.timeouts, u64::from(expired));
                    cx.count(self.s.failed, u64::from(expired));
                }
                self.drain(cx);
                if self.outstanding > 0 || !self.inflight.is_empty() {
                    cx.set_timer(
                        SimDuration::from_nanos(limit.as_nanos() / 2 + 1),
                        Timer::Messaging(MTimer::ConfirmSweep),
                    );
                } else {
                    self.sweeping = false;
                }
            }
            _ => {}
        }
    }

    fn on_send_failed(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        to: ComponentId,
        msg: Msg,
        _cause: DropCause,
    ) {
        if let Msg::Messaging(MMsg::Publish { id, .. }) = msg {
            if self.acks() == Acks::None {
                return; // Counted ok at send: fire and forget never learns.
            }
            if let Some(b) = self.brokers.iter().position(|b| *b == to) {
                self.suspect_until[b] = cx.now() + self.cfg.retry_backoff;
            }
            if self.redirect(cx, id, None) {
                return;
            }
            if self.settle(id).is_some() {
                cx.count(self.s.failed, 1);
                self.drain(cx);
            }
        }
    }

    fn on_crash(&mut self) {
        self.base_id = self.base_id.wrapping_add(self.inflight.len() as u32);
        self.inflight.clear();
        self.buffer.clear();
        self.outstanding = 0;
        self.sweeping = false;
        self.parked.clear();
        self.resending = false;
    }
}
