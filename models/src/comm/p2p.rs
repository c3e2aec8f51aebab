//! Peer-to-peer traffic: [`Peer`]s exchanging frames directly (WebRTC-like) or through a
//! [`Relay`] (TURN-like). See the module docs of [`crate::comm`].

use clustersim_engine::{Component, ComponentId, Ctx, Recorder, SeriesId, Transport};

use super::config::{PeerConfig, RelayConfig};
use super::notify::{answer_handshake, comm_msg, comm_tmr};
use super::{Msg, Timer, grid_time};
use crate::Cluster;

/// Sends frames at a fixed rate to another peer, directly or through a relay, and measures
/// the one-way latency of the frames it receives (see [`PeerConfig`]).
#[derive(Debug)]
pub struct Peer {
    peer: ComponentId,
    relay: Option<ComponentId>,
    rate_per_s: f64,
    frame_size: u32,
    transport: Transport,
    /// Frames sent so far (also the next frame's sequence number).
    seq: u64,
    /// Grid index of the next frame.
    grid: u64,
    requests: SeriesId,
    ok: SeriesId,
    latency: SeriesId,
}

impl Peer {
    /// Builds the peer and registers its metrics (owner `me`).
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &PeerConfig, me: ComponentId, metrics: &mut Recorder) -> Peer {
        if let Err(e) = cfg.validate() {
            panic!("invalid peer config: {e}");
        }
        let o = Some(me);
        Peer {
            peer: cfg.peer,
            relay: cfg.relay,
            rate_per_s: cfg.rate_per_s,
            frame_size: cfg.frame_size,
            transport: cfg.transport,
            seq: 0,
            grid: 0,
            requests: metrics.counter(o, "requests"),
            ok: metrics.counter(o, "ok"),
            latency: metrics.histogram(o, "latency_ns"),
        }
    }

    fn schedule(&mut self, cx: &mut Ctx<'_, Cluster>) {
        let now = cx.now();
        while grid_time(self.grid, self.rate_per_s) <= now {
            self.grid += 1;
        }
        cx.set_timer(
            grid_time(self.grid, self.rate_per_s) - now,
            Timer::Frame.into(),
        );
    }
}

impl Component<Cluster> for Peer {
    fn on_start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.schedule(cx);
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: crate::Msg) {
        let Some(m) = comm_msg(msg) else { return };
        match m {
            Msg::Frame { sent_at, .. } => {
                cx.count(self.ok, 1);
                cx.record(self.latency, (cx.now() - sent_at).as_nanos());
            }
            other => {
                answer_handshake(cx, from, &other, self.transport);
            }
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, timer: crate::Timer) {
        if comm_tmr(timer) != Some(Timer::Frame) {
            return;
        }
        let sent_at = cx.now();
        match self.relay {
            None => {
                let m = Msg::Frame {
                    seq: self.seq,
                    sent_at,
                };
                cx.send_with(self.peer, m.into(), self.transport, self.frame_size);
            }
            Some(r) => {
                let m = Msg::RelayFrame {
                    to: self.peer,
                    seq: self.seq as u32,
                    size: self.frame_size,
                    sent_at,
                };
                cx.send_with(r, m.into(), self.transport, self.frame_size);
            }
        }
        self.seq += 1;
        cx.count(self.requests, 1);
        self.schedule(cx);
    }
}

/// Forwards every `RelayFrame` to its destination as a `Frame` (see [`RelayConfig`]).
#[derive(Debug)]
pub struct Relay {
    transport: Transport,
    arrivals: SeriesId,
    completed: SeriesId,
    relay_bytes: SeriesId,
}

impl RelayConfig {
    /// A relay forwarding over datagrams.
    pub fn new() -> RelayConfig {
        RelayConfig {
            transport: Transport::Datagram,
        }
    }
    /// Checks every field against its documented range (every value is valid).
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        Ok(())
    }
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig::new()
    }
}

impl Relay {
    /// Builds the relay and registers its metrics (owner `me`).
    pub fn new(cfg: &RelayConfig, me: ComponentId, metrics: &mut Recorder) -> Relay {
        let o = Some(me);
        Relay {
            transport: cfg.transport,
            arrivals: metrics.counter(o, "arrivals"),
            completed: metrics.counter(o, "completed"),
            relay_bytes: metrics.counter(o, "relay_bytes"),
        }
    }
}

impl Component<Cluster> for Relay {
    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: crate::Msg) {
        let Some(m) = comm_msg(msg) else { return };
        match m {
            Msg::RelayFrame {
                to,
                seq,
                size,
                sent_at,
            } => {
                cx.count(self.arrivals, 1);
                let f = Msg::Frame {
                    seq: u64::from(seq),
                    sent_at,
                };
                cx.send_with(to, f.into(), self.transport, size);
                cx.count(self.completed, 1);
                cx.count(self.relay_bytes, u64::from(size));
            }
            other => {
                answer_handshake(cx, from, &other, self.transport);
            }
        }
    }
}
