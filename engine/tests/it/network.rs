//! Network semantics: streams and datagrams, loss, duplication, bandwidth, routing.

use clustersim_engine::*;

use crate::common::*;

/// A sender on n0 that sends `count` messages `0..count` to component 1 on n1, `gap` apart
/// (all at once when `gap` is zero), and a receiver that logs them.
fn sender_receiver(
    b: &mut SimBuilder<P>,
    n: &[NodeId],
    log: &Log,
    count: u64,
    gap: SimDuration,
    transport: Transport,
    size: u32,
) -> (ComponentId, ComponentId) {
    let rx = ComponentId(b.next_component_id().0 + 1);
    let tx = Actor::new(log)
        .on_start(move |cx| {
            if gap.is_zero() {
                for i in 0..count {
                    cx.send_with(rx, i, transport, size);
                }
            } else {
                cx.set_timer(SimDuration::ZERO, 0);
            }
        })
        .on_timer(move |cx, i| {
            cx.send_with(rx, i, transport, size);
            if i + 1 < count {
                cx.set_timer(gap, i + 1);
            }
        })
        .add(b, n[0], "tx");
    let rx2 = Actor::new(log).add(b, n[1], "rx");
    assert_eq!(rx, rx2);
    (tx, rx)
}

/// Expected total retransmission wait of one stream message over one lossy link: loss `k`
/// happens with probability `p^k` and costs `min(rto * 2^(k-1), rto_max)`.
fn expected_retransmit_wait(p: f64, cfg: &StreamConfig) -> f64 {
    let (mut rto, mut sum, mut pk) = (cfg.rto.as_secs_f64(), 0.0, 1.0);
    for _ in 0..cfg.max_retransmits {
        pk *= p;
        sum += pk * rto;
        rto = (rto * 2.0).min(cfg.rto_max.as_secs_f64());
    }
    sum
}

/// Under 30 % loss a stream still delivers everything, in order, even when all messages are
/// sent at once (head-of-line blocking behind retransmissions).
#[test]
fn stream_is_reliable_and_ordered_under_loss() {
    let log = Log::default();
    let (mut b, n) = world(11, 2);
    let mut spec = LinkSpec::with_latency(Dist::uniform(1e6, 5e6).unwrap());
    spec.loss = 0.3;
    b.network().intra_region = spec;
    let (_, rx) = sender_receiver(
        &mut b,
        &n,
        &log,
        5000,
        SimDuration::ZERO,
        Transport::Stream,
        100,
    );
    let s = b.build().unwrap().run(until(t_ms(1_000_000)));
    let got: Vec<u64> = log.received(rx).iter().map(|r| r.2).collect();
    assert_eq!(got, (0..5000).collect::<Vec<_>>());
    assert_eq!(s.drops, [0; 5]);
}

/// The mean extra delay of a stream under loss `p` is the expected retransmission wait.
/// With a constant RTO that is `rto * p / (1 - p)` (E[#losses] = p/(1-p)); with the default
/// doubling it is `sum_k p^k min(rto 2^(k-1), rto_max)`. Messages are spaced far apart so the
/// per-connection FIFO clamp never adds head-of-line delay.
#[test]
fn stream_loss_adds_retransmission_delay() {
    let base = ms(5);
    for doubling in [false, true] {
        let log = Log::default();
        let (mut b, n) = world(5, 2);
        let mut spec = link(base);
        spec.loss = 0.3;
        b.network().intra_region = spec;
        if !doubling {
            b.network().stream.rto_max = b.network().stream.rto;
        }
        let cfg = b.network().stream;
        let count = 20_000;
        let gap = SimDuration::from_secs(200);
        let (_, rx) = sender_receiver(&mut b, &n, &log, count, gap, Transport::Stream, 0);
        let s = b.build().unwrap().run(until(SimTime::MAX));
        let got = log.received(rx);
        assert_eq!(got.len() as u64, count);
        assert_eq!(s.drops, [0; 5]);
        let mut sum = 0.0;
        for (i, (t, _, m)) in got.iter().enumerate() {
            assert_eq!(*m, i as u64);
            let sent = SimTime::ZERO + gap * i as u64;
            let extra = (*t - sent - base).as_secs_f64();
            // Every delay is base + a sum of RTOs.
            assert_eq!((*t - sent - base).as_nanos() % cfg.rto.as_nanos(), 0);
            sum += extra;
        }
        let mean = sum / count as f64;
        let expected = expected_retransmit_wait(0.3, &cfg);
        // Tolerance: 5 standard errors of the mean. Per-message sd of the wait is 0.156 s with a
        // constant 200 ms RTO (0.2 * sqrt(p)/(1-p)) and about 0.64 s with doubling (computed
        // from the distribution of S_N, N ~ Geometric); divided by sqrt(20,000).
        let sd = if doubling { 0.65 } else { 0.157 };
        let tol = 5.0 * sd / (count as f64).sqrt();
        if !doubling {
            // The closed form sums infinitely many losses; the engine fails after 15.
            assert_close(expected, 0.2 * 0.3 / 0.7, 1e-7, "closed form");
        }
        assert_close(
            mean,
            expected,
            tol,
            &format!("mean retransmission wait (doubling {doubling})"),
        );
    }
}

