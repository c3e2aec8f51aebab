//! Plain-Rust configuration of the messaging components. The scenarios crate builds these from
//! RON (names resolved to ids, routing-key words interned to numbers); every default is stated
//! on the field that has it.

use clustersim_engine::{ComponentId, Dist, SimDuration, Transport};

use crate::error::{ConfigError, positive, probability};

/// Most partitions a topic may have: a consumer's assignment travels as a 64-bit mask.
pub const MAX_PARTITIONS: u16 = 64;

/// One word of a routing key or of a binding pattern. Words are interned to numbers by the
/// scenarios crate, so the broker never compares text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Word {
    /// A literal word.
    Lit(u32),
    /// `*`: exactly one word (binding patterns of topic exchanges only).
    Star,
    /// `#`: zero or more words (binding patterns of topic exchanges only).
    Hash,
}

/// How an exchange picks the queues a message goes to (RabbitMQ semantics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExchangeKind {
    /// Every bound queue, whatever the routing key.
    Fanout,
    /// Queues whose binding key equals the routing key.
    Direct,
    /// Queues whose binding pattern matches the routing key word by word (`*` one word,
    /// `#` zero or more).
    Topic,
}

/// A binding of a queue to an exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The queue (index into [`QueueBrokerConfig::queues`]).
    pub queue: u16,
    /// Binding key (direct) or pattern (topic); ignored by fanout exchanges.
    pub pattern: Vec<Word>,
}

/// An exchange of a [`crate::messaging::QueueBroker`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExchangeConfig {
    /// Routing semantics.
    pub kind: ExchangeKind,
    /// Bindings, in declaration order (a queue bound twice still gets one copy).
    pub bindings: Vec<Binding>,
}

/// What a bounded queue does with a message that arrives when it is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FullPolicy {
    /// Refuse it: the publisher gets a negative confirm (`rejected`).
    Reject,
    /// Hold the publisher's confirm until there is room; the message waits at the broker
    /// outside the queue (`blocked`), so publishers with a bounded window slow down.
    Block,
    /// Accept it and drop the oldest ready message (`dropped_oldest`).
    DropOldest,
}

/// Retry policy after a failed processing attempt (consumer `Nack`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryConfig {
    /// Processing attempts per message, `>= 1` (1 = no retry). After the last failed attempt
    /// the message goes to the dead-letter queue (or is discarded without one). Default 1.
    pub max_attempts: u32,
    /// Delay before the first retry (0 = requeue at once). Default 0.
    pub backoff: SimDuration,
    /// Growth of the delay per retry, finite and `>= 1`. Default 2.
    pub multiplier: f64,
    /// Cap on the delay, `>= backoff`. Default 10 s.
    pub backoff_max: SimDuration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 1,
            backoff: SimDuration::ZERO,
            multiplier: 2.0,
            backoff_max: SimDuration::from_secs(10),
        }
    }
}

impl RetryConfig {
    /// The delay before retry number `n` (1 = the first retry): `min(backoff_max, backoff ×
    /// multiplier^(n-1))`.
    pub fn delay(&self, n: u32) -> SimDuration {
        let base = self.backoff.as_nanos() as f64;
        let d = base * self.multiplier.powi(n.saturating_sub(1).min(1000) as i32);
        let cap = self.backoff_max.as_nanos() as f64;
        SimDuration::from_nanos(d.min(cap) as u64)
    }
    /// Checks the ranges documented on the fields.
    pub fn validate(&self, field: &str) -> Result<(), ConfigError> {
        if self.max_attempts == 0 {
            return Err(ConfigError::new(
                format!("{field}.max_attempts"),
                "is 0, but a message needs at least 1 attempt",
            ));
        }
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0) {
            return Err(ConfigError::new(
                format!("{field}.multiplier"),
                format!("is {:?}, but it must be finite and >= 1", self.multiplier),
            ));
        }
        if self.backoff_max < self.backoff {
            return Err(ConfigError::new(
                format!("{field}.backoff_max"),
                "is below `backoff`",
            ));
        }
        Ok(())
    }
}

