//! Sharded sweeps (`run --shard K/N` + `merge`): for every shard count from 1 to 7 the merged
//! reports are byte-identical to an unsharded run; merge refuses mixed sweeps, lists missing
//! and duplicated runs; a shard resumes from its journal; the binary does the same end to end.
//! A test against a real single-node Slurm runs only with `CLUSTERSIM_SLURM_TESTS=1` (see
//! `scripts/slurm-local.sh`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;

use clustersim_analysis::report;
use clustersim_analysis::shard::{self, ShardSpec};
use clustersim_analysis::sweep::{self, ExecOptions, JOURNAL, Plan};
use clustersim_tests::{SHORT, TempDir, load_with, read_text, scenarios_dir};

use crate::cli::binary;

/// Every report merge must reproduce byte for byte.
const REPORTS: &[&str] = &[
    "summary.csv",
    "points.csv",
    "components.csv",
    "timeseries.csv",
    "metrics.csv",
    "latency_cdf.csv",
    "manifest.ron",
];

fn scenario() -> PathBuf {
    scenarios_dir().join("monolith_vs_microservices.ron")
}

/// The overrides of every sweep here: shortened, two replications (4 points, 8 runs).
fn sets() -> Vec<String> {
    SHORT
        .iter()
        .copied()
        .chain(["sweep.replications=2"])
        .map(str::to_owned)
        .collect()
}

fn plan(seed: Option<u64>) -> Plan {
    let sets = sets();
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let raw = load_with(&scenario(), &sets).unwrap_or_else(|e| panic!("{e}"));
    let plan = sweep::plan(raw, &scenario(), None, seed).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((plan.points.len(), plan.replications), (4, 2));
    plan
}

fn command(seed: Option<u64>) -> String {
    shard::canonical_command(&scenario(), seed, &sets(), None)
}

fn opts(out: &Path, resume: bool) -> ExecOptions {
    ExecOptions {
        threads: Some(2),
        out_dir: out.to_path_buf(),
        resume,
        progress: false,
    }
}

/// An unsharded run of `plan`, reports written to `out`.
fn unsharded(plan: &Plan, seed: Option<u64>, out: &Path) {
    let done = sweep::execute(plan, &opts(out, false), &AtomicBool::new(false))
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(done.results.len(), 8);
    report::write_all(out, plan, &done.results, &scenario(), &command(seed))
        .unwrap_or_else(|e| panic!("{e:#}"));
}

