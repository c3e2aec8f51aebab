//! The SLO knee finder: the smallest value of an integer parameter (`Min`, e.g. app servers)
//! or the largest (`Max`, e.g. offered load) that meets every SLO, by bisection over
//! simulation runs.
//!
//! **Method.** Each probed value is an ordinary run of the scenario with `param=value` applied
//! through the `--set` machinery, validated before it runs, with `replications` replications
//! on the common-random-number seeds of [`crate::design::derive_seed`] (the same seeds at every
//! value, so differences between values are not workload noise). A value *meets* the SLOs
//! when no replication failed and, for every SLO, the mean over replications satisfies the
//! bound. The search assumes monotony (more servers never hurt; more load never helps): it
//! checks `low` (and `high` when given; otherwise it doubles from `low` until the verdict
//! flips, at most [`MAX_DOUBLINGS`] times), then bisects until the answer and its neighbour
//! (answer − 1 for `Min`, + 1 for `Max`) are both probed.
//!
//! **Confidence.** For the answer and its neighbour the report gives, per SLO, the mean, the
//! 95 % CI half-width over replications and the fraction of replications that met it on their
//! own. The answer is *clear* when the CI at the answer lies entirely on the good side of every
//! bound and, at the neighbour, the CI of at least one violated SLO lies entirely on the bad
//! side; otherwise it is *marginal* (add replications or lengthen the runs).
//!
//! **Determinism.** Probes depend only on the scenario, the seed and the value; runs execute in
//! parallel but results are sorted, so `search.csv` and every report are byte-identical for
//! any thread count.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use clustersim_scenarios::overrides::{Override, apply_overrides, value_at};
use clustersim_scenarios::raw::Scenario;
use clustersim_scenarios::search::{Goal, Search, Slo};
use rayon::prelude::*;

use crate::result::{RUN_METRICS, RunResult};
use crate::stats::{Summary, summarize};
use crate::sweep::{self, Plan, PlannedPoint};

/// Most doublings when `high` is not given (2⁴⁰ × low is beyond any sensible parameter).
pub const MAX_DOUBLINGS: u32 = 40;

/// What the searched parameter is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// A whole-number field, e.g. `workers`, `instances`.
    Integer,
    /// A rate text such as `"800/s"`, searched in whole requests per second.
    Rate,
}

impl ParamKind {
    /// The override text of `value`.
    pub fn text(self, value: u64) -> String {
        match self {
            ParamKind::Integer => value.to_string(),
            ParamKind::Rate => format!("{value}/s"),
        }
    }
}

/// Statistics of one SLO's metric at one probed value.
#[derive(Clone, Debug, PartialEq)]
pub struct SloStats {
    /// Mean, standard deviation and 95 % CI over successful replications.
    pub summary: Summary,
    /// Fraction of replications whose own value met the SLO (failed runs count as not).
    pub fraction_meeting: f64,
    /// Whether the mean meets the SLO.
    pub meets: bool,
}

/// One probed value.
#[derive(Clone, Debug)]
pub struct Probe {
    /// The parameter value.
    pub value: u64,
    /// Its validated point (for the reports).
    pub point: PlannedPoint,
    /// Its runs, by replication.
    pub results: Vec<RunResult>,
    /// Per SLO, in the order given.
    pub slos: Vec<SloStats>,
    /// Every SLO met by its mean and no run failed.
    pub meets: bool,
    /// Fraction of replications meeting every SLO on their own.
    pub fraction_meeting_all: f64,
}

/// The result of a search.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The searched parameter path.
    pub param: String,
    /// Min or Max.
    pub goal: Goal,
    /// The SLOs.
    pub slos: Vec<Slo>,
    /// The answer; `None` when no value in the range meets the SLOs.
    pub answer: Option<u64>,
    /// The value just past the answer (answer − 1 for Min, + 1 for Max) when it was probed.
    pub neighbour: Option<u64>,
    /// Every probed value, ascending.
    pub probes: Vec<Probe>,
    /// Replications per value.
    pub replications: u32,
    /// Whether the answer is clear (see the module docs); false without an answer.
    pub clear: bool,
    /// Whether the search hit its range limit (`high` or [`MAX_DOUBLINGS`]) before the
    /// verdict flipped.
    pub range_exhausted: bool,
}

