//! Unit tests: property tests of the pure [`Picker`] and [`policy::MinTree`] against naive
//! scans, and the component's handlers driven one event at a time through the [`Harness`].

use clustersim_engine::testing::Harness;
use clustersim_engine::{
    Command, Component, ComponentId, DropCause, MetricsReport, SimDuration, SimTime,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::policy::{Load, MinTree};
use super::*;
use crate::msg::Op;

fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(9)
}

// ---------------------------------------------------------------- pure core

proptest! {
    /// Smooth WRR: every window of Σ weights picks gives each backend exactly its weight.
    #[test]
    fn wrr_splits_exactly_in_weight_proportion(weights in prop::collection::vec(1u32..10, 1..8), rounds in 1usize..4) {
        let mut p = Picker::new(Policy::WeightedRoundRobin, &weights);
        let total: u32 = weights.iter().sum();
        let mut r = rng();
        for _ in 0..rounds {
            let mut got = vec![0u32; weights.len()];
            for _ in 0..total {
                got[p.pick(&mut r, 0, 0).unwrap()] += 1;
            }
            prop_assert_eq!(&got, &weights);
        }
    }

    /// The indexed policies pick a healthy backend of minimal key, whatever the history of
    /// starts, ends, observations and health changes.
    #[test]
    fn indexed_policies_pick_a_minimum(
        weights in prop::collection::vec(1u32..5, 1..12),
        ops in prop::collection::vec((0u8..4, 0usize..12, 1u64..5000), 1..200),
        which in 0usize..3,
    ) {
        let policy = [Policy::LeastConnections, Policy::WeightedLeastConnections, Policy::LeastResponseTime][which];
        let n = weights.len();
        let mut p = Picker::new(policy, &weights);
        let mut r = rng();
        for (op, i, x) in ops {
            let i = i % n;
            match op {
                0 => p.started(i),
                1 => p.finished(i),
                2 => p.observe(i, x, 0),
                _ => p.set_healthy(i, x % 3 != 0),
            }
            let snapshot = p.clone();
            let key = |j: usize| -> (u128, u128) {
                let a = u128::from(snapshot.active(j));
                match policy {
                    Policy::WeightedLeastConnections => (a, u128::from(weights[j])),
                    Policy::LeastResponseTime => ((a + 1) * u128::from(snapshot.ewma_ns(j)), 1),
                    _ => (a, 1),
                }
            };
            let healthy: Vec<usize> = (0..n).filter(|&j| snapshot.is_healthy(j)).collect();
            match p.pick(&mut r, 0, 0) {
                None => prop_assert!(healthy.is_empty()),
                Some(c) => {
                    prop_assert!(p.is_healthy(c));
                    let (cn, cd) = key(c);
                    for &j in &healthy {
                        let (jn, jd) = key(j);
                        prop_assert!(cn * jd <= jn * cd, "picked {} ({}/{}) but {} has {}/{}", c, cn, cd, j, jn, jd);
                    }
                }
            }
        }
    }

    /// `first_min_from` agrees with a linear scan.
    #[test]
    fn min_tree_matches_a_scan(loads in prop::collection::vec(0u64..4, 1..40), from in 0usize..40) {
        let n = loads.len();
        let mut t = MinTree::new(n);
        for (i, &l) in loads.iter().enumerate() {
            t.set(i, Load::ratio(l, 1));
        }
        let m = *loads.iter().min().unwrap();
        let want = (from..n).find(|&i| loads[i] == m).or_else(|| (0..n).find(|&i| loads[i] == m)).unwrap();
        prop_assert_eq!(t.first_min_from(from.min(n)), want);
    }

    /// IpHash and KeyHash are sticky, and consistent: taking down a backend moves only the
    /// users that were on it.
    #[test]
    fn hashing_is_sticky_and_consistent(n in 2usize..20, down in 0usize..20, users in prop::collection::vec(any::<u32>(), 1..50)) {
        let down = down % n;
        for policy in [Policy::IpHash, Policy::KeyHash] {
            let mut p = Picker::new(policy, &vec![1; n]);
            let mut r = rng();
            let before: Vec<usize> = users.iter().map(|&u| {
                let h = policy::client_hash(1, u);
                let a = p.pick(&mut r, h, u64::from(u)).unwrap();
                prop_assert_eq!(p.pick(&mut r, h, u64::from(u)).unwrap(), a);
                Ok(a)
            }).collect::<Result<_, _>>()?;
            p.set_healthy(down, false);
            for (&u, &b) in users.iter().zip(&before) {
                let a = p.pick(&mut r, policy::client_hash(1, u), u64::from(u)).unwrap();
                prop_assert_ne!(a, down);
                if b != down {
                    prop_assert_eq!(a, b);
                }
            }
        }
    }
}

