//! Node clocks seen through the context: offset, drift and steps, in exact integer math.

use clustersim_engine::*;

use crate::common::*;

/// `local = t + offset + t * drift_ppb / 1e9` (truncated), plus the sum of steps so far.
fn expected_local(t: SimTime, offset_ns: i64, drift_ppb: i64) -> SimTime {
    let t = i128::from(t.as_nanos());
    let local = t + i128::from(offset_ns) + t * i128::from(drift_ppb) / 1_000_000_000;
    SimTime::from_nanos(local.max(0) as u64)
}

/// Each node reads its own clock; steps apply from their instant on, to that node only.
#[test]
fn local_time_follows_offset_drift_and_steps() {
    let log = Log::default();
    let (mut b, n) = world(1, 3);
    // n0 perfect; n1 +5 ms and +250 ppb; n2 -2 s and -100 ppm (clamps at zero early on).
    b.set_clock(
        n[1],
        NodeClock {
            offset_ns: 5_000_000,
            drift_ppb: 250,
        },
    );
    b.set_clock(n[2], NodeClock::new(-2_000_000_000, -100));
    let times: Vec<u64> = vec![
        0,
        1,
        999,
        1_000_000_007,
        1_500_000_000,
        2_999_999_999,
        7_000_000_000,
    ];
    let mut ids = Vec::new();
    for (i, node) in n.iter().enumerate() {
        let times = times.clone();
        let l2 = log.clone();
        let id = Actor::new(&log)
            .on_start(move |cx| {
                for &t in &times {
                    cx.set_timer(SimDuration::from_nanos(t), t);
                }
            })
            .on_timer(move |cx, _| {
                l2.push(
                    Some(cx.now()),
                    cx.me(),
                    What::Note(cx.local_time().as_nanos()),
                )
            })
            .add(&mut b, *node, &format!("c{i}"));
        ids.push(id);
    }
    // n1 jumps back 3 ms at 2 s, then forward 10 ms at 5 s.
    b.schedule_fault(
        t_ms(2000),
        FaultAction::ClockStep {
            node: n[1],
            delta_ns: -3_000_000,
        },
    );
    b.schedule_fault(
        t_ms(5000),
        FaultAction::ClockStep {
            node: n[1],
            delta_ns: 10_000_000,
        },
    );
    b.build().unwrap().run(until(t_ms(10_000)));

    let at = |t: u64| SimTime::from_nanos(t);
    let n0: Vec<(SimTime, u64)> = times.iter().map(|&t| (at(t), t)).collect();
    assert_eq!(log.notes(ids[0]), n0);
    let n1: Vec<(SimTime, u64)> = times
        .iter()
        .map(|&t| {
            let steps = match t {
                _ if t >= 5_000_000_000 => 7_000_000,
                _ if t >= 2_000_000_000 => -3_000_000,
                _ => 0,
            };
            (
                at(t),
                expected_local(at(t), 5_000_000 + steps, 250).as_nanos(),
            )
        })
        .collect();
    assert_eq!(log.notes(ids[1]), n1);
    // Spot-check one value by hand: 1.5 s + 5 ms + 375 ns.
    assert_eq!(n1[4].1, 1_505_000_375);
    let n2: Vec<(SimTime, u64)> = times
        .iter()
        .map(|&t| {
            (
                at(t),
                expected_local(at(t), -2_000_000_000, -100_000).as_nanos(),
            )
        })
        .collect();
    assert_eq!(log.notes(ids[2]), n2);
    assert_eq!(n2[0].1, 0); // clamped
    // 7 s - 2 s - 700 µs.
    assert_eq!(n2[6].1, 4_999_300_000);
}
