//! Replicated stores in whole simulations, against theory.
//!
//! * **t-visibility** (PBS): async primary-backup with an exponential replication delay of
//!   mean d (the apply time on a follower with unlimited appliers) and no queueing: a read Δt after a write's acknowledgement sees it with
//!   probability 1 − e^(−Δt/d). Reads sharing one write share its delay, so the effective
//!   sample size of a bucket is about the number of writes with reads in it (> 5,000 here);
//!   the standard error of a fraction is then ≤ 0.5/√5000 ≈ 0.007, and the bound 0.035 is 5 SE.
//! * **Quorums**: with r + w > n every read quorum meets every acknowledged write's quorum,
//!   so without failures no read is stale (an exact property, checked over seeds); with
//!   r + w ≤ n stale reads happen.
//! * **RPO**: synchronous replication loses no acknowledged write on failover (exact);
//!   asynchronous replication with lag L loses the writes acknowledged in the last L before
//!   the crash: Poisson with mean λL (here 100, SD 10; bound ±35 = 3.5 SD).
//! * **Availability** of a primary/standby pair with exponential up (MTBF) and down (MTTR)
//!   times and failover time T_f: unavailable when both are down (u², u = MTTR/(MTBF+MTTR),
//!   independent nodes) or during the T_f after the primary fails with the standby up (rate
//!   (1−u)²/MTBF): A = 1 − u² − (1−u)²·T_f/MTBF. Over 3,000 s (≈ 270 failures, ≈ 25
//!   double outages of mean 1 s) the SD of A is ≈ 0.003; the bound 0.012 is 4 SD.

use clustersim_engine::{ComponentId, Dist, RandomFaults, SimDuration};
use clustersim_models::registry::ComponentConfig;
use clustersim_models::store::{
    Ack, Failover, Promote, ReadFrom, ReplicaConfig, ReplicaMode, Replication, StoreConfig,
};
use clustersim_models::workload::{KeyDist, OpMix, OpenLoopConfig};
use proptest::prelude::*;

use crate::common::*;

fn zero() -> Dist {
    Dist::constant(0.0).unwrap()
}

/// Client (id 0), front (id 1) and `n` replicas (ids 2..) linked as the scenarios crate
/// links them. Returns the world and the replica ids.
fn store_world(
    seed: u64,
    client: OpenLoopConfig,
    front: StoreConfig,
    replica: &ReplicaConfig,
) -> (World, Vec<ComponentId>) {
    let mut w = World::new(seed);
    w.add("client", ComponentConfig::OpenLoopClient(client));
    let replicas = front.replicas.clone();
    let replication = front.replication;
    assert_eq!(
        w.add("front", ComponentConfig::Store(front)),
        ComponentId(1)
    );
    for (k, &id) in replicas.iter().enumerate() {
        let mut rc = replica.clone();
        rc.peers = replicas.iter().copied().filter(|&p| p != id).collect();
        rc.mode = match replication {
            Replication::PrimaryBackup { ack } => ReplicaMode::PrimaryBackup {
                ack,
                primary: k == 0,
            },
            Replication::MultiLeader {
                version_vectors, ..
            } => ReplicaMode::Leader {
                site: k as u8,
                version_vectors,
            },
            _ => ReplicaMode::Plain,
        };
        assert_eq!(
            w.add(&format!("r{k}"), ComponentConfig::StoreReplica(rc)),
            id
        );
    }
    (w, replicas)
}

fn ids(n: u32) -> Vec<ComponentId> {
    (0..n).map(|i| ComponentId(2 + i)).collect()
}

fn client(rate: f64, read: f64, write: f64, keys: u64) -> OpenLoopConfig {
    let mut c = OpenLoopConfig::new(ComponentId(1), rate);
    c.mix = OpMix {
        read,
        write,
        other: 0.0,
    };
    c.keys = KeyDist::Uniform { keys };
    c.clients = 100;
    c
}