/// A queue of a [`crate::messaging::QueueBroker`].
#[derive(Clone, Debug, PartialEq)]
pub struct QueueConfig {
    /// Most ready messages held (`None` = unbounded). Default `None`. Must be `>= 1`.
    pub capacity: Option<u32>,
    /// What happens to a message arriving at a full queue. Default [`FullPolicy::Reject`].
    pub on_full: FullPolicy,
    /// Retries after failed processing (RabbitMQ-style requeue: the message goes back to the
    /// tail after the backoff, so later messages overtake it).
    pub retry: RetryConfig,
    /// Queue receiving messages whose last attempt failed (index into the broker's queues;
    /// not itself). Default `None`: they are discarded (`discarded`).
    pub dead_letter: Option<u16>,
    /// At-least-once: a delivered message not acknowledged within this time is redelivered
    /// (SQS visibility timeout). `None` (default): only a consumer declared dead (silent for
    /// the broker's `consumer_timeout`) gets its unacknowledged messages redelivered.
    pub visibility_timeout: Option<SimDuration>,
}

impl QueueConfig {
    /// An unbounded queue without retries, dead-letter queue or visibility timeout.
    pub fn new() -> QueueConfig {
        QueueConfig {
            capacity: None,
            on_full: FullPolicy::Reject,
            retry: RetryConfig::default(),
            dead_letter: None,
            visibility_timeout: None,
        }
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig::new()
    }
}

/// A RabbitMQ-style broker: exchanges, queues, push delivery ([`crate::messaging::QueueBroker`]).
#[derive(Clone, Debug, PartialEq)]
pub struct QueueBrokerConfig {
    /// Exchanges, addressed by index from producers.
    pub exchanges: Vec<ExchangeConfig>,
    /// Queues, addressed by index from bindings and consumers; at least one.
    pub queues: Vec<QueueConfig>,
    /// Routing keys producers may use, addressed by index (`Publish::route`).
    pub routing_keys: Vec<Vec<Word>>,
    /// Where a generic [`crate::Request`] is published: `(exchange, routing key index)`.
    /// Default `None`: requests go to queue 0 directly. The response is the publish confirm.
    pub request_route: Option<(u16, u16)>,
    /// A consumer that sent nothing (heartbeat, ack) for this long is declared dead and its
    /// unacknowledged messages are redelivered. Default 3 s, `> 0`.
    pub consumer_timeout: SimDuration,
    /// Transport of deliveries and confirms. Default: the network's.
    pub transport: Transport,
    /// Keys `0..label_keys` get their own `ordering_violations@key=K` series. Default 8.
    pub label_keys: u32,
}

