//! Determinism: same seed, same run — across repetitions and threads; different seed, different
//! run.

use clustersim_engine::*;

use crate::common::*;

/// A small but busy simulation exercising every source of randomness and most kernel paths:
/// two regions, random latencies with jitter, loss and duplication, both transports, random
/// timers, replies, scheduled crash/restart, pause, partition, cut, clock step and random node
/// failures; counters, gauges, histograms, windows and a warm-up.
fn busy_sim(seed: u64) -> Sim<P> {
    let log = Log::default();
    let mut b = SimBuilder::<P>::new(seed);
    let (ra, rb) = (b.add_region("a"), b.add_region("b"));
    let nodes: Vec<NodeId> = (0..4)
        .map(|i| b.add_node(&format!("n{i}"), if i < 2 { ra } else { rb }))
        .collect();
    let net = b.network();
    let mut intra = LinkSpec::with_latency(Dist::uniform(0.2e6, 2e6).unwrap());
    intra.loss = 0.05;
    intra.duplicate = 0.05;
    intra.jitter = SimDuration::from_micros(300);
    net.intra_region = intra;
    let mut wan = LinkSpec::with_latency(Dist::lognormal_from_median_p99(20e6, 60e6).unwrap());
    wan.loss = 0.02;
    wan.bandwidth_bps = 100_000_000;
    net.region_links.push((ra, rb, wan, true));
    net.stream.failure_timeout = ms(800);

    let n = 6u32;
    let sent = b.metrics().counter(None, "sent");
    let received = b.metrics().counter(None, "received");
    let failed = b.metrics().counter(None, "failed");
    let latency = b.metrics().histogram(None, "latency_ns");
    let outstanding = b.metrics().gauge(None, "outstanding");
    b.metrics().set_warmup(t_ms(1000));
    b.metrics().set_interval(Some(ms(500)));
    for i in 0..n {
        Actor::new(&log)
            .on_start(|cx| {
                let first = SimDuration::from_nanos(rng::below(cx.rng(), 5_000_000));
                cx.set_timer(first, 0);
            })
            .on_timer(move |cx, k| {
                let to = ComponentId(rng::below(cx.rng(), u64::from(n)) as u32);
                let transport = if rng::chance(cx.rng(), 0.5) {
                    Transport::Stream
                } else {
                    Transport::Datagram
                };
                let size = rng::below(cx.rng(), 20_000) as u32;
                cx.send_with(to, cx.now().as_nanos() << 1, transport, size);
                cx.count(sent, 1);
                cx.gauge_add(outstanding, 1);
                let gap = Dist::exponential(3e6).unwrap().sample_duration(cx.rng());
                cx.set_timer(gap, k + 1);
            })
            .on_message(move |cx, from, m| {
                cx.count(received, 1);
                cx.gauge_add(outstanding, -1);
                cx.record(latency, (cx.now().as_nanos() - (m >> 1)).max(1));
                // Reply to one in three non-replies (odd payloads are replies).
                if m & 1 == 0 && rng::below(cx.rng(), 3) == 0 {
                    cx.send(from, (cx.now().as_nanos() << 1) | 1);
                }
            })
            .on_failed(move |cx, _, _, _| {
                cx.count(failed, 1);
                cx.gauge_add(outstanding, -1);
            })
            .add(&mut b, nodes[i as usize % 4], &format!("c{i}"));
    }
    b.set_clock(nodes[2], NodeClock::new(3_000_000, 40));
    b.schedule_fault(
        t_ms(1500),
        FaultAction::Pause {
            node: nodes[2],
            duration: ms(300),
        },
    );
    b.schedule_fault(t_ms(2000), FaultAction::Crash(nodes[3]));
    b.schedule_fault(t_ms(2600), FaultAction::Restart(nodes[3]));
    b.schedule_fault(
        t_ms(3000),
        FaultAction::Partition(vec![vec![nodes[0], nodes[2]]]),
    );
    b.schedule_fault(
        t_ms(3500),
        FaultAction::CutOneWay {
            from: nodes[1],
            to: nodes[3],
        },
    );
    b.schedule_fault(t_ms(4500), FaultAction::Heal);
    b.schedule_fault(
        t_ms(4700),
        FaultAction::ClockStep {
            node: nodes[2],
            delta_ns: -1_000_000,
        },
    );
    b.schedule_fault(
        t_ms(5000),
        FaultAction::DegradeLink {
            from: ra,
            to: rb,
            extra_latency: ms(30),
            extra_loss: 0.1,
        },
    );
    b.schedule_fault(
        t_ms(5000),
        FaultAction::Slowdown {
            node: nodes[1],
            factor_permille: 2500,
        },
    );
    let failures = RandomFaults::NodeFailures {
        node: nodes[1],
        mtbf: ms(1500),
        mttr: ms(300),
    };
    b.random_faults("n1-failures", failures);
    b.build().unwrap()
}