/// Datagrams with independent uniform latencies reorder; nothing is lost without loss.
#[test]
fn datagrams_reorder_with_uniform_latency() {
    let log = Log::default();
    let (mut b, n) = world(2, 2);
    b.network().intra_region = LinkSpec::with_latency(Dist::uniform(1e6, 10e6).unwrap());
    let gap = SimDuration::from_micros(100);
    let (_, rx) = sender_receiver(&mut b, &n, &log, 1000, gap, Transport::Datagram, 0);
    b.build().unwrap().run(until(t_ms(10_000)));
    let got: Vec<u64> = log.received(rx).iter().map(|r| r.2).collect();
    assert_eq!(got.len(), 1000);
    let inversions = got.windows(2).filter(|w| w[0] > w[1]).count();
    // Consecutive sends are 0.1 ms apart with 9 ms of latency spread: most adjacent pairs can
    // swap; demand a clear signal rather than a precise rate.
    assert!(inversions > 100, "{inversions} adjacent inversions");
    let mut sorted = got.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
}

/// The same uniform latency on a stream never reorders.
#[test]
fn streams_do_not_reorder_with_uniform_latency() {
    let log = Log::default();
    let (mut b, n) = world(2, 2);
    b.network().intra_region = LinkSpec::with_latency(Dist::uniform(1e6, 10e6).unwrap());
    let gap = SimDuration::from_micros(100);
    let (_, rx) = sender_receiver(&mut b, &n, &log, 1000, gap, Transport::Stream, 0);
    b.build().unwrap().run(until(t_ms(10_000)));
    let got: Vec<u64> = log.received(rx).iter().map(|r| r.2).collect();
    assert_eq!(got, (0..1000).collect::<Vec<_>>());
}

/// Datagram loss drops at the configured rate, counted as `Loss`.
#[test]
fn datagram_loss_rate() {
    let log = Log::default();
    let (mut b, n) = world(3, 2);
    let mut spec = link(ms(1));
    spec.loss = 0.1;
    b.network().intra_region = spec;
    let count = 20_000u64;
    let (_, rx) = sender_receiver(
        &mut b,
        &n,
        &log,
        count,
        SimDuration::ZERO,
        Transport::Datagram,
        0,
    );
    let s = b.build().unwrap().run(until(t_ms(100)));
    let got = log.received(rx).len() as u64;
    let lost = drops(&s, DropCause::Loss);
    assert_eq!(got + lost, count);
    // Binomial(20,000, 0.1): mean 2,000, sd 42.4; 5 sd tolerance.
    assert_close(lost as f64, 2000.0, 5.0 * 42.4, "lost datagrams");
}

/// Datagram duplication delivers extra copies at the configured rate.
#[test]
fn datagram_duplication_rate() {
    let log = Log::default();
    let (mut b, n) = world(4, 2);
    let mut spec = LinkSpec::with_latency(Dist::uniform(1e6, 2e6).unwrap());
    spec.duplicate = 0.2;
    b.network().intra_region = spec;
    let count = 20_000u64;
    let (_, rx) = sender_receiver(
        &mut b,
        &n,
        &log,
        count,
        SimDuration::ZERO,
        Transport::Datagram,
        0,
    );
    b.build().unwrap().run(until(t_ms(100)));
    let got: Vec<u64> = log.received(rx).iter().map(|r| r.2).collect();
    let extra = got.len() as u64 - count;
    // Binomial(20,000, 0.2): mean 4,000, sd 56.6; 5 sd tolerance.
    assert_close(extra as f64, 4000.0, 5.0 * 56.6, "duplicates");
    // Every message arrives at least once and at most twice.
    let mut seen = vec![0u8; count as usize];
    got.iter().for_each(|&m| seen[m as usize] += 1);
    assert!(seen.iter().all(|&k| k == 1 || k == 2));
}

