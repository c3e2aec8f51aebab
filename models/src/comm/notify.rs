//! Notifications: [`Publisher`], [`PushGateway`] + [`PushClient`] (push over persistent
//! connections) and [`PollServer`] + [`PollClient`] (HTTP polling). See the module docs of
//! [`crate::comm`].

use clustersim_engine::rng::below;
use clustersim_engine::{
    Component, ComponentId, Ctx, DropCause, Recorder, SeriesId, SimDuration, SimTime, Transport,
};
use rand::Rng as _;
use rand_distr::Exp1;

use super::algo::{Admit, EventLog, Subscribers, backoff};
use super::config::{
    PollClientConfig, PollServerConfig, PublisherConfig, PushClientConfig, PushGatewayConfig,
};
use super::{Msg, Timer, grid_time, handshake_reply};
use crate::Cluster;

/// The comm message inside `msg`, if it is one.
#[inline]
pub(super) fn comm_msg(msg: crate::Msg) -> Option<Msg> {
    match msg {
        crate::Msg::Comm(m) => Some(m),
        _ => None,
    }
}

/// The comm timer inside `t`, if it is one.
#[inline]
pub(super) fn comm_tmr(t: crate::Timer) -> Option<Timer> {
    match t {
        crate::Timer::Comm(t) => Some(t),
        _ => None,
    }
}

/// Answers connection setup on `transport`; true if `m` was setup traffic.
#[inline]
pub(super) fn answer_handshake(
    cx: &mut Ctx<'_, Cluster>,
    from: ComponentId,
    m: &Msg,
    transport: Transport,
) -> bool {
    match handshake_reply(m) {
        Some(reply) => {
            cx.send_with(from, reply.into(), transport, 0);
            true
        }
        None => false,
    }
}

/// Emits events to gateways and poll servers (see [`PublisherConfig`]).
#[derive(Debug)]
pub struct Publisher {
    targets: Vec<ComponentId>,
    rate_per_s: f64,
    poisson: bool,
    size: u32,
    seq: u64,
    /// Constant spacing: index of the next grid instant.
    grid: u64,
    published: SeriesId,
    publish_failed: SeriesId,
}

impl Publisher {
    /// Builds the publisher and registers its metrics (owner `me`).
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &PublisherConfig, me: ComponentId, metrics: &mut Recorder) -> Publisher {
        if let Err(e) = cfg.validate() {
            panic!("invalid publisher config: {e}");
        }
        let o = Some(me);
        Publisher {
            targets: cfg.targets.clone(),
            rate_per_s: cfg.rate_per_s,
            poisson: cfg.poisson,
            size: cfg.size_bytes,
            seq: 0,
            grid: 0,
            published: metrics.counter(o, "published"),
            publish_failed: metrics.counter(o, "publish_failed"),
        }
    }

    fn schedule(&mut self, cx: &mut Ctx<'_, Cluster>) {
        let after = if self.poisson {
            let e: f64 = cx.rng().sample(Exp1);
            SimDuration::from_nanos_f64(e * 1e9 / self.rate_per_s)
        } else {
            let now = cx.now();
            // The next grid instant strictly after now.
            self.grid = self
                .grid
                .max((now.as_nanos() as f64 * self.rate_per_s / 1e9) as u64);
            while grid_time(self.grid, self.rate_per_s) <= now {
                self.grid += 1;
            }
            grid_time(self.grid, self.rate_per_s) - now
        };
        cx.set_timer(after, Timer::Publish.into());
    }
}

