//! Communication styles: HTTP polling versus WebSocket-like push, peer-to-peer versus relayed
//! traffic, and live media over datagrams versus streams.
//!
//! One folder for all three families, because they share the message vocabulary
//! ([`Msg`], carried as [`crate::Msg::Comm`]) and the connection handshake:
//!
//! * **Notifications.** A [`Publisher`] emits events (`Publish { seq, at }`) to
//!   [`PushGateway`]s and [`PollServer`]s. A [`PushClient`] holds a persistent connection to a
//!   gateway (optional `handshake_rtts` round trips of TCP/TLS setup, then `Subscribe`); the
//!   gateway pushes every event to every connection (`Push`). Connections are a resource:
//!   a gateway refuses subscriptions beyond `max_connections`. The client pings every
//!   `heartbeat`; a ping that fails to send (gateway down) or stays unanswered until the next
//!   one, or a `Pong { known: false }` (gateway restarted and forgot it), ends the connection,
//!   and the client reconnects after a backoff (`backoff_base × 2^(n-1)`, capped, full jitter).
//!   A [`PollClient`] instead sends `Poll { next }` every `interval` T (first at a random phase)
//!   and gets every logged event with `seq >= next` (`PollItem`s, one message per event on the
//!   same stream, like a chunked body) followed by `PollDone`.
//!
//!   With the publisher next to the server and one-way latency L between server and client,
//!   push delay = L, while poll delay = wait for the next poll to reach the server (uniform
//!   in `[0, T)` for Poisson events) + L, mean `T/2 + L`; the poll also costs the client one
//!   request per T whether or not anything happened: server load `clients / T` polls per
//!   second versus `events × subscribers` pushes.
//! * **Peer-to-peer.** A [`Peer`] sends `Frame`s at a fixed rate to another peer, either
//!   directly (WebRTC-like, over datagrams by default) or wrapped in `RelayFrame` through a
//!   [`Relay`] (TURN-like), which forwards every frame: the detour through the relay's
//!   region adds latency and every byte crosses the relay (`relay_bytes`).
//! * **Live media.** A [`MediaSource`] sends one chunk per frame (`Frame { seq, sent_at }`),
//!   never retransmitting at the model level. A [`MediaClient`] plays chunk `s` out at
//!   `sent_at + playout_delay`: it is *on time*, *late* (arrived after that), or *lost*
//!   (not there once a later chunk was sent `lost_after` ago). Over [`Transport::Datagram`](clustersim_engine::Transport::Datagram)
//!   losses are losses; over [`Transport::Stream`](clustersim_engine::Transport::Stream) nothing is lost but a retransmission
//!   (≥ `rto`) holds back every later chunk of the connection (head-of-line blocking), so
//!   losses turn into bursts of late chunks.
//!
//! # Connection setup cost (HTTP keep-alive versus a connection per request)
//!
//! `Connect { id }` / `ConnectAck { id }` is one round trip of connection setup, exchanged for
//! real over the network (so it pays latency, loss and retransmissions like any message).
//! A client with `handshake_rtts = k` sends `k` of them, one after the other, before its
//! request; with constant latencies its latency is exactly `k × RTT` above keep-alive. Any
//! server answers with [`handshake_reply`] (the kernel and TLS terminator do it, no worker
//! time); the generic services do. The workload clients' `connection` option
//! ([`crate::workload::Connection`]) and [`PollClient::handshake_rtts`](PollClientConfig)
//! use it; [`PushClient`] pays it once per (re)connection.
//!
//! # Metrics (a contract with the report writer)
//!
//! Client kinds (names ending in `client`) map onto the generic client columns
//! (`requests`, `ok`, `failed`, `latency_ns`), so `components.csv` and the run-level latency
//! columns show them; servers map onto `arrivals`/`completed` (the `requests`, `completed`,
//! `throughput_rps` columns), i.e. their load. No component registers `in_system`.
//!
//! | component | name | kind | meaning |
//! |---|---|---|---|
//! | publisher | `published` | counter | events emitted |
//! | publisher | `publish_failed` | counter | `Publish` messages a target could not receive (it was down) |
//! | push_gateway | `arrivals` | counter | events received from publishers |
//! | push_gateway | `completed`, `pushes_sent` | counter | pushes sent (events × connections) |
//! | push_gateway | `connections` | gauge | open connections |
//! | push_gateway | `subscribes`, `connects_rejected` | counter | subscriptions received / refused at `max_connections` |
//! | push_gateway | `messages_out` | counter | every message sent (pushes, pongs, acks) |
//! | push_client | `requests` | counter | notifications accounted for: delivered + missed |
//! | push_client | `ok`, `pushes_delivered` | counter | pushes received |
//! | push_client | `failed`, `pushes_missed` | counter | events skipped in the sequence (published while disconnected, or lost in a crash) |
//! | push_client | `latency_ns` | histogram | push delay: published → received |
//! | push_client | `connected` | gauge | 1 while connected |
//! | push_client | `disconnects`, `reconnects` | counter | connections lost / re-established |
//! | push_client | `reconnect_ns` | histogram | time to reconnect: loss detected → subscribed again |
//! | push_client | `connect_attempts`, `connects_rejected` | counter | subscription attempts / refused by a full gateway |
//! | poll_server | `arrivals` | counter | polls received |
//! | poll_server | `completed` | counter | polls answered |
//! | poll_server | `items_sent` | counter | events returned in poll responses |
//! | poll_server | `messages_out` | counter | every message sent |
//! | poll_client | `requests`, `ok`, `failed` | counter | polls sent / answered / whose send failed |
//! | poll_client | `notifications`, `notifications_missed`, `empty_polls` | counter | events received / skipped (evicted from the log) / answers with no news |
//! | poll_client | `latency_ns` | histogram | notification delay: published → received |
//! | peer_client | `requests` | counter | frames sent |
//! | peer_client | `ok` | counter | frames received (from the other peer) |
//! | peer_client | `latency_ns` | histogram | one-way frame latency, sent → received |
//! | relay | `arrivals`, `completed` | counter | frames received / forwarded |
//! | relay | `relay_bytes` | counter | bytes forwarded |
//! | media_source | `chunks_sent` | counter | chunks sent |
//! | media_client | `requests` | counter | chunks classified (on time + late + lost) |
//! | media_client | `ok`, `chunks_on_time` | counter | chunks in time for playout |
//! | media_client | `failed` | counter | chunks not played: late + lost |
//! | media_client | `chunks_late`, `chunks_lost` | counter | arrived after the deadline / never (within `lost_after`) |
//! | media_client | `chunks_duplicate`, `chunks_stale` | counter | second copies / arrivals after being declared lost |
//! | media_client | `chunks_reordered` | counter | arrivals older than a chunk already received (never over a stream) |
//! | media_client | `latency_ns` | histogram | chunk latency, sent → received (every arrival but duplicates) |
//!
//! # Crashes
//!
//! A crashed gateway forgets its connections; its clients notice at their next ping and
//! reconnect with backoff, counting the events they missed from the sequence gap. A crashed
//! poll server loses its log. Clients, peers and sources restart their schedules on restart.

