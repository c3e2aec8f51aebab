//! The `clustersim` command line: `run`, `check`, `list`, `graph`.
//!
//! Exit codes: 0 success; 1 invalid input or a failed run; 2 usage error (from clap).
//! Errors go to stderr, results to stdout.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use clustersim_scenarios::overrides::Override;
use clustersim_scenarios::{ScenarioError, load, raw};

use crate::analytic;
use crate::catalog;
use crate::report;
use crate::stats::summarize;
use crate::sweep::{self, ExecOptions};

/// Deterministic discrete-event simulation of distributed-system designs.
#[derive(Debug, Parser)]
#[command(name = "clustersim", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario (and its sweep), print a summary and write CSV reports.
    Run {
        /// The scenario file (RON).
        file: PathBuf,
        /// Output folder. Default: runs/<scenario name>/.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Master seed (overrides the file's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Override any parameter: `--set components.app.kind.workers=4` (repeatable).
        #[arg(long = "set", value_name = "PATH=VALUE")]
        set: Vec<String>,
        /// Replications per sweep point (overrides `sweep.replications`).
        #[arg(long)]
        replications: Option<u32>,
        /// Worker threads (default: one per core). Output does not depend on it.
        #[arg(long)]
        threads: Option<usize>,
        /// Keep finished runs of an interrupted invocation and run only the rest.
        #[arg(long)]
        resume: bool,
        /// No progress bar and no summary table.
        #[arg(long)]
        quiet: bool,
        /// Run only shard K of N (K from 0 to N-1) into --out; combine with `merge`.
        #[arg(long, value_name = "K/N")]
        shard: Option<crate::shard::ShardSpec>,
        /// Also write a self-contained report.html (charts inline) into the output folder.
        #[arg(long)]
        html: bool,
        /// Run every run twice and compare trace digests instead of writing reports.
        #[arg(long)]
        check_determinism: bool,
        /// Knee finder: the smallest value of this integer parameter meeting every --slo.
        #[arg(long, value_name = "PATH", conflicts_with = "find_max")]
        find_min: Option<String>,
        /// Knee finder: the largest value of this integer parameter (or rate) meeting every
        /// --slo.
        #[arg(long, value_name = "PATH")]
        find_max: Option<String>,
        /// An SLO for the knee finder, e.g. "latency_p99_ms<=50" (repeatable; all must hold).
        #[arg(long, value_name = "METRIC<=N")]
        slo: Vec<String>,
        /// Smallest value the knee finder tries (default 1).
        #[arg(long)]
        low: Option<u64>,
        /// Largest value the knee finder tries (default: doubling from --low).
        #[arg(long)]
        high: Option<u64>,
    },
    /// Merge shard folders (from `run --shard`) into reports identical to an unsharded run.
    Merge {
        /// Output folder for the merged reports.
        out: PathBuf,
        /// The shard folders, one per shard.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
    },
    /// Write Slurm batch scripts that run a sweep as a job array of shards, then merge.
    Slurm {
        /// The scenario file (RON), as the jobs will open it.
        file: PathBuf,
        /// Number of shards (array tasks).
        #[arg(long)]
        shards: usize,
        /// Slurm partition.
        #[arg(long)]
        partition: Option<String>,
        /// Wall-clock limit per shard, e.g. 02:00:00.
        #[arg(long)]
        time: Option<String>,
        /// CPUs per shard (and its --threads).
        #[arg(long, default_value_t = 1)]
        cpus: usize,
        /// Folder for scripts, logs, shards and merged reports. Default: runs/<scenario name>/.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The clustersim binary the jobs run. Default: this binary.
        #[arg(long)]
        bin: Option<PathBuf>,
        /// Master seed, passed to every shard.
        #[arg(long)]
        seed: Option<u64>,
        /// Overrides, as for `run`, passed to every shard.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        set: Vec<String>,
        /// Replications per sweep point, passed to every shard.
        #[arg(long)]
        replications: Option<u32>,
    },
    /// Paired comparison of two output folders (per point and metric); writes compare.csv.
    Compare {
        /// Baseline output folder (A).
        a: PathBuf,
        /// Candidate output folder (B).
        b: PathBuf,
        /// Folder for compare.csv. Default: the current folder.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Draw SVG charts from an output folder.
    Plot {
        /// Output folder of `run`.
        dir: PathBuf,
        /// Folder for the SVG files. Default: DIR/plots/.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write a self-contained report.html for an output folder.
    Report {
        /// Output folder of `run`.
        dir: PathBuf,
        /// Folder for report.html. Default: DIR.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Back-of-the-envelope capacity estimate (estimate.csv); `--simulate` cross-checks it.
    Estimate {
        /// A standalone `Estimate(...)` file, or a scenario with an `estimate` section.
        file: PathBuf,
        /// Output folder. Default: runs/<estimate name>/.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also build the estimated topology, simulate it and compare
        /// (estimate_vs_simulation.csv).
        #[arg(long)]
        simulate: bool,
        /// Replications of the cross-check (overrides `simulation.replications`).
        #[arg(long)]
        replications: Option<u32>,
        /// Worker threads for the cross-check. Output does not depend on it.
        #[arg(long)]
        threads: Option<usize>,
        /// Do not print the estimate and the comparison.
        #[arg(long)]
        quiet: bool,
        /// Override an assumption: `--set peak_factor=3`, `--set app.throughput_rps=1500`
        /// (`estimate.` first in a scenario file; repeatable).
        #[arg(long = "set", value_name = "PATH=VALUE")]
        set: Vec<String>,
        /// Master seed of the cross-check (overrides `simulation.seed`).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Validate a scenario and print it fully resolved (every default filled in).
    Check {
        /// The scenario file (RON).
        file: PathBuf,
        /// Overrides, as for `run`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        set: Vec<String>,
    },
    /// List every model plugin with its parameters and defaults.
    List,
    /// Print the topology as Graphviz DOT.
    Graph {
        /// The scenario file (RON).
        file: PathBuf,
        /// Overrides, as for `run`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        set: Vec<String>,
    },
}

static STOP: AtomicBool = AtomicBool::new(false);

/// Parses arguments and runs; the binary's `main` is just this.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn overrides(set: &[String]) -> Result<Vec<Override>> {
    set.iter()
        .map(|s| {
            s.parse::<Override>()
                .map_err(|e| anyhow::anyhow!("--set {s}: {e}"))
        })
        .collect()
}

/// Loads a file with overrides; scenario errors are printed in full and map to exit code 1.
fn load_raw(file: &Path, set: &[String]) -> Result<Result<raw::Scenario, ScenarioError>> {
    let ovr = overrides(set)?;
    let raw: raw::Scenario = match load::from_file(file) {
        Ok(r) => r,
        Err(_) if clustersim_scenarios::estimate::is_estimate_file(file) => anyhow::bail!(
            "{} is a capacity estimate (`Estimate(...)`), not a scenario: use `clustersim \
             estimate {}` (add --simulate to cross-check it by simulation)",
            file.display(),
            file.display()
        ),
        Err(e) => return Ok(Err(e)),
    };
    Ok(clustersim_scenarios::prepare(raw, file, &ovr).map(|l| l.raw))
}

/// Loads, overrides and plans a scenario (every sweep point validated); a scenario error is
/// returned for the caller to print (exit code 1).
fn load_plan(
    file: &Path,
    set: &[String],
    replications: Option<u32>,
    seed: Option<u64>,
) -> Result<Result<sweep::Plan, ScenarioError>> {
    Ok(load_raw(file, set)?.and_then(|raw| sweep::plan(raw, file, replications, seed)))
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run {
            file,
            out,
            seed,
            set,
            replications,
            threads,
            resume,
            quiet,
            shard,
            html,
            check_determinism,
            find_min,
            find_max,
            slo,
            low,
            high,
        } => {
            let knee = crate::search::KneeArgs {
                find_min,
                find_max,
                slo,
                low,
                high,
            };
            let raw = match load_raw(&file, &set)? {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::from(1));
                }
            };
            if knee.has_flags() || raw.search.is_some() {
                if check_determinism || shard.is_some() || resume {
                    eprintln!(
                        "error: --check-determinism, --shard and --resume do not apply to a search"
                    );
                    return Ok(ExitCode::from(2));
                }
                let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst));
                let command = crate::shard::canonical_command(&file, seed, &set, replications);
                return crate::search::cli(
                    crate::search::SearchCli {
                        raw: &raw,
                        file: &file,
                        knee,
                        out,
                        seed,
                        replications,
                        threads,
                        quiet,
                        html,
                        command,
                    },
                    &STOP,
                );
            }
            let plan = match sweep::plan(raw, &file, replications, seed) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::from(1));
                }
            };
            let out_dir = out.unwrap_or_else(|| PathBuf::from("runs").join(&plan.base.name));
            let progress =
                !quiet && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
            // Ctrl-C stops new runs from starting; finished runs are already journaled.
            let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst));
            let opts = ExecOptions {
                threads,
                out_dir: out_dir.clone(),
                resume,
                progress,
            };
            let command = crate::shard::canonical_command(&file, seed, &set, replications);
            if check_determinism {
                return crate::compare::check_determinism_cli(&plan, threads, &STOP);
            }
            if let Some(shard) = shard {
                return crate::shard::run_cli(&plan, shard, &file, &command, &opts, &STOP);
            }
            let total = plan.points.len() * plan.replications as usize;
            let done = sweep::execute(&plan, &opts, &STOP)?;
            report::write_all(&out_dir, &plan, &done.results, &file, &command)?;
            if html {
                crate::html::write_report(&out_dir, &out_dir)?;
            }
            if !quiet {
                print_summary(&plan, &done.results);
            }
            if done.resumed > 0 {
                eprintln!(
                    "resumed: {} of {total} runs were already finished",
                    done.resumed
                );
            }
            eprintln!("reports written to {}", out_dir.display());
            if done.interrupted {
                eprintln!(
                    "interrupted: {} of {total} runs finished and are kept; run again with --resume to finish",
                    done.results.len()
                );
                return Ok(ExitCode::from(1));
            }
            let failed = done.results.iter().filter(|r| r.failure.is_some()).count();
            if failed > 0 {
                eprintln!(
                    "{failed} of {total} runs failed; see the `failure` column of summary.csv"
                );
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { file, set } => {
            let plan = match load_plan(&file, &set, None, None)? {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::from(1));
                }
            };
            if let Some(search) = &plan.base.search {
                // What only the analysis crate knows (metric names, the parameter's type), so
                // `check` refuses what `run` would.
                let checked = crate::search::check_slos(&search.slo)
                    .and_then(|()| crate::search::param_kind(&plan.base, &search.param));
                if let Err(e) = checked {
                    eprintln!("error: {}: search: {e:#}", file.display());
                    return Ok(ExitCode::from(1));
                }
            }
            print!("{}", load::to_pretty_ron(&plan.base));
            println!();
            let spec = &plan.points[0].spec;
            println!(
                "// topology: {} region(s), {} node(s), {} component(s)",
                spec.regions.len(),
                spec.nodes.len(),
                spec.components.len()
            );
            for (i, c) in spec.components.iter().enumerate() {
                let node = &spec.nodes[c.node.index()];
                let targets: Vec<&str> = c
                    .config
                    .targets()
                    .iter()
                    .map(|t| spec.components[t.index()].name.as_str())
                    .collect();
                println!(
                    "//   #{i} {} ({}) on node {} in region {} -> [{}]",
                    c.name,
                    c.config.kind_name(),
                    node.name,
                    spec.regions[node.region.index()],
                    targets.join(", ")
                );
            }
            println!(
                "// sweep: {} point(s) x {} replication(s) = {} run(s)",
                plan.points.len(),
                plan.replications,
                plan.points.len() * plan.replications as usize
            );
            eprintln!("{}: ok", file.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Estimate {
            file,
            out,
            simulate,
            replications,
            threads,
            quiet,
            set,
            seed,
        } => {
            let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst));
            crate::crosscheck::cli(
                crate::crosscheck::EstimateRequest {
                    file: &file,
                    out,
                    simulate,
                    replications,
                    threads,
                    quiet,
                    set,
                    seed,
                },
                &STOP,
            )
        }
        Command::Compare { a, b, out } => crate::compare::cli(&a, &b, out.as_deref()),
        Command::Plot { dir, out } => crate::plot::cli(&dir, out.as_deref()),
        Command::Report { dir, out } => crate::html::cli(&dir, out.as_deref()),
        Command::Merge { out, shards } => crate::shard::merge_cli(&out, &shards),
        Command::Slurm {
            file,
            shards,
            partition,
            time,
            cpus,
            out,
            bin,
            seed,
            set,
            replications,
        } => {
            let plan = match load_plan(&file, &set, replications, seed)? {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::from(1));
                }
            };
            crate::slurm::slurm_cli(crate::slurm::SlurmRequest {
                plan: &plan,
                file,
                shards,
                partition,
                time,
                cpus,
                out,
                bin,
                seed,
                set,
                replications,
            })
        }
        Command::List => {
            print!(
                "{}",
                catalog::plugin_list().context("building the plugin list")?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Graph { file, set } => {
            let raw = match load_raw(&file, &set)? {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::from(1));
                }
            };
            let spec = match clustersim_scenarios::validate::validate(&raw) {
                Ok(s) => s,
                Err(d) => {
                    eprintln!("{}", ScenarioError::semantic(&file, d));
                    return Ok(ExitCode::from(1));
                }
            };
            print!("{}", catalog::dot(&spec));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn fmt(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// The human summary: one block per point with mean ± 95 % CI over replications, and the
/// analytic value where the topology is a textbook queue.
fn print_summary(plan: &sweep::Plan, results: &[crate::result::RunResult]) {
    const SHOWN: &[&str] = &[
        "throughput_rps",
        "latency_mean_ms",
        "latency_p50_ms",
        "latency_p99_ms",
        "error_rate",
        "max_utilization",
    ];
    println!(
        "scenario {} — {} point(s) × {} replication(s)",
        plan.base.name,
        plan.points.len(),
        plan.replications
    );
    for p in &plan.points {
        let runs: Vec<_> = results
            .iter()
            .filter(|r| r.point == p.index && r.failure.is_none())
            .collect();
        let params: Vec<String> = p.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !params.is_empty() {
            println!("\npoint {}: {}", p.index, params.join(", "));
        }
        let expected = analytic::expected(&p.spec);
        println!(
            "  {:<18} {:>14} {:>12}{}",
            "metric",
            "simulated",
            "±95%",
            if expected.is_some() {
                "     analytic"
            } else {
                ""
            }
        );
        for m in SHOWN {
            let Some(i) = crate::result::RUN_METRICS.iter().position(|x| x == m) else {
                continue;
            };
            let s = summarize(&runs.iter().map(|r| r.metrics[i].1).collect::<Vec<_>>());
            let theory = expected
                .as_ref()
                .and_then(|e| e.get(m))
                .map(|v| format!("  {:>11}", fmt(v)))
                .unwrap_or_default();
            println!(
                "  {:<18} {:>14} {:>12}{}",
                m,
                fmt(s.mean),
                fmt(s.ci95_half_width),
                theory
            );
        }
        if let Some(e) = &expected {
            println!("  (analytic: {})", e.model);
        }
        let failed = results
            .iter()
            .filter(|r| r.point == p.index && r.failure.is_some())
            .count();
        if failed > 0 {
            println!("  {failed} run(s) failed");
        }
    }
}
