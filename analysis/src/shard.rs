//! Sweeps beyond one machine: run one slice of a sweep (`run --shard K/N`), then merge the
//! slices (`merge OUT SHARD_DIR...`) into reports byte-identical to an unsharded run.
//!
//! **Slicing.** Shards are numbered from 0 (`K` in `0..N`, as Slurm's `--array=0-(N-1)` and
//! Kubernetes' `JOB_COMPLETION_INDEX`). Run number `i` of [`Plan::runs`] (report order: point
//! by point, replication by replication) belongs to shard `i mod N`: every run is in exactly
//! one shard, shard sizes differ by at most one, and the replications of one (possibly heavy)
//! point land on different shards.
//!
//! **A shard folder** holds `journal.ronl` (one [`RunResult`] per line, under a header naming
//! the fingerprint and the shard, so a shard resumes with `--resume` and never resumes another
//! slice), `scenario.ron` (the resolved scenario the plan was made from) and `shard.ron` (a
//! [`ShardManifest`]: fingerprint, `N`, `K`, the runs it holds, the clustersim version).
//!
//! **Merging** reads those files only (it never runs a simulation), re-plans the stored
//! scenario, checks that the fingerprint, the version and the shard count agree and that every
//! run is present exactly once, and writes the reports with [`report::write_all`]. The
//! manifest's `command` is the canonical, result-determining command
//! ([`canonical_command`]) that `run` records too, so the merged `manifest.ron` equals an
//! unsharded run's byte for byte.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use clustersim_scenarios::load;
use clustersim_scenarios::raw::Scenario;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;
use crate::journal::Journal;
use crate::report;
use crate::result::RunResult;
use crate::sweep::{self, ExecOptions, Executed, JOURNAL, Plan};

/// File name of the shard manifest inside a shard folder.
pub const SHARD_MANIFEST: &str = "shard.ron";
/// File name of the resolved scenario inside a shard folder.
pub const SHARD_SCENARIO: &str = "scenario.ron";

/// Which slice of a sweep to run: shard `index` (0-based) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardSpec {
    /// `K`, in `0..count`.
    pub index: usize,
    /// `N`, at least 1.
    pub count: usize,
}

impl ShardSpec {
    /// Shard `index` of `count`, checked: `count ≥ 1` and `index < count`.
    ///
    /// # Errors
    /// A message saying which bound is violated.
    pub fn new(index: usize, count: usize) -> Result<Self, String> {
        if count == 0 {
            return Err("the shard count N must be at least 1".into());
        }
        if index >= count {
            return Err(format!(
                "shard index {index} is out of range: shards are numbered from 0 to {} (K/N with K < N)",
                count - 1
            ));
        }
        Ok(Self { index, count })
    }
}

impl FromStr for ShardSpec {
    type Err = String;

    /// Parses `K/N`, e.g. `0/4` (the first of four shards).
    fn from_str(s: &str) -> Result<Self, String> {
        let Some((k, n)) = s.split_once('/') else {
            return Err(format!(
                "`{s}` is not K/N: write e.g. `0/4` for the first of four shards (K counts from 0)"
            ));
        };
        let k: usize = k
            .trim()
            .parse()
            .map_err(|_| format!("shard index `{k}` in `{s}` is not a whole number"))?;
        let n: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("shard count `{n}` in `{s}` is not a whole number"))?;
        Self::new(k, n)
    }
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The runs of `plan` that belong to `shard`, in report order (see the
/// [module documentation](self)).
pub fn slice(plan: &Plan, shard: ShardSpec) -> Vec<(usize, u32, u64)> {
    plan.runs()
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % shard.count == shard.index)
        .map(|(_, r)| r)
        .collect()
}

/// What `shard.ron` records about one shard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardManifest {
    /// Version of the clustersim that ran the shard.
    pub clustersim_version: String,
    /// [`Plan::fingerprint`] of the whole sweep.
    pub fingerprint: String,
    /// `K` (0-based).
    pub shard: usize,
    /// `N`.
    pub shards: usize,
    /// The scenario file as given on the command line.
    pub scenario_file: String,
    /// The canonical command of the unsharded equivalent ([`canonical_command`]).
    pub command: String,
    /// Replications per point.
    pub replications: u32,
    /// Master seed.
    pub master_seed: u64,
    /// `(point, replication)` of every run the shard holds.
    pub runs: Vec<(usize, u32)>,
}

