//! Unit tests of the client handlers, driven one event at a time through the engine's
//! [`Harness`].

use clustersim_engine::testing::Harness;
use clustersim_engine::{
    Command, Component, ComponentId, Dist, MetricsReport, SimDuration, SimTime,
};

use super::*;

const SVC: ComponentId = ComponentId(5);

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

fn t(d: SimDuration) -> SimTime {
    SimTime::ZERO + d
}

/// A client under test with its harness.
struct Fixture<C> {
    h: Harness,
    c: C,
}

impl<C: Component<Cluster>> Fixture<C> {
    fn at(&mut self, d: SimDuration) -> &mut Self {
        self.h.now = t(d);
        self
    }
    fn start(&mut self) -> Vec<Command<Cluster>> {
        let c = &mut self.c;
        self.h.call(|cx| c.on_start(cx))
    }
    fn timer(&mut self, tm: Timer) -> Vec<Command<Cluster>> {
        let c = &mut self.c;
        self.h.call(|cx| c.on_timer(cx, crate::Timer::Client(tm)))
    }
    fn respond(&mut self, id: u64, status: Status) -> Vec<Command<Cluster>> {
        let c = &mut self.c;
        self.h.call(|cx| {
            c.on_message(
                cx,
                SVC,
                Msg::Response(Response {
                    id,
                    status,
                    size_bytes: 0,
                    version: 0,
                }),
            )
        })
    }
    fn send_failed(&mut self, req: Request) -> Vec<Command<Cluster>> {
        let c = &mut self.c;
        self.h
            .call(|cx| c.on_send_failed(cx, SVC, Msg::Request(req), DropCause::Partition))
    }
    fn report(&mut self) -> MetricsReport {
        std::mem::take(&mut self.h.metrics).finish(self.h.now)
    }
}

fn open(cfg: OpenLoopConfig) -> Fixture<OpenLoopClient> {
    let mut h = Harness::new(3, "client");
    let c = OpenLoopClient::new(&cfg, h.me, &mut h.metrics);
    Fixture { h, c }
}

fn closed(cfg: ClosedLoopConfig) -> Fixture<ClosedLoopClient> {
    let mut h = Harness::new(3, "client");
    let c = ClosedLoopClient::new(&cfg, h.me, &mut h.metrics);
    Fixture { h, c }
}

fn requests(cmds: &[Command<Cluster>]) -> Vec<Request> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Send {
                dst,
                msg: Msg::Request(r),
                ..
            } => {
                assert_eq!(*dst, SVC);
                Some(*r)
            }
            _ => None,
        })
        .collect()
}

fn timers(cmds: &[Command<Cluster>]) -> Vec<(SimTime, Timer)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::SetTimer {
                at,
                timer: crate::Timer::Client(tm),
                ..
            } => Some((*at, tm.clone())),
            _ => None,
        })
        .collect()
}

fn one_request(cmds: &[Command<Cluster>]) -> Request {
    let r = requests(cmds);
    assert_eq!(r.len(), 1, "{cmds:?}");
    r[0]
}

fn counter(r: &MetricsReport, name: &str) -> u64 {
    r.counter(r.find(Some(ComponentId(0)), name).unwrap())
}

fn constant_cfg(rate: f64) -> OpenLoopConfig {
    let mut cfg = OpenLoopConfig::new(SVC, rate);
    cfg.arrival = ArrivalProcess::Constant;
    cfg
}

fn no_jitter_retries(n: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries: n,
        backoff_base: ms(10),
        backoff_multiplier: 2.0,
        backoff_max: ms(1000),
        jitter: Jitter::None,
        honour_retry_after: true,
    }
}

/// Fires `Arrival` timers until `n` requests went out; returns them with their send times.
fn drive_arrivals(f: &mut Fixture<OpenLoopClient>, n: usize) -> Vec<(SimTime, Request)> {
    let mut out = Vec::new();
    let mut next = timers(&f.start());
    while out.len() < n {
        let Some((at, tm)) = next.iter().find(|(_, tm)| *tm == Timer::Arrival).cloned() else {
            break;
        };
        f.h.now = at;
        let cmds = f.timer(tm);
        for r in requests(&cmds) {
            out.push((at, r));
        }
        next = timers(&cmds);
    }
    out
}