#[test]
fn every_policy_avoids_unhealthy_backends_and_reports_none_when_all_are_down() {
    for policy in Policy::ALL {
        let mut p = Picker::new(policy, &[1, 2, 3, 1]);
        let mut r = rng();
        p.set_healthy(1, false);
        p.set_healthy(3, false);
        for c in 0..200u64 {
            let i = p.pick(&mut r, policy::mix64(c), c).unwrap();
            assert!(i == 0 || i == 2, "{policy:?} picked {i}");
        }
        assert_eq!(p.pick_other(&mut r, 5, 5, 0).unwrap(), 2, "{policy:?}");
        p.set_healthy(0, false);
        assert_eq!(p.pick_other(&mut r, 5, 5, 2), None, "{policy:?}");
        p.set_healthy(2, false);
        assert_eq!(p.pick(&mut r, 1, 1), None, "{policy:?}");
        assert!(!policy.name().is_empty());
    }
}

#[test]
fn ties_are_broken_in_turn_and_failover_prefers_the_first() {
    let mut p = Picker::new(Policy::LeastConnections, &[1, 1, 1]);
    let mut r = rng();
    let picks: Vec<usize> = (0..6).map(|_| p.pick(&mut r, 0, 0).unwrap()).collect();
    assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
    let mut p = Picker::new(Policy::LeastResponseTime, &[1, 1, 1]);
    p.observe(0, 5_000, 0);
    p.observe(1, 1_000, 0);
    p.observe(2, 3_000, 0);
    assert_eq!(p.pick(&mut r, 0, 0), Some(1));
    p.started(1);
    p.started(1); // (2+1)·1000 = 3000 vs 3000 for backend 2 (tie, in turn after 1) vs 5000
    assert_eq!(p.pick(&mut r, 0, 0), Some(2));
    let mut p = Picker::new(Policy::Failover, &[1, 1]);
    assert_eq!(p.pick(&mut r, 0, 0), Some(0));
    p.set_healthy(0, false);
    assert_eq!(p.pick(&mut r, 0, 0), Some(1));
    p.set_healthy(0, true);
    assert_eq!(p.pick(&mut r, 0, 0), Some(0));
}

#[test]
fn ewma_follows_samples() {
    let mut p = Picker::new(Policy::LeastResponseTime, &[1]);
    p.observe(0, 8_000, 0);
    assert_eq!(p.ewma_ns(0), 8_000);
    p.observe(0, 16_000, 0);
    assert_eq!(p.ewma_ns(0), 9_000); // + (16000 − 8000) / 8
}

/// A backend whose EWMA went bad is not starved for good: once it has been idle for
/// `EWMA_IDLE_DECAY_NS`, each further idle second halves its EWMA until it is tried again.
#[test]
fn idle_backend_with_a_bad_ewma_is_tried_again() {
    let mut p = Picker::new(Policy::LeastResponseTime, &[1, 1]);
    let mut r = rng();
    p.observe(0, 100_000_000, 0); // one 100 ms response: backend 0 looks 100× worse
    p.observe(1, 1_000_000, 0);
    let mut now = 0u64;
    let mut first_retry = None;
    // Light load: one request at a time every 10 ms, answered by backend 1 in 1 ms.
    for _ in 0..2000 {
        now += 10_000_000;
        p.age_idle(now);
        let b = p.pick(&mut r, 0, 0).unwrap();
        if b == 0 {
            first_retry = Some(now);
            break;
        }
        p.observe(b, 1_000_000, now);
    }
    // 100 ms must halve ~7 times (to < 1 ms): 7 idle seconds, examined every 2nd pick.
    let at = first_retry.expect("backend 0 was never tried again");
    assert!(
        (6_000_000_000..=9_000_000_000).contains(&at),
        "retried at {at} ns"
    );
    // Other policies ignore ageing.
    let mut q = Picker::new(Policy::LeastConnections, &[1, 1]);
    q.observe(0, 100_000_000, 0);
    q.age_idle(10_000_000_000);
    assert_eq!(q.ewma_ns(0), 100_000_000);
}

