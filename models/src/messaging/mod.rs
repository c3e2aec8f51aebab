//! Asynchronous messaging: RabbitMQ-style queue brokers with exchanges, Kafka-style
//! partitioned logs with consumer groups, and the producers and consumers that use them.
//!
//! # Components
//!
//! * [`Producer`] (`producer_client`): publishes messages at a rate (Poisson or evenly
//!   spaced) with keys drawn uniformly from `0..keys`, to an exchange (with routing keys) or a
//!   topic (partition by key hash, explicit, or round robin). It keeps at most
//!   `max_in_flight` publishes unconfirmed; further messages wait in its buffer (that is how a
//!   *blocking* full queue slows it down) and beyond `buffer` they are dropped.
//! * [`QueueBroker`] (`queue_broker`): exchanges (fanout, direct, topic with `*` and `#`)
//!   route each publish to bound queues. Queues push messages to subscribed consumers, at
//!   most `prefetch` unacknowledged per consumer, round robin (point-to-point: each message
//!   to one consumer of the queue; publish-subscribe: a fanout exchange bound to one queue
//!   per subscriber). Bounded queues `Reject`, `Block` or `DropOldest` when full. A failed
//!   attempt (`Nack`) is requeued at the tail after a backoff, up to `max_attempts`, then
//!   dead-lettered. Unacknowledged messages are redelivered after a visibility timeout or
//!   when their consumer is declared dead (silent for `consumer_timeout`), so duplicates
//!   happen: an acknowledgement for a message that is already acknowledged is one.
//! * [`QueueConsumer`] (`queue_consumer`): subscribes, processes with `workers` in
//!   parallel (service time, failure probability, optional downstream [`crate::Request`]),
//!   acknowledges on receipt (at-most-once) or after processing (at-least-once).
//! * [`LogBroker`] (`log_broker`): topics of up to 64 partitions, append-only logs with
//!   offsets and retention, consumer groups with committed offsets; it is the group
//!   coordinator: a join, a leave or a member silent for `session_timeout` starts a
//!   rebalance that revokes every partition of the group at once (eager protocol) and hands
//!   out the new range assignment after `rebalance_pause`.
//!   A log broker may be one of a replicated **cluster** (see *Replication* below).
//! * [`LogConsumer`] (`log_consumer`): joins a group, pulls each assigned partition
//!   (`batch` records per fetch, `poll_interval` after an empty fetch), processes records one
//!   at a time in offset order and commits after each batch. A failed record is retried in
//!   place (the partition waits, order is kept), then skipped and committed ("skip and
//!   commit"), optionally copied to a dead-letter topic first.
//!
//! A generic [`crate::Request`] sent to a broker is a publish (queue brokers: to
//! `request_route`; log brokers: to `request_topic`, key-hash partition), answered with a
//! [`crate::Response`] once stored — so a service "enqueues" by calling the broker, and
//! anything that can call a service can publish. A consumer's work may call a downstream
//! component with a generic request.
//!
//! # Limits of the model
//!
//! Brokers spend no CPU time: publishes, deliveries, fetches and commits are handled the
//! instant they arrive (network latency, loss and bandwidth still apply), so a broker is never
//! the bottleneck; put a service in front of it to model one. Queue brokers hold their
//! messages durably across a crash (persistent messages), not their connections. Producers
//! do not retry a timed-out publish (no producer-side duplicates).
//!
//! # Message identity and checkers
//!
//! The broker stores message bodies; the wire carries compact references (every [`Msg`] is
//! at most 24 bytes). Queue brokers number the messages of each key per queue in enqueue
//! order; a message of key `k` acknowledged after a later one of `k` was acknowledged is an
//! **ordering violation** (requeue with retries produces them; one consumer without retries
//! never does). Log consumers check per key that offsets only grow.
//!
//! # Metrics
//!
//! | component | name | kind | meaning |
//! |---|---|---|---|
//! | producer | `requests`, `ok`, `failed` | counter | messages created / confirmed / rejected, dropped or timed out |
//! | producer | `latency_ns` | histogram | publish latency: created → confirmed (includes waiting in the buffer) |
//! | producer | `rejected`, `dropped`, `timeouts` | counter | negative confirms / buffer overflow / unconfirmed within `confirm_timeout` |
//! | producer | `buffered` | gauge | messages waiting in the producer (blocked) |
//! | queue_broker | `arrivals` | counter | publishes received |
//! | queue_broker | `completed` | counter | messages acknowledged after successful processing |
//! | queue_broker | `errors` | counter | failed processing attempts (`Nack`) |
//! | queue_broker | `rejected`, `dropped_oldest`, `unroutable` | counter | full-queue refusals / evictions / publishes matching no queue |
//! | queue_broker | `deliveries`, `redeliveries`, `retries` | counter | pushes to consumers / after a visibility timeout or consumer death / after a failure |
//! | queue_broker | `duplicates` | counter | acknowledgements of already acknowledged messages |
//! | queue_broker | `dead_lettered`, `discarded` | counter | last attempt failed: moved to the DLQ / dropped (no DLQ) |
//! | queue_broker | `finished`, `attempts` | counter | messages done (acknowledged or out of attempts) and their processing attempts: mean attempts = `attempts / finished` |
//! | queue_broker | `ordering_violations` (and `@key=K` for `K < label_keys`) | counter | see above |
//! | queue_broker | `queue_len`, `depth@queue=Q`, `unacked@queue=Q`, `blocked` | gauge | ready messages (all queues / per queue), delivered and unacknowledged, publishes held by `Block` |
//! | queue_broker | `wait_ns` | histogram | enqueue → first delivery (the queueing delay `Wq`) |
//! | queue_broker | `latency_ns` | histogram | enqueue → acknowledged |
//! | queue_consumer, log_consumer | `arrivals`, `completed`, `errors` | counter | messages received / processed successfully / failed attempts |
//! | queue_consumer, log_consumer | `latency_ns` | histogram | **end to end**: produced → processed |
//! | queue_consumer, log_consumer | `busy`, `servers`, `queue_len` | gauge | busy workers, workers, messages waiting in the consumer |
//! | queue_consumer | `lost` | counter | at-most-once messages lost: failed, or in the consumer when it crashed (counted at restart) |
//! | log_consumer | `dead_lettered`, `ordering_violations` (and `@key=K` for `K < label_keys`) | counter | records skipped after their last attempt / per-key offset regressions |
//! | log_consumer | `duplicates` | counter | records processed but not committed when the consumer crashed, which the next owner processes again (counted at restart) |
//! | log_consumer | `rebalance_wait_ns` | histogram | partitions revoked → new assignment received |
//! | log_broker | `arrivals` | counter | records appended |
//! | log_broker | `completed` | counter | records committed by groups (offset advance) |
//! | log_broker | `lag@group=G/partition=P` | gauge | log end − committed offset of group `G` (declaration order) on partition `P` of its topic |
//! | log_broker | `lag` | gauge | total lag over all groups and partitions |
//! | log_broker | `rebalances`, `commit_rejected`, `lost`, `redelivered` | counter | group rebalances / commits from a stale generation / records deleted by retention before a group read them / records fetched again by a group |
//! | log_broker | `rebalance_ns` | histogram | rebalance start → assignment sent |
//! | log_broker | `failovers`, `not_leader`, `lost_unreplicated` | counter | partitions taken over as leader / publishes refused as not the leader / records this broker confirmed with acks=0/1 and dropped when it rejoined as a follower (see *Replication* below) |
//! | producer | `redirects` | counter | publishes re-sent to another broker (`NotLeader` hint, send failure) |
//!
//! # Replication
//!
//! A log broker with a `cluster` is one of several brokers sharing its topics with
//! `replication` copies per partition: followers pull from leaders, the high watermark moves
//! with the slowest live follower, `acks=all` confirms wait for it, a silent leader is
//! replaced by the first live replica (unclean election) and a returning broker truncates to
//! the new epoch, counting the confirmed records it drops as `lost_unreplicated`. Consumer
//! groups are supported on standalone brokers only; group coordinator failover is not
//! modelled.

