//! Messaging against theory: dead-letter fraction and mean attempts under independent
//! failures, M/M/c for a broker queue with competing consumers, per-key ordering with and
//! without requeue, Kafka consumer groups under crashes.

use clustersim_engine::{ComponentId, Dist, RunReport};
use clustersim_models::messaging::*;
use clustersim_models::queueing;
use clustersim_models::registry::ComponentConfig;

use crate::common::*;

fn msg(c: MessagingConfig) -> ComponentConfig {
    ComponentConfig::Messaging(c)
}

fn to_queue() -> Destination {
    Destination::Exchange {
        exchange: 0,
        routing_keys: vec![0],
    }
}

/// A broker with one fanout exchange bound to queue 0 (queue config `q`) and an unbounded
/// queue 1 (the dead-letter queue when `q.dead_letter = Some(1)`).
fn broker(q: QueueConfig) -> QueueBrokerConfig {
    let mut b = QueueBrokerConfig::new();
    b.queues = vec![q, QueueConfig::new()];
    b.exchanges = vec![ExchangeConfig {
        kind: ExchangeKind::Fanout,
        bindings: vec![Binding {
            queue: 0,
            pattern: Vec::new(),
        }],
    }];
    b.routing_keys = vec![Vec::new()];
    b
}

/// Producer at `rate` (optionally `limit` messages) → broker → `consumers` consumers of
/// queue 0. Ids: producer 0, broker 1, consumers 2...
fn queue_world(
    seed: u64,
    rate: f64,
    limit: Option<u64>,
    keys: u32,
    q: QueueConfig,
    consumers: u32,
    consumer: QueueConsumerConfig,
) -> World {
    let mut w = World::new(seed);
    let mut p = ProducerConfig::new(ComponentId(1), to_queue(), rate);
    p.limit = limit;
    p.keys = keys;
    w.add("producer", msg(MessagingConfig::Producer(p)));
    w.add("broker", msg(MessagingConfig::QueueBroker(broker(q))));
    for i in 0..consumers {
        w.add(
            &format!("consumer{i}"),
            msg(MessagingConfig::QueueConsumer(consumer.clone())),
        );
    }
    w
}

fn sum(r: &RunReport, ids: impl Iterator<Item = u32>, name: &str) -> u64 {
    ids.map(|i| counter(r, ComponentId(i), name)).sum()
}

/// Independent failures with probability p per attempt and at most k attempts: a message is
/// dead-lettered with probability p^k, and its attempts are a geometric variable truncated at
/// k, with mean (1 − p^k)/(1 − p).
///
/// N = 60 000 messages. DLQ fraction: binomial SE √(p^k(1−p^k)/N) = 6.6e-4 at p^k = 0.027
/// (2.4 % relative); mean attempts: SE √(Var/N) with Var ≤ 0.6 → ≤ 3.2e-3. Both are asserted
/// within 4 SE (a correct model fails with probability ≈ 10⁻⁴; the seed is fixed). The run
/// drains completely, so every produced message is finished exactly once.
#[test]
fn dead_letter_fraction_is_p_to_the_k() {
    let (p, k) = (0.3, 3u32);
    let n = 60_000u64;
    let mut q = QueueConfig::new();
    q.retry.max_attempts = k;
    q.dead_letter = Some(1);
    let mut c = QueueConsumerConfig::new(ComponentId(1), 0, Dist::constant(50_000.0).unwrap());
    c.work.workers = 4;
    c.work.failure_probability = p;
    let w = queue_world(3, 20_000.0, Some(n), 100, q, 4, c);
    let r = w.run(secs(0), secs(6), None);
    let b = ComponentId(1);
    let finished = counter(&r, b, "finished");
    let dlq = counter(&r, b, "dead_lettered");
    let attempts = counter(&r, b, "attempts");
    assert_eq!(finished, n, "every message finished once");
    assert_eq!(counter(&r, b, "completed") + dlq, n);
    assert_eq!(counter(&r, b, "duplicates"), 0);
    let frac = dlq as f64 / n as f64;
    let want = p.powi(k as i32);
    let se = (want * (1.0 - want) / n as f64).sqrt();
    eprintln!("DLQ fraction {frac:.5} vs p^k {want:.5} (se {se:.1e})");
    assert!(
        (frac - want).abs() <= 4.0 * se,
        "DLQ fraction {frac} vs {want}"
    );
    let mean = attempts as f64 / n as f64;
    let want_a = (1.0 - want) / (1.0 - p);
    // Var of the truncated geometric, computed exactly from its distribution.
    let probs: Vec<f64> = (1..=k)
        .map(|a| {
            if a < k {
                p.powi(a as i32 - 1) * (1.0 - p)
            } else {
                p.powi(k as i32 - 1)
            }
        })
        .collect();
    let var: f64 = probs
        .iter()
        .enumerate()
        .map(|(i, pr)| pr * ((i + 1) as f64 - want_a).powi(2))
        .sum();
    let se_a = (var / n as f64).sqrt();
    eprintln!("mean attempts {mean:.4} vs {want_a:.4} (se {se_a:.1e})");
    assert!(
        (mean - want_a).abs() <= 4.0 * se_a,
        "attempts {mean} vs {want_a}"
    );
    // Every failed attempt was a nack, every nack but the last ones a retry.
    assert_eq!(
        counter(&r, b, "errors"),
        attempts - counter(&r, b, "completed")
    );
    assert_eq!(counter(&r, b, "retries") + dlq, counter(&r, b, "errors"));
}

