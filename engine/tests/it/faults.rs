//! Scheduled node faults: crash, restart, pause, slowdown.

use clustersim_engine::*;

use crate::common::*;

/// Two nodes, a sender `a` on n0 and a receiver `c` on n1, intra-region latency `latency`.
fn pair(latency: SimDuration) -> (SimBuilder<P>, Vec<NodeId>) {
    let (mut b, n) = world(1, 2);
    b.network().intra_region = link(latency);
    (b, n)
}

/// A crash drops every message in flight to the node (counted as `Crashed`, per destination
/// too), calls `on_crash`, and a restart calls `on_restart`.
#[test]
fn crash_drops_in_flight_messages() {
    let log = Log::default();
    let (mut b, n) = pair(ms(10));
    let c = ComponentId(1);
    let a = Actor::new(&log)
        .on_start(move |cx| {
            for i in 0..10 {
                cx.send_with(c, i, Transport::Datagram, 0);
            }
        })
        .add(&mut b, n[0], "a");
    Actor::new(&log).add(&mut b, n[1], "c");
    b.schedule_fault(t_ms(5), FaultAction::Crash(n[1]));
    b.schedule_fault(t_ms(20), FaultAction::Restart(n[1]));
    let report = b.build().unwrap().run_to_report(until(t_ms(100)));
    assert!(log.received(c).is_empty());
    assert_eq!(drops(&report.summary, DropCause::Crashed), 10);
    assert_eq!(
        report.drops_by_component[c.index()][DropCause::Crashed.index()],
        10
    );
    assert_eq!(report.drops_by_component[a.index()], [0; 5]);
    let what: Vec<(Option<SimTime>, What)> =
        log.of(c).into_iter().map(|r| (r.at, r.what)).collect();
    assert_eq!(
        what,
        vec![
            (Some(SimTime::ZERO), What::Start),
            (None, What::Crash),
            (Some(t_ms(20)), What::Restart)
        ]
    );
}

/// Timers set before a crash never fire, not even after a restart; timers set by the restarted
/// incarnation do. Repeated crashes and restarts of a node in that state are no-ops.
#[test]
fn crash_cancels_timers_for_good() {
    let log = Log::default();
    let (mut b, n) = pair(ms(1));
    let c = Actor::new(&log)
        .on_start(|cx| {
            cx.set_timer(ms(10), 1); // due while down
            cx.set_timer(ms(30), 2); // due after the restart
        })
        .on_restart(|cx| {
            cx.set_timer(ms(5), 3);
            cx.set_timer(ms(10), 4);
        })
        .add(&mut b, n[1], "c");
    b.schedule_fault(t_ms(5), FaultAction::Crash(n[1]));
    b.schedule_fault(t_ms(6), FaultAction::Crash(n[1])); // already down
    b.schedule_fault(t_ms(20), FaultAction::Restart(n[1]));
    b.schedule_fault(t_ms(21), FaultAction::Restart(n[1])); // already up
    b.build().unwrap().run(until(t_ms(100)));
    assert_eq!(log.timers(c), vec![(t_ms(25), 3), (t_ms(30), 4)]);
    let restarts = log.of(c).iter().filter(|r| r.what == What::Restart).count();
    let crashes = log.of(c).iter().filter(|r| r.what == What::Crash).count();
    assert_eq!((crashes, restarts), (1, 1));
}