/// Streams never duplicate, whatever the link says.
#[test]
fn streams_never_duplicate() {
    let log = Log::default();
    let (mut b, n) = world(4, 2);
    let mut spec = link(ms(1));
    spec.duplicate = 0.5;
    b.network().intra_region = spec;
    let (_, rx) = sender_receiver(
        &mut b,
        &n,
        &log,
        1000,
        SimDuration::ZERO,
        Transport::Stream,
        0,
    );
    b.build().unwrap().run(until(t_ms(100)));
    let got: Vec<u64> = log.received(rx).iter().map(|r| r.2).collect();
    assert_eq!(got, (0..1000).collect::<Vec<_>>());
}

/// Serialization delay is exactly size / bandwidth (1 MB over 8 Mbit/s = 1 s), and
/// back-to-back messages queue behind each other on the link, for both transports.
#[test]
fn bandwidth_serializes_and_queues_fifo() {
    for transport in [Transport::Datagram, Transport::Stream] {
        let log = Log::default();
        let (mut b, n) = world(1, 2);
        let mut spec = link(ms(5));
        spec.bandwidth_bps = 8_000_000;
        b.network().intra_region = spec;
        let (_, rx) = sender_receiver(&mut b, &n, &log, 3, SimDuration::ZERO, transport, 1_000_000);
        b.build().unwrap().run(until(t_ms(100_000)));
        let got: Vec<(SimTime, u64)> = log
            .received(rx)
            .into_iter()
            .map(|(t, _, m)| (t, m))
            .collect();
        let expected: Vec<(SimTime, u64)> = (0..3).map(|k| (t_ms(1000 * (k + 1) + 5), k)).collect();
        assert_eq!(got, expected, "{transport:?}");
    }
}

/// A link that has drained does not delay later traffic, and the NIC bandwidth of a node
/// serializes its egress across destinations.
#[test]
fn nic_bandwidth_and_idle_links() {
    let log = Log::default();
    let (mut b, n) = world(1, 3);
    b.set_nic_bandwidth(n[0], 8_000_000);
    let (c1, c2) = (ComponentId(1), ComponentId(2));
    Actor::new(&log)
        .on_start(move |cx| {
            cx.send_with(c1, 1, Transport::Datagram, 500_000); // 0.5 s
            cx.send_with(c2, 2, Transport::Datagram, 250_000); // queued: 0.75 s
            cx.set_timer(SimDuration::from_secs(10), 0);
        })
        .on_timer(move |cx, _| cx.send_with(c1, 3, Transport::Datagram, 1_000)) // 1 ms
        .add(&mut b, n[0], "tx");
    Actor::new(&log).add(&mut b, n[1], "c1");
    Actor::new(&log).add(&mut b, n[2], "c2");
    b.build().unwrap().run(until(t_ms(100_000)));
    assert_eq!(
        log.received(c1),
        vec![
            (t_ms(500), ComponentId(0), 1),
            (t_ms(10_001), ComponentId(0), 3)
        ]
    );
    assert_eq!(log.received(c2), vec![(t_ms(750), ComponentId(0), 2)]);
}

