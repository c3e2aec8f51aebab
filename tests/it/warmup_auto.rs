//! `warmup: Auto`: the scenario syntax round-trips (file, `--set`, `check` output), MSER-5
//! finds the end of a real transient and the re-run excludes it, every run reports its
//! warm-up in `summary.csv`, and single-replication points get batch-means CIs.

use std::path::Path;

use clustersim_analysis::{report, sweep, warmup};
use clustersim_scenarios::load;
use clustersim_scenarios::raw::{Scenario, Warmup};
use clustersim_scenarios::units::Duration;
use clustersim_tests::{TempDir, load_with, read_text, run_all, value_of};

/// An open-loop M/M/1 at ρ = 0.5 (500/s, 1 ms) whose service is slowed ×3 (ρ = 1.5) for the
/// first 10 s: about 1700 requests pile up, then drain at 500/s, so the latency transient
/// ends near 13–14 s. 100 windows of 1 s.
const TRANSIENT: &str = r#"Scenario(
    name: "transient",
    seed: 7,
    duration: "100s",
    warmup: Auto,
    report_interval: "1s",
    components: [
        (name: "clients", kind: OpenLoop(target: "app", rate: "500/s")),
        (name: "app", kind: Service(workers: 1, service_time: Exponential(mean: "1ms"))),
    ],
    faults: [
        (at: "0s", action: Slowdown(node: "app", factor: 3.0)),
        (at: "10s", action: Slowdown(node: "app", factor: 1.0)),
    ],
)
"#;

fn write_scenario(dir: &TempDir) -> std::path::PathBuf {
    let path = dir.join("transient.ron");
    std::fs::write(&path, TRANSIENT).unwrap();
    path
}

