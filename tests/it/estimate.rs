//! Capacity estimates (`clustersim estimate`): the arithmetic against hand-computed values,
//! the simulation cross-check's utilisation against the estimate's, loading errors; and the
//! SLO knee finder (`run --find-min/--find-max`) against Erlang C.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use clustersim_analysis::crosscheck;
use clustersim_analysis::estimate::{self, Computed};
use clustersim_analysis::search::{self, SearchRun};
use clustersim_models::queueing;
use clustersim_scenarios::estimate::{Estimate, load_estimate};
use clustersim_scenarios::load;
use clustersim_scenarios::raw::Scenario;
use clustersim_scenarios::search::{Goal, Search};
use clustersim_tests::{TempDir, estimate_files, overrides, run_all, scenarios_dir};

fn parse(text: &str) -> Estimate {
    load::from_str(text, Path::new("test.ron")).unwrap_or_else(|e| panic!("{e}"))
}

fn row(c: &Computed, name: &str) -> f64 {
    c.rows
        .iter()
        .find(|r| r.quantity == name)
        .unwrap_or_else(|| panic!("no row `{name}`"))
        .value
}

/// Relative closeness for values computed by the same few float operations as by hand.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

const HAND: &str = r#"Estimate(
    name: "hand",
    daily_active_users: "1M",
    actions: [(name: "post", op: Write, per_user_per_day: 10.0, size: "1KB", media_fraction: 0.5, media_size: "2MB")],
    read_write_ratio: 9.0,
    peak_factor: 3.0,
    retention_years: 2.0,
    replication_factor: 3,
    app: (throughput_rps: 500.0, target_utilization: 0.5),
    cache: (hot_fraction: 0.2, hit_ratio: 0.9, node_memory: "100GB", usable_memory_fraction: 0.5, node_throughput_rps: 1000.0),
    database: (shard_storage: "1TB", shard_throughput_rps: 200.0, target_utilization: 0.5),
)"#;

/// Every quantity of a small estimate, computed by hand:
/// 1M users × 10 posts = 10M writes/day, 90M reads/day (ratio 9); peak ×3.
#[test]
fn estimate_math_matches_hand_computed_values() {
    let c = estimate::compute(&parse(HAND));
    let post_avg = 10e6 / 86_400.0; // 115.74 /s
    let read_avg = 90e6 / 86_400.0; // 1041.7 /s
    let expect = [
        ("daily_active_users", 1e6),
        ("post_per_day", 10e6),
        ("post_avg_qps", post_avg),
        ("post_peak_qps", 3.0 * post_avg),
        ("read_post_per_day", 90e6),
        ("read_peak_qps", 3.0 * read_avg),
        ("write_peak_qps", 3.0 * post_avg),
        ("total_peak_qps", 3.0 * (post_avg + read_avg)),
        ("read_write_ratio", 9.0),
        // 1 KB + 0.5 × 2 MB per action.
        ("ingress_avg", post_avg * 1_001_000.0),
        ("egress_peak", 3.0 * read_avg * 1_001_000.0),
        ("data_per_day", 1e10),
        ("media_per_day", 1e13),
        ("data_per_year", 3.65e12),
        ("data_retained", 7.3e12),
        ("media_retained", 7.3e15),
        ("total_with_replicas", 3.0 * (7.3e12 + 7.3e15)),
        // 90M reads × 1 KB × 0.2 = 18 GB; 50 GB usable per node → 1; 3125 reads/s over
        // 1000/s per node → 4.
        ("cache_ram", 1.8e10),
        ("cache_nodes_for_memory", 1.0),
        ("cache_nodes_for_throughput", 4.0),
        ("cache_nodes", 4.0),
        // 3472.2 req/s over 500 × 0.5 → ⌈13.89⌉ = 14; 3472.2 / 7000.
        ("app_servers", 14.0),
        ("app_utilization", 3.0 * (post_avg + read_avg) / 7000.0),
        // 347.2 writes + 3125 × 0.1 misses = 659.7 req/s.
        ("db_peak_qps", 3.0 * post_avg + 0.1 * 3.0 * read_avg),
        ("db_data_per_replica", 7.3e12),
        ("shards_for_storage", 8.0),
        ("shards_for_load", 7.0),
        ("db_shards", 8.0),
        ("db_machines", 24.0),
        ("db_utilization", (3.0 * post_avg + 0.3 * read_avg) / 1600.0),
    ];
    for (name, want) in expect {
        let got = row(&c, name);
        assert!(close(got, want), "{name}: {got} vs hand-computed {want}");
    }
    assert_eq!(c.numbers.app_servers, 14);
    assert_eq!(c.numbers.db_shards, 8);
    // Human units and formulas are present on every row.
    let find = |n: &str| c.rows.iter().find(|r| r.quantity == n).unwrap();
    assert_eq!(find("media_retained").human, "7.30 PB");
    assert_eq!(find("data_per_day").human, "10 GB/day");
    assert_eq!(find("daily_active_users").human, "1M");
    assert!(
        c.rows
            .iter()
            .all(|r| !r.formula.is_empty() && !r.unit.is_empty())
    );
    // The reference table is there, with the round trip the estimate uses.
    assert_eq!(
        find("round trip within the same datacenter").value,
        500_000.0
    );
}

