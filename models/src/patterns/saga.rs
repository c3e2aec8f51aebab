//! Sagas: a business transaction split into local transactions (steps) on several services,
//! each with a compensation that undoes it.
//!
//! A client's [`Request`] to a [`Saga`] component starts one saga; the client gets
//! [`Status::Ok`] when every step is done (committed) and [`Status::Error`] when the saga was
//! compensated or got stuck. The steps run on [`Participant`]s.
//!
//! # Orchestration ([`SagaMode::Orchestration`])
//!
//! The saga component is the coordinator: it sends `Do` to step 0, waits for `Done`, sends
//! `Do` to step 1, and so on. A step that answers `Failed`, or does not answer within
//! `step_timeout`, is retried after a backoff (`retry`); when its retries are exhausted the
//! coordinator compensates in reverse order: every step it knows is done, plus the failed
//! step itself when it timed out (its outcome is unknown; a participant that never did it
//! answers the compensation as a no-op). A compensation that fails or times out is retried
//! (`compensation_retry`); when those retries are exhausted the saga is **stuck** (it needs a
//! human: it stays inconsistent forever and stays in the log).
//!
//! The coordinator writes every transition to its log (the `log_writes` counter; each write
//! takes `log_write`, an fsync, before the action it records is sent or the client is
//! answered) and the log survives a crash; on restart it resumes every unfinished saga from the log by re-sending
//! its current action (participants are idempotent: a `Do` of a done step is answered `Done`
//! again, a compensation of a compensated step `Compensated` again). Requests that arrive
//! while it is down are lost, and so are the answers to its clients (they time out).
//!
//! # Choreography ([`SagaMode::Choreography`])
//!
//! The saga component only starts the saga (an event to step 0) and waits for the outcome.
//! Each participant does its local transaction and emits an event to the next participant
//! (the last one tells the origin "committed"); a participant whose transaction fails
//! (after its own `retry`) emits a compensation event back to the previous one, and each
//! participant in turn compensates and passes it back, until step 0 tells the origin
//! "compensated". A compensation that fails is retried locally (`compensation_retry`);
//! exhausted, the participant tells the origin "stuck". Step 0 also tells the origin when its
//! transaction is done, which is when the inconsistent window opens. The origin marks a saga
//! with no outcome after `saga_timeout` as stuck (participants do not resend events, so an
//! outcome sent while the origin was down is lost and its saga ends stuck).
//!
//! # Failures, with the closed form
//!
//! A step's transaction fails with probability `p` per attempt (drawn by the participant,
//! independently), a compensation with probability `q`. With `n` steps, no retries, no
//! timeouts: the saga commits iff every step succeeds, P(commit) = (1 − p)ⁿ
//! ([`commit_probability`]); if the first failure is at step `k` (0-based, probability
//! `(1 − p)ᵏ p`), the `k` steps before it are compensated, so the expected number of
//! compensations is [`expected_compensations`].
//!
//! # Invariant checker (the audit)
//!
//! Every saga must end **all done or all compensated**. With `audit_delay` set (the default,
//! 1 s), the saga component asks every participant, that long after the saga finished, for
//! its state of that saga and checks it with [`step_consistent`]: committed needs `Done`
//! everywhere; compensated needs nothing left done (`None`, `Failed`, `Compensated`).
//! Violations are counted in `invariant_violations` (stuck sagas are violations by
//! definition and are counted in `stuck`, not audited).
//!
//! # Metrics of the saga component
//!
//! | name | kind | meaning |
//! |---|---|---|
//! | `arrivals` | counter | sagas started (client requests) |
//! | `completed`, `errors` | counter | answers sent: committed / compensated or stuck |
//! | `committed`, `compensated`, `stuck` | counter | saga outcomes |
//! | `compensations` | counter | step compensations started (orchestration) |
//! | `retries`, `compensation_retries`, `timeouts` | counter | step retries, compensation retries, step timeouts (orchestration) |
//! | `log_writes` | counter | transitions written to the log |
//! | `recovered` | counter | unfinished sagas resumed from the log after a restart |
//! | `audited`, `invariant_violations` | counter | sagas audited, audits that found a mixed state |
//! | `latency_ns` | histogram | request → answer, every outcome |
//! | `commit_latency_ns` | histogram | request → answer, committed sagas |
//! | `inconsistent_ns` | histogram | first step done → saga committed or compensated |
//! | `in_system` | gauge | sagas started and not finished (survives crashes) |
//! | `inconsistent` | gauge | sagas with a step done and not yet finished, plus stuck ones: its time average × the measured time is the total time spent in inconsistent states |
//! | `log_entries` | gauge | sagas in the log (unfinished, awaiting audit, stuck) |
//!
//! # Metrics of a participant
//!
//! `arrivals` (`Do` and compensation events), `transactions` (local transactions run,
//! retries included), `completed` / `errors` (transactions done / failed), `compensations`
//! (done steps undone), `noop_compensations` (compensations of steps never done),
//! `compensation_failures`, `work_ns` (histogram: one transaction or compensation, store
//! call included), `in_system` (work in progress), `states` (sagas remembered, gauge).

use std::collections::{BTreeMap, VecDeque};

use clustersim_engine::rng::chance;
use clustersim_engine::{
    Component, ComponentId, Ctx, Dist, DropCause, Recorder, SeriesId, SimDuration, SimTime,
    StableHash, StableHasher, Transport,
};

use super::{Slab, backoff, check_probability};
use crate::Cluster;
use crate::error::ConfigError;
use crate::msg::{Op, Request, Response, Status};
use crate::workload::RetryPolicy;

/// Most steps a saga may have.
pub const MAX_STEPS: usize = 64;

/// P(commit) of a saga of `n` steps failing independently with probability `p`, no retries:
/// `(1 − p)ⁿ`.
pub fn commit_probability(n: u32, p: f64) -> f64 {
    libm::pow(1.0 - p, f64::from(n))
}

/// Expected compensations of a saga of `n` steps failing independently with probability
/// `p`, no retries and no timeouts.
///
/// The first failure is at step `k` with probability `p qᵏ` (`q = 1 − p`), and then the `k`
/// steps before it are compensated: `E = Σ_{k=0}^{n−1} k p qᵏ`. With
/// `Σ_{k=0}^{n−1} k qᵏ = q (1 − n qⁿ⁻¹ + (n − 1) qⁿ) / (1 − q)²` this is
/// `E = q (1 − n qⁿ⁻¹ + (n − 1) qⁿ) / p` (and 0 for `p = 0`).
pub fn expected_compensations(n: u32, p: f64) -> f64 {
    if p <= 0.0 || n == 0 {
        return 0.0;
    }
    let q = 1.0 - p;
    let nf = f64::from(n);
    q * (1.0 - nf * libm::pow(q, nf - 1.0) + (nf - 1.0) * libm::pow(q, nf)) / p
}

/// How a saga is coordinated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SagaMode {
    /// A coordinator calls the steps in order and compensates in reverse.
    Orchestration,
    /// The participants pass events along; the saga component only starts and observes.
    Choreography,
}

