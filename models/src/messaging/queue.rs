//! The RabbitMQ-style [`QueueBroker`] and its push [`QueueConsumer`].

use std::collections::{BTreeMap, VecDeque};

use clustersim_engine::{
    Component, ComponentId, Ctx, DropCause, Recorder, SeriesId, SimDuration, SimTime,
};

use super::config::{AckMode, FullPolicy, QueueBrokerConfig, QueueConsumerConfig};
use super::routing::route;
use super::work::{Job, Workers};
use super::{Msg as MMsg, Timer as MTimer};
use crate::msg::{Response, Status};
use crate::{Cluster, Msg, Timer};

/// Where a stored message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Where {
    /// In its queue's ready list.
    Ready,
    /// Pushed to consumer `holder` (index into the broker's consumers).
    Delivered,
    /// Waiting for its retry backoff.
    Backoff,
}

/// A stored message.
#[derive(Clone, Copy, Debug)]
struct Rec {
    queue: u16,
    key: u32,
    /// Per (queue, key) enqueue number, for the ordering checker.
    seq: u64,
    born: SimTime,
    enqueued: SimTime,
    /// Failed attempts so far.
    failures: u32,
    flags: u8,
    /// Deliveries so far (numbers the visibility timers).
    deliveries: u32,
    holder: u32,
    at: Where,
}

/// A slab slot: a record and the identity it has (bumped when the slot is freed, so an ack
/// for a message already gone is recognised).
#[derive(Clone, Copy, Debug)]
struct Slot {
    ident: u32,
    rec: Option<Rec>,
}

struct Queue {
    ready: VecDeque<u32>,
    consumers: Vec<u32>,
    cursor: usize,
    unacked: i64,
    next_seq: BTreeMap<u32, u64>,
    last_acked: BTreeMap<u32, u64>,
    depth: SeriesId,
    unacked_s: SeriesId,
}

struct ConsumerState {
    id: ComponentId,
    queue: u16,
    prefetch: u32,
    unacked: u32,
    last_seen: SimTime,
    alive: bool,
}

/// A publish waiting for room (`FullPolicy::Block`).
#[derive(Clone, Copy, Debug)]
struct Held {
    from: ComponentId,
    /// Publish id, or the request id for generic requests.
    id: u64,
    request: bool,
    key: u32,
    born: SimTime,
    flags: u8,
}

struct BrokerSeries {
    arrivals: SeriesId,
    completed: SeriesId,
    errors: SeriesId,
    rejected: SeriesId,
    dropped_oldest: SeriesId,
    unroutable: SeriesId,
    deliveries: SeriesId,
    redeliveries: SeriesId,
    retries: SeriesId,
    duplicates: SeriesId,
    dead_lettered: SeriesId,
    discarded: SeriesId,
    finished: SeriesId,
    attempts: SeriesId,
    violations: SeriesId,
    violations_key: Vec<SeriesId>,
    queue_len: SeriesId,
    blocked: SeriesId,
    wait: SeriesId,
    latency: SeriesId,
}

/// A RabbitMQ-style broker. See [`crate::messaging`].
pub struct QueueBroker {
    cfg: QueueBrokerConfig,
    s: BrokerSeries,
    /// `routes[exchange][routing key]`: the queues reached.
    routes: Vec<Vec<Vec<u16>>>,
    /// Queues reached by a generic request.
    request_queues: Vec<u16>,
    queues: Vec<Queue>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    consumers: Vec<ConsumerState>,
    by_id: BTreeMap<ComponentId, u32>,
    held: VecDeque<(Held, Vec<u16>)>,
    /// Scratch list of target queues (no allocation per publish).
    scratch: Vec<u16>,
}