impl Component<Cluster> for Publisher {
    fn on_start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.schedule(cx);
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: crate::Msg) {
        if let Some(m) = comm_msg(msg) {
            answer_handshake(cx, from, &m, Transport::Stream);
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, timer: crate::Timer) {
        if comm_tmr(timer) != Some(Timer::Publish) {
            return;
        }
        let at = cx.now();
        for &t in &self.targets {
            let m = Msg::Publish { seq: self.seq, at };
            cx.send_with(t, m.into(), Transport::Stream, self.size);
        }
        self.seq += 1;
        cx.count(self.published, 1);
        self.schedule(cx);
    }

    fn on_send_failed(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        _to: ComponentId,
        _msg: crate::Msg,
        _cause: DropCause,
    ) {
        cx.count(self.publish_failed, 1);
    }
}

/// Series of a gateway.
#[derive(Clone, Copy, Debug)]
struct GatewayMetrics {
    arrivals: SeriesId,
    completed: SeriesId,
    pushes_sent: SeriesId,
    connections: SeriesId,
    subscribes: SeriesId,
    connects_rejected: SeriesId,
    messages_out: SeriesId,
}

/// Holds persistent connections from [`PushClient`]s and pushes every published event to
/// each of them (see [`PushGatewayConfig`]).
#[derive(Debug)]
pub struct PushGateway {
    subs: Subscribers,
    push_size: u32,
    m: GatewayMetrics,
}

impl PushGateway {
    /// Builds the gateway and registers its metrics (owner `me`).
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &PushGatewayConfig, me: ComponentId, metrics: &mut Recorder) -> PushGateway {
        if let Err(e) = cfg.validate() {
            panic!("invalid push gateway config: {e}");
        }
        let o = Some(me);
        PushGateway {
            subs: Subscribers::new(cfg.max_connections),
            push_size: cfg.push_size,
            m: GatewayMetrics {
                arrivals: metrics.counter(o, "arrivals"),
                completed: metrics.counter(o, "completed"),
                pushes_sent: metrics.counter(o, "pushes_sent"),
                connections: metrics.gauge(o, "connections"),
                subscribes: metrics.counter(o, "subscribes"),
                connects_rejected: metrics.counter(o, "connects_rejected"),
                messages_out: metrics.counter(o, "messages_out"),
            },
        }
    }

    /// Open connections.
    pub fn connections(&self) -> usize {
        self.subs.len()
    }

    fn reply(&self, cx: &mut Ctx<'_, Cluster>, to: ComponentId, m: Msg) {
        cx.send_with(to, m.into(), Transport::Stream, 0);
        cx.count(self.m.messages_out, 1);
    }
}

impl Component<Cluster> for PushGateway {
    fn on_start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        cx.gauge_set(self.m.connections, 0);
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: crate::Msg) {
        let Some(m) = comm_msg(msg) else { return };
        match m {
            Msg::Publish { seq, at } => {
                cx.count(self.m.arrivals, 1);
                for &c in self.subs.ids() {
                    cx.send_with(
                        c,
                        Msg::Push { seq, at }.into(),
                        Transport::Stream,
                        self.push_size,
                    );
                }
                let n = self.subs.len() as u64;
                cx.count(self.m.completed, n);
                cx.count(self.m.pushes_sent, n);
                cx.count(self.m.messages_out, n);
            }
            Msg::Subscribe { conn } => {
                cx.count(self.m.subscribes, 1);
                let accepted = match self.subs.admit(from) {
                    Admit::Added | Admit::Renewed => true,
                    Admit::Full => {
                        cx.count(self.m.connects_rejected, 1);
                        false
                    }
                };
                cx.gauge_set(self.m.connections, self.subs.len() as i64);
                self.reply(cx, from, Msg::Subscribed { conn, accepted });
            }
            Msg::Ping { conn } => {
                let known = self.subs.contains(from);
                self.reply(cx, from, Msg::Pong { conn, known });
            }
            other => {
                if answer_handshake(cx, from, &other, Transport::Stream) {
                    cx.count(self.m.messages_out, 1);
                }
            }
        }
    }

    fn on_send_failed(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        to: ComponentId,
        _msg: crate::Msg,
        _cause: DropCause,
    ) {
        // The client is gone (crashed or cut off): its connection is closed.
        if self.subs.remove(to) {
            cx.gauge_set(self.m.connections, self.subs.len() as i64);
        }
    }

    fn on_crash(&mut self) {
        self.subs.clear();
    }
}