/// A saga component (orchestrator, or origin of a choreography).
#[derive(Clone, Debug, PartialEq)]
pub struct SagaConfig {
    /// Orchestration or choreography.
    pub mode: SagaMode,
    /// The participants, in step order: 1 to [`MAX_STEPS`], each at most once.
    pub steps: Vec<ComponentId>,
    /// Orchestration: how long to wait for a step's or a compensation's answer, `> 0`.
    /// Default 1 s.
    pub step_timeout: SimDuration,
    /// Orchestration: retries of a failed or timed-out step. Default none.
    pub retry: RetryPolicy,
    /// Orchestration: retries of a failed or timed-out compensation; exhausted, the saga is
    /// stuck. Default 5 retries from 10 ms, ×2, capped at 1 s, full jitter.
    pub compensation_retry: RetryPolicy,
    /// Choreography: a saga without an outcome this long after it started is stuck.
    /// Default `None` (wait forever).
    pub saga_timeout: Option<SimDuration>,
    /// How long after a saga finished its participants are audited; `None` = no audit.
    /// Default 1 s.
    pub audit_delay: Option<SimDuration>,
    /// Time to write a transition durably to the log (an fsync): every action (a step, a
    /// compensation, the start of a choreography) and the final answer wait for it.
    /// Default 0.
    pub log_write: SimDuration,
    /// Transport of saga messages and answers. Default [`Transport::Stream`].
    pub transport: Transport,
}

/// Default compensation retries: 5, from 10 ms, ×2, capped at 1 s, full jitter.
pub fn default_compensation_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 5,
        ..RetryPolicy::default()
    }
}

impl SagaConfig {
    /// An orchestrated saga over `steps` with every other field at its default.
    pub fn new(mode: SagaMode, steps: Vec<ComponentId>) -> SagaConfig {
        SagaConfig {
            mode,
            steps,
            step_timeout: SimDuration::from_secs(1),
            retry: RetryPolicy::default(),
            compensation_retry: default_compensation_retry(),
            saga_timeout: None,
            audit_delay: Some(SimDuration::from_secs(1)),
            log_write: SimDuration::ZERO,
            transport: Transport::Stream,
        }
    }

    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            return Err(ConfigError::new(
                "steps",
                format!(
                    "has {} entries, but a saga needs 1 to {MAX_STEPS} steps",
                    self.steps.len()
                ),
            ));
        }
        for (i, s) in self.steps.iter().enumerate() {
            if self.steps[..i].contains(s) {
                return Err(ConfigError::new(
                    format!("steps[{i}]"),
                    "names a participant that is already a step of this saga; each participant is one step",
                ));
            }
        }
        if self.step_timeout.is_zero() {
            return Err(ConfigError::new("step_timeout", "is 0, but it must be > 0"));
        }
        if self.saga_timeout.is_some_and(SimDuration::is_zero) {
            return Err(ConfigError::new(
                "saga_timeout",
                "is 0, but it must be > 0 (leave it out to wait forever)",
            ));
        }
        self.retry.validate("retry")?;
        self.compensation_retry.validate("compensation_retry")
    }
}

/// Where a choreographed participant sends its events for the saga of `origin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChoreographyRoute {
    /// The saga component that starts these sagas.
    pub origin: ComponentId,
    /// This participant's step index in that saga.
    pub step: u16,
    /// The previous step (compensation events go there); `None` for step 0.
    pub prev: Option<ComponentId>,
    /// The next step (done events go there); `None` for the last step.
    pub next: Option<ComponentId>,
}

/// A saga participant: a service with a local transaction and its compensation.
#[derive(Clone, Debug, PartialEq)]
pub struct ParticipantConfig {
    /// Time of the local transaction, ns (sampled per attempt).
    pub work: Dist,
    /// Time of a compensation, ns. Default: the same as `work`.
    pub compensation_work: Dist,
    /// Probability a transaction attempt fails, in `[0, 1]`. Default 0.
    pub failure_probability: f64,
    /// Probability a compensation attempt fails, in `[0, 1]`. Default 0.
    pub compensation_failure_probability: f64,
    /// The data store every transaction and compensation writes to (a `Service`); a
    /// non-`Ok` answer fails the attempt. Default none (in-memory).
    pub store: Option<ComponentId>,
    /// Choreography: retries of a failed transaction. Default none.
    pub retry: RetryPolicy,
    /// Choreography: retries of a failed compensation; exhausted, the saga is stuck.
    /// Default as [`default_compensation_retry`].
    pub compensation_retry: RetryPolicy,
    /// How long the state of a saga is remembered after its last change (for idempotent
    /// replies and audits), `> 0`. Default 60 s.
    pub retention: SimDuration,
    /// Choreography routes, one per choreographed saga this participant is a step of (filled
    /// in by the scenario loader from the sagas' `steps`).
    pub routes: Vec<ChoreographyRoute>,
    /// Transport. Default [`Transport::Stream`].
    pub transport: Transport,
}

impl ParticipantConfig {
    /// A participant with the given transaction time; every other field at its default.
    pub fn new(work: Dist) -> ParticipantConfig {
        ParticipantConfig {
            compensation_work: work.clone(),
            work,
            failure_probability: 0.0,
            compensation_failure_probability: 0.0,
            store: None,
            retry: RetryPolicy::default(),
            compensation_retry: default_compensation_retry(),
            retention: SimDuration::from_secs(60),
            routes: Vec::new(),
            transport: Transport::Stream,
        }
    }

    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_probability("failure_probability", self.failure_probability)?;
        check_probability(
            "compensation_failure_probability",
            self.compensation_failure_probability,
        )?;
        if self.retention.is_zero() {
            return Err(ConfigError::new("retention", "is 0, but it must be > 0"));
        }
        self.retry.validate("retry")?;
        self.compensation_retry.validate("compensation_retry")
    }
}

// ------------------------------------------------------------------ messages

/// A saga message: what happens to step `step` of saga `saga` started by `origin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SagaMsg {
    /// Saga id, unique per origin.
    pub saga: u64,
    /// The saga component that started it.
    pub origin: ComponentId,
    /// The step concerned.
    pub step: u16,
    /// Whether the saga is choreographed (participants pass events on) or orchestrated
    /// (participants answer the coordinator).
    pub choreography: bool,
    /// What is asked or reported.
    pub kind: SagaKind,
}

/// The kinds of saga messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SagaKind {
    /// Run the step's local transaction.
    Do,
    /// Undo the step.
    Compensate,
    /// The transaction is done.
    Done,
    /// The transaction failed (nothing was changed).
    Failed,
    /// The step is compensated (or was never done).
    Compensated,
    /// The compensation failed (the step is still done), or cannot run yet (the
    /// transaction is still running).
    CompensationFailed,
    /// Choreography: the saga's outcome, to the origin.
    Outcome(Outcome),
    /// Audit: what is your state of this saga?
    Audit,
    /// The answer to [`SagaKind::Audit`].
    AuditReply(StepState),
}

/// How a saga ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every step done.
    Committed,
    /// Every done step compensated.
    Compensated,
    /// A compensation kept failing: some steps stay done.
    Stuck,
}

/// A participant's state of one saga.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StepState {
    /// Never heard of it (or forgotten after `retention`).
    None,
    /// Transaction running.
    Doing,
    /// Transaction done.
    Done,
    /// Transaction failed; nothing changed.
    Failed,
    /// Compensation running.
    Compensating,
    /// Compensated, or a compensation arrived before any transaction (a tombstone: a late
    /// `Do` is refused).
    Compensated,
}