impl Outcome {
    /// The probe of `value`, if probed.
    pub fn probe(&self, value: u64) -> Option<&Probe> {
        self.probes.iter().find(|p| p.value == value)
    }
}

/// Checks the SLO metrics against [`RUN_METRICS`].
pub fn check_slos(slos: &[Slo]) -> Result<()> {
    if slos.is_empty() {
        bail!(
            "no SLO given; add --slo \"latency_p99_ms<=50\" (or `slo: [...]` in the search section)"
        );
    }
    for s in slos {
        if !RUN_METRICS.contains(&s.metric.as_str()) {
            let hint = clustersim_scenarios::diagnostic::did_you_mean(
                &s.metric,
                RUN_METRICS.iter().copied(),
            )
            .map(|m| format!("did you mean `{m}`? "))
            .unwrap_or_default();
            bail!(
                "SLO `{s}`: unknown metric `{}`; {hint}allowed metrics: {}",
                s.metric,
                RUN_METRICS.join(", ")
            );
        }
    }
    Ok(())
}

/// The kind of parameter at `path`, from its current value in `base`.
pub fn param_kind(base: &Scenario, path: &str) -> Result<ParamKind> {
    let text = value_at(base, path).map_err(|e| anyhow::anyhow!("search parameter: {e}"))?;
    let t = text.trim();
    if t.parse::<i64>().is_ok() {
        return Ok(ParamKind::Integer);
    }
    if let Some(inner) = t.strip_prefix('"').and_then(|s| s.strip_suffix('"'))
        && inner.parse::<clustersim_scenarios::units::Rate>().is_ok()
    {
        return Ok(ParamKind::Rate);
    }
    bail!(
        "search parameter `{path}` is `{t}`, not an integer: the knee finder varies whole-number \
         fields (e.g. components.<name>.kind.instances, .workers, .queue_capacity when set) or \
         rates (components.<client>.kind.rate, searched in whole requests per second)"
    )
}

fn stats(results: &[RunResult], slos: &[Slo]) -> (Vec<SloStats>, bool, f64) {
    let value = |r: &RunResult, m: &str| {
        r.metrics
            .iter()
            .find(|(k, _)| k == m)
            .map_or(f64::NAN, |(_, v)| *v)
    };
    let ok: Vec<&RunResult> = results.iter().filter(|r| r.failure.is_none()).collect();
    let n = results.len().max(1) as f64;
    let per: Vec<SloStats> = slos
        .iter()
        .map(|s| {
            let values: Vec<f64> = ok.iter().map(|r| value(r, &s.metric)).collect();
            let summary = summarize(&values);
            let meeting = values.iter().filter(|v| s.met_by(**v)).count() as f64;
            SloStats {
                meets: !ok.is_empty() && s.met_by(summary.mean),
                fraction_meeting: meeting / n,
                summary,
            }
        })
        .collect();
    let all = ok.len() == results.len() && per.iter().all(|p| p.meets);
    let meeting_all = ok
        .iter()
        .filter(|r| slos.iter().all(|s| s.met_by(value(r, &s.metric))))
        .count() as f64;
    (per, all, meeting_all / n)
}

/// How to run a search.
#[derive(Debug)]
pub struct SearchRun<'a> {
    /// The scenario after `--set` overrides.
    pub base: &'a Scenario,
    /// Its file (for messages and manifests).
    pub file: &'a Path,
    /// What to search.
    pub search: &'a Search,
    /// Master seed override.
    pub seed: Option<u64>,
    /// Worker threads (`None`: one per core).
    pub threads: Option<usize>,
}

