//! CQRS: a write model handles commands and publishes an event per committed write; read
//! models (materialised views) project the events asynchronously and answer queries.
//!
//! # Write model ([`WriteModel`], kind `cqrs_write`)
//!
//! Every request goes to its data store (`store`, a `Service`). When the store answers `Ok`
//! to a **write**, the write is committed at version = the commit time in ns (bumped to stay
//! strictly increasing) and an event `(key, version)` is sent to every read model; the
//! client's answer carries the version. Reads sent to the write model are answered from the
//! store (consistent reads on the write side: they count in `queries`, showing the load
//! split).
//!
//! # Read model ([`ReadModel`], kind `cqrs_read`)
//!
//! Events wait `projection_delay` (the pipeline between the event stream and the projector:
//! polling interval, broker lag) and are then applied one at a time, in arrival order, each
//! taking `apply_time` (so the projector applies at most `1 / apply_time` events per
//! second). A write burst above that throughput builds a backlog: the projection lag grows,
//! and shrinks once the burst is over. Events from several write models (e.g. orders and
//! payments) update the same view (a join keyed by order id).
//!
//! Queries (`Read` requests) are answered from the view, optionally after a call to its own
//! store (`store`: the query database's work). A read is **stale** when the read model has
//! received an event for the key that it has not applied yet; `staleness_ns` is then the age
//! of the oldest such event (how far behind the answer is). Events still on the network are
//! not known yet, so this is a lower bound by one network delay. Other requests are refused
//! (`Rejected`): the read side takes no commands.
//!
//! # Metrics
//!
//! Write model: `arrivals`, `completed`, `errors`, `commands` (writes), `queries` (reads),
//! `events_published`, `latency_ns`, `write_latency_ns`, `read_latency_ns`, `in_system`.
//!
//! Read model: `arrivals`, `completed`, `errors`, `rejected`, `events_received`,
//! `events_applied`, `stale_reads`, `fresh_reads`, `projection_lag_ns` (histogram: commit →
//! applied, per window in timeseries.csv: the lag over time), `staleness_ns` (histogram,
//! stale reads only), `latency_ns` (queries), `in_system` (queries in progress), `backlog`
//! (gauge: events received and not applied), `view_keys` (gauge).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use clustersim_engine::{
    Component, ComponentId, Ctx, DropCause, Recorder, SeriesId, SimDuration, SimTime, Transport,
};

use super::Slab;
use crate::Cluster;
use crate::error::ConfigError;
use crate::msg::{Op, Request, Response, Status};

/// A CQRS write model.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteModelConfig {
    /// The write database (a `Service`).
    pub store: ComponentId,
    /// The read models every committed write is published to.
    pub read_models: Vec<ComponentId>,
    /// Wire size of one event. Default 100 bytes.
    pub event_size_bytes: u32,
    /// Transport. Default [`Transport::Stream`].
    pub transport: Transport,
}

impl WriteModelConfig {
    /// A write model over `store` publishing to `read_models`, other fields at defaults.
    pub fn new(store: ComponentId, read_models: Vec<ComponentId>) -> WriteModelConfig {
        WriteModelConfig {
            store,
            read_models,
            event_size_bytes: 100,
            transport: Transport::Stream,
        }
    }

    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (i, r) in self.read_models.iter().enumerate() {
            if self.read_models[..i].contains(r) {
                return Err(ConfigError::new(
                    format!("read_models[{i}]"),
                    "is listed twice: every event would be applied twice",
                ));
            }
        }
        Ok(())
    }
}

/// A CQRS read model (projector and query side).
#[derive(Clone, Debug, PartialEq)]
pub struct ReadModelConfig {
    /// Delay before a received event can be applied. Default 0.
    pub projection_delay: SimDuration,
    /// Time to apply one event (one at a time): the throughput limit is `1 / apply_time`.
    /// Default 1 ms.
    pub apply_time: SimDuration,
    /// The query database queries call before answering (a `Service`). Default none.
    pub store: Option<ComponentId>,
    /// Transport. Default [`Transport::Stream`].
    pub transport: Transport,
}

