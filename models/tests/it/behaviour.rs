//! Behaviour: retries, timeouts, rejections, closed loops, keys and mix, modulation, fan-out,
//! crashes, determinism — each in a whole simulation.

use std::sync::{Arc, Mutex};

use clustersim_engine::{Component, ComponentId, Ctx, Dist, DropCause, SimDuration, Transport};
use clustersim_models::registry::ComponentConfig;
use clustersim_models::service::{Call, CallMode, ServiceConfig};
use clustersim_models::workload::{
    ArrivalProcess, ClosedLoopConfig, Jitter, KeyDist, OpMix, OpenLoopConfig, RateModulation,
    RetryPolicy,
};
use clustersim_models::{Cluster, Msg, Op, Response, Status, queueing};

use crate::common::*;

fn exp_ms(mean_ms: f64) -> Dist {
    Dist::exponential(mean_ms * 1e6).unwrap()
}

fn const_ms(v: f64) -> Dist {
    Dist::constant(v * 1e6).unwrap()
}

/// M/M/1/K: with capacity K = 1 in service + 4 waiting at ρ = 0.9 the blocking probability is
/// `(1−ρ)ρ^K / (1−ρ^{K+1})` ≈ 0.126. Every rejection is counted at the service and reaches the
/// client as `rejected`.
#[test]
fn bounded_queue_rejections_match_mm1k() {
    let mut w = World::new(5);
    let svc = ComponentId(1);
    let client = w.add(
        "client",
        ComponentConfig::OpenLoopClient(OpenLoopConfig::new(svc, 900.0)),
    );
    let mut cfg = ServiceConfig::new(exp_ms(1.0));
    cfg.queue_capacity = Some(4);
    w.add("svc", ComponentConfig::Service(cfg));
    let r = w.run(secs(5), secs(205), None);
    let (rho, k) = (0.9f64, 5);
    let p_block = (1.0 - rho) * rho.powi(k) / (1.0 - rho.powi(k + 1));
    let arrivals = counter(&r, svc, "arrivals");
    let rejected = counter(&r, svc, "rejected");
    let p = rejected as f64 / arrivals as f64;
    // 180k arrivals; blocking events come in bursts (busy periods), inflating the binomial sd
    // (0.0008) several times; 0.01 absolute is > 5 inflated sd.
    assert!((p - p_block).abs() < 0.01, "P(block) {p} vs {p_block}");
    // Responses are instantaneous on this network, so the client saw the same rejections
    // (± those in flight at the window edges).
    assert!(counter(&r, client, "rejected").abs_diff(rejected) <= 2);
    assert_eq!(
        counter(&r, client, "failed"),
        counter(&r, client, "rejected")
    );
    // The queue never exceeded its capacity.
    let q = series(&r.metrics, svc, "queue_len");
    match &r.metrics.totals[q.index()] {
        clustersim_engine::SeriesTotal::Gauge { max, .. } => assert_eq!(*max, 4),
        other => panic!("{other:?}"),
    }
}

fn storm(lambda: f64) -> (u64, u64, u64, u64, u64, u64) {
    let mut w = World::new(6);
    let svc = ComponentId(1);
    let mut c = OpenLoopConfig::new(svc, lambda);
    c.timeout = Some(ms(50));
    c.retry = RetryPolicy {
        max_retries: 3,
        backoff_base: ms(5),
        backoff_multiplier: 2.0,
        backoff_max: ms(100),
        jitter: Jitter::Full,
        honour_retry_after: true,
    };
    let client = w.add("client", ComponentConfig::OpenLoopClient(c));
    let mut cfg = ServiceConfig::new(const_ms(1.0));
    cfg.queue_capacity = Some(20);
    w.add("svc", ComponentConfig::Service(cfg));
    let r = w.run(secs(2), secs(32), None);
    (
        counter(&r, client, "requests"),
        counter(&r, client, "attempts"),
        counter(&r, client, "retries"),
        counter(&r, client, "failed"),
        counter(&r, client, "ok"),
        counter(&r, svc, "arrivals"),
    )
}

