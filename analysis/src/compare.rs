//! `clustersim compare A B`: paired comparison of two output folders.
//!
//! Runs are paired by (sweep point, replication). Replication `r` uses the same seed in both
//! folders when both were run with the same master seed (common random numbers), so the
//! paired difference `B − A` has far less noise than the difference of two independent means.
//! For each point and run metric the report gives the mean in A and in B, the mean paired
//! difference with a 95 % Student t interval (`t(0.975, n−1) · sd / √n` over the `n` pairs),
//! the relative change `(B − A) / A`, and a verdict that knows which direction is better.
//!
//! Anything that makes the pairing doubtful — runs present in one folder only, a point whose
//! parameters differ, different seeds, failed runs — is listed in [`Comparison::notes`] and
//! printed; a comparison with no pair at all is an error.
//!
//! The module also holds `run --check-determinism` ([`check_determinism`]): every run is
//! executed twice and the two executions compared.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use clustersim_engine::{Limits, SimTime};
use clustersim_scenarios::build;
use rayon::prelude::*;

use crate::atomic::write_atomic;
use crate::result::RUN_METRICS;
use crate::stats::summarize;
use crate::sweep::{Plan, PlannedPoint, run_one};

/// Which direction of a metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    /// Smaller values are better (latency, errors, drops).
    Lower,
    /// Larger values are better (throughput, successful requests).
    Higher,
    /// Neither (load offered, events, utilization).
    Neutral,
}

/// The better direction of a run metric of `summary.csv`.
#[must_use]
pub fn better(metric: &str) -> Better {
    match metric {
        "throughput_rps" | "ok" => Better::Higher,
        m if m.starts_with("latency_")
            || m.starts_with("drops_")
            || matches!(
                m,
                "error_rate" | "failed" | "timeouts" | "retries" | "rejected"
            ) =>
        {
            Better::Lower
        }
        _ => Better::Neutral,
    }
}

/// One row of a `summary.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    /// Sweep point.
    pub point: usize,
    /// Replication.
    pub replication: u32,
    /// Seed.
    pub seed: String,
    /// Swept parameter values, in the order of [`SummaryTable::params`].
    pub params: Vec<String>,
    /// Whether the run succeeded.
    pub ok: bool,
    /// Metric values in the order of [`SummaryTable::metrics`] (NaN for empty cells).
    pub values: Vec<f64>,
}

/// A parsed `summary.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryTable {
    /// Scenario name (from the first row).
    pub scenario: String,
    /// Swept parameter column names.
    pub params: Vec<String>,
    /// Metric columns present (those of [`RUN_METRICS`] found in the header, in that order).
    pub metrics: Vec<String>,
    /// Rows, in file order.
    pub rows: Vec<SummaryRow>,
}

/// Reads `DIR/summary.csv`.
///
/// # Errors
/// A missing or unreadable file, or a header without the required columns.
pub fn read_summary(dir: &Path) -> Result<SummaryTable> {
    let path = dir.join("summary.csv");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (is {} a clustersim output folder?)",
            path.display(),
            dir.display()
        )
    })?;
    parse_summary(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Parses the text of a `summary.csv`.
///
/// # Errors
/// A malformed CSV or a header without `point`, `replication`, `seed` and `status`.
pub fn parse_summary(text: &str) -> Result<SummaryTable> {
    let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header: Vec<String> = rdr.headers()?.iter().map(str::to_owned).collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("no `{name}` column"))
    };
    let (c_point, c_rep, c_seed, c_status) = (
        col("point")?,
        col("replication")?,
        col("seed")?,
        col("status")?,
    );
    let param_cols: Vec<usize> = (c_seed + 1..c_status).collect();
    let metric_cols: Vec<(String, usize)> = RUN_METRICS
        .iter()
        .filter_map(|m| {
            header
                .iter()
                .position(|h| h == m)
                .map(|i| ((*m).to_owned(), i))
        })
        .collect();
    let mut table = SummaryTable {
        scenario: String::new(),
        params: param_cols.iter().map(|&i| header[i].clone()).collect(),
        metrics: metric_cols.iter().map(|(m, _)| m.clone()).collect(),
        rows: Vec::new(),
    };
    for (n, rec) in rdr.records().enumerate() {
        let rec = rec?;
        let get = |i: usize| rec.get(i).unwrap_or("");
        if table.scenario.is_empty() {
            table.scenario = get(0).to_owned();
        }
        let line = n + 2;
        table.rows.push(SummaryRow {
            point: get(c_point)
                .parse()
                .with_context(|| format!("line {line}: bad point `{}`", get(c_point)))?,
            replication: get(c_rep)
                .parse()
                .with_context(|| format!("line {line}: bad replication `{}`", get(c_rep)))?,
            seed: get(c_seed).to_owned(),
            params: param_cols.iter().map(|&i| get(i).to_owned()).collect(),
            ok: get(c_status) == "ok",
            values: metric_cols
                .iter()
                .map(|(_, i)| get(*i).parse::<f64>().unwrap_or(f64::NAN))
                .collect(),
        });
    }
    Ok(table)
}