/// Whether a participant's final `state` agrees with the saga's `outcome` (the invariant:
/// all done, or all compensated).
pub fn step_consistent(outcome: Outcome, state: StepState) -> bool {
    match outcome {
        Outcome::Committed => state == StepState::Done,
        Outcome::Compensated => matches!(
            state,
            StepState::None | StepState::Failed | StepState::Compensated
        ),
        Outcome::Stuck => false,
    }
}

/// Whether a finished saga's participants all agree with its outcome.
pub fn saga_consistent(outcome: Outcome, states: &[StepState]) -> bool {
    states.iter().all(|s| step_consistent(outcome, *s))
}

impl SagaKind {
    fn tag(self) -> u64 {
        match self {
            SagaKind::Do => 0,
            SagaKind::Compensate => 1,
            SagaKind::Done => 2,
            SagaKind::Failed => 3,
            SagaKind::Compensated => 4,
            SagaKind::CompensationFailed => 5,
            SagaKind::Outcome(o) => 6 | ((o as u64) << 8),
            SagaKind::Audit => 7,
            SagaKind::AuditReply(s) => 8 | ((s as u64) << 8),
        }
    }
}

impl StableHash for SagaMsg {
    fn stable_hash(&self, h: &mut StableHasher) {
        h.write_u64(self.saga);
        h.write_u64(u64::from(self.origin.0));
        h.write_u64(
            (u64::from(self.step) << 32) | (u64::from(self.choreography) << 24) | self.kind.tag(),
        );
    }
}

/// Saga timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SagaTimer {
    /// The coordinator's current action of `saga` (sent with `epoch`) may be unanswered.
    StepTimeout {
        /// Saga id.
        saga: u64,
        /// The action's epoch.
        epoch: u32,
    },
    /// Retry the current action of `saga` (set with `epoch`).
    Retry {
        /// Saga id.
        saga: u64,
        /// The action's epoch.
        epoch: u32,
    },
    /// Audit `saga`.
    Audit {
        /// Saga id.
        saga: u64,
    },
    /// Choreography: `saga` has had long enough.
    SagaTimeout {
        /// Saga id.
        saga: u64,
    },
    /// The log write before the current action of `saga` (set with `epoch`) is done.
    Logged {
        /// Saga id.
        saga: u64,
        /// The action's epoch.
        epoch: u32,
    },
    /// The log write of `saga`'s outcome is done: answer the client.
    Answer {
        /// Saga id.
        saga: u64,
    },
    /// A participant's transaction or compensation of (`origin`, `saga`) is done.
    Work {
        /// Origin.
        origin: ComponentId,
        /// Saga id.
        saga: u64,
        /// A compensation.
        compensation: bool,
    },
    /// A participant retries its transaction or compensation (choreography).
    LocalRetry {
        /// Origin.
        origin: ComponentId,
        /// Saga id.
        saga: u64,
        /// A compensation.
        compensation: bool,
    },
}

impl StableHash for SagaTimer {
    fn stable_hash(&self, h: &mut StableHasher) {
        match *self {
            SagaTimer::StepTimeout { saga, epoch } => {
                h.write_u64(0);
                h.write_u64(saga);
                h.write_u64(u64::from(epoch));
            }
            SagaTimer::Retry { saga, epoch } => {
                h.write_u64(1);
                h.write_u64(saga);
                h.write_u64(u64::from(epoch));
            }
            SagaTimer::Audit { saga } => {
                h.write_u64(2);
                h.write_u64(saga);
            }
            SagaTimer::SagaTimeout { saga } => {
                h.write_u64(3);
                h.write_u64(saga);
            }
            SagaTimer::Logged { saga, epoch } => {
                h.write_u64(6);
                h.write_u64(saga);
                h.write_u64(u64::from(epoch));
            }
            SagaTimer::Answer { saga } => {
                h.write_u64(7);
                h.write_u64(saga);
            }
            SagaTimer::Work {
                origin,
                saga,
                compensation,
            } => {
                h.write_u64(4 | (u64::from(compensation) << 8));
                h.write_u64(u64::from(origin.0));
                h.write_u64(saga);
            }
            SagaTimer::LocalRetry {
                origin,
                saga,
                compensation,
            } => {
                h.write_u64(5 | (u64::from(compensation) << 8));
                h.write_u64(u64::from(origin.0));
                h.write_u64(saga);
            }
        }
    }
}

fn timer(t: SagaTimer) -> crate::Timer {
    super::Timer::Saga(t).into()
}

fn msg(m: SagaMsg) -> crate::Msg {
    super::Msg::Saga {
        saga: m.saga,
        origin: m.origin,
        step: m.step,
        choreography: m.choreography,
        kind: m.kind,
    }
    .into()
}

impl SagaMsg {
    /// The saga message inside `m`, if it is one.
    pub fn from_msg(m: &crate::Msg) -> Option<SagaMsg> {
        match *m {
            crate::Msg::Pattern(super::Msg::Saga {
                saga,
                origin,
                step,
                choreography,
                kind,
            }) => Some(SagaMsg {
                saga,
                origin,
                step,
                choreography,
                kind,
            }),
            _ => None,
        }
    }
}

// ------------------------------------------------------------------ the saga component

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Forward,
    Compensating,
    Finished(Outcome),
}

/// One saga in the coordinator's log.
#[derive(Clone, Copy, Debug)]
struct Record {
    client: ComponentId,
    req: Request,
    started: SimTime,
    step: u16,
    phase: Phase,
    attempts: u32,
    epoch: u32,
    first_effect: Option<SimTime>,
    audit_pending: u16,
    audit_bad: bool,
    answered: bool,
}

#[derive(Clone, Debug)]
struct SagaMetrics {
    arrivals: SeriesId,
    completed: SeriesId,
    errors: SeriesId,
    committed: SeriesId,
    compensated: SeriesId,
    stuck: SeriesId,
    compensations: SeriesId,
    retries: SeriesId,
    compensation_retries: SeriesId,
    timeouts: SeriesId,
    log_writes: SeriesId,
    recovered: SeriesId,
    audited: SeriesId,
    violations: SeriesId,
    latency: SeriesId,
    commit_latency: SeriesId,
    inconsistent_ns: SeriesId,
    in_system: SeriesId,
    inconsistent: SeriesId,
    log_entries: SeriesId,
}

/// The saga component: orchestrator or choreography origin (see the module docs).
#[derive(Debug)]
pub struct Saga {
    cfg: SagaConfig,
    me: ComponentId,
    /// The durable log: survives crashes.
    log: BTreeMap<u64, Record>,
    next_saga: u64,
    scratch: Vec<u64>,
    m: SagaMetrics,
}

