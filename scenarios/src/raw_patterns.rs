//! The scenario schema of the microservice patterns (`kind: Pattern(...)`), mirroring
//! [`clustersim_models::patterns`]. Same rules as [`crate::raw`]: unknown fields rejected,
//! externally tagged enums, defaults stated on each field.
//!
//! ```ron
//! (name: "checkout", kind: Pattern(Saga(mode: Orchestration, steps: ["orders", "payments"]))),
//! (name: "orders", kind: Pattern(SagaParticipant(work: Exponential(mean: "2ms"), failure: 0.01))),
//! ```

use serde::{Deserialize, Serialize};

use crate::raw::{Jitter, Op, Retry, TimeDist, Transport};
use crate::units::{ByteSize, Duration, Probability, Rate};

fn ms(n: u64) -> Duration {
    Duration(clustersim_engine::SimDuration::from_millis(n))
}
fn one_second() -> Duration {
    ms(1000)
}
fn one_ms() -> Duration {
    ms(1)
}
fn fifty_ms() -> Duration {
    ms(50)
}
fn sixty_s() -> Duration {
    ms(60_000)
}
fn zero() -> Duration {
    ms(0)
}
fn some_one_second() -> Option<Duration> {
    Some(one_second())
}
fn twenty() -> u32 {
    20
}
fn orchestration() -> SagaMode {
    SagaMode::Orchestration
}
fn local() -> KeyStore {
    KeyStore::Local
}
fn hundred_bytes() -> ByteSize {
    ByteSize(100)
}
fn zero_bytes() -> ByteSize {
    ByteSize(0)
}
fn one_ms_dist() -> TimeDist {
    TimeDist::Constant(one_ms())
}
/// Compensation retries: 5 from 10 ms, ×2, capped at 1 s, full jitter.
fn compensation_retry() -> Retry {
    Retry {
        max_retries: 5,
        backoff: ms(10),
        multiplier: 2.0,
        max_backoff: one_second(),
        jitter: Jitter::Full,
        honour_retry_after: true,
    }
}
/// Idempotent-client retries: 3 from 10 ms, ×2, capped at 1 s, full jitter.
fn client_retry() -> Retry {
    Retry {
        max_retries: 3,
        ..compensation_retry()
    }
}

/// The microservice-pattern plugins.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum Pattern {
    /// A saga: the orchestrator, or the origin of a choreography ([`Saga`]).
    Saga(Saga),
    /// A step of one or more sagas: local transaction and compensation
    /// ([`SagaParticipant`]).
    SagaParticipant(SagaParticipant),
    /// CQRS write model: commands, events to the read models ([`CqrsWrite`]).
    CqrsWrite(CqrsWrite),
    /// CQRS read model: projection of the events, queries ([`CqrsRead`]).
    CqrsRead(CqrsRead),
    /// Strangler-fig router between a monolith and new services ([`StranglerRouter`]).
    StranglerRouter(StranglerRouter),
    /// A client POSTing with idempotency keys ([`IdempotentClient`]).
    IdempotentClient(IdempotentClient),
    /// A server with the idempotency-key flow ([`IdempotentServer`]).
    IdempotentServer(IdempotentServer),
    /// A shared idempotency key store ([`IdempotencyStore`]).
    IdempotencyStore(IdempotencyStore),
    /// The table POSTs create rows in; counts duplicate side effects ([`ResourceDb`]).
    ResourceDb(ResourceDb),
}

impl Pattern {
    /// The path segment of this variant under `kind`, e.g. `Pattern.Saga`.
    pub fn variant_path(&self) -> &'static str {
        match self {
            Pattern::Saga(_) => "Pattern.Saga",
            Pattern::SagaParticipant(_) => "Pattern.SagaParticipant",
            Pattern::CqrsWrite(_) => "Pattern.CqrsWrite",
            Pattern::CqrsRead(_) => "Pattern.CqrsRead",
            Pattern::StranglerRouter(_) => "Pattern.StranglerRouter",
            Pattern::IdempotentClient(_) => "Pattern.IdempotentClient",
            Pattern::IdempotentServer(_) => "Pattern.IdempotentServer",
            Pattern::IdempotencyStore(_) => "Pattern.IdempotencyStore",
            Pattern::ResourceDb(_) => "Pattern.ResourceDb",
        }
    }
}

/// How a saga is coordinated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum SagaMode {
    /// A coordinator calls the steps and compensates in reverse; crash-safe log.
    Orchestration,
    /// The participants pass events along the steps and back.
    Choreography,
}

/// Saga parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Saga {
    /// `Orchestration` or `Choreography`. Default `Orchestration`.
    #[serde(default = "orchestration")]
    pub mode: SagaMode,
    /// The `SagaParticipant` components, in step order (1 to 64, each once).
    pub steps: Vec<String>,
    /// Orchestration: wait this long for a step's answer. Default `"1s"`.
    #[serde(default = "one_second")]
    pub step_timeout: Duration,
    /// Orchestration: retries of a failed or timed-out step. Default none.
    #[serde(default)]
    pub retry: Retry,
    /// Orchestration: retries of a failed compensation; exhausted, the saga is stuck.
    /// Default 5 retries from `"10ms"`, ×2, up to `"1s"`.
    #[serde(default = "compensation_retry")]
    pub compensation_retry: Retry,
    /// Choreography: a saga without an outcome this long after it started is stuck.
    /// Default none.
    #[serde(default)]
    pub saga_timeout: Option<Duration>,
    /// Audit the participants this long after each saga ends (the invariant checker);
    /// `None` turns the audit off. Default `"1s"`.
    #[serde(default = "some_one_second")]
    pub audit_delay: Option<Duration>,
    /// Time to write a transition durably to the saga's log (fsync); actions and the final
    /// answer wait for it. Default `"0s"`.
    #[serde(default = "zero")]
    pub log_write: Duration,
    /// Transport. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
}

