//! Sharding: whole simulations of a shard router growing from 3 to 4 shards, data streamed
//! between the shards over bandwidth-limited NICs.

use clustersim_engine::{ComponentId, Dist};
use clustersim_models::load_balancer::LoadBalancerConfig;
use clustersim_models::registry::ComponentConfig;
use clustersim_models::service::ServiceConfig;
use clustersim_models::sharding::{Action, InFlight, MembershipChange, Scheme, ShardRouterConfig};
use clustersim_models::workload::{KeyDist, OpenLoopConfig};

use crate::common::*;

/// clients → router → 4 shards (3 initially, the 4th added at 2 s); each shard's NIC has
/// `bps`. Returns the report and the router's id.
fn grow(
    scheme: Scheme,
    in_flight: InFlight,
    bps: u64,
) -> (clustersim_engine::RunReport, ComponentId) {
    grow_with(scheme, in_flight, bps, |_| {}, |_, _, _| {})
}

/// [`grow`], with the router's configuration edited by `tweak` and faults scheduled by
/// `faults(world, router, shards)` before the run.
fn grow_with(
    scheme: Scheme,
    in_flight: InFlight,
    bps: u64,
    tweak: impl FnOnce(&mut ShardRouterConfig),
    faults: impl FnOnce(&mut World, ComponentId, &[ComponentId]),
) -> (clustersim_engine::RunReport, ComponentId) {
    let mut w = World::new(11);
    let router = ComponentId(1);
    let mut client = OpenLoopConfig::new(router, 2000.0);
    client.keys = KeyDist::Uniform { keys: 50_000 };
    w.add("clients", ComponentConfig::OpenLoopClient(client));
    let shards: Vec<ComponentId> = (2..6).map(ComponentId).collect();
    let mut cfg = ShardRouterConfig::new(&shards);
    cfg.scheme = scheme;
    cfg.initial = 3;
    cfg.keys = 50_000;
    cfg.value_size = 1000;
    cfg.batch_bytes = 100_000;
    cfg.in_flight = in_flight;
    cfg.membership.push(MembershipChange {
        at: secs(2),
        action: Action::Add(shards[3]),
    });
    tweak(&mut cfg);
    assert_eq!(w.add("router", ComponentConfig::ShardRouter(cfg)), router);
    for i in 0..4 {
        let id = w.add(
            &format!("s{i}"),
            ComponentConfig::Service(ServiceConfig::new(Dist::exponential(2e5).unwrap())),
        );
        let node = w.b.names().component_node[id.index()];
        w.b.set_nic_bandwidth(node, bps);
    }
    faults(&mut w, router, &shards);
    (w.run(ms(0), secs(6), None), router)
}

/// Consistent hashing moves ≈ 1/4 of the keys (±0.05: 100 vnodes give the new shard a share
/// with sd ≈ 0.025), all into the new shard, so the rebalance is bounded by the three old
/// owners' egress NICs streaming in parallel (ingress is not limited): ≈ (moved bytes / 3) /
/// bandwidth. Checked within [0.9, 1.6] × that + 50 ms (the three owners' shares differ).
/// Old owners serve keys in flight: no errors at all.
#[test]
fn growing_by_one_shard_streams_a_quarter_of_the_keys_at_nic_speed() {
    let bps = 100_000_000; // 100 Mbit/s
    let (r, router) = grow(
        Scheme::Consistent { vnodes: 100 },
        InFlight::ServeFromOld,
        bps,
    );
    let moved = counter(&r, router, "keys_moved") as f64;
    let frac = moved / 50_000.0;
    assert!((frac - 0.25).abs() < 0.05, "moved {frac}");
    assert_eq!(counter(&r, router, "bytes_moved"), moved as u64 * 1000);
    let t = hist_mean(&r, router, "rebalance_ns") / 1e9;
    let ideal = moved * 1000.0 * 8.0 / 3.0 / bps as f64;
    eprintln!("moved {moved} keys in {t:.3} s (ideal parallel {ideal:.3} s)");
    assert!(
        t >= ideal * 0.9 && t <= ideal * 1.6 + 0.05,
        "rebalance {t} vs {ideal}"
    );
    assert!(counter(&r, router, "inflight_requests") > 0);
    assert_eq!(counter(&r, router, "errors"), 0);
    assert_eq!(counter(&r, router, "rebalance_errors"), 0);
}