// ---------------------------------------------------------------- component

const CLIENT: ComponentId = ComponentId(7);
const B0: ComponentId = ComponentId(1);
const B1: ComponentId = ComponentId(2);

struct Fixture {
    h: Harness,
    lb: LoadBalancer,
}

impl Fixture {
    fn new(cfg: LoadBalancerConfig) -> (Fixture, Vec<Command<Cluster>>) {
        let mut h = Harness::new(1, "lb");
        let lb = LoadBalancer::new(&cfg, h.me, &mut h.metrics);
        let mut f = Fixture { h, lb };
        let out = {
            let lb = &mut f.lb;
            f.h.call(|cx| lb.on_start(cx))
        };
        (f, out)
    }
    fn at(&mut self, t: SimDuration) -> &mut Self {
        self.h.now = SimTime::ZERO + t;
        self
    }
    fn message(&mut self, from: ComponentId, msg: Msg) -> Vec<Command<Cluster>> {
        let lb = &mut self.lb;
        self.h.call(|cx| lb.on_message(cx, from, msg))
    }
    fn timer(&mut self, t: Timer) -> Vec<Command<Cluster>> {
        let lb = &mut self.lb;
        self.h.call(|cx| lb.on_timer(cx, crate::Timer::Lb(t)))
    }
    fn send_failed(&mut self, to: ComponentId, msg: Msg) -> Vec<Command<Cluster>> {
        let lb = &mut self.lb;
        self.h
            .call(|cx| lb.on_send_failed(cx, to, msg, DropCause::Crashed))
    }
    fn report(&mut self) -> MetricsReport {
        std::mem::take(&mut self.h.metrics).finish(self.h.now)
    }
}

fn counter(r: &MetricsReport, name: &str) -> u64 {
    r.counter(r.find(Some(ComponentId(0)), name).unwrap())
}

fn req(id: u64, client: u32) -> Msg {
    Msg::Request(Request {
        id,
        op: Op::Read,
        key: 99,
        size_bytes: 10,
        client,
    })
}

fn resp(id: u64, status: Status) -> Msg {
    Msg::Response(Response {
        id,
        status,
        size_bytes: 3,
        version: 0,
    })
}

/// The single request sent in `out`: (destination, request).
fn sent_request(out: &[Command<Cluster>]) -> (ComponentId, Request) {
    let mut it = out.iter().filter_map(|c| match c {
        Command::Send {
            dst,
            msg: Msg::Request(r),
            ..
        } => Some((*dst, *r)),
        _ => None,
    });
    let one = it.next().expect("a request was sent");
    assert!(it.next().is_none(), "more than one request: {out:?}");
    one
}

fn sent_response(out: &[Command<Cluster>]) -> (ComponentId, Response) {
    out.iter()
        .find_map(|c| match c {
            Command::Send {
                dst,
                msg: Msg::Response(r),
                ..
            } => Some((*dst, *r)),
            _ => None,
        })
        .expect("a response was sent")
}

