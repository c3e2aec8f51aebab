//! Reports through the real sweep path (`sweep::execute` + `report::write_all`): the bytes do
//! not depend on the thread count, repeat for the same seed, change with the seed, and an
//! interrupted sweep resumed from its journal gives the same reports as an uninterrupted one.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use clustersim_analysis::report;
use clustersim_analysis::sweep::{self, ExecOptions, Executed, JOURNAL, Plan};
use clustersim_tests::{SHORT, TempDir, load_with, read_text, same_result, scenarios_dir};

/// The CSV reports compared byte for byte.
const CSVS: &[&str] = &[
    "summary.csv",
    "points.csv",
    "components.csv",
    "timeseries.csv",
    "metrics.csv",
    "latency_cdf.csv",
];

/// The scenario swept here: four points, shortened, two replications (eight runs).
fn scenario() -> PathBuf {
    scenarios_dir().join("monolith_vs_microservices.ron")
}

/// The shortened sweep, with master seed `seed` (the file's when `None`).
fn plan(seed: Option<u64>) -> Plan {
    let file = scenario();
    let sets: Vec<&str> = SHORT
        .iter()
        .copied()
        .chain(["sweep.replications=2"])
        .collect();
    let raw = load_with(&file, &sets).unwrap_or_else(|e| panic!("{e}"));
    let plan = sweep::plan(raw, &file, None, seed).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((plan.points.len(), plan.replications), (4, 2));
    plan
}

/// Executes `plan` into `out` with `threads` workers, then writes every report there. Errors
/// are rendered with their causes.
fn execute(plan: &Plan, out: &Path, threads: usize, resume: bool) -> Result<Executed, String> {
    let opts = ExecOptions {
        threads: Some(threads),
        out_dir: out.to_path_buf(),
        resume,
        progress: false,
    };
    let done =
        sweep::execute(plan, &opts, &AtomicBool::new(false)).map_err(|e| format!("{e:#}"))?;
    report::write_all(
        out,
        plan,
        &done.results,
        &scenario(),
        "clustersim run (test)",
    )
    .map_err(|e| format!("{e:#}"))?;
    Ok(done)
}

/// Executes a fresh sweep and checks it finished every run.
fn execute_all(plan: &Plan, out: &Path, threads: usize) -> Executed {
    let done = execute(plan, out, threads, false).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(done.results.len(), 8);
    assert_eq!((done.resumed, done.interrupted), (0, false));
    assert!(
        done.results.iter().all(|r| r.failure.is_none()),
        "a run failed"
    );
    done
}

/// Asserts that the reports in `a` and `b` are byte-identical (and non-trivial).
fn assert_same_reports(a: &Path, b: &Path) {
    for name in CSVS.iter().chain(&["manifest.ron"]) {
        let (x, y) = (read_text(&a.join(name)), read_text(&b.join(name)));
        assert!(x.lines().count() > 1, "{name} has no rows:\n{x}");
        if x != y {
            let line = x.lines().zip(y.lines()).position(|(p, q)| p != q);
            panic!(
                "{name} differs between {} and {} (first differing line: {line:?})",
                a.display(),
                b.display()
            );
        }
    }
}

#[test]
fn reports_do_not_depend_on_the_thread_count() {
    let plan = plan(None);
    let (one, two) = (TempDir::new("threads-1"), TempDir::new("threads-2"));
    let a = execute_all(&plan, one.path(), 1);
    let b = execute_all(&plan, two.path(), 2);
    for (x, y) in a.results.iter().zip(&b.results) {
        assert!(
            same_result(x, y),
            "point {} replication {} differs",
            x.point,
            x.replication
        );
    }
    assert_same_reports(one.path(), two.path());
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let plan = plan(None);
    let (first, second) = (TempDir::new("seed-a"), TempDir::new("seed-b"));
    execute_all(&plan, first.path(), 2);
    execute_all(&plan, second.path(), 2);
    assert_same_reports(first.path(), second.path());
    // Replication 0 runs with the master seed itself, replication 1 with a derived one.
    let summary = read_text(&first.join("summary.csv"));
    assert!(
        summary.lines().nth(1).is_some_and(|l| l.contains(",0,99,")),
        "{summary}"
    );
}