#[test]
fn estimate_csv_has_one_row_per_quantity_with_unit_and_formula() {
    let c = estimate::compute(&parse(HAND));
    let bytes = estimate::estimate_csv(&c.rows).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("section,quantity,value,unit,human,formula")
    );
    assert_eq!(lines.count(), c.rows.len());
    assert!(text.contains("app,app_servers,14,servers,14,"), "{text}");
}

/// An estimate without a cache, sized so every tier is planned at about 67 % utilisation:
/// 21.6M users × (1 write + 3 reads) a day × peak 2 = 2000 req/s; 500 req/s per app server at
/// a 0.7 target → 6 servers at 66.7 %; all 2000 req/s reach the database, 1500 req/s per
/// shard at 0.7 → 2 shards at 66.7 %.
const AGREEING: &str = r#"Estimate(
    name: "agreeing",
    daily_active_users: "21.6M",
    actions: [(name: "item", op: Write, per_user_per_day: 1.0, size: "1KB")],
    read_write_ratio: 3.0,
    peak_factor: 2.0,
    retention_years: 1.0,
    app: (throughput_rps: 500.0, target_utilization: 0.7, workers: 4),
    database: (shard_storage: "10TB", shard_throughput_rps: 1500.0, target_utilization: 0.7, workers: 4),
    simulation: (seed: 5, duration: "10s", warmup: "1s", replications: 2),
)"#;

/// Tolerance of the utilisation cross-check, relative. With the estimate's assumptions built
/// into the simulation (Poisson arrivals at peak QPS, every request doing `workers /
/// throughput` of work on one app server and, here, on one shard), the simulated busy fraction
/// estimates exactly the planned utilisation. Its noise: an app server sees about 333 req/s ×
/// 9 measured s = 3000 requests, and its busy time (a sum of about 3000 exponential service
/// times, times a Poisson count) has a relative standard deviation of about √(2/3000) = 2.6 %;
/// averaged over 6 servers × 2 replications, 0.75 %. A shard sees 1000 req/s: 1.5 % per shard,
/// 0.75 % over 2 shards × 2 replications. 4 % is more than five standard deviations, yet a
/// real modelling mismatch (a forgotten tier, a worker held during downstream calls, a wrong
/// service time) moves utilisation by far more.
const UTIL_REL: f64 = 0.04;

