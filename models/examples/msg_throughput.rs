//! Messaging throughput: simulated messages per wall-clock second for a Kafka-style topic
//! with 12 partitions read by 3 consumer groups, at 1 M messages.
//!
//! ```text
//! cargo run --release -p clustersim-models --example msg_throughput
//! cargo run --release -p clustersim-models --example msg_throughput -- 2000000   # messages
//! ```
//!
//! One producer writes the messages at 200 000/s (evenly spaced, key-hash partitioner, acks=1:
//! one confirm per message) to a log broker; three groups of four consumers each pull 500
//! records per fetch and process each in 1 µs. Every record is delivered three times (once per
//! group) and committed per batch. The run ends 1 s of simulated time after the last message;
//! the example checks that every group processed every message, then prints the wall time,
//! events, and `messages_per_s` (produced messages per wall second) and `deliveries_per_s`
//! (records processed by consumers per wall second) as the last two lines.

use std::process::ExitCode;
use std::time::Instant;

use clustersim_engine::{ComponentId, Dist, Limits, SimBuilder, SimDuration, SimTime};
use clustersim_models::Cluster;
use clustersim_models::messaging::*;
use clustersim_models::registry::{ComponentConfig, build};

const PARTITIONS: u16 = 12;
const GROUPS: u16 = 3;
const PER_GROUP: u32 = 4;
const RATE: f64 = 200_000.0;

fn main() -> ExitCode {
    let messages: u64 = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 1_000_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: msg_throughput [MESSAGES > 0]");
            return ExitCode::from(2);
        }
    };
    let mut b = SimBuilder::<Cluster>::new(1);
    let region = b.add_region("r");
    let broker = ComponentId(0);
    let mut configs: Vec<(String, ComponentConfig)> = Vec::new();
    let topics = vec![TopicConfig {
        partitions: PARTITIONS,
        retention: u32::try_from(messages).unwrap_or(u32::MAX),
    }];
    let groups = (0..GROUPS).map(|_| GroupConfig { topic: 0 }).collect();
    configs.push((
        "kafka".into(),
        ComponentConfig::Messaging(MessagingConfig::LogBroker(LogBrokerConfig::new(
            topics, groups,
        ))),
    ));
    let mut p = ProducerConfig::new(
        broker,
        Destination::Topic {
            topic: 0,
            partitions: PARTITIONS,
            partitioner: Partitioner::KeyHash,
            acks: Acks::Leader,
        },
        RATE,
    );
    p.poisson = false;
    p.keys = 100_000;
    p.limit = Some(messages);
    configs.push((
        "producer".into(),
        ComponentConfig::Messaging(MessagingConfig::Producer(p)),
    ));
    for g in 0..GROUPS {
        for i in 0..PER_GROUP {
            let work = WorkConfig::new(Dist::constant(1000.0).expect("1 µs"));
            let mut c = LogConsumerConfig::new(broker, g, 0, PARTITIONS, work);
            c.batch = 500;
            configs.push((
                format!("g{g}c{i}"),
                ComponentConfig::Messaging(MessagingConfig::LogConsumer(c)),
            ));
        }
    }
    for (name, cfg) in &configs {
        if let Err(e) = cfg.validate() {
            eprintln!("{name}: {e}");
            return ExitCode::FAILURE;
        }
        let node = b.add_node(name, region);
        let id = b.next_component_id();
        let c = build(cfg, id, b.metrics());
        b.add_component(node, name, c);
    }
    let sim = match b.build() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let end = SimDuration::from_secs_f64(messages as f64 / RATE + 1.0);
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let report = sim.run_to_report(Limits::new(SimTime::ZERO + end, u64::MAX / 2));
    let wall = started.elapsed().as_secs_f64();
    let m = &report.metrics;
    let count = |c: usize, name: &str| {
        m.find(Some(ComponentId(c as u32)), name)
            .map_or(0, |s| m.counter(s))
    };
    let produced = count(1, "ok");
    let mut delivered = 0;
    for g in 0..usize::from(GROUPS) {
        let first = 2 + g * PER_GROUP as usize;
        let done: u64 = (first..first + PER_GROUP as usize)
            .map(|c| count(c, "completed"))
            .sum();
        if done != messages {
            eprintln!("group {g} processed {done} of {messages} messages");
            return ExitCode::FAILURE;
        }
        delivered += done;
    }
    println!("partitions={PARTITIONS} groups={GROUPS} consumers_per_group={PER_GROUP}");
    println!(
        "messages={produced} deliveries={delivered} events={}",
        report.summary.events
    );
    println!("wall_s={wall:.3} simulated_s={:.3}", end.as_secs_f64());
    println!("messages_per_s={}", (produced as f64 / wall) as u64);
    println!("deliveries_per_s={}", (delivered as f64 / wall) as u64);
    ExitCode::SUCCESS
}