#[test]
fn a_different_seed_gives_different_digests() {
    let (base, other) = (plan(None), plan(Some(100)));
    assert_eq!(other.master_seed, 100);
    let (a, b) = (TempDir::new("seed-99"), TempDir::new("seed-100"));
    let x = execute_all(&base, a.path(), 2);
    let y = execute_all(&other, b.path(), 2);
    for (r, s) in x.results.iter().zip(&y.results) {
        assert_eq!((r.point, r.replication), (s.point, s.replication));
        assert_ne!(r.seed, s.seed);
        assert_ne!(
            r.digest, s.digest,
            "point {} replication {}",
            r.point, r.replication
        );
    }
    // Within one sweep, replications differ too (and points share seeds: common random numbers).
    assert_ne!(x.results[0].digest, x.results[1].digest);
    assert_eq!(x.results[0].seed, x.results[2].seed);
    assert_ne!(
        read_text(&a.join("summary.csv")),
        read_text(&b.join("summary.csv"))
    );
}

/// Keeps the journal's header and its first `entries` entries, plus `torn` bytes of the
/// next one (a line cut short by a crash).
fn cut_journal(journal: &Path, entries: usize, torn: usize) {
    let text = read_text(journal);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        1 + 8,
        "header and eight entries expected:\n{text}"
    );
    assert!(lines[0].starts_with("# clustersim journal"), "{}", lines[0]);
    let mut kept: String = lines[..=entries].iter().map(|l| format!("{l}\n")).collect();
    kept.push_str(&lines[entries + 1][..torn]);
    std::fs::write(journal, kept).expect("rewrite the journal");
}

#[test]
fn a_resumed_sweep_matches_an_uninterrupted_one() {
    let plan = plan(None);
    let (whole, resumed) = (TempDir::new("whole"), TempDir::new("resumed"));
    let full = execute_all(&plan, whole.path(), 2);

    // Interrupted after two runs, the third one half written.
    execute_all(&plan, resumed.path(), 2);
    let journal = resumed.join(JOURNAL);
    cut_journal(&journal, 2, 40);
    for name in CSVS {
        std::fs::remove_file(resumed.join(name)).expect("remove a report");
    }
    let done = execute(&plan, resumed.path(), 2, true).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(done.resumed, 2);
    assert!(!done.interrupted);
    assert_eq!(done.results.len(), 8);
    for (x, y) in full.results.iter().zip(&done.results) {
        assert!(
            same_result(x, y),
            "point {} replication {} differs after a round trip through the journal",
            x.point,
            x.replication
        );
    }
    assert_same_reports(whole.path(), resumed.path());
    // The journal is whole again: the torn line was dropped and six runs appended.
    assert_eq!(read_text(&journal).lines().count(), 1 + 8);

    // Resuming a finished sweep runs nothing and changes nothing.
    let again = execute(&plan, resumed.path(), 1, true).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.resumed, 8);
    assert_same_reports(whole.path(), resumed.path());
}

#[test]
fn resuming_with_another_seed_is_refused() {
    let out = TempDir::new("refuse");
    execute_all(&plan(None), out.path(), 2);
    let journal_before = read_text(&out.join(JOURNAL));
    let err = execute(&plan(Some(7)), out.path(), 2, true)
        .expect_err("resuming a journal of another seed must fail");
    assert!(err.contains("--resume"), "{err}");
    assert!(err.contains(JOURNAL), "{err}");
    assert_eq!(
        read_text(&out.join(JOURNAL)),
        journal_before,
        "the journal was modified"
    );
    // Without --resume the old journal is simply replaced.
    let fresh = execute(&plan(Some(7)), out.path(), 2, false).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((fresh.resumed, fresh.results.len()), (0, 8));
}