impl QueueBroker {
    /// Builds the broker, precomputing every (exchange, routing key) route.
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &QueueBrokerConfig, me: ComponentId, m: &mut Recorder) -> QueueBroker {
        if let Err(e) = cfg.validate() {
            panic!("invalid queue broker config: {e}");
        }
        let o = Some(me);
        let s = BrokerSeries {
            arrivals: m.counter(o, "arrivals"),
            completed: m.counter(o, "completed"),
            errors: m.counter(o, "errors"),
            rejected: m.counter(o, "rejected"),
            dropped_oldest: m.counter(o, "dropped_oldest"),
            unroutable: m.counter(o, "unroutable"),
            deliveries: m.counter(o, "deliveries"),
            redeliveries: m.counter(o, "redeliveries"),
            retries: m.counter(o, "retries"),
            duplicates: m.counter(o, "duplicates"),
            dead_lettered: m.counter(o, "dead_lettered"),
            discarded: m.counter(o, "discarded"),
            finished: m.counter(o, "finished"),
            attempts: m.counter(o, "attempts"),
            violations: m.counter(o, "ordering_violations"),
            violations_key: (0..cfg.label_keys)
                .map(|k| m.counter(o, &format!("ordering_violations@key={k}")))
                .collect(),
            queue_len: m.gauge(o, "queue_len"),
            blocked: m.gauge(o, "blocked"),
            wait: m.histogram(o, "wait_ns"),
            latency: m.histogram(o, "latency_ns"),
        };
        let queues = (0..cfg.queues.len())
            .map(|q| Queue {
                ready: VecDeque::new(),
                consumers: Vec::new(),
                cursor: 0,
                unacked: 0,
                next_seq: BTreeMap::new(),
                last_acked: BTreeMap::new(),
                depth: m.gauge(o, &format!("depth@queue={q}")),
                unacked_s: m.gauge(o, &format!("unacked@queue={q}")),
            })
            .collect();
        let routes = cfg
            .exchanges
            .iter()
            .map(|x| cfg.routing_keys.iter().map(|k| route(x, k)).collect())
            .collect::<Vec<Vec<Vec<u16>>>>();
        let request_queues = match cfg.request_route {
            Some((e, r)) => routes[usize::from(e)][usize::from(r)].clone(),
            None => vec![0],
        };
        QueueBroker {
            cfg: cfg.clone(),
            s,
            routes,
            request_queues,
            queues,
            slots: Vec::new(),
            free: Vec::new(),
            consumers: Vec::new(),
            by_id: BTreeMap::new(),
            held: VecDeque::new(),
            scratch: Vec::new(),
        }
    }

    fn set_depth(&self, cx: &mut Ctx<'_, Cluster>, q: u16, delta: i64) {
        cx.gauge_add(self.queues[usize::from(q)].depth, delta);
        cx.gauge_add(self.s.queue_len, delta);
    }

    fn alloc(&mut self, rec: Rec) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize].rec = Some(rec);
                i
            }
            None => {
                self.slots.push(Slot {
                    ident: 0,
                    rec: Some(rec),
                });
                (self.slots.len() - 1) as u32
            }
        }
    }

    fn release(&mut self, slot: u32) {
        let s = &mut self.slots[slot as usize];
        s.rec = None;
        s.ident = s.ident.wrapping_add(1);
        self.free.push(slot);
    }

    fn is_full(&self, q: u16) -> bool {
        let cap = self.cfg.queues[usize::from(q)].capacity;
        cap.is_some_and(|c| self.queues[usize::from(q)].ready.len() >= c as usize)
    }

    /// Appends a new message to queue `q` (room was checked or the policy allows it).
    fn enqueue(&mut self, cx: &mut Ctx<'_, Cluster>, q: u16, key: u32, born: SimTime, flags: u8) {
        let qi = usize::from(q);
        if self.is_full(q)
            && self.cfg.queues[qi].on_full == FullPolicy::DropOldest
            && let Some(old) = self.queues[qi].ready.pop_front()
        {
            self.release(old);
            self.set_depth(cx, q, -1);
            cx.count(self.s.dropped_oldest, 1);
        }
        let seq = {
            let e = self.queues[qi].next_seq.entry(key).or_insert(0);
            *e += 1;
            *e
        };
        let slot = self.alloc(Rec {
            queue: q,
            key,
            seq,
            born,
            enqueued: cx.now(),
            failures: 0,
            flags,
            deliveries: 0,
            holder: u32::MAX,
            at: Where::Ready,
        });
        self.queues[qi].ready.push_back(slot);
        self.set_depth(cx, q, 1);
    }

    /// Routes one publish to `targets`: `Some(true)` stored, `Some(false)` refused, `None`
    /// held (blocked).
    fn publish(&mut self, cx: &mut Ctx<'_, Cluster>, h: Held, targets: &[u16]) -> Option<bool> {
        if targets.is_empty() {
            cx.count(self.s.unroutable, 1);
            return Some(true);
        }
        let mut block = false;
        let mut reject = false;
        for &q in targets {
            if self.is_full(q) {
                match self.cfg.queues[usize::from(q)].on_full {
                    FullPolicy::Reject => reject = true,
                    FullPolicy::Block => block = true,
                    FullPolicy::DropOldest => {}
                }
            }
        }
        if block && !reject {
            return None;
        }
        if reject {
            cx.count(self.s.rejected, 1);
            return Some(false);
        }
        for &q in targets {
            self.enqueue(cx, q, h.key, h.born, h.flags);
        }
        for &q in targets {
            self.dispatch(cx, q);
        }
        Some(true)
    }

    fn answer(&self, cx: &mut Ctx<'_, Cluster>, h: &Held, ok: bool) {
        let msg = if h.request {
            Msg::Response(Response {
                id: h.id,
                status: if ok { Status::Ok } else { Status::Rejected },
                size_bytes: 0,
                version: 0,
            })
        } else {
            Msg::Messaging(MMsg::Confirm {
                id: h.id as u32,
                ok,
                offset: 0,
            })
        };
        cx.send_with(h.from, msg, self.cfg.transport, 0);
    }

    fn on_publish(&mut self, cx: &mut Ctx<'_, Cluster>, h: Held, dest: u16, route_ix: u16) {
        cx.count(self.s.arrivals, 1);
        let mut targets = std::mem::take(&mut self.scratch);
        targets.clear();
        if h.request {
            targets.extend_from_slice(&self.request_queues);
        } else if let Some(r) = self
            .routes
            .get(usize::from(dest))
            .and_then(|x| x.get(usize::from(route_ix)))
        {
            targets.extend_from_slice(r);
        }
        if !self.held.is_empty() && targets.iter().any(|&q| self.is_full(q)) {
            // Keep FIFO order behind earlier blocked publishes.
            self.held.push_back((h, targets.clone()));
            cx.gauge_add(self.s.blocked, 1);
        } else {
            match self.publish(cx, h, &targets) {
                Some(ok) => self.answer(cx, &h, ok),
                None => {
                    self.held.push_back((h, targets.clone()));
                    cx.gauge_add(self.s.blocked, 1);
                }
            }
        }
        self.scratch = targets;
    }

    /// Admits blocked publishes while there is room.
    fn unblock(&mut self, cx: &mut Ctx<'_, Cluster>) {
        while let Some((h, targets)) = self.held.front() {
            let (h, targets) = (*h, targets.clone());
            match self.publish(cx, h, &targets) {
                None => break,
                Some(ok) => {
                    self.held.pop_front();
                    cx.gauge_add(self.s.blocked, -1);
                    self.answer(cx, &h, ok);
                }
            }
        }
    }

    /// Pushes ready messages of queue `q` to consumers with room, round robin.
    fn dispatch(&mut self, cx: &mut Ctx<'_, Cluster>, q: u16) {
        let qi = usize::from(q);
        let n = self.queues[qi].consumers.len();
        if n == 0 {
            return;
        }
        while !self.queues[qi].ready.is_empty() {
            // The next live consumer with room, starting at the cursor.
            let mut chosen = None;
            for step in 0..n {
                let i = (self.queues[qi].cursor + step) % n;
                let c = self.queues[qi].consumers[i];
                let st = &self.consumers[c as usize];
                if st.alive && st.unacked < st.prefetch {
                    chosen = Some((i, c));
                    break;
                }
            }
            let Some((i, c)) = chosen else {
                return;
            };
            self.queues[qi].cursor = (i + 1) % n;
            let slot = self.queues[qi].ready.pop_front().expect("not empty");
            self.set_depth(cx, q, -1);
            self.deliver(cx, slot, c);
        }
    }

    fn deliver(&mut self, cx: &mut Ctx<'_, Cluster>, slot: u32, c: u32) {
        let now = cx.now();
        let ident = self.slots[slot as usize].ident;
        let rec = self.slots[slot as usize].rec.as_mut().expect("live record");
        rec.deliveries += 1;
        rec.holder = c;
        rec.at = Where::Delivered;
        let first = rec.deliveries == 1;
        let (q, born, key, flags, delivery, enq) = (
            rec.queue,
            rec.born,
            rec.key,
            rec.flags,
            rec.deliveries,
            rec.enqueued,
        );
        let attempt = (rec.failures + 1).min(255) as u8;
        if first {
            cx.record(self.s.wait, now.saturating_since(enq).as_nanos());
        }
        cx.count(self.s.deliveries, 1);
        self.queues[usize::from(q)].unacked += 1;
        cx.gauge_add(self.queues[usize::from(q)].unacked_s, 1);
        let st = &mut self.consumers[c as usize];
        st.unacked += 1;
        let to = st.id;
        let tag = (u64::from(ident) << 32) | u64::from(slot);
        let msg = MMsg::Deliver {
            tag,
            born,
            key,
            attempt,
            flags,
        };
        cx.send_with(to, Msg::Messaging(msg), self.cfg.transport, 0);
        if let Some(v) = self.cfg.queues[usize::from(q)].visibility_timeout {
            cx.set_timer(
                v,
                Timer::Messaging(MTimer::Visibility {
                    slot,
                    ident,
                    delivery,
                }),
            );
        }
    }

    /// Takes a delivered message back from its consumer (it stays stored).
    fn take_back(&mut self, cx: &mut Ctx<'_, Cluster>, slot: u32) -> Option<u16> {
        let rec = self.slots[slot as usize].rec.as_mut()?;
        if rec.at != Where::Delivered {
            return None;
        }
        let (q, holder) = (rec.queue, rec.holder);
        rec.at = Where::Ready;
        rec.holder = u32::MAX;
        let _ = holder;
        self.queues[usize::from(q)].unacked -= 1;
        cx.gauge_add(self.queues[usize::from(q)].unacked_s, -1);
        Some(q)
    }

    /// Resolves a delivery tag to a live, delivered record's slot.
    fn resolve(&self, tag: u64) -> Option<u32> {
        let (ident, slot) = ((tag >> 32) as u32, tag as u32);
        let s = self.slots.get(slot as usize)?;
        (s.ident == ident && s.rec.is_some_and(|r| r.at == Where::Delivered)).then_some(slot)
    }

    fn note_seen(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId) -> Option<u32> {
        let &c = self.by_id.get(&from)?;
        let st = &mut self.consumers[c as usize];
        st.last_seen = cx.now();
        if !st.alive {
            st.alive = true;
            let q = st.queue;
            self.dispatch(cx, q);
        }
        Some(c)
    }

    /// Consumer `c` answered one of its deliveries: one more message may be pushed to it.
    fn answered(&mut self, cx: &mut Ctx<'_, Cluster>, c: Option<u32>) {
        if let Some(c) = c {
            let st = &mut self.consumers[c as usize];
            st.unacked = st.unacked.saturating_sub(1);
            let q = st.queue;
            self.dispatch(cx, q);
        }
    }

    fn on_ack(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, tag: u64) {
        let c = self.note_seen(cx, from);
        let Some(slot) = self.resolve(tag) else {
            // The message was already acknowledged (or discarded): a second processing.
            cx.count(self.s.duplicates, 1);
            self.answered(cx, c);
            return;
        };
        let q = self.take_back(cx, slot).expect("resolved as delivered");
        let rec = self.slots[slot as usize].rec.expect("live");
        let now = cx.now();
        cx.count(self.s.completed, 1);
        cx.count(self.s.finished, 1);
        cx.count(self.s.attempts, u64::from(rec.failures) + 1);
        cx.record(
            self.s.latency,
            now.saturating_since(rec.enqueued).as_nanos(),
        );
        let qs = &mut self.queues[usize::from(q)];
        let last = qs.last_acked.entry(rec.key).or_insert(0);
        if rec.seq < *last {
            cx.count(self.s.violations, 1);
            if let Some(&s) = self.s.violations_key.get(rec.key as usize) {
                cx.count(s, 1);
            }
        } else {
            *last = rec.seq;
        }
        self.release(slot);
        self.unblock(cx);
        self.dispatch(cx, q);
        self.answered(cx, c);
    }

    fn on_nack(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, tag: u64) {
        let c = self.note_seen(cx, from);
        let Some(slot) = self.resolve(tag) else {
            self.answered(cx, c);
            return;
        };
        cx.count(self.s.errors, 1);
        let q = self.take_back(cx, slot).expect("resolved as delivered");
        let qc = self.cfg.queues[usize::from(q)].clone();
        let ident = self.slots[slot as usize].ident;
        let rec = self.slots[slot as usize].rec.as_mut().expect("live");
        rec.failures += 1;
        if rec.failures < qc.retry.max_attempts {
            cx.count(self.s.retries, 1);
            let delay = qc.retry.delay(rec.failures);
            if delay.is_zero() {
                self.queues[usize::from(q)].ready.push_back(slot);
                self.set_depth(cx, q, 1);
            } else {
                rec.at = Where::Backoff;
                cx.set_timer(delay, Timer::Messaging(MTimer::RetryReady { slot, ident }));
            }
        } else {
            let rec = *rec;
            cx.count(self.s.finished, 1);
            cx.count(self.s.attempts, u64::from(rec.failures));
            self.release(slot);
            match qc.dead_letter {
                Some(dlq) => {
                    cx.count(self.s.dead_lettered, 1);
                    // A dead-lettered message is kept whatever the DLQ's bound.
                    self.enqueue(cx, dlq, rec.key, rec.born, rec.flags);
                    self.dispatch(cx, dlq);
                }
                None => cx.count(self.s.discarded, 1),
            }
            self.unblock(cx);
        }
        self.dispatch(cx, q);
        self.answered(cx, c);
    }

    fn on_subscribe(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        from: ComponentId,
        queue: u16,
        prefetch: u32,
    ) {
        if usize::from(queue) >= self.queues.len() {
            return;
        }
        let c = match self.by_id.get(&from) {
            Some(&c) => {
                // A restarted consumer: whatever it held is gone with it.
                self.requeue_held_by(cx, c);
                c
            }
            None => {
                let c = self.consumers.len() as u32;
                self.consumers.push(ConsumerState {
                    id: from,
                    queue,
                    prefetch,
                    unacked: 0,
                    last_seen: cx.now(),
                    alive: true,
                });
                self.by_id.insert(from, c);
                self.queues[usize::from(queue)].consumers.push(c);
                c
            }
        };
        let st = &mut self.consumers[c as usize];
        st.prefetch = prefetch.max(1);
        st.unacked = 0;
        st.alive = true;
        st.last_seen = cx.now();
        self.dispatch(cx, queue);
    }

    /// Puts every message delivered to consumer `c` back at the head of its queue, in slab
    /// order (a consumer crashed or was declared dead).
    fn requeue_held_by(&mut self, cx: &mut Ctx<'_, Cluster>, c: u32) {
        let mut back: Vec<u32> = Vec::new();
        for (i, s) in self.slots.iter().enumerate() {
            if s.rec
                .is_some_and(|r| r.at == Where::Delivered && r.holder == c)
            {
                back.push(i as u32);
            }
        }
        // Oldest first back to the head, so the original order is kept.
        back.sort_by_key(|&i| self.slots[i as usize].rec.map(|r| (r.enqueued, r.seq)));
        for &slot in back.iter().rev() {
            if let Some(q) = self.take_back(cx, slot) {
                self.queues[usize::from(q)].ready.push_front(slot);
                self.set_depth(cx, q, 1);
                cx.count(self.s.redeliveries, 1);
            }
        }
        self.consumers[c as usize].unacked = 0;
    }
}