mod config;
mod log;
mod producer;
mod queue;
mod replica;
pub mod routing;
#[cfg(test)]
mod tests;
mod work;

pub use config::{
    AckMode, Acks, Binding, Destination, ExchangeConfig, ExchangeKind, FullPolicy, GroupConfig,
    LogBrokerConfig, LogConsumerConfig, LogFailureConfig, MAX_PARTITIONS, Partitioner,
    ProducerConfig, QueueBrokerConfig, QueueConfig, QueueConsumerConfig, RetryConfig, TopicConfig,
    Word, WorkConfig,
};
pub use log::{LogBroker, LogConsumer};
pub use producer::Producer;
pub use queue::{QueueBroker, QueueConsumer};

use clustersim_engine::{Component, ComponentId, Recorder, SimTime, StableHash, StableHasher};

use crate::Cluster;
use crate::error::ConfigError;

/// Flag bit of a message: every processing attempt fails.
pub const POISON: u8 = 1;

/// Messages of the messaging components (carried as [`crate::Msg::Messaging`]); each at most
/// 24 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    /// Producer → broker: a new message.
    Publish {
        /// Producer's sequence number, echoed in the confirm.
        id: u32,
        /// Message key.
        key: u32,
        /// When the message was created (for end-to-end latency).
        born: SimTime,
        /// Exchange (queue broker) or topic (log broker).
        dest: u16,
        /// Routing-key index (queue broker) or partition (log broker).
        route: u16,
        /// [`POISON`] and [`Acks`] bits: `flags >> 1` is 0 (none), 1 (leader) or 2 (all).
        flags: u8,
    },
    /// Broker → producer: the publish confirm.
    Confirm {
        /// The publish's id.
        id: u32,
        /// Stored (true) or refused (false).
        ok: bool,
        /// The offset assigned (log brokers), 0 otherwise.
        offset: u64,
    },
    /// Queue consumer → broker: start pushing messages of `queue`.
    Subscribe {
        /// Queue index.
        queue: u16,
        /// Most unacknowledged deliveries.
        prefetch: u32,
    },
    /// Queue broker → consumer: a message.
    Deliver {
        /// Delivery tag (acknowledge with it).
        tag: u64,
        /// When the message was created.
        born: SimTime,
        /// Key.
        key: u32,
        /// Processing attempt number, 1-based (saturating).
        attempt: u8,
        /// [`POISON`] bit.
        flags: u8,
    },
    /// Consumer → queue broker: processed (or received, at-most-once).
    Ack {
        /// Delivery tag.
        tag: u64,
    },
    /// Consumer → queue broker: processing failed.
    Nack {
        /// Delivery tag.
        tag: u64,
    },
    /// Consumer → broker: still alive (`group = u16::MAX` for queue consumers).
    Heartbeat {
        /// Group of a log consumer.
        group: u16,
    },
    /// Log consumer → coordinator: join (or rejoin) `group`.
    JoinGroup {
        /// Group index.
        group: u16,
    },
    /// Log consumer → coordinator: leave `group`.
    LeaveGroup {
        /// Group index.
        group: u16,
    },
    /// Coordinator → consumer: the consumer's partitions in `generation` (a mask over the
    /// topic's partitions; 0 revokes everything while the group rebalances).
    Assignment {
        /// Group index.
        group: u16,
        /// Group generation.
        generation: u32,
        /// Bit `p` set: partition `p` is this consumer's.
        partitions: u64,
    },
    /// Log consumer → broker: records of `partition` from `offset` (`u64::MAX`: from the
    /// group's committed offset).
    Fetch {
        /// Group index.
        group: u16,
        /// Partition of the group's topic.
        partition: u16,
        /// The consumer's generation.
        generation: u32,
        /// First offset wanted.
        offset: u64,
        /// Most records.
        max: u16,
    },
    /// Log broker → consumer: one record of a fetch response.
    Record {
        /// Partition.
        partition: u16,
        /// [`POISON`] bit.
        flags: u8,
        /// Offset.
        offset: u64,
        /// When the record was produced.
        born: SimTime,
        /// Key.
        key: u32,
    },
    /// Log broker → consumer: the end of a fetch response.
    FetchEnd {
        /// Partition.
        partition: u16,
        /// Next offset to fetch; `u64::MAX`: refused (stale generation or not the owner).
        next: u64,
        /// Log end offset.
        end: u64,
    },
    /// Broker → producer: this broker does not lead the partition of publish `id`.
    NotLeader {
        /// The publish's id.
        id: u32,
        /// Cluster index of the leader it knows, `u16::MAX` if none.
        leader: u16,
    },
    /// Broker → broker: alive, leading these partitions (bit `g`: partition `g` numbered
    /// across topics).
    BrokerHeartbeat {
        /// Partitions led.
        leading: u64,
    },
    /// Leader → follower: one record of a `ReplicaFetch` answer, to append at `offset`.
    Replica {
        /// Partition, numbered across topics.
        partition: u16,
        /// Flags of the record.
        flags: u8,
        /// Offset.
        offset: u64,
        /// Produce time.
        born: SimTime,
        /// Key.
        key: u32,
    },
    /// Follower → leader: my log of `partition` ends at `end` (sent after a fetch answer, so
    /// the high watermark advances without waiting for the next fetch).
    ReplicaAck {
        /// Partition, numbered across topics.
        partition: u16,
        /// Log end offset.
        end: u64,
    },
    /// Follower → leader: send me `partition` from `from`; I follow the epoch that started at
    /// offset `base`.
    ReplicaFetch {
        /// Partition, numbered across topics.
        partition: u16,
        /// First offset wanted.
        from: u64,
        /// Start offset of the leader epoch the follower knows.
        base: u64,
    },
    /// Leader → follower: the current epoch started at `base`: drop anything at or beyond it
    /// that came from an older epoch, then fetch again.
    Resync {
        /// Partition, numbered across topics.
        partition: u16,
        /// Start offset of the current epoch.
        base: u64,
    },
    /// Log consumer → broker: the group has processed `partition` up to `offset`
    /// (exclusive).
    Commit {
        /// Group index.
        group: u16,
        /// Partition.
        partition: u16,
        /// The consumer's generation.
        generation: u32,
        /// Next offset to process.
        offset: u64,
    },
}

