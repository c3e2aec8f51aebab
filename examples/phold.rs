//! PHOLD: the classic discrete-event kernel benchmark, run through clustersim's public component
//! API, with a bare hand-written loop to compare against in the same build.
//!
//! N logical processes (components, all on one node) start with M events each. Every event
//! schedules one new event at a uniformly random LP, `0.1 + Exp(mean 1.0)` time units later
//! (1 unit = 1 ms of simulated time). Delivery uses `send_direct`, which bypasses the network on
//! purpose: PHOLD measures the event kernel (queue, dispatch, per-component state), not the
//! network model.
//!
//! ```text
//! cargo run --release --example phold -- --lps 1000 --events-per-lp 16 --events 10000000
//! cargo run --release --example phold -- --lps 1000 --events-per-lp 16 --events 10000000 --bare
//! ```
//!
//! `--bare` runs the same model as a plain `BinaryHeap<Reverse<(time, seq, lp)>>` loop with one
//! ChaCha8 stream and the same delay distribution. The last line printed is always
//! `events_per_s=<integer>`, for scripts.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clustersim_engine::rng::{self, Rng};
use clustersim_engine::{Component, ComponentId, Ctx, Dist, Limits, Protocol, SimBuilder, SimTime};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// One time unit in nanoseconds.
const UNIT_NS: f64 = 1_000_000.0;

/// The PHOLD vocabulary: an event carries nothing but its arrival.
struct Phold;
impl Protocol for Phold {
    type Msg = ();
    type Timer = ();
}

/// Parameters every LP shares.
struct Params {
    lps: u64,
    events_per_lp: u32,
    delay: Dist,
}

/// One logical process.
struct Lp {
    params: Arc<Params>,
}

impl Component<Phold> for Lp {
    fn on_start(&mut self, cx: &mut Ctx<'_, Phold>) {
        let me = cx.me();
        for _ in 0..self.params.events_per_lp {
            let delay = self.params.delay.sample_duration(cx.rng());
            cx.send_direct(me, delay, ());
        }
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Phold>, _from: ComponentId, (): ()) {
        let dst = ComponentId(rng::below(cx.rng(), self.params.lps) as u32);
        let delay = self.params.delay.sample_duration(cx.rng());
        cx.send_direct(dst, delay, ());
    }
}

struct Config {
    lps: u64,
    events_per_lp: u32,
    events: u64,
    seed: u64,
    bare: bool,
}

fn usage() -> String {
    "usage: phold [--lps N] [--events-per-lp M] [--events E] [--seed S] [--bare]".to_owned()
}

fn parse_args() -> Result<Config, String> {
    let mut cfg = Config {
        lps: 1000,
        events_per_lp: 16,
        events: 10_000_000,
        seed: 1,
        bare: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            let v = args
                .next()
                .ok_or_else(|| format!("{name} needs a value\n{}", usage()))?;
            v.replace('_', "")
                .parse::<u64>()
                .map_err(|e| format!("{name} {v}: {e}"))
        };
        match arg.as_str() {
            "--lps" => cfg.lps = value("--lps")?,
            "--events-per-lp" => {
                cfg.events_per_lp =
                    u32::try_from(value("--events-per-lp")?).map_err(|e| e.to_string())?
            }
            "--events" => cfg.events = value("--events")?,
            "--seed" => cfg.seed = value("--seed")?,
            "--bare" => cfg.bare = true,
            "-h" | "--help" => return Err(usage()),
            other => return Err(format!("unknown argument {other}\n{}", usage())),
        }
    }
    if cfg.lps == 0 || cfg.lps > u64::from(u32::MAX) || cfg.events_per_lp == 0 {
        return Err("--lps must be in 1..=2^32-1 and --events-per-lp at least 1".to_owned());
    }
    Ok(cfg)
}

/// What one run measured.
struct Outcome {
    events: u64,
    wall: Duration,
    end_time: SimTime,
    pending: usize,
    queue_bytes: usize,
}