pub mod algo;
mod config;
mod media;
mod notify;
mod p2p;
#[cfg(test)]
mod tests;

pub use config::{
    MediaClientConfig, MediaSourceConfig, PeerConfig, PollClientConfig, PollServerConfig,
    PublisherConfig, PushClientConfig, PushGatewayConfig, RelayConfig,
};
pub use media::{MediaClient, MediaSource};
pub use notify::{PollClient, PollServer, Publisher, PushClient, PushGateway};
pub use p2p::{Peer, Relay};

use clustersim_engine::{ComponentId, SimTime, StableHash, StableHasher};

/// Messages of the communication components (carried as [`crate::Msg::Comm`]). Every
/// payload is at most 24 bytes, so the outer message stays small.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    /// One round trip of connection setup (TCP SYN, TLS hello): answer with `ConnectAck`.
    Connect {
        /// Chosen by the client; echoed.
        id: u64,
    },
    /// The answer to `Connect`.
    ConnectAck {
        /// The `Connect`'s id.
        id: u64,
    },
    /// Publisher → gateway / poll server: a new event.
    Publish {
        /// Event sequence number (0, 1, 2, ... per publisher).
        seq: u64,
        /// When it was published.
        at: SimTime,
    },
    /// Push client → gateway: open a persistent connection (the WebSocket upgrade).
    Subscribe {
        /// The client's connection generation, echoed.
        conn: u32,
    },
    /// Gateway → client: the answer to `Subscribe`.
    Subscribed {
        /// The `Subscribe`'s generation.
        conn: u32,
        /// False when the gateway is at `max_connections`.
        accepted: bool,
    },
    /// Push client → gateway: heartbeat.
    Ping {
        /// Connection generation.
        conn: u32,
    },
    /// Gateway → client: heartbeat answer.
    Pong {
        /// Connection generation.
        conn: u32,
        /// False when the gateway holds no connection for the client (it restarted).
        known: bool,
    },
    /// Gateway → push client: a server-initiated notification.
    Push {
        /// Event sequence number.
        seq: u64,
        /// When it was published.
        at: SimTime,
    },
    /// Poll client → poll server: "anything new since `next`?" (`u64::MAX`: "just tell me
    /// where the log is").
    Poll {
        /// The client's poll number.
        id: u32,
        /// First sequence number wanted.
        next: u64,
    },
    /// Poll server → client: one event of a poll response.
    PollItem {
        /// Event sequence number.
        seq: u64,
        /// When it was published.
        at: SimTime,
    },
    /// Poll server → client: the end of a poll response.
    PollDone {
        /// The poll's id.
        id: u32,
        /// The sequence number the next event will have.
        next: u64,
    },
    /// A media chunk or a peer's frame.
    Frame {
        /// Sequence number (0, 1, 2, ... per sender).
        seq: u64,
        /// When the original sender sent it.
        sent_at: SimTime,
    },
    /// Peer → relay: forward this frame to `to`.
    RelayFrame {
        /// Final destination.
        to: ComponentId,
        /// Frame sequence number.
        seq: u32,
        /// Wire size, kept by the relay for the forwarded copy.
        size: u32,
        /// When the peer sent it.
        sent_at: SimTime,
    },
}