struct Searcher<'a> {
    run: &'a SearchRun<'a>,
    kind: ParamKind,
    pool: rayon::ThreadPool,
    probes: BTreeMap<u64, Probe>,
    stop: &'a AtomicBool,
}

impl Searcher<'_> {
    fn probe(&mut self, value: u64) -> Result<bool> {
        if let Some(p) = self.probes.get(&value) {
            return Ok(p.meets);
        }
        if self.stop.load(Ordering::SeqCst) {
            bail!("interrupted");
        }
        let s = self.run.search;
        let o = Override {
            path: s.param.clone(),
            value: self.kind.text(value),
        };
        let raw = apply_overrides(self.run.base, &[o])
            .map_err(|e| anyhow::anyhow!("search value {value}: {e}"))?;
        let plan = sweep::plan(raw, self.run.file, Some(s.replications), self.run.seed)
            .map_err(|e| anyhow::anyhow!("search value {}={value} is not valid:\n{e}", s.param))?;
        let point = plan.points[0].clone();
        let runs = plan.runs();
        let results: Vec<RunResult> = self.pool.install(|| {
            runs.par_iter()
                .map(|&(_, r, seed)| sweep::run_one(&point, r, seed))
                .collect()
        });
        let (slos, meets, fraction) = stats(&results, &s.slo);
        self.probes.insert(
            value,
            Probe {
                value,
                point,
                results,
                slos,
                meets,
                fraction_meeting_all: fraction,
            },
        );
        Ok(meets)
    }
}

/// Runs the search. Errors (bad SLO metric, non-integer parameter, invalid value) come before
/// any run of the offending value.
pub fn run(req: &SearchRun<'_>, stop: &AtomicBool) -> Result<Outcome> {
    let s = req.search;
    check_slos(&s.slo)?;
    let kind = param_kind(req.base, &s.param)?;
    let sw = &req.base.sweep;
    if !sw.grid.is_empty() || !sw.zip.is_empty() || sw.latin_hypercube.is_some() {
        bail!(
            "a search cannot be combined with a sweep (the scenario has sweep axes); remove \
             `sweep.grid`/`zip`/`latin_hypercube` or fix them with --set"
        );
    }
    if s.replications == 0 {
        bail!("replications must be at least 1");
    }
    if let Some(h) = s.high
        && h < s.low
    {
        bail!("search range: high ({h}) is below low ({})", s.low);
    }
    if kind == ParamKind::Rate && s.low == 0 {
        bail!("a rate search must start at low >= 1 (a rate must be > 0)");
    }
    let mut b = rayon::ThreadPoolBuilder::new();
    if let Some(t) = req.threads {
        b = b.num_threads(t);
    }
    let mut me = Searcher {
        run: req,
        kind,
        pool: b.build().context("starting worker threads")?,
        probes: BTreeMap::new(),
        stop,
    };
    // `good(v)`: v is on the side of the answer. For Min the good side is high values (meets),
    // for Max low values (meets); bisection keeps `bad` and `good` bracketing the knee.
    let goal = s.goal;
    let mut range_exhausted = false;
    let answer = match goal {
        Goal::Min => {
            let (mut bad, mut good);
            if me.probe(s.low)? {
                bad = None;
                good = Some(s.low);
            } else {
                bad = Some(s.low);
                good = None;
                match s.high {
                    Some(h) => {
                        if me.probe(h)? {
                            good = Some(h);
                        } else {
                            range_exhausted = true;
                        }
                    }
                    None => {
                        let mut v = s.low;
                        for _ in 0..MAX_DOUBLINGS {
                            v = v.saturating_mul(2).max(v + 1);
                            if me.probe(v)? {
                                good = Some(v);
                                break;
                            }
                            bad = Some(v);
                        }
                        range_exhausted = good.is_none();
                    }
                }
            }
            if let (Some(mut lo), Some(mut hi)) = (bad, good) {
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if me.probe(mid)? {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                good = Some(hi);
            }
            good
        }
        Goal::Max => {
            let (mut good, mut bad);
            if !me.probe(s.low)? {
                good = None;
                bad = Some(s.low);
            } else {
                good = Some(s.low);
                bad = None;
                match s.high {
                    Some(h) => {
                        if me.probe(h)? {
                            good = Some(h);
                            range_exhausted = true;
                        } else {
                            bad = Some(h);
                        }
                    }
                    None => {
                        let mut v = s.low;
                        for _ in 0..MAX_DOUBLINGS {
                            v = v.saturating_mul(2).max(v + 1);
                            if me.probe(v)? {
                                good = Some(v);
                            } else {
                                bad = Some(v);
                                break;
                            }
                        }
                        range_exhausted = bad.is_none();
                    }
                }
            }
            if let (Some(mut lo), Some(mut hi)) = (good, bad) {
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if me.probe(mid)? {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                good = Some(lo);
            }
            good
        }
    };
    let neighbour = answer.and_then(|a| match goal {
        Goal::Min => a.checked_sub(1),
        Goal::Max => a.checked_add(1),
    });
    let neighbour = neighbour.filter(|n| me.probes.contains_key(n));
    let clear = match answer {
        None => false,
        Some(a) => {
            let at = &me.probes[&a];
            let good_side = s.slo.iter().zip(&at.slos).all(|(slo, st)| {
                let h = st.summary.ci95_half_width;
                let h = if h.is_finite() { h } else { 0.0 };
                slo.met_by(st.summary.mean + h) && slo.met_by(st.summary.mean - h)
            });
            let bad_side = match neighbour {
                None => true,
                Some(n) => {
                    let nb = &me.probes[&n];
                    s.slo.iter().zip(&nb.slos).any(|(slo, st)| {
                        let h = st.summary.ci95_half_width;
                        let h = if h.is_finite() { h } else { 0.0 };
                        !slo.met_by(st.summary.mean + h) && !slo.met_by(st.summary.mean - h)
                    })
                }
            };
            good_side && bad_side
        }
    };
    Ok(Outcome {
        param: s.param.clone(),
        goal,
        slos: s.slo.clone(),
        answer,
        neighbour,
        probes: me.probes.into_values().collect(),
        replications: s.replications,
        clear,
        range_exhausted,
    })
}

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        String::new()
    }
}