/// Retries amplify load: below capacity nothing is retried; at 1.5× capacity a third of the
/// requests cannot be served, every failed request is tried 4 times, and the service sees
/// far more attempts than users sent requests (a retry storm).
#[test]
fn retries_amplify_load_when_overloaded() {
    let (requests, attempts, retries, failed, ok, arrivals) = storm(500.0);
    assert_eq!((retries, failed), (0, 0));
    assert_eq!(attempts, requests);
    assert!(ok.abs_diff(requests) <= 2);

    let (requests, attempts, retries, failed, ok, arrivals_overloaded) = storm(1500.0);
    eprintln!(
        "overloaded: requests {requests} attempts {attempts} retries {retries} failed {failed} ok {ok}"
    );
    // Throughput is capped at the service rate (1000/s over 30 s).
    assert!(ok <= 30_000 + 30, "{ok}");
    assert!(ok > 29_000, "{ok}");
    // Attempts = requests + retries (± in-flight at the edges), and the amplification is large.
    assert!((attempts as i64 - (requests + retries) as i64).abs() < 200);
    assert!(
        attempts as f64 > 2.0 * requests as f64,
        "{attempts} vs {requests}"
    );
    assert!(failed > requests / 4, "{failed}");
    // Everything the client sent reached the service.
    assert!(arrivals_overloaded.abs_diff(attempts) < 50);
    let _ = arrivals;
}

/// A service slower than the client's timeout: every attempt times out, retries are sent with
/// new ids, and the service's eventual answers are ignored as late.
#[test]
fn timeouts_fire_and_late_answers_are_ignored() {
    let mut w = World::new(7);
    let svc = ComponentId(1);
    let mut c = OpenLoopConfig::new(svc, 10.0);
    c.arrival = ArrivalProcess::Constant;
    c.timeout = Some(ms(5));
    c.retry = RetryPolicy {
        max_retries: 2,
        backoff_base: ms(1),
        backoff_multiplier: 1.0,
        backoff_max: ms(1),
        jitter: Jitter::None,
        honour_retry_after: true,
    };
    let client = w.add("client", ComponentConfig::OpenLoopClient(c));
    let mut cfg = ServiceConfig::new(const_ms(20.0));
    cfg.workers = 10;
    w.add("svc", ComponentConfig::Service(cfg));
    let r = w.run(SimDuration::ZERO, secs(10) + ms(50), None);
    // 100 arrivals at 0.1 s, 0.2 s, ..., 10 s; each: 3 attempts (at +0, +6, +12 ms), each timing
    // out after 5 ms and answered (late) after 20 ms.
    let get = |n| counter(&r, client, n);
    assert_eq!(get("requests"), 100);
    assert_eq!(get("attempts"), 300);
    assert_eq!(get("timeouts"), 300);
    assert_eq!(get("retries"), 200);
    assert_eq!(get("failed"), 100);
    assert_eq!(get("ok"), 0);
    assert_eq!(get("late_responses"), 300);
    assert_eq!(counter(&r, svc, "completed"), 300);
    assert_eq!(hist_len(&r, client, "latency_ns"), 0);
}

/// Mean-value analysis of a closed network: `N` users with think time `Z` and one FCFS
/// exponential station with mean service `S` (exact for this product-form network).
fn mva(users: u32, think: f64, service: f64) -> (f64, f64) {
    let (mut q, mut x, mut r) = (0.0, 0.0, 0.0);
    for n in 1..=users {
        r = service * (1.0 + q);
        x = f64::from(n) / (think + r);
        q = x * r;
    }
    (x, r)
}

