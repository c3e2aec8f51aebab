//! The processing a consumer does per message, shared by both consumer kinds: a pool of
//! workers, each taking one message through its service time, an independent failure draw
//! and an optional downstream call.

use clustersim_engine::rng::chance;
use clustersim_engine::{ComponentId, Ctx, Recorder, SeriesId, SimTime};

use super::config::WorkConfig;
use super::{POISON, Timer as MTimer};
use crate::msg::{Op, Request, Response};
use crate::{Cluster, Msg, Timer};

/// One message being processed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Job {
    /// Delivery tag (queue) or `partition << 48 | offset` (log).
    pub(super) tag: u64,
    /// Creation time of the message.
    pub(super) born: SimTime,
    /// Key.
    pub(super) key: u32,
    /// [`POISON`] bit.
    pub(super) flags: u8,
}

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    job: Option<Job>,
    /// Number of the outstanding downstream call (0 = none).
    call: u32,
}

/// The worker pool.
pub(super) struct Workers {
    cfg: WorkConfig,
    slots: Vec<Slot>,
    free: Vec<u32>,
    calls: u32,
    busy: SeriesId,
}

impl Workers {
    /// `cfg.workers` idle workers; registers `busy`.
    pub(super) fn new(cfg: &WorkConfig, me: ComponentId, m: &mut Recorder) -> Workers {
        let n = cfg.workers.max(1);
        let busy = m.gauge(Some(me), "busy");
        Workers {
            cfg: cfg.clone(),
            slots: vec![Slot::default(); n as usize],
            free: (0..n).rev().collect(),
            calls: 0,
            busy,
        }
    }

    /// Sets the `servers` gauge (call once at start).
    pub(super) fn announce(&self, cx: &mut Ctx<'_, Cluster>, servers: SeriesId) {
        cx.gauge_set(servers, i64::from(self.cfg.workers));
    }

    /// Whether a worker is free.
    pub(super) fn has_idle(&self) -> bool {
        !self.free.is_empty()
    }

    /// Messages being processed.
    pub(super) fn in_progress(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Starts `job` on a free worker (the caller checked [`Workers::has_idle`]).
    pub(super) fn start(&mut self, cx: &mut Ctx<'_, Cluster>, job: Job) {
        let slot = self.free.pop().expect("caller checked has_idle");
        self.slots[slot as usize] = Slot {
            job: Some(job),
            call: 0,
        };
        cx.gauge_add(self.busy, 1);
        let d = self.cfg.service_time.sample_duration(cx.rng());
        let d = cx.scaled(d);
        cx.set_timer(d, Timer::Messaging(MTimer::Work { slot }));
    }

    fn finish(&mut self, cx: &mut Ctx<'_, Cluster>, slot: u32, ok: bool) -> Option<(Job, bool)> {
        let s = self.slots.get_mut(slot as usize)?;
        let job = s.job.take()?;
        s.call = 0;
        self.free.push(slot);
        cx.gauge_add(self.busy, -1);
        Some((job, ok))
    }

    /// Worker `slot`'s service time is over: returns the finished job and whether it
    /// succeeded, or `None` while its downstream call is outstanding.
    pub(super) fn work_done(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        slot: u32,
    ) -> Option<(Job, bool)> {
        let job = self.slots.get(slot as usize)?.job?;
        let failed = job.flags & POISON != 0
            || (self.cfg.failure_probability > 0.0
                && chance(cx.rng(), self.cfg.failure_probability));
        match self.cfg.call {
            Some(target) if !failed => {
                self.calls = self.calls.wrapping_add(1).max(1);
                let call = self.calls;
                self.slots[slot as usize].call = call;
                let req = Request {
                    id: (u64::from(slot) << 32) | u64::from(call),
                    op: Op::Write,
                    key: u64::from(job.key),
                    size_bytes: 0,
                    client: 0,
                };
                cx.send(target, Msg::Request(req));
                cx.set_timer(
                    self.cfg.call_timeout,
                    Timer::Messaging(MTimer::CallTimeout { slot, call }),
                );
                None
            }
            _ => self.finish(cx, slot, !failed),
        }
    }

    /// A downstream answer: finishes its job.
    pub(super) fn response(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        r: &Response,
    ) -> Option<(Job, bool)> {
        let (slot, call) = ((r.id >> 32) as u32, r.id as u32);
        if call == 0 || self.slots.get(slot as usize)?.call != call {
            return None; // Late answer to a call that timed out.
        }
        self.finish(cx, slot, r.status.is_ok())
    }

    /// A downstream call timed out (or could not be sent): fails its job.
    pub(super) fn call_failed(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        slot: u32,
        call: u32,
    ) -> Option<(Job, bool)> {
        if call == 0 || self.slots.get(slot as usize)?.call != call {
            return None;
        }
        self.finish(cx, slot, false)
    }

    /// The request id of a failed send maps to `(slot, call)`.
    pub(super) fn split(id: u64) -> (u32, u32) {
        ((id >> 32) as u32, id as u32)
    }

    /// Drops every job (crash); returns how many there were.
    pub(super) fn clear(&mut self) -> usize {
        let n = self.in_progress();
        let len = self.slots.len() as u32;
        self.slots.iter_mut().for_each(|s| *s = Slot::default());
        self.free = (0..len).rev().collect();
        n
    }
}