/// Messages to a down node are dropped; so are messages sent while it was down that arrive
/// after it restarted (they were addressed to the old incarnation). Messages sent after the
/// restart arrive.
#[test]
fn messages_to_a_down_node_are_dropped() {
    let log = Log::default();
    let (mut b, n) = pair(ms(1));
    let c = ComponentId(1);
    Actor::new(&log)
        .on_start(|cx| {
            cx.set_timer(ms(2), 0);
            cx.set_timer(ms(12), 0);
        })
        .on_timer(move |cx, _| {
            let t = cx.now().as_nanos();
            cx.send_with(c, t, Transport::Datagram, 0); // 1 ms
            cx.send_direct(c, ms(20), t + 1); // arrives after the restart
        })
        .add(&mut b, n[0], "a");
    Actor::new(&log).add(&mut b, n[1], "c");
    b.schedule_fault(t_ms(1), FaultAction::Crash(n[1]));
    b.schedule_fault(t_ms(10), FaultAction::Restart(n[1]));
    let s = b.build().unwrap().run(until(t_ms(100)));
    let got: Vec<(SimTime, u64)> = log
        .received(c)
        .into_iter()
        .map(|(t, _, m)| (t, m))
        .collect();
    let sent_at_12 = t_ms(12).as_nanos();
    assert_eq!(
        got,
        vec![(t_ms(13), sent_at_12), (t_ms(32), sent_at_12 + 1)]
    );
    assert_eq!(drops(&s, DropCause::Crashed), 2);
}

/// Stream senders are told (`Crashed`) about messages to a crashed destination, at the time
/// the message would have arrived; datagram senders are not.
#[test]
fn stream_senders_learn_about_crashed_destinations() {
    let log = Log::default();
    let (mut b, n) = pair(ms(10));
    let c = ComponentId(1);
    let a = Actor::new(&log)
        .on_start(move |cx| {
            cx.send_with(c, 1, Transport::Stream, 0);
            cx.send_with(c, 2, Transport::Datagram, 0);
            cx.send_with(c, 3, Transport::Stream, 0);
        })
        .add(&mut b, n[0], "a");
    Actor::new(&log).add(&mut b, n[1], "c");
    b.schedule_fault(t_ms(5), FaultAction::Crash(n[1]));
    let s = b.build().unwrap().run(until(t_ms(100)));
    let crashed = DropCause::Crashed;
    assert_eq!(
        log.failures(a),
        vec![(t_ms(10), c, 1, crashed), (t_ms(10), c, 3, crashed)]
    );
    assert_eq!(drops(&s, crashed), 3);
}

/// Regression: a stream failure is reported to the incarnation that sent the message, not to a
/// later one. Here the sender crashes and restarts while its message is in flight to a
/// destination that then crashes: the restarted sender must not hear about it.
#[test]
fn stream_failure_is_not_reported_to_a_later_incarnation() {
    let log = Log::default();
    let (mut b, n) = pair(ms(10));
    let c = ComponentId(1);
    let a = Actor::new(&log)
        .on_start(move |cx| cx.send_with(c, 1, Transport::Stream, 0))
        .on_restart(|_| {})
        .add(&mut b, n[0], "a");
    Actor::new(&log).add(&mut b, n[1], "c");
    b.schedule_fault(t_ms(2), FaultAction::Crash(n[0]));
    b.schedule_fault(t_ms(4), FaultAction::Restart(n[0]));
    b.schedule_fault(t_ms(5), FaultAction::Crash(n[1]));
    let s = b.build().unwrap().run(until(t_ms(100)));
    assert_eq!(log.failures(a), vec![]);
    assert_eq!(drops(&s, DropCause::Crashed), 1);
}

/// Regression: a stream message waiting out a partition towards a node that then crashes is
/// not silently lost: the sender is told (`Crashed`) at the next retry.
#[test]
fn stream_blocked_by_partition_fails_when_destination_crashes() {
    let log = Log::default();
    let (mut b, n) = pair(ms(1));
    let c = ComponentId(1);
    let a = Actor::new(&log)
        .on_start(|cx| {
            cx.set_timer(ms(1), 0);
        })
        .on_timer(move |cx, _| {
            cx.send_with(c, 7, Transport::Stream, 0);
            cx.send_with(c, 8, Transport::Stream, 0);
        })
        .add(&mut b, n[0], "a");
    Actor::new(&log).add(&mut b, n[1], "c");
    b.schedule_fault(
        SimTime::ZERO,
        FaultAction::Partition(vec![vec![n[0]], vec![n[1]]]),
    );
    b.schedule_fault(t_ms(100), FaultAction::Crash(n[1]));
    b.schedule_fault(t_ms(150), FaultAction::Restart(n[1]));
    b.schedule_fault(t_ms(160), FaultAction::Heal);
    let s = b.build().unwrap().run(until(t_ms(10_000)));
    // First retry is at 1 ms + rto (200 ms): the connection was reset by the crash.
    let crashed = DropCause::Crashed;
    assert_eq!(
        log.failures(a),
        vec![(t_ms(201), c, 7, crashed), (t_ms(201), c, 8, crashed)]
    );
    assert!(log.received(c).is_empty());
    assert_eq!(drops(&s, crashed), 2);
    assert_eq!(drops(&s, DropCause::Partition), 0);
}

