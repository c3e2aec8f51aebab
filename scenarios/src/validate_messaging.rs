//! Validation of the messaging components (`kind: Messaging(...)`): resolves brokers,
//! exchanges, queues, topics and groups by name, interns routing-key words, and builds the
//! routing-key table a queue broker shares with its producers. A child module of
//! [`crate::validate`], so it reuses its context and name helpers.

use std::collections::BTreeMap;

use clustersim_engine::ComponentId;
use clustersim_models::messaging::{
    self as m, AckMode, Acks, Binding, Destination, ExchangeConfig, ExchangeKind, FullPolicy,
    GroupConfig, LogBrokerConfig, LogConsumerConfig, LogFailureConfig, MessagingConfig,
    Partitioner, ProducerConfig, QueueBrokerConfig, QueueConfig, QueueConsumerConfig, RetryConfig,
    TopicConfig, Word, WorkConfig,
};

use super::{Ctx, Names, bytes_u32, check_dist, target, transport};
use crate::diagnostic::Diagnostic;
use crate::raw::{self, Scenario};
use crate::raw_messaging::{self as rm, Messaging};

/// The messaging component at `path` (ending in `.kind`).
pub(super) fn config(
    cx: &mut Ctx,
    raw: &Scenario,
    components: &Names<'_>,
    path: &str,
    me: &str,
    k: &Messaging,
) -> MessagingConfig {
    let path = format!("{path}.Messaging.{}", k.variant());
    match k {
        Messaging::Producer(p) => {
            MessagingConfig::Producer(producer(cx, raw, components, &path, p))
        }
        Messaging::QueueBroker(b) => {
            MessagingConfig::QueueBroker(queue_broker(cx, raw, &path, me, b))
        }
        Messaging::QueueConsumer(c) => {
            MessagingConfig::QueueConsumer(queue_consumer(cx, raw, components, &path, c))
        }
        Messaging::LogBroker(b) => {
            MessagingConfig::LogBroker(log_broker(cx, raw, components, &path, me, b))
        }
        Messaging::LogConsumer(c) => {
            MessagingConfig::LogConsumer(log_consumer(cx, raw, components, &path, c))
        }
    }
}

/// The raw component named `name`, if it is a messaging component.
fn find<'a>(raw: &'a Scenario, name: &str) -> Option<&'a Messaging> {
    raw.components
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| match &c.kind {
            raw::Kind::Messaging(m) => Some(m),
            _ => None,
        })
}

fn queue_broker_of<'a>(
    cx: &mut Ctx,
    raw: &'a Scenario,
    path: &str,
    name: &str,
) -> Option<&'a rm::QueueBroker> {
    broker_of(cx, raw, path, name, "QueueBroker", |m| match m {
        Messaging::QueueBroker(b) => Some(b),
        _ => None,
    })
}

fn log_broker_of<'a>(
    cx: &mut Ctx,
    raw: &'a Scenario,
    path: &str,
    name: &str,
) -> Option<&'a rm::LogBroker> {
    broker_of(cx, raw, path, name, "LogBroker", |m| match m {
        Messaging::LogBroker(b) => Some(b),
        _ => None,
    })
}

/// The broker of kind `kind` named `name`, picked out of its `Messaging` variant by `pick`;
/// a component of another kind gets an error at `path` (an unknown name is reported by the
/// component-name check, not here).
fn broker_of<'a, T>(
    cx: &mut Ctx,
    raw: &'a Scenario,
    path: &str,
    name: &str,
    kind: &str,
    pick: impl Fn(&'a Messaging) -> Option<&'a T>,
) -> Option<&'a T> {
    let found = find(raw, name).and_then(pick);
    if found.is_none() && raw.components.iter().any(|c| c.name == name) {
        cx.push(
            Diagnostic::new(path, format!("`{name}` is not a {kind}")).with_hint(format!(
                "point `broker` at a component of kind Messaging({kind}(...))"
            )),
        );
    }
    found
}

/// Index of `name` among `names` (what: "queue", "exchange"...), or a did-you-mean error.
fn index_of<'a>(
    cx: &mut Ctx,
    path: &str,
    what: &str,
    name: &str,
    names: impl Iterator<Item = &'a str> + Clone,
) -> u16 {
    match names.clone().position(|n| n == name) {
        Some(i) => i as u16,
        None => {
            cx.push(Diagnostic::unknown_name(path, what, name, names));
            0
        }
    }
}

