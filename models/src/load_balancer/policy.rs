//! The pure algorithmic core of the load balancer: [`Picker`] chooses a backend under a
//! [`Policy`], given per-backend weights, health, active connections and observed
//! time-to-first-byte. No engine context, no time: everything it needs is passed in, so it is
//! property-tested directly.
//!
//! # Complexity per pick (n backends)
//!
//! | policy | cost |
//! |---|---|
//! | `RoundRobin`, `Random`, `PowerOfTwoChoices`, `Failover` | O(1) |
//! | `IpHash`, `KeyHash` | O(log n) expected (jump consistent hash, rehash past unhealthy backends) |
//! | `LeastConnections`, `WeightedLeastConnections`, `LeastResponseTime` | O(log n): a segment tree over `(load, index)`; every connection start/end is an O(log n) update |
//! | `WeightedRoundRobin` | O(n) (nginx's smooth weighted round robin scans every backend) |
//!
//! Health changes (rare) rebuild the list of healthy backends in O(n).

use std::cmp::Ordering;

use clustersim_engine::rng::below;

/// How the load balancer chooses a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Policy {
    /// Healthy backends in turn (weights ignored).
    RoundRobin,
    /// nginx's *smooth* weighted round robin: over every `Σ weights` picks each backend gets
    /// exactly `weight` of them, interleaved (not in bursts).
    WeightedRoundRobin,
    /// Layer 4: a consistent hash of the end user (`(client component, Request::client)`), so
    /// every request of one user goes to the same backend while it stays healthy.
    IpHash,
    /// The backend with the fewest active (forwarded, unanswered) requests; ties in turn.
    LeastConnections,
    /// The lowest `active ÷ weight` (compared exactly as fractions); ties in turn.
    WeightedLeastConnections,
    /// The lowest `(active + 1) × EWMA(time to first byte)`; ties (e.g. before any response
    /// has been observed) in turn. The `+ 1` makes an idle backend's key its expected response
    /// time instead of 0, so among idle backends the fastest wins. A backend without a
    /// response for a second has its EWMA halved each idle second ([`EWMA_IDLE_DECAY_NS`]), so
    /// one that was slow once is tried again instead of being starved for good.
    LeastResponseTime,
    /// A uniformly random healthy backend (weights ignored).
    Random,
    /// Two distinct random healthy backends; the one with fewer active requests wins (ties to
    /// the first draw). Weights ignored.
    PowerOfTwoChoices,
    /// Layer 7: a consistent hash of the request's key: one key always reaches one backend
    /// while it stays healthy (cache affinity).
    KeyHash,
    /// The first healthy backend in configuration order: an active-passive pair (a virtual
    /// address in front of two load balancers is a `Failover` balancer with health checks).
    Failover,
}

impl Policy {
    /// Every policy, in documentation order.
    pub const ALL: [Policy; 10] = [
        Policy::RoundRobin,
        Policy::WeightedRoundRobin,
        Policy::IpHash,
        Policy::LeastConnections,
        Policy::WeightedLeastConnections,
        Policy::LeastResponseTime,
        Policy::Random,
        Policy::PowerOfTwoChoices,
        Policy::KeyHash,
        Policy::Failover,
    ];

    /// Stable snake_case name, for messages and reports.
    pub fn name(self) -> &'static str {
        match self {
            Policy::RoundRobin => "round_robin",
            Policy::WeightedRoundRobin => "weighted_round_robin",
            Policy::IpHash => "ip_hash",
            Policy::LeastConnections => "least_connections",
            Policy::WeightedLeastConnections => "weighted_least_connections",
            Policy::LeastResponseTime => "least_response_time",
            Policy::Random => "random",
            Policy::PowerOfTwoChoices => "power_of_two_choices",
            Policy::KeyHash => "key_hash",
            Policy::Failover => "failover",
        }
    }

    /// Whether the policy reads request attributes (op, key): allowed at layer 7 only.
    pub fn needs_layer7(self) -> bool {
        matches!(self, Policy::KeyHash)
    }

    fn uses_tree(self) -> bool {
        matches!(
            self,
            Policy::LeastConnections | Policy::WeightedLeastConnections | Policy::LeastResponseTime
        )
    }
}

