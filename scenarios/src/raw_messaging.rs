//! The RON schema of the messaging components (`kind: Messaging(...)`), mirroring
//! `clustersim_models::messaging`. Names (brokers, exchanges, queues, topics, groups) are
//! resolved and routing keys interned by [`crate::validate`].
//!
//! ```ron
//! (name: "rabbit", kind: Messaging(QueueBroker(
//!     exchanges: [(name: "events", kind: Topic, bindings: [(queue: "eu", key: "order.eu.*")])],
//!     queues: [(name: "eu", capacity: 1000, retry: (max_attempts: 3), dead_letter: "dlq"),
//!              (name: "dlq")],
//! ))),
//! (name: "orders", kind: Messaging(Producer(broker: "rabbit", exchange: "events",
//!     routing_keys: ["order.eu.created"], rate: "200/s"))),
//! (name: "worker", kind: Messaging(QueueConsumer(broker: "rabbit", queue: "eu",
//!     service_time: Exponential(mean: "2ms")))),
//! ```

use serde::{Deserialize, Serialize};

use crate::raw::{Arrival, TimeDist, Transport};
use crate::units::{ByteSize, Duration, Probability, Rate};

/// A messaging component.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum Messaging {
    /// Publishes messages at a rate to an exchange or a topic ([`Producer`]).
    Producer(Producer),
    /// RabbitMQ-style broker: exchanges, queues, push delivery ([`QueueBroker`]).
    QueueBroker(QueueBroker),
    /// Consumes a queue of a queue broker ([`QueueConsumer`]).
    QueueConsumer(QueueConsumer),
    /// Kafka-style broker: partitioned topics, consumer groups ([`LogBroker`]).
    LogBroker(LogBroker),
    /// A member of a consumer group of a log broker ([`LogConsumer`]).
    LogConsumer(LogConsumer),
}

impl Messaging {
    /// `Messaging.<variant>`, the path segment of errors inside this component's kind.
    pub fn path(&self) -> &'static str {
        match self {
            Messaging::Producer(_) => "Messaging.Producer",
            Messaging::QueueBroker(_) => "Messaging.QueueBroker",
            Messaging::QueueConsumer(_) => "Messaging.QueueConsumer",
            Messaging::LogBroker(_) => "Messaging.LogBroker",
            Messaging::LogConsumer(_) => "Messaging.LogConsumer",
        }
    }
    /// The variant's name, for error paths.
    pub fn variant(&self) -> &'static str {
        match self {
            Messaging::Producer(_) => "Producer",
            Messaging::QueueBroker(_) => "QueueBroker",
            Messaging::QueueConsumer(_) => "QueueConsumer",
            Messaging::LogBroker(_) => "LogBroker",
            Messaging::LogConsumer(_) => "LogConsumer",
        }
    }
}

fn poisson() -> Arrival {
    Arrival::Poisson
}
fn hundred() -> u32 {
    100
}
fn thousand() -> u32 {
    1000
}
fn ten() -> u32 {
    10
}
fn one() -> u32 {
    1
}
fn buffer() -> u32 {
    100_000
}
fn zero_bytes() -> ByteSize {
    ByteSize(0)
}
fn secs(s: u64) -> Duration {
    Duration(clustersim_engine::SimDuration::from_secs(s))
}
fn millis(ms: u64) -> Duration {
    Duration(clustersim_engine::SimDuration::from_millis(ms))
}
fn one_s() -> Duration {
    secs(1)
}
fn three_s() -> Duration {
    secs(3)
}
fn hundred_ms() -> Duration {
    millis(100)
}
fn five_hundred_ms() -> Duration {
    millis(500)
}
fn zero() -> Duration {
    millis(0)
}
fn key_hash() -> PartitionBy {
    PartitionBy::KeyHash
}
fn acks_one() -> ProducerAcks {
    ProducerAcks::One
}
fn after_processing() -> Ack {
    Ack::AfterProcessing
}
fn reject() -> OnFull {
    OnFull::Reject
}
fn retention() -> u32 {
    1_000_000
}
fn label_keys() -> u32 {
    8
}