#[test]
fn simulated_utilization_matches_the_estimate_when_assumptions_agree() {
    let e = parse(AGREEING);
    let c = estimate::compute(&e);
    assert_eq!(
        (c.numbers.app_servers, c.numbers.db_shards),
        (6, 2),
        "the sizing this test is built on"
    );
    assert!(close(c.numbers.app_utilization, 2000.0 / 3000.0));
    assert!(close(c.numbers.db_utilization, 2000.0 / 3000.0));
    let text = crosscheck::simulation_ron(&e, &c.numbers);
    let raw: Scenario =
        load::from_str(&text, Path::new("sim.ron")).unwrap_or_else(|er| panic!("{er}\n{text}"));
    let plan = clustersim_analysis::sweep::plan(raw, Path::new("sim.ron"), None, None)
        .unwrap_or_else(|er| panic!("{er}"));
    let results = run_all(&plan);
    assert!(results.iter().all(|r| r.failure.is_none()));
    let versus = crosscheck::versus_simulation(&e, &c.numbers, &results);
    for tier in ["app", "database"] {
        let v = versus
            .iter()
            .find(|v| v.quantity == "utilization" && v.tier == tier)
            .unwrap();
        let rel = (v.simulated - v.estimated).abs() / v.estimated;
        assert!(
            rel <= UTIL_REL,
            "{tier}: simulated {} vs estimated {} ({:.2} % apart)",
            v.simulated,
            v.estimated,
            rel * 100.0
        );
        assert!(v.verdict.starts_with("agrees"), "{tier}: {}", v.verdict);
    }
    let thr = versus
        .iter()
        .find(|v| v.quantity == "throughput_rps")
        .unwrap();
    assert!((thr.simulated - 2000.0).abs() / 2000.0 < 0.03, "{thr:?}");
    // The simulation queues where the estimate does not: its mean latency is above the
    // estimate's no-queueing figure.
    let lat = versus
        .iter()
        .find(|v| v.quantity == "latency_mean_ms")
        .unwrap();
    assert!(lat.simulated > lat.estimated, "{lat:?}");
    assert!(lat.analytic > lat.estimated, "{lat:?}");
}

/// A fleet larger than `max_app_servers` is simulated as a slice with the same per-server
/// load.
#[test]
fn large_fleets_are_simulated_as_a_slice_with_the_same_per_server_load() {
    for f in estimate_files() {
        let source = load_estimate(&f).unwrap_or_else(|e| panic!("{e}"));
        let e = source.estimate();
        let c = estimate::compute(e);
        let s = crosscheck::slice(e, &c.numbers);
        assert!(s.app_servers <= u64::from(e.simulation.max_app_servers));
        assert!(s.app_servers >= 1 && s.db_shards >= 1);
        assert!(
            close(s.app_utilization, c.numbers.app_utilization),
            "{}: {} vs {}",
            f.display(),
            s.app_utilization,
            c.numbers.app_utilization
        );
        // Shards round to whole numbers; the choice of slice keeps that within 10 %.
        let rel = (s.db_utilization - c.numbers.db_utilization).abs() / c.numbers.db_utilization;
        assert!(
            rel < 0.10,
            "{}: shard utilisation off by {rel}",
            f.display()
        );
    }
}