/// Runs shard `k` of `n` of `plan` into `out`.
fn run_shard(plan: &Plan, seed: Option<u64>, k: usize, n: usize, out: &Path) -> usize {
    let spec = ShardSpec::new(k, n).unwrap_or_else(|e| panic!("{e}"));
    let done = shard::execute_shard(
        plan,
        spec,
        &scenario(),
        &command(seed),
        &opts(out, false),
        &AtomicBool::new(false),
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(!done.interrupted);
    assert!(done.results.iter().all(|r| r.failure.is_none()));
    done.results.len()
}

fn assert_same_reports(a: &Path, b: &Path, what: &str) {
    for name in REPORTS {
        let (x, y) = (read_text(&a.join(name)), read_text(&b.join(name)));
        assert!(x.lines().count() > 1, "{name} has no rows:\n{x}");
        if x != y {
            let line = x.lines().zip(y.lines()).position(|(p, q)| p != q);
            panic!("{what}: {name} differs (first differing line: {line:?})");
        }
    }
}

fn shard_dirs(root: &TempDir, n: usize) -> Vec<PathBuf> {
    (0..n).map(|k| root.join(&format!("shard-{k}"))).collect()
}

#[test]
fn every_shard_count_from_1_to_7_merges_to_the_unsharded_bytes() {
    let plan = plan(None);
    let whole = TempDir::new("shards-whole");
    unsharded(&plan, None, whole.path());
    for n in 1..=7 {
        let root = TempDir::new(&format!("shards-{n}"));
        let dirs = shard_dirs(&root, n);
        let sizes: Vec<usize> = dirs
            .iter()
            .enumerate()
            .map(|(k, d)| run_shard(&plan, None, k, n, d))
            .collect();
        // Every run in exactly one shard, sizes balanced to within one run.
        assert_eq!(sizes.iter().sum::<usize>(), 8, "{n} shards: {sizes:?}");
        let (lo, hi) = (sizes.iter().min(), sizes.iter().max());
        assert!(hi.zip(lo).is_some_and(|(h, l)| h - l <= 1), "{sizes:?}");
        let merged = root.join("merged");
        let m = shard::merge(&merged, &dirs).unwrap_or_else(|e| panic!("{n} shards: {e:#}"));
        assert_eq!(m.results.len(), 8);
        assert_same_reports(whole.path(), &merged, &format!("{n} shards"));
    }
}

#[test]
fn slices_interleave_points_and_the_manifest_lists_the_runs() {
    let plan = plan(None);
    let two: Vec<(usize, u32)> = shard::slice(&plan, ShardSpec::new(1, 2).expect("1/2"))
        .into_iter()
        .map(|(p, r, _)| (p, r))
        .collect();
    assert_eq!(two, vec![(0, 1), (1, 1), (2, 1), (3, 1)]);
    let three: Vec<(usize, u32)> = shard::slice(&plan, ShardSpec::new(0, 3).expect("0/3"))
        .into_iter()
        .map(|(p, r, _)| (p, r))
        .collect();
    assert_eq!(three, vec![(0, 0), (1, 1), (3, 0)]);

    let root = TempDir::new("shards-manifest");
    run_shard(&plan, None, 0, 3, root.path());
    let m = read_text(&root.join(shard::SHARD_MANIFEST));
    assert!(
        m.contains(&format!("fingerprint: \"{}\"", plan.fingerprint())),
        "{m}"
    );
    assert!(m.contains("shard: 0,") && m.contains("shards: 3,"), "{m}");
    assert!(m.contains("runs: [") && m.contains("(3, 0)"), "{m}");
    let header = read_text(&root.join(JOURNAL));
    assert!(
        header.starts_with(&format!(
            "# clustersim journal v1 fingerprint={} shard=0/3\n",
            plan.fingerprint()
        )),
        "{header}"
    );
}

#[test]
fn merge_refuses_mixed_scenarios() {
    let root = TempDir::new("shards-mixed");
    let dirs = shard_dirs(&root, 2);
    run_shard(&plan(None), None, 0, 2, &dirs[0]);
    run_shard(&plan(Some(7)), Some(7), 1, 2, &dirs[1]);
    let out = root.join("merged");
    let err = format!("{:#}", shard::merge(&out, &dirs).expect_err("mixed sweeps"));
    assert!(err.contains("different sweeps"), "{err}");
    assert!(
        !out.join("summary.csv").exists(),
        "a refused merge wrote reports"
    );

    let err = format!(
        "{:#}",
        shard::merge(&out, &[root.path().to_path_buf()]).expect_err("not a shard")
    );
    assert!(err.contains("is not a shard folder"), "{err}");
}

#[test]
fn merge_lists_missing_and_duplicated_runs() {
    let plan = plan(None);
    let root = TempDir::new("shards-missing");
    let dirs = shard_dirs(&root, 3);
    for (k, d) in dirs.iter().enumerate() {
        run_shard(&plan, None, k, 3, d);
    }
    let out = root.join("merged");
    // Shard 2 of 3 holds runs 2 and 5 of report order: (1, 0) and (2, 1).
    let err = format!(
        "{:#}",
        shard::merge(&out, &dirs[..2]).expect_err("a shard is missing")
    );
    assert!(err.contains("2 run(s) missing"), "{err}");
    assert!(
        err.contains("point 1 replication 0 (shard 2 of 3)")
            && err.contains("point 2 replication 1 (shard 2 of 3)"),
        "{err}"
    );
    let twice = [dirs.clone(), vec![dirs[1].clone()]].concat();
    let err = format!(
        "{:#}",
        shard::merge(&out, &twice).expect_err("a shard is given twice")
    );
    assert!(err.contains("3 run(s) present more than once"), "{err}");
    assert!(err.contains("point 0 replication 1 (in "), "{err}");
    assert!(!err.contains("run(s) missing"), "{err}");
    assert!(!out.join("summary.csv").exists());
}

#[test]
fn a_shard_resumes_from_its_journal_and_refuses_another_slice() {
    let plan = plan(None);
    let root = TempDir::new("shards-resume");
    let dirs = shard_dirs(&root, 2);
    run_shard(&plan, None, 0, 2, &dirs[0]);
    run_shard(&plan, None, 1, 2, &dirs[1]);
    let merged = root.join("merged-first");
    shard::merge(&merged, &dirs).unwrap_or_else(|e| panic!("{e:#}"));

    // Shard 1 was killed after one run, with the second half written.
    let journal = dirs[1].join(JOURNAL);
    let text = read_text(&journal);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 4, "{text}");
    std::fs::write(
        &journal,
        format!("{}\n{}\n{}", lines[0], lines[1], &lines[2][..30]),
    )
    .expect("cut the journal");
    let err = format!(
        "{:#}",
        shard::merge(&root.join("early"), &dirs).expect_err("an unfinished shard")
    );
    assert!(err.contains("3 run(s) missing"), "{err}");

    let spec = ShardSpec::new(1, 2).expect("1/2");
    let stop = AtomicBool::new(false);
    let done = shard::execute_shard(
        &plan,
        spec,
        &scenario(),
        &command(None),
        &opts(&dirs[1], true),
        &stop,
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!((done.resumed, done.results.len()), (1, 4));
    let again = root.join("merged-again");
    shard::merge(&again, &dirs).unwrap_or_else(|e| panic!("{e:#}"));
    assert_same_reports(&merged, &again, "after resuming a shard");

    // The journal of shard 1/2 is not resumed as shard 0/2.
    let other = ShardSpec::new(0, 2).expect("0/2");
    let err = shard::execute_shard(
        &plan,
        other,
        &scenario(),
        &command(None),
        &opts(&dirs[1], true),
        &stop,
    )
    .expect_err("another slice");
    assert!(format!("{err:#}").contains("different scenario, seed, sweep or shard"));
}

// ---- the binary -------------------------------------------------------------------------

/// Runs the binary in `cwd`; returns (exit code, stdout, stderr).
fn clustersim(cwd: &Path, args: &[String]) -> (Option<i32>, String, String) {
    let out = Command::new(binary())
        .args(args)
        .current_dir(cwd)
        .env("CI", "true")
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", binary().display()));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn words(s: &[&str]) -> Vec<String> {
    s.iter().map(|w| (*w).to_owned()).collect()
}

/// `run` arguments shared by the sharded and unsharded invocations (flag order differs on
/// purpose: the recorded command is canonical).
fn run_args(file: &str) -> Vec<String> {
    let mut a = words(&["run", file]);
    for s in sets() {
        a.extend(["--set".to_owned(), s]);
    }
    a
}

#[test]
fn the_binary_shards_and_merges_to_identical_bytes() {
    let root = TempDir::new("shards-cli");
    let file = scenario().to_string_lossy().into_owned();
    let mut whole = words(&["--quiet", "--threads", "2", "--out", "whole"]);
    whole.splice(0..0, run_args(&file));
    let (code, _, err) = clustersim(root.path(), &whole);
    assert_eq!(code, Some(0), "{err}");
    let mut merge = words(&["merge", "merged"]);
    for k in 0..3 {
        let mut a = words(&[
            "--shard",
            &format!("{k}/3"),
            "--out",
            &format!("s{k}"),
            "--threads",
            "1",
        ]);
        a.splice(0..0, run_args(&file));
        let (code, _, err) = clustersim(root.path(), &a);
        assert_eq!(code, Some(0), "{err}");
        assert!(err.contains(&format!("shard {k}/3:")), "{err}");
        merge.push(format!("s{k}"));
    }
    let (code, _, err) = clustersim(root.path(), &merge);
    assert_eq!(code, Some(0), "{err}");
    assert_same_reports(
        &root.join("whole"),
        &root.join("merged"),
        "binary, 3 shards",
    );
    let manifest = read_text(&root.join("merged").join("manifest.ron"));
    assert!(
        !manifest.contains("--shard") && !manifest.contains("--out"),
        "{manifest}"
    );

    // A missing shard: exit code 1 and the run list.
    let (code, _, err) = clustersim(root.path(), &words(&["merge", "m2", "s0", "s2"]));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("run(s) missing") && err.contains("(shard 1 of 3)"),
        "{err}"
    );

    // K must be below N; N at least 1 (usage errors: exit code 2).
    for (bad, msg) in [("3/3", "from 0 to 2"), ("0/0", "at least 1"), ("1", "K/N")] {
        let mut a = run_args(&file);
        a.extend(words(&["--shard", bad, "--out", "bad"]));
        let (code, _, err) = clustersim(root.path(), &a);
        assert_eq!(code, Some(2), "--shard {bad}: {err}");
        assert!(err.contains(msg), "--shard {bad}: {err}");
    }
}

