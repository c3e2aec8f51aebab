//! Load balancer: whole simulations against queueing theory and against the policies' promises.
//!
//! **Tolerances.** As in `fidelity`: runs are long, split into report windows used as batches
//! (each spans thousands of service times, far longer than the autocorrelation time of the
//! response times at ρ ≤ 0.9, so batch means are nearly independent), and a check asserts
//! `|simulated − analytic| ≤ 4 SE + 0.1 %` (0.1 % = the 3-significant-digit histograms) and
//! that the SE is below a stated bound, so a broken model cannot pass by being noisy. With
//! 4 SE a correct model fails with probability ≈ 10⁻⁴ per check; seeds are fixed.

use std::sync::{Arc, Mutex};

use clustersim_engine::{
    Component, ComponentId, Ctx, Dist, FaultAction, RunReport, SimDuration, SimTime,
};
use clustersim_models::load_balancer::{HealthCheck, Layer, LoadBalancerConfig, Policy, Pool};
use clustersim_models::msg::Op;
use clustersim_models::registry::ComponentConfig;
use clustersim_models::service::ServiceConfig;
use clustersim_models::workload::{ClosedLoopConfig, OpMix, OpenLoopConfig};
use clustersim_models::{Cluster, Msg, Response, Status};

use crate::common::*;

const MU: f64 = 1000.0;
const WARMUP: u64 = 20;
const WINDOW: SimDuration = SimDuration::from_secs(5);

fn mm1_backend() -> ComponentConfig {
    ComponentConfig::Service(ServiceConfig::new(Dist::exponential(1e9 / MU).unwrap()))
}

/// clients (Poisson, `lambda`) → lb (`policy`) → `n` M/M/1 backends. Returns the report and
/// the ids of (client, lb).
fn run_pool(
    seed: u64,
    policy: Policy,
    n: u32,
    lambda: f64,
    measured: u64,
) -> (RunReport, ComponentId, ComponentId) {
    let mut w = World::new(seed);
    let lb = ComponentId(1);
    let client = w.add(
        "client",
        ComponentConfig::OpenLoopClient(OpenLoopConfig::new(lb, lambda)),
    );
    let targets: Vec<ComponentId> = (0..n).map(|i| ComponentId(2 + i)).collect();
    let mut cfg = LoadBalancerConfig::new(&targets);
    cfg.policy = policy;
    assert_eq!(w.add("lb", ComponentConfig::LoadBalancer(cfg)), lb);
    for i in 0..n {
        w.add(&format!("s{i}"), mm1_backend());
    }
    let r = w.run(secs(WARMUP), secs(WARMUP + measured), Some(WINDOW));
    (r, client, lb)
}

/// (mean, batch SE) of the end-to-end latency in seconds.
fn latency(r: &RunReport, client: ComponentId) -> (f64, f64) {
    let b = hist_batches(r, client, "latency_ns");
    let (_, se) = mean_se(&b.iter().map(|x| x.1 / 1e9).collect::<Vec<_>>());
    (hist_mean(r, client, "latency_ns") / 1e9, se)
}

fn check(what: &str, sim: f64, want: f64, se: f64, max_rel_se: f64) {
    let tol = 4.0 * se + 1e-3 * want;
    eprintln!(
        "{what}: sim {sim:.6} analytic {want:.6} (se {se:.2e}, {:.2} se)",
        (sim - want) / se
    );
    assert!(
        se <= max_rel_se * want,
        "{what}: SE {se} too large (> {max_rel_se} × {want})"
    );
    assert!(
        (sim - want).abs() <= tol,
        "{what}: {sim} vs {want}, tolerance {tol}"
    );
}

/// Random assignment splits a Poisson stream into N independent Poisson streams of rate λ/N:
/// N independent M/M/1 queues, mean response 1/(μ − λ/N).
#[test]
fn random_assignment_is_n_independent_mm1_queues() {
    let (n, lambda) = (4, 3200.0); // ρ = 0.8 per server
    let (r, client, _) = run_pool(21, Policy::Random, n, lambda, 100);
    let (w, se) = latency(&r, client);
    check("random W", w, 1.0 / (MU - lambda / f64::from(n)), se, 0.03);
}

