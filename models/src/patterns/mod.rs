//! Microservice patterns as composable plugins, each with the metrics that show its cost:
//!
//! * [`saga`]: sagas, orchestrated by a coordinator that logs every transition and recovers
//!   from its log after a crash ([`saga::Saga`] in [`saga::SagaMode::Orchestration`]) or
//!   choreographed by the participants themselves ([`saga::SagaMode::Choreography`]), with
//!   per-step failure probabilities, timeouts, retries with backoff, compensations that fail
//!   and are retried, and an in-simulation invariant checker (the audit).
//! * [`cqrs`]: a write model publishing events to read models that project them with a
//!   delay and a throughput limit; projection lag, stale reads, read/write split.
//! * [`strangler`]: a strangler-fig router sending a share of each route to a new service, on
//!   a schedule, with automatic rollback on the new path's error rate or p99.
//! * [`idempotency`]: idempotent POST — clients retrying with idempotency keys, servers with
//!   a per-server or a shared key store, a resource table that counts duplicate side effects.
//!
//! Database per service versus a shared database needs no plugin: a data store is a
//! [`crate::service::Service`] (one component, one capacity), and services call either
//! their own store or the shared one (see `scenarios/micro_db_per_service.ron`).
//!
//! # Transport of events
//!
//! Saga events and CQRS events travel as direct messages ([`Msg`]) between the components,
//! over the simulated network with the component's transport (by default `Stream`:
//! reliable, FIFO per path). Every event names its origin and carries its own identity
//! (saga id and step; key and version), and every receiver is idempotent, so the same flow
//! can later run over a message broker that redelivers.
//!
//! # Sizes
//!
//! [`Msg`] is at most 24 bytes (so [`crate::Msg`] stays at 32) and [`Timer`] at most 24.

pub mod cqrs;
pub mod idempotency;
pub mod saga;
pub mod strangler;

use clustersim_engine::rng::below;
use clustersim_engine::{Component, ComponentId, Recorder, SimDuration, StableHash, StableHasher};

use crate::Cluster;
use crate::error::ConfigError;
use crate::workload::{Jitter, RetryPolicy};

/// Pattern traffic (inside [`crate::Msg::Pattern`]). The variants are flat (no nested
/// structs), so the compiler packs the small fields next to the tag and the enum stays at
/// 24 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    /// Saga traffic between a saga and its participants (the fields of a
    /// [`saga::SagaMsg`]).
    Saga {
        /// Saga id, unique per origin.
        saga: u64,
        /// The saga component that started it.
        origin: ComponentId,
        /// The step concerned.
        step: u16,
        /// Choreographed (`true`) or orchestrated.
        choreography: bool,
        /// What is asked or reported.
        kind: saga::SagaKind,
    },
    /// A CQRS event: `key` was written by `source` at commit time `version` (ns).
    Event {
        /// The key written.
        key: u64,
        /// Commit time in ns of simulated time, strictly increasing per source.
        version: u64,
        /// The write model that committed it.
        source: ComponentId,
    },
    /// Idempotency key store: claim `key` ([`idempotency::KeyMsg::Claim`]).
    KeyClaim {
        /// Owner token.
        id: u64,
        /// Idempotency key.
        key: u64,
    },
    /// Idempotency key store: a claim's answer ([`idempotency::KeyMsg::Claimed`]).
    KeyClaimed {
        /// The claim's token.
        id: u64,
        /// State before the claim.
        state: idempotency::KeyStatus,
    },
    /// Idempotency key store: mark consumed ([`idempotency::KeyMsg::Consume`]).
    KeyConsume {
        /// Owner token.
        id: u64,
        /// Idempotency key.
        key: u64,
    },
    /// Idempotency key store: forget a claim ([`idempotency::KeyMsg::Release`]).
    KeyRelease {
        /// Owner token.
        id: u64,
        /// Idempotency key.
        key: u64,
    },
}