#[test]
fn constant_arrivals_are_evenly_spaced_from_start_after() {
    let mut cfg = constant_cfg(1000.0);
    cfg.start_after = ms(5);
    let mut f = open(cfg);
    let sent = drive_arrivals(&mut f, 4);
    let times: Vec<u64> = sent.iter().map(|(at, _)| at.as_nanos()).collect();
    assert_eq!(times, [6_000_000, 7_000_000, 8_000_000, 9_000_000]);
    // Ids are distinct, keys in range, sizes the default 0, reads only.
    let ids: Vec<u64> = sent.iter().map(|(_, r)| r.id).collect();
    for i in 0..ids.len() {
        assert!(!ids[..i].contains(&ids[i]));
    }
    assert!(
        sent.iter()
            .all(|(_, r)| r.op == Op::Read && r.key < 1_000_000 && r.size_bytes == 0)
    );
}

#[test]
fn constant_arrivals_do_not_drift() {
    // 3 per second: gaps of 333,333,333.3 ns must not accumulate rounding.
    let mut f = open(constant_cfg(3.0));
    let sent = drive_arrivals(&mut f, 300);
    assert_eq!(sent[299].0, SimTime::from_nanos(100_000_000_000));
}

#[test]
fn stop_after_ends_new_requests() {
    let mut cfg = constant_cfg(1000.0);
    cfg.stop_after = Some(ms(10));
    let mut f = open(cfg);
    let sent = drive_arrivals(&mut f, 100);
    // Arrivals at 1..=9 ms; the one at 10 ms is at the stop instant and is not sent.
    assert_eq!(sent.len(), 9);
}

#[test]
fn success_records_latency_and_frees_the_slot() {
    let mut f = open(constant_cfg(1000.0));
    let sent = drive_arrivals(&mut f, 2);
    let out = f.at(ms(4)).respond(sent[0].1.id, Status::Ok);
    assert!(out.is_empty());
    // A duplicate is late.
    f.respond(sent[0].1.id, Status::Ok);
    assert_eq!(f.c.outstanding(), 1);
    let r = f.report();
    assert_eq!(counter(&r, "requests"), 2);
    assert_eq!(counter(&r, "attempts"), 2);
    assert_eq!(counter(&r, "ok"), 1);
    assert_eq!(counter(&r, "late_responses"), 1);
    let lat = r
        .histogram(r.find(Some(ComponentId(0)), "latency_ns").unwrap())
        .unwrap();
    assert_eq!(lat.len(), 1);
    assert_eq!(lat.max(), lat.highest_equivalent(3_000_000));
}