/// Poisson producer (λ = 3000/s) → one queue → c = 4 consumers with one worker each,
/// exponential service (μ = 1000/s), prefetch 1 and a zero-latency network: the broker's
/// ready list is exactly the M/M/4 waiting line (ρ = 0.75). Checked: mean wait Wq
/// (`wait_ns`), mean queue length Lq (`queue_len`), end-to-end W at the consumers, each
/// within 4 batch-means SE of `queueing::mmc` (20 batches of 10 s, ≈ 30 000 messages each,
/// thousands of service times per batch, so batches are nearly independent); every SE must
/// be under 5 % of its value so the check is meaningful.
#[test]
fn broker_queue_with_competing_consumers_is_mmc() {
    let (lambda, mu, c) = (3000.0, 1000.0, 4u32);
    let mut cc = QueueConsumerConfig::new(ComponentId(1), 0, Dist::exponential(1e6).unwrap());
    cc.prefetch = 1;
    let w = queue_world(11, lambda, None, 1000, QueueConfig::new(), c, cc);
    let r = w.run(secs(10), secs(210), Some(secs(10)));
    let a = queueing::mmc(lambda, mu, c).unwrap();
    let b = ComponentId(1);
    let check = |what: &str, sim: f64, want: f64, se: f64| {
        eprintln!("{what}: sim {sim:.6} analytic {want:.6} se {se:.2e}");
        assert!(se <= 0.05 * want, "{what}: SE {se} too large");
        assert!(
            (sim - want).abs() <= 4.0 * se + 1e-3 * want,
            "{what}: {sim} vs {want}"
        );
    };
    let wq = hist_batches(&r, b, "wait_ns");
    let (_, se) = mean_se(&wq.iter().map(|x| x.1 / 1e9).collect::<Vec<_>>());
    check("Wq", hist_mean(&r, b, "wait_ns") / 1e9, a.mean_wait, se);
    let (_, se) = mean_se(&gauge_batches(&r, b, "queue_len"));
    check("Lq", gauge_avg(&r, b, "queue_len"), a.mean_queue_len, se);
    // End to end at the consumers: pool their histograms through the window batches.
    let mut batches = vec![(0u64, 0.0f64); 20];
    let mut total = (0u64, 0.0f64);
    for i in 2..2 + c {
        let id = ComponentId(i);
        for (j, x) in hist_batches(&r, id, "latency_ns").iter().enumerate() {
            batches[j].0 += x.0;
            batches[j].1 += x.0 as f64 * x.1;
        }
        let n = hist_len(&r, id, "latency_ns");
        total.0 += n;
        total.1 += n as f64 * hist_mean(&r, id, "latency_ns");
    }
    let means: Vec<f64> = batches.iter().map(|(n, s)| s / *n as f64 / 1e9).collect();
    let (_, se) = mean_se(&means);
    check("W", total.1 / total.0 as f64 / 1e9, a.mean_response, se);
    // Throughput: everything produced is processed (stable queue).
    let done = sum(&r, 2..2 + c, "completed") as f64 / measured_secs(&r);
    assert!((done - lambda).abs() < 0.02 * lambda, "throughput {done}");
}