/// One line of the comparison: one point × one metric.
#[derive(Clone, Debug, PartialEq)]
pub struct CompareRow {
    /// Sweep point.
    pub point: usize,
    /// The point's parameters, `path=value` joined with `; ` (from A).
    pub params: String,
    /// Metric name.
    pub metric: String,
    /// Pairs with a value on both sides.
    pub pairs: usize,
    /// Mean over A's paired runs.
    pub mean_a: f64,
    /// Mean over B's paired runs.
    pub mean_b: f64,
    /// Mean paired difference `B − A`.
    pub diff: f64,
    /// 95 % CI half-width of the paired difference (NaN with fewer than 2 pairs).
    pub diff_ci95: f64,
    /// `(B − A) / |A|` (NaN when A's mean is 0).
    pub rel_change: f64,
    /// `A better`, `B better`, `A higher`, `B higher` (metrics without a better direction),
    /// `no significant difference` or `too few pairs`.
    pub verdict: &'static str,
}

/// The result of [`compare`].
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// Rows, by point then metric order.
    pub rows: Vec<CompareRow>,
    /// Everything doubtful about the pairing, one sentence each.
    pub notes: Vec<String>,
}

/// The verdict for a paired difference `B − A` of `metric`.
#[must_use]
pub fn verdict(metric: &str, pairs: usize, diff: f64, half: f64) -> &'static str {
    if pairs == 0 {
        return "too few pairs";
    }
    let significant = if diff == 0.0 {
        false
    } else if half.is_finite() {
        diff.abs() > half
    } else {
        return "too few pairs";
    };
    if !significant {
        return "no significant difference";
    }
    match (better(metric), diff > 0.0) {
        (Better::Lower, true) | (Better::Higher, false) => "A better",
        (Better::Lower, false) | (Better::Higher, true) => "B better",
        (Better::Neutral, true) => "B higher",
        (Better::Neutral, false) => "A higher",
    }
}

