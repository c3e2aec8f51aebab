//! A service as a queueing station: instances × workers, FIFO queues, optional downstream calls.
//!
//! # Request life cycle
//!
//! 1. **Arrival.** A [`Request`] picks an instance ([`Dispatch`]). If one of its workers is
//!    free, service starts at once; otherwise the request waits in the instance's FIFO queue,
//!    or, when the queue is full (`queue_capacity`), is answered [`Status::Rejected`]
//!    immediately (a rejected request is never *accepted*: it does not count in `in_system`).
//! 2. **Local work.** The service time is drawn from the service's own RNG stream when service
//!    starts and multiplied by the node's slowdown ([`Ctx::scaled`]).
//! 3. **Downstream calls.** Each configured [`Call`] is made with its probability (independent
//!    draws, list order). [`CallMode::Sequential`] sends them one after another,
//!    [`CallMode::Parallel`] all at once. Each call is a new [`Request`] with its own id (the
//!    incoming key and size, the call's op or else the incoming op). A call fails on a non-`Ok`
//!    response, on `call_timeout`, or on a send failure; the first failure ends the request
//!    with [`Status::Error`] (fail fast: remaining sequential calls are skipped, outstanding
//!    parallel calls are abandoned and their responses ignored).
//! 4. **Worker release.** With `hold_worker_during_calls` the worker stays busy until the
//!    response is sent (thread per request); without it the worker is released when the local
//!    work ends and the next queued request starts right away.
//! 5. **Response** to the caller, with the caller's request id and a size drawn from
//!    `response_size`: [`Status::Ok`] or [`Status::Error`].
//!
//! Latency therefore is, with constant times: `service + Σ calls` (sequential) or
//! `service + max calls` (parallel), plus network delays and queueing.
//!
//! # Crashes
//!
//! On a crash of its node the service drops everything: queued and in-service requests are
//! lost (their callers time out) and outstanding calls are forgotten (their late responses are
//! ignored). The gauges are reset when the node restarts (the engine's `on_crash` has no
//! context to record with, so until then they keep their pre-crash level).
//!
//! # Metrics (a contract with the report writer)
//!
//! Registered at build time with the service as owner.
//!
//! | name | kind | meaning |
//! |---|---|---|
//! | `arrivals` | counter | requests received (accepted or rejected) |
//! | `completed` | counter | responses sent with `Ok` |
//! | `rejected` | counter | requests answered `Rejected` (queue full) |
//! | `errors` | counter | responses sent with `Error` (a downstream call failed) |
//! | `calls` | counter | downstream call requests sent |
//! | `call_failures` | counter | downstream calls that failed (non-`Ok`, timeout, send failure) |
//! | `waited` | counter | accepted requests that had to queue (wait > 0) |
//! | `latency_ns` | histogram | arrival → response sent, for `Ok` and `Error` responses |
//! | `wait_ns` | histogram | arrival → service start (0 when a worker was free) |
//! | `queue_len` | gauge | requests waiting in queues, all instances |
//! | `busy` | gauge | busy workers, all instances |
//! | `in_system` | gauge | accepted requests not yet answered (Little's law: `in_system = λ_accepted × mean latency_ns`) |
//! | `servers` | gauge | `instances × workers`, set at start |
//!
//! In the long run `arrivals = completed + errors + rejected + in_system + lost in crashes`.

mod config;
#[cfg(test)]
mod tests;

pub use config::{Call, CallMode, Dispatch, MAX_CALLS, ServiceConfig};

use std::collections::VecDeque;

use clustersim_engine::rng::{below, chance};
use clustersim_engine::{
    Component, ComponentId, Ctx, Dist, DropCause, Recorder, SeriesId, SimDuration, SimTime,
    StableHash, StableHasher, TimerKey, Transport,
};

use crate::Cluster;
use crate::msg::{Msg, Request, Response, Status};

/// Timers of the service model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Timer {
    /// The local work of job `job` (a slab handle) is done.
    WorkDone {
        /// `generation << 32 | slot` of the job.
        job: u64,
    },
    /// The downstream call `call` (its request id) has waited `call_timeout`.
    CallTimeout {
        /// The call's request id.
        call: u64,
    },
}

