//! # clustersim-models: the model plugins
//!
//! **Job.** Provide the building blocks a scenario is assembled from — workload clients
//! ([`workload`]), services as queueing stations ([`service`]), and later load balancers,
//! caches, replicated stores, queues, rate limiters and sagas — as sans-IO
//! [`Component`](clustersim_engine::Component)s over one closed message vocabulary
//! ([`Cluster`]: [`Msg`] and [`Timer`]); plus the analytic queueing formulas ([`queueing`]) the
//! simulated results are checked against.
//!
//! **Key decision.** Configurations are plain Rust structs that receive dense
//! [`ComponentId`](clustersim_engine::ComponentId)s, never names, and no text: the scenarios
//! crate parses and resolves RON into them. The registry ([`registry::ComponentConfig`],
//! [`registry::build`]) is a closed enum, so adding a plugin is "one `Msg` variant, one `Timer`
//! variant, one config variant, one `build` arm" and the compiler finds every `match` to update.
//! Plugins talk only through [`Msg`] (a generic [`Request`]/[`Response`] pair, so any block can
//! be inserted in front of any other), never through each other's internals.
//!
//! **Must not depend on:** serde, RON or any text format, files, the scenarios or analysis
//! crates, threads, the wall clock. Every random draw comes from the component's own stream
//! (`Ctx::rng`), so adding a component never shifts anyone else's numbers.
//!
//! ## Example
//!
//! An open-loop client sending 800 requests/s to an M/M/1 service with 1 ms mean service time
//! (ρ = 0.8, mean response time 5 ms):
//!
//! ```
//! use clustersim_engine::*;
//! use clustersim_models::registry::{build, ComponentConfig};
//! use clustersim_models::service::ServiceConfig;
//! use clustersim_models::workload::OpenLoopConfig;
//! use clustersim_models::Cluster;
//!
//! let mut b = SimBuilder::<Cluster>::new(7);
//! let region = b.add_region("eu");
//! let (client_node, server_node) = (b.add_node("c", region), b.add_node("s", region));
//! let server = ComponentId(1); // ids are dense, in the order components are added
//!
//! let client = ComponentConfig::OpenLoopClient(OpenLoopConfig::new(server, 800.0));
//! let service = ComponentConfig::Service(ServiceConfig::new(Dist::exponential(1e6).unwrap()));
//! for (node, name, cfg) in [(client_node, "client", &client), (server_node, "db", &service)] {
//!     cfg.validate().unwrap();
//!     let id = b.next_component_id();
//!     let component = build(cfg, id, b.metrics());
//!     b.add_component(node, name, component);
//! }
//!
//! let report = b.build().unwrap().run_to_report(Limits::new(
//!     SimTime::from_nanos(SimDuration::from_secs(10).as_nanos()),
//!     10_000_000,
//! ));
//! let m = &report.metrics;
//! let ok = m.counter(m.find(Some(ComponentId(0)), "ok").unwrap());
//! assert!((7_000..9_000).contains(&ok), "{ok}");
//! let lat = m.histogram(m.find(Some(ComponentId(0)), "latency_ns").unwrap()).unwrap();
//! assert!(lat.mean() > 2e6 && lat.mean() < 10e6, "{}", lat.mean()); // ≈ 5 ms
//! ```
#![warn(missing_docs)]

pub mod cache;
pub mod comm;
mod error;
pub mod load_balancer;
pub mod messaging;
pub mod msg;
pub mod patterns;
pub mod queueing;
pub mod rate_limiter;
pub mod registry;
pub mod service;
pub mod sharding;
pub mod store;
pub mod workload;

pub use error::ConfigError;
pub use msg::{Msg, Op, Request, Response, Status, Timer};
pub use registry::{ComponentConfig, build};

use clustersim_engine::Protocol;

/// The protocol of every clustersim model: the message and timer enums of this crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cluster;

impl Protocol for Cluster {
    type Msg = Msg;
    type Timer = Timer;
}