/// Shards that are load balancers over replicas (a replicated shard group) take part in data
/// movement like a single server: the same keys move, with no rebalance errors.
#[test]
fn shards_behind_load_balancers_stream_their_keys_too() {
    let mut w = World::new(11);
    let router = ComponentId(1);
    let mut client = OpenLoopConfig::new(router, 2000.0);
    client.keys = KeyDist::Uniform { keys: 50_000 };
    w.add("clients", ComponentConfig::OpenLoopClient(client));
    let shards: Vec<ComponentId> = (2..6).map(ComponentId).collect();
    let mut cfg = ShardRouterConfig::new(&shards);
    cfg.scheme = Scheme::Consistent { vnodes: 100 };
    cfg.initial = 3;
    cfg.keys = 50_000;
    cfg.value_size = 1000;
    cfg.batch_bytes = 100_000;
    cfg.membership.push(MembershipChange {
        at: secs(2),
        action: Action::Add(shards[3]),
    });
    assert_eq!(w.add("router", ComponentConfig::ShardRouter(cfg)), router);
    for i in 0..4u32 {
        let replicas = [ComponentId(6 + 2 * i), ComponentId(7 + 2 * i)];
        w.add(
            &format!("lb{i}"),
            ComponentConfig::LoadBalancer(LoadBalancerConfig::new(&replicas)),
        );
    }
    for i in 0..8 {
        w.add(
            &format!("replica{i}"),
            ComponentConfig::Service(ServiceConfig::new(Dist::exponential(2e5).unwrap())),
        );
    }
    let r = w.run(ms(0), secs(6), None);
    let frac = counter(&r, router, "keys_moved") as f64 / 50_000.0;
    assert!((frac - 0.25).abs() < 0.05, "moved {frac}");
    assert_eq!(counter(&r, router, "transfer_failures"), 0);
    assert_eq!(counter(&r, router, "rebalance_errors"), 0);
    assert_eq!(counter(&r, router, "errors"), 0);
    // One change, one completed rebalance (the last batch was acknowledged).
    assert_eq!(
        hist_len(&r, router, "rebalance_ns"),
        1,
        "the rebalance never ended"
    );
}

/// Mod hashing moves ≈ 3/4 of the keys (±0.01, binomial sd ≈ 0.002); with `Fail`, requests
/// for keys in flight are refused, and there are far more of them than with the ring.
#[test]
fn mod_hashing_moves_three_quarters_and_fails_more_requests_during_the_move() {
    let bps = 100_000_000;
    let (m, router) = grow(Scheme::Mod, InFlight::Fail, bps);
    let frac = counter(&m, router, "keys_moved") as f64 / 50_000.0;
    assert!((frac - 0.75).abs() < 0.01, "moved {frac}");
    let (c, _) = grow(Scheme::Consistent { vnodes: 100 }, InFlight::Fail, bps);
    let (em, ec) = (
        counter(&m, router, "rebalance_errors"),
        counter(&c, router, "rebalance_errors"),
    );
    eprintln!("rebalance errors: mod {em}, consistent {ec}");
    assert!(ec > 0 && em > 3 * ec, "mod {em} vs consistent {ec}");
    assert_eq!(counter(&m, router, "errors"), em);
}

/// Consistent hashing, 100 Mbit/s, 200 ms transfer timeout, at most `retries` re-sends.
fn grow_faulty(
    retries: u32,
    faults: impl FnOnce(&mut World, ComponentId, &[ComponentId]),
) -> (clustersim_engine::RunReport, ComponentId) {
    grow_with(
        Scheme::Consistent { vnodes: 100 },
        InFlight::ServeFromOld,
        100_000_000,
        |c| {
            c.transfer_timeout = ms(200);
            c.max_transfer_retries = retries;
        },
        faults,
    )
}

/// Keys the fault-free growth moves (placement is deterministic, so every run below must
/// account for exactly these keys: moved or lost).
fn keys_to_move() -> u64 {
    let (r, router) = grow_faulty(2, |_, _, _| {});
    assert_eq!(counter(&r, router, "transfer_retries"), 0);
    assert_eq!(counter(&r, router, "transfer_failures"), 0);
    counter(&r, router, "keys_moved")
}