impl ReadModelConfig {
    /// A read model with the given delay and apply time, no store.
    pub fn new(projection_delay: SimDuration, apply_time: SimDuration) -> ReadModelConfig {
        ReadModelConfig {
            projection_delay,
            apply_time,
            store: None,
            transport: Transport::Stream,
        }
    }

    /// Checks every field against its documented range (every value is allowed today).
    pub fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    from: ComponentId,
    req: Request,
    arrival: SimTime,
}

#[derive(Clone, Debug)]
struct WriteMetrics {
    arrivals: SeriesId,
    completed: SeriesId,
    errors: SeriesId,
    commands: SeriesId,
    queries: SeriesId,
    events: SeriesId,
    latency: SeriesId,
    write_latency: SeriesId,
    read_latency: SeriesId,
    in_system: SeriesId,
}

/// The CQRS write model (see the module docs).
#[derive(Debug)]
pub struct WriteModel {
    cfg: WriteModelConfig,
    me: ComponentId,
    last_version: u64,
    pending: Slab<Pending>,
    m: WriteMetrics,
}

impl WriteModel {
    /// Builds the write model and registers its metrics.
    pub fn new(cfg: &WriteModelConfig, me: ComponentId, rec: &mut Recorder) -> WriteModel {
        let o = Some(me);
        WriteModel {
            cfg: cfg.clone(),
            me,
            last_version: 0,
            pending: Slab::default(),
            m: WriteMetrics {
                arrivals: rec.counter(o, "arrivals"),
                completed: rec.counter(o, "completed"),
                errors: rec.counter(o, "errors"),
                commands: rec.counter(o, "commands"),
                queries: rec.counter(o, "queries"),
                events: rec.counter(o, "events_published"),
                latency: rec.histogram(o, "latency_ns"),
                write_latency: rec.histogram(o, "write_latency_ns"),
                read_latency: rec.histogram(o, "read_latency_ns"),
                in_system: rec.gauge(o, "in_system"),
            },
        }
    }

    fn answer(&mut self, cx: &mut Ctx<'_, Cluster>, p: Pending, status: Status, version: u64) {
        let resp = Response {
            id: p.req.id,
            status,
            size_bytes: 0,
            version,
        };
        cx.send_with(p.from, resp.into(), self.cfg.transport, 0);
        let lat = (cx.now() - p.arrival).as_nanos();
        cx.record(self.m.latency, lat);
        cx.record(
            if p.req.op == Op::Write {
                self.m.write_latency
            } else {
                self.m.read_latency
            },
            lat,
        );
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

    fn on_store_answer(&mut self, cx: &mut Ctx<'_, Cluster>, id: u64, status: Status) {
        let Some(p) = self.pending.remove(id) else {
            return;
        };
        if !status.is_ok() {
            self.answer(cx, p, Status::Error, 0);
            return;
        }
        if p.req.op != Op::Write {
            self.answer(cx, p, Status::Ok, 0);
            return;
        }
        let version = cx.now().as_nanos().max(self.last_version + 1);
        self.last_version = version;
        let ev = super::Msg::Event {
            key: p.req.key,
            version,
            source: self.me,
        };
        for i in 0..self.cfg.read_models.len() {
            let to = self.cfg.read_models[i];
            cx.send_with(to, ev.into(), self.cfg.transport, self.cfg.event_size_bytes);
            cx.count(self.m.events, 1);
        }
        self.answer(cx, p, Status::Ok, version);
    }
}

impl Component<Cluster> for WriteModel {
    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: crate::Msg) {
        match msg {
            crate::Msg::Request(req) => {
                cx.count(self.m.arrivals, 1);
                cx.gauge_add(self.m.in_system, 1);
                cx.count(
                    if req.op == Op::Write {
                        self.m.commands
                    } else {
                        self.m.queries
                    },
                    1,
                );
                let id = self.pending.insert(Pending {
                    from,
                    req,
                    arrival: cx.now(),
                });
                let fwd = Request { id, ..req };
                cx.send_with(
                    self.cfg.store,
                    fwd.into(),
                    self.cfg.transport,
                    req.size_bytes,
                );
            }
            crate::Msg::Response(r) if from == self.cfg.store => {
                self.on_store_answer(cx, r.id, r.status)
            }
            crate::Msg::Probe { seq } => {
                cx.send_with(from, crate::Msg::ProbeReply { seq }, self.cfg.transport, 0)
            }
            _ => {}
        }
    }

