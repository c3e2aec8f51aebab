//! Shard-placement micro-benchmarks (divan): one key lookup per iteration. The ring is a binary
//! search over n·v points, O(log(n·v)) — the headline case is 1000 servers × 1000 virtual
//! nodes (10^6 points); mod hashing is O(1), ranges O(log n), rendezvous O(n) by nature.

use clustersim_models::sharding::{Partitioner, Scheme};

fn main() {
    divan::main();
}

fn lookups(bencher: divan::Bencher, scheme: Scheme, n: u32) {
    let members: Vec<u32> = (0..n).collect();
    let weights = vec![1u32; n as usize];
    let p = Partitioner::new(scheme, &weights, 1 << 30, &members);
    let mut key = 0u64;
    bencher.bench_local(|| {
        key = key.wrapping_add(0x9e37_79b9_7f4a_7c15);
        p.owner(divan::black_box(key))
    });
}

/// Consistent hashing, `n` servers × 1000 virtual nodes.
#[divan::bench(args = [10, 100, 1000])]
fn ring_1000_vnodes(bencher: divan::Bencher, n: u32) {
    lookups(bencher, Scheme::Consistent { vnodes: 1000 }, n);
}

/// Mod hashing.
#[divan::bench(args = [10, 1000])]
fn modulo(bencher: divan::Bencher, n: u32) {
    lookups(bencher, Scheme::Mod, n);
}

/// Sorted key ranges.
#[divan::bench(args = [10, 1000])]
fn range(bencher: divan::Bencher, n: u32) {
    lookups(bencher, Scheme::Range, n);
}

/// Rendezvous hashing (linear in the member count).
#[divan::bench(args = [10, 100])]
fn rendezvous(bencher: divan::Bencher, n: u32) {
    lookups(bencher, Scheme::Rendezvous, n);
}