const _: () = assert!(size_of::<Msg>() <= 24);

/// Timers of the messaging components.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Producer: create the next message.
    Produce,
    /// Producer: look for unconfirmed publishes older than the timeout.
    ConfirmSweep,
    /// Consumer: send a heartbeat.
    Heartbeat,
    /// Consumer: worker `slot` finished processing.
    Work {
        /// Worker slot.
        slot: u32,
    },
    /// Consumer: the downstream call of worker `slot` (call number `call`) is overdue.
    CallTimeout {
        /// Worker slot.
        slot: u32,
        /// Call number.
        call: u32,
    },
    /// Queue broker: look for dead consumers.
    LivenessSweep,
    /// Queue broker: delivery `delivery` of message `slot` (identity `ident`) is overdue.
    Visibility {
        /// Record slot.
        slot: u32,
        /// Record identity.
        ident: u32,
        /// Delivery number.
        delivery: u32,
    },
    /// Queue broker: the retry backoff of message `slot` is over.
    RetryReady {
        /// Record slot.
        slot: u32,
        /// Record identity.
        ident: u32,
    },
    /// Log broker: the rebalance of `group` to `generation` is done.
    Rebalance {
        /// Group.
        group: u16,
        /// Generation.
        generation: u32,
    },
    /// Log consumer: join the group.
    Join,
    /// Log consumer: leave the group.
    Leave,
    /// Log consumer: fetch `partition` again.
    Poll {
        /// Partition.
        partition: u16,
    },
    /// Log consumer: retry the record at the head of `partition`.
    RetryRecord {
        /// Partition.
        partition: u16,
    },
    /// Log broker: send heartbeats, check peers, elect leaders.
    BrokerTick,
    /// Log broker (follower): pull new records from the leaders.
    ReplicaFetch,
    /// Producer: re-send publishes parked by the retry backoff.
    Resend,
}