impl QueueBrokerConfig {
    /// One unbounded queue, no exchanges, defaults elsewhere.
    pub fn new() -> QueueBrokerConfig {
        QueueBrokerConfig {
            exchanges: Vec::new(),
            queues: vec![QueueConfig::new()],
            routing_keys: Vec::new(),
            request_route: None,
            consumer_timeout: SimDuration::from_secs(3),
            transport: Transport::Stream,
            label_keys: 8,
        }
    }
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let nq = self.queues.len();
        if nq == 0 {
            return Err(ConfigError::new("queues", "is empty; declare at least one"));
        }
        if nq > usize::from(u16::MAX) || self.exchanges.len() > usize::from(u16::MAX) {
            return Err(ConfigError::new(
                "queues",
                "more than 65535 queues or exchanges",
            ));
        }
        for (i, q) in self.queues.iter().enumerate() {
            if q.capacity == Some(0) {
                return Err(ConfigError::new(
                    format!("queues[{i}].capacity"),
                    "is 0; a queue must hold at least one message",
                ));
            }
            q.retry.validate(&format!("queues[{i}].retry"))?;
            if let Some(d) = q.dead_letter
                && (usize::from(d) >= nq || usize::from(d) == i)
            {
                return Err(ConfigError::new(
                    format!("queues[{i}].dead_letter"),
                    format!("is queue {d}, which is itself or does not exist"),
                ));
            }
            if q.visibility_timeout.is_some_and(|v| v.is_zero()) {
                return Err(ConfigError::new(
                    format!("queues[{i}].visibility_timeout"),
                    "is 0, but it must be > 0",
                ));
            }
        }
        for (e, x) in self.exchanges.iter().enumerate() {
            for (b, bind) in x.bindings.iter().enumerate() {
                if usize::from(bind.queue) >= nq {
                    return Err(ConfigError::new(
                        format!("exchanges[{e}].bindings[{b}].queue"),
                        format!("queue {} does not exist", bind.queue),
                    ));
                }
                let wild = bind.pattern.iter().any(|w| *w != Word::Lit(w.lit()));
                if wild && x.kind != ExchangeKind::Topic {
                    return Err(ConfigError::new(
                        format!("exchanges[{e}].bindings[{b}].pattern"),
                        "uses `*` or `#`, which only topic exchanges understand",
                    ));
                }
            }
        }
        for (r, key) in self.routing_keys.iter().enumerate() {
            if key.iter().any(|w| matches!(w, Word::Star | Word::Hash)) {
                return Err(ConfigError::new(
                    format!("routing_keys[{r}]"),
                    "contains `*` or `#`; wildcards belong in binding patterns",
                ));
            }
        }
        if let Some((e, r)) = self.request_route
            && (usize::from(e) >= self.exchanges.len() || usize::from(r) >= self.routing_keys.len())
        {
            return Err(ConfigError::new(
                "request_route",
                "names an exchange or routing key that does not exist",
            ));
        }
        if self.consumer_timeout.is_zero() {
            return Err(ConfigError::new(
                "consumer_timeout",
                "is 0, but it must be > 0",
            ));
        }
        Ok(())
    }
}

impl Default for QueueBrokerConfig {
    fn default() -> Self {
        QueueBrokerConfig::new()
    }
}

impl Word {
    fn lit(self) -> u32 {
        match self {
            Word::Lit(x) => x,
            Word::Star | Word::Hash => u32::MAX,
        }
    }
}

/// When a consumer acknowledges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckMode {
    /// At-most-once: acknowledged on receipt; a crash while processing loses the message.
    OnReceive,
    /// At-least-once: acknowledged after processing; unacknowledged messages are redelivered
    /// (visibility timeout, consumer declared dead), so duplicates happen.
    AfterProcessing,
}

/// The work a consumer does per message.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkConfig {
    /// Processing time per message (scaled by the node's slowdown).
    pub service_time: Dist,
    /// Parallel workers, `>= 1`. Default 1. Log consumers process one record at a time (in
    /// offset order), so they require 1.
    pub workers: u32,
    /// Independent probability that one processing attempt fails. Default 0.
    /// Messages published as poison (see `ProducerConfig::poison_fraction`) always fail.
    pub failure_probability: f64,
    /// Optional downstream call made after the processing time (a generic
    /// [`crate::Request`]); a non-`Ok` answer or no answer within `call_timeout` fails the
    /// attempt. Default `None`.
    pub call: Option<ComponentId>,
    /// Timeout of the downstream call. Default 1 s, `> 0`.
    pub call_timeout: SimDuration,
}

impl WorkConfig {
    /// `service_time` with one worker and no failures.
    pub fn new(service_time: Dist) -> WorkConfig {
        WorkConfig {
            service_time,
            workers: 1,
            failure_probability: 0.0,
            call: None,
            call_timeout: SimDuration::from_secs(1),
        }
    }
    fn validate(&self) -> Result<(), ConfigError> {
        if self.workers == 0 {
            return Err(ConfigError::new("workers", "is 0, but it must be >= 1"));
        }
        probability("failure_probability", self.failure_probability)?;
        if self.call_timeout.is_zero() {
            return Err(ConfigError::new("call_timeout", "is 0, but it must be > 0"));
        }
        Ok(())
    }
}