    fn on_send_failed(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        to: ComponentId,
        msg: crate::Msg,
        _cause: DropCause,
    ) {
        if let crate::Msg::Request(r) = msg
            && to == self.cfg.store
        {
            self.on_store_answer(cx, r.id, Status::Error);
        }
    }

    fn on_crash(&mut self) {
        self.pending.clear();
    }

    fn on_restart(&mut self, cx: &mut Ctx<'_, Cluster>) {
        cx.gauge_set(self.m.in_system, 0);
    }
}

#[derive(Clone, Debug)]
struct ReadMetrics {
    arrivals: SeriesId,
    completed: SeriesId,
    errors: SeriesId,
    rejected: SeriesId,
    received: SeriesId,
    applied: SeriesId,
    stale: SeriesId,
    fresh: SeriesId,
    lag: SeriesId,
    staleness: SeriesId,
    latency: SeriesId,
    in_system: SeriesId,
    backlog: SeriesId,
    view_keys: SeriesId,
}

/// The CQRS read model (see the module docs).
#[derive(Debug)]
pub struct ReadModel {
    cfg: ReadModelConfig,
    /// key → version of the newest applied event.
    view: BTreeMap<u64, u64>,
    /// `(eligible at, key, version)` in arrival order.
    queue: VecDeque<(SimTime, u64, u64)>,
    /// `(key, version)` of every received, unapplied event (the stale-read oracle).
    unapplied: BTreeSet<(u64, u64)>,
    busy: bool,
    queries: Slab<Pending>,
    m: ReadMetrics,
}

impl ReadModel {
    /// Builds the read model and registers its metrics.
    pub fn new(cfg: &ReadModelConfig, me: ComponentId, rec: &mut Recorder) -> ReadModel {
        let o = Some(me);
        ReadModel {
            cfg: cfg.clone(),
            view: BTreeMap::new(),
            queue: VecDeque::with_capacity(256),
            unapplied: BTreeSet::new(),
            busy: false,
            queries: Slab::default(),
            m: ReadMetrics {
                arrivals: rec.counter(o, "arrivals"),
                completed: rec.counter(o, "completed"),
                errors: rec.counter(o, "errors"),
                rejected: rec.counter(o, "rejected"),
                received: rec.counter(o, "events_received"),
                applied: rec.counter(o, "events_applied"),
                stale: rec.counter(o, "stale_reads"),
                fresh: rec.counter(o, "fresh_reads"),
                lag: rec.histogram(o, "projection_lag_ns"),
                staleness: rec.histogram(o, "staleness_ns"),
                latency: rec.histogram(o, "latency_ns"),
                in_system: rec.gauge(o, "in_system"),
                backlog: rec.gauge_persistent(o, "backlog"),
                view_keys: rec.gauge_persistent(o, "view_keys"),
            },
        }
    }

    /// Versions of the view, for tests: key → newest applied version.
    pub fn view(&self) -> &BTreeMap<u64, u64> {
        &self.view
    }

    fn start_next(&mut self, cx: &mut Ctx<'_, Cluster>) {
        if self.busy {
            return;
        }
        let Some(&(eligible, _, _)) = self.queue.front() else {
            return;
        };
        self.busy = true;
        let now = cx.now();
        let wait = eligible.saturating_since(now);
        cx.set_timer(
            wait + cx.scaled(self.cfg.apply_time),
            super::Timer::ApplyDone.into(),
        );
    }

