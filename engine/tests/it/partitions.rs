//! Partitions, one-way cuts and heals; streams across partitions.

use std::collections::BTreeSet;

use clustersim_engine::*;

use crate::common::*;

/// Three components `c0..c2` on nodes `n0..n2`; each sends a datagram carrying the round number
/// to both others at every `probes` instant. Returns, per round, the set of (from, to) node
/// index pairs that got through, and the run summary.
fn probe_reachability(
    actions: &[(SimTime, FaultAction)],
    probes: &[SimTime],
) -> (Vec<BTreeSet<(u32, u32)>>, RunSummary) {
    let log = Log::default();
    let (mut b, n) = world(1, 3);
    b.network().intra_region = link(SimDuration::from_micros(100));
    for i in 0..3u32 {
        let probes = probes.to_vec();
        Actor::new(&log)
            .on_start(move |cx| {
                for (round, at) in probes.iter().enumerate() {
                    cx.set_timer(*at - cx.now(), round as u64);
                }
            })
            .on_timer(move |cx, round| {
                for j in (0..3).filter(|&j| j != i) {
                    cx.send_with(ComponentId(j), round, Transport::Datagram, 0);
                }
            })
            .add(&mut b, n[i as usize], &format!("c{i}"));
    }
    for (at, action) in actions {
        b.schedule_fault(*at, action.clone());
    }
    let s = b.build().unwrap().run(until(t_ms(10_000)));
    let mut rounds = vec![BTreeSet::new(); probes.len()];
    for r in log.all() {
        if let What::Msg { from, msg } = r.what {
            rounds[msg as usize].insert((from.0, r.me.0));
        }
    }
    (rounds, s)
}

fn all_pairs_except(blocked: &[(u32, u32)]) -> BTreeSet<(u32, u32)> {
    let mut s = BTreeSet::new();
    for a in 0..3 {
        for b in 0..3 {
            if a != b && !blocked.contains(&(a, b)) {
                s.insert((a, b));
            }
        }
    }
    s
}

/// Groups cannot talk (datagrams drop as `Partition`); a heal restores everything.
#[test]
fn partition_blocks_groups_until_heal() {
    let n = |i| NodeId(i);
    let actions = [
        (
            t_ms(1),
            FaultAction::Partition(vec![vec![n(0)], vec![n(1), n(2)]]),
        ),
        (t_ms(20), FaultAction::Heal),
    ];
    let (rounds, s) = probe_reachability(&actions, &[t_ms(0), t_ms(10), t_ms(30)]);
    assert_eq!(rounds[0], all_pairs_except(&[]));
    assert_eq!(
        rounds[1],
        all_pairs_except(&[(0, 1), (0, 2), (1, 0), (2, 0)])
    );
    assert_eq!(rounds[2], all_pairs_except(&[]));
    assert_eq!(drops(&s, DropCause::Partition), 4);
}

/// A one-way cut blocks one direction only.
#[test]
fn one_way_cut_blocks_one_direction() {
    let actions = [
        (
            t_ms(1),
            FaultAction::CutOneWay {
                from: NodeId(0),
                to: NodeId(1),
            },
        ),
        (t_ms(20), FaultAction::Heal),
    ];
    let (rounds, s) = probe_reachability(&actions, &[t_ms(10), t_ms(30)]);
    assert_eq!(rounds[0], all_pairs_except(&[(0, 1)]));
    assert_eq!(rounds[1], all_pairs_except(&[]));
    assert_eq!(drops(&s, DropCause::Partition), 1);
}

