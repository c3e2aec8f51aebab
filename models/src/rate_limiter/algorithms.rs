//! The pure rate-limiting algorithms: `try_acquire(now_local, n) -> Decision` over the node's
//! local clock reading, no I/O, no randomness. Each is property-tested in `tests.rs`.
//!
//! Time is integer nanoseconds of the *local* clock. A clock that steps backwards never
//! refills, never opens a new window and never expires log entries (elapsed time saturates at
//! zero), so a backwards step can only make a limiter stricter.
//!
//! # Memory per key (what `state_bytes` reports)
//!
//! | algorithm | state | bytes |
//! |---|---|---|
//! | token bucket | tokens (f64), last refill | 16 |
//! | leaky bucket | next departure instant | 8 |
//! | fixed window | window index, count | 16 |
//! | sliding window log | one 8-byte timestamp per admitted request in the window | 16 + 8 × `log_entries` |
//! | sliding window counter | window index, previous and current counts | 24 |
//!
//! plus 8 bytes for the key of the per-key map entry (B-tree node overhead excluded).

use std::collections::VecDeque;

/// Nanoseconds per second.
const NS: f64 = 1e9;

/// The outcome of one `try_acquire`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Admitted now.
    Admit,
    /// Admitted, but released only after this many nanoseconds (leaky bucket queueing).
    Delay(u64),
    /// Refused; a retry is not expected to succeed before `retry_after_ns`.
    Reject {
        /// Nanoseconds until the request would be admitted (a Retry-After hint).
        retry_after_ns: u64,
    },
}

impl Decision {
    /// Whether the request is admitted (now or after a delay).
    pub fn admitted(self) -> bool {
        !matches!(self, Decision::Reject { .. })
    }
}

/// Token bucket with continuous refill: `rate_per_s` tokens per second up to `burst`; a
/// request of `n` takes `n` tokens if there are at least `n`. Starts full.
///
/// Under Poisson arrivals at λ the token deficit `burst − tokens` is the unfinished work of
/// an M/D/1 queue with service time `1/rate`, and a request is admitted exactly when fewer
/// than `burst` customers are in that queue: admitted fraction = 1 − P_block(M/D/1/K = burst)
/// ([`md1k_blocking`]).
#[derive(Clone, Debug, PartialEq)]
pub struct TokenBucket {
    rate_per_ns: f64,
    burst: f64,
    tokens: f64,
    last: u64,
}

impl TokenBucket {
    /// A full bucket. `rate_per_s > 0`, `burst >= 1`.
    pub fn new(rate_per_s: f64, burst: u32) -> TokenBucket {
        TokenBucket {
            rate_per_ns: rate_per_s / NS,
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: 0,
        }
    }
    /// Refills up to `now`, then takes `n` tokens if available.
    pub fn try_acquire(&mut self, now: u64, n: u32) -> Decision {
        let dt = now.saturating_sub(self.last);
        self.last = self.last.max(now);
        self.tokens = (self.tokens + dt as f64 * self.rate_per_ns).min(self.burst);
        let need = f64::from(n);
        // A tiny epsilon absorbs rounding of the refill product (1e-9 token).
        if self.tokens + 1e-9 >= need {
            self.tokens = (self.tokens - need).max(0.0);
            Decision::Admit
        } else {
            let wait = ((need - self.tokens) / self.rate_per_ns).ceil();
            Decision::Reject {
                retry_after_ns: (wait as u64).max(1),
            }
        }
    }
    /// Tokens available (as of the last call).
    pub fn tokens(&self) -> f64 {
        self.tokens
    }
}

/// Leaky bucket as a queue: admitted requests leave one every `1/rate_per_s`; at most
/// `capacity` requests may be in the bucket (waiting or leaving); excess is rejected. The
/// waiting time is returned as [`Decision::Delay`] and is part of the request's latency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeakyBucket {
    interval_ns: u64,
    capacity: u64,
    next_free: u64,
}

impl LeakyBucket {
    /// An empty bucket. `rate_per_s > 0` (at most 1e9), `capacity >= 1`.
    pub fn new(rate_per_s: f64, capacity: u32) -> LeakyBucket {
        LeakyBucket {
            interval_ns: ((NS / rate_per_s).round() as u64).max(1),
            capacity: u64::from(capacity),
            next_free: 0,
        }
    }
    /// Queues `n` requests if there is room for all of them.
    pub fn try_acquire(&mut self, now: u64, n: u32) -> Decision {
        let n = u64::from(n);
        let backlog = self.next_free.saturating_sub(now);
        let in_bucket = backlog.div_ceil(self.interval_ns);
        if in_bucket + n > self.capacity {
            // Room for `n` once the backlog is down to (capacity − n) intervals.
            let keep = self.capacity.saturating_sub(n) * self.interval_ns;
            return Decision::Reject {
                retry_after_ns: backlog.saturating_sub(keep).max(1),
            };
        }
        let start = self.next_free.max(now);
        self.next_free = start + n * self.interval_ns;
        // The last of the `n` leaves at `start + (n-1) * interval`.
        let delay = start - now + n.saturating_sub(1) * self.interval_ns;
        if delay == 0 {
            Decision::Admit
        } else {
            Decision::Delay(delay)
        }
    }
    /// Requests in the bucket at `now`.
    pub fn len(&self, now: u64) -> u64 {
        self.next_free
            .saturating_sub(now)
            .div_ceil(self.interval_ns)
    }
    /// Whether the bucket is empty at `now`.
    pub fn is_empty(&self, now: u64) -> bool {
        self.len(now) == 0
    }
}