/// A load as an exact fraction `num / den`; `den == 0` is infinity (an unhealthy backend).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Load {
    num: u64,
    den: u64,
}

impl Load {
    /// Larger than every finite load.
    pub const INFINITE: Load = Load { num: 1, den: 0 };

    /// `num / den`, with `den >= 1`.
    pub fn ratio(num: u64, den: u64) -> Load {
        debug_assert!(den >= 1);
        Load { num, den }
    }

    /// Exact comparison by cross multiplication (no rounding).
    pub fn compare(self, other: Load) -> Ordering {
        (u128::from(self.num) * u128::from(other.den))
            .cmp(&(u128::from(other.num) * u128::from(self.den)))
    }
}

/// A segment tree over per-leaf [`Load`]s: the minimum (lowest index among equals) in O(1),
/// a leaf update in O(log n), and "the first minimal leaf at or after `from`" in O(log n).
#[derive(Clone, Debug)]
pub struct MinTree {
    size: usize,
    loads: Vec<Load>,
    /// `best[node]` = index of the minimal leaf under `node` (`best[size + i] = i`).
    best: Vec<u32>,
}

impl MinTree {
    /// `n` leaves, all at load 0.
    pub fn new(n: usize) -> MinTree {
        let size = n.max(1).next_power_of_two();
        let mut loads = vec![Load::ratio(0, 1); n];
        loads.resize(size, Load::INFINITE);
        let mut best = vec![0u32; 2 * size];
        for i in 0..size {
            best[size + i] = i as u32;
        }
        let mut t = MinTree { size, loads, best };
        for node in (1..size).rev() {
            t.best[node] = t.better(t.best[2 * node], t.best[2 * node + 1]);
        }
        t
    }

    #[inline]
    fn better(&self, a: u32, b: u32) -> u32 {
        // `a` is always the left (lower-index) side: it wins ties.
        if self.loads[b as usize].compare(self.loads[a as usize]) == Ordering::Less {
            b
        } else {
            a
        }
    }

    /// Sets leaf `i`'s load.
    #[inline]
    pub fn set(&mut self, i: usize, load: Load) {
        self.loads[i] = load;
        let mut node = (i + self.size) / 2;
        while node >= 1 {
            self.best[node] = self.better(self.best[2 * node], self.best[2 * node + 1]);
            node /= 2;
        }
    }

    /// Leaf `i`'s load.
    pub fn load(&self, i: usize) -> Load {
        self.loads[i]
    }

    /// The lowest-index minimal leaf and its load.
    #[inline]
    pub fn min(&self) -> (usize, Load) {
        let i = self.best[1] as usize;
        (i, self.loads[i])
    }

    /// The first leaf at or after `from` whose load equals the minimum, wrapping to the
    /// lowest-index minimal leaf.
    pub fn first_min_from(&self, from: usize) -> usize {
        let (lowest, m) = self.min();
        if from == 0 || from <= lowest {
            return lowest;
        }
        self.find(1, 0, self.size, from, m).unwrap_or(lowest)
    }

    fn find(&self, node: usize, lo: usize, hi: usize, from: usize, m: Load) -> Option<usize> {
        if hi <= from || self.loads[self.best[node] as usize].compare(m) != Ordering::Equal {
            return None;
        }
        if hi - lo == 1 {
            return Some(lo);
        }
        let mid = (lo + hi) / 2;
        self.find(2 * node, lo, mid, from, m)
            .or_else(|| self.find(2 * node + 1, mid, hi, from, m))
    }
}