#[test]
fn the_binary_writes_slurm_scripts() {
    let root = TempDir::new("shards-slurm-scripts");
    let file = scenario().to_string_lossy().into_owned();
    let args = words(&[
        "slurm",
        &file,
        "--shards",
        "4",
        "--partition",
        "debug",
        "--time",
        "00:10:00",
        "--cpus",
        "2",
        "--out",
        "job",
        "--bin",
        "/opt/clustersim",
    ]);
    let (code, out, err) = clustersim(root.path(), &args);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.trim(), "sh job/submit.sh", "{out}");
    assert!(err.contains("sbatch --array=3,5 job/run.sbatch"), "{err}");
    let run = read_text(&root.join("job/run.sbatch"));
    assert!(run.contains("#SBATCH --array=0-3\n"), "{run}");
    assert!(
        run.contains("--shard \"${SLURM_ARRAY_TASK_ID}/4\""),
        "{run}"
    );
    assert!(read_text(&root.join("job/submit.sh")).contains("--dependency=afterok:"));
    assert!(root.join("job/logs").is_dir());
    let (code, _, err) = clustersim(root.path(), &words(&["slurm", &file, "--shards", "0"]));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--shards must be at least 1"), "{err}");
}

/// Submits the generated scripts to a real Slurm (see `scripts/slurm-local.sh`) and checks
/// the merged reports equal an unsharded run. Opt-in: `CLUSTERSIM_SLURM_TESTS=1`.
#[test]
fn a_real_slurm_runs_the_array_and_the_merge() {
    if std::env::var_os("CLUSTERSIM_SLURM_TESTS").is_none_or(|v| v != "1") {
        eprintln!("skipped: set CLUSTERSIM_SLURM_TESTS=1 to submit to a local Slurm");
        return;
    }
    let root = TempDir::new("shards-slurm");
    let file = scenario().to_string_lossy().into_owned();
    let mut whole = run_args(&file);
    whole.extend(words(&["--quiet", "--out", "whole"]));
    let (code, _, err) = clustersim(root.path(), &whole);
    assert_eq!(code, Some(0), "{err}");
    let mut args = words(&["slurm", &file, "--shards", "3", "--out", "job"]);
    args.extend(words(&["--bin", &binary().to_string_lossy()]));
    for s in sets() {
        args.extend(["--set".to_owned(), s]);
    }
    let (code, _, err) = clustersim(root.path(), &args);
    assert_eq!(code, Some(0), "{err}");
    let submit = Command::new("sh")
        .arg(root.join("job/submit.sh"))
        .current_dir(root.path())
        .output()
        .expect("running submit.sh");
    assert!(
        submit.status.success(),
        "submit.sh failed:\n{}",
        String::from_utf8_lossy(&submit.stderr)
    );
    let manifest = root.join("job/merged/manifest.ron");
    // Up to ten minutes, polling every two seconds.
    for _ in 0..300 {
        if manifest.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
    assert!(
        manifest.exists(),
        "no merged reports after 10 minutes; see {}/job/logs",
        root.path().display()
    );
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_same_reports(
        &root.join("whole"),
        &root.join("job/merged"),
        "Slurm, 3 shards",
    );
}