/// Round robin over N servers fed by one Poisson stream: each server sees Erlang-N
/// inter-arrival times, an E_N/M/1 queue. GI/M/1: W = 1 / (μ(1 − σ)) where σ solves
/// σ = A*(μ(1 − σ)), A*(s) = (Λ / (Λ + s))^N the inter-arrival transform.
fn round_robin_w(n: u32, lambda: f64) -> f64 {
    let mut sigma = 0.5f64;
    for _ in 0..10_000 {
        sigma = (lambda / (lambda + MU * (1.0 - sigma))).powi(n as i32);
    }
    1.0 / (MU * (1.0 - sigma))
}

/// At ρ = 0.9: least connections (join the shortest queue) beats round robin, which beats
/// random; round robin and random also match their formulas.
#[test]
fn least_connections_beats_round_robin_beats_random_at_rho_0_9() {
    let (n, lambda) = (4, 3600.0);
    let measured = 100;
    let (r, c, _) = run_pool(22, Policy::Random, n, lambda, measured);
    let random = latency(&r, c);
    check(
        "random W",
        random.0,
        1.0 / (MU - lambda / f64::from(n)),
        random.1,
        0.05,
    );
    let (r, c, _) = run_pool(22, Policy::RoundRobin, n, lambda, measured);
    let rr = latency(&r, c);
    check(
        "round robin W (E4/M/1)",
        rr.0,
        round_robin_w(n, lambda),
        rr.1,
        0.05,
    );
    let (r, c, lb) = run_pool(22, Policy::LeastConnections, n, lambda, measured);
    let lc = latency(&r, c);
    let (r2, c2, _) = run_pool(22, Policy::PowerOfTwoChoices, n, lambda, measured);
    let p2c = latency(&r2, c2);
    eprintln!(
        "W: least connections {:.3} ms, p2c {:.3} ms, round robin {:.3} ms, random {:.3} ms",
        lc.0 * 1e3,
        p2c.0 * 1e3,
        rr.0 * 1e3,
        random.0 * 1e3
    );
    // Differences of many standard errors, not noise: each gap must exceed 4 SE of both sides.
    assert!(lc.0 + 4.0 * (lc.1 + rr.1) < rr.0, "LC {lc:?} vs RR {rr:?}");
    assert!(
        rr.0 + 4.0 * (rr.1 + random.1) < random.0,
        "RR {rr:?} vs random {random:?}"
    );
    assert!(
        p2c.0 + 4.0 * (p2c.1 + random.1) < random.0,
        "P2C {p2c:?} vs random {random:?}"
    );
    // The `active` gauge is the LB's view of open backend connections: by Little's law its time
    // average is λ × W (W here is the whole response time, as the network is ideal).
    let active = gauge_avg(&r, lb, "active");
    let want = lambda * lc.0;
    assert!(
        (active - want).abs() < 0.05 * want,
        "active {active} vs λW {want}"
    );
}

/// Weighted round robin forwards exactly in weight proportion (up to one partial cycle at
/// each end of the measured window), and the backends see exactly what the LB sent.
#[test]
fn weighted_round_robin_splits_in_weight_proportion_exactly() {
    let mut w = World::new(5);
    let lb = ComponentId(1);
    w.add(
        "client",
        ComponentConfig::OpenLoopClient(OpenLoopConfig::new(lb, 2000.0)),
    );
    let targets = [ComponentId(2), ComponentId(3), ComponentId(4)];
    let mut cfg = LoadBalancerConfig::new(&targets);
    cfg.policy = Policy::WeightedRoundRobin;
    let weights = [5u32, 3, 1];
    for (b, &wt) in cfg.backends.iter_mut().zip(&weights) {
        b.weight = wt;
    }
    w.add("lb", ComponentConfig::LoadBalancer(cfg));
    for i in 0..3 {
        w.add(
            &format!("s{i}"),
            ComponentConfig::Service(ServiceConfig::new(Dist::exponential(2e5).unwrap())),
        );
    }
    let r = w.run(secs(0), secs(20), None);
    let counts: Vec<u64> = (0..3)
        .map(|i| counter(&r, lb, &format!("to_backend_{i}")))
        .collect();
    let total: u64 = counts.iter().sum();
    for (i, (&c, &wt)) in counts.iter().zip(&weights).enumerate() {
        let exact = total as f64 * f64::from(wt) / 9.0;
        assert!(
            (c as f64 - exact).abs() <= f64::from(wt),
            "backend {i}: {c} vs {exact} ({counts:?})"
        );
        let arrivals = counter(&r, targets[i], "arrivals");
        assert!(
            c - arrivals <= 1,
            "backend {i}: LB sent {c}, it received {arrivals}"
        );
    }
}