/// SplitMix64's finaliser: a well-mixed 64-bit hash of `x`.
#[inline]
pub fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Lamping & Veach's jump consistent hash: a bucket in `0..n` such that growing `n` by one
/// moves only `1/(n+1)` of the keys. The float arithmetic is exact IEEE and platform-independent.
pub fn jump_hash(mut key: u64, n: u32) -> u32 {
    let (mut b, mut j) = (-1i64, 0i64);
    while j < i64::from(n) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as u32
}

/// The hash [`Policy::IpHash`] uses for end user `client` of client component `component`.
#[inline]
pub fn client_hash(component: u32, client: u32) -> u64 {
    mix64((u64::from(component) << 32) | u64::from(client))
}

/// Weight of the newest sample in the time-to-first-byte EWMA: `1 / 2^EWMA_SHIFT` (1/8).
pub const EWMA_SHIFT: u32 = 3;

/// [`Policy::LeastResponseTime`] halves the EWMA of a backend that has gone this long (1 s of
/// simulated time) without a response, and again after each further idle second. Without it a
/// backend whose EWMA went bad (a slow spell, a GC pause) would be starved for good under light
/// load: it gets no requests, so no new samples, so its EWMA never recovers. Halving makes an
/// idle backend look cheaper and cheaper until it is tried again, and its next real sample
/// sets the EWMA back on evidence (like the time decay of Finagle's peak EWMA).
pub const EWMA_IDLE_DECAY_NS: u64 = 1_000_000_000;

/// Chooses backends (see the module docs). Indices are positions in the configured backend
/// list.
#[derive(Clone, Debug)]
pub struct Picker {
    policy: Policy,
    weights: Vec<u32>,
    healthy: Vec<bool>,
    /// Healthy backends in index order.
    healthy_list: Vec<u32>,
    active: Vec<u32>,
    /// EWMA of time to first byte in ns (0 = nothing observed yet).
    ewma_ns: Vec<u64>,
    /// When backend `i`'s EWMA last changed (a sample, or an idle decay), in ns.
    ewma_at_ns: Vec<u64>,
    /// The backend [`Picker::age_idle`] examines next.
    idle_cursor: usize,
    tree: Option<MinTree>,
    cursor: usize,
    wrr_current: Vec<i64>,
}

impl Picker {
    /// A picker over backends with the given weights (each `>= 1`), all healthy and idle.
    pub fn new(policy: Policy, weights: &[u32]) -> Picker {
        let n = weights.len();
        let mut p = Picker {
            policy,
            weights: weights.to_vec(),
            healthy: vec![true; n],
            healthy_list: Vec::with_capacity(n),
            active: vec![0; n],
            ewma_ns: vec![0; n],
            ewma_at_ns: vec![0; n],
            idle_cursor: 0,
            tree: policy.uses_tree().then(|| MinTree::new(n)),
            cursor: 0,
            wrr_current: vec![0; n],
        };
        p.reset();
        p
    }

    /// Back to the initial state: every backend healthy, idle, unobserved.
    pub fn reset(&mut self) {
        let n = self.weights.len();
        self.healthy.fill(true);
        self.active.fill(0);
        self.ewma_ns.fill(0);
        self.ewma_at_ns.fill(0);
        self.idle_cursor = 0;
        self.cursor = 0;
        self.rebuild_healthy();
        for i in 0..n {
            self.refresh(i);
        }
    }

    /// The policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Number of backends.
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    /// Whether there are no backends.
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// Number of healthy backends.
    pub fn healthy_count(&self) -> usize {
        self.healthy_list.len()
    }

    /// Whether backend `i` is healthy.
    pub fn is_healthy(&self, i: usize) -> bool {
        self.healthy[i]
    }

    /// Active requests on backend `i`.
    pub fn active(&self, i: usize) -> u32 {
        self.active[i]
    }

    /// The time-to-first-byte EWMA of backend `i` in ns (0 before any observation).
    pub fn ewma_ns(&self, i: usize) -> u64 {
        self.ewma_ns[i]
    }

