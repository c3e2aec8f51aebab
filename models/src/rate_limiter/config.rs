//! Plain-Rust configuration of the rate limiter and its counter store. The scenarios crate
//! builds them from RON; every default is stated on the item that has it.

use clustersim_engine::{ComponentId, SimDuration, Transport};

use super::algorithms::{
    FixedWindow, KeyState, LeakyBucket, SlidingCounter, SlidingLog, TokenBucket,
};
use crate::error::ConfigError;

/// A rate limiter placed in front of `target`.
#[derive(Clone, Debug, PartialEq)]
pub struct RateLimiterConfig {
    /// Where admitted requests go.
    pub target: ComponentId,
    /// What a limit applies to. Default [`KeyBy::Global`].
    pub key_by: KeyBy,
    /// The algorithm and its parameters.
    pub algorithm: Algorithm,
    /// Local or distributed limiting. Default [`Mode::Local`].
    pub mode: Mode,
    /// Send a Retry-After hint with throttled responses. Default `true`.
    pub retry_after: bool,
    /// Transport of forwarded requests, responses and store traffic. Default
    /// [`Transport::Stream`].
    pub transport: Transport,
    /// With [`KeyBy::Client`], the end users `0..report_keys` that get their own labelled
    /// `admitted@key=N` / `rejected@key=N` series (the rest count under `key=other`). Keys
    /// of [`KeyBy::Route`] are always labelled each; [`KeyBy::Global`] has one key, whose
    /// counts are the plain `admitted` / `rejected`. Default 32.
    pub report_keys: u32,
}

/// The key a limit is kept per.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyBy {
    /// One limit for all traffic.
    Global,
    /// Per end user ([`crate::Request::client`]).
    Client,
    /// Per API route ([`crate::Request::op`]).
    Route,
}

/// A limiting algorithm (see [`super::algorithms`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Algorithm {
    /// Continuous-refill token bucket.
    TokenBucket {
        /// Refill rate, tokens per second, `> 0`.
        rate_per_s: f64,
        /// Bucket size, `>= 1`.
        burst: u32,
    },
    /// Leaky bucket (a queue drained at a constant rate).
    LeakyBucket {
        /// Drain rate, requests per second, in `(0, 1e9]`.
        rate_per_s: f64,
        /// Requests the bucket holds (waiting or leaving), `>= 1`.
        capacity: u32,
    },
    /// Fixed window counter. The only algorithm of the distributed modes.
    FixedWindow {
        /// Requests per window, `>= 1`.
        limit: u32,
        /// Window length, `> 0`.
        window: SimDuration,
    },
    /// Sliding window log (exact).
    SlidingLog {
        /// Requests per window, `>= 1`.
        limit: u32,
        /// Window length, `> 0`.
        window: SimDuration,
    },
    /// Sliding window counter (approximate).
    SlidingCounter {
        /// Requests per window, `>= 1`.
        limit: u32,
        /// Window length, `> 0`.
        window: SimDuration,
    },
}

impl Algorithm {
    /// A fresh per-key state.
    pub fn new_state(&self) -> KeyState {
        match *self {
            Algorithm::TokenBucket { rate_per_s, burst } => {
                KeyState::TokenBucket(TokenBucket::new(rate_per_s, burst))
            }
            Algorithm::LeakyBucket {
                rate_per_s,
                capacity,
            } => KeyState::LeakyBucket(LeakyBucket::new(rate_per_s, capacity)),
            Algorithm::FixedWindow { limit, window } => {
                KeyState::FixedWindow(FixedWindow::new(limit, window.as_nanos()))
            }
            Algorithm::SlidingLog { limit, window } => {
                KeyState::SlidingLog(SlidingLog::new(limit, window.as_nanos()))
            }
            Algorithm::SlidingCounter { limit, window } => {
                KeyState::SlidingCounter(SlidingCounter::new(limit, window.as_nanos()))
            }
        }
    }

    /// The RON variant name.
    pub fn variant(&self) -> &'static str {
        match self {
            Algorithm::TokenBucket { .. } => "TokenBucket",
            Algorithm::LeakyBucket { .. } => "LeakyBucket",
            Algorithm::FixedWindow { .. } => "FixedWindow",
            Algorithm::SlidingLog { .. } => "SlidingLog",
            Algorithm::SlidingCounter { .. } => "SlidingCounter",
        }
    }
}

/// Where the counters live.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// Purely local state (also the "sticky routing" mode: put an `IpHash` load balancer in
    /// front of several limiters keyed by client, so each client's state lives on one node).
    Local,
    /// Every request does an atomic check-and-increment on the store's fixed-window counter
    /// (a Redis Lua script): exact, adds a store round trip to every request.
    Sync(StoreLink),
    /// Local counters, pushed to the store every `interval`; each push returns the global
    /// count, and a request is admitted while `global + unsynced < limit`. Fast, but the
    /// nodes over-admit by up to `(nodes − 1) × rate × interval` per window.
    LocalSync {
        /// The store connection.
        link: StoreLink,
        /// Time between pushes of the local counters, `> 0`.
        interval: SimDuration,
    },
}

