//! Run limits: stop reasons and continuing a run in phases.

use clustersim_engine::*;

use crate::common::*;

/// A component that ticks every millisecond forever, counting ticks.
fn ticker(seed: u64) -> (Sim<P>, Log, SeriesId) {
    let log = Log::default();
    let (mut b, n) = world(seed, 2);
    b.network().intra_region = LinkSpec::with_latency(Dist::uniform(0.0, 2e6).unwrap());
    let ticks = b.metrics().counter(None, "ticks");
    b.metrics().set_interval(Some(ms(7)));
    let peer = ComponentId(1);
    Actor::new(&log)
        .on_start(|cx| {
            cx.set_timer(ms(1), 0);
        })
        .on_timer(move |cx, k| {
            cx.count(ticks, 1);
            cx.send_with(peer, k, Transport::Datagram, 0);
            cx.set_timer(ms(1), k + 1);
        })
        .add(&mut b, n[0], "ticker");
    Actor::new(&log).add(&mut b, n[1], "peer");
    (b.build().unwrap(), log, ticks)
}

/// `EndTime`: events at exactly the end time are processed, later ones are not, and the clock
/// stops at the end time.
#[test]
fn end_time_is_inclusive() {
    let (mut sim, log, _) = ticker(1);
    let s = sim.run(until(t_ms(10)));
    assert_eq!(s.stop, StopReason::EndTime);
    assert!(s.stop.completed());
    assert_eq!(s.now, t_ms(10));
    assert_eq!(log.timers(ComponentId(0)).last().unwrap().0, t_ms(10));
    assert!(s.pending > 0);
}

/// `EventLimit`: the run stops after exactly `max_events` events, before the end time. The cap
/// counts events since the start of the simulation, across `run` calls.
#[test]
fn event_limit_stops_early() {
    let (mut sim, _, _) = ticker(1);
    let s = sim.run(Limits::new(t_ms(1000), 25));
    assert_eq!(s.stop, StopReason::EventLimit);
    assert!(!s.stop.completed());
    assert_eq!(s.events, 25);
    assert!(s.now < t_ms(1000));
    let s2 = sim.run(Limits::new(t_ms(1000), 40));
    assert_eq!((s2.stop, s2.events), (StopReason::EventLimit, 40));
}

/// `Exhausted`: nothing left to do. Regression: a run whose last event is exactly the
/// `max_events`-th used to report `EventLimit` although it had completed.
#[test]
fn exhausted_with_exact_event_budget() {
    let log = Log::default();
    let (mut b, n) = world(1, 1);
    Actor::new(&log)
        .on_start(|cx| {
            for k in 1..=5 {
                cx.set_timer(ms(k), k);
            }
        })
        .add(&mut b, n[0], "a");
    let s = b.build().unwrap().run(Limits::new(t_ms(100), 5));
    assert_eq!((s.stop, s.events, s.pending), (StopReason::Exhausted, 5, 0));
    // The clock runs on to the end time: the period covered is the whole run.
    assert_eq!(s.now, t_ms(100));
}

/// A run continued in phases (end-time limits, event limits, single steps) processes the same
/// events as one run: equal digests, event counts, drops and metrics.
#[test]
fn phased_run_equals_one_run() {
    let end = t_ms(2_000);
    let (sim, _, _) = ticker(3);
    let one = sim.run_to_report(until(end));

    let (mut sim, _, _) = ticker(3);
    let a = sim.run(until(t_ms(333)));
    assert_eq!(a.stop, StopReason::EndTime);
    let b = sim.run(Limits::new(end, a.events + 1001));
    assert_eq!(b.stop, StopReason::EventLimit);
    for _ in 0..17 {
        sim.step();
    }
    let c = sim.run(until(t_ms(1_000)));
    assert_eq!(c.stop, StopReason::EndTime);
    // An end time already passed is a no-op.
    let d = sim.run(until(t_ms(500)));
    assert_eq!((d.stop, d.events), (StopReason::EndTime, c.events));
    let last = sim.run(until(end));
    let phased = sim.finish();

    assert_eq!(last.digest, one.summary.digest);
    assert_eq!(last.events, one.summary.events);
    assert_eq!(last.now, one.summary.now);
    assert_eq!(last.drops, one.summary.drops);
    assert_eq!(phased.metrics.windows, one.metrics.windows);
    assert_eq!(
        totals_fingerprint(&phased.metrics),
        totals_fingerprint(&one.metrics)
    );
    assert!(!one.metrics.windows.is_empty());
}