impl Component<Cluster> for QueueBroker {
    fn on_start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        let half = SimDuration::from_nanos(self.cfg.consumer_timeout.as_nanos() / 2 + 1);
        cx.set_timer(half, Timer::Messaging(MTimer::LivenessSweep));
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: Msg) {
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
                    let h = Held {
                        from,
                        id: u64::from(id),
                        request: false,
                        key,
                        born,
                        flags,
                    };
                    self.on_publish(cx, h, dest, route);
                }
                MMsg::Subscribe { queue, prefetch } => self.on_subscribe(cx, from, queue, prefetch),
                MMsg::Ack { tag } => self.on_ack(cx, from, tag),
                MMsg::Nack { tag } => self.on_nack(cx, from, tag),
                MMsg::Heartbeat { .. } => {
                    self.note_seen(cx, from);
                }
                _ => {}
            },
            Msg::Request(r) => {
                let h = Held {
                    from,
                    id: r.id,
                    request: true,
                    key: r.key as u32,
                    born: cx.now(),
                    flags: 0,
                };
                self.on_publish(cx, h, 0, 0);
            }
            Msg::Probe { seq } => cx.send(from, Msg::ProbeReply { seq }),
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, timer: Timer) {
        let Timer::Messaging(t) = timer else {
            return;
        };
        match t {
            MTimer::LivenessSweep => {
                let now = cx.now();
                for c in 0..self.consumers.len() {
                    let st = &self.consumers[c];
                    if st.alive && now.saturating_since(st.last_seen) >= self.cfg.consumer_timeout {
                        self.consumers[c].alive = false;
                        let q = self.consumers[c].queue;
                        self.requeue_held_by(cx, c as u32);
                        self.dispatch(cx, q);
                    }
                }
                let half = SimDuration::from_nanos(self.cfg.consumer_timeout.as_nanos() / 2 + 1);
                cx.set_timer(half, Timer::Messaging(MTimer::LivenessSweep));
            }
            MTimer::Visibility {
                slot,
                ident,
                delivery,
            } => {
                let s = self.slots[slot as usize];
                let Some(rec) = s.rec else {
                    return;
                };
                if s.ident != ident || rec.at != Where::Delivered || rec.deliveries != delivery {
                    return;
                }
                // Not acknowledged in time: visible again, at the head (it is the oldest).
                let q = self.take_back(cx, slot).expect("delivered");
                self.queues[usize::from(q)].ready.push_front(slot);
                self.set_depth(cx, q, 1);
                cx.count(self.s.redeliveries, 1);
                self.dispatch(cx, q);
            }
            MTimer::RetryReady { slot, ident } => {
                let s = &mut self.slots[slot as usize];
                if s.ident != ident {
                    return;
                }
                let Some(rec) = s.rec.as_mut() else {
                    return;
                };
                if rec.at != Where::Backoff {
                    return;
                }
                rec.at = Where::Ready;
                let q = rec.queue;
                self.queues[usize::from(q)].ready.push_back(slot);
                self.set_depth(cx, q, 1);
                self.dispatch(cx, q);
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
        // A delivery that cannot reach its consumer: the consumer is gone.
        if let Msg::Messaging(MMsg::Deliver { .. }) = msg
            && let Some(&c) = self.by_id.get(&to)
            && self.consumers[c as usize].alive
        {
            self.consumers[c as usize].alive = false;
            let q = self.consumers[c as usize].queue;
            self.requeue_held_by(cx, c);
            self.dispatch(cx, q);
        }
    }

    fn on_crash(&mut self) {
        // Queues are durable (persistent messages on disk); connections are not: every
        // delivered message becomes ready again and consumers must resubscribe.
        for st in &mut self.consumers {
            st.alive = false;
            st.unacked = 0;
        }
        self.held.clear();
    }

    fn on_restart(&mut self, cx: &mut Ctx<'_, Cluster>) {
        let mut back: Vec<u32> = Vec::new();
        for (i, s) in self.slots.iter_mut().enumerate() {
            if let Some(r) = s.rec.as_mut()
                && r.at != Where::Ready
            {
                r.at = Where::Ready;
                r.holder = u32::MAX;
                back.push(i as u32);
            }
        }
        back.sort_by_key(|&i| self.slots[i as usize].rec.map(|r| (r.enqueued, r.seq)));
        for &slot in back.iter().rev() {
            let q = self.slots[slot as usize].rec.expect("live").queue;
            self.queues[usize::from(q)].ready.push_front(slot);
        }
        // Gauges were reset by the crash: restate them.
        let mut total = 0i64;
        for q in &mut self.queues {
            q.unacked = 0;
            let d = q.ready.len() as i64;
            total += d;
            cx.gauge_set(q.depth, d);
            cx.gauge_set(q.unacked_s, 0);
        }
        cx.gauge_set(self.s.queue_len, total);
        self.on_start(cx);
    }
}

struct ConsumerSeries {
    arrivals: SeriesId,
    completed: SeriesId,
    errors: SeriesId,
    lost: SeriesId,
    latency: SeriesId,
    queue_len: SeriesId,
    servers: SeriesId,
}

/// A push consumer of a [`QueueBroker`] queue. See [`crate::messaging`].
pub struct QueueConsumer {
    cfg: QueueConsumerConfig,
    s: ConsumerSeries,
    workers: Workers,
    waiting: VecDeque<Job>,
    /// At-most-once messages in the consumer at the last crash, counted `lost` at restart.
    lost_in_crash: u64,
}

impl QueueConsumer {
    /// Builds the consumer, registering its series.
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &QueueConsumerConfig, me: ComponentId, m: &mut Recorder) -> QueueConsumer {
        if let Err(e) = cfg.validate() {
            panic!("invalid queue consumer config: {e}");
        }
        let o = Some(me);
        let s = ConsumerSeries {
            arrivals: m.counter(o, "arrivals"),
            completed: m.counter(o, "completed"),
            errors: m.counter(o, "errors"),
            lost: m.counter(o, "lost"),
            latency: m.histogram(o, "latency_ns"),
            queue_len: m.gauge(o, "queue_len"),
            servers: m.gauge_persistent(o, "servers"),
        };
        let workers = Workers::new(&cfg.work, me, m);
        QueueConsumer {
            cfg: cfg.clone(),
            s,
            workers,
            waiting: VecDeque::new(),
            lost_in_crash: 0,
        }
    }

    fn pump(&mut self, cx: &mut Ctx<'_, Cluster>) {
        while self.workers.has_idle() {
            let Some(job) = self.waiting.pop_front() else {
                break;
            };
            cx.gauge_add(self.s.queue_len, -1);
            self.workers.start(cx, job);
        }
    }

    fn done(&mut self, cx: &mut Ctx<'_, Cluster>, job: Job, ok: bool) {
        let after = self.cfg.ack == AckMode::AfterProcessing;
        if ok {
            cx.count(self.s.completed, 1);
            cx.record(
                self.s.latency,
                cx.now().saturating_since(job.born).as_nanos(),
            );
        } else {
            cx.count(self.s.errors, 1);
            if !after {
                cx.count(self.s.lost, 1);
            }
        }
        if after {
            let m = if ok {
                MMsg::Ack { tag: job.tag }
            } else {
                MMsg::Nack { tag: job.tag }
            };
            cx.send_with(self.cfg.broker, Msg::Messaging(m), self.cfg.transport, 0);
        }
        self.pump(cx);
    }
}