/// How a limiter uses its [`CounterStoreConfig`] store.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StoreLink {
    /// The counter store component.
    pub store: ComponentId,
    /// How long to wait for a store answer before treating the store as down, `> 0`.
    /// Default 50 ms.
    pub timeout: SimDuration,
    /// With the store down: admit (`true`, fail-open) or throttle (`false`, fail-closed).
    /// Default `true`.
    pub fail_open: bool,
}

impl StoreLink {
    /// Defaults for `store`.
    pub fn new(store: ComponentId) -> StoreLink {
        StoreLink {
            store,
            timeout: SimDuration::from_millis(50),
            fail_open: true,
        }
    }
}

/// The most end users a limiter reports one by one ([`RateLimiterConfig::report_keys`]).
pub const MAX_REPORT_KEYS: u32 = 10_000;

impl RateLimiterConfig {
    /// A global, local limiter with `algorithm` in front of `target` (other defaults).
    pub fn new(target: ComponentId, algorithm: Algorithm) -> RateLimiterConfig {
        RateLimiterConfig {
            target,
            key_by: KeyBy::Global,
            algorithm,
            mode: Mode::Local,
            retry_after: true,
            transport: Transport::Stream,
            report_keys: 32,
        }
    }

    /// The components this one sends to (target, then store).
    pub fn targets(&self) -> Vec<ComponentId> {
        let mut v = vec![self.target];
        if let Mode::Sync(l) | Mode::LocalSync { link: l, .. } = self.mode
            && l.store != self.target
        {
            v.push(l.store);
        }
        v
    }

    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive_duration = |w: SimDuration, f: &str| {
            if w.is_zero() {
                Err(ConfigError::new(f, "is 0, but it must be > 0"))
            } else {
                Ok(())
            }
        };
        let at_least_one = |v: u32, f: &str| {
            if v == 0 {
                Err(ConfigError::new(f, "is 0, but it must be >= 1"))
            } else {
                Ok(())
            }
        };
        if self.report_keys > MAX_REPORT_KEYS {
            return Err(ConfigError::new(
                "report_keys",
                format!(
                    "is {}, but it must be <= {MAX_REPORT_KEYS}: each reported key adds two \
                     series to every report; report the heaviest users only, the rest are \
                     summed under key=other",
                    self.report_keys
                ),
            ));
        }
        let n = self.algorithm.variant();
        match self.algorithm {
            Algorithm::TokenBucket { rate_per_s, burst } => {
                crate::error::positive("algorithm.TokenBucket.rate_per_s", rate_per_s)?;
                at_least_one(burst, "algorithm.TokenBucket.burst")?;
            }
            Algorithm::LeakyBucket {
                rate_per_s,
                capacity,
            } => {
                crate::error::positive("algorithm.LeakyBucket.rate_per_s", rate_per_s)?;
                if rate_per_s > 1e9 {
                    return Err(ConfigError::new(
                        "algorithm.LeakyBucket.rate_per_s",
                        format!("is {rate_per_s}, but it must be <= 1e9 (one per nanosecond)"),
                    ));
                }
                at_least_one(capacity, "algorithm.LeakyBucket.capacity")?;
            }
            Algorithm::FixedWindow { limit, window }
            | Algorithm::SlidingLog { limit, window }
            | Algorithm::SlidingCounter { limit, window } => {
                at_least_one(limit, &format!("algorithm.{n}.limit"))?;
                positive_duration(window, &format!("algorithm.{n}.window"))?;
            }
        }
        if let Mode::Sync(l) | Mode::LocalSync { link: l, .. } = self.mode {
            let m = if matches!(self.mode, Mode::Sync(_)) {
                "Sync"
            } else {
                "LocalSync.link"
            };
            if !matches!(self.algorithm, Algorithm::FixedWindow { .. }) {
                return Err(ConfigError::new(
                    "mode",
                    format!(
                        "is {m}, which supports only FixedWindow (the store keeps one counter \
                         per key and window and checks it atomically), but the algorithm is \
                         {n}: use FixedWindow with a distributed mode, or mode Local for {n}"
                    ),
                ));
            }
            positive_duration(l.timeout, &format!("mode.{m}.timeout"))?;
            if l.store == self.target {
                return Err(ConfigError::new(
                    format!("mode.{m}.store"),
                    "is the limiter's own target; the store must be a separate CounterStore",
                ));
            }
        }
        if let Mode::LocalSync { interval, .. } = self.mode {
            positive_duration(interval, "mode.LocalSync.interval")?;
        }
        Ok(())
    }
}

/// A Redis-like counter store shared by distributed limiters: one thread, a constant
/// `service_time` per operation in FIFO order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CounterStoreConfig {
    /// Time per operation. Default 50 µs. May be 0.
    pub service_time: SimDuration,
    /// Transport of replies. Default [`Transport::Stream`].
    pub transport: Transport,
}

impl Default for CounterStoreConfig {
    fn default() -> Self {
        CounterStoreConfig {
            service_time: SimDuration::from_micros(50),
            transport: Transport::Stream,
        }
    }
}

impl CounterStoreConfig {
    /// Checks every field (every value is valid today).
    pub fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}
