//! # clustersim-analysis: runs, sweeps, statistics and reports
//!
//! **Job.** Turn validated scenarios into numbers a person can use: run them (alone or as a
//! sweep of points × replications, in parallel), compute statistics across replications, and
//! write spreadsheet-ready CSV reports. Also hosts the `clustersim` command line ([`cli`]).
//!
//! **Key decision.** Parallelism lives only here and only *across* runs: each run is a
//! single-threaded deterministic simulation, and results are sorted before being written, so
//! the bytes of every report are the same for any thread count. Finished runs are journaled
//! one line each so an interrupted sweep resumes without redoing work.
//!
//! **Must not:** change a run. This crate consumes `RunReport`s; it never reaches into the
//! engine's event loop.
#![warn(missing_docs)]

pub mod analytic;
pub mod atomic;
pub mod catalog;
pub mod cli;
pub mod compare;
pub mod crosscheck;
pub mod design;
pub mod estimate;
pub mod html;
pub mod journal;
pub mod plot;
pub mod report;
pub mod result;
pub mod search;
pub mod shard;
pub mod slurm;
pub mod stats;
pub mod sweep;
pub mod warmup;