/// The routing keys used with queue broker `broker` (the broker's own request key first,
/// then every producer's, in file order, without duplicates). Producers and the broker
/// compute the same table, so an index means the same key on both sides.
fn routing_table(raw: &Scenario, broker: &str, b: &rm::QueueBroker) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |k: &str| {
        if !out.iter().any(|x| x == k) {
            out.push(k.to_owned());
        }
    };
    if b.request_exchange.is_some() {
        add(&b.request_routing_key);
    }
    for c in &raw.components {
        if let raw::Kind::Messaging(Messaging::Producer(p)) = &c.kind
            && p.broker == broker
            && p.exchange.is_some()
        {
            if p.routing_keys.is_empty() {
                add("");
            }
            for k in &p.routing_keys {
                add(k);
            }
        }
    }
    out
}

/// Splits a routing key or pattern into words; `Err` for an empty word (`"a..b"`).
fn split(key: &str) -> Result<Vec<&str>, String> {
    if key.is_empty() {
        return Ok(Vec::new());
    }
    let words: Vec<&str> = key.split('.').collect();
    if words.iter().any(|w| w.is_empty()) {
        return Err(format!(
            "`{key}` has an empty word (words are separated by single dots)"
        ));
    }
    Ok(words)
}

/// The retry policy; its ranges are checked by the model's `validate` (reported once, at
/// the same path).
fn retry(r: &rm::Retry) -> RetryConfig {
    RetryConfig {
        max_attempts: r.max_attempts,
        backoff: r.backoff.0,
        multiplier: r.multiplier,
        backoff_max: r.backoff_max.0,
    }
}

fn producer(
    cx: &mut Ctx,
    raw: &Scenario,
    components: &Names<'_>,
    path: &str,
    p: &rm::Producer,
) -> ProducerConfig {
    let broker = target(cx, components, &format!("{path}.broker"), &p.broker);
    let mut cluster = Vec::new();
    let destination = match (&p.exchange, &p.topic) {
        (Some(x), None) => {
            let bpath = format!("{path}.broker");
            let (exchange, routing_keys) = match queue_broker_of(cx, raw, &bpath, &p.broker) {
                Some(b) => {
                    let e = index_of(
                        cx,
                        &format!("{path}.exchange"),
                        "exchange",
                        x,
                        b.exchanges.iter().map(|e| e.name.as_str()),
                    );
                    let table = routing_table(raw, &p.broker, b);
                    let mut keys: Vec<u16> = Vec::new();
                    for (i, k) in p.routing_keys.iter().enumerate() {
                        if let Err(e) = split(k) {
                            cx.err(format!("{path}.routing_keys[{i}]"), e);
                        }
                        if k.split('.').any(|w| w == "*" || w == "#") {
                            cx.push(
                                Diagnostic::new(
                                    format!("{path}.routing_keys[{i}]"),
                                    format!("`{k}` contains a wildcard"),
                                )
                                .with_hint("`*` and `#` belong in binding keys; routing keys are plain words"),
                            );
                        }
                        keys.push(table.iter().position(|t| t == k).unwrap_or(0) as u16);
                    }
                    if keys.is_empty() {
                        keys.push(table.iter().position(|t| t.is_empty()).unwrap_or(0) as u16);
                    }
                    (e, keys)
                }
                None => (0, vec![0]),
            };
            Destination::Exchange {
                exchange,
                routing_keys,
            }
        }
        (None, Some(t)) => {
            let bpath = format!("{path}.broker");
            let (topic, partitions) = match log_broker_of(cx, raw, &bpath, &p.broker) {
                Some(b) => {
                    cluster = b
                        .cluster
                        .iter()
                        .map(|n| {
                            ComponentId(components.ids.get(n.as_str()).copied().unwrap_or(u32::MAX))
                        })
                        .collect();
                    let i = index_of(
                        cx,
                        &format!("{path}.topic"),
                        "topic",
                        t,
                        b.topics.iter().map(|t| t.name.as_str()),
                    );
                    let n = b.topics.get(usize::from(i)).map_or(1, |t| t.partitions);
                    (i, n.clamp(1, m::MAX_PARTITIONS))
                }
                None => (0, 1),
            };
            let partitioner = match p.partitioner {
                rm::PartitionBy::KeyHash => Partitioner::KeyHash,
                rm::PartitionBy::RoundRobin => Partitioner::RoundRobin,
                rm::PartitionBy::Explicit(x) => Partitioner::Explicit(x),
            };
            let acks = match p.acks {
                rm::ProducerAcks::Zero => Acks::None,
                rm::ProducerAcks::One => Acks::Leader,
                rm::ProducerAcks::All => Acks::All,
            };
            Destination::Topic {
                topic,
                partitions,
                partitioner,
                acks,
            }
        }
        _ => {
            cx.push(
                Diagnostic::new(
                    format!("{path}.exchange"),
                    "a producer needs exactly one of `exchange` (queue broker) and `topic` (log broker)",
                )
                .with_hint("e.g. `exchange: \"events\"` or `topic: \"clicks\"`"),
            );
            Destination::Exchange {
                exchange: 0,
                routing_keys: vec![0],
            }
        }
    };
    ProducerConfig {
        broker,
        destination,
        rate_per_s: p.rate.per_second(),
        poisson: p.arrival == raw::Arrival::Poisson,
        keys: p.keys,
        poison_fraction: p.poison_fraction.value(),
        max_in_flight: p.max_in_flight,
        buffer: p.buffer,
        confirm_timeout: p.confirm_timeout.0,
        size_bytes: bytes_u32(cx, &format!("{path}.size"), p.size),
        transport: p.transport.map(transport).unwrap_or(cx.default_transport),
        limit: p.limit,
        cluster,
        retry_backoff: p.retry_backoff.0,
    }
}

