//! Kernel micro-benchmarks (divan). CI only compiles them (`cargo bench --no-run`); run them
//! by hand with `cargo bench -p clustersim-engine --bench kernel` and put the numbers in
//! `docs/perf.md`. Each bench is sized to finish in a second or two.
//!
//! - `queue_hold` / `binary_heap_hold`: the hold model (pop the earliest entry, push one a
//!   random interval later) at 10^3, 10^5 and 10^6 pending entries, on the engine's
//!   [`EventQueue`] and on `std`'s `BinaryHeap` for reference;
//! - `net_send`: message throughput between two components on two nodes of one region, over
//!   the network model (constant latency), for both transports;
//! - `ping_3_nodes`: events per second of a token passed around three nodes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use clustersim_engine::queue::EventQueue;
use clustersim_engine::*;
use divan::counter::ItemsCount;

fn main() {
    divan::main();
}

const QUEUE_SIZES: [usize; 3] = [1_000, 100_000, 1_000_000];

/// Pseudo-random delays, mean 1 ms: xorshift, so that the generator costs next to nothing.
fn delays() -> impl FnMut() -> u64 {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % 2_000_000
    }
}

/// One pop and one push on the engine's queue, `pending` entries in it (after a warm-up of as
/// many operations, so that the one-off bucketing of the initial entries is not measured).
#[divan::bench(args = QUEUE_SIZES, sample_size = 1000)]
fn queue_hold(bencher: divan::Bencher, pending: usize) {
    let mut next = delays();
    let mut q = EventQueue::with_capacity(pending);
    for i in 0..pending {
        q.push(SimTime::from_nanos(next()), i as u32)
            .expect("within limits");
    }
    let mut hold = move || {
        let p = q.pop().expect("never empty");
        q.push(p.at + SimDuration::from_nanos(next()), p.payload)
            .expect("within limits");
    };
    (0..pending).for_each(|_| hold());
    bencher.counter(ItemsCount::new(1usize)).bench_local(hold);
}

/// The same on `BinaryHeap<Reverse<(time, seq, payload)>>`, for reference.
#[divan::bench(args = QUEUE_SIZES, sample_size = 1000)]
fn binary_heap_hold(bencher: divan::Bencher, pending: usize) {
    let mut next = delays();
    let mut heap = BinaryHeap::with_capacity(pending);
    for seq in 0..pending as u64 {
        heap.push(Reverse((next(), seq, seq as u32)));
    }
    let mut seq = pending as u64;
    let mut hold = move || {
        let Reverse((at, _, payload)) = heap.pop().expect("never empty");
        heap.push(Reverse((at + next(), seq, payload)));
        seq += 1;
    };
    (0..pending).for_each(|_| hold());
    bencher.counter(ItemsCount::new(1usize)).bench_local(hold);
}

struct Token;
impl Protocol for Token {
    type Msg = u32;
    type Timer = ();
}

/// Sends to `next` on start (if it serves) and whenever a message arrives.
struct Relay {
    next: ComponentId,
    serve: bool,
    transport: Transport,
}

impl Component<Token> for Relay {
    fn on_start(&mut self, cx: &mut Ctx<'_, Token>) {
        if self.serve {
            cx.send_with(self.next, 0, self.transport, 100);
        }
    }
    fn on_message(&mut self, cx: &mut Ctx<'_, Token>, _from: ComponentId, n: u32) {
        cx.send_with(self.next, n.wrapping_add(1), self.transport, 100);
    }
}

/// `nodes` nodes in one region, 100 µs apart, one relay each, passing a token in a ring.
fn token_ring(nodes: u32, transport: Transport) -> Sim<Token> {
    let mut b = SimBuilder::<Token>::new(1);
    let region = b.add_region("r");
    b.network().intra_region =
        LinkSpec::with_latency(Dist::constant(100_000.0).expect("a valid latency"));
    for i in 0..nodes {
        let node = b.add_node(&format!("n{i}"), region);
        let relay = Relay {
            next: ComponentId((i + 1) % nodes),
            serve: i == 0,
            transport,
        };
        b.add_component(node, &format!("relay{i}"), Box::new(relay));
    }
    b.build().expect("a valid simulation")
}

const MESSAGES: u64 = 20_000;

/// Messages per second through the network model between two nodes (each delivery is one
/// event whose handler sends the next message).
#[divan::bench(args = [Transport::Datagram, Transport::Stream], sample_count = 30)]
fn net_send(bencher: divan::Bencher, transport: Transport) {
    bencher
        .counter(ItemsCount::new(MESSAGES))
        .with_inputs(|| token_ring(2, transport))
        .bench_local_values(|mut sim| {
            let summary = sim.run(Limits::new(SimTime::MAX, MESSAGES));
            assert_eq!(summary.events, MESSAGES);
            sim
        });
}

/// Events per second: a token around three nodes (datagrams).
#[divan::bench(sample_count = 30)]
fn ping_3_nodes(bencher: divan::Bencher) {
    bencher
        .counter(ItemsCount::new(MESSAGES))
        .with_inputs(|| token_ring(3, Transport::Datagram))
        .bench_local_values(|mut sim| {
            let summary = sim.run(Limits::new(SimTime::MAX, MESSAGES));
            assert_eq!(summary.events, MESSAGES);
            sim
        });
}
