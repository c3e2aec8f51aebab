//! The closed message and timer vocabulary of every model: [`Msg`] and [`Timer`].
//!
//! # Extending
//!
//! Both enums are deliberately *closed* (no `#[non_exhaustive]`): adding a plugin means adding a
//! variant here (for example `Msg::Cache(cache::Msg)` or `Timer::Limiter(rate_limiter::Timer)`),
//! an arm to the [`StableHash`] impls below and a `ComponentConfig` variant in
//! [`crate::registry`]; the compiler then lists every `match` still to update. The generic
//! request/response pair ([`Request`], [`Response`]) is the lingua franca between building
//! blocks: a load balancer, a cache, a rate limiter or a queue in front of a service receives a
//! [`Request`] and answers with a [`Response`] carrying the caller's id, so it can be inserted
//! anywhere without the neighbours knowing. Protocol-specific traffic (replication, sagas) gets
//! its own variant with its own sub-enum owned by the plugin's module. [`Op`] and [`Status`] are
//! closed too and may gain variants (`Scan`, `Cas`, `Throttled`, ...) the same way.
//!
//! # Size
//!
//! Messages are stored inline in the event queue, so [`Msg`] must stay small: a compile-time
//! assertion keeps it at 48 bytes or less. Large bodies belong behind a `Box` or an `Arc`
//! inside the variant.

use clustersim_engine::{StableHash, StableHasher};

use crate::{
    cache, comm, load_balancer, messaging, patterns, rate_limiter, service, sharding, store,
    workload,
};

/// Every message a model can send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    /// A generic request (client → service, service → downstream service).
    Request(Request),
    /// The answer to a [`Request`], echoing its id.
    Response(Response),
    /// A health-check probe (load balancer → backend, or VIP → load balancer). A component
    /// that is up answers with [`Msg::ProbeReply`] carrying the same `seq`; a crashed one
    /// cannot answer, which is what the prober detects.
    Probe {
        /// Chosen by the prober, echoed in the reply.
        seq: u64,
    },
    /// The answer to a [`Msg::Probe`].
    ProbeReply {
        /// The probe's `seq`.
        seq: u64,
    },
    /// Communication-style traffic: connection setup, push, polling, peer frames, media
    /// chunks ([`crate::comm`]).
    Comm(comm::Msg),
    /// Rate-limiter traffic with its shared counter store ([`crate::rate_limiter`]).
    Limiter(rate_limiter::Msg),
    /// Data movement between shards on a membership change ([`crate::sharding`]).
    Shard(sharding::Msg),
    /// Microservice-pattern traffic: saga events, CQRS events, idempotency key store
    /// ([`crate::patterns`]).
    Pattern(patterns::Msg),
    /// Producers, brokers and consumers of asynchronous messaging ([`crate::messaging`]).
    Messaging(messaging::Msg),
    /// Replicated store traffic: replica operations, replication, heartbeats, failover
    /// ([`crate::store`]).
    Store(store::Msg),
}

/// A generic request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// Chosen by the sender, unique among the sender's outstanding requests (clients and
    /// services encode a slab slot and a generation in it). The receiver echoes it verbatim
    /// in its [`Response`]; receivers key their state by `(sender, id)`.
    pub id: u64,
    /// What kind of operation.
    pub op: Op,
    /// The key operated on (0-based; with a Zipf key distribution key 0 is the most popular).
    pub key: u64,
    /// Payload size in bytes (also the wire size the sender declares to the network).
    pub size_bytes: u32,
    /// The end user (client address) the request is made for, within the client component
    /// that started it: open-loop clients draw it uniformly from their `clients` population,
    /// closed-loop clients use the user index. Intermediaries (load balancers, services making
    /// downstream calls) pass it on unchanged; layer-4 load balancers hash it (`IpHash`).
    pub client: u32,
}

/// The kind of operation a [`Request`] asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// A read.
    Read,
    /// A write.
    Write,
    /// Anything else (compute, RPC without storage semantics).
    Other,
}

/// The answer to a [`Request`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response {
    /// The id of the request this answers.
    pub id: u64,
    /// The outcome.
    pub status: Status,
    /// Payload size in bytes (also the wire size declared to the network).
    pub size_bytes: u32,
    /// Version of the key's value this response reflects; 0 = unversioned (the default for
    /// every component that does not track versions). A versioned store (a service with
    /// `versioned: true`) stamps the write time of the key's current value in nanoseconds of
    /// simulated time, strictly increasing per key, so a larger version is a newer value and
    /// the version doubles as the write time ([`crate::cache`] uses both to count stale hits).
    pub version: u64,
}