impl StableHash for Timer {
    fn stable_hash(&self, h: &mut StableHasher) {
        match *self {
            Timer::WorkDone { job } => {
                h.write_u64(0);
                h.write_u64(job);
            }
            Timer::CallTimeout { call } => {
                h.write_u64(1);
                h.write_u64(call);
            }
        }
    }
}

/// Series ids of one service (see the module docs).
#[derive(Clone, Copy, Debug)]
struct ServiceMetrics {
    arrivals: SeriesId,
    completed: SeriesId,
    rejected: SeriesId,
    errors: SeriesId,
    calls: SeriesId,
    call_failures: SeriesId,
    waited: SeriesId,
    latency: SeriesId,
    wait: SeriesId,
    queue_len: SeriesId,
    busy: SeriesId,
    in_system: SeriesId,
    servers: SeriesId,
}

impl ServiceMetrics {
    fn register(rec: &mut Recorder, me: ComponentId) -> ServiceMetrics {
        let o = Some(me);
        ServiceMetrics {
            arrivals: rec.counter(o, "arrivals"),
            completed: rec.counter(o, "completed"),
            rejected: rec.counter(o, "rejected"),
            errors: rec.counter(o, "errors"),
            calls: rec.counter(o, "calls"),
            call_failures: rec.counter(o, "call_failures"),
            waited: rec.counter(o, "waited"),
            latency: rec.histogram(o, "latency_ns"),
            wait: rec.histogram(o, "wait_ns"),
            queue_len: rec.gauge(o, "queue_len"),
            busy: rec.gauge(o, "busy"),
            in_system: rec.gauge(o, "in_system"),
            servers: rec.gauge_persistent(o, "servers"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JobState {
    Free,
    Queued,
    Working,
    Calling,
}

/// One accepted request.
#[derive(Clone, Copy, Debug)]
struct Job {
    generation: u32,
    state: JobState,
    instance: u32,
    holds_worker: bool,
    from: ComponentId,
    req: Request,
    arrival: SimTime,
    /// Calls still to make (sequential) or not yet answered (parallel), one bit per call.
    pending: u64,
}

/// One outstanding downstream call.
#[derive(Clone, Copy, Debug)]
struct CallSlot {
    generation: u32,
    live: bool,
    /// Index in `calls`.
    call: u8,
    job: u32,
    job_generation: u32,
    timer: Option<TimerKey>,
}

#[derive(Debug, Default)]
struct Instance {
    busy: u32,
    queue: VecDeque<u32>,
}

#[inline]
fn make_id(slot: u32, generation: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(slot)
}

#[inline]
fn split_id(id: u64) -> (usize, u32) {
    ((id & 0xffff_ffff) as usize, (id >> 32) as u32)
}

/// The service component (see the module docs).
#[derive(Debug)]
pub struct Service {
    workers: u32,
    queue_capacity: Option<u32>,
    service_time: Dist,
    dispatch: Dispatch,
    calls: Vec<Call>,
    call_mode: CallMode,
    hold_worker: bool,
    call_timeout: Option<SimDuration>,
    response_size: Dist,
    transport: Transport,
    instances: Vec<Instance>,
    next_instance: u32,
    jobs: Vec<Job>,
    free_jobs: Vec<u32>,
    call_slots: Vec<CallSlot>,
    free_calls: Vec<u32>,
    m: ServiceMetrics,
    /// Per-key versions when `versioned` ([`ServiceConfig::versioned`]), else `None`.
    versions: Option<std::collections::BTreeMap<u64, u64>>,
}

fn size_of_sample(x: f64) -> u32 {
    if x >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        x.round() as u32
    }
}

impl Service {
    /// Builds the service and registers its metrics (owner `me`).
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &ServiceConfig, me: ComponentId, metrics: &mut Recorder) -> Service {
        if let Err(e) = cfg.validate() {
            panic!("invalid service config: {e}");
        }
        let per_instance_queue = cfg.queue_capacity.map_or(64, |c| c.min(1024)) as usize;
        Service {
            workers: cfg.workers,
            queue_capacity: cfg.queue_capacity,
            service_time: cfg.service_time.clone(),
            dispatch: cfg.dispatch,
            calls: cfg.calls.clone(),
            call_mode: cfg.call_mode,
            hold_worker: cfg.hold_worker_during_calls,
            call_timeout: cfg.call_timeout,
            response_size: cfg.response_size.clone(),
            transport: cfg.transport,
            instances: (0..cfg.instances)
                .map(|_| Instance {
                    busy: 0,
                    queue: VecDeque::with_capacity(per_instance_queue),
                })
                .collect(),
            next_instance: 0,
            jobs: Vec::with_capacity(64),
            free_jobs: Vec::with_capacity(64),
            call_slots: Vec::with_capacity(if cfg.calls.is_empty() { 0 } else { 64 }),
            free_calls: Vec::new(),
            m: ServiceMetrics::register(metrics, me),
            versions: cfg.versioned.then(std::collections::BTreeMap::new),
        }
    }

    /// The version a response for `req` carries (0 when unversioned); a successful write
    /// installs a new one first (see [`ServiceConfig::versioned`]).
    fn version_after(&mut self, now: SimTime, req: &Request, status: Status) -> u64 {
        let Some(versions) = &mut self.versions else {
            return 0;
        };
        if status.is_ok() && req.op == crate::msg::Op::Write {
            let v = versions.entry(req.key).or_insert(1);
            *v = (*v + 1).max(now.as_nanos());
            *v
        } else {
            versions.get(&req.key).copied().unwrap_or(1)
        }
    }

    /// Accepted requests not yet answered.
    pub fn in_system(&self) -> usize {
        self.jobs.len() - self.free_jobs.len()
    }

    /// Requests waiting in queues, all instances.
    pub fn queued(&self) -> usize {
        self.instances.iter().map(|i| i.queue.len()).sum()
    }

    /// Busy workers, all instances.
    pub fn busy(&self) -> u64 {
        self.instances.iter().map(|i| u64::from(i.busy)).sum()
    }

    fn pick_instance(&mut self, cx: &mut Ctx<'_, Cluster>) -> usize {
        let n = self.instances.len();
        if n == 1 {
            return 0;
        }
        match self.dispatch {
            Dispatch::RoundRobin => {
                let i = self.next_instance as usize % n;
                self.next_instance = ((i + 1) % n) as u32;
                i
            }
            Dispatch::Random => below(cx.rng(), n as u64) as usize,
            Dispatch::JoinShortestQueue => {
                let mut best = 0;
                let mut best_len = usize::MAX;
                for (i, inst) in self.instances.iter().enumerate() {
                    let len = inst.busy as usize + inst.queue.len();
                    if len < best_len {
                        best = i;
                        best_len = len;
                    }
                }
                best
            }
        }
    }

    fn on_request(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, req: Request) {
        cx.count(self.m.arrivals, 1);
        let i = self.pick_instance(cx);
        let inst = &self.instances[i];
        let free_worker = inst.busy < self.workers;
        if !free_worker
            && self
                .queue_capacity
                .is_some_and(|c| inst.queue.len() >= c as usize)
        {
            cx.count(self.m.rejected, 1);
            let resp = Response {
                id: req.id,
                status: Status::Rejected,
                size_bytes: 0,
                version: 0,
            };
            cx.send_with(from, Msg::Response(resp), self.transport, 0);
            return;
        }
        let job = Job {
            generation: 0,
            state: JobState::Queued,
            instance: i as u32,
            holds_worker: false,
            from,
            req,
            arrival: cx.now(),
            pending: 0,
        };
        let slot = match self.free_jobs.pop() {
            Some(s) => {
                let generation = self.jobs[s as usize].generation.wrapping_add(1);
                self.jobs[s as usize] = Job { generation, ..job };
                s
            }
            None => {
                self.jobs.push(job);
                (self.jobs.len() - 1) as u32
            }
        };
        cx.gauge_add(self.m.in_system, 1);
        if free_worker {
            self.start_work(cx, slot);
        } else {
            self.instances[i].queue.push_back(slot);
            cx.gauge_add(self.m.queue_len, 1);
        }
    }

    /// Takes a worker of the job's instance and starts the local work.
    fn start_work(&mut self, cx: &mut Ctx<'_, Cluster>, slot: u32) {
        let now = cx.now();
        let job = &mut self.jobs[slot as usize];
        job.state = JobState::Working;
        job.holds_worker = true;
        let wait = now - job.arrival;
        let handle = make_id(slot, job.generation);
        self.instances[job.instance as usize].busy += 1;
        cx.gauge_add(self.m.busy, 1);
        cx.record(self.m.wait, wait.as_nanos());
        if !wait.is_zero() {
            cx.count(self.m.waited, 1);
        }
        let work = self.service_time.sample_duration(cx.rng());
        let work = cx.scaled(work);
        cx.set_timer(work, Timer::WorkDone { job: handle }.into());
    }

    /// Frees a worker of `instance` and gives it to the next queued request, if any.
    fn release_worker(&mut self, cx: &mut Ctx<'_, Cluster>, instance: usize) {
        let inst = &mut self.instances[instance];
        inst.busy -= 1;
        cx.gauge_add(self.m.busy, -1);
        if let Some(next) = inst.queue.pop_front() {
            cx.gauge_add(self.m.queue_len, -1);
            self.start_work(cx, next);
        }
    }

    fn live_job(&self, handle: u64, state: JobState) -> Option<u32> {
        let (slot, generation) = split_id(handle);
        let j = self.jobs.get(slot)?;
        (j.generation == generation && j.state == state).then_some(slot as u32)
    }

    fn on_work_done(&mut self, cx: &mut Ctx<'_, Cluster>, handle: u64) {
        let Some(slot) = self.live_job(handle, JobState::Working) else {
            return;
        };
        let mut selected = 0u64;
        for (i, c) in self.calls.iter().enumerate() {
            if chance(cx.rng(), c.probability) {
                selected |= 1 << i;
            }
        }
        if selected == 0 {
            self.finish(cx, slot, Status::Ok);
            return;
        }
        let job = &mut self.jobs[slot as usize];
        job.state = JobState::Calling;
        job.pending = selected;
        if !self.hold_worker {
            job.holds_worker = false;
            let instance = job.instance as usize;
            self.release_worker(cx, instance);
        }
        match self.call_mode {
            CallMode::Sequential => self.send_call(cx, slot, selected.trailing_zeros() as u8),
            CallMode::Parallel => {
                let mut rest = selected;
                while rest != 0 {
                    let i = rest.trailing_zeros() as u8;
                    rest &= rest - 1;
                    self.send_call(cx, slot, i);
                }
            }
        }
    }

    fn send_call(&mut self, cx: &mut Ctx<'_, Cluster>, job_slot: u32, call: u8) {
        let job = self.jobs[job_slot as usize];
        let c = self.calls[call as usize];
        let entry = CallSlot {
            generation: 0,
            live: true,
            call,
            job: job_slot,
            job_generation: job.generation,
            timer: None,
        };
        let slot = match self.free_calls.pop() {
            Some(s) => {
                let generation = self.call_slots[s as usize].generation.wrapping_add(1);
                self.call_slots[s as usize] = CallSlot {
                    generation,
                    ..entry
                };
                s
            }
            None => {
                self.call_slots.push(entry);
                (self.call_slots.len() - 1) as u32
            }
        };
        let id = make_id(slot, self.call_slots[slot as usize].generation);
        if let Some(t) = self.call_timeout {
            let key = cx.set_timer(t, Timer::CallTimeout { call: id }.into());
            self.call_slots[slot as usize].timer = Some(key);
        }
        let req = Request {
            id,
            op: c.op.unwrap_or(job.req.op),
            key: job.req.key,
            size_bytes: job.req.size_bytes,
            client: job.req.client,
        };
        cx.count(self.m.calls, 1);
        cx.send_with(c.target, Msg::Request(req), self.transport, req.size_bytes);
    }

    /// Retires the live call `id`; returns its slot entry.
    fn take_call(&mut self, cx: &mut Ctx<'_, Cluster>, id: u64) -> Option<CallSlot> {
        let (slot, generation) = split_id(id);
        let c = self.call_slots.get_mut(slot)?;
        if !c.live || c.generation != generation {
            return None;
        }
        c.live = false;
        if let Some(k) = c.timer.take() {
            cx.cancel_timer(k);
        }
        self.free_calls.push(slot as u32);
        Some(*c)
    }

    /// A call ended with `ok`; continues or fails its job (if the job still waits for it).
    fn call_ended(&mut self, cx: &mut Ctx<'_, Cluster>, id: u64, ok: bool) {
        let Some(c) = self.take_call(cx, id) else {
            return;
        };
        if !ok {
            cx.count(self.m.call_failures, 1);
        }
        let job = &mut self.jobs[c.job as usize];
        if job.generation != c.job_generation || job.state != JobState::Calling {
            return; // the job already finished (fail fast) or was lost in a crash
        }
        if !ok {
            self.finish(cx, c.job, Status::Error);
            return;
        }
        job.pending &= !(1u64 << c.call);
        if job.pending == 0 {
            self.finish(cx, c.job, Status::Ok);
        } else if self.call_mode == CallMode::Sequential {
            let next = job.pending.trailing_zeros() as u8;
            self.send_call(cx, c.job, next);
        }
    }

    /// Answers the caller and frees the job (and its worker, if it holds one).
    fn finish(&mut self, cx: &mut Ctx<'_, Cluster>, slot: u32, status: Status) {
        let job = &mut self.jobs[slot as usize];
        job.state = JobState::Free;
        let job = *job;
        self.free_jobs.push(slot);
        let size = size_of_sample(self.response_size.sample(cx.rng()));
        let version = self.version_after(cx.now(), &job.req, status);
        let resp = Response {
            id: job.req.id,
            status,
            size_bytes: size,
            version,
        };
        cx.send_with(job.from, Msg::Response(resp), self.transport, size);
        cx.record(self.m.latency, (cx.now() - job.arrival).as_nanos());
        cx.count(
            if status.is_ok() {
                self.m.completed
            } else {
                self.m.errors
            },
            1,
        );
        cx.gauge_add(self.m.in_system, -1);
        if job.holds_worker {
            self.release_worker(cx, job.instance as usize);
        }
    }

    fn reset_gauges(&self, cx: &mut Ctx<'_, Cluster>) {
        cx.gauge_set(self.m.queue_len, 0);
        cx.gauge_set(self.m.busy, 0);
        cx.gauge_set(self.m.in_system, 0);
        let servers = i64::try_from(self.instances.len() as u64 * u64::from(self.workers))
            .unwrap_or(i64::MAX);
        cx.gauge_set(self.m.servers, servers);
    }
}

impl Component<Cluster> for Service {
    fn on_start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.reset_gauges(cx);
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: Msg) {
        match msg {
            Msg::Request(req) => self.on_request(cx, from, req),
            Msg::Response(resp) => self.call_ended(cx, resp.id, resp.status.is_ok()),
            // Health checks (the probe bypasses the queue, like a kernel-level TCP check; a
            // crashed service cannot answer), handshakes, shard transfers; the rest is not
            // for services.
            other => crate::msg::serve_host_traffic(cx, from, &other, self.transport),
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, timer: crate::Timer) {
        let crate::Timer::Service(t) = timer else {
            return;
        };
        match t {
            Timer::WorkDone { job } => self.on_work_done(cx, job),
            Timer::CallTimeout { call } => self.call_ended(cx, call, false),
        }
    }

    fn on_send_failed(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        _to: ComponentId,
        msg: Msg,
        _cause: DropCause,
    ) {
        // A failed response needs no action: the caller times out.
        if let Msg::Request(req) = msg {
            self.call_ended(cx, req.id, false);
        }
    }

    fn on_crash(&mut self) {
        self.free_jobs.clear();
        for (i, j) in self.jobs.iter_mut().enumerate().rev() {
            j.state = JobState::Free;
            self.free_jobs.push(i as u32);
        }
        self.free_calls.clear();
        for (i, c) in self.call_slots.iter_mut().enumerate().rev() {
            c.live = false;
            c.timer = None;
            self.free_calls.push(i as u32);
        }
        for inst in &mut self.instances {
            inst.busy = 0;
            inst.queue.clear();
        }
        self.next_instance = 0;
    }

    fn on_restart(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.reset_gauges(cx);
    }
}
