//! The simulation cross-check of a capacity estimate, and the `clustersim estimate` command.
//!
//! [`simulation_ron`] turns an estimate into an ordinary scenario — open-loop clients at peak
//! QPS → load balancer → the estimated app servers → a cache tier (a shard router over the
//! cache nodes) → a database tier (a shard router over the shards) — which runs through the
//! normal sweep pipeline. [`versus_simulation`] then puts the estimate beside what the
//! simulation measured: utilisation, hit ratio, latency, and the queueing the estimate ignores
//! (with the M/M/c answer from Erlang C in between).

use std::fmt::Write as _;

use clustersim_models::queueing;
use clustersim_scenarios::estimate::Estimate;
use clustersim_scenarios::raw::Keys;

use crate::estimate::{Numbers, compute, estimate_csv, key_count, render};
use crate::result::RunResult;
use crate::stats::summarize;

/// The simulated slice of the fleet: counts and the share of peak traffic it receives.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Slice {
    /// App servers simulated.
    pub app_servers: u64,
    /// Cache nodes simulated (0: no cache tier).
    pub cache_nodes: u64,
    /// Shards simulated.
    pub db_shards: u64,
    /// Offered requests per second.
    pub rate_rps: f64,
    /// Simulated share of the whole fleet (`app_servers / estimated app servers`).
    pub share: f64,
    /// Estimated app utilisation in the slice.
    pub app_utilization: f64,
    /// Estimated shard utilisation in the slice (shards round to whole numbers).
    pub db_utilization: f64,
}

/// The slice [`simulation_ron`] simulates: the whole fleet when it has at most
/// `simulation.max_app_servers` app servers; otherwise `k` app servers with the same share
/// `k / app_servers` of traffic, cache nodes and shards (rounded, at least 1 each), where `k`
/// lies between half the maximum and the maximum and is chosen to make that rounding as
/// small as possible (ties: the larger `k`), so each tier keeps its per-server load.
pub fn slice(e: &Estimate, n: &Numbers) -> Slice {
    let max = u64::from(e.simulation.max_app_servers);
    let rounding = |share: f64| {
        [n.cache_nodes, n.db_shards]
            .iter()
            .filter(|c| **c > 0)
            .map(|&c| {
                let exact = c as f64 * share;
                (exact.round().max(1.0) - exact).abs() / exact
            })
            .fold(0.0, f64::max)
    };
    let (apps, share) = if n.app_servers <= max {
        (n.app_servers, 1.0)
    } else {
        let mut best = (max, rounding(max as f64 / n.app_servers as f64));
        for k in (max.div_ceil(2)..max).rev() {
            let err = rounding(k as f64 / n.app_servers as f64);
            if err < best.1 - 1e-12 {
                best = (k, err);
            }
        }
        (best.0, best.0 as f64 / n.app_servers as f64)
    };
    let scaled = |c: u64| ((c as f64 * share).round() as u64).max(1);
    let cache_nodes = if n.cache_nodes == 0 {
        0
    } else {
        scaled(n.cache_nodes)
    };
    let db_shards = scaled(n.db_shards);
    let rate = n.total_peak_qps * share;
    Slice {
        app_servers: apps,
        cache_nodes,
        db_shards,
        rate_rps: rate,
        share,
        app_utilization: rate / (apps as f64 * e.app.throughput_rps),
        db_utilization: rate * n.db_fraction / (db_shards as f64 * e.database.shard_throughput_rps),
    }
}

/// A duration for the generated file, in its largest exact unit (`"4ms"`, `"250us"`).
fn ns_text(ns: f64) -> String {
    let d = clustersim_engine::SimDuration::from_nanos(ns.round().max(1.0) as u64);
    clustersim_scenarios::units::Duration(d).to_string()
}

fn keys_text(k: &Keys) -> String {
    match k {
        Keys::Uniform { keys } => format!("Uniform(keys: {keys})"),
        Keys::Zipf { keys, exponent } => format!("Zipf(keys: {keys}, exponent: {exponent:?})"),
    }
}