/// The new owner crashes 100 ms into the rebalance (≈ 330 ms long) and stays down: the
/// batches it had not acknowledged are re-sent twice, 200 ms apart, then abandoned — the
/// rebalance completes (one `rebalance_ns` sample, `rebalancing` back to 0) with the lost keys
/// counted, and every key is either moved or lost.
#[test]
fn a_crash_of_the_new_owner_ends_the_rebalance_with_its_keys_lost() {
    let total = keys_to_move();
    let (r, router) = grow_faulty(2, |w, _, shards| {
        w.crash_between(shards[3], ms(2100), secs(60))
    });
    let (moved, lost) = (
        counter(&r, router, "keys_moved"),
        counter(&r, router, "keys_lost"),
    );
    let failed = counter(&r, router, "transfer_failures");
    eprintln!(
        "moved {moved} lost {lost} of {total}; {failed} batches abandoned after {} retries",
        counter(&r, router, "transfer_retries")
    );
    assert!(moved > 0 && lost > 0, "moved {moved} lost {lost}");
    assert_eq!(moved + lost, total);
    assert_eq!(counter(&r, router, "transfer_retries"), 2 * failed);
    assert_eq!(hist_len(&r, router, "rebalance_ns"), 1);
    // Over 6 s, rebalancing for ≈ 0.1 s before the crash + 0.6 s of retries (+ re-arms).
    let frac = gauge_avg(&r, router, "rebalancing");
    assert!(frac > 0.05 && frac < 0.2, "rebalancing {frac}");
}

/// The same crash, but the new owner is back after 300 ms, before the retries run out: the
/// re-sent batches arrive, nothing is lost.
#[test]
fn a_new_owner_back_in_time_receives_the_retried_batches() {
    let total = keys_to_move();
    let (r, router) = grow_faulty(3, |w, _, shards| {
        w.crash_between(shards[3], ms(2100), ms(2400))
    });
    assert!(counter(&r, router, "transfer_retries") > 0);
    assert_eq!(counter(&r, router, "keys_lost"), 0);
    assert_eq!(counter(&r, router, "transfer_failures"), 0);
    assert_eq!(counter(&r, router, "keys_moved"), total);
    assert_eq!(hist_len(&r, router, "rebalance_ns"), 1);
}

/// The router's node is down when the change falls due (1.5 s → 2.5 s): the change is applied
/// at restart. Down in the middle of the rebalance (2.1 s → 2.2 s): the acknowledgements sent
/// meanwhile are lost, and the batches are re-sent after the restart. Either way every key
/// moves and the rebalance ends.
#[test]
fn a_router_restart_applies_missed_changes_and_resumes_the_rebalance() {
    let total = keys_to_move();
    for (down, up) in [(ms(1500), ms(2500)), (ms(2100), ms(2200))] {
        let (r, router) = grow_faulty(3, |w, router, _| w.crash_between(router, down, up));
        assert_eq!(counter(&r, router, "membership_changes"), 1, "{down:?}");
        assert_eq!(counter(&r, router, "keys_moved"), total, "{down:?}");
        assert_eq!(counter(&r, router, "keys_lost"), 0, "{down:?}");
        assert_eq!(hist_len(&r, router, "rebalance_ns"), 1, "{down:?}");
        if down == ms(2100) {
            assert!(counter(&r, router, "transfer_retries") > 0);
        }
    }
}

/// `ServeFromNew`: a request for a key not yet acknowledged goes to the new owner, misses, and
/// is sent on to the old owner — two shard requests for one arrival, and no errors.
#[test]
fn serve_from_new_misses_fall_back_to_the_old_owner() {
    let (r, router) = grow_with(
        Scheme::Consistent { vnodes: 100 },
        InFlight::ServeFromNew,
        100_000_000,
        |c| c.miss_penalty = ms(1),
        |_, _, _| {},
    );
    let misses = counter(&r, router, "inflight_misses");
    let inflight = counter(&r, router, "inflight_requests");
    eprintln!("{misses} misses of {inflight} requests in flight");
    assert!(misses > 0 && misses <= inflight, "{misses} / {inflight}");
    let forwarded: u64 = (0..4)
        .map(|i| counter(&r, router, &format!("to_shard_{i}")))
        .sum();
    assert_eq!(forwarded, counter(&r, router, "arrivals") + misses);
    assert_eq!(counter(&r, router, "errors"), 0);
    // A miss costs at least the penalty: the slowest in-rebalance requests show it.
    assert!(hist_quantile(&r, router, "rebalance_latency_ns", 1.0) >= 1e6);
}
