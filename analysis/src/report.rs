//! CSV reports and the manifest, written atomically (temp file + rename).
//!
//! Column names carry units (`latency_p99_ms`, `throughput_rps`). Numbers print in Rust's
//! shortest round-trip form; a value that does not exist (a percentile of nothing, a
//! utilization of a client) is an empty cell, which spreadsheets treat as blank. Rows are in
//! (point, replication) order. See `docs/reports.md` for every column.

use std::path::Path;

use anyhow::{Context, Result};
use clustersim_scenarios::load;
use clustersim_scenarios::raw::Scenario;
use serde::Serialize;

use crate::atomic::write_atomic;
use crate::result::{COMPONENT_METRICS, RUN_METRICS, RunResult};
use crate::stats::summarize;
use crate::sweep::Plan;

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        String::new()
    }
}

fn csv_bytes(header: Vec<String>, rows: impl Iterator<Item = Vec<String>>) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header)?;
    for r in rows {
        w.write_record(&r)?;
    }
    w.into_inner().context("finishing CSV")
}

fn params<'a>(plan: &'a Plan, point: usize) -> impl Iterator<Item = String> + 'a {
    plan.param_paths.iter().map(move |path| {
        plan.points[point]
            .params
            .iter()
            .find(|(k, _)| k == path)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    })
}

