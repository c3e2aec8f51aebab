//! Fidelity: simulated queues against the analytic results of `clustersim_models::queueing`.
//!
//! **How the tolerances are set.** Each run is long (≈ 400k requests after a warm-up that is
//! excluded with `Recorder::set_warmup`) and split into report windows of 10 s. The windows are
//! used as *batches*: every batch spans thousands of service times, far more than the
//! integrated autocorrelation time of the quantity measured (≈ 45 service times for the number
//! in an M/M/1 system at ρ = 0.8, less elsewhere), so batch means are nearly independent and
//! their spread gives an honest standard error (SE) of the whole-run estimate even under the
//! strong autocorrelation of a busy queue. Every check asserts
//! `|simulated − analytic| ≤ 4 SE + quantisation`, where quantisation covers the 3-significant-
//! digit histograms (0.1 %). A check also asserts that its SE is small (a bound stated per
//! check), so a broken model cannot pass by being noisy; for M/M/1 the batch SE of the number
//! in system must also agree (within a factor 2) with Whitt's asymptotic variance
//! `2ρ(1+ρ)/((1−ρ)^4 μ T)`, which checks the simulated autocorrelation structure itself.
//! With 4 SE, a correct model fails with probability ≈ 10⁻⁴ per check; the seeds are fixed, so
//! the outcome is reproducible.

use clustersim_engine::{ComponentId, Dist, RunReport, SimDuration};
use clustersim_models::queueing::{self, QueueMetrics};
use clustersim_models::registry::ComponentConfig;
use clustersim_models::service::{Call, CallMode, ServiceConfig};
use clustersim_models::workload::OpenLoopConfig;

use crate::common::*;

/// Service rate of every station below: 1000 requests per second per server (1 ms mean).
const MU: f64 = 1000.0;
const MEAN_SERVICE_NS: f64 = 1e6;
const WARMUP: u64 = 20;
const WINDOW: SimDuration = SimDuration::from_secs(10);

/// One open-loop Poisson client → one service with `service`; returns (report, client, service).
fn run_station(
    seed: u64,
    lambda: f64,
    service: ServiceConfig,
    measured_s: u64,
) -> (RunReport, ComponentId, ComponentId) {
    let mut w = World::new(seed);
    let svc_id = ComponentId(1);
    let client = w.add(
        "client",
        ComponentConfig::OpenLoopClient(OpenLoopConfig::new(svc_id, lambda)),
    );
    let svc = w.add("svc", ComponentConfig::Service(service));
    assert_eq!(svc, svc_id);
    let r = w.run(secs(WARMUP), secs(WARMUP + measured_s), Some(WINDOW));
    (r, client, svc)
}

/// Asserts `|sim − want| ≤ 4 se + quant·|want|` and `se ≤ max_rel_se·|want|`.
fn check(what: &str, sim: f64, want: f64, se: f64, quant: f64, max_rel_se: f64) {
    let tol = 4.0 * se + quant * want.abs();
    eprintln!(
        "{what}: sim {sim:.6} analytic {want:.6} (se {se:.2e}, tol {tol:.2e}, dev {:.2} se)",
        (sim - want) / se
    );
    assert!(
        se <= max_rel_se * want.abs(),
        "{what}: SE {se:.3e} too large for a meaningful check (> {max_rel_se} × {want})"
    );
    assert!(
        (sim - want).abs() <= tol,
        "{what}: simulated {sim} vs analytic {want}, tolerance {tol} (4 SE + quantisation)"
    );
}