/// Closed loop: throughput obeys the interactive response-time law `X = N / (Z + R)` (an
/// operational law: exact up to edge effects) and matches exact MVA for a single M/M/1 station.
#[test]
fn closed_loop_obeys_the_interactive_response_time_law() {
    let (users, think_ms) = (10, 9.0);
    let mut w = World::new(8);
    let svc = ComponentId(1);
    let client = w.add(
        "client",
        ComponentConfig::ClosedLoopClient(ClosedLoopConfig::new(svc, users, exp_ms(think_ms))),
    );
    w.add(
        "svc",
        ComponentConfig::Service(ServiceConfig::new(exp_ms(1.0))),
    );
    let r = w.run(secs(5), secs(205), Some(secs(5)));
    let t = measured_secs(&r);
    let x = counter(&r, client, "ok") as f64 / t;
    let resp = hist_mean(&r, client, "latency_ns") / 1e9;
    let law = queueing::interactive_throughput(f64::from(users), think_ms / 1e3, resp).unwrap();
    eprintln!(
        "closed loop: X {x:.1}/s, R {:.4} ms, N/(Z+R) {law:.1}/s",
        resp * 1e3
    );
    // Edge effects are a few requests in 180k; the sample mean of 180k exponential think times
    // is within 0.25 % (1 sd) of 9 ms. 1 % covers both with margin.
    assert!((x - law).abs() < 0.01 * law, "X {x} vs {law}");
    // Exact MVA; batch-means SE of R over 40 windows of 5 s, 4 SE plus histogram rounding.
    let (x_mva, r_mva) = mva(users, think_ms / 1e3, 1e-3);
    let batches: Vec<f64> = hist_batches(&r, client, "latency_ns")
        .iter()
        .map(|b| b.1 / 1e9)
        .collect();
    let (_, se) = mean_se(&batches);
    eprintln!(
        "MVA: X {x_mva:.1}/s, R {:.4} ms (se {:.4} ms)",
        r_mva * 1e3,
        se * 1e3
    );
    assert!(se < 0.02 * r_mva, "{se}");
    assert!(
        (resp - r_mva).abs() < 4.0 * se + 1e-3 * r_mva,
        "R {resp} vs MVA {r_mva}"
    );
    assert!((x - x_mva).abs() < 0.02 * x_mva, "X {x} vs MVA {x_mva}");
    // Never more than one request per user in flight.
    let fl = series(&r.metrics, client, "in_flight");
    match &r.metrics.totals[fl.index()] {
        clustersim_engine::SeriesTotal::Gauge { max, .. } => assert!(*max <= i64::from(users)),
        other => panic!("{other:?}"),
    }
}

/// Records what reaches it and answers `Ok` at once: a probe for what clients send.
struct Probe {
    seen: Arc<Mutex<Vec<(Op, u64, u32)>>>,
}

impl Component<Cluster> for Probe {
    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: Msg) {
        if let Msg::Request(r) = msg {
            self.seen.lock().unwrap().push((r.op, r.key, r.size_bytes));
            cx.send(
                from,
                Msg::Response(Response {
                    id: r.id,
                    status: Status::Ok,
                    size_bytes: 0,
                    version: 0,
                }),
            );
        }
    }
}

/// Keys, ops and sizes drawn by a client arrive at the target with the configured
/// distributions: Zipf skew, mix proportions, request sizes.
#[test]
fn keys_mix_and_sizes_reach_the_target() {
    let mut w = World::new(9);
    let probe_id = ComponentId(1);
    let mut c = OpenLoopConfig::new(probe_id, 10_000.0);
    c.mix = OpMix {
        read: 8.0,
        write: 1.5,
        other: 0.5,
    };
    c.keys = KeyDist::Zipf {
        keys: 100,
        exponent: 1.2,
    };
    c.request_size = Dist::uniform(100.0, 300.0).unwrap();
    c.stop_after = Some(secs(5));
    w.add("client", ComponentConfig::OpenLoopClient(c));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let node = w.b.add_node("probe", clustersim_engine::RegionId(0));
    w.b.add_component(
        node,
        "probe",
        Box::new(Probe {
            seen: Arc::clone(&seen),
        }),
    );
    w.run(SimDuration::ZERO, secs(6), None);
    let seen = seen.lock().unwrap();
    let n = seen.len() as f64;
    // Poisson(50k) requests.
    assert!((n - 50_000.0).abs() < 5.0 * 50_000f64.sqrt(), "{n}");
    let frac = |op: Op| seen.iter().filter(|s| s.0 == op).count() as f64 / n;
    // Proportions with n = 50k: sd ≤ 0.0018; tolerance 0.01 > 5 sd.
    assert!((frac(Op::Read) - 0.8).abs() < 0.01);
    assert!((frac(Op::Write) - 0.15).abs() < 0.01);
    assert!((frac(Op::Other) - 0.05).abs() < 0.01);
    let h: f64 = (1..=100).map(|k| (k as f64).powf(-1.2)).sum();
    for k in [0u64, 1, 9, 99] {
        let p = seen.iter().filter(|s| s.1 == k).count() as f64 / n;
        let want = ((k + 1) as f64).powf(-1.2) / h;
        let sd = (want * (1.0 - want) / n).sqrt();
        assert!((p - want).abs() < 5.0 * sd + 1e-4, "key {k}: {p} vs {want}");
    }
    assert!(seen.iter().all(|s| s.1 < 100 && (100..=300).contains(&s.2)));
    let mean_size = seen.iter().map(|s| f64::from(s.2)).sum::<f64>() / n;
    assert!((mean_size - 200.0).abs() < 2.0, "{mean_size}");
}

