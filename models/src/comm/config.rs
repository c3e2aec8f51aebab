//! Plain-Rust configuration of the communication-style components. The scenarios crate builds
//! these from RON; every default is stated on the item that has it.

use clustersim_engine::{ComponentId, SimDuration, Transport};

use crate::error::{ConfigError, positive};

/// A [`crate::comm::Publisher`]: the source of notification events.
#[derive(Clone, Debug, PartialEq)]
pub struct PublisherConfig {
    /// Push gateways and poll servers every event is sent to (in this order), `>= 1`.
    pub targets: Vec<ComponentId>,
    /// Events per second, finite and `> 0`.
    pub rate_per_s: f64,
    /// Poisson (exponential gaps, the default) or evenly spaced events.
    pub poisson: bool,
    /// Wire size of one `Publish` message in bytes. Default 0.
    pub size_bytes: u32,
}

/// A [`crate::comm::PushGateway`]: holds persistent connections and fans events out.
#[derive(Clone, Debug, PartialEq)]
pub struct PushGatewayConfig {
    /// Most simultaneous connections; further subscriptions are refused. Default `u32::MAX`
    /// (unlimited). Must be `>= 1`.
    pub max_connections: u32,
    /// Wire size of one `Push` in bytes. Default 0.
    pub push_size: u32,
}

/// A [`crate::comm::PushClient`]: one WebSocket-like subscriber.
#[derive(Clone, Debug, PartialEq)]
pub struct PushClientConfig {
    /// The gateway it connects to.
    pub gateway: ComponentId,
    /// Round trips of connection setup (TCP + TLS) before the subscription (the WebSocket
    /// upgrade) is sent. Default 0.
    pub handshake_rtts: u32,
    /// Ping interval; a ping unanswered by the next one, or whose send fails, means the
    /// connection is gone. Default 1 s, `> 0`.
    pub heartbeat: SimDuration,
    /// First reconnect backoff (doubling per failed attempt, full jitter). Default 100 ms,
    /// `> 0`.
    pub backoff_base: SimDuration,
    /// Cap on the reconnect backoff. Default 5 s, `>= backoff_base`.
    pub backoff_max: SimDuration,
    /// The first connection attempt is made at this instant. Default 0.
    pub start_after: SimDuration,
}

/// A [`crate::comm::PollServer`]: answers HTTP polls from a log of recent events.
#[derive(Clone, Debug, PartialEq)]
pub struct PollServerConfig {
    /// Events kept for pollers; older ones are lost to slow pollers. Default 1024, `>= 1`.
    pub history: u32,
    /// Wire size of one event in a poll response, in bytes. Default 0.
    pub item_size: u32,
}

/// A [`crate::comm::PollClient`]: asks a poll server for news every `interval`.
#[derive(Clone, Debug, PartialEq)]
pub struct PollClientConfig {
    /// The poll server.
    pub server: ComponentId,
    /// Polling interval `T`, `> 0`. The first poll is at a uniform random phase in `[0, T)`.
    pub interval: SimDuration,
    /// Round trips of connection setup before each poll (0 = keep-alive). Default 0.
    pub handshake_rtts: u32,
}

/// A [`crate::comm::Peer`]: sends frames to another peer, directly or through a relay.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerConfig {
    /// The peer frames are for.
    pub peer: ComponentId,
    /// `None`: straight to the peer (WebRTC-like); `Some(r)`: through relay `r` (TURN-like).
    pub relay: Option<ComponentId>,
    /// Frames per second, finite and `> 0` (evenly spaced).
    pub rate_per_s: f64,
    /// Wire size of one frame in bytes. Default 0.
    pub frame_size: u32,
    /// Transport. Default [`Transport::Datagram`].
    pub transport: Transport,
}

/// A [`crate::comm::Relay`]: forwards frames between peers.
#[derive(Clone, Debug, PartialEq)]
pub struct RelayConfig {
    /// Transport of forwarded frames. Default [`Transport::Datagram`].
    pub transport: Transport,
}

/// A [`crate::comm::MediaSource`]: live media, one chunk per frame.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaSourceConfig {
    /// The receiver ([`crate::comm::MediaClient`]).
    pub target: ComponentId,
    /// Frames (chunks) per second, finite and `> 0`; chunks are evenly spaced.
    pub frame_rate: f64,
    /// Wire size of one chunk in bytes. Default 0.
    pub chunk_size: u32,
    /// UDP-like (lossy, no retransmission) or TCP-like (reliable, ordered). Default
    /// [`Transport::Datagram`].
    pub transport: Transport,
}

/// A [`crate::comm::MediaClient`]: plays chunks out after a fixed delay.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaClientConfig {
    /// Chunk `s` is on time if it arrives by `sent_at(s) + playout_delay`, `> 0`.
    pub playout_delay: SimDuration,
    /// A missing chunk is declared lost once a later chunk was sent at least this long ago.
    /// Default 2 s; must be `>= playout_delay`.
    pub lost_after: SimDuration,
}

