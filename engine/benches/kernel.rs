//! Kernel micro-benchmarks (divan): event-queue hold model at several queue sizes, and a
//! two-node ping-pong through the network (stream and datagram). CI only compiles them
//! (`cargo bench --no-run`); numbers measured by hand go in `docs/perf.md`.

use clustersim_engine::queue::EventQueue;
use clustersim_engine::*;

fn main() {
    divan::main();
}

/// Hold model: pop the earliest entry, push one a pseudo-random interval later.
#[divan::bench(args = [1_000, 100_000, 1_000_000])]
fn queue_hold(bencher: divan::Bencher, pending: usize) {
    let mut q = EventQueue::with_capacity(pending);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % 1_000_000
    };
    for i in 0..pending {
        q.push(SimTime::from_nanos(next()), i as u32)
            .expect("within limits");
    }
    bencher.bench_local(|| {
        let p = q.pop().expect("never empty");
        q.push(p.at + SimDuration::from_nanos(next()), p.payload)
            .expect("within limits");
    });
}

struct Ping;
impl Protocol for Ping {
    type Msg = u32;
    type Timer = ();
}

struct Player {
    peer: ComponentId,
    serve: bool,
    transport: Transport,
}

impl Component<Ping> for Player {
    fn on_start(&mut self, cx: &mut Ctx<'_, Ping>) {
        if self.serve {
            cx.send_with(self.peer, 0, self.transport, 100);
        }
    }
    fn on_message(&mut self, cx: &mut Ctx<'_, Ping>, from: ComponentId, n: u32) {
        cx.send_with(from, n.wrapping_add(1), self.transport, 100);
    }
}

fn ping_sim(transport: Transport) -> Sim<Ping> {
    let mut b = SimBuilder::<Ping>::new(1);
    let r = b.add_region("r");
    let (n1, n2) = (b.add_node("a", r), b.add_node("b", r));
    b.network().intra_region =
        LinkSpec::with_latency(Dist::uniform(50_000.0, 150_000.0).expect("valid"));
    b.add_component(
        n1,
        "alice",
        Box::new(Player {
            peer: ComponentId(1),
            serve: true,
            transport,
        }),
    );
    b.add_component(
        n2,
        "bob",
        Box::new(Player {
            peer: ComponentId(0),
            serve: false,
            transport,
        }),
    );
    b.build().expect("valid simulation")
}

/// 100,000 message deliveries between two nodes over the network model.
#[divan::bench(args = [Transport::Datagram, Transport::Stream])]
fn net_ping_100k(bencher: divan::Bencher, transport: Transport) {
    bencher
        .with_inputs(|| ping_sim(transport))
        .bench_local_values(|mut sim| {
            sim.run(Limits::new(SimTime::MAX, 100_000));
        });
}
