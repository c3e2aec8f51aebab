//! `metrics.csv`: every series total, with labelled (`name@label`) breakdowns — here the
//! per-client counters of a rate limiter (`rate_limit_per_client.ron`).

use clustersim_tests::{plan_short, run_all, scenarios_dir, series_value, value_of};

/// One abusive user (id 0, 100 requests/s) and 999 normal ones (0.5/s each) behind per-client
/// token buckets of 5/s with a burst of 10, measured for 19 s.
///
/// Token-bucket bound: over a window T a bucket admits at most r·T + b = 5 × 19 + 10 = 105;
/// it also admits at least r·T − (tokens unused while the abuser is idle) — at 100 arrivals/s
/// the bucket is empty almost always, so ≥ 0.9 × r·T is a loose floor (a Poisson gap long
/// enough to waste a whole token, > 200 ms at 100/s, has probability e^-20).
/// A normal user needs more than 10 requests within about 2 s to be throttled: at 0.5/s that
/// is a Poisson(1) tail beyond 10, ≈ 1e-8 per user and window, so "never" is safe to assert.
#[test]
fn per_client_limits_are_reported_per_key() {
    let plan = plan_short(
        &scenarios_dir().join("rate_limit_per_client.ron"),
        &["duration=20s"],
    );
    let runs = run_all(&plan);
    let run = &runs[0];
    let secs = 19.0;
    let admitted_abuser = series_value(run, "limiter", "admitted", "key=0");
    let rejected_abuser = series_value(run, "limiter", "rejected", "key=0");
    assert!(
        admitted_abuser <= 5.0 * secs + 10.0 && admitted_abuser >= 0.9 * 5.0 * secs,
        "abuser admitted {admitted_abuser}"
    );
    let offered = admitted_abuser + rejected_abuser;
    assert!(
        rejected_abuser / offered > 0.9,
        "abuser rejected only {rejected_abuser} of {offered}"
    );
    let mut labelled_admitted = admitted_abuser;
    for key in 1..32 {
        let label = format!("key={key}");
        assert_eq!(
            series_value(run, "limiter", "rejected", &label),
            0.0,
            "normal user {key} was throttled"
        );
        labelled_admitted += series_value(run, "limiter", "admitted", &label);
    }
    assert_eq!(series_value(run, "limiter", "rejected", "key=other"), 0.0);
    labelled_admitted += series_value(run, "limiter", "admitted", "key=other");
    // The breakdown partitions the total.
    assert_eq!(
        labelled_admitted,
        series_value(run, "limiter", "admitted", "")
    );
    assert_eq!(
        rejected_abuser,
        series_value(run, "limiter", "rejected", "")
    );
    assert_eq!(
        value_of(&run.metrics, "rejected"),
        0.0,
        "clients count 429s as throttled"
    );
    // Per window, the label follows the statistic.
    for metric in [
        "admitted@key=0",
        "admitted_per_s@key=0",
        "rejected_per_s@key=other",
    ] {
        assert!(
            run.timeseries
                .iter()
                .any(|t| t.component == "limiter" && t.metric == metric),
            "timeseries lacks {metric}"
        );
    }
    // Clients count a 429 when it arrives, the limiter when it sends it: a throttle sent
    // just before the warm-up ends may arrive just after (0.5 ms away), so allow a couple.
    let throttled = value_of(&run.metrics, "throttled");
    assert!(
        (throttled - rejected_abuser).abs() <= 2.0,
        "clients saw {throttled} throttles, the limiter sent {rejected_abuser}"
    );
}

/// `latency_cdf.csv` holds the whole response-time distribution. For M/M/1 (λ = 800/s,
/// μ = 1000/s: `mm1.ron`) the response time is exponential with rate μ − λ = 200/s, so the
/// q-quantile is −ln(1 − q) / 200 s.
///
/// Tolerance 10 %: 60 s at 800/s gives ~47 000 samples, but at ρ = 0.8 successive response
/// times are strongly correlated (effective sample size ≈ n / 15). The standard error of a
/// sample quantile is √(q(1−q)/n_eff) / f(x_q) with f(x_q) = 200 (1 − q): ≈ 2.5 % of the value
/// at the median and ≈ 4 % at p99, so 10 % is 2.5–4 standard errors, plus the histogram's
/// 0.1 % resolution.
#[test]
fn latency_cdf_matches_mm1() {
    use clustersim_analysis::result::CDF_QUANTILES;
    let plan = plan_short(&scenarios_dir().join("mm1.ron"), &["duration=61s"]);
    let run = &run_all(&plan)[0];
    assert_eq!(run.latency_cdf_ms.len(), CDF_QUANTILES.len());
    assert!(
        run.latency_cdf_ms.windows(2).all(|w| w[0] <= w[1]),
        "not monotone: {:?}",
        run.latency_cdf_ms
    );
    for (&q, &ms) in CDF_QUANTILES.iter().zip(&run.latency_cdf_ms) {
        if !(0.05..=0.99).contains(&q) {
            continue;
        }
        let theory_ms = -(1.0 - q).ln() / 200.0 * 1000.0;
        assert!(
            (ms / theory_ms - 1.0).abs() < 0.10,
            "q = {q}: simulated {ms} ms, M/M/1 {theory_ms} ms"
        );
    }
    // The same histogram as summary.csv's percentile columns.
    let at = |q: f64| run.latency_cdf_ms[CDF_QUANTILES.iter().position(|&x| x == q).unwrap()];
    assert_eq!(at(0.5), value_of(&run.metrics, "latency_p50_ms"));
    assert_eq!(at(0.99), value_of(&run.metrics, "latency_p99_ms"));
    assert_eq!(at(1.0), value_of(&run.metrics, "latency_max_ms"));
}

/// Store fronts get an `availability` row per window (successful ÷ answered). In
/// `store_partition_cp_vs_ap.ron` the 2|1 partition lasts from 3 s to 13 s: with the CP policy
/// the minority front (`db_b`, one replica of three) refuses everything inside it (exactly
/// 0: every answer is a refusal), while the majority front keeps serving; with AP both serve.
/// Windows next to the partition's edges are skipped: requests caught in flight time out.
#[test]
fn store_availability_per_window_shows_cp_refusing_on_the_minority_side() {
    let plan = plan_short(
        &scenarios_dir().join("store_partition_cp_vs_ap.ron"),
        &["duration=16s"],
    );
    let runs = run_all(&plan);
    let availability = |run: &clustersim_analysis::result::RunResult, component: &str| {
        let v: Vec<(f64, f64)> = run
            .timeseries
            .iter()
            .filter(|t| t.component == component && t.metric == "availability")
            .filter(|t| (5.0..12.0).contains(&t.start_s))
            .map(|t| (t.start_s, t.value))
            .collect();
        assert_eq!(v.len(), 7, "{component}: windows {v:?}");
        v
    };
    let (cp, ap) = (&runs[0], &runs[1]);
    assert!(availability(cp, "db_b").iter().all(|&(_, a)| a == 0.0));
    assert!(availability(cp, "db_a").iter().all(|&(_, a)| a >= 0.95));
    assert!(availability(ap, "db_b").iter().all(|&(_, a)| a >= 0.95));
    assert!(availability(ap, "db_a").iter().all(|&(_, a)| a >= 0.95));
}
