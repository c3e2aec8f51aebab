//! Metrics through a running simulation: warm-up, windows, gauge time averages.

use clustersim_engine::*;

use crate::common::*;

/// Totals ignore everything before the warm-up end; windows cover the whole run and say which
/// ones lie in the warm-up.
#[test]
fn warmup_is_excluded_from_totals() {
    let log = Log::default();
    let (mut b, n) = world(1, 1);
    let count = b.metrics().counter(None, "ticks");
    let hist = b.metrics().histogram(None, "at_ms");
    let gauge = b.metrics().gauge(None, "level");
    b.metrics().set_warmup(t_ms(30));
    b.metrics().set_interval(Some(ms(10)));
    Actor::new(&log)
        .on_start(|cx| {
            cx.set_timer(SimDuration::ZERO, 0);
        })
        .on_timer(move |cx, k| {
            cx.count(count, 1);
            cx.record(hist, k + 1);
            // 100 during the warm-up, then 2, then 4 from 60 ms on.
            cx.gauge_set(
                gauge,
                if k < 30 {
                    100
                } else if k < 60 {
                    2
                } else {
                    4
                },
            );
            if k < 99 {
                cx.set_timer(ms(1), k + 1);
            }
        })
        .add(&mut b, n[0], "a");
    let report = b.build().unwrap().run_to_report(until(t_ms(100)));
    let m = &report.metrics;
    assert_eq!(m.counter(count), 70);
    let h = m.histogram(hist).unwrap();
    assert_eq!((h.len(), h.min(), h.max()), (70, 31, 100));
    // Over [30, 100): 2 for 30 ms, 4 for 40 ms.
    assert_close(
        m.gauge_avg(gauge),
        (2.0 * 30.0 + 4.0 * 40.0) / 70.0,
        1e-12,
        "gauge average",
    );
    assert_eq!((m.measured_from, m.measured_to), (t_ms(30), t_ms(100)));
    assert_eq!(m.measured_duration(), ms(70));
    // Windows: 10 per series, 10 ticks each, the first three in the warm-up.
    let counts: Vec<(SimTime, SimTime, bool, WindowValue)> = m
        .windows
        .iter()
        .filter(|w| w.series == count)
        .map(|w| (w.start, w.end, w.in_warmup, w.value.clone()))
        .collect();
    let expected: Vec<_> = (0..10)
        .map(|k| {
            (
                t_ms(10 * k),
                t_ms(10 * k + 10),
                k < 3,
                WindowValue::Counter(10),
            )
        })
        .collect();
    assert_eq!(counts, expected);
    assert_eq!(m.windows.len(), 30);
}