/// One consumer, one worker, no failures: acknowledgements come in enqueue order, so the
/// checker finds no ordering violation among ~20 000 messages on 10 keys.
#[test]
fn one_consumer_keeps_per_key_order() {
    let c = QueueConsumerConfig::new(ComponentId(1), 0, Dist::exponential(2e5).unwrap());
    let w = queue_world(5, 2000.0, Some(20_000), 10, QueueConfig::new(), 1, c);
    let r = w.run(secs(0), secs(15), None);
    let b = ComponentId(1);
    assert_eq!(counter(&r, b, "completed"), 20_000);
    assert_eq!(counter(&r, b, "ordering_violations"), 0);
}

/// The same consumer with failures (p = 0.2) retried through a 50 ms delayed requeue, up to
/// k = 3 attempts: a retried message is acknowledged after later messages of its key (at
/// 2000/s over 10 keys, ~10 of them pass during the backoff), and the checker counts it once
/// at its final acknowledgement. So violations = messages that failed at least once and then
/// succeeded: N(p − p^k) = 3840 expected for N = 20 000, binomial SE √(N q (1−q)) ≈ 56 with
/// q = p − p^k; asserted within 4 SE, and never above the retries. The per-key labelled series
/// (keys 0..8 of 10) add up to at most the total.
#[test]
fn requeue_with_retries_breaks_per_key_order() {
    let (p, k, n) = (0.2f64, 3u32, 20_000u64);
    let mut q = QueueConfig::new();
    q.retry.max_attempts = k;
    q.retry.backoff = ms(50);
    q.retry.multiplier = 1.0;
    let mut c = QueueConsumerConfig::new(ComponentId(1), 0, Dist::exponential(2e5).unwrap());
    c.work.failure_probability = p;
    let w = queue_world(5, 2000.0, Some(n), 10, q, 1, c);
    let r = w.run(secs(0), secs(20), None);
    let b = ComponentId(1);
    let v = counter(&r, b, "ordering_violations");
    let retries = counter(&r, b, "retries");
    let per_key: u64 = (0..8)
        .map(|k| counter(&r, b, &format!("ordering_violations@key={k}")))
        .sum();
    let q = p - p.powi(k as i32);
    let want = n as f64 * q;
    let se = (n as f64 * q * (1.0 - q)).sqrt();
    eprintln!(
        "violations {v} (expected {want:.0}, se {se:.0}), retries {retries}, keys 0..8: {per_key}"
    );
    assert!(
        (v as f64 - want).abs() <= 4.0 * se,
        "violations {v} vs {want}"
    );
    assert!(v <= retries);
    assert!(per_key > 0 && per_key <= v);
    assert_eq!(counter(&r, b, "finished"), n);
}