/// Fixed window counter: at most `limit` per aligned window `[k·W, (k+1)·W)` of the local
/// clock. A burst at the end of one window and another at the start of the next admit
/// `2 × limit` within one window length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedWindow {
    limit: u64,
    window_ns: u64,
    index: u64,
    count: u64,
}

impl FixedWindow {
    /// `limit >= 1`, `window_ns >= 1`.
    pub fn new(limit: u32, window_ns: u64) -> FixedWindow {
        FixedWindow {
            limit: u64::from(limit),
            window_ns,
            index: 0,
            count: 0,
        }
    }
    /// Counts `n` in the current window if they fit.
    pub fn try_acquire(&mut self, now: u64, n: u32) -> Decision {
        let idx = now / self.window_ns;
        if idx > self.index {
            self.index = idx;
            self.count = 0;
        }
        if self.count + u64::from(n) <= self.limit {
            self.count += u64::from(n);
            Decision::Admit
        } else {
            Decision::Reject {
                retry_after_ns: ((self.index + 1) * self.window_ns)
                    .saturating_sub(now)
                    .max(1),
            }
        }
    }
}

/// Sliding window log: exact — at most `limit` admissions in any window `(t − W, t]`.
/// Keeps one timestamp per admission in the window, so memory grows with the admitted rate
/// (`limit` entries per key at most).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlidingLog {
    limit: usize,
    window_ns: u64,
    log: VecDeque<u64>,
}

impl SlidingLog {
    /// `limit >= 1`, `window_ns >= 1`.
    pub fn new(limit: u32, window_ns: u64) -> SlidingLog {
        SlidingLog {
            limit: limit as usize,
            window_ns,
            log: VecDeque::new(),
        }
    }
    /// Expires entries older than `now − W`, then logs `n` admissions if they fit.
    pub fn try_acquire(&mut self, now: u64, n: u32) -> Decision {
        while self.log.front().is_some_and(|&t| t + self.window_ns <= now) {
            self.log.pop_front();
        }
        let n = n as usize;
        if self.log.len() + n <= self.limit {
            for _ in 0..n {
                self.log.push_back(now);
            }
            Decision::Admit
        } else {
            // The entry whose expiry makes room for `n`.
            let i = (self.log.len() + n - self.limit - 1).min(self.log.len().saturating_sub(1));
            let t = self.log.get(i).copied().unwrap_or(now);
            Decision::Reject {
                retry_after_ns: (t + self.window_ns).saturating_sub(now).max(1),
            }
        }
    }
    /// Timestamps currently logged.
    pub fn entries(&self) -> usize {
        self.log.len()
    }
}

/// Sliding window counter: the estimate `prev × (1 − f) + curr`, where `f` is the elapsed
/// fraction of the current aligned window, must stay `<= limit`. It assumes the previous
/// window's requests were spread evenly; the exact count in `(t − W, t]` can exceed `limit`
/// when they were bunched at its end.
///
/// **Stated bound:** at the instant of each admission the estimate is `<= limit`, and
/// therefore the exact count in `(t − W, t]` is at most `limit + f·prev <= 2 × limit`
/// (reached only by adversarial traffic bunched at a window edge); under smooth (Poisson)
/// traffic the admitted total is within a few percent of the exact sliding log's (measured in
/// the tests: the approximation error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlidingCounter {
    limit: u64,
    window_ns: u64,
    index: u64,
    prev: u64,
    curr: u64,
}

