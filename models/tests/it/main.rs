//! Integration tests of the models crate: whole simulations built with `SimBuilder`.
//!
//! One test binary with modules (faster to link than one binary per file):
//! * `fidelity`: simulated queues against the analytic formulas of `queueing`;
//! * `comm`: communication styles (keep-alive, push vs polling, media, P2P vs relay);
//! * `behaviour`: retries, timeouts, rejections, closed loops, modulation, fan-out, crashes.
//! * `cache`: cache hit ratios against Che's and the TTL formulas; stale-hit accounting.
//! * `load_balancer`: balancing policies against queueing theory, stickiness, exact weights,
//!   failover and active-passive balancers.
//! * `sharding`: a shard router growing by one shard: keys moved, transfer time, errors.
//! * `rate_limiter`: token bucket against M/D/1/K blocking, distributed limiting modes.
//! * `patterns`: sagas against their closed forms and the audit, idempotent POST, CQRS lag
//!   against M/D/1, strangler routing against Erlang B, database per service.
//! * `messaging`: dead-letter fraction p^k, M/M/c broker queues, per-key ordering, groups.
//! * `store`: replicated stores: t-visibility, quorums, RPO on failover, availability.

mod behaviour;
mod cache;
mod comm;
mod common;
mod fidelity;
mod load_balancer;
mod messaging;
mod patterns;
mod rate_limiter;
mod sharding;
mod store;