/// At-least-once with a visibility timeout shorter than some processing times: the broker
/// redelivers, the first copy's ack completes the message and the second is counted a
/// duplicate; at-most-once never duplicates but loses the messages of a crashed consumer.
#[test]
fn visibility_timeout_duplicates_and_at_most_once_losses() {
    let mut q = QueueConfig::new();
    q.visibility_timeout = Some(ms(5));
    // Service times: 90 % 1 ms, 10 % 10 ms (beyond the 5 ms timeout).
    let service = Dist::mixture(vec![
        (0.9, Dist::constant(1e6).unwrap()),
        (0.1, Dist::constant(1e7).unwrap()),
    ])
    .unwrap();
    let mut c = QueueConsumerConfig::new(ComponentId(1), 0, service);
    c.work.workers = 8;
    let w = queue_world(9, 500.0, Some(5000), 100, q, 2, c.clone());
    let r = w.run(secs(0), secs(15), None);
    let b = ComponentId(1);
    let dup = counter(&r, b, "duplicates");
    let redeliveries = counter(&r, b, "redeliveries");
    eprintln!("redeliveries {redeliveries}, duplicates {dup}");
    // ~10 % of 5000 exceed the timeout: ≈ 500 redeliveries, each processed twice.
    assert!((350..=650).contains(&redeliveries), "{redeliveries}");
    assert_eq!(dup, redeliveries);
    assert_eq!(counter(&r, b, "completed"), 5000);

    // At-most-once, 10 ms per message: the crash at 3 s catches a few messages in progress.
    let mut c2 = c;
    c2.ack = AckMode::OnReceive;
    c2.work.service_time = Dist::constant(1e7).unwrap();
    let mut w = queue_world(9, 500.0, Some(5000), 100, QueueConfig::new(), 2, c2);
    w.crash_between(ComponentId(2), secs(3), secs(4));
    let r = w.run(secs(0), secs(15), None);
    let lost = counter(&r, ComponentId(2), "lost");
    let done = sum(&r, 2..4, "completed");
    assert!(lost > 0, "a crash with messages inside loses them");
    assert_eq!(counter(&r, b, "duplicates"), 0);
    assert_eq!(
        done + lost,
        5000,
        "every message processed or lost, never twice"
    );
}

/// Kafka-style: key-hash producer → 6 partitions → a group of 3 consumers. Records of a key
/// stay in one partition read by one consumer, so no ordering violation; every record is
/// processed and committed; lag returns to zero. Then a consumer crashes: after the session
/// timeout and the rebalance pause its partitions move, the survivors catch up, and the
/// records it had processed without committing are reported as duplicates.
#[test]
fn consumer_group_keeps_order_and_survives_a_crash() {
    let parts = 6u16;
    let build = |crash: bool| {
        let mut w = World::new(21);
        let topic = Destination::Topic {
            topic: 0,
            partitions: parts,
            partitioner: Partitioner::KeyHash,
            acks: Acks::Leader,
        };
        let mut p = ProducerConfig::new(ComponentId(1), topic, 3000.0);
        p.limit = Some(30_000);
        w.add("producer", msg(MessagingConfig::Producer(p)));
        let b = LogBrokerConfig::new(
            vec![TopicConfig {
                partitions: parts,
                retention: 1_000_000,
            }],
            vec![GroupConfig { topic: 0 }],
        );
        w.add("broker", msg(MessagingConfig::LogBroker(b)));
        for i in 0..3 {
            let work = WorkConfig::new(Dist::exponential(5e5).unwrap());
            let mut c = LogConsumerConfig::new(ComponentId(1), 0, 0, parts, work);
            c.batch = 50;
            w.add(&format!("c{i}"), msg(MessagingConfig::LogConsumer(c)));
        }
        if crash {
            w.crash_between(ComponentId(2), secs(4), secs(6));
        }
        w.run(secs(0), secs(20), None)
    };
    let r = build(false);
    let b = ComponentId(1);
    assert_eq!(sum(&r, 2..5, "completed"), 30_000);
    assert_eq!(sum(&r, 2..5, "ordering_violations"), 0);
    assert_eq!(counter(&r, b, "completed"), 30_000, "all committed");
    assert_eq!(
        counter(&r, b, "rebalances"),
        1,
        "three joins at t=0: one rebalance"
    );
    for p in 0..parts {
        let id = series(&r.metrics, b, &format!("lag@group=0/partition={p}"));
        let last = match r.metrics.totals[id.index()] {
            clustersim_engine::SeriesTotal::Gauge { last, .. } => last,
            _ => unreachable!(),
        };
        assert_eq!(last, 0, "partition {p} lag at the end");
    }

    let r = build(true);
    let processed = sum(&r, 2..5, "completed");
    let dups = sum(&r, 2..5, "duplicates");
    eprintln!(
        "crash: processed {processed}, duplicates {dups}, rebalances {}",
        counter(&r, b, "rebalances")
    );
    // Leave (timeout), rejoin: two more rebalances.
    assert_eq!(counter(&r, b, "rebalances"), 3);
    assert_eq!(
        counter(&r, b, "completed"),
        30_000,
        "all committed after the crash"
    );
    assert_eq!(
        processed,
        30_000 + dups,
        "each duplicate processed twice, nothing lost"
    );
    assert_eq!(sum(&r, 2..5, "ordering_violations"), 0);
}

