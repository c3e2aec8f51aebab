//! Unit tests of the service handlers, driven one event at a time through the engine's
//! [`Harness`].

use clustersim_engine::testing::Harness;
use clustersim_engine::{
    Command, Component, ComponentId, Dist, MetricsReport, SimDuration, SimTime,
};

use super::*;
use crate::msg::Op;

const CALLER: ComponentId = ComponentId(7);
const DB: ComponentId = ComponentId(8);
const CACHE: ComponentId = ComponentId(9);

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

fn constant_ms(n: u64) -> Dist {
    Dist::constant((n * 1_000_000) as f64).unwrap()
}

fn req(id: u64) -> Msg {
    Msg::Request(Request {
        id,
        op: Op::Write,
        key: 42,
        size_bytes: 100,
        client: 5,
    })
}

/// A service under test with its harness.
struct Fixture {
    h: Harness,
    s: Service,
}

impl Fixture {
    fn new(cfg: ServiceConfig) -> Fixture {
        let mut h = Harness::new(1, "svc");
        let s = Service::new(&cfg, h.me, &mut h.metrics);
        let mut f = Fixture { h, s };
        let out = f.h.call(|cx| f.s.on_start(cx));
        assert!(out.is_empty());
        f
    }
    fn at(&mut self, t: SimDuration) -> &mut Self {
        self.h.now = SimTime::ZERO + t;
        self
    }
    fn message(&mut self, from: ComponentId, msg: Msg) -> Vec<Command<Cluster>> {
        let s = &mut self.s;
        self.h.call(|cx| s.on_message(cx, from, msg))
    }
    fn timer(&mut self, t: Timer) -> Vec<Command<Cluster>> {
        let s = &mut self.s;
        self.h.call(|cx| s.on_timer(cx, crate::Timer::Service(t)))
    }
    fn send_failed(&mut self, to: ComponentId, msg: Msg) -> Vec<Command<Cluster>> {
        let s = &mut self.s;
        self.h
            .call(|cx| s.on_send_failed(cx, to, msg, DropCause::Crashed))
    }
    fn report(&mut self) -> MetricsReport {
        std::mem::take(&mut self.h.metrics).finish(self.h.now)
    }
}

fn sends(cmds: &[Command<Cluster>]) -> Vec<(ComponentId, Msg)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Send { dst, msg, .. } => Some((*dst, msg.clone())),
            _ => None,
        })
        .collect()
}

fn timers(cmds: &[Command<Cluster>]) -> Vec<(SimTime, Timer)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::SetTimer {
                at,
                timer: crate::Timer::Service(t),
                ..
            } => Some((*at, t.clone())),
            _ => None,
        })
        .collect()
}

fn work_done(cmds: &[Command<Cluster>]) -> (SimTime, Timer) {
    let t = timers(cmds);
    assert_eq!(t.len(), 1, "{cmds:?}");
    assert!(matches!(t[0].1, Timer::WorkDone { .. }));
    t[0].clone()
}

fn response(to: ComponentId, id: u64, status: Status) -> (ComponentId, Msg) {
    (
        to,
        Msg::Response(Response {
            id,
            status,
            size_bytes: 0,
            version: 0,
        }),
    )
}

fn counter(r: &MetricsReport, name: &str) -> u64 {
    r.counter(r.find(Some(ComponentId(0)), name).unwrap())
}

/// The downstream request sent in `cmds` (exactly one).
fn call_sent(cmds: &[Command<Cluster>], to: ComponentId) -> Request {
    let s = sends(cmds);
    assert_eq!(s.len(), 1, "{cmds:?}");
    assert_eq!(s[0].0, to);
    match s[0].1 {
        Msg::Request(r) => r,
        ref other => panic!("{other:?}"),
    }
}