const _: () = assert!(size_of::<Msg>() <= 24);

/// The answer a server gives to connection-setup traffic, if `msg` is such traffic:
/// `Connect { id }` → `ConnectAck { id }`. Servers call this for every [`Msg`] they do not
/// otherwise handle and send the reply back over the transport the request came on.
pub fn handshake_reply(msg: &Msg) -> Option<Msg> {
    match *msg {
        Msg::Connect { id } => Some(Msg::ConnectAck { id }),
        _ => None,
    }
}

/// Timers of the communication components.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Publisher: the next event.
    Publish,
    /// Push client: ping (and check the previous pong) for connection `conn`.
    Heartbeat {
        /// Connection generation.
        conn: u32,
    },
    /// Push client: the backoff before reconnecting connection `conn` is over.
    Reconnect {
        /// Connection generation.
        conn: u32,
    },
    /// Poll client: time to poll.
    Poll,
    /// Peer / media source: send the next frame.
    Frame,
    /// Media client: declare overdue chunks lost.
    Expire,
}

impl StableHash for Msg {
    fn stable_hash(&self, h: &mut StableHasher) {
        match *self {
            Msg::Connect { id } => {
                h.write_u64(0);
                h.write_u64(id);
            }
            Msg::ConnectAck { id } => {
                h.write_u64(1);
                h.write_u64(id);
            }
            Msg::Publish { seq, at } => {
                h.write_u64(2);
                h.write_u64(seq);
                h.write_u64(at.as_nanos());
            }
            Msg::Subscribe { conn } => {
                h.write_u64(3);
                h.write_u64(u64::from(conn));
            }
            Msg::Subscribed { conn, accepted } => {
                h.write_u64(4);
                h.write_u64(u64::from(conn));
                h.write_u64(u64::from(accepted));
            }
            Msg::Ping { conn } => {
                h.write_u64(5);
                h.write_u64(u64::from(conn));
            }
            Msg::Pong { conn, known } => {
                h.write_u64(6);
                h.write_u64(u64::from(conn));
                h.write_u64(u64::from(known));
            }
            Msg::Push { seq, at } => {
                h.write_u64(7);
                h.write_u64(seq);
                h.write_u64(at.as_nanos());
            }
            Msg::Poll { id, next } => {
                h.write_u64(8);
                h.write_u64(u64::from(id));
                h.write_u64(next);
            }
            Msg::PollItem { seq, at } => {
                h.write_u64(9);
                h.write_u64(seq);
                h.write_u64(at.as_nanos());
            }
            Msg::PollDone { id, next } => {
                h.write_u64(10);
                h.write_u64(u64::from(id));
                h.write_u64(next);
            }
            Msg::Frame { seq, sent_at } => {
                h.write_u64(11);
                h.write_u64(seq);
                h.write_u64(sent_at.as_nanos());
            }
            Msg::RelayFrame {
                to,
                seq,
                size,
                sent_at,
            } => {
                h.write_u64(12);
                h.write_u64(u64::from(to.0));
                h.write_u64(u64::from(seq));
                h.write_u64(u64::from(size));
                h.write_u64(sent_at.as_nanos());
            }
        }
    }
}