    fn rebuild_healthy(&mut self) {
        self.healthy_list.clear();
        for (i, &h) in self.healthy.iter().enumerate() {
            if h {
                self.healthy_list.push(i as u32);
            }
        }
        self.wrr_current.fill(0);
    }

    fn key(&self, i: usize) -> Load {
        if !self.healthy[i] {
            return Load::INFINITE;
        }
        let a = u64::from(self.active[i]);
        match self.policy {
            Policy::WeightedLeastConnections => Load::ratio(a, u64::from(self.weights[i])),
            Policy::LeastResponseTime => Load::ratio((a + 1).saturating_mul(self.ewma_ns[i]), 1),
            _ => Load::ratio(a, 1),
        }
    }

    #[inline]
    fn refresh(&mut self, i: usize) {
        let key = self.key(i);
        if let Some(t) = &mut self.tree {
            t.set(i, key);
        }
    }

    /// Marks backend `i` healthy or not.
    pub fn set_healthy(&mut self, i: usize, healthy: bool) {
        if self.healthy[i] != healthy {
            self.healthy[i] = healthy;
            self.rebuild_healthy();
            self.refresh(i);
        }
    }

    /// A request was forwarded to `i`.
    #[inline]
    pub fn started(&mut self, i: usize) {
        self.active[i] += 1;
        self.refresh(i);
    }

    /// A request forwarded to `i` ended (answered, failed or abandoned).
    #[inline]
    pub fn finished(&mut self, i: usize) {
        self.active[i] = self.active[i].saturating_sub(1);
        self.refresh(i);
    }

    /// Folds a time-to-first-byte sample of backend `i`, received at `now_ns`, into its EWMA
    /// (the first sample is taken as is).
    #[inline]
    pub fn observe(&mut self, i: usize, ttfb_ns: u64, now_ns: u64) {
        self.ewma_at_ns[i] = now_ns;
        let e = &mut self.ewma_ns[i];
        *e = if *e == 0 {
            ttfb_ns.max(1)
        } else {
            let old = i128::from(*e);
            let next = old + ((i128::from(ttfb_ns) - old) >> EWMA_SHIFT);
            next.max(1) as u64
        };
        if self.policy == Policy::LeastResponseTime {
            self.refresh(i);
        }
    }

    /// With [`Policy::LeastResponseTime`], examines one backend (in turn, so each is examined
    /// every `len()` calls) and halves its EWMA if it has not changed for
    /// [`EWMA_IDLE_DECAY_NS`] up to `now_ns`. The load balancer calls it before each pick:
    /// O(log n) at most, nothing for other policies.
    #[inline]
    pub fn age_idle(&mut self, now_ns: u64) {
        if self.policy != Policy::LeastResponseTime || self.weights.is_empty() {
            return;
        }
        let i = self.idle_cursor;
        self.idle_cursor = (i + 1) % self.weights.len();
        if self.ewma_ns[i] > 1 && now_ns.saturating_sub(self.ewma_at_ns[i]) >= EWMA_IDLE_DECAY_NS {
            self.ewma_ns[i] = (self.ewma_ns[i] / 2).max(1);
            self.ewma_at_ns[i] = now_ns;
            self.refresh(i);
        }
    }