/// Leader failover on a 3-broker cluster (replication 3, 10 ms one-way latency): broker 0
/// leads partition 0 and crashes at 2 s, restarts at 4 s. The first live replica takes over
/// after the 500 ms broker timeout. With acks=1 the records broker 0 had confirmed but not yet
/// replicated (≈ rate per partition × replication delay ≈ 1000/s × 10 ms) are gone: counted
/// as `lost_unreplicated` when it rejoins and truncates. With acks=all nothing confirmed is
/// lost, at the price of a replication round trip in the publish latency.
#[test]
fn leader_failover_loses_unreplicated_records_only_with_acks_1() {
    let run = |acks: Acks| {
        let mut w = World::new(77);
        *w.b.network() = clustersim_engine::NetworkConfig {
            intra_region: clustersim_engine::LinkSpec::with_latency(Dist::constant(1e7).unwrap()),
            ..Default::default()
        };
        let cluster: Vec<ComponentId> = (0..3).map(ComponentId).collect();
        for i in 0..3u16 {
            let mut b = LogBrokerConfig::new(
                vec![TopicConfig {
                    partitions: 3,
                    retention: 1_000_000,
                }],
                vec![],
            );
            b.cluster = cluster.clone();
            b.index = i;
            b.replication = 3;
            w.add(&format!("b{i}"), msg(MessagingConfig::LogBroker(b)));
        }
        let topic = Destination::Topic {
            topic: 0,
            partitions: 3,
            partitioner: Partitioner::RoundRobin,
            acks,
        };
        let mut p = ProducerConfig::new(ComponentId(0), topic, 3000.0);
        p.cluster = cluster.clone();
        let prod = w.add("producer", msg(MessagingConfig::Producer(p)));
        w.crash_between(ComponentId(0), secs(2), secs(4));
        let r = w.run(secs(0), secs(6), None);
        let lost: u64 = (0..3)
            .map(|i| counter(&r, ComponentId(i), "lost_unreplicated"))
            .sum();
        let failovers: u64 = (0..3)
            .map(|i| counter(&r, ComponentId(i), "failovers"))
            .sum();
        let (req, ok, failed) = (
            counter(&r, prod, "requests"),
            counter(&r, prod, "ok"),
            counter(&r, prod, "failed"),
        );
        let lat = hist_mean(&r, prod, "latency_ns") / 1e6;
        eprintln!(
            "{acks:?}: lost {lost}, failovers {failovers}, requests {req}, ok {ok}, failed {failed}, mean publish latency {lat:.1} ms"
        );
        (lost, failovers, req, ok, failed, lat)
    };
    let (lost1, f1, req1, ok1, failed1, lat1) = run(Acks::Leader);
    let (lost_all, f_all, req_all, ok_all, failed_all, lat_all) = run(Acks::All);
    assert_eq!(f1, 1, "partition 0 fails over once");
    assert_eq!(f_all, 1);
    assert!(
        (3..=40).contains(&lost1),
        "acks=1 loses about 10 records, lost {lost1}"
    );
    assert_eq!(lost_all, 0, "acks=all never loses a confirmed record");
    // Every publish is confirmed, refused or timed out, but those of the last ≈ 100 ms
    // (3000/s × at most 100 ms of publish latency) that are still in flight at the end.
    assert!(req1 - ok1 - failed1 < 300 && req_all - ok_all - failed_all < 300);
    // acks=1 publishes caught by the crash are redirected to the new leader; acks=all ones
    // waiting at the dead leader for replication time out.
    assert!(
        failed_all > 0,
        "acks=all publishes pending at the dead leader fail"
    );
    assert!(failed1 <= failed_all);
    // acks=1: one round trip to the leader (20 ms, plus redirects during the failover);
    // acks=all adds the followers' fetch interval and round trip.
    assert!(
        lat1 < 35.0 && lat_all > lat1 + 20.0,
        "publish latency {lat1} vs {lat_all} ms"
    );
}

