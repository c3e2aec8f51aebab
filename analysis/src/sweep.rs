//! Sweeps: enumerate points × replications, validate every point before anything runs, run
//! them in parallel with rayon, journal each finished run, resume after an interruption.
//!
//! **Determinism.** Each run is single-threaded and depends only on its spec and seed. Results
//! are sorted by (point, replication) before any report is written, so reports are
//! byte-identical whatever the thread count or completion order.
//!
//! **Seeds.** Replication `r` runs with `derive_seed(master, r)` at every point: common random
//! numbers, so differences between points are not noise from different workload draws.
//! Replication 0 uses the master seed itself, so `run --seed N` reproduces any row.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};
use clustersim_engine::{Limits, SimTime};
use clustersim_scenarios::overrides::{Override, apply_overrides};
use clustersim_scenarios::raw::{Scenario, SweepValue};
use clustersim_scenarios::{Diagnostic, ScenarioError, Spec, build, load, validate};

use crate::design::{self, Design, Lhs, Value};
use crate::result::{self, RunResult};

/// One validated sweep point.
#[derive(Clone, Debug)]
pub struct PlannedPoint {
    /// Index in enumeration order.
    pub index: usize,
    /// `(path, value)` for each swept parameter, as written.
    pub params: Vec<(String, String)>,
    /// The validated scenario at this point.
    pub spec: Spec,
    /// Plugin kind of each component.
    pub kinds: Vec<String>,
}

/// Everything a sweep will run, validated up front.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The scenario after command-line overrides (before point overrides).
    pub base: Scenario,
    /// Swept parameter paths (report columns), in order.
    pub param_paths: Vec<String>,
    /// Points.
    pub points: Vec<PlannedPoint>,
    /// Replications per point.
    pub replications: u32,
    /// Master seed.
    pub master_seed: u64,
}

impl Plan {
    /// Every `(point, replication, seed)` in report order.
    pub fn runs(&self) -> Vec<(usize, u32, u64)> {
        let mut v = Vec::with_capacity(self.points.len() * self.replications as usize);
        for p in &self.points {
            for r in 0..self.replications {
                v.push((
                    p.index,
                    r,
                    design::derive_seed(self.master_seed, u64::from(r)),
                ));
            }
        }
        v
    }

    /// A stable fingerprint of what this plan computes, to refuse resuming a different sweep.
    pub fn fingerprint(&self) -> String {
        let text = format!(
            "{}|{}|{}",
            load::to_pretty_ron(&self.base),
            self.replications,
            self.master_seed
        );
        format!("{:016x}", clustersim_engine::rng::fnv1a(&text))
    }
}

fn value(v: &SweepValue) -> Value {
    match v {
        SweepValue::Int(i) => Value::Int(*i),
        SweepValue::Float(f) => Value::Float(*f),
        SweepValue::Text(t) => Value::Text(t.clone()),
    }
}

fn ron_text(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Text(t) => t.clone(),
    }
}