/// The leading columns of every per-run report — `scenario, point, replication, seed`, then
/// the swept parameters — followed by `tail`.
fn run_header(plan: &Plan, tail: &[&str]) -> Vec<String> {
    let mut header: Vec<String> = ["scenario", "point", "replication", "seed"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    header.extend(plan.param_paths.iter().cloned());
    header.extend(tail.iter().map(|s| (*s).to_owned()));
    header
}

/// The leading cells of run `r`'s rows, matching [`run_header`].
fn run_cells(plan: &Plan, r: &RunResult) -> Vec<String> {
    let mut row = vec![
        plan.base.name.clone(),
        r.point.to_string(),
        r.replication.to_string(),
        r.seed.to_string(),
    ];
    row.extend(params(plan, r.point));
    row
}

fn status(r: &RunResult) -> (String, String) {
    match &r.failure {
        None => ("ok".into(), String::new()),
        Some(f) => ("failed".into(), f.clone()),
    }
}

/// `summary.csv`: one row per run.
pub fn summary_csv(plan: &Plan, results: &[RunResult]) -> Result<Vec<u8>> {
    let mut header = run_header(plan, &["status", "stop_reason", "failure"]);
    header.extend(RUN_METRICS.iter().map(|s| (*s).to_owned()));
    header.push("digest".into());
    header.push("warmup_s".into());
    let rows = results.iter().map(|r| {
        let mut row = run_cells(plan, r);
        let (s, f) = status(r);
        row.extend([s, r.stop_reason.clone(), f]);
        row.extend(r.metrics.iter().map(|(_, v)| num(*v)));
        row.push(r.digest.clone());
        row.push(num(r.warmup_s));
        row
    });
    csv_bytes(header, rows)
}

/// `points.csv`: one row per point, mean / standard deviation / 95 % CI half-width of each
/// run metric over the point's successful replications.
pub fn points_csv(plan: &Plan, results: &[RunResult]) -> Result<Vec<u8>> {
    let mut header: Vec<String> = vec!["scenario".into(), "point".into()];
    header.extend(plan.param_paths.iter().cloned());
    header.extend(["runs".to_owned(), "failed_runs".to_owned()]);
    for m in RUN_METRICS {
        header.extend([format!("{m}_mean"), format!("{m}_sd"), format!("{m}_ci95")]);
    }
    let rows = plan.points.iter().map(|p| {
        let runs: Vec<&RunResult> = results.iter().filter(|r| r.point == p.index).collect();
        let ok: Vec<&&RunResult> = runs.iter().filter(|r| r.failure.is_none()).collect();
        let mut row = vec![plan.base.name.clone(), p.index.to_string()];
        row.extend(params(plan, p.index));
        row.extend([runs.len().to_string(), (runs.len() - ok.len()).to_string()]);
        // A single replication has no between-run variance: the CI of the mean latency and
        // throughput then comes from batch means over its windows after the warm-up.
        let single = match (runs.len(), ok.as_slice()) {
            (1, [r]) => Some(crate::warmup::window_series(r)),
            _ => None,
        };
        for (i, m) in RUN_METRICS.iter().enumerate() {
            let values: Vec<f64> = ok.iter().map(|r| r.metrics[i].1).collect();
            let s = summarize(&values);
            let batch = |series: &[f64]| {
                crate::warmup::batch_means_ci(series, crate::warmup::DEFAULT_BATCHES)
                    .map_or(f64::NAN, |(_, half)| half)
            };
            let ci = match (&single, *m) {
                (Some(w), "latency_mean_ms") => batch(&w.latency_mean_ms),
                (Some(w), "throughput_rps") => batch(&w.throughput_rps),
                _ => s.ci95_half_width,
            };
            row.extend([num(s.mean), num(s.std_dev), num(ci)]);
        }
        row
    });
    csv_bytes(header, rows)
}

/// `components.csv`: per run and component totals.
pub fn components_csv(plan: &Plan, results: &[RunResult]) -> Result<Vec<u8>> {
    let mut header = run_header(plan, &["component", "kind", "node"]);
    header.extend(COMPONENT_METRICS.iter().map(|s| (*s).to_owned()));
    let rows = results.iter().flat_map(|r| {
        r.components.iter().map(move |c| {
            let mut row = run_cells(plan, r);
            row.extend([c.component.clone(), c.kind.clone(), c.node.clone()]);
            row.extend(c.values.iter().map(|(_, v)| num(*v)));
            row
        })
    });
    csv_bytes(header, rows)
}

/// `metrics.csv`: tidy rows (run × component × series total), every series any component
/// recorded, with the `@` label of labelled series split into its own column.
pub fn metrics_csv(plan: &Plan, results: &[RunResult]) -> Result<Vec<u8>> {
    let header = run_header(plan, &["component", "metric", "label", "value"]);
    let rows = results.iter().flat_map(|r| {
        r.series.iter().map(move |t| {
            let mut row = run_cells(plan, r);
            row.extend([
                t.component.clone(),
                t.metric.clone(),
                t.label.clone(),
                num(t.value),
            ]);
            row
        })
    });
    csv_bytes(header, rows)
}

/// `latency_cdf.csv`: the end-to-end latency distribution of every run, one row per run ×
/// quantile of [`crate::result::CDF_QUANTILES`] (runs without completed requests have none).
pub fn latency_cdf_csv(plan: &Plan, results: &[RunResult]) -> Result<Vec<u8>> {
    let header = run_header(plan, &["quantile", "latency_ms"]);
    let rows = results.iter().flat_map(|r| {
        crate::result::CDF_QUANTILES
            .iter()
            .zip(&r.latency_cdf_ms)
            .map(move |(q, ms)| {
                let mut row = run_cells(plan, r);
                row.extend([num(*q), num(*ms)]);
                row
            })
    });
    csv_bytes(header, rows)
}

/// `timeseries.csv`: tidy rows (run × window × component × metric).
pub fn timeseries_csv(plan: &Plan, results: &[RunResult]) -> Result<Vec<u8>> {
    let header = run_header(
        plan,
        &[
            "window_start_s",
            "window_end_s",
            "in_warmup",
            "component",
            "metric",
            "value",
        ],
    );
    let rows = results.iter().flat_map(|r| {
        r.timeseries.iter().map(move |t| {
            let mut row = run_cells(plan, r);
            row.extend([
                num(t.start_s),
                num(t.end_s),
                t.in_warmup.to_string(),
                t.component.clone(),
                t.metric.clone(),
                num(t.value),
            ]);
            row
        })
    });
    csv_bytes(header, rows)
}

/// What `manifest.ron` records: enough to reproduce every row.
#[derive(Serialize)]
struct Manifest<'a> {
    clustersim_version: &'a str,
    scenario_file: String,
    command: String,
    master_seed: u64,
    replications: u32,
    replication_seeds: Vec<u64>,
    points: Vec<(usize, Vec<(String, String)>)>,
    runs: usize,
    failed_runs: usize,
    resolved: &'a Scenario,
}