/// `search.csv`: one row per probed value, ascending.
pub fn search_csv(o: &Outcome) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "param",
        "value",
        "role",
        "runs",
        "failed_runs",
        "meets_all",
        "fraction_meeting_all",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for s in &o.slos {
        let m = &s.metric;
        header.extend([
            format!("{m}_mean"),
            format!("{m}_sd"),
            format!("{m}_ci95"),
            format!("{m}_bound"),
            format!("{m}_fraction_meeting"),
            format!("{m}_meets"),
        ]);
    }
    w.write_record(&header)?;
    for p in &o.probes {
        let role = if Some(p.value) == o.answer {
            "answer"
        } else if Some(p.value) == o.neighbour {
            "neighbour"
        } else {
            "probe"
        };
        let failed = p.results.iter().filter(|r| r.failure.is_some()).count();
        let mut row = vec![
            o.param.clone(),
            p.value.to_string(),
            role.to_owned(),
            p.results.len().to_string(),
            failed.to_string(),
            p.meets.to_string(),
            num(p.fraction_meeting_all),
        ];
        for (s, st) in o.slos.iter().zip(&p.slos) {
            row.extend([
                num(st.summary.mean),
                num(st.summary.std_dev),
                num(st.summary.ci95_half_width),
                format!("{}{}", s.cmp.symbol(), s.threshold),
                num(st.fraction_meeting),
                st.meets.to_string(),
            ]);
        }
        w.write_record(&row)?;
    }
    Ok(w.into_inner()?)
}