impl StableHash for Msg {
    fn stable_hash(&self, h: &mut StableHasher) {
        match *self {
            Msg::Publish {
                id,
                key,
                born,
                dest,
                route,
                flags,
            } => {
                h.write_u64(0);
                h.write_u64((u64::from(id) << 32) | u64::from(key));
                h.write_u64(born.as_nanos());
                h.write_u64((u64::from(dest) << 24) | (u64::from(route) << 8) | u64::from(flags));
            }
            Msg::Confirm { id, ok, offset } => {
                h.write_u64(1);
                h.write_u64((u64::from(id) << 1) | u64::from(ok));
                h.write_u64(offset);
            }
            Msg::Subscribe { queue, prefetch } => {
                h.write_u64(2);
                h.write_u64((u64::from(queue) << 32) | u64::from(prefetch));
            }
            Msg::Deliver {
                tag,
                born,
                key,
                attempt,
                flags,
            } => {
                h.write_u64(3);
                h.write_u64(tag);
                h.write_u64(born.as_nanos());
                h.write_u64((u64::from(key) << 16) | (u64::from(attempt) << 8) | u64::from(flags));
            }
            Msg::Ack { tag } => {
                h.write_u64(4);
                h.write_u64(tag);
            }
            Msg::Nack { tag } => {
                h.write_u64(5);
                h.write_u64(tag);
            }
            Msg::Heartbeat { group } => {
                h.write_u64(6);
                h.write_u64(u64::from(group));
            }
            Msg::JoinGroup { group } => {
                h.write_u64(7);
                h.write_u64(u64::from(group));
            }
            Msg::LeaveGroup { group } => {
                h.write_u64(8);
                h.write_u64(u64::from(group));
            }
            Msg::Assignment {
                group,
                generation,
                partitions,
            } => {
                h.write_u64(9);
                h.write_u64((u64::from(group) << 32) | u64::from(generation));
                h.write_u64(partitions);
            }
            Msg::Fetch {
                group,
                partition,
                generation,
                offset,
                max,
            } => {
                h.write_u64(10);
                h.write_u64(
                    (u64::from(group) << 48) | (u64::from(partition) << 32) | u64::from(generation),
                );
                h.write_u64(offset);
                h.write_u64(u64::from(max));
            }
            Msg::Record {
                partition,
                flags,
                offset,
                born,
                key,
            } => {
                h.write_u64(11);
                h.write_u64(
                    (u64::from(partition) << 40) | (u64::from(flags) << 32) | u64::from(key),
                );
                h.write_u64(offset);
                h.write_u64(born.as_nanos());
            }
            Msg::FetchEnd {
                partition,
                next,
                end,
            } => {
                h.write_u64(12);
                h.write_u64(u64::from(partition));
                h.write_u64(next);
                h.write_u64(end);
            }
            Msg::NotLeader { id, leader } => {
                h.write_u64(14);
                h.write_u64((u64::from(id) << 16) | u64::from(leader));
            }
            Msg::BrokerHeartbeat { leading } => {
                h.write_u64(15);
                h.write_u64(leading);
            }
            Msg::Replica {
                partition,
                flags,
                offset,
                born,
                key,
            } => {
                h.write_u64(16);
                h.write_u64(
                    (u64::from(partition) << 40) | (u64::from(flags) << 32) | u64::from(key),
                );
                h.write_u64(offset);
                h.write_u64(born.as_nanos());
            }
            Msg::ReplicaAck { partition, end } => {
                h.write_u64(17);
                h.write_u64(u64::from(partition));
                h.write_u64(end);
            }
            Msg::ReplicaFetch {
                partition,
                from,
                base,
            } => {
                h.write_u64(18);
                h.write_u64(u64::from(partition));
                h.write_u64(from);
                h.write_u64(base);
            }
            Msg::Resync { partition, base } => {
                h.write_u64(19);
                h.write_u64(u64::from(partition));
                h.write_u64(base);
            }
            Msg::Commit {
                group,
                partition,
                generation,
                offset,
            } => {
                h.write_u64(13);
                h.write_u64(
                    (u64::from(group) << 48) | (u64::from(partition) << 32) | u64::from(generation),
                );
                h.write_u64(offset);
            }
        }
    }
}