impl Saga {
    /// Builds the saga component and registers its metrics.
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &SagaConfig, me: ComponentId, rec: &mut Recorder) -> Saga {
        if let Err(e) = cfg.validate() {
            panic!("invalid saga config: {e}");
        }
        let o = Some(me);
        let m = SagaMetrics {
            arrivals: rec.counter(o, "arrivals"),
            completed: rec.counter(o, "completed"),
            errors: rec.counter(o, "errors"),
            committed: rec.counter(o, "committed"),
            compensated: rec.counter(o, "compensated"),
            stuck: rec.counter(o, "stuck"),
            compensations: rec.counter(o, "compensations"),
            retries: rec.counter(o, "retries"),
            compensation_retries: rec.counter(o, "compensation_retries"),
            timeouts: rec.counter(o, "timeouts"),
            log_writes: rec.counter(o, "log_writes"),
            recovered: rec.counter(o, "recovered"),
            audited: rec.counter(o, "audited"),
            violations: rec.counter(o, "invariant_violations"),
            latency: rec.histogram(o, "latency_ns"),
            commit_latency: rec.histogram(o, "commit_latency_ns"),
            inconsistent_ns: rec.histogram(o, "inconsistent_ns"),
            in_system: rec.gauge_persistent(o, "in_system"),
            inconsistent: rec.gauge_persistent(o, "inconsistent"),
            log_entries: rec.gauge_persistent(o, "log_entries"),
        };
        Saga {
            cfg: cfg.clone(),
            me,
            log: BTreeMap::new(),
            next_saga: 0,
            scratch: Vec::new(),
            m,
        }
    }

    fn choreography(&self) -> bool {
        self.cfg.mode == SagaMode::Choreography
    }

    fn write_log(&self, cx: &mut Ctx<'_, Cluster>) {
        cx.count(self.m.log_writes, 1);
        cx.gauge_set(self.m.log_entries, self.log.len() as i64);
    }

    fn on_request(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, req: Request) {
        cx.count(self.m.arrivals, 1);
        cx.gauge_add(self.m.in_system, 1);
        let saga = self.next_saga;
        self.next_saga += 1;
        self.log.insert(
            saga,
            Record {
                client: from,
                req,
                started: cx.now(),
                step: 0,
                phase: Phase::Forward,
                attempts: 0,
                epoch: 0,
                first_effect: None,
                audit_pending: 0,
                audit_bad: false,
                answered: false,
            },
        );
        self.write_log(cx);
        if self.choreography()
            && let Some(t) = self.cfg.saga_timeout
        {
            cx.set_timer(t, timer(SagaTimer::SagaTimeout { saga }));
        }
        self.send_current(cx, saga);
    }

    fn send(&self, cx: &mut Ctx<'_, Cluster>, saga: u64, step: u16, kind: SagaKind) {
        let m = SagaMsg {
            saga,
            origin: self.me,
            step,
            choreography: self.choreography(),
            kind,
        };
        cx.send_with(
            self.cfg.steps[step as usize],
            msg(m),
            self.cfg.transport,
            32,
        );
    }

    /// (Re)sends the current action of `saga` once its transition is in the log.
    fn send_current(&mut self, cx: &mut Ctx<'_, Cluster>, saga: u64) {
        let Some(r) = self.log.get_mut(&saga) else {
            return;
        };
        r.epoch = r.epoch.wrapping_add(1);
        let epoch = r.epoch;
        if self.cfg.log_write.is_zero() {
            self.dispatch(cx, saga, epoch);
        } else {
            let t = SagaTimer::Logged { saga, epoch };
            cx.set_timer(self.cfg.log_write, timer(t));
        }
    }

    /// Sends the current action of `saga` (if still the one of `epoch`) and, orchestrating,
    /// arms its timeout.
    fn dispatch(&mut self, cx: &mut Ctx<'_, Cluster>, saga: u64, epoch: u32) {
        let Some(r) = self.log.get(&saga) else {
            return;
        };
        if r.epoch != epoch {
            return;
        }
        let step = r.step;
        let kind = match r.phase {
            Phase::Forward => SagaKind::Do,
            Phase::Compensating => SagaKind::Compensate,
            Phase::Finished(_) => return,
        };
        self.send(cx, saga, step, kind);
        if !self.choreography() {
            cx.set_timer(
                self.cfg.step_timeout,
                timer(SagaTimer::StepTimeout { saga, epoch }),
            );
        }
    }

    fn mark_effect(&mut self, cx: &mut Ctx<'_, Cluster>, saga: u64) {
        if let Some(r) = self.log.get_mut(&saga)
            && r.first_effect.is_none()
        {
            r.first_effect = Some(cx.now());
            cx.gauge_add(self.m.inconsistent, 1);
        }
    }

    fn on_done(&mut self, cx: &mut Ctx<'_, Cluster>, saga: u64, step: u16) {
        let n = self.cfg.steps.len() as u16;
        let Some(r) = self.log.get(&saga) else {
            return;
        };
        if r.phase != Phase::Forward || r.step != step {
            return; // a duplicate or late answer
        }
        self.mark_effect(cx, saga);
        if self.choreography() {
            return; // step 0's "done" only opens the inconsistent window
        }
        let r = self.log.get_mut(&saga).expect("present");
        r.step += 1;
        r.attempts = 0;
        if r.step == n {
            self.finish(cx, saga, Outcome::Committed);
        } else {
            self.write_log(cx);
            self.send_current(cx, saga);
        }
    }

    /// Orchestration: the current step failed (`timed_out`: its outcome is unknown).
    fn on_step_failed(&mut self, cx: &mut Ctx<'_, Cluster>, saga: u64, timed_out: bool) {
        let Some(r) = self.log.get_mut(&saga) else {
            return;
        };
        r.attempts += 1;
        if r.attempts <= self.cfg.retry.max_retries {
            cx.count(self.m.retries, 1);
            let d = backoff(&self.cfg.retry, r.attempts, cx.rng());
            r.epoch = r.epoch.wrapping_add(1);
            let epoch = r.epoch;
            cx.set_timer(d, timer(SagaTimer::Retry { saga, epoch }));
            return;
        }
        // Compensate from the failed step itself when its outcome is unknown, else from
        // the step before it.
        let start = if timed_out {
            Some(r.step)
        } else {
            r.step.checked_sub(1)
        };
        let Some(start) = start else {
            self.finish(cx, saga, Outcome::Compensated);
            return;
        };
        r.phase = Phase::Compensating;
        r.step = start;
        r.attempts = 0;
        cx.count(self.m.compensations, 1);
        self.write_log(cx);
        self.send_current(cx, saga);
    }

    fn on_compensated(&mut self, cx: &mut Ctx<'_, Cluster>, saga: u64, step: u16) {
        let Some(r) = self.log.get_mut(&saga) else {
            return;
        };
        if r.phase != Phase::Compensating || r.step != step {
            return;
        }
        if step == 0 {
            self.finish(cx, saga, Outcome::Compensated);
            return;
        }
        r.step -= 1;
        r.attempts = 0;
        cx.count(self.m.compensations, 1);
        self.write_log(cx);
        self.send_current(cx, saga);
    }

    fn on_compensation_failed(&mut self, cx: &mut Ctx<'_, Cluster>, saga: u64) {
        let Some(r) = self.log.get_mut(&saga) else {
            return;
        };
        r.attempts += 1;
        if r.attempts <= self.cfg.compensation_retry.max_retries {
            cx.count(self.m.compensation_retries, 1);
            let d = backoff(&self.cfg.compensation_retry, r.attempts, cx.rng());
            r.epoch = r.epoch.wrapping_add(1);
            let epoch = r.epoch;
            cx.set_timer(d, timer(SagaTimer::Retry { saga, epoch }));
        } else {
            self.finish(cx, saga, Outcome::Stuck);
        }
    }

    /// The saga ended with `outcome`: log it, then (after the log write) answer the client.
    fn finish(&mut self, cx: &mut Ctx<'_, Cluster>, saga: u64, outcome: Outcome) {
        let now = cx.now();
        let Some(r) = self.log.get_mut(&saga) else {
            return;
        };
        if matches!(r.phase, Phase::Finished(_)) {
            return;
        }
        r.phase = Phase::Finished(outcome);
        r.epoch = r.epoch.wrapping_add(1);
        let r = *r;
        match outcome {
            Outcome::Committed => cx.count(self.m.committed, 1),
            Outcome::Compensated => cx.count(self.m.compensated, 1),
            Outcome::Stuck => cx.count(self.m.stuck, 1),
        }
        if outcome == Outcome::Stuck {
            // Stuck sagas stay inconsistent (and in the log) for good.
            if r.first_effect.is_none() {
                self.mark_effect(cx, saga);
            }
        } else if let Some(t) = r.first_effect {
            cx.gauge_add(self.m.inconsistent, -1);
            cx.record(self.m.inconsistent_ns, (now - t).as_nanos());
        }
        self.write_log(cx);
        if self.cfg.log_write.is_zero() {
            self.answer(cx, saga);
        } else {
            cx.set_timer(self.cfg.log_write, timer(SagaTimer::Answer { saga }));
        }
    }

    /// Answers the client of a finished saga, then audits it later or forgets it.
    fn answer(&mut self, cx: &mut Ctx<'_, Cluster>, saga: u64) {
        let Some(r) = self.log.get_mut(&saga) else {
            return;
        };
        let Phase::Finished(outcome) = r.phase else {
            return;
        };
        if r.answered {
            return;
        }
        r.answered = true;
        let r = *r;
        let ok = outcome == Outcome::Committed;
        let resp = Response {
            id: r.req.id,
            status: if ok { Status::Ok } else { Status::Error },
            size_bytes: 0,
            version: 0,
        };
        cx.send_with(r.client, resp.into(), self.cfg.transport, 0);
        let latency = (cx.now() - r.started).as_nanos();
        cx.record(self.m.latency, latency);
        cx.gauge_add(self.m.in_system, -1);
        if ok {
            cx.count(self.m.completed, 1);
            cx.record(self.m.commit_latency, latency);
        } else {
            cx.count(self.m.errors, 1);
        }
        if outcome == Outcome::Stuck {
            return;
        }
        match self.cfg.audit_delay {
            Some(d) => {
                cx.set_timer(d, timer(SagaTimer::Audit { saga }));
            }
            None => {
                self.log.remove(&saga);
                self.write_log(cx);
            }
        }
    }

    fn start_audit(&mut self, cx: &mut Ctx<'_, Cluster>, saga: u64) {
        let n = self.cfg.steps.len() as u16;
        let Some(r) = self.log.get_mut(&saga) else {
            return;
        };
        if !matches!(
            r.phase,
            Phase::Finished(Outcome::Committed | Outcome::Compensated)
        ) {
            return;
        }
        r.audit_pending = n;
        r.audit_bad = false;
        for step in 0..n {
            self.send(cx, saga, step, SagaKind::Audit);
        }
    }

    fn on_audit_reply(&mut self, cx: &mut Ctx<'_, Cluster>, saga: u64, state: StepState) {
        let Some(r) = self.log.get_mut(&saga) else {
            return;
        };
        let Phase::Finished(outcome) = r.phase else {
            return;
        };
        if r.audit_pending == 0 {
            return;
        }
        r.audit_pending -= 1;
        r.audit_bad |= !step_consistent(outcome, state);
        if r.audit_pending == 0 {
            cx.count(self.m.audited, 1);
            if r.audit_bad {
                cx.count(self.m.violations, 1);
            }
            self.log.remove(&saga);
            self.write_log(cx);
        }
    }

    fn on_saga_msg(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, m: SagaMsg) {
        if m.origin != self.me || self.cfg.steps.get(m.step as usize) != Some(&from) {
            return;
        }
        let current = |s: &Saga| s.log.get(&m.saga).map(|r| (r.phase, r.step));
        match m.kind {
            SagaKind::Done => self.on_done(cx, m.saga, m.step),
            SagaKind::Failed => {
                if current(self) == Some((Phase::Forward, m.step)) {
                    self.on_step_failed(cx, m.saga, false);
                }
            }
            SagaKind::Compensated => self.on_compensated(cx, m.saga, m.step),
            SagaKind::CompensationFailed => {
                if current(self) == Some((Phase::Compensating, m.step)) {
                    self.on_compensation_failed(cx, m.saga);
                }
            }
            SagaKind::Outcome(o) => {
                // A compensated outcome comes from step 0 (the end of the chain back).
                let from_end = o != Outcome::Compensated || m.step == 0;
                let running = current(self).is_some_and(|(p, _)| p == Phase::Forward);
                if self.choreography() && running && from_end {
                    self.finish(cx, m.saga, o);
                }
            }
            SagaKind::AuditReply(state) => self.on_audit_reply(cx, m.saga, state),
            SagaKind::Do | SagaKind::Compensate | SagaKind::Audit => {}
        }
    }

    fn on_saga_timer(&mut self, cx: &mut Ctx<'_, Cluster>, t: SagaTimer) {
        match t {
            SagaTimer::StepTimeout { saga, epoch } => {
                let Some(r) = self.log.get(&saga) else {
                    return;
                };
                if r.epoch != epoch {
                    return;
                }
                cx.count(self.m.timeouts, 1);
                match r.phase {
                    Phase::Forward => self.on_step_failed(cx, saga, true),
                    Phase::Compensating => self.on_compensation_failed(cx, saga),
                    Phase::Finished(_) => {}
                }
            }
            SagaTimer::Retry { saga, epoch } => {
                if self.log.get(&saga).is_some_and(|r| r.epoch == epoch) {
                    self.send_current(cx, saga);
                }
            }
            SagaTimer::Audit { saga } => self.start_audit(cx, saga),
            SagaTimer::Logged { saga, epoch } => self.dispatch(cx, saga, epoch),
            SagaTimer::Answer { saga } => self.answer(cx, saga),
            SagaTimer::SagaTimeout { saga } => {
                if self
                    .log
                    .get(&saga)
                    .is_some_and(|r| r.phase == Phase::Forward)
                {
                    cx.count(self.m.timeouts, 1);
                    self.finish(cx, saga, Outcome::Stuck);
                }
            }
            SagaTimer::Work { .. } | SagaTimer::LocalRetry { .. } => {}
        }
    }

    /// After a restart: resume every unfinished saga from the log.
    fn recover(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.scratch.clear();
        self.scratch.extend(self.log.keys().copied());
        let keys = std::mem::take(&mut self.scratch);
        let choreography = self.choreography();
        for &saga in &keys {
            let Some(r) = self.log.get_mut(&saga) else {
                continue;
            };
            match r.phase {
                Phase::Forward | Phase::Compensating => {
                    cx.count(self.m.recovered, 1);
                    r.attempts = 0;
                    if choreography {
                        if let Some(t) = self.cfg.saga_timeout {
                            let left = t.saturating_sub(cx.now() - r.started);
                            cx.set_timer(left, timer(SagaTimer::SagaTimeout { saga }));
                        }
                        // The start event may not have been sent (a crash during its log
                        // write); participants ignore a repeated start.
                        if r.step == 0 && r.first_effect.is_none() {
                            self.send_current(cx, saga);
                        }
                    } else {
                        self.send_current(cx, saga);
                    }
                }
                Phase::Finished(_) if !r.answered => self.answer(cx, saga),
                Phase::Finished(Outcome::Stuck) => {}
                Phase::Finished(_) => {
                    if let Some(d) = self.cfg.audit_delay {
                        cx.set_timer(d, timer(SagaTimer::Audit { saga }));
                    }
                }
            }
        }
        self.scratch = keys;
    }
}

