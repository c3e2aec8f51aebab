//! Integration tests of the models crate: whole simulations built with `SimBuilder`.
//!
//! One test binary with modules (faster to link than one binary per file):
//! * `fidelity`: simulated queues against the analytic formulas of `queueing`;
//! * `behaviour`: retries, timeouts, rejections, closed loops, modulation, fan-out, crashes.

mod behaviour;
mod common;
mod fidelity;