impl StableHash for Timer {
    fn stable_hash(&self, h: &mut StableHasher) {
        match *self {
            Timer::Produce => h.write_u64(0),
            Timer::ConfirmSweep => h.write_u64(1),
            Timer::Heartbeat => h.write_u64(2),
            Timer::Work { slot } => {
                h.write_u64(3);
                h.write_u64(u64::from(slot));
            }
            Timer::CallTimeout { slot, call } => {
                h.write_u64(4);
                h.write_u64((u64::from(slot) << 32) | u64::from(call));
            }
            Timer::LivenessSweep => h.write_u64(5),
            Timer::Visibility {
                slot,
                ident,
                delivery,
            } => {
                h.write_u64(6);
                h.write_u64((u64::from(slot) << 32) | u64::from(ident));
                h.write_u64(u64::from(delivery));
            }
            Timer::RetryReady { slot, ident } => {
                h.write_u64(7);
                h.write_u64((u64::from(slot) << 32) | u64::from(ident));
            }
            Timer::Rebalance { group, generation } => {
                h.write_u64(8);
                h.write_u64((u64::from(group) << 32) | u64::from(generation));
            }
            Timer::Join => h.write_u64(9),
            Timer::Leave => h.write_u64(10),
            Timer::Poll { partition } => {
                h.write_u64(11);
                h.write_u64(u64::from(partition));
            }
            Timer::RetryRecord { partition } => {
                h.write_u64(12);
                h.write_u64(u64::from(partition));
            }
            Timer::BrokerTick => h.write_u64(13),
            Timer::ReplicaFetch => h.write_u64(14),
            Timer::Resend => h.write_u64(15),
        }
    }
}