#[test]
fn serves_fifo_and_answers_with_the_callers_id() {
    let mut f = Fixture::new(ServiceConfig::new(constant_ms(2)));
    let out = f.message(CALLER, req(11));
    let (at, t1) = work_done(&out);
    assert_eq!(at, SimTime::ZERO + ms(2));
    assert!(sends(&out).is_empty());
    // Two more arrive while busy: queued, no timers.
    assert!(f.at(ms(1)).message(CALLER, req(12)).is_empty());
    assert!(f.message(ComponentId(3), req(13)).is_empty());
    assert_eq!((f.s.queued(), f.s.busy(), f.s.in_system()), (2, 1, 3));
    // First done: response to 11, and 12 starts.
    let out = f.at(ms(2)).timer(t1);
    assert_eq!(sends(&out), vec![response(CALLER, 11, Status::Ok)]);
    let (at, t2) = work_done(&out);
    assert_eq!(at, SimTime::ZERO + ms(4));
    let out = f.at(ms(4)).timer(t2);
    assert_eq!(sends(&out), vec![response(CALLER, 12, Status::Ok)]);
    let (_, t3) = work_done(&out);
    let out = f.at(ms(6)).timer(t3.clone());
    assert_eq!(sends(&out), vec![response(ComponentId(3), 13, Status::Ok)]);
    assert!(timers(&out).is_empty());
    // A stale timer is ignored.
    assert!(f.timer(t3).is_empty());
    assert_eq!((f.s.queued(), f.s.busy(), f.s.in_system()), (0, 0, 0));
    let r = f.report();
    assert_eq!(counter(&r, "arrivals"), 3);
    assert_eq!(counter(&r, "completed"), 3);
    assert_eq!(counter(&r, "waited"), 2);
    let lat = r
        .histogram(r.find(Some(ComponentId(0)), "latency_ns").unwrap())
        .unwrap();
    // Latencies 2, 3 and 5 ms.
    assert_eq!(lat.len(), 3);
    assert_eq!(lat.max(), lat.highest_equivalent(5_000_000));
    let wait = r
        .histogram(r.find(Some(ComponentId(0)), "wait_ns").unwrap())
        .unwrap();
    assert_eq!(wait.len(), 3);
    assert_eq!(wait.min(), 0);
    // in_system: 1 on [0,1), 3 on [1,2), 2 on [2,4), 1 on [4,6) → 10 ms·req over 6 ms, which
    // is Little's law: (2 + 3 + 5) ms of latency over 6 ms.
    let g = r.gauge_avg(r.find(Some(ComponentId(0)), "in_system").unwrap());
    assert!((g - 10.0 / 6.0).abs() < 1e-9, "{g}");
    let servers = r.find(Some(ComponentId(0)), "servers").unwrap();
    assert!((r.gauge_avg(servers) - 1.0).abs() < 1e-9);
}

#[test]
fn bounded_queue_rejects_when_full() {
    let mut cfg = ServiceConfig::new(constant_ms(1));
    cfg.queue_capacity = Some(1);
    let mut f = Fixture::new(cfg);
    f.message(CALLER, req(1));
    assert!(f.message(CALLER, req(2)).is_empty());
    let out = f.message(CALLER, req(3));
    assert_eq!(sends(&out), vec![response(CALLER, 3, Status::Rejected)]);
    assert!(timers(&out).is_empty());
    assert_eq!(f.s.in_system(), 2);
    let r = f.report();
    assert_eq!(counter(&r, "rejected"), 1);
    assert_eq!(counter(&r, "arrivals"), 3);

    // Capacity 0: a loss system.
    let mut cfg = ServiceConfig::new(constant_ms(1));
    cfg.queue_capacity = Some(0);
    cfg.workers = 2;
    let mut f = Fixture::new(cfg);
    f.message(CALLER, req(1));
    f.message(CALLER, req(2));
    let out = f.message(CALLER, req(3));
    assert_eq!(sends(&out), vec![response(CALLER, 3, Status::Rejected)]);
}

