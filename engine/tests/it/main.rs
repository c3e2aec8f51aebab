//! Engine integration tests: one binary, one module per topic (see `ARCHITECTURE-GUIDE.md`
//! §3.7). Every test drives a real [`clustersim_engine::Sim`] with the tiny protocol and the
//! scriptable, logging component of `common`.

mod clocks;
mod common;
mod determinism;
mod faults;
mod limits;
mod metrics;
mod network;
mod ordering;
mod partitions;
mod random_faults;
mod timers;