/// Producer parameters: `exchange` (queue broker) or `topic` (log broker), not both.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Producer {
    /// The broker (a `QueueBroker` or `LogBroker` component).
    pub broker: String,
    /// Exchange of a queue broker.
    #[serde(default)]
    pub exchange: Option<String>,
    /// Routing keys, dot-separated words (`"order.eu.created"`); each message draws one
    /// uniformly. Default: none (the empty key).
    #[serde(default)]
    pub routing_keys: Vec<String>,
    /// Topic of a log broker.
    #[serde(default)]
    pub topic: Option<String>,
    /// Partition choice on a topic: `KeyHash`, `RoundRobin` or `Explicit(p)`. Default
    /// `KeyHash`.
    #[serde(default = "key_hash")]
    pub partitioner: PartitionBy,
    /// Replication acknowledgement on a topic: `Zero` (acks=0), `One` (acks=1) or `All`.
    /// Default `One`.
    #[serde(default = "acks_one")]
    pub acks: ProducerAcks,
    /// Message rate, e.g. `"500/s"`.
    pub rate: Rate,
    /// Arrival process. Default `Poisson`.
    #[serde(default = "poisson")]
    pub arrival: Arrival,
    /// Keys drawn uniformly from `0..keys`. Default 100.
    #[serde(default = "hundred")]
    pub keys: u32,
    /// Fraction of poison messages (every processing attempt fails). Default 0.
    #[serde(default)]
    pub poison_fraction: Probability,
    /// Most unconfirmed publishes (then messages wait in the producer). Default 1000.
    #[serde(default = "thousand")]
    pub max_in_flight: u32,
    /// Messages the producer buffers beyond the window before dropping. Default 100000.
    #[serde(default = "buffer")]
    pub buffer: u32,
    /// An unconfirmed publish fails after this long. Default `"1s"`.
    #[serde(default = "one_s")]
    pub confirm_timeout: Duration,
    /// Message size. Default `0`.
    #[serde(default = "zero_bytes")]
    pub size: ByteSize,
    /// Stop after this many messages. Default: never.
    #[serde(default)]
    pub limit: Option<u64>,
    /// Wait before following a leader hint to a broker that just failed. Default `"100ms"`.
    #[serde(default = "hundred_ms")]
    pub retry_backoff: Duration,
    /// Transport. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
}

/// Partition choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum PartitionBy {
    /// Hash of the key.
    KeyHash,
    /// Partitions in turn.
    RoundRobin,
    /// Always this partition.
    Explicit(u16),
}

/// Producer acknowledgement (Kafka `acks`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum ProducerAcks {
    /// `acks=0`: fire and forget.
    Zero,
    /// `acks=1`: the leader has it.
    One,
    /// `acks=all`: every in-sync replica has it.
    All,
}

/// Retries after a failed processing attempt.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Processing attempts per message (1 = no retry). Default 1.
    #[serde(default = "one")]
    pub max_attempts: u32,
    /// Delay before the first retry. Default `"0s"`.
    #[serde(default = "zero")]
    pub backoff: Duration,
    /// Growth of the delay per retry (≥ 1). Default 2.
    #[serde(default = "two")]
    pub multiplier: f64,
    /// Cap on the delay. Default `"10s"`.
    #[serde(default = "ten_s")]
    pub backoff_max: Duration,
}

fn two() -> f64 {
    2.0
}
fn ten_s() -> Duration {
    secs(10)
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max_attempts: 1,
            backoff: zero(),
            multiplier: 2.0,
            backoff_max: ten_s(),
        }
    }
}

/// Exchange kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum ExchangeType {
    /// Every bound queue.
    Fanout,
    /// Binding key equals routing key.
    Direct,
    /// Binding pattern with `*` (one word) and `#` (zero or more words).
    Topic,
}

/// A binding: messages whose routing key matches `key` go to `queue`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Bind {
    /// The queue.
    pub queue: String,
    /// Binding key (direct), pattern (topic), ignored (fanout). Default `""`.
    #[serde(default)]
    pub key: String,
}

/// An exchange.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    /// Name, unique within the broker.
    pub name: String,
    /// Routing semantics.
    pub kind: ExchangeType,
    /// Bindings.
    #[serde(default)]
    pub bindings: Vec<Bind>,
}

/// Full-queue policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum OnFull {
    /// Refuse the publish.
    Reject,
    /// Hold the publisher's confirm until there is room.
    Block,
    /// Drop the oldest ready message.
    DropOldest,
}

/// A queue.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// Name, unique within the broker.
    pub name: String,
    /// Most ready messages. Default: unbounded.
    #[serde(default)]
    pub capacity: Option<u32>,
    /// Full-queue policy. Default `Reject`.
    #[serde(default = "reject")]
    pub on_full: OnFull,
    /// Retries (requeue to the tail after the backoff). Default: one attempt.
    #[serde(default)]
    pub retry: Retry,
    /// Dead-letter queue (another queue of this broker). Default: none (discard).
    #[serde(default)]
    pub dead_letter: Option<String>,
    /// Redeliver a message unacknowledged for this long. Default: only when its consumer
    /// is declared dead.
    #[serde(default)]
    pub visibility_timeout: Option<Duration>,
}

/// Queue broker parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QueueBroker {
    /// Exchanges.
    #[serde(default)]
    pub exchanges: Vec<Exchange>,
    /// Queues (at least one).
    pub queues: Vec<Queue>,
    /// Exchange receiving generic requests (a service calling the broker). Default: none,
    /// requests go straight to the first queue.
    #[serde(default)]
    pub request_exchange: Option<String>,
    /// Routing key of generic requests. Default `""`.
    #[serde(default)]
    pub request_routing_key: String,
    /// A silent consumer is declared dead after this long. Default `"3s"`.
    #[serde(default = "three_s")]
    pub consumer_timeout: Duration,
    /// Keys `0..label_keys` get an `ordering_violations@key=K` series. Default 8.
    #[serde(default = "label_keys")]
    pub label_keys: u32,
    /// Transport. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
}