/// Where a push client's connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Conn {
    /// Crashed.
    Down,
    /// Waiting out a backoff (or the start delay).
    Backoff,
    /// Connection setup round `round` (1-based) in flight.
    Handshake { round: u32 },
    /// `Subscribe` in flight.
    Subscribing,
    /// Connected.
    Connected,
}

/// Series of a push client.
#[derive(Clone, Copy, Debug)]
struct PushClientMetrics {
    requests: SeriesId,
    ok: SeriesId,
    failed: SeriesId,
    pushes_delivered: SeriesId,
    pushes_missed: SeriesId,
    latency: SeriesId,
    connected: SeriesId,
    disconnects: SeriesId,
    reconnects: SeriesId,
    reconnect_time: SeriesId,
    connect_attempts: SeriesId,
    connects_rejected: SeriesId,
}

/// A WebSocket-like subscriber: connects to a [`PushGateway`], pings it, reconnects with
/// backoff when the connection is lost, and measures push delay and missed events (see the
/// module docs of [`crate::comm`]).
#[derive(Debug)]
pub struct PushClient {
    gateway: ComponentId,
    handshake_rtts: u32,
    heartbeat: SimDuration,
    backoff_base: SimDuration,
    backoff_max: SimDuration,
    start_after: SimDuration,
    /// Connection generation: bumped for every attempt, so stale answers are ignored.
    conn: u32,
    state: Conn,
    awaiting_pong: bool,
    /// Failed attempts since the last successful connection.
    attempt: u32,
    last_seq: Option<u64>,
    /// When the current outage was detected.
    lost_at: Option<SimTime>,
    m: PushClientMetrics,
}

impl PushClient {
    /// Builds the client and registers its metrics (owner `me`).
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &PushClientConfig, me: ComponentId, metrics: &mut Recorder) -> PushClient {
        if let Err(e) = cfg.validate() {
            panic!("invalid push client config: {e}");
        }
        let o = Some(me);
        PushClient {
            gateway: cfg.gateway,
            handshake_rtts: cfg.handshake_rtts,
            heartbeat: cfg.heartbeat,
            backoff_base: cfg.backoff_base,
            backoff_max: cfg.backoff_max,
            start_after: cfg.start_after,
            conn: 0,
            state: Conn::Backoff,
            awaiting_pong: false,
            attempt: 0,
            last_seq: None,
            lost_at: None,
            m: PushClientMetrics {
                requests: metrics.counter(o, "requests"),
                ok: metrics.counter(o, "ok"),
                failed: metrics.counter(o, "failed"),
                pushes_delivered: metrics.counter(o, "pushes_delivered"),
                pushes_missed: metrics.counter(o, "pushes_missed"),
                latency: metrics.histogram(o, "latency_ns"),
                connected: metrics.gauge(o, "connected"),
                disconnects: metrics.counter(o, "disconnects"),
                reconnects: metrics.counter(o, "reconnects"),
                reconnect_time: metrics.histogram(o, "reconnect_ns"),
                connect_attempts: metrics.counter(o, "connect_attempts"),
                connects_rejected: metrics.counter(o, "connects_rejected"),
            },
        }
    }

    /// Whether the client currently holds a connection.
    pub fn is_connected(&self) -> bool {
        self.state == Conn::Connected
    }

    fn send(&self, cx: &mut Ctx<'_, Cluster>, m: Msg) {
        cx.send_with(self.gateway, m.into(), Transport::Stream, 0);
    }

    fn connect(&mut self, cx: &mut Ctx<'_, Cluster>) {
        cx.count(self.m.connect_attempts, 1);
        if self.handshake_rtts > 0 {
            self.state = Conn::Handshake { round: 1 };
            self.send(
                cx,
                Msg::Connect {
                    id: u64::from(self.conn),
                },
            );
        } else {
            self.subscribe(cx);
        }
    }

    fn subscribe(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.state = Conn::Subscribing;
        self.send(cx, Msg::Subscribe { conn: self.conn });
    }

    /// The connection (or the attempt) is gone: back off and try again.
    fn lost(&mut self, cx: &mut Ctx<'_, Cluster>) {
        if self.state == Conn::Connected {
            cx.count(self.m.disconnects, 1);
            cx.gauge_set(self.m.connected, 0);
            self.lost_at = Some(cx.now());
        }
        self.attempt = self.attempt.saturating_add(1);
        let d = backoff(self.backoff_base, self.backoff_max, self.attempt);
        let delay = SimDuration::from_nanos(below(cx.rng(), d.as_nanos().saturating_add(1)));
        self.conn = self.conn.wrapping_add(1);
        self.state = Conn::Backoff;
        cx.set_timer(delay, Timer::Reconnect { conn: self.conn }.into());
    }

    fn on_push(&mut self, cx: &mut Ctx<'_, Cluster>, seq: u64, at: SimTime) {
        let counted = match self.last_seq {
            Some(l) if seq <= l => return, // a copy of something already seen
            Some(l) => {
                let gap = seq - l - 1;
                if gap > 0 {
                    cx.count(self.m.failed, gap);
                    cx.count(self.m.pushes_missed, gap);
                }
                gap + 1
            }
            None => 1,
        };
        self.last_seq = Some(seq);
        cx.count(self.m.requests, counted);
        cx.count(self.m.ok, 1);
        cx.count(self.m.pushes_delivered, 1);
        cx.record(self.m.latency, (cx.now() - at).as_nanos());
    }
}

