//! Unit tests of the router's handlers, driven one event at a time through the [`Harness`].

use clustersim_engine::testing::Harness;
use clustersim_engine::{Command, Component, ComponentId, MetricsReport, SimDuration, SimTime};

use super::*;
use crate::msg::{Op, Request, Response, Status};

const CLIENT: ComponentId = ComponentId(9);
const SHARDS: [ComponentId; 4] = [
    ComponentId(1),
    ComponentId(2),
    ComponentId(3),
    ComponentId(4),
];

struct Fixture {
    h: Harness,
    r: ShardRouter,
}

impl Fixture {
    fn new(cfg: &ShardRouterConfig) -> (Fixture, Vec<Command<Cluster>>) {
        let mut h = Harness::new(1, "router");
        let r = ShardRouter::new(cfg, h.me, &mut h.metrics);
        let mut f = Fixture { h, r };
        let out = {
            let r = &mut f.r;
            f.h.call(|cx| r.on_start(cx))
        };
        (f, out)
    }
    fn message(&mut self, from: ComponentId, msg: crate::Msg) -> Vec<Command<Cluster>> {
        let r = &mut self.r;
        self.h.call(|cx| r.on_message(cx, from, msg))
    }
    fn timer(&mut self, t: Timer) -> Vec<Command<Cluster>> {
        let r = &mut self.r;
        self.h.call(|cx| r.on_timer(cx, t.into()))
    }
    fn report(&mut self) -> MetricsReport {
        std::mem::take(&mut self.h.metrics).finish(self.h.now)
    }
}

fn counter(r: &MetricsReport, name: &str) -> u64 {
    r.counter(r.find(Some(ComponentId(0)), name).unwrap())
}

fn req(id: u64, key: u64, op: Op) -> crate::Msg {
    crate::Msg::Request(Request {
        id,
        op,
        key,
        size_bytes: 10,
        client: 0,
    })
}

/// The single `Send` in `out`: (destination, message, size).
fn sent(out: &[Command<Cluster>]) -> Vec<(ComponentId, crate::Msg, u32)> {
    out.iter()
        .filter_map(|c| match c {
            Command::Send { dst, msg, opts } => Some((*dst, msg.clone(), opts.size_bytes)),
            _ => None,
        })
        .collect()
}

#[test]
fn requests_go_to_the_key_owner_and_responses_back_to_the_caller() {
    let cfg = ShardRouterConfig::new(&SHARDS);
    let (mut f, _) = Fixture::new(&cfg);
    let part = f.r.partitioner().clone();
    for key in 0..50u64 {
        let out = sent(&f.message(CLIENT, req(1000 + key, key, Op::Read)));
        let (dst, msg, size) = out[0].clone();
        assert_eq!(dst, SHARDS[part.owner(key).unwrap() as usize]);
        assert_eq!(size, 10);
        let crate::Msg::Request(fwd) = msg else {
            panic!("{msg:?}")
        };
        assert_eq!(fwd.key, key);
        let back = sent(&f.message(
            dst,
            crate::Msg::Response(Response {
                id: fwd.id,
                status: Status::Ok,
                size_bytes: 7,
                version: 3,
            }),
        ));
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].0, CLIENT);
        let crate::Msg::Response(r) = back[0].1 else {
            panic!()
        };
        assert_eq!(
            (r.id, r.status, r.size_bytes, r.version),
            (1000 + key, Status::Ok, 7, 3)
        );
    }
    // A response from the wrong shard, or a duplicate, is ignored.
    let out = sent(&f.message(CLIENT, req(1, 5, Op::Read)));
    let crate::Msg::Request(fwd) = out[0].1 else {
        panic!()
    };
    let wrong = if out[0].0 == SHARDS[0] {
        SHARDS[1]
    } else {
        SHARDS[0]
    };
    let resp = crate::Msg::Response(Response {
        id: fwd.id,
        status: Status::Ok,
        size_bytes: 0,
        version: 0,
    });
    assert!(sent(&f.message(wrong, resp.clone())).is_empty());
    assert_eq!(sent(&f.message(out[0].0, resp.clone())).len(), 1);
    assert!(sent(&f.message(out[0].0, resp)).is_empty());
    let r = f.report();
    assert_eq!(counter(&r, "arrivals"), 51);
    assert_eq!(counter(&r, "completed"), 51);
    let per_shard: u64 = (0..4).map(|i| counter(&r, &format!("to_shard_{i}"))).sum();
    assert_eq!(per_shard, 51);
}