/// Acknowledgement mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum Ack {
    /// At-most-once.
    OnReceive,
    /// At-least-once.
    AfterProcessing,
}

/// Queue consumer parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConsumer {
    /// The queue broker.
    pub broker: String,
    /// The queue.
    pub queue: String,
    /// Processing time per message.
    pub service_time: TimeDist,
    /// Parallel workers. Default 1.
    #[serde(default = "one")]
    pub workers: u32,
    /// Most unacknowledged deliveries. Default 10.
    #[serde(default = "ten")]
    pub prefetch: u32,
    /// `OnReceive` (at-most-once) or `AfterProcessing` (at-least-once). Default
    /// `AfterProcessing`.
    #[serde(default = "after_processing")]
    pub ack: Ack,
    /// Probability that one processing attempt fails. Default 0.
    #[serde(default)]
    pub failure_probability: Probability,
    /// Downstream component called (generic request) as part of the work. Default: none.
    #[serde(default)]
    pub call: Option<String>,
    /// Downstream call timeout. Default `"1s"`.
    #[serde(default = "one_s")]
    pub call_timeout: Duration,
    /// Heartbeat period. Default `"1s"`.
    #[serde(default = "one_s")]
    pub heartbeat: Duration,
    /// Transport. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
}

/// A topic.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    /// Name, unique within the broker.
    pub name: String,
    /// Partitions (1 to 64).
    pub partitions: u16,
    /// Records kept per partition. Default 1000000.
    #[serde(default = "retention")]
    pub retention: u32,
}

/// A consumer group.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Name, unique within the broker.
    pub name: String,
    /// The topic it reads.
    pub topic: String,
}

/// Log broker parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogBroker {
    /// Topics (at least one).
    pub topics: Vec<Topic>,
    /// Consumer groups.
    #[serde(default)]
    pub groups: Vec<Group>,
    /// A silent group member is declared dead after this long. Default `"1s"`.
    #[serde(default = "one_s")]
    pub session_timeout: Duration,
    /// Pause of a rebalance. Default `"500ms"`.
    #[serde(default = "five_hundred_ms")]
    pub rebalance_pause: Duration,
    /// Topic receiving generic requests. Default: the first.
    #[serde(default)]
    pub request_topic: Option<String>,
    /// Transport. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
    /// Replicated cluster: every broker's name in one order, this one included; each member
    /// lists the same brokers and topics. Default: none (standalone).
    #[serde(default)]
    pub cluster: Vec<String>,
    /// Copies of each partition (1 to the cluster size). Default 1.
    #[serde(default = "one_u16")]
    pub replication: u16,
    /// Heartbeat period between brokers. Default `"100ms"`.
    #[serde(default = "hundred_ms")]
    pub heartbeat: Duration,
    /// A silent broker is declared dead after this long. Default `"500ms"`.
    #[serde(default = "five_hundred_ms")]
    pub broker_timeout: Duration,
    /// Followers pull from leaders this often. Default `"10ms"`.
    #[serde(default = "ten_ms")]
    pub replica_fetch_interval: Duration,
}

fn one_u16() -> u16 {
    1
}
fn ten_ms() -> Duration {
    millis(10)
}

/// Log consumer parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogConsumer {
    /// The log broker.
    pub broker: String,
    /// The consumer group.
    pub group: String,
    /// Processing time per record.
    pub service_time: TimeDist,
    /// Most records per fetch. Default 100.
    #[serde(default = "hundred")]
    pub batch: u32,
    /// Wait after an empty fetch. Default `"100ms"`.
    #[serde(default = "hundred_ms")]
    pub poll_interval: Duration,
    /// Probability that one processing attempt fails. Default 0.
    #[serde(default)]
    pub failure_probability: Probability,
    /// Retries in place (the partition waits), then skip and commit. Default: one attempt.
    #[serde(default)]
    pub retry: Retry,
    /// Topic (of the same broker) receiving skipped records. Default: none.
    #[serde(default)]
    pub dead_letter: Option<String>,
    /// Downstream component called (generic request) as part of the work. Default: none.
    #[serde(default)]
    pub call: Option<String>,
    /// Downstream call timeout. Default `"1s"`.
    #[serde(default = "one_s")]
    pub call_timeout: Duration,
    /// Heartbeat period. Default `"100ms"`.
    #[serde(default = "hundred_ms")]
    pub heartbeat: Duration,
    /// Join the group at this time. Default `"0s"`.
    #[serde(default = "zero")]
    pub start_after: Duration,
    /// Leave the group at this time. Default: never.
    #[serde(default)]
    pub leave_after: Option<Duration>,
    /// Transport. Default: the network's default.
    #[serde(default)]
    pub transport: Option<Transport>,
    /// Keys `0..label_keys` get an `ordering_violations@key=K` series. Default 8.
    #[serde(default = "label_keys")]
    pub label_keys: u32,
}
