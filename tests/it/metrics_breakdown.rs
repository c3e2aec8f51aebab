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
    // Clients count a 429 when it arrives, the limiter when it sends it: a throttle sent
    // just before the warm-up ends may arrive just after (0.5 ms away), so allow a couple.
    let throttled = value_of(&run.metrics, "throttled");
    assert!(
        (throttled - rejected_abuser).abs() <= 2.0,
        "clients saw {throttled} throttles, the limiter sent {rejected_abuser}"
    );
}