/// A pause defers events (messages, timers) to its end, in arrival order; nothing is lost.
#[test]
fn pause_defers_events_without_losing_them() {
    let log = Log::default();
    let (mut b, n) = pair(ms(1));
    let c = ComponentId(1);
    Actor::new(&log)
        .on_start(|cx| {
            cx.set_timer(ms(19), 0);
            cx.set_timer(ms(29), 0);
            cx.set_timer(ms(60), 0);
        })
        .on_timer(move |cx, _| cx.send(c, cx.now().as_nanos()))
        .add(&mut b, n[0], "a");
    Actor::new(&log)
        .on_start(|cx| {
            cx.set_timer(ms(25), 1);
            cx.set_timer(ms(40), 2);
        })
        .add(&mut b, n[1], "c");
    b.schedule_fault(
        t_ms(10),
        FaultAction::Pause {
            node: n[1],
            duration: ms(20),
        },
    );
    // Extends the pause to 50 ms while it is in progress.
    b.schedule_fault(
        t_ms(15),
        FaultAction::Pause {
            node: n[1],
            duration: ms(35),
        },
    );
    b.build().unwrap().run(until(t_ms(100)));
    let seq: Vec<(SimTime, What)> = log
        .of(c)
        .into_iter()
        .map(|r| (r.at.unwrap(), r.what))
        .collect();
    let a = ComponentId(0);
    assert_eq!(
        seq,
        vec![
            (SimTime::ZERO, What::Start),
            (
                t_ms(50),
                What::Msg {
                    from: a,
                    msg: t_ms(19).as_nanos()
                }
            ),
            (t_ms(50), What::Timer(1)),
            (
                t_ms(50),
                What::Msg {
                    from: a,
                    msg: t_ms(29).as_nanos()
                }
            ),
            (t_ms(50), What::Timer(2)),
            (
                t_ms(61),
                What::Msg {
                    from: a,
                    msg: t_ms(60).as_nanos()
                }
            ),
        ]
    );
}

/// Regression: a pause must not reorder a stream. Message 1 arrives during the pause and is
/// deferred; message 2 (sent after it) arrives exactly when the pause ends but was scheduled
/// before the pause began, so a plain re-push of message 1 would let message 2 overtake it.
#[test]
fn pause_keeps_stream_order() {
    let log = Log::default();
    let (mut b, n) = pair(SimDuration::ZERO);
    b.network().intra_region.bandwidth_bps = 8_000_000; // 1 byte per microsecond
    let c = ComponentId(1);
    Actor::new(&log)
        .on_start(move |cx| {
            cx.send_with(c, 1, Transport::Stream, 20_000); // arrives at 20 ms
            cx.send_with(c, 2, Transport::Stream, 30_000); // queued behind: 50 ms
        })
        .add(&mut b, n[0], "a");
    Actor::new(&log).add(&mut b, n[1], "c");
    b.schedule_fault(
        SimTime::ZERO,
        FaultAction::Pause {
            node: n[1],
            duration: ms(50),
        },
    );
    b.build().unwrap().run(until(t_ms(100)));
    let got: Vec<(SimTime, u64)> = log
        .received(c)
        .into_iter()
        .map(|(t, _, m)| (t, m))
        .collect();
    assert_eq!(got, vec![(t_ms(50), 1), (t_ms(50), 2)]);
}