/// Pattern timers (inside [`crate::Timer::Pattern`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Saga timers.
    Saga(saga::SagaTimer),
    /// A projector finished applying its oldest event.
    ApplyDone,
    /// A strangler route moves to schedule entry `index`.
    ShareStep {
        /// Route index.
        route: u16,
        /// Schedule entry.
        index: u16,
    },
    /// A strangler route's rollback evaluation window ends.
    Evaluate {
        /// Route index.
        route: u16,
    },
    /// A forwarded request (slab handle `id`) timed out.
    RequestTimeout {
        /// Slab handle.
        id: u64,
    },
    /// Idempotency timers.
    Idem(idempotency::IdemTimer),
}

const _: () = assert!(size_of::<Msg>() <= 24);
const _: () = assert!(size_of::<Timer>() <= 24);

impl StableHash for Msg {
    fn stable_hash(&self, h: &mut StableHasher) {
        match *self {
            Msg::Saga {
                saga,
                origin,
                step,
                choreography,
                kind,
            } => {
                h.write_u64(0);
                saga::SagaMsg {
                    saga,
                    origin,
                    step,
                    choreography,
                    kind,
                }
                .stable_hash(h);
            }
            Msg::Event {
                key,
                version,
                source,
            } => {
                h.write_u64(1);
                h.write_u64(key);
                h.write_u64(version);
                h.write_u64(u64::from(source.0));
            }
            Msg::KeyClaim { .. }
            | Msg::KeyClaimed { .. }
            | Msg::KeyConsume { .. }
            | Msg::KeyRelease { .. } => {
                h.write_u64(2);
                if let Some(k) = idempotency::KeyMsg::from_msg(self) {
                    k.stable_hash(h);
                }
            }
        }
    }
}

impl StableHash for Timer {
    fn stable_hash(&self, h: &mut StableHasher) {
        match self {
            Timer::Saga(t) => {
                h.write_u64(0);
                t.stable_hash(h);
            }
            Timer::ApplyDone => h.write_u64(1),
            Timer::ShareStep { route, index } => {
                h.write_u64(2);
                h.write_u64((u64::from(*route) << 16) | u64::from(*index));
            }
            Timer::Evaluate { route } => {
                h.write_u64(3);
                h.write_u64(u64::from(*route));
            }
            Timer::RequestTimeout { id } => {
                h.write_u64(4);
                h.write_u64(*id);
            }
            Timer::Idem(t) => {
                h.write_u64(5);
                t.stable_hash(h);
            }
        }
    }
}

impl From<Msg> for crate::Msg {
    fn from(m: Msg) -> crate::Msg {
        crate::Msg::Pattern(m)
    }
}

impl From<Timer> for crate::Timer {
    fn from(t: Timer) -> crate::Timer {
        crate::Timer::Pattern(t)
    }
}

/// The configuration of one pattern component.
#[derive(Clone, Debug, PartialEq)]
pub enum PatternConfig {
    /// A saga: orchestrator or choreography origin ([`saga::Saga`]).
    Saga(saga::SagaConfig),
    /// A saga participant ([`saga::Participant`]).
    SagaParticipant(saga::ParticipantConfig),
    /// A CQRS write model ([`cqrs::WriteModel`]).
    CqrsWrite(cqrs::WriteModelConfig),
    /// A CQRS read model ([`cqrs::ReadModel`]).
    CqrsRead(cqrs::ReadModelConfig),
    /// A strangler-fig router ([`strangler::StranglerRouter`]).
    StranglerRouter(strangler::StranglerConfig),
    /// A client POSTing with idempotency keys ([`idempotency::IdempotentClient`]).
    IdempotentClient(idempotency::IdemClientConfig),
    /// A server implementing the idempotency-key flow ([`idempotency::IdempotentServer`]).
    IdempotentServer(idempotency::IdemServerConfig),
    /// A shared idempotency key store ([`idempotency::KeyStore`]).
    IdempotencyStore(idempotency::KeyStoreConfig),
    /// The table POSTs create rows in, counting duplicates ([`idempotency::ResourceDb`]).
    ResourceDb(idempotency::ResourceDbConfig),
}