/// `∫ rate` over `[a, b)` seconds for a diurnal modulation.
fn diurnal_integral(rate: f64, amp: f64, period: f64, peak: f64, a: f64, b: f64) -> f64 {
    let k = std::f64::consts::TAU / period;
    rate * ((b - a) + amp / k * ((k * (b - peak)).sin() - (k * (a - peak)).sin()))
}

/// Diurnal and spike modulation shape the arrivals seen by the service, window by window.
#[test]
fn modulation_shapes_arrivals() {
    let (period, amp, peak) = (20.0, 0.8, 5.0);
    let diurnal = RateModulation::Diurnal {
        period: secs(20),
        amplitude: amp,
        peak_at: secs(5),
    };
    for arrival in [ArrivalProcess::Poisson, ArrivalProcess::Constant] {
        let mut w = World::new(10);
        let svc = ComponentId(1);
        let mut c = OpenLoopConfig::new(svc, 1000.0);
        c.arrival = arrival;
        c.modulation = vec![diurnal];
        c.start_after = secs(2);
        w.add("client", ComponentConfig::OpenLoopClient(c));
        let mut cfg = ServiceConfig::new(Dist::constant(0.0).unwrap());
        cfg.workers = 1000;
        w.add("svc", ComponentConfig::Service(cfg));
        let r = w.run(SimDuration::ZERO, secs(42), Some(secs(1)));
        let counts = counter_batches(&r, svc, "arrivals");
        assert_eq!(counts.len(), 42);
        assert_eq!(&counts[..2], &[0, 0], "nothing before start_after");
        for (i, &got) in counts.iter().enumerate().skip(2) {
            let want = diurnal_integral(1000.0, amp, period, peak, i as f64, i as f64 + 1.0);
            let tol = match arrival {
                // Poisson counts: sd = sqrt(mean) ≤ 42; 5 sd over 40 windows.
                ArrivalProcess::Poisson => 5.0 * want.sqrt(),
                // Deterministic thinning: within one arrival per window edge of the integral.
                ArrivalProcess::Constant => 2.0,
            };
            assert!(
                (got as f64 - want).abs() <= tol,
                "{arrival:?} window {i}: {got} vs {want:.1}"
            );
        }
        // Peak (around 5 s, 25 s) vs trough (around 15 s, 35 s): 1.8 / 0.2 = 9×.
        assert!(counts[5] > 8 * counts[15] / 2, "{counts:?}");
    }

    // A ×5 spike during [10 s, 15 s) on 200/s.
    let mut w = World::new(11);
    let svc = ComponentId(1);
    let mut c = OpenLoopConfig::new(svc, 200.0);
    c.modulation = vec![RateModulation::Spike {
        start: secs(10),
        duration: secs(5),
        multiplier: 5.0,
    }];
    w.add("client", ComponentConfig::OpenLoopClient(c));
    let mut cfg = ServiceConfig::new(Dist::constant(0.0).unwrap());
    cfg.workers = 1000;
    w.add("svc", ComponentConfig::Service(cfg));
    let r = w.run(SimDuration::ZERO, secs(20), Some(secs(5)));
    let counts = counter_batches(&r, svc, "arrivals");
    // Poisson counts 1000, 1000, 5000, 1000: 5 sd bounds.
    for (got, want) in counts.iter().zip([1000.0, 1000.0, 5000.0, 1000.0]) {
        assert!(
            (*got as f64 - want).abs() < 5.0 * f64::sqrt(want),
            "{counts:?}"
        );
    }
}