/// The cross-check scenario as RON text (written to `simulation.ron` beside the reports, so it
/// can be rerun and edited with `clustersim run`).
pub fn simulation_ron(e: &Estimate, n: &Numbers) -> String {
    let s = slice(e, n);
    let sim = &e.simulation;
    let keys = key_count(&sim.keys);
    let mut c = String::new();
    let backends: Vec<String> = (1..=s.app_servers)
        .map(|i| format!("(target: \"app-{i}\")"))
        .collect();
    let read_w = if n.total_peak_qps > 0.0 {
        n.read_peak_qps / n.total_peak_qps
    } else {
        1.0
    };
    let _ = writeln!(
        c,
        "        (name: \"clients\", kind: OpenLoop(target: \"lb\", rate: \"{:.3}/s\", mix: (read: {:?}, write: {:?}), keys: {})),",
        s.rate_rps,
        read_w,
        1.0 - read_w,
        keys_text(&sim.keys)
    );
    let _ = writeln!(
        c,
        "        (name: \"lb\", kind: LoadBalancer(backends: [{}])),",
        backends.join(", ")
    );
    let next = if s.cache_nodes > 0 { "cache" } else { "db" };
    for i in 1..=s.app_servers {
        let _ = writeln!(
            c,
            "        (name: \"app-{i}\", kind: Service(workers: {}, service_time: Exponential(mean: \"{}\"), calls: [(target: \"{next}\")], hold_worker_during_calls: false)),",
            e.app.workers,
            ns_text(n.app_service_ns)
        );
    }
    let router = |c: &mut String, name: &str, prefix: &str, count: u64| {
        let shards: Vec<String> = (1..=count)
            .map(|i| format!("(target: \"{prefix}-{i}\")"))
            .collect();
        let _ = writeln!(
            c,
            "        (name: \"{name}\", kind: ShardRouter(shards: [{}], keys: {keys})),",
            shards.join(", ")
        );
    };
    if s.cache_nodes > 0 {
        let hot = e.cache.as_ref().map_or(0.0, |c| c.hot_fraction);
        let per_node = ((keys as f64 * hot / s.cache_nodes as f64).round() as u64).max(1);
        router(&mut c, "cache", "cache", s.cache_nodes);
        for i in 1..=s.cache_nodes {
            let _ = writeln!(
                c,
                "        (name: \"cache-{i}\", kind: Cache(backends: [\"db\"], capacity: Entries({per_node}))),"
            );
        }
    }
    router(&mut c, "db", "db", s.db_shards);
    for i in 1..=s.db_shards {
        let _ = writeln!(
            c,
            "        (name: \"db-{i}\", kind: Service(workers: {}, service_time: Exponential(mean: \"{}\"))),",
            e.database.workers,
            ns_text(n.db_service_ns)
        );
    }
    format!(
        "// Generated by `clustersim estimate --simulate` from the estimate `{name}`: clients at\n\
         // peak QPS -> load balancer -> app servers -> cache -> database shards.\n\
         // Simulated slice: {apps} of {all} app servers ({share:.2}% of the fleet),\n\
         // {cn} cache node(s), {sh} shard(s).\n\
         Scenario(\n\
         \x20   name: \"{name}_sim\",\n\
         \x20   description: \"simulation cross-check of the capacity estimate {name}\",\n\
         \x20   seed: {seed},\n\
         \x20   duration: \"{dur}\",\n\
         \x20   warmup: \"{warm}\",\n\
         \x20   report_interval: \"1s\",\n\
         \x20   network: (intra_region: (latency: Constant(\"{one_way}\"))),\n\
         \x20   components: [\n{c}    ],\n\
         \x20   sweep: (replications: {reps}),\n\
         )\n",
        name = e.name,
        apps = s.app_servers,
        all = n.app_servers,
        share = s.share * 100.0,
        cn = s.cache_nodes,
        sh = s.db_shards,
        seed = sim.seed,
        dur = sim.duration,
        warm = sim.warmup,
        one_way = ns_text(n.rtt_ns / 2.0),
        reps = sim.replications,
    )
}

/// One line of `estimate_vs_simulation.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct Versus {
    /// What is compared, with its unit (`utilization`, `latency_p99_ms`, ...).
    pub quantity: &'static str,
    /// Tier: `app`, `cache`, `database`, `end_to_end`.
    pub tier: &'static str,
    /// The estimate's value.
    pub estimated: f64,
    /// The M/M/c (Erlang C) value with queueing, where it applies.
    pub analytic: f64,
    /// Simulated: mean over replications.
    pub simulated: f64,
    /// 95 % CI half-width over replications.
    pub simulated_ci95: f64,
    /// Simulated: largest value (over servers and replications) where it matters.
    pub simulated_max: f64,
    /// Verdict for people.
    pub verdict: String,
}

