//! Cache fidelity: simulated hit ratios against the analytic models of
//! `clustersim_models::cache::analytic`, and the stale-hit accounting against its bounds.
//!
//! **Set-up.** One open-loop Poisson client → cache → service with zero service time on an
//! ideal network, so a miss is filled at the instant it happens and the cache sees exactly the
//! independent reference model (IRM) the formulas assume.
//!
//! **Tolerances.** Runs are split into report windows used as batches (each window holds
//! thousands of requests, far longer than the correlation of hits, which decays within a few
//! cache turnovers of `C` misses), so the batch spread gives an honest standard error (SE) of
//! the whole-run hit ratio. A check asserts `|sim − theory| ≤ 4 SE + model error`, where the
//! model error is 0 for the TTL formula (exact for Poisson requests) and 0.005 absolute for
//! the characteristic-time approximations (their documented error for a thousand Zipf keys and
//! a hundred-entry cache is well below 1 %: Fricker, Robert and Roberts 2012, Martina et al.
//! 2014). It also asserts SE ≤ 0.003, so a check cannot pass by being noisy. With fixed seeds
//! the outcome is reproducible; a correct model fails a 4-SE check with probability ≈ 1e-4.

use clustersim_engine::{ComponentId, Dist, RunReport, SimDuration};
use clustersim_models::cache::analytic::{che_fifo, che_lru, ttl_hit_ratio, zipf_popularity};
use clustersim_models::cache::{CacheConfig, Capacity, Eviction};
use clustersim_models::registry::ComponentConfig;
use clustersim_models::service::ServiceConfig;
use clustersim_models::workload::{KeyDist, OpMix, OpenLoopConfig};

use crate::common::*;

const WINDOW: SimDuration = SimDuration::from_secs(2);

/// A reading client of the cache (component 1).
fn reader(rate: f64, keys: KeyDist) -> OpenLoopConfig {
    let mut c = OpenLoopConfig::new(ComponentId(1), rate);
    c.keys = keys;
    c
}

/// client(0) → cache(1) → origin(2), plus an optional writer(3); returns the report.
fn run(
    seed: u64,
    client: OpenLoopConfig,
    cache: CacheConfig,
    origin: ServiceConfig,
    writer: Option<OpenLoopConfig>,
    warmup_s: u64,
    measured_s: u64,
) -> RunReport {
    let mut w = World::new(seed);
    w.add("client", ComponentConfig::OpenLoopClient(client));
    w.add("cache", ComponentConfig::Cache(cache));
    w.add("origin", ComponentConfig::Service(origin));
    if let Some(wr) = writer {
        w.add("writer", ComponentConfig::OpenLoopClient(wr));
    }
    w.run(secs(warmup_s), secs(warmup_s + measured_s), Some(WINDOW))
}

const CACHE: ComponentId = ComponentId(1);

fn instant_origin() -> ServiceConfig {
    ServiceConfig::new(Dist::constant(0.0).unwrap())
}

/// Whole-run hit ratio and its batch-means SE.
fn hit_ratio(r: &RunReport) -> (f64, f64) {
    let hits = counter_batches(r, CACHE, "hits");
    let misses = counter_batches(r, CACHE, "misses");
    let ratios: Vec<f64> = hits
        .iter()
        .zip(&misses)
        .map(|(h, m)| *h as f64 / (h + m) as f64)
        .collect();
    let (_, se) = mean_se(&ratios);
    let (h, m) = (counter(r, CACHE, "hits"), counter(r, CACHE, "misses"));
    (h as f64 / (h + m) as f64, se)
}

fn check(what: &str, sim: f64, se: f64, want: f64, model_err: f64) {
    let tol = 4.0 * se + model_err;
    eprintln!("{what}: simulated {sim:.5} theory {want:.5} (se {se:.1e}, tolerance {tol:.1e})");
    assert!(
        se <= 0.003,
        "{what}: SE {se} too large for a meaningful check"
    );
    assert!((sim - want).abs() <= tol, "{what}: {sim} vs {want}");
}

fn zipf_cache(eviction: Eviction, seed: u64) -> (f64, f64) {
    let mut c = CacheConfig::new(ComponentId(2));
    c.capacity = Some(Capacity::Entries(100));
    c.eviction = eviction;
    let r = run(
        seed,
        reader(
            20_000.0,
            KeyDist::Zipf {
                keys: 1000,
                exponent: 0.8,
            },
        ),
        c,
        instant_origin(),
        None,
        2,
        20,
    );
    hit_ratio(&r)
}

/// LRU under the IRM with Zipf(0.8) popularity over 1000 keys and 100 entries: Che's
/// approximation.
#[test]
fn lru_matches_che_approximation() {
    let p = zipf_popularity(1000, 0.8);
    let (_, want) = che_lru(&p, 100);
    let (sim, se) = zipf_cache(Eviction::Lru, 11);
    check("LRU vs Che", sim, se, want, 0.005);
}