#[test]
fn timeouts_retry_with_backoff_and_new_ids_then_give_up() {
    let mut cfg = constant_cfg(1.0); // one arrival per second: only the first matters here
    cfg.timeout = Some(ms(100));
    cfg.retry = no_jitter_retries(2);
    let mut f = open(cfg);
    let start = timers(&f.start());
    assert_eq!(start, vec![(t(ms(1000)), Timer::Arrival)]);
    let out = f.at(ms(1000)).timer(Timer::Arrival);
    let a1 = one_request(&out);
    let tm = timers(&out);
    assert!(
        tm.contains(&(t(ms(1100)), Timer::Timeout { id: a1.id })),
        "{tm:?}"
    );
    // Timeout → backoff 10 ms.
    let out = f.at(ms(1100)).timer(Timer::Timeout { id: a1.id });
    assert_eq!(
        timers(&out),
        vec![(t(ms(1110)), Timer::Retry { id: a1.id })]
    );
    assert!(requests(&out).is_empty());
    // The answer to attempt 1 arrives during the backoff: late.
    assert!(f.at(ms(1105)).respond(a1.id, Status::Ok).is_empty());
    // Retry: same op/key/size, new id.
    let out = f.at(ms(1110)).timer(Timer::Retry { id: a1.id });
    let a2 = one_request(&out);
    assert_ne!(a2.id, a1.id);
    assert_eq!(
        (a2.op, a2.key, a2.size_bytes),
        (a1.op, a1.key, a1.size_bytes)
    );
    // Rejected → backoff 20 ms (the timeout timer is cancelled, so firing it is a no-op).
    let out = f.at(ms(1115)).respond(a2.id, Status::Rejected);
    assert_eq!(
        timers(&out),
        vec![(t(ms(1135)), Timer::Retry { id: a2.id })]
    );
    assert!(f.timer(Timer::Timeout { id: a2.id }).is_empty());
    let a3 = one_request(&f.at(ms(1135)).timer(Timer::Retry { id: a2.id }));
    // Error on the last allowed attempt: give up.
    let out = f.at(ms(1140)).respond(a3.id, Status::Error);
    assert!(out.is_empty());
    assert_eq!(f.c.outstanding(), 0);
    let r = f.report();
    assert_eq!(
        [
            "requests",
            "attempts",
            "retries",
            "timeouts",
            "rejected",
            "errors",
            "failed",
            "ok",
            "late_responses"
        ]
        .map(|n| counter(&r, n)),
        [1, 3, 2, 1, 1, 1, 1, 0, 1]
    );
    let al = r
        .histogram(r.find(Some(ComponentId(0)), "attempt_latency_ns").unwrap())
        .unwrap();
    assert_eq!(al.len(), 2); // the rejected and the errored attempt got answers
    let fl = r.find(Some(ComponentId(0)), "in_flight").unwrap();
    assert!(matches!(
        r.totals[fl.index()],
        clustersim_engine::SeriesTotal::Gauge {
            last: 0,
            max: 1,
            ..
        }
    ));
}

#[test]
fn send_failures_count_as_errors_and_retry() {
    let mut cfg = constant_cfg(1.0);
    cfg.retry = no_jitter_retries(1);
    let mut f = open(cfg);
    f.start();
    let a1 = one_request(&f.at(ms(1000)).timer(Timer::Arrival));
    let out = f.send_failed(a1);
    assert_eq!(
        timers(&out),
        vec![(t(ms(1010)), Timer::Retry { id: a1.id })]
    );
    let a2 = one_request(&f.at(ms(1010)).timer(Timer::Retry { id: a1.id }));
    f.respond(a2.id, Status::Ok);
    let r = f.report();
    assert_eq!(
        ["errors", "retries", "ok", "failed"].map(|n| counter(&r, n)),
        [1, 1, 1, 0]
    );
    let lat = r
        .histogram(r.find(Some(ComponentId(0)), "latency_ns").unwrap())
        .unwrap();
    // Logical latency spans both attempts: 1000 → 1010 ms.
    assert_eq!(lat.max(), lat.highest_equivalent(10_000_000));
}

#[test]
fn jitter_stays_within_its_bounds() {
    for (jitter, lo, hi) in [
        (Jitter::Full, 0, 10_000_000),
        (Jitter::Equal, 5_000_000, 10_000_000),
    ] {
        let mut cfg = constant_cfg(1000.0);
        cfg.retry = RetryPolicy {
            jitter,
            ..no_jitter_retries(1)
        };
        let mut f = open(cfg);
        let sent = drive_arrivals(&mut f, 200);
        let mut delays = Vec::new();
        for (at, r) in sent {
            f.h.now = at;
            let out = f.respond(r.id, Status::Unavailable);
            let (fire, _) = timers(&out)[0].clone();
            delays.push((fire - at).as_nanos());
        }
        assert!(
            delays.iter().all(|d| (lo..=hi).contains(d)),
            "{jitter:?}: {delays:?}"
        );
        let mean = delays.iter().sum::<u64>() as f64 / delays.len() as f64;
        let expect = (lo + hi) as f64 / 2.0;
        // Uniform over a 10 ms (or 5 ms) range: sd of the mean of 200 < 0.21 ms; 5 sd ≈ 1 ms.
        assert!(
            (mean - expect).abs() < 1.1e6,
            "{jitter:?}: {mean} vs {expect}"
        );
    }
}