/// Pairs the runs of `a` and `b` and compares every common metric.
///
/// # Errors
/// No run of A has a successful partner in B.
pub fn compare(a: &SummaryTable, b: &SummaryTable) -> Result<Comparison> {
    let mut notes = Vec::new();
    if a.scenario != b.scenario {
        notes.push(format!(
            "different scenarios: A is `{}`, B is `{}`",
            a.scenario, b.scenario
        ));
    }
    if a.params != b.params {
        notes.push(format!(
            "different swept parameters: A [{}], B [{}]; runs are paired by point number",
            a.params.join(", "),
            b.params.join(", ")
        ));
    }
    let metrics: Vec<&String> = a.metrics.iter().filter(|m| b.metrics.contains(m)).collect();
    for m in a.metrics.iter().chain(&b.metrics) {
        if !metrics.contains(&m) {
            notes.push(format!("metric `{m}` is not in both folders; skipped"));
        }
    }
    fn find(t: &SummaryTable, p: usize, r: u32) -> Option<&SummaryRow> {
        t.rows.iter().find(|x| x.point == p && x.replication == r)
    }
    let mut pairs: Vec<(&SummaryRow, &SummaryRow)> = Vec::new();
    let (mut seed_diff, mut failed) = (0usize, 0usize);
    let mut param_diff: Vec<usize> = Vec::new();
    for ra in &a.rows {
        let Some(rb) = find(b, ra.point, ra.replication) else {
            notes.push(format!(
                "point {} replication {} is only in A",
                ra.point, ra.replication
            ));
            continue;
        };
        if ra.params != rb.params && a.params == b.params && !param_diff.contains(&ra.point) {
            param_diff.push(ra.point);
            notes.push(format!(
                "point {} has different parameters: A ({}) vs B ({})",
                ra.point,
                ra.params.join(", "),
                rb.params.join(", ")
            ));
        }
        if ra.seed != rb.seed {
            seed_diff += 1;
        }
        if !(ra.ok && rb.ok) {
            failed += 1;
            continue;
        }
        pairs.push((ra, rb));
    }
    for rb in &b.rows {
        if find(a, rb.point, rb.replication).is_none() {
            notes.push(format!(
                "point {} replication {} is only in B",
                rb.point, rb.replication
            ));
        }
    }
    if seed_diff > 0 {
        notes.push(format!(
            "{seed_diff} pair(s) ran with different seeds: no common random numbers, the paired CI is conservative only if runs are independent"
        ));
    }
    if failed > 0 {
        notes.push(format!(
            "{failed} pair(s) left out because a run failed on one side"
        ));
    }
    if pairs.is_empty() {
        let mut msg = String::from("no pair of successful runs to compare");
        for n in &notes {
            let _ = write!(msg, "\n  - {n}");
        }
        bail!(msg);
    }
    let mut points: Vec<usize> = pairs.iter().map(|(x, _)| x.point).collect();
    points.dedup();
    let mut rows = Vec::new();
    for p in points {
        let at: Vec<&(&SummaryRow, &SummaryRow)> =
            pairs.iter().filter(|(x, _)| x.point == p).collect();
        let params = a
            .params
            .iter()
            .zip(&at[0].0.params)
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        for m in &metrics {
            let ia = a.metrics.iter().position(|x| x == *m).unwrap_or(0);
            let ib = b.metrics.iter().position(|x| x == *m).unwrap_or(0);
            let (mut va, mut vb, mut d) = (Vec::new(), Vec::new(), Vec::new());
            for (x, y) in &at {
                let (u, v) = (x.values[ia], y.values[ib]);
                if u.is_finite() && v.is_finite() {
                    va.push(u);
                    vb.push(v);
                    d.push(v - u);
                }
            }
            let (sa, sb, sd) = (summarize(&va), summarize(&vb), summarize(&d));
            let (diff, half) = if d.is_empty() {
                (f64::NAN, f64::NAN)
            } else if d.iter().all(|x| *x == 0.0) {
                (0.0, 0.0)
            } else {
                (sd.mean, sd.ci95_half_width)
            };
            rows.push(CompareRow {
                point: p,
                params: params.clone(),
                metric: (*m).clone(),
                pairs: d.len(),
                mean_a: sa.mean,
                mean_b: sb.mean,
                diff,
                diff_ci95: half,
                rel_change: if sa.mean != 0.0 {
                    diff / sa.mean.abs()
                } else {
                    f64::NAN
                },
                verdict: verdict(m, d.len(), diff, half),
            });
        }
    }
    Ok(Comparison { rows, notes })
}

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        String::new()
    }
}

fn short(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

impl Comparison {
    /// `compare.csv` bytes: `point, params, metric, pairs, mean_a, mean_b, diff_b_minus_a,
    /// diff_ci95, rel_change, verdict`.
    ///
    /// # Errors
    /// Only if CSV serialization fails (it does not for in-memory output).
    pub fn to_csv(&self) -> Result<Vec<u8>> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "point",
            "params",
            "metric",
            "pairs",
            "mean_a",
            "mean_b",
            "diff_b_minus_a",
            "diff_ci95",
            "rel_change",
            "verdict",
        ])?;
        for r in &self.rows {
            w.write_record([
                r.point.to_string(),
                r.params.clone(),
                r.metric.clone(),
                r.pairs.to_string(),
                num(r.mean_a),
                num(r.mean_b),
                num(r.diff),
                num(r.diff_ci95),
                num(r.rel_change),
                r.verdict.to_owned(),
            ])?;
        }
        w.into_inner().context("finishing CSV")
    }

    /// A human table, one block per point.
    #[must_use]
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        let mut last = usize::MAX;
        for r in &self.rows {
            if r.point != last {
                last = r.point;
                let _ = writeln!(
                    s,
                    "\npoint {}{}",
                    r.point,
                    if r.params.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", r.params)
                    }
                );
                let _ = writeln!(
                    s,
                    "  {:<18} {:>12} {:>12} {:>12} {:>10} {:>9}  verdict",
                    "metric", "A", "B", "B − A", "±95%", "change"
                );
            }
            let rel = if r.rel_change.is_finite() {
                format!("{:+.1}%", r.rel_change * 100.0)
            } else {
                "-".into()
            };
            let _ = writeln!(
                s,
                "  {:<18} {:>12} {:>12} {:>12} {:>10} {:>9}  {}",
                r.metric,
                short(r.mean_a),
                short(r.mean_b),
                short(r.diff),
                short(r.diff_ci95),
                rel,
                r.verdict
            );
        }
        s
    }
}