/// The usual per-station checks: mean response, time-average number in system, P(wait), and
/// mean wait, each with its batch-means SE.
fn check_station(label: &str, r: &RunReport, svc: ComponentId, a: &QueueMetrics, max_rel_se: f64) {
    let lat = hist_batches(r, svc, "latency_ns");
    let (_, se_w) = mean_se(&lat.iter().map(|b| b.1 / 1e9).collect::<Vec<_>>());
    check(
        &format!("{label} W"),
        hist_mean(r, svc, "latency_ns") / 1e9,
        a.mean_response,
        se_w,
        1e-3,
        max_rel_se,
    );

    let (_, se_l) = mean_se(&gauge_batches(r, svc, "in_system"));
    check(
        &format!("{label} L"),
        gauge_avg(r, svc, "in_system"),
        a.mean_in_system,
        se_l,
        0.0,
        max_rel_se,
    );

    // P(wait > 0), counted exactly: `waited` and `wait_ns` are both recorded at service start.
    let waited = counter_batches(r, svc, "waited");
    let started = hist_batches(r, svc, "wait_ns");
    let ratios: Vec<f64> = waited
        .iter()
        .zip(&started)
        .map(|(w, s)| *w as f64 / s.0 as f64)
        .collect();
    let (_, se_p) = mean_se(&ratios);
    let p = counter(r, svc, "waited") as f64 / hist_len(r, svc, "wait_ns") as f64;
    check(
        &format!("{label} P(wait)"),
        p,
        a.p_wait,
        se_p,
        0.0,
        max_rel_se,
    );

    let (_, se_wq) = mean_se(&started.iter().map(|b| b.1 / 1e9).collect::<Vec<_>>());
    check(
        &format!("{label} Wq"),
        hist_mean(r, svc, "wait_ns") / 1e9,
        a.mean_wait,
        se_wq,
        1e-3,
        2.0 * max_rel_se,
    );

    // Sanity: the time-average number busy is the utilisation times the servers.
    let busy = gauge_avg(r, svc, "busy");
    let (_, se_b) = mean_se(&gauge_batches(r, svc, "busy"));
    let servers = gauge_avg(r, svc, "servers");
    check(
        &format!("{label} busy"),
        busy,
        a.rho * servers,
        se_b,
        0.0,
        max_rel_se,
    );
}

fn mm1_case(rho: f64, seed: u64, measured_s: u64, max_rel_se: f64) {
    let lambda = rho * MU;
    let cfg = ServiceConfig::new(Dist::exponential(MEAN_SERVICE_NS).unwrap());
    let (r, _client, svc) = run_station(seed, lambda, cfg, measured_s);
    let a = queueing::mm1(lambda, MU).unwrap();
    let label = format!("M/M/1 rho={rho}");
    check_station(&label, &r, svc, &a, max_rel_se);

    // Whitt (1989): Var(L̄_T) ≈ 2ρ(1+ρ) / ((1−ρ)⁴ μ T). The batch SE must agree within ×2.
    let (_, se_l) = mean_se(&gauge_batches(&r, svc, "in_system"));
    let whitt = (2.0 * rho * (1.0 + rho) / ((1.0 - rho).powi(4) * MU * measured_secs(&r))).sqrt();
    eprintln!("{label}: batch SE of L {se_l:.4}, Whitt {whitt:.4}");
    assert!(
        se_l > whitt / 2.0 && se_l < whitt * 2.0,
        "{label}: batch SE {se_l} vs Whitt {whitt}"
    );

    // Response-time quantiles: W ~ Exp(μ − λ).
    let lat = hist_batches(&r, svc, "latency_ns");
    for (q, pick) in [(0.5, 2usize), (0.99, 3)] {
        let xs: Vec<f64> = lat
            .iter()
            .map(|b| if pick == 2 { b.2 } else { b.3 } / 1e9)
            .collect();
        let (_, se) = mean_se(&xs);
        let want = queueing::mm1_response_quantile(lambda, MU, q).unwrap();
        let sim = hist_quantile(&r, svc, "latency_ns", q) / 1e9;
        // Quantisation: the total histogram has 3 significant digits (0.1 %), and the batch
        // quantiles 2 (their rounding only adds to the SE, which makes it conservative).
        check(
            &format!("{label} p{}", q * 100.0),
            sim,
            want,
            se,
            1e-3,
            2.0 * max_rel_se,
        );
    }
}

/// M/M/1 at ρ = 0.5: 390k requests. SEs are ≈ 0.5 % of the means (Whitt: 0.55 % for L).
#[test]
fn mm1_at_half_load() {
    mm1_case(0.5, 11, 780, 0.01);
}

/// M/M/1 at ρ = 0.8: 384k requests. Autocorrelation makes the SE ≈ 1.5 % of L and W (Whitt:
/// 1.5 %), so a 4-SE tolerance is ≈ 6 %: generous, but derived, not guessed.
#[test]
fn mm1_at_high_load() {
    mm1_case(0.8, 12, 480, 0.025);
}

/// M/M/4 at ρ = 0.75 (one queue, four workers): Erlang C gives P(wait) ≈ 0.509 and
/// Wq = C / (cμ − λ) ≈ 0.51 ms. 390k requests.
#[test]
fn mmc_matches_erlang_c() {
    let c = 4;
    let lambda = 0.75 * MU * f64::from(c);
    let mut cfg = ServiceConfig::new(Dist::exponential(MEAN_SERVICE_NS).unwrap());
    cfg.workers = c;
    let (r, _, svc) = run_station(21, lambda, cfg, 130);
    let a = queueing::mmc(lambda, MU, c).unwrap();
    check_station("M/M/4 rho=0.75", &r, svc, &a, 0.02);
}

