//! Unit tests of the pure routing logic, and of the brokers driven handler by handler through
//! the engine's [`Harness`].

use clustersim_engine::testing::Harness;
use clustersim_engine::{Command, Component, ComponentId, Dist, Recorder, SimDuration};
use proptest::prelude::*;

use super::config::*;
use super::routing::{assign_range, key_partition, route, topic_matches};
use super::{LogBroker, Msg as MMsg, QueueBroker, Timer as MTimer};
use crate::{Cluster, Msg, Timer};

fn words(s: &str) -> Vec<Word> {
    // Test-only interning: `*`, `#`, else the word's length and first byte.
    s.split('.')
        .filter(|w| !w.is_empty())
        .map(|w| match w {
            "*" => Word::Star,
            "#" => Word::Hash,
            w => Word::Lit((w.len() as u32) << 8 | u32::from(w.as_bytes()[0])),
        })
        .collect()
}

#[test]
fn topic_wildcards_follow_amqp() {
    let cases = [
        ("a.b.c", "a.b.c", true),
        ("a.*.c", "a.b.c", true),
        ("a.*.c", "a.c", false),
        ("a.#.c", "a.c", true),
        ("a.#.c", "a.b.bb.c", true),
        ("a.#", "a", true),
        ("#", "", true),
        ("#", "x.y", true),
        ("*", "", false),
        ("*.*", "x", false),
        ("#.c", "a.b.c", true),
        ("#.c", "a.b.cc", false),
        ("a.#.b.#.c", "a.x.b.y.c", true),
        ("a.#.b.#.c", "a.x.c", false),
        ("*.b.#", "a.b", true),
        ("*.b.#", "b", false),
    ];
    for (p, k, want) in cases {
        assert_eq!(topic_matches(&words(p), &words(k)), want, "{p} vs {k}");
    }
}

#[test]
fn exchanges_route_by_kind() {
    let b = |q: u16, p: &str| Binding {
        queue: q,
        pattern: words(p),
    };
    let bindings = vec![b(0, "eu.order"), b(1, "*.order"), b(2, "#"), b(1, "us.#")];
    let fanout = ExchangeConfig {
        kind: ExchangeKind::Fanout,
        bindings: bindings.clone(),
    };
    assert_eq!(route(&fanout, &words("anything")), vec![0, 1, 2]);
    let direct = ExchangeConfig {
        kind: ExchangeKind::Direct,
        bindings: vec![b(0, "eu.order"), b(1, "us.order")],
    };
    assert_eq!(route(&direct, &words("us.order")), vec![1]);
    assert!(route(&direct, &words("eu")).is_empty());
    let topic = ExchangeConfig {
        kind: ExchangeKind::Topic,
        bindings,
    };
    assert_eq!(route(&topic, &words("eu.order")), vec![0, 1, 2]);
    assert_eq!(route(&topic, &words("us.order")), vec![1, 2]);
    assert_eq!(route(&topic, &words("us.refund.x")), vec![2, 1]);
}

#[test]
fn key_hash_is_stable_and_spread() {
    let mut counts = [0u32; 12];
    for k in 0..12_000 {
        let p = key_partition(k, 12);
        assert_eq!(p, key_partition(k, 12));
        counts[usize::from(p)] += 1;
    }
    // 1000 expected per partition, binomial SD ≈ 30: ±200 is > 6 SD.
    assert!(
        counts.iter().all(|&c| (800..1200).contains(&c)),
        "{counts:?}"
    );
}

proptest! {
    #[test]
    fn range_assignor_covers_each_partition_once(
        parts in 1u16..=64,
        ids in proptest::collection::btree_set(0u32..1000, 0..20),
    ) {
        let members: Vec<ComponentId> = ids.into_iter().map(ComponentId).collect();
        let masks = assign_range(parts, &members);
        let mut seen = 0u64;
        for m in &masks {
            prop_assert_eq!(seen & m, 0, "a partition given twice");
            seen |= m;
        }
        let all = if parts == 64 { u64::MAX } else { (1u64 << parts) - 1 };
        if members.is_empty() {
            prop_assert_eq!(seen, 0);
        } else {
            prop_assert_eq!(seen, all);
            let sizes: Vec<u32> = masks.iter().map(|m| m.count_ones()).collect();
            let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            prop_assert!(hi - lo <= 1, "unbalanced {:?}", sizes);
        }
    }
}