#[test]
fn poisson_thinning_follows_a_spike() {
    // Base 1000/s; ×4 during [1 s, 2 s); ×0 during [2 s, 3 s).
    let mut cfg = OpenLoopConfig::new(SVC, 1000.0);
    cfg.modulation = vec![
        RateModulation::Spike {
            start: ms(1000),
            duration: ms(1000),
            multiplier: 4.0,
        },
        RateModulation::Spike {
            start: ms(2000),
            duration: ms(1000),
            multiplier: 0.0,
        },
    ];
    cfg.stop_after = Some(ms(4000));
    let mut f = open(cfg);
    let sent = drive_arrivals(&mut f, 100_000);
    let count = |a: u64, b: u64| {
        sent.iter()
            .filter(|(at, _)| (ms(a)..ms(b)).contains(&at.since_start()))
            .count() as f64
    };
    // Poisson counts: sd = sqrt(mean); 5 sd bounds.
    assert!(
        (count(0, 1000) - 1000.0).abs() < 5.0 * 1000f64.sqrt(),
        "{}",
        count(0, 1000)
    );
    assert!(
        (count(1000, 2000) - 4000.0).abs() < 5.0 * 4000f64.sqrt(),
        "{}",
        count(1000, 2000)
    );
    assert_eq!(count(2000, 3000), 0.0);
    assert!(
        (count(3000, 4000) - 1000.0).abs() < 5.0 * 1000f64.sqrt(),
        "{}",
        count(3000, 4000)
    );
}

#[test]
fn constant_thinning_integrates_the_rate() {
    // Base 1000/s, ×0.5 during [1 s, 2 s) and ×2.5 during [2 s, 3 s): deterministic counts.
    let mut cfg = constant_cfg(1000.0);
    cfg.modulation = vec![
        RateModulation::Spike {
            start: ms(1000),
            duration: ms(1000),
            multiplier: 0.5,
        },
        RateModulation::Spike {
            start: ms(2000),
            duration: ms(1000),
            multiplier: 2.5,
        },
    ];
    cfg.stop_after = Some(ms(3000));
    let mut f = open(cfg);
    let sent = drive_arrivals(&mut f, 100_000);
    let count = |a: u64, b: u64| {
        sent.iter()
            .filter(|(at, _)| (ms(a)..ms(b)).contains(&at.since_start()))
            .count() as i64
    };
    // Within one arrival of the integral of the rate in each phase.
    assert!((count(0, 1000) - 1000).abs() <= 1, "{}", count(0, 1000));
    assert!(
        (count(1000, 2000) - 500).abs() <= 1,
        "{}",
        count(1000, 2000)
    );
    assert!(
        (count(2000, 3000) - 2500).abs() <= 1,
        "{}",
        count(2000, 3000)
    );
}

#[test]
fn long_zero_rate_phases_continue_in_later_events() {
    // Peak 1e6/s, rate 0 for 1 s: 1e6 rejected candidates, more than one event's budget.
    let mut cfg = constant_cfg(1_000_000.0);
    cfg.modulation = vec![RateModulation::Spike {
        start: SimDuration::ZERO,
        duration: ms(1000),
        multiplier: 0.0,
    }];
    let mut f = open(cfg);
    let sent = drive_arrivals(&mut f, 1);
    assert_eq!(sent[0].0, t(ms(1000)));
}