fn fan_out(mode: CallMode, hold: bool) -> (f64, f64, f64, f64) {
    let mut w = World::new(12);
    let (front, b, c) = (ComponentId(1), ComponentId(2), ComponentId(3));
    let mut cl = OpenLoopConfig::new(front, 10.0);
    cl.arrival = ArrivalProcess::Constant;
    let client = w.add("client", ComponentConfig::OpenLoopClient(cl));
    let mut fe = ServiceConfig::new(const_ms(1.0));
    fe.calls = vec![
        Call {
            target: b,
            probability: 1.0,
            op: None,
        },
        Call {
            target: c,
            probability: 1.0,
            op: Some(Op::Write),
        },
    ];
    fe.call_mode = mode;
    fe.hold_worker_during_calls = hold;
    w.add("front", ComponentConfig::Service(fe));
    w.add(
        "b",
        ComponentConfig::Service(ServiceConfig::new(const_ms(2.0))),
    );
    w.add(
        "c",
        ComponentConfig::Service(ServiceConfig::new(const_ms(5.0))),
    );
    let r = w.run(SimDuration::ZERO, secs(10) + ms(50), None);
    assert_eq!(counter(&r, client, "ok"), 100);
    assert_eq!(counter(&r, b, "arrivals"), 100);
    assert_eq!(counter(&r, c, "arrivals"), 100);
    assert_eq!(counter(&r, front, "calls"), 200);
    (
        hist_quantile(&r, front, "latency_ns", 0.0),
        hist_quantile(&r, front, "latency_ns", 1.0),
        hist_quantile(&r, client, "latency_ns", 0.0),
        hist_quantile(&r, client, "latency_ns", 1.0),
    )
}

/// With constant times and no queueing: parallel fan-out latency is local work plus the
/// slowest call (1 + max(2, 5) = 6 ms); sequential is local work plus the sum (1 + 2 + 5 =
/// 8 ms), whether or not the worker is held during the calls.
#[test]
fn fan_out_latency_is_max_in_parallel_and_sum_in_sequence() {
    for hold in [true, false] {
        for (mode, want) in [(CallMode::Parallel, 6e6), (CallMode::Sequential, 8e6)] {
            let (lo, hi, clo, chi) = fan_out(mode, hold);
            // Every latency is exactly `want` ns (histogram buckets are 0.1 % wide).
            for v in [lo, hi, clo, chi] {
                assert!(
                    (v - want).abs() <= want * 1e-3,
                    "{mode:?} hold={hold}: {v} vs {want}"
                );
            }
        }
    }
}

/// A client (constant arrivals at `rate`, 50 ms timeout, `retries` retries after 100 ms and
/// 200 ms) and a service (`workers` workers, constant `work_ms`) whose node is down during
/// [10 s, 12 s); 1 s windows.
fn crash_run(
    transport: Transport,
    rate: f64,
    workers: u32,
    work_ms: f64,
    retries: u32,
) -> clustersim_engine::RunReport {
    let mut w = World::new(13);
    let svc = ComponentId(1);
    let mut c = OpenLoopConfig::new(svc, rate);
    c.arrival = ArrivalProcess::Constant;
    c.timeout = Some(ms(50));
    c.transport = transport;
    c.retry = RetryPolicy {
        max_retries: retries,
        backoff_base: ms(100),
        backoff_multiplier: 2.0,
        backoff_max: ms(1000),
        jitter: Jitter::None,
        honour_retry_after: true,
    };
    w.add("client", ComponentConfig::OpenLoopClient(c));
    let mut cfg = ServiceConfig::new(const_ms(work_ms));
    cfg.workers = workers;
    cfg.transport = transport;
    let svc = w.add("svc", ComponentConfig::Service(cfg));
    w.crash_between(svc, secs(10), secs(12));
    w.run(SimDuration::ZERO, secs(20), Some(secs(1)))
}