/// Regression: `on_send_failed` is a handler like any other and waits out a pause too.
#[test]
fn pause_defers_send_failures() {
    let log = Log::default();
    let (mut b, n) = pair(ms(1));
    b.network().stream.failure_timeout = ms(100);
    let c = ComponentId(1);
    let a = Actor::new(&log)
        .on_start(|cx| {
            cx.set_timer(ms(1), 0);
        })
        .on_timer(move |cx, _| cx.send_with(c, 5, Transport::Stream, 0))
        .add(&mut b, n[0], "a");
    Actor::new(&log).add(&mut b, n[1], "c");
    b.schedule_fault(SimTime::ZERO, FaultAction::Partition(vec![vec![n[1]]]));
    b.schedule_fault(
        t_ms(90),
        FaultAction::Pause {
            node: n[0],
            duration: ms(50),
        },
    );
    b.build().unwrap().run(until(t_ms(1000)));
    assert_eq!(
        log.failures(a),
        vec![(t_ms(140), c, 5, DropCause::Partition)]
    );
}

/// A crash during a pause drops what the pause deferred (stream senders are told) and the
/// restarted node does not see it.
#[test]
fn crash_during_pause_drops_deferred_events() {
    let log = Log::default();
    let (mut b, n) = pair(ms(1));
    let c = ComponentId(1);
    let a = Actor::new(&log)
        .on_start(move |cx| {
            cx.send_with(c, 1, Transport::Stream, 0);
            cx.send_with(c, 2, Transport::Datagram, 0);
        })
        .add(&mut b, n[0], "a");
    Actor::new(&log)
        .on_start(|cx| {
            cx.set_timer(ms(5), 9);
        })
        .on_restart(|_| {})
        .add(&mut b, n[1], "c");
    b.schedule_fault(
        SimTime::ZERO,
        FaultAction::Pause {
            node: n[1],
            duration: ms(50),
        },
    );
    b.schedule_fault(t_ms(20), FaultAction::Crash(n[1]));
    b.schedule_fault(t_ms(30), FaultAction::Restart(n[1]));
    let s = b.build().unwrap().run(until(t_ms(100)));
    assert!(log.received(c).is_empty());
    assert!(log.timers(c).is_empty());
    assert_eq!(log.failures(a), vec![(t_ms(20), c, 1, DropCause::Crashed)]);
    assert_eq!(drops(&s, DropCause::Crashed), 2);
    // The restarted node is not paused (the crash ended the pause).
    assert!(
        log.of(c)
            .iter()
            .any(|r| r.what == What::Restart && r.at == Some(t_ms(30)))
    );
}

/// A slowdown is visible to handlers through `slowdown_permille` and `scaled`.
#[test]
fn slowdown_is_visible() {
    let log = Log::default();
    let (mut b, n) = pair(ms(1));
    let l2 = log.clone();
    let a = Actor::new(&log)
        .on_start(|cx| {
            for k in [5, 15, 25] {
                cx.set_timer(ms(k), k);
            }
        })
        .on_timer(move |cx, _| {
            l2.push(
                Some(cx.now()),
                cx.me(),
                What::Note(u64::from(cx.slowdown_permille())),
            );
            l2.push(
                Some(cx.now()),
                cx.me(),
                What::Note(cx.scaled(ms(10)).as_nanos()),
            );
        })
        .add(&mut b, n[0], "a");
    b.schedule_fault(
        t_ms(10),
        FaultAction::Slowdown {
            node: n[0],
            factor_permille: 3000,
        },
    );
    b.schedule_fault(
        t_ms(20),
        FaultAction::Slowdown {
            node: n[0],
            factor_permille: 1000,
        },
    );
    b.build().unwrap().run(until(t_ms(100)));
    let notes: Vec<u64> = log.notes(a).into_iter().map(|(_, v)| v).collect();
    assert_eq!(
        notes,
        vec![1000, 10_000_000, 3000, 30_000_000, 1000, 10_000_000]
    );
}
