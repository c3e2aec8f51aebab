//! Plain-Rust configuration of the load balancer. The scenarios crate builds it from RON;
//! every default is stated on the item that has it (and applied by
//! [`LoadBalancerConfig::new`]).

use clustersim_engine::{ComponentId, SimDuration, Transport};

use super::policy::Policy;
use crate::error::ConfigError;
use crate::msg::Op;

/// Most backends one load balancer may have.
pub const MAX_BACKENDS: usize = 1 << 20;

/// A load balancer in front of `backends`.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadBalancerConfig {
    /// The backends, at least one, no component twice. Indices in this list name the
    /// `to_backend_<i>` counters.
    pub backends: Vec<Backend>,
    /// How a backend is chosen. Default [`Policy::RoundRobin`].
    pub policy: Policy,
    /// Which request attributes routing may look at. Default [`Layer::L4`].
    pub layer: Layer,
    /// Processing time per request in the balancer (parsing, TLS, routing). The balancer is a
    /// single FIFO worker with this constant service time (an M/D/1 station under Poisson
    /// arrivals: it saturates at `1 / routing_cost` requests per second); the backend is chosen
    /// when the processing ends, so the choice sees up-to-date loads. Default 0 (forward in the
    /// same instant).
    pub routing_cost: SimDuration,
    /// How long the balancer waits for a backend's response before failing the attempt
    /// (answering `Timeout`, or retrying). Default `None`: wait until the response or a send
    /// failure — a backend that crashes with the request inside never answers, so set it in
    /// fault scenarios.
    pub backend_timeout: Option<SimDuration>,
    /// Active health checks (and passive outlier detection). Default `None`: every backend is
    /// considered healthy forever.
    pub health: Option<HealthCheck>,
    /// Retry a request whose attempt failed (send failure or `backend_timeout`; not a
    /// backend's own error response) once, on another healthy backend. Default `false`.
    pub retry_other_backend: bool,
    /// Transport of forwarded requests, probes and responses. Default [`Transport::Stream`].
    pub transport: Transport,
    /// Layer-7 per-operation pools: a request whose op has a pool goes only to that pool's
    /// backends (e.g. writes to the primary, reads to the replicas); ops without a pool use
    /// every backend. Each pool is balanced by `policy` on its own (its own round-robin
    /// cursor, its own index for the least-* policies), while active connections, response
    /// times and health are per backend and shared by every pool that lists it. Layer 7 only.
    /// Default empty.
    pub pools: Vec<Pool>,
}

/// The backends that serve one operation (see [`LoadBalancerConfig::pools`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pool {
    /// The operation routed to this pool; at most one pool per op.
    pub op: Op,
    /// Indices into [`LoadBalancerConfig::backends`], at least one, none twice.
    pub backends: Vec<u32>,
}

/// One backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backend {
    /// The component requests are forwarded to.
    pub target: ComponentId,
    /// Relative capacity, `>= 1`, used by the weighted policies. Default 1.
    pub weight: u32,
}

/// What routing may look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// Transport level: the connection and its end user only (policies that read a request's
    /// op or key are refused).
    L4,
    /// Application level: may route by the request's key ([`Policy::KeyHash`]).
    L7,
}

/// Active health checks: every `interval` each backend gets a [`crate::Msg::Probe`]; a reply
/// within `timeout` is a success, no reply (or a send failure) a failure. A healthy backend
/// becomes unhealthy after `unhealthy_threshold` consecutive failures, an unhealthy one healthy
/// after `healthy_threshold` consecutive successes. Backends start healthy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    /// Time between probes of one backend, `> 0`. Default 1 s.
    pub interval: SimDuration,
    /// How long to wait for a reply, `> 0` and `<= interval`. Default 500 ms.
    pub timeout: SimDuration,
    /// Consecutive failures that mark a backend down, `>= 1`. Default 3.
    pub unhealthy_threshold: u32,
    /// Consecutive successes that mark it up again, `>= 1`. Default 2.
    pub healthy_threshold: u32,
    /// Passive outlier detection: failed attempts of real traffic (send failures and backend
    /// timeouts) count as failures too, so a crashed or very slow backend is ejected as soon
    /// as `unhealthy_threshold` requests in a row fail on it. Default `true`.
    pub passive: bool,
}