fn plan(path: &Path, sets: &[&str]) -> sweep::Plan {
    let raw = load_with(path, sets).unwrap_or_else(|e| panic!("{e}"));
    sweep::plan(raw, path, None, None).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn auto_round_trips_through_load_overrides_and_check() {
    let dir = TempDir::new("warmup-auto-syntax");
    let path = write_scenario(&dir);
    let raw: Scenario = load::from_file(&path).unwrap();
    assert_eq!(raw.warmup, Warmup::Auto);
    // `check` prints `to_pretty_ron` of the resolved scenario: bare `Auto`, which reloads.
    let printed = load::to_pretty_ron(&raw);
    assert!(printed.contains("warmup: Auto,"), "{printed}");
    let again: Scenario = load::from_str(&printed, &path).unwrap();
    assert_eq!(again, raw);
    // `--set` both ways.
    let fixed = load_with(&path, &["warmup=5s"]).unwrap();
    assert_eq!(
        fixed.warmup,
        Warmup::Fixed("5s".parse::<Duration>().unwrap())
    );
    assert!(load::to_pretty_ron(&fixed).contains("warmup: \"5s\","));
    let back = load_with(&path, &["warmup=5s", "warmup=Auto"]).unwrap();
    assert_eq!(back.warmup, Warmup::Auto);
    // The validated spec knows; fixed warm-ups are still checked against the duration.
    let spec = clustersim_scenarios::validate::validate(&back).unwrap();
    assert!(spec.warmup_auto);
    assert!(spec.warmup.is_zero());
    let too_long = load_with(&path, &["warmup=200s"]).unwrap();
    let errs = clustersim_scenarios::validate::validate(&too_long).unwrap_err();
    assert!(
        errs[0].message.contains("not shorter than the run"),
        "{errs:?}"
    );
    // Anything else names the accepted forms.
    for bad in ["Automatic", "5", "\"soon\""] {
        let err = load_with(&path, &[&format!("warmup={bad}")]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`Auto`"), "warmup={bad}: {text}");
        assert!(text.contains("duration"), "warmup={bad}: {text}");
    }
}

/// Tolerance: the slowdown ends at 10 s and the backlog drains by about 14 s; MSER-5 works in
/// batches of 5 windows, so the detected warm-up must lie in [10 s, 25 s].
#[test]
fn auto_detects_the_transient_and_the_rerun_excludes_it() {
    let dir = TempDir::new("warmup-auto-run");
    let path = write_scenario(&dir);
    let auto = plan(&path, &[]);
    let none = plan(&path, &["warmup=0"]);
    let (a, n) = (&run_all(&auto)[0], &run_all(&none)[0]);
    assert!(a.failure.is_none(), "{:?}", a.failure);
    assert!(
        (10.0..=25.0).contains(&a.warmup_s),
        "detected warm-up {} s",
        a.warmup_s
    );
    assert_eq!(a.warmup_s % 1.0, 0.0, "whole report intervals");
    assert_eq!(n.warmup_s, 0.0);
    // Same seed, same events: only the measurement window differs.
    assert_eq!(a.digest, n.digest);
    assert_eq!(a.events, n.events);
    // The totals exclude the transient: fewer requests, and the mean latency is the M/M/1
    // answer at ρ = 0.5 (2 ms; ±25 % for 85 s of samples), far below the unwarmed mean.
    assert!(value_of(&a.metrics, "requests") < value_of(&n.metrics, "requests"));
    let lat = value_of(&a.metrics, "latency_mean_ms");
    assert!((1.5..=2.5).contains(&lat), "latency {lat} ms");
    assert!(value_of(&n.metrics, "latency_mean_ms") > 2.0 * lat);
    // The windows of the warm-up are flagged in the time series.
    assert!(
        a.timeseries
            .iter()
            .all(|t| t.in_warmup == (t.end_s <= a.warmup_s))
    );
    // Rerunning with the detected value as a fixed warm-up gives the same numbers.
    let fixed = plan(&path, &[&format!("warmup={}s", a.warmup_s)]);
    let f = &run_all(&fixed)[0];
    assert_eq!(f.metrics.len(), a.metrics.len());
    for ((name, x), (_, y)) in a.metrics.iter().zip(&f.metrics) {
        assert!(x == y || (x.is_nan() && y.is_nan()), "{name}: {x} vs {y}");
    }

    // summary.csv reports the warm-up of every run as its last column.
    report::write_all(dir.path(), &auto, std::slice::from_ref(a), &path, "test").unwrap();
    let summary = read_text(&dir.join("summary.csv"));
    let mut lines = summary.lines();
    assert!(lines.next().unwrap().ends_with(",digest,warmup_s"));
    assert!(lines.next().unwrap().ends_with(&format!(",{}", a.warmup_s)));

    // Charts shade, and the HTML report states, the warm-up MSER-5 chose (not 0).
    let charts = clustersim_analysis::plot::charts(dir.path()).unwrap();
    let latency = charts
        .iter()
        .find(|c| c.file.contains("latency"))
        .expect("a latency chart");
    assert!(latency.svg.contains("warm-up (MSER-5)"), "no Auto shading");
    let html = clustersim_analysis::html::render(dir.path()).unwrap();
    assert!(
        html.contains(&format!(
            "(warm-up Auto, chosen by MSER-5: {:.2} s)",
            a.warmup_s
        )),
        "the report does not state the chosen warm-up: {}",
        html.lines()
            .find(|l| l.contains("warm-up"))
            .unwrap_or_default()
    );
}

#[test]
fn single_replication_points_get_batch_means_cis() {
    let dir = TempDir::new("warmup-auto-ci");
    let path = write_scenario(&dir);
    let p = plan(&path, &["warmup=20s"]);
    let results = run_all(&p);
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].warmup_s, 20.0);
    let w = warmup::window_series(&results[0]);
    assert_eq!(w.start_s.len(), 80, "windows after the warm-up");
    report::write_all(dir.path(), &p, &results, &path, "test").unwrap();
    let text = read_text(&dir.join("points.csv"));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    let cell = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
    for m in ["latency_mean_ms", "throughput_rps"] {
        let ci: f64 = cell(&format!("{m}_ci95")).parse().unwrap();
        assert!(ci.is_finite() && ci > 0.0, "{m}_ci95 = {ci}");
        let mean: f64 = cell(&format!("{m}_mean")).parse().unwrap();
        assert!(ci < mean / 2.0, "{m}: {mean} ± {ci}");
        assert_eq!(cell(&format!("{m}_sd")), "", "one replication has no sd");
    }
    // Other metrics keep their (empty) single-replication CI.
    assert_eq!(cell("latency_p99_ms_ci95"), "");
    // Byte-deterministic.
    let first = text.clone();
    report::write_all(dir.path(), &p, &run_all(&p), &path, "test").unwrap();
    assert_eq!(read_text(&dir.join("points.csv")), first);
}
