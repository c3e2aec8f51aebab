//! Sharding: whole simulations of a shard router growing from 3 to 4 shards, data streamed
//! between the shards over bandwidth-limited NICs.

use clustersim_engine::{ComponentId, Dist};
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
    assert_eq!(w.add("router", ComponentConfig::ShardRouter(cfg)), router);
    for i in 0..4 {
        let id = w.add(
            &format!("s{i}"),
            ComponentConfig::Service(ServiceConfig::new(Dist::exponential(2e5).unwrap())),
        );
        let node = w.b.names().component_node[id.index()];
        w.b.set_nic_bandwidth(node, bps);
    }
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
