//! Cross-crate integration tests, in one binary (one link instead of one per file):
//!
//! * `catalogue`: every `scenarios/*.ron`, shortened: runs to the end, deterministic,
//!   Little's law on every service, listed in `scenarios/README.md`;
//! * `determinism`: sweep reports are byte-identical across thread counts and repeats,
//!   change with the seed, and survive an interruption and `--resume`;
//! * `config_errors`: the message of every class of scenario error, `--set` errors, and no
//!   panic on any prefix of a valid file;
//! * `cli`: exit codes and output of the `clustersim` binary;
//! * `shards`: `run --shard K/N` + `merge` give the unsharded bytes; Slurm scripts.
//! * `analysis_views`: `compare` verdicts, SVG charts for every catalogue scenario, the HTML
//!   report, `--check-determinism`.
//! * `warmup_auto`: `warmup: Auto` syntax, MSER-5 re-runs, batch-means CIs.
//! * `metrics_breakdown`: metrics.csv totals and labelled (per-key) series; latency_cdf.csv
//!   against the M/M/1 response-time distribution.
//! * `estimate`: capacity-estimate arithmetic, the simulation cross-check, the SLO knee finder
//!   against Erlang C, and their command lines.
//! * `store_reports`: `visibility.csv` of replicated stores.
//!
//! Shared helpers live in the crate's library (`tests/lib.rs`).

mod analysis_views;
mod catalogue;
mod cli;
mod config_errors;
mod determinism;
mod estimate;
mod metrics_breakdown;
mod shards;
mod store_reports;
mod warmup_auto;