impl Default for HealthCheck {
    /// 1 s interval, 500 ms timeout, down after 3 failures, up after 2 successes, passive on.
    fn default() -> Self {
        HealthCheck {
            interval: SimDuration::from_secs(1),
            timeout: SimDuration::from_millis(500),
            unhealthy_threshold: 3,
            healthy_threshold: 2,
            passive: true,
        }
    }
}

impl LoadBalancerConfig {
    /// A layer-4 round-robin balancer over `targets` (weight 1 each), every other field at its
    /// documented default.
    pub fn new(targets: &[ComponentId]) -> LoadBalancerConfig {
        LoadBalancerConfig {
            backends: targets
                .iter()
                .map(|&target| Backend { target, weight: 1 })
                .collect(),
            policy: Policy::RoundRobin,
            layer: Layer::L4,
            routing_cost: SimDuration::ZERO,
            backend_timeout: None,
            health: None,
            retry_other_backend: false,
            transport: Transport::Stream,
            pools: Vec::new(),
        }
    }

    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.backends.is_empty() {
            return Err(ConfigError::new(
                "backends",
                "is empty, but a load balancer needs at least one backend",
            ));
        }
        if self.backends.len() > MAX_BACKENDS {
            return Err(ConfigError::new(
                "backends",
                format!(
                    "has {} entries, but at most {MAX_BACKENDS} are supported",
                    self.backends.len()
                ),
            ));
        }
        for (i, b) in self.backends.iter().enumerate() {
            if b.weight == 0 {
                return Err(ConfigError::new(
                    format!("backends[{i}].weight"),
                    "is 0, but it must be >= 1",
                ));
            }
            if self.backends[..i].iter().any(|o| o.target == b.target) {
                return Err(ConfigError::new(
                    format!("backends[{i}]"),
                    "lists a backend already listed: each backend may appear once (use `weight` for more traffic)",
                ));
            }
        }
        if self.layer == Layer::L4 && self.policy.needs_layer7() {
            return Err(ConfigError::new(
                "policy",
                format!(
                    "{:?} routes by the request's key, an application-level attribute a layer-4 \
                     balancer cannot see; set `layer: L7` or choose a connection-level policy",
                    self.policy
                ),
            ));
        }
        self.validate_pools()?;
        if self.backend_timeout.is_some_and(SimDuration::is_zero) {
            return Err(ConfigError::new(
                "backend_timeout",
                "is 0, but it must be > 0 (leave it out to wait forever)",
            ));
        }
        if let Some(h) = &self.health {
            if h.interval.is_zero() {
                return Err(ConfigError::new(
                    "health.interval",
                    "is 0, but it must be > 0",
                ));
            }
            if h.timeout.is_zero() || h.timeout > h.interval {
                return Err(ConfigError::new(
                    "health.timeout",
                    format!(
                        "is {}, but it must be > 0 and at most the interval ({})",
                        h.timeout, h.interval
                    ),
                ));
            }
            if h.unhealthy_threshold == 0 {
                return Err(ConfigError::new(
                    "health.unhealthy_threshold",
                    "is 0, but it must be >= 1",
                ));
            }
            if h.healthy_threshold == 0 {
                return Err(ConfigError::new(
                    "health.healthy_threshold",
                    "is 0, but it must be >= 1",
                ));
            }
        }
        Ok(())
    }

    fn validate_pools(&self) -> Result<(), ConfigError> {
        if !self.pools.is_empty() && self.layer == Layer::L4 {
            return Err(ConfigError::new(
                "pools",
                "route by the request's operation, an application-level attribute a layer-4 \
                 balancer cannot see; set `layer: L7` or remove the pools",
            ));
        }
        for (i, p) in self.pools.iter().enumerate() {
            if let Some(k) = self.pools[..i].iter().position(|o| o.op == p.op) {
                return Err(ConfigError::new(
                    format!("pools[{i}].op"),
                    format!(
                        "{:?} already has a pool (pools[{k}]); list each operation once",
                        p.op
                    ),
                ));
            }
            if p.backends.is_empty() {
                return Err(ConfigError::new(
                    format!("pools[{i}].backends"),
                    "is empty, but a pool needs at least one backend",
                ));
            }
            for (j, &b) in p.backends.iter().enumerate() {
                if b as usize >= self.backends.len() {
                    return Err(ConfigError::new(
                        format!("pools[{i}].backends[{j}]"),
                        format!(
                            "is backend {b}, but the balancer has only {} backends",
                            self.backends.len()
                        ),
                    ));
                }
                if p.backends[..j].contains(&b) {
                    return Err(ConfigError::new(
                        format!("pools[{i}].backends[{j}]"),
                        "lists a backend already in this pool",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The backend components, in configuration order.
    pub fn targets(&self) -> Vec<ComponentId> {
        self.backends.iter().map(|b| b.target).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_name_their_field() {
        let mut c = LoadBalancerConfig::new(&[ComponentId(1), ComponentId(2)]);
        c.validate().unwrap();
        c.policy = Policy::KeyHash;
        assert_eq!(c.validate().unwrap_err().field, "policy");
        c.layer = Layer::L7;
        c.validate().unwrap();
        c.backends[1].weight = 0;
        assert_eq!(c.validate().unwrap_err().field, "backends[1].weight");
        c.backends[1] = c.backends[0];
        assert_eq!(c.validate().unwrap_err().field, "backends[1]");
        c.backends.clear();
        assert_eq!(c.validate().unwrap_err().field, "backends");
        let mut c = LoadBalancerConfig::new(&[ComponentId(1)]);
        c.backend_timeout = Some(SimDuration::ZERO);
        assert_eq!(c.validate().unwrap_err().field, "backend_timeout");
        c.backend_timeout = None;
        let bad = [
            (
                "health.timeout",
                HealthCheck {
                    timeout: SimDuration::from_secs(2),
                    ..HealthCheck::default()
                },
            ),
            (
                "health.unhealthy_threshold",
                HealthCheck {
                    unhealthy_threshold: 0,
                    ..HealthCheck::default()
                },
            ),
            (
                "health.healthy_threshold",
                HealthCheck {
                    healthy_threshold: 0,
                    ..HealthCheck::default()
                },
            ),
        ];
        for (field, h) in bad {
            c.health = Some(h);
            assert_eq!(c.validate().unwrap_err().field, field);
        }
        c.health = Some(HealthCheck {
            interval: SimDuration::ZERO,
            ..HealthCheck::default()
        });
        assert_eq!(c.validate().unwrap_err().field, "health.interval");
    }

    #[test]
    fn pools_are_layer_7_per_op_and_name_valid_backends() {
        let mut c = LoadBalancerConfig::new(&[ComponentId(1), ComponentId(2), ComponentId(3)]);
        c.pools = vec![
            Pool {
                op: Op::Write,
                backends: vec![0],
            },
            Pool {
                op: Op::Read,
                backends: vec![1, 2],
            },
        ];
        assert_eq!(c.validate().unwrap_err().field, "pools");
        c.layer = Layer::L7;
        c.validate().unwrap();
        c.pools[1].backends = vec![1, 3];
        assert_eq!(c.validate().unwrap_err().field, "pools[1].backends[1]");
        c.pools[1].backends = vec![1, 1];
        assert_eq!(c.validate().unwrap_err().field, "pools[1].backends[1]");
        c.pools[1].backends.clear();
        assert_eq!(c.validate().unwrap_err().field, "pools[1].backends");
        c.pools[1] = c.pools[0].clone();
        assert_eq!(c.validate().unwrap_err().field, "pools[1].op");
    }
}