impl Component<Cluster> for Saga {
    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: crate::Msg) {
        if let Some(m) = SagaMsg::from_msg(&msg) {
            self.on_saga_msg(cx, from, m);
            return;
        }
        match msg {
            crate::Msg::Request(req) => self.on_request(cx, from, req),
            crate::Msg::Probe { seq } => {
                cx.send_with(from, crate::Msg::ProbeReply { seq }, self.cfg.transport, 0)
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, t: crate::Timer) {
        if let crate::Timer::Pattern(super::Timer::Saga(t)) = t {
            self.on_saga_timer(cx, t);
        }
    }

    fn on_crash(&mut self) {
        // The log is durable; timers are gone (the kernel invalidated them).
    }

    fn on_restart(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.recover(cx);
    }
}

// ------------------------------------------------------------------ participant

#[derive(Clone, Copy, Debug)]
struct Entry {
    state: StepState,
    step: u16,
    choreography: bool,
    attempts: u16,
    compensation_attempts: u16,
    since: SimTime,
    work_started: SimTime,
}

#[derive(Clone, Debug)]
struct ParticipantMetrics {
    arrivals: SeriesId,
    transactions: SeriesId,
    completed: SeriesId,
    errors: SeriesId,
    compensations: SeriesId,
    noop_compensations: SeriesId,
    compensation_failures: SeriesId,
    work: SeriesId,
    in_system: SeriesId,
    states: SeriesId,
}

/// A saga participant (see the module docs).
#[derive(Debug)]
pub struct Participant {
    cfg: ParticipantConfig,
    states: BTreeMap<(u32, u64), Entry>,
    /// `(last change, origin, saga)` in change order, for forgetting after `retention`.
    changes: VecDeque<(SimTime, u32, u64)>,
    store_calls: Slab<(ComponentId, u64, bool)>,
    m: ParticipantMetrics,
}

impl Participant {
    /// Builds the participant and registers its metrics.
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &ParticipantConfig, me: ComponentId, rec: &mut Recorder) -> Participant {
        if let Err(e) = cfg.validate() {
            panic!("invalid saga participant config: {e}");
        }
        let o = Some(me);
        Participant {
            cfg: cfg.clone(),
            states: BTreeMap::new(),
            changes: VecDeque::with_capacity(64),
            store_calls: Slab::default(),
            m: ParticipantMetrics {
                arrivals: rec.counter(o, "arrivals"),
                transactions: rec.counter(o, "transactions"),
                completed: rec.counter(o, "completed"),
                errors: rec.counter(o, "errors"),
                compensations: rec.counter(o, "compensations"),
                noop_compensations: rec.counter(o, "noop_compensations"),
                compensation_failures: rec.counter(o, "compensation_failures"),
                work: rec.histogram(o, "work_ns"),
                in_system: rec.gauge(o, "in_system"),
                states: rec.gauge(o, "states"),
            },
        }
    }

    fn route(&self, origin: ComponentId) -> Option<ChoreographyRoute> {
        self.cfg.routes.iter().find(|r| r.origin == origin).copied()
    }

    fn set_state(&mut self, cx: &mut Ctx<'_, Cluster>, key: (u32, u64), state: StepState) {
        let now = cx.now();
        if let Some(e) = self.states.get_mut(&key) {
            e.state = state;
            e.since = now;
            self.changes.push_back((now, key.0, key.1));
        }
    }

    /// Forgets sagas whose state has not changed for `retention`.
    fn forget_old(&mut self, cx: &mut Ctx<'_, Cluster>) {
        let now = cx.now();
        let mut changed = false;
        while let Some(&(t, origin, saga)) = self.changes.front() {
            if now - t < self.cfg.retention {
                break;
            }
            self.changes.pop_front();
            if let Some(e) = self.states.get(&(origin, saga))
                && e.since == t
                && !matches!(e.state, StepState::Doing | StepState::Compensating)
            {
                self.states.remove(&(origin, saga));
                changed = true;
            }
        }
        if changed {
            cx.gauge_set(self.m.states, self.states.len() as i64);
        }
    }

    fn reply(
        &self,
        cx: &mut Ctx<'_, Cluster>,
        to: ComponentId,
        origin: ComponentId,
        saga: u64,
        step: u16,
        kind: SagaKind,
    ) {
        let m = SagaMsg {
            saga,
            origin,
            step,
            choreography: false,
            kind,
        };
        cx.send_with(to, msg(m), self.cfg.transport, 32);
    }

    /// Sends a choreography event to `to` (the next or previous step, or the origin).
    fn emit(
        &self,
        cx: &mut Ctx<'_, Cluster>,
        to: ComponentId,
        origin: ComponentId,
        saga: u64,
        step: u16,
        kind: SagaKind,
    ) {
        let m = SagaMsg {
            saga,
            origin,
            step,
            choreography: true,
            kind,
        };
        cx.send_with(to, msg(m), self.cfg.transport, 32);
    }

    fn start_work(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        origin: ComponentId,
        saga: u64,
        comp: bool,
    ) {
        let d = if comp {
            self.cfg.compensation_work.sample_duration(cx.rng())
        } else {
            self.cfg.work.sample_duration(cx.rng())
        };
        if !comp {
            cx.count(self.m.transactions, 1);
        }
        cx.gauge_add(self.m.in_system, 1);
        if let Some(e) = self.states.get_mut(&(origin.0, saga)) {
            e.work_started = cx.now();
        }
        cx.set_timer(
            cx.scaled(d),
            timer(SagaTimer::Work {
                origin,
                saga,
                compensation: comp,
            }),
        );
    }

    fn on_do(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, m: SagaMsg) {
        let key = (m.origin.0, m.saga);
        let now = cx.now();
        let state = self.states.get(&key).map(|e| e.state);
        match state {
            None => {
                self.states.insert(
                    key,
                    Entry {
                        state: StepState::Doing,
                        step: m.step,
                        choreography: m.choreography,
                        attempts: 0,
                        compensation_attempts: 0,
                        since: now,
                        work_started: now,
                    },
                );
                cx.gauge_set(self.m.states, self.states.len() as i64);
                self.start_work(cx, m.origin, m.saga, false);
            }
            Some(StepState::Failed) if !m.choreography => {
                // The coordinator retries a failed step.
                self.set_state(cx, key, StepState::Doing);
                self.start_work(cx, m.origin, m.saga, false);
            }
            Some(StepState::Done) if !m.choreography => {
                self.reply(cx, from, m.origin, m.saga, m.step, SagaKind::Done)
            }
            Some(StepState::Compensated) if !m.choreography => {
                // Compensated before it ran: too late, refuse.
                self.reply(cx, from, m.origin, m.saga, m.step, SagaKind::Failed)
            }
            // Running (the answer will come), or a redelivered choreography event.
            _ => {}
        }
    }

    fn on_compensate(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, m: SagaMsg) {
        let key = (m.origin.0, m.saga);
        let now = cx.now();
        match self.states.get(&key).map(|e| e.state) {
            Some(StepState::Done) => {
                self.set_state(cx, key, StepState::Compensating);
                self.start_work(cx, m.origin, m.saga, true);
            }
            Some(StepState::Doing) => {
                // Cannot undo a transaction still running: ask to retry later.
                if !m.choreography {
                    self.reply(
                        cx,
                        from,
                        m.origin,
                        m.saga,
                        m.step,
                        SagaKind::CompensationFailed,
                    );
                }
            }
            Some(StepState::Compensating) => {}
            Some(StepState::Compensated) => {
                if !m.choreography {
                    self.reply(cx, from, m.origin, m.saga, m.step, SagaKind::Compensated);
                }
            }
            state @ (None | Some(StepState::Failed | StepState::None)) => {
                cx.count(self.m.noop_compensations, 1);
                if state.is_none() {
                    // A tombstone, so a late `Do` is refused.
                    self.states.insert(
                        key,
                        Entry {
                            state: StepState::Compensated,
                            step: m.step,
                            choreography: m.choreography,
                            attempts: 0,
                            compensation_attempts: 0,
                            since: now,
                            work_started: now,
                        },
                    );
                    self.changes.push_back((now, key.0, key.1));
                    cx.gauge_set(self.m.states, self.states.len() as i64);
                } else {
                    self.set_state(cx, key, StepState::Compensated);
                }
                if m.choreography {
                    self.compensated_choreography(cx, m.origin, m.saga, m.step);
                } else {
                    self.reply(cx, from, m.origin, m.saga, m.step, SagaKind::Compensated);
                }
            }
        }
    }

    /// Choreography: this step is compensated; pass the compensation back.
    fn compensated_choreography(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        origin: ComponentId,
        saga: u64,
        step: u16,
    ) {
        match self.route(origin).and_then(|r| r.prev) {
            Some(prev) if step > 0 => {
                self.emit(cx, prev, origin, saga, step - 1, SagaKind::Compensate)
            }
            _ => self.emit(
                cx,
                origin,
                origin,
                saga,
                0,
                SagaKind::Outcome(Outcome::Compensated),
            ),
        }
    }

    /// The local work of (`origin`, `saga`) is over; `store_ok` is the store's verdict.
    fn work_finished(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        origin: ComponentId,
        saga: u64,
        comp: bool,
        store_ok: bool,
    ) {
        let key = (origin.0, saga);
        let Some(e) = self.states.get(&key).copied() else {
            return;
        };
        let expected = if comp {
            StepState::Compensating
        } else {
            StepState::Doing
        };
        if e.state != expected {
            return;
        }
        cx.gauge_add(self.m.in_system, -1);
        cx.record(self.m.work, (cx.now() - e.work_started).as_nanos());
        let p = if comp {
            self.cfg.compensation_failure_probability
        } else {
            self.cfg.failure_probability
        };
        let ok = store_ok && !chance(cx.rng(), p);
        let step = e.step;
        match (comp, ok) {
            (false, true) => {
                cx.count(self.m.completed, 1);
                self.set_state(cx, key, StepState::Done);
                if !e.choreography {
                    self.reply(cx, origin, origin, saga, step, SagaKind::Done);
                    return;
                }
                if step == 0 {
                    self.emit(cx, origin, origin, saga, 0, SagaKind::Done);
                }
                match self.route(origin).and_then(|r| r.next) {
                    Some(next) => self.emit(cx, next, origin, saga, step + 1, SagaKind::Do),
                    None => self.emit(
                        cx,
                        origin,
                        origin,
                        saga,
                        step,
                        SagaKind::Outcome(Outcome::Committed),
                    ),
                }
            }
            (false, false) => {
                cx.count(self.m.errors, 1);
                self.set_state(cx, key, StepState::Failed);
                if !e.choreography {
                    self.reply(cx, origin, origin, saga, step, SagaKind::Failed);
                    return;
                }
                if !self.retry_locally(cx, key, origin, saga, false) {
                    self.compensated_choreography(cx, origin, saga, step);
                }
            }
            (true, true) => {
                cx.count(self.m.compensations, 1);
                self.set_state(cx, key, StepState::Compensated);
                if e.choreography {
                    self.compensated_choreography(cx, origin, saga, step);
                } else {
                    self.reply(cx, origin, origin, saga, step, SagaKind::Compensated);
                }
            }
            (true, false) => {
                cx.count(self.m.compensation_failures, 1);
                self.set_state(cx, key, StepState::Done);
                if !e.choreography {
                    self.reply(cx, origin, origin, saga, step, SagaKind::CompensationFailed);
                    return;
                }
                if !self.retry_locally(cx, key, origin, saga, true) {
                    self.emit(
                        cx,
                        origin,
                        origin,
                        saga,
                        step,
                        SagaKind::Outcome(Outcome::Stuck),
                    );
                }
            }
        }
    }

    /// A choreographed local action (or, with `compensation`, its compensation) failed:
    /// counts the attempt and, while the retry policy allows another, schedules it after the
    /// policy's backoff. Returns `false` when the retries are exhausted.
    fn retry_locally(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        key: (u32, u64),
        origin: ComponentId,
        saga: u64,
        compensation: bool,
    ) -> bool {
        let Some(x) = self.states.get_mut(&key) else {
            return false;
        };
        let (attempts, policy) = if compensation {
            x.compensation_attempts += 1;
            (x.compensation_attempts, &self.cfg.compensation_retry)
        } else {
            x.attempts += 1;
            (x.attempts, &self.cfg.retry)
        };
        if u32::from(attempts) > policy.max_retries {
            return false;
        }
        let d = backoff(policy, u32::from(attempts), cx.rng());
        let t = SagaTimer::LocalRetry {
            origin,
            saga,
            compensation,
        };
        cx.set_timer(d, timer(t));
        true
    }

    fn on_work_timer(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        origin: ComponentId,
        saga: u64,
        comp: bool,
    ) {
        match self.cfg.store {
            None => self.work_finished(cx, origin, saga, comp, true),
            Some(store) => {
                let id = self.store_calls.insert((origin, saga, comp));
                let req = Request {
                    id,
                    op: Op::Write,
                    key: saga,
                    size_bytes: 0,
                    client: origin.0,
                };
                cx.send_with(store, req.into(), self.cfg.transport, 0);
            }
        }
    }

    fn on_local_retry(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        origin: ComponentId,
        saga: u64,
        comp: bool,
    ) {
        let key = (origin.0, saga);
        let Some(e) = self.states.get(&key).copied() else {
            return;
        };
        match (comp, e.state) {
            (false, StepState::Failed) => {
                self.set_state(cx, key, StepState::Doing);
                self.start_work(cx, origin, saga, false);
            }
            (true, StepState::Done) => {
                self.set_state(cx, key, StepState::Compensating);
                self.start_work(cx, origin, saga, true);
            }
            _ => {}
        }
    }
}