/// A backend that records which end user each request was for, and answers at once.
struct Recorder {
    me: usize,
    seen: Arc<Mutex<Vec<(u32, usize)>>>,
}

impl Component<Cluster> for Recorder {
    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: Msg) {
        if let Msg::Request(r) = msg {
            self.seen.lock().unwrap().push((r.client, self.me));
            let resp = Response {
                id: r.id,
                status: Status::Ok,
                size_bytes: 0,
                version: 0,
            };
            cx.send(from, Msg::Response(resp));
        }
    }
}

/// IP hash: every request of one end user reaches the same backend; users spread over all.
#[test]
fn ip_hash_sends_every_request_of_a_client_to_the_same_backend() {
    for closed in [false, true] {
        let mut w = World::new(8);
        let lb = ComponentId(1);
        let client = if closed {
            let c = ClosedLoopConfig::new(lb, 200, Dist::exponential(1e7).unwrap());
            ComponentConfig::ClosedLoopClient(c)
        } else {
            let mut c = OpenLoopConfig::new(lb, 5000.0);
            c.clients = 300;
            ComponentConfig::OpenLoopClient(c)
        };
        w.add("client", client);
        let targets: Vec<ComponentId> = (2..7).map(ComponentId).collect();
        let mut cfg = LoadBalancerConfig::new(&targets);
        cfg.policy = Policy::IpHash;
        w.add("lb", ComponentConfig::LoadBalancer(cfg));
        let seen = Arc::new(Mutex::new(Vec::new()));
        for i in 0..targets.len() {
            let node =
                w.b.add_node(&format!("r{i}"), clustersim_engine::RegionId(0));
            let rec = Recorder {
                me: i,
                seen: Arc::clone(&seen),
            };
            w.b.add_component(node, &format!("r{i}"), Box::new(rec));
        }
        w.run(secs(0), secs(5), None);
        let seen = seen.lock().unwrap();
        assert!(seen.len() > 10_000, "{}", seen.len());
        let mut home = std::collections::BTreeMap::new();
        for &(user, backend) in seen.iter() {
            let first = *home.entry(user).or_insert(backend);
            assert_eq!(
                first, backend,
                "user {user} moved from {first} to {backend}"
            );
        }
        let used: std::collections::BTreeSet<usize> = home.values().copied().collect();
        assert_eq!(used.len(), targets.len(), "users spread over every backend");
        assert_eq!(home.len(), if closed { 200 } else { 300 });
    }
}

/// clients → lb (least connections, probes every 500 ms) → 3 services; `s1` crashes at 5 s for
/// 5 s. Returns (report, client, lb).
fn failover_run(passive: bool, retry: bool) -> (RunReport, ComponentId, ComponentId) {
    let mut w = World::new(31);
    let lb = ComponentId(1);
    let mut oc = OpenLoopConfig::new(lb, 3000.0);
    oc.timeout = Some(secs(2));
    let client = w.add("client", ComponentConfig::OpenLoopClient(oc));
    let targets = [ComponentId(2), ComponentId(3), ComponentId(4)];
    let mut cfg = LoadBalancerConfig::new(&targets);
    cfg.policy = Policy::LeastConnections;
    cfg.backend_timeout = Some(ms(300));
    cfg.retry_other_backend = retry;
    cfg.health = Some(HealthCheck {
        interval: ms(500),
        timeout: ms(200),
        unhealthy_threshold: 3,
        healthy_threshold: 2,
        passive,
    });
    w.add("lb", ComponentConfig::LoadBalancer(cfg));
    for i in 0..3 {
        let mut s = ServiceConfig::new(Dist::exponential(2e6).unwrap());
        s.workers = 4;
        w.add(&format!("s{i}"), ComponentConfig::Service(s));
    }
    w.crash_between(targets[1], secs(5), secs(10));
    (w.run(secs(1), secs(15), Some(ms(500))), client, lb)
}