/// Partitioning by region puts every node of a listed region in that group.
#[test]
fn partition_by_region() {
    let log = Log::default();
    let mut b = SimBuilder::<P>::new(1);
    let (ra, rb) = (b.add_region("a"), b.add_region("b"));
    let (na, nb, nb2) = (
        b.add_node("na", ra),
        b.add_node("nb", rb),
        b.add_node("nb2", rb),
    );
    b.network().default_inter_region = Some(link(ms(1)));
    let ids = [ComponentId(0), ComponentId(1), ComponentId(2)];
    for (i, node) in [na, nb, nb2].into_iter().enumerate() {
        Actor::new(&log)
            .on_start(|cx| {
                cx.set_timer(ms(10), 0);
            })
            .on_timer(move |cx, _| {
                for to in ids.into_iter().filter(|&c| c != ids[i]) {
                    cx.send_with(to, 0, Transport::Datagram, 0);
                }
            })
            .add(&mut b, node, &format!("c{i}"));
    }
    b.schedule_fault(t_ms(1), FaultAction::PartitionRegions(vec![vec![ra]]));
    let s = b.build().unwrap().run(until(t_ms(100)));
    assert!(log.received(ids[0]).is_empty());
    assert_eq!(log.received(ids[1]).len(), 1); // from nb2 only
    assert_eq!(log.received(ids[2]).len(), 1);
    assert_eq!(drops(&s, DropCause::Partition), 4);
}

/// A stream across a partition retries with backoff and delivers everything, in order, once
/// healed before the failure timeout, including messages sent while blocked and after the
/// heal. Regression: with several messages blocked, the first retry after the heal used to
/// re-queue itself behind the others forever (a livelock at one instant).
#[test]
fn stream_across_partition_delivers_after_heal() {
    let log = Log::default();
    let (mut b, n) = world(1, 2);
    b.network().intra_region = link(ms(1));
    let c = ComponentId(1);
    let a = Actor::new(&log)
        .on_start(|cx| {
            cx.set_timer(ms(1), 0);
            cx.set_timer(ms(300), 5);
            cx.set_timer(ms(1100), 6);
        })
        .on_timer(move |cx, k| {
            if k == 0 {
                for m in 0..5 {
                    cx.send_with(c, m, Transport::Stream, 0);
                }
            } else {
                cx.send_with(c, k, Transport::Stream, 0);
            }
        })
        .add(&mut b, n[0], "a");
    Actor::new(&log).add(&mut b, n[1], "c");
    b.schedule_fault(SimTime::ZERO, FaultAction::Partition(vec![vec![n[1]]]));
    b.schedule_fault(t_ms(1000), FaultAction::Heal);
    let s = b.build().unwrap().run(Limits::new(t_ms(10_000), 1_000));
    assert_eq!(s.stop, StopReason::Exhausted);
    // Retries at 201 ms, 601 ms (backoff 400), 1401 ms (backoff 800): the first after the heal.
    let got: Vec<(SimTime, u64)> = log
        .received(c)
        .into_iter()
        .map(|(t, _, m)| (t, m))
        .collect();
    let expected: Vec<(SimTime, u64)> = (0..7).map(|m| (t_ms(1402), m)).collect();
    assert_eq!(got, expected);
    assert!(log.failures(a).is_empty());
    assert_eq!(s.drops, [0; 5]);
}

/// Without a heal, each blocked stream message fails with `Partition` exactly
/// `failure_timeout` after it was sent. Regression: a message queued behind others used to
/// wait for the connection's (long) backoff, failing seconds after its deadline.
#[test]
fn stream_across_partition_fails_at_the_timeout() {
    let log = Log::default();
    let (mut b, n) = world(1, 2);
    b.network().intra_region = link(ms(1));
    let timeout = b.network().stream.failure_timeout;
    assert_eq!(timeout, SimDuration::from_secs(3));
    let c = ComponentId(1);
    let sends = [1, 2500, 5000, 7000];
    let a = Actor::new(&log)
        .on_start(move |cx| {
            for (i, at) in sends.iter().enumerate() {
                cx.set_timer(ms(*at), i as u64);
            }
        })
        .on_timer(move |cx, k| cx.send_with(c, k, Transport::Stream, 0))
        .add(&mut b, n[0], "a");
    Actor::new(&log).add(&mut b, n[1], "c");
    b.schedule_fault(SimTime::ZERO, FaultAction::Partition(vec![vec![n[1]]]));
    let s = b.build().unwrap().run(until(t_ms(100_000)));
    let expected: Vec<_> = sends
        .iter()
        .enumerate()
        .map(|(i, at)| (t_ms(*at) + timeout, c, i as u64, DropCause::Partition))
        .collect();
    assert_eq!(log.failures(a), expected);
    assert!(log.received(c).is_empty());
    assert_eq!(drops(&s, DropCause::Partition), 4);
}

