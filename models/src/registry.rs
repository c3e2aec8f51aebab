//! The closed, typed registry of component kinds: [`ComponentConfig`] and [`build`].
//!
//! Adding a plugin means adding a variant here with one arm in each `match` below; the compiler
//! lists every place still to update. No string lookups.

use clustersim_engine::{Component, ComponentId, Recorder};

use crate::Cluster;
use crate::cache::{Cache, CacheConfig};
use crate::comm::CommConfig;
use crate::error::ConfigError;
use crate::load_balancer::{LoadBalancer, LoadBalancerConfig};
use crate::messaging::MessagingConfig;
use crate::patterns::PatternConfig;
use crate::rate_limiter::{CounterStore, CounterStoreConfig, RateLimiter, RateLimiterConfig};
use crate::service::{Service, ServiceConfig};
use crate::sharding::{ShardRouter, ShardRouterConfig};
use crate::store::{ReplicaConfig, StoreConfig, StoreFront, StoreReplica};
use crate::workload::{ClosedLoopClient, ClosedLoopConfig, OpenLoopClient, OpenLoopConfig};

/// The configuration of one component, of any kind.
#[derive(Clone, Debug, PartialEq)]
pub enum ComponentConfig {
    /// An open-loop client ([`crate::workload::OpenLoopClient`]).
    OpenLoopClient(OpenLoopConfig),
    /// A closed-loop client ([`crate::workload::ClosedLoopClient`]).
    ClosedLoopClient(ClosedLoopConfig),
    /// A service ([`crate::service::Service`]).
    Service(ServiceConfig),
    /// A load balancer ([`crate::load_balancer::LoadBalancer`]).
    LoadBalancer(LoadBalancerConfig),
    /// A cache, CDN edge, reverse or forward proxy ([`crate::cache::Cache`]).
    Cache(CacheConfig),
    /// A communication-style component: push gateway and clients, polling, peers, relay,
    /// live media ([`crate::comm`]).
    Comm(CommConfig),
    /// A shard router placing requests on shards by key ([`crate::sharding::ShardRouter`]).
    ShardRouter(ShardRouterConfig),
    /// A rate limiter in front of a component ([`crate::rate_limiter::RateLimiter`]).
    RateLimiter(RateLimiterConfig),
    /// A counter store shared by distributed rate limiters
    /// ([`crate::rate_limiter::CounterStore`]).
    CounterStore(CounterStoreConfig),
    /// A microservice-pattern component: saga, saga participant, CQRS write or read model,
    /// strangler router, idempotent client, server, key store or resource table
    /// ([`crate::patterns`]).
    Pattern(PatternConfig),
    /// A producer, broker or consumer of asynchronous messaging ([`crate::messaging`]).
    Messaging(MessagingConfig),
    /// A replicated store's front: routing, quorums, failover, consistency checker
    /// ([`crate::store::StoreFront`]).
    Store(StoreConfig),
    /// A storage replica of a replicated store ([`crate::store::StoreReplica`]).
    StoreReplica(ReplicaConfig),
}

impl ComponentConfig {
    /// The components this one sends requests to, in configuration order without duplicates
    /// (the edges of the call graph, for cycle checks and diagrams).
    pub fn targets(&self) -> Vec<ComponentId> {
        match self {
            ComponentConfig::OpenLoopClient(c) => vec![c.target],
            ComponentConfig::ClosedLoopClient(c) => vec![c.target],
            ComponentConfig::Service(c) => {
                let mut out: Vec<ComponentId> = Vec::with_capacity(c.calls.len());
                for call in &c.calls {
                    if !out.contains(&call.target) {
                        out.push(call.target);
                    }
                }
                out
            }
            ComponentConfig::LoadBalancer(c) => c.targets(),
            ComponentConfig::Cache(c) => {
                let mut out: Vec<ComponentId> = Vec::with_capacity(c.backends.len());
                for b in &c.backends {
                    if !out.contains(b) {
                        out.push(*b);
                    }
                }
                out
            }
            ComponentConfig::Comm(c) => c.targets(),
            ComponentConfig::ShardRouter(c) => c.targets(),
            ComponentConfig::RateLimiter(c) => c.targets(),
            ComponentConfig::CounterStore(_) => Vec::new(),
            ComponentConfig::Pattern(c) => c.targets(),
            ComponentConfig::Messaging(c) => c.targets(),
            ComponentConfig::Store(c) => c.targets(),
            ComponentConfig::StoreReplica(_) => Vec::new(),
        }
    }

