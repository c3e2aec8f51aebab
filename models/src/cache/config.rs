//! Plain-Rust configuration of the cache / proxy. The scenarios crate builds it from RON;
//! every default is stated on the item that has it (and applied by [`CacheConfig::new`]).

use clustersim_engine::{ComponentId, SimDuration, Transport};

use super::policy::{Capacity, Eviction};
use crate::error::ConfigError;

/// Most backends one cache or proxy may list.
pub const MAX_BACKENDS: usize = 1024;

/// What the component is presented as. The behaviour is the same building block in every
/// role; the role only names the kind in reports (`cache`, `reverse_proxy`, `forward_proxy`)
/// and states which defaults the scenario file applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A cache in front of a service (or a CDN edge in front of an origin).
    Cache,
    /// A reverse proxy: the one address clients see for a pool of backends, which it
    /// balances in turn and may cache for.
    ReverseProxy,
    /// A forward proxy on the clients' side: shares cached answers among its clients and may
    /// refuse keys (destinations) on its deny list.
    ForwardProxy,
}

/// What a write (an [`crate::Op::Write`] request) does to the cache. Reads are always
/// *read-through*: a miss is fetched from a backend, cached and answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WritePolicy {
    /// Forward the write; on the backend's `Ok`, cache the written value with the version the
    /// backend returned (write-allocate).
    WriteThrough,
    /// Invalidate the cached entry at once and forward the write; the next read misses.
    WriteAround,
    /// Update the cache and answer at once, marking the entry dirty; dirty entries are
    /// written to the backend when evicted and, with `flush_interval`, periodically. Dirty
    /// data is lost when the cache crashes.
    WriteBack,
}

/// A half-open range of keys `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyRange {
    /// First key in the range.
    pub start: u64,
    /// First key after the range (`> start`).
    pub end: u64,
}

impl KeyRange {
    /// Whether `key` is in the range.
    pub fn contains(&self, key: u64) -> bool {
        (self.start..self.end).contains(&key)
    }
}

/// A cache, reverse proxy or forward proxy in front of `backends`.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheConfig {
    /// How the component is presented. Default [`Role::Cache`].
    pub role: Role,
    /// Where misses, writes and uncached operations go, in turn (round robin), `1..=1024`
    /// entries. Balancing by anything smarter is the load balancer's job: put one behind the
    /// cache.
    pub backends: Vec<ComponentId>,
    /// How much it holds; `None` = nothing is cached (a pure pass-through proxy). Default
    /// `Some(Entries(10_000))`.
    pub capacity: Option<Capacity>,
    /// Which entry leaves when room is needed. Default [`Eviction::Lru`].
    pub eviction: Eviction,
    /// How long an entry is served after it was fetched or written, measured on the host
    /// node's *local* clock (so clock drift and steps change it). `None` (the default) = until
    /// evicted or invalidated. Must be `> 0`.
    pub ttl: Option<SimDuration>,
    /// What writes do. Default [`WritePolicy::WriteThrough`].
    pub write_policy: WritePolicy,
    /// Write-back only: every `flush_interval` all dirty entries are written to the backend.
    /// `None` (the default) = only on eviction. Must be `> 0`.
    pub flush_interval: Option<SimDuration>,
    /// Keys refused with [`crate::Status::Rejected`] without contacting a backend (a forward
    /// proxy's blocked destinations). Default: none.
    pub deny: Vec<KeyRange>,
    /// Most hits whose staleness is still undecided that the cache remembers (see the module
    /// docs, "Stale hits"); further hits are counted `unresolved_hits`. Default 1,000,000.
    pub stale_log_limit: u32,
    /// Transport of responses and backend requests. Default [`Transport::Stream`].
    pub transport: Transport,
}

impl CacheConfig {
    /// An LRU cache of 10,000 entries in front of `backend`, every other field at its
    /// documented default.
    pub fn new(backend: ComponentId) -> CacheConfig {
        CacheConfig {
            role: Role::Cache,
            backends: vec![backend],
            capacity: Some(Capacity::Entries(10_000)),
            eviction: Eviction::Lru,
            ttl: None,
            write_policy: WritePolicy::WriteThrough,
            flush_interval: None,
            deny: Vec::new(),
            stale_log_limit: 1_000_000,
            transport: Transport::Stream,
        }
    }

    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.backends.is_empty() {
            return Err(ConfigError::new("backends", "is empty: list at least one"));
        }
        if self.backends.len() > MAX_BACKENDS {
            return Err(ConfigError::new(
                "backends",
                format!(
                    "has {} entries, but at most {MAX_BACKENDS} are supported",
                    self.backends.len()
                ),
            ));
        }
        match self.capacity {
            Some(Capacity::Entries(0) | Capacity::Bytes(0)) => {
                return Err(ConfigError::new(
                    "capacity",
                    "is 0, but it must be >= 1 (leave it out for a proxy that caches nothing)",
                ));
            }
            Some(Capacity::Entries(n)) if n > u64::from(u32::MAX) / 2 => {
                return Err(ConfigError::new(
                    "capacity",
                    format!("{n} entries is above the supported 2,147,483,647"),
                ));
            }
            _ => {}
        }
        if self.ttl.is_some_and(SimDuration::is_zero) {
            return Err(ConfigError::new(
                "ttl",
                "is 0, but it must be > 0 (leave it out for entries that never expire)",
            ));
        }
        if self.flush_interval.is_some_and(SimDuration::is_zero) {
            return Err(ConfigError::new(
                "flush_interval",
                "is 0, but it must be > 0",
            ));
        }
        if self.flush_interval.is_some() && self.write_policy != WritePolicy::WriteBack {
            return Err(ConfigError::new(
                "flush_interval",
                "is set, but only a WriteBack cache has dirty entries to flush",
            ));
        }
        for (i, r) in self.deny.iter().enumerate() {
            if r.end <= r.start {
                return Err(ConfigError::new(
                    format!("deny[{i}]"),
                    format!(
                        "is [{}, {}), an empty range: `end` must be > `start`",
                        r.start, r.end
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The report kind name of the role: `cache`, `reverse_proxy` or `forward_proxy`.
    pub fn kind_name(&self) -> &'static str {
        match self.role {
            Role::Cache => "cache",
            Role::ReverseProxy => "reverse_proxy",
            Role::ForwardProxy => "forward_proxy",
        }
    }
}