/// A consumer that leaves cleanly (at 3 s) hands its partitions over in one rebalance and is
/// never re-added by its last in-flight fetches; the group still processes everything, in
/// key order, with no duplicates (it committed before leaving).
#[test]
fn a_consumer_leaving_cleanly_rebalances_once() {
    let parts = 4u16;
    let mut w = World::new(23);
    let topic = Destination::Topic {
        topic: 0,
        partitions: parts,
        partitioner: Partitioner::KeyHash,
        acks: Acks::Leader,
    };
    let mut p = ProducerConfig::new(ComponentId(1), topic, 1000.0);
    p.limit = Some(6000);
    w.add("producer", msg(MessagingConfig::Producer(p)));
    let b = LogBrokerConfig::new(
        vec![TopicConfig {
            partitions: parts,
            retention: 1_000_000,
        }],
        vec![GroupConfig { topic: 0 }],
    );
    w.add("broker", msg(MessagingConfig::LogBroker(b)));
    for i in 0..2 {
        let work = WorkConfig::new(Dist::exponential(2e5).unwrap());
        let mut c = LogConsumerConfig::new(ComponentId(1), 0, 0, parts, work);
        if i == 1 {
            c.leave_after = Some(secs(3));
        }
        w.add(&format!("c{i}"), msg(MessagingConfig::LogConsumer(c)));
    }
    let r = w.run(secs(0), secs(10), None);
    let b = ComponentId(1);
    assert_eq!(
        counter(&r, b, "rebalances"),
        2,
        "the joins at 0 s, the leave at 3 s"
    );
    assert_eq!(counter(&r, b, "completed"), 6000);
    assert_eq!(
        sum(&r, 2..4, "completed"),
        6000,
        "no record processed twice"
    );
    assert_eq!(sum(&r, 2..4, "ordering_violations"), 0);
}

