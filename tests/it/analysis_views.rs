//! What a user looks at: `compare` verdicts on real runs, SVG charts for every catalogue
//! scenario, the self-contained HTML report, and `--check-determinism`.
//!
//! Output folders are produced in-process with the same functions the binary uses
//! (`sweep::plan`, `run_all`, `report::write_all`).

use std::path::Path;

use clustersim_analysis::{compare, html, plot, report};
use clustersim_tests::{TempDir, catalogue, file_name, plan_short, run_all, scenarios_dir};

/// Runs the shortened `file` with `extra` overrides and writes its reports into `out`.
fn run_into(file: &Path, extra: &[&str], out: &Path) {
    let plan = plan_short(file, extra);
    let results = run_all(&plan);
    report::write_all(out, &plan, &results, file, "test").unwrap();
}

fn mm1() -> std::path::PathBuf {
    scenarios_dir().join("mm1.ron")
}

#[test]
fn identical_runs_show_no_significant_difference() {
    let (a, b) = (TempDir::new("cmp-a"), TempDir::new("cmp-b"));
    let reps = ["sweep.replications=3"];
    run_into(&mm1(), &reps, a.path());
    run_into(&mm1(), &reps, b.path());
    let c = compare::run(a.path(), b.path(), a.path()).unwrap();
    assert!(c.notes.is_empty(), "{:?}", c.notes);
    assert!(!c.rows.is_empty());
    for r in &c.rows {
        assert_eq!(r.pairs, 3, "{}", r.metric);
        assert_eq!(r.verdict, "no significant difference", "{}", r.metric);
    }
    let csv = std::fs::read_to_string(a.join("compare.csv")).unwrap();
    assert!(csv.starts_with("point,params,metric,pairs,mean_a,mean_b,diff_b_minus_a"));
    assert_eq!(csv.lines().count(), c.rows.len() + 1);
}

/// M/M/1 with 1 ms service: ρ = 0.5 (500/s) against ρ = 0.8 (800/s). Theory: mean latency
/// 2 ms vs 5 ms, so B − A ≈ +3 ms; with 4 paired replications of 5 measured seconds the CI
/// half-width is well under 3 ms, so the interval must exclude 0 and the verdict be "A better".
#[test]
fn mm1_at_higher_load_has_worse_latency() {
    let (a, b) = (TempDir::new("mm1-a"), TempDir::new("mm1-b"));
    run_into(
        &mm1(),
        &["sweep.replications=4", "components.clients.kind.rate=500/s"],
        a.path(),
    );
    run_into(&mm1(), &["sweep.replications=4"], b.path());
    let c = compare::run(a.path(), b.path(), b.path()).unwrap();
    for m in ["latency_mean_ms", "latency_p99_ms"] {
        let r = c.rows.iter().find(|r| r.metric == m).unwrap();
        assert!(r.diff > 0.0, "{m}: B − A = {}", r.diff);
        assert!(
            r.diff - r.diff_ci95 > 0.0,
            "{m}: CI {} ± {} includes 0",
            r.diff,
            r.diff_ci95
        );
        assert_eq!(r.verdict, "A better", "{m}");
    }
    let mean = c
        .rows
        .iter()
        .find(|r| r.metric == "latency_mean_ms")
        .unwrap();
    // Tolerance: the simulated difference is within 1.5 ms of the analytic 3 ms.
    assert!((mean.diff - 3.0).abs() < 1.5, "diff {}", mean.diff);
    let tp = c
        .rows
        .iter()
        .find(|r| r.metric == "throughput_rps")
        .unwrap();
    assert_eq!(tp.verdict, "B better");
}

#[test]
fn compare_reports_missing_folders_and_mismatches() {
    let (a, b) = (TempDir::new("mis-a"), TempDir::new("mis-b"));
    run_into(&mm1(), &["sweep.replications=2"], a.path());
    run_into(&mm1(), &["sweep.replications=3"], b.path());
    let c = compare::run(a.path(), b.path(), a.path()).unwrap();
    assert!(
        c.notes
            .iter()
            .any(|n| n.contains("point 0 replication 2 is only in B")),
        "{:?}",
        c.notes
    );
    let e = compare::run(a.path(), &a.join("nope"), a.path()).unwrap_err();
    assert!(format!("{e:#}").contains("summary.csv"), "{e:#}");
}

