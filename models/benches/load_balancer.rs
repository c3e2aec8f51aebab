//! Load-balancer micro-benchmarks (divan): one pick plus the connection start/end bookkeeping
//! it implies, at 10, 100 and 1000 backends. The indexed policies (least connections, least
//! response time) must grow like log n, not n; smooth weighted round robin is O(n) by design.

use clustersim_models::load_balancer::{Picker, Policy};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn main() {
    divan::main();
}

const SIZES: [usize; 3] = [10, 100, 1000];

/// Steady state: every pick starts a connection and ends the oldest of a window of 4n open
/// ones, so the loads keep changing and the tree is updated twice per pick.
fn churn(bencher: divan::Bencher, policy: Policy, n: usize) {
    let weights: Vec<u32> = (0..n).map(|i| 1 + (i % 3) as u32).collect();
    let mut p = Picker::new(policy, &weights);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let window = 4 * n;
    let mut open = std::collections::VecDeque::with_capacity(window + 1);
    let mut client = 0u64;
    for _ in 0..window {
        let i = p.pick(&mut rng, client, client).expect("healthy");
        p.started(i);
        open.push_back(i);
        client += 1;
    }
    bencher.bench_local(|| {
        client = client.wrapping_add(0x9e37_79b9);
        let i = p.pick(&mut rng, client, client).expect("healthy");
        p.started(i);
        p.observe(i, 1_000 + (client & 0xfff), 0);
        open.push_back(i);
        let j = open.pop_front().expect("non-empty");
        p.finished(j);
        i
    });
}

#[divan::bench(args = SIZES)]
fn least_connections(bencher: divan::Bencher, n: usize) {
    churn(bencher, Policy::LeastConnections, n);
}

#[divan::bench(args = SIZES)]
fn weighted_least_connections(bencher: divan::Bencher, n: usize) {
    churn(bencher, Policy::WeightedLeastConnections, n);
}

#[divan::bench(args = SIZES)]
fn least_response_time(bencher: divan::Bencher, n: usize) {
    churn(bencher, Policy::LeastResponseTime, n);
}

#[divan::bench(args = SIZES)]
fn power_of_two_choices(bencher: divan::Bencher, n: usize) {
    churn(bencher, Policy::PowerOfTwoChoices, n);
}

#[divan::bench(args = SIZES)]
fn weighted_round_robin(bencher: divan::Bencher, n: usize) {
    churn(bencher, Policy::WeightedRoundRobin, n);
}

#[divan::bench(args = SIZES)]
fn ip_hash(bencher: divan::Bencher, n: usize) {
    churn(bencher, Policy::IpHash, n);
}