fn nonzero(field: &str, d: SimDuration) -> Result<(), ConfigError> {
    if d.is_zero() {
        Err(ConfigError::new(field, "is 0, but it must be > 0"))
    } else {
        Ok(())
    }
}

fn rate(field: &str, r: f64) -> Result<(), ConfigError> {
    positive(field, r)?;
    if r > 1e9 {
        return Err(ConfigError::new(
            field,
            format!("is {r:?}/s, above the supported 1e9/s"),
        ));
    }
    Ok(())
}

impl PublisherConfig {
    /// Poisson events at `rate_per_s` to `targets`, zero-size messages.
    pub fn new(targets: Vec<ComponentId>, rate_per_s: f64) -> PublisherConfig {
        PublisherConfig {
            targets,
            rate_per_s,
            poisson: true,
            size_bytes: 0,
        }
    }
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.targets.is_empty() {
            return Err(ConfigError::new("targets", "is empty; list at least one"));
        }
        rate("rate_per_s", self.rate_per_s)
    }
}

impl PushGatewayConfig {
    /// An unlimited gateway with zero-size pushes.
    pub fn new() -> PushGatewayConfig {
        PushGatewayConfig {
            max_connections: u32::MAX,
            push_size: 0,
        }
    }
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_connections == 0 {
            return Err(ConfigError::new(
                "max_connections",
                "is 0, but it must be >= 1",
            ));
        }
        Ok(())
    }
}

impl Default for PushGatewayConfig {
    fn default() -> Self {
        PushGatewayConfig::new()
    }
}

impl PushClientConfig {
    /// A client of `gateway` with every other field at its documented default.
    pub fn new(gateway: ComponentId) -> PushClientConfig {
        PushClientConfig {
            gateway,
            handshake_rtts: 0,
            heartbeat: SimDuration::from_secs(1),
            backoff_base: SimDuration::from_millis(100),
            backoff_max: SimDuration::from_secs(5),
            start_after: SimDuration::ZERO,
        }
    }
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        nonzero("heartbeat", self.heartbeat)?;
        nonzero("backoff_base", self.backoff_base)?;
        if self.backoff_max < self.backoff_base {
            return Err(ConfigError::new(
                "backoff_max",
                format!(
                    "is {}, but it must be >= backoff_base ({})",
                    self.backoff_max, self.backoff_base
                ),
            ));
        }
        Ok(())
    }
}

impl PollServerConfig {
    /// A server keeping 1024 events, zero-size items.
    pub fn new() -> PollServerConfig {
        PollServerConfig {
            history: 1024,
            item_size: 0,
        }
    }
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.history == 0 || self.history > 1 << 24 {
            return Err(ConfigError::new(
                "history",
                format!("is {}, but it must be in 1..=16777216", self.history),
            ));
        }
        Ok(())
    }
}

impl Default for PollServerConfig {
    fn default() -> Self {
        PollServerConfig::new()
    }
}

impl PollClientConfig {
    /// Polls `server` every `interval` over a kept-alive connection.
    pub fn new(server: ComponentId, interval: SimDuration) -> PollClientConfig {
        PollClientConfig {
            server,
            interval,
            handshake_rtts: 0,
        }
    }
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        nonzero("interval", self.interval)
    }
}

impl PeerConfig {
    /// Direct datagram frames to `peer` at `rate_per_s`.
    pub fn new(peer: ComponentId, rate_per_s: f64) -> PeerConfig {
        PeerConfig {
            peer,
            relay: None,
            rate_per_s,
            frame_size: 0,
            transport: Transport::Datagram,
        }
    }
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        rate("rate_per_s", self.rate_per_s)
    }
}

impl MediaSourceConfig {
    /// `frame_rate` datagram chunks per second to `target`.
    pub fn new(target: ComponentId, frame_rate: f64) -> MediaSourceConfig {
        MediaSourceConfig {
            target,
            frame_rate,
            chunk_size: 0,
            transport: Transport::Datagram,
        }
    }
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        rate("frame_rate", self.frame_rate)
    }
}

impl MediaClientConfig {
    /// A receiver with the given playout delay and `lost_after` of 2 s.
    pub fn new(playout_delay: SimDuration) -> MediaClientConfig {
        MediaClientConfig {
            playout_delay,
            lost_after: SimDuration::from_secs(2),
        }
    }
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        nonzero("playout_delay", self.playout_delay)?;
        if self.lost_after < self.playout_delay {
            return Err(ConfigError::new(
                "lost_after",
                format!(
                    "is {}, but it must be >= playout_delay ({})",
                    self.lost_after, self.playout_delay
                ),
            ));
        }
        Ok(())
    }
}