fn sends(cmds: &[Command<Cluster>]) -> Vec<(ComponentId, MMsg)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Send {
                dst,
                msg: Msg::Messaging(m),
                ..
            } => Some((*dst, *m)),
            _ => None,
        })
        .collect()
}

fn timers(cmds: &[Command<Cluster>]) -> Vec<MTimer> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::SetTimer {
                timer: Timer::Messaging(t),
                ..
            } => Some(*t),
            _ => None,
        })
        .collect()
}

#[derive(Clone, Debug)]
enum Op {
    Join(u32),
    Leave(u32),
    /// Let the pending rebalance finish.
    Settle,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u32..6).prop_map(Op::Join),
        (0u32..6).prop_map(Op::Leave),
        Just(Op::Settle),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Drives the group coordinator with random join / leave sequences and checks every
    /// completed assignment: within one generation no partition has two consumers, every
    /// partition has one when the group has members, and a fetch by a non-owner is refused.
    #[test]
    fn group_assignment_never_shares_a_partition(
        parts in 1u16..=8,
        ops in proptest::collection::vec(op(), 1..25),
    ) {
        let cfg = LogBrokerConfig::new(
            vec![TopicConfig { partitions: parts, retention: 100 }],
            vec![GroupConfig { topic: 0 }],
        );
        let mut rec = Recorder::default();
        let mut b = LogBroker::new(&cfg, ComponentId(100), &mut rec);
        let mut h = Harness::new(1, "broker");
        h.metrics = rec;
        let mut pending: Vec<MTimer> = Vec::new();
        let mut members: std::collections::BTreeSet<u32> = Default::default();
        for op in ops {
            let cmds = match op {
                Op::Join(c) => {
                    members.insert(c);
                    let m = Msg::Messaging(MMsg::JoinGroup { group: 0 });
                    h.call(|cx| b.on_message(cx, ComponentId(c), m))
                }
                Op::Leave(c) => {
                    members.remove(&c);
                    let m = Msg::Messaging(MMsg::LeaveGroup { group: 0 });
                    h.call(|cx| b.on_message(cx, ComponentId(c), m))
                }
                Op::Settle => {
                    let mut out = Vec::new();
                    for t in pending.drain(..) {
                        out.extend(h.call(|cx| b.on_timer(cx, Timer::Messaging(t))));
                    }
                    out
                }
            };
            pending.extend(timers(&cmds).into_iter().filter(|t| matches!(t, MTimer::Rebalance { .. })));
            // Assignments with a mask: the completed assignment of one generation.
            let mut by_gen: std::collections::BTreeMap<u32, u64> = Default::default();
            let mut owners: Vec<(u32, u64)> = Vec::new();
            for (to, m) in sends(&cmds) {
                if let MMsg::Assignment { generation, partitions, .. } = m {
                    let seen = by_gen.entry(generation).or_insert(0);
                    prop_assert_eq!(*seen & partitions, 0, "partition shared in generation {}", generation);
                    *seen |= partitions;
                    prop_assert!(members.contains(&to.0), "assignment to a non-member {}", to.0);
                    owners.push((to.0, partitions));
                }
            }
            if let Some((&generation, &mask)) = by_gen.iter().next_back()
                && mask != 0 {
                    let all = (1u64 << parts) - 1;
                    prop_assert_eq!(mask, all, "partitions left unassigned");
                    // Only the owner may fetch.
                    for (c, m) in owners {
                        for p in 0..parts {
                            let f = Msg::Messaging(MMsg::Fetch {
                                group: 0,
                                partition: p,
                                generation,
                                offset: u64::MAX,
                                max: 1,
                            });
                            let out = h.call(|cx| b.on_message(cx, ComponentId(c), f));
                            let refused = sends(&out).iter().any(|(_, x)| {
                                matches!(x, MMsg::FetchEnd { next: u64::MAX, .. })
                            });
                            prop_assert_eq!(refused, m & (1 << p) == 0);
                        }
                    }
                }
        }
    }
}