fn assert_svg(svg: &str, at: &str) {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{at}: invalid SVG: {e}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg", "{at}");
    assert!(
        doc.descendants().any(|n| n.has_tag_name("text")),
        "{at}: no text (title, axes, legend)"
    );
}

#[test]
fn every_catalogue_scenario_plots_valid_svg() {
    for f in catalogue() {
        let name = file_name(&f);
        let dir = TempDir::new("plots");
        run_into(&f, &[], dir.path());
        let paths = plot::write_charts(dir.path(), &dir.join("plots"))
            .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let files: Vec<String> = paths.iter().map(|p| file_name(p)).collect();
        for must in ["latency.svg", "throughput.svg", "latency_cdf.svg"] {
            assert!(
                files.iter().any(|f| f == must),
                "{name}: no {must} in {files:?}"
            );
        }
        let cdf = std::fs::read_to_string(dir.join("plots").join("latency_cdf.svg")).unwrap();
        assert!(
            cdf.contains("averaged over replications"),
            "{name}: the CDF is not drawn from latency_cdf.csv"
        );
        let plan = plan_short(&f, &[]);
        if plan.points.len() > 1 {
            assert!(
                files.iter().any(|f| f.starts_with("sweep_")),
                "{name}: a sweep without sweep charts: {files:?}"
            );
        }
        for p in &paths {
            let svg = std::fs::read_to_string(p).unwrap();
            assert_svg(&svg, &format!("{name}/{}", file_name(p)));
        }
        // Byte-deterministic: drawing again gives the same bytes.
        let again = plot::charts(dir.path()).unwrap();
        for (c, p) in again.iter().zip(&paths) {
            assert_eq!(c.svg, std::fs::read_to_string(p).unwrap(), "{name}");
        }
    }
}

#[test]
fn fault_windows_are_shaded() {
    let f = scenarios_dir().join("lb_failover.ron");
    let dir = TempDir::new("faults");
    run_into(&f, &[], dir.path());
    let m = plot::read_manifest(dir.path()).unwrap();
    let shades = plot::fault_windows(&m.resolved);
    assert!(!shades.is_empty(), "lb_failover has scheduled faults");
    let charts = plot::charts(dir.path()).unwrap();
    let tp = charts.iter().find(|c| c.file == "throughput.svg").unwrap();
    assert!(
        tp.svg.contains(&shades[0].label),
        "legend names the fault `{}`",
        shades[0].label
    );
}

#[test]
fn html_report_is_self_contained_and_well_formed() {
    let dir = TempDir::new("html");
    run_into(&mm1(), &["sweep.replications=2"], dir.path());
    let page = html::write_report(dir.path(), dir.path()).unwrap();
    let text = std::fs::read_to_string(page).unwrap();
    let xml = text.replace("<!DOCTYPE html>", "");
    let doc = roxmltree::Document::parse(&xml)
        .unwrap_or_else(|e| panic!("report.html is not well-formed: {e}"));
    let charts = plot::charts(dir.path()).unwrap();
    let svgs = doc.descendants().filter(|n| n.has_tag_name("svg")).count();
    assert_eq!(svgs, charts.len(), "every chart embedded inline");
    assert!(svgs >= 3);
    for needle in [
        "Topology",
        "Key metrics",
        "Analytic versus simulated",
        "M/M/1",
        "clients",
    ] {
        assert!(text.contains(needle), "report lacks `{needle}`");
    }
    // Offline: no external resource.
    assert!(!text.contains(" src=") && !text.contains("href=\"http"));
    assert!(!text.contains("<script"));
    // Deterministic.
    assert_eq!(text, html::render(dir.path()).unwrap());
}

#[test]
fn check_determinism_finds_no_divergence() {
    let plan = plan_short(&mm1(), &["sweep.replications=2"]);
    let stop = std::sync::atomic::AtomicBool::new(false);
    assert!(compare::check_determinism(&plan, &stop).is_empty());
    // Replaying a reproducible run never finds a diverging event.
    assert_eq!(compare::first_divergence(&plan.points[0], 7), None);
}