/// Health checks route around a crashed backend and bring it back after its restart; the
/// error window is measured, and passive detection plus a retry close it.
#[test]
fn health_checks_route_around_a_crash_and_the_error_window_is_counted() {
    let (r, client, lb) = failover_run(false, false);
    assert_eq!(counter(&r, lb, "marked_down"), 1);
    assert_eq!(counter(&r, lb, "marked_up"), 1);
    let failed = counter(&r, lb, "failed_during_failover");
    // Probes every 500 ms, 3 failures: detection 1.0–1.5 s after the crash. Least
    // connections makes it worse than 1/3 of the traffic: a dead backend fails requests at
    // once (stream send failure), so its active count stays 0 and it wins nearly every pick —
    // the "black hole" of least-connections balancing. Between 1/3 and all of 3000/s × 1–1.5 s.
    eprintln!("failed_during_failover (active checks only): {failed}");
    assert!(
        (1000..4500).contains(&failed),
        "failed_during_failover {failed}"
    );
    assert_eq!(
        counter(&r, client, "failed"),
        failed,
        "the client sees exactly those failures"
    );
    let det = hist_mean(&r, lb, "detection_ns") / 1e9;
    assert!((0.9..=1.5).contains(&det), "detection {det} s");
    // While it is down (after detection) nothing is sent to s1.
    let sent: Vec<u64> = counter_batches(&r, lb, "to_backend_1");
    assert!(sent[14..18].iter().all(|&n| n == 0), "{sent:?}");
    assert!(
        sent[20..].iter().all(|&n| n > 100),
        "back in rotation: {sent:?}"
    );

    // Passive detection: three failed requests eject the backend within milliseconds; only
    // the requests inside s1 when it crashed fail, after the 300 ms backend timeout.
    let (r, _, lb) = failover_run(true, false);
    let passive = counter(&r, lb, "failed_during_failover");
    assert!(passive < 30, "passive: {passive}");
    eprintln!(
        "passive: failed {passive}, marked_down {}, detection mean {} ns, n {}",
        counter(&r, lb, "marked_down"),
        hist_mean(&r, lb, "detection_ns"),
        hist_len(&r, lb, "detection_ns")
    );
    assert!(hist_mean(&r, lb, "detection_ns") < 1e7);
    // Passive + retry: every failed attempt is retried elsewhere; nothing fails.
    let (r, client, lb) = failover_run(true, true);
    assert_eq!(counter(&r, lb, "failed_during_failover"), 0);
    assert_eq!(counter(&r, client, "failed"), 0);
    assert!(counter(&r, lb, "retries") > 0);
}

/// Active-passive balancers: a `Failover` balancer with health checks stands for the virtual
/// address on the client's side; when the active balancer crashes the passive one takes over
/// after the detection delay, and traffic returns when the active one is back.
#[test]
fn active_passive_balancers_take_over_after_a_crash() {
    let run = |seed| {
        let mut w = World::new(seed);
        let (vip, lb1, lb2) = (ComponentId(1), ComponentId(2), ComponentId(3));
        let mut oc = OpenLoopConfig::new(vip, 2000.0);
        oc.timeout = Some(secs(1));
        let client = w.add("client", ComponentConfig::OpenLoopClient(oc));
        let mut v = LoadBalancerConfig::new(&[lb1, lb2]);
        v.policy = Policy::Failover;
        v.backend_timeout = Some(ms(200));
        v.health = Some(HealthCheck {
            interval: ms(100),
            timeout: ms(50),
            unhealthy_threshold: 3,
            healthy_threshold: 3,
            passive: false,
        });
        w.add("vip", ComponentConfig::LoadBalancer(v));
        let backends = [ComponentId(4), ComponentId(5)];
        for name in ["lb1", "lb2"] {
            let mut c = LoadBalancerConfig::new(&backends);
            c.policy = Policy::LeastConnections;
            w.add(name, ComponentConfig::LoadBalancer(c));
        }
        for name in ["s1", "s2"] {
            let mut s = ServiceConfig::new(Dist::exponential(1e6).unwrap());
            s.workers = 2;
            w.add(name, ComponentConfig::Service(s));
        }
        w.crash_between(lb1, secs(4), secs(8));
        (w.run(secs(1), secs(12), Some(secs(1))), client, vip, lb2)
    };
    let (r, client, vip, lb2) = run(3);
    assert_eq!(counter(&r, vip, "marked_down"), 1);
    assert_eq!(counter(&r, vip, "marked_up"), 1);
    let failed = counter(&r, vip, "failed_during_failover");
    // Detection takes 3 probes of 100 ms (0.2–0.3 s) at 2000/s: a few hundred requests fail.
    assert!(
        (200..800).contains(&failed),
        "failed during LB failover: {failed}"
    );
    assert_eq!(counter(&r, client, "failed"), failed);
    let via_lb2 = counter_batches(&r, lb2, "arrivals");
    assert!(
        via_lb2[..3].iter().all(|&n| n == 0),
        "passive while lb1 is up: {via_lb2:?}"
    );
    assert!(
        via_lb2[4..6].iter().all(|&n| n > 1500),
        "lb2 active: {via_lb2:?}"
    );
    assert!(
        via_lb2[8..].iter().all(|&n| n == 0),
        "back to lb1: {via_lb2:?}"
    );
    // Deterministic.
    let (again, ..) = run(3);
    assert_eq!(r.summary.digest, again.summary.digest);
}