#[test]
fn async_visibility_matches_exponential_delay() {
    let d_ms = 20.0;
    let mut front = StoreConfig::new(ids(2), Replication::PrimaryBackup { ack: Ack::Async });
    front.read_from = ReadFrom::Replicas;
    front.visibility_buckets_ms = (0..=20).map(|i| i * 5).collect();
    // Writes ship at once; each follower applies with an exponential time on effectively
    // unlimited appliers (10,000 workers): an independent delay per write, no queueing.
    let mut replica = ReplicaConfig::new(zero(), zero());
    replica.servers = 10_000;
    replica.apply_time = Dist::exponential(d_ms * 1e6).unwrap();
    // 100 writes/s and 4,000 reads/s over 20 keys for 100 s: ≈ 10,000 writes.
    let (w, _) = store_world(1, client(4100.0, 4000.0, 100.0, 20), front, &replica);
    let rep = w.run(secs(1), secs(101), None);
    let f = ComponentId(1);
    assert_eq!(counter(&rep, f, "errors"), 0);
    let mut checked = 0;
    for i in 0..20u64 {
        let (a, b) = ((i * 5) as f64, (i * 5 + 5) as f64);
        let reads = counter(&rep, f, &format!("visibility_reads@dt_ms={}", i * 5));
        let fresh = counter(&rep, f, &format!("visibility_fresh@dt_ms={}", i * 5));
        assert!(reads > 5_000, "bucket {a} ms: only {reads} reads");
        let sim = fresh as f64 / reads as f64;
        // 1 − e^(−Δt/d) averaged over Δt uniform in [a, b).
        let theory = 1.0 - d_ms / (b - a) * ((-a / d_ms).exp() - (-b / d_ms).exp());
        eprintln!("Δt [{a}, {b}) ms: {reads} reads, P(visible) {sim:.4} vs {theory:.4}");
        assert!(
            (sim - theory).abs() < 0.035,
            "Δt in [{a}, {b}) ms: P(visible) {sim:.4} vs {theory:.4}"
        );
        checked += 1;
    }
    assert_eq!(checked, 20);
    // The stale reads the checker counts are exactly the reads that missed the last write.
    assert!(counter(&rep, f, "stale_reads") > 1_000);
}