/// A consumer of a [`crate::messaging::QueueBroker`] queue ([`crate::messaging::QueueConsumer`]).
#[derive(Clone, Debug, PartialEq)]
pub struct QueueConsumerConfig {
    /// The broker.
    pub broker: ComponentId,
    /// The queue consumed (index into the broker's queues).
    pub queue: u16,
    /// Most unacknowledged messages the broker pushes to this consumer, `>= 1`. Default 10.
    pub prefetch: u32,
    /// When to acknowledge. Default [`AckMode::AfterProcessing`].
    pub ack: AckMode,
    /// The processing.
    pub work: WorkConfig,
    /// Heartbeat period (the broker declares a consumer dead after its `consumer_timeout`
    /// of silence). Default 1 s, `> 0`.
    pub heartbeat: SimDuration,
    /// Transport. Default: the network's.
    pub transport: Transport,
}

impl QueueConsumerConfig {
    /// Consumes `queue` of `broker` with the given processing time and defaults elsewhere.
    pub fn new(broker: ComponentId, queue: u16, service_time: Dist) -> QueueConsumerConfig {
        QueueConsumerConfig {
            broker,
            queue,
            prefetch: 10,
            ack: AckMode::AfterProcessing,
            work: WorkConfig::new(service_time),
            heartbeat: SimDuration::from_secs(1),
            transport: Transport::Stream,
        }
    }
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.prefetch == 0 {
            return Err(ConfigError::new("prefetch", "is 0, but it must be >= 1"));
        }
        if self.heartbeat.is_zero() {
            return Err(ConfigError::new("heartbeat", "is 0, but it must be > 0"));
        }
        self.work.validate()
    }
}

/// How a producer picks the partition of a Kafka-style topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partitioner {
    /// Hash of the message key modulo the partition count (one key, one partition).
    KeyHash,
    /// Always this partition.
    Explicit(u16),
    /// Partitions in turn (messages without a key).
    RoundRobin,
}

/// Replication acknowledgement a producer asks of a log broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acks {
    /// `acks=0`: fire and forget; counted `ok` when sent.
    None,
    /// `acks=1`: the leader appended it.
    Leader,
    /// `acks=all`: every in-sync replica has it.
    All,
}

/// Where a producer publishes.
#[derive(Clone, Debug, PartialEq)]
pub enum Destination {
    /// An exchange of a queue broker, with routing keys drawn uniformly from `routing_keys`
    /// (indices into the broker's routing-key table; empty = index 0, or none for fanout).
    Exchange {
        /// Exchange index.
        exchange: u16,
        /// Routing-key indices to draw from.
        routing_keys: Vec<u16>,
    },
    /// A topic of a log broker.
    Topic {
        /// Topic index.
        topic: u16,
        /// The topic's partition count (filled in by the scenarios crate).
        partitions: u16,
        /// Partition choice.
        partitioner: Partitioner,
        /// Replication acknowledgement.
        acks: Acks,
    },
}

/// A [`crate::messaging::Producer`]: publishes messages at a rate.
#[derive(Clone, Debug, PartialEq)]
pub struct ProducerConfig {
    /// The broker.
    pub broker: ComponentId,
    /// Destination.
    pub destination: Destination,
    /// Messages per second, finite and `> 0`.
    pub rate_per_s: f64,
    /// Poisson arrivals (default) or evenly spaced.
    pub poisson: bool,
    /// Keys are drawn uniformly from `0..keys`, `>= 1`. Default 100.
    pub keys: u32,
    /// Fraction of messages marked poison (every processing attempt fails). Default 0.
    pub poison_fraction: f64,
    /// Most unconfirmed publishes; further messages wait in the producer's buffer (blocked).
    /// Default 1000, `>= 1`.
    pub max_in_flight: u32,
    /// Buffered messages beyond which new ones are dropped (`dropped`). Default 100 000.
    pub buffer: u32,
    /// A publish unconfirmed for this long counts as failed (`failed`, `timeouts`) and frees
    /// its place in the window. Default 1 s, `> 0`.
    pub confirm_timeout: SimDuration,
    /// Wire size of a message, bytes. Default 0.
    pub size_bytes: u32,
    /// Transport. Default: the network's.
    pub transport: Transport,
    /// Stop producing after this many messages (`None` = never). Default `None`.
    pub limit: Option<u64>,
    /// The brokers of a replicated log cluster, in cluster order (`broker` among them):
    /// a publish refused with "not the leader" goes to the leader named in the answer, one
    /// whose send fails to the next broker. Default empty: `broker` only.
    pub cluster: Vec<ComponentId>,
    /// A hint pointing at a broker whose send just failed is followed only after this
    /// backoff (Kafka's `retry.backoff.ms`). Default 100 ms, `> 0`.
    pub retry_backoff: SimDuration,
}