/// Quotes `a` for a POSIX shell when it holds anything but plain path characters.
pub fn shell_quote(a: &str) -> String {
    if !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+".contains(c))
    {
        a.to_owned()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

/// The command recorded in `manifest.ron`: `clustersim run FILE` plus only the flags that
/// change results (`--seed`, `--replications`, `--set` in the order given), never where or how
/// the runs were executed (`--out`, `--threads`, `--resume`, `--quiet`, `--shard`). Sharded
/// and unsharded runs of the same sweep therefore record the same command.
pub fn canonical_command(
    file: &Path,
    seed: Option<u64>,
    set: &[String],
    replications: Option<u32>,
) -> String {
    let mut words = vec![
        "clustersim".to_owned(),
        "run".to_owned(),
        shell_quote(&file.display().to_string()),
    ];
    if let Some(s) = seed {
        words.extend(["--seed".to_owned(), s.to_string()]);
    }
    if let Some(r) = replications {
        words.extend(["--replications".to_owned(), r.to_string()]);
    }
    for s in set {
        words.extend(["--set".to_owned(), shell_quote(s)]);
    }
    words.join(" ")
}

fn journal_header(plan: &Plan, shard: ShardSpec) -> String {
    format!(
        "# clustersim journal v1 fingerprint={} shard={shard}",
        plan.fingerprint()
    )
}

/// Runs the slice `shard` of `plan` into `opts.out_dir`: writes `scenario.ron` and `shard.ron`,
/// then runs (in parallel) every run of the slice not already in the shard's journal. Stops
/// starting new runs once `stop` is set. The returned results are those of the slice only.
///
/// # Errors
/// I/O errors, or a journal that belongs to another sweep or another shard when resuming.
pub fn execute_shard(
    plan: &Plan,
    shard: ShardSpec,
    scenario_file: &Path,
    command: &str,
    opts: &ExecOptions,
    stop: &AtomicBool,
) -> Result<Executed> {
    let out = &opts.out_dir;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let runs = slice(plan, shard);
    let manifest = ShardManifest {
        clustersim_version: env!("CARGO_PKG_VERSION").to_owned(),
        fingerprint: plan.fingerprint(),
        shard: shard.index,
        shards: shard.count,
        scenario_file: scenario_file.display().to_string(),
        command: command.to_owned(),
        replications: plan.replications,
        master_seed: plan.master_seed,
        runs: runs.iter().map(|&(p, r, _)| (p, r)).collect(),
    };
    let write = |name: &str, text: String| -> Result<()> {
        let p = out.join(name);
        write_atomic(&p, text.as_bytes()).with_context(|| format!("writing {}", p.display()))
    };
    write(SHARD_SCENARIO, load::to_pretty_ron(&plan.base))?;
    write(SHARD_MANIFEST, load::to_pretty_ron(&manifest))?;
    execute_runs(plan, &runs, &journal_header(plan, shard), opts, stop)
}

/// Runs `runs` (a subset of `plan.runs()`) with the journal at `opts.out_dir/journal.ronl`
/// headed by `header` (the same protocol as [`sweep::execute`]).
pub(crate) fn execute_runs(
    plan: &Plan,
    runs: &[(usize, u32, u64)],
    header: &str,
    opts: &ExecOptions,
    stop: &AtomicBool,
) -> Result<Executed> {
    let journal_path = opts.out_dir.join(JOURNAL);
    if !opts.resume && journal_path.exists() {
        std::fs::remove_file(&journal_path)
            .with_context(|| format!("removing {}", journal_path.display()))?;
    }
    let (mut journal, lines) = Journal::open(&journal_path)
        .with_context(|| format!("opening {}", journal_path.display()))?;
    let mut done: Vec<RunResult> = Vec::new();
    match lines.first() {
        None => journal.append(header)?,
        Some(first) if first == header => {
            for (n, line) in lines.iter().enumerate().skip(1) {
                let r: RunResult = ron::from_str(line).with_context(|| {
                    format!(
                        "{}:{}: unreadable journal entry",
                        journal_path.display(),
                        n + 1
                    )
                })?;
                if runs
                    .iter()
                    .any(|&(p, rep, _)| (p, rep) == (r.point, r.replication))
                    && !done
                        .iter()
                        .any(|d| (d.point, d.replication) == (r.point, r.replication))
                {
                    done.push(r);
                }
            }
        }
        Some(_) => bail!(
            "{} belongs to a different scenario, seed, sweep or shard; run without --resume to start over, or use another --out",
            journal_path.display()
        ),
    }
    let mut todo: Vec<(usize, u32, u64)> = runs
        .iter()
        .copied()
        .filter(|&(p, r, _)| !done.iter().any(|d| (d.point, d.replication) == (p, r)))
        .collect();
    let resumed = runs.len() - todo.len();
    // Longest runs first (by a static estimate), so the last runs to finish are short ones and
    // no thread idles at the end. Only the execution order changes: results are sorted by
    // (point, replication) before anything is written.
    let cost: Vec<f64> = plan
        .points
        .iter()
        .map(|p| sweep::estimated_cost(&p.spec))
        .collect();
    todo.sort_by(|a, b| cost[b.0].total_cmp(&cost[a.0]));
    let bar = if opts.progress {
        let b =
            ProgressBar::with_draw_target(Some(runs.len() as u64), ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} runs  {per_sec}  eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b.set_position(resumed as u64);
        b
    } else {
        ProgressBar::hidden()
    };
    let journal = Mutex::new(journal);
    let fresh = Mutex::new(Vec::with_capacity(todo.len()));
    let errors = Mutex::new(Vec::<String>::new());
    let work = || {
        todo.par_iter().for_each(|&(p, r, seed)| {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let res = sweep::run_one(&plan.points[p], r, seed);
            let appended = ron::to_string(&res)
                .map_err(|e| e.to_string())
                .and_then(|line| {
                    journal
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .append(&line)
                        .map_err(|e| e.to_string())
                });
            if let Err(e) = appended {
                errors.lock().unwrap_or_else(|e| e.into_inner()).push(e);
            }
            fresh.lock().unwrap_or_else(|e| e.into_inner()).push(res);
            bar.inc(1);
        });
    };
    match opts.threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .context("starting worker threads")?
            .install(work),
        None => work(),
    }
    bar.finish_and_clear();
    if let Some(e) = errors
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .first()
    {
        bail!("could not write the journal: {e}");
    }
    let mut results = done;
    results.extend(fresh.into_inner().unwrap_or_else(|e| e.into_inner()));
    results.sort_by_key(|r| (r.point, r.replication));
    let interrupted = results.len() < runs.len();
    Ok(Executed {
        results,
        resumed,
        interrupted,
    })
}

/// Everything read back from a set of shard folders, ready to be written as reports.
#[derive(Debug)]
pub struct Merged {
    /// The sweep, re-planned from the stored scenario.
    pub plan: Plan,
    /// Every run, sorted by (point, replication).
    pub results: Vec<RunResult>,
    /// The scenario file as the shards recorded it.
    pub scenario_file: PathBuf,
    /// The canonical command the shards recorded.
    pub command: String,
}

fn label(p: usize, r: u32) -> String {
    format!("point {p} replication {r}")
}

/// One shard folder, read.
struct ShardData {
    dir: PathBuf,
    manifest: ShardManifest,
    results: Vec<RunResult>,
}

fn read_shard(dir: &Path) -> Result<ShardData> {
    let mpath = dir.join(SHARD_MANIFEST);
    if !mpath.is_file() {
        bail!(
            "{} is not a shard folder: it has no {SHARD_MANIFEST} (shard folders are written by `clustersim run FILE --shard K/N --out DIR`)",
            dir.display()
        );
    }
    let manifest: ShardManifest = load::from_file(&mpath).map_err(|e| anyhow::anyhow!("{e}"))?;
    let jpath = dir.join(JOURNAL);
    let text = match std::fs::read_to_string(&jpath) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", jpath.display())),
    };
    // Only complete lines count: a torn last line (a crash mid-write) is a run not finished.
    let complete = text.rfind('\n').map_or("", |i| &text[..i]);
    let mut lines = complete.lines();
    let expected = format!(
        "# clustersim journal v1 fingerprint={} shard={}/{}",
        manifest.fingerprint, manifest.shard, manifest.shards
    );
    let mut results = Vec::new();
    match lines.next() {
        None => {}
        Some(h) if h == expected => {
            for (n, line) in lines.enumerate() {
                let r: RunResult = ron::from_str(line).with_context(|| {
                    format!("{}:{}: unreadable journal entry", jpath.display(), n + 2)
                })?;
                results.push(r);
            }
        }
        Some(h) => bail!(
            "{} does not match {}: its header is `{h}`, expected `{expected}`",
            jpath.display(),
            mpath.display()
        ),
    }
    Ok(ShardData {
        dir: dir.to_path_buf(),
        manifest,
        results,
    })
}