/// Windows are produced at every interval even when nothing happens for a long time (the clock
/// jumps from event to event), and gauge window averages integrate across the jump.
#[test]
fn windows_roll_across_time_jumps() {
    let log = Log::default();
    let (mut b, n) = world(1, 1);
    let count = b.metrics().counter(None, "events");
    let gauge = b.metrics().gauge(None, "level");
    b.metrics().set_interval(Some(ms(10)));
    Actor::new(&log)
        .on_start(|cx| {
            cx.set_timer(ms(5), 4);
            cx.set_timer(ms(75), 0);
        })
        .on_timer(move |cx, level| {
            cx.count(count, 1);
            cx.gauge_set(gauge, level as i64);
        })
        .add(&mut b, n[0], "a");
    let report = b.build().unwrap().run_to_report(until(t_ms(100)));
    let m = &report.metrics;
    let gauges: Vec<(u64, WindowValue)> = m
        .windows
        .iter()
        .filter(|w| w.series == gauge)
        .map(|w| (w.start.as_nanos() / 1_000_000, w.value.clone()))
        .collect();
    let g = |avg: f64, max| WindowValue::Gauge { time_avg: avg, max };
    let mut expected = vec![(0, g(2.0, 4))];
    expected.extend((1..7).map(|k| (10 * k, g(4.0, 4))));
    expected.extend([(70, g(2.0, 4)), (80, g(0.0, 0)), (90, g(0.0, 0))]);
    assert_eq!(gauges, expected);
    let counts: Vec<u64> = m
        .windows
        .iter()
        .filter(|w| w.series == count)
        .map(|w| match w.value {
            WindowValue::Counter(c) => c,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(counts, vec![1, 0, 0, 0, 0, 0, 0, 1, 0, 0]);
    assert_close(
        m.gauge_avg(gauge),
        4.0 * 70.0 / 100.0,
        1e-12,
        "gauge average",
    );
    assert_eq!(report.summary.now, t_ms(100));
}

/// Little's law on an M/D/∞ system: arrivals at rate λ = 100/s (Poisson), each item stays
/// W = 50 ms. The gauge's time average L must equal λ_observed · W up to edge effects, and
/// λ · W = 5 within sampling error.
#[test]
fn gauge_time_average_obeys_littles_law() {
    let log = Log::default();
    let (mut b, n) = world(9, 1);
    let in_system = b.metrics().gauge(None, "in_system");
    let arrivals = b.metrics().counter(None, "arrivals");
    let sojourn = b.metrics().histogram(None, "sojourn_ns");
    let warmup = t_ms(10_000);
    b.metrics().set_warmup(warmup);
    let w = ms(50);
    let interarrival = Dist::exponential(10e6).unwrap(); // 10 ms mean
    Actor::new(&log)
        .on_start(move |cx| {
            cx.set_timer(SimDuration::ZERO, 0);
        })
        .on_timer(move |cx, k| {
            if k == 0 {
                cx.count(arrivals, 1);
                cx.gauge_add(in_system, 1);
                cx.set_timer(w, 1);
                let next = interarrival.sample_duration(cx.rng());
                cx.set_timer(next, 0);
            } else {
                cx.gauge_add(in_system, -1);
                cx.record(sojourn, w.as_nanos());
            }
        })
        .add(&mut b, n[0], "queue");
    let end = t_ms(210_000);
    let report = b.build().unwrap().run_to_report(until(end));
    let m = &report.metrics;
    let t = m.measured_duration().as_secs_f64();
    assert_eq!(t, 200.0);
    let l = m.gauge_avg(in_system);
    let lambda = m.counter(arrivals) as f64 / t;
    // Edge effects: at most a handful of items straddle each boundary, each contributing at
    // most W / T = 0.05 / 200 to L; 1 % is far above that.
    assert_close(l, lambda * w.as_secs_f64(), 0.01 * l, "L vs λW");
    // N ~ Poisson(20,000): relative sd 0.7 %; 5 sd ≈ 3.5 %.
    assert_close(l, 5.0, 0.035 * 5.0, "L vs 5");
    let h = m.histogram(sojourn).unwrap();
    // Every sojourn is exactly W (equal up to the histogram's 3 significant digits).
    assert!(h.equivalent(h.min(), w.as_nanos()) && h.equivalent(h.max(), w.as_nanos()));
}

/// Regression: an event at `SimTime::MAX` (a timer set "forever" ahead, run with an unbounded
/// end time) used to spin forever closing empty windows once the next window end saturated.
#[test]
fn window_roll_terminates_at_the_end_of_time() {
    let log = Log::default();
    let (mut b, n) = world(1, 1);
    let count = b.metrics().counter(None, "fired");
    b.metrics().set_interval(Some(SimDuration::MAX));
    let me = Actor::new(&log)
        .on_start(|cx| {
            cx.set_timer(SimDuration::MAX, 1);
        })
        .on_timer(move |cx, _| cx.count(count, 1))
        .add(&mut b, n[0], "a");
    let report = b
        .build()
        .unwrap()
        .run_to_report(Limits::new(SimTime::MAX, 10));
    assert_eq!(report.summary.stop, StopReason::Exhausted);
    assert_eq!(log.timers(me), vec![(SimTime::MAX, 1)]);
    let windows: Vec<(SimTime, SimTime, WindowValue)> = report
        .metrics
        .windows
        .iter()
        .map(|w| (w.start, w.end, w.value.clone()))
        .collect();
    // One window; the last one absorbs the instant `SimTime::MAX` itself.
    assert_eq!(
        windows,
        vec![(SimTime::ZERO, SimTime::MAX, WindowValue::Counter(1))]
    );
}
