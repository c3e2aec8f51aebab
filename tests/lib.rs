//! Cross-crate integration test helpers (see `it/`).
//!
//! Everything here is deterministic and self-contained: paths are found from
//! `CARGO_MANIFEST_DIR`, temporary folders get unique names under [`std::env::temp_dir`] and
//! are removed when dropped, and scenarios are shortened with ordinary `--set`-style
//! overrides so the whole suite stays fast.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use clustersim_analysis::result::{ComponentRow, RunResult};
use clustersim_analysis::sweep::{self, Plan};
use clustersim_scenarios::overrides::{Override, apply_overrides};
use clustersim_scenarios::raw::Scenario;
use clustersim_scenarios::{ScenarioError, load};

/// The workspace root (the folder holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The folder of the scenario catalogue, `scenarios/`.
pub fn scenarios_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios"))
}

/// Every `*.ron` file directly in `dir`, sorted by path.
///
/// # Panics
/// If `dir` cannot be read.
pub fn ron_files(dir: &Path) -> Vec<PathBuf> {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "ron"))
        .collect();
    files.sort();
    files
}

/// The catalogue: every `scenarios/*.ron`, sorted. Never empty.
pub fn catalogue() -> Vec<PathBuf> {
    let files = ron_files(&scenarios_dir());
    assert!(
        !files.is_empty(),
        "no scenarios/*.ron found in {}",
        scenarios_dir().display()
    );
    files
}

/// The worked capacity estimates: every `scenarios/estimates/*.ron`, sorted.
pub fn estimate_files() -> Vec<PathBuf> {
    ron_files(&scenarios_dir().join("estimates"))
}

/// The cross-check scenario of an estimate file (what `estimate --simulate` runs), with
/// [`SHORT`] then `extra` applied, planned.
///
/// # Panics
/// If the estimate does not load or the generated scenario is invalid.
pub fn plan_estimate_short(path: &Path, extra: &[&str]) -> Plan {
    let source =
        clustersim_scenarios::estimate::load_estimate(path).unwrap_or_else(|e| panic!("{e}"));
    let e = source.estimate();
    let computed = clustersim_analysis::estimate::compute(e);
    let text = clustersim_analysis::crosscheck::simulation_ron(e, &computed.numbers);
    let raw: Scenario = load::from_str(&text, path)
        .unwrap_or_else(|err| panic!("{}: generated scenario: {err}\n{text}", path.display()));
    let sets: Vec<&str> = SHORT.iter().chain(extra).copied().collect();
    let raw = apply_overrides(&raw, &overrides(&sets)).unwrap_or_else(|err| panic!("{err}"));
    sweep::plan(raw, path, None, None).unwrap_or_else(|err| panic!("{err}"))
}

/// A file under `tests/fixtures/`, e.g. `fixture("bad/cycle.ron")`.
pub fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(relative)
}

/// The file name of `path` as text (for messages).
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A temporary folder with a unique name under [`std::env::temp_dir`], removed on drop
/// (kept when the test is panicking, so a failure can be inspected).
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `clustersim-tests-<label>-<pid>-<n>` (any stale folder of that name is removed
    /// first).
    pub fn new(label: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "clustersim-tests-{label}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir { path }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the folder.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("keeping {} for inspection", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Overrides that shorten any catalogue scenario: 6 s runs with a 1 s warm-up, a 1 s report
/// interval and one replication. Five measured seconds keep every catalogue service above
/// 1000 completions while the whole catalogue runs in a few seconds.
pub const SHORT: &[&str] = &[
    "duration=6s",
    "warmup=1s",
    "report_interval=1s",
    "sweep.replications=1",
];

/// Parses `path=value` texts into overrides.
///
/// # Panics
/// On a text without `=`.
pub fn overrides(texts: &[&str]) -> Vec<Override> {
    texts
        .iter()
        .map(|t| t.parse().unwrap_or_else(|e| panic!("override `{t}`: {e}")))
        .collect()
}

/// Loads a scenario file with the loader and applies `sets` (in order), without validating.
pub fn load_with(path: &Path, sets: &[&str]) -> Result<Scenario, ScenarioError> {
    let raw: Scenario = load::from_file(path)?;
    apply_overrides(&raw, &overrides(sets)).map_err(|e| {
        ScenarioError::semantic(
            path,
            vec![clustersim_scenarios::Diagnostic::new(
                "--set",
                e.to_string(),
            )],
        )
    })
}

/// Loads `path`, applies [`SHORT`] then `extra`, and plans its sweep (every point
/// validated).
///
/// # Panics
/// If the file does not load, an override does not apply or a point is invalid.
pub fn plan_short(path: &Path, extra: &[&str]) -> Plan {
    let sets: Vec<&str> = SHORT.iter().chain(extra).copied().collect();
    let raw = load_with(path, &sets).unwrap_or_else(|e| panic!("{e}"));
    sweep::plan(raw, path, None, None).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs every `(point, replication, seed)` of `plan` on this thread with
/// [`sweep::run_one`], in report order.
pub fn run_all(plan: &Plan) -> Vec<RunResult> {
    plan.runs()
        .into_iter()
        .map(|(p, r, seed)| sweep::run_one(&plan.points[p], r, seed))
        .collect()
}

/// Whether two results are identical, treating NaN as equal to NaN (absent values are NaN, so
/// `PartialEq` alone would call every result different from itself).
pub fn same_result(a: &RunResult, b: &RunResult) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

/// The value of column `name` in `(name, value)` pairs.
///
/// # Panics
/// If there is no such column.
pub fn value_of(values: &[(String, f64)], name: &str) -> f64 {
    values
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("no column `{name}` among {values:?}"))
}

/// The value of column `name` of a component row (see [`value_of`]).
pub fn component_value(row: &ComponentRow, name: &str) -> f64 {
    value_of(&row.values, name)
}

/// Reads a file to a string.
///
/// # Panics
/// If it cannot be read.
pub fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The total of series `metric` with label `label` (empty for unlabelled) of `component`
/// in a run's `metrics.csv` rows ([`RunResult::series`]).
///
/// # Panics
/// If there is no such row.
pub fn series_value(run: &RunResult, component: &str, metric: &str, label: &str) -> f64 {
    run.series
        .iter()
        .find(|s| s.component == component && s.metric == metric && s.label == label)
        .map(|s| s.value)
        .unwrap_or_else(|| panic!("no series {component}.{metric}@{label}"))
}