impl PatternConfig {
    /// The components this one sends requests to, without duplicates (call-graph edges).
    /// Saga and CQRS events are not requests: a choreographed participant lists its next
    /// step and its store, never the step before it or the saga's origin.
    pub fn targets(&self) -> Vec<ComponentId> {
        let mut out = Vec::new();
        let mut add = |c: ComponentId| {
            if !out.contains(&c) {
                out.push(c);
            }
        };
        match self {
            PatternConfig::Saga(c) => c.steps.iter().for_each(|s| add(*s)),
            PatternConfig::SagaParticipant(c) => {
                c.store.into_iter().for_each(&mut add);
                c.routes.iter().filter_map(|r| r.next).for_each(&mut add);
            }
            PatternConfig::CqrsWrite(c) => {
                add(c.store);
                c.read_models.iter().for_each(|s| add(*s));
            }
            PatternConfig::CqrsRead(c) => c.store.into_iter().for_each(add),
            PatternConfig::StranglerRouter(c) => {
                add(c.legacy);
                c.routes.iter().for_each(|r| add(r.target));
            }
            PatternConfig::IdempotentClient(c) => add(c.target),
            PatternConfig::IdempotentServer(c) => {
                add(c.backend);
                if let idempotency::KeyStoreMode::Shared { store, .. } = c.key_store {
                    add(store);
                }
            }
            PatternConfig::IdempotencyStore(_) | PatternConfig::ResourceDb(_) => {}
        }
        out
    }

    /// A stable snake_case name of the kind, for reports.
    pub fn kind_name(&self) -> &'static str {
        match self {
            PatternConfig::Saga(_) => "saga",
            PatternConfig::SagaParticipant(_) => "saga_participant",
            PatternConfig::CqrsWrite(_) => "cqrs_write",
            PatternConfig::CqrsRead(_) => "cqrs_read",
            PatternConfig::StranglerRouter(_) => "strangler_router",
            PatternConfig::IdempotentClient(_) => "idempotent_client",
            PatternConfig::IdempotentServer(_) => "idempotent_server",
            PatternConfig::IdempotencyStore(_) => "idempotency_store",
            PatternConfig::ResourceDb(_) => "resource_db",
        }
    }

    /// Whether the component generates load on its own.
    pub fn is_client(&self) -> bool {
        matches!(self, PatternConfig::IdempotentClient(_))
    }

    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            PatternConfig::Saga(c) => c.validate(),
            PatternConfig::SagaParticipant(c) => c.validate(),
            PatternConfig::CqrsWrite(c) => c.validate(),
            PatternConfig::CqrsRead(c) => c.validate(),
            PatternConfig::StranglerRouter(c) => c.validate(),
            PatternConfig::IdempotentClient(c) => c.validate(),
            PatternConfig::IdempotentServer(c) => c.validate(),
            PatternConfig::IdempotencyStore(_) => Ok(()),
            PatternConfig::ResourceDb(_) => Ok(()),
        }
    }

    /// Builds the component `me`, registering its series with `rec`.
    ///
    /// # Panics
    /// If `self.validate()` fails.
    pub fn build(&self, me: ComponentId, rec: &mut Recorder) -> Box<dyn Component<Cluster>> {
        if let Err(e) = self.validate() {
            panic!("invalid {} config: {e}", self.kind_name());
        }
        match self {
            PatternConfig::Saga(c) => Box::new(saga::Saga::new(c, me, rec)),
            PatternConfig::SagaParticipant(c) => Box::new(saga::Participant::new(c, me, rec)),
            PatternConfig::CqrsWrite(c) => Box::new(cqrs::WriteModel::new(c, me, rec)),
            PatternConfig::CqrsRead(c) => Box::new(cqrs::ReadModel::new(c, me, rec)),
            PatternConfig::StranglerRouter(c) => {
                Box::new(strangler::StranglerRouter::new(c, me, rec))
            }
            PatternConfig::IdempotentClient(c) => {
                Box::new(idempotency::IdempotentClient::new(c, me, rec))
            }
            PatternConfig::IdempotentServer(c) => {
                Box::new(idempotency::IdempotentServer::new(c, me, rec))
            }
            PatternConfig::IdempotencyStore(c) => Box::new(idempotency::KeyStore::new(c, me, rec)),
            PatternConfig::ResourceDb(c) => Box::new(idempotency::ResourceDb::new(c, me, rec)),
        }
    }
}