    /// Chooses a healthy backend, or `None` if none is healthy. `client` is
    /// [`client_hash`] of the request's end user and `key` its key (used by the hash policies
    /// only).
    pub fn pick(&mut self, rng: &mut impl rand::RngCore, client: u64, key: u64) -> Option<usize> {
        let len = self.healthy_list.len();
        if len == 0 {
            return None;
        }
        let i = match self.policy {
            Policy::RoundRobin => {
                let i = self.healthy_list[self.cursor % len] as usize;
                self.cursor = (self.cursor + 1) % len;
                i
            }
            Policy::WeightedRoundRobin => self.smooth_wrr(),
            Policy::IpHash => self.consistent(client),
            Policy::KeyHash => self.consistent(mix64(key)),
            Policy::LeastConnections
            | Policy::WeightedLeastConnections
            | Policy::LeastResponseTime => {
                let t = self.tree.as_ref().expect("tree policies have a tree");
                let i = t.first_min_from(self.cursor);
                self.cursor = (i + 1) % self.weights.len();
                i
            }
            Policy::Random => self.healthy_list[below(rng, len as u64) as usize] as usize,
            Policy::PowerOfTwoChoices => {
                if len == 1 {
                    self.healthy_list[0] as usize
                } else {
                    let a = below(rng, len as u64) as usize;
                    let mut b = below(rng, len as u64 - 1) as usize;
                    if b >= a {
                        b += 1;
                    }
                    let (a, b) = (self.healthy_list[a] as usize, self.healthy_list[b] as usize);
                    if self.active[b] < self.active[a] {
                        b
                    } else {
                        a
                    }
                }
            }
            Policy::Failover => self.healthy_list[0] as usize,
        };
        debug_assert!(self.healthy[i]);
        Some(i)
    }

    /// Like [`Picker::pick`] but never `exclude` (for a retry after `exclude` failed); `None`
    /// if no other backend is healthy. The load-aware policies choose the best of the others
    /// (`exclude` counts as infinitely loaded for this pick), `Random` and `PowerOfTwoChoices`
    /// a uniform one of the others, the rest the next healthy backend after `exclude` in index
    /// order (a deterministic spare; hashing again would land on `exclude`).
    pub fn pick_other(
        &mut self,
        rng: &mut impl rand::RngCore,
        client: u64,
        key: u64,
        exclude: usize,
    ) -> Option<usize> {
        let others = self.healthy_list.len() - usize::from(self.healthy[exclude]);
        if others == 0 {
            return None;
        }
        if !self.healthy[exclude] {
            return self.pick(rng, client, key);
        }
        match self.policy {
            Policy::LeastConnections
            | Policy::WeightedLeastConnections
            | Policy::LeastResponseTime => {
                let t = self.tree.as_mut().expect("tree policies have a tree");
                t.set(exclude, Load::INFINITE);
                let i = t.first_min_from(self.cursor);
                self.refresh(exclude);
                self.cursor = (i + 1) % self.weights.len();
                Some(i)
            }
            Policy::Random | Policy::PowerOfTwoChoices => {
                let pos = self
                    .healthy_list
                    .binary_search(&(exclude as u32))
                    .expect("exclude is healthy");
                let mut k = below(rng, others as u64) as usize;
                if k >= pos {
                    k += 1;
                }
                Some(self.healthy_list[k] as usize)
            }
            _ => {
                let pos = self
                    .healthy_list
                    .binary_search(&(exclude as u32))
                    .expect("exclude is healthy");
                Some(self.healthy_list[(pos + 1) % self.healthy_list.len()] as usize)
            }
        }
    }

    fn smooth_wrr(&mut self) -> usize {
        let mut total = 0i64;
        let mut best = self.healthy_list[0] as usize;
        for &j in &self.healthy_list {
            let j = j as usize;
            let w = i64::from(self.weights[j]);
            total += w;
            self.wrr_current[j] += w;
            if self.wrr_current[j] > self.wrr_current[best] {
                best = j;
            }
        }
        self.wrr_current[best] -= total;
        best
    }

    /// Jump consistent hash over all backends; past an unhealthy one, rehash (a few times),
    /// then fall back to the healthy list. A user whose backend stays healthy never moves.
    fn consistent(&self, h: u64) -> usize {
        let n = self.weights.len() as u32;
        let mut h = h;
        for _ in 0..8 {
            let i = jump_hash(h, n) as usize;
            if self.healthy[i] {
                return i;
            }
            h = mix64(h);
        }
        self.healthy_list[(h % self.healthy_list.len() as u64) as usize] as usize
    }
}