impl SlidingCounter {
    /// `limit >= 1`, `window_ns >= 1`.
    pub fn new(limit: u32, window_ns: u64) -> SlidingCounter {
        SlidingCounter {
            limit: u64::from(limit),
            window_ns,
            index: 0,
            prev: 0,
            curr: 0,
        }
    }
    fn roll(&mut self, now: u64) {
        let idx = now / self.window_ns;
        if idx == self.index + 1 {
            self.prev = self.curr;
            self.curr = 0;
            self.index = idx;
        } else if idx > self.index + 1 {
            self.prev = 0;
            self.curr = 0;
            self.index = idx;
        }
    }
    /// The estimate of the requests in `(now − W, now]` (rolls the windows to `now`).
    pub fn estimate(&mut self, now: u64) -> f64 {
        self.roll(now);
        let elapsed = now.saturating_sub(self.index * self.window_ns);
        let f = elapsed as f64 / self.window_ns as f64;
        self.prev as f64 * (1.0 - f) + self.curr as f64
    }
    /// Counts `n` if the estimate stays within the limit.
    pub fn try_acquire(&mut self, now: u64, n: u32) -> Decision {
        let est = self.estimate(now);
        let n64 = u64::from(n);
        if est + n64 as f64 <= self.limit as f64 + 1e-9 {
            self.curr += n64;
            return Decision::Admit;
        }
        let window_end = (self.index + 1) * self.window_ns;
        let retry = if self.curr + n64 <= self.limit && self.prev > 0 {
            // Need prev × (1 − f) <= limit − n − curr.
            let room = (self.limit - n64 - self.curr) as f64;
            let f = 1.0 - room / self.prev as f64;
            let at = self.index * self.window_ns + (f * self.window_ns as f64).ceil() as u64;
            at.saturating_sub(now)
        } else {
            window_end.saturating_sub(now)
        };
        Decision::Reject {
            retry_after_ns: retry.max(1),
        }
    }
}

/// One key's limiter state, of any algorithm.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyState {
    /// [`TokenBucket`].
    TokenBucket(TokenBucket),
    /// [`LeakyBucket`].
    LeakyBucket(LeakyBucket),
    /// [`FixedWindow`].
    FixedWindow(FixedWindow),
    /// [`SlidingLog`].
    SlidingLog(SlidingLog),
    /// [`SlidingCounter`].
    SlidingCounter(SlidingCounter),
}

impl KeyState {
    /// Dispatches to the algorithm.
    pub fn try_acquire(&mut self, now: u64, n: u32) -> Decision {
        match self {
            KeyState::TokenBucket(s) => s.try_acquire(now, n),
            KeyState::LeakyBucket(s) => s.try_acquire(now, n),
            KeyState::FixedWindow(s) => s.try_acquire(now, n),
            KeyState::SlidingLog(s) => s.try_acquire(now, n),
            KeyState::SlidingCounter(s) => s.try_acquire(now, n),
        }
    }
    /// Bytes of algorithm state (see the module docs), excluding the map entry's key.
    pub fn state_bytes(&self) -> u64 {
        match self {
            KeyState::TokenBucket(_) => 16,
            KeyState::LeakyBucket(_) => 8,
            KeyState::FixedWindow(_) => 16,
            KeyState::SlidingLog(s) => 16 + 8 * s.entries() as u64,
            KeyState::SlidingCounter(_) => 24,
        }
    }
    /// Logged timestamps (sliding window log only, else 0).
    pub fn log_entries(&self) -> u64 {
        match self {
            KeyState::SlidingLog(s) => s.entries() as u64,
            _ => 0,
        }
    }
}

/// Blocking probability of the M/D/1/K queue (Poisson arrivals at load `rho = λ·D > 0`,
/// constant service time `D`, at most `k >= 1` in the system), by the embedded Markov chain
/// at departures (states `0..k`, what a departure leaves behind): with `π` its stationary
/// law, P_block = 1 − 1/(π₀ + ρ). Checks: `k = 1` gives ρ/(1+ρ).
pub fn md1k_blocking(rho: f64, k: usize) -> f64 {
    assert!(
        k >= 1 && rho > 0.0,
        "md1k_blocking needs k >= 1 and rho > 0"
    );
    // a[j] = P(j Poisson(rho) arrivals during one service).
    let mut a = vec![0.0; k + 1];
    let mut p = (-rho).exp();
    for (j, aj) in a.iter_mut().enumerate() {
        *aj = p;
        p *= rho / (j as f64 + 1.0);
    }
    let rows: Vec<Vec<f64>> = (0..k)
        .map(|i| {
            let base = i.saturating_sub(1);
            let mut r = vec![0.0; k];
            let mut acc = 0.0;
            for (j, rj) in r.iter_mut().enumerate().take(k - 1).skip(base) {
                *rj = a[j - base];
                acc += *rj;
            }
            r[k - 1] += 1.0 - acc;
            r
        })
        .collect();
    let mut pi = vec![1.0 / k as f64; k];
    for _ in 0..1_000_000 {
        let mut next = vec![0.0; k];
        for (i, r) in rows.iter().enumerate() {
            for (j, v) in r.iter().enumerate() {
                next[j] += pi[i] * v;
            }
        }
        let diff: f64 = next.iter().zip(&pi).map(|(x, y)| (x - y).abs()).sum();
        pi = next;
        if diff < 1e-15 {
            break;
        }
    }
    1.0 - 1.0 / (pi[0] + rho)
}