fn per_run(results: &[RunResult], f: impl Fn(&RunResult) -> f64) -> crate::stats::Summary {
    let v: Vec<f64> = results
        .iter()
        .filter(|r| r.failure.is_none())
        .map(f)
        .collect();
    summarize(&v)
}

fn comp_value(r: &RunResult, prefix: &str, metric: &str) -> Vec<(f64, f64)> {
    r.components
        .iter()
        .filter(|c| c.component.starts_with(prefix) && c.kind != "shard_router")
        .map(|c| {
            let get = |m: &str| {
                c.values
                    .iter()
                    .find(|(k, _)| k == m)
                    .map_or(f64::NAN, |(_, v)| *v)
            };
            (get(metric), get("requests"))
        })
        .collect()
}

fn run_metric(r: &RunResult, m: &str) -> f64 {
    r.metrics
        .iter()
        .find(|(k, _)| k == m)
        .map_or(f64::NAN, |(_, v)| *v)
}

/// Relative difference within which estimate and simulation "agree" in the verdicts.
pub const AGREE_REL: f64 = 0.05;

/// Utilisation points above the target before the busiest server counts as
/// under-provisioned: `⌈⌉` puts the estimate just under its target, so run-to-run noise alone
/// pushes the busiest of several servers a point or two above it.
pub const PROVISION_SLACK: f64 = 0.05;