fn queue_broker(
    cx: &mut Ctx,
    raw: &Scenario,
    path: &str,
    me: &str,
    b: &rm::QueueBroker,
) -> QueueBrokerConfig {
    let mut qnames = Names::new("queue");
    for (i, q) in b.queues.iter().enumerate() {
        qnames.add(cx, &format!("{path}.queues[{i}].name"), &q.name);
    }
    let mut xnames = Names::new("exchange");
    for (i, x) in b.exchanges.iter().enumerate() {
        xnames.add(cx, &format!("{path}.exchanges[{i}].name"), &x.name);
    }
    let table = routing_table(raw, me, b);
    // Intern every literal word, in sorted order (stable whatever the file order).
    let mut dict: BTreeMap<&str, u32> = BTreeMap::new();
    for k in &table {
        for w in k.split('.').filter(|w| !w.is_empty()) {
            dict.insert(w, 0);
        }
    }
    for x in &b.exchanges {
        for bind in &x.bindings {
            for w in bind.key.split('.').filter(|w| !w.is_empty()) {
                dict.insert(w, 0);
            }
        }
    }
    for (i, v) in dict.values_mut().enumerate() {
        *v = i as u32;
    }
    let intern = |words: &[&str]| -> Vec<Word> {
        words
            .iter()
            .map(|w| match *w {
                "*" => Word::Star,
                "#" => Word::Hash,
                w => Word::Lit(dict[w]),
            })
            .collect()
    };
    let routing_keys = table
        .iter()
        .map(|k| intern(&split(k).unwrap_or_default()))
        .collect();
    let queues = b
        .queues
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let qp = format!("{path}.queues[{i}]");
            QueueConfig {
                capacity: q.capacity,
                on_full: match q.on_full {
                    rm::OnFull::Reject => FullPolicy::Reject,
                    rm::OnFull::Block => FullPolicy::Block,
                    rm::OnFull::DropOldest => FullPolicy::DropOldest,
                },
                retry: retry(&q.retry),
                dead_letter: q
                    .dead_letter
                    .as_ref()
                    .and_then(|d| qnames.get(cx, &format!("{qp}.dead_letter"), d))
                    .map(|d| d as u16),
                visibility_timeout: q.visibility_timeout.map(|d| d.0),
            }
        })
        .collect();
    let exchanges = b
        .exchanges
        .iter()
        .enumerate()
        .map(|(e, x)| {
            let kind = match x.kind {
                rm::ExchangeType::Fanout => ExchangeKind::Fanout,
                rm::ExchangeType::Direct => ExchangeKind::Direct,
                rm::ExchangeType::Topic => ExchangeKind::Topic,
            };
            let bindings = x
                .bindings
                .iter()
                .enumerate()
                .map(|(j, bind)| {
                    let bp = format!("{path}.exchanges[{e}].bindings[{j}]");
                    let queue = qnames
                        .get(cx, &format!("{bp}.queue"), &bind.queue)
                        .unwrap_or(0);
                    let words = match split(&bind.key) {
                        Ok(w) => w,
                        Err(msg) => {
                            cx.err(format!("{bp}.key"), msg);
                            Vec::new()
                        }
                    };
                    if kind != ExchangeKind::Topic && words.iter().any(|w| *w == "*" || *w == "#") {
                        cx.push(
                            Diagnostic::new(
                                format!("{bp}.key"),
                                format!(
                                    "`{}` uses a wildcard on a {:?} exchange",
                                    bind.key, x.kind
                                ),
                            )
                            .with_hint("only Topic exchanges understand `*` and `#`"),
                        );
                    }
                    Binding {
                        queue: queue as u16,
                        pattern: intern(&words),
                    }
                })
                .collect();
            ExchangeConfig { kind, bindings }
        })
        .collect();
    let request_route = b.request_exchange.as_ref().map(|x| {
        let e = xnames
            .get(cx, &format!("{path}.request_exchange"), x)
            .unwrap_or(0) as u16;
        let r = table
            .iter()
            .position(|t| *t == b.request_routing_key)
            .unwrap_or(0) as u16;
        (e, r)
    });
    if b.queues.is_empty() {
        cx.err(format!("{path}.queues"), "declare at least one queue");
    }
    QueueBrokerConfig {
        exchanges,
        queues,
        routing_keys,
        request_route,
        consumer_timeout: b.consumer_timeout.0,
        transport: b.transport.map(transport).unwrap_or(cx.default_transport),
        label_keys: b.label_keys,
    }
}