impl Component<Cluster> for QueueConsumer {
    fn on_start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.workers.announce(cx, self.s.servers);
        let sub = MMsg::Subscribe {
            queue: self.cfg.queue,
            prefetch: self.cfg.prefetch,
        };
        cx.send_with(self.cfg.broker, Msg::Messaging(sub), self.cfg.transport, 0);
        cx.set_timer(self.cfg.heartbeat, Timer::Messaging(MTimer::Heartbeat));
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, _from: ComponentId, msg: Msg) {
        match msg {
            Msg::Messaging(MMsg::Deliver {
                tag,
                born,
                key,
                flags,
                ..
            }) => {
                cx.count(self.s.arrivals, 1);
                if self.cfg.ack == AckMode::OnReceive {
                    let ack = Msg::Messaging(MMsg::Ack { tag });
                    cx.send_with(self.cfg.broker, ack, self.cfg.transport, 0);
                }
                self.waiting.push_back(Job {
                    tag,
                    born,
                    key,
                    flags,
                });
                cx.gauge_add(self.s.queue_len, 1);
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
        match timer {
            Timer::Messaging(MTimer::Heartbeat) => {
                let hb = Msg::Messaging(MMsg::Heartbeat { group: u16::MAX });
                cx.send_with(self.cfg.broker, hb, self.cfg.transport, 0);
                cx.set_timer(self.cfg.heartbeat, Timer::Messaging(MTimer::Heartbeat));
            }
            Timer::Messaging(MTimer::Work { slot }) => {
                if let Some((job, ok)) = self.workers.work_done(cx, slot) {
                    self.done(cx, job, ok);
                }
            }
            Timer::Messaging(MTimer::CallTimeout { slot, call }) => {
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
        if let Msg::Request(r) = msg {
            let (slot, call) = Workers::split(r.id);
            if let Some((job, ok)) = self.workers.call_failed(cx, slot, call) {
                self.done(cx, job, ok);
            }
        }
    }

    fn on_crash(&mut self) {
        let n = self.workers.clear() + self.waiting.len();
        self.waiting.clear();
        if self.cfg.ack == AckMode::OnReceive {
            self.lost_in_crash += n as u64;
        }
    }

    fn on_restart(&mut self, cx: &mut Ctx<'_, Cluster>) {
        if self.lost_in_crash > 0 {
            cx.count(self.s.lost, self.lost_in_crash);
            self.lost_in_crash = 0;
        }
        self.on_start(cx);
    }
}