/// Saga participant parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SagaParticipant {
    /// Time of the local transaction. Default `Constant("1ms")`.
    #[serde(default = "one_ms_dist")]
    pub work: TimeDist,
    /// Time of a compensation. Default: the same as `work`.
    #[serde(default)]
    pub compensation_work: Option<TimeDist>,
    /// Probability a transaction attempt fails. Default 0.
    #[serde(default)]
    pub failure: Probability,
    /// Probability a compensation attempt fails. Default 0.
    #[serde(default)]
    pub compensation_failure: Probability,
    /// A `Service` every transaction and compensation writes to. Default none.
    #[serde(default)]
    pub store: Option<String>,
    /// Choreography: retries of a failed transaction. Default none.
    #[serde(default)]
    pub retry: Retry,
    /// Choreography: retries of a failed compensation. Default 5 from `"10ms"`.
    #[serde(default = "compensation_retry")]
    pub compensation_retry: Retry,
    /// How long a saga's state is remembered after its last change. Default `"60s"`.
    #[serde(default = "sixty_s")]
    pub retention: Duration,
    /// Transport. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
}

/// CQRS write model parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CqrsWrite {
    /// The write database (a `Service`).
    pub store: String,
    /// The `CqrsRead` components every committed write is published to.
    pub read_models: Vec<String>,
    /// Wire size of an event. Default `"100B"`.
    #[serde(default = "hundred_bytes")]
    pub event_size: ByteSize,
    /// Transport. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
}

/// CQRS read model parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CqrsRead {
    /// Delay before a received event can be applied. Default `"0s"`.
    #[serde(default = "zero")]
    pub projection_delay: Duration,
    /// Time to apply one event (one at a time: throughput 1 / apply_time). Default `"1ms"`.
    #[serde(default = "one_ms")]
    pub apply_time: Duration,
    /// The query database queries call (a `Service`). Default none.
    #[serde(default)]
    pub store: Option<String>,
    /// Transport. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
}

/// Strangler router parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StranglerRouter {
    /// The monolith.
    pub legacy: String,
    /// Migrated routes, at most one per operation.
    #[serde(default)]
    pub routes: Vec<StranglerRoute>,
    /// Answer `Timeout` after this long. Default none.
    #[serde(default)]
    pub timeout: Option<Duration>,
    /// Transport. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
}

/// One migrated route.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StranglerRoute {
    /// The route: `Read`, `Write` or `Other`.
    pub route: Op,
    /// The new service.
    pub target: String,
    /// Share over time, increasing `at`; before the first step the share is 0.
    pub schedule: Vec<ShareStep>,
    /// Automatic rollback. Default none.
    #[serde(default)]
    pub rollback: Option<StranglerRollback>,
}

/// One step of a migration schedule.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShareStep {
    /// When (since the start of the run).
    pub at: Duration,
    /// Share of the route sent to the new service, e.g. `0.1` or `"10%"`.
    pub share: Probability,
}

/// Automatic rollback of a route.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StranglerRollback {
    /// Evaluation window. Default `"1s"`.
    #[serde(default = "one_second")]
    pub window: Duration,
    /// Roll back above this error rate of the new path in a window. Default `"5%"`.
    #[serde(default = "five_percent")]
    pub max_error_rate: Probability,
    /// Roll back when the new path's p99 in a window exceeds this. Default none.
    #[serde(default)]
    pub max_p99: Option<Duration>,
    /// Answers on the new path a window needs to be judged. Default 20.
    #[serde(default = "twenty")]
    pub min_requests: u32,
}

fn five_percent() -> Probability {
    Probability::new(0.05).expect("0.05 is a probability")
}

/// Idempotent client parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdempotentClient {
    /// Where POSTs go.
    pub target: String,
    /// Mean rate of logical requests (Poisson), e.g. `"200/s"`.
    pub rate: Rate,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Retries after a timeout, a 409 or a 5xx, same key. Default 3 from `"10ms"`.
    #[serde(default = "client_retry")]
    pub retry: Retry,
    /// Probability a request carries no idempotency key (answered 400). Default 0.
    #[serde(default)]
    pub missing_key: Probability,
    /// Probability a request is sent twice at once (a double click). Default 0.
    #[serde(default)]
    pub double_submit: Probability,
    /// Request size. Default `"0B"`.
    #[serde(default = "zero_bytes")]
    pub request_size: ByteSize,
    /// Transport. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
}

/// Where an idempotent server keeps its keys.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum KeyStore {
    /// Its own table.
    Local,
    /// A shared `IdempotencyStore`.
    Shared {
        /// The store component.
        store: String,
        /// How long to wait for the store. Default `"50ms"`.
        #[serde(default = "fifty_ms")]
        timeout: Duration,
    },
}

/// Idempotent server parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdempotentServer {
    /// Where the work is done (a `ResourceDb`, or a service in front of one).
    pub backend: String,
    /// `Local` or `Shared(store: "keys")`. Default `Local`.
    #[serde(default = "local")]
    pub key_store: KeyStore,
    /// Transport. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
}

/// Shared key store parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdempotencyStore {
    /// Delay of every answer (the synchronisation cost). Default `"1ms"`.
    #[serde(default = "one_ms")]
    pub sync_delay: Duration,
    /// Transport. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
}

/// Resource table parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceDb {
    /// Time of one insert (inserts run concurrently). Default `Constant("1ms")`.
    #[serde(default = "one_ms_dist")]
    pub insert_time: TimeDist,
    /// Transport. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
}