/// A datagram that would wait longer than the link's queue limit is dropped as `QueueFull`
/// (and does not occupy the link); streams are never dropped for queueing.
#[test]
fn datagram_queue_limit_drops_queue_full() {
    let log = Log::default();
    let (mut b, n) = world(1, 2);
    let mut spec = link(SimDuration::ZERO);
    spec.bandwidth_bps = 8_000_000;
    spec.queue_limit = SimDuration::from_millis(1500);
    b.network().intra_region = spec;
    let (_, rx) = sender_receiver(
        &mut b,
        &n,
        &log,
        4,
        SimDuration::ZERO,
        Transport::Datagram,
        1_000_000,
    );
    let s = b.build().unwrap().run(until(t_ms(100_000)));
    // Waits: 0 s, 1 s, then 2 s > 1.5 s twice.
    let got: Vec<(SimTime, u64)> = log
        .received(rx)
        .into_iter()
        .map(|(t, _, m)| (t, m))
        .collect();
    assert_eq!(got, vec![(t_ms(1000), 0), (t_ms(2000), 1)]);
    assert_eq!(drops(&s, DropCause::QueueFull), 2);

    let log = Log::default();
    let (mut b, n) = world(1, 2);
    let mut spec = link(SimDuration::ZERO);
    spec.bandwidth_bps = 8_000_000;
    spec.queue_limit = SimDuration::from_millis(1500);
    b.network().intra_region = spec;
    let (_, rx) = sender_receiver(
        &mut b,
        &n,
        &log,
        4,
        SimDuration::ZERO,
        Transport::Stream,
        1_000_000,
    );
    let s = b.build().unwrap().run(until(t_ms(100_000)));
    assert_eq!(log.received(rx).len(), 4);
    assert_eq!(s.drops, [0; 5]);
}

/// Regression: a retransmission wait delays only its own connection, not other traffic on the
/// shared bandwidth-limited link. A stream message (1 ms on the wire) and, 1 µs later, a
/// datagram to another node share a link with 50 % loss; over 40 seeds, whenever the datagram
/// gets through it arrives right after the stream's first transmission (2 ms), even in runs
/// where the stream message needed retransmissions.
#[test]
fn retransmissions_do_not_block_the_shared_link() {
    let mut retransmitted_and_delivered = 0;
    for seed in 0..40 {
        let log = Log::default();
        let (mut b, n) = world(seed, 3);
        let mut spec = link(SimDuration::ZERO);
        spec.bandwidth_bps = 8_000_000;
        spec.loss = 0.5;
        b.network().intra_region = spec;
        let (c1, c2) = (ComponentId(1), ComponentId(2));
        Actor::new(&log)
            .on_start(move |cx| {
                cx.send_with(c1, 1, Transport::Stream, 1_000); // 1 ms on the wire
                cx.set_timer(SimDuration::from_micros(1), 0);
            })
            .on_timer(move |cx, _| cx.send_with(c2, 2, Transport::Datagram, 1_000))
            .add(&mut b, n[0], "tx");
        Actor::new(&log).add(&mut b, n[1], "c1");
        Actor::new(&log).add(&mut b, n[2], "c2");
        b.build().unwrap().run(until(t_ms(1_000_000)));
        let stream = log.received(c1);
        assert_eq!(stream.len(), 1);
        let datagram = log.received(c2);
        if let Some(&(at, _, _)) = datagram.first() {
            assert_eq!(at, t_ms(2), "seed {seed}");
            if stream[0].0 > t_ms(200) {
                retransmitted_and_delivered += 1;
            }
        }
    }
    // Each seed has a 1/4 chance; P(none of 40) = 0.75^40 ≈ 1e-5.
    assert!(retransmitted_and_delivered > 0);
}

/// Three regions in a line a — b — c: a message from a to c crosses both links and its latency
/// is exactly their sum; a cheaper chain beats a direct link and a cheaper direct link wins.
#[test]
fn multi_region_routes_sum_hop_latencies() {
    for (direct, expected) in [(None, 30), (Some(50), 30), (Some(25), 25)] {
        let log = Log::default();
        let mut b = SimBuilder::<P>::new(1);
        let (ra, rb, rc) = (b.add_region("a"), b.add_region("b"), b.add_region("c"));
        let (na, nb, nc) = (
            b.add_node("na", ra),
            b.add_node("nb", rb),
            b.add_node("nc", rc),
        );
        let net = b.network();
        net.intra_region = link(ms(1));
        net.region_links.push((ra, rb, link(ms(10)), true));
        net.region_links.push((rb, rc, link(ms(20)), true));
        if let Some(d) = direct {
            net.region_links.push((ra, rc, link(ms(d)), true));
        }
        let (cb, cc) = (ComponentId(1), ComponentId(2));
        let ca = Actor::new(&log)
            .on_start(move |cx| {
                cx.send_with(cc, 1, Transport::Datagram, 0);
                cx.send_with(cb, 2, Transport::Stream, 0);
            })
            .add(&mut b, na, "a");
        Actor::new(&log)
            .on_message(|cx, from, m| cx.send(from, m + 10))
            .add(&mut b, nb, "b");
        Actor::new(&log)
            .on_message(|cx, from, m| cx.send(from, m + 10))
            .add(&mut b, nc, "c");
        b.build().unwrap().run(until(t_ms(1000)));
        assert_eq!(
            log.received(cc),
            vec![(t_ms(expected), ca, 1)],
            "direct {direct:?}"
        );
        assert_eq!(log.received(cb), vec![(t_ms(10), ca, 2)]);
        let back = log.received(ca);
        assert_eq!(
            back,
            vec![(t_ms(20), cb, 12), (t_ms(2 * expected), cc, 11)],
            "direct {direct:?}"
        );
    }
}