/// Reads both folders, compares them and writes `out/compare.csv` atomically.
///
/// # Errors
/// Unreadable inputs, no pair to compare, or the output cannot be written.
pub fn run(a: &Path, b: &Path, out: &Path) -> Result<Comparison> {
    let (ta, tb) = (read_summary(a)?, read_summary(b)?);
    let c = compare(&ta, &tb)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let p = out.join("compare.csv");
    write_atomic(&p, &c.to_csv()?).with_context(|| format!("writing {}", p.display()))?;
    Ok(c)
}

/// `clustersim compare A B [--out DIR]`: prints the notes (stderr) and the table (stdout) and
/// writes `compare.csv`.
///
/// # Errors
/// As [`run`].
pub fn cli(a: &Path, b: &Path, out: Option<&Path>) -> Result<ExitCode> {
    let out = out.unwrap_or(Path::new("."));
    let c = run(a, b, out)?;
    for n in &c.notes {
        eprintln!("note: {n}");
    }
    println!(
        "A = {}, B = {}; difference is B − A, 95 % CI over paired replications",
        a.display(),
        b.display()
    );
    print!("{}", c.to_table());
    eprintln!("wrote {}", out.join("compare.csv").display());
    Ok(ExitCode::SUCCESS)
}

/// A run whose two executions differed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Sweep point.
    pub point: usize,
    /// Replication.
    pub replication: u32,
    /// Seed.
    pub seed: u64,
    /// Digests of the two executions (hex).
    pub digests: (String, String),
    /// The first event after which the running trace digests differ, when the replay found one.
    pub first_event: Option<DivergentEvent>,
}

/// Where two executions of one run first differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DivergentEvent {
    /// Event number (1-based) after which the trace digests differ.
    pub event: u64,
    /// Simulated time of that event in the first execution, in ns.
    pub at_ns: u64,
    /// That event in each execution: kind and component, e.g. ``deliver to `app` at t=1.5s``.
    pub events: (String, String),
}

/// Steps two fresh simulations of one run in lockstep and returns the first event after which
/// their trace digests differ, with its number, time, kind and component in each execution
/// ([`clustersim_engine::Sim::last_event`]).
#[must_use]
pub fn first_divergence(point: &PlannedPoint, seed: u64) -> Option<DivergentEvent> {
    let spec = &point.spec;
    let (Ok(mut x), Ok(mut y)) = (build::build(spec, seed), build::build(spec, seed)) else {
        return None;
    };
    let end = SimTime::ZERO + spec.duration;
    let mut n = 0u64;
    loop {
        n += 1;
        let (a, b) = (x.run(Limits::new(end, n)), y.run(Limits::new(end, n)));
        if a.digest != b.digest || a.now != b.now || a.events != b.events {
            let describe = |e: Option<clustersim_engine::EventInfo>| match e {
                None => "no event".to_owned(),
                Some(e) => {
                    let who = e
                        .component
                        .and_then(|c| spec.components.get(c.index()))
                        .map(|c| format!(" at `{}`", c.name))
                        .unwrap_or_default();
                    format!("{}{who} at {}", e.kind, e.at)
                }
            };
            return Some(DivergentEvent {
                event: a.events.max(b.events),
                at_ns: a.now.as_nanos(),
                events: (describe(x.last_event()), describe(y.last_event())),
            });
        }
        if a.events < n || n >= spec.max_events {
            return None;
        }
    }
}

/// Runs every run of `plan` twice and returns the runs whose digests or results differ.
#[must_use]
pub fn check_determinism(plan: &Plan, stop: &AtomicBool) -> Vec<Divergence> {
    let runs = plan.runs();
    let found: Vec<Option<Divergence>> = runs
        .par_iter()
        .map(|&(p, r, seed)| {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            let point = &plan.points[p];
            let (a, b) = (run_one(point, r, seed), run_one(point, r, seed));
            let same = a.digest == b.digest && ron::to_string(&a).ok() == ron::to_string(&b).ok();
            (!same).then(|| Divergence {
                point: p,
                replication: r,
                seed,
                digests: (a.digest.clone(), b.digest.clone()),
                first_event: first_divergence(point, seed),
            })
        })
        .collect();
    found.into_iter().flatten().collect()
}