/// A plan whose points are the probed values (ascending) and the results re-indexed to them,
/// so the usual reports describe every probe.
pub fn as_plan(base: &Scenario, o: &Outcome, seed: u64) -> (Plan, Vec<RunResult>) {
    let mut points = Vec::with_capacity(o.probes.len());
    let mut results = Vec::new();
    for (i, p) in o.probes.iter().enumerate() {
        let mut point = p.point.clone();
        point.index = i;
        point.params = vec![(o.param.clone(), p.value.to_string())];
        points.push(point);
        results.extend(p.results.iter().cloned().map(|mut r| {
            r.point = i;
            r
        }));
    }
    (
        Plan {
            base: base.clone(),
            param_paths: vec![o.param.clone()],
            points,
            replications: o.replications,
            master_seed: seed,
        },
        results,
    )
}

/// The printed summary.
pub fn render(o: &Outcome) -> String {
    let goal = match o.goal {
        Goal::Min => "smallest",
        Goal::Max => "largest",
    };
    let slos: Vec<String> = o.slos.iter().map(ToString::to_string).collect();
    let mut s = format!(
        "search: {goal} {} meeting {} ({} replication(s) per value, {} value(s) probed)\n",
        o.param,
        slos.join(" and "),
        o.replications,
        o.probes.len()
    );
    let _ = writeln!(
        s,
        "  {:>10}  {:<5} {:>8}  per SLO: mean ± 95% CI [fraction of replications meeting]",
        "value", "meets", "frac"
    );
    for p in &o.probes {
        let mut line = format!(
            "  {:>10}  {:<5} {:>8.2} ",
            p.value,
            if p.meets { "yes" } else { "no" },
            p.fraction_meeting_all
        );
        for (slo, st) in o.slos.iter().zip(&p.slos) {
            let _ = write!(
                line,
                " {} {:.4} ± {:.4} [{:.2}]",
                slo.metric, st.summary.mean, st.summary.ci95_half_width, st.fraction_meeting
            );
        }
        let mark = if Some(p.value) == o.answer {
            "  <= answer"
        } else if Some(p.value) == o.neighbour {
            "  <= neighbour"
        } else {
            ""
        };
        let _ = writeln!(s, "{line}{mark}");
    }
    match o.answer {
        Some(a) => {
            let _ = writeln!(
                s,
                "answer: {} = {a} ({})",
                o.param,
                if o.clear {
                    "clear: the 95% CIs at the answer and its neighbour lie on either side of the bound"
                } else {
                    "marginal: a 95% CI overlaps the bound; add replications or lengthen the runs"
                }
            );
            if o.range_exhausted {
                let _ = writeln!(
                    s,
                    "note: the range ended before the SLO stopped holding; the true {goal} value may lie beyond it"
                );
            }
        }
        None => {
            let _ = writeln!(
                s,
                "answer: none — no probed value in range meets {}",
                slos.join(" and ")
            );
        }
    }
    s
}

/// The knee-finder flags of `run`.
#[derive(Clone, Debug, Default)]
pub struct KneeArgs {
    /// `--find-min PATH`.
    pub find_min: Option<String>,
    /// `--find-max PATH`.
    pub find_max: Option<String>,
    /// `--slo TEXT`, repeatable.
    pub slo: Vec<String>,
    /// `--low N`.
    pub low: Option<u64>,
    /// `--high N`.
    pub high: Option<u64>,
}

impl KneeArgs {
    /// Whether any knee-finder flag was given.
    pub fn has_flags(&self) -> bool {
        self.find_min.is_some()
            || self.find_max.is_some()
            || !self.slo.is_empty()
            || self.low.is_some()
            || self.high.is_some()
    }