/// FIFO under the IRM: the characteristic-time approximation `pT/(1+pT)`. LFU keeps the
/// most popular keys, so it beats LRU, which beats FIFO.
#[test]
fn fifo_matches_its_approximation_and_lfu_beats_lru() {
    let p = zipf_popularity(1000, 0.8);
    let (_, want) = che_fifo(&p, 100);
    let (fifo, se) = zipf_cache(Eviction::Fifo, 12);
    check("FIFO vs characteristic time", fifo, se, want, 0.005);
    let (lru, _) = zipf_cache(Eviction::Lru, 12);
    let (lfu, _) = zipf_cache(Eviction::Lfu, 12);
    let top: f64 = p[..100].iter().sum();
    eprintln!("FIFO {fifo:.4} < LRU {lru:.4} < LFU {lfu:.4} <= top-100 mass {top:.4}");
    assert!(fifo < lru && lru < lfu && lfu <= top + 0.005);
}

/// A TTL cache with room for every key, Poisson requests of λ per key: λT / (1 + λT), for
/// λT = 0.25, 1 and 5.
#[test]
fn ttl_hit_ratio_matches_renewal_formula() {
    let keys = 100;
    let rate = 10_000.0;
    let per_key = rate / keys as f64;
    for (i, ttl_ms) in [2.5, 10.0, 50.0].into_iter().enumerate() {
        let mut c = CacheConfig::new(ComponentId(2));
        c.capacity = Some(Capacity::Entries(keys));
        c.ttl = Some(SimDuration::from_nanos((ttl_ms * 1e6) as u64));
        let r = run(
            20 + i as u64,
            reader(rate, KeyDist::Uniform { keys }),
            c,
            instant_origin(),
            None,
            1,
            20,
        );
        let (sim, se) = hit_ratio(&r);
        let want = ttl_hit_ratio(per_key, ttl_ms / 1e3);
        check(&format!("TTL {ttl_ms} ms"), sim, se, want, 0.0);
        assert_eq!(counter(&r, CACHE, "evictions"), 0);
    }
}

/// Stale hits with a versioned origin written behind the cache's back (Poisson writes of rate
/// `w` per key straight to the origin), reads through a TTL cache. An entry fetched at time 0
/// serves hits uniformly over its lifetime `(0, T)`; a hit at `t` is stale when a write fell
/// in `(0, t]`, so the stale fraction of hits is `1 − (1 − e^{−wT}) / (wT)`. The cache counts
/// a lower bound (exact when at most one write falls between two fetches, see the module docs
/// of `cache`), so the check is `exact ≥ counted ≥ exact × (1 − P(≥ 2 writes in a cycle))`
/// with a cycle of `T + 1/λ`, plus 4 SE of sampling noise on each side.
#[test]
fn stale_hits_bracket_the_exact_value() {
    let keys = 50u64;
    let read_rate = 5_000.0;
    let write_rate = 100.0; // 2 writes per key per second
    let ttl = 0.05;
    let (lambda, w) = (read_rate / keys as f64, write_rate / keys as f64);
    let mut c = CacheConfig::new(ComponentId(2));
    c.capacity = Some(Capacity::Entries(keys));
    c.ttl = Some(SimDuration::from_millis(50));
    let mut origin = instant_origin();
    origin.versioned = true;
    let mut writer = OpenLoopConfig::new(ComponentId(2), write_rate);
    writer.keys = KeyDist::Uniform { keys };
    writer.mix = OpMix {
        read: 0.0,
        write: 1.0,
        other: 0.0,
    };
    let r = run(
        31,
        reader(read_rate, KeyDist::Uniform { keys }),
        c,
        origin,
        Some(writer),
        1,
        30,
    );
    let hits = counter(&r, CACHE, "hits") as f64;
    let stale = counter(&r, CACHE, "stale_hits") as f64;
    let frac = stale / hits;
    let exact = 1.0 - (1.0 - (-w * ttl).exp()) / (w * ttl);
    let cycle = ttl + 1.0 / lambda;
    let p_two = 1.0 - (-w * cycle).exp() * (1.0 + w * cycle);
    // Stale hits come in clusters (all hits of one entry after one write): the SE uses the
    // number of cache lifetimes that saw a write, not the number of hits.
    let lifetimes_with_write = (counter(&r, CACHE, "misses") as f64) * (1.0 - (-w * ttl).exp());
    let se = exact / lifetimes_with_write.sqrt();
    eprintln!(
        "stale fraction {frac:.5}: exact {exact:.5}, lower bound {:.5} (se {se:.1e}); \
         unresolved {}",
        exact * (1.0 - p_two),
        counter(&r, CACHE, "unresolved_hits")
    );
    assert!(frac <= exact + 4.0 * se, "{frac} > {exact}");
    assert!(frac >= exact * (1.0 - p_two) - 4.0 * se, "{frac} too low");
    assert!(stale > 100.0);
}