impl StableHash for Timer {
    fn stable_hash(&self, h: &mut StableHasher) {
        match *self {
            Timer::Publish => h.write_u64(0),
            Timer::Heartbeat { conn } => {
                h.write_u64(1);
                h.write_u64(u64::from(conn));
            }
            Timer::Reconnect { conn } => {
                h.write_u64(2);
                h.write_u64(u64::from(conn));
            }
            Timer::Poll => h.write_u64(3),
            Timer::Frame => h.write_u64(4),
            Timer::Expire => h.write_u64(5),
        }
    }
}

impl From<Msg> for crate::Msg {
    fn from(m: Msg) -> crate::Msg {
        crate::Msg::Comm(m)
    }
}

impl From<Timer> for crate::Timer {
    fn from(t: Timer) -> crate::Timer {
        crate::Timer::Comm(t)
    }
}

/// `1 / rate` as nanoseconds since time zero of event `n` on an evenly spaced grid: computed
/// from `n` each time, so long runs do not accumulate rounding.
pub(crate) fn grid_time(n: u64, rate_per_s: f64) -> SimTime {
    SimTime::from_nanos((n as f64 * 1e9 / rate_per_s).round() as u64)
}

/// The configuration of one communication component (carried as
/// [`crate::ComponentConfig::Comm`]): one enum, so the shared registry needs one arm per
/// `match`.
#[derive(Clone, Debug, PartialEq)]
pub enum CommConfig {
    /// A [`Publisher`].
    Publisher(PublisherConfig),
    /// A [`PushGateway`].
    PushGateway(PushGatewayConfig),
    /// A [`PushClient`].
    PushClient(PushClientConfig),
    /// A [`PollServer`].
    PollServer(PollServerConfig),
    /// A [`PollClient`].
    PollClient(PollClientConfig),
    /// A [`Peer`].
    Peer(PeerConfig),
    /// A [`Relay`].
    Relay(RelayConfig),
    /// A [`MediaSource`].
    MediaSource(MediaSourceConfig),
    /// A [`MediaClient`].
    MediaClient(MediaClientConfig),
}