impl ProducerConfig {
    /// Poisson messages at `rate_per_s` to `destination` of `broker`, defaults elsewhere.
    pub fn new(broker: ComponentId, destination: Destination, rate_per_s: f64) -> ProducerConfig {
        ProducerConfig {
            broker,
            destination,
            rate_per_s,
            poisson: true,
            keys: 100,
            poison_fraction: 0.0,
            max_in_flight: 1000,
            buffer: 100_000,
            confirm_timeout: SimDuration::from_secs(1),
            size_bytes: 0,
            transport: Transport::Stream,
            limit: None,
            cluster: Vec::new(),
            retry_backoff: SimDuration::from_millis(100),
        }
    }
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        positive("rate", self.rate_per_s)?;
        if self.rate_per_s > 1e9 {
            return Err(ConfigError::new("rate", "is above the supported 1e9/s"));
        }
        if self.keys == 0 {
            return Err(ConfigError::new("keys", "is 0, but it must be >= 1"));
        }
        probability("poison_fraction", self.poison_fraction)?;
        if self.max_in_flight == 0 {
            return Err(ConfigError::new(
                "max_in_flight",
                "is 0, but it must be >= 1",
            ));
        }
        if self.confirm_timeout.is_zero() {
            return Err(ConfigError::new(
                "confirm_timeout",
                "is 0, but it must be > 0",
            ));
        }
        if let Destination::Topic {
            partitions,
            partitioner,
            ..
        } = self.destination
        {
            if partitions == 0 || partitions > MAX_PARTITIONS {
                return Err(ConfigError::new(
                    "partitions",
                    format!("is {partitions}; a topic has 1 to {MAX_PARTITIONS} partitions"),
                ));
            }
            if let Partitioner::Explicit(p) = partitioner
                && p >= partitions
            {
                return Err(ConfigError::new(
                    "partitioner.Explicit",
                    format!("partition {p} does not exist (the topic has {partitions})"),
                ));
            }
        }
        Ok(())
    }
}

/// A topic of a log broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopicConfig {
    /// Partitions, 1 to [`MAX_PARTITIONS`].
    pub partitions: u16,
    /// Records kept per partition; older ones are deleted (a consumer asking for them
    /// skips ahead, counting `lost`). Default 1 000 000, `>= 1`.
    pub retention: u32,
}

/// A consumer group of a log broker: every group reads every record of its topic once; within
/// a group each partition has at most one consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupConfig {
    /// The topic read.
    pub topic: u16,
}