/// The t-visibility counters of replicated stores (`clustersim_models::store`), labelled
/// `dt_ms=B` per Δt bucket.
const VIS_READS: &str = "visibility_reads";
/// The reads among them that saw the last acknowledged write.
const VIS_FRESH: &str = "visibility_fresh";

/// `visibility.csv`: the PBS t-visibility curve of every store front, one row per run ×
/// component × Δt bucket — reads that started `dt_ms` (the bucket's lower edge) or more after
/// the key's last acknowledged write, how many of them saw it, and the fraction
/// `p_visible`. Built from the measured-period totals (metrics.csv) of the labelled
/// `visibility_reads@dt_ms=B` and `visibility_fresh@dt_ms=B` counters, so it needs no report
/// interval. `None` when no run has such series.
pub fn visibility_csv(plan: &Plan, results: &[RunResult]) -> Result<Option<Vec<u8>>> {
    use std::collections::BTreeMap;
    // (result index, component, bucket ms) -> (reads, fresh), from the measured-period totals
    // of the labelled counters `visibility_reads@dt_ms=B` / `visibility_fresh@dt_ms=B`.
    let mut acc: BTreeMap<(usize, &str, u64), (f64, f64)> = BTreeMap::new();
    for (i, r) in results.iter().enumerate() {
        for t in &r.series {
            let fresh = match t.metric.as_str() {
                VIS_READS => false,
                VIS_FRESH => true,
                _ => continue,
            };
            let Some(Ok(dt)) = t.label.strip_prefix("dt_ms=").map(str::parse::<u64>) else {
                continue;
            };
            let e = acc.entry((i, t.component.as_str(), dt)).or_default();
            if fresh {
                e.1 += t.value;
            } else {
                e.0 += t.value;
            }
        }
    }
    if acc.is_empty() {
        return Ok(None);
    }
    let header = run_header(plan, &["component", "dt_ms", "reads", "fresh", "p_visible"]);
    let rows = acc.into_iter().map(|((i, component, dt), (reads, fresh))| {
        let mut row = run_cells(plan, &results[i]);
        row.extend([
            component.to_owned(),
            dt.to_string(),
            num(reads),
            num(fresh),
            num(if reads > 0.0 { fresh / reads } else { f64::NAN }),
        ]);
        row
    });
    csv_bytes(header, rows).map(Some)
}

/// Writes every report into `out_dir`, atomically, file by file.
pub fn write_all(
    out_dir: &Path,
    plan: &Plan,
    results: &[RunResult],
    scenario_file: &Path,
    command: &str,
) -> Result<()> {
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let write = |name: &str, bytes: Vec<u8>| -> Result<()> {
        let p = out_dir.join(name);
        write_atomic(&p, &bytes).with_context(|| format!("writing {}", p.display()))
    };
    write("summary.csv", summary_csv(plan, results)?)?;
    write("points.csv", points_csv(plan, results)?)?;
    write("components.csv", components_csv(plan, results)?)?;
    write("timeseries.csv", timeseries_csv(plan, results)?)?;
    write("metrics.csv", metrics_csv(plan, results)?)?;
    write("latency_cdf.csv", latency_cdf_csv(plan, results)?)?;
    if let Some(bytes) = visibility_csv(plan, results)? {
        write("visibility.csv", bytes)?;
    }
    let manifest = Manifest {
        clustersim_version: env!("CARGO_PKG_VERSION"),
        scenario_file: scenario_file.display().to_string(),
        command: command.to_owned(),
        master_seed: plan.master_seed,
        replications: plan.replications,
        replication_seeds: (0..plan.replications)
            .map(|r| crate::design::derive_seed(plan.master_seed, u64::from(r)))
            .collect(),
        points: plan
            .points
            .iter()
            .map(|p| (p.index, p.params.clone()))
            .collect(),
        runs: results.len(),
        failed_runs: results.iter().filter(|r| r.failure.is_some()).count(),
        resolved: &plan.base,
    };
    write("manifest.ron", load::to_pretty_ron(&manifest).into_bytes())?;
    Ok(())
}