#[test]
fn service_time_scales_with_node_slowdown() {
    let mut f = Fixture::new(ServiceConfig::new(constant_ms(2)));
    f.h.slowdown_permille = 2500;
    let (at, _) = work_done(&f.message(CALLER, req(1)));
    assert_eq!(at, SimTime::ZERO + ms(5));
}

#[test]
fn dispatch_policies_pick_instances() {
    // Round robin over 3 single-worker instances: three requests all start at once.
    let mut cfg = ServiceConfig::new(constant_ms(1));
    cfg.instances = 3;
    let mut f = Fixture::new(cfg.clone());
    for id in 0..3 {
        assert_eq!(timers(&f.message(CALLER, req(id))).len(), 1);
    }
    assert!(timers(&f.message(CALLER, req(3))).is_empty());
    assert_eq!(f.s.queued(), 1);

    // Join-shortest-queue: after instance 0 finishes, the next request goes to it.
    cfg.dispatch = Dispatch::JoinShortestQueue;
    let mut f = Fixture::new(cfg.clone());
    let (_, t0) = work_done(&f.message(CALLER, req(0)));
    work_done(&f.message(CALLER, req(1)));
    work_done(&f.message(CALLER, req(2)));
    assert!(timers(&f.message(CALLER, req(3))).is_empty()); // queued at instance 0
    // Instance 0 finishes job 0 and starts the queued job 3.
    let out = f.at(ms(1)).timer(t0);
    assert_eq!(timers(&out).len(), 1);
    assert_eq!(f.s.instances[0].busy, 1);
    // Now all have 1 → ties go to instance 0.
    f.message(CALLER, req(4));
    assert_eq!(f.s.instances[0].queue.len(), 1);

    // Random: spreads over all instances.
    cfg.dispatch = Dispatch::Random;
    cfg.instances = 4;
    let mut f = Fixture::new(cfg);
    for id in 0..400 {
        f.message(CALLER, req(id));
    }
    for inst in &f.s.instances {
        let n = inst.busy as usize + inst.queue.len();
        // Binomial(400, 1/4): mean 100, sd 8.7; 5 sd.
        assert!((57..=143).contains(&n), "{n}");
    }
}

fn with_calls(mode: CallMode, hold: bool) -> ServiceConfig {
    let mut cfg = ServiceConfig::new(constant_ms(1));
    cfg.calls = vec![
        Call {
            target: CACHE,
            probability: 1.0,
            op: Some(Op::Read),
        },
        Call {
            target: DB,
            probability: 1.0,
            op: None,
        },
    ];
    cfg.call_mode = mode;
    cfg.hold_worker_during_calls = hold;
    cfg
}

#[test]
fn sequential_calls_go_one_after_another() {
    let mut f = Fixture::new(with_calls(CallMode::Sequential, true));
    let (_, t) = work_done(&f.message(CALLER, req(5)));
    let out = f.at(ms(1)).timer(t);
    let c1 = call_sent(&out, CACHE);
    assert_eq!((c1.op, c1.key, c1.size_bytes), (Op::Read, 42, 100));
    // The cache answers: the db call follows, with the incoming op.
    let out = f.at(ms(3)).message(
        CACHE,
        Msg::Response(Response {
            id: c1.id,
            status: Status::Ok,
            size_bytes: 0,
            version: 0,
        }),
    );
    let c2 = call_sent(&out, DB);
    assert_eq!(c2.op, Op::Write);
    assert_ne!(c2.id, c1.id);
    // A duplicate of the cache answer is ignored.
    assert!(
        f.message(
            CACHE,
            Msg::Response(Response {
                id: c1.id,
                status: Status::Ok,
                size_bytes: 0,
                version: 0,
            })
        )
        .is_empty()
    );
    let out = f.at(ms(6)).message(
        DB,
        Msg::Response(Response {
            id: c2.id,
            status: Status::Ok,
            size_bytes: 0,
            version: 0,
        }),
    );
    assert_eq!(sends(&out), vec![response(CALLER, 5, Status::Ok)]);
    let r = f.report();
    assert_eq!(counter(&r, "calls"), 2);
    let lat = r
        .histogram(r.find(Some(ComponentId(0)), "latency_ns").unwrap())
        .unwrap();
    assert_eq!(lat.max(), lat.highest_equivalent(6_000_000));
}

