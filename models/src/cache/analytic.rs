//! Analytic hit ratios the simulated caches are checked against.
//!
//! * [`che_lru`]: Che's approximation for an LRU cache of `C` entries under the independent
//!   reference model (IRM: each request picks key `i` with fixed probability `p_i`,
//!   independently). The *characteristic time* `T` solves `Σ_i (1 − e^{−p_i T}) = C`; key `i`
//!   is then a hit with probability `1 − e^{−p_i T}` and the hit ratio is
//!   `Σ_i p_i (1 − e^{−p_i T})` (Che, Tung and Wang, 2002; Fricker, Robert and Roberts, 2012
//!   explain why it is so accurate). `T` is in units of requests when the `p_i` are
//!   probabilities.
//! * [`ttl_hit_ratio`]: a TTL cache (an entry is fetched on a miss and served for `ttl`, then
//!   expires) under Poisson requests of rate `λ` to one key: each miss starts a renewal cycle
//!   of length `ttl` plus the wait for the next request, containing on average `λ·ttl` hits
//!   and one miss, so the hit ratio is `λT / (1 + λT)` (Jung, Berger and Balakrishnan, 2003).
//! * [`zipf_popularity`]: normalised Zipf probabilities, as the workload samples them.

/// Normalised Zipf probabilities `p_k ∝ 1/(k+1)^exponent` for `k` in `0..keys`.
pub fn zipf_popularity(keys: u64, exponent: f64) -> Vec<f64> {
    let w: Vec<f64> = (0..keys)
        .map(|k| ((k + 1) as f64).powf(-exponent))
        .collect();
    let total: f64 = w.iter().sum();
    w.into_iter().map(|x| x / total).collect()
}

/// Che's approximation for LRU with `capacity` entries: returns `(T, hit ratio)` for key
/// probabilities `popularity` (normalised to sum 1 here). With `capacity >= keys` every key
/// fits: `T = ∞` and the hit ratio is 1 (in the long run).
///
/// # Panics
/// If `popularity` is empty or has a negative or non-finite weight.
pub fn che_lru(popularity: &[f64], capacity: u64) -> (f64, f64) {
    assert!(!popularity.is_empty(), "no keys");
    assert!(
        popularity.iter().all(|p| p.is_finite() && *p >= 0.0),
        "weights must be finite and >= 0"
    );
    let total: f64 = popularity.iter().sum();
    let nonzero = popularity.iter().filter(|p| **p > 0.0).count() as u64;
    if capacity >= nonzero {
        return (f64::INFINITY, 1.0);
    }
    let c = capacity as f64;
    let occupancy = |t: f64| -> f64 {
        popularity
            .iter()
            .map(|p| -(-(p / total) * t).exp_m1())
            .sum::<f64>()
    };
    // Occupancy grows monotonically from 0 to `nonzero` > C: bracket, then bisect.
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    while occupancy(hi) < c {
        lo = hi;
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if occupancy(mid) < c {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-12 * hi {
            break;
        }
    }
    let t = 0.5 * (lo + hi);
    let hit = popularity
        .iter()
        .map(|p| {
            let q = p / total;
            q * -(-q * t).exp_m1()
        })
        .sum::<f64>();
    (t, hit)
}

/// The characteristic-time approximation for FIFO (and RANDOM) replacement with `capacity`
/// entries under the IRM: `T` solves `Σ_i p_i T / (1 + p_i T) = C`, key `i` hits with
/// probability `p_i T / (1 + p_i T)` (Gelenbe, 1973; Martina, Garetto and Leonardi, 2014).
/// Returns `(T, hit ratio)`.
///
/// # Panics
/// As [`che_lru`].
pub fn che_fifo(popularity: &[f64], capacity: u64) -> (f64, f64) {
    assert!(!popularity.is_empty(), "no keys");
    let total: f64 = popularity.iter().sum();
    let nonzero = popularity.iter().filter(|p| **p > 0.0).count() as u64;
    if capacity >= nonzero {
        return (f64::INFINITY, 1.0);
    }
    let c = capacity as f64;
    let share = |q: f64, t: f64| q * t / (1.0 + q * t);
    let occupancy = |t: f64| popularity.iter().map(|p| share(p / total, t)).sum::<f64>();
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    while occupancy(hi) < c {
        lo = hi;
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if occupancy(mid) < c {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-12 * hi {
            break;
        }
    }
    let t = 0.5 * (lo + hi);
    let hit = popularity
        .iter()
        .map(|p| p / total * share(p / total, t))
        .sum::<f64>();
    (t, hit)
}

/// Hit ratio of a TTL cache for one key requested as a Poisson process of `rate_per_s`, with
/// entries kept `ttl_s` seconds after each miss: `λT / (1 + λT)`.
pub fn ttl_hit_ratio(rate_per_s: f64, ttl_s: f64) -> f64 {
    let x = rate_per_s * ttl_s;
    x / (1.0 + x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn che_limits_and_monotonicity() {
        // Uniform popularity over n keys: T solves n(1 − e^{−T/n}) = C, hit = C/n.
        let p = vec![1.0; 100];
        let (t, h) = che_lru(&p, 30);
        assert!((h - 0.3).abs() < 1e-9, "{h}");
        assert!((100.0 * -(-t / 100.0).exp_m1() - 30.0).abs() < 1e-6);
        assert_eq!(che_lru(&p, 100), (f64::INFINITY, 1.0));
        let z = zipf_popularity(1000, 0.8);
        assert!((z.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let mut last = 0.0;
        for c in [1, 10, 50, 100, 500, 999] {
            let (_, h) = che_lru(&z, c);
            assert!(h > last && h < 1.0, "{c}: {h}");
            last = h;
        }
        assert!((ttl_hit_ratio(10.0, 0.1) - 0.5).abs() < 1e-12);
    }
}