fn run_engine(cfg: &Config, delay: Dist) -> Outcome {
    let params = Arc::new(Params {
        lps: cfg.lps,
        events_per_lp: cfg.events_per_lp,
        delay,
    });
    let mut b = SimBuilder::<Phold>::new(cfg.seed);
    let region = b.add_region("r");
    let node = b.add_node("n", region);
    for i in 0..cfg.lps {
        b.add_component(
            node,
            &format!("lp{i}"),
            Box::new(Lp {
                params: Arc::clone(&params),
            }),
        );
    }
    let sim = b.build().expect("a valid PHOLD setup");
    let limits = Limits::new(SimTime::from_nanos(u64::MAX - 1), cfg.events);
    // Wall-clock timing of the benchmark itself; it never influences the simulation.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let report = sim.run_to_report(limits);
    let wall = started.elapsed();
    Outcome {
        events: report.summary.events,
        wall,
        end_time: report.summary.now,
        pending: report.summary.pending,
        queue_bytes: report.queue_memory_bytes,
    }
}

fn run_bare(cfg: &Config, delay: &Dist) -> Outcome {
    let mut rng: Rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let initial = cfg.lps as usize * cfg.events_per_lp as usize;
    let mut heap: BinaryHeap<Reverse<(u64, u64, u32)>> = BinaryHeap::with_capacity(initial);
    // Wall-clock timing of the benchmark itself; it never influences the simulation.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let mut seq = 0u64;
    for lp in 0..cfg.lps as u32 {
        for _ in 0..cfg.events_per_lp {
            heap.push(Reverse((
                delay.sample_duration(&mut rng).as_nanos(),
                seq,
                lp,
            )));
            seq += 1;
        }
    }
    let mut events = 0u64;
    let mut now = 0u64;
    while events < cfg.events {
        let Some(Reverse((at, _, _lp))) = heap.pop() else {
            break;
        };
        now = at;
        events += 1;
        let dst = rng::below(&mut rng, cfg.lps) as u32;
        let at = now.saturating_add(delay.sample_duration(&mut rng).as_nanos());
        heap.push(Reverse((at, seq, dst)));
        seq += 1;
    }
    let wall = started.elapsed();
    Outcome {
        events,
        wall,
        end_time: SimTime::from_nanos(now),
        pending: heap.len(),
        queue_bytes: heap.capacity() * size_of::<Reverse<(u64, u64, u32)>>(),
    }
}

/// Peak resident set size in KiB (`VmHWM`), where `/proc` has it.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> ExitCode {
    let cfg = match parse_args() {
        Ok(cfg) => cfg,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::FAILURE;
        }
    };
    // 0.1 + Exp(mean 1.0) time units, in nanoseconds.
    let delay = Dist::exponential(UNIT_NS)
        .and_then(|exp| Dist::shifted(0.1 * UNIT_NS, exp))
        .expect("valid delay distribution");
    let mode = if cfg.bare {
        "bare BinaryHeap loop"
    } else {
        "clustersim engine"
    };
    println!(
        "phold: {mode}, lps={} events_per_lp={} events={} seed={}",
        cfg.lps, cfg.events_per_lp, cfg.events, cfg.seed
    );
    let out = if cfg.bare {
        run_bare(&cfg, &delay)
    } else {
        run_engine(&cfg, delay)
    };
    let secs = out.wall.as_secs_f64();
    let rate = if secs > 0.0 {
        out.events as f64 / secs
    } else {
        0.0
    };
    println!(
        "events={} wall={:.3}s ns/event={:.1} sim_time={:.1} units",
        out.events,
        secs,
        secs * 1e9 / out.events.max(1) as f64,
        out.end_time.as_nanos() as f64 / UNIT_NS
    );
    println!(
        "pending={} queue_bytes={} bytes/pending={:.1}",
        out.pending,
        out.queue_bytes,
        out.queue_bytes as f64 / out.pending.max(1) as f64
    );
    match peak_rss_kib() {
        Some(kib) => println!("peak_rss={:.1} MiB", kib as f64 / 1024.0),
        None => println!("peak_rss=unknown"),
    }
    println!("events_per_s={}", rate.round() as u64);
    ExitCode::SUCCESS
}