/// A backend that records the op of every request it serves, and answers at once.
struct OpRecorder {
    me: usize,
    seen: Arc<Mutex<Vec<[u64; 3]>>>,
}

impl Component<Cluster> for OpRecorder {
    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: Msg) {
        if let Msg::Request(r) = msg {
            let i = match r.op {
                Op::Read => 0,
                Op::Write => 1,
                Op::Other => 2,
            };
            self.seen.lock().unwrap()[self.me][i] += 1;
            let resp = Response {
                id: r.id,
                status: Status::Ok,
                size_bytes: 0,
                version: 0,
            };
            cx.send(from, Msg::Response(resp));
        }
    }
}

/// Layer-7 per-operation pools: writes reach only the write pool (`primary`), reads only the
/// read pool (`r1`, `r2`), spread evenly by the pool's own policy instance; `Other` (no pool)
/// uses every backend.
#[test]
fn layer_7_pools_send_writes_to_the_primary_and_spread_reads_over_replicas() {
    for policy in [
        Policy::RoundRobin,
        Policy::LeastConnections,
        Policy::LeastResponseTime,
    ] {
        let mut w = World::new(12);
        let lb = ComponentId(1);
        let mut oc = OpenLoopConfig::new(lb, 5000.0);
        oc.mix = OpMix {
            read: 0.6,
            write: 0.3,
            other: 0.1,
        };
        w.add("client", ComponentConfig::OpenLoopClient(oc));
        let targets = [ComponentId(2), ComponentId(3), ComponentId(4)]; // primary, r1, r2
        let mut cfg = LoadBalancerConfig::new(&targets);
        cfg.policy = policy;
        cfg.layer = Layer::L7;
        cfg.pools = vec![
            Pool {
                op: Op::Write,
                backends: vec![0],
            },
            Pool {
                op: Op::Read,
                backends: vec![1, 2],
            },
        ];
        w.add("lb", ComponentConfig::LoadBalancer(cfg));
        let seen = Arc::new(Mutex::new(vec![[0u64; 3]; 3]));
        for (i, name) in ["primary", "r1", "r2"].into_iter().enumerate() {
            let node = w.b.add_node(name, clustersim_engine::RegionId(0));
            let rec = OpRecorder {
                me: i,
                seen: Arc::clone(&seen),
            };
            w.b.add_component(node, name, Box::new(rec));
        }
        let r = w.run(secs(0), secs(10), None);
        let seen = seen.lock().unwrap().clone();
        eprintln!("{policy:?}: [read, write, other] per backend {seen:?}");
        let total: u64 = seen.iter().flatten().sum();
        assert!(total > 45_000, "{total}");
        // Writes: all on the primary; reads: none on it.
        assert!(seen[0][1] > 13_000, "{seen:?}");
        assert_eq!(seen[1][1] + seen[2][1], 0, "a write left the write pool");
        assert_eq!(seen[0][0], 0, "a read reached the primary");
        // Reads spread over the replicas: instant answers keep every connection count at 0,
        // so the least-* policies break ties in turn, like round robin: within one request.
        let (a, b) = (seen[1][0], seen[2][0]);
        assert!(
            a + b > 27_000 && a.abs_diff(b) <= 1,
            "{policy:?}: reads {a} vs {b}"
        );
        // `Other` has no pool: every backend gets a share (a third each, ± 10 %).
        let other: u64 = seen.iter().map(|s| s[2]).sum();
        for s in &seen {
            let share = s[2] as f64 / other as f64;
            assert!((share - 1.0 / 3.0).abs() < 0.033, "other: {seen:?}");
        }
        // The LB's per-backend counters agree with what the backends saw.
        for (i, s) in seen.iter().enumerate() {
            assert_eq!(
                counter(&r, lb, &format!("to_backend_{i}")),
                s.iter().sum::<u64>()
            );
        }
    }
}