#[test]
fn parallel_calls_wait_for_all() {
    let mut f = Fixture::new(with_calls(CallMode::Parallel, true));
    let (_, t) = work_done(&f.message(CALLER, req(5)));
    let out = f.at(ms(1)).timer(t);
    let s = sends(&out);
    assert_eq!(s.iter().map(|x| x.0).collect::<Vec<_>>(), vec![CACHE, DB]);
    let ids: Vec<u64> = s
        .iter()
        .map(|(_, m)| match m {
            Msg::Request(r) => r.id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(
        f.at(ms(2))
            .message(
                DB,
                Msg::Response(Response {
                    id: ids[1],
                    status: Status::Ok,
                    size_bytes: 0,
                    version: 0,
                })
            )
            .is_empty()
    );
    let out = f.at(ms(4)).message(
        CACHE,
        Msg::Response(Response {
            id: ids[0],
            status: Status::Ok,
            size_bytes: 0,
            version: 0,
        }),
    );
    assert_eq!(sends(&out), vec![response(CALLER, 5, Status::Ok)]);
}

#[test]
fn a_failed_call_fails_the_request_fast() {
    // Parallel: the first failure answers Error; the other call's late answer is ignored.
    let mut f = Fixture::new(with_calls(CallMode::Parallel, true));
    let (_, t) = work_done(&f.message(CALLER, req(5)));
    let out = f.timer(t);
    let ids: Vec<u64> = sends(&out)
        .iter()
        .map(|(_, m)| match m {
            Msg::Request(r) => r.id,
            other => panic!("{other:?}"),
        })
        .collect();
    let out = f.message(
        DB,
        Msg::Response(Response {
            id: ids[1],
            status: Status::Rejected,
            size_bytes: 0,
            version: 0,
        }),
    );
    assert_eq!(sends(&out), vec![response(CALLER, 5, Status::Error)]);
    assert!(
        f.message(
            CACHE,
            Msg::Response(Response {
                id: ids[0],
                status: Status::Ok,
                size_bytes: 0,
                version: 0,
            })
        )
        .is_empty()
    );
    assert_eq!(f.s.in_system(), 0);
    assert_eq!(f.s.busy(), 0);

    // Sequential: a send failure of the first call skips the second.
    let mut f = Fixture::new(with_calls(CallMode::Sequential, true));
    let (_, t) = work_done(&f.message(CALLER, req(6)));
    let c1 = call_sent(&f.timer(t), CACHE);
    let out = f.send_failed(CACHE, Msg::Request(c1));
    assert_eq!(sends(&out), vec![response(CALLER, 6, Status::Error)]);
    let r = f.report();
    assert_eq!(counter(&r, "errors"), 1);
    assert_eq!(counter(&r, "call_failures"), 1);
    assert_eq!(counter(&r, "calls"), 1);
}

#[test]
fn call_timeouts_fail_the_call_and_are_cancelled_on_answer() {
    let mut cfg = with_calls(CallMode::Sequential, true);
    cfg.call_timeout = Some(ms(10));
    let mut f = Fixture::new(cfg);
    let (_, t) = work_done(&f.message(CALLER, req(1)));
    let out = f.at(ms(1)).timer(t);
    let c1 = call_sent(&out, CACHE);
    let tt = timers(&out);
    assert_eq!(
        tt,
        vec![(SimTime::ZERO + ms(11), Timer::CallTimeout { call: c1.id })]
    );
    // Answered in time: the timeout is cancelled (its key retired) and the db call is made.
    let out = f.at(ms(2)).message(
        CACHE,
        Msg::Response(Response {
            id: c1.id,
            status: Status::Ok,
            size_bytes: 0,
            version: 0,
        }),
    );
    let c2 = call_sent(&out, DB);
    // Firing the stale cache timeout does nothing.
    assert!(f.timer(Timer::CallTimeout { call: c1.id }).is_empty());
    // The db call times out: Error.
    let out = f.at(ms(12)).timer(Timer::CallTimeout { call: c2.id });
    assert_eq!(sends(&out), vec![response(CALLER, 1, Status::Error)]);
    // Its late answer is ignored.
    assert!(
        f.message(
            DB,
            Msg::Response(Response {
                id: c2.id,
                status: Status::Ok,
                size_bytes: 0,
                version: 0,
            })
        )
        .is_empty()
    );
}

#[test]
fn releasing_the_worker_during_calls_lets_the_queue_move() {
    for hold in [true, false] {
        let mut f = Fixture::new(with_calls(CallMode::Sequential, hold));
        let (_, t) = work_done(&f.message(CALLER, req(1)));
        assert!(f.message(CALLER, req(2)).is_empty()); // queued
        let out = f.at(ms(1)).timer(t);
        // With hold, request 2 waits for the calls; without, it starts now.
        assert_eq!(timers(&out).len(), usize::from(!hold), "hold={hold}");
        assert_eq!(f.s.busy(), 1);
        assert_eq!(f.s.queued(), usize::from(hold));
    }
}

#[test]
fn calls_are_made_with_their_probability() {
    let mut cfg = ServiceConfig::new(constant_ms(1));
    cfg.calls = vec![Call {
        target: DB,
        probability: 0.25,
        op: None,
    }];
    cfg.workers = 1000;
    let mut f = Fixture::new(cfg);
    let mut made = 0;
    for id in 0..1000 {
        let (_, t) = work_done(&f.message(CALLER, req(id)));
        made += sends(&f.timer(t))
            .iter()
            .filter(|(to, _)| *to == DB)
            .count();
    }
    // Binomial(1000, 0.25): sd 13.7; 5 sd.
    assert!((181..=319).contains(&made), "{made}");
}

#[test]
fn crash_drops_everything_and_restart_starts_clean() {
    let mut f = Fixture::new(with_calls(CallMode::Sequential, true));
    let (_, t1) = work_done(&f.message(CALLER, req(1)));
    f.message(CALLER, req(2));
    let c1 = call_sent(&f.at(ms(1)).timer(t1), CACHE);
    f.s.on_crash();
    assert_eq!((f.s.queued(), f.s.busy(), f.s.in_system()), (0, 0, 0));
    let s = &mut f.s;
    let out = f.h.call(|cx| s.on_restart(cx));
    assert!(out.is_empty());
    // A late answer to the pre-crash call is ignored.
    assert!(
        f.message(
            CACHE,
            Msg::Response(Response {
                id: c1.id,
                status: Status::Ok,
                size_bytes: 0,
                version: 0,
            })
        )
        .is_empty()
    );
    // New work proceeds normally; slots are reused with new generations.
    let (_, t) = work_done(&f.at(ms(5)).message(CALLER, req(3)));
    let c = call_sent(&f.timer(t), CACHE);
    assert_ne!(c.id, c1.id);
}

#[test]
fn steady_state_reuses_slots() {
    let mut f = Fixture::new(with_calls(CallMode::Parallel, false));
    for round in 0..100u64 {
        let (_, t) = work_done(&f.message(CALLER, req(round)));
        let out = f.timer(t);
        for (to, m) in sends(&out) {
            let Msg::Request(r) = m else { panic!() };
            f.message(
                to,
                Msg::Response(Response {
                    id: r.id,
                    status: Status::Ok,
                    size_bytes: 0,
                    version: 0,
                }),
            );
        }
    }
    assert_eq!(f.s.jobs.len(), 1);
    assert_eq!(f.s.call_slots.len(), 2);
    assert_eq!(f.s.in_system(), 0);
}