#[test]
fn estimate_errors_are_located_and_collected() {
    let dir = TempDir::new("estimate-errors");
    let bad_syntax = dir.join("syntax.ron");
    std::fs::write(
        &bad_syntax,
        "Estimate(\n    name: \"x\",\n    daily_active_users: \"3Q\",\n)\n",
    )
    .unwrap();
    let e = load_estimate(&bad_syntax).unwrap_err().to_string();
    assert!(e.contains("syntax.ron:3:"), "{e}");
    assert!(
        e.contains("daily_active_users") && e.contains("unknown suffix `Q`"),
        "{e}"
    );

    let semantic = dir.join("semantic.ron");
    let text = HAND
        .replace("peak_factor: 3.0", "peak_factor: 0.5")
        .replace("hit_ratio: 0.9", "hit_ratio: 1.0")
        .replace("op: Write", "op: Read");
    std::fs::write(&semantic, text).unwrap();
    let e = load_estimate(&semantic).unwrap_err().to_string();
    for want in [
        "peak_factor: 0.5 is out of range: must be >= 1",
        "cache.hit_ratio: 1 is out of range",
        "actions[0].op: a Read action together with `read_write_ratio`",
        "read_write_ratio needs at least one Write action",
    ] {
        assert!(e.contains(want), "missing `{want}` in:\n{e}");
    }

    let unknown = dir.join("unknown.ron");
    std::fs::write(&unknown, HAND.replace("peak_factor", "peek_factor")).unwrap();
    let e = load_estimate(&unknown).unwrap_err().to_string();
    assert!(
        e.contains("peek_factor") && e.contains("peak_factor"),
        "{e}"
    );

    // A scenario without an estimate section says what to add.
    let e = load_estimate(&scenarios_dir().join("mm1.ron"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no `estimate` section"), "{e}");
}

/// A scenario may carry the estimate as a section; `check` validates it with its path.
#[test]
fn an_estimate_section_in_a_scenario_is_read_and_validated() {
    let dir = TempDir::new("estimate-section");
    let mm1 = std::fs::read_to_string(scenarios_dir().join("mm1.ron")).unwrap();
    let section = AGREEING.replacen("Estimate(", "estimate: (", 1);
    let at = mm1.rfind(')').unwrap();
    let with = format!("{}    {section},\n)\n", &mm1[..at]);
    let f = dir.join("with_estimate.ron");
    std::fs::write(&f, &with).unwrap();
    let source = load_estimate(&f).unwrap_or_else(|e| panic!("{e}\n{with}"));
    assert_eq!(source.estimate().name, "agreeing");
    clustersim_scenarios::load_file(&f, &[]).unwrap_or_else(|e| panic!("{e}"));
    let bad = dir.join("bad_section.ron");
    std::fs::write(
        &bad,
        with.replace(
            "target_utilization: 0.7, workers: 4),\n    database",
            "target_utilization: 1.5, workers: 4),\n    database",
        ),
    )
    .unwrap();
    let e = clustersim_scenarios::load_file(&bad, &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("estimate.app.target_utilization"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Knee finder
// ---------------------------------------------------------------------------------------------

fn mmc_scenario(rate: &str) -> Scenario {
    let raw: Scenario = load::from_file(scenarios_dir().join("mmc.ron")).unwrap();
    clustersim_scenarios::overrides::apply_overrides(
        &raw,
        &overrides(&[
            "duration=6s",
            "warmup=1s",
            &format!("components.clients.kind.rate={rate}"),
        ]),
    )
    .unwrap()
}

fn search(param: &str, goal: Goal, slo: &str, low: u64, high: Option<u64>, reps: u32) -> Search {
    Search {
        param: param.into(),
        goal,
        slo: vec![slo.parse().unwrap()],
        low,
        high,
        replications: reps,
    }
}

/// The fewest workers of an M/M/c queue (λ = 3200/s, mean service 1 ms) keeping the mean
/// response time under 1.35 ms. Erlang C: W(4) = 1.746 ms, W(5) = 1.160 ms, W(6) = 1.045 ms,
/// so the answer is 5. The margins are wide next to the noise: 5 s × 3200/s = 16000 requests
/// per replication give W(5) a standard error of about 1 % (0.012 ms; waits are correlated, so
/// take twice the i.i.d. figure), against 0.19 ms of margin at 5 and 0.40 ms at 4. The test
/// derives the expected answer from Erlang C rather than hard-coding it.
#[test]
fn knee_finder_finds_the_erlang_c_answer_on_mmc() {
    let base = mmc_scenario("3200/s");
    let bound_ms = 1.35;
    let expected = (1..=16u32)
        .find(|&c| {
            queueing::mmc(3200.0, 1000.0, c).is_ok_and(|m| m.mean_response * 1e3 <= bound_ms)
        })
        .unwrap();
    assert_eq!(expected, 5);
    let s = search(
        "components.app.kind.workers",
        Goal::Min,
        &format!("latency_mean_ms<={bound_ms}"),
        1,
        None,
        3,
    );
    let stop = AtomicBool::new(false);
    let req = SearchRun {
        base: &base,
        file: Path::new("mmc.ron"),
        search: &s,
        seed: None,
        threads: Some(2),
    };
    let o = search::run(&req, &stop).unwrap();
    assert_eq!(
        o.answer,
        Some(u64::from(expected)),
        "{}",
        search::render(&o)
    );
    assert_eq!(o.neighbour, Some(u64::from(expected) - 1));
    assert!(o.clear, "{}", search::render(&o));
    let at = o.probe(5).unwrap();
    assert_eq!(at.fraction_meeting_all, 1.0);
    let theory = queueing::mmc(3200.0, 1000.0, 5).unwrap().mean_response * 1e3;
    let sim = at.slos[0].summary.mean;
    assert!(
        (sim - theory).abs() / theory < 0.05,
        "W(5): simulated {sim} vs Erlang C {theory}"
    );
    // Bisection: doubling 1 → 2 → 4 → 8, then 6 and 5; never more than that.
    let probed: Vec<u64> = o.probes.iter().map(|p| p.value).collect();
    assert_eq!(probed, vec![1, 2, 4, 5, 6, 8]);

    // Same search, one thread: identical search.csv (common random numbers, sorted runs).
    let one = SearchRun {
        threads: Some(1),
        ..req
    };
    let o1 = search::run(&one, &stop).unwrap();
    assert_eq!(
        search::search_csv(&o1).unwrap(),
        search::search_csv(&o).unwrap()
    );
}

/// The largest load (a rate) an M/M/4 (mean service 1 ms) takes with a mean response under
/// 2 ms. Erlang C: W(λ) rises through 2 ms between 3300/s (1.92 ms) and 3400/s (2.17 ms), so
/// the answer must lie in [3200, 3500] with a 100/s slack for noise at a steep knee.
#[test]
fn knee_finder_finds_the_largest_load_meeting_an_slo() {
    let w = |l: f64| queueing::mmc(l, 1000.0, 4).unwrap().mean_response * 1e3;
    assert!(w(3300.0) < 2.0 && w(3400.0) > 2.0);
    let base = mmc_scenario("1000/s");
    let s = search(
        "components.clients.kind.rate",
        Goal::Max,
        "latency_mean_ms<=2",
        1000,
        Some(3900),
        2,
    );
    let stop = AtomicBool::new(false);
    let o = search::run(
        &SearchRun {
            base: &base,
            file: Path::new("mmc.ron"),
            search: &s,
            seed: None,
            threads: None,
        },
        &stop,
    )
    .unwrap();
    let a = o.answer.unwrap();
    assert!((3200..=3500).contains(&a), "{}", search::render(&o));
    assert_eq!(o.neighbour, Some(a + 1));
}

#[test]
fn knee_finder_rejects_bad_input_before_running() {
    let base = mmc_scenario("3200/s");
    let stop = AtomicBool::new(false);
    let err = |s: Search| {
        search::run(
            &SearchRun {
                base: &base,
                file: Path::new("mmc.ron"),
                search: &s,
                seed: None,
                threads: Some(1),
            },
            &stop,
        )
        .unwrap_err()
        .to_string()
    };
    let e = err(search(
        "components.app.kind.workers",
        Goal::Min,
        "latency_p99<=5",
        1,
        None,
        1,
    ));
    assert!(
        e.contains("unknown metric `latency_p99`")
            && e.contains("did you mean `latency_p99_ms`")
            && e.contains("allowed metrics: requests"),
        "{e}"
    );
    let e = err(search(
        "components.app.kind.service_time",
        Goal::Min,
        "latency_p99_ms<=5",
        1,
        None,
        1,
    ));
    assert!(e.contains("not an integer"), "{e}");
    let e = err(search(
        "components.ap.kind.workers",
        Goal::Min,
        "latency_p99_ms<=5",
        1,
        None,
        1,
    ));
    assert!(e.contains("did you mean `app`"), "{e}");
    // workers = 0 is invalid: the first probe is refused by validation, not run.
    let e = err(search(
        "components.app.kind.workers",
        Goal::Min,
        "latency_p99_ms<=5",
        0,
        Some(4),
        1,
    ));
    assert!(e.contains("workers=0 is not valid"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// The binary
// ---------------------------------------------------------------------------------------------

/// Runs the binary in `cwd` without a terminal: (exit code, stdout, stderr).
fn clustersim_in(cwd: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(crate::cli::binary())
        .args(args)
        .current_dir(cwd)
        .env("CI", "true")
        .output()
        .expect("running clustersim");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_estimate_prints_and_writes_estimate_csv() {
    let dir = TempDir::new("cli-estimate");
    let f = dir.join("hand.ron");
    std::fs::write(&f, HAND).unwrap();
    let (code, stdout, stderr) = clustersim_in(dir.path(), &["estimate", &f.to_string_lossy()]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("[database]") && stdout.contains("7.30 PB"),
        "{stdout}"
    );
    let csv = std::fs::read_to_string(dir.join("runs/hand/estimate.csv")).unwrap();
    assert!(
        csv.starts_with("section,quantity,value,unit,human,formula\n"),
        "{csv}"
    );
    assert!(
        !dir.join("runs/hand/summary.csv").exists(),
        "no simulation was asked for"
    );

    // What-if: `--set` changes an assumption (500 → 250 req/s per server doubles the fleet,
    // ⌈3472.2 ÷ 125⌉ = 28) and is checked like the file.
    let (code, stdout, stderr) = clustersim_in(
        dir.path(),
        &[
            "estimate",
            &f.to_string_lossy(),
            "--set",
            "app.throughput_rps=250",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let csv = std::fs::read_to_string(dir.join("runs/hand/estimate.csv")).unwrap();
    assert!(
        csv.contains("app,app_servers,28,servers,28,"),
        "{stdout}\n{csv}"
    );
    let (code, _, stderr) = clustersim_in(
        dir.path(),
        &["estimate", &f.to_string_lossy(), "--set", "peak_factr=3"],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("did you mean `peak_factor`"), "{stderr}");
    let (code, _, stderr) = clustersim_in(
        dir.path(),
        &["estimate", &f.to_string_lossy(), "--set", "peak_factor=0.5"],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("peak_factor: 0.5 is out of range"),
        "{stderr}"
    );

    // `run` and `check` on an estimate file point to `estimate`.
    for cmd in ["check", "run"] {
        let (code, _, stderr) = clustersim_in(dir.path(), &[cmd, &f.to_string_lossy()]);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(
            stderr.contains("is a capacity estimate")
                && stderr.contains("use `clustersim estimate"),
            "{stderr}"
        );
    }

    let (code, _, stderr) = clustersim_in(
        dir.path(),
        &[
            "estimate",
            &scenarios_dir().join("mm1.ron").to_string_lossy(),
        ],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("no `estimate` section"), "{stderr}");
}

#[test]
fn cli_estimate_simulate_writes_the_comparison_and_the_usual_reports() {
    let dir = TempDir::new("cli-estimate-sim");
    let f = dir.join("agreeing.ron");
    std::fs::write(
        &f,
        AGREEING.replace("duration: \"10s\"", "duration: \"3s\""),
    )
    .unwrap();
    let out = dir.join("out");
    let (code, stdout, stderr) = clustersim_in(
        dir.path(),
        &[
            "estimate",
            &f.to_string_lossy(),
            "--simulate",
            "--replications",
            "1",
            "--out",
            &out.to_string_lossy(),
        ],
    );
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("estimate vs simulation"), "{stdout}");
    for name in [
        "estimate.csv",
        "estimate_vs_simulation.csv",
        "simulation.ron",
        "summary.csv",
        "components.csv",
        "manifest.ron",
    ] {
        assert!(out.join(name).is_file(), "{name} missing");
    }
    let versus = std::fs::read_to_string(out.join("estimate_vs_simulation.csv")).unwrap();
    assert!(
        versus.starts_with(
            "quantity,tier,estimated,analytic_mmc,simulated_mean,simulated_ci95,simulated_max,verdict\n"
        ),
        "{versus}"
    );
    assert!(versus.contains("\nutilization,app,"), "{versus}");
    assert!(versus.contains("\nutilization,database,"), "{versus}");
    // One thread gives the same bytes.
    let out1 = dir.join("out1");
    let (code, _, stderr) = clustersim_in(
        dir.path(),
        &[
            "estimate",
            &f.to_string_lossy(),
            "--simulate",
            "--replications",
            "1",
            "--threads",
            "1",
            "--quiet",
            "--out",
            &out1.to_string_lossy(),
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    for name in ["estimate.csv", "estimate_vs_simulation.csv", "summary.csv"] {
        assert_eq!(
            std::fs::read(out.join(name)).unwrap(),
            std::fs::read(out1.join(name)).unwrap(),
            "{name} differs between thread counts"
        );
    }
    // The generated topology is an ordinary scenario: `run` accepts it.
    let (code, _, stderr) = clustersim_in(
        dir.path(),
        &["check", &out.join("simulation.ron").to_string_lossy()],
    );
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn cli_run_find_min_writes_search_csv_and_rejects_bad_slos() {
    let dir = TempDir::new("cli-search");
    let mmc = scenarios_dir()
        .join("mmc.ron")
        .to_string_lossy()
        .into_owned();
    let out = dir.join("out").to_string_lossy().into_owned();
    let args = [
        "run",
        &mmc,
        "--find-min",
        "components.app.kind.workers",
        "--slo",
        "latency_mean_ms<=1.35",
        "--low",
        "3",
        "--high",
        "6",
        "--replications",
        "2",
        "--set",
        "duration=4s",
        "--set",
        "warmup=1s",
        "--out",
        &out,
    ];
    let (code, stdout, stderr) = clustersim_in(dir.path(), &args);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("answer: components.app.kind.workers = 5"),
        "{stdout}"
    );
    let csv = std::fs::read_to_string(dir.join("out/search.csv")).unwrap();
    assert!(
        csv.starts_with(
            "param,value,role,runs,failed_runs,meets_all,fraction_meeting_all,latency_mean_ms_mean,"
        ),
        "{csv}"
    );
    assert!(
        csv.contains("components.app.kind.workers,5,answer,2,0,true,1,"),
        "{csv}"
    );
    assert!(
        csv.contains("components.app.kind.workers,4,neighbour,2,0,false,0,"),
        "{csv}"
    );
    let manifest = std::fs::read_to_string(dir.join("out/manifest.ron")).unwrap();
    assert!(
        manifest.contains("--find-min components.app.kind.workers --slo")
            && manifest.contains("latency_mean_ms<=1.35")
            && manifest.contains("--low 3 --high 6"),
        "the manifest's command does not reproduce the search:\n{manifest}"
    );
    // The usual reports describe every probe, one point per value.
    let points = std::fs::read_to_string(dir.join("out/points.csv")).unwrap();
    assert_eq!(
        points.lines().count(),
        1 + csv.lines().count() - 1,
        "{points}"
    );

    let mut bad = args;
    bad[5] = "latency_mean_ms=1";
    let (code, _, stderr) = clustersim_in(dir.path(), &bad);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("invalid SLO `latency_mean_ms=1`") && stderr.contains("expected an SLO"),
        "{stderr}"
    );
    bad[5] = "latency_mean<=1";
    let (code, _, stderr) = clustersim_in(dir.path(), &bad);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("allowed metrics:"), "{stderr}");
    let (code, _, stderr) =
        clustersim_in(dir.path(), &["run", &mmc, "--slo", "latency_mean_ms<=1"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("need --find-min PATH or --find-max PATH"),
        "{stderr}"
    );
}

/// The estimate loader returns `Ok` or `Err` for every prefix of every worked estimate (cut
/// at char boundaries, every fifth), never panics, and every syntax error has a location.
#[test]
fn no_prefix_of_an_estimate_file_panics() {
    for f in estimate_files() {
        let text = std::fs::read_to_string(&f).unwrap();
        let cuts = text
            .char_indices()
            .map(|(i, _)| i)
            .step_by(5)
            .chain([text.len()]);
        let mut ok = 0;
        for cut in cuts {
            let prefix = &text[..cut];
            let outcome = std::panic::catch_unwind(|| {
                load::from_str::<Estimate>(prefix, Path::new("prefix.ron"))
                    .map(|e| clustersim_scenarios::estimate::check(&e, ""))
            });
            match outcome {
                Ok(Ok(diags)) => {
                    assert!(diags.is_empty(), "{diags:?}");
                    ok += 1;
                }
                Ok(Err(e)) => assert!(e.line_column().is_some(), "{e}"),
                Err(_) => panic!("{}: panicked on the first {cut} bytes", f.display()),
            }
        }
        assert!(ok >= 1, "{}: the whole file did not load", f.display());
    }
}

/// `check` knows the metric names too: a search section with an unknown metric or a
/// non-integer parameter is refused before any run.
#[test]
fn cli_check_refuses_a_search_section_run_would_refuse() {
    let dir = TempDir::new("cli-check-search");
    let text = std::fs::read_to_string(scenarios_dir().join("search_app_servers.ron")).unwrap();
    let (code, _, stderr) = clustersim_in(
        dir.path(),
        &[
            "check",
            &scenarios_dir()
                .join("search_app_servers.ron")
                .to_string_lossy(),
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let bad = dir.join("bad.ron");
    std::fs::write(&bad, text.replace("latency_p99_ms<=25", "p99<=25")).unwrap();
    let (code, _, stderr) = clustersim_in(dir.path(), &["check", &bad.to_string_lossy()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("unknown metric `p99`"), "{stderr}");
    std::fs::write(
        &bad,
        text.replace(
            "components.app.kind.instances\",\n        goal",
            "components.app.kind.service_time\",\n        goal",
        ),
    )
    .unwrap();
    let (code, _, stderr) = clustersim_in(dir.path(), &["check", &bad.to_string_lossy()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("not an integer"), "{stderr}");
}

/// No value in range meets the SLO: no answer, the range is reported as exhausted, and the
/// command line exits with 1. Three workers at 3200/s with 1 ms service are unstable (ρ > 1):
/// the mean response grows through the run, far above 1.35 ms.
#[test]
fn knee_finder_reports_no_answer_when_the_range_never_meets_the_slo() {
    let base = mmc_scenario("3200/s");
    let s = search(
        "components.app.kind.workers",
        Goal::Min,
        "latency_mean_ms<=1.35",
        1,
        Some(3),
        1,
    );
    let stop = AtomicBool::new(false);
    let o = search::run(
        &SearchRun {
            base: &base,
            file: Path::new("mmc.ron"),
            search: &s,
            seed: None,
            threads: Some(1),
        },
        &stop,
    )
    .unwrap();
    assert_eq!(o.answer, None);
    assert!(o.range_exhausted && !o.clear);
    assert_eq!(o.probes.len(), 2, "only the ends of the range are probed");
    assert!(search::render(&o).contains("answer: none"));
}