/// Compares the estimate with the simulation results of [`simulation_ron`].
pub fn versus_simulation(e: &Estimate, n: &Numbers, results: &[RunResult]) -> Vec<Versus> {
    let s = slice(e, n);
    let mut out = Vec::new();
    let util_row = |tier: &'static str, prefix: &str, est: f64, target: f64, servers: u64| {
        let mean = per_run(results, |r| {
            let v = comp_value(r, prefix, "utilization");
            v.iter().map(|x| x.0).sum::<f64>() / v.len().max(1) as f64
        });
        let max = results
            .iter()
            .flat_map(|r| comp_value(r, prefix, "utilization"))
            .map(|x| x.0)
            .fold(f64::NAN, f64::max);
        let rel = (mean.mean - est) / est;
        let mut verdict = if rel.abs() <= AGREE_REL {
            format!("agrees ({:+.1}%)", rel * 100.0)
        } else {
            format!("differs by {:+.1}%", rel * 100.0)
        };
        if max > target + PROVISION_SLACK {
            let _ = write!(
                verdict,
                "; under-provisioned: the busiest of {servers} runs at {:.0}% > target {:.0}%",
                max * 100.0,
                target * 100.0
            );
        } else if max < 0.5 * target {
            let _ = write!(
                verdict,
                "; over-provisioned: the busiest runs at {:.0}%, under half the {:.0}% target",
                max * 100.0,
                target * 100.0
            );
        }
        Versus {
            quantity: "utilization",
            tier,
            estimated: est,
            analytic: est,
            simulated: mean.mean,
            simulated_ci95: mean.ci95_half_width,
            simulated_max: max,
            verdict,
        }
    };
    out.push(util_row(
        "app",
        "app-",
        s.app_utilization,
        e.app.target_utilization,
        s.app_servers,
    ));
    if let Some(c) = &e.cache {
        let hit = per_run(results, |r| {
            let v = comp_value(r, "cache-", "hit_ratio");
            let w: f64 = v.iter().map(|x| x.1).sum();
            v.iter().map(|x| x.0 * x.1).sum::<f64>() / w
        });
        let d = hit.mean - c.hit_ratio;
        out.push(Versus {
            quantity: "hit_ratio",
            tier: "cache",
            estimated: c.hit_ratio,
            analytic: f64::NAN,
            simulated: hit.mean,
            simulated_ci95: hit.ci95_half_width,
            simulated_max: f64::NAN,
            verdict: if d.abs() <= 0.05 {
                format!("agrees ({:+.1} points)", d * 100.0)
            } else if d < 0.0 {
                format!(
                    "estimate optimistic by {:.1} points: the database gets more misses",
                    -d * 100.0
                )
            } else {
                format!(
                    "estimate pessimistic by {:.1} points: fewer misses reach the database",
                    d * 100.0
                )
            },
        });
    }
    let mut db = util_row(
        "database",
        "db-",
        s.db_utilization,
        e.database.target_utilization,
        s.db_shards,
    );
    if let Some(hit) = out
        .iter()
        .find(|v| v.quantity == "hit_ratio")
        .map(|v| v.simulated)
        && hit.is_finite()
        && n.total_peak_qps > 0.0
    {
        // Redo the estimate with the measured hit ratio: separates a wrong hit-ratio
        // assumption from a wrong load model.
        let write_frac = n.write_peak_qps / n.total_peak_qps;
        let frac = write_frac + (1.0 - write_frac) * (1.0 - hit);
        let redone = s.rate_rps * frac / (s.db_shards as f64 * e.database.shard_throughput_rps);
        let _ = write!(
            db.verdict,
            "; with the simulated hit ratio the estimate is {redone:.4} ({:+.1}%)",
            (db.simulated - redone) / redone * 100.0
        );
    }
    out.push(db);

    // Latency: the estimate's no-queueing figure, M/M/c per tier, and the simulation.
    let rtt_part = n.mean_round_trips * n.rtt_ns;
    let no_queue_ms = (rtt_part + n.app_service_ns + n.db_fraction * n.db_service_ns) / 1e6;
    let mmc_wait = |rate: f64, servers: u64, svc_ns: f64, workers: u32| {
        let per = rate / servers as f64;
        queueing::mmc(per, 1e9 / svc_ns, workers).map_or(f64::INFINITY, |m| m.mean_wait * 1e9)
    };
    let app_wait = mmc_wait(s.rate_rps, s.app_servers, n.app_service_ns, e.app.workers);
    let db_wait = mmc_wait(
        s.rate_rps * n.db_fraction,
        s.db_shards,
        n.db_service_ns,
        e.database.workers,
    );
    let analytic_ms = no_queue_ms + (app_wait + n.db_fraction * db_wait) / 1e6;
    let sim = |m: &str| per_run(results, |r| run_metric(r, m));
    let lat = sim("latency_mean_ms");
    out.push(Versus {
        quantity: "latency_mean_ms",
        tier: "end_to_end",
        estimated: no_queue_ms,
        analytic: analytic_ms,
        simulated: lat.mean,
        simulated_ci95: lat.ci95_half_width,
        simulated_max: f64::NAN,
        verdict: format!(
            "the estimate ignores {:.3} ms of queueing (M/M/c predicts {:.3} ms)",
            lat.mean - no_queue_ms,
            analytic_ms - no_queue_ms
        ),
    });
    out.push(Versus {
        quantity: "queueing_ms",
        tier: "end_to_end",
        estimated: 0.0,
        analytic: analytic_ms - no_queue_ms,
        simulated: lat.mean - no_queue_ms,
        simulated_ci95: lat.ci95_half_width,
        simulated_max: f64::NAN,
        verdict: "mean latency above the no-queueing figure".into(),
    });
    for (m, q) in [("latency_p50_ms", 0.5f64), ("latency_p99_ms", 0.99)] {
        // The estimate's view of a quantile: fixed hops, the app's exponential service-time
        // quantile, the database's mean share; no queueing.
        let est =
            (rtt_part + n.app_service_ns * -(1.0 - q).ln() + n.db_fraction * n.db_service_ns) / 1e6;
        let v = sim(m);
        out.push(Versus {
            quantity: m,
            tier: "end_to_end",
            estimated: est,
            analytic: f64::NAN,
            simulated: v.mean,
            simulated_ci95: v.ci95_half_width,
            simulated_max: f64::NAN,
            verdict: format!("simulated − estimated = {:+.3} ms", v.mean - est),
        });
    }
    let thr = sim("throughput_rps");
    let rel = (thr.mean - s.rate_rps) / s.rate_rps;
    out.push(Versus {
        quantity: "throughput_rps",
        tier: "end_to_end",
        estimated: s.rate_rps,
        analytic: s.rate_rps,
        simulated: thr.mean,
        simulated_ci95: thr.ci95_half_width,
        simulated_max: f64::NAN,
        verdict: if rel.abs() <= AGREE_REL {
            format!(
                "the slice carries its share of peak traffic ({:+.1}%)",
                rel * 100.0
            )
        } else {
            format!("the slice does not keep up: {:+.1}%", rel * 100.0)
        },
    });
    let err = sim("error_rate");
    out.push(Versus {
        quantity: "error_rate",
        tier: "end_to_end",
        estimated: 0.0,
        analytic: 0.0,
        simulated: err.mean,
        simulated_ci95: err.ci95_half_width,
        simulated_max: f64::NAN,
        verdict: if err.mean > 0.0 {
            "requests failed".into()
        } else {
            "none".into()
        },
    });
    out
}

