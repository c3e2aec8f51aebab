//! The pure placement core of the shard router: which shard owns a key ([`Partitioner`]), under
//! four schemes ([`Scheme`]), for a changing member set.
//!
//! # The hash
//!
//! Every scheme except [`Scheme::Range`] hashes with [`mix64`], the SplitMix64 finalizer
//! (Steele, Lea & Flood 2014): three xor-shifts and two odd multiplications, a bijection on
//! `u64` with full avalanche. It is written out here (not `std`'s `DefaultHasher`, whose output
//! may change between Rust releases), so placement is identical on every platform and version;
//! `golden_hashes_are_pinned` fails loudly if it ever changes.
//!
//! * key hash: `mix64(key)`;
//! * ring point `v` of shard `s` (its index in the router's `shards` list, not its position in
//!   the current member set, so a shard keeps its points when others come and go):
//!   `mix64(mix64(s + 1) ^ v)`;
//! * rendezvous score of shard `s`, draw `j` for a key: `mix64(mix64(key) ^ mix64(s + 1) ^ (j << 32))`.
//!
//! # Cost
//!
//! | scheme | lookup | memory |
//! |---|---|---|
//! | `Mod` | O(1) | O(n) |
//! | `Consistent` | O(log(n·v·w)) binary search of the ring | n·v·w points |
//! | `Range` | O(log n) binary search of the bounds | O(n) |
//! | `Rendezvous` | O(Σ weights) — one score per shard (and weight unit) | O(n) |
//!
//! Rendezvous hashing is linear in the member count by nature; it is meant for the small
//! shard counts of a scenario (tens), the ring for large ones.

/// The SplitMix64 finalizer: a fixed, portable 64-bit mixer (see the module docs).
#[inline]
pub const fn mix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The hash of a key (its position on the ring).
#[inline]
pub const fn key_hash(key: u64) -> u64 {
    mix64(key)
}

/// The ring position of virtual node `v` of shard `shard`.
#[inline]
pub const fn point(shard: u32, v: u32) -> u64 {
    mix64(mix64(shard as u64 + 1) ^ v as u64)
}

/// How keys are placed on shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `mix64(key) % n` over the members sorted by shard index. Weights are ignored. Adding a
    /// member moves ≈ n/(n+1) of the keys.
    Mod,
    /// A hash ring with `vnodes × weight` points per member; a key belongs to the first point
    /// at or after its hash (wrapping). Adding a member moves ≈ 1/(n+1) of the keys, all to
    /// the new member; removing one moves exactly that member's keys.
    Consistent {
        /// Virtual nodes per unit of weight, `>= 1`.
        vnodes: u32,
    },
    /// Contiguous, sorted key ranges over `0..keys`, sized in proportion to the weights of the
    /// members (sorted by shard index); keys `>= keys` belong to the last member. No hashing:
    /// popular low keys all land on the first shard. A membership change shifts every
    /// boundary.
    Range,
    /// Highest random weight: every member scores the key, the highest score wins. A member of
    /// weight `w` draws `w` scores and keeps its best, so it wins a fraction `w / Σw` of the
    /// keys exactly in expectation, with integer arithmetic only. Adding a member moves
    /// ≈ w/Σw of the keys, removing one moves only its own.
    Rendezvous,
}

/// Which member owns each key, for the current member set.
#[derive(Clone, Debug)]
pub struct Partitioner {
    scheme: Scheme,
    /// Weight of every shard the router knows (by shard index), member or not.
    weights: Vec<u32>,
    /// Size of the keyspace (used by `Range` only).
    keys: u64,
    /// Current members, sorted by shard index.
    members: Vec<u32>,
    /// `Consistent`: the ring, sorted by `(point, shard)`.
    ring: Vec<(u64, u32)>,
    /// `Range`: exclusive upper key bound of each member in `members` order.
    bounds: Vec<u64>,
}