#[test]
fn queue_broker_rejects_blocks_and_drops_oldest() {
    for (policy, want_rejected, want_blocked, want_dropped) in [
        (FullPolicy::Reject, 1, 0, 0),
        (FullPolicy::Block, 0, 1, 0),
        (FullPolicy::DropOldest, 0, 0, 1),
    ] {
        let mut cfg = QueueBrokerConfig::new();
        cfg.queues[0].capacity = Some(2);
        cfg.queues[0].on_full = policy;
        let mut rec = Recorder::default();
        let mut b = QueueBroker::new(&cfg, ComponentId(9), &mut rec);
        let mut h = Harness::new(1, "q");
        h.metrics = rec;
        let mut confirms = Vec::new();
        for id in 0..3u32 {
            let m = Msg::Request(crate::Request {
                id: u64::from(id),
                op: crate::Op::Write,
                key: 1,
                size_bytes: 0,
                client: 0,
            });
            confirms.extend(h.call(|cx| b.on_message(cx, ComponentId(1), m)));
        }
        let answers: Vec<crate::Status> = confirms
            .iter()
            .filter_map(|c| match c {
                Command::Send {
                    msg: Msg::Response(r),
                    ..
                } => Some(r.status),
                _ => None,
            })
            .collect();
        let rejected = answers.iter().filter(|s| !s.is_ok()).count();
        assert_eq!(rejected, want_rejected, "{policy:?}");
        assert_eq!(3 - answers.len(), want_blocked, "{policy:?} held");
        let rep = std::mem::take(&mut h.metrics).finish(h.now);
        let c = |n: &str| rep.counter(rep.find(Some(ComponentId(9)), n).unwrap());
        assert_eq!(c("dropped_oldest"), want_dropped, "{policy:?}");
        assert_eq!(c("rejected"), want_rejected as u64, "{policy:?}");
        assert_eq!(c("arrivals"), 3);
    }
}

#[test]
fn retry_delay_grows_and_caps() {
    let r = RetryConfig {
        max_attempts: 5,
        backoff: SimDuration::from_millis(10),
        multiplier: 2.0,
        backoff_max: SimDuration::from_millis(35),
    };
    let d: Vec<u64> = (1..=4).map(|n| r.delay(n).as_nanos() / 1_000_000).collect();
    assert_eq!(d, vec![10, 20, 35, 35]);
    assert!(r.validate("r").is_ok());
    assert!(
        RetryConfig {
            max_attempts: 0,
            ..r
        }
        .validate("r")
        .is_err()
    );
}

#[test]
fn configs_reject_impossible_values() {
    let mut q = QueueBrokerConfig::new();
    q.queues[0].dead_letter = Some(0);
    assert!(q.validate().unwrap_err().field.contains("dead_letter"));
    let mut c = QueueConsumerConfig::new(ComponentId(0), 0, Dist::constant(1.0).unwrap());
    c.prefetch = 0;
    assert_eq!(c.validate().unwrap_err().field, "prefetch");
    let p = ProducerConfig::new(
        ComponentId(0),
        Destination::Topic {
            topic: 0,
            partitions: 4,
            partitioner: Partitioner::Explicit(4),
            acks: Acks::Leader,
        },
        10.0,
    );
    assert!(p.validate().is_err());
    let l = LogBrokerConfig::new(
        vec![TopicConfig {
            partitions: 65,
            retention: 1,
        }],
        vec![],
    );
    assert!(l.validate().is_err());
}