#[test]
fn a_membership_change_moves_exactly_the_changed_keys_and_ends_with_the_last_ack() {
    let mut cfg = ShardRouterConfig::new(&SHARDS);
    cfg.initial = 3;
    cfg.keys = 10_000;
    cfg.value_size = 100;
    cfg.batch_bytes = 50_000; // 500 keys per batch
    cfg.in_flight = InFlight::Fail;
    cfg.membership.push(MembershipChange {
        at: SimDuration::from_secs(2),
        action: Action::Add(SHARDS[3]),
    });
    let (mut f, start) = Fixture::new(&cfg);
    assert!(
        start
            .iter()
            .any(|c| matches!(c, Command::SetTimer { at, .. } if *at == SimTime::ZERO + SimDuration::from_secs(2)))
    );
    let before = f.r.partitioner().clone();
    f.h.now = SimTime::ZERO + SimDuration::from_secs(2);
    let out = sent(&f.timer(Timer::Change { index: 0 }));
    let after = f.r.partitioner().clone();
    let want: Vec<u64> = (0..10_000)
        .filter(|&k| before.owner(k) != after.owner(k))
        .collect();
    assert!(!want.is_empty());
    let mut total = 0u32;
    let mut moves = Vec::new();
    for (dst, msg, size) in &out {
        let crate::Msg::Shard(Msg::Move {
            to,
            batch,
            keys,
            bytes,
        }) = *msg
        else {
            panic!("{msg:?}")
        };
        assert_eq!(
            to, SHARDS[3],
            "consistent hashing moves keys to the new shard only"
        );
        assert_ne!(*dst, SHARDS[3]);
        assert!(keys <= 500 && bytes == keys * 100 && *size == CONTROL_BYTES);
        total += keys;
        moves.push((*dst, batch, keys, bytes));
    }
    assert_eq!(total as usize, want.len());
    assert!(f.r.rebalancing());
    // A request for a moving key fails (policy Fail); a key that stays is forwarded.
    let out = sent(&f.message(CLIENT, req(1, want[0], Op::Read)));
    assert_eq!(out[0].0, CLIENT);
    assert!(matches!(
        out[0].1,
        crate::Msg::Response(Response {
            status: Status::Unavailable,
            ..
        })
    ));
    let stay = (0..10_000).find(|k| !want.contains(k)).unwrap();
    let out = sent(&f.message(CLIENT, req(2, stay, Op::Read)));
    assert_eq!(out[0].0, SHARDS[before.owner(stay).unwrap() as usize]);
    // Old owner relays the data to the new one, which acks to the router.
    f.h.now = SimTime::ZERO + SimDuration::from_secs(3);
    for (old, batch, keys, bytes) in moves {
        let (to, data, size) = serve_transfer(
            ComponentId(0),
            &Msg::Move {
                to: SHARDS[3],
                batch,
                keys,
                bytes,
            },
        )
        .unwrap();
        assert_eq!((to, size), (SHARDS[3], bytes));
        let crate::Msg::Shard(data) = data else {
            panic!()
        };
        let (to, ack, _) = serve_transfer(old, &data).unwrap();
        assert_eq!(to, ComponentId(0));
        assert!(f.message(SHARDS[3], ack.clone()).is_empty());
        assert!(
            f.message(SHARDS[3], ack).is_empty(),
            "duplicate acks are ignored"
        );
    }
    assert!(!f.r.rebalancing());
    let r = f.report();
    assert_eq!(counter(&r, "keys_moved"), want.len() as u64);
    assert_eq!(counter(&r, "bytes_moved"), want.len() as u64 * 100);
    assert_eq!(counter(&r, "rebalance_errors"), 1);
    assert_eq!(counter(&r, "membership_changes"), 1);
    let h = r
        .histogram(r.find(Some(ComponentId(0)), "rebalance_ns").unwrap())
        .unwrap();
    assert_eq!(h.len(), 1);
    assert!((h.max() as f64 - 1e9).abs() < 1e7, "{}", h.max());
    let owned = r.find(Some(ComponentId(0)), "keys_owned_3").unwrap();
    assert!(r.gauge_avg(owned) > 0.0);
}

#[test]
fn hot_key_reads_spread_over_replicas_and_writes_stay_on_the_owner() {
    let mut cfg = ShardRouterConfig::new(&SHARDS);
    cfg.hot_keys = Some(HotKeys {
        top: 1,
        replicas: 3,
    });
    let (mut f, _) = Fixture::new(&cfg);
    let owner = SHARDS[f.r.partitioner().owner(0).unwrap() as usize];
    let mut seen = Vec::new();
    for i in 0..300 {
        let out = sent(&f.message(CLIENT, req(i, 0, Op::Read)));
        if !seen.contains(&out[0].0) {
            seen.push(out[0].0);
        }
        let w = sent(&f.message(CLIENT, req(10_000 + i, 0, Op::Write)));
        assert_eq!(w[0].0, owner);
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen.contains(&owner));
    assert_eq!(counter(&f.report(), "hot_reads"), 300);
}

#[test]
fn shard_messages_hash_distinctly() {
    use clustersim_engine::{StableHash, StableHasher};
    let d = |m: &Msg| {
        let mut h = StableHasher::default();
        m.stable_hash(&mut h);
        h.finish()
    };
    let a = Msg::Ack {
        batch: 1,
        keys: 2,
        bytes: 3,
    };
    let b = Msg::Ack {
        batch: 1,
        keys: 3,
        bytes: 2,
    };
    assert_ne!(d(&a), d(&b));
    assert!(size_of::<crate::Msg>() <= 48);
}