impl Partitioner {
    /// A partitioner over shards with `weights` (each `>= 1`; indexed by shard), a keyspace of
    /// `keys` keys, and the initial `members` (shard indices, any order, no duplicates).
    pub fn new(scheme: Scheme, weights: &[u32], keys: u64, members: &[u32]) -> Partitioner {
        let mut m: Vec<u32> = members.to_vec();
        m.sort_unstable();
        m.dedup();
        let mut p = Partitioner {
            scheme,
            weights: weights.to_vec(),
            keys,
            members: m,
            ring: Vec::new(),
            bounds: Vec::new(),
        };
        p.rebuild();
        p
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Current members, sorted by shard index.
    pub fn members(&self) -> &[u32] {
        &self.members
    }

    /// Whether `shard` is a member.
    pub fn is_member(&self, shard: u32) -> bool {
        self.members.binary_search(&shard).is_ok()
    }

    /// Adds `shard` (no-op if already a member).
    pub fn add(&mut self, shard: u32) {
        if let Err(pos) = self.members.binary_search(&shard) {
            self.members.insert(pos, shard);
            self.rebuild();
        }
    }

    /// Removes `shard` (no-op if not a member).
    pub fn remove(&mut self, shard: u32) {
        if let Ok(pos) = self.members.binary_search(&shard) {
            self.members.remove(pos);
            self.rebuild();
        }
    }

    fn rebuild(&mut self) {
        self.ring.clear();
        self.bounds.clear();
        match self.scheme {
            Scheme::Consistent { vnodes } => {
                for &s in &self.members {
                    let n = vnodes.saturating_mul(self.weights[s as usize]);
                    self.ring.extend((0..n).map(|v| (point(s, v), s)));
                }
                self.ring.sort_unstable();
            }
            Scheme::Range => {
                let total: u128 = self
                    .members
                    .iter()
                    .map(|&s| u128::from(self.weights[s as usize]))
                    .sum();
                let mut acc = 0u128;
                for &s in &self.members {
                    acc += u128::from(self.weights[s as usize]);
                    let b = u128::from(self.keys) * acc / total.max(1);
                    self.bounds.push(b as u64);
                }
            }
            Scheme::Mod | Scheme::Rendezvous => {}
        }
    }

    /// The shard owning `key`, or `None` without members.
    #[inline]
    pub fn owner(&self, key: u64) -> Option<u32> {
        if self.members.is_empty() {
            return None;
        }
        Some(match self.scheme {
            Scheme::Mod => {
                let n = self.members.len() as u64;
                self.members[(key_hash(key) % n) as usize]
            }
            Scheme::Consistent { .. } => {
                let h = key_hash(key);
                let i = self.ring.partition_point(|&(p, _)| p < h);
                self.ring[if i == self.ring.len() { 0 } else { i }].1
            }
            Scheme::Range => {
                let i = self.bounds.partition_point(|&b| b <= key);
                self.members[i.min(self.members.len() - 1)]
            }
            Scheme::Rendezvous => {
                let kh = key_hash(key);
                let mut best = (0u64, 0u32);
                let mut first = true;
                for &s in &self.members {
                    let base = kh ^ mix64(u64::from(s) + 1);
                    for j in 0..self.weights[s as usize] {
                        let score = mix64(base ^ (u64::from(j) << 32));
                        // Ties (probability 2^-64) go to the lower shard index.
                        if first || score > best.0 {
                            best = (score, s);
                            first = false;
                        }
                    }
                }
                best.1
            }
        })
    }

    /// The `r` distinct members after `owner` in shard-index order (wrapping), `owner` first:
    /// the replica set of a hot key. Fewer when there are fewer members.
    pub fn successor(&self, owner: u32, step: usize) -> u32 {
        let n = self.members.len();
        let pos = self.members.binary_search(&owner).unwrap_or(0);
        self.members[(pos + step) % n]
    }

    /// Exact fraction of the hash space each member owns on the ring (`Consistent` only; in
    /// `members` order): the load share under uniformly spread keys. Other schemes return an
    /// empty vector.
    pub fn ring_shares(&self) -> Vec<f64> {
        if self.ring.is_empty() {
            return Vec::new();
        }
        let mut arc = vec![0u128; self.members.len()];
        let idx = |s: u32| self.members.binary_search(&s).unwrap_or(0);
        // The arc (prev, p] belongs to the point p; the first point also gets the wrap-around.
        let mut prev = self.ring[self.ring.len() - 1].0;
        for &(p, s) in &self.ring {
            arc[idx(s)] += u128::from(p.wrapping_sub(prev));
            prev = p;
        }
        if self.ring.len() == 1 {
            return vec![1.0];
        }
        let total = 2f64.powi(64);
        arc.iter().map(|&a| a as f64 / total).collect()
    }
}

/// Coefficient of variation and max/mean of `loads` (`(0, 1)` when empty or all zero).
pub fn imbalance(loads: &[f64]) -> (f64, f64) {
    if loads.is_empty() {
        return (0.0, 1.0);
    }
    let n = loads.len() as f64;
    let mean = loads.iter().sum::<f64>() / n;
    if mean <= 0.0 {
        return (0.0, 1.0);
    }
    let var = loads.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    let max = loads.iter().copied().fold(f64::MIN, f64::max);
    (var.sqrt() / mean, max / mean)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn golden_hashes_are_pinned() {
        // SplitMix64 reference values (the first outputs of the generator seeded with 0 are
        // mix64(0), mix64(γ), ...): changing the mixer changes every placement.
        assert_eq!(mix64(0), 0xe220_a839_7b1d_cdaf);
        assert_eq!(mix64(0x9e37_79b9_7f4a_7c15), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(key_hash(42), mix64(42));
        let p = Partitioner::new(
            Scheme::Consistent { vnodes: 100 },
            &[1; 4],
            1000,
            &[0, 1, 2, 3],
        );
        let owners: Vec<u32> = (0..12).map(|k| p.owner(k).unwrap()).collect();
        assert_eq!(owners, GOLDEN_RING, "ring placement changed");
        let p = Partitioner::new(Scheme::Rendezvous, &[1; 4], 1000, &[0, 1, 2, 3]);
        let owners: Vec<u32> = (0..12).map(|k| p.owner(k).unwrap()).collect();
        assert_eq!(owners, GOLDEN_HRW, "rendezvous placement changed");
    }

    const GOLDEN_RING: [u32; 12] = [0, 3, 1, 0, 0, 3, 2, 1, 3, 3, 2, 0];
    const GOLDEN_HRW: [u32; 12] = [1, 0, 1, 2, 3, 3, 2, 2, 0, 2, 3, 2];

    fn moved(a: &Partitioner, b: &Partitioner, keys: u64) -> u64 {
        (0..keys).filter(|&k| a.owner(k) != b.owner(k)).count() as u64
    }

    #[test]
    fn empty_partitioner_owns_nothing_and_single_member_owns_all() {
        for s in [
            Scheme::Mod,
            Scheme::Consistent { vnodes: 3 },
            Scheme::Range,
            Scheme::Rendezvous,
        ] {
            let mut p = Partitioner::new(s, &[1, 2], 10, &[]);
            assert_eq!(p.owner(3), None);
            p.add(1);
            assert!((0..50).all(|k| p.owner(k) == Some(1)), "{s:?}");
            p.remove(1);
            assert_eq!(p.owner(3), None);
        }
    }

    #[test]
    fn range_partitions_are_sorted_and_weighted() {
        let p = Partitioner::new(Scheme::Range, &[1, 2, 1], 100, &[0, 1, 2]);
        assert_eq!(p.owner(0), Some(0));
        assert_eq!(p.owner(24), Some(0));
        assert_eq!(p.owner(25), Some(1));
        assert_eq!(p.owner(74), Some(1));
        assert_eq!(p.owner(75), Some(2));
        assert_eq!(p.owner(10_000), Some(2));
    }

    #[test]
    fn rendezvous_weights_split_in_proportion() {
        // 10^5 keys; shares within ±0.01 of w/Σw (binomial sd ≈ 0.0015).
        let p = Partitioner::new(Scheme::Rendezvous, &[1, 3], 0, &[0, 1]);
        let on1 = (0..100_000u64).filter(|&k| p.owner(k) == Some(1)).count() as f64 / 1e5;
        assert!((on1 - 0.75).abs() < 0.01, "{on1}");
    }

    proptest! {
        /// Removing a member from the ring (or rendezvous) moves exactly its keys, and every
        /// other key keeps its owner; adding it back restores the placement exactly.
        #[test]
        fn removal_moves_only_the_removed_members_keys(
            n in 2u32..12, vnodes in 1u32..50, gone in 0u32..12, weights in prop::collection::vec(1u32..4, 12), rdv in any::<bool>(),
        ) {
            let gone = gone % n;
            let members: Vec<u32> = (0..n).collect();
            let scheme = if rdv { Scheme::Rendezvous } else { Scheme::Consistent { vnodes } };
            let before = Partitioner::new(scheme, &weights, 0, &members);
            let mut after = before.clone();
            after.remove(gone);
            for k in 0..2000u64 {
                let (a, b) = (before.owner(k).unwrap(), after.owner(k).unwrap());
                if a == gone { prop_assert_ne!(b, gone); } else { prop_assert_eq!(a, b); }
            }
            after.add(gone);
            for k in 0..2000u64 {
                prop_assert_eq!(before.owner(k), after.owner(k));
            }
        }

        /// The ring lookup equals a linear scan for the smallest point >= the hash.
        #[test]
        fn ring_lookup_matches_a_scan(n in 1u32..8, vnodes in 1u32..20, keys in prop::collection::vec(any::<u64>(), 1..50)) {
            let members: Vec<u32> = (0..n).collect();
            let p = Partitioner::new(Scheme::Consistent { vnodes }, &[1; 8], 0, &members);
            let mut pts: Vec<(u64, u32)> = members.iter().flat_map(|&s| (0..vnodes).map(move |v| (point(s, v), s))).collect();
            pts.sort_unstable();
            for k in keys {
                let h = key_hash(k);
                let want = pts.iter().find(|&&(q, _)| q >= h).unwrap_or(&pts[0]).1;
                prop_assert_eq!(p.owner(k), Some(want));
            }
        }
    }

    #[test]
    fn adding_a_member_moves_one_over_n_plus_one_with_the_ring_and_most_with_mod() {
        // 2·10^5 keys. Ring with 1000 vnodes: the new member's share has sd ≈ 1/(4·√1000) ≈
        // 0.008 of the keyspace, so the moved fraction is 1/(n+1) ± 0.03. Mod: every key whose
        // hash % n != hash % (n+1) moves, n/(n+1) ± 0.01 (binomial sd ≈ 0.001).
        let keys = 200_000u64;
        for n in [3u32, 9] {
            let old: Vec<u32> = (0..n).collect();
            let weights = vec![1; 16];
            let ring = Partitioner::new(Scheme::Consistent { vnodes: 1000 }, &weights, keys, &old);
            let mut ring2 = ring.clone();
            ring2.add(n);
            let f = moved(&ring, &ring2, keys) as f64 / keys as f64;
            let want = 1.0 / f64::from(n + 1);
            assert!(
                (f - want).abs() < 0.03,
                "ring n={n}: moved {f}, want {want}"
            );
            // Every moved key went to the new member.
            assert!(
                (0..keys).all(|k| ring.owner(k) == ring2.owner(k) || ring2.owner(k) == Some(n))
            );
            let m = Partitioner::new(Scheme::Mod, &weights, keys, &old);
            let mut m2 = m.clone();
            m2.add(n);
            let f = moved(&m, &m2, keys) as f64 / keys as f64;
            let want = f64::from(n) / f64::from(n + 1);
            assert!((f - want).abs() < 0.01, "mod n={n}: moved {f}, want {want}");
        }
    }

    #[test]
    fn ring_imbalance_falls_like_one_over_sqrt_vnodes() {
        // 50 equal members. Each member's share is a sum of v arcs ≈ Exp(1/(n·v)), so the
        // coefficient of variation of the shares is ≈ 1/√v. Tolerance: CV·√v in [0.6, 1.4]
        // (the CV estimated over 50 members has a relative sd ≈ 0.1), and max/mean strictly
        // falling toward 1 (< 1.15 at 1000 vnodes).
        let members: Vec<u32> = (0..50).collect();
        let mut last = f64::INFINITY;
        for v in [1u32, 10, 100, 1000] {
            let p = Partitioner::new(Scheme::Consistent { vnodes: v }, &[1; 50], 0, &members);
            let shares = p.ring_shares();
            assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            let (cv, max_mean) = imbalance(&shares);
            let scaled = cv * f64::from(v).sqrt();
            assert!(
                (0.6..1.4).contains(&scaled),
                "v={v}: cv {cv}, cv·√v {scaled}"
            );
            assert!(
                max_mean < last,
                "v={v}: max/mean {max_mean} did not fall from {last}"
            );
            last = max_mean;
        }
        assert!(last < 1.15, "{last}");
    }

    #[test]
    fn ring_weights_give_bigger_servers_more_of_the_ring() {
        // Weight 3 vs 1, 500 vnodes per unit: shares 0.75/0.25 ± 0.03.
        let p = Partitioner::new(Scheme::Consistent { vnodes: 500 }, &[3, 1], 0, &[0, 1]);
        let s = p.ring_shares();
        assert!((s[0] - 0.75).abs() < 0.03, "{s:?}");
    }
}