/// One-way region links only route one way.
#[test]
fn one_way_region_link() {
    let log = Log::default();
    let mut b = SimBuilder::<P>::new(1);
    let (ra, rb) = (b.add_region("a"), b.add_region("b"));
    let (na, nb) = (b.add_node("na", ra), b.add_node("nb", rb));
    b.network().region_links.push((ra, rb, link(ms(10)), false));
    let cb = ComponentId(1);
    Actor::new(&log)
        .on_start(move |cx| cx.send_with(cb, 1, Transport::Datagram, 0))
        .add(&mut b, na, "a");
    Actor::new(&log)
        .on_message(|cx, from, m| cx.send_with(from, m, Transport::Datagram, 0))
        .add(&mut b, nb, "b");
    let s = b.build().unwrap().run(until(t_ms(1000)));
    assert_eq!(log.received(cb).len(), 1);
    assert!(log.received(ComponentId(0)).is_empty());
    assert_eq!(drops(&s, DropCause::NoRoute), 1);
}

/// Disconnected regions without a default inter-region link: datagrams drop as `NoRoute` and
/// stream senders are told. With a default link, they are delivered over it.
#[test]
fn no_route_between_disconnected_regions() {
    for default in [None, Some(ms(40))] {
        let log = Log::default();
        let mut b = SimBuilder::<P>::new(1);
        let (ra, rb) = (b.add_region("a"), b.add_region("b"));
        let (na, nb) = (b.add_node("na", ra), b.add_node("nb", rb));
        b.network().default_inter_region = default.map(link);
        let cb = ComponentId(1);
        let ca = Actor::new(&log)
            .on_start(move |cx| {
                cx.send_with(cb, 1, Transport::Datagram, 0);
                cx.send_with(cb, 2, Transport::Stream, 0);
            })
            .add(&mut b, na, "a");
        Actor::new(&log).add(&mut b, nb, "b");
        let report = b.build().unwrap().run_to_report(until(t_ms(1000)));
        let s = report.summary;
        match default {
            None => {
                assert!(log.received(cb).is_empty());
                assert_eq!(drops(&s, DropCause::NoRoute), 2);
                assert_eq!(
                    report.drops_by_component[cb.index()][DropCause::NoRoute.index()],
                    2
                );
                assert_eq!(
                    log.failures(ca),
                    vec![(SimTime::ZERO, cb, 2, DropCause::NoRoute)]
                );
            }
            Some(d) => {
                let at = SimTime::ZERO + d;
                assert_eq!(log.received(cb), vec![(at, ca, 1), (at, ca, 2)]);
                assert_eq!(s.drops, [0; 5]);
            }
        }
    }
}

/// Components on the same node talk over the loopback, not the region network.
#[test]
fn loopback_is_used_on_one_node() {
    let log = Log::default();
    let (mut b, n) = world(1, 1);
    b.network().loopback = link(SimDuration::from_micros(10));
    b.network().intra_region = link(ms(100));
    let c = ComponentId(1);
    Actor::new(&log)
        .on_start(move |cx| cx.send(c, 1))
        .add(&mut b, n[0], "a");
    Actor::new(&log).add(&mut b, n[0], "c");
    b.build().unwrap().run(until(t_ms(1000)));
    assert_eq!(log.received(c), vec![(t_us(10), ComponentId(0), 1)]);
}