/// `estimate_vs_simulation.csv`.
pub fn versus_csv(rows: &[Versus]) -> anyhow::Result<Vec<u8>> {
    let num = |v: f64| {
        if v.is_finite() {
            format!("{v}")
        } else {
            String::new()
        }
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "quantity",
        "tier",
        "estimated",
        "analytic_mmc",
        "simulated_mean",
        "simulated_ci95",
        "simulated_max",
        "verdict",
    ])?;
    for r in rows {
        w.write_record([
            r.quantity,
            r.tier,
            &num(r.estimated),
            &num(r.analytic),
            &num(r.simulated),
            &num(r.simulated_ci95),
            &num(r.simulated_max),
            &r.verdict,
        ])?;
    }
    Ok(w.into_inner()?)
}

/// The printed comparison.
pub fn render_versus(rows: &[Versus]) -> String {
    let f = |v: f64| {
        if v.is_finite() {
            format!("{v:.4}")
        } else {
            "-".into()
        }
    };
    let mut s = format!(
        "\nestimate vs simulation\n  {:<16} {:<10} {:>10} {:>10} {:>10} {:>9}  verdict\n",
        "quantity", "tier", "estimate", "M/M/c", "simulated", "±95%"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "  {:<16} {:<10} {:>10} {:>10} {:>10} {:>9}  {}",
            r.quantity,
            r.tier,
            f(r.estimated),
            f(r.analytic),
            f(r.simulated),
            f(r.simulated_ci95),
            r.verdict
        );
    }
    s
}

/// What `clustersim estimate` was asked to do.
#[derive(Debug)]
pub struct EstimateRequest<'a> {
    /// The estimate file (standalone `Estimate(...)` or a scenario with an `estimate` section).
    pub file: &'a std::path::Path,
    /// Output folder; default `runs/<name>/`.
    pub out: Option<std::path::PathBuf>,
    /// Run the simulation cross-check (also on with `simulation.enabled`).
    pub simulate: bool,
    /// Replications of the cross-check (overrides `simulation.replications`).
    pub replications: Option<u32>,
    /// Worker threads for the cross-check.
    pub threads: Option<usize>,
    /// Print nothing but errors and the output folder.
    pub quiet: bool,
    /// `--set path=value` overrides of the assumptions (paths as in the file: `peak_factor`
    /// in a standalone estimate, `estimate.peak_factor` in a scenario).
    pub set: Vec<String>,
    /// Master seed of the cross-check (overrides `simulation.seed`).
    pub seed: Option<u64>,
}

/// The estimate of `source` with `--set` overrides applied and checked again.
pub fn with_overrides(
    source: &clustersim_scenarios::estimate::EstimateSource,
    file: &std::path::Path,
    set: &[String],
) -> Result<Estimate, clustersim_scenarios::ScenarioError> {
    use clustersim_scenarios::estimate::{EstimateSource, check};
    use clustersim_scenarios::overrides::{Override, apply_overrides};
    use clustersim_scenarios::{Diagnostic, ScenarioError};
    if set.is_empty() {
        return Ok(source.estimate().clone());
    }
    let fail = |m: String| ScenarioError::semantic(file, vec![Diagnostic::new("--set", m)]);
    let ovr: Vec<Override> = set
        .iter()
        .map(|t| t.parse::<Override>().map_err(|e| fail(format!("{t}: {e}"))))
        .collect::<Result<_, _>>()?;
    let (e, at) = match source {
        EstimateSource::Standalone(e) => (
            apply_overrides(&**e, &ovr).map_err(|er| fail(er.to_string()))?,
            "",
        ),
        EstimateSource::Scenario(s) => {
            let s = apply_overrides(&**s, &ovr).map_err(|er| fail(er.to_string()))?;
            match s.estimate {
                Some(e) => (e, "estimate"),
                None => return Err(fail("the overrides removed the `estimate` section".into())),
            }
        }
    };
    let diags = check(&e, at);
    if diags.is_empty() {
        Ok(e)
    } else {
        Err(ScenarioError::semantic(file, diags))
    }
}