/// The documented semantics, as a model: a partition replaces the previous group assignment
/// (unlisted nodes form one more group), one-way cuts accumulate independently of partitions,
/// and a heal clears both.
#[derive(Clone, Default)]
struct Model {
    group: [u32; 3],
    cuts: BTreeSet<(u32, u32)>,
}

impl Model {
    fn apply(&mut self, action: &FaultAction) {
        match action {
            FaultAction::Partition(groups) => {
                self.group = [0; 3];
                for (i, g) in groups.iter().enumerate() {
                    for n in g {
                        self.group[n.index()] = i as u32 + 1;
                    }
                }
            }
            FaultAction::CutOneWay { from, to } => {
                self.cuts.insert((from.0, to.0));
            }
            FaultAction::Heal => *self = Model::default(),
            other => unreachable!("{other:?}"),
        }
    }
    fn reachable(&self) -> BTreeSet<(u32, u32)> {
        let mut s = BTreeSet::new();
        for a in 0..3u32 {
            for b in 0..3u32 {
                if a != b
                    && self.group[a as usize] == self.group[b as usize]
                    && !self.cuts.contains(&(a, b))
                {
                    s.insert((a, b));
                }
            }
        }
        s
    }
}

/// Exhaustive, turmoil-style: every sequence of 3 actions drawn from 5 partitions, the 6
/// one-way cuts and heal (12^3 = 1,728 runs), probing all 6 directed pairs before the first
/// action and after each one (so every shorter sequence is covered as a prefix). The observed
/// reachability must equal the model's after every step.
#[test]
fn exhaustive_partition_cut_heal_sequences() {
    let n = |i| NodeId(i);
    let mut alphabet = vec![
        FaultAction::Partition(vec![vec![n(0)]]),
        FaultAction::Partition(vec![vec![n(1)]]),
        FaultAction::Partition(vec![vec![n(2)]]),
        FaultAction::Partition(vec![vec![n(0)], vec![n(1)], vec![n(2)]]),
        FaultAction::Partition(vec![vec![n(0), n(1), n(2)]]),
        FaultAction::Heal,
    ];
    for a in 0..3 {
        for b in 0..3 {
            if a != b {
                alphabet.push(FaultAction::CutOneWay {
                    from: n(a),
                    to: n(b),
                });
            }
        }
    }
    assert_eq!(alphabet.len(), 12);
    let probes = [t_ms(5), t_ms(15), t_ms(25), t_ms(35)];
    let mut runs = 0;
    for x in &alphabet {
        for y in &alphabet {
            for z in &alphabet {
                let seq = [x, y, z];
                let actions: Vec<(SimTime, FaultAction)> = seq
                    .iter()
                    .enumerate()
                    .map(|(k, a)| (t_ms(10 * (k as u64 + 1)), (*a).clone()))
                    .collect();
                let (rounds, s) = probe_reachability(&actions, &probes);
                let mut model = Model::default();
                let mut blocked = 0;
                for (round, observed) in rounds.iter().enumerate() {
                    if round > 0 {
                        model.apply(seq[round - 1]);
                    }
                    let expected = model.reachable();
                    blocked += 6 - expected.len() as u64;
                    assert_eq!(observed, &expected, "after {:?}", &seq[..round]);
                }
                assert_eq!(drops(&s, DropCause::Partition), blocked, "{seq:?}");
                runs += 1;
            }
        }
    }
    assert_eq!(runs, 1728);
}