/// clients (1200/s) → lb → 4 services (8 workers, Exponential 2 ms: 4000/s each); `s1`'s node
/// is slowed down ×10 at 2 s (capacity 400/s, still stable under round robin's 300/s).
/// Measured 3–33 s. Returns (report, client, lb).
fn slow_backend_run(policy: Policy) -> (RunReport, ComponentId, ComponentId) {
    let mut w = World::new(41);
    let lb = ComponentId(1);
    let client = w.add(
        "client",
        ComponentConfig::OpenLoopClient(OpenLoopConfig::new(lb, 1200.0)),
    );
    let targets: Vec<ComponentId> = (2..6).map(ComponentId).collect();
    let mut cfg = LoadBalancerConfig::new(&targets);
    cfg.policy = policy;
    w.add("lb", ComponentConfig::LoadBalancer(cfg));
    for i in 0..4 {
        let mut s = ServiceConfig::new(Dist::exponential(2e6).unwrap());
        s.workers = 8;
        w.add(&format!("s{i}"), ComponentConfig::Service(s));
    }
    let node = w.b.names().component_node[targets[1].index()];
    w.b.schedule_fault(
        SimTime::ZERO + secs(2),
        FaultAction::Slowdown {
            node,
            factor_permille: 10_000,
        },
    );
    (w.run(secs(3), secs(33), None), client, lb)
}

/// Failover away from a slow (not crashed) backend: round robin keeps sending it a quarter of
/// the traffic; least connections and least response time see its longer connections / its
/// time to first byte and move traffic away — its share drops from 25 % to under 10 %
/// (least connections: observed 6.5 %; with every count at 0 ties still go to it in turn) and
/// under 3 % (least response time: observed 0 — its (0 + 1) × 20 ms key loses to a fast
/// backend's (a + 1) × 2 ms until a ≥ 9, which never happens at this load, so it is starved
/// for as long as its old EWMA stands), and the mean latency falls.
#[test]
fn load_aware_policies_move_traffic_away_from_a_slow_backend() {
    let share = |r: &RunReport, lb| {
        let c: Vec<u64> = (0..4)
            .map(|i| counter(r, lb, &format!("to_backend_{i}")))
            .collect();
        c[1] as f64 / c.iter().sum::<u64>() as f64
    };
    let (r, c, lb) = slow_backend_run(Policy::RoundRobin);
    let (rr_share, rr_w) = (share(&r, lb), hist_mean(&r, c, "latency_ns") / 1e6);
    let (r, c, lb) = slow_backend_run(Policy::LeastConnections);
    let (lc_share, lc_w) = (share(&r, lb), hist_mean(&r, c, "latency_ns") / 1e6);
    let (r, c, lb) = slow_backend_run(Policy::LeastResponseTime);
    let (lrt_share, lrt_w) = (share(&r, lb), hist_mean(&r, c, "latency_ns") / 1e6);
    eprintln!(
        "slow backend share / mean latency: round robin {rr_share:.4} {rr_w:.3} ms, \
         least connections {lc_share:.4} {lc_w:.3} ms, least response time {lrt_share:.4} {lrt_w:.3} ms"
    );
    // Round robin is blind to speed: exactly a quarter (± one request in 36,000).
    assert!((rr_share - 0.25).abs() < 1e-4, "{rr_share}");
    assert!(lc_share < 0.10, "least connections: {lc_share}");
    assert!(lrt_share < 0.03, "least response time: {lrt_share}");
    // A quarter of round robin's requests take ≥ 20 ms: its mean is ≥ 5 ms + 3/4 × 2 ms; the
    // load-aware policies stay near the fast backends' 2 ms (least connections pays for its
    // residual slow requests: 6.5 % × 20 ms ≈ 1.3 ms more).
    assert!(rr_w > 6.0, "round robin {rr_w} ms");
    assert!(
        lc_w < 4.0 && lc_w < rr_w / 2.0,
        "least connections {lc_w} ms"
    );
    assert!(lrt_w < 2.5, "least response time {lrt_w} ms");
}