    /// A stable snake_case name of the kind, for messages and reports.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ComponentConfig::OpenLoopClient(_) => "open_loop_client",
            ComponentConfig::ClosedLoopClient(_) => "closed_loop_client",
            ComponentConfig::Service(_) => "service",
            ComponentConfig::LoadBalancer(_) => "load_balancer",
            ComponentConfig::Cache(c) => c.kind_name(),
            ComponentConfig::Comm(c) => c.kind_name(),
            ComponentConfig::ShardRouter(_) => "shard_router",
            ComponentConfig::RateLimiter(_) => "rate_limiter",
            ComponentConfig::CounterStore(_) => "counter_store",
            ComponentConfig::Pattern(c) => c.kind_name(),
            ComponentConfig::Messaging(c) => c.kind_name(),
            ComponentConfig::Store(_) => "store",
            ComponentConfig::StoreReplica(_) => "store_replica",
        }
    }

    /// Whether this component generates load on its own (a client).
    pub fn is_client(&self) -> bool {
        match self {
            ComponentConfig::OpenLoopClient(_) | ComponentConfig::ClosedLoopClient(_) => true,
            ComponentConfig::Service(_) | ComponentConfig::LoadBalancer(_) => false,
            ComponentConfig::Cache(_) => false,
            ComponentConfig::Comm(c) => c.is_client(),
            ComponentConfig::ShardRouter(_) => false,
            ComponentConfig::RateLimiter(_) | ComponentConfig::CounterStore(_) => false,
            ComponentConfig::Pattern(c) => c.is_client(),
            ComponentConfig::Messaging(c) => c.is_client(),
            ComponentConfig::Store(_) | ComponentConfig::StoreReplica(_) => false,
        }
    }

    /// Checks every field against its documented range. [`build`] panics on a config that
    /// fails this, so call it first and report the error with the component's name.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            ComponentConfig::OpenLoopClient(c) => c.validate(),
            ComponentConfig::ClosedLoopClient(c) => c.validate(),
            ComponentConfig::Service(c) => c.validate(),
            ComponentConfig::LoadBalancer(c) => c.validate(),
            ComponentConfig::Cache(c) => c.validate(),
            ComponentConfig::Comm(c) => c.validate(),
            ComponentConfig::ShardRouter(c) => c.validate(),
            ComponentConfig::RateLimiter(c) => c.validate(),
            ComponentConfig::CounterStore(c) => c.validate(),
            ComponentConfig::Pattern(c) => c.validate(),
            ComponentConfig::Messaging(c) => c.validate(),
            ComponentConfig::Store(c) => c.validate(),
            ComponentConfig::StoreReplica(c) => c.validate(),
        }
    }
}

/// Builds the component `me` from `cfg`, registering its metric series (owned by `me`) with
/// `metrics` (typically `SimBuilder::metrics()`).
///
/// # Panics
/// If `cfg.validate()` fails.
pub fn build(
    cfg: &ComponentConfig,
    me: ComponentId,
    metrics: &mut Recorder,
) -> Box<dyn Component<Cluster>> {
    match cfg {
        ComponentConfig::OpenLoopClient(c) => Box::new(OpenLoopClient::new(c, me, metrics)),
        ComponentConfig::ClosedLoopClient(c) => Box::new(ClosedLoopClient::new(c, me, metrics)),
        ComponentConfig::Service(c) => Box::new(Service::new(c, me, metrics)),
        ComponentConfig::LoadBalancer(c) => Box::new(LoadBalancer::new(c, me, metrics)),
        ComponentConfig::Cache(c) => Box::new(Cache::new(c, me, metrics)),
        ComponentConfig::Comm(c) => c.build(me, metrics),
        ComponentConfig::ShardRouter(c) => Box::new(ShardRouter::new(c, me, metrics)),
        ComponentConfig::RateLimiter(c) => Box::new(RateLimiter::new(c, me, metrics)),
        ComponentConfig::CounterStore(c) => Box::new(CounterStore::new(c, me, metrics)),
        ComponentConfig::Pattern(c) => c.build(me, metrics),
        ComponentConfig::Messaging(c) => c.build(me, metrics),
        ComponentConfig::Store(c) => Box::new(StoreFront::new(c, me, metrics)),
        ComponentConfig::StoreReplica(c) => Box::new(StoreReplica::new(c, me, metrics)),
    }
}

#[cfg(test)]
mod tests {
    use clustersim_engine::Dist;

    use super::*;
    use crate::service::Call;

    #[test]
    fn targets_dedup_in_order_and_kinds() {
        let mut s = ServiceConfig::new(Dist::constant(1.0).unwrap());
        for t in [3, 1, 3, 2] {
            s.calls.push(Call {
                target: ComponentId(t),
                probability: 1.0,
                op: None,
            });
        }
        let s = ComponentConfig::Service(s);
        assert_eq!(
            s.targets(),
            vec![ComponentId(3), ComponentId(1), ComponentId(2)]
        );
        assert_eq!(s.kind_name(), "service");
        assert!(!s.is_client());
        let c = ComponentConfig::OpenLoopClient(OpenLoopConfig::new(ComponentId(9), 1.0));
        assert_eq!(c.targets(), vec![ComponentId(9)]);
        assert_eq!(c.kind_name(), "open_loop_client");
        assert!(c.is_client());
        let c = ComponentConfig::ClosedLoopClient(ClosedLoopConfig::new(
            ComponentId(4),
            2,
            Dist::constant(0.0).unwrap(),
        ));
        assert_eq!(c.targets(), vec![ComponentId(4)]);
        assert_eq!(c.kind_name(), "closed_loop_client");
    }

    #[test]
    fn build_registers_owned_series() {
        let mut rec = Recorder::default();
        let cfg = ComponentConfig::Service(ServiceConfig::new(Dist::constant(1.0).unwrap()));
        let _c = build(&cfg, ComponentId(5), &mut rec);
        let names: Vec<&str> = rec.series().iter().map(|s| s.name.as_str()).collect();
        assert!(
            names.contains(&"in_system") && names.contains(&"latency_ns"),
            "{names:?}"
        );
        assert!(rec.series().iter().all(|s| s.owner == Some(ComponentId(5))));
    }

    #[test]
    #[should_panic(expected = "invalid service config")]
    fn build_panics_on_invalid_config() {
        let mut s = ServiceConfig::new(Dist::constant(1.0).unwrap());
        s.workers = 0;
        let _ = build(
            &ComponentConfig::Service(s),
            ComponentId(0),
            &mut Recorder::default(),
        );
    }
}