/// M/D/1 at ρ = 0.7: Pollaczek–Khinchine gives Wq = ρ S / (2(1 − ρ)) ≈ 1.167 ms, half the
/// M/M/1 wait. 385k requests.
#[test]
fn md1_matches_pollaczek_khinchine() {
    let lambda = 0.7 * MU;
    let cfg = ServiceConfig::new(Dist::constant(MEAN_SERVICE_NS).unwrap());
    let (r, _, svc) = run_station(31, lambda, cfg, 550);
    let a = queueing::md1(lambda, 1.0 / MU).unwrap();
    check_station("M/D/1 rho=0.7", &r, svc, &a, 0.02);
    // With constant service the response time is exactly wait + 1 ms for every request.
    let min = hist_quantile(&r, svc, "latency_ns", 0.0);
    assert!((min - 1e6).abs() <= 1e3, "{min}");
}

/// Little's law `L = λ W` holds on every sample path (up to boundary terms of order W / T), for
/// each station of a small call graph: a front end (2 workers, exponential 1 ms) that calls a
/// back end (exponential 0.5 ms, always) and a cache (exponential 0.2 ms, half the time) in
/// parallel, releasing its worker during the calls; and for the client's `in_flight`. The
/// tolerance is 1 %: the boundary error is below 0.01 % here (W ≈ 2 ms, T = 100 s), and there
/// is no sampling error since both sides are measured on the same path.
#[test]
fn littles_law_holds_on_a_call_graph() {
    let mut w = World::new(41);
    let (front, back, cache) = (ComponentId(1), ComponentId(2), ComponentId(3));
    let client = w.add(
        "client",
        ComponentConfig::OpenLoopClient(OpenLoopConfig::new(front, 1200.0)),
    );
    let mut fe = ServiceConfig::new(Dist::exponential(1e6).unwrap());
    fe.workers = 2;
    fe.calls = vec![
        Call {
            target: back,
            probability: 1.0,
            op: None,
        },
        Call {
            target: cache,
            probability: 0.5,
            op: None,
        },
    ];
    fe.call_mode = CallMode::Parallel;
    fe.hold_worker_during_calls = false;
    assert_eq!(w.add("front", ComponentConfig::Service(fe)), front);
    assert_eq!(
        w.add(
            "back",
            ComponentConfig::Service(ServiceConfig::new(Dist::exponential(0.5e6).unwrap()))
        ),
        back
    );
    assert_eq!(
        w.add(
            "cache",
            ComponentConfig::Service(ServiceConfig::new(Dist::exponential(0.2e6).unwrap()))
        ),
        cache
    );
    let r = w.run(secs(5), secs(105), None);
    let t = measured_secs(&r);
    for svc in [front, back, cache] {
        let throughput = (counter(&r, svc, "completed") + counter(&r, svc, "errors")) as f64 / t;
        let w_s = hist_mean(&r, svc, "latency_ns") / 1e9;
        let l = gauge_avg(&r, svc, "in_system");
        let little = queueing::little_l(throughput, w_s);
        eprintln!(
            "{svc:?}: L {l:.5} λW {little:.5} (λ {throughput:.1}/s, W {:.4} ms)",
            w_s * 1e3
        );
        assert!(
            (l - little).abs() <= 0.01 * little,
            "{svc:?}: L = {l} but λW = {little}"
        );
        assert_eq!(counter(&r, svc, "errors"), 0);
    }
    // The cache sees about half the front end's traffic.
    let ratio = counter(&r, cache, "arrivals") as f64 / counter(&r, front, "arrivals") as f64;
    // Binomial(120k, 0.5) proportion: sd 0.0014; 5 sd.
    assert!((ratio - 0.5).abs() < 0.0075, "{ratio}");
    // The front end's latency includes its calls: more than its own 1 ms + back end's 0.5 ms.
    assert!(hist_mean(&r, front, "latency_ns") > 1.5e6);
    let x = counter(&r, client, "ok") as f64 / t;
    let l = gauge_avg(&r, client, "in_flight");
    let little = x * hist_mean(&r, client, "latency_ns") / 1e9;
    assert!(
        (l - little).abs() <= 0.01 * little,
        "client: L = {l} but λW = {little}"
    );
}