/// Full-queue policies end to end: a producer at 500/s into a 20-message queue drained at
/// ≈ 250/s. `Reject`: the producer sees negative confirms; `Block`: nothing is refused, the
/// producer's window fills (max_in_flight 5) and messages wait in its buffer, so the
/// consumer still gets every message; `DropOldest`: everything is confirmed but the broker
/// evicts, so the consumer processes fewer than were produced.
#[test]
fn full_queue_policies_reject_block_or_drop() {
    let run = |policy: FullPolicy| {
        let mut q = QueueConfig::new();
        q.capacity = Some(20);
        q.on_full = policy;
        let mut c = QueueConsumerConfig::new(ComponentId(1), 0, Dist::constant(4e6).unwrap());
        c.prefetch = 1;
        let mut w = World::new(41);
        let mut p = ProducerConfig::new(ComponentId(1), to_queue(), 500.0);
        p.limit = Some(1000);
        p.max_in_flight = 5;
        w.add("producer", msg(MessagingConfig::Producer(p)));
        w.add("broker", msg(MessagingConfig::QueueBroker(broker(q))));
        w.add("consumer", msg(MessagingConfig::QueueConsumer(c)));
        w.run(secs(0), secs(8), None)
    };
    let (p, b, c) = (ComponentId(0), ComponentId(1), ComponentId(2));
    let r = run(FullPolicy::Reject);
    let rejected = counter(&r, p, "rejected");
    assert!(rejected > 300, "rejected {rejected}");
    assert_eq!(counter(&r, b, "rejected"), rejected);
    assert_eq!(counter(&r, c, "completed") + rejected, 1000);

    let r = run(FullPolicy::Block);
    assert_eq!(counter(&r, p, "rejected") + counter(&r, p, "dropped"), 0);
    assert_eq!(
        counter(&r, c, "completed"),
        1000,
        "blocked, not lost: 1000 × 4 ms < 8 s"
    );
    let buffered = r
        .metrics
        .series
        .iter()
        .position(|s| s.owner == Some(p) && s.name == "buffered")
        .unwrap();
    match &r.metrics.totals[buffered] {
        clustersim_engine::SeriesTotal::Gauge { max, .. } => {
            assert!(*max > 100, "buffer max {max}")
        }
        _ => unreachable!(),
    }

    let r = run(FullPolicy::DropOldest);
    let dropped = counter(&r, b, "dropped_oldest");
    assert_eq!(counter(&r, p, "ok"), 1000);
    assert!(dropped > 300, "dropped {dropped}");
    assert_eq!(counter(&r, c, "completed") + dropped, 1000);
}

/// Publish-subscribe: a fanout exchange bound to three queues gives every subscriber every
/// message; point-to-point: two consumers of one queue share the messages, each once. And an
/// at-least-once consumer crash: its unacknowledged messages go back to the queue and the
/// other consumer processes them (redeliveries), nothing lost, nothing twice.
#[test]
fn pub_sub_fans_out_and_point_to_point_shares() {
    let mut w = World::new(43);
    let mut b = QueueBrokerConfig::new();
    b.queues = vec![QueueConfig::new(), QueueConfig::new(), QueueConfig::new()];
    b.exchanges = vec![ExchangeConfig {
        kind: ExchangeKind::Fanout,
        bindings: (0..3)
            .map(|q| Binding {
                queue: q,
                pattern: Vec::new(),
            })
            .collect(),
    }];
    b.routing_keys = vec![Vec::new()];
    let mut p = ProducerConfig::new(ComponentId(1), to_queue(), 1000.0);
    p.limit = Some(4000);
    w.add("producer", msg(MessagingConfig::Producer(p)));
    w.add("broker", msg(MessagingConfig::QueueBroker(b)));
    // Subscribers of queues 1 and 2; queue 0 has two competing consumers.
    for (name, q) in [("sub1", 1u16), ("sub2", 2), ("p2p_a", 0), ("p2p_b", 0)] {
        let mut c = QueueConsumerConfig::new(ComponentId(1), q, Dist::exponential(1e6).unwrap());
        c.work.workers = 2;
        w.add(name, msg(MessagingConfig::QueueConsumer(c)));
    }
    w.crash_between(ComponentId(5), secs(2), secs(20));
    let r = w.run(secs(0), secs(10), None);
    assert_eq!(counter(&r, ComponentId(2), "completed"), 4000);
    assert_eq!(counter(&r, ComponentId(3), "completed"), 4000);
    let (a, bb) = (
        counter(&r, ComponentId(4), "completed"),
        counter(&r, ComponentId(5), "completed"),
    );
    assert_eq!(a + bb, 4000, "shared, each once: {a} + {bb}");
    assert!(bb > 500 && a > bb, "p2p_b crashed at 2 s: {a} vs {bb}");
    let broker_id = ComponentId(1);
    assert!(counter(&r, broker_id, "redeliveries") > 0);
    assert_eq!(counter(&r, broker_id, "duplicates"), 0);
    assert_eq!(counter(&r, broker_id, "completed"), 12_000);
}