fn work(
    cx: &mut Ctx,
    components: &Names<'_>,
    path: &str,
    service_time: &raw::TimeDist,
    failure: f64,
    call: &Option<String>,
    call_timeout: crate::units::Duration,
) -> WorkConfig {
    WorkConfig {
        service_time: check_dist(cx, &format!("{path}.service_time"), service_time),
        workers: 1,
        failure_probability: failure,
        call: call
            .as_ref()
            .map(|c| target(cx, components, &format!("{path}.call"), c)),
        call_timeout: call_timeout.0,
    }
}

fn queue_consumer(
    cx: &mut Ctx,
    raw: &Scenario,
    components: &Names<'_>,
    path: &str,
    c: &rm::QueueConsumer,
) -> QueueConsumerConfig {
    let broker = target(cx, components, &format!("{path}.broker"), &c.broker);
    let queue = match queue_broker_of(cx, raw, &format!("{path}.broker"), &c.broker) {
        Some(b) => index_of(
            cx,
            &format!("{path}.queue"),
            "queue",
            &c.queue,
            b.queues.iter().map(|q| q.name.as_str()),
        ),
        None => 0,
    };
    QueueConsumerConfig {
        broker,
        queue,
        prefetch: c.prefetch,
        ack: match c.ack {
            rm::Ack::OnReceive => AckMode::OnReceive,
            rm::Ack::AfterProcessing => AckMode::AfterProcessing,
        },
        work: WorkConfig {
            workers: c.workers,
            ..work(
                cx,
                components,
                path,
                &c.service_time,
                c.failure_probability.value(),
                &c.call,
                c.call_timeout,
            )
        },
        heartbeat: c.heartbeat.0,
        transport: c.transport.map(transport).unwrap_or(cx.default_transport),
    }
}