    /// The search: the flags over the file's `search` section (flags win field by field).
    pub fn resolve(&self, section: Option<&Search>, replications: Option<u32>) -> Result<Search> {
        let (param, goal) = match (&self.find_min, &self.find_max, section) {
            (Some(p), None, _) => (p.clone(), Goal::Min),
            (None, Some(p), _) => (p.clone(), Goal::Max),
            (Some(_), Some(_), _) => bail!("give --find-min or --find-max, not both"),
            (None, None, Some(s)) => (s.param.clone(), s.goal),
            (None, None, None) => bail!(
                "--slo, --low and --high need --find-min PATH or --find-max PATH (or a `search` \
                 section in the scenario)"
            ),
        };
        let slo = if self.slo.is_empty() {
            section.map(|s| s.slo.clone()).unwrap_or_default()
        } else {
            self.slo
                .iter()
                .map(|t| t.parse::<Slo>().map_err(|e| anyhow::anyhow!("--slo: {e}")))
                .collect::<Result<Vec<_>>>()?
        };
        Ok(Search {
            param,
            goal,
            slo,
            low: self.low.or(section.map(|s| s.low)).unwrap_or(1),
            high: self.high.or(section.and_then(|s| s.high)),
            replications: replications
                .or(section.map(|s| s.replications))
                .unwrap_or(5),
        })
    }
}

/// The resolved search as command-line flags (for the manifest's reproducible command), shell
/// quoted; `--replications` only when `with_replications` (the caller's command may already
/// hold it).
pub fn search_flags(s: &Search, with_replications: bool) -> String {
    let mut words = vec![
        match s.goal {
            Goal::Min => "--find-min".to_owned(),
            Goal::Max => "--find-max".to_owned(),
        },
        crate::shard::shell_quote(&s.param),
    ];
    for slo in &s.slo {
        words.extend([
            "--slo".to_owned(),
            crate::shard::shell_quote(&slo.to_string()),
        ]);
    }
    words.extend(["--low".to_owned(), s.low.to_string()]);
    if let Some(h) = s.high {
        words.extend(["--high".to_owned(), h.to_string()]);
    }
    if with_replications {
        words.extend(["--replications".to_owned(), s.replications.to_string()]);
    }
    words.join(" ")
}

/// Everything `run` passes to a search.
#[derive(Debug)]
pub struct SearchCli<'a> {
    /// The scenario after `--set`.
    pub raw: &'a Scenario,
    /// Its file.
    pub file: &'a Path,
    /// The flags.
    pub knee: KneeArgs,
    /// `--out`.
    pub out: Option<std::path::PathBuf>,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--replications`.
    pub replications: Option<u32>,
    /// `--threads`.
    pub threads: Option<usize>,
    /// `--quiet`.
    pub quiet: bool,
    /// `--html`: also write report.html.
    pub html: bool,
    /// The canonical command line (for the manifest).
    pub command: String,
}

/// `run` with a search: bisects, prints the summary, writes `search.csv` and the usual reports
/// (one point per probed value).
pub fn cli(c: SearchCli<'_>, stop: &AtomicBool) -> Result<std::process::ExitCode> {
    use std::process::ExitCode;
    let search = match c.knee.resolve(c.raw.search.as_ref(), c.replications) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let req = SearchRun {
        base: c.raw,
        file: c.file,
        search: &search,
        seed: c.seed,
        threads: c.threads,
    };
    let outcome = match run(&req, stop) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(1));
        }
    };
    let out_dir = c
        .out
        .unwrap_or_else(|| std::path::PathBuf::from("runs").join(&c.raw.name));
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let seed = c.seed.unwrap_or(c.raw.seed);
    let (plan, results) = as_plan(c.raw, &outcome, seed);
    let command = format!(
        "{} {}",
        c.command,
        search_flags(&search, c.replications.is_none())
    );
    crate::report::write_all(&out_dir, &plan, &results, c.file, &command)?;
    let p = out_dir.join("search.csv");
    crate::atomic::write_atomic(&p, &search_csv(&outcome)?)
        .with_context(|| format!("writing {}", p.display()))?;
    if c.html {
        crate::html::write_report(&out_dir, &out_dir)?;
    }
    let text = render(&outcome);
    if c.quiet {
        if let Some(line) = text.lines().find(|l| l.starts_with("answer:")) {
            println!("{line}");
        }
    } else {
        print!("{text}");
    }
    eprintln!("reports written to {}", out_dir.display());
    Ok(if outcome.answer.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