fn timers(out: &[Command<Cluster>]) -> Vec<(SimTime, Timer)> {
    out.iter()
        .filter_map(|c| match c {
            Command::SetTimer {
                at,
                timer: crate::Timer::Lb(t),
                ..
            } => Some((*at, t.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn forwards_with_its_own_id_and_relays_the_answer_with_the_callers() {
    let (mut f, out) = Fixture::new(LoadBalancerConfig::new(&[B0, B1]));
    assert!(out.is_empty());
    let (dst, fwd) = sent_request(&f.message(CLIENT, req(1234, 5)));
    assert_eq!(dst, B0);
    assert_eq!(
        (fwd.op, fwd.key, fwd.size_bytes, fwd.client),
        (Op::Read, 99, 10, 5)
    );
    let (dst2, _) = sent_request(&f.message(CLIENT, req(1235, 6)));
    assert_eq!(dst2, B1, "round robin");
    assert_eq!(f.lb.picker().active(0), 1);
    // A response from the wrong backend is ignored; from the right one it is relayed.
    assert!(f.message(B1, resp(fwd.id, Status::Ok)).is_empty());
    let (to, r) = sent_response(&f.message(B0, resp(fwd.id, Status::Ok)));
    assert_eq!(
        (to, r.id, r.status, r.size_bytes),
        (CLIENT, 1234, Status::Ok, 3)
    );
    assert_eq!(f.lb.picker().active(0), 0);
    assert_eq!(f.lb.in_system(), 1);
    let r = f.report();
    assert_eq!(counter(&r, "to_backend_0"), 1);
    assert_eq!(counter(&r, "to_backend_1"), 1);
    assert_eq!(counter(&r, "completed"), 1);
    assert_eq!(counter(&r, "late_responses"), 1);
}

#[test]
fn a_send_failure_fails_the_request_or_retries_it_elsewhere() {
    let (mut f, _) = Fixture::new(LoadBalancerConfig::new(&[B0, B1]));
    let (dst, fwd) = sent_request(&f.message(CLIENT, req(1, 0)));
    let (to, r) = sent_response(&f.send_failed(dst, Msg::Request(fwd)));
    assert_eq!((to, r.id, r.status), (CLIENT, 1, Status::Error));
    let r = f.report();
    assert_eq!(counter(&r, "failed_during_failover"), 1);

    let mut cfg = LoadBalancerConfig::new(&[B0, B1]);
    cfg.retry_other_backend = true;
    let (mut f, _) = Fixture::new(cfg);
    let (dst, fwd) = sent_request(&f.message(CLIENT, req(1, 0)));
    assert_eq!(dst, B0);
    let (dst2, fwd2) = sent_request(&f.send_failed(dst, Msg::Request(fwd)));
    assert_eq!(dst2, B1, "retried on the other backend");
    assert_ne!(fwd2.id, fwd.id);
    // The second failure is final.
    let (_, r) = sent_response(&f.send_failed(dst2, Msg::Request(fwd2)));
    assert_eq!(r.status, Status::Error);
    let r = f.report();
    assert_eq!(counter(&r, "retries"), 1);
    assert_eq!(counter(&r, "failed_during_failover"), 1);
    assert_eq!(counter(&r, "backend_failures"), 2);
}

#[test]
fn backend_timeout_answers_timeout_and_ignores_the_late_response() {
    let mut cfg = LoadBalancerConfig::new(&[B0]);
    cfg.backend_timeout = Some(SimDuration::from_millis(100));
    let (mut f, _) = Fixture::new(cfg);
    let out = f.message(CLIENT, req(1, 0));
    let (_, fwd) = sent_request(&out);
    let t = timers(&out);
    assert_eq!(t[0].0, SimTime::ZERO + SimDuration::from_millis(100));
    let (_, r) = sent_response(&f.at(SimDuration::from_millis(100)).timer(t[0].1.clone()));
    assert_eq!(r.status, Status::Timeout);
    assert!(f.message(B0, resp(fwd.id, Status::Ok)).is_empty());
    let r = f.report();
    assert_eq!(counter(&r, "timeouts"), 1);
    assert_eq!(counter(&r, "late_responses"), 1);
}

#[test]
fn routing_cost_is_a_single_fifo_worker() {
    let mut cfg = LoadBalancerConfig::new(&[B0]);
    cfg.routing_cost = SimDuration::from_micros(50);
    let (mut f, _) = Fixture::new(cfg);
    let a = timers(&f.message(CLIENT, req(1, 0)));
    let b = timers(&f.message(CLIENT, req(2, 0)));
    assert_eq!(a[0].0, SimTime::ZERO + SimDuration::from_micros(50));
    assert_eq!(b[0].0, SimTime::ZERO + SimDuration::from_micros(100));
    let (_, fwd) = sent_request(&f.at(SimDuration::from_micros(50)).timer(a[0].1.clone()));
    assert_eq!(fwd.client, 0);
}

#[test]
fn health_checks_mark_down_after_failures_and_up_after_successes() {
    let mut cfg = LoadBalancerConfig::new(&[B0, B1]);
    cfg.health = Some(HealthCheck {
        interval: SimDuration::from_millis(100),
        timeout: SimDuration::from_millis(50),
        unhealthy_threshold: 2,
        healthy_threshold: 2,
        passive: false,
    });
    let (mut f, out) = Fixture::new(cfg);
    let ticks = timers(&out);
    assert_eq!(ticks.len(), 2, "one staggered first tick per backend");
    let tick0 = Timer::ProbeTick { backend: 0 };
    let mut now = SimDuration::ZERO;
    // Two unanswered probes of backend 0 → down.
    for round in 1..=2u32 {
        now += SimDuration::from_millis(100);
        let out = f.at(now).timer(tick0.clone());
        assert!(
            out.iter().any(
                |c| matches!(c, Command::Send { dst, msg: Msg::Probe { .. }, .. } if *dst == B0)
            )
        );
        f.at(now + SimDuration::from_millis(50))
            .timer(Timer::ProbeTimeout { backend: 0, round });
    }
    assert!(!f.lb.picker().is_healthy(0));
    for _ in 0..4 {
        let (dst, _) = sent_request(&f.message(CLIENT, req(1, 0)));
        assert_eq!(dst, B1);
    }
    // Two answered probes → up again; a stale reply changes nothing.
    for round in 3..=4u32 {
        now += SimDuration::from_millis(100);
        f.at(now).timer(tick0.clone());
        let seq = u64::from(round); // backend 0 in the high half
        f.message(B0, Msg::ProbeReply { seq });
    }
    assert!(f.lb.picker().is_healthy(0));
    let r = f.report();
    assert_eq!(counter(&r, "marked_down"), 1);
    assert_eq!(counter(&r, "marked_up"), 1);
    assert_eq!(counter(&r, "probe_failures"), 2);
}

#[test]
fn passive_detection_ejects_after_failed_requests_and_none_healthy_is_unavailable() {
    let mut cfg = LoadBalancerConfig::new(&[B0]);
    cfg.health = Some(HealthCheck {
        unhealthy_threshold: 2,
        ..HealthCheck::default()
    });
    let (mut f, _) = Fixture::new(cfg);
    for _ in 0..2 {
        let (dst, fwd) = sent_request(&f.message(CLIENT, req(1, 0)));
        f.send_failed(dst, Msg::Request(fwd));
    }
    assert!(!f.lb.picker().is_healthy(0));
    let (_, r) = sent_response(&f.message(CLIENT, req(3, 0)));
    assert_eq!(r.status, Status::Unavailable);
    let r = f.report();
    assert_eq!(counter(&r, "unavailable"), 1);
}

#[test]
fn answers_probes_and_forgets_everything_in_a_crash() {
    let (mut f, _) = Fixture::new(LoadBalancerConfig::new(&[B0]));
    let out = f.message(CLIENT, Msg::Probe { seq: 77 });
    assert!(matches!(
        out[..],
        [Command::Send {
            dst: CLIENT,
            msg: Msg::ProbeReply { seq: 77 },
            ..
        }]
    ));
    let (_, fwd) = sent_request(&f.message(CLIENT, req(1, 0)));
    f.lb.on_crash();
    assert_eq!(f.lb.in_system(), 0);
    assert_eq!(f.lb.picker().active(0), 0);
    assert!(f.message(B0, resp(fwd.id, Status::Ok)).is_empty());
}