/// The outcome carried by a [`Response`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Success.
    Ok,
    /// Refused without processing (the queue was full, or load was shed).
    Rejected,
    /// Processing failed because a downstream call failed or timed out.
    Error,
    /// An intermediary gave up waiting on its behalf (e.g. a proxy's timeout).
    Timeout,
    /// No replica or backend could take the request (e.g. no healthy backend).
    Unavailable,
    /// Refused by a rate limiter (HTTP 429). `retry_after_ms` is the Retry-After hint in
    /// milliseconds (0 = none, saturating at 65.5 s: a `u16` keeps [`Response`] at 24 bytes);
    /// clients with `honour_retry_after` wait at least that long before retrying.
    Throttled {
        /// Retry-After in milliseconds, 0 = no hint.
        retry_after_ms: u16,
    },
}

/// Every timer a model can set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Timers of the workload clients ([`crate::workload`]).
    Client(workload::Timer),
    /// Timers of the service model ([`crate::service`]).
    Service(service::Timer),
    /// Timers of the load balancer ([`crate::load_balancer`]).
    Lb(load_balancer::Timer),
    /// Timers of the cache ([`crate::cache`]).
    Cache(cache::Timer),
    /// Timers of the communication components ([`crate::comm`]).
    Comm(comm::Timer),
    /// Timers of the rate limiter and its counter store ([`crate::rate_limiter`]).
    Limiter(rate_limiter::Timer),
    /// Timers of the shard router ([`crate::sharding`]).
    Shard(sharding::Timer),
    /// Timers of the microservice patterns ([`crate::patterns`]).
    Pattern(patterns::Timer),
    /// Timers of the messaging components ([`crate::messaging`]).
    Messaging(messaging::Timer),
    /// Timers of the replicated store ([`crate::store`]).
    Store(store::Timer),
}

const _: () = assert!(size_of::<Msg>() <= 48);
const _: () = assert!(size_of::<Timer>() <= 32); // 24 today

impl Op {
    /// Stable lowercase name, for reports.
    pub fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Write => "write",
            Op::Other => "other",
        }
    }
    fn tag(self) -> u64 {
        match self {
            Op::Read => 0,
            Op::Write => 1,
            Op::Other => 2,
        }
    }
}

impl Status {
    /// Stable lowercase name, for reports.
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Rejected => "rejected",
            Status::Error => "error",
            Status::Timeout => "timeout",
            Status::Unavailable => "unavailable",
            Status::Throttled { .. } => "throttled",
        }
    }
    /// Whether this is [`Status::Ok`].
    pub fn is_ok(self) -> bool {
        self == Status::Ok
    }
    fn tag(self) -> u64 {
        match self {
            Status::Ok => 0,
            Status::Rejected => 1,
            Status::Error => 2,
            Status::Timeout => 3,
            Status::Unavailable => 4,
            Status::Throttled { retry_after_ms } => 5 | (u64::from(retry_after_ms) << 8),
        }
    }
}

impl StableHash for Op {
    fn stable_hash(&self, h: &mut StableHasher) {
        h.write_u64(self.tag());
    }
}

impl StableHash for Status {
    fn stable_hash(&self, h: &mut StableHasher) {
        h.write_u64(self.tag());
    }
}

impl StableHash for Request {
    fn stable_hash(&self, h: &mut StableHasher) {
        h.write_u64(self.id);
        self.op.stable_hash(h);
        h.write_u64(self.key);
        h.write_u64(u64::from(self.size_bytes));
        h.write_u64(u64::from(self.client));
    }
}

impl StableHash for Response {
    fn stable_hash(&self, h: &mut StableHasher) {
        h.write_u64(self.id);
        self.status.stable_hash(h);
        h.write_u64(u64::from(self.size_bytes));
        // Hashed only when set, so traces of unversioned models keep their digests.
        if self.version != 0 {
            h.write_u64(self.version);
        }
    }
}

impl StableHash for Msg {
    fn stable_hash(&self, h: &mut StableHasher) {
        match self {
            Msg::Request(r) => {
                h.write_u64(0);
                r.stable_hash(h);
            }
            Msg::Response(r) => {
                h.write_u64(1);
                r.stable_hash(h);
            }
            Msg::Probe { seq } => {
                h.write_u64(2);
                h.write_u64(*seq);
            }
            Msg::ProbeReply { seq } => {
                h.write_u64(3);
                h.write_u64(*seq);
            }
            Msg::Comm(m) => {
                h.write_u64(100);
                m.stable_hash(h);
            }
            Msg::Limiter(m) => {
                h.write_u64(101);
                m.stable_hash(h);
            }
            Msg::Shard(m) => {
                h.write_u64(102);
                m.stable_hash(h);
            }
            Msg::Pattern(m) => {
                h.write_u64(103);
                m.stable_hash(h);
            }
            Msg::Messaging(m) => {
                h.write_u64(104);
                m.stable_hash(h);
            }
            Msg::Store(m) => {
                h.write_u64(105);
                m.stable_hash(h);
            }
        }
    }
}