fn quorum_stale_reads(seed: u64, r: u8, w: u8) -> (u64, u64) {
    let front = StoreConfig::new(
        ids(3),
        Replication::Quorum {
            r,
            w,
            read_repair: false,
        },
    );
    let mut replica = ReplicaConfig::new(
        Dist::exponential(1e6).unwrap(),
        Dist::exponential(2e6).unwrap(),
    );
    replica.servers = 2;
    let (world, _) = store_world(seed, client(600.0, 400.0, 200.0, 5), front, &replica);
    let rep = world.run(secs(1), secs(11), None);
    let f = ComponentId(1);
    assert_eq!(counter(&rep, f, "errors"), 0);
    (counter(&rep, f, "stale_reads"), counter(&rep, f, "reads"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]
    #[test]
    fn strict_quorum_never_reads_stale(seed in 0u64..1_000_000) {
        let (stale, reads) = quorum_stale_reads(seed, 2, 2);
        prop_assert!(reads > 3_000, "{reads} reads");
        prop_assert_eq!(stale, 0);
    }
}

#[test]
fn sloppy_quorum_reads_stale() {
    let (stale, reads) = quorum_stale_reads(3, 1, 1);
    assert!(reads > 3_000);
    // One write replica and one read replica out of three: a read right after a write
    // often asks a replica that has not applied it yet.
    eprintln!("r = w = 1: {stale} stale reads of {reads}");
    assert!(stale > 50, "{stale} stale of {reads}");
}

/// Writes acknowledged and lost by one primary crash at 5 s.
fn failover_run(ack: Ack) -> (u64, u64, f64) {
    let mut front = StoreConfig::new(ids(3), Replication::PrimaryBackup { ack });
    front.failover = Some(Failover {
        promote: Promote::MostUpToDate,
        redirect_delay: SimDuration::ZERO,
    });
    front.detect_after = ms(300);
    let mut replica = ReplicaConfig::new(zero(), zero());
    replica.apply_time = zero();
    // The primary ships each write 50 ms after acknowledging it (in order): a replication
    // lag of exactly 50 ms, and the writes of the last 50 ms exist only on the primary.
    replica.replication_delay = Dist::constant(50e6).unwrap();
    let (mut w, r) = store_world(7, client(2000.0, 0.0, 1.0, 1000), front, &replica);
    w.crash_between(r[0], secs(5), secs(8));
    let rep = w.run(SimDuration::ZERO, secs(10), None);
    let f = ComponentId(1);
    assert_eq!(counter(&rep, f, "failovers"), 1);
    let rto = hist_mean(&rep, f, "rto_ns") / 1e6;
    (
        counter(&rep, f, "rpo_writes_lost"),
        counter(&rep, f, "writes"),
        rto,
    )
}

#[test]
fn sync_failover_loses_nothing_async_loses_rate_times_lag() {
    let (lost, writes, rto_ms) = failover_run(Ack::Sync);
    assert!(writes > 15_000, "{writes}");
    assert_eq!(lost, 0, "sync replication lost acknowledged writes");
    // Detection needs > 300 ms of silence seen at a 100 ms heartbeat: 300–400 ms after the
    // last answered heartbeat. The new primary's followers start out of sync (until caught
    // up), so its first writes do not wait for them; allow 60 ms more for scheduling.
    assert!((300.0..=460.0).contains(&rto_ms), "RTO {rto_ms} ms");
    eprintln!("sync: {lost} lost of {writes} writes, RTO {rto_ms:.1} ms");
    let (lost, _, rto_ms) = failover_run(Ack::Async);
    eprintln!("async: {lost} lost (λL = 100), RTO {rto_ms:.1} ms");
    // λ L = 2000/s × 50 ms = 100.
    assert!(
        (65..=135).contains(&lost),
        "async lost {lost}, expected ≈ 100"
    );
}

#[test]
fn active_passive_availability_matches_formula() {
    let (mtbf, mttr) = (20.0, 2.0);
    let mut front = StoreConfig::new(ids(2), Replication::PrimaryBackup { ack: Ack::Async });
    front.failover = Some(Failover {
        promote: Promote::MostUpToDate,
        redirect_delay: SimDuration::ZERO,
    });
    front.detect_after = ms(300);
    let replica = ReplicaConfig::new(zero(), zero());
    let (mut w, r) = store_world(11, client(200.0, 1.0, 1.0, 100), front, &replica);
    for (k, &id) in r.iter().enumerate() {
        let node = w.b.names().component_node[id.index()];
        w.b.random_faults(
            &format!("fail{k}"),
            RandomFaults::NodeFailures {
                node,
                mtbf: SimDuration::from_secs_f64(mtbf),
                mttr: SimDuration::from_secs_f64(mttr),
            },
        );
    }
    let rep = w.run(SimDuration::ZERO, secs(3000), None);
    let f = ComponentId(1);
    let a = counter(&rep, f, "completed") as f64 / counter(&rep, f, "arrivals") as f64;
    // T_f: the crash falls uniformly within a 100 ms heartbeat period and is detected at the
    // fourth heartbeat after the last answered one: 350 ms on average.
    let (u, t_f) = (mttr / (mtbf + mttr), 0.35);
    let theory = 1.0 - u * u - (1.0 - u) * (1.0 - u) * t_f / mtbf;
    eprintln!("availability {a:.4} vs {theory:.4}");
    assert!(
        (a - theory).abs() < 0.012,
        "availability {a:.4} vs {theory:.4}"
    );
    assert!(counter(&rep, f, "failovers") > 50);
}

/// Reads routed to a follower unless the reader wrote the key within 1 s never miss the
/// reader's own writes; reads from any follower do (lag ≈ 20 ms of log shipping).
#[test]
fn replica_unless_ryw_routing_keeps_read_your_writes() {
    let run = |read_from| {
        let mut front = StoreConfig::new(ids(3), Replication::PrimaryBackup { ack: Ack::Async });
        front.read_from = read_from;
        let mut replica = ReplicaConfig::new(zero(), zero());
        replica.replication_delay = Dist::exponential(20e6).unwrap();
        // 10 end users on 20 keys: each often rereads what it just wrote.
        let mut c = client(1000.0, 1.0, 1.0, 20);
        c.clients = 10;
        let (w, _) = store_world(5, c, front, &replica);
        let rep = w.run(secs(1), secs(21), None);
        let f = ComponentId(1);
        (
            counter(&rep, f, "ryw_violations"),
            counter(&rep, f, "reads"),
        )
    };
    let (ryw, reads) = run(ReadFrom::Replicas);
    assert!(reads > 8_000 && ryw > 100, "{ryw} violations of {reads}");
    let (ryw, reads) = run(ReadFrom::ReplicaUnlessRyw { window: secs(1) });
    assert!(reads > 8_000);
    assert_eq!(ryw, 0, "read-your-writes broken by RYW routing");
}

/// Multi-leader last-writer-wins: with synchronised clocks no acknowledged write loses to an
/// earlier one; with one leader's clock 50 ms ahead, writes at the other leader within 50 ms
/// after one of its writes to the same key lose.
#[test]
fn multi_leader_lww_loses_updates_only_with_skew() {
    let run = |ahead_ms: i64, version_vectors: bool| {
        let mut w = World::new(9);
        let mut c0 = client(400.0, 1.0, 1.0, 10);
        c0.target = ComponentId(2);
        let mut c1 = client(400.0, 1.0, 1.0, 10);
        c1.target = ComponentId(3);
        w.add("users0", ComponentConfig::OpenLoopClient(c0));
        w.add("users1", ComponentConfig::OpenLoopClient(c1));
        let leaders = vec![ComponentId(4), ComponentId(5)];
        for (k, name) in ["front0", "front1"].into_iter().enumerate() {
            let mut f = StoreConfig::new(
                leaders.clone(),
                Replication::MultiLeader {
                    home: k as u8,
                    version_vectors,
                },
            );
            f.partition = clustersim_models::store::PartitionPolicy::Ap;
            f.origin = k as u8;
            f.peers = vec![ComponentId(3 - k as u32)];
            w.add(name, ComponentConfig::Store(f));
        }
        for (k, &id) in leaders.iter().enumerate() {
            let mut rc = ReplicaConfig::new(zero(), zero());
            rc.peers = leaders.iter().copied().filter(|&p| p != id).collect();
            rc.mode = ReplicaMode::Leader {
                site: k as u8,
                version_vectors,
            };
            rc.replication_delay = Dist::constant(10e6).unwrap();
            assert_eq!(
                w.add(&format!("leader{k}"), ComponentConfig::StoreReplica(rc)),
                id
            );
        }
        let node = w.b.names().component_node[5];
        w.b.set_clock(
            node,
            clustersim_engine::NodeClock::new(ahead_ms * 1_000_000, 0),
        );
        let rep = w.run(secs(1), secs(11), None);
        (
            counter(&rep, ComponentId(2), "lost_updates"),
            counter(&rep, ComponentId(4), "conflicts") + counter(&rep, ComponentId(5), "conflicts"),
        )
    };
    let (lost, conflicts) = run(0, false);
    assert_eq!(lost, 0);
    assert!(conflicts > 50, "{conflicts} conflicts");
    let (lost, _) = run(50, false);
    // ≈ 200 writes/s per leader on 10 keys: a key is written by leader 1 every ≈ 50 ms, so a
    // large share of leader 0's writes land within 50 ms after one of them.
    assert!(lost > 300, "{lost} lost updates with 50 ms of skew");
    // Version vectors ignore clocks: concurrent writes are surfaced as conflicts (siblings)
    // and nothing is lost, skew or not.
    let (lost, conflicts) = run(50, true);
    assert_eq!(lost, 0);
    assert!(conflicts > 50, "{conflicts} conflicts with version vectors");
}