/// A Kafka-style log broker ([`crate::messaging::LogBroker`]): topics, partitions, offsets,
/// consumer groups with their coordinator, replicas.
#[derive(Clone, Debug, PartialEq)]
pub struct LogBrokerConfig {
    /// Topics, addressed by index.
    pub topics: Vec<TopicConfig>,
    /// Consumer groups, addressed by index.
    pub groups: Vec<GroupConfig>,
    /// A group member silent (no heartbeat, fetch or commit) this long is declared dead and
    /// its group rebalances. Default 1 s, `> 0`.
    pub session_timeout: SimDuration,
    /// The pause of a rebalance: from a membership change until the new assignment is sent
    /// (join and sync rounds, `group.initial.rebalance.delay`). Default 500 ms.
    pub rebalance_pause: SimDuration,
    /// Where a generic [`crate::Request`] is appended (key-hash partition, `acks=1`).
    /// Default topic 0.
    pub request_topic: u16,
    /// Transport. Default: the network's.
    pub transport: Transport,
    /// Replication: every broker of the cluster in one fixed order, this one included.
    /// Default empty: a standalone broker (no replicas).
    pub cluster: Vec<ComponentId>,
    /// This broker's index in `cluster` (ignored when standalone).
    pub index: u16,
    /// Copies of each partition, `1..=cluster.len()`; partition `g` (numbered across topics)
    /// has its replicas on brokers `(g + i) mod n`, `i < replication`. Default 1.
    pub replication: u16,
    /// Brokers send each other heartbeats this often. Default 100 ms, `> 0`.
    pub heartbeat: SimDuration,
    /// A broker silent this long is declared dead: it leaves the in-sync replicas, and the
    /// partitions it led fail over to the first live replica. Default 500 ms, `> heartbeat`.
    pub broker_timeout: SimDuration,
    /// Followers pull new records from their leaders this often (Kafka's replica fetcher):
    /// records appended since a follower's last fetch are not yet replicated. Default 10 ms,
    /// `> 0`.
    pub replica_fetch_interval: SimDuration,
}

impl LogBrokerConfig {
    /// Whether this broker is one of a replicated cluster.
    pub fn clustered(&self) -> bool {
        self.cluster.len() > 1
    }

    /// A broker with the given topics and groups, defaults elsewhere.
    pub fn new(topics: Vec<TopicConfig>, groups: Vec<GroupConfig>) -> Self {
        LogBrokerConfig {
            topics,
            groups,
            session_timeout: SimDuration::from_secs(1),
            rebalance_pause: SimDuration::from_millis(500),
            request_topic: 0,
            transport: Transport::Stream,
            cluster: Vec::new(),
            index: 0,
            replication: 1,
            heartbeat: SimDuration::from_millis(100),
            broker_timeout: SimDuration::from_millis(500),
            replica_fetch_interval: SimDuration::from_millis(10),
        }
    }
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.topics.is_empty() {
            return Err(ConfigError::new("topics", "is empty; declare at least one"));
        }
        for (i, t) in self.topics.iter().enumerate() {
            if t.partitions == 0 || t.partitions > MAX_PARTITIONS {
                return Err(ConfigError::new(
                    format!("topics[{i}].partitions"),
                    format!("is {}; a topic has 1 to {MAX_PARTITIONS}", t.partitions),
                ));
            }
            if t.retention == 0 {
                return Err(ConfigError::new(
                    format!("topics[{i}].retention"),
                    "is 0, but it must be >= 1",
                ));
            }
        }
        for (i, g) in self.groups.iter().enumerate() {
            if usize::from(g.topic) >= self.topics.len() {
                return Err(ConfigError::new(
                    format!("groups[{i}].topic"),
                    format!("topic {} does not exist", g.topic),
                ));
            }
        }
        if self.session_timeout.is_zero() {
            return Err(ConfigError::new(
                "session_timeout",
                "is 0, but it must be > 0",
            ));
        }
        if usize::from(self.request_topic) >= self.topics.len() {
            return Err(ConfigError::new("request_topic", "does not exist"));
        }
        let n = self.cluster.len().max(1);
        if self.replication == 0 || usize::from(self.replication) > n {
            return Err(ConfigError::new(
                "replication",
                format!(
                    "is {}, but it must be 1 to the {n} brokers of the cluster",
                    self.replication
                ),
            ));
        }
        if self.clustered() {
            if usize::from(self.index) >= self.cluster.len() {
                return Err(ConfigError::new("index", "is not a position in `cluster`"));
            }
            let total: usize = self.topics.iter().map(|t| usize::from(t.partitions)).sum();
            if total > 64 {
                return Err(ConfigError::new(
                    "topics",
                    format!("hold {total} partitions; a replicated cluster supports 64 in all"),
                ));
            }
            if !self.groups.is_empty() {
                return Err(ConfigError::new(
                    "groups",
                    "consumer groups are supported on standalone brokers only (no `cluster`)",
                ));
            }
            if self.replica_fetch_interval.is_zero() {
                return Err(ConfigError::new(
                    "replica_fetch_interval",
                    "is 0, but it must be > 0",
                ));
            }
            if self.heartbeat.is_zero() || self.broker_timeout <= self.heartbeat {
                return Err(ConfigError::new(
                    "broker_timeout",
                    "must be longer than `heartbeat`, which must be > 0",
                ));
            }
        }
        Ok(())
    }
}