/// Reads shard folders and checks they form exactly one whole sweep: same fingerprint, same
/// clustersim version (this binary's), same shard count, and every run of the sweep present
/// exactly once.
///
/// # Errors
/// A folder that is not a shard, mixed scenarios or versions, or a message listing every
/// missing run (with the shard that should hold it) and every duplicated run (with the
/// folders holding it).
pub fn load_shards(dirs: &[PathBuf]) -> Result<Merged> {
    if dirs.is_empty() {
        bail!("no shard folders given");
    }
    let shards = dirs
        .iter()
        .map(|d| read_shard(d))
        .collect::<Result<Vec<_>>>()?;
    let first = &shards[0];
    let version = env!("CARGO_PKG_VERSION");
    for s in &shards {
        if s.manifest.clustersim_version != version {
            bail!(
                "{} was written by clustersim {}, but this is clustersim {version}: merge with the same version that ran the shards",
                s.dir.display(),
                s.manifest.clustersim_version
            );
        }
        if s.manifest.fingerprint != first.manifest.fingerprint {
            bail!(
                "the shards belong to different sweeps: {} has fingerprint {} but {} has {} (different scenario, overrides, seed or replications)",
                first.dir.display(),
                first.manifest.fingerprint,
                s.dir.display(),
                s.manifest.fingerprint
            );
        }
        if s.manifest.shards != first.manifest.shards {
            bail!(
                "the shards were cut differently: {} is shard {} of {} but {} is shard {} of {}",
                first.dir.display(),
                first.manifest.shard,
                first.manifest.shards,
                s.dir.display(),
                s.manifest.shard,
                s.manifest.shards
            );
        }
    }
    let spath = first.dir.join(SHARD_SCENARIO);
    let base: Scenario = load::from_file(&spath).map_err(|e| anyhow::anyhow!("{e}"))?;
    let plan = sweep::plan(base, &spath, Some(first.manifest.replications), None)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if plan.fingerprint() != first.manifest.fingerprint {
        bail!(
            "{} does not reproduce fingerprint {} recorded in {} (got {}); the shard folder was modified",
            spath.display(),
            first.manifest.fingerprint,
            first.dir.join(SHARD_MANIFEST).display(),
            plan.fingerprint()
        );
    }

    let runs = plan.runs();
    let count = first.manifest.shards;
    let mut seen: BTreeMap<(usize, u32), Vec<&Path>> = BTreeMap::new();
    let mut results = Vec::with_capacity(runs.len());
    for s in &shards {
        for r in &s.results {
            seen.entry((r.point, r.replication))
                .or_default()
                .push(&s.dir);
            results.push(r.clone());
        }
    }
    let mut problems = Vec::new();
    let missing: Vec<String> = runs
        .iter()
        .enumerate()
        .filter(|(_, (p, r, _))| !seen.contains_key(&(*p, *r)))
        .map(|(i, (p, r, _))| format!("{} (shard {} of {count})", label(*p, *r), i % count))
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "{} run(s) missing: {}",
            missing.len(),
            missing.join(", ")
        ));
    }
    let duplicated: Vec<String> = seen
        .iter()
        .filter(|(_, dirs)| dirs.len() > 1)
        .map(|((p, r), dirs)| {
            let ds: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            format!("{} (in {})", label(*p, *r), ds.join(", "))
        })
        .collect();
    if !duplicated.is_empty() {
        problems.push(format!(
            "{} run(s) present more than once: {}",
            duplicated.len(),
            duplicated.join(", ")
        ));
    }
    let unknown: Vec<String> = seen
        .keys()
        .filter(|(p, r)| !runs.iter().any(|(q, s, _)| (q, s) == (p, r)))
        .map(|(p, r)| label(*p, *r))
        .collect();
    if !unknown.is_empty() {
        problems.push(format!(
            "{} run(s) not in the sweep: {}",
            unknown.len(),
            unknown.join(", ")
        ));
    }
    if !problems.is_empty() {
        bail!("cannot merge:\n  {}", problems.join("\n  "));
    }
    results.sort_by_key(|r| (r.point, r.replication));
    Ok(Merged {
        plan,
        results,
        scenario_file: PathBuf::from(&first.manifest.scenario_file),
        command: first.manifest.command.clone(),
    })
}