/// `clustersim estimate`: prints the estimate, writes `estimate.csv`, and with `--simulate`
/// runs the cross-check and writes the usual reports, `simulation.ron` and
/// `estimate_vs_simulation.csv`.
pub fn cli(
    req: EstimateRequest<'_>,
    stop: &std::sync::atomic::AtomicBool,
) -> anyhow::Result<std::process::ExitCode> {
    use anyhow::Context as _;
    use std::process::ExitCode;

    let source = match clustersim_scenarios::estimate::load_estimate(req.file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(1));
        }
    };
    let est = match with_overrides(&source, req.file, &req.set) {
        Ok(e) => e,
        Err(err) => {
            eprintln!("{err}");
            return Ok(ExitCode::from(1));
        }
    };
    let e = &est;
    let computed = compute(e);
    let out_dir = req
        .out
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from("runs").join(&e.name));
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let write = |name: &str, bytes: &[u8]| -> anyhow::Result<()> {
        let p = out_dir.join(name);
        crate::atomic::write_atomic(&p, bytes).with_context(|| format!("writing {}", p.display()))
    };
    write("estimate.csv", &estimate_csv(&computed.rows)?)?;
    if !req.quiet {
        print!("{}", render(&e.name, &computed.rows));
    }
    if !(req.simulate || e.simulation.enabled) {
        eprintln!(
            "estimate written to {}",
            out_dir.join("estimate.csv").display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let text = simulation_ron(e, &computed.numbers);
    let sim_file = out_dir.join("simulation.ron");
    write("simulation.ron", text.as_bytes())?;
    let raw: clustersim_scenarios::raw::Scenario =
        match clustersim_scenarios::load::from_str(&text, &sim_file) {
            Ok(r) => r,
            Err(err) => anyhow::bail!(
                "internal error (please report): generated scenario does not load: {err}"
            ),
        };
    let plan = match crate::sweep::plan(raw, &sim_file, req.replications, req.seed) {
        Ok(p) => p,
        Err(err) => {
            eprintln!("{err}");
            return Ok(ExitCode::from(1));
        }
    };
    let opts = crate::sweep::ExecOptions {
        threads: req.threads,
        out_dir: out_dir.clone(),
        resume: false,
        progress: false,
    };
    let done = crate::sweep::execute(&plan, &opts, stop)?;
    let mut command = format!(
        "clustersim estimate {} --simulate",
        crate::shard::shell_quote(&req.file.display().to_string())
    );
    if let Some(r) = req.replications {
        let _ = write!(command, " --replications {r}");
    }
    if let Some(s) = req.seed {
        let _ = write!(command, " --seed {s}");
    }
    for s in &req.set {
        let _ = write!(command, " --set {}", crate::shard::shell_quote(s));
    }
    crate::report::write_all(&out_dir, &plan, &done.results, &sim_file, &command)?;
    let versus = versus_simulation(e, &computed.numbers, &done.results);
    write("estimate_vs_simulation.csv", &versus_csv(&versus)?)?;
    if !req.quiet {
        let sl = slice(e, &computed.numbers);
        println!(
            "\nsimulated slice: {} of {} app servers ({:.2}% of the fleet), {} cache node(s), {} shard(s), {:.0} req/s, {} replication(s)",
            sl.app_servers,
            computed.numbers.app_servers,
            sl.share * 100.0,
            sl.cache_nodes,
            sl.db_shards,
            sl.rate_rps,
            plan.replications
        );
        print!("{}", render_versus(&versus));
    }
    eprintln!("reports written to {}", out_dir.display());
    if done.interrupted {
        eprintln!("interrupted: the cross-check did not finish");
        return Ok(ExitCode::from(1));
    }
    let failed = done.results.iter().filter(|r| r.failure.is_some()).count();
    if failed > 0 {
        eprintln!("{failed} simulation run(s) failed; see the `failure` column of summary.csv");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