/// What a log consumer does when a record's processing fails.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogFailureConfig {
    /// Attempts per record, retried in place (the partition waits: order is kept), `>= 1`.
    pub retry: RetryConfig,
    /// After the last failed attempt the record is skipped and committed ("skip and commit");
    /// with `dead_letter` it is first published to that topic of the same broker.
    pub dead_letter: Option<u16>,
}

/// A Kafka-style consumer ([`crate::messaging::LogConsumer`]): joins a group, pulls its
/// partitions.
#[derive(Clone, Debug, PartialEq)]
pub struct LogConsumerConfig {
    /// The broker (partition leader and group coordinator).
    pub broker: ComponentId,
    /// The group joined.
    pub group: u16,
    /// The group's topic.
    pub topic: u16,
    /// The topic's partition count.
    pub partitions: u16,
    /// Most records per fetch, `>= 1`. Default 100.
    pub batch: u32,
    /// Wait after a fetch that returned nothing before fetching again. Default 100 ms.
    pub poll_interval: SimDuration,
    /// The processing.
    pub work: WorkConfig,
    /// Failure handling.
    pub failure: LogFailureConfig,
    /// Heartbeat period to the coordinator. Default 100 ms, `> 0`.
    pub heartbeat: SimDuration,
    /// Join the group at this instant (scaling scenarios start consumers late). Default 0.
    pub start_after: SimDuration,
    /// Leave the group (cleanly) at this instant. Default `None`: never.
    pub leave_after: Option<SimDuration>,
    /// Transport. Default: the network's.
    pub transport: Transport,
    /// Keys `0..label_keys` get their own `ordering_violations@key=K` series. Default 8.
    pub label_keys: u32,
}

impl LogConsumerConfig {
    /// A consumer of `group` (reading `topic` with `partitions`) on a single broker.
    pub fn new(
        broker: ComponentId,
        group: u16,
        topic: u16,
        partitions: u16,
        work: WorkConfig,
    ) -> Self {
        LogConsumerConfig {
            broker,
            group,
            topic,
            partitions,
            batch: 100,
            poll_interval: SimDuration::from_millis(100),
            work,
            failure: LogFailureConfig {
                retry: RetryConfig::default(),
                dead_letter: None,
            },
            heartbeat: SimDuration::from_millis(100),
            start_after: SimDuration::ZERO,
            leave_after: None,
            transport: Transport::Stream,
            label_keys: 8,
        }
    }
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.partitions == 0 || self.partitions > MAX_PARTITIONS {
            return Err(ConfigError::new("partitions", "must be 1 to 64"));
        }
        if self.batch == 0 || self.batch > u32::from(u16::MAX) {
            return Err(ConfigError::new("batch", "must be 1 to 65535"));
        }
        if self.heartbeat.is_zero() {
            return Err(ConfigError::new("heartbeat", "is 0, but it must be > 0"));
        }
        if let Some(l) = self.leave_after
            && l <= self.start_after
        {
            return Err(ConfigError::new(
                "leave_after",
                "must be later than `start_after`",
            ));
        }
        if self.work.workers != 1 {
            return Err(ConfigError::new(
                "workers",
                "must be 1: a log consumer processes its records one at a time, in offset order \
                 (scale with more consumers in the group)",
            ));
        }
        // Reported as `retry`, the field's name in scenario files.
        self.failure.retry.validate("retry")?;
        self.work.validate()
    }
}