fn log_broker(
    cx: &mut Ctx,
    raw: &Scenario,
    components: &Names<'_>,
    path: &str,
    me: &str,
    b: &rm::LogBroker,
) -> LogBrokerConfig {
    let cluster: Vec<_> = b
        .cluster
        .iter()
        .enumerate()
        .map(|(i, n)| target(cx, components, &format!("{path}.cluster[{i}]"), n))
        .collect();
    let index = if b.cluster.is_empty() {
        0
    } else {
        match b.cluster.iter().position(|n| n == me) {
            Some(i) => i as u16,
            None => {
                cx.push(
                    Diagnostic::new(
                        format!("{path}.cluster"),
                        format!("does not list this broker, `{me}`"),
                    )
                    .with_hint("list every broker of the cluster, this one included, in one order"),
                );
                0
            }
        }
    };
    for (i, n) in b.cluster.iter().enumerate() {
        match find(raw, n) {
            Some(Messaging::LogBroker(o)) => {
                if o.cluster != b.cluster || o.topics != b.topics || o.replication != b.replication
                {
                    cx.push(
                        Diagnostic::new(
                            format!("{path}.cluster[{i}]"),
                            format!("`{n}` does not declare the same cluster, topics and replication"),
                        )
                        .with_hint("every member of a cluster lists the same `cluster`, `topics` and `replication`"),
                    );
                }
            }
            _ => {
                if raw.components.iter().any(|c| c.name == *n) {
                    cx.err(
                        format!("{path}.cluster[{i}]"),
                        format!("`{n}` is not a LogBroker"),
                    );
                }
            }
        }
    }
    let mut tnames = Names::new("topic");
    for (i, t) in b.topics.iter().enumerate() {
        tnames.add(cx, &format!("{path}.topics[{i}].name"), &t.name);
    }
    let mut gnames = Names::new("group");
    let groups = b
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            gnames.add(cx, &format!("{path}.groups[{i}].name"), &g.name);
            let topic = tnames
                .get(cx, &format!("{path}.groups[{i}].topic"), &g.topic)
                .unwrap_or(0) as u16;
            GroupConfig { topic }
        })
        .collect();
    let request_topic = b
        .request_topic
        .as_ref()
        .and_then(|t| tnames.get(cx, &format!("{path}.request_topic"), t))
        .unwrap_or(0) as u16;
    LogBrokerConfig {
        topics: b
            .topics
            .iter()
            .map(|t| TopicConfig {
                partitions: t.partitions,
                retention: t.retention,
            })
            .collect(),
        groups,
        session_timeout: b.session_timeout.0,
        rebalance_pause: b.rebalance_pause.0,
        request_topic,
        transport: b.transport.map(transport).unwrap_or(cx.default_transport),
        cluster,
        index,
        replication: b.replication,
        heartbeat: b.heartbeat.0,
        broker_timeout: b.broker_timeout.0,
        replica_fetch_interval: b.replica_fetch_interval.0,
    }
}

fn log_consumer(
    cx: &mut Ctx,
    raw: &Scenario,
    components: &Names<'_>,
    path: &str,
    c: &rm::LogConsumer,
) -> LogConsumerConfig {
    let broker = target(cx, components, &format!("{path}.broker"), &c.broker);
    let (group, topic, partitions, dead_letter) =
        match log_broker_of(cx, raw, &format!("{path}.broker"), &c.broker) {
            Some(b) => {
                let g = index_of(
                    cx,
                    &format!("{path}.group"),
                    "group",
                    &c.group,
                    b.groups.iter().map(|g| g.name.as_str()),
                );
                let topic_name = b.groups.get(usize::from(g)).map(|g| g.topic.as_str());
                let t = b
                    .topics
                    .iter()
                    .position(|t| Some(t.name.as_str()) == topic_name)
                    .unwrap_or(0);
                let parts = b.topics.get(t).map_or(1, |t| t.partitions);
                let dl = c.dead_letter.as_ref().map(|d| {
                    index_of(
                        cx,
                        &format!("{path}.dead_letter"),
                        "topic",
                        d,
                        b.topics.iter().map(|t| t.name.as_str()),
                    )
                });
                (g, t as u16, parts.clamp(1, m::MAX_PARTITIONS), dl)
            }
            None => (0, 0, 1, None),
        };
    let work = work(
        cx,
        components,
        path,
        &c.service_time,
        c.failure_probability.value(),
        &c.call,
        c.call_timeout,
    );
    LogConsumerConfig {
        broker,
        group,
        topic,
        partitions,
        batch: c.batch,
        poll_interval: c.poll_interval.0,
        work,
        failure: LogFailureConfig {
            retry: retry(&c.retry),
            dead_letter,
        },
        heartbeat: c.heartbeat.0,
        start_after: c.start_after.0,
        leave_after: c.leave_after.map(|d| d.0),
        transport: c.transport.map(transport).unwrap_or(cx.default_transport),
        label_keys: c.label_keys,
    }
}