/// `clustersim run FILE --check-determinism`: exit 0 when every run is reproducible.
///
/// # Errors
/// Worker threads could not be started.
pub fn check_determinism_cli(
    plan: &Plan,
    threads: Option<usize>,
    stop: &AtomicBool,
) -> Result<ExitCode> {
    let total = plan.runs().len();
    let bad = match threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .context("starting worker threads")?
            .install(|| check_determinism(plan, stop)),
        None => check_determinism(plan, stop),
    };
    if bad.is_empty() {
        println!("deterministic: {total} run(s) executed twice with identical digests and results");
        return Ok(ExitCode::SUCCESS);
    }
    for d in &bad {
        print!(
            "NOT deterministic: point {} replication {} seed {}: digests {} vs {}",
            d.point, d.replication, d.seed, d.digests.0, d.digests.1
        );
        match &d.first_event {
            Some(e) => println!(
                "; first diverging event #{}: {} vs {}",
                e.event, e.events.0, e.events.1
            ),
            None => println!("; traces agree event by event (results differ after the run)"),
        }
    }
    Ok(ExitCode::from(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[(usize, u32, f64)]) -> SummaryTable {
        let mut t = String::from("scenario,point,replication,seed,status,latency_mean_ms,ok\n");
        for (p, r, v) in rows {
            t.push_str(&format!("s,{p},{r},{r},ok,{v},100\n"));
        }
        parse_summary(&t).unwrap()
    }

    #[test]
    fn directions() {
        assert_eq!(better("latency_p99_ms"), Better::Lower);
        assert_eq!(better("drops_loss"), Better::Lower);
        assert_eq!(better("throughput_rps"), Better::Higher);
        assert_eq!(better("events"), Better::Neutral);
        assert_eq!(verdict("latency_mean_ms", 5, 2.0, 1.0), "A better");
        assert_eq!(verdict("throughput_rps", 5, 2.0, 1.0), "B better");
        assert_eq!(verdict("events", 5, -2.0, 1.0), "A higher");
        assert_eq!(verdict("ok", 5, 0.5, 1.0), "no significant difference");
        assert_eq!(verdict("ok", 1, 0.5, f64::NAN), "too few pairs");
    }

    #[test]
    fn paired_difference_and_ci() {
        // Differences 2, 2.1, 1.9: mean 2, sd 0.1, half = 0.1 · 4.302652730 / √3 ≈ 0.248.
        let a = table(&[(0, 0, 10.0), (0, 1, 20.0), (0, 2, 30.0)]);
        let b = table(&[(0, 0, 12.0), (0, 1, 22.1), (0, 2, 31.9)]);
        let c = compare(&a, &b).unwrap();
        let r = c
            .rows
            .iter()
            .find(|r| r.metric == "latency_mean_ms")
            .unwrap();
        assert!((r.diff - 2.0).abs() < 1e-12);
        assert!((r.diff_ci95 - 0.1 * 4.302_652_730 / 3f64.sqrt()).abs() < 1e-9);
        assert_eq!(r.verdict, "A better");
        let ok = c.rows.iter().find(|r| r.metric == "ok").unwrap();
        assert_eq!(ok.verdict, "no significant difference");
        assert!(c.notes.is_empty());
    }

    #[test]
    fn mismatches_are_reported() {
        let a = table(&[(0, 0, 1.0), (1, 0, 1.0)]);
        let b = table(&[(0, 0, 1.0), (2, 0, 1.0)]);
        let c = compare(&a, &b).unwrap();
        assert!(
            c.notes
                .iter()
                .any(|n| n.contains("point 1 replication 0 is only in A"))
        );
        assert!(
            c.notes
                .iter()
                .any(|n| n.contains("point 2 replication 0 is only in B"))
        );
        let none = table(&[(5, 0, 1.0)]);
        let e = compare(&a, &none).unwrap_err().to_string();
        assert!(e.contains("no pair"), "{e}");
        assert!(parse_summary("a,b\n1,2\n").is_err());
    }
}
