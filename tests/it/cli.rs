//! The `clustersim` binary: exit codes, stdout and stderr of `check`, `list`, `graph` and
//! `run`.
//!
//! `CARGO_BIN_EXE_clustersim` only exists for the binary's own package, so the binary is
//! built once per test process with `cargo build --bin clustersim` in the profile of this
//! test (a no-op when it is up to date) and run from the profile's output folder. Set
//! `CLUSTERSIM_BIN` to test another binary instead.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use clustersim_scenarios::load;
use clustersim_scenarios::raw::Scenario;
use clustersim_tests::{TempDir, fixture, read_text, scenarios_dir, workspace_root};

/// The binary, built on first use (`CLUSTERSIM_BIN` selects another one). Shared by every
/// module that runs the binary.
pub(crate) fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("CLUSTERSIM_BIN") {
            return PathBuf::from(bin);
        }
        // This test runs from <target>/<profile dir>/deps/; the binary lands in
        // <target>/<profile dir>/. Building in the test's own profile reuses its libraries.
        let exe = std::env::current_exe().expect("the test's own path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("<target>/<profile>/deps");
        let profile: &[&str] = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => &["--profile", "test"],
            Some("release") => &["--release"],
            _ => &[],
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
        let out = Command::new(cargo)
            .args(["build", "--quiet", "--bin", "clustersim"])
            .args(profile)
            .current_dir(workspace_root())
            .output()
            .expect("running cargo");
        assert!(
            out.status.success(),
            "cargo build --bin clustersim failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = profile_dir.join(format!("clustersim{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.is_file(), "{} was not built", bin.display());
        bin
    })
}