impl Component<Cluster> for Participant {
    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: crate::Msg) {
        self.forget_old(cx);
        if let Some(m) = SagaMsg::from_msg(&msg) {
            match m.kind {
                SagaKind::Do => {
                    cx.count(self.m.arrivals, 1);
                    self.on_do(cx, from, m);
                }
                SagaKind::Compensate => {
                    cx.count(self.m.arrivals, 1);
                    self.on_compensate(cx, from, m);
                }
                SagaKind::Audit => {
                    let state = self
                        .states
                        .get(&(m.origin.0, m.saga))
                        .map(|e| e.state)
                        .unwrap_or(StepState::None);
                    self.reply(
                        cx,
                        from,
                        m.origin,
                        m.saga,
                        m.step,
                        SagaKind::AuditReply(state),
                    );
                }
                _ => {}
            }
            return;
        }
        match msg {
            crate::Msg::Response(r) => {
                if Some(from) == self.cfg.store
                    && let Some((origin, saga, comp)) = self.store_calls.remove(r.id)
                {
                    self.work_finished(cx, origin, saga, comp, r.status.is_ok());
                }
            }
            crate::Msg::Probe { seq } => {
                cx.send_with(from, crate::Msg::ProbeReply { seq }, self.cfg.transport, 0)
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, t: crate::Timer) {
        match t {
            crate::Timer::Pattern(super::Timer::Saga(SagaTimer::Work {
                origin,
                saga,
                compensation,
            })) => self.on_work_timer(cx, origin, saga, compensation),
            crate::Timer::Pattern(super::Timer::Saga(SagaTimer::LocalRetry {
                origin,
                saga,
                compensation,
            })) => self.on_local_retry(cx, origin, saga, compensation),
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
        // A store call that cannot be delivered fails its attempt; lost replies to a
        // coordinator are re-asked by its timeout or recovery.
        if let crate::Msg::Request(r) = msg
            && let Some((origin, saga, comp)) = self.store_calls.remove(r.id)
        {
            self.work_finished(cx, origin, saga, comp, false);
        }
    }

    fn on_crash(&mut self) {
        // Local transactions are durable (the state table survives); work in progress
        // and store calls are lost and redone when the coordinator asks again.
        self.store_calls.clear();
        for e in self.states.values_mut() {
            e.state = match e.state {
                StepState::Doing => StepState::Failed,
                StepState::Compensating => StepState::Done,
                s => s,
            };
        }
    }

    fn on_restart(&mut self, cx: &mut Ctx<'_, Cluster>) {
        cx.gauge_set(self.m.in_system, 0);
        cx.gauge_set(self.m.states, self.states.len() as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_forms_match_direct_sums() {
        for n in 1..8u32 {
            for p in [0.0, 0.01, 0.1, 0.3, 0.9, 1.0] {
                let q: f64 = 1.0 - p;
                let direct: f64 = (0..n).map(|k| f64::from(k) * p * q.powi(k as i32)).sum();
                let closed = expected_compensations(n, p);
                assert!(
                    (direct - closed).abs() < 1e-12,
                    "n {n} p {p}: {direct} vs {closed}"
                );
                assert!((commit_probability(n, p) - q.powi(n as i32)).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn invariant_checker_accepts_only_all_done_or_all_undone() {
        use StepState::*;
        assert!(saga_consistent(Outcome::Committed, &[Done, Done, Done]));
        assert!(!saga_consistent(
            Outcome::Committed,
            &[Done, Compensated, Done]
        ));
        assert!(!saga_consistent(Outcome::Committed, &[Done, Doing]));
        assert!(saga_consistent(
            Outcome::Compensated,
            &[Compensated, Failed, None]
        ));
        assert!(!saga_consistent(Outcome::Compensated, &[Compensated, Done]));
        assert!(!saga_consistent(Outcome::Compensated, &[Compensating]));
        assert!(!saga_consistent(Outcome::Stuck, &[Done]));
    }

    fn saga_sends(cmds: &[clustersim_engine::Command<Cluster>]) -> Vec<(ComponentId, SagaMsg)> {
        cmds.iter()
            .filter_map(|c| match c {
                clustersim_engine::Command::Send { dst, msg, .. } => {
                    SagaMsg::from_msg(msg).map(|m| (*dst, m))
                }
                _ => None,
            })
            .collect()
    }

    /// A participant runs a step once however often it is asked, answers repeats with the
    /// same result, and refuses a `Do` that comes after a compensation (a tombstone).
    #[test]
    fn participant_is_idempotent_and_keeps_tombstones() {
        use clustersim_engine::testing::Harness;
        let coord = ComponentId(5);
        let mut h = Harness::new(1, "p");
        let mut p = Participant::new(
            &ParticipantConfig::new(Dist::constant(1e6).unwrap()),
            ComponentId(0),
            &mut h.metrics,
        );
        let ask = |saga, kind| {
            msg(SagaMsg {
                saga,
                origin: coord,
                step: 0,
                choreography: false,
                kind,
            })
        };
        let c = h.call(|cx| p.on_message(cx, coord, ask(1, SagaKind::Do)));
        assert!(
            saga_sends(&c).is_empty(),
            "answers only when the work is done"
        );
        // A repeat while running is ignored; the work timer then completes the step.
        assert!(saga_sends(&h.call(|cx| p.on_message(cx, coord, ask(1, SagaKind::Do)))).is_empty());
        h.now = SimTime::from_nanos(1_000_000);
        let work = SagaTimer::Work {
            origin: coord,
            saga: 1,
            compensation: false,
        };
        let c = h.call(|cx| p.on_timer(cx, timer(work)));
        assert_eq!(saga_sends(&c)[0].1.kind, SagaKind::Done);
        // A repeat after it is done is answered `Done` again, without a second transaction.
        let c = h.call(|cx| p.on_message(cx, coord, ask(1, SagaKind::Do)));
        assert_eq!(saga_sends(&c)[0].1.kind, SagaKind::Done);
        // A compensation of a saga never seen is a no-op and leaves a tombstone.
        let c = h.call(|cx| p.on_message(cx, coord, ask(2, SagaKind::Compensate)));
        assert_eq!(saga_sends(&c)[0].1.kind, SagaKind::Compensated);
        let c = h.call(|cx| p.on_message(cx, coord, ask(2, SagaKind::Do)));
        assert_eq!(saga_sends(&c)[0].1.kind, SagaKind::Failed);
        // The audit reports each state.
        let c = h.call(|cx| p.on_message(cx, coord, ask(1, SagaKind::Audit)));
        assert_eq!(
            saga_sends(&c)[0].1.kind,
            SagaKind::AuditReply(StepState::Done)
        );
        let c = h.call(|cx| p.on_message(cx, coord, ask(3, SagaKind::Audit)));
        assert_eq!(
            saga_sends(&c)[0].1.kind,
            SagaKind::AuditReply(StepState::None)
        );
        let m = std::mem::take(&mut h.metrics).finish(h.now);
        let get = |n: &str| m.counter(m.find(Some(ComponentId(0)), n).unwrap());
        assert_eq!((get("transactions"), get("noop_compensations")), (1, 1));
    }

    #[test]
    fn configs_reject_bad_values_with_their_field() {
        let mut c = SagaConfig::new(SagaMode::Orchestration, vec![]);
        assert_eq!(c.validate().unwrap_err().field, "steps");
        c.steps = vec![ComponentId(1), ComponentId(1)];
        assert_eq!(c.validate().unwrap_err().field, "steps[1]");
        c.steps = vec![ComponentId(1)];
        c.step_timeout = SimDuration::ZERO;
        assert_eq!(c.validate().unwrap_err().field, "step_timeout");
        let mut p = ParticipantConfig::new(Dist::constant(1.0).unwrap());
        p.validate().unwrap();
        p.failure_probability = 1.5;
        assert_eq!(p.validate().unwrap_err().field, "failure_probability");
    }
}