/// A crash of the service's node loses the requests in service (their callers time out and
/// retry); while it is down, stream sends fail fast (counted as `errors`) and datagrams vanish
/// (timeouts); requests whose retries all fall in the outage fail; after the restart the service
/// serves again from a clean state. Load: 250/s on 8 workers × 9 ms (capacity 889/s), so even
/// with every request tried 3 times (750/s) the service keeps up after the restart.
#[test]
fn crash_of_the_service_makes_clients_time_out_and_retry() {
    let (client, svc) = (ComponentId(0), ComponentId(1));
    for transport in [Transport::Stream, Transport::Datagram] {
        let r = crash_run(transport, 250.0, 8, 9.0, 2);
        let get = |n| counter(&r, client, n);
        eprintln!(
            "{transport:?}: ok {} timeouts {} errors {} retries {} failed {} late {}",
            get("ok"),
            get("timeouts"),
            get("errors"),
            get("retries"),
            get("failed"),
            get("late_responses")
        );
        // 2–3 requests were in service at the crash (9 ms of work, one arrival every 4 ms).
        assert!(get("timeouts") >= 2);
        assert!(get("retries") > 0);
        // Retries go out 150 ms and 350 ms after the first attempt: requests first sent during
        // the first ~1.65 s of the 2 s outage exhaust them (≈ 410 of them).
        assert!((350..=450).contains(&get("failed")), "{}", get("failed"));
        match transport {
            Transport::Stream => {
                assert!(get("errors") > 1000, "send failures are reported");
                assert!(r.drops_by_component[svc.index()][DropCause::Crashed.index()] > 1000);
            }
            Transport::Datagram => assert_eq!(get("errors"), 0, "datagram losses are silent"),
        }
        // Nothing arrives while the node is down; from 13 s on, everything is served again.
        let arrivals = counter_batches(&r, svc, "arrivals");
        assert_eq!(&arrivals[10..12], &[0, 0]);
        let ok = counter_batches(&r, client, "ok");
        assert!(ok[13..].iter().all(|&n| n == 250), "{ok:?}");
        assert!(ok[1..10].iter().all(|&n| n == 250), "{ok:?}");
        assert_eq!(get("requests"), 5_000);
        // Every request is accounted for: ok, failed, or still in flight at 20 s.
        let fl = series(&r.metrics, client, "in_flight");
        let clustersim_engine::SeriesTotal::Gauge { last, .. } = r.metrics.totals[fl.index()]
        else {
            panic!()
        };
        assert!((0..=3).contains(&last), "{last}");
        assert_eq!(get("requests"), get("ok") + get("failed") + last as u64);
    }
}

/// Metastable failure: at 500/s on a service of capacity 800/s, an outage leaves a backlog
/// that pushes waits past the 50 ms timeout; every attempt then times out and is retried, which
/// triples the offered load (1500/s) and keeps the service overloaded long after the cause is
/// gone. Without retries the same outage heals within a second.
#[test]
fn retries_turn_an_outage_into_a_metastable_failure() {
    let client = ComponentId(0);
    let with_retries = crash_run(Transport::Stream, 500.0, 4, 5.0, 2);
    let ok = counter_batches(&with_retries, client, "ok");
    eprintln!("with retries: ok per second {ok:?}");
    assert!(ok[..10].iter().all(|&n| n >= 497), "{ok:?}");
    assert!(
        ok[14..].iter().all(|&n| n == 0),
        "still failing long after the restart: {ok:?}"
    );
    let arrivals = counter_batches(&with_retries, ComponentId(1), "arrivals");
    assert!(arrivals[14..].iter().all(|&n| n == 1500), "{arrivals:?}");

    let without = crash_run(Transport::Stream, 500.0, 4, 5.0, 0);
    let ok = counter_batches(&without, client, "ok");
    eprintln!("without retries: ok per second {ok:?}");
    assert!(ok[13..].iter().all(|&n| n == 500), "{ok:?}");
}

/// Same seed, same digest and metrics; another seed, another run.
#[test]
fn runs_are_deterministic() {
    let run = |seed| {
        let mut w = World::new(seed);
        let svc = ComponentId(1);
        let mut c = OpenLoopConfig::new(svc, 800.0);
        c.timeout = Some(ms(20));
        c.retry = RetryPolicy {
            max_retries: 2,
            ..RetryPolicy::default()
        };
        c.keys = KeyDist::Zipf {
            keys: 1000,
            exponent: 0.9,
        };
        let client = w.add("client", ComponentConfig::OpenLoopClient(c));
        let mut cfg = ServiceConfig::new(exp_ms(1.2));
        cfg.instances = 2;
        cfg.dispatch = clustersim_models::service::Dispatch::Random;
        cfg.queue_capacity = Some(10);
        w.add("svc", ComponentConfig::Service(cfg));
        let r = w.run(SimDuration::ZERO, secs(20), None);
        (
            r.summary.digest,
            r.summary.events,
            counter(&r, client, "ok"),
            hist_mean(&r, client, "latency_ns"),
        )
    };
    let a = run(1);
    assert_eq!(a, run(1));
    assert_ne!(a.0, run(2).0);
}