/// Everything a run reports that must be reproducible, in comparable form.
#[derive(Debug, PartialEq)]
struct Outcome {
    summary: RunSummary,
    totals: Vec<String>,
    windows: Vec<WindowRecord>,
    drops_by_component: Vec<DropCounts>,
}

fn run(sim: Sim<P>) -> Outcome {
    let report = sim.run_to_report(until(t_ms(6_000)));
    Outcome {
        summary: report.summary,
        totals: totals_fingerprint(&report.metrics),
        windows: report.metrics.windows,
        drops_by_component: report.drops_by_component,
    }
}

/// The fixture really is busy and really hits the fault paths (otherwise the other tests
/// would prove little).
#[test]
fn fixture_exercises_the_kernel() {
    let o = run(busy_sim(1));
    assert_eq!(o.summary.stop, StopReason::EndTime);
    assert!(o.summary.events > 10_000, "{}", o.summary.events);
    for cause in [DropCause::Loss, DropCause::Partition, DropCause::Crashed] {
        assert!(drops(&o.summary, cause) > 0, "{cause:?}");
    }
    assert_eq!(o.windows.len(), 12 * 5);
}

/// Same seed: same digest, events, drops and metrics, run after run (1 run vs N sequential
/// runs), even with other seeds run in between.
#[test]
fn same_seed_same_outcome() {
    let first = run(busy_sim(42));
    for _ in 0..3 {
        let _ = run(busy_sim(7));
        assert_eq!(run(busy_sim(42)), first);
    }
}

/// Different seeds: different digests (sanity check that the digest sees the randomness).
#[test]
fn different_seeds_differ() {
    let digests: Vec<u64> = (0..6).map(|s| run(busy_sim(s)).summary.digest).collect();
    for i in 0..digests.len() {
        for j in i + 1..digests.len() {
            assert_ne!(digests[i], digests[j], "seeds {i} and {j}");
        }
    }
}

/// Runs on parallel threads (sims built on this thread and moved, and sims built on the
/// workers) give exactly the sequential outcome: no global or thread-local state leaks in.
#[test]
fn parallel_runs_match_sequential() {
    let seeds = [3u64, 3, 4, 4];
    let sequential: Vec<Outcome> = seeds.iter().map(|&s| run(busy_sim(s))).collect();
    let moved: Vec<Sim<P>> = seeds.iter().map(|&s| busy_sim(s)).collect();
    let parallel: Vec<Outcome> = std::thread::scope(|scope| {
        let mut handles: Vec<_> = moved
            .into_iter()
            .map(|sim| scope.spawn(move || run(sim)))
            .collect();
        handles.extend(seeds.iter().map(|&s| scope.spawn(move || run(busy_sim(s)))));
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, o) in parallel.iter().enumerate() {
        assert_eq!(o, &sequential[i % seeds.len()], "thread {i}");
    }
    assert_ne!(sequential[0].summary.digest, sequential[2].summary.digest);
}