/// The configuration of one messaging component (inside
/// [`crate::ComponentConfig::Messaging`]).
#[derive(Clone, Debug, PartialEq)]
pub enum MessagingConfig {
    /// A producer.
    Producer(ProducerConfig),
    /// A RabbitMQ-style broker.
    QueueBroker(QueueBrokerConfig),
    /// A consumer of a queue broker.
    QueueConsumer(QueueConsumerConfig),
    /// A Kafka-style broker.
    LogBroker(LogBrokerConfig),
    /// A consumer of a log broker.
    LogConsumer(LogConsumerConfig),
}

impl MessagingConfig {
    /// The components this one sends requests to (the call graph's edges): producers and
    /// consumers call their broker, consumers their downstream call target.
    pub fn targets(&self) -> Vec<ComponentId> {
        let mut out = Vec::new();
        match self {
            MessagingConfig::Producer(c) => {
                out.push(c.broker);
                out.extend(c.cluster.iter().filter(|b| **b != c.broker));
            }
            MessagingConfig::QueueConsumer(c) => {
                out.push(c.broker);
                out.extend(c.work.call);
            }
            MessagingConfig::LogConsumer(c) => {
                out.push(c.broker);
                out.extend(c.work.call);
            }
            MessagingConfig::QueueBroker(_) | MessagingConfig::LogBroker(_) => {}
        }
        out.dedup();
        out
    }
    /// The kind's stable name (producers end in `client`: they are workload generators).
    pub fn kind_name(&self) -> &'static str {
        match self {
            MessagingConfig::Producer(_) => "producer_client",
            MessagingConfig::QueueBroker(_) => "queue_broker",
            MessagingConfig::QueueConsumer(_) => "queue_consumer",
            MessagingConfig::LogBroker(_) => "log_broker",
            MessagingConfig::LogConsumer(_) => "log_consumer",
        }
    }
    /// Whether this generates load on its own.
    pub fn is_client(&self) -> bool {
        matches!(self, MessagingConfig::Producer(_))
    }
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            MessagingConfig::Producer(c) => c.validate(),
            MessagingConfig::QueueBroker(c) => c.validate(),
            MessagingConfig::QueueConsumer(c) => c.validate(),
            MessagingConfig::LogBroker(c) => c.validate(),
            MessagingConfig::LogConsumer(c) => c.validate(),
        }
    }
    /// Builds the component `me`, registering its series with `metrics`.
    ///
    /// # Panics
    /// If `validate` fails.
    pub fn build(&self, me: ComponentId, metrics: &mut Recorder) -> Box<dyn Component<Cluster>> {
        match self {
            MessagingConfig::Producer(c) => Box::new(Producer::new(c, me, metrics)),
            MessagingConfig::QueueBroker(c) => Box::new(QueueBroker::new(c, me, metrics)),
            MessagingConfig::QueueConsumer(c) => Box::new(QueueConsumer::new(c, me, metrics)),
            MessagingConfig::LogBroker(c) => Box::new(LogBroker::new(c, me, metrics)),
            MessagingConfig::LogConsumer(c) => Box::new(LogConsumer::new(c, me, metrics)),
        }
    }
}