/// Merges shard folders into `out`: the five reports (as [`report::write_all`] writes them for
/// an unsharded run) plus a `journal.ronl` in report order, so `run --resume --out OUT` treats
/// the merged sweep as finished.
///
/// # Errors
/// Everything [`load_shards`] refuses, and I/O errors.
pub fn merge(out: &Path, dirs: &[PathBuf]) -> Result<Merged> {
    let merged = load_shards(dirs)?;
    report::write_all(
        out,
        &merged.plan,
        &merged.results,
        &merged.scenario_file,
        &merged.command,
    )?;
    let mut journal = format!(
        "# clustersim journal v1 fingerprint={}\n",
        merged.plan.fingerprint()
    );
    for r in &merged.results {
        journal.push_str(&ron::to_string(r).context("serializing a run")?);
        journal.push('\n');
    }
    let jpath = out.join(JOURNAL);
    write_atomic(&jpath, journal.as_bytes())
        .with_context(|| format!("writing {}", jpath.display()))?;
    Ok(merged)
}

/// `clustersim run FILE --shard K/N`: runs the slice, prints where it went. Exit code 0 when
/// every run of the slice is journaled (failed runs are rows too: `merge` reports them), 1
/// when interrupted.
///
/// # Errors
/// As [`execute_shard`].
pub fn run_cli(
    plan: &Plan,
    shard: ShardSpec,
    file: &Path,
    command: &str,
    opts: &ExecOptions,
    stop: &AtomicBool,
) -> Result<ExitCode> {
    let done = execute_shard(plan, shard, file, command, opts, stop)?;
    let total = slice(plan, shard).len();
    if done.resumed > 0 {
        eprintln!(
            "resumed: {} of {total} runs were already finished",
            done.resumed
        );
    }
    let failed = done.results.iter().filter(|r| r.failure.is_some()).count();
    if failed > 0 {
        eprintln!("{failed} of {total} runs failed; `merge` will report them");
    }
    eprintln!(
        "shard {shard}: {} of {total} runs in {}",
        done.results.len(),
        opts.out_dir.display()
    );
    if done.interrupted {
        eprintln!("interrupted: run the same command with --resume to finish the shard");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// `clustersim merge OUT SHARD_DIR...`: exit code 0 when every run is present and succeeded,
/// 1 when some run failed (the reports are still written, as for `run`).
///
/// # Errors
/// As [`merge`] (the caller prints the message and exits with 1).
pub fn merge_cli(out: &Path, dirs: &[PathBuf]) -> Result<ExitCode> {
    let merged = merge(out, dirs)?;
    let total = merged.results.len();
    eprintln!(
        "merged {} shard folder(s), {total} runs: reports written to {}",
        dirs.len(),
        out.display()
    );
    let failed = merged
        .results
        .iter()
        .filter(|r| r.failure.is_some())
        .count();
    if failed > 0 {
        eprintln!("{failed} of {total} runs failed; see the `failure` column of summary.csv");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates_k_of_n() {
        assert_eq!(
            "2/5".parse::<ShardSpec>(),
            Ok(ShardSpec { index: 2, count: 5 })
        );
        assert_eq!(
            "0/1".parse::<ShardSpec>().map(|s| s.to_string()),
            Ok("0/1".into())
        );
        let e = "5/5".parse::<ShardSpec>().unwrap_err();
        assert!(e.contains("from 0 to 4"), "{e}");
        let e = "0/0".parse::<ShardSpec>().unwrap_err();
        assert!(e.contains("at least 1"), "{e}");
        assert!("3".parse::<ShardSpec>().unwrap_err().contains("K/N"));
        assert!(
            "a/3"
                .parse::<ShardSpec>()
                .unwrap_err()
                .contains("whole number")
        );
        assert!(
            "1/-3"
                .parse::<ShardSpec>()
                .unwrap_err()
                .contains("whole number")
        );
    }

    #[test]
    fn canonical_command_keeps_only_result_flags() {
        let c = canonical_command(
            Path::new("scenarios/mm1.ron"),
            Some(7),
            &["duration=3s".into(), "a b=c".into()],
            Some(2),
        );
        assert_eq!(
            c,
            "clustersim run scenarios/mm1.ron --seed 7 --replications 2 --set duration=3s --set 'a b=c'"
        );
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