impl Component<Cluster> for PushClient {
    fn on_start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        cx.gauge_set(self.m.connected, 0);
        self.state = Conn::Backoff;
        self.conn = self.conn.wrapping_add(1);
        let delay = self.start_after.saturating_sub(cx.now().since_start());
        cx.set_timer(delay, Timer::Reconnect { conn: self.conn }.into());
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, _from: ComponentId, msg: crate::Msg) {
        let Some(m) = comm_msg(msg) else { return };
        match m {
            Msg::Push { seq, at } => self.on_push(cx, seq, at),
            Msg::ConnectAck { id } if id == u64::from(self.conn) => {
                if let Conn::Handshake { round } = self.state {
                    if round < self.handshake_rtts {
                        self.state = Conn::Handshake { round: round + 1 };
                        self.send(cx, Msg::Connect { id });
                    } else {
                        self.subscribe(cx);
                    }
                }
            }
            Msg::Subscribed { conn, accepted }
                if conn == self.conn && self.state == Conn::Subscribing =>
            {
                if accepted {
                    self.state = Conn::Connected;
                    self.attempt = 0;
                    self.awaiting_pong = false;
                    cx.gauge_set(self.m.connected, 1);
                    if let Some(t) = self.lost_at.take() {
                        cx.count(self.m.reconnects, 1);
                        cx.record(self.m.reconnect_time, (cx.now() - t).as_nanos());
                    }
                    cx.set_timer(self.heartbeat, Timer::Heartbeat { conn }.into());
                } else {
                    cx.count(self.m.connects_rejected, 1);
                    self.lost(cx);
                }
            }
            Msg::Pong { conn, known } if conn == self.conn && self.state == Conn::Connected => {
                self.awaiting_pong = false;
                if !known {
                    self.lost(cx);
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, timer: crate::Timer) {
        match comm_tmr(timer) {
            Some(Timer::Reconnect { conn }) if conn == self.conn && self.state == Conn::Backoff => {
                self.connect(cx);
            }
            Some(Timer::Heartbeat { conn })
                if conn == self.conn && self.state == Conn::Connected =>
            {
                if self.awaiting_pong {
                    self.lost(cx);
                } else {
                    self.awaiting_pong = true;
                    self.send(cx, Msg::Ping { conn });
                    cx.set_timer(self.heartbeat, Timer::Heartbeat { conn }.into());
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
        let current = match comm_msg(msg) {
            Some(Msg::Connect { id }) => id == u64::from(self.conn),
            Some(Msg::Subscribe { conn } | Msg::Ping { conn }) => conn == self.conn,
            _ => false,
        };
        if current && !matches!(self.state, Conn::Backoff | Conn::Down) {
            self.lost(cx);
        }
    }

    fn on_crash(&mut self) {
        self.state = Conn::Down;
        self.last_seq = None;
        self.lost_at = None;
        self.attempt = 0;
    }

    fn on_restart(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.on_start(cx);
    }
}

/// Series of a poll server.
#[derive(Clone, Copy, Debug)]
struct PollServerMetrics {
    arrivals: SeriesId,
    completed: SeriesId,
    items_sent: SeriesId,
    messages_out: SeriesId,
}

/// Answers polls from a log of recent events (see [`PollServerConfig`]).
#[derive(Debug)]
pub struct PollServer {
    log: EventLog,
    item_size: u32,
    m: PollServerMetrics,
}

impl PollServer {
    /// Builds the server and registers its metrics (owner `me`).
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &PollServerConfig, me: ComponentId, metrics: &mut Recorder) -> PollServer {
        if let Err(e) = cfg.validate() {
            panic!("invalid poll server config: {e}");
        }
        let o = Some(me);
        PollServer {
            log: EventLog::new(cfg.history as usize),
            item_size: cfg.item_size,
            m: PollServerMetrics {
                arrivals: metrics.counter(o, "arrivals"),
                completed: metrics.counter(o, "completed"),
                items_sent: metrics.counter(o, "items_sent"),
                messages_out: metrics.counter(o, "messages_out"),
            },
        }
    }
}

impl Component<Cluster> for PollServer {
    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: crate::Msg) {
        let Some(m) = comm_msg(msg) else { return };
        match m {
            Msg::Publish { seq, at } => self.log.push(seq, at),
            Msg::Poll { id, next } => {
                cx.count(self.m.arrivals, 1);
                let mut n = 0;
                if next != u64::MAX {
                    for (seq, at) in self.log.since(next) {
                        let item = Msg::PollItem { seq, at };
                        cx.send_with(from, item.into(), Transport::Stream, self.item_size);
                        n += 1;
                    }
                }
                let done = Msg::PollDone {
                    id,
                    next: self.log.next_seq(),
                };
                cx.send_with(from, done.into(), Transport::Stream, 0);
                cx.count(self.m.completed, 1);
                cx.count(self.m.items_sent, n);
                cx.count(self.m.messages_out, n + 1);
            }
            other => {
                if answer_handshake(cx, from, &other, Transport::Stream) {
                    cx.count(self.m.messages_out, 1);
                }
            }
        }
    }

    fn on_crash(&mut self) {
        self.log.clear();
    }
}

/// Series of a poll client.
#[derive(Clone, Copy, Debug)]
struct PollClientMetrics {
    requests: SeriesId,
    ok: SeriesId,
    failed: SeriesId,
    notifications: SeriesId,
    missed: SeriesId,
    empty_polls: SeriesId,
    latency: SeriesId,
}

/// Polls a [`PollServer`] every `interval` and measures notification delay (see the module
/// docs of [`crate::comm`]).
#[derive(Debug)]
pub struct PollClient {
    server: ComponentId,
    interval: SimDuration,
    handshake_rtts: u32,
    /// First sequence number not yet received (`u64::MAX`: position unknown).
    next: u64,
    poll_id: u32,
    items_in_response: u64,
    m: PollClientMetrics,
}

impl PollClient {
    /// Builds the client and registers its metrics (owner `me`).
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &PollClientConfig, me: ComponentId, metrics: &mut Recorder) -> PollClient {
        if let Err(e) = cfg.validate() {
            panic!("invalid poll client config: {e}");
        }
        let o = Some(me);
        PollClient {
            server: cfg.server,
            interval: cfg.interval,
            handshake_rtts: cfg.handshake_rtts,
            next: u64::MAX,
            poll_id: 0,
            items_in_response: 0,
            m: PollClientMetrics {
                requests: metrics.counter(o, "requests"),
                ok: metrics.counter(o, "ok"),
                failed: metrics.counter(o, "failed"),
                notifications: metrics.counter(o, "notifications"),
                missed: metrics.counter(o, "notifications_missed"),
                empty_polls: metrics.counter(o, "empty_polls"),
                latency: metrics.histogram(o, "latency_ns"),
            },
        }
    }

    fn send(&self, cx: &mut Ctx<'_, Cluster>, m: Msg) {
        cx.send_with(self.server, m.into(), Transport::Stream, 0);
    }

    /// Connection-setup ids: the poll number in the high half, the round in the low half.
    fn setup_id(poll: u32, round: u32) -> u64 {
        (u64::from(poll) << 32) | u64::from(round)
    }

    fn skip_to(&mut self, cx: &mut Ctx<'_, Cluster>, seq: u64) {
        if self.next != u64::MAX && seq > self.next {
            cx.count(self.m.missed, seq - self.next);
        }
        self.next = seq;
    }
}

impl Component<Cluster> for PollClient {
    fn on_start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.next = u64::MAX;
        let phase = below(cx.rng(), self.interval.as_nanos());
        cx.set_timer(SimDuration::from_nanos(phase), Timer::Poll.into());
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, _from: ComponentId, msg: crate::Msg) {
        let Some(m) = comm_msg(msg) else { return };
        match m {
            Msg::PollItem { seq, at } => {
                if self.next == u64::MAX || seq < self.next {
                    return; // a repeat from an overlapping poll
                }
                self.skip_to(cx, seq);
                self.next = seq + 1;
                self.items_in_response += 1;
                cx.count(self.m.notifications, 1);
                cx.record(self.m.latency, (cx.now() - at).as_nanos());
            }
            Msg::PollDone { next, .. } => {
                cx.count(self.m.ok, 1);
                if self.items_in_response == 0 {
                    cx.count(self.m.empty_polls, 1);
                }
                self.items_in_response = 0;
                if self.next == u64::MAX {
                    self.next = next;
                } else if next > self.next {
                    self.skip_to(cx, next);
                }
            }
            Msg::ConnectAck { id } => {
                let (poll, round) = ((id >> 32) as u32, id as u32);
                if round < self.handshake_rtts {
                    self.send(
                        cx,
                        Msg::Connect {
                            id: Self::setup_id(poll, round + 1),
                        },
                    );
                } else {
                    self.send(
                        cx,
                        Msg::Poll {
                            id: poll,
                            next: self.next,
                        },
                    );
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, timer: crate::Timer) {
        if comm_tmr(timer) != Some(Timer::Poll) {
            return;
        }
        self.poll_id = self.poll_id.wrapping_add(1);
        cx.count(self.m.requests, 1);
        if self.handshake_rtts > 0 {
            let id = Self::setup_id(self.poll_id, 1);
            self.send(cx, Msg::Connect { id });
        } else {
            let (id, next) = (self.poll_id, self.next);
            self.send(cx, Msg::Poll { id, next });
        }
        cx.set_timer(self.interval, Timer::Poll.into());
    }

    fn on_send_failed(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        _to: ComponentId,
        msg: crate::Msg,
        _cause: DropCause,
    ) {
        if matches!(comm_msg(msg), Some(Msg::Poll { .. } | Msg::Connect { .. })) {
            cx.count(self.m.failed, 1);
        }
    }
}