#[test]
fn closed_loop_users_think_send_and_think_again() {
    let mut cfg = ClosedLoopConfig::new(SVC, 3, Dist::constant(5e6).unwrap());
    cfg.start_after = ms(10);
    let mut f = closed(cfg);
    let start = timers(&f.start());
    assert_eq!(
        start,
        (0..3)
            .map(|u| (t(ms(15)), Timer::Think { user: u }))
            .collect::<Vec<_>>()
    );
    let mut reqs = Vec::new();
    for u in 0..3 {
        reqs.push(one_request(&f.at(ms(15)).timer(Timer::Think { user: u })));
    }
    assert_eq!(f.c.outstanding(), 3);
    // User 1's answer arrives: it thinks again.
    let out = f.at(ms(20)).respond(reqs[1].id, Status::Ok);
    assert_eq!(timers(&out), vec![(t(ms(25)), Timer::Think { user: 1 })]);
    assert_eq!(f.c.outstanding(), 2);
}

#[test]
fn closed_loop_user_thinks_after_giving_up() {
    let mut cfg = ClosedLoopConfig::new(SVC, 1, Dist::constant(1e6).unwrap());
    cfg.timeout = Some(ms(50));
    let mut f = closed(cfg);
    f.start();
    let r = one_request(&f.at(ms(1)).timer(Timer::Think { user: 0 }));
    let out = f.at(ms(51)).timer(Timer::Timeout { id: r.id });
    assert_eq!(timers(&out), vec![(t(ms(52)), Timer::Think { user: 0 })]);
    let rep = f.report();
    assert_eq!(["timeouts", "failed"].map(|n| counter(&rep, n)), [1, 1]);
}

#[test]
fn crash_forgets_requests_and_restart_resumes() {
    let mut cfg = constant_cfg(1000.0);
    cfg.timeout = Some(ms(100));
    let mut f = open(cfg);
    let sent = drive_arrivals(&mut f, 3);
    f.c.on_crash();
    assert_eq!(f.c.outstanding(), 0);
    let c = &mut f.c;
    f.h.now = t(ms(50));
    let out = f.h.call(|cx| c.on_restart(cx));
    // Arrivals resume one gap after the restart.
    assert_eq!(timers(&out), vec![(t(ms(51)), Timer::Arrival)]);
    // Pre-crash answers are late; pre-crash timeouts do nothing.
    assert!(f.respond(sent[0].1.id, Status::Ok).is_empty());
    assert!(f.timer(Timer::Timeout { id: sent[1].1.id }).is_empty());
    let r = f.report();
    assert_eq!(counter(&r, "late_responses"), 1);
    assert_eq!(counter(&r, "timeouts"), 0);
}

#[test]
fn keys_and_ops_follow_their_distributions() {
    let mut cfg = constant_cfg(1e6);
    cfg.mix = OpMix {
        read: 0.7,
        write: 0.2,
        other: 0.1,
    };
    cfg.keys = KeyDist::Zipf {
        keys: 1000,
        exponent: 1.0,
    };
    let mut f = open(cfg);
    let sent = drive_arrivals(&mut f, 20_000);
    let n = sent.len() as f64;
    let frac = |op: Op| sent.iter().filter(|(_, r)| r.op == op).count() as f64 / n;
    // Binomial proportions with n = 20000: sd ≤ 0.0033; 5 sd ≈ 0.017.
    assert!((frac(Op::Read) - 0.7).abs() < 0.017);
    assert!((frac(Op::Write) - 0.2).abs() < 0.017);
    assert!((frac(Op::Other) - 0.1).abs() < 0.017);
    // Zipf(1000, 1): P(key 0) = 1 / H_1000 = 0.1336; P(key 1) = half of that.
    let h: f64 = (1..=1000).map(|k| 1.0 / k as f64).sum();
    let p0 = sent.iter().filter(|(_, r)| r.key == 0).count() as f64 / n;
    let p1 = sent.iter().filter(|(_, r)| r.key == 1).count() as f64 / n;
    assert!((p0 - 1.0 / h).abs() < 0.012, "{p0}");
    assert!((p1 - 0.5 / h).abs() < 0.009, "{p1}");
    assert!(sent.iter().all(|(_, r)| r.key < 1000));
}