/// The backoff before retry number `retry` (1-based) of `policy`, with its jitter drawn from
/// `rng` (the same rule as the workload clients').
pub(crate) fn backoff(
    policy: &RetryPolicy,
    retry: u32,
    rng: &mut impl rand::RngCore,
) -> SimDuration {
    let d = policy.backoff(retry);
    match policy.jitter {
        Jitter::None => d,
        Jitter::Full => SimDuration::from_nanos(below(rng, d.as_nanos().saturating_add(1))),
        Jitter::Equal => {
            let half = d.as_nanos() / 2;
            SimDuration::from_nanos(d.as_nanos() - half + below(rng, half.saturating_add(1)))
        }
    }
}

/// A slab handle: `generation << 32 | slot`.
#[inline]
pub(crate) fn make_id(slot: usize, generation: u32) -> u64 {
    (u64::from(generation) << 32) | slot as u64
}

/// `(slot, generation)` of a slab handle.
#[inline]
pub(crate) fn split_id(id: u64) -> (usize, u32) {
    ((id & 0xffff_ffff) as usize, (id >> 32) as u32)
}

/// A small slab of per-request records with generation-checked handles: the hot path reuses
/// freed slots and allocates only when the number of requests in flight grows.
#[derive(Clone, Debug)]
pub(crate) struct Slab<T> {
    items: Vec<(u32, Option<T>)>,
    free: Vec<u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            items: Vec::with_capacity(64),
            free: Vec::with_capacity(64),
        }
    }
}

impl<T> Slab<T> {
    /// Stores `v`; returns its handle.
    pub(crate) fn insert(&mut self, v: T) -> u64 {
        match self.free.pop() {
            Some(s) => {
                let e = &mut self.items[s as usize];
                e.0 = e.0.wrapping_add(1);
                e.1 = Some(v);
                make_id(s as usize, e.0)
            }
            None => {
                self.items.push((0, Some(v)));
                make_id(self.items.len() - 1, 0)
            }
        }
    }
    /// The live record of handle `id`.
    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut T> {
        let (slot, generation) = split_id(id);
        match self.items.get_mut(slot) {
            Some((g, Some(v))) if *g == generation => Some(v),
            _ => None,
        }
    }
    /// The live record in the slot of handle `id`, whatever its generation.
    pub(crate) fn get_slot_mut(&mut self, id: u64) -> Option<&mut T> {
        let (slot, _) = split_id(id);
        self.items.get_mut(slot).and_then(|(_, v)| v.as_mut())
    }
    /// Removes and returns the live record of handle `id`.
    pub(crate) fn remove(&mut self, id: u64) -> Option<T> {
        let (slot, generation) = split_id(id);
        match self.items.get_mut(slot) {
            Some((g, v @ Some(_))) if *g == generation => {
                self.free.push(slot as u32);
                v.take()
            }
            _ => None,
        }
    }
    /// Drops every record (a crash); handles already given out stay invalid.
    pub(crate) fn clear(&mut self) {
        self.free.clear();
        for (i, (g, v)) in self.items.iter_mut().enumerate().rev() {
            if v.take().is_some() {
                *g = g.wrapping_add(1);
            }
            self.free.push(i as u32);
        }
    }
}

/// `Ok` when `p` is in `[0, 1]`.
pub(crate) fn check_probability(field: &str, p: f64) -> Result<(), ConfigError> {
    crate::error::probability(field, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slab_handles_are_generation_checked() {
        let mut s: Slab<u32> = Slab::default();
        let a = s.insert(1);
        let b = s.insert(2);
        assert_eq!(s.remove(a), Some(1));
        assert_eq!(s.remove(a), None, "a removed handle is dead");
        let c = s.insert(3);
        assert_ne!(a, c, "a reused slot gets a new generation");
        assert_eq!(s.get_mut(a), None);
        assert_eq!(s.get_mut(c).copied(), Some(3));
        s.clear();
        assert_eq!(s.get_mut(b), None);
        assert_eq!(s.get_mut(c), None);
        let d = s.insert(4);
        assert_eq!(s.get_mut(d).copied(), Some(4));
    }

    #[test]
    fn messages_and_timers_stay_small() {
        assert!(size_of::<Msg>() <= 24, "{}", size_of::<Msg>());
        assert!(size_of::<crate::Msg>() <= 32, "{}", size_of::<crate::Msg>());
        assert!(size_of::<crate::Timer>() <= 32);
    }
}