    fn apply(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.busy = false;
        let Some((_, key, version)) = self.queue.pop_front() else {
            return;
        };
        self.unapplied.remove(&(key, version));
        let v = self.view.entry(key).or_insert(0);
        *v = (*v).max(version);
        cx.count(self.m.applied, 1);
        cx.record(self.m.lag, cx.now().as_nanos().saturating_sub(version));
        cx.gauge_add(self.m.backlog, -1);
        cx.gauge_set(self.m.view_keys, self.view.len() as i64);
        self.start_next(cx);
    }

    fn answer(&mut self, cx: &mut Ctx<'_, Cluster>, p: Pending, ok: bool) {
        let now = cx.now();
        let key = p.req.key;
        if ok {
            match self.unapplied.range((key, 0)..=(key, u64::MAX)).next() {
                Some(&(_, oldest)) => {
                    cx.count(self.m.stale, 1);
                    cx.record(self.m.staleness, now.as_nanos().saturating_sub(oldest));
                }
                None => cx.count(self.m.fresh, 1),
            }
        }
        let resp = Response {
            id: p.req.id,
            status: if ok { Status::Ok } else { Status::Error },
            size_bytes: 0,
            version: self.view.get(&key).copied().unwrap_or(0),
        };
        cx.send_with(p.from, resp.into(), self.cfg.transport, 0);
        cx.record(self.m.latency, (now - p.arrival).as_nanos());
        cx.count(if ok { self.m.completed } else { self.m.errors }, 1);
        cx.gauge_add(self.m.in_system, -1);
    }

    fn on_request(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, req: Request) {
        cx.count(self.m.arrivals, 1);
        if req.op != Op::Read {
            cx.count(self.m.rejected, 1);
            let resp = Response {
                id: req.id,
                status: Status::Rejected,
                size_bytes: 0,
                version: 0,
            };
            cx.send_with(from, resp.into(), self.cfg.transport, 0);
            return;
        }
        cx.gauge_add(self.m.in_system, 1);
        let p = Pending {
            from,
            req,
            arrival: cx.now(),
        };
        match self.cfg.store {
            None => self.answer(cx, p, true),
            Some(store) => {
                let id = self.queries.insert(p);
                let fwd = Request { id, ..req };
                cx.send_with(store, fwd.into(), self.cfg.transport, req.size_bytes);
            }
        }
    }
}

impl Component<Cluster> for ReadModel {
    fn on_start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        cx.gauge_set(self.m.backlog, 0);
        cx.gauge_set(self.m.view_keys, 0);
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: crate::Msg) {
        match msg {
            crate::Msg::Request(req) => self.on_request(cx, from, req),
            crate::Msg::Response(r) if Some(from) == self.cfg.store => {
                if let Some(p) = self.queries.remove(r.id) {
                    self.answer(cx, p, r.status.is_ok());
                }
            }
            crate::Msg::Pattern(super::Msg::Event { key, version, .. }) => {
                cx.count(self.m.received, 1);
                if !self.unapplied.insert((key, version)) {
                    return; // a redelivered event
                }
                cx.gauge_add(self.m.backlog, 1);
                let eligible = cx.now() + self.cfg.projection_delay;
                self.queue.push_back((eligible, key, version));
                self.start_next(cx);
            }
            crate::Msg::Probe { seq } => {
                cx.send_with(from, crate::Msg::ProbeReply { seq }, self.cfg.transport, 0)
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, t: crate::Timer) {
        if let crate::Timer::Pattern(super::Timer::ApplyDone) = t {
            self.apply(cx);
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
            && let Some(p) = self.queries.remove(r.id)
        {
            self.answer(cx, p, false);
        }
    }

    fn on_crash(&mut self) {
        // The view and the event queue are durable (a database and a log); the query in
        // progress and the apply in progress are lost (the apply restarts).
        self.queries.clear();
        self.busy = false;
    }

    fn on_restart(&mut self, cx: &mut Ctx<'_, Cluster>) {
        cx.gauge_set(self.m.in_system, 0);
        self.start_next(cx);
    }
}