impl StableHash for Timer {
    fn stable_hash(&self, h: &mut StableHasher) {
        match self {
            Timer::Client(t) => {
                h.write_u64(0);
                t.stable_hash(h);
            }
            Timer::Service(t) => {
                h.write_u64(1);
                t.stable_hash(h);
            }
            Timer::Lb(t) => {
                h.write_u64(2);
                t.stable_hash(h);
            }
            Timer::Cache(t) => {
                h.write_u64(3);
                t.stable_hash(h);
            }
            Timer::Comm(t) => {
                h.write_u64(100);
                t.stable_hash(h);
            }
            Timer::Limiter(t) => {
                h.write_u64(101);
                t.stable_hash(h);
            }
            Timer::Shard(t) => {
                h.write_u64(102);
                t.stable_hash(h);
            }
            Timer::Pattern(t) => {
                h.write_u64(103);
                t.stable_hash(h);
            }
            Timer::Messaging(t) => {
                h.write_u64(104);
                t.stable_hash(h);
            }
            Timer::Store(t) => {
                h.write_u64(105);
                t.stable_hash(h);
            }
        }
    }
}

/// Answers the traffic a server-like component (service, cache, load balancer) handles the
/// same way whatever its model, at once and without worker time: a health-check [`Msg::Probe`]
/// gets its [`Msg::ProbeReply`]; a connection handshake ([`crate::comm`]) is answered like the
/// kernel or TLS terminator would; shard data movement ([`crate::sharding`]) is relayed (a
/// transfer costs network only; a balancer in front of replicas stands for its shard). Every
/// other message is not for such a component and is ignored. The match lists every variant,
/// so a new one is decided here once.
pub(crate) fn serve_host_traffic(
    cx: &mut clustersim_engine::Ctx<'_, crate::Cluster>,
    from: clustersim_engine::ComponentId,
    msg: &Msg,
    transport: clustersim_engine::Transport,
) {
    match msg {
        Msg::Probe { seq } => cx.send_with(from, Msg::ProbeReply { seq: *seq }, transport, 0),
        Msg::Comm(m) => {
            if let Some(r) = comm::handshake_reply(m) {
                cx.send_with(from, r.into(), transport, 0);
            }
        }
        Msg::Shard(m) => {
            if let Some((to, r, size)) = sharding::serve_transfer(from, m) {
                cx.send_with(to, r, clustersim_engine::Transport::Stream, size);
            }
        }
        Msg::Request(_)
        | Msg::Response(_)
        | Msg::ProbeReply { .. }
        | Msg::Limiter(_)
        | Msg::Pattern(_)
        | Msg::Messaging(_)
        | Msg::Store(_) => {}
    }
}

impl From<Request> for Msg {
    fn from(r: Request) -> Msg {
        Msg::Request(r)
    }
}

impl From<Response> for Msg {
    fn from(r: Response) -> Msg {
        Msg::Response(r)
    }
}

impl From<workload::Timer> for Timer {
    fn from(t: workload::Timer) -> Timer {
        Timer::Client(t)
    }
}

impl From<service::Timer> for Timer {
    fn from(t: service::Timer) -> Timer {
        Timer::Service(t)
    }
}

impl From<load_balancer::Timer> for Timer {
    fn from(t: load_balancer::Timer) -> Timer {
        Timer::Lb(t)
    }
}

impl From<cache::Timer> for Timer {
    fn from(t: cache::Timer) -> Timer {
        Timer::Cache(t)
    }
}

impl From<rate_limiter::Msg> for Msg {
    fn from(m: rate_limiter::Msg) -> Msg {
        Msg::Limiter(m)
    }
}

impl From<rate_limiter::Timer> for Timer {
    fn from(t: rate_limiter::Timer) -> Timer {
        Timer::Limiter(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(v: &impl StableHash) -> u64 {
        let mut h = StableHasher::default();
        v.stable_hash(&mut h);
        h.finish()
    }

    #[test]
    fn hashes_distinguish_variants_and_fields() {
        let req = Request {
            id: 1,
            op: Op::Read,
            key: 7,
            size_bytes: 100,
            client: 3,
        };
        let a = Msg::Request(req);
        let b = Msg::Request(Request {
            op: Op::Write,
            ..req
        });
        let c = Msg::Response(Response {
            id: 1,
            status: Status::Ok,
            size_bytes: 100,
            version: 0,
        });
        let d = Msg::Response(Response {
            id: 1,
            status: Status::Error,
            size_bytes: 100,
            version: 0,
        });
        let hs = [digest(&a), digest(&b), digest(&c), digest(&d)];
        for i in 0..hs.len() {
            for j in 0..i {
                assert_ne!(hs[i], hs[j], "{i} vs {j}");
            }
        }
        assert_eq!(digest(&a), digest(&a.clone()));
    }

    #[test]
    fn sizes_stay_small() {
        eprintln!(
            "Msg {} bytes, Timer {} bytes",
            size_of::<Msg>(),
            size_of::<Timer>()
        );
        assert!(size_of::<Msg>() <= 32, "{}", size_of::<Msg>());
    }
}
