//! The ordering contract of `lib.rs`: time order, FIFO ties, `on_start` order, no re-entrancy.

use clustersim_engine::*;

use crate::common::*;

/// Many sends at one instant arrive in send order, whatever the transport, on an ideal
/// (zero-latency) link and on a constant-latency one.
#[test]
fn same_instant_sends_arrive_in_send_order() {
    for latency in [SimDuration::ZERO, ms(3)] {
        for transport in [Transport::Stream, Transport::Datagram] {
            let log = Log::default();
            let (mut b, n) = world(1, 2);
            b.network().intra_region = link(latency);
            let rx = ComponentId(1);
            Actor::new(&log)
                .on_start(move |cx| {
                    for i in 0..1000 {
                        cx.send_with(rx, i, transport, 0);
                    }
                })
                .add(&mut b, n[0], "tx");
            Actor::new(&log).add(&mut b, n[1], "rx");
            let s = b.build().unwrap().run(until(t_ms(100)));
            let got = log.received(rx);
            assert_eq!(got.len(), 1000, "{transport:?} {latency}");
            assert!(got.iter().all(|(t, _, _)| *t == SimTime::ZERO + latency));
            let order: Vec<u64> = got.iter().map(|(_, _, m)| *m).collect();
            assert_eq!(
                order,
                (0..1000).collect::<Vec<_>>(),
                "{transport:?} {latency}"
            );
            assert_eq!(s.events, 1000);
        }
    }
}

/// Direct sends, messages and timers due at the same instant run in the order they were
/// scheduled, regardless of their kind.
#[test]
fn same_instant_events_of_different_kinds_are_fifo() {
    let log = Log::default();
    let (mut b, n) = world(1, 1);
    let me = ComponentId(0);
    Actor::new(&log)
        .on_start(move |cx| {
            cx.set_timer(ms(5), 1);
            cx.send_direct(me, ms(5), 2);
            cx.set_timer(ms(5), 3);
            cx.send_direct(me, ms(5), 4);
        })
        .add(&mut b, n[0], "a");
    b.build().unwrap().run(until(t_ms(10)));
    let seq: Vec<What> = log.of(me).into_iter().skip(1).map(|r| r.what).collect();
    assert_eq!(
        seq,
        vec![
            What::Timer(1),
            What::Msg { from: me, msg: 2 },
            What::Timer(3),
            What::Msg { from: me, msg: 4 }
        ]
    );
}

/// Every handler sees a time at least as late as the previous one, in a busy random run; and
/// `step` returns non-decreasing times.
#[test]
fn time_is_monotone() {
    let log = Log::default();
    let (mut b, n) = world(7, 4);
    b.network().intra_region = LinkSpec::with_latency(Dist::uniform(0.0, 5e6).unwrap());
    let ids: Vec<ComponentId> = (0..4).map(ComponentId).collect();
    for (i, node) in n.iter().enumerate() {
        let peers = ids.clone();
        Actor::new(&log)
            .on_start(|cx| {
                cx.set_timer(ms(1), 0);
            })
            .on_timer(move |cx, k| {
                let to = peers[rng::below(cx.rng(), 4) as usize];
                cx.send_with(to, k, Transport::Datagram, 0);
                let after = SimDuration::from_nanos(rng::below(cx.rng(), 3_000_000));
                cx.set_timer(after, k + 1);
            })
            .add(&mut b, *node, &format!("c{i}"));
    }
    let mut sim = b.build().unwrap();
    let mut last = SimTime::ZERO;
    for _ in 0..20_000 {
        let t = sim.step().unwrap();
        assert!(t >= last, "step went back from {last} to {t}");
        assert_eq!(sim.now(), t);
        last = t;
    }
    let times: Vec<SimTime> = log.all().iter().filter_map(|r| r.at).collect();
    assert!(times.len() > 20_000);
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

/// `on_start` runs for every component in id order, at time zero, before any queued event,
/// including zero-delay ones the earlier `on_start`s scheduled.
#[test]
fn on_start_runs_in_id_order_first() {
    let log = Log::default();
    let (mut b, n) = world(1, 3);
    for i in 0..6u32 {
        Actor::new(&log)
            .on_start(move |cx| {
                cx.send_direct(ComponentId((i + 1) % 6), SimDuration::ZERO, u64::from(i));
                cx.set_timer(SimDuration::ZERO, u64::from(i));
            })
            .add(&mut b, n[i as usize % 3], &format!("c{i}"));
    }
    b.build().unwrap().run(until(t_ms(1)));
    let all = log.all();
    assert_eq!(all.len(), 18);
    let starts: Vec<ComponentId> = all[..6].iter().map(|r| r.me).collect();
    assert_eq!(starts, (0..6).map(ComponentId).collect::<Vec<_>>());
    assert!(all[..6].iter().all(|r| r.what == What::Start));
    assert!(all.iter().all(|r| r.at == Some(SimTime::ZERO)));
    // Then the queued events, in scheduling order: c0's message and timer, c1's, ...
    for i in 0..6u32 {
        let msg = &all[6 + 2 * i as usize];
        assert_eq!(msg.me, ComponentId((i + 1) % 6));
        assert_eq!(
            msg.what,
            What::Msg {
                from: ComponentId(i),
                msg: u64::from(i)
            }
        );
        let timer = &all[7 + 2 * i as usize];
        assert_eq!(
            (timer.me, &timer.what),
            (ComponentId(i), &What::Timer(u64::from(i)))
        );
    }
}

/// A handler's sends, even zero-delay ones to itself, are applied after it returns and go
/// through the queue: the receiver runs strictly after the sender's handler has finished.
#[test]
fn zero_delay_sends_are_queued_not_reentrant() {
    let log = Log::default();
    let (mut b, n) = world(1, 2);
    let (a, c) = (ComponentId(0), ComponentId(1));
    let la = log.clone();
    Actor::new(&log)
        .on_start(move |cx| {
            cx.send(c, 1); // ideal link: zero delay
            cx.send_direct(c, SimDuration::ZERO, 2);
            cx.send_direct(a, SimDuration::ZERO, 3);
            cx.set_timer(SimDuration::ZERO, 4);
            la.push(Some(cx.now()), a, What::Note(99)); // handler end
        })
        .on_message(move |cx, from, m| {
            if from == c {
                // A reply arriving from c, then one more self-send.
                cx.send_direct(a, SimDuration::ZERO, m + 100);
            }
        })
        .add(&mut b, n[0], "a");
    let lc = log.clone();
    Actor::new(&log)
        .on_message(move |cx, from, m| {
            cx.send(from, m + 10);
            lc.push(Some(cx.now()), c, What::Note(m));
        })
        .add(&mut b, n[1], "c");
    b.build().unwrap().run(until(t_ms(1)));
    let seq: Vec<(ComponentId, What)> = log.all().into_iter().map(|r| (r.me, r.what)).collect();
    let expected = vec![
        (a, What::Start),
        (a, What::Note(99)),
        (c, What::Start),
        (c, What::Msg { from: a, msg: 1 }),
        (c, What::Note(1)),
        (c, What::Msg { from: a, msg: 2 }),
        (c, What::Note(2)),
        (a, What::Msg { from: a, msg: 3 }),
        (a, What::Timer(4)),
        (a, What::Msg { from: c, msg: 11 }),
        (a, What::Msg { from: c, msg: 12 }),
        (a, What::Msg { from: a, msg: 111 }),
        (a, What::Msg { from: a, msg: 112 }),
    ];
    assert_eq!(seq, expected);
}