impl CommConfig {
    /// The components this one starts traffic towards (for diagrams and call-graph checks).
    /// A peer's frames go to its relay; peer-to-peer edges are not request calls (two peers
    /// talk both ways) and are left out.
    pub fn targets(&self) -> Vec<ComponentId> {
        match self {
            CommConfig::Publisher(c) => {
                let mut out: Vec<ComponentId> = Vec::with_capacity(c.targets.len());
                for t in &c.targets {
                    if !out.contains(t) {
                        out.push(*t);
                    }
                }
                out
            }
            CommConfig::PushClient(c) => vec![c.gateway],
            CommConfig::PollClient(c) => vec![c.server],
            CommConfig::Peer(c) => c.relay.into_iter().collect(),
            CommConfig::MediaSource(c) => vec![c.target],
            CommConfig::PushGateway(_)
            | CommConfig::PollServer(_)
            | CommConfig::Relay(_)
            | CommConfig::MediaClient(_) => Vec::new(),
        }
    }

    /// A stable snake_case name of the kind. Receiving clients end in `client`, so the
    /// reports treat them as clients (see the module docs).
    pub fn kind_name(&self) -> &'static str {
        match self {
            CommConfig::Publisher(_) => "publisher",
            CommConfig::PushGateway(_) => "push_gateway",
            CommConfig::PushClient(_) => "push_client",
            CommConfig::PollServer(_) => "poll_server",
            CommConfig::PollClient(_) => "poll_client",
            CommConfig::Peer(_) => "peer_client",
            CommConfig::Relay(_) => "relay",
            CommConfig::MediaSource(_) => "media_source",
            CommConfig::MediaClient(_) => "media_client",
        }
    }

    /// Whether the component generates traffic on its own.
    pub fn is_client(&self) -> bool {
        matches!(
            self,
            CommConfig::Publisher(_)
                | CommConfig::PushClient(_)
                | CommConfig::PollClient(_)
                | CommConfig::Peer(_)
                | CommConfig::MediaSource(_)
        )
    }

    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        match self {
            CommConfig::Publisher(c) => c.validate(),
            CommConfig::PushGateway(c) => c.validate(),
            CommConfig::PushClient(c) => c.validate(),
            CommConfig::PollServer(c) => c.validate(),
            CommConfig::PollClient(c) => c.validate(),
            CommConfig::Peer(c) => c.validate(),
            CommConfig::Relay(c) => c.validate(),
            CommConfig::MediaSource(c) => c.validate(),
            CommConfig::MediaClient(c) => c.validate(),
        }
    }

    /// Builds the component `me`, registering its series with `metrics`.
    ///
    /// # Panics
    /// If `self.validate()` fails.
    pub fn build(
        &self,
        me: ComponentId,
        metrics: &mut clustersim_engine::Recorder,
    ) -> Box<dyn clustersim_engine::Component<crate::Cluster>> {
        match self {
            CommConfig::Publisher(c) => Box::new(Publisher::new(c, me, metrics)),
            CommConfig::PushGateway(c) => Box::new(PushGateway::new(c, me, metrics)),
            CommConfig::PushClient(c) => Box::new(PushClient::new(c, me, metrics)),
            CommConfig::PollServer(c) => Box::new(PollServer::new(c, me, metrics)),
            CommConfig::PollClient(c) => Box::new(PollClient::new(c, me, metrics)),
            CommConfig::Peer(c) => Box::new(Peer::new(c, me, metrics)),
            CommConfig::Relay(c) => Box::new(Relay::new(c, me, metrics)),
            CommConfig::MediaSource(c) => Box::new(MediaSource::new(c, me, metrics)),
            CommConfig::MediaClient(c) => Box::new(MediaClient::new(c, me, metrics)),
        }
    }
}