/// Validates every sweep point of `base` (after command-line overrides). Any invalid point
/// stops everything before a single run starts.
pub fn plan(
    base: Scenario,
    file: &Path,
    replications: Option<u32>,
    seed: Option<u64>,
) -> Result<Plan, ScenarioError> {
    let sweep = &base.sweep;
    let design = Design {
        grid: sweep
            .grid
            .iter()
            .map(|a| (a.path.clone(), a.values.iter().map(value).collect()))
            .collect(),
        zipped: sweep
            .zip
            .iter()
            .map(|g| {
                g.iter()
                    .map(|a| (a.path.clone(), a.values.iter().map(value).collect()))
                    .collect()
            })
            .collect(),
        latin_hypercube: sweep.latin_hypercube.as_ref().map(|l| Lhs {
            samples: l.samples as usize,
            seed: l.seed,
            ranges: l
                .ranges
                .iter()
                .map(|r| (r.path.clone(), r.min, r.max, r.integer))
                .collect(),
        }),
    };
    let sem = |d: Diagnostic| ScenarioError::semantic(file, vec![d]);
    let points =
        design::enumerate(&design).map_err(|e| sem(Diagnostic::new("sweep", e.to_string())))?;
    let replications = replications.unwrap_or(sweep.replications);
    if replications == 0 {
        return Err(sem(Diagnostic::new(
            "--replications",
            "replications must be at least 1",
        )));
    }
    design::total_runs(points.len(), replications as usize)
        .map_err(|e| sem(Diagnostic::new("sweep", e.to_string())))?;
    let param_paths: Vec<String> = points
        .first()
        .map(|p| p.assignments.iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    let mut base = base;
    if let Some(s) = seed {
        base.seed = s;
    }
    let mut planned = Vec::with_capacity(points.len());
    let mut diags = Vec::new();
    for p in points {
        let overrides: Vec<Override> = p
            .assignments
            .iter()
            .map(|(path, v)| Override {
                path: path.clone(),
                value: ron_text(v),
            })
            .collect();
        let raw = match apply_overrides(&base, &overrides) {
            Ok(r) => r,
            Err(e) => {
                diags.push(Diagnostic::new(
                    format!("sweep (point {})", p.index),
                    e.to_string(),
                ));
                continue;
            }
        };
        match validate::validate(&raw) {
            Ok(spec) => {
                let kinds = spec
                    .components
                    .iter()
                    .map(|c| c.config.kind_name().to_owned())
                    .collect();
                planned.push(PlannedPoint {
                    index: p.index,
                    params: p
                        .assignments
                        .iter()
                        .map(|(k, v)| (k.clone(), v.to_string()))
                        .collect(),
                    spec,
                    kinds,
                });
            }
            Err(ds) => {
                let at: Vec<String> = p
                    .assignments
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                for d in ds {
                    let hint = format!("at sweep point {} ({})", p.index, at.join(", "));
                    diags.push(Diagnostic {
                        hint: Some(d.hint.map(|h| format!("{h}; {hint}")).unwrap_or(hint)),
                        ..d
                    });
                }
            }
        }
    }
    if !diags.is_empty() {
        return Err(ScenarioError::semantic(file, diags));
    }
    Ok(Plan {
        master_seed: base.seed,
        base,
        param_paths,
        points: planned,
        replications,
    })
}

/// Runs one point with one seed. A panic inside a model becomes a failed row, so one broken
/// run never takes the sweep down.
pub fn run_one(point: &PlannedPoint, replication: u32, seed: u64) -> RunResult {
    let spec = &point.spec;
    let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let once = |spec: &Spec| {
            let sim = build::build(spec, seed).map_err(|e| e.to_string())?;
            let report =
                sim.run_to_report(Limits::new(SimTime::ZERO + spec.duration, spec.max_events));
            Ok::<_, String>(result::from_report(
                &report,
                point.index,
                replication,
                seed,
                &point.kinds,
                spec.max_events,
            ))
        };
        let first = once(spec)?;
        // `warmup: Auto`: the first run had no warm-up; repeat it (same seed, same events)
        // with the warm-up MSER-5 picks from its windows. A zero pick needs no second run.
        match crate::warmup::auto_warmup(spec, &first) {
            Some(w) if !w.is_zero() => {
                let mut fixed = spec.clone();
                fixed.warmup = w;
                fixed.warmup_auto = false;
                once(&fixed)
            }
            _ => Ok(first),
        }
    }));
    let failure = match attempt {
        Ok(Ok(r)) => return r,
        Ok(Err(e)) => format!("could not build: {e}"),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "unknown panic".into());
            format!("internal error (please report): {msg}")
        }
    };
    RunResult {
        point: point.index,
        replication,
        seed,
        failure: Some(failure),
        stop_reason: "NotRun".into(),
        digest: String::new(),
        events: 0,
        metrics: result::RUN_METRICS
            .iter()
            .map(|m| ((*m).to_owned(), f64::NAN))
            .collect(),
        components: Vec::new(),
        timeseries: Vec::new(),
        warmup_s: if spec.warmup_auto {
            f64::NAN
        } else {
            spec.warmup.as_secs_f64()
        },
        series: Vec::new(),
        latency_cdf_ms: Vec::new(),
    }
}

/// How to execute a plan.
#[derive(Clone, Debug)]
pub struct ExecOptions {
    /// Worker threads (`None`: rayon's default, one per core).
    pub threads: Option<usize>,
    /// Output folder (holds the journal).
    pub out_dir: PathBuf,
    /// Keep finished runs from a previous, interrupted invocation.
    pub resume: bool,
    /// Show a progress bar (only drawn on a terminal).
    pub progress: bool,
}

/// Results of executing a plan.
#[derive(Debug)]
pub struct Executed {
    /// Every finished run, sorted by (point, replication).
    pub results: Vec<RunResult>,
    /// Runs skipped because they were already in the journal.
    pub resumed: usize,
    /// Whether the sweep was interrupted before every run finished.
    pub interrupted: bool,
}

/// Name of the journal file inside the output folder.
pub const JOURNAL: &str = "journal.ronl";

/// Runs every run of `plan` not already journaled, in parallel; stops starting new runs once
/// `stop` is set (Ctrl-C), keeping everything finished.
pub fn execute(plan: &Plan, opts: &ExecOptions, stop: &AtomicBool) -> Result<Executed> {
    std::fs::create_dir_all(&opts.out_dir)
        .with_context(|| format!("creating {}", opts.out_dir.display()))?;
    let header = format!("# clustersim journal v1 fingerprint={}", plan.fingerprint());
    // A whole sweep is the one-slice case of a sharded sweep: same journal, resume and
    // parallel loop.
    crate::shard::execute_runs(plan, &plan.runs(), &header, opts, stop)
}

/// A rough, static estimate of a run's work: simulated seconds × the requests per second its
/// clients offer (open loop: the rate; closed loop: users per second of think time, at least
/// the user count). Used only to order runs, never to change one.
pub(crate) fn estimated_cost(spec: &Spec) -> f64 {
    use clustersim_models::registry::ComponentConfig;
    let secs = spec.duration.as_secs_f64();
    let offered: f64 = spec
        .components
        .iter()
        .map(|c| match &c.config {
            ComponentConfig::OpenLoopClient(o) => o.rate_per_s,
            ComponentConfig::ClosedLoopClient(o) => {
                let think_s = o.think_time.mean().unwrap_or(0.0) / 1e9;
                f64::from(o.users) / think_s.max(1e-3)
            }
            _ => 0.0,
        })
        .sum();
    secs * offered.max(1.0)
}