/// What a run of the binary produced.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs the binary with `args` in `cwd` (so a default `runs/` folder never lands in the
/// workspace), without a terminal.
fn clustersim_in(cwd: &Path, args: &[&str]) -> Ran {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(binary())
        .args(args)
        .current_dir(cwd)
        .env("CI", "true")
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", binary().display()));
    Ran {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn clustersim(args: &[&str]) -> Ran {
    clustersim_in(&std::env::temp_dir(), args)
}

/// The absolute path of a catalogue file, as text.
fn scenario(name: &str) -> String {
    scenarios_dir().join(name).to_string_lossy().into_owned()
}

#[test]
fn check_prints_the_resolved_scenario() {
    let file = scenario("mm1.ron");
    let ran = clustersim(&["check", &file]);
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(ran.stderr.contains(": ok"), "{ran}");
    // Defaults are filled in...
    for field in [
        "report_interval:",
        "max_events:",
        "network:",
        "sweep:",
        "dispatch: RoundRobin",
    ] {
        assert!(ran.stdout.contains(field), "`{field}` not shown:\n{ran}");
    }
    assert!(
        ran.stdout
            .contains("// topology: 1 region(s), 2 node(s), 2 component(s)"),
        "{ran}"
    );
    assert!(
        ran.stdout
            .contains("// sweep: 1 point(s) x 4 replication(s) = 4 run(s)"),
        "{ran}"
    );
    // ...and the output is a scenario file equal to the original (the summary lines are RON
    // comments).
    let printed: Scenario = load::from_str(&ran.stdout, Path::new("stdout"))
        .unwrap_or_else(|e| panic!("the output of `check` does not load: {e}"));
    let original: Scenario = load::from_file(&file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(printed, original);
}

#[test]
fn check_applies_set() {
    let ran = clustersim(&[
        "check",
        &scenario("mm1.ron"),
        "--set",
        "components.app.kind.workers=3",
    ]);
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(ran.stdout.contains("workers: 3"), "{ran}");
}

#[test]
fn check_rejects_a_bad_file_with_exit_code_1() {
    for bad in ["call_cycle.ron", "unknown_field.ron", "several_errors.ron"] {
        let file = fixture(&format!("bad/{bad}"));
        let ran = clustersim(&["check", &file.to_string_lossy()]);
        assert_eq!(ran.code, Some(1), "{bad}: {ran}");
        assert!(ran.stderr.starts_with("error: "), "{bad}: {ran}");
        assert!(
            ran.stderr.contains(bad),
            "{bad}: the file is not named: {ran}"
        );
        assert!(ran.stdout.is_empty(), "{bad}: {ran}");
    }
    let ran = clustersim(&["check", "/nonexistent/scenario.ron"]);
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(
        ran.stderr
            .contains("error: /nonexistent/scenario.ron: cannot read"),
        "{ran}"
    );
    let ran = clustersim(&[
        "check",
        &scenario("mm1.ron"),
        "--set",
        "components.ap.kind.workers=3",
    ]);
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(ran.stderr.contains("did you mean `app`?"), "{ran}");
    let ran = clustersim(&["check", &scenario("mm1.ron"), "--set", "workers"]);
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(ran.stderr.contains("error: --set workers: "), "{ran}");
}

#[test]
fn usage_errors_exit_with_code_2() {
    let mm1 = scenario("mm1.ron");
    for args in [
        &["frobnicate"][..],
        &[],
        &["run"],
        &["check", &mm1, "--frobnicate"],
        &["run", &mm1, "--threads", "many"],
        &["list", "extra"],
    ] {
        let ran = clustersim(args);
        assert_eq!(ran.code, Some(2), "{args:?}: {ran}");
        assert!(!ran.stderr.is_empty(), "{args:?}: {ran}");
    }
    let ran = clustersim(&["--help"]);
    assert_eq!(ran.code, Some(0), "{ran}");
    for sub in ["run", "check", "list", "graph"] {
        assert!(ran.stdout.contains(sub), "--help lacks {sub}: {ran}");
    }
}

#[test]
fn list_shows_every_plugin_with_defaults() {
    let ran = clustersim(&["list"]);
    assert_eq!(ran.code, Some(0), "{ran}");
    for word in [
        "OpenLoop",
        "ClosedLoop",
        "Service",
        "defaults",
        "service_time",
        "Exponential",
    ] {
        assert!(ran.stdout.contains(word), "`{word}` missing:\n{ran}");
    }
    assert!(ran.stderr.is_empty(), "{ran}");
}

#[test]
fn graph_prints_dot_with_every_component() {
    for name in ["three_tier.ron", "monolith_vs_microservices.ron"] {
        let file = scenario(name);
        let ran = clustersim(&["graph", &file]);
        assert_eq!(ran.code, Some(0), "{name}: {ran}");
        let dot = ran.stdout.trim();
        assert!(dot.starts_with("digraph \""), "{name}: {ran}");
        assert!(dot.ends_with('}'), "{name}: {ran}");
        assert_eq!(
            dot.matches('{').count(),
            dot.matches('}').count(),
            "{name}: {ran}"
        );
        let raw: Scenario = load::from_file(&file).unwrap_or_else(|e| panic!("{e}"));
        for c in &raw.components {
            assert!(
                dot.contains(&format!("label = \"{}\\n", c.name)),
                "{name}: no `{}`",
                c.name
            );
        }
        assert!(dot.contains("->"), "{name}: no edges: {ran}");
    }
    let ran = clustersim(&["graph", &fixture("bad/call_cycle.ron").to_string_lossy()]);
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(ran.stderr.contains("cycle"), "{ran}");
}

/// First line of a CSV file.
fn header(path: &Path) -> String {
    read_text(path)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn run_writes_every_report() {
    let out = TempDir::new("cli-run");
    let dir = out.join("reports");
    let dir_text = dir.to_string_lossy().into_owned();
    let file = scenario("mm1.ron");
    let args = [
        "run",
        &file,
        "--out",
        &dir_text,
        "--set",
        "duration=3s",
        "--set",
        "warmup=1s",
    ];
    let ran = clustersim_in(out.path(), &args);
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(
        ran.stdout.contains("latency_p99_ms"),
        "no summary table: {ran}"
    );
    assert!(
        ran.stdout.contains("analytic"),
        "no analytic column for M/M/1: {ran}"
    );
    assert!(ran.stderr.contains("reports written to"), "{ran}");
    for name in [
        "summary.csv",
        "points.csv",
        "components.csv",
        "timeseries.csv",
        "metrics.csv",
        "latency_cdf.csv",
        "manifest.ron",
    ] {
        assert!(dir.join(name).is_file(), "{name} missing: {ran}");
    }
    assert!(!out.join("runs").exists(), "--out was ignored");
    let summary = header(&dir.join("summary.csv"));
    for col in [
        "scenario",
        "seed",
        "status",
        "latency_p99_ms",
        "throughput_rps",
        "digest",
    ] {
        assert!(
            summary.split(',').any(|c| c == col),
            "summary.csv lacks {col}: {summary}"
        );
    }
    assert!(summary.ends_with(",digest,warmup_s"), "{summary}");
    let rows = read_text(&dir.join("summary.csv"));
    assert_eq!(rows.lines().count(), 1 + 4, "four replications:\n{rows}");
    assert!(
        rows.lines().skip(1).all(|l| l.contains(",ok,EndTime,")),
        "{rows}"
    );
    let points = header(&dir.join("points.csv"));
    assert!(
        points.contains("latency_p99_ms_mean,latency_p99_ms_sd,latency_p99_ms_ci95"),
        "{points}"
    );
    let components = header(&dir.join("components.csv"));
    for col in [
        "component",
        "kind",
        "node",
        "in_system_avg",
        "littles_law_l",
        "utilization",
    ] {
        assert!(
            components.split(',').any(|c| c == col),
            "components.csv lacks {col}"
        );
    }
    let timeseries = header(&dir.join("timeseries.csv"));
    assert!(timeseries.ends_with("window_start_s,window_end_s,in_warmup,component,metric,value"));
    let metrics = header(&dir.join("metrics.csv"));
    assert!(
        metrics.ends_with("component,metric,label,value"),
        "{metrics}"
    );
    let manifest = read_text(&dir.join("manifest.ron"));
    assert!(manifest.contains("master_seed: 42"), "{manifest}");
    assert!(
        manifest.contains("duration: \"3s\""),
        "the manifest lacks the override:\n{manifest}"
    );

    // The same command with another thread count and --quiet writes the same CSV bytes.
    let again = out.join("again");
    let again_text = again.to_string_lossy().into_owned();
    let args = [
        "run",
        &file,
        "--out",
        &again_text,
        "--set",
        "duration=3s",
        "--set",
        "warmup=1s",
        "--threads",
        "1",
        "--quiet",
    ];
    let ran = clustersim_in(out.path(), &args);
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(ran.stdout.is_empty(), "--quiet printed: {ran}");
    for name in [
        "summary.csv",
        "points.csv",
        "components.csv",
        "timeseries.csv",
        "metrics.csv",
        "latency_cdf.csv",
    ] {
        assert_eq!(
            read_text(&dir.join(name)),
            read_text(&again.join(name)),
            "{name} differs"
        );
    }
}

#[test]
fn run_rejects_an_invalid_override_before_running() {
    let out = TempDir::new("cli-run-bad");
    let dir = out.join("reports");
    let dir_text = dir.to_string_lossy().into_owned();
    // mm1 has a 10 s warm-up: a 3 s run is invalid.
    let ran = clustersim_in(
        out.path(),
        &[
            "run",
            &scenario("mm1.ron"),
            "--out",
            &dir_text,
            "--set",
            "duration=3s",
        ],
    );
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(
        ran.stderr
            .contains("warmup: warm-up 10s is not shorter than the run (3s)"),
        "{ran}"
    );
    assert!(
        !dir.exists(),
        "reports were written for an invalid scenario"
    );
}
