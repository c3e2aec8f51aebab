//! Live media: a [`MediaSource`] sending one chunk per frame and a [`MediaClient`] playing
//! them out after a fixed delay. See the module docs of [`crate::comm`].

use clustersim_engine::{Component, ComponentId, Ctx, Recorder, SeriesId, SimDuration, Transport};

use super::algo::{Arrival, Playout};
use super::config::{MediaClientConfig, MediaSourceConfig};
use super::notify::{answer_handshake, comm_msg, comm_tmr};
use super::{Msg, Timer, grid_time};
use crate::Cluster;

/// Sends chunk `n` at `n / frame_rate` (see [`MediaSourceConfig`]); never retransmits.
#[derive(Debug)]
pub struct MediaSource {
    target: ComponentId,
    frame_rate: f64,
    chunk_size: u32,
    transport: Transport,
    /// The next chunk's sequence number (= its grid index: chunks never skip).
    seq: u64,
    chunks_sent: SeriesId,
}

impl MediaSource {
    /// Builds the source and registers its metrics (owner `me`).
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &MediaSourceConfig, me: ComponentId, metrics: &mut Recorder) -> MediaSource {
        if let Err(e) = cfg.validate() {
            panic!("invalid media source config: {e}");
        }
        MediaSource {
            target: cfg.target,
            frame_rate: cfg.frame_rate,
            chunk_size: cfg.chunk_size,
            transport: cfg.transport,
            seq: 0,
            chunks_sent: metrics.counter(Some(me), "chunks_sent"),
        }
    }

    fn schedule(&mut self, cx: &mut Ctx<'_, Cluster>) {
        let now = cx.now();
        // After a restart the frames of the outage are skipped (live media does not catch up).
        while grid_time(self.seq, self.frame_rate) < now {
            self.seq += 1;
        }
        cx.set_timer(
            grid_time(self.seq, self.frame_rate) - now,
            Timer::Frame.into(),
        );
    }
}

impl Component<Cluster> for MediaSource {
    fn on_start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.schedule(cx);
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: crate::Msg) {
        if let Some(m) = comm_msg(msg) {
            answer_handshake(cx, from, &m, self.transport);
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, timer: crate::Timer) {
        if comm_tmr(timer) != Some(Timer::Frame) {
            return;
        }
        let m = Msg::Frame {
            seq: self.seq,
            sent_at: cx.now(),
        };
        cx.send_with(self.target, m.into(), self.transport, self.chunk_size);
        cx.count(self.chunks_sent, 1);
        self.seq += 1;
        self.schedule(cx);
    }
}

/// Series of a media client.
#[derive(Clone, Copy, Debug)]
struct MediaClientMetrics {
    requests: SeriesId,
    ok: SeriesId,
    failed: SeriesId,
    on_time: SeriesId,
    late: SeriesId,
    lost: SeriesId,
    duplicate: SeriesId,
    stale: SeriesId,
    reordered: SeriesId,
    latency: SeriesId,
}

/// How often a media client looks for overdue chunks.
const EXPIRE_EVERY: SimDuration = SimDuration::from_millis(100);

/// Classifies arriving chunks as on time, late or lost (see [`MediaClientConfig`] and
/// [`Playout`]).
#[derive(Debug)]
pub struct MediaClient {
    playout: Playout,
    /// Set by a restart: the next chunk re-bases the sequence.
    rebase: bool,
    m: MediaClientMetrics,
}

impl MediaClient {
    /// Builds the client and registers its metrics (owner `me`).
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &MediaClientConfig, me: ComponentId, metrics: &mut Recorder) -> MediaClient {
        if let Err(e) = cfg.validate() {
            panic!("invalid media client config: {e}");
        }
        let o = Some(me);
        MediaClient {
            playout: Playout::new(cfg.playout_delay, cfg.lost_after),
            rebase: false,
            m: MediaClientMetrics {
                requests: metrics.counter(o, "requests"),
                ok: metrics.counter(o, "ok"),
                failed: metrics.counter(o, "failed"),
                on_time: metrics.counter(o, "chunks_on_time"),
                late: metrics.counter(o, "chunks_late"),
                lost: metrics.counter(o, "chunks_lost"),
                duplicate: metrics.counter(o, "chunks_duplicate"),
                stale: metrics.counter(o, "chunks_stale"),
                reordered: metrics.counter(o, "chunks_reordered"),
                latency: metrics.histogram(o, "latency_ns"),
            },
        }
    }

    fn count_lost(&self, cx: &mut Ctx<'_, Cluster>, n: u64) {
        if n > 0 {
            cx.count(self.m.lost, n);
            cx.count(self.m.failed, n);
            cx.count(self.m.requests, n);
        }
    }
}

impl Component<Cluster> for MediaClient {
    fn on_start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        cx.set_timer(EXPIRE_EVERY, Timer::Expire.into());
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: crate::Msg) {
        let Some(m) = comm_msg(msg) else { return };
        let Msg::Frame { seq, sent_at } = m else {
            answer_handshake(cx, from, &m, Transport::Stream);
            return;
        };
        if self.rebase {
            self.rebase = false;
            self.playout.start_at(seq);
        }
        let now = cx.now();
        if seq + 1 < self.playout.end() {
            cx.count(self.m.reordered, 1);
        }
        let (class, lost) = self.playout.arrive(seq, sent_at, now);
        self.count_lost(cx, lost);
        if class != Arrival::Duplicate {
            cx.record(self.m.latency, (now - sent_at).as_nanos());
        }
        match class {
            Arrival::OnTime => {
                cx.count(self.m.on_time, 1);
                cx.count(self.m.ok, 1);
                cx.count(self.m.requests, 1);
            }
            Arrival::Late => {
                cx.count(self.m.late, 1);
                cx.count(self.m.failed, 1);
                cx.count(self.m.requests, 1);
            }
            Arrival::Duplicate => cx.count(self.m.duplicate, 1),
            Arrival::Stale => cx.count(self.m.stale, 1),
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, timer: crate::Timer) {
        if comm_tmr(timer) != Some(Timer::Expire) {
            return;
        }
        let lost = self.playout.expire(cx.now());
        self.count_lost(cx, lost);
        cx.set_timer(EXPIRE_EVERY, Timer::Expire.into());
    }

    fn on_crash(&mut self) {
        self.playout.reset();
        self.rebase = true;
    }
}
